/*
 * hnsw_build.c -- inserting nodes: Algorithm 1 (insert) and Algorithm 4
 * (the neighbour selection heuristic) of Malkov & Yashunin, one at a time
 * or as a parallel batch.
 *
 * Insert (Algorithm 1)
 * --------------------
 * A node gets a random level L.  From the entry point we descend greedily
 * (ef = 1) through the levels above L, then on each level from min(L, top)
 * down to 0 we run the layer search with ef_construct, keep m neighbours
 * chosen by the heuristic, link the node to them and each of them back to
 * the node.  A neighbour whose list is full is re-selected with the
 * heuristic over its links plus the new node (hnswlib's way), which may
 * drop one or more of its older links.  As in hnswlib and unlike the
 * paper, the new node gets m links on level 0 too (the paper's M), while
 * lists may hold up to 2m there (Mmax0), and the pool's nearest node, not
 * the whole pool, seeds the next level down.  The heuristic never fills
 * a list back up with pruned candidates (the paper's keepPrunedConnections
 * is off, as in hnswlib), which keeps the graph sparse and searches fast.
 *
 * Re-selecting a full list computes the distances from the neighbour to
 * its own links, whose vectors the search for the new node did not touch:
 * link_back prefetches them QVI_HNSW_PF_AHEAD nodes ahead, as the search
 * does (see hnsw_search.c, "Memory traffic").  These distances are not
 * cached: a node's distances to its links would cost 4 bytes a link
 * (8m a node, as much as the links), and the memory target forbids it.
 *
 * Invariants kept: a node's links are distinct, never itself, never an
 * absent node, at most m (2m on level 0), only to nodes whose level is at
 * least the list's level; every link is counted in its target's in-degree
 * (hnsw_delete.c relies on that to find all the links to a removed node).
 *
 * Inner product
 * -------------
 * Under dot the search distance is -dot(q, x), which is no metric: a point
 * is not its own nearest neighbour, every point's "nearest" ones are the
 * longest vectors, and the heuristic, which compares candidates with each
 * other, prunes almost everything but links to those hubs.  Searches then
 * get stuck: on 4000 points of 32 dims around 20 centres drawn from
 * N(0, 16) (unit noise), recall@10 was 0.79 at ef 64, 0.87 at ef 256 and
 * 0.91 at ef 1024, with a mean level-0 degree of 4.6.
 *
 * So the graph is built with another distance between data points (the
 * "build distance", qvi_hnsw_bdist), used by every point-to-point
 * comparison: insert's search for the new node's neighbours, the
 * heuristic, link re-selection, delete repair and reconnect.  Searches
 * keep -dot, so the results and their order are unchanged.  We measured
 * recall@10 at ef 16 / 64 / 128 (A: the data above, one thread; B: 20k
 * points around centres drawn from N(0, 1), where norms vary little):
 *                                         A                   B
 *   -dot (before)                 0.69 / 0.79 / 0.83  0.88 / 0.98 / 0.99
 *   cosine between points         0.82 / 1.00 / 1.00  0.76 / 0.97 / 0.99
 *   plain L2 between points       0.84 / 1.00 / 1.00
 *   MIPS->NN reduction (Bachrach
 *   et al. 2014), M = max norm    0.94 / 1.00 / 1.00  0.72 / 0.94 / 0.98
 *   the same, M = the larger
 *   norm of the pair (kept)       0.99 / 1.00 / 1.00  0.88 / 0.98 / 0.99
 * The reduction appends sqrt(M^2 - |x|^2) to each stored x, so that -dot
 * orders like L2 to the query padded with 0; between two points the
 * augmented distance is |x - y|^2 + (a_x - a_y)^2, L2 plus a penalty for
 * unequal norms.  With a global M that needs a running maximum, and every
 * time M grows the distances of the whole graph shift (all shrink towards
 * plain L2, by different amounts): inserting in order of increasing norm
 * left recall at 0.80 at ef 128.  Taking M as the larger of the two norms
 * gives a distance of the pair alone,
 *     max(|x|^2, |y|^2) - x.y  =  (|x - y|^2 + | |x|^2 - |y|^2 |) / 2,
 * which measured best, needs no global state (nothing to recompute, no
 * order between batch threads), and equals |x - y|^2 / 2 for equal norms.
 * We compute it in the second form, from the l2sq kernel, which does not
 * cancel for close points.  The index keeps |x|^2 of each node (sqn[], 4
 * bytes a slot, dot only), set when the node is inserted, so delete
 * repair never needs a removed node's vector.
 * Known weak spot: inserting one by one in increasing norm order still
 * gives 0.86 at ef 128 (plain -dot does well there); and after removing a
 * third of the points a few queries need ef 256 (0.96 at ef 128).
 *
 * Two steps, and the parallel batch (locking model)
 * -------------------------------------------------
 * qvi_hnsw_insert_prepare runs under the caller's write lock and does
 * everything that can fail or allocate: room for the slots, every level
 * (drawn in the order of the slots, so they are reproducible), every
 * upper block, the writer's scratch.  qvi_hnsw_insert_link then links
 * the prepared slots under the caller's *shared* lock, searches running
 * beside it (hnsw.h, "Searches beside a linker"): it stores link entries
 * and counts atomically, and each node is made reachable only once its
 * own lists are complete (insert_node).  insert_batch is the two in a
 * row, and insert the same for one slot.
 *
 * With threads > 1, insert_link's threads take slots from a shared
 * atomic counter.  A node's records are read and written only under its
 * spinlock (readers copy the list and let go before computing distances);
 * a thread never holds two node locks at once, so there is no lock order to
 * get wrong.  In-degrees are updated with atomic adds since the target's
 * lock is not held.  entry and max_level are read under entry_mu; a node
 * whose level exceeds the current top keeps entry_mu for its whole insert
 * (as hnswlib does), so two new tops cannot race.  A node becomes
 * reachable only when a neighbour links to it, which happens after its own
 * records on every level are written.  With threads > 1 the graph depends
 * on scheduling; with one thread (no node locks: searches never take
 * them) it is a pure function of the slots, the vectors and the seed.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int cand_cmp(const void *a, const void *b)
{
    const qvi_hnsw_cand *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

void qvi_hnsw_sort_cands(qvi_hnsw_cand *c, size_t n)
{
    /* Short arrays (at most 2m + 1 or ef): insertion sort beats qsort's
     * indirect calls below a few dozen entries. */
    if (n > 48) {
        qsort(c, n, sizeof(*c), cand_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        qvi_hnsw_cand x = c[i];
        size_t j = i;
        while (j > 0 && cand_cmp(&c[j - 1], &x) > 0) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = x;
    }
}

