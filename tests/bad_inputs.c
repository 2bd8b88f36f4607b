/* bad_inputs: writes the malformed HDF5 files of the bad-input corpus (tests/make_bad_inputs.sh).
 *
 *   bad_inputs data KIND OUT          a small dataset (train 60 x 4, val 20, 3 classes) with one defect
 *   bad_inputs ckpt KIND GOOD OUT     a copy of checkpoint GOOD with one defect
 *   bad_inputs params KIND OUT        an --init-from file holding only /params (as h5py would write it)
 *                                     for a --hidden 8 model on 4 features and 3 classes, with one defect
 *   bad_inputs big ROWS OUT           a dataset of ROWS x 1024 float32 features declared but never written
 *   bad_inputs flip FILE DATASET      flips one byte inside the first stored chunk of DATASET in place
 *                                     (the Fletcher32 checksum must catch it)
 *   bad_inputs fliphdr FILE OBJECT    flips one byte inside the object header of OBJECT in place
 *   bad_inputs flipcont FILE          flips one byte inside the file's first object-header continuation
 *                                     block (signature "OCHK"): links and attributes an object lost
 *   bad_inputs typesize FILE DATASET  sets the element size in DATASET's float32 datatype message to 7684
 *                                     bytes in place (an unchecksummed v1 object header, as fcnet_synth's)
 *   bad_inputs marked OUT             a file of HDF5 1.10's format (h5py's libver="latest") whose writer ended
 *                                     without closing it: its superblock still marks it open for writing
 *   bad_inputs list                   prints the KINDs of each mode
 *
 * Exit status 0, or 1 with a message when the file cannot be written (a broken generator must fail the
 * test, not produce a good file). No Python on CI machines, hence C. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_TRAIN 60
#define N_VAL 20
#define D 4
#define C 3

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bad_inputs: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void check(herr_t rc, const char *what)
{
    if (rc < 0) die(what, "HDF5 call failed");
}

/* Writes dataset name of file type ftype from memory type mtype, shape dims[0..rank). */
static void put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                const void *data)
{
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) die("cannot create dataset", name);
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (n > 0) check(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
}

/* Sets the scalar attribute name of obj (replacing one of that name): type ftype in the file, written from v
 * of type mtype. */
static void put_attr(hid_t loc, const char *obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(loc, obj, name, H5P_DEFAULT);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(loc, obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) die("cannot create attribute", name);
    check(H5Awrite(a, mtype, v), name);
    H5Aclose(a);
    H5Sclose(space);
}

/* obj's attribute name as a 1-D array of n int64 values (where one value, or another count, is expected). */
static void put_attr_int_array(hid_t loc, const char *obj, const char *name, const long long *v, hsize_t n)
{
    if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(loc, obj, name, H5P_DEFAULT);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate_by_name(loc, obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) die("cannot create attribute", name);
    check(H5Awrite(a, H5T_NATIVE_LLONG, v), name);
    H5Aclose(a);
    H5Sclose(space);
}

