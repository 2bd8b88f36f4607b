# Core engine: layers, net, optimizers, random numbers.
fcnet_test(NAME test_layers_gradcheck SOURCES test_layers_gradcheck.c LIB fcnet_f64)
fcnet_test(NAME test_net_gradcheck SOURCES test_net_gradcheck.c LIB fcnet_f64)
