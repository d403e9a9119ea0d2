/*
 * hnsw.h -- internal interface of Quiver's HNSW index (core/hnsw_*.c).
 *
 * What
 * ----
 * A Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016/2018)
 * over the slots of one collection.  The index stores links only, never
 * vectors: the collection owns one contiguous, 64-byte aligned float array
 * and hands the index a qvi_vecview on every call, because that array may
 * be reallocated (grown) between calls.  Nodes are named by slot number.
 *
 * The files, one per phase of the index's life (as pgvector splits its own):
 *   hnsw_graph.c   layout, allocation, levels, distances, memory accounting
 *   hnsw_search.c  Algorithm 2 (search a layer) and 5 (k-NN search), scratch
 *   hnsw_search_scored.c  the same search with distances the caller
 *                  computes (quantized codes, core/quant/)
 *   hnsw_build.c   Algorithm 1 (insert) with Algorithm 4 (the neighbour
 *                  selection heuristic), single and parallel batch insert
 *   hnsw_delete.c  unlinking a removed node and repairing its in-neighbours
 *   hnsw_connect.c relinking the rare nodes no search can reach
 *   hnsw_check.c   the graph checker used by tests and after loading
 *
 * Distances
 * ---------
 * Inside the index a distance is "lower is better": cosine and dot give
 * -dot(a, b), euclid the squared L2 distance, manhattan the L1 distance,
 * all computed by the kernels of simd/simd.h.  Cosine vectors must already
 * be unit length (the collection normalises on insert), and so must cosine
 * queries.  The collection converts distances to API scores.  Under dot
 * the graph itself is built with a different, norm-aware distance between
 * data points (see hnsw_build.c, "Inner product"); searches use -dot.
 *
 * A collection may instead supply its own distance (qvi_hnsw_params.custom):
 * a multivector collection's graph compares matrices by MaxSim, between a
 * query and a point and between two points alike, as Qdrant builds its
 * HNSW over multivectors.  Its views then carry offs, the start of each
 * slot's variable-length record (core/multi/multi.h).  The search loops
 * are compiled once for dense rows and once for records, so the dense
 * path keeps its plain row arithmetic.
 *
 * Locking model (who must hold what)
 * ----------------------------------
 * The index has no reader/writer lock of its own; it relies on the
 * collection's rwlock and on the collection serialising graph writers
 * (its graph_mu, core/core.h):
 *   - qvi_hnsw_search, qvi_hnsw_search_scored, qvi_hnsw_count and
 *     qvi_hnsw_contains are readers: any number may run at once, each
 *     search with its own scratch, under the shared lock.
 *   - qvi_hnsw_insert_link, qvi_hnsw_replace and qvi_hnsw_maintain are
 *     "linkers": one at a time (graph_mu), under the shared lock, so
 *     searches run beside them.  They change link records (count and
 *     entries), in-degrees, the entry point and the maximum level, the
 *     level of a pending node as they link it, counts, and their own
 *     scratch; they free and reallocate nothing a reader sees: every
 *     array they touch was sized by qvi_hnsw_insert_prepare under the
 *     exclusive lock before, and a replaced node keeps its records.  See
 *     "Searches beside a linker" below for why a search stays correct.
 *   - every other function that changes the index (create, reserve,
 *     insert, insert_prepare, insert_batch, remove, reconnect,
 *     links_on_disk, free) is a writer: the caller holds its write lock.
 *     qvi_hnsw_memory_bytes and qvi_hnsw_check read fields a writer
 *     changes and need at least the shared lock with no linker running.
 *   insert_batch and insert_link start their own threads, which insert
 *   concurrently with each other under per-node spinlocks and one
 *   entry-point mutex; they have all ended when the call returns.
 *
 * Searches beside a linker
 * ------------------------
 * A linker writes each link entry with a relaxed atomic store and a
 * list's count with a release store after the entries it covers; searches
 * load the count with acquire and the entries relaxed (plain moves on
 * x86, so the hot loop is unchanged).  A search that races with a change
 * of a list may see old and new entries mixed, or a stale count over old
 * entries: every value ever stored there is a node that is in the graph
 * with complete records (no node leaves the graph while a linker runs:
 * removal is a writer), so it walks a slightly different list, never a
 * wrong one.  A new node becomes reachable only once all its own lists
 * are written (insert_node adds the links back to it last, on every
 * level), so a search that enters it on an upper level descends through
 * complete lists, never a dead end.  A replaced node (qvi_hnsw_replace)
 * has its new vector before the linker starts, so its distance is always
 * right; it keeps its old lists until they are merged with its new
 * neighbours, so a search that already holds it walks on (no dead end),
 * and the entry point moves off it first.  The entry point and maximum level
 * are stored atomically (entry first, then the level, release); a search
 * reads the level first and never descends above the entry's own level.
 * Upper blocks and vectors of the new nodes were written under the
 * exclusive lock, before any search that can reach them started; their
 * levels are stored (atomically) before anything links to them.
 * No function keeps a pointer into the caller's vectors after it returns.
 *
 * Errors
 * ------
 * Every function that can fail returns a qv_status, and a failed call
 * changes nothing observable (the graph is exactly as before).  Misuse that
 * input could reach (a slot out of range, inserting a slot twice, a view of
 * the wrong dimension) is reported with QV_EINVAL / QV_ERANGE, never
 * asserted.
 */
