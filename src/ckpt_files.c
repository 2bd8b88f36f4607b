/* The checkpoint files of an output folder (ckpt_files.h): numbered copies, stale temporary files, other runs'
 * copies. */

#include "fcnet/ckpt_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcnet/ckpt.h"

/* Copies src to dst through a temporary file and rename, so dst is never half written. */
static fc_status copy_file(const char *src, const char *dst)
{
    char tmp[FC_PATH_MAX + 128];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return fc_error_set(FC_ERR_FAIL, "--keep-last: cannot read %s: %s", src, fc_errno_reason(errno).text);
    unlink(tmp); /* created anew (O_EXCL), so a symbolic link at that name is never followed */
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (out < 0) {
        int err = errno;
        close(in);
        return fc_error_set(FC_ERR_FAIL, "--keep-last: cannot create %s: %s", tmp, fc_errno_reason(err).text);
    }
    char buf[1 << 16];
    int err = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        for (ssize_t off = 0; off < n && !err;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR) err = errno;
            if (w > 0) off += w;
        }
        if (err) break;
    }
    if (!err && fsync(out) != 0) err = errno;
    if (close(out) != 0 && !err) err = errno;
    close(in);
    if (!err && rename(tmp, dst) != 0) err = errno;
    if (err) {
        unlink(tmp);
        return fc_error_set(FC_ERR_FAIL, "--keep-last: cannot copy %s to %s: %s", src, dst,
                            fc_errno_reason(err).text);
    }
    return FC_OK;
}

int64_t fc_ckpt_numbered_step(const char *name)
{
    const char *prefix = "checkpoint-step";
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0) return -1;
    const char *p = name + lp;
    int64_t v = 0;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return -1; /* as %lld prints */
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p++ - '0');
    }
    return strcmp(p, ".h5") == 0 ? v : -1;
}

/* 1 when name ends in ".tmp.<digits>" after stem: a temporary file of this program's saves. */
static int is_temp_of(const char *name, size_t stem_len)
{
    const char *p = name + stem_len;
    if (strncmp(p, ".tmp.", 5) != 0) return 0;
    p += 5;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '\0';
}

int fc_ckpt_remove_stale_temps(const char *out_dir, double *bytes)
{
    *bytes = 0;
    DIR *d = opendir(out_dir);
    if (!d) return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        /* <stem>.tmp.<pid>, the stem one of the names saves write: .checkpoint.h5 or checkpoint-step<N>.h5 */
        const char *name = e->d_name, *mark = strstr(name, ".h5.tmp.");
        char stem[300];
        if (!mark || (size_t)(mark - name) + 3 >= sizeof stem) continue;
        const size_t stem_len = (size_t)(mark - name) + 3;
        snprintf(stem, sizeof stem, "%.*s", (int)stem_len, name);
        if (!(strcmp(stem, ".checkpoint.h5") == 0 || fc_ckpt_numbered_step(stem) >= 0) || !is_temp_of(name, stem_len))
            continue;
        char path[FC_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", out_dir, name);
        struct stat sb;
        /* A directory under such a name is not ours to remove; a symbolic link goes, never its target. */
        if (lstat(path, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode))) continue;
        if (unlink(path) == 0) {
            removed++;
            if (S_ISREG(sb.st_mode)) *bytes += (double)sb.st_size;
        }
    }
    closedir(d);
    return removed;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The steps of the numbered copies (checkpoint-step<N>.h5) in out_dir, highest first; malloc'ed, *n of them.
 * NULL with errno set when the folder cannot be listed. Listed in full before any is removed. */
static int64_t *numbered_copies(const char *out_dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(out_dir);
    if (!d) return NULL;
    size_t cap = 16;
    int64_t *steps = malloc(cap * sizeof *steps);
    FC_ASSERT(steps != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const int64_t s = fc_ckpt_numbered_step(e->d_name);
        if (s < 0) continue;
        if (*n == cap) {
            cap *= 2;
            int64_t *grown = realloc(steps, cap * sizeof *grown);
            FC_ASSERT(grown != NULL);
            steps = grown;
        }
        steps[(*n)++] = s;
    }
    closedir(d);
    qsort(steps, *n, sizeof *steps, cmp_desc);
    return steps;
}

static void numbered_path(char *path, size_t size, const char *out_dir, int64_t step)
{
    snprintf(path, size, "%s/checkpoint-step%lld.h5", out_dir, (long long)step);
}

/* 1 when path is a checkpoint that the run run_id wrote, else 0: a file of another run, of an older
 * fcnet, or no checkpoint at all. */
static int written_by_run(const char *path, uint64_t run_id)
{
    uint64_t v;
    return fc_ckpt_read_run_id(path, &v) && v == run_id;
}

