/* HDF5 prints a stack of error records for every failed call unless told not to. fcnet reports each
 * problem itself in one line, so reads that may fail silence that printing for their duration and then
 * give the caller back whatever handler it had. */
#ifndef FCNET_H5QUIET_H
#define FCNET_H5QUIET_H

#include <hdf5.h>

typedef struct fc_h5_quiet {
    H5E_auto2_t func; /* the caller's automatic error handler, restored by fc_h5_quiet_end */
    void *data;
} fc_h5_quiet;

static inline void fc_h5_quiet_begin(fc_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static inline void fc_h5_quiet_end(const fc_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

#endif
