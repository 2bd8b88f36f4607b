# launch/bench.sh's verdicts (the UNSTABLE flag, undecided targets) on hand-made measurements; the
# benchmark itself is not run here. Debian's python3, as launch/bench.sh uses it.
fcnet_script_test(NAME test_bench_report COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_report.py)
