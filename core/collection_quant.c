/*
 * collection_quant.c -- a collection's quantized codes: kept in step with
 * its vectors, walked by graph searches, rescored with the floats,
 * restored from a snapshot, and replaced by qv_collection_set_quantization.
 *
 * When codes are made
 * -------------------
 * The codes follow every write through qvi_index_update_locked (upserts)
 * and are rebuilt whole when the quantization changes, or when a
 * collection is loaded from a file that did not keep them (a WAL replay,
 * a snapshot of an older build).  int8, product and the 1.5/2-bit binary
 * encodings need training data (core/quant/quant.h, "Training"); they
 * train on the points present at the first write and retrain,
 * re-encoding every point, each time the collection has doubled since,
 * until a training sample is full (qvi_quant_train_max vectors; 8,192
 * for product's k-means): doubling keeps the re-encoding cost O(1) per
 * point, amortised, and the range (or codebooks) track the data while it
 * is small and still changing.  A write only flags the training; its
 * upsert runs it after releasing the write lock (qvi_quant_retrain_deferred:
 * product k-means takes about a second at dim 128 with a full sample, see
 * quant_pq.c), so searches go on with the old codes meanwhile, as during a
 * PATCH.  Deleted slots keep
 * stale codes, which no search reads: the graph never returns a removed slot.
 *
 * Searches (Qdrant's `params.quantization`)
 * -----------------------------------------
 * A graph search on a quantized collection walks the codes unless
 * quant_ignore, keeps floor(k * oversampling) candidates (at least k;
 * Qdrant's get_oversampled_top), and when rescoring -- by default for
 * binary codes, not for int8, as Qdrant's default_rescoring -- computes
 * their float distances and returns the best k with float scores.
 * Without rescoring the code distances give the scores (approximate for
 * int8, orders for binary: see quant_binary.c).  Exact scans, including the
 * ones the planner picks for selective filters, read the floats.
 *
 * Durability: qv_collection_set_quantization logs its config (WAL kind
 * 40) under the write lock like any write; snapshots keep the config in
 * section 64 and, when the codes are trained and sound, the trained state,
 * the training count (quant_trained_on) and the codes in sections 65-67
 * (persist/snapshot_quant.c).  An open of such a file trains nothing: the
 * loader restores the quantizer with its codes borrowed from the mapping
 * (core/quant/quant_state.c) and qvi_quant_adopt_locked installs it, so
 * the opened collection holds the same codes as the saved one and makes
 * the same retraining decisions after it; without those sections (older
 * files) the open trains and encodes as a PATCH would.  A replayed log
 * rebuilds the codes as its writes did.
 *
 * Locking: every function here runs under the collection's lock as its
 * name says (searches shared, the rest exclusive); the quantizer has no
 * lock of its own.  qv_collection_set_quantization builds the new codes
 * under the shared lock, so searches keep using the old ones meanwhile,
 * and swaps them in under the write lock (see there).
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/quant/quant.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static qvi_quant_params params_of(const qv_collection_config *cfg)
{
    qvi_quant_params p = {.kind = cfg->quantization,
                          .quantile = cfg->quant_quantile,
                          .encoding = cfg->quant_encoding,
                          .query_encoding = cfg->quant_query_encoding};
    return p;
}

qv_status qvi_quant_attach(qv_collection *c)
{
    c->quant = NULL;
    c->quant_ok = false;
    c->quant_trained_on = 0;
    if (c->cfg.quantization == QV_QUANTIZATION_NONE)
        return QV_OK;
    qvi_quant_params p = params_of(&c->cfg);
    return qvi_quant_create(&p, c->cfg.dim, c->cfg.metric, &c->quant);
}

void qvi_quant_detach(qv_collection *c)
{
    qvi_quant_free(c->quant);
    c->quant = NULL;
    c->quant_ok = false;
}

/* Binary codes of uint8 vectors: Qdrant encodes x - 127 rather than x
 * (quantization_preprocess in lib/segment/src/data_types/primitive.rs),
 * or every bit of a one-bit code would be set.  Only the one-bit encoding
 * needs it: the others compare each component with its trained mean,
 * which a shift does not change.  True when c's codes take shifted
 * input. */
