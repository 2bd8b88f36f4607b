/* Dataset loading (the README's Datasets section): values per stored type, labels per integer type, num_classes, the
 * hold-out, chunked reads, preprocessing statistics, the epoch order, the batch gather, and the
 * one-line FC_ERR_INPUT messages for malformed files. Every file is written here with the HDF5 C API
 * into a fresh temporary directory. */
/* mkdtemp and nftw are POSIX, hidden by -std=c11 otherwise. */
#define _XOPEN_SOURCE 700

#include <check.h>
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcnet/data.h"
#include "fcnet/dist.h"
#include "fcnet/h5contained.h"
#include "fcnet/memory_limits.h"
#include "fcnet/rng.h"
#include "testutil.h"

/* OpenBLAS's own calls, which Debian's cblas.h declares and not every build's does. */
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int n);

/* ---- temporary directory and HDF5 writers ---- */

static char tmp_dir[256];

static void tmp_setup(void)
{
    fct_tmp_template(tmp_dir, sizeof tmp_dir, "fcnet_test_data_");
    ck_assert_msg(mkdtemp(tmp_dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmp_teardown(void)
{
    if (tmp_dir[0]) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_dir[0] = '\0';
}

/* tmp_dir/name in one of a few rotating static buffers. */
static const char *tmp_path(const char *name)
{
    static char bufs[4][512];
    static int next = 0;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir, name);
    return b;
}

static hid_t h5_create(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot create %s", path);
    return f;
}

/* Writes dataset name (intermediate groups created) of file_type from data laid out as mem_type. */
static void h5_put(hid_t f, const char *name, hid_t file_type, hid_t mem_type, int rank, const hsize_t *dims,
                   const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "cannot create dataset %s", name);
    ck_assert(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(lcpl);
}

static void h5_put_x(hid_t f, const char *name, hid_t file_type, int64_t n, int d, const double *x)
{
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)d};
    h5_put(f, name, file_type, H5T_NATIVE_DOUBLE, 2, dims, x);
}

static void h5_put_y(hid_t f, const char *name, hid_t file_type, int64_t n, const int64_t *y)
{
    hsize_t dims[1] = {(hsize_t)n};
    h5_put(f, name, file_type, H5T_NATIVE_INT64, 1, dims, y);
}

static void h5_attr_int(hid_t f, const char *name, hid_t file_type, long long value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0);
    ck_assert(H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0);
    H5Aclose(a);
    H5Sclose(space);
}

/* A split with x[i][j] = base + i + j / 8 (exact in float) and y[i] = i % classes. */
static void put_split(hid_t f, const char *group, hid_t x_type, hid_t y_type, int64_t n, int d, double base,
                      int classes)
{
    double *x = malloc((size_t)(n * d + 1) * sizeof *x);
    int64_t *y = malloc((size_t)(n + 1) * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) x[i * d + j] = base + (double)i + (double)j / 8.0;
        y[i] = i % classes;
    }
    char name[64];
    snprintf(name, sizeof name, "/%s/x", group);
    h5_put_x(f, name, x_type, n, d, x);
    snprintf(name, sizeof name, "/%s/y", group);
    h5_put_y(f, name, y_type, n, y);
    free(x);
    free(y);
}

/* train 10x3 float32 (base 0), val 4x3 (base 100), test 5x3 (base 200), labels i % 4. */
static const char *write_standard(const char *name, int with_val, int with_test, int num_classes)
{
    const char *path = tmp_path(name);
    hid_t f = h5_create(path);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 10, 3, 0.0, 4);
    if (with_val) put_split(f, "val", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 100.0, 4);
    if (with_test) put_split(f, "test", H5T_IEEE_F32LE, H5T_STD_I32LE, 5, 3, 200.0, 4);
    if (num_classes) h5_attr_int(f, "num_classes", H5T_STD_I64LE, num_classes);
    H5Fclose(f);
    return path;
}

static void check_split_values(const fc_split *s, int64_t n, int d, double base, int64_t row0, int classes)
{
    ck_assert_int_eq(s->n, n);
    ck_assert_int_eq(s->d, d);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) {
            double want = base + (double)(row0 + i) + (double)j / 8.0;
            ck_assert_msg((double)s->x[i * d + j] == want, "x[%lld][%d] = %g, want %g", (long long)i, j,
                          (double)s->x[i * d + j], want);
        }
        ck_assert_int_eq(s->y[i], (row0 + i) % classes);
    }
}

/* ---- values and types ---- */

START_TEST(test_load_float32_with_all_splits)
{
    const char *path = write_standard("std.h5", 1, 1, 6);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0.1), FC_OK);
    ck_assert_str_eq(ds.path, path);
    ck_assert_int_eq(ds.n_features, 3);
    ck_assert_int_eq(ds.n_classes, 6); /* the attribute wins over max label + 1 = 4 */
    ck_assert_int_eq(ds.val_from_file, 1);
    check_split_values(&ds.train, 10, 3, 0.0, 0, 4); /* val_size is ignored when /val exists */
    check_split_values(&ds.val, 4, 3, 100.0, 0, 4);
    check_split_values(&ds.test, 5, 3, 200.0, 0, 4);
    ck_assert_uint_eq((uintptr_t)ds.train.x % 64, 0);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    fc_data_free(&ds);
    ck_assert_ptr_null(ds.train.x);
    ck_assert_int_eq(ds.train.n, 0);
    fc_data_free(&ds); /* a zeroed struct is accepted */
}
END_TEST

/* The fingerprint that the ranks and a resume compare (train.c, ckpt.c): one bit of any value or label of the
 * training or validation rows changes it (the elements past the hash's 32-byte blocks too), the test rows do
 * not, and the same rows give the same fingerprint wherever they lie in memory. */
static void flip_and_check(fc_dataset *ds, unsigned char *byte, uint64_t h, const char *what, size_t k)
{
    for (int bit = 0; bit < 8; bit += 7) { /* the lowest and the highest bit of the byte */
        *byte ^= (unsigned char)(1u << bit);
        ck_assert_msg(fc_data_fingerprint(ds) != h, "%s %zu: bit %d left out of the fingerprint", what, k, bit);
        *byte ^= (unsigned char)(1u << bit);
    }
}

START_TEST(test_fingerprint)
{
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, write_standard("fingerprint.h5", 1, 1, 0), 0), FC_OK);
    const uint64_t h = fc_data_fingerprint(&ds);
    fc_split *splits[2] = {&ds.train, &ds.val};
    const char *names[2][2] = {{"train x", "train y"}, {"val x", "val y"}};
    for (int s = 0; s < 2; s++) {
        const size_t nx = (size_t)splits[s]->n * (size_t)splits[s]->d;
        for (size_t k = 0; k < nx; k++) {
            flip_and_check(&ds, (unsigned char *)&splits[s]->x[k], h, names[s][0], k);
            flip_and_check(&ds, (unsigned char *)&splits[s]->x[k] + sizeof(fc_real) - 1, h, names[s][0], k);
        }
        for (size_t k = 0; k < (size_t)splits[s]->n; k++) {
            flip_and_check(&ds, (unsigned char *)&splits[s]->y[k], h, names[s][1], k);
            flip_and_check(&ds, (unsigned char *)&splits[s]->y[k] + sizeof(int32_t) - 1, h, names[s][1], k);
        }
    }
    ck_assert_uint_eq(fc_data_fingerprint(&ds), h);
    ds.test.x[ds.test.n * ds.test.d - 1] += 1; /* the test rows do not decide training */
    ds.test.y[0] += 1;
    ck_assert_uint_eq(fc_data_fingerprint(&ds), h);
    /* The training rows moved one element off the loader's 64-byte alignment: the same fingerprint. */
    const size_t nx = (size_t)ds.train.n * (size_t)ds.train.d;
    fc_real *moved = malloc((nx + 1) * sizeof *moved);
    ck_assert_ptr_nonnull(moved);
    memcpy(moved + 1, ds.train.x, nx * sizeof *moved);
    fc_real *loaded = ds.train.x;
    ds.train.x = moved + 1;
    ck_assert_uint_eq(fc_data_fingerprint(&ds), h);
    /* One training row fewer: other data, though every remaining byte is the same. */
    ds.train.x = loaded;
    ds.train.n -= 1;
    ck_assert_uint_ne(fc_data_fingerprint(&ds), h);
    ds.train.n += 1;
    free(moved);
    fc_data_free(&ds);
}
END_TEST

/* Soft links inside the file are followed (h5py and other writers use them to share data between names); an
 * external link anywhere in the file, even one no split uses, makes the whole file refused (h5contained.h). */
START_TEST(test_soft_links_kept_external_refused)
{
    const char *path = tmp_path("soft.h5");
    hid_t f = h5_create(path);
    put_split(f, "store", H5T_IEEE_F32LE, H5T_STD_I32LE, 10, 3, 0.0, 4);
    ck_assert_int_ge(H5Lcreate_soft("/store", f, "/train", H5P_DEFAULT, H5P_DEFAULT), 0);
    put_split(f, "val", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 100.0, 4);
    ck_assert_int_ge(H5Lcreate_soft("/val/x", f, "/val_x_alias", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(f);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_OK);
    check_split_values(&ds.train, 10, 3, 0.0, 0, 4);
    check_split_values(&ds.val, 4, 3, 100.0, 0, 4);
    fc_data_free(&ds);

    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(H5Lcreate_external("other.h5", "/provenance", f, "/meta_raw", H5P_DEFAULT, H5P_DEFAULT), 0);
    H5Fclose(f);
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(fc_error_message(), "/meta_raw: an external link (to other.h5:/provenance)"));
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}
END_TEST

