/* HDF5 checkpoints (layout: the README's "What is saved, and when"). Every HDF5 call is checked; the first failure is turned into one line
 * "<file>: <object>: <reason>" and every later helper does nothing (a sticky status), so the save and
 * load routines read as straight lists of what is written or read. */

#include "fcnet/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/dist.h"
#include "fcnet/h5contained.h"
#include "fcnet/h5quiet.h"
#include "fcnet/optim.h"
#include "fcnet/read_guard.h"
#include "fcnet/version.h"

/* The model's arrays are stored in the precision they are computed in: float32, float64 from the double build
 * (in float32 its resume would not continue bitwise, and its comparisons would see float rounding only). */
#ifdef FC_REAL_DOUBLE
#define FC_H5_REAL H5T_NATIVE_DOUBLE
#define FC_H5_REAL_FILE H5T_IEEE_F64LE
#else
#define FC_H5_REAL H5T_NATIVE_FLOAT
#define FC_H5_REAL_FILE H5T_IEEE_F32LE
#endif

/* Target chunk size in elements: 1 MiB of float32. Fletcher32 checks each chunk on read, so a chunk is
 * the unit that is verified; HDF5's default chunk cache is 1 MiB, so larger chunks would bypass it. */
#define CHUNK_ELEMS ((hsize_t)1 << 18)

/* Command-line spellings (the README's Running section); the enum value indexes the table. */
static const char *const norm_names[] = {"none", "batchnorm", "layernorm"};
static const char *const init_names[] = {"normal", "he"};

static int parse_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------------------------------------ */
/* Error capture                                                                                     */

typedef struct h5_error {
    char desc[256]; /* innermost HDF5 message: the most specific reason */
    int checksum;   /* a Fletcher32 or metadata checksum failed somewhere in the stack */
    int sys_errno;  /* the system call's errno when HDF5's message carries one (a full disk: ENOSPC) */
} h5_error;

static herr_t walk_error(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_error *h = data;
    if (!e->desc) return 0;
    if (n == 0) snprintf(h->desc, sizeof h->desc, "%s", e->desc);
    if (strstr(e->desc, "checksum") || strstr(e->desc, "Fletcher32")) h->checksum = 1;
    if (!h->sys_errno) h->sys_errno = fc_h5_desc_errno(e->desc);
    return 0;
}

/* Reads the current HDF5 error stack. Must run right after the failing call: the next API call clears it. */
static h5_error h5_last_error(void)
{
    h5_error h;
    memset(&h, 0, sizeof h);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_error, &h);
    return h;
}

/* ------------------------------------------------------------------------------------------------ */
/* Sticky I/O context                                                                                */

typedef struct ckpt_io {
    const char *path;    /* file named in messages (the final path also while the temp file is written) */
    const char *prefix;  /* "cannot write checkpoint " while saving, "" while reading */
    const char *noun;    /* "checkpoint" or "file": "shape (2,) in the checkpoint, (3,) expected" */
    int hint_transposed; /* --init-from or eval: a W stored (fan_out, fan_in), as PyTorch does, gets a hint */
    fc_status code;      /* recorded on failure: FC_ERR_FAIL when writing, FC_ERR_INPUT when reading */
    fc_status st;        /* first failure; once set, every helper returns at once */
    hid_t file;          /* open file or -1 */
    hid_t lcpl;          /* link creation: intermediate groups created on the fly (writing only) */
    fc_h5_quiet quiet;   /* reading: HDF5's own error printing is off from r_open to r_close */
} ckpt_io;

static void io_init(ckpt_io *io, const char *path, int writing)
{
    memset(io, 0, sizeof *io);
    io->path = path;
    io->prefix = writing ? "cannot write checkpoint " : "";
    io->noun = "checkpoint";
    io->code = writing ? FC_ERR_FAIL : FC_ERR_INPUT;
    io->st = FC_OK;
    io->file = -1;
    io->lcpl = -1;
}

static void io_fail(ckpt_io *io, const char *object, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void io_fail(ckpt_io *io, const char *object, const char *fmt, ...)
{
    if (io->st != FC_OK) return;
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    io->st = fc_error_set(io->code, "%s%s: %s: %s", io->prefix, io->path, object, reason);
}

/* Records the failure of the HDF5 call just made ("what" failed on object). */
static void io_fail_h5(ckpt_io *io, const char *object, const char *what)
{
    h5_error h = h5_last_error();
    if (h.checksum)
        io_fail(io, object, "checksum mismatch (file corrupted)");
    else if (h.sys_errno > 0)
        io_fail(io, object, "%s failed: %s", what, fc_errno_reason(h.sys_errno).text);
    else if (h.desc[0])
        io_fail(io, object, "%s failed (%s)", what, h.desc);
    else
        io_fail(io, object, "%s failed", what);
}

/* Python-style shape text: "(100, 10)", "(10,)", "()". */
static const char *shape_text(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, rank == 1 ? ",)" : ")");
    return buf;
}

/* cs231n shapes: weights are always 2-D (even with fan_in 1), vectors 1-D. */
static int view_dims(const fc_view *v, hsize_t dims[2])
{
    if (!fc_view_is_vector(v)) {
        dims[0] = (hsize_t)v->rows;
        dims[1] = (hsize_t)v->cols;
        return 2;
    }
    dims[0] = (hsize_t)v->cols;
    return 1;
}

/* ------------------------------------------------------------------------------------------------ */
/* Writing                                                                                           */

/* Creates group name (absolute) with any missing parents. */
static void w_group(ckpt_io *io, const char *name)
{
    if (io->st) return;
    hid_t g = H5Gcreate2(io->file, name, io->lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        io_fail_h5(io, name, "creating the group");
        return;
    }
    H5Gclose(g);
}

/* Attribute attr on object obj (absolute path) of file type ftype, written from memory type mtype. */
static void w_attr(ckpt_io *io, const char *obj, const char *attr, hid_t ftype, hid_t mtype, hid_t space,
                   const void *data)
{
    if (io->st) return;
    char object[320];
    snprintf(object, sizeof object, "attribute '%s' of %s", attr, obj);
    hid_t a = H5Acreate_by_name(io->file, obj, attr, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        io_fail_h5(io, object, "creating");
        return;
    }
    if (H5Awrite(a, mtype, data) < 0) io_fail_h5(io, object, "writing");
    H5Aclose(a);
}

static void w_attr_scalar(ckpt_io *io, const char *obj, const char *attr, hid_t ftype, hid_t mtype,
                          const void *data)
{
    if (io->st) return;
    hid_t s = H5Screate(H5S_SCALAR);
    w_attr(io, obj, attr, ftype, mtype, s, data);
    H5Sclose(s);
}

