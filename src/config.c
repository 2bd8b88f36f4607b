/* Options of fcnet_dist (the README's Running section). One table (specs[]) drives the command line, the INI file, the
 * validation, --help and the INI writer, so an option is described in exactly one place. */
#include "fcnet/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "fcnet/commands.h"
#include "fcnet/rng.h"
#include "fcnet/suggest.h"

#define MAX_HIDDEN_WIDTH (1 << 20)
/* 2^53: the largest row count a double holds exactly, so --val-size can be stored as a double. */
#define MAX_VAL_ROWS 9007199254740992.0

typedef enum value_kind {
    VK_REAL,   /* double with a range */
    VK_INT,    /* int64_t with a range */
    VK_SEED,   /* uint64_t, every value allowed */
    VK_PATH,   /* non-empty string shorter than FC_PATH_MAX */
    VK_FLAG,   /* no value on the command line; true/false in the INI file or after '=' */
    VK_HIDDEN, /* comma-separated widths */
    VK_NORM,
    VK_INIT,
    VK_OPTIM,
    VK_PREPROCESS,
    VK_SPLIT,
    VK_PROGRESS,
    VK_CONFIG /* --config: command line only, read before everything else */
} value_kind;

typedef enum opt_group { G_MODEL, G_OPTIM, G_DATA, G_RUN, G_EVAL, G_COUNT } opt_group;

typedef struct opt_spec {
    fc_option id;
    const char *name; /* "--name"; the INI key is name + 2 */
    value_kind kind;
    opt_group group;
    const char *meta;     /* value placeholder in --help; NULL for flags */
    double lo, hi;        /* VK_REAL range; hi = HUGE_VAL when unbounded above */
    int lo_open, hi_open; /* 1 when the bound itself is excluded */
    int64_t ilo, ihi;     /* VK_INT range */
    unsigned commands;    /* CMD_* bits of the commands whose command line takes it; 0 = its group's */
    const char *help;
    const char *note; /* shown in --help instead of "default: <value from fc_config_defaults>" */
} opt_spec;

#define CMD_TRAIN (1u << FC_CMD_TRAIN)
#define CMD_EVAL (1u << FC_CMD_EVAL)
#define CMD_GRADCHECK (1u << FC_CMD_GRADCHECK)
#define CMD_ALL (CMD_TRAIN | CMD_EVAL | CMD_GRADCHECK)

/* Help order: by group, then as listed. */
static const opt_spec specs[] = {
    /* model */
    {.id = FC_OPT_HIDDEN, .name = "--hidden", .kind = VK_HIDDEN, .group = G_MODEL, .meta = "LIST",
     .help = "widths of the hidden layers, comma-separated (each 1..1048576, at most 256 layers); "
             "\"\" or none: no hidden layer (a softmax classifier)"},
    {.id = FC_OPT_NORM, .name = "--norm", .kind = VK_NORM, .group = G_MODEL, .meta = "KIND",
     .help = "normalisation after each hidden affine layer: none, batchnorm (statistics over the global "
             "minibatch, synchronised across ranks) or layernorm"},
    {.id = FC_OPT_KEEP, .name = "--keep", .kind = VK_REAL, .group = G_MODEL, .meta = "P", .lo = 0, .hi = 1,
     .lo_open = 1, .help = "dropout keep probability of each hidden unit, 2^-24 <= P <= 1 (cs231n "
                           "dropout_keep_ratio; 1 = no dropout)"},
    {.id = FC_OPT_REG, .name = "--reg", .kind = VK_REAL, .group = G_MODEL, .meta = "R", .lo = 0,
     .hi = HUGE_VAL, .help = "L2 strength, R >= 0: loss += 0.5 * R * sum(W^2) over the weights (not "
                             "biases, gamma, beta)"},
    {.id = FC_OPT_WEIGHT_SCALE, .name = "--weight-scale", .kind = VK_REAL, .group = G_MODEL, .meta = "S",
     .lo = 0, .hi = HUGE_VAL, .lo_open = 1,
     .help = "standard deviation of the initial weights with --init normal, S > 0"},
    {.id = FC_OPT_INIT, .name = "--init", .kind = VK_INIT, .group = G_MODEL, .meta = "KIND",
     .help = "initial weights: normal (std --weight-scale) or he (std sqrt(2 / fan_in)); biases 0"},
    {.id = FC_OPT_BN_MOMENTUM, .name = "--bn-momentum", .kind = VK_REAL, .group = G_MODEL, .meta = "M",
     .commands = CMD_TRAIN,
     .lo = 0, .hi = 1, .hi_open = 1,
     .help = "batchnorm running statistics: running = M * running + (1 - M) * batch, 0 <= M < 1 "
             "(cs231n meaning; PyTorch's momentum is 1 - M)"},
    /* optimizer */
    {.id = FC_OPT_OPTIM, .name = "--optim", .kind = VK_OPTIM, .group = G_OPTIM, .meta = "KIND",
     .help = "update rule: sgd, sgd_momentum, rmsprop or adam (cs231n formulas)"},
    {.id = FC_OPT_LR, .name = "--lr", .kind = VK_REAL, .group = G_OPTIM, .meta = "LR", .lo = 0,
     .hi = HUGE_VAL, .lo_open = 1, .help = "learning rate, LR > 0",
     .note = "default: 1e-2 for sgd, sgd_momentum and rmsprop; 1e-3 for adam"},
    {.id = FC_OPT_LR_DECAY, .name = "--lr-decay", .kind = VK_REAL, .group = G_OPTIM, .meta = "D", .lo = 0,
     .hi = 1, .lo_open = 1, .help = "lr *= D at the end of every epoch, 0 < D <= 1"},
    {.id = FC_OPT_MOMENTUM, .name = "--momentum", .kind = VK_REAL, .group = G_OPTIM, .meta = "MU", .lo = 0,
     .hi = 1, .hi_open = 1, .help = "sgd_momentum: v = MU * v - lr * dw, 0 <= MU < 1"},
    {.id = FC_OPT_DECAY_RATE, .name = "--decay-rate", .kind = VK_REAL, .group = G_OPTIM, .meta = "DR",
     .lo = 0, .hi = 1, .hi_open = 1,
     .help = "rmsprop: cache = DR * cache + (1 - DR) * dw^2, 0 <= DR < 1"},
    {.id = FC_OPT_BETA1, .name = "--beta1", .kind = VK_REAL, .group = G_OPTIM, .meta = "B1", .lo = 0,
     .hi = 1, .hi_open = 1, .help = "adam: decay of the first moment m, 0 <= B1 < 1"},
    {.id = FC_OPT_BETA2, .name = "--beta2", .kind = VK_REAL, .group = G_OPTIM, .meta = "B2", .lo = 0,
     .hi = 1, .hi_open = 1, .help = "adam: decay of the second moment v, 0 <= B2 < 1"},
    {.id = FC_OPT_EPS, .name = "--eps", .kind = VK_REAL, .group = G_OPTIM, .meta = "E", .lo = 0,
     .hi = HUGE_VAL, .lo_open = 1, .help = "rmsprop and adam: added to the denominator's sqrt, E > 0"},
    /* data */
    {.id = FC_OPT_DATA, .name = "--data", .kind = VK_PATH, .group = G_DATA, .meta = "FILE", .commands = CMD_ALL,
     .help = "HDF5 dataset: groups train, optional val and test, each with x (N, D) and y (N,)",
     .note = "train: required unless --resume; eval, --resume: the checkpoint's"},
    {.id = FC_OPT_VAL_SIZE, .name = "--val-size", .kind = VK_REAL, .group = G_DATA, .meta = "V", .lo = 0,
     .hi = MAX_VAL_ROWS,
     .help = "rows held out of the end of train when the file has no val group: a fraction when V < 1, "
             "a row count when V >= 1; 0 = no validation"},
    {.id = FC_OPT_PREPROCESS, .name = "--preprocess", .kind = VK_PREPROCESS, .group = G_DATA,
     .meta = "KIND", .commands = CMD_TRAIN | CMD_GRADCHECK,
     .help = "none, center (subtract the training split's per-feature mean) or standardize (also divide "
             "by its std); saved in the checkpoint"},
    {.id = FC_OPT_BATCH_SIZE, .name = "--batch-size", .kind = VK_INT, .group = G_DATA, .meta = "B",
     .commands = CMD_TRAIN | CMD_GRADCHECK, .ilo = 1, .ihi = INT_MAX, .help = "global minibatch: B rows per step over all ranks together"},
    {.id = FC_OPT_NO_SHUFFLE, .name = "--no-shuffle", .kind = VK_FLAG, .group = G_DATA,
     .help = "take the training rows in file order every epoch",
     .note = "default: a permutation per epoch from --seed"},
    /* run control */
    {.id = FC_OPT_EPOCHS, .name = "--epochs", .kind = VK_INT, .group = G_RUN, .meta = "E", .ilo = 1,
     .ihi = INT_MAX, .help = "passes over the training split"},
    {.id = FC_OPT_MAX_STEPS, .name = "--max-steps", .kind = VK_INT, .group = G_RUN, .meta = "N", .ilo = 0,
     .ihi = INT64_MAX,
     .help = "stop after N optimizer steps of this run, still writing the final checkpoint; 0 = no limit"},
    {.id = FC_OPT_SEED, .name = "--seed", .kind = VK_SEED, .group = G_RUN, .meta = "S",
     .commands = CMD_TRAIN | CMD_GRADCHECK,
     .help = "seeds the initial weights, the epoch permutations and the dropout masks (0 .. 2^64-1)"},
    {.id = FC_OPT_OUT, .name = "--out", .kind = VK_PATH, .group = G_RUN, .meta = "DIR",
     .help = "output directory of checkpoint.h5 (model, optimizer state and histories in one file) and its "
             "--keep-last copies"},
    {.id = FC_OPT_OVERWRITE, .name = "--overwrite", .kind = VK_FLAG, .group = G_RUN,
     .help = "let this run replace the checkpoints (checkpoint.h5, checkpoint-step*.h5) another run left in "
             "--out, at its first save; without it such a run is refused, unless it resumes from a checkpoint "
             "of that run in --out",
     .note = "default: off"},
    {.id = FC_OPT_RESUME, .name = "--resume", .kind = VK_PATH, .group = G_RUN, .meta = "FILE",
     .help = "continue the run saved in a checkpoint (parameters, optimizer state, histories, position); "
             "the hyperparameters (and --seed) come from the checkpoint, and one given must equal it; only "
             "--epochs, --max-steps, --data, --out, --overwrite, --checkpoint-*, --keep-last, --print-every, "
             "--check-replicas, --profile and --progress may differ"},
    {.id = FC_OPT_INIT_FROM, .name = "--init-from", .kind = VK_PATH, .group = G_RUN, .meta = "FILE",
     .help = "start from the parameters (/params, optional /bn) of an HDF5 file, e.g. exported from "
             "numpy or PyTorch; the optimizer starts fresh"},
    {.id = FC_OPT_CHECKPOINT_EVERY, .name = "--checkpoint-every", .kind = VK_INT, .group = G_RUN,
     .meta = "N", .ilo = 0, .ihi = INT64_MAX,
     .help = "also write the checkpoint every N steps; 0 = only at epoch ends and at the end"},
    {.id = FC_OPT_CHECKPOINT_MINUTES, .name = "--checkpoint-minutes", .kind = VK_REAL, .group = G_RUN,
     .meta = "M", .lo = 0, .hi = 1e6,
     .help = "also write the checkpoint at the first step that ends M minutes (wall time, a fraction "
             "allowed) after the last save, so that a crash loses at most about M minutes of work however "
             "long an epoch is; 0 = off"},
    {.id = FC_OPT_KEEP_LAST, .name = "--keep-last", .kind = VK_INT, .group = G_RUN, .meta = "K", .ilo = 0,
     .ihi = INT_MAX, .help = "keep the last K checkpoints besides checkpoint.h5; 0 = only checkpoint.h5"},
    {.id = FC_OPT_PRINT_EVERY, .name = "--print-every", .kind = VK_INT, .group = G_RUN, .meta = "N",
     .ilo = 1, .ihi = INT64_MAX, .help = "print the training loss every N steps"},
    {.id = FC_OPT_CHECK_REPLICAS, .name = "--check-replicas", .kind = VK_INT, .group = G_RUN, .meta = "K",
     .ilo = 0, .ihi = INT64_MAX,
     .help = "every K steps compare a hash of the parameters and batchnorm statistics across ranks "
             "(the optimizer state is sharded between checkpoints); 0 = off"},
    {.id = FC_OPT_PROFILE, .name = "--profile", .kind = VK_FLAG, .group = G_RUN,
     .help = "report where the time went at the end of the run", .note = "default: off"},
    {.id = FC_OPT_PROGRESS, .name = "--progress", .kind = VK_PROGRESS, .group = G_RUN, .meta = "MODE",
     .help = "progress on rank 0: bar (one live line), lines (a line every --print-every steps, for logs) "
             "or auto (bar on a terminal when not under mpirun, whose ranks always see a pty)"},
    {.id = FC_OPT_CONFIG, .name = "--config", .kind = VK_CONFIG, .group = G_RUN, .meta = "FILE",
     .commands = CMD_ALL,
     .help = "read options from an INI file: 'name = value' lines with the names above without the "
             "dashes ('_' may replace '-'), flags as true/false; the command line wins"},
    /* eval */
    {.id = FC_OPT_CHECKPOINT, .name = "--checkpoint", .kind = VK_PATH, .group = G_EVAL, .meta = "FILE",
     .help = "checkpoint to evaluate", .note = "required for eval"},
    {.id = FC_OPT_SPLIT, .name = "--split", .kind = VK_SPLIT, .group = G_EVAL, .meta = "NAME",
     .help = "split of --data to evaluate: test, val or train"},
    {.id = FC_OPT_BEST, .name = "--best", .kind = VK_FLAG, .group = G_EVAL,
     .help = "evaluate the best-validation parameters (/best) instead of the last ones",
     .note = "default: off"},
};
#define N_SPECS ((int)(sizeof specs / sizeof specs[0]))

