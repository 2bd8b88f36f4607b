/* Options: defaults, every option in both forms, the INI file under the command line, the optimizer's
 * default lr, opt_set, the one-line errors for bad values, --help and the INI writer. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcnet/config.h"
#include "fcnet/suggest.h"
#include "testutil.h"

#define MAX_ARGS 64

/* Parses {"fcnet_dist", args..., NULL}; args is NULL-terminated. */
static fc_status parse_v(fc_config *cfg, const char *const *args)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "fcnet_dist";
    for (; args[argc - 1] && argc <= MAX_ARGS; argc++) argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    fc_error_clear();
    return fc_config_parse(cfg, argc, argv);
}
#define PARSE(cfg, ...) parse_v((cfg), (const char *const[]){__VA_ARGS__, NULL})

/* Big struct: static, not on the stack; tests run one after the other (CK_NOFORK). */
static fc_config cfg, other;

/* Writes len bytes of content (NUL bytes included) to a fresh temporary file; path receives its name. */
static void write_temp_bytes(char *path, size_t size, const char *content, size_t len)
{
    fct_tmp_template(path, size, "fcnet_test_config_");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp %s", path);
    FILE *f = fdopen(fd, "w");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_temp(char *path, size_t size, const char *content)
{
    write_temp_bytes(path, size, content, strlen(content));
}

static void assert_error_has(fc_status st, const char *need1, const char *need2, const char *what)
{
    const char *msg = fc_error_message();
    ck_assert_msg(st == FC_ERR_INPUT, "%s: expected FC_ERR_INPUT, got %d (message '%s')", what, (int)st, msg);
    ck_assert_msg(strchr(msg, '\n') == NULL, "%s: message is not one line: '%s'", what, msg);
    ck_assert_msg(need1 == NULL || strstr(msg, need1), "%s: message '%s' lacks '%s'", what, msg, need1);
    ck_assert_msg(need2 == NULL || strstr(msg, need2), "%s: message '%s' lacks '%s'", what, msg, need2);
}

START_TEST(test_defaults)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_TRAIN);
    ck_assert_int_eq(cfg.n_hidden, 2);
    ck_assert_int_eq(cfg.hidden[0], 100);
    ck_assert_int_eq(cfg.hidden[1], 100);
    ck_assert_int_eq(cfg.norm, FC_NORM_NONE);
    ck_assert(cfg.keep == 1.0);
    ck_assert(cfg.reg == 0.0);
    ck_assert(cfg.weight_scale == 1e-2);
    ck_assert_int_eq(cfg.init, FC_INIT_NORMAL);
    ck_assert(cfg.bn_momentum == 0.9);
    ck_assert_int_eq(cfg.optim.kind, FC_OPTIM_SGD);
    ck_assert(cfg.optim.lr == 1e-2);
    ck_assert(cfg.optim.lr_decay == 1.0);
    ck_assert(cfg.optim.momentum == 0.9);
    ck_assert(cfg.optim.decay_rate == 0.99);
    ck_assert(cfg.optim.beta1 == 0.9);
    ck_assert(cfg.optim.beta2 == 0.999);
    ck_assert(cfg.optim.eps == 1e-8);
    ck_assert_str_eq(cfg.data, "d.h5");
    ck_assert_int_eq(cfg.batch_size, 100);
    ck_assert_int_eq(cfg.epochs, 10);
    ck_assert_uint_eq(cfg.seed, 0);
    ck_assert(cfg.val_size == 0.1);
    ck_assert_int_eq(cfg.preprocess, FC_PRE_CENTER);
    ck_assert_int_eq(cfg.shuffle, 1);
    ck_assert_str_eq(cfg.out, "fcnet-out");
    ck_assert_str_eq(cfg.resume, "");
    ck_assert_str_eq(cfg.init_from, "");
    ck_assert_int_eq(cfg.max_steps, 0);
    ck_assert_int_eq(cfg.checkpoint_every, 0);
    ck_assert(cfg.checkpoint_minutes == 15.0);
    ck_assert_int_eq(cfg.print_every, 100);
    ck_assert_int_eq(cfg.check_replicas, 0);
    ck_assert_int_eq(cfg.keep_last, 0);
    ck_assert_int_eq(cfg.profile, 0);
    ck_assert_str_eq(cfg.checkpoint, "");
    ck_assert_str_eq(cfg.split, "test");
    ck_assert_int_eq(cfg.best, 0);
    ck_assert_str_eq(cfg.config_file, "");

    /* fc_config_defaults alone gives the same values as a parse with no options. */
    fc_config_defaults(&other);
    snprintf(other.data, sizeof other.data, "d.h5");
    other.opt_set[FC_OPT_DATA] = 1;
    ck_assert(memcmp(&cfg, &other, sizeof cfg) == 0);
}
END_TEST

