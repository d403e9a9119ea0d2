/*
 * multi.h -- internal interface of multivector storage and MaxSim
 * (core/multi/).
 *
 * What
 * ----
 * A multivector point holds a matrix: n_rows >= 1 rows of dim float32
 * (ColBERT-style token embeddings, several views of one object).  Qdrant
 * compares two matrices with MaxSim (its `multivector_config: {"comparator":
 * "max_sim"}`):
 *
 *     MaxSim(Q, D) = sum over the rows q of Q of  max over the rows d of D
 *                    of sim(q, d)
 *
 * where sim is the vector's distance as a similarity: the dot product
 * (cosine: of rows normalised on the way in), minus the squared L2
 * distance (euclid) or minus the L1 distance (manhattan).  Qdrant returns
 * that sum as the score, higher is better, for every distance, without the
 * per-metric post-processing of single vectors (its score_max_similarity,
 * lib/segment/src/vector_storage/query_scorer/mod.rs, "Disclaimer": no
 * square root for euclid).  We do the same.
 *
 * Storage
 * -------
 * One arena of 4-byte words holding records; slot s's record starts at
 * offs[s] words: [n_rows as uint32 bits][n_rows * dim elements, rows
 * packed, zero-padded to a whole word].  An element is the store's
 * datatype (core/base/datatype.c): a float, or for float16 and uint8 a
 * half or a byte, so that a narrow collection's matrices take 2x or 4x
 * less memory; the MaxSim kernels read them with the narrow kernels.  A query
 * is one such record too, so the HNSW index (core/hnsw/) compares a query with
 * a point and two points through the same kernel, reading records at
 * base + offs[s] (qvi_vecview.offs).  Replacing or clearing a record leaves
 * its floats as garbage; qvi_multi_reserve compacts the arena when garbage
 * is at least half of it, so memory stays within twice the live data.
 *
 * Leaf: plain arrays and kernels, no collection.  Locking is the caller's
 * (the collection's rwlock): reserve, put and clear are writers; rows and
 * the kernels readers.
 */
#ifndef QUIVER_MULTI_H
#define QUIVER_MULTI_H

#include "core/base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* offs[s] of a slot without a record. */
#define QVI_MULTI_NONE UINT64_MAX

/* Floats of a record's header. */
#define QVI_MULTI_HEADER 1u

typedef struct qvi_multi {
    uint32_t dim;
    qv_metric metric;
    float *arena; /* cap floats, len used */
    size_t len, cap;
    size_t garbage; /* floats of records no slot refers to */
    uint64_t *offs; /* nslots offsets, QVI_MULTI_NONE when empty */
    uint32_t nslots;
    uint32_t datatype; /* a qv_datatype: rows are converted to it when made
                          into records (core/base/datatype.c) */
    uint32_t elem;     /* bytes of an element of datatype: 4, 2 or 1 */
    float *tmp;        /* dim floats of scratch for puts (writer), made by
                          qvi_multi_reserve */
} qvi_multi;

/* An empty store for rows of dim components under metric, kept in the
 * element type of datatype. */
void qvi_multi_init(qvi_multi *m, uint32_t dim, qv_metric metric,
                    uint32_t datatype);

/* Frees the arrays (m itself is the caller's). */
void qvi_multi_free(qvi_multi *m);

/* Words (4 bytes, "floats") of the record of a matrix of n_rows rows of
 * elem-byte elements (no overflow: callers bound n_rows by
 * QV_MAX_MULTI_ROWS and dim by QV_MAX_DIM). */
static inline size_t qvi_multi_record_floats(uint32_t dim, uint32_t n_rows,
                                             uint32_t elem)
{
    return QVI_MULTI_HEADER + ((size_t)n_rows * dim * elem + 3) / 4;
}

/* Where row r of a record starts (elements of the store's type). */
static inline const void *qvi_multi_record_row(const float *rec, uint32_t dim,
                                               uint32_t elem, uint32_t r)
{
    return (const char *)(rec + QVI_MULTI_HEADER) + (size_t)r * dim * elem;
}

/* Rows of a record. */
static inline uint32_t qvi_multi_record_rows(const float *rec)
{
    uint32_t n;
    __builtin_memcpy(&n, rec, sizeof(n));
    return n;
}

/* Writes the header of a record of n_rows rows at rec. */
static inline void qvi_multi_record_init(float *rec, uint32_t n_rows)
{
    __builtin_memcpy(rec, &n_rows, sizeof(n_rows));
}

/* Makes room for slots [0, nslots) and `floats` more floats of records, so
 * that puts of that much cannot fail.  May compact the arena (offsets
 * change: views taken before are stale).  QV_OK or QV_ENOMEM (nothing
 * changed).  Writer. */
qv_status qvi_multi_reserve(qvi_multi *m, uint32_t nslots, size_t floats);

/* Stores the n_rows x dim matrix rows for slot (normalising each row under
 * cosine), replacing its record.  Room was reserved.  Writer. */
void qvi_multi_put(qvi_multi *m, uint32_t slot, const float *rows,
                   uint32_t n_rows);

/* Replaces the (empty) store's contents with copies of the records of
 * slots [0, nslots): slot s's at rows + offs[s] (QVI_MULTI_NONE: none), len
 * words at rows, all checked by the caller, their elements src_elem bytes.
 * Records of another element size than m's (float32 records of a file
 * written before narrow storage) are converted: each value is converted
 * to the datatype (qvi_datatype_apply, a no-op on values that were
 * converted when written) and encoded.  QV_OK or QV_ENOMEM (nothing
 * changed).  Writer. */
qv_status qvi_multi_adopt(qvi_multi *m, const float *rows, const uint64_t *offs,
                          uint64_t len, uint32_t nslots, uint32_t src_elem);

/* Reads slot's record rows as n_rows * dim floats into out (decoded,
 * exact).  Reader. */
void qvi_multi_read_rows(const qvi_multi *m, const float *rec, float *out);

/* Drops slot's record (deleted point).  Writer. */
void qvi_multi_clear(qvi_multi *m, uint32_t slot);

/* Slot's record, or NULL when it has none.  Reader. */
static inline const float *qvi_multi_record(const qvi_multi *m, uint32_t slot)
{
    if (slot >= m->nslots || m->offs[slot] == QVI_MULTI_NONE)
        return NULL;
    return m->arena + m->offs[slot];
}

/* Builds the record of a query matrix into out (qvi_multi_record_floats
 * words), normalising rows under cosine, then converting and encoding
 * them in the element type; tmp is dim floats of scratch (unused, and may
 * be NULL, for float32). */
void qvi_multi_make_record(const qvi_multi *m, const float *rows,
                           uint32_t n_rows, float *out, float *tmp);

/* The MaxSim distance kernel of metric over records of datatype's
 * elements (qvi_hnsw_kernel's signature): for records a (the query side)
 * and b, with n = dim, returns -MaxSim(a, b), lower is better.  The score
 * is its negation. */
typedef float (*qvi_multi_kernel)(const float *a, const float *b, size_t n);
qvi_multi_kernel qvi_multi_kernel_of(qv_metric metric, uint32_t datatype);

#endif /* QUIVER_MULTI_H */
