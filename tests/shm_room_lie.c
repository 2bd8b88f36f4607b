/* shm_room_lie: an LD_PRELOAD library for test_small_shm.sh that reports 64 times the real free space of
 * /dev/shm, so that every room check (fcnet's and Open MPI's) passes while the space is in fact short: what
 * a rank sees when another job fills /dev/shm after those checks. Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

static int is_shm(const char *path) { return path && strncmp(path, "/dev/shm", 8) == 0; }

int statvfs(const char *path, struct statvfs *buf)
{
    int (*real)(const char *, struct statvfs *) = (int (*)(const char *, struct statvfs *))dlsym(RTLD_NEXT, "statvfs");
    const int rc = real(path, buf);
    if (rc == 0 && is_shm(path)) {
        buf->f_blocks *= 64;
        buf->f_bfree *= 64;
        buf->f_bavail *= 64;
    }
    return rc;
}

int statfs(const char *path, struct statfs *buf)
{
    int (*real)(const char *, struct statfs *) = (int (*)(const char *, struct statfs *))dlsym(RTLD_NEXT, "statfs");
    const int rc = real(path, buf);
    if (rc == 0 && is_shm(path)) {
        buf->f_blocks *= 64;
        buf->f_bfree *= 64;
        buf->f_bavail *= 64;
    }
    return rc;
}