size_t qvi_hnsw_select(const qvi_hnsw *h, const qvi_vecview *v,
                       qvi_hnsw_cand *c, size_t n, size_t max)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < max; i++) {
        const float *ci = qvi_hnsw_vec(v, c[i].slot);
        float ai = qvi_hnsw_sqn(h, c[i].slot);
        bool good = true;
        for (size_t j = 0; j < kept; j++) {
            float d = qvi_hnsw_bdist(h, ci, ai, qvi_hnsw_vec(v, c[j].slot),
                                     c[j].slot);
            if (d < c[i].dist) {
                good = false;
                break;
            }
        }
        if (good) {
            /* Swap, not copy: the dropped candidates stay in c[kept..n),
             * where qvi_hnsw_relink looks for them. */
            qvi_hnsw_cand t = c[kept];
            c[kept++] = c[i];
            c[i] = t;
        }
    }
    return kept;
}

static inline uint32_t indeg_add(const qvi_hnsw *h, uint32_t s, unsigned l,
                                 int delta)
{
    return __atomic_fetch_add(qvi_hnsw_indeg(h, s, l), (uint32_t)delta,
                              __ATOMIC_RELAXED);
}

static bool has(const uint32_t *a, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == x)
            return true;
    }
    return false;
}

static bool has_cand(const qvi_hnsw_cand *a, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].slot == x)
            return true;
    }
    return false;
}

