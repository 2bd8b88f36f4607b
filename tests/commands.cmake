# The eval and gradcheck subcommands end to end (bash scripts). eval trains a tiny model on a set made
# by fcnet_synth; gradcheck runs the float (fcnet_dist, from FCNET_DIST) and double (fcnet_dist_f64)
# programs.
fcnet_script_test(NAME test_eval
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_eval.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE})
# the double build writes a checkpoint the float build must still evaluate
set_property(TEST test_eval APPEND PROPERTY ENVIRONMENT FCNET_DIST_F64=$<TARGET_FILE:fcnet_dist_f64>)
fcnet_script_test(NAME test_gradcheck
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gradcheck.sh $<TARGET_FILE:fcnet_dist_f64>
                          $<TARGET_FILE:fcnet_synth> ${MPIEXEC_EXECUTABLE})
# The launch scripts outside a batch system: launch/local.sh (ranks, BLAS threads, arguments) and
# launch/pbs.sh (a fresh run, then a resume from the same FCNET_OUT).
fcnet_script_test(NAME test_launch
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_launch.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> TIMEOUT 240)
set_tests_properties(test_launch PROPERTIES PROCESSORS 2)
# README command 1: launch/quickstart.sh on Fashion-MNIST (one epoch), its re-runs, --new and resume.
fcnet_script_test(NAME test_quickstart
                  COMMAND env FCNET_BUILD_DIR=${CMAKE_BINARY_DIR} bash ${CMAKE_CURRENT_SOURCE_DIR}/test_quickstart.sh
                  TIMEOUT 300)
set_tests_properties(test_quickstart PROPERTIES PROCESSORS 2)
# fcnet_dist under valgrind memcheck: every command on one rank, training at two ranks with both exchanges; the
# training runs again natively, bitwise the same (valgrind's CPU has no AVX-512: its AVX2 forms against the
# native ones).
fcnet_script_test(NAME test_valgrind
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_valgrind.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} TIMEOUT 300)
set_tests_properties(test_valgrind PROPERTIES PROCESSORS 2)
# fcnet_dist --version against mpirun's and pkg-config's own words, and the checkpoint's provenance against it.
fcnet_script_test(NAME test_version
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_version.sh $<TARGET_FILE:fcnet_dist>
                          $<TARGET_FILE:fcnet_dist_f64> ${PROJECT_VERSION} $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:h5cmp> ${MPIEXEC_EXECUTABLE} ${CMAKE_BUILD_TYPE} TIMEOUT 60)

# results/experiments.py --list, --ranks, a damaged run.json; results/plot_history.py without validation.
fcnet_script_test(NAME test_results
                  COMMAND env FCNET_BUILD_DIR=${CMAKE_BINARY_DIR} bash ${CMAKE_CURRENT_SOURCE_DIR}/test_results.sh
                  TIMEOUT 120)
# results/torch_interop.py both ways against fcnet_dist train --init-from and eval (batchnorm, layernorm, none);
# skipped (77) where /usr/bin/python3 lacks torch.
fcnet_script_test(NAME test_torch_interop
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_torch_interop.sh $<TARGET_FILE:fcnet_synth>
                          ${MPIEXEC_EXECUTABLE} TIMEOUT 180)
set_tests_properties(test_torch_interop PROPERTIES PROCESSORS 2)
# cmake --install into a scratch prefix: the four programs, their libraries, a run from another directory.
fcnet_script_test(NAME test_install
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
                          ${MPIEXEC_EXECUTABLE} TIMEOUT 60)
# Configure without openblas, inih or check (hidden from pkg-config): an error naming what to install.
fcnet_script_test(NAME test_configure
                  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_configure.sh ${CMAKE_COMMAND} ${PROJECT_SOURCE_DIR}
                  TIMEOUT 120)
# Every file of this build, with its own flags and -Werror, through Clang's front end (-fsyntax-only, about 5 s):
# the README says the build is warning-free with GCC and Clang, and CI builds with GCC only. Skipped without clang.
fcnet_script_test(NAME test_clang_warnings
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_clang_warnings.py
                          ${CMAKE_BINARY_DIR}/compile_commands.json TIMEOUT 120)
# Every file of this build compiled with -ffp-contract=off: Clang fuses a*b+c by default, GCC in ISO C mode does
# not, and the suite's bitwise comparisons hold only without fusing. Needs no compiler (CI builds with GCC only).
fcnet_script_test(NAME test_fp_contract
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_fp_contract.py
                          ${CMAKE_BINARY_DIR}/compile_commands.json TIMEOUT 60)
