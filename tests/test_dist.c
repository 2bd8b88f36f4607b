/* The dist module under mpirun: ordered sums give identical bits on every rank and equal a local sum in
 * rank order; agreement; replica check; slices. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fcnet/dist.h"
#include "fcnet/layers.h"
#include "fcnet/optim.h"
#include "fcnet/rng.h"
#include "testutil.h"

static fc_dist dist;

static fc_real contribution(int rank, size_t i)
{
    uint32_t w[4];
    fc_rng_block(w, 11, FC_RNG_TEST, (uint64_t)rank, 0, (uint32_t)(i >> 32), (uint32_t)i);
    return (fc_real)(fc_rng_unit_double(w[0], w[1]) * 2e3 - 1e3) * (fc_real)(w[2] % 7 == 0 ? 1e-4 : 1);
}

START_TEST(test_sum_grads_rank_order)
{
    const size_t sizes[] = {1, 2, 3, 7, 1000, 4099, (size_t)3 << 20};
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_dist_reserve(&dist, (size_t)3 << 20, 8);
    for (int s = 0; s < 7; s++) {
        size_t n = sizes[s];
        fc_real *g = malloc(n * sizeof *g), *want = malloc(n * sizeof *want);
        for (size_t i = 0; i < n; i++) g[i] = contribution(dist.rank, i);
        /* the documented order: ((g_0 + g_1) + g_2) + ... */
        for (size_t i = 0; i < n; i++) {
            fc_real acc = contribution(0, i);
            for (int q = 1; q < dist.size; q++) acc += contribution(q, i);
            want[i] = acc;
        }
        fc_dist_sum_grads(&dist, g, n);
        ck_assert_msg(memcmp(g, want, n * sizeof *g) == 0, "n=%zu: not bitwise the rank-order sum", n);
        free(g);
        free(want);
    }
    double v[3] = {dist.rank + 0.1, 1e16, -1e16 + dist.rank};
    fc_dist_sum_doubles(&dist, v, 3);
    double want0 = 0;
    for (int q = 0; q < dist.size; q++) want0 += q + 0.1;
    ck_assert(v[0] == want0);
    fc_dist_free(&dist);
}
END_TEST

/* The message path's receive buffer, reserved for exactly n: sizes that no rank count of 2-4 divides, where
 * a rank whose chunk is the longer one receives the last peer's copy at the buffer's very end (an overflow
 * that the sanitizer build sees when the buffer is a chunk short). */
START_TEST(test_sum_grads_exact_reserve)
{
    const size_t sizes[] = {3074, 4099, 8195};
    for (int s = 0; s < 3; s++) {
        const size_t n = sizes[s];
        fc_dist_init_comm(&dist, MPI_COMM_WORLD);
        fc_dist_reserve(&dist, n, 1);
        fc_real *g = malloc(n * sizeof *g), *want = malloc(n * sizeof *want);
        for (size_t i = 0; i < n; i++) {
            g[i] = contribution(dist.rank, i);
            want[i] = contribution(0, i);
            for (int q = 1; q < dist.size; q++) want[i] += contribution(q, i);
        }
        fc_dist_sum_grads(&dist, g, n);
        ck_assert_msg(memcmp(g, want, n * sizeof *g) == 0, "n=%zu: not bitwise the rank-order sum", n);
        free(g);
        free(want);
        fc_dist_free(&dist);
    }
}
END_TEST

/* The sends the dist module posts while `logging` is set, as offsets into `log_base`, each with the number of
 * waits before it (an MPI profiling interposer: the executable's definitions win over Open MPI's for the static
 * library's calls, and hand on to PMPI_Isend and PMPI_Waitall). */
enum { MAX_SENDS = 65536 }; /* the sends of test_allgather_rounds at up to 12 ranks */
typedef struct {
    int dest, count;
    long long at;
    int waits; /* logged: MPI_Waitall calls before the send; expected: the round (-1 for the direct schedule) */
} send_rec;
static int logging = 0, n_sends = 0, n_waits = 0;
static const char *log_base;
static size_t log_elem;
static send_rec sends[MAX_SENDS];

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request *req)
{
    if (logging) {
        if (n_sends < MAX_SENDS)
            sends[n_sends] =
                (send_rec){dest, count, (long long)(((const char *)buf - log_base) / (ptrdiff_t)log_elem), n_waits};
        n_sends++;
    }
    return PMPI_Isend(buf, count, type, dest, tag, comm, req);
}

int MPI_Waitall(int count, MPI_Request reqs[], MPI_Status *statuses)
{
    n_waits += logging;
    return PMPI_Waitall(count, reqs, statuses);
}

/* Appends the messages of elements [lo, hi) to dest, cut at msg_max; empty ranges send nothing. */
static int cut_range(send_rec *want, int m, int dest, size_t lo, size_t hi, size_t msg_max, int round)
{
    for (size_t at = lo; at < hi; at += msg_max) {
        ck_assert_int_lt(m, MAX_SENDS);
        want[m++] = (send_rec){dest, (int)(hi - at < msg_max ? hi - at : msg_max), (long long)at, round};
    }
    return m;
}

