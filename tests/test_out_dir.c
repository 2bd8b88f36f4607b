/* What a run refused before training takes away again from --out (fc_out_dir_release): the .fcnet-lock and the
 * directories it created (also those above a component its mkdir failed on), never a directory it found (even an
 * empty one), a lock file an earlier run left, or another run's lock file now under the name. And a directory
 * such a run removes while this one creates --out inside it does not fail this one, and a claim whose --out
 * such a run removed starts over. The holder's line is written into a lock file with no other name only, and a
 * resume continues the run in --out only from that run's file inside it; a symbolic link under a checkpoint's
 * name is taken; what it creates is as open as the umask allows, and durable in its parent. The room check
 * counts free blocks where fallocate cannot reserve. */

#define _GNU_SOURCE /* nftw(), RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fcnet/config.h"
#include "fcnet/out_dir.h"
#include "testutil.h"

static char base[512];
/* Armed with a path, the next mkdir of it first removes its parent, as a refused run's release beside this run
 * does when it removes the empty directory it created and this run had just found. */
static const char *parent_vanishes_before;

/* In the test binary, this mkdir is the one fc_out_dir_make calls (libc's own mkdtemp does not come here). */
int mkdir(const char *path, mode_t mode)
{
    if (parent_vanishes_before && strcmp(path, parent_vanishes_before) == 0) {
        parent_vanishes_before = NULL;
        char parent[FC_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", path);
        *strrchr(parent, '/') = '\0';
        ck_assert_int_eq(rmdir(parent), 0);
    }
    return (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
}
static const int64_t no_resume[5] = {-1, 0, 0, 0, 0};

/* The directories fsync was called on (their paths from /proc/self/fd), in order, while synced_dirs_on. */
enum { MAX_SYNCED = 16 };
static char synced_dirs[MAX_SYNCED][FC_PATH_MAX];
static int n_synced, synced_dirs_on;

int fsync(int fd)
{
    struct stat sb;
    if (synced_dirs_on && n_synced < MAX_SYNCED && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const ssize_t n = readlink(link, synced_dirs[n_synced], FC_PATH_MAX - 1);
        synced_dirs[n_synced++][n > 0 ? n : 0] = '\0';
    }
    return (int)syscall(SYS_fsync, fd);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* base/rel as path; a config with --out base/rel */
static const char *at(const char *rel)
{
    static char bufs[4][FC_PATH_MAX];
    static int next = 0;
    char *b = bufs[next++ % 4];
    if (!base[0]) {
        fct_tmp_template(base, sizeof base, "fcnet_test_out_dir_");
        ck_assert_ptr_nonnull(mkdtemp(base));
    }
    snprintf(b, FC_PATH_MAX, "%s/%s", base, rel);
    return b;
}

/* Stands in for a run refused beside this one that removes the --out it created (fc_out_dir_release) just after
 * this run made it: while vanish_times > 0, the write probe's mkstemp (this definition is the one the library's
 * call reaches) first removes the probe's directory. */
static int vanish_times;

int mkstemp(char *template)
{
    static int (*real)(char *);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "mkstemp");
    const char *probe = strstr(template, "/.fcnet-probe-");
    if (vanish_times > 0 && probe) {
        vanish_times--;
        char dir[FC_PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(probe - template), template);
        rmdir(dir);
    }
    return real(template);
}

/* While fallocate_errno is set, fallocate (the library's call comes here) fails with it, as on a file system that
 * cannot reserve space (EOPNOTSUPP: NFSv3, ZFS before 2.2) or whose quota is spent (EDQUOT). */
static int fallocate_errno;

int fallocate(int fd, int mode, off_t offset, off_t len)
{
    static int (*real)(int, int, off_t, off_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fallocate");
    if (fallocate_errno) {
        errno = fallocate_errno;
        return -1;
    }
    return real(fd, mode, offset, len);
}

static void claim(fc_config *cfg, const char *out_rel, fc_out_dir_hold *hold)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->out, sizeof cfg->out, "%s", at(out_rel));
    ck_assert_int_eq(fc_out_dir_claim(cfg, no_resume, hold), FC_OK);
    ck_assert_int_ne(hold->lock, 0);
}

START_TEST(test_refused_removes_what_it_created)
{
    fc_config cfg;
    fc_out_dir_hold hold;
    ck_assert_int_eq(mkdir(at("user"), 0777), 0); /* the user's, empty */
    claim(&cfg, "user/new//run/", &hold); /* "a//b/": two components */
    ck_assert_int_eq(hold.dirs_created, 2);
    ck_assert_int_eq(hold.lock_created, 1);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(!exists(at("user/new")), "the directories the run created stay");
    ck_assert_msg(exists(at("user")), "the empty directory the run found was removed");
    /* A doubled slash inside what it created: the climb passes it ("top/new/" is not "top"). */
    claim(&cfg, "top/new//run", &hold);
    ck_assert_int_eq(hold.dirs_created, 3);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(!exists(at("top")), "top/new//run: a directory the run created stays");
    /* Only the trailing components it created lie wholly within what it made: after "made/..", the path goes
     * on in the user's directory (made/ itself stays, as a directory the climb does not reach). */
    claim(&cfg, "made/../user/run", &hold);
    ck_assert_int_eq(hold.dirs_created, 1);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(!exists(at("user/run")) && exists(at("user")), "made/../user/run: user/ removed or run/ kept");
    ck_assert_int_eq(rmdir(at("made")), 0);
    /* An --out that existed, with an earlier run's lock file: both stay. */
    claim(&cfg, "user", &hold);
    ck_assert_int_eq(hold.dirs_created, 0);
    fc_out_dir_release(cfg.out, &hold, 0); /* a run that ran leaves its lock file */
    ck_assert(exists(at("user/.fcnet-lock")));
    claim(&cfg, "user", &hold);
    ck_assert_int_eq(hold.lock_created, 0);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(exists(at("user/.fcnet-lock")), "an earlier run's lock file was removed");
    /* A component its mkdir failed on (too long a name): the directories it made above that one go too. */
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    char rel[400];
    snprintf(rel, sizeof rel, "user/new/%s/run/", long_name);
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.out, sizeof cfg.out, "%s", at(rel));
    ck_assert_int_eq(fc_out_dir_claim(&cfg, no_resume, &hold), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "File name too long") != NULL, "%s", fc_error_message());
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(!exists(at("user/new")), "the directory the run made above the failed one stays");
    ck_assert(exists(at("user/.fcnet-lock")));
    ck_assert_int_eq(unlink(at("user/.fcnet-lock")), 0);
    ck_assert_int_eq(rmdir(at("user")), 0);
}
END_TEST

