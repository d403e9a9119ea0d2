/*
 * filter_parse.c -- Qdrant filter JSON -> compact qvi_filter.
 *
 * The grammar is Qdrant's (openapi schemas Filter, Condition,
 * FieldCondition, Match*, Range, DatetimeRange, Geo*, ValuesCount,
 * IsEmptyCondition, IsNullCondition, HasIdCondition, HasVectorCondition,
 * SliceCondition, NestedCondition, MinShould):
 *
 *   Filter     {must?, should?, must_not?, min_should?}; each of the first
 *              three is null, one condition or an array of conditions;
 *              min_should is {conditions: [...], min_count >= 1}
 *   Condition  a field condition (has "key"), {is_empty: {key}},
 *              {is_null: {key}}, {has_id: [ids]}, {has_vector: name},
 *              {slice: {total, index}}, {nested: {key, filter}}, or a Filter
 *
 * The parser is stricter than serde's untagged enums in one way that only
 * helps callers: an unknown member anywhere is an error naming it, where
 * Qdrant would sometimes ignore it or fall through to a confusing "data did
 * not match any variant".  Deliberate differences from Qdrant, all asked
 * for by our issue:
 *   - a range or values_count with no bound is refused (Qdrant matches any
 *     number);
 *   - integers (match values, any/except sets) must fit an i64, as in
 *     Qdrant; they are read from the text exactly (qvi_json_parse_exact),
 *     not through cJSON's double, so 9007199254740993 matches only itself.
 *
 * Structure of the result: see struct qvi_filter in filter.h.  Key paths
 * are interned by their source text, so a key used by many conditions is
 * parsed and stored once.  Sets (any/except, has_id) are sorted for binary
 * search.  Nothing of the cJSON tree is kept.
 *
 * Stack: parse_filter and parse_cond recurse once per nesting level and
 * refuse to go past QVI_FILTER_MAX_DEPTH, so a hostile 10,000-level filter
 * costs 64 frames and an error, never a stack overflow.  (cJSON's own parser
 * already stops at CJSON_NESTING_LIMIT = 1000 levels, but a caller can build
 * a deeper tree in memory, so the limit is enforced here too.)
 *
 * Errors: every failure names the part it is about as a path from the
 * filter's root, e.g. "must[2].range: needs at least one of gt, gte, lt,
 * lte" or "should[0].nested.filter.must[1]: unknown condition member
 * \"kye\"".
 */
#include "core/filter/filter.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOC_CAP 200

typedef struct pctx {
    qvi_filter *f;
    char *err;
    size_t errcap;
    char loc[LOC_CAP];
    size_t loc_len; /* may exceed LOC_CAP-1 when truncated */
} pctx;

/* ---- locations and errors ------------------------------------------------ */

/* Appends ".name" (or "name" at the root) to the location; returns the old
 * length for loc_pop. */
static size_t loc_push(pctx *p, const char *name)
{
    size_t old = p->loc_len;
    if (old < LOC_CAP - 1) {
        int n =
            snprintf(p->loc + old, LOC_CAP - old, "%s%s", old ? "." : "", name);
        p->loc_len = n < 0 ? old : old + (size_t)n;
    }
    return old;
}

static size_t loc_push_index(pctx *p, size_t i)
{
    size_t old = p->loc_len;
    if (old < LOC_CAP - 1) {
        int n = snprintf(p->loc + old, LOC_CAP - old, "[%zu]", i);
        p->loc_len = n < 0 ? old : old + (size_t)n;
    }
    return old;
}

static void loc_pop(pctx *p, size_t old)
{
    p->loc_len = old;
    if (old < LOC_CAP)
        p->loc[old] = '\0';
}