#ifndef QUIVER_HNSW_H
#define QUIVER_HNSW_H

#include "core/base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The collection's vectors, as seen by one call.  Slot s's vector is the
 * dim floats at base + s * stride; stride >= dim (the collection pads rows to
 * a multiple of 16 floats with zeros).  metric must be the index's. */
typedef struct qvi_vecview {
    /* Rows of the graph's element type (qvi_hnsw_params.datatype): floats,
     * or halves or bytes typed as floats (core/base/base.h,
     * qvi_row_kernel), which only the kernels read. */
    const float *base;
    size_t stride; /* in floats (4-byte units, whatever the element) */
    uint32_t dim;
    qv_metric metric;
    /* NULL for dense rows.  A graph with a custom distance (multivectors,
     * see qvi_hnsw_params.custom) finds slot s's vector at base + offs[s]
     * instead: variable-length records only the custom distance reads. */
    const uint64_t *offs;
} qvi_vecview;

/* A distance kernel: lower is better once the index has applied its sign.
 * For dense rows, a simd/ kernel over n floats; for a custom distance, a
 * function of two records of the view (see qvi_vecview.offs) with n the
 * view's dim. */
typedef float (*qvi_hnsw_kernel)(const float *a, const float *b, size_t n);

/* Build parameters, named as Qdrant's hnsw_config.  Level 0 keeps up to 2*m
 * links per node, the levels above up to m. */
typedef struct qvi_hnsw_params {
    uint32_t m;            /* QV_MIN_HNSW_M..QV_MAX_HNSW_M */
    uint32_t ef_construct; /* QV_MIN_EF_CONSTRUCT..QV_MAX_EF_CONSTRUCT */
    uint64_t seed;         /* seed of the level generator */
    /* NULL: the metric's kernel over dense rows.  Else the distance (lower
     * is better, used as is) between two records of a view with offs set,
     * or between a query record and a stored one: the graph of a
     * multivector collection uses MaxSim for both, as Qdrant builds its
     * HNSW over multivectors.  The dot build distance is not used then. */
    qvi_hnsw_kernel custom;
    /* The element type of the dense rows (qv_datatype): FLOAT32 (the
     * default) scores with simd/'s float kernels, FLOAT16 and UINT8 with
     * the narrow ones (qvi_datatype_kernel), for queries encoded the same
     * way.  Ignored with custom. */
    uint32_t datatype;
} qvi_hnsw_params;

/* Fills *p with QV_DEFAULT_HNSW_M, QV_DEFAULT_EF_CONSTRUCT and the default
 * seed of qv_collection_config. */
void qvi_hnsw_params_init(qvi_hnsw_params *p);

/* The highest slot number plus one that the index can address: node ids
 * keep their top bit free for the search's "expanded" flag. */
#define QVI_HNSW_MAX_SLOTS 0x7fffffffu

/* Levels are drawn from -ln(U) / ln(m) and capped here. */
#define QVI_HNSW_MAX_LEVEL 30u

typedef struct qvi_hnsw qvi_hnsw;

/* Creates an empty index for vectors of dim floats under metric.
 * Returns QV_ENULL (p or out NULL), QV_ERANGE (m, ef_construct or dim out
 * of range), QV_EINVAL (unknown metric) or QV_ENOMEM; *out is NULL on
 * failure.  The index is freed with qvi_hnsw_free. */
qv_status qvi_hnsw_create(const qvi_hnsw_params *p, uint32_t dim,
                          qv_metric metric, qvi_hnsw **out);

/* Frees the index.  NULL is ignored.  No other call may be running. */
void qvi_hnsw_free(qvi_hnsw *h);

/* Keeps h's level-0 links in a mapped file made in dir (NULL: $TMPDIR)
 * from now on: heap links move at once, links borrowed from a snapshot at
 * the next growth.  Again: no-op.  Returns QV_OK, QV_ENULL, QV_EIO or
 * QV_ENOMEM (nothing changed).  Writer. */
qv_status qvi_hnsw_links_on_disk(qvi_hnsw *h, const char *dir);

/* Makes room for slots 0..n_slots-1 (capacity grows geometrically, so
 * calling it with +1 each time is cheap).  Returns QV_OK, QV_ERANGE
 * (n_slots > QVI_HNSW_MAX_SLOTS) or QV_ENOMEM, in which case the index is
 * unchanged.  Writer. */
qv_status qvi_hnsw_reserve(qvi_hnsw *h, size_t n_slots);

/* Inserts slot, whose vector is in view (Algorithm 1).  The slot must not
 * be in the index: it is new or was removed by qvi_hnsw_remove.  Grows the
 * capacity if needed.  Returns QV_OK, QV_ENULL, QV_EINVAL (slot already
 * present, view of another dim/metric), QV_ERANGE (slot >=
 * QVI_HNSW_MAX_SLOTS) or QV_ENOMEM (index unchanged).  Writer. */
qv_status qvi_hnsw_insert(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot);

