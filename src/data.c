/* Datasets in the HDF5 format of the README's Datasets section: opening and validating the splits, the hold-out, reading
 * rows in chunks, preprocessing, the per-epoch order and the batch gather.
 *
 * Every failure a user can cause becomes one FC_ERR_INPUT message "<file>: <object>: <reason>";
 * HDF5's own error printing is switched off for the duration of each call (and restored after), and
 * the innermost HDF5 error description is appended in parentheses where it adds information.
 *
 * Accepted types: x of any integer or floating-point type. uint8 is taken as 8-bit pixels and scaled
 * by 1/255; every other integer type is converted as is (no scaling), floats are checked for NaN/Inf
 * and, in the float build, for values beyond the float range. y of any integer type; its values are
 * range-checked in 64 bits before they are narrowed to int32. */
#include "fcnet/data.h"

#include <errno.h>
#include <float.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fcnet/dist.h"
#include "fcnet/h5contained.h"
#include "fcnet/h5quiet.h"
#include "fcnet/memory_limits.h"
#include "fcnet/read_guard.h"
#include "fcnet/rng.h"

/* x is converted through a double buffer of at most this size, so a large uint8 file never needs a
 * double (or even fc_real) temporary of its full size next to the result. */
#define X_CHUNK_BYTES ((size_t)4 << 20)
#define Y_CHUNK_ROWS ((int64_t)1 << 16)
/* Without a num_classes attribute n_classes = max label + 1 must still fit an int32. */
#define LABEL_LIMIT ((int64_t)INT32_MAX)

/* ---- HDF5 error handling ---- */

typedef struct detail_buf {
    char text[256];
} detail_buf;

/* fc_h5_innermost into buf. Call right after the failure. */
static const char *h5_detail(detail_buf *buf) { return fc_h5_innermost(buf->text, sizeof buf->text, "no HDF5 detail"); }

static const char *class_name(H5T_class_t cls)
{
    switch (cls) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    case H5T_REFERENCE: return "reference";
    case H5T_VLEN: return "variable-length";
    default: return "unknown";
    }
}

static void close_dataset(hid_t *id)
{
    if (*id >= 0) H5Dclose(*id);
    *id = H5I_INVALID_HID;
}

/* ---- file and attribute ---- */

/* Opens path read-only, telling apart "cannot open" (OS), "not an HDF5 file" (no signature) and
 * "truncated or corrupt" (signature present but the library cannot open it). */
static fc_status file_open(hid_t *file, const char *path)
{
    *file = H5I_INVALID_HID;
    const char *problem = fc_input_file_problem(path);
    if (problem) return fc_error_set(FC_ERR_INPUT, "%s: cannot open: %s", path, problem);
    FILE *probe = fopen(path, "rb");
    if (!probe) return fc_error_set(FC_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) return fc_error_set(FC_ERR_INPUT, "%s: not an HDF5 file", path);

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    /* Shared read locks, but do not fail on file systems without locking (NFS, some Lustre mounts):
     * every rank opens this file read-only, nobody writes it. */
    H5Pset_file_locking(fapl, 1, 1);
#endif
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    detail_buf detail;
    if (f < 0) h5_detail(&detail);
    H5Pclose(fapl);
    const char *refusal = f < 0 ? fc_h5_open_refusal(detail.text) : NULL;
    if (refusal) return fc_error_set(FC_ERR_INPUT, "%s: %s", path, refusal);
    if (f < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: truncated or corrupt HDF5 file (%s)", path, detail.text);
    char object[256], why[512];
    const int foreign = fc_h5_foreign_object(f, object, sizeof object, why, sizeof why);
    if (foreign != 0) {
        H5Fclose(f);
        if (foreign < 0) return fc_error_set(FC_ERR_INPUT, "%s: truncated or corrupt HDF5 file (%s)", path, why);
        return fc_error_set(FC_ERR_INPUT, "%s: %s: %s", path, object, why);
    }
    *file = f;
    return FC_OK;
}

/* *num_classes = the root attribute, or 0 when absent. It must be one positive integral value. */
static fc_status read_num_classes(int *num_classes, hid_t file, const char *path)
{
    *num_classes = 0;
    detail_buf detail;
    htri_t exists = H5Aexists(file, "num_classes");
    if (exists < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: cannot look up (%s)", path,
                            h5_detail(&detail));
    if (exists == 0) return FC_OK;

    fc_status st = FC_OK;
    hid_t attr = H5Aopen(file, "num_classes", H5P_DEFAULT);
    if (attr < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: cannot open (%s)", path,
                            h5_detail(&detail));
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    double value = 0;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        st = fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: expected an integer, got %s", path,
                          class_name(cls));
    } else if (count != 1) {
        st = fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: expected a single value, got %lld values",
                          path, (long long)count);
    } else if (H5Aread(attr, H5T_NATIVE_DOUBLE, &value) < 0) {
        st = fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: read failed (%s)", path,
                          h5_detail(&detail));
    } else if (!(value >= 1 && value <= (double)LABEL_LIMIT && value == floor(value))) {
        st = fc_error_set(FC_ERR_INPUT, "%s: attribute num_classes: %g is not a positive integer", path, value);
    } else {
        *num_classes = (int)value;
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    return st;
}

/* ---- one split in the file ---- */

/* How x is read: the common types are read without HDF5 conversion (which is several times slower
 * than the loops below) and converted here; anything else is converted to double by HDF5. */