static void w_attr_i64(ckpt_io *io, const char *obj, const char *attr, int64_t v)
{
    w_attr_scalar(io, obj, attr, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static void w_attr_u64(ckpt_io *io, const char *obj, const char *attr, uint64_t v)
{
    w_attr_scalar(io, obj, attr, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

static void w_attr_f64(ckpt_io *io, const char *obj, const char *attr, double v)
{
    w_attr_scalar(io, obj, attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Fixed-length string (h5py reads numpy bytes, h5dump prints it plainly). Not variable-length: those
 * live in the global heap, which has no checksum, and HDF5 crashes reading a corrupted one; a fixed
 * string sits inside the checksummed attribute storage. */
static void w_attr_str(ckpt_io *io, const char *obj, const char *attr, const char *v)
{
    if (io->st) return;
    size_t n = strlen(v);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, n ? n : 1);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    H5Tset_cset(type, H5T_CSET_UTF8);
    w_attr_scalar(io, obj, attr, type, type, n ? v : "");
    H5Tclose(type);
}

static void w_attr_ints(ckpt_io *io, const char *obj, const char *attr, const int *v, int n)
{
    if (io->st) return;
    hsize_t dim = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    w_attr(io, obj, attr, H5T_STD_I32LE, H5T_NATIVE_INT, s, v);
    H5Sclose(s);
}

/* Dataset name (absolute) of rank 1 or 2, chunked with Fletcher32 so that corruption is detected on
 * read. Empty arrays get an unlimited maximum size: a fixed-size dataset cannot hold a chunk larger
 * than itself, and a chunk has at least one element. */
static void w_array(ckpt_io *io, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                    const void *data)
{
    if (io->st) return;
    hsize_t maxdims[2], chunk[2];
    hsize_t inner = rank == 2 ? dims[1] : 1;
    for (int i = 0; i < rank; i++) maxdims[i] = dims[i] == 0 ? H5S_UNLIMITED : dims[i];
    if (rank == 2) {
        chunk[1] = dims[1] ? dims[1] : 1;
        hsize_t rows = inner ? CHUNK_ELEMS / inner : 1;
        if (rows < 1) rows = 1;
        chunk[0] = dims[0] == 0 ? 1 : rows < dims[0] ? rows : dims[0];
    } else {
        chunk[0] = dims[0] == 0 ? 1 : dims[0] < CHUNK_ELEMS ? dims[0] : CHUNK_ELEMS;
    }
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        io_fail_h5(io, name, "setting up");
        goto done;
    }
    d = H5Dcreate2(io->file, name, ftype, space, io->lcpl, dcpl, H5P_DEFAULT);
    if (d < 0) {
        io_fail_h5(io, name, "creating the dataset");
        goto done;
    }
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (n > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) io_fail_h5(io, name, "writing");
done:
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
}

static void w_doubles(ckpt_io *io, const char *name, const double *v, int64_t n)
{
    hsize_t dim = (hsize_t)n;
    w_array(io, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dim, v);
}

/* Every view of layout as group/<view name>, float32 in the file. */
static void w_views(ckpt_io *io, const char *group, const fc_layout *layout, const fc_real *arena)
{
    char name[128];
    for (int i = 0; i < layout->n_views && !io->st; i++) {
        const fc_view *v = &layout->views[i];
        hsize_t dims[2];
        int rank = view_dims(v, dims);
        snprintf(name, sizeof name, "%s/%s", group, v->name);
        w_array(io, name, FC_H5_REAL_FILE, FC_H5_REAL, rank, dims, arena + v->offset);
    }
}

/* Root attributes: format, versions and every hyperparameter (read back by fc_ckpt_read_config). */
static void w_root_attrs(ckpt_io *io, const fc_trainer *t)
{
    const fc_config *c = t->cfg;
    const fc_net *net = &t->net;
    w_attr_str(io, "/", "format", FC_CKPT_FORMAT);
    w_attr_i64(io, "/", "format_version", FC_CKPT_FORMAT_VERSION);
    w_attr_str(io, "/", "program_version", FC_VERSION);
    w_attr_str(io, "/", "fc_real", FC_REAL_NAME);
    /* Provenance, as fcnet_dist --version words it: another BLAS kernel or library changes the last bits. */
    char library[FC_VERSION_TEXT_MAX];
    fc_version_mpi(library, sizeof library);
    w_attr_str(io, "/", "mpi_library", library);
    fc_version_blas(library, sizeof library);
    w_attr_str(io, "/", "blas_library", library);
    fc_version_hdf5(library, sizeof library);
    w_attr_str(io, "/", "hdf5_library", library);
    w_attr_i64(io, "/", "n_input", net->dims[0]);
    w_attr_i64(io, "/", "n_classes", net->dims[net->n_layers]);
    w_attr_i64(io, "/", "n_hidden", c->n_hidden);
    w_attr_ints(io, "/", "hidden", c->hidden, c->n_hidden);
    w_attr_str(io, "/", "norm", norm_names[c->norm]);
    w_attr_f64(io, "/", "keep", c->keep);
    w_attr_f64(io, "/", "reg", c->reg);
    w_attr_f64(io, "/", "weight_scale", c->weight_scale);
    w_attr_str(io, "/", "init", init_names[c->init]);
    w_attr_f64(io, "/", "bn_momentum", c->bn_momentum);
    w_attr_str(io, "/", "optimizer", fc_optim_name(c->optim.kind));
    w_attr_f64(io, "/", "lr", c->optim.lr);
    w_attr_f64(io, "/", "lr_decay", c->optim.lr_decay);
    w_attr_f64(io, "/", "momentum", c->optim.momentum);
    w_attr_f64(io, "/", "decay_rate", c->optim.decay_rate);
    w_attr_f64(io, "/", "beta1", c->optim.beta1);
    w_attr_f64(io, "/", "beta2", c->optim.beta2);
    w_attr_f64(io, "/", "eps", c->optim.eps);
    w_attr_i64(io, "/", "batch_size", c->batch_size);
    w_attr_i64(io, "/", "epochs", c->epochs);
    w_attr_u64(io, "/", "seed", c->seed);
    w_attr_f64(io, "/", "val_size", c->val_size);
    w_attr_str(io, "/", "preprocess", fc_preprocess_name(c->preprocess));
    w_attr_i64(io, "/", "shuffle", c->shuffle ? 1 : 0);
    w_attr_str(io, "/", "data", c->data);
    w_attr_i64(io, "/", "steps_per_epoch", t->steps_per_epoch);
    w_attr_i64(io, "/", "train_rows", t->data.train.n);
    w_attr_u64(io, "/", "data_hash", t->data_hash);
    w_attr_i64(io, "/", "epoch", t->epoch);
    w_attr_i64(io, "/", "epoch_step", t->epoch_step);
    w_attr_i64(io, "/", "step", t->step);
    w_attr_i64(io, "/", "finished", t->finished ? 1 : 0);
    w_attr_i64(io, "/", "world_size", fc_dist_size(t->dist));
    w_attr_i64(io, "/", "run_id", (int64_t)t->run_id);
}

/* Simulated write failure (disk full, EIO) for the atomicity tests: only after some data is on disk. */
static void fault_after_partial_write(ckpt_io *io, const char *tmp)
{
    const char *fault = getenv("FCNET_FAULT_CKPT");
    if (io->st || !fault || strcmp(fault, "fail-write") != 0) return;
    H5Fflush(io->file, H5F_SCOPE_GLOBAL);
    io_fail(io, tmp, "write failed (simulated by FCNET_FAULT_CKPT=fail-write)");
}

static void w_trainer(ckpt_io *io, const fc_trainer *t, const char *tmp)
{
    const fc_net *net = &t->net;
    w_root_attrs(io, t);
    w_views(io, "/params", &net->layout, net->params);
    fault_after_partial_write(io, tmp);
    if (net->bn_layout.n_views > 0) w_views(io, "/bn", &net->bn_layout, net->bn_stats);

    /* Optimizer: one group per parameter holding its slots (none for plain sgd). */
    const fc_optim *opt = &t->opt;
    w_group(io, "/optim");
    w_attr_str(io, "/optim", "name", fc_optim_name(opt->cfg.kind));
    w_attr_i64(io, "/optim", "t", opt->t);
    w_attr_f64(io, "/optim", "lr", opt->lr);
    for (int s = 0; s < opt->n_slots; s++) {
        const char *slot = fc_optim_slot_name(opt->cfg.kind, s);
        char name[128];
        for (int i = 0; i < net->layout.n_views && !io->st; i++) {
            const fc_view *v = &net->layout.views[i];
            hsize_t dims[2];
            int rank = view_dims(v, dims);
            snprintf(name, sizeof name, "/optim/%s/%s", v->name, slot);
            w_array(io, name, FC_H5_REAL_FILE, FC_H5_REAL, rank, dims, opt->slot[s] + v->offset);
        }
    }

    const fc_history *h = &t->hist;
    w_doubles(io, "/history/loss", h->loss, h->n_loss);
    w_doubles(io, "/history/train_acc", h->train_acc, h->n_checks);
    w_doubles(io, "/history/val_acc", h->val_acc, h->n_checks);
    w_doubles(io, "/history/lr", h->lr, h->n_checks);
    hsize_t n_checks = (hsize_t)h->n_checks;
    w_array(io, "/history/check_step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &n_checks, h->check_step);

    w_group(io, "/best");
    if (t->best_params) w_views(io, "/best/params", &net->layout, t->best_params);
    if (t->best_bn && net->bn_layout.n_views > 0) w_views(io, "/best/bn", &net->bn_layout, t->best_bn);
    w_attr_f64(io, "/best", "best_val_acc", t->best_val_acc);
    w_attr_i64(io, "/best", "best_step", t->best_step);

    const fc_preprocess *pp = &t->pp;
    w_group(io, "/preprocess");
    w_attr_str(io, "/preprocess", "kind", fc_preprocess_name(pp->kind));
    if (pp->kind != FC_PRE_NONE) w_doubles(io, "/preprocess/mean", pp->mean, pp->d);
    if (pp->kind == FC_PRE_STANDARDIZE) w_doubles(io, "/preprocess/std", pp->std, pp->d);
}

/* Splits path into its directory ("." when none) and base name. Returns 0 when path names no file. */
static int split_path(const char *path, char *dir, size_t dir_size, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (**base == '\0') return 0;
    if (!slash)
        snprintf(dir, dir_size, ".");
    else if (slash == path)
        snprintf(dir, dir_size, "/");
    else
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
    return 1;
}

/* File access for every open and create: objects left open are closed with the file (no leaked ids on
 * error paths); file locks skipped, not fatal, on file systems without them (NFS, Lustre); and the
 * HDF5 1.10 object formats when writing. Those checksum all metadata including the chunk indexes: with
 * the 1.8 formats a flipped bit in a v1 B-tree makes a chunk read back silently as fill zeros. Reading
 * needs HDF5 >= 1.10 (any current h5py). */
static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 1, 1); /* as data.c: do not fail where the file system has no locks */
#endif
    return fapl;
}

static fc_status save_quietly(const fc_trainer *t, const char *path)
{
    ckpt_io io;
    io_init(&io, path, 1);
    char dir[FC_PATH_MAX], tmp[FC_PATH_MAX + 64];
    const char *base;
    if (!split_path(path, dir, sizeof dir, &base)) {
        io_fail(&io, "path", "names a directory, not a file");
        return io.st;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, base, (long)getpid());

    hid_t fapl = make_fapl();
    io.lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(io.lcpl, 1);
    /* Created anew, never truncated: whatever lies at that name (a symbolic link another user of --out
     * planted, to have the checkpoint's bytes written over its target) is removed first. */
    unlink(tmp);
    io.file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    int created = io.file >= 0;
    if (!created) io_fail_h5(&io, tmp, "creating the temporary file"); /* before H5Pclose clears the stack */
    H5Pclose(fapl);

    w_trainer(&io, t, tmp);

    if (io.st == FC_OK && H5Fflush(io.file, H5F_SCOPE_GLOBAL) < 0) io_fail_h5(&io, tmp, "flushing");
    if (created) {
        /* Closing writes the remaining metadata, so it can fail on a full disk too. */
        if (H5Fclose(io.file) < 0) io_fail_h5(&io, tmp, "closing");
        io.file = -1;
    }
    H5Pclose(io.lcpl);

    /* Data on disk before the rename makes it visible, and the rename on disk before we report success. */
    int err;
    if (io.st == FC_OK && (err = fc_sync_path(tmp, 0)) != 0) io_fail(&io, tmp, "fsync failed: %s", strerror(err));
    if (io.st == FC_OK && rename(tmp, path) != 0)
        io_fail(&io, tmp, "renaming over the checkpoint failed: %s", strerror(errno));
    if (io.st != FC_OK) {
        /* Also when H5Fcreate failed: it may have left the file behind (a full disk fails its first write). */
        unlink(tmp);
        return io.st;
    }
    /* Some file systems cannot sync a directory (EINVAL); the rename is then as durable as they allow. */
    err = fc_sync_path(dir, 1);
    if (err != 0 && err != EINVAL && err != ENOTSUP)
        return fc_error_set(FC_ERR_FAIL, "checkpoint %s written, but syncing its directory %s failed: %s", path,
                            dir, strerror(err));
    return FC_OK;
}

static double layout_elements(const fc_layout *layout)
{
    double n = 0;
    for (int i = 0; i < layout->n_views; i++) n += (double)fc_view_size(&layout->views[i]);
    return n;
}

double fc_ckpt_min_bytes(const fc_trainer *t)
{
    const double params = layout_elements(&t->net.layout), bn = layout_elements(&t->net.bn_layout);
    const double copies = 1 + t->opt.n_slots + (t->best_params != NULL);
    /* + HDF5's superblock, object headers and attributes: about 11 kB in the smallest checkpoint (a softmax
     * classifier under sgd), of which 8 KiB are counted, so a tiny net is not let past a room of 2 kB */
    return (double)H5Tget_size(FC_H5_REAL_FILE) * (copies * params + (1 + (t->best_bn != NULL)) * bn) + 8192.0;
}

fc_status fc_ckpt_save(const fc_trainer *t, const char *path)
{
    fc_h5_quiet quiet;
    fc_h5_quiet_begin(&quiet);
    fc_status st = save_quietly(t, path);
    fc_h5_quiet_end(&quiet);
    return st;
}

/* ------------------------------------------------------------------------------------------------ */
/* Reading                                                                                           */

static void r_open(ckpt_io *io, const char *path)
{
    fc_h5_quiet_begin(&io->quiet);
    fc_read_guard_begin(path);
    /* HDF5's own message for a directory is a multi-field dump, and a FIFO would block H5Fopen forever */
    const char *problem = fc_input_file_problem(path);
    if (problem || access(path, R_OK) != 0) {
        io_fail(io, "cannot open", "%s", problem ? problem : strerror(errno));
        return;
    }
    hid_t fapl = make_fapl();
    io->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (io->file < 0) {
        h5_error h = h5_last_error();
        const char *refusal = fc_h5_open_refusal(h.desc);
        if (refusal)
            io_fail(io, "cannot open", "%s", refusal);
        else if (H5Fis_hdf5(path) <= 0) /* the same words as a dataset's (data.c) */
            io->st = fc_error_set(io->code, "%s%s: not an HDF5 file", io->prefix, io->path);
        else
            io->st = fc_error_set(io->code, "%s%s: truncated or corrupt HDF5 file (%s)", io->prefix, io->path,
                                  h.desc[0] ? h.desc : "H5Fopen failed");
    }
    H5Pclose(fapl);
    char object[256], why[512];
    const int foreign = io->file >= 0 ? fc_h5_foreign_object(io->file, object, sizeof object, why, sizeof why) : 0;
    if (foreign > 0) io_fail(io, object, "%s", why);
    if (foreign < 0 && io->st == FC_OK)
        io->st = fc_error_set(io->code, "%s%s: truncated or corrupt HDF5 file (%s)", io->prefix, io->path, why);
}

static void r_close(ckpt_io *io)
{
    if (io->file >= 0) H5Fclose(io->file);
    io->file = -1;
    fc_read_guard_end();
    fc_h5_quiet_end(&io->quiet);
}

/* 1 when every component of the absolute path name exists (H5Lexists fails on a missing parent); 0 when
 * one is missing, or after recording why a lookup failed (a corrupted header is not a missing object). */
static int r_exists(ckpt_io *io, const char *name)
{
    char part[256];
    const char *p = name;
    while (*p) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - name) : strlen(name);
        if (len >= sizeof part) return 0;
        memcpy(part, name, len);
        part[len] = '\0';
        htri_t found = strcmp(part, "/") == 0 ? 1 : H5Lexists(io->file, part, H5P_DEFAULT);
        if (found < 0) io_fail_h5(io, part, "looking it up");
        if (found <= 0) return 0;
        if (!next) break;
        p = next;
    }
    return 1;
}

/* Opens dataset name (absolute); -1 after recording why (missing, or HDF5 refused). */
static hid_t r_open_dataset(ckpt_io *io, const char *name)
{
    if (io->st) return -1;
    if (!r_exists(io, name)) {
        io_fail(io, name, "missing in the %s", io->noun);
        return -1;
    }
    hid_t d = H5Dopen2(io->file, name, H5P_DEFAULT);
    if (d < 0) {
        io_fail_h5(io, name, "opening the dataset");
        return -1;
    }
    char why[256];
    if (fc_h5_missing_filter(d, why, sizeof why)) {
        io_fail(io, name, "%s", why);
        H5Dclose(d);
        return -1;
    }
    return d;
}

/* Opens dataset name (absolute) and checks its type class (float when want_float, else integer) and
 * shape against rank/dims; returns the open dataset or -1 after recording the failure. */
static hid_t r_open_array(ckpt_io *io, const char *name, int want_float, int rank, const hsize_t *dims)
{
    hid_t d = r_open_dataset(io, name);
    if (d < 0) return -1;
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(type);
    hsize_t got[H5S_MAX_RANK];
    int got_rank = H5Sget_simple_extent_ndims(space);
    if (got_rank > H5S_MAX_RANK || got_rank < 0) got_rank = 0;
    H5Sget_simple_extent_dims(space, got, NULL);
    H5Tclose(type);
    H5Sclose(space);
    if (want_float && cls != H5T_FLOAT) {
        io_fail(io, name, "not a floating-point dataset (float32 or float64 expected)");
    } else if (!want_float && cls != H5T_INTEGER) {
        io_fail(io, name, "not an integer dataset");
    } else {
        int same = got_rank == rank;
        for (int i = 0; same && i < rank; i++) same = got[i] == dims[i];
        if (!same) {
            char a[96], b[96];
            /* An --init-from weight written from PyTorch as it stands, (fan_out, fan_in): say what to do. */
            const int transposed = rank == 2 && got_rank == 2 && got[0] == dims[1] && got[1] == dims[0] &&
                                   io->hint_transposed && strncmp(name, "/params/W", 9) == 0;
            io_fail(io, name, "shape %s in the %s, %s expected%s", shape_text(a, sizeof a, got_rank, got), io->noun,
                    shape_text(b, sizeof b, rank, dims),
                    transposed ? " (transposed: W is (fan_in, fan_out), PyTorch's nn.Linear.weight is (fan_out, "
                                 "fan_in); write weight.T)"
                               : "");
        }
    }
    /* As for datasets: a tensor whose chunks were never written read as zeros, and a zeroed /params/W1
     * was evaluated or resumed with exit 0. (Checked once type and shape fit, which name more.) */
    if (!io->st && fc_h5_never_written(d))
        io_fail(io, name, "part of its data was never written (it would read as the fill value)");
    if (io->st) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

static void r_array(ckpt_io *io, const char *name, int want_float, hid_t mtype, int rank, const hsize_t *dims,
                    void *buf)
{
    hid_t d = r_open_array(io, name, want_float, rank, dims);
    if (d < 0) return;
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) io_fail_h5(io, name, "reading");
    H5Dclose(d);
}

/* Length of the 1-D dataset name, or -1 after recording the failure. */
static int64_t r_length(ckpt_io *io, const char *name)
{
    hid_t d = r_open_dataset(io, name);
    if (d < 0) return -1;
    hid_t space = H5Dget_space(d);
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank == 1) H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Dclose(d);
    if (rank != 1) {
        io_fail(io, name, "rank %d in the %s, 1 expected", rank, io->noun);
        return -1;
    }
    if (dims[0] > (hsize_t)INT64_MAX) {
        io_fail(io, name, "%llu elements: more than a 64-bit count", (unsigned long long)dims[0]);
        return -1;
    }
    return (int64_t)dims[0];
}