static bool shifted_u8(const qv_collection *c, const qvi_quant *q)
{
    return c->cfg.datatype == QV_DATATYPE_UINT8 &&
           c->cfg.metric != QV_METRIC_COSINE && q &&
           q->p.kind == QV_QUANTIZATION_BINARY &&
           q->p.encoding == QV_BINARY_ONE_BIT;
}

/* What the codes are made from: the floats v, or (shifted_u8) v - 127 in
 * tmp (dim floats; NULL when not shifted), or for uint8 under cosine v
 * normalised in tmp: the rows are kept unnormalised and scored by their
 * cosine (core/base/base.h, qvi_byte_cosine), which the codes' dot
 * products approximate only on unit vectors; candidates are then
 * rescored with the bytes' exact cosine. */
static const float *code_input(const qv_collection *c, const qvi_quant *q,
                               const float *v, float *tmp)
{
    if (qvi_byte_cosine(c->cfg.metric, c->cfg.datatype)) {
        if (v != tmp)
            memcpy(tmp, v, c->cfg.dim * sizeof(float));
        qvi_simd()->normalize(tmp, c->cfg.dim);
        return tmp;
    }
    if (!shifted_u8(c, q))
        return v;
    for (uint32_t j = 0; j < c->cfg.dim; j++)
        tmp[j] = v[j] - 127.0f;
    return tmp;
}

/* code_input of slot s's row: narrow rows are decoded into tmp first
 * (codes are made from floats, the converted values). */
static const float *row_input(const qv_collection *c, const qvi_quant *q,
                              uint32_t s, float *tmp)
{
    if (!c->narrow)
        return code_input(c, q, qvi_row(c, s), tmp);
    qvi_row_read(c, s, tmp);
    return code_input(c, q, tmp, tmp);
}

/* The scratch row of code_input and row_input for codes q: NULL when not
 * needed, else dim floats (*ok false when that allocation failed). */
static float *code_scratch(const qv_collection *c, const qvi_quant *q, bool *ok)
{
    *ok = true;
    if (!shifted_u8(c, q) && !c->narrow)
        return NULL;
    float *tmp = malloc((size_t)c->cfg.dim * sizeof(float));
    *ok = tmp != NULL;
    return tmp;
}

/* Trains q on c's rows.  Float rows are read in place; narrow ones are
 * decoded first, only the sample a training pass reads
 * (qvi_quant_sample), into a dense float matrix that the training then
 * reads whole: the same vectors in the same order, so the codes equal
 * those of a float32 collection holding the converted values. */
static qv_status train_on_rows(const qv_collection *c, qvi_quant *q)
{
    if (!c->narrow)
        return qvi_quant_train(q, qvi_row(c, 0), c->stride, c->live, c->used);
    size_t max = qvi_quant_train_max(q);
    if (max > c->used)
        max = c->used;
    uint32_t *slots = malloc((max ? max : 1) * sizeof(uint32_t));
    float *mat = NULL;
    uint8_t *ones = NULL;
    qv_status st = QV_ENOMEM;
    if (!slots)
        goto cleanup;
    size_t n = qvi_quant_sample(c->live, c->used, slots, max);
    mat = malloc((n ? n : 1) * (size_t)c->cfg.dim * sizeof(float));
    ones = malloc(n ? n : 1);
    if (!mat || !ones)
        goto cleanup;
    bool unit = qvi_byte_cosine(c->cfg.metric, c->cfg.datatype);
    for (size_t i = 0; i < n; i++) {
        float *row = mat + i * c->cfg.dim;
        qvi_row_read(c, slots[i], row);
        if (unit) /* as code_input makes them */
            qvi_simd()->normalize(row, c->cfg.dim);
        ones[i] = 1;
    }
    st = qvi_quant_train(q, mat, c->cfg.dim, ones, (uint32_t)n);
cleanup:
    free(ones);
    free(mat);
    free(slots);
    return st;
}

/* Trains fresh on c's vectors and encodes every live slot, for
 * set_quantization: reads c only (its caller holds the lock, shared or
 * exclusive).  False when out of memory. */