/* A file whose root group's links sit in a damaged object-header continuation block: the listing fails inside
 * HDF5, before any link is seen, and fc_h5_foreign_object must say why itself, whatever the caller's buffer held
 * (the callers pass uninitialised stack buffers). */
START_TEST(test_foreign_object_reason_of_a_damaged_listing)
{
    const char *path = tmp_path("continuation.h5");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110); /* checksummed headers, as fcnet writes */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    ck_assert_int_ge(f, 0);
    /* Attributes first fill the root header's first chunk, so the links written after them need a continuation
     * (few and large: more than 8 would move to dense storage, outside the header). */
    const hsize_t len = 64;
    double values[64];
    for (int j = 0; j < 64; j++) values[j] = j;
    hid_t space = H5Screate_simple(1, &len, NULL);
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "filler%d", i);
        hid_t a = H5Acreate2(f, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_DOUBLE, values), 0);
        H5Aclose(a);
    }
    H5Sclose(space);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 0.0, 2);
    H5Fclose(f);

    /* Flip a byte inside the first continuation block's messages (past its "OCHK" signature and version). */
    FILE *fp = fopen(path, "r+b");
    ck_assert_ptr_nonnull(fp);
    long at = -1, pos = 0;
    char window[4] = {0};
    for (int c; at < 0 && (c = fgetc(fp)) != EOF; pos++) {
        memmove(window, window + 1, 3);
        window[3] = (char)c;
        if (memcmp(window, "OCHK", 4) == 0) at = pos - 3;
    }
    ck_assert_msg(at >= 0, "no continuation block in %s", path);
    ck_assert_int_eq(fseek(fp, at + 6, SEEK_SET), 0);
    const int byte = fgetc(fp);
    ck_assert_int_eq(fseek(fp, at + 6, SEEK_SET), 0);
    fputc(byte ^ 0x5a, fp);
    ck_assert_int_eq(fclose(fp), 0);

    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    ck_assert_int_ge(f, 0); /* the root header's first chunk is intact */
    char object[256], reason[512];
    memset(object, 'X', sizeof object - 1);
    object[sizeof object - 1] = '\0';
    memset(reason, 'X', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    const int r = fc_h5_foreign_object(f, object, sizeof object, reason, sizeof reason);
    H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    H5Pclose(fapl);
    ck_assert_int_eq(r, -1);
    ck_assert_msg(reason[0] != 'X' && strstr(reason, "checksum") != NULL, "reason: '%.80s'", reason);
}
END_TEST

START_TEST(test_load_uint8_scaled)
{
    const char *path = tmp_path("u8.h5");
    hid_t f = h5_create(path);
    enum { N = 4, D = 64 };
    unsigned char x[N * D];
    uint8_t y[N] = {0, 9, 3, 255};
    for (int i = 0; i < N * D; i++) x[i] = (unsigned char)(i % 256);
    hsize_t dx[2] = {N, D}, dy[1] = {N};
    h5_put(f, "/train/x", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, dx, x);
    h5_put(f, "/train/y", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, dy, y);
    H5Fclose(f);

    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_OK);
    ck_assert_int_eq(ds.train.n, N);
    ck_assert_int_eq(ds.val.n, 0);
    ck_assert_int_eq(ds.test.n, 0);
    ck_assert_int_eq(ds.n_classes, 256);
    for (int i = 0; i < N * D; i++) {
        /* float32(v) / 255 in float is the correctly rounded quotient: the same bits as numpy's */
        fc_real want = (fc_real)x[i] / (fc_real)255;
        ck_assert_msg(ds.train.x[i] == want, "x[%d] = %.9g want %.9g", i, (double)ds.train.x[i], (double)want);
    }
    ck_assert(ds.train.x[255] == 1);
    for (int i = 0; i < N; i++) ck_assert_int_eq(ds.train.y[i], y[i]);
    fc_data_free(&ds);

    /* int8 is not pixels: converted as is, negative values kept, no scaling */
    const char *p8 = tmp_path("i8.h5");
    f = h5_create(p8);
    const signed char sx[2 * 3] = {-3, 100, 127, -128, 0, 1};
    hsize_t sdx[2] = {2, 3}, sdy[1] = {2};
    h5_put(f, "/train/x", H5T_STD_I8LE, H5T_NATIVE_SCHAR, 2, sdx, sx);
    h5_put(f, "/train/y", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, sdy, y);
    H5Fclose(f);
    ck_assert_int_eq(fc_data_load(&ds, p8, 0), FC_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_msg((double)ds.train.x[i] == (double)sx[i], "int8 x[%d] = %g want %d", i, (double)ds.train.x[i],
                      sx[i]);
    fc_data_free(&ds);
}
END_TEST

START_TEST(test_load_float64_and_label_types)
{
    /* float64 x with int64 y in train, int8 y in val, int16 y in test, uint8 y elsewhere above */
    const char *path = tmp_path("f64.h5");
    hid_t f = h5_create(path);
    put_split(f, "train", H5T_IEEE_F64LE, H5T_STD_I64LE, 7, 2, 0.5, 3);
    put_split(f, "val", H5T_IEEE_F64BE, H5T_STD_I8LE, 3, 2, 10.5, 3);
    put_split(f, "test", H5T_STD_I16LE, H5T_STD_I16BE, 6, 2, 0.0, 5); /* int16 x: converted as is */
    H5Fclose(f);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_OK);
    check_split_values(&ds.train, 7, 2, 0.5, 0, 3);
    check_split_values(&ds.val, 3, 2, 10.5, 0, 3);
    ck_assert_int_eq(ds.test.n, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert((double)ds.test.x[i * 2] == (double)i); /* j/8 truncated when written as int16 */
        ck_assert_int_eq(ds.test.y[i], i % 5);
    }
    ck_assert_int_eq(ds.n_classes, 5); /* max label over all splits (4, in test) + 1 */
    fc_data_free(&ds);
}
END_TEST

START_TEST(test_load_split_only)
{
    const char *path = write_standard("split.h5", 1, 1, 0);
    fc_split s;
    int n_classes = -1;
    ck_assert_int_eq(fc_data_load_split(&s, &n_classes, path, "test"), FC_OK);
    check_split_values(&s, 5, 3, 200.0, 0, 4);
    ck_assert_int_eq(n_classes, 4);
    fc_split_free(&s);
    ck_assert_ptr_null(s.x);
    fc_split_free(&s);

    const char *no_val = write_standard("split_noval.h5", 0, 0, 0);
    ck_assert_int_eq(fc_data_load_split(&s, NULL, no_val, "val"), FC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(fc_error_message(), "/val"));
    ck_assert_ptr_nonnull(strstr(fc_error_message(), "missing"));
    ck_assert_ptr_null(s.x);
}
END_TEST

/* fc_data_load_part: the parts of every split, over 1 to 7 parts, are the split's rows in order, cut as
 * training cut them; only the part's rows are read (a NaN elsewhere in the file does not matter). */
