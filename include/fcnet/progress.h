/* Training progress on rank 0: a live bar on a terminal; plain lines for batch-job logs. */
#ifndef FCNET_PROGRESS_H
#define FCNET_PROGRESS_H

#include "fcnet/common.h"

struct fc_trainer;

typedef struct fc_progress {
    int enabled;        /* rank 0 only */
    int tty;            /* stdout is a terminal: redraw one line */
    double t_start;     /* MPI_Wtime at init */
    int timing;         /* 0 until the first step has ended: the rate is measured from there */
    double t_last;      /* time of the last rate sample */
    int64_t step_last;  /* step of the last rate sample */
    double rate;        /* samples/s, smoothed; 0 until the first sample (printed as "--") */
    double last_draw;   /* time of the last redraw */
    int line_open;      /* the bar is drawn and its line not yet ended by a newline */
    int64_t stop_step;  /* the step this run ends at: the last, or the --max-steps limit of this run */
} fc_progress;

void fc_progress_init(fc_progress *p, const struct fc_trainer *t, int enabled);
/* After each step: redraws the bar (at most 10 times a second) or prints a line every --print-every steps. */
void fc_progress_step(fc_progress *p, const struct fc_trainer *t, double loss);
/* At an epoch end: a line for the log. */
void fc_progress_epoch(fc_progress *p, const struct fc_trainer *t);
/* Ends the live line. */
void fc_progress_end(fc_progress *p);

#endif