/* Inserts n slots with `threads` threads (0 or 1: in the calling thread).
 * Every slot must be absent from the index and appear once in slots.
 * Levels are drawn in the order of slots before any thread starts, so the
 * levels are reproducible; the links depend on thread timing when threads
 * > 1.  All memory is allocated before the threads start: the batch
 * inserts all n slots or, on QV_ENOMEM / QV_EINVAL / QV_ERANGE (as insert,
 * plus a duplicate in slots), none.  A thread that cannot be started is not
 * an error: the threads that did start (at least the caller's) do its
 * share.  Writer. */
qv_status qvi_hnsw_insert_batch(qvi_hnsw *h, const qvi_vecview *view,
                                const uint32_t *slots, size_t n,
                                unsigned threads);

/* Inserting while searches run, in two steps (the collection's upsert:
 * core/collection_index.c).  Step one, under the write lock: makes room
 * for slots[0..n), draws their levels in the order of slots (as
 * insert_batch does), allocates their records and sizes the writer's
 * scratch, so that linking cannot fail.  The slots are then "pending":
 * not yet in levels[] (contains() is false) nor counted, no search
 * reaches them, and maintain and reconnect leave the graph alone
 * (check reports them) until every one is linked; they must not be
 * inserted or prepared again meanwhile.  Same checks and errors as
 * insert_batch; on failure nothing changed.  Writer. */
qv_status qvi_hnsw_insert_prepare(qvi_hnsw *h, const qvi_vecview *view,
                                  const uint32_t *slots, size_t n);

/* Step two: links slots[0..n), all pending, with `threads` threads (0 or
 * 1: the calling thread; a thread that cannot start or get its scratch
 * leaves its share to the others).  Any split of the prepared slots into
 * calls, in any order, gives them all.  Counts each slot once linked.
 * Then call qvi_hnsw_maintain once none is pending.  Never fails (view
 * must be the one prepare was checked against, over the same rows).
 * Linker: under the shared lock, one linker at a time, searches beside. */
void qvi_hnsw_insert_link(qvi_hnsw *h, const qvi_vecview *view,
                          const uint32_t *slots, size_t n, unsigned threads);

/* Gives slot, which is in the graph, the vector the view
 * now holds for it: unlinks it as qvi_hnsw_remove does (its in-neighbours
 * are repaired with the heuristic; its old vector is not read), then
 * links it again at the same level as qvi_hnsw_insert_link would link a
 * new node, its old links merged with the new candidates by the heuristic.
 * Nothing is freed or reallocated and levels[] stays, so it is a linker:
 * under the shared lock, searches beside (they may meet the node with its
 * new vector and its old links meanwhile, never a wrong distance nor an
 * empty list).  Then call qvi_hnsw_maintain.
 * Slots may be pending meanwhile (they are not touched).  Returns QV_OK,
 * QV_ENULL, QV_EINVAL (view), QV_ENOTFOUND (slot not in the graph), QV_ENOMEM
 * or QV_EINTERNAL (in-degree counters disagree with the links: a damaged
 * graph); on failure nothing changed. */
qv_status qvi_hnsw_replace(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot);

/* Removes slot from the graph at once: every link to it is removed and each
 * node that pointed to it is relinked among its remaining neighbours and the
 * removed node's neighbours with the selection heuristic (as hnswlib's
 * repairConnectionsForUpdate and pgvector's vacuum do).  The view must still
 * hold the vectors of the remaining nodes; slot's own vector is not read, so
 * the collection may already have overwritten it.  When slot was the entry
 * point, the new one is a node of the highest remaining level, so the
 * maximum level stays right (the Redis vector-sets bug).  After the call the
 * slot never appears in results and may be inserted again.
 * Returns QV_OK, QV_ENULL, QV_EINVAL (view) or QV_ENOTFOUND (slot not in
 * the index), or QV_ENOMEM (index unchanged).  Writer. */
qv_status qvi_hnsw_remove(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot);

/* Makes every node reachable from the entry point again: a walk finds the
 * nodes no search can reach (rare; see hnsw_connect.c) and each is linked
 * from the nearest reachable node that can take the link.  insert_batch
 * calls it at its end; call it after many qvi_hnsw_remove calls (say, when
 * removals since the last call exceed 1% of the nodes) or whenever
 * qvi_hnsw_check reports unreachable nodes.  *relinked (may be NULL) gets
 * the number of links added.  O(nodes + links) plus one search per
 * stranded group.  Does nothing while slots are pending (see
 * qvi_hnsw_insert_prepare).  Returns QV_OK, QV_ENULL, QV_EINVAL (view) or
 * QV_ENOMEM (graph unchanged).  Writer, or a linker through
 * qvi_hnsw_maintain: its link changes are the atomic ones of a linker. */
qv_status qvi_hnsw_reconnect(qvi_hnsw *h, const qvi_vecview *view,
                             uint64_t *relinked);

