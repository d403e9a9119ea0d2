/*
 * sparse_api.c -- the collection's side of sparse vectors: the public
 * qv_sparse_* calls and the hooks collection.c calls on a sparse
 * collection's life (create, grow, delete, free).
 *
 * A sparse collection is an ordinary collection (ids, slots, payloads,
 * payload indexes, journal, snapshots) whose dense rows are one zero float
 * each, plus c->sparse (core/sparse/): one sorted row per slot and the
 * posting lists.  Writes go through collection.c's qvi_upsert_apply, so
 * they follow the life of a write exactly (validate, lock, reserve, log,
 * mutate, index, unlock, commit): the rows are made (sorted, checked)
 * before the lock and handed over after the log append, when nothing can
 * fail any more.  Deletes reach the rows through
 * qvi_sparse_delete_slot_locked.
 *
 * Searches take the shared lock, prepare the filter with the payload
 * indexes (core/search/candidates.c) and pick, as Qdrant does, a scan when
 * the filter leaves fewer candidates than the full-scan threshold, else
 * the posting lists; both give identical answers (sparse_search.c).
 *
 * Params: the modifier, the full-scan threshold and the posting lists'
 * datatype are the only fields of a sparse collection's config that
 * change after creation (qv_sparse_set_params, WAL kind 21, under the
 * write lock; a new datatype rebuilds the lists before the change is
 * logged, so a failure changes nothing).
 */
#include "core/core.h"
#include "core/search/search.h"
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- hooks from collection.c --------------------------------------------- */

qv_status qvi_sparse_attach(qv_collection *c)
{
    if (c->cfg.kind != QV_VECTOR_SPARSE)
        return QV_OK;
    c->sparse = malloc(sizeof(*c->sparse));
    if (!c->sparse)
        return QV_ENOMEM;
    qvi_sparse_init(c->sparse);
    c->sparse->datatype = qvi_config_datatype(&c->cfg);
    return QV_OK;
}

void qvi_sparse_detach(qv_collection *c)
{
    for (size_t i = 0; i < c->sparse_pool_n; i++) {
        qvi_sparse_scratch_free(c->sparse_pool[i]);
        free(c->sparse_pool[i]);
    }
    c->sparse_pool_n = 0;
    if (!c->sparse)
        return;
    qvi_sparse_free(c->sparse);
    free(c->sparse);
    c->sparse = NULL;
}

qv_status qvi_sparse_grow_locked(qv_collection *c, uint32_t cap)
{
    if (!c->sparse || qvi_sparse_reserve(c->sparse, cap) == QV_OK)
        return QV_OK;
    return qvi_fail(c->err, QV_ENOMEM, "cannot grow the sparse rows to %u",
                    cap);
}

void qvi_sparse_delete_slot_locked(qv_collection *c, uint32_t slot)
{
    if (c->sparse)
        qvi_sparse_clear(c->sparse, slot);
}

qv_status qvi_sparse_check_rows_locked(qv_collection *c,
                                       const qvi_sparse_row *rows, size_t n)
{
    if (c->cfg.datatype != QV_DATATYPE_FLOAT16)
        return QV_OK;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < rows[i].nnz; j++) {
            if (qvi_f16_overflows(rows[i].val[j]))
                return qvi_fail(c->err, QV_ERANGE,
                                "sparse vector %zu: value %g is out of the "
                                "float16 range (+-65504)",
                                i, (double)rows[i].val[j]);
        }
    }
    return QV_OK;
}

/* A stale index (a posting list failed to grow) is rebuilt at the next
 * write; until it succeeds searches scan. */
void qvi_sparse_set_slot_locked(qv_collection *c, uint32_t slot,
                                qvi_sparse_row *row)
{
    qvi_sparse_set(c->sparse, slot, row);
    if (c->sparse->stale)
        (void)qvi_sparse_rebuild(c->sparse, c->used);
}

/* ---- validation ---------------------------------------------------------- */

