/*
 * base.h -- the small building blocks every part of core/ uses: overflow-
 * checked sizes, point ids and the id map, error messages, top-k
 * selection, aligned allocation.  Nothing here knows a collection, so the
 * leaf folders (hnsw/, filter/, payload/, pindex/) can use it.
 *
 * Nothing here is exported from the shared library (symbols are hidden by
 * default and carry the qvi_ prefix); tests link the static library to
 * reach them.
 */
#ifndef QUIVER_BASE_H
#define QUIVER_BASE_H

#include "quiver.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- overflow-checked sizes --------------------------------------------- */

/* *out = a*b; false (and *out untouched) on overflow. */
static inline bool qv_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* *out = a+b; false (and *out untouched) on overflow. */
static inline bool qv_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* ---- point ids (ids.c) --------------------------------------------------- */

/* True when id is well formed: a known kind and a zero reserved field. */
bool qvi_id_valid(const qv_point_id *id);

/* Equality of two well-formed ids (integer 5 never equals any UUID). */
bool qvi_id_equal(const qv_point_id *a, const qv_point_id *b);

/* A 64-bit xxHash3 of the id's kind and value; stable across runs. */
uint64_t qvi_id_hash(const qv_point_id *id);

/* ---- id map (idmap.c) ---------------------------------------------------- */

/*
 * Maps point ids to slots.  The map stores only (hash tag, slot) pairs; the
 * ids themselves live in the caller's slot table (ids[slot]), which every
 * lookup receives, so a million ids cost 8 bytes per bucket instead of 32.
 * Not thread-safe: the collection's lock protects it.
 */
typedef struct qvi_idmap {
    uint64_t *buckets; /* (tag << 32) | (slot + 1); 0 = empty */
    size_t cap;        /* power of two, or 0 before the first insert */
    size_t count;
    bool borrowed; /* buckets lie in a snapshot mapping: edited in place,
                      never freed; growth copies them into owned memory */
} qvi_idmap;

void qvi_idmap_init(qvi_idmap *m);
void qvi_idmap_free(qvi_idmap *m);

/* Makes room for n entries in total, so that the next inserts up to that
 * count cannot fail.  Returns QV_OK or QV_ENOMEM (map unchanged). */
qv_status qvi_idmap_reserve(qvi_idmap *m, size_t n);

/* Finds id; ids is the slot table the entries point into. */
bool qvi_idmap_find(const qvi_idmap *m, const qv_point_id *ids,
                    const qv_point_id *id, uint32_t *slot_out);

/* Adds id -> slot; id must not be present yet, and ids[slot] must already
 * hold id.  Grows the map if needed: QV_OK or QV_ENOMEM (map unchanged). */
qv_status qvi_idmap_insert(qvi_idmap *m, const qv_point_id *ids,
                           const qv_point_id *id, uint32_t slot);

/* Removes id; returns true if it was there.  ids[slot] must still hold id. */
bool qvi_idmap_remove(qvi_idmap *m, const qv_point_id *ids,
                      const qv_point_id *id);

/* ---- error messages (status.c) ------------------------------------------- */

#define QVI_ERRMSG_CAP 256

/* A handle's detailed message for its last failure, guarded by its own mutex
 * so that concurrent readers that fail never race on the buffer. */
typedef struct qvi_errbuf qvi_errbuf;

qv_status qvi_errbuf_create(qvi_errbuf **out);
void qvi_errbuf_destroy(qvi_errbuf *e);

/* Records a formatted message and returns status, so that callers can write
 * "return qvi_fail(e, QV_EDIM, "expected %u", dim);". */