static qv_status fail(pctx *p, qv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static qv_status fail(pctx *p, qv_status st, const char *fmt, ...)
{
    if (p->errcap == 0)
        return st;
    int n = snprintf(p->err, p->errcap, "%s: ", p->loc_len ? p->loc : "filter");
    if (n < 0 || (size_t)n >= p->errcap)
        return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return st;
}

static qv_status nomem(pctx *p)
{
    return fail(p, QV_ENOMEM, "out of memory");
}

/* ---- storage ------------------------------------------------------------- */

#define GROW(p, arr, n, cap, extra)                                            \
    qvi_filter_grow((void **)&(p)->f->arr, &(p)->f->cap,                       \
                    (p)->f->n + (uint32_t)(extra), sizeof(*(p)->f->arr))

static qv_status add_node(pctx *p, uint32_t kind, uint32_t a, uint32_t b,
                          uint32_t *out)
{
    if (p->f->n_nodes == UINT32_MAX || !GROW(p, nodes, n_nodes, cap_nodes, 1))
        return nomem(p);
    p->f->nodes[p->f->n_nodes] = (qvi_fnode){kind, a, b};
    *out = p->f->n_nodes++;
    return QV_OK;
}

/* Copies s[0..len) and a NUL into the pool; *off receives its offset. */
static qv_status pool_add(pctx *p, const char *s, size_t len, uint32_t *off)
{
    size_t need;
    if (!qv_add_size(p->f->pool_len, len, &need) ||
        !qv_add_size(need, 1, &need) || need > UINT32_MAX ||
        !qvi_filter_grow((void **)&p->f->pool, &p->f->pool_cap, (uint32_t)need,
                         1))
        return nomem(p);
    memcpy(p->f->pool + p->f->pool_len, s, len);
    p->f->pool[p->f->pool_len + len] = '\0';
    *off = p->f->pool_len;
    p->f->pool_len = (uint32_t)need;
    return QV_OK;
}

/* Interns a key path (with "[]" appended when wildcard is set and the path
 * does not already end in one); *out is the path index. */
static qv_status intern_path(pctx *p, const char *text, bool wildcard,
                             uint32_t *out)
{
    qvi_filter *f = p->f;
    size_t len = strlen(text);
    char *full = NULL;
    qv_status st = QV_OK;
    if (wildcard &&
        !(len >= 2 && text[len - 2] == '[' && text[len - 1] == ']')) {
        size_t flen;
        if (!qv_add_size(len, 3, &flen) || !(full = malloc(flen))) {
            st = nomem(p);
            goto cleanup;
        }
        memcpy(full, text, len);
        memcpy(full + len, "[]", 3);
        text = full;
        len += 2;
    }
    for (uint32_t i = 0; i < f->n_paths; i++) {
        const char *t = f->pool + f->path_text[i];
        if (strlen(t) == len && memcmp(t, text, len) == 0) {
            *out = i;
            goto cleanup;
        }
    }
    if (!GROW(p, paths, n_paths, cap_paths, 1) ||
        !qvi_filter_grow((void **)&f->path_text, &f->cap_path_text,
                         f->n_paths + 1, sizeof(*f->path_text))) {
        st = nomem(p);
        goto cleanup;
    }
    uint32_t first = f->n_items;
    char msg[QVI_FILTER_ERRMSG_CAP];
    st = qvi_path_parse(text, len, &f->items, &f->n_items, &f->cap_items,
                        &f->pool, &f->pool_len, &f->pool_cap, msg, sizeof(msg));
    if (st != QV_OK) {
        st = fail(p, st, "%s", msg);
        goto cleanup;
    }
    uint32_t toff;
    st = pool_add(p, text, len, &toff);
    if (st != QV_OK)
        goto cleanup;
    f->paths[f->n_paths] = (qvi_path){first, f->n_items - first};
    f->path_text[f->n_paths] = toff;
    *out = f->n_paths++;

cleanup:
    free(full);
    return st;
}

/* ---- JSON helpers -------------------------------------------------------- */

static const char *jtype(const cJSON *j)
{
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsObject(j))
        return "an object";
    return "an invalid value";
}

/* An integer in i64 range, read exactly (qvi_json_num). */
static bool exact_int(const cJSON *j, int64_t *out)
{
    uint64_t u;
    double d;
    return qvi_json_num(j, out, &u, &d) == QVI_JNUM_INT;
}

/* Checks that every member of obj is one of names (NULL-terminated). */
static qv_status only_members(pctx *p, const cJSON *obj,
                              const char *const *names)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool ok = false;
        for (size_t i = 0; names[i]; i++)
            ok = ok || strcmp(c->string, names[i]) == 0;
        if (!ok)
            return fail(p, QV_EINVAL, "unknown member \"%.40s\"", c->string);
    }
    return QV_OK;
}

/* Rejects duplicate members (cJSON keeps them; Qdrant's serde refuses). */
static qv_status no_duplicates(pctx *p, const cJSON *obj)
{
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return fail(p, QV_EINVAL, "duplicate member \"%.40s\"",
                            a->string);
    return QV_OK;
}

static qv_status need_object(pctx *p, const cJSON *j, const char *what)
{
    if (!cJSON_IsObject(j))
        return fail(p, QV_EINVAL, "%s must be an object, not %s", what,
                    jtype(j));
    return no_duplicates(p, j);
}

/* ---- date-times ---------------------------------------------------------- */

