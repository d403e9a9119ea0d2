/*
 * jspan.c -- JSON values as spans of the original text (see jspan.h).
 *
 * The scanner checks structure (brackets, commas, colons, string escapes,
 * number syntax) just enough to find where a value ends; it does not
 * validate UTF-8 or build anything.  Whatever a span holds is later either
 * compared here or handed to a parser that validates it fully (the
 * library's payload parser, cJSON for strings, strtof for floats).
 */
#include "jspan.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *string_end(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
        if ((unsigned char)*p < 0x20)
            return NULL;
    }
    return NULL;
}

static const char *digits(const char *p, const char *end)
{
    const char *s = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > s ? p : NULL;
}

static const char *number_end(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (!(p = digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p = digits(p, end)))
            return NULL;
    }
    return p;
}

static const char *word_end(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(end - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

static const char *value_end(const char *p, const char *end, int depth);

static const char *container_end(const char *p, const char *end, int depth)
{
    bool object = *p == '{';
    char close = object ? '}' : ']';
    if (depth >= JS_MAX_DEPTH)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || !(p = string_end(p, end)))
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        if (!(p = value_end(p, end, depth + 1)))
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == close)
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

static const char *value_end(const char *p, const char *end, int depth)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
    case '[':
        return container_end(p, end, depth);
    case '"':
        return string_end(p, end);
    case 't':
        return word_end(p, end, "true");
    case 'f':
        return word_end(p, end, "false");
    case 'n':
        return word_end(p, end, "null");
    default:
        return number_end(p, end);
    }
}

bool js_root(const char *text, size_t len, js_span *out)
{
    const char *end = text + len;
    const char *p = skip_ws(text, end);
    const char *e = value_end(p, end, 0);
    if (!e || skip_ws(e, end) != end)
        return false;
    out->p = p;
    out->n = (size_t)(e - p);
    return true;
}

char js_kind(js_span v)
{
    if (v.n == 0)
        return 0;
    char c = v.p[0];
    return (c == '-' || (c >= '0' && c <= '9')) ? '0' : c;
}

bool js_iter_begin(js_span v, js_iter *it)
{
    char k = js_kind(v);
    if (k != '{' && k != '[')
        return false;
    it->object = k == '{';
    it->p = v.p + 1;
    it->end = v.p + v.n - 1; /* the closing bracket */
    it->first = true;
    return true;
}

bool js_iter_next(js_iter *it, js_span *key, js_span *val)
{
    const char *p = skip_ws(it->p, it->end);
    if (p >= it->end)
        return false;
    if (!it->first) {
        if (*p != ',')
            return false;
        p = skip_ws(p + 1, it->end);
    }
    it->first = false;
    if (it->object) {
        const char *k = p;
        if (p >= it->end || *p != '"' || !(p = string_end(p, it->end)))
            return false;
        if (key) {
            key->p = k;
            key->n = (size_t)(p - k);
        }
        p = skip_ws(p, it->end);
        if (p >= it->end || *p != ':')
            return false;
        p = skip_ws(p + 1, it->end);
    }
    const char *e = value_end(p, it->end, 1);
    if (!e)
        return false;
    val->p = p;
    val->n = (size_t)(e - p);
    it->p = e;
    return true;
}

char *js_string(js_span v)
{
    if (js_kind(v) != '"')
        return NULL;
    cJSON *s = cJSON_ParseWithLength(v.p, v.n);
    char *out = NULL;
    if (s && cJSON_IsString(s))
        out = strdup(s->valuestring);
    cJSON_Delete(s);
    return out;
}

bool js_key_is(js_span tok, const char *key)
{
    size_t n = strlen(key);
    /* The common case, a key without escapes, needs no decoding. */
    if (tok.n == n + 2 && !memchr(tok.p, '\\', tok.n))
        return !memcmp(tok.p + 1, key, n);
    if (!memchr(tok.p, '\\', tok.n))
        return false;
    char *s = js_string(tok);
    bool eq = s && !strcmp(s, key);
    free(s);
    return eq;
}

