/* node_flag: the counter a rank raises and its node's other ranks wait on, spinning and then sleeping. Two
 * forked processes share an anonymous mapping, as the ranks of a node share their synchronisation area:
 * what the owner writes before a raise is seen after the wait, a sleeping waiter is woken (in the ping-pong a
 * sleep looks at the count again only after 1000 s, so one lost wake-up leaves a side hanging: the test
 * fails after 30 s), it uses no CPU while it sleeps, and the spin is short where ranks outnumber CPUs; a waiter
 * with a progress function calls it while it spins and sleeps. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */

#include <check.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcnet/node_flag.h"
#include "testutil.h"

typedef struct {
    fc_node_flag ping, pong;          /* raised by side 1 (it raises first), by side 0 */
    long long ping_value, pong_value; /* written before each raise */
    int bad[2];                       /* per side: the other side's payloads it saw wrong */
    int asleep[2];                    /* per side: its raises that found the other side asleep */
} shared_area;

static shared_area *map_area(void)
{
    shared_area *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(a, MAP_FAILED);
    memset(a, 0, sizeof *a);
    fc_node_flag_init(&a->ping);
    fc_node_flag_init(&a->pong);
    return a;
}

static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int wait_child(pid_t pid)
{
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Before a raise: a nap long enough for a waiter that does not spin to be asleep by then (or none). */
static void nap(long ns)
{
    const struct timespec t = {0, ns};
    if (ns > 0) nanosleep(&t, NULL);
}

/* A waiter for ranks that each have a CPU (the long spin first), or for more ranks than CPUs (the short one). */
static fc_node_waiter make_waiter(int oversubscribed)
{
    uint64_t mask[FC_CPU_MASK_WORDS] = {0x3}; /* CPUs 0 and 1 */
    fc_node_waiter w;
    fc_node_waiter_init(&w, oversubscribed ? 3 : 2, mask);
    return w;
}

/* One side of the ping-pong, in a child of its own: for each round i it waits for i on its peer's flag (the
 * pinging side first raises), checks the peer's payload, naps, writes i and raises its own flag. */
static void play(shared_area *a, int pinging, long long rounds, int oversubscribed, long nap_ns)
{
    fc_node_waiter waiter = make_waiter(oversubscribed);
    fc_node_flag *mine = pinging ? &a->ping : &a->pong, *theirs = pinging ? &a->pong : &a->ping;
    long long *my_value = pinging ? &a->ping_value : &a->pong_value;
    const long long *their_value = pinging ? &a->pong_value : &a->ping_value;
    int bad = 0, asleep = 0;
    for (long long i = 1; i <= rounds; i++) {
        if (!pinging) {
            fc_node_flag_wait(theirs, i, &waiter);
            bad += *their_value != i;
        }
        nap(nap_ns);
        *my_value = i;
        asleep += atomic_load(&mine->sleepers) > 0;
        fc_node_flag_raise(mine, i);
        if (pinging) {
            fc_node_flag_wait(theirs, i, &waiter);
            bad += *their_value != i;
        }
    }
    a->bad[pinging] = bad;
    a->asleep[pinging] = asleep;
    _exit(bad == 0 ? 0 : 1);
}

/* rounds of the ping-pong between two children; each side naps nap_ns before its raise. A child that has
 * not ended after 30 s is taken as hung on a lost wake-up. found_asleep[side]: that side's raises that found
 * its peer asleep. */
static void ping_pong(long long rounds, int oversubscribed, long nap_ns, int found_asleep[2])
{
    shared_area *a = map_area();
    fc_node_flag_set_sleep_limit_ns(1000LL * 1000000000LL); /* in the children: a lost wake-up hangs them */
    pid_t pids[2];
    for (int side = 0; side < 2; side++) {
        pids[side] = fork();
        ck_assert_int_ge(pids[side], 0);
        if (pids[side] == 0) play(a, side, rounds, oversubscribed, nap_ns);
    }
    fc_node_flag_set_sleep_limit_ns(FC_NODE_FLAG_SLEEP_LIMIT_NS);
    int status[2], ended = 0;
    for (int tenths = 0; ended < 2 && tenths < 300; tenths++) {
        for (int side = 0; side < 2; side++)
            if (pids[side] > 0 && waitpid(pids[side], &status[side], WNOHANG) == pids[side]) {
                pids[side] = 0;
                ended++;
            }
        if (ended < 2) nap(100 * 1000 * 1000);
    }
    for (int side = 0; side < 2; side++)
        if (pids[side] > 0) {
            kill(pids[side], SIGKILL);
            waitpid(pids[side], &status[side], 0);
        }
    ck_assert_msg(ended == 2, "%lld rounds: a side still waiting after 30 s (a lost wake-up)", rounds);
    for (int side = 0; side < 2; side++)
        ck_assert_msg(WIFEXITED(status[side]) && WEXITSTATUS(status[side]) == 0,
                      "side %d: status 0x%x, payloads seen wrong: %d", side, (unsigned)status[side], a->bad[side]);
    ck_assert_msg(atomic_load(&a->ping.sleepers) == 0 && atomic_load(&a->pong.sleepers) == 0,
                  "sleepers left counted: %u, %u", (unsigned)atomic_load(&a->ping.sleepers),
                  (unsigned)atomic_load(&a->pong.sleepers));
    found_asleep[0] = a->asleep[0];
    found_asleep[1] = a->asleep[1];
    munmap(a, sizeof *a);
}

/* The short spin and a nap before each raise: the waits sleep, and each raise must wake its sleeper. */
START_TEST(test_ping_pong_sleeping)
{
    const long long rounds = 2000;
    int asleep[2];
    ping_pong(rounds, 1, 100 * 1000, asleep);
    ck_assert_msg(asleep[0] > rounds / 2 && asleep[1] > rounds / 2,
                  "raises that found the waiter asleep: %d and %d of %lld; the sleep was not tested", asleep[0],
                  asleep[1], rounds);
}
END_TEST

/* The spinning waits of a rank that owns its core. */
START_TEST(test_ping_pong_spinning)
{
    int asleep[2];
    ping_pong(50000, 0, 0, asleep);
}
END_TEST

/* waiter's wait on a's pong for a raise that a child makes after 0.4 s: it must not return before, nor use 0.1 s
 * of CPU. */
static void wait_for_late_raise(shared_area *a, fc_node_waiter *waiter)
{
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        nap(400 * 1000 * 1000);
        fc_node_flag_raise(&a->pong, 1);
        _exit(0);
    }
    const double wall0 = seconds(CLOCK_MONOTONIC), cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    fc_node_flag_wait(&a->pong, 1, waiter);
    const double wall = seconds(CLOCK_MONOTONIC) - wall0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_msg(wall > 0.3, "the wait returned after %.3f s, before the raise", wall);
    ck_assert_msg(cpu < 0.1, "the wait used %.3f s of CPU in %.3f s", cpu, wall);
}

