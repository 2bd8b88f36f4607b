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

/* The rounds of fc_philox4x32 for n_blocks consecutive counters (index0 + k, c1, c2, c3): the portable
 * form, and an AVX2 form below that runs eight blocks at once. Same bits as fc_philox4x32. */
static void philox_blocks_portable(uint32_t *restrict out, int n_blocks, uint32_t index0, uint32_t c1, uint32_t c2,
                                   uint32_t c3, uint32_t key0, uint32_t key1)
{
    for (int k = 0; k < n_blocks; k++) {
        const uint32_t ctr[4] = {index0 + (uint32_t)k, c1, c2, c3}, key[2] = {key0, key1};
        fc_philox4x32(out + 4 * k, ctr, key);
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* hi and lo 32-bit halves of m * x for each 32-bit lane of x (vpmuludq multiplies only the even lanes, so
 * the odd ones go through a shifted copy). */
__attribute__((target("avx2"))) static inline void mul_hi_lo(__m256i x, __m256i m, __m256i *hi, __m256i *lo)
{
    const __m256i even = _mm256_mul_epu32(x, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* 8 * sets blocks from index: one block per 32-bit lane of `sets` independent vector sets, so that the
 * multiplies of one set run while another waits on their latency (one set: 0.78 ns per word, four: 0.48;
 * the compiler's own vectorisation of the portable loop: 1.8). */
__attribute__((target("avx2"), always_inline)) static inline void
philox_sets_avx2(uint32_t *out, int sets, uint32_t index, uint32_t c1, uint32_t c2, uint32_t c3, const __m256i *ks0,
                 const __m256i *ks1)
{
    enum { MAX_SETS = 4 };
    const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i x0[MAX_SETS], x1[MAX_SETS], x2[MAX_SETS], x3[MAX_SETS];
    for (int v = 0; v < sets; v++) {
        x0[v] = _mm256_add_epi32(_mm256_set1_epi32((int)(index + 8u * (uint32_t)v)), lane);
        x1[v] = _mm256_set1_epi32((int)c1);
        x2[v] = _mm256_set1_epi32((int)c2);
        x3[v] = _mm256_set1_epi32((int)c3);
    }
    for (int round = 0; round < 10; round++)
        for (int v = 0; v < sets; v++) {
            __m256i hi0, lo0, hi1, lo1;
            mul_hi_lo(x0[v], m0, &hi0, &lo0);
            mul_hi_lo(x2[v], m1, &hi1, &lo1);
            x0[v] = _mm256_xor_si256(_mm256_xor_si256(hi1, x1[v]), ks0[round]);
            x2[v] = _mm256_xor_si256(_mm256_xor_si256(hi0, x3[v]), ks1[round]);
            x1[v] = lo1;
            x3[v] = lo0;
        }
    for (int v = 0; v < sets; v++) {
        /* Lanes to blocks: out[4 (8 v + j) + i] = x_i[j]. */
        const __m256i a = _mm256_unpacklo_epi32(x0[v], x1[v]), b = _mm256_unpacklo_epi32(x2[v], x3[v]);
        const __m256i c = _mm256_unpackhi_epi32(x0[v], x1[v]), d = _mm256_unpackhi_epi32(x2[v], x3[v]);
        const __m256i r0 = _mm256_unpacklo_epi64(a, b), r1 = _mm256_unpackhi_epi64(a, b); /* blocks 0,4; 1,5 */
        const __m256i r2 = _mm256_unpacklo_epi64(c, d), r3 = _mm256_unpackhi_epi64(c, d); /* blocks 2,6; 3,7 */
        __m256i *o = (__m256i *)(out + 32 * v);
        _mm256_storeu_si256(o, _mm256_permute2x128_si256(r0, r1, 0x20));
        _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(r2, r3, 0x20));
        _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(r0, r1, 0x31));
        _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(r2, r3, 0x31));
    }
}

__attribute__((target("avx2"))) static void philox_blocks_avx2(uint32_t *restrict out, int n_blocks, uint32_t index0,
                                                              uint32_t c1, uint32_t c2, uint32_t c3, uint32_t key0,
                                                              uint32_t key1)
{
    __m256i ks0[10], ks1[10]; /* the key schedule, broadcast */
    for (int round = 0; round < 10; round++) {
        ks0[round] = _mm256_set1_epi32((int)(key0 + (uint32_t)round * PHILOX_W0));
        ks1[round] = _mm256_set1_epi32((int)(key1 + (uint32_t)round * PHILOX_W1));
    }
    int k = 0;
    for (; k + 32 <= n_blocks; k += 32) philox_sets_avx2(out + 4 * k, 4, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
    for (; k + 8 <= n_blocks; k += 8) philox_sets_avx2(out + 4 * k, 1, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
    philox_blocks_portable(out + 4 * k, n_blocks - k, index0 + (uint32_t)k, c1, c2, c3, key0, key1);
}
#endif

static void philox_blocks(uint32_t *out, int n_blocks, uint32_t index0, uint32_t c1, uint32_t c2, uint32_t c3,
                          uint32_t key0, uint32_t key1)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        philox_blocks_avx2(out, n_blocks, index0, c1, c2, c3, key0, key1);
        return;
    }
#endif
    philox_blocks_portable(out, n_blocks, index0, c1, c2, c3, key0, key1);
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
