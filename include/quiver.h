/*
 * quiver.h -- the one public header of Quiver, an in-process vector search
 * engine.
 *
 * This header is the manual.  Everything an application may call is declared
 * here with its contract: what it returns, who owns each pointer, how long a
 * returned pointer stays valid, and what may run concurrently.
 *
 * Conventions
 * -----------
 *  - Every function that can fail returns a qv_status.  QV_OK (zero) means
 *    success; anything else is an error, and a failed call changes nothing:
 *    the collection or store is exactly as it was before the call.
 *  - qv_strerror(status) gives a fixed sentence for each status.  The handle a
 *    call failed on also keeps a detailed message for its last failure
 *    (qv_collection_errmsg, qv_store_errmsg), e.g. "vector has 3 components,
 *    the collection expects 4".  With several threads failing on the same
 *    handle at once, the message read may belong to another thread's failure;
 *    the status code returned to each caller is always its own.
 *  - Handles are opaque.  Every create/open has a matching release/close, and
 *    release/close accept NULL, which is what a failed create leaves behind.
 *  - Options structs may grow in later versions: fill them with their
 *    *_init() function first, then set the fields you care about.  Values out
 *    of the published QV_MIN_* / QV_MAX_* ranges are refused with QV_ERANGE,
 *    never clamped.  Each struct filled by an *_init() function
 *    (qv_collection_config, qv_search_params, qv_order_by,
 *    qv_store_options) has a uint32_t version field that tells the library
 *    which layout the caller was compiled against: *_init() sets the
 *    current QV_*_VERSION; 0, what a zero-initialised struct holds, means
 *    the first published layout (this one); a value larger than this
 *    library knows is refused with QV_EINVAL.  The field comes after every
 *    field of the first layout, and later fields will be added after it,
 *    so that initialisers written for an older layout, positional or
 *    designated, keep their meaning.
 *
 * Scores
 * ------
 * Scores follow Qdrant.  Cosine vectors are normalised to unit length when
 * stored and scored by dot product; cosine and dot scores are "higher is
 * better".  Euclid scores are the Euclidean distance and manhattan scores the
 * L1 distance: "lower is better".  A zero vector under cosine stays zero and
 * scores 0 against everything; no NaN ever reaches a score.
 *
 * Thread safety
 * -------------
 * A collection allows any number of concurrent readers (get, count, scroll,
 * search) alongside writers (upsert, delete); writers are serialised with
 * each other by the collection's own lock.  A write does not hold that lock
 * for its whole graph update: an upsert stores all its points at once,
 * then links them into the HNSW graph in chunks of at most 32 points (or
 * about half a millisecond), letting searches run in between, as Qdrant
 * applies an upsert in chunks of 32 points.  While that lasts, a graph
 * search may miss points of the batch not yet linked (exact searches,
 * get, scroll and count see them all); writes that change the graph wait
 * for it to end.  Durability is unchanged: a write is applied whole or not
 * at all across a crash.  A store's functions may be
 * called from any thread concurrently.  Collection handles are reference
 * counted, so a collection dropped from its store stays valid for every
 * thread that still holds a reference.
 */
#ifndef QUIVER_H
#define QUIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QV_BUILDING_LIBRARY) && defined(__GNUC__)
#define QV_API __attribute__((visibility("default")))
#else
#define QV_API
#endif

#define QV_VERSION_MAJOR  0
#define QV_VERSION_MINOR  1
#define QV_VERSION_PATCH  0
#define QV_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

typedef enum qv_status {
    QV_OK = 0,
    QV_ENULL,  /* a required pointer argument was NULL */
    QV_EINVAL, /* an argument is malformed (bad name, unknown metric, ...) */
    QV_ERANGE, /* a number is outside its allowed range (k = 0, dim, ...) */
    QV_EDIM,   /* a vector's length differs from the collection's */
    QV_ENONFINITE,  /* a vector component is NaN or infinite */
    QV_ENOTFOUND,   /* no point or collection with that id or name */
    QV_EEXIST,      /* a collection with that name exists already */
    QV_ENOMEM,      /* an allocation failed */
    QV_EIO,         /* a read, write, fsync or rename failed */
    QV_ECORRUPT,    /* a file failed its checks (magic, checksum, bounds) */
    QV_EFORMAT,     /* a file is of an unsupported type or version */
    QV_EINTERNAL,   /* a broken invariant inside Quiver: a bug, please report */
    QV_STATUS_COUNT /* number of status codes, not a status */
} qv_status;

/* A fixed English sentence describing status.  Never NULL; the string is
 * static.  Unknown values give "unknown status". */
QV_API const char *qv_strerror(qv_status status);

/* The short symbolic name of status ("QV_EDIM").  Never NULL; static. */
QV_API const char *qv_status_name(qv_status status);

/* ------------------------------------------------------------------------ */
/* Build information                                                        */
/* ------------------------------------------------------------------------ */

typedef struct qv_build_info {
    const char *version; /* QV_VERSION_STRING */
    const char
        *simd_level; /* kernels in use: "scalar", "avx2", "avx512", "neon" */
    const char *simd_available; /* comma-separated levels this CPU can run */
    const char *build_type; /* CMake build type the library was built with */
    const char *blas;       /* BLAS used for batch search, e.g. "openblas" */
} qv_build_info;

/* Fills *info with static strings valid for the life of the process.
 * The SIMD level is chosen once, at the first call into Quiver that needs
 * it, from what the CPU reports, or from the environment variable
 * QUIVER_SIMD=scalar|avx2|avx512|neon if it is set and the CPU can run that
 * level.  Thread-safe. */
QV_API void qv_build_info_get(qv_build_info *info);

/* ------------------------------------------------------------------------ */
/* Point ids                                                                */
/* ------------------------------------------------------------------------ */

/* Point ids are Qdrant's: an unsigned 64-bit integer or a UUID.  Ids order
 * as Qdrant orders them: every integer before every UUID, integers
 * numerically, UUIDs by their 16 bytes. */
typedef enum qv_id_kind { QV_ID_NUM = 0, QV_ID_UUID = 1 } qv_id_kind;

typedef struct qv_point_id {
    uint32_t kind;     /* a qv_id_kind */
    uint32_t reserved; /* zero */
    union {
        uint64_t num;
        uint8_t uuid[16]; /* big-endian, as written in the text form */
    } u;
} qv_point_id;

/* The text form of a UUID id: 36 characters and a NUL. */
#define QV_UUID_STRLEN 37

/* An integer id.  Cannot fail. */
QV_API qv_point_id qv_id_from_num(uint64_t num);

/* Parses a UUID in any spelling Qdrant accepts: hyphenated
 * ("550e8400-e29b-41d4-a716-446655440000"), simple (32 hex digits), braced
 * ("{...}") and URN ("urn:uuid:..."), hex digits in either case.
 * Returns QV_ENULL or QV_EINVAL (with *out untouched). */
QV_API qv_status qv_id_parse_uuid(const char *text, qv_point_id *out);

/* Writes id's text form to buf (cap bytes): a decimal integer, or a UUID in
 * lowercase hyphenated form.  A buffer of 37 bytes always suffices.
 * Returns QV_ENULL, QV_EINVAL for a malformed id, QV_ERANGE if cap is too
 * small. */
QV_API qv_status qv_id_format(const qv_point_id *id, char *buf, size_t cap);

/* <0, 0 or >0 as a sorts before, equal to or after b. */
QV_API int qv_id_compare(const qv_point_id *a, const qv_point_id *b);

/* ------------------------------------------------------------------------ */
/* Collections                                                              */
/* ------------------------------------------------------------------------ */

typedef enum qv_metric {
    QV_METRIC_COSINE = 0,
    QV_METRIC_DOT = 1,
    QV_METRIC_EUCLID = 2,
    QV_METRIC_MANHATTAN = 3
} qv_metric;

#define QV_MIN_DIM 1u
#define QV_MAX_DIM 65536u

/* Qdrant's names: "Cosine", "Dot", "Euclid", "Manhattan".  Static; NULL for
 * an unknown metric. */
QV_API const char *qv_metric_name(qv_metric metric);

/* Parses a metric name, case-insensitively ("cosine", "Dot", "l2" and "l1"
 * are accepted too).  Returns QV_ENULL or QV_EINVAL. */
QV_API qv_status qv_metric_parse(const char *name, qv_metric *out);

/* True when higher scores are better for metric (cosine, dot). */
QV_API bool qv_metric_higher_is_better(qv_metric metric);

/* The raw similarity a float32 search computes between a and b (dim floats
 * each) under metric, with the same SIMD kernels: the dot product for dot
 * and cosine (cosine vectors must already be unit length, as stored ones
 * are), minus the squared L2 distance for euclid, minus the L1 distance
 * for manhattan.  Scores derived from it (relevance feedback, context
 * pairs) then agree bit for bit with search scores.  QV_ENULL, or
 * QV_EINVAL for an unknown metric or dim 0.  Thread-safe. */
QV_API qv_status qv_vector_similarity(qv_metric metric, const float *a,
                                      const float *b, uint32_t dim, float *out);

/* HNSW parameters, named as in Qdrant's hnsw_config. */
#define QV_MIN_HNSW_M           2u
#define QV_DEFAULT_HNSW_M       16u
#define QV_MAX_HNSW_M           128u
#define QV_MIN_EF_CONSTRUCT     4u
#define QV_DEFAULT_EF_CONSTRUCT 100u
#define QV_MAX_EF_CONSTRUCT     4096u
/* Below this many kilobytes of vectors a collection is searched exactly, as
 * Qdrant's full_scan_threshold (which is in kilobytes too). */
#define QV_DEFAULT_FULL_SCAN_THRESHOLD_KB 10000u
#define QV_MAX_INDEXING_THREADS           64u

typedef struct qv_collection_config {
    uint32_t dim;     /* QV_MIN_DIM..QV_MAX_DIM; no default, must be set */
    qv_metric metric; /* default QV_METRIC_COSINE */
    uint32_t hnsw_m;  /* links per node, QV_MIN_HNSW_M..QV_MAX_HNSW_M */
    uint32_t hnsw_ef_construct; /* QV_MIN_EF_CONSTRUCT..QV_MAX_EF_CONSTRUCT */
    uint32_t full_scan_threshold_kb; /* 0 = always use the index */
    uint64_t hnsw_seed; /* seed of the level generator; default 0x5155495645 */
    uint32_t max_indexing_threads; /* threads of a batch insert's graph
                                      build, 0..QV_MAX_INDEXING_THREADS;
                                      0 = one per CPU (as Qdrant) */
    /* Sparse vectors ("Sparse vectors" below).  Zero-initialised: dense. */
    uint32_t kind;            /* QV_VECTOR_DENSE (0) or QV_VECTOR_SPARSE */
    uint32_t sparse_modifier; /* QV_SPARSE_MODIFIER_NONE (0) or _IDF */
    uint32_t sparse_full_scan_threshold; /* points; 0: the default
                                            (QV_DEFAULT_SPARSE_FULL_SCAN) */
    /* multivectors ("Multivectors" below) */
    uint32_t multivector; /* a qv_multivector; default QV_MULTIVECTOR_NONE */
    /* Quantization (see "Quantization" at the end): codes kept beside the
     * float vectors and walked by HNSW searches.  All zero: none. */
    uint32_t quantization;         /* a qv_quantization_kind */
    float quant_quantile;          /* int8: 0.5..1; 0 = unset (whole range) */
    bool quant_always_ram;         /* recorded and shown; codes are in RAM */
    uint32_t quant_encoding;       /* binary: a qv_binary_encoding;
                                      product: a qv_pq_compression */
    uint32_t quant_query_encoding; /* binary: a qv_binary_query_encoding */
    uint32_t version; /* layout: 0, 1 or QV_COLLECTION_CONFIG_VERSION (the
                         default); larger: QV_EINVAL ("Conventions") */
    /* Layout 2.  The element type of the vectors (a qv_datatype), as
     * Qdrant's VectorParams.datatype; read only when version >= 2 (a
     * layout 0 or 1 caller gets QV_DATATYPE_FLOAT32).  It sits in what
     * was tail padding of layout 1, so the struct's size is unchanged
     * (80 bytes on LP64) and a copy written to an older caller stays
     * inside its struct. */
    uint32_t datatype;
} qv_collection_config;

