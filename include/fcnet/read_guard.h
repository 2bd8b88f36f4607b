/* A crash inside HDF5 while reading a corrupted file, turned into fcnet's one-line error.
 * HDF5 checksums only part of a file: a corrupted length in a global heap (where variable-length strings
 * live) or in a version-1 object header can make it copy past its buffers and die of SIGSEGV. Between
 * begin and end, SIGSEGV and SIGBUS print "<path>: HDF5 crashed reading it ..." and exit 2 (an input
 * problem: nothing has been written); outside, the previous handlers (Open MPI's) are in place. */
#ifndef FCNET_READ_GUARD_H
#define FCNET_READ_GUARD_H

/* Nested calls keep the outermost handlers and name the innermost path until its end. */
void fc_read_guard_begin(const char *path);
void fc_read_guard_end(void);

#endif