typedef enum x_kind {
    X_U8,    /* uint8 pixels, scaled by 1/255 */
    X_F32,   /* float32 */
    X_F64,   /* float64 */
    X_OTHER  /* other integer (as is, no scaling) or float sizes, read as double */
} x_kind;

/* An open (x, y) pair: validated shapes and types, not yet read. */
typedef struct xy_source {
    const char *path;  /* file name for messages; not owned */
    char x_name[300];  /* "/train/x" */
    char y_name[300];  /* "/train/y" */
    hid_t x, y;        /* open datasets (owned), or H5I_INVALID_HID */
    int64_t n;         /* rows */
    int d;             /* features */
    x_kind kind;       /* how x is read and converted */
    int y_u64;         /* y is stored as unsigned 64-bit: read as such, so that values >= 2^63 are shown as stored */
} xy_source;

static void source_close(xy_source *src)
{
    close_dataset(&src->x);
    close_dataset(&src->y);
}

/* Rank and dims of dataset (at most 8 dims reported, the true rank returned: a 32-D /train/x was called
 * 8-D); rank 0 for scalar and null dataspaces. */
static int dataset_dims(hid_t dset, hsize_t dims[8])
{
    memset(dims, 0, 8 * sizeof *dims);
    hid_t space = H5Dget_space(dset);
    if (space < 0) return -1;
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank > 0) {
        hsize_t all[H5S_MAX_RANK];
        H5Sget_simple_extent_dims(space, all, NULL);
        for (int i = 0; i < rank && i < 8; i++) dims[i] = all[i];
    }
    H5Sclose(space);
    return rank;
}

static fc_status open_member(hid_t *dset, hid_t group, const char *member, const char *full, const char *path)
{
    detail_buf detail;
    htri_t exists = H5Lexists(group, member, H5P_DEFAULT);
    if (exists < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot look up (%s)", path, full, h5_detail(&detail));
    if (exists == 0) return fc_error_set(FC_ERR_INPUT, "%s: %s: missing dataset", path, full);
    *dset = H5Dopen2(group, member, H5P_DEFAULT);
    if (*dset < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: not a readable dataset (%s)", path, full, h5_detail(&detail));
    char why[256];
    if (fc_h5_missing_filter(*dset, why, sizeof why)) return fc_error_set(FC_ERR_INPUT, "%s: %s: %s", path, full, why);
    return FC_OK;
}

/* A datatype message whose size field was corrupted (float32 read as 7684 bytes per element) makes HDF5
 * read far past its buffers while converting: a crash, not an error. Integers and floats wider than
 * 16 bytes, or whose bits do not fit in their size, exist in no writer; NULL for a plausible type. */
static const char *implausible_number_type(hid_t type, char *why, size_t why_size)
{
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) return NULL;
    size_t size = H5Tget_size(type), precision = H5Tget_precision(type);
    int offset = H5Tget_offset(type);
    if (size == 0 || size > 16 || precision == 0 || offset < 0 || precision + (size_t)offset > 8 * size) {
        snprintf(why, why_size, "a %zu-byte %s type with %zu bits at offset %d is not a valid number type", size,
                 class_name(cls), precision, offset);
        return why;
    }
    if (cls == H5T_FLOAT) {
        /* Every float format HDF5 describes (IEEE, x87's 80 bits) has the mantissa below the exponent below
         * the sign, inside the type's bits, and the exponent bias 2^(esize-1) - 1. A stray byte in the type
         * message breaks one of these, e.g. a bias of 3254780031 that reads every value as 0. */
        size_t spos, epos, esize, mpos, msize;
        const size_t ebias = H5Tget_ebias(type), end = (size_t)offset + precision;
        if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0 || esize < 2 || esize > 32 || msize == 0 ||
            mpos < (size_t)offset || mpos + msize > epos || epos + esize > spos || spos >= end ||
            ebias != ((size_t)1 << (esize - 1)) - 1) {
            snprintf(why, why_size, "a %zu-byte float type whose fields are not a valid float format (exponent bias %zu)",
                     size, ebias);
            return why;
        }
    }
    return NULL;
}

static fc_status check_x(xy_source *src)
{
    hid_t type = H5Dget_type(src->x);
    if (type < 0) return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot read its type", src->path, src->x_name);
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(type) : H5T_SGN_ERROR;
    char why[128];
    const char *bad_type = implausible_number_type(type, why, sizeof why);
    H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected a numeric type (an integer or float of any size), got %s",
                            src->path, src->x_name, class_name(cls));
    if (bad_type)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: %s (file corrupted?)", src->path, src->x_name, bad_type);
    if (cls == H5T_INTEGER && size == 1 && sign == H5T_SGN_NONE) src->kind = X_U8;
    else if (cls == H5T_FLOAT && size == sizeof(float)) src->kind = X_F32;
    else if (cls == H5T_FLOAT && size == sizeof(double)) src->kind = X_F64;
    else src->kind = X_OTHER;

    hsize_t dims[8];
    int rank = dataset_dims(src->x, dims);
    if (rank != 2)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected 2-D (N, D), got %d-D", src->path, src->x_name, rank);
    if (dims[1] == 0)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected at least 1 feature, got 0 columns", src->path,
                            src->x_name);
    if (dims[1] > (hsize_t)INT_MAX || dims[0] > (hsize_t)INT64_MAX / dims[1])
        return fc_error_set(FC_ERR_INPUT, "%s: %s: too large (%llu x %llu)", src->path, src->x_name,
                            (unsigned long long)dims[0], (unsigned long long)dims[1]);
    src->n = (int64_t)dims[0];
    src->d = (int)dims[1];
    return FC_OK;
}

