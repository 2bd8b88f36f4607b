/* Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11): every draw is a pure function
 * of (seed, stream, a, b, c), so any rank can reproduce any draw without shared state. */
#ifndef FCNET_RNG_H
#define FCNET_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Streams separate the uses so their draws never coincide. */
enum {
    FC_RNG_INIT = 1,      /* weight init: a = tensor id, (c, index) = element/2          */
    FC_RNG_DROPOUT = 2,   /* dropout: a = step, b = layer, c = global row; unit/4 in ctr */
    FC_RNG_PERM = 3,      /* data order: a = epoch, (c, index) = position/2              */
    FC_RNG_SUBSAMPLE = 4, /* train-accuracy subsample                                    */
    FC_RNG_TEST = 5       /* tests and synthetic data                                    */
};

/* Four 32-bit words for the counter (ctr0, ctr1, ctr2, ctr3) under key (key0, key1). */
void fc_philox4x32(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

/* Four words for (seed, stream, a, b, c, index) -- index is usually unit/4 or element/2.
 * The key is the 64-bit seed; the counter is (index, c, stream << 24 | b, a), with b < 2^24,
 * stream < 256 and a < 2^32 (asserted). */
void fc_rng_block(uint32_t out[4], uint64_t seed, uint32_t stream, uint64_t a, uint32_t b,
                  uint32_t c, uint32_t index);

/* out[4k .. 4k+3] = fc_rng_block(seed, stream, a, b, c, index0 + k) for k < n_blocks, computed in
 * vector lanes (for dropout masks: one call per row chunk instead of one per four units). */
void fc_rng_blocks(uint32_t *out, int n_blocks, uint64_t seed, uint32_t stream, uint64_t a, uint32_t b,
                   uint32_t c, uint32_t index0);

/* The implementations of fc_rng_blocks, which give the same bits; fc_rng_blocks uses the widest this CPU runs. */
typedef enum { FC_RNG_PORTABLE, FC_RNG_AVX2, FC_RNG_AVX512, FC_RNG_IMPLS } fc_rng_impl;
/* fc_rng_blocks through impl (for tests); returns 0 and writes nothing where this build or CPU lacks it. */
int fc_rng_blocks_with(fc_rng_impl impl, uint32_t *out, int n_blocks, uint64_t seed, uint32_t stream, uint64_t a,
                       uint32_t b, uint32_t c, uint32_t index0);

/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
static inline float fc_rng_unit_float(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
/* Its step, 2^-24: dropout keeps a unit when its draw is below keep, so any keep at or below this one keeps
 * the units whose draw is 0, 2^-24 of them, not keep of them: the smallest keep --keep accepts. */
#define FC_RNG_UNIT_FLOAT_STEP (1.0 / 16777216.0)
/* Uniform in [0, 1) with 53 random bits from two words. */
static inline double fc_rng_unit_double(uint32_t hi, uint32_t lo)
{
    return (double)(((uint64_t)hi << 21) ^ (uint64_t)(lo >> 11)) * (1.0 / 9007199254740992.0);
}

/* Fills x[0..n) with N(0, std) from (seed, FC_RNG_INIT, tensor_id); Box-Muller in double. */
void fc_rng_normal_fill(double *x, size_t n, uint64_t seed, uint32_t tensor_id, double std);

/* perm[0..n) = a permutation of 0..n-1 drawn from (seed, stream, a): Fisher-Yates, the same on
 * every machine. */
void fc_rng_permutation(int64_t *perm, int64_t n, uint64_t seed, uint32_t stream, uint64_t a);

#endif