/* Opens attribute attr of obj holding n_expected elements (scalar counts as 1; n_expected < 0: any). */
static hid_t r_open_attr(ckpt_io *io, const char *obj, const char *attr, char *object, size_t object_size,
                         hssize_t n_expected)
{
    if (io->st) return -1;
    snprintf(object, object_size, "attribute '%s' of %s", attr, obj);
    htri_t exists = r_exists(io, obj) ? H5Aexists_by_name(io->file, obj, attr, H5P_DEFAULT) : 0;
    if (exists < 0) io_fail_h5(io, object, "looking it up");
    if (exists <= 0) {
        io_fail(io, object, "missing in the %s", io->noun);
        return -1;
    }
    hid_t a = H5Aopen_by_name(io->file, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        io_fail_h5(io, object, "opening");
        return -1;
    }
    hid_t space = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    if (n_expected >= 0 && n != n_expected) {
        io_fail(io, object, "%lld values in the %s, %lld expected", (long long)n, io->noun, (long long)n_expected);
        H5Aclose(a);
        return -1;
    }
    return a;
}

/* A whole-number attribute into *v (int64 or uint64): HDF5's own conversion would truncate 6.5 to 6 and
 * clamp 1e30 or -5 into range, so a value that is not a whole number in the target's range is refused. */
