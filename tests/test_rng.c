/* Philox known answers (Random123's published test vectors) and the draws built on it. */
#include <math.h>
#include <stdlib.h>

#include "fcnet/rng.h"
#include "testutil.h"

START_TEST(test_philox_known_answers)
{
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1}};
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        fc_philox4x32(out, cases[c], cases[c] + 4);
        for (int k = 0; k < 4; k++) ck_assert_uint_eq(out[k], cases[c][6 + k]);
    }
}
END_TEST

/* Each form of the batched generator gives the bits of one block at a time, for every block count (full
 * vector sets, single sets, the tails) and across the 2^32 wrap of the index; the vector forms run where the
 * CPU has them and must exist where it does. fc_rng_blocks itself (the widest form) too. */
START_TEST(test_blocks_equal_single_blocks)
{
    enum { MAX_BLOCKS = 300 };
    static uint32_t got[4 * MAX_BLOCKS + 4];
    static const char *const names[FC_RNG_IMPLS] = {"portable", "avx2", "avx512f"};
    const uint32_t starts[4] = {0, 12345, 0xfffffff0u, 0xfffffff5u}; /* the 2^32 wrap at and inside a vector */
    const uint64_t seeds[2] = {5, 0x0123456789abcdefULL};
    for (int impl = 0; impl <= FC_RNG_IMPLS; impl++) { /* FC_RNG_IMPLS here: fc_rng_blocks */
        if (impl == FC_RNG_AVX2 || impl == FC_RNG_AVX512) {
#if defined(__GNUC__) && defined(__x86_64__)
            const int has =
                (impl == FC_RNG_AVX2 ? __builtin_cpu_supports("avx2") : __builtin_cpu_supports("avx512f")) != 0;
#else
            const int has = 0;
#endif
            ck_assert_int_eq(fc_rng_blocks_with((fc_rng_impl)impl, got, 1, 5, FC_RNG_DROPOUT, 0, 0, 0, 0), has);
            if (!has) continue;
        }
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < 4; i++)
                for (int n = 1; n <= MAX_BLOCKS; n += (n < 140 ? 1 : 37)) {
                    const uint32_t c = 1000 + (uint32_t)n;
                    got[4 * n] = 0xdeadbeef; /* nothing written past the n blocks */
                    if (impl == FC_RNG_IMPLS)
                        fc_rng_blocks(got, n, seeds[s], FC_RNG_DROPOUT, 77, 3, c, starts[i]);
                    else
                        ck_assert(fc_rng_blocks_with((fc_rng_impl)impl, got, n, seeds[s], FC_RNG_DROPOUT, 77, 3, c,
                                                     starts[i]));
                    ck_assert_uint_eq(got[4 * n], 0xdeadbeef);
                    for (int k = 0; k < n; k++) {
                        uint32_t want[4];
                        fc_rng_block(want, seeds[s], FC_RNG_DROPOUT, 77, 3, c, starts[i] + (uint32_t)k);
                        for (int w = 0; w < 4; w++)
                            ck_assert_msg(got[4 * k + w] == want[w], "%s: seed %d start %u n %d block %d word %d",
                                          impl < FC_RNG_IMPLS ? names[impl] : "fc_rng_blocks", s, starts[i], n, k,
                                          w);
                    }
                }
    }
}
END_TEST

START_TEST(test_normal_moments)
{
    enum { N = 200000 };
    double *x = malloc(N * sizeof *x);
    fc_rng_normal_fill(x, N, 3, 1, 2.0);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += x[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= N;
    /* standard errors: mean 2/sqrt(N) = 0.0045, var ~ 4*sqrt(2/N) = 0.0126 */
    ck_assert_msg(fabs(mean) < 0.02, "mean %g", mean);
    ck_assert_msg(fabs(var - 4.0) < 0.06, "var %g", var);
    /* Same key, same draws; another tensor id, other draws. */
    double y[8], z[8];
    fc_rng_normal_fill(y, 8, 3, 1, 2.0);
    fc_rng_normal_fill(z, 8, 3, 2, 2.0);
    for (int i = 0; i < 8; i++) ck_assert(y[i] == x[i] && z[i] != x[i]);
    free(x);
}
END_TEST

START_TEST(test_permutation)
{
    enum { N = 1001 };
    int64_t p[N], q[N], r[N];
    int seen[N] = {0};
    fc_rng_permutation(p, N, 9, FC_RNG_PERM, 0);
    fc_rng_permutation(q, N, 9, FC_RNG_PERM, 0);
    fc_rng_permutation(r, N, 9, FC_RNG_PERM, 1);
    int same_r = 0, fixed = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(p[i] >= 0 && p[i] < N);
        seen[p[i]]++;
        ck_assert(p[i] == q[i]);
        same_r += p[i] == r[i];
        fixed += p[i] == i;
    }
    for (int i = 0; i < N; i++) ck_assert_int_eq(seen[i], 1);
    ck_assert_int_lt(same_r, 20); /* expected ~1 */
    ck_assert_int_lt(fixed, 20);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rng");
    TCase *t = tcase_create("rng");
    tcase_add_test(t, test_philox_known_answers);
    tcase_add_test(t, test_blocks_equal_single_blocks);
    tcase_add_test(t, test_normal_moments);
    tcase_add_test(t, test_permutation);
    suite_add_tcase(s, t);
    return s;
}

int main(int argc, char **argv) { return fct_run(suite(), argc, argv); }
