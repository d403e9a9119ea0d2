/*
 * hnsw_delete.c -- removing a node from the HNSW graph for good.
 *
 * What
 * ----
 * qvi_hnsw_remove unlinks a node at once, on every level it is on:
 *   1. find every node that links to it ("holders"),
 *   2. give each holder a new list chosen by the heuristic (Algorithm 4)
 *      from its remaining links plus the removed node's links,
 *   3. drop the removed node's own links (and the in-degrees they carried),
 *      and link any neighbour left with no in-link from the nearest holder
 *      or neighbour that can take it (qvi_hnsw_force_link),
 *   4. move the entry point if it was the removed node,
 * then frees its records.  The slot can be inserted again at once, with a
 * new vector: nothing in the graph refers to it any more.
 *
 * Why eager unlinking, not tombstones
 * -----------------------------------
 * hnswlib marks deleted nodes and keeps walking through them; searches then
 * return fewer than k results, recall falls as tombstones pile up, and
 * reusing a slot leaves old links pointing at what is now a different
 * vector.  pgvector repairs in a vacuum pass that scans the whole index.
 * The collection here reuses freed slots immediately, so a removed node's
 * vector may be overwritten right after the call: a removed node must not
 * stay in the graph.  (Its own vector is therefore never read here.)
 *
 * Finding the holders
 * -------------------
 * HNSW links are directed and not always reciprocal, so the removed node's
 * own list is not enough.  Every node keeps its in-degree on each level
 * (maintained by every link change, see hnsw_build.c), so we know how many
 * holders to look for.  We look in the removed node's neighbours, then in
 * their neighbours (in-links come almost always from this two-hop ball),
 * and only if some are still missing do we scan every node of that level.
 * All holders of all levels are found before anything changes, so a
 * failure (QV_ENOMEM while sizing the scratch, QV_EINTERNAL if the
 * counters disagree with the links) leaves the graph untouched.
 *
 * Entry point
 * -----------
 * When the entry point goes, its replacement is a node of the highest
 * level that still has nodes (level_count[] says which), preferably one of
 * its neighbours on that level, else found by a scan.  Redis vector sets
 * once picked a lower node and kept the old maximum level, and crashed.
 *
 * What it does not guarantee: a small group of nodes that only link to each
 * other can lose its last link from outside; qvi_hnsw_reconnect (which the
 * collection runs after many removals) relinks such groups.  Tests check
 * recall after removing 30% of the points without it.
 *
 * Locking: qvi_hnsw_remove is a writer (the caller's write lock); no
 * batch threads run.  qvi_hnsw_unlink, its first half, also serves
 * qvi_hnsw_replace, a linker (searches beside, hnsw.h): so every link it
 * changes is stored atomically, and the entry point moves before the
 * node's lists are emptied.  It never frees, nor changes levels[].
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#include <stdlib.h>
#include <string.h>

static bool list_has(const uint32_t *links, uint32_t cnt, uint32_t x)
{
    for (uint32_t i = 0; i < cnt; i++) {
        if (links[i] == x)
            return true;
    }
    return false;
}

/* Considers y as a holder of x on level l. */
static inline void probe(const qvi_hnsw *h, uint32_t y, uint32_t x, unsigned l,
                         uint32_t *out, uint32_t *found)
{
    const uint32_t *rec = qvi_hnsw_rec(h, y, l);
    if (list_has(qvi_hnsw_links(h, (uint32_t *)rec, l), rec[0], x))
        out[(*found)++] = y;
}

/* Writes the holders of x on level l to out (room for need entries).
 * Returns false if their number is not need. */
