/* The run's output folder (out_dir.h): created, checked, locked, cleared of stale temporary files. */

/* realpath() (X/Open) and Linux's fallocate() are beyond the project's _POSIX_C_SOURCE. */
#define _GNU_SOURCE

#include "fcnet/out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fcnet/ckpt.h"
#include "fcnet/ckpt_files.h"

enum { LOCK_WAIT_TRIES = 30 }; /* tenths of a second a run waits for another run's lock on --out */
enum { CLAIM_TRIES = 10 };     /* fresh starts of a claim whose --out or lock file other runs keep removing */

/* What tells a file apart from the one that replaces it under the same name: a save renames a new file over the
 * checkpoint, whose inode number the file system may hand out again at the next save, but not with the same
 * change time to the nanosecond. 1 when path could be looked at. */
int fc_file_identity(const char *path, int64_t id[5])
{
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    id[0] = (int64_t)sb.st_dev;
    id[1] = (int64_t)sb.st_ino;
    id[2] = (int64_t)sb.st_size;
    id[3] = (int64_t)sb.st_ctim.tv_sec;
    id[4] = (int64_t)sb.st_ctim.tv_nsec;
    return 1;
}

/* How many components s names ("a//b/" two). */
static int count_components(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s != '/' && (s[1] == '/' || s[1] == '\0');
    return n;
}

/* The new directory path's entry made durable in its parent, as a save makes its checkpoint's in --out: else a
 * crash of the machine could lose a fresh --out, and the durable checkpoints inside it with it. A failure is left
 * to the saves, whose own fsync of --out reports it. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char parent[FC_PATH_MAX];
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    (void)fc_sync_path(parent, 1);
}

/* One walk of fc_out_dir_make over path: mkdir of every component. 0, or the errno of the first that failed,
 * with path cut after it; *made: the trailing run of components this walk created before it ended, the only ones
 * that lie wholly within what it made; *missing: the components from the one that failed to the end. */
static int make_components(char *path, int *made, int *missing)
{
    *made = *missing = 0;
    for (char *p = path + 1;; p++) {
        if ((*p == '/' || *p == '\0') && p[-1] != '/') { /* the end of a component ("a//b/" has two) */
            const char saved = *p;
            *p = '\0';
            const int ok = mkdir(path, 0777) == 0, err = errno;
            if (!ok && err != EEXIST) {
                *missing = 1 + (saved ? count_components(p + 1) : 0);
                return err;
            }
            if (ok) sync_parent(path);
            *made = ok ? *made + 1 : 0;
            *p = saved;
        }
        if (*p == '\0') return 0;
    }
}

fc_status fc_out_dir_make(const char *dir, fc_status kind, int *created, int *missing)
{
    char path[FC_PATH_MAX];
    int made = 0, not_made = 0, err;
    /* A run refused beside this one removes the empty directories it created (fc_out_dir_release), one of
     * which this walk may have found a moment before: the next component then fails with ENOENT, and the walk
     * starts over (a few times: a symbolic link to nowhere on the way fails so every time). */
    for (int walks = 0;; walks++) {
        snprintf(path, sizeof path, "%s", dir);
        err = make_components(path, &made, &not_made);
        if (err != ENOENT || walks == CLAIM_TRIES) break;
    }
    if (created) *created = made;
    if (missing) *missing = not_made;
    if (err) return fc_error_set(kind, "--out: cannot create directory '%s': %s", path, strerror(err));
    return FC_OK;
}

/* Whether the file path (symbolic links resolved) lives in directory dir, compared by device and inode,
 * so any spelling of either matches. */