/* Runs qvi_hnsw_reconnect once the nodes inserted or removed since its
 * last run reach 1% of the graph, so that its O(n) walk costs O(100) node
 * visits per change, amortised.  insert_batch and remove call it; a
 * caller never needs to.  Returns what reconnect returns (QV_OK when it
 * had nothing to do); on failure the graph is valid, only possibly less
 * reachable, and the next call tries again.  Does nothing while slots are
 * pending.  Writer or linker (see "Locking model"). */
qv_status qvi_hnsw_maintain(qvi_hnsw *h, const qvi_vecview *view);

/* True when slot is in the index (linked; pending slots are not).
 * Reader. */
bool qvi_hnsw_contains(const qvi_hnsw *h, uint32_t slot);

/* Number of linked nodes in the index (pending ones are not counted, so
 * this is what a search can find).  Reader, also beside a linker. */
uint64_t qvi_hnsw_count(const qvi_hnsw *h);

/* Which slots may enter results.  A NULL qvi_accept accepts everything.
 * Slot s is accepted when, with bitmap set, s < nbits and bit s of the
 * bitmap (bit s%64 of word s/64) is set, and, with fn set, fn(slot, ctx)
 * returns true (fn must be safe to call from the searching thread; it is
 * called once per distance-evaluated node that passed the bitmap).  Rejected
 * nodes are still walked through, so the traversal is the unfiltered one and a
 * selective filter may leave fewer than k hits: the caller should use exact
 * search when the filter is very selective, as Qdrant does. */
typedef struct qvi_accept {
    const uint64_t *bitmap;
    size_t nbits;
    bool (*fn)(uint32_t slot, void *ctx);
    void *ctx;
} qvi_accept;

/* True when acc lets slot s into results (acc may be NULL). */
static inline bool qvi_accepts(const qvi_accept *acc, uint32_t s)
{
    if (!acc)
        return true;
    if (acc->bitmap &&
        !(s < acc->nbits && (acc->bitmap[s / 64] >> (s % 64) & 1)))
        return false;
    return !acc->fn || acc->fn(s, acc->ctx);
}

/* Per-search state: the candidate pool and an epoch-tagged visited array
 * that is never cleared between queries.  One scratch serves one search at
 * a time; reuse it across searches (and across indexes: it resizes itself
 * to the index it is used on). */
typedef struct qvi_hnsw_scratch qvi_hnsw_scratch;

/* Returns QV_ENULL or QV_ENOMEM (*out NULL on failure). */
qv_status qvi_hnsw_scratch_create(qvi_hnsw_scratch **out);

/* NULL is ignored. */
void qvi_hnsw_scratch_free(qvi_hnsw_scratch *s);

/* k-NN search (Algorithm 5): greedy descent through the upper levels, then a
 * beam of width max(ef, k) on level 0.  query holds view->dim floats
 * (unit length under cosine).  Writes up to k slots and their distances
 * (lower is better, see above), best first, to slots_out and dists_out
 * (room for k each; dists_out may be NULL) and their number to *n_out: k
 * unless the index holds fewer accepted nodes than k, or the filter cut.
 * Ties are broken by slot.
 * Returns QV_OK, QV_ENULL, QV_EINVAL (view), QV_ERANGE (k = 0, k or ef >
 * QV_MAX_EF) or QV_ENOMEM (growing the scratch).  Reader: may run
 * concurrently with other searches, each with its own scratch. */
qv_status qvi_hnsw_search(const qvi_hnsw *h, const qvi_vecview *view,
                          const float *query, uint32_t k, uint32_t ef,
                          const qvi_accept *accept, qvi_hnsw_scratch *scratch,
                          uint32_t *slots_out, float *dists_out, size_t *n_out);

/* A search distance computed by the caller instead of from a qvi_vecview:
 * dist(ctx, s) is the distance (lower is better) of the caller's query to
 * slot s, for instance on quantized codes (core/quant/).  The walk
 * prefetches what dist will read from the fields below (see
 * hnsw_search_scored.c, "Memory traffic"). */
typedef struct qvi_hnsw_scorer {
    float (*dist)(const void *ctx, uint32_t slot);
    const void *ctx;
    /* What dist reads, for the walk's prefetching: `lines` cache lines at
     * rows + slot * stride (rows NULL: nothing prefetched). */
    const uint8_t *rows;
    size_t stride;
    unsigned lines;
} qvi_hnsw_scorer;

/* qvi_hnsw_search with the scorer's distances (hnsw_search_scored.c): the
 * same greedy descent and level-0 beam, filter and tie order, over the same
 * graph.  Returns QV_OK, QV_ENULL, QV_ERANGE (k = 0, k or ef > QV_MAX_EF)
 * or QV_ENOMEM.  Reader. */
qv_status qvi_hnsw_search_scored(const qvi_hnsw *h, const qvi_hnsw_scorer *sc,
                                 uint32_t k, uint32_t ef,
                                 const qvi_accept *accept,
                                 qvi_hnsw_scratch *scratch, uint32_t *slots_out,
                                 float *dists_out, size_t *n_out);

/* Heap bytes the index owns (links, levels, locks, in-degrees, internal
 * scratch), not counting the caller's vectors or search scratches.
 * Reader. */
size_t qvi_hnsw_memory_bytes(const qvi_hnsw *h);