static bool take_digits(const char *s, size_t len, size_t *i, size_t n,
                        int *out)
{
    int v = 0;
    if (*i + n > len)
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += n;
    *out = v;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool qvi_datetime_parse(const char *s, size_t len, qvi_datetime *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    int64_t nsec = 0;
    int64_t offset = 0; /* seconds east of UTC */

    if (!take_digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
        !take_digits(s, len, &i, 2, &mo) || i >= len || s[i++] != '-' ||
        !take_digits(s, len, &i, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return false;
    if (i < len) {
        char sep = s[i++];
        if (sep != 'T' && sep != 't' && sep != ' ')
            return false;
        if (!take_digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' ||
            !take_digits(s, len, &i, 2, &mi) || h > 23 || mi > 59)
            return false;
        if (i == len) {
            /* "%Y-%m-%dT%H:%M" or "%Y-%m-%d %H:%M" (naive, no seconds):
             * Qdrant 1.19's DateTimeWrapper::from_str tries both
             * (lib/segment/src/types.rs, qdrant issue #8718); 't' is not a
             * chrono literal match there. */
            if (sep == 't')
                return false;
        } else {
            if (s[i++] != ':' || !take_digits(s, len, &i, 2, &sec) || sec > 59)
                return false;
            if (i < len && s[i] == '.') {
                size_t start = ++i;
                int64_t scale = 100000000;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    nsec += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == start)
                    return false;
            }
            if (i == len) {
                /* Naive: 'T' or ' '. */
                if (sep == 't')
                    return false;
            } else if (s[i] == 'Z' || s[i] == 'z') {
                if (++i != len)
                    return false;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i++] == '-' ? -1 : 1;
                int oh, om = 0;
                if (!take_digits(s, len, &i, 2, &oh) || oh > 23)
                    return false;
                if (i < len && s[i] == ':') {
                    i++;
                    if (!take_digits(s, len, &i, 2, &om))
                        return false;
                } else if (i < len) {
                    if (!take_digits(s, len, &i, 2, &om) || sep == 't')
                        return false;
                } else if (sep == 't') {
                    return false;
                }
                if (i != len || om > 59)
                    return false;
                offset = sign * (oh * 3600 + om * 60);
            } else {
                return false;
            }
        }
    }
    out->sec =
        days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    out->nsec = (int32_t)nsec;
    return true;
}

/* ---- conditions ---------------------------------------------------------- */

static qv_status parse_filter(pctx *p, const cJSON *j, int depth,
                              uint32_t *out);
static qv_status parse_cond(pctx *p, const cJSON *j, int depth, uint32_t *out);

/* Parses a key member into an interned path. */
static qv_status parse_key(pctx *p, const cJSON *j, bool wildcard,
                           uint32_t *out)
{
    size_t old = loc_push(p, "key");
    qv_status st;
    if (!cJSON_IsString(j))
        st = fail(p, QV_EINVAL, "must be a string, not %s", jtype(j));
    else
        st = intern_path(p, j->valuestring, wildcard, out);
    loc_pop(p, old);
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_fstr(const void *a, const void *b, void *pool)
{
    const qvi_fstr *x = a, *y = b;
    const char *s = pool;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(s + x->off, s + y->off, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* any / except: an array of strings or of integers. */
static qv_status parse_set(pctx *p, const cJSON *arr, qvi_ffield *fc,
                           bool except)
{
    qvi_filter *f = p->f;
    if (!cJSON_IsArray(arr))
        return fail(p, QV_EINVAL,
                    "must be an array of strings or integers, "
                    "not %s",
                    jtype(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    bool strings = !arr->child || cJSON_IsString(arr->child);
    fc->match_kind = strings ? (except ? QVI_M_EXCEPT_STR : QVI_M_ANY_STR)
                             : (except ? QVI_M_EXCEPT_INT : QVI_M_ANY_INT);
    if (n > UINT32_MAX / 2)
        return nomem(p);
    if (strings ? !GROW(p, strs, n_strs, cap_strs, n)
                : !GROW(p, ints, n_ints, cap_ints, n))
        return nomem(p);
    fc->set_off = strings ? f->n_strs : f->n_ints;
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (strings) {
            if (!cJSON_IsString(e))
                return fail(p, QV_EINVAL,
                            "element %zu is %s; all elements must be "
                            "strings, like the first",
                            i, jtype(e));
            uint32_t off;
            qv_status st =
                pool_add(p, e->valuestring, strlen(e->valuestring), &off);
            if (st != QV_OK)
                return st;
            f->strs[f->n_strs++] =
                (qvi_fstr){off, (uint32_t)strlen(e->valuestring)};
        } else {
            int64_t v;
            if (!exact_int(e, &v))
                return fail(
                    p, QV_EINVAL,
                    "element %zu is %s; all elements must be "
                    "integers (i64), like the first",
                    i, cJSON_IsNumber(e) ? "not such an integer" : jtype(e));
            f->ints[f->n_ints++] = v;
        }
    }
    fc->set_n = (uint32_t)n;
    if (n == 0) /* the arrays may still be NULL */
        return QV_OK;
    if (strings)
        qsort_r(f->strs + fc->set_off, n, sizeof(qvi_fstr), cmp_fstr, f->pool);
    else
        qsort(f->ints + fc->set_off, n, sizeof(int64_t), cmp_i64);
    return QV_OK;
}

/* How a refused match value is named: Qdrant's match values are i64, so a
 * u64 above 2^63-1 is refused too, but it is no fraction. */
static const char *number_kind(const cJSON *v)
{
    int64_t i;
    uint64_t u;
    double d;
    if (!cJSON_IsNumber(v))
        return jtype(v);
    return qvi_json_num(v, &i, &u, &d) == QVI_JNUM_UINT
               ? "an integer above the i64 range"
               : "a non-integer number";
}

static qv_status parse_match(pctx *p, const cJSON *m, qvi_ffield *fc)
{
    static const char *const kinds[] = {"value",    "any",    "except", "text",
                                        "text_any", "phrase", "prefix", NULL};
    qv_status st = need_object(p, m, "match");
    if (st != QV_OK)
        return st;
    st = only_members(p, m, kinds);
    if (st != QV_OK)
        return st;
    if (!m->child || m->child->next)
        return fail(p, QV_EINVAL,
                    "needs exactly one of value, any, except, "
                    "text, text_any, phrase, prefix");
    const cJSON *v = m->child;
    const char *k = v->string;
    size_t old = loc_push(p, k);
    if (strcmp(k, "value") == 0) {
        if (cJSON_IsBool(v)) {
            fc->match_kind = QVI_M_BOOL;
            fc->mbool = cJSON_IsTrue(v);
        } else if (cJSON_IsString(v)) {
            fc->match_kind = QVI_M_STR;
            fc->str_len = (uint32_t)strlen(v->valuestring);
            st = pool_add(p, v->valuestring, fc->str_len, &fc->str_off);
        } else if (exact_int(v, &fc->mint)) {
            fc->match_kind = QVI_M_INT;
        } else {
            st = fail(p, QV_EINVAL,
                      "must be a string, an integer (i64) or a "
                      "boolean, not %s",
                      number_kind(v));
        }
    } else if (strcmp(k, "any") == 0 || strcmp(k, "except") == 0) {
        st = parse_set(p, v, fc, k[0] == 'e');
    } else {
        if (!cJSON_IsString(v)) {
            st = fail(p, QV_EINVAL, "must be a string, not %s", jtype(v));
        } else {
            fc->match_kind = strcmp(k, "text_any") == 0 ? QVI_M_TEXT_ANY
                             : strcmp(k, "prefix") == 0 ? QVI_M_PREFIX
                             : strcmp(k, "phrase") == 0 ? QVI_M_PHRASE
                                                        : QVI_M_TEXT;
            fc->str_len = (uint32_t)strlen(v->valuestring);
            st = pool_add(p, v->valuestring, fc->str_len, &fc->str_off);
        }
    }
    loc_pop(p, old);
    return st;
}

static const char *const BOUNDS[] = {"gt", "gte", "lt", "lte", NULL};

static qv_status parse_range(pctx *p, const cJSON *r, qvi_ffield *fc)
{
    qv_status st = need_object(p, r, "range");
    if (st == QV_OK)
        st = only_members(p, r, BOUNDS);
    if (st != QV_OK)
        return st;
    int nums = 0, strs = 0;
    uint32_t bits = 0;
    for (int b = 0; b < 4; b++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, BOUNDS[b]);
        if (!v || cJSON_IsNull(v))
            continue;
        size_t old = loc_push(p, BOUNDS[b]);
        if (cJSON_IsNumber(v)) {
            nums++;
            fc->r[b] = v->valuedouble;
        } else if (cJSON_IsString(v)) {
            strs++;
            if (!qvi_datetime_parse(v->valuestring, strlen(v->valuestring),
                                    &fc->dt[b]))
                st = fail(p, QV_EINVAL,
                          "\"%.40s\" is not a date-time (RFC 3339, e.g. "
                          "2024-01-02T03:04:05Z)",
                          v->valuestring);
        } else {
            st = fail(p, QV_EINVAL,
                      "must be a number or a date-time string, not %s",
                      jtype(v));
        }
        loc_pop(p, old);
        if (st != QV_OK)
            return st;
        bits |= 1u << b;
    }
    if (!bits)
        return fail(p, QV_EINVAL, "needs at least one of gt, gte, lt, lte");
    if (nums && strs)
        return fail(p, QV_EINVAL,
                    "bounds must be all numbers or all "
                    "date-time strings, not a mix");
    if (nums) {
        fc->parts |= QVI_FP_RANGE;
        fc->rbits = bits;
    } else {
        fc->parts |= QVI_FP_DTRANGE;
        fc->dbits = bits;
    }
    return QV_OK;
}

static qv_status parse_values_count(pctx *p, const cJSON *r, qvi_ffield *fc)
{
    qv_status st = need_object(p, r, "values_count");
    if (st == QV_OK)
        st = only_members(p, r, BOUNDS);
    if (st != QV_OK)
        return st;
    for (int b = 0; b < 4; b++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, BOUNDS[b]);
        int64_t n;
        if (!v || cJSON_IsNull(v))
            continue;
        if (!exact_int(v, &n) || n < 0) {
            size_t old = loc_push(p, BOUNDS[b]);
            st = fail(p, QV_EINVAL, "must be a non-negative integer, not %s",
                      cJSON_IsNumber(v) ? "this number" : jtype(v));
            loc_pop(p, old);
            return st;
        }
        fc->vc[b] = (uint64_t)n;
        fc->vbits |= 1u << b;
    }
    if (!fc->vbits)
        return fail(p, QV_EINVAL, "needs at least one of gt, gte, lt, lte");
    fc->parts |= QVI_FP_VCOUNT;
    return QV_OK;
}

/* A GeoPoint {lon, lat} with lon in [-180, 180] and lat in [-90, 90]. */
static qv_status parse_point(pctx *p, const cJSON *j, const char *name,
                             double *lat, double *lon)
{
    static const char *const ll[] = {"lon", "lat", NULL};
    size_t old = loc_push(p, name);
    qv_status st = need_object(p, j, "a geo point");
    if (st == QV_OK)
        st = only_members(p, j, ll);
    if (st == QV_OK) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "lat");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "lon");
        if (!cJSON_IsNumber(a) || !cJSON_IsNumber(o))
            st = fail(p, QV_EINVAL, "needs numbers lat and lon");
        else if (!(fabs(o->valuedouble) <= 180.0))
            st = fail(p, QV_EINVAL, "lon %g is outside [-180, 180]",
                      o->valuedouble);
        else if (!(fabs(a->valuedouble) <= 90.0))
            st = fail(p, QV_EINVAL, "lat %g is outside [-90, 90]",
                      a->valuedouble);
        else {
            *lat = a->valuedouble;
            *lon = o->valuedouble;
        }
    }
    loc_pop(p, old);
    return st;
}

