#include "fcnet/progress.h"

#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#include "fcnet/train.h"

void fc_progress_init(fc_progress *p, const struct fc_trainer *t, int enabled)
{
    p->enabled = enabled;
    /* Under mpirun every rank's stdout is a pty even when the job's output goes to a file, so auto only
     * trusts isatty() for a process that no launcher started. */
    const int launched = t->dist && t->dist->launched;
    fc_progress_mode mode = t->cfg->progress;
    p->tty = enabled &&
             (mode == FC_PROGRESS_BAR || (mode == FC_PROGRESS_AUTO && !launched && isatty(STDOUT_FILENO)));
    p->t_start = p->t_last = MPI_Wtime();
    p->timing = 0;
    p->step_last = t->step;
    p->rate = 0;
    p->line_open = 0;
    /* --max-steps counts the steps of this run: the ETA and the bar's last draw aim at where it stops. */
    const int64_t max_steps = t->cfg->max_steps;
    p->stop_step = max_steps > 0 && max_steps < t->total_steps - t->step ? t->step + max_steps : t->total_steps;
    /* MPI_Wtime may count from MPI_Init: a 0 here could hold back the first draw of a quick start. */
    p->last_draw = p->t_start - 1.0;
}

static void format_eta(char *buf, size_t n, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long s = (long)seconds;
    if (s >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, n, "%02ld:%02ld", s / 60, s % 60);
}

/* Training rows the run's steps before step s took. Not s x --batch-size: the last batch of an epoch is short,
 * and a --batch-size beyond the data is one batch of all its rows (--batch-size 1000000 on 105 rows claimed
 * 10^4 times the samples/s). An epoch is ceil(rows / B) steps, so each of its steps before the last took B. */
static double rows_before(const struct fc_trainer *t, int64_t s)
{
    const int64_t spe = t->steps_per_epoch;
    return (double)(s / spe) * (double)t->data.train.n + (double)(s % spe) * (double)t->cfg->batch_size;
}

void fc_progress_step(fc_progress *p, const struct fc_trainer *t, double loss)
{
    if (!p->enabled) return;
    double now = MPI_Wtime();
    const int line_due = !p->tty && t->cfg->print_every > 0 && t->step % t->cfg->print_every == 0;
    if (!p->timing) {
        /* The rate is measured from the end of the first step: that step carries one-off costs (first
         * touches, BLAS start-up, the accuracy check before it) and would show a run several times slower
         * than it is, for many samples of the smoothing below. */
        p->timing = 1;
        p->t_last = now;
        p->step_last = t->step;
    } else if (now - p->t_last >= 0.5 || (line_due && t->step > p->step_last && now > p->t_last)) {
        /* A sample every half second for the bar; in lines mode also at every line, so that lines printed
         * less than half a second apart do not repeat the previous line's rate. */
        double inst = (rows_before(t, t->step) - rows_before(t, p->step_last)) / (now - p->t_last);
        p->rate = p->rate == 0 ? inst : 0.7 * p->rate + 0.3 * inst;
        p->t_last = now;
        p->step_last = t->step;
    }
    char eta[32], rate[32];
    if (p->rate > 0) {
        format_eta(eta, sizeof eta, (rows_before(t, p->stop_step) - rows_before(t, t->step)) / p->rate);
        snprintf(rate, sizeof rate, "%.0f", p->rate);
    } else {
        snprintf(eta, sizeof eta, "--:--");
        snprintf(rate, sizeof rate, "--");
    }
    if (p->tty) {
        /* At most 10 draws a second, but always the run's last step and an epoch's, so that the line left
         * above the epoch line and at the end shows where the run got to. */
        if (now - p->last_draw < 0.1 && t->step < p->stop_step && t->epoch_step < t->steps_per_epoch) return;
        p->last_draw = now;
        int width = 24, filled = (int)((double)width * (double)t->epoch_step / (double)t->steps_per_epoch);
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        printf("\repoch %lld/%lld [%s] step %lld/%lld loss %.4f %s samples/s ETA %s   ",
               (long long)t->epoch + 1, (long long)t->cfg->epochs, bar, (long long)t->step,
               (long long)t->total_steps, loss, rate, eta);
        p->line_open = 1;
        fflush(stdout);
    } else if (line_due) {
        printf("(step %lld / %lld) epoch %lld loss %.6f  %s samples/s  ETA %s\n", (long long)t->step,
               (long long)t->total_steps, (long long)t->epoch + 1, loss, rate, eta);
        fflush(stdout);
    }
}

void fc_progress_epoch(fc_progress *p, const struct fc_trainer *t)
{
    if (!p->enabled) return;
    if (p->tty && p->line_open) printf("\n");
    p->line_open = 0;
    double elapsed = MPI_Wtime() - p->t_start;
    printf("epoch %lld done: step %lld, %.1f s elapsed\n", (long long)t->epoch, (long long)t->step, elapsed);
    fflush(stdout);
}

void fc_progress_end(fc_progress *p)
{
    if (p->enabled && p->tty && p->line_open) {
        p->line_open = 0;
        printf("\n");
        fflush(stdout);
    }
}
