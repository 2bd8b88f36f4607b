/* A counter one process raises and the other processes of its node wait on, through memory they all map.
 * A wait spins for a while (a rank that owns its core sees its peer's news within microseconds) and then
 * sleeps in the kernel (a futex) until the owner raises the counter, so that a rank whose peer has been
 * descheduled gives its core to whatever else runs there. Spinning alone (with a sched_yield now and then)
 * made a 2-rank run beside two busy processes on 2 cores 6 times slower than its fair share: a rank that had
 * spent its share spinning was descheduled in turn while its peer waited for it. */
#ifndef FCNET_NODE_FLAG_H
#define FCNET_NODE_FLAG_H

#include <stdatomic.h>
#include <stdint.h>

/* Lives in memory the processes share; 16 bytes. */
typedef struct {
    _Atomic long long count;   /* the owner's last raised value */
    _Atomic uint32_t word;     /* the low 32 bits of count: what sleepers sleep on */
    _Atomic uint32_t sleepers; /* waiters asleep on word, or about to be */
} fc_node_flag;

/* How long a wait spins before it sleeps. Where the node's ranks each have a CPU and the recent waits were
 * short: longer than the usual waits of a step (4-64 us, the ranks' jitter against each other), since a sleep
 * and its wake-up cost tens of microseconds. Where ranks outnumber the CPUs, or where the recent waits show a
 * peer being descheduled (FC_NODE_FLAG_CONTENDED of the last FC_NODE_FLAG_WINDOW waits lasted
 * FC_NODE_FLAG_LONG_WAIT_NS or more: a time slice of other work, where a dedicated machine has such waits only
 * at epoch ends), short, since the peer may be waiting for this very CPU. fmnist -n 2 on 2 cores, samples/s
 * idle and beside one busy process: 147-149k and 53-58k spinning 100 us always; 74-76k beside it at 5 us
 * always (and 3-8% slower idle in some runs); 147-151k and 73-76k by this rule. */
#define FC_NODE_FLAG_SPIN_NS 100000
#define FC_NODE_FLAG_SPIN_NS_SHORT 5000
#define FC_NODE_FLAG_LONG_WAIT_NS 300000
#define FC_NODE_FLAG_WINDOW 256
#define FC_NODE_FLAG_CONTENDED 4
/* The CPUs this process may run on, as a bitmap (CPU i: bit i % 64 of word i / 64), where the system says;
 * else every bit set (no CPU count known: the ranks are taken to have a CPU each). */
#define FC_CPU_MASK_WORDS 16
void fc_node_flag_cpu_mask(uint64_t mask[FC_CPU_MASK_WORDS]);

/* How one process waits: its spin now, and what its recent waits saw. */
typedef struct fc_node_waiter {
    long long spin_ns;
    int oversubscribed;    /* the node's ranks outnumber their CPUs: always the short spin */
    int waits, long_waits; /* in the current window */
    void (*progress)(void *ctx); /* NULL, or called now and then while waiting (fc_node_waiter_set_progress) */
    void *progress_ctx;
    unsigned progress_spins;     /* with progress: spins between two calls while spinning (0: none then) */
    long long progress_sleep_ns; /* with progress: the longest sleep between two calls */
} fc_node_waiter;
/* For ranks sharing the CPUs of mask, the union of their fc_node_flag_cpu_mask. No progress function. */
void fc_node_waiter_init(fc_node_waiter *waiter, int ranks, const uint64_t mask[FC_CPU_MASK_WORDS]);
/* A wait calls progress(ctx) every spins spins (a multiple of 64; 0: not while spinning), and asleep after at most
 * sleep_ns: for a process whose peers elsewhere may need it to act while it waits (MPI's progress: see dist.c). */
void fc_node_waiter_set_progress(fc_node_waiter *waiter, void (*progress)(void *ctx), void *ctx, unsigned spins,
                                 long long sleep_ns);

/* Count 0, nobody asleep: before any process waits on it. */
void fc_node_flag_init(fc_node_flag *flag);
/* Sets the count to value (above its current one), releasing every store made before, and wakes the sleepers. */
void fc_node_flag_raise(fc_node_flag *flag, long long value);
/* Returns once flag's count is at least value, having spun for at most waiter's spin before sleeping; every
 * store its owner made before raising it is then visible. */
void fc_node_flag_wait(fc_node_flag *flag, long long value, fc_node_waiter *waiter);
/* A sleeping waiter looks at the count again after this long even unwoken. Tests set it far above their
 * time limit, so that a lost wake-up makes them fail instead of slowing them down. */
#define FC_NODE_FLAG_SLEEP_LIMIT_NS (10 * 1000 * 1000)
void fc_node_flag_set_sleep_limit_ns(long long ns);

#endif
