/*
 * narrow_neon.c -- the narrow kernels (half and byte vectors) for aarch64
 * (NEON is part of the base architecture, and so are the half <-> float
 * conversions fcvtl / fcvtn used here: no FP16 arithmetic extension is
 * needed, since the sums are in float).  Halves: 8 a step, widened to two
 * float vectors, two accumulators.  Bytes: 16 a step, vmull_u8 to 16-bit
 * products or squared differences (at most 255^2 = 65025, which fits),
 * pairwise-added into 32-bit lanes with vpadalq_u16: exact.  The last
 * n % step elements are padded with zeros in a stack buffer.  vcvt_f16_f32
 * rounds to nearest even (FPCR's default mode, which Linux keeps).
 */
#include "simd/simd.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

static inline float32x4_t lo(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t hi(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p + 4)));
}

enum { HOP_DOT, HOP_L2, HOP_L1 };

static inline float32x4_t hstep(float32x4_t s, float32x4_t x, float32x4_t y,
                                int op)
{
    if (op == HOP_DOT)
        return vfmaq_f32(s, x, y);
    float32x4_t d = vsubq_f32(x, y);
    return op == HOP_L2 ? vfmaq_f32(s, d, d) : vaddq_f32(s, vabsq_f32(d));
}

static inline float half_kernel(const uint16_t *a, const uint16_t *b, size_t n,
                                int op)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = hstep(s0, lo(a + i), lo(b + i), op);
        s1 = hstep(s1, hi(a + i), hi(b + i), op);
    }
    if (i < n) {
        uint16_t ta[8] = {0}, tb[8] = {0};
        memcpy(ta, a + i, (n - i) * 2);
        memcpy(tb, b + i, (n - i) * 2);
        s0 = hstep(s0, lo(ta), lo(tb), op);
        s1 = hstep(s1, hi(ta), hi(tb), op);
    }
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static float neon_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    return half_kernel(a, b, n, HOP_DOT);
}

static float neon_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    return half_kernel(a, b, n, HOP_L2);
}

static float neon_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    return half_kernel(a, b, n, HOP_L1);
}

static inline uint32x4_t bstep(uint32x4_t s, uint8x16_t x, uint8x16_t y, int op)
{
    if (op == HOP_DOT) {
        s = vpadalq_u16(s, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
        return vpadalq_u16(s, vmull_high_u8(x, y));
    }
    uint8x16_t d = vabdq_u8(x, y);
    if (op == HOP_L2) {
        s = vpadalq_u16(s, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
        return vpadalq_u16(s, vmull_high_u8(d, d));
    }
    return vpadalq_u16(s, vpaddlq_u8(d));
}

static inline uint32_t byte_kernel(const uint8_t *a, const uint8_t *b, size_t n,
                                   int op)
{
    uint32x4_t s = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        s = bstep(s, vld1q_u8(a + i), vld1q_u8(b + i), op);
    if (i < n) {
        uint8_t ta[16] = {0}, tb[16] = {0};
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        s = bstep(s, vld1q_u8(ta), vld1q_u8(tb), op);
    }
    return vaddvq_u32(s);
}

static uint32_t neon_dot_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    return byte_kernel(a, b, n, HOP_DOT);
}

static uint32_t neon_l2sq_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    return byte_kernel(a, b, n, HOP_L2);
}

static uint32_t neon_l1_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    return byte_kernel(a, b, n, HOP_L1);
}

static void neon_f32_to_f16(const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(out + i,
                 vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(in + i))));
    if (i < n) {
        float t[4] = {0};
        uint16_t h[4];
        memcpy(t, in + i, (n - i) * 4);
        vst1_u16(h, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(t))));
        memcpy(out + i, h, (n - i) * 2);
    }
}

static void neon_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, lo(in + i));
    if (i < n) {
        uint16_t t[4] = {0};
        float f[4];
        memcpy(t, in + i, (n - i) * 2);
        vst1q_f32(f, lo(t));
        memcpy(out + i, f, (n - i) * 4);
    }
}

const qvi_narrow_kernels qvi_narrow_neon = {
    .level = QVI_SIMD_NEON,
    .name = "neon",
    .dot_f16 = neon_dot_f16,
    .l2sq_f16 = neon_l2sq_f16,
    .l1_f16 = neon_l1_f16,
    .dot_u8 = neon_dot_u8,
    .l2sq_u8 = neon_l2sq_u8,
    .l1_u8 = neon_l1_u8,
    .f32_to_f16 = neon_f32_to_f16,
    .f16_to_f32 = neon_f16_to_f32,
};

#else
typedef int qvi_narrow_neon_unused;
#endif