/* The current layout of qv_collection_config.  Copies the library hands
 * out (qv_collection_get_config, qv_snapshot_describe) carry it.
 * History: 1, the first published layout (0 means the same); 2 added
 * datatype. */
#define QV_COLLECTION_CONFIG_VERSION 2u

/*
 * Vector datatypes (Qdrant's "datatype": "float32" | "float16" | "uint8").
 * Every vector written to a collection -- points, multivector rows, and
 * queries too -- is first converted to the collection's element type, as
 * Qdrant 1.19 converts them (lib/segment/src/data_types/primitive.rs):
 *   FLOAT16  each component is rounded to the nearest IEEE half (ties to
 *            even), after cosine normalisation.  A component whose
 *            magnitude rounds beyond the largest half (65504) is refused
 *            with QV_ERANGE (Qdrant would store an infinity).
 *   UINT8    each component is cast as Rust's `x as u8`: truncated toward
 *            zero and saturated to 0..255 (-3 -> 0, 2.9 -> 2, 300 -> 255).
 *            Qdrant does not refuse such values and neither does Quiver.
 *            Under cosine the bytes are not normalised: as Qdrant's
 *            CosineMetric for VectorElementTypeByte (lib/segment/src/
 *            spaces/metric_uint/simple_cosine.rs), the score is
 *            dot / sqrt(|a|^2 |b|^2) computed on the bytes (integer sums,
 *            then float), 0 when either vector is all zeros.
 * Reads (qv_get, qv_multi_get, scroll with vectors) return the converted
 * values as floats: halves widened exactly, integers 0..255.
 * Storage: rows and multivector matrices are kept in the element type --
 * 2 bytes a dimension for FLOAT16, 1 for UINT8 -- in memory, in on_disk
 * files and in snapshot files (qv_collection_vector_bytes); queries are
 * converted the same way and scored on the narrow rows.
 */
typedef enum qv_datatype {
    QV_DATATYPE_FLOAT32 = 0,
    QV_DATATYPE_FLOAT16 = 1,
    QV_DATATYPE_UINT8 = 2
} qv_datatype;

/* Sets every field to its default, version to
 * QV_COLLECTION_CONFIG_VERSION.  NULL is ignored. */
QV_API void qv_collection_config_init(qv_collection_config *cfg);

typedef struct qv_collection qv_collection;

/* A compiled filter over payloads ("Filters" below). */
typedef struct qv_filter qv_filter;

/* Creates an empty collection that belongs to no store.  On success *out
 * holds one reference, which the caller releases with
 * qv_collection_release.  Returns QV_ENULL, QV_ERANGE (dim, hnsw_m,
 * hnsw_ef_construct, max_indexing_threads), QV_EINVAL (metric, an unknown
 * datatype, or a version newer than
 * QV_COLLECTION_CONFIG_VERSION) or QV_ENOMEM, with *out set to NULL. */
QV_API qv_status qv_collection_create(const qv_collection_config *cfg,
                                      qv_collection **out);

/* Takes one more reference to c (for another thread, say).  NULL is
 * ignored.  Thread-safe. */
QV_API void qv_collection_retain(qv_collection *c);

/* Drops one reference; the last one frees the collection.  NULL is ignored.
 * The caller must not use c after releasing its reference.  Thread-safe. */
QV_API void qv_collection_release(qv_collection *c);

/* Copies the collection's configuration to *out, with version set to
 * QV_COLLECTION_CONFIG_VERSION whatever the creator passed.  Returns
 * QV_ENULL. */
QV_API qv_status qv_collection_get_config(const qv_collection *c,
                                          qv_collection_config *out);

/* Qdrant's `on_disk: true` for dense vectors: moves c's float vectors into
 * a shared mapping of an unnamed file (O_TMPFILE) made in dir (NULL: the
 * environment's TMPDIR, else /tmp), so that they live in the page cache,
 * which the kernel can write back and drop, instead of on the heap; rows
 * written later grow the same file.  Vectors that a snapshot lent the
 * collection stay in that file's mapping until the collection first
 * grows, then move to the arena.  The file holds no durable state (the
 * log and the snapshots do; it vanishes with the collection) and the
 * setting is not saved: set it again after each open (the server does,
 * from its catalog).  Quantized codes, ids, norms, payloads and the graph
 * stay in RAM.  Searches return exactly what they return on the heap.
 * Calling it again is a no-op.  Returns QV_OK, QV_ENULL, QV_EINVAL (a
 * sparse or multivector collection), QV_EIO (dir refuses an unnamed file)
 * or QV_ENOMEM, with nothing changed on failure.  Writer (takes the write
 * lock). */
QV_API qv_status qv_collection_set_vectors_on_disk(qv_collection *c,
                                                   const char *dir);

/* Qdrant's `hnsw_config.on_disk: true`: keeps the level-0 links of c's
 * HNSW graph (its bulk: 2m+1 32-bit words a point) in a shared mapping of
 * an unnamed file in dir, as qv_collection_set_vectors_on_disk does for
 * vectors, also for every graph rebuilt later; the upper levels, the
 * level and degree arrays stay in RAM.  Links lent by a snapshot stay in
 * its mapping until the graph first grows.  Not saved: set it after each
 * open.  Searches return exactly what they return with the graph on the
 * heap.  Calling it again is a no-op.  Returns QV_OK, QV_ENULL, QV_EINVAL
 * (a sparse collection), QV_EIO (dir refuses an unnamed file, or no
 * memory for it) or QV_ENOMEM, with nothing changed on failure.  Writer
 * (takes the write lock). */
QV_API qv_status qv_collection_set_graph_on_disk(qv_collection *c,
                                                 const char *dir);

/* Copies the message of the last failure on c (or "" if none) into buf,
 * truncated to cap-1 bytes and NUL-terminated.  Returns the full message
 * length.  Thread-safe; see "Conventions" above for concurrent failures. */
QV_API size_t qv_collection_errmsg(const qv_collection *c, char *buf,
                                   size_t cap);

/* ------------------------------------------------------------------------ */
/* Points                                                                   */
/* ------------------------------------------------------------------------ */

/* Inserts the point or replaces the vector of an existing point with the same
 * id.  An existing point keeps its payload (unlike Qdrant's upsert, which
 * replaces the whole point: use qv_upsert_with_payloads for that).  vec holds
 * dim floats; it is copied (and normalised under cosine). Returns QV_ENULL,
 * QV_EINVAL (malformed id), QV_EDIM (dim differs from the collection's),
 * QV_ENONFINITE, QV_ERANGE (the collection already holds its maximum of 2^31 -
 * 1 points) or QV_ENOMEM. Writer: takes the collection's write lock. */
QV_API qv_status qv_upsert(qv_collection *c, const qv_point_id *id,
                           const float *vec, uint32_t dim);

/* Upserts n points at once: ids[i] gets the vector at vecs + i*dim.  The
 * batch is all or nothing: every vector and id is checked before anything
 * changes, and on any error the collection is unchanged.  When an id appears
 * more than once, the last occurrence wins.  n may be 0.
 * Returns what qv_upsert returns.  Writer. */
QV_API qv_status qv_upsert_batch(qv_collection *c, const qv_point_id *ids,
                                 const float *vecs, size_t n, uint32_t dim);

/* Copies the stored vector of point id (normalised under cosine) into out,
 * which holds dim floats.  Returns QV_ENULL, QV_EINVAL, QV_EDIM or
 * QV_ENOTFOUND.  Reader. */
QV_API qv_status qv_get(qv_collection *c, const qv_point_id *id, float *out,
                        uint32_t dim);

/* True (in *out) if point id exists.  Returns QV_ENULL or QV_EINVAL. Reader. */
QV_API qv_status qv_contains(qv_collection *c, const qv_point_id *id,
                             bool *out);

/* Deletes point id; its storage is reused by later inserts.  Returns
 * QV_ENULL, QV_EINVAL or QV_ENOTFOUND (and changes nothing).  Writer. */
QV_API qv_status qv_delete(qv_collection *c, const qv_point_id *id);

/* Deletes every point of ids[0..n) that exists; absent ids and repeated
 * ids are no error.  *deleted (may be NULL) gets the number of points
 * removed (0 when the call fails).  One change: on a durable collection it is
 * ONE log record (the ids that were present), so after a crash it is there
 * whole or not at all, and it takes the write lock once (a 2,000-id delete
 * costs one fsync, not 2,000).  n may be 0.  Returns QV_ENULL, QV_EINVAL (a
 * malformed id; nothing deleted) or QV_ENOMEM.  Writer. */
QV_API qv_status qv_delete_batch(qv_collection *c, const qv_point_id *ids,
                                 size_t n, uint64_t *deleted);

/* The number of points in c.  Returns QV_ENULL.  Reader. */
QV_API qv_status qv_count(qv_collection *c, uint64_t *out);

/* The number of points in c, or -- while a writer holds the collection --
 * the last count a reader saw.  Never waits for a lock, so monitoring
 * (Qdrant's "approximate amount of points" metric) is never held up by a
 * long write.  Returns QV_ENULL.  Safe from any thread at any time. */
QV_API qv_status qv_count_approx(qv_collection *c, uint64_t *out);

/* Stores in *out the number of points the collection's HNSW graph holds
 * and searches use: 0 while the collection is below its
 * full_scan_threshold_kb (no graph is built yet) or while the graph is
 * stale, else the live points.  Returns QV_ENULL.  Reader. */
QV_API qv_status qv_indexed_count(qv_collection *c, uint64_t *out);

/* Pages through the points in id order.  Writes up to limit ids, the
 * smallest that are >= *start (or from the first if start is NULL) and
 * match filter (NULL: every point), to ids_out and their count to *n_out.  If
 * more points follow, *next gets the id to pass as start for the next page and
 * *has_next is true.  next and has_next may be NULL.  Cost: one pass over the
 * points -- or over the candidates the payload indexes leave for the filter
 * -- O(n log limit). Returns QV_ENULL, QV_EINVAL, QV_ERANGE (limit 0) or
 * QV_ENOMEM.  Reader.  (To page in payload order, see qv_scroll_order_by.) */
QV_API qv_status qv_scroll(qv_collection *c, const qv_point_id *start,
                           const qv_filter *filter, size_t limit,
                           qv_point_id *ids_out, size_t *n_out,
                           qv_point_id *next, bool *has_next);

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */
/* ------------------------------------------------------------------------ */

/* Every point carries a JSON object payload, empty ({}) until set.  It is
 * stored in a compact binary form, not as a tree of heap objects.  Payload
 * texts are len bytes of JSON; a text that is not an object, is malformed,
 * nests deeper than 64 levels or exceeds 64 MiB is refused with QV_EINVAL
 * or QV_ERANGE and a message. */

/* Upserts like qv_upsert_batch and gives point i the payload payloads[i]
 * (lens[i] bytes; a NULL payloads[i] means {}), replacing any payload the
 * point had.  All or nothing: every payload is parsed before anything
 * changes.  Writer. */
