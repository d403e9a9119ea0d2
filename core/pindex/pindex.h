/*
 * pindex.h -- internal interface of the payload indexes.
 *
 * A payload index maps the values found at one key path of every point's
 * payload to the points holding them, so that a filter condition on that
 * key is answered by a lookup instead of a pass over every payload.  The
 * parts, one file each:
 *
 *   pindex_posting.c  posting lists (sorted slot arrays that turn into
 *                     bitmaps when dense) and the value map (bytes ->
 *                     posting list) behind keyword, uuid and full-text
 *                     indexes
 *   pindex_num.c      the ordered tree of (value, slot) keys behind
 *                     integer, float, datetime and geo indexes
 *   pindex_text.c     the full-text query and the token match a filter
 *                     evaluates per point (the tokens come from the
 *                     index's pipeline, ../text/)
 *   pindex.c          one index (its key, kind and structures; putting a
 *                     slot's values in and taking them out; bulk builds)
 *                     and a set of indexes (find, replace, drop, the write
 *                     hooks and the stale-index retry)
 *
 * This folder is a leaf: it sees payload blobs, slots and the live bytes
 * handed to it, never a collection, and includes nothing above base/,
 * filter/, payload/ and text/.  Its users: collection_pindex.c one level up
 * (the indexes of a collection: create, drop, list, define for a snapshot
 * loader, the write hooks, and where each slot's payload blob comes from),
 * and the query side in ../search/: candidates.c (a filter prepared
 * against the indexes) and scroll_order.c (scroll ordered by an indexed
 * numeric key).
 *
 * Exactness is the contract: every query gives the same points with and
 * without indexes.  An index answers a condition only when the values it
 * holds are exactly the values the condition can match (or, flagged
 * inexact, a superset that the filter then re-checks point by point).  The
 * one semantic an index changes is Qdrant's: `match: {text}` on a key with
 * a full-text index is a token match instead of a substring match, and that
 * holds for every evaluation of the condition, indexed or not
 * (pindex_text.c).
 *
 * Locking: nothing here locks.  Every structure belongs to its owner (a
 * collection's set belongs to the collection and is guarded by its
 * rwlock): functions that change a structure need the owner's exclusive
 * lock, those that only read it (find, the lookups of the query side)
 * can run concurrently under a shared one.
 */
#ifndef QUIVER_PAYLOAD_INDEX_H
#define QUIVER_PAYLOAD_INDEX_H

#include "core/base/base.h"
#include "core/filter/filter.h"
#include "core/payload/payload.h"
#include "core/text/text.h"

/* ---- posting lists (pindex_posting.c) ----------------------------
 */

/* A set of slots.  Small sets are sorted arrays (two slots fit inline,
 * without an allocation); a set dense enough that a bitmap over its
 * largest slot is no bigger than the array becomes a bitmap, and turns
 * back into an array when it thins out to a quarter of that. */
typedef struct qvi_posting {
    uint32_t n;   /* slots in the set */
    uint32_t cap; /* ARRAY: slots allocated; BITMAP: words allocated */
    uint8_t mode; /* QVI_POST_INLINE, QVI_POST_ARRAY, QVI_POST_BITMAP */
    union {
        uint32_t inl[2];
        uint32_t *arr;
        uint64_t *bits;
    } u;
} qvi_posting;

enum { QVI_POST_INLINE = 0, QVI_POST_ARRAY, QVI_POST_BITMAP };

/* Adds slot: 1 when added, 0 when it was there, -1 when out of memory (the
 * set is then unchanged). */
int qvi_posting_add(qvi_posting *p, uint32_t slot);
/* Removes slot; true when it was there.  Never fails (a shrink that cannot
 * allocate keeps the larger form). */
bool qvi_posting_remove(qvi_posting *p, uint32_t slot);
bool qvi_posting_has(const qvi_posting *p, uint32_t slot);
/* The slots of the set whose bit is set in bits (nbits bits; slots >= nbits
 * do not count). */
uint64_t qvi_posting_count_in(const qvi_posting *p, const uint64_t *bits,
                              uint32_t nbits);
/* ORs the set into bits (nbits bits; slots >= nbits are ignored). */
void qvi_posting_or(const qvi_posting *p, uint64_t *bits, uint32_t nbits);
void qvi_posting_free(qvi_posting *p);
/* Heap bytes the set owns. */
size_t qvi_posting_bytes(const qvi_posting *p);

