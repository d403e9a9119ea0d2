/*
 * sparse.h -- internal interface of core/sparse/: sparse vectors of a
 * collection and their inverted index.
 *
 * A leaf: it sees slots (uint32 row numbers), plain arrays and callbacks,
 * never a collection.  core/sparse_api.c is the collection's side.
 *
 *   sparse_index.c  per-slot rows (sorted indices, values) and one posting
 *                   list per dimension, kept in step on every set/clear
 *   sparse_search.c scoring: the exact scan and the inverted-index search,
 *                   which give identical answers (see there why)
 *
 * Locking: none of its own.  The collection's lock protects a qvi_sparse:
 * set and clear under the exclusive lock, searches under the shared one.
 */
#ifndef QUIVER_SPARSE_H
#define QUIVER_SPARSE_H

#include "core/base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One stored sparse vector: nnz strictly ascending indices and their
 * values.  A slot without a vector has nnz 0 and NULL arrays. */
typedef struct qvi_sparse_row {
    uint32_t *idx;
    float *val;
    uint32_t nnz;
} qvi_sparse_row;

/* The posting list of one dimension: the slots holding it, ascending, and
 * each slot's value there in the index's datatype (Qdrant's sparse
 * `index.datatype`, which types the weights of its inverted index, not the
 * stored vectors): float32 as is, float16 as IEEE halves, uint8 as
 * Qdrant's QuantizedU8 -- one byte per posting, round((v - min) / step)
 * clamped to 0..255, read back as min + q * step, where min and max are
 * the smallest and largest original value of the list and step is
 * (max - min) / 255 (lib/sparse/src/common/types.rs, QuantizedU8Params).
 * A uint8 list is re-encoded from the rows' originals whenever its min or
 * max changes, so it always equals a fresh build over the current rows. */
typedef struct qvi_sparse_posting {
    uint32_t dim;
    uint32_t n, cap;
    uint32_t *slots;
    void *vals;       /* cap values: float, uint16_t halves or uint8_t */
    float vmin, vmax; /* uint8: the originals' range (n > 0) */
} qvi_sparse_posting;

typedef struct qvi_sparse {
    qvi_sparse_row *rows; /* cap rows */
    uint32_t cap;
    uint64_t n_vectors; /* rows with nnz > 0 */
    uint64_t nnz_total; /* sum of nnz over the rows */
    /* Postings, found by dimension through an open-addressing table of
     * list numbers + 1 (0: empty bucket), tab_cap a power of two. */
    qvi_sparse_posting *lists;
    uint32_t n_lists, lists_cap;
    uint32_t *tab;
    uint32_t tab_cap;
    bool stale;        /* a posting update ran out of memory: the lists do not
                          mirror the rows; searches scan until a rebuild */
    uint32_t datatype; /* of the posting values (a qv_datatype); the rows
                          always keep the float32 originals */
    /* Arrays inside [borrow_lo, borrow_lo + borrow_len) -- row indices and
     * values, posting slots and values -- are borrowed from a snapshot's
     * private mapping (persist/snapshot_sparse.c): written in place at
     * will, never freed or reallocated; a list that grows copies itself
     * out first.  0 length: nothing is borrowed. */
    const uint8_t *borrow_lo;
    size_t borrow_len;
} qvi_sparse;

/* Whether p lies in s's borrowed range. */
bool qvi_sparse_borrowed(const qvi_sparse *s, const void *p);

/* Takes the n posting lists at lists (an array from malloc, taken over
 * whatever the outcome; their slots and values may be borrowed) as s's
 * index, whose lists must be empty, and builds the dimension table.
 * QV_OK, QV_EINVAL (a dimension repeats: the lists are dropped) or
 * QV_ENOMEM. */
qv_status qvi_sparse_adopt_lists(qvi_sparse *s, qvi_sparse_posting *lists,
                                 uint32_t n);

/* Whether s's lists hold exactly the entries of the rows of slots
 * [0, n_slots): each row entry at its list's next position, with the value
 * the datatype makes of it, and nothing else (a loaded file's deep check).
 * False also without memory for the cursors. */
bool qvi_sparse_mirrors_rows(const qvi_sparse *s, uint32_t n_slots);

/* The float equal to half h: the walk's inlined conversion, equal to
 * qvi_half_value (exported for the test that checks so). */
float qvi_sparse_half_value(uint16_t h);

/* Bytes of one posting value in datatype dt (4, 2 or 1). */
size_t qvi_sparse_value_size(uint32_t dt);

/* An empty index of float32 postings. */
void qvi_sparse_init(qvi_sparse *s);
void qvi_sparse_free(qvi_sparse *s);

/* Makes rows [0, cap) addressable.  QV_OK or QV_ENOMEM (s unchanged). */
qv_status qvi_sparse_reserve(qvi_sparse *s, uint32_t cap);