static fc_status check_y(xy_source *src)
{
    hid_t type = H5Dget_type(src->y);
    if (type < 0) return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot read its type", src->path, src->y_name);
    H5T_class_t cls = H5Tget_class(type);
    src->y_u64 = cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8;
    char why[128];
    const char *bad_type = implausible_number_type(type, why, sizeof why);
    H5Tclose(type);
    /* Float labels are rejected rather than truncated: 2.7 has no right answer. */
    if (cls != H5T_INTEGER)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected integer labels, got %s", src->path, src->y_name,
                            class_name(cls));
    if (bad_type)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: %s (file corrupted?)", src->path, src->y_name, bad_type);
    hsize_t dims[8];
    int rank = dataset_dims(src->y, dims);
    if (rank != 1)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected 1-D (N,), got %d-D", src->path, src->y_name, rank);
    if ((int64_t)dims[0] != src->n)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: %llu labels but %s has %lld rows", src->path, src->y_name,
                            (unsigned long long)dims[0], src->x_name, (long long)src->n);
    return FC_OK;
}

/* Opens /name/x and /name/y and validates their shapes and types. *present = 0 (and FC_OK) when the
 * group is absent and not required. */
static fc_status source_open(xy_source *src, int *present, hid_t file, const char *path, const char *name,
                             int required)
{
    memset(src, 0, sizeof *src);
    src->path = path;
    src->x = src->y = H5I_INVALID_HID;
    *present = 0;
    FC_ASSERT(strlen(name) < 256);
    char group_name[300];
    snprintf(group_name, sizeof group_name, "/%s", name);
    snprintf(src->x_name, sizeof src->x_name, "/%s/x", name);
    snprintf(src->y_name, sizeof src->y_name, "/%s/y", name);

    detail_buf detail;
    htri_t exists = H5Lexists(file, group_name, H5P_DEFAULT);
    if (exists < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot look up (%s)", path, group_name, h5_detail(&detail));
    if (exists == 0)
        return required ? fc_error_set(FC_ERR_INPUT, "%s: %s: missing group", path, group_name) : FC_OK;
    hid_t group = H5Oopen(file, group_name, H5P_DEFAULT);
    if (group < 0)
        return fc_error_set(FC_ERR_INPUT, "%s: %s: cannot open (%s)", path, group_name, h5_detail(&detail));
    H5I_type_t kind = H5Iget_type(group);
    if (kind != H5I_GROUP) {
        H5Oclose(group);
        return fc_error_set(FC_ERR_INPUT, "%s: %s: expected a group, got a %s", path, group_name,
                            kind == H5I_DATASET ? "dataset" : "named datatype");
    }
    *present = 1;

    fc_status st = open_member(&src->x, group, "x", src->x_name, path);
    if (st == FC_OK) st = check_x(src);
    if (st == FC_OK) st = open_member(&src->y, group, "y", src->y_name, path);
    if (st == FC_OK) st = check_y(src);
    H5Oclose(group);
    if (st != FC_OK) source_close(src);
    return st;
}

/* The message for a NaN, Inf or (float build) out-of-range element i of a block starting at row0. */
static fc_status bad_value(const xy_source *src, int64_t row0, size_t i, double v)
{
    const long long row = (long long)row0 + (long long)(i / (size_t)src->d), col = (long long)(i % (size_t)src->d);
    if (isnan(v) || isinf(v))
        return fc_error_set(FC_ERR_INPUT, "%s: %s: %s at row %lld, column %lld", src->path, src->x_name,
                            isnan(v) ? "NaN" : "Inf", row, col);
    return fc_error_set(FC_ERR_INPUT, "%s: %s: value %g at row %lld, column %lld beyond the float range",
                        src->path, src->x_name, v, row, col);
}

/* dst[0..count) = the count elements of buf (read as src->kind's memory type); row0 is buf's first row. */
static fc_status convert_x(fc_real *dst, const void *buf, size_t count, const xy_source *src, int64_t row0)
{
    if (src->kind == X_U8) {
        /* v / 255 in double then one rounding equals numpy's float32 x / 255: both are correctly
         * rounded quotients of the same operands (53 >= 2*24 + 2 bits, so double rounding is exact). */
        fc_real table[256];
        for (int v = 0; v < 256; v++) table[v] = (fc_real)((double)v / 255.0);
        const uint8_t *b = buf;
        for (size_t i = 0; i < count; i++) dst[i] = table[b[i]];
    } else if (src->kind == X_F32) {
        const float *b = buf;
        for (size_t i = 0; i < count; i++) {
            if (!isfinite(b[i])) return bad_value(src, row0, i, (double)b[i]);
            dst[i] = (fc_real)b[i];
        }
    } else {
        const double *b = buf;
        for (size_t i = 0; i < count; i++) {
            if (!isfinite(b[i])) return bad_value(src, row0, i, b[i]);
#ifndef FC_REAL_DOUBLE
            if (fabs(b[i]) > (double)FLT_MAX) return bad_value(src, row0, i, b[i]);
#endif
            dst[i] = (fc_real)b[i];
        }
    }
    return FC_OK;
}

/* Rows per read of read_x_rows: its buffer of doubles holds about X_CHUNK_BYTES, at least one row, at most n. */
static int64_t read_chunk_rows(int d, int64_t n)
{
    int64_t chunk = (int64_t)(X_CHUNK_BYTES / ((size_t)d * sizeof(double)));
    if (chunk < 1) chunk = 1;
    return chunk > n ? n : chunk;
}

/* Reads rows [row0, row0 + n) of src's x into out (n, d) through a bounded buffer, checking for
 * NaN/Inf (and the float range) and scaling uint8 by 1/255. */
static fc_status read_x_rows(fc_real *out, const xy_source *src, int64_t row0, int64_t n)
{
    if (n == 0) return FC_OK;
    const size_t d = (size_t)src->d;
    const hid_t mem_type = src->kind == X_U8 ? H5T_NATIVE_UINT8 : src->kind == X_F32 ? H5T_NATIVE_FLOAT
                                                                                      : H5T_NATIVE_DOUBLE;
    const int64_t chunk = read_chunk_rows(src->d, n);
    void *buf = fc_alloc((size_t)chunk * d * sizeof(double));
    hid_t fspace = H5Dget_space(src->x);
    detail_buf detail;
    fc_status st = fspace < 0 ? fc_error_set(FC_ERR_INPUT, "%s: %s: cannot read its dataspace (%s)", src->path,
                                             src->x_name, h5_detail(&detail))
                              : FC_OK;
    for (int64_t done = 0; st == FC_OK && done < n; done += chunk) {
        const int64_t rows = n - done < chunk ? n - done : chunk;
        const hsize_t start[2] = {(hsize_t)(row0 + done), 0}, count[2] = {(hsize_t)rows, (hsize_t)d};
        /* The memory space has the selection's 2-D shape: with a 1-D one HDF5 maps chunked data element
         * by element (several times slower). */
        hid_t mspace = H5Screate_simple(2, count, NULL);
        herr_t rc = mspace < 0 ? -1 : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (rc >= 0) rc = H5Dread(src->x, mem_type, mspace, fspace, H5P_DEFAULT, buf);
        if (rc < 0)
            st = fc_error_set(FC_ERR_INPUT, "%s: %s: read failed in rows %lld..%lld (%s)", src->path, src->x_name,
                              (long long)(row0 + done), (long long)(row0 + done + rows - 1), h5_detail(&detail));
        if (mspace >= 0) H5Sclose(mspace);
        if (st == FC_OK) st = convert_x(out + (size_t)done * d, buf, (size_t)rows * d, src, row0 + done);
    }
    if (fspace >= 0) H5Sclose(fspace);
    fc_free(buf);
    return st;
}

/* The one-line error for the label raw at row: its value as stored (an unsigned 64-bit one beyond INT64_MAX
 * too, which raw holds as a negative number) and the range it is out of. */
static fc_status label_out_of_range(const xy_source *src, int64_t raw, int64_t row, int num_classes)
{
    char value[24], range[48];
    uint64_t stored;
    memcpy(&stored, &raw, sizeof stored);
    const int beyond = src->y_u64 && raw < 0;
    if (beyond) snprintf(value, sizeof value, "%llu", (unsigned long long)stored);
    else snprintf(value, sizeof value, "%lld", (long long)raw);
    if (num_classes > 0) snprintf(range, sizeof range, "[0, num_classes = %d)", num_classes);
    else if (raw < 0 && !beyond) snprintf(range, sizeof range, "(negative)");
    else snprintf(range, sizeof range, "[0, %lld)", (long long)LABEL_LIMIT);
    return fc_error_set(FC_ERR_INPUT, "%s: %s: label %s at row %lld out of range %s", src->path, src->y_name, value,
                        (long long)row, range);
}

/* Reads labels [row0, row0 + n) into out, checking each in 64 bits against [0, num_classes) (or
 * [0, LABEL_LIMIT) when num_classes is 0) before narrowing. *max_label is raised to the largest. */
static fc_status read_y_rows(int32_t *out, int64_t *max_label, const xy_source *src, int64_t row0, int64_t n,
                             int num_classes)
{
    if (n == 0) return FC_OK;
    const int64_t chunk = n < Y_CHUNK_ROWS ? n : Y_CHUNK_ROWS;
    int64_t *buf = fc_alloc((size_t)chunk * sizeof *buf);
    hid_t fspace = H5Dget_space(src->y);
    detail_buf detail;
    fc_status st = fspace < 0 ? fc_error_set(FC_ERR_INPUT, "%s: %s: cannot read its dataspace (%s)", src->path,
                                             src->y_name, h5_detail(&detail))
                              : FC_OK;
    for (int64_t done = 0; st == FC_OK && done < n; done += chunk) {
        const int64_t rows = n - done < chunk ? n - done : chunk;
        const hsize_t start = (hsize_t)(row0 + done), count = (hsize_t)rows;
        hid_t mspace = H5Screate_simple(1, &count, NULL);
        herr_t rc = mspace < 0 ? -1 : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL);
        /* Unsigned 64-bit labels are read as such: HDF5 would saturate those beyond INT64_MAX to it. */
        if (rc >= 0)
            rc = H5Dread(src->y, src->y_u64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, mspace, fspace, H5P_DEFAULT, buf);
        if (rc < 0)
            st = fc_error_set(FC_ERR_INPUT, "%s: %s: read failed in rows %lld..%lld (%s)", src->path, src->y_name,
                              (long long)(row0 + done), (long long)(row0 + done + rows - 1), h5_detail(&detail));
        if (mspace >= 0) H5Sclose(mspace);
        const int64_t limit = num_classes > 0 ? num_classes : LABEL_LIMIT;
        for (int64_t i = 0; st == FC_OK && i < rows; i++) {
            const int64_t v = buf[i];
            if (v < 0 || v >= limit) { /* unsigned 64-bit labels beyond INT64_MAX are negative here */
                st = label_out_of_range(src, v, row0 + done + i, num_classes);
                break;
            }
            out[done + i] = (int32_t)v;
            if (v > *max_label) *max_label = v;
        }
    }
    if (fspace >= 0) H5Sclose(fspace);
    fc_free(buf);
    return st;
}

