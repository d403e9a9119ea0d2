/*
 * pindex.c -- one payload index (its key, kind and structures; putting a
 * slot's values in and taking them out; bulk builds) and a set of indexes
 * (find, replace, drop, the write hooks and the stale-index retry).
 *
 * An index is declared on a key path ("tenant", "meta.date", "tags[]",
 * "chunks[].page") with a kind, Qdrant's field schemas:
 *
 *   kind      holds, per point, each value at the key that is   in
 *   keyword   a string                                           map
 *   uuid      a string that parses as a UUID (its 16 bytes)      map
 *   text      a string, cut into lowercase tokens                map
 *   integer   a number (see below)                               tree
 *   float     a number                                           tree
 *   datetime  a string that parses as an RFC 3339 date-time      tree
 *   bool      true or false                                      bools
 *   geo       an object with numeric lon and lat (its latitude)  tree
 *
 * "Each value at the key" is what a field condition looks at: the values
 * the path reaches, and the elements of those that are arrays (one level,
 * as filter_eval.c does), so the index holds exactly the values a match or
 * range condition can match.  Integer and float indexes both hold every
 * number, integral or not: a payload integer is at most 2^53 in magnitude
 * (payload.c), so a double holds it exactly, and a range over an integer
 * key that also holds 2.5 is still answered exactly (Qdrant's integer
 * index would miss the 2.5).  They differ only in name.
 *
 * Keys are canonicalised ("a.\"b\"" and "a.b" are one index); a set holds
 * one index per key, and putting an index of another kind on an indexed
 * key replaces it, as Qdrant does.
 *
 * Maintenance.  Every payload change goes through two hooks: remove (the
 * slot's values under its old payload leave each index) before the change
 * and add after it.  Hooks never fail the write: an index that cannot
 * allocate is dropped to "stale" -- structures freed, answering nothing,
 * every query falling back to evaluating payloads -- and rebuilt by a later
 * write once 1/8 of the points have been written since (or by
 * qvi_pindex_set_rebuild).  A stale full-text index still makes text
 * conditions token matches: the semantics never depend on whether an
 * allocation succeeded.
 *
 * Nothing here sees a collection: a slot's payload comes in as a blob, and
 * a pass over every point reads the live bytes and blobs of a
 * qvi_pindex_source.  Where the blobs come from, the write lock, the
 * write-ahead log and the public functions are core/collection_pindex.c's.
 * Nothing here locks either (see pindex.h).
 */
#include "core/pindex/pindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const KIND_NAMES[QV_INDEX_KIND_COUNT] = {
    "keyword", "integer", "float", "bool", "datetime", "uuid", "text", "geo"};

const char *qv_index_kind_name(qv_index_kind kind)
{
    if ((unsigned)kind >= QV_INDEX_KIND_COUNT)
        return NULL;
    return KIND_NAMES[kind];
}

qv_status qv_index_kind_parse(const char *name, qv_index_kind *out)
{
    if (!name || !out)
        return QV_ENULL;
    for (int k = 0; k < QV_INDEX_KIND_COUNT; k++) {
        if (strcasecmp(name, KIND_NAMES[k]) == 0) {
            *out = (qv_index_kind)k;
            return QV_OK;
        }
    }
    return QV_EINVAL;
}

static bool uses_tree(qv_index_kind k)
{
    return k == QV_INDEX_INTEGER || k == QV_INDEX_FLOAT ||
           k == QV_INDEX_DATETIME || k == QV_INDEX_GEO;
}

/* ---- one index ---------------------------------------------------------- */

static void free_structures(qvi_pindex *ix)
{
    qvi_vmap_free(&ix->map);
    qvi_ntree_free(&ix->tree);
    qvi_posting_free(&ix->bools[0]);
    qvi_posting_free(&ix->bools[1]);
    ix->points = 0;
}

void qvi_pindex_free(qvi_pindex *ix)
{
    if (!ix)
        return;
    free_structures(ix);
    qvi_text_opts_unref(ix->text);
    free(ix->key);
    free(ix->items);
    free(ix->pool);
    free(ix);
}

static bool raw_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c >= 0x80;
}

/* Writes the canonical text of a parsed path (keys quoted only when they
 * need it) to a new string. */
