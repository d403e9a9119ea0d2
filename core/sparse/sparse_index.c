/*
 * sparse_index.c -- stored sparse vectors and their inverted index.
 *
 * Rows: one qvi_sparse_row per slot, its indices strictly ascending (rows
 * are sorted when made, so scoring can merge two rows and the postings can
 * be updated dimension by dimension).
 *
 * Postings: for every dimension ever stored, the slots holding it in
 * ascending order with their values, as Qdrant's inverted index keeps
 * posting lists sorted by point offset.  A dimension's list is found
 * through an open-addressing table (linear probing, load <= 1/2) keyed by
 * the dimension.  Sorted lists make an update a binary search plus a
 * memmove; bulk loads in slot order only append.  A list emptied by
 * deletes stays (with n 0): dimensions are few next to postings.
 *
 * Datatypes: posting values are float32, float16 or Qdrant's per-list
 * QuantizedU8 (sparse.h); the rows keep the float32 originals, from which
 * a uint8 list is re-encoded whenever an insert widens or a delete
 * narrows its range (an extreme value comes or goes: for values in random
 * order that is rare, O(1) amortised), so a list always equals a fresh
 * build over the current rows.
 *
 * Failure: set and clear never fail.  If a list cannot grow, the index is
 * marked stale: searches then scan the rows (same answers, see
 * sparse_search.c) and the collection rebuilds it at a later write.
 */
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qvi_sparse_init(qvi_sparse *s)
{
    memset(s, 0, sizeof(*s));
}

bool qvi_sparse_borrowed(const qvi_sparse *s, const void *p)
{
    return s->borrow_len &&
           (uintptr_t)p - (uintptr_t)s->borrow_lo < s->borrow_len;
}

/* free() unless borrowed. */
static void release(const qvi_sparse *s, void *p)
{
    if (!qvi_sparse_borrowed(s, p))
        free(p);
}

static void lists_free(qvi_sparse *s)
{
    for (uint32_t i = 0; i < s->n_lists; i++) {
        release(s, s->lists[i].slots);
        release(s, s->lists[i].vals);
    }
    free(s->lists);
    free(s->tab);
    s->lists = NULL;
    s->tab = NULL;
    s->n_lists = s->lists_cap = s->tab_cap = 0;
}

/* Frees a row of s (a borrowed one is only forgotten). */
static void row_drop(const qvi_sparse *s, qvi_sparse_row *r)
{
    release(s, r->idx);
    release(s, r->val);
    r->idx = NULL;
    r->val = NULL;
    r->nnz = 0;
}

void qvi_sparse_free(qvi_sparse *s)
{
    for (uint32_t i = 0; i < s->cap; i++)
        row_drop(s, &s->rows[i]);
    free(s->rows);
    lists_free(s);
    qvi_sparse_init(s);
}

void qvi_sparse_row_free(qvi_sparse_row *r)
{
    free(r->idx);
    free(r->val);
    r->idx = NULL;
    r->val = NULL;
    r->nnz = 0;
}

qv_status qvi_sparse_reserve(qvi_sparse *s, uint32_t cap)
{
    if (cap <= s->cap)
        return QV_OK;
    qvi_sparse_row *rows = realloc(s->rows, (size_t)cap * sizeof(*rows));
    if (!rows)
        return QV_ENOMEM;
    memset(rows + s->cap, 0, (size_t)(cap - s->cap) * sizeof(*rows));
    s->rows = rows;
    s->cap = cap;
    return QV_OK;
}

/* ---- rows ---------------------------------------------------------------- */

typedef struct pair {
    uint32_t idx;
    float val;
} pair;

static int cmp_pair(const void *a, const void *b)
{
    uint32_t x = ((const pair *)a)->idx, y = ((const pair *)b)->idx;
    return (x > y) - (x < y);
}