START_TEST(test_load_part)
{
    const char *with_val = write_standard("part_val.h5", 1, 1, 0);
    const char *no_val = write_standard("part_noval.h5", 0, 1, 0);
    const struct {
        const char *path, *name;
        double val_size;
        int64_t rows, row0, train_rows;
        double base;
    } cases[] = {{with_val, "test", 0.3, 5, 0, -1, 200.0}, {with_val, "val", 0.3, 4, 0, -1, 100.0},
                 {with_val, "train", 0.3, 10, 0, -1, 0.0}, {no_val, "val", 0.3, 3, 7, 10, 0.0},
                 {no_val, "train", 0.3, 7, 0, 10, 0.0},    {no_val, "test", 0.3, 5, 0, -1, 200.0},
                 {no_val, "train", 0, 10, 0, 10, 0.0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int parts = 1; parts <= 7; parts++) {
            int64_t next = 0;
            for (int index = 0; index < parts; index++) {
                fc_split part;
                fc_part_info info;
                ck_assert_msg(fc_data_load_part(&part, &info, cases[c].path, cases[c].name, cases[c].val_size, index,
                                                parts) == FC_OK,
                              "%s %d/%d: %s", cases[c].name, index, parts, fc_error_message());
                ck_assert_int_eq(info.split_rows, cases[c].rows);
                ck_assert_int_eq(info.train_rows, cases[c].train_rows);
                ck_assert_int_eq(info.first, next);
                ck_assert_int_eq(part.d, 3);
                int64_t begin, count;
                fc_dist_slice(cases[c].rows, index, parts, &begin, &count);
                ck_assert_int_eq(part.n, count);
                check_split_values(&part, count, 3, cases[c].base, cases[c].row0 + begin, 4);
                int64_t max_label = -1; /* no num_classes attribute: the part's largest label + 1 */
                for (int64_t i = 0; i < part.n; i++)
                    if (part.y[i] > max_label) max_label = part.y[i];
                ck_assert_int_eq(info.n_classes, (int)(max_label + 1));
                next += part.n;
                fc_split_free(&part);
            }
            ck_assert_int_eq(next, cases[c].rows);
        }
    }

    /* A hold-out of none: no error here, 0 rows (eval says why). */
    fc_split part;
    fc_part_info info;
    ck_assert_int_eq(fc_data_load_part(&part, &info, no_val, "val", 0, 0, 2), FC_OK);
    ck_assert_int_eq(info.split_rows, 0);
    ck_assert_int_eq(part.n, 0);
    fc_split_free(&part);
    /* The class count from the attribute when there is one. */
    const char *attr = write_standard("part_attr.h5", 0, 1, 9);
    ck_assert_int_eq(fc_data_load_part(&part, &info, attr, "test", 0, 4, 5), FC_OK);
    ck_assert_int_eq(info.n_classes, 9);
    fc_split_free(&part);
    ck_assert_int_eq(fc_data_load_part(&part, &info, with_val, "nosuch", 0, 0, 1), FC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(fc_error_message(), "/nosuch: missing group"));

    /* A NaN in /train's row 1: the hold-out and the part without row 1 read fine, the part with it names it. */
    double x[10 * 2];
    int64_t y[10];
    for (int i = 0; i < 10; i++) {
        x[2 * i] = x[2 * i + 1] = i;
        y[i] = i % 2;
    }
    x[3] = (double)NAN;
    const char *nan_path = tmp_path("part_nan.h5");
    hid_t f = h5_create(nan_path);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 10, y);
    H5Fclose(f);
    ck_assert_int_eq(fc_data_load_part(&part, &info, nan_path, "val", 0.5, 0, 1), FC_OK);
    ck_assert_int_eq(part.n, 5);
    fc_split_free(&part);
    ck_assert_int_eq(fc_data_load_part(&part, &info, nan_path, "train", 0.5, 1, 2), FC_OK);
    fc_split_free(&part);
    ck_assert_int_eq(fc_data_load_part(&part, &info, nan_path, "train", 0.5, 0, 2), FC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(fc_error_message(), "/train/x: NaN at row 1, column 1"));
    ck_assert_ptr_null(part.x);
}
END_TEST

/* ---- hold-out ---- */

START_TEST(test_holdout_fraction_and_count)
{
    const char *path = write_standard("holdout.h5", 0, 1, 0);
    const struct {
        double val_size;
        int64_t n_val;
    } cases[] = {{0.25, 2}, {0.1, 1}, {0.19, 1}, {0, 0}, {3, 3}, {3.7, 3}, {9, 9}, {0.95, 9},
                   {1, 1}, {1.0000001, 1}}; /* 1 is a row count (one row), not the fraction 100% */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fc_dataset ds;
        ck_assert_msg(fc_data_load(&ds, path, cases[c].val_size) == FC_OK, "val_size %g: %s", cases[c].val_size,
                      fc_error_message());
        ck_assert_int_eq(ds.val_from_file, 0);
        ck_assert_msg(ds.val.n == cases[c].n_val, "val_size %g: %lld rows held out, want %lld", cases[c].val_size,
                      (long long)ds.val.n, (long long)cases[c].n_val);
        /* the last rows, in file order, not shuffled */
        check_split_values(&ds.train, 10 - cases[c].n_val, 3, 0.0, 0, 4);
        if (cases[c].n_val > 0) check_split_values(&ds.val, cases[c].n_val, 3, 0.0, 10 - cases[c].n_val, 4);
        else ck_assert_ptr_null(ds.val.x);
        check_split_values(&ds.test, 5, 3, 200.0, 0, 4);
        fc_data_free(&ds);
    }
    /* A fraction that rounds to no row would turn validation off without a word: refused, 0 is the way to ask. */
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0.05), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "holdout.h5: /train: val_size 0.05 holds out 0 of 10 rows"), "%s",
                  fc_error_message());
}
END_TEST

/* Without num_classes, n_classes is the largest label + 1 over every split read: one only in the held-out
 * rows of /train, or only in /val, still counts. */
START_TEST(test_n_classes_from_every_split)
{
    double x[2 * 10] = {0};
    int64_t y[10] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 5}; /* 5: in the last row, held out below */
    const char *p = tmp_path("max_in_holdout.h5");
    hid_t f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 10, y);
    H5Fclose(f);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, p, 0), FC_OK);
    ck_assert_int_eq(ds.n_classes, 6);
    fc_data_free(&ds);
    ck_assert_int_eq(fc_data_load(&ds, p, 1), FC_OK);
    ck_assert_int_eq(ds.train.n, 9);
    ck_assert_int_eq(ds.val.n, 1);
    ck_assert_int_eq(ds.val.y[0], 5);
    ck_assert_int_eq(ds.n_classes, 6);
    fc_data_free(&ds);

    p = tmp_path("max_in_val.h5");
    f = h5_create(p);
    y[9] = 2;
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 10, y);
    int64_t vy[3] = {1, 7, 0};
    h5_put_x(f, "/val/x", H5T_IEEE_F32LE, 3, 2, x);
    h5_put_y(f, "/val/y", H5T_STD_I32LE, 3, vy);
    H5Fclose(f);
    ck_assert_int_eq(fc_data_load(&ds, p, 0), FC_OK);
    ck_assert_int_eq(ds.val_from_file, 1);
    ck_assert_int_eq(ds.n_classes, 8);
    fc_data_free(&ds);
}
END_TEST

/* Large enough that x (3000 features) and y (70000 rows) are read in several chunks, with the
 * hold-out boundary inside a chunk. */
START_TEST(test_chunked_reads)
{
    const char *path = tmp_path("chunks.h5");
    hid_t f = h5_create(path);
    enum { N = 500, D = 3000, NY = 70000 };
    unsigned char *x = malloc((size_t)N * D);
    int64_t *y = malloc(NY * sizeof *y);
    for (size_t i = 0; i < (size_t)N * D; i++) x[i] = (unsigned char)((i * 7u + i / D) % 251u);
    for (int i = 0; i < NY; i++) y[i] = (i * 13) % 10;
    /* the largest label only in the last label chunk (rows 65536 on): n_classes counts every chunk's labels */
    y[NY - 1] = 10;
    hsize_t dx[2] = {N, D}, dy[1] = {N};
    h5_put(f, "/train/x", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, dx, x);
    h5_put(f, "/train/y", H5T_STD_U8LE, H5T_NATIVE_INT64, 1, dy, y);
    H5Fclose(f);
    /* tall and thin: many label chunks */
    const char *tall = tmp_path("tall.h5");
    f = h5_create(tall);
    double *tx = malloc(NY * sizeof *tx);
    for (int i = 0; i < NY; i++) tx[i] = (double)i;
    h5_put_x(f, "/test/x", H5T_IEEE_F32LE, NY, 1, tx);
    h5_put_y(f, "/test/y", H5T_STD_I32LE, NY, y);
    H5Fclose(f);

    fc_dataset ds;
    ck_assert_msg(fc_data_load(&ds, path, 0.3) == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(ds.train.n, 350);
    ck_assert_int_eq(ds.val.n, 150);
    /* count mismatches and assert once: a Check assertion per element is slow in CK_NOFORK mode */
    size_t bad = 0, first_bad = SIZE_MAX;
    for (size_t i = 0; i < (size_t)N * D; i++) {
        const fc_real got = i < 350u * D ? ds.train.x[i] : ds.val.x[i - 350u * D];
        if (got != (fc_real)x[i] / (fc_real)255 && bad++ == 0) first_bad = i;
    }
    ck_assert_msg(bad == 0, "%zu x elements differ, first %zu", bad, first_bad);
    for (int i = 0; i < N; i++) bad += (i < 350 ? ds.train.y[i] : ds.val.y[i - 350]) != y[i];
    fc_data_free(&ds);
    fc_split test;
    int n_classes = 0;
    ck_assert_msg(fc_data_load_split(&test, &n_classes, tall, "test") == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(test.n, NY);
    ck_assert_int_eq(n_classes, 11);
    for (int i = 0; i < NY; i++) bad += (double)test.x[i] != (double)i || test.y[i] != y[i];
    ck_assert_msg(bad == 0, "%zu labels or test values differ", bad);
    fc_split_free(&test);
    free(x);
    free(y);
    free(tx);
}
END_TEST

/* This process's address space in use (VmSize), in bytes. */
static double address_space_used(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert(f != NULL);
    ck_assert_int_eq(fscanf(f, "%llu", &pages), 1);
    fclose(f);
    return (double)pages * (double)sysconf(_SC_PAGE_SIZE);
}

/* Sets this child's ulimit -v to bytes, soft and hard: lowering the hard limit needs no privilege, raising it (to
 * RLIM_INFINITY, say, under a hard ulimit -v) does. Exits 77 (skipped) where it cannot, or where a ulimit -d
 * might refuse first. */
static void limit_address_space(double bytes)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) != 0 || rl.rlim_cur != RLIM_INFINITY) _exit(77);
    rl.rlim_cur = rl.rlim_max = (rlim_t)bytes;
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(77);
}

