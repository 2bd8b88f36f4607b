# Dataset tools: fcnet_convert on tiny IDX (gzip and plain) and CIFAR-10 files built by the script,
# checked with h5dump, plus malformed inputs (exit 2, one stderr line, no output file).
fcnet_script_test(NAME test_convert
                  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_convert.sh $<TARGET_FILE:fcnet_convert>
                          $<TARGET_FILE:fcnet_synth>)