static void r_read_count(ckpt_io *io, hid_t a, const char *object, H5T_class_t cls, hid_t mtype, void *v)
{
    const int is_signed = H5Tequal(mtype, H5T_NATIVE_INT64) > 0;
    const double lo = is_signed ? -0x1p63 : 0, hi = is_signed ? 0x1p63 : 0x1p64; /* [lo, hi) */
    if (cls == H5T_FLOAT) {
        double d = 0;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &d) < 0) {
            io_fail_h5(io, object, "reading");
        } else if (!isfinite(d) || d != floor(d)) {
            io_fail(io, object, "%g is not a whole number", d);
        } else if (!(d >= lo && d < hi)) {
            io_fail(io, object, "%g is beyond a 64-bit %s count", d, is_signed ? "signed" : "unsigned");
        } else if (is_signed) {
            *(int64_t *)v = (int64_t)d;
        } else {
            *(uint64_t *)v = (uint64_t)d;
        }
        return;
    }
    hid_t ftype = H5Aget_type(a);
    const int file_signed = H5Tget_sign(ftype) == H5T_SGN_2;
    H5Tclose(ftype);
    if (file_signed) {
        int64_t x = 0;
        if (H5Aread(a, H5T_NATIVE_INT64, &x) < 0)
            io_fail_h5(io, object, "reading");
        else if (!is_signed && x < 0)
            io_fail(io, object, "%lld is negative", (long long)x);
        else if (is_signed)
            *(int64_t *)v = x;
        else
            *(uint64_t *)v = (uint64_t)x;
    } else {
        uint64_t x = 0;
        if (H5Aread(a, H5T_NATIVE_UINT64, &x) < 0)
            io_fail_h5(io, object, "reading");
        else if (is_signed && x > (uint64_t)INT64_MAX)
            io_fail(io, object, "%llu is beyond a 64-bit signed count", (unsigned long long)x);
        else if (is_signed)
            *(int64_t *)v = (int64_t)x;
        else
            *(uint64_t *)v = x;
    }
}

static void r_attr_num(ckpt_io *io, const char *obj, const char *attr, hid_t mtype, void *v)
{
    char object[320];
    hid_t a = r_open_attr(io, obj, attr, object, sizeof object, 1);
    if (a < 0) return;
    hid_t type = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(type);
    H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        io_fail(io, object, "not a number");
    else if (H5Tequal(mtype, H5T_NATIVE_DOUBLE) <= 0) /* a count */
        r_read_count(io, a, object, cls, mtype, v);
    else if (H5Aread(a, mtype, v) < 0)
        io_fail_h5(io, object, "reading");
    H5Aclose(a);
}

static int64_t r_attr_i64(ckpt_io *io, const char *obj, const char *attr)
{
    int64_t v = 0;
    r_attr_num(io, obj, attr, H5T_NATIVE_INT64, &v);
    return v;
}

static double r_attr_f64(ckpt_io *io, const char *obj, const char *attr)
{
    double v = 0;
    r_attr_num(io, obj, attr, H5T_NATIVE_DOUBLE, &v);
    return v;
}

/* A string attribute, variable- or fixed-length (as h5py and other writers store them), into buf. */
static void r_attr_str(ckpt_io *io, const char *obj, const char *attr, char *buf, size_t size)
{
    buf[0] = '\0';
    char object[320];
    hid_t a = r_open_attr(io, obj, attr, object, sizeof object, 1);
    if (a < 0) return;
    hid_t ftype = H5Aget_type(a);
    if (H5Tget_class(ftype) != H5T_STRING) {
        io_fail(io, object, "not a string");
    } else if (H5Tis_variable_str(ftype) > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char *s = NULL;
        if (H5Aread(a, mtype, &s) < 0)
            io_fail_h5(io, object, "reading");
        else
            snprintf(buf, size, "%s", s ? s : "");
        if (s) H5free_memory(s);
        H5Tclose(mtype);
    } else {
        size_t n = H5Tget_size(ftype);
        char *s = calloc(n + 1, 1);
        FC_ASSERT(s != NULL);
        hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_DEFAULT);
        if (H5Aread(a, mtype, s) < 0) {
            io_fail_h5(io, object, "reading");
        } else {
            while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0')) s[--n] = '\0'; /* space-padded writers */
            snprintf(buf, size, "%s", s);
        }
        H5Tclose(mtype);
        free(s);
    }
    H5Tclose(ftype);
    H5Aclose(a);
}

/* Fails on the first member of group that accept(member, ctx) does not know: a tensor of another model
 * (a different architecture) would otherwise be ignored. */
