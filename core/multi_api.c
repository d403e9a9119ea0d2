/*
 * multi_api.c -- the public calls of multivector collections (quiver.h,
 * "Multivectors"): upsert, get and MaxSim search of points that hold a
 * matrix.
 *
 * A multivector collection is an ordinary collection (ids, slots, payloads,
 * payload indexes, deletes, the journal) whose c->multi keeps each slot's
 * matrix in the arena of core/multi/.  Writes go through the same
 * qvi_upsert_apply as dense upserts, which reserves arena room before the
 * change is logged and stores the matrices after, so a multivector upsert
 * is applied whole or not at all like any other; its change record is
 * QVI_CHANGE_MULTI_UPSERT, replayed through qv_multi_upsert_batch.  The
 * dense row of a multivector point holds its first row, which keeps the
 * collection's arrays as they are for every other layer and is never
 * scored.
 *
 * Searches build the query's record (rows normalised under cosine) and
 * take the same road as qv_search: the payload-index candidates, the
 * planner's choice between a graph walk and a scan, and the scan to settle
 * a short graph answer.  The graph compares records with the MaxSim kernel
 * (collection_index.c gives it the arena through the view); the scan here
 * calls that kernel on every accepted slot.  Scores are MaxSim, the
 * negated distance, post-processed as Qdrant does: |MaxSim| under
 * manhattan and sqrt(|MaxSim|) under euclid, both lower-is-better.
 *
 * Locking: as the dense calls -- validation without the lock, the write
 * lock for upserts, the shared lock for get and search.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"
#include "core/search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

qv_status qvi_check_multi(qv_collection *c, bool multi, const char *call)
{
    if ((c->multi != NULL) == multi)
        return QV_OK;
    if (multi)
        return qvi_fail(c->err, QV_EINVAL,
                        "%s needs a multivector collection; this one holds "
                        "one vector a point",
                        call);
    return qvi_fail(c->err, QV_EINVAL,
                    "%s works on single vectors; this collection holds "
                    "multivectors (use the qv_multi_ calls)",
                    call);
}

qv_status qvi_multi_create(qv_collection *c)
{
    if (c->cfg.multivector == QV_MULTIVECTOR_NONE)
        return QV_OK;
    c->multi = malloc(sizeof(*c->multi));
    if (!c->multi)
        return QV_ENOMEM;
    qvi_multi_init(c->multi, c->cfg.dim, c->cfg.metric, c->cfg.datatype);
    return QV_OK;
}

void qvi_multi_destroy(qv_collection *c)
{
    if (!c->multi)
        return;
    qvi_multi_free(c->multi);
    free(c->multi);
    c->multi = NULL;
}

qv_status qvi_multi_reserve_locked(qv_collection *c, size_t floats)
{
    if (qvi_multi_reserve(c->multi, c->cap, floats) != QV_OK)
        return qvi_fail(c->err, QV_ENOMEM,
                        "cannot grow the multivector store by %zu floats",
                        floats);
    return QV_OK;
}

/* Checks one matrix: its row count and each row (dimension, finite). */
static qv_status check_matrix(qv_collection *c, const float *rows,
                              uint32_t n_rows, uint32_t dim, const char *what,
                              size_t i)
{
    if (n_rows < QV_MIN_MULTI_ROWS || n_rows > QV_MAX_MULTI_ROWS)
        return qvi_fail(c->err, QV_ERANGE,
                        "%s %zu has %u rows, it must have %u to %u", what, i,
                        n_rows, QV_MIN_MULTI_ROWS, QV_MAX_MULTI_ROWS);
    if ((uint64_t)n_rows * dim > QV_MAX_MULTI_FLOATS)
        return qvi_fail(c->err, QV_ERANGE,
                        "%s %zu has %u rows of %u floats, more than %u floats",
                        what, i, n_rows, dim, QV_MAX_MULTI_FLOATS);
    for (uint32_t r = 0; r < n_rows; r++) {
        qv_status st =
            qvi_check_vector(c, rows + (size_t)r * dim, dim, "matrix row");
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

/* Validates a batch and fills mats[i] (where point i's rows start) and
 * mi->floats. */
static qv_status check_batch(qv_collection *c, const qv_point_id *ids, size_t n,
                             const uint32_t *row_counts, const float *rows,
                             uint32_t dim, const float **mats,
                             qvi_multi_input *mi)
{
    size_t at = 0, floats = 0;
    for (size_t i = 0; i < n; i++) {
        qv_status st = qvi_check_id(c, &ids[i]);
        if (st == QV_OK)
            st = check_matrix(c, rows + at, row_counts[i], dim, "point", i);
        if (st != QV_OK)
            return st;
        mats[i] = rows + at;
        at += (size_t)row_counts[i] * dim;
        if (!qv_add_size(
                floats,
                qvi_multi_record_floats(dim, row_counts[i], c->multi->elem),
                &floats))
            return qvi_fail(c->err, QV_ERANGE, "the batch is too large");
    }
    mi->row_counts = row_counts;
    mi->mats = mats;
    mi->floats = floats;
    return QV_OK;
}

qv_status qv_multi_upsert_batch(qv_collection *c, const qv_point_id *ids,
                                size_t n, const uint32_t *row_counts,
                                const float *rows, uint32_t dim,
                                const char *const *payloads, const size_t *lens)
{
    if (!c)
        return QV_ENULL;
    qv_status st = qvi_check_multi(c, true, "qv_multi_upsert_batch");
    if (st != QV_OK || n == 0)
        return st;
    if (!ids || !row_counts || !rows || (payloads && !lens))
        return qvi_fail(c->err, QV_ENULL,
                        "ids, row_counts, rows or lens is NULL");
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "rows have %u components, the collection expects %u",
                        dim, c->cfg.dim);
    const float **mats = malloc(n * sizeof(*mats));
    uint8_t **blobs = payloads ? calloc(n, sizeof(*blobs)) : NULL;
    size_t *blob_lens = payloads ? calloc(n, sizeof(*blob_lens)) : NULL;
    bool have_blobs = false;
    if (!mats || (payloads && (!blobs || !blob_lens))) {
        st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate a batch of %zu", n);
        goto cleanup;
    }
    qvi_multi_input mi;
    st = check_batch(c, ids, n, row_counts, rows, dim, mats, &mi);
    if (st == QV_OK && payloads)
        st = qvi_encode_payloads(c, payloads, lens, n, blobs, blob_lens);
    if (st != QV_OK)
        goto cleanup;
    have_blobs = payloads != NULL;
    qvi_change rec = {.kind = QVI_CHANGE_MULTI_UPSERT,
                      .ids = ids,
                      .n = n,
                      .dim = dim,
                      .vecs = rows,
                      .row_counts = row_counts,
                      .texts = payloads,
                      .text_lens = lens};
    st = qvi_upsert_apply(c, ids, NULL, n, dim, blobs, blob_lens, &rec, NULL,
                          &mi);
cleanup:
    /* Blobs not handed over (after a failed reserve) are still ours. */
    for (size_t i = 0; have_blobs && i < n; i++)
        free(blobs[i]);
    free(blobs);
    free(blob_lens);
    free(mats);
    return st;
}

qv_status qv_multi_upsert(qv_collection *c, const qv_point_id *id,
                          const float *rows, uint32_t n_rows, uint32_t dim)
{
    return qv_multi_upsert_batch(c, id, 1, &n_rows, rows, dim, NULL, NULL);
}

qv_status qv_multi_get(qv_collection *c, const qv_point_id *id, float *out,
                       uint32_t cap_rows, uint32_t *n_rows)
{
    if (!c)
        return QV_ENULL;
    if (!id || !n_rows || (!out && cap_rows))
        return qvi_fail(c->err, QV_ENULL, "id, out or n_rows is NULL");
    qv_status st = qvi_check_multi(c, true, "qv_multi_get");
    if (st == QV_OK)
        st = qvi_check_id(c, id);
    if (st != QV_OK)
        return st;
    pthread_rwlock_rdlock(&c->lock);
    uint32_t slot;
    const float *rec = NULL;
    if (qvi_idmap_find(&c->map, c->ids, id, &slot))
        rec = qvi_multi_record(c->multi, slot);
    if (!rec) {
        pthread_rwlock_unlock(&c->lock);
        return qvi_fail_not_found(c, id);
    }
    uint32_t n = qvi_multi_record_rows(rec);
    *n_rows = n;
    if (n <= cap_rows)
        qvi_multi_read_rows(c->multi, rec, out);
    pthread_rwlock_unlock(&c->lock);
    if (n > cap_rows)
        return cap_rows == 0 && !out
                   ? QV_OK
                   : qvi_fail(c->err, QV_ERANGE,
                              "the point has %u rows, the output room for %u",
                              n, cap_rows);
    return QV_OK;
}

/* ---- search -------------------------------------------------------------- */

static void scan_locked(const qv_collection *c, const float *q,
                        const qvi_accept *acc, qvi_topk *t)
{
    qvi_multi_kernel kern = qvi_multi_kernel_of(c->cfg.metric, c->cfg.datatype);
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s] || (acc && !qvi_accepts(acc, s)))
            continue;
        const float *rec = qvi_multi_record(c->multi, s);
        if (!rec)
            continue;
        float d = kern(q, rec, c->cfg.dim);
        if (d < qvi_topk_bound(t) || t->n < t->k)
            qvi_topk_push(t, s, d);
    }
    qvi_topk_sort(t);
}