static void put_attr_int(hid_t loc, const char *obj, const char *name, long long v)
{
    put_attr(loc, obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

static void put_attr_double(hid_t loc, const char *obj, const char *name, double v)
{
    put_attr(loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static void put_attr_str(hid_t loc, const char *obj, const char *name, const char *v)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(v) + 1);
    put_attr(loc, obj, name, type, type, v);
    H5Tclose(type);
}

/* ---- datasets ---- */

static const char *const data_kinds[] = {
    "x-string",     /* /train/x holds strings */
    "x-1d",         /* /train/x is (N*D,) */
    "y-length",     /* /train/y has N-1 labels */
    "y-float",      /* /train/y is float32 */
    "label-range",  /* a label equal to num_classes */
    "label-neg",    /* a label -1 */
    "x-nan",        /* NaN in /train/x */
    "x-nan-late",   /* NaN in /train/x's row 45: in rank 1's part of /train at -n 2 */
    "x-inf",        /* -Inf in /val/x */
    "x-f64-huge",   /* float64 1e300: beyond float32 */
    "no-train",     /* only /val */
    "no-y",         /* /train without y */
    "val-features", /* /val/x has D+1 columns */
    "classes-zero", /* num_classes = 0 */
    "one-class",    /* every label 0, no num_classes attribute */
    "train-empty",  /* 0 training rows */
    "classes-50000",/* num_classes = 50000 (the labels use 3): a confusion matrix beyond one MPI count */
    "test-elink",   /* /test is an external link to the FIFO "fifo" beside the file */
    "x-external",   /* /train/x keeps its raw data in the FIFO "fifo" beside the file (external storage) */
    "x-virtual",    /* /train/x is a virtual dataset over a file that does not exist */
    "val-empty",    /* /val with 0 rows: validation silently off */
    "x-filter",     /* /train/x compressed with a filter only this program has (id 300, "bad-inputs-test") */
    "x-float-bias", /* /train/x's float type has exponent bias 0xC200007F (the top byte of 127 flipped): all 0 */
    "x-unwritten",  /* /train/x chunked in 6 chunks, only the first 3 written: the rest reads as 0 */
    "x-9d",         /* /train/x is (N, D, 1, 1, 1, 1, 1, 1, 1): its rank was reported as at most 8 */
    "test-datatype",/* /test is a named (committed) datatype, not a group */
    NULL};

/* A filter of the range HDF5 reserves for testing (256-511) that changes nothing: registered here only,
 * so fcnet_dist, which does not have it, cannot read the chunks it filtered. */
enum { TEST_FILTER_ID = 300 };
static size_t identity_filter(unsigned flags, size_t n_values, const unsigned values[], size_t nbytes,
                              size_t *buf_size, void **buf)
{
    (void)flags, (void)n_values, (void)values, (void)buf_size, (void)buf;
    return nbytes;
}

/* dir_of(path)/name into buf: the files an external link or external storage points to. */
static const char *beside(const char *path, const char *name, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, size, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, name);
    return buf;
}

static void write_data(const char *kind, const char *out)
{
    float x[N_TRAIN * D], xv[N_VAL * D];
    int32_t y[N_TRAIN], yv[N_VAL];
    for (int i = 0; i < N_TRAIN * D; i++) x[i] = (float)((i * 37 % 101) - 50) / 25.0f;
    for (int i = 0; i < N_VAL * D; i++) xv[i] = (float)((i * 53 % 97) - 48) / 24.0f;
    for (int i = 0; i < N_TRAIN; i++) y[i] = i % C;
    for (int i = 0; i < N_VAL; i++) yv[i] = (i + 1) % C;
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die("cannot create", out);

    hsize_t xd[2] = {N_TRAIN, D}, yd[1] = {N_TRAIN}, vxd[2] = {N_VAL, D}, vyd[1] = {N_VAL};
    const char *k = kind;
    if (strcmp(k, "label-range") == 0) y[17] = C;
    if (strcmp(k, "label-neg") == 0) y[5] = -1;
    if (strcmp(k, "one-class") == 0) {
        for (int i = 0; i < N_TRAIN; i++) y[i] = 0;
        for (int i = 0; i < N_VAL; i++) yv[i] = 0;
    }
    if (strcmp(k, "x-nan") == 0) x[3 * D + 2] = NAN;
    if (strcmp(k, "x-nan-late") == 0) x[45 * D] = NAN;
    if (strcmp(k, "x-inf") == 0) xv[2 * D + 1] = -INFINITY;

    /* train */
    if (strcmp(k, "no-train") == 0) {
        /* nothing */
    } else {
        if (strcmp(k, "x-string") == 0) {
            hid_t s = H5Tcopy(H5T_C_S1);
            H5Tset_size(s, 4);
            char text[N_TRAIN][4];
            for (int i = 0; i < N_TRAIN; i++) memcpy(text[i], "abc", 4);
            hsize_t sd[1] = {N_TRAIN};
            put(f, "/train/x", s, s, 1, sd, text);
            H5Tclose(s);
        } else if (strcmp(k, "x-1d") == 0) {
            hsize_t flat[1] = {N_TRAIN * D};
            put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, flat, x);
        } else if (strcmp(k, "x-9d") == 0) {
            hsize_t d9[9] = {N_TRAIN, D, 1, 1, 1, 1, 1, 1, 1};
            put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 9, d9, x);
        } else if (strcmp(k, "x-f64-huge") == 0) {
            double xx[N_TRAIN * D];
            for (int i = 0; i < N_TRAIN * D; i++) xx[i] = (double)x[i];
            xx[7 * D] = 1e300;
            put(f, "/train/x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xd, xx);
        } else if (strcmp(k, "train-empty") == 0) {
            hsize_t d0[2] = {0, D};
            put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d0, x);
        } else if (strcmp(k, "x-external") == 0 || strcmp(k, "x-virtual") == 0) {
            /* created, never written: writing would open the FIFO (and block) */
            char other[4096];
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(2, xd, NULL);
            if (strcmp(k, "x-external") == 0)
                check(H5Pset_external(dcpl, beside(out, "fifo", other, sizeof other), 0, sizeof x), "external");
            else
                check(H5Pset_virtual(dcpl, space, beside(out, "no-such-source.h5", other, sizeof other), "/x", space),
                      "virtual");
            check(H5Gclose(H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), "group");
            hid_t d = H5Dcreate2(f, "/train/x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            if (d < 0) die("cannot create dataset", k);
            H5Dclose(d);
            H5Sclose(space);
            H5Pclose(dcpl);
        } else if (strcmp(k, "x-filter") == 0) {
            const H5Z_class2_t filter = {H5Z_CLASS_T_VERS, TEST_FILTER_ID, 1, 1, "bad-inputs-test", NULL, NULL,
                                         identity_filter};
            check(H5Zregister(&filter), "H5Zregister");
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(2, xd, NULL);
            const hsize_t chunk[2] = {N_TRAIN / 2, D};
            check(H5Pset_chunk(dcpl, 2, chunk), "chunk");
            check(H5Pset_filter(dcpl, TEST_FILTER_ID, H5Z_FLAG_MANDATORY, 0, NULL), "filter");
            check(H5Gclose(H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), "group");
            hid_t d = H5Dcreate2(f, "/train/x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            if (d < 0) die("cannot create dataset", k);
            check(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x), "write");
            H5Dclose(d);
            H5Sclose(space);
            H5Pclose(dcpl);
        } else if (strcmp(k, "x-float-bias") == 0) {
            hid_t t = H5Tcopy(H5T_IEEE_F32LE);
            check(H5Tset_ebias(t, 0xC200007Fu), "ebias");
            put(f, "/train/x", t, t, 2, xd, x); /* the bytes as they are: the type is what is wrong */
            H5Tclose(t);
        } else if (strcmp(k, "x-unwritten") == 0) {
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(2, xd, NULL);
            const hsize_t chunk[2] = {N_TRAIN / 6, D}, half[2] = {N_TRAIN / 2, D}, start[2] = {0, 0};
            check(H5Pset_chunk(dcpl, 2, chunk), "chunk");
            check(H5Gclose(H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), "group");
            hid_t d = H5Dcreate2(f, "/train/x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            if (d < 0) die("cannot create dataset", k);
            hid_t mem = H5Screate_simple(2, half, NULL);
            check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, half, NULL), "select");
            check(H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, x), "write");
            H5Sclose(mem);
            H5Dclose(d);
            H5Sclose(space);
            H5Pclose(dcpl);
        } else {
            put(f, "/train/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, xd, x);
        }
        if (strcmp(k, "no-y") == 0) {
            /* nothing */
        } else if (strcmp(k, "y-length") == 0) {
            hsize_t n1[1] = {N_TRAIN - 1};
            put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, n1, y);
        } else if (strcmp(k, "y-float") == 0) {
            float yf[N_TRAIN];
            for (int i = 0; i < N_TRAIN; i++) yf[i] = (float)y[i];
            put(f, "/train/y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, yd, yf);
        } else if (strcmp(k, "train-empty") == 0) {
            hsize_t n0[1] = {0};
            put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, n0, y);
        } else {
            put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, yd, y);
        }
    }

    /* val */
    if (strcmp(k, "val-features") == 0) {
        float wide[N_VAL * (D + 1)];
        for (int i = 0; i < N_VAL * (D + 1); i++) wide[i] = 0.5f;
        hsize_t wd[2] = {N_VAL, D + 1};
        put(f, "/val/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, wd, wide);
    } else if (strcmp(k, "val-empty") == 0) {
        hsize_t d0[2] = {0, D};
        put(f, "/val/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d0, xv);
    } else {
        put(f, "/val/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, vxd, xv);
    }
    if (strcmp(k, "val-empty") == 0) {
        hsize_t n0[1] = {0};
        put(f, "/val/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, n0, yv);
    } else {
        put(f, "/val/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, vyd, yv);
    }

    if (strcmp(k, "test-elink") == 0) {
        char fifo[4096];
        check(H5Lcreate_external(beside(out, "fifo", fifo, sizeof fifo), "/test", f, "/test", H5P_DEFAULT,
                                 H5P_DEFAULT), "external link");
    }
    if (strcmp(k, "test-datatype") == 0) {
        hid_t t = H5Tcopy(H5T_IEEE_F32LE);
        check(H5Tcommit2(f, "/test", t, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "commit datatype");
        H5Tclose(t);
    }
    if (strcmp(k, "classes-zero") == 0)
        put_attr_int(f, "/", "num_classes", 0);
    else if (strcmp(k, "classes-50000") == 0)
        put_attr_int(f, "/", "num_classes", 50000);
    else if (strcmp(k, "one-class") != 0)
        put_attr_int(f, "/", "num_classes", C);
    if (H5Fclose(f) < 0) die("cannot close", out);
}

/* ---- checkpoints ---- */

static const char *const ckpt_kinds[] = {
    "w1-shape",        /* /params/W1 transposed */
    "w2-missing",      /* /params/W2 removed */
    "extra-tensor",    /* /params/W9 added */
    "w1-int",          /* /params/W1 stored as int32 */
    "param-nan",       /* NaN in /params/b1 */
    "optim-shape",     /* /optim/W1/m of a wrong shape */
    "format-version",  /* root attribute format_version = 99 */
    "step-text",       /* root attribute step stored as a string */
    "hidden-count",    /* n_hidden = 3 while hidden has fewer values */
    "preprocess-shape",/* /preprocess/mean of the wrong length */
    "other-precision", /* root attribute fc_real = "double": written by fcnet_dist_f64 */
    "batch-zero",      /* root attribute batch_size = 0: out of the flag's range (a crafted file) */
    "keep-zero",       /* root attribute keep = 0 */
    "batch-one",       /* root attribute batch_size = 1 with batchnorm: written before such runs were refused */
    "lr-nan",          /* root attribute lr = NaN */
    "inputs-zero",     /* root attribute n_input = 0 */
    "step-ahead",      /* root attribute step = 100: not epoch * steps_per_epoch + epoch_step */
    "epoch-step-past", /* root attribute epoch_step = 9 in epochs of 6 steps */
    "epoch-step-end",  /* root attribute epoch_step = 6 in epochs of 6 steps: one past the last */
    "w1-elink",        /* /params/W1 an external link to the FIFO "fifo" beside the file */
    "adam-t-huge",     /* /optim attribute t = INT64_MAX (t + 1 would overflow) */
    "adam-t-behind",   /* /optim attribute t = 7 after 8 steps: adam's bias correction would be a step behind */
    "optim-lr-neg",    /* /optim attribute lr = -1: gradient ascent */
    "optim-v-neg",     /* a negative value in adam's /optim/W1/v */
    "bn-var-neg",      /* a negative value in /bn/running_var1 */
    "pp-mean-nan",     /* a NaN in /preprocess/mean */
    "version-float",   /* root attribute format_version = 1.5 (float) */
    "hidden-fraction", /* root attribute hidden = 8.5 (float) */
    "model-huge",      /* root attributes n_hidden = 2, hidden = 2^20, 2^20: a model no machine holds */
    "hidden-wide",     /* root attribute hidden = 2^20 + 1: one past --hidden's widest layer */
    "data-empty",      /* root attribute data = "": no dataset path recorded */
    "best-acc-nan",    /* /best attribute best_val_acc = NaN: never beaten, the best parameters frozen */
    "finished-7",      /* root attribute finished = 7 */
    "history-acc",     /* /history/train_acc[0] = 7.5 */
    "optim-extra",     /* /optim/W1/extra added: a slot adam does not have */
    "format-heap-len", /* root attribute format as a variable-length string (as h5py writes it) whose
                          global-heap object claims 10^12 bytes: HDF5 copies past its buffer */
    "eps-huge",        /* root attribute eps = 1e300: beyond float, a float run would train nothing */
    "reg-huge",        /* root attribute reg = 1e300: beyond float, "diverged" at the first step */
    "no-fc-real",      /* root attribute fc_real removed: the precision it was written in unknown */
    "norm-layernorm",  /* root attribute norm = "layernorm" in a batchnorm run's file: /bn is left over */
    "shuffle-2",       /* root attribute shuffle = 2 */
    "world-size-huge", /* root attribute world_size = 2^40: no MPI job has that many ranks */
    "pp-contradicts",  /* root attribute preprocess = "standardize", /preprocess of kind "center" */
    "check-step-ahead",/* /history/check_step[0] = 100 in a checkpoint of step 8 */
    "check-step-repeat",/* /history/check_step[1] = 0, the step of check 0: checks are at increasing steps */
    "history-lr-zero", /* /history/lr[1] = 0 after 1 epoch of --lr-decay 1: no decay reaches 0 so soon */
    "history-lr-huge", /* /history/lr[1] = 1e300: not the configured lr decayed */
    "val-acc-nan-one", /* /history/val_acc[1] = NaN beside an accuracy: a run validates at every check or none */
    "best-acc-huge",   /* /best attribute best_val_acc = 1e300: eval --best took it */
    "best-acc-above-1",/* /best attribute best_val_acc = 1.0000001: refused as "1: an accuracy in [0, 1]" (%g) */
    "no-data-hash",    /* root attribute data_hash removed, as in a checkpoint written before 2026-12-05: its
                          data is then checked by its shape alone */
    "checks-extra",    /* a third accuracy check in each /history check array after 1 epoch (at most 2) */
    "loss-extra",      /* a ninth loss in /history/loss of a checkpoint of step 8 */
    "pp-std-zero",     /* /preprocess/std[0] = 0 (give a --preprocess standardize checkpoint): x / 0 */
    "best-acc-5",      /* /best attribute best_val_acc = 5: never beaten, the best parameters frozen */
    "best-step-ahead", /* /best attribute best_step = 100 in a checkpoint of step 8 */
    "best-step-neg",   /* /best attribute best_step = -1 */
    "world-size-0",    /* root attribute world_size = 0 */
    "best-bn-only",    /* norm = "layernorm", /bn removed: only /best/bn is left over */
    "w1-unwritten",    /* /params/W1 chunked and never written: it read as zeros */
    "bn-missing",      /* /bn removed, norm still "batchnorm": eval used the initial statistics */
    "run-id-array",    /* root attribute run_id an array of 2^20 int64 (8 MiB): read into one int64, it ran
                          past the stack */
    NULL};

/* Sets the size of the first object of the file's first global heap collection ("GCOL": signature,
 * version, 3 reserved bytes, 8-byte collection size; then per object: index 2, reference count 2,
 * reserved 4, size 8 bytes). The heap is not checksummed, so HDF5 trusts it. */
static void corrupt_heap_object_size(const char *path, uint64_t size)
{
    FILE *fp = fopen(path, "r+b");
    if (!fp) die("cannot open for writing", path);
    long at = -1, pos = 0;
    int c, matched = 0;
    while (at < 0 && (c = fgetc(fp)) != EOF) {
        matched = c == "GCOL"[matched] ? matched + 1 : c == 'G';
        pos++;
        if (matched == 4) at = pos - 4;
    }
    if (at < 0) die("no global heap in", path);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(size >> (8 * i));
    if (fseek(fp, at + 24, SEEK_SET) != 0 || fwrite(le, 1, 8, fp) != 8) die("write failed", path);
    if (fclose(fp) != 0) die("write failed", path);
}

static void copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    if (!in) die("cannot read", src);
    FILE *out = fopen(dst, "wb");
    if (!out) die("cannot create", dst);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) die("cannot write", dst);
    fclose(in);
    if (fclose(out) != 0) die("cannot write", dst);
}

/* Reads dataset name of f as floats into a malloc'ed buffer; *n elements, dims into dims (rank returned). */
static float *get_floats(hid_t f, const char *name, hsize_t *n, hsize_t dims[2])
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) die("missing in the good checkpoint", name);
    hid_t s = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(s);
    dims[0] = dims[1] = 1;
    if (rank < 1 || rank > 2) die("unexpected rank", name);
    H5Sget_simple_extent_dims(s, dims, NULL);
    *n = (hsize_t)H5Sget_simple_extent_npoints(s);
    float *v = malloc((size_t)*n * sizeof *v + 4);
    check(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
    H5Sclose(s);
    H5Dclose(d);
    return v;
}

/* A 1-d dataset rewritten with one more element, value, at its end: same type in the file. */
static void append_element(hid_t f, const char *name, double value)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) die("no dataset", name);
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(space);
    double *v = calloc((size_t)n + 1, sizeof *v);
    if (!v) die("out of memory", name);
    check(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "read");
    H5Sclose(space);
    H5Dclose(d);
    v[n++] = value;
    check(H5Ldelete(f, name, H5P_DEFAULT), "delete");
    put(f, name, type, H5T_NATIVE_DOUBLE, 1, &n, v);
    H5Tclose(type);
    free(v);
}

