/*
 * hnsw_search.c -- searching the HNSW graph: Algorithm 2 (search one layer)
 * and Algorithm 5 (k-NN search) of Malkov & Yashunin, and the per-search
 * scratch.
 *
 * The beam
 * --------
 * The paper keeps two heaps: C, the candidates still to expand (a min-heap),
 * and W, the ef best nodes found (a max-heap), and stops when the nearest
 * candidate is farther than the farthest of W.  A candidate that is not
 * among the ef best can never be expanded (it is farther than W's worst,
 * which only improves), so C is, in effect, the unexpanded part of W.  We
 * therefore keep one array, "the pool", of the ef best nodes found, sorted
 * by distance, with a flag bit (QVI_HNSW_DONE, the top bit of the slot) on
 * the entries already expanded, and always expand the nearest unflagged
 * entry.  That is the same traversal as Algorithm 2, with no heap
 * allocation that grows with the search (the pool is exactly ef entries, so
 * a build thread cannot fail half way through an insert), fewer branches,
 * and an insertion that is a binary search plus a short memmove over at
 * most ef 8-byte entries.  (NSG, DiskANN and several HNSW ports use the same
 * "linear pool".)
 *
 * Visited set
 * -----------
 * visited[s] holds the epoch of the last search that reached s; each search
 * bumps the epoch, so nothing is cleared per query.  When the 16-bit epoch
 * wraps (every 65535 searches) the array is zeroed once.  2 bytes a slot
 * per scratch, like hnswlib's VisitedList, but owned by the caller's
 * scratch instead of a mutex-guarded pool.
 *
 * Memory traffic
 * --------------
 * Expanding a node first gathers its unvisited neighbours and prefetches
 * their vectors, then computes the distances; each neighbour that enters
 * the pool gets its level-0 record prefetched, since it is likely to be
 * expanded.  How much is prefetched depends on the vector's size:
 *   - up to 16 cache lines (64 floats a line, so dim <= 256): every line of
 *     every unvisited neighbour up front, so all their loads are in flight
 *     together.  Against hnswlib's single line this doubled single-thread
 *     QPS on 128-d data.
 *   - longer vectors: the first 2 lines of every neighbour up front, then
 *     the whole vector of neighbour j + QVI_HNSW_PF_AHEAD (3) while the
 *     distance of neighbour j is computed (hnswlib's pipelining, deeper).
 * The old code capped the up-front prefetch at 16 lines, so at 768 dims
 * (48 lines) it issued up to 16 x 32 prefetches per expansion, which stall
 * once the miss buffers are full (perf put a third of the build's layer
 * search time on the instruction after the prefetch), and still left two
 * thirds of each vector unfetched.  Measured on synthetic-768-cos, 30k
 * points, 500 queries, 2 shared cores, quiver/hnswlib QPS at recall 0.95
 * (noise about +-0.05 between runs):
 *     16 lines up front, no pipelining (before)   1.53 1.51 1.41 1.53
 *     all 48 lines up front                       1.44
 *     head 2, ahead 1                             1.50
 *     head 2, ahead 2                             1.67 1.55
 *     head 1, ahead 2 / head 1, ahead 3           1.62 / 1.54
 *     head 4, ahead 2 / head 4, ahead 3           1.60 / 1.59
 *     head 8, ahead 1                             1.59
 *     head 2, ahead 4                             1.60
 *     head 2, ahead 3 (kept)                      1.59 1.72 1.74
 * and the build with 2 threads went from 0.61-0.70x hnswlib's time to
 * 0.56-0.63x (the build's searches are the same code).  128-d data take
 * the first branch and are unchanged (1.59-1.74x before and after).
 * Full-size figures are in the commit message.
 *
 * Filters
 * -------
 * With a qvi_accept, the traversal is the unfiltered one; every node whose
 * distance is computed on level 0 is also offered to a second sorted array
 * of the k best accepted nodes.  The accept test runs only for nodes that
 * would enter that array.  This differs from hnswlib, which keeps extending
 * the beam until ef accepted nodes are found: that can degrade into a
 * full scan under a selective filter, where exact search is the better plan
 * and the collection should choose it.
 *
 * Untrusted graphs
 * ----------------
 * A graph mapped from a snapshot that was not verified (persist/) may hold
 * any link values until its first update runs the full checker.  So that
 * such a graph can never make a search read out of bounds, every walk
 * clamps a record's count to its level's maximum (the batch and copy
 * buffers hold that many) and skips a level-0 link >= cap (one compare on
 * a value already loaded; no measurable cost); the greedy descent follows
 * an upper-level link only to a node present on that level, whose record
 * exists.  A damaged graph can then give poor results, never a crash.
 *
 * Locking: searches are readers, and may run beside one linker (hnsw.h,
 * "Searches beside a linker"): they load link counts and entries
 * atomically and start from qvi_hnsw_start.  The same layer search serves
 * the build ("locking" true), where it copies each neighbour list under
 * the node's spinlock because other batch threads may be rewriting it.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

qv_status qvi_hnsw_scratch_create(qvi_hnsw_scratch **out)
{
    if (!out)
        return QV_ENULL;
    *out = calloc(1, sizeof(qvi_hnsw_scratch));
    return *out ? QV_OK : QV_ENOMEM;
}

void qvi_hnsw_scratch_free(qvi_hnsw_scratch *s)
{
    if (!s)
        return;
    free(s->visited);
    free(s->pool);
    free(s->acc);
    free(s->cand);
    free(s->ids);
    free(s->saved);
    free(s);
}

static bool grow(void **p, size_t *cap, size_t want, size_t sz)
{
    if (want <= *cap)
        return true;
    size_t bytes;
    if (!qv_mul_size(want, sz, &bytes))
        return false;
    void *np = realloc(*p, bytes);
    if (!np)
        return false;
    *p = np;
    *cap = want;
    return true;
}

qv_status qvi_hnsw_scratch_prepare(qvi_hnsw_scratch *s, const qvi_hnsw *h,
                                   size_t ef, size_t k, size_t ncand,
                                   size_t nids)
{
    if (s->vcap < h->cap) {
        size_t old = s->vcap;
        if (!grow((void **)&s->visited, &s->vcap, h->cap, sizeof(uint16_t)))
            return QV_ENOMEM;
        memset(s->visited + old, 0, (s->vcap - old) * sizeof(uint16_t));
    }
    /* The pool and ids get one spare entry each, see the layer search. */
    if (!grow((void **)&s->pool, &s->pool_cap, ef + 1, sizeof(qvi_hnsw_cand)) ||
        !grow((void **)&s->acc, &s->acc_cap, k + 1, sizeof(qvi_hnsw_cand)) ||
        !grow((void **)&s->cand, &s->cand_cap, ncand, sizeof(qvi_hnsw_cand)) ||
        !grow((void **)&s->ids, &s->ids_cap, nids, sizeof(uint32_t)))
        return QV_ENOMEM;
    return QV_OK;
}