qv_status qvi_sparse_row_make(const uint32_t *idx, const float *val,
                              uint32_t nnz, qvi_sparse_row *out, char *err,
                              size_t errcap)
{
    memset(out, 0, sizeof(*out));
    if (nnz == 0)
        return QV_OK;
    pair *p = malloc((size_t)nnz * sizeof(*p));
    out->idx = malloc((size_t)nnz * sizeof(uint32_t));
    out->val = malloc((size_t)nnz * sizeof(float));
    qv_status st = QV_OK;
    if (!p || !out->idx || !out->val) {
        st = QV_ENOMEM;
        if (err)
            snprintf(err, errcap, "cannot allocate a sparse vector of %u", nnz);
        goto cleanup;
    }
    for (uint32_t i = 0; i < nnz; i++)
        p[i] = (pair){idx[i], val[i]};
    qsort(p, nnz, sizeof(*p), cmp_pair);
    for (uint32_t i = 0; i < nnz; i++) {
        if (i > 0 && p[i].idx == p[i - 1].idx) {
            st = QV_EINVAL;
            if (err)
                snprintf(err, errcap, "indices must be unique (%u repeats)",
                         p[i].idx);
            goto cleanup;
        }
        out->idx[i] = p[i].idx;
        out->val[i] = p[i].val;
    }
    out->nnz = nnz;
cleanup:
    free(p);
    if (st != QV_OK)
        qvi_sparse_row_free(out);
    return st;
}

/* ---- the dimension table ------------------------------------------------- */

