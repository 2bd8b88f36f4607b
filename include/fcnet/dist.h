/* MPI data parallelism. Every reduction sums in rank order 0..N-1 with fcnet's own arithmetic, so all
 * ranks get identical bits by construction, whatever algorithm or transport MPI uses.
 * Every function here is collective unless it says otherwise: every rank must call it.
 * A NULL dist (or a one-rank one) is a valid single-process dist for every function. */
#ifndef FCNET_DIST_H
#define FCNET_DIST_H

#include <mpi.h>

#include "fcnet/common.h"

#ifdef FC_REAL_DOUBLE
#define FC_MPI_REAL MPI_DOUBLE
#else
#define FC_MPI_REAL MPI_FLOAT
#endif

typedef struct fc_dist {
    MPI_Comm comm;  /* duplicated communicator, owned */
    int rank, size;
    int owns_mpi;   /* 1 when fc_dist_init called MPI_Init (then fc_dist_free finalizes) */
    int launched;   /* started by a launcher (mpirun, srun), not as a singleton: told by the environment
                     * before MPI_Init, since Open MPI's MPI_Init sets PMIX_RANK in a singleton too */

    /* Gradient reduction scratch, sized by fc_dist_reserve (owned). */
    size_t grad_n;      /* elements the reduction was sized for */
    fc_real *grad_recv; /* (size + 1) * chunk elements */
    MPI_Request *requests; /* 2 * size, owned: the per-step point-to-point exchanges */
    MPI_Request *chain_requests; /* the exchange between nodes' pieces (owned; sized by fc_dist_reserve) */
    size_t chain_cap;            /* requests chain_requests holds */
    size_t msg_max;        /* elements per message at most (MPI counts are int); tests lower it */
    int rounds_from;       /* rank count from which small blocks are allgathered in rounds (32); tests lower it */
    size_t piece_max;      /* elements per message of the running sums between nodes (65536); tests lower it */

    double *gather;     /* size * gather_n doubles (owned) */
    size_t gather_n;
    const fc_real **parts; /* size + 1 pointers (owned): the copies a reduction adds, in rank order */

    /* Node exchange (fc_dist_share_arenas): the gradient arenas of a node's ranks and one parameter array
     * per node live in shared-memory windows, so the reduction reads the node's gradients directly and
     * the owners update the parameters in place, without MPI messages or copies within the node. */
    MPI_Comm node;           /* the ranks of this node, in rank order (MPI_COMM_NULL until shared) */
    int node_rank, node_size; /* this rank's place among them, and their count (rank and size on one node) */
    MPI_Win shared_win[2];   /* [params, grads] */
    fc_real **shared_base[2]; /* node_size pointers each: every node rank's array in each window (owned); all
                               * the same for the parameters */
    size_t shared_n;         /* elements per segment; 0 when the arenas are not shared */
    /* The node's synchronisation area, in the same shared memory: per rank a sequence counter and two
     * payload buffers. The barriers of the exchange and the small ordered gathers (batchnorm statistics, loss)
     * go through it instead of MPI calls; on several nodes the gathers' blocks first cross between nodes in
     * messages (fc_dist_share_arenas). */
    MPI_Win sync_win;
    char **sync_base;        /* node_size pointers: every node rank's area (owned); NULL when not shared */
    size_t sync_cap;         /* doubles per payload buffer of a rank's area */
    struct fc_node_waiter *sync_waiter; /* how this rank waits in that area (node_flag.h; owned) */
    /* Several nodes of node_size ranks each, ranks placed in blocks (node k holds ranks k*node_size ..):
     * the sums hop from node to node in rank order (fc_dist_reduce_scatter) and each parameter chunk
     * crosses to every other node once. cross: the ranks of every node with this node_rank, by node. */
    int n_nodes;             /* 1 on one node or without shared arenas */
    MPI_Comm cross;          /* MPI_COMM_NULL unless n_nodes > 1 */
} fc_dist;

/* Starts MPI (MPI_Init unless already initialised; works without mpirun as a singleton) and
 * duplicates MPI_COMM_WORLD. */
fc_status fc_dist_init(fc_dist *dist, int *argc, char ***argv);
/* 1 when a launcher (mpirun, srun) started this process, told by the environment before MPI_Init: then MPI_Init
 * does not fork, where a lone process's starts a helper (Open MPI's singleton). */
int fc_dist_started_by_launcher(void);
/* Uses an existing communicator (duplicated); MPI must be initialised. For tests on sub-communicators. */
fc_status fc_dist_init_comm(fc_dist *dist, MPI_Comm comm);
/* Frees buffers, the communicator, and finalizes MPI if fc_dist_init started it. Accepts a zeroed struct. */
void fc_dist_free(fc_dist *dist);
/* Sizes the scratch for gradient buffers of up to grad_n elements and gathers of up to gather_n
 * doubles per rank. Call at setup; nothing is allocated later. */
