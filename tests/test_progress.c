/* The progress reporter, fed a trainer whose step counts and clock readings are set by hand. --progress
 * lines: the rate is taken over the interval since the last sample, the ETA from the steps left, and the
 * epoch line's elapsed time from the start of the run. The bar: when it is chosen, what it draws, how
 * often. */
#define _XOPEN_SOURCE 700 /* posix_openpt */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/progress.h"
#include "fcnet/train.h"
#include "testutil.h"

/* What the reporter prints to stdout, caught in a temporary file. */
typedef struct capture {
    char path[512];
    int fd, saved;
} capture;

static void capture_begin(capture *c)
{
    fct_tmp_template(c->path, sizeof c->path, "fcnet_test_progress_");
    c->fd = mkstemp(c->path);
    ck_assert_int_ge(c->fd, 0);
    fflush(stdout);
    c->saved = dup(1);
    dup2(c->fd, 1);
}

static void capture_end(capture *c, char *text, size_t size)
{
    fflush(stdout);
    dup2(c->saved, 1);
    close(c->saved);
    const ssize_t n = pread(c->fd, text, size - 1, 0);
    ck_assert_int_ge(n, 0);
    text[n] = '\0';
    close(c->fd);
    unlink(c->path);
}

/* What one fc_progress_step prints, into text. */
static void step_output(fc_progress *p, const fc_trainer *t, double loss, char *text, size_t size)
{
    capture cap;
    capture_begin(&cap);
    fc_progress_step(p, t, loss);
    capture_end(&cap, text, size);
}

/* The reporter's last rate sample: taken at step with this rate, seconds_ago before now (negative: in the future,
 * so that no step takes a new one). */
static void last_sample(fc_progress *p, int64_t step, double rate, double seconds_ago)
{
    p->timing = 1;
    p->step_last = step;
    p->rate = rate;
    p->t_last = MPI_Wtime() - seconds_ago;
}

/* A trainer stand-in with only what the reporter reads: --progress lines, a line every print_every steps. */
static fc_trainer *fake_trainer(fc_config *cfg, int64_t print_every)
{
    fc_config_defaults(cfg);
    cfg->progress = FC_PROGRESS_LINES;
    cfg->batch_size = 10;
    cfg->print_every = print_every;
    cfg->epochs = 1;
    fc_trainer *t = calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    t->cfg = cfg;
    t->steps_per_epoch = t->total_steps = 10000;
    t->data.train.n = 100000; /* 10000 full batches of 10 rows */
    return t;
}

/* A stand-in for the bar's tests (--progress bar): two epochs of 8 steps, 16 in all, so that a test can walk a
 * whole run, epoch lines and last step included, and a step fills 1/8 of the bar. */
static fc_trainer *fake_bar_trainer(fc_config *cfg)
{
    fc_trainer *t = fake_trainer(cfg, 1);
    cfg->progress = FC_PROGRESS_BAR;
    cfg->epochs = 2;
    t->steps_per_epoch = 8;
    t->total_steps = 16;
    t->data.train.n = 80;
    return t;
}

/* The progress line (--progress lines): samples/s over the interval since the last rate sample (not since
 * the start of the run), smoothed, and the ETA from the steps left at that rate. */
