/* madvise() is beyond the project's _POSIX_C_SOURCE. */
#define _DEFAULT_SOURCE

#include "fcnet/dist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fcnet/config.h"
#include "fcnet/layers.h"
#include "fcnet/memory_limits.h"
#include "fcnet/node_flag.h"
#include "fcnet/read_guard.h"

/* Broadcasts move at most this many elements per call (16 MiB in either precision): Open MPI maps a fresh
 * temporary for single collectives of >= 32 MiB (measured ~67 ms each in the design notes), so stay below. */
#define FC_BCAST_SEGMENT (((size_t)16 << 20) / sizeof(fc_real))

/* The per-step exchanges use non-blocking point-to-point messages rather than MPI collectives: Open MPI's
 * collective algorithms allocate small temporaries at some rank counts (seen: allgather at -n 3,
 * allgatherv at -n 4), while Isend/Irecv reuse free-listed requests, so a step allocates nothing. */
enum { TAG_SCATTER = 101, TAG_GATHER = 102, TAG_SMALL = 103, TAG_CHAIN = 104, TAG_CHAIN_DONE = 105, TAG_CROSS = 106 };
/* Blocks of at most this many bytes are allgathered in Bruck's rounds, larger ones directly (allgather_blocks). */
#define FC_BRUCK_MAX_BLOCK ((size_t)32 << 10)
enum { SHARED_PARAMS = 0, SHARED_GRADS = 1 }; /* fc_dist.shared_win and shared_base */
#define FC_MAX_REPLICA_TENSORS 4096
/* Doubles per payload buffer of the node's synchronisation area: fc_dist_share_arenas sizes it for the gathers it
 * is told of, within these bounds (the upper one: 16 MiB per rank in /dev/shm); larger gathers take the message
 * path (the same choice on every rank, since every rank gathers the same count). */
#define FC_SYNC_CAP 8192
#define FC_SYNC_CAP_MAX ((size_t)1 << 20)
/* How often a rank waiting on its node's peers keeps MPI's messages moving (mpi_progress) where the job spans
 * several nodes: every 64 spins, and asleep every millisecond. On one node a step sends messages only for a
 * gather too large for the synchronisation area: there only asleep, at the sleep limit's pace (10 ms), which
 * leaves the spin of the single-node exchange as it was and spares ranks that outnumber their CPUs the wake-ups. */
#define FC_PROGRESS_SPINS 64
#define FC_PROGRESS_SLEEP_NS (1000 * 1000)
static size_t sync_bytes(size_t cap) { return 64 + 2 * cap * sizeof(double); }
_Static_assert(sizeof(fc_node_flag) <= 64, "a rank's fc_node_flag fits the 64-byte header of its synchronisation area");

static int is_single(const fc_dist *d) { return d == NULL || d->size == 1; }

/* Chunk q of a segment of len elements: [q*len/size, (q+1)*len/size). */
static size_t chunk_begin(size_t len, int q, int size) { return len * (size_t)q / (size_t)size; }
/* The longest of those chunks: the room a chunk needs. */
static size_t chunk_max(size_t len, int size) { return (len + (size_t)size - 1) / (size_t)size; }

/* The running sums between nodes travel in messages of at most this many elements (256 KiB in float; tests
 * lower fc_dist.piece_max): small enough for the next node to start early, large enough to keep the link busy. */
#define FC_CHAIN_PIECE ((size_t)1 << 16)
/* Elements of the piece at offset at of a run of len, pieces of at most piece. */
static int piece_len(size_t len, size_t at, size_t piece) { return (int)(len - at < piece ? len - at : piece); }

/* Time spent in the small ordered gathers (batchnorm statistics, loss), and the bytes they handed to MPI
 * messages: --profile reports them. */
static double gather_seconds = 0, gather_bytes_sent = 0;

double fc_dist_gather_seconds(void) { return gather_seconds; }
double fc_dist_gather_bytes_sent(void) { return gather_bytes_sent; }

/* fc_set_abort_peers's hook: with peers, MPI_Abort, so that none is left waiting in a collective. */
static void abort_world(void)
{
    int initialized = 0, finalized = 0, size = 1;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
}

static void init_common(fc_dist *dist)
{
    fc_set_abort_peers(abort_world);
    MPI_Comm_rank(dist->comm, &dist->rank);
    MPI_Comm_size(dist->comm, &dist->size);
    fc_log_set_rank(dist->rank, dist->size);
    /* Every rank on a node holds its own copy of the model (and of the data when not shared): memory checks use
     * a share. */
    MPI_Comm node;
    int node_size = 1, node_rank = 0;
    MPI_Comm_split_type(dist->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_size);
    MPI_Comm_rank(node, &node_rank);
    int is_rank0 = dist->rank == 0, node_has_rank0 = 0;
    MPI_Allreduce(&is_rank0, &node_has_rank0, 1, MPI_INT, MPI_MAX, node);
    MPI_Comm_free(&node);
    fc_set_node_ranks(node_size);
    fc_read_guard_set_node_rank(node_rank, node_has_rank0);
    dist->requests = fc_alloc(2 * (size_t)dist->size * sizeof(MPI_Request));
    dist->msg_max = (size_t)1 << 30;
    dist->rounds_from = 32;
    dist->piece_max = FC_CHAIN_PIECE;
    dist->parts = fc_alloc(((size_t)dist->size + 1) * sizeof *dist->parts); /* + the running sum of a node chain */
    dist->node = MPI_COMM_NULL;
    dist->cross = MPI_COMM_NULL;
    dist->node_rank = dist->rank;
    dist->node_size = dist->size;
    dist->n_nodes = 1;
}

/* The variables a launcher gives its processes; fc_dist_init reads them before MPI_Init. Once MPI runs,
 * only Open MPI's own OMPI_COMM_WORLD_SIZE still tells (a singleton has it unset). */
static int launcher_in_environment(int before_init)
{
    if (getenv("OMPI_COMM_WORLD_SIZE")) return 1;
    return before_init && (getenv("PMIX_RANK") || getenv("PMI_RANK"));
}

int fc_dist_started_by_launcher(void) { return launcher_in_environment(1); }

fc_status fc_dist_init(fc_dist *dist, int *argc, char ***argv)
{
    memset(dist, 0, sizeof *dist);
    int initialized = 0;
    MPI_Initialized(&initialized);
    dist->launched = launcher_in_environment(!initialized);
    if (!initialized) {
        if (MPI_Init(argc, argv) != MPI_SUCCESS) return fc_error_set(FC_ERR_FAIL, "MPI_Init failed");
        dist->owns_mpi = 1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &dist->comm);
    init_common(dist);
    return FC_OK;
}

fc_status fc_dist_init_comm(fc_dist *dist, MPI_Comm comm)
{
    memset(dist, 0, sizeof *dist);
    dist->launched = launcher_in_environment(0);
    MPI_Comm_dup(comm, &dist->comm);
    init_common(dist);
    return FC_OK;
}

