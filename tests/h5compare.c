/* h5compare: compares numeric datasets and attributes of two HDF5 files element by element and prints
 * the worst error of each. Test-only tool (CI has no Python): tests/test_train_reference.sh uses it to
 * hold fcnet's checkpoints against the reference's expected state and against each other.
 *
 *   h5compare GOT.h5 WANT.h5 [--rtol R] [--atol A] [--natol N] SPEC... [--skip SPEC] ...
 *
 * SPEC is a dataset (/params/W1), a group (/params: every dataset below it; both files must hold the
 * same names there) or an attribute (/optim@t, /@step). Options apply to the SPECs after them; a later
 * SPEC naming a dataset again replaces its tolerances, --skip SPEC drops it. An element passes when
 *   |got - want| <= atol + natol * max|want of that tensor| + rtol * |want|
 * (natol: an absolute floor scaled to the tensor, for elements far below their tensor's magnitude, whose
 * rounding errors come from terms of the tensor's size). Both NaN counts as equal.
 * Exit status: 0 every element passes, 1 some do not, 2 usage or file errors. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *path;   /* dataset path, or object path for an attribute (owned) */
    char *attr;   /* attribute name, or NULL for a dataset (owned) */
    double rtol, atol, natol;
} entry;

typedef struct entry_list {
    entry *v;
    int n, cap;
} entry_list;

typedef struct name_list {
    char **v;
    int n, cap;
} name_list;

static _Noreturn void die(const char *msg, const char *what)
{
    fprintf(stderr, "h5compare: %s%s%s\n", msg, what ? ": " : "", what ? what : "");
    exit(2);
}

static char *dup_str(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (!d) die("out of memory", NULL);
    return strcpy(d, s);
}

static void names_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (!l->v) die("out of memory", NULL);
    }
    l->v[l->n++] = dup_str(s);
}

static void names_free(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int find_entry(const entry_list *l, const char *path, const char *attr)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i].path, path) == 0 && ((!attr && !l->v[i].attr) || (attr && l->v[i].attr && strcmp(attr, l->v[i].attr) == 0)))
            return i;
    return -1;
}

static void entries_set(entry_list *l, const char *path, const char *attr, double rtol, double atol, double natol)
{
    int i = find_entry(l, path, attr);
    if (i < 0) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 32;
            l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
            if (!l->v) die("out of memory", NULL);
        }
        i = l->n++;
        l->v[i].path = dup_str(path);
        l->v[i].attr = attr ? dup_str(attr) : NULL;
    }
    l->v[i].rtol = rtol;
    l->v[i].atol = atol;
    l->v[i].natol = natol;
}

static void entries_drop(entry_list *l, const char *path, const char *attr)
{
    int i = find_entry(l, path, attr);
    if (i < 0) return;
    free(l->v[i].path);
    free(l->v[i].attr);
    memmove(l->v + i, l->v + i + 1, (size_t)(l->n - i - 1) * sizeof *l->v);
    l->n--;
}

/* Collects the full paths of every dataset below a group (H5Lvisit gives paths relative to it). */
typedef struct visit_ctx {
    name_list *out;
    const char *base;
} visit_ctx;

static herr_t visit_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    visit_ctx *ctx = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) return -1;
    int is_dataset = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    if (is_dataset) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", strcmp(ctx->base, "/") == 0 ? "" : ctx->base, name);
        names_push(ctx->out, full);
    }
    return 0;
}

/* Datasets named by a path: the dataset itself, or every dataset below a group (sorted). */
static int expand(hid_t file, const char *fname, const char *path, name_list *out)
{
    if (strcmp(path, "/") != 0 && H5Lexists(file, path, H5P_DEFAULT) <= 0) return -1;
    hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
    if (obj < 0) return -1;
    H5I_type_t type = H5Iget_type(obj);
    if (type == H5I_DATASET) {
        names_push(out, path);
    } else if (type == H5I_GROUP) {
        visit_ctx ctx = {out, path};
        if (H5Lvisit(obj, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &ctx) < 0) {
            H5Oclose(obj);
            fprintf(stderr, "h5compare: %s: cannot list %s\n", fname, path);
            exit(2);
        }
        /* A group with no datasets (plain SGD's empty /optim) leaves v NULL, which qsort must not get. */
        if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    }
    H5Oclose(obj);
    return 0;
}

/* Reads a numeric dataset or attribute as doubles. Returns the element count, -1 when it is missing;
 * exits on anything else that goes wrong. *rank and dims[] receive the shape. */
