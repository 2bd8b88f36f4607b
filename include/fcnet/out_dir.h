/* The run's output folder (--out) before its first save. Nothing is lost by accident: a run may write into a
 * folder that holds checkpoints only to continue one of them (--resume from a file of that run there) or when
 * told to replace them (--overwrite); two runs on one folder are kept apart by a lock held for the whole run.
 * Rank 0 calls these; the caller agrees on the status (fc_train_check_out_dir). */
#ifndef FCNET_OUT_DIR_H
#define FCNET_OUT_DIR_H

#include "fcnet/common.h"
#include "fcnet/config.h"

/* mkdir -p dir; a failure is "--out: cannot create directory ...", returned as kind. *created (unless NULL):
 * how many of dir's last components this call created (0 when dir existed), above the *missing (unless NULL)
 * last ones it could not make (0 on success). */
fc_status fc_out_dir_make(const char *dir, fc_status kind, int *created, int *missing);

/* Device, inode, size and change time (s, ns) of path into id: 1, or 0 when path cannot be looked at. */
int fc_file_identity(const char *path, int64_t id[5]);

/* What a run holds in --out, and what it created there: a refused run takes that away again. */
typedef struct {
    int lock;           /* 1 + the descriptor holding the lock on <out>/.fcnet-lock; 0 when none */
    int lock_created;   /* this run created .fcnet-lock */
    int dirs_created;   /* how many of --out's last components this run created, above the dirs_missing ones */
    int dirs_missing;   /* how many of --out's last components it could not make (mkdir failed: a refused run) */
} fc_out_dir_hold;

/* Creates cfg->out and makes sure this process can write there; refuses a directory, FIFO or device under a
 * checkpoint's name and checkpoints this run would replace (see above); takes the run's lock on
 * <out>/.fcnet-lock (0 in hold->lock where the file system has no locks), refuses a --resume file that another
 * run replaced since resume_file was taken (resume_file[0] = -1: not checked), and under the lock removes
 * stale temporary files of interrupted saves (before the room is measured: they may be what fills it).
 * FC_ERR_INPUT naming --out and the reason on any refusal; *hold says what was taken and created either way (for
 * fc_out_dir_release). */
fc_status fc_out_dir_claim(const fc_config *cfg, const int64_t resume_file[5], fc_out_dir_hold *hold);

/* Releases the lock (at the end of the run). A refused run (refused = 1) also removes the .fcnet-lock and the
 * directories it created, where they hold nothing else: it leaves the file system as it found it. */
void fc_out_dir_release(const char *out, fc_out_dir_hold *hold, int refused);

/* Makes sure out has room for a file of bytes (one more checkpoint: the save writes it beside the current
 * one), by reserving that much for a moment (fallocate, which also meets a disk quota; the free blocks where
 * the file system cannot reserve). FC_ERR_INPUT naming --out, the size and the reason when there is none;
 * FC_OK too when the file system cannot tell. */
fc_status fc_out_dir_check_room(const char *out, double bytes);

#endif
