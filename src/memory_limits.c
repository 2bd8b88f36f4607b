/* Memory checks against the machine's memory and this process's own limits (ulimit -v/-d), made before a
 * run allocates, so that too large a run is refused with its reason instead of failing inside an allocation. */
#include "fcnet/memory_limits.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double fc_physical_memory_bytes(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

/* Declared by Debian's cblas.h, not by every OpenBLAS build's. */
extern int openblas_get_num_threads(void);

static int node_ranks = 1;

static int openblas_threads(void)
{
    const int n = openblas_get_num_threads();
    return n > 1 ? n : 1;
}

/* The address space OpenBLAS takes for its work buffers with `threads` threads: each thread its own 128 MiB
 * buffer, the workers a malloc arena of their own besides, which reserves 64 MiB (2 threads: a run passed a
 * check keeping 128 MiB and then hung in the worker's buffer; helper-165). */
enum { BLAS_BUFFER_MIB = 128, BLAS_ARENA_MIB = 64 };
static double blas_reserve_bytes(int threads)
{
    return (BLAS_BUFFER_MIB + (threads - 1) * (BLAS_BUFFER_MIB + BLAS_ARENA_MIB)) * 1048576.0;
}

void fc_set_node_ranks(int n) { node_ranks = n > 0 ? n : 1; }

static char copies_note[128];

void fc_set_copies_note(const char *note) { snprintf(copies_note, sizeof copies_note, "%s", note); }

int fc_memory_limit(double *limit, double *left, const char **which)
{
    struct rlimit as = {0, 0}, data = {0, 0};
    const int as_set = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY;
    const int data_set = getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY;
    if (!as_set && !data_set) return 0; /* the usual case: no need to read the process's use */
    unsigned long long vm_pages = 0, resident = 0, shared = 0, text = 0, lib = 0, data_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu %llu %llu %llu %llu", &vm_pages, &resident, &shared, &text, &lib, &data_pages) != 6)
            vm_pages = data_pages = 0;
        fclose(f);
    }
    const double page = (double)sysconf(_SC_PAGE_SIZE);
    /* ulimit -d: RLIMIT_DATA, which Linux counts for private mappings too */
    const struct {
        int set;
        double bytes, used;
        const char *name;
    } limits[] = {{as_set, (double)as.rlim_cur, (double)vm_pages * page, "ulimit -v"},
                  {data_set, (double)data.rlim_cur, (double)data_pages * page, "ulimit -d"}};
    int limited = 0;
    for (int i = 0; i < 2; i++) {
        if (!limits[i].set) continue;
        const double d = limits[i].bytes - limits[i].used;
        if (!limited || d < *left) {
            *limit = limits[i].bytes;
            *left = d;
            *which = limits[i].name;
        }
        limited = 1;
    }
    return limited;
}

/* fc_memory_exceeded_held's check for need bytes held copies times on this node. */
static int memory_exceeded(double need, double held, int copies, char *why, size_t size)
{
    const double have = fc_physical_memory_bytes();
    /* A per-process limit below the need makes an allocation fail: OpenBLAS then retries its work buffer
     * forever (a hang, deaf to SIGTERM), fcnet's own allocations abort. Refuse it here, keeping room for
     * OpenBLAS's work buffers (below). The limit meets only what is still to be allocated: the held part
     * is in the process's use already. */
    const int blas_threads = openblas_threads();
    const double blas_reserve = blas_reserve_bytes(blas_threads), to_come = need - held;
    const char *which = "";
    double limit = 0, left = 0;
    if (fc_memory_limit(&limit, &left, &which) && to_come + blas_reserve > left) {
        const double room = left - blas_reserve > 0 ? left - blas_reserve : 0;
        char of[80] = "";
        if (held > 0) snprintf(of, sizeof of, "%s of it still to be allocated, ", fc_format_size(to_come).text);
        char threads[40] = "";
        if (blas_threads > 1) snprintf(threads, sizeof threads, "s (%d threads)", blas_threads);
        snprintf(why, size, "%smore than the %s this process's address-space limit (%s) leaves it after "
                 "%s kept for OpenBLAS's work buffer%s (raise the limit)", of, fc_format_size(room).text, which,
                 fc_format_size(blas_reserve).text, threads);
        return 1;
    }
    if (have <= 0 || need * copies <= have) return 0;
    if (need > have || copies == 1)
        snprintf(why, size, "more than this machine's %s of memory", fc_format_size(have).text);
    else
        snprintf(why, size, "more than this rank's share of this machine's memory: %s for %d ranks on this node, "
                 "each with its own copy (start fewer ranks per node%s)", fc_format_size(have).text, copies,
                 copies_note);
    return 1;
}

int fc_memory_exceeded(double need, char *why, size_t size)
{
    return fc_memory_exceeded_held(need, 0, why, size);
}

int fc_memory_exceeded_copies(double need, int copies, char *why, size_t size)
{
    return memory_exceeded(need, 0, copies, why, size);
}

int fc_memory_exceeded_held(double need, double held, char *why, size_t size)
{
    return memory_exceeded(need, held, node_ranks, why, size);
}

/* How many 128 MiB work buffers, up to `most`, this process has mapped already: anonymous private writable mappings
 * whose size is a whole number of them (the kernel merges buffers mapped side by side into one mapping). Before
 * main, whether a worker has mapped its buffer yet is a race with its start: counted as used, it made the check
 * below refuse a limit in one run and take it in the next (helper-173). A buffer merged with a neighbour that is
 * no buffer is missed, which only makes the check stricter. */
static int blas_buffers_mapped(int most)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) return 0;
    const unsigned long long buffer = (unsigned long long)BLAS_BUFFER_MIB << 20;
    char line[512], perms[8];
    unsigned long long from, to, offset, inode;
    unsigned dev_major, dev_minor;
    int found = 0;
    while (found < most && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &from, &to, perms, &offset, &dev_major, &dev_minor,
                   &inode) == 7 &&
            inode == 0 && strcmp(perms, "rw-p") == 0 && to > from && (to - from) % buffer == 0)
            found += (int)((to - from) / buffer);
    }
    fclose(f);
    return found < most ? found : most;
}

int fc_memory_blas_threads_lack_room(char *why, size_t size)
{
    const int threads = openblas_threads();
    const char *which = "";
    double limit = 0, left = 0;
    if (threads == 1 || !fc_memory_limit(&limit, &left, &which)) return 0;
    /* The workers' buffers taken already are part of the reserve, not still to come. */
    const double taken = blas_buffers_mapped(threads - 1) * BLAS_BUFFER_MIB * 1048576.0;
    const double need = blas_reserve_bytes(threads) - taken;
    if (left >= need) return 0;
    /* The most threads whose buffers fit, at least 1: a lone thread has no worker to wait for (the checks before
     * a run's allocations weigh its buffer then). */
    int fit = 1;
    while (fit < threads && blas_reserve_bytes(fit + 1) <= left + taken) fit++;
    char advice[96];
    snprintf(advice, sizeof advice, "set OPENBLAS_NUM_THREADS=%d%s or raise the limit", fit,
             fit > 1 ? " or fewer," : "");
    snprintf(why, size, "this process's address-space limit (%s) leaves %s, less than the %s that OpenBLAS's %d "
             "threads still need for their work buffers (%s)", which, fc_format_size(left > 0 ? left : 0).text,
             fc_format_size(need).text, threads, advice);
    return 1;
}
