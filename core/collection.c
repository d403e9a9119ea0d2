/*
 * collection.c -- a collection's life cycle and its point writes and reads.
 *
 * Storage: vectors live in one 64-byte aligned array of `cap` rows, each
 * `stride` elements (dim rounded up to 16, padding zero), so that every
 * float row starts on a cache line and BLAS can treat the array as a
 * matrix with a leading dimension.  The element is the collection's
 * datatype (core/base/datatype.c): float32, or, narrow, float16 (2
 * bytes) or uint8 (1 byte), so that a float16 collection takes half the
 * memory and a uint8 one a quarter, as Qdrant's do.  A narrow row is
 * written from the converted floats (store_row_locked) and scored by the
 * narrow kernels against a query encoded the same way (qvi_prepare_query,
 * qvi_slot_distance); readers that need floats decode (qvi_row_read).  A slot
 * is a row index.  ids[slot] and live[slot] describe the point in the slot,
 * sqnorms[slot] its squared norm (used by batch euclid search), and the id map
 * finds the slot of an id.  Deleted slots go on a free stack and are reused
 * before the array grows; the array grows geometrically (x1.5) so that a long
 * sequence of inserts costs amortised O(1) copies.
 *
 * All-or-nothing writes: every write validates its whole input first, then
 * reserves all the memory it may need (rows, id-map buckets), and only then
 * mutates; from that point nothing can fail, so a failed call leaves the
 * collection as it was.
 *
 * Every write also updates the HNSW graph (collection_index.c) and, around
 * each payload change, the payload indexes (collection_pindex.c); neither can
 * make the write fail.
 *
 * Backings: a collection loaded from a snapshot (persist/ hands its
 * arrays in through columns.c) borrows them from the file's private
 * mapping, wrapped in a qvi_backing (backing.c).  Writes edit them in place
 * (the kernel copies the touched pages), growth copies them into owned
 * arrays as it copies any array, and frees skip them (qvi_free_owned).
 *
 * Durability (journal.c): in a durable store, a write describes its
 * original input as a qvi_change and logs it after its checks and
 * reservations and before it mutates, still under the write lock
 * (qvi_change_log_locked), and waits for the log's group fsync after
 * releasing the lock (qvi_change_commit).  A failed log append changes
 * nothing.  Without a journal both are a pointer test.
 *
 * Locking: one rwlock per collection.  Reads take it shared, writes
 * exclusive.  Writes that change the HNSW graph (upserts, deletes) take
 * the collection's graph_mu first: an upsert links its batch into the
 * graph under the shared lock, searches beside it (collection_index.c,
 * "Chunked graph inserts").  The reference count is
 * atomic and needs no lock.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"
#include "core/payload/payload.h"
#include "core/pindex/pindex.h"
#include "core/sparse/sparse.h"
#include "simd/simd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_ALIGN_FLOATS 16u
/* The graph addresses at most QVI_HNSW_MAX_SLOTS nodes (it keeps a flag
 * bit free), so neither does the collection. */
#define MAX_SLOTS QVI_HNSW_MAX_SLOTS

void qv_collection_config_init(qv_collection_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->metric = QV_METRIC_COSINE;
    cfg->hnsw_m = QV_DEFAULT_HNSW_M;
    cfg->hnsw_ef_construct = QV_DEFAULT_EF_CONSTRUCT;
    cfg->full_scan_threshold_kb = QV_DEFAULT_FULL_SCAN_THRESHOLD_KB;
    cfg->hnsw_seed = 0x5155495645ull;
    cfg->version = QV_COLLECTION_CONFIG_VERSION;
}

uint32_t qvi_row_datatype(const qv_collection_config *cfg)
{
    /* A sparse collection's dense rows are placeholders of dim 1. */
    if (cfg->kind == QV_VECTOR_SPARSE)
        return QV_DATATYPE_FLOAT32;
    return qvi_config_datatype(cfg);
}

uint32_t qvi_config_datatype(const qv_collection_config *cfg)
{
    return cfg->version >= 2 ? cfg->datatype : QV_DATATYPE_FLOAT32;
}

void qvi_config_copy(qv_collection_config *dst, const qv_collection_config *src)
{
    /* A caller compiled against layout 0 or 1 passed a struct that ends
     * before datatype: read no further than its layout. */
    if (src->version >= 2) {
        *dst = *src;
        return;
    }
    memset(dst, 0, sizeof(*dst));
    memcpy(dst, src, offsetof(qv_collection_config, datatype));
    dst->datatype = QV_DATATYPE_FLOAT32;
}

