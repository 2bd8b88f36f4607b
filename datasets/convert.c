/* fcnet_convert: MNIST / Fashion-MNIST IDX files or CIFAR-10 binary batches -> an fcnet dataset
 * file (uint8 x flattened row-major, uint8 y, num_classes = 10). The last --val training rows become
 * /val. Exit codes: 0 success, 2 usage error or malformed input (one line on stderr naming the file),
 * 1 failure writing the output. No output file is left behind on failure. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "dsout.h"
#include "readers.h"
#include "fcnet/h5quiet.h"

#define N_CLASSES 10

static const char usage_text[] =
    "usage: fcnet_convert idx --train-images F --train-labels F --test-images F --test-labels F\n"
    "                         [--val N] --out OUT.h5\n"
    "       fcnet_convert cifar10 --dir D [--val N] --out OUT.h5\n"
    "\n"
    "Converts MNIST/Fashion-MNIST IDX files (gzip or plain) or the CIFAR-10 binary batches\n"
    "(D/data_batch_1.bin .. data_batch_5.bin, D/test_batch.bin) into fcnet's HDF5 dataset format:\n"
    "/train, /val (the last N training rows; omitted when N = 0) and /test, each with x (n, features)\n"
    "uint8 and y (n,) uint8, and the root attribute num_classes = 10. CIFAR-10 keeps the files'\n"
    "channel-major pixel order (1024 red, 1024 green, 1024 blue). The output is written to OUT.h5.tmp\n"
    "and renamed into place only when complete.\n"
    "Exit status: 0 success, 2 usage error or malformed input, 1 output write failure.\n";

typedef struct options {
    const char *mode;
    const char *train_images, *train_labels, *test_images, *test_labels;
    const char *dir;
    const char *out;
    long long val;
} options;

enum { OPT_TRAIN_IMAGES, OPT_TRAIN_LABELS, OPT_TEST_IMAGES, OPT_TEST_LABELS, OPT_DIR, OPT_OUT, OPT_VAL, N_OPTS };
static const char *const flags[N_OPTS] = {
    [OPT_TRAIN_IMAGES] = "--train-images", [OPT_TRAIN_LABELS] = "--train-labels",
    [OPT_TEST_IMAGES] = "--test-images", [OPT_TEST_LABELS] = "--test-labels", [OPT_DIR] = "--dir", [OPT_OUT] = "--out",
    [OPT_VAL] = "--val"};
static const fc_args_tool tool = {"fcnet_convert", flags, N_OPTS, "%s needs a value", usage_text};

static int set_option(void *ctx, int flag, const char *value)
{
    options *o = ctx;
    switch (flag) {
    case OPT_TRAIN_IMAGES: o->train_images = value; break;
    case OPT_TRAIN_LABELS: o->train_labels = value; break;
    case OPT_TEST_IMAGES: o->test_images = value; break;
    case OPT_TEST_LABELS: o->test_labels = value; break;
    case OPT_DIR: o->dir = value; break;
    case OPT_OUT: o->out = value; break;
    case OPT_VAL:
        if (!fc_args_integer(&o->val, value, 0, LLONG_MAX))
            return fc_args_usage_error(&tool, "--val '%s': expected a row count >= 0 (at most 2^63 - 1)", value);
        break;
    }
    return 0;
}

/* 0, a usage error's exit status, or FC_ARGS_HELP (the usage printed) for --help / -h in place of the mode or of
 * an option. */
