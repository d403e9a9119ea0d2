/*
 * candidates.c -- a filter prepared against a collection's
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
 * tokenized query, and the per-point check (qvi_candidates_match) answers it by
 * tokens through the filter's text_match hook (pindex_text.c).
 *
 * Estimates.  A candidate bitmap costs a pass over every index entry it
 * holds, per query: nothing next to a filtered scan, but at high
 * selectivity more than the graph walk it would serve (a million-point
 * range at 50% is 500,000 entries).  So a search first estimates the
 * candidates from the indexes alone -- posting lengths, key counts of tree
 * ranges (O(chunks)), min over must, sum over should -- and, when the
 * estimate is tight (one indexed condition, or a should of them) and above
 * the caller's budget, builds no bitmap: the graph walk then checks each
 * visited point's payload, as without indexes, and the planner uses the
 * estimate instead of a sample.  Count, scroll and delete always build it.
 *
 * A prepared filter is read-only once built, so concurrent searches may
 * share nothing but the collection's read lock.
 */
#include "core/search/search.h"
#include "core/payload/payload.h"

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
    qvi_candidates *q;
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

/* ---- ranges of the ordered tree ------------------------------------------
 */

/* The keys of a range of values: [from, to) as tree keys.  Keys compare
 * (hi, lo, slot), so (hi, lo, 0) is below every key of that value and
 * (hi, lo + 1, 0) above every key of it (date-times: seconds and
 * nanoseconds; geo: a latitude and 0; numbers: see pindex_num.c, whose
 * lo is an exact integer's offset from the double hi).  A span needs no
 * test per key. */
typedef struct span {
    qvi_nkey from, to;
    bool empty;
} span;

static span span_all(void)
{
    span r = {{INT64_MIN, 0, 0}, {INT64_MAX, UINT32_MAX, UINT32_MAX}, false};
    return r;
}

/* Narrows r to values >= (hi, lo), or > when strict. */
static void span_lower(span *r, int64_t hi, uint32_t lo, bool strict)
{
    qvi_nkey k = {hi, strict ? lo + 1 : lo, 0};
    if (qvi_nkey_cmp(&k, &r->from) > 0)
        r->from = k;
}

/* Narrows r to values <= (hi, lo), or < when strict. */
static void span_upper(span *r, int64_t hi, uint32_t lo, bool strict)
{
    qvi_nkey k = {hi, strict ? lo : lo + 1, 0};
    if (qvi_nkey_cmp(&k, &r->to) < 0)
        r->to = k;
}

/* gt / gte / lt / lte of a numeric range.  The filter compares a payload
 * number's double with the bounds (as Qdrant's Range<f64>), so a bound
 * takes or leaves every key of a double, whatever its lo: (k, 0) is below
 * them all and (k + 1, 0) above (finite doubles' keys are far from
 * INT64_MAX). */
static span numeric_span(const qvi_ffield *fc)
{
    span r = span_all();
    for (int b = 0; b < 4; b++) {
        if (!(fc->rbits & (1u << b)))
            continue;
        int64_t k = qvi_double_key(fc->r[b]);
        if (b < 2)
            span_lower(&r, b == 0 ? k + 1 : k, 0, false);
        else
            span_upper(&r, b == 2 ? k : k + 1, 0, true);
    }
    return r;
}

static span datetime_span(const qvi_ffield *fc)
{
    span r = span_all();
    for (int b = 0; b < 4; b++) {
        if (!(fc->dbits & (1u << b)))
            continue;
        const qvi_datetime *d = &fc->dt[b];
        if (b < 2)
            span_lower(&r, d->sec, (uint32_t)d->nsec, b == 0);
        else
            span_upper(&r, d->sec, (uint32_t)d->nsec, b == 2);
    }
    return r;
}

/* The keys of one integer: exactly the payload integers equal to v, as
 * the filter's match compares them (an i64; not the double 2.0, not a
 * neighbour that rounds to the same double, pindex_num.c). */
static span value_span(int64_t v)
{
    span r = span_all();
    qv_number n = {.kind = QV_NUM_INT, .v.i = v};
    int64_t hi;
    uint32_t lo;
    qvi_number_key(&n, &hi, &lo);
    span_lower(&r, hi, lo, false);
    span_upper(&r, hi, lo, false);
    return r;
}

