/* The subcommands besides train: eval (accuracy, per-class accuracy and confusion matrix of a checkpoint)
 * and gradcheck (analytic vs numerical gradients of the configured model). Both return a process exit
 * code and are collective. */
#ifndef FCNET_COMMANDS_H
#define FCNET_COMMANDS_H

#include "fcnet/config.h"
#include "fcnet/dist.h"

/* gradcheck's batch: rows without --batch-size, and the most --batch-size may ask for (larger is refused; an
 * INI file's training batch_size is capped to it). The check needs a batch, not an epoch; two forward passes
 * per checked element. */
#define FC_GRADCHECK_BATCH 8
#define FC_GRADCHECK_MAX_BATCH 64
/* gradcheck's --weight-scale when none is given: cs231n checks gradients at 5e-2. At training's 1e-2 the float
 * build's numerical derivatives cannot resolve the deeper layers' gradients (~1e-4..1e-3 against an error bar of
 * ~1e-3), so a wrong one passed there on the error bar. */
#define FC_GRADCHECK_WEIGHT_SCALE 5e-2

int fc_cmd_eval(const fc_config *cfg, fc_dist *dist);
int fc_cmd_gradcheck(const fc_config *cfg, fc_dist *dist);

#endif
