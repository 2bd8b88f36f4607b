# End-to-end check of issue 3: fcnet trained for 12 steps against the float64 reference Solver
# (tests/ref/make_train_fixture.py wrote tests/ref/train12/), and -n 1, 3, 4 against each other.
# h5compare is the comparison tool (CI has no Python).
add_executable(h5compare h5compare.c)
target_link_libraries(h5compare PRIVATE HDF5::HDF5 m)
target_compile_options(h5compare PRIVATE -UNDEBUG)
fcnet_warnings(h5compare)
fcnet_script_test(NAME test_train_reference
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_train_reference.sh
                          $<TARGET_FILE:h5compare> $<TARGET_FILE:fcnet_dist_f64>
                          ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 120)
# Whole runs from the command line and an INI file against the same reference (tests/ref/cli/, written by
# tests/ref/make_cli_fixture.py): seeded init, standardize, the held-out split, non-default optimizer and
# batchnorm coefficients, deep and hidden-less nets, the best copy and eval's report.
fcnet_script_test(NAME test_cli_reference
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_reference.sh
                          $<TARGET_FILE:h5compare> $<TARGET_FILE:fcnet_dist_f64>
                          ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 120)
# Under ASan+UBSan too: whole runs through every command (train, resume, eval) and the checkpoint comparer, cheaply
# (~9 s); the one whole-suite sanitizer run found a null qsort base in h5compare here, which nothing else would catch.
set_tests_properties(test_cli_reference PROPERTIES LABELS sanitize)
