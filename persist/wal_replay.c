/*
 * wal_replay.c -- applies decoded log records to a collection.
 *
 * Replay goes through the same public functions that logged the records,
 * on a collection that has no journal yet, so a replayed change follows
 * exactly the code path of the original one: the original input vectors
 * are normalised by the same kernel, payload texts parsed and merged by
 * the same code, and the state comes out bit for bit the same.
 *
 * Each record kind has one entry in a table.  A record that was logged
 * was applied successfully at the time, in the same state, so any failure
 * here means the log and the snapshot disagree: the caller reports it as
 * corruption (except QV_ENOMEM).  A kind this build does not know fails
 * with QV_EFORMAT and a message.
 */
#include "persist/wal.h"

#include <string.h>

typedef qv_status (*replay_fn)(qv_collection *c, const qvi_change *r);

static qv_status replay_upsert(qv_collection *c, const qvi_change *r)
{
    if (r->texts)
        return qv_upsert_with_payloads(c, r->ids, r->vecs, r->n, r->dim,
                                       r->texts, r->text_lens);
    return qv_upsert_batch(c, r->ids, r->vecs, r->n, r->dim);
}

static qv_status replay_sparse_upsert(qv_collection *c, const qvi_change *r)
{
    return qv_sparse_upsert(c, r->ids, r->sparse, r->n, r->texts, r->text_lens);
}

static qv_status replay_multi_upsert(qv_collection *c, const qvi_change *r)
{
    return qv_multi_upsert_batch(c, r->ids, r->n, r->row_counts, r->vecs,
                                 r->dim, r->texts, r->text_lens);
}

/* Every id was present when the delete was logged, once (qv_delete logs
 * one id, qv_delete_batch and qv_delete_filter the distinct ids they
 * removed): one batch call deletes them all under one lock, and a missing
 * one means the log and the snapshot disagree. */
static qv_status replay_delete(qv_collection *c, const qvi_change *r)
{
    uint64_t deleted = 0;
    qv_status st = qv_delete_batch(c, r->ids, r->n, &deleted);
    if (st == QV_OK && deleted != r->n)
        return qvi_collection_fail(c, QV_ECORRUPT,
                                   "delete record: %zu of its %zu points are "
                                   "missing",
                                   r->n - (size_t)deleted, r->n);
    return st;
}

static qv_status replay_overwrite(qv_collection *c, const qvi_change *r)
{
    return qv_payload_overwrite(c, &r->ids[0], r->json, r->json_len);
}

static qv_status replay_set(qv_collection *c, const qvi_change *r)
{
    return qv_payload_set(c, &r->ids[0], r->json, r->json_len, r->key);
}

static qv_status replay_delete_keys(qv_collection *c, const qvi_change *r)
{
    return qv_payload_delete_keys(c, &r->ids[0], r->keys, r->n_keys);
}

static qv_status replay_clear(qv_collection *c, const qvi_change *r)
{
    return qv_payload_clear(c, &r->ids[0]);
}

/* One record for many points and edits (qv_payload_edit_batch). */
static qv_status replay_edit_batch(qv_collection *c, const qvi_change *r)
{
    return qv_payload_edit_batch(c, r->ids, r->n, r->edits, r->n_edits);
}

/* A group's commit marker changes nothing; recovery reads it beforehand
 * (wal_group.c) to decide which group members to apply. */
static qv_status replay_nothing(qv_collection *c, const qvi_change *r)
{
    (void)c;
    (void)r;
    return QV_OK;
}

/* An index record names its kind ("keyword", ...). */
static qv_status replay_index_create(qv_collection *c, const qvi_change *r)
{
    char name[16];
    qv_index_kind kind;
    if (r->index_kind_len == 0 || r->index_kind_len >= sizeof(name))
        return qvi_collection_fail(c, QV_ECORRUPT,
                                   "payload index record: bad kind");
    memcpy(name, r->index_kind, r->index_kind_len);
    name[r->index_kind_len] = 0;
    if (qv_index_kind_parse(name, &kind) != QV_OK)
        return qvi_collection_fail(
            c, QV_ECORRUPT, "payload index record: unknown kind \"%s\"", name);
    return qvi_payload_index_create_encoded(c, r->key, kind, r->index_opts,
                                            r->index_opts_len);
}

static qv_status replay_index_drop(qv_collection *c, const qvi_change *r)
{
    qv_status st = qv_payload_index_drop(c, r->key);
    return st == QV_ENOTFOUND ? QV_OK : st;
}

static qv_status replay_quant_set(qv_collection *c, const qvi_change *r)
{
    return qv_collection_set_quantization(c, r->quant);
}

static qv_status replay_sparse_params(qv_collection *c, const qvi_change *r)
{
    return qv_sparse_set_params(c, r->sparse_cfg);
}

static const replay_fn replay_table[QVI_CHANGE_KIND_COUNT] = {
    [QVI_CHANGE_UPSERT] = replay_upsert,
    [QVI_CHANGE_DELETE] = replay_delete,
    [QVI_CHANGE_DELETE_FILTER] = replay_delete,
    [QVI_CHANGE_PAYLOAD_OVERWRITE] = replay_overwrite,
    [QVI_CHANGE_PAYLOAD_SET] = replay_set,
    [QVI_CHANGE_PAYLOAD_DELETE_KEYS] = replay_delete_keys,
    [QVI_CHANGE_PAYLOAD_CLEAR] = replay_clear,
    [QVI_CHANGE_INDEX_CREATE] = replay_index_create,
    [QVI_CHANGE_INDEX_DROP] = replay_index_drop,
    [QVI_CHANGE_PAYLOAD_EDIT_BATCH] = replay_edit_batch,
    [QVI_CHANGE_GROUP_COMMIT] = replay_nothing,
    [QVI_CHANGE_SPARSE_UPSERT] = replay_sparse_upsert,
    [QVI_CHANGE_SPARSE_PARAMS] = replay_sparse_params,
    [QVI_CHANGE_MULTI_UPSERT] = replay_multi_upsert,
    [QVI_CHANGE_QUANT_SET] = replay_quant_set,
};

qv_status qvi_wal_replay(qv_collection *c, const qvi_change *r)
{
    if (r->kind >= QVI_CHANGE_KIND_COUNT || !replay_table[r->kind])
        return qvi_collection_fail(c, QV_EFORMAT, "unknown record kind %u",
                                   r->kind);
    return replay_table[r->kind](c, r);
}
