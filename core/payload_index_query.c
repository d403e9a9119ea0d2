/*
 * payload_index_query.c -- a filter prepared against a collection's
 * payload indexes: the candidate points, and the per-point check.
 *
 * Preparing walks the compiled filter once from its root and gives every
 * node a candidate set:
 *
 *   field condition   the union of its parts, each answered by the index
 *                     on the key when the index holds every value the
 *                     part can match (keyword: value / any; integer and
 *                     float: value / any / range; bool: value; datetime:
 *                     date-time range; text: text / text_any / phrase;
 *                     uuid: value / any of UUID strings, geo: radius /
 *                     box / polygon, as latitude bands);
 *   has_id            the slots of the ids, from the id map;
 *   must              the intersection of the children;
 *   should            the union of the children (all of them must have
 *                     sets); an empty should matches nothing;
 *   min_should        the union, exact only for min_count 1;
 *   must_not          the difference, for children whose set is exact;
 *   anything else     "every point" (is_empty, is_null, values_count,
 *                     nested, has_vector, slice, unindexed keys).
 *
 * Each set is flagged exact when it is exactly the node's matching points.
 * uuid (spellings differ: "ABC..." and "abc..." are one UUID but two
 * strings), phrase (tokens present, order unchecked), geo (bands) and
 * min_count > 1 give supersets; a superset anywhere makes the result a
 * superset, and the points in it are then checked one by one.  A result
 * that is exact needs no payload read at all: count is a popcount, scroll
 * and delete walk the bits, search uses the bitmap as its accept set.
 *
 * The candidate bitmap spans the collection's slots (c->used bits) and
 * never holds a deleted slot: postings lose a slot when its point is
 * deleted, and every other set operation is an intersection or a
 * difference of such sets (never a complement).
 *
 * The other half of preparing is full-text semantics: every text,
 * text_any or phrase condition on a key with a full-text index gets its
 * tokenized query, and the per-point check (qvi_fq_matches) answers it by
 * tokens through the filter's text_match hook (payload_index_text.c).
 *
 * A prepared filter is read-only once built, so concurrent searches may
 * share nothing but the collection's read lock.
 */
#include "core/payload_index.h"
#include "core/payload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO53 9007199254740992.0

/* A candidate set while preparing: all (no narrowing) or bits. */
typedef struct cset {
    uint64_t *bits; /* NULL: every live point */
    bool exact;
} cset;

typedef struct prep {
    qv_collection *c;
    const qvi_filter *f;
    qvi_fq *q;
    uint32_t nbits, words;
    bool oom;
} prep;

static cset all_set(bool exact)
{
    return (cset){NULL, exact};
}

static uint64_t *new_bits(prep *p)
{
    uint64_t *b = calloc(p->words ? p->words : 1, sizeof(uint64_t));
    if (!b)
        p->oom = true;
    return b;
}

static cset empty_set(prep *p)
{
    return (cset){new_bits(p), true};
}

static void set_free(cset *s)
{
    free(s->bits);
    s->bits = NULL;
}

/* a AND b, consuming both; words is the bitmap length. */
static cset set_and(cset a, cset b, uint32_t words)
{
    cset r = {NULL, a.exact && b.exact};
    if (!a.bits) {
        r.bits = b.bits;
        return r;
    }
    if (!b.bits) {
        r.bits = a.bits;
        return r;
    }
    for (uint32_t w = 0; w < words; w++)
        a.bits[w] &= b.bits[w];
    free(b.bits);
    r.bits = a.bits;
    return r;
}

/* a OR b, consuming both; words is the bitmap length. */
static cset set_or(cset a, cset b, uint32_t words)
{
    if (!a.bits || !b.bits) {
        /* Every point is a candidate; exact only if one side was all
         * points exactly. */
        bool exact = (!a.bits && a.exact) || (!b.bits && b.exact);
        set_free(&a);
        set_free(&b);
        return all_set(exact);
    }
    for (uint32_t w = 0; w < words; w++)
        a.bits[w] |= b.bits[w];
    free(b.bits);
    a.exact = a.exact && b.exact;
    return a;
}

/* ---- answering one field condition from its index ------------------------
 */

static void bits_from_posting(prep *p, const qvi_posting *post, uint64_t *bits)
{
    if (post)
        qvi_posting_or(post, bits, p->nbits);
}

