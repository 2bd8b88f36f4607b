# The eval and gradcheck subcommands end to end (bash scripts). eval trains a tiny model on a set made
# by fcnet_synth; gradcheck runs the float (fcnet_dist, from FCNET_DIST) and double (fcnet_dist_f64)
# programs.
fcnet_script_test(NAME test_eval
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_eval.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE})
fcnet_script_test(NAME test_gradcheck
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gradcheck.sh $<TARGET_FILE:fcnet_dist_f64>
                          $<TARGET_FILE:fcnet_synth> ${MPIEXEC_EXECUTABLE})
