/* Writing dataset files in fcnet's layout (the README's Datasets section), atomically: everything goes to "<out>.tmp", which is
 * renamed over <out> only by fc_dsout_commit, so a failed or interrupted conversion never leaves a
 * half-written file under the final name. Failures return a status with fc_error_message set. */
#ifndef FCNET_DATASETS_DSOUT_H
#define FCNET_DATASETS_DSOUT_H

#include <hdf5.h>
#include <stdint.h>

#include "fcnet/common.h"

typedef struct fc_dsout {
    hid_t file;      /* the open temporary file, or H5I_INVALID_HID */
    char path[4096]; /* final name */
    char tmp[4200];  /* path + ".tmp" */
} fc_dsout;

/* Creates path.tmp (replacing a stale one) with HDF5's error printing turned off. */
fc_status fc_dsout_open(fc_dsout *out, const char *path);
/* Writes /group/x (n, d) of x_type from x laid out as x_mem (row-major) and /group/y (n,) uint8.
 * x is chunked and deflate-compressed when n > 0. */
fc_status fc_dsout_put_split(fc_dsout *out, const char *group, hid_t x_type, hid_t x_mem, const void *x,
                             int64_t n, int d, const uint8_t *y);
/* Root attributes: num_classes (int32) and a free-form provenance string "source". */
fc_status fc_dsout_put_attrs(fc_dsout *out, int num_classes, const char *source);
/* Closes, fsyncs and renames the temporary file to its final name. */
fc_status fc_dsout_commit(fc_dsout *out);
/* Closes and removes the temporary file; safe after a failed open or a commit. */
void fc_dsout_abort(fc_dsout *out);

#endif