fc_status fc_ckpt_keep_last(const char *out_dir, const char *ckpt_path, int64_t step, int64_t keep_last,
                            uint64_t run_id)
{
    if (keep_last <= 0) return FC_OK;
    char target[FC_PATH_MAX + 64];
    numbered_path(target, sizeof target, out_dir, step);
    if (access(target, F_OK) == 0 && !written_by_run(target, run_id)) {
        fc_log_warn("--keep-last: %s was not written by this run; left alone, no numbered copy of step %lld", target,
                    (long long)step);
    } else {
        /* A copy of the same step from an earlier attempt of this run is replaced (link() does not overwrite). */
        if (unlink(target) != 0 && errno != ENOENT)
            return fc_error_set(FC_ERR_FAIL, "--keep-last: cannot replace %s: %s", target, strerror(errno));
        if (link(ckpt_path, target) != 0) {
            fc_status st = copy_file(ckpt_path, target);
            if (st != FC_OK) return st;
        }
    }

    size_t n;
    int64_t *steps = numbered_copies(out_dir, &n);
    if (!steps) return fc_error_set(FC_ERR_FAIL, "--keep-last: cannot list %s: %s", out_dir, strerror(errno));
    /* Only this run's copies up to this step count: never another run's files, nor numbers ahead of this step
     * (a resume from an older copy leaves the abandoned later ones where they are). */
    fc_status st = FC_OK;
    int64_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        char old[FC_PATH_MAX + 64];
        numbered_path(old, sizeof old, out_dir, steps[i]);
        if (steps[i] > step || !written_by_run(old, run_id) || ++kept <= keep_last) continue;
        if (unlink(old) != 0 && errno != ENOENT && st == FC_OK)
            st = fc_error_set(FC_ERR_FAIL, "--keep-last: cannot remove %s: %s", old, strerror(errno));
    }
    free(steps);
    fc_sync_path(out_dir, 1); /* best effort: the links are a convenience, checkpoint.h5 is already durable */
    return st;
}

int fc_ckpt_find_in_dir(const char *out_dir, char *name, size_t size)
{
    char path[FC_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoint.h5", out_dir);
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        snprintf(name, size, "checkpoint.h5");
        return 1;
    }
    size_t n;
    int64_t *steps = numbered_copies(out_dir, &n);
    const int found = steps && n > 0; /* the latest copy is the one a user would continue from */
    if (found) snprintf(name, size, "checkpoint-step%lld.h5", (long long)steps[0]);
    free(steps);
    return found;
}

/* Counts, and with remove unlinks, the numbered copies in out_dir that are checkpoints (have a run_id) and
 * not this run's past: those carrying this run_id with a step above keep_upto, and with other_runs also every
 * other run's. *last is the highest step among them (-1 when none). what names the option in messages. */
static fc_status sweep_copies(const char *out_dir, uint64_t run_id, int64_t keep_upto, int other_runs, int remove,
                              const char *what, int *count, int64_t *last)
{
    *count = 0;
    *last = -1;
    size_t n;
    int64_t *steps = numbered_copies(out_dir, &n);
    if (!steps) return fc_error_set(FC_ERR_FAIL, "%s: cannot list %s: %s", what, out_dir, strerror(errno));
    fc_status st = FC_OK;
    for (size_t i = 0; i < n; i++) {
        char old[FC_PATH_MAX + 64];
        numbered_path(old, sizeof old, out_dir, steps[i]);
        /* Only checkpoints: a file that merely has such a name is not ours to delete. */
        uint64_t id;
        if (!fc_ckpt_read_run_id(old, &id) || (id == run_id ? steps[i] <= keep_upto : !other_runs)) continue;
        ++*count;
        if (*last < steps[i]) *last = steps[i];
        if (remove && unlink(old) != 0 && errno != ENOENT && st == FC_OK)
            st = fc_error_set(FC_ERR_FAIL, "%s: cannot remove %s: %s", what, old, strerror(errno));
    }
    free(steps);
    return st;
}

fc_status fc_ckpt_remove_other_runs(const char *out_dir, uint64_t run_id, int64_t keep_upto)
{
    int count;
    int64_t last;
    return sweep_copies(out_dir, run_id, keep_upto, 1, 1, "--overwrite", &count, &last);
}

int fc_ckpt_later_copies(const char *out_dir, uint64_t run_id, int64_t step, int64_t *last)
{
    int count;
    return sweep_copies(out_dir, run_id, step, 0, 0, "--resume", &count, last) == FC_OK ? count : 0;
}

fc_status fc_ckpt_remove_later_copies(const char *out_dir, uint64_t run_id, int64_t step)
{
    int count;
    int64_t last;
    return sweep_copies(out_dir, run_id, step, 0, 1, "--resume", &count, &last);
}
