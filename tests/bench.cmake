# launch/bench.sh's verdicts (the UNSTABLE flag, undecided targets) on hand-made measurements; the
# benchmark itself is not run here. Debian's python3, as launch/bench.sh uses it.
fcnet_script_test(NAME test_bench_report COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_report.py)
# sgemm_bound's GEMMs are the ones a training step makes: fcnet_dist's cblas_sgemm calls logged by an
# LD_PRELOAD library (sgemm_log) at 1 and 2 ranks, against sgemm_bound's list for the same net and batch.
add_library(sgemm_log MODULE sgemm_log.c)
target_link_libraries(sgemm_log PRIVATE PkgConfig::OPENBLAS ${CMAKE_DL_LIBS})
fcnet_script_test(NAME test_bench_shapes
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_shapes.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:sgemm_bound> $<TARGET_FILE:sgemm_log> ${MPIEXEC_EXECUTABLE} TIMEOUT 120)
