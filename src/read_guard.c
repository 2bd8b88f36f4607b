/* Reading a corrupted file: a crash inside HDF5 becomes one error line and exit 2 (see read_guard.h). */
#define _XOPEN_SOURCE 700 /* sigaltstack, SA_ONSTACK */

#include "fcnet/read_guard.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/common.h"
#include "fcnet/memory_limits.h"

enum { GUARD_DEPTH = 4, ALT_STACK_BYTES = 1 << 16 };

static char lines[GUARD_DEPTH][4096 + 512]; /* the error line of each open read, made before it is needed */
static volatile sig_atomic_t depth = 0;
static volatile sig_atomic_t exit_code = FC_ERR_INPUT;
static unsigned quiet_seconds = 5; /* how long a crashed rank other than 0 waits before it speaks */
static struct sigaction saved_segv, saved_bus;
/* A crash from a stack overflow (recursion over a cyclic structure) leaves no stack for the handler. */
static char alt_stack[ALT_STACK_BYTES];
static stack_t saved_stack;

static void on_crash(int sig)
{
    (void)sig;
    int d = depth;
    const char *line = lines[d > 0 ? (d <= GUARD_DEPTH ? d - 1 : GUARD_DEPTH - 1) : 0];
    /* Every rank reads the same file and crashes alike: rank 0 speaks for them. The others wait, and
     * mpirun's SIGTERM (about a second after rank 0 has exited) ends them silently, so only a crash on
     * another rank alone gets its line out. On several nodes a node-local copy can crash the ranks of a node
     * without rank 0 only: there its first rank speaks after 5 s and its peers, which wait 5 s longer, are
     * ended likewise (had they all waited 5 s, each would have printed the line). */
    if (fc_log_rank() != 0) {
        signal(SIGTERM, SIG_DFL); /* fcnet's own handler would only ask for a stop at the next step */
        for (unsigned left = quiet_seconds; left > 0;) left = sleep(left);
    }
    ssize_t ignored = write(STDERR_FILENO, line, strlen(line));
    (void)ignored;
    _exit(exit_code);
}

void fc_read_guard_training_started(void) { exit_code = FC_ERR_FAIL; }

void fc_read_guard_set_node_rank(int rank, int with_rank0) { quiet_seconds = rank > 0 && !with_rank0 ? 10 : 5; }

void fc_read_guard_begin(const char *path)
{
    int d = depth;
    if (d < GUARD_DEPTH) {
        /* Under a tight limit HDF5 can crash on an allocation it does not check: say so rather than blame the
         * file alone (ulimit -v 100000 with one BLAS thread crashed reading a sound file). */
        char limit_note[160] = "";
        double limit = 0, left = 0;
        const char *which = "";
        if (fc_memory_limit(&limit, &left, &which))
            snprintf(limit_note, sizeof limit_note, "memory ran out under this process's limit (%s, %s), or ",
                     which, fc_format_size(limit).text);
        fc_log_format(lines[d], sizeof lines[d], "error",
                      "%s: crashed while reading it (SIGSEGV/SIGBUS, most likely in HDF5): %sthe file is damaged "
                      "in a part HDF5 does not checksum, such as a length in its global heap",
                      path, limit_note);
    }
    if (d == 0) {
        const stack_t alt = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
        sigaltstack(&alt, &saved_stack);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        /* RESETHAND, NODEFER: a crash in the handler itself dies of the signal */
        sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
        sigaction(SIGSEGV, &sa, &saved_segv);
        sigaction(SIGBUS, &sa, &saved_bus);
    }
    depth = d + 1;
}

void fc_read_guard_end(void)
{
    FC_ASSERT(depth > 0);
    depth = depth - 1;
    if (depth == 0) {
        sigaction(SIGSEGV, &saved_segv, NULL);
        sigaction(SIGBUS, &saved_bus, NULL);
        sigaltstack(&saved_stack, NULL);
    }
}
