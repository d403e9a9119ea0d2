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
 * Field protection: cfg, stride, elem, narrow, row_bytes, qstride, rowk and
 * err are set at creation and never
 * change.  Everything else is protected by lock: readers (get, search,
 * scroll) take it shared, writers exclusive.
 */
struct qv_collection {
    atomic_uint refs;
    qv_collection_config cfg;
    size_t stride; /* elements between rows: dim rounded up to 16 */
    /* Rows are stored in the element type of cfg.datatype
     * (core/base/datatype.c): `elem` bytes an element (4 float32, 2
     * float16, 1 uint8),
     * row_bytes = stride * elem.  `narrow` is true for 2 and 1; then
     * rowk[] holds the row kernels (qvi_datatype_kernel) and a prepared
     * query (qvi_prepare_query) carries, after its stride floats, its
     * encoding in the element type: qstride floats in all. */
    uint32_t elem;
    bool narrow;
    size_t row_bytes;
    size_t qstride;
    qvi_row_kernel rowk[4]; /* QVI_ROWK_*; [COS] set for uint8 only */
    qvi_errbuf *err;
    pthread_rwlock_t lock;

    void *vecs;             /* cap rows of row_bytes, 64-byte aligned;
                               on the heap, borrowed from the backing, or in
                               vec_arena (on_disk vectors) */
    float *row_tmp;         /* dim floats of scratch for writes of narrow
                               rows (under the write lock); NULL unless
                               narrow */
    bool vec_on_disk;       /* rows live in vec_arena from the next growth on
                               (qv_collection_set_vectors_on_disk) */
    char *vec_dir;          /* where vec_arena's unnamed file is made */
    qvi_maparena vec_arena; /* fd -1 until the rows first move there */
    bool graph_on_disk;     /* every graph of c keeps its level-0 links in a
                               mapped file made in graph_dir
                               (qv_collection_set_graph_on_disk) */
    char *graph_dir;
    float *sqnorms;       /* squared L2 norm of each slot's vector */
    qv_point_id *ids;     /* ids[slot] for live slots */
    uint8_t *live;        /* 1 when the slot holds a point */
    uint32_t cap;         /* rows allocated */
    uint32_t used;        /* high-water mark: slots >= used were never used */
    uint32_t *free_slots; /* stack of deleted slots below used */
    uint8_t **payloads;   /* payload blob of each live slot (payload.h);
                             NULL for the empty payload {} */
    struct qvi_blob_pool *blob_pool; /* where owned blobs are interned: the
                                        store's (a reference), or NULL */
    uint32_t *payload_lens;
    uint8_t *empty_payload; /* the blob of {}, for slots without one */
    size_t empty_payload_len;
    struct qvi_pindex_set *pindexes; /* payload indexes (collection_pindex.c);
                                        NULL until the first is created */
    uint32_t n_free;
    uint64_t count;              /* live points */
    _Atomic uint64_t count_seen; /* the count a reader last saw, for
                                    qv_count_approx (no lock) */
    uint64_t lsn; /* last write-ahead-log record applied; 0 without a log */
    qvi_idmap map;

    struct qvi_hnsw *index; /* graph over the live slots */
    uint64_t rebuild_after; /* after a failed (out of memory) rebuild, the
                               point count to reach before trying again */
    bool index_ok;          /* the graph mirrors the points; false before the
                               collection first crosses its full-scan
                               threshold, and after a failed index update;
                               searches then scan until a write (re)builds
                               the graph */

    /* graph_mu serialises the writes that change the graph (upserts and
     * deletes) with each other and with the readers that need the graph
     * to mirror every live point (snapshot saves, through
     * qvi_collection_read_columns).  An upsert holds it from before it
     * takes `lock` until its graph insert ends.  It stores its rows and
     * allocates the graph's nodes under the exclusive lock, then links
     * them under the *shared* lock, in short chunks, so that searches run
     * beside the linking: the graph's one linker at a time is the holder
     * of graph_mu (core/hnsw/hnsw.h, "Locking model"; collection_index.c,
     * "Chunked graph inserts").  Lock order: graph_mu, then lock.
     * Searches never take it. */
    pthread_mutex_t graph_mu;
    /* Test hooks (qvi_index_set_chunk_hook): chunk_hook between two
     * chunks of a graph insert with `lock` released, link_hook after each
     * point linked with the shared lock held; read and written under
     * graph_mu. */
    void (*chunk_hook)(void *arg, size_t inserted, size_t total);
    void (*link_hook)(void *arg, size_t linked, size_t total);
    void *chunk_hook_arg;

    /* Search scratches, reused across queries; pool_mu guards the list
     * (searches run under the shared lock, so they need their own mutex). */
    pthread_mutex_t pool_mu;
    struct qvi_hnsw_scratch **pool;
    size_t pool_n, pool_cap;
    /* The sparse searches' accumulators (sparse_api.c), also under
     * pool_mu: at most as many as searches ran at once, up to 8 kept. */
    struct qvi_sparse_scratch *sparse_pool[8];
    size_t sparse_pool_n;