static int parse_args(options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    if (argc < 2) return fc_args_usage_error(&tool, "missing mode: idx or cifar10");
    if (fc_args_is_help(argv[1])) return fc_args_help(&tool);
    o->mode = argv[1];
    if (strcmp(o->mode, "idx") != 0 && strcmp(o->mode, "cifar10") != 0)
        return fc_args_usage_error(&tool, "unknown mode '%s': expected idx or cifar10", o->mode);
    int rc = fc_args_parse(&tool, argc, argv, 2, set_option, o);
    if (rc) return rc;
    if (!o->out) return fc_args_usage_error(&tool, "--out is required");
    /* "" made the temporary ".tmp" in the working directory, replacing one there, and failed only at the rename */
    if (!o->out[0]) return fc_args_usage_error(&tool, "--out '': expected a file name");
    if (strcmp(o->mode, "idx") == 0) {
        if (!o->train_images || !o->train_labels || !o->test_images || !o->test_labels)
            return fc_args_usage_error(&tool,
                                       "idx needs --train-images, --train-labels, --test-images and --test-labels");
        if (o->dir) return fc_args_usage_error(&tool, "--dir belongs to cifar10");
    } else {
        if (!o->dir) return fc_args_usage_error(&tool, "cifar10 needs --dir");
        if (o->train_images || o->train_labels || o->test_images || o->test_labels)
            return fc_args_usage_error(&tool, "--train-images and the like belong to idx");
    }
    return 0;
}

/* images and labels of one split must agree in count. */
static fc_status check_pair(const fc_raw *images, const char *images_path, const fc_raw *labels,
                            const char *labels_path)
{
    if (images->n == labels->n) return FC_OK;
    return fc_error_set(FC_ERR_INPUT, "%s: %lld labels but %s has %lld images", labels_path,
                        (long long)labels->n, images_path, (long long)images->n);
}

static fc_status read_idx(fc_raw *train_x, fc_raw *train_y, fc_raw *test_x, fc_raw *test_y, const options *o)
{
    fc_status st = fc_idx_read_images(train_x, o->train_images);
    if (st == FC_OK) st = fc_idx_read_labels(train_y, o->train_labels, N_CLASSES);
    if (st == FC_OK) st = check_pair(train_x, o->train_images, train_y, o->train_labels);
    if (st == FC_OK) st = fc_idx_read_images(test_x, o->test_images);
    if (st == FC_OK) st = fc_idx_read_labels(test_y, o->test_labels, N_CLASSES);
    if (st == FC_OK) st = check_pair(test_x, o->test_images, test_y, o->test_labels);
    if (st == FC_OK && (test_x->rows != train_x->rows || test_x->cols != train_x->cols))
        st = fc_error_set(FC_ERR_INPUT, "%s: images are %dx%d but %s has %dx%d", o->test_images, test_x->rows,
                          test_x->cols, o->train_images, train_x->rows, train_x->cols);
    return st;
}

/* CIFAR-10's batch b of dir: 1 to 5 the training batches, 6 the test batch. */
static void cifar_batch_path(char *path, size_t size, const char *dir, int b)
{
    if (b <= 5)
        snprintf(path, size, "%s/data_batch_%d.bin", dir, b);
    else
        snprintf(path, size, "%s/test_batch.bin", dir);
}

static fc_status read_cifar(fc_raw *train_x, fc_raw *train_y, fc_raw *test_x, fc_raw *test_y, const options *o)
{
    char path[8192];
    fc_status st = FC_OK;
    for (int b = 1; st == FC_OK && b <= 5; b++) {
        cifar_batch_path(path, sizeof path, o->dir, b);
        st = fc_cifar_read_batch(train_x, train_y, path);
    }
    cifar_batch_path(path, sizeof path, o->dir, 6);
    if (st == FC_OK) st = fc_cifar_read_batch(test_x, test_y, path);
    return st;
}

/* Whether name is the file at input, or (tmp) a name whose removal deletes it. The output is written to OUT.tmp
 * (a stale one removed first) and renamed over OUT: an --out naming an input replaced that input after reading
 * it, an input called OUT.tmp was removed as a stale temporary. A link as --out is replaced, not followed; an
 * input reached through a link is the file it names. */
static int names_input(const char *name, const char *input)
{
    struct stat in, at;
    return stat(input, &in) == 0 && lstat(name, &at) == 0 && !S_ISLNK(at.st_mode) && at.st_dev == in.st_dev &&
           at.st_ino == in.st_ino;
}