bool js_get(js_span obj, const char *key, js_span *out)
{
    js_iter it;
    js_span k, v;
    if (js_kind(obj) != '{' || !js_iter_begin(obj, &it))
        return false;
    while (js_iter_next(&it, &k, &v)) {
        if (js_key_is(k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

bool js_path(js_span root, const char *path, js_span *out)
{
    char key[256];
    js_span cur = root;
    while (*path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return false;
        memcpy(key, path, n);
        key[n] = 0;
        if (!js_get(cur, key, &cur))
            return false;
        path += n + (path[n] == '.');
    }
    *out = cur;
    return true;
}

/* ---- equality ----------------------------------------------------------- */

static bool is_integer(js_span v)
{
    return !memchr(v.p, '.', v.n) && !memchr(v.p, 'e', v.n) &&
           !memchr(v.p, 'E', v.n);
}

/* Integers by their digits ("-0" is 0); others as doubles, bit for bit
 * (strtod rounds correctly, so equal texts of one double compare equal
 * however they are spelt). */
static bool numbers_equal(js_span a, js_span b)
{
    bool ia = is_integer(a), ib = is_integer(b);
    if (ia != ib)
        return false;
    if (ia) {
        bool za = a.n == 2 && !memcmp(a.p, "-0", 2);
        bool zb = b.n == 2 && !memcmp(b.p, "-0", 2);
        if (za || zb)
            return (za || (a.n == 1 && a.p[0] == '0')) &&
                   (zb || (b.n == 1 && b.p[0] == '0'));
        return a.n == b.n && !memcmp(a.p, b.p, a.n);
    }
    char ta[64], tb[64];
    if (a.n >= sizeof(ta) || b.n >= sizeof(tb))
        return a.n == b.n && !memcmp(a.p, b.p, a.n);
    memcpy(ta, a.p, a.n);
    ta[a.n] = 0;
    memcpy(tb, b.p, b.n);
    tb[b.n] = 0;
    double da = strtod(ta, NULL), db = strtod(tb, NULL);
    return !memcmp(&da, &db, sizeof(da));
}

static bool strings_equal(js_span a, js_span b)
{
    if (a.n == b.n && !memcmp(a.p, b.p, a.n))
        return true;
    char *sa = js_string(a), *sb = js_string(b);
    bool eq = sa && sb && !strcmp(sa, sb);
    free(sa);
    free(sb);
    return eq;
}

static size_t count_items(js_span v)
{
    js_iter it;
    js_span x;
    size_t n = 0;
    if (js_iter_begin(v, &it))
        while (js_iter_next(&it, NULL, &x))
            n++;
    return n;
}

static bool objects_equal(js_span a, js_span b)
{
    if (count_items(a) != count_items(b))
        return false;
    js_iter it;
    js_span k, v;
    js_iter_begin(a, &it);
    while (js_iter_next(&it, &k, &v)) {
        char *key = js_string(k);
        js_span w;
        bool ok = key && js_get(b, key, &w) && js_equal(v, w);
        free(key);
        if (!ok)
            return false;
    }
    return true;
}

static bool arrays_equal(js_span a, js_span b)
{
    js_iter ia, ib;
    js_span x, y;
    js_iter_begin(a, &ia);
    js_iter_begin(b, &ib);
    for (;;) {
        bool ha = js_iter_next(&ia, NULL, &x);
        bool hb = js_iter_next(&ib, NULL, &y);
        if (ha != hb)
            return false;
        if (!ha)
            return true;
        if (!js_equal(x, y))
            return false;
    }
}

bool js_equal(js_span a, js_span b)
{
    char ka = js_kind(a);
    if (ka != js_kind(b))
        return false;
    switch (ka) {
    case '{':
        return objects_equal(a, b);
    case '[':
        return arrays_equal(a, b);
    case '"':
        return strings_equal(a, b);
    case '0':
        return numbers_equal(a, b);
    default:
        return a.n == b.n && !memcmp(a.p, b.p, a.n);
    }
}
