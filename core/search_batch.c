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
 * that a block of vectors stays in cache across the queries.
 *
 * The norm expansion loses precision when q and v are close, and sgemm sums
 * in another order than the kernels, so the candidates are selected with
 * BLAS distances, with a margin of up to 16 beyond k, and the survivors are
 * then rescored exactly with the
 * same kernel as qv_search and re-sorted.  Results therefore agree with the
 * single-query scan except where two candidates' distances differ only in
 * the last bits of rounding.
 *
 * Blocks: QBLOCK queries by VBLOCK vectors, a 256 x 2048 float product
 * (2 MiB) that stays in L2/L3 while its rows are offered to the per-query
 * heaps.
 */
#include "core/core.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define QBLOCK 256u
#define VBLOCK 2048u

typedef struct batch_state {
    qv_collection *c;
    const qv_search_params *params;
    float *queries;      /* nq rows of c->stride floats, prepared */
    float *qnorms;       /* |q|^2, for euclid */
    float *products;     /* QBLOCK x VBLOCK */
    qvi_topk *tops;      /* one heap per query, of `keep` entries */
    uint32_t *tmp_slots; /* rescoring scratch, `keep` long */
    float *tmp_dists;
    size_t keep;
    size_t nq;
} batch_state;

static void free_state(batch_state *b)
{
    if (b->tops) {
        for (size_t i = 0; i < b->nq; i++)
            qvi_topk_free(&b->tops[i]);
    }
    free(b->tops);
    free(b->tmp_slots);
    free(b->tmp_dists);
    free(b->queries);
    free(b->qnorms);
    free(b->products);
}

static qv_status alloc_state(batch_state *b)
{
    qv_collection *c = b->c;
    size_t qbytes;
    if (!qv_mul_size(b->nq, c->stride * sizeof(float), &qbytes))
        return qvi_fail(c->err, QV_ERANGE, "too many queries");
    b->queries = qvi_alloc_aligned(qbytes);
    b->qnorms = malloc(b->nq * sizeof(float));
    b->products = qvi_alloc_aligned((size_t)QBLOCK * VBLOCK * sizeof(float));
    b->tops = calloc(b->nq, sizeof(qvi_topk));
    b->tmp_slots = malloc(b->keep * sizeof(uint32_t));
    b->tmp_dists = malloc(b->keep * sizeof(float));
    if (!b->queries || !b->qnorms || !b->products || !b->tops ||
        !b->tmp_slots || !b->tmp_dists)
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate batch state");
    for (size_t i = 0; i < b->nq; i++) {
        if (qvi_topk_init(&b->tops[i], b->keep) != QV_OK)
            return qvi_fail(c->err, QV_ENOMEM, "cannot allocate heaps");
    }
    return QV_OK;
}

static qv_status prepare_queries(batch_state *b, const float *queries,
                                 uint32_t dim)
{
    qv_collection *c = b->c;
    for (size_t i = 0; i < b->nq; i++) {
        float *row = b->queries + i * c->stride;
        memset(row, 0, c->stride * sizeof(float));
        qv_status st =
            qvi_prepare_query(c, queries + i * (size_t)dim, dim, row);
        if (st != QV_OK)
            return st;
        b->qnorms[i] = cblas_sdot((int)dim, row, 1, row, 1);
    }
    return QV_OK;
}

/* Offers one block product row (query qi against slots v0..v0+nv) to the
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
        if (!c->live[s])
            continue;
        float d = l2 ? qn + c->sqnorms[s] - 2.0f * prod[j] : -prod[j];
        if (d < qvi_topk_bound(t) || t->n < t->k)
            qvi_topk_push(t, s, d);
    }
}

static void scan_block_gemm(batch_state *b, size_t q0, size_t nq, uint32_t v0,
                            uint32_t nv)
{
    qv_collection *c = b->c;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nv,
                (int)c->cfg.dim, 1.0f, b->queries + q0 * c->stride,
                (int)c->stride, c->vecs + (size_t)v0 * c->stride,
                (int)c->stride, 0.0f, b->products, (int)nv);
    for (size_t i = 0; i < nq; i++)
        offer_products(b, q0 + i, b->products + i * nv, v0, nv);
}

static void scan_block_l1(batch_state *b, size_t q0, size_t nq, uint32_t v0,
                          uint32_t nv)
{
    qv_collection *c = b->c;
    for (size_t i = 0; i < nq; i++) {
        const float *q = b->queries + (q0 + i) * c->stride;
        qvi_topk *t = &b->tops[q0 + i];
        for (uint32_t s = v0; s < v0 + nv; s++) {
            if (!c->live[s])
                continue;
            float d = qvi_slot_distance(c, q, s);
            if (d < qvi_topk_bound(t) || t->n < t->k)
                qvi_topk_push(t, s, d);
        }
    }
}

/* Replaces the BLAS distances of the kept candidates by exact ones,
 * re-sorts them and keeps the best k. */
