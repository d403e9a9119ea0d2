/*
 * sparse_search.c -- dot-product search over sparse vectors: the exact
 * scan and the inverted-index walk.
 *
 * Which points: as in Qdrant, only points sharing at least one dimension
 * with the query are scored (its SparseVector::score is None without an
 * overlap, and its inverted index never reaches them); a query without
 * dimensions finds nothing.
 *
 * Identical answers: a point's score is the sum, over the dimensions it
 * shares with the query taken in ascending order, of query value times
 * stored value.  The scan merges the two sorted rows; the index visits the
 * query's dimensions in ascending order and adds each posting into the
 * point's accumulator.  Both therefore add the same terms in the same
 * order.  The terms are products of two floats, exact in a double (24 + 24
 * significant bits fit in 53), and the sums are kept in doubles, so
 * whether the compiler fuses a multiply and an add (FMA on some targets)
 * cannot change a bit either; the score is the double rounded to float
 * once.  Ties are ordered by slot in both (qvi_topk's total order).
 *
 * Datatypes: with a float16 or uint8 index the postings hold converted
 * values (sparse.h), and the scan scores each stored value as its posting
 * holds it (qvi_sparse_scored_value), so the two still agree bit for bit.
 * Qdrant differs here: its plain (exact) search reads the float32 vector
 * storage, so there exact and indexed scores differ by the rounding; we
 * keep one answer, the index's.  A stale index (out of memory) scores the
 * originals until its rebuild.
 *
 * IDF: Qdrant's Modifier::Idf multiplies each query value by the
 * dimension's inverse document frequency before scoring, with the BM25
 * (Lucene-smoothed) formula ln(1 + (N - df + 0.5) / (df + 0.5)), N the
 * number of points holding a vector and df those holding the dimension
 * (Qdrant's docs, "Sparse vectors: IDF modifier"; the same idf() as in
 * Qdrant's lib/segment BM25 scorer: ((N - df + 0.5) / (df + 0.5) + 1).ln(),
 * computed in f32).  The caller applies it to the query (sparse_api.c).
 */
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float qvi_sparse_idf(uint64_t n, uint64_t df)
{
    float nf = (float)n, d = (float)df;
    return logf((nf - d + 0.5f) / (d + 0.5f) + 1.0f);
}

static bool accepted(const qvi_sparse_accept *acc, uint32_t slot)
{
    return !acc || !acc->fn || acc->fn(acc->arg, slot);
}

/* Merges row r with query q; false when they share no dimension.  Each
 * stored value is scored as its posting holds it (the index's datatype). */
static bool row_score(const qvi_sparse *s, const qvi_sparse_row *r,
                      const qvi_sparse_row *q, double *out)
{
    double acc = 0.0;
    bool any = false, typed = s->datatype != QV_DATATYPE_FLOAT32;
    uint32_t i = 0, j = 0;
    while (i < r->nnz && j < q->nnz) {
        if (r->idx[i] < q->idx[j]) {
            i++;
        } else if (r->idx[i] > q->idx[j]) {
            j++;
        } else {
            float v = typed ? qvi_sparse_scored_value(s, r->idx[i], r->val[i])
                            : r->val[i];
            acc += (double)q->val[j] * (double)v;
            any = true;
            i++;
            j++;
        }
    }
    *out = acc;
    return any;
}

static void scan(const qvi_sparse *s, const qvi_sparse_row *q, uint32_t n_slots,
                 const qvi_sparse_accept *acc, qvi_topk *t)
{
    for (uint32_t slot = 0; slot < n_slots && slot < s->cap; slot++) {
        double score;
        if (s->rows[slot].nnz == 0 || !row_score(s, &s->rows[slot], q, &score))
            continue;
        if (accepted(acc, slot))
            qvi_topk_push(t, slot, -(float)score);
    }
}

void qvi_sparse_scratch_free(qvi_sparse_scratch *sc)
{
    free(sc->sum);
    free(sc->hit);
    free(sc->touched);
    memset(sc, 0, sizeof(*sc));
}

/* Room for n_slots accumulators (new ones zeroed) and for `touched` more
 * touched slots.  QV_OK or QV_ENOMEM (sc still valid). */
static qv_status scratch_fit(qvi_sparse_scratch *sc, uint32_t n_slots,
                             size_t touched)
{
    if (n_slots > sc->cap) {
        double *sum = realloc(sc->sum, (size_t)n_slots * sizeof(*sum));
        if (!sum)
            return QV_ENOMEM;
        sc->sum = sum;
        uint8_t *hit = realloc(sc->hit, n_slots);
        if (!hit)
            return QV_ENOMEM;
        sc->hit = hit;
        memset(sum + sc->cap, 0, (size_t)(n_slots - sc->cap) * sizeof(*sum));
        memset(hit + sc->cap, 0, n_slots - sc->cap);
        sc->cap = n_slots;
    }
    if (touched > sc->tcap) {
        size_t nc = touched * 2;
        uint32_t *grown = realloc(sc->touched, nc * sizeof(*grown));
        if (!grown)
            return QV_ENOMEM;
        sc->touched = grown;
        sc->tcap = nc;
    }
    return QV_OK;
}

static qv_status walk(const qvi_sparse *s, const qvi_sparse_row *q,
                      uint32_t n_slots, const qvi_sparse_accept *acc,
                      qvi_sparse_scratch *sc, qvi_topk *t)
{
    size_t n_touched = 0;
    qv_status st = scratch_fit(sc, n_slots, 0);
    for (uint32_t j = 0; st == QV_OK && j < q->nnz; j++) {
        uint32_t df = qvi_sparse_df(s, q->idx[j]);
        st = scratch_fit(sc, n_slots, n_touched + df);
        if (st == QV_OK)
            qvi_sparse_posting_walk(s, q->idx[j], q->val[j], sc->sum, sc->hit,
                                    n_slots, sc->touched, &n_touched);
    }
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t slot = sc->touched[i];
        if (st == QV_OK && accepted(acc, slot))
            qvi_topk_push(t, slot, -(float)sc->sum[slot]);
        sc->sum[slot] = 0.0; /* zeros again for the next search */
        sc->hit[slot] = 0;
    }
    return st;
}

qv_status qvi_sparse_search(const qvi_sparse *s, const qvi_sparse_row *q,
                            uint32_t n_slots, const qvi_sparse_accept *acc,
                            bool exact, qvi_sparse_scratch *sc, qvi_topk *t)
{
    qv_status st = QV_OK;
    if (exact || s->stale) {
        scan(s, q, n_slots, acc, t);
    } else if (sc) {
        st = walk(s, q, n_slots, acc, sc, t);
    } else {
        qvi_sparse_scratch tmp = {0};
        st = walk(s, q, n_slots, acc, &tmp, t);
        qvi_sparse_scratch_free(&tmp);
    }
    if (st == QV_OK)
        qvi_topk_sort(t);
    return st;
}