/* The sends of one allgather of n elements (block q: [n q / size, n (q + 1) / size)), written out independently
 * of dist.c. Directly: this rank's block to rank + 1, rank + 2, ... (empty blocks too), one message each. In
 * Bruck's rounds (d = 1, 2, 4, ...): blocks rank .. rank + min(d, size - d) - 1 (mod size) to rank - d, as one
 * range or, where they wrap past the last rank, two, each cut at msg_max elements. */
static int schedule_sends(send_rec *want, int rounds, size_t n, size_t msg_max)
{
    const int size = dist.size, rank = dist.rank;
    const size_t sz = (size_t)size;
    int m = 0;
    if (!rounds) {
        const size_t lo = n * (size_t)rank / sz, hi = n * (size_t)(rank + 1) / sz;
        for (int k = 1; k < size; k++) want[m++] = (send_rec){(rank + k) % size, (int)(hi - lo), (long long)lo, -1};
        return m;
    }
    for (int d = 1, round = 0; d < size; d *= 2, round++) {
        const int count = d < size - d ? d : size - d, to = (rank - d + size) % size, end = rank + count;
        const size_t lo = n * (size_t)rank / sz;
        if (end <= size) {
            m = cut_range(want, m, to, lo, n * (size_t)end / sz, msg_max, round);
        } else {
            m = cut_range(want, m, to, lo, n, msg_max, round);
            m = cut_range(want, m, to, 0, n * (size_t)(end - size) / sz, msg_max, round);
        }
    }
    return m;
}

static void check_sends(int rounds, size_t n, size_t msg_max, const char *what)
{
    static send_rec want[MAX_SENDS];
    const int m = schedule_sends(want, rounds, n, msg_max);
    ck_assert_msg(n_sends <= MAX_SENDS, "%s: %d sends, more than the log holds", what, n_sends);
    ck_assert_msg(n_sends == m, "%s n=%zu msg_max=%zu rounds_from=%d: %d sends, not the %d of the %s schedule", what,
                  n, msg_max, dist.rounds_from, n_sends, m, rounds ? "rounds'" : "direct");
    for (int i = 0; i < m; i++)
        ck_assert_msg(sends[i].dest == want[i].dest && sends[i].count == want[i].count && sends[i].at == want[i].at,
                      "%s n=%zu msg_max=%zu rounds_from=%d: send %d is %d elements at %lld to rank %d, not %d at %lld "
                      "to rank %d (%s schedule)", what, n, msg_max, dist.rounds_from, i, sends[i].count, sends[i].at,
                      sends[i].dest, want[i].count, want[i].at, want[i].dest, rounds ? "rounds'" : "direct");
    /* Uncut, the messages of one round (or all of the direct schedule) are in flight together: no wait between
     * them, also not between the two pieces of a run that wraps past the last rank. */
    if (msg_max >= n)
        for (int i = 1; i < m; i++)
            ck_assert_msg(want[i].waits != want[i - 1].waits || sends[i].waits == sends[i - 1].waits,
                          "%s n=%zu rounds_from=%d: a wait between sends %d and %d of one round (%s schedule)", what,
                          n, dist.rounds_from, i - 1, i, rounds ? "rounds'" : "direct");
}

/* The message path's allgathers: every rank ends with each owner's chunk, bit for bit, for chunks that differ in
 * length by one and empty chunks (n below the rank count), sent directly (below 32 ranks, the default) and in
 * Bruck's rounds (rounds_from lowered to 2: ceil(log2 size) rounds of runs of blocks, some wrapping past the last
 * rank; messages also cut into pieces of at most 3 elements; 65549 floats, over 32 KiB a chunk at up to 8 ranks,
 * still directly); the small gather behind the ordered sum of doubles likewise. Both copy the same bits, so the
 * sends are checked as well: the schedule each gather took (rounds from rounds_from ranks on, for blocks of at most
 * 32 KiB: both edges, rounds_from = size and size + 1, blocks of 32 KiB and one element more), and the messages. */