START_TEST(test_every_option)
{
    ck_assert_int_eq(PARSE(&cfg, "train", "--data", "a/b.h5", "--hidden", "300,200,10", "--norm", "batchnorm",
                           "--keep", "0.75", "--reg", "1e-4", "--weight-scale", "5e-2", "--init", "he",
                           "--optim", "adam", "--lr", "3e-4", "--lr-decay", "0.95", "--momentum", "0.5",
                           "--beta1", "0.8", "--beta2", "0.99", "--eps", "1e-6", "--decay-rate", "0.9",
                           "--bn-momentum", "0.8", "--batch-size", "256", "--epochs", "7", "--seed",
                           "18446744073709551615", "--val-size", "500", "--preprocess", "standardize",
                           "--out", "runs/x", "--resume", "runs/x/checkpoint.h5", "--max-steps", "1000",
                           "--no-shuffle", "--checkpoint-every", "50", "--checkpoint-minutes", "0.5", "--print-every", "10",
                           "--check-replicas", "20", "--keep-last", "3", "--profile"),
                     FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_TRAIN);
    ck_assert_int_eq(cfg.n_hidden, 3);
    ck_assert_int_eq(cfg.hidden[0], 300);
    ck_assert_int_eq(cfg.hidden[1], 200);
    ck_assert_int_eq(cfg.hidden[2], 10);
    ck_assert_int_eq(cfg.norm, FC_NORM_BATCH);
    ck_assert(cfg.keep == 0.75);
    ck_assert(cfg.reg == 1e-4);
    ck_assert(cfg.weight_scale == 5e-2);
    ck_assert_int_eq(cfg.init, FC_INIT_HE);
    ck_assert_int_eq(cfg.optim.kind, FC_OPTIM_ADAM);
    ck_assert(cfg.optim.lr == 3e-4);
    ck_assert(cfg.optim.lr_decay == 0.95);
    ck_assert(cfg.optim.momentum == 0.5);
    ck_assert(cfg.optim.beta1 == 0.8);
    ck_assert(cfg.optim.beta2 == 0.99);
    ck_assert(cfg.optim.eps == 1e-6);
    ck_assert(cfg.optim.decay_rate == 0.9);
    ck_assert(cfg.bn_momentum == 0.8);
    ck_assert_int_eq(cfg.batch_size, 256);
    ck_assert_int_eq(cfg.epochs, 7);
    ck_assert(cfg.seed == UINT64_MAX);
    ck_assert(cfg.val_size == 500.0);
    ck_assert_int_eq(cfg.preprocess, FC_PRE_STANDARDIZE);
    ck_assert_str_eq(cfg.out, "runs/x");
    ck_assert_str_eq(cfg.resume, "runs/x/checkpoint.h5");
    ck_assert_int_eq(cfg.max_steps, 1000);
    ck_assert_int_eq(cfg.shuffle, 0);
    ck_assert_int_eq(cfg.checkpoint_every, 50);
    ck_assert(cfg.checkpoint_minutes == 0.5);
    ck_assert_int_eq(cfg.print_every, 10);
    ck_assert_int_eq(cfg.check_replicas, 20);
    ck_assert_int_eq(cfg.keep_last, 3);
    ck_assert_int_eq(cfg.profile, 1);

    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--norm", "layernorm", "--init-from", "w.h5", "--optim",
                           "rmsprop", "--preprocess", "none", "--max-steps", "9223372036854775807"),
                     FC_OK);
    ck_assert_int_eq(cfg.norm, FC_NORM_LAYER);
    ck_assert_str_eq(cfg.init_from, "w.h5");
    ck_assert_int_eq(cfg.optim.kind, FC_OPTIM_RMSPROP);
    ck_assert_int_eq(cfg.preprocess, FC_PRE_NONE);
    ck_assert_int_eq(cfg.max_steps, INT64_MAX);

    ck_assert_int_eq(PARSE(&cfg, "eval", "--checkpoint", "c.h5", "--split", "val", "--best", "--data", "d.h5"),
                     FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_EVAL);
    ck_assert_str_eq(cfg.checkpoint, "c.h5");
    ck_assert_str_eq(cfg.split, "val");
    ck_assert_int_eq(cfg.best, 1);
    ck_assert_int_eq(PARSE(&cfg, "eval", "--checkpoint", "c.h5", "--split", "train"), FC_OK);
    ck_assert_str_eq(cfg.split, "train");
    ck_assert_int_eq(cfg.best, 0);

    /* gradcheck takes the model options, the batch (--data, --preprocess, --batch-size) and the seed. */
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--hidden", "7", "--norm", "batchnorm", "--keep", "0.5", "--reg",
                           "0.1", "--weight-scale", "0.02", "--init", "he", "--seed", "5", "--batch-size", "9",
                           "--data", "d.h5", "--preprocess", "none"),
                     FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_GRADCHECK);
    ck_assert_int_eq(cfg.hidden[0], 7);
    ck_assert_uint_eq(cfg.seed, 5);
    /* --overwrite is a train flag. */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--overwrite"), FC_OK);
    ck_assert_int_eq(cfg.overwrite, 1);
    /* Each --progress word selects its own mode. */
    static const struct {
        const char *word;
        fc_progress_mode mode;
    } progress[] = {{"auto", FC_PROGRESS_AUTO}, {"bar", FC_PROGRESS_BAR}, {"lines", FC_PROGRESS_LINES}};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--progress", progress[i].word), FC_OK);
        ck_assert_msg(cfg.progress == progress[i].mode, "--progress %s", progress[i].word);
    }
    /* Every yes and no word, any case */
    static const char *const yes[] = {"--profile=true", "--profile=YES", "--profile=on", "--profile=1"};
    static const char *const no[] = {"--profile=false", "--profile=No", "--profile=off", "--profile=0"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", yes[i]), FC_OK);
        ck_assert_msg(cfg.profile == 1, "%s", yes[i]);
        ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--profile", no[i]), FC_OK);
        ck_assert_msg(cfg.profile == 0, "%s", no[i]);
    }
}
END_TEST

/* A path fills at most FC_PATH_MAX - 1 bytes: one byte more is refused, not cut short. */
START_TEST(test_path_length)
{
    static char path[FC_PATH_MAX + 1];
    memset(path, 'a', FC_PATH_MAX - 1);
    path[FC_PATH_MAX - 1] = '\0';
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--out", path), FC_OK);
    ck_assert_str_eq(cfg.out, path);
    path[FC_PATH_MAX - 1] = 'a';
    path[FC_PATH_MAX] = '\0';
    assert_error_has(PARSE(&cfg, "--data", "d.h5", "--out", path), "--out: invalid value 'aaaa",
                     "path longer than 4095 bytes", "a 4096-byte --out");
}
END_TEST

START_TEST(test_equals_form)
{
    ck_assert_int_eq(PARSE(&cfg, "--data=d=1.h5", "--hidden=64", "--lr=0.5", "--batch-size=32", "--seed=42",
                           "--optim=sgd_momentum", "--no-shuffle=false", "--profile=yes", "--reg=0",
                           "--val-size=0"),
                     FC_OK);
    ck_assert_str_eq(cfg.data, "d=1.h5"); /* only the first '=' separates */
    ck_assert_int_eq(cfg.n_hidden, 1);
    ck_assert_int_eq(cfg.hidden[0], 64);
    ck_assert(cfg.optim.lr == 0.5);
    ck_assert_int_eq(cfg.batch_size, 32);
    ck_assert_uint_eq(cfg.seed, 42);
    ck_assert_int_eq(cfg.optim.kind, FC_OPTIM_SGD_MOMENTUM);
    ck_assert_int_eq(cfg.shuffle, 1);
    ck_assert_int_eq(cfg.profile, 1);
    ck_assert(cfg.reg == 0.0);
    ck_assert(cfg.val_size == 0.0);
    ck_assert(cfg.opt_set[FC_OPT_NO_SHUFFLE]);

    /* A value starting with "--" needs the '=' form. */
    ck_assert_int_eq(PARSE(&cfg, "--data=--odd.h5"), FC_OK);
    ck_assert_str_eq(cfg.data, "--odd.h5");
    /* Negative numbers are values, not options. */
    assert_error_has(PARSE(&cfg, "--data", "d.h5", "--reg", "-1"), "--reg", "-1", "negative reg");
}
END_TEST

