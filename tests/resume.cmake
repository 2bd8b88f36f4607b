# Checkpoints end to end (issue 4): exact resume, signals, faults and the bad-input corpus, driven from
# the command line by bash scripts (README.checkpoints.md). h5cmp compares checkpoints bitwise or within
# a tolerance; bad_inputs writes the malformed HDF5 files of the corpus (make_bad_inputs.sh).
add_executable(h5cmp h5cmp.c)
target_link_libraries(h5cmp PRIVATE HDF5::HDF5 m)
fcnet_warnings(h5cmp)
add_executable(bad_inputs bad_inputs.c)
target_link_libraries(bad_inputs PRIVATE HDF5::HDF5 m)
fcnet_warnings(bad_inputs)
# h5cmp itself on an OBJECT that is a named datatype (bad_inputs' test-datatype file): a difference, not a crash;
# on a checkpoint of more than 4096 datasets (256 hidden layers): the last ones compared too.
fcnet_script_test(NAME test_h5cmp
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_h5cmp.sh $<TARGET_FILE:h5cmp>
                          $<TARGET_FILE:bad_inputs> $<TARGET_FILE:fcnet_synth> TIMEOUT 60)

# Stop at step 13 + --resume == uninterrupted (bitwise at -n 1, 2, 4); 4 -> 2 and 2 -> 3 within float
# rounding; changed hyperparameters and mismatched shapes refused.
fcnet_script_test(NAME test_resume
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_resume.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 400)
set_property(TEST test_resume APPEND PROPERTY ENVIRONMENT FCNET_DIST_F64=$<TARGET_FILE:fcnet_dist_f64>)
# Checkpoints written before today's refusals (tests/ref/old_ckpt, from commit 66f5e3b): a keep below 2^-24 and
# a 1-unit layernorm layer resume with a rank-0 warning, batchnorm at batch size 1 is refused naming --init-from.
fcnet_script_test(NAME test_old_ckpt
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_old_ckpt.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 120)
# SIGUSR1 to mpirun, SIGTERM to one rank, a burst of signals during the save; each resumed bitwise.
fcnet_script_test(NAME test_signals
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_signals.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 300)
# signal_on_create (datasets.cmake) raises a signal as the final save's temporary file is created.
set_property(TEST test_signals APPEND PROPERTY ENVIRONMENT FCNET_SIGNAL_ON_CREATE=$<TARGET_FILE:signal_on_create>)
# kill -9 of a rank, NaN/Inf (exit 3), an injected checkpoint write failure.
fcnet_script_test(NAME test_faults
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_faults.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 300)
# A run refuses to replace the checkpoints another run left in --out, unless it resumes from one of them
# or is given --overwrite.
fcnet_script_test(NAME test_overwrite
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_overwrite.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 300)
set_property(TEST test_overwrite APPEND PROPERTY ENVIRONMENT BAD_INPUTS=$<TARGET_FILE:bad_inputs>)
# The bad-input corpus: every case exits 2 within 10 s with one line on stderr and writes nothing.
fcnet_script_test(NAME test_bad_inputs
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_bad_inputs.sh $<TARGET_FILE:bad_inputs>
                          $<TARGET_FILE:fcnet_synth> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 600)
# Their time limits (10 s to stop, to exit) assume the two cores are theirs: no other test beside them.
set_tests_properties(test_resume test_signals test_faults test_bad_inputs test_overwrite PROPERTIES PROCESSORS 2)
set_tests_properties(test_faults test_bad_inputs PROPERTIES LABELS sanitize)
# A real full disk (a 1 MiB tmpfs; skipped without root): checkpoints and fcnet_synth fail with one line.
fcnet_script_test(NAME test_disk_full
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_disk_full.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 300)
set_tests_properties(test_disk_full PROPERTIES PROCESSORS 2)
# A file size limit (ulimit -f) below a checkpoint or a dataset: one line naming it, as for a full disk (SIGXFSZ
# killed the program silently before).
fcnet_script_test(NAME test_file_size_limit
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_file_size_limit.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 300)
# Faults at random moments (a seeded draw of 8: kill -9 of a rank or of mpirun, SIGTERM/SIGUSR1 to a rank, SIGINT
# to mpirun, at 1-3 ranks, either exchange): nothing hangs, the checkpoint left loads, and the run finishes
# bitwise as the uninterrupted one. FCNET_SOAK_SECONDS=S runs the same script for longer by hand.
fcnet_script_test(NAME test_fault_soak
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_fault_soak.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 400)
set_tests_properties(test_fault_soak PROPERTIES PROCESSORS 2)
