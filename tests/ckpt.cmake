# Checkpoints: round trip, h5py layout, atomic replacement, corruption and truncation, --init-from,
# --resume checks and --keep-last.
fcnet_test(NAME test_ckpt SOURCES test_ckpt.c RANKS 1)