static size_t emit_locked(const qv_collection *c,
                          const qv_search_params *params, const qvi_topk *t,
                          qv_hit *hits)
{
    size_t n = 0;
    bool higher = qv_metric_higher_is_better(c->cfg.metric);
    for (size_t i = 0; i < t->n; i++) {
        float score = -t->dists[i];
        /* Qdrant post-processes a MaxSim score as it does a single
         * similarity (Distance::postprocess_score): |s| under manhattan,
         * sqrt(|s|) under euclid, where lower is better
         * (tests/openapi/test_multi_vector.py: 4.358899 = sqrt(19)). */
        if (c->cfg.metric == QV_METRIC_EUCLID)
            score = sqrtf(fabsf(score));
        else if (c->cfg.metric == QV_METRIC_MANHATTAN)
            score = fabsf(score);
        if (params->use_threshold &&
            !(higher ? score >= params->score_threshold
                     : score <= params->score_threshold))
            continue;
        hits[n].id = c->ids[t->slots[i]];
        hits[n].score = score;
        n++;
    }
    return n;
}

static bool accept_by_filter(uint32_t slot, void *ctx)
{
    return qvi_candidates_match(ctx, slot);
}

/* The search of a prepared query record under the shared lock. */
static qv_status search_locked(qv_collection *c, const float *q,
                               const qv_search_params *params, qvi_topk *top,
                               qv_hit *hits, size_t *n_hits)
{
    qvi_candidates fq;
    qv_status st = qvi_candidates_prepare_locked(
        c, qvi_filter_of(params->filter),
        qvi_candidates_search_budget(c, qvi_default_ef(params)), &fq);
    if (st != QV_OK)
        return st;
    qvi_accept acc = {.bitmap = fq.cand,
                      .nbits = fq.nbits,
                      .fn = fq.exact ? NULL : accept_by_filter,
                      .ctx = &fq};
    const qvi_accept *accp = fq.f ? &acc : NULL;
    qvi_plan plan = qvi_plan_search_locked(c, params, &fq);
    if (plan.graph)
        st = qvi_index_search_locked(c, q, params, accp, plan.ef, top);
    /* A short graph answer is settled by the exact scan, as in qv_search. */
    if (st == QV_OK && (!plan.graph || top->n < top->k)) {
        qvi_topk_reset(top);
        scan_locked(c, q, accp, top);
    }
    if (st == QV_OK)
        *n_hits = emit_locked(c, params, top, hits);
    qvi_candidates_free(&fq);
    return st;
}