static bool build_codes(const qv_collection *c, qvi_quant *fresh)
{
    if (qvi_quant_reserve(fresh, c->cap) != QV_OK ||
        train_on_rows(c, fresh) != QV_OK)
        return false;
    bool ok;
    float *tmp = code_scratch(c, fresh, &ok);
    if (!ok)
        return false;
    for (uint32_t s = 0; s < c->used; s++)
        if (c->live[s])
            qvi_quant_encode(fresh, s, row_input(c, fresh, s, tmp));
    free(tmp);
    return true;
}

void qvi_quant_rebuild_locked(qv_collection *c)
{
    qvi_quant *q = c->quant;
    if (!q)
        return;
    c->quant_ok = build_codes(c, q);
    if (c->quant_ok) {
        c->quant_trained_on = c->count;
        c->quant_retrain = false;
    }
}

/* restored fits c: the same quantizer (kind, encoding, dimension,
 * metric) with codes for every slot. */
static bool fits(const qv_collection *c, const qvi_quant *restored)
{
    const qvi_quant *q = c->quant;
    return q && restored->trained && restored->p.kind == q->p.kind &&
           restored->p.encoding == q->p.encoding &&
           restored->p.query_encoding == q->p.query_encoding &&
           restored->dim == q->dim && restored->metric == q->metric &&
           restored->row == q->row && restored->cap == c->cap;
}

void qvi_quant_adopt_locked(qv_collection *c, qvi_quant *restored,
                            uint64_t trained_on)
{
    if (!restored || !fits(c, restored)) {
        qvi_quant_free(restored);
        qvi_quant_rebuild_locked(c);
        return;
    }
    qvi_quant_free(c->quant);
    c->quant = restored;
    c->quant_ok = true;
    c->quant_trained_on = trained_on;
}

/* True when training again would read a larger sample than last time. */
static bool wants_training(const qv_collection *c)
{
    const qvi_quant *q = c->quant;
    if (!q->trained)
        return true;
    if (q->p.kind == QV_QUANTIZATION_BINARY &&
        q->p.encoding == QV_BINARY_ONE_BIT)
        return false; /* nothing to learn */
    return c->count >= 2 * c->quant_trained_on &&
           c->quant_trained_on < qvi_quant_train_max(q);
}