/* The child of test_address_space_limit: loads path under ulimit -v of what it uses, the train split's bytes
 * (arg), OpenBLAS's 128 MiB, the 4 MiB read buffer and half the split again; exits 0 when it loaded. */
static void load_under_limit(const void *arg)
{
    const double split = *(const double *)arg;
    limit_address_space(address_space_used() + 1.5 * split + 132.0 * 1048576.0);
    fc_dataset ds;
    const fc_status st = fc_data_load(&ds, tmp_path("limit.h5"), 0);
    if (st != FC_OK) fprintf(stderr, "%s\n", fc_error_message());
    _exit(st == FC_OK ? 0 : 1);
}

/* The child of test_address_space_limit: a limit lowered below what the process uses leaves it nothing. */
static void check_limit_below_use(const void *arg)
{
    (void)arg;
    limit_address_space(address_space_used() / 2);
    char why[256] = "";
    const int exceeded = fc_memory_exceeded(1.0, why, sizeof why);
    fprintf(stderr, "%s\n", why);
    _exit(exceeded ? 0 : 1);
}

/* A per-process address-space limit (ulimit -v) meets what is still to be allocated: the splits read before
 * are in the process's use already, and counting them again refused a val split that fits (a 1 GB /train
 * needed 2 GB of limit). A limit lowered below the use (prlimit on a running process) leaves nothing: it was
 * taken for no limit at all. Skipped under a hard ulimit -v too low to set the one wanted, or a ulimit -d. */
START_TEST(test_address_space_limit)
{
    enum { N = 32768, D = 512 };
    hid_t f = h5_create(tmp_path("limit.h5"));
    float *x = calloc((size_t)N * D, sizeof *x);
    int32_t *y = calloc(N, sizeof *y);
    ck_assert(x != NULL && y != NULL);
    hsize_t dx[2] = {N, D}, dy[1] = {N};
    h5_put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dx, x);
    h5_put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dy, y);
    dx[0] = dy[0] = 10;
    h5_put(f, "/val/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dx, x);
    h5_put(f, "/val/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dy, y);
    H5Fclose(f);
    free(x);
    free(y);
    const double split = (double)N * D * sizeof(fc_real);
    fct_child r = fct_run_child(load_under_limit, &split);
    if (r.exited && r.code == 77) return; /* a hard ulimit -v below the one needed, or a ulimit -d */
    ck_assert_msg(r.exited && r.code == 0, "exit %d signal %d: %s", r.code, r.signal, r.err);
    r = fct_run_child(check_limit_below_use, NULL);
    ck_assert_msg(r.exited && r.code == 0 && strstr(r.err, "more than the 0 bytes this process's address-space limit "
                                                     "(ulimit -v) leaves it after 128 MiB kept for OpenBLAS"),
                  "exit %d signal %d: '%s'", r.code, r.signal, r.err);
}
END_TEST

/* The child of test_blas_threads_room with one OpenBLAS thread: no worker to wait for, so no limit is refused at
 * the start (the checks before a run's allocations weigh its buffer). */
static void check_one_blas_thread(const void *arg)
{
    (void)arg;
    openblas_set_num_threads(1);
    limit_address_space(address_space_used() + 10.0 * 1048576.0);
    char why[512] = "";
    const int lacking = fc_memory_blas_threads_lack_room(why, sizeof why);
    fprintf(stderr, "%s\n", why);
    _exit(lacking ? 1 : 0);
}

/* The child of test_blas_threads_room: 4 OpenBLAS threads whose 3 workers hold their buffers (384 MiB of the
 * threads' reserve, 128 + 3 x 192 = 704 MiB), then ulimit -v of the use plus 400 MiB (the 320 MiB still needed fit)
 * and plus 300 MiB (they do not; 3 threads' 512 MiB would, with the 384 taken). Exits 0 when both answers are
 * right, the message on stderr. */
static void check_four_blas_threads(const void *arg)
{
    (void)arg;
    const double before = address_space_used(), mib = 1048576.0;
    openblas_set_num_threads(4);
    if (openblas_get_num_threads() != 4) _exit(77);
    /* the workers take their 128 MiB buffers as they start, after the call returns */
    const struct timespec tick = {0, 10000000};
    for (int i = 0; i < 500 && address_space_used() < before + 3 * 128 * mib; i++) nanosleep(&tick, NULL);
    char why[512] = "";
    limit_address_space(address_space_used() + 400 * mib);
    if (fc_memory_blas_threads_lack_room(why, sizeof why)) {
        fprintf(stderr, "refused with 400 MiB left: %s\n", why);
        _exit(1);
    }
    limit_address_space(address_space_used() + 300 * mib);
    const int lacking = fc_memory_blas_threads_lack_room(why, sizeof why);
    fprintf(stderr, "%s\n", why);
    _exit(lacking ? 0 : 1);
}

/* OpenBLAS's worker threads take their buffers as the library loads, and one without room retries forever, holding
 * every exit: fcnet_dist refuses up front where the limit leaves less than what their reserve still needs (the
 * buffers taken already not counted twice, whether a worker took its buffer before main is a race), advising the
 * most threads that fit (test_address_limit.sh runs the program on 2 threads, the most this 2-core machine starts). */
START_TEST(test_blas_threads_room)
{
    fct_child r = fct_run_child(check_one_blas_thread, NULL);
    if (r.exited && r.code == 77) return; /* a hard ulimit -v, or a ulimit -d */
    ck_assert_msg(r.exited && r.code == 0, "one thread: exit %d signal %d: '%s'", r.code, r.signal, r.err);
    r = fct_run_child(check_four_blas_threads, NULL);
    if (r.exited && r.code == 77) return;
    ck_assert_msg(r.exited && r.code == 0 &&
                      strstr(r.err, "this process's address-space limit (ulimit -v) leaves 300 MiB, less than the 320 "
                                    "MiB that OpenBLAS's 4 threads still need for their work buffers (set "
                                    "OPENBLAS_NUM_THREADS=3 or fewer, or raise the limit)"),
                  "four threads: exit %d signal %d: '%s'", r.code, r.signal, r.err);
}
END_TEST

/* Sizes in messages: three significant digits in the largest unit that keeps them at least 1, so that a
 * small need does not read "need 0.0 GiB, more than the 0.00 GiB" as it did. */
START_TEST(test_format_size)
{
    static const struct {
        double bytes;
        const char *text;
    } cases[] = {
        {0, "0 bytes"},           {-5, "0 bytes"},          {1, "1 bytes"},
        {1023, "1023 bytes"},     {1024, "1.00 KiB"},       {1536, "1.50 KiB"},
        {10.25 * 1024, "10.2 KiB"}, {98.04 * 1048576, "98.0 MiB"}, {128 * 1048576.0, "128 MiB"},
        {1.05 * 1073741824.0, "1.05 GiB"}, {23.45 * 1073741824.0, "23.4 GiB"}, {2e13, "18626 GiB"},
        {1e300, "9.31e+290 GiB"},
        /* rounding to three digits reaches the next unit or decade: not "1024 KiB", "100.0 MiB", "10.00 KiB" */
        {1048575, "1.00 MiB"},    {1073741823, "1.00 GiB"}, {1023.7, "1.00 KiB"},
        {99.97 * 1048576, "100 MiB"}, {9.999 * 1024, "10.0 KiB"}, {1023.4 * 1024, "1023 KiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(fc_format_size(cases[i].bytes).text, cases[i].text);
}
END_TEST

START_TEST(test_hdf5_error_printing_restored)
{
    H5E_auto2_t before_func, after_func;
    void *before_data, *after_data;
    H5Eget_auto2(H5E_DEFAULT, &before_func, &before_data);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, tmp_path("absent.h5"), 0), FC_ERR_INPUT);
    H5Eget_auto2(H5E_DEFAULT, &after_func, &after_data);
    ck_assert(before_func == after_func && before_data == after_data);
}
END_TEST

/* Another process holding the file open for writing: HDF5's lock refuses the read, and the message says
 * so instead of calling the file truncated or corrupt. */
START_TEST(test_locked_by_a_writer)
{
    /* HDF5_USE_FILE_LOCKING=FALSE (common advice on NFS clusters) turns HDF5's locks off for the process, read
     * once when the library starts: there is no lock to refuse the read then. */
    const char *env = getenv("HDF5_USE_FILE_LOCKING");
    if (env && (strcasecmp(env, "FALSE") == 0 || strcmp(env, "0") == 0)) {
        fprintf(stderr, "test_locked_by_a_writer: skipped, HDF5_USE_FILE_LOCKING=%s\n", env);
        return;
    }
    const char *path = write_standard("locked.h5", 1, 0, 0);
    int ready[2], release[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(release), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(release[1]); /* else its own copy keeps the pipe open and the read below never ends */
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        char c = f >= 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        if (read(release[0], &c, 1) < 0) _exit(1); /* until the parent closes its end */
        _exit(0);
    }
    close(release[0]);
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    fc_dataset ds;
    fc_status st = fc_data_load(&ds, path, 0);
    close(release[1]);
    waitpid(child, NULL, 0);
    ck_assert_int_eq(st, FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "locked.h5: locked: another process has it open for writing"), "%s",
                  fc_error_message());
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_OK); /* the writer gone, the same file loads */
    fc_data_free(&ds);
}
END_TEST