START_TEST(test_commands)
{
    ck_assert_int_eq(PARSE(&cfg, "gradcheck"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_GRADCHECK);
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--hidden", "5,5", "--norm", "layernorm"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_GRADCHECK);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "train"), FC_OK); /* the word may follow options */
    ck_assert_int_eq(cfg.command, FC_CMD_TRAIN);

    ck_assert_int_eq(PARSE(&cfg, "--help"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_HELP);
    ck_assert_int_eq(cfg.help_command, FC_CMD_HELP);
    ck_assert_int_eq(PARSE(&cfg, "eval", "-h"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_HELP);
    ck_assert_int_eq(cfg.help_command, FC_CMD_EVAL);
    ck_assert_int_eq(PARSE(&cfg, "help"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_HELP);
    /* --help anywhere wins over errors elsewhere on the line. */
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--lr", "bogus", "--nonsense", "--help"), FC_OK);
    ck_assert_int_eq(cfg.command, FC_CMD_HELP);
    ck_assert_int_eq(cfg.help_command, FC_CMD_GRADCHECK);
    ck_assert_str_eq(fc_error_message(), "");
}
END_TEST

START_TEST(test_lr_default_by_optimizer)
{
    static const struct { const char *optim; double lr; } cases[] = {
        {"sgd", 1e-2}, {"sgd_momentum", 1e-2}, {"rmsprop", 1e-2}, {"adam", 1e-3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--optim", cases[i].optim), FC_OK);
        ck_assert_msg(cfg.optim.lr == cases[i].lr, "%s: lr %g", cases[i].optim, cfg.optim.lr);
        ck_assert(!cfg.opt_set[FC_OPT_LR]);
    }
    /* An explicit lr is kept whichever order the options come in. */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--lr", "0.5", "--optim", "adam"), FC_OK);
    ck_assert(cfg.optim.lr == 0.5);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--optim", "adam", "--lr", "0.5"), FC_OK);
    ck_assert(cfg.optim.lr == 0.5);
    ck_assert(cfg.opt_set[FC_OPT_LR]);

    /* lr from the file, optimizer from the command line: the file's lr stays. */
    char path[256];
    write_temp(path, sizeof path, "lr = 0.2\n");
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--optim", "adam", "--config", path), FC_OK);
    ck_assert(cfg.optim.lr == 0.2);
    unlink(path);
    /* Optimizer from the file, no lr anywhere: that optimizer's default. */
    write_temp(path, sizeof path, "optim = adam\n");
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--config", path), FC_OK);
    ck_assert(cfg.optim.lr == 1e-3);
    unlink(path);
}
END_TEST

START_TEST(test_config_file)
{
    char path[256];
    write_temp(path, sizeof path,
               "; fcnet options\n"
               "# comment line\n"
               "[train]\n"
               "data = \"my data.h5\"\n"
               "hidden = 50, 40\n"
               "batch_size = 64\n"
               "lr = 0.05 ; inline comment\n"
               "no-shuffle = yes\n"
               "profile = TRUE\n"
               "[model]\n"
               "norm = layernorm\n"
               "keep = 0.5\n"
               "weight_scale = 0.001\n"
               "seed = 7\n"
               "split = val\n");
    /* Command line before and after --config: both win over the file. */
    ck_assert_int_eq(PARSE(&cfg, "--batch-size", "32", "--config", path, "--keep", "0.9"), FC_OK);
    ck_assert_str_eq(cfg.config_file, path);
    ck_assert_str_eq(cfg.data, "my data.h5");
    ck_assert_int_eq(cfg.n_hidden, 2);
    ck_assert_int_eq(cfg.hidden[0], 50);
    ck_assert_int_eq(cfg.hidden[1], 40);
    ck_assert_int_eq(cfg.batch_size, 32);
    ck_assert(cfg.optim.lr == 0.05);
    ck_assert_int_eq(cfg.shuffle, 0);
    ck_assert_int_eq(cfg.profile, 1);
    ck_assert_int_eq(cfg.norm, FC_NORM_LAYER);
    ck_assert(cfg.keep == 0.9);
    ck_assert(cfg.weight_scale == 0.001);
    ck_assert_uint_eq(cfg.seed, 7);
    /* An eval-only key in a file shared with eval runs is accepted for train. */
    ck_assert_str_eq(cfg.split, "val");
    ck_assert(cfg.opt_set[FC_OPT_CONFIG] && cfg.opt_set[FC_OPT_SEED] && cfg.opt_set[FC_OPT_BATCH_SIZE]);
    ck_assert(!cfg.opt_set[FC_OPT_EPOCHS]);

    /* The file's flags can be turned off again with '=' on the command line. */
    ck_assert_int_eq(PARSE(&cfg, "--config", path, "--no-shuffle=0", "--profile=off", "--hidden", "none"),
                     FC_OK);
    ck_assert_int_eq(cfg.shuffle, 1);
    ck_assert_int_eq(cfg.profile, 0);
    ck_assert_int_eq(cfg.n_hidden, 0);
    unlink(path);

    /* A training file's batch_size above gradcheck's limit is taken (gradcheck caps it); the same value
     * given as --batch-size to gradcheck is refused (bad_cases). */
    write_temp(path, sizeof path, "batch_size = 200\n");
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--config", path), FC_OK);
    ck_assert_int_eq(cfg.batch_size, 200);
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--config", path, "--batch-size", "64"), FC_OK);
    ck_assert_int_eq(cfg.batch_size, 64);
    unlink(path);

    /* Indented pairs are pairs (libinih alone reads every indented line after a pair as a continuation of
     * that pair's value); the command line still wins over them. */
    write_temp(path, sizeof path, "[model]\n  hidden = 8\n\tnorm = batchnorm\n  ; comment\n  lr : 0.5\n");
    ck_assert_int_eq(PARSE(&cfg, "--config", path, "--data", "d.h5", "--lr", "0.25"), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, 1);
    ck_assert_int_eq(cfg.hidden[0], 8);
    ck_assert_int_eq(cfg.norm, FC_NORM_BATCH);
    ck_assert(cfg.optim.lr == 0.25);
    unlink(path);

    /* Quotes: double or single, stripped in matching pairs only; "" is the empty value (no hidden layer). */
    write_temp(path, sizeof path, "hidden = \"\"\ndata = 'my data.h5'\nout = \"runs/x'\n");
    ck_assert_int_eq(PARSE(&cfg, "--config", path), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, 0);
    ck_assert_str_eq(cfg.data, "my data.h5");
    ck_assert_str_eq(cfg.out, "\"runs/x'");
    unlink(path);

    /* init_from in the file, --resume on the command line: the resume continues the run the file started
     * (a requeued job); both on the command line, or both in the file, are still refused. */
    write_temp(path, sizeof path, "data = d.h5\ninit_from = w.h5\n");
    ck_assert_int_eq(PARSE(&cfg, "--config", path, "--resume", "r.h5"), FC_OK);
    ck_assert_str_eq(cfg.resume, "r.h5");
    ck_assert_str_eq(cfg.init_from, "");
    ck_assert(!cfg.opt_set[FC_OPT_INIT_FROM]);
    ck_assert_int_eq(PARSE(&cfg, "--config", path), FC_OK);
    ck_assert_str_eq(cfg.init_from, "w.h5");
    ck_assert_int_eq(PARSE(&cfg, "--config", path, "--resume", "r.h5", "--init-from", "w.h5"), FC_ERR_INPUT);
    unlink(path);
    write_temp(path, sizeof path, "data = d.h5\ninit_from = w.h5\nresume = r.h5\n");
    ck_assert_int_eq(PARSE(&cfg, "--config", path), FC_ERR_INPUT);
    unlink(path);

    /* An empty file changes nothing but config_file. */
    write_temp(path, sizeof path, "");
    ck_assert_int_eq(PARSE(&cfg, "--config", path, "--data", "d.h5"), FC_OK);
    ck_assert_int_eq(cfg.batch_size, 100);
    unlink(path);
}
END_TEST

START_TEST(test_opt_set)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--reg", "0", "--epochs", "10", "--no-shuffle"), FC_OK);
    for (int o = 0; o < FC_OPT_COUNT; o++) {
        int want = o == FC_OPT_DATA || o == FC_OPT_REG || o == FC_OPT_EPOCHS || o == FC_OPT_NO_SHUFFLE;
        /* Given with the default value still counts as given: --resume must not override it. */
        ck_assert_msg(cfg.opt_set[o] == want, "%s: opt_set %d, want %d", fc_config_option_name((fc_option)o),
                      cfg.opt_set[o], want);
    }
}
END_TEST

START_TEST(test_hidden_forms)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", ""), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, 0);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "none"), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, 0);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "1048576"), FC_OK);
    ck_assert_int_eq(cfg.hidden[0], 1 << 20);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", " 7 ,008"), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, 2);
    ck_assert_int_eq(cfg.hidden[1], 8);
    /* A 1-unit layer is refused under layernorm only (bad_cases), and not for gradcheck, which checks gradients */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "8,1", "--norm", "batchnorm"), FC_OK);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "1"), FC_OK);
    ck_assert_int_eq(PARSE(&cfg, "gradcheck", "--hidden", "1", "--norm", "layernorm"), FC_OK);
    /* 2 units are the fewest layernorm takes (their normalised values differ from row to row) */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "2,2", "--norm", "layernorm"), FC_OK);
    ck_assert_int_eq(fc_config_constant_layernorm_layer(&cfg), 0);

    /* Exactly FC_MAX_HIDDEN layers parse; one more does not. */
    static char list[4 * (FC_MAX_HIDDEN + 1) + 1];
    size_t used = 0;
    for (int l = 0; l < FC_MAX_HIDDEN; l++) used += (size_t)snprintf(list + used, sizeof list - used, "%s3", l ? "," : "");
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", list), FC_OK);
    ck_assert_int_eq(cfg.n_hidden, FC_MAX_HIDDEN);
    snprintf(list + used, sizeof list - used, ",3");
    assert_error_has(PARSE(&cfg, "--data", "d.h5", "--hidden", list), "--hidden", "more than 256", "257 layers");
}
END_TEST

