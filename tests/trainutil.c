#define _XOPEN_SOURCE 700 /* nftw */
#include "trainutil.h"

#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcnet/rng.h"
#include "testutil.h"

static void write_split(hid_t file, const char *group, int n, int d, int c, unsigned seed)
{
    float *x = malloc((size_t)n * (size_t)d * sizeof *x);
    long long *y = malloc((size_t)n * sizeof *y);
    double *z = malloc((size_t)n * (size_t)d * sizeof *z);
    fc_rng_normal_fill(z, (size_t)n * (size_t)d, seed, 1, 1.0);
    for (int i = 0; i < n; i++) {
        y[i] = i % c;
        for (int j = 0; j < d; j++) /* class k shifts features k, k+c, ... by 1.5 */
            x[i * d + j] = (float)(z[i * d + j] + ((j % c) == y[i] ? 1.5 : 0.0) + 0.1 * j);
    }
    hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)d};
    hid_t s = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(g, "x", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(ds);
    H5Sclose(s);
    s = H5Screate_simple(1, dims, NULL);
    ds = H5Dcreate2(g, "y", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    H5Dclose(ds);
    H5Sclose(s);
    H5Gclose(g);
    free(x);
    free(y);
    free(z);
}

/* The directories fct_make_dataset made (with everything the tests wrote beside the data), removed at exit. */
enum { MAX_MADE = 256 };
static char made_dirs[MAX_MADE][512];
static int n_made;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_made_dirs(void)
{
    for (int i = 0; i < n_made; i++) nftw(made_dirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void fct_make_dataset(char *path, size_t path_size, MPI_Comm comm, int n_train, int n_val, int d, int c,
                      unsigned seed)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    char buf[512] = {0};
    if (rank == 0) {
        char dir[512];
        fct_tmp_template(dir, sizeof dir, "fcnet-test-");
        if (!mkdtemp(dir)) abort();
        if (n_made == 0) atexit(remove_made_dirs);
        if (n_made < MAX_MADE) snprintf(made_dirs[n_made++], sizeof made_dirs[0], "%s", dir);
        snprintf(buf, sizeof buf, "%s/data.h5", dir);
        hid_t f = H5Fcreate(buf, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        write_split(f, "train", n_train, d, c, seed);
        if (n_val > 0) write_split(f, "val", n_val, d, c, seed + 1);
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "num_classes", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &c);
        H5Aclose(a);
        H5Sclose(s);
        H5Fclose(f);
    }
    MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, comm);
    snprintf(path, path_size, "%s", buf);
}

void fct_small_config(fc_config *cfg, const char *data, fc_norm norm, double keep, fc_optim_kind optim)
{
    fc_config_defaults(cfg);
    snprintf(cfg->data, sizeof cfg->data, "%s", data);
    cfg->n_hidden = 2;
    cfg->hidden[0] = 20;
    cfg->hidden[1] = 16;
    cfg->norm = norm;
    cfg->keep = keep;
    cfg->reg = 0.01;
    cfg->weight_scale = 0.1;
    cfg->optim = fc_optim_defaults(optim);
    cfg->batch_size = 30;
    cfg->epochs = 3;
    cfg->seed = 5;
    cfg->val_size = 0;
    cfg->print_every = 1000000;
    snprintf(cfg->out, sizeof cfg->out, "%s.out", data);
}