qv_status qvi_collection_config_check(const qv_collection_config *cfg,
                                      char *msg, size_t cap)
{
    if (cfg->version > QV_COLLECTION_CONFIG_VERSION) {
        /* A newer layout: its fields may mean more than this build knows. */
        snprintf(msg, cap, "config version %u is newer than this build's %u",
                 cfg->version, (unsigned)QV_COLLECTION_CONFIG_VERSION);
        return QV_EINVAL;
    }
    if (cfg->kind > QV_VECTOR_SPARSE) {
        snprintf(msg, cap, "unknown vector kind %u", cfg->kind);
        return QV_EINVAL;
    }
    if (cfg->sparse_modifier > QV_SPARSE_MODIFIER_IDF) {
        snprintf(msg, cap, "unknown sparse modifier %u", cfg->sparse_modifier);
        return QV_EINVAL;
    }
    /* A sparse collection ignores dim and metric (create sets 1 and dot). */
    bool dense = cfg->kind == QV_VECTOR_DENSE;
    if (dense && (cfg->dim < QV_MIN_DIM || cfg->dim > QV_MAX_DIM)) {
        snprintf(msg, cap, "dim %u is outside [%u, %u]", cfg->dim,
                 (unsigned)QV_MIN_DIM, (unsigned)QV_MAX_DIM);
        return QV_ERANGE;
    }
    if (dense && (unsigned)cfg->metric > QV_METRIC_MANHATTAN) {
        snprintf(msg, cap, "unknown metric %u", (unsigned)cfg->metric);
        return QV_EINVAL;
    }
    if (cfg->hnsw_m < QV_MIN_HNSW_M || cfg->hnsw_m > QV_MAX_HNSW_M) {
        snprintf(msg, cap, "hnsw_m %u is outside [%u, %u]", cfg->hnsw_m,
                 (unsigned)QV_MIN_HNSW_M, (unsigned)QV_MAX_HNSW_M);
        return QV_ERANGE;
    }
    if (cfg->hnsw_ef_construct < QV_MIN_EF_CONSTRUCT ||
        cfg->hnsw_ef_construct > QV_MAX_EF_CONSTRUCT) {
        snprintf(msg, cap, "hnsw_ef_construct %u is outside [%u, %u]",
                 cfg->hnsw_ef_construct, (unsigned)QV_MIN_EF_CONSTRUCT,
                 (unsigned)QV_MAX_EF_CONSTRUCT);
        return QV_ERANGE;
    }
    if (cfg->max_indexing_threads > QV_MAX_INDEXING_THREADS) {
        snprintf(msg, cap, "max_indexing_threads %u is above %u",
                 cfg->max_indexing_threads, (unsigned)QV_MAX_INDEXING_THREADS);
        return QV_ERANGE;
    }
    if (cfg->multivector > QV_MULTIVECTOR_MAX_SIM) {
        snprintf(msg, cap, "unknown multivector comparator %u",
                 cfg->multivector);
        return QV_EINVAL;
    }
    if (cfg->multivector != QV_MULTIVECTOR_NONE &&
        cfg->kind == QV_VECTOR_SPARSE) {
        snprintf(msg, cap, "a sparse collection holds no multivectors");
        return QV_EINVAL;
    }
    uint32_t dt = qvi_config_datatype(cfg);
    if (!qvi_datatype_name(dt)) {
        snprintf(msg, cap, "unknown datatype %u", dt);
        return QV_EINVAL;
    }
    /* A sparse collection's datatype types its posting lists' values
     * (core/sparse/sparse.h); its rows stay float32. */
    return qvi_quant_config_check(cfg, msg, cap);
}

qv_status qv_collection_create(const qv_collection_config *cfg,
                               qv_collection **out)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!cfg)
        return QV_ENULL;
    char msg[QVI_ERRMSG_CAP];
    qv_status st = qvi_collection_config_check(cfg, msg, sizeof(msg));
    if (st != QV_OK)
        return st;

    qv_collection *c = calloc(1, sizeof(*c));
    if (!c)
        return QV_ENOMEM;
    c->vec_arena.fd = -1;
    if (qvi_errbuf_create(&c->err) != QV_OK) {
        free(c);
        return QV_ENOMEM;
    }
    /* Writer-preferring: with glibc's default (reader-preferring) lock, a
     * steady stream of searches starves writers forever. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&c->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        qvi_errbuf_destroy(c->err);
        free(c);
        return QV_ENOMEM;
    }
    qvi_config_copy(&c->cfg, cfg);
    c->cfg.version = QV_COLLECTION_CONFIG_VERSION;
    if (cfg->kind == QV_VECTOR_SPARSE) {
        c->cfg.dim = 1;
        c->cfg.metric = QV_METRIC_DOT;
        if (!c->cfg.sparse_full_scan_threshold)
            c->cfg.sparse_full_scan_threshold = QV_DEFAULT_SPARSE_FULL_SCAN;
    }
    if (qvi_multi_create(c) != QV_OK) {
        pthread_rwlock_destroy(&c->lock);
        qvi_errbuf_destroy(c->err);
        free(c);
        return QV_ENOMEM;
    }
    if (qvi_payload_encode_text("{}", 2, &c->empty_payload,
                                &c->empty_payload_len, NULL, 0) != QV_OK) {
        qvi_multi_destroy(c);
        pthread_rwlock_destroy(&c->lock);
        qvi_errbuf_destroy(c->err);
        free(c);
        return QV_ENOMEM;
    }
    if (qvi_index_create(c) != QV_OK) {
        qvi_multi_destroy(c);
        free(c->empty_payload);
        pthread_rwlock_destroy(&c->lock);
        qvi_errbuf_destroy(c->err);
        free(c);
        return QV_ENOMEM;
    }
    c->stride = (c->cfg.dim + ROW_ALIGN_FLOATS - 1) / ROW_ALIGN_FLOATS *
                ROW_ALIGN_FLOATS;
    uint32_t dt = qvi_row_datatype(&c->cfg);
    c->elem = (uint32_t)qvi_datatype_size(dt);
    c->narrow = c->elem != sizeof(float);
    c->row_bytes = c->stride * c->elem;
    c->qstride = c->narrow ? 2 * c->stride : c->stride;
    for (int w = 0; w < 4; w++)
        c->rowk[w] = qvi_datatype_kernel(dt, w);
    if (qvi_sparse_attach(c) != QV_OK || qvi_quant_attach(c) != QV_OK ||
        (c->narrow &&
         !(c->row_tmp = malloc((size_t)c->cfg.dim * sizeof(float))))) {
        qvi_quant_detach(c); /* each detach copes with a failed attach */
        qvi_sparse_detach(c);
        qvi_index_destroy(c);
        qvi_multi_destroy(c);
        free(c->empty_payload);
        pthread_rwlock_destroy(&c->lock);
        qvi_errbuf_destroy(c->err);
        free(c);
        return QV_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    qvi_idmap_init(&c->map);
    *out = c;
    return QV_OK;
}

