/*
 * hnsw_connect.c -- making every node reachable again.
 *
 * Why
 * ---
 * A search starts at the entry point and only follows links, so a node
 * that no chain of links reaches is never returned.  Plain HNSW does
 * produce such nodes: hnswlib leaves a fraction of a percent of them on
 * clustered data, and many more under inner product, where small-norm
 * points are nobody's near neighbour.  hnsw_build.c already refuses to drop
 * a node's last in-link and forces a link to a new node nobody kept; that
 * leaves small groups of nodes that link only to each other (a pair that
 * points at each other and lost its links from outside).
 *
 * What
 * ----
 * qvi_hnsw_reconnect walks the graph breadth-first from the entry point
 * (over all levels), then, for each node the walk missed, searches for its
 * own vector from the entry point: every node the search meets is
 * reachable, so the nearest of them that can take one more link (or drop a
 * link whose target has another in-link) is made to link to it, and the
 * walk resumes from it, so a whole stranded group costs one search.
 * insert_batch ends with it; the collection should also call it after
 * many removals.  Cost: O(nodes + links) for the walk, plus one search per
 * stranded group.
 *
 * Locking: a writer, or a linker (the collection runs qvi_hnsw_maintain
 * under its shared lock at the end of an upsert's graph insert, searches
 * beside): the only link changes here (qvi_hnsw_force_link, swap_in) store
 * entries and counts atomically, and the walk's own plain reads race with
 * no store, since it is the only linker.  seen[] and queue are its own.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#include <stdlib.h>
#include <string.h>

size_t qvi_hnsw_walk(const qvi_hnsw *h, uint8_t *seen, uint32_t *queue,
                     size_t head, size_t tail)
{
    while (head < tail) {
        uint32_t s = queue[head++];
        for (unsigned l = 0; l <= h->levels[s]; l++) {
            const uint32_t *r = qvi_hnsw_rec(h, s, l);
            const uint32_t *ln = qvi_hnsw_links(h, (uint32_t *)r, l);
            for (uint32_t i = 0; i < r[0]; i++) {
                if (!seen[ln[i]]) {
                    seen[ln[i]] = 1;
                    queue[tail++] = ln[i];
                }
            }
        }
    }
    return tail;
}

/* Every link of w is some node's last in-link (a hub under inner
 * product): w's farthest link w -> t becomes w -> u, and u takes over the
 * link to t, so t stays reachable through u. */
static bool swap_in(qvi_hnsw *h, const qvi_vecview *v, uint32_t w, uint32_t u,
                    bool safe)
{
    uint32_t *wr = qvi_hnsw_rec(h, w, 0), *wl = wr + 1;
    uint32_t *ur = qvi_hnsw_rec(h, u, 0), *ul = ur + 1;
    if (wr[0] == 0)
        return false;
    uint32_t far = 0;
    float fd = -__builtin_inff();
    for (uint32_t i = 0; i < wr[0]; i++) {
        float d = qvi_hnsw_pdist(h, v, w, wl[i]);
        if (d > fd && wl[i] != u) {
            fd = d;
            far = i;
        }
    }
    uint32_t t = wl[far];
    bool has_t = false;
    for (uint32_t i = 0; i < ur[0]; i++)
        has_t |= ul[i] == t;
    if (t == u)
        return false;
    uint32_t at = ur[0];
    if (!has_t && at >= h->m0) {
        if (safe)
            return false;
        /* u is full too: t replaces a link of u whose target has another
         * in-link. */
        at = h->m0;
        for (uint32_t i = 0; i < ur[0]; i++) {
            if (h->indeg0[ul[i]] > 1) {
                at = i;
                break;
            }
        }
        if (at == h->m0)
            return false;
        h->indeg0[ul[at]]--;
    }
    /* Atomic stores, entry before count: searches may be reading both
     * lists (hnsw.h, "Searches beside a linker"). */
    qvi_hnsw_st_link(wl + far, u);
    h->indeg0[u]++;
    if (!has_t) {
        /* t's count moves from w's link to u's */
        qvi_hnsw_st_link(ul + at, t);
        if (at == ur[0])
            qvi_hnsw_st_count(ur, ur[0] + 1);
    } else {
        h->indeg0[t]--;
    }
    return true;
}

