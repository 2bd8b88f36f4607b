/* read_guard: a crash while reading a file becomes one error line naming the file and exit 2 (1 once training
 * has started); outside a guarded read the previous handlers are back. Each crash happens in a forked child,
 * whose exit status and stderr the parent checks. The bad-input corpus crashes HDF5 for real
 * (resume-/eval-format-heap-len); this suite pins what the corpus cannot reach: SIGBUS, a stack overflow,
 * nested reads, the exit code after training started, the handlers restored at the end, and how long a rank
 * other than 0 waits before it speaks. */
#define _XOPEN_SOURCE 700 /* sigaltstack */

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcnet/common.h"
#include "fcnet/read_guard.h"
#include "testutil.h"

/* Exactly one line on stderr, fcnet's error line for path. */
static void assert_one_line_for(const fct_child *r, const char *path)
{
    char want[512];
    snprintf(want, sizeof want, "fcnet_dist: error: %s: crashed while reading it", path);
    ck_assert_msg(strncmp(r->err, want, strlen(want)) == 0, "stderr '%s' does not start with '%s'", r->err, want);
    const char *nl = strchr(r->err, '\n');
    ck_assert_msg(nl && nl[1] == '\0', "not exactly one line: '%s'", r->err);
}

static void crash_with(const void *arg)
{
    fc_read_guard_begin("dir/damaged.h5");
    raise(*(const int *)arg);
}

START_TEST(test_segv_and_bus_are_input_errors)
{
    const int signals[] = {SIGSEGV, SIGBUS};
    for (int i = 0; i < 2; i++) {
        const fct_child r = fct_run_child(crash_with, &signals[i]);
        ck_assert_msg(r.exited && r.code == 2, "signal %d: exited %d code %d signal %d", signals[i], r.exited, r.code,
                      r.signal);
        assert_one_line_for(&r, "dir/damaged.h5");
    }
}
END_TEST

static void crash_under_memory_limit(const void *arg)
{
    (void)arg;
    /* Far above what the child uses, so nothing else fails: only the message changes. */
    const struct rlimit rl = {.rlim_cur = (rlim_t)64 << 30, .rlim_max = (rlim_t)64 << 30};
    struct rlimit data;
    if (getrlimit(RLIMIT_DATA, &data) != 0 || data.rlim_cur != RLIM_INFINITY || setrlimit(RLIMIT_AS, &rl) != 0)
        exit(77);
    fc_read_guard_begin("sound.h5");
    raise(SIGSEGV);
}

/* Under a memory limit HDF5 can crash on an allocation it does not check: the line names the limit as a cause
 * beside damage (where a data limit is set or the hard limit is lower already, the case is skipped). */
START_TEST(test_memory_limit_named)
{
    const fct_child r = fct_run_child(crash_under_memory_limit, NULL);
    if (r.exited && r.code == 77) return;
    ck_assert_msg(r.exited && r.code == 2, "exited %d code %d signal %d", r.exited, r.code, r.signal);
    assert_one_line_for(&r, "sound.h5");
    ck_assert_msg(strstr(r.err, "memory ran out under this process's limit (ulimit -v, 64.0 GiB), or the file is "
                                "damaged") != NULL,
                  "stderr: %s", r.err);
}
END_TEST

static void crash_after_training_started(const void *arg)
{
    (void)arg;
    fc_read_guard_training_started();
    fc_read_guard_begin("out/checkpoint-step8.h5");
    raise(SIGSEGV);
}

START_TEST(test_after_training_started_exits_1)
{
    const fct_child r = fct_run_child(crash_after_training_started, NULL);
    ck_assert_msg(r.exited && r.code == 1, "exited %d code %d signal %d", r.exited, r.code, r.signal);
    assert_one_line_for(&r, "out/checkpoint-step8.h5");
}
END_TEST

/* Each frame keeps a live buffer and uses the call's result, so the compiler can turn neither into a loop; the
 * stack runs out long before the (volatile, so unknown to the compiler) depth limit. */
static volatile int depth_limit = 1 << 30;
__attribute__((noinline)) static int recurse(int depth)
{
    if (depth >= depth_limit) return 0;
    volatile char frame[1024];
    frame[0] = (char)depth;
    return recurse(depth + 1) + frame[0];
}