START_TEST(test_allgather_rounds)
{
    enum { N_SMALL = 40, N_CASES = 5 };
    const size_t max_block = ((size_t)32 << 10) / sizeof(fc_real); /* elements */
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t sizes[] = {1, 2, 3, 7, 64, 1000, 4099, 65549, max_block * (size_t)size, max_block * (size_t)size + 1};
    const size_t msg_max[N_CASES] = {(size_t)1 << 30, (size_t)1 << 30, 3, (size_t)1 << 30, (size_t)1 << 30};
    const int rounds_from[N_CASES] = {32, 2, 2, size, size + 1};
    for (int c = 0; c < N_CASES; c++)
        for (int s = 0; s < 10; s++) {
            const size_t n = sizes[s];
            if (msg_max[c] < 1000 && s >= 8) continue; /* thousands of pieces of 3 */
            fc_dist_init_comm(&dist, MPI_COMM_WORLD);
            ck_assert_int_eq(dist.rounds_from, 32);
            dist.msg_max = msg_max[c];
            dist.rounds_from = rounds_from[c];
            fc_dist_reserve(&dist, n, N_SMALL);
            fc_real *buf = malloc(n * sizeof *buf);
            size_t mine, len;
            fc_dist_own_chunk(&dist, n, &mine, &len);
            for (size_t i = 0; i < n; i++)
                buf[i] = i >= mine && i < mine + len ? contribution(dist.rank, i) : (fc_real)NAN;
            log_base = (const char *)buf, log_elem = sizeof *buf, n_sends = n_waits = 0, logging = 1;
            fc_dist_allgather_chunks(&dist, buf, n);
            logging = 0;
            const size_t longest = (n + (size_t)size - 1) / (size_t)size;
            if (size > 1) check_sends(size >= rounds_from[c] && longest <= max_block, n, msg_max[c], "allgather_chunks");
            for (int q = 0; q < dist.size; q++) /* chunk q is [n q / size, n (q + 1) / size) */
                for (size_t i = n * (size_t)q / (size_t)size; i < n * (size_t)(q + 1) / (size_t)size; i++) {
                    const fc_real want = contribution(q, i);
                    ck_assert_msg(memcmp(&buf[i], &want, sizeof want) == 0,
                                  "n=%zu msg_max=%zu rounds_from=%d: element %zu of rank %d's chunk is %g, not its "
                                  "owner's %g", n, dist.msg_max, dist.rounds_from, i, q, (double)buf[i], (double)want);
                }
            free(buf);

            double v[N_SMALL], want[N_SMALL];
            for (int j = 0; j < N_SMALL; j++) {
                v[j] = (double)contribution(dist.rank, (size_t)j + n);
                want[j] = (double)contribution(0, (size_t)j + n);
                for (int q = 1; q < dist.size; q++) want[j] += (double)contribution(q, (size_t)j + n);
            }
            log_base = (const char *)dist.gather, log_elem = sizeof(double), n_sends = n_waits = 0, logging = 1;
            fc_dist_sum_doubles(&dist, v, N_SMALL);
            logging = 0;
            if (size > 1)
                check_sends(size >= rounds_from[c], (size_t)N_SMALL * (size_t)size, msg_max[c], "sum_doubles");
            ck_assert_msg(memcmp(v, want, sizeof v) == 0,
                          "msg_max=%zu rounds_from=%d: the sum of doubles is not the rank-order sum", dist.msg_max,
                          dist.rounds_from);
            /* In two halves: the same messages, the same sum. */
            for (int j = 0; j < N_SMALL; j++) v[j] = (double)contribution(dist.rank, (size_t)j + n);
            n_sends = n_waits = 0, logging = 1;
            fc_dist_sum_doubles_begin(&dist, v, N_SMALL);
            fc_dist_sum_doubles_end(&dist, v, N_SMALL);
            logging = 0;
            if (size > 1)
                check_sends(size >= rounds_from[c], (size_t)N_SMALL * (size_t)size, msg_max[c], "sum_doubles halves");
            ck_assert_msg(memcmp(v, want, sizeof v) == 0,
                          "msg_max=%zu rounds_from=%d: the sum of doubles in halves is not the rank-order sum",
                          dist.msg_max, dist.rounds_from);
            fc_dist_free(&dist);
        }
}
END_TEST

/* The one-node exchange's synchronisation area under a random mix of what a step does (the same sequence on
 * every rank, with rank-dependent delays to shuffle who arrives first): small ordered gathers of 1-40 doubles
 * (whole, or in halves with rank-dependent work between them), gathers too large for the area (the message
 * path), and the barriers of the shared exchange. Every gather
 * must equal the rank-order sum bitwise, and after the parameter barrier (plain, or the loss gather that also
 * publishes the parameters) every rank must see the values that every owner wrote just before it (ordinary
 * and, through the optimizer's streaming path, non-temporal stores alike); the reduce-scatter must sum what
 * every rank wrote into its gradient segment. */