static int is_in_dir(const char *path, const char *dir)
{
    char *parent = realpath(path, NULL); /* absolute, so it holds a '/' */
    if (!parent) return 0;
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        parent[1] = '\0';
    else if (slash)
        *slash = '\0';
    struct stat a, b;
    const int same = stat(parent, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    free(parent);
    return same;
}

/* A resume continues the run in --out when its file lies there and, where both files say, carries the
 * run_id of --out's checkpoint.h5 (a copy of another run's checkpoint placed in --out does not). */
static int continues_run_in(const char *resume, const char *out)
{
    if (!is_in_dir(resume, out)) return 0;
    char current[FC_PATH_MAX + 32];
    snprintf(current, sizeof current, "%s/checkpoint.h5", out);
    uint64_t a, b;
    return !fc_ckpt_read_run_id(current, &a) || !fc_ckpt_read_run_id(resume, &b) || a == b;
}

/* --out without trailing slashes, to put before "/checkpoint.h5" in messages ("a/" + "/checkpoint.h5"). */
static void out_dir_text(char *dir, size_t size, const char *out)
{
    snprintf(dir, size, "%s", out);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/';) dir[--n] = '\0';
}

/* <out>/.fcnet-lock, the lock file's one name for every place that looks at it. */
static void lock_path(char *path, size_t size, const char *out)
{
    char dir[FC_PATH_MAX];
    out_dir_text(dir, sizeof dir, out);
    snprintf(path, size, "%s/.fcnet-lock", dir);
}

/* Nothing is lost by accident: a run writes into an --out that holds checkpoints only when it continues
 * one of them (--resume from a file of that run in --out) or is told to replace them (--overwrite). */
static fc_status check_not_replacing(const fc_config *cfg)
{
    char found[300];
    if (cfg->overwrite || !fc_ckpt_find_in_dir(cfg->out, found, sizeof found)) return FC_OK;
    if (cfg->resume[0] && continues_run_in(cfg->resume, cfg->out)) return FC_OK;
    char dir[FC_PATH_MAX];
    out_dir_text(dir, sizeof dir, cfg->out);
    /* A copy of this very run kept elsewhere (a backup of an older step) is refused too, but not as another run's. */
    char found_path[FC_PATH_MAX + 320];
    snprintf(found_path, sizeof found_path, "%s/%s", dir, found);
    uint64_t a, b;
    const int same_run =
        cfg->resume[0] && fc_ckpt_read_run_id(found_path, &a) && fc_ckpt_read_run_id(cfg->resume, &b) && a == b;
    return fc_error_set(FC_ERR_INPUT, "--out: %s already holds %s of %s; continue it with --resume %s/%s, choose "
                        "another --out, or add --overwrite to replace it", dir, found,
                        same_run        ? "the resumed run (a copy outside --out does not continue it there)"
                        : cfg->resume[0] ? "a run other than the resumed one"
                                         : "an earlier run",
                        dir, found);
}

/* "a directory", "a FIFO", ...: what a file that is not a regular one is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "a device";
}

/* The refusal of a .fcnet-lock that is not a regular file (mode: lstat's). */
static fc_status not_a_lock_file(const char *path, mode_t mode)
{
    if (S_ISLNK(mode))
        return fc_error_set(FC_ERR_INPUT, "--out: %s is a symbolic link; refusing to follow it (remove it)", path);
    return fc_error_set(FC_ERR_INPUT, "--out: %s is %s, not fcnet's lock file; move it away", path, file_kind(mode));
}

/* 1 when path itself (not followed) is the file open on fd: the name was not removed or replaced since. */
static int same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The holder's line in a lock file ("PID 13144 on node7"), "" when it has none. */
static void read_holder(int fd, char *holder, size_t size)
{
    const ssize_t n = pread(fd, holder, size - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\r\n")] = '\0';
}

static fc_status in_use(const char *out, const char *holder)
{
    return fc_error_set(FC_ERR_INPUT, "--out: another fcnet run (%s) is using %s; wait for it to end or give "
                        "another --out", holder[0] ? holder : "its PID unknown", out);
}

/* <out>/.fcnet-lock opened for a look (reading only), its name in path: the descriptor, or -1 with errno 0 when
 * there is no regular file under the name (lock_out_dir refuses the other kinds), else open's errno. */
static int open_lock_to_look(const char *out, char *path, size_t size)
{
    lock_path(path, size, out);
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        errno = 0;
        return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

/* 1 when another process holds a lock on <out>/.fcnet-lock, its line in holder. Only for a process that holds
 * no lock on it itself: closing this second descriptor would release that lock. */
static int locked_by_other(const char *out, char *holder, size_t size)
{
    char path[FC_PATH_MAX + 32];
    const int fd = open_lock_to_look(out, path, sizeof path);
    if (fd < 0) return 0;
    struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    const int held = fcntl(fd, F_GETLK, &whole) == 0 && whole.l_type != F_UNLCK;
    if (held) read_holder(fd, holder, size);
    close(fd);
    return held;
}

/* " (the lock file of user ann)" when another user owns path, else "": into text (size bytes), returned. */
static const char *lock_owner(const char *path, char *text, size_t size)
{
    struct stat sb;
    text[0] = '\0';
    if (stat(path, &sb) == 0 && sb.st_uid != geteuid()) {
        const struct passwd *pw = getpwuid(sb.st_uid);
        if (pw)
            snprintf(text, size, " (the lock file of user %s)", pw->pw_name);
        else
            snprintf(text, size, " (the lock file of user %ld)", (long)sb.st_uid);
    }
    return text;
}

/* A .fcnet-lock this user may not even read (another user's, written under umask 077): whether a run of theirs
 * holds it cannot be seen. Said as such, not as a checkpoint of "an earlier run" to resume (which this user
 * cannot read either) nor as a lock file it "cannot create" (it is there). */
static fc_status unreadable_lock(const char *out, const char *path)
{
    char owner[96];
    return fc_error_set(FC_ERR_INPUT, "--out: cannot open %s: %s%s; whether a run is using %s cannot be told: "
                        "choose another --out", path, strerror(EACCES), lock_owner(path, owner, sizeof owner), out);
}

/* A .fcnet-lock this user may read but not write (another user's, written under umask 022). Only a write lock
 * excludes every other run: read locks on it would not exclude each other, and two such runs would write into one
 * --out at once. So the run is refused unless the file is made writable (or removed while no run holds it). */
static fc_status unwritable_lock(const char *out, const char *path)
{
    char holder[128], owner[96];
    if (locked_by_other(out, holder, sizeof holder)) return in_use(out, holder);
    return fc_error_set(FC_ERR_INPUT, "--out: cannot write %s: %s%s, so this run cannot lock %s against a second "
                        "run: let the users who share it write the file (chmod g+w or a+w), or remove it while no run "
                        "is using %s", path, strerror(EACCES), lock_owner(path, owner, sizeof owner), out, out);
}

/* FC_OK, or the refusal of a .fcnet-lock in out that is there but cannot be opened for reading (EACCES). */
static fc_status check_lock_readable(const char *out)
{
    char path[FC_PATH_MAX + 32];
    const int fd = open_lock_to_look(out, path, sizeof path);
    if (fd >= 0) {
        close(fd);
        return FC_OK;
    }
    return errno == EACCES ? unreadable_lock(out, path) : FC_OK;
}

/* Rank 0 takes an exclusive lock on <out>/.fcnet-lock for the whole run: two runs started on one --out
 * would both pass the check for another run's checkpoint before either had saved, and then overwrite each
 * other's. A POSIX record lock (also honoured over NFS) is released when the process ends however it ends,
 * so a crashed or killed run leaves no stale lock; this process never opens the file a second time, whose
 * close would release it early. A file system without locks (ENOLCK, EOPNOTSUPP) gets a warning, no lock. */
static fc_status lock_out_dir(const char *out, fc_out_dir_hold *hold, int *again)
{
    char path[FC_PATH_MAX + 32];
    lock_path(path, sizeof path, out);
    /* Only a regular file is opened and written: a symbolic link would be followed and its target (any file
     * the user can write) truncated, a FIFO would block the open, a device would be opened. lstat refuses
     * them unopened; O_NOFOLLOW, O_NONBLOCK (no effect on a regular file) and fstat cover a swap in between. */
    struct stat sb;
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) return not_a_lock_file(path, sb.st_mode);
    const int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    /* O_EXCL first, to know whether this run created the file (a refused run removes only its own) */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | flags, 0666), created = fd >= 0;
    /* Writable by whoever may write in --out (umask permitting), so that users who share --out share the lock. */
    if (fd < 0 && errno == EEXIST) fd = open(path, O_RDWR | O_CREAT | flags, 0666);
    if (fd < 0 && errno == ELOOP) return not_a_lock_file(path, S_IFLNK);
    if (fd < 0 && errno == EACCES && lstat(path, &sb) == 0) {
        const int readable = access(path, R_OK) == 0;
        return readable ? unwritable_lock(out, path) : unreadable_lock(out, path);
    }
    if (fd < 0) {
        const int err = errno;
        return fc_error_set(FC_ERR_INPUT, "--out: cannot %s %s: %s", lstat(path, &sb) == 0 ? "write" : "create", path,
                            strerror(err));
    }
    if (fstat(fd, &sb) != 0) {
        const int err = errno;
        close(fd);
        return fc_error_set(FC_ERR_INPUT, "--out: cannot stat %s: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return not_a_lock_file(path, sb.st_mode);
    }
    struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int rc;
    /* A run killed a moment ago may hold the lock a little longer: with mpirun killed first its ranks take about
     * a second to end. Up to LOCK_WAIT_TRIES x 0.1 s of waiting lets an immediate retry (a requeued job, a
     * wrapper's loop) resume instead of being refused; a live run is refused after that wait. */
    for (int tries = 0;; tries++) {
        while ((rc = fcntl(fd, F_SETLK, &whole)) != 0 && errno == EINTR) {
        }
        if (rc == 0 || (errno != EACCES && errno != EAGAIN) || tries == LOCK_WAIT_TRIES) break;
        const struct timespec tenth = {0, 100000000};
        nanosleep(&tenth, NULL);
    }
    /* A run refused after it created the file removes it still holding the lock: a run that waited on it then
     * holds a lock on a file no other run can open, and starts over on what is under the name now (the caller).
     * Not told by the link count: an NFS client renames a removed open file (.nfsXXXX), which keeps its link. */
    if (rc == 0 && !same_file(fd, path)) {
        close(fd);
        *again = 1;
        return FC_OK;
    }
    if (rc != 0) {
        const int err = errno;
        if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS) {
            fc_log_warn("--out: the file system of %s has no locks (%s): nothing stops a second run on this --out",
                        out, strerror(err));
            close(fd);
            hold->lock_created = created;
            return FC_OK;
        }
        char holder[128];
        read_holder(fd, holder, sizeof holder);
        close(fd);
        if (err != EACCES && err != EAGAIN)
            return fc_error_set(FC_ERR_INPUT, "--out: cannot lock %s: %s", path, strerror(err));
        return in_use(out, holder);
    }
    char host[64] = "?", text[160];
    gethostname(host, sizeof host - 1);
    const int len = snprintf(text, sizeof text, "PID %ld on %s\n", (long)getpid(), host);
    /* Not into a file with other names (hard links), which would be overwritten too. */
    const int written =
        sb.st_nlink == 1 && ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) == len;
    (void)written; /* the holder's line only serves the message of a refused run */
    hold->lock = fd + 1;
    hold->lock_created = created;
    return FC_OK;
}