/* Latitude band of the geo parts of fc: a superset. */
static span geo_span(const qvi_filter *f, const qvi_ffield *fc)
{
    const qvi_fgeo *g = &f->geos[fc->geo];
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
        const qvi_fring *r = &f->rings[g->ring_off];
        const double *pts = f->pts + r->pt_off;
        for (uint32_t i = 0; i < r->n_pts; i++) {
            lo = fmin(lo, pts[2 * i + 1]);
            hi = fmax(hi, pts[2 * i + 1]);
        }
    }
    span r = span_all();
    r.empty = !(lo <= hi);
    if (!r.empty) {
        span_lower(&r, qvi_double_key(lo), 0, false);
        span_upper(&r, qvi_double_key(hi), 0, false);
    }
    return r;
}

/* The cursors of a span; false when it holds no key. */
static bool span_cursors(const qvi_ntree *t, const span *r, qvi_ncur *a,
                         qvi_ncur *b)
{
    if (r->empty || qvi_nkey_cmp(&r->from, &r->to) >= 0)
        return false;
    *a = qvi_ntree_lower_bound(t, &r->from);
    *b = qvi_ntree_lower_bound(t, &r->to);
    return true;
}

static void span_bits(const prep *p, const qvi_ntree *t, const span *r,
                      uint64_t *bits)
{
    qvi_ncur a, b;
    if (span_cursors(t, r, &a, &b))
        qvi_ntree_bits(t, a, b, bits, p->nbits);
}

/* Keys in a span: the points when the key holds one value per point, an
 * upper bound otherwise. */
static uint64_t span_count(const qvi_ntree *t, const span *r)
{
    qvi_ncur a, b;
    return span_cursors(t, r, &a, &b) ? qvi_ntree_count(t, a, b) : 0;
}

/* ---- what an index answers -------------------------------------------------
 */

/* The i-th string operand of fc (value, or an any / except element). */
static const char *operand(const qvi_filter *f, const qvi_ffield *fc,
                           uint32_t i, size_t *len)
{
    if (fc->match_kind == QVI_M_STR) {
        *len = fc->str_len;
        return f->pool + fc->str_off;
    }
    *len = f->strs[fc->set_off + i].len;
    return f->pool + f->strs[fc->set_off + i].off;
}

/* The index on fc's key when it can answer every part of fc, or NULL. */
static const qvi_pindex *answering_index(const prep *p, uint32_t fi)
{
    const qvi_ffield *fc = &p->f->fields[fi];
    const qvi_path *path = &p->f->paths[fc->path];
    const qvi_pindex *ix =
        qvi_pindex_set_find(p->c->pindexes, p->f->items + path->item_off,
                            path->n_items, p->f->pool);
    if (!ix || ix->stale ||
        fc->parts & (QVI_FP_VCOUNT | QVI_FP_IS_EMPTY | QVI_FP_IS_NULL))
        return NULL;
    uint32_t k = ix->kind;
    bool num = k == QV_INDEX_INTEGER || k == QV_INDEX_FLOAT;
    if (fc->parts & QVI_FP_MATCH) {
        switch (fc->match_kind) {
        case QVI_M_STR:
        case QVI_M_ANY_STR:
            if (k == QV_INDEX_KEYWORD)
                break;
            if (k != QV_INDEX_UUID)
                return NULL;
            /* A uuid index holds UUIDs only: a string operand that is not
             * one may still match a payload string. */
            for (uint32_t i = 0;
                 i < (fc->match_kind == QVI_M_STR ? 1 : fc->set_n); i++) {
                size_t len;
                const char *s = operand(p->f, fc, i, &len);
                uint8_t u[16];
                if (!qvi_uuid_key(s, len, u))
                    return NULL;
            }
            break;
        case QVI_M_INT:
        case QVI_M_ANY_INT:
            if (!num)
                return NULL;
            break;
        case QVI_M_BOOL:
            if (k != QV_INDEX_BOOL)
                return NULL;
            break;
        case QVI_M_TEXT:
        case QVI_M_TEXT_ANY:
        case QVI_M_PHRASE:
            if (k != QV_INDEX_TEXT || !p->q->text || !p->q->text[fi])
                return NULL;
            break;
        default:
            return NULL;
        }
    }
    if (fc->parts & QVI_FP_RANGE && !num)
        return NULL;
    if (fc->parts & QVI_FP_DTRANGE && k != QV_INDEX_DATETIME)
        return NULL;
    if (fc->parts & (QVI_FP_GEO_RADIUS | QVI_FP_GEO_BOX | QVI_FP_GEO_POLY) &&
        k != QV_INDEX_GEO)
        return NULL;
    return ix;
}

