/*
 * multi_maxsim.c -- the MaxSim kernels over multivector records.
 *
 * MaxSim(Q, D) = sum over q in Q of max over d in D of sim(q, d), the
 * similarity being the simd/ kernel of the metric with Qdrant's sign (dot;
 * -l2sq; -l1), as Qdrant's score_max_similarity computes it.  The kernels
 * return -MaxSim, a distance (lower is better), so the HNSW index and the
 * exact scan order them as they order any distance; the API score is
 * MaxSim itself.  One function per metric keeps qvi_hnsw_kernel's
 * context-free signature: the kernel table is process-wide (simd/).
 */
#include "core/multi/multi.h"
#include "simd/simd.h"

#include <math.h>

typedef float (*row_kernel)(const float *a, const float *b, size_t n);

/* -MaxSim for a row similarity of sign * kern(q, d). */
static inline float maxsim_dist(const float *a, const float *b, size_t dim,
                                row_kernel kern, float sign)
{
    uint32_t na = qvi_multi_record_rows(a), nb = qvi_multi_record_rows(b);
    const float *ra = a + QVI_MULTI_HEADER, *rb = b + QVI_MULTI_HEADER;
    float sum = 0.0f;
    for (uint32_t i = 0; i < na; i++) {
        const float *q = ra + (size_t)i * dim;
        float best = -INFINITY;
        for (uint32_t j = 0; j < nb; j++) {
            float sim = sign * kern(q, rb + (size_t)j * dim, dim);
            if (sim > best)
                best = sim;
        }
        sum += best;
    }
    return -sum;
}

static float maxsim_dot(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->dot, 1.0f);
}

static float maxsim_l2(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->l2sq, -1.0f);
}

static float maxsim_l1(const float *a, const float *b, size_t dim)
{
    return maxsim_dist(a, b, dim, qvi_simd()->l1, -1.0f);
}

qvi_multi_kernel qvi_multi_kernel_of(qv_metric metric)
{
    switch (metric) {
    case QV_METRIC_COSINE:
    case QV_METRIC_DOT:
        return maxsim_dot;
    case QV_METRIC_EUCLID:
        return maxsim_l2;
    case QV_METRIC_MANHATTAN:
        return maxsim_l1;
    }
    return maxsim_dot;
}