static long long read_values(hid_t file, const char *fname, const entry *e, double **values, int *rank,
                             hsize_t dims[H5S_MAX_RANK])
{
    hid_t obj, space, type;
    if (e->attr) {
        if ((strcmp(e->path, "/") != 0 && H5Lexists(file, e->path, H5P_DEFAULT) <= 0) ||
            H5Aexists_by_name(file, e->path, e->attr, H5P_DEFAULT) <= 0)
            return -1;
        obj = H5Aopen_by_name(file, e->path, e->attr, H5P_DEFAULT, H5P_DEFAULT);
        space = obj >= 0 ? H5Aget_space(obj) : -1;
        type = obj >= 0 ? H5Aget_type(obj) : -1;
    } else {
        if (H5Lexists(file, e->path, H5P_DEFAULT) <= 0) return -1;
        obj = H5Dopen2(file, e->path, H5P_DEFAULT);
        space = obj >= 0 ? H5Dget_space(obj) : -1;
        type = obj >= 0 ? H5Dget_type(obj) : -1;
    }
    if (obj < 0 || space < 0 || type < 0) {
        fprintf(stderr, "h5compare: %s: cannot open %s%s%s\n", fname, e->path, e->attr ? "@" : "",
                e->attr ? e->attr : "");
        exit(2);
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        fprintf(stderr, "h5compare: %s: %s%s%s is not numeric\n", fname, e->path, e->attr ? "@" : "",
                e->attr ? e->attr : "");
        exit(2);
    }
    *rank = H5Sget_simple_extent_ndims(space);
    if (*rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) die("cannot read a shape in", fname);
    long long n = 1;
    for (int k = 0; k < *rank; k++) n *= (long long)dims[k];
    *values = malloc((size_t)(n > 0 ? n : 1) * sizeof **values);
    if (!*values) die("out of memory", NULL);
    herr_t st = e->attr ? H5Aread(obj, H5T_NATIVE_DOUBLE, *values)
                        : H5Dread(obj, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *values);
    if (st < 0) die("cannot read values from", fname);
    H5Tclose(type);
    H5Sclose(space);
    if (e->attr) H5Aclose(obj);
    else H5Dclose(obj);
    return n;
}

static void shape_str(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t at = (size_t)snprintf(buf, size, "(");
    for (int k = 0; k < rank && at < size; k++)
        at += (size_t)snprintf(buf + at, size - at, "%s%llu", k ? "," : "", (unsigned long long)dims[k]);
    if (at < size) snprintf(buf + at, size - at, ")");
}

typedef struct summary {
    double worst_ratio;
    char worst_name[1200];
    int n_tensors, n_failed;
} summary;

/* Compares one entry; prints one line; returns 1 when every element passes. */
static int compare_entry(hid_t got, const char *got_name, hid_t want, const char *want_name, const entry *e,
                         summary *sum)
{
    char label[1100];
    snprintf(label, sizeof label, "%s%s%s", e->path, e->attr ? "@" : "", e->attr ? e->attr : "");
    double *g = NULL, *w = NULL;
    int rank_g = 0, rank_w = 0;
    hsize_t dims_g[H5S_MAX_RANK], dims_w[H5S_MAX_RANK];
    long long n_w = read_values(want, want_name, e, &w, &rank_w, dims_w);
    long long n_g = read_values(got, got_name, e, &g, &rank_g, dims_g);
    sum->n_tensors++;
    if (n_w < 0 || n_g < 0) {
        printf("FAIL %-26s missing in %s\n", label, n_w < 0 ? want_name : got_name);
        free(g);
        free(w);
        sum->n_failed++;
        sum->worst_ratio = HUGE_VAL;
        snprintf(sum->worst_name, sizeof sum->worst_name, "%s", label);
        return 0;
    }
    int same_shape = rank_g == rank_w;
    for (int k = 0; same_shape && k < rank_w; k++) same_shape = dims_g[k] == dims_w[k];
    /* An attribute written as a scalar on one side and a 1-element array on the other is the same value. */
    if (!same_shape && e->attr && n_g == 1 && n_w == 1) same_shape = 1;
    if (!same_shape) {
        char sg[256], sw[256];
        shape_str(sg, sizeof sg, rank_g, dims_g);
        shape_str(sw, sizeof sw, rank_w, dims_w);
        printf("FAIL %-26s shape %s in %s, %s in %s\n", label, sg, got_name, sw, want_name);
        free(g);
        free(w);
        sum->n_failed++;
        sum->worst_ratio = HUGE_VAL;
        snprintf(sum->worst_name, sizeof sum->worst_name, "%s", label);
        return 0;
    }
    double max_want = 0;
    for (long long i = 0; i < n_w; i++)
        if (isfinite(w[i]) && fabs(w[i]) > max_want) max_want = fabs(w[i]);
    const double floor_tol = e->atol + e->natol * max_want;
    double max_abs = 0, max_rel = 0, worst = 0;
    long long worst_i = 0, n_bad = 0;
    for (long long i = 0; i < n_w; i++) {
        double ratio;
        if (isnan(g[i]) && isnan(w[i])) {
            ratio = 0;
        } else {
            double d = fabs(g[i] - w[i]);
            if (isnan(d)) d = HUGE_VAL;
            double tol = floor_tol + e->rtol * fabs(w[i]);
            ratio = tol > 0 ? d / tol : (d > 0 ? HUGE_VAL : 0);
            if (d > max_abs) max_abs = d;
            if (w[i] != 0 && d / fabs(w[i]) > max_rel) max_rel = d / fabs(w[i]);
        }
        if (ratio > 1) n_bad++;
        if (ratio > worst || i == 0) {
            worst = ratio;
            worst_i = i;
        }
    }
    printf("%s %-26s n %-4lld max|d| %.2e  max|d|/|want| %.2e  |want|<=%.2e  worst %.3g of tol (rtol %g atol %g "
           "natol %g) at [%lld]: got %.9g want %.9g\n",
           n_bad ? "FAIL" : "ok  ", label, n_w, max_abs, max_rel, max_want, worst, e->rtol, e->atol, e->natol,
           worst_i, n_w ? g[worst_i] : 0.0, n_w ? w[worst_i] : 0.0);
    if (n_bad) {
        printf("     %lld of %lld elements outside the tolerance\n", n_bad, n_w);
        sum->n_failed++;
    }
    if (worst > sum->worst_ratio || sum->n_tensors == 1) {
        sum->worst_ratio = worst;
        snprintf(sum->worst_name, sizeof sum->worst_name, "%s[%lld]", label, worst_i);
    }
    free(g);
    free(w);
    return n_bad == 0;
}

