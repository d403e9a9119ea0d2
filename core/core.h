/*
 * core.h -- internal interface shared by the files of core/.
 *
 * Nothing here is exported from the shared library (symbols are hidden by
 * default and carry the qvi_ prefix); tests link the static library to reach
 * them.
 */
#ifndef QUIVER_CORE_H
#define QUIVER_CORE_H

#include "quiver.h"
#include "core/base/base.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- collections (collection.c) ------------------------------------------ */

#include <pthread.h>
#include <stdatomic.h>

/*
 * Field protection: cfg, stride and err are set at creation and never
 * change.  Everything else is protected by lock: readers (get, search,
 * scroll) take it shared, writers exclusive.
 */
struct qv_collection {
    atomic_uint refs;
    qv_collection_config cfg;
    size_t stride; /* floats between rows: dim rounded up to 16 */
    qvi_errbuf *err;
    pthread_rwlock_t lock;

    float *vecs;          /* cap rows of stride floats, 64-byte aligned */
    float *sqnorms;       /* squared L2 norm of each slot's vector */
    qv_point_id *ids;     /* ids[slot] for live slots */
    uint8_t *live;        /* 1 when the slot holds a point */
    uint32_t cap;         /* rows allocated */
    uint32_t used;        /* high-water mark: slots >= used were never used */
    uint32_t *free_slots; /* stack of deleted slots below used */
    uint8_t **payloads;   /* payload blob of each live slot (payload.h);
                             NULL for the empty payload {} */
    uint32_t *payload_lens;
    uint8_t *empty_payload; /* the blob of {}, for slots without one */
    size_t empty_payload_len;
    struct qvi_pindex_set *pindexes; /* payload indexes (pindex.c);
                                        NULL until the first is created */
    uint32_t n_free;
    uint64_t count; /* live points */
    uint64_t lsn;   /* last write-ahead-log record applied; 0 without a log */
    qvi_idmap map;

    struct qvi_hnsw *index; /* graph over the live slots */
    uint64_t rebuild_after; /* after a failed (out of memory) rebuild, the
                               point count to reach before trying again */
    bool index_ok;          /* the graph mirrors the points; false before the
                               collection first crosses its full-scan
                               threshold, and after a failed index update;
                               searches then scan until a write (re)builds
                               the graph */

    /* Search scratches, reused across queries; pool_mu guards the list
     * (searches run under the shared lock, so they need their own mutex). */
    pthread_mutex_t pool_mu;
    struct qvi_hnsw_scratch **pool;
    size_t pool_n, pool_cap;

    struct qvi_mapping *mapping; /* snapshot the arrays borrow from, or NULL
                                    (see "snapshot mappings" below) */
    /* Write-ahead log (persist/wal.h): NULL for a plain in-memory
     * collection.  Set once before the collection is shared (durable store
     * create or open), freed with the collection; its own fields say which
     * lock protects them. */
    struct qvi_journal *journal;
};

/* ---- snapshot mappings (persist/snapshot_read.c) --------------------------
 */

/*
 * A collection opened from a snapshot file borrows its big arrays (vectors,
 * norms, ids, live bytes, id-map buckets, payload lengths and blobs, graph
 * arrays) from a private copy-on-write mapping of the file instead of
 * copying them.  Borrowed memory lies in [base, base + len): it may be
 * written in place (the pages are copied on write, the file never changes)
 * but is never freed or realloc'd.  Growth copies a borrowed array into
 * owned memory, as it copies any array when it grows.  The mapping lives
 * until the collection is freed.  Payload blobs and the graph from an
 * unverified file are checked lazily: see the functions below.
 */
typedef struct qvi_mapping qvi_mapping;

/* True when p points into the mapping (must not be freed). */
bool qvi_mapping_contains(const qvi_mapping *m, const void *p);

/* Releases the mapping (collection_free); NULL is ignored. */
void qvi_mapping_release(qvi_mapping *m);

/* True when slot's borrowed blob (len bytes at blob) is well formed; the
 * first call validates it, later ones read the remembered answer (atomic:
 * readers under the shared lock may race to check the same blob). */
bool qvi_mapping_blob_ok(qvi_mapping *m, uint32_t slot, const uint8_t *blob,
                         size_t len);

/* True exactly once if the graph came from an unverified file and must be
 * checked before its first update.  Write lock. */
bool qvi_mapping_take_graph_check(qvi_mapping *m);

/* free(p) unless p is borrowed from c's mapping. */
static inline void qvi_free_owned(const qv_collection *c, void *p)
{
    if (!c->mapping || !qvi_mapping_contains(c->mapping, p))
        free(p);
}

/* ---- the collection's HNSW index (collection_index.c) ---------------------
 */