/* What the checker measured. */
typedef struct qvi_hnsw_stats {
    uint64_t nodes;       /* nodes in the graph */
    uint32_t max_level;   /* level of the entry point (0 when empty) */
    uint64_t links;       /* links on all levels */
    uint64_t unreachable; /* nodes no search from the entry point reaches */
    double mean_degree0;  /* mean out-degree on level 0 */
} qvi_hnsw_stats;

/* Checks every invariant of the graph: levels within bounds and counted
 * right, each node's link count within m (2*m on level 0), no link out of
 * range, to itself, to an absent node or to a node below that level, no
 * duplicate links, in-degree counters equal to a recount, the entry point
 * present and of the maximum level, and every node reachable from the entry
 * point through the union of all levels.  Fills *stats when not NULL.
 * Returns QV_OK, or QV_ECORRUPT with the first violation described in err
 * (cap bytes, NUL-terminated; err may be NULL), QV_EINVAL (view) or
 * QV_ENOMEM.  view is only checked for consistency.  Reader. */
qv_status qvi_hnsw_check(const qvi_hnsw *h, const qvi_vecview *view,
                         qvi_hnsw_stats *stats, char *err, size_t cap);

/* ------------------------------------------------------------------------ */
/* Private to core/hnsw_*.c (and persist/snapshot_graph.c, which writes   */
/* the graph's arrays to a snapshot and maps them back in place)            */
/* ------------------------------------------------------------------------ */
#ifdef QVI_HNSW_INTERNAL

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

/* levels[s] of a slot that is not in the graph. */
#define QVI_HNSW_ABSENT 0xffu
/* Top bit of a pool entry's slot: the node has been expanded. */
#define QVI_HNSW_DONE 0x80000000u

typedef struct qvi_hnsw_cand {
    float dist;
    uint32_t slot;
} qvi_hnsw_cand;

/*
 * Node records.  Level 0 is one flat arena of cap records of rec0 = 1 + m0
 * uint32: [count, link_0 .. link_{m0-1}], so a node's level-0 links are
 * found by multiplication and fit in 2-3 cache lines for m = 16.  The levels
 * above are rare (a fraction 1/m of the nodes reaches level 1), so each node
 * with level L >= 1 owns one malloc'd block of L records of recu = 2 + m
 * uint32: [count, in-degree, link_0 .. link_{m-1}].  In-degrees of level 0
 * live in indeg0[]; they let qvi_hnsw_remove know when it has found every
 * node that links to the removed one (see hnsw_delete.c).
 *
 * Field protection: the first block never changes after create.  The rest
 * is written only by writers (the caller's write lock), except what a
 * linker (insert_link, maintain: shared lock, searches beside) changes:
 * link records, written with the atomic stores below and read by searches
 * with the atomic loads; in-degrees (read by linkers and writers only);
 * entry and max_level (atomic stores, see "Searches beside a linker");
 * levels[] of a pending node as it is linked, and count and
 * level_count[] (atomic stores and adds; searches load levels[]
 * atomically); sqn[] of a replaced node (read by linkers only); pending
 * and dirty (the one linker's own).  A pending node's level waits in its
 * indeg0[] entry (insert_prepare).  Between
 * linker threads of one insert_link, a node's records are read and
 * written only under that node's spinlock locks[s] (acquired with
 * __atomic), in-degree counters are updated with __atomic adds, and entry,
 * max_level are guarded by entry_mu.  upper[] of every pending slot is
 * filled in by insert_prepare and stays fixed.
 */
struct qvi_hnsw {
    uint32_t m, m0, ef_construct, dim;
    qv_metric metric;
    double level_mult; /* 1 / ln(m) */
    qvi_hnsw_kernel kern;
    bool negate; /* distance = -kern() (dot, cosine) */
    bool custom; /* kern is qvi_hnsw_params.custom: views carry offs */
    size_t rec0, recu;

    /* Dot only (NULL otherwise): sqn[s] = |x_s|^2 of every node, written
     * when s is inserted (before batch threads start) and read by the
     * build distance qvi_hnsw_bdist; see hnsw_build.c, "Inner product". */
    float *sqn;
    qvi_hnsw_kernel l2k; /* the l2sq kernel, for the build distance */
    uint32_t elem;       /* bytes of a dense row's element: 4, 2 or 1 */

    uint32_t cap;
    uint32_t *links0;
    uint32_t *indeg0;
    uint8_t *levels;
    uint32_t **upper;
    uint8_t *locks;

    uint32_t entry;    /* atomic store/load beside searches */
    int32_t max_level; /* -1 when empty; atomic, as entry */
    uint64_t count;    /* linked nodes; atomic add by a linker */
    uint64_t pending;  /* prepared, not yet linked (insert_prepare) */
    uint64_t dirty;    /* nodes inserted or removed since the last reconnect */
    uint64_t level_count[QVI_HNSW_MAX_LEVEL + 1]; /* nodes of each level */
    uint64_t rng;
    size_t upper_bytes;
    pthread_mutex_t entry_mu;
    qvi_hnsw_scratch *wscratch; /* writers' scratch, lazily created */