void fc_dist_free(fc_dist *dist)
{
    if (!dist) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) fc_dist_release_arenas(dist);
    fc_free(dist->grad_recv);
    fc_free(dist->chain_requests);
    fc_free(dist->requests);
    fc_free(dist->gather);
    fc_free(dist->parts);
    if (!finalized && dist->comm != MPI_COMM_NULL && dist->size > 0) MPI_Comm_free(&dist->comm);
    if (dist->owns_mpi && !finalized) MPI_Finalize();
    memset(dist, 0, sizeof *dist);
}

void fc_dist_reserve(fc_dist *dist, size_t grad_n, size_t gather_n)
{
    if (!dist) return;
    if (grad_n > dist->grad_n) {
        size_t chunk = chunk_max(grad_n, dist->size);
        FC_ASSERT(chunk < ((size_t)1 << 31));
        fc_free(dist->grad_recv);
        /* a chunk more than the message path needs: the exchange between nodes receives a rank's finished
         * chunk there (reduce_scatter_nodes) */
        dist->grad_recv = fc_alloc(chunk * ((size_t)dist->size + 1) * sizeof(fc_real));
        dist->grad_n = grad_n;
    }
    /* The exchange between nodes: its pieces' requests (reduce_scatter_nodes). Apart from the scratch above,
     * which may have been sized for grad_n before the arenas were shared (an earlier trainer on this dist). */
    if (dist->n_nodes > 1) {
        const size_t chunk = chunk_max(dist->grad_n, dist->size);
        const size_t need = (2 * (size_t)dist->n_nodes + 1) * ((chunk + dist->piece_max - 1) / dist->piece_max);
        if (need > dist->chain_cap) {
            fc_free(dist->chain_requests);
            dist->chain_requests = fc_alloc(need * sizeof(MPI_Request));
            dist->chain_cap = need;
        }
    }
    if (gather_n > dist->gather_n) {
        fc_free(dist->gather);
        dist->gather = fc_alloc(gather_n * (size_t)dist->size * sizeof(double));
        dist->gather_n = gather_n;
    }
}

double fc_dist_reserve_bytes(const fc_dist *dist, size_t grad_n, size_t gather_n)
{
    if (!dist) return 0;
    double bytes = 0;
    if (grad_n > dist->grad_n) bytes += (double)chunk_max(grad_n, dist->size) * ((double)dist->size + 1) * sizeof(fc_real);
    if (gather_n > dist->gather_n) bytes += (double)gather_n * (double)dist->size * sizeof(double);
    return bytes;
}

/* FCNET_EXCHANGE: auto (shared memory where every rank is on one node, the default) or p2p (messages). */
static const char *const exchange_words[] = {"auto", "p2p"};

/* Open MPI backs shared windows with files in /dev/shm (its default shmem_mmap_backing_file_base_dir). When
 * that file system has less room than the windows need (containers give it 64 MB by default), creating
 * them fails inside MPI, on some ranks only. So does a file larger than the creating process's file size limit
 * (ulimit -f): its ftruncate fails with EFBIG and MPI aborts the job. */
int fc_dist_shm_has_room(double need_bytes, double *room_bytes, fc_shm_bound *bound)
{
    /* MPI opens the window's file: with no descriptor left (ulimit -n) it aborts the job (exit 16; helper-174) */
    const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0 && errno == EMFILE) {
        *room_bytes = 0;
        *bound = FC_SHM_OPEN_FILE_LIMIT;
        return 0;
    }
    if (probe >= 0) close(probe);
    struct statvfs fs;
    if (statvfs("/dev/shm", &fs) != 0) return 1; /* elsewhere: let MPI try */
    *room_bytes = (double)fs.f_bavail * (double)fs.f_frsize;
    *bound = FC_SHM_FREE_SPACE;
    double usable = 0.9 * *room_bytes;
    /* the window's file holds MPI's control data besides the segments: a few pages per rank */
    const double control = 1048576.0;
    struct rlimit fsize;
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
        (double)fsize.rlim_cur - control < usable) {
        usable = (double)fsize.rlim_cur > control ? (double)fsize.rlim_cur - control : 0;
        *room_bytes = usable;
        *bound = FC_SHM_FILE_SIZE_LIMIT;
    }
    return need_bytes <= usable;
}

void fc_dist_shm_shortage(char *text, size_t size, const char **advice, fc_shm_bound bound, double room_bytes,
                          double need_bytes, const char *subject)
{
    *advice = "raise the limit";
    if (bound == FC_SHM_OPEN_FILE_LIMIT)
        snprintf(text, size, "this process's open-file limit (ulimit -n) leaves no descriptor for the file of %s",
                 subject);
    else if (bound == FC_SHM_FILE_SIZE_LIMIT)
        snprintf(text, size, "this process's file size limit (ulimit -f) allows a shared-memory file of %s and %s "
                 "needs %s", fc_format_size(room_bytes).text, subject, fc_format_size(need_bytes).text);
    else {
        snprintf(text, size, "/dev/shm has %.0f MB free and %s needs %.0f MB", room_bytes / 1e6, subject,
                 need_bytes / 1e6);
        *advice = "give the container more shared memory, e.g. docker run --shm-size";
    }
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int fc_dist_populate(void *addr, size_t bytes)
{
    if (bytes == 0) return 0;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t begin = (uintptr_t)addr & ~(page - 1), end = ((uintptr_t)addr + bytes + page - 1) & ~(page - 1);
    if (madvise((void *)begin, end - begin, MADV_POPULATE_WRITE) == 0 || errno == EINVAL) return 0;
    return errno;
}

/* Rank q's segment of a shared window (at least min_bytes), from its first cache line on: 64 bytes of each
 * segment are spare for that, since Open MPI puts a header before it. The page offset of a mapping is the
 * same in every process, so every rank computes the same start. */
char *fc_dist_segment_start(MPI_Win win, int q, MPI_Aint min_bytes)
{
    MPI_Aint size_q;
    int disp_unit;
    void *base = NULL;
    MPI_Win_shared_query(win, q, &size_q, &disp_unit, &base);
    FC_ASSERT(base != NULL && size_q >= min_bytes);
    return (char *)base + ((64 - ((uintptr_t)base & 63)) & 63);
}

/* Called while a rank waits on its node's peers (fc_node_flag_wait). Open MPI has no progress thread for TCP: a
 * large message whose send request is already complete may still need its sender's MPI calls to arrive (in a hung
 * job every socket's queues were empty, and calling the progress engine in the sleeping sender, from gdb, released
 * it). A rank that waited for its node's peers without MPI calls then held back a rank on another node, which
 * waited for that message before it could publish what the waiting rank's peers needed in turn: the job hung
 * (tests/netns/bench_nodes.sh, and 8 of 8 of test_tcp_progress.sh's runs over TCP with small socket buffers).
 * MPI_Iprobe runs the progress engine and receives nothing. */
static void mpi_progress(void *ctx)
{
    int flag;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, ((const fc_dist *)ctx)->comm, &flag, MPI_STATUS_IGNORE);
}

/* The ranks that share memory with this one: its node (or, for tests, every FCNET_TEST_RANKS_PER_NODE
 * consecutive ranks, as if they were a node, where they do share a node). Rank 0's setting holds for all. */