START_TEST(test_sleeping_waiter_uses_no_cpu)
{
    shared_area *a = map_area();
    fc_node_waiter waiter = make_waiter(0);
    wait_for_late_raise(a, &waiter);
    munmap(a, sizeof *a);
}
END_TEST

/* The progress function (MPI's, in fcnet): called with its context while the waiter spins (unless told not to),
 * and while it sleeps at least every progress_sleep_ns; the sleeps between stay cheap. A call made while the
 * waiter is counted among the flag's sleepers is one of the sleep's. */
typedef struct {
    const fc_node_flag *flag;
    int calls, calls_spinning;
    double last, longest_gap; /* seconds */
} progress_log;

static void log_progress(void *ctx)
{
    progress_log *log = ctx;
    const double t = seconds(CLOCK_MONOTONIC);
    if (log->calls++ > 0 && t - log->last > log->longest_gap) log->longest_gap = t - log->last;
    log->last = t;
    log->calls_spinning += atomic_load(&log->flag->sleepers) == 0;
}

/* The several-node setting: every 64 spins, asleep every 1 ms (where the sleep limit alone looks every 10 ms). */
START_TEST(test_waiter_keeps_progress)
{
    shared_area *a = map_area();
    fc_node_waiter waiter = make_waiter(0);
    progress_log log = {&a->pong, 0, 0, 0, 0};
    fc_node_waiter_set_progress(&waiter, log_progress, &log, 64, 1000 * 1000);
    wait_for_late_raise(a, &waiter);
    ck_assert_msg(log.calls >= 100, "%d progress calls in a wait of 0.4 s (1 ms sleeps: about 400)", log.calls);
    ck_assert_msg(log.calls_spinning >= 1, "no progress call while spinning (%d in all)", log.calls);
    ck_assert_msg(log.longest_gap < 0.1, "%.3f s between two progress calls", log.longest_gap);
    /* already raised: the wait returns without a call */
    const int calls = log.calls;
    fc_node_flag_wait(&a->pong, 1, &waiter);
    ck_assert_int_eq(log.calls, calls);
    munmap(a, sizeof *a);
}
END_TEST

