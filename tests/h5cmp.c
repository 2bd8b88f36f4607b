/* h5cmp: compares datasets and attributes of two HDF5 files, bitwise or within a tolerance.
 *
 *   h5cmp [-v] [--rtol R] [--atol A] [--first N] [--skip GLOB]... FILE_A FILE_B OBJECT...
 *   h5cmp --get FILE OBJECT      prints the values of a dataset or attribute (scripts read /@step)
 *
 * OBJECT is a dataset, a group (every dataset below it, recursively; both files must hold the same
 * names) or OBJ@ATTR (attribute ATTR of object OBJ, e.g. /@step, /optim@t). Without --rtol/--atol the
 * comparison is bitwise: same type, same shape, same bytes (so -0 != +0 and NaN payloads count). With a
 * tolerance, values are read as double and must satisfy |a - b| <= atol + rtol * |b| (b from FILE_B).
 * --first N compares only the first N elements (flattened) of each object; both must have at least N
 * (a history that continues another). --skip leaves out datasets whose full path matches GLOB
 * (fnmatch). -v prints one line per object.
 * Exit status: 0 all equal, 1 some differ (one line per difference on stdout), 2 usage or read error. */
#include <fnmatch.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SKIP 32

typedef struct cmp_opts {
    int verbose, exact;
    long long first; /* > 0: compare only this many leading elements */
    double rtol, atol;
    const char *skip[MAX_SKIP];
    int n_skip;
} cmp_opts;

static cmp_opts opts = {.exact = 1};
static int n_diff = 0;

static int skipped(const char *name)
{
    for (int i = 0; i < opts.n_skip; i++)
        if (fnmatch(opts.skip[i], name, 0) == 0) return 1;
    return 0;
}

/* Reads an object's raw bytes (file type converted to its native equivalent) and, as doubles, its values.
 * is_attr: handle is an attribute. Returns the element count or -1. */
typedef struct blob {
    hsize_t n;
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    H5T_class_t cls;
    size_t type_size;
    unsigned char *raw;
    double *val; /* NULL for non-numeric types */
} blob;

static void blob_free(blob *b)
{
    free(b->raw);
    free(b->val);
    memset(b, 0, sizeof *b);
}

static int blob_read(blob *b, hid_t obj, int is_attr, const char *what)
{
    memset(b, 0, sizeof *b);
    hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    if (ftype < 0 || space < 0) {
        fprintf(stderr, "h5cmp: %s: cannot get type or shape\n", what);
        return -1;
    }
    b->cls = H5Tget_class(ftype);
    b->rank = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, b->dims, NULL);
    b->n = (hsize_t)H5Sget_simple_extent_npoints(space);
    hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_DEFAULT);
    b->type_size = H5Tget_size(mtype);
    b->raw = calloc((size_t)(b->n ? b->n : 1), b->type_size);
    herr_t rc = is_attr ? H5Aread(obj, mtype, b->raw) : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->raw);
    if (rc >= 0 && (b->cls == H5T_FLOAT || b->cls == H5T_INTEGER)) {
        b->val = calloc((size_t)(b->n ? b->n : 1), sizeof(double));
        rc = is_attr ? H5Aread(obj, H5T_NATIVE_DOUBLE, b->val)
                     : H5Dread(obj, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->val);
    }
    H5Tclose(mtype);
    H5Tclose(ftype);
    H5Sclose(space);
    if (rc < 0) {
        fprintf(stderr, "h5cmp: %s: read failed (corrupted file?)\n", what);
        blob_free(b);
        return -1;
    }
    return 0;
}

static void shape_text(char *buf, size_t size, const blob *b)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < b->rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "", (unsigned long long)b->dims[i]);
    if (used < size) snprintf(buf + used, size - used, b->rank == 1 ? ",)" : ")");
}

