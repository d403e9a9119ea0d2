/*
 * filter_reference.c -- the test oracle for filters: Qdrant's rules applied
 * literally to the filter's cJSON, one rule per function, with no compiled
 * form, no interning and no early exits that are not obvious.
 *
 * Written independently of core/filter_eval.c: values at a key are gathered
 * into an array first (Qdrant's get_value) instead of visited; polygons use
 * a winding number instead of a crossing count; date-times are parsed with
 * sscanf for the forms the property test generates (plus "Z"/offsets).
 * Only the features the generator emits need to be right here; has_vector
 * and slice are covered by hand-written tests instead.  With a list of
 * full-text keys (ref_filter_eval_text), text / text_any / phrase on those
 * keys are Qdrant's token matches, over a tokenizer written separately
 * from core/pindex_text.c (ASCII letters and digits).
 */
#include "tests/filter_reference.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAXV 512

/* Which keys carry a full-text index (their text conditions are token
 * matches, outside nested filters). */
typedef struct ref_ctx {
    const char *const *text_keys;
    size_t n_text;
} ref_ctx;

typedef struct vals {
    const cJSON *v[MAXV];
    int n;
} vals;

/* Appends to out the values reached from cur by path text p. */
static void gather(const cJSON *cur, const char *p, vals *out)
{
    if (!cur)
        return;
    if (*p == '\0') {
        if (out->n < MAXV)
            out->v[out->n++] = cur;
        return;
    }
    if (*p == '[') {
        if (!cJSON_IsArray(cur))
            return;
        if (p[1] == ']') {
            for (const cJSON *e = cur->child; e; e = e->next)
                gather(e, p + 2, out);
            return;
        }
        char *end;
        long idx = strtol(p + 1, &end, 10);
        gather(cJSON_GetArrayItem(cur, (int)idx), end + 1, out);
        return;
    }
    if (*p == '.')
        p++;
    if (*p == '"') {
        const char *end = strchr(p + 1, '"');
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(end - p - 1), p + 1);
        if (cJSON_IsObject(cur))
            gather(cJSON_GetObjectItemCaseSensitive(cur, key), end + 1, out);
        return;
    }
    size_t len = strcspn(p, ".[");
    char key[128];
    snprintf(key, sizeof(key), "%.*s", (int)len, p);
    if (!cJSON_IsObject(cur))
        return;
    gather(cJSON_GetObjectItemCaseSensitive(cur, key), p + len, out);
}

static void values_at(const cJSON *payload, const char *key, vals *out)
{
    out->n = 0;
    gather(payload, key, out);
}

static bool is_int(const cJSON *v, double *d)
{
    if (!cJSON_IsNumber(v))
        return false;
    *d = v->valuedouble;
    return *d == floor(*d) && fabs(*d) <= 9007199254740992.0;
}

static bool in_list(const cJSON *list, const cJSON *v)
{
    for (const cJSON *e = list->child; e; e = e->next) {
        if (cJSON_IsString(e) && cJSON_IsString(v) &&
            strcmp(e->valuestring, v->valuestring) == 0)
            return true;
        double d;
        if (cJSON_IsNumber(e) && is_int(v, &d) && d == e->valuedouble)
            return true;
    }
    return false;
}

static bool list_is_strings(const cJSON *list)
{
    return !list->child || cJSON_IsString(list->child);
}