/* A writer that ended without closing a file of HDF5 1.10's format (h5py's libver="latest"; killed, or crashed)
 * leaves it marked open for writing, as a live SWMR writer does (which takes no lock). HDF5 then refuses the read
 * with "file is already open for write", which was reported as a truncated or corrupt file. */
START_TEST(test_marked_open_by_a_writer)
{
    const char *path = tmp_path("marked.h5");
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (f < 0) _exit(1);
        put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 10, 3, 0.0, 4);
        _exit(H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? 1 : 0); /* never closed: the mark stays */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "marked.h5: marked open for writing: another process is writing it"),
                  "%s", fc_error_message());
    ck_assert_msg(!strstr(fc_error_message(), "corrupt") && !strchr(fc_error_message(), '\n'), "%s",
                  fc_error_message());
}
END_TEST

/* ---- preprocessing ---- */

START_TEST(test_preprocess)
{
    /* 4 rows x 3 features; feature 2 is constant (std 0 -> 1). */
    fc_real x[12] = {1, 10, 5, 2, 20, 5, 3, 30, 5, 6, 40, 5};
    int32_t y[4] = {0, 1, 0, 1};
    fc_split train = {.n = 4, .d = 3, .x = x, .y = y};
    const double mean[3] = {3.0, 25.0, 5.0};
    const double std[3] = {sqrt((4.0 + 1.0 + 0.0 + 9.0) / 4.0), sqrt((225.0 + 25.0 + 25.0 + 225.0) / 4.0), 1.0};

    fc_preprocess pp;
    fc_preprocess_fit(&pp, FC_PRE_NONE, &train);
    ck_assert_ptr_null(pp.mean);
    ck_assert_ptr_null(pp.std);
    fc_preprocess_apply(&pp, &train);
    ck_assert(x[0] == 1 && x[11] == 5);
    fc_preprocess_free(&pp);

    fc_preprocess_fit(&pp, FC_PRE_CENTER, &train);
    ck_assert_int_eq(pp.d, 3);
    ck_assert(fct_close_d("center mean", pp.mean, mean, 3, 0, 1e-15));
    ck_assert_ptr_null(pp.std);
    fc_real centred[12];
    memcpy(centred, x, sizeof x);
    fc_split c = {.n = 4, .d = 3, .x = centred, .y = y};
    fc_preprocess_apply(&pp, &c);
    for (int i = 0; i < 12; i++) ck_assert((double)centred[i] == (double)x[i] - mean[i % 3]);
    fc_preprocess_free(&pp);
    ck_assert_ptr_null(pp.mean);

    fc_real orig[12];
    memcpy(orig, x, sizeof x);
    fc_preprocess_fit(&pp, FC_PRE_STANDARDIZE, &train);
    ck_assert(fct_close_d("standardize mean", pp.mean, mean, 3, 0, 1e-15));
    ck_assert(fct_close_d("biased std", pp.std, std, 3, 0, 1e-15));
    fc_preprocess_apply(&pp, &train);
    double z[12], want[12];
    for (int i = 0; i < 12; i++) {
        z[i] = (double)x[i];
        want[i] = (double)(fc_real)(((double)orig[i] - pp.mean[i % 3]) / pp.std[i % 3]);
    }
    ck_assert(fct_close_d("standardized x", z, want, 12, 0, 0));
    ck_assert(x[2] == 0 && x[11] == 0); /* the constant feature is only centred */
    fc_preprocess_free(&pp);
    fc_preprocess_free(&pp); /* twice: accepted */

    ck_assert_str_eq(fc_preprocess_name(FC_PRE_NONE), "none");
    ck_assert_str_eq(fc_preprocess_name(FC_PRE_CENTER), "center");
    ck_assert_str_eq(fc_preprocess_name(FC_PRE_STANDARDIZE), "standardize");
    ck_assert_int_eq(fc_preprocess_parse("none"), FC_PRE_NONE);
    ck_assert_int_eq(fc_preprocess_parse("center"), FC_PRE_CENTER);
    ck_assert_int_eq(fc_preprocess_parse("standardize"), FC_PRE_STANDARDIZE);
    ck_assert_int_eq(fc_preprocess_parse("standardise"), -1);
    ck_assert_int_eq(fc_preprocess_parse(""), -1);
    ck_assert_int_eq(fc_preprocess_parse(NULL), -1);
}
END_TEST

/* Near-constant features must count as constant (std 1, only centred) rather than be blown up to +-1:
 * constant ones whose mean is not exactly representable (0.1 and the like, in the double build: sum / n
 * rounds, leaving a std of ~1e-17), and one that alternates between two neighbouring values (std ~5e-11).
 * A feature far from 0 gets its std without cancellation (two passes, not E[x^2] - E[x]^2). */
START_TEST(test_preprocess_near_constant_and_offset)
{
    enum { N = 10, D = 8 };
    const double consts[5] = {0.1, 0.3, 0.7, 1.0 / 3.0, 0.2};
    const fc_real lo = (fc_real)1e-3, hi = lo + lo * (fc_real)(2 * FLT_EPSILON); /* 2 float ulps apart */
    ck_assert(lo != hi);
    fc_real x[N * D];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 5; j++) x[i * D + j] = (fc_real)consts[j];
        x[i * D + 5] = i % 2 ? hi : lo;
        x[i * D + 6] = (fc_real)(1e5 + 0.1 * i);
        x[i * D + 7] = (fc_real)(i % 2 ? 1e-6 : -1e-6); /* small, but no rounding noise: scaled to +-1 */
    }
    const double std7 = (double)(fc_real)1e-6;
    /* the reference statistics of the offset feature, two passes in double */
    double mean6 = 0, var6 = 0;
    for (int i = 0; i < N; i++) mean6 += (double)x[i * D + 6];
    mean6 /= N;
    for (int i = 0; i < N; i++) var6 += ((double)x[i * D + 6] - mean6) * ((double)x[i * D + 6] - mean6);
    const double std6 = sqrt(var6 / N);
    ck_assert(std6 > 0.2 && std6 < 0.4);
    int32_t y[N] = {0};
    fc_split train = {.n = N, .d = D, .x = x, .y = y};
    fc_preprocess pp;
    fc_preprocess_fit(&pp, FC_PRE_STANDARDIZE, &train);
    for (int j = 0; j < 6; j++)
        ck_assert_msg(pp.std[j] == 1.0, "near-constant feature %d: std %.17g, want 1", j, pp.std[j]);
    ck_assert_msg(fabs(pp.std[6] - std6) <= 1e-12 * std6, "offset feature: std %.17g, want %.17g", pp.std[6], std6);
    ck_assert_msg(fabs(pp.std[7] - std7) <= 1e-12 * std7, "small feature: std %.17g, want %.17g", pp.std[7], std7);
    fc_preprocess_apply(&pp, &train);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 6; j++)
            ck_assert_msg(fabs((double)x[i * D + j]) < 1e-6, "near-constant feature %d row %d: %g after standardize",
                          j, i, (double)x[i * D + j]);
        ck_assert(fabs((double)x[i * D + 6]) < 2.0);
        ck_assert_msg(fabs(fabs((double)x[i * D + 7]) - 1.0) < 1e-5, "small feature row %d: %g after standardize", i,
                      (double)x[i * D + 7]);
    }
    fc_preprocess_free(&pp);
}
END_TEST

/* Features at the edge of the build's range whose plain double sums overflow in the double build: one
 * near its largest value (the sum of the mean), the same near its most negative value (scaled by its largest
 * magnitude, not its largest value, which is negative), one beyond the square root of it (the sum of squares of
 * the std; before, std Inf: every value standardized to 0 and a checkpoint --resume refused). Their
 * statistics are finite and match a two-pass computation in long double (whose range holds the sums), and
 * standardizing maps them to +-1. The float build's sums never overflow: the same checks hold there. */
START_TEST(test_preprocess_sums_beyond_double)
{
    enum { N = 10, D = 3 };
    const double largest = sizeof(fc_real) == sizeof(float) ? (double)FLT_MAX : DBL_MAX;
    fc_real x[N * D];
    for (int i = 0; i < N; i++) {
        x[i * D + 0] = (fc_real)(largest * (i % 2 ? 0.95 : 0.85));
        x[i * D + 1] = (fc_real)(sqrt(largest) * (i % 2 ? 10.0 : -10.0));
        x[i * D + 2] = -x[i * D + 0];
    }
    int32_t y[N] = {0};
    fc_split train = {.n = N, .d = D, .x = x, .y = y};
    fc_preprocess pp;
    fc_preprocess_fit(&pp, FC_PRE_STANDARDIZE, &train);
    for (int j = 0; j < D; j++) {
        long double mean = 0, var = 0;
        for (int i = 0; i < N; i++) mean += (long double)x[i * D + j];
        mean /= N;
        for (int i = 0; i < N; i++) var += ((long double)x[i * D + j] - mean) * ((long double)x[i * D + j] - mean);
        const double std = (double)sqrtl(var / N);
        ck_assert_msg(fabs(pp.mean[j] - (double)mean) <= 1e-12 * fabs((double)mean),
                      "feature %d: mean %.17g, want %.17g", j, pp.mean[j], (double)mean);
        ck_assert_msg(fabs(pp.std[j] - std) <= 1e-12 * std, "feature %d: std %.17g, want %.17g", j, pp.std[j], std);
    }
    fc_preprocess_apply(&pp, &train);
    for (int i = 0; i < N * D; i++)
        ck_assert_msg(fabs(fabs((double)x[i]) - 1.0) < 1e-5, "element %d: %g after standardize", i, (double)x[i]);
    fc_preprocess_free(&pp);
}
END_TEST

