/* populate_fails: an LD_PRELOAD library for test_small_shm.sh. On the rank that FCNET_TEST_POPULATE_FAILS names
 * (compared with Open MPI's OMPI_COMM_WORLD_RANK), madvise(MADV_POPULATE_WRITE) fails with ENOMEM: /dev/shm full
 * under that rank alone, while the others take their pages. The ranks must still agree on one exchange.
 * Test-only; never linked into fcnet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int madvise(void *addr, size_t len, int advice)
{
    int (*real)(void *, size_t, int) = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
    const char *failing = getenv("FCNET_TEST_POPULATE_FAILS"), *rank = getenv("OMPI_COMM_WORLD_RANK");
    if (advice == MADV_POPULATE_WRITE && failing && rank && strcmp(failing, rank) == 0) {
        errno = ENOMEM;
        return -1;
    }
    return real(addr, len, advice);
}