qv_status qvi_collection_set_blob_pool(qv_collection *c, qvi_blob_pool *pool)
{
    qv_status st = QV_OK;
    pthread_rwlock_wrlock(&c->lock);
    if (pool && c->blob_pool != pool) {
        if (c->blob_pool) {
            st = QV_EINVAL;
        } else {
            /* Blobs stored so far are private; qvi_blob_release frees
             * them as such once they go, so the pool may come now. */
            qvi_blob_pool_retain(pool);
            c->blob_pool = pool;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return st;
}

/* Arrays and blobs borrowed from a backing are left to it, and it goes
 * after them (the index borrows from it too); the journal goes last. */
static void collection_free(qv_collection *c)
{
    qvi_pindexes_destroy(c);
    qvi_sparse_detach(c);
    for (uint32_t s = 0; s < c->used; s++) {
        if (c->payloads[s])
            qvi_payload_release(c, c->payloads[s], c->payload_lens[s]);
    }
    free(c->payloads);
    qvi_blob_pool_release(c->blob_pool); /* after its last blob went back */
    qvi_free_owned(c, c->payload_lens);
    free(c->empty_payload);
    qvi_index_destroy(c);
    qvi_multi_destroy(c);
    qvi_quant_detach(c);
    qvi_idmap_free(&c->map);
    if (!qvi_maparena_contains(&c->vec_arena, c->vecs))
        qvi_free_owned(c, c->vecs);
    qvi_maparena_close(&c->vec_arena);
    free(c->vec_dir);
    free(c->graph_dir);
    qvi_free_owned(c, c->sqnorms);
    qvi_free_owned(c, c->ids);
    qvi_free_owned(c, c->live);
    free(c->free_slots);
    free(c->row_tmp);
    qvi_backing_free(c->backing);
    if (c->journal)
        c->journal_ops->release(c->journal);
    pthread_rwlock_destroy(&c->lock);
    qvi_errbuf_destroy(c->err);
    free(c);
}

void qv_collection_retain(qv_collection *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void qv_collection_release(qv_collection *c)
{
    if (!c)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        collection_free(c);
}

qv_status qv_collection_get_config(const qv_collection *c,
                                   qv_collection_config *out)
{
    if (!c || !out)
        return QV_ENULL;
    /* The quantization fields change under the write lock. */
    pthread_rwlock_rdlock((pthread_rwlock_t *)&c->lock);
    *out = c->cfg;
    pthread_rwlock_unlock((pthread_rwlock_t *)&c->lock);
    out->version = QV_COLLECTION_CONFIG_VERSION;
    return QV_OK;
}

size_t qv_collection_errmsg(const qv_collection *c, char *buf, size_t cap)
{
    return qvi_errbuf_copy(c ? c->err : NULL, buf, cap);
}

/* ---- validation ---------------------------------------------------------- */

qv_status qvi_refuse_sparse(qv_collection *c)
{
    if (c->cfg.kind != QV_VECTOR_SPARSE)
        return QV_OK;
    return qvi_fail(c->err, QV_EINVAL,
                    "a sparse collection takes sparse vectors "
                    "(qv_sparse_upsert, qv_sparse_get, qv_sparse_search)");
}

qv_status qvi_check_vector(qv_collection *c, const float *v, uint32_t dim,
                           const char *what)
{
    if (qvi_refuse_sparse(c) != QV_OK)
        return QV_EINVAL;
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "%s has %u components, the collection expects %u", what,
                        dim, c->cfg.dim);
    /* Components must be finite; the squared norm need not be.  Qdrant
     * stores a vector like [1e30, 1e30] (its VectorStruct validation checks
     * nothing but the dimension), so we do too: products of such vectors
     * overflow to +-inf (a score Qdrant prints as null, serde_json's
     * spelling of a non-finite float) and inf - inf inside a kernel to NaN,
     * which the heaps rank as the worst distance (qvi_topk_push,
     * qvi_hnsw_dist). */
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(v[i]))
            return qvi_fail(c->err, QV_ENONFINITE, "%s component %u is %s",
                            what, i, isnan(v[i]) ? "NaN" : "infinite");
        /* Under cosine the vector is normalised before it is rounded, so
         * only other metrics can overflow a half. */
        if (c->cfg.datatype == QV_DATATYPE_FLOAT16 &&
            c->cfg.metric != QV_METRIC_COSINE && qvi_f16_overflows(v[i]))
            return qvi_fail(c->err, QV_ERANGE,
                            "%s component %u (%g) is out of the float16 "
                            "range (+-65504)",
                            what, i, (double)v[i]);
    }
    return QV_OK;
}

