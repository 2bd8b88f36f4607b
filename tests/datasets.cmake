# Dataset tools: fcnet_convert on tiny IDX (gzip and plain) and CIFAR-10 files built by the script,
# checked with h5dump, plus malformed inputs (exit 2, one stderr line, no output file); fcnet_synth held
# to tests/ref/synth_fixture.h5 with h5cmp. fsync_fails makes fsync fail (EIO): the commit must say so.
# signal_on_create raises a signal the moment OUT.tmp is created: the tools must still take it along.
add_library(fsync_fails MODULE fsync_fails.c)
target_link_libraries(fsync_fails PRIVATE ${CMAKE_DL_LIBS})
add_library(signal_on_create MODULE signal_on_create.c)
target_link_libraries(signal_on_create PRIVATE ${CMAKE_DL_LIBS})
fcnet_script_test(NAME test_convert
                  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_convert.sh $<TARGET_FILE:fcnet_convert>
                          $<TARGET_FILE:fcnet_synth> $<TARGET_FILE:h5cmp> $<TARGET_FILE:fsync_fails>
                          ${CMAKE_CURRENT_SOURCE_DIR}/ref/synth_fixture.h5 $<TARGET_FILE:signal_on_create>)
