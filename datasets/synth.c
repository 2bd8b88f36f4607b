/* fcnet_synth: small synthetic classification sets in fcnet's dataset format, for tests and demos.
 *
 * Each class is a mixture of two Gaussian blobs: centres drawn once from N(0, (2.5 / sqrt(D))^2 I)
 * (so blob distances stay about 3.5 whatever D is), rows = a centre of their class + N(0, noise^2 I).
 * Two blobs per class make the classes not linearly separable, so a hidden layer helps; with the default
 * noise 1 the classes overlap, so no model reaches 100%. Every value is a pure function of
 * (seed, split, row, feature) through the counter-based generator (stream FC_RNG_TEST), so the same
 * command writes the same file on any machine. Exit codes: 0 success, 2 usage, 1 write failure. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "dsout.h"
#include "fcnet/h5quiet.h"
#include "fcnet/rng.h"

#define BLOBS_PER_CLASS 2
#define CENTRE_SCALE 2.5
/* Counter "a" values that keep the draws of each purpose apart. */
enum { DRAW_CENTRES = 0, DRAW_TRAIN = 1, DRAW_VAL = 2, DRAW_TEST = 3 };

typedef struct options {
    const char *out;
    long long n[3]; /* train, val, test rows */
    long long features, classes;
    unsigned long long seed;
    int uint8_x;
    double noise;
} options;

static const char usage_text[] =
    "usage: fcnet_synth --out F [--train N] [--val N] [--test N] [--features D] [--classes C]\n"
    "                   [--seed S] [--dtype uint8|float32] [--noise X]\n"
    "\n"
    "Writes a synthetic dataset (two Gaussian blobs per class, class-dependent means, noise std X)\n"
    "in fcnet's HDF5 format; deterministic from the seed. Defaults: --train 1000 --val 0 --test 0\n"
    "--features 20 --classes 5 --seed 0 --dtype float32 --noise 1. Splits with 0 rows are omitted\n"
    "(val, test). uint8 maps a value v to clamp(round(127.5 + 32 v), 0, 255).\n"
    "Exit status: 0 success, 2 usage error, 1 output write failure.\n";

enum { OPT_OUT, OPT_TRAIN, OPT_VAL, OPT_TEST, OPT_FEATURES, OPT_CLASSES, OPT_SEED, OPT_DTYPE, OPT_NOISE, N_OPTS };
static const char *const flags[N_OPTS] = {
    [OPT_OUT] = "--out", [OPT_TRAIN] = "--train", [OPT_VAL] = "--val", [OPT_TEST] = "--test",
    [OPT_FEATURES] = "--features", [OPT_CLASSES] = "--classes", [OPT_SEED] = "--seed", [OPT_DTYPE] = "--dtype",
    [OPT_NOISE] = "--noise"};
static const fc_args_tool tool = {"fcnet_synth", flags, N_OPTS, "missing value after '%s'", usage_text};

static int parse_count(long long *out, const char *flag, const char *value, long long min, long long max)
{
    if (fc_args_integer(out, value, min, max)) return 0;
    return fc_args_usage_error(&tool, "%s expects an integer in [%lld, %lld], got '%s'", flag, min, max, value);
}

static int set_option(void *ctx, int flag, const char *value)
{
    options *o = ctx;
    char *end;
    switch (flag) {
    case OPT_OUT: o->out = value; return 0;
    case OPT_TRAIN: return parse_count(&o->n[0], flags[flag], value, 1, 1LL << 31);
    case OPT_VAL: return parse_count(&o->n[1], flags[flag], value, 0, 1LL << 31);
    case OPT_TEST: return parse_count(&o->n[2], flags[flag], value, 0, 1LL << 31);
    case OPT_FEATURES: return parse_count(&o->features, flags[flag], value, 1, 1 << 20);
    case OPT_CLASSES: return parse_count(&o->classes, flags[flag], value, 2, 256);
    case OPT_SEED:
        errno = 0;
        o->seed = strtoull(value, &end, 10);
        /* digits only: strtoull skips spaces, takes a sign (" -5" would wrap) and clamps on overflow */
        if (!isdigit((unsigned char)value[0]) || *end != '\0' || errno == ERANGE)
            return fc_args_usage_error(&tool, "--seed expects an integer in [0, 2^64), got '%s'", value);
        return 0;
    case OPT_DTYPE:
        if (strcmp(value, "uint8") == 0) o->uint8_x = 1;
        else if (strcmp(value, "float32") == 0) o->uint8_x = 0;
        else return fc_args_usage_error(&tool, "--dtype expects uint8 or float32, got '%s'", value);
        return 0;
    case OPT_NOISE:
        o->noise = strtod(value, &end);
        if (*value == '\0' || *end != '\0' || !(o->noise >= 0) || isinf(o->noise))
            return fc_args_usage_error(&tool, "--noise expects a number >= 0, got '%s'", value);
        return 0;
    }
    return 0;
}

/* 0, a usage error's exit status, or FC_ARGS_HELP (the usage printed) for --help / -h in place of an option. */
static int parse_args(options *o, int argc, char **argv)
{
    *o = (options){.n = {1000, 0, 0}, .features = 20, .classes = 5, .noise = 1.0};
    int rc = fc_args_parse(&tool, argc, argv, 1, set_option, o);
    if (rc) return rc;
    if (!o->out) return fc_args_usage_error(&tool, "missing option '--out'");
    /* "" made the temporary ".tmp" in the working directory, replacing one there, and failed only at the rename */
    if (!o->out[0]) return fc_args_usage_error(&tool, "--out expects a file name, got ''");
    if (o->n[0] * o->features > (1LL << 31) || o->n[1] * o->features > (1LL << 31) ||
        o->n[2] * o->features > (1LL << 31))
        return fc_args_usage_error(&tool,
                                   "too large: rows x features must stay below 2^31 per split, see '--features'");
    return 0;
}