static MPI_Comm split_nodes(const fc_dist *dist)
{
    int per_node = 0;
    if (dist->rank == 0) {
        const char *v = getenv("FCNET_TEST_RANKS_PER_NODE");
        per_node = v && *v ? atoi(v) : 0;
    }
    MPI_Bcast(&per_node, 1, MPI_INT, 0, dist->comm);
    MPI_Comm node;
    MPI_Comm_split_type(dist->comm, MPI_COMM_TYPE_SHARED, dist->rank, MPI_INFO_NULL, &node);
    if (per_node <= 0) return node;
    MPI_Comm part, part_node;
    MPI_Comm_split(dist->comm, dist->rank / per_node, dist->rank, &part);
    MPI_Comm_split_type(part, MPI_COMM_TYPE_SHARED, dist->rank, MPI_INFO_NULL, &part_node);
    int part_size, part_node_size, whole = 0;
    MPI_Comm_size(part, &part_size);
    MPI_Comm_size(part_node, &part_node_size);
    MPI_Comm_free(&part_node);
    const int fits = part_size == part_node_size; /* the pretended node lies within a real one */
    MPI_Allreduce(&fits, &whole, 1, MPI_INT, MPI_LAND, dist->comm);
    MPI_Comm_free(whole ? &node : &part);
    return whole ? part : node;
}

/* 1 on every rank when every node holds the same number (at least 2) of consecutive ranks, the layout the
 * node-to-node exchange needs (mpirun's and Slurm's default block placement); 0 on every rank otherwise. */
static int nodes_in_blocks(const fc_dist *dist, int node_rank, int node_size)
{
    int mine[2] = {node_size, -node_size}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MIN, dist->comm);
    const int uniform = all[0] == -all[1] && node_size >= 2 && dist->size % node_size == 0;
    int in_block = uniform && dist->rank % node_size == node_rank, all_in_block = 0;
    MPI_Allreduce(&in_block, &all_in_block, 1, MPI_INT, MPI_LAND, dist->comm);
    return all_in_block;
}

fc_status fc_dist_share_arenas(fc_dist *dist, size_t n, size_t gather_n, fc_real **params, fc_real **grads)
{
    *params = *grads = NULL;
    int word;
    const fc_status st = fc_config_env_word("FCNET_EXCHANGE", exchange_words, 2, &word);
    int setting = word == 0 ? 1 : word == 1 ? 0 : -1, worst = setting; /* 1 shared memory, 0 messages, -1 unknown */
    if (!is_single(dist)) /* agreed, not taken alone: a rank with another environment must not pick another path */
        MPI_Allreduce(&setting, &worst, 1, MPI_INT, MPI_MIN, dist->comm);
    if (st != FC_OK) return st;
    /* p2p, one rank, or another rank's error, which the caller's agreement reports */
    if (worst <= 0 || is_single(dist)) return FC_OK;
    FC_ASSERT(dist->shared_n == 0 && n > 0);
    MPI_Comm node = split_nodes(dist);
    int node_size = 0, node_rank = 0;
    MPI_Comm_size(node, &node_size);
    MPI_Comm_rank(node, &node_rank);
    /* the same answer on every rank: one node, several in blocks, or another layout (messages) */
    if (node_size != dist->size && !nodes_in_blocks(dist, node_rank, node_size)) {
        MPI_Comm_free(&node);
        return FC_OK;
    }
    /* A payload buffer of the synchronisation area holds a gather's blocks from every node of this rank's node
     * rank (fc_dist_sum_doubles_begin). */
    const size_t n_nodes = (size_t)(dist->size / node_size), want_cap = n_nodes * gather_n;
    size_t cap = want_cap < FC_SYNC_CAP ? FC_SYNC_CAP : want_cap > FC_SYNC_CAP_MAX ? FC_SYNC_CAP_MAX : want_cap;
    /* One parameter array, a gradient buffer and a synchronisation area per rank; each node's first rank
     * looks at its /dev/shm, and every rank follows the verdict of the lowest rank that lacks room. Where the
     * area sized for the gathers does not fit but the smallest does, every rank takes the smallest (the
     * gathers too large for it go by messages): the same area, and so the same way of each gather, everywhere. */
    const double arrays = ((double)node_size + 1) * ((double)n * sizeof(fc_real) + 64);
    const double need_small = arrays + (double)node_size * (double)(sync_bytes(FC_SYNC_CAP) + 64);
    double need = arrays + (double)node_size * (double)(sync_bytes(cap) + 64);
    double room_bytes = 0;
    fc_shm_bound bound = FC_SHM_FREE_SPACE;
    int room = 2; /* 2: the sized area fits, 1: only the smallest, 0: nothing */
    if (node_rank == 0 && !fc_dist_shm_has_room(need, &room_bytes, &bound))
        room = cap > FC_SYNC_CAP && fc_dist_shm_has_room(need_small, &room_bytes, &bound) ? 1 : 0;
    MPI_Bcast(&room, 1, MPI_INT, 0, node);
    int short_rank[2] = {room ? dist->size : dist->rank, 0}, first_short[2], least_room = room;
    MPI_Allreduce(short_rank, first_short, 1, MPI_2INT, MPI_MINLOC, dist->comm);
    MPI_Allreduce(&room, &least_room, 1, MPI_INT, MPI_MIN, dist->comm);
    if (first_short[0] < dist->size) {
        if (dist->rank == first_short[0]) {
            char why[256];
            const char *advice;
            fc_dist_shm_shortage(why, sizeof why, &advice, bound, room_bytes, need_small, "the shared-memory exchange");
            fc_log_warn("%s: exchanging with MPI messages instead (same results; to use it, %s)", why, advice);
        }
        MPI_Comm_free(&node);
        return FC_OK;
    }
    if (least_room == 1) {
        cap = FC_SYNC_CAP;
        need = need_small;
    }
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true"); /* each segment on pages its rank touches first */
    dist->node = node;
    dist->node_rank = node_rank;
    dist->node_size = node_size;
    const MPI_Aint bytes = (MPI_Aint)(n * sizeof(fc_real));
    for (int w = 0; w < 2; w++) {
        void *mine = NULL;
        /* The parameters: one array for the node, in its first rank's segment. The gradients: a segment
         * per rank. 64 bytes more, to start an array on a cache line (segment_start). */
        const MPI_Aint my_bytes = w == SHARED_PARAMS && node_rank > 0 ? 0 : bytes + 64;
        MPI_Win_allocate_shared(my_bytes, 1, info, node, &mine, &dist->shared_win[w]);
        dist->shared_base[w] = fc_alloc((size_t)node_size * sizeof(fc_real *));
        for (int q = 0; q < node_size; q++)
            dist->shared_base[w][q] =
                (fc_real *)fc_dist_segment_start(dist->shared_win[w], w == SHARED_PARAMS ? 0 : q, bytes + 64);
    }
    /* The synchronisation area: a 64-byte header (its fc_node_flag) and the two payload buffers, per rank. */
    void *mine = NULL;
    MPI_Win_allocate_shared((MPI_Aint)(sync_bytes(cap) + 64), 1, info, node, &mine, &dist->sync_win);
    MPI_Info_free(&info);
    dist->sync_cap = cap;
    dist->sync_base = fc_alloc((size_t)node_size * sizeof(char *));
    for (int q = 0; q < node_size; q++)
        dist->sync_base[q] = fc_dist_segment_start(dist->sync_win, q, (MPI_Aint)(sync_bytes(cap) + 64));
    if (node_size != dist->size) {
        dist->n_nodes = dist->size / node_size;
        MPI_Comm_split(dist->comm, node_rank, dist->rank / node_size, &dist->cross);
    }
    /* Every rank takes the pages it would touch first (its part of the node's parameters, its gradients, its
     * part of the synchronisation area): where /dev/shm filled up since the room check, the ranks agree on
     * the message path now instead of one of them dying of SIGBUS later. */
    const size_t begin = chunk_begin(n, node_rank, node_size), len = chunk_begin(n, node_rank + 1, node_size) - begin;
    int err = fc_dist_populate(dist->shared_base[SHARED_PARAMS][0] + begin, len * sizeof(fc_real));
    if (!err) err = fc_dist_populate(dist->shared_base[SHARED_GRADS][node_rank], (size_t)bytes);
    if (!err) err = fc_dist_populate(dist->sync_base[node_rank], sync_bytes(cap));
    int failed = err != 0, any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_LOR, dist->comm);
    if (any_failed) {
        if (dist->rank == 0)
            fc_log_warn("/dev/shm filled up while the shared-memory exchange (%.0f MB) was being set up: exchanging "
                        "with MPI messages instead (same results)",
                        need / 1e6);
        fc_dist_release_arenas(dist);
        return FC_OK;
    }
    fc_node_flag_init((fc_node_flag *)dist->sync_base[node_rank]);
    /* Whether the node's ranks outnumber the CPUs they may use together (--oversubscribe): see node_flag.h. */
    uint64_t cpus[FC_CPU_MASK_WORDS], node_cpus[FC_CPU_MASK_WORDS];
    fc_node_flag_cpu_mask(cpus);
    MPI_Allreduce(cpus, node_cpus, FC_CPU_MASK_WORDS, MPI_UINT64_T, MPI_BOR, node);
    dist->sync_waiter = fc_alloc(sizeof *dist->sync_waiter);
    fc_node_waiter_init(dist->sync_waiter, node_size, node_cpus);
    if (dist->n_nodes > 1)
        fc_node_waiter_set_progress(dist->sync_waiter, mpi_progress, dist, FC_PROGRESS_SPINS, FC_PROGRESS_SLEEP_NS);
    else
        fc_node_waiter_set_progress(dist->sync_waiter, mpi_progress, dist, 0, FC_NODE_FLAG_SLEEP_LIMIT_NS);
    MPI_Barrier(node); /* every counter is 0 before anyone waits on one */
    dist->shared_n = n;
    *params = dist->shared_base[SHARED_PARAMS][node_rank];
    *grads = dist->shared_base[SHARED_GRADS][node_rank];
    return FC_OK;
}

