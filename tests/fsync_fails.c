/* fsync_fails: an LD_PRELOAD library for test_convert.sh. With FCNET_TEST_FSYNC_FAILS set, fsync fails with
 * EIO (a disk that loses the write-back), so the dataset tools' commit must report it and leave no output and
 * no temporary. Unset, fsync is the real one. Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

int fsync(int fd)
{
    if (getenv("FCNET_TEST_FSYNC_FAILS")) {
        errno = EIO;
        return -1;
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