QV_API qv_status qv_upsert_with_payloads(
    qv_collection *c, const qv_point_id *ids, const float *vecs, size_t n,
    uint32_t dim, const char *const *payloads, const size_t *lens);

/* Replaces point id's whole payload (Qdrant's overwrite_payload).
 * Returns QV_ENULL, QV_EINVAL, QV_ERANGE, QV_ENOTFOUND or QV_ENOMEM.
 * Writer. */
QV_API qv_status qv_payload_overwrite(qv_collection *c, const qv_point_id *id,
                                      const char *json, size_t len);

/* Merges the object json into point id's payload (Qdrant's set_payload):
 * its top-level keys replace the payload's.  With key (a path such as
 * "meta.source", "items[0].meta" or "items[].meta"; NULL for none), the
 * merge happens inside each object the path reaches, which is created if
 * missing, as in Qdrant: a non-object on a key step becomes {}, a
 * non-array under [n] or [] becomes [], [n] past the end and [] on an
 * empty array reach nothing.  Errors as overwrite.  Writer. */
QV_API qv_status qv_payload_set(qv_collection *c, const qv_point_id *id,
                                const char *json, size_t len, const char *key);

/* Removes the n key paths keys[] from point id's payload (absent keys are
 * no error), as Qdrant's delete_payload: "a[].b" removes b from every
 * element of a, "a[]" empties a, a path ending in [n] removes nothing.
 * Returns QV_ENULL, QV_EINVAL, QV_ENOTFOUND or QV_ENOMEM.  Writer. */
QV_API qv_status qv_payload_delete_keys(qv_collection *c, const qv_point_id *id,
                                        const char *const *keys, size_t n);

/* Empties point id's payload.  Returns QV_ENULL, QV_EINVAL or
 * QV_ENOTFOUND.  Writer. */
QV_API qv_status qv_payload_clear(qv_collection *c, const qv_point_id *id);

/* One payload edit of qv_payload_edit_batch; the fields mean what the
 * arguments of the single-point call of the same name mean. */
typedef enum qv_payload_edit_kind {
    QV_PAYLOAD_EDIT_SET = 1,         /* json, len, key (qv_payload_set) */
    QV_PAYLOAD_EDIT_OVERWRITE = 2,   /* json, len (qv_payload_overwrite) */
    QV_PAYLOAD_EDIT_DELETE_KEYS = 3, /* keys, n_keys (_delete_keys) */
    QV_PAYLOAD_EDIT_CLEAR = 4        /* nothing (qv_payload_clear) */
} qv_payload_edit_kind;

typedef struct qv_payload_edit {
    qv_payload_edit_kind kind;
    const char *json; /* SET, OVERWRITE: len bytes of JSON (an object) */
    size_t len;
    const char *key;         /* SET: a key path to merge into, or NULL */
    const char *const *keys; /* DELETE_KEYS: n_keys key paths */
    size_t n_keys;
} qv_payload_edit;

/* Applies the edits edits[0..n_edits), in order, to the payload of each
 * point ids[0..n) -- e.g. Qdrant's set_payload on a list of points is one
 * SET edit, overwrite_payload with a key is SET, DELETE_KEYS, SET.  All or
 * nothing: every id must exist and every edit must succeed on every point
 * before any payload changes; on any error the collection is unchanged.
 * On a durable collection the whole call is ONE log record, so after a
 * crash it is there whole or not at all.  A repeated id gets the edits
 * once (each copy is computed from the payload before the call).  n may
 * be 0; n_edits must be at least 1.  Nothing is borrowed after the call
 * returns.  Returns QV_ENULL, QV_EINVAL (bad JSON, a bad edit kind,
 * n_edits 0, a malformed id), QV_ERANGE, QV_ENOTFOUND (an id is absent; the
 * message names it), QV_ECORRUPT (a point's payload in the snapshot is
 * damaged) or QV_ENOMEM.  Writer. */
QV_API qv_status qv_payload_edit_batch(qv_collection *c, const qv_point_id *ids,
                                       size_t n, const qv_payload_edit *edits,
                                       size_t n_edits);

/* Which part of a payload to return: everything (the default, both lists
 * empty), only the n_include key paths, or all but the n_exclude ones,
 * with Qdrant's rules (paths may use [] for array elements; "a.b" keeps a
 * holding only its b; see core/payload/payload.h for the details). */
typedef struct qv_payload_select {
    const char *const *include;
    size_t n_include;
    const char *const *exclude;
    size_t n_exclude;
} qv_payload_select;

/* Writes point id's payload as compact JSON text to a new allocation
 * *json (NUL-terminated, *len bytes without the NUL), which the caller
 * frees with qv_free.  sel may be NULL for the whole payload.  Returns
 * QV_ENULL, QV_EINVAL, QV_ENOTFOUND or QV_ENOMEM.  Reader. */
QV_API qv_status qv_payload_get(qv_collection *c, const qv_point_id *id,
                                const qv_payload_select *sel, char **json,
                                size_t *len);

/* The number of points matching filter (all points when NULL), counted
 * exactly: from the payload indexes alone when they answer the filter
 * exactly, else by checking the candidates they leave (or every point).
 * Returns QV_ENULL, QV_EINVAL (a full-text query of more than 1024 tokens)
 * or QV_ENOMEM.  Reader. */
QV_API qv_status qv_count_filter(qv_collection *c, const qv_filter *filter,
                                 uint64_t *out);

/* Stores in *out the bytes the payloads of c's points take in their
 * stored (compact, payload.c) form, summed over the live points at the
 * moment of the call: an estimate of the payload storage, as Qdrant's
 * payloads_size_bytes is (server/strict.c checks
 * max_collection_payload_size_bytes against it).  An empty payload counts
 * 0.  O(slots) under the read lock.  Returns QV_ENULL.  Reader. */
QV_API qv_status qv_payload_bytes(qv_collection *c, uint64_t *out);

/* Deletes every point matching filter (which may not be NULL) and writes
 * their number to *deleted (may be NULL).  The payload indexes narrow the
 * points checked, as for qv_count_filter.  Returns QV_ENULL, QV_EINVAL or
 * QV_ENOMEM (nothing deleted).  Writer. */
QV_API qv_status qv_delete_filter(qv_collection *c, const qv_filter *filter,
                                  uint64_t *deleted);

/* ------------------------------------------------------------------------ */
/* Payload indexes                                                          */
/* ------------------------------------------------------------------------ */

/* A payload index maps the values at one key path of every payload to the
 * points holding them, so that filters on the key are answered by lookups
 * (count and delete by filter, scroll, and the search planner's choice
 * between the graph and a scan).  Results are the same with and without
 * indexes, with one exception that is Qdrant's: see QV_INDEX_TEXT.
 *
 * An index holds each value at its key, and each element of a value that
 * is an array (one level), as filter conditions see them: key paths may use
 * [] and [n] ("tags[]", "chunks[].page").  Indexes are kept up to date by
 * every write (upserts with payloads, overwrite, set, delete keys, clear,
 * delete, delete by filter).  A write never fails because of an index: an
 * index that runs out of memory stops answering (queries then read the
 * payloads, with the same results) and is rebuilt by a later write.
 *
 * The kinds are Qdrant's field schemas; their names (qv_index_kind_name)
 * are Qdrant's: */
typedef enum qv_index_kind {
    /* "keyword": strings.  Answers match value / any on strings. */
    QV_INDEX_KEYWORD = 0,
    /* "integer" and "float": numbers (both hold integral and fractional
     * numbers alike).  Answer match value / any on integers, range on
     * numbers, and order scrolls (qv_scroll_order_by). */
    QV_INDEX_INTEGER = 1,
    QV_INDEX_FLOAT = 2,
    /* "bool": true / false.  Answers match value on booleans. */
    QV_INDEX_BOOL = 3,
    /* "datetime": strings that parse as RFC 3339 date-times.  Answers
     * date-time ranges and orders scrolls. */
    QV_INDEX_DATETIME = 4,
    /* "uuid": strings that parse as UUIDs.  Narrows match value / any on
     * UUID strings (the strings are then compared as written). */
    QV_INDEX_UUID = 5,
    /* "text": full text.  Strings are cut into lowercase tokens (runs of
     * letters and digits, Unicode letters included; other tokenizers,
     * folding, stopwords and stemmers: qv_payload_index_create_text).  As in
     * Qdrant, a full-text index CHANGES the meaning of match text / text_any /
     * phrase on its key: without it, text and phrase are a case-sensitive
     * substring match of the whole query; with it, text needs every query
     * token among the point's tokens (all its strings at the key together),
     * text_any one of them, phrase all of them consecutive and in order; a
     * query without a token matches nothing.  Inside a nested condition the
     * substring meaning stays. */
    QV_INDEX_TEXT = 6,
    /* "geo": objects with numeric lon and lat.  Narrows geo_radius,
     * geo_bounding_box and geo_polygon to a band of latitudes. */
    QV_INDEX_GEO = 7,
    QV_INDEX_KIND_COUNT /* number of kinds, not a kind */
} qv_index_kind;

/* Qdrant's name of kind ("keyword", "integer", "float", "bool",
 * "datetime", "uuid", "text", "geo").  Static; NULL for an unknown kind.
 * Thread-safe. */
QV_API const char *qv_index_kind_name(qv_index_kind kind);

/* Parses a kind name, case-insensitively.  Returns QV_ENULL or QV_EINVAL.
 * Thread-safe. */
QV_API qv_status qv_index_kind_parse(const char *name, qv_index_kind *out);

/* Creates an index of kind on key (a key path as in filters: "a.b",
 * "a[].b", "a.\"x.y\"") and builds it from the current payloads.  One
 * index per key: an index of the same kind there already is a success that
 * changes nothing; one of another kind is replaced.  Keys are compared in
 * canonical form ("a.\"b\"" is "a.b").  Building holds the write lock:
 * readers wait for it (about a second per million points).
 * Returns QV_ENULL, QV_EINVAL (malformed key, unknown kind) or QV_ENOMEM
 * (the collection is then unchanged).  Writer. */
QV_API qv_status qv_payload_index_create(qv_collection *c, const char *key,
                                         qv_index_kind kind);

/* Drops the index on key.  Filters on the key keep working (by reading the
 * payloads); match text on a dropped full-text key is a substring match
 * again.  Returns QV_ENULL, QV_EINVAL (malformed key) or QV_ENOTFOUND (no
 * index on key).  Writer. */
QV_API qv_status qv_payload_index_drop(qv_collection *c, const char *key);

/* One index, as qv_payload_index_list reports it (Qdrant's
 * payload_schema). */
typedef struct qv_payload_index_info {
    const char *key; /* canonical key path; lives in the list's allocation */
    qv_index_kind kind;
    uint64_t points; /* points with at least one value indexed */
    uint64_t bytes;  /* heap memory the index holds (0 while it waits for a
                        rebuild after running out of memory) */
} qv_payload_index_info;

/* The indexes of c, in creation order, as one allocation: *out is an array
 * of *n entries (never NULL on success, even for none), freed as a whole
 * with qv_free.  Returns QV_ENULL or QV_ENOMEM.  Reader. */
QV_API qv_status qv_payload_index_list(qv_collection *c,
                                       qv_payload_index_info **out, size_t *n);

/* A payload number as it was written: Qdrant's OrderValue (Int(i64) |
 * Float(f64)), widened by a u64 for integers above INT64_MAX, which
 * payloads keep exactly.  Zero-initialised it is the double 0.0. */
