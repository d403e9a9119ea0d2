/*
 * search.h -- internal interface of core/search/: how one query or one page
 * of points is answered from a collection.
 *
 *   candidates.c    a filter prepared against the collection's payload
 *                   indexes: the candidate points and the per-point check
 *   planner.c       graph walk or scan, and the beam, from the filter's
 *                   selectivity
 *   search_exact.c  top-k of one query (qv_search): graph or scan
 *   search_batch.c  many queries at once (qv_search_batch), through BLAS
 *   scroll.c        pages of points in id order (qv_scroll, counts,
 *                   delete by filter)
 *   scroll_order.c  pages ordered by a payload key (qv_scroll_order_by)
 *
 * Everything here runs under the collection's lock (shared for reads,
 * exclusive for delete by filter) and sees qv_collection; the leaves it
 * uses (hnsw/, filter/, payload/, pindex/) never do.
 */
#ifndef QUIVER_SEARCH_H
#define QUIVER_SEARCH_H

#include "core/core.h"
#include "core/filter/filter.h"
#include "core/pindex/pindex.h"

/* How a search runs (planner.c). */
typedef struct qvi_plan {
    bool graph;  /* walk the graph (with an accept function), else scan */
    uint32_t ef; /* beam width for the graph walk */
} qvi_plan;

/* Chooses between the graph and a scan, and the beam, from the filter's
 * selectivity: counted by the payload indexes when they answer the filter
 * exactly, estimated on a sample of the candidates otherwise.  q is the
 * search's filter prepared with qvi_candidates_prepare_locked (below).
 * Shared lock. */
struct qvi_candidates;
qvi_plan qvi_plan_search_locked(const qv_collection *c,
                                const qv_search_params *params,
                                const struct qvi_candidates *q);

/* Which slots a search may return (core/hnsw/hnsw.h defines it). */
struct qvi_accept;

/* Exact scan of every live, accepted (acc NULL: all) slot into t, sorted
 * best first.  Shared lock. */
void qvi_scan_locked(const qv_collection *c, const float *q,
                     const struct qvi_accept *acc, qvi_topk *t);

/* Validates search parameters; records the failure on c. */
qv_status qvi_check_params(qv_collection *c, const qv_search_params *params);

/* Keeps the hits of a sorted top-k that pass the threshold, converting
 * distances to scores; returns their number. */
size_t qvi_emit_hits(const qv_collection *c, const qv_search_params *params,
                     qvi_topk *t, qv_hit *hits);

/* ---- prepared filters (search/candidates.c) ---------------------------
 */

/* A filter prepared for one query on one collection: which points can
 * match according to the indexes, and how each condition on a full-text
 * key is evaluated.  Built and used under the collection's lock (shared
 * is enough), freed before it is released. */
typedef struct qvi_candidates {
    const qv_collection *c;
    const qvi_filter *f; /* NULL: every point matches */
    /* Candidate slots (bit s of word s/64, nbits bits), or NULL: every live
     * slot.  Deleted slots are never candidates. */
    uint64_t *cand;
    uint32_t nbits;
    bool exact;      /* the candidates are exactly the matching points */
    uint64_t n_cand; /* set bits in cand; the live count when NULL, or the
                        index estimate when estimated */
    bool indexed;    /* some index narrowed the candidates */
    bool estimated;  /* no bitmap for being over budget: n_cand is the
                        indexes' estimate of the matches */
    qvi_tq **text;   /* per field: its token query, or NULL (substring);
                        NULL when no field is on a full-text key */
} qvi_candidates;

/* Prepares f (NULL: no filter).  budget bounds the candidate bitmap: when
 * the indexes estimate (tightly) more matches than budget, no bitmap is
 * built and q is "estimated" (UINT64_MAX: always build one, as count,
 * scroll and delete want).  Returns QV_OK, QV_EINVAL (a full-text query
 * over QVI_TEXT_MAX_QUERY_TOKENS tokens) or QV_ENOMEM, recording the
 * failure on c; q is then empty and safe to free. */
#define QVI_CANDIDATES_ALWAYS UINT64_MAX
qv_status qvi_candidates_prepare_locked(qv_collection *c, const qvi_filter *f,
                                        uint64_t budget, qvi_candidates *q);

/* The bitmap budget of a search with beam ef: a bitmap costs a pass over
 * its candidates per query, the graph walk that would use it about
 * 20 ef / s visits for a selectivity s; a bitmap pays while
 * n_cand^2 < 200 ef n (a few nanoseconds per bit, tens per visit). */
uint64_t qvi_candidates_search_budget(const qv_collection *c, uint32_t ef);
void qvi_candidates_free(qvi_candidates *q);

/* Evaluates the filter on every candidate and keeps those that match, so
 * that the candidates become exact (a bitmap is made when there was none).
 * QV_OK or QV_ENOMEM (q unchanged). */
qv_status qvi_candidates_refine_locked(qvi_candidates *q);

/* True when the live slot matches: a candidate, and either exact or
 * passing the filter. */
bool qvi_candidates_match(const qvi_candidates *q, uint32_t slot);

/* True when slot is a candidate (cheap; no evaluation). */
static inline bool qvi_candidates_has(const qvi_candidates *q, uint32_t s)
{
    if (!q->cand)
        return true;
    return s < q->nbits && (q->cand[s / 64] >> (s % 64) & 1);
}

/* The first candidate slot >= from that is live, or UINT32_MAX. */
uint32_t qvi_candidates_next(const qvi_candidates *q, uint32_t from);

#endif /* QUIVER_SEARCH_H */
