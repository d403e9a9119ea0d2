/*
 * payload_api.c -- the public payload and filter functions of a collection.
 *
 * A point's payload is one blob in the compact form of payload.c, owned by
 * its slot (c->payloads[slot]; NULL stands for {}).  Every edit builds a
 * whole new blob outside the lock where it can (parsing and encoding the
 * caller's JSON), then swaps it in under the write lock, so a failed edit
 * changes nothing and readers never see a half-written payload.  Merges
 * and key deletions need the old blob, so they run under the write lock.
 *
 * Filters are compiled by the filter module (filter.h), prepared against
 * the payload indexes (search/candidates.c: candidate points, full-text
 * semantics) and evaluated on blobs through qvi_payload_blob_ops, without
 * decoding them.  Every payload swap goes through the payload indexes'
 * remove and add hooks, so an index always mirrors the payloads.
 *
 * Snapshots: in a collection opened from a snapshot, blobs may lie in the
 * file's mapping (core.h, "backings").  They are never freed, and
 * every read goes through blob_of (or qvi_slot_payload), which validates a
 * mapped blob on its first use: a damaged one matches no filter and makes
 * reads and edits of that point fail with QV_ECORRUPT.
 *
 * Durability (core.h, "changes and the journal"): every edit -- one point's, or
 * a qv_payload_edit_batch of many points and edits, which is ONE record --
 * logs the caller's input (JSON text, key path, keys; for a delete by filter
 * the ids it resolved to) once the edit is known to succeed and before it is
 * swapped in, under the write lock, then waits for the group fsync after
 * unlocking.
 */
#include "core/core.h"
#include "core/filter/filter.h"
#include "core/payload/payload.h"
#include "core/search/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qv_filter {
    qvi_filter *f;
};

qv_status qv_filter_parse(const char *json, size_t len, qv_filter **out,
                          char *err, size_t errcap)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!json)
        return QV_ENULL;
    qv_filter *w = malloc(sizeof(*w));
    if (!w)
        return QV_ENOMEM;
    qv_status st = qvi_filter_parse_text(json, len, &w->f, err, errcap);
    if (st != QV_OK) {
        free(w);
        return st;
    }
    *out = w;
    return QV_OK;
}

void qv_filter_free(qv_filter *f)
{
    if (!f)
        return;
    qvi_filter_free(f->f);
    free(f);
}

const struct qvi_filter *qvi_filter_of(const qv_filter *f)
{
    return f ? f->f : NULL;
}

/* Slot's blob (the empty one for {}), or NULL when it came from a snapshot
 * and fails validation (see qvi_backing_blob_ok). */
static const uint8_t *blob_of(const qv_collection *c, uint32_t slot,
                              size_t *len)
{
    const uint8_t *blob = c->payloads[slot];
    if (!blob) {
        *len = c->empty_payload_len;
        return c->empty_payload;
    }
    *len = c->payload_lens[slot];
    if (c->backing && qvi_backing_contains(c->backing, blob) &&
        !qvi_backing_blob_ok(c->backing, slot, blob, *len))
        return NULL;
    return blob;
}

qv_status qvi_payload_encode_text(const char *text, size_t len, uint8_t **blob,
                                  size_t *blob_len, char *err, size_t errcap)
{
    cJSON *obj = qvi_json_parse_exact(text, len, NULL);
    if (!obj) {
        if (err && errcap)
            snprintf(err, errcap, "payload is not valid JSON");
        return QV_EINVAL;
    }
    qv_status st = qvi_payload_encode(obj, blob, blob_len, err, errcap);
    cJSON_Delete(obj);
    return st;
}

/* ---- edits ------------------------------------------------------------------
 */

/* Validates the id and finds its slot under the write lock the caller
 * takes; records the failure. */
static qv_status find_slot_locked(qv_collection *c, const qv_point_id *id,
                                  uint32_t *slot)
{
    if (!qvi_idmap_find(&c->map, c->ids, id, slot))
        return qvi_fail_not_found(c, id);
    return QV_OK;
}