static char *canonical_key(const qvi_path_item *items, uint32_t n,
                           const char *pool)
{
    size_t cap = 1;
    for (uint32_t i = 0; i < n; i++)
        cap += items[i].kind == QVI_PI_KEY ? items[i].len + 3 : 24;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        const qvi_path_item *it = &items[i];
        if (it->kind == QVI_PI_INDEX) {
            p += sprintf(p, "[%llu]", (unsigned long long)it->index);
            continue;
        }
        if (it->kind == QVI_PI_WILDCARD) {
            p += sprintf(p, "[]");
            continue;
        }
        const char *k = pool + it->index;
        bool raw = it->len > 0;
        for (uint32_t j = 0; j < it->len && raw; j++)
            raw = raw_byte((unsigned char)k[j]);
        if (i > 0)
            *p++ = '.';
        if (!raw)
            *p++ = '"';
        memcpy(p, k, it->len);
        p += it->len;
        if (!raw)
            *p++ = '"';
    }
    *p = '\0';
    return s;
}

qv_status qvi_pindex_new(const char *key, qv_index_kind kind, qvi_pindex **out,
                         char *err, size_t errcap)
{
    *out = NULL;
    qvi_pindex *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return QV_ENOMEM;
    qv_status st = qvi_path_parse(key, strlen(key), &ix->items, &ix->n_items,
                                  &ix->cap_items, &ix->pool, &ix->pool_len,
                                  &ix->pool_cap, err, errcap);
    if (st == QV_OK &&
        !(ix->key = canonical_key(ix->items, ix->n_items, ix->pool)))
        st = QV_ENOMEM;
    if (st != QV_OK) {
        qvi_pindex_free(ix);
        return st;
    }
    ix->kind = kind;
    ix->stale = true;
    *out = ix;
    return QV_OK;
}

static bool same_path(const qvi_path_item *a, uint32_t na, const char *pa,
                      const qvi_path_item *b, uint32_t nb, const char *pb)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++) {
        if (a[i].kind != b[i].kind)
            return false;
        if (a[i].kind == QVI_PI_KEY) {
            if (a[i].len != b[i].len ||
                memcmp(pa + a[i].index, pb + b[i].index, a[i].len) != 0)
                return false;
        } else if (a[i].kind == QVI_PI_INDEX && a[i].index != b[i].index) {
            return false;
        }
    }
    return true;
}

/* ---- extracting a slot's values ----------------------------------------- */

/* What an extraction does with each value of a slot. */
typedef enum apply_mode {
    AM_ADD = 0, /* put it in the index */
    AM_REMOVE,  /* take it out */
    AM_COLLECT, /* append tree keys to the set's scratch (bulk builds) */
    AM_PROBE,   /* only note whether the slot has a value */
} apply_mode;

typedef struct apply_ctx {
    qvi_pindex_set *set;
    qvi_pindex *ix;
    const qvi_payload_ops *ops;
    uint32_t slot;
    apply_mode mode;
    bool failed; /* out of memory (add or collect) */
    bool any;    /* the slot has at least one value */
} apply_ctx;

static void apply_key(apply_ctx *a, int64_t hi, uint32_t lo)
{
    a->any = true;
    qvi_nkey k = {hi, lo, a->slot};
    qvi_pindex_set *s = a->set;
    switch (a->mode) {
    case AM_ADD:
        if (qvi_ntree_add(&a->ix->tree, &k) < 0)
            a->failed = true;
        break;
    case AM_REMOVE:
        qvi_ntree_remove(&a->ix->tree, &k);
        break;
    case AM_COLLECT:
        if (s->n_keys == s->cap_keys) {
            size_t ncap = s->cap_keys ? s->cap_keys * 2 : 1024;
            qvi_nkey *nk = realloc(s->keys, ncap * sizeof(*nk));
            if (!nk) {
                a->failed = true;
                return;
            }
            s->keys = nk;
            s->cap_keys = ncap;
        }
        s->keys[s->n_keys++] = k;
        break;
    default:
        break;
    }
}

static void apply_bytes(apply_ctx *a, const void *b, size_t n)
{
    a->any = true;
    if (a->mode == AM_REMOVE)
        qvi_vmap_remove(&a->ix->map, b, n, a->slot);
    else if (a->mode == AM_ADD && qvi_vmap_add(&a->ix->map, b, n, a->slot) < 0)
        a->failed = true;
}