/* The one-node setting: no call while spinning, asleep at the sleep limit's pace (10 ms). */
START_TEST(test_waiter_progress_asleep_only)
{
    shared_area *a = map_area();
    fc_node_waiter waiter = make_waiter(0);
    progress_log log = {&a->pong, 0, 0, 0, 0};
    fc_node_waiter_set_progress(&waiter, log_progress, &log, 0, FC_NODE_FLAG_SLEEP_LIMIT_NS);
    wait_for_late_raise(a, &waiter);
    ck_assert_msg(log.calls_spinning == 0, "%d progress calls while spinning", log.calls_spinning);
    ck_assert_msg(log.calls >= 10 && log.calls <= 45, "%d progress calls in a wait of 0.4 s (10 ms sleeps: about 40)",
                  log.calls);
    munmap(a, sizeof *a);
}
END_TEST

/* A raise whose waiter has not come yet, and one for an older value: the wait returns at once. */
START_TEST(test_raised_before_the_wait)
{
    shared_area *a = map_area();
    fc_node_waiter waiter = make_waiter(0);
    fc_node_flag_raise(&a->ping, 3);
    fc_node_flag_wait(&a->ping, 3, &waiter);
    fc_node_flag_wait(&a->ping, 2, &waiter);
    ck_assert_int_eq(atomic_load(&a->ping.sleepers), 0);
    munmap(a, sizeof *a);
}
END_TEST

START_TEST(test_spin_follows_ranks_and_cpus)
{
    uint64_t mask[FC_CPU_MASK_WORDS] = {0x3}; /* CPUs 0 and 1 */
    fc_node_waiter w;
    fc_node_waiter_init(&w, 1, mask);
    ck_assert_int_eq(w.spin_ns, FC_NODE_FLAG_SPIN_NS);
    fc_node_waiter_init(&w, 2, mask);
    ck_assert_int_eq(w.spin_ns, FC_NODE_FLAG_SPIN_NS);
    fc_node_waiter_init(&w, 3, mask);
    ck_assert_int_eq(w.spin_ns, FC_NODE_FLAG_SPIN_NS_SHORT);
    mask[FC_CPU_MASK_WORDS - 1] = (uint64_t)1 << 63; /* the last CPU counted too */
    fc_node_waiter_init(&w, 3, mask);
    ck_assert_int_eq(w.spin_ns, FC_NODE_FLAG_SPIN_NS);
    fc_node_waiter_init(&w, 4, mask);
    ck_assert_int_eq(w.spin_ns, FC_NODE_FLAG_SPIN_NS_SHORT);
}
END_TEST

/* A child raises ping 1 .. n - 1 and then last, each once the parent has raised pong to the same value (it is
 * about to wait) and nap_ns later; last alone, at once, for n = 0. The handshake makes each wait last about
 * nap_ns whenever the parent is woken: with the naps alone, a parent woken late under a loaded ctest -j2 found
 * the next raises already made, and their waits were short (only a preemption between its raise and its wait
 * can still shorten one). The child dies with its parent, which it might otherwise wait for forever. */
static pid_t start_raiser(shared_area *a, int n, long nap_ns, long long last)
{
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1) _exit(4);
        fc_node_waiter w = make_waiter(0);
        for (int i = 1; i <= n; i++) {
            fc_node_flag_wait(&a->pong, i, &w);
            nap(nap_ns);
            fc_node_flag_raise(&a->ping, i < n ? i : last);
        }
        if (n == 0) fc_node_flag_raise(&a->ping, last);
        _exit(0);
    }
    return pid;
}

/* A window of waits: long_waits of them wait for a raise 1 ms away, the rest find the flag raised. Returns the
 * spin after it. */