/* The commands whose command line takes a group's options (the README's Running section): gradcheck builds the model from the
 * model options; eval takes the model and its hyperparameters from --checkpoint. */
static const unsigned group_commands[G_COUNT] = {CMD_TRAIN | CMD_GRADCHECK, CMD_TRAIN, CMD_TRAIN, CMD_TRAIN,
                                                 CMD_EVAL};

static int takes_option(const opt_spec *sp, fc_command command)
{
    const unsigned commands = sp->commands ? sp->commands : group_commands[sp->group];
    return (commands >> command) & 1u;
}

static const char *const group_titles[G_COUNT] = {"Model", "Optimizer", "Data", "Run control",
                                                  "Eval (only with the eval command)"};

/* Index = enum value of the matching type (fc_norm, fc_init, fc_optim_kind, fc_preprocess_kind). */
static const char *const norm_names[] = {"none", "batchnorm", "layernorm"};
static const char *const init_names[] = {"normal", "he"};
static const char *const preprocess_names[] = {"none", "center", "standardize"};
static const char *const split_names[] = {"test", "val", "train"};
static const char *const progress_names[] = {"auto", "bar", "lines"};
#define N_NAMES(a) ((int)(sizeof(a) / sizeof(a)[0]))

static const opt_spec *spec_of(fc_option id)
{
    for (int i = 0; i < N_SPECS; i++)
        if (specs[i].id == id) return &specs[i];
    return NULL;
}

/* The spec whose key (name without dashes) equals key[0..len); with underscores, '_' matches '-'
 * (the INI file accepts batch_size). */
static const opt_spec *find_spec(const char *key, size_t len, int underscores)
{
    for (int i = 0; i < N_SPECS; i++) {
        const char *name = specs[i].name + 2;
        if (strlen(name) != len) continue;
        size_t j = 0;
        for (; j < len; j++) {
            char c = key[j];
            if (underscores && c == '_') c = '-';
            if (c != name[j]) break;
        }
        if (j == len) return &specs[i];
    }
    return NULL;
}

/* " (did you mean --batch-size?)" for a near miss of key[0..len), else "". prefix: "--" or "". */
static void suggest(char *buf, size_t size, const char *key, size_t len, const char *prefix)
{
    const char *names[N_SPECS];
    for (int i = 0; i < N_SPECS; i++) names[i] = specs[i].name;
    int k = fc_nearest_name(key, len, names, N_SPECS, 2);
    if (k >= 0)
        snprintf(buf, size, " (did you mean %s%s?)", prefix, names[k] + 2);
    else
        buf[0] = '\0';
}