START_TEST(test_progress_rate)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 10);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    ck_assert_int_eq(p.tty, 0);
    /* The last rate sample, 100 s ago, measured 100 samples/s at step 1000; 1000 steps of 10 rows since.
     * Long intervals, so that the time the calls themselves take cannot change the printed numbers. */
    last_sample(&p, 1000, 100, 100.0);
    t->step = t->epoch_step = 2000;

    capture cap;
    capture_begin(&cap);
    fc_progress_step(&p, t, 1.25);
    /* The epoch line counts the time since the run started (500 s ago), not since the last rate sample. */
    p.t_start = MPI_Wtime() - 500.0;
    t->epoch = 1;
    fc_progress_epoch(&p, t);
    char line[512];
    capture_end(&cap, line, sizeof line);
    /* 1000 steps x 10 rows in 100 s: 100 samples/s, so the smoothed rate stays 100; 8000 steps left: 800 s. */
    ck_assert_msg(strstr(line, "(step 2000 / 10000) epoch 1 loss 1.250000") != NULL, "progress line: '%s'", line);
    ck_assert_msg(strstr(line, " 100 samples/s") != NULL, "rate not over the last interval: '%s'", line);
    ck_assert_msg(strstr(line, "ETA 13:20") != NULL, "ETA not from the steps left: '%s'", line);
    const char *epoch_line = strstr(line, "\nepoch 1 done: step 2000, ");
    double elapsed = -1;
    ck_assert_msg(epoch_line && sscanf(epoch_line, "\nepoch 1 done: step 2000, %lf s elapsed", &elapsed) == 1,
                  "epoch line: '%s'", line);
    ck_assert_msg(elapsed >= 499.95 && elapsed < 560, "epoch line: %.1f s elapsed, want 500", elapsed);
    ck_assert_int_eq(p.step_last, 2000);
    free(t);
}
END_TEST

/* Lines printed less than half a second apart each take a rate sample (else they repeat the last line's
 * rate); steps between lines take none before half a second has passed. */
START_TEST(test_progress_rate_every_line)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 10);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 1000, 100, 0.05);
    capture cap;
    capture_begin(&cap);
    t->step = t->epoch_step = 1001; /* no line due, 0.05 s since the sample (0.45 s from a sample): none taken */
    fc_progress_step(&p, t, 1.0);
    ck_assert_int_eq(p.step_last, 1000);
    ck_assert(p.rate == 100);
    t->step = t->epoch_step = 1010; /* a line due: a sample of 10 steps x 10 rows in ~0.05 s, about 2000/s */
    fc_progress_step(&p, t, 1.0);
    char text[512];
    capture_end(&cap, text, sizeof text);
    ck_assert_int_eq(p.step_last, 1010);
    /* Above the old 100 whenever the calls took under a second; at most the sample of 0.05 s exactly. */
    ck_assert_msg(p.rate > 100 && p.rate <= 0.7 * 100 + 0.3 * 2000 * 1.0001, "rate %g", p.rate);
    ck_assert_msg(strstr(text, "(step 1010 / 10000)") == text && strstr(text, " 100 samples/s") == NULL,
                  "the line repeats the previous rate: '%s'", text);
    free(t);
}
END_TEST

/* The first step is not timed: it carries one-off costs (and the accuracy check before it). Until a
 * rate has been measured from its end the line says "--"; the first rate is that interval's alone. */
START_TEST(test_progress_first_interval)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 1);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    /* the run, and its first step, started 50 s ago: a rate from the start would be 2 samples/s, one from before
     * the first step ended 7 */
    p.t_start -= 50.0;
    p.t_last -= 50.0;
    capture cap;
    capture_begin(&cap);
    t->step = t->epoch_step = 1;
    fc_progress_step(&p, t, 2.0);
    ck_assert_int_eq(p.step_last, 1);
    p.t_last -= 100.0; /* 100 steps of 10 rows in 100 s since the first step ended */
    t->step = t->epoch_step = 101;
    fc_progress_step(&p, t, 1.0);
    char text[512];
    capture_end(&cap, text, sizeof text);
    ck_assert_msg(strstr(text, "(step 1 / 10000) epoch 1 loss 2.000000  -- samples/s  ETA --:--\n") == text,
                  "first line: '%s'", text);
    ck_assert_msg(strstr(text, "(step 101 / 10000) epoch 1 loss 1.000000  10 samples/s  ETA 2:44:59\n") != NULL,
                  "second line: '%s'", text);
    free(t);
}
END_TEST

/* The ETA in hours from one hour on (h:mm:ss), below it in minutes (mm:ss): 9000 steps of 10 rows left at
 * 25 samples/s are 3600 s exactly, 8990 steps 3596 s. No rate sample (the last one is in the future). */