static fc_status check_written(const xy_source *src)
{
    const char *name = fc_h5_never_written(src->x) ? src->x_name
                       : fc_h5_never_written(src->y) ? src->y_name
                                                     : NULL;
    if (!name) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s: %s: part of its data was never written (it would read as the fill value)",
                        src->path, name);
}

/* Reads rows [row0, row0 + n) of src into split: into x_at and y_at when the caller placed the memory (its size
 * checked there), else into memory allocated here. *held: bytes the splits read before this one hold; the
 * memory check counts them (an address-space limit does not: they are in the process's use already), this
 * split's rows and labels, and the read buffer; on success *held grows by this split. On failure split is freed
 * (placed memory stays the caller's). */
static fc_status split_read(fc_split *split, int64_t *max_label, double *held, const xy_source *src, int64_t row0,
                            int64_t n, int num_classes, fc_real *x_at, int32_t *y_at)
{
    memset(split, 0, sizeof *split);
    split->n = n;
    split->d = src->d;
    if (n == 0) return FC_OK;
    if (x_at) {
        fc_status st = check_written(src);
        if (st != FC_OK) return st;
        split->x = x_at;
        split->y = y_at;
        split->borrowed = 1;
    } else {
        if ((uint64_t)n > SIZE_MAX / (size_t)src->d / sizeof(fc_real))
            return fc_error_set(FC_ERR_INPUT, "%s: %s: %lld rows of %d features do not fit in memory", src->path,
                                src->x_name, (long long)n, src->d);
        const double mine = (double)n * ((double)src->d * sizeof(fc_real) + sizeof(int32_t));
        const double need = *held + mine + (double)read_chunk_rows(src->d, n) * src->d * sizeof(double);
        char why[256];
        if (fc_memory_exceeded_held(need, *held, why, sizeof why))
            return fc_error_set(FC_ERR_INPUT, "%s: %s: %lld rows of %d features need %s%s, %s", src->path,
                                src->x_name, (long long)n, src->d, fc_format_size(need).text,
                                *held > 0 ? " with the splits read before" : "", why);
        fc_status st = check_written(src); /* after the memory check, which names the size */
        if (st != FC_OK) return st;
        *held += mine;
        split->x = fc_alloc((size_t)n * (size_t)src->d * sizeof *split->x);
        split->y = fc_alloc((size_t)n * sizeof *split->y);
    }
    fc_status st = read_x_rows(split->x, src, row0, n);
    if (st == FC_OK) st = read_y_rows(split->y, max_label, src, row0, n, num_classes);
    if (st != FC_OK) fc_split_free(split);
    return st;
}