static qv_status new_geo(pctx *p, qvi_ffield *fc)
{
    if (!GROW(p, geos, n_geos, cap_geos, 1))
        return nomem(p);
    fc->geo = p->f->n_geos++;
    memset(&p->f->geos[fc->geo], 0, sizeof(qvi_fgeo));
    return QV_OK;
}

/* A GeoLineString {points: [...]}: at least 4 points, closed. */
static qv_status parse_ring(pctx *p, const cJSON *j)
{
    static const char *const pts_only[] = {"points", NULL};
    qvi_filter *f = p->f;
    qv_status st = need_object(p, j, "a line string");
    if (st == QV_OK)
        st = only_members(p, j, pts_only);
    if (st != QV_OK)
        return st;
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    if (!cJSON_IsArray(pts))
        return fail(p, QV_EINVAL, "needs an array \"points\"");
    size_t n = (size_t)cJSON_GetArraySize(pts);
    if (n < 4)
        return fail(p, QV_EINVAL, "needs at least 4 points, has %zu", n);
    if (n > UINT32_MAX / 4 || !GROW(p, pts, n_pts, cap_pts, 2 * n) ||
        !GROW(p, rings, n_rings, cap_rings, 1))
        return nomem(p);
    uint32_t off = f->n_pts;
    size_t i = 0;
    size_t old = loc_push(p, "points");
    for (const cJSON *e = pts->child; e && st == QV_OK; e = e->next, i++) {
        size_t o2 = loc_push_index(p, i);
        st = parse_point(p, e, "", &f->pts[off + 2 * i + 1],
                         &f->pts[off + 2 * i]);
        loc_pop(p, o2);
    }
    loc_pop(p, old);
    if (st != QV_OK)
        return st;
    if (f->pts[off] != f->pts[off + 2 * (n - 1)] ||
        f->pts[off + 1] != f->pts[off + 2 * (n - 1) + 1])
        return fail(p, QV_EINVAL,
                    "the first and last points must be the "
                    "same (a closed ring)");
    f->n_pts += (uint32_t)(2 * n);
    f->rings[f->n_rings++] = (qvi_fring){off, (uint32_t)n};
    return QV_OK;
}