static void rescore(batch_state *b, size_t qi)
{
    qv_collection *c = b->c;
    qvi_topk *t = &b->tops[qi];
    const float *q = b->queries + qi * c->stride;
    size_t n = t->n;
    for (size_t i = 0; i < n; i++) {
        b->tmp_slots[i] = t->slots[i];
        b->tmp_dists[i] = qvi_slot_distance(c, q, t->slots[i]);
    }
    qvi_topk_reset(t);
    for (size_t i = 0; i < n; i++)
        qvi_topk_push(t, b->tmp_slots[i], b->tmp_dists[i]);
    qvi_topk_sort(t);
    if (t->n > b->params->k)
        t->n = b->params->k;
}

/* The batch through the graph, one query after another, when the
 * collection is large enough for the index (as qv_search would). */
static qv_status search_graph_locked(batch_state *b, qv_hit *hits,
                                     size_t *n_hits)
{
    qv_collection *c = b->c;
    size_t k = b->params->k;
    for (size_t i = 0; i < b->nq; i++) {
        qvi_topk *t = &b->tops[i];
        qv_status st = qvi_index_search_locked(c, b->queries + i * c->stride,
                                               b->params, t);
        if (st != QV_OK)
            return qvi_fail(c->err, st, "cannot allocate search state");
        n_hits[i] = qvi_emit_hits(c, b->params, t, hits + i * k);
    }
    return QV_OK;
}

qv_status qv_search_batch(qv_collection *c, const float *queries, size_t nq,
                          uint32_t dim, const qv_search_params *params,
                          qv_hit *hits, size_t *n_hits)
{
    if (!c)
        return QV_ENULL;
    if (!params)
        return qvi_fail(c->err, QV_ENULL, "params is NULL");
    if (nq == 0)
        return QV_OK;
    if (!queries || !hits || !n_hits)
        return qvi_fail(c->err, QV_ENULL, "queries, hits or n_hits is NULL");
    qv_status st = qvi_check_params(c, params);
    if (st != QV_OK)
        return st;
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "queries have %u components, the collection expects "
                        "%u",
                        dim, c->cfg.dim);

    /* A few candidates beyond k absorb the rounding of the norm expansion:
     * a point that BLAS ranks just below the k-th still gets rescored. */
    size_t extra = params->k < 16 ? params->k : 16;
    batch_state b = {
        .c = c, .params = params, .nq = nq, .keep = params->k + extra};
    st = alloc_state(&b);
    if (st == QV_OK)
        st = prepare_queries(&b, queries, dim);
    if (st != QV_OK)
        goto cleanup;

    pthread_rwlock_rdlock(&c->lock);
    if (qvi_index_should_use(c, params)) {
        st = search_graph_locked(&b, hits, n_hits);
        pthread_rwlock_unlock(&c->lock);
        goto cleanup;
    }
    bool gemm = c->cfg.metric != QV_METRIC_MANHATTAN;
    for (uint32_t v0 = 0; v0 < c->used; v0 += VBLOCK) {
        uint32_t nv = c->used - v0 < VBLOCK ? c->used - v0 : VBLOCK;
        for (size_t q0 = 0; q0 < nq; q0 += QBLOCK) {
            size_t qn = nq - q0 < QBLOCK ? nq - q0 : QBLOCK;
            if (gemm)
                scan_block_gemm(&b, q0, qn, v0, nv);
            else
                scan_block_l1(&b, q0, qn, v0, nv);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        rescore(&b, i);
        n_hits[i] =
            qvi_emit_hits(c, params, &b.tops[i], hits + i * (size_t)params->k);
    }
    pthread_rwlock_unlock(&c->lock);

cleanup:
    free_state(&b);
    return st;
}
