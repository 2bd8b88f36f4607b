/* syscall() and sched_getaffinity() are beyond the project's _POSIX_C_SOURCE. */
#define _GNU_SOURCE

#include "fcnet/node_flag.h"

#include <sched.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "atomics shared between processes must be lock-free");

static long long sleep_limit_ns = FC_NODE_FLAG_SLEEP_LIMIT_NS;

void fc_node_flag_set_sleep_limit_ns(long long ns) { sleep_limit_ns = ns; }

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void fc_node_flag_cpu_mask(uint64_t mask[FC_CPU_MASK_WORDS])
{
    memset(mask, 0xff, FC_CPU_MASK_WORDS * sizeof *mask);
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    memset(mask, 0, FC_CPU_MASK_WORDS * sizeof *mask);
    for (int i = 0; i < CPU_SETSIZE && i < 64 * FC_CPU_MASK_WORDS; i++)
        if (CPU_ISSET(i, &set)) mask[i / 64] |= (uint64_t)1 << (i % 64);
#endif
}

void fc_node_waiter_init(fc_node_waiter *waiter, int ranks, const uint64_t mask[FC_CPU_MASK_WORDS])
{
    int cpus = 0;
    for (int w = 0; w < FC_CPU_MASK_WORDS; w++)
        for (uint64_t bits = mask[w]; bits; bits &= bits - 1) cpus++;
    waiter->oversubscribed = ranks > cpus;
    waiter->spin_ns = waiter->oversubscribed ? FC_NODE_FLAG_SPIN_NS_SHORT : FC_NODE_FLAG_SPIN_NS;
    waiter->waits = waiter->long_waits = 0;
    waiter->progress = NULL;
    waiter->progress_ctx = NULL;
    waiter->progress_spins = 0;
    waiter->progress_sleep_ns = 0;
}

void fc_node_waiter_set_progress(fc_node_waiter *waiter, void (*progress)(void *ctx), void *ctx, unsigned spins,
                                 long long sleep_ns)
{
    waiter->progress = progress;
    waiter->progress_ctx = ctx;
    waiter->progress_spins = spins;
    waiter->progress_sleep_ns = sleep_ns;
}

/* One wait more, of ns nanoseconds; at the end of a window, the spin for the next one. */
static void count_wait(fc_node_waiter *waiter, long long ns)
{
    waiter->long_waits += ns >= FC_NODE_FLAG_LONG_WAIT_NS;
    if (++waiter->waits < FC_NODE_FLAG_WINDOW) return;
    const int contended = waiter->oversubscribed || waiter->long_waits >= FC_NODE_FLAG_CONTENDED;
    waiter->spin_ns = contended ? FC_NODE_FLAG_SPIN_NS_SHORT : FC_NODE_FLAG_SPIN_NS;
    waiter->waits = waiter->long_waits = 0;
}

void fc_node_flag_init(fc_node_flag *flag)
{
    atomic_init(&flag->count, 0);
    atomic_init(&flag->word, 0);
    atomic_init(&flag->sleepers, 0);
}

/* The handshake with sleepers: a raise stores count (release), then word, then reads sleepers; a waiter adds
 * itself to sleepers, then reads word and count before it sleeps on word. The store of word, the read of sleepers
 * and the waiter's two accesses around them are sequentially consistent, so either the raise sees the sleeper and
 * wakes it, or the sleeper sees the new word, and with it (the word stored after count) the new count: the kernel
 * does not put a waiter to sleep on a word that no longer holds the value it read. */
void fc_node_flag_raise(fc_node_flag *flag, long long value)
{
    atomic_store_explicit(&flag->count, value, memory_order_release);
    atomic_store_explicit(&flag->word, (uint32_t)value, memory_order_seq_cst);
#if defined(__linux__)
    if (atomic_load_explicit(&flag->sleepers, memory_order_seq_cst) > 0)
        syscall(SYS_futex, &flag->word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
#endif
}

static int is_raised(fc_node_flag *flag, long long value)
{
    return atomic_load_explicit(&flag->count, memory_order_acquire) >= value;
}

void fc_node_flag_wait(fc_node_flag *flag, long long value, fc_node_waiter *waiter)
{
    if (is_raised(flag, value)) {
        count_wait(waiter, 0);
        return;
    }
    const long long start = now_ns(), spin_ns = waiter->spin_ns;
    for (unsigned spins = 1;; spins++) {
#if defined(__SSE2__)
        _mm_pause();
#endif
        if (is_raised(flag, value)) {
            count_wait(waiter, now_ns() - start);
            return;
        }
        if (spins % 64 == 0) {
            if (waiter->progress && waiter->progress_spins && spins % waiter->progress_spins == 0)
                waiter->progress(waiter->progress_ctx);
            if (now_ns() - start >= spin_ns) break;
        }
    }
    /* Asleep, a process with a progress function wakes for it at least every progress_sleep_ns. */
    const long long sleep_ns =
        waiter->progress && waiter->progress_sleep_ns < sleep_limit_ns ? waiter->progress_sleep_ns : sleep_limit_ns;
#if defined(__linux__)
    atomic_fetch_add_explicit(&flag->sleepers, 1, memory_order_seq_cst);
    for (;;) {
        const uint32_t seen = atomic_load_explicit(&flag->word, memory_order_seq_cst);
        if (is_raised(flag, value)) break;
        /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. Without a progress function the time
         * limit only bounds what a lost wake-up, which the handshake rules out, would cost. */
        const struct timespec limit = {sleep_ns / 1000000000, sleep_ns % 1000000000};
        syscall(SYS_futex, &flag->word, FUTEX_WAIT, seen, &limit, NULL, 0);
        if (waiter->progress && !is_raised(flag, value)) waiter->progress(waiter->progress_ctx);
    }
    atomic_fetch_sub_explicit(&flag->sleepers, 1, memory_order_seq_cst);
#else
    while (!is_raised(flag, value)) {
        if (waiter->progress) waiter->progress(waiter->progress_ctx);
        sched_yield();
    }
#endif
    count_wait(waiter, now_ns() - start);
}