/* Bad command lines: each must fail with FC_ERR_INPUT and a message naming the option and the value. */
static const struct bad_case {
    const char *args[8];
    const char *need[2];
} bad_cases[] = {
    {{"--lr", "1e400"}, {"--lr: invalid value '1e400': too large for a double", NULL}},
    {{"--lr", "1e-400"}, {"--lr: invalid value '1e-400': too small for a double", NULL}},
    {{"--lr", "0.1x"}, {"--lr: invalid value '0.1x': not a number", NULL}},
    {{"--lr", ""}, {"--lr", "''"}},
    {{"--lr", "nan"}, {"--lr", "'nan'"}},
    {{"--lr", "inf"}, {"--lr", "'inf'"}},
    {{"--lr", "0x10"}, {"--lr", "'0x10'"}},
    {{"--lr", " 0.1"}, {"--lr", "' 0.1'"}},
    {{"--reg", "-0x"}, {"--reg", "'-0x'"}},
    {{"--lr", "0"}, {"--lr: 0 out of range (must be > 0)", NULL}},
    {{"--reg", "-1"}, {"--reg: -1 out of range (must be >= 0)", NULL}},
    {{"--lr", "-1"}, {"--lr", "-1 out of range"}},
    {{"--batch-size", "-5"}, {"--batch-size", "-5 out of range"}},
    {{"--batch-size", "1.5"}, {"--batch-size", "'1.5'"}},
    {{"--batch-size", "0"}, {"--batch-size", "0 out of range"}},
    {{"--batch-size", "99999999999999999999"}, {"--batch-size", "'99999999999999999999'"}},
    {{"--batch-size", "3000000000"}, {"--batch-size", "3000000000 out of range"}},
    {{"--keep", "0"}, {"--keep", "0 out of range (0, 1]"}},
    {{"--keep", "1.5"}, {"--keep: 1.5 out of range (0, 1]", NULL}},
    {{"--optim", "adamw"}, {"--optim", "'adamw'"}},
    {{"--norm", "batch"}, {"--norm", "'batch'"}},
    {{"--init", "xavier"}, {"--init", "'xavier'"}},
    {{"--preprocess", "whiten"}, {"--preprocess", "'whiten'"}},
    {{"--hidden", "10,,20"}, {"--hidden", "'10,,20'"}},
    {{"--hidden", "10,-3"}, {"--hidden", "'-3'"}},
    {{"--hidden", "abc"}, {"--hidden", "'abc'"}},
    {{"--hidden", "10,"}, {"--hidden", "'10,': empty width at position 2"}},
    {{"--hidden", "0"}, {"--hidden", "'0' out of range"}},
    {{"--hidden", "2000000"}, {"--hidden", "'2000000' out of range"}},
    {{"--hidden", "99999999999999999999999"}, {"--hidden", "'99999999999999999999999' out of range [1, 1048576]"}},
    /* 2^64 + 8: digits read into a wrapping integer would come out as a width of 8 */
    {{"--hidden", "18446744073709551624"}, {"--hidden", "'18446744073709551624' out of range [1, 1048576]"}},
    {{"--hidden", "10 20"}, {"--hidden", "'10 20'"}},
    {{"--btach-size", "64"}, {"'--btach-size'", "did you mean --batch-size"}},
    {{"--frobnicate=3"}, {"unknown option '--frobnicate'", NULL}},
    {{"-x"}, {"unknown option '-x'", NULL}},
    {{"--data", "d.h5", "--lr"}, {"--lr", "missing value"}},
    {{"--data", "--lr", "0.1"}, {"--data", "missing value (next is '--lr')"}},
    {{"--seed", "-1"}, {"--seed", "'-1': not a non-negative integer"}},
    {{"--seed", "18446744073709551616"}, {"--seed", "'18446744073709551616': larger than 2^64-1"}},
    {{"--seed", "1.0"}, {"--seed", "'1.0': not a non-negative integer"}},
    {{"--epochs", "0"}, {"--epochs", "0 out of range"}},
    {{"--epochs", "2147483648"}, {"--epochs: 2147483648 out of range [1, 2147483647]", NULL}},
    /* An empty value is no number (it would read as 0: --max-steps '' meant no limit) */
    {{"--max-steps", ""}, {"--max-steps: invalid value '': not an integer", NULL}},
    {{"--keep-last", ""}, {"--keep-last: invalid value '': not an integer", NULL}},
    {{"--seed", ""}, {"--seed: invalid value '': not a non-negative integer", NULL}},
    {{"--max-steps", "1e3"}, {"--max-steps", "'1e3': not an integer"}},
    {{"--max-steps", "-1"}, {"--max-steps", "-1 out of range"}},
    {{"--print-every", "0"}, {"--print-every", "0 out of range"}},
    {{"--check-replicas", "-2"}, {"--check-replicas", "-2 out of range (must be >= 0)"}},
    {{"--keep-last", "-1"}, {"--keep-last", "-1 out of range [0, "}},
    {{"--checkpoint-every", "x"}, {"--checkpoint-every", "'x': not an integer"}},
    {{"--checkpoint-minutes", "-1"}, {"--checkpoint-minutes", "-1 out of range [0, 1e+06]"}},
    {{"--checkpoint-minutes", "nan"}, {"--checkpoint-minutes", "'nan'"}},
    {{"--momentum", "1"}, {"--momentum", "1 out of range [0, 1)"}},
    {{"--beta1", "-0.1"}, {"--beta1", "-0.1 out of range [0, 1)"}},
    {{"--beta2", "1.0"}, {"--beta2", "1.0 out of range"}},
    {{"--decay-rate", "2"}, {"--decay-rate", "2 out of range"}},
    {{"--bn-momentum", "1"}, {"--bn-momentum", "1 out of range"}},
    /* Below 1 but 1.0f in the update: no decay at all. 1 - 2^-24, the largest float below 1, is taken (below). */
    {{"--beta2", "0.99999999"},
     {"--beta2: 0.99999999 rounds to 1 in float", "the largest value below 1 there is 0.99999994039535522"}},
    {{"--momentum", "0.99999998"}, {"--momentum: 0.99999998 rounds to 1 in float", NULL}},
    {{"--decay-rate", "0.999999999"}, {"--decay-rate: 0.999999999 rounds to 1", NULL}},
    {{"--beta1", "0.99999999"}, {"--beta1: 0.99999999 rounds to 1", NULL}},
    {{"--eps", "0"}, {"--eps", "0 out of range"}},
    /* Below dropout's 2^-24 resolution a keep keeps 2^-24 of the units, not the fraction asked */
    {{"--keep", "5.96e-8"},
     {"--keep: 5.96e-8 is below 5.9604644775390625e-08 (2^-24), the resolution of dropout's random draws", NULL}},
    {{"--keep", "1e-30"}, {"--keep: 1e-30 is below 5.9604644775390625e-08", "smallest keep probability accepted"}},
    {{"--weight-scale", "0"}, {"--weight-scale", "0 out of range"}},
    {{"--lr-decay", "0"}, {"--lr-decay", "0 out of range"}},
    {{"--lr-decay", "1.01"}, {"--lr-decay", "1.01 out of range (0, 1]"}},
    {{"--val-size", "1.5"}, {"--val-size", "1.5 is neither a fraction below 1 nor a whole number of rows"}},
    {{"--val-size", "-0.1"}, {"--val-size", "-0.1 out of range"}},
    /* A row count must be exact as a double: at most 2^53. */
    {{"--val-size", "1e16"}, {"--val-size", "1e16 out of range [0, 9.0072e+15]"}},
    {{"--profile=maybe"}, {"--profile", "'maybe': expected true/false"}},
    /* A flag value is one whole word: a yes/no word followed by more is not that word. */
    {{"--data", "d.h5", "--profile=truex"}, {"--profile", "'truex': expected true/false"}},
    {{"--data", "d.h5", "--no-shuffle=1e3"}, {"--no-shuffle", "'1e3'"}},
    /* A flag's value only follows '=' (--help says so): a separate word is not taken as its value. */
    {{"--data", "d.h5", "--no-shuffle", "yes"},
     {"unexpected argument 'yes' after the flag --no-shuffle: a flag takes a value only after '=' (--no-shuffle=yes)",
      NULL}},
    {{"--out", ""}, {"--out", "'': empty path"}},
    {{"--data="}, {"--data", "'': empty path"}},
    {{"eval", "--checkpoint", "c.h5", "--split", "bogus"},
     {"--split", "unknown value 'bogus' (expected test, val or train)"}},
    {{"eval"}, {"--checkpoint", "eval"}},
    {{"train"}, {"needs --data", NULL}},
    {{"--data", "d.h5", "--split", "val"}, {"--split", "only valid with the eval command"}},
    {{"--data", "d.h5", "--best"}, {"--best", "eval"}},
    /* Options a command does not use are refused, not ignored. */
    {{"eval", "--checkpoint", "c.h5", "--hidden", "8"},
     {"--hidden: not an option of the eval command", "come from --checkpoint"}},
    {{"eval", "--checkpoint", "c.h5", "--preprocess", "none"},
     {"--preprocess: not an option of the eval command", "come from --checkpoint"}},
    {{"eval", "--checkpoint", "c.h5", "--val-size", "0.2"},
     {"--val-size: not an option of the eval command", "come from --checkpoint"}},
    /* Training options: eval does not take them, whatever the checkpoint holds. */
    {{"eval", "--checkpoint", "c.h5", "--resume", "r.h5"},
     {"--resume: not an option of the eval command: eval takes no training options (see", NULL}},
    {{"eval", "--checkpoint", "c.h5", "--batch-size", "10"},
     {"--batch-size: not an option of the eval command: eval takes no training options (see", NULL}},
    {{"eval", "--checkpoint", "c.h5", "--out", "x"},
     {"--out: not an option of the eval command: eval takes no training options (see fcnet_dist eval --help)", NULL}},
    {{"eval", "--checkpoint", "c.h5", "--epochs", "3"},
     {"--epochs: not an option of the eval command: eval takes no training options (see", NULL}},
    {{"eval", "--checkpoint", "c.h5", "--lr", "0.1"},
     {"--lr: not an option of the eval command: eval takes no training options (see", NULL}},
    {{"eval", "--checkpoint", "c.h5", "--seed", "1"}, {"--seed: not an option of the eval command", NULL}},
    {{"gradcheck", "--lr", "0.1"}, {"--lr: not an option of the gradcheck command", NULL}},
    {{"gradcheck", "--val-size", "0.2"}, {"--val-size: not an option of the gradcheck command", NULL}},
    {{"gradcheck", "--no-shuffle"}, {"--no-shuffle: not an option of the gradcheck command", NULL}},
    {{"gradcheck", "--out", "x"}, {"--out: not an option of the gradcheck command", NULL}},
    {{"gradcheck", "--bn-momentum", "0.5"}, {"--bn-momentum: not an option of the gradcheck command", NULL}},
    {{"gradcheck", "--overwrite"}, {"--overwrite: not an option of the gradcheck command", NULL}},
    /* gradcheck's checked batch is at most FC_GRADCHECK_MAX_BATCH rows: refused above, not capped. */
    {{"gradcheck", "--batch-size", "65"}, {"--batch-size: 65 out of range [1, 64]", NULL}},
    {{"gradcheck", "--batch-size=1000"}, {"--batch-size: 1000 out of range [1, 64]", NULL}},
    {{"gradcheck", "--batch-size", "0"}, {"--batch-size: 0 out of range [1, 64]", NULL}},
    {{"--data", "d.h5", "--resume", "r.h5", "--init-from", "i.h5"}, {"--resume 'r.h5'", "--init-from 'i.h5'"}},
    /* A 1-unit layernorm layer outputs its beta for every row: the net's output would not depend on the input */
    {{"--data", "d.h5", "--hidden", "8,1,4", "--norm", "layernorm"},
     {"--hidden 8,1,4: hidden layer 2 has 1 unit, which --norm layernorm normalises to 0 for every row", NULL}},
    {{"--data", "d.h5", "--norm", "layernorm", "--hidden", "1"}, {"--hidden 1: hidden layer 1 has 1 unit", NULL}},
    {{"traim", "--data", "d.h5"}, {"unknown command 'traim'", NULL}},
    /* mpirun's option given to the program */
    {{"-n", "2", "train", "--data", "d.h5"},
     {"unknown option '-n' (the rank count is mpirun's: mpirun -n N fcnet_dist ...)", NULL}},
    {{"-np", "2", "--data", "d.h5"}, {"unknown option '-np' (the rank count is mpirun's: mpirun -np N", NULL}},
    {{"train", "eval"}, {"'train'", "'eval'"}},
    {{"train", "--data", "d.h5", "stray.h5"}, {"unexpected argument 'stray.h5' (options start with --)", NULL}},
    /* Not a yes/no word: a stray argument, whatever came before it. */
    {{"train", "--data", "d.h5", "--overwrite", "stray.h5"},
     {"unexpected argument 'stray.h5' (options start with --)", NULL}},
    {{"--config", "a.ini", "--config", "b.ini"}, {"--config", "given twice"}},
    {{"--config", "/nonexistent/fcnet.ini"},
     {"--config: cannot read '/nonexistent/fcnet.ini'", "No such file or directory"}},
};