static uint32_t hash_dim(uint32_t d)
{
    uint64_t h = (uint64_t)d * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

static qvi_sparse_posting *find_list(const qvi_sparse *s, uint32_t dim)
{
    if (!s->tab_cap)
        return NULL;
    uint32_t mask = s->tab_cap - 1;
    for (uint32_t b = hash_dim(dim) & mask;; b = (b + 1) & mask) {
        uint32_t v = s->tab[b];
        if (v == 0)
            return NULL;
        if (s->lists[v - 1].dim == dim)
            return &s->lists[v - 1];
    }
}

static void tab_put(uint32_t *tab, uint32_t cap, uint32_t dim, uint32_t v)
{
    uint32_t mask = cap - 1;
    uint32_t b = hash_dim(dim) & mask;
    while (tab[b])
        b = (b + 1) & mask;
    tab[b] = v;
}

/* The list of dim, made empty when absent; NULL when out of memory. */
static qvi_sparse_posting *get_list(qvi_sparse *s, uint32_t dim)
{
    qvi_sparse_posting *l = find_list(s, dim);
    if (l)
        return l;
    if ((uint64_t)(s->n_lists + 1) * 2 > s->tab_cap) {
        uint32_t cap = s->tab_cap ? s->tab_cap * 2 : 64;
        uint32_t *tab = calloc(cap, sizeof(*tab));
        if (!tab)
            return NULL;
        for (uint32_t i = 0; i < s->n_lists; i++)
            tab_put(tab, cap, s->lists[i].dim, i + 1);
        free(s->tab);
        s->tab = tab;
        s->tab_cap = cap;
    }
    if (s->n_lists == s->lists_cap) {
        uint32_t cap = s->lists_cap ? s->lists_cap * 2 : 64;
        qvi_sparse_posting *lists =
            realloc(s->lists, (size_t)cap * sizeof(*lists));
        if (!lists)
            return NULL;
        s->lists = lists;
        s->lists_cap = cap;
    }
    l = &s->lists[s->n_lists++];
    memset(l, 0, sizeof(*l));
    l->dim = dim;
    tab_put(s->tab, s->tab_cap, dim, s->n_lists);
    return l;
}

/* ---- posting values in the index's datatype -------------------------------
 *
 * Qdrant 1.19 types the weights of its inverted index by the sparse
 * vector's `index.datatype` (lib/segment/src/index/sparse_index/
 * sparse_index_config.rs; the index is opened as F32, F16 or U8 by
 * segment_constructor), while its vector storage keeps the float32
 * vectors, which retrieve returns.  float16 is `f16::from_f32` (nearest,
 * ties to even); uint8 is QuantizedU8 (lib/sparse/src/common/types.rs):
 * per posting list, min and diff256 = (max - min) / 255 in f32,
 * round((v - min) / diff256) clamped to 0..255 (a NaN from 0 / 0, when
 * the list holds one distinct value, gives 0), read back as min + q *
 * diff256 in f32.  The arithmetic below is that, in f32, step by step (a
 * product is rounded to float before the sum, so no fused multiply-add
 * can change a bit). */

static size_t elem_size(uint32_t dt)
{
    return dt == QV_DATATYPE_FLOAT16 ? 2 : dt == QV_DATATYPE_UINT8 ? 1 : 4;
}

size_t qvi_sparse_value_size(uint32_t dt)
{
    return elem_size(dt);
}

/* The float equal to half h (exact), here rather than through
 * qvi_half_value so that the float16 walk inlines it (a call per posting
 * cost the walk two thirds of its speed); tests check it against
 * qvi_half_value for all 65,536 halves. */
static inline float half_value(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0x1fu) {
        x = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        x = sign | ((exp + 112u) << 23) | (man << 13);
    } else {
        /* zero or subnormal: man * 2^-24, exact in a float */
        float f = (float)man * 0x1p-24f;
        memcpy(&x, &f, 4);
        x |= sign;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

float qvi_sparse_half_value(uint16_t h)
{
    return half_value(h);
}

static float u8_step(float lo, float hi)
{
    return (hi - lo) / 255.0f;
}

static uint8_t u8_encode(float v, float lo, float step)
{
    float q = roundf((v - lo) / step);
    if (!(q >= 0.0f)) /* negative, or NaN (0 / 0) */
        return 0;
    return q > 255.0f ? 255 : (uint8_t)q;
}

static float u8_decode(uint8_t q, float lo, float step)
{
    float p = (float)((double)q * (double)step); /* f32 product */
    return (float)((double)lo + (double)p);      /* f32 sum */
}

float qvi_sparse_typed(uint32_t dt, float v, float lo, float hi)
{
    if (dt == QV_DATATYPE_FLOAT16)
        return half_value(qvi_half_bits(v));
    if (dt == QV_DATATYPE_UINT8) {
        float step = u8_step(lo, hi);
        return u8_decode(u8_encode(v, lo, step), lo, step);
    }
    return v;
}

static void post_put(uint32_t dt, qvi_sparse_posting *l, uint32_t i, float v)
{
    if (dt == QV_DATATYPE_FLOAT16)
        ((uint16_t *)l->vals)[i] = qvi_half_bits(v);
    else if (dt == QV_DATATYPE_UINT8)
        ((uint8_t *)l->vals)[i] =
            u8_encode(v, l->vmin, u8_step(l->vmin, l->vmax));
    else
        ((float *)l->vals)[i] = v;
}

/* The original value slot's row holds for dim (the row holds it: the
 * postings mirror the rows). */
static float row_value(const qvi_sparse *s, uint32_t slot, uint32_t dim)
{
    const qvi_sparse_row *r = &s->rows[slot];
    uint32_t lo = 0, hi = r->nnz;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->idx[mid] < dim)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nnz && r->idx[lo] == dim ? r->val[lo] : 0.0f;
}

/* uint8: recomputes the list's range from the originals and re-encodes
 * every posting (what a fresh build of the list gives). */
static void u8_requantize(const qvi_sparse *s, qvi_sparse_posting *l)
{
    if (l->n == 0)
        return;
    float lo = row_value(s, l->slots[0], l->dim), hi = lo;
    for (uint32_t i = 1; i < l->n; i++) {
        float v = row_value(s, l->slots[i], l->dim);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    l->vmin = lo;
    l->vmax = hi;
    for (uint32_t i = 0; i < l->n; i++)
        post_put(QV_DATATYPE_UINT8, l, i, row_value(s, l->slots[i], l->dim));
}

float qvi_sparse_scored_value(const qvi_sparse *s, uint32_t dim, float v)
{
    if (s->stale || s->datatype == QV_DATATYPE_FLOAT32)
        return v;
    if (s->datatype == QV_DATATYPE_FLOAT16)
        return half_value(qvi_half_bits(v));
    const qvi_sparse_posting *l = find_list(s, dim);
    return l && l->n ? qvi_sparse_typed(QV_DATATYPE_UINT8, v, l->vmin, l->vmax)
                     : v;
}

/* First position in l whose slot is >= slot. */
static uint32_t lower_bound(const qvi_sparse_posting *l, uint32_t slot)
{
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->slots[mid] < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds (slot, v) to dim's list; slot's row already holds v for dim. */
static bool list_insert(qvi_sparse *s, uint32_t dim, uint32_t slot, float v)
{
    qvi_sparse_posting *l = get_list(s, dim);
    if (!l)
        return false;
    size_t es = elem_size(s->datatype);
    if (l->n == l->cap &&
        (qvi_sparse_borrowed(s, l->slots) || qvi_sparse_borrowed(s, l->vals))) {
        /* A list lent by a snapshot is copied out before it grows. */
        uint32_t cap = l->cap + l->cap / 2 + 4;
        uint32_t *slots = malloc((size_t)cap * sizeof(*slots));
        void *vals = malloc((size_t)cap * es);
        if (!slots || !vals) {
            free(slots);
            free(vals);
            return false;
        }
        memcpy(slots, l->slots, (size_t)l->n * sizeof(*slots));
        memcpy(vals, l->vals, (size_t)l->n * es);
        release(s, l->slots);
        release(s, l->vals);
        l->slots = slots;
        l->vals = vals;
        l->cap = cap;
    } else if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap + l->cap / 2 + 1 : 4;
        uint32_t *slots = realloc(l->slots, (size_t)cap * sizeof(*slots));
        if (!slots)
            return false;
        l->slots = slots;
        void *vals = realloc(l->vals, (size_t)cap * es);
        if (!vals)
            return false;
        l->vals = vals;
        l->cap = cap;
    }
    bool widen = false;
    if (s->datatype == QV_DATATYPE_UINT8) {
        if (l->n == 0) {
            l->vmin = l->vmax = v;
        } else if (v < l->vmin || v > l->vmax) {
            widen = true;
        }
    }
    uint8_t *vals = l->vals;
    uint32_t at = lower_bound(l, slot);
    if (at < l->n && l->slots[at] == slot) {
        post_put(s->datatype, l, at, v);
    } else {
        memmove(l->slots + at + 1, l->slots + at,
                (size_t)(l->n - at) * sizeof(uint32_t));
        memmove(vals + (at + 1) * es, vals + at * es, (size_t)(l->n - at) * es);
        l->slots[at] = slot;
        l->n++;
        if (!widen)
            post_put(s->datatype, l, at, v);
    }
    if (widen)
        u8_requantize(s, l);
    return true;
}

/* Removes slot (whose original value for dim was v) from dim's list. */
static void list_remove(qvi_sparse *s, uint32_t dim, uint32_t slot, float v)
{
    qvi_sparse_posting *l = find_list(s, dim);
    if (!l)
        return;
    uint32_t at = lower_bound(l, slot);
    if (at >= l->n || l->slots[at] != slot)
        return;
    size_t es = elem_size(s->datatype);
    uint8_t *vals = l->vals;
    memmove(l->slots + at, l->slots + at + 1,
            (size_t)(l->n - at - 1) * sizeof(uint32_t));
    memmove(vals + at * es, vals + (at + 1) * es, (size_t)(l->n - at - 1) * es);
    l->n--;
    /* The range shrinks only when an extreme went. */
    if (s->datatype == QV_DATATYPE_UINT8 && (v <= l->vmin || v >= l->vmax))
        u8_requantize(s, l);
}

/* ---- updates ------------------------------------------------------------- */

void qvi_sparse_clear(qvi_sparse *s, uint32_t slot)
{
    if (slot >= s->cap || s->rows[slot].nnz == 0)
        return;
    qvi_sparse_row *r = &s->rows[slot];
    if (!s->stale) {
        for (uint32_t i = 0; i < r->nnz; i++)
            list_remove(s, r->idx[i], slot, r->val[i]);
    }
    s->n_vectors--;
    s->nnz_total -= r->nnz;
    row_drop(s, r);
}

void qvi_sparse_set(qvi_sparse *s, uint32_t slot, qvi_sparse_row *row)
{
    qvi_sparse_clear(s, slot);
    if (row->nnz == 0) {
        qvi_sparse_row_free(row);
        return;
    }
    s->rows[slot] = *row;
    memset(row, 0, sizeof(*row));
    s->n_vectors++;
    s->nnz_total += s->rows[slot].nnz;
    const qvi_sparse_row *r = &s->rows[slot];
    for (uint32_t i = 0; i < r->nnz && !s->stale; i++) {
        if (!list_insert(s, r->idx[i], slot, r->val[i]))
            s->stale = true;
    }
}

qv_status qvi_sparse_adopt_lists(qvi_sparse *s, qvi_sparse_posting *lists,
                                 uint32_t n)
{
    uint32_t cap = 64;
    while ((uint64_t)cap < (uint64_t)n * 2)
        cap *= 2;
    uint32_t *tab = calloc(cap, sizeof(*tab));
    if (!tab) {
        for (uint32_t i = 0; i < n; i++) {
            release(s, lists[i].slots);
            release(s, lists[i].vals);
        }
        free(lists);
        return QV_ENOMEM;
    }
    s->lists = lists;
    s->n_lists = s->lists_cap = n;
    s->tab = tab;
    s->tab_cap = cap;
    for (uint32_t i = 0; i < n; i++) {
        if (find_list(s, lists[i].dim)) {
            lists_free(s);
            return QV_EINVAL;
        }
        tab_put(tab, cap, lists[i].dim, i + 1);
    }
    return QV_OK;
}

/* The posting value i of l as its bits, for exact comparison. */
static uint32_t stored_bits(uint32_t dt, const qvi_sparse_posting *l,
                            uint32_t i)
{
    if (dt == QV_DATATYPE_FLOAT16)
        return ((const uint16_t *)l->vals)[i];
    if (dt == QV_DATATYPE_UINT8)
        return ((const uint8_t *)l->vals)[i];
    uint32_t b;
    memcpy(&b, (const float *)l->vals + i, 4);
    return b;
}

/* The bits the posting of original value v would hold in l. */
static uint32_t expected_bits(uint32_t dt, const qvi_sparse_posting *l, float v)
{
    if (dt == QV_DATATYPE_FLOAT16)
        return qvi_half_bits(v);
    if (dt == QV_DATATYPE_UINT8)
        return u8_encode(v, l->vmin, u8_step(l->vmin, l->vmax));
    uint32_t b;
    memcpy(&b, &v, 4);
    return b;
}

bool qvi_sparse_mirrors_rows(const qvi_sparse *s, uint32_t n_slots)
{
    size_t nl = s->n_lists ? s->n_lists : 1;
    uint32_t *cur = calloc(nl, sizeof(*cur));
    float *lo = malloc(nl * sizeof(*lo)), *hi = malloc(nl * sizeof(*hi));
    bool ok = cur && lo && hi, u8 = s->datatype == QV_DATATYPE_UINT8;
    for (uint32_t slot = 0; ok && slot < n_slots && slot < s->cap; slot++) {
        const qvi_sparse_row *r = &s->rows[slot];
        for (uint32_t i = 0; ok && i < r->nnz; i++) {
            const qvi_sparse_posting *l = find_list(s, r->idx[i]);
            uint32_t k = l ? (uint32_t)(l - s->lists) : 0;
            ok = l && cur[k] < l->n && l->slots[cur[k]] == slot &&
                 stored_bits(s->datatype, l, cur[k]) ==
                     expected_bits(s->datatype, l, r->val[i]);
            if (!ok)
                break;
            float v = r->val[i];
            lo[k] = cur[k] == 0 || v < lo[k] ? v : lo[k];
            hi[k] = cur[k] == 0 || v > hi[k] ? v : hi[k];
            cur[k]++;
        }
    }
    /* every posting seen, and a uint8 list's range that of its values */
    for (uint32_t k = 0; ok && k < s->n_lists; k++)
        ok = cur[k] == s->lists[k].n &&
             (!u8 || !cur[k] ||
              (lo[k] == s->lists[k].vmin && hi[k] == s->lists[k].vmax));
    free(cur);
    free(lo);
    free(hi);
    return ok;
}

/* Builds the lists of slots [0, n_slots) into s, whose lists are empty. */
static qv_status build_lists(qvi_sparse *s, uint32_t n_slots)
{
    for (uint32_t slot = 0; slot < n_slots && slot < s->cap; slot++) {
        const qvi_sparse_row *r = &s->rows[slot];
        for (uint32_t i = 0; i < r->nnz; i++) {
            if (!list_insert(s, r->idx[i], slot, r->val[i]))
                return QV_ENOMEM;
        }
    }
    return QV_OK;
}

qv_status qvi_sparse_rebuild(qvi_sparse *s, uint32_t n_slots)
{
    lists_free(s);
    s->stale = false;
    if (build_lists(s, n_slots) != QV_OK) {
        s->stale = true;
        return QV_ENOMEM;
    }
    return QV_OK;
}

qv_status qvi_sparse_build_lists(const qvi_sparse *s, uint32_t dt,
                                 uint32_t n_slots, qvi_sparse *out)
{
    qvi_sparse_init(out);
    out->rows = s->rows; /* borrowed: read only, never freed through out */
    out->cap = s->cap;
    out->datatype = dt;
    if (build_lists(out, n_slots) != QV_OK) {
        lists_free(out);
        qvi_sparse_init(out);
        return QV_ENOMEM;
    }
    return QV_OK;
}

void qvi_sparse_take_lists(qvi_sparse *s, qvi_sparse *built)
{
    lists_free(s);
    s->lists = built->lists;
    s->n_lists = built->n_lists;
    s->lists_cap = built->lists_cap;
    s->tab = built->tab;
    s->tab_cap = built->tab_cap;
    s->datatype = built->datatype;
    s->stale = false;
    qvi_sparse_init(built);
}

void qvi_sparse_drop_lists(qvi_sparse *built)
{
    lists_free(built);
    qvi_sparse_init(built);
}

/* A stale index counts the rows instead (rare: after an allocation
 * failure, until the next write rebuilds the lists). */
uint32_t qvi_sparse_df(const qvi_sparse *s, uint32_t dim)
{
    if (!s->stale) {
        const qvi_sparse_posting *l = find_list(s, dim);
        return l ? l->n : 0;
    }
    uint32_t df = 0;
    for (uint32_t slot = 0; slot < s->cap; slot++) {
        const qvi_sparse_row *r = &s->rows[slot];
        for (uint32_t i = 0; i < r->nnz && r->idx[i] <= dim; i++)
            df += r->idx[i] == dim;
    }
    return df;
}

size_t qvi_sparse_posting_bytes(const qvi_sparse *s)
{
    size_t b = (size_t)s->tab_cap * sizeof(uint32_t) +
               (size_t)s->lists_cap * sizeof(qvi_sparse_posting);
    for (uint32_t i = 0; i < s->n_lists; i++)
        b += (size_t)s->lists[i].cap *
             (sizeof(uint32_t) + elem_size(s->datatype));
    return b;
}

/* One loop per datatype, so the float32 walk stays as tight as before. */
#define WALK_LOOP(VALUE)                                                       \
    for (uint32_t i = 0; i < l->n; i++) {                                      \
        uint32_t slot = l->slots[i];                                           \
        if (slot >= n_slots)                                                   \
            continue;                                                          \
        sum[slot] += (double)qv * (double)(VALUE);                             \
        if (!hit[slot]) {                                                      \
            hit[slot] = 1;                                                     \
            touched[(*n_touched)++] = slot;                                    \
        }                                                                      \
    }

void qvi_sparse_posting_walk(const qvi_sparse *s, uint32_t dim, float qv,
                             double *sum, uint8_t *hit, uint32_t n_slots,
                             uint32_t *touched, size_t *n_touched)
{
    const qvi_sparse_posting *l = find_list(s, dim);
    if (!l)
        return;
    if (s->datatype == QV_DATATYPE_FLOAT16) {
        const uint16_t *v = l->vals;
        WALK_LOOP(half_value(v[i]))
    } else if (s->datatype == QV_DATATYPE_UINT8) {
        const uint8_t *v = l->vals;
        float step = u8_step(l->vmin, l->vmax);
        WALK_LOOP(u8_decode(v[i], l->vmin, step))
    } else {
        const float *v = l->vals;
        WALK_LOOP(v[i])
    }
}
