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
 * float16: round to nearest, ties to even, by simd/'s bit-level
 * qvi_f32_to_f16 (the same rounding as the kernels' conversions, and
 * independent of the compiler's _Float16 support and the FPU's mode).
 * uint8: Rust's float-to-int cast, which truncates toward zero and
 * saturates (NaN would give 0, but callers have refused NaN already).
 *
 * Pure functions of their arguments; thread-safe.
 */
#include "core/base/base.h"
#include "simd/simd.h"

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

uint16_t qvi_half_bits(float v)
{
    return qvi_f32_to_f16(v);
}

float qvi_half_value(uint16_t h)
{
    return qvi_f16_to_f32(h);
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
