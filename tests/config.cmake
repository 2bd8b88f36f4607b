# Options, INI file, validation messages and --help (src/config.c).
fcnet_test(NAME test_config SOURCES test_config.c)