qv_status qv_multi_search(qv_collection *c, const float *rows, uint32_t n_rows,
                          uint32_t dim, const qv_search_params *params,
                          qv_hit *hits, size_t *n_hits)
{
    if (!c)
        return QV_ENULL;
    if (!rows || !params || !hits || !n_hits)
        return qvi_fail(c->err, QV_ENULL,
                        "rows, params, hits or n_hits is NULL");
    qv_status st = qvi_check_multi(c, true, "qv_multi_search");
    if (st == QV_OK)
        st = qvi_check_params(c, params);
    if (st != QV_OK)
        return st;
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "query rows have %u components, the collection "
                        "expects %u",
                        dim, c->cfg.dim);
    st = check_matrix(c, rows, n_rows, dim, "query", 0);
    if (st != QV_OK)
        return st;
    float *q = qvi_alloc_aligned(
        qvi_multi_record_floats(dim, n_rows, c->multi->elem) * sizeof(float));
    float *tmp = malloc((size_t)dim * sizeof(float));
    qvi_topk top = {0};
    if (!q || !tmp || qvi_topk_init(&top, params->k) != QV_OK) {
        st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate search state");
        goto cleanup;
    }
    qvi_multi_make_record(c->multi, rows, n_rows, q, tmp);
    pthread_rwlock_rdlock(&c->lock);
    st = search_locked(c, q, params, &top, hits, n_hits);
    pthread_rwlock_unlock(&c->lock);
    if (st != QV_OK)
        qvi_fail(c->err, st, "cannot allocate search state");
cleanup:
    qvi_topk_free(&top);
    free(tmp);
    free(q);
    return st;
}