void fc_dist_release_arenas(fc_dist *dist)
{
    if (!dist || dist->node == MPI_COMM_NULL) return;
    for (int w = 0; w < 2; w++) {
        MPI_Win_free(&dist->shared_win[w]);
        fc_free(dist->shared_base[w]);
        dist->shared_base[w] = NULL;
    }
    MPI_Win_free(&dist->sync_win);
    fc_free(dist->sync_base);
    dist->sync_base = NULL;
    dist->sync_cap = 0;
    fc_free(dist->sync_waiter);
    dist->sync_waiter = NULL;
    MPI_Comm_free(&dist->node);
    dist->node = MPI_COMM_NULL;
    if (dist->cross != MPI_COMM_NULL) MPI_Comm_free(&dist->cross);
    dist->cross = MPI_COMM_NULL;
    dist->n_nodes = 1;
    dist->node_rank = dist->rank;
    dist->node_size = dist->size;
    dist->shared_n = 0;
}

void fc_dist_bcast_real(const fc_dist *dist, fc_real *buf, size_t n)
{
    if (is_single(dist)) return;
    for (size_t at = 0; at < n; at += FC_BCAST_SEGMENT) {
        size_t len = n - at < FC_BCAST_SEGMENT ? n - at : FC_BCAST_SEGMENT;
        MPI_Bcast(buf + at, (int)len, FC_MPI_REAL, 0, dist->comm);
    }
}

void fc_dist_bcast_bytes(const fc_dist *dist, void *buf, size_t n_bytes)
{
    if (is_single(dist)) return;
    FC_ASSERT(n_bytes < ((size_t)1 << 31));
    MPI_Bcast(buf, (int)n_bytes, MPI_BYTE, 0, dist->comm);
}

/* out = ((parts[0] + parts[1]) + parts[2]) + ..., where one of the parts may be out itself: one sweep,
 * a block at a time through a small accumulator, so that no part is copied first. */
FC_VECTOR_CLONES
static void sum_in_rank_order(fc_real *out, const fc_real *const *parts, int size, int len)
{
    enum { BLOCK = 512, LINE = 64 / sizeof(fc_real) };
    fc_real acc[BLOCK];
    for (int i0 = 0; i0 < len; i0 += BLOCK) {
        const int m = len - i0 < BLOCK ? len - i0 : BLOCK;
        /* With the shared-memory exchange the peers' parts sit in the other cores' caches, and the hardware
         * prefetcher follows them poorly: ask for the lines two blocks ahead (fmnist -n 2, the slower rank's
         * sum: 0.049-0.053 -> 0.035-0.038 ms per step). */
        for (int q = 0; q < size; q++)
            for (int k = i0 + 2 * BLOCK; k < i0 + 3 * BLOCK && k < len; k += LINE)
                __builtin_prefetch(parts[q] + k, 0, 3);
        for (int q = 0; q < size; q++) {
            const fc_real *p = parts[q] + i0;
            if (q == 0)
                for (int i = 0; i < m; i++) acc[i] = p[i];
            else
                for (int i = 0; i < m; i++) acc[i] += p[i];
        }
        memcpy(out + i0, acc, (size_t)m * sizeof *out);
    }
}

void fc_dist_own_chunk(const fc_dist *dist, size_t n, size_t *begin, size_t *len)
{
    const int size = fc_dist_size(dist), rank = fc_dist_rank(dist);
    *begin = chunk_begin(n, rank, size);
    *len = chunk_begin(n, rank + 1, size) - *begin;
}

/* A run of consecutive blocks (mod size) of a buffer whose block q is elements [chunk_begin(n, q), chunk_begin(n,
 * q + 1)), handed out as messages: one per contiguous range (two where the run wraps past the last rank), cut
 * at dist->msg_max elements. Sender and receiver of a run cut it alike. */
typedef struct block_run {
    size_t at[2], end[2]; /* the element ranges still to go: [at, end) */
    size_t max;           /* elements per message at most */
} block_run;

static block_run block_run_of(const fc_dist *dist, size_t n, int first, int count)
{
    const int size = dist->size;
    FC_ASSERT(dist->msg_max > 0 && dist->msg_max <= (size_t)INT_MAX);
    block_run r = {{0, 0}, {0, 0}, dist->msg_max};
    const int last = first + count; /* one past; beyond size where the run wraps */
    r.at[0] = chunk_begin(n, first, size);
    r.end[0] = chunk_begin(n, last < size ? last : size, size);
    if (last > size) r.end[1] = chunk_begin(n, last - size, size);
    return r;
}

