/*
 * snapshot_graph.c -- the HNSW graph's sections of a snapshot, written and
 * mapped back in place.
 *
 * This is the one file outside core/hnsw_*.c that sees the graph's layout
 * (QVI_HNSW_INTERNAL), because the file format is that layout: the level-0
 * arena of rec0 = 1 + 2m uint32 per slot, the in-degrees, the level bytes,
 * and the dot norms go to the file as they are in memory, and come back as
 * borrowed arrays (struct qvi_hnsw, borrow_lo/borrow_len).  The upper
 * records, one malloc'd block per node of level >= 1 in memory, are
 * concatenated in slot order into one arena with an index of (slot, level,
 * word offset) entries; the loader points upper[slot] into the arena.
 *
 * What the open checks (all linear in the slot count, bytes per slot):
 * every level byte is a level <= QVI_HNSW_MAX_LEVEL or absent, present
 * exactly on the live slots, the per-level counts equal the GRAPH
 * section's, the entry point is a node of the maximum level, and the upper
 * index lists exactly the nodes of level >= 1, in increasing slot order,
 * each with its level and the next contiguous offset.  Link values are not
 * checked: searches skip bad ones (hnsw_search.c, "Untrusted graphs") and
 * the whole graph is checked before its first update (collection_index.c)
 * or at once with QV_SNAPSHOT_VERIFY.
 *
 * The writer normalises what the reader ignores, so that equal graphs give
 * equal bytes: records of absent slots and unused link cells are written
 * as zeros.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"
#include "persist/snapshot.h"

#include <string.h>

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

/* levels[s], or absent beyond the index's capacity. */
static unsigned level_of(const qvi_hnsw *h, uint32_t s)
{
    return s < h->cap ? h->levels[s] : QVI_HNSW_ABSENT;
}

void qvi_snapshot_graph_sizes(const qvi_hnsw *h, uint32_t n_slots,
                              uint32_t *n_upper, uint64_t *upper_words)
{
    uint32_t n = 0;
    uint64_t words = 0;
    for (uint32_t s = 0; s < n_slots; s++) {
        unsigned lv = level_of(h, s);
        if (lv != QVI_HNSW_ABSENT && lv > 0) {
            n++;
            words += (uint64_t)lv * h->recu;
        }
    }
    *n_upper = n;
    *upper_words = words;
}

/* Copies a record of `words` uint32 whose first `head` words are headers
 * (count, and in-degree above level 0) and the rest links, zeroing the
 * unused link cells. */
static void put_record(qvi_snapw *w, const uint32_t *rec, size_t words,
                       size_t head)
{
    uint32_t cnt = rec[0] < words - head ? rec[0] : (uint32_t)(words - head);
    uint32_t buf[2 + 2 * QV_MAX_HNSW_M];
    memcpy(buf, rec, (head + cnt) * sizeof(uint32_t));
    memset(buf + head + cnt, 0, (words - head - cnt) * sizeof(uint32_t));
    qvi_snapw_put(w, buf, words * sizeof(uint32_t));
}

void qvi_snapshot_write_graph(qvi_snapw *w, const qvi_hnsw *h, uint32_t n_slots,
                              uint32_t n_upper, uint64_t upper_words)
{
    uint8_t g[QVI_SNAP_GRAPH_SIZE] = {0};
    qvi_put32(g, h->m);
    qvi_put32(g + 4, h->m0);
    qvi_put32(g + 8, h->ef_construct);
    qvi_put32(g + 12, h->count ? h->entry : 0);
    qvi_put32(g + 16, (uint32_t)h->max_level);
    qvi_put32(g + 20, n_upper);
    qvi_put64(g + 24, h->count);
    qvi_put64(g + 32, h->rng);
    qvi_put64(g + 40, h->dirty);
    qvi_put64(g + 48, upper_words);
    for (unsigned l = 0; l <= QVI_HNSW_MAX_LEVEL; l++)
        qvi_put64(g + 56 + 8 * (size_t)l, h->level_count[l]);
    qvi_snapw_begin(w, QVI_SNAP_GRAPH);
    qvi_snapw_put(w, g, sizeof(g));
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_GRAPH_LEVELS);
    uint32_t have = n_slots < h->cap ? n_slots : h->cap;
    qvi_snapw_put(w, h->levels, have);
    for (uint32_t s = have; s < n_slots; s++) {
        uint8_t absent = QVI_HNSW_ABSENT;
        qvi_snapw_put(w, &absent, 1);
    }
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_GRAPH_UPPER_INDEX);
    uint64_t off = 0;
    for (uint32_t s = 0; s < n_slots; s++) {
        unsigned lv = level_of(h, s);
        if (lv == QVI_HNSW_ABSENT || lv == 0)
            continue;
        uint8_t e[QVI_SNAP_UPPER_ENTRY_SIZE];
        qvi_put32(e, s);
        qvi_put32(e + 4, lv);
        qvi_put64(e + 8, off);
        qvi_snapw_put(w, e, sizeof(e));
        off += (uint64_t)lv * h->recu;
    }
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_GRAPH_INDEG0);
    for (uint32_t s = 0; s < n_slots; s++) {
        uint32_t d = level_of(h, s) != QVI_HNSW_ABSENT ? h->indeg0[s] : 0;
        qvi_snapw_put(w, &d, sizeof(d));
    }
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_GRAPH_LINKS0);
    for (uint32_t s = 0; s < n_slots; s++) {
        if (level_of(h, s) == QVI_HNSW_ABSENT)
            qvi_snapw_zero(w, h->rec0 * sizeof(uint32_t));
        else
            put_record(w, qvi_hnsw_rec(h, s, 0), h->rec0, 1);
    }
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_GRAPH_UPPER_LINKS);
    for (uint32_t s = 0; s < n_slots; s++) {
        unsigned lv = level_of(h, s);
        if (lv == QVI_HNSW_ABSENT)
            continue;
        for (unsigned l = 1; l <= lv; l++)
            put_record(w, qvi_hnsw_rec(h, s, l), h->recu, 2);
    }
    qvi_snapw_end(w);

    if (h->metric == QV_METRIC_DOT && !h->custom) {
        qvi_snapw_begin(w, QVI_SNAP_GRAPH_DOT_NORMS);
        for (uint32_t s = 0; s < n_slots; s++) {
            float v = level_of(h, s) != QVI_HNSW_ABSENT ? h->sqn[s] : 0.0f;
            qvi_snapw_put(w, &v, sizeof(v));
        }
        qvi_snapw_end(w);
    }
}