void qvi_quant_update_locked(qv_collection *c, const uint32_t *slots, size_t n)
{
    c->quant_writes++; /* even without codes: set_quantization checks */
    qvi_quant *q = c->quant;
    if (!q)
        return;
    if (!c->quant_ok || !q->trained) {
        /* Nothing to encode with yet: searches read the floats until the
         * deferred training installs codes. */
        c->quant_ok = false;
        c->quant_retrain = true;
        return;
    }
    if (wants_training(c))
        c->quant_retrain = true; /* meanwhile the old training encodes */
    bool ok;
    float *tmp = code_scratch(c, q, &ok);
    if (!ok || qvi_quant_reserve(q, c->cap) != QV_OK) {
        c->quant_ok = false;
        c->quant_retrain = true;
        free(tmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        qvi_quant_encode(q, slots[i], row_input(c, q, slots[i], tmp));
    free(tmp);
}

/*
 * Training with a full sample takes long (product k-means: about a second
 * at dim 128, more at 768), too long to hold the write lock, which would
 * stall every search behind the write that crossed a doubling.  So the
 * write only flags it, and its upsert trains here once the write lock is
 * released, as qv_collection_set_quantization does: fresh codes under the
 * shared lock, the swap under the write lock.  graph_mu keeps upserts and
 * deletes out meanwhile; the write counter still guards the swap, and a
 * quantizer replaced meanwhile (set_quantization takes no graph_mu) wins.
 */
void qvi_quant_retrain_deferred(qv_collection *c)
{
    pthread_rwlock_rdlock(&c->lock);
    const qvi_quant *old = c->quant;
    bool due = old && c->quant_retrain;
    qvi_quant_params p = old ? old->p : (qvi_quant_params){0};
    pthread_rwlock_unlock(&c->lock);
    if (!due)
        return;
    qvi_quant *fresh = NULL;
    if (qvi_quant_create(&p, c->cfg.dim, c->cfg.metric, &fresh) != QV_OK)
        return; /* the next write tries again */
    pthread_rwlock_rdlock(&c->lock);
    uint64_t writes = c->quant_writes;
    uint64_t count = c->count;
    bool built = c->quant == old && build_codes(c, fresh);
    pthread_rwlock_unlock(&c->lock);
    if (built && c->quant_hook)
        c->quant_hook(c->quant_hook_arg);
    pthread_rwlock_wrlock(&c->lock);
    if (c->quant != old) {
        built = false; /* set_quantization replaced the codes */
    } else if (built && c->quant_writes != writes) {
        count = c->count;
        built = build_codes(c, fresh);
    }
    if (built) {
        c->quant = fresh;
        c->quant_ok = true;
        c->quant_trained_on = count;
        c->quant_retrain = false;
        fresh = (qvi_quant *)old;
    }
    pthread_rwlock_unlock(&c->lock);
    qvi_quant_free(fresh);
}

void qvi_quant_set_train_hook(qv_collection *c, void (*fn)(void *arg),
                              void *arg)
{
    pthread_mutex_lock(&c->graph_mu);
    pthread_rwlock_wrlock(&c->lock);
    c->quant_hook = fn;
    c->quant_hook_arg = arg;
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
}

bool qvi_quant_should_use(const qv_collection *c,
                          const qv_search_params *params)
{
    return c->quant && c->quant_ok && !params->quant_ignore;
}

static bool rescoring(const qv_collection *c, const qv_search_params *params)
{
    if (params->quant_rescore == QV_RESCORE_ON)
        return true;
    if (params->quant_rescore == QV_RESCORE_OFF)
        return false;
    return c->quant->p.kind == QV_QUANTIZATION_BINARY; /* not int8, PQ */
}

/* Candidates the code walk keeps: floor(k * oversampling), at least k. */
static uint32_t oversampled(const qv_search_params *params)
{
    double os = params->quant_oversampling;
    double want = os > 1.0 ? floor(os * params->k) : params->k;
    return want > QV_MAX_EF ? QV_MAX_EF : (uint32_t)want;
}

static float code_dist(const void *ctx, uint32_t slot)
{
    return qvi_quant_distance(ctx, slot);
}

qv_status qvi_quant_search_locked(qv_collection *c, const float *q,
                                  const qv_search_params *params,
                                  const qvi_accept *acc, uint32_t ef,
                                  qvi_hnsw_scratch *s, qvi_topk *t)
{
    const qvi_quant *qz = c->quant;
    uint32_t want = oversampled(params);
    uint32_t *slots = malloc(want * sizeof(uint32_t));
    float *dists = malloc(want * sizeof(float));
    uint8_t *qbuf = qvi_alloc_aligned(qvi_quant_query_bytes(qz));
    qv_status st = QV_ENOMEM;
    if (!slots || !dists || !qbuf)
        goto cleanup;
    bool ok;
    float *tmp = code_scratch(c, qz, &ok);
    if (!ok)
        goto cleanup;
    qvi_quant_query qq;
    qvi_quant_prepare(qz, code_input(c, qz, q, tmp), qbuf, &qq);
    free(tmp);
    qvi_hnsw_scorer sc = {.dist = code_dist,
                          .ctx = &qq,
                          .rows = qz->codes,
                          .stride = qz->row,
                          .lines = (unsigned)((qz->row + 63) / 64)};
    size_t n = 0;
    st = qvi_hnsw_search_scored(c->index, &sc, want, ef, acc, s, slots, dists,
                                &n);
    if (st != QV_OK)
        goto cleanup;
    qvi_topk_reset(t);
    bool rescore = rescoring(c, params);
    for (size_t i = 0; i < n; i++) {
        float d = rescore ? qvi_slot_distance(c, q, slots[i]) : dists[i];
        if (t->n < t->k || d < qvi_topk_bound(t))
            qvi_topk_push(t, slots[i], d);
    }
    qvi_topk_sort(t);
cleanup:
    free(qbuf);
    free(dists);
    free(slots);
    return st;
}

/* ---- public ---------------------------------------------------------------
 */

qv_status qvi_quant_config_check(const qv_collection_config *cfg, char *msg,
                                 size_t cap)
{
    if (cfg->quantization == QV_QUANTIZATION_NONE)
        return QV_OK;
    qvi_quant_params p = params_of(cfg);
    return qvi_quant_check(&p, msg, cap);
}

static qv_status check_quantization(qv_collection *c,
                                    const qv_collection_config *cfg)
{
    if (cfg->version > QV_COLLECTION_CONFIG_VERSION)
        return qvi_fail(c->err, QV_EINVAL,
                        "config version %u is newer than this build's %u",
                        cfg->version, (unsigned)QV_COLLECTION_CONFIG_VERSION);
    char msg[QVI_ERRMSG_CAP];
    qv_status st = qvi_quant_config_check(cfg, msg, sizeof(msg));
    return st == QV_OK ? QV_OK : qvi_fail(c->err, st, "%s", msg);
}

/*
 * The codes are built under the shared lock, so searches go on meanwhile
 * (with the old codes) and only writers wait; then the write lock swaps
 * them in.  A write that slipped in between the two locks (the lock cannot
 * be upgraded) changed vectors the fresh codes do not reflect: the
 * write counter tells, and the codes are then built again under the write
 * lock, as they would have been without the first pass.
 */
qv_status qv_collection_set_quantization(qv_collection *c,
                                         const qv_collection_config *cfg)
{
    if (!c)
        return QV_ENULL;
    if (!cfg)
        return qvi_fail(c->err, QV_ENULL, "config is NULL");
    qv_status st = check_quantization(c, cfg);
    if (st != QV_OK)
        return st;
    qvi_quant *fresh = NULL;
    if (cfg->quantization != QV_QUANTIZATION_NONE) {
        qvi_quant_params p = params_of(cfg);
        st = qvi_quant_create(&p, c->cfg.dim, c->cfg.metric, &fresh);
        if (st != QV_OK)
            return qvi_fail(c->err, st, "cannot allocate the quantizer");
    }
    pthread_rwlock_rdlock(&c->lock);
    uint64_t writes = c->quant_writes;
    bool built = !fresh || build_codes(c, fresh);
    void (*hook)(void *) = c->quant_hook;
    void *hook_arg = c->quant_hook_arg;
    pthread_rwlock_unlock(&c->lock);
    if (hook)
        hook(hook_arg);
    pthread_rwlock_wrlock(&c->lock);
    if (built && fresh && c->quant_writes != writes)
        built = build_codes(c, fresh);
    if (!built) {
        pthread_rwlock_unlock(&c->lock);
        qvi_quant_free(fresh);
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate the codes");
    }
    /* Logged like any write (WAL kind 40), so a durable store replays it;
     * a failed append changes nothing. */
    qvi_change rec = {.kind = QVI_CHANGE_QUANT_SET, .quant = cfg};
    uint64_t lsn = 0;
    st = qvi_change_log_locked(c, &rec, &lsn);
    if (st != QV_OK) {
        pthread_rwlock_unlock(&c->lock);
        qvi_quant_free(fresh);
        return st;
    }
    qvi_quant *old = c->quant;
    c->quant = fresh;
    c->quant_ok = fresh != NULL;
    c->quant_trained_on = c->count;
    c->quant_retrain = false;
    c->cfg.quantization = cfg->quantization;
    c->cfg.quant_quantile = cfg->quant_quantile;
    c->cfg.quant_always_ram = cfg->quant_always_ram;
    c->cfg.quant_encoding = cfg->quant_encoding;
    c->cfg.quant_query_encoding = cfg->quant_query_encoding;
    pthread_rwlock_unlock(&c->lock);
    qvi_quant_free(old);
    return qvi_change_commit(c, lsn);
}

qv_status qv_collection_vector_bytes(qv_collection *c, size_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "out is NULL");
    *out = c->row_bytes; /* set at creation, never changes */
    return QV_OK;
}

qv_status qv_collection_code_bytes(qv_collection *c, size_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "out is NULL");
    pthread_rwlock_rdlock(&c->lock);
    *out = c->quant ? qvi_quant_point_bytes(c->quant) : 0;
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}