static bool ref_match(const cJSON *m, const cJSON *v)
{
    const cJSON *x;
    double d;
    if ((x = cJSON_GetObjectItem(m, "value"))) {
        if (cJSON_IsBool(x))
            return cJSON_IsBool(v) && cJSON_IsTrue(x) == cJSON_IsTrue(v);
        if (cJSON_IsString(x))
            return cJSON_IsString(v) &&
                   strcmp(x->valuestring, v->valuestring) == 0;
        return is_int(v, &d) && d == x->valuedouble;
    }
    if ((x = cJSON_GetObjectItem(m, "any"))) {
        if (list_is_strings(x))
            return cJSON_IsString(v) && in_list(x, v);
        return is_int(v, &d) && in_list(x, v);
    }
    if ((x = cJSON_GetObjectItem(m, "except"))) {
        if (cJSON_IsNull(v))
            return false;
        if (list_is_strings(x))
            return !(cJSON_IsString(v) && in_list(x, v));
        return !(is_int(v, &d) && in_list(x, v));
    }
    if (!cJSON_IsString(v))
        return false;
    const char *s = v->valuestring;
    if ((x = cJSON_GetObjectItem(m, "text")) ||
        (x = cJSON_GetObjectItem(m, "phrase")))
        return strstr(s, x->valuestring) != NULL;
    if ((x = cJSON_GetObjectItem(m, "prefix")))
        return strncmp(s, x->valuestring, strlen(x->valuestring)) == 0;
    if ((x = cJSON_GetObjectItem(m, "text_any"))) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", x->valuestring);
        for (char *save, *tok = strtok_r(buf, " \t\n\v\f\r", &save); tok;
             tok = strtok_r(NULL, " \t\n\v\f\r", &save))
            if (strstr(s, tok))
                return true;
        return false;
    }
    return false;
}

/* Seconds (as long double, with the fraction) of the forms the generator
 * writes: "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]" and "YYYY-MM-DD". */
static bool ref_datetime(const char *s, long double *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    const char *p = s + 10;
    long double frac = 0;
    int off = 0;
    if (*p) {
        if (*p != 'T' || sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &n) != 3)
            return false;
        p += 1 + n;
        if (*p == '.') {
            char *end;
            frac = strtold(p, &end);
            p = end;
        }
        if (*p == 'Z')
            p++;
        else if (*p == '+' || *p == '-') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
                return false;
            off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
            p += 6;
        }
        if (*p)
            return false;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    *out = (long double)timegm(&tm) - off + frac;
    return true;
}

static bool ref_bounds(const cJSON *r, long double x, bool dt)
{
    static const char *names[] = {"gt", "gte", "lt", "lte"};
    for (int i = 0; i < 4; i++) {
        const cJSON *b = cJSON_GetObjectItem(r, names[i]);
        if (!b || cJSON_IsNull(b))
            continue;
        long double lim = b->valuedouble;
        if (dt && !ref_datetime(b->valuestring, &lim))
            return false;
        bool ok = i == 0   ? x > lim
                  : i == 1 ? x >= lim
                  : i == 2 ? x < lim
                           : x <= lim;
        if (!ok)
            return false;
    }
    return true;
}

static bool range_is_dt(const cJSON *r)
{
    for (const cJSON *b = r->child; b; b = b->next)
        if (cJSON_IsString(b))
            return true;
    return false;
}

/* Winding number of the closed ring around (x, y); on-edge -> -1. */
static int winding(const cJSON *ring, double x, double y)
{
    const cJSON *pts = cJSON_GetObjectItem(ring, "points");
    int n = cJSON_GetArraySize(pts), w = 0;
    for (int i = 0; i + 1 < n; i++) {
        const cJSON *a = cJSON_GetArrayItem(pts, i);
        const cJSON *b = cJSON_GetArrayItem(pts, i + 1);
        double ax = cJSON_GetObjectItem(a, "lon")->valuedouble;
        double ay = cJSON_GetObjectItem(a, "lat")->valuedouble;
        double bx = cJSON_GetObjectItem(b, "lon")->valuedouble;
        double by = cJSON_GetObjectItem(b, "lat")->valuedouble;
        double side = (bx - ax) * (y - ay) - (x - ax) * (by - ay);
        if (side == 0 && fmin(ax, bx) <= x && x <= fmax(ax, bx) &&
            fmin(ay, by) <= y && y <= fmax(ay, by))
            return -1;
        if (ay <= y && by > y && side > 0)
            w++;
        else if (ay > y && by <= y && side < 0)
            w--;
    }
    return w;
}