/*
 * Reachability.  HNSW as published can orphan a node: when a full list is
 * re-selected, the link dropped may be the last one pointing at its
 * target, which no search can then reach (hnswlib shows a fraction of a
 * percent of such nodes on clustered data, and many more under inner
 * product, where small-norm nodes are nobody's neighbour).  We keep every
 * node's in-degree, so we can refuse to drop a last in-link: such a link
 * stays, in a free place if the heuristic left one, else instead of the
 * farthest kept link whose target has other in-links.  A new node that no
 * neighbour kept is forced into its nearest neighbour's list the same way.
 */
void qvi_hnsw_relink(const qvi_hnsw *h, const qvi_vecview *v, uint32_t n,
                     unsigned l, qvi_hnsw_cand *cand, size_t nc)
{
    uint32_t max = qvi_hnsw_maxlinks(h, l);
    uint32_t *rec = qvi_hnsw_rec(h, n, l);
    uint32_t *links = qvi_hnsw_links(h, rec, l);
    uint32_t oc = rec[0];
    uint32_t old[2 * QV_MAX_HNSW_M];
    uint8_t prot[4 * QV_MAX_HNSW_M + 1];
    memcpy(old, links, oc * sizeof(uint32_t));

    size_t kept = qvi_hnsw_select(h, v, cand, nc, max);
    memset(prot, 0, kept + 1);
    for (size_t j = 0; j < kept; j++) {
        if (!has(old, oc, cand[j].slot))
            indeg_add(h, cand[j].slot, l, 1);
    }
    /* First every dropped link loses its count, then the targets left with
     * none are put back, so no count is taken twice. */
    uint32_t orphans[2 * QV_MAX_HNSW_M];
    size_t no = 0;
    for (uint32_t i = 0; i < oc; i++) {
        uint32_t u = old[i];
        if (!has_cand(cand, kept, u) && indeg_add(h, u, l, -1) == 1)
            orphans[no++] = u;
    }
    for (size_t o = 0; o < no; o++) {
        uint32_t u = orphans[o];
        size_t at = kept;
        while (at < nc && cand[at].slot != u)
            at++;
        if (at == nc)
            continue; /* not a candidate (cannot happen): leave it */
        if (kept < max) {
            qvi_hnsw_cand t = cand[kept];
            cand[kept] = cand[at];
            cand[at] = t;
            prot[kept++] = 1;
            prot[kept] = 0;
            indeg_add(h, u, l, 1);
            continue;
        }
        for (size_t j = kept; j-- > 0;) {
            if (prot[j])
                continue;
            uint32_t w = cand[j].slot;
            if (indeg_add(h, w, l, -1) > 1) {
                qvi_hnsw_cand t = cand[j];
                cand[j] = cand[at];
                cand[at] = t;
                prot[j] = 1;
                indeg_add(h, u, l, 1);
                break;
            }
            indeg_add(h, w, l, 1); /* w needs this link too */
        }
    }
    /* Atomic stores: searches may read the list meanwhile (hnsw.h,
     * "Searches beside a linker"); every value they can see is a node. */
    for (size_t j = 0; j < kept; j++)
        qvi_hnsw_st_link(links + j, cand[j].slot);
    qvi_hnsw_st_count(rec, (uint32_t)kept);
}