/* Compares two read objects; prints the verdict. */
static void compare(const char *name, const blob *a, const blob *b)
{
    char sa[96], sb[96];
    shape_text(sa, sizeof sa, a);
    shape_text(sb, sizeof sb, b);
    hsize_t n = a->n;
    if (opts.first > 0) {
        if (a->n < (hsize_t)opts.first || b->n < (hsize_t)opts.first) {
            printf("%s: shape %s vs %s, fewer than %lld elements\n", name, sa, sb, opts.first);
            n_diff++;
            return;
        }
        n = (hsize_t)opts.first;
    } else if (a->rank != b->rank || a->n != b->n || strcmp(sa, sb) != 0) {
        printf("%s: shape %s vs %s\n", name, sa, sb);
        n_diff++;
        return;
    }
    if (a->cls != b->cls || (opts.exact && a->type_size != b->type_size)) {
        printf("%s: different types (class %d size %zu vs class %d size %zu)\n", name, (int)a->cls,
               a->type_size, (int)b->cls, b->type_size);
        n_diff++;
        return;
    }
    if (!a->val || !b->val) { /* strings and the like: bytes */
        int same = a->type_size == b->type_size && memcmp(a->raw, b->raw, (size_t)n * a->type_size) == 0;
        if (!same) {
            printf("%s: values differ\n", name);
            n_diff++;
        } else if (opts.verbose) {
            printf("%s: identical\n", name);
        }
        return;
    }
    hsize_t bad = 0, first = 0;
    double max_abs = 0, max_rel = 0;
    for (hsize_t i = 0; i < n; i++) {
        double x = a->val[i], y = b->val[i], d = fabs(x - y);
        int differs;
        if (opts.exact)
            differs = memcmp(a->raw + i * a->type_size, b->raw + i * b->type_size, a->type_size) != 0;
        else
            differs = !(d <= opts.atol + opts.rtol * fabs(y)) && !(isnan(x) && isnan(y));
        if (isfinite(d)) {
            if (d > max_abs) max_abs = d;
            double rel = d / (fabs(y) > 0 ? fabs(y) : 1);
            if (y != 0 && rel > max_rel) max_rel = rel;
        }
        if (differs && bad++ == 0) first = i;
    }
    if (bad) {
        printf("%s: %llu of %llu elements differ (first at %llu: %.9g vs %.9g); max abs diff %.3g, max rel %.3g\n",
               name, (unsigned long long)bad, (unsigned long long)n, (unsigned long long)first, a->val[first],
               b->val[first], max_abs, max_rel);
        n_diff++;
    } else if (opts.verbose) {
        if (max_abs == 0)
            printf("%s: %llu elements identical\n", name, (unsigned long long)n);
        else
            printf("%s: %llu elements within tolerance; max abs diff %.3g, max rel %.3g\n", name,
                   (unsigned long long)n, max_abs, max_rel);
    }
}

static int compare_dataset(hid_t fa, hid_t fb, const char *name)
{
    if (skipped(name)) return 0;
    hid_t da = H5Dopen2(fa, name, H5P_DEFAULT), db = H5Dopen2(fb, name, H5P_DEFAULT);
    int rc = 0;
    if (da < 0 || db < 0) {
        printf("%s: missing in %s\n", name, da < 0 ? "the first file" : "the second file");
        n_diff++;
    } else {
        blob a, b;
        if (blob_read(&a, da, 0, name) == 0) {
            if (blob_read(&b, db, 0, name) == 0) {
                compare(name, &a, &b);
                blob_free(&b);
            } else {
                rc = -1;
            }
            blob_free(&a);
        } else {
            rc = -1;
        }
    }
    if (da >= 0) H5Dclose(da);
    if (db >= 0) H5Dclose(db);
    return rc;
}

/* Collects the dataset paths below a group: all of them (a fixed 4096 left the rest of a large file uncompared). */
typedef struct name_list {
    char **names;
    int n, cap;
    const char *prefix;
} name_list;

static herr_t collect(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj;
    name_list *l = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->names, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        l->names = grown;
        l->cap = cap;
    }
    size_t len = strlen(l->prefix) + strlen(name) + 2;
    char *full = malloc(len);
    if (!full) return -1;
    snprintf(full, len, "%s/%s", strcmp(l->prefix, "/") == 0 ? "" : l->prefix, name);
    l->names[l->n++] = full;
    return 0;
}

static int list_group(hid_t file, const char *group, name_list *l)
{
    memset(l, 0, sizeof *l);
    l->prefix = group;
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0) return -1;
    herr_t rc = H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, collect, l);
    H5Gclose(g);
    return rc < 0 ? -1 : 0;
}

static int has_name(const name_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) return 1;
    return 0;
}

