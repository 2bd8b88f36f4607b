/* The checkpoint files of a run's output folder (--out), beside the checkpoint format of ckpt.c: the
 * step-numbered copies --keep-last keeps, the temporary files of interrupted saves, and the copies of the run
 * an --overwrite replaces. A file counts as this run's only when its root attribute run_id says so
 * (fc_ckpt_read_run_id), so nothing here removes another run's work. Not collective: rank 0 calls these. */
#ifndef FCNET_CKPT_FILES_H
#define FCNET_CKPT_FILES_H

#include "fcnet/common.h"

/* Step number of a numbered copy's name "checkpoint-step<digits>.h5" (digits as %lld prints them), or -1
 * for any other name. */
int64_t fc_ckpt_numbered_step(const char *name);
/* Removes from out_dir the temporary files that saves cut short (kill -9, a second Ctrl-C, a lost node) left
 * behind: .checkpoint.h5.tmp.<pid> and checkpoint-step<N>.h5.tmp.<pid>. Only for the holder of out_dir's run
 * lock, so none of them can belong to a save in progress. Returns how many it removed, *bytes their size. Not
 * collective. */
int fc_ckpt_remove_stale_temps(const char *out_dir, double *bytes);

/* Rank 0, after a successful save: when keep_last > 0, hard-links (or, where links are impossible,
 * copies) ckpt_path to `<out_dir>/checkpoint-step<step>.h5` and removes this run's step-numbered copies
 * (root attribute run_id equal to run_id) up to step beyond the keep_last highest: files of other runs,
 * of older fcnet versions and step numbers ahead of step are never touched, and an existing copy of the
 * same step from another run is left alone (with a warning, and no copy of this step). A no-op when
 * keep_last <= 0. Because fc_ckpt_save replaces checkpoint.h5 by rename, a link keeps the old contents
 * when the next checkpoint is written. */
fc_status fc_ckpt_keep_last(const char *out_dir, const char *ckpt_path, int64_t step, int64_t keep_last,
                            uint64_t run_id);

/* 1 when out_dir holds a checkpoint a run writes there (checkpoint.h5, else the highest-numbered
 * checkpoint-step<N>.h5 copy), with its file name in name; 0 when it holds none (or cannot be listed).
 * Not collective. */
int fc_ckpt_find_in_dir(const char *out_dir, char *name, size_t size);

/* Rank 0, --overwrite, after the run's first save: removes every checkpoint-step<N>.h5 in out_dir that is a
 * checkpoint (has a run_id) and not this run's past: another run's copies, and also those carrying this run_id
 * (a rerun of the same configuration shares it) unless their step is at most keep_upto, the step a resumed run
 * started from (-1 for a fresh run, whose same-id copies belong to the run it replaces). */
fc_status fc_ckpt_remove_other_runs(const char *out_dir, uint64_t run_id, int64_t keep_upto);

/* A run resumed from step in out_dir goes back there when out_dir holds copies of its own later steps (from an
 * older numbered copy; their future is abandoned, as checkpoint.h5 is replaced at the first save). How many
 * checkpoint-step<N>.h5 carry run_id with N > step, the highest N in *last (-1 when none). Not collective. */
int fc_ckpt_later_copies(const char *out_dir, uint64_t run_id, int64_t step, int64_t *last);
/* Rank 0, after the first save of such a run: removes those copies, so that --keep-last counts only the run's
 * own history and the folder's latest copy is the run's latest state. */
fc_status fc_ckpt_remove_later_copies(const char *out_dir, uint64_t run_id, int64_t step);

#endif