static qv_status parse_geo(pctx *p, const char *kind, const cJSON *g,
                           qvi_ffield *fc)
{
    qv_status st = need_object(p, g, kind);
    if (st != QV_OK)
        return st;
    if (strcmp(kind, "geo_radius") == 0) {
        static const char *const m[] = {"center", "radius", NULL};
        if ((st = only_members(p, g, m)) != QV_OK || (st = new_geo(p, fc)))
            return st;
        qvi_fgeo *geo = &p->f->geos[fc->geo];
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(g, "center");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(g, "radius");
        if (!c)
            return fail(p, QV_EINVAL, "needs a center");
        if ((st = parse_point(p, c, "center", &geo->lat0, &geo->lon0)))
            return st;
        if (!cJSON_IsNumber(r))
            return fail(p, QV_EINVAL, "needs a number radius (metres)");
        geo->radius = r->valuedouble;
        fc->parts |= QVI_FP_GEO_RADIUS;
    } else if (strcmp(kind, "geo_bounding_box") == 0) {
        static const char *const m[] = {"top_left", "bottom_right", NULL};
        if ((st = only_members(p, g, m)) != QV_OK || (st = new_geo(p, fc)))
            return st;
        qvi_fgeo *geo = &p->f->geos[fc->geo];
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(g, "top_left");
        const cJSON *br = cJSON_GetObjectItemCaseSensitive(g, "bottom_right");
        if (!tl || !br)
            return fail(p, QV_EINVAL, "needs top_left and bottom_right");
        if ((st = parse_point(p, tl, "top_left", &geo->lat0, &geo->lon0)) ||
            (st = parse_point(p, br, "bottom_right", &geo->lat1, &geo->lon1)))
            return st;
        fc->parts |= QVI_FP_GEO_BOX;
    } else {
        static const char *const m[] = {"exterior", "interiors", NULL};
        if ((st = only_members(p, g, m)) != QV_OK || (st = new_geo(p, fc)))
            return st;
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(g, "exterior");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(g, "interiors");
        if (!ext)
            return fail(p, QV_EINVAL, "needs an exterior");
        uint32_t first = p->f->n_rings;
        size_t old = loc_push(p, "exterior");
        st = parse_ring(p, ext);
        loc_pop(p, old);
        if (st != QV_OK)
            return st;
        if (in && !cJSON_IsNull(in)) {
            old = loc_push(p, "interiors");
            if (!cJSON_IsArray(in))
                st = fail(p, QV_EINVAL, "must be an array, not %s", jtype(in));
            size_t i = 0;
            for (const cJSON *e = in->child; e && st == QV_OK;
                 e = e->next, i++) {
                size_t o2 = loc_push_index(p, i);
                st = parse_ring(p, e);
                loc_pop(p, o2);
            }
            loc_pop(p, old);
            if (st != QV_OK)
                return st;
        }
        p->f->geos[fc->geo].ring_off = first;
        p->f->geos[fc->geo].n_rings = p->f->n_rings - first;
        fc->parts |= QVI_FP_GEO_POLY;
    }
    return QV_OK;
}