static void random_mix(int ranks_per_node)
{
    enum { N = 1000, BIG = 9000, ROUNDS = 3000 };
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_real *params = NULL, *grads = NULL;
    char per_node[16] = "";
    if (ranks_per_node) snprintf(per_node, sizeof per_node, "%d", ranks_per_node);
    setenv("FCNET_TEST_RANKS_PER_NODE", per_node, 1);
    /* the area sized for the small gathers (up to 40 doubles); BIG exceeds it, on one node and on several */
    ck_assert_int_eq(fc_dist_share_arenas(&dist, N, 40, &params, &grads), FC_OK);
    unsetenv("FCNET_TEST_RANKS_PER_NODE");
    if (dist.size > 1) ck_assert_msg(params && grads && dist.sync_base, "the arenas must be shared");
    const int want_nodes = ranks_per_node ? dist.size / ranks_per_node : 1;
    ck_assert_msg(dist.n_nodes == want_nodes && dist.node_size == dist.size / want_nodes, "%d node(s) of %d, want %d",
                  dist.n_nodes, dist.node_size, want_nodes);
    if (!params) { /* one rank: private arrays, the single-rank paths */
        params = malloc(N * sizeof *params);
        grads = malloc(N * sizeof *grads);
    }
    /* Between nodes, the running sums in pieces of at most 7 elements (several per chunk, and a short last). */
    if (ranks_per_node) dist.piece_max = 7;
    fc_dist_reserve(&dist, N, BIG);
    static double v[BIG];
    /* A failed check must not leave this rank's peers waiting in a barrier: note the first one, go on, and
     * agree on the verdict at the end. */
    char first[200] = "";
#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                        \
        if (!(cond) && !first[0]) snprintf(first, sizeof first, __VA_ARGS__);                                  \
    } while (0)
    size_t own, own_len;
    fc_dist_own_chunk(&dist, N, &own, &own_len);
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t w[4];
        fc_rng_block(w, 5, FC_RNG_TEST, (uint64_t)round, 0, 0, 0); /* the same choice on every rank */
        if ((w[1] + (uint32_t)dist.rank * 7919u) % 5 == 0) /* this rank arrives late */
            for (volatile int spin = 0; spin < (int)(w[2] % 20000); spin++) {
            }
        const int op = (int)(w[0] % 16);
        if (op < 12) { /* a gather: small, or (op 11) larger than the area holds */
            const int n = op == 11 ? BIG : 1 + (int)(w[3] % 40);
            for (int j = 0; j < n; j++) v[j] = (dist.rank + 1) * 0.1 + round * 1e-3 + j * 1e-7;
            if (w[3] & 64) { /* in halves, with work between them that takes each rank its own time */
                fc_dist_sum_doubles_begin(&dist, v, n);
                for (volatile int spin = 0; spin < (int)((w[2] >> (dist.rank % 8)) % 20000); spin++) {
                }
                fc_dist_sum_doubles_end(&dist, v, n);
            } else {
                fc_dist_sum_doubles(&dist, v, n);
            }
            for (int j = 0; j < n; j += 1 + n / 50) {
                double want = 0;
                for (int q = 0; q < dist.size; q++) want += (q + 1) * 0.1 + round * 1e-3 + j * 1e-7;
                CHECK(v[j] == want, "round %d: gather of %d, element %d differs", round, n, j);
            }
        } else if (op < 14) { /* owners write their chunk, the barrier publishes it */
            for (size_t i = own; i < own + own_len; i++) params[i] = (fc_real)(round + (double)i * 1e-3);
            if (op == 13) { /* through the optimizer's non-temporal stores: sgd with lr 0 and dw 0 rewrites w */
                fc_optim_config c = fc_optim_defaults(FC_OPTIM_SGD);
                c.lr = 0;
                fc_optim opt;
                fc_optim_init(&opt, &c, N);
                opt.stream_params = 1;
                for (size_t i = own; i < own + own_len; i++) grads[i] = 0;
                CHECK(fc_optim_step_range(&opt, params, grads, own, own_len) == 1, "round %d: update failed", round);
                fc_optim_free(&opt);
            }
            if (w[3] & 1) { /* as at the end of a step: the loss gather publishes the parameters too */
                /* one double through the area; or (w[3] & 2) more than it holds, whose gather goes by messages
                 * and so must still be followed by the allgather's barrier */
                const int n = (w[3] & 2) ? BIG : 1;
                for (int j = 0; j < n; j++) v[j] = dist.rank + 1.0;
                fc_dist_sum_doubles_allgather(&dist, v, n, params, N);
                CHECK(v[0] == dist.size * (dist.size + 1) / 2.0 && v[n - 1] == v[0], "round %d: loss gather of %d "
                      "gave %g", round, n, v[0]);
            } else {
                fc_dist_allgather_chunks(&dist, params, N);
            }
            for (size_t i = 0; i < N; i++)
                CHECK(params[i] == (fc_real)(round + (double)i * 1e-3), "round %d: params[%zu] not published", round, i);
            /* as in a step, nobody writes the array again before every rank has passed the next barrier */
            fc_dist_allgather_chunks(&dist, params, N);
        } else { /* every rank writes its gradients, the owner sums them */
            for (size_t i = 0; i < N; i++) grads[i] = contribution(dist.rank, i + (size_t)round);
            fc_dist_reduce_scatter(&dist, grads, N);
            for (size_t i = own; i < own + own_len; i++) {
                fc_real want = contribution(0, i + (size_t)round);
                for (int q = 1; q < dist.size; q++) want += contribution(q, i + (size_t)round);
                CHECK(grads[i] == want, "round %d: grads[%zu] not the rank-order sum", round, i);
            }
            /* the step's next barrier, before anyone writes its gradients again */
            fc_dist_allgather_chunks(&dist, params, N);
        }
    }
#undef CHECK
    if (first[0]) fprintf(stderr, "rank %d: %s\n", dist.rank, first);
    const int any_failed = fc_dist_any(&dist, first[0] != 0);
    if (!dist.sync_base) {
        free(params);
        free(grads);
    }
    fc_dist_free(&dist);
    ck_assert_msg(!any_failed, "a rank saw a wrong gather, barrier or sum (its message above, %d rank(s) per node)",
                  ranks_per_node ? ranks_per_node : dist.size);
}

START_TEST(test_node_sync_random_mix)
{
    random_mix(0); /* one node */
    /* Several nodes of 2 or more ranks each (every divisor of the rank count, consecutive ranks as nodes): the
     * reduce-scatter's running sums from node to node and the allgather across nodes, same bits as one node. */
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int per_node = 2; per_node < size; per_node++)
        if (size % per_node == 0) random_mix(per_node);
}
END_TEST

/* The exchange between nodes on a dist whose scratch was already reserved for as many elements before its
 * arenas were shared (a second trainer on the same dist, the first on the message path): the reservation
 * after the sharing must still size the running sums' requests. */