static int compare_object(hid_t fa, hid_t fb, const char *object)
{
    const char *at = strchr(object, '@');
    if (at) {
        char obj[512];
        snprintf(obj, sizeof obj, "%.*s", (int)(at - object), object);
        if (obj[0] == '\0') snprintf(obj, sizeof obj, "/");
        hid_t aa = H5Aopen_by_name(fa, obj, at + 1, H5P_DEFAULT, H5P_DEFAULT);
        hid_t ab = H5Aopen_by_name(fb, obj, at + 1, H5P_DEFAULT, H5P_DEFAULT);
        int rc = 0;
        if (aa < 0 || ab < 0) {
            printf("%s: missing in %s\n", object, aa < 0 ? "the first file" : "the second file");
            n_diff++;
        } else {
            blob a, b;
            if (blob_read(&a, aa, 1, object) == 0 && blob_read(&b, ab, 1, object) == 0) {
                compare(object, &a, &b);
                blob_free(&b);
            } else {
                rc = -1;
            }
            blob_free(&a);
        }
        if (aa >= 0) H5Aclose(aa);
        if (ab >= 0) H5Aclose(ab);
        return rc;
    }
    H5O_info_t info;
    if (H5Oget_info_by_name(fa, object, &info, H5P_DEFAULT) < 0) {
        printf("%s: missing in the first file\n", object);
        n_diff++;
        return 0;
    }
    if (info.type == H5O_TYPE_DATASET) return compare_dataset(fa, fb, object);
    /* zeroed: when la cannot be listed, lb is never listed but is still freed below */
    name_list *la = calloc(1, sizeof *la), *lb = calloc(1, sizeof *lb);
    int rc = 0;
    if (list_group(fa, object, la) < 0 || list_group(fb, object, lb) < 0) {
        printf("%s: not a group in both files\n", object);
        n_diff++;
    } else {
        for (int i = 0; i < lb->n; i++)
            if (!has_name(la, lb->names[i]) && !skipped(lb->names[i])) {
                printf("%s: missing in the first file\n", lb->names[i]);
                n_diff++;
            }
        for (int i = 0; i < la->n && rc == 0; i++) rc = compare_dataset(fa, fb, la->names[i]);
        if (opts.verbose && la->n == 0) printf("%s: no datasets\n", object);
    }
    for (int i = 0; i < la->n; i++) free(la->names[i]);
    for (int i = 0; i < lb->n; i++) free(lb->names[i]);
    free(la->names);
    free(lb->names);
    free(la);
    free(lb);
    return rc;
}

/* --get: the values of one dataset or attribute, space-separated, on one line. */
static int print_object(const char *path, const char *object)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "h5cmp: cannot open %s\n", path);
        return 2;
    }
    const char *at = strchr(object, '@');
    hid_t h;
    if (at) {
        char obj[512];
        snprintf(obj, sizeof obj, "%.*s", (int)(at - object), object);
        h = H5Aopen_by_name(f, obj[0] ? obj : "/", at + 1, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        h = H5Dopen2(f, object, H5P_DEFAULT);
    }
    blob b;
    int rc = 2;
    if (h < 0) {
        fprintf(stderr, "h5cmp: %s: no %s in %s\n", object, at ? "attribute" : "dataset", path);
    } else if (blob_read(&b, h, at != NULL, object) == 0) {
        for (hsize_t i = 0; i < b.n; i++) {
            if (!b.val)
                printf("%.*s", (int)b.type_size, (const char *)b.raw + i * b.type_size);
            else if (b.cls == H5T_INTEGER)
                printf("%s%lld", i ? " " : "", (long long)b.val[i]);
            else
                printf("%s%.17g", i ? " " : "", b.val[i]);
        }
        printf("\n");
        blob_free(&b);
        rc = 0;
    }
    if (h >= 0) {
        if (at)
            H5Aclose(h);
        else
            H5Dclose(h);
    }
    H5Fclose(f);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: h5cmp [-v] [--rtol R] [--atol A] [--first N] [--skip GLOB]... FILE_A FILE_B OBJECT...\n"
                    "       h5cmp --get FILE OBJECT\n");
    return 2;
}

int main(int argc, char **argv)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (argc == 4 && strcmp(argv[1], "--get") == 0) return print_object(argv[2], argv[3]);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            opts.verbose = 1;
        } else if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) {
            opts.rtol = atof(argv[++i]);
            opts.exact = 0;
        } else if (strcmp(argv[i], "--atol") == 0 && i + 1 < argc) {
            opts.atol = atof(argv[++i]);
            opts.exact = 0;
        } else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
            opts.first = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc && opts.n_skip < MAX_SKIP) {
            opts.skip[opts.n_skip++] = argv[++i];
        } else {
            return usage();
        }
    }
    if (argc - i < 3) return usage();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fa = H5Fopen(argv[i], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t fb = H5Fopen(argv[i + 1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fa < 0 || fb < 0) {
        fprintf(stderr, "h5cmp: cannot open %s\n", fa < 0 ? argv[i] : argv[i + 1]);
        return 2;
    }
    int rc = 0;
    for (int k = i + 2; k < argc && rc == 0; k++) rc = compare_object(fa, fb, argv[k]);
    H5Fclose(fa);
    H5Fclose(fb);
    if (rc != 0) return 2;
    return n_diff ? 1 : 0;
}
