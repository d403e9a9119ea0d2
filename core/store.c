/*
 * store.c -- a set of named collections, as the in-memory vector stores
 * that Quiver replaces keep them.
 *
 * A store is a sorted array of (name, collection) pairs behind one mutex.
 * Stores hold a handful of collections, so binary search over a sorted
 * array beats a hash map in both code and speed, and listing is already in
 * name order.  The store owns one reference to each collection; lookups
 * hand out references of their own, so dropping a collection never pulls
 * it from under a thread that is using it.  The mutex is held only for the
 * map operations, never while a collection does work.
 *
 * Durable stores (qv_store_open_dir) have a backend: a directory and the
 * functions that manage it (qvi_store_backend_ops, core.h, implemented by
 * persist/store_dir.c).  Create and drop then also create and remove the
 * collection's directory, under the mutex so that the catalog and the disk
 * change together, and close checkpoints every collection.  An in-memory
 * store has no backend (ops and dir NULL).
 *
 * Lock order: the store mutex, then a collection's lock (the backend's
 * create and drop run under the mutex and take the collection's lock and
 * its journal's mutexes).  Checkpoints run without the store mutex.
 */
#include "core/core.h"
#include "core/payload/payload.h"

#include <stdlib.h>
#include <string.h>

typedef struct store_entry {
    char *name;
    qv_collection *coll;
} store_entry;

struct qv_store {
    pthread_mutex_t mu;
    store_entry *entries; /* sorted by name; protected by mu */
    size_t n, cap;
    qvi_errbuf *err;
    const qvi_store_backend_ops *ops; /* NULL: in memory; set at open */
    void *dir;                        /* the backend, owned; NULL: in memory */
    qvi_blob_pool *blobs;             /* payload blobs shared by the collections
                                         (payload_pool.c); each holds a reference */
};

qv_status qv_store_open(qv_store **out)
{
    return qvi_store_new(NULL, NULL, out);
}

qv_status qvi_store_new(const qvi_store_backend_ops *ops, void *dir,
                        qv_store **out)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    qv_store *s = calloc(1, sizeof(*s));
    if (!s)
        return QV_ENOMEM;
    if (qvi_errbuf_create(&s->err) != QV_OK) {
        free(s);
        return QV_ENOMEM;
    }
    if (qvi_blob_pool_create(&s->blobs) != QV_OK) {
        qvi_errbuf_destroy(s->err);
        free(s);
        return QV_ENOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        qvi_blob_pool_release(s->blobs);
        qvi_errbuf_destroy(s->err);
        free(s);
        return QV_ENOMEM;
    }
    s->ops = ops;
    s->dir = dir;
    *out = s;
    return QV_OK;
}

void qv_store_close(qv_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].name);
        if (s->dir) {
            /* Clean shutdown: everything into the snapshots; a failure
             * leaves the log, which the next open replays. */
            s->ops->close(s->dir, s->entries[i].coll);
        }
        qv_collection_release(s->entries[i].coll);
    }
    free(s->entries);
    if (s->dir)
        s->ops->release(s->dir);
    qvi_blob_pool_release(s->blobs); /* freed with its last collection */
    pthread_mutex_destroy(&s->mu);
    qvi_errbuf_destroy(s->err);
    free(s);
}

qvi_blob_pool *qvi_store_blob_pool(qv_store *s)
{
    return s->blobs;
}

size_t qv_store_errmsg(const qv_store *s, char *buf, size_t cap)
{
    return qvi_errbuf_copy(s ? s->err : NULL, buf, cap);
}

/* Qdrant's rule for new collection names. */
static qv_status check_name(qv_store *s, const char *name)
{
    size_t len = strnlen(name, QV_MAX_NAME + 1);
    if (len == 0 || len > QV_MAX_NAME)
        return qvi_fail(s->err, QV_EINVAL,
                        "collection name must be 1 to %u bytes", QV_MAX_NAME);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return qvi_fail(s->err, QV_EINVAL,
                        "collection name cannot be \".\" or \"..\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || strchr("<>:\"/\\|?*", ch))
            return qvi_fail(s->err, QV_EINVAL,
                            "collection name contains a forbidden character "
                            "(one of < > : \" / \\ | ? * or a control "
                            "character)");
    }
    return QV_OK;
}

/* Index of name, or of where it would be inserted (*found false). */
static size_t find_locked(const qv_store *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(s->entries[mid].name, name);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* a is an existing collection's config (normalised by create: a sparse
 * one has dim 1, dot and its threshold filled in), b the caller's. */
static bool same_config(const qv_collection_config *a,
                        const qv_collection_config *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == QV_VECTOR_SPARSE)
        return a->sparse_modifier == b->sparse_modifier &&
               a->sparse_full_scan_threshold ==
                   (b->sparse_full_scan_threshold
                        ? b->sparse_full_scan_threshold
                        : QV_DEFAULT_SPARSE_FULL_SCAN);
    return a->dim == b->dim && a->metric == b->metric &&
           a->hnsw_m == b->hnsw_m &&
           a->hnsw_ef_construct == b->hnsw_ef_construct &&
           a->full_scan_threshold_kb == b->full_scan_threshold_kb &&
           a->hnsw_seed == b->hnsw_seed &&
           a->max_indexing_threads == b->max_indexing_threads &&
           a->multivector == b->multivector &&
           a->datatype == qvi_config_datatype(b);
}

