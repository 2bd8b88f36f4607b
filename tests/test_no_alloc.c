/* No allocation inside a training step: this program interposes malloc and friends (the executable's
 * definitions win over libc's for every library in the process, OpenBLAS and Open MPI included) and
 * counts calls while steps run; it also counts minor page faults, which a fresh buffer would cause. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fcnet/train.h"
#include "testutil.h"
#include "trainutil.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int counting = 0;
static volatile long n_allocs = 0, n_large = 0;
static volatile size_t largest = 0;

/* Large means a page or more: what an activation or gradient buffer allocated per step would be, and
 * what costs first-touch page faults (DESIGN §6). */
static void count(size_t n)
{
    if (!counting) return;
    n_allocs++;
    if (n >= 4096) n_large++;
    if (n > largest) largest = n;
}

void *malloc(size_t n)
{
    count(n);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    count(a * b);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    count(n);
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n)
{
    count(n);
    *out = __libc_memalign(align, n);
    return *out ? 0 : 12;
}
void free(void *p) { __libc_free(p); }

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static char data_path[512];

static void run_steps(fc_norm norm, double keep, fc_optim_kind optim)
{
    fc_config cfg;
    fct_small_config(&cfg, data_path, norm, keep, optim);
    cfg.epochs = 4;
    fc_dist dist;
    fc_dist_init_comm(&dist, MPI_COMM_WORLD);
    fc_trainer t;
    ck_assert_int_eq(fc_train_setup(&t, &cfg, &dist), FC_OK);
    for (int s = 0; s < 3; s++) fc_train_step(&t); /* warm-up: first touches, lazy MPI set-up */
    long faults0 = minor_faults();
    size_t own0 = fc_alloc_count();
    n_allocs = n_large = 0;
    largest = 0;
    counting = 1;
    for (int s = 0; s < 6; s++) fc_train_step(&t);
    counting = 0;
    long faults = minor_faults() - faults0;
    long allocs = n_allocs;
    ck_assert_msg(fc_alloc_count() == own0, "fcnet allocated inside a training step");
    /* In one process nothing at all may allocate. With several ranks, Open MPI may grow a free list of
     * message fragments when a message arrives before its receive is posted (seen under heavy machine
     * load: one small block now and then); that is MPI's, bounded, and never a buffer of ours. */
    if (dist.size == 1)
        ck_assert_msg(allocs == 0, "%ld allocations in 6 training steps (norm %d, keep %.1f)", allocs, (int)norm, keep);
    else
        ck_assert_msg(allocs <= 2 && n_large == 0, "%ld allocations (%ld of a page or more, largest %zu bytes) in 6 steps",
                      allocs, n_large, largest);
    /* A fresh per-step buffer of the activations would fault in tens of pages per step. */
    ck_assert_msg(faults <= 2, "%ld minor page faults in 6 training steps", faults);
    fc_train_free(&t);
    fc_dist_free(&dist);
}

START_TEST(test_step_allocates_nothing)
{
    run_steps(FC_NORM_BATCH, 0.8, FC_OPTIM_ADAM);
    run_steps(FC_NORM_LAYER, 1.0, FC_OPTIM_RMSPROP);
    run_steps(FC_NORM_NONE, 0.5, FC_OPTIM_SGD_MOMENTUM);
    /* The message path (used across nodes) as well as the one-node shared-memory one above. */
    setenv("FCNET_EXCHANGE", "p2p", 1);
    run_steps(FC_NORM_BATCH, 0.8, FC_OPTIM_ADAM);
    unsetenv("FCNET_EXCHANGE");
}
END_TEST

/* The interposition itself works: otherwise the test above could not fail. */
START_TEST(test_counter_sees_allocations)
{
    n_allocs = n_large = 0;
    counting = 1;
    void *p = malloc(100);
    void *q = fc_alloc(8192);
    counting = 0;
    free(p);
    fc_free(q);
    ck_assert_int_eq(n_allocs, 2);
    ck_assert_int_eq(n_large, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("no_alloc");
    TCase *t = tcase_create("no_alloc");
    tcase_add_test(t, test_counter_sees_allocations);
    tcase_add_test(t, test_step_allocates_nothing);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    fct_make_dataset(data_path, sizeof data_path, MPI_COMM_WORLD, 300, 0, 12, 4, 3);
    return fct_run(suite(), argc, argv);
}