static qv_status parse_field(pctx *p, const cJSON *j, uint32_t *out)
{
    static const char *const members[] = {"key",
                                          "match",
                                          "range",
                                          "geo_radius",
                                          "geo_polygon",
                                          "values_count",
                                          "geo_bounding_box",
                                          "is_empty",
                                          "is_null",
                                          NULL};
    qvi_ffield fc;
    memset(&fc, 0, sizeof(fc));
    qv_status st = only_members(p, j, members);
    if (st == QV_OK)
        st = parse_key(p, cJSON_GetObjectItemCaseSensitive(j, "key"), false,
                       &fc.path);
    for (const cJSON *c = j->child; c && st == QV_OK; c = c->next) {
        const char *k = c->string;
        if (strcmp(k, "key") == 0 || cJSON_IsNull(c))
            continue;
        size_t old = loc_push(p, k);
        if (strcmp(k, "match") == 0) {
            st = parse_match(p, c, &fc);
            fc.parts |= QVI_FP_MATCH;
        } else if (strcmp(k, "range") == 0) {
            st = parse_range(p, c, &fc);
        } else if (strcmp(k, "values_count") == 0) {
            st = parse_values_count(p, c, &fc);
        } else if (strncmp(k, "geo_", 4) == 0) {
            st = parse_geo(p, k, c, &fc);
        } else if (!cJSON_IsBool(c)) {
            st = fail(p, QV_EINVAL, "must be a boolean, not %s", jtype(c));
        } else if (strcmp(k, "is_empty") == 0) {
            fc.parts |= QVI_FP_IS_EMPTY;
            fc.is_empty = cJSON_IsTrue(c);
        } else {
            fc.parts |= QVI_FP_IS_NULL;
            fc.is_null = cJSON_IsTrue(c);
        }
        loc_pop(p, old);
    }
    if (st != QV_OK)
        return st;
    if (!fc.parts)
        return fail(p, QV_EINVAL,
                    "a field condition needs one of match, range, "
                    "geo_radius, geo_bounding_box, geo_polygon, "
                    "values_count, is_empty, is_null");
    if (!GROW(p, fields, n_fields, cap_fields, 1))
        return nomem(p);
    p->f->fields[p->f->n_fields] = fc;
    return add_node(p, QVI_FN_FIELD, p->f->n_fields++, 0, out);
}

