/*
 * quant_int8.c -- scalar (int8) quantization, Qdrant's `scalar` with
 * `type: int8`.
 *
 * The model follows Qdrant's (lib/quantization/src/encoded_vectors_u8.rs):
 * one affine scale for the whole collection, not one per component,
 *     x ~ offset + alpha * c,   c = round((x - offset) / alpha) in 0..127,
 * where [offset, offset + 127 alpha] is the range of the sampled component
 * values, cut at both ends by (1 - quantile) / 2 of them when a quantile
 * is set (quantile.rs, find_quantile_interval: a quantile of 1, no
 * quantile, or fewer than 127 vectors keep the whole range).  127 rather
 * than 255 levels, as Qdrant, so that a code is a valid signed and
 * unsigned byte: the dot kernels multiply unsigned by signed bytes
 * (vpmaddubsw, vpdpbusd) and no pair of products overflows int16.
 *
 * Distances, for codes cx and cy of x and y (D = sum cx*cy):
 *     x.y  ~ alpha^2 D + alpha offset (sum cx + sum cy) + dim offset^2
 *          = alpha^2 D + corr(x) + corr(y),
 *       corr(v) = alpha offset sum(cv) + dim offset^2 / 2, kept per slot;
 *     |x - y|^2 ~ alpha^2 sum (cx - cy)^2,   |x - y|_1 ~ alpha sum |cx - cy|.
 * The query is encoded with the same scale (symmetric), as Qdrant's.
 * Internal distances are then -x.y for cosine and dot, the squared L2
 * distance and the L1 distance, the units of the float distances, so an
 * un-rescored result still gets sensible scores.
 */
#include "core/quant/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS 127.0f

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Range of the sample's values, cut by the quantile; false on ENOMEM. */
static bool value_range(const qvi_quant *q, const float *base, size_t stride,
                        const uint32_t *slots, size_t n, float *lo, float *hi)
{
    size_t nv = n * q->dim;
    *lo = INFINITY;
    *hi = -INFINITY;
    float quantile = q->p.quantile;
    if (quantile == 0.0f || quantile >= 1.0f || n < 127) {
        for (size_t i = 0; i < n; i++) {
            const float *v = base + (size_t)slots[i] * stride;
            for (uint32_t j = 0; j < q->dim; j++) {
                *lo = v[j] < *lo ? v[j] : *lo;
                *hi = v[j] > *hi ? v[j] : *hi;
            }
        }
        return true;
    }
    float *vals = malloc(nv * sizeof(float));
    if (!vals)
        return false;
    for (size_t i = 0; i < n; i++)
        memcpy(vals + i * q->dim, base + (size_t)slots[i] * stride,
               q->dim * sizeof(float));
    qsort(vals, nv, sizeof(float), cmp_float);
    size_t cut = (size_t)((double)nv * (1.0 - quantile) / 2.0);
    if (cut > (nv - 1) / 2)
        cut = (nv - 1) / 2;
    *lo = vals[cut];
    *hi = vals[nv - 1 - cut];
    free(vals);
    return true;
}

qv_status qvi_q8_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used)
{
    size_t max = qvi_quant_sample_max(q->dim);
    uint32_t *slots = malloc((max ? max : 1) * sizeof(uint32_t));
    if (!slots)
        return QV_ENOMEM;
    size_t n = qvi_quant_sample(live, used, slots, max);
    float lo = 0.0f, hi = 0.0f;
    bool ok = n == 0 || value_range(q, base, stride, slots, n, &lo, &hi);
    free(slots);
    if (!ok)
        return QV_ENOMEM;
    if (n == 0) {
        lo = -1.0f; /* no data yet: the range of unit vectors */
        hi = 1.0f;
    }
    float alpha = (hi - lo) / LEVELS;
    /* All values equal: any positive scale encodes them exactly. */
    q->alpha = alpha > 0.0f && isfinite(alpha) ? alpha : 1.0f;
    q->offset = lo;
    q->trained = true;
    return QV_OK;
}

/* Encodes v into code; returns sum(code). */
static uint32_t encode_row(const qvi_quant *q, const float *v, uint8_t *code)
{
    float inv = 1.0f / q->alpha;
    uint32_t sum = 0;
    for (uint32_t j = 0; j < q->dim; j++) {
        float c = rintf((v[j] - q->offset) * inv);
        c = c < 0.0f ? 0.0f : (c > LEVELS ? LEVELS : c);
        code[j] = (uint8_t)c;
        sum += code[j];
    }
    memset(code + q->dim, 0, q->row - q->dim);
    return sum;
}

float qvi_q8_correction(const qvi_quant *q, uint32_t sum)
{
    return q->alpha * q->offset * (float)sum +
           (float)q->dim * q->offset * q->offset * 0.5f;
}

void qvi_q8_encode(qvi_quant *q, uint32_t slot, const float *v)
{
    uint8_t *code = q->codes + (size_t)slot * q->row;
    q->corr[slot] = qvi_q8_correction(q, encode_row(q, v, code));
}

static float dist_l2(const qvi_quant_query *qq, uint32_t slot)
{
    const qvi_quant *q = qq->q;
    const uint8_t *c = q->codes + (size_t)slot * q->row;
    return q->alpha * q->alpha * (float)q->k->l2_u7(qq->code, c, q->dim);
}

static float dist_l1(const qvi_quant_query *qq, uint32_t slot)
{
    const qvi_quant *q = qq->q;
    const uint8_t *c = q->codes + (size_t)slot * q->row;
    return q->alpha * (float)q->k->l1_u8(qq->code, c, q->dim);
}

static float dist_dot(const qvi_quant_query *qq, uint32_t slot)
{
    const qvi_quant *q = qq->q;
    const uint8_t *c = q->codes + (size_t)slot * q->row;
    float d = (float)q->k->dot_u7(qq->code, c, q->dim);
    return -(q->alpha * q->alpha * d + qq->corr + q->corr[slot]);
}

void qvi_q8_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out)
{
    out->q = q;
    out->dist = q->metric == QV_METRIC_EUCLID      ? dist_l2
                : q->metric == QV_METRIC_MANHATTAN ? dist_l1
                                                   : dist_dot;
    out->code = buf;
    out->corr = qvi_q8_correction(q, encode_row(q, query, buf));
    out->planes = 0;
}
