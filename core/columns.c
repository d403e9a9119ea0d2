/*
 * columns.c -- a collection's arrays handed in by a loader and read out by
 * a writer, so that the file formats (persist/) never touch the fields of
 * qv_collection or its lock.
 *
 * Adopt: a loader validates a file, builds the few arrays it must (the
 * free-slot stack, the per-slot blob pointers, the graph's index) and
 * points the others into its backing, then calls
 * qvi_collection_adopt_columns on a freshly created collection.  Core
 * installs them as they are (borrowed arrays stay where they lie, see
 * core.h "backings"; so do the quantized codes a file kept, which the
 * loader restores into a quantizer: collection_quant.c), defines the
 * payload indexes the file listed and rebuilds them from the payloads:
 * they are derived data, so this is the one O(points) step of an open,
 * and only for collections that have indexes (or quantized codes the
 * file did not keep, which are trained and encoded again).
 *
 * Read: a writer (persist/snapshot_write.c) gets a read-only view of the
 * same arrays while core holds the shared lock, which gives it a
 * consistent state while searches go on.  The view's payload index
 * definitions are small arrays made for the call.
 *
 * Locking: adopt runs before the collection is shared; read takes the
 * shared lock for the duration of the callback.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"
#include "core/pindex/pindex.h"
#include "core/quant/quant.h"
#include "core/sparse/sparse.h"

#include <string.h>

/* Moves the loaded sparse rows into c (cols' struct is left empty either
 * way) and builds the posting lists from them. */
static qv_status adopt_sparse(qv_collection *c, const qvi_columns *cols)
{
    if (!cols->sparse)
        return QV_OK;
    if (!c->sparse) {
        qvi_sparse_free(cols->sparse);
        return QV_OK;
    }
    qvi_sparse_free(c->sparse);
    *c->sparse = *cols->sparse;
    qvi_sparse_init(cols->sparse);
    c->sparse->datatype = qvi_config_datatype(&c->cfg);
    /* The posting lists came with the file (lent by it), or are built
     * from the rows now (a file of an older build). */
    bool have_lists = c->sparse->tab != NULL || c->sparse->nnz_total == 0;
    if (qvi_sparse_reserve(c->sparse, c->cap) != QV_OK ||
        (!have_lists && qvi_sparse_rebuild(c->sparse, c->used) != QV_OK))
        return qvi_fail(c->err, QV_ENOMEM, "cannot build the sparse index");
    return QV_OK;
}

static qv_status define_indexes(qv_collection *c, const qvi_columns *cols)
{
    for (uint32_t i = 0; i < cols->n_pindexes; i++) {
        const char *key = cols->pindex_keys[i];
        const uint8_t *opts = cols->pindex_opts ? cols->pindex_opts[i] : NULL;
        qv_status st = qvi_payload_index_define_locked(
            c, key, cols->pindex_kinds[i], opts,
            opts ? cols->pindex_opts_len[i] : 0);
        if (st == QV_EINVAL)
            return qvi_fail(c->err, st,
                            "payload index %u (\"%s\") is not a valid index", i,
                            key);
        if (st != QV_OK)
            return qvi_fail(c->err, st, "cannot define payload index %u", i);
    }
    if (cols->n_pindexes == 0)
        return QV_OK;
    qv_status st = qvi_payload_indexes_rebuild_locked(c, true);
    if (st != QV_OK)
        return qvi_fail(c->err, st, "cannot build the payload indexes");
    return QV_OK;
}

