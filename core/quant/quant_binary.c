/*
 * quant_binary.c -- binary quantization, Qdrant's `binary` with its
 * `encoding` and `query_encoding`
 * (lib/quantization/src/encoded_vectors_binary.rs).
 *
 * Stored codes, bits of 64-bit words:
 *   one_bit            bit i = (x_i > 0).  Meant for centred data, as
 *                      embeddings usually are; no training.
 *   two_bits           each component falls in one of three bands of its
 *                      z-score against the component's mean and standard
 *                      deviation, [-2 sd, -sd), [-sd, sd), [sd, 2 sd]
 *                      (outside values join the end bands), written as 00,
 *                      10, 11: the first bit at i, the second at dim + i.
 *   one_and_half_bits  as two_bits, but the second bits of components 2j
 *                      and 2j + 1 share bit dim + j (ORed): 1.5 bits a
 *                      component.
 * A component whose standard deviation is below FLT_EPSILON falls back to
 * its sign with no second bit, as Qdrant's.
 *
 * Queries:
 *   default, binary    encoded as the stored codes; the distance counts
 *                      differing bits, X = popcount(q xor c).
 *   scalar4bits/8bits  the query is extended as the code is (itself twice
 *                      for two_bits; itself then the larger of each pair
 *                      for one_and_half_bits), quantized to B bits on the
 *                      symmetric range [-max|q|, max|q|] and kept as B bit
 *                      planes; X = sum_b 2^b popcount(plane_b xor c) /
 *                      (2^B - 1), a differing-bit count in which each
 *                      query bit weighs by how far from the middle its
 *                      component is.  Finer queries, same codes: better
 *                      recall for a little more work per distance.
 * Distances (lower is better): 2X - dim under cosine and dot, so that the
 * score dim - 2X is Qdrant's un-rescored score (the dot product of the
 * +-1 vectors for one bit); X under euclid and manhattan.  These are
 * orders, not float distances: binary searches rescore by default.
 */
#include "core/quant/quant.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline void set_bit(uint64_t *w, size_t i)
{
    w[i / 64] |= 1ull << (i % 64);
}

qv_status qvi_qb_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used)
{
    if (q->p.encoding == QV_BINARY_ONE_BIT) {
        q->trained = true;
        return QV_OK;
    }
    size_t max = qvi_quant_sample_max(q->dim);
    uint32_t *slots = malloc(max * sizeof(uint32_t));
    double *sum = calloc(2 * (size_t)q->dim, sizeof(double));
    float *mean = malloc(q->dim * sizeof(float));
    float *sd = malloc(q->dim * sizeof(float));
    qv_status st = QV_ENOMEM;
    if (!slots || !sum || !mean || !sd)
        goto cleanup;
    size_t n = qvi_quant_sample(live, used, slots, max);
    for (size_t i = 0; i < n; i++) {
        const float *v = base + (size_t)slots[i] * stride;
        for (uint32_t j = 0; j < q->dim; j++) {
            sum[j] += v[j];
            sum[q->dim + j] += (double)v[j] * v[j];
        }
    }
    for (uint32_t j = 0; j < q->dim; j++) {
        double m = n ? sum[j] / (double)n : 0.0;
        double var = n ? sum[q->dim + j] / (double)n - m * m : 0.0;
        mean[j] = (float)m;
        sd[j] = var > 0.0 ? (float)sqrt(var) : 0.0f;
    }
    free(q->mean);
    free(q->sd);
    q->mean = mean;
    q->sd = sd;
    mean = sd = NULL;
    q->trained = true;
    st = QV_OK;
cleanup:
    free(slots);
    free(sum);
    free(mean);
    free(sd);
    return st;
}

/* Qdrant's encode_two_bits_value: the band of x's z-score, as (b1, b2). */
static void two_bits_value(float x, float mean, float sd, bool *b1, bool *b2)
{
    if (sd < FLT_EPSILON) {
        *b1 = x > 0.0f;
        *b2 = false;
        return;
    }
    float band = ((x - mean) / sd + 2.0f) / 4.0f * 3.0f;
    *b1 = band >= 1.0f;
    *b2 = band >= 2.0f;
}

