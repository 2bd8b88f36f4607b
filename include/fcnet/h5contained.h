/* Whether an HDF5 file holds all its data itself. An external link or a dataset whose raw data lives in
 * other files (external storage, a virtual dataset) makes the library open other paths while reading,
 * past every check fcnet makes on the file it was given: a FIFO there blocks open() forever, /dev/urandom
 * or a missing source file reads as data. fcnet refuses such files instead. */
#ifndef FCNET_H5CONTAINED_H
#define FCNET_H5CONTAINED_H

#include <hdf5.h>
#include <stddef.h>

/* 0 when every object of file is stored in it (hard and soft links only, no external or virtual storage),
 * wherever it lies in the file, read by fcnet or not; else 1, with the first such object's path in object
 * ("/test") and the reason in reason ("an external link (to other.h5:/x); fcnet reads only data stored in
 * the file itself"). -1 when the file's groups cannot all be listed (a corrupted header), with HDF5's
 * reason in reason ("incorrect metadata checksum after all read attempts"). */
int fc_h5_foreign_object(hid_t file, char *object, size_t object_size, char *reason, size_t reason_size);

/* 1 when the dataset dset needs a filter (a compression) that this HDF5 library does not have, built in or
 * as a plugin from HDF5_PLUGIN_PATH, with "compressed with filter 'lzf' (id 32000), which ..." in reason;
 * else 0. HDF5 itself only says "can't open directory .../plugins" when it reads. */
int fc_h5_missing_filter(hid_t dset, char *reason, size_t reason_size);

/* 1 when part of dset's storage was never written (chunks missing, or contiguous storage never allocated):
 * it would read as the fill value, silently (no checksum covers storage that does not exist); else 0. */
int fc_h5_never_written(hid_t dset);

#endif