static void set_slot(prep *p, uint64_t *bits, uint32_t s)
{
    if (s < p->nbits)
        bits[s / 64] |= 1ull << (s % 64);
}

/* Sets the bits of every tree key with hi in [lo_hi, hi_hi] whose value
 * passes ok(ctx, key). */
static void bits_from_tree(prep *p, const qvi_ntree *t, int64_t lo_hi,
                           int64_t hi_hi, bool (*ok)(const void *, qvi_nkey *),
                           const void *ctx, uint64_t *bits)
{
    qvi_nkey from = {lo_hi, 0, 0}, k;
    for (qvi_ncur cur = qvi_ntree_lower_bound(t, &from);
         qvi_ntree_at(t, cur, &k) && k.hi <= hi_hi; qvi_ntree_next(t, &cur)) {
        if (!ok || ok(ctx, &k))
            set_slot(p, bits, k.slot);
    }
}

static bool bound_holds(uint32_t bits, int b, int cmp)
{
    if (!(bits & (1u << b)))
        return true;
    switch (b) {
    case 0:
        return cmp > 0;
    case 1:
        return cmp >= 0;
    case 2:
        return cmp < 0;
    default:
        return cmp <= 0;
    }
}

static bool range_ok(const void *ctx, qvi_nkey *k)
{
    const qvi_ffield *fc = ctx;
    double x = qvi_key_double(k->hi);
    for (int b = 0; b < 4; b++) {
        double r = fc->r[b];
        if (!bound_holds(fc->rbits, b, (x > r) - (x < r)))
            return false;
    }
    return true;
}

static int cmp_dt(int64_t sec, uint32_t nsec, const qvi_datetime *d)
{
    if (sec != d->sec)
        return sec < d->sec ? -1 : 1;
    return ((int64_t)nsec > d->nsec) - ((int64_t)nsec < d->nsec);
}

static bool dtrange_ok(const void *ctx, qvi_nkey *k)
{
    const qvi_ffield *fc = ctx;
    for (int b = 0; b < 4; b++)
        if (!bound_holds(fc->dbits, b, cmp_dt(k->hi, k->lo, &fc->dt[b])))
            return false;
    return true;
}

/* The numeric range of fc (gt/gte/lt/lte) over the tree: exact. */
static void numeric_range(prep *p, const qvi_pindex *ix, const qvi_ffield *fc,
                          uint64_t *bits)
{
    double lo = -INFINITY, hi = INFINITY;
    if (fc->rbits & (QVI_B_GT | QVI_B_GTE))
        lo = fc->rbits & QVI_B_GT ? fc->r[0] : fc->r[1];
    if ((fc->rbits & QVI_B_GT) && (fc->rbits & QVI_B_GTE))
        lo = fmax(fc->r[0], fc->r[1]);
    if (fc->rbits & (QVI_B_LT | QVI_B_LTE))
        hi = fc->rbits & QVI_B_LT ? fc->r[2] : fc->r[3];
    if ((fc->rbits & QVI_B_LT) && (fc->rbits & QVI_B_LTE))
        hi = fmin(fc->r[2], fc->r[3]);
    if (!(lo <= hi))
        return;
    bits_from_tree(p, &ix->tree, qvi_double_key(lo), qvi_double_key(hi),
                   range_ok, fc, bits);
}

static void datetime_range(prep *p, const qvi_pindex *ix, const qvi_ffield *fc,
                           uint64_t *bits)
{
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    for (int b = 0; b < 2; b++)
        if (fc->dbits & (1u << b) && fc->dt[b].sec > lo)
            lo = fc->dt[b].sec;
    for (int b = 2; b < 4; b++)
        if (fc->dbits & (1u << b) && fc->dt[b].sec < hi)
            hi = fc->dt[b].sec;
    if (lo > hi)
        return;
    bits_from_tree(p, &ix->tree, lo, hi, dtrange_ok, fc, bits);
}