qv_status qvi_collection_adopt_columns(qv_collection *c,
                                       const qvi_columns *cols, qvi_backing *b)
{
    uint32_t n = cols->n_slots;
    c->backing = b;
    c->vecs = cols->vecs;
    c->sqnorms = cols->sqnorms;
    c->ids = cols->ids;
    c->live = cols->live;
    c->payload_lens = cols->payload_lens;
    c->payloads = cols->payloads;
    c->free_slots = cols->free_slots;
    c->n_free = cols->n_free;
    c->cap = n;
    c->used = n;
    c->count = cols->count;
    c->lsn = cols->lsn;
    c->map.buckets = cols->idmap_buckets;
    c->map.cap = cols->idmap_cap;
    c->map.count = (size_t)cols->count;
    c->map.borrowed = c->map.buckets != NULL;
    if (cols->index) {
        qvi_hnsw_free(c->index);
        c->index = cols->index;
        c->index_ok = true;
    } else {
        c->index_ok = false;
    }
    c->rebuild_after = 0;
    if (b)
        qvi_backing_set_graph_unverified(b,
                                         cols->index && !cols->graph_verified);
    qv_status st = adopt_sparse(c, cols);
    if (st == QV_OK &&
        (cols->stride != c->stride || cols->row_bytes != c->row_bytes))
        st = qvi_fail(c->err, QV_EINTERNAL,
                      "columns of stride %zu (%zu bytes a row) for a "
                      "collection of stride %zu (%zu bytes)",
                      cols->stride, cols->row_bytes, c->stride, c->row_bytes);
    if (st == QV_OK && c->multi &&
        qvi_multi_adopt(c->multi, cols->multi_rows, cols->multi_offs,
                        cols->multi_len, n, cols->multi_elem) != QV_OK)
        st = qvi_fail(c->err, QV_ENOMEM, "cannot copy the multivectors");
    if (st != QV_OK) {
        qvi_quant_free(cols->quant); /* taken whatever the outcome */
        return st;
    }
    /* The file's codes and training when it kept them, else trained and
     * encoded from the vectors now. */
    qvi_quant_adopt_locked(c, cols->quant, cols->quant_trained_on);
    return define_indexes(c, cols);
}

qv_status qvi_collection_read_columns(qv_collection *c,
                                      qv_status (*fn)(const qvi_columns *cols,
                                                      void *arg),
                                      void *arg)
{
    qvi_columns v;
    memset(&v, 0, sizeof(v));
    const char **keys = NULL;
    qv_index_kind *kinds = NULL;
    uint8_t **opts = NULL;
    uint32_t *opts_len = NULL;
    qv_status st = QV_OK;
    /* graph_mu first: an upsert between two chunks of its graph insert has
     * released the lock, and its graph does not yet hold every live
     * point; a saved view must (core.h, collection_index.c). */
    pthread_mutex_lock(&c->graph_mu);
    pthread_rwlock_rdlock(&c->lock);
    const qvi_pindex_set *s = c->pindexes;
    uint32_t n_ix = s ? s->n : 0;
    if (n_ix) {
        keys = malloc(n_ix * sizeof(*keys));
        kinds = malloc(n_ix * sizeof(*kinds));
        opts = calloc(n_ix, sizeof(*opts));
        opts_len = calloc(n_ix, sizeof(*opts_len));
        if (!keys || !kinds || !opts || !opts_len) {
            st = qvi_fail(c->err, QV_ENOMEM, "out of memory");
            goto unlock;
        }
        for (uint32_t i = 0; i < n_ix; i++) {
            keys[i] = s->v[i]->key;
            kinds[i] = s->v[i]->kind;
            size_t len = 0;
            if (s->v[i]->text &&
                !(opts[i] = qvi_text_opts_encode(s->v[i]->text, &len))) {
                st = qvi_fail(c->err, QV_ENOMEM, "out of memory");
                goto unlock;
            }
            opts_len[i] = (uint32_t)len;
        }
    }
    v.cfg = c->cfg;
    v.stride = c->stride;
    v.row_bytes = c->row_bytes;
    v.n_slots = c->used;
    v.count = c->count;
    v.lsn = c->lsn;
    v.vecs = c->vecs;
    v.sqnorms = c->sqnorms;
    v.ids = c->ids;
    v.live = c->live;
    v.free_slots = c->free_slots;
    v.n_free = c->n_free;
    v.payloads = c->payloads;
    v.payload_lens = c->payload_lens;
    v.idmap_buckets = c->map.buckets;
    v.idmap_cap = c->map.cap;
    v.index = c->index_ok ? c->index : NULL;
    v.sparse = c->sparse;
    v.graph_verified = false;
    v.n_pindexes = n_ix;
    v.pindex_keys = keys;
    v.pindex_kinds = kinds;
    v.pindex_opts = (const uint8_t *const *)opts;
    v.pindex_opts_len = opts_len;
    v.backed = c->backing != NULL;
    if (c->quant && c->quant_ok && c->quant->trained &&
        c->quant->cap >= c->used) {
        v.quant = c->quant;
        v.quant_trained_on = c->quant_trained_on;
    }
    if (c->multi) {
        v.multi_rows = c->multi->arena;
        v.multi_offs = c->multi->offs;
        v.multi_len = c->multi->len;
        v.multi_elem = c->multi->elem;
    }
    st = fn(&v, arg);
unlock:
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    free(keys);
    free(kinds);
    for (uint32_t i = 0; opts && i < n_ix; i++)
        free(opts[i]);
    free(opts);
    free(opts_len);
    return st;
}