static double parse_number(const char *opt, const char *s)
{
    char *end;
    if (!s) die("missing value after", opt);
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || isinf(v)) die("not a non-negative number after", opt);
    return v;
}

/* Adds (or, with drop, removes) the entries a SPEC names. */
static void apply_spec(entry_list *l, const char *spec, hid_t got, const char *got_name, hid_t want,
                       const char *want_name, double rtol, double atol, double natol, int drop)
{
    const char *at = strchr(spec, '@');
    if (spec[0] != '/') die("a SPEC is an absolute path, /group/dataset or /object@attribute", spec);
    if (at) {
        char path[1024];
        size_t len = (size_t)(at - spec);
        if (len == 0 || len >= sizeof path || !at[1]) die("bad attribute SPEC", spec);
        memcpy(path, spec, len);
        path[len] = '\0';
        if (drop) entries_drop(l, path, at + 1);
        else entries_set(l, path, at + 1, rtol, atol, natol);
        return;
    }
    name_list in_want = {0}, in_got = {0};
    if (expand(want, want_name, spec, &in_want) < 0) {
        fprintf(stderr, "h5compare: %s: no dataset or group %s\n", want_name, spec);
        exit(2);
    }
    if (!drop) {
        /* A group must hold the same datasets in both files, so nothing goes uncompared: a dataset only
         * in GOT is added too and fails as missing in WANT (and one only in WANT as missing in GOT). */
        expand(got, got_name, spec, &in_got);
        for (int i = 0; i < in_got.n; i++) {
            int found = 0;
            for (int j = 0; j < in_want.n && !found; j++) found = strcmp(in_got.v[i], in_want.v[j]) == 0;
            if (!found) entries_set(l, in_got.v[i], NULL, rtol, atol, natol); /* fails as missing in WANT */
        }
    }
    for (int i = 0; i < in_want.n; i++) {
        if (drop) entries_drop(l, in_want.v[i], NULL);
        else entries_set(l, in_want.v[i], NULL, rtol, atol, natol);
    }
    names_free(&in_want);
    names_free(&in_got);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: h5compare GOT.h5 WANT.h5 [--rtol R] [--atol A] [--natol N] SPEC... [--skip SPEC]\n"
                        "  SPEC: /dataset, /group (every dataset below it) or /object@attribute\n"
                        "  pass: |got - want| <= atol + natol * max|want| + rtol * |want|\n");
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *got_name = argv[1], *want_name = argv[2];
    hid_t got = H5Fopen(got_name, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (got < 0) die("cannot open", got_name);
    hid_t want = H5Fopen(want_name, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (want < 0) die("cannot open", want_name);

    entry_list list = {0};
    double rtol = 0, atol = 0, natol = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--rtol") == 0) {
            rtol = parse_number(argv[i], argv[i + 1]);
            i++;
        } else if (strcmp(argv[i], "--atol") == 0) {
            atol = parse_number(argv[i], argv[i + 1]);
            i++;
        } else if (strcmp(argv[i], "--natol") == 0) {
            natol = parse_number(argv[i], argv[i + 1]);
            i++;
        } else if (strcmp(argv[i], "--skip") == 0) {
            if (i + 1 >= argc) die("missing SPEC after", "--skip");
            apply_spec(&list, argv[i + 1], got, got_name, want, want_name, 0, 0, 0, 1);
            i++;
        } else if (argv[i][0] == '-') {
            die("unknown option", argv[i]);
        } else {
            apply_spec(&list, argv[i], got, got_name, want, want_name, rtol, atol, natol, 0);
        }
    }
    if (list.n == 0) die("nothing to compare", NULL);

    summary sum = {0};
    int ok = 1;
    for (int i = 0; i < list.n; i++) ok &= compare_entry(got, got_name, want, want_name, &list.v[i], &sum);
    printf("h5compare %s vs %s: %d tensors, %d failed; worst %.3g of tolerance at %s\n", got_name, want_name,
           sum.n_tensors, sum.n_failed, sum.worst_ratio, sum.worst_name);
    for (int i = 0; i < list.n; i++) {
        free(list.v[i].path);
        free(list.v[i].attr);
    }
    free(list.v);
    H5Fclose(got);
    H5Fclose(want);
    return ok ? 0 : 1;
}
