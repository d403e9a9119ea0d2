/*
 * quant.h -- internal interface of core/quant/: compact codes of a
 * collection's vectors, and distances on them.
 *
 * What
 * ----
 * A quantizer holds one code per slot, derived from the slot's float
 * vector, and scores a prepared query against a slot's code.  Two kinds,
 * as Qdrant's quantization configs:
 *
 *   int8    (quant_int8.c) one byte a component, 0..127, on one affine
 *           scale for the whole collection: x ~ offset + alpha * code.
 *   binary  (quant_binary.c) one bit a component (its sign), or two bits
 *           (three levels against the component's mean and standard
 *           deviation), or one and a half (the second bits of two
 *           neighbouring components ORed), scored by popcounts; the query
 *           may be kept at 4 or 8 bits a component instead.
 *   product (quant_pq.c) one byte a bucket of 1 to 16 components, the
 *           number of its nearest of 256 k-means centroids; scored
 *           asymmetrically through a per-query table.
 *
 * Distances are "lower is better" in the units of the float distance they
 * approximate, so that core/metric.c can turn them into scores when no
 * rescoring follows (see each file for how close they are).
 *
 * A leaf: plain arrays only, never struct qv_collection.  The collection
 * (core/collection_quant.c) decides when to train and encode and keeps
 * the codes in step with its vectors.
 *
 * Training
 * --------
 * int8 needs its range and the 1.5/2-bit encodings their per-component
 * statistics, both taken from the vectors present at training time;
 * qvi_quant_train computes them from a deterministic sample and
 * qvi_quant_encode then uses them for every later vector (values outside
 * the range are clamped).  one_bit needs nothing.  An untrained quantizer
 * must not encode or score.
 *
 * Locking: none of its own.  Encoding, training and reserving are writes
 * (the collection's write lock); preparing queries and scoring are reads
 * that any number of threads may run at once.
 */
#ifndef QUIVER_QUANT_H
#define QUIVER_QUANT_H

#include "core/base/base.h"
#include "simd/simd.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qvi_quant_params {
    uint32_t kind;           /* QV_QUANTIZATION_INT8, _BINARY or _PRODUCT */
    float quantile;          /* int8; 0 or >= 1: whole range */
    uint32_t encoding;       /* binary: qv_binary_encoding; product: a
                                qv_pq_compression */
    uint32_t query_encoding; /* binary: qv_binary_query_encoding */
} qvi_quant_params;

typedef struct qvi_quant {
    qvi_quant_params p;
    uint32_t dim;
    qv_metric metric;
    const qvi_code_kernels *k; /* chosen at create */
    bool trained;

    /* int8: x ~ offset + alpha * code, code in 0..127 */
    float alpha, offset;
    /* binary 1.5 and 2 bits: per-component mean and standard deviation */
    float *mean, *sd;
    uint32_t ext; /* binary: bits of a code (dim, 1.5 dim or 2 dim) */
    size_t words; /* binary: 64-bit words of a code */

    /* product: m buckets of `bucket` components, m * 256 centroids of
     * `bucket` floats each (see quant_pq.c) */
    uint32_t bucket, m;
    float *cent;

    size_t row;     /* bytes of one slot's code */
    uint8_t *codes; /* cap rows of row bytes, 64-byte aligned */
    float *corr;    /* int8: per slot, alpha*offset*sum(code) +
                       dim*offset^2/2 (see quant_int8.c) */
    uint32_t cap;
    bool borrowed; /* codes and corr lie in memory q does not own (a
                      snapshot's mapping, qvi_quant_restore): written in
                      place, never freed; the next growth copies them */
} qvi_quant;

/* Validates p for vectors of dim components under metric.  Returns QV_OK,
 * QV_EINVAL (kind, encoding) or QV_ERANGE (quantile outside 0.5..1 and
 * not 0), with a message in msg (cap bytes). */
qv_status qvi_quant_check(const qvi_quant_params *p, char *msg, size_t cap);

/* Creates an untrained quantizer with no slots.  QV_ENULL, QV_EINVAL,
 * QV_ERANGE (as qvi_quant_check) or QV_ENOMEM; *out NULL on failure. */
qv_status qvi_quant_create(const qvi_quant_params *p, uint32_t dim,
                           qv_metric metric, qvi_quant **out);

/* NULL is ignored.  Borrowed codes are not freed. */
void qvi_quant_free(qvi_quant *q);

/* Floats of the tables training produces: 2 dim for the 1.5 and 2-bit
 * binary encodings (mean[dim] then sd[dim]), m * 256 * bucket for product
 * (the centroids, laid out as q->cent: see quant_pq.c), 0 for int8 and
 * one-bit binary (int8's state is alpha and offset). */
size_t qvi_quant_table_floats(const qvi_quant *q);

/* Copies q's trained tables (qvi_quant_table_floats of them) to out. */
void qvi_quant_tables(const qvi_quant *q, float *out);