START_TEST(test_nodes_after_earlier_reserve)
{
    enum { N = 1000 };
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 4 || size % 2) return;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_dist_reserve(&dist, N, 8);
    fc_real *params = NULL, *grads = NULL;
    setenv("FCNET_TEST_RANKS_PER_NODE", "2", 1);
    ck_assert_int_eq(fc_dist_share_arenas(&dist, N, 8, &params, &grads), FC_OK);
    unsetenv("FCNET_TEST_RANKS_PER_NODE");
    ck_assert_int_eq(dist.n_nodes, size / 2);
    dist.piece_max = 7;
    fc_dist_reserve(&dist, N, 8);
    for (size_t i = 0; i < N; i++) grads[i] = contribution(dist.rank, i);
    fc_dist_reduce_scatter(&dist, grads, N);
    size_t own, own_len;
    fc_dist_own_chunk(&dist, N, &own, &own_len);
    int bad = 0;
    for (size_t i = own; i < own + own_len; i++) {
        fc_real want = contribution(0, i);
        for (int q = 1; q < dist.size; q++) want += contribution(q, i);
        bad |= grads[i] != want;
    }
    fc_dist_allgather_chunks(&dist, params, N); /* the step's barrier before the arenas go */
    const int any_bad = fc_dist_any(&dist, bad);
    fc_dist_free(&dist);
    ck_assert_msg(!any_bad, "the exchange between nodes after an earlier reserve: not the rank-order sum");
}
END_TEST

/* Sync batchnorm's moments: every rank's (rows, mean, m2) merged in rank order, bitwise as fc_moments_merge
 * applied for q = 0, 1, ... on one process, with the global row count written back and returned; through the
 * synchronisation area (few features) and the message path (more than it holds), with private and with the
 * node's shared arenas, and with uneven shards, one of them empty. Sync batchnorm's own test compares with the
 * whole batch within a tolerance, which another merge order would pass too. */
static void rank_moments(int q, int n, int64_t *rows, double *mean, double *m2)
{
    *rows = q == 1 ? 0 : 3 + (q * 5) % 7; /* rank 1 holds no rows */
    for (int j = 0; j < n; j++) {
        mean[j] = *rows ? (double)contribution(q, (size_t)j) : 0;
        m2[j] = *rows ? fabs((double)contribution(q, (size_t)j + 7919)) * (double)*rows : 0;
    }
}

START_TEST(test_merge_moments_rank_order)
{
    const int widths[] = {5, 5000}; /* 2n + 1 doubles: 11 fit the synchronisation area, 10001 do not */
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* shared 2: consecutive pairs of ranks as nodes (from 4 ranks), the blocks crossing between nodes first */
    for (int shared = 0; shared < 3; shared++)
        for (int w = 0; w < 2; w++) {
            if (shared == 2 && (size < 4 || size % 2)) continue;
            const int n = widths[w];
            fc_dist_init_comm(&dist, MPI_COMM_WORLD);
            fc_real *params = NULL, *grads = NULL;
            setenv("FCNET_TEST_RANKS_PER_NODE", shared == 2 ? "2" : "", 1);
            if (shared) ck_assert_int_eq(fc_dist_share_arenas(&dist, 64, 11, &params, &grads), FC_OK);
            unsetenv("FCNET_TEST_RANKS_PER_NODE");
            if (shared == 2) ck_assert_int_eq(dist.n_nodes, size / 2);
            fc_dist_reserve(&dist, 64, (size_t)(2 * n + 1));
            double *stats = malloc((size_t)(2 * n + 1) * sizeof *stats);
            double *mean = malloc((size_t)n * sizeof *mean), *m2 = malloc((size_t)n * sizeof *m2);
            double *want_mean = calloc((size_t)n, sizeof *want_mean), *want_m2 = calloc((size_t)n, sizeof *want_m2);
            int64_t rows, want_rows = 0;
            for (int q = 0; q < dist.size; q++) {
                rank_moments(q, n, &rows, mean, m2);
                fc_moments_merge(&want_rows, want_mean, want_m2, rows, mean, m2, n);
            }
            rank_moments(dist.rank, n, &rows, stats, stats + n);
            stats[2 * n] = (double)rows;
            const int64_t got = fc_dist_merge_moments(&dist, stats, n);
            ck_assert_int_eq(got, want_rows);
            ck_assert_msg(stats[2 * n] == (double)want_rows, "n=%d shared=%d: rows %g written back, want %lld", n,
                          shared, stats[2 * n], (long long)want_rows);
            ck_assert_msg(memcmp(stats, want_mean, (size_t)n * sizeof *stats) == 0 &&
                              memcmp(stats + n, want_m2, (size_t)n * sizeof *stats) == 0,
                          "n=%d shared=%d: moments not bitwise the rank-order merge", n, shared);
            free(stats);
            free(mean);
            free(m2);
            free(want_mean);
            free(want_m2);
            fc_dist_free(&dist);
        }
}
END_TEST

/* The small gathers on several nodes (consecutive ranks taken as nodes of every size that divides the rank count):
 * a rank's block crosses to the rank of the same node rank on every other node, once, and each node's ranks pass
 * on what they received through the synchronisation area, where every rank sent its block to every other rank
 * before: (M - 1) blocks handed to MPI per rank for M nodes, not size - 1. A gather larger than the area holds
 * still takes the messages between all ranks, and on one node none at all. Every sum stays the rank-order one,
 * bitwise. */