/* The next message of the run: its first element and length; 0 when the run is done. */
static int block_run_next(block_run *r, size_t *at, int *len)
{
    for (int k = 0; k < 2; k++)
        if (r->at[k] < r->end[k]) {
            const size_t left = r->end[k] - r->at[k];
            *at = r->at[k];
            *len = (int)(left < r->max ? left : r->max);
            r->at[k] += (size_t)*len;
            return 1;
        }
    return 0;
}

/* Bruck's allgather: before round k (d = 2^k) a rank holds the blocks of ranks rank .. rank + d - 1 (mod size);
 * it sends the first min(d, size - d) of them to rank - d and receives as many, from block rank + d on, from
 * rank + d. ceil(log2 size) rounds instead of size - 1 messages per rank, for the same size - 1 blocks. */
static void allgather_bruck(const fc_dist *dist, void *buf, size_t n, MPI_Datatype type, size_t elem_bytes, int tag)
{
    const int size = dist->size, rank = dist->rank;
    char *base = buf;
    for (int d = 1; d < size; d *= 2) {
        const int count = d < size - d ? d : size - d, from = (rank + d) % size, to = (rank - d + size) % size;
        block_run in = block_run_of(dist, n, from, count), out = block_run_of(dist, n, rank, count);
        /* Up to size messages each way at a time (dist->requests holds 2 size), each side's i-th message matching
         * its peer's i-th: nothing waits for a message its peer has not posted. Uncut, a round is one batch, the two
         * pieces of a run that wraps past the last rank in flight together: one latency per round, not two (one
         * pair at a time, 4 ranks: 3 message latencies in a row instead of 2). */
        for (;;) {
            MPI_Request *req = dist->requests;
            int m = 0, len;
            size_t at;
            for (int k = 0; k < size && block_run_next(&in, &at, &len); k++)
                MPI_Irecv(base + at * elem_bytes, len, type, from, tag, dist->comm, &req[m++]);
            for (int k = 0; k < size && block_run_next(&out, &at, &len); k++)
                MPI_Isend(base + at * elem_bytes, len, type, to, tag, dist->comm, &req[m++]);
            if (m == 0) break;
            MPI_Waitall(m, req, MPI_STATUSES_IGNORE);
        }
    }
}

/* The requests of one direct exchange: a receive from and a send to every peer. */
static int direct_requests(const fc_dist *dist) { return 2 * (dist->size - 1); }

/* Posts the direct exchange of allgather_direct: the receives of every peer's block and the sends of this
 * rank's, direct_requests of them in dist->requests (complete them with MPI_Waitall). */
static void allgather_direct_post(const fc_dist *dist, void *buf, size_t n, MPI_Datatype type, size_t elem_bytes,
                                  int tag)
{
    const int size = dist->size, rank = dist->rank;
    char *base = buf;
    FC_ASSERT(chunk_max(n, size) < ((size_t)1 << 31)); /* the longest block: MPI counts are int */
    const size_t mine = chunk_begin(n, rank, size);
    const int my_len = (int)(chunk_begin(n, rank + 1, size) - mine);
    MPI_Request *req = dist->requests;
    int m = 0;
    for (int k = 1; k < size; k++) { /* from rank + 1 on, so that no rank is everybody's first peer */
        const int q = (rank + k) % size;
        const size_t begin = chunk_begin(n, q, size);
        MPI_Irecv(base + begin * elem_bytes, (int)(chunk_begin(n, q + 1, size) - begin), type, q, tag, dist->comm,
                  &req[m++]);
    }
    for (int k = 1; k < size; k++)
        MPI_Isend(base + mine * elem_bytes, my_len, type, (rank + k) % size, tag, dist->comm, &req[m++]);
    FC_ASSERT(m == direct_requests(dist));
}

/* Every rank sends its block to every other directly: size - 1 messages, all in flight at once. */
static void allgather_direct(const fc_dist *dist, void *buf, size_t n, MPI_Datatype type, size_t elem_bytes, int tag)
{
    allgather_direct_post(dist, buf, n, type, elem_bytes, tag);
    MPI_Waitall(direct_requests(dist), dist->requests, MPI_STATUSES_IGNORE);
}

/* Whether the message path's allgather of the blocks of n elements (block q: elements [chunk_begin(n, q),
 * chunk_begin(n, q + 1))) takes Bruck's rounds, else the direct exchange. Messages sent at once overlap their
 * latencies but not the sender's per-message work, so the direct exchange costs about one latency plus size - 1
 * sends, and Bruck's rounds a latency per round: rounds win only at many ranks (from dist->rounds_from, 32: over
 * TCP about where log2(size) latencies of ~40 us undercut size sends of a few us), and only for small blocks, whose
 * time on the wire is below a message's latency (32 KiB: ~30 us at 1 GB/s). At 4 ranks rounds lost (4 namespace
 * hosts x 1 rank, cs231n, interleaved pairs: the small gathers slower in 8 of 10, 2.59 vs 2.43 ms per step; the
 * step in 8 of 10 when the 350 KB parameter chunks took rounds as well). Only copies: the same bits either way. */
static int uses_rounds(const fc_dist *dist, size_t n, size_t elem_bytes)
{
    return dist->size >= dist->rounds_from && chunk_max(n, dist->size) * elem_bytes <= FC_BRUCK_MAX_BLOCK;
}

/* The message path's allgather of the blocks of buf. */
static void allgather_blocks(const fc_dist *dist, void *buf, size_t n, MPI_Datatype type, size_t elem_bytes, int tag)
{
    if (uses_rounds(dist, n, elem_bytes))
        allgather_bruck(dist, buf, n, type, elem_bytes, tag);
    else
        allgather_direct(dist, buf, n, type, elem_bytes, tag);
}

/* Whether a gather of n doubles per rank goes through the node's synchronisation area: on one node wholly, on
 * several after its blocks crossed between nodes (gathers_by_node); else it takes messages between all ranks. The
 * same answer on every rank, since every rank gathers the same count. */
static int uses_sync_area(const fc_dist *dist, int n)
{
    return dist->sync_base != NULL && (size_t)dist->n_nodes * (size_t)n <= dist->sync_cap;
}

static int gathers_by_node(const fc_dist *dist, int n) { return uses_sync_area(dist, n) && dist->n_nodes > 1; }

const char *fc_dist_describe_gathers(const fc_dist *dist, int n)
{
    if (is_single(dist)) return "none (one rank)";
    if (gathers_by_node(dist, n)) return "each rank's block once to every other node, the rest in shared memory";
    if (uses_sync_area(dist, n)) return "shared memory";
    return dist->sync_base ? "the largest too large for shared memory, those in MPI messages between all ranks"
                           : "MPI messages between all ranks";
}

/* Rank q's payload of synchronisation seq. */
static const double *node_sync_part(const fc_dist *dist, int q, long long seq)
{
    return (const double *)(dist->sync_base[q] + 64) + (size_t)(seq & 1) * dist->sync_cap;
}

