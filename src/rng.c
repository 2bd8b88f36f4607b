/* Philox4x32-10 and the draws built on it. The packing of (stream, a, b, c, index) into counter and key
 * is part of fcnet's semantics (tests/ref/reference.py mirrors it): changing it changes every run. */
#include "fcnet/rng.h"

#include <math.h>
#include <string.h>

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
 * form, and AVX2 and AVX-512 forms below that run eight and sixteen blocks at once. Same bits as
 * fc_philox4x32. */
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

/* The same with 16 lanes (AVX-512F): twice the blocks per instruction. */
__attribute__((target("avx512f"))) static inline void mul_hi_lo_512(__m512i x, __m512i m, __m512i *hi, __m512i *lo)
{
    const __m512i even = _mm512_mul_epu32(x, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

__attribute__((target("avx512f"), always_inline)) static inline void
philox_sets_avx512(uint32_t *out, int sets, uint32_t index, uint32_t c1, uint32_t c2, uint32_t c3, const __m512i *ks0,
                   const __m512i *ks1)
{
    enum { MAX_SETS = 4 };
    const __m512i m0 = _mm512_set1_epi64(PHILOX_M0), m1 = _mm512_set1_epi64(PHILOX_M1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i x0[MAX_SETS], x1[MAX_SETS], x2[MAX_SETS], x3[MAX_SETS];
    for (int v = 0; v < sets; v++) {
        x0[v] = _mm512_add_epi32(_mm512_set1_epi32((int)(index + 16u * (uint32_t)v)), lane);
        x1[v] = _mm512_set1_epi32((int)c1);
        x2[v] = _mm512_set1_epi32((int)c2);
        x3[v] = _mm512_set1_epi32((int)c3);
    }
    for (int round = 0; round < 10; round++)
        for (int v = 0; v < sets; v++) {
            __m512i hi0, lo0, hi1, lo1;
            mul_hi_lo_512(x0[v], m0, &hi0, &lo0);
            mul_hi_lo_512(x2[v], m1, &hi1, &lo1);
            x0[v] = _mm512_xor_si512(_mm512_xor_si512(hi1, x1[v]), ks0[round]);
            x2[v] = _mm512_xor_si512(_mm512_xor_si512(hi0, x3[v]), ks1[round]);
            x1[v] = lo1;
            x3[v] = lo0;
        }
    for (int v = 0; v < sets; v++) {
        /* As in the AVX2 form, r_k's 128-bit lane L holds block 4 L + k; then a 4 x 4 transpose of lanes. */
        const __m512i a = _mm512_unpacklo_epi32(x0[v], x1[v]), b = _mm512_unpacklo_epi32(x2[v], x3[v]);
        const __m512i c = _mm512_unpackhi_epi32(x0[v], x1[v]), d = _mm512_unpackhi_epi32(x2[v], x3[v]);
        const __m512i r0 = _mm512_unpacklo_epi64(a, b), r1 = _mm512_unpackhi_epi64(a, b);
        const __m512i r2 = _mm512_unpacklo_epi64(c, d), r3 = _mm512_unpackhi_epi64(c, d);
        const __m512i lo01 = _mm512_shuffle_i32x4(r0, r1, 0x44), lo23 = _mm512_shuffle_i32x4(r2, r3, 0x44);
        const __m512i hi01 = _mm512_shuffle_i32x4(r0, r1, 0xEE), hi23 = _mm512_shuffle_i32x4(r2, r3, 0xEE);
        uint32_t *o = out + 64 * v;
        _mm512_storeu_si512(o, _mm512_shuffle_i32x4(lo01, lo23, 0x88));      /* blocks 0-3 */
        _mm512_storeu_si512(o + 16, _mm512_shuffle_i32x4(lo01, lo23, 0xDD)); /* blocks 4-7 */
        _mm512_storeu_si512(o + 32, _mm512_shuffle_i32x4(hi01, hi23, 0x88)); /* blocks 8-11 */
        _mm512_storeu_si512(o + 48, _mm512_shuffle_i32x4(hi01, hi23, 0xDD)); /* blocks 12-15 */
    }
}

__attribute__((target("avx512f"))) static void philox_blocks_avx512(uint32_t *restrict out, int n_blocks,
                                                                   uint32_t index0, uint32_t c1, uint32_t c2,
                                                                   uint32_t c3, uint32_t key0, uint32_t key1)
{
    __m512i ks0[10], ks1[10];
    for (int round = 0; round < 10; round++) {
        ks0[round] = _mm512_set1_epi32((int)(key0 + (uint32_t)round * PHILOX_W0));
        ks1[round] = _mm512_set1_epi32((int)(key1 + (uint32_t)round * PHILOX_W1));
    }
    int k = 0;
    for (; k + 64 <= n_blocks; k += 64) philox_sets_avx512(out + 4 * k, 4, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
    if (k + 32 <= n_blocks) {
        philox_sets_avx512(out + 4 * k, 2, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
        k += 32;
    }
    if (k + 16 <= n_blocks) {
        philox_sets_avx512(out + 4 * k, 1, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
        k += 16;
    }
    if (k < n_blocks) {
        /* The tail as one more set, of which only the first blocks are kept: rows of 100 units end in 9 blocks,
         * which one at a time cost as much as the 16 blocks before them. */
        uint32_t last[64];
        philox_sets_avx512(last, 1, index0 + (uint32_t)k, c1, c2, c3, ks0, ks1);
        memcpy(out + 4 * k, last, (size_t)(n_blocks - k) * 4 * sizeof *out);
    }
}
#endif

/* Whether this build and CPU can run impl. */
static int impl_available(fc_rng_impl impl)
{
    switch (impl) {
    case FC_RNG_PORTABLE: return 1;
#if defined(__GNUC__) && defined(__x86_64__)
    case FC_RNG_AVX2: return __builtin_cpu_supports("avx2") != 0;
    case FC_RNG_AVX512: return __builtin_cpu_supports("avx512f") != 0;
#endif
    default: return 0;
    }
}

int fc_rng_blocks_with(fc_rng_impl impl, uint32_t *out, int n_blocks, uint64_t seed, uint32_t stream, uint64_t a,
                       uint32_t b, uint32_t c, uint32_t index0)
{
    FC_ASSERT(b < (1u << 24) && stream < 256 && a <= 0xffffffffu);
    if (!impl_available(impl)) return 0;
    const uint32_t c2 = (stream << 24) | b, c3 = (uint32_t)a, key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    switch (impl) {
#if defined(__GNUC__) && defined(__x86_64__)
    case FC_RNG_AVX512: philox_blocks_avx512(out, n_blocks, index0, c, c2, c3, key0, key1); break;
    case FC_RNG_AVX2: philox_blocks_avx2(out, n_blocks, index0, c, c2, c3, key0, key1); break;
#endif
    default: philox_blocks_portable(out, n_blocks, index0, c, c2, c3, key0, key1); break;
    }
    return 1;
}

void fc_rng_blocks(uint32_t *out, int n_blocks, uint64_t seed, uint32_t stream, uint64_t a, uint32_t b,
                   uint32_t c, uint32_t index0)
{
#ifdef FC_BASELINE_ONLY /* common.h */
    const fc_rng_impl widest = FC_RNG_PORTABLE;
#else
    /* __builtin_cpu_supports reads flags set once at load time: cheap beside even one block. */
    const fc_rng_impl widest = impl_available(FC_RNG_AVX512) ? FC_RNG_AVX512
                               : impl_available(FC_RNG_AVX2) ? FC_RNG_AVX2
                                                             : FC_RNG_PORTABLE;
#endif
    fc_rng_blocks_with(widest, out, n_blocks, seed, stream, a, b, c, index0);
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