bool qvi_hnsw_force_link(const qvi_hnsw *h, const qvi_vecview *v, uint32_t w,
                         uint32_t z, unsigned l, bool locking)
{
    bool ok = false;
    uint32_t max = qvi_hnsw_maxlinks(h, l);
    if (w == z)
        return false;
    if (locking)
        qvi_hnsw_lock(h, w);
    uint32_t *rec = qvi_hnsw_rec(h, w, l);
    uint32_t *links = qvi_hnsw_links(h, rec, l);
    uint32_t cnt = rec[0];
    if (has(links, cnt, z)) {
        ok = true;
    } else if (cnt < max) {
        qvi_hnsw_st_link(links + cnt, z); /* the entry, then the count */
        qvi_hnsw_st_count(rec, cnt + 1);
        indeg_add(h, z, l, 1);
        ok = true;
    } else {
        /* Replace the farthest link whose target keeps another in-link. */
        qvi_hnsw_cand c[2 * QV_MAX_HNSW_M];
        for (uint32_t i = 0; i < cnt; i++) {
            c[i].slot = i; /* position in links */
            c[i].dist = qvi_hnsw_pdist(h, v, w, links[i]);
        }
        qvi_hnsw_sort_cands(c, cnt);
        for (uint32_t i = cnt; i-- > 0 && !ok;) {
            uint32_t pos = c[i].slot, u = links[pos];
            if (indeg_add(h, u, l, -1) > 1) {
                qvi_hnsw_st_link(links + pos, z);
                indeg_add(h, z, l, 1);
                ok = true;
            } else {
                indeg_add(h, u, l, 1);
            }
        }
    }
    if (locking)
        qvi_hnsw_unlock(h, w);
    return ok;
}

/* Adds the link n -> q on level l, re-selecting n's links with the
 * heuristic when the list is full.  cand must hold maxlinks + 1 entries. */
static void link_back(const qvi_hnsw *h, const qvi_vecview *v, uint32_t n,
                      uint32_t q, float dq, unsigned l, bool locking,
                      qvi_hnsw_cand *cand)
{
    uint32_t max = qvi_hnsw_maxlinks(h, l);
    if (locking)
        qvi_hnsw_lock(h, n);
    uint32_t *rec = qvi_hnsw_rec(h, n, l);
    uint32_t *links = qvi_hnsw_links(h, rec, l);
    uint32_t cnt = rec[0];
    if (has(links, cnt, q))
        goto out;
    if (cnt < max) {
        qvi_hnsw_st_link(links + cnt, q); /* the entry, then the count */
        qvi_hnsw_st_count(rec, cnt + 1);
        indeg_add(h, q, l, 1);
        goto out;
    }
    /* n's own links were not touched by the search that found q, so their
     * vectors come from memory: keep a few in flight. */
    const unsigned lines = qvi_hnsw_vec_lines(h);
    for (uint32_t i = 0; i < cnt && i < QVI_HNSW_PF_AHEAD; i++)
        qvi_hnsw_prefetch(qvi_hnsw_vec(v, links[i]), 0, lines);
    for (uint32_t i = 0; i < cnt; i++) {
        if (i + QVI_HNSW_PF_AHEAD < cnt)
            qvi_hnsw_prefetch(qvi_hnsw_vec(v, links[i + QVI_HNSW_PF_AHEAD]), 0,
                              lines);
        cand[i].slot = links[i];
        cand[i].dist = qvi_hnsw_pdist(h, v, n, links[i]);
    }
    cand[cnt].slot = q;
    cand[cnt].dist = dq;
    qvi_hnsw_sort_cands(cand, cnt + 1);
    qvi_hnsw_relink(h, v, n, l, cand, cnt + 1);
out:
    if (locking)
        qvi_hnsw_unlock(h, n);
}

/* Writes the new node q's own links on level l: the kept pool entries
 * sel[0..kept).  Other batch threads may already have linked q to their
 * nodes (q was reachable on a higher level), so existing links are merged
 * rather than overwritten. */
