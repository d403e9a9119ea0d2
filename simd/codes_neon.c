/*
 * codes_neon.c -- kernels on quantized codes for aarch64 (NEON is part of
 * the base architecture).
 *
 * 16 bytes (two words) a step, widening as it goes so nothing overflows:
 *   dot_u7  vmull_u8 of each half into uint16 products (<= 127^2), summed
 *           pairwise into uint32 lanes by vpadalq_u16;
 *   l2_u7   vabdq_u8 (|a - b|), then the same widening square;
 *   l1_u8   vabdq_u8, pairwise into uint16 (<= 510), then into uint32;
 *   popcounts  vcntq_u8 of the xor / and, widened pairwise to 64 bits.
 * The n % 16 bytes (odd last word) go through scalar code.
 */
#include "simd/simd.h"

#if defined(__aarch64__)

#include <arm_neon.h>

static uint32_t neon_dot_u7(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
        acc = vpadalq_u16(acc, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
        acc = vpadalq_u16(acc, vmull_high_u8(x, y));
    }
    uint32_t s = vaddvq_u32(acc);
    for (; i < n; i++)
        s += (uint32_t)a[i] * b[i];
    return s;
}

static uint32_t neon_l2_u7(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8x16_t d = vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i));
        acc = vpadalq_u16(acc, vmull_u8(vget_low_u8(d), vget_low_u8(d)));
        acc = vpadalq_u16(acc, vmull_high_u8(d, d));
    }
    uint32_t s = vaddvq_u32(acc);
    for (; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

static uint32_t neon_l1_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t acc = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8x16_t d = vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i));
        acc = vpadalq_u16(acc, vpaddlq_u8(d));
    }
    uint32_t s = vaddvq_u32(acc);
    for (; i < n; i++)
        s += a[i] > b[i] ? (uint32_t)(a[i] - b[i]) : (uint32_t)(b[i] - a[i]);
    return s;
}

static inline uint64x2_t count_bytes(uint64x2_t acc, uint8x16_t v)
{
    return vpadalq_u32(acc, vpaddlq_u16(vpaddlq_u8(vcntq_u8(v))));
}

static uint64_t neon_xor_popcount(const uint64_t *a, const uint64_t *b,
                                  size_t w)
{
    uint64x2_t acc = vdupq_n_u64(0);
    size_t i = 0;
    for (; i + 2 <= w; i += 2) {
        uint8x16_t x = vreinterpretq_u8_u64(vld1q_u64(a + i));
        uint8x16_t y = vreinterpretq_u8_u64(vld1q_u64(b + i));
        acc = count_bytes(acc, veorq_u8(x, y));
    }
    uint64_t s = vaddvq_u64(acc);
    for (; i < w; i++)
        s += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    return s;
}

static uint64_t neon_and_popcount(const uint64_t *a, const uint64_t *b,
                                  size_t w)
{
    uint64x2_t acc = vdupq_n_u64(0);
    size_t i = 0;
    for (; i + 2 <= w; i += 2) {
        uint8x16_t x = vreinterpretq_u8_u64(vld1q_u64(a + i));
        uint8x16_t y = vreinterpretq_u8_u64(vld1q_u64(b + i));
        acc = count_bytes(acc, vandq_u8(x, y));
    }
    uint64_t s = vaddvq_u64(acc);
    for (; i < w; i++)
        s += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return s;
}

const qvi_code_kernels qvi_codes_neon = {
    .level = QVI_SIMD_NEON,
    .name = "neon",
    .dot_u7 = neon_dot_u7,
    .l2_u7 = neon_l2_u7,
    .l1_u8 = neon_l1_u8,
    .xor_popcount = neon_xor_popcount,
    .and_popcount = neon_and_popcount,
    .pq_sum = qvi_pq_sum_scalar,
};

#else
typedef int qvi_codes_neon_unused;
#endif