static bool find_holders(const qvi_hnsw *h, qvi_hnsw_scratch *s, uint32_t x,
                         unsigned l, uint32_t need, uint32_t *out)
{
    uint32_t found = 0;
    if (need == 0)
        return true;
    qvi_hnsw_new_epoch(s);
    uint16_t *vis = s->visited;
    uint16_t ep = s->epoch;
    vis[x] = ep;
    const uint32_t *xr = qvi_hnsw_rec(h, x, l);
    const uint32_t *xl = qvi_hnsw_links(h, (uint32_t *)xr, l);
    uint32_t xc = xr[0];

    for (uint32_t i = 0; i < xc && found < need; i++) {
        vis[xl[i]] = ep;
        probe(h, xl[i], x, l, out, &found);
    }
    for (uint32_t i = 0; i < xc && found < need; i++) {
        const uint32_t *zr = qvi_hnsw_rec(h, xl[i], l);
        const uint32_t *zl = qvi_hnsw_links(h, (uint32_t *)zr, l);
        for (uint32_t j = 0; j < zr[0] && found < need; j++) {
            uint32_t y = zl[j];
            if (vis[y] == ep)
                continue;
            vis[y] = ep;
            probe(h, y, x, l, out, &found);
        }
    }
    for (uint32_t y = 0; y < h->cap && found < need; y++) {
        if (vis[y] == ep || h->levels[y] == QVI_HNSW_ABSENT || h->levels[y] < l)
            continue;
        probe(h, y, x, l, out, &found);
    }
    return found == need;
}

/* Gives holder y a new list on level l without x: Algorithm 4 over its
 * other links and x's links, through qvi_hnsw_relink, which keeps last
 * in-links.  cand has room for 2 * m0 entries. */
static void repair(qvi_hnsw *h, const qvi_vecview *v, uint32_t y, uint32_t x,
                   unsigned l, qvi_hnsw_cand *cand)
{
    uint32_t *yr = qvi_hnsw_rec(h, y, l);
    uint32_t *yl = qvi_hnsw_links(h, yr, l);
    const uint32_t *xr = qvi_hnsw_rec(h, x, l);
    const uint32_t *xl = qvi_hnsw_links(h, (uint32_t *)xr, l);

    /* Drop the link to x first (x's counter dies with x).  Atomic stores:
     * under qvi_hnsw_replace, searches read the list meanwhile (hnsw.h,
     * "Searches beside a linker"); they may see an entry twice or x
     * still, both nodes of the graph. */
    uint32_t yc = 0, oc = yr[0];
    for (uint32_t i = 0; i < oc; i++) {
        if (yl[i] != x)
            qvi_hnsw_st_link(yl + yc++, yl[i]);
    }
    qvi_hnsw_st_count(yr, yc);
    (*qvi_hnsw_indeg(h, x, l))--;

    size_t n = 0;
    for (uint32_t i = 0; i < yc; i++) {
        cand[n].slot = yl[i];
        cand[n].dist = qvi_hnsw_pdist(h, v, y, yl[i]);
        n++;
    }
    for (uint32_t i = 0; i < xr[0]; i++) {
        uint32_t u = xl[i];
        if (u == y || list_has(yl, yc, u))
            continue;
        cand[n].slot = u;
        cand[n].dist = qvi_hnsw_pdist(h, v, y, u);
        n++;
    }
    qvi_hnsw_sort_cands(cand, n);
    qvi_hnsw_relink(h, v, y, l, cand, n);
}

/* z lost its last in-link on level l with x's removal: link it from the
 * nearest of the holders and x's other neighbours that can take it. */
static void rescue(qvi_hnsw *h, const qvi_vecview *v, uint32_t z, unsigned l,
                   const uint32_t *holders, size_t nh, const uint32_t *xl,
                   uint32_t xc, qvi_hnsw_cand *cand)
{
    size_t n = 0;
    for (size_t i = 0; i < nh + xc && n < 2 * (size_t)h->m0; i++) {
        uint32_t w = i < nh ? holders[i] : xl[i - nh];
        if (w == z)
            continue;
        cand[n].slot = w;
        cand[n].dist = qvi_hnsw_pdist(h, v, z, w);
        n++;
    }
    qvi_hnsw_sort_cands(cand, n);
    for (size_t i = 0; i < n; i++) {
        if (qvi_hnsw_force_link(h, v, cand[i].slot, z, l, false))
            return;
    }
}

/* The node that replaces x as entry point: one of the highest remaining
 * level.  level_count[] already excludes x.  Returns false if the graph
 * will be empty. */