/* Every other feature keeps the plain sums' bits: the scaled computation is only for sums that overflowed
 * (values whose division by their largest magnitude rounds differently: 1.7 i + 0.3). */
START_TEST(test_preprocess_ordinary_feature_bits)
{
    enum { N = 10 };
    fc_real x[N];
    int32_t y[N] = {0};
    double sum = 0, squares = 0;
    for (int i = 0; i < N; i++) sum += (double)(x[i] = (fc_real)(1.7 * i + 0.3));
    const double mean = sum / N;
    for (int i = 0; i < N; i++) squares += ((double)x[i] - mean) * ((double)x[i] - mean);
    fc_split train = {.n = N, .d = 1, .x = x, .y = y};
    fc_preprocess pp;
    fc_preprocess_fit(&pp, FC_PRE_STANDARDIZE, &train);
    ck_assert_msg(pp.mean[0] == mean, "mean %.17g, plain sum / n %.17g", pp.mean[0], mean);
    ck_assert_msg(pp.std[0] == sqrt(squares / N), "std %.17g, plain %.17g", pp.std[0], sqrt(squares / N));
    fc_preprocess_free(&pp);
}
END_TEST

/* Statistics over a loaded uint8 split, in double, against a direct computation. */
START_TEST(test_preprocess_on_loaded_data)
{
    const char *path = tmp_path("pp.h5");
    hid_t f = h5_create(path);
    enum { N = 1000, D = 20 };
    static unsigned char x[N * D];
    int64_t y[N];
    for (int i = 0; i < N * D; i++) x[i] = (unsigned char)((i * 37 + (i / D) * (i % D)) % 256);
    for (int i = 0; i < N; i++) y[i] = i % 3;
    hsize_t dx[2] = {N, D};
    h5_put(f, "/train/x", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, dx, x);
    h5_put_y(f, "/train/y", H5T_STD_U8LE, N, y);
    H5Fclose(f);

    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0.1), FC_OK);
    const int n = 900;
    double mean[D] = {0}, std[D] = {0};
    for (int j = 0; j < D; j++) {
        for (int i = 0; i < n; i++) mean[j] += (double)((fc_real)x[i * D + j] / (fc_real)255);
        mean[j] /= n;
        for (int i = 0; i < n; i++) {
            double c = (double)((fc_real)x[i * D + j] / (fc_real)255) - mean[j];
            std[j] += c * c;
        }
        std[j] = sqrt(std[j] / n);
    }
    fc_preprocess pp;
    fc_preprocess_fit(&pp, FC_PRE_STANDARDIZE, &ds.train);
    ck_assert(fct_close_d("mean", pp.mean, mean, D, 0, 1e-13));
    ck_assert(fct_close_d("std", pp.std, std, D, 0, 1e-12));
    fc_preprocess_apply(&pp, &ds.val); /* the validation split uses the training statistics */
    double got = (double)ds.val.x[5 * D + 7];
    double want = ((double)((fc_real)x[(n + 5) * D + 7] / (fc_real)255) - mean[7]) / std[7];
    ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-7, "got %g want %g", got, want);
    fc_preprocess_free(&pp);
    fc_data_free(&ds);
}
END_TEST

/* ---- epoch order and gather ---- */

static int is_permutation(const int64_t *perm, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (perm[i] < 0 || perm[i] >= n || seen[perm[i]]) ok = 0;
        else seen[perm[i]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(test_epoch_order)
{
    enum { N = 1001 };
    static int64_t a[N], b[N], c[N], e[N];
    fc_data_epoch_order(a, N, 42, 0, 1);
    ck_assert(is_permutation(a, N));
    fc_data_epoch_order(b, N, 42, 0, 1);
    ck_assert(memcmp(a, b, sizeof a) == 0); /* same (seed, epoch): same order, as on every rank */
    fc_data_epoch_order(c, N, 42, 1, 1);
    ck_assert(is_permutation(c, N));
    ck_assert(memcmp(a, c, sizeof a) != 0); /* a new order every epoch */
    fc_data_epoch_order(e, N, 43, 0, 1);
    ck_assert(memcmp(a, e, sizeof a) != 0);
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += a[i] == i;
    ck_assert_int_lt(fixed, 20); /* actually shuffled (expected about 1 fixed point) */

    fc_data_epoch_order(b, N, 42, 7, 0);
    int identity = 1;
    for (int i = 0; i < N; i++) identity &= b[i] == i;
    ck_assert(identity);

    int64_t one = -1;
    fc_data_epoch_order(&one, 1, 42, 3, 1);
    ck_assert_int_eq(one, 0);
    fc_data_epoch_order(NULL, 0, 42, 3, 1);

    /* the order is the rng module's permutation on stream FC_RNG_PERM with a = epoch */
    int64_t small[8], ref[8];
    fc_data_epoch_order(small, 8, 9, 5, 1);
    fc_rng_permutation(ref, 8, 9, FC_RNG_PERM, 5);
    ck_assert(memcmp(small, ref, sizeof ref) == 0);
}
END_TEST

START_TEST(test_gather)
{
    const char *path = write_standard("gather.h5", 0, 0, 0);
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, path, 0), FC_OK);
    const int64_t idx[5] = {9, 0, 4, 4, 7};
    fc_real x[5 * 3];
    int32_t y[5];
    fc_data_gather(x, y, &ds.train, idx, 5);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 3; j++) ck_assert((double)x[i * 3 + j] == (double)idx[i] + (double)j / 8.0);
        ck_assert_int_eq(y[i], idx[i] % 4);
    }
    fc_data_gather(NULL, NULL, &ds.train, NULL, 0);

    /* Only idx[0 .. count) is read (the prefetch looks ahead within it): idx ends right before a page that
     * cannot be read, so a look at idx[count] faults. */
    const long page = sysconf(_SC_PAGESIZE);
    void *mem = NULL;
    ck_assert_int_eq(posix_memalign(&mem, (size_t)page, 2 * (size_t)page), 0);
    char *map = mem;
    ck_assert_int_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    fc_real xs[6 * 3];
    int32_t ys[6];
    for (int64_t count = 1; count <= 6; count++) {
        int64_t *tail = (int64_t *)(map + page) - count;
        for (int64_t i = 0; i < count; i++) tail[i] = (i * 7 + 3) % 10;
        fc_data_gather(xs, ys, &ds.train, tail, count);
        for (int64_t i = 0; i < count; i++) {
            ck_assert((double)xs[i * 3 + 2] == (double)tail[i] + 2.0 / 8.0);
            ck_assert_int_eq(ys[i], tail[i] % 4);
        }
    }
    ck_assert_int_eq(mprotect(map + page, (size_t)page, PROT_READ | PROT_WRITE), 0);
    free(map);
    fc_data_free(&ds);
}
END_TEST

/* ---- malformed files ---- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int hdf5_prints; /* calls of HDF5's automatic error printing, which the loader must switch off */
static herr_t count_hdf5_print(hid_t stack, void *data)
{
    (void)stack;
    (void)data;
    hdf5_prints++;
    return 0;
}

/* fc_data_load(path) fails with FC_ERR_INPUT, leaves ds zeroed, its message is one line holding the file name and
 * each of the (non-NULL) words, and HDF5 printed nothing of its own (its error stack would be lines more on stderr). */
