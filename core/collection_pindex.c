/*
 * collection_pindex.c -- the payload indexes of a collection: create, drop,
 * list, define for a snapshot loader, rebuild, the write hooks the
 * collection calls around every payload change, and where each slot's
 * payload blob comes from.
 *
 * The indexes themselves live in core/pindex/, which never sees a
 * collection: this file hands it the collection's set (c->pindexes, made
 * on the first create), the blob of a slot and, for a pass over every
 * point, a qvi_pindex_source over the collection's live bytes and blobs.
 *
 * Creating builds the index from the current payloads under the write lock
 * (readers wait: for a million points, a fraction of a second), logs it
 * once built (so a failed build logs nothing) and publishes it only when
 * the log append succeeded, so a failed create changes nothing.  Creating
 * an index of the kind already on the key is a no-op, as Qdrant's create
 * is idempotent; another kind replaces it.  Drop logs before it frees.
 *
 * Blobs.  A blob borrowed from a snapshot that was opened without
 * verification is validated on first use (qvi_slot_payload); a damaged one
 * reads as NULL, so it matches nothing and indexes nothing.
 *
 * Locking: create, drop, define, rebuild and the hooks run under the
 * collection's write lock (the _locked ones expect the caller to hold it);
 * list and the query side (search/candidates.c, search/scroll_order.c,
 * through qvi_pindex_set_find on c->pindexes) under its read lock.
 */
#include "core/core.h"
#include "core/pindex/pindex.h"

#include <string.h>

const uint8_t *qvi_slot_payload(const qv_collection *c, uint32_t slot)
{
    const uint8_t *blob = c->payloads[slot];
    if (!blob)
        return c->empty_payload;
    /* A blob from an unverified snapshot is validated on first use; a
     * damaged one is NULL: it matches nothing and indexes nothing. */
    if (c->backing && qvi_backing_contains(c->backing, blob) &&
        !qvi_backing_blob_ok(c->backing, slot, blob, c->payload_lens[slot]))
        return NULL;
    return blob;
}

static const uint8_t *source_blob(const void *ctx, uint32_t slot)
{
    return qvi_slot_payload(ctx, slot);
}

/* The collection's payloads as the indexes read them in a full pass.
 * Valid while the caller holds the lock and nothing is written. */
static qvi_pindex_source source_of(const qv_collection *c)
{
    return (qvi_pindex_source){.live = c->live,
                               .used = c->used,
                               .count = c->count,
                               .blob = source_blob,
                               .ctx = c};
}

/* c's set of indexes, made on first use; NULL when out of memory. */
static qvi_pindex_set *set_of(qv_collection *c)
{
    if (!c->pindexes)
        c->pindexes = calloc(1, sizeof(qvi_pindex_set));
    return c->pindexes;
}

void qvi_pindexes_destroy(qv_collection *c)
{
    qvi_pindex_set_free(c->pindexes);
    c->pindexes = NULL;
}

static qv_status check_kind(qv_collection *c, qv_index_kind kind)
{
    if ((unsigned)kind >= QV_INDEX_KIND_COUNT)
        return qvi_fail(c->err, QV_EINVAL, "unknown payload index kind %d",
                        (int)kind);
    return QV_OK;
}

qv_status qvi_payload_index_define_locked(qv_collection *c, const char *key,
                                          qv_index_kind kind,
                                          const uint8_t *opts, size_t len)
{
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_pindex *ix;
    qvi_text_opts *text = NULL;
    qv_status st = check_kind(c, kind);
    if (st != QV_OK)
        return st;
    if (opts && kind != QV_INDEX_TEXT)
        return qvi_fail(c->err, QV_EINVAL, "options on a %s index",
                        qv_index_kind_name(kind));
    if (opts && (st = qvi_text_opts_decode(opts, len, &text, err,
                                           sizeof(err))) != QV_OK)
        return qvi_fail(c->err, st == QV_ECORRUPT ? QV_EINVAL : st,
                        "payload index options: %s", err);
    st = qvi_pindex_new(key, kind, &ix, err, sizeof(err));
    if (st != QV_OK) {
        qvi_text_opts_unref(text);
        return qvi_fail(c->err, st, "payload index key: %s",
                        st == QV_EINVAL ? err : "out of memory");
    }
    ix->text = text;
    qvi_pindex_set *s = set_of(c);
    if (s) {
        st = qvi_pindex_set_put(s, ix);
    } else {
        qvi_pindex_free(ix);
        st = QV_ENOMEM;
    }
    if (st != QV_OK)
        return qvi_fail(c->err, st, "cannot register a payload index");
    return QV_OK;
}