/* Levels against the live bytes and the GRAPH section's counts. */
static qv_status check_levels(const qvi_snap_file *f, const uint8_t *levels,
                              const uint8_t *live, char *err, size_t errcap)
{
    const qvi_snap_graph *g = &f->graph;
    uint32_t n = f->config.n_slots;
    uint64_t counts[QVI_HNSW_MAX_LEVEL + 1] = {0};
    for (uint32_t s = 0; s < n; s++) {
        unsigned lv = levels[s];
        if (lv == QVI_HNSW_ABSENT) {
            if (live[s])
                return CORRUPT("section 'graph levels': live slot %u is not "
                               "in the graph",
                               s);
            continue;
        }
        if (!live[s])
            return CORRUPT("section 'graph levels': deleted slot %u is in "
                           "the graph",
                           s);
        if (lv > QVI_HNSW_MAX_LEVEL)
            return CORRUPT("section 'graph levels': slot %u has level %u "
                           "(at most %u)",
                           s, lv, QVI_HNSW_MAX_LEVEL);
        counts[lv]++;
    }
    for (unsigned l = 0; l <= QVI_HNSW_MAX_LEVEL; l++) {
        if (counts[l] != g->level_count[l])
            return CORRUPT("section 'graph levels': %llu nodes of level %u, "
                           "the graph section says %llu",
                           (unsigned long long)counts[l], l,
                           (unsigned long long)g->level_count[l]);
    }
    if (g->count > 0 && levels[g->entry] != (unsigned)g->max_level)
        return CORRUPT("section 'graph': entry point %u has level %u, not "
                       "the maximum %d",
                       g->entry, levels[g->entry], (int)g->max_level);
    return QV_OK;
}

/* Points upper[] into the upper-links arena, checking the index. */
static qv_status map_upper(const qvi_snap_file *f, qvi_hnsw *h, char *err,
                           size_t errcap)
{
    const qvi_snap_graph *g = &f->graph;
    const uint8_t *idx = qvi_snap_data(f, QVI_SNAP_GRAPH_UPPER_INDEX, NULL);
    uint32_t *arena =
        (uint32_t *)qvi_snap_data(f, QVI_SNAP_GRAPH_UPPER_LINKS, NULL);
    uint64_t next = 0;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < g->n_upper; i++) {
        const uint8_t *e = idx + (size_t)i * QVI_SNAP_UPPER_ENTRY_SIZE;
        uint32_t s, lv;
        uint64_t off;
        memcpy(&s, e, 4);
        memcpy(&lv, e + 4, 4);
        memcpy(&off, e + 8, 8);
        if (s >= h->cap || (i > 0 && s <= prev))
            return CORRUPT("section 'graph upper index': entry %u names slot "
                           "%u (slots must increase, below %u)",
                           i, s, h->cap);
        if (lv == 0 || lv != h->levels[s])
            return CORRUPT("section 'graph upper index': entry %u gives slot "
                           "%u level %u, its level is %u",
                           i, s, lv, h->levels[s]);
        if (off != next)
            return CORRUPT("section 'graph upper index': entry %u has offset "
                           "%llu, expected %llu",
                           i, (unsigned long long)off,
                           (unsigned long long)next);
        next += (uint64_t)lv * h->recu;
        if (next > g->upper_words)
            return CORRUPT("section 'graph upper index': entry %u runs past "
                           "the upper links",
                           i);
        h->upper[s] = arena + off;
        prev = s;
    }
    if (next != g->upper_words)
        return CORRUPT("section 'graph upper index': covers %llu of %llu "
                       "words",
                       (unsigned long long)next,
                       (unsigned long long)g->upper_words);
    return QV_OK;
}