static void set_own_links(const qvi_hnsw *h, const qvi_vecview *v, uint32_t q,
                          unsigned l, const qvi_hnsw_cand *sel, size_t kept,
                          bool locking, qvi_hnsw_cand *cand)
{
    if (locking)
        qvi_hnsw_lock(h, q);
    uint32_t *rec = qvi_hnsw_rec(h, q, l);
    uint32_t *links = qvi_hnsw_links(h, rec, l);
    uint32_t cnt = rec[0];
    if (cnt == 0) {
        for (size_t i = 0; i < kept; i++) {
            qvi_hnsw_st_link(links + i, sel[i].slot);
            indeg_add(h, sel[i].slot, l, 1);
        }
        qvi_hnsw_st_count(rec, (uint32_t)kept);
    } else {
        size_t nc = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            cand[nc].slot = links[i];
            cand[nc++].dist = qvi_hnsw_pdist(h, v, q, links[i]);
        }
        for (size_t i = 0; i < kept; i++) {
            if (!has(links, cnt, sel[i].slot))
                cand[nc++] = sel[i];
        }
        qvi_hnsw_sort_cands(cand, nc);
        qvi_hnsw_relink(h, v, q, l, cand, nc);
    }
    if (locking)
        qvi_hnsw_unlock(h, q);
}

/* Algorithm 1 for one slot whose level is already set and whose records
 * are allocated and empty.  The scratch is prepared, its saved[] for
 * level.  Cannot fail.
 *
 * Unlike the paper, which links the node back on each level as it goes
 * down, the links back to it (which make it reachable) are added only
 * once its own lists on every level are written: a search running beside
 * (hnsw.h, "Searches beside a linker"), or another batch thread, that
 * reached it on an upper level would otherwise descend into its still
 * empty lower lists and end there with a beam of one.  With one thread
 * the graph is the same: linking back on level l changes lists of level l
 * only, and the searches for the levels below walk their own level. */
static void insert_node(qvi_hnsw *h, const qvi_vecview *v, uint32_t slot,
                        unsigned level, bool locking, qvi_hnsw_scratch *s)
{
    const float *q = qvi_hnsw_vec(v, slot);
    if (locking)
        pthread_mutex_lock(&h->entry_mu);
    int top = h->max_level;
    uint32_t ep = h->entry;
    if (top < 0) {
        qvi_hnsw_set_entry(h, slot, (int)level);
        if (locking)
            pthread_mutex_unlock(&h->entry_mu);
        return;
    }
    bool hold = (int)level > top;
    if (locking && !hold)
        pthread_mutex_unlock(&h->entry_mu);

    float qa = qvi_hnsw_sqn(h, slot);
    float d = qvi_hnsw_pdist(h, v, slot, ep);
    for (int l = top; l > (int)level; l--)
        qvi_hnsw_greedy(h, v, q, qa, true, (unsigned)l, locking, &ep, &d);

    /* Own lists, top down; each level's pool is kept in saved[] for the
     * links back. */
    size_t npool[QVI_HNSW_MAX_LEVEL + 1], nkept[QVI_HNSW_MAX_LEVEL + 1];
    size_t off = 0;
    int start = (int)level < top ? (int)level : top;
    for (int l = start; l >= 0; l--) {
        size_t n = qvi_hnsw_search_layer(h, v, q, qa, ep, d, h->ef_construct,
                                         (unsigned)l, locking, s);
        qvi_hnsw_cand *pool = s->pool;
        ep = pool[0].slot;
        d = pool[0].dist;
        /* The pool is sorted; the heuristic keeps at most m of it.  It
         * cannot hold slot itself: slot has no in-links yet. */
        size_t kept = qvi_hnsw_select(h, v, pool, n, h->m);
        set_own_links(h, v, slot, (unsigned)l, pool, kept, locking, s->cand);
        memcpy(s->saved + off, pool, n * sizeof(*pool));
        npool[l] = n;
        nkept[l] = kept;
        off += n;
    }
    /* Links back, same order. */
    off = 0;
    for (int l = start; l >= 0; l--) {
        const qvi_hnsw_cand *pool = s->saved + off;
        size_t n = npool[l];
        off += n;
        for (size_t i = 0; i < nkept[l]; i++)
            link_back(h, v, pool[i].slot, slot, pool[i].dist, (unsigned)l,
                      locking, s->cand);
        /* Nobody kept the link back: force one, nearest first (the pool
         * holds the kept neighbours first, then the others). */
        for (size_t i = 0; i < n; i++) {
            if (__atomic_load_n(qvi_hnsw_indeg(h, slot, (unsigned)l),
                                __ATOMIC_RELAXED) > 0 ||
                qvi_hnsw_force_link(h, v, pool[i].slot, slot, (unsigned)l,
                                    locking))
                break;
        }
    }

    if (hold) {
        qvi_hnsw_set_entry(h, slot, (int)level);
        if (locking)
            pthread_mutex_unlock(&h->entry_mu);
    }
}

