/*
 * multi_maxsim.c -- the MaxSim kernels over multivector records.
 *
 * MaxSim(Q, D) = sum over q in Q of max over d in D of sim(q, d), the
 * similarity being the simd/ kernel of the metric with Qdrant's sign (dot;
 * -l2sq; -l1), as Qdrant's score_max_similarity computes it.  The kernels
 * return -MaxSim, a distance (lower is better), so the HNSW index and the
 * exact scan order them as they order any distance; the API score is
 * MaxSim itself.  One function per metric and element type keeps
 * qvi_hnsw_kernel's context-free signature: the kernel tables are
 * process-wide (simd/, core/base/datatype.c).  Records of float16 and
 * uint8 collections hold halves or bytes, scored by the narrow kernels
 * (the float kernels' values up to summation order for halves, exact
 * integers for bytes).
 */
#include "core/multi/multi.h"
#include "simd/simd.h"

#include <math.h>

typedef float (*row_kernel)(const float *a, const float *b, size_t n);

/* -MaxSim for a row similarity of sign * kern(q, d), rows of elem-byte
 * elements (narrow rows typed as floats for the kernels, base.h
 * qvi_row_kernel). */
static inline float maxsim_dist(const float *a, const float *b, size_t dim,
                                row_kernel kern, float sign, uint32_t elem)
{
    uint32_t na = qvi_multi_record_rows(a), nb = qvi_multi_record_rows(b);
    float sum = 0.0f;
    for (uint32_t i = 0; i < na; i++) {
        const float *q = qvi_multi_record_row(a, (uint32_t)dim, elem, i);
        float best = -INFINITY;
        for (uint32_t j = 0; j < nb; j++) {
            const float *d = qvi_multi_record_row(b, (uint32_t)dim, elem, j);
            float sim = sign * kern(q, d, dim);
            if (sim > best)
                best = sim;
        }
        sum += best;
    }
    return -sum;
}

static float maxsim_dot(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->dot, 1.0f, 4);
}

static float maxsim_l2(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->l2sq, -1.0f, 4);
}

static float maxsim_l1(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->l1, -1.0f, 4);
}

/* The narrow ones: one function per metric and element type, as the
 * signature carries no context. */
#define NARROW_MAXSIM(name, dt, which, sign, elem)                             \
    static float name(const float *a, const float *b, size_t dim)              \
    {                                                                          \
        return maxsim_dist(a, b, dim, qvi_datatype_kernel(dt, which), sign,    \
                           elem);                                              \
    }
NARROW_MAXSIM(maxsim_dot_f16, QV_DATATYPE_FLOAT16, QVI_ROWK_DOT, 1.0f, 2)
NARROW_MAXSIM(maxsim_l2_f16, QV_DATATYPE_FLOAT16, QVI_ROWK_L2SQ, -1.0f, 2)
NARROW_MAXSIM(maxsim_l1_f16, QV_DATATYPE_FLOAT16, QVI_ROWK_L1, -1.0f, 2)
NARROW_MAXSIM(maxsim_dot_u8, QV_DATATYPE_UINT8, QVI_ROWK_DOT, 1.0f, 1)
NARROW_MAXSIM(maxsim_l2_u8, QV_DATATYPE_UINT8, QVI_ROWK_L2SQ, -1.0f, 1)
NARROW_MAXSIM(maxsim_l1_u8, QV_DATATYPE_UINT8, QVI_ROWK_L1, -1.0f, 1)
/* uint8 under cosine: the bytes' own cosine per pair of rows */
NARROW_MAXSIM(maxsim_cos_u8, QV_DATATYPE_UINT8, QVI_ROWK_COS, 1.0f, 1)

qvi_multi_kernel qvi_multi_kernel_of(qv_metric metric, uint32_t datatype)
{
    static const qvi_multi_kernel k[3][3] = {
        {maxsim_dot, maxsim_l2, maxsim_l1},
        {maxsim_dot_f16, maxsim_l2_f16, maxsim_l1_f16},
        {maxsim_dot_u8, maxsim_l2_u8, maxsim_l1_u8}};
    size_t t = datatype == QV_DATATYPE_FLOAT16 ? 1
               : datatype == QV_DATATYPE_UINT8 ? 2
                                               : 0;
    switch (metric) {
    case QV_METRIC_COSINE:
        return t == 2 ? maxsim_cos_u8 : k[t][0];
    case QV_METRIC_DOT:
        return k[t][0];
    case QV_METRIC_EUCLID:
        return k[t][1];
    case QV_METRIC_MANHATTAN:
        return k[t][2];
    }
    return k[t][0];
}