qv_status qvi_snapshot_map_graph(const qvi_snap_file *f, const uint8_t *live,
                                 qvi_hnsw **out, char *err, size_t errcap)
{
    *out = NULL;
    const qvi_snap_config *k = &f->config;
    const qvi_snap_graph *g = &f->graph;
    uint32_t n = k->n_slots;
    uint8_t *levels = (uint8_t *)qvi_snap_data(f, QVI_SNAP_GRAPH_LEVELS, NULL);
    qv_status st = n ? check_levels(f, levels, live, err, errcap) : QV_OK;
    if (st != QV_OK)
        return st;

    qvi_hnsw_params p;
    qvi_hnsw_params_init(&p);
    p.m = k->cfg.hnsw_m;
    p.ef_construct = k->cfg.hnsw_ef_construct;
    p.seed = k->cfg.hnsw_seed;
    if (k->cfg.multivector != QV_MULTIVECTOR_NONE)
        p.custom = qvi_multi_kernel_of(k->cfg.metric, k->cfg.datatype);
    p.datatype = qvi_row_datatype(&k->cfg);
    qvi_hnsw *h = NULL;
    st = qvi_hnsw_create(&p, k->cfg.dim, k->cfg.metric, &h);
    if (st != QV_OK)
        return qvi_snap_fail(err, errcap, st == QV_ENOMEM ? st : QV_ECORRUPT,
                             "section 'graph': cannot create the index (%s)",
                             qv_status_name(st));
    h->borrow_lo = f->base;
    h->borrow_len = f->len;
    if (n) {
        h->upper = qvi_snap_calloc(n, sizeof(uint32_t *));
        h->locks = calloc(n, 1);
        if (!h->upper || !h->locks) {
            qvi_hnsw_free(h);
            return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
        }
        h->cap = n;
        h->levels = levels;
        h->links0 = (uint32_t *)qvi_snap_data(f, QVI_SNAP_GRAPH_LINKS0, NULL);
        h->indeg0 = (uint32_t *)qvi_snap_data(f, QVI_SNAP_GRAPH_INDEG0, NULL);
        if (k->cfg.metric == QV_METRIC_DOT && !h->custom)
            h->sqn = (float *)qvi_snap_data(f, QVI_SNAP_GRAPH_DOT_NORMS, NULL);
    }
    st = map_upper(f, h, err, errcap);
    if (st != QV_OK) {
        qvi_hnsw_free(h);
        return st;
    }
    h->entry = g->count ? g->entry : 0;
    h->max_level = g->max_level;
    h->count = g->count;
    h->dirty = g->dirty;
    h->rng = g->rng;
    memcpy(h->level_count, g->level_count, sizeof(h->level_count));
    *out = h;
    return QV_OK;
}

qv_status qvi_snapshot_check_graph(const qvi_columns *cols, char *err,
                                   size_t errcap)
{
    const qvi_hnsw *h = cols->index;
    if (h->count == 0)
        return QV_OK;
    qvi_vecview v = {.base = cols->vecs,
                     .stride = cols->row_bytes / sizeof(float),
                     .dim = cols->cfg.dim,
                     .metric = cols->cfg.metric};
    if (h->custom) { /* a multivector graph reads the records */
        v.base = cols->multi_rows;
        v.offs = cols->multi_offs;
    }
    char why[QVI_ERRMSG_CAP];
    qvi_hnsw_stats stats;
    qv_status st = qvi_hnsw_check(h, &v, &stats, why, sizeof(why));
    /* Nodes stranded since the last reconnect are normal (hnsw_connect.c):
     * reachability is checked last, so the structure is sound. */
    if (st == QV_ECORRUPT && stats.unreachable > 0)
        st = QV_OK;
    if (st != QV_OK)
        return qvi_snap_fail(err, errcap, st, "section 'graph': %s",
                             st == QV_ECORRUPT ? why : qv_status_name(st));
    if (h->sqn) {
        for (uint32_t s = 0; s < h->cap; s++) {
            if (h->levels[s] != QVI_HNSW_ABSENT &&
                h->sqn[s] != cols->sqnorms[s])
                return CORRUPT("section 'graph dot norms': slot %u has %g, "
                               "its vector %g",
                               s, (double)h->sqn[s], (double)cols->sqnorms[s]);
        }
    }
    return QV_OK;
}
