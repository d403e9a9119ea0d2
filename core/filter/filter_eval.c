/*
 * filter_eval.c -- evaluating a compiled filter against one point.
 *
 * Semantics are Qdrant's unindexed ones (lib/segment, query_checker.rs and
 * condition_checker.rs), which is what a Qdrant collection without payload
 * indexes answers:
 *
 *  Filter       should (if present) needs one true condition -- so an empty
 *               should array is false; min_should needs min_count true
 *               conditions; must needs all; must_not needs none.
 *  Field        the values at the key are gathered (filter_path.c).  None
 *               at all: the count is 0 for a values_count part (Qdrant
 *               1.19: FieldCondition::check_empty forwards to
 *               ValuesCount::check_empty, i.e. check_count(0) -- qdrant
 *               PR #9607 fixing issue #9586, lib/segment/src/
 *               payload_storage/condition_checker.rs), else only
 *               is_empty: true / is_null: false parts hold, with the same
 *               precedence as below.  Otherwise the
 *               condition holds when some value passes: a values_count part
 *               counts that value (null 0, array its length, else 1); an
 *               is_empty / is_null part looks at the value (an array is empty
 *               when [], "null" when one element is null); the others test
 *               the value, or each element if it is an array (one level:
 *               an array inside an array is never matched).  Several parts
 *               in one field condition are ORed, values_count, is_empty and
 *               is_null taking precedence in that order, as in Qdrant.
 *  match        value: same type and value (an integer matches only an
 *               integral number); any: value in the set; except: a string or
 *               number not in the set -- and any other non-null value
 *               (bool, object, nested array, a float for an integer set,
 *               a string for an integer set) also passes; null never does.
 *               text / phrase: substring (Qdrant without a full-text index);
 *               text_any: any whitespace-separated token is a substring;
 *               prefix: starts with.  All byte-wise, case-sensitive.  With
 *               a full-text index on the key, text / text_any / phrase are
 *               Qdrant's token matches instead, over all the point's
 *               strings at the key at once: the target's text_match hook
 *               answers them (pindex_text.c), outside nested
 *               filters only.
 *  range        numbers only (a numeric string never matches); date-time
 *               ranges compare strings that parse as date-times.
 *  geo          values are objects with numeric lon and lat.  geo_radius:
 *               haversine distance < radius; geo_bounding_box: strictly
 *               inside, crossing the antimeridian when top_left.lon >
 *               bottom_right.lon; geo_polygon: strictly inside the exterior
 *               and outside (not on) every interior, like geo's Contains.
 *  is_empty     {is_empty: {key}}: every value is null or [] (true when the
 *               key is missing).  is_null {key}: some value IS null (a
 *               missing key or [null] is not null).
 *  has_id       the point's id is in the set.  has_vector asks the caller.
 *               slice: SipHash-2-4 (zero key) of the id's canonical bytes
 *               (8 little-endian bytes or the 16 UUID bytes) % total ==
 *               index.
 *  nested       the inner filter must hold within ONE object element of the
 *               array at key; has_id, has_vector and slice never hold inside
 *               (Qdrant passes no id tracker there).
 *
 * Recursion is bounded by QVI_FILTER_MAX_DEPTH (parse refuses deeper
 * filters) and by QVI_PATH_MAX_ITEMS in the path walk.
 */
#include "core/filter/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ectx {
    const qvi_filter *f;
    const qvi_payload_ops *ops;
    const qvi_filter_target *t;
    bool nested;
} ectx;

static bool eval_node(const ectx *e, qvi_pval root, uint32_t node);

/* ---- helpers ------------------------------------------------------------- */