static fc_status check_features(const xy_source *src, const xy_source *train)
{
    if (src->d == train->d) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s: %s: %d features but %s has %d", src->path, src->x_name, src->d,
                        train->x_name, train->d);
}

/* Rows held out of the end of /train: a fraction (rounded down) when < 1, a count when >= 1. */
static fc_status holdout_rows(int64_t *n_val, const char *path, double val_size, int64_t n_train)
{
    *n_val = 0;
    if (!(val_size >= 0) || isinf(val_size))
        return fc_error_set(FC_ERR_INPUT, "%s: /train: val_size %g is not a fraction in [0, 1) or a row count",
                            path, val_size);
    const double rows = val_size < 1 ? floor(val_size * (double)n_train) : floor(val_size);
    if (rows >= (double)n_train)
        return fc_error_set(FC_ERR_INPUT,
                            "%s: /train: val_size %g holds out %.0f of %lld rows and leaves no training rows",
                            path, val_size, rows, (long long)n_train);
    /* A hold-out asked for that rounds to no row would turn validation off without a word. */
    if (val_size > 0 && rows == 0)
        return fc_error_set(FC_ERR_INPUT,
                            "%s: /train: val_size %g holds out 0 of %lld rows: give a larger fraction, a row count, "
                            "or 0 to train without validation",
                            path, val_size, (long long)n_train);
    *n_val = (int64_t)rows;
    return FC_OK;
}

/* A split in the file has rows. An empty optional one (/val, /test) would silently turn validation off (no
 * hold-out is cut when the file has /val), and eval refuses empty splits; fcnet's own writers leave such a
 * split out, so the message says to. */
static fc_status require_rows(const xy_source *src, const char *path, int optional)
{
    if (src->n > 0) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s: %s: empty (0 rows)%s", path, src->x_name,
                        optional ? "; leave the split out of the file instead" : "");
}

/* ---- public: loading ---- */

