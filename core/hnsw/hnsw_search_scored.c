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
 * atomically and the descent starts from qvi_hnsw_start), prefetching through
 * the scorer, and the same rules as hnsw_search.c for everything that decides
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

/* Algorithm 2 on level 0 with the scorer's distances. */
static size_t layer0(const qvi_hnsw *h, const qvi_hnsw_scorer *sc, uint32_t ep,
                     float ep_dist, size_t ef, const qvi_accept *acc, size_t k,
                     size_t *nacc, qvi_hnsw_scratch *s)
{
    qvi_hnsw_cand *pool = s->pool;
    uint32_t *batch = s->ids;
    uint16_t *vis = s->visited;
    const uint32_t maxl = qvi_hnsw_maxlinks(h, 0);
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
            if (sc->prefetch)
                sc->prefetch(sc->ctx, u);
        }
        size_t next = cur + 1;
        for (size_t j = 0; j < nu; j++) {
            uint32_t u = batch[j];
            float d = sc->dist(sc->ctx, u);
            if (acc)
                offer(acc, s, nacc, k, d, u);
            if (n == ef && !(d < pool[n - 1].dist))
                continue;
            size_t pos = qvi_hnsw_pool_insert(pool, &n, ef, d, u);
            if (pos < next)
                next = pos;
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
