/*
 * search_batch.c -- top-k search of many queries: exact through BLAS, or
 * query by query through the HNSW graph when qv_search would use it.
 *
 * Scoring nq queries against n vectors one pair at a time streams the whole
 * vector array from memory once per query.  A matrix product instead reuses
 * each block of vectors from cache across a block of queries, which is what
 * OpenBLAS's sgemm is tuned for.  So for cosine and dot the batch computes
 * S = Q * V^T block by block, and for euclid uses
 *     |q - v|^2 = |q|^2 + |v|^2 - 2 q.v
 * with |v|^2 kept per slot by the collection.  Manhattan has no product
 * form; its blocks are scanned with the L1 kernel, still block by block so
 * that a block of vectors stays in cache across the queries.  So are the
 * rows of float16 and uint8 collections, with their narrow kernels (BLAS
 * multiplies floats only).
 *
 * Exactness.  BLAS distances carry rounding error, and the norm expansion
 * loses precision badly when q and v are far from the origin and close to
 * each other.  So BLAS only nominates candidates: the k + min(k, 16) best
 * by BLAS distance are rescored with the same kernel as qv_search, and the
 * result is then proved or redone.  Any float evaluation of a dot product
 * of length d is within (d + 8) * eps * |q| * |v| of the true value (for
 * any summation order), so a point that was not nominated has a true
 * distance of at least B - err, where B is the worst nominated BLAS
 * distance and err that bound with the largest vector norm of the
 * collection.  If the k-th exact distance is below B - err, no other point
 * can beat it and the answer is the scan's; otherwise (data far from the
 * origin, or many near-ties) that query is answered by a plain scan.
 * Results thus equal qv_search's, ties aside, whatever the data.
 *
 * Blocks: queries are processed QBLOCK at a time (fewer for a very large
 * k, so that the heaps stay bounded), each against VBLOCK vectors at a
 * time: a 256 x 2048 float product (2 MiB) that stays in L2/L3 while its
 * rows are offered to the per-query heaps.  Only one query block's state
 * is alive at once, so memory does not grow with nq.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/search/search.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QBLOCK 256u
#define VBLOCK 2048u
/* Bound on the bytes of heaps alive for one query block. */
#define HEAP_BUDGET (64u << 20)

typedef struct batch_state {
    qv_collection *c;
    const qv_search_params *params;
    size_t qb;           /* queries per block */
    size_t keep;         /* candidates kept per query */
    float *queries;      /* qb rows of c->qstride floats, prepared */
    float *qnorms;       /* |q|^2 of each row */
    float *products;     /* qb x VBLOCK */
    qvi_topk *tops;      /* qb heaps of `keep` entries */
    uint32_t *tmp_slots; /* rescoring scratch, `keep` long */
    float *tmp_dists;
    float vmax;            /* largest |v| over the live slots */
    const qvi_accept *acc; /* slots matching the filter; NULL: all */
    uint32_t ef;           /* beam width of graph searches */
} batch_state;

static void free_state(batch_state *b)
{
    if (b->tops) {
        for (size_t i = 0; i < b->qb; i++)
            qvi_topk_free(&b->tops[i]);
    }
    free(b->tops);
    free(b->tmp_slots);
    free(b->tmp_dists);
    free(b->queries);
    free(b->qnorms);
    free(b->products);
}

static qv_status alloc_state(batch_state *b, size_t nq)
{
    qv_collection *c = b->c;
    size_t per_query = b->keep * (sizeof(uint32_t) + sizeof(float));
    size_t qb = HEAP_BUDGET / per_query;
    qb = qb < 1 ? 1 : qb > QBLOCK ? QBLOCK : qb;
    b->qb = qb < nq ? qb : nq;
    b->queries = qvi_alloc_aligned(b->qb * c->qstride * sizeof(float));
    b->qnorms = malloc(b->qb * sizeof(float));
    b->products = qvi_alloc_aligned(b->qb * VBLOCK * sizeof(float));
    b->tops = calloc(b->qb, sizeof(qvi_topk));
    b->tmp_slots = malloc(b->keep * sizeof(uint32_t));
    b->tmp_dists = malloc(b->keep * sizeof(float));
    if (!b->queries || !b->qnorms || !b->products || !b->tops ||
        !b->tmp_slots || !b->tmp_dists)
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate batch state");
    for (size_t i = 0; i < b->qb; i++) {
        if (qvi_topk_init(&b->tops[i], b->keep) != QV_OK)
            return qvi_fail(c->err, QV_ENOMEM, "cannot allocate heaps");
    }
    return QV_OK;
}

/* Validates every query before any work, so that a bad query anywhere in
 * the batch fails the call before hits are written. */
