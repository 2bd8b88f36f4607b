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

/* How long a wait spins before it sleeps. Where every rank of the node can have a CPU of its own: longer than
 * the usual waits of a step (4-64 us, the ranks' jitter against each other), since a sleep and its wake-up
 * cost tens of microseconds. Where ranks outnumber the CPUs: short, since the rank waited for may need this
 * CPU (fmnist at -n 8 on 2 cores: as fast as the old spin-and-yield wait at 5 us, 35% slower at 50 us). */
#define FC_NODE_FLAG_SPIN_NS 100000
#define FC_NODE_FLAG_SPIN_NS_OVERSUBSCRIBED 5000
/* The CPUs this process may run on, as a bitmap (CPU i: bit i % 64 of word i / 64), where the system says;
 * else every bit set (no CPU count known: the ranks are taken to have a CPU each). */
#define FC_CPU_MASK_WORDS 16
void fc_node_flag_cpu_mask(uint64_t mask[FC_CPU_MASK_WORDS]);
/* The spin for ranks sharing the CPUs of mask, the union of their fc_node_flag_cpu_mask. */
long long fc_node_flag_spin_ns(int ranks, const uint64_t mask[FC_CPU_MASK_WORDS]);

/* Count 0, nobody asleep: before any process waits on it. */
void fc_node_flag_init(fc_node_flag *flag);
/* Sets the count to value (above its current one), releasing every store made before, and wakes the sleepers. */
void fc_node_flag_raise(fc_node_flag *flag, long long value);
/* Returns once flag's count is at least value, having spun for at most spin_ns nanoseconds before sleeping;
 * every store its owner made before raising it is then visible. */
void fc_node_flag_wait(fc_node_flag *flag, long long value, long long spin_ns);
/* A sleeping waiter looks at the count again after this long even unwoken. Tests set it far above their
 * time limit, so that a lost wake-up makes them fail instead of slowing them down. */
#define FC_NODE_FLAG_SLEEP_LIMIT_NS (10 * 1000 * 1000)
void fc_node_flag_set_sleep_limit_ns(long long ns);

#endif
