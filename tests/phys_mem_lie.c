/* phys_mem_lie: an LD_PRELOAD library for test_small_shm.sh that makes sysconf(_SC_PHYS_PAGES) report
 * PHYS_MEM_LIE_MB megabytes of memory, so that a dataset of a few MB is too large for one copy per rank but not
 * for one per node. Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

long sysconf(int name)
{
    long (*real)(int) = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    const char *mb = getenv("PHYS_MEM_LIE_MB");
    if (name == _SC_PHYS_PAGES && mb && atol(mb) > 0) return atol(mb) * 1048576L / real(_SC_PAGE_SIZE);
    return real(name);
}