qv_status qvi_check_id(qv_collection *c, const qv_point_id *id)
{
    if (!qvi_id_valid(id))
        return qvi_fail(c->err, QV_EINVAL, "malformed point id (kind %u)",
                        id->kind);
    return QV_OK;
}

qv_status qvi_fail_not_found(qv_collection *c, const qv_point_id *id)
{
    char text[QV_UUID_STRLEN];
    qv_id_format(id, text, sizeof(text));
    return qvi_fail(c->err, QV_ENOTFOUND, "no point with id %s", text);
}

/* Cosine's preprocessing, as Qdrant's cosine_preprocess
 * (lib/segment/src/spaces/simple.rs): a vector whose squared norm is
 * already within 1e-6 of 1 is left as it is (is_length_zero_or_normalized),
 * so normalising is idempotent -- a vector read back and written again, or
 * migrated between stores, keeps every bit -- and unit vectors from
 * embedding models are stored exactly as given.  Others are scaled to unit
 * length (zero stays zero). */
static void cosine_prepare(const qvi_kernels *k, float *v, uint32_t dim)
{
    float sq = k->dot(v, v, dim);
    if (fabsf(sq - 1.0f) <= 1.0e-6f)
        return;
    k->normalize(v, dim);
}

qv_status qvi_prepare_query(qv_collection *c, const float *query, uint32_t dim,
                            float *out)
{
    qv_status st = qvi_check_vector(c, query, dim, "query");
    if (st != QV_OK)
        return st;
    memcpy(out, query, dim * sizeof(float));
    if (c->cfg.metric == QV_METRIC_COSINE &&
        !qvi_byte_cosine(c->cfg.metric, c->cfg.datatype))
        cosine_prepare(qvi_simd(), out, dim);
    /* Qdrant scores a query in the storage's element type too
     * (query_from_float_cow). */
    qvi_datatype_apply(c->cfg.datatype, out, dim);
    /* Narrow rows are scored against the query's encoding (exact: its
     * values are the converted ones), kept after its stride floats. */
    if (c->narrow)
        qvi_datatype_encode(c->cfg.datatype, out, out + c->stride, dim);
    return QV_OK;
}

/* ---- on_disk vectors ------------------------------------------------------
 */

qv_status qv_collection_set_vectors_on_disk(qv_collection *c, const char *dir)
{
    if (!c)
        return QV_ENULL;
    if (c->cfg.kind == QV_VECTOR_SPARSE || c->multi)
        return qvi_fail(c->err, QV_EINVAL,
                        "on_disk vectors apply to dense single vectors only");
    char *d = NULL;
    if (dir && !(d = strdup(dir)))
        return qvi_fail(c->err, QV_ENOMEM, "out of memory");
    qv_status st = QV_OK;
    pthread_mutex_lock(&c->graph_mu); /* not between two insert chunks */
    pthread_rwlock_wrlock(&c->lock);
    if (c->vec_on_disk)
        goto cleanup;
    bool borrowed = c->backing && qvi_backing_contains(c->backing, c->vecs);
    if (!borrowed) {
        /* Heap rows move now (an empty collection gets its file now, so a
         * bad dir is refused here); borrowed ones are already file
         * pages. */
        qvi_maparena a;
        size_t bytes = (size_t)c->cap * c->row_bytes;
        st = qvi_maparena_open(&a, dir, bytes);
        if (st != QV_OK) {
            qvi_fail(c->err, st, "cannot make the on-disk vector file in %s",
                     dir ? dir : "$TMPDIR");
            goto cleanup;
        }
        if (c->used)
            memcpy(a.base, c->vecs, (size_t)c->used * c->row_bytes);
        free(c->vecs);
        c->vecs = a.base;
        c->vec_arena = a;
    }
    c->vec_dir = d;
    d = NULL;
    c->vec_on_disk = true;
cleanup:
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    free(d);
    return st;
}

/* ---- growth -------------------------------------------------------------- */

/* Grows every per-slot array to at least `need` rows.  Allocates all the
 * new arrays before touching the old ones, so failure changes nothing. */