static int cmp_id(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

static qv_status parse_has_id(pctx *p, const cJSON *arr, uint32_t *out)
{
    qvi_filter *f = p->f;
    if (!cJSON_IsArray(arr))
        return fail(p, QV_EINVAL, "must be an array of ids, not %s",
                    jtype(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n > UINT32_MAX / 2 || !GROW(p, ids, n_ids, cap_ids, n))
        return nomem(p);
    uint32_t off = f->n_ids;
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        qv_point_id id;
        int64_t v;
        uint64_t uid;
        double dd;
        if (cJSON_IsString(e)) {
            if (qv_id_parse_uuid(e->valuestring, &id) != QV_OK) {
                size_t old = loc_push_index(p, i);
                qv_status st = fail(p, QV_EINVAL, "\"%.40s\" is not a UUID",
                                    e->valuestring);
                loc_pop(p, old);
                return st;
            }
        } else if (exact_int(e, &v) && v >= 0) {
            id = qv_id_from_num((uint64_t)v);
        } else if (qvi_json_num(e, &v, &uid, &dd) == QVI_JNUM_UINT) {
            id = qv_id_from_num(uid);
        } else {
            size_t old = loc_push_index(p, i);
            qv_status st = fail(p, QV_EINVAL,
                                "an id is an unsigned integer (< 2^64) or "
                                "a UUID string, not %s",
                                cJSON_IsNumber(e) ? "this number" : jtype(e));
            loc_pop(p, old);
            return st;
        }
        f->ids[f->n_ids++] = id;
    }
    if (n > 0)
        qsort(f->ids + off, n, sizeof(qv_point_id), cmp_id);
    return add_node(p, QVI_FN_HAS_ID, off, (uint32_t)n, out);
}

/* {key} of is_empty / is_null. */
static qv_status parse_payload_field(pctx *p, const cJSON *j, uint32_t kind,
                                     uint32_t *out)
{
    static const char *const key_only[] = {"key", NULL};
    uint32_t path;
    qv_status st = need_object(p, j, "this");
    if (st == QV_OK)
        st = only_members(p, j, key_only);
    if (st == QV_OK)
        st = parse_key(p, cJSON_GetObjectItemCaseSensitive(j, "key"), false,
                       &path);
    if (st == QV_OK)
        st = add_node(p, kind, path, 0, out);
    return st;
}

static qv_status parse_special(pctx *p, const cJSON *j, int depth,
                               uint32_t *out)
{
    const cJSON *c = j->child;
    const char *k = c->string;
    qv_status st;
    size_t old = loc_push(p, k);
    if (strcmp(k, "is_empty") == 0) {
        st = parse_payload_field(p, c, QVI_FN_IS_EMPTY, out);
    } else if (strcmp(k, "is_null") == 0) {
        st = parse_payload_field(p, c, QVI_FN_IS_NULL, out);
    } else if (strcmp(k, "has_id") == 0) {
        st = parse_has_id(p, c, out);
    } else if (strcmp(k, "has_vector") == 0) {
        uint32_t off;
        if (!cJSON_IsString(c))
            st = fail(p, QV_EINVAL, "must be a vector name, not %s", jtype(c));
        else if ((st = pool_add(p, c->valuestring, strlen(c->valuestring),
                                &off)) == QV_OK)
            st = add_node(p, QVI_FN_HAS_VECTOR, off, 0, out);
    } else if (strcmp(k, "slice") == 0) {
        static const char *const m[] = {"total", "index", NULL};
        int64_t total = -1, index = -1;
        if ((st = need_object(p, c, "slice")) == QV_OK &&
            (st = only_members(p, c, m)) == QV_OK) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "total");
            const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "index");
            if (!exact_int(t, &total) || total < 1 || total > UINT32_MAX)
                st = fail(p, QV_EINVAL,
                          "total must be an integer in [1, "
                          "4294967295]");
            else if (!exact_int(i, &index) || index < 0 || index > UINT32_MAX)
                st = fail(p, QV_EINVAL,
                          "index must be an integer in [0, "
                          "total)");
            else if (index >= total)
                /* A well-formed index out of its range: Qdrant's
                 * validator (422), not a format error; the server tells
                 * them apart by QV_ERANGE. */
                st = fail(p, QV_ERANGE, "index must be less than total");
            else
                st = add_node(p, QVI_FN_SLICE, (uint32_t)total, (uint32_t)index,
                              out);
        }
    } else {
        /* nested */
        static const char *const m[] = {"key", "filter", NULL};
        uint32_t path, sub;
        if ((st = need_object(p, c, "nested")) == QV_OK &&
            (st = only_members(p, c, m)) == QV_OK &&
            (st = parse_key(p, cJSON_GetObjectItemCaseSensitive(c, "key"), true,
                            &path)) == QV_OK) {
            const cJSON *fj = cJSON_GetObjectItemCaseSensitive(c, "filter");
            size_t o2 = loc_push(p, "filter");
            if (!fj)
                st = fail(p, QV_EINVAL, "is missing");
            else
                st = parse_filter(p, fj, depth + 1, &sub);
            loc_pop(p, o2);
            if (st == QV_OK)
                st = add_node(p, QVI_FN_NESTED, path, sub, out);
        }
    }
    loc_pop(p, old);
    return st;
}

static qv_status parse_cond(pctx *p, const cJSON *j, int depth, uint32_t *out)
{
    static const char *const special[] = {
        "is_empty", "is_null", "has_id", "has_vector", "slice", "nested", NULL};
    qv_status st = need_object(p, j, "a condition");
    if (st != QV_OK)
        return st;
    if (cJSON_GetObjectItemCaseSensitive(j, "key"))
        return parse_field(p, j, out);
    for (size_t i = 0; special[i]; i++)
        if (cJSON_GetObjectItemCaseSensitive(j, special[i])) {
            if (j->child->next)
                return fail(p, QV_EINVAL,
                            "a %s condition takes no other member", special[i]);
            return parse_special(p, j, depth, out);
        }
    return parse_filter(p, j, depth + 1, out);
}

/* must / should / must_not: null, one condition or an array of them.
 * Reserves the kid slots first so that the children, which add their own
 * kids, leave this group's range contiguous. */
static qv_status parse_list(pctx *p, const cJSON *j, int depth, uint32_t *off,
                            uint32_t *n, bool *present)
{
    qvi_filter *f = p->f;
    *present = j && !cJSON_IsNull(j);
    *off = f->n_kids;
    *n = 0;
    if (!*present)
        return QV_OK;
    bool single = cJSON_IsObject(j);
    if (!single && !cJSON_IsArray(j))
        return fail(p, QV_EINVAL,
                    "must be a condition or an array of "
                    "conditions, not %s",
                    jtype(j));
    size_t count = single ? 1 : (size_t)cJSON_GetArraySize(j);
    if (count > UINT32_MAX / 2 || !GROW(p, kids, n_kids, cap_kids, count))
        return nomem(p);
    f->n_kids += (uint32_t)count;
    size_t i = 0;
    const cJSON *e = single ? j : j->child;
    for (; e && i < count; e = single ? NULL : e->next, i++) {
        size_t old = single ? p->loc_len : loc_push_index(p, i);
        uint32_t node;
        qv_status st = parse_cond(p, e, depth, &node);
        loc_pop(p, old);
        if (st != QV_OK)
            return st;
        f->kids[*off + i] = node;
    }
    *n = (uint32_t)count;
    return QV_OK;
}