/* Replaces slot's row by *row (taken over; *row is zeroed) and updates
 * the postings.  Never fails: a posting list that cannot grow marks the
 * index stale (qvi_sparse_rebuild repairs it). */
void qvi_sparse_set(qvi_sparse *s, uint32_t slot, qvi_sparse_row *row);

/* Removes slot's row (nothing when it has none). */
void qvi_sparse_clear(qvi_sparse *s, uint32_t slot);

/* Rebuilds every posting list from the rows of slots [0, n_slots).  QV_OK
 * or QV_ENOMEM (stays stale). */
qv_status qvi_sparse_rebuild(qvi_sparse *s, uint32_t n_slots);

/* A change of the index's datatype in two steps, so that it can fail
 * without changing s: build_lists makes, in *out, the posting lists of the
 * rows of slots [0, n_slots) of s in datatype dt (out borrows s's rows:
 * never qvi_sparse_free it); QV_OK or QV_ENOMEM (out empty).  take_lists
 * then replaces s's lists and datatype by out's (out is left empty), or
 * drop_lists frees them.  s must not change in between. */
qv_status qvi_sparse_build_lists(const qvi_sparse *s, uint32_t dt,
                                 uint32_t n_slots, qvi_sparse *out);
void qvi_sparse_take_lists(qvi_sparse *s, qvi_sparse *built);
void qvi_sparse_drop_lists(qvi_sparse *built);

/* The value a posting of v would hold in datatype dt, read back as a float
 * (float16: the nearest half; uint8: through the list's min and step,
 * given as lo, hi). */
float qvi_sparse_typed(uint32_t dt, float v, float lo, float hi);

/* The value slot's row holds for dim as the index scores it (its stored
 * posting read back; the original when the index is float32 or stale). */
float qvi_sparse_scored_value(const qvi_sparse *s, uint32_t dim, float v);

/* The number of rows holding dimension dim (0 when none). */
uint32_t qvi_sparse_df(const qvi_sparse *s, uint32_t dim);

/* Adds qv times each posting of dim below n_slots into sum[slot], marking
 * first-touched slots in hit and appending them to touched (room for the
 * list's length, qvi_sparse_df). */
void qvi_sparse_posting_walk(const qvi_sparse *s, uint32_t dim, float qv,
                             double *sum, uint8_t *hit, uint32_t n_slots,
                             uint32_t *touched, size_t *n_touched);

/* Bytes held by the posting lists and the rows (for the benchmark). */
size_t qvi_sparse_posting_bytes(const qvi_sparse *s);

/* Sorts a copy of (idx, val, nnz) by index into a new row.  Fails with
 * QV_EINVAL on a repeated index (err names it) or QV_ENOMEM. */
qv_status qvi_sparse_row_make(const uint32_t *idx, const float *val,
                              uint32_t nnz, qvi_sparse_row *out, char *err,
                              size_t errcap);
void qvi_sparse_row_free(qvi_sparse_row *r);

/* Qdrant's IDF of a dimension held by df of n vectors (see
 * sparse_search.c). */
float qvi_sparse_idf(uint64_t n, uint64_t df);

/* Which slots a search may return: accept(arg, slot) (NULL: all). */
typedef struct qvi_sparse_accept {
    bool (*fn)(const void *arg, uint32_t slot);
    const void *arg;
} qvi_sparse_accept;

/* The accumulators of an inverted-index search, kept between searches by
 * the caller: sum and hit (cap slots) are all zeros between two searches
 * (each search resets the slots it touched), so a search costs its
 * postings, not the collection's size -- and touches no fresh pages:
 * zeroed arrays allocated per query made every search fault in (and
 * copy-on-write) zero pages, with a TLB shootdown each, which dominated
 * searches on a 2-thread server.  One search at a time per scratch. */
typedef struct qvi_sparse_scratch {
    double *sum;
    uint8_t *hit;
    uint32_t cap;
    uint32_t *touched;
    size_t tcap;
} qvi_sparse_scratch;

/* Frees the arrays and zeroes *sc (a zeroed scratch is empty and valid). */
void qvi_sparse_scratch_free(qvi_sparse_scratch *sc);

/* Top-k of query q (a sorted row) into t (distance = -score, sorted best
 * first) over the slots [0, n_slots) that share at least one dimension
 * with q and are accepted.  exact: score every row by merging; else walk
 * the postings of q's dimensions with the accumulators of sc (NULL: a
 * temporary one).  Both give the same hits, scores and order (bit for
 * bit).  A stale index always scans.  QV_OK or QV_ENOMEM. */
qv_status qvi_sparse_search(const qvi_sparse *s, const qvi_sparse_row *q,
                            uint32_t n_slots, const qvi_sparse_accept *acc,
                            bool exact, qvi_sparse_scratch *sc, qvi_topk *t);

#endif /* QUIVER_SPARSE_H */
