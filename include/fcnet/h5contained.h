/* Whether an HDF5 file holds all its data itself. An external link or a dataset whose raw data lives in
 * other files (external storage, a virtual dataset) makes the library open other paths while reading,
 * past every check fcnet makes on the file it was given: a FIFO there blocks open() forever, /dev/urandom
 * or a missing source file reads as data. fcnet refuses such files instead. */
#ifndef FCNET_H5CONTAINED_H
#define FCNET_H5CONTAINED_H

#include <hdf5.h>
#include <stddef.h>

/* NULL when every object of file is stored in it (hard and soft links only, no external or virtual
 * storage); else a reason naming the first object found, written into buf: "/test: an external link (to
 * other.h5:/x); fcnet reads only data stored in the file itself". */
const char *fc_h5_foreign_object(hid_t file, char *buf, size_t size);

#endif
