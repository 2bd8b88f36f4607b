/* One copy of the training data per node (data_node.h).
 *
 * The node's lowest rank (the reader) opens the file and checks it exactly as a private load does; once every
 * split's size is known, and before any row is read, it tells its peers how the rows will be held and the
 * node allocates one shared window for them together; the reader then reads into it and tells the peers the
 * result. Each step of that exchange happens on every path, failures included, so no peer waits for a
 * message that never comes. */
#include "fcnet/data_node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fcnet/config.h"
#include "fcnet/memory_limits.h"

enum { HELD_FAILED = -1, HELD_PRIVATE = 0, HELD_SHARED = 1 };

/* FCNET_DATA_COPIES: shared (the default) or private. */
static const char *const copies_words[] = {"shared", "private"};

/* What the reader tells its peers once the sizes are known (or the load failed before): how the rows are
 * held, and which file it reads, so that a peer naming another file is refused, not silently given these. */
typedef struct announcement {
    int64_t held, status, rows[3], d;
    int64_t reader_rank; /* in the world */
    uint64_t dev, ino;   /* the file read, as stat() names it */
    char path[4096];
} announcement;

/* The reader's side: fc_data_load_placed calls place_on_node once the sizes are known. */
typedef struct reader {
    fc_data_node *dn;
    announcement a;
    int announced;
} reader;

static void announce(reader *r)
{
    MPI_Bcast(&r->a, (int)sizeof r->a, MPI_BYTE, 0, r->dn->node);
    r->announced = 1;
}

/* Collective over the node: the window, allocated in the reader's segment. */
static void *allocate_rows(fc_data_node *dn, size_t bytes)
{
    void *mine = NULL;
    MPI_Comm_size(dn->node, &dn->node_ranks);
    MPI_Win_allocate_shared(dn->writer ? (MPI_Aint)bytes + 64 : 0, 1, MPI_INFO_NULL, dn->node, &mine, &dn->win);
    dn->shared = 1;
    return fc_dist_segment_start(dn->win, 0, (MPI_Aint)bytes);
}

/* The reader: takes every page of the rows before it reads one (fc_dist_populate), so that a /dev/shm that
 * filled up after the room check is an error naming it, not SIGBUS in the middle of the read blamed on the
 * dataset file. */
static fc_status populate_rows(void *base, size_t bytes, const char *path)
{
    const int err = fc_dist_populate(base, bytes);
    if (err == 0) return FC_OK;
    return fc_error_set(FC_ERR_INPUT,
                        "/dev/shm: no room left for this node's one copy of %s (%.0f MB): %s; free space there, give "
                        "the job more shared memory, or set FCNET_DATA_COPIES=private",
                        path, (double)bytes / 1e6, err == EFAULT ? "it filled up after the room check" : strerror(err));
}

static fc_status place_on_node(void *ctx, const int64_t rows[3], int d, void **base)
{
    reader *r = ctx;
    /* In double first: a file can declare more rows than a size_t multiplication holds. */
    const double all_rows = (double)rows[0] + (double)rows[1] + (double)rows[2];
    const double need = all_rows * ((double)d * sizeof(fc_real) + sizeof(int32_t)) + 6 * 64;
    char why[256] = "more than a size in bytes holds";
    double room_bytes = 0;
    fc_shm_bound bound = FC_SHM_FREE_SPACE;
    fc_status st = FC_OK;
    const int fits = need < 0x1p62 && !fc_memory_exceeded_copies(need, 1, why, sizeof why);
    const size_t bytes = fits ? fc_data_placed_bytes(rows, d) : 0;
    r->a.held = HELD_SHARED;
    if (!fits) {
        st = fc_error_set(FC_ERR_INPUT, "%s: /train/x with the other splits: %.0f rows of %d features need %s, %s",
                          r->a.path, all_rows, d, fc_format_size(need).text, why);
        r->a.held = HELD_FAILED;
    } else if (!fc_dist_shm_has_room((double)bytes + 4096, &room_bytes, &bound)) {
        /* Held with the setup's other warnings and dropped if the run is refused: a refusal for the private
         * copies' memory must name the room that one shared copy lacked (cleared after the load). */
        char subject[FC_PATH_MAX + 64], shortage[FC_PATH_MAX + 256], note[160];
        const char *advice;
        snprintf(subject, sizeof subject, "one copy of %s for this node", r->a.path);
        fc_dist_shm_shortage(shortage, sizeof shortage, &advice, bound, room_bytes, (double)bytes, subject);
        fc_log_warn("%s: every rank reads its own copy instead (same results, more memory; %s, or set "
                    "FCNET_DATA_COPIES=private to silence this)",
                    shortage, advice);
        if (bound == FC_SHM_OPEN_FILE_LIMIT)
            snprintf(note, sizeof note, ", or raise ulimit -n for one shared copy's file");
        else if (bound == FC_SHM_FILE_SIZE_LIMIT)
            snprintf(note, sizeof note, ", or raise ulimit -f for the %s of one shared copy: it allows %s",
                     fc_format_size((double)bytes).text, fc_format_size(room_bytes).text);
        else
            snprintf(note, sizeof note, ", or give /dev/shm the %.0f MB of one shared copy: it has %.0f MB free",
                     (double)bytes / 1e6, room_bytes / 1e6);
        fc_set_copies_note(note);
        r->a.held = HELD_PRIVATE;
    }
    r->a.status = st;
    memcpy(r->a.rows, rows, sizeof r->a.rows);
    r->a.d = d;
    announce(r);
    if (r->a.held == HELD_SHARED) {
        *base = allocate_rows(r->dn, bytes);
        st = populate_rows(*base, bytes, r->a.path);
    }
    return st;
}