/* Latitude band [lo, hi] of the geo parts of fc: a superset. */
static void geo_band(prep *p, const qvi_pindex *ix, const qvi_ffield *fc,
                     uint64_t *bits)
{
    const qvi_fgeo *g = &p->f->geos[fc->geo];
    double lo = INFINITY, hi = -INFINITY;
    if (fc->parts & QVI_FP_GEO_RADIUS) {
        /* A great-circle path is at least as long as its meridian
         * component: distance >= R * |dlat|.  A small margin absorbs the
         * rounding of haversine. */
        double d = g->radius / 6371008.8 * (180.0 / M_PI) + 1e-6;
        lo = fmin(lo, g->lat0 - d);
        hi = fmax(hi, g->lat0 + d);
    }
    if (fc->parts & QVI_FP_GEO_BOX) {
        lo = fmin(lo, g->lat1);
        hi = fmax(hi, g->lat0);
    }
    if (fc->parts & QVI_FP_GEO_POLY) {
        const qvi_fring *r = &p->f->rings[g->ring_off];
        const double *pts = p->f->pts + r->pt_off;
        for (uint32_t i = 0; i < r->n_pts; i++) {
            lo = fmin(lo, pts[2 * i + 1]);
            hi = fmax(hi, pts[2 * i + 1]);
        }
    }
    if (!(lo <= hi))
        return;
    bits_from_tree(p, &ix->tree, qvi_double_key(lo), qvi_double_key(hi), NULL,
                   NULL, bits);
}

static bool uuid_of(const char *s, size_t len, uint8_t out[16])
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

/* Keyword or uuid lookups of fc's string operand(s).  False when the index
 * cannot answer (a uuid index and a string that is no UUID). */
static bool string_match(prep *p, const qvi_pindex *ix, const qvi_ffield *fc,
                         uint64_t *bits, bool *exact)
{
    const qvi_filter *f = p->f;
    uint32_t n = fc->match_kind == QVI_M_STR ? 1 : fc->set_n;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (fc->match_kind == QVI_M_STR) {
            s = f->pool + fc->str_off;
            len = fc->str_len;
        } else {
            s = f->pool + f->strs[fc->set_off + i].off;
            len = f->strs[fc->set_off + i].len;
        }
        if (ix->kind == QV_INDEX_KEYWORD) {
            bits_from_posting(p, qvi_vmap_find(&ix->map, s, len), bits);
            continue;
        }
        uint8_t u[16];
        if (!uuid_of(s, len, u))
            return false;
        bits_from_posting(p, qvi_vmap_find(&ix->map, u, 16), bits);
        *exact = false;
    }
    return true;
}

static void int_match(prep *p, const qvi_pindex *ix, int64_t v, uint64_t *bits)
{
    /* Payload integers are within 2^53: a larger operand matches none. */
    if (v > (int64_t)TWO53 || v < -(int64_t)TWO53)
        return;
    int64_t k = qvi_double_key((double)v);
    bits_from_tree(p, &ix->tree, k, k, NULL, NULL, bits);
}

/* Token postings: intersection for text / phrase, union for text_any. */
static void text_match(prep *p, const qvi_pindex *ix, const qvi_tq *tq,
                       uint64_t *bits)
{
    if (tq->n == 0)
        return;
    if (tq->kind == QVI_TQ_ANY) {
        for (uint32_t i = 0; i < tq->n; i++)
            bits_from_posting(
                p, qvi_vmap_find(&ix->map, tq->buf + tq->off[i], tq->len[i]),
                bits);
        return;
    }
    uint64_t *tmp = NULL;
    for (uint32_t i = 0; i < tq->n; i++) {
        const qvi_posting *post =
            qvi_vmap_find(&ix->map, tq->buf + tq->off[i], tq->len[i]);
        if (!post) {
            memset(bits, 0, p->words * sizeof(uint64_t));
            break;
        }
        if (i == 0) {
            qvi_posting_or(post, bits, p->nbits);
            continue;
        }
        if (!tmp && !(tmp = new_bits(p)))
            return;
        memset(tmp, 0, p->words * sizeof(uint64_t));
        qvi_posting_or(post, tmp, p->nbits);
        for (uint32_t w = 0; w < p->words; w++)
            bits[w] &= tmp[w];
    }
    free(tmp);
}

