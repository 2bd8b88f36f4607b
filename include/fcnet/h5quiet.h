/* HDF5's own failure handling, tamed so that a failure is one line of fcnet's and nothing else.
 * HDF5 prints a stack of error records for every failed call unless told not to. fcnet reports each
 * problem itself in one line, so reads that may fail silence that printing for their duration and then
 * give the caller back whatever handler it had. */
#ifndef FCNET_H5QUIET_H
#define FCNET_H5QUIET_H

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* HDF5 registers an exit handler that closes every file still open. A file whose write failed (a full
 * disk) stays half-open after H5Fclose fails, and that handler then crashes in H5F__close_cb or prints
 * "infinite loop closing library" after fcnet's own error line. Every file is closed (or abandoned after
 * an error) explicitly, so each program switches the handler off before its first HDF5 call. */
static inline void fc_h5_no_exit_cleanup(void) { H5dont_atexit(); }

/* The system's errno that HDF5's POSIX driver writes into a failure's text ("..., errno = 28, error
 * message = ..."): ENOSPC and EIO say more than "file write failed". 0 when the text carries none. */
static inline int fc_h5_desc_errno(const char *desc)
{
    const char *at = desc ? strstr(desc, "errno = ") : NULL;
    return at ? atoi(at + 8) : 0;
}

static inline herr_t fc_h5_walk_errno(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    int *err = data;
    if (!*err) *err = fc_h5_desc_errno(e->desc);
    return 0;
}

/* The reason to report for an H5Fopen failure whose HDF5 text is desc, where that text reads like a damaged file
 * but the file is being written; NULL for any other failure. Two cases: another process holds the file open for
 * writing (HDF5 1.10 locks files: "unable to lock file, errno = 11"), and a file whose superblock (h5py's
 * libver="latest", HDF5 1.10's format) marks it open for writing: a writer in SWMR mode holds no lock, and a
 * writer that died (kill -9, a crash) leaves the mark ("file is already open for write (may use <h5clear file>
 * ...)"). */
static inline const char *fc_h5_open_refusal(const char *desc)
{
    if (desc && strstr(desc, "unable to lock file"))
        return "locked: another process has it open for writing (HDF5 file locking); wait until it has finished, "
               "or set HDF5_USE_FILE_LOCKING=FALSE to read it anyway";
    if (desc && strstr(desc, "file is already open for write"))
        return "marked open for writing: another process is writing it (SWMR), or the program that wrote it ended "
               "without closing it; wait until the writer has finished, or clear the mark with h5clear -s if none "
               "is writing";
    return NULL;
}

/* The errno of the current HDF5 error stack (0 if none): call right after the failing call, since the
 * next API call clears the stack. */
static inline int fc_h5_last_errno(void)
{
    int err = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, fc_h5_walk_errno, &err);
    return err;
}

typedef struct fc_h5_text {
    char *text;
    size_t size;
} fc_h5_text;

static inline herr_t fc_h5_walk_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    const fc_h5_text *b = data;
    if (n == 0 && e->desc) snprintf(b->text, b->size, "%s", e->desc);
    return 0;
}

/* The innermost description on the current HDF5 error stack ("truncated file: eof = ...", "incorrect
 * metadata checksum ..."), which is where the cause is; the outer entries only say which API call failed.
 * fallback when the stack has none. Written into text (size bytes) and returned. Call right after the
 * failing call. */
static inline const char *fc_h5_innermost(char *text, size_t size, const char *fallback)
{
    snprintf(text, size, "%s", fallback);
    fc_h5_text b = {text, size};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, fc_h5_walk_innermost, &b);
    return text;
}

#endif
