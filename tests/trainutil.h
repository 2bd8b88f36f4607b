/* Helpers for trainer tests: a small synthetic dataset file and a config for it. */
#ifndef FCNET_TRAINUTIL_H
#define FCNET_TRAINUTIL_H

#include <mpi.h>

#include "fcnet/config.h"

/* Rank 0 of comm writes a Gaussian-blob dataset (n_train rows in /train, n_val in /val, float32 x, int64 y,
 * root attribute num_classes) into a fresh temporary directory; every rank gets the path. */
void fct_make_dataset(char *path, size_t path_size, MPI_Comm comm, int n_train, int n_val, int d, int c,
                      unsigned seed);
/* Defaults plus the dataset and a small model. */
void fct_small_config(fc_config *cfg, const char *data, fc_norm norm, double keep, fc_optim_kind optim);

#endif