/* Records "who: <message>" as the current FC_ERR_INPUT error. */
static fc_status input_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static fc_status input_error(const char *who, const char *fmt, ...)
{
    char text[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return fc_error_set(FC_ERR_INPUT, "%s: %s", who, text);
}

static double *real_field(fc_config *cfg, fc_option id)
{
    switch (id) {
    case FC_OPT_KEEP: return &cfg->keep;
    case FC_OPT_REG: return &cfg->reg;
    case FC_OPT_WEIGHT_SCALE: return &cfg->weight_scale;
    case FC_OPT_BN_MOMENTUM: return &cfg->bn_momentum;
    case FC_OPT_LR: return &cfg->optim.lr;
    case FC_OPT_LR_DECAY: return &cfg->optim.lr_decay;
    case FC_OPT_MOMENTUM: return &cfg->optim.momentum;
    case FC_OPT_DECAY_RATE: return &cfg->optim.decay_rate;
    case FC_OPT_BETA1: return &cfg->optim.beta1;
    case FC_OPT_BETA2: return &cfg->optim.beta2;
    case FC_OPT_EPS: return &cfg->optim.eps;
    case FC_OPT_VAL_SIZE: return &cfg->val_size;
    case FC_OPT_CHECKPOINT_MINUTES: return &cfg->checkpoint_minutes;
    default: break;
    }
    FC_ASSERT(!"option has no real field");
    return NULL;
}

static int64_t *int_field(fc_config *cfg, fc_option id)
{
    switch (id) {
    case FC_OPT_BATCH_SIZE: return &cfg->batch_size;
    case FC_OPT_EPOCHS: return &cfg->epochs;
    case FC_OPT_MAX_STEPS: return &cfg->max_steps;
    case FC_OPT_CHECKPOINT_EVERY: return &cfg->checkpoint_every;
    case FC_OPT_PRINT_EVERY: return &cfg->print_every;
    case FC_OPT_CHECK_REPLICAS: return &cfg->check_replicas;
    case FC_OPT_KEEP_LAST: return &cfg->keep_last;
    default: break;
    }
    FC_ASSERT(!"option has no integer field");
    return NULL;
}

static char *path_field(fc_config *cfg, fc_option id)
{
    switch (id) {
    case FC_OPT_DATA: return cfg->data;
    case FC_OPT_OUT: return cfg->out;
    case FC_OPT_RESUME: return cfg->resume;
    case FC_OPT_INIT_FROM: return cfg->init_from;
    case FC_OPT_CHECKPOINT: return cfg->checkpoint;
    case FC_OPT_CONFIG: return cfg->config_file;
    default: break;
    }
    FC_ASSERT(!"option has no path field");
    return NULL;
}

/* Flags read as "given": --no-shuffle stores the negation in cfg->shuffle. */
static int flag_get(const fc_config *cfg, fc_option id)
{
    switch (id) {
    case FC_OPT_NO_SHUFFLE: return !cfg->shuffle;
    case FC_OPT_PROFILE: return cfg->profile;
    case FC_OPT_BEST: return cfg->best;
    case FC_OPT_OVERWRITE: return cfg->overwrite;
    default: break;
    }
    FC_ASSERT(!"option is not a flag");
    return 0;
}

static void flag_set(fc_config *cfg, fc_option id, int on)
{
    switch (id) {
    case FC_OPT_NO_SHUFFLE: cfg->shuffle = !on; return;
    case FC_OPT_PROFILE: cfg->profile = on; return;
    case FC_OPT_BEST: cfg->best = on; return;
    case FC_OPT_OVERWRITE: cfg->overwrite = on; return;
    default: break;
    }
    FC_ASSERT(!"option is not a flag");
}

/* Real numbers: only decimal notation. strtod alone would also take "nan", "inf", hex floats and leading
 * blanks; none of them is a sensible hyperparameter, so the character set is checked first. */
static fc_status parse_real(const char *who, const char *text, double *out)
{
    if (text[0] == '\0') return input_error(who, "invalid value '': not a number");
    for (const char *p = text; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return input_error(who, "invalid value '%s': not a number", text);
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0') return input_error(who, "invalid value '%s': not a number", text);
    /* ERANGE covers overflow (1e400) and underflow to zero or a subnormal (1e-400): neither is the value
     * the user wrote. */
    if (errno == ERANGE)
        return input_error(who, "invalid value '%s': %s", text,
                           fabs(v) > 1 ? "too large for a double" : "too small for a double");
    *out = v + 0.0; /* -0 becomes +0, so "-0" prints and compares like 0 */
    return FC_OK;
}

static fc_status parse_int(const char *who, const char *text, int64_t *out)
{
    const char *digits = text + (text[0] == '+' || text[0] == '-');
    if (*digits == '\0') return input_error(who, "invalid value '%s': not an integer", text);
    for (const char *p = digits; *p; p++)
        if (!isdigit((unsigned char)*p)) return input_error(who, "invalid value '%s': not an integer", text);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE) return input_error(who, "invalid value '%s': does not fit in 64 bits", text);
    if (*end != '\0') return input_error(who, "invalid value '%s': not an integer", text);
    *out = (int64_t)v;
    return FC_OK;
}

/* strtoull would wrap "-1" to 2^64-1, so only plain digits are accepted. */
static fc_status parse_seed(const char *who, const char *text, uint64_t *out)
{
    if (text[0] == '\0') return input_error(who, "invalid value '': not a non-negative integer");
    for (const char *p = text; *p; p++)
        if (!isdigit((unsigned char)*p))
            return input_error(who, "invalid value '%s': not a non-negative integer", text);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return input_error(who, "invalid value '%s': larger than 2^64-1", text);
    *out = (uint64_t)v;
    return FC_OK;
}

static int lower_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* 1 when text is one of a flag's yes/no words, its meaning in *on. */
static int bool_word(const char *text, int *on)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (lower_equal(text, yes[i]) || lower_equal(text, no[i])) {
            *on = lower_equal(text, yes[i]);
            return 1;
        }
    }
    return 0;
}

static fc_status parse_bool(const char *who, const char *text, int *out)
{
    if (bool_word(text, out)) return FC_OK;
    return input_error(who, "invalid value '%s': expected true/false, yes/no, on/off or 1/0", text);
}

/* "a, b or c" into buf. */
static const char *name_list(char *buf, size_t size, const char *const *names, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

static fc_status parse_name(const char *who, const char *text, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return FC_OK;
        }
    }
    char list[128];
    return input_error(who, "unknown value '%s' (expected %s)", text, name_list(list, sizeof list, names, n));
}

fc_status fc_config_env_word(const char *name, const char *const *names, int n, int *index)
{
    const char *v = getenv(name);
    *index = 0;
    if (!v || !v[0]) return FC_OK;
    fc_status st = parse_name(name, v, names, n, index);
    if (st != FC_OK) *index = -1;
    return st;
}

static fc_status parse_path(const char *who, const char *text, char *out)
{
    if (text[0] == '\0') return input_error(who, "invalid value '': empty path");
    if (strlen(text) >= FC_PATH_MAX)
        return input_error(who, "invalid value '%.40s...': path longer than %d bytes", text, FC_PATH_MAX - 1);
    memcpy(out, text, strlen(text) + 1);
    return FC_OK;
}

/* Widths separated by commas, blanks allowed around them ("100, 100" reads naturally in an INI file). */
static fc_status parse_hidden(fc_config *cfg, const char *who, const char *text)
{
    int widths[FC_MAX_HIDDEN], n = 0;
    if (text[0] == '\0' || strcmp(text, "none") == 0) {
        cfg->n_hidden = 0;
        return FC_OK;
    }
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
        int len = (int)(p - start);
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '\0' && *p != ',')
            return input_error(who, "invalid value '%s': expected comma-separated widths", text);
        if (len == 0) return input_error(who, "invalid value '%s': empty width at position %d", text, n + 1);
        if (n == FC_MAX_HIDDEN)
            return input_error(who, "invalid value '%s': more than %d hidden layers", text, FC_MAX_HIDDEN);
        long width = 0;
        for (int i = 0; i < len; i++) {
            if (!isdigit((unsigned char)start[i]))
                return input_error(who, "invalid value '%s': width '%.*s' is not a positive integer", text,
                                   len, start);
            /* Saturate instead of overflowing; anything past the limit is rejected below anyway. */
            if (width <= MAX_HIDDEN_WIDTH) width = width * 10 + (start[i] - '0');
        }
        if (width < 1 || width > MAX_HIDDEN_WIDTH)
            return input_error(who, "invalid value '%s': width '%.*s' out of range [1, %d]", text, len, start,
                               MAX_HIDDEN_WIDTH);
        widths[n++] = (int)width;
        if (*p == '\0') break;
        p++; /* the comma */
    }
    memcpy(cfg->hidden, widths, (size_t)n * sizeof widths[0]);
    cfg->n_hidden = n;
    return FC_OK;
}