static void r_refuse_extra_members(ckpt_io *io, const char *group, int (*accept)(const char *, const void *),
                                   const void *ctx)
{
    if (io->st) return;
    hid_t g = H5Gopen2(io->file, group, H5P_DEFAULT);
    if (g < 0) {
        io_fail_h5(io, group, "opening the group");
        return;
    }
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) io_fail_h5(io, group, "listing");
    for (hsize_t k = 0; !io->st && k < info.nlinks; k++) {
        char member[128], name[320];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, member, sizeof member, H5P_DEFAULT) < 0) {
            io_fail_h5(io, group, "listing");
        } else if (!accept(member, ctx)) {
            snprintf(name, sizeof name, "%s/%s", group, member);
            io_fail(io, name, "in the %s but not a tensor of this model (a different architecture?)", io->noun);
        }
    }
    H5Gclose(g);
}

static int is_layout_view(const char *member, const void *layout) { return fc_layout_find(layout, member) >= 0; }

static int is_nothing(const char *member, const void *unused)
{
    (void)member, (void)unused;
    return 0;
}

static int is_optim_slot(const char *member, const void *opt)
{
    const fc_optim *o = opt;
    for (int s = 0; s < o->n_slots; s++)
        if (strcmp(member, fc_optim_slot_name(o->cfg.kind, s)) == 0) return 1;
    return 0;
}

/* Reads every view of layout from group/<name> into arena (float32 or float64 in the file), rejects
 * members of group the layout does not have (a different architecture), non-finite values and negative
 * batchnorm running variances. */
static void r_views(ckpt_io *io, const char *group, const fc_layout *layout, fc_real *arena)
{
    if (io->st) return;
    if (!r_exists(io, group)) {
        io_fail(io, group, "missing in the %s", io->noun);
        return;
    }
    char name[160];
    for (int i = 0; i < layout->n_views && !io->st; i++) {
        const fc_view *v = &layout->views[i];
        hsize_t dims[2];
        int rank = view_dims(v, dims);
        snprintf(name, sizeof name, "%s/%s", group, v->name);
        fc_real *dst = arena + v->offset;
        r_array(io, name, 1, FC_H5_REAL, rank, dims, dst);
        size_t n = fc_view_size(v);
        const int variance = strncmp(v->name, "running_var", strlen("running_var")) == 0;
        for (size_t k = 0; k < n && !io->st; k++)
            if (!isfinite(dst[k]))
                io_fail(io, name, "non-finite value at element %zu", k);
            else if (variance && dst[k] < 0)
                io_fail(io, name, "negative variance %g at element %zu", (double)dst[k], k);
    }
    r_refuse_extra_members(io, group, is_layout_view, layout);
}

/* Batchnorm running statistics for a model without batchnorm: the file is another model's (a checkpoint whose
 * 'norm' attribute was changed, or --init-from a batchnorm run's file into a layernorm model). */
static void r_refuse_bn(ckpt_io *io, const fc_net *net, const char *group)
{
    if (io->st == FC_OK && net->bn_layout.n_views == 0 && r_exists(io, group))
        io_fail(io, group, "batchnorm statistics in the %s, and this model has no batchnorm (a different architecture?)",
                io->noun);
}

static void r_check_format(ckpt_io *io)
{
    char format[64];
    /* Said as such, not as one missing attribute: most often another HDF5 file given by mistake, such as the dataset */
    if (io->st == FC_OK && H5Aexists_by_name(io->file, "/", "format", H5P_DEFAULT) == 0) {
        const int dataset = H5Lexists(io->file, "train", H5P_DEFAULT) > 0;
        io_fail(io, "/", "not an fcnet checkpoint (no attribute 'format')%s",
                dataset ? "; with its /train group it looks like a dataset, which --data takes" : "");
        return;
    }
    r_attr_str(io, "/", "format", format, sizeof format);
    if (io->st == FC_OK && strcmp(format, FC_CKPT_FORMAT) != 0)
        io_fail(io, "attribute 'format' of /", "'%s', not an fcnet checkpoint ('%s')", format, FC_CKPT_FORMAT);
    int64_t version = r_attr_i64(io, "/", "format_version");
    if (io->st == FC_OK && (version < 1 || version > FC_CKPT_FORMAT_VERSION))
        io_fail(io, "attribute 'format_version' of /", "version %lld; this program reads versions 1 to %d",
                (long long)version, FC_CKPT_FORMAT_VERSION);
}

/* A best validation accuracy as training leaves it: -1 until the first validation (and for good without a
 * validation split), else an accuracy. A NaN or 5.0 would never be beaten, so the best parameters would freeze;
 * eval --best would report a copy no run made as the best. */
static void r_check_best_val_acc(ckpt_io *io, double best_val_acc)
{
    if (!io->st && !(best_val_acc == -1 || (best_val_acc >= 0 && best_val_acc <= 1))) {
        char text[32]; /* as many digits as tell it from 1 or -1: 1.0000001 is not "1" */
        fc_format_real(text, sizeof text, best_val_acc);
        io_fail(io, "attribute 'best_val_acc' of /best", "%s: an accuracy in [0, 1], or -1 before the first one",
                text);
    }
}

/* Values training never writes, refused like the other impossible states (a file edited or damaged where no
 * checksum sees it); the histories feed the plots and the per-epoch lines. They are as check_accuracy records
 * them: one check at step 0 and one at each epoch's end, so at increasing steps; the lr of check i is the
 * configured one decayed at i epoch ends, each by fc_optim_decayed_lr as training does it (0 only where that
 * product underflows: --lr-decay is above 0); the validation accuracy is NaN at every check without a validation
 * split and an accuracy at every check with one (the split cannot change on --resume). */
static void r_check_states(ckpt_io *io, const fc_history *h, int64_t n_loss, int64_t n_checks, int64_t step,
                           const fc_optim_config *optim, double best_val_acc, int64_t finished, int64_t world_size)
{
    for (int64_t i = 0; i < n_loss && !io->st; i++)
        if (!isfinite(h->loss[i]) || h->loss[i] < 0)
            io_fail(io, "/history/loss", "%g at element %lld: a loss is finite and >= 0", h->loss[i], (long long)i);
    double decayed_lr = optim->lr;
    for (int64_t i = 0; i < n_checks && !io->st; i++, decayed_lr = fc_optim_decayed_lr(optim, decayed_lr)) {
        const double tr = h->train_acc[i], va = h->val_acc[i], lr = h->lr[i];
        const int64_t at = h->check_step[i];
        if (!(tr >= 0 && tr <= 1))
            io_fail(io, "/history/train_acc", "%g at element %lld: an accuracy is in [0, 1]", tr, (long long)i);
        else if (!isnan(va) && !(va >= 0 && va <= 1))
            io_fail(io, "/history/val_acc", "%g at element %lld: an accuracy is in [0, 1] (or NaN: no validation)", va,
                    (long long)i);
        else if (i > 0 && !isnan(va) != !isnan(h->val_acc[0]))
            io_fail(io, "/history/val_acc", "%g at element %lld, %g at element 0: a run validates at every check "
                    "(accuracies) or at none (NaN: no validation split)", va, (long long)i, h->val_acc[0]);
        else if (lr != decayed_lr)
            io_fail(io, "/history/lr", "%.17g at element %lld, but lr %g decayed by %g after each of %lld epochs is "
                    "%.17g", lr, (long long)i, optim->lr, optim->lr_decay, (long long)i, decayed_lr);
        else if (at < 0 || at > step)
            io_fail(io, "/history/check_step", "%lld at element %lld: outside the steps made, [0, %lld]", (long long)at,
                    (long long)i, (long long)step);
        else if (i > 0 && at <= h->check_step[i - 1])
            io_fail(io, "/history/check_step", "%lld at element %lld after %lld: accuracy is checked at increasing "
                    "steps (step 0, then each epoch's end)", (long long)at, (long long)i,
                    (long long)h->check_step[i - 1]);
    }
    r_check_best_val_acc(io, best_val_acc);
    if (!io->st && finished != 0 && finished != 1)
        io_fail(io, "attribute 'finished' of /", "%lld: 0 or 1 expected", (long long)finished);
    if (!io->st && (world_size < 1 || world_size > INT_MAX)) /* an MPI communicator's size is an int */
        io_fail(io, "attribute 'world_size' of /", "%lld ranks, not in [1, %d]", (long long)world_size, INT_MAX);
}

