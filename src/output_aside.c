#include "fcnet/output_aside.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KEPT, ARMED, MOVING, ASIDE };
/* Lock-free, so a handler may use it; MOVING while a handler (possibly on another thread) moves the descriptors. */
static atomic_int state = KEPT;
static int kept_fd = -1; /* standard output's own descriptor while it is set aside */

void fc_output_aside_arm(int launched)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) != 0) return;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (launched && isatty(STDOUT_FILENO)))
        atomic_store(&state, ARMED);
}

void fc_output_aside_now(void)
{
    int armed = ARMED;
    if (!atomic_compare_exchange_strong(&state, &armed, MOVING)) return;
    const int saved_errno = errno;
    /* Opened here, not when armed: no descriptor is held for it unless a run stops (ulimit -n) */
    const int kept = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    const int null = kept >= 0 ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
    if (null >= 0 && dup2(null, STDOUT_FILENO) >= 0) kept_fd = kept;
    else if (kept >= 0) close(kept);
    if (null >= 0) close(null);
    errno = saved_errno;
    atomic_store(&state, ASIDE);
}

void fc_output_aside_end(void)
{
    int now = atomic_load(&state);
    /* MOVING: a handler on another thread is moving the descriptors; its few calls end soon */
    do {
        while (now == MOVING) now = atomic_load(&state);
    } while (!atomic_compare_exchange_weak(&state, &now, KEPT));
    if (now != ASIDE || kept_fd < 0) return;
    fflush(stdout); /* what was printed while aside goes where it went */
    dup2(kept_fd, STDOUT_FILENO);
    close(kept_fd);
    kept_fd = -1;
    clearerr(stdout);
}
