/*
 * hnsw_search_scored.c -- k-NN search (Algorithms 2 and 5 of Malkov &
 * Yashunin) with distances supplied by the caller, for searches on
 * quantized codes (core/quant/, used by core/collection_quant.c).
 *
 * Why a second copy of the walk rather than a parameter of hnsw_search.c:
 * the float search's inner loop is specialised for vectors it reads
 * itself (its prefetch plan, the build distance, the per-node locking of a
 * batch build), and is the hot path of every unquantized search; a
 * callback in it would cost every search.  This walk is the read-only
 * subset: no build distance, no locking (searches hold the collection's
 * shared lock; a linker may run beside, so link records are loaded
 * atomically and the descent starts from qvi_hnsw_start), its own prefetch
 * plan (below), and the same rules as hnsw_search.c for everything that decides
 * the result: the beam of max(ef, k), the filtered results array beside it,
 * ties ordered by slot, and the clamps that keep a damaged mapped graph from
 * reading out of bounds (see "Untrusted graphs" there).
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

/* Offers a level-0 node to the filtered results (hnsw_search.c's offer). */
static inline void offer(const qvi_accept *acc, qvi_hnsw_scratch *s,
                         size_t *nacc, size_t k, float d, uint32_t slot)
{
    if (*nacc == k && !(d < s->acc[k - 1].dist))
        return;
    if (!qvi_accepts(acc, slot))
        return;
    qvi_hnsw_pool_insert(s->acc, nacc, k, d, slot);
}

/*
 * Memory traffic
 * --------------
 * A code walk is bound by memory as the float walk is (hnsw_search.c,
 * "Memory traffic") and prefetches the same way: the head of each
 * unvisited neighbour's code up front, the rest QVI_HNSW_PF_AHEAD
 * neighbours ahead of its distance, and the level-0 record of each node
 * that enters the pool.  A code of up to SCORED_PF_ALL lines is prefetched
 * whole up front.  Measured on synthetic-768-cos with int8 codes (12 lines),
 * 100k points, ef 64, `quiver-bench-quiver` runs alternated on 2 shared
 * cores, QPS:
 *     whole codes up front (before)               8,288 7,997 8,185
 *     head 2 lines, the rest 3 ahead (kept)       9,019 9,004 9,517
 * Prefetching int8's per-slot correction as well, or leaving out the
 * record prefetch, changed nothing measurable (8,400-9,600 either way).
 */
#define SCORED_PF_ALL  8u
#define SCORED_PF_HEAD 2u

typedef struct scored_pf {
    unsigned head, all;
} scored_pf;

static inline scored_pf scored_plan(const qvi_hnsw_scorer *sc)
{
    scored_pf p;
    p.all = sc->rows ? sc->lines : 0;
    p.head = p.all <= SCORED_PF_ALL ? p.all : SCORED_PF_HEAD;
    return p;
}

/* Prefetches lines [from, to) of slot u's row (none when the scorer gave
 * no rows: to is then 0).  The address is formed inside the loop on
 * purpose: GCC 12 at -O1 and above deleted the whole loop when it was
 * guarded by an early `from >= to` return with the row pointer computed
 * before it (seen in the object code; the search then ran 20% slower). */
static inline void prefetch_rows(const qvi_hnsw_scorer *sc, uint32_t u,
                                 unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++)
        __builtin_prefetch(sc->rows + (size_t)u * sc->stride + 64 * (size_t)i);
}

