# Core engine: layers, net, optimizers, random numbers.
fcnet_test(NAME test_layers_gradcheck SOURCES test_layers_gradcheck.c LIB fcnet_f64)
fcnet_test(NAME test_net_gradcheck SOURCES test_net_gradcheck.c LIB fcnet_f64)
fcnet_test(NAME test_rng SOURCES test_rng.c)
fcnet_test(NAME test_dropout SOURCES test_dropout.c)
fcnet_test(NAME test_batchnorm SOURCES test_batchnorm.c)
fcnet_test(NAME test_optim SOURCES test_optim.c)
fcnet_test(NAME test_optim_f64 SOURCES test_optim.c LIB fcnet_f64) # the double streaming stores too
fcnet_test(NAME test_no_alloc SOURCES test_no_alloc.c RANKS 1 2 3 4)
target_link_libraries(test_no_alloc PRIVATE fctrain_fcnet)
