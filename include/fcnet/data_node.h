/* One copy of the training data per node: the node's lowest rank reads the dataset into MPI-3 shared memory
 * and its peers on that node use the same rows, so 8 ranks on a node hold the data once, not 8 times. */
#ifndef FCNET_DATA_NODE_H
#define FCNET_DATA_NODE_H

#include <mpi.h>

#include "fcnet/data.h"
#include "fcnet/dist.h"

typedef struct fc_data_node {
    int shared;    /* 1 when the rows live in the node's shared memory; 0: every rank holds its own copy */
    MPI_Comm node; /* with shared: this node's ranks */
    MPI_Win win;   /* with shared: the rows (the node's lowest rank's segment) */
    int writer;    /* 1 on the rank that reads and preprocesses the rows: the lowest of its node, or every
                    * rank when the copies are private */
    int node_ranks; /* with shared: the ranks of this node that use the one copy */
} fc_data_node;

/* Collective. Loads path as fc_data_load does, once per node into shared memory when the node has several
 * ranks, FCNET_DATA_COPIES is unset or "shared" on every rank, and /dev/shm has room (else every rank reads its own
 * copy, with a warning when the room is short; the rows are the same bits either way). Only the node's lowest
 * rank reads the file; a peer whose --data is another file (by device and inode) is refused with a line
 * naming both. Errors come back on every rank of the node, the reader's reason on the reader (the node's
 * lowest failing rank, which fc_dist_agree prints). FCNET_DATA_COPIES other than shared/private: FC_ERR_INPUT.
 * Whatever the outcome, every rank later calls fc_data_node_free (after fc_data_free). */
fc_status fc_data_node_load(fc_data_node *dn, fc_dataset *ds, const char *path, double val_size,
                            const fc_dist *dist);
/* After the writer changed the rows in place (preprocessing): collective over the node; the writer's
 * changes are seen by every rank after it. */
void fc_data_node_publish(const fc_data_node *dn);
/* Collective over the node (every rank frees its trainer): frees the shared rows. Accepts a zeroed struct
 * and a private load. Call after fc_data_free. */
void fc_data_node_free(fc_data_node *dn);

#endif