/* The first half of the node's next synchronisation: this rank publishes count blocks of n doubles, block k from
 * v + k * stride, one after another (n may be 0), and returns the synchronisation's number. Whatever a rank wrote
 * to shared memory before it published (the release store) is visible to every rank after its wait (the acquire
 * loads). Two payload buffers alternate: a rank rewrites one only after every peer has published the following
 * synchronisation, i.e. has finished reading this one (each rank waits for one synchronisation before it
 * publishes the next). */
static long long node_publish_blocks(const fc_dist *dist, const double *v, int n, int count, size_t stride)
{
    fc_node_flag *mine = (fc_node_flag *)dist->sync_base[dist->node_rank];
    const long long seq = atomic_load_explicit(&mine->count, memory_order_relaxed) + 1;
    double *out = (double *)node_sync_part(dist, dist->node_rank, seq);
    for (int k = 0; k < count && n > 0; k++)
        memcpy(out + (size_t)k * (size_t)n, v + (size_t)k * stride, (size_t)n * sizeof(double));
#if defined(__SSE2__)
    _mm_sfence(); /* the release store orders ordinary stores only; this also publishes non-temporal ones */
#endif
    fc_node_flag_raise(mine, seq);
    return seq;
}

static long long node_publish(const fc_dist *dist, const double *v, int n)
{
    return node_publish_blocks(dist, v, n, 1, 0);
}

/* The second half: waits until every rank of the node has published this rank's last synchronisation, and
 * returns its number. */
static long long node_wait(const fc_dist *dist)
{
    const fc_node_flag *mine = (const fc_node_flag *)dist->sync_base[dist->node_rank];
    const long long seq = atomic_load_explicit(&mine->count, memory_order_relaxed);
    for (int q = 0; q < dist->node_size; q++)
        if (q != dist->node_rank) fc_node_flag_wait((fc_node_flag *)dist->sync_base[q], seq, dist->sync_waiter);
    return seq;
}

/* Memory written to a shared window before the barrier is visible to every rank after it. */
static void shared_barrier(const fc_dist *dist)
{
    node_publish(dist, NULL, 0);
    node_wait(dist);
}

static int is_shared(const fc_dist *dist, int which, const fc_real *buf, size_t n)
{
    return dist->shared_n > 0 && n == dist->shared_n && buf == dist->shared_base[which][dist->node_rank];
}

/* Several nodes of R ranks each (n_nodes M): node-chunk i of the buffer (the M chunks i*M .. i*M + M - 1) is
 * added up by the rank of node rank i on every node in turn. Node 0's adds its node's copies in rank order and
 * sends the running sum to node 1's, which adds its node's copies to it, and so on: the sum of every chunk is
 * ((p0 + p1) + p2) + ..., the bits of one node. The last node's adder hands each finished chunk to its
 * owner: through the shared segment on its own node, in a message elsewhere. This puts about n elements on a
 * node's link each way (the running sums; less for the finished chunks), where every rank sending to every
 * other would put R (M-1)/M n. Fewer cannot keep the bits: node 1 needs node 0's sum of every chunk. */
static void reduce_scatter_nodes(const fc_dist *dist, fc_real *grad, size_t n)
{
    const int R = dist->node_size, M = dist->n_nodes, N = dist->size, rank = dist->rank;
    const int node = rank / R, first = dist->node_rank * M;
    const size_t slot = chunk_max(n, N), piece = dist->piece_max; /* elements at most */
    fc_real *const sums_in = dist->grad_recv, *const sums_out = dist->grad_recv + (size_t)M * slot;
    fc_real *const finished = dist->grad_recv + 2 * (size_t)M * slot;
    const size_t pieces = (slot + piece - 1) / piece;
    FC_ASSERT(n <= dist->grad_n && 2 * (size_t)M <= (size_t)N && (2 * (size_t)M + 1) * pieces <= dist->chain_cap);
    MPI_Request *req = dist->chain_requests;
    int m = 0;
    /* Where the last node does not hold this rank, this rank's chunk comes from the last node's adder of it,
     * into scratch: the rank's own segment is still being read by its node's adder. */
    const size_t mine = chunk_begin(n, rank, N), my_len = chunk_begin(n, rank + 1, N) - mine;
    if (node < M - 1)
        for (size_t at = 0; at < my_len; at += piece)
            MPI_Irecv(finished + at, piece_len(my_len, at, piece), FC_MPI_REAL,
                      (M - 1) * R + rank / M, TAG_CHAIN_DONE, dist->comm, &req[m++]);
    const int from_prev = m;
    if (node > 0)
        for (int c = 0; c < M; c++) {
            const size_t len = chunk_begin(n, first + c + 1, N) - chunk_begin(n, first + c, N);
            for (size_t at = 0; at < len; at += piece)
                MPI_Irecv(sums_in + (size_t)c * slot + at, piece_len(len, at, piece), FC_MPI_REAL,
                          rank - R, TAG_CHAIN, dist->comm, &req[m++]);
        }
    /* Every rank of the node has written its gradients after the barrier (see fc_dist_reduce_scatter). */
    shared_barrier(dist);
    /* Piece by piece, so that the next node adds one piece while this one adds the next, and the finished
     * pieces travel back to their owners while the running sums still travel on. */
    int waited = from_prev;
    for (int c = 0; c < M; c++) {
        const int q = first + c, owner_node = q / R;
        const size_t b = chunk_begin(n, q, N), len = chunk_begin(n, q + 1, N) - b;
        const int finished_here = node == M - 1 && owner_node == M - 1;
        for (size_t at = 0; at < len; at += piece) {
            const int k = piece_len(len, at, piece);
            int np = 0;
            if (node > 0) {
                MPI_Wait(&req[waited++], MPI_STATUS_IGNORE);
                dist->parts[np++] = sums_in + (size_t)c * slot + at;
            }
            for (int r = 0; r < R; r++) dist->parts[np++] = dist->shared_base[SHARED_GRADS][r] + b + at;
            fc_real *out = finished_here ? dist->shared_base[SHARED_GRADS][q % R] + b + at
                                         : sums_out + (size_t)c * slot + at;
            sum_in_rank_order(out, dist->parts, np, k);
            if (node < M - 1)
                MPI_Isend(out, k, FC_MPI_REAL, rank + R, TAG_CHAIN, dist->comm, &req[m++]);
            else if (!finished_here)
                MPI_Isend(out, k, FC_MPI_REAL, q, TAG_CHAIN_DONE, dist->comm, &req[m++]);
        }
    }
    MPI_Waitall(m, req, MPI_STATUSES_IGNORE);
    /* On the last node the owners read what their node's adders wrote into their segments. Elsewhere the adder
     * of this rank's chunk read it from this rank's segment before the sum went on, so it came back after. */
    if (node == M - 1)
        shared_barrier(dist);
    else
        memcpy(grad + mine, finished, my_len * sizeof *grad);
}

/* Several nodes: each owner sends its chunk of the node's parameter array to the rank of the same node rank
 * on every other node, which receives it into its own node's array; then the node's barrier. Every chunk
 * crosses to each other node once. */
