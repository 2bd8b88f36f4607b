/* Atomic writer of dataset files (the README's Datasets section) (see dsout.h). */
#define _POSIX_C_SOURCE 200809L

#include "dsout.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcnet/h5quiet.h"

/* ~256 KiB of x per chunk: small enough that HDF5's default 1 MiB chunk cache holds several, so the
 * loader's row-block reads never decompress a chunk twice. */
#define CHUNK_BYTES ((size_t)256 << 10)
#define DEFLATE_LEVEL 4

/* err: the system's reason taken from HDF5's error stack right after the failing call, 0 when it gave none. */
static fc_status h5_fail(const fc_dsout *out, const char *what, int err)
{
    if (err > 0) return fc_error_set(FC_ERR_FAIL, "%s: cannot write %s: %s", out->tmp, what, fc_errno_reason(err).text);
    return fc_error_set(FC_ERR_FAIL, "%s: cannot write %s (HDF5 error; disk full or no permission?)", out->tmp,
                        what);
}

/* The temporary file while one is open, for the stop signals' handler: stopped by Ctrl-C or a batch system's
 * SIGTERM, a conversion left OUT.tmp behind (gigabytes, for a large set) until the next run with that --out. */
static char stop_tmp[sizeof ((fc_dsout *)0)->tmp];
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
#define N_STOP_SIGNALS ((int)(sizeof stop_signals / sizeof stop_signals[0]))
static struct sigaction stop_before[N_STOP_SIGNALS];
static int stop_installed;

static void remove_tmp_and_die(int sig)
{
    unlink(stop_tmp);
    signal(sig, SIG_DFL);
    raise(sig); /* dies of it as before, now without the file */
}

/* A signal the process was started ignoring (nohup's SIGHUP) stays ignored. */
static void catch_stop_signals(const char *tmp)
{
    snprintf(stop_tmp, sizeof stop_tmp, "%s", tmp);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = remove_tmp_and_die;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        sigaction(stop_signals[i], NULL, &stop_before[i]);
        if (stop_before[i].sa_handler != SIG_IGN) sigaction(stop_signals[i], &sa, NULL);
    }
    stop_installed = 1;
}

static void release_stop_signals(void)
{
    if (!stop_installed) return;
    for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &stop_before[i], NULL);
    stop_installed = 0;
}