/* One token of the index's pipeline (already in its indexed form). */
static bool apply_token(void *ctx, const char *t, size_t n)
{
    apply_ctx *a = ctx;
    apply_bytes(a, t, n);
    return a->failed;
}

bool qvi_uuid_key(const char *s, size_t len, uint8_t out[16])
{
    char buf[48];
    qv_point_id id;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (qv_id_parse_uuid(buf, &id) != QV_OK)
        return false;
    memcpy(out, id.u.uuid, 16);
    return true;
}

/* One value a condition can look at (a value at the key, or an element of
 * one that is an array). */
static void apply_leaf(apply_ctx *a, qvi_pval v)
{
    const qvi_payload_ops *ops = a->ops;
    qvi_ptype t = ops->type(v);
    size_t len;
    const char *s;
    qvi_datetime dt;
    uint8_t u[16];
    switch (a->ix->kind) {
    case QV_INDEX_KEYWORD:
        if (t == QVI_PT_STRING) {
            s = ops->string(v, &len);
            apply_bytes(a, s, len);
        }
        break;
    case QV_INDEX_UUID:
        if (t == QVI_PT_STRING) {
            s = ops->string(v, &len);
            if (qvi_uuid_key(s, len, u))
                apply_bytes(a, u, 16);
        }
        break;
    case QV_INDEX_TEXT:
        if (t == QVI_PT_STRING) {
            a->any = true;
            s = ops->string(v, &len);
            if (a->mode == AM_ADD || a->mode == AM_REMOVE)
                if (qvi_text_analyze(a->ix->text, false, s, len, apply_token,
                                     a) != QV_OK)
                    a->failed = true;
        }
        break;
    case QV_INDEX_INTEGER:
    case QV_INDEX_FLOAT:
        if (t == QVI_PT_NUMBER) {
            /* Exactly, as written (pindex_num.c): 2^53 + 1 is not 2^53. */
            qv_number n = {0};
            int64_t hi, i;
            uint64_t u;
            double d;
            uint32_t lo;
            switch (qvi_payload_blob_num(v, &i, &u, &d)) {
            case QVI_JNUM_INT:
                n.kind = QV_NUM_INT;
                n.v.i = i;
                break;
            case QVI_JNUM_UINT:
                n.kind = QV_NUM_UINT;
                n.v.u = u;
                break;
            default:
                n.kind = QV_NUM_DOUBLE;
                n.v.d = d;
                break;
            }
            qvi_number_key(&n, &hi, &lo);
            apply_key(a, hi, lo);
        }
        break;
    case QV_INDEX_DATETIME:
        if (t == QVI_PT_STRING) {
            s = ops->string(v, &len);
            if (qvi_datetime_parse(s, len, &dt))
                apply_key(a, dt.sec, (uint32_t)dt.nsec);
        }
        break;
    case QV_INDEX_GEO:
        if (t == QVI_PT_OBJECT) {
            qvi_pval lo = ops->get(v, "lon", 3), la = ops->get(v, "lat", 3);
            if (lo && la && ops->type(lo) == QVI_PT_NUMBER &&
                ops->type(la) == QVI_PT_NUMBER)
                apply_key(a, qvi_double_key(ops->number(la)), 0);
        }
        break;
    case QV_INDEX_BOOL:
        if (t == QVI_PT_BOOL) {
            a->any = true;
            qvi_posting *p = &a->ix->bools[ops->boolean(v) ? 1 : 0];
            if (a->mode == AM_REMOVE)
                qvi_posting_remove(p, a->slot);
            else if (a->mode == AM_ADD && qvi_posting_add(p, a->slot) < 0)
                a->failed = true;
        }
        break;
    default:
        break;
    }
}

static bool visit_value(void *ctx, qvi_pval v)
{
    apply_ctx *a = ctx;
    if (a->ops->type(v) == QVI_PT_ARRAY) {
        for (qvi_pval x = a->ops->first(v); x && !a->failed;
             x = a->ops->next(v, x))
            apply_leaf(a, x);
    } else {
        apply_leaf(a, v);
    }
    return a->failed;
}

/* Runs mode over the values of slot, whose payload is blob (NULL: none,
 * a damaged blob), in ix.  Returns whether the slot has a value (*any) and
 * false when out of memory (after which an index being added to is
 * inconsistent). */