    /* A graph mapped from a snapshot (persist/snapshot_graph.c) borrows
     * links0, indeg0, levels, sqn and its upper blocks from the file's
     * copy-on-write mapping, the bytes [borrow_lo, borrow_lo + borrow_len):
     * they are edited in place but never freed or realloc'd; growth copies
     * them into owned memory.  borrow_len is 0 for a graph built here. */
    const uint8_t *borrow_lo;
    size_t borrow_len;

    /* hnsw_config.on_disk: links0, the bulk of the graph, lives in a
     * shared mapping of an unnamed file (core/base/maparena.c) once
     * links_on_disk is set (qvi_hnsw_links_on_disk); grows with mremap.
     * fd -1 while links0 is elsewhere.  Under the caller's write lock. */
    bool links_on_disk;
    char *links_dir;
    qvi_maparena links_arena;
};

/* True when p is borrowed from a snapshot mapping (see above). */
static inline bool qvi_hnsw_borrowed(const qvi_hnsw *h, const void *p)
{
    return h->borrow_len &&
           (uintptr_t)p - (uintptr_t)h->borrow_lo < h->borrow_len;
}

struct qvi_hnsw_scratch {
    uint16_t *visited; /* visited[s] == epoch: s seen by this search */
    size_t vcap;
    uint16_t epoch;
    qvi_hnsw_cand *pool; /* sorted beam, entries flagged QVI_HNSW_DONE */
    size_t pool_cap;
    qvi_hnsw_cand *acc; /* sorted accepted results of a filtered search */
    size_t acc_cap;
    qvi_hnsw_cand *cand; /* candidates of the selection heuristic */
    size_t cand_cap;
    uint32_t *ids; /* neighbour copies, holder lists */
    size_t ids_cap;
    /* An insert's pools of every level, kept until it links back to the
     * new node (insert_node): (top level + 1) * ef_construct entries. */
    qvi_hnsw_cand *saved;
    size_t saved_cap;
};

/* ---- hnsw_graph.c ---- */

/* Slot s's vector.  The search loops call qvi_hnsw_vec_at with a constant
 * `custom`, so that the dense path compiles to the plain multiplication
 * (hnsw_search.c specialises them); the build paths take the branch. */
static inline __attribute__((always_inline)) const float *
qvi_hnsw_vec_at(const qvi_vecview *v, uint32_t s, bool custom)
{
    if (custom)
        return v->base + v->offs[s];
    return v->base + (size_t)s * v->stride;
}

static inline const float *qvi_hnsw_vec(const qvi_vecview *v, uint32_t s)
{
    return qvi_hnsw_vec_at(v, s, v->offs != NULL);
}

static inline float qvi_hnsw_dist(const qvi_hnsw *h, const float *a,
                                  const float *b)
{
    float d = h->kern(a, b, h->dim);
    /* Vectors whose products overflow float are stored (as Qdrant does):
     * inf - inf inside a kernel gives NaN, which would make every heap
     * comparison false; NaN ranks as the worst distance instead. */
    if (d != d)
        return INFINITY;
    return h->negate ? -d : d;
}

/* Cache lines of one vector (dim elements; rows start 64-byte aligned). */
static inline unsigned qvi_hnsw_vec_lines(const qvi_hnsw *h)
{
    return (h->dim * h->elem + 63) / 64;
}

/* Prefetches lines [from, to) of the vector at p. */
static inline void qvi_hnsw_prefetch(const float *p, unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++)
        __builtin_prefetch((const char *)p + 64 * (size_t)i);
}

/* How far ahead the loops that compute the distances of a list of nodes
 * one after another prefetch a whole vector (see hnsw_search.c, "Memory
 * traffic"). */
#define QVI_HNSW_PF_AHEAD 3u

/* The build distance: the distance between two points of the graph that
 * insert, delete repair and reconnect use, for the point with vector a and
 * squared norm asq (ignored unless dot) and slot b.  It is qvi_hnsw_dist
 * except under dot, where -dot is no metric (a point is not its own
 * nearest neighbour) and the graph is built with
 *     (|a - b|^2 + | |a|^2 - |b|^2 |) / 2  =  max(|a|^2, |b|^2) - a.b,
 * the L2 distance of the MIPS-to-NN reduction with M = the larger of the two
 * norms; see hnsw_build.c, "Inner product".  Searches keep -dot. */
static inline float qvi_hnsw_bdist(const qvi_hnsw *h, const float *a, float asq,
                                   const float *b, uint32_t sb)
{
    if (h->sqn) {
        float d = 0.5f * (h->l2k(a, b, h->dim) + fabsf(asq - h->sqn[sb]));
        return d != d ? INFINITY : d; /* inf - inf of two huge norms */
    }
    return qvi_hnsw_dist(h, a, b);
}

/* |x_s|^2 under dot (0 otherwise), for qvi_hnsw_bdist. */
static inline float qvi_hnsw_sqn(const qvi_hnsw *h, uint32_t s)
{
    return h->sqn ? h->sqn[s] : 0.0f;
}

/* Build distance between two slots of the graph. */
static inline float qvi_hnsw_pdist(const qvi_hnsw *h, const qvi_vecview *v,
                                   uint32_t a, uint32_t b)
{
    return qvi_hnsw_bdist(h, qvi_hnsw_vec(v, a), qvi_hnsw_sqn(h, a),
                          qvi_hnsw_vec(v, b), b);
}

