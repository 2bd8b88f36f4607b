# Dataset loading: values, hold-out, preprocessing, epoch order, gather and malformed files,
# in the float product build and the double (FCNET_DOUBLE) build.
fcnet_test(NAME test_data SOURCES test_data.c)
fcnet_test(NAME test_data_f64 SOURCES test_data.c LIB fcnet_f64)
# A crash inside HDF5 while reading a damaged file: one error line and exit 2 (forked children).
fcnet_test(NAME test_read_guard SOURCES test_read_guard.c)