/* Standard normal number j of the stream (seed, a, row): Box-Muller on two 53-bit uniforms, the pair
 * (2k, 2k+1) sharing one Philox block. */
static double normal_draw(uint64_t seed, uint32_t a, uint32_t row, uint32_t j)
{
    uint32_t w[4];
    fc_rng_block(w, seed, FC_RNG_TEST, a, 0, row, j / 2);
    const double u1 = fc_rng_unit_double(w[0], w[1]), u2 = fc_rng_unit_double(w[2], w[3]);
    const double r = sqrt(-2.0 * log(1.0 - u1)), t = 6.283185307179586 * u2;
    return r * ((j & 1) ? sin(t) : cos(t));
}

/* Writes one split: row i has label and blob from one block (b = 1), features from its normals. */
static fc_status put_split(fc_dsout *out, const options *o, const double *centres, const char *name, int draw,
                           int64_t n)
{
    const int d = (int)o->features;
    const size_t count = (size_t)n * (size_t)d;
    uint8_t *y = malloc((size_t)n);
    float *xf = o->uint8_x ? NULL : malloc(count * sizeof *xf);
    uint8_t *xu = o->uint8_x ? malloc(count) : NULL;
    if (!y || (!xf && !xu)) {
        free(y);
        free(xf);
        free(xu);
        return fc_error_set(FC_ERR_FAIL, "%s: out of memory for %lld rows", out->path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[4];
        fc_rng_block(w, o->seed, FC_RNG_TEST, (uint32_t)draw, 1, (uint32_t)i, 0);
        const int label = (int)(w[0] % (uint32_t)o->classes), blob = (int)(w[1] % BLOBS_PER_CLASS);
        const double *centre = centres + ((size_t)label * BLOBS_PER_CLASS + (size_t)blob) * (size_t)d;
        y[i] = (uint8_t)label;
        for (int j = 0; j < d; j++) {
            const double v = centre[j] + o->noise * normal_draw(o->seed, (uint32_t)draw, (uint32_t)i, (uint32_t)j);
            const size_t at = (size_t)i * (size_t)d + (size_t)j;
            if (xf) {
                /* fcnet_dist refuses a file with Inf in it: say so here, where the cause is known (and before
                 * the conversion, which C leaves undefined out of float's range). */
                if (!(fabs(v) <= (double)FLT_MAX)) {
                    free(y);
                    free(xf);
                    return fc_error_set(FC_ERR_INPUT, "--noise %g: %s row %lld feature %d would be %g, beyond "
                                        "float32's range; use a smaller --noise (or --dtype uint8)",
                                        o->noise, name, (long long)i, j, v);
                }
                xf[at] = (float)v;
            } else {
                const double q = floor(127.5 + 32.0 * v + 0.5);
                xu[at] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
    }
    fc_status st = xf ? fc_dsout_put_split(out, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, xf, n, d, y)
                      : fc_dsout_put_split(out, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, xu, n, d, y);
    free(y);
    free(xf);
    free(xu);
    return st;
}

int main(int argc, char **argv)
{
    fc_h5_no_exit_cleanup();
    fc_file_size_limit_as_error();
    options o;
    int rc = parse_args(&o, argc, argv);
    if (rc == FC_ARGS_HELP) return 0;
    if (rc) return rc;

    const int d = (int)o.features;
    const size_t n_centres = (size_t)o.classes * BLOBS_PER_CLASS;
    double *centres = malloc(n_centres * (size_t)d * sizeof *centres);
    if (!centres) {
        fprintf(stderr, "fcnet_synth: out of memory\n");
        return FC_ERR_FAIL;
    }
    /* Scale 1/sqrt(D): the expected distance between two centres is CENTRE_SCALE * sqrt(2) for any D. */
    const double scale = CENTRE_SCALE / sqrt((double)d);
    for (size_t c = 0; c < n_centres; c++)
        for (int j = 0; j < d; j++)
            centres[c * (size_t)d + (size_t)j] =
                scale * normal_draw(o.seed, DRAW_CENTRES, (uint32_t)c, (uint32_t)j);

    fc_dsout out;
    fc_status st = fc_dsout_open(&out, o.out);
    static const char *const names[3] = {"train", "val", "test"};
    static const int draws[3] = {DRAW_TRAIN, DRAW_VAL, DRAW_TEST};
    for (int s = 0; s < 3 && st == FC_OK; s++)
        if (s == 0 || o.n[s] > 0) st = put_split(&out, &o, centres, names[s], draws[s], o.n[s]);
    char source[256];
    snprintf(source, sizeof source, "fcnet_synth seed=%llu features=%d classes=%lld noise=%g dtype=%s", o.seed, d,
             o.classes, o.noise, o.uint8_x ? "uint8" : "float32");
    if (st == FC_OK) st = fc_dsout_put_attrs(&out, (int)o.classes, source);
    if (st == FC_OK) st = fc_dsout_commit(&out);
    if (st != FC_OK) {
        fc_dsout_abort(&out);
        fprintf(stderr, "fcnet_synth: %s\n", fc_error_message());
    }
    free(centres);
    return (int)st;
}