/* The placed layout: per split (train, val, test) its x, then its y, each starting on a 64-byte line. */
static size_t line_up(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

size_t fc_data_placed_bytes(const int64_t rows[3], int d)
{
    size_t bytes = 0;
    for (int s = 0; s < 3; s++)
        bytes += line_up((size_t)rows[s] * (size_t)d * sizeof(fc_real)) + line_up((size_t)rows[s] * sizeof(int32_t));
    return bytes;
}

/* Where split s's x and y start in a placed block. */
static void placed_split(void *base, const int64_t rows[3], int d, int s, fc_real **x, int32_t **y)
{
    char *at = base;
    for (int k = 0; k < s; k++)
        at += line_up((size_t)rows[k] * (size_t)d * sizeof(fc_real)) + line_up((size_t)rows[k] * sizeof(int32_t));
    *x = (fc_real *)at;
    *y = (int32_t *)(at + line_up((size_t)rows[s] * (size_t)d * sizeof(fc_real)));
}

void fc_data_point_into(fc_dataset *ds, void *base, const int64_t rows[3], int d)
{
    fc_split *splits[3] = {&ds->train, &ds->val, &ds->test};
    for (int s = 0; s < 3; s++) {
        memset(splits[s], 0, sizeof *splits[s]);
        splits[s]->n = rows[s];
        splits[s]->d = d;
        if (rows[s] == 0) continue;
        placed_split(base, rows, d, s, &splits[s]->x, &splits[s]->y);
        splits[s]->borrowed = 1;
    }
}

fc_status fc_data_load(fc_dataset *ds, const char *path, double val_size)
{
    return fc_data_load_placed(ds, path, val_size, NULL, NULL);
}

fc_status fc_data_load_placed(fc_dataset *ds, const char *path, double val_size, fc_data_place_fn place, void *ctx)
{
    FC_ASSERT(ds && path);
    memset(ds, 0, sizeof *ds);
    snprintf(ds->path, sizeof ds->path, "%s", path);
    fc_h5_quiet quiet;
    fc_h5_quiet_begin(&quiet);
    fc_read_guard_begin(path);

    hid_t file = H5I_INVALID_HID;
    xy_source train_src, val_src, test_src;
    int has_train = 0, has_val = 0, has_test = 0, num_classes = 0;
    memset(&train_src, 0, sizeof train_src);
    train_src.x = train_src.y = H5I_INVALID_HID;
    val_src = test_src = train_src;

    fc_status st = file_open(&file, path);
    if (st == FC_OK) st = read_num_classes(&num_classes, file, path);
    if (st == FC_OK) st = source_open(&train_src, &has_train, file, path, "train", 1);
    if (st == FC_OK) st = require_rows(&train_src, path, 0);
    if (st == FC_OK) st = source_open(&val_src, &has_val, file, path, "val", 0);
    if (st == FC_OK && has_val) st = check_features(&val_src, &train_src);
    if (st == FC_OK) st = source_open(&test_src, &has_test, file, path, "test", 0);
    if (st == FC_OK && has_test) st = check_features(&test_src, &train_src);
    if (st == FC_OK && has_val) st = require_rows(&val_src, path, 1);
    if (st == FC_OK && has_test) st = require_rows(&test_src, path, 1);

    int64_t n_holdout = 0, max_label = -1;
    double held = 0;
    if (st == FC_OK && !has_val) st = holdout_rows(&n_holdout, path, val_size, train_src.n);
    /* Every size is known now and no row is read yet: the caller may place the rows. */
    const int64_t rows[3] = {train_src.n - n_holdout, has_val ? val_src.n : n_holdout, has_test ? test_src.n : 0};
    void *base = NULL;
    if (st == FC_OK && place) st = place(ctx, rows, train_src.d, &base);
    fc_real *x_at[3] = {NULL, NULL, NULL};
    int32_t *y_at[3] = {NULL, NULL, NULL};
    for (int s = 0; base && s < 3; s++) placed_split(base, rows, train_src.d, s, &x_at[s], &y_at[s]);
    if (st == FC_OK)
        st = split_read(&ds->train, &max_label, &held, &train_src, 0, rows[0], num_classes, x_at[0], y_at[0]);
    if (st == FC_OK && has_val)
        st = split_read(&ds->val, &max_label, &held, &val_src, 0, rows[1], num_classes, x_at[1], y_at[1]);
    if (st == FC_OK && n_holdout > 0)
        st = split_read(&ds->val, &max_label, &held, &train_src, rows[0], rows[1], num_classes, x_at[1], y_at[1]);
    if (st == FC_OK && has_test)
        st = split_read(&ds->test, &max_label, &held, &test_src, 0, rows[2], num_classes, x_at[2], y_at[2]);

    if (st == FC_OK) {
        ds->n_features = train_src.d;
        ds->n_classes = num_classes > 0 ? num_classes : (int)(max_label + 1);
        ds->val_from_file = has_val;
    }
    source_close(&train_src);
    source_close(&val_src);
    source_close(&test_src);
    if (file >= 0) H5Fclose(file);
    fc_read_guard_end();
    fc_h5_quiet_end(&quiet);
    if (st != FC_OK) fc_data_free(ds);
    return st;
}

/* Reads part index of parts (fc_dist_slice's division) of the group called name into part. With cut_as_training,
 * "train" and "val" of a file without /val are /train less its hold-out and the hold-out (val_size); else the
 * group is read whole. */
static fc_status read_part(fc_split *part, fc_part_info *info, const char *path, const char *name, double val_size,
                           int index, int parts, int cut_as_training)
{
    FC_ASSERT(part && info && path && name && parts > 0 && index >= 0 && index < parts);
    memset(part, 0, sizeof *part);
    memset(info, 0, sizeof *info);
    fc_h5_quiet quiet;
    fc_h5_quiet_begin(&quiet);
    fc_read_guard_begin(path);

    hid_t file = H5I_INVALID_HID;
    xy_source src;
    memset(&src, 0, sizeof src);
    src.x = src.y = H5I_INVALID_HID;
    int present = 0, num_classes = 0;
    htri_t has_val = 1;
    detail_buf detail;
    const int is_val = strcmp(name, "val") == 0, may_cut = cut_as_training && strcmp(name, "test") != 0;
    fc_status st = file_open(&file, path);
    if (st == FC_OK) st = read_num_classes(&num_classes, file, path);
    if (st == FC_OK && may_cut && (has_val = H5Lexists(file, "/val", H5P_DEFAULT)) < 0)
        st = fc_error_set(FC_ERR_INPUT, "%s: /val: cannot look up (%s)", path, h5_detail(&detail));
    const int cut_from_train = may_cut && has_val == 0;
    if (st == FC_OK) st = source_open(&src, &present, file, path, cut_from_train ? "train" : name, 1);
    if (st == FC_OK) st = require_rows(&src, path, 0);
    int64_t row0 = 0, rows = src.n;
    if (st == FC_OK && cut_from_train) {
        int64_t n_holdout = 0;
        st = holdout_rows(&n_holdout, path, val_size, src.n);
        row0 = is_val ? src.n - n_holdout : 0;
        rows = is_val ? n_holdout : src.n - n_holdout;
    }
    if (st == FC_OK) {
        int64_t begin, count, max_label = -1;
        double held = 0;
        fc_dist_slice(rows, index, parts, &begin, &count);
        info->split_rows = rows;
        info->first = begin;
        info->train_rows = cut_from_train ? src.n : -1;
        st = split_read(part, &max_label, &held, &src, row0 + begin, count, num_classes, NULL, NULL);
        info->n_classes = num_classes > 0 ? num_classes : (int)(max_label + 1);
    }
    source_close(&src);
    if (file >= 0) H5Fclose(file);
    fc_read_guard_end();
    fc_h5_quiet_end(&quiet);
    return st;
}

fc_status fc_data_load_split(fc_split *split, int *n_classes, const char *path, const char *name)
{
    fc_part_info info;
    const fc_status st = read_part(split, &info, path, name, 0, 0, 1, 0);
    if (n_classes) *n_classes = st == FC_OK ? info.n_classes : 0;
    return st;
}

fc_status fc_data_load_part(fc_split *part, fc_part_info *info, const char *path, const char *name, double val_size,
                            int index, int parts)
{
    return read_part(part, info, path, name, val_size, index, parts, 1);
}

fc_status fc_data_require_classes(const char *path, int n_classes)
{
    if (n_classes >= 2) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s: 1 class (the num_classes attribute, or every label is 0): training and "
                        "gradcheck need at least 2",
                        path);
}

