# Data parallelism: deterministic reductions and sync batchnorm at several rank counts.
# 5, 7 and 8 ranks: the message path's allgather in three rounds, with and without runs that wrap. 4, 6 and 8:
# also the exchange between nodes (consecutive ranks taken as nodes of 2, 3 or 4).
fcnet_test(NAME test_dist SOURCES test_dist.c RANKS 1 2 3 4 5 6 7 8)
# The sanitizer build runs them too: the exchange's buffers are sized per rank count.
set_tests_properties(test_dist_n3 test_dist_n4 PROPERTIES LABELS sanitize)
# The wait in the node's synchronisation area: spin, then sleep until woken (two forked processes).
fcnet_test(NAME test_node_flag SOURCES test_node_flag.c)
# From 2 ranks: at one rank the synchronised shard is the whole batch, and the check could not fail.
fcnet_test(NAME test_sync_bn_f32 SOURCES test_sync_bn.c RANKS 2 3 4)
fcnet_test(NAME test_sync_bn_f64 SOURCES test_sync_bn.c LIB fcnet_f64 RANKS 2 3 4)
fcnet_test(NAME test_train SOURCES test_train.c RANKS 1 2 3 4 TIMEOUT 600)
target_link_libraries(test_train PRIVATE fctrain_fcnet)
fcnet_test(NAME test_progress SOURCES test_progress.c)
# --progress auto as a user meets it: a singleton on a terminal (script(1)) draws the bar, mpirun prints lines.
fcnet_script_test(NAME test_progress_terminal
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_progress_terminal.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE})
fcnet_script_test(NAME test_one_rank_fails
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_one_rank_fails.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE} TIMEOUT 90)
set_tests_properties(test_one_rank_fails PROPERTIES LABELS sanitize)
# Ranks that read different data, settings or checkpoints: refused before the first step instead of hanging.
fcnet_script_test(NAME test_inputs_differ
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_inputs_differ.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:fcnet_dist_f64> TIMEOUT 180)
set_tests_properties(test_inputs_differ PROPERTIES LABELS sanitize)
# A /dev/shm too small for the shared-memory exchange: a warning, the message path, the same bits. And one
# that fills up after the room checks (shm_room_lie hides the shortage from them): an error naming /dev/shm.
# populate_fails makes one rank's page taking fail: the ranks still agree on one exchange.
add_library(shm_room_lie MODULE shm_room_lie.c)
target_link_libraries(shm_room_lie PRIVATE ${CMAKE_DL_LIBS})
add_library(populate_fails MODULE populate_fails.c)
target_link_libraries(populate_fails PRIVATE ${CMAKE_DL_LIBS})
# phys_mem_lie shrinks the memory the ranks see: private copies of the data refused where a shared one fits.
add_library(phys_mem_lie MODULE phys_mem_lie.c)
target_link_libraries(phys_mem_lie PRIVATE ${CMAKE_DL_LIBS})
fcnet_script_test(NAME test_small_shm
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_small_shm.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> $<TARGET_FILE:shm_room_lie> $<TARGET_FILE:populate_fails>
                          $<TARGET_FILE:phys_mem_lie>
                          ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 180)
# A ulimit -v too small for the job (OpenBLAS's buffer, a wide network): one line, exit 2, no hang or abort.
fcnet_script_test(NAME test_address_limit
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_address_limit.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE}
                  TIMEOUT 240)
# The exchange between (pretend) nodes over TCP with small socket buffers: no hang while a rank waits for its node.
fcnet_script_test(NAME test_tcp_progress
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tcp_progress.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} TIMEOUT 300)
set_tests_properties(test_tcp_progress PROPERTIES PROCESSORS 2)
# --profile's report at 1, 2 and 3 ranks, including the fastest and slowest rank by GEMM time.
fcnet_script_test(NAME test_profile
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_profile.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE} TIMEOUT 300)
# How the update writes the node's shared parameters (measured at run time, or fixed): the same bits.
fcnet_script_test(NAME test_param_stores
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_param_stores.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} TIMEOUT 300)
set_tests_properties(test_param_stores PROPERTIES PROCESSORS 2)
# The trial behind it, fed made-up step times: block length, order of the ways, agreement over the ranks.
fcnet_test(NAME test_store_choice SOURCES test_store_choice.c RANKS 1 2 3)
# Random nets, data and settings: -n N trains as -n 1 (double build), a run stopped and resumed at the same or
# another rank count as a straight one.
fcnet_script_test(NAME test_random_nets
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_random_nets.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:fcnet_dist_f64> TIMEOUT 600)
set_tests_properties(test_random_nets PROPERTIES PROCESSORS 2)