static qv_status grow_slots_locked(qv_collection *c, size_t need)
{
    if (need <= c->cap)
        return QV_OK;
    if (need > MAX_SLOTS)
        return qvi_fail(c->err, QV_ERANGE,
                        "a collection holds at most %u points", MAX_SLOTS);
    size_t cap = c->cap < 64 ? 64 : c->cap + c->cap / 2;
    if (cap < need)
        cap = need;
    if (cap > MAX_SLOTS)
        cap = MAX_SLOTS;
    /* The sparse rows first: growing them early changes nothing visible. */
    qv_status st = qvi_sparse_grow_locked(c, (uint32_t)cap);
    if (st != QV_OK)
        return st;

    size_t vec_bytes, used_bytes;
    if (!qv_mul_size(cap, c->row_bytes, &vec_bytes))
        return qvi_fail(c->err, QV_ENOMEM, "vector array size overflows");
    used_bytes = (size_t)c->used * c->row_bytes;

    /* On_disk vectors grow in their mapped file (no copy: the mapping
     * moves); the first growth after a snapshot opened, or after the
     * switch, copies the rows into a new arena. */
    bool in_arena =
        c->vec_arena.fd >= 0 &&
        (c->cap == 0 || qvi_maparena_contains(&c->vec_arena, c->vecs));
    void *vecs = c->vec_on_disk ? NULL : qvi_alloc_aligned(vec_bytes);
    float *sqnorms = malloc(cap * sizeof(float));
    qv_point_id *ids = malloc(cap * sizeof(qv_point_id));
    uint8_t *live = calloc(cap, 1);
    uint32_t *free_slots = malloc(cap * sizeof(uint32_t));
    uint8_t **payloads = calloc(cap, sizeof(uint8_t *));
    uint32_t *payload_lens = calloc(cap, sizeof(uint32_t));
    qv_status ast = QV_OK;
    bool new_arena = false;
    if (c->vec_on_disk && sqnorms && ids && live && free_slots && payloads &&
        payload_lens) {
        /* Last, so that a failure of the heap arrays leaves the arena as
         * it was; nothing after this can fail. */
        if (in_arena) {
            ast = qvi_maparena_grow(&c->vec_arena, vec_bytes);
        } else {
            qvi_maparena fresh;
            ast = qvi_maparena_open(&fresh, c->vec_dir, vec_bytes);
            if (ast == QV_OK) {
                qvi_maparena_close(&c->vec_arena); /* holds no rows */
                c->vec_arena = fresh;
                new_arena = true;
            }
        }
        if (ast == QV_OK)
            vecs = c->vec_arena.base;
    }
    if (!vecs || !sqnorms || !ids || !live || !free_slots || !payloads ||
        !payload_lens) {
        if (c->vec_on_disk)
            vecs = NULL; /* the arena is not ours to free */
        free(vecs);
        free(sqnorms);
        free(ids);
        free(live);
        free(free_slots);
        free(payloads);
        free(payload_lens);
        if (ast != QV_OK)
            return qvi_fail(c->err, ast,
                            "cannot grow the on-disk vector file to %zu "
                            "points (%s)",
                            cap, c->vec_dir ? c->vec_dir : "$TMPDIR");
        return qvi_fail(c->err, QV_ENOMEM,
                        "cannot grow the collection to %zu points", cap);
    }
    if (c->used && (!c->vec_on_disk || new_arena))
        memcpy(vecs, c->vecs, used_bytes);
    if (c->used) {
        memcpy(sqnorms, c->sqnorms, c->used * sizeof(float));
        memcpy(ids, c->ids, c->used * sizeof(qv_point_id));
        memcpy(live, c->live, c->used);
        memcpy(payloads, c->payloads, c->used * sizeof(uint8_t *));
        memcpy(payload_lens, c->payload_lens, c->used * sizeof(uint32_t));
    }
    if (c->n_free)
        memcpy(free_slots, c->free_slots, c->n_free * sizeof(uint32_t));
    /* Arrays borrowed from a snapshot are now copied out; the backing
     * keeps them until the collection goes.  Rows in the arena stay. */
    if (!in_arena)
        qvi_free_owned(c, c->vecs);
    qvi_free_owned(c, c->sqnorms);
    qvi_free_owned(c, c->ids);
    qvi_free_owned(c, c->live);
    free(c->free_slots);
    free(c->payloads);
    qvi_free_owned(c, c->payload_lens);
    c->payloads = payloads;
    c->payload_lens = payload_lens;
    c->vecs = vecs;
    c->sqnorms = sqnorms;
    c->ids = ids;
    c->live = live;
    c->free_slots = free_slots;
    c->cap = (uint32_t)cap;
    return QV_OK;
}

/* The number of ids in the batch that are not in the collection yet (an
 * absent id repeated in the batch counts each time: an over-estimate that
 * only reserves a little more). */
static size_t count_absent_locked(const qv_collection *c,
                                  const qv_point_id *ids, size_t n)
{
    size_t absent = 0;
    uint32_t slot;
    for (size_t i = 0; i < n; i++)
        absent += !qvi_idmap_find(&c->map, c->ids, &ids[i], &slot);
    return absent;
}

/* Makes room so that the next n inserts of new ids cannot fail. */
static qv_status reserve_locked(qv_collection *c, size_t n)
{
    size_t fresh = n > c->n_free ? n - c->n_free : 0;
    size_t need;
    if (!qv_add_size(c->used, fresh, &need) || need > MAX_SLOTS)
        return qvi_fail(c->err, QV_ERANGE,
                        "a collection holds at most %u points", MAX_SLOTS);
    qv_status st = grow_slots_locked(c, need);
    if (st != QV_OK)
        return st;
    size_t total;
    if (!qv_add_size(c->count, n, &total) ||
        qvi_idmap_reserve(&c->map, total) != QV_OK)
        return qvi_fail(c->err, QV_ENOMEM, "cannot grow the id map");
    return QV_OK;
}

/* ---- writes -------------------------------------------------------------- */

/* Writes slot's row.  Cosine normalises before the conversion, as Qdrant
 * does for float16 (CosineMetric::preprocess runs on the f32 vector before
 * the storage converts it, lib/segment/src/vector_storage/dense/
 * simple_dense_vector_storage.rs); uint8 is not normalised at all, its
 * CosineMetric preprocess being the cast alone (lib/segment/src/spaces/
 * metric_uint/simple_cosine.rs): its cosine is computed when scored.  A
 * narrow row is built in row_tmp, then encoded. */