/* Replaces slot's blob by *blob (taking ownership). */
static void swap_blob_locked(qv_collection *c, uint32_t slot, uint8_t *blob,
                             size_t len)
{
    qvi_pindexes_remove_slot_locked(c, slot);
    qvi_payload_release(c, c->payloads[slot], c->payload_lens[slot]);
    c->payloads[slot] = qvi_blob_intern(c->blob_pool, blob, len);
    c->payload_lens[slot] = blob ? (uint32_t)len : 0;
    qvi_pindexes_add_slot_locked(c, slot);
}

/* Records and returns QV_ECORRUPT for slot's damaged snapshot payload. */
static qv_status fail_corrupt_payload(qv_collection *c, uint32_t slot)
{
    char text[QV_UUID_STRLEN];
    qv_id_format(&c->ids[slot], text, sizeof(text));
    return qvi_fail(c->err, QV_ECORRUPT,
                    "the payload of point %s in the snapshot is corrupt", text);
}

static qv_status check_edit_args(qv_collection *c, const qv_point_id *id)
{
    if (!c)
        return QV_ENULL;
    if (!id)
        return qvi_fail(c->err, QV_ENULL, "id is NULL");
    return qvi_check_id(c, id);
}

qv_status qv_payload_overwrite(qv_collection *c, const qv_point_id *id,
                               const char *json, size_t len)
{
    qv_status st = check_edit_args(c, id);
    if (st != QV_OK)
        return st;
    if (!json)
        return qvi_fail(c->err, QV_ENULL, "payload is NULL");
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    char err[QVI_ERRMSG_CAP];
    st = qvi_payload_encode_text(json, len, &blob, &blob_len, err, sizeof(err));
    if (st != QV_OK)
        return qvi_fail(c->err, st, "%s", err);
    uint32_t slot;
    uint64_t lsn = 0;
    qvi_change rec = {.kind = QVI_CHANGE_PAYLOAD_OVERWRITE,
                      .ids = id,
                      .n = 1,
                      .json = json,
                      .json_len = len};
    pthread_rwlock_wrlock(&c->lock);
    st = find_slot_locked(c, id, &slot);
    if (st == QV_OK)
        st = qvi_change_log_locked(c, &rec, &lsn);
    if (st == QV_OK) {
        swap_blob_locked(c, slot, blob, blob_len);
        blob = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    free(blob);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

/* An edit that derives a new blob from the old one (merge, key deletion). */
typedef qv_status (*blob_edit)(const uint8_t *old, size_t old_len,
                               const void *arg, uint8_t **blob, size_t *len,
                               char *err, size_t errcap);

/* Applies edit to point id's payload under the write lock: the new blob
 * replaces the old one only if the edit succeeded and rec was logged. */
static qv_status edit_payload(qv_collection *c, const qv_point_id *id,
                              blob_edit edit, const void *arg, qvi_change *rec)
{
    uint32_t slot;
    uint64_t lsn = 0;
    char err[QVI_ERRMSG_CAP];
    pthread_rwlock_wrlock(&c->lock);
    qv_status st = find_slot_locked(c, id, &slot);
    if (st == QV_OK) {
        size_t old_len, blob_len = 0;
        uint8_t *blob = NULL;
        const uint8_t *old = blob_of(c, slot, &old_len);
        if (!old) {
            st = fail_corrupt_payload(c, slot);
        } else {
            st = edit(old, old_len, arg, &blob, &blob_len, err, sizeof(err));
            if (st != QV_OK)
                qvi_fail(c->err, st, "%s", err);
            else if ((st = qvi_change_log_locked(c, rec, &lsn)) != QV_OK)
                free(blob);
            else
                swap_blob_locked(c, slot, blob, blob_len);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

typedef struct merge_arg {
    const cJSON *set;
    const char *key;
} merge_arg;

static qv_status merge_edit(const uint8_t *old, size_t old_len, const void *arg,
                            uint8_t **blob, size_t *len, char *err,
                            size_t errcap)
{
    const merge_arg *m = arg;
    return qvi_payload_merge(old, old_len, m->set, m->key, blob, len, err,
                             errcap);
}

typedef struct keys_arg {
    const char *const *keys;
    size_t n;
} keys_arg;

static qv_status delete_edit(const uint8_t *old, size_t old_len,
                             const void *arg, uint8_t **blob, size_t *len,
                             char *err, size_t errcap)
{
    const keys_arg *k = arg;
    return qvi_payload_delete_keys(old, old_len, k->keys, k->n, blob, len, err,
                                   errcap);
}

qv_status qv_payload_set(qv_collection *c, const qv_point_id *id,
                         const char *json, size_t len, const char *key)
{
    qv_status st = check_edit_args(c, id);
    if (st != QV_OK)
        return st;
    if (!json)
        return qvi_fail(c->err, QV_ENULL, "payload is NULL");
    cJSON *set = qvi_json_parse_exact(json, len, NULL);
    if (!set)
        return qvi_fail(c->err, QV_EINVAL, "payload is not valid JSON");
    if (!cJSON_IsObject(set)) {
        cJSON_Delete(set);
        return qvi_fail(c->err, QV_EINVAL, "payload is not a JSON object");
    }
    merge_arg m = {.set = set, .key = key};
    qvi_change rec = {.kind = QVI_CHANGE_PAYLOAD_SET,
                      .ids = id,
                      .n = 1,
                      .json = json,
                      .json_len = len,
                      .key = key};
    st = edit_payload(c, id, merge_edit, &m, &rec);
    cJSON_Delete(set);
    return st;
}

qv_status qv_payload_delete_keys(qv_collection *c, const qv_point_id *id,
                                 const char *const *keys, size_t n)
{
    qv_status st = check_edit_args(c, id);
    if (st != QV_OK)
        return st;
    if (!keys && n)
        return qvi_fail(c->err, QV_ENULL, "keys is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!keys[i])
            return qvi_fail(c->err, QV_ENULL, "key %zu is NULL", i);
    }
    keys_arg k = {.keys = keys, .n = n};
    qvi_change rec = {.kind = QVI_CHANGE_PAYLOAD_DELETE_KEYS,
                      .ids = id,
                      .n = 1,
                      .keys = keys,
                      .n_keys = n};
    return edit_payload(c, id, delete_edit, &k, &rec);
}

qv_status qv_payload_clear(qv_collection *c, const qv_point_id *id)
{
    qv_status st = check_edit_args(c, id);
    if (st != QV_OK)
        return st;
    uint32_t slot;
    uint64_t lsn = 0;
    qvi_change rec = {.kind = QVI_CHANGE_PAYLOAD_CLEAR, .ids = id, .n = 1};
    pthread_rwlock_wrlock(&c->lock);
    st = find_slot_locked(c, id, &slot);
    if (st == QV_OK)
        st = qvi_change_log_locked(c, &rec, &lsn);
    if (st == QV_OK)
        swap_blob_locked(c, slot, NULL, 0);
    pthread_rwlock_unlock(&c->lock);
    return st == QV_OK ? qvi_change_commit(c, lsn) : st;
}

/* ---- many points, many edits: one change --------------------------------
 *
 * qv_payload_edit_batch is the server's path for set/overwrite/delete/clear
 * payload on a list of points: one lock, one log record
 * (QVI_CHANGE_PAYLOAD_EDIT_BATCH), all or nothing.  Every new blob is built
 * under the write lock before the record is logged (each edit of a point
 * works on the previous edit's result), so once the record is in the log
 * nothing can fail; only then are the blobs swapped in.
 */

/* An edit made ready outside the lock: SET's parsed object, OVERWRITE's
 * encoded blob. */
typedef struct edit_plan {
    const qv_payload_edit *e;
    cJSON *set;
    uint8_t *blob;
    size_t blob_len;
} edit_plan;

static void plans_free(edit_plan *pl, size_t ne)
{
    for (size_t k = 0; pl && k < ne; k++) {
        cJSON_Delete(pl[k].set);
        free(pl[k].blob);
    }
    free(pl);
}

/* Checks edits and prepares them; records the failure on c. */
static qv_status plan_edits(qv_collection *c, const qv_payload_edit *edits,
                            size_t ne, edit_plan **out)
{
    char err[QVI_ERRMSG_CAP];
    edit_plan *pl = calloc(ne, sizeof(*pl));
    qv_status st = QV_OK;
    if (!pl)
        return qvi_fail(c->err, QV_ENOMEM, "cannot allocate %zu edits", ne);
    for (size_t k = 0; st == QV_OK && k < ne; k++) {
        const qv_payload_edit *e = &edits[k];
        pl[k].e = e;
        switch (e->kind) {
        case QV_PAYLOAD_EDIT_SET:
            if (!e->json) {
                st = qvi_fail(c->err, QV_ENULL, "edit %zu: payload is NULL", k);
                break;
            }
            /* exact numbers, as qv_payload_set parses them */
            pl[k].set = qvi_json_parse_exact(e->json, e->len, NULL);
            if (!cJSON_IsObject(pl[k].set))
                st = qvi_fail(c->err, QV_EINVAL,
                              "edit %zu: payload is not a JSON object", k);
            break;
        case QV_PAYLOAD_EDIT_OVERWRITE:
            if (!e->json) {
                st = qvi_fail(c->err, QV_ENULL, "edit %zu: payload is NULL", k);
                break;
            }
            st = qvi_payload_encode_text(e->json, e->len, &pl[k].blob,
                                         &pl[k].blob_len, err, sizeof(err));
            if (st != QV_OK)
                qvi_fail(c->err, st, "edit %zu: %s", k, err);
            break;
        case QV_PAYLOAD_EDIT_DELETE_KEYS:
            if (!e->keys && e->n_keys) {
                st = qvi_fail(c->err, QV_ENULL, "edit %zu: keys is NULL", k);
                break;
            }
            for (size_t i = 0; st == QV_OK && i < e->n_keys; i++)
                if (!e->keys[i])
                    st = qvi_fail(c->err, QV_ENULL, "edit %zu: key %zu is NULL",
                                  k, i);
            break;
        case QV_PAYLOAD_EDIT_CLEAR:
            break;
        default:
            st = qvi_fail(c->err, QV_EINVAL, "edit %zu: unknown kind %d", k,
                          (int)e->kind);
        }
    }
    if (st != QV_OK) {
        plans_free(pl, ne);
        pl = NULL;
    }
    *out = pl;
    return st;
}

/* The blob that edits pl[0..ne) make of old: a new allocation in *out (NULL
 * for {} after a final CLEAR).  Messages to err. */
static qv_status edit_chain(const qv_collection *c, const uint8_t *old,
                            size_t old_len, const edit_plan *pl, size_t ne,
                            uint8_t **out, size_t *out_len, char *err,
                            size_t errcap)
{
    const uint8_t *cur = old;
    size_t cur_len = old_len;
    uint8_t *own = NULL;
    qv_status st = QV_OK;
    for (size_t k = 0; st == QV_OK && k < ne; k++) {
        uint8_t *nb = NULL;
        size_t nl = 0;
        const qv_payload_edit *e = pl[k].e;
        switch (e->kind) {
        case QV_PAYLOAD_EDIT_SET:
            st = qvi_payload_merge(cur, cur_len, pl[k].set, e->key, &nb, &nl,
                                   err, errcap);
            break;
        case QV_PAYLOAD_EDIT_OVERWRITE:
            nl = pl[k].blob_len;
            if ((nb = malloc(nl ? nl : 1)) != NULL)
                memcpy(nb, pl[k].blob, nl);
            else
                st = QV_ENOMEM;
            break;
        case QV_PAYLOAD_EDIT_DELETE_KEYS:
            st = qvi_payload_delete_keys(cur, cur_len, e->keys, e->n_keys, &nb,
                                         &nl, err, errcap);
            break;
        case QV_PAYLOAD_EDIT_CLEAR:
            break;
        }
        if (st != QV_OK)
            break;
        free(own);
        own = nb;
        cur = nb ? nb : c->empty_payload;
        cur_len = nb ? nl : c->empty_payload_len;
    }
    if (st != QV_OK) {
        if (st == QV_ENOMEM && err && errcap)
            snprintf(err, errcap, "out of memory");
        free(own);
        own = NULL;
        cur_len = 0;
    }
    *out = own;
    *out_len = own ? cur_len : 0;
    return st;
}

qv_status qv_payload_edit_batch(qv_collection *c, const qv_point_id *ids,
                                size_t n, const qv_payload_edit *edits,
                                size_t n_edits)
{
    if (!c)
        return QV_ENULL;
    if ((!ids && n) || !edits)
        return qvi_fail(c->err, QV_ENULL, "ids or edits is NULL");
    if (n_edits == 0)
        return qvi_fail(c->err, QV_EINVAL, "no edits");
    for (size_t i = 0; i < n; i++) {
        qv_status st = qvi_check_id(c, &ids[i]);
        if (st != QV_OK)
            return st;
    }
    edit_plan *pl = NULL;
    qv_status st = plan_edits(c, edits, n_edits, &pl);
    if (st != QV_OK || n == 0) {
        plans_free(pl, n_edits);
        return st;
    }
    uint32_t *slots = malloc(n * sizeof(*slots));
    uint8_t **blobs = calloc(n, sizeof(*blobs));
    size_t *lens = calloc(n, sizeof(*lens));
    uint64_t lsn = 0;
    char err[QVI_ERRMSG_CAP] = "";
    if (!slots || !blobs || !lens) {
        st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate %zu payloads", n);
        goto cleanup;
    }
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; st == QV_OK && i < n; i++) {
        size_t old_len;
        const uint8_t *old;
        if ((st = find_slot_locked(c, &ids[i], &slots[i])) != QV_OK)
            break;
        if (!(old = blob_of(c, slots[i], &old_len))) {
            st = fail_corrupt_payload(c, slots[i]);
            break;
        }
        st = edit_chain(c, old, old_len, pl, n_edits, &blobs[i], &lens[i], err,
                        sizeof(err));
        if (st != QV_OK) {
            char text[QV_UUID_STRLEN];
            qv_id_format(&ids[i], text, sizeof(text));
            qvi_fail(c->err, st, "point %s: %s", text, err);
        }
    }
    qvi_change rec = {.kind = QVI_CHANGE_PAYLOAD_EDIT_BATCH,
                      .ids = ids,
                      .n = n,
                      .edits = edits,
                      .n_edits = n_edits};
    if (st == QV_OK)
        st = qvi_change_log_locked(c, &rec, &lsn);
    for (size_t i = 0; st == QV_OK && i < n; i++) {
        swap_blob_locked(c, slots[i], blobs[i], lens[i]);
        blobs[i] = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    if (st == QV_OK)
        st = qvi_change_commit(c, lsn);
cleanup:
    for (size_t i = 0; blobs && i < n; i++)
        free(blobs[i]);
    free(blobs);
    free(lens);
    free(slots);
    plans_free(pl, n_edits);
    return st;
}

/* ---- reads ------------------------------------------------------------------
 */

qv_status qv_payload_get(qv_collection *c, const qv_point_id *id,
                         const qv_payload_select *sel, char **json, size_t *len)
{
    qv_status st = check_edit_args(c, id);
    if (st != QV_OK)
        return st;
    if (!json || !len)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    qv_payload_select all = {0};
    if (!sel)
        sel = &all;
    if ((sel->n_include && !sel->include) || (sel->n_exclude && !sel->exclude))
        return qvi_fail(c->err, QV_ENULL, "include or exclude list is NULL");
    uint32_t slot;
    pthread_rwlock_rdlock(&c->lock);
    st = find_slot_locked(c, id, &slot);
    if (st == QV_OK) {
        size_t blob_len;
        const uint8_t *blob = blob_of(c, slot, &blob_len);
        if (!blob) {
            st = fail_corrupt_payload(c, slot);
        } else {
            st = qvi_payload_to_json(blob, blob_len, sel->include,
                                     sel->n_include, sel->exclude,
                                     sel->n_exclude, json, len);
            if (st != QV_OK)
                qvi_fail(c->err, st, "cannot write the payload as JSON");
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return st;
}

qv_status qv_payload_bytes(qv_collection *c, uint64_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    uint64_t total = 0;
    pthread_rwlock_rdlock(&c->lock);
    /* payload_lens is NULL in a collection opened from an empty snapshot;
     * a deleted slot's length is 0 (collection.c), live is checked anyway
     * so a reused slot's stale length could never count. */
    for (size_t s = 0; c->payload_lens && s < c->used; s++)
        if (c->live[s])
            total += c->payload_lens[s];
    pthread_rwlock_unlock(&c->lock);
    *out = total;
    return QV_OK;
}

qv_status qv_count_filter(qv_collection *c, const qv_filter *filter,
                          uint64_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    uint64_t n = 0;
    qvi_candidates q;
    pthread_rwlock_rdlock(&c->lock);
    qv_status st = qvi_candidates_prepare_locked(c, qvi_filter_of(filter),
                                                 QVI_CANDIDATES_ALWAYS, &q);
    if (st == QV_OK && q.exact) {
        n = q.n_cand; /* answered by the indexes alone */
    } else if (st == QV_OK) {
        for (uint32_t s = qvi_candidates_next(&q, 0); s != UINT32_MAX;
             s = qvi_candidates_next(&q, s + 1))
            n += qvi_candidates_match(&q, s);
    }
    qvi_candidates_free(&q);
    pthread_rwlock_unlock(&c->lock);
    if (st == QV_OK)
        *out = n;
    return st;
}

/* With a journal: resolves the filter to slots, logs their ids (not the
 * filter: replay must not depend on how filters evaluate), then deletes
 * them.  Write lock held. */
static qv_status delete_filter_logged_locked(qv_collection *c,
                                             const qvi_candidates *q,
                                             uint64_t *n_out, uint64_t *lsn)
{
    size_t n = 0;
    for (uint32_t s = qvi_candidates_next(q, 0); s != UINT32_MAX;
         s = qvi_candidates_next(q, s + 1))
        n += qvi_candidates_match(q, s);
    *n_out = 0;
    if (n == 0)
        return QV_OK;
    uint32_t *slots = malloc(n * sizeof(*slots));
    qv_point_id *ids = malloc(n * sizeof(*ids));
    qv_status st = QV_ENOMEM;
    if (slots && ids) {
        size_t k = 0;
        for (uint32_t s = qvi_candidates_next(q, 0); s != UINT32_MAX;
             s = qvi_candidates_next(q, s + 1)) {
            if (qvi_candidates_match(q, s)) {
                slots[k] = s;
                ids[k++] = c->ids[s];
            }
        }
        qvi_change rec = {.kind = QVI_CHANGE_DELETE_FILTER, .ids = ids, .n = n};
        st = qvi_change_log_locked(c, &rec, lsn);
    } else {
        qvi_fail(c->err, st, "cannot allocate %zu ids to delete", n);
    }
    for (size_t i = 0; st == QV_OK && i < n; i++)
        qvi_delete_slot_locked(c, slots[i]);
    if (st == QV_OK)
        *n_out = n;
    free(slots);
    free(ids);
    return st;
}

qv_status qv_delete_filter(qv_collection *c, const qv_filter *filter,
                           uint64_t *deleted)
{
    if (!c)
        return QV_ENULL;
    if (!filter)
        return qvi_fail(c->err, QV_ENULL, "filter is NULL");
    uint64_t n = 0, lsn = 0;
    qvi_candidates q;
    pthread_mutex_lock(&c->graph_mu); /* a graph write (core.h) */
    pthread_rwlock_wrlock(&c->lock);
    qv_status st =
        qvi_candidates_prepare_locked(c, filter->f, QVI_CANDIDATES_ALWAYS, &q);
    if (st == QV_OK && c->journal) {
        st = delete_filter_logged_locked(c, &q, &n, &lsn);
    } else if (st == QV_OK) {
        /* The candidates are a private bitmap and the filter is evaluated
         * before its point goes: deleting as we walk is safe. */
        for (uint32_t s = qvi_candidates_next(&q, 0); s != UINT32_MAX;
             s = qvi_candidates_next(&q, s + 1)) {
            if (qvi_candidates_match(&q, s)) {
                qvi_delete_slot_locked(c, s);
                n++;
            }
        }
    }
    qvi_candidates_free(&q);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    if (st == QV_OK)
        st = qvi_change_commit(c, lsn);
    if (deleted)
        *deleted = st == QV_OK ? n : 0;
    return st;
}
