/* Memory checks: a run's size against the machine's memory and this process's own limits (ulimit -v/-d). */
#ifndef FCNET_MEMORY_LIMITS_H
#define FCNET_MEMORY_LIMITS_H

#include "fcnet/common.h"

/* This machine's physical memory in bytes (0 when unknown): sizes beyond it are refused up front with a
 * message naming their cause, instead of an out-of-memory abort. */
double fc_physical_memory_bytes(void);
/* The number of ranks on this node, which each hold their own copy of the model (and of the data when it is
 * not shared); set once by the dist module (1 until then). */
void fc_set_node_ranks(int n);
/* Added to a refusal for the memory of the node's private copies while set ("" clears it): the data_node module
 * names /dev/shm there when that node's shared copy found no room, as its warning is dropped with a refused run. */
void fc_set_copies_note(const char *note);
/* This process's own memory limits, ulimit -v (RLIMIT_AS) and ulimit -d (RLIMIT_DATA): 0 when neither is set;
 * else 1, with the one that leaves less room: its bytes, the bytes it leaves beside the process's current use
 * (negative when it was lowered below that use, as prlimit can), and its name ("ulimit -v"). */
int fc_memory_limit(double *limit, double *left, const char **which);
/* 1 when need bytes per rank do not fit this rank's share of the physical memory (the memory divided by the
 * ranks on this node), with the reason in why ("more than this machine's 23.5 GiB of memory", or the share
 * and the rank count); also when fc_memory_limit's room is below need plus 128 MiB kept for OpenBLAS's work
 * buffer; 0 when they fit or the memory is unknown. */
int fc_memory_exceeded(double need, char *why, size_t size);
/* The same for need bytes held `copies` times on this node (1: once for the node, as shared memory is). */
int fc_memory_exceeded_copies(double need, int copies, char *why, size_t size);
/* fc_memory_exceeded for a need of which held bytes this process has allocated already (the splits read before):
 * the memory counts the whole need, a per-process address-space limit (ulimit -v/-d) only the rest, as the
 * process's use already holds the held part. */
int fc_memory_exceeded_held(double need, double held, char *why, size_t size);
/* 1 when OpenBLAS runs more than one thread and this process's limit (fc_memory_limit) leaves less room than what
 * fc_memory_exceeded keeps for their work buffers still needs (the buffers its workers have mapped already counted
 * as part of it, not as used), with the reason and what to do in why; 0 otherwise. OpenBLAS's
 * worker threads take their buffers as the library loads, and one that finds no room retries forever: then
 * OpenBLAS's exit handler, and its fork handler (in a lone process's MPI_Init), wait for it forever. A caller that
 * gets 1 must leave by _exit and never fork. */
int fc_memory_blas_threads_lack_room(char *why, size_t size);

#endif
