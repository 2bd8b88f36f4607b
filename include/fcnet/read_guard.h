/* A crash inside HDF5 while reading a corrupted file, turned into fcnet's one-line error.
 * HDF5 checksums only part of a file: a corrupted length in a global heap (where variable-length strings
 * live) or in a version-1 object header can make it copy past its buffers and die of SIGSEGV. Between
 * begin and end, SIGSEGV and SIGBUS print "<path>: crashed while reading it ..." and exit 2 (an input
 * problem, found before training: nothing has been written), or 1 once training has started (a numbered
 * copy in --out read by --keep-last); outside, the previous handlers (Open MPI's) are in place. */
#ifndef FCNET_READ_GUARD_H
#define FCNET_READ_GUARD_H

/* Nested calls keep the outermost handlers and name the innermost path until its end. */
void fc_read_guard_begin(const char *path);
void fc_read_guard_end(void);
/* From now on a crash while reading exits 1 (a failure while running), not 2. */
void fc_read_guard_training_started(void);
/* This rank's place among its node's ranks (0 for the first) and whether rank 0 is among them; set once by the
 * dist module. After a crash on a node without rank 0, that node's first rank speaks first. */
void fc_read_guard_set_node_rank(int rank, int with_rank0);

#endif