#ifdef FC_REAL_DOUBLE
#define SMALLEST_REAL DBL_MIN
#define LARGEST_REAL DBL_MAX
#define REAL_EPSILON DBL_EPSILON
#else
#define SMALLEST_REAL ((double)FLT_MIN)
#define LARGEST_REAL ((double)FLT_MAX)
#define REAL_EPSILON ((double)FLT_EPSILON)
#endif

static int real_in_range(const opt_spec *sp, double v)
{
    int lo_ok = sp->lo_open ? v > sp->lo : v >= sp->lo;
    int hi_ok = isinf(sp->hi) || (sp->hi_open ? v < sp->hi : v <= sp->hi);
    return lo_ok && hi_ok;
}

static const char *real_range_text(char *buf, size_t size, const opt_spec *sp)
{
    if (isinf(sp->hi))
        snprintf(buf, size, "(must be %s %g)", sp->lo_open ? ">" : ">=", sp->lo);
    else
        snprintf(buf, size, "%c%g, %g%c", sp->lo_open ? '(' : '[', sp->lo, sp->hi, sp->hi_open ? ')' : ']');
    return buf;
}

static const char *int_range_text(char *buf, size_t size, const opt_spec *sp)
{
    if (sp->ihi == INT64_MAX)
        snprintf(buf, size, "(must be >= %" PRId64 ")", sp->ilo);
    else
        snprintf(buf, size, "[%" PRId64 ", %" PRId64 "]", sp->ilo, sp->ihi);
    return buf;
}

/* Parses text for option sp and stores it in cfg; cfg is left unchanged on error. who names the source
 * in messages: "--lr" or "cfg.ini:3: lr". text is NULL for a flag given without a value. typed: the text
 * comes from the user (a flag or an INI file), not from a checkpoint; 2: from a checkpoint of this precision,
 * which obeys the precision's rules but not --keep's 2^-24 (see below). */
static fc_status apply_value(fc_config *cfg, const opt_spec *sp, const char *who, const char *text, int typed)
{
    fc_status st = FC_OK;
    char range[96];
    int idx = 0;
    switch (sp->kind) {
    case VK_REAL: {
        double v = 0;
        if ((st = parse_real(who, text, &v)) != FC_OK) return st;
        if (!real_in_range(sp, v))
            return input_error(who, "%s out of range %s", text, real_range_text(range, sizeof range, sp));
        /* A setting typed by the user that must be > 0 but that the computation (in fc_real) would see as 0 or
         * as a denormal: --lr 1e-46 trains nothing, --eps 1e-50 divides by 0. Not applied to a checkpoint's
         * values: the double build writes such settings legitimately, and eval of its file does not use them. */
        if (typed && sp->lo_open && sp->lo == 0 && v < SMALLEST_REAL)
            return input_error(who, "%s is below %g, the smallest normal %s, the precision fcnet computes in", text,
                               SMALLEST_REAL, FC_REAL_NAME);
        /* A keep below the dropout draws' resolution keeps 2^-24 of the units, not the fraction asked. Only a
         * typed one (typed == 1): a checkpoint written before this rule holds such a keep legitimately, and its
         * run resumes as it trained (fc_train_setup warns). */
        if (typed == 1 && sp->id == FC_OPT_KEEP && v < FC_RNG_UNIT_FLOAT_STEP)
            return input_error(who, "%s is below %.17g (2^-24), the resolution of dropout's random draws and the "
                               "smallest keep probability accepted", text, FC_RNG_UNIT_FLOAT_STEP);
        /* And one it would see as Inf: --weight-scale 1e39 made every weight Inf ("diverged at step 0"). */
        if (typed && fabs(v) > LARGEST_REAL)
            return input_error(who, "%s is beyond %g, the largest %s, the precision fcnet computes in", text,
                               LARGEST_REAL, FC_REAL_NAME);
        /* A decay rate of an update rule (below 1) that fc_real rounds to 1: --beta2 0.99999999 is 1.0f, so v
         * would never decay. The batchnorm momentum is applied in double and keeps its value. Typed only, as
         * --keep's rule: a checkpoint written before this rule resumes as it trained. */
        if (typed == 1 && sp->group == G_OPTIM && sp->hi == 1 && sp->hi_open && (fc_real)v >= 1)
            return input_error(who, "%s rounds to 1 in %s, the precision fcnet computes in (no decay at all); the "
                               "largest value below 1 there is %.17g", text, FC_REAL_NAME, 1.0 - REAL_EPSILON / 2);
        if (sp->id == FC_OPT_VAL_SIZE && v >= 1 && v != floor(v))
            return input_error(who, "%s is neither a fraction below 1 nor a whole number of rows", text);
        *real_field(cfg, sp->id) = v;
        break;
    }
    case VK_INT: {
        int64_t v = 0;
        if ((st = parse_int(who, text, &v)) != FC_OK) return st;
        if (v < sp->ilo || v > sp->ihi)
            return input_error(who, "%s out of range %s", text, int_range_text(range, sizeof range, sp));
        *int_field(cfg, sp->id) = v;
        break;
    }
    case VK_SEED: st = parse_seed(who, text, &cfg->seed); break;
    case VK_PATH:
    case VK_CONFIG: st = parse_path(who, text, path_field(cfg, sp->id)); break;
    case VK_FLAG: {
        int on = 1;
        if (text && (st = parse_bool(who, text, &on)) != FC_OK) return st;
        flag_set(cfg, sp->id, on);
        break;
    }
    case VK_HIDDEN: st = parse_hidden(cfg, who, text); break;
    case VK_NORM:
        if ((st = parse_name(who, text, norm_names, N_NAMES(norm_names), &idx)) == FC_OK) cfg->norm = (fc_norm)idx;
        break;
    case VK_INIT:
        if ((st = parse_name(who, text, init_names, N_NAMES(init_names), &idx)) == FC_OK) cfg->init = (fc_init)idx;
        break;
    case VK_OPTIM:
        if ((st = parse_name(who, text, fc_optim_names, FC_OPTIM_KINDS, &idx)) == FC_OK)
            cfg->optim.kind = (fc_optim_kind)idx;
        break;
    case VK_PREPROCESS:
        if ((st = parse_name(who, text, preprocess_names, N_NAMES(preprocess_names), &idx)) == FC_OK)
            cfg->preprocess = (fc_preprocess_kind)idx;
        break;
    case VK_SPLIT:
        if ((st = parse_name(who, text, split_names, N_NAMES(split_names), &idx)) == FC_OK)
            snprintf(cfg->split, sizeof cfg->split, "%s", split_names[idx]);
        break;
    case VK_PROGRESS:
        if ((st = parse_name(who, text, progress_names, N_NAMES(progress_names), &idx)) == FC_OK)
            cfg->progress = (fc_progress_mode)idx;
        break;
    }
    if (st == FC_OK) cfg->opt_set[sp->id] = 1;
    return st;
}

/* ---- the INI file ---- */

typedef struct ini_ctx {
    fc_config *cfg;
    const char *file;
    FILE *fp;
    int line;                           /* physical line the parser is on (counted by the reader) */
    int err_line;                       /* line of the first value the handler rejected; 0 when none */
    int long_line;                      /* line longer than libinih's buffer; 0 when none */
    int line_limit;                     /* longest line libinih accepts */
    int nul_line;                       /* line holding a NUL byte; 0 when none */
    int bare_indented;                  /* first indented line with no '=' or ':'; 0 when none */
    int bare_flag;                      /* first line that is a flag's name alone ("no_shuffle"); 0 when none */
    char bare_flag_name[32];            /* that name, as written */
    int read_errno;                     /* errno of a failed read; 0 when none */
    int set_line[FC_OPT_COUNT];         /* line that gave each option; 0 when not given (yet) */
    char set_section[FC_OPT_COUNT][64]; /* the [section] it was given under ("" before any) */
} ini_ctx;