static bool pick_entry(const qvi_hnsw *h, uint32_t x, uint32_t *out_entry,
                       int32_t *out_level)
{
    int top = -1;
    for (int l = QVI_HNSW_MAX_LEVEL; l >= 0; l--) {
        if (h->level_count[l] > 0) {
            top = l;
            break;
        }
    }
    if (top < 0)
        return false;
    *out_level = top;
    if (top <= (int)h->levels[x]) {
        const uint32_t *r = qvi_hnsw_rec(h, x, (unsigned)top);
        const uint32_t *ln = qvi_hnsw_links(h, (uint32_t *)r, (unsigned)top);
        for (uint32_t i = 0; i < r[0]; i++) {
            if (h->levels[ln[i]] == (uint8_t)top) {
                *out_entry = ln[i];
                return true;
            }
        }
    }
    for (uint32_t s = 0; s < h->cap; s++) {
        if (s != x && h->levels[s] == (uint8_t)top) {
            *out_entry = s;
            return true;
        }
    }
    return false; /* level_count disagrees with levels[] */
}

qv_status qvi_hnsw_unlink(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot,
                          bool keep_own)
{
    unsigned top = h->levels[slot];
    size_t total = 0;
    size_t off[QVI_HNSW_MAX_LEVEL + 2];
    for (unsigned l = 0; l <= top; l++) {
        off[l] = total;
        total += *qvi_hnsw_indeg(h, slot, l);
    }
    off[top + 1] = total;
    qvi_hnsw_scratch *s;
    qv_status st;
    if ((st = qvi_hnsw_wscratch(h, &s)) != QV_OK ||
        (st = qvi_hnsw_scratch_prepare(s, h, 1, 0, 2 * (size_t)h->m0,
                                       total + 1)) != QV_OK)
        return st;

    /* Phase 1: find everything; nothing changes yet. */
    for (unsigned l = 0; l <= top; l++) {
        uint32_t need = (uint32_t)(off[l + 1] - off[l]);
        if (!find_holders(h, s, slot, l, need, s->ids + off[l]))
            return QV_EINTERNAL;
    }
    uint32_t new_entry = 0;
    int32_t new_top = -1;
    bool was_entry = h->entry == slot;
    if (was_entry) {
        h->level_count[top]--;
        bool any = pick_entry(h, slot, &new_entry, &new_top);
        h->level_count[top]++;
        if (!any && h->count > 1)
            return QV_EINTERNAL;
        /* Move the entry point first: beside searches (qvi_hnsw_replace)
         * none may start from a node whose lists are being emptied. */
        qvi_hnsw_set_entry(h, new_entry, new_top);
    }

    /* Phase 2: relink, top level first (any order would do). */
    for (int l = (int)top; l >= 0; l--) {
        for (size_t i = off[l]; i < off[l + 1]; i++)
            repair(h, view, s->ids[i], slot, (unsigned)l, s->cand);
        if (keep_own)
            continue;
        uint32_t *r = qvi_hnsw_rec(h, slot, (unsigned)l);
        uint32_t *ln = qvi_hnsw_links(h, r, (unsigned)l);
        for (uint32_t i = 0; i < r[0]; i++)
            (*qvi_hnsw_indeg(h, ln[i], (unsigned)l))--;
        for (uint32_t i = 0; i < r[0]; i++) {
            if (*qvi_hnsw_indeg(h, ln[i], (unsigned)l) == 0)
                rescue(h, view, ln[i], (unsigned)l, s->ids + off[l],
                       off[l + 1] - off[l], ln, r[0], s->cand);
        }
        qvi_hnsw_st_count(r, 0);
    }
    return QV_OK;
}

qv_status qvi_hnsw_remove(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot)
{
    qv_status st = qvi_hnsw_check_node(h, view, slot);
    if (st != QV_OK)
        return st;
    unsigned top = h->levels[slot];
    if ((st = qvi_hnsw_unlink(h, view, slot, false)) != QV_OK)
        return st;
    qvi_hnsw_free_upper(h, slot);
    h->levels[slot] = QVI_HNSW_ABSENT;
    h->level_count[top]--;
    h->count--;
    if (h->count == 0)
        qvi_hnsw_set_entry(h, 0, -1);
    h->dirty++;
    (void)qvi_hnsw_maintain(h, view);
    return QV_OK;
}