/* The record of slot s on level l: [count, links...] on level 0, [count,
 * in-degree, links...] above.  s must be in the graph with level >= l. */
static inline uint32_t *qvi_hnsw_rec(const qvi_hnsw *h, uint32_t s, unsigned l)
{
    if (l == 0)
        return h->links0 + (size_t)s * h->rec0;
    return h->upper[s] + (size_t)(l - 1) * h->recu;
}

static inline uint32_t *qvi_hnsw_links(const qvi_hnsw *h, uint32_t *rec,
                                       unsigned l)
{
    (void)h;
    return rec + (l == 0 ? 1 : 2);
}

static inline uint32_t *qvi_hnsw_indeg(const qvi_hnsw *h, uint32_t s,
                                       unsigned l)
{
    return l == 0 ? &h->indeg0[s] : qvi_hnsw_rec(h, s, l) + 1;
}

static inline uint32_t qvi_hnsw_maxlinks(const qvi_hnsw *h, unsigned l)
{
    return l == 0 ? h->m0 : h->m;
}

/* Link records beside searches (see "Searches beside a linker"): a
 * linker stores entries relaxed and a count with release after the
 * entries below it; searches load the count with acquire, then the
 * entries relaxed.  Writers under the exclusive lock may use plain
 * accesses (no search runs); a linker's own reads may too (it is the only
 * one storing, or holds the node's spinlock). */
static inline uint32_t qvi_hnsw_ld_count(const uint32_t *rec)
{
    return __atomic_load_n(rec, __ATOMIC_ACQUIRE);
}

static inline uint32_t qvi_hnsw_ld_link(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void qvi_hnsw_st_count(uint32_t *rec, uint32_t n)
{
    __atomic_store_n(rec, n, __ATOMIC_RELEASE);
}

static inline void qvi_hnsw_st_link(uint32_t *p, uint32_t s)
{
    __atomic_store_n(p, s, __ATOMIC_RELAXED);
}

/* The entry point and the level a search may start its descent from, or
 * false when the graph has no linked node.  The level is loaded first
 * (acquire; the linker stores the entry, then the level, release), so the
 * entry is at least as new, and it is capped at the entry's own level, so
 * the descent never reads a record the entry does not have. */
static inline bool qvi_hnsw_start(const qvi_hnsw *h, uint32_t *entry, int *top)
{
    int t = __atomic_load_n(&h->max_level, __ATOMIC_ACQUIRE);
    if (t < 0)
        return false;
    uint32_t e = __atomic_load_n(&h->entry, __ATOMIC_ACQUIRE);
    if (e >= h->cap)
        return false; /* a damaged mapped graph (see hnsw_search.c) */
    unsigned lv = __atomic_load_n(&h->levels[e], __ATOMIC_RELAXED);
    if (lv != QVI_HNSW_ABSENT && (int)lv < t)
        t = (int)lv;
    *entry = e;
    *top = t;
    return true;
}

/* Sets the entry point and maximum level (entry first, see above). */
static inline void qvi_hnsw_set_entry(qvi_hnsw *h, uint32_t entry, int level)
{
    __atomic_store_n(&h->entry, entry, __ATOMIC_RELEASE);
    __atomic_store_n(&h->max_level, (int32_t)level, __ATOMIC_RELEASE);
}

static inline void qvi_hnsw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Per-node spinlock of the batch build.  Critical sections are short (one
 * link list, at worst a heuristic over m0 + 1 candidates), so spinning
 * beats a 40-byte pthread mutex per node; after a while the waiter yields in
 * case the holder was preempted (more threads than cores). */
static inline void qvi_hnsw_lock(const qvi_hnsw *h, uint32_t s)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(&h->locks[s], 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&h->locks[s], __ATOMIC_RELAXED)) {
            if (++spins > 64) {
                sched_yield();
                spins = 0;
            } else {
                qvi_hnsw_cpu_relax();
            }
        }
    }
}

static inline void qvi_hnsw_unlock(const qvi_hnsw *h, uint32_t s)
{
    __atomic_store_n(&h->locks[s], 0, __ATOMIC_RELEASE);
}

/* A level drawn from the index's generator (writers only). */
unsigned qvi_hnsw_random_level(qvi_hnsw *h);

/* Checks that view matches the index. */
qv_status qvi_hnsw_check_view(const qvi_hnsw *h, const qvi_vecview *v);

/* The arguments of a call on one node: QV_ENULL (h or the view), QV_EINVAL
 * (a view that does not fit h) or QV_ENOTFOUND (slot not in the graph). */
qv_status qvi_hnsw_check_node(const qvi_hnsw *h, const qvi_vecview *v,
                              uint32_t slot);

/* Allocates slot's upper block for level (none for level 0) and sets its
 * records empty; QV_ENOMEM leaves the slot absent. */
qv_status qvi_hnsw_alloc_node(qvi_hnsw *h, uint32_t slot, unsigned level);

/* Frees slot's upper block (unless borrowed) and clears upper[slot]. */
void qvi_hnsw_free_upper(qvi_hnsw *h, uint32_t slot);