void qvi_hnsw_new_epoch(qvi_hnsw_scratch *s)
{
    if (++s->epoch == 0) {
        memset(s->visited, 0, s->vcap * sizeof(uint16_t));
        s->epoch = 1;
    }
}

/* The prefetch plan of one expansion (see "Memory traffic" above).  A
 * vector of at most QVI_PF_ALL_LINES cache lines is prefetched whole, for
 * every unvisited neighbour up front (head = all lines, no pipelining).  A
 * longer one gets only its first QVI_PF_HEAD_LINES up front; the rest of
 * neighbour j + QVI_HNSW_PF_AHEAD is prefetched while neighbour j's
 * distance is computed.  pipe is false when the vector fits the head. */
#define QVI_PF_ALL_LINES  16u
#define QVI_PF_HEAD_LINES 2u

typedef struct pf_plan {
    unsigned head, all;
    bool pipe;
} pf_plan;

static inline pf_plan prefetch_plan(const qvi_hnsw *h)
{
    pf_plan p;
    p.all = qvi_hnsw_vec_lines(h);
    p.head = p.all <= QVI_PF_ALL_LINES ? p.all : QVI_PF_HEAD_LINES;
    p.pipe = p.head < p.all;
    return p;
}

/* Prefetches what the plan fetches up front for batch[0..n). */
static inline void prefetch_batch(const qvi_vecview *v, const uint32_t *batch,
                                  size_t n, pf_plan pf, bool custom)
{
    if (!pf.pipe)
        return;
    for (size_t j = 0; j < n && j < QVI_HNSW_PF_AHEAD; j++)
        qvi_hnsw_prefetch(qvi_hnsw_vec_at(v, batch[j], custom), pf.head,
                          pf.all);
}