/* fgets for libinih that counts lines, so the handler can name the line of a bad value (the packaged
 * libinih is built without INI_HANDLER_LINENO), and that stops at a line longer than libinih's buffer
 * instead of letting it be split into two bogus lines, and at a NUL byte, which would silently cut the
 * line short. It also drops a line's leading blanks: libinih (built with INI_ALLOW_MULTILINE) reads an
 * indented line as a continuation that replaces the value above ("hidden = 8" then "  16" gave 16), so
 * an indented "name = value" is an ordinary pair and anything else indented is a syntax error. */
static char *ini_read_line(char *str, int num, void *stream)
{
    ini_ctx *ctx = stream;
    int c = getc(ctx->fp), n = 0, indented = 0;
    if (c == EOF) {
        if (ferror(ctx->fp)) ctx->read_errno = errno ? errno : EIO;
        return NULL;
    }
    ctx->line++;
    ctx->line_limit = num - 2;
    for (; c != EOF && c != '\n' && isspace(c); c = getc(ctx->fp)) indented = 1;
    while (c != EOF) {
        if (c == '\0') {
            ctx->nul_line = ctx->line;
            return NULL;
        }
        if (n >= num - 1 || (c != '\n' && n >= num - 2)) {
            ctx->long_line = ctx->line;
            return NULL;
        }
        str[n++] = (char)c;
        if (c == '\n') break;
        c = getc(ctx->fp);
    }
    if (c == EOF && ferror(ctx->fp)) {
        ctx->read_errno = errno ? errno : EIO;
        return NULL;
    }
    str[n] = '\0';
    if (indented && !ctx->bare_indented && n > 0 && !strchr(";#[\r\n", str[0]) && !strpbrk(str, "=:"))
        ctx->bare_indented = ctx->line;
    /* A flag written as on the command line, its name alone: the syntax error says how to write it. */
    size_t word = strcspn(str, " \t\r\n");
    const opt_spec *flag = !ctx->bare_flag && word > 0 && str[word + strspn(str + word, " \t\r\n")] == '\0'
                               ? find_spec(str, word, 1)
                               : NULL;
    if (flag && flag->kind == VK_FLAG && word < sizeof ctx->bare_flag_name) {
        ctx->bare_flag = ctx->line;
        snprintf(ctx->bare_flag_name, sizeof ctx->bare_flag_name, "%.*s", (int)word, str);
    }
    return str;
}

static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *ctx = user;
    if (ctx->err_line) return 0;

    size_t len = strlen(name);
    const opt_spec *sp = find_spec(name, len, 1);
    char hint[64];
    if (!sp) {
        char key[64]; /* compared with '_' read as '-', like the lookup */
        snprintf(key, sizeof key, "%s", name);
        for (char *k = key; *k; k++)
            if (*k == '_') *k = '-';
        suggest(hint, sizeof hint, key, strlen(key), "");
        fc_error_set(FC_ERR_INPUT, "%s:%d: unknown option '%s'%s", ctx->file, ctx->line, name, hint);
        ctx->err_line = ctx->line;
        return 0;
    }
    if (sp->kind == VK_CONFIG) {
        fc_error_set(FC_ERR_INPUT, "%s:%d: %s: a config file cannot name another one", ctx->file, ctx->line,
                     name);
        ctx->err_line = ctx->line;
        return 0;
    }
    /* Sections such as [train] only group keys for the reader; names are global, so a name given twice
     * (under any sections, in any spelling) is a mistake, not a silent last-wins. */
    const int before = ctx->set_line[sp->id];
    if (before) {
        const char *prior = ctx->set_section[sp->id];
        if (strcmp(prior, section) == 0)
            fc_error_set(FC_ERR_INPUT, "%s:%d: '%s' given twice (also line %d)", ctx->file, ctx->line, name, before);
        else if (prior[0] == '\0')
            fc_error_set(FC_ERR_INPUT, "%s:%d: '%s' given twice (also line %d, before any section; sections do not "
                         "scope names)", ctx->file, ctx->line, name, before);
        else
            fc_error_set(FC_ERR_INPUT, "%s:%d: '%s' given twice (also line %d, under [%s]; sections do not scope "
                         "names)", ctx->file, ctx->line, name, before, prior);
        ctx->err_line = ctx->line;
        return 0;
    }
    /* One pair of matching quotes is removed, so data = "my file.h5" and hidden = "" work. */
    char text[FC_PATH_MAX];
    size_t vlen = strlen(value);
    if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) value++, vlen -= 2;
    if (vlen >= sizeof text) vlen = sizeof text - 1;
    memcpy(text, value, vlen);
    text[vlen] = '\0';

    char who[FC_PATH_MAX + 80];
    snprintf(who, sizeof who, "%s:%d: %s", ctx->file, ctx->line, name);
    if (apply_value(ctx->cfg, sp, who, text, 1) != FC_OK) {
        ctx->err_line = ctx->line;
        return 0;
    }
    ctx->set_line[sp->id] = ctx->line;
    snprintf(ctx->set_section[sp->id], sizeof ctx->set_section[sp->id], "%s", section);
    return 1;
}

static fc_status load_config(fc_config *cfg, const char *path)
{
    const char *problem = fc_input_file_problem(path);
    if (problem) return fc_error_set(FC_ERR_INPUT, "--config: cannot read '%s': %s", path, problem);
    FILE *fp = fopen(path, "r");
    if (!fp) return fc_error_set(FC_ERR_INPUT, "--config: cannot read '%s': %s", path, strerror(errno));
    ini_ctx ctx = {.cfg = cfg, .file = path, .fp = fp};
    int rc = ini_parse_stream(ini_read_line, &ctx, on_ini_pair, &ctx);
    fclose(fp);
    if (ctx.read_errno)
        return fc_error_set(FC_ERR_INPUT, "--config: cannot read '%s': %s", path, strerror(ctx.read_errno));
    /* libinih returns the first failing line, the handler's or a syntax error; report whichever failure
     * comes first in the file: those, or the line the reader stopped at (too long, or a NUL byte). */
    int first = ctx.err_line;
    if (rc > 0 && (first == 0 || rc < first)) first = rc;
    if (ctx.long_line && (first == 0 || ctx.long_line < first))
        return fc_error_set(FC_ERR_INPUT, "%s:%d: line longer than %d characters; give long values on the "
                            "command line", path, ctx.long_line, ctx.line_limit);
    if (ctx.nul_line && (first == 0 || ctx.nul_line < first))
        return fc_error_set(FC_ERR_INPUT, "%s:%d: contains a NUL byte (not a text file?)", path, ctx.nul_line);
    if (first != 0 && first == ctx.err_line) return FC_ERR_INPUT; /* message set by the handler */
    if (first != 0 && first == ctx.bare_flag)
        return fc_error_set(FC_ERR_INPUT, "%s:%d: syntax error: expected 'name = value', [section] or a comment "
                            "(a flag is written with its value: '%s = true')", path, first, ctx.bare_flag_name);
    if (first != 0)
        return fc_error_set(FC_ERR_INPUT, "%s:%d: syntax error: expected 'name = value', [section] or a "
                            "comment%s", path, first, first == ctx.bare_indented ? " (an indented line does "
                            "not continue the value above it)" : "");
    if (rc < 0) return fc_error_set(FC_ERR_INPUT, "--config: cannot parse '%s' (libinih error %d)", path, rc);
    return FC_OK;
}

/* ---- the command line ---- */

typedef enum arg_type { ARG_HELP, ARG_WORD, ARG_OPTION, ARG_UNKNOWN, ARG_MISSING } arg_type;

typedef struct cli_arg {
    arg_type type;
    const char *arg;      /* argv[i] as written */
    const opt_spec *spec; /* ARG_OPTION and ARG_MISSING */
    const char *value;    /* ARG_OPTION: the value; NULL for a flag without '=' */
} cli_arg;

/* Classifies argv[*i] and consumes it with its value. A following argument that starts with "--" is
 * taken as the next option, not as a value, so "--data --lr 0.1" reports the missing value; such a
 * value can still be given as --data=--odd. */
