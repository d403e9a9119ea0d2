/*
 * search_exact.c -- top-k search of one query: through the HNSW graph
 * when the collection is large enough (collection_index.c decides), else
 * by an exact SIMD scan.
 *
 * The scan walks the slot array in order (the vectors are contiguous, so
 * the hardware prefetcher streams them), computes each live slot's distance
 * with the dispatched kernel and offers it to a bounded heap.  Deleted
 * slots are skipped by their live flag.  Distances are "lower is better"
 * internally (see metric.c) and turned into scores only for the hits that
 * are returned; the score threshold is applied then, which gives the same
 * result as filtering first because the threshold is monotonic in the
 * distance.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qv_search_params_init(qv_search_params *params)
{
    if (!params)
        return;
    memset(params, 0, sizeof(*params));
    params->k = 10;
    params->version = QV_SEARCH_PARAMS_VERSION;
}

qv_status qvi_check_params(qv_collection *c, const qv_search_params *params)
{
    if (params->version > QV_SEARCH_PARAMS_VERSION)
        return qvi_fail(c->err, QV_EINVAL,
                        "qv_search_params version %u is newer than this "
                        "library's %u",
                        params->version, QV_SEARCH_PARAMS_VERSION);
    if (params->k < QV_MIN_K || params->k > QV_MAX_K)
        return qvi_fail(c->err, QV_ERANGE, "k is %u, it must be %u to %u",
                        params->k, QV_MIN_K, QV_MAX_K);
    if (params->hnsw_ef > QV_MAX_EF)
        return qvi_fail(c->err, QV_ERANGE, "hnsw_ef is %u, at most %u",
                        params->hnsw_ef, QV_MAX_EF);
    if (params->use_threshold && isnan(params->score_threshold))
        return qvi_fail(c->err, QV_ERANGE, "score threshold is NaN");
    /* Quantization: 0 means unset (1), as Qdrant's default. */
    double os = params->quant_oversampling;
    if (os != 0.0 && !(os >= 1.0 && os <= QV_MAX_OVERSAMPLING))
        return qvi_fail(c->err, QV_ERANGE,
                        "oversampling is %g, it must be 1 to %g", os,
                        QV_MAX_OVERSAMPLING);
    if (params->quant_rescore > QV_RESCORE_OFF)
        return qvi_fail(c->err, QV_EINVAL, "unknown rescore value %u",
                        params->quant_rescore);
    return QV_OK;
}

static bool passes_threshold(qv_metric metric, const qv_search_params *params,
                             float score)
{
    if (!params->use_threshold)
        return true;
    if (qv_metric_higher_is_better(metric))
        return score >= params->score_threshold;
    return score <= params->score_threshold;
}

size_t qvi_emit_hits(const qv_collection *c, const qv_search_params *params,
                     qvi_topk *t, qv_hit *hits)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        float score = qvi_distance_to_score(c->cfg.metric, t->dists[i]);
        if (!passes_threshold(c->cfg.metric, params, score))
            continue;
        hits[n].id = c->ids[t->slots[i]];
        hits[n].score = score;
        n++;
    }
    return n;
}

static void offer(const qv_collection *c, const float *q, uint32_t s,
                  qvi_topk *t)
{
    float d = qvi_slot_distance(c, q, s);
    if (d < qvi_topk_bound(t) || t->n < t->k)
        qvi_topk_push(t, s, d);
}

void qvi_scan_locked(const qv_collection *c, const float *q,
                     const qvi_accept *acc, qvi_topk *t)
{
    if (acc && acc->bitmap) {
        /* Only the set bits: a selective bitmap skips 64 slots a word. */
        size_t n = acc->nbits < c->used ? acc->nbits : c->used;
        for (size_t w = 0; w < (n + 63) / 64; w++) {
            for (uint64_t x = acc->bitmap[w]; x; x &= x - 1) {
                uint32_t s = (uint32_t)(w * 64) + (uint32_t)__builtin_ctzll(x);
                if (s < n && c->live[s] && (!acc->fn || acc->fn(s, acc->ctx)))
                    offer(c, q, s, t);
            }
        }
        qvi_topk_sort(t);
        return;
    }
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s] || (acc && !qvi_accepts(acc, s)))
            continue;
        offer(c, q, s, t);
    }
    qvi_topk_sort(t);
}

/* Accept function of a filtered search: the slot passes the prepared
 * filter (its candidate bit is tested by the accept bitmap first). */
static bool accept_by_filter(uint32_t slot, void *ctx)
{
    return qvi_candidates_match(ctx, slot);
}

qv_status qv_search(qv_collection *c, const float *query, uint32_t dim,
                    const qv_search_params *params, qv_hit *hits,
                    size_t *n_hits)
{
    if (!c)
        return QV_ENULL;
    if (!query || !params || !hits || !n_hits)
        return qvi_fail(c->err, QV_ENULL,
                        "query, params, hits or n_hits is NULL");
    qv_status st = qvi_check_params(c, params);
    if (st == QV_OK)
        st = qvi_check_multi(c, false, "qv_search");
    if (st != QV_OK)
        return st;
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "query has %u components, the collection expects %u",
                        dim, c->cfg.dim);

    float *q = qvi_alloc_aligned((size_t)c->qstride * sizeof(float));
    qvi_topk top = {0};
    if (!q || qvi_topk_init(&top, params->k) != QV_OK) {
        free(q);
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate search state");
    }
    st = qvi_prepare_query(c, query, dim, q);
    if (st != QV_OK)
        goto cleanup;

    pthread_rwlock_rdlock(&c->lock);
    qvi_candidates fq;
    st = qvi_candidates_prepare_locked(
        c, qvi_filter_of(params->filter),
        qvi_candidates_search_budget(c, qvi_default_ef(params)), &fq);
    if (st != QV_OK) {
        pthread_rwlock_unlock(&c->lock);
        goto cleanup;
    }
    /* The candidate bitmap, if any, is tested first; the filter is only
     * evaluated when the candidates are a superset. */
    qvi_accept acc = {.bitmap = fq.cand,
                      .nbits = fq.nbits,
                      .fn = fq.exact ? NULL : accept_by_filter,
                      .ctx = &fq};
    const qvi_accept *accp = fq.f ? &acc : NULL;
    qvi_plan plan = qvi_plan_search_locked(c, params, &fq);
    if (plan.graph)
        st = qvi_index_search_locked(c, q, params, accp, plan.ef, &top);
    /* A short graph answer means the walk met too few matching points (a
     * wrong selectivity estimate, or fewer than k points): the scan is
     * exact and settles it. */
    if (st == QV_OK && (!plan.graph || top.n < top.k)) {
        qvi_topk_reset(&top);
        qvi_scan_locked(c, q, accp, &top);
    }
    if (st == QV_OK)
        *n_hits = qvi_emit_hits(c, params, &top, hits);
    qvi_candidates_free(&fq);
    pthread_rwlock_unlock(&c->lock);
    if (st != QV_OK)
        qvi_fail(c->err, st, "cannot allocate search state");

cleanup:
    qvi_topk_free(&top);
    free(q);
    return st;
}
