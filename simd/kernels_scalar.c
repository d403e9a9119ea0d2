/*
 * kernels_scalar.c -- the portable distance kernels, and the reference the
 * SIMD kernels are tested against.
 *
 * Written in plain C11 with no intrinsics, so this table exists in every
 * build and on every CPU.  Each loop keeps four independent accumulators
 * (in each block of four elements, element j goes to accumulator j; the
 * last n % 4 elements go to the first) and folds them as (s0 + s1) +
 * (s2 + s3).  The adds of one accumulator do not wait for another's, which
 * roughly quadruples the speed of a single-accumulator loop, and the
 * compiler may keep the four in one SSE or NEON register.  The order of
 * the sum is fixed by the source (no -ffast-math).  The SIMD kernels sum in
 * other orders; tests/test_simd.c bounds the difference relative to the
 * sum of |terms|, requires exact agreement on data whose sums are exact in
 * float, and checks this file against a double-precision oracle.
 *
 * Normalisation is also where every level comes for its rare slow path:
 * when the float sum of squares overflowed, underflowed or met a NaN, the
 * vector is measured again here in double precision (see
 * qvi_normalize_prepare), so every level treats such vectors identically.
 *
 * Invariants: any n >= 0 (n = 0 gives 0), unaligned pointers, a and b are
 * only read.  No state.
 */
#include "simd/simd.h"

#include <float.h>
#include <math.h>

static float scalar_dot(const float *a, const float *b, size_t n)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float scalar_l2sq(const float *a, const float *b, size_t n)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i];
        float d1 = a[i + 1] - b[i + 1];
        float d2 = a[i + 2] - b[i + 2];
        float d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static float scalar_l1(const float *a, const float *b, size_t n)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += fabsf(a[i] - b[i]);
        s1 += fabsf(a[i + 1] - b[i + 1]);
        s2 += fabsf(a[i + 2] - b[i + 2]);
        s3 += fabsf(a[i + 3] - b[i + 3]);
    }
    for (; i < n; i++)
        s0 += fabsf(a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

/*
 * The slow path of every level's normalize, taken when the float sum of
 * squares s is outside [NORM_FAST_MIN, FLT_MAX] or is NaN.  Squares of
 * floats neither overflow nor underflow in double (FLT_MAX^2 ~ 1e77, the
 * smallest subnormal squared ~ 2e-90), so the double sum gives the true
 * norm to double precision whatever the scale.  The vector is then:
 *   - left as all zeros, returning 0, when that norm is below FLT_MIN
 *     (zero or subnormal) or is not finite (a NaN or infinite component);
 *   - scaled in double otherwise, so a vector of components near 1e30 or
 *     1e-30, whose float squares would overflow or vanish, still comes out
 *     with unit norm.  The returned norm may then be +inf in float when the
 *     true norm exceeds FLT_MAX.
 */
static float normalize_slow(float *v, size_t n)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)v[i] * (double)v[i];
    double norm = sqrt(ss);
    if (!(norm >= (double)FLT_MIN) || !isfinite(norm)) {
        for (size_t i = 0; i < n; i++)
            v[i] = 0.0f;
        return 0.0f;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)v[i] / norm);
    return (float)norm;
}

/*
 * Float sums of squares at least this large cannot have lost anything
 * that matters to squares that underflowed: n <= 2^31 terms below FLT_MIN
 * (2^-126) add at most 2^-95, far below one ulp of 2^-64.  A finite sum
 * also means no partial sum overflowed, since every term is >= 0.  The
 * norm is then within [2^-32, 2^64) and its reciprocal is a normal float.
 */
#define NORM_FAST_MIN 0x1p-64f

/*
 * The part of normalize common to every level.  ss is the level's own float
 * sum of squares of v.  Returns the factor the caller must multiply v by
 * (1/norm), with the norm in *norm_out; or returns 0 when v needed the slow
 * path, which has then already rewritten v and set *norm_out.
 *
 * Declared in each SIMD file rather than in simd.h, which lists only what
 * the rest of Quiver may call.
 */
float qvi_normalize_prepare(float *v, size_t n, float ss, float *norm_out);
float qvi_normalize_prepare(float *v, size_t n, float ss, float *norm_out)
{
    if (!(ss >= NORM_FAST_MIN && ss <= FLT_MAX)) {
        *norm_out = normalize_slow(v, n);
        return 0.0f;
    }
    float norm = sqrtf(ss);
    *norm_out = norm;
    return 1.0f / norm;
}

static float scalar_normalize(float *v, size_t n)
{
    float norm;
    float inv = qvi_normalize_prepare(v, n, scalar_dot(v, v, n), &norm);
    if (inv != 0.0f) {
        for (size_t i = 0; i < n; i++)
            v[i] *= inv;
    }
    return norm;
}

const qvi_kernels qvi_kernels_scalar = {
    .level = QVI_SIMD_SCALAR,
    .name = "scalar",
    .dot = scalar_dot,
    .l2sq = scalar_l2sq,
    .l1 = scalar_l1,
    .normalize = scalar_normalize,
};