/* Another run, refused, removes the empty directory it created (its release), which this run found a moment
 * before and is creating --out in: this run's walk starts over and makes both, instead of failing with
 * "cannot create directory ...: No such file or directory". */
START_TEST(test_parent_removed_during_the_walk)
{
    ck_assert_int_eq(mkdir(at("shared"), 0777), 0); /* the other run's */
    parent_vanishes_before = at("shared/run");
    fc_config cfg;
    fc_out_dir_hold hold;
    claim(&cfg, "shared/run", &hold);
    ck_assert_ptr_null(parent_vanishes_before);
    ck_assert_int_eq(hold.dirs_created, 2);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert(!exists(at("shared")));
}
END_TEST

/* The name was emptied while the run held its file (someone removed it), and another run locked a new one
 * there: the refused run removes its own file only, not the other's. */
START_TEST(test_refused_keeps_another_runs_lock_file)
{
    fc_config cfg;
    fc_out_dir_hold hold;
    claim(&cfg, "two", &hold);
    ck_assert_int_eq(hold.lock_created, 1);
    ck_assert_int_eq(rename(at("two/.fcnet-lock"), at("two/old")), 0);
    const int other = open(at("two/.fcnet-lock"), O_RDWR | O_CREAT | O_EXCL, 0666);
    ck_assert_int_ge(other, 0);
    close(other);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert_msg(exists(at("two/.fcnet-lock")), "another run's lock file was removed");
    ck_assert(exists(at("two")));
    ck_assert_int_eq(unlink(at("two/.fcnet-lock")), 0);
    ck_assert_int_eq(unlink(at("two/old")), 0);
    ck_assert_int_eq(rmdir(at("two")), 0);
}
END_TEST