static cli_arg next_arg(int argc, char **argv, int *i)
{
    const char *s = argv[(*i)++];
    cli_arg a = {.arg = s};
    if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
        a.type = ARG_HELP;
        return a;
    }
    if (s[0] != '-' || s[1] == '\0') {
        a.type = ARG_WORD;
        return a;
    }
    if (s[1] != '-') {
        a.type = ARG_UNKNOWN;
        return a;
    }
    const char *name = s + 2, *eq = strchr(name, '=');
    a.spec = find_spec(name, eq ? (size_t)(eq - name) : strlen(name), 0);
    if (!a.spec) {
        a.type = ARG_UNKNOWN;
        return a;
    }
    a.type = ARG_OPTION;
    if (eq) {
        a.value = eq + 1;
    } else if (a.spec->kind != VK_FLAG) {
        if (*i >= argc || strncmp(argv[*i], "--", 2) == 0)
            a.type = ARG_MISSING;
        else
            a.value = argv[(*i)++];
    }
    return a;
}

static int command_word(const char *s, fc_command *cmd)
{
    static const struct { const char *word; fc_command cmd; } words[] = {
        {"train", FC_CMD_TRAIN}, {"eval", FC_CMD_EVAL}, {"gradcheck", FC_CMD_GRADCHECK}, {"help", FC_CMD_HELP}};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        if (strcmp(s, words[k].word) == 0) {
            *cmd = words[k].cmd;
            return 1;
        }
    }
    return 0;
}

static fc_status validate(const fc_config *cfg)
{
    /* --resume alone is enough: the checkpoint records the dataset path (fc_ckpt_read_config). */
    if (cfg->command == FC_CMD_TRAIN && cfg->data[0] == '\0' && cfg->resume[0] == '\0')
        return fc_error_set(FC_ERR_INPUT, "train needs --data FILE, the HDF5 dataset (see --help)");
    if (cfg->command == FC_CMD_EVAL && cfg->checkpoint[0] == '\0')
        return fc_error_set(FC_ERR_INPUT, "eval needs --checkpoint FILE, the checkpoint to evaluate (see --help)");
    if (cfg->resume[0] && cfg->init_from[0])
        return fc_error_set(FC_ERR_INPUT, "--resume '%s' and --init-from '%s' cannot be combined: --resume "
                            "restores the whole run", cfg->resume, cfg->init_from);
    /* Nothing to train: every score after such a layer is the same for all rows (PyTorch's LayerNorm(1) does it
     * silently). */
    const int constant = cfg->command == FC_CMD_TRAIN ? fc_config_constant_layernorm_layer(cfg) : 0;
    if (constant > 0) {
        char widths[FC_PATH_MAX];
        return fc_error_set(FC_ERR_INPUT, "--hidden %s: hidden layer %d has 1 unit, which --norm layernorm "
                            "normalises to 0 for every row: the network's output would not depend on its input; "
                            "give the layer 2 or more units, or use --norm batchnorm or none",
                            fc_config_value(cfg, FC_OPT_HIDDEN, widths, sizeof widths), constant);
    }
    return FC_OK;
}

/* Layernorm normalises a single unit to 0 in every row, so the layer outputs its beta whatever the input. */
int fc_config_constant_layernorm_layer(const fc_config *cfg)
{
    for (int l = 0; cfg->norm == FC_NORM_LAYER && l < cfg->n_hidden; l++)
        if (cfg->hidden[l] == 1) return l + 1;
    return 0;
}

void fc_config_defaults(fc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->command = FC_CMD_TRAIN;
    cfg->help_command = FC_CMD_HELP;
    cfg->n_hidden = 2;
    cfg->hidden[0] = cfg->hidden[1] = 100;
    cfg->norm = FC_NORM_NONE;
    cfg->keep = 1.0;
    cfg->reg = 0.0;
    cfg->weight_scale = 1e-2; /* cs231n FullyConnectedNet's default */
    cfg->init = FC_INIT_NORMAL;
    cfg->bn_momentum = 0.9;
    /* cs231n's update-rule defaults live in optim.c. Field by field: a struct assignment may carry the
     * temporary's padding bytes, and the configuration is compared bytewise (tests). */
    const fc_optim_config o = fc_optim_defaults(FC_OPTIM_SGD);
    cfg->optim.kind = o.kind;
    cfg->optim.lr = o.lr;
    cfg->optim.lr_decay = o.lr_decay;
    cfg->optim.momentum = o.momentum;
    cfg->optim.decay_rate = o.decay_rate;
    cfg->optim.beta1 = o.beta1;
    cfg->optim.beta2 = o.beta2;
    cfg->optim.eps = o.eps;
    cfg->batch_size = 100;
    cfg->epochs = 10;
    cfg->seed = 0;
    cfg->val_size = 0.1;
    cfg->preprocess = FC_PRE_CENTER;
    cfg->shuffle = 1;
    snprintf(cfg->out, sizeof cfg->out, "%s", "fcnet-out");
    cfg->print_every = 100;
    cfg->checkpoint_minutes = 15; /* as GROMACS's -cpt: a crash costs minutes, not an epoch */
    snprintf(cfg->split, sizeof cfg->split, "%s", "test");
}

/* --help or -h anywhere, or the command word help, asks for the usage; *topic is the command word
 * given with it (FC_CMD_HELP when none). Nothing else is checked, so help wins over any error. */
static int wants_help(int argc, char **argv, fc_command *topic)
{
    int help = 0, have_word = 0;
    *topic = FC_CMD_HELP;
    for (int i = 1; i < argc;) {
        cli_arg a = next_arg(argc, argv, &i);
        fc_command cmd;
        if (a.type == ARG_HELP) help = 1;
        if (a.type == ARG_WORD && !have_word && command_word(a.arg, &cmd)) {
            have_word = 1;
            if (cmd == FC_CMD_HELP)
                help = 1;
            else
                *topic = cmd;
        }
    }
    return help;
}

/* The structure of the command line: at most one command word, known options, values present, at most
 * one --config. Sets *cmd and *config_path (NULL when none); stops at the first error. */
static fc_status scan_command_line(int argc, char **argv, fc_command *cmd, const char **config_path)
{
    const char *word = NULL;
    const opt_spec *bare_flag = NULL; /* the flag just before, given without '=' */
    *cmd = FC_CMD_TRAIN;
    *config_path = NULL;
    for (int i = 1; i < argc;) {
        int at = i;
        const opt_spec *flag_before = bare_flag;
        cli_arg a = next_arg(argc, argv, &i);
        bare_flag = a.type == ARG_OPTION && a.spec->kind == VK_FLAG && !a.value ? a.spec : NULL;
        fc_command c;
        char hint[96];
        switch (a.type) {
        case ARG_HELP: break;
        case ARG_WORD:
            if (!command_word(a.arg, &c)) {
                if (!word && at == 1)
                    return fc_error_set(FC_ERR_INPUT, "unknown command '%s' (expected train, eval or gradcheck)",
                                        a.arg);
                /* "--no-shuffle false" would otherwise be refused without naming the flag it was meant for. */
                int on;
                if (flag_before && bool_word(a.arg, &on))
                    return fc_error_set(FC_ERR_INPUT,
                                        "unexpected argument '%s' after the flag %s: a flag takes a value only "
                                        "after '=' (%s=%s)",
                                        a.arg, flag_before->name, flag_before->name, a.arg);
                return fc_error_set(FC_ERR_INPUT, "unexpected argument '%s' (options start with --)", a.arg);
            }
            if (word) return fc_error_set(FC_ERR_INPUT, "command given twice: '%s' and '%s'", word, a.arg);
            word = a.arg;
            *cmd = c;
            break;
        case ARG_UNKNOWN: {
            /* main answers --version alone, before MPI starts; with anything else it lands here. */
            if (strcmp(a.arg, "--version") == 0)
                return fc_error_set(FC_ERR_INPUT, "--version: give it alone (fcnet_dist --version)");
            size_t len = strcspn(a.arg, "="), dashes = a.arg[1] == '-' ? 2 : 1;
            suggest(hint, sizeof hint, a.arg + dashes, len - dashes, "--");
            /* "fcnet_dist -n 4 train ...": the rank count is mpirun's to take, before the program's name */
            if (strcmp(a.arg, "-n") == 0 || strcmp(a.arg, "-np") == 0)
                snprintf(hint, sizeof hint, " (the rank count is mpirun's: mpirun %s N fcnet_dist ...)", a.arg);
            return fc_error_set(FC_ERR_INPUT, "unknown option '%.*s'%s", (int)len, a.arg, hint);
        }
        case ARG_MISSING:
            if (i < argc)
                return fc_error_set(FC_ERR_INPUT, "%s: missing value (next is '%s')", a.spec->name, argv[i]);
            return fc_error_set(FC_ERR_INPUT, "%s: missing value", a.spec->name);
        case ARG_OPTION:
            if (a.spec->kind == VK_CONFIG) {
                if (*config_path)
                    return fc_error_set(FC_ERR_INPUT, "--config: given twice ('%s' and '%s')", *config_path,
                                        a.value);
                *config_path = a.value;
            }
            break;
        }
    }
    return FC_OK;
}