START_TEST(test_progress_eta_hour)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 10);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 1000, 25, -1e6);
    char text[512];
    t->step = t->epoch_step = 1000;
    step_output(&p, t, 1.0, text, sizeof text);
    ck_assert_msg(strstr(text, " 25 samples/s  ETA 1:00:00\n") != NULL, "one hour left: '%s'", text);
    t->step = t->epoch_step = 1010;
    step_output(&p, t, 1.0, text, sizeof text);
    ck_assert_msg(strstr(text, " 25 samples/s  ETA 59:56\n") != NULL, "under an hour left: '%s'", text);
    free(t);
}
END_TEST

/* The live bar: one line redrawn after a carriage return, filled in proportion to the epoch's steps, drawn at
 * most every 0.1 s except on the run's last step, and ended by a newline before the epoch line and at the end. */
START_TEST(test_progress_bar)
{
    fc_config cfg;
    fc_trainer *t = fake_bar_trainer(&cfg);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    ck_assert_int_eq(p.tty, 1);
    capture cap;
    capture_begin(&cap);
    t->step = t->epoch_step = 2;
    fc_progress_step(&p, t, 2.5);
    /* No rate sample in this test ("--" throughout), however slow the machine: the last one is in the future. */
    p.t_last = MPI_Wtime() + 1e6;
    t->step = t->epoch_step = 3; /* within 0.1 s of step 2's draw, which the reporter timed itself: not drawn */
    fc_progress_step(&p, t, 2.0);
    p.last_draw -= 1.0;
    t->step = t->epoch_step = 4;
    fc_progress_step(&p, t, 1.5);
    t->epoch = 1;
    t->step = 8;
    fc_progress_epoch(&p, t);
    t->step = 12; /* the second epoch's bar fills from empty again: its own steps, not the run's */
    t->epoch_step = 4;
    p.last_draw -= 1.0;
    fc_progress_step(&p, t, 1.0);
    t->step = 16; /* the last step is drawn however recent the last draw */
    t->epoch_step = 8;
    p.last_draw = MPI_Wtime();
    fc_progress_step(&p, t, 0.5);
    fc_progress_end(&p);
    char text[1024];
    capture_end(&cap, text, sizeof text);

    const char *draws = "\repoch 1/2 [######..................] step 2/16 loss 2.5000 -- samples/s ETA --:--   "
                        "\repoch 1/2 [############............] step 4/16 loss 1.5000 -- samples/s ETA --:--   "
                        "\nepoch 1 done: step 8, ";
    ck_assert_msg(strncmp(text, draws, strlen(draws)) == 0, "bar: '%s'", text);
    const char *rest = strstr(text, " s elapsed\n");
    ck_assert_msg(rest != NULL, "epoch line: '%s'", text);
    ck_assert_str_eq(rest, " s elapsed\n\repoch 2/2 [############............] step 12/16 loss 1.0000 -- samples/s "
                           "ETA --:--   \repoch 2/2 [########################] step 16/16 loss 0.5000 -- samples/s "
                           "ETA --:--   \n");
    free(t);
}
END_TEST

/* Whether the bar is drawn: --progress bar always; auto only when stdout is a terminal and no launcher
 * started the process (fc_dist's launched; under mpirun every rank's stdout is a pty, even when the job's
 * output goes to a file); never on ranks other than 0 or with --progress lines. test_progress_terminal.sh
 * checks fc_dist's side: a singleton on a terminal draws the bar. */
static int bar_chosen(fc_progress_mode mode, int on_terminal, int under_mpirun, int enabled)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 1);
    cfg.progress = mode;
    int terminal = -1;
    if (on_terminal) {
        terminal = posix_openpt(O_RDWR | O_NOCTTY);
        ck_assert_int_ge(terminal, 0);
        ck_assert(grantpt(terminal) == 0 && unlockpt(terminal) == 0);
    }
    int out = on_terminal ? open(ptsname(terminal), O_RDWR | O_NOCTTY) : open("/dev/null", O_WRONLY);
    ck_assert_int_ge(out, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(out, 1);
    fc_dist dist;
    memset(&dist, 0, sizeof dist);
    dist.launched = under_mpirun;
    t->dist = &dist;
    fc_progress p;
    fc_progress_init(&p, t, enabled);
    dup2(saved, 1);
    close(saved);
    close(out);
    if (terminal >= 0) close(terminal);
    free(t);
    return p.tty;
}