fc_status fc_ckpt_load(fc_trainer *t, const char *path)
{
    ckpt_io io;
    io_init(&io, path, 0);
    r_open(&io, path);
    r_check_format(&io);
    /* The optimizer state and the rounding of every step belong to the precision that wrote them. */
    char real[16];
    r_attr_str(&io, "/", "fc_real", real, sizeof real);
    if (io.st == FC_OK && strcmp(real, FC_REAL_NAME) != 0)
        io_fail(&io, "attribute 'fc_real' of /",
                "written in %s precision, and this program computes in %s: --resume continues a run exactly "
                "only in the precision it was written in (fcnet_dist is float, fcnet_dist_f64 double; "
                "--init-from starts a new run from its parameters)",
                real, FC_REAL_NAME);
    /* Its settings now drive training in this precision: the flags' rules for it apply (eps 1e300 in a float
     * run would train nothing, reg 1e300 would end it as "diverged"). */
    if (io.st == FC_OK) {
        const fc_status st = fc_config_check_values(t->cfg, path, 1);
        if (st != FC_OK) {
            r_close(&io);
            return st;
        }
    }
    fc_net *net = &t->net;
    r_views(&io, "/params", &net->layout, net->params);
    if (net->bn_layout.n_views > 0) r_views(&io, "/bn", &net->bn_layout, net->bn_stats);
    r_refuse_bn(&io, net, "/bn");

    fc_optim *opt = &t->opt;
    char name[64];
    r_attr_str(&io, "/optim", "name", name, sizeof name);
    if (io.st == FC_OK && strcmp(name, fc_optim_name(opt->cfg.kind)) != 0)
        io_fail(&io, "/optim", "optimizer %s in the checkpoint, %s expected", name, fc_optim_name(opt->cfg.kind));
    for (int s = 0; s < opt->n_slots && !io.st; s++) {
        const char *slot = fc_optim_slot_name(opt->cfg.kind, s);
        /* rmsprop's cache and adam's v average squares: training never leaves them negative */
        const int squares = (opt->cfg.kind == FC_OPTIM_ADAM && s == 1) || opt->cfg.kind == FC_OPTIM_RMSPROP;
        for (int i = 0; i < net->layout.n_views && !io.st; i++) {
            const fc_view *v = &net->layout.views[i];
            hsize_t dims[2];
            int rank = view_dims(v, dims);
            char dname[160];
            snprintf(dname, sizeof dname, "/optim/%s/%s", v->name, slot);
            fc_real *got = opt->slot[s] + v->offset;
            r_array(&io, dname, 1, FC_H5_REAL, rank, dims, got);
            for (size_t k = 0; k < fc_view_size(v) && !io.st; k++)
                if (!isfinite(got[k]) || (squares && got[k] < 0))
                    io_fail(&io, dname, "%s value %g at element %zu", isfinite(got[k]) ? "negative" : "non-finite",
                            (double)got[k], k);
        }
    }
    /* /optim holds a group per parameter, each with the update rule's slots (sgd: none) */
    r_refuse_extra_members(&io, "/optim", opt->n_slots > 0 ? is_layout_view : is_nothing, &net->layout);
    for (int i = 0; i < net->layout.n_views && opt->n_slots > 0 && !io.st; i++) {
        snprintf(name, sizeof name, "/optim/%s", net->layout.views[i].name);
        r_refuse_extra_members(&io, name, is_optim_slot, opt);
    }
    int64_t adam_t = r_attr_i64(&io, "/optim", "t");
    double lr = r_attr_f64(&io, "/optim", "lr");

    /* The position (epoch, step within it) and the epochs' permutations only mean the same thing with the same
     * training rows: another training set or --val-size would resume at the wrong place in the schedule, or at
     * the right step of other permutations. Checked before the histories, whose size follows from it. */
    int64_t steps_per_epoch = r_attr_i64(&io, "/", "steps_per_epoch");
    if (io.st == FC_OK && steps_per_epoch != t->steps_per_epoch)
        io_fail(&io, "attribute 'steps_per_epoch' of /",
                "%lld steps per epoch in the checkpoint, %lld with this run's %lld training rows: resuming needs the "
                "training set (and --val-size) it was written with",
                (long long)steps_per_epoch, (long long)t->steps_per_epoch, (long long)t->data.train.n);
    /* Optional: checkpoints written before train_rows existed are checked by their steps per epoch only. */
    if (io.st == FC_OK && H5Aexists_by_name(io.file, "/", "train_rows", H5P_DEFAULT) > 0) {
        int64_t train_rows = r_attr_i64(&io, "/", "train_rows");
        if (io.st == FC_OK && train_rows != t->data.train.n)
            io_fail(&io, "attribute 'train_rows' of /",
                    "%lld training rows in the checkpoint, %lld in this run: resuming needs the training set (and "
                    "--val-size) it was written with",
                    (long long)train_rows, (long long)t->data.train.n);
    }
    /* The same shape is not the same data: another file of that shape (a relative --data resumed from another
     * directory, a regenerated set) would continue the run on other rows. Optional: checkpoints written before
     * data_hash existed are checked by their shape alone. */
    if (io.st == FC_OK && H5Aexists_by_name(io.file, "/", "data_hash", H5P_DEFAULT) > 0) {
        uint64_t data_hash = 0;
        r_attr_num(&io, "/", "data_hash", H5T_NATIVE_UINT64, &data_hash);
        if (io.st == FC_OK && data_hash != t->data_hash)
            io_fail(&io, "attribute 'data_hash' of /",
                    "the run was trained on other rows than %s holds (the same shape, other values or labels: "
                    "fingerprint %016llx in the checkpoint, %016llx here): resuming needs the data it was written "
                    "with; --init-from starts a new run on other data from its parameters",
                    t->cfg->data, (unsigned long long)data_hash, (unsigned long long)t->data_hash);
    }

    /* Histories: the caller sized them for the whole run; a checkpoint from a longer run does not fit. */
    fc_history *h = &t->hist;
    int64_t n_loss = r_length(&io, "/history/loss");
    const int64_t spe = t->steps_per_epoch > 0 ? t->steps_per_epoch : 1;
    if (io.st == FC_OK && n_loss > h->cap_loss)
        io_fail(&io, "/history/loss",
                "%lld steps in the checkpoint, room for %lld in this run: --epochs %lld is fewer than the run has "
                "made (%lld steps per epoch); give --epochs %lld or more",
                (long long)n_loss, (long long)h->cap_loss, (long long)t->cfg->epochs, (long long)spe,
                (long long)(n_loss / spe + (n_loss % spe != 0)));
    int64_t n_checks = r_length(&io, "/history/train_acc");
    if (io.st == FC_OK && n_checks > h->cap_checks)
        io_fail(&io, "/history/train_acc", "%lld checks in the checkpoint, room for %lld in this run (--epochs too small?)",
                (long long)n_checks, (long long)h->cap_checks);
    hsize_t dl = (hsize_t)n_loss, dc = (hsize_t)n_checks;
    r_array(&io, "/history/loss", 1, H5T_NATIVE_DOUBLE, 1, &dl, h->loss);
    r_array(&io, "/history/train_acc", 1, H5T_NATIVE_DOUBLE, 1, &dc, h->train_acc);
    r_array(&io, "/history/val_acc", 1, H5T_NATIVE_DOUBLE, 1, &dc, h->val_acc);
    r_array(&io, "/history/lr", 1, H5T_NATIVE_DOUBLE, 1, &dc, h->lr);
    r_array(&io, "/history/check_step", 0, H5T_NATIVE_INT64, 1, &dc, h->check_step);

    if (t->best_params) r_views(&io, "/best/params", &net->layout, t->best_params);
    if (t->best_bn && net->bn_layout.n_views > 0) r_views(&io, "/best/bn", &net->bn_layout, t->best_bn);
    r_refuse_bn(&io, net, "/best/bn");
    double best_val_acc = r_attr_f64(&io, "/best", "best_val_acc");
    int64_t best_step = r_attr_i64(&io, "/best", "best_step");

    int64_t epoch = r_attr_i64(&io, "/", "epoch");
    int64_t epoch_step = r_attr_i64(&io, "/", "epoch_step");
    int64_t step = r_attr_i64(&io, "/", "step");
    int64_t finished = r_attr_i64(&io, "/", "finished");
    int64_t world_size = r_attr_i64(&io, "/", "world_size");
    /* Optional: a checkpoint written before run_id existed keeps the identity this run computed. */
    int64_t run_id = 0;
    if (io.st == FC_OK && H5Aexists_by_name(io.file, "/", "run_id", H5P_DEFAULT) > 0)
        run_id = r_attr_i64(&io, "/", "run_id");
    r_check_states(&io, h, n_loss, n_checks, step, &opt->cfg, best_val_acc, finished, world_size);
    r_close(&io);
    if (io.st != FC_OK) return io.st;

    opt->t = adam_t;
    opt->lr = lr;
    h->n_loss = n_loss;
    h->n_checks = n_checks;
    t->best_val_acc = best_val_acc;
    t->best_step = best_step;
    t->epoch = epoch;
    t->epoch_step = epoch_step;
    t->step = step;
    t->finished = finished != 0;
    t->world_size_at_save = world_size;
    if (run_id != 0) t->run_id = (uint64_t)run_id;
    return FC_OK;
}