typedef enum qv_number_kind {
    QV_NUM_DOUBLE = 0, /* v.d, finite */
    QV_NUM_INT,        /* v.i */
    QV_NUM_UINT,       /* v.u, above INT64_MAX when the library writes it */
} qv_number_kind;

typedef struct qv_number {
    qv_number_kind kind;
    union {
        double d;
        int64_t i;
        uint64_t u;
    } v;
} qv_number;

/* How qv_scroll_order_by orders. */
typedef struct qv_order_by {
    const char *key;   /* a key with an integer, float or datetime index */
    bool descending;   /* default false: ascending */
    bool use_start;    /* default false: from the first value */
    double start_from; /* with use_start: start at this value, inclusive
                          (the values >= it ascending, <= it descending) */
    uint32_t version;  /* layout: 0, 1 or QV_ORDER_BY_VERSION (the default);
                          larger: QV_EINVAL ("Conventions") */
    /* Layout 2.  With use_start, an integer start (kind QV_NUM_INT or
     * QV_NUM_UINT) takes the place of start_from, so that 2^53 + 1 or
     * 2^64 - 1 is not rounded to a double; kind QV_NUM_DOUBLE (the
     * default) leaves start_from in charge and its v.d is ignored.  Any
     * other kind: QV_EINVAL. */
    qv_number start_exact;
} qv_order_by;

/* The current layout of qv_order_by.  History: 1, the first; 2 (2026-12)
 * added start_exact. */
#define QV_ORDER_BY_VERSION 2u

/* Sets every field to its default (key NULL), version to
 * QV_ORDER_BY_VERSION.  NULL is ignored. */
QV_API void qv_order_by_init(qv_order_by *o);

/* Scroll ordered by the value at a payload key, Qdrant's scroll with
 * order_by.  Writes up to limit (id, value) pairs of the points matching
 * filter (NULL: every point) to ids_out and values_out (may be NULL), in
 * value order, and their number to *n_out.  As in Qdrant, a point with
 * several values at the key appears once per distinct value; equal values
 * come in slot order (ascending) or its reverse (descending), and there is
 * no next-page id: to page, start_from the last value seen and exclude
 * the ids already seen with a must_not has_id filter.  Values of a datetime
 * key are seconds since 1970-01-01T00:00:00Z (with the fraction).  The key
 * needs a range index (integer, float or datetime), as in Qdrant.
 *
 * Numbers are ordered exactly, as Qdrant's OrderValue orders them:
 * integers (i64, and u64 above INT64_MAX) by their value, integers and
 * doubles as numbers (2^53 + 1 sorts after the double 2^53), so paging
 * with start_from never skips or repeats a value.  A number equal to
 * another of the other kind (the integer 2 and the double 2.0) comes
 * right before it, integers first (ascending).  values_out gets each
 * value's nearest double; qv_scroll_order_by_exact reports them exactly.
 *
 * Returns QV_ENULL, QV_ERANGE (limit 0, start_from NaN), QV_EINVAL
 * (order->version newer than QV_ORDER_BY_VERSION, start_exact of an
 * unknown kind, key malformed or without such an index: "No range index
 * for `order_by` key: `k`. ...") or QV_ENOMEM (also while the index is
 * being rebuilt after an allocation failure).  Reader. */
QV_API qv_status qv_scroll_order_by(qv_collection *c, const qv_order_by *order,
                                    const qv_filter *filter, size_t limit,
                                    qv_point_id *ids_out, double *values_out,
                                    size_t *n_out);

/* qv_scroll_order_by with each value as it is in the payload: an integer
 * as QV_NUM_INT (or QV_NUM_UINT above INT64_MAX), a double as
 * QV_NUM_DOUBLE; a date-time as QV_NUM_DOUBLE seconds, as above.
 * values_out may be NULL.  Same statuses. */
QV_API qv_status qv_scroll_order_by_exact(qv_collection *c,
                                          const qv_order_by *order,
                                          const qv_filter *filter, size_t limit,
                                          qv_point_id *ids_out,
                                          qv_number *values_out, size_t *n_out);

/* ------------------------------------------------------------------------ */
/* Search                                                                   */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Filters                                                                  */
/* ------------------------------------------------------------------------ */

/* qv_filter, a compiled Qdrant filter, is declared with the collections
 * above: must / should / must_not / min_should with match, range, has_id,
 * is_empty, is_null, values_count, nested and geo conditions over payload
 * key paths.  Immutable once parsed: any number of threads may use one
 * filter at once. */

/* Compiles len bytes of JSON text holding a Qdrant Filter object.  On
 * failure *out is NULL and err (errcap bytes, may be NULL) names the
 * offending part, e.g. "must[2].range: needs at least one of gt, gte, lt,
 * lte".  Returns QV_ENULL, QV_EINVAL, QV_ERANGE (a well-formed value out
 * of its range: a slice index not below its total) or QV_ENOMEM.
 * Thread-safe. */
QV_API qv_status qv_filter_parse(const char *json, size_t len, qv_filter **out,
                                 char *err, size_t errcap);

/* Frees a filter; NULL is ignored. */
QV_API void qv_filter_free(qv_filter *f);

#define QV_MIN_K 1u
#define QV_MAX_K 1000000u

typedef struct qv_search_params {
    uint32_t k;            /* results wanted, QV_MIN_K..QV_MAX_K; default 10 */
    bool use_threshold;    /* default false */
    float score_threshold; /* with use_threshold: keep score >= threshold for
                              cosine/dot, score <= threshold for distances */
    uint32_t hnsw_ef;      /* HNSW beam width; 0 = the default, max(k, 128) */
    bool exact;            /* true: exact search, bypassing the index */
    const qv_filter *filter; /* only points matching it; NULL: all points.
                                Borrowed for the duration of the call. */
    /* Quantization (see "Quantization" at the end) */
    bool quant_ignore;         /* search the float vectors only */
    uint32_t quant_rescore;    /* a qv_rescore; 0 = QV_RESCORE_AUTO */
    double quant_oversampling; /* >= 1; 0 = unset (1) */
    uint32_t version;          /* layout: 0 or QV_SEARCH_PARAMS_VERSION (the
                                  default); larger: QV_EINVAL ("Conventions") */
} qv_search_params;

/* The current layout of qv_search_params. */
#define QV_SEARCH_PARAMS_VERSION 1u

#define QV_MAX_EF 65536u

/* Sets every field to its default (k 10, no threshold, default ef, no
 * filter), version to QV_SEARCH_PARAMS_VERSION.  NULL is ignored. */
QV_API void qv_search_params_init(qv_search_params *params);

typedef struct qv_hit {
    qv_point_id id;
    float score;
} qv_hit;

/* Top-k search for one query of dim floats.  The search walks the HNSW
 * graph with beam width params->hnsw_ef when the collection holds at least
 * full_scan_threshold_kb kilobytes of vectors; otherwise, or with
 * params->exact, it scans every point exactly.  Writes up to k hits, best
 * first, to hits (which has room for params->k) and their number to
 * *n_hits (fewer than k when the collection is smaller or the threshold
 * cuts).  Equal scores are ordered deterministically (by storage slot).
 * The query is not modified.
 * With a filter, the payload indexes on its keys narrow the points and the
 * choice between graph and scan (see "Payload indexes").
 * Returns QV_ENULL, QV_EDIM, QV_ENONFINITE, QV_ERANGE (k, ef, threshold
 * NaN), QV_EINVAL (params->version newer than QV_SEARCH_PARAMS_VERSION, or
 * a full-text query of more than 1024 tokens on a key with a text index)
 * or QV_ENOMEM.  Reader. */
QV_API qv_status qv_search(qv_collection *c, const float *query, uint32_t dim,
                           const qv_search_params *params, qv_hit *hits,
                           size_t *n_hits);

/* Top-k search for nq queries at once (row-major, nq*dim floats).  When
 * qv_search would scan, the batch is searched exactly through blocked BLAS
 * matrix products (cosine, dot, euclid; manhattan by blocked scans), giving
 * the same results as nq calls of qv_search, ties and the last bits of
 * float rounding aside (returned scores are recomputed exactly).  When
 * qv_search would use the graph, each query walks the graph.  Query i gets
 * its hits at hits + i*k and their number at n_hits[i].  nq may be 0.
 * Returns what qv_search returns.  Reader. */
QV_API qv_status qv_search_batch(qv_collection *c, const float *queries,
                                 size_t nq, uint32_t dim,
                                 const qv_search_params *params, qv_hit *hits,
                                 size_t *n_hits);

/* ------------------------------------------------------------------------ */
/* JSON import and export                                                   */
/* ------------------------------------------------------------------------ */

/* The JSON files of the in-memory vector stores Quiver replaces.  Import
 * reads any of: a list of points [{"id","vector","payload"}] or the same
 * under "points" (QV_JSON_POINTS, what export writes), LangChain's
 * InMemoryVectorStore dump (QV_JSON_LANGCHAIN: id -> {"id","vector","text",
 * "metadata"}; payload {"page_content","metadata"}) and LlamaIndex's
 * SimpleVectorStore (embedding_dict, metadata_dict, text_id_to_ref_doc_id).
 * Ids that are unsigned integers (up to 2^53, JSON's exact range; export
 * writes larger ones as decimal strings, which import reads back as
 * integers) or UUIDs are kept; any other string id becomes a UUID derived from
 * it (XXH3-128, version 8) and the string is kept in the payload under
 * QV_JSON_ORIGINAL_ID_KEY, which export turns back into the id. */
#define QV_JSON_ORIGINAL_ID_KEY "_quiver_original_id"

typedef enum qv_json_format {
    QV_JSON_POINTS = 0,
    QV_JSON_LANGCHAIN = 1
} qv_json_format;

/* Reads the JSON store at path into a new collection configured by cfg;
 * cfg->dim 0 takes the dimension from the first vector.  Later duplicates
 * of an id replace earlier ones.  On success *out holds one reference.  On
 * failure *out is NULL and err (errcap bytes, may be NULL) names the file
 * and the point at fault.  Returns QV_ENULL, QV_EIO, QV_EFORMAT (not JSON
 * or an unknown layout), QV_EINVAL (bad id, vector or payload), QV_EDIM,
 * QV_ENONFINITE, QV_ERANGE or QV_ENOMEM.  Thread-safe. */
QV_API qv_status qv_json_import(const char *path,
                                const qv_collection_config *cfg,
                                qv_collection **out, char *err, size_t errcap);

/* Writes every point of c (in id order, vectors as stored: normalised under
 * cosine) to path in the given layout, crash-safely (temporary file, fsync,
 * rename, directory fsync).  Returns QV_ENULL, QV_EINVAL (format), QV_EIO or
 * QV_ENOMEM with a message in err.  Points written concurrently may or may
 * not appear; each appears whole.  Reader (page by page). */
QV_API qv_status qv_json_export(qv_collection *c, const char *path,
                                qv_json_format format, char *err,
                                size_t errcap);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/* A snapshot is one binary file holding a whole collection: configuration,
 * vectors, ids, payloads and the HNSW graph (format: docs/FORMAT.md,
 * versioned, every section checksummed with xxHash3-64).  Files are
 * native-endian; a file from a machine of the other byte order is refused
 * with QV_EFORMAT.
 *
 * Opening maps the file instead of reading it: the vectors, ids, id map,
 * payloads and graph are used where they lie in a private copy-on-write
 * mapping, so a million-point collection opens in milliseconds and pages
 * come in as searches touch them.  The opened collection is a normal one:
 * upserts, deletes and payload edits work on it (new points go to memory,
 * edits copy the touched pages; the file is never written), and
 * qv_snapshot_save writes everything back into one consistent file.
 *
 * Files are untrusted.  Every open validates the header, the section
 * table, the configuration and all offsets, sizes and counts, and checks
 * the checksums of the small sections.  The big sections' checksums, the
 * payloads and the graph's links are checked only with
 * QV_SNAPSHOT_VERIFY (or by qv_snapshot_verify): without it, a damaged
 * graph can give poor search results but never a crash, a damaged payload
 * is reported (QV_ECORRUPT) when it is first read, and the graph is checked
 * in full before the first write changes it, and rebuilt from the vectors
 * if it fails.  Quantized codes the file kept are mapped like the vectors
 * (their values are checked, int8's against their corrections, only with
 * QV_SNAPSHOT_VERIFY and when the collection is saved again: damaged codes
 * can give poor results, never a crash). */