/* Makes q, just created (untrained, no slots), the quantizer a file kept:
 * the trained state -- alpha and offset (int8; ignored otherwise), the
 * tables (n_tables floats as qvi_quant_tables writes them; copied) -- and
 * n rows of codes at codes (64-byte aligned) with, for int8, n corrections
 * at corr, both *borrowed*: q edits them in place, never frees them, and
 * copies them at its first growth.  No training runs.  Checks what can be
 * checked in O(n) without reading the codes: alpha positive and finite,
 * offset and every table value finite, standard deviations not negative,
 * the table count, alignment, every correction finite.  Returns QV_OK,
 * QV_EINVAL (a value training never produces; q unchanged, message in
 * msg, cap bytes) or QV_ENOMEM. */
qv_status qvi_quant_restore(qvi_quant *q, float alpha, float offset,
                            const float *tables, size_t n_tables,
                            uint8_t *codes, float *corr, uint32_t n, char *msg,
                            size_t cap);

/* The deep check of codes that came from a file, for live slots s < n
 * (live[s] != 0): int8 codes at most 127 and their corrections equal to
 * what encoding computes from them (bit for bit), and the padding of every
 * row zero (int8, product: the bytes past the code; binary: the bits past
 * the code's).  It does not re-encode the vectors: codes that are
 * well-formed but not the vectors' own only make searches worse, as
 * damaged vectors would.  QV_OK, or QV_ECORRUPT with the first bad slot in
 * *bad. */
qv_status qvi_quant_check_codes(const qvi_quant *q, const uint8_t *live,
                                uint32_t n, uint32_t *bad);

/* Makes room for codes of slots 0..n-1 (geometric growth).  QV_OK or
 * QV_ENOMEM (unchanged).  Writer. */
qv_status qvi_quant_reserve(qvi_quant *q, size_t n);

/* Trains on the vectors of the slots s < used with live[s] set, rows of
 * dim floats at base + s * stride (cosine rows already unit length).
 * Reads at most a fixed sample of them, so the cost is bounded whatever
 * used is.  QV_OK or QV_ENOMEM (q untouched).  Writer. */
qv_status qvi_quant_train(qvi_quant *q, const float *base, size_t stride,
                          const uint8_t *live, uint32_t used);

/* Writes slot's code from v (dim floats); the slot must be reserved and q
 * trained.  Writer. */
void qvi_quant_encode(qvi_quant *q, uint32_t slot, const float *v);

/* A query prepared for scoring: its own code in buf (qvi_quant_query_bytes
 * bytes, caller-owned, 64-byte aligned). */
typedef struct qvi_quant_query {
    const qvi_quant *q;
    /* The kind's distance, chosen once per query rather than per call. */
    float (*dist)(const struct qvi_quant_query *qq, uint32_t slot);
    const uint8_t *code;
    float corr;      /* int8 */
    unsigned planes; /* binary: 1 (bits), 4 or 8 (bit planes of a scalar
                        query) */
} qvi_quant_query;

/* Bytes of buffer a prepared query needs. */
size_t qvi_quant_query_bytes(const qvi_quant *q);

/* Prepares query (dim floats, unit length under cosine) into buf.  q must
 * be trained.  Reader. */
void qvi_quant_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                       qvi_quant_query *out);

/* The approximate distance of the prepared query to slot's code, lower is
 * better.  Reader. */
static inline float qvi_quant_distance(const qvi_quant_query *qq, uint32_t slot)
{
    return qq->dist(qq, slot);
}

/* Bytes a search reads per point: the code and, for int8, its correction. */
size_t qvi_quant_point_bytes(const qvi_quant *q);

/* Heap bytes of the codes and tables (borrowed codes are not heap). */
size_t qvi_quant_memory_bytes(const qvi_quant *q);

/* ---- private to core/quant/ ---- */

/* int8 (quant_int8.c) */
qv_status qvi_q8_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used);
void qvi_q8_encode(qvi_quant *q, uint32_t slot, const float *v);
void qvi_q8_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out);
/* The correction of a code whose values sum to sum (bit for bit what
 * qvi_q8_encode stores). */
float qvi_q8_correction(const qvi_quant *q, uint32_t sum);

/* binary (quant_binary.c) */
qv_status qvi_qb_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used);
void qvi_qb_encode(qvi_quant *q, uint32_t slot, const float *v);
size_t qvi_qb_query_bytes(const qvi_quant *q);
void qvi_qb_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out);
float qvi_qb_distance(const qvi_quant_query *qq, uint32_t slot);

/* product (quant_pq.c) */
uint32_t qvi_pq_bucket(uint32_t compression);
size_t qvi_pq_sample_max(void);
qv_status qvi_pq_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used);
void qvi_pq_encode(qvi_quant *q, uint32_t slot, const float *v);
size_t qvi_pq_query_bytes(const qvi_quant *q);
void qvi_pq_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out);

/* The most vectors a training pass of q reads (qvi_quant_sample_max for
 * int8 and binary, a fixed k-means sample for product). */
size_t qvi_quant_train_max(const qvi_quant *q);

/* The slots a training pass reads: at most max of the live ones, spread
 * evenly over [0, used), written to out (room for max); returns their
 * number. */
size_t qvi_quant_sample(const uint8_t *live, uint32_t used, uint32_t *out,
                        size_t max);

/* The most vectors of dim components a training sample reads. */
size_t qvi_quant_sample_max(uint32_t dim);

#endif /* QUIVER_QUANT_H */
