/*
 * kernels_avx512.c -- distance kernels for x86-64 CPUs with AVX-512F
 * (Intel Skylake-SP and later, AMD Zen 4 and later).
 *
 * As in kernels_avx2.c, the file is compiled without -m flags and each
 * function carries __attribute__((target("avx512f"))); dispatch.c hands
 * this table out only when cpuid reports AVX-512F (and AVX2 + FMA) and
 * xgetbv shows the OS saves the opmask and ZMM state.  Only AVX-512F
 * instructions are used, the subset every AVX-512 CPU has.
 *
 * Shape of every kernel:
 *   - a main loop of 64 floats per step into four independent 16-lane
 *     accumulators (four FMA chains cover the FMA latency at the rate two
 *     loads per cycle allow);
 *   - then whole 16-float steps into one accumulator (at most three);
 *   - then the last n % 16 floats through one masked load whose
 *     masked-off lanes read as 0 and never fault: no scalar tail, no read
 *     past either vector;
 *   - one horizontal sum at the end.
 * Short vectors (n < 16) cost one masked step.  On Zen 4 a 512-bit
 * operation runs as two 256-bit halves, so the gain over AVX2 there comes
 * mostly from the cheaper tail and loop overhead; on Intel server cores it
 * doubles the work per instruction.
 *
 * Normalisation uses this file's dot for the sum of squares and the shared
 * qvi_normalize_prepare for the checks and the rare slow path.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f")))

float qvi_normalize_prepare(float *v, size_t n, float ss, float *norm_out);

/* The first r lanes, r in 0..16. */
AVX512_FN static inline __mmask16 tail_mask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

AVX512_FN static inline __m512 dot_step(__m512 acc, __m512 x, __m512 y)
{
    return _mm512_fmadd_ps(x, y, acc);
}

AVX512_FN static inline __m512 l2sq_step(__m512 acc, __m512 x, __m512 y)
{
    __m512 d = _mm512_sub_ps(x, y);
    return _mm512_fmadd_ps(d, d, acc);
}

AVX512_FN static inline __m512 l1_step(__m512 acc, __m512 x, __m512 y)
{
    return _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)));
}

/* The loop shared by the three kernels, instantiated with their step.  A
 * masked-off lane loads 0 from both vectors, which every step maps to 0. */
#define AVX512_KERNEL(name, step)                                              \
    AVX512_FN static float name(const float *a, const float *b, size_t n)      \
    {                                                                          \
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();             \
        __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();             \
        size_t i = 0;                                                          \
        for (; i + 64 <= n; i += 64) {                                         \
            s0 = step(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));     \
            s1 = step(s1, _mm512_loadu_ps(a + i + 16),                         \
                      _mm512_loadu_ps(b + i + 16));                            \
            s2 = step(s2, _mm512_loadu_ps(a + i + 32),                         \
                      _mm512_loadu_ps(b + i + 32));                            \
            s3 = step(s3, _mm512_loadu_ps(a + i + 48),                         \
                      _mm512_loadu_ps(b + i + 48));                            \
        }                                                                      \
        for (; i + 16 <= n; i += 16)                                           \
            s0 = step(s0, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));     \
        if (i < n) {                                                           \
            __mmask16 m = tail_mask(n - i);                                    \
            s1 = step(s1, _mm512_maskz_loadu_ps(m, a + i),                     \
                      _mm512_maskz_loadu_ps(m, b + i));                        \
        }                                                                      \
        return _mm512_reduce_add_ps(                                           \
            _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));      \
    }

AVX512_KERNEL(avx512_dot, dot_step)
AVX512_KERNEL(avx512_l2sq, l2sq_step)
AVX512_KERNEL(avx512_l1, l1_step)

AVX512_FN static float avx512_normalize(float *v, size_t n)
{
    float norm;
    float inv = qvi_normalize_prepare(v, n, avx512_dot(v, v, n), &norm);
    if (inv == 0.0f)
        return norm; /* v was zeroed or rescaled by the slow path */
    __m512 f = _mm512_set1_ps(inv);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(v + i, _mm512_mul_ps(_mm512_loadu_ps(v + i), f));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            v + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, v + i), f));
    }
    return norm;
}

const qvi_kernels qvi_kernels_avx512 = {
    .level = QVI_SIMD_AVX512,
    .name = "avx512",
    .dot = avx512_dot,
    .l2sq = avx512_l2sq,
    .l1 = avx512_l1,
    .normalize = avx512_normalize,
};

#else
/* Not x86-64: nothing to build (ISO C wants one declaration per file). */
typedef int qvi_kernels_avx512_unused;
#endif
