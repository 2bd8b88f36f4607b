# Cluster tests (issue 8), bash scripts run as CTest tests; each reports itself skipped (77) where it cannot
# run (no root, no Slurm and no apt to install it, network namespaces refused).
#  - tests/slurm: a private one-node Slurm per test (slurm_up.sh/slurm_down.sh: own state folder, free ports,
#    torn down by PID file), so Slurm tests may run side by side; they drive launch/slurm.sbatch.
#  - tests/netns: network-namespace "hosts" per test (netns_up.sh/netns_down.sh: unique names, nothing in the
#    root namespace), a multi-host Open MPI run over TCP through an ssh-like launch agent.
# Neither clashes with the other or with itself, so no RESOURCE_LOCK: the timer test mostly waits for
# slurmctld's clock and runs beside the rest (PROCESSORS 1).
set(FCNET_CLUSTER_DIR ${CMAKE_CURRENT_SOURCE_DIR})

fcnet_script_test(NAME slurm_preempt
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_preempt.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 120)
fcnet_script_test(NAME slurm_preempt_srun
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_preempt.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 120)
set_property(TEST slurm_preempt_srun APPEND PROPERTY ENVIRONMENT FCNET_LAUNCHER=srun)
fcnet_script_test(NAME slurm_preempt_term
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_preempt.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 120)
set_property(TEST slurm_preempt_term APPEND PROPERTY ENVIRONMENT FCNET_TEST_SIGNAL=TERM)
fcnet_script_test(NAME slurm_preempt_srun_term
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_preempt.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 120)
set_property(TEST slurm_preempt_srun_term APPEND PROPERTY ENVIRONMENT FCNET_LAUNCHER=srun FCNET_TEST_SIGNAL=TERM)
fcnet_script_test(NAME slurm_timer
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_timer.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 150)
fcnet_script_test(NAME slurm_badfile
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_badfile.sh
                  TIMEOUT 60)
# A plain scancel: the ranks save, the job ends CANCELLED and is not requeued.
fcnet_script_test(NAME slurm_cancel
                  COMMAND bash ${FCNET_CLUSTER_DIR}/slurm/test_slurm_cancel.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 150)
set_tests_properties(slurm_preempt slurm_preempt_srun slurm_preempt_term slurm_preempt_srun_term slurm_timer
                     slurm_badfile slurm_cancel PROPERTIES PROCESSORS 1 LABELS "cluster;slurm")

fcnet_script_test(NAME netns_bitwise
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_bitwise.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 180)
fcnet_script_test(NAME netns_hostloss_kill
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_hostloss.sh $<TARGET_FILE:fcnet_synth> kill
                  TIMEOUT 120)
fcnet_script_test(NAME netns_hostloss_linkdown
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_hostloss.sh $<TARGET_FILE:fcnet_synth>
                          linkdown
                  TIMEOUT 120)
fcnet_script_test(NAME netns_bench_tcp
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_bench_tcp.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:mpi_latency>
                  TIMEOUT 180)
# Several ranks per host over shaped links: the exchange between nodes against messages between all ranks.
fcnet_script_test(NAME netns_bench_nodes
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_bench_nodes.sh $<TARGET_FILE:fcnet_synth>
                  TIMEOUT 180)
# Inputs that differ on one host only (missing, stale or damaged copies): one line, exit 2, no hang.
fcnet_script_test(NAME netns_one_host
                  COMMAND bash ${FCNET_CLUSTER_DIR}/netns/test_netns_one_host.sh $<TARGET_FILE:fcnet_synth>
                          $<TARGET_FILE:bad_inputs>
                  TIMEOUT 120)
set_tests_properties(netns_bitwise netns_bench_tcp netns_bench_nodes netns_one_host PROPERTIES PROCESSORS 2
                     LABELS "cluster;netns")
set_tests_properties(netns_hostloss_kill netns_hostloss_linkdown PROPERTIES PROCESSORS 1 LABELS "cluster;netns")

# Checkpoints are compared with h5diff (values and attributes) and, where the resume tests' h5cmp is built,
# also byte for byte (h5cmp: same type, shape and bytes, so -0 != +0).
set_property(TEST slurm_preempt slurm_preempt_srun slurm_preempt_term slurm_preempt_srun_term slurm_timer
             netns_bitwise netns_hostloss_kill netns_hostloss_linkdown netns_bench_nodes APPEND PROPERTY ENVIRONMENT
             "FCNET_H5CMP=$<$<TARGET_EXISTS:h5cmp>:$<TARGET_FILE:h5cmp>>")
