/*
 * kernels_avx2.c -- distance kernels for x86-64 CPUs with AVX2 and FMA
 * (Intel Haswell and later, AMD Zen and later).
 *
 * The file is compiled without any -m flag: each function carries
 * __attribute__((target("avx2,fma"))), so the same binary still runs on a
 * CPU without AVX2, where dispatch.c never hands out this table.  Nothing
 * here may be called before dispatch.c has checked cpuid and xgetbv.
 *
 * Shape of every kernel (HNSW calls them millions of times per second, on
 * 128..1536 dimensions):
 *   - a main loop of 32 floats per step into four independent 8-lane
 *     accumulators, so four FMAs are in flight: FMA latency is 4 cycles and
 *     two loads per cycle feed about one FMA per cycle, so four chains keep
 *     the unit busy (one chain would run at a quarter of the speed);
 *   - then whole 8-float steps into one accumulator (at most three);
 *   - then the last n % 8 floats through vmaskmovps, whose masked-off lanes
 *     read as 0 and never fault, so there is no scalar tail and no read
 *     past the end of either vector;
 *   - one horizontal sum at the end.
 * Loads are unaligned (vmovups costs nothing extra on aligned data).  The
 * summation order differs from the scalar reference, so results differ
 * from it in the last bits; tests/test_simd.c bounds that.
 *
 * Normalisation uses this file's dot for the sum of squares and the shared
 * qvi_normalize_prepare for the checks and the rare slow path.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <stdint.h>

#define AVX2_FN __attribute__((target("avx2,fma")))

float qvi_normalize_prepare(float *v, size_t n, float ss, float *norm_out);

/* 8 all-ones lanes then 8 zero lanes: loading 8 lanes from index 8 - r
 * gives a mask whose first r lanes are set, for r in 0..8. */
static const int32_t tail_mask_lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                            0,  0,  0,  0,  0,  0,  0,  0};

AVX2_FN static inline __m256i tail_mask(size_t r)
{
    return _mm256_loadu_si256((const __m256i *)(tail_mask_lanes + 8 - r));
}

AVX2_FN static inline float hsum(__m256 v)
{
    __m128 s =
        _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One step of each kernel: fold 8 lanes of a and b into acc. */
AVX2_FN static inline __m256 dot_step(__m256 acc, __m256 x, __m256 y)
{
    return _mm256_fmadd_ps(x, y, acc);
}

AVX2_FN static inline __m256 l2sq_step(__m256 acc, __m256 x, __m256 y)
{
    __m256 d = _mm256_sub_ps(x, y);
    return _mm256_fmadd_ps(d, d, acc);
}

AVX2_FN static inline __m256 l1_step(__m256 acc, __m256 x, __m256 y)
{
    /* |d| clears the sign bit. */
    __m256 d = _mm256_sub_ps(x, y);
    return _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), d));
}

/* The loop shared by the three kernels, instantiated with their step.  A
 * masked-off lane loads 0 from both vectors, which every step maps to 0. */
#define AVX2_KERNEL(name, step)                                                \
    AVX2_FN static float name(const float *a, const float *b, size_t n)        \
    {                                                                          \
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();             \
        __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();             \
        size_t i = 0;                                                          \
        for (; i + 32 <= n; i += 32) {                                         \
            s0 = step(s0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));     \
            s1 = step(s1, _mm256_loadu_ps(a + i + 8),                          \
                      _mm256_loadu_ps(b + i + 8));                             \
            s2 = step(s2, _mm256_loadu_ps(a + i + 16),                         \
                      _mm256_loadu_ps(b + i + 16));                            \
            s3 = step(s3, _mm256_loadu_ps(a + i + 24),                         \
                      _mm256_loadu_ps(b + i + 24));                            \
        }                                                                      \
        for (; i + 8 <= n; i += 8)                                             \
            s0 = step(s0, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));     \
        if (i < n) {                                                           \
            __m256i m = tail_mask(n - i);                                      \
            s1 = step(s1, _mm256_maskload_ps(a + i, m),                        \
                      _mm256_maskload_ps(b + i, m));                           \
        }                                                                      \
        return hsum(                                                           \
            _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));      \
    }

AVX2_KERNEL(avx2_dot, dot_step)
AVX2_KERNEL(avx2_l2sq, l2sq_step)
AVX2_KERNEL(avx2_l1, l1_step)

AVX2_FN static float avx2_normalize(float *v, size_t n)
{
    float norm;
    float inv = qvi_normalize_prepare(v, n, avx2_dot(v, v, n), &norm);
    if (inv == 0.0f)
        return norm; /* v was zeroed or rescaled by the slow path */
    __m256 f = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), f));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(v + i, m,
                            _mm256_mul_ps(_mm256_maskload_ps(v + i, m), f));
    }
    return norm;
}

const qvi_kernels qvi_kernels_avx2 = {
    .level = QVI_SIMD_AVX2,
    .name = "avx2",
    .dot = avx2_dot,
    .l2sq = avx2_l2sq,
    .l1 = avx2_l1,
    .normalize = avx2_normalize,
};

#else
/* Not x86-64: nothing to build (ISO C wants one declaration per file). */
typedef int qvi_kernels_avx2_unused;
#endif