START_TEST(test_gathers_cross_nodes_once)
{
    enum { N = 64, SMALL = 7, BIG = 9000 }; /* BIG: above the area's 8192 doubles, whatever the node count */
    static double v[BIG];
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char first[200] = "";
    for (int per_node = 2; per_node <= size; per_node++) {
        if (size % per_node) continue;
        fc_dist_init_comm(&dist, MPI_COMM_WORLD);
        fc_real *params = NULL, *grads = NULL;
        char value[16];
        snprintf(value, sizeof value, "%d", per_node);
        setenv("FCNET_TEST_RANKS_PER_NODE", per_node == size ? "" : value, 1);
        ck_assert_int_eq(fc_dist_share_arenas(&dist, N, SMALL, &params, &grads), FC_OK);
        unsetenv("FCNET_TEST_RANKS_PER_NODE");
        ck_assert_int_eq(dist.n_nodes, size / per_node);
        fc_dist_reserve(&dist, N, BIG);
        const int M = dist.n_nodes;
        for (int big = 0; big < 2; big++) {
            const int n = big ? BIG : SMALL;
            for (int j = 0; j < n; j++) v[j] = (double)contribution(dist.rank, (size_t)j) * (1 + 1e-9 * dist.rank);
            const double before = fc_dist_gather_bytes_sent();
            fc_dist_sum_doubles(&dist, v, n);
            const double sent = fc_dist_gather_bytes_sent() - before;
            const double want_sent = (double)n * sizeof(double) * (big ? size - 1 : M - 1);
            if (sent != want_sent && !first[0])
                snprintf(first, sizeof first, "%d nodes of %d, gather of %d: %.0f bytes in messages, want %.0f", M,
                         per_node, n, sent, want_sent);
            for (int j = 0; j < n && !first[0]; j++) {
                double want = 0;
                for (int q = 0; q < size; q++) {
                    const double part = (double)contribution(q, (size_t)j) * (1 + 1e-9 * q);
                    want = q == 0 ? part : want + part;
                }
                if (v[j] != want)
                    snprintf(first, sizeof first, "%d nodes of %d, gather of %d: element %d is %.17g, want %.17g", M,
                             per_node, n, j, v[j], want);
            }
        }
        fc_dist_allgather_chunks(&dist, params, N); /* the barrier before the arenas go */
        fc_dist_free(&dist);
    }
    if (first[0]) fprintf(stderr, "%s\n", first);
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    const int any_failed = fc_dist_any(&dist, first[0] != 0);
    fc_dist_free(&dist);
    ck_assert_msg(!any_failed, "a gather took another way or summed otherwise (the line above)");
}
END_TEST

/* The initial broadcast of the parameters in segments of 16 MiB: a buffer of two segments and a few elements
 * arrives whole, its last segment included. */
START_TEST(test_bcast_segments)
{
    const size_t segment = ((size_t)16 << 20) / sizeof(fc_real), n = 2 * segment + 5;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_real *buf = malloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++) buf[i] = dist.rank == 0 ? contribution(0, i) : (fc_real)-1;
    fc_dist_bcast_real(&dist, buf, n);
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (buf[i] != contribution(0, i)) bad = i;
    ck_assert_msg(bad == n, "element %zu of %zu not broadcast", bad, n);
    free(buf);
    fc_dist_free(&dist);
}
END_TEST

START_TEST(test_agree_and_any)
{
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    ck_assert_int_eq(fc_dist_agree(&dist, FC_OK, 0), FC_OK);
    /* only the last rank fails: everybody learns it */
    fc_status mine = dist.rank == dist.size - 1 ? FC_ERR_INPUT : FC_OK;
    ck_assert_int_eq(fc_dist_agree(&dist, mine, 0), FC_ERR_INPUT);
    /* FAIL outranks INPUT */
    mine = dist.rank == 0 ? FC_ERR_INPUT : dist.rank == dist.size - 1 ? FC_ERR_FAIL : FC_OK;
    ck_assert_int_eq(fc_dist_agree(&dist, mine, 0), dist.size > 1 ? FC_ERR_FAIL : FC_ERR_INPUT);
    ck_assert_int_eq(fc_dist_any(&dist, dist.rank == dist.size - 1), 1);
    ck_assert_int_eq(fc_dist_any(&dist, 0), 0);
    fc_dist_free(&dist);
}
END_TEST

/* Several ranks fail, each with its own message: the agreed error is printed once, by the lowest failing rank
 * (the README's bad-input rule), here rank 1 of ranks 1 .. size-1; the others, rank 0 included, print nothing. */
START_TEST(test_agree_prints_lowest_failing_rank)
{
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    const fc_status mine =
        dist.rank == 0 ? FC_OK : fc_error_set(FC_ERR_INPUT, "rank %d's own error", dist.rank);
    fct_stderr c;
    fct_stderr_begin(&c);
    const fc_status st = fc_dist_agree(&dist, mine, 1);
    char err[512];
    fct_stderr_end(&c, err, sizeof err);
    ck_assert_int_eq(st, dist.size > 1 ? FC_ERR_INPUT : FC_OK);
    if (dist.rank == 1)
        ck_assert_msg(strstr(err, "rank 1's own error") && strchr(err, '\n') == err + strlen(err) - 1, "rank 1: '%s'",
                      err);
    else
        ck_assert_msg(err[0] == '\0', "rank %d printed '%s'", dist.rank, err);
    fc_dist_free(&dist);
}
END_TEST