static qv_status check_queries(batch_state *b, const float *queries, size_t nq,
                               uint32_t dim)
{
    for (size_t i = 0; i < nq; i++) {
        qv_status st =
            qvi_prepare_query(b->c, queries + i * (size_t)dim, dim, b->queries);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

static void prepare_block(batch_state *b, const float *queries, size_t q0,
                          size_t qn, uint32_t dim)
{
    qv_collection *c = b->c;
    for (size_t i = 0; i < qn; i++) {
        float *row = b->queries + i * c->qstride;
        memset(row, 0, c->qstride * sizeof(float));
        /* Already validated by check_queries: cannot fail. */
        (void)qvi_prepare_query(c, queries + (q0 + i) * (size_t)dim, dim, row);
        b->qnorms[i] = cblas_sdot((int)dim, row, 1, row, 1);
        qvi_topk_reset(&b->tops[i]);
    }
}

/* Offers one product row (query qi against slots v0..v0+nv) to the
 * query's heap, converting products to distances. */
static void offer_products(batch_state *b, size_t qi, const float *prod,
                           uint32_t v0, uint32_t nv)
{
    qv_collection *c = b->c;
    qvi_topk *t = &b->tops[qi];
    bool l2 = c->cfg.metric == QV_METRIC_EUCLID;
    float qn = b->qnorms[qi];
    for (uint32_t j = 0; j < nv; j++) {
        uint32_t s = v0 + j;
        if (!c->live[s] || (b->acc && !qvi_accepts(b->acc, s)))
            continue;
        float d = l2 ? qn + c->sqnorms[s] - 2.0f * prod[j] : -prod[j];
        if (isnan(d))
            d = INFINITY; /* inf - inf of two huge norms: worst, not NaN */
        if (d < qvi_topk_bound(t) || t->n < t->k)
            qvi_topk_push(t, s, d);
    }
}

static void scan_block_gemm(batch_state *b, size_t qn, uint32_t v0, uint32_t nv)
{
    qv_collection *c = b->c;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)nv,
                (int)c->cfg.dim, 1.0f, b->queries, (int)c->qstride,
                (const float *)qvi_row(c, v0), (int)c->stride, 0.0f,
                b->products, (int)nv);
    for (size_t i = 0; i < qn; i++)
        offer_products(b, i, b->products + i * nv, v0, nv);
}

static void scan_block_l1(batch_state *b, size_t qn, uint32_t v0, uint32_t nv)
{
    qv_collection *c = b->c;
    for (size_t i = 0; i < qn; i++) {
        const float *q = b->queries + i * c->qstride;
        qvi_topk *t = &b->tops[i];
        for (uint32_t s = v0; s < v0 + nv; s++) {
            if (!c->live[s] || (b->acc && !qvi_accepts(b->acc, s)))
                continue;
            float d = qvi_slot_distance(c, q, s);
            if (d < qvi_topk_bound(t) || t->n < t->k)
                qvi_topk_push(t, s, d);
        }
    }
}

/* The most a BLAS distance of query i can differ from the exact one. */
static float blas_error_bound(const batch_state *b, size_t i)
{
    const qv_collection *c = b->c;
    float qn = sqrtf(b->qnorms[i]);
    float scale = c->cfg.metric == QV_METRIC_EUCLID
                      ? (qn + b->vmax) * (qn + b->vmax)
                      : qn * b->vmax;
    return (float)(c->cfg.dim + 8) * FLT_EPSILON * scale;
}

/* Rescores query i's candidates exactly and keeps the best k.  Returns
 * false when the candidates cannot be proved to hold the true top k. */
static bool rescore(batch_state *b, size_t i, bool proved_by_blas)
{
    qv_collection *c = b->c;
    qvi_topk *t = &b->tops[i];
    const float *q = b->queries + i * c->qstride;
    size_t n = t->n;
    /* Every live point was nominated when the heap is not full. */
    bool all_seen = n < t->k;
    float worst_nominated = n ? t->dists[0] : INFINITY;
    for (size_t j = 0; j < n; j++) {
        b->tmp_slots[j] = t->slots[j];
        b->tmp_dists[j] = qvi_slot_distance(c, q, t->slots[j]);
    }
    qvi_topk_reset(t);
    for (size_t j = 0; j < n; j++)
        qvi_topk_push(t, b->tmp_slots[j], b->tmp_dists[j]);
    qvi_topk_sort(t);
    size_t k = b->params->k;
    if (t->n > k)
        t->n = k;
    if (all_seen || proved_by_blas || t->n < k)
        return true;
    return t->dists[k - 1] < worst_nominated - blas_error_bound(b, i);
}

static void finish_block(batch_state *b, size_t q0, size_t qn, bool gemm,
                         qv_hit *hits, size_t *n_hits)
{
    qv_collection *c = b->c;
    size_t k = b->params->k;
    for (size_t i = 0; i < qn; i++) {
        qvi_topk *t = &b->tops[i];
        if (!rescore(b, i, !gemm)) {
            qvi_topk_reset(t);
            qvi_scan_locked(c, b->queries + i * c->qstride, b->acc, t);
            if (t->n > k)
                t->n = k;
        }
        n_hits[q0 + i] = qvi_emit_hits(c, b->params, t, hits + (q0 + i) * k);
    }
}