static qv_status need_sparse(qv_collection *c)
{
    if (c->cfg.kind == QV_VECTOR_SPARSE)
        return QV_OK;
    return qvi_fail(c->err, QV_EINVAL, "not a sparse collection");
}

/* Checks v and makes its sorted row; what names it in messages.  A
 * vector to store must also fit the index's datatype: a float16 posting
 * cannot hold a value that rounds to an infinite half (refused as the
 * dense float16 vectors are; queries are never converted). */
static qv_status make_row(qv_collection *c, const qv_sparse_vector *v,
                          const char *what, size_t i, bool half,
                          qvi_sparse_row *out)
{
    memset(out, 0, sizeof(*out));
    if (v->nnz > QV_MAX_SPARSE_NNZ)
        return qvi_fail(c->err, QV_ERANGE, "%s %zu has %u entries, at most %u",
                        what, i, v->nnz, (unsigned)QV_MAX_SPARSE_NNZ);
    if (v->nnz && (!v->indices || !v->values))
        return qvi_fail(c->err, QV_ENULL, "%s %zu: indices or values is NULL",
                        what, i);
    for (uint32_t j = 0; j < v->nnz; j++) {
        if (!isfinite(v->values[j]))
            return qvi_fail(c->err, QV_ENONFINITE, "%s %zu: value %u is %s",
                            what, i, j,
                            isnan(v->values[j]) ? "NaN" : "infinite");
        if (half && qvi_f16_overflows(v->values[j]))
            return qvi_fail(c->err, QV_ERANGE,
                            "%s %zu: value %u (%g) is out of the float16 "
                            "range (+-65504)",
                            what, i, j, (double)v->values[j]);
    }
    char err[QVI_ERRMSG_CAP];
    qv_status st = qvi_sparse_row_make(v->indices, v->values, v->nnz, out, err,
                                       sizeof(err));
    if (st != QV_OK)
        return qvi_fail(c->err, st, "%s %zu: %s", what, i, err);
    return QV_OK;
}

static void rows_free(qvi_sparse_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        qvi_sparse_row_free(&rows[i]);
    free(rows);
}

static qv_status make_rows(qv_collection *c, const qv_point_id *ids,
                           const qv_sparse_vector *vecs, size_t n,
                           qvi_sparse_row **out)
{
    /* cfg.datatype changes under the write lock (qv_sparse_set_params);
     * the write checks again under it (qvi_sparse_check_rows_locked). */
    pthread_rwlock_rdlock(&c->lock);
    bool half = c->cfg.datatype == QV_DATATYPE_FLOAT16;
    pthread_rwlock_unlock(&c->lock);
    *out = calloc(n, sizeof(**out));
    if (!*out)
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate a batch of %zu", n);
    for (size_t i = 0; i < n; i++) {
        qv_status st = qvi_check_id(c, &ids[i]);
        if (st == QV_OK)
            st = make_row(c, &vecs[i], "sparse vector", i, half, &(*out)[i]);
        if (st != QV_OK) {
            rows_free(*out, n);
            *out = NULL;
            return st;
        }
    }
    return QV_OK;
}

/* ---- writes -------------------------------------------------------------- */

qv_status qv_sparse_upsert(qv_collection *c, const qv_point_id *ids,
                           const qv_sparse_vector *vecs, size_t n,
                           const char *const *payloads, const size_t *lens)
{
    if (!c)
        return QV_ENULL;
    qv_status st = need_sparse(c);
    if (st != QV_OK || n == 0)
        return st;
    if (!ids || !vecs || (payloads && !lens))
        return qvi_fail(c->err, QV_ENULL, "ids, vectors or lens is NULL");
    qvi_sparse_row *rows = NULL;
    uint8_t **blobs = NULL;
    size_t *blob_lens = NULL;
    st = make_rows(c, ids, vecs, n, &rows);
    if (st != QV_OK)
        return st;
    if (payloads)
        st = qvi_payload_batch_encode(c, payloads, lens, n, &blobs, &blob_lens);
    if (st != QV_OK)
        goto cleanup;
    qvi_change rec = {.kind = QVI_CHANGE_SPARSE_UPSERT,
                      .ids = ids,
                      .n = n,
                      .sparse = vecs,
                      .texts = payloads,
                      .text_lens = lens};
    st = qvi_upsert_apply(c, ids, NULL, n, 0, blobs, blob_lens, &rec, rows,
                          NULL);
cleanup:
    /* Blobs and rows not handed over are still ours (handed ones were
     * zeroed). */
    rows_free(rows, n);
    qvi_payload_batch_free(blobs, blob_lens, n);
    return st;
}