static const char *command_name(fc_command command)
{
    return command == FC_CMD_EVAL ? "eval" : command == FC_CMD_GRADCHECK ? "gradcheck" : "train";
}

static fc_status option_not_taken(const opt_spec *sp, fc_command command)
{
    if (sp->group == G_EVAL)
        return fc_error_set(FC_ERR_INPUT, "%s: only valid with the eval command (fcnet_dist eval %s ...)",
                            sp->name, sp->name);
    /* eval takes what defines the model and its input from the checkpoint; it does not train at all. */
    const int model = sp->group == G_MODEL || sp->id == FC_OPT_PREPROCESS || sp->id == FC_OPT_VAL_SIZE;
    const char *why = command != FC_CMD_EVAL ? ""
                      : model ? ": the model, its hyperparameters and preprocessing come from --checkpoint"
                              : ": eval takes no training options";
    return fc_error_set(FC_ERR_INPUT, "%s: not an option of the %s command%s (see fcnet_dist %s --help)",
                        sp->name, command_name(command), why, command_name(command));
}

fc_status fc_config_parse(fc_config *cfg, int argc, char **argv)
{
    fc_config_defaults(cfg);
    fc_command topic;
    if (wants_help(argc, argv, &topic)) {
        cfg->command = FC_CMD_HELP;
        cfg->help_command = topic;
        return FC_OK;
    }

    const char *config_path;
    fc_status st = scan_command_line(argc, argv, &cfg->command, &config_path);
    if (st != FC_OK) return st;

    /* The file first, the command line on top of it, whatever the order on the command line. */
    if (config_path) {
        if ((st = apply_value(cfg, spec_of(FC_OPT_CONFIG), "--config", config_path, 1)) != FC_OK) return st;
        if ((st = load_config(cfg, config_path)) != FC_OK) return st;
    }

    /* The values, in order (a repeated option: the last one wins). */
    int cli_resume = 0, cli_init_from = 0;
    for (int i = 1; i < argc;) {
        cli_arg a = next_arg(argc, argv, &i);
        if (a.type != ARG_OPTION || a.spec->kind == VK_CONFIG) continue;
        /* Only on the command line: one INI file may serve both train and eval runs. An option the command
         * does not use is refused rather than silently ignored. */
        if (!takes_option(a.spec, cfg->command)) return option_not_taken(a.spec, cfg->command);
        /* gradcheck's --batch-size is the checked batch: [1, FC_GRADCHECK_MAX_BATCH]. An INI file's
         * batch_size is a training batch, which gradcheck caps instead (gradcheck.c). */
        opt_spec gc_batch;
        const opt_spec *sp = a.spec;
        if (cfg->command == FC_CMD_GRADCHECK && sp->id == FC_OPT_BATCH_SIZE) {
            gc_batch = *sp;
            gc_batch.ihi = FC_GRADCHECK_MAX_BATCH;
            sp = &gc_batch;
        }
        if ((st = apply_value(cfg, sp, sp->name, a.value, 1)) != FC_OK) return st;
        cli_resume |= sp->id == FC_OPT_RESUME;
        cli_init_from |= sp->id == FC_OPT_INIT_FROM;
    }
    /* An init_from in the file says how the run started; a --resume on the command line continues that run
     * (a requeued batch job given the same file), which the checkpoint restores whole. */
    if (cli_resume && !cli_init_from && cfg->init_from[0]) {
        cfg->init_from[0] = '\0';
        cfg->opt_set[FC_OPT_INIT_FROM] = 0;
    }

    /* The optimizer may be named after --lr, or in the file while --lr is on the command line, so its
     * default lr is only filled in now, and only when no lr was given anywhere. */
    if (!cfg->opt_set[FC_OPT_LR]) cfg->optim.lr = fc_optim_defaults(cfg->optim.kind).lr;
    if (cfg->command == FC_CMD_GRADCHECK && !cfg->opt_set[FC_OPT_WEIGHT_SCALE])
        cfg->weight_scale = FC_GRADCHECK_WEIGHT_SCALE;
    return validate(cfg);
}

const char *fc_config_option_name(fc_option opt)
{
    const opt_spec *sp = spec_of(opt);
    return sp ? sp->name : "--?";
}

const char *fc_config_value(const fc_config *cfg, fc_option opt, char *buf, size_t size)
{
    const opt_spec *sp = spec_of(opt);
    FC_ASSERT(sp != NULL && size > 0);
    /* The field accessors are shared with the parser; here they are only read through. */
    fc_config *c = (fc_config *)cfg;
    switch (sp->kind) {
    case VK_REAL: fc_format_real(buf, size, *real_field(c, opt)); break;
    case VK_INT: snprintf(buf, size, "%" PRId64, *int_field(c, opt)); break;
    case VK_SEED: snprintf(buf, size, "%" PRIu64, cfg->seed); break;
    case VK_PATH:
    case VK_CONFIG: snprintf(buf, size, "%s", path_field(c, opt)); break;
    case VK_FLAG: snprintf(buf, size, "%s", flag_get(cfg, opt) ? "true" : "false"); break;
    case VK_HIDDEN: {
        size_t used = 0;
        buf[0] = '\0';
        if (cfg->n_hidden == 0) snprintf(buf, size, "none");
        for (int l = 0; l < cfg->n_hidden && used < size; l++) {
            int w = snprintf(buf + used, size - used, "%s%d", l ? "," : "", cfg->hidden[l]);
            if (w < 0) break;
            used += (size_t)w;
        }
        break;
    }
    case VK_NORM: snprintf(buf, size, "%s", norm_names[cfg->norm]); break;
    case VK_INIT: snprintf(buf, size, "%s", init_names[cfg->init]); break;
    case VK_OPTIM: snprintf(buf, size, "%s", fc_optim_name(cfg->optim.kind)); break;
    case VK_PREPROCESS: snprintf(buf, size, "%s", preprocess_names[cfg->preprocess]); break;
    case VK_SPLIT: snprintf(buf, size, "%s", cfg->split); break;
    case VK_PROGRESS: snprintf(buf, size, "%s", progress_names[cfg->progress]); break;
    }
    return buf;
}

fc_status fc_config_check_values(const fc_config *cfg, const char *source, int in_this_precision)
{
    /* The parser's own rules, applied to each value's text on a scratch copy. */
    fc_config *scratch = malloc(sizeof *scratch);
    FC_ASSERT(scratch != NULL);
    *scratch = *cfg;
    fc_status st = FC_OK;
    char text[FC_PATH_MAX], key[64], who[FC_PATH_MAX + 96];
    for (int i = 0; st == FC_OK && i < N_SPECS; i++) {
        const opt_spec *sp = &specs[i];
        if (sp->kind != VK_REAL && sp->kind != VK_INT && sp->kind != VK_HIDDEN) continue;
        fc_config_value(cfg, sp->id, text, sizeof text);
        snprintf(key, sizeof key, "%s", sp->name + 2);
        for (char *k = key; *k; k++)
            if (*k == '-') *k = '_';
        snprintf(who, sizeof who, "%s: attribute '%s' of /", source, key);
        st = apply_value(scratch, sp, who, text, in_this_precision ? 2 : 0);
    }
    free(scratch);
    return st;
}

void fc_config_write_ini(FILE *f, const fc_config *cfg)
{
    char value[FC_PATH_MAX];
    fprintf(f, "# fcnet_dist %s options; read with --config FILE (the command line wins over the file)\n",
            FC_VERSION);
    for (int g = 0; g < G_COUNT; g++) {
        fprintf(f, "\n# %s\n", group_titles[g]);
        for (int i = 0; i < N_SPECS; i++) {
            const opt_spec *sp = &specs[i];
            if (sp->group != (opt_group)g || sp->kind == VK_CONFIG) continue;
            fc_config_value(cfg, sp->id, value, sizeof value);
            if (sp->kind == VK_PATH && value[0] == '\0') continue;
            fprintf(f, "%s = %s\n", sp->name + 2, value);
        }
    }
}