START_TEST(test_progress_bar_choice)
{
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_AUTO, 1, 0, 1), 1);
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_AUTO, 1, 1, 1), 0);
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_AUTO, 0, 0, 1), 0);
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_LINES, 1, 0, 1), 0);
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_BAR, 0, 1, 1), 1);
    ck_assert_int_eq(bar_chosen(FC_PROGRESS_BAR, 1, 0, 0), 0);
}
END_TEST

/* --max-steps N stops the run N steps after its start (a resumed run's too): the ETA counts the steps to
 * there, not to the end of the last epoch, and the bar is drawn at that step however recent its last draw. */
START_TEST(test_progress_max_steps)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 100);
    cfg.max_steps = 500;
    t->step = t->epoch_step = 1000; /* resumed at step 1000: this run stops at step 1500 */
    fc_progress p;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 1100, 100, 10.0); /* 100 steps of 10 rows in 10 s: 100 samples/s */
    t->step = t->epoch_step = 1200;
    char text[512];
    step_output(&p, t, 1.0, text, sizeof text);
    capture cap;
    /* 300 steps of 10 rows to step 1500 at 100 samples/s: 30 s (to step 10000 it would be 14:40) */
    ck_assert_msg(strstr(text, "(step 1200 / 10000) epoch 1 loss 1.000000  100 samples/s  ETA 00:30\n") == text,
                  "ETA not to the --max-steps stop: '%s'", text);

    /* The bar: the stop step is drawn even right after another draw. */
    cfg.progress = FC_PROGRESS_BAR;
    fc_progress_init(&p, t, 1); /* a run from step 1200: it stops at 1700 */
    p.t_last = MPI_Wtime() + 1e6; /* no rate sample: "--" */
    capture_begin(&cap);
    t->step = t->epoch_step = 1699;
    p.last_draw = MPI_Wtime();
    fc_progress_step(&p, t, 2.0);
    t->step = t->epoch_step = 1700;
    p.last_draw = MPI_Wtime();
    fc_progress_step(&p, t, 1.0);
    fc_progress_end(&p);
    capture_end(&cap, text, sizeof text);
    ck_assert_str_eq(text, "\repoch 1/1 [####....................] step 1700/10000 loss 1.0000 -- samples/s "
                           "ETA --:--   \n");

    /* A --max-steps beyond the run's end stops nothing: the ETA counts to the end. */
    cfg.progress = FC_PROGRESS_LINES;
    cfg.max_steps = 1000000;
    t->step = t->epoch_step = 1000;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 1100, 100, 10.0);
    t->step = t->epoch_step = 1200;
    step_output(&p, t, 1.0, text, sizeof text);
    /* 8800 steps of 10 rows to step 10000 at 100 samples/s: 14:40 */
    ck_assert_msg(strstr(text, "(step 1200 / 10000) epoch 1 loss 1.000000  100 samples/s  ETA 14:40\n") == text,
                  "ETA not to the end of a run that --max-steps does not cut: '%s'", text);
    free(t);
}
END_TEST

/* An epoch's last step is drawn however recent the last draw (the line left above "epoch N done" shows the
 * full epoch), and a run that ends on an epoch line gets no empty line from the final newline. */