qv_status qvi_payload_indexes_rebuild_locked(qv_collection *c, bool only_stale)
{
    qvi_pindex_source src = source_of(c);
    return qvi_pindex_set_rebuild(c->pindexes, only_stale, &src);
}

/* ---- write hooks -------------------------------------------------------- */

void qvi_pindexes_remove_slot_locked(qv_collection *c, uint32_t slot)
{
    qvi_pindex_set *s = c->pindexes;
    if (!s || s->n == 0)
        return;
    qvi_pindex_set_remove_slot(s, qvi_slot_payload(c, slot), slot);
}

void qvi_pindexes_add_slot_locked(qv_collection *c, uint32_t slot)
{
    qvi_pindex_set *s = c->pindexes;
    if (!s || s->n == 0)
        return;
    qvi_pindex_source src = source_of(c);
    qvi_pindex_set_add_slot(s, qvi_slot_payload(c, slot), slot, &src);
}

/* ---- the public functions ----------------------------------------------- */

/* True when the index at `at` of c's set is kind with options opts: the
 * create is then Qdrant's idempotent no-op. */
static bool same_index_locked(const qv_collection *c, int at,
                              qv_index_kind kind, const qvi_text_opts *opts)
{
    if (at < 0)
        return false;
    const qvi_pindex *old = c->pindexes->v[at];
    return old->kind == kind &&
           (kind != QV_INDEX_TEXT || qvi_text_opts_equal(old->text, opts));
}

/* Creates an index of kind on key; a full-text one with opts (taken over,
 * whatever happens; NULL: the defaults). */