    struct qvi_backing *backing; /* mapped region the arrays borrow from, or
                                    NULL (see "backings" below); set once by
                                    qvi_collection_adopt_columns */
    /* Journal (see "changes and the journal" below): NULL for a plain
     * in-memory collection.  Set once before the collection is shared
     * (qvi_collection_attach_journal), released with the collection; the
     * journal's own fields say which lock protects them. */
    const struct qvi_journal_ops *journal_ops;
    void *journal;

    /* Sparse vectors (sparse_api.c): the rows and inverted index of a
     * QV_VECTOR_SPARSE collection, NULL for a dense one; set at creation,
     * its contents protected by lock like the other per-slot arrays. */
    struct qvi_sparse *sparse;
    /* Multivectors (core/multi/multi.h): the matrices of a collection
     * created with cfg.multivector, NULL otherwise (set at creation).  Its
     * arena and offsets are protected by lock like the rows; the dense row
     * of such a point holds its first matrix row, which nothing scores. */
    struct qvi_multi *multi;
    /* Quantization (collection_quant.c), protected by lock like the
     * vectors; cfg's quantization fields change with it (under the write
     * lock, qv_collection_set_quantization), and with the sparse params
     * (sparse_modifier, sparse_full_scan_threshold, datatype of a sparse
     * collection: qv_sparse_set_params, under the write lock too) the only
     * fields of cfg that ever change. */
    struct qvi_quant *quant;   /* codes of the live slots, or NULL: none */
    bool quant_ok;             /* the codes mirror the vectors; false after a
                                  failed allocation (searches use the floats
                                  until the next rebuild) */
    uint64_t quant_trained_on; /* live points when last trained */
    uint64_t quant_writes;     /* upserts so far, counted under the write
                                  lock (see qv_collection_set_quantization) */
    bool quant_retrain;        /* a write asked for training: the upsert
                                  trains after its write lock is released
                                  (qvi_quant_retrain_deferred) */
    /* Test hook (qvi_quant_set_train_hook): called with the fresh codes
     * built, before the swap; written under graph_mu and lock, read under
     * either. */
    void (*quant_hook)(void *arg);
    void *quant_hook_arg;
};

/* The element type of a collection's dense rows for config cfg: its
 * datatype (float32 for sparse collections).  A multivector collection's
 * matrices (core/multi/) use the datatype too. */
uint32_t qvi_row_datatype(const qv_collection_config *cfg);

/* The row of slot s (row_bytes bytes in the element type). */
static inline void *qvi_row(const qv_collection *c, uint32_t s)
{
    return (char *)c->vecs + (size_t)s * c->row_bytes;
}

/* Slot s's vector as dim floats (decoded when narrow) in out. */
void qvi_row_read(const qv_collection *c, uint32_t s, float *out);

/* The datatype of cfg (QV_DATATYPE_FLOAT32 for layouts 0 and 1, which
 * have no such field). */
uint32_t qvi_config_datatype(const qv_collection_config *cfg);
/* Copies a caller's config, reading no further than its layout (version);
 * fields its layout lacks get their defaults. */
void qvi_config_copy(qv_collection_config *dst,
                     const qv_collection_config *src);

/* Checks a collection config against the limits of quiver.h; on failure
 * msg (cap bytes) says which field and why.  Returns QV_OK, QV_EINVAL or
 * QV_ERANGE. */
qv_status qvi_collection_config_check(const qv_collection_config *cfg,
                                      char *msg, size_t cap);

/* Accessors for the layers above core/ (persist/), which never touch a
 * collection's fields.  The LSN setter is for recovery only: the
 * collection is not shared yet and has no journal. */
uint64_t qvi_collection_lsn(qv_collection *c);
void qvi_collection_set_lsn_nolock(qv_collection *c, uint64_t lsn);