/* Element i of an existing dataset set to value, in place: same type (converted from double) and shape. */
static void set_element(hid_t f, const char *name, hssize_t i, double value)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) die("no dataset", name);
    hid_t space = H5Dget_space(d);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    double *v = count > i ? calloc((size_t)count, sizeof *v) : NULL;
    if (!v) die("too few elements", name);
    check(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "read");
    v[i] = value;
    check(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), "write");
    free(v);
    H5Sclose(space);
    H5Dclose(d);
}

static void write_ckpt(const char *kind, const char *good, const char *out)
{
    copy_file(good, out);
    hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) die("cannot open the copy of the good checkpoint", out);
    const char *k = kind;
    hsize_t n, dims[2];
    if (strcmp(k, "w1-shape") == 0) {
        float *v = get_floats(f, "/params/W1", &n, dims);
        hsize_t t[2] = {dims[1], dims[0]};
        check(H5Ldelete(f, "/params/W1", H5P_DEFAULT), "delete");
        put(f, "/params/W1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, t, v);
        free(v);
    } else if (strcmp(k, "w2-missing") == 0) {
        check(H5Ldelete(f, "/params/W2", H5P_DEFAULT), "delete");
    } else if (strcmp(k, "extra-tensor") == 0) {
        float v[4] = {1, 2, 3, 4};
        hsize_t d2[2] = {2, 2};
        put(f, "/params/W9", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, v);
    } else if (strcmp(k, "w1-int") == 0) {
        float *v = get_floats(f, "/params/W1", &n, dims);
        int32_t *iv = malloc((size_t)n * sizeof *iv);
        for (hsize_t i = 0; i < n; i++) iv[i] = (int32_t)v[i];
        check(H5Ldelete(f, "/params/W1", H5P_DEFAULT), "delete");
        put(f, "/params/W1", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, iv);
        free(iv);
        free(v);
    } else if (strcmp(k, "param-nan") == 0) {
        float *v = get_floats(f, "/params/b1", &n, dims);
        v[n / 2] = NAN;
        check(H5Ldelete(f, "/params/b1", H5P_DEFAULT), "delete");
        put(f, "/params/b1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dims, v);
        free(v);
    } else if (strcmp(k, "optim-shape") == 0) {
        float v[6] = {0};
        hsize_t d2[2] = {2, 3};
        check(H5Ldelete(f, "/optim/W1/m", H5P_DEFAULT), "delete");
        put(f, "/optim/W1/m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, v);
    } else if (strcmp(k, "format-version") == 0) {
        put_attr_int(f, "/", "format_version", 99);
    } else if (strcmp(k, "step-text") == 0) {
        put_attr_str(f, "/", "step", "thirteen");
    } else if (strcmp(k, "batch-zero") == 0) {
        put_attr_int(f, "/", "batch_size", 0);
    } else if (strcmp(k, "batch-one") == 0) {
        put_attr_int(f, "/", "batch_size", 1);
    } else if (strcmp(k, "keep-zero") == 0) {
        put_attr_double(f, "/", "keep", 0.0);
    } else if (strcmp(k, "lr-nan") == 0) {
        put_attr_double(f, "/", "lr", (double)NAN);
    } else if (strcmp(k, "step-ahead") == 0) {
        put_attr_int(f, "/", "step", 100);
    } else if (strcmp(k, "epoch-step-past") == 0) {
        put_attr_int(f, "/", "epoch_step", 9);
    } else if (strcmp(k, "epoch-step-end") == 0) {
        put_attr_int(f, "/", "epoch_step", 6);
    } else if (strcmp(k, "inputs-zero") == 0) {
        put_attr_int(f, "/", "n_input", 0);
    } else if (strcmp(k, "eps-huge") == 0) {
        put_attr_double(f, "/", "eps", 1e300);
    } else if (strcmp(k, "reg-huge") == 0) {
        put_attr_double(f, "/", "reg", 1e300);
    } else if (strcmp(k, "no-fc-real") == 0) {
        check(H5Adelete_by_name(f, "/", "fc_real", H5P_DEFAULT), "delete fc_real");
    } else if (strcmp(k, "norm-layernorm") == 0) {
        put_attr_str(f, "/", "norm", "layernorm");
    } else if (strcmp(k, "other-precision") == 0) {
        put_attr_str(f, "/", "fc_real", "double");
    } else if (strcmp(k, "hidden-count") == 0) {
        put_attr_int(f, "/", "n_hidden", 3);
    } else if (strcmp(k, "w1-elink") == 0) {
        char fifo[4096];
        check(H5Ldelete(f, "/params/W1", H5P_DEFAULT), "delete");
        check(H5Lcreate_external(beside(out, "fifo", fifo, sizeof fifo), "/x", f, "/params/W1", H5P_DEFAULT,
                                 H5P_DEFAULT), "external link");
    } else if (strcmp(k, "adam-t-huge") == 0) {
        put_attr_int(f, "/optim", "t", INT64_MAX);
    } else if (strcmp(k, "adam-t-behind") == 0) {
        put_attr_int(f, "/optim", "t", 7);
    } else if (strcmp(k, "optim-lr-neg") == 0) {
        put_attr_double(f, "/optim", "lr", -1.0);
    } else if (strcmp(k, "optim-v-neg") == 0 || strcmp(k, "bn-var-neg") == 0) {
        const char *name = strcmp(k, "optim-v-neg") == 0 ? "/optim/W1/v" : "/bn/running_var1";
        float *v = get_floats(f, name, &n, dims);
        v[n / 2] = -0.5f;
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT); /* rewritten in place: same type and shape */
        check(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
        H5Dclose(d);
        free(v);
    } else if (strcmp(k, "pp-mean-nan") == 0) {
        double v[D] = {0, (double)NAN, 0, 0};
        hsize_t d1[1] = {D};
        check(H5Ldelete(f, "/preprocess/mean", H5P_DEFAULT), "delete");
        put(f, "/preprocess/mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1, v);
    } else if (strcmp(k, "model-huge") == 0) {
        const long long widths[2] = {1048576, 1048576};
        put_attr_int_array(f, "/", "hidden", widths, 2);
        put_attr_int(f, "/", "n_hidden", 2);
    } else if (strcmp(k, "hidden-wide") == 0) {
        const long long widths[1] = {1048577};
        put_attr_int_array(f, "/", "hidden", widths, 1);
    } else if (strcmp(k, "hidden-fraction") == 0) {
        put_attr_double(f, "/", "hidden", 8.5);
    } else if (strcmp(k, "version-float") == 0) {
        put_attr_double(f, "/", "format_version", 1.5);
    } else if (strcmp(k, "optim-extra") == 0) {
        float v[4] = {1, 2, 3, 4};
        hsize_t d2[2] = {2, 2};
        put(f, "/optim/W1/extra", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, v);
    } else if (strcmp(k, "best-acc-nan") == 0) {
        put_attr_double(f, "/best", "best_val_acc", (double)NAN);
    } else if (strcmp(k, "shuffle-2") == 0) {
        put_attr_int(f, "/", "shuffle", 2);
    } else if (strcmp(k, "world-size-huge") == 0) {
        put_attr_int(f, "/", "world_size", 1LL << 40);
    } else if (strcmp(k, "pp-contradicts") == 0) {
        put_attr_str(f, "/", "preprocess", "standardize");
    } else if (strcmp(k, "finished-7") == 0) {
        put_attr_int(f, "/", "finished", 7);
    } else if (strcmp(k, "history-acc") == 0) {
        set_element(f, "/history/train_acc", 0, 7.5);
    } else if (strcmp(k, "check-step-ahead") == 0) {
        set_element(f, "/history/check_step", 0, 100);
    } else if (strcmp(k, "check-step-repeat") == 0) {
        set_element(f, "/history/check_step", 1, 0);
    } else if (strcmp(k, "history-lr-zero") == 0) {
        set_element(f, "/history/lr", 1, 0);
    } else if (strcmp(k, "history-lr-huge") == 0) {
        set_element(f, "/history/lr", 1, 1e300);
    } else if (strcmp(k, "val-acc-nan-one") == 0) {
        set_element(f, "/history/val_acc", 1, (double)NAN);
    } else if (strcmp(k, "best-acc-above-1") == 0) {
        put_attr_double(f, "/best", "best_val_acc", 1.0000001);
    } else if (strcmp(k, "best-acc-huge") == 0) {
        put_attr_double(f, "/best", "best_val_acc", 1e300);
    } else if (strcmp(k, "no-data-hash") == 0) {
        check(H5Adelete_by_name(f, "/", "data_hash", H5P_DEFAULT), "delete data_hash");
    } else if (strcmp(k, "checks-extra") == 0) {
        /* values a check could hold: only their number is wrong */
        append_element(f, "/history/train_acc", 0.5);
        append_element(f, "/history/val_acc", 0.5);
        append_element(f, "/history/lr", 1e-3);
        append_element(f, "/history/check_step", 8);
    } else if (strcmp(k, "loss-extra") == 0) {
        append_element(f, "/history/loss", 1.0);
    } else if (strcmp(k, "pp-std-zero") == 0) {
        set_element(f, "/preprocess/std", 0, 0);
    } else if (strcmp(k, "best-acc-5") == 0) {
        put_attr_double(f, "/best", "best_val_acc", 5);
    } else if (strcmp(k, "best-step-ahead") == 0) {
        put_attr_int(f, "/best", "best_step", 100);
    } else if (strcmp(k, "best-step-neg") == 0) {
        put_attr_int(f, "/best", "best_step", -1);
    } else if (strcmp(k, "world-size-0") == 0) {
        put_attr_int(f, "/", "world_size", 0);
    } else if (strcmp(k, "bn-missing") == 0) {
        check(H5Ldelete(f, "/bn", H5P_DEFAULT), "delete /bn");
    } else if (strcmp(k, "w1-unwritten") == 0) {
        float *v = get_floats(f, "/params/W1", &n, dims);
        check(H5Ldelete(f, "/params/W1", H5P_DEFAULT), "delete");
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(2, dims, NULL);
        check(H5Pset_chunk(dcpl, 2, dims), "chunk");
        check(H5Dclose(H5Dcreate2(f, "/params/W1", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)), "create");
        H5Sclose(space);
        H5Pclose(dcpl);
        free(v);
    } else if (strcmp(k, "best-bn-only") == 0) {
        put_attr_str(f, "/", "norm", "layernorm");
        check(H5Ldelete(f, "/bn", H5P_DEFAULT), "delete /bn");
    } else if (strcmp(k, "data-empty") == 0) {
        put_attr_str(f, "/", "data", "");
    } else if (strcmp(k, "run-id-array") == 0) {
        const hsize_t count = (hsize_t)1 << 20;
        long long *ids = calloc((size_t)count, sizeof *ids);
        if (!ids) die("out of memory", k);
        put_attr_int_array(f, "/", "run_id", ids, count);
        free(ids);
    } else if (strcmp(k, "format-heap-len") == 0) {
        H5Adelete_by_name(f, "/", "format", H5P_DEFAULT);
        hid_t str = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
        H5Tset_size(str, H5T_VARIABLE);
        hid_t a = H5Acreate_by_name(f, "/", "format", str, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0) die("cannot create attribute", "format");
        const char *text = "fcnet-checkpoint";
        check(H5Awrite(a, str, &text), "format");
        H5Aclose(a);
        H5Sclose(space);
        H5Tclose(str);
    } else if (strcmp(k, "preprocess-shape") == 0) {
        double v[3] = {0, 0, 0};
        hsize_t d1[1] = {3};
        check(H5Ldelete(f, "/preprocess/mean", H5P_DEFAULT), "delete");
        put(f, "/preprocess/mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1, v);
    } else {
        die("unknown ckpt kind", k);
    }
    if (H5Fclose(f) < 0) die("cannot close", out);
    if (strcmp(k, "format-heap-len") == 0) corrupt_heap_object_size(out, 1000000000000ull);
}

/* ---- --init-from files: /params only, for --hidden 8 on 4 features and 3 classes ---- */

static const char *const params_kinds[] = {
    "shapes",    /* W1 (4, 9) and b1 (9,): a --hidden 9 model */
    "missing",   /* no W2 */
    "inf",       /* Inf in W2 */
    "transposed", /* W1 (8, 4): PyTorch's nn.Linear.weight written as it stands */
    NULL};

static void write_params(const char *kind, const char *out)
{
    const char *k = kind;
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die("cannot create", out);
    int h = strcmp(k, "shapes") == 0 ? 9 : 8;
    double w1[D * 9], b1[9] = {0}, w2[9 * C], b2[C] = {0};
    for (int i = 0; i < D * 9; i++) w1[i] = 0.01 * (i % 7 - 3);
    for (int i = 0; i < 9 * C; i++) w2[i] = 0.01 * (i % 5 - 2);
    if (strcmp(k, "inf") == 0) w2[4] = (double)INFINITY;
    const int transposed = strcmp(k, "transposed") == 0;
    hsize_t d_w1[2] = {transposed ? (hsize_t)h : D, transposed ? D : (hsize_t)h};
    hsize_t d_b1[1] = {(hsize_t)h}, d_w2[2] = {(hsize_t)h, C}, d_b2[1] = {C};
    put(f, "/params/W1", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d_w1, w1);
    put(f, "/params/b1", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d_b1, b1);
    if (strcmp(k, "missing") != 0) put(f, "/params/W2", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d_w2, w2);
    put(f, "/params/b2", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d_b2, b2);
    if (H5Fclose(f) < 0) die("cannot close", out);
}

/* ---- a dataset declared larger than memory ---- */

/* /train/x (rows, 1024) float32 and /train/y (rows) int32, chunked and never written: the file stays a few
 * KB whatever rows says, and reading it would yield zeros (HDF5's fill value). */
static void write_big(const char *rows_text, const char *out)
{
    char *end = NULL;
    const unsigned long long rows = strtoull(rows_text, &end, 10);
    if (!end || *end || rows == 0) die("rows must be a positive integer", rows_text);
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die("cannot create", out);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hsize_t xdims[2] = {rows, 1024}, xchunk[2] = {256, 1024}, ydims[1] = {rows}, ychunk[1] = {65536};
    const struct {
        const char *name;
        hid_t type;
        int rank;
        const hsize_t *dims, *chunk;
    } sets[2] = {{"/train/x", H5T_IEEE_F32LE, 2, xdims, xchunk}, {"/train/y", H5T_STD_I32LE, 1, ydims, ychunk}};
    for (int i = 0; i < 2; i++) {
        hid_t space = H5Screate_simple(sets[i].rank, sets[i].dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        check(H5Pset_chunk(dcpl, sets[i].rank, sets[i].chunk), sets[i].name);
        hid_t d = H5Dcreate2(f, sets[i].name, sets[i].type, space, lcpl, dcpl, H5P_DEFAULT);
        if (d < 0) die("cannot create dataset", sets[i].name);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    H5Pclose(lcpl);
    put_attr_int(f, "/", "num_classes", 3);
    check(H5Fclose(f), out);
}

/* ---- a flipped byte inside a chunk ---- */

/* XORs the byte at file offset at with 0x5a, in place. */
static void flip_byte_at(const char *path, long at)
{
    FILE *fp = fopen(path, "r+b");
    if (!fp) die("cannot open for writing", path);
    if (fseek(fp, at, SEEK_SET) != 0) die("seek failed", path);
    int c = fgetc(fp);
    if (c == EOF) die("read failed", path);
    fseek(fp, at, SEEK_SET);
    fputc(c ^ 0x5a, fp);
    if (fclose(fp) != 0) die("write failed", path);
}

static void flip(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) die("cannot open", path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) die("no such dataset", name);
    hsize_t offset[H5S_MAX_RANK];
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    hid_t space = H5Dget_space(d);
    check(H5Dget_chunk_info(d, space, 0, offset, &mask, &addr, &size), "H5Dget_chunk_info");
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    if (size < 8) die("chunk too small to corrupt", name);
    flip_byte_at(path, (long)(addr + size / 2));
}

/* ---- a corrupted datatype size in an object header ---- */

/* File offset of the object header of object name (a group or dataset). */
static haddr_t header_address(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) die("cannot open", path);
    hid_t o = H5Oopen(f, name, H5P_DEFAULT);
    if (o < 0) die("no such object", name);
    haddr_t header;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    check(H5Oget_info3(o, &info, H5O_INFO_BASIC), "H5Oget_info3");
    memcpy(&header, &info.token, sizeof header); /* the native file format's token is the address */
#else
    H5O_info_t info;
    check(H5Oget_info2(o, &info, H5O_INFO_BASIC), "H5Oget_info2");
    header = info.addr;
#endif
    H5Oclose(o);
    H5Fclose(f);
    return header;
}

/* Flips one byte 20 bytes into the object header of name: inside its first chunk, which HDF5 1.10's
 * format checksums. */
static void flip_header(const char *path, const char *name) { flip_byte_at(path, (long)header_address(path, name) + 20); }

static void flip_continuation(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) die("cannot open", path);
    long at = -1, pos = 0;
    char window[4] = {0};
    for (int c; at < 0 && (c = fgetc(fp)) != EOF; pos++) {
        memmove(window, window + 1, 3);
        window[3] = (char)c;
        if (memcmp(window, "OCHK", 4) == 0) at = pos - 3;
    }
    fclose(fp);
    if (at < 0) die("no object-header continuation block (OCHK) in", path);
    flip_byte_at(path, at + 6); /* past the signature and version: inside the block's messages */
}

static void typesize(const char *path, const char *name)
{
    haddr_t header = header_address(path, name);
    /* Datatype message, version 1, class float; bit field of IEEE little-endian float32; size 4. */
    static const unsigned char float32_le[8] = {0x11, 0x20, 0x1f, 0x00, 0x04, 0x00, 0x00, 0x00};
    FILE *fp = fopen(path, "r+b");
    if (!fp) die("cannot open for writing", path);
    unsigned char buf[512];
    if (fseek(fp, (long)header, SEEK_SET) != 0) die("seek failed", path);
    size_t got = fread(buf, 1, sizeof buf, fp);
    size_t at = 0;
    while (at + sizeof float32_le <= got && memcmp(buf + at, float32_le, sizeof float32_le) != 0) at++;
    if (at + sizeof float32_le > got) die("no float32 datatype message in the object header of", name);
    fseek(fp, (long)(header + at + 5), SEEK_SET);
    fputc(0x1e, fp); /* size 0x00001e04 */
    if (fclose(fp) != 0) die("write failed", path);
}

/* Exits without closing the file: HDF5's format 1.10 (superblock version 3) marks a file open for writing while
 * a writer has it, and only closing it clears the mark, as after a kill -9 of an h5py writer. */
static void write_marked(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    check(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "libver bounds");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) die("cannot create", path);
    hid_t g = H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(g, "H5Gcreate2");
    check(H5Gclose(g), "H5Gclose");
    check(H5Fflush(f, H5F_SCOPE_GLOBAL), "H5Fflush");
    _exit(0);
}

static int known(const char *const *kinds, const char *k)
{
    for (int i = 0; kinds[i]; i++)
        if (strcmp(kinds[i], k) == 0) return 1;
    return 0;
}

static void print_kinds(const char *mode, const char *const *kinds)
{
    printf("%s:", mode);
    for (int i = 0; kinds[i]; i++) printf(" %s", kinds[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        print_kinds("data", data_kinds);
        print_kinds("ckpt", ckpt_kinds);
        print_kinds("params", params_kinds);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "data") == 0 && known(data_kinds, argv[2])) {
        write_data(argv[2], argv[3]);
    } else if (argc == 5 && strcmp(argv[1], "ckpt") == 0 && known(ckpt_kinds, argv[2])) {
        write_ckpt(argv[2], argv[3], argv[4]);
    } else if (argc == 4 && strcmp(argv[1], "params") == 0 && known(params_kinds, argv[2])) {
        write_params(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "big") == 0) {
        write_big(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "flip") == 0) {
        flip(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "typesize") == 0) {
        typesize(argv[2], argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "fliphdr") == 0) {
        flip_header(argv[2], argv[3]);
    } else if (argc == 3 && strcmp(argv[1], "flipcont") == 0) {
        flip_continuation(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "marked") == 0) {
        write_marked(argv[2]);
    } else {
        fprintf(stderr, "usage: bad_inputs data|params KIND OUT | ckpt KIND GOOD OUT | big ROWS OUT | flip|typesize "
                        "FILE DATASET | fliphdr FILE OBJECT | flipcont FILE | marked OUT | list\n");
        return 2;
    }
    return 0;
}