/* Gets the writers' scratch. */
qv_status qvi_hnsw_wscratch(qvi_hnsw *h, qvi_hnsw_scratch **out);

/* ---- hnsw_search.c ---- */

/* Makes s ready for a search over h: visited covers h->cap slots, the pool
 * holds ef entries, acc k, cand ncand, ids nids.  QV_ENOMEM leaves what
 * was there. */
qv_status qvi_hnsw_scratch_prepare(qvi_hnsw_scratch *s, const qvi_hnsw *h,
                                   size_t ef, size_t k, size_t ncand,
                                   size_t nids);

/* Starts a new visited epoch. */
void qvi_hnsw_new_epoch(qvi_hnsw_scratch *s);

/* Inserts (d, slot) into the sorted array a of *n entries (at most cap),
 * after any entries of equal distance.  The caller has checked that d
 * beats the last entry when the array is full.  Returns the position. */
static inline size_t qvi_hnsw_pool_insert(qvi_hnsw_cand *a, size_t *n,
                                          size_t cap, float d, uint32_t slot)
{
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid].dist <= d)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t move = *n - lo;
    if (*n == cap)
        move--; /* the last entry falls off */
    else
        (*n)++;
    memmove(a + lo + 1, a + lo, move * sizeof(*a));
    a[lo].dist = d;
    a[lo].slot = slot;
    return lo;
}

/* Orders equal distances by slot, so results are reproducible. */
static inline void qvi_hnsw_tie_sort(qvi_hnsw_cand *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        qvi_hnsw_cand x = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].dist == x.dist && a[j - 1].slot > x.slot) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Greedy descent on level l (Algorithm 2 with ef = 1).  With build, q is a
 * data point of squared norm qsq and the build distance is used (see
 * qvi_hnsw_bdist); otherwise the search distance. */
void qvi_hnsw_greedy(const qvi_hnsw *h, const qvi_vecview *v, const float *q,
                     float qsq, bool build, unsigned l, bool locking,
                     uint32_t *ep, float *ep_dist);

/* Algorithm 2 on level l from ep, for the build: q is a data point of
 * squared norm qsq (used under dot only) and distances are build distances.
 * Leaves the ef best nodes found in s->pool (sorted, flags cleared) and
 * returns their number. */
size_t qvi_hnsw_search_layer(const qvi_hnsw *h, const qvi_vecview *v,
                             const float *q, float qsq, uint32_t ep,
                             float ep_dist, size_t ef, unsigned l, bool locking,
                             qvi_hnsw_scratch *s);

/* ---- hnsw_build.c ---- */

/* Algorithm 4: moves to the front of c[0..n) (sorted by distance to the
 * base node), in order, the candidates closer to the base than to every
 * candidate kept before them, at most max, and returns their number; the
 * others end up, in some order, in c[kept..n). */
size_t qvi_hnsw_select(const qvi_hnsw *h, const qvi_vecview *v,
                       qvi_hnsw_cand *c, size_t n, size_t max);

/* Gives n (whose lock the caller holds when locking) the list chosen by
 * Algorithm 4 among cand[0..nc) (sorted by distance to n, distinct, without
 * n), but never drops the last link to a node; keeps in-degrees right.
 * Reorders cand. */
void qvi_hnsw_relink(const qvi_hnsw *h, const qvi_vecview *v, uint32_t n,
                     unsigned l, qvi_hnsw_cand *cand, size_t nc);

/* Makes w link to z on level l, replacing w's farthest link whose target
 * has another in-link if w's list is full.  Takes w's lock when locking.
 * Returns false if every link of w is some node's last in-link. */
bool qvi_hnsw_force_link(const qvi_hnsw *h, const qvi_vecview *v, uint32_t w,
                         uint32_t z, unsigned l, bool locking);

/* Sorts candidates by (dist, slot). */
void qvi_hnsw_sort_cands(qvi_hnsw_cand *c, size_t n);

/* ---- hnsw_delete.c ---- */

/* The first half of qvi_hnsw_remove: repairs every node that linked to
 * slot, moving the entry point off it first if needed, and (unless
 * keep_own) empties slot's own lists, giving up the in-degrees they held;
 * leaves its level, upper block and count.  Linker-safe (atomic stores).
 * QV_ENOMEM or QV_EINTERNAL before any change. */
qv_status qvi_hnsw_unlink(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot,
                          bool keep_own);

/* ---- hnsw_connect.c ---- */

/* Continues a breadth-first walk over the union of all levels from the
 * nodes in queue[head..tail) (already marked in seen[]): marks and queues
 * every node they reach, and returns the new tail, which is also the
 * number of nodes marked when the walk started from one node at
 * queue[0].  queue has room for every slot: a node is queued at most
 * once.  Shared by the reconnect pass and the graph check, so both call
 * "reachable" the same thing. */
size_t qvi_hnsw_walk(const qvi_hnsw *h, uint8_t *seen, uint32_t *queue,
                     size_t head, size_t tail);

#endif /* QVI_HNSW_INTERNAL */

#endif /* QUIVER_HNSW_H */
