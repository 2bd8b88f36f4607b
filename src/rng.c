/* Philox4x32-10 and the draws built on it. The packing of (stream, a, b, c, index) into counter and key
 * is part of fcnet's semantics (tests/ref/reference.py mirrors it): changing it changes every run. */
#include "fcnet/rng.h"

#include <math.h>

#include "fcnet/common.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void fc_philox4x32(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* counter = (index, c, stream << 24 | b, a), key = (seed low, seed high); b < 2^24, a < 2^32. */
void fc_rng_block(uint32_t out[4], uint64_t seed, uint32_t stream, uint64_t a, uint32_t b, uint32_t c,
                  uint32_t index)
{
    FC_ASSERT(b < (1u << 24) && stream < 256 && a <= 0xffffffffu);
    const uint32_t ctr[4] = {index, c, (stream << 24) | b, (uint32_t)a};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    fc_philox4x32(out, ctr, key);
}

/* The rounds of fc_philox4x32 for n_blocks consecutive counters (index0 + k, c1, c2, c3), written
 * so that the compiler can run the blocks side by side in vector lanes; an AVX2 clone is picked at run
 * time where the CPU has it. Same bits as fc_philox4x32. */
FC_VECTOR_CLONES
static void philox_blocks(uint32_t *restrict out, int n_blocks, uint32_t index0, uint32_t c1, uint32_t c2,
                          uint32_t c3, uint32_t key0, uint32_t key1)
{
    for (int k = 0; k < n_blocks; k++) {
        uint32_t x0 = index0 + (uint32_t)k, x1 = c1, x2 = c2, x3 = c3, k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * x0, p1 = (uint64_t)PHILOX_M1 * x2;
            uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0, y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
            x1 = (uint32_t)p1;
            x3 = (uint32_t)p0;
            x0 = y0;
            x2 = y2;
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        out[4 * k] = x0;
        out[4 * k + 1] = x1;
        out[4 * k + 2] = x2;
        out[4 * k + 3] = x3;
    }
}

void fc_rng_blocks(uint32_t *out, int n_blocks, uint64_t seed, uint32_t stream, uint64_t a, uint32_t b,
                   uint32_t c, uint32_t index0)
{
    FC_ASSERT(b < (1u << 24) && stream < 256 && a <= 0xffffffffu);
    philox_blocks(out, n_blocks, index0, c, (stream << 24) | b, (uint32_t)a, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Element e uses block e/2: uniforms u1 from words (0,1), u2 from (2,3);
 * e even -> sqrt(-2 ln(1-u1)) cos(2 pi u2), e odd -> ... sin(2 pi u2). */
void fc_rng_normal_fill(double *x, size_t n, uint64_t seed, uint32_t tensor_id, double std)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t e = 0; e < n; e += 2) {
        uint64_t blk = e >> 1;
        uint32_t w[4];
        fc_rng_block(w, seed, FC_RNG_INIT, tensor_id, 0, (uint32_t)(blk >> 32), (uint32_t)blk);
        double u1 = fc_rng_unit_double(w[0], w[1]), u2 = fc_rng_unit_double(w[2], w[3]);
        double r = sqrt(-2.0 * log(1.0 - u1));
        x[e] = std * r * cos(two_pi * u2);
        if (e + 1 < n) x[e + 1] = std * r * sin(two_pi * u2);
    }
}

/* Fisher-Yates from the top: for i = n-1 .. 1, j = floor(u * (i + 1)) with u the 53-bit uniform of
 * position i (block i/2, words (0,1) for even i, (2,3) for odd i), then swap perm[i], perm[j]. */
void fc_rng_permutation(int64_t *perm, int64_t n, uint64_t seed, uint32_t stream, uint64_t a)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t blk = (uint64_t)i >> 1;
        uint32_t w[4];
        fc_rng_block(w, seed, stream, a, 0, (uint32_t)(blk >> 32), (uint32_t)blk);
        double u = (i & 1) ? fc_rng_unit_double(w[2], w[3]) : fc_rng_unit_double(w[0], w[1]);
        int64_t j = (int64_t)(u * (double)(i + 1));
        if (j > i) j = i; /* u < 1 makes this unreachable; kept against rounding */
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