START_TEST(test_progress_bar_epoch_end)
{
    fc_config cfg;
    fc_trainer *t = fake_bar_trainer(&cfg);
    fc_progress p;
    fc_progress_init(&p, t, 1);
    p.t_last = MPI_Wtime() + 1e6; /* no rate sample: "--" */
    capture cap;
    capture_begin(&cap);
    t->step = t->epoch_step = 8; /* the epoch's last step, 0 s after a draw */
    p.last_draw = MPI_Wtime();
    fc_progress_step(&p, t, 1.0);
    t->epoch = 1;
    fc_progress_epoch(&p, t);
    t->step = 16; /* the run's last step, then its epoch line, then the end */
    t->epoch = 1;
    t->epoch_step = 8;
    fc_progress_step(&p, t, 0.5);
    t->epoch = 2;
    fc_progress_epoch(&p, t);
    fc_progress_end(&p);
    char text[1024];
    capture_end(&cap, text, sizeof text);
    const char *first = "\repoch 1/2 [########################] step 8/16 loss 1.0000 -- samples/s ETA --:--   "
                        "\nepoch 1 done: step 8, ";
    ck_assert_msg(strncmp(text, first, strlen(first)) == 0, "epoch end not drawn: '%s'", text);
    const char *last = strstr(text, "\nepoch 2 done: step 16, ");
    ck_assert_msg(last != NULL, "no second epoch line: '%s'", text);
    const char *tail = strstr(last, " s elapsed\n");
    ck_assert_msg(tail != NULL && strcmp(tail, " s elapsed\n") == 0, "an empty line after the last epoch line: '%s'",
                  text);
    free(t);
}
END_TEST

/* samples/s counts the rows the steps took: a --batch-size beyond the data is one batch of all of its rows
 * (it claimed B per step: 10^4 times the rate at --batch-size 1000000 on 105 rows), and an epoch's last batch is
 * short. The ETA counts the rows left at that rate. */
START_TEST(test_progress_rate_counts_rows)
{
    fc_config cfg;
    fc_trainer *t = fake_trainer(&cfg, 10);
    cfg.batch_size = 1000000;
    t->data.train.n = 105;
    t->steps_per_epoch = 1;
    t->total_steps = 4000;
    fc_progress p;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 1000, p.rate, 105.0); /* 1000 steps of 105 rows in 105 s: 1000 samples/s */
    t->step = 2000;
    char text[512];
    step_output(&p, t, 1.0, text, sizeof text);
    ck_assert_msg(strstr(text, "(step 2000 / 4000) epoch 1 loss 1.000000  1000 samples/s  ETA 03:30\n") == text,
                  "rate not over the rows trained: '%s'", text);

    /* 105 rows in batches of 50: 50, 50 and 5 rows per epoch. */
    cfg.batch_size = 50;
    t->steps_per_epoch = 3;
    t->total_steps = 3000;
    fc_progress_init(&p, t, 1);
    last_sample(&p, 3, p.rate, 10.0); /* steps 3..1002: 333 epochs of 105 rows, then 50: 35015 rows in 10 s */
    t->step = 1003;
    step_output(&p, t, 1.0, text, sizeof text);
    ck_assert_msg(p.rate > 3500 && p.rate < 3502, "rate %g, want 3501.5 (35015 rows in 10 s)", p.rate);
    /* An interval that starts at an epoch's short last batch: steps 5..1004 are step 5's 5 rows, then 333 epochs
     * of 105 rows (counted one step later, steps 6..1005, it would be 35015 rows). */
    fc_progress_init(&p, t, 1);
    last_sample(&p, 5, p.rate, 10.0); /* 34970 rows in 10 s */
    t->step = 1005;
    step_output(&p, t, 1.0, text, sizeof text);
    ck_assert_msg(p.rate > 3496 && p.rate < 3498, "rate %g, want 3497 (34970 rows in 10 s)", p.rate);
    free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("progress");
    TCase *t = tcase_create("progress");
    tcase_add_test(t, test_progress_rate);
    tcase_add_test(t, test_progress_rate_every_line);
    tcase_add_test(t, test_progress_first_interval);
    tcase_add_test(t, test_progress_eta_hour);
    tcase_add_test(t, test_progress_bar);
    tcase_add_test(t, test_progress_bar_choice);
    tcase_add_test(t, test_progress_max_steps);
    tcase_add_test(t, test_progress_bar_epoch_end);
    tcase_add_test(t, test_progress_rate_counts_rows);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
