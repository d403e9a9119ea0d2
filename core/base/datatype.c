/*
 * datatype.c -- conversion of vectors to a collection's element type
 * (Qdrant's "datatype": float32, float16, uint8).
 *
 * Every vector a collection takes (a point, a multivector row, a query) is
 * converted once, where it enters, by qvi_datatype_apply; after that the
 * rest of the library sees ordinary floats that happen to be exact halves
 * or exact integers 0..255.  This is what Qdrant 1.19 does to a vector
 * before storing or scoring it (lib/segment/src/data_types/primitive.rs:
 * f16::from_f32 for float16, `x as u8` for uint8), so scores and the
 * values read back match Qdrant's.
 *
 * float16: round to nearest, ties to even, done on the bits so that the
 * result does not depend on the compiler's _Float16 support or on the
 * FPU's rounding mode (the SIMD conversion instructions, F16C's
 * vcvtps2ph with imm 0 and NEON's vcvt_f16_f32, round the same way).
 * uint8: Rust's float-to-int cast, which truncates toward zero and
 * saturates (NaN would give 0, but callers have refused NaN already).
 *
 * Pure functions of their arguments; thread-safe.
 */
#include "core/base/base.h"

#include <string.h>

uint16_t qvi_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xffu) /* inf or NaN (NaN keeps a quiet payload bit) */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int e = (int)exp - 127 + 15; /* the half's biased exponent */
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u); /* overflow: infinity */
    if (e <= 0) {
        /* A subnormal half (or zero): shift the full significand right
         * and round the bits shifted out. */
        if (e < -10)
            return (uint16_t)sign; /* below half the smallest subnormal */
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
    /* A carry out of the significand bumps the exponent, which is the
     * right result (up to infinity). */
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

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
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) |
                ((man & 0x3ffu) << 13);
        }
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

float qvi_round_uint8(float v)
{
    if (!(v > 0.0f)) /* negative, zero, NaN */
        return 0.0f;
    if (v >= 255.0f)
        return 255.0f;
    return (float)(uint32_t)v; /* truncation toward zero */
}

bool qvi_f16_overflows(float v)
{
    /* 65520 is halfway between the largest half (65504) and 2^16: from it
     * on, round-to-nearest-even gives infinity. */
    return !(v < 65520.0f && v > -65520.0f);
}

void qvi_datatype_apply(uint32_t datatype, float *v, size_t n)
{
    switch (datatype) {
    case QV_DATATYPE_FLOAT16:
        for (size_t i = 0; i < n; i++)
            v[i] = qvi_f16_to_f32(qvi_f32_to_f16(v[i]));
        break;
    case QV_DATATYPE_UINT8:
        for (size_t i = 0; i < n; i++)
            v[i] = qvi_round_uint8(v[i]);
        break;
    default:
        break;
    }
}

const char *qvi_datatype_name(uint32_t datatype)
{
    switch (datatype) {
    case QV_DATATYPE_FLOAT32:
        return "float32";
    case QV_DATATYPE_FLOAT16:
        return "float16";
    case QV_DATATYPE_UINT8:
        return "uint8";
    default:
        return NULL;
    }
}
