/*
 * multi_store.c -- the arena of multivector records (see multi.h).
 *
 * Invariants: every offs[s] is QVI_MULTI_NONE or the start of a record
 * inside [0, len); records never overlap; garbage counts the floats of
 * records that no slot refers to any more, so len - garbage is the live
 * data.  Growth and compaction allocate the new arrays first, so a failure
 * changes nothing (the write path reserves before it logs).
 */
#include "core/multi/multi.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qvi_multi_init(qvi_multi *m, uint32_t dim, qv_metric metric,
                    uint32_t datatype)
{
    memset(m, 0, sizeof(*m));
    m->dim = dim;
    m->metric = metric;
    m->datatype = datatype;
    m->elem = (uint32_t)qvi_datatype_size(datatype);
}

void qvi_multi_free(qvi_multi *m)
{
    free(m->arena);
    free(m->offs);
    free(m->tmp);
    m->arena = NULL;
    m->offs = NULL;
    m->tmp = NULL;
    m->len = m->cap = m->garbage = 0;
    m->nslots = 0;
}

static qv_status grow_slots(qvi_multi *m, uint32_t nslots)
{
    if (nslots <= m->nslots)
        return QV_OK;
    size_t cap = m->nslots < 64 ? 64 : (size_t)m->nslots * 2;
    if (cap < nslots)
        cap = nslots;
    uint64_t *offs = realloc(m->offs, cap * sizeof(uint64_t));
    if (!offs)
        return QV_ENOMEM;
    for (size_t s = m->nslots; s < cap; s++)
        offs[s] = QVI_MULTI_NONE;
    m->offs = offs;
    m->nslots = (uint32_t)cap;
    return QV_OK;
}

/* Copies the live records into a fresh arena of cap floats, in slot order. */
static qv_status compact(qvi_multi *m, size_t cap)
{
    float *fresh = malloc(cap * sizeof(float));
    if (!fresh)
        return QV_ENOMEM;
    size_t len = 0;
    for (uint32_t s = 0; s < m->nslots; s++) {
        if (m->offs[s] == QVI_MULTI_NONE)
            continue;
        const float *rec = m->arena + m->offs[s];
        size_t n = qvi_multi_record_floats(m->dim, qvi_multi_record_rows(rec),
                                           m->elem);
        memcpy(fresh + len, rec, n * sizeof(float));
        m->offs[s] = len;
        len += n;
    }
    free(m->arena);
    m->arena = fresh;
    m->cap = cap;
    m->len = len;
    m->garbage = 0;
    return QV_OK;
}

qv_status qvi_multi_reserve(qvi_multi *m, uint32_t nslots, size_t floats)
{
    if (m->elem != sizeof(float) && !m->tmp &&
        !(m->tmp = malloc((size_t)m->dim * sizeof(float))))
        return QV_ENOMEM;
    qv_status st = grow_slots(m, nslots);
    if (st != QV_OK)
        return st;
    size_t need;
    if (!qv_add_size(m->len, floats, &need))
        return QV_ENOMEM;
    if (need <= m->cap)
        return QV_OK;
    size_t live = m->len - m->garbage, want;
    if (!qv_add_size(live, floats, &want))
        return QV_ENOMEM;
    /* Room for the new data and as much again, so that a steady stream of
     * replacements compacts once per doubling. */
    size_t cap = want < 1024 ? 2048 : want * 2;
    if (m->garbage == 0 || m->garbage < m->len / 2) {
        /* Mostly live: grow in place. */
        if (cap < need)
            cap = need + need / 2;
        float *a = realloc(m->arena, cap * sizeof(float));
        if (!a)
            return QV_ENOMEM;
        m->arena = a;
        m->cap = cap;
        return QV_OK;
    }
    return compact(m, cap);
}

/* Copies the records of another element size into arena (room for their
 * converted size), rewriting the offsets o. */
static size_t convert_records(const qvi_multi *m, const float *rows,
                              const uint64_t *offs, uint32_t nslots,
                              uint32_t src_elem, float *arena, uint64_t *o,
                              float *tmp)
{
    size_t len = 0;
    for (uint32_t s = 0; s < nslots; s++) {
        if (offs[s] == QVI_MULTI_NONE) {
            o[s] = QVI_MULTI_NONE;
            continue;
        }
        const float *src = rows + offs[s];
        uint32_t n = qvi_multi_record_rows(src);
        float *dst = arena + len;
        size_t words = qvi_multi_record_floats(m->dim, n, m->elem);
        memset(dst, 0, words * sizeof(float));
        qvi_multi_record_init(dst, n);
        uint32_t src_dt = src_elem == 2   ? QV_DATATYPE_FLOAT16
                          : src_elem == 1 ? QV_DATATYPE_UINT8
                                          : QV_DATATYPE_FLOAT32;
        for (uint32_t r = 0; r < n; r++) {
            qvi_datatype_decode(src_dt,
                                qvi_multi_record_row(src, m->dim, src_elem, r),
                                tmp, m->dim);
            qvi_datatype_apply(m->datatype, tmp, m->dim);
            qvi_datatype_encode(
                m->datatype, tmp,
                (void *)qvi_multi_record_row(dst, m->dim, m->elem, r), m->dim);
        }
        o[s] = len;
        len += words;
    }
    return len;
}