static const qvi_posting *string_posting(const qvi_pindex *ix, const char *s,
                                         size_t len)
{
    uint8_t u[16];
    if (ix->kind == QV_INDEX_KEYWORD)
        return qvi_vmap_find(&ix->map, s, len);
    return qvi_uuid_key(s, len, u) ? qvi_vmap_find(&ix->map, u, 16) : NULL;
}

static const qvi_posting *token_posting(const qvi_pindex *ix, const qvi_tq *tq,
                                        uint32_t i)
{
    return qvi_vmap_find(&ix->map, tq->buf + tq->off[i], tq->len[i]);
}

/* Token postings into bits: intersection for text / phrase, union for
 * text_any; a query without tokens matches nothing. */
static void text_bits(prep *p, const qvi_pindex *ix, const qvi_tq *tq,
                      uint64_t *bits)
{
    if (tq->n == 0)
        return;
    if (tq->kind == QVI_TQ_ANY) {
        for (uint32_t i = 0; i < tq->n; i++) {
            const qvi_posting *post = token_posting(ix, tq, i);
            if (post)
                qvi_posting_or(post, bits, p->nbits);
        }
        return;
    }
    uint64_t *tmp = NULL;
    for (uint32_t i = 0; i < tq->n; i++) {
        const qvi_posting *post = token_posting(ix, tq, i);
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

/* The candidate set of field condition fi, or all. */
static cset field_set(prep *p, uint32_t fi)
{
    const qvi_pindex *ix = answering_index(p, fi);
    if (!ix)
        return all_set(false);
    const qvi_ffield *fc = &p->f->fields[fi];
    const qvi_filter *f = p->f;
    cset r = empty_set(p);
    if (!r.bits)
        return all_set(false);
    span sp;
    if (fc->parts & QVI_FP_MATCH) {
        size_t len;
        switch (fc->match_kind) {
        case QVI_M_STR:
        case QVI_M_ANY_STR:
            for (uint32_t i = 0;
                 i < (fc->match_kind == QVI_M_STR ? 1 : fc->set_n); i++) {
                const char *s = operand(f, fc, i, &len);
                const qvi_posting *post = string_posting(ix, s, len);
                if (post)
                    qvi_posting_or(post, r.bits, p->nbits);
            }
            /* UUIDs compare parsed; the payload strings as written. */
            r.exact = ix->kind == QV_INDEX_KEYWORD;
            break;
        case QVI_M_INT:
            sp = value_span(fc->mint);
            span_bits(p, &ix->tree, &sp, r.bits);
            break;
        case QVI_M_ANY_INT:
            for (uint32_t i = 0; i < fc->set_n; i++) {
                sp = value_span(f->ints[fc->set_off + i]);
                span_bits(p, &ix->tree, &sp, r.bits);
            }
            break;
        case QVI_M_BOOL:
            qvi_posting_or(&ix->bools[fc->mbool], r.bits, p->nbits);
            break;
        default: /* text kinds */
            text_bits(p, ix, p->q->text[fi], r.bits);
            /* Phrase: the tokens are there, their order is checked per
             * point. */
            r.exact = fc->match_kind != QVI_M_PHRASE;
            break;
        }
    }
    if (fc->parts & QVI_FP_RANGE) {
        sp = numeric_span(fc);
        span_bits(p, &ix->tree, &sp, r.bits);
    }
    if (fc->parts & QVI_FP_DTRANGE) {
        sp = datetime_span(fc);
        span_bits(p, &ix->tree, &sp, r.bits);
    }
    if (fc->parts & (QVI_FP_GEO_RADIUS | QVI_FP_GEO_BOX | QVI_FP_GEO_POLY)) {
        sp = geo_span(f, fc);
        span_bits(p, &ix->tree, &sp, r.bits);
        r.exact = false;
    }
    return r;
}

/* How many points field condition fi can match, by the index (an upper
 * bound; *tight when it is close: one posting or span per value). */
static double field_estimate(prep *p, uint32_t fi, bool *tight)
{
    const qvi_pindex *ix = answering_index(p, fi);
    const qvi_ffield *fc = &p->f->fields[fi];
    const qvi_filter *f = p->f;
    double n = 0;
    *tight = ix != NULL;
    if (!ix)
        return (double)p->c->count;
    span sp;
    if (fc->parts & QVI_FP_MATCH) {
        size_t len;
        switch (fc->match_kind) {
        case QVI_M_STR:
        case QVI_M_ANY_STR:
            for (uint32_t i = 0;
                 i < (fc->match_kind == QVI_M_STR ? 1 : fc->set_n); i++) {
                const char *s = operand(f, fc, i, &len);
                const qvi_posting *post = string_posting(ix, s, len);
                n += post ? post->n : 0;
            }
            break;
        case QVI_M_INT:
            sp = value_span(fc->mint);
            n += (double)span_count(&ix->tree, &sp);
            break;
        case QVI_M_ANY_INT:
            for (uint32_t i = 0; i < fc->set_n; i++) {
                sp = value_span(f->ints[fc->set_off + i]);
                n += (double)span_count(&ix->tree, &sp);
            }
            break;
        case QVI_M_BOOL:
            n += ix->bools[fc->mbool].n;
            break;
        default: {
            const qvi_tq *tq = p->q->text[fi];
            double m = tq->n ? INFINITY : 0;
            for (uint32_t i = 0; i < tq->n; i++) {
                const qvi_posting *post = token_posting(ix, tq, i);
                double c = post ? post->n : 0;
                m = tq->kind == QVI_TQ_ANY ? (i ? m + c : c) : fmin(m, c);
            }
            n += m;
            *tight = *tight && tq->n <= 1;
        }
        }
    }
    if (fc->parts & QVI_FP_RANGE) {
        sp = numeric_span(fc);
        n += (double)span_count(&ix->tree, &sp);
    }
    if (fc->parts & QVI_FP_DTRANGE) {
        sp = datetime_span(fc);
        n += (double)span_count(&ix->tree, &sp);
    }
    if (fc->parts & (QVI_FP_GEO_RADIUS | QVI_FP_GEO_BOX | QVI_FP_GEO_POLY)) {
        sp = geo_span(f, fc);
        n += (double)span_count(&ix->tree, &sp);
        *tight = false;
    }
    return fmin(n, (double)p->c->count);
}

static cset id_set(prep *p, const qvi_fnode *n)
{
    cset r = empty_set(p);
    if (!r.bits)
        return all_set(false);
    const qv_collection *c = p->c;
    for (uint32_t i = 0; i < n->b; i++) {
        uint32_t slot;
        if (qvi_idmap_find(&c->map, c->ids, &p->f->ids[n->a + i], &slot) &&
            slot < p->nbits)
            r.bits[slot / 64] |= 1ull << (slot % 64);
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

/* An upper bound of the points node can match, from the indexes; *tight
 * when it is close to the count (see field_estimate).  Never allocates. */
static double node_estimate(prep *p, uint32_t node, bool *tight)
{
    const qvi_fnode *n = &p->f->nodes[node];
    double all = (double)p->c->count;
    *tight = false;
    if (n->kind == QVI_FN_FIELD)
        return field_estimate(p, n->a, tight);
    if (n->kind == QVI_FN_HAS_ID)
        return fmin((double)n->b, all);
    if (n->kind != QVI_FN_FILTER)
        return all;
    const qvi_fgroup *g = &p->f->groups[n->a];
    const uint32_t *k = p->f->kids;
    double est = all;
    bool t;
    /* Tight: a single must condition that is, or a should of tight ones
     * (a sum of disjoint values), and nothing else. */
    int parts = (g->has_should ? 1 : 0) + (g->has_min ? 1 : 0) +
                (int)g->must_n + (int)g->not_n;
    if (g->has_should) {
        double sum = 0;
        bool all_tight = true;
        for (uint32_t i = 0; i < g->should_n; i++) {
            sum += node_estimate(p, k[g->should_off + i], &t);
            all_tight = all_tight && t;
        }
        est = fmin(est, sum);
        *tight = all_tight && parts == 1;
    }
    if (g->has_min && g->min_count > 0) {
        double sum = 0;
        for (uint32_t i = 0; i < g->min_n; i++)
            sum += node_estimate(p, k[g->min_off + i], &t);
        est = fmin(est, g->min_count > g->min_n ? 0 : sum);
    }
    for (uint32_t i = 0; i < g->must_n; i++) {
        est = fmin(est, node_estimate(p, k[g->must_off + i], &t));
        *tight = t && parts == 1;
    }
    return fmin(est, all);
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
    const qvi_pindex *ix = qvi_pindex_set_find(
        p->c->pindexes, f->items + path->item_off, path->n_items, f->pool);
    if (!ix || ix->kind != QV_INDEX_TEXT)
        return QV_OK;
    if (!p->q->text && !(p->q->text = calloc(f->n_fields, sizeof(qvi_tq *))))
        return QV_ENOMEM;
    qvi_tq *tq = malloc(sizeof(*tq));
    if (!tq)
        return QV_ENOMEM;
    qv_status st =
        qvi_tq_init(tq, kind, ix->text, f->pool + fc->str_off, fc->str_len);
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

void qvi_candidates_free(qvi_candidates *q)
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

qv_status qvi_candidates_prepare_locked(qv_collection *c, const qvi_filter *f,
                                        uint64_t budget, qvi_candidates *q)
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
            qvi_candidates_free(q);
            return qvi_fail(c->err, st,
                            st == QV_EINVAL
                                ? "a full-text query has more than %u tokens"
                                : "out of memory preparing a filter (%u)",
                            QVI_TEXT_MAX_QUERY_TOKENS);
        }
    }
    if (budget < c->count && c->pindexes && c->pindexes->n) {
        bool tight;
        double est = node_estimate(&p, f->root, &tight);
        if (tight && est > (double)budget) {
            /* Too many candidates to be worth a bitmap: evaluate instead,
             * and let the planner use the estimate. */
            q->exact = false;
            q->estimated = true;
            q->n_cand = (uint64_t)est;
            return QV_OK;
        }
    }
    /* Without payload indexes this still answers has_id from the id map. */
    cset r = node_set(&p, f->root);
    if (p.oom) {
        set_free(&r);
        qvi_candidates_free(q);
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

uint64_t qvi_candidates_search_budget(const qv_collection *c, uint32_t ef)
{
    return (uint64_t)sqrt(200.0 * (double)ef * (double)c->count) + 1024;
}

static int text_hook(void *ctx, uint32_t field, qvi_pval root)
{
    const qvi_candidates *q = ctx;
    const qvi_tq *tq = q->text[field];
    if (!tq)
        return -1;
    return qvi_tq_match(tq, &qvi_payload_blob_ops, root);
}

/* Evaluates the filter on slot's payload (no candidate test). */
static bool eval_slot(const qvi_candidates *q, uint32_t slot)
{
    const qv_collection *c = q->c;
    const uint8_t *blob = qvi_slot_payload(c, slot);
    if (!blob)
        return false; /* a damaged snapshot payload matches nothing */
    qvi_filter_target t = {
        .ops = &qvi_payload_blob_ops,
        .payload = blob,
        .id = &c->ids[slot],
        .text_match = q->text ? text_hook : NULL,
        .text_ctx = (void *)q,
    };
    return qvi_filter_eval_target(q->f, &t);
}

bool qvi_candidates_match(const qvi_candidates *q, uint32_t slot)
{
    if (!q->f)
        return true;
    if (!qvi_candidates_has(q, slot))
        return false;
    return q->exact || eval_slot(q, slot);
}

uint32_t qvi_candidates_next(const qvi_candidates *q, uint32_t from)
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

qv_status qvi_candidates_refine_locked(qvi_candidates *q)
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
    for (uint32_t s = qvi_candidates_next(q, 0); s != UINT32_MAX;
         s = qvi_candidates_next(q, s + 1)) {
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
