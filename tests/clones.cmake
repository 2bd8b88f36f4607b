# fcnet_dist on the core built with only the baseline forms of its vector kernels (FC_BASELINE_ONLY), and
# test_clones: its runs, alone and as some of the ranks of a run, must write fcnet_dist's bits. Not in Debug
# builds (CMakeLists.txt).
if(NOT TARGET fcnet_baseline)
  return()
endif()
add_executable(fcnet_dist_baseline ${CMAKE_CURRENT_SOURCE_DIR}/../src/main.c)
target_link_libraries(fcnet_dist_baseline PRIVATE fcnet_baseline)
fcnet_warnings(fcnet_dist_baseline)
fcnet_script_test(NAME test_clones
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_clones.sh $<TARGET_FILE:fcnet_dist_baseline>
                          $<TARGET_FILE:fcnet_synth> $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} TIMEOUT 180)
set_tests_properties(test_clones PROPERTIES PROCESSORS 2)