qv_status qvi_index_create(qv_collection *c);
void qvi_index_destroy(qv_collection *c);

/* Brings the index up to date after the rows of slots[0..n) changed (new or
 * replaced points, duplicates allowed; slots is reordered).  Never fails:
 * if the graph cannot be updated it is marked stale and rebuilt later. */
void qvi_index_update_locked(qv_collection *c, uint32_t *slots, size_t n);

/* Removes a deleted slot from the index; never fails (as above). */
void qvi_index_remove_locked(qv_collection *c, uint32_t slot);

/* True when a search with params should traverse the graph rather than
 * scan: the index is sound, exact search was not asked for and the
 * collection is above its full-scan threshold. */
bool qvi_index_should_use(const qv_collection *c,
                          const qv_search_params *params);

/* Graph search of one prepared query into t (sorted best first), only
 * returning accepted slots (acc may be NULL) with beam width ef.  The
 * caller holds the shared lock.  Returns QV_OK or QV_ENOMEM. */
struct qvi_accept;
qv_status qvi_index_search_locked(qv_collection *c, const float *q,
                                  const qv_search_params *params,
                                  const struct qvi_accept *acc, uint32_t ef,
                                  qvi_topk *t);

/* The beam width a search with params uses by default. */
uint32_t qvi_default_ef(const qv_search_params *params);

/* ---- point helpers (collection.c) -----------------------------------------
 */

/* Deletes the point in live slot s: id map, payload, graph, free stack.
 * Write lock. */
void qvi_delete_slot_locked(qv_collection *c, uint32_t slot);

/* Records and returns QV_ENOTFOUND for id ("no point with id 3"). */
qv_status qvi_fail_not_found(qv_collection *c, const qv_point_id *id);

/* Records and returns QV_EINVAL for a malformed id. */
qv_status qvi_check_id(qv_collection *c, const qv_point_id *id);

/* ---- payload indexes (collection_pindex.c) -------------------------------
 */

/* The indexes themselves (c->pindexes) are core/pindex/pindex.h's; these
 * are the collection's side of them. */

/* The payload blob of a live slot ({} when it has none), or NULL when it
 * is a damaged blob borrowed from an unverified snapshot (checked on first
 * use).  Valid until the slot's payload next changes. */
const uint8_t *qvi_slot_payload(const qv_collection *c, uint32_t slot);

/* Frees every index of c (collection teardown). */
void qvi_pindexes_destroy(qv_collection *c);

/* Write hooks: a slot's payload is about to change or go away (remove),
 * or has just been set (add).  Each index takes out or puts in the slot's
 * values.  Never fail: an index that cannot allocate turns stale and is
 * rebuilt at a later write.  Exclusive lock. */
void qvi_pindexes_remove_slot_locked(qv_collection *c, uint32_t slot);
void qvi_pindexes_add_slot_locked(qv_collection *c, uint32_t slot);

/* Registers an index without building it (marked stale): for a snapshot
 * loader, which then calls qvi_payload_indexes_rebuild_locked once.
 * Returns QV_OK, QV_EINVAL (key, kind) or QV_ENOMEM.  Exclusive lock. */
qv_status qvi_payload_index_define_locked(qv_collection *c, const char *key,
                                          qv_index_kind kind);

/* Rebuilds every index of c from the payloads (all of them, or only the
 * stale ones).  Returns QV_OK or QV_ENOMEM (the indexes that could not be
 * built stay stale).  Exclusive lock. */
qv_status qvi_payload_indexes_rebuild_locked(qv_collection *c, bool only_stale);

/* ---- payloads and filters (payload_api.c) -------------------------------- */

struct qvi_filter;

/* The compiled filter inside a public qv_filter. */
const struct qvi_filter *qvi_filter_of(const qv_filter *f);

/* Parses len bytes of JSON text and encodes the object into a new blob
 * (see payload.h).  err (may be NULL) gets the reason of a failure.
 * Returns QV_OK, QV_EINVAL, QV_ERANGE or QV_ENOMEM. */
qv_status qvi_payload_encode_text(const char *text, size_t len, uint8_t **blob,
                                  size_t *blob_len, char *err, size_t errcap);

/* Distance (lower is better) of the query to the vector in slot, for the
 * collection's metric.  q must already be normalised under cosine. */
float qvi_slot_distance(const qv_collection *c, const float *q, uint32_t slot);

/* Converts an internal distance to the score the API reports. */
float qvi_distance_to_score(qv_metric metric, float dist);

/* Validates a query of dim floats and copies it into a 64-byte aligned
 * buffer (normalised under cosine).  Records the failure on c. */
qv_status qvi_prepare_query(qv_collection *c, const float *query, uint32_t dim,
                            float *out);

#endif /* QUIVER_CORE_H */
