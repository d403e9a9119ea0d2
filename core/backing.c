/*
 * backing.c -- the region a loaded collection borrows its arrays from.
 *
 * A loader (persist/snapshot_read.c) maps a file privately and writably,
 * wraps the mapping in a backing whose release callback unmaps it, and
 * hands it to the collection with qvi_collection_adopt_columns.  Core then
 * needs three things from it: whether a pointer is borrowed (so that it is
 * never freed: qvi_free_owned), a memo of which borrowed payload blobs
 * have been validated, and a one-shot flag saying that the graph must be
 * checked in full before its first update.  All three are about memory the
 * collection uses, so they live here and not in the loader.
 *
 * The lazy blob check: a borrowed blob is validated the first time
 * anything reads it; the answer is kept in a byte per slot.  Readers run
 * concurrently under the collection's shared lock, so the byte is read and
 * written atomically; two readers may both validate the same blob, and
 * both store the same answer.  The graph flag is taken under the write
 * lock (it guards an update).
 */
#include "core/core.h"
#include "core/payload/payload.h"

enum { BLOB_UNCHECKED = 0, BLOB_OK = 1, BLOB_BAD = 2 };

struct qvi_backing {
    uint8_t *base;
    size_t len;
    void (*release)(void *arg, void *base, size_t len);
    void *arg;
    /* Per slot < n_blob_state: a BLOB_* value, read and written with
     * __atomic builtins. */
    uint8_t *blob_state;
    uint32_t n_blob_state;
    bool graph_unverified; /* write lock */
};

qvi_backing *qvi_backing_new(void *base, size_t len,
                             void (*release)(void *arg, void *base, size_t len),
                             void *arg)
{
    qvi_backing *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->base = base;
    b->len = len;
    b->release = release;
    b->arg = arg;
    return b;
}

void qvi_backing_free(qvi_backing *b)
{
    if (!b)
        return;
    if (b->release)
        b->release(b->arg, b->base, b->len);
    free(b->blob_state);
    free(b);
}

void *qvi_backing_base(const qvi_backing *b)
{
    return b->base;
}

size_t qvi_backing_len(const qvi_backing *b)
{
    return b->len;
}

bool qvi_backing_contains(const qvi_backing *b, const void *p)
{
    return b && (uintptr_t)p - (uintptr_t)b->base < b->len;
}

qv_status qvi_backing_track_blobs(qvi_backing *b, uint32_t n)
{
    uint8_t *state = calloc(n ? n : 1, 1);
    if (!state)
        return QV_ENOMEM;
    free(b->blob_state);
    b->blob_state = state;
    b->n_blob_state = n;
    return QV_OK;
}

bool qvi_backing_blob_ok(qvi_backing *b, uint32_t slot, const uint8_t *blob,
                         size_t len)
{
    if (slot >= b->n_blob_state) /* no borrowed blob lives there */
        return qvi_payload_validate(blob, len) == QV_OK;
    uint8_t st = __atomic_load_n(&b->blob_state[slot], __ATOMIC_RELAXED);
    if (st == BLOB_UNCHECKED) {
        st = qvi_payload_validate(blob, len) == QV_OK ? BLOB_OK : BLOB_BAD;
        __atomic_store_n(&b->blob_state[slot], st, __ATOMIC_RELAXED);
    }
    return st == BLOB_OK;
}

bool qvi_backing_take_graph_check(qvi_backing *b)
{
    bool r = b->graph_unverified;
    b->graph_unverified = false;
    return r;
}

void qvi_backing_set_graph_unverified(qvi_backing *b, bool v)
{
    b->graph_unverified = v;
}