/* ---- params -------------------------------------------------------------- */

/* Under the write lock: the first stored value that a float16 index could
 * not hold, for the message; false when none. */
static bool half_overflow_locked(const qv_collection *c, uint32_t *slot_out,
                                 float *v_out)
{
    const qvi_sparse *s = c->sparse;
    for (uint32_t slot = 0; slot < c->used && slot < s->cap; slot++) {
        for (uint32_t i = 0; i < s->rows[slot].nnz; i++) {
            if (qvi_f16_overflows(s->rows[slot].val[i])) {
                *slot_out = slot;
                *v_out = s->rows[slot].val[i];
                return true;
            }
        }
    }
    return false;
}

/*
 * Qdrant's PATCH of sparse_vectors (CollectionParams::
 * update_sparse_vectors_from_other, lib/collection/src/config.rs): the
 * modifier is replaced, and the index params merged field by field
 * (SparseIndexParams::update_from_other: full_scan_threshold, on_disk,
 * datatype).  Here the modifier takes effect at the next search (the IDF
 * is applied to the query, nothing stored changes); a new datatype
 * re-encodes every posting list from the float32 rows, under the write
 * lock (searches wait), before the change is logged, so a failure changes
 * nothing.
 */
qv_status qv_sparse_set_params(qv_collection *c,
                               const qv_collection_config *cfg)
{
    if (!c)
        return QV_ENULL;
    if (!cfg)
        return qvi_fail(c->err, QV_ENULL, "config is NULL");
    qv_status st = need_sparse(c);
    if (st != QV_OK)
        return st;
    uint32_t dt = qvi_config_datatype(cfg);
    if (cfg->sparse_modifier > QV_SPARSE_MODIFIER_IDF)
        return qvi_fail(c->err, QV_EINVAL, "unknown sparse modifier %u",
                        cfg->sparse_modifier);
    if (!qvi_datatype_name(dt))
        return qvi_fail(c->err, QV_EINVAL, "unknown datatype %u", dt);
    uint32_t fst = cfg->sparse_full_scan_threshold
                       ? cfg->sparse_full_scan_threshold
                       : QV_DEFAULT_SPARSE_FULL_SCAN;
    qvi_sparse built;
    qvi_sparse_init(&built);
    pthread_rwlock_wrlock(&c->lock);
    bool relist = dt != c->sparse->datatype;
    uint32_t bad_slot;
    float bad;
    if (relist && dt == QV_DATATYPE_FLOAT16 &&
        half_overflow_locked(c, &bad_slot, &bad)) {
        pthread_rwlock_unlock(&c->lock);
        return qvi_fail(c->err, QV_ERANGE,
                        "slot %u holds %g, out of the float16 range "
                        "(+-65504)",
                        bad_slot, (double)bad);
    }
    if (relist &&
        qvi_sparse_build_lists(c->sparse, dt, c->used, &built) != QV_OK) {
        pthread_rwlock_unlock(&c->lock);
        return qvi_fail(c->err, QV_ENOMEM,
                        "cannot build the posting lists as %s",
                        qvi_datatype_name(dt));
    }
    /* Logged like any write (WAL kind 21); a failed append changes
     * nothing. */
    qvi_change rec = {.kind = QVI_CHANGE_SPARSE_PARAMS, .sparse_cfg = cfg};
    uint64_t lsn = 0;
    st = qvi_change_log_locked(c, &rec, &lsn);
    if (st != QV_OK) {
        pthread_rwlock_unlock(&c->lock);
        qvi_sparse_drop_lists(&built);
        return st;
    }
    if (relist)
        qvi_sparse_take_lists(c->sparse, &built);
    c->cfg.sparse_modifier = cfg->sparse_modifier;
    c->cfg.sparse_full_scan_threshold = fst;
    c->cfg.datatype = dt;
    pthread_rwlock_unlock(&c->lock);
    return qvi_change_commit(c, lsn);
}