static qv_status parse_filter(pctx *p, const cJSON *j, int depth, uint32_t *out)
{
    static const char *const members[] = {"must", "should", "must_not",
                                          "min_should", NULL};
    qvi_fgroup g;
    memset(&g, 0, sizeof(g));
    bool present;
    if (depth > QVI_FILTER_MAX_DEPTH)
        return fail(p, QV_EINVAL, "filters nest deeper than %d levels",
                    QVI_FILTER_MAX_DEPTH);
    qv_status st = need_object(p, j, "a filter");
    if (st == QV_OK)
        st = only_members(p, j, members);
    if (st != QV_OK)
        return st;
    static const char *const lists[] = {"must", "should", "must_not"};
    uint32_t *offs[] = {&g.must_off, &g.should_off, &g.not_off};
    uint32_t *ns[] = {&g.must_n, &g.should_n, &g.not_n};
    for (int l = 0; l < 3; l++) {
        size_t old = loc_push(p, lists[l]);
        st = parse_list(p, cJSON_GetObjectItemCaseSensitive(j, lists[l]), depth,
                        offs[l], ns[l], &present);
        loc_pop(p, old);
        if (st != QV_OK)
            return st;
        if (l == 1)
            g.has_should = present;
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "min_should");
    if (ms && !cJSON_IsNull(ms)) {
        static const char *const m[] = {"conditions", "min_count", NULL};
        size_t old = loc_push(p, "min_should");
        int64_t mc = 0;
        const cJSON *conds = NULL, *cnt = NULL;
        if ((st = need_object(p, ms, "min_should")) == QV_OK &&
            (st = only_members(p, ms, m)) == QV_OK) {
            conds = cJSON_GetObjectItemCaseSensitive(ms, "conditions");
            cnt = cJSON_GetObjectItemCaseSensitive(ms, "min_count");
            if (!cJSON_IsArray(conds))
                st = fail(p, QV_EINVAL, "needs an array \"conditions\"");
            else if (!exact_int(cnt, &mc) || mc < 1)
                st = fail(p, QV_EINVAL, "min_count must be an integer >= 1");
        }
        if (st == QV_OK) {
            size_t o2 = loc_push(p, "conditions");
            st = parse_list(p, conds, depth, &g.min_off, &g.min_n, &present);
            loc_pop(p, o2);
            g.has_min = true;
            g.min_count = (uint64_t)mc;
        }
        loc_pop(p, old);
        if (st != QV_OK)
            return st;
    }
    if (!GROW(p, groups, n_groups, cap_groups, 1))
        return nomem(p);
    p->f->groups[p->f->n_groups] = g;
    return add_node(p, QVI_FN_FILTER, p->f->n_groups++, 0, out);
}

/* ---- entry points -------------------------------------------------------- */

void qvi_filter_free(qvi_filter *f)
{
    if (!f)
        return;
    free(f->nodes);
    free(f->kids);
    free(f->groups);
    free(f->fields);
    free(f->paths);
    free(f->path_text);
    free(f->items);
    free(f->ints);
    free(f->strs);
    free(f->ids);
    free(f->geos);
    free(f->rings);
    free(f->pts);
    free(f->pool);
    free(f);
}

qv_status qvi_filter_parse(const cJSON *json, qvi_filter **out, char *err,
                           size_t errcap)
{
    pctx p = {.err = err, .errcap = errcap};
    qv_status st;
    if (errcap > 0)
        err[0] = '\0';
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!json)
        return fail(&p, QV_ENULL, "is NULL");
    p.f = calloc(1, sizeof(qvi_filter));
    if (!p.f)
        return nomem(&p);
    st = parse_filter(&p, json, 1, &p.f->root);
    if (st != QV_OK)
        goto cleanup;
    *out = p.f;
    p.f = NULL;

cleanup:
    qvi_filter_free(p.f);
    return st;
}

qv_status qvi_filter_parse_text(const char *text, size_t len, qvi_filter **out,
                                char *err, size_t errcap)
{
    qv_status st;
    cJSON *j = NULL;
    if (errcap > 0)
        err[0] = '\0';
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!text) {
        if (errcap > 0)
            snprintf(err, errcap, "filter: is NULL");
        return QV_ENULL;
    }
    const char *end = NULL;
    j = qvi_json_parse_exact(text, len, &end);
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        if (errcap > 0)
            snprintf(err, errcap,
                     "filter: not valid JSON near byte %zu (or nested deeper "
                     "than %d levels)",
                     at, CJSON_NESTING_LIMIT);
        st = QV_EINVAL;
        goto cleanup;
    }
    st = qvi_filter_parse(j, out, err, errcap);

cleanup:
    cJSON_Delete(j);
    return st;
}