/* Algorithm 2 on level 0 with the scorer's distances. */
static size_t layer0(const qvi_hnsw *h, const qvi_hnsw_scorer *sc, uint32_t ep,
                     float ep_dist, size_t ef, const qvi_accept *acc, size_t k,
                     size_t *nacc, qvi_hnsw_scratch *s)
{
    qvi_hnsw_cand *pool = s->pool;
    uint32_t *batch = s->ids;
    uint16_t *vis = s->visited;
    const uint32_t maxl = qvi_hnsw_maxlinks(h, 0);
    const scored_pf pf = scored_plan(sc);
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
        const uint32_t *rec = h->links0 + (size_t)cs * h->rec0;
        /* Atomic loads: a linker may be changing the list (hnsw.h). */
        uint32_t cnt = qvi_hnsw_ld_count(rec);
        cnt = cnt < maxl ? cnt : maxl;
        size_t nu = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t u = qvi_hnsw_ld_link(rec + 1 + i);
            if (u >= h->cap || vis[u] == epoch)
                continue;
            vis[u] = epoch;
            batch[nu++] = u;
            prefetch_rows(sc, u, 0, pf.head);
        }
        for (size_t j = 0; j < nu && j < QVI_HNSW_PF_AHEAD; j++)
            prefetch_rows(sc, batch[j], pf.head, pf.all);
        size_t next = cur + 1;
        for (size_t j = 0; j < nu; j++) {
            uint32_t u = batch[j];
            if (j + QVI_HNSW_PF_AHEAD < nu)
                prefetch_rows(sc, batch[j + QVI_HNSW_PF_AHEAD], pf.head,
                              pf.all);
            float d = sc->dist(sc->ctx, u);
            if (acc)
                offer(acc, s, nacc, k, d, u);
            if (n == ef && !(d < pool[n - 1].dist))
                continue;
            size_t pos = qvi_hnsw_pool_insert(pool, &n, ef, d, u);
            if (pos < next)
                next = pos;
            __builtin_prefetch(h->links0 + (size_t)u * h->rec0);
        }
        cur = next;
        while (cur < n && (pool[cur].slot & QVI_HNSW_DONE))
            cur++;
    }
    for (size_t i = 0; i < n; i++)
        pool[i].slot &= ~QVI_HNSW_DONE;
    return n;
}

/* Greedy descent on level l >= 1 (Algorithm 2 with ef = 1). */
static void greedy(const qvi_hnsw *h, const qvi_hnsw_scorer *sc, unsigned l,
                   uint32_t *ep, float *ep_dist)
{
    uint32_t cur = *ep;
    float best = *ep_dist;
    bool changed = true;
    while (changed) {
        changed = false;
        const uint32_t *rec = qvi_hnsw_rec(h, cur, l);
        uint32_t maxl = qvi_hnsw_maxlinks(h, l);
        uint32_t cnt = qvi_hnsw_ld_count(rec);
        cnt = cnt < maxl ? cnt : maxl;
        const uint32_t *links = qvi_hnsw_links(h, (uint32_t *)rec, l);
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t u = qvi_hnsw_ld_link(links + i);
            /* Only nodes present on this level (see "Untrusted graphs"). */
            if (u >= h->cap)
                continue;
            uint8_t lv = __atomic_load_n(&h->levels[u], __ATOMIC_RELAXED);
            if (lv == QVI_HNSW_ABSENT || lv < l)
                continue;
            float d = sc->dist(sc->ctx, u);
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

qv_status qvi_hnsw_search_scored(const qvi_hnsw *h, const qvi_hnsw_scorer *sc,
                                 uint32_t k, uint32_t ef,
                                 const qvi_accept *accept,
                                 qvi_hnsw_scratch *scratch, uint32_t *slots_out,
                                 float *dists_out, size_t *n_out)
{
    if (!h || !sc || !sc->dist || !scratch || !slots_out || !n_out)
        return QV_ENULL;
    if (k == 0 || k > QV_MAX_EF || ef > QV_MAX_EF)
        return QV_ERANGE;
    *n_out = 0;
    uint32_t ep;
    int top;
    if (!qvi_hnsw_start(h, &ep, &top))
        return QV_OK; /* no linked node yet */
    size_t beam = ef > k ? ef : k;
    if (accept && !accept->bitmap && !accept->fn)
        accept = NULL;
    qv_status st = qvi_hnsw_scratch_prepare(scratch, h, beam, accept ? k : 0, 0,
                                            2 * (size_t)h->m0);
    if (st != QV_OK)
        return st;
    float d = sc->dist(sc->ctx, ep);
    for (int l = top; l > 0; l--)
        greedy(h, sc, (unsigned)l, &ep, &d);
    const qvi_hnsw_cand *res;
    size_t n, nacc = 0;
    if (accept) {
        layer0(h, sc, ep, d, beam, accept, k, &nacc, scratch);
        res = scratch->acc;
        n = nacc;
    } else {
        n = layer0(h, sc, ep, d, beam, NULL, 0, NULL, scratch);
        res = scratch->pool;
        n = n > k ? k : n;
    }
    qvi_hnsw_tie_sort((qvi_hnsw_cand *)res, n);
    for (size_t i = 0; i < n; i++) {
        slots_out[i] = res[i].slot;
        if (dists_out)
            dists_out[i] = res[i].dist;
    }
    *n_out = n;
    return QV_OK;
}