static qv_status insert_locked(qv_store *s, size_t at, const char *name,
                               qv_collection *coll)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        store_entry *e = realloc(s->entries, cap * sizeof(*e));
        if (!e)
            return QV_ENOMEM;
        s->entries = e;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return QV_ENOMEM;
    memmove(&s->entries[at + 1], &s->entries[at],
            (s->n - at) * sizeof(store_entry));
    s->entries[at].name = copy;
    s->entries[at].coll = coll;
    s->n++;
    return QV_OK;
}

qv_status qvi_store_adopt(qv_store *s, const char *name, qv_collection *c)
{
    qv_status st = check_name(s, name);
    if (st != QV_OK)
        return st;
    st = qvi_collection_set_blob_pool(c, s->blobs);
    if (st != QV_OK)
        return st;
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t at = find_locked(s, name, &found);
    st = found ? QV_EEXIST : insert_locked(s, at, name, c);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Shared body of create and ensure. */
static qv_status create_or_ensure(qv_store *s, const char *name,
                                  const qv_collection_config *cfg,
                                  qv_collection **out, bool *created,
                                  bool ensure)
{
    if (out)
        *out = NULL;
    if (created)
        *created = false;
    if (!s)
        return QV_ENULL;
    if (!name || !cfg)
        return qvi_fail(s->err, QV_ENULL, "name or config is NULL");
    qv_status st = check_name(s, name);
    if (st != QV_OK)
        return st;

    char msg[QVI_ERRMSG_CAP];
    st = qvi_collection_config_check(cfg, msg, sizeof(msg));
    if (st != QV_OK)
        return qvi_fail(s->err, st, "invalid collection config: %s", msg);
    qv_collection *coll = NULL;
    st = qv_collection_create(cfg, &coll);
    if (st != QV_OK)
        return qvi_fail(s->err, st, "cannot create the collection: %s",
                        qv_strerror(st));
    qvi_collection_set_blob_pool(coll, s->blobs); /* new: cannot refuse */

    /* What happened under the mutex; the messages are recorded after it. */
    enum { ADDED, EXISTING, CONFLICT, REFUSED, INSERT_FAILED } outcome;
    qv_collection *have = NULL;
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t at = find_locked(s, name, &found);
    if (found) {
        have = s->entries[at].coll;
        outcome = ensure && same_config(&have->cfg, cfg) ? EXISTING : CONFLICT;
        if (outcome == EXISTING)
            qv_collection_retain(have);
        goto unlock;
    }
    if (s->dir) {
        st = s->ops->create(s->dir, name, coll, s->err);
        if (st != QV_OK) {
            outcome = REFUSED; /* the backend recorded why */
            goto unlock;
        }
    }
    st = insert_locked(s, at, name, coll);
    if (st != QV_OK) {
        if (s->dir && s->ops->drop(s->dir, name, coll, s->err) == QV_OK)
            s->ops->purge(s->dir);
        outcome = INSERT_FAILED;
        goto unlock;
    }
    outcome = ADDED;
    if (out)
        qv_collection_retain(coll);
unlock:
    pthread_mutex_unlock(&s->mu);
    switch (outcome) {
    case ADDED:
        if (out)
            *out = coll;
        if (created)
            *created = true;
        return QV_OK;
    case EXISTING:
        qv_collection_release(coll);
        if (out)
            *out = have;
        else
            qv_collection_release(have);
        return QV_OK;
    case CONFLICT:
        qv_collection_release(coll);
        return qvi_fail(s->err, QV_EEXIST,
                        ensure ? "collection `%s` exists with another config"
                               : "collection `%s` already exists",
                        name);
    case REFUSED:
        qv_collection_release(coll);
        return st;
    case INSERT_FAILED:
    default:
        qv_collection_release(coll);
        return qvi_fail(s->err, st, "cannot add collection `%s`", name);
    }
}

qv_status qv_store_create(qv_store *s, const char *name,
                          const qv_collection_config *cfg, qv_collection **out)
{
    return create_or_ensure(s, name, cfg, out, NULL, false);
}

qv_status qv_store_ensure(qv_store *s, const char *name,
                          const qv_collection_config *cfg, qv_collection **out,
                          bool *created)
{
    return create_or_ensure(s, name, cfg, out, created, true);
}

qv_status qv_store_get(qv_store *s, const char *name, qv_collection **out)
{
    if (out)
        *out = NULL;
    if (!s)
        return QV_ENULL;
    if (!name || !out)
        return qvi_fail(s->err, QV_ENULL, "name or output is NULL");
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t at = find_locked(s, name, &found);
    if (found) {
        *out = s->entries[at].coll;
        qv_collection_retain(*out);
    }
    pthread_mutex_unlock(&s->mu);
    if (!found)
        return qvi_fail(s->err, QV_ENOTFOUND, "collection `%s` doesn't exist",
                        name);
    return QV_OK;
}

qv_status qv_store_drop(qv_store *s, const char *name)
{
    if (!s)
        return QV_ENULL;
    if (!name)
        return qvi_fail(s->err, QV_ENULL, "name is NULL");
    qv_status st = QV_OK;
    pthread_mutex_lock(&s->mu);
    bool found;
    size_t at = find_locked(s, name, &found);
    store_entry gone = {0};
    if (!found)
        goto unlock;
    if (s->dir) {
        st = s->ops->drop(s->dir, name, s->entries[at].coll, s->err);
        if (st != QV_OK)
            goto unlock;
    }
    gone = s->entries[at];
    memmove(&s->entries[at], &s->entries[at + 1],
            (s->n - at - 1) * sizeof(store_entry));
    s->n--;
unlock:
    pthread_mutex_unlock(&s->mu);
    if (!found)
        return qvi_fail(s->err, QV_ENOTFOUND, "collection `%s` doesn't exist",
                        name);
    if (st != QV_OK)
        return st;
    free(gone.name);
    qv_collection_release(gone.coll);
    if (s->dir)
        s->ops->purge(s->dir);
    return QV_OK;
}

qv_status qv_store_checkpoint(qv_store *s)
{
    if (!s)
        return QV_ENULL;
    /* Checkpoint outside the store mutex, as total_points counts. */
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    qv_collection **colls = malloc((n ? n : 1) * sizeof(*colls));
    char **names = malloc((n ? n : 1) * sizeof(*names));
    if (!colls || !names) {
        pthread_mutex_unlock(&s->mu);
        free(colls);
        free(names);
        return qvi_fail(s->err, QV_ENOMEM, "cannot list collections");
    }
    for (size_t i = 0; i < n; i++) {
        colls[i] = s->entries[i].coll;
        names[i] = strdup(s->entries[i].name);
        qv_collection_retain(colls[i]);
    }
    pthread_mutex_unlock(&s->mu);
    qv_status first = QV_OK;
    for (size_t i = 0; i < n; i++) {
        qv_status st = s->dir ? s->ops->checkpoint(s->dir, colls[i]) : QV_OK;
        if (st != QV_OK && first == QV_OK) {
            char why[QVI_ERRMSG_CAP];
            qv_collection_errmsg(colls[i], why, sizeof(why));
            first = qvi_fail(s->err, st, "collection `%s`: %s",
                             names[i] ? names[i] : "?", why);
        }
        qv_collection_release(colls[i]);
        free(names[i]);
    }
    free(colls);
    free(names);
    return first;
}

qv_status qv_store_list(qv_store *s, char ***names_out, size_t *count_out)
{
    if (!s)
        return QV_ENULL;
    if (!names_out || !count_out)
        return qvi_fail(s->err, QV_ENULL, "output is NULL");
    pthread_mutex_lock(&s->mu);
    /* One allocation: the pointer array followed by the strings. */
    size_t bytes = (s->n + 1) * sizeof(char *);
    for (size_t i = 0; i < s->n; i++)
        bytes += strlen(s->entries[i].name) + 1;
    char **names = malloc(bytes);
    if (!names) {
        pthread_mutex_unlock(&s->mu);
        return qvi_fail(s->err, QV_ENOMEM, "cannot list collections");
    }
    char *text = (char *)(names + s->n + 1);
    for (size_t i = 0; i < s->n; i++) {
        size_t len = strlen(s->entries[i].name) + 1;
        memcpy(text, s->entries[i].name, len);
        names[i] = text;
        text += len;
    }
    names[s->n] = NULL;
    *count_out = s->n;
    pthread_mutex_unlock(&s->mu);
    *names_out = names;
    return QV_OK;
}

qv_status qv_store_total_points(qv_store *s, uint64_t *out)
{
    if (!s)
        return QV_ENULL;
    if (!out)
        return qvi_fail(s->err, QV_ENULL, "output is NULL");
    /* Count outside the store mutex: a collection busy with a long write
     * must not stall every other store call. */
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    qv_collection **colls = malloc((n ? n : 1) * sizeof(*colls));
    if (!colls) {
        pthread_mutex_unlock(&s->mu);
        return qvi_fail(s->err, QV_ENOMEM, "cannot count points");
    }
    for (size_t i = 0; i < n; i++) {
        colls[i] = s->entries[i].coll;
        qv_collection_retain(colls[i]);
    }
    pthread_mutex_unlock(&s->mu);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t count = 0;
        qv_count(colls[i], &count);
        total += count;
        qv_collection_release(colls[i]);
    }
    free(colls);
    *out = total;
    return QV_OK;
}

void qv_free(void *ptr)
{
    free(ptr);
}