qv_status qvi_fail(qvi_errbuf *e, qv_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t qvi_errbuf_copy(const qvi_errbuf *e, char *buf, size_t cap);

/* ---- top-k selection (topk.c) -------------------------------------------- */

/*
 * A bounded heap that keeps the k best (slot, distance) pairs seen, where a
 * lower distance is better.  The root is the worst kept entry, so a
 * candidate is rejected with one comparison once the heap is full.  Ties
 * on distance are broken by slot so that results are deterministic.
 */
typedef struct qvi_topk {
    uint32_t *slots;
    float *dists;
    size_t k;
    size_t n;
} qvi_topk;

qv_status qvi_topk_init(qvi_topk *t, size_t k);
void qvi_topk_free(qvi_topk *t);
void qvi_topk_reset(qvi_topk *t);

/* The distance a candidate must beat to enter (+inf while not full). */
static inline float qvi_topk_bound(const qvi_topk *t)
{
    return t->n < t->k ? __builtin_inff() : t->dists[0];
}

void qvi_topk_push(qvi_topk *t, uint32_t slot, float dist);

/* Sorts the kept entries best first, in place; the heap is then spent
 * (reset before reuse). */
void qvi_topk_sort(qvi_topk *t);

/* ---- memory (alloc.c) ---------------------------------------------------- */

/* Aligned allocation of n bytes rounded up to 64; NULL on failure.  Blocks
 * of QVI_HUGE_MIN bytes or more are 2 MiB aligned and advised for
 * transparent huge pages (alloc.c says why).  Free with free(). */
void *qvi_alloc_aligned(size_t n);

#define QVI_HUGE_MIN ((size_t)4 << 20)

/* ---- mapped arenas (maparena.c) -------------------------------------------
 * A growable array in a MAP_SHARED mapping of an unnamed file (O_TMPFILE),
 * for the vectors of on_disk collections.  Page aligned.  The caller
 * serialises every call on one arena. */
typedef struct qvi_maparena {
    void *base; /* the mapping, or NULL */
    size_t len; /* bytes mapped (a multiple of the page size) */
    int fd;     /* the file, or -1 */
} qvi_maparena;

/* Creates the file in dir (NULL or "": $TMPDIR, else /tmp) and maps at
 * least bytes of zeros.  Returns QV_OK, QV_ENULL, QV_EIO (the directory
 * refuses an unnamed file) or QV_ENOMEM; on failure *a is closed. */
qv_status qvi_maparena_open(qvi_maparena *a, const char *dir, size_t bytes);

/* Makes the arena at least bytes long, keeping its content; a->base may
 * move.  Returns QV_OK, QV_ENULL, QV_EIO or QV_ENOMEM (nothing changed). */
qv_status qvi_maparena_grow(qvi_maparena *a, size_t bytes);

/* Whether p lies inside the mapping. */
bool qvi_maparena_contains(const qvi_maparena *a, const void *p);

/* Unmaps and closes (the unnamed file goes with it).  Idempotent. */
void qvi_maparena_close(qvi_maparena *a);

/* ---- vector datatypes (datatype.c) ---------------------------------------
 *
 * The element types of include/quiver.h's qv_datatype.  Pure functions. */

/* Rust's `v as u8`: truncated toward zero, saturated to 0..255. */
float qvi_round_uint8(float v);
/* True when v rounds to an infinite half. */
bool qvi_f16_overflows(float v);
/* IEEE half bits of v, to nearest, ties to even (Rust's f16::from_f32),
 * and the float equal to half h: simd/'s conversions, for leaves that may
 * not include simd/ (core/sparse/). */
uint16_t qvi_half_bits(float v);
float qvi_half_value(uint16_t h);
/* Converts n values in place to what datatype stores (float32: as is). */
void qvi_datatype_apply(uint32_t datatype, float *v, size_t n);
/* "float32", "float16", "uint8"; NULL for an unknown datatype. */
const char *qvi_datatype_name(uint32_t datatype);

/* Bytes of one stored element: 4 (float32, and unknown values), 2
 * (float16), 1 (uint8). */
size_t qvi_datatype_size(uint32_t datatype);
/* Writes n values that qvi_datatype_apply already converted to out in the
 * datatype's element type (n * qvi_datatype_size bytes; exact, as every
 * value is representable).  float32 copies. */
void qvi_datatype_encode(uint32_t datatype, const float *in, void *out,
                         size_t n);
/* The floats equal to n stored elements (exact). */
void qvi_datatype_decode(uint32_t datatype, const void *in, float *out,
                         size_t n);

/* A distance kernel over two rows stored in a datatype's element type.
 * The rows are typed `const float *` only because the HNSW's kernels
 * (core/hnsw/hnsw.h, qvi_hnsw_kernel) are: they point at n halves or n
 * bytes, never read as floats.  The value is the float kernel's on the
 * decoded values, up to summation order for halves (simd/simd.h, "narrow
 * kernels"); the byte kernels are exact integers, rounded once to
 * float. */
typedef float (*qvi_row_kernel)(const float *a, const float *b, size_t n);
/* The kernel computing dot (which = 0), squared L2 (1) or L1 (2) on rows
 * of datatype FLOAT16 or UINT8, or (3, UINT8 only) the cosine similarity
 * of unnormalised byte rows as Qdrant scores them: dot as f32 /
 * sqrt(|a|^2 as f32 * |b|^2 as f32), 0 when either norm is 0
 * (cosine_similarity_bytes, lib/segment/src/spaces/metric_uint/
 * simple_cosine.rs); NULL for float32 (use simd/'s float kernels) or
 * anything else. */
qvi_row_kernel qvi_datatype_kernel(uint32_t datatype, int which);
#define QVI_ROWK_DOT  0
#define QVI_ROWK_L2SQ 1
#define QVI_ROWK_L1   2
#define QVI_ROWK_COS  3

/* True when cfg's vectors are uint8 under cosine: kept unnormalised and
 * scored by QVI_ROWK_COS (Qdrant's CosineMetric for VectorElementTypeByte
 * preprocesses by the `as u8` cast only). */
static inline bool qvi_byte_cosine(qv_metric metric, uint32_t datatype)
{
    return metric == QV_METRIC_COSINE && datatype == QV_DATATYPE_UINT8;
}

#endif /* QUIVER_BASE_H */
