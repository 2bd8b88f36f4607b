/* shm_room_lie: an LD_PRELOAD library for test_small_shm.sh that reports 64 times the real free space of
 * /dev/shm, so that every room check (fcnet's and Open MPI's) passes while the space is in fact short: what
 * a rank sees when another job fills /dev/shm after those checks. Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

static int is_shm(const char *path) { return path && strncmp(path, "/dev/shm", 8) == 0; }

/* fn(path, buf) as libc answers it, with /dev/shm's block counts multiplied by 64. */
#define OVERSTATE(fn, type)                                                                    \
    int fn(const char *path, type *buf)                                                        \
    {                                                                                          \
        int (*real)(const char *, type *) = (int (*)(const char *, type *))dlsym(RTLD_NEXT, #fn); \
        const int rc = real(path, buf);                                                        \
        if (rc == 0 && is_shm(path)) {                                                         \
            buf->f_blocks *= 64;                                                               \
            buf->f_bfree *= 64;                                                                \
            buf->f_bavail *= 64;                                                               \
        }                                                                                      \
        return rc;                                                                             \
    }

OVERSTATE(statvfs, struct statvfs)
OVERSTATE(statfs, struct statfs)