static bool apply_slot(qvi_pindex_set *s, qvi_pindex *ix, const uint8_t *blob,
                       uint32_t slot, apply_mode mode, bool *any)
{
    apply_ctx a = {.set = s,
                   .ix = ix,
                   .ops = &qvi_payload_blob_ops,
                   .slot = slot,
                   .mode = mode};
    if (blob)
        qvi_path_visit(a.ops, blob, ix->items, ix->n_items, ix->pool,
                       visit_value, &a);
    *any = a.any;
    return !a.failed;
}

/* Adds or removes slot in ix, keeping the point count.  False when an add
 * ran out of memory. */
static bool update_slot(qvi_pindex_set *s, qvi_pindex *ix, const uint8_t *blob,
                        uint32_t slot, bool add)
{
    bool any;
    if (!apply_slot(s, ix, blob, slot, add ? AM_ADD : AM_REMOVE, &any))
        return false;
    if (any && add)
        ix->points++;
    else if (any)
        ix->points--;
    return true;
}

/* ---- building ----------------------------------------------------------- */

static int cmp_nkey(const void *a, const void *b)
{
    return qvi_nkey_cmp(a, b);
}

/* Builds a tree index in bulk: every key gathered, sorted, deduplicated
 * and laid out in chunks at once, instead of one insert per key. */
static qv_status build_tree(qvi_pindex_set *s, qvi_pindex *ix,
                            const qvi_pindex_source *src)
{
    qv_status st = QV_OK;
    uint64_t points = 0;
    s->n_keys = 0;
    for (uint32_t slot = 0; slot < src->used && st == QV_OK; slot++) {
        bool any;
        if (!src->live[slot])
            continue;
        if (!apply_slot(s, ix, src->blob(src->ctx, slot), slot, AM_COLLECT,
                        &any))
            st = QV_ENOMEM;
        points += any;
    }
    if (st == QV_OK && s->n_keys) {
        qsort(s->keys, s->n_keys, sizeof(*s->keys), cmp_nkey);
        size_t u = 0;
        for (size_t i = 0; i < s->n_keys; i++) {
            if (u == 0 || qvi_nkey_cmp(&s->keys[u - 1], &s->keys[i]) != 0)
                s->keys[u++] = s->keys[i];
        }
        st = qvi_ntree_build(&ix->tree, s->keys, u);
    } else if (st == QV_OK) {
        qvi_ntree_free(&ix->tree);
    }
    if (st == QV_OK)
        ix->points = points;
    /* The scratch can be as large as the index: give it back. */
    free(s->keys);
    s->keys = NULL;
    s->n_keys = s->cap_keys = 0;
    return st;
}

qv_status qvi_pindex_build(qvi_pindex_set *s, qvi_pindex *ix,
                           const qvi_pindex_source *src)
{
    free_structures(ix);
    ix->stale = true;
    qv_status st = QV_OK;
    if (uses_tree(ix->kind)) {
        st = build_tree(s, ix, src);
    } else {
        for (uint32_t slot = 0; slot < src->used && st == QV_OK; slot++) {
            if (src->live[slot] &&
                !update_slot(s, ix, src->blob(src->ctx, slot), slot, true))
                st = QV_ENOMEM;
        }
    }
    if (st != QV_OK) {
        free_structures(ix);
        return st;
    }
    ix->stale = false;
    return QV_OK;
}

uint64_t qvi_pindex_count_points(const qvi_pindex *ix,
                                 const qvi_pindex_source *src)
{
    /* Probing touches neither the scratch nor the index. */
    qvi_pindex_set scratch = {0};
    uint64_t n = 0;
    for (uint32_t slot = 0; slot < src->used; slot++) {
        bool any;
        if (src->live[slot] &&
            apply_slot(&scratch, (qvi_pindex *)ix, src->blob(src->ctx, slot),
                       slot, AM_PROBE, &any))
            n += any;
    }
    return n;
}

uint64_t qvi_pindex_bytes(const qvi_pindex *ix)
{
    return qvi_vmap_bytes(&ix->map) + qvi_ntree_bytes(&ix->tree) +
           qvi_posting_bytes(&ix->bools[0]) + qvi_posting_bytes(&ix->bools[1]);
}