uint64_t fc_split_fingerprint(const fc_split *split, uint64_t h)
{
    const size_t n = split->n > 0 ? (size_t)split->n : 0;
    h = fc_hash_large(n ? split->x : NULL, n * (size_t)split->d * sizeof(fc_real), h);
    return fc_hash_large(n ? split->y : NULL, n * sizeof(int32_t), h);
}

uint64_t fc_data_fingerprint(const fc_dataset *ds)
{
    return fc_split_fingerprint(&ds->val, fc_split_fingerprint(&ds->train, 0));
}

void fc_split_free(fc_split *split)
{
    if (!split) return;
    if (!split->borrowed) {
        fc_free(split->x);
        fc_free(split->y);
    }
    memset(split, 0, sizeof *split);
}

void fc_data_free(fc_dataset *ds)
{
    if (!ds) return;
    fc_split_free(&ds->train);
    fc_split_free(&ds->val);
    fc_split_free(&ds->test);
    memset(ds, 0, sizeof *ds);
}

/* ---- public: preprocessing ---- */

/* Feature j's largest magnitude in the split. */
static double column_max_abs(const fc_split *split, size_t j)
{
    double m = 0;
    for (int64_t i = 0; i < split->n; i++)
        m = fmax(m, fabs((double)split->x[(size_t)i * (size_t)split->d + j]));
    return m;
}

/* The mean and biased std of feature j from its values divided by their largest magnitude m (each then in
 * [-1, 1]), scaled back by m: finite for any finite data. Only for a feature whose plain double sums
 * overflowed (the double build's values near 1e308 for the mean, beyond 1e154 for the std, which made the
 * std Inf: every value standardized to 0 and a checkpoint that --resume and eval refused), so every other
 * feature keeps its bits. */
static double scaled_mean(const fc_split *split, size_t j)
{
    const double m = column_max_abs(split, j);
    double sum = 0;
    for (int64_t i = 0; i < split->n; i++) sum += (double)split->x[(size_t)i * (size_t)split->d + j] / m;
    return sum / (double)split->n * m;
}

static double scaled_std(const fc_split *split, size_t j, double mean)
{
    const double m = column_max_abs(split, j);
    double sum = 0;
    for (int64_t i = 0; i < split->n; i++) {
        const double c = (double)split->x[(size_t)i * (size_t)split->d + j] / m - mean / m;
        sum += c * c;
    }
    return sqrt(sum / (double)split->n) * m;
}