START_TEST(test_bad_value)
{
    const struct bad_case *c = &bad_cases[_i];
    char what[256];
    size_t used = 0;
    what[0] = '\0';
    for (int k = 0; k < 8 && c->args[k]; k++)
        used += (size_t)snprintf(what + used, sizeof what - used, " '%s'", c->args[k]);
    const char *args[9] = {0};
    memcpy(args, c->args, sizeof c->args);
    assert_error_has(parse_v(&cfg, args), c->need[0], c->need[1], what);
}
END_TEST

/* INI file failures name the file and the line. */
START_TEST(test_config_file_errors)
{
    static const struct {
        const char *content;
        const char *need[2];
    } cases[] = {
        {"lr = 0.1\nbatch-size = 5\nthis is not ini\n", {":3: syntax error", NULL}},
        {"[train\nlr = 0.1\n", {":1: syntax error", NULL}},
        {"[train]\nbtach-size = 64\n", {":2: unknown option 'btach-size'", "did you mean batch-size"}},
        {"btach_size = 64\n", {":1: unknown option 'btach_size'", "did you mean batch-size"}},
        {"# c\nlr = 0.1\n\nkeep = 1.5\n", {":4: keep: 1.5 out of range (0, 1]", NULL}},
        {"batch_size = 1.5\n", {":1: batch_size: invalid value '1.5'", NULL}},
        {"optim = adamw\n", {":1: optim: unknown value 'adamw'", NULL}},
        {"no-shuffle = maybe\n", {":1: no-shuffle: invalid value 'maybe'", NULL}},
        {"profile = offline\n", {":1: profile: invalid value 'offline'", NULL}},
        {"hidden = 10,,20\n", {":1: hidden: invalid value '10,,20'", NULL}},
        {"config = other.ini\n", {":1: config", "cannot name another"}},
        /* The first failing line is reported, whatever its kind. */
        {"oops\nkeep = 2\n", {":1: syntax error", NULL}},
        {"keep = 2\noops\n", {":1: keep: 2 out of range", NULL}},
        {"keep = 2\nlr = x\n", {":1: keep: 2 out of range (0, 1]", NULL}},
        /* A file's values obey the build's precision as the flags do */
        {"eps = 1e-50\n", {":1: eps: 1e-50 is below", "the smallest normal float"}},
        {"weight_scale = 1e39\n", {":1: weight_scale: 1e39", "float"}},
        {"keep = 1e-9\n", {":1: keep: 1e-9 is below 5.9604644775390625e-08 (2^-24)", NULL}},
        {"beta2 = 0.99999999\n", {":1: beta2: 0.99999999 rounds to 1 in float", NULL}},
        /* libinih would read an indented line as a continuation replacing the value above (hidden 16). */
        {"hidden = 8\n  16\n", {":2: syntax error", "an indented line does not continue"}},
        {"lr = 0.1\nhidden = 8\n\t16, 32\nkeep = 0.5\n", {":3: syntax error", NULL}},
        /* A flag's name alone, as on the command line: how to write it. Not for a name that takes a value. */
        {"lr = 0.1\nno_shuffle\n", {":2: syntax error", "(a flag is written with its value: 'no_shuffle = true')"}},
        {"  profile \r\n", {":1: syntax error", "'profile = true'"}},
        /* A name given twice is refused, also in another spelling or under another [section]. */
        {"hidden = 8\nlr = 0.1\nhidden = 16\n", {":3: 'hidden' given twice (also line 1)", NULL}},
        {"batch_size = 5\nbatch-size = 6\n", {":2: 'batch-size' given twice (also line 1)", NULL}},
        {"[model]\nhidden = 8\n[train]\nlr = 0.1\nhidden = 16\n",
         {":5: 'hidden' given twice (also line 2, under [model]", "sections do not scope names"}},
        {"lr = 0.1\n[train]\nlr = 0.2\n",
         {":3: 'lr' given twice (also line 1, before any section; sections do not scope names)", NULL}},
        {"lr = 0.1\ndata = "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         {":2: line longer than", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], what[300];
        write_temp(path, sizeof path, cases[i].content);
        snprintf(what, sizeof what, "INI case %zu", i);
        fc_status st = PARSE(&cfg, "--data", "d.h5", "--config", path);
        assert_error_has(st, cases[i].need[0], cases[i].need[1], what);
        ck_assert_msg(strncmp(fc_error_message(), path, strlen(path)) == 0, "%s: '%s' does not start with %s",
                      what, fc_error_message(), path);
        unlink(path);
    }
    /* A NUL byte would cut its line short silently ("hidden = 8<NUL>0" read as 8): refused, naming the line,
     * unless an earlier line fails first. */
#define BYTES(literal) literal, sizeof literal - 1
    static const struct {
        const char *bytes;
        size_t len;
        const char *need;
    } nul_cases[] = {
        {BYTES("lr = 0.1\nhidden = 8\0" "0\n"), ":2: contains a NUL byte"},
        {BYTES("\0"), ":1: contains a NUL byte"},
        {BYTES("oops\nlr = 0.1\0\n"), ":1: syntax error"},
    };
#undef BYTES
    for (size_t i = 0; i < sizeof nul_cases / sizeof nul_cases[0]; i++) {
        char path[256], what[64];
        write_temp_bytes(path, sizeof path, nul_cases[i].bytes, nul_cases[i].len);
        snprintf(what, sizeof what, "INI NUL case %zu", i);
        assert_error_has(PARSE(&cfg, "--data", "d.h5", "--config", path), path, nul_cases[i].need, what);
        unlink(path);
    }
    /* A directory opens but cannot be read. */
    const char *dir = fct_tmp_dir();
    assert_error_has(PARSE(&cfg, "--data", "d.h5", "--config", dir), "--config: cannot read", dir, "directory");
}
END_TEST

START_TEST(test_accepted_numbers)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--lr", ".5", "--reg", "-0", "--keep", "1", "--eps", "1E-3",
                           "--momentum", "0", "--val-size", "0.999", "--batch-size", "+8", "--seed", "007"),
                     FC_OK);
    ck_assert(cfg.optim.lr == 0.5);
    ck_assert(cfg.reg == 0.0 && !signbit(cfg.reg));
    ck_assert(cfg.keep == 1.0);
    ck_assert(cfg.optim.eps == 1e-3);
    ck_assert(cfg.optim.momentum == 0.0);
    ck_assert(cfg.val_size == 0.999);
    ck_assert_int_eq(cfg.batch_size, 8);
    ck_assert_uint_eq(cfg.seed, 7);
    /* dropout's resolution itself, 2^-24, is the smallest keep */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--keep", "5.9604644775390625e-08"), FC_OK);
    ck_assert(cfg.keep == 0x1p-24);
    /* the largest float below 1, 1 - 2^-24, is a decay rate the update keeps */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--beta2", "0.99999994039535522"), FC_OK);
    ck_assert((float)cfg.optim.beta2 < 1);
    /* The rule is the update rules' decay rates': --bn-momentum, applied in double, keeps its value. */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--bn-momentum", "0.99999999"), FC_OK);
    ck_assert(cfg.bn_momentum == 0.99999999);
    /* A checkpoint written before that rule resumes with its decay rate. */
    cfg.optim.beta2 = 0.99999999;
    ck_assert_int_eq(fc_config_check_values(&cfg, "old.h5", 1), FC_OK);
    /* A checkpoint written before --keep refused values below 2^-24 still resumes: its values are checked with
     * the flags' other rules (a keep of 0 is still refused), not with that one. */
    cfg.keep = 1e-9;
    ck_assert_int_eq(fc_config_check_values(&cfg, "old.h5", 1), FC_OK);
    ck_assert_int_eq(fc_config_check_values(&cfg, "old.h5", 0), FC_OK);
    cfg.keep = 0;
    ck_assert_int_eq(fc_config_check_values(&cfg, "old.h5", 1), FC_ERR_INPUT);
    ck_assert_msg(strstr(fc_error_message(), "old.h5: attribute 'keep' of /: 0 out of range"), "%s", fc_error_message());
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--val-size", "1"), FC_OK);
    ck_assert(cfg.val_size == 1.0);
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--val-size", "9007199254740992"), FC_OK);
    ck_assert(cfg.val_size == 9007199254740992.0);
    /* Repeated options: the last one wins. */
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--epochs", "3", "--epochs", "4"), FC_OK);
    ck_assert_int_eq(cfg.epochs, 4);
}
END_TEST