static void allgather_nodes(const fc_dist *dist, fc_real *buf, size_t n)
{
    const int R = dist->node_size, M = dist->n_nodes, N = dist->size, node = dist->rank / R;
#if defined(__SSE2__)
    _mm_sfence(); /* the owner's non-temporal stores, before a transport on another core copies them */
#endif
    MPI_Request *req = dist->requests;
    int m = 0;
    for (int d = 1; d < M; d++) { /* from the next node on, so that no node is everybody's first */
        const int other = (node + d) % M, q = other * R + dist->node_rank;
        const size_t b = chunk_begin(n, q, N);
        MPI_Irecv(buf + b, (int)(chunk_begin(n, q + 1, N) - b), FC_MPI_REAL, other, TAG_CROSS, dist->cross, &req[m++]);
    }
    const size_t mine = chunk_begin(n, dist->rank, N);
    const int my_len = (int)(chunk_begin(n, dist->rank + 1, N) - mine);
    for (int d = 1; d < M; d++)
        MPI_Isend(buf + mine, my_len, FC_MPI_REAL, (node + d) % M, TAG_CROSS, dist->cross, &req[m++]);
    MPI_Waitall(m, req, MPI_STATUSES_IGNORE);
    shared_barrier(dist); /* every chunk of the node's array is in place */
}

void fc_dist_reduce_scatter(const fc_dist *dist, fc_real *grad, size_t n)
{
    if (is_single(dist)) return;
    const int size = dist->size, rank = dist->rank;
    const size_t mine = chunk_begin(n, rank, size);
    const int my_len = (int)(chunk_begin(n, rank + 1, size) - mine);
    if (is_shared(dist, SHARED_GRADS, grad, n) && dist->n_nodes > 1) {
        reduce_scatter_nodes(dist, grad, n);
        return;
    }
    if (is_shared(dist, SHARED_GRADS, grad, n)) {
        /* Every rank's backward is complete after the barrier; the peers' segments are not written again
         * before the next step, whose backward starts only after the synchronisation that publishes the
         * parameters (the loss gather of fc_dist_sum_doubles_allgather, or the allgather's barrier). */
        shared_barrier(dist);
        for (int q = 0; q < size; q++) dist->parts[q] = dist->shared_base[SHARED_GRADS][q] + mine;
        sum_in_rank_order(grad + mine, dist->parts, size, my_len);
        return;
    }
    FC_ASSERT(n <= dist->grad_n);
    MPI_Request *req = dist->requests;
    int m = 0;
    /* Every rank receives everybody's copy of its own chunk. Peers are visited from rank + 1 on so no
     * rank is everybody's first target. */
    for (int k = 1; k < size; k++) {
        int q = (rank + k) % size;
        MPI_Irecv(dist->grad_recv + (size_t)q * (size_t)my_len, my_len, FC_MPI_REAL, q, TAG_SCATTER, dist->comm,
                  &req[m++]);
    }
    for (int k = 1; k < size; k++) {
        int q = (rank + k) % size;
        size_t begin = chunk_begin(n, q, size);
        MPI_Isend(grad + begin, (int)(chunk_begin(n, q + 1, size) - begin), FC_MPI_REAL, q, TAG_SCATTER,
                  dist->comm, &req[m++]);
    }
    MPI_Waitall(m, req, MPI_STATUSES_IGNORE);
    for (int q = 0; q < size; q++) dist->parts[q] = q == rank ? grad + mine : dist->grad_recv + (size_t)q * (size_t)my_len;
    sum_in_rank_order(grad + mine, dist->parts, size, my_len);
}

void fc_dist_allgather_chunks(const fc_dist *dist, fc_real *buf, size_t n)
{
    if (is_single(dist)) return;
    if (is_shared(dist, SHARED_PARAMS, buf, n) && dist->n_nodes > 1) {
        allgather_nodes(dist, buf, n);
        return;
    }
    if (is_shared(dist, SHARED_PARAMS, buf, n)) {
        /* One array for the node: after the barrier every owner has written its chunk and there is nothing
         * to copy. No rank writes the array again before the next step's first barrier, which every rank
         * reaches only after its forward and backward have read it. */
        shared_barrier(dist);
        return;
    }
    allgather_blocks(dist, buf, n, FC_MPI_REAL, sizeof *buf, TAG_GATHER);
}

void fc_dist_sum_grads(const fc_dist *dist, fc_real *grad, size_t n)
{
    fc_dist_reduce_scatter(dist, grad, n);
    fc_dist_allgather_chunks(dist, grad, n);
}

/* Several nodes: posts the messages that swap this rank's block (already at its place in dist->gather) with the
 * ranks of the same node rank on every other node, 2 (n_nodes - 1) requests in dist->requests. */
static void cross_nodes_post(const fc_dist *dist, int n)
{
    const int R = dist->node_size, M = dist->n_nodes, node = dist->rank / R;
    MPI_Request *req = dist->requests;
    int m = 0;
    for (int d = 1; d < M; d++) { /* from the next node on, so that no node is everybody's first */
        const int other = (node + d) % M;
        MPI_Irecv(dist->gather + (size_t)(other * R + dist->node_rank) * (size_t)n, n, MPI_DOUBLE, other, TAG_SMALL,
                  dist->cross, &req[m++]);
    }
    for (int d = 1; d < M; d++)
        MPI_Isend(dist->gather + (size_t)dist->rank * (size_t)n, n, MPI_DOUBLE, (node + d) % M, TAG_SMALL, dist->cross,
                  &req[m++]);
    gather_bytes_sent += (double)(M - 1) * n * sizeof(double);
}

/* dist->gather[q * n .. (q + 1) * n) = rank q's v, for every q, in two halves: the first hands v to the
 * peers (on one node through the synchronisation area; on several it posts the messages to the other nodes;
 * else it posts the direct exchange's messages, or nothing where rounds will carry them), the second completes
 * the gather (on several nodes: each rank publishes the blocks of its node rank from every node in the area and
 * reads its node peers'). Between the two a rank may compute, but must not start another exchange on dist. */
static void gather_doubles_begin(const fc_dist *dist, const double *v, int n)
{
    const double t0 = MPI_Wtime();
    const size_t all = (size_t)dist->size * (size_t)n;
    if (gathers_by_node(dist, n)) {
        memcpy(dist->gather + (size_t)dist->rank * (size_t)n, v, (size_t)n * sizeof(double));
        cross_nodes_post(dist, n);
    } else if (uses_sync_area(dist, n)) {
        node_publish(dist, v, n);
    } else {
        memcpy(dist->gather + (size_t)dist->rank * (size_t)n, v, (size_t)n * sizeof(double));
        if (!uses_rounds(dist, all, sizeof(double)))
            allgather_direct_post(dist, dist->gather, all, MPI_DOUBLE, sizeof(double), TAG_SMALL);
        gather_bytes_sent += (double)(dist->size - 1) * n * sizeof(double); /* Bruck's rounds too */
    }
    gather_seconds += MPI_Wtime() - t0;
}

