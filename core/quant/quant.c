/*
 * quant.c -- the quantizer's life common to every kind: checks, creation,
 * room for codes, the training sample, and dispatch to the kind's file.
 *
 * Codes live in one 64-byte aligned array of cap rows, grown
 * geometrically as the collection's own arrays are; a row is padded to a
 * multiple of 16 bytes (int8) or 8 (binary words) so that every row of
 * words stays aligned.  The int8 kind keeps one float per slot beside it
 * (corr, see quant_int8.c).
 *
 * Codes restored from a snapshot (quant_state.c) are borrowed from its
 * mapping until the first growth copies them here, as the collection's
 * own arrays are (q->borrowed).
 *
 * The training sample: at most SAMPLE_VALUES component values (whole
 * vectors), taken from live slots spread evenly over the slot range, so
 * training costs the same on a million points as on a hundred thousand
 * and the same data always trains the same way (no clock, no random seed).
 * Qdrant samples up to 100,000 vectors at random for its quantile
 * (lib/quantization/src/quantile.rs, find_quantile_interval); a spread
 * sample of about a million values estimates a 0.99 quantile as well.
 */
#include "core/quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_VALUES (1u << 20)

qv_status qvi_quant_check(const qvi_quant_params *p, char *msg, size_t cap)
{
    if (p->kind != QV_QUANTIZATION_INT8 && p->kind != QV_QUANTIZATION_BINARY &&
        p->kind != QV_QUANTIZATION_PRODUCT) {
        snprintf(msg, cap, "unknown quantization kind %u", p->kind);
        return QV_EINVAL;
    }
    if (p->kind == QV_QUANTIZATION_INT8 && p->quantile != 0.0f &&
        !(p->quantile >= QV_MIN_QUANTILE && p->quantile <= QV_MAX_QUANTILE)) {
        snprintf(msg, cap, "quantile %g is outside [0.5, 1]",
                 (double)p->quantile);
        return QV_ERANGE;
    }
    if (p->kind == QV_QUANTIZATION_BINARY && p->encoding > QV_BINARY_TWO_BITS) {
        snprintf(msg, cap, "unknown binary encoding %u", p->encoding);
        return QV_EINVAL;
    }
    if (p->kind == QV_QUANTIZATION_PRODUCT && p->encoding > QV_PQ_X64) {
        snprintf(msg, cap, "unknown product compression %u", p->encoding);
        return QV_EINVAL;
    }
    if (p->kind == QV_QUANTIZATION_BINARY &&
        p->query_encoding > QV_BINARY_QUERY_SCALAR8BITS) {
        snprintf(msg, cap, "unknown binary query encoding %u",
                 p->query_encoding);
        return QV_EINVAL;
    }
    return QV_OK;
}

/* Bits of one binary code (Qdrant's extended dimension). */
static uint32_t binary_bits(uint32_t dim, uint32_t encoding)
{
    switch (encoding) {
    case QV_BINARY_TWO_BITS:
        return 2 * dim;
    case QV_BINARY_ONE_AND_HALF_BITS:
        return dim + (dim + 1) / 2;
    default:
        return dim;
    }
}

qv_status qvi_quant_create(const qvi_quant_params *p, uint32_t dim,
                           qv_metric metric, qvi_quant **out)
{
    if (!p || !out)
        return QV_ENULL;
    *out = NULL;
    char msg[128];
    qv_status st = qvi_quant_check(p, msg, sizeof(msg));
    if (st != QV_OK)
        return st;
    qvi_quant *q = calloc(1, sizeof(*q));
    if (!q)
        return QV_ENOMEM;
    q->p = *p;
    q->dim = dim;
    q->metric = metric;
    q->k = qvi_simd_codes();
    if (p->kind == QV_QUANTIZATION_INT8) {
        q->row = (dim + 15u) / 16u * 16u;
    } else if (p->kind == QV_QUANTIZATION_PRODUCT) {
        q->bucket = qvi_pq_bucket(p->encoding);
        q->m = (dim + q->bucket - 1) / q->bucket;
        q->row = (q->m + 15u) / 16u * 16u;
    } else {
        q->ext = binary_bits(dim, p->encoding);
        q->words = (q->ext + 63u) / 64u;
        q->row = q->words * sizeof(uint64_t);
        /* one_bit needs no statistics */
        q->trained = p->encoding == QV_BINARY_ONE_BIT;
    }
    *out = q;
    return QV_OK;
}

void qvi_quant_free(qvi_quant *q)
{
    if (!q)
        return;
    if (!q->borrowed) {
        free(q->codes);
        free(q->corr);
    }
    free(q->mean);
    free(q->sd);
    free(q->cent);
    free(q);
}