qv_status qvi_multi_adopt(qvi_multi *m, const float *rows, const uint64_t *offs,
                          uint64_t len, uint32_t nslots, uint32_t src_elem)
{
    bool convert = src_elem != m->elem;
    size_t cap = len ? (size_t)len : 1;
    if (convert) { /* the converted size, record by record */
        cap = 1;
        for (uint32_t s = 0; s < nslots; s++)
            if (offs[s] != QVI_MULTI_NONE)
                cap += qvi_multi_record_floats(
                    m->dim, qvi_multi_record_rows(rows + offs[s]), m->elem);
    }
    float *arena = malloc(cap * sizeof(float));
    uint64_t *o = malloc((nslots ? nslots : 1) * sizeof(uint64_t));
    float *tmp = convert ? malloc((size_t)m->dim * sizeof(float)) : NULL;
    if (!arena || !o || (convert && !tmp)) {
        free(arena);
        free(o);
        free(tmp);
        return QV_ENOMEM;
    }
    if (convert) {
        len = convert_records(m, rows, offs, nslots, src_elem, arena, o, tmp);
    } else {
        if (len)
            memcpy(arena, rows, (size_t)len * sizeof(float));
        if (nslots)
            memcpy(o, offs, (size_t)nslots * sizeof(uint64_t));
    }
    free(tmp);
    qvi_multi_free(m);
    m->arena = arena;
    m->cap = cap;
    m->len = (size_t)len;
    m->offs = o;
    m->nslots = nslots;
    return QV_OK;
}

void qvi_multi_read_rows(const qvi_multi *m, const float *rec, float *out)
{
    uint32_t n = qvi_multi_record_rows(rec);
    qvi_datatype_decode(m->elem == sizeof(float) ? QV_DATATYPE_FLOAT32
                                                 : m->datatype,
                        rec + QVI_MULTI_HEADER, out, (size_t)n * m->dim);
}

void qvi_multi_make_record(const qvi_multi *m, const float *rows,
                           uint32_t n_rows, float *out, float *tmp)
{
    qvi_multi_record_init(out, n_rows);
    if (m->elem != sizeof(float)) {
        /* Narrow: row by row through tmp, the same steps as below. */
        size_t words = qvi_multi_record_floats(m->dim, n_rows, m->elem);
        out[words - 1] = 0.0f; /* the padding of the last word */
        for (uint32_t r = 0; r < n_rows; r++) {
            memcpy(tmp, rows + (size_t)r * m->dim, m->dim * sizeof(float));
            /* uint8 rows stay unnormalised under cosine (core/collection.c,
             * store_row_locked) */
            if (m->metric == QV_METRIC_COSINE &&
                !qvi_byte_cosine(m->metric, m->datatype)) {
                const qvi_kernels *k = qvi_simd();
                if (fabsf(k->dot(tmp, tmp, m->dim) - 1.0f) > 1.0e-6f)
                    k->normalize(tmp, m->dim);
            }
            qvi_datatype_apply(m->datatype, tmp, m->dim);
            qvi_datatype_encode(
                m->datatype, tmp,
                (void *)qvi_multi_record_row(out, m->dim, m->elem, r), m->dim);
        }
        return;
    }
    float *dst = out + QVI_MULTI_HEADER;
    memcpy(dst, rows, (size_t)n_rows * m->dim * sizeof(float));
    if (m->metric == QV_METRIC_COSINE) {
        /* Each row as a dense cosine vector (core/collection.c,
         * cosine_prepare): Qdrant preprocesses every row of a multivector
         * with the dense vector's preprocess (NamedVectors::preprocess in
         * lib/segment/src/data_types/named_vectors.rs), which leaves a row
         * whose squared norm is within 1e-6 of 1 as it is -- so a matrix
         * read back and written again (quiver migrate) keeps every bit. */
        const qvi_kernels *k = qvi_simd();
        for (uint32_t r = 0; r < n_rows; r++) {
            float *row = dst + (size_t)r * m->dim;
            if (fabsf(k->dot(row, row, m->dim) - 1.0f) > 1.0e-6f)
                k->normalize(row, m->dim);
        }
    }
    /* Then the element type, as Qdrant converts after preprocessing. */
    qvi_datatype_apply(m->datatype, dst, (size_t)n_rows * m->dim);
}

void qvi_multi_clear(qvi_multi *m, uint32_t slot)
{
    if (slot >= m->nslots || m->offs[slot] == QVI_MULTI_NONE)
        return;
    const float *rec = m->arena + m->offs[slot];
    m->garbage +=
        qvi_multi_record_floats(m->dim, qvi_multi_record_rows(rec), m->elem);
    m->offs[slot] = QVI_MULTI_NONE;
}

void qvi_multi_put(qvi_multi *m, uint32_t slot, const float *rows,
                   uint32_t n_rows)
{
    qvi_multi_clear(m, slot);
    float *rec = m->arena + m->len;
    qvi_multi_make_record(m, rows, n_rows, rec, m->tmp);
    m->offs[slot] = m->len;
    m->len += qvi_multi_record_floats(m->dim, n_rows, m->elem);
}