/* fc_config_parse must print nothing, even when it fails. */
START_TEST(test_parse_is_silent)
{
    char path[256];
    write_temp(path, sizeof path, "");
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    FILE *sink = fopen(path, "w");
    ck_assert(sink != NULL);
    dup2(fileno(sink), 1);
    dup2(fileno(sink), 2);
    fc_status bad = PARSE(&cfg, "--lr", "x");
    fc_status bad_ini = PARSE(&cfg, "--config", "/nonexistent/x.ini");
    fc_status good = PARSE(&cfg, "--data", "d.h5");
    fc_status help = PARSE(&cfg, "--help");
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    fclose(sink);
    ck_assert_int_eq(bad, FC_ERR_INPUT);
    ck_assert_int_eq(bad_ini, FC_ERR_INPUT);
    ck_assert_int_eq(good, FC_OK);
    ck_assert_int_eq(help, FC_OK);
    FILE *f = fopen(path, "r");
    ck_assert(f != NULL);
    ck_assert_msg(fgetc(f) == EOF, "fc_config_parse wrote output");
    fclose(f);
    unlink(path);
}
END_TEST

/* Reads the help text for command into a malloc'ed string. */
static char *help_text(fc_command command)
{
    FILE *f = tmpfile();
    ck_assert(f != NULL);
    fc_config_print_help(f, command);
    long n = ftell(f);
    ck_assert(n > 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    ck_assert(text != NULL);
    ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

START_TEST(test_help)
{
    char *text = help_text(FC_CMD_HELP);
    ck_assert(strstr(text, "fcnet_dist eval --checkpoint FILE [--data FILE] [--split NAME] [--best]\n"));
    for (int o = 0; o < FC_OPT_COUNT; o++) {
        char needle[64];
        snprintf(needle, sizeof needle, "  %s", fc_config_option_name((fc_option)o));
        ck_assert_msg(strstr(text, needle), "help lacks %s", needle);
    }
    static const char *const needles[] = {
        "Usage: fcnet_dist", "Model:", "Optimizer:", "Data:", "Run control:", "Eval",
        "[default: 100,100]", "[default: 0.01]", /* weight scale */
        "[default: 0.9]", "[default: 1e-08]", "[default: fcnet-out]", "1e-3 for adam", "[default: center]",
        "Exit status:", "0  success", "1  failure", "2  usage", "3  training diverged", "NaN",
        /* what next_arg accepts for a flag (test_equals_form, bad_cases) */
        "A flag is --name alone (on) or --name=BOOL", "true/false, yes/no, on/off, 1/0", "never --name BOOL"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        ck_assert_msg(strstr(text, needles[i]), "help lacks '%s'", needles[i]);
    /* Every line fits a terminal. */
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        ck_assert_msg(len <= 100, "help line longer than 100: '%.*s'", (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(text);
    /* With a command word, exactly the options that command takes. */
    text = help_text(FC_CMD_EVAL);
    ck_assert(strstr(text, "eval: loads --checkpoint"));
    /* --data is optional: the checkpoint records the dataset it was trained on. */
    ck_assert(strstr(text, "fcnet_dist eval --checkpoint FILE [--data FILE] [--split NAME] [--best]\n"));
    for (const char *const *o = (const char *const[]){"  --checkpoint", "  --split", "  --best", "  --data",
                                                       "  --config", NULL};
         *o; o++)
        ck_assert_msg(strstr(text, *o), "eval help lacks %s", *o);
    for (const char *const *o = (const char *const[]){"  --hidden", "  --lr", "  --resume", "  --out", "Model:", NULL};
         *o; o++)
        ck_assert_msg(!strstr(text, *o), "eval help shows %s", *o);
    free(text);
    text = help_text(FC_CMD_GRADCHECK);
    ck_assert(strstr(text, "gradcheck:"));
    ck_assert(strstr(text, "  --hidden") && strstr(text, "  --seed") && strstr(text, "  --batch-size"));
    ck_assert(!strstr(text, "  --lr") && !strstr(text, "  --out") && !strstr(text, "  --checkpoint FILE"));
    /* gradcheck's exit 2 also for a result that proves nothing (README's Exit codes) */
    ck_assert(strstr(text, "a result that proves nothing: a non-finite loss,\n     a tensor with no element checked, "
                           "one whose numerical derivatives all lie within their\n     error bars (unresolved), or "
                           "every tensor only ok*\n"));
    free(text);
    text = help_text(FC_CMD_TRAIN);
    ck_assert(strstr(text, "  --lr") && strstr(text, "  --overwrite") && !strstr(text, "  --checkpoint FILE"));
    free(text);
}
END_TEST

/* "Did you mean" only for a near miss: at most two edits, and fewer edits than the name has characters, so that
 * an unrelated or short word is not offered some option it happens to be close to. */
START_TEST(test_suggestion_only_for_near_miss)
{
    static const struct {
        const char *arg, *hint; /* NULL: no suggestion */
    } cases[] = {
        {"--sed", " (did you mean --seed?)"},  /* one edit */
        {"--btach-size", " (did you mean --batch-size?)"}, /* a transposition: two */
        {"--seedxyz", NULL}, /* three edits from --seed */
        {"--xy", NULL},      /* two edits from --lr, but the whole name */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "'%s'", cases[i].arg);
        assert_error_has(PARSE(&cfg, "--data", "d.h5", cases[i].arg, "1"), "unknown option", cases[i].arg, what);
        const char *msg = fc_error_message(), *hint = strstr(msg, " (did you mean");
        if (cases[i].hint)
            ck_assert_msg(hint && strcmp(hint, cases[i].hint) == 0, "%s: '%s'", what, msg);
        else
            ck_assert_msg(!hint, "%s: a far-off name got a suggestion: '%s'", what, msg);
    }
}
END_TEST

/* The rule under every "did you mean" (fcnet_dist's flags and INI keys, the dataset tools' flags), on a table of its
 * own: which index fc_nearest_name gives, -1 for none. */
START_TEST(test_nearest_name)
{
    static const char *const flags[] = {"--out", "--train", "--features", "--seed", "--lr", "--ab", "--ac"};
    static const struct {
        const char *word;
        size_t len;
        int want;
    } cases[] = {
        {"feature", 7, 2},  /* one edit */
        {"trian", 5, 1},    /* a transposition: two edits */
        {"seedxyz", 7, -1}, /* three */
        {"xyzseed", 7, -1}, /* three, at the front: each leading letter dropped is an edit */
        {"xy", 2, -1},      /* two from lr, but the whole word */
        {"ou", 2, 0},       /* one, fewer than the word's two characters */
        {"out", 3, 0},      /* the name itself (a word given with one dash or none) */
        {"seed=5", 4, 3},   /* only word[0..len) counts */
        {"aa", 2, 5},       /* one from ab and from ac: the first */
        {"", 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(fc_nearest_name(cases[i].word, cases[i].len, flags, 7, 2) == cases[i].want,
                      "'%.*s': want %d, got %d", (int)cases[i].len, cases[i].word, cases[i].want,
                      fc_nearest_name(cases[i].word, cases[i].len, flags, 7, 2));
    /* skip 0: names compared whole */
    static const char *const keys[] = {"batch-size", "seed"};
    ck_assert_int_eq(fc_nearest_name("btach-size", 10, keys, 2, 0), 0);
    ck_assert_int_eq(fc_nearest_name("ab", 2, flags, 7, 2), 5);
    ck_assert_int_eq(fc_nearest_name("ab", 2, flags, 7, 0), -1); /* "--ab" is two edits away: the whole word */
    ck_assert_int_eq(fc_nearest_name("seed", 4, keys, 0, 0), -1);   /* no names */
    /* 63 characters are compared, 64 never: not even a name equal to the word, nor a word one edit from a name */
    char name[65], word[65];
    const char *const names[] = {name};
    memset(name, 'a', 64);
    memcpy(word, name, 64);
    name[64] = word[64] = '\0';
    ck_assert_int_eq(fc_nearest_name(word, 64, names, 1, 0), -1);
    name[63] = '\0';
    ck_assert_int_eq(fc_nearest_name(word, 64, names, 1, 0), -1);
    ck_assert_int_eq(fc_nearest_name(word, 63, names, 1, 0), 0);
    name[63] = 'a'; /* and a 64-character name is never near, not even to a 63-character word one edit off */
    ck_assert_int_eq(fc_nearest_name(word, 63, names, 1, 0), -1);
}
END_TEST

START_TEST(test_option_names)
{
    for (int a = 0; a < FC_OPT_COUNT; a++) {
        const char *name = fc_config_option_name((fc_option)a);
        ck_assert_msg(strncmp(name, "--", 2) == 0 && strlen(name) > 2, "option %d: '%s'", a, name);
        for (int b = 0; b < a; b++) ck_assert_str_ne(name, fc_config_option_name((fc_option)b));
    }
    ck_assert_str_eq(fc_config_option_name(FC_OPT_BATCH_SIZE), "--batch-size");
    ck_assert_str_eq(fc_config_option_name(FC_OPT_NO_SHUFFLE), "--no-shuffle");
}
END_TEST

START_TEST(test_config_net)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "d.h5", "--hidden", "20,30", "--norm", "batchnorm", "--keep", "0.5",
                           "--reg", "0.1", "--weight-scale", "0.02", "--init", "he", "--bn-momentum", "0.7",
                           "--seed", "99"),
                     FC_OK);
    fc_net_config net = fc_config_net(&cfg, 784, 10);
    ck_assert_int_eq(net.n_input, 784);
    ck_assert_int_eq(net.n_classes, 10);
    ck_assert_int_eq(net.n_hidden, 2);
    ck_assert(net.hidden == cfg.hidden);
    ck_assert_int_eq(net.hidden[1], 30);
    ck_assert_int_eq(net.norm, FC_NORM_BATCH);
    ck_assert(net.keep == 0.5);
    ck_assert(net.reg == 0.1);
    ck_assert(net.weight_scale == 0.02);
    ck_assert_int_eq(net.init, FC_INIT_HE);
    ck_assert(net.bn_momentum == 0.7);
    ck_assert_uint_eq(net.seed, 99);
}
END_TEST

/* fc_config_write_ini's output read back by --config gives every value again. */
START_TEST(test_write_ini_round_trip)
{
    ck_assert_int_eq(PARSE(&cfg, "--data", "sets/x y.h5", "--hidden", "7,9,11", "--norm", "layernorm", "--keep",
                           "0.3", "--reg", "1e-5", "--optim", "rmsprop", "--lr", "0.0123456789012345", "--seed",
                           "18446744073709551615", "--no-shuffle", "--profile", "--val-size", "250", "--out",
                           "o", "--init-from", "w.h5", "--max-steps", "12", "--preprocess", "none"),
                     FC_OK);
    char path[256];
    write_temp(path, sizeof path, "");
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fc_config_write_ini(f, &cfg);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(PARSE(&other, "--config", path), FC_OK);
    unlink(path);
    for (int o = 0; o < FC_OPT_COUNT; o++) {
        if (o == FC_OPT_CONFIG) continue;
        char a[4096], b[4096];
        fc_config_value(&cfg, (fc_option)o, a, sizeof a);
        fc_config_value(&other, (fc_option)o, b, sizeof b);
        ck_assert_msg(strcmp(a, b) == 0, "%s: wrote '%s', read '%s'", fc_config_option_name((fc_option)o), a, b);
    }
    ck_assert(other.optim.lr == cfg.optim.lr); /* exact, not just the same text */
    ck_assert(other.seed == UINT64_MAX);
    /* The loop above compares fc_config_value's text of both sides: a value it printed wrongly (an enum's
     * name, a path) is written and read back as that same wrong text, and the loop passes. The fields
     * themselves, read back from the file, against what the command line gave: */
    ck_assert_str_eq(other.data, "sets/x y.h5");
    ck_assert_int_eq(other.n_hidden, 3);
    ck_assert(other.hidden[0] == 7 && other.hidden[1] == 9 && other.hidden[2] == 11);
    ck_assert_int_eq(other.norm, FC_NORM_LAYER);
    ck_assert(other.keep == 0.3 && other.reg == 1e-5);
    ck_assert_int_eq(other.optim.kind, FC_OPTIM_RMSPROP);
    ck_assert(other.optim.lr == 0.0123456789012345);
    ck_assert_int_eq(other.shuffle, 0);
    ck_assert_int_eq(other.profile, 1);
    ck_assert(other.val_size == 250);
    ck_assert_str_eq(other.out, "o");
    ck_assert_str_eq(other.init_from, "w.h5");
    ck_assert_int_eq(other.max_steps, 12);
    ck_assert_int_eq(other.preprocess, FC_PRE_NONE);

    char v[64];
    ck_assert_str_eq(fc_config_value(&cfg, FC_OPT_HIDDEN, v, sizeof v), "7,9,11");
    ck_assert_str_eq(fc_config_value(&cfg, FC_OPT_KEEP, v, sizeof v), "0.3");
    ck_assert_str_eq(fc_config_value(&cfg, FC_OPT_NO_SHUFFLE, v, sizeof v), "true");
    ck_assert_str_eq(fc_config_value(&cfg, FC_OPT_OPTIM, v, sizeof v), "rmsprop");
    cfg.n_hidden = 0;
    ck_assert_str_eq(fc_config_value(&cfg, FC_OPT_HIDDEN, v, sizeof v), "none");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_option);
    tcase_add_test(tc, test_equals_form);
    tcase_add_test(tc, test_commands);
    tcase_add_test(tc, test_lr_default_by_optimizer);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_opt_set);
    tcase_add_test(tc, test_hidden_forms);
    tcase_add_test(tc, test_path_length);
    tcase_add_loop_test(tc, test_bad_value, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_config_file_errors);
    tcase_add_test(tc, test_accepted_numbers);
    tcase_add_test(tc, test_parse_is_silent);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_suggestion_only_for_near_miss);
    tcase_add_test(tc, test_nearest_name);
    tcase_add_test(tc, test_option_names);
    tcase_add_test(tc, test_config_net);
    tcase_add_test(tc, test_write_ini_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) { return fct_run(config_suite(), argc, argv); }