/* Records the squared norms of slots[0..n) for the build distance (dot
 * only).  Called once the slots can no longer fail to go in, before any
 * batch thread starts, so the threads only read sqn[]. */
static void set_sqn(qvi_hnsw *h, const qvi_vecview *v, const uint32_t *slots,
                    size_t n)
{
    if (!h->sqn)
        return;
    for (size_t i = 0; i < n; i++) {
        const float *x = qvi_hnsw_vec(v, slots[i]);
        h->sqn[slots[i]] = h->kern(x, x, h->dim);
    }
}

/* Sizes s for inserts of nodes up to level top: the layer search's pool
 * and candidates, and saved[] for the pools of every level (insert_node).
 * QV_ENOMEM leaves what was there. */
static qv_status prepare_build_scratch(const qvi_hnsw *h, qvi_hnsw_scratch *s,
                                       unsigned top)
{
    qv_status st = qvi_hnsw_scratch_prepare(
        s, h, h->ef_construct, 0, 2 * (size_t)h->m0 + 1, 2 * (size_t)h->m0);
    size_t want = ((size_t)top + 1) * h->ef_construct;
    if (st != QV_OK || want <= s->saved_cap)
        return st;
    qvi_hnsw_cand *p = realloc(s->saved, want * sizeof(*p));
    if (!p)
        return QV_ENOMEM;
    s->saved = p;
    s->saved_cap = want;
    return QV_OK;
}

qv_status qvi_hnsw_insert_prepare(qvi_hnsw *h, const qvi_vecview *view,
                                  const uint32_t *slots, size_t n)
{
    if (!h || (!slots && n > 0))
        return QV_ENULL;
    qv_status st = qvi_hnsw_check_view(h, view);
    if (st != QV_OK)
        return st;
    if (n == 0)
        return QV_OK;
    uint32_t hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (slots[i] >= QVI_HNSW_MAX_SLOTS)
            return QV_ERANGE;
        if (qvi_hnsw_contains(h, slots[i]))
            return QV_EINVAL;
        if (slots[i] > hi)
            hi = slots[i];
    }
    qvi_hnsw_scratch *ws;
    if ((st = qvi_hnsw_reserve(h, (size_t)hi + 1)) != QV_OK ||
        (st = qvi_hnsw_wscratch(h, &ws)) != QV_OK)
        return st;

    /* Levels and upper blocks, drawn in the order of slots so that they
     * are reproducible.  A slot listed twice is caught here: its first
     * occurrence has already made it present in levels[]. */
    uint64_t rng = h->rng;
    size_t allocated = 0;
    unsigned top = 0;
    for (; allocated < n; allocated++) {
        uint32_t slot = slots[allocated];
        if (h->levels[slot] != QVI_HNSW_ABSENT) {
            st = QV_EINVAL;
            goto fail;
        }
        unsigned level = qvi_hnsw_random_level(h);
        if ((st = qvi_hnsw_alloc_node(h, slot, level)) != QV_OK)
            goto fail;
        h->levels[slot] = (uint8_t)level;
        if (level > top)
            top = level;
    }
    /* The writer's scratch, for whichever level comes: linking cannot
     * fail. */
    if ((st = prepare_build_scratch(h, ws, top)) != QV_OK)
        goto fail;
    /* Pending slots stay absent from levels[] (so that nothing that scans
     * levels[], such as the entry point's replacement in
     * qvi_hnsw_unlink, takes an unlinked node), their level kept in
     * indeg0[], which no one reads before they are linked. */
    for (size_t i = 0; i < n; i++) {
        h->indeg0[slots[i]] = h->levels[slots[i]];
        h->levels[slots[i]] = QVI_HNSW_ABSENT;
    }
    h->pending += n;
    set_sqn(h, view, slots, n);
    return QV_OK;