/* qv_snapshot_open flag: check every checksum, every payload, the id map
 * and the whole graph before returning (linear in the file size). */
#define QV_SNAPSHOT_VERIFY 0x1u

/* Writes c to path crash-safely: the sections are streamed to a temporary
 * file "path.tmp-XXXXXX" in the same directory, which is fsynced, renamed
 * over path, and the directory fsynced; a crash leaves the old file or the
 * new one.  The file records c's write-ahead-log position (its lsn).
 * Returns QV_ENULL, QV_EIO (a failed create, write, fsync or rename: the
 * message, with the system's error text, is in c's errmsg; the temporary
 * file is removed) or QV_ENOMEM.  The collection is never changed.
 * Reader: holds c's shared lock while it copies the collection into the
 * file, so it may run concurrently with searches and other reads and it
 * blocks writers until the data is written (the final fsync runs after the
 * lock is released).  Saving over the file c was opened from is safe. */
QV_API qv_status qv_snapshot_save(qv_collection *c, const char *path);

/* Opens the snapshot at path as a new collection (flags: 0 or
 * QV_SNAPSHOT_VERIFY).  On success *out holds one reference; the file
 * stays mapped until the collection is freed, and must not be modified in
 * place meanwhile (replacing it by rename, as qv_snapshot_save does, is
 * safe).  On failure *out is NULL and err (errcap bytes, may be NULL) says
 * why, naming the section at fault ("section 'graph levels': ...").
 * Returns QV_ENULL, QV_EINVAL (unknown flags), QV_EIO (cannot open, stat
 * or map the file), QV_EFORMAT (not a snapshot, other byte order, version
 * or a required section this version does not know), QV_ECORRUPT (any
 * failed check) or QV_ENOMEM.  Thread-safe. */
QV_API qv_status qv_snapshot_open(const char *path, unsigned flags,
                                  qv_collection **out, char *err,
                                  size_t errcap);

/* Checks the snapshot at path as qv_snapshot_open with QV_SNAPSHOT_VERIFY
 * does, without keeping the collection.  Returns QV_OK or what
 * qv_snapshot_open returns, with a message in err.  Thread-safe. */
QV_API qv_status qv_snapshot_verify(const char *path, char *err, size_t errcap);

/* Checks a collection snapshot archive, the file the server writes for a
 * Qdrant collection snapshot (docs/FORMAT.md, "Collection snapshot
 * archives"): magic, version, the header's checksum, member sizes that
 * add up to the file exactly, each member's checksum, and each member as
 * qv_snapshot_verify checks a snapshot file.  *n_members (if not NULL)
 * gets the number of members on success.  Returns QV_OK, QV_ECORRUPT
 * (with the reason, naming the member, in err), QV_EIO or what a member's
 * open returns.  Thread-safe. */
QV_API qv_status qv_snapshot_archive_verify(const char *path,
                                            uint32_t *n_members, char *err,
                                            size_t errcap);

/* One section of a snapshot file, as qv_snapshot_describe lists it. */
typedef struct qv_snapshot_section_info {
    uint32_t kind; /* the kind number in the file (docs/FORMAT.md) */
    /* The kind's name ("vectors", "graph level-0 links", ...): a static
     * string; NULL for a kind this version does not know (such a section
     * is optional: a file with an unknown required kind is refused). */
    const char *name;
    bool required;        /* flagged required: a reader that does not know the
                             kind must refuse the file */
    bool checked_at_open; /* its checksum is checked by every open (and was
                             by qv_snapshot_describe); the others only with
                             QV_SNAPSHOT_VERIFY */
    uint64_t offset;      /* bytes from the start of the file */
    uint64_t length;      /* bytes */
    uint64_t checksum;    /* the XXH3-64 the file records for the bytes */
} qv_snapshot_section_info;

/* What a snapshot file holds, from its header, section table, config and
 * graph header (qv_snapshot_describe).  The library allocates it, so a
 * later version may append fields without breaking callers. */
typedef struct qv_snapshot_info {
    uint64_t file_bytes;      /* size of the file */
    uint32_t format_version;  /* the file format's version (docs/FORMAT.md) */
    uint64_t header_checksum; /* XXH3-64 recorded in (and checked against)
                                 the header */
    qv_collection_config config; /* the collection's config; its version
                                    field is QV_COLLECTION_CONFIG_VERSION */
    uint32_t stride;  /* floats per stored vector row (dim, padded) */
    uint64_t wal_lsn; /* write-ahead-log position the file covers */
    uint64_t points;  /* live points */
    uint32_t slots;   /* storage slots, live or deleted (points <= slots) */
    uint64_t idmap_buckets; /* buckets of the id -> slot hash table */
    /* The HNSW graph.  Without one (has_graph false: the collection is
     * searched exactly until a write builds it) the graph_* fields are 0
     * and graph_level_nodes is NULL. */
    bool has_graph;
    uint64_t graph_nodes;       /* nodes (= points) */
    int32_t graph_max_level;    /* top level; -1 for an empty graph */
    uint32_t graph_entry;       /* slot of the entry point */
    uint32_t graph_upper_nodes; /* nodes whose top level is above 0 */
    /* graph_max_level + 1 counts: graph_level_nodes[l] nodes have top
     * level l.  Lives in the info's allocation. */
    const uint64_t *graph_level_nodes;
    /* The section table, in the file's table order; lives in the info's
     * allocation. */
    size_t n_sections;
    const qv_snapshot_section_info *sections;
} qv_snapshot_info;

/* Reads what the snapshot at path holds without loading it: checks the
 * header, the section table, the config and graph header and the
 * checksums of the small sections exactly as qv_snapshot_open does (not
 * the big sections' checksums, the payloads or the graph's links: see
 * qv_snapshot_verify), and describes them.  The file is mapped read-only
 * and unmapped before the call returns; it must not be modified in place
 * meanwhile.  On success *out is one allocation, freed as a whole with
 * qv_free; nothing in it points into the file.  On failure *out is NULL
 * and err (errcap bytes, may be NULL) says why, naming the path and the
 * section at fault.  Returns QV_ENULL, QV_EIO (cannot open, stat or map
 * the file), QV_EFORMAT (not a snapshot, other byte order or version, an
 * unknown required section), QV_ECORRUPT or QV_ENOMEM.  Thread-safe. */
QV_API qv_status qv_snapshot_describe(const char *path, qv_snapshot_info **out,
                                      char *err, size_t errcap);

/* ------------------------------------------------------------------------ */
/* Durable file replacement                                                 */
/* ------------------------------------------------------------------------ */

/* The protocol Quiver writes its own files with, offered for the files an
 * application keeps beside them (a server's catalog, an archive of
 * snapshots), so that there is one implementation of it: the new contents
 * go to a temporary file "path.tmp-XXXXXX" in path's directory (rename is
 * atomic only within one file system), which is fsynced, renamed over
 * path, and then the directory is fsynced so that the rename itself
 * survives a crash.  A crash at any moment leaves the old file or the new
 * one, never a mixture (and possibly the temporary file).
 *
 * A writer belongs to one thread at a time.  Writers are independent of
 * each other and of every other Quiver object; two writers of the same
 * path do not clobber each other's temporary file, and the last commit
 * wins. */
typedef struct qv_file_writer qv_file_writer;

/* Creates the temporary file (mode 0644) that will replace path.  On
 * success *out is a writer, which must be finished by exactly one call of
 * qv_file_replace_commit or qv_file_replace_abort.  On failure *out is NULL
 * and err (errcap bytes, may be NULL) says why.  Returns QV_ENULL, QV_EIO
 * (the directory is missing or not writable) or QV_ENOMEM. */
QV_API qv_status qv_file_replace_begin(const char *path, qv_file_writer **out,
                                       char *err, size_t errcap);

/* Appends len bytes at data (buffered; len may be 0).  Returns QV_OK,
 * QV_ENULL (w NULL, or data NULL with len > 0) or QV_EIO.  A failed write
 * leaves the writer failed: later writes return QV_EIO at once and commit
 * removes the temporary file and returns QV_EIO, so a caller may write
 * several pieces and check only the commit. */
QV_API qv_status qv_file_replace_write(qv_file_writer *w, const void *data,
                                       size_t len);

/* Flushes and fsyncs the temporary file, renames it over path, fsyncs the
 * directory, and frees w, whatever happens.  Returns QV_OK, QV_ENULL (w
 * NULL) or QV_EIO with the failed step and the system's reason in err
 * (errcap bytes, may be NULL): a failed write, flush, fsync or rename
 * leaves path as it was and removes the temporary file; a failed fsync of
 * the directory comes after the rename, so path then has the new contents
 * but the replacement may not survive a crash. */
QV_API qv_status qv_file_replace_commit(qv_file_writer *w, char *err,
                                        size_t errcap);

/* Abandons w: closes and removes the temporary file and frees w; path is
 * unchanged.  NULL is ignored. */
QV_API void qv_file_replace_abort(qv_file_writer *w);

/* Removes the file at path and fsyncs its directory, so that the removal
 * survives a crash.  Returns QV_OK, QV_ENULL, QV_ENOTFOUND (no such file;
 * nothing done) or QV_EIO (the removal or the directory's fsync failed)
 * with the step and the system's reason in err (errcap bytes, may be
 * NULL).  Thread-safe. */
QV_API qv_status qv_file_remove_durable(const char *path, char *err,
                                        size_t errcap);

/* ------------------------------------------------------------------------ */
/* Stores: named collections                                                */
/* ------------------------------------------------------------------------ */

typedef struct qv_store qv_store;

/* Collection names: 1..QV_MAX_NAME bytes, none of < > : " / \ | ? * or
 * control characters, and not "." or "..". */
#define QV_MAX_NAME 255u

/* Creates an empty in-memory store.  Returns QV_ENULL or QV_ENOMEM. */
QV_API qv_status qv_store_open(qv_store **out);

/* Frees the store and drops its reference to each collection; collections
 * the application still holds stay valid until released (in a durable
 * store they then refuse writes: see "Durable stores").  NULL is ignored.
 * No other call on s may be running or follow. */
QV_API void qv_store_close(qv_store *s);

/* Copies the message of the last failure on s; as qv_collection_errmsg. */
QV_API size_t qv_store_errmsg(const qv_store *s, char *buf, size_t cap);

/* Creates collection name.  If out is not NULL it receives a new reference
 * the caller must release.  Returns QV_ENULL, QV_EINVAL (name), QV_ERANGE,
 * QV_EEXIST (the name is taken, whatever its config) or QV_ENOMEM; in a
 * durable store also QV_EIO (its directory or first snapshot could not be
 * written; nothing is left behind). */
QV_API qv_status qv_store_create(qv_store *s, const char *name,
                                 const qv_collection_config *cfg,
                                 qv_collection **out);