static void overflow_the_stack(const void *arg)
{
    (void)arg;
    fc_read_guard_begin("cyclic.h5");
    exit(recurse(0));
}

START_TEST(test_stack_overflow_still_reported)
{
    /* The handler runs on its own stack: on the overflowed one it would die of a second SIGSEGV. */
    const fct_child r = fct_run_child(overflow_the_stack, NULL);
    ck_assert_msg(r.exited && r.code == 2, "exited %d code %d signal %d", r.exited, r.code, r.signal);
    assert_one_line_for(&r, "cyclic.h5");
}
END_TEST

static void crash_nested(const void *arg)
{
    const int close_inner = *(const int *)arg;
    fc_read_guard_begin("outer.h5");
    fc_read_guard_begin("inner.h5");
    if (close_inner) fc_read_guard_end();
    raise(SIGSEGV);
}

START_TEST(test_nested_reads_name_the_innermost_open_one)
{
    const int inner_open = 0, inner_closed = 1;
    fct_child r = fct_run_child(crash_nested, &inner_open);
    ck_assert_int_eq(r.code, 2);
    assert_one_line_for(&r, "inner.h5");
    r = fct_run_child(crash_nested, &inner_closed);
    ck_assert_int_eq(r.code, 2);
    assert_one_line_for(&r, "outer.h5");
}
END_TEST

static void crash_after_end(const void *arg)
{
    const int sig = *(const int *)arg;
    signal(sig, SIG_DFL);
    fc_read_guard_begin("a.h5");
    fc_read_guard_begin("b.h5");
    fc_read_guard_end();
    fc_read_guard_end();
    raise(sig);
}

START_TEST(test_crash_after_end_is_not_caught)
{
    const int signals[] = {SIGSEGV, SIGBUS};
    for (int i = 0; i < 2; i++) {
        const fct_child r = fct_run_child(crash_after_end, &signals[i]);
        ck_assert_msg(r.signalled && r.signal == signals[i], "signal %d: exited %d code %d signal %d", signals[i],
                      r.exited, r.code, r.signal);
        ck_assert_str_eq(r.err, "");
    }
}
END_TEST

START_TEST(test_handlers_installed_and_restored)
{
    struct sigaction before[2], during, after;
    const int signals[] = {SIGSEGV, SIGBUS};
    stack_t stack_before, stack_during, stack_after;
    for (int i = 0; i < 2; i++) sigaction(signals[i], NULL, &before[i]);
    sigaltstack(NULL, &stack_before);
    fc_read_guard_begin("x.h5");
    sigaltstack(NULL, &stack_during);
    ck_assert_int_eq(stack_during.ss_flags & SS_DISABLE, 0);
    ck_assert_uint_ge(stack_during.ss_size, 16384);
    for (int i = 0; i < 2; i++) {
        sigaction(signals[i], NULL, &during);
        ck_assert_msg(during.sa_handler != before[i].sa_handler, "signal %d: handler not installed", signals[i]);
        /* SA_RESETHAND and SA_NODEFER: a crash inside the handler itself ends the process by the signal. */
        ck_assert_int_eq(during.sa_flags & (SA_RESETHAND | SA_NODEFER | SA_ONSTACK),
                         SA_RESETHAND | SA_NODEFER | SA_ONSTACK);
    }
    fc_read_guard_end();
    for (int i = 0; i < 2; i++) {
        sigaction(signals[i], NULL, &after);
        ck_assert_msg(after.sa_handler == before[i].sa_handler, "signal %d: handler not restored", signals[i]);
    }
    sigaltstack(NULL, &stack_after);
    ck_assert_int_eq(stack_after.ss_flags, stack_before.ss_flags);
    ck_assert_ptr_eq(stack_after.ss_sp, stack_before.ss_sp);
}
END_TEST

/* A crashed rank other than 0 waits before it speaks, so that mpirun ends it silently once the rank that speaks
 * for it has exited: rank 0 when it shares the node (every rank reads the same copy), else the node's first rank.
 * Three such ranks crash at once in forked children; all are silent at 3 s, and at 7 s those still waiting are ended
 * with SIGTERM, as mpirun ends them. */