/* One walk and repair; returns true when everything was reachable. */
static bool connect_pass(qvi_hnsw *h, const qvi_vecview *view,
                         qvi_hnsw_scratch *s, uint8_t *seen, uint32_t *queue,
                         uint64_t *fixed)
{
    memset(seen, 0, h->cap);
    queue[0] = h->entry;
    seen[h->entry] = 1;
    size_t tail = qvi_hnsw_walk(h, seen, queue, 0, 1);
    if (tail >= h->count)
        return true;
    for (uint32_t u = 0; u < h->cap && tail < h->count; u++) {
        if (seen[u] || h->levels[u] == QVI_HNSW_ABSENT)
            continue;
        const float *q = qvi_hnsw_vec(view, u);
        uint32_t ep = h->entry;
        float qa = qvi_hnsw_sqn(h, u);
        float d = qvi_hnsw_pdist(h, view, u, ep);
        for (int l = h->max_level; l > 0; l--)
            qvi_hnsw_greedy(h, view, q, qa, true, (unsigned)l, false, &ep, &d);
        size_t n = qvi_hnsw_search_layer(h, view, q, qa, ep, d, h->ef_construct,
                                         0, false, s);
        /* Safe moves first (a free place; a swap that keeps the displaced
         * target reachable through u), then ones that may strand another
         * node, which the next pass would see. */
        bool linked = false;
        for (int how = 0; how < 4 && !linked; how++) {
            for (size_t i = 0; i < n && !linked; i++) {
                uint32_t w = s->pool[i].slot;
                if (w == u || !seen[w])
                    continue;
                if (how == 0 && qvi_hnsw_rec(h, w, 0)[0] < h->m0)
                    linked = qvi_hnsw_force_link(h, view, w, u, 0, false);
                else if (how == 1 || how == 3)
                    linked = swap_in(h, view, w, u, how == 1);
                else if (how == 2)
                    linked = qvi_hnsw_force_link(h, view, w, u, 0, false);
            }
        }
        if (!linked)
            continue; /* u has no room for the link it would take over */
        (*fixed)++;
        seen[u] = 1;
        queue[tail] = u;
        tail = qvi_hnsw_walk(h, seen, queue, tail, tail + 1);
    }
    return false;
}

qv_status qvi_hnsw_reconnect(qvi_hnsw *h, const qvi_vecview *view,
                             uint64_t *relinked)
{
    if (!h)
        return QV_ENULL;
    qv_status st = qvi_hnsw_check_view(h, view);
    if (st != QV_OK)
        return st;
    if (relinked)
        *relinked = 0;
    /* Pending nodes have no links yet: every one would look stranded. */
    if (h->count < 2 || h->pending)
        return QV_OK;
    qvi_hnsw_scratch *s;
    if ((st = qvi_hnsw_wscratch(h, &s)) != QV_OK ||
        (st = qvi_hnsw_scratch_prepare(s, h, h->ef_construct, 0,
                                       2 * (size_t)h->m0 + 1,
                                       2 * (size_t)h->m0)) != QV_OK)
        return st;
    uint8_t *seen = malloc(h->cap);
    uint32_t *queue = malloc((size_t)h->cap * sizeof(uint32_t));
    if (!seen || !queue) {
        free(seen);
        free(queue);
        return QV_ENOMEM;
    }
    /* A forced link may replace one that was the only way to some other
     * node, so walk again until a pass finds nothing to fix (in practice
     * one or two passes). */
    for (int pass = 0; pass < 8; pass++) {
        uint64_t fixed = 0;
        bool all = connect_pass(h, view, s, seen, queue, &fixed);
        if (all)
            break;
        if (relinked)
            *relinked += fixed;
        if (fixed == 0)
            break;
    }
    free(seen);
    free(queue);
    return QV_OK;
}

qv_status qvi_hnsw_maintain(qvi_hnsw *h, const qvi_vecview *view)
{
    if (!h)
        return QV_ENULL;
    /* The +100 keeps tiny graphs from reconnecting on every change. */
    if (h->dirty * 100 < h->count + 100)
        return QV_OK;
    qv_status st = qvi_hnsw_reconnect(h, view, NULL);
    if (st == QV_OK)
        h->dirty = 0;
    return st;
}