/* Reads the hyperparameters into cfg; on failure cfg is left untouched. */
static void r_config(ckpt_io *io, fc_config *cfg, int *n_input, int *n_classes)
{
    char text[FC_PATH_MAX], object[320];
    int64_t n_hidden = r_attr_i64(io, "/", "n_hidden");
    if (io->st == FC_OK && (n_hidden < 0 || n_hidden > FC_MAX_HIDDEN))
        io_fail(io, "attribute 'n_hidden' of /", "%lld hidden layers, at most %d supported", (long long)n_hidden,
                FC_MAX_HIDDEN);
    int hidden[FC_MAX_HIDDEN];
    hid_t a = r_open_attr(io, "/", "hidden", object, sizeof object, io->st ? 0 : (hssize_t)n_hidden);
    if (a >= 0) {
        /* Read as doubles, so that 8.9 or 2^40 is refused as written instead of converted; the widths' range
         * is the --hidden rule, which fc_config_check_values applies to the converted values. */
        double widths[FC_MAX_HIDDEN];
        if (n_hidden > 0 && H5Aread(a, H5T_NATIVE_DOUBLE, widths) < 0) io_fail_h5(io, object, "reading");
        for (int i = 0; io->st == FC_OK && i < n_hidden; i++) {
            if (!(widths[i] >= INT_MIN && widths[i] <= INT_MAX) || widths[i] != floor(widths[i]))
                io_fail(io, object, "width %g at position %d: not a whole number an int holds", widths[i], i);
            else
                hidden[i] = (int)widths[i];
        }
        H5Aclose(a);
    }

    r_attr_str(io, "/", "norm", text, sizeof text);
    int k = parse_name(norm_names, 3, text);
    if (io->st == FC_OK && k < 0) io_fail(io, "attribute 'norm' of /", "unknown normalization '%s'", text);
    int norm = k;
    r_attr_str(io, "/", "init", text, sizeof text);
    k = parse_name(init_names, 2, text);
    if (io->st == FC_OK && k < 0) io_fail(io, "attribute 'init' of /", "unknown init '%s'", text);
    int init = k;
    r_attr_str(io, "/", "optimizer", text, sizeof text);
    k = fc_optim_parse(text);
    if (io->st == FC_OK && k < 0) io_fail(io, "attribute 'optimizer' of /", "unknown optimizer '%s'", text);
    int optim = k;
    r_attr_str(io, "/", "preprocess", text, sizeof text);
    k = fc_preprocess_parse(text);
    if (io->st == FC_OK && k < 0) io_fail(io, "attribute 'preprocess' of /", "unknown preprocessing '%s'", text);
    int preprocess = k;

    double keep = r_attr_f64(io, "/", "keep"), reg = r_attr_f64(io, "/", "reg");
    double weight_scale = r_attr_f64(io, "/", "weight_scale"), bn_momentum = r_attr_f64(io, "/", "bn_momentum");
    double lr = r_attr_f64(io, "/", "lr"), lr_decay = r_attr_f64(io, "/", "lr_decay");
    double momentum = r_attr_f64(io, "/", "momentum"), decay_rate = r_attr_f64(io, "/", "decay_rate");
    double beta1 = r_attr_f64(io, "/", "beta1"), beta2 = r_attr_f64(io, "/", "beta2");
    double eps = r_attr_f64(io, "/", "eps"), val_size = r_attr_f64(io, "/", "val_size");
    int64_t batch_size = r_attr_i64(io, "/", "batch_size"), epochs = r_attr_i64(io, "/", "epochs");
    int64_t shuffle = r_attr_i64(io, "/", "shuffle");
    uint64_t seed = 0;
    r_attr_num(io, "/", "seed", H5T_NATIVE_UINT64, &seed);
    r_attr_str(io, "/", "data", text, sizeof text);
    int64_t d = r_attr_i64(io, "/", "n_input"), c = r_attr_i64(io, "/", "n_classes");
    if (io->st == FC_OK && shuffle != 0 && shuffle != 1)
        io_fail(io, "attribute 'shuffle' of /", "%lld: 0 or 1 expected", (long long)shuffle);
    if (io->st == FC_OK && (d < 1 || d > INT_MAX))
        io_fail(io, "attribute 'n_input' of /", "%lld input features, not in [1, %d]", (long long)d, INT_MAX);
    if (io->st == FC_OK && (c < 1 || c > INT_MAX))
        io_fail(io, "attribute 'n_classes' of /", "%lld classes, not in [1, %d]", (long long)c, INT_MAX);
    if (io->st != FC_OK) return;
    cfg->n_hidden = (int)n_hidden;
    cfg->norm = (fc_norm)norm;
    cfg->init = (fc_init)init;
    cfg->optim.kind = (fc_optim_kind)optim;
    cfg->preprocess = (fc_preprocess_kind)preprocess;
    memcpy(cfg->hidden, hidden, (size_t)n_hidden * sizeof *hidden);
    cfg->keep = keep;
    cfg->reg = reg;
    cfg->weight_scale = weight_scale;
    cfg->bn_momentum = bn_momentum;
    cfg->optim.lr = lr;
    cfg->optim.lr_decay = lr_decay;
    cfg->optim.momentum = momentum;
    cfg->optim.decay_rate = decay_rate;
    cfg->optim.beta1 = beta1;
    cfg->optim.beta2 = beta2;
    cfg->optim.eps = eps;
    cfg->val_size = val_size;
    cfg->batch_size = batch_size;
    cfg->shuffle = shuffle == 1;
    cfg->seed = seed;
    /* These two may legitimately differ on --resume (longer training, a moved dataset). */
    if (!cfg->opt_set[FC_OPT_EPOCHS]) cfg->epochs = epochs;
    if (!cfg->opt_set[FC_OPT_DATA]) snprintf(cfg->data, sizeof cfg->data, "%s", text);
    if (n_input) *n_input = (int)d;
    if (n_classes) *n_classes = (int)c;
}

fc_status fc_ckpt_read_config(const char *path, fc_config *cfg, int *n_input, int *n_classes)
{
    ckpt_io io;
    io_init(&io, path, 0);
    r_open(&io, path);
    r_check_format(&io);
    fc_config read = *cfg; /* filled and checked apart, so that a refusal leaves cfg as it was */
    r_config(&io, &read, n_input, n_classes);
    r_close(&io);
    if (io.st != FC_OK) return io.st;
    /* A file written by hand or by another program: its settings obey the flags' ranges too. */
    fc_status st = fc_config_check_values(&read, path, 0);
    if (st == FC_OK) *cfg = read;
    return st;
}

fc_status fc_ckpt_check_data_path(const char *data, const char *checkpoint)
{
    if (!data[0]) /* a file written by hand, or edited: nothing to name in the message below */
        return fc_error_set(FC_ERR_INPUT, "the checkpoint %s records no dataset path; give --data FILE", checkpoint);
    const char *problem = fc_input_file_problem(data);
    FILE *probe = problem ? NULL : fopen(data, "rb");
    if (!problem && !probe) problem = strerror(errno);
    if (probe) fclose(probe);
    if (!problem) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s (the data path stored in checkpoint %s; give --data to use another): "
                        "cannot open: %s", data, checkpoint, problem);
}