typedef struct waiter {
    int rank, size, node_rank, node_has_rank0, speaks;
} waiter;

START_TEST(test_other_ranks_wait_for_their_speaker)
{
    const waiter cases[] = {
        {1, 2, 1, 1, 1}, /* alone on rank 0's node (rank 0 read without crashing): speaks after 5 s */
        {2, 4, 0, 0, 1}, /* the first rank of a node without rank 0: speaks after 5 s */
        {3, 4, 1, 0, 0}, /* its peer, which crashed alike: waits 10 s, so it is still silent at 7 s */
    };
    enum { N = sizeof cases / sizeof cases[0] };
    pid_t pid[N];
    char path[N][512];
    for (int i = 0; i < N; i++) {
        fct_tmp_template(path[i], sizeof path[i], "guard_wait_");
        const int fd = mkstemp(path[i]);
        ck_assert_int_ge(fd, 0);
        fflush(stderr);
        pid[i] = fork();
        ck_assert_int_ge(pid[i], 0);
        if (pid[i] == 0) {
            dup2(fd, STDERR_FILENO);
            fc_log_set_rank(cases[i].rank, cases[i].size);
            fc_read_guard_set_node_rank(cases[i].node_rank, cases[i].node_has_rank0);
            fc_read_guard_begin("node/copy.h5");
            raise(SIGSEGV);
            _exit(99);
        }
        close(fd);
    }
    /* At 3 s every one of them is still waiting, silent: none speaks before its 5 s. */
    sleep(3);
    for (int i = 0; i < N; i++) {
        struct stat st;
        ck_assert_int_eq(stat(path[i], &st), 0);
        ck_assert_msg(waitpid(pid[i], NULL, WNOHANG) == 0 && st.st_size == 0,
                      "rank %d of %d (node rank %d): ended or spoke within 3 s, want silent for 5 s", cases[i].rank,
                      cases[i].size, cases[i].node_rank);
    }
    sleep(4);
    for (int i = 0; i < N; i++) kill(pid[i], SIGTERM);
    for (int i = 0; i < N; i++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
        char err[1024] = "";
        FILE *f = fopen(path[i], "r");
        ck_assert_ptr_nonnull(f);
        const size_t got = fread(err, 1, sizeof err - 1, f);
        err[got] = '\0';
        fclose(f);
        unlink(path[i]);
        if (cases[i].speaks) {
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
                          "rank %d of %d (node rank %d): status 0x%x, want exit 2 within 7 s", cases[i].rank,
                          cases[i].size, cases[i].node_rank, (unsigned)status);
            char want[128];
            snprintf(want, sizeof want, "fcnet_dist: [rank %d/%d] error: node/copy.h5: crashed while reading it",
                     cases[i].rank, cases[i].size);
            ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "stderr '%s', want '%s...'", err, want);
            const char *nl = strchr(err, '\n');
            ck_assert_msg(nl && nl[1] == '\0', "not exactly one line: '%s'", err);
        } else {
            ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && got == 0,
                          "rank %d of %d (node rank %d): status 0x%x, stderr '%s': want still silent at 7 s",
                          cases[i].rank, cases[i].size, cases[i].node_rank, (unsigned)status, err);
        }
    }
}
END_TEST

static Suite *read_guard_suite(void)
{
    Suite *s = suite_create("read_guard");
    TCase *tc = tcase_create("crash");
    tcase_add_test(tc, test_segv_and_bus_are_input_errors);
    tcase_add_test(tc, test_after_training_started_exits_1);
    tcase_add_test(tc, test_memory_limit_named);
    tcase_add_test(tc, test_stack_overflow_still_reported);
    tcase_add_test(tc, test_nested_reads_name_the_innermost_open_one);
    tcase_add_test(tc, test_crash_after_end_is_not_caught);
    tcase_add_test(tc, test_handlers_installed_and_restored);
    tcase_add_test(tc, test_other_ranks_wait_for_their_speaker);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) { return fct_run(read_guard_suite(), argc, argv); }