/* The candidate set of field condition fc (index fi), or all. */
static cset field_set(prep *p, uint32_t fi)
{
    const qvi_ffield *fc = &p->f->fields[fi];
    const qvi_path *path = &p->f->paths[fc->path];
    const qvi_pindex *ix = qvi_pindex_find_locked(
        p->c, p->f->items + path->item_off, path->n_items, p->f->pool);
    if (!ix || ix->stale ||
        fc->parts & (QVI_FP_VCOUNT | QVI_FP_IS_EMPTY | QVI_FP_IS_NULL))
        return all_set(false);
    cset r = empty_set(p);
    if (!r.bits)
        return all_set(false);
    bool ok = true;
    uint32_t k = ix->kind;
    bool num = k == QV_INDEX_INTEGER || k == QV_INDEX_FLOAT;
    if (fc->parts & QVI_FP_MATCH) {
        switch (fc->match_kind) {
        case QVI_M_STR:
        case QVI_M_ANY_STR:
            ok = (k == QV_INDEX_KEYWORD || k == QV_INDEX_UUID) &&
                 string_match(p, ix, fc, r.bits, &r.exact);
            break;
        case QVI_M_INT:
            if ((ok = num))
                int_match(p, ix, fc->mint, r.bits);
            break;
        case QVI_M_ANY_INT:
            for (uint32_t i = 0; (ok = num) && i < fc->set_n; i++)
                int_match(p, ix, p->f->ints[fc->set_off + i], r.bits);
            break;
        case QVI_M_BOOL:
            if ((ok = k == QV_INDEX_BOOL))
                qvi_posting_or(&ix->bools[fc->mbool], r.bits, p->nbits);
            break;
        case QVI_M_TEXT:
        case QVI_M_TEXT_ANY:
        case QVI_M_PHRASE:
            ok = k == QV_INDEX_TEXT && p->q->text && p->q->text[fi];
            if (ok) {
                text_match(p, ix, p->q->text[fi], r.bits);
                r.exact = r.exact && fc->match_kind != QVI_M_PHRASE;
            }
            break;
        default:
            ok = false;
        }
    }
    if (ok && fc->parts & QVI_FP_RANGE) {
        if ((ok = num))
            numeric_range(p, ix, fc, r.bits);
    }
    if (ok && fc->parts & QVI_FP_DTRANGE) {
        if ((ok = k == QV_INDEX_DATETIME))
            datetime_range(p, ix, fc, r.bits);
    }
    if (ok &&
        fc->parts & (QVI_FP_GEO_RADIUS | QVI_FP_GEO_BOX | QVI_FP_GEO_POLY)) {
        if ((ok = k == QV_INDEX_GEO)) {
            geo_band(p, ix, fc, r.bits);
            r.exact = false;
        }
    }
    if (!ok) {
        set_free(&r);
        return all_set(false);
    }
    return r;
}

static cset id_set(prep *p, const qvi_fnode *n)
{
    cset r = empty_set(p);
    if (!r.bits)
        return all_set(false);
    const qv_collection *c = p->c;
    for (uint32_t i = 0; i < n->b; i++) {
        uint32_t slot;
        if (qvi_idmap_find(&c->map, c->ids, &p->f->ids[n->a + i], &slot))
            set_slot(p, r.bits, slot);
    }
    return r;
}

/* ---- the filter tree ------------------------------------------------------
 */

static cset node_set(prep *p, uint32_t node);

/* Union of the sets of kids[off .. off+n); empty for n = 0. */
static cset union_of(prep *p, uint32_t off, uint32_t n)
{
    cset u = empty_set(p);
    if (!u.bits)
        return all_set(false);
    for (uint32_t i = 0; i < n; i++)
        u = set_or(u, node_set(p, p->f->kids[off + i]), p->words);
    return u;
}

/* The live slots as a bitmap (for a difference from "every point"). */
static uint64_t *live_bits(prep *p)
{
    uint64_t *b = new_bits(p);
    for (uint32_t s = 0; b && s < p->nbits; s++)
        if (p->c->live[s])
            b[s / 64] |= 1ull << (s % 64);
    return b;
}