void fc_dist_reserve(fc_dist *dist, size_t grad_n, size_t gather_n);
/* The bytes fc_dist_reserve(dist, grad_n, gather_n) would allocate now (0 for what fits already): the setup's
 * memory check counts them before they are allocated. */
double fc_dist_reserve_bytes(const fc_dist *dist, size_t grad_n, size_t gather_n);

static inline int fc_dist_rank(const fc_dist *d) { return d ? d->rank : 0; }
static inline int fc_dist_size(const fc_dist *d) { return d ? d->size : 1; }

/* When every rank runs on one node (and FCNET_EXCHANGE is not "p2p"), moves the exchange into shared
 * memory: *grads is this rank's segment of a window of n elements per rank, which the peers read
 * directly in fc_dist_reduce_scatter; *params is ONE array of n elements for the whole node (the same
 * memory on every rank), updated in place by each chunk's owner, so that fc_dist_allgather_chunks on it
 * is only a barrier; from then on the step's barriers and small gathers go through a synchronisation area
 * in the same shared memory instead of MPI calls. Contents undefined; the ranks must write identical values
 * into *params before the first exchange (they do: every rank initialises or loads the same state). Same
 * arithmetic and bits as the message path. On several nodes that each hold the same number (2 or more) of
 * consecutive ranks, the same per node: the reduction then adds a node's gradients in shared memory and
 * sends the running sums on to the next node (rank order kept, so the bits stay those of one node), and
 * the allgather sends each chunk once to every other node. Otherwise, or for one rank, returns FC_OK with
 * both NULL. gather_n: the doubles per rank of the largest small ordered gather (batchnorm statistics) the
 * synchronisation area should hold; on several nodes such a gather then crosses between nodes once per rank
 * (each rank's block to the rank of the same node rank on every other node) and spreads within each node
 * through the area, instead of every rank sending its block to every rank of the other nodes: R times fewer
 * bytes on a node's link for R ranks per node. Larger gathers take the messages between all ranks.
 * FCNET_EXCHANGE other than auto/p2p: FC_ERR_INPUT. FCNET_TEST_RANKS_PER_NODE=R (tests only)
 * treats every R consecutive ranks as a node of their own. The memory stays valid until
 * fc_dist_release_arenas (collective) or fc_dist_free. */
fc_status fc_dist_share_arenas(fc_dist *dist, size_t n, size_t gather_n, fc_real **params, fc_real **grads);
void fc_dist_release_arenas(fc_dist *dist);

/* What leaves a shared window too little room: /dev/shm's free space, this process's file size limit (ulimit -f),
 * or its open-file limit (ulimit -n: no descriptor left for the window's file). */
typedef enum { FC_SHM_FREE_SPACE, FC_SHM_FILE_SIZE_LIMIT, FC_SHM_OPEN_FILE_LIMIT } fc_shm_bound;
/* Not collective. 0 when a shared window of need_bytes is known not to fit: *bound says why and *room_bytes how much
 * there is (/dev/shm's free bytes, the largest window the file size limit allows, or 0); 1 when it fits or /dev/shm
 * cannot be asked. */
int fc_dist_shm_has_room(double need_bytes, double *room_bytes, fc_shm_bound *bound);
/* Not collective. The start of a one-line warning that `subject` (a shared-memory file of need_bytes) does not fit,
 * in the words of the bound that fc_dist_shm_has_room found, into text; *advice: what lifts that bound. */
void fc_dist_shm_shortage(char *text, size_t size, const char **advice, fc_shm_bound bound, double room_bytes,
                          double need_bytes, const char *subject);
/* Not collective. Rank q's segment of a shared window (asserted to hold at least min_bytes), from its first
 * 64-byte line on, so a segment needs 64 bytes more than it holds; every process that maps the window
 * computes the same start, since the mappings share their page offset. */
char *fc_dist_segment_start(MPI_Win win, int q, MPI_Aint min_bytes);
/* Not collective. Takes every page of [addr, addr + bytes) of a shared window now, for writing: 0, or the errno
 * of the failure (EFAULT: /dev/shm has no room left for them). Open MPI sizes a window's file without reserving
 * its room, so a /dev/shm that fills up after the room check (another job's files) would otherwise kill the
 * first rank to store into a page it can no longer get with SIGBUS. Kernels before Linux 5.14 lack the
 * request: 0, and the pages are taken at first use as before. */
int fc_dist_populate(void *addr, size_t bytes);

/* buf[0..n) from rank 0 to every rank. */
void fc_dist_bcast_real(const fc_dist *dist, fc_real *buf, size_t n);
void fc_dist_bcast_bytes(const fc_dist *dist, void *buf, size_t n_bytes);