/* An --out removed after this run made it and before its lock (the probe finds it gone): the claim starts over
 * and makes it again, instead of refusing 'cannot write in directory'; removed at every start, it gives up after
 * its fresh starts with one error, holding nothing. */
START_TEST(test_out_removed_before_the_lock)
{
    fc_config cfg;
    fc_out_dir_hold hold;
    vanish_times = 1;
    claim(&cfg, "vanishing", &hold);
    ck_assert_int_eq(vanish_times, 0);
    ck_assert_int_eq(hold.dirs_created, 1);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert(!exists(at("vanishing")));
    vanish_times = 1000;
    const fc_status st = fc_out_dir_claim(&cfg, no_resume, &hold);
    const int starts = 1000 - vanish_times;
    vanish_times = 0;
    ck_assert_int_eq(st, FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "was removed under this run 11 times"), "%s", fc_error_message());
    ck_assert_int_eq(starts, 11);
    ck_assert_int_eq(hold.lock, 0);
}
END_TEST

/* Whole contents of path ("" when it cannot be read), at most size - 1 bytes. */
static const char *contents(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    const size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The holder's line ("PID <pid> on <host>", for the message of a run refused meanwhile) goes into a lock file
 * that has no other name: a .fcnet-lock hard-linked to a file of the user's is locked as it is, not emptied and
 * written over. */
START_TEST(test_lock_file_with_other_names)
{
    ck_assert_int_eq(mkdir(at("linked"), 0777), 0);
    const char *notes = "the user's notes\n";
    FILE *f = fopen(at("notes.txt"), "w");
    ck_assert_ptr_nonnull(f);
    fputs(notes, f);
    fclose(f);
    ck_assert_int_eq(link(at("notes.txt"), at("linked/.fcnet-lock")), 0);
    fc_config cfg;
    fc_out_dir_hold hold;
    char buf[256], want[64];
    claim(&cfg, "linked", &hold);
    ck_assert_str_eq(contents(at("notes.txt"), buf, sizeof buf), notes);
    fc_out_dir_release(cfg.out, &hold, 0);
    /* A lock file of its own gets the line. */
    ck_assert_int_eq(unlink(at("linked/.fcnet-lock")), 0);
    claim(&cfg, "linked", &hold);
    snprintf(want, sizeof want, "PID %ld on ", (long)getpid());
    ck_assert_msg(strncmp(contents(at("linked/.fcnet-lock"), buf, sizeof buf), want, strlen(want)) == 0,
                  "the lock file holds '%s', not '%s...'", buf, want);
    fc_out_dir_release(cfg.out, &hold, 0);
    ck_assert_int_eq(unlink(at("linked/.fcnet-lock")), 0);
    ck_assert_int_eq(rmdir(at("linked")), 0);
    ck_assert_int_eq(unlink(at("notes.txt")), 0);
}
END_TEST

/* A file holding only the root attribute run_id (when run_id >= 0), all that the claim reads of a checkpoint. */
static void write_run_id(const char *path, int64_t run_id)
{
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    if (run_id >= 0) {
        const hid_t space = H5Screate(H5S_SCALAR);
        const hid_t a = H5Acreate2(f, "run_id", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert_int_ge(a, 0);
        ck_assert_int_ge(H5Awrite(a, H5T_NATIVE_INT64, &run_id), 0);
        H5Aclose(a);
        H5Sclose(space);
    }
    H5Fclose(f);
}

/* --out holding a checkpoint.h5: the run resumed from out_rel/.. resume_rel is refused (0), for the reason why,
 * or continues it (1). */
static int resume_continues(const char *out_rel, const char *resume_rel, const char *why)
{
    fc_config cfg;
    fc_out_dir_hold hold;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.out, sizeof cfg.out, "%s", at(out_rel));
    snprintf(cfg.resume, sizeof cfg.resume, "%s", at(resume_rel));
    const fc_status st = fc_out_dir_claim(&cfg, no_resume, &hold);
    fc_out_dir_release(cfg.out, &hold, st != FC_OK);
    if (st != FC_OK) ck_assert_msg(why && strstr(fc_error_message(), why), "%s", fc_error_message());
    return st == FC_OK;
}

/* A resume continues the run in --out only from a file of that run inside --out: its checkpoint.h5, another of
 * its files there; a file there of another run is refused, and so is one of the same run_id elsewhere (a run of
 * the same settings in another folder has it too: its continuation would replace this folder's checkpoint).
 * A checkpoint that predates run_id is taken as the folder's run. */
START_TEST(test_resume_from_inside_out_only)
{
    ck_assert_int_eq(mkdir(at("run"), 0777), 0);
    ck_assert_int_eq(mkdir(at("elsewhere"), 0777), 0);
    write_run_id(at("run/checkpoint.h5"), 42);
    write_run_id(at("run/checkpoint-step10.h5"), 42);
    write_run_id(at("run/other.h5"), 43);
    write_run_id(at("elsewhere/same.h5"), 42);
    ck_assert(resume_continues("run", "run/checkpoint.h5", NULL));
    ck_assert(resume_continues("run", "run/checkpoint-step10.h5", NULL));
    ck_assert_msg(!resume_continues("run", "run/other.h5", "of a run other than the resumed one"),
                  "another run's file in --out continued it");
    /* Refused too, but not as another run's (it said so): the same run, from a copy outside --out. */
    ck_assert_msg(!resume_continues("run", "elsewhere/same.h5",
                                    "holds checkpoint.h5 of the resumed run (a copy outside --out does not continue "
                                    "it there)"),
                  "a file outside --out continued its run");
    write_run_id(at("run/checkpoint.h5"), -1); /* written before run_id existed */
    ck_assert_msg(resume_continues("run", "run/checkpoint.h5", NULL), "a checkpoint without run_id refused in place");
}
END_TEST

/* A symbolic link under a checkpoint's name is no reason to refuse a run (the save's rename and --overwrite's
 * unlink replace the link, never its target), as a directory there is. */
START_TEST(test_checkpoint_names_may_be_links)
{
    ck_assert_int_eq(mkdir(at("links"), 0777), 0);
    ck_assert_int_eq(symlink("elsewhere/checkpoint.h5", at("links/checkpoint.h5")), 0);
    ck_assert_int_eq(symlink("checkpoint.h5", at("links/checkpoint-step3.h5")), 0);
    fc_config cfg;
    fc_out_dir_hold hold;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.out, sizeof cfg.out, "%s", at("links"));
    cfg.overwrite = 1;
    const fc_status st = fc_out_dir_claim(&cfg, no_resume, &hold);
    ck_assert_msg(st == FC_OK, "%s", fc_error_message());
    fc_out_dir_release(cfg.out, &hold, 0);
    ck_assert_int_eq(mkdir(at("links/checkpoint-step4.h5"), 0777), 0);
    ck_assert_int_eq(fc_out_dir_claim(&cfg, no_resume, &hold), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "checkpoint-step4.h5 is a directory, not a checkpoint"), "%s",
                  fc_error_message());
    fc_out_dir_release(cfg.out, &hold, 1);
}
END_TEST

