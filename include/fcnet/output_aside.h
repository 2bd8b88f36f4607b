#ifndef FCNET_OUTPUT_ASIDE_H
#define FCNET_OUTPUT_ASIDE_H

/* Standard output set aside while a stopping run saves. Under mpirun, rank 0's output is a terminal of its own that
 * mpirun reads; aborting (its own output closed: `mpirun ... | head`), mpirun stops reading it and sends SIGKILL
 * 1 s after its SIGTERM. Rank 0, printing, then sat in write() on a full terminal through the SIGTERM (its handler
 * returns and the write restarts), never reached the step boundary where the ranks agree to stop, and the SIGKILL
 * lost everything since the last checkpoint. Set aside, the restarted write finds /dev/null in descriptor 1 and
 * returns. Only the descriptor moves, not a flag on the open file (O_NONBLOCK would reach every process sharing it,
 * and stay set if this one died first). */

/* From now on fc_output_aside_now sets standard output aside, where it is a pipe, a socket or, under a launcher,
 * a terminal (not a file, which never blocks, nor a user's terminal, whose lines are wanted). */
void fc_output_aside_arm(int launched);
/* Async-signal-safe (a stop signal's handler calls it): descriptor 1 becomes /dev/null, its own kept aside, once. */
void fc_output_aside_now(void);
/* Standard output back (the lines after the stop's checkpoint wait for a slow reader again) and no more setting
 * aside. Idempotent. */
void fc_output_aside_end(void);

#endif
