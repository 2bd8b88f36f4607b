# --out: what a run refused before training removes again (its lock file and directories, nothing else).
fcnet_test(NAME test_out_dir SOURCES test_out_dir.c RANKS 1)