/* Called before neighbour j's distance: the rest of neighbour j + AHEAD. */
static inline void prefetch_next(const qvi_vecview *v, const uint32_t *batch,
                                 size_t j, size_t n, pf_plan pf, bool custom)
{
    if (pf.pipe && j + QVI_HNSW_PF_AHEAD < n)
        qvi_hnsw_prefetch(
            qvi_hnsw_vec_at(v, batch[j + QVI_HNSW_PF_AHEAD], custom), pf.head,
            pf.all);
}

static inline bool accepted(const qvi_accept *acc, uint32_t slot)
{
    if (acc->bitmap)
        return slot < acc->nbits && (acc->bitmap[slot / 64] >> (slot % 64)) & 1;
    if (acc->fn)
        return acc->fn(slot, acc->ctx);
    return true;
}

/* Offers a level-0 node to the filtered results. */
static inline void offer(const qvi_accept *acc, qvi_hnsw_scratch *s,
                         size_t *nacc, size_t k, float d, uint32_t slot)
{
    if (*nacc == k && !(d < s->acc[k - 1].dist))
        return;
    if (!accepted(acc, slot))
        return;
    qvi_hnsw_pool_insert(s->acc, nacc, k, d, slot);
}

/* Algorithm 2.  Specialised by the compiler for each constant value of
 * locking, build, custom and acc != NULL (custom: the view's records are
 * found through offs, see qvi_vecview; the dense instances compile to the
 * plain row arithmetic).  With build, q is a data point being
 * inserted (or reconnected) whose squared norm is qsq, and distances are
 * the build distance qvi_hnsw_bdist (it differs from the search distance
 * only under dot, see hnsw_build.c); queries use the search distance. */
static inline __attribute__((always_inline)) size_t
layer_search(const qvi_hnsw *h, const qvi_vecview *v, const float *q, float qsq,
             bool build, uint32_t ep, float ep_dist, size_t ef, unsigned l,
             bool locking, const qvi_accept *acc, size_t k, size_t *nacc,
             qvi_hnsw_scratch *s, bool custom)
{
    qvi_hnsw_cand *pool = s->pool;
    uint32_t *batch = s->ids;
    uint32_t *copy = s->ids + h->m0;
    uint16_t *vis = s->visited;
    const size_t rec0 = h->rec0;
    const uint32_t *links0 = h->links0;
    const uint32_t cap = h->cap, maxl = qvi_hnsw_maxlinks(h, l);
    const pf_plan pf = prefetch_plan(h);

    qvi_hnsw_new_epoch(s);
    const uint16_t epoch = s->epoch;
    vis[ep] = epoch;
    pool[0].dist = ep_dist;
    pool[0].slot = ep;
    size_t n = 1, cur = 0;
    if (acc)
        offer(acc, s, nacc, k, ep_dist, ep);

    while (cur < n) {
        uint32_t cs = pool[cur].slot;
        pool[cur].slot = cs | QVI_HNSW_DONE;
        const uint32_t *rec =
            l == 0 ? links0 + (size_t)cs * rec0 : qvi_hnsw_rec(h, cs, l);
        const uint32_t *links = rec + (l == 0 ? 1 : 2);
        uint32_t cnt;
        if (locking) {
            qvi_hnsw_lock(h, cs);
            cnt = rec[0] < maxl ? rec[0] : maxl;
            memcpy(copy, links, cnt * sizeof(uint32_t));
            qvi_hnsw_unlock(h, cs);
            links = copy;
        } else {
            /* A linker may be changing the list (hnsw.h, "Searches beside
             * a linker"): atomic loads, plain moves on x86. */
            cnt = qvi_hnsw_ld_count(rec);
            cnt = cnt < maxl ? cnt : maxl;
        }

        size_t nu = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t u = locking ? links[i] : qvi_hnsw_ld_link(links + i);
            if (u >= cap || vis[u] == epoch)
                continue;
            vis[u] = epoch;
            batch[nu++] = u;
            qvi_hnsw_prefetch(qvi_hnsw_vec_at(v, u, custom), 0, pf.head);
        }
        prefetch_batch(v, batch, nu, pf, custom);

        size_t next = cur + 1;
        for (size_t j = 0; j < nu; j++) {
            uint32_t u = batch[j];
            prefetch_next(v, batch, j, nu, pf, custom);
            const float *x = qvi_hnsw_vec_at(v, u, custom);
            float d = build ? qvi_hnsw_bdist(h, q, qsq, x, u)
                            : qvi_hnsw_dist(h, q, x);
            if (acc)
                offer(acc, s, nacc, k, d, u);
            if (n == ef && !(d < pool[n - 1].dist))
                continue;
            size_t pos = qvi_hnsw_pool_insert(pool, &n, ef, d, u);
            if (pos < next)
                next = pos;
            if (l == 0)
                __builtin_prefetch(links0 + (size_t)u * rec0);
        }
        cur = next;
        while (cur < n && (pool[cur].slot & QVI_HNSW_DONE))
            cur++;
    }
    for (size_t i = 0; i < n; i++)
        pool[i].slot &= ~QVI_HNSW_DONE;
    return n;
}