static void expect_error(const char *path, double val_size, const char *w1, const char *w2, const char *w3)
{
    fc_dataset ds;
    memset(&ds, 0xff, sizeof ds);
    fc_error_clear();
    H5E_auto2_t caller_func;
    void *caller_data;
    H5Eget_auto2(H5E_DEFAULT, &caller_func, &caller_data);
    H5Eset_auto2(H5E_DEFAULT, count_hdf5_print, NULL);
    hdf5_prints = 0;
    fc_status st = fc_data_load(&ds, path, val_size);
    H5Eset_auto2(H5E_DEFAULT, caller_func, caller_data);
    ck_assert_msg(hdf5_prints == 0, "%s: HDF5 printed its error stack %d times", base_name(path), hdf5_prints);
    const char *msg = fc_error_message();
    if (getenv("FCNET_TEST_VERBOSE")) fprintf(stderr, "message: %s\n", msg);
    ck_assert_msg(st == FC_ERR_INPUT, "%s: status %d, message '%s'", base_name(path), (int)st, msg);
    ck_assert_msg(strstr(msg, base_name(path)) != NULL, "message lacks the file name: '%s'", msg);
    const char *words[3] = {w1, w2, w3};
    for (int i = 0; i < 3; i++)
        if (words[i]) ck_assert_msg(strstr(msg, words[i]) != NULL, "message lacks '%s': '%s'", words[i], msg);
    ck_assert_msg(strchr(msg, '\n') == NULL, "message has a newline: '%s'", msg);
    ck_assert_ptr_null(ds.train.x);
    ck_assert_ptr_null(ds.val.x);
    ck_assert_ptr_null(ds.test.x);
    ck_assert_int_eq(ds.train.n, 0);
    /* every HDF5 object of the failed load was closed (files, datasets, groups, types, spaces) */
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

START_TEST(test_error_missing_file)
{
    expect_error(tmp_path("does_not_exist.h5"), 0, "cannot open", "No such file", NULL);
    expect_error(tmp_dir, 0, "cannot open", "directory", NULL);
}
END_TEST

/* A file name with a line break (or carriage return) still gives a one-line message: both are folded to
 * spaces. */
START_TEST(test_error_message_one_line)
{
    const char *p = tmp_path("bad\nname\r.h5");
    fc_dataset ds;
    ck_assert_int_eq(fc_data_load(&ds, p, 0), FC_ERR_INPUT);
    const char *msg = fc_error_message();
    ck_assert_msg(strchr(msg, '\n') == NULL && strchr(msg, '\r') == NULL, "message has a line break: '%s'", msg);
    ck_assert_msg(strstr(msg, "bad name .h5: cannot open") != NULL, "message: '%s'", msg);
}
END_TEST

START_TEST(test_error_not_hdf5)
{
    const char *text = tmp_path("text.h5");
    write_bytes(text, "x,y\n1,2\n", 8);
    expect_error(text, 0, "not an HDF5 file", NULL, NULL);

    const char *empty = tmp_path("empty_file.h5");
    write_bytes(empty, "", 0);
    expect_error(empty, 0, "not an HDF5 file", NULL, NULL);

    const char *noise = tmp_path("random.h5");
    unsigned char bytes[4096];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof bytes; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        bytes[i] = (unsigned char)(s >> 56);
    }
    write_bytes(noise, bytes, sizeof bytes);
    expect_error(noise, 0, "not an HDF5 file", NULL, NULL);
}
END_TEST

START_TEST(test_error_truncated)
{
    const char *whole = tmp_path("whole.h5");
    hid_t f = h5_create(whole);
    put_split(f, "train", H5T_IEEE_F64LE, H5T_STD_I32LE, 200, 50, 0.0, 10);
    H5Fclose(f);
    FILE *fp = fopen(whole, "rb");
    ck_assert_ptr_nonnull(fp);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ck_assert_uint_gt(n, 80000);
    const char *half = tmp_path("truncated.h5");
    write_bytes(half, buf, n / 2);
    expect_error(half, 0, "truncated", NULL, NULL);
}
END_TEST

START_TEST(test_error_missing_objects)
{
    const char *p = tmp_path("no_train.h5");
    hid_t f = h5_create(p);
    put_split(f, "val", H5T_IEEE_F32LE, H5T_STD_I32LE, 3, 2, 0, 2);
    H5Fclose(f);
    expect_error(p, 0, "/train", "missing group", NULL);

    p = tmp_path("no_train_y.h5");
    f = h5_create(p);
    double x[6] = {0};
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 3, 2, x);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "missing dataset", NULL);

    p = tmp_path("no_train_x.h5");
    f = h5_create(p);
    int64_t y[3] = {0, 1, 0};
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 3, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "missing dataset", NULL);

    p = tmp_path("train_not_group.h5");
    f = h5_create(p);
    h5_put_y(f, "/train", H5T_STD_I32LE, 3, y);
    H5Fclose(f);
    expect_error(p, 0, "/train", "group", NULL);
}
END_TEST

START_TEST(test_error_shapes)
{
    double x[24] = {0};
    int64_t y[6] = {0};
    const char *p = tmp_path("x_1d.h5");
    hid_t f = h5_create(p);
    hsize_t d1[1] = {6};
    h5_put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 1, d1, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 6, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "expected 2-D", "got 1-D");

    p = tmp_path("x_3d.h5");
    f = h5_create(p);
    hsize_t d3[3] = {2, 3, 4};
    h5_put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 3, d3, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 2, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "expected 2-D (N, D), got 3-D", NULL);

    p = tmp_path("y_2d.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 6, 2, x);
    hsize_t dy[2] = {6, 1};
    h5_put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT64, 2, dy, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "expected 1-D", "got 2-D");

    p = tmp_path("rows_differ.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 6, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 5, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "5 labels", "6 rows");

    /* More labels than rows is refused too: the extra labels belong to no row (which x is short?) */
    p = tmp_path("labels_beyond_rows.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 5, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 6, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "6 labels", "5 rows");

    p = tmp_path("no_features.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 6, 0, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 6, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "feature", NULL);

    p = tmp_path("empty_train.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 0, 4, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 0, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "empty", NULL);

    /* An empty /test would skip the final test accuracy without a word: refused like an empty /val */
    p = tmp_path("empty_test.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 6, 4, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 6, y);
    h5_put_x(f, "/test/x", H5T_IEEE_F32LE, 0, 4, x);
    h5_put_y(f, "/test/y", H5T_STD_I32LE, 0, y);
    H5Fclose(f);
    expect_error(p, 0, "/test/x", "empty (0 rows)", "leave the split out");
}
END_TEST

START_TEST(test_error_types)
{
    const char *p = tmp_path("float_y.h5");
    hid_t f = h5_create(p);
    double x[8] = {0}, yf[4] = {0, 1, 1, 0};
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 4, 2, x);
    hsize_t dy[1] = {4};
    h5_put(f, "/train/y", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 1, dy, yf);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "integer", "float");

    p = tmp_path("string_x.h5");
    f = h5_create(p);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    char sx[4][2][4];
    memset(sx, 'a', sizeof sx);
    hsize_t dx[2] = {4, 2};
    h5_put(f, "/train/x", str, str, 2, dx, sx);
    H5Tclose(str);
    int64_t y[4] = {0, 1, 0, 1};
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 4, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "numeric", "string");

    p = tmp_path("bad_num_classes.h5");
    f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 2, 0, 2);
    h5_attr_int(f, "num_classes", H5T_STD_I32LE, 0);
    H5Fclose(f);
    expect_error(p, 0, "num_classes", "positive integer", NULL);

    /* a float attribute must hold a whole number: 2.5 classes is refused, not truncated to 2 */
    p = tmp_path("fraction_num_classes.h5");
    f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 2, 0, 2);
    {
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "num_classes", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        const double half = 2.5;
        ck_assert(H5Awrite(a, H5T_NATIVE_DOUBLE, &half) >= 0);
        H5Aclose(a);
        H5Sclose(space);
    }
    H5Fclose(f);
    expect_error(p, 0, "num_classes", "2.5 is not a positive integer", NULL);

    p = tmp_path("string_num_classes.h5");
    f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 2, 0, 2);
    hid_t s10 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s10, 3);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "num_classes", s10, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, s10, "10");
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(s10);
    H5Fclose(f);
    expect_error(p, 0, "num_classes", "expected an integer", "string");

    /* Two values (one read into one double would overrun it) */
    p = tmp_path("two_num_classes.h5");
    f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 2, 0, 2);
    {
        const hsize_t two = 2;
        const int64_t values[2] = {3, 3};
        hid_t space2 = H5Screate_simple(1, &two, NULL);
        hid_t a2 = H5Acreate2(f, "num_classes", H5T_STD_I64LE, space2, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Awrite(a2, H5T_NATIVE_INT64, values) >= 0);
        H5Aclose(a2);
        H5Sclose(space2);
    }
    H5Fclose(f);
    expect_error(p, 0, "num_classes", "expected a single value, got 2 values", NULL);
}
END_TEST

