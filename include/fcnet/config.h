/* Options of fcnet_dist (the README's Running section): defaults, an INI file (--config, parsed by libinih), the command
 * line (which wins), validation with one-line errors, and --help. */
#ifndef FCNET_CONFIG_H
#define FCNET_CONFIG_H

#include <stdio.h>

#include "fcnet/common.h"
#include "fcnet/data.h"
#include "fcnet/net.h"
#include "fcnet/optim.h"

#define FC_MAX_HIDDEN 256
#define FC_PATH_MAX 4096

typedef enum fc_progress_mode { FC_PROGRESS_AUTO = 0, FC_PROGRESS_BAR = 1, FC_PROGRESS_LINES = 2 } fc_progress_mode;

typedef enum fc_command { FC_CMD_TRAIN = 0, FC_CMD_EVAL = 1, FC_CMD_GRADCHECK = 2, FC_CMD_HELP = 3 } fc_command;

/* Options whose presence on the command line or in the INI file is tracked (opt_set[]), so --resume can
 * tell a given hyperparameter from a default. */
typedef enum fc_option {
    FC_OPT_DATA, FC_OPT_HIDDEN, FC_OPT_NORM, FC_OPT_KEEP, FC_OPT_REG, FC_OPT_WEIGHT_SCALE, FC_OPT_INIT,
    FC_OPT_OPTIM, FC_OPT_LR, FC_OPT_LR_DECAY, FC_OPT_MOMENTUM, FC_OPT_BETA1, FC_OPT_BETA2, FC_OPT_EPS,
    FC_OPT_DECAY_RATE, FC_OPT_BATCH_SIZE, FC_OPT_EPOCHS, FC_OPT_SEED, FC_OPT_VAL_SIZE, FC_OPT_PREPROCESS,
    FC_OPT_OUT, FC_OPT_RESUME, FC_OPT_INIT_FROM, FC_OPT_MAX_STEPS, FC_OPT_NO_SHUFFLE,
    FC_OPT_CHECKPOINT_EVERY, FC_OPT_PRINT_EVERY, FC_OPT_CHECK_REPLICAS, FC_OPT_KEEP_LAST, FC_OPT_PROFILE,
    FC_OPT_BN_MOMENTUM, FC_OPT_CHECKPOINT, FC_OPT_SPLIT, FC_OPT_BEST, FC_OPT_CONFIG, FC_OPT_PROGRESS, FC_OPT_OVERWRITE,
    FC_OPT_CHECKPOINT_MINUTES, FC_OPT_COUNT
} fc_option;

typedef struct fc_config {
    fc_command command;
    fc_command help_command; /* with command == FC_CMD_HELP: the command word given with --help
                              * (`eval --help`), FC_CMD_HELP when there was none */
    /* model */
    int n_hidden;
    int hidden[FC_MAX_HIDDEN];
    fc_norm norm;
    double keep;
    double reg;
    double weight_scale;
    fc_init init;
    double bn_momentum;
    /* optimizer: lr defaults to the optimizer's own default unless given */
    fc_optim_config optim;
    /* data and schedule */
    char data[FC_PATH_MAX];
    int64_t batch_size;
    int64_t epochs;
    uint64_t seed;
    double val_size;
    fc_preprocess_kind preprocess;
    int shuffle;
    /* run control */
    char out[FC_PATH_MAX];
    char resume[FC_PATH_MAX];
    char init_from[FC_PATH_MAX];
    int64_t max_steps;        /* 0 = no limit */
    int64_t checkpoint_every; /* 0 = only at epoch ends and the end */
    double checkpoint_minutes; /* also save once this much wall time has passed since the last save; 0 = off */
    int64_t print_every;
    int64_t check_replicas;   /* 0 = off */
    int64_t keep_last;        /* 0 = keep only checkpoint.h5 */
    int overwrite;            /* may replace checkpoints another run left in out */
    int profile;
    fc_progress_mode progress;
    /* eval */
    char checkpoint[FC_PATH_MAX];
    char split[16];
    int best;
    /* bookkeeping */
    char config_file[FC_PATH_MAX];
    unsigned char opt_set[FC_OPT_COUNT]; /* 1 when given explicitly (file or command line) */
} fc_config;

/* Fills cfg with every default (the README's Running section). */
void fc_config_defaults(fc_config *cfg);
/* Parses argv: an optional command word (train, eval, gradcheck; default train), --config FILE first,
 * then the command line on top. Validates every value. On error returns FC_ERR_INPUT with a one-line
 * message naming the option (as --name, or FILE:LINE: name for the INI file), the value and the reason.
 * --help / -h sets command = FC_CMD_HELP. Not collective, prints nothing. */
fc_status fc_config_parse(fc_config *cfg, int argc, char **argv);
/* Usage text with the defaults, for command. */
void fc_config_print_help(FILE *f, fc_command command);
/* The model part of the config as an fc_net_config (hidden points into cfg). */
fc_net_config fc_config_net(const fc_config *cfg, int n_input, int n_classes);
/* "--name" of option. */
const char *fc_config_option_name(fc_option opt);
/* The current value of opt in cfg as text, in the form the parser accepts ("100,100", "adam", "0.001",
 * "true"); written into buf (truncated to size) and returned. */
const char *fc_config_value(const fc_config *cfg, fc_option opt, char *buf, size_t size);
/* The first hidden layer (numbered from 1) that --norm layernorm normalises to 0 in every row, a layer of 1 unit,
 * whose output then does not depend on the input; 0 when there is none (or another norm). */
int fc_config_constant_layernorm_layer(const fc_config *cfg);
/* Checks the numbers of cfg (reals, integers, hidden widths) by the rules the parser applies to flags: for
 * values that did not come through it, a checkpoint's attributes. The first one out of range gives
 * FC_ERR_INPUT "SOURCE: attribute 'batch_size' of /: 0 out of range (must be >= 1)". in_this_precision:
 * also the flags' rule that a real be representable in fc_real (a run resumed from SOURCE computes with
 * them; eval of a double build's checkpoint in a float build does not). */
fc_status fc_config_check_values(const fc_config *cfg, const char *source, int in_this_precision);
/* Writes every option of cfg as an INI file that --config reads back to the same values (empty paths
 * and --config itself are left out). The trainer does not call it (the checkpoint's attributes record a
 * run's settings); test_config uses it to prove that every option round-trips through --config. */
void fc_config_write_ini(FILE *f, const fc_config *cfg);
/* The word the environment variable name holds, as its index in names (unset or empty: 0, the default). Any
 * other word: *index -1 and FC_ERR_INPUT "NAME: unknown value 'w' (expected a, b or c)". Not collective. */
fc_status fc_config_env_word(const char *name, const char *const *names, int n, int *index);

#endif