static cset group_set(prep *p, const qvi_fgroup *g)
{
    const uint32_t *k = p->f->kids;
    cset r = all_set(true);
    if (g->has_should)
        r = set_and(r, union_of(p, g->should_off, g->should_n), p->words);
    if (g->has_min && g->min_count > 0) {
        cset u;
        if (g->min_count > g->min_n) {
            u = empty_set(p); /* cannot be reached */
            if (!u.bits)
                u = all_set(false);
        } else {
            u = union_of(p, g->min_off, g->min_n);
            u.exact = u.exact && g->min_count == 1;
        }
        r = set_and(r, u, p->words);
    }
    for (uint32_t i = 0; i < g->must_n; i++)
        r = set_and(r, node_set(p, k[g->must_off + i]), p->words);
    for (uint32_t i = 0; i < g->not_n; i++) {
        cset m = node_set(p, k[g->not_off + i]);
        if (!m.exact || !m.bits) {
            /* An inexact set cannot be subtracted; "every point" exactly
             * leaves nothing. */
            if (m.exact && !m.bits) {
                set_free(&r);
                r = empty_set(p);
                if (!r.bits)
                    r = all_set(false);
            } else {
                r.exact = false;
            }
            set_free(&m);
            continue;
        }
        if (!r.bits && !(r.bits = live_bits(p))) {
            set_free(&m);
            r = all_set(false);
            continue;
        }
        for (uint32_t w = 0; w < p->words; w++)
            r.bits[w] &= ~m.bits[w];
        set_free(&m);
    }
    return r;
}

static cset node_set(prep *p, uint32_t node)
{
    if (p->oom)
        return all_set(false);
    const qvi_fnode *n = &p->f->nodes[node];
    switch (n->kind) {
    case QVI_FN_FILTER:
        return group_set(p, &p->f->groups[n->a]);
    case QVI_FN_FIELD:
        return field_set(p, n->a);
    case QVI_FN_HAS_ID:
        return id_set(p, n);
    default:
        return all_set(false);
    }
}

/* ---- full-text conditions ------------------------------------------------
 */

/* Gives every text condition outside nested filters on a key with a
 * full-text index its tokenized query. */
static qv_status prepare_text(prep *p, uint32_t node)
{
    const qvi_filter *f = p->f;
    const qvi_fnode *n = &f->nodes[node];
    if (n->kind == QVI_FN_FILTER) {
        const qvi_fgroup *g = &f->groups[n->a];
        const uint32_t offs[4] = {g->must_off, g->should_off, g->not_off,
                                  g->min_off};
        const uint32_t ns[4] = {g->must_n, g->should_n, g->not_n, g->min_n};
        for (int j = 0; j < 4; j++) {
            for (uint32_t i = 0; i < ns[j]; i++) {
                qv_status st = prepare_text(p, f->kids[offs[j] + i]);
                if (st != QV_OK)
                    return st;
            }
        }
        return QV_OK;
    }
    if (n->kind != QVI_FN_FIELD)
        return QV_OK;
    const qvi_ffield *fc = &f->fields[n->a];
    if (!(fc->parts & QVI_FP_MATCH) ||
        fc->parts & (QVI_FP_VCOUNT | QVI_FP_IS_EMPTY | QVI_FP_IS_NULL))
        return QV_OK;
    qvi_tq_kind kind;
    if (fc->match_kind == QVI_M_TEXT)
        kind = QVI_TQ_ALL;
    else if (fc->match_kind == QVI_M_TEXT_ANY)
        kind = QVI_TQ_ANY;
    else if (fc->match_kind == QVI_M_PHRASE)
        kind = QVI_TQ_PHRASE;
    else
        return QV_OK;
    const qvi_path *path = &f->paths[fc->path];
    const qvi_pindex *ix = qvi_pindex_find_locked(
        p->c, f->items + path->item_off, path->n_items, f->pool);
    if (!ix || ix->kind != QV_INDEX_TEXT)
        return QV_OK;
    if (!p->q->text && !(p->q->text = calloc(f->n_fields, sizeof(qvi_tq *))))
        return QV_ENOMEM;
    qvi_tq *tq = malloc(sizeof(*tq));
    if (!tq)
        return QV_ENOMEM;
    qv_status st = qvi_tq_init(tq, kind, f->pool + fc->str_off, fc->str_len);
    if (st != QV_OK) {
        free(tq);
        return st;
    }
    tq->items = f->items + path->item_off;
    tq->n_items = path->n_items;
    tq->pool = f->pool;
    p->q->text[n->a] = tq;
    return QV_OK;
}

static bool has_text_index(const qv_collection *c)
{
    const qvi_pindex_set *s = c->pindexes;
    for (uint32_t i = 0; s && i < s->n; i++)
        if (s->v[i]->kind == QV_INDEX_TEXT)
            return true;
    return false;
}

/* ---- public to the collection --------------------------------------------
 */

static uint64_t popcount_bits(const uint64_t *b, uint32_t words)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < words; w++)
        n += (uint64_t)__builtin_popcountll(b[w]);
    return n;
}

