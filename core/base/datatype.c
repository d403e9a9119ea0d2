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
 * Storage (encode, decode, kernels): a float16 or uint8 collection keeps
 * its rows in the narrow type, 2 or 1 bytes an element, written by
 * qvi_datatype_encode from the converted floats (so encoding loses
 * nothing) and read back by qvi_datatype_decode (exact).  Distances on
 * those rows go through qvi_datatype_kernel, thin wrappers of simd/'s
 * narrow kernels with the float kernels' signature, so that the HNSW and
 * the scans can hold either kind in one function pointer.  The wrappers
 * read the narrow kernel table chosen once (pthread_once) by
 * narrow_table: like simd/'s own table, set once and never changed.
 * uint8 under cosine is not normalised (Qdrant keeps the bytes) and has
 * its own kernel, cos_u8, Qdrant's cosine_similarity_bytes.
 *
 * Pure functions of their arguments; thread-safe.
 */
#include "core/base/base.h"
#include "simd/simd.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

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

size_t qvi_datatype_size(uint32_t datatype)
{
    switch (datatype) {
    case QV_DATATYPE_FLOAT16:
        return 2;
    case QV_DATATYPE_UINT8:
        return 1;
    default:
        return 4;
    }
}

static pthread_once_t narrow_once = PTHREAD_ONCE_INIT;
static const qvi_narrow_kernels *narrow_k;

static void narrow_choose(void)
{
    narrow_k = qvi_simd_narrow();
}

static const qvi_narrow_kernels *narrow_table(void)
{
    pthread_once(&narrow_once, narrow_choose);
    return narrow_k;
}

void qvi_datatype_encode(uint32_t datatype, const float *in, void *out,
                         size_t n)
{
    switch (datatype) {
    case QV_DATATYPE_FLOAT16:
        narrow_table()->f32_to_f16(in, out, n);
        break;
    case QV_DATATYPE_UINT8: {
        uint8_t *o = out;
        for (size_t i = 0; i < n; i++)
            o[i] = (uint8_t)qvi_round_uint8(in[i]);
        break;
    }
    default:
        memcpy(out, in, n * sizeof(float));
        break;
    }
}

void qvi_datatype_decode(uint32_t datatype, const void *in, float *out,
                         size_t n)
{
    switch (datatype) {
    case QV_DATATYPE_FLOAT16:
        narrow_table()->f16_to_f32(in, out, n);
        break;
    case QV_DATATYPE_UINT8: {
        const uint8_t *p = in;
        for (size_t i = 0; i < n; i++)
            out[i] = (float)p[i];
        break;
    }
    default:
        memcpy(out, in, n * sizeof(float));
        break;
    }
}

/* The wrappers: a and b are rows of halves or bytes (see base.h). */
static float dot_f16(const float *a, const float *b, size_t n)
{
    return narrow_table()->dot_f16((const uint16_t *)(const void *)a,
                                   (const uint16_t *)(const void *)b, n);
}

static float l2sq_f16(const float *a, const float *b, size_t n)
{
    return narrow_table()->l2sq_f16((const uint16_t *)(const void *)a,
                                    (const uint16_t *)(const void *)b, n);
}

static float l1_f16(const float *a, const float *b, size_t n)
{
    return narrow_table()->l1_f16((const uint16_t *)(const void *)a,
                                  (const uint16_t *)(const void *)b, n);
}

static float dot_u8(const float *a, const float *b, size_t n)
{
    return (float)narrow_table()->dot_u8((const uint8_t *)(const void *)a,
                                         (const uint8_t *)(const void *)b, n);
}

static float l2sq_u8(const float *a, const float *b, size_t n)
{
    return (float)narrow_table()->l2sq_u8((const uint8_t *)(const void *)a,
                                          (const uint8_t *)(const void *)b, n);
}

static float l1_u8(const float *a, const float *b, size_t n)
{
    return (float)narrow_table()->l1_u8((const uint8_t *)(const void *)a,
                                        (const uint8_t *)(const void *)b, n);
}

/* Qdrant's cosine_similarity_bytes: integer sums, then in f32. */
static float cos_u8(const float *a, const float *b, size_t n)
{
    const qvi_narrow_kernels *k = narrow_table();
    const uint8_t *x = (const uint8_t *)(const void *)a;
    const uint8_t *y = (const uint8_t *)(const void *)b;
    uint32_t n1 = k->dot_u8(x, x, n), n2 = k->dot_u8(y, y, n);
    if (n1 == 0 || n2 == 0)
        return 0.0f;
    return (float)k->dot_u8(x, y, n) / sqrtf((float)n1 * (float)n2);
}

qvi_row_kernel qvi_datatype_kernel(uint32_t datatype, int which)
{
    static const qvi_row_kernel f16[] = {dot_f16, l2sq_f16, l1_f16, NULL};
    static const qvi_row_kernel u8[] = {dot_u8, l2sq_u8, l1_u8, cos_u8};
    if (which < 0 || which > QVI_ROWK_COS)
        return NULL;
    switch (datatype) {
    case QV_DATATYPE_FLOAT16:
        return f16[which];
    case QV_DATATYPE_UINT8:
        return u8[which];
    default:
        return NULL;
    }
}