/* Refuses an --out (or its temporary) that is one of the input files, before anything is read or written. */
static int refuse_output_over_input(const options *o)
{
    char batches[6][8192], tmp[8192];
    const char *inputs[6] = {o->train_images, o->train_labels, o->test_images, o->test_labels};
    const char *input_flags[6] = {flags[OPT_TRAIN_IMAGES], flags[OPT_TRAIN_LABELS], flags[OPT_TEST_IMAGES],
                                  flags[OPT_TEST_LABELS]};
    int n = 4;
    if (strcmp(o->mode, "idx") != 0)
        for (n = 0; n < 6; n++) {
            cifar_batch_path(batches[n], sizeof batches[n], o->dir, n + 1);
            inputs[n] = batches[n];
            input_flags[n] = flags[OPT_DIR];
        }
    snprintf(tmp, sizeof tmp, "%s.tmp", o->out);
    for (int i = 0; i < n; i++) {
        if (names_input(o->out, inputs[i]))
            return fc_args_usage_error(&tool, "--out %s is the input %s %s: it would be replaced; choose another name",
                                       o->out, input_flags[i], inputs[i]);
        if (names_input(tmp, inputs[i]))
            return fc_args_usage_error(&tool, "--out %s: its temporary %s is the input %s %s, which would be "
                                       "removed; choose another name", o->out, tmp, input_flags[i], inputs[i]);
    }
    return 0;
}

static fc_status write_output(const options *o, const fc_raw *train_x, const fc_raw *train_y,
                              const fc_raw *test_x, const fc_raw *test_y)
{
    if (o->val >= train_x->n)
        return fc_error_set(FC_ERR_INPUT,
                            "--val %lld: the training files have only %lld rows (at least 1 must stay)", o->val,
                            (long long)train_x->n);
    const int64_t n_val = o->val, n_train = train_x->n - n_val;
    const int d = train_x->d;
    fc_dsout out;
    fc_status st = fc_dsout_open(&out, o->out);
    if (st == FC_OK)
        st = fc_dsout_put_split(&out, "train", H5T_STD_U8LE, H5T_NATIVE_UINT8, train_x->data, n_train, d,
                                train_y->data);
    if (st == FC_OK && n_val > 0)
        st = fc_dsout_put_split(&out, "val", H5T_STD_U8LE, H5T_NATIVE_UINT8, train_x->data + (size_t)n_train * d,
                                n_val, d, train_y->data + n_train);
    if (st == FC_OK)
        st = fc_dsout_put_split(&out, "test", H5T_STD_U8LE, H5T_NATIVE_UINT8, test_x->data, test_x->n, d,
                                test_y->data);
    char source[64];
    snprintf(source, sizeof source, "fcnet_convert %s", o->mode);
    if (st == FC_OK) st = fc_dsout_put_attrs(&out, N_CLASSES, source);
    if (st == FC_OK) st = fc_dsout_commit(&out);
    if (st != FC_OK) fc_dsout_abort(&out);
    if (st == FC_OK)
        printf("fcnet_convert: wrote %s: train %lld, val %lld, test %lld rows of %d features\n", o->out,
               (long long)n_train, (long long)n_val, (long long)test_x->n, d);
    return st;
}

int main(int argc, char **argv)
{
    fc_h5_no_exit_cleanup();
    fc_file_size_limit_as_error();
    options o;
    int rc = parse_args(&o, argc, argv);
    if (rc == FC_ARGS_HELP) return 0;
    if (rc == 0) rc = refuse_output_over_input(&o);
    if (rc != 0) return rc;

    fc_raw train_x = {0}, train_y = {0}, test_x = {0}, test_y = {0};
    fc_status st = strcmp(o.mode, "idx") == 0 ? read_idx(&train_x, &train_y, &test_x, &test_y, &o)
                                              : read_cifar(&train_x, &train_y, &test_x, &test_y, &o);
    if (st == FC_OK) st = write_output(&o, &train_x, &train_y, &test_x, &test_y);
    if (st != FC_OK) fprintf(stderr, "fcnet_convert: %s\n", fc_error_message());
    fc_raw_free(&train_x);
    fc_raw_free(&train_y);
    fc_raw_free(&test_x);
    fc_raw_free(&test_y);
    return (int)st;
}