static void store_row_locked(qv_collection *c, uint32_t slot, const float *v)
{
    uint32_t dim = c->cfg.dim;
    char *dst = qvi_row(c, slot);
    float *row = c->narrow ? c->row_tmp : (float *)(void *)dst;
    memcpy(row, v, dim * sizeof(float));
    const qvi_kernels *k = qvi_simd();
    if (c->cfg.metric == QV_METRIC_COSINE &&
        !qvi_byte_cosine(c->cfg.metric, c->cfg.datatype))
        cosine_prepare(k, row, dim);
    qvi_datatype_apply(c->cfg.datatype, row, dim);
    c->sqnorms[slot] = k->dot(row, row, dim);
    if (c->narrow)
        qvi_datatype_encode(c->cfg.datatype, row, dst, dim);
    memset(dst + (size_t)dim * c->elem, 0, (c->stride - dim) * c->elem);
}

void qvi_row_read(const qv_collection *c, uint32_t s, float *out)
{
    qvi_datatype_decode(c->narrow ? c->cfg.datatype : QV_DATATYPE_FLOAT32,
                        qvi_row(c, s), out, c->cfg.dim);
}

/* Inserts or replaces one point; the caller has reserved room.  With
 * payloads, the point takes ownership of *blob (NULL: {}) and *blob is set
 * to NULL; without, an existing point keeps its payload.  Returns the slot
 * written. */
static uint32_t upsert_one_locked(qv_collection *c, const qv_point_id *id,
                                  const float *v, bool with_payload,
                                  uint8_t **blob, size_t blob_len)
{
    uint32_t slot;
    if (!qvi_idmap_find(&c->map, c->ids, id, &slot)) {
        slot = c->n_free ? c->free_slots[--c->n_free] : c->used++;
        c->ids[slot] = *id;
        c->live[slot] = 1;
        /* Cannot fail: reserve_locked made room for this insert. */
        (void)qvi_idmap_insert(&c->map, c->ids, id, slot);
        c->count++;
    }
    store_row_locked(c, slot, v);
    if (with_payload) {
        qvi_pindexes_remove_slot_locked(c, slot); /* payload indexes */
        qvi_payload_release(c, c->payloads[slot], c->payload_lens[slot]);
        c->payloads[slot] = qvi_blob_intern(c->blob_pool, *blob, blob_len);
        c->payload_lens[slot] = *blob ? (uint32_t)blob_len : 0;
        *blob = NULL;
        qvi_pindexes_add_slot_locked(c, slot); /* payload indexes */
    }
    return slot;
}

qv_status qv_upsert(qv_collection *c, const qv_point_id *id, const float *vec,
                    uint32_t dim)
{
    return qv_upsert_batch(c, id, vec, 1, dim);
}

/* Encodes texts[i] into blobs[i] (NULL texts: NULL blobs); on failure
 * frees what it made. */
qv_status qvi_encode_payloads(qv_collection *c, const char *const *texts,
                              const size_t *lens, size_t n, uint8_t **blobs,
                              size_t *blob_lens)
{
    for (size_t i = 0; i < n; i++) {
        blobs[i] = NULL;
        blob_lens[i] = 0;
        if (!texts[i])
            continue;
        char err[QVI_ERRMSG_CAP];
        qv_status st = qvi_payload_encode_text(texts[i], lens[i], &blobs[i],
                                               &blob_lens[i], err, sizeof(err));
        if (st != QV_OK) {
            for (size_t j = 0; j < i; j++)
                free(blobs[j]);
            return qvi_fail(c->err, st, "payload of point %zu: %s", i, err);
        }
    }
    return QV_OK;
}

qv_status qvi_payload_batch_encode(qv_collection *c, const char *const *texts,
                                   const size_t *lens, size_t n,
                                   uint8_t ***blobs, size_t **blob_lens)
{
    *blobs = malloc(n * sizeof(**blobs));
    *blob_lens = malloc(n * sizeof(**blob_lens));
    qv_status st = QV_OK;
    if (!*blobs || !*blob_lens)
        st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate a batch of %zu", n);
    if (st == QV_OK)
        st = qvi_encode_payloads(c, texts, lens, n, *blobs, *blob_lens);
    if (st != QV_OK) {
        free(*blobs);
        free(*blob_lens);
        *blobs = NULL;
        *blob_lens = NULL;
    }
    return st;
}

void qvi_payload_batch_free(uint8_t **blobs, size_t *blob_lens, size_t n)
{
    for (size_t i = 0; blobs && i < n; i++)
        free(blobs[i]);
    free(blobs);
    free(blob_lens);
}

