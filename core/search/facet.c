/*
 * facet.c -- counts of points per distinct value of a payload key (Qdrant's
 * facet), read from the key's index.
 *
 * An index already holds what a facet asks for: a keyword or uuid index
 * maps each value to the set of points holding it, a bool index keeps one
 * set per truth value, and an integer index's tree holds (value, point)
 * pairs sorted by value.  Without a filter a value's count is the size of
 * its set; with one, the filter is first resolved to an exact bitmap of the
 * matching points and each set is intersected with it (a popcount per word
 * for the sets kept as bitmaps).  So a facet costs one pass over the
 * index, never a payload read -- the "go over the values" strategy of
 * Qdrant's segment facet (lib/segment/src/segment/facet.rs), which also
 * refuses a key without such an index, with the message used here.
 *
 * Every value's count is computed, then sorted: Qdrant orders hits by
 * count descending and, among equal counts, by value ascending
 * (FacetHit's Ord in lib/segment/src/data_types/facets.rs), and its
 * "exact: false" only allows approximate counts; these are always exact.
 *
 * Runs under the collection's read lock; the result is copied out (strings
 * included) before the lock is released.
 */
#include "core/search/search.h"

#include <stdlib.h>
#include <string.h>

/* The values counted so far; strings point into the index (valid under
 * the lock) until copy_out. */
typedef struct fcount {
    qv_facet_hit *v;
    size_t n, cap;
} fcount;

static bool fcount_push(fcount *fc, const qv_facet_hit *h)
{
    if (fc->n == fc->cap) {
        size_t cap = fc->cap ? fc->cap * 2 : 64;
        qv_facet_hit *v = realloc(fc->v, cap * sizeof(*v));
        if (!v)
            return false;
        fc->v = v;
        fc->cap = cap;
    }
    fc->v[fc->n++] = *h;
    return true;
}

/* Points of set p that match: all of them without a filter (a set holds
 * live points only), else those in the exact candidate bitmap. */
static uint64_t set_count(const qvi_posting *p, const qvi_candidates *q)
{
    if (!q->cand)
        return p->n;
    return qvi_posting_count_in(p, q->cand, q->nbits);
}

static void uuid_text(const uint8_t b[16], char out[QV_UUID_STRLEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* Keyword and uuid indexes: one hit per map entry with a match.  A UUID's
 * text is written into its 16 key bytes' place later (copy_out). */
static bool count_map(const qvi_pindex *ix, const qvi_candidates *q, fcount *fc)
{
    const qvi_vmap *m = &ix->map;
    for (uint32_t i = 0; i < m->n; i++) {
        const qvi_ventry *e = &m->e[i];
        if (e->p.n == 0)
            continue;
        uint64_t k = set_count(&e->p, q);
        qv_facet_hit h = {.kind = QV_FACET_STRING,
                          .str = m->arena + e->off,
                          .len = e->len,
                          .count = k};
        if (k && !fcount_push(fc, &h))
            return false;
    }
    return true;
}

static bool count_bools(const qvi_pindex *ix, const qvi_candidates *q,
                        fcount *fc)
{
    for (int b = 0; b < 2; b++) {
        uint64_t k = set_count(&ix->bools[b], q);
        qv_facet_hit h = {.kind = QV_FACET_BOOL, .boolean = b == 1, .count = k};
        if (k && !fcount_push(fc, &h))
            return false;
    }
    return true;
}

/* Integer index: the tree's keys come sorted by value, so each value is a
 * run of keys; fractional numbers (the double flag) are not integers and
 * are skipped, as Qdrant's integer index never holds them. */
static bool count_tree(const qvi_pindex *ix, const qvi_candidates *q,
                       fcount *fc)
{
    const qvi_ntree *t = &ix->tree;
    qvi_nkey lo = {INT64_MIN, 0, 0}, k;
    qvi_ncur cur = qvi_ntree_lower_bound(t, &lo);
    bool open = false;
    qv_facet_hit h = {.kind = QV_FACET_NUMBER};
    for (; qvi_ntree_at(t, cur, &k); qvi_ntree_next(t, &cur)) {
        if (k.lo & QVI_NUM_LO_DOUBLE)
            continue;
        qv_number v = qvi_key_number(k.hi, k.lo);
        bool same =
            open && v.kind == h.num.kind &&
            (v.kind == QV_NUM_INT ? v.v.i == h.num.v.i : v.v.u == h.num.v.u);
        if (!same) {
            if (open && h.count && !fcount_push(fc, &h))
                return false;
            h.num = v;
            h.count = 0;
            open = true;
        }
        h.count += !q->cand || qvi_candidates_has(q, k.slot);
    }
    return !open || !h.count || fcount_push(fc, &h);
}

static int cmp_value(const qv_facet_hit *a, const qv_facet_hit *b)
{
    switch (a->kind) {
    case QV_FACET_STRING: {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->str, b->str, n);
        return c ? c : (a->len > b->len) - (a->len < b->len);
    }
    case QV_FACET_BOOL:
        return (int)a->boolean - (int)b->boolean;
    default:
        break;
    }
    /* An integer index's values: QV_NUM_UINT only above INT64_MAX. */
    if (a->num.kind != b->num.kind)
        return a->num.kind == QV_NUM_UINT ? 1 : -1;
    if (a->num.kind == QV_NUM_UINT)
        return (a->num.v.u > b->num.v.u) - (a->num.v.u < b->num.v.u);
    return (a->num.v.i > b->num.v.i) - (a->num.v.i < b->num.v.i);
}

static int cmp_hit(const void *x, const void *y)
{
    const qv_facet_hit *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_value(a, b);
}

/* The first n hits as one allocation: the array, then their strings.  A
 * uuid index's 16 key bytes become the UUID's text. */
static qv_facet_hit *copy_out(const qv_facet_hit *v, size_t n, bool uuid)
{
    size_t bytes = n * sizeof(qv_facet_hit);
    for (size_t i = 0; i < n; i++)
        if (v[i].kind == QV_FACET_STRING)
            bytes += (uuid ? QV_UUID_STRLEN : v[i].len + 1);
    qv_facet_hit *out = malloc(bytes ? bytes : 1);
    if (!out)
        return NULL;
    char *text = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        out[i] = v[i];
        if (out[i].kind != QV_FACET_STRING)
            continue;
        if (uuid) {
            uuid_text((const uint8_t *)v[i].str, text);
            out[i].len = QV_UUID_STRLEN - 1;
        } else {
            memcpy(text, v[i].str, v[i].len);
            text[v[i].len] = '\0';
        }
        out[i].str = text;
        text += out[i].len + 1;
    }
    return out;
}