/* A directory (or FIFO, socket, device) under a name the run writes or removes is not a checkpoint, but it
 * would only fail the run at its first save, an epoch later: as checkpoint.h5 the rename over it, as a
 * numbered copy the removal by --overwrite (or it blocks --keep-last's copy of that step). Refused now. A
 * symbolic link passes: rename and unlink replace the link, never its target. */
static fc_status check_checkpoint_names(const char *out, const char *data)
{
    struct stat data_sb;
    const int have_data = data[0] && stat(data, &data_sb) == 0;
    DIR *d = opendir(out);
    if (!d) return fc_error_set(FC_ERR_INPUT, "--out: cannot list directory '%s': %s", out, strerror(errno));
    char dir[FC_PATH_MAX];
    out_dir_text(dir, sizeof dir, out);
    fc_status st = FC_OK;
    for (struct dirent *e; st == FC_OK && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, "checkpoint.h5") != 0 && fc_ckpt_numbered_step(e->d_name) < 0) continue;
        char path[FC_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0) continue; /* gone since the listing: nothing there to refuse */
        if (!S_ISREG(sb.st_mode) && !S_ISLNK(sb.st_mode))
            st = fc_error_set(FC_ERR_INPUT, "--out: %s is %s, not a checkpoint; move it away", path,
                              file_kind(sb.st_mode));
        /* The dataset itself, with no other name, as the checkpoint.h5 the first save renames over (--data
         * naming it, or a symbolic link to it; a symbolic link as checkpoint.h5 is replaced, its target kept):
         * with --overwrite the save destroyed the training data and left a checkpoint whose data path names
         * a checkpoint; without, the refusal called the dataset "an earlier run" to --resume. Numbered copies
         * are removed only when they carry a run_id. */
        else if (have_data && S_ISREG(sb.st_mode) && sb.st_nlink == 1 && sb.st_dev == data_sb.st_dev &&
                 sb.st_ino == data_sb.st_ino && strcmp(e->d_name, "checkpoint.h5") == 0)
            st = fc_error_set(FC_ERR_INPUT, "--out: %s is the --data file %s: the first checkpoint would replace "
                              "the dataset; choose another --out or move the dataset", path, data);
    }
    closedir(d);
    return st;
}