void qvi_fq_free(qvi_fq *q)
{
    if (q->text) {
        for (uint32_t i = 0; q->f && i < q->f->n_fields; i++) {
            if (q->text[i]) {
                qvi_tq_free(q->text[i]);
                free(q->text[i]);
            }
        }
        free(q->text);
    }
    free(q->cand);
    memset(q, 0, sizeof(*q));
}

qv_status qvi_fq_prepare_locked(qv_collection *c, const qvi_filter *f,
                                qvi_fq *q)
{
    memset(q, 0, sizeof(*q));
    q->c = c;
    q->f = f;
    q->exact = true;
    q->n_cand = c->count;
    if (!f)
        return QV_OK;
    prep p = {
        .c = c, .f = f, .q = q, .nbits = c->used, .words = (c->used + 63) / 64};
    if (has_text_index(c)) {
        qv_status st = prepare_text(&p, f->root);
        if (st != QV_OK) {
            qvi_fq_free(q);
            return qvi_fail(c->err, st,
                            st == QV_EINVAL
                                ? "a full-text query has more than %u tokens"
                                : "out of memory preparing a filter (%u)",
                            QVI_TEXT_MAX_QUERY_TOKENS);
        }
    }
    /* Without payload indexes this still answers has_id from the id map. */
    cset r = node_set(&p, f->root);
    if (p.oom) {
        set_free(&r);
        qvi_fq_free(q);
        return qvi_fail(c->err, QV_ENOMEM, "out of memory preparing a filter");
    }
    q->exact = r.exact;
    if (r.bits) {
        q->cand = r.bits;
        q->nbits = p.nbits;
        q->n_cand = popcount_bits(r.bits, p.words);
        q->indexed = true;
    }
    return QV_OK;
}

static int text_hook(void *ctx, uint32_t field, qvi_pval root)
{
    const qvi_fq *q = ctx;
    const qvi_tq *tq = q->text[field];
    if (!tq)
        return -1;
    return qvi_tq_match(tq, &qvi_payload_blob_ops, root);
}

/* Evaluates the filter on slot's payload (no candidate test). */
static bool eval_slot(const qvi_fq *q, uint32_t slot)
{
    const qv_collection *c = q->c;
    qvi_filter_target t = {
        .ops = &qvi_payload_blob_ops,
        .payload = qvi_slot_payload(c, slot),
        .id = &c->ids[slot],
        .text_match = q->text ? text_hook : NULL,
        .text_ctx = (void *)q,
    };
    return qvi_filter_eval_target(q->f, &t);
}

bool qvi_fq_matches(const qvi_fq *q, uint32_t slot)
{
    if (!q->f)
        return true;
    if (!qvi_fq_candidate(q, slot))
        return false;
    return q->exact || eval_slot(q, slot);
}

uint32_t qvi_fq_next(const qvi_fq *q, uint32_t from)
{
    const qv_collection *c = q->c;
    if (!q->cand) {
        for (uint32_t s = from; s < c->used; s++)
            if (c->live[s])
                return s;
        return UINT32_MAX;
    }
    if (from >= q->nbits)
        return UINT32_MAX;
    uint32_t w = from / 64, words = (q->nbits + 63) / 64;
    uint64_t x = q->cand[w] & (~0ull << (from % 64));
    for (;;) {
        if (x)
            return w * 64 + (uint32_t)__builtin_ctzll(x);
        if (++w >= words)
            return UINT32_MAX;
        x = q->cand[w];
    }
}

qv_status qvi_fq_refine_locked(qvi_fq *q)
{
    if (q->exact)
        return QV_OK;
    const qv_collection *c = q->c;
    uint32_t words = (c->used + 63) / 64;
    uint64_t *bits = q->cand;
    if (!bits) {
        bits = calloc(words ? words : 1, sizeof(uint64_t));
        if (!bits)
            return QV_ENOMEM;
    }
    uint64_t n = 0;
    for (uint32_t s = qvi_fq_next(q, 0); s != UINT32_MAX;
         s = qvi_fq_next(q, s + 1)) {
        if (eval_slot(q, s)) {
            bits[s / 64] |= 1ull << (s % 64);
            n++;
        } else {
            bits[s / 64] &= ~(1ull << (s % 64));
        }
    }
    q->cand = bits;
    q->nbits = c->used;
    q->n_cand = n;
    q->exact = true;
    return QV_OK;
}
