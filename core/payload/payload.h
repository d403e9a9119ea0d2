/*
 * payload.h -- internal interface of the compact payload form.
 *
 * Every point carries a JSON object payload (Qdrant's model).  A cJSON tree
 * costs one heap block per value and per string; a collection of millions of
 * points cannot afford that.  core/payload.c turns one payload into ONE
 * contiguous, position-independent byte blob that the filter module reads in
 * place (qvi_payload_blob_ops), that is written back as JSON text without
 * building a tree (qvi_payload_to_json), and that can be written to and read
 * from a snapshot file as it is, after qvi_payload_validate.
 *
 * The byte layout is documented at the top of core/payload.c.  In short:
 * a tagged value per JSON value; containers carry their body size and count,
 * so skipping any value is O(1); the blob is the root object's value.
 *
 * Trust: a blob made by qvi_payload_encode, _merge or _delete_keys is well
 * formed.  A blob from anywhere else (a snapshot file) must pass
 * qvi_payload_validate before qvi_payload_blob_ops or qvi_payload_to_json
 * see it; qvi_payload_decode validates by itself.
 *
 * Thread safety: blobs are immutable; every function is pure and may be
 * called concurrently on the same blob.  Edits produce a new blob: the
 * collection swaps it in under its write lock and frees the old one once no
 * reader can hold it.
 */
#ifndef QUIVER_PAYLOAD_H
#define QUIVER_PAYLOAD_H

#include "core/base/base.h"
#include "core/filter/filter.h"

#include <cjson/cJSON.h>

/* Deepest nesting of arrays and objects, the root object counting as 1 (as
 * QVI_FILTER_MAX_DEPTH for filters).  Encoding, validation and decoding
 * recurse once per level, so this bounds their stack use. */
#define QVI_PAYLOAD_MAX_DEPTH 64
/* Largest blob, in bytes (all lengths in the format are 32-bit). */
#define QVI_PAYLOAD_MAX_SIZE (64u << 20)
/* Longest string value, in bytes. */
#define QVI_PAYLOAD_MAX_STRING (16u << 20)
/* Longest object key, in bytes. */
#define QVI_PAYLOAD_MAX_KEY 65535u
/* Size of an error buffer that always holds a whole message. */
#define QVI_PAYLOAD_ERRMSG_CAP 256

/* Encodes obj (a JSON object) into a new blob.  Numbers are classified by
 * qvi_json_num (filter.h): from their source text when obj came from
 * qvi_json_parse_exact (i64 -> int, above -> uint, '.'/exponent -> double),
 * else integral within 2^53 -> int, others double.  Object members keep their
 * order; when a key repeats, the value of its LAST occurrence is kept at the
 * position of its first (serde_json's rule, which Qdrant inherits). On success
 * *blob is a malloc'd buffer of *len bytes owned by the caller (free()).  On
 * failure *blob is NULL, *len 0, and err (if errcap > 0) holds a message; the
 * status is QV_ENULL (obj, blob or len NULL), QV_EINVAL (obj not an object,
 * nesting deeper than QVI_PAYLOAD_MAX_DEPTH, a NaN or infinite number, a raw or
 * invalid cJSON item), QV_ERANGE (a string, key or the whole blob over its
 * limit) or QV_ENOMEM. */
qv_status qvi_payload_encode(const cJSON *obj, uint8_t **blob, size_t *len,
                             char *err, size_t errcap);

/* Checks len bytes from an untrusted source: known tags, every length and
 * count inside its container and the blob, nesting at most
 * QVI_PAYLOAD_MAX_DEPTH, sizes within the limits, no NUL byte in a string
 * or key, finite doubles, numbers in canonical form (a uint must be above
 * INT64_MAX; older blobs, whose ints stayed within 2^53, pass), the root an
 * object spanning exactly len bytes.  Strings are not checked for UTF-8
 * (as bytes, nothing here depends on it).  Duplicate keys are not looked
 * for: lookups then see the first one.
 * Returns QV_OK, QV_ENULL (blob NULL) or QV_ECORRUPT.  Linear in len; its
 * recursion is at most QVI_PAYLOAD_MAX_DEPTH frames deep. */
qv_status qvi_payload_validate(const uint8_t *blob, size_t len);

/* A new cJSON object equal to the blob (numbers carry their exact text in
 * valuestring, as from qvi_json_parse_exact; keys in blob order), or NULL when
 * the blob fails qvi_payload_validate or memory runs out.  The caller frees it
 * with cJSON_Delete. */
cJSON *qvi_payload_decode(const uint8_t *blob, size_t len);

/* Writes a well-formed blob as compact JSON text (no spaces), escaping '"',
 * '\\' and control bytes; other bytes pass through.  Integers print
 * exactly, doubles in the shortest text that reads
 * back to the same bits (with ".0" added to an integral one, as serde).
 *
 * include / exclude (either may be NULL with count 0) are key paths in
 * filter syntax: "a", "a.b", "a.\"x.y\"", "a[].b".  This is Qdrant's
 * with_payload include / exclude (JsonPath::value_filter): each member and
 * array element is kept or dropped by its path (keys, and [] for an
 * element).  It is kept when an include path agrees with its path on every
 * item both have -- so "a" keeps a whole, "a.b" keeps a holding only b
 * (an empty {} when a has no b), "g.b" keeps an array g empty (a key never
 * matches an element), "g[].b" keeps the b of each object in g and g's
 * scalars, and [n] never matches an element -- and dropped when an exclude
 * path is a prefix of its path ("a[].b" drops b from every element of a).
 * With both lists, a value must pass both.
 *
 * On success *text is a malloc'd NUL-terminated string of *text_len bytes
 * (free()).  Returns QV_OK, QV_ENULL, QV_EINVAL (a malformed path),
 * QV_ECORRUPT (the root header disagrees with len: a cheap check, not a
 * validation) or QV_ENOMEM, with *text NULL on failure. */