fail:
    for (size_t i = 0; i < allocated; i++) {
        uint32_t slot = slots[i];
        qvi_hnsw_free_upper(h, slot);
        h->levels[slot] = QVI_HNSW_ABSENT;
    }
    h->rng = rng;
    return st;
}

qv_status qvi_hnsw_insert(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot)
{
    if (!h)
        return QV_ENULL;
    if (slot >= QVI_HNSW_MAX_SLOTS)
        return QV_ERANGE;
    /* Prepare draws the level only once nothing else can fail, and puts
     * the generator back if the node cannot be allocated. */
    qv_status st = qvi_hnsw_insert_prepare(h, view, &slot, 1);
    if (st != QV_OK)
        return st;
    qvi_hnsw_insert_link(h, view, &slot, 1, 1);
    return QV_OK;
}

typedef struct batch_job {
    qvi_hnsw *h;
    const qvi_vecview *view;
    const uint32_t *slots;
    size_t n;
    bool locking;
    atomic_size_t next;
} batch_job;

typedef struct batch_worker {
    batch_job *job;
    qvi_hnsw_scratch *s;
} batch_worker;

/* Slots are handed out in small chunks: one atomic add per chunk, and
 * consecutive slots (often inserted close in time by the caller) stay with
 * one thread. */
#define BATCH_CHUNK 8