/* ---- the set of indexes ------------------------------------------------- */

static void count_stale(qvi_pindex_set *s)
{
    s->n_stale = 0;
    for (uint32_t i = 0; i < s->n; i++)
        s->n_stale += s->v[i]->stale;
}

void qvi_pindex_set_free(qvi_pindex_set *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        qvi_pindex_free(s->v[i]);
    free(s->v);
    free(s->keys);
    free(s);
}

int qvi_pindex_set_index_of(const qvi_pindex_set *s, const qvi_pindex *like)
{
    for (uint32_t i = 0; s && i < s->n; i++) {
        const qvi_pindex *ix = s->v[i];
        if (same_path(ix->items, ix->n_items, ix->pool, like->items,
                      like->n_items, like->pool))
            return (int)i;
    }
    return -1;
}

const qvi_pindex *qvi_pindex_set_find(const qvi_pindex_set *s,
                                      const qvi_path_item *items,
                                      uint32_t n_items, const char *pool)
{
    for (uint32_t i = 0; s && i < s->n; i++) {
        const qvi_pindex *ix = s->v[i];
        if (same_path(ix->items, ix->n_items, ix->pool, items, n_items, pool))
            return ix;
    }
    return NULL;
}

qv_status qvi_pindex_set_put(qvi_pindex_set *s, qvi_pindex *ix)
{
    int at = qvi_pindex_set_index_of(s, ix);
    if (at >= 0) {
        qvi_pindex_free(s->v[at]);
        s->v[at] = ix;
    } else {
        if (s->n == s->cap) {
            uint32_t ncap = s->cap ? s->cap * 2 : 4;
            qvi_pindex **v = realloc(s->v, ncap * sizeof(*v));
            if (!v) {
                qvi_pindex_free(ix);
                return QV_ENOMEM;
            }
            s->v = v;
            s->cap = ncap;
        }
        s->v[s->n++] = ix;
    }
    count_stale(s);
    return QV_OK;
}

void qvi_pindex_set_remove(qvi_pindex_set *s, uint32_t at)
{
    qvi_pindex_free(s->v[at]);
    memmove(s->v + at, s->v + at + 1, (s->n - at - 1) * sizeof(*s->v));
    s->n--;
    count_stale(s);
}

qv_status qvi_pindex_set_rebuild(qvi_pindex_set *s, bool only_stale,
                                 const qvi_pindex_source *src)
{
    qv_status st = QV_OK;
    for (uint32_t i = 0; s && i < s->n; i++) {
        if (only_stale && !s->v[i]->stale)
            continue;
        if (qvi_pindex_build(s, s->v[i], src) != QV_OK)
            st = QV_ENOMEM;
    }
    if (s)
        count_stale(s);
    return st;
}

/* ---- write hooks -------------------------------------------------------- */

/* When stale indexes are next rebuilt: after 1/8 of the points (and 64
 * more, for small collections) have been written, so that a collection
 * short of memory does not rebuild on every write. */
static void retry_later(qvi_pindex_set *s, uint64_t count)
{
    s->retry_at = s->writes + count / 8 + 64;
}

static void make_stale(qvi_pindex_set *s, qvi_pindex *ix, uint64_t count)
{
    free_structures(ix);
    ix->stale = true;
    s->n_stale++;
    retry_later(s, count);
}

void qvi_pindex_set_remove_slot(qvi_pindex_set *s, const uint8_t *blob,
                                uint32_t slot)
{
    if (!s || s->n == 0)
        return;
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->v[i]->stale)
            update_slot(s, s->v[i], blob, slot, false);
    }
}

void qvi_pindex_set_add_slot(qvi_pindex_set *s, const uint8_t *blob,
                             uint32_t slot, const qvi_pindex_source *src)
{
    if (!s || s->n == 0)
        return;
    s->writes++;
    for (uint32_t i = 0; i < s->n; i++) {
        qvi_pindex *ix = s->v[i];
        if (!ix->stale && !update_slot(s, ix, blob, slot, true))
            make_stale(s, ix, src->count);
    }
    if (s->n_stale && s->writes >= s->retry_at) {
        if (qvi_pindex_set_rebuild(s, true, src) != QV_OK)
            retry_later(s, src->count);
    }
}
