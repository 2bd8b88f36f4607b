/* signal_on_create: an LD_PRELOAD library for test_convert.sh. With FCNET_TEST_SIGNAL_ON_CREATE=N set, an open(2)
 * that creates a file whose name ends in ".tmp" raises signal N as soon as that file exists: a batch system's
 * SIGTERM arriving at the moment the dataset tools' OUT.tmp is created, inside HDF5's create call, which a
 * kill from outside hits only by chance. Also for a name ending in ".tmp.<digits>", the temporary file of a
 * checkpoint save (test_signals.sh: a Ctrl-C during the final save). Unset, open is the real one. Test-only;
 * never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* 1 when path ends in ".tmp", or in ".tmp." and digits. */
static int is_tmp(const char *path)
{
    const size_t full = strlen(path);
    size_t len = full;
    while (len > 0 && path[len - 1] >= '0' && path[len - 1] <= '9') len--;
    if (len < full && (len == 0 || path[--len] != '.')) return 0;
    return len > 4 && strncmp(path + len - 4, ".tmp", 4) == 0;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    const int fd = real(path, flags, mode);
    const char *sig = getenv("FCNET_TEST_SIGNAL_ON_CREATE");
    if (sig && fd >= 0 && (flags & O_CREAT) && is_tmp(path)) raise(atoi(sig));
    return fd;
}