/* The body of every upsert (core.h). */
qv_status qvi_upsert_apply(qv_collection *c, const qv_point_id *ids,
                           const float *vecs, size_t n, uint32_t dim,
                           uint8_t **blobs, const size_t *blob_lens,
                           qvi_change *rec, struct qvi_sparse_row *rows,
                           const qvi_multi_input *mi)
{
    static const float zero_row[1] = {0.0f};
    uint32_t *touched = malloc(n * sizeof(uint32_t));
    if (!touched)
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate a batch of %zu", n);
    /* graph_mu first (core.h): the graph insert below releases the write
     * lock between chunks, and no other graph write may come in. */
    pthread_mutex_lock(&c->graph_mu);
    pthread_rwlock_wrlock(&c->lock);
    /* Reserve for new ids only: re-embedding a whole collection must not
     * double its memory. */
    qv_status st = reserve_locked(c, count_absent_locked(c, ids, n));
    if (st == QV_OK && mi)
        st = qvi_multi_reserve_locked(c, mi->floats);
    if (st == QV_OK && rows)
        st = qvi_sparse_check_rows_locked(c, rows, n);
    uint64_t lsn = 0;
    if (st == QV_OK)
        st = qvi_change_log_locked(c, rec, &lsn);
    if (st == QV_OK) {
        for (size_t i = 0; i < n; i++) {
            const float *v = rows ? zero_row
                             : mi ? mi->mats[i]
                                  : vecs + i * (size_t)dim;
            touched[i] = upsert_one_locked(c, &ids[i], v, blobs != NULL,
                                           blobs ? &blobs[i] : NULL,
                                           blobs ? blob_lens[i] : 0);
            if (rows)
                qvi_sparse_set_slot_locked(c, touched[i], &rows[i]);
            if (mi)
                qvi_multi_put(c->multi, touched[i], v, mi->row_counts[i]);
        }
        /* A sparse collection's rows are all zero: no graph over them.
         * Last: it ends holding the lock shared or exclusive (core.h),
         * which the unlock below releases either way. */
        if (!rows)
            qvi_index_update_locked(c, touched, n);
    }
    bool retrain = c->quant_retrain; /* read under the lock, shared or not */
    pthread_rwlock_unlock(&c->lock);
    /* Still under graph_mu: training reads every row and must not race
     * another upsert's, while searches run beside it. */
    if (retrain)
        qvi_quant_retrain_deferred(c);
    pthread_mutex_unlock(&c->graph_mu);
    free(touched);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

static qv_status check_batch(qv_collection *c, const qv_point_id *ids,
                             const float *vecs, size_t n, uint32_t dim)
{
    if (!ids || !vecs)
        return qvi_fail(c->err, QV_ENULL, "ids or vectors is NULL");
    qv_status mst = qvi_check_multi(c, false, "qv_upsert");
    if (mst != QV_OK)
        return mst;
    for (size_t i = 0; i < n; i++) {
        qv_status st = qvi_check_id(c, &ids[i]);
        if (st == QV_OK)
            st = qvi_check_vector(c, vecs + i * (size_t)dim, dim, "vector");
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

qv_status qv_upsert_batch(qv_collection *c, const qv_point_id *ids,
                          const float *vecs, size_t n, uint32_t dim)
{
    if (!c)
        return QV_ENULL;
    if (n == 0)
        return QV_OK;
    qv_status st = check_batch(c, ids, vecs, n, dim);
    if (st != QV_OK)
        return st;
    qvi_change rec = {.kind = QVI_CHANGE_UPSERT,
                      .ids = ids,
                      .n = n,
                      .dim = dim,
                      .vecs = vecs};
    return qvi_upsert_apply(c, ids, vecs, n, dim, NULL, NULL, &rec, NULL, NULL);
}

qv_status qv_upsert_with_payloads(qv_collection *c, const qv_point_id *ids,
                                  const float *vecs, size_t n, uint32_t dim,
                                  const char *const *payloads,
                                  const size_t *lens)
{
    if (!c)
        return QV_ENULL;
    if (n == 0)
        return QV_OK;
    if (!payloads || !lens)
        return qvi_fail(c->err, QV_ENULL, "payloads or lens is NULL");
    qv_status st = check_batch(c, ids, vecs, n, dim);
    if (st != QV_OK)
        return st;
    uint8_t **blobs;
    size_t *blob_lens;
    st = qvi_payload_batch_encode(c, payloads, lens, n, &blobs, &blob_lens);
    if (st != QV_OK)
        return st;
    qvi_change rec = {.kind = QVI_CHANGE_UPSERT,
                      .ids = ids,
                      .n = n,
                      .dim = dim,
                      .vecs = vecs,
                      .texts = payloads,
                      .text_lens = lens};
    st = qvi_upsert_apply(c, ids, vecs, n, dim, blobs, blob_lens, &rec, NULL,
                          NULL);
    /* Blobs not handed over (after a failed reserve) are still ours; the
     * ones handed over were set to NULL. */
    qvi_payload_batch_free(blobs, blob_lens, n);
    return st;
}

void qvi_delete_slot_locked(qv_collection *c, uint32_t slot)
{
    /* Only a damaged snapshot's id map can name a dead slot; pushing it
     * on the free stack twice would overflow the stack. */
    if (!c->live[slot])
        return;
    qvi_pindexes_remove_slot_locked(c, slot); /* payload indexes */
    qvi_sparse_delete_slot_locked(c, slot);
    qvi_idmap_remove(&c->map, c->ids, &c->ids[slot]);
    c->live[slot] = 0;
    qvi_payload_release(c, c->payloads[slot], c->payload_lens[slot]);
    c->payloads[slot] = NULL;
    c->payload_lens[slot] = 0;
    qvi_index_remove_locked(c, slot);
    if (c->multi) /* after the graph, which never reads the slot's record */
        qvi_multi_clear(c->multi, slot);
    /* The free stack has room for every slot (it is cap long). */
    c->free_slots[c->n_free++] = slot;
    c->count--;
}

qv_status qv_delete(qv_collection *c, const qv_point_id *id)
{
    if (!c)
        return QV_ENULL;
    if (!id)
        return qvi_fail(c->err, QV_ENULL, "id is NULL");
    qv_status st = qvi_check_id(c, id);
    if (st != QV_OK)
        return st;
    qvi_change rec = {.kind = QVI_CHANGE_DELETE, .ids = id, .n = 1};
    uint64_t lsn = 0;
    pthread_mutex_lock(&c->graph_mu); /* a graph write (core.h) */
    pthread_rwlock_wrlock(&c->lock);
    uint32_t slot;
    bool found = qvi_idmap_find(&c->map, c->ids, id, &slot);
    if (found)
        st = qvi_change_log_locked(c, &rec, &lsn);
    if (found && st == QV_OK)
        qvi_delete_slot_locked(c, slot);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    if (!found)
        return qvi_fail_not_found(c, id);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

/* Ascending slots, so that repeated ids (one slot) end up side by side. */
static int cmp_slot(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * One change for many ids: the present ones are found, sorted and
 * de-duplicated by slot, logged as ONE delete record (their ids, in slot
 * order: replay deletes the same set, and the order of deletions does not
 * change the state but the free stack's order, which replay reproduces
 * because it runs this same function on the same list), then removed.
 */
qv_status qv_delete_batch(qv_collection *c, const qv_point_id *ids, size_t n,
                          uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!c)
        return QV_ENULL;
    if (!ids && n)
        return qvi_fail(c->err, QV_ENULL, "ids is NULL");
    for (size_t i = 0; i < n; i++) {
        qv_status st = qvi_check_id(c, &ids[i]);
        if (st != QV_OK)
            return st;
    }
    if (n == 0)
        return QV_OK;
    uint32_t *slots = malloc(n * sizeof(*slots));
    qv_point_id *found = malloc(n * sizeof(*found));
    qv_status st = QV_OK;
    uint64_t lsn = 0;
    size_t m = 0;
    if (!slots || !found) {
        st =
            qvi_fail(c->err, QV_ENOMEM, "cannot allocate %zu ids to delete", n);
        goto cleanup;
    }
    pthread_mutex_lock(&c->graph_mu); /* a graph write (core.h) */
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        uint32_t slot;
        if (qvi_idmap_find(&c->map, c->ids, &ids[i], &slot))
            slots[m++] = slot;
    }
    qsort(slots, m, sizeof(*slots), cmp_slot);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || slots[u - 1] != slots[i])
            slots[u++] = slots[i];
    m = u;
    for (size_t i = 0; i < m; i++)
        found[i] = c->ids[slots[i]];
    qvi_change rec = {.kind = QVI_CHANGE_DELETE, .ids = found, .n = m};
    if (m)
        st = qvi_change_log_locked(c, &rec, &lsn);
    for (size_t i = 0; st == QV_OK && i < m; i++)
        qvi_delete_slot_locked(c, slots[i]);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    if (st == QV_OK)
        st = qvi_change_commit(c, lsn);
    /* Applied in memory even when the commit failed (QV_EIO): report the
     * count only for an acknowledged change. */
    if (st == QV_OK && deleted)
        *deleted = m;
cleanup:
    free(slots);
    free(found);
    return st;
}

/* ---- reads --------------------------------------------------------------- */

qv_status qv_get(qv_collection *c, const qv_point_id *id, float *out,
                 uint32_t dim)
{
    if (!c)
        return QV_ENULL;
    if (!id || !out)
        return qvi_fail(c->err, QV_ENULL, "id or output is NULL");
    qv_status st = qvi_check_id(c, id);
    if (st == QV_OK)
        st = qvi_refuse_sparse(c);
    if (st == QV_OK)
        st = qvi_check_multi(c, false, "qv_get");
    if (st != QV_OK)
        return st;
    if (dim != c->cfg.dim)
        return qvi_fail(c->err, QV_EDIM,
                        "output has room for %u floats, the collection has "
                        "%u dimensions",
                        dim, c->cfg.dim);
    pthread_rwlock_rdlock(&c->lock);
    uint32_t slot;
    bool found = qvi_idmap_find(&c->map, c->ids, id, &slot);
    if (found)
        qvi_row_read(c, slot, out);
    pthread_rwlock_unlock(&c->lock);
    return found ? QV_OK : qvi_fail_not_found(c, id);
}

qv_status qv_contains(qv_collection *c, const qv_point_id *id, bool *out)
{
    if (!c)
        return QV_ENULL;
    if (!id || !out)
        return qvi_fail(c->err, QV_ENULL, "id or output is NULL");
    qv_status st = qvi_check_id(c, id);
    if (st != QV_OK)
        return st;
    uint32_t slot;
    pthread_rwlock_rdlock(&c->lock);
    *out = qvi_idmap_find(&c->map, c->ids, id, &slot);
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}

qv_status qv_count(qv_collection *c, uint64_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    pthread_rwlock_rdlock(&c->lock);
    *out = c->count;
    pthread_rwlock_unlock(&c->lock);
    atomic_store_explicit(&c->count_seen, *out, memory_order_relaxed);
    return QV_OK;
}

qv_status qv_count_approx(qv_collection *c, uint64_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    if (pthread_rwlock_tryrdlock(&c->lock) != 0) {
        *out = atomic_load_explicit(&c->count_seen, memory_order_relaxed);
        return QV_OK;
    }
    *out = c->count;
    pthread_rwlock_unlock(&c->lock);
    atomic_store_explicit(&c->count_seen, *out, memory_order_relaxed);
    return QV_OK;
}