static long long spin_after_window(fc_node_waiter *w, int long_waits)
{
    shared_area *a = map_area();
    const pid_t pid = start_raiser(a, long_waits, 1000 * 1000, FC_NODE_FLAG_WINDOW);
    if (long_waits == 0) ck_assert_int_eq(wait_child(pid), 0);
    for (int i = 1; i <= FC_NODE_FLAG_WINDOW; i++) {
        if (i <= long_waits) fc_node_flag_raise(&a->pong, i);
        fc_node_flag_wait(&a->ping, i, w);
    }
    if (long_waits > 0) ck_assert_int_eq(wait_child(pid), 0);
    munmap(a, sizeof *a);
    return w->spin_ns;
}

/* The spin follows the last window of waits: short once a few lasted 0.3 ms or more (a peer descheduled for
 * other work), long again after a window without; fewer (an epoch end's evaluation) change nothing.
 * With more ranks than CPUs it stays short. */
START_TEST(test_spin_follows_recent_waits)
{
    fc_node_waiter w = make_waiter(0);
    ck_assert_int_eq(spin_after_window(&w, FC_NODE_FLAG_CONTENDED - 1), FC_NODE_FLAG_SPIN_NS);
    ck_assert_int_eq(spin_after_window(&w, FC_NODE_FLAG_CONTENDED + 2), FC_NODE_FLAG_SPIN_NS_SHORT);
    ck_assert_int_eq(spin_after_window(&w, FC_NODE_FLAG_CONTENDED - 1), FC_NODE_FLAG_SPIN_NS);
    fc_node_waiter over = make_waiter(1);
    ck_assert_int_eq(spin_after_window(&over, 0), FC_NODE_FLAG_SPIN_NS_SHORT);
}
END_TEST

/* In a child (fct_run_child): pinned to CPU *arg alone, its mask holds that CPU alone, and two ranks
 * outnumber it. */
static void pinned_sees_one_cpu(const void *arg)
{
    const int cpu = *(const int *)arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(3);
    uint64_t mask[FC_CPU_MASK_WORDS];
    fc_node_flag_cpu_mask(mask);
    for (int w = 0; w < FC_CPU_MASK_WORDS; w++)
        if (mask[w] != (w == cpu / 64 ? (uint64_t)1 << (cpu % 64) : 0)) _exit(1);
    fc_node_waiter w;
    fc_node_waiter_init(&w, 2, mask);
    _exit(w.spin_ns == FC_NODE_FLAG_SPIN_NS_SHORT ? 0 : 2);
}

/* The mask is the process's affinity: a child pinned to one CPU sees that CPU alone. */
START_TEST(test_cpu_mask_is_the_affinity)
{
    cpu_set_t set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    uint64_t mask[FC_CPU_MASK_WORDS];
    fc_node_flag_cpu_mask(mask);
    int first = -1;
    for (int i = 0; i < 64 * FC_CPU_MASK_WORDS; i++) {
        const int in_mask = (int)((mask[i / 64] >> (i % 64)) & 1);
        ck_assert_msg(in_mask == (i < CPU_SETSIZE && CPU_ISSET(i, &set)), "CPU %d: mask %d", i, in_mask);
        if (in_mask && first < 0) first = i;
    }
    ck_assert_int_ge(first, 0);
    const fct_child r = fct_run_child(pinned_sees_one_cpu, &first);
    ck_assert_msg(r.exited && r.code == 0, "the pinned child: exit %d, signal %d (1: mask, 2: spin, 3: pinning)",
                  r.code, r.signal);
}
END_TEST

static Suite *node_flag_suite(void)
{
    Suite *s = suite_create("node_flag");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, test_ping_pong_sleeping);
    tcase_add_test(tc, test_ping_pong_spinning);
    tcase_add_test(tc, test_sleeping_waiter_uses_no_cpu);
    tcase_add_test(tc, test_raised_before_the_wait);
    tcase_add_test(tc, test_waiter_keeps_progress);
    tcase_add_test(tc, test_waiter_progress_asleep_only);
    tcase_add_test(tc, test_spin_follows_ranks_and_cpus);
    tcase_add_test(tc, test_spin_follows_recent_waits);
    tcase_add_test(tc, test_cpu_mask_is_the_affinity);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) { return fct_run(node_flag_suite(), argc, argv); }