/* With --out locked: a checkpoint that another run saved over --resume after this run read it is refused; resuming
 * from the older one would overwrite the newer work. */
static fc_status check_resume_unchanged(const fc_config *cfg, const int64_t resume_file[5])
{
    int64_t now[5];
    if (!cfg->resume[0] || resume_file[0] < 0) return FC_OK;
    if (fc_file_identity(cfg->resume, now) && memcmp(now, resume_file, 5 * sizeof now[0]) == 0) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "--resume: %s was replaced by another run's save while this run started; run "
                        "again to resume from the new one", cfg->resume);
}

/* With --out locked: the temporary files of saves cut short by an earlier run go (they would fill a small
 * disk or quota, and then fail every resume at its first save). */
static void remove_stale_temps(const char *out)
{
    double bytes = 0;
    const int n = fc_ckpt_remove_stale_temps(out, &bytes);
    if (n > 0)
        fc_log_info("--out: removed %d temporary file%s (%.1f MB) left by an earlier run's interrupted save%s", n,
                    n == 1 ? "" : "s", bytes / 1e6, n == 1 ? "" : "s");
}

/* One attempt of fc_out_dir_claim; *again = 1 when what it found was removed under it (see there). */
static fc_status claim_once(const fc_config *cfg, const int64_t resume_file[5], fc_out_dir_hold *hold, int *again)
{
    memset(hold, 0, sizeof *hold);
    *again = 0;
    fc_status st = fc_out_dir_make(cfg->out, FC_ERR_INPUT, &hold->dirs_created, &hold->dirs_missing);
    if (st != FC_OK) return st;
    char probe[FC_PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.fcnet-probe-XXXXXX", cfg->out);
    const int fd = mkstemp(probe);
    if (fd < 0) {
        st = fc_error_set(FC_ERR_INPUT, "--out: cannot write in directory '%s': %s", cfg->out,
                          fc_errno_reason(errno).text);
    } else {
        close(fd);
        unlink(probe);
        st = check_checkpoint_names(cfg->out, cfg->data);
    }
    if (st == FC_OK) st = check_lock_readable(cfg->out);
    /* The checkpoint of a run still going is not "an earlier run's" to resume: that run is named. (This
     * process holds no lock yet, so the look at the lock cannot release one.) */
    char holder[128];
    if (st == FC_OK && (st = check_not_replacing(cfg)) != FC_OK && locked_by_other(cfg->out, holder, sizeof holder))
        st = in_use(cfg->out, holder);
    /* Then the lock: a concurrent run that passed the look too (neither had saved) finds it taken. Not
     * before the look, so that a run refused by it leaves the directory as it was. */
    if (st == FC_OK) st = lock_out_dir(cfg->out, hold, again);
    if (*again) return FC_OK;
    /* The looks before the lock may be stale by now (it waits for a run that is ending, and that run may save
     * meanwhile): repeated with the lock held, nothing can change under them any more. */
    if (st == FC_OK) st = check_not_replacing(cfg);
    if (st == FC_OK) st = check_resume_unchanged(cfg, resume_file);
    /* Only under the lock: another run's save in progress is not a leftover. */
    if (st == FC_OK && hold->lock) remove_stale_temps(cfg->out);
    /* made, then gone (the name itself: a symbolic link to nowhere is the user's to fix): not a reason to refuse */
    struct stat sb;
    if (st != FC_OK && !hold->lock && lstat(cfg->out, &sb) != 0 && errno == ENOENT) *again = 1;
    return st;
}

fc_status fc_out_dir_claim(const fc_config *cfg, const int64_t resume_file[5], fc_out_dir_hold *hold)
{
    /* A run refused beside this one removes the .fcnet-lock and the directories it created (fc_out_dir_release),
     * which this run may have found and be waiting on, or be about to write in: it then starts over on what is
     * there now (its own directories, a new lock file), instead of running unseen or failing for a missing one. */
    for (int tries = 0;; tries++) {
        int again;
        const fc_status st = claim_once(cfg, resume_file, hold, &again);
        if (!again) return st;
        if (tries == CLAIM_TRIES)
            return fc_error_set(FC_ERR_INPUT, "--out: %s or its .fcnet-lock was removed under this run %d times "
                                "(other runs refused there?); try again", cfg->out, tries + 1);
    }
}

/* dir without its last component ("a//b" -> "a"): 0 when it has none left to cut. */
static int cut_last_component(char *dir)
{
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    while (slash > dir && slash[-1] == '/') slash--;
    *slash = '\0';
    return 1;
}

void fc_out_dir_release(const char *out, fc_out_dir_hold *hold, int refused)
{
    char dir[FC_PATH_MAX], path[FC_PATH_MAX + 32];
    out_dir_text(dir, sizeof dir, out); /* also for the climb below */
    lock_path(path, sizeof path, out);
    /* Removed while still locked: a run waiting on it sees its file gone and opens the new one (lock_out_dir).
     * Only the file it created: a name someone emptied meanwhile may hold another run's new lock file. */
    if (refused && hold->lock_created && (!hold->lock || same_file(hold->lock - 1, path))) unlink(path);
    if (hold->lock) close(hold->lock - 1);
    /* Deepest first, from the last one it made (past those its mkdir failed on); rmdir removes only an empty
     * directory, and the first that is not ends the climb. */
    if (refused) {
        for (int cut = 0; cut < hold->dirs_missing && cut_last_component(dir);) cut++;
        for (int removed = 0; removed < hold->dirs_created && rmdir(dir) == 0 && cut_last_component(dir);) removed++;
    }
    memset(hold, 0, sizeof *hold);
}

/* Reserves bytes in fd's file system: 0 or the errno. fallocate(), not posix_fallocate(): where the file system
 * cannot reserve (NFSv3, ZFS before 2.2, Lustre before 2.14, ext2/3), glibc emulates posix_fallocate by writing
 * a byte into every 4 KiB block (2.2 s per GB on a local ext2, a network write per block on NFS, at every start,
 * filling the disk for that long when it fails). There the free blocks are counted instead (no quota). */
static int reserve(int fd, double bytes)
{
#ifdef __linux__
    if (fallocate(fd, 0, 0, (off_t)bytes) == 0) return 0;
    const int err = errno;
#else
    const int err = posix_fallocate(fd, 0, (off_t)bytes);
    if (err == 0) return 0;
#endif
    if (err != EOPNOTSUPP && err != ENOSYS && err != EINVAL) return err;
    struct statvfs vs;
    if (fstatvfs(fd, &vs) != 0) return 0;
    return (double)vs.f_bfree * (double)vs.f_frsize < bytes ? ENOSPC : 0;
}

fc_status fc_out_dir_check_room(const char *out, double bytes)
{
    char probe[FC_PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.fcnet-room-XXXXXX", out);
    const int fd = mkstemp(probe);
    if (fd < 0)
        return fc_error_set(FC_ERR_INPUT, "--out: cannot write in directory '%s': %s", out,
                            fc_errno_reason(errno).text);
    unlink(probe); /* the reservation goes with the descriptor */
    const int err = bytes >= 1 ? reserve(fd, bytes) : 0;
    close(fd);
    /* Only a verdict about space: another error (no support, an interrupted call) leaves the save to find out. */
    if (err == ENOSPC || err == EDQUOT || err == EFBIG)
        return fc_error_set(FC_ERR_INPUT, "--out: no room in '%s' for a checkpoint of this run (%.1f %s at least): %s",
                            out, bytes < 1e6 ? bytes / 1e3 : bytes / 1e6, bytes < 1e6 ? "kB" : "MB",
                            fc_errno_reason(err).text);
    return FC_OK;
}