fc_status fc_ckpt_check_resume(const char *path, const fc_config *given)
{
    /* Options that define the model, the optimizer or the data order; run control and --data may change. */
    static const fc_option compared[] = {
        FC_OPT_HIDDEN,   FC_OPT_NORM,       FC_OPT_KEEP,       FC_OPT_REG,        FC_OPT_WEIGHT_SCALE,
        FC_OPT_INIT,     FC_OPT_BN_MOMENTUM, FC_OPT_OPTIM,     FC_OPT_LR,         FC_OPT_LR_DECAY,
        FC_OPT_MOMENTUM, FC_OPT_DECAY_RATE, FC_OPT_BETA1,      FC_OPT_BETA2,      FC_OPT_EPS,
        FC_OPT_BATCH_SIZE, FC_OPT_SEED,     FC_OPT_VAL_SIZE,   FC_OPT_PREPROCESS, FC_OPT_NO_SHUFFLE};
    fc_config *saved = malloc(sizeof *saved);
    FC_ASSERT(saved != NULL);
    *saved = *given;
    fc_status st = fc_ckpt_read_config(path, saved, NULL, NULL);
    /* Compared as the text the parser accepts: exact for reals (the shortest round-trip form is unique
     * per double) and the message shows the values as the user would type them. */
    char want[FC_PATH_MAX], have[FC_PATH_MAX];
    for (size_t i = 0; st == FC_OK && i < sizeof compared / sizeof compared[0]; i++) {
        fc_option opt = compared[i];
        if (!given->opt_set[opt]) continue;
        fc_config_value(given, opt, want, sizeof want);
        fc_config_value(saved, opt, have, sizeof have);
        if (strcmp(want, have) != 0)
            st = fc_error_set(FC_ERR_INPUT, "%s: %s given but the checkpoint %s has %s (only run-control options "
                              "may differ on --resume)", fc_config_option_name(opt), want, path, have);
    }
    free(saved);
    return st;
}

fc_status fc_ckpt_load_preprocess(fc_preprocess *pp, const char *path, int d)
{
    ckpt_io io;
    io_init(&io, path, 0);
    r_open(&io, path);
    char kind_name[64];
    r_attr_str(&io, "/preprocess", "kind", kind_name, sizeof kind_name);
    int kind = fc_preprocess_parse(kind_name);
    if (io.st == FC_OK && kind < 0)
        io_fail(&io, "attribute 'kind' of /preprocess", "unknown preprocessing '%s'", kind_name);
    /* The root's setting is what a resume compares with --preprocess; the statistics must be of that kind. */
    char setting[64];
    r_attr_str(&io, "/", "preprocess", setting, sizeof setting);
    if (io.st == FC_OK && strcmp(setting, kind_name) != 0)
        io_fail(&io, "attribute 'kind' of /preprocess", "'%s' contradicts the root attribute preprocess '%s'",
                kind_name, setting);
    double *mean = NULL, *std = NULL;
    hsize_t dim = (hsize_t)d;
    if (io.st == FC_OK && kind != FC_PRE_NONE) {
        mean = fc_alloc((size_t)(d > 0 ? d : 1) * sizeof *mean);
        r_array(&io, "/preprocess/mean", 1, H5T_NATIVE_DOUBLE, 1, &dim, mean);
    }
    if (io.st == FC_OK && kind == FC_PRE_STANDARDIZE) {
        std = fc_alloc((size_t)(d > 0 ? d : 1) * sizeof *std);
        r_array(&io, "/preprocess/std", 1, H5T_NATIVE_DOUBLE, 1, &dim, std);
    }
    /* As fitting leaves them: finite means, finite stds of at least FC_PREPROCESS_MIN_STD (a constant
     * feature's is 1) */
    for (int j = 0; mean && io.st == FC_OK && j < d; j++)
        if (!isfinite(mean[j])) io_fail(&io, "/preprocess/mean", "non-finite value at element %d", j);
    for (int j = 0; std && io.st == FC_OK && j < d; j++)
        if (!isfinite(std[j]) || std[j] < FC_PREPROCESS_MIN_STD)
            io_fail(&io, "/preprocess/std", "%g at element %d: standardizing stores finite values of at least %g",
                    std[j], j, FC_PREPROCESS_MIN_STD);
    r_close(&io);
    if (io.st != FC_OK) {
        fc_free(mean);
        fc_free(std);
        return io.st;
    }
    pp->kind = (fc_preprocess_kind)kind;
    pp->d = d;
    pp->mean = mean;
    pp->std = std;
    return FC_OK;
}

/* Whether the root attribute norm is there as one string, as fcnet writes it: an --init-from file written by h5py
 * may use the name for anything, and is not a checkpoint that must hold /bn. */
static int root_norm_is_string(hid_t file)
{
    if (H5Aexists_by_name(file, "/", "norm", H5P_DEFAULT) <= 0) return 0;
    hid_t a = H5Aopen_by_name(file, "/", "norm", H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    const int one_string =
        type >= 0 && space >= 0 && H5Tget_class(type) == H5T_STRING && H5Sget_simple_extent_npoints(space) == 1;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return one_string;
}

fc_status fc_ckpt_load_params(fc_net *net, const char *path, int best)
{
    ckpt_io io;
    io_init(&io, path, 0);
    io.noun = "file";
    io.hint_transposed = 1;
    r_open(&io, path);
    const char *params = best ? "/best/params" : "/params", *bn = best ? "/best/bn" : "/bn";
    r_views(&io, params, &net->layout, net->params);
    /* Without a validation split a run's best copy becomes its final parameters when it finishes; until then
     * /best still holds the initial ones, which --best would report as trained. The accuracy itself is held to
     * what training writes, as --resume holds it. (A file with parameters only has neither attribute, and no run
     * state to judge.) */
    if (best && io.st == FC_OK && H5Aexists_by_name(io.file, "/best", "best_val_acc", H5P_DEFAULT) > 0) {
        const double best_val_acc = r_attr_f64(&io, "/best", "best_val_acc");
        r_check_best_val_acc(&io, best_val_acc);
        if (io.st == FC_OK && best_val_acc < 0 && H5Aexists_by_name(io.file, "/", "finished", H5P_DEFAULT) > 0 &&
            !r_attr_i64(&io, "/", "finished"))
            io_fail(&io, "/best", "no best copy yet: the run has no validation split and is not finished (its best "
                    "copy becomes the final parameters when it finishes); evaluate without --best");
    }
    /* /bn is optional in a file of parameters only, but one whose root says norm = batchnorm (a checkpoint)
     * always holds it: without it eval used the initial statistics and printed a wrong accuracy with exit 0. */
    if (io.st == FC_OK && net->bn_layout.n_views > 0 && !r_exists(&io, bn) && root_norm_is_string(io.file)) {
        char norm[64];
        r_attr_str(&io, "/", "norm", norm, sizeof norm);
        if (io.st == FC_OK && strcmp(norm, norm_names[FC_NORM_BATCH]) == 0)
            io_fail(&io, bn, "missing in the %s, whose root attribute norm is batchnorm", io.noun);
    }
    if (io.st == FC_OK && net->bn_layout.n_views > 0 && r_exists(&io, bn))
        r_views(&io, bn, &net->bn_layout, net->bn_stats);
    r_refuse_bn(&io, net, bn);
    r_close(&io);
    return io.st;
}

int fc_ckpt_read_run_id(const char *path, uint64_t *run_id)
{
    if (fc_input_file_problem(path)) return 0;
    fc_h5_quiet quiet;
    fc_h5_quiet_begin(&quiet);
    fc_read_guard_begin(path);
    hid_t fapl = make_fapl();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    int64_t v = 0;
    int read = 0;
    if (f >= 0 && H5Aexists_by_name(f, "/", "run_id", H5P_DEFAULT) > 0) {
        hid_t a = H5Aopen_by_name(f, "/", "run_id", H5P_DEFAULT, H5P_DEFAULT);
        /* One value only: H5Aread writes every element, and an array (a damaged or foreign file) would run
         * past v. */
        hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
        const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
        if (space >= 0) H5Sclose(space);
        if (a >= 0 && n == 1) read = H5Aread(a, H5T_NATIVE_INT64, &v) >= 0;
        if (a >= 0) H5Aclose(a);
    }
    if (f >= 0) H5Fclose(f);
    fc_read_guard_end();
    fc_h5_quiet_end(&quiet);
    if (read) *run_id = (uint64_t)v;
    return read;
}
