/*
 * hnsw_check.c -- the graph checker.
 *
 * Tests run it after every kind of build (bulk, parallel, incremental,
 * after deletes), and a loader must run it before publishing a graph read
 * from a file: it trusts nothing in the index, checks every number against
 * the node count before using it as an index, and reports the first
 * violation instead of asserting.
 *
 * What it checks
 * --------------
 *  - levels[]: each present node's level is at most QVI_HNSW_MAX_LEVEL and
 *    the maximum level; the per-level counts and the node count agree with
 *    a recount; the entry point is present and on the maximum level, and
 *    the graph is empty exactly when max_level is -1.
 *  - links, on every level of every node: count at most m (2m on level 0);
 *    each link in range, not to the node itself, to a present node whose
 *    level is at least the list's, and not twice in the same list.
 *  - in-degrees: equal to a recount on each level (hnsw_delete.c depends on
 *    them to find every link to a removed node).
 *  - reachability: a breadth-first walk from the entry point over the
 *    union of all levels reaches every node.  A search descends from the
 *    entry point and then walks level 0, so a node that this walk misses
 *    can never be returned.  Its number is in stats->unreachable; any is a
 *    violation.
 *
 * One function per property, run in this order (check_levels,
 * check_entry, check_links, check_indegrees, check_reachable): each later
 * check indexes arrays by values an earlier one has bounded.
 *
 * Cost: O(levels * cap + links) time, 9 bytes per slot of memory.
 * Locking: a reader.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qv_status fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static qv_status fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return QV_ECORRUPT;
}

/* Degree bound: the list of s on level l holds at most m links (2m on
 * level 0). */
static qv_status check_degree(const qvi_hnsw *h, uint32_t s, unsigned l,
                              uint32_t cnt, char *err, size_t cap)
{
    if (cnt > qvi_hnsw_maxlinks(h, l))
        return fail(err, cap, "node %u has %u links on level %u (max %u)", s,
                    cnt, l, qvi_hnsw_maxlinks(h, l));
    return QV_OK;
}

/* One link s -> u on level l: in range, not to s itself, to a present node
 * (no dangling link) whose level is at least l.  The range check comes
 * first: u indexes levels[] only after it. */
static qv_status check_link(const qvi_hnsw *h, uint32_t s, unsigned l,
                            uint32_t u, char *err, size_t cap)
{
    if (u >= h->cap)
        return fail(err, cap,
                    "node %u links to slot %u on level %u, beyond "
                    "capacity %u",
                    s, u, l, h->cap);
    if (u == s)
        return fail(err, cap, "node %u links to itself on level %u", s, l);
    if (h->levels[u] == QVI_HNSW_ABSENT)
        return fail(err, cap,
                    "node %u links to absent slot %u on level %u "
                    "(dangling)",
                    s, u, l);
    if (h->levels[u] < l)
        return fail(err, cap,
                    "node %u links on level %u to node %u of level %u", s, l, u,
                    h->levels[u]);
    return QV_OK;
}

/* The list of s on level l: its degree bound, then each link, and no link
 * twice (a duplicate would be counted twice by the in-degrees). */
static qv_status check_list(const qvi_hnsw *h, uint32_t s, unsigned l,
                            char *err, size_t cap)
{
    const uint32_t *r = qvi_hnsw_rec(h, s, l);
    const uint32_t *ln = qvi_hnsw_links(h, (uint32_t *)r, l);
    uint32_t cnt = r[0];
    qv_status st = check_degree(h, s, l, cnt, err, cap);
    for (uint32_t i = 0; st == QV_OK && i < cnt; i++) {
        st = check_link(h, s, l, ln[i], err, cap);
        for (uint32_t j = 0; st == QV_OK && j < i; j++) {
            if (ln[j] == ln[i])
                st = fail(err, cap, "node %u links twice to %u on level %u", s,
                          ln[i], l);
        }
    }
    return st;
}