static bool ref_geo(const cJSON *fc, const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return false;
    const cJSON *lo = cJSON_GetObjectItem(v, "lon");
    const cJSON *la = cJSON_GetObjectItem(v, "lat");
    if (!cJSON_IsNumber(lo) || !cJSON_IsNumber(la))
        return false;
    double x = lo->valuedouble, y = la->valuedouble;
    const cJSON *g;
    if ((g = cJSON_GetObjectItem(fc, "geo_radius"))) {
        const cJSON *c = cJSON_GetObjectItem(g, "center");
        double cy = cJSON_GetObjectItem(c, "lat")->valuedouble * M_PI / 180;
        double cx = cJSON_GetObjectItem(c, "lon")->valuedouble * M_PI / 180;
        double py = y * M_PI / 180, px = x * M_PI / 180;
        double h = pow(sin((py - cy) / 2), 2) +
                   cos(cy) * cos(py) * pow(sin((px - cx) / 2), 2);
        double dist = 2 * 6371008.8 * asin(sqrt(h));
        if (dist < cJSON_GetObjectItem(g, "radius")->valuedouble)
            return true;
    }
    if ((g = cJSON_GetObjectItem(fc, "geo_bounding_box"))) {
        const cJSON *tl = cJSON_GetObjectItem(g, "top_left");
        const cJSON *br = cJSON_GetObjectItem(g, "bottom_right");
        double l = cJSON_GetObjectItem(tl, "lon")->valuedouble;
        double t = cJSON_GetObjectItem(tl, "lat")->valuedouble;
        double r = cJSON_GetObjectItem(br, "lon")->valuedouble;
        double b = cJSON_GetObjectItem(br, "lat")->valuedouble;
        bool lon_ok = l <= r ? (x > l && x < r) : (x > l || x < r);
        if (lon_ok && y > b && y < t)
            return true;
    }
    if ((g = cJSON_GetObjectItem(fc, "geo_polygon"))) {
        int w = winding(cJSON_GetObjectItem(g, "exterior"), x, y);
        if (w <= 0) /* outside or on the edge */
            return false;
        const cJSON *ins = cJSON_GetObjectItem(g, "interiors");
        for (const cJSON *r = ins ? ins->child : NULL; r; r = r->next)
            if (winding(r, x, y) != 0)
                return false;
        return true;
    }
    return false;
}

/* One value against the condition's parts; skip_match leaves out a match
 * part already answered by tokens. */
static bool ref_one_value(const cJSON *fc, const cJSON *v, bool skip_match)
{
    const cJSON *x;
    if (!skip_match && (x = cJSON_GetObjectItem(fc, "match")) &&
        ref_match(x, v))
        return true;
    if ((x = cJSON_GetObjectItem(fc, "range"))) {
        long double t;
        if (range_is_dt(x)) {
            if (cJSON_IsString(v) && ref_datetime(v->valuestring, &t) &&
                ref_bounds(x, t, true))
                return true;
        } else if (cJSON_IsNumber(v) && ref_bounds(x, v->valuedouble, false))
            return true;
    }
    return ref_geo(fc, v);
}

static long ref_count(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return 0;
    return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
}

/* ---- full text (Qdrant's token match on a key with a text index) ------- */

#define MAXTOK 256

typedef struct toks {
    char t[MAXTOK][64];
    int n;
} toks;

/* Lowercase runs of ASCII letters and digits (bytes >= 0x80 count as
 * letters); the generator writes ASCII only. */
static void tokenize(const char *s, toks *out)
{
    char cur[64];
    int len = 0;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c && (isalnum(c) || c >= 0x80)) {
            if (len < 63)
                cur[len++] = (char)tolower(c);
            continue;
        }
        if (len > 0 && out->n < MAXTOK) {
            cur[len] = '\0';
            strcpy(out->t[out->n++], cur);
        }
        len = 0;
        if (!c)
            return;
    }
}

static bool has_token(const toks *d, const char *t)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->t[i], t) == 0)
            return true;
    return false;
}

/* Qdrant's token match: the strings at the key (array elements too) are
 * one document. */