/* A fused buffer of n elements is cut into one chunk per rank, rank q owning chunk q =
 * [q*n/size, (q+1)*n/size). This rank's chunk: [*begin, *begin + *len) (the whole buffer at size 1). */
void fc_dist_own_chunk(const fc_dist *dist, size_t n, size_t *begin, size_t *len);
/* Reduce-scatter: this rank's chunk of grad becomes the sum over ranks of that chunk, added in rank
 * order so the bits never depend on MPI's algorithm or transport; the other chunks are left as they were.
 * Point-to-point messages only, so nothing is allocated; or, when grad is this rank's shared gradient
 * segment, a barrier and a sum read straight from the peers' segments. */
void fc_dist_reduce_scatter(const fc_dist *dist, fc_real *grad, size_t n);
/* Allgather: every chunk of buf is replaced by its owner's copy, so all ranks hold identical bits
 * (when buf is the node's shared parameter array: a barrier, after which every owner's writes are seen). */
void fc_dist_allgather_chunks(const fc_dist *dist, fc_real *buf, size_t n);
/* grad[0..n) = sum over ranks of grad, in rank order: reduce-scatter then allgather. */
void fc_dist_sum_grads(const fc_dist *dist, fc_real *grad, size_t n);

/* v[0..n) = sum over ranks of v, in rank order, in double. */
void fc_dist_sum_doubles(const fc_dist *dist, double *v, int n);
/* The same sum in two halves, so that a rank can compute while its peers catch up or their parts travel:
 * _begin hands this rank's v to the peers, _end waits for theirs and writes the sum into v (which must not
 * change in between). Every rank calls both with the same n, and nothing else of dist in between. */
void fc_dist_sum_doubles_begin(const fc_dist *dist, const double *v, int n);
void fc_dist_sum_doubles_end(const fc_dist *dist, double *v, int n);

/* fc_dist_sum_doubles(v, n) then fc_dist_allgather_chunks(buf, n_buf), with one synchronisation fewer on
 * one node: when buf is the node's shared parameter array, the sum's synchronisation is also the
 * allgather's barrier. */
void fc_dist_sum_doubles_allgather(const fc_dist *dist, double *v, int n, fc_real *buf, size_t n_buf);

/* Per-feature moments of the global batch. stats = [mean (n), m2 (n), rows (1)]: on entry this rank's,
 * on exit the merge of all ranks' in rank order (Chan's formula); returns the global row count.
 * Ranks with 0 rows take part (and contribute nothing). */
int64_t fc_dist_merge_moments(const fc_dist *dist, double *stats, int n);

/* Agreement on status: returns the worst status over ranks (FC_ERR_FAIL outranks FC_ERR_INPUT).
 * The lowest failing rank prints its fc_error_message() as one line on stderr when print is set. */
fc_status fc_dist_agree(const fc_dist *dist, fc_status local, int print);

/* Seconds this process has spent in fc_dist_sum_doubles and fc_dist_merge_moments (batchnorm
 * synchronisation and the loss), for --profile. Not collective. */
double fc_dist_gather_seconds(void);
/* Bytes this process has handed to MPI messages in those gathers (none through shared memory), for --profile
 * and the tests of the way a gather takes. Not collective. */
double fc_dist_gather_bytes_sent(void);
/* Not collective. How a gather of n doubles per rank travels on dist, in words for --profile: the same answer on
 * every rank. */
const char *fc_dist_describe_gathers(const fc_dist *dist, int n);

/* Logical OR of flag over ranks. */
int fc_dist_any(const fc_dist *dist, int flag);

/* Compares a hash of each of n_tensors (name, data, bytes) across ranks. On a mismatch records
 * "replica mismatch at step S: rank R differs from rank 0 in NAME" and returns FC_ERR_FAIL on every rank. */
typedef struct fc_tensor_ref {
    const char *name;
    const void *data;
    size_t n_bytes;
} fc_tensor_ref;
fc_status fc_dist_check_replicas(const fc_dist *dist, const fc_tensor_ref *tensors, int n_tensors,
                                 int64_t step);
/* The comparison behind fc_dist_check_replicas: returns 1 on every rank when some rank's hash of a tensor
 * differs from rank 0's, with *rank the lowest such rank and *index its first differing tensor; else 0.
 * n_tensors may differ between ranks (a tensor one rank lacks differs); *index may then be >= n_tensors on
 * a rank with fewer. */
int fc_dist_find_mismatch(const fc_dist *dist, const fc_tensor_ref *tensors, int n_tensors, int *rank, int *index);

/* Rows [*begin, *begin + *count) of a batch of global_batch rows that rank r takes: contiguous slices
 * whose sizes differ by at most one (the first global_batch % size ranks get one more). Not collective. */
void fc_dist_slice(int64_t global_batch, int rank, int size, int64_t *begin, int64_t *count);

#endif