static void *batch_main(void *arg)
{
    batch_worker *w = arg;
    batch_job *j = w->job;
    qvi_hnsw *h = j->h;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, BATCH_CHUNK);
        if (i >= j->n)
            break;
        size_t end = i + BATCH_CHUNK < j->n ? i + BATCH_CHUNK : j->n;
        for (; i < end; i++) {
            uint32_t slot = j->slots[i];
            /* The level prepare kept; the node enters levels[] now, before
             * anything links to it (searches load levels[] atomically). */
            unsigned level = h->indeg0[slot];
            if (level > QVI_HNSW_MAX_LEVEL ||
                h->levels[slot] != QVI_HNSW_ABSENT)
                continue; /* not pending (misuse): leave it alone */
            h->indeg0[slot] = 0;
            __atomic_store_n(&h->levels[slot], (uint8_t)level,
                             __ATOMIC_RELAXED);
            __atomic_fetch_add(&h->level_count[level], 1, __ATOMIC_RELAXED);
            insert_node(h, j->view, slot, level, j->locking, w->s);
            /* Counted once reachable: qvi_hnsw_count is what a search
             * can find (qv_indexed_count reads it beside us). */
            __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

void qvi_hnsw_insert_link(qvi_hnsw *h, const qvi_vecview *view,
                          const uint32_t *slots, size_t n, unsigned threads)
{
    /* Misuse only (prepare checked the slots and the view): link nothing
     * rather than walk a graph with a view it was not prepared for. */
    if (!h || !slots || n == 0 || n > h->pending ||
        qvi_hnsw_check_view(h, view) != QV_OK)
        return;
    if (threads == 0)
        threads = 1;
    if (threads > n)
        threads = (unsigned)n;
    if (threads > 64)
        threads = 64;

    batch_worker workers[64];
    pthread_t tids[64];
    batch_job job = {.h = h, .view = view, .slots = slots, .n = n};
    atomic_init(&job.next, 0);
    memset(workers, 0, sizeof(workers));
    unsigned top = 0;
    for (size_t i = 0; i < n && threads > 1; i++) {
        if (h->indeg0[slots[i]] > top)
            top = h->indeg0[slots[i]]; /* pending: the level, see prepare */
    }
    /* Thread 0 is the caller, with the writer's scratch that prepare
     * sized.  The others get their own now; one that cannot leaves its
     * share to the threads that can. */
    workers[0].job = &job;
    workers[0].s = h->wscratch;
    unsigned ready = 1;
    for (unsigned t = 1; t < threads; t++) {
        workers[ready].job = &job;
        if (qvi_hnsw_scratch_create(&workers[ready].s) != QV_OK)
            break;
        if (prepare_build_scratch(h, workers[ready].s, top) != QV_OK) {
            qvi_hnsw_scratch_free(workers[ready].s);
            workers[ready].s = NULL;
            break;
        }
        ready++;
    }
    unsigned started = 1;
    /* One thread needs no node locks: it is the only linker (searches
     * never take them). */
    job.locking = ready > 1;
    if (ready > 1) {
        for (; started < ready; started++) {
            if (pthread_create(&tids[started], NULL, batch_main,
                               &workers[started]) != 0)
                break; /* the others, and this thread, do the work */
        }
    }
    batch_main(&workers[0]);
    for (unsigned t = 1; t < started; t++)
        pthread_join(tids[t], NULL);
    for (unsigned t = 1; t < ready; t++)
        qvi_hnsw_scratch_free(workers[t].s);
    h->pending -= n;
    h->dirty += n;
}

qv_status qvi_hnsw_replace(qvi_hnsw *h, const qvi_vecview *view, uint32_t slot)
{
    qv_status st = qvi_hnsw_check_node(h, view, slot);
    if (st != QV_OK)
        return st;
    /* The node keeps its level, hence its upper block: nothing a search
     * may be reading is freed or moved, and levels[] does not change
     * (levels are drawn independently of the vectors, so this is the
     * same distribution as drawing anew). */
    unsigned level = h->levels[slot];
    qvi_hnsw_scratch *ws;
    if ((st = qvi_hnsw_wscratch(h, &ws)) != QV_OK ||
        (st = prepare_build_scratch(h, ws, level)) != QV_OK ||
        (st = qvi_hnsw_unlink(h, view, slot, true)) != QV_OK)
        return st; /* unlink changes nothing when it fails */
    /* Now unreachable (no in-links), its old lists kept for the searches
     * that hold it: insert it with its new vector, as a new node of the
     * same level; set_own_links merges the old lists with the new
     * neighbours (Algorithm 4 with the new distances; a link that is some
     * node's last in-link stays, qvi_hnsw_relink). */
    set_sqn(h, view, &slot, 1);
    insert_node(h, view, slot, level, false, ws);
    h->dirty++;
    return QV_OK;
}

qv_status qvi_hnsw_insert_batch(qvi_hnsw *h, const qvi_vecview *view,
                                const uint32_t *slots, size_t n,
                                unsigned threads)
{
    qv_status st = qvi_hnsw_insert_prepare(h, view, slots, n);
    if (st != QV_OK || n == 0)
        return st;
    qvi_hnsw_insert_link(h, view, slots, n, threads);
    /* Link the rare stranded nodes, amortised (qvi_hnsw_maintain).  The
     * batch is in: if this runs out of memory the graph is still valid,
     * only less reachable, and the next run will do it. */
    (void)qvi_hnsw_maintain(h, view);
    return QV_OK;
}