/* Records a failure on c (qv_collection_errmsg) and returns st. */
qv_status qvi_collection_fail(qv_collection *c, qv_status st, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

/* Runs fn(arg) under c's lock, exclusive or shared, and returns what it
 * returned.  For a layer that must order its own state with the
 * collection's writes (a journal's segment switch) or needs a consistent
 * view, without reaching into the collection.  fn must not call back into
 * c's locking functions. */
qv_status qvi_collection_run_exclusive(qv_collection *c,
                                       qv_status (*fn)(void *arg), void *arg);
qv_status qvi_collection_run_shared(qv_collection *c,
                                    qv_status (*fn)(void *arg), void *arg);

/* ---- changes and the journal (journal.c) ---------------------------------
 */

/*
 * Change kinds.  The numbers are part of the write-ahead log's file format
 * (docs/WAL.md): never reuse one.  Adding a kind: a layout in docs/WAL.md,
 * an entry in the codec table (persist/wal_record.c) and one in the replay
 * table (persist/wal_replay.c).
 */
typedef enum qvi_change_kind {
    QVI_CHANGE_UPSERT = 1,              /* ids, vectors, optional payloads */
    QVI_CHANGE_DELETE = 2,              /* ids */
    QVI_CHANGE_DELETE_FILTER = 3,       /* the ids a filter resolved to */
    QVI_CHANGE_PAYLOAD_OVERWRITE = 4,   /* id, JSON */
    QVI_CHANGE_PAYLOAD_SET = 5,         /* id, JSON, optional key path */
    QVI_CHANGE_PAYLOAD_DELETE_KEYS = 6, /* id, key paths */
    QVI_CHANGE_PAYLOAD_CLEAR = 7,       /* id */
    QVI_CHANGE_INDEX_CREATE = 8,        /* key path, index kind name */
    QVI_CHANGE_INDEX_DROP = 9,          /* key path */
    QVI_CHANGE_PAYLOAD_EDIT_BATCH = 10, /* ids, a list of payload edits */
    /* Atomic groups (persist/wal.c, "atomic groups"): kind 11 frames a change
     * of any kind above as a member of group `group` (in memory the change
     * keeps its own kind and a non-zero `group`); kind 12 is a group's commit
     * marker, which changes nothing. */
    QVI_CHANGE_GROUP_MEMBER = 11,
    QVI_CHANGE_GROUP_COMMIT = 12,
    /* Sparse vectors (20-29 reserved): ids, sparse vectors, optional
     * payloads (qv_sparse_upsert). */
    QVI_CHANGE_SPARSE_UPSERT = 20,
    /* the sparse params of a config: modifier, full-scan threshold and
     * the index's datatype (qv_sparse_set_params) */
    QVI_CHANGE_SPARSE_PARAMS = 21,
    /* Multivectors (30-39 reserved): ids, row counts, rows, optional
     * payloads (qv_multi_upsert_batch). */
    QVI_CHANGE_MULTI_UPSERT = 30,
    /* 40-49: quantization */
    QVI_CHANGE_QUANT_SET = 40, /* the quantization fields of a config */
    QVI_CHANGE_KIND_COUNT
} qvi_change_kind;

/*
 * One change, as a writer describes it to the journal and as the log's
 * reader decodes it.  Writers fill the fields of their kind with borrowed
 * pointers to the caller's input (the ORIGINAL input: replaying the change
 * through the same public function gives the same state).  A decoded
 * change points into the scanned buffer for byte strings (json,
 * index_kind, texts) and owns copies of everything that needs alignment or
 * a NUL (ids, vecs, keys): free it with qvi_wal_change_free (persist/wal.h).
 */
typedef struct qvi_change {
    uint32_t kind;  /* a qvi_change_kind */
    uint64_t lsn;   /* set by the journal when appended */
    uint64_t group; /* 0, or the atomic group the change belongs to (set
                       by the journal when appended inside a group) */
    /* UPSERT, DELETE, DELETE_FILTER, PAYLOAD_EDIT_BATCH: n ids.  The
     * single-point PAYLOAD_* kinds: ids[0] (n = 1). */
    const qv_point_id *ids;
    size_t n;
    /* UPSERT */
    uint32_t dim;
    const float *vecs;        /* n * dim floats, as passed by the caller */
    const char *const *texts; /* NULL: no payloads (qv_upsert_batch); else
                                 n JSON texts, NULL entries meaning {} */
    const size_t *text_lens;
    /* MULTI_UPSERT (with ids, n, dim, texts as UPSERT): n row counts; vecs
     * holds their sum times dim floats */
    const uint32_t *row_counts;
    /* PAYLOAD_OVERWRITE, PAYLOAD_SET: the JSON text */
    const char *json;
    size_t json_len;
    /* INDEX_CREATE: the index kind's name (qv_index_kind_name: "keyword",
     * ...), not NUL-terminated in a decoded change */
    const char *index_kind;
    size_t index_kind_len;
    /* INDEX_CREATE of a full-text index with options: their encoding
     * (core/text/text_opts.c); NULL for none */
    const uint8_t *index_opts;
    size_t index_opts_len;
    /* PAYLOAD_SET (NULL: no key), INDEX_CREATE, INDEX_DROP: a key path */
    const char *key;
    /* PAYLOAD_DELETE_KEYS */
    const char *const *keys;
    size_t n_keys;
    /* PAYLOAD_EDIT_BATCH: edits applied in order to each of the n ids
     * (their strings point into the scanned buffer or the decoded
     * change's own copies, as above) */
    const qv_payload_edit *edits;
    size_t n_edits;
    /* SPARSE_UPSERT: n sparse vectors (with texts/text_lens as UPSERT) */
    const qv_sparse_vector *sparse;
    /* QUANT_SET: the config whose quantization fields are set (a decoded
     * change owns it, in own[0]) */
    const qv_collection_config *quant;
    /* SPARSE_PARAMS: the config whose sparse params are set (a decoded
     * change owns it, in own[0]) */
    const qv_collection_config *sparse_cfg;
    /* owned by a decoded change */
    void *own[5];
} qvi_change;

/*
 * What a journal implements (persist/wal.c).  j is the journal attached
 * with qvi_collection_attach_journal.  Messages go to err; core records
 * them on the collection.
 *
 *   append_locked  logs r under the collection's write lock (the caller
 *                  holds it): r->lsn and *lsn get the next LSN.  On
 *                  failure nothing was logged and the caller changes
 *                  nothing.  QV_OK, QV_EIO, QV_ENOTFOUND (journal
 *                  detached: collection dropped or store closed),
 *                  QV_ERANGE (record too large) or QV_ENOMEM.
 *   commit         without the collection's lock: waits until record lsn
 *                  is durable (group commit), and may then checkpoint.
 *                  QV_OK or QV_EIO (applied in memory, not acknowledged).
 *   release        frees the journal (with the collection: no other user).
 */
typedef struct qvi_journal_ops {
    qv_status (*append_locked)(void *j, qvi_change *r, uint64_t *lsn, char *err,
                               size_t errcap);
    qv_status (*commit)(void *j, uint64_t lsn, char *err, size_t errcap);
    void (*release)(void *j);
} qvi_journal_ops;

/* Attaches journal j (implementing ops) to c, which must not be shared
 * yet and must have no journal; c releases it when it goes. */
void qvi_collection_attach_journal(qv_collection *c, const qvi_journal_ops *ops,
                                   void *j);

/* c's journal if it is one implemented by ops, else NULL.  The pointer
 * lives as long as c. */
void *qvi_collection_journal(const qv_collection *c,
                             const qvi_journal_ops *ops);

/* The slow halves of the two helpers below. */
qv_status qvi_change_append_locked(qv_collection *c, qvi_change *r,
                                   uint64_t *lsn);
qv_status qvi_change_wait_durable(qv_collection *c, uint64_t lsn);

/*
 * How every mutating function uses the journal: qvi_change_log_locked()
 * after its checks and reservations and before it changes anything, while
 * it holds the write lock (the record gets the next LSN, which becomes
 * c->lsn); then qvi_change_commit() after it released the lock.  Both are
 * one pointer test without a journal (*lsn is then 0).
 */
static inline qv_status qvi_change_log_locked(qv_collection *c, qvi_change *r,
                                              uint64_t *lsn)
{
    *lsn = 0;
    if (!c->journal)
        return QV_OK;
    return qvi_change_append_locked(c, r, lsn);
}

static inline qv_status qvi_change_commit(qv_collection *c, uint64_t lsn)
{
    if (lsn == 0)
        return QV_OK;
    return qvi_change_wait_durable(c, lsn);
}

/* ---- backings (backing.c) -------------------------------------------------
 */

/*
 * A collection loaded from a file may borrow its big arrays (vectors,
 * norms, ids, live bytes, id-map buckets, payload lengths and blobs, graph
 * arrays, quantized codes and int8 corrections -- the last two through its
 * quantizer, which marks them borrowed itself: core/quant/quant.h) from
 * one writable region, typically a private copy-on-write
 * mapping of the file, instead of copying them.  Borrowed memory lies in
 * [base, base + len): it may be written in place but is never freed or
 * realloc'd.  Growth copies a borrowed array into owned memory, as it
 * copies any array when it grows.  The backing lives until the collection
 * is freed, then calls release(arg, base, len) (NULL: nothing to do).
 *
 * Data from an unverified file is checked lazily: each borrowed payload
 * blob on its first use (the answer is remembered per slot), and the graph
 * once before its first update.
 */
typedef struct qvi_backing qvi_backing;

/* A backing for [base, base + len).  NULL when out of memory (release is
 * then not called). */
qvi_backing *qvi_backing_new(void *base, size_t len,
                             void (*release)(void *arg, void *base, size_t len),
                             void *arg);

/* Calls the release callback and frees b; NULL is ignored. */
void qvi_backing_free(qvi_backing *b);

/* The region. */
void *qvi_backing_base(const qvi_backing *b);
size_t qvi_backing_len(const qvi_backing *b);

/* True when p points into the region (must not be freed). */
bool qvi_backing_contains(const qvi_backing *b, const void *p);

/* Prepares the per-slot blob memo for slots [0, n).  QV_OK or QV_ENOMEM.
 * Before the backing is shared. */
qv_status qvi_backing_track_blobs(qvi_backing *b, uint32_t n);

/* True when slot's borrowed blob (len bytes at blob) is well formed
 * (qvi_payload_validate); the first call validates it, later ones read the
 * remembered answer (atomic: readers under the shared lock may race to
 * check the same blob and store the same answer). */
bool qvi_backing_blob_ok(qvi_backing *b, uint32_t slot, const uint8_t *blob,
                         size_t len);

/* True exactly once if the graph came from an unverified file and must be
 * checked before its first update.  Write lock. */
bool qvi_backing_take_graph_check(qvi_backing *b);

/* Sets the flag above: columns.c, when a collection adopts a graph from an
 * unverified file.  Before the collection is shared. */
void qvi_backing_set_graph_unverified(qvi_backing *b, bool v);

/* free(p) unless p is borrowed from c's backing. */
static inline void qvi_free_owned(const qv_collection *c, void *p)
{
    if (!c->backing || !qvi_backing_contains(c->backing, p))
        free(p);
}

/* Lets go of slot-owned payload blob p (len bytes): borrowed blobs stay with
 * the backing, owned ones go back to c's blob pool (payload_pool.c), which
 * frees a blob with its last holder (a private one at once). */
struct qvi_blob_pool;
void qvi_blob_release(struct qvi_blob_pool *pool, uint8_t *blob, size_t len);
static inline void qvi_payload_release(const qv_collection *c, uint8_t *p,
                                       size_t len)
{
    if (p && (!c->backing || !qvi_backing_contains(c->backing, p)))
        qvi_blob_release(c->blob_pool, p, len);
}

/* Gives c the blob pool of its store (a reference is taken), so that its
 * payload blobs are shared with the store's other collections.  Before
 * the collection is shared; a collection that already has another pool
 * keeps it (QV_EINVAL: its interned blobs belong to that pool).  Setting
 * the same pool again, or NULL, changes nothing. */
qv_status qvi_collection_set_blob_pool(qv_collection *c,
                                       struct qvi_blob_pool *pool);

/* ---- columns: loading and saving a collection (columns.c) ----------------
 */

/*
 * The arrays of a collection, as a loader hands them to core and as a
 * writer reads them.  n_slots rows; stride elements of cfg.datatype's
 * type a row (row_bytes bytes).
 */
typedef struct qvi_columns {
    qv_collection_config cfg; /* read: the collection's; adopt: ignored */
    size_t stride;            /* must match the collection's */
    uint32_t n_slots;         /* adopt: cap = used = n_slots; read: used */
    uint64_t count;           /* live points */
    uint64_t lsn;             /* last log record the data includes */
    size_t row_bytes;         /* read: the collection's; adopt: must match */
    void *vecs;               /* n_slots * row_bytes (borrowed; or, when
                                 the loader converted an older file's
                                 rows, a qvi_alloc_aligned array outside
                                 the backing that c takes and frees) */
    float *sqnorms;           /* n_slots (borrowed) */
    qv_point_id *ids;         /* n_slots (borrowed) */
    uint8_t *live;            /* n_slots (borrowed) */
    uint32_t *free_slots;     /* n_slots long, n_free used (owned) */
    uint32_t n_free;
    uint8_t **payloads;      /* n_slots blob pointers, NULL for {} (the
                                array owned, the blobs borrowed) */
    uint32_t *payload_lens;  /* n_slots (borrowed) */
    uint64_t *idmap_buckets; /* idmap_cap (borrowed; may be NULL when 0) */
    size_t idmap_cap;
    struct qvi_hnsw *index; /* the graph over the live slots (owned; may
                               borrow from the backing), or NULL: none */
    bool graph_verified;    /* adopt: the graph was checked in full */
    uint32_t n_pindexes;    /* payload index definitions */
    const char *const *pindex_keys;
    const qv_index_kind *pindex_kinds;
    /* full-text options: encodings (NULL entries, or a NULL array: none) */
    const uint8_t *const *pindex_opts;
    const uint32_t *pindex_opts_len;
    bool backed; /* read: the arrays may borrow from a backing */
    /* Sparse vectors: read: the collection's (NULL when dense); adopt: the
     * loaded rows, moved into c (left empty) whatever the outcome. */
    struct qvi_sparse *sparse;
    /* multivectors (cfg.multivector): the record of slot s (core/multi/
     * multi.h) at multi_rows + multi_offs[s], QVI_MULTI_NONE for none;
     * multi_len floats at multi_rows.  read: the collection's arena, where
     * replaced records may linger; adopt: copied (offsets of n_slots
     * slots), nothing borrowed.  NULL otherwise. */
    const float *multi_rows;
    const uint64_t *multi_offs;
    uint64_t multi_len;
    uint32_t multi_elem; /* bytes of a record element: read: the store's
                            (4, 2, 1); adopt: the file's (converted when it
                            differs, qvi_multi_adopt) */
    /* Quantized codes (collection_quant.c).  read: the collection's
     * quantizer when it is trained and its codes mirror the vectors
     * (quant_ok), else NULL, and quant_trained_on, the live count of its
     * last training.  adopt: a trained quantizer the loader restored from
     * the file with codes for the n_slots slots (core/quant/quant.h,
     * qvi_quant_restore; they may be borrowed from the backing), taken by
     * c whatever the outcome, and its training count; or NULL: c trains
     * and encodes afresh. */
    struct qvi_quant *quant;
    uint64_t quant_trained_on;
} qvi_columns;

/*
 * Installs cols into c, a collection just created with the same config
 * and not shared yet, and gives c the backing b (may be NULL: then nothing
 * is borrowed).  c takes the owned arrays (free_slots, the payloads
 * array, index) and b whatever the outcome: on failure the caller just
 * releases c.  Defines the payload indexes and builds them from the
 * payloads.  Returns QV_OK, QV_EINVAL (a payload index definition, with
 * the message on c naming its number) or QV_ENOMEM.
 */
qv_status qvi_collection_adopt_columns(qv_collection *c,
                                       const qvi_columns *cols, qvi_backing *b);

/*
 * Fills a read-only view of c's columns under its shared lock and calls
 * fn(cols, arg) while holding it; returns what fn returned, or QV_ENOMEM.
 * The view is valid only during the call.
 */
qv_status qvi_collection_read_columns(qv_collection *c,
                                      qv_status (*fn)(const qvi_columns *cols,
                                                      void *arg),
                                      void *arg);

/* ---- store backends (store.c) ---------------------------------------------
 */

/*
 * What a durable store's directory implements (persist/store_dir.c).  d is
 * the backend given to qvi_store_new; e gets the messages.
 *
 *   create      creates collection name on disk for c (new, unshared,
 *               empty) and attaches its journal.  Store mutex held.
 *               QV_OK, QV_EIO, QV_EEXIST or QV_ENOMEM.
 *   drop        removes collection name from disk durably (a tombstone)
 *               and detaches c's journal.  Store mutex held.  QV_OK or
 *               QV_EIO.
 *   purge       deletes tombstones, without the store mutex; errors are
 *               ignored (the next open retries).
 *   checkpoint  makes everything c holds durable in a new snapshot.  No
 *               store lock.  QV_OK, QV_EIO or QV_ENOMEM, message on c.
 *   close       checkpoints c (a failure leaves the log for the next
 *               open) and detaches its journal.  At store close.
 *   release     releases the directory and frees d.
 */
typedef struct qvi_store_backend_ops {
    qv_status (*create)(void *d, const char *name, qv_collection *c,
                        qvi_errbuf *e);
    qv_status (*drop)(void *d, const char *name, qv_collection *c,
                      qvi_errbuf *e);
    void (*purge)(void *d);
    qv_status (*checkpoint)(void *d, qv_collection *c);
    void (*close)(void *d, qv_collection *c);
    void (*release)(void *d);
} qvi_store_backend_ops;

/* A new empty store; ops and d NULL for an in-memory one, else the store
 * owns d from success on (released at close; on failure d is still the
 * caller's).  Returns QV_OK, QV_ENULL or QV_ENOMEM. */
qv_status qvi_store_new(const qvi_store_backend_ops *ops, void *d,
                        qv_store **out);

/* Adds a recovered collection (taking the caller's reference); checks the
 * name.  Before the store is shared.  Returns QV_OK, QV_EINVAL, QV_EEXIST
 * or QV_ENOMEM. */
qv_status qvi_store_adopt(qv_store *s, const char *name, qv_collection *c);

/* The payload blob pool s's collections share (payload_pool.c); a
 * collection recovered for s takes it (qvi_collection_set_blob_pool)
 * before its log is replayed, so that replayed payloads are shared too. */
struct qvi_blob_pool *qvi_store_blob_pool(qv_store *s);

/* ---- the collection's HNSW index (collection_index.c) ---------------------
 */

qv_status qvi_index_create(qv_collection *c);
void qvi_index_destroy(qv_collection *c);

/* Brings the index up to date after the rows of slots[0..n) changed (new or
 * replaced points, duplicates allowed; slots is reordered).  Never fails:
 * if the graph cannot be updated it is marked stale and rebuilt later.
 * The caller holds graph_mu and the write lock.  The function does under
 * the write lock everything that allocates (codes,
 * qvi_hnsw_insert_prepare for new points), then relinks replaced points
 * and links new ones under the shared lock, in chunks, with searches
 * running beside it (they see the batch's points not yet linked only
 * through scans), releasing the lock between chunks.  If a replacement
 * fails it retakes the write lock to mark the graph stale.  It returns holding
 * `lock`, shared or exclusive: the caller may only read, and releases it with
 * pthread_rwlock_unlock.  The caller must not rely on anything it read
 * under the lock before the call, except what graph_mu protects. */
void qvi_index_update_locked(qv_collection *c, uint32_t *slots, size_t n);

/* Test hooks: fn(arg, inserted, total) is called by every upsert between
 * two chunks of its graph insert, with `lock` released and graph_mu held
 * (so fn may search the collection, but not write to it); link_fn(arg,
 * linked, total) after each point a serial chunk links, with the shared
 * lock and graph_mu held, in the middle of the graph insert (so searches
 * run while it blocks).  NULL removes one.  Takes graph_mu. */
void qvi_index_set_chunk_hook(
    qv_collection *c, void (*fn)(void *arg, size_t inserted, size_t total),
    void (*link_fn)(void *arg, size_t linked, size_t total), void *arg);

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

/* ---- quantized codes (collection_quant.c) ---------------------------------
 */

/* Checks cfg's quantization fields (none: always fine); on failure msg
 * (cap bytes) says why.  QV_OK, QV_EINVAL or QV_ERANGE. */
qv_status qvi_quant_config_check(const qv_collection_config *cfg, char *msg,
                                 size_t cap);

/* Creates c->quant from c->cfg (nothing without quantization).  QV_OK or
 * QV_ENOMEM.  Before c is shared, or under the write lock. */
qv_status qvi_quant_attach(qv_collection *c);

/* Frees c->quant. */
void qvi_quant_detach(qv_collection *c);

/* Brings the codes up to date after the rows of slots[0..n) changed.
 * When the collection has doubled since the last training (or was never
 * trained) it only sets quant_retrain: the training itself runs in
 * qvi_quant_retrain_deferred, outside the write lock.  Never fails
 * (quant_ok turns false).  Write lock. */
void qvi_quant_update_locked(qv_collection *c, const uint32_t *slots, size_t n);

/* Runs the training a write asked for (quant_retrain): trains and encodes
 * fresh codes under the shared lock, so searches go on with the old ones,
 * and swaps them in under the write lock.  Never fails: on error the old
 * codes stay and the next write tries again.  The caller holds graph_mu
 * (no other upsert or delete runs) and not lock. */
void qvi_quant_retrain_deferred(qv_collection *c);

/* Test hook: fn(arg) is called once fresh codes are built, before they are
 * swapped in, with lock released: by a deferred training with graph_mu
 * held (fn may search the collection, but not write to it), and by
 * qv_collection_set_quantization with nothing held (fn may write too).
 * NULL removes it.  Takes graph_mu and the write lock. */
void qvi_quant_set_train_hook(qv_collection *c, void (*fn)(void *arg),
                              void *arg);

/* Trains and encodes every live slot.  Never fails (as above).  Write
 * lock. */
void qvi_quant_rebuild_locked(qv_collection *c);

/* At load (adopt_columns, before c is shared): installs restored, a
 * trained quantizer with codes for c's cap slots and the training count
 * trained_on that a file kept, as c's codes -- no training, no encoding
 * -- or, when restored is NULL or does not fit c (kind, encoding, dim,
 * metric, slots: then it is freed), trains and encodes afresh. */
void qvi_quant_adopt_locked(qv_collection *c, struct qvi_quant *restored,
                            uint64_t trained_on);

/* True when a graph search with params should walk the codes. */
bool qvi_quant_should_use(const qv_collection *c,
                          const qv_search_params *params);

/* Graph search of the prepared query q on the codes with scratch s, then
 * (when params rescore) exact float distances of the floor(k *
 * oversampling) candidates, the best k into t.  Shared lock.  QV_OK or
 * QV_ENOMEM. */
struct qvi_hnsw_scratch;
qv_status qvi_quant_search_locked(qv_collection *c, const float *q,
                                  const qv_search_params *params,
                                  const struct qvi_accept *acc, uint32_t ef,
                                  struct qvi_hnsw_scratch *s, qvi_topk *t);

/* ---- point helpers (collection.c) -----------------------------------------
 */

/* The matrices of a multivector upsert (core/multi_api.c): point i's
 * row_counts[i] rows start at mats[i]; floats is the sum of their record
 * sizes (qvi_multi_record_floats), reserved before the change is logged. */
typedef struct qvi_multi_input {
    const uint32_t *row_counts;
    const float *const *mats;
    size_t floats;
} qvi_multi_input;

/* The body of every upsert (collection.c), which takes the write lock
 * itself: validated input (vecs: n * dim floats, or NULL with rows or mi),
 * optional encoded payloads (ownership taken whatever the outcome), the
 * change record of the original input, for a sparse collection the n rows
 * to store (taken over when applied), and for multivectors mi (NULL for
 * dense points). */
struct qvi_sparse_row;
qv_status qvi_upsert_apply(qv_collection *c, const qv_point_id *ids,
                           const float *vecs, size_t n, uint32_t dim,
                           uint8_t **blobs, const size_t *blob_lens,
                           qvi_change *rec, struct qvi_sparse_row *rows,
                           const qvi_multi_input *mi);

/* Encodes the n payload texts of a batch (a NULL text: {}, a NULL blob)
 * into new arrays *blobs and *blob_lens for qvi_upsert_apply; on failure
 * both are NULL and the failure is recorded on c.  Free them with
 * qvi_payload_batch_free, which frees the blobs not handed over. */
qv_status qvi_payload_batch_encode(qv_collection *c, const char *const *texts,
                                   const size_t *lens, size_t n,
                                   uint8_t ***blobs, size_t **blob_lens);
void qvi_payload_batch_free(uint8_t **blobs, size_t *blob_lens, size_t n);

/* QV_EINVAL with a message when c is a sparse collection (for the dense
 * calls), else QV_OK. */
qv_status qvi_refuse_sparse(qv_collection *c);

/* Sparse side of a collection's life (sparse_api.c): create and free the
 * rows, grow them with the slots, drop a deleted slot's row.  */
qv_status qvi_sparse_attach(qv_collection *c);
void qvi_sparse_detach(qv_collection *c);
qv_status qvi_sparse_grow_locked(qv_collection *c, uint32_t cap);
void qvi_sparse_delete_slot_locked(qv_collection *c, uint32_t slot);
/* Checks the n rows of an upsert against the datatype in force (float16:
 * no value beyond +-65504), under the write lock, before the change is
 * logged: a PATCH of the datatype may land between the unlocked
 * validation and the write.  QV_OK or QV_ERANGE (recorded on c). */
qv_status qvi_sparse_check_rows_locked(qv_collection *c,
                                       const struct qvi_sparse_row *rows,
                                       size_t n);
/* Stores *row (taken over) as slot's vector.  Write lock; never fails. */
void qvi_sparse_set_slot_locked(qv_collection *c, uint32_t slot,
                                struct qvi_sparse_row *row);
/* Encodes the payload texts of a batch into caller-made arrays (NULL
 * entries: NULL blobs, i.e. {}); on failure frees what it made and records
 * the failure on c. */
qv_status qvi_encode_payloads(qv_collection *c, const char *const *texts,
                              const size_t *lens, size_t n, uint8_t **blobs,
                              size_t *blob_lens);

/* Validates one vector of dim floats (dimension, finite, norm), naming it
 * `what` in the message recorded on c. */
qv_status qvi_check_vector(qv_collection *c, const float *v, uint32_t dim,
                           const char *what);

/* ---- multivectors (multi_api.c; storage and MaxSim in core/multi/) ------- */

/* Records and returns QV_EINVAL unless c holds multivectors exactly when
 * multi is true, naming the call. */
qv_status qvi_check_multi(qv_collection *c, bool multi, const char *call);

/* Gives c its multivector store when its config asks for one (c->multi
 * stays NULL otherwise).  QV_OK or QV_ENOMEM.  At creation. */
qv_status qvi_multi_create(qv_collection *c);

/* Frees c->multi (NULL is fine).  At teardown. */
void qvi_multi_destroy(qv_collection *c);

/* Makes room for c->cap slots and `floats` floats of records, recording
 * QV_ENOMEM on c.  Write lock. */
qv_status qvi_multi_reserve_locked(qv_collection *c, size_t floats);

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
/* qv_payload_index_create with a full-text index's encoded options (opts
 * NULL: none), for the log's replay; QV_ECORRUPT for a bad encoding. */
qv_status qvi_payload_index_create_encoded(qv_collection *c, const char *key,
                                           qv_index_kind kind,
                                           const uint8_t *opts, size_t len);

/* Write hooks: a slot's payload is about to change or go away (remove),
 * or has just been set (add).  Each index takes out or puts in the slot's
 * values.  Never fail: an index that cannot allocate turns stale and is
 * rebuilt at a later write.  Exclusive lock. */
void qvi_pindexes_remove_slot_locked(qv_collection *c, uint32_t slot);
void qvi_pindexes_add_slot_locked(qv_collection *c, uint32_t slot);

/* Registers an index without building it (marked stale): for a snapshot
 * loader, which then calls qvi_payload_indexes_rebuild_locked once.  opts
 * (len bytes; NULL: none) are a full-text index's encoded options.
 * Returns QV_OK, QV_EINVAL (key, kind, options) or QV_ENOMEM.  Exclusive
 * lock. */
qv_status qvi_payload_index_define_locked(qv_collection *c, const char *key,
                                          qv_index_kind kind,
                                          const uint8_t *opts, size_t len);

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
 * collection's metric.  q is a query prepared by qvi_prepare_query
 * (qstride floats: normalised under cosine, converted, and for narrow rows
 * followed by its encoding). */
float qvi_slot_distance(const qv_collection *c, const float *q, uint32_t slot);

/* Converts an internal distance to the score the API reports. */
float qvi_distance_to_score(qv_metric metric, float dist);

/* Validates a query of dim floats and copies it into a 64-byte aligned
 * buffer of c->qstride floats (normalised under cosine, converted to the
 * datatype's values; with narrow rows, its encoding in the element type
 * follows at out + c->stride).  Records the failure on c. */
qv_status qvi_prepare_query(qv_collection *c, const float *query, uint32_t dim,
                            float *out);

#endif /* QUIVER_CORE_H */