/* The room a run asks for before training: where the file system cannot reserve it, the free blocks are
 * counted instead (more than the disk holds is refused, a little taken); a spent quota is no room either. */
START_TEST(test_room_without_fallocate)
{
    ck_assert_int_eq(mkdir(at("room"), 0777), 0);
    fallocate_errno = EOPNOTSUPP;
    const fc_status small = fc_out_dir_check_room(at("room"), 4096);
    const fc_status huge = fc_out_dir_check_room(at("room"), 1e18);
    const char *why = fc_error_message();
    ck_assert_msg(small == FC_OK, "%s", fc_error_message());
    ck_assert_int_eq(huge, FC_ERR_INPUT);
    ck_assert_msg(strstr(why, "no room in") && strstr(why, strerror(ENOSPC)), "%s", why);
    fallocate_errno = EDQUOT;
    ck_assert_int_eq(fc_out_dir_check_room(at("room"), 4096), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), strerror(EDQUOT)), "%s", fc_error_message());
    fallocate_errno = EINTR; /* not a verdict about space: the first save finds out */
    ck_assert_int_eq(fc_out_dir_check_room(at("room"), 4096), FC_OK);
    fallocate_errno = 0;
    ck_assert_int_eq(rmdir(at("room")), 0); /* the probe file is gone */
}
END_TEST