/* Like qv_store_create, but an existing collection of that name with the
 * same config is a success that changes nothing (*created is then false);
 * with another config it is QV_EEXIST.  out and created may be NULL. */
QV_API qv_status qv_store_ensure(qv_store *s, const char *name,
                                 const qv_collection_config *cfg,
                                 qv_collection **out, bool *created);

/* Looks up collection name; *out receives a new reference the caller must
 * release.  Returns QV_ENULL or QV_ENOTFOUND. */
QV_API qv_status qv_store_get(qv_store *s, const char *name,
                              qv_collection **out);

/* Removes collection name from the store.  Holders of references keep a
 * working collection until they release it (in a durable store it refuses
 * writes from then on).  Returns QV_ENULL or QV_ENOTFOUND; in a durable
 * store also QV_EIO (its directory could not be removed durably: the
 * collection stays). */
QV_API qv_status qv_store_drop(qv_store *s, const char *name);

/* The names of all collections, sorted, as one allocation: *names_out is an
 * array of *count_out strings, freed as a whole with qv_free.  Returns
 * QV_ENULL or QV_ENOMEM. */
QV_API qv_status qv_store_list(qv_store *s, char ***names_out,
                               size_t *count_out);

/* The number of points in all collections of s.  Returns QV_ENULL. */
QV_API qv_status qv_store_total_points(qv_store *s, uint64_t *out);

/* Frees memory Quiver allocated for the caller (qv_store_list,
 * qv_payload_get, qv_payload_index_list, qv_snapshot_describe).  NULL is
 * ignored. */
QV_API void qv_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Durable stores: snapshots and a write-ahead log                          */
/* ------------------------------------------------------------------------ */

/* A durable store keeps each collection in a directory on disk: a snapshot
 * (see qv_snapshot_save) plus a write-ahead log of every change made
 * since.  The layout, inside the store's directory:
 *
 *   LOCK                        held (flock) while the store is open
 *   collections/<name>/         snapshot.qvs and wal-<number>.log segments
 *   tmp/, trash/                collections being created or dropped
 *
 * Durability.  On a collection of a durable store, every writer (qv_upsert,
 * qv_upsert_batch, qv_upsert_with_payloads, qv_delete, qv_delete_batch,
 * qv_delete_filter, qv_payload_overwrite, _set, _delete_keys, _clear,
 * qv_payload_edit_batch) checks its input,
 * appends one log record holding that input while it holds the write lock
 * (so the log's order is the order of the changes), applies the change,
 * releases the lock, and returns QV_OK only once the record is on disk
 * (fdatasync).  A batch is one record: after a crash it is there whole or
 * not at all.  Concurrent writers share fsyncs (group commit): one thread
 * syncs for every record appended so far while the others wait, so N
 * concurrent writes cost far fewer than N fsyncs.
 *
 * Writer errors specific to durable collections:
 *   QV_EIO       the append failed (disk full, I/O error): the log is cut
 *                back and nothing changed.  Or the fsync failed: the change
 *                IS applied in memory but is not acknowledged and may be
 *                lost in a crash; the log is then marked failed and every
 *                later write is refused with QV_EIO, until a checkpoint
 *                (qv_store_checkpoint) succeeds, which writes a snapshot of
 *                everything held in memory.  Reads keep working throughout.
 *   QV_ERANGE    the change does not fit in one log record (256 MiB, e.g.
 *                a batch of 500,000 vectors of 128 floats): split it.
 *   QV_ENOTFOUND the collection was dropped from its store, or its store
 *                closed, while this handle was kept: it still reads, but no
 *                longer accepts writes (they could not be made durable).
 *
 * Checkpoints.  When a collection's log grows past checkpoint_wal_bytes,
 * the writer that crossed the line saves a snapshot and deletes the log
 * records it covers (its own write is already durable; the checkpoint adds
 * one snapshot save to its latency, and other writers wait only for one
 * fsync, not for the save).  qv_store_checkpoint and qv_store_close do the
 * same for every collection.
 *
 * Recovery (qv_store_open_dir): each collection is loaded from its
 * snapshot, then the log records written after it are replayed in order.
 * A record cut short by a crash at the end of the log (a torn tail) is
 * removed.  Damage followed by more log records is not guessed around:
 * the open fails with QV_ECORRUPT and a message naming the file and the
 * offset, leaving the damaged file as it is and writing no snapshot.
 *
 * Untrusted files: every length, count and checksum in snapshots and logs
 * is checked before use; a damaged or crafted file gives QV_ECORRUPT or
 * QV_EFORMAT, never a crash or an unbounded allocation. */

/* Atomic groups.  A group makes every change written to the collections
 * colls[0..n) between qv_group_begin and qv_group_end one unit across a
 * crash: after the store is reopened, all of them are there or none --
 * also when they are different collections of one store, each with its
 * own log (the Qdrant server's collections with named vectors are several
 * library collections).  Changes inside a group are applied in memory at
 * once, as usual, and visible to readers; their writers return without
 * waiting for the fsync: qv_group_end makes the group durable, and only
 * then is it acknowledged.  A group cannot be rolled back while the
 * process lives: end commits what the group did.
 *
 * Rules: every write to a listed collection between begin and end, from
 * any thread, belongs to the group, so the caller serialises its writers
 * (the server holds the Qdrant collection's write mutex); end must be
 * called by the thread that called begin, before the store is closed or a
 * listed collection dropped (both wait for it); checkpoints of the listed
 * collections wait until end.  Collections without a log (in memory) may
 * be listed and are ignored.  Listed collections are retained until end.
 *
 * qv_group_begin returns QV_ENULL (out or a listed collection NULL) or
 * QV_ENOMEM.  qv_group_end(NULL) does nothing; otherwise it returns QV_OK,
 * QV_EIO (an fsync failed: the changes are applied in memory but not
 * acknowledged, as for a single write; the message is on the collection)
 * or QV_ENOTFOUND (a collection was detached); it always frees g.  Format
 * and recovery: docs/WAL.md, "Atomic groups". */
typedef struct qv_group qv_group;

QV_API qv_status qv_group_begin(qv_collection *const *colls, size_t n,
                                qv_group **out);
QV_API qv_status qv_group_end(qv_group *g);

#define QV_MIN_CHECKPOINT_WAL_BYTES     4096u
#define QV_DEFAULT_CHECKPOINT_WAL_BYTES (64u << 20)
#define QV_MAX_CHECKPOINT_WAL_BYTES     (1ull << 40)

typedef struct qv_store_options {
    /* Checkpoint a collection when its log grows past this many bytes:
     * QV_MIN_CHECKPOINT_WAL_BYTES..QV_MAX_CHECKPOINT_WAL_BYTES, or 0 for
     * never (only qv_store_checkpoint and qv_store_close do).  Default
     * QV_DEFAULT_CHECKPOINT_WAL_BYTES (64 MiB). */
    uint64_t checkpoint_wal_bytes;
    /* Verify every snapshot's checksums at open (QV_SNAPSHOT_VERIFY)
     * rather than trusting its header checks only.  Default true.  Log
     * records are always verified. */
    bool verify_on_open;
    /* Layout: 0 or QV_STORE_OPTIONS_VERSION (the default); larger:
     * QV_EINVAL ("Conventions"). */
    uint32_t version;
} qv_store_options;

/* The current layout of qv_store_options. */
#define QV_STORE_OPTIONS_VERSION 1u

/* Sets every field to its default, version to QV_STORE_OPTIONS_VERSION.
 * NULL is ignored. */
QV_API void qv_store_options_init(qv_store_options *o);

/* Opens (creating it if needed: its parent must exist) the durable store
 * in directory path, recovering every collection found there (see
 * "Recovery" above).  opts may be NULL for the defaults.  The store is
 * then used as one from qv_store_open, with these differences:
 * qv_store_create writes the collection's directory and first snapshot
 * before it returns (and QV_EIO if it cannot); qv_store_drop removes the
 * directory durably (QV_EIO if it cannot, leaving the collection in
 * place); writes are durable as described above; qv_store_close
 * checkpoints every collection.  Only one handle, in one process, may have
 * a store open at a time.
 * On failure *out is NULL and err (errcap bytes, may be NULL) says why,
 * naming the file and offset for damaged files.  Returns QV_ENULL,
 * QV_EINVAL (empty path, or opts->version newer than
 * QV_STORE_OPTIONS_VERSION), QV_ERANGE (an option), QV_EIO (the directory
 * cannot be created, read or locked -- the store is open elsewhere),
 * QV_ECORRUPT, QV_EFORMAT or QV_ENOMEM.  Thread-safe. */
QV_API qv_status qv_store_open_dir(const char *path,
                                   const qv_store_options *opts, qv_store **out,
                                   char *err, size_t errcap);

/* Checkpoints every collection of a durable store: saves a snapshot of
 * each collection whose log holds records, then deletes those records.
 * Writers are held for one fsync per collection, not for the whole save;
 * readers are not held.  Also the way out of a log's failed state.  On an
 * in-memory store it does nothing.  Returns QV_OK, QV_ENULL, QV_EIO or
 * QV_ENOMEM (the first failure; the others are still attempted; the
 * message names the collection).  Thread-safe. */
QV_API qv_status qv_store_checkpoint(qv_store *s);

/* ---- facets ----------------------------------------------------------------
 *
 * Qdrant's facet: how many points hold each distinct value of a payload key,
 * read from the key's index. */

typedef enum qv_facet_kind {
    QV_FACET_STRING = 0, /* keyword and uuid indexes (a UUID in canonical
                            lowercase hyphenated form) */
    QV_FACET_NUMBER = 1, /* integer index: QV_NUM_INT, or QV_NUM_UINT above
                            INT64_MAX */
    QV_FACET_BOOL = 2    /* bool index */
} qv_facet_kind;

typedef struct qv_facet_hit {
    qv_facet_kind kind;
    const char *str; /* QV_FACET_STRING: the value (NUL-terminated; lives in
                        the result's allocation) */
    size_t len;      /* its length in bytes */
    qv_number num;   /* QV_FACET_NUMBER */
    bool boolean;    /* QV_FACET_BOOL */
    uint64_t count;  /* points matching the filter that hold the value */
} qv_facet_hit;

/* Counts, for each distinct value the index on key holds, the points that
 * match filter (NULL: all) and hold it -- a point with several values
 * counts once for each -- and returns the limit largest counts, ties in
 * ascending value order (strings by bytes, numbers as numbers, false before
 * true): Qdrant's facet (lib/segment/src/data_types/facets.rs, FacetHit's
 * order).  Counts are exact.  The key needs a keyword, integer, uuid or
 * bool index (Qdrant's facet indexes); an integer index counts the
 * integers it holds, not fractional numbers.
 * *out is one allocation of *n hits (never NULL on success, even for none),
 * freed as a whole with qv_free.  Returns QV_ENULL, QV_ERANGE (limit 0),
 * QV_EINVAL (a malformed key), QV_ENOTFOUND (no such index on key: the
 * message is Qdrant's), QV_ENOMEM.  Reader. */
QV_API qv_status qv_facet(qv_collection *c, const char *key,
                          const qv_filter *filter, size_t limit,
                          qv_facet_hit **out, size_t *n);
/* ------------------------------------------------------------------------ */
/* Sparse vectors                                                           */
/* ------------------------------------------------------------------------ */