/* Collective over the node: after a failed shared load, nothing is kept. */
static void drop(fc_data_node *dn)
{
    if (dn->shared) MPI_Win_free(&dn->win);
    MPI_Comm_free(&dn->node);
    dn->shared = 0;
    dn->writer = 1;
}

static fc_status load_as_reader(fc_data_node *dn, fc_dataset *ds, const char *path, double val_size, int rank)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.dn = dn;
    r.a.held = HELD_FAILED;
    r.a.reader_rank = rank;
    snprintf(r.a.path, sizeof r.a.path, "%s", path);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        r.a.dev = (uint64_t)sb.st_dev;
        r.a.ino = (uint64_t)sb.st_ino;
    }
    fc_status st = fc_data_load_placed(ds, path, val_size, place_on_node, &r);
    fc_set_copies_note("");
    if (!r.announced) { /* failed before the sizes were known */
        r.a.status = st;
        announce(&r);
    }
    if (r.a.held == HELD_SHARED) {
        int64_t result[4] = {st, ds->n_features, ds->n_classes, ds->val_from_file};
        MPI_Bcast(result, 4, MPI_INT64_T, 0, dn->node);
    }
    if (st != FC_OK || r.a.held != HELD_SHARED) drop(dn);
    return st;
}

/* FC_OK when this peer's --data is the file the reader announced (the same file through another name counts);
 * else why not, naming this rank's file. */
static fc_status check_same_file(const char *path, const announcement *a, int rank)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && (uint64_t)sb.st_dev == a->dev && (uint64_t)sb.st_ino == a->ino) return FC_OK;
    const char *problem = fc_input_file_problem(path);
    if (problem) return fc_error_set(FC_ERR_INPUT, "%s: %s", path, problem);
    return fc_error_set(FC_ERR_INPUT,
                        "rank %d read --data %s, another file than the %s that rank %lld reads for this node: ranks "
                        "on one node share one copy of the data and must name the same file (or run with "
                        "FCNET_DATA_COPIES=private)",
                        rank, path, a->path, (long long)a->reader_rank);
}

static fc_status load_as_peer(fc_data_node *dn, fc_dataset *ds, const char *path, double val_size, int rank)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->path, sizeof ds->path, "%s", path);
    announcement a;
    MPI_Bcast(&a, (int)sizeof a, MPI_BYTE, 0, dn->node);
    if (a.held == HELD_PRIVATE) {
        drop(dn);
        return fc_data_load(ds, path, val_size);
    }
    /* Never printed: the reader is this node's lowest rank and fails too, with the reason. */
    const char *not_read = "%s: not read: the rank that reads it for this node failed";
    if (a.held == HELD_FAILED) {
        drop(dn);
        return fc_error_set((fc_status)a.status, not_read, path);
    }
    void *base = allocate_rows(dn, fc_data_placed_bytes(a.rows, (int)a.d));
    int64_t result[4];
    MPI_Bcast(result, 4, MPI_INT64_T, 0, dn->node);
    if (result[0] != FC_OK) {
        drop(dn);
        return fc_error_set((fc_status)result[0], not_read, path);
    }
    fc_data_point_into(ds, base, a.rows, (int)a.d);
    ds->n_features = (int)result[1];
    ds->n_classes = (int)result[2];
    ds->val_from_file = (int)result[3];
    /* On a refusal the window stays until fc_data_node_free (collective): the reader, which succeeded, holds it
     * too. */
    return check_same_file(path, &a, rank);
}

fc_status fc_data_node_load(fc_data_node *dn, fc_dataset *ds, const char *path, double val_size,
                            const fc_dist *dist)
{
    memset(dn, 0, sizeof *dn);
    dn->writer = 1;
    int word;
    const fc_status refused = fc_config_env_word("FCNET_DATA_COPIES", copies_words, 2, &word);
    const int setting = word == 0 ? 1 : word == 1 ? 0 : -1; /* 1 shared, 0 private, -1 unknown */
    int worst = setting; /* agreed, not taken alone: private (or unknown) on any rank keeps every copy private */
    if (fc_dist_size(dist) > 1) MPI_Allreduce(&setting, &worst, 1, MPI_INT, MPI_MIN, dist->comm);
    if (worst > 0 && fc_dist_size(dist) > 1) {
        MPI_Comm node;
        int node_rank = 0, node_size = 1;
        MPI_Comm_split_type(dist->comm, MPI_COMM_TYPE_SHARED, dist->rank, MPI_INFO_NULL, &node);
        MPI_Comm_rank(node, &node_rank);
        MPI_Comm_size(node, &node_size);
        if (node_size > 1) {
            dn->node = node;
            dn->writer = node_rank == 0;
            return dn->writer ? load_as_reader(dn, ds, path, val_size, dist->rank)
                              : load_as_peer(dn, ds, path, val_size, dist->rank);
        }
        MPI_Comm_free(&node);
    }
    /* Every rank its own copy (a private load takes no collective, so a refusal here cannot strand a peer). */
    if (refused != FC_OK) return refused;
    return fc_data_load(ds, path, val_size);
}

void fc_data_node_publish(const fc_data_node *dn)
{
    if (dn && dn->shared) MPI_Barrier(dn->node);
}

void fc_data_node_free(fc_data_node *dn)
{
    if (!dn) return;
    if (dn->shared) {
        MPI_Win_free(&dn->win);
        MPI_Comm_free(&dn->node);
    }
    memset(dn, 0, sizeof *dn);
}