START_TEST(test_error_labels)
{
    double x[20] = {0};
    int64_t y[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    const char *p = tmp_path("label_negative.h5");
    hid_t f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    y[3] = -1;
    h5_put_y(f, "/train/y", H5T_STD_I8LE, 10, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "label -1 at row 3", "out of range (negative)");

    p = tmp_path("label_too_big.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    y[3] = 3;
    y[5] = 12;
    h5_put_y(f, "/train/y", H5T_STD_I16LE, 10, y);
    h5_attr_int(f, "num_classes", H5T_STD_U8LE, 10);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "label 12 at row 5", "out of range [0, num_classes = 10)");

    /* a bad label in the held-out rows is reported with its row in /train */
    p = tmp_path("label_in_holdout.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    y[5] = 5;
    y[9] = 10;
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 10, y);
    h5_attr_int(f, "num_classes", H5T_STD_I32LE, 10);
    H5Fclose(f);
    expect_error(p, 0.2, "/train/y", "label 10 at row 9", "out of range");

    p = tmp_path("label_in_val.h5");
    f = h5_create(p);
    y[9] = 9;
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 10, y);
    h5_put_x(f, "/val/x", H5T_IEEE_F32LE, 2, 2, x);
    int64_t vy[2] = {0, -7};
    h5_put_y(f, "/val/y", H5T_STD_I64LE, 2, vy);
    H5Fclose(f);
    expect_error(p, 0, "/val/y", "label -7 at row 1", "out of range");

    /* beyond int32: checked in 64 bits before narrowing, not wrapped to a small label */
    p = tmp_path("label_huge.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    y[4] = (int64_t)1 << 32;
    h5_put_y(f, "/train/y", H5T_STD_U64LE, 10, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "label 4294967296 at row 4", "out of range");

    /* beyond int64, stored unsigned: shown as stored, not as the 2^63 - 1 HDF5 would saturate it to */
    p = tmp_path("label_u64.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, 10, 2, x);
    uint64_t uy[10];
    for (int i = 0; i < 10; i++) uy[i] = (uint64_t)i;
    uy[6] = UINT64_MAX - 2;
    hsize_t n10[1] = {10};
    h5_put(f, "/train/y", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, n10, uy);
    h5_attr_int(f, "num_classes", H5T_STD_I32LE, 10);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "label 18446744073709551613 at row 6", "out of range [0, num_classes = 10)");
}
END_TEST

/* A file whose only split is a 4x3 float64 /train with labels y. */
static const char *write_train_f64(const char *name, const double *x, const int64_t *y)
{
    const char *p = tmp_path(name);
    hid_t f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F64LE, 4, 3, x);
    h5_put_y(f, "/train/y", H5T_STD_I32LE, 4, y);
    H5Fclose(f);
    return p;
}

START_TEST(test_error_values)
{
    double x[12] = {0};
    int64_t y[4] = {0, 1, 0, 1};
    x[2 * 3 + 1] = (double)NAN;
    const char *p = write_train_f64("nan_x.h5", x, y);
    expect_error(p, 0, "/train/x", "NaN at row 2, column 1", NULL);

    p = tmp_path("inf_x.h5");
    hid_t f = h5_create(p);
    x[2 * 3 + 1] = 0;
    x[3 * 3 + 2] = -(double)INFINITY;
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 0, 2);
    h5_put_x(f, "/test/x", H5T_IEEE_F32LE, 4, 3, x);
    h5_put_y(f, "/test/y", H5T_STD_I32LE, 4, y);
    H5Fclose(f);
    expect_error(p, 0, "/test/x", "Inf at row 3, column 2", NULL);

#ifndef FC_REAL_DOUBLE
    x[3 * 3 + 2] = 1e300;
    p = write_train_f64("huge_x.h5", x, y);
    expect_error(p, 0, "/train/x", "float range", "row 3, column 2");

    /* At the edge: -FLT_MAX and FLT_MAX load as themselves, 3.5e38 (which float rounds to Inf) is refused. */
    x[3 * 3 + 2] = (double)FLT_MAX;
    x[1 * 3 + 0] = -(double)FLT_MAX;
    p = write_train_f64("edge_x.h5", x, y);
    fc_dataset ds;
    ck_assert_msg(fc_data_load(&ds, p, 0) == FC_OK, "%s", fc_error_message());
    ck_assert(ds.train.x[3 * 3 + 2] == FLT_MAX && ds.train.x[1 * 3 + 0] == -FLT_MAX);
    fc_data_free(&ds);
    x[3 * 3 + 2] = 3.5e38;
    p = write_train_f64("beyond_x.h5", x, y);
    expect_error(p, 0, "/train/x", "float range", "row 3, column 2");
#endif
}
END_TEST

/* Rows are read a block at a time (4 MB of x, 65536 labels): a bad value past the first block is reported
 * with its row in the file, not within the block. */
START_TEST(test_error_rows_past_first_block)
{
    enum { ROWS = 2000, COLS = 1000, LROWS = 70000 }; /* x: blocks of 524 rows, so row 1500 is in the third */
    double *x = calloc((size_t)ROWS * COLS, sizeof *x);
    int64_t *y = calloc(LROWS, sizeof *y);
    ck_assert(x && y);
    x[(size_t)1500 * COLS + 7] = (double)NAN;
    const char *p = tmp_path("nan_far.h5");
    hid_t f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, ROWS, COLS, x);
    for (int i = 0; i < ROWS; i++) y[i] = i % 2;
    h5_put_y(f, "/train/y", H5T_STD_I32LE, ROWS, y);
    H5Fclose(f);
    expect_error(p, 0, "/train/x", "NaN at row 1500, column 7", NULL);

    p = tmp_path("label_far.h5");
    f = h5_create(p);
    h5_put_x(f, "/train/x", H5T_IEEE_F32LE, LROWS, 1, x + (size_t)ROWS * COLS - LROWS); /* zeros */
    for (int i = 0; i < LROWS; i++) y[i] = i % 2;
    y[69001] = 5;
    h5_put_y(f, "/train/y", H5T_STD_I32LE, LROWS, y);
    h5_attr_int(f, "num_classes", H5T_STD_I32LE, 2);
    H5Fclose(f);
    expect_error(p, 0, "/train/y", "label 5 at row 69001", "out of range [0, num_classes = 2)");
    free(x);
    free(y);
}
END_TEST

START_TEST(test_error_feature_mismatch)
{
    const char *p = tmp_path("val_features.h5");
    hid_t f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 0, 2);
    put_split(f, "val", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 2, 0, 2);
    H5Fclose(f);
    expect_error(p, 0, "/val/x", "2 features but /train/x has 3", NULL);

    p = tmp_path("test_features.h5");
    f = h5_create(p);
    put_split(f, "train", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 3, 0, 2);
    put_split(f, "test", H5T_IEEE_F32LE, H5T_STD_I32LE, 4, 5, 0, 2);
    H5Fclose(f);
    expect_error(p, 0, "/test/x", "5 features but /train/x has 3", NULL);
}
END_TEST

START_TEST(test_error_val_size)
{
    const char *p = write_standard("val_size.h5", 0, 0, 0);
    expect_error(p, 10, "/train", "val_size", "no training rows");
    expect_error(p, 25, "/train", "val_size", "no training rows");
    expect_error(p, -0.1, "/train", "val_size", NULL);
    expect_error(p, (double)NAN, "/train", "val_size", NULL);
    expect_error(p, (double)INFINITY, "/train", "val_size", NULL);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *load = tcase_create("load");
    tcase_add_checked_fixture(load, tmp_setup, tmp_teardown);
    tcase_add_test(load, test_load_float32_with_all_splits);
    tcase_add_test(load, test_fingerprint);
    tcase_add_test(load, test_load_uint8_scaled);
    tcase_add_test(load, test_soft_links_kept_external_refused);
    tcase_add_test(load, test_load_float64_and_label_types);
    tcase_add_test(load, test_load_split_only);
    tcase_add_test(load, test_load_part);
    tcase_add_test(load, test_locked_by_a_writer);
    tcase_add_test(load, test_marked_open_by_a_writer);
    tcase_add_test(load, test_holdout_fraction_and_count);
    tcase_add_test(load, test_n_classes_from_every_split);
    tcase_add_test(load, test_chunked_reads);
    tcase_add_test(load, test_address_space_limit);
    tcase_add_test(load, test_blas_threads_room);
    tcase_add_test(load, test_format_size);
    tcase_add_test(load, test_hdf5_error_printing_restored);
    tcase_add_test(load, test_preprocess_on_loaded_data);
    tcase_add_test(load, test_gather);
    suite_add_tcase(s, load);

    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, test_preprocess);
    tcase_add_test(pure, test_preprocess_near_constant_and_offset);
    tcase_add_test(pure, test_preprocess_sums_beyond_double);
    tcase_add_test(pure, test_preprocess_ordinary_feature_bits);
    tcase_add_test(pure, test_epoch_order);
    suite_add_tcase(s, pure);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, tmp_setup, tmp_teardown);
    tcase_add_test(errors, test_error_missing_file);
    tcase_add_test(errors, test_foreign_object_reason_of_a_damaged_listing);
    tcase_add_test(errors, test_error_message_one_line);
    tcase_add_test(errors, test_error_not_hdf5);
    tcase_add_test(errors, test_error_truncated);
    tcase_add_test(errors, test_error_missing_objects);
    tcase_add_test(errors, test_error_shapes);
    tcase_add_test(errors, test_error_types);
    tcase_add_test(errors, test_error_labels);
    tcase_add_test(errors, test_error_values);
    tcase_add_test(errors, test_error_rows_past_first_block);
    tcase_add_test(errors, test_error_feature_mismatch);
    tcase_add_test(errors, test_error_val_size);
    suite_add_tcase(s, errors);
    return s;
}

int main(int argc, char **argv)
{
    /* As fcnet's programs do (fc_h5_no_exit_cleanup): a file whose object header HDF5 could not read stays half-open
     * inside HDF5 after H5Fclose (test_foreign_object_reason_of_a_damaged_listing), and HDF5's exit handler would
     * then print "infinite loop closing library". */
    H5dont_atexit();
    return fct_run(data_suite(), argc, argv);
}
