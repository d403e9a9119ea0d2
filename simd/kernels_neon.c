/*
 * kernels_neon.c -- distance kernels for aarch64 (Advanced SIMD, "NEON").
 *
 * NEON is part of the aarch64 base architecture, so this file needs no
 * target attribute; CMake compiles it only for aarch64, and dispatch.c
 * still checks HWCAP_ASIMD from getauxval before using it.
 *
 * Shape of every kernel:
 *   - a main loop of 16 floats per step into four independent 4-lane
 *     accumulators (FMLA has a latency of about 4 cycles and big cores
 *     issue two per cycle, so one chain would leave most of the unit idle);
 *   - then whole 4-float steps into one accumulator (at most three);
 *   - then the last n % 4 floats in scalar code: NEON has no masked loads,
 *     and reading past the end of a vector is not allowed;
 *   - one horizontal sum (FADDP) at the end.
 * L1 uses FABD, the absolute difference in one instruction.  Loads are
 * unaligned (LD1 has no alignment requirement).  Results differ from the
 * scalar reference only in summation order (and FMA's single rounding);
 * tests/test_simd.c bounds that, under qemu-user in CI.
 */
#include "simd/simd.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>

float qvi_normalize_prepare(float *v, size_t n, float ss, float *norm_out);

static inline float32x4_t dot_step(float32x4_t acc, float32x4_t x,
                                   float32x4_t y)
{
    return vfmaq_f32(acc, x, y);
}

static inline float32x4_t l2sq_step(float32x4_t acc, float32x4_t x,
                                    float32x4_t y)
{
    float32x4_t d = vsubq_f32(x, y);
    return vfmaq_f32(acc, d, d);
}

static inline float32x4_t l1_step(float32x4_t acc, float32x4_t x, float32x4_t y)
{
    return vaddq_f32(acc, vabdq_f32(x, y));
}

static inline float dot_tail(float x, float y)
{
    return x * y;
}

static inline float l2sq_tail(float x, float y)
{
    return (x - y) * (x - y);
}

static inline float l1_tail(float x, float y)
{
    return fabsf(x - y);
}

/* The loop shared by the three kernels, instantiated with their vector
 * step and its scalar counterpart for the last n % 4 elements. */
#define NEON_KERNEL(name, step, tail)                                          \
    static float name(const float *a, const float *b, size_t n)                \
    {                                                                          \
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);            \
        float32x4_t s2 = vdupq_n_f32(0.0f), s3 = vdupq_n_f32(0.0f);            \
        size_t i = 0;                                                          \
        for (; i + 16 <= n; i += 16) {                                         \
            s0 = step(s0, vld1q_f32(a + i), vld1q_f32(b + i));                 \
            s1 = step(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));         \
            s2 = step(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));         \
            s3 = step(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));       \
        }                                                                      \
        for (; i + 4 <= n; i += 4)                                             \
            s0 = step(s0, vld1q_f32(a + i), vld1q_f32(b + i));                 \
        float t = 0.0f;                                                        \
        for (; i < n; i++)                                                     \
            t += tail(a[i], b[i]);                                             \
        return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))) +   \
               t;                                                              \
    }

NEON_KERNEL(neon_dot, dot_step, dot_tail)
NEON_KERNEL(neon_l2sq, l2sq_step, l2sq_tail)
NEON_KERNEL(neon_l1, l1_step, l1_tail)

static float neon_normalize(float *v, size_t n)
{
    float norm;
    float inv = qvi_normalize_prepare(v, n, neon_dot(v, v, n), &norm);
    if (inv == 0.0f)
        return norm; /* v was zeroed or rescaled by the slow path */
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(v + i, vmulq_n_f32(vld1q_f32(v + i), inv));
    for (; i < n; i++)
        v[i] *= inv;
    return norm;
}

const qvi_kernels qvi_kernels_neon = {
    .level = QVI_SIMD_NEON,
    .name = "neon",
    .dot = neon_dot,
    .l2sq = neon_l2sq,
    .l1 = neon_l1,
    .normalize = neon_normalize,
};

#else
/* Not aarch64: nothing to build (ISO C wants one declaration per file). */
typedef int qvi_kernels_neon_unused;
#endif
