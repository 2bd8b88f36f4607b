/* Datasets in the HDF5 format of the README's Datasets section, preprocessing, and the per-epoch data order. */
#ifndef FCNET_DATA_H
#define FCNET_DATA_H

#include "fcnet/common.h"

typedef struct fc_split {
    int64_t n;     /* rows */
    int d;         /* features */
    fc_real *x;    /* (n, d): uint8 scaled by 1/255, or float values as stored; then preprocessed */
    int32_t *y;    /* (n) labels in [0, n_classes) */
    int borrowed;  /* 0: x and y are owned (freed by fc_split_free); 1: they live in memory placed by the
                    * caller of fc_data_load_placed (the node's shared copy), which frees it */
} fc_split;

typedef struct fc_dataset {
    char path[4096];
    int n_features;
    int n_classes;  /* root attribute num_classes, else max label over all splits + 1 */
    fc_split train; /* training rows (after the hold-out when the file has no val) */
    fc_split val;   /* n == 0 when absent and val_size == 0 */
    fc_split test;  /* n == 0 when absent */
    int val_from_file; /* 1 when /val came from the file, 0 when held out of /train */
} fc_dataset;

typedef enum fc_preprocess_kind {
    FC_PRE_NONE = 0,
    FC_PRE_CENTER = 1,     /* x - mean  (mean over the training split, per feature) */
    FC_PRE_STANDARDIZE = 2 /* (x - mean) / std  (biased std; features with std < 1e-8 use 1) */
} fc_preprocess_kind;

typedef struct fc_preprocess {
    fc_preprocess_kind kind;
    int d;
    double *mean; /* owned (d), NULL for none */
    double *std;  /* owned (d), NULL unless standardize */
} fc_preprocess;

/* Reads and validates path. val_size: rows held out of the END of /train when the file has no /val
 * (a fraction of the training rows when < 1, a count when >= 1; 0 = no validation split).
 * Errors (FC_ERR_INPUT, message names file, dataset and reason): missing file or group, not HDF5,
 * x not 2-D or of a non-numeric type, y not 1-D integer, row counts that differ, feature counts that
 * differ between splits, labels < 0 or >= num_classes, NaN/Inf in float x, empty train split,
 * val_size leaving no training rows. Not collective (every rank reads the file itself). */
fc_status fc_data_load(fc_dataset *ds, const char *path, double val_size);
void fc_data_free(fc_dataset *ds);

/* Memory for the rows, chosen by the caller of fc_data_load_placed: place is called once, after the file is
 * opened and every split's size known and checked, before any row is read, with the rows of train, val and
 * test (after the hold-out) and the feature count. It returns FC_OK with *base set to fc_data_placed_bytes
 * bytes (64-byte aligned) to read the splits into, or with *base NULL to let each split allocate its own
 * (checked against this rank's share of the memory); an error ends the load with it. A placed block must
 * already have been checked against the machine's memory by place. */
typedef fc_status (*fc_data_place_fn)(void *ctx, const int64_t rows[3], int d, void **base);
fc_status fc_data_load_placed(fc_dataset *ds, const char *path, double val_size, fc_data_place_fn place, void *ctx);
size_t fc_data_placed_bytes(const int64_t rows[3], int d);
/* Points ds's splits (borrowed) at their rows in a block that another process filled with fc_data_load_placed;
 * the caller sets the dataset's other fields. */
void fc_data_point_into(fc_dataset *ds, void *base, const int64_t rows[3], int d);
/* Reads only the split called name ("train", "val", "test") of path, without a hold-out. */
fc_status fc_data_load_split(fc_split *split, int *n_classes, const char *path, const char *name);
/* Where fc_data_load_part's rows lie: the split's rows in all, the part's first row within the split, the
 * rows of /train when the split was cut out of it (else -1), and the class count: the num_classes attribute,
 * else the part's largest label + 1. */
typedef struct fc_part_info {
    int64_t split_rows;
    int64_t first;
    int64_t train_rows;
    int n_classes;
} fc_part_info;
/* Reads only part index of parts (fc_dist_slice's division) of the split called name, cut as training cut it:
 * "test", and "train" or "val" of a file with its own /val, whole; in a file without /val, "val" is the last
 * rows of /train that val_size holds out and "train" the rows before them. Only the part is read, validated
 * and held, so N ranks that each load their part read every row once. A split of 0 rows (a hold-out of
 * none) is not an error here: info->split_rows says so. */
fc_status fc_data_load_part(fc_split *part, fc_part_info *info, const char *path, const char *name, double val_size,
                            int index, int parts);
void fc_split_free(fc_split *split);
/* A fingerprint of the training and validation rows as read (call it before preprocessing changes them): their
 * values and labels in order, so that ranks, and a resumed run, that would train on other rows of the same
 * shape are told apart (fc_hash_large). */
uint64_t fc_data_fingerprint(const fc_dataset *ds);
/* The same for one split's rows alone, continuing from h (0 to start). */
uint64_t fc_split_fingerprint(const fc_split *split, uint64_t h);
/* FC_ERR_INPUT naming path when n_classes < 2: with one class the softmax loss is 0 whatever the weights,
 * so training learns nothing (and reports accuracy 1) and a gradient check compares zeros. */
fc_status fc_data_require_classes(const char *path, int n_classes);

/* standardize: a feature whose std is below this is constant and divided by 1 (so a stored std is >= it) */
#define FC_PREPROCESS_MIN_STD 1e-8
/* Fits kind on the training split (per feature, in double). */
void fc_preprocess_fit(fc_preprocess *pp, fc_preprocess_kind kind, const fc_split *train);
/* x = (x - mean) / std as configured, in place. */
void fc_preprocess_apply(const fc_preprocess *pp, fc_split *split);
void fc_preprocess_free(fc_preprocess *pp);
const char *fc_preprocess_name(fc_preprocess_kind kind);
int fc_preprocess_parse(const char *name); /* -1 when unknown */

/* Order of the training rows in epoch (0-based): a permutation from (seed, epoch), identical on every
 * rank; identity when shuffle is 0. perm has n entries. */
void fc_data_epoch_order(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch, int shuffle);

/* Copies rows idx[0..count) of split into x (count, d) and y (count): the batch gather. */
void fc_data_gather(fc_real *x, int32_t *y, const fc_split *split, const int64_t *idx, int64_t count);

#endif