fc_status fc_dsout_open(fc_dsout *out, const char *path)
{
    memset(out, 0, sizeof *out);
    out->file = H5I_INVALID_HID;
    if (strlen(path) >= sizeof out->path) return fc_error_set(FC_ERR_INPUT, "%s: output path too long", path);
    snprintf(out->path, sizeof out->path, "%s", path);
    snprintf(out->tmp, sizeof out->tmp, "%s.tmp", path);
    /* The commit's rename replaces whatever the name holds: run as root, --out /dev/null replaced the device
     * with the dataset. A directory is left to the rename, which refuses it; a link is replaced, not followed. */
    struct stat sb;
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) && !S_ISLNK(sb.st_mode))
        return fc_error_set(FC_ERR_FAIL, "%s: cannot replace: not a regular file (a FIFO, socket or device)", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    unlink(out->tmp); /* a stale one; and created anew (H5F_ACC_EXCL), a symbolic link there is not followed */
    /* Before the create: the file exists before H5Fcreate returns, and a signal in between left it behind. */
    catch_stop_signals(out->tmp);
    out->file = H5Fcreate(out->tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (out->file < 0) {
        /* HDF5's stack may carry the system's reason (a full disk fails the first write); else ask the OS. */
        int err = fc_h5_last_errno();
        /* Exclusive and not through a link, as the create: the probe must not truncate what it finds there. */
        int probe = err ? -1 : open(out->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (probe < 0 && !err) err = errno;
        const char *why = err ? strerror(err) : "HDF5 cannot create it";
        if (probe >= 0) {
            close(probe);
            unlink(out->tmp);
        }
        release_stop_signals();
        return fc_error_set(FC_ERR_FAIL, "%s: cannot create: %s", out->tmp, why);
    }
    return FC_OK;
}

static fc_status put_dataset(fc_dsout *out, const char *name, hid_t type, hid_t mem, int rank,
                             const hsize_t *dims, const hsize_t *chunk, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    if (chunk) {
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_deflate(dcpl, DEFLATE_LEVEL);
    }
    /* No modification time in the header: the same command writes the same bytes, a second later too. */
    H5Pset_obj_track_times(dcpl, 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dset = space < 0 ? H5I_INVALID_HID : H5Dcreate2(out->file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    herr_t rc = dset < 0 ? -1 : H5Dwrite(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    int err = rc < 0 ? fc_h5_last_errno() : 0;
    if (dset >= 0 && H5Dclose(dset) < 0 && rc >= 0) {
        rc = -1;
        err = fc_h5_last_errno();
    }
    if (space >= 0) H5Sclose(space);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    return rc < 0 ? h5_fail(out, name, err) : FC_OK;
}

fc_status fc_dsout_put_split(fc_dsout *out, const char *group, hid_t x_type, hid_t x_mem, const void *x,
                             int64_t n, int d, const uint8_t *y)
{
    FC_ASSERT(out->file >= 0 && n >= 0 && d > 0);
    char name[256];
    const hsize_t xdims[2] = {(hsize_t)n, (hsize_t)d}, ydims[1] = {(hsize_t)n};
    size_t rows = CHUNK_BYTES / ((size_t)d * H5Tget_size(x_type));
    if (rows < 1) rows = 1;
    if (rows > (size_t)n) rows = (size_t)n;
    const hsize_t chunk[2] = {(hsize_t)rows, (hsize_t)d};
    snprintf(name, sizeof name, "/%s/x", group);
    /* A chunk may not exceed a fixed dimension, so empty splits stay contiguous. */
    fc_status st = put_dataset(out, name, x_type, x_mem, 2, xdims, n > 0 ? chunk : NULL, x);
    snprintf(name, sizeof name, "/%s/y", group);
    if (st == FC_OK) st = put_dataset(out, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, ydims, NULL, y);
    return st;
}

fc_status fc_dsout_put_attrs(fc_dsout *out, int num_classes, const char *source)
{
    FC_ASSERT(out->file >= 0);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(out->file, "num_classes", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &num_classes);
    int err = rc < 0 ? fc_h5_last_errno() : 0;
    if (a >= 0) H5Aclose(a);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, strlen(source) + 1);
    if (rc >= 0) {
        a = H5Acreate2(out->file, "source", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
        rc = a < 0 ? -1 : H5Awrite(a, str, source);
        if (rc < 0) err = fc_h5_last_errno();
        if (a >= 0) H5Aclose(a);
    }
    H5Tclose(str);
    H5Sclose(scalar);
    return rc < 0 ? h5_fail(out, "root attributes", err) : FC_OK;
}

fc_status fc_dsout_commit(fc_dsout *out)
{
    FC_ASSERT(out->file >= 0);
    herr_t rc = H5Fclose(out->file);
    out->file = H5I_INVALID_HID;
    if (rc < 0) return h5_fail(out, "the file (close failed)", fc_h5_last_errno());
    /* Data on disk before the name points at it: a crash leaves the old file or the new one. */
    int fd = open(out->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        return fc_error_set(FC_ERR_FAIL, "%s: cannot sync: %s", out->tmp, strerror(err));
    }
    close(fd);
    if (rename(out->tmp, out->path) != 0)
        return fc_error_set(FC_ERR_FAIL, "%s: cannot rename to %s: %s", out->tmp, out->path, strerror(errno));
    /* Only now: a signal during the rename removes a name that no longer exists, and the output is complete. */
    release_stop_signals();
    out->tmp[0] = '\0';
    return FC_OK;
}

void fc_dsout_abort(fc_dsout *out)
{
    if (out->file >= 0) H5Fclose(out->file);
    out->file = H5I_INVALID_HID;
    if (out->tmp[0]) unlink(out->tmp);
    release_stop_signals();
    out->tmp[0] = '\0';
}