static void search_block_exact(batch_state *b, size_t q0, size_t qn,
                               qv_hit *hits, size_t *n_hits)
{
    qv_collection *c = b->c;
    /* Narrow rows (float16, uint8) are no BLAS matrix: they are scanned
     * with their kernels, block by block like manhattan. */
    bool gemm = c->cfg.metric != QV_METRIC_MANHATTAN && !c->narrow;
    for (uint32_t v0 = 0; v0 < c->used; v0 += VBLOCK) {
        uint32_t nv = c->used - v0 < VBLOCK ? c->used - v0 : VBLOCK;
        if (gemm)
            scan_block_gemm(b, qn, v0, nv);
        else
            scan_block_l1(b, qn, v0, nv);
    }
    finish_block(b, q0, qn, gemm, hits, n_hits);
}

static qv_status search_block_graph(batch_state *b, size_t q0, size_t qn,
                                    qv_hit *hits, size_t *n_hits)
{
    qv_collection *c = b->c;
    size_t k = b->params->k;
    for (size_t i = 0; i < qn; i++) {
        qvi_topk *t = &b->tops[i];
        qv_status st = qvi_index_search_locked(c, b->queries + i * c->qstride,
                                               b->params, b->acc, b->ef, t);
        if (st != QV_OK)
            return qvi_fail(c->err, st, "cannot allocate search state");
        if (t->n < k) { /* too few matches met: the scan settles it */
            qvi_topk_reset(t);
            qvi_scan_locked(c, b->queries + i * c->qstride, b->acc, t);
            if (t->n > k)
                t->n = k;
        }
        n_hits[q0 + i] = qvi_emit_hits(c, b->params, t, hits + (q0 + i) * k);
    }
    return QV_OK;
}

static float largest_norm_locked(const qv_collection *c)
{
    float m = 0.0f;
    for (uint32_t s = 0; s < c->used; s++) {
        if (c->live[s] && c->sqnorms[s] > m)
            m = c->sqnorms[s];
    }
    return sqrtf(m);
}

qv_status qv_search_batch(qv_collection *c, const float *queries, size_t nq,
                          uint32_t dim, const qv_search_params *params,
                          qv_hit *hits, size_t *n_hits)
{
    if (!c)
        return QV_ENULL;
    if (!params)
        return qvi_fail(c->err, QV_ENULL, "params is NULL");
    qv_status st = qvi_check_params(c, params);
    if (st == QV_OK)
        st = qvi_check_multi(c, false, "qv_search_batch");
    if (st != QV_OK)
        return st;
    if (nq == 0)
        return QV_OK;
    if (!queries || !hits || !n_hits)
        return qvi_fail(c->err, QV_ENULL, "queries, hits or n_hits is NULL");
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "queries have %u components, the collection expects "
                        "%u",
                        dim, c->cfg.dim);

    size_t extra = params->k < 16 ? params->k : 16;
    batch_state b = {.c = c, .params = params, .keep = params->k + extra};
    st = alloc_state(&b, nq);
    if (st == QV_OK)
        st = check_queries(&b, queries, nq, dim);
    if (st != QV_OK)
        goto cleanup;

    pthread_rwlock_rdlock(&c->lock);
    qvi_accept acc = {0};
    qvi_candidates fq;
    st = qvi_candidates_prepare_locked(c, qvi_filter_of(params->filter),
                                       QVI_CANDIDATES_ALWAYS, &fq);
    if (st == QV_OK && params->filter) {
        /* One pass of filter evaluations (over the index candidates only,
         * none when the indexes are exact) serves every query. */
        if (qvi_candidates_refine_locked(&fq) != QV_OK)
            st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate filter bitmap");
        acc.bitmap = fq.cand;
        acc.nbits = fq.nbits;
        b.acc = &acc;
        /* A filter matching every point exactly has no bitmap. */
        if (!fq.cand)
            b.acc = NULL;
    }
    if (st != QV_OK) {
        qvi_candidates_free(&fq);
        pthread_rwlock_unlock(&c->lock);
        goto cleanup;
    }
    qvi_plan plan = qvi_plan_search_locked(c, params, &fq);
    bool graph = plan.graph;
    b.ef = plan.ef;
    if (!graph)
        b.vmax = largest_norm_locked(c);
    for (size_t q0 = 0; q0 < nq && st == QV_OK; q0 += b.qb) {
        size_t qn = nq - q0 < b.qb ? nq - q0 : b.qb;
        prepare_block(&b, queries, q0, qn, dim);
        if (graph)
            st = search_block_graph(&b, q0, qn, hits, n_hits);
        else
            search_block_exact(&b, q0, qn, hits, n_hits);
    }
    qvi_candidates_free(&fq);
    pthread_rwlock_unlock(&c->lock);

cleanup:
    free_state(&b);
    return st;
}