/* A hash map from byte strings to posting lists: keyword values, UUIDs (as
 * their 16 bytes) and full-text tokens.  Linear probing over a table of
 * entry numbers with backward-shift deletion, so that removing a value
 * whose last point went away leaves no tombstone.  Keys live in one arena,
 * compacted when half of it is garbage. */
typedef struct qvi_ventry {
    uint64_t hash;
    uint32_t off, len; /* key bytes in the arena */
    qvi_posting p;
} qvi_ventry;

typedef struct qvi_vmap {
    qvi_ventry *e;
    uint32_t n, cap;
    uint32_t *table; /* entry number + 1; 0 = empty */
    uint32_t tcap;   /* power of two, or 0 */
    char *arena;
    size_t arena_len, arena_cap, garbage;
} qvi_vmap;

/* The posting of key, or NULL.  Valid until the next change to m. */
const qvi_posting *qvi_vmap_find(const qvi_vmap *m, const void *key,
                                 size_t len);
/* Adds slot to key's posting, creating it: 1 added, 0 present, -1 out of
 * memory (m unchanged). */
int qvi_vmap_add(qvi_vmap *m, const void *key, size_t len, uint32_t slot);
/* Removes slot from key's posting, and the key when no slot is left.
 * Never fails. */
bool qvi_vmap_remove(qvi_vmap *m, const void *key, size_t len, uint32_t slot);
void qvi_vmap_free(qvi_vmap *m);
size_t qvi_vmap_bytes(const qvi_vmap *m);

/* ---- the ordered tree (pindex_num.c) ------------------------------
 */

/* A key of the tree: (hi, lo) is the value and slot makes each (value,
 * point) pair unique.  A number (integer and float indexes) is its
 * nearest double mapped to an int64 that orders like the double (hi),
 * then what the double misses (lo, qvi_number_key: an integer's exact
 * offset from that double, and whether the value is a double), so the
 * keys order every i64, u64 and double exactly, as numbers.  A
 * date-time's (hi, lo) is its seconds and nanoseconds; a latitude's
 * (geo) its double's int64 and 0. */
typedef struct qvi_nkey {
    int64_t hi;
    uint32_t lo;
    uint32_t slot;
} qvi_nkey;

/* A two-level B-tree: sorted chunks of at most QVI_NCHUNK keys, found by
 * binary search over the chunks' first keys.  Insert and remove cost
 * O(log n + QVI_NCHUNK) memory moves; a chunk splits when full and merges
 * into a neighbour when it falls under a quarter. */
#define QVI_NCHUNK 512u

typedef struct qvi_nchunk {
    qvi_nkey *e;
    uint32_t n;
} qvi_nchunk;

typedef struct qvi_ntree {
    qvi_nchunk *c;
    uint32_t nc, capc;
    uint64_t n; /* keys in all chunks */
} qvi_ntree;

/* A position: chunk and entry; {nc, 0} is the end. */
typedef struct qvi_ncur {
    uint32_t c, i;
} qvi_ncur;

int qvi_nkey_cmp(const qvi_nkey *a, const qvi_nkey *b);
/* 1 added, 0 present, -1 out of memory (tree unchanged). */
int qvi_ntree_add(qvi_ntree *t, const qvi_nkey *k);
bool qvi_ntree_remove(qvi_ntree *t, const qvi_nkey *k);
/* First position with key >= k (the end if none). */
qvi_ncur qvi_ntree_lower_bound(const qvi_ntree *t, const qvi_nkey *k);
/* The key at cur; false at the end. */
bool qvi_ntree_at(const qvi_ntree *t, qvi_ncur cur, qvi_nkey *out);
void qvi_ntree_next(const qvi_ntree *t, qvi_ncur *cur);
/* Steps back; false (cur unchanged) at the first position. */
bool qvi_ntree_prev(const qvi_ntree *t, qvi_ncur *cur);
/* Keys from a (inclusive) to b (exclusive); 0 when b is not after a. */
uint64_t qvi_ntree_count(const qvi_ntree *t, qvi_ncur a, qvi_ncur b);
/* Sets bit k.slot (below nbits) of bits for every key from a to b. */
void qvi_ntree_bits(const qvi_ntree *t, qvi_ncur a, qvi_ncur b, uint64_t *bits,
                    uint32_t nbits);