/* A word made of operator characters only ("=", "<=", "*"): the wrapper keeps it with its neighbours
 * so that a formula such as "0 <= M < 1" is never split across lines. */
static int is_operator_word(const char *w, int len)
{
    for (int i = 0; i < len; i++)
        if (!strchr("<>=*+-/", w[i])) return 0;
    return len > 0;
}

/* Length of the next unbreakable unit at p: a word, a formula joined by operator words, or a whole
 * "[...]" (the default). */
static int unit_length(const char *p)
{
    if (*p == '[') {
        const char *close = strchr(p, ']');
        return close ? (int)(close - p + 1) : (int)strlen(p);
    }
    int len = (int)strcspn(p, " ");
    for (;;) {
        const char *next = p + len;
        if (*next != ' ') return len;
        int next_len = (int)strcspn(next + 1, " ");
        if (next_len == 0 || !(is_operator_word(p + len - 1, 1) || is_operator_word(next + 1, next_len)))
            return len;
        len += 1 + next_len;
    }
}

/* Prints left, pads to column indent, then text word-wrapped at width with continuation lines indented. */
static void print_wrapped(FILE *f, const char *left, const char *text, int indent, int width)
{
    int col = fprintf(f, "%s", left);
    if (col >= indent - 1) {
        fputc('\n', f);
        col = 0;
    }
    col += fprintf(f, "%*s", indent - col, "");
    int line_start = 1;
    for (const char *p = text; *p;) {
        while (*p == ' ') p++;
        int len = unit_length(p);
        if (len == 0) break;
        if (!line_start && col + 1 + len > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            line_start = 1;
        }
        col += fprintf(f, "%s%.*s", line_start ? "" : " ", len, p);
        line_start = 0;
        p += len;
    }
    fputc('\n', f);
}

/* An option whose meaning differs in one command's help: that command's text, else NULL. */
static const char *command_help(const opt_spec *sp, fc_command command)
{
    if (command == FC_CMD_EVAL && sp->id == FC_OPT_DATA)
        return "HDF5 dataset to evaluate [default: the dataset the checkpoint records]";
    if (command != FC_CMD_GRADCHECK) return NULL;
    switch (sp->id) {
    case FC_OPT_DATA:
        return "HDF5 dataset whose first training rows are the checked batch, preprocessed as --preprocess "
               "says [default: a random batch from --seed]";
    case FC_OPT_PREPROCESS:
        return "none, center (subtract the training split's per-feature mean) or standardize (also divide by "
               "its std), fitted on --data's /train";
    case FC_OPT_SEED: return "seeds the initial weights, the dropout masks and the random batch (0 .. 2^64-1)";
    default: return NULL;
    }
}

void fc_config_print_help(FILE *f, fc_command command)
{
    fc_config d;
    fc_config_defaults(&d);

    fputs("Usage: fcnet_dist [train] --data FILE [options]   train a fully-connected net (the default)\n"
          "       fcnet_dist eval --checkpoint FILE [--data FILE] [--split NAME] [--best]\n"
          "       fcnet_dist gradcheck [model options]\n"
          "       fcnet_dist [COMMAND] --help | -h\n"
          "       fcnet_dist --version                       this build and its MPI, BLAS and HDF5 libraries\n"
          "Run it under MPI (mpirun -n N fcnet_dist ...); every rank must get the same options.\n\n",
          f);
    switch (command) {
    case FC_CMD_EVAL:
        fputs("eval: loads --checkpoint (model, hyperparameters and preprocessing) and reports the accuracy\n"
              "on --split of --data (default: the dataset the checkpoint records) in test mode, the rows\n"
              "divided among the ranks.\n\n",
              f);
        break;
    case FC_CMD_GRADCHECK:
        fputs("gradcheck: compares the analytic gradients of the model given by the model options with\n"
              "numerical ones and reports the relative errors.\n\n",
              f);
        break;
    default:
        fputs("train: data-parallel training. --batch-size is the global minibatch; each rank takes a slice\n"
              "of it and the gradients are summed over ranks, so -n N takes the same steps as -n 1.\n\n",
              f);
        break;
    }
    fputs("Options are --name VALUE or --name=VALUE. A flag is --name alone (on) or --name=BOOL, BOOL one of\n"
          "true/false, yes/no, on/off, 1/0 (--name=false turns off a flag an INI file set), never --name BOOL.\n"
          "Every option can also come from an INI file (--config FILE); the command line wins.\n",
          f);

    char left[64], value[256], text[1024];
    /* With a command word, only that command's options; without one, all of them. */
    const int all = command == FC_CMD_HELP;
    for (int g = 0; g < G_COUNT; g++) {
        int shown = 0;
        for (int i = 0; i < N_SPECS; i++) {
            const opt_spec *sp = &specs[i];
            if (sp->group != (opt_group)g || (!all && !takes_option(sp, command))) continue;
            if (shown++ == 0) fprintf(f, "\n%s:\n", group_titles[g]);
            snprintf(left, sizeof left, "  %s%s%s", sp->name, sp->meta ? " " : "", sp->meta ? sp->meta : "");
            /* Defaults come from fc_config_defaults, so the text cannot drift from the code. */
            const char *def = sp->kind == VK_CONFIG ? "" : fc_config_value(&d, sp->id, value, sizeof value);
            const char *own = command_help(sp, command);
            if (own && sp->kind != VK_PATH && def[0])
                snprintf(text, sizeof text, "%s [default: %s]", own, def);
            else if (own)
                snprintf(text, sizeof text, "%s", own);
            else if (command == FC_CMD_GRADCHECK && sp->id == FC_OPT_BATCH_SIZE)
                snprintf(text, sizeof text, "rows of the checked batch [default: %d, at most %d]", FC_GRADCHECK_BATCH,
                         FC_GRADCHECK_MAX_BATCH);
            else if (command == FC_CMD_GRADCHECK && sp->id == FC_OPT_WEIGHT_SCALE)
                snprintf(text, sizeof text, "%s [default: %g, cs231n's scale for gradient checks; train's is %s]",
                         sp->help, FC_GRADCHECK_WEIGHT_SCALE, def);
            else if (sp->note)
                snprintf(text, sizeof text, "%s [%s]", sp->help, sp->note);
            else if (def[0])
                snprintf(text, sizeof text, "%s [default: %s]", sp->help, def);
            else
                snprintf(text, sizeof text, "%s", sp->help);
            print_wrapped(f, left, text, 28, 100);
        }
    }
    fputs("\nExit status:\n", f);
    switch (command) {
    case FC_CMD_EVAL:
        fputs("  0  success\n"
              "  1  failure while running (I/O, MPI, ...)\n"
              "  2  usage, checkpoint or data error\n",
              f);
        break;
    case FC_CMD_GRADCHECK:
        fputs("  0  every tensor passed: ok, or ok* (within the numerical derivative's error), at least one ok\n"
              "  1  a tensor failed the check (stderr names the worst), or a failure while running\n"
              "  2  usage, configuration or data error, or a result that proves nothing: a non-finite loss,\n"
              "     a tensor with no element checked, one whose numerical derivatives all lie within their\n"
              "     error bars (unresolved), or every tensor only ok*\n",
              f);
        break;
    default:
        fputs("  0  success (also after a stop by SIGUSR1 or SIGTERM to a rank, with the checkpoint written)\n"
              "  1  failure while running (I/O, MPI, ...)\n"
              "  2  usage, configuration or data error, found before training starts\n"
              "  3  training diverged: loss, gradients, updated parameters or batchnorm statistics became NaN/Inf\n"
              "  129  hangup (the terminal closed) without mpirun: the checkpoint written, then died of SIGHUP\n"
              "  130  Ctrl-C without mpirun: the checkpoint written at the next step, then died of SIGINT\n"
              "  141  standard output closed (| head) without mpirun: the same, then died of SIGPIPE\n",
              f);
        break;
    }
}

fc_net_config fc_config_net(const fc_config *cfg, int n_input, int n_classes)
{
    fc_net_config net = {
        .n_input = n_input,
        .n_classes = n_classes,
        .n_hidden = cfg->n_hidden,
        .hidden = cfg->hidden,
        .norm = cfg->norm,
        .keep = cfg->keep,
        .reg = cfg->reg,
        .weight_scale = cfg->weight_scale,
        .init = cfg->init,
        .bn_momentum = cfg->bn_momentum,
        .seed = cfg->seed,
    };
    return net;
}