/* A collection created with cfg.kind = QV_VECTOR_SPARSE holds one sparse
 * vector per point (Qdrant's sparse_vectors): pairs of a dimension (any
 * uint32) and a finite float value, scored by dot product.  Everything
 * else works as for dense collections: ids, payloads, filters, scroll,
 * count, delete, payload indexes, atomic groups, the journal and
 * snapshots.  dim and metric are ignored (the collection reports dim 1 and
 * QV_METRIC_DOT); the dense calls (qv_upsert*, qv_get, qv_search*) refuse
 * a sparse collection with QV_EINVAL, and the calls below a dense one.
 *
 * An inverted index (one posting list per dimension) is kept up to date on
 * every write.  A search scores only points sharing at least one dimension
 * with the query, as Qdrant does; it walks the posting lists, or scans
 * every point exactly when params->exact is set or a filter leaves fewer
 * candidates than sparse_full_scan_threshold.  Both give the same hits,
 * scores and tie order (by storage slot), bit for bit.
 *
 * With sparse_modifier QV_SPARSE_MODIFIER_IDF, each query value is
 * multiplied by its dimension's inverse document frequency, as Qdrant's
 * Modifier::Idf: ln(1 + (N - df + 0.5) / (df + 0.5)), N the points with a
 * vector and df those holding the dimension, at the time of the search.
 *
 * cfg.datatype (version >= 2) types the values of the posting lists, as
 * Qdrant's sparse `index.datatype`: QV_DATATYPE_FLOAT32 (4 bytes a
 * posting value), QV_DATATYPE_FLOAT16 (2 bytes: the nearest half; a value
 * beyond +-65504 is refused with QV_ERANGE when stored) or
 * QV_DATATYPE_UINT8 (1 byte: Qdrant's QuantizedU8, per dimension
 * round((v - min) / step) with step = (max - min) / 255 over that
 * dimension's stored values, read back as min + q * step).  Searches --
 * the index walk and the exact scan alike -- score the values as the
 * postings hold them; qv_sparse_get returns the float32 values as given,
 * as Qdrant's retrieve does. */
enum {
    QV_VECTOR_DENSE = 0,
    QV_VECTOR_SPARSE = 1,
    QV_SPARSE_MODIFIER_NONE = 0,
    QV_SPARSE_MODIFIER_IDF = 1
};

/* Qdrant's default full_scan_threshold of a sparse index, in points. */
#define QV_DEFAULT_SPARSE_FULL_SCAN 5000u
/* Most non-zero entries in one sparse vector. */
#define QV_MAX_SPARSE_NNZ (1u << 24)

/* One sparse vector: nnz pairs (indices[i], values[i]).  Indices must be
 * unique (in any order: they are stored sorted); values finite.  nnz 0 is
 * an empty vector (a point holding it matches no query).  Borrowed. */
typedef struct qv_sparse_vector {
    const uint32_t *indices;
    const float *values;
    uint32_t nnz;
} qv_sparse_vector;

/* Upserts n points: ids[i] gets vecs[i], and with payloads (may be NULL:
 * existing points keep theirs, new ones get {}) the payload payloads[i]
 * (lens[i] bytes, NULL entry: {}), as qv_upsert_with_payloads.  All or
 * nothing; the last of repeated ids wins.  One change (one log record).
 * Returns QV_ENULL, QV_EINVAL (not a sparse collection, a repeated index,
 * a malformed id or payload: the message names the point), QV_ENONFINITE,
 * QV_ERANGE (nnz over QV_MAX_SPARSE_NNZ, collection full) or QV_ENOMEM.
 * Writer. */
QV_API qv_status qv_sparse_upsert(qv_collection *c, const qv_point_id *ids,
                                  const qv_sparse_vector *vecs, size_t n,
                                  const char *const *payloads,
                                  const size_t *lens);

/* Copies point id's sparse vector, indices ascending, into new arrays
 * *indices and *values (free both with qv_free; NULL when nnz is 0) and
 * its length to *nnz.  Returns QV_ENULL, QV_EINVAL (not sparse, malformed
 * id), QV_ENOTFOUND or QV_ENOMEM.  Reader. */
QV_API qv_status qv_sparse_get(qv_collection *c, const qv_point_id *id,
                               uint32_t **indices, float **values,
                               uint32_t *nnz);

/* Top-k by dot product with query (unique indices, finite values) among
 * the points matching params->filter; hits as qv_search (room for
 * params->k), scores higher-is-better, score_threshold keeps score >=
 * threshold.  hnsw_ef is ignored.  Returns QV_ENULL, QV_EINVAL,
 * QV_ENONFINITE, QV_ERANGE (k) or QV_ENOMEM.  Reader. */
QV_API qv_status qv_sparse_search(qv_collection *c,
                                  const qv_sparse_vector *query,
                                  const qv_search_params *params, qv_hit *hits,
                                  size_t *n_hits);

/* The weight each of the n dimensions indices[i] gets in a query, into
 * weights[i]: its IDF as qv_sparse_search applies it (sparse_modifier
 * QV_SPARSE_MODIFIER_IDF, from the counts at the time of the call), else
 * 1.0.  Callers scoring sparse vectors themselves (Qdrant's recommend and
 * discover scores) multiply query values by these.  indices need not be
 * sorted or unique.  Returns QV_ENULL or QV_EINVAL (not sparse).  Reader. */
QV_API qv_status qv_sparse_idf(qv_collection *c, const uint32_t *indices,
                               uint32_t n, float *weights);

/* Changes the sparse params of c to cfg's sparse_modifier,
 * sparse_full_scan_threshold (0: QV_DEFAULT_SPARSE_FULL_SCAN) and datatype
 * (version >= 2; else float32); every other field of cfg is ignored.
 * Qdrant's PATCH of a sparse vector's `modifier` and `index` params.  The
 * modifier and threshold take effect at the next search; a new datatype
 * re-encodes every posting list from the stored float32 values, under the
 * write lock (searches wait for it).  In a durable store the change is
 * logged and durable before the call returns, as any write.  Returns
 * QV_OK, QV_ENULL, QV_EINVAL (not sparse, unknown modifier or datatype),
 * QV_ERANGE (float16 asked while a stored value is beyond +-65504),
 * QV_ENOMEM (nothing changed), or, in a durable store, QV_EIO /
 * QV_ENOTFOUND as the other writes.  Writer; thread-safe. */
QV_API qv_status qv_sparse_set_params(qv_collection *c,
                                      const qv_collection_config *cfg);

/* Bytes held by c's sparse posting lists (their slots and typed values,
 * with their table), into *out: what the datatype saves.  Returns QV_OK,
 * QV_ENULL or QV_EINVAL (not sparse).  Reader; thread-safe. */
QV_API qv_status qv_sparse_posting_bytes(qv_collection *c, size_t *out);

/* The number of points holding a non-empty sparse vector, and the total
 * of their non-zero entries (either may be NULL).  Returns QV_ENULL or
 * QV_EINVAL (not sparse).  Reader. */
QV_API qv_status qv_sparse_stats(qv_collection *c, uint64_t *vectors,
                                 uint64_t *nnz_total);

/* ------------------------------------------------------------------------ */
/* Multivectors                                                             */
/* ------------------------------------------------------------------------ */

/* A collection created with multivector = QV_MULTIVECTOR_MAX_SIM holds a
 * matrix per point (Qdrant's `multivector_config: {"comparator":
 * "max_sim"}`): n_rows >= 1 rows of dim float32, the number of rows chosen
 * per point.  A query is a matrix too, and the score of a point is MaxSim:
 * the sum over the query's rows of the best similarity of that row to any
 * of the point's rows, the similarity being the collection's metric as
 * Qdrant computes it (dot product; cosine: of rows normalised on the way
 * in; euclid: minus the squared distance; manhattan: minus the L1
 * distance).  The score returned is then post-processed as Qdrant does
 * for one vector: under euclid sqrt(|MaxSim|), under manhattan |MaxSim|,
 * both lower-is-better (as a dense score under those metrics); under dot
 * and cosine MaxSim itself, higher-is-better.  The HNSW graph
 * of such a collection links points by the MaxSim between their matrices,
 * as Qdrant's does.
 *
 * The single-vector calls (qv_upsert*, qv_get, qv_search, qv_search_batch)
 * answer QV_EINVAL on such a collection; everything else (deletes,
 * payloads, filters, scroll, count, payload indexes, stores) works as for
 * any collection. */
typedef enum qv_multivector {
    QV_MULTIVECTOR_NONE = 0,   /* one vector a point */
    QV_MULTIVECTOR_MAX_SIM = 1 /* a matrix a point, compared by MaxSim */
} qv_multivector;

/* Rows of one matrix, point or query. */
#define QV_MIN_MULTI_ROWS 1u
#define QV_MAX_MULTI_ROWS 8192u
/* Floats of one matrix (n_rows * dim). */
#define QV_MAX_MULTI_FLOATS (1u << 22)

/* Inserts or replaces n points: point i has ids[i] and the row_counts[i] x
 * dim matrix that follows point i - 1's in rows (row-major; rows holds
 * sum(row_counts) * dim floats).  With payloads (and lens, as in
 * qv_upsert_with_payloads; a NULL entry is {}) each point's payload is
 * replaced; with payloads NULL an existing point keeps its payload.  The
 * batch is validated whole before anything changes (ids, dim, row counts
 * within QV_MIN_MULTI_ROWS..QV_MAX_MULTI_ROWS and QV_MAX_MULTI_FLOATS,
 * finite floats, payload JSON) and applied whole or not at all.  n may be
 * 0.  Returns QV_ENULL, QV_EINVAL (not a multivector collection, malformed
 * id, payload), QV_EDIM, QV_ERANGE (row count), QV_ENONFINITE, QV_ENOMEM
 * or QV_EIO (durable store).  Writer: serialised with every other call on
 * c. */
QV_API qv_status qv_multi_upsert_batch(qv_collection *c, const qv_point_id *ids,
                                       size_t n, const uint32_t *row_counts,
                                       const float *rows, uint32_t dim,
                                       const char *const *payloads,
                                       const size_t *lens);

/* One point of n_rows rows; its payload is kept. */
QV_API qv_status qv_multi_upsert(qv_collection *c, const qv_point_id *id,
                                 const float *rows, uint32_t n_rows,
                                 uint32_t dim);

/* Copies the matrix of point id to out, which has room for cap_rows rows
 * of dim floats (as stored: rows normalised under cosine), and its number
 * of rows to *n_rows.  out may be NULL with cap_rows 0 to learn the count.
 * Returns QV_ENULL, QV_EINVAL (not a multivector collection, malformed
 * id), QV_ENOTFOUND, or QV_ERANGE when the matrix has more than cap_rows
 * rows (*n_rows is set, out untouched).  Reader. */
QV_API qv_status qv_multi_get(qv_collection *c, const qv_point_id *id,
                              float *out, uint32_t cap_rows, uint32_t *n_rows);

/* Top-k search by MaxSim for the n_rows x dim query matrix, as qv_search
 * does for one vector: the graph with beam width params->hnsw_ef above the
 * full-scan threshold, else (or with params->exact) an exact scan; filters
 * through the payload indexes; a threshold keeps scores >= it (<= it
 * under euclid and manhattan).  Equal
 * scores are ordered by storage slot.  Returns QV_ENULL, QV_EINVAL (not a
 * multivector collection, params), QV_EDIM, QV_ERANGE (rows, k, ef),
 * QV_ENONFINITE or QV_ENOMEM.  Reader. */
QV_API qv_status qv_multi_search(qv_collection *c, const float *rows,
                                 uint32_t n_rows, uint32_t dim,
                                 const qv_search_params *params, qv_hit *hits,
                                 size_t *n_hits);