static qv_status create_index(qv_collection *c, const char *key,
                              qv_index_kind kind, qvi_text_opts *opts)
{
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_pindex *ix;
    qv_status st = qvi_pindex_new(key, kind, &ix, err, sizeof(err));
    if (st != QV_OK) {
        qvi_text_opts_unref(opts);
        if (st == QV_EINVAL)
            return qvi_fail(c->err, st, "payload index: %s", err);
        return qvi_fail(c->err, st, "cannot allocate a payload index");
    }
    ix->text = opts;
    /* Logged once built (so a failed build logs nothing) and before it is
     * published, so a failed append changes nothing.  Options travel as
     * their encoding (core/text/text_opts.c). */
    const char *name = qv_index_kind_name(kind);
    size_t opts_len = 0;
    uint8_t *enc = opts ? qvi_text_opts_encode(opts, &opts_len) : NULL;
    qvi_change rec = {.kind = QVI_CHANGE_INDEX_CREATE,
                      .key = key,
                      .index_kind = name,
                      .index_kind_len = strlen(name),
                      .index_opts = enc,
                      .index_opts_len = opts_len};
    uint64_t lsn = 0;
    if (opts && !enc) {
        qvi_pindex_free(ix);
        return qvi_fail(c->err, QV_ENOMEM, "out of memory");
    }
    pthread_rwlock_wrlock(&c->lock);
    int at = qvi_pindex_set_index_of(c->pindexes, ix);
    if (same_index_locked(c, at, kind, opts))
        goto unlock; /* already there: Qdrant's create is idempotent */
    qvi_pindex_set *s = set_of(c);
    qvi_pindex_source src = source_of(c);
    st = s ? qvi_pindex_build(s, ix, &src) : QV_ENOMEM;
    if (st == QV_OK)
        st = qvi_change_log_locked(c, &rec, &lsn);
    if (st == QV_OK) {
        st = qvi_pindex_set_put(s, ix);
        ix = NULL; /* the set owns it now, or freed it when it failed */
    }
unlock:
    pthread_rwlock_unlock(&c->lock);
    qvi_pindex_free(ix);
    free(enc);
    if (st == QV_ENOMEM)
        return qvi_fail(c->err, st,
                        "cannot build the %s index on \"%s\": "
                        "out of memory",
                        name, key);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

qv_status qv_payload_index_create(qv_collection *c, const char *key,
                                  qv_index_kind kind)
{
    if (!c)
        return QV_ENULL;
    if (!key)
        return qvi_fail(c->err, QV_ENULL, "key is NULL");
    qv_status st = check_kind(c, kind);
    if (st != QV_OK)
        return st;
    return create_index(c, key, kind, NULL);
}

qv_status qv_payload_index_create_text(qv_collection *c, const char *key,
                                       const qv_text_index_options *o)
{
    if (!c)
        return QV_ENULL;
    if (!key || !o)
        return qvi_fail(c->err, QV_ENULL, "%s is NULL", key ? "o" : "key");
    char err[256];
    qvi_text_opts *opts;
    qv_status st = qvi_text_opts_new(o, &opts, err, sizeof(err));
    if (st == QV_EINVAL)
        return qvi_fail(c->err, st, "text index: %s", err);
    if (st != QV_OK)
        return qvi_fail(c->err, st, "out of memory");
    return create_index(c, key, QV_INDEX_TEXT, opts);
}

qv_status qvi_payload_index_create_encoded(qv_collection *c, const char *key,
                                           qv_index_kind kind,
                                           const uint8_t *opts, size_t len)
{
    if (!opts)
        return qv_payload_index_create(c, key, kind);
    char err[256];
    qvi_text_opts *t;
    qv_status st = kind == QV_INDEX_TEXT
                       ? qvi_text_opts_decode(opts, len, &t, err, sizeof(err))
                       : QV_ECORRUPT;
    if (st != QV_OK)
        return qvi_fail(c->err, st, "payload index options: %s",
                        kind == QV_INDEX_TEXT ? err : "not a text index");
    return create_index(c, key, kind, t);
}

qv_status qv_payload_index_text_params(qv_collection *c, const char *key,
                                       char **json)
{
    if (!c)
        return QV_ENULL;
    if (!key || !json)
        return qvi_fail(c->err, QV_ENULL, "argument is NULL");
    *json = NULL;
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_pindex *like;
    qv_status st =
        qvi_pindex_new(key, QV_INDEX_KEYWORD, &like, err, sizeof(err));
    if (st == QV_EINVAL)
        return qvi_fail(c->err, st, "payload index: %s", err);
    if (st != QV_OK)
        return qvi_fail(c->err, st, "out of memory");
    pthread_rwlock_rdlock(&c->lock);
    int at = qvi_pindex_set_index_of(c->pindexes, like);
    if (at < 0 || c->pindexes->v[at]->kind != QV_INDEX_TEXT)
        st = qvi_fail(c->err, QV_ENOTFOUND, "no full-text index on \"%s\"",
                      like->key);
    else if (!(*json = qvi_text_opts_json(c->pindexes->v[at]->text)))
        st = qvi_fail(c->err, QV_ENOMEM, "out of memory");
    pthread_rwlock_unlock(&c->lock);
    qvi_pindex_free(like);
    return st;
}

qv_status qv_payload_index_drop(qv_collection *c, const char *key)
{
    if (!c)
        return QV_ENULL;
    if (!key)
        return qvi_fail(c->err, QV_ENULL, "key is NULL");
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_pindex *like;
    qv_status st =
        qvi_pindex_new(key, QV_INDEX_KEYWORD, &like, err, sizeof(err));
    if (st == QV_EINVAL)
        return qvi_fail(c->err, st, "payload index: %s", err);
    if (st != QV_OK)
        return qvi_fail(c->err, st, "out of memory");
    uint64_t lsn = 0;
    pthread_rwlock_wrlock(&c->lock);
    int at = qvi_pindex_set_index_of(c->pindexes, like);
    if (at < 0) {
        st = qvi_fail(c->err, QV_ENOTFOUND, "no payload index on \"%s\"",
                      like->key);
        goto unlock;
    }
    qvi_change rec = {.kind = QVI_CHANGE_INDEX_DROP, .key = key};
    st = qvi_change_log_locked(c, &rec, &lsn);
    if (st == QV_OK)
        qvi_pindex_set_remove(c->pindexes, (uint32_t)at);
unlock:
    pthread_rwlock_unlock(&c->lock);
    qvi_pindex_free(like);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

qv_status qv_payload_index_list(qv_collection *c, qv_payload_index_info **out,
                                size_t *n_out)
{
    if (!c)
        return QV_ENULL;
    if (!out || !n_out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    *out = NULL;
    *n_out = 0;
    pthread_rwlock_rdlock(&c->lock);
    const qvi_pindex_set *s = c->pindexes;
    qvi_pindex_source src = source_of(c);
    uint32_t n = s ? s->n : 0;
    size_t bytes = (size_t)n * sizeof(qv_payload_index_info) + 1;
    for (uint32_t i = 0; i < n; i++)
        bytes += strlen(s->v[i]->key) + 1;
    qv_payload_index_info *info = malloc(bytes);
    if (!info) {
        pthread_rwlock_unlock(&c->lock);
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate the index list");
    }
    char *text = (char *)(info + n);
    for (uint32_t i = 0; i < n; i++) {
        const qvi_pindex *ix = s->v[i];
        size_t len = strlen(ix->key) + 1;
        memcpy(text, ix->key, len);
        info[i].key = text;
        info[i].kind = ix->kind;
        info[i].points =
            ix->stale ? qvi_pindex_count_points(ix, &src) : ix->points;
        info[i].bytes = qvi_pindex_bytes(ix);
        text += len;
    }
    pthread_rwlock_unlock(&c->lock);
    *out = info;
    *n_out = n;
    return QV_OK;
}