size_t qvi_hnsw_search_layer(const qvi_hnsw *h, const qvi_vecview *v,
                             const float *q, float qsq, uint32_t ep,
                             float ep_dist, size_t ef, unsigned l, bool locking,
                             qvi_hnsw_scratch *s)
{
    if (v->offs)
        return layer_search(h, v, q, qsq, true, ep, ep_dist, ef, l, locking,
                            NULL, 0, NULL, s, true);
    if (locking)
        return layer_search(h, v, q, qsq, true, ep, ep_dist, ef, l, true, NULL,
                            0, NULL, s, false);
    return layer_search(h, v, q, qsq, true, ep, ep_dist, ef, l, false, NULL, 0,
                        NULL, s, false);
}

static inline __attribute__((always_inline)) void
greedy(const qvi_hnsw *h, const qvi_vecview *v, const float *q, float qsq,
       bool build, unsigned l, bool locking, uint32_t *ep, float *ep_dist,
       bool custom)
{
    uint32_t cur = *ep;
    float best = *ep_dist;
    uint32_t copy[QV_MAX_HNSW_M];
    const pf_plan pf = prefetch_plan(h);
    bool changed = true;
    while (changed) {
        changed = false;
        const uint32_t *rec = qvi_hnsw_rec(h, cur, l);
        const uint32_t *links = qvi_hnsw_links(h, (uint32_t *)rec, l);
        uint32_t cnt, maxl = qvi_hnsw_maxlinks(h, l);
        if (locking) {
            qvi_hnsw_lock(h, cur);
            cnt = rec[0] < maxl ? rec[0] : maxl;
            memcpy(copy, links, cnt * sizeof(uint32_t));
            qvi_hnsw_unlock(h, cur);
            links = copy;
        } else {
            cnt = qvi_hnsw_ld_count(rec); /* as in layer_search */
            cnt = cnt < maxl ? cnt : maxl;
        }
        /* Only links to nodes that exist on this level are followed: the
         * records of any other would be read out of bounds (see "Untrusted
         * graphs" above). */
        uint32_t ok[QV_MAX_HNSW_M];
        uint32_t n = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t u = locking ? links[i] : qvi_hnsw_ld_link(links + i);
            if (u >= h->cap)
                continue;
            /* Atomic: a linker sets the level of a node it links. */
            uint8_t lv = __atomic_load_n(&h->levels[u], __ATOMIC_RELAXED);
            if (lv != QVI_HNSW_ABSENT && lv >= l)
                ok[n++] = u;
        }
        links = ok;
        cnt = n;
        for (uint32_t i = 0; i < cnt; i++)
            qvi_hnsw_prefetch(qvi_hnsw_vec_at(v, links[i], custom), 0, pf.head);
        prefetch_batch(v, links, cnt, pf, custom);
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t u = links[i];
            prefetch_next(v, links, i, cnt, pf, custom);
            const float *x = qvi_hnsw_vec_at(v, u, custom);
            float d = build ? qvi_hnsw_bdist(h, q, qsq, x, u)
                            : qvi_hnsw_dist(h, q, x);
            if (d < best) {
                best = d;
                cur = u;
                changed = true;
            }
        }
    }
    *ep = cur;
    *ep_dist = best;
}