/* Checks the records of present node s, level by level. */
static qv_status check_node(const qvi_hnsw *h, uint32_t s, char *err,
                            size_t cap)
{
    unsigned lv = h->levels[s];
    if (lv > 0 && !h->upper[s])
        return fail(err, cap, "node %u has level %u but no upper records", s,
                    lv);
    for (unsigned l = 0; l <= lv; l++) {
        qv_status st = check_list(h, s, l, err, cap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

/* Levels: each present node's level at most QVI_HNSW_MAX_LEVEL, the node
 * count and per-level counts equal to a recount, max_level the highest
 * level found (returned in *top, -1 when empty).  Counts nodes into
 * sx->nodes as it goes. */
static qv_status check_levels(const qvi_hnsw *h, qvi_hnsw_stats *sx, int *top,
                              char *err, size_t cap)
{
    uint64_t per_level[QVI_HNSW_MAX_LEVEL + 1] = {0};
    *top = -1;
    for (uint32_t s = 0; s < h->cap; s++) {
        unsigned lv = h->levels[s];
        if (lv == QVI_HNSW_ABSENT)
            continue;
        if (lv > QVI_HNSW_MAX_LEVEL)
            return fail(err, cap, "node %u has level %u, above the maximum %u",
                        s, lv, QVI_HNSW_MAX_LEVEL);
        per_level[lv]++;
        sx->nodes++;
        if ((int)lv > *top)
            *top = (int)lv;
    }
    if (h->pending)
        return fail(err, cap, "%llu nodes are prepared but not linked yet",
                    (unsigned long long)h->pending);
    if (sx->nodes != h->count)
        return fail(err, cap, "%llu nodes present, count says %llu",
                    (unsigned long long)sx->nodes,
                    (unsigned long long)h->count);
    for (unsigned l = 0; l <= QVI_HNSW_MAX_LEVEL; l++) {
        if (per_level[l] != h->level_count[l])
            return fail(err, cap,
                        "%llu nodes of level %u, level_count says %llu",
                        (unsigned long long)per_level[l], l,
                        (unsigned long long)h->level_count[l]);
    }
    if (*top != h->max_level)
        return fail(err, cap, "highest level is %d, max_level says %d", *top,
                    (int)h->max_level);
    return QV_OK;
}

/* The entry point of a non-empty graph: present and on the top level. */
static qv_status check_entry(const qvi_hnsw *h, int top, char *err, size_t cap)
{
    if (h->entry >= h->cap || h->levels[h->entry] == QVI_HNSW_ABSENT)
        return fail(err, cap, "entry point %u is not in the graph", h->entry);
    if ((int)h->levels[h->entry] != top)
        return fail(err, cap, "entry point %u has level %u, not the top %d",
                    h->entry, h->levels[h->entry], top);
    return QV_OK;
}

/* Links of every present node (check_node), counted into sx->links and
 * sx->mean_degree0 as they are checked. */
static qv_status check_links(const qvi_hnsw *h, qvi_hnsw_stats *sx, char *err,
                             size_t cap)
{
    for (uint32_t s = 0; s < h->cap; s++) {
        if (h->levels[s] == QVI_HNSW_ABSENT)
            continue;
        qv_status st = check_node(h, s, err, cap);
        if (st != QV_OK)
            return st;
        for (unsigned l = 0; l <= h->levels[s]; l++)
            sx->links += qvi_hnsw_rec(h, s, l)[0];
        sx->mean_degree0 += qvi_hnsw_rec(h, s, 0)[0];
    }
    if (sx->nodes > 0)
        sx->mean_degree0 /= (double)sx->nodes;
    return QV_OK;
}

/* In-degree counters of level l against a recount into recount[] (cap
 * entries of scratch).  The links were checked first, so every link is a
 * valid index into recount. */
static qv_status check_indegrees_on(const qvi_hnsw *h, unsigned l,
                                    uint32_t *recount, char *err, size_t cap)
{
    memset(recount, 0, h->cap * sizeof(uint32_t));
    for (uint32_t s = 0; s < h->cap; s++) {
        if (h->levels[s] == QVI_HNSW_ABSENT || h->levels[s] < l)
            continue;
        const uint32_t *r = qvi_hnsw_rec(h, s, l);
        const uint32_t *ln = qvi_hnsw_links(h, (uint32_t *)r, l);
        for (uint32_t i = 0; i < r[0]; i++)
            recount[ln[i]]++;
    }
    for (uint32_t s = 0; s < h->cap; s++) {
        if (h->levels[s] == QVI_HNSW_ABSENT || h->levels[s] < l)
            continue;
        uint32_t want = *qvi_hnsw_indeg(h, s, l);
        if (recount[s] != want)
            return fail(err, cap,
                        "node %u has %u in-links on level %d, its counter "
                        "says %u",
                        s, recount[s], (int)l, want);
    }
    return QV_OK;
}

/* In-degree counters of every level up to top. */
static qv_status check_indegrees(const qvi_hnsw *h, int top, uint32_t *recount,
                                 char *err, size_t cap)
{
    for (int l = 0; l <= top; l++) {
        qv_status st = check_indegrees_on(h, (unsigned)l, recount, err, cap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

/* Breadth-first walk from the entry point over the union of all levels;
 * marks seen[] and returns the number of nodes reached.  queue has room for
 * every slot: a node is queued at most once. */
static uint64_t walk_from_entry(const qvi_hnsw *h, uint32_t *queue,
                                uint8_t *seen)
{
    queue[0] = h->entry;
    seen[h->entry] = 1;
    return qvi_hnsw_walk(h, seen, queue, 0, 1);
}

/* Describes the sx->unreachable nodes the walk missed: how many have no
 * level-0 in-link at all, and the first of them. */
static qv_status fail_unreachable(const qvi_hnsw *h, const qvi_hnsw_stats *sx,
                                  const uint8_t *seen, char *err, size_t cap)
{
    uint32_t first = UINT32_MAX;
    uint64_t orphans = 0;
    for (uint32_t s = 0; s < h->cap; s++) {
        if (h->levels[s] != QVI_HNSW_ABSENT && !seen[s]) {
            if (first == UINT32_MAX)
                first = s;
            orphans += h->indeg0[s] == 0;
        }
    }
    return fail(err, cap,
                "%llu of %llu nodes are unreachable from the entry "
                "point, %llu of them without level-0 in-links "
                "(first: %u)",
                (unsigned long long)sx->unreachable,
                (unsigned long long)sx->nodes, (unsigned long long)orphans,
                first);
}

/* Reachability of a non-empty graph: fills sx->unreachable and
 * sx->max_level; any unreachable node is a violation. */
static qv_status check_reachable(const qvi_hnsw *h, qvi_hnsw_stats *sx, int top,
                                 uint32_t *queue, uint8_t *seen, char *err,
                                 size_t cap)
{
    sx->unreachable = sx->nodes - walk_from_entry(h, queue, seen);
    sx->max_level = (uint32_t)top;
    if (sx->unreachable > 0)
        return fail_unreachable(h, sx, seen, err, cap);
    return QV_OK;
}

/* The checks run in the order of the file's essay; each later one relies
 * on the earlier ones (the in-degree recount and the walk index by link
 * values that check_links has bounded).  On failure *stats holds what was
 * counted up to the violation. */
qv_status qvi_hnsw_check(const qvi_hnsw *h, const qvi_vecview *view,
                         qvi_hnsw_stats *stats, char *err, size_t cap)
{
    if (err && cap > 0)
        err[0] = '\0';
    if (!h)
        return QV_ENULL;
    qv_status st = qvi_hnsw_check_view(h, view);
    if (st != QV_OK)
        return st;

    uint32_t *recount = NULL, *queue = NULL;
    uint8_t *seen = NULL;
    qvi_hnsw_stats sx;
    memset(&sx, 0, sizeof(sx));
    int top = -1;

    if ((st = check_levels(h, &sx, &top, err, cap)) != QV_OK)
        goto done;
    if (sx.nodes > 0 && (st = check_entry(h, top, err, cap)) != QV_OK)
        goto done;
    if ((st = check_links(h, &sx, err, cap)) != QV_OK)
        goto done;

    recount = calloc(h->cap ? h->cap : 1, sizeof(uint32_t));
    queue = malloc((h->cap ? h->cap : 1) * sizeof(uint32_t));
    seen = calloc(h->cap ? h->cap : 1, 1);
    if (!recount || !queue || !seen) {
        st = QV_ENOMEM;
        goto done;
    }
    if ((st = check_indegrees(h, top, recount, err, cap)) != QV_OK)
        goto done;
    if (sx.nodes > 0)
        st = check_reachable(h, &sx, top, queue, seen, err, cap);

done:
    if (stats)
        *stats = sx;
    free(recount);
    free(queue);
    free(seen);
    return st;
}