START_TEST(test_check_replicas)
{
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    float a[16], b[16];
    for (int i = 0; i < 16; i++) a[i] = b[i] = (float)i;
    fc_tensor_ref refs[2] = {{"W1", a, sizeof a}, {"m/W1", b, sizeof b}};
    ck_assert_int_eq(fc_dist_check_replicas(&dist, refs, 2, 5), FC_OK);
    if (dist.size > 1) {
        if (dist.rank == dist.size - 1) b[15] = nextafterf(b[15], 100.0f); /* one bit on one rank, in the last element */
        ck_assert_int_eq(fc_dist_check_replicas(&dist, refs, 2, 42), FC_ERR_FAIL);
        char want[128];
        snprintf(want, sizeof want, "replica mismatch at step 42: rank %d differs from rank 0 in m/W1", dist.size - 1);
        ck_assert_str_eq(fc_error_message(), want);
        b[15] = a[15];
        /* Both tensors differ on the last rank: the first of them is named. Where several ranks differ, the
         * lowest of them, with its own first tensor, not the lowest tensor any rank differs in (rank 1 in m/W1,
         * the last rank in W1 as well). */
        if (dist.rank == dist.size - 1) a[3] = b[3] = -1.0f;
        if (dist.rank == 1) b[7] = -1.0f;
        ck_assert_int_eq(fc_dist_check_replicas(&dist, refs, 2, 43), FC_ERR_FAIL);
        snprintf(want, sizeof want, "replica mismatch at step 43: rank %d differs from rank 0 in %s",
                 dist.size > 2 ? 1 : dist.size - 1, dist.size > 2 ? "m/W1" : "W1");
        ck_assert_str_eq(fc_error_message(), want);
        a[3] = b[3] = 3.0f;
        b[7] = 7.0f;
        /* Ranks holding different numbers of tensors (another model on one rank): a mismatch at the first
         * tensor the others lack, reported on every rank, not an MPI error. */
        const int n_here = dist.rank == 1 ? 2 : 1;
        int rank = -1, index = -1;
        ck_assert_int_eq(fc_dist_find_mismatch(&dist, refs, n_here, &rank, &index), 1);
        ck_assert_int_eq(rank, 1);
        ck_assert_int_eq(index, 1);
        ck_assert_int_eq(fc_dist_check_replicas(&dist, refs, n_here, 7), FC_ERR_FAIL);
        if (dist.rank == 0) ck_assert(strstr(fc_error_message(), "in the number of tensors") != NULL);
    }
    fc_dist_free(&dist);
}
END_TEST

START_TEST(test_slices)
{
    for (int size = 1; size <= 9; size++)
        for (int64_t b = 0; b <= 20; b++) {
            int64_t next = 0, lo = b, hi = 0;
            for (int r = 0; r < size; r++) {
                int64_t begin, count;
                fc_dist_slice(b, r, size, &begin, &count);
                ck_assert_int_eq(begin, next);
                next += count;
                lo = count < lo ? count : lo;
                hi = count > hi ? count : hi;
            }
            ck_assert_int_eq(next, b);
            ck_assert_int_le(hi - lo, 1);
        }
}
END_TEST

/* A failed FC_ASSERT in a job of one rank dies of SIGABRT (a debugger stops there, a core file can be
 * written) after its one line; with peers it goes through MPI_Abort instead. The check runs in a child
 * process, so only at one rank: a forked copy of a rank with peers cannot take part in the job. */
static void assert_two_ranks(const void *arg)
{
    const int size = *(const int *)arg;
    signal(SIGABRT, SIG_DFL);
    FC_ASSERT(size == 2);
}

START_TEST(test_assert_alone_aborts)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 1) return;
    /* a child stuck in MPI_Abort dies of fct_run_child's SIGALRM: the check fails instead of timing out */
    const fct_child r = fct_run_child(assert_two_ranks, &size);
    ck_assert_msg(r.signalled && r.signal == SIGABRT, "exited %d code %d signal %d, stderr: %s", r.exited, r.code,
                  r.signal, r.err);
    ck_assert_msg(strstr(r.err, "assertion failed: size == 2"), "%s", r.err);
}
END_TEST

static void allocate_beyond_limit(const void *arg)
{
    (void)arg;
    signal(SIGABRT, SIG_DFL);
    const struct rlimit limit = {256u << 20, 256u << 20};
    setrlimit(RLIMIT_AS, &limit);
    fc_alloc((size_t)1 << 30);
}

/* An allocation that fails ends the job with fcnet's one error line (the lines' usual form), not a crash. */
START_TEST(test_alloc_failure_is_one_error_line)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 1) return;
    const fct_child r = fct_run_child(allocate_beyond_limit, NULL);
    ck_assert_msg(r.signalled && r.signal == SIGABRT, "exited %d code %d signal %d, stderr: %s", r.exited, r.code,
                  r.signal, r.err);
    ck_assert_msg(strcmp(r.err, "fcnet_dist: error: out of memory allocating 1073741824 bytes\n") == 0, "stderr: '%s'",
                  r.err);
}
END_TEST

/* The child of test_shm_room_limits: each limit alone, in the order that lowers them, answers for itself. Exits 0
 * when every answer is right, else 1 with the wrong one on stderr. */