/* Each directory the claim creates for --out is made durable in its parent (fsync of the parent after the mkdir),
 * as a save makes its checkpoint durable in --out: a machine's crash must not lose a fresh --out with its
 * checkpoints. The directories that were there already are not synced. */
START_TEST(test_created_dirs_synced_in_their_parents)
{
    ck_assert_int_eq(mkdir(at("there"), 0777), 0);
    char there[FC_PATH_MAX], want[3][FC_PATH_MAX + 16];
    ck_assert_ptr_nonnull(realpath(at("there"), there));
    snprintf(want[0], sizeof want[0], "%s", there);
    snprintf(want[1], sizeof want[1], "%s/new", there);
    snprintf(want[2], sizeof want[2], "%s/new/deeper", there);
    fc_config cfg;
    fc_out_dir_hold hold;
    n_synced = 0;
    synced_dirs_on = 1;
    claim(&cfg, "there/new/deeper/run", &hold);
    synced_dirs_on = 0;
    ck_assert_int_eq(n_synced, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strcmp(synced_dirs[i], want[i]) == 0, "fsync %d: %s, want %s", i, synced_dirs[i], want[i]);
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert(!exists(at("there/new")));
    ck_assert_int_eq(rmdir(at("there")), 0);
}
END_TEST

/* What a run creates in --out is as open as the umask lets it be (a group sharing --out under umask 002 can
 * write in the directories and take the lock file's write lock), not private to the user. */
START_TEST(test_created_as_umask_allows)
{
    const mode_t saved = umask(002);
    fc_config cfg;
    fc_out_dir_hold hold;
    claim(&cfg, "modes/run", &hold);
    umask(saved);
    struct stat sb;
    ck_assert_int_eq(stat(at("modes"), &sb), 0);
    ck_assert_msg((sb.st_mode & 07777) == 0775, "modes/: %o", (unsigned)(sb.st_mode & 07777));
    ck_assert_int_eq(stat(at("modes/run"), &sb), 0);
    ck_assert_msg((sb.st_mode & 07777) == 0775, "modes/run/: %o", (unsigned)(sb.st_mode & 07777));
    ck_assert_int_eq(stat(at("modes/run/.fcnet-lock"), &sb), 0);
    ck_assert_msg((sb.st_mode & 07777) == 0664, ".fcnet-lock: %o", (unsigned)(sb.st_mode & 07777));
    fc_out_dir_release(cfg.out, &hold, 1);
    ck_assert(!exists(at("modes")));
}
END_TEST

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path); /* best effort: a failed check may leave anything behind */
    return 0;
}

static void teardown(void)
{
    if (base[0]) nftw(base, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static Suite *suite(void)
{
    Suite *s = suite_create("out_dir");
    TCase *t = tcase_create("out_dir");
    tcase_add_unchecked_fixture(t, NULL, teardown);
    tcase_add_test(t, test_refused_removes_what_it_created);
    tcase_add_test(t, test_refused_keeps_another_runs_lock_file);
    tcase_add_test(t, test_parent_removed_during_the_walk);
    tcase_add_test(t, test_out_removed_before_the_lock);
    tcase_add_test(t, test_lock_file_with_other_names);
    tcase_add_test(t, test_resume_from_inside_out_only);
    tcase_add_test(t, test_checkpoint_names_may_be_links);
    tcase_add_test(t, test_room_without_fallocate);
    tcase_add_test(t, test_created_as_umask_allows);
    tcase_add_test(t, test_created_dirs_synced_in_their_parents);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