static void gather_doubles_end(const fc_dist *dist, int n)
{
    const double t0 = MPI_Wtime();
    const size_t all = (size_t)dist->size * (size_t)n;
    if (gathers_by_node(dist, n)) {
        const int R = dist->node_size, M = dist->n_nodes;
        MPI_Waitall(2 * (M - 1), dist->requests, MPI_STATUSES_IGNORE);
        /* Node rank r's payload: the blocks of ranks r, R + r, 2R + r, ... */
        node_publish_blocks(dist, dist->gather + (size_t)dist->node_rank * (size_t)n, n, M, (size_t)R * (size_t)n);
        const long long seq = node_wait(dist);
        for (int r = 0; r < R; r++)
            if (r != dist->node_rank)
                for (int k = 0; k < M; k++)
                    memcpy(dist->gather + (size_t)(k * R + r) * (size_t)n,
                           node_sync_part(dist, r, seq) + (size_t)k * (size_t)n, (size_t)n * sizeof(double));
    } else if (uses_sync_area(dist, n)) {
        const long long seq = node_wait(dist);
        for (int q = 0; q < dist->size; q++)
            memcpy(dist->gather + (size_t)q * (size_t)n, node_sync_part(dist, q, seq), (size_t)n * sizeof(double));
    } else if (uses_rounds(dist, all, sizeof(double))) {
        allgather_bruck(dist, dist->gather, all, MPI_DOUBLE, sizeof(double), TAG_SMALL);
    } else {
        MPI_Waitall(direct_requests(dist), dist->requests, MPI_STATUSES_IGNORE);
    }
    gather_seconds += MPI_Wtime() - t0;
}

static void allgather_doubles(const fc_dist *dist, const double *v, int n)
{
    gather_doubles_begin(dist, v, n);
    gather_doubles_end(dist, n);
}

void fc_dist_sum_doubles_begin(const fc_dist *dist, const double *v, int n)
{
    if (is_single(dist)) return;
    FC_ASSERT((size_t)n <= dist->gather_n);
    gather_doubles_begin(dist, v, n);
}

void fc_dist_sum_doubles_end(const fc_dist *dist, double *v, int n)
{
    if (is_single(dist)) return;
    gather_doubles_end(dist, n);
    for (int j = 0; j < n; j++) v[j] = dist->gather[j];
    for (int q = 1; q < dist->size; q++) {
        const double *part = dist->gather + (size_t)q * (size_t)n;
        for (int j = 0; j < n; j++) v[j] += part[j];
    }
}

void fc_dist_sum_doubles(const fc_dist *dist, double *v, int n)
{
    fc_dist_sum_doubles_begin(dist, v, n);
    fc_dist_sum_doubles_end(dist, v, n);
}

void fc_dist_sum_doubles_allgather(const fc_dist *dist, double *v, int n, fc_real *buf, size_t n_buf)
{
    fc_dist_sum_doubles(dist, v, n);
    /* On one node the sum went through the synchronisation area, which every rank enters only after its own
     * stores (the owners' new parameters included) and leaves only after every peer's: the barrier that the
     * shared array's allgather would be is already behind us. (On several nodes the chunks still have to cross.) */
    if (is_shared(dist, SHARED_PARAMS, buf, n_buf) && uses_sync_area(dist, n) && dist->n_nodes == 1) return;
    fc_dist_allgather_chunks(dist, buf, n_buf);
}

int64_t fc_dist_merge_moments(const fc_dist *dist, double *stats, int n)
{
    if (is_single(dist)) return (int64_t)stats[2 * n];
    const int per_rank = 2 * n + 1;
    FC_ASSERT((size_t)per_rank <= dist->gather_n);
    allgather_doubles(dist, stats, per_rank);
    int64_t n_total = 0;
    for (int q = 0; q < dist->size; q++) {
        const double *part = dist->gather + (size_t)q * (size_t)per_rank;
        fc_moments_merge(&n_total, stats, stats + n, (int64_t)part[2 * n], part, part + n, n);
    }
    stats[2 * n] = (double)n_total;
    return n_total;
}

fc_status fc_dist_agree(const fc_dist *dist, fc_status local, int print)
{
    /* severity: FAIL outranks INPUT; the second field finds the lowest failing rank via max(size - rank). */
    int sev = local == FC_OK ? 0 : local == FC_ERR_INPUT ? 1 : 2;
    if (is_single(dist)) {
        if (sev && print) fc_log_error("%s", fc_error_message());
        return local;
    }
    int in[2] = {sev, sev ? dist->size - dist->rank : 0}, out[2];
    MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, dist->comm);
    if (out[0] == 0) return FC_OK;
    if (print && sev && dist->size - dist->rank == out[1]) fc_log_error("%s", fc_error_message());
    return out[0] == 1 ? FC_ERR_INPUT : FC_ERR_FAIL;
}

int fc_dist_any(const fc_dist *dist, int flag)
{
    if (is_single(dist)) return flag != 0;
    int in = flag != 0, out = 0;
    MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, dist->comm);
    return out;
}

int fc_dist_find_mismatch(const fc_dist *dist, const fc_tensor_ref *tensors, int n_tensors, int *rank, int *index)
{
    if (is_single(dist)) return 0;
    FC_ASSERT(n_tensors <= FC_MAX_REPLICA_TENSORS);
    /* Ranks that read different inputs may even hold different numbers of tensors (one rank's model has
     * batchnorm, another's not): every rank compares the longest list, a missing tensor hashing as 0, so
     * the broadcast has one length everywhere. */
    int n_max = n_tensors;
    MPI_Allreduce(&n_tensors, &n_max, 1, MPI_INT, MPI_MAX, dist->comm);
    uint64_t mine[FC_MAX_REPLICA_TENSORS], ref[FC_MAX_REPLICA_TENSORS];
    for (int i = 0; i < n_max; i++)
        mine[i] = ref[i] = i < n_tensors ? fc_hash_large(tensors[i].data, tensors[i].n_bytes, 0) : 0;
    MPI_Bcast(ref, n_max, MPI_UINT64_T, 0, dist->comm);
    int first = n_max;
    for (int i = 0; i < n_max && first == n_max; i++)
        if (mine[i] != ref[i]) first = i;
    struct {
        int value, index;
    } in = {first < n_max ? dist->rank : dist->size, first}, out;
    MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, dist->comm);
    if (out.value == dist->size) return 0;
    *rank = out.value;
    *index = out.index;
    return 1;
}

fc_status fc_dist_check_replicas(const fc_dist *dist, const fc_tensor_ref *tensors, int n_tensors,
                                 int64_t step)
{
    int rank, index;
    if (!fc_dist_find_mismatch(dist, tensors, n_tensors, &rank, &index)) return FC_OK;
    return fc_error_set(FC_ERR_FAIL, "replica mismatch at step %lld: rank %d differs from rank 0 in %s",
                        (long long)step, rank, index < n_tensors ? tensors[index].name : "the number of tensors");
}

void fc_dist_slice(int64_t global_batch, int rank, int size, int64_t *begin, int64_t *count)
{
    int64_t base = global_batch / size, extra = global_batch % size;
    *count = base + (rank < extra ? 1 : 0);
    *begin = rank * base + (rank < extra ? rank : extra);
}