double qvi_haversine_m(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371008.8, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
    double a = s1 * s1 + cos(lat1 * rad) * cos(lat2 * rad) * s2 * s2;
    return 2.0 * r * asin(sqrt(a));
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = ROTL(v1, 13);                                                     \
        v1 ^= v0;                                                              \
        v0 = ROTL(v0, 32);                                                     \
        v2 += v3;                                                              \
        v3 = ROTL(v3, 16);                                                     \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = ROTL(v3, 21);                                                     \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = ROTL(v1, 17);                                                     \
        v1 ^= v2;                                                              \
        v2 = ROTL(v2, 32);                                                     \
    } while (0)

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* SipHash-2-4 (Aumasson & Bernstein, reference implementation's order). */
uint64_t qvi_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(msg + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)msg[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static bool bound_ok(uint32_t bits, int b, int cmp)
{
    if (!(bits & (1u << b)))
        return true;
    switch (b) {
    case 0:
        return cmp > 0; /* value > gt */
    case 1:
        return cmp >= 0;
    case 2:
        return cmp < 0;
    default:
        return cmp <= 0;
    }
}

static int cmp_dt(const qvi_datetime *a, const qvi_datetime *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    return (a->nsec > b->nsec) - (a->nsec < b->nsec);
}

static bool in_int_set(const qvi_filter *f, const qvi_ffield *fc, int64_t v)
{
    if (fc->set_n == 0)
        return false;
    const int64_t *s = f->ints + fc->set_off;
    size_t lo = 0, hi = fc->set_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] == v)
            return true;
        if (s[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool in_str_set(const qvi_filter *f, const qvi_ffield *fc, const char *v,
                       size_t len)
{
    const qvi_fstr *s = f->strs + fc->set_off;
    size_t lo = 0, hi = fc->set_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t n = s[mid].len < len ? s[mid].len : len;
        int c = memcmp(f->pool + s[mid].off, v, n);
        if (c == 0)
            c = (s[mid].len > len) - (s[mid].len < len);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static bool contains(const char *hay, size_t hlen, const char *needle,
                     size_t nlen)
{
    return nlen == 0 || memmem(hay, hlen, needle, nlen) != NULL;
}

static bool match_value(const ectx *e, const qvi_ffield *fc, qvi_pval v)
{
    const qvi_filter *f = e->f;
    const qvi_payload_ops *ops = e->ops;
    qvi_ptype t = ops->type(v);
    const char *operand = f->pool + fc->str_off;
    int64_t n;
    size_t len;
    const char *s = t == QVI_PT_STRING ? ops->string(v, &len) : NULL;
    switch (fc->match_kind) {
    case QVI_M_BOOL:
        return t == QVI_PT_BOOL && ops->boolean(v) == fc->mbool;
    case QVI_M_INT:
        return t == QVI_PT_NUMBER && ops->integer(v, &n) && n == fc->mint;
    case QVI_M_STR:
        return s && len == fc->str_len && memcmp(s, operand, len) == 0;
    case QVI_M_TEXT:
    case QVI_M_PHRASE:
        return s && contains(s, len, operand, fc->str_len);
    case QVI_M_PREFIX:
        return s && len >= fc->str_len && memcmp(s, operand, fc->str_len) == 0;
    case QVI_M_TEXT_ANY: {
        if (!s)
            return false;
        size_t i = 0;
        while (i < fc->str_len) {
            while (i < fc->str_len && is_space(operand[i]))
                i++;
            size_t j = i;
            while (j < fc->str_len && !is_space(operand[j]))
                j++;
            if (j > i && contains(s, len, operand + i, j - i))
                return true;
            i = j;
        }
        return false;
    }
    case QVI_M_ANY_STR:
        return s && in_str_set(f, fc, s, len);
    case QVI_M_ANY_INT:
        return t == QVI_PT_NUMBER && ops->integer(v, &n) &&
               in_int_set(f, fc, n);
    case QVI_M_EXCEPT_STR:
        if (t == QVI_PT_NULL)
            return false;
        return s ? !in_str_set(f, fc, s, len) : true;
    case QVI_M_EXCEPT_INT:
        if (t == QVI_PT_NULL)
            return false;
        if (t == QVI_PT_NUMBER && ops->integer(v, &n))
            return !in_int_set(f, fc, n);
        return true;
    default:
        return false;
    }
}

/* Where (x, y) lies relative to a closed ring: 0 outside, 1 inside,
 * 2 on the boundary.  Even-odd crossing count. */
static int ring_pos(const double *pts, uint32_t n, double x, double y)
{
    bool inside = false;
    for (uint32_t i = 0; i + 1 < n; i++) {
        double ax = pts[2 * i], ay = pts[2 * i + 1];
        double bx = pts[2 * i + 2], by = pts[2 * i + 3];
        double cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        if (cross == 0 && x >= fmin(ax, bx) && x <= fmax(ax, bx) &&
            y >= fmin(ay, by) && y <= fmax(ay, by))
            return 2;
        if ((ay > y) != (by > y)) {
            double xi = ax + (y - ay) * (bx - ax) / (by - ay);
            if (x < xi)
                inside = !inside;
        }
    }
    return inside ? 1 : 0;
}

static bool geo_value(const ectx *e, const qvi_ffield *fc, qvi_pval v)
{
    const qvi_payload_ops *ops = e->ops;
    if (ops->type(v) != QVI_PT_OBJECT)
        return false;
    qvi_pval lo = ops->get(v, "lon", 3), la = ops->get(v, "lat", 3);
    if (!lo || !la || ops->type(lo) != QVI_PT_NUMBER ||
        ops->type(la) != QVI_PT_NUMBER)
        return false;
    double lon = ops->number(lo), lat = ops->number(la);
    const qvi_fgeo *g = &e->f->geos[fc->geo];
    if (fc->parts & QVI_FP_GEO_RADIUS &&
        qvi_haversine_m(g->lat0, g->lon0, lat, lon) < g->radius)
        return true;
    if (fc->parts & QVI_FP_GEO_BOX) {
        bool lon_ok = g->lon0 > g->lon1 ? (lon > g->lon0 || lon < g->lon1)
                                        : (g->lon0 < lon && lon < g->lon1);
        if (lon_ok && g->lat1 < lat && lat < g->lat0)
            return true;
    }
    if (fc->parts & QVI_FP_GEO_POLY) {
        const qvi_fring *r = &e->f->rings[g->ring_off];
        if (ring_pos(e->f->pts + r[0].pt_off, r[0].n_pts, lon, lat) != 1)
            return false;
        for (uint32_t i = 1; i < g->n_rings; i++)
            if (ring_pos(e->f->pts + r[i].pt_off, r[i].n_pts, lon, lat) != 0)
                return false;
        return true;
    }
    return false;
}

/* Qdrant's FieldCondition::check_match: the parts ORed over one value
 * (the match part left out when the text hook has already answered it). */
static bool check_match(const ectx *e, const qvi_ffield *fc, qvi_pval v,
                        bool skip_match)
{
    const qvi_payload_ops *ops = e->ops;
    if (!skip_match && fc->parts & QVI_FP_MATCH && match_value(e, fc, v))
        return true;
    if (fc->parts & QVI_FP_RANGE && ops->type(v) == QVI_PT_NUMBER) {
        double x = ops->number(v);
        bool ok = true;
        for (int b = 0; b < 4 && ok; b++) {
            double r = fc->r[b];
            ok = bound_ok(fc->rbits, b, (x > r) - (x < r));
        }
        if (ok)
            return true;
    }
    if (fc->parts & QVI_FP_DTRANGE && ops->type(v) == QVI_PT_STRING) {
        size_t len;
        const char *s = ops->string(v, &len);
        qvi_datetime dt;
        if (qvi_datetime_parse(s, len, &dt)) {
            bool ok = true;
            for (int b = 0; b < 4 && ok; b++)
                ok = bound_ok(fc->dbits, b, cmp_dt(&dt, &fc->dt[b]));
            if (ok)
                return true;
        }
    }
    if (fc->parts & (QVI_FP_GEO_RADIUS | QVI_FP_GEO_BOX | QVI_FP_GEO_POLY) &&
        geo_value(e, fc, v))
        return true;
    return false;
}

static uint64_t count_of(const qvi_payload_ops *ops, qvi_pval v)
{
    qvi_ptype t = ops->type(v);
    if (t == QVI_PT_NULL)
        return 0;
    if (t != QVI_PT_ARRAY)
        return 1;
    uint64_t n = 0;
    for (qvi_pval x = ops->first(v); x; x = ops->next(v, x))
        n++;
    return n;
}

/* The values_count bounds of fc hold for a count of c. */
static bool count_ok(const qvi_ffield *fc, uint64_t c)
{
    bool ok = true;
    for (int b = 0; b < 4 && ok; b++)
        ok = bound_ok(fc->vbits, b, (c > fc->vc[b]) - (c < fc->vc[b]));
    return ok;
}

/* Qdrant's FieldCondition::check on one value at the key. */
static bool check_value(const ectx *e, const qvi_ffield *fc, qvi_pval v,
                        bool skip_match)
{
    const qvi_payload_ops *ops = e->ops;
    qvi_ptype t = ops->type(v);
    if (fc->parts & QVI_FP_VCOUNT)
        return count_ok(fc, count_of(ops, v));
    if (fc->parts & QVI_FP_IS_EMPTY) {
        if (t == QVI_PT_NULL)
            return fc->is_empty;
        if (t == QVI_PT_ARRAY)
            return (ops->first(v) == NULL) == fc->is_empty;
        return !fc->is_empty;
    }
    if (fc->parts & QVI_FP_IS_NULL) {
        if (t == QVI_PT_NULL)
            return fc->is_null;
        if (t == QVI_PT_ARRAY) {
            bool any = false;
            for (qvi_pval x = ops->first(v); x && !any; x = ops->next(v, x))
                any = ops->type(x) == QVI_PT_NULL;
            return any == fc->is_null;
        }
        return !fc->is_null;
    }
    if (t == QVI_PT_ARRAY) {
        for (qvi_pval x = ops->first(v); x; x = ops->next(v, x))
            if (check_match(e, fc, x, skip_match))
                return true;
        return false;
    }
    return check_match(e, fc, v, skip_match);
}

/* ---- visitors ------------------------------------------------------------ */

typedef struct field_visit {
    const ectx *e;
    const qvi_ffield *fc;
    bool any_value;
    bool skip_match;
} field_visit;

static bool visit_field(void *ctx, qvi_pval v)
{
    field_visit *fv = ctx;
    fv->any_value = true;
    return check_value(fv->e, fv->fc, v, fv->skip_match);
}

static bool visit_not_empty(void *ctx, qvi_pval v)
{
    const qvi_payload_ops *ops = ctx;
    qvi_ptype t = ops->type(v);
    if (t == QVI_PT_NULL)
        return false;
    return !(t == QVI_PT_ARRAY && ops->first(v) == NULL);
}

static bool visit_null(void *ctx, qvi_pval v)
{
    const qvi_payload_ops *ops = ctx;
    return ops->type(v) == QVI_PT_NULL;
}

typedef struct nested_visit {
    const ectx *e;
    uint32_t filter;
} nested_visit;

static bool visit_nested(void *ctx, qvi_pval v)
{
    nested_visit *nv = ctx;
    if (nv->e->ops->type(v) != QVI_PT_OBJECT)
        return false;
    ectx inner = *nv->e;
    inner.nested = true;
    return eval_node(&inner, v, nv->filter);
}

static bool visit_path(const ectx *e, qvi_pval root, uint32_t path,
                       bool (*visit)(void *, qvi_pval), void *ctx)
{
    const qvi_path *p = &e->f->paths[path];
    return qvi_path_visit(e->ops, root, e->f->items + p->item_off, p->n_items,
                          e->f->pool, visit, ctx);
}

/* ---- nodes --------------------------------------------------------------- */

/* True when fc's match part may be a token match: a text kind, outside
 * nested filters, with a hook, and no part that takes precedence over
 * match (values_count, is_empty, is_null). */
static bool text_by_tokens(const ectx *e, const qvi_ffield *fc)
{
    if (!e->t->text_match || e->nested || !(fc->parts & QVI_FP_MATCH) ||
        fc->parts & (QVI_FP_VCOUNT | QVI_FP_IS_EMPTY | QVI_FP_IS_NULL))
        return false;
    return fc->match_kind == QVI_M_TEXT || fc->match_kind == QVI_M_TEXT_ANY ||
           fc->match_kind == QVI_M_PHRASE;
}

static bool eval_group(const ectx *e, qvi_pval root, const qvi_fgroup *g)
{
    const uint32_t *k = e->f->kids;
    if (g->has_should) {
        bool any = false;
        for (uint32_t i = 0; i < g->should_n && !any; i++)
            any = eval_node(e, root, k[g->should_off + i]);
        if (!any)
            return false;
    }
    if (g->has_min) {
        uint64_t hits = 0;
        for (uint32_t i = 0; i < g->min_n && hits < g->min_count; i++)
            hits += eval_node(e, root, k[g->min_off + i]);
        if (hits < g->min_count)
            return false;
    }
    for (uint32_t i = 0; i < g->must_n; i++)
        if (!eval_node(e, root, k[g->must_off + i]))
            return false;
    for (uint32_t i = 0; i < g->not_n; i++)
        if (eval_node(e, root, k[g->not_off + i]))
            return false;
    return true;
}

static bool has_id(const ectx *e, const qvi_fnode *n)
{
    const qv_point_id *id = e->t->id;
    if (e->nested || !id || n->b == 0)
        return false;
    const qv_point_id *s = e->f->ids + n->a;
    size_t lo = 0, hi = n->b;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = qv_id_compare(&s[mid], id);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool in_slice(const ectx *e, const qvi_fnode *n)
{
    const qv_point_id *id = e->t->id;
    static const uint8_t zero[16];
    uint8_t buf[16];
    size_t len;
    if (e->nested || !id)
        return false;
    if (id->kind == QV_ID_NUM) {
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(id->u.num >> (8 * i));
        len = 8;
    } else {
        memcpy(buf, id->u.uuid, 16);
        len = 16;
    }
    return qvi_siphash24(zero, buf, len) % n->a == n->b;
}

static bool eval_node(const ectx *e, qvi_pval root, uint32_t node)
{
    const qvi_fnode *n = &e->f->nodes[node];
    switch (n->kind) {
    case QVI_FN_FILTER:
        return eval_group(e, root, &e->f->groups[n->a]);
    case QVI_FN_FIELD: {
        const qvi_ffield *fc = &e->f->fields[n->a];
        field_visit fv = {e, fc, false, false};
        if (text_by_tokens(e, fc)) {
            int r = e->t->text_match(e->t->text_ctx, n->a, root);
            if (r == 1)
                return true;
            if (r == 0) {
                /* The other parts, if any, still see each value. */
                if ((fc->parts & ~(uint32_t)QVI_FP_MATCH) == 0)
                    return false;
                fv.skip_match = true;
            }
        }
        if (visit_path(e, root, fc->path, visit_field, &fv))
            return true;
        if (fv.any_value)
            return false;
        /* No value at all: Qdrant's FieldCondition::check_empty. */
        if (fc->parts & QVI_FP_VCOUNT)
            return count_ok(fc, 0);
        if (fc->parts & QVI_FP_IS_EMPTY)
            return fc->is_empty;
        if (fc->parts & QVI_FP_IS_NULL)
            return !fc->is_null;
        return false;
    }
    case QVI_FN_IS_EMPTY:
        return !visit_path(e, root, n->a, visit_not_empty, (void *)e->ops);
    case QVI_FN_IS_NULL:
        return visit_path(e, root, n->a, visit_null, (void *)e->ops);
    case QVI_FN_HAS_ID:
        return has_id(e, n);
    case QVI_FN_HAS_VECTOR:
        return !e->nested && e->t->has_vector && e->t->id &&
               e->t->has_vector(e->t->has_vector_ctx, e->t->id,
                                e->f->pool + n->a);
    case QVI_FN_SLICE:
        return in_slice(e, n);
    case QVI_FN_NESTED: {
        nested_visit nv = {e, n->b};
        return visit_path(e, root, n->a, visit_nested, &nv);
    }
    default:
        return false;
    }
}

bool qvi_filter_eval_target(const qvi_filter *f, const qvi_filter_target *t)
{
    ectx e = {f, t->ops, t, false};
    return eval_node(&e, t->payload, f->root);
}

bool qvi_filter_eval(const qvi_filter *f, const cJSON *payload,
                     const qv_point_id *id)
{
    qvi_filter_target t = {
        .ops = &qvi_payload_cjson_ops, .payload = payload, .id = id};
    return qvi_filter_eval_target(f, &t);
}