qv_status qvi_quant_reserve(qvi_quant *q, size_t n)
{
    if (n <= q->cap)
        return QV_OK;
    if (n > UINT32_MAX)
        return QV_ENOMEM;
    size_t cap = q->cap ? q->cap : 64;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    size_t bytes, old;
    if (!qv_mul_size(cap, q->row, &bytes))
        return QV_ENOMEM;
    uint8_t *codes = qvi_alloc_aligned(bytes);
    float *corr = NULL;
    if (codes && q->p.kind == QV_QUANTIZATION_INT8) {
        /* Borrowed corrections are copied, never realloc'd. */
        if (!q->borrowed) {
            corr = realloc(q->corr, cap * sizeof(float));
        } else if ((corr = malloc(cap * sizeof(float))) && q->cap) {
            memcpy(corr, q->corr, (size_t)q->cap * sizeof(float));
        }
    }
    if (!codes || (q->p.kind == QV_QUANTIZATION_INT8 && !corr)) {
        free(codes);
        return QV_ENOMEM;
    }
    old = (size_t)q->cap * q->row;
    if (old)
        memcpy(codes, q->codes, old);
    memset(codes + old, 0, bytes - old);
    if (!q->borrowed)
        free(q->codes);
    q->codes = codes;
    if (corr)
        q->corr = corr;
    q->cap = (uint32_t)cap;
    q->borrowed = false;
    return QV_OK;
}

size_t qvi_quant_sample(const uint8_t *live, uint32_t used, uint32_t *out,
                        size_t max)
{
    size_t n_live = 0;
    for (uint32_t s = 0; s < used; s++)
        n_live += live[s] != 0;
    if (n_live <= max) {
        size_t n = 0;
        for (uint32_t s = 0; s < used; s++)
            if (live[s])
                out[n++] = s;
        return n;
    }
    /* Every (n_live / max)-th live slot, in slot order. */
    size_t n = 0, seen = 0;
    for (uint32_t s = 0; s < used && n < max; s++) {
        if (!live[s])
            continue;
        if (seen * max / n_live == n)
            out[n++] = s;
        seen++;
    }
    return n;
}

/* SAMPLE_VALUES values, at least one vector. */
size_t qvi_quant_sample_max(uint32_t dim)
{
    size_t m = SAMPLE_VALUES / dim;
    return m ? m : 1;
}

size_t qvi_quant_train_max(const qvi_quant *q)
{
    return q->p.kind == QV_QUANTIZATION_PRODUCT ? qvi_pq_sample_max()
                                                : qvi_quant_sample_max(q->dim);
}

qv_status qvi_quant_train(qvi_quant *q, const float *base, size_t stride,
                          const uint8_t *live, uint32_t used)
{
    if (q->p.kind == QV_QUANTIZATION_INT8)
        return qvi_q8_train(q, base, stride, live, used);
    if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        return qvi_pq_train(q, base, stride, live, used);
    return qvi_qb_train(q, base, stride, live, used);
}

void qvi_quant_encode(qvi_quant *q, uint32_t slot, const float *v)
{
    if (q->p.kind == QV_QUANTIZATION_INT8)
        qvi_q8_encode(q, slot, v);
    else if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        qvi_pq_encode(q, slot, v);
    else
        qvi_qb_encode(q, slot, v);
}

size_t qvi_quant_query_bytes(const qvi_quant *q)
{
    if (q->p.kind == QV_QUANTIZATION_INT8)
        return q->row;
    if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        return qvi_pq_query_bytes(q);
    return qvi_qb_query_bytes(q);
}

void qvi_quant_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                       qvi_quant_query *out)
{
    if (q->p.kind == QV_QUANTIZATION_INT8)
        qvi_q8_prepare(q, query, buf, out);
    else if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        qvi_pq_prepare(q, query, buf, out);
    else
        qvi_qb_prepare(q, query, buf, out);
}

size_t qvi_quant_point_bytes(const qvi_quant *q)
{
    if (q->p.kind == QV_QUANTIZATION_INT8)
        return q->dim + sizeof(float);
    if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        return q->m;
    return q->row;
}

size_t qvi_quant_memory_bytes(const qvi_quant *q)
{
    size_t n = sizeof(*q);
    if (!q->borrowed) /* codes in a snapshot's mapping are not heap */
        n += (size_t)q->cap * q->row;
    if (q->corr && !q->borrowed)
        n += (size_t)q->cap * sizeof(float);
    if (q->mean)
        n += 2 * (size_t)q->dim * sizeof(float);
    if (q->cent)
        n += (size_t)q->m * 256 * q->bucket * sizeof(float);
    return n;
}