void fc_preprocess_fit(fc_preprocess *pp, fc_preprocess_kind kind, const fc_split *train)
{
    FC_ASSERT(pp && train);
    FC_ASSERT(kind == FC_PRE_NONE || kind == FC_PRE_CENTER || kind == FC_PRE_STANDARDIZE);
    memset(pp, 0, sizeof *pp);
    pp->kind = kind;
    pp->d = train->d;
    if (kind == FC_PRE_NONE) return;
    const size_t d = (size_t)train->d;
    const int64_t n = train->n;
    pp->mean = fc_alloc(d * sizeof *pp->mean);
    /* Rows outer, features inner: one pass over x in memory order; double sums so 55000 uint8-scaled
     * rows lose nothing to float accumulation. */
    for (int64_t i = 0; i < n; i++) {
        const fc_real *row = train->x + (size_t)i * d;
        for (size_t j = 0; j < d; j++) pp->mean[j] += (double)row[j];
    }
    for (size_t j = 0; n > 0 && j < d; j++)
        pp->mean[j] = isfinite(pp->mean[j]) ? pp->mean[j] / (double)n : scaled_mean(train, j);
    if (kind != FC_PRE_STANDARDIZE) return;

    /* Two-pass biased variance (divide by n, as numpy's std): no cancellation from E[x^2] - E[x]^2. */
    pp->std = fc_alloc(d * sizeof *pp->std);
    for (int64_t i = 0; i < n; i++) {
        const fc_real *row = train->x + (size_t)i * d;
        for (size_t j = 0; j < d; j++) {
            const double c = (double)row[j] - pp->mean[j];
            pp->std[j] += c * c;
        }
    }
    for (size_t j = 0; j < d; j++) {
        double s = n > 0 ? sqrt(pp->std[j] / (double)n) : 0.0;
        if (!isfinite(s)) s = scaled_std(train, j, pp->mean[j]);
        /* Constant features (MNIST's border pixels) would divide by ~0: leave them centred only. */
        pp->std[j] = s < FC_PREPROCESS_MIN_STD ? 1.0 : s;
    }
}

void fc_preprocess_apply(const fc_preprocess *pp, fc_split *split)
{
    FC_ASSERT(pp && split);
    if (pp->kind == FC_PRE_NONE) return;
    FC_ASSERT(split->d == pp->d && pp->mean);
    const size_t d = (size_t)split->d;
    for (int64_t i = 0; i < split->n; i++) {
        fc_real *row = split->x + (size_t)i * d;
        /* Computed in double and rounded once, as numpy does for float32 x against a float64 mean. */
        if (pp->std)
            for (size_t j = 0; j < d; j++) row[j] = (fc_real)(((double)row[j] - pp->mean[j]) / pp->std[j]);
        else
            for (size_t j = 0; j < d; j++) row[j] = (fc_real)((double)row[j] - pp->mean[j]);
    }
}

void fc_preprocess_free(fc_preprocess *pp)
{
    if (!pp) return;
    fc_free(pp->mean);
    fc_free(pp->std);
    memset(pp, 0, sizeof *pp);
}

static const char *const preprocess_names[] = {"none", "center", "standardize"};

const char *fc_preprocess_name(fc_preprocess_kind kind)
{
    FC_ASSERT(kind >= FC_PRE_NONE && kind <= FC_PRE_STANDARDIZE);
    return preprocess_names[kind];
}

int fc_preprocess_parse(const char *name)
{
    if (!name) return -1;
    for (int k = FC_PRE_NONE; k <= FC_PRE_STANDARDIZE; k++)
        if (strcmp(name, preprocess_names[k]) == 0) return k;
    return -1;
}

/* ---- public: order and gather ---- */

void fc_data_epoch_order(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch, int shuffle)
{
    FC_ASSERT(n >= 0 && (perm || n == 0) && epoch >= 0);
    if (shuffle) {
        fc_rng_permutation(perm, n, seed, FC_RNG_PERM, (uint64_t)epoch);
    } else {
        for (int64_t i = 0; i < n; i++) perm[i] = i;
    }
}

void fc_data_gather(fc_real *x, int32_t *y, const fc_split *split, const int64_t *idx, int64_t count)
{
    FC_ASSERT(split && (count == 0 || (x && y && idx)));
    const size_t d = (size_t)split->d;
    /* The rows are scattered over the whole split, so each copy would start with cache misses the hardware
     * prefetcher cannot foresee (it follows a row once it has seen a few lines): ask for the first lines of
     * the row PREFETCH_AHEAD rows on while copying this one. */
    enum { PREFETCH_AHEAD = 4, PREFETCH_LINES = 8, LINE = 64 };
    const size_t row_bytes = d * sizeof *x;
    const size_t head = row_bytes < PREFETCH_LINES * LINE ? row_bytes : PREFETCH_LINES * LINE;
    for (int64_t i = 0; i < count; i++) {
        if (i + PREFETCH_AHEAD < count) {
            const char *next = (const char *)(split->x + (size_t)idx[i + PREFETCH_AHEAD] * d);
            for (size_t b = 0; b < head; b += LINE) __builtin_prefetch(next + b, 0, 0);
        }
        const int64_t r = idx[i];
        FC_ASSERT(r >= 0 && r < split->n);
        memcpy(x + (size_t)i * d, split->x + (size_t)r * d, row_bytes);
        y[i] = split->y[r];
    }
}