/* The facet index on the parsed key, or a failure recorded on c. */
static qv_status find_index_locked(qv_collection *c, const char *key,
                                   const qvi_path_item *items, uint32_t n_items,
                                   const char *pool, const qvi_pindex **out)
{
    const qvi_pindex *ix =
        qvi_pindex_set_find(c->pindexes, items, n_items, pool);
    if (!ix || (ix->kind != QV_INDEX_KEYWORD && ix->kind != QV_INDEX_INTEGER &&
                ix->kind != QV_INDEX_UUID && ix->kind != QV_INDEX_BOOL))
        return qvi_fail(c->err, QV_ENOTFOUND,
                        "No appropriate index for faceting: `%s`. Please "
                        "create one to facet on this field. Check "
                        "https://qdrant.tech/documentation/concepts/indexing/"
                        "#payload-index to see which payload schemas support "
                        "Match conditions",
                        key);
    if (ix->stale)
        return qvi_fail(c->err, QV_ENOMEM,
                        "the index on `%s` is waiting to be rebuilt after "
                        "running out of memory",
                        key);
    *out = ix;
    return QV_OK;
}

static qv_status facet_locked(qv_collection *c, const char *key,
                              const qvi_path_item *items, uint32_t n_items,
                              const char *pool, const qv_filter *filter,
                              size_t limit, qv_facet_hit **out, size_t *n_out)
{
    const qvi_pindex *ix = NULL;
    qv_status st = find_index_locked(c, key, items, n_items, pool, &ix);
    if (st != QV_OK)
        return st;
    qvi_candidates q = {0};
    fcount fc = {0};
    const qvi_filter *f = qvi_filter_of(filter);
    st = qvi_candidates_prepare_locked(c, f, QVI_CANDIDATES_ALWAYS, &q);
    if (st == QV_OK && f)
        st = qvi_candidates_refine_locked(&q);
    if (st == QV_OK) {
        bool ok = ix->kind == QV_INDEX_BOOL      ? count_bools(ix, &q, &fc)
                  : ix->kind == QV_INDEX_INTEGER ? count_tree(ix, &q, &fc)
                                                 : count_map(ix, &q, &fc);
        st = ok ? QV_OK : QV_ENOMEM;
    }
    if (st == QV_OK) {
        /* A uuid index's keys are the 16 bytes of the UUID, big-endian:
         * they order as Qdrant's u128 UUIDs do. */
        if (fc.n)
            qsort(fc.v, fc.n, sizeof(*fc.v), cmp_hit);
        size_t n = fc.n < limit ? fc.n : limit;
        *out = copy_out(fc.v, n, ix->kind == QV_INDEX_UUID);
        *n_out = n;
        st = *out ? QV_OK : QV_ENOMEM;
    }
    if (st == QV_ENOMEM)
        qvi_fail(c->err, st, "out of memory while counting facet values");
    free(fc.v);
    qvi_candidates_free(&q);
    return st;
}

qv_status qv_facet(qv_collection *c, const char *key, const qv_filter *filter,
                   size_t limit, qv_facet_hit **out, size_t *n)
{
    if (!c)
        return QV_ENULL;
    if (!key || !out || !n)
        return qvi_fail(c->err, QV_ENULL, "key, out or n is NULL");
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return qvi_fail(c->err, QV_ERANGE, "limit must be at least 1");
    qvi_path_item *items = NULL;
    uint32_t n_items = 0, cap_items = 0, pool_len = 0, pool_cap = 0;
    char *pool = NULL;
    char err[QVI_FILTER_ERRMSG_CAP];
    qv_status st =
        qvi_path_parse(key, strlen(key), &items, &n_items, &cap_items, &pool,
                       &pool_len, &pool_cap, err, sizeof(err));
    if (st != QV_OK) {
        free(items);
        free(pool);
        return qvi_fail(c->err, st, "key: %s",
                        st == QV_EINVAL ? err : "out of memory");
    }
    pthread_rwlock_rdlock(&c->lock);
    st = facet_locked(c, key, items, n_items, pool, filter, limit, out, n);
    pthread_rwlock_unlock(&c->lock);
    free(items);
    free(pool);
    return st;
}
