# fcnet against the independent numpy reference through the committed fixtures (tests/ref/):
# the float product with float tolerances, the double build to ~1e-12.
fcnet_test(NAME test_ref_f32 SOURCES test_ref.c LIB fcnet)
fcnet_test(NAME test_ref_f64 SOURCES test_ref.c LIB fcnet_f64)