/* ------------------------------------------------------------------------ */
/* Quantization                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A collection may keep compact codes of its vectors beside the floats:
 * Qdrant's scalar int8 quantization (one byte a component), binary
 * quantization (one to two bits a component) or product quantization (one
 * byte per bucket of 1 to 16 components, k-means codebooks trained on a
 * bounded sample).  HNSW searches then walk the graph on the codes, which
 * are 4 to 64 times smaller than the floats, take
 * ceil(k * oversampling) candidates and, when rescoring, compute their
 * exact float distances to return the best k with float scores.  Exact
 * searches (params->exact, collections below the full-scan threshold, and
 * the filtered scans the planner picks) read the floats and are unchanged.
 *
 * Configuration, in qv_collection_config: quantization (the kind),
 * quant_quantile (int8: the fraction of component values the code range
 * covers, Qdrant's `quantile`, 0.5..1, 0 for the whole range),
 * quant_always_ram (recorded), quant_encoding and quant_query_encoding
 * (binary; for product the compression, a qv_pq_compression).  Per search, in
 * qv_search_params: quant_ignore, quant_rescore and quant_oversampling,
 * Qdrant's `params.quantization`.  Rescoring is on by default for binary codes
 * and off for int8 and product codes, as Qdrant's default_rescoring.
 *
 * The codes are derived from the vectors, but a snapshot keeps them with
 * the config and the trained state (docs/FORMAT.md sections 64-67):
 * qv_snapshot_open maps them without training, and the opened collection
 * answers exactly as the saved one did.  A snapshot without them (an older
 * build's) opens too, and its codes are trained and encoded at the open.
 * A replayed log rebuilds codes as its writes did.
 */
typedef enum qv_quantization_kind {
    QV_QUANTIZATION_NONE = 0,
    QV_QUANTIZATION_INT8 = 1,    /* Qdrant's scalar, type int8 */
    QV_QUANTIZATION_BINARY = 2,  /* Qdrant's binary */
    QV_QUANTIZATION_PRODUCT = 3, /* Qdrant's product (quant_encoding: the
                                    compression) */
} qv_quantization_kind;

/* Product quantization's compression, Qdrant's CompressionRatio: the
 * float vector is cut into buckets of 1, 2, 4, 8 or 16 components, each
 * stored as one byte (the number of its nearest of 256 k-means
 * centroids). */
typedef enum qv_pq_compression {
    QV_PQ_X4 = 0,
    QV_PQ_X8 = 1,
    QV_PQ_X16 = 2,
    QV_PQ_X32 = 3,
    QV_PQ_X64 = 4,
} qv_pq_compression;

typedef enum qv_binary_encoding {
    QV_BINARY_ONE_BIT = 0,           /* sign of each component */
    QV_BINARY_ONE_AND_HALF_BITS = 1, /* two components share a third bit */
    QV_BINARY_TWO_BITS = 2,          /* three levels a component */
} qv_binary_encoding;

typedef enum qv_binary_query_encoding {
    QV_BINARY_QUERY_DEFAULT = 0,     /* as the stored codes */
    QV_BINARY_QUERY_BINARY = 1,      /* as the stored codes */
    QV_BINARY_QUERY_SCALAR4BITS = 2, /* query kept at 4 bits a component */
    QV_BINARY_QUERY_SCALAR8BITS = 3, /* query kept at 8 bits a component */
} qv_binary_query_encoding;

typedef enum qv_rescore {
    QV_RESCORE_AUTO = 0, /* Qdrant's default: binary yes, int8 no */
    QV_RESCORE_ON = 1,
    QV_RESCORE_OFF = 2,
} qv_rescore;

#define QV_MIN_QUANTILE     0.5f
#define QV_MAX_QUANTILE     1.0f
#define QV_MAX_OVERSAMPLING 1000.0

/* Replaces c's quantization with the one in cfg's quantization fields
 * (every other field of cfg is ignored; cfg->version is checked) and
 * builds the codes of every point.  The codes are built under the shared
 * lock -- searches go on with the old codes, writers wait -- and swapped
 * in under the write lock.  QV_QUANTIZATION_NONE drops the codes.
 * qv_collection_get_config reports the new fields afterwards.  In a
 * durable store the change is logged and durable before the call returns,
 * as any write (the log holds the config, the codes are rebuilt on
 * replay).
 * Returns QV_OK, QV_ENULL, QV_EINVAL (unknown kind or encoding, version),
 * QV_ERANGE (quantile), QV_ENOMEM (nothing changed), or, in a durable
 * store, QV_EIO / QV_ENOTFOUND as the other writes.  Thread-safe. */
QV_API qv_status qv_collection_set_quantization(
    qv_collection *c, const qv_collection_config *cfg);

/* Bytes of the codes a quantized search reads per point (int8: dim + 4,
 * binary: the bit words, product: one byte a bucket), or 0 without
 * quantization; *out gets it. Returns QV_OK or QV_ENULL.  Reader; thread-safe.
 */
QV_API qv_status qv_collection_code_bytes(qv_collection *c, size_t *out);

/* Bytes one stored dense vector row takes: dim rounded up to a multiple
 * of 16, times 4 (float32), 2 (float16) or 1 (uint8); plus nothing else
 * (each point also keeps a 4-byte norm).  Multivector and sparse
 * collections report their (unused) float rows.  *out gets it.  Returns
 * QV_OK or QV_ENULL.  Thread-safe (set at creation). */
QV_API qv_status qv_collection_vector_bytes(qv_collection *c, size_t *out);

/* ------------------------------------------------------------------------ */
/* Full-text index options (Qdrant's TextIndexParams)                       */
/* ------------------------------------------------------------------------ */

/* The text pipeline of a full-text index, run alike on every indexed string
 * and on every query text (match text / text_any / phrase): cut into tokens,
 * lowercase, fold to ASCII, drop stopwords, stem, keep tokens of min..max
 * characters.  Qdrant 1.19's TextIndexParams
 * (lib/segment/src/data_types/index.rs), every field; an unset field (-1,
 * NULL) takes Qdrant's default and is left out when the params are shown. */
typedef enum qv_text_tokenizer {
    QV_TEXT_TOKENIZER_WORD = 0,       /* runs of letters and digits */
    QV_TEXT_TOKENIZER_WHITESPACE = 1, /* runs of non-white-space */
    /* Words as "word"; a document indexes every prefix of each word of
     * min_token_len (default 1) to max_token_len characters, and a query
     * word (cut to max_token_len, no stopwords dropped) matches the words
     * it is a prefix of. */
    QV_TEXT_TOKENIZER_PREFIX = 2,
    /* ICU word segmentation: dictionary-based for Chinese, Japanese, Thai,
     * Khmer, Lao, Burmese; Qdrant uses charabia, so CJK cuts can differ. */
    QV_TEXT_TOKENIZER_MULTILINGUAL = 3,
} qv_text_tokenizer;

#define QV_TEXT_INDEX_OPTIONS_VERSION 1u

typedef struct qv_text_index_options {
    qv_text_tokenizer tokenizer;
    int lowercase;         /* -1 unset (true), 0 or 1 */
    int ascii_folding;     /* -1 unset (false): "ação" -> "acao" */
    int phrase_matching;   /* -1 unset (false); shown only (phrase always
                              works: positions are read from the payloads) */
    int on_disk;           /* -1 unset; shown only: the index stays in memory */
    int64_t min_token_len; /* -1 unset; 0 .. QV_TEXT_MAX_TOKEN_LEN */
    int64_t max_token_len; /* -1 unset; >= min_token_len */
    /* Stopwords: either one language name (Qdrant's "stopwords": "english")
     * or, with stopwords_set = 1, Qdrant's {"languages": [...], "custom":
     * [...]} (either list may be absent: NULL).  Language names are
     * Qdrant's Language enum; custom words are lowercased when lowercase
     * is on. */
    const char *stopwords_language;
    int stopwords_set;
    const char *const *stopword_languages;
    size_t n_stopword_languages;
    const char *const *custom_stopwords;
    size_t n_custom_stopwords;
    /* Snowball stemmer language (Qdrant's SnowballLanguage: "english",
     * "french", ...); NULL: no stemming. */
    const char *stemmer_language;
    uint32_t version; /* QV_TEXT_INDEX_OPTIONS_VERSION */
} qv_text_index_options;

#define QV_TEXT_MAX_TOKEN_LEN 65535

/* Fills o with every field unset (today's defaults of QV_INDEX_TEXT).
 * Thread-safe. */
QV_API void qv_text_index_options_init(qv_text_index_options *o);

/* Creates (or replaces: an index with other options is rebuilt; the same
 * options are a success that changes nothing) a full-text index on key
 * with options o.  The options are part of the index's definition: the
 * write-ahead log and snapshots keep them.  Returns QV_ENULL, QV_EINVAL
 * (malformed key; bad options: unknown tokenizer, stopword or stemmer
 * language, min_token_len > max_token_len, a bad version; the message says
 * which, in Qdrant's words) or QV_ENOMEM.  Writer. */
QV_API qv_status qv_payload_index_create_text(qv_collection *c, const char *key,
                                              const qv_text_index_options *o);

/* The params of the full-text index on key as Qdrant shows them in
 * payload_schema: a JSON object ({"type":"text","tokenizer":"word",...}),
 * NUL-terminated, in a new allocation freed with qv_free.  Returns
 * QV_ENULL, QV_EINVAL (malformed key), QV_ENOTFOUND (no full-text index on
 * key) or QV_ENOMEM.  Reader. */
QV_API qv_status qv_payload_index_text_params(qv_collection *c, const char *key,
                                              char **json);

/* Validates o and writes Qdrant's params JSON for it to a new allocation
 * (*json, freed with qv_free), without an index.  Returns QV_ENULL,
 * QV_EINVAL (errmsg, errcap bytes, gets the reason; may be NULL) or
 * QV_ENOMEM.  Thread-safe. */
QV_API qv_status qv_text_index_options_json(const qv_text_index_options *o,
                                            char **json, char *errmsg,
                                            size_t errcap);

/* Whether name is one of Qdrant 1.19's stopword languages (its Language
 * enum: *stopwords) and a Snowball stemmer language (SnowballLanguage:
 * *stemmer), by the exact lowercase names the options above take.  A
 * known stopword language may still lack a built-in list (the options
 * then say so).  Either pointer may be NULL.  Thread-safe. */
QV_API void qv_text_language(const char *name, bool *stopwords, bool *stemmer);

/* Runs the document pipeline of o (NULL: the defaults) on text[0..len) and
 * calls tok(ctx, token, n) for each token it keeps, in order (tokens are
 * valid during the call only); stops when tok returns true.  For callers
 * that tokenize as an index does (BM25 document and query terms: a word
 * tokenizer, lowercase, "english" stopwords and an "english" stemmer).
 * Returns QV_ENULL, QV_EINVAL (bad options: errmsg as above) or QV_ENOMEM.
 * Thread-safe. */
QV_API qv_status qv_text_tokenize(const qv_text_index_options *o,
                                  const char *text, size_t len,
                                  bool (*tok)(void *ctx, const char *t,
                                              size_t n),
                                  void *ctx, char *errmsg, size_t errcap);

/* As qv_text_tokenize, but the query form of the pipeline (Qdrant's
 * Tokenizer::tokenize_query): the same for every tokenizer but the prefix
 * one, where each word is processed without the stopword check and cut to
 * max_token_len characters instead of giving all its prefixes (a query
 * word then equals the indexed prefix of every word it begins).  Returns
 * and thread safety as qv_text_tokenize. */
QV_API qv_status qv_text_tokenize_query(const qv_text_index_options *o,
                                        const char *text, size_t len,
                                        bool (*tok)(void *ctx, const char *t,
                                                    size_t n),
                                        void *ctx, char *errmsg, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* QUIVER_H */