qv_status qvi_payload_to_json(const uint8_t *blob, size_t len,
                              const char *const *include, size_t n_include,
                              const char *const *exclude, size_t n_exclude,
                              char **text, size_t *text_len);

/* Qdrant's set_payload.  Without key, each top-level member of set replaces
 * (or is added to) the old payload's member of the same name; with key (a
 * key path as above, e.g. "a.b", "a[0].b", "a[].b"), set's members are
 * merged the same way into each object the path reaches, as Qdrant's
 * JsonPath::value_set: a key step creates a missing member and replaces a
 * non-object by {}; [n] and [] replace a non-array by [] (and then reach
 * nothing); [n] past the end reaches nothing; [] reaches every element;
 * the value reached is made an object ({}) if it is not one.  old may be
 * NULL with old_len 0: an empty payload.  old must be well formed.
 * On success *new_blob / *new_len hold a new blob (free()); old is
 * untouched.  Returns QV_OK, QV_ENULL, QV_EINVAL (set not an object, a bad
 * key path, or as qvi_payload_encode), QV_ERANGE, QV_ECORRUPT (old fails
 * validation) or QV_ENOMEM, with a message in err. */
qv_status qvi_payload_merge(const uint8_t *old, size_t old_len,
                            const cJSON *set, const char *key,
                            uint8_t **new_blob, size_t *new_len, char *err,
                            size_t errcap);

/* Qdrant's delete_payload (JsonPath::value_remove): removes each key path;
 * a path that names nothing is ignored.  "a.b" removes b from object a,
 * "a[].b" removes b from every element of a, "a[0].b" from its first
 * element, "a[]" empties the array a, and a path ending in [n] removes
 * nothing (Qdrant does not delete array elements by position).  Same
 * ownership and statuses as qvi_payload_merge (QV_EINVAL for a malformed
 * path). */
qv_status qvi_payload_delete_keys(const uint8_t *old, size_t old_len,
                                  const char *const *keys, size_t n_keys,
                                  uint8_t **new_blob, size_t *new_len,
                                  char *err, size_t errcap);

/* Reads a well-formed blob for the filter module: a qvi_pval is a pointer
 * to a value's tag byte inside the blob and the root is the blob's start.
 * Strings are NOT NUL-terminated: use the length.  Object lookups compare
 * keys bytewise and stop at the first match. */
extern const qvi_payload_ops qvi_payload_blob_ops;

/* The number at v, a value of a well-formed blob whose type is NUMBER, as
 * written: QVI_JNUM_INT (*i), QVI_JNUM_UINT (*u, above INT64_MAX) or
 * QVI_JNUM_FLOAT; *d is set for every kind (the nearest double).  The
 * ops table's number() and integer() cannot tell a u64 from a double, and
 * the numeric indexes key every number exactly. */
qvi_jnum qvi_payload_blob_num(qvi_pval v, int64_t *i, uint64_t *u, double *d);

/* ---- blob pools (payload_pool.c) -----------------------------------------
 * A store's collections keep each owned payload blob through the store's
 * pool, so that equal blobs held by several of them (a point's copies in
 * the server's library collections, one per named vector) are stored once.
 * A collection outside a store has no pool (NULL): its blobs stay private.
 * Thread-safe (one leaf mutex per pool); blobs are immutable once
 * interned; a pool lives as long as its last holder (store or collection). */
typedef struct qvi_blob_pool qvi_blob_pool;

/* A new empty pool, one holder.  QV_OK or QV_ENOMEM. */
qv_status qvi_blob_pool_create(qvi_blob_pool **out);
/* One more holder. */
void qvi_blob_pool_retain(qvi_blob_pool *p);
/* One holder less; the last one frees the pool (and any blob still in it).
 * NULL is a no-op. */
void qvi_blob_pool_release(qvi_blob_pool *p);

/* Takes ownership of a malloc'd blob of len bytes and returns the pointer to
 * keep: an equal blob already in pool p (blob is then freed) or blob
 * itself.  Never fails (without memory for the table, or with p NULL, the
 * blob stays private and qvi_blob_release frees it).  NULL gives NULL. */
uint8_t *qvi_blob_intern(qvi_blob_pool *p, uint8_t *blob, size_t len);

/* Drops one holder of a pointer that qvi_blob_intern(p, ...) returned (len
 * its length); frees the blob with its last holder, and a private blob at
 * once.  NULL blob is a no-op. */
void qvi_blob_release(qvi_blob_pool *p, uint8_t *blob, size_t len);

/* How many distinct blobs p holds and their total bytes (either pointer
 * may be NULL; p NULL gives zeros).  For tests and memory reports. */
void qvi_blob_pool_stats(qvi_blob_pool *p, size_t *blobs, size_t *bytes);

#endif /* QUIVER_PAYLOAD_H */