/* Replaces the tree's keys by keys[0..n), which must be sorted and
 * unique: QV_OK or QV_ENOMEM (tree unchanged). */
qv_status qvi_ntree_build(qvi_ntree *t, const qvi_nkey *keys, size_t n);
void qvi_ntree_free(qvi_ntree *t);
size_t qvi_ntree_bytes(const qvi_ntree *t);

/* A finite double as an int64 with the same order (-0.0 as 0.0), and
 * back. */
int64_t qvi_double_key(double d);
double qvi_key_double(int64_t k);

/* The (hi, lo) of number v (finite when a double; a QV_NUM_UINT at most
 * INT64_MAX counts as the QV_NUM_INT of the same value), and back: the
 * number a key of an integer or float index stands for, with the kind it
 * was written with (QV_NUM_UINT only above INT64_MAX).  Keys of
 * numerically equal values share hi and lo but for lo's lowest bit,
 * QVI_NUM_LO_DOUBLE for a double: (hi, lo & ~1, 0) is below every key of
 * v's value and (hi, (lo | 1) + 1, 0) above them all. */
#define QVI_NUM_LO_DOUBLE 1u
void qvi_number_key(const qv_number *v, int64_t *hi, uint32_t *lo);
qv_number qvi_key_number(int64_t hi, uint32_t lo);

/* The key of a uuid index: the 16 bytes of the UUID s[0..len) (any form
 * qv_id_parse_uuid takes); false when s is not one.  Shared by the index
 * that stores the keys and the filter that looks them up, so both read a
 * string the same way. */
bool qvi_uuid_key(const char *s, size_t len, uint8_t out[16]);

/* ---- full text (pindex_text.c) ------------------------------------
 */

/* Most tokens a full-text query may hold. */
#define QVI_TEXT_MAX_QUERY_TOKENS 1024u

/* A full-text query: its lowercase tokens, in order. */
typedef enum qvi_tq_kind {
    QVI_TQ_ALL = 0, /* match: {text}: every token present */
    QVI_TQ_ANY,     /* match: {text_any}: some token present */
    QVI_TQ_PHRASE,  /* match: {phrase}: the tokens consecutive, in order */
} qvi_tq_kind;

typedef struct qvi_tq {
    qvi_tq_kind kind;
    uint32_t n;    /* tokens */
    uint32_t *off; /* token i is buf[off[i] .. off[i] + len[i]) */
    uint32_t *len;
    char *buf;
    const qvi_path_item *items; /* the condition's key path (the filter's) */
    uint32_t n_items;
    const char *pool;
    qvi_text_opts *opts; /* the index's pipeline (a reference; NULL:
                            defaults), run on every document string */
} qvi_tq;

/* Tokenizes a query text through the query form of the pipeline opts
 * (NULL: the defaults; q takes a reference).  QV_OK, QV_EINVAL (more than
 * QVI_TEXT_MAX_QUERY_TOKENS tokens) or QV_ENOMEM. */
qv_status qvi_tq_init(qvi_tq *q, qvi_tq_kind kind, qvi_text_opts *opts,
                      const char *text, size_t len);
void qvi_tq_free(qvi_tq *q);

/* Qdrant's token match of q on the point whose payload is root: the
 * tokens of every string at q's key path (array elements included, one
 * level) form one document.  A query without tokens matches nothing. */
bool qvi_tq_match(const qvi_tq *q, const qvi_payload_ops *ops, qvi_pval root);

/* ---- one index and a set of indexes (pindex.c) ------------------------
 */

typedef struct qvi_pindex {
    char *key; /* canonical key path text */
    qvi_path_item *items;
    uint32_t n_items, cap_items;
    char *pool;
    uint32_t pool_len, pool_cap;
    qv_index_kind kind;
    qvi_text_opts *text; /* TEXT: its options (owned; NULL: defaults) */
    /* The structures below do not mirror the payloads (an allocation
     * failed while updating them): the index answers nothing until a
     * rebuild succeeds.  Token semantics of full-text keys still hold. */
    bool stale;
    uint64_t points;      /* points with at least one indexed value */
    qvi_vmap map;         /* KEYWORD, UUID, TEXT */
    qvi_ntree tree;       /* INTEGER, FLOAT, DATETIME, GEO (latitude) */
    qvi_posting bools[2]; /* BOOL: false, true */
} qvi_pindex;