void qvi_hnsw_greedy(const qvi_hnsw *h, const qvi_vecview *v, const float *q,
                     float qsq, bool build, unsigned l, bool locking,
                     uint32_t *ep, float *ep_dist)
{
    if (v->offs)
        greedy(h, v, q, qsq, build, l, locking, ep, ep_dist, true);
    else
        greedy(h, v, q, qsq, build, l, locking, ep, ep_dist, false);
}

/* Algorithm 5 after the checks: descent, then the level-0 beam; returns
 * the number of results left in scratch->acc (with accept) or
 * scratch->pool.  Specialised on custom as layer_search. */
static inline __attribute__((always_inline)) size_t
knn(const qvi_hnsw *h, const qvi_vecview *view, const float *query, uint32_t k,
    size_t beam, const qvi_accept *accept, qvi_hnsw_scratch *scratch,
    bool custom)
{
    uint32_t ep;
    int top;
    if (!qvi_hnsw_start(h, &ep, &top))
        return 0;
    float d = qvi_hnsw_dist(h, query, qvi_hnsw_vec_at(view, ep, custom));
    for (int l = top; l > 0; l--)
        greedy(h, view, query, 0.0f, false, (unsigned)l, false, &ep, &d,
               custom);
    if (accept) {
        size_t nacc = 0;
        layer_search(h, view, query, 0.0f, false, ep, d, beam, 0, false, accept,
                     k, &nacc, scratch, custom);
        return nacc;
    }
    size_t n = layer_search(h, view, query, 0.0f, false, ep, d, beam, 0, false,
                            NULL, 0, NULL, scratch, custom);
    return n > k ? k : n;
}

qv_status qvi_hnsw_search(const qvi_hnsw *h, const qvi_vecview *view,
                          const float *query, uint32_t k, uint32_t ef,
                          const qvi_accept *accept, qvi_hnsw_scratch *scratch,
                          uint32_t *slots_out, float *dists_out, size_t *n_out)
{
    if (!h || !query || !scratch || !slots_out || !n_out)
        return QV_ENULL;
    qv_status st = qvi_hnsw_check_view(h, view);
    if (st != QV_OK)
        return st;
    if (k == 0 || k > QV_MAX_EF || ef > QV_MAX_EF)
        return QV_ERANGE;
    *n_out = 0;
    size_t beam = ef > k ? ef : k;
    if (accept && !accept->bitmap && !accept->fn)
        accept = NULL;
    st = qvi_hnsw_scratch_prepare(scratch, h, beam, accept ? k : 0, 0,
                                  2 * (size_t)h->m0);
    if (st != QV_OK)
        return st;

    size_t n = view->offs
                   ? knn(h, view, query, k, beam, accept, scratch, true)
                   : knn(h, view, query, k, beam, accept, scratch, false);
    const qvi_hnsw_cand *res = accept ? scratch->acc : scratch->pool;
    qvi_hnsw_tie_sort((qvi_hnsw_cand *)res, n);
    for (size_t i = 0; i < n; i++) {
        slots_out[i] = res[i].slot;
        if (dists_out)
            dists_out[i] = res[i].dist;
    }
    *n_out = n;
    return QV_OK;
}