static bool ref_tokens(const cJSON *m, const vals *vs)
{
    static toks doc, q; /* large: off the stack (single-threaded test) */
    doc.n = q.n = 0;
    for (int i = 0; i < vs->n; i++) {
        const cJSON *v = vs->v[i];
        if (cJSON_IsString(v))
            tokenize(v->valuestring, &doc);
        for (const cJSON *e = cJSON_IsArray(v) ? v->child : NULL; e;
             e = e->next)
            if (cJSON_IsString(e))
                tokenize(e->valuestring, &doc);
    }
    const cJSON *x;
    if ((x = cJSON_GetObjectItem(m, "text"))) {
        tokenize(x->valuestring, &q);
        for (int i = 0; i < q.n; i++)
            if (!has_token(&doc, q.t[i]))
                return false;
        return q.n > 0;
    }
    if ((x = cJSON_GetObjectItem(m, "text_any"))) {
        tokenize(x->valuestring, &q);
        for (int i = 0; i < q.n; i++)
            if (has_token(&doc, q.t[i]))
                return true;
        return false;
    }
    x = cJSON_GetObjectItem(m, "phrase");
    tokenize(x->valuestring, &q);
    for (int start = 0; q.n > 0 && start + q.n <= doc.n; start++) {
        int j = 0;
        while (j < q.n && strcmp(doc.t[start + j], q.t[j]) == 0)
            j++;
        if (j == q.n)
            return true;
    }
    return false;
}

static bool is_text_key(const ref_ctx *x, const char *key)
{
    for (size_t i = 0; i < x->n_text; i++)
        if (strcmp(x->text_keys[i], key) == 0)
            return true;
    return false;
}

static bool ref_field(const ref_ctx *cx, const cJSON *fc, const cJSON *payload,
                      bool nested)
{
    vals vs;
    const char *key = cJSON_GetObjectItem(fc, "key")->valuestring;
    values_at(payload, key, &vs);
    const cJSON *vc = cJSON_GetObjectItem(fc, "values_count");
    const cJSON *ie = cJSON_GetObjectItem(fc, "is_empty");
    const cJSON *in = cJSON_GetObjectItem(fc, "is_null");
    const cJSON *m = cJSON_GetObjectItem(fc, "match");
    bool skip_match = false;
    if (!nested && m && !vc && !ie && !in && is_text_key(cx, key) &&
        (cJSON_GetObjectItem(m, "text") || cJSON_GetObjectItem(m, "text_any") ||
         cJSON_GetObjectItem(m, "phrase"))) {
        if (ref_tokens(m, &vs))
            return true;
        skip_match = true;
    }
    if (vs.n == 0) {
        /* A missing key counts 0 values (Qdrant 1.19,
         * FieldCondition::check_empty -> ValuesCount::check_empty; qdrant PR
         * #9607, issue #9586). */
        if (vc)
            return ref_bounds(vc, 0, false);
        if (ie)
            return cJSON_IsTrue(ie);
        if (in)
            return !cJSON_IsTrue(in);
        return false;
    }
    for (int i = 0; i < vs.n; i++) {
        const cJSON *v = vs.v[i];
        bool ok;
        if (vc) {
            ok = ref_bounds(vc, ref_count(v), false);
        } else if (ie) {
            bool empty = cJSON_IsNull(v) ||
                         (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0);
            ok = empty == cJSON_IsTrue(ie);
        } else if (in) {
            bool null = cJSON_IsNull(v);
            if (cJSON_IsArray(v))
                for (const cJSON *e = v->child; e; e = e->next)
                    null = null || cJSON_IsNull(e);
            ok = null == cJSON_IsTrue(in);
        } else if (cJSON_IsArray(v)) {
            ok = false;
            for (const cJSON *e = v->child; e; e = e->next)
                ok = ok || ref_one_value(fc, e, skip_match);
        } else {
            ok = ref_one_value(fc, v, skip_match);
        }
        if (ok)
            return true;
    }
    return false;
}

static bool ref_cond(const ref_ctx *cx, const cJSON *c, const cJSON *payload,
                     const qv_point_id *id, bool nested);