typedef struct qvi_pindex_set {
    qvi_pindex **v;
    uint32_t n, cap;
    uint32_t n_stale;
    uint64_t retry_at; /* write count at which stale indexes are rebuilt */
    uint64_t writes;
    /* Writer scratch (exclusive lock): extracted keys. */
    qvi_nkey *keys;
    size_t n_keys, cap_keys;
} qvi_pindex_set;

/* The payloads a pass over every point reads: slots [0, used) whose live
 * byte is set, live of them; blob(ctx, slot) is the payload blob of a live
 * slot, or NULL when it cannot be read (a damaged blob, which indexes
 * nothing). */
typedef struct qvi_pindex_source {
    const uint8_t *live;
    uint32_t used;
    uint64_t count;
    const uint8_t *(*blob)(const void *ctx, uint32_t slot);
    const void *ctx;
} qvi_pindex_source;

/* A new, empty, stale index of kind (which the caller has checked) on key,
 * parsed and canonicalised ("a.\"b\"" and "a.b" are one key).  Returns
 * QV_OK, QV_EINVAL (a malformed key: err, errcap bytes, gets the reason)
 * or QV_ENOMEM; *out is NULL on failure.  Free with qvi_pindex_free. */
qv_status qvi_pindex_new(const char *key, qv_index_kind kind, qvi_pindex **out,
                         char *err, size_t errcap);
/* Frees ix and everything it owns; NULL is ignored. */
void qvi_pindex_free(qvi_pindex *ix);

/* Builds ix from every live payload of src, using s's writer scratch.  On
 * success ix is fresh (not stale); on failure (QV_ENOMEM) its structures
 * are freed and it is stale.  ix need not be in s. */
qv_status qvi_pindex_build(qvi_pindex_set *s, qvi_pindex *ix,
                           const qvi_pindex_source *src);

/* Points of src with a value for ix, counted from the payloads (a stale
 * index keeps no count).  Allocates nothing and changes nothing. */
uint64_t qvi_pindex_count_points(const qvi_pindex *ix,
                                 const qvi_pindex_source *src);

/* Heap bytes the index's structures own. */
uint64_t qvi_pindex_bytes(const qvi_pindex *ix);

/* The index of s (NULL: no index) on the key path given by items
 * (compared item by item), or NULL.  Valid until s next changes. */
const qvi_pindex *qvi_pindex_set_find(const qvi_pindex_set *s,
                                      const qvi_path_item *items,
                                      uint32_t n_items, const char *pool);
/* The position in s (may be NULL) of the index on like's key, or -1. */
int qvi_pindex_set_index_of(const qvi_pindex_set *s, const qvi_pindex *like);

/* Puts ix into s, replacing (and freeing) the index on the same key.
 * Takes ownership of ix whatever happens.  QV_OK or QV_ENOMEM. */
qv_status qvi_pindex_set_put(qvi_pindex_set *s, qvi_pindex *ix);
/* Frees the index at position at (< s->n) and takes it out of s. */
void qvi_pindex_set_remove(qvi_pindex_set *s, uint32_t at);
/* Frees s, its indexes and its scratch; NULL is ignored. */
void qvi_pindex_set_free(qvi_pindex_set *s);

/* Rebuilds the indexes of s (NULL: none) from src: all of them, or only
 * the stale ones.  QV_OK or QV_ENOMEM (the indexes that could not be built
 * stay stale). */
qv_status qvi_pindex_set_rebuild(qvi_pindex_set *s, bool only_stale,
                                 const qvi_pindex_source *src);

/* Write hooks: slot's payload (blob, NULL when unreadable) is about to
 * change or go away (remove), or has just been set (add).  Each fresh
 * index takes out or puts in the slot's values.  Never fail: an index that
 * cannot allocate turns stale, and add rebuilds the stale indexes from src
 * once 1/8 of src's points (plus 64) have been written since. */
void qvi_pindex_set_remove_slot(qvi_pindex_set *s, const uint8_t *blob,
                                uint32_t slot);
void qvi_pindex_set_add_slot(qvi_pindex_set *s, const uint8_t *blob,
                             uint32_t slot, const qvi_pindex_source *src);

#endif /* QUIVER_PAYLOAD_INDEX_H */