/* ---- reads --------------------------------------------------------------- */

qv_status qv_sparse_get(qv_collection *c, const qv_point_id *id,
                        uint32_t **indices, float **values, uint32_t *nnz)
{
    if (!c)
        return QV_ENULL;
    if (!id || !indices || !values || !nnz)
        return qvi_fail(c->err, QV_ENULL, "id or an output is NULL");
    *indices = NULL;
    *values = NULL;
    *nnz = 0;
    qv_status st = need_sparse(c);
    if (st == QV_OK)
        st = qvi_check_id(c, id);
    if (st != QV_OK)
        return st;
    pthread_rwlock_rdlock(&c->lock);
    uint32_t slot;
    bool found = qvi_idmap_find(&c->map, c->ids, id, &slot);
    const qvi_sparse_row *r = found ? &c->sparse->rows[slot] : NULL;
    if (r && r->nnz) {
        *indices = malloc((size_t)r->nnz * sizeof(uint32_t));
        *values = malloc((size_t)r->nnz * sizeof(float));
        if (*indices && *values) {
            memcpy(*indices, r->idx, (size_t)r->nnz * sizeof(uint32_t));
            memcpy(*values, r->val, (size_t)r->nnz * sizeof(float));
            *nnz = r->nnz;
        } else {
            st = QV_ENOMEM;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    if (st != QV_OK) {
        free(*indices);
        free(*values);
        *indices = NULL;
        *values = NULL;
        return qvi_fail(c->err, st, "cannot copy a sparse vector");
    }
    return found ? QV_OK : qvi_fail_not_found(c, id);
}

qv_status qv_sparse_stats(qv_collection *c, uint64_t *vectors,
                          uint64_t *nnz_total)
{
    if (!c)
        return QV_ENULL;
    qv_status st = need_sparse(c);
    if (st != QV_OK)
        return st;
    pthread_rwlock_rdlock(&c->lock);
    if (vectors)
        *vectors = c->sparse->n_vectors;
    if (nnz_total)
        *nnz_total = c->sparse->nnz_total;
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

qv_status qv_sparse_posting_bytes(qv_collection *c, size_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "out is NULL");
    qv_status st = need_sparse(c);
    if (st != QV_OK)
        return st;
    pthread_rwlock_rdlock(&c->lock);
    *out = qvi_sparse_posting_bytes(c->sparse);
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

qv_status qv_sparse_idf(qv_collection *c, const uint32_t *indices, uint32_t n,
                        float *weights)
{
    if (!c || (n && (!indices || !weights)))
        return QV_ENULL;
    qv_status st = need_sparse(c);
    if (st != QV_OK)
        return st;
    pthread_rwlock_rdlock(&c->lock);
    bool idf = c->cfg.sparse_modifier == QV_SPARSE_MODIFIER_IDF;
    uint64_t total = c->sparse->n_vectors;
    for (uint32_t j = 0; j < n; j++)
        weights[j] =
            idf ? qvi_sparse_idf(total, qvi_sparse_df(c->sparse, indices[j]))
                : 1.0f;
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

/* ---- search -------------------------------------------------------------- */

static bool accept_candidate(const void *arg, uint32_t slot)
{
    return qvi_candidates_match(arg, slot);
}

/* Qdrant's Modifier::Idf: each query value times its dimension's IDF
 * (sparse_search.c cites the formula).  Shared lock. */
static void apply_idf_locked(const qv_collection *c, qvi_sparse_row *q)
{
    uint64_t n = c->sparse->n_vectors;
    for (uint32_t j = 0; j < q->nnz; j++)
        q->val[j] *= qvi_sparse_idf(n, qvi_sparse_df(c->sparse, q->idx[j]));
}

static qv_status search_scratch_locked(qv_collection *c, qvi_sparse_row *q,
                                       const qv_search_params *params,
                                       qvi_sparse_scratch *sc, qvi_topk *t)
{
    if (c->cfg.sparse_modifier == QV_SPARSE_MODIFIER_IDF)
        apply_idf_locked(c, q);
    const qv_filter *filter = params->filter;
    if (!filter)
        return qvi_sparse_search(c->sparse, q, c->used, NULL, params->exact, sc,
                                 t);
    qvi_candidates cand;
    qv_status st = qvi_candidates_prepare_locked(c, qvi_filter_of(filter),
                                                 QVI_CANDIDATES_ALWAYS, &cand);
    if (st != QV_OK)
        return st;
    /* Qdrant scans the filtered points when the indexes leave fewer than
     * full_scan_threshold of them. */
    bool exact = params->exact ||
                 cand.n_cand < (uint64_t)c->cfg.sparse_full_scan_threshold;
    qvi_sparse_accept acc = {accept_candidate, &cand};
    st = qvi_sparse_search(c->sparse, q, c->used, &acc, exact, sc, t);
    qvi_candidates_free(&cand);
    return st;
}

/* A scratch from the pool, or a new empty one (NULL without memory: the
 * search then uses a temporary one). */
static qvi_sparse_scratch *scratch_get(qv_collection *c)
{
    qvi_sparse_scratch *sc = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->sparse_pool_n)
        sc = c->sparse_pool[--c->sparse_pool_n];
    pthread_mutex_unlock(&c->pool_mu);
    return sc ? sc : calloc(1, sizeof(*sc));
}

static void scratch_put(qv_collection *c, qvi_sparse_scratch *sc)
{
    if (!sc)
        return;
    size_t max = sizeof(c->sparse_pool) / sizeof(c->sparse_pool[0]);
    pthread_mutex_lock(&c->pool_mu);
    if (c->sparse_pool_n < max) {
        c->sparse_pool[c->sparse_pool_n++] = sc;
        sc = NULL;
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (sc) {
        qvi_sparse_scratch_free(sc);
        free(sc);
    }
}

static qv_status search_locked(qv_collection *c, qvi_sparse_row *q,
                               const qv_search_params *params, qvi_topk *t)
{
    qvi_sparse_scratch *sc = scratch_get(c);
    qv_status st = search_scratch_locked(c, q, params, sc, t);
    scratch_put(c, sc);
    return st;
}

qv_status qv_sparse_search(qv_collection *c, const qv_sparse_vector *query,
                           const qv_search_params *params, qv_hit *hits,
                           size_t *n_hits)
{
    if (!c)
        return QV_ENULL;
    if (!query || !params || !hits || !n_hits)
        return qvi_fail(c->err, QV_ENULL,
                        "query, params, hits or n_hits is NULL");
    *n_hits = 0;
    qv_status st = need_sparse(c);
    if (st == QV_OK)
        st = qvi_check_params(c, params);
    if (st != QV_OK)
        return st;
    qvi_sparse_row q;
    st = make_row(c, query, "query", 0, false, &q);
    if (st != QV_OK)
        return st;
    qvi_topk t;
    if (qvi_topk_init(&t, params->k) != QV_OK) {
        qvi_sparse_row_free(&q);
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate %u hits",
                        params->k);
    }
    pthread_rwlock_rdlock(&c->lock);
    st = search_locked(c, &q, params, &t);
    if (st == QV_OK)
        *n_hits = qvi_emit_hits(c, params, &t, hits);
    pthread_rwlock_unlock(&c->lock);
    qvi_topk_free(&t);
    qvi_sparse_row_free(&q);
    if (st == QV_ENOMEM)
        return qvi_fail(c->err, st, "out of memory in a sparse search");
    return st;
}