static bool ref_group(const ref_ctx *cx, const cJSON *f, const cJSON *payload,
                      const qv_point_id *id, bool nested)
{
    static const char *names[] = {"must", "should", "must_not"};
    for (int k = 0; k < 3; k++) {
        const cJSON *l = cJSON_GetObjectItem(f, names[k]);
        if (!l || cJSON_IsNull(l))
            continue;
        int total = 0, hits = 0;
        if (cJSON_IsObject(l)) {
            total = 1;
            hits = ref_cond(cx, l, payload, id, nested);
        } else {
            for (const cJSON *c = l->child; c; c = c->next, total++)
                hits += ref_cond(cx, c, payload, id, nested);
        }
        if (k == 0 && hits != total)
            return false;
        if (k == 1 && hits == 0)
            return false;
        if (k == 2 && hits != 0)
            return false;
    }
    const cJSON *ms = cJSON_GetObjectItem(f, "min_should");
    if (ms && !cJSON_IsNull(ms)) {
        int hits = 0;
        for (const cJSON *c = cJSON_GetObjectItem(ms, "conditions")->child; c;
             c = c->next)
            hits += ref_cond(cx, c, payload, id, nested);
        if (hits < cJSON_GetObjectItem(ms, "min_count")->valuedouble)
            return false;
    }
    return true;
}

static bool ref_cond(const ref_ctx *cx, const cJSON *c, const cJSON *payload,
                     const qv_point_id *id, bool nested)
{
    const cJSON *x;
    vals vs;
    if (cJSON_GetObjectItem(c, "key"))
        return ref_field(cx, c, payload, nested);
    if ((x = cJSON_GetObjectItem(c, "is_empty"))) {
        values_at(payload, cJSON_GetObjectItem(x, "key")->valuestring, &vs);
        for (int i = 0; i < vs.n; i++)
            if (!cJSON_IsNull(vs.v[i]) &&
                !(cJSON_IsArray(vs.v[i]) && cJSON_GetArraySize(vs.v[i]) == 0))
                return false;
        return true;
    }
    if ((x = cJSON_GetObjectItem(c, "is_null"))) {
        values_at(payload, cJSON_GetObjectItem(x, "key")->valuestring, &vs);
        for (int i = 0; i < vs.n; i++)
            if (cJSON_IsNull(vs.v[i]))
                return true;
        return false;
    }
    if ((x = cJSON_GetObjectItem(c, "has_id"))) {
        if (nested || !id)
            return false;
        for (const cJSON *e = x->child; e; e = e->next) {
            char buf[64];
            if (cJSON_IsNumber(e) && id->kind == QV_ID_NUM &&
                (double)id->u.num == e->valuedouble)
                return true;
            if (cJSON_IsString(e) && id->kind == QV_ID_UUID &&
                qv_id_format(id, buf, sizeof(buf)) == QV_OK &&
                strcasecmp(buf, e->valuestring) == 0)
                return true;
        }
        return false;
    }
    if ((x = cJSON_GetObjectItem(c, "nested"))) {
        char key[256];
        const char *k = cJSON_GetObjectItem(x, "key")->valuestring;
        size_t n = strlen(k);
        snprintf(key, sizeof(key), "%s%s", k,
                 n >= 2 && strcmp(k + n - 2, "[]") == 0 ? "" : "[]");
        values_at(payload, key, &vs);
        for (int i = 0; i < vs.n; i++)
            if (cJSON_IsObject(vs.v[i]) &&
                ref_group(cx, cJSON_GetObjectItem(x, "filter"), vs.v[i], id,
                          true))
                return true;
        return false;
    }
    return ref_group(cx, c, payload, id, nested);
}

bool ref_filter_eval(const cJSON *filter, const cJSON *payload,
                     const qv_point_id *id)
{
    ref_ctx none = {NULL, 0};
    return ref_group(&none, filter, payload, id, false);
}

bool ref_filter_eval_text(const cJSON *filter, const cJSON *payload,
                          const qv_point_id *id, const char *const *text_keys,
                          size_t n_text)
{
    ref_ctx cx = {text_keys, n_text};
    return ref_group(&cx, filter, payload, id, false);
}