static void check_shm_room_under_limits(const void *arg)
{
    (void)arg;
    const double mib = 1048576.0;
    double room = 0;
    fc_shm_bound bound = FC_SHM_FREE_SPACE;
    /* ulimit -f 3 MiB: a window's file holds 2 MiB, 1 MiB being kept for MPI's own part of it */
    struct rlimit fsize = {3u << 20, 3u << 20};
    if (setrlimit(RLIMIT_FSIZE, &fsize) != 0) _exit(77);
    if (!fc_dist_shm_has_room(1.5 * mib, &room, &bound)) {
        fprintf(stderr, "1.5 MiB refused under a 3 MiB file size limit (room %.0f)\n", room);
        _exit(1);
    }
    if (fc_dist_shm_has_room(2.5 * mib, &room, &bound) || bound != FC_SHM_FILE_SIZE_LIMIT || room != 2 * mib) {
        fprintf(stderr, "2.5 MiB under a 3 MiB file size limit: bound %d, room %.0f\n", (int)bound, room);
        _exit(1);
    }
    const fc_reason_text efbig = fc_errno_reason(EFBIG);
    if (!strstr(efbig.text, "(this process's file size limit, ulimit -f, is 3.00 MiB)")) {
        fprintf(stderr, "EFBIG: '%s'\n", efbig.text);
        _exit(1);
    }
    /* ulimit -n at the lowest free descriptor, the one an open would take: none left for the window's file */
    const int lowest_free = open("/dev/null", O_RDONLY);
    if (lowest_free < 0) _exit(77);
    close(lowest_free);
    struct rlimit files = {(rlim_t)lowest_free, (rlim_t)lowest_free};
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) _exit(77);
    if (fc_dist_shm_has_room(1, &room, &bound) || bound != FC_SHM_OPEN_FILE_LIMIT) {
        fprintf(stderr, "1 byte with no descriptor left: bound %d\n", (int)bound);
        _exit(1);
    }
    char limit[32];
    snprintf(limit, sizeof limit, "ulimit -n, is %d)", lowest_free);
    if (!strstr(fc_errno_reason(EMFILE).text, limit)) {
        fprintf(stderr, "EMFILE: '%s'\n", fc_errno_reason(EMFILE).text);
        _exit(1);
    }
    _exit(0);
}

/* Open MPI backs a shared window with a file in /dev/shm, which a file size limit (ulimit -f) and an open-file limit
 * (ulimit -n) bound as much as its free space: past them MPI aborted the job inside MPI_Win_allocate_shared (exit 16;
 * test_file_size_limit.sh runs whole jobs; helper-174). The room check names the limit that binds. */
START_TEST(test_shm_room_limits)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 1) return;
    struct statvfs fs;
    if (statvfs("/dev/shm", &fs) != 0 || (double)fs.f_bavail * (double)fs.f_frsize < 64.0 * 1048576.0) return;
    const fct_child r = fct_run_child(check_shm_room_under_limits, NULL);
    if (r.exited && r.code == 77) return; /* a hard limit below the ones set */
    ck_assert_msg(r.exited && r.code == 0, "exited %d code %d signal %d, stderr: %s", r.exited, r.code, r.signal,
                  r.err);
}
END_TEST

/* The exchange and the node's data copy word a shortage alike: the bound named, its room and need, and the advice
 * that lifts it. */
START_TEST(test_shm_shortage_words)
{
    char text[256];
    const char *advice = NULL;
    fc_dist_shm_shortage(text, sizeof text, &advice, FC_SHM_FREE_SPACE, 20e6, 45e6, "the thing");
    ck_assert_str_eq(text, "/dev/shm has 20 MB free and the thing needs 45 MB");
    ck_assert_str_eq(advice, "give the container more shared memory, e.g. docker run --shm-size");
    fc_dist_shm_shortage(text, sizeof text, &advice, FC_SHM_FILE_SIZE_LIMIT, 3.0 * 1048576, 16.0 * 1048576, "it");
    ck_assert_str_eq(text, "this process's file size limit (ulimit -f) allows a shared-memory file of 3.00 MiB and it "
                           "needs 16.0 MiB");
    ck_assert_str_eq(advice, "raise the limit");
    advice = NULL;
    fc_dist_shm_shortage(text, sizeof text, &advice, FC_SHM_OPEN_FILE_LIMIT, 0, 1e6, "the thing");
    ck_assert_str_eq(text, "this process's open-file limit (ulimit -n) leaves no descriptor for the file of the thing");
    ck_assert_str_eq(advice, "raise the limit");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dist");
    TCase *t = tcase_create("dist");
    tcase_add_test(t, test_sum_grads_rank_order);
    tcase_add_test(t, test_sum_grads_exact_reserve);
    tcase_add_test(t, test_allgather_rounds);
    tcase_add_test(t, test_node_sync_random_mix);
    tcase_add_test(t, test_nodes_after_earlier_reserve);
    tcase_add_test(t, test_merge_moments_rank_order);
    tcase_add_test(t, test_gathers_cross_nodes_once);
    tcase_add_test(t, test_bcast_segments);
    tcase_add_test(t, test_agree_and_any);
    tcase_add_test(t, test_agree_prints_lowest_failing_rank);
    tcase_add_test(t, test_check_replicas);
    tcase_add_test(t, test_slices);
    tcase_add_test(t, test_assert_alone_aborts);
    tcase_add_test(t, test_alloc_failure_is_one_error_line);
    tcase_add_test(t, test_shm_room_limits);
    tcase_add_test(t, test_shm_shortage_words);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
