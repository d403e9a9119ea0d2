/*
 * narrow_scalar.c -- the portable kernels on half and byte vectors
 * (qvi_narrow_kernels, simd/simd.h), and the reference the SIMD ones are
 * tested against (tests/test_simd_narrow.c).
 *
 * The half kernels widen each element exactly and then sum like
 * kernels_scalar.c: four accumulators, element j of each block of four to
 * accumulator j, folded as (s0 + s1) + (s2 + s3).  The byte kernels sum
 * in 32-bit integers and are exact.  The bit-level half conversions
 * (qvi_f32_to_f16, qvi_f16_to_f32) are also the library's one scalar
 * conversion (core/base/datatype.c uses them); the tests check them
 * against the compiler's _Float16.  No state; any n >= 0, unaligned
 * pointers.
 */
#include "simd/simd.h"

#include <string.h>

float qvi_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t x;
    if (exp == 0x1fu) {
        x = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (!man) {
            x = sign;
        } else { /* subnormal half: a normal float */
            uint32_t e = 0;
            while (!(man & 0x400u)) {
                man <<= 1;
                e++;
            }
            x = sign | ((127 - 15 + 1 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t qvi_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xffu)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        uint32_t m = man | 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static float scalar_dot_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++)
            s[j] += qvi_f16_to_f32(a[i + j]) * qvi_f16_to_f32(b[i + j]);
    for (; i < n; i++)
        s[0] += qvi_f16_to_f32(a[i]) * qvi_f16_to_f32(b[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float scalar_l2sq_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            float d = qvi_f16_to_f32(a[i + j]) - qvi_f16_to_f32(b[i + j]);
            s[j] += d * d;
        }
    for (; i < n; i++) {
        float d = qvi_f16_to_f32(a[i]) - qvi_f16_to_f32(b[i]);
        s[0] += d * d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float scalar_l1_f16(const uint16_t *a, const uint16_t *b, size_t n)
{
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            float d = qvi_f16_to_f32(a[i + j]) - qvi_f16_to_f32(b[i + j]);
            s[j] += d < 0 ? -d : d;
        }
    for (; i < n; i++) {
        float d = qvi_f16_to_f32(a[i]) - qvi_f16_to_f32(b[i]);
        s[0] += d < 0 ? -d : d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static uint32_t scalar_dot_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (uint32_t)a[i] * b[i];
    return s;
}

static uint32_t scalar_l2sq_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

static uint32_t scalar_l1_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] > b[i] ? (uint32_t)(a[i] - b[i]) : (uint32_t)(b[i] - a[i]);
    return s;
}

static void scalar_f32_to_f16(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = qvi_f32_to_f16(in[i]);
}

static void scalar_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = qvi_f16_to_f32(in[i]);
}

const qvi_narrow_kernels qvi_narrow_scalar = {
    .level = QVI_SIMD_SCALAR,
    .name = "scalar",
    .dot_f16 = scalar_dot_f16,
    .l2sq_f16 = scalar_l2sq_f16,
    .l1_f16 = scalar_l1_f16,
    .dot_u8 = scalar_dot_u8,
    .l2sq_u8 = scalar_l2sq_u8,
    .l1_u8 = scalar_l1_u8,
    .f32_to_f16 = scalar_f32_to_f16,
    .f16_to_f32 = scalar_f16_to_f32,
};