/* Writes the code of v into w (q->words words). */
static void encode_bits(const qvi_quant *q, const float *v, uint64_t *w)
{
    memset(w, 0, q->row);
    uint32_t dim = q->dim;
    for (uint32_t i = 0; i < dim; i++) {
        if (q->p.encoding == QV_BINARY_ONE_BIT) {
            if (v[i] > 0.0f)
                set_bit(w, i);
            continue;
        }
        bool b1, b2;
        two_bits_value(v[i], q->mean[i], q->sd[i], &b1, &b2);
        if (b1)
            set_bit(w, i);
        if (b2)
            set_bit(w, q->p.encoding == QV_BINARY_TWO_BITS ? dim + i
                                                           : dim + i / 2);
    }
}

void qvi_qb_encode(qvi_quant *q, uint32_t slot, const float *v)
{
    encode_bits(q, v, (uint64_t *)(q->codes + (size_t)slot * q->row));
}

static unsigned query_planes(const qvi_quant *q)
{
    switch (q->p.query_encoding) {
    case QV_BINARY_QUERY_SCALAR4BITS:
        return 4;
    case QV_BINARY_QUERY_SCALAR8BITS:
        return 8;
    default:
        return 1;
    }
}

size_t qvi_qb_query_bytes(const qvi_quant *q)
{
    /* The planes, then room for the extended query's floats. */
    return query_planes(q) * q->row + (size_t)q->ext * sizeof(float);
}

/* The query extended as the codes are (see above) into ext floats. */
static void extend_query(const qvi_quant *q, const float *query, float *ext)
{
    uint32_t dim = q->dim;
    memcpy(ext, query, dim * sizeof(float));
    if (q->p.encoding == QV_BINARY_TWO_BITS) {
        memcpy(ext + dim, query, dim * sizeof(float));
    } else if (q->p.encoding == QV_BINARY_ONE_AND_HALF_BITS) {
        for (uint32_t j = 0; 2 * j < dim; j++) {
            float a = query[2 * j];
            float b = 2 * j + 1 < dim ? query[2 * j + 1] : a;
            ext[dim + j] = a > b ? a : b;
        }
    }
}

/* B-bit planes of the extended query, Qdrant's
 * encode_scalar_extended_query_vector with planes laid out one after
 * another (plane b: words [b * words, (b + 1) * words)). */
static void encode_planes(const qvi_quant *q, const float *ext, unsigned bits,
                          uint64_t *planes)
{
    memset(planes, 0, bits * q->row);
    float max = 0.0f;
    for (uint32_t i = 0; i < q->ext; i++)
        max = fabsf(ext[i]) > max ? fabsf(ext[i]) : max;
    unsigned top = (1u << bits) - 1u;
    float delta = 2.0f * max / (float)top;
    for (uint32_t i = 0; i < q->ext; i++) {
        float x = delta > FLT_EPSILON ? (ext[i] + max) / delta : 0.0f;
        unsigned c = (unsigned)lrintf(x < 0.0f ? 0.0f : x);
        c = c > top ? top : c;
        for (unsigned b = 0; b < bits; b++)
            if (c >> b & 1u)
                set_bit(planes + b * q->words, i);
    }
}

void qvi_qb_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out)
{
    out->q = q;
    out->dist = qvi_qb_distance;
    out->code = buf;
    out->corr = 0.0f;
    out->planes = query_planes(q);
    if (out->planes == 1) {
        encode_bits(q, query, (uint64_t *)buf);
        return;
    }
    float *ext = (float *)(buf + out->planes * q->row);
    extend_query(q, query, ext);
    encode_planes(q, ext, out->planes, (uint64_t *)buf);
}

float qvi_qb_distance(const qvi_quant_query *qq, uint32_t slot)
{
    const qvi_quant *q = qq->q;
    const uint64_t *c = (const uint64_t *)(q->codes + (size_t)slot * q->row);
    const uint64_t *qc = (const uint64_t *)qq->code;
    float x;
    if (qq->planes == 1) {
        x = (float)q->k->xor_popcount(qc, c, q->words);
    } else {
        uint64_t s = 0;
        for (unsigned b = 0; b < qq->planes; b++)
            s += q->k->xor_popcount(qc + b * q->words, c, q->words) << b;
        x = (float)s / (float)((1u << qq->planes) - 1u);
    }
    if (q->metric == QV_METRIC_EUCLID || q->metric == QV_METRIC_MANHATTAN)
        return x;
    return 2.0f * x - (float)q->dim;
}
