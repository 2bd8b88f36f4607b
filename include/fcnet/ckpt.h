/* HDF5 checkpoints (layout: the README's "What is saved, and when"): atomic save of the whole trainer state, resume, reading the
 * hyperparameters back, and importing parameters written by other tools (numpy/h5py, PyTorch).
 *
 * Arrays are float32 in the file whatever fc_real is (history and preprocessing: float64); every
 * dataset is chunked with the Fletcher32 filter so a corrupted byte is an error on read, not a silently
 * different model. Nothing here is collective: rank 0 saves, and every rank may load (read-only). All
 * functions turn HDF5's automatic error printing off and report failures as one line naming the file,
 * the object and the reason (fc_error_message()). */
#ifndef FCNET_CKPT_H
#define FCNET_CKPT_H

#include "fcnet/common.h"
#include "fcnet/config.h"
#include "fcnet/data.h"
#include "fcnet/net.h"
#include "fcnet/train.h"

#define FC_CKPT_FORMAT "fcnet-checkpoint"
#define FC_CKPT_FORMAT_VERSION 1

/* Writes the full state of t (parameters, BN running stats, optimizer slots and step, histories, best
 * parameters, preprocessing, schedule position and every hyperparameter of t->cfg) to path.
 * Atomic: writes `<dir>/.<name>.tmp.<pid>`, flushes and fsyncs it, renames it over path and fsyncs the
 * directory, so path holds either the previous checkpoint or the new one, never a mix. On failure the
 * temporary file is removed, path is untouched, and FC_ERR_FAIL is returned -- except when only the
 * directory's fsync fails after the rename: path then holds the new checkpoint, and the FC_ERR_FAIL
 * message says so.
 * Not collective: rank 0 calls it; the caller agrees on the status.
 * Test hook: FCNET_FAULT_CKPT=fail-write in the environment fails after the temporary file has been
 * partly written (as a full disk would), through the same cleanup. */
fc_status fc_ckpt_save(const fc_trainer *t, const char *path);
/* Bytes of t's checkpoint at least: its arrays of parameters, optimizer slots, batchnorm statistics and best
 * copy, without the history, attributes and HDF5's own structure (which only add to it). */
double fc_ckpt_min_bytes(const fc_trainer *t);

/* Restores everything fc_ckpt_save wrote except preprocessing (fc_ckpt_load_preprocess) into t, whose
 * net and optimizer are already built with the checkpoint's configuration and whose history arrays are
 * already allocated: a history longer than its capacity is an error (the caller sizes them). Sets
 * t->world_size_at_save. Errors (FC_ERR_INPUT): not HDF5 or truncated, missing or extra tensors, shape
 * or optimizer mismatch, non-finite parameters, checksum mismatch. On failure t's state is partly
 * overwritten and must not be used. Not collective. */
fc_status fc_ckpt_load(fc_trainer *t, const char *path);

/* Fills the hyperparameter fields of cfg from the root attributes of the checkpoint at path: hidden,
 * norm, keep, reg, weight_scale, init, bn_momentum, optim (kind, initial lr, lr_decay, momentum,
 * decay_rate, beta1, beta2, eps), batch_size, seed, val_size, preprocess and shuffle; epochs and data
 * only when cfg->opt_set[] says the user did not give them (both may change on --resume). Other run
 * control (out, resume, max_steps, ...), the command and opt_set are left alone; on failure cfg is
 * untouched. n_input and n_classes (either may be NULL) receive the model's input and class counts.
 * Not collective. */
fc_status fc_ckpt_read_config(const char *path, fc_config *cfg, int *n_input, int *n_classes);

/* The dataset path a checkpoint stores may not open here (a relative path, another machine, a moved file):
 * FC_ERR_INPUT saying where the path came from and that --data overrides it. Other problems with the file
 * are the data loader's to report. */
fc_status fc_ckpt_check_data_path(const char *data, const char *checkpoint);

/* For every hyperparameter the user set explicitly (given->opt_set[]) compares the given value with the
 * checkpoint's; the first disagreement is FC_ERR_INPUT "--lr: 0.01 given but the checkpoint FILE has
 * 0.001". Run control (epochs, out, resume, checkpoint_every, print_every, max_steps, check_replicas,
 * keep_last, profile, eval options) and data (a dataset may move) are not compared. Not collective. */
fc_status fc_ckpt_check_resume(const char *path, const fc_config *given);

/* Reads /preprocess of path into pp (freed by fc_preprocess_free): kind, and mean / std of d features
 * when the kind uses them (a different length is an error). Not collective. */
fc_status fc_ckpt_load_preprocess(fc_preprocess *pp, const char *path, int d);

/* --init-from FILE and eval --best: copies /params/ (best: /best/params/) into net->params and, when the
 * net has batchnorm and the file holds /bn/ (best: /best/bn/), the running statistics (else they keep
 * their values; a file whose root attribute norm is "batchnorm", a checkpoint, must hold them). Accepts
 * float32 or float64 datasets in cs231n shapes, so a file holding only /params written by h5py works.
 * Missing or unexpected tensors, shape mismatches (the message names the dataset and both shapes) and
 * NaN/Inf values are FC_ERR_INPUT; net is then partly overwritten. Not collective. */
fc_status fc_ckpt_load_params(fc_net *net, const char *path, int best);

/* 1 with *run_id set when path is a readable checkpoint with a root attribute run_id; 0 otherwise (not a
 * checkpoint, or one written before run_id existed). Not collective. */
int fc_ckpt_read_run_id(const char *path, uint64_t *run_id);

#endif
