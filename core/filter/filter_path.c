/*
 * filter_path.c -- key paths and payload access for filters.
 *
 * A key path names values inside a payload the way Qdrant's JsonPath does:
 *
 *   path  := key ( "." key | "[" digits "]" | "[]" )*
 *   key   := raw | '"' (any byte but '"' and '\\')* '"'
 *   raw   := one or more of letter, digit, '_', '-' (non-ASCII UTF-8 bytes
 *            count as letters, as Rust's char::is_alphanumeric mostly does)
 *
 * Walking a path (qvi_path_visit) follows Qdrant's get_value exactly: a key
 * step only reads an object member (it does NOT reach through an array:
 * "a.b" on {"a": [{"b": 1}]} finds nothing, "a[].b" finds 1), "[n]" takes
 * one element, "[]" every element, and the values the last step reaches are
 * reported as they are -- an array stays an array, whose elements the
 * condition then examines (one level only: arrays of arrays are not
 * flattened further).
 *
 * The walk recurses once per path item; paths hold at most
 * QVI_PATH_MAX_ITEMS items, so the stack use is bounded whatever the
 * payload.
 *
 * The payload is only ever read through a qvi_payload_ops table, so a
 * compact stored payload can replace cJSON without touching the evaluator.
 * This file holds the cJSON table.
 */
#include "core/filter/filter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable arrays ----------------------------------------------------- */

bool qvi_filter_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t ncap = *cap ? (uint64_t)*cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    if (ncap < need)
        return false;
    size_t bytes;
    if (!qv_mul_size((size_t)ncap, elem, &bytes))
        return false;
    void *p = realloc(*arr, bytes);
    if (!p)
        return false;
    *arr = p;
    *cap = (uint32_t)ncap;
    return true;
}

/* ---- the cJSON payload representation ------------------------------------ */

static qvi_ptype cj_type(qvi_pval v)
{
    const cJSON *j = v;
    if (cJSON_IsNull(j))
        return QVI_PT_NULL;
    if (cJSON_IsBool(j))
        return QVI_PT_BOOL;
    if (cJSON_IsNumber(j))
        return QVI_PT_NUMBER;
    if (cJSON_IsString(j))
        return QVI_PT_STRING;
    if (cJSON_IsArray(j))
        return QVI_PT_ARRAY;
    if (cJSON_IsObject(j))
        return QVI_PT_OBJECT;
    return QVI_PT_OTHER;
}

static bool cj_boolean(qvi_pval v)
{
    return cJSON_IsTrue((const cJSON *)v);
}

static double cj_number(qvi_pval v)
{
    return ((const cJSON *)v)->valuedouble;
}

static bool cj_integer(qvi_pval v, int64_t *n)
{
    uint64_t u;
    double d;
    return qvi_json_num((const cJSON *)v, n, &u, &d) == QVI_JNUM_INT;
}

static const char *cj_string(qvi_pval v, size_t *len)
{
    const char *s = ((const cJSON *)v)->valuestring;
    *len = s ? strlen(s) : 0;
    return s ? s : "";
}

static qvi_pval cj_first(qvi_pval a)
{
    return ((const cJSON *)a)->child;
}

static qvi_pval cj_next(qvi_pval a, qvi_pval e)
{
    (void)a;
    return ((const cJSON *)e)->next;
}

static qvi_pval cj_get(qvi_pval o, const char *key, size_t len)
{
    for (const cJSON *c = ((const cJSON *)o)->child; c; c = c->next)
        if (c->string && strncmp(c->string, key, len) == 0 &&
            c->string[len] == '\0')
            return c;
    return NULL;
}

const qvi_payload_ops qvi_payload_cjson_ops = {
    .type = cj_type,
    .boolean = cj_boolean,
    .number = cj_number,
    .integer = cj_integer,
    .string = cj_string,
    .first = cj_first,
    .next = cj_next,
    .get = cj_get,
};

/* ---- parsing key paths --------------------------------------------------- */

static bool raw_key_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c >= 0x80;
}

/* Appends a KEY item for s[0..len) and the key (NUL-terminated) to the
 * pool. */
static qv_status push_key(const char *s, size_t len, qvi_path_item **items,
                          uint32_t *n_items, uint32_t *cap_items, char **pool,
                          uint32_t *pool_len, uint32_t *pool_cap)
{
    size_t need;
    if (!qv_add_size(*pool_len, len, &need) || !qv_add_size(need, 1, &need) ||
        need > UINT32_MAX)
        return QV_ENOMEM;
    if (!qvi_filter_grow((void **)pool, pool_cap, (uint32_t)need, 1) ||
        !qvi_filter_grow((void **)items, cap_items, *n_items + 1,
                         sizeof(**items)))
        return QV_ENOMEM;
    memcpy(*pool + *pool_len, s, len);
    (*pool)[*pool_len + len] = '\0';
    (*items)[*n_items] = (qvi_path_item){
        .kind = QVI_PI_KEY, .len = (uint32_t)len, .index = *pool_len};
    (*n_items)++;
    *pool_len = (uint32_t)need;
    return QV_OK;
}

qv_status qvi_path_parse(const char *text, size_t len, qvi_path_item **items,
                         uint32_t *n_items, uint32_t *cap_items, char **pool,
                         uint32_t *pool_len, uint32_t *pool_cap, char *err,
                         size_t errcap)
{
    qv_status st = QV_EINVAL;
    const char *why = NULL;
    size_t i = 0;
    uint32_t count = 0;
    uint32_t start_items = *n_items;

    if (len == 0) {
        why = "is empty";
        goto cleanup;
    }
    if (len > QVI_PATH_MAX_LEN) {
        why = "is longer than 1024 bytes";
        goto cleanup;
    }
    while (i < len) {
        if (count == QVI_PATH_MAX_ITEMS) {
            why = "has more than 32 parts";
            goto cleanup;
        }
        bool want_key = count == 0;
        if (!want_key && text[i] == '.') {
            i++;
            want_key = true;
        }
        if (want_key) {
            const char *k;
            size_t klen;
            if (i < len && text[i] == '"') {
                size_t j = i + 1;
                while (j < len && text[j] != '"' && text[j] != '\\')
                    j++;
                if (j >= len || text[j] != '"') {
                    why = "has an unterminated or escaped quoted key";
                    goto cleanup;
                }
                k = text + i + 1;
                klen = j - i - 1;
                i = j + 1;
            } else {
                size_t j = i;
                while (j < len && raw_key_byte((unsigned char)text[j]))
                    j++;
                if (j == i) {
                    why = "has an empty key or a character that needs "
                          "quoting";
                    goto cleanup;
                }
                k = text + i;
                klen = j - i;
                i = j;
            }
            st = push_key(k, klen, items, n_items, cap_items, pool, pool_len,
                          pool_cap);
            if (st != QV_OK)
                goto cleanup;
            st = QV_EINVAL;
        } else if (text[i] == '[') {
            size_t j = i + 1;
            uint64_t idx = 0;
            bool wildcard = j < len && text[j] == ']';
            while (j < len && text[j] >= '0' && text[j] <= '9') {
                if (idx > (UINT64_MAX - 9) / 10) {
                    why = "has an index that is too large";
                    goto cleanup;
                }
                idx = idx * 10 + (uint64_t)(text[j] - '0');
                j++;
            }
            if (j >= len || text[j] != ']' || (!wildcard && j == i + 1)) {
                why = "has a malformed [index]";
                goto cleanup;
            }
            if (!qvi_filter_grow((void **)items, cap_items, *n_items + 1,
                                 sizeof(**items))) {
                st = QV_ENOMEM;
                goto cleanup;
            }
            (*items)[(*n_items)++] = (qvi_path_item){
                .kind = wildcard ? QVI_PI_WILDCARD : QVI_PI_INDEX,
                .index = idx};
            i = j + 1;
        } else {
            why = "has an unexpected character (expected '.', '[n]' or "
                  "'[]')";
            goto cleanup;
        }
        count++;
    }
    st = QV_OK;

cleanup:
    if (st != QV_OK) {
        *n_items = start_items;
        if (errcap > 0)
            snprintf(err, errcap, "key \"%.*s\" %s", (int)(len > 64 ? 64 : len),
                     text, why ? why : "could not be stored (out of memory)");
    }
    return st;
}

/* ---- walking a path ----------------------------------------------------- */

typedef struct walk {
    const qvi_payload_ops *ops;
    const qvi_path_item *items;
    uint32_t n;
    const char *pool;
    bool (*visit)(void *ctx, qvi_pval v);
    void *ctx;
} walk;

/* Visits the values reached from v by items[k..n); true when stopped. */
static bool walk_from(const walk *w, qvi_pval v, uint32_t k)
{
    if (k == w->n)
        return w->visit(w->ctx, v);
    const qvi_path_item *it = &w->items[k];
    const qvi_payload_ops *ops = w->ops;
    switch (it->kind) {
    case QVI_PI_KEY: {
        if (ops->type(v) != QVI_PT_OBJECT)
            return false;
        qvi_pval m = ops->get(v, w->pool + it->index, it->len);
        return m ? walk_from(w, m, k + 1) : false;
    }
    case QVI_PI_INDEX: {
        if (ops->type(v) != QVI_PT_ARRAY)
            return false;
        uint64_t i = 0;
        for (qvi_pval e = ops->first(v); e; e = ops->next(v, e), i++)
            if (i == it->index)
                return walk_from(w, e, k + 1);
        return false;
    }
    case QVI_PI_WILDCARD:
        if (ops->type(v) != QVI_PT_ARRAY)
            return false;
        for (qvi_pval e = ops->first(v); e; e = ops->next(v, e))
            if (walk_from(w, e, k + 1))
                return true;
        return false;
    default:
        return false;
    }
}

bool qvi_path_visit(const qvi_payload_ops *ops, qvi_pval root,
                    const qvi_path_item *items, uint32_t n_items,
                    const char *pool, bool (*visit)(void *ctx, qvi_pval v),
                    void *ctx)
{
    if (!root || n_items == 0 || n_items > QVI_PATH_MAX_ITEMS)
        return false;
    walk w = {ops, items, n_items, pool, visit, ctx};
    return walk_from(&w, root, 0);
}

/* ---- exact JSON numbers -------------------------------------------------- */

bool qvi_json_set_text(cJSON *j, const char *text, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return false;
    memcpy(s, text, len);
    s[len] = '\0';
    free(j->valuestring); /* cJSON's default allocator is malloc */
    j->valuestring = s;
    return true;
}

/* The next number token in text[*pos, len) outside strings, as cJSON reads
 * it: a maximal run of the characters its parse_number collects.  Outside
 * strings only true/false/null and punctuation remain, none of which
 * starts with '-' or a digit.  False at the end of the text. */
static bool next_number(const char *text, size_t len, size_t *pos,
                        size_t *start, size_t *n)
{
    size_t i = *pos;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t s = i;
            while (i < len && (strchr("0123456789+-.eE", text[i]) != NULL) &&
                   text[i] != '\0')
                i++;
            *start = s;
            *n = i - s;
            *pos = i;
            return true;
        }
        i++;
    }
    *pos = i;
    return false;
}

/* Gives the number items under j, in pre-order, the texts of the number
 * tokens that follow *pos.  Recursion is bounded by cJSON's nesting limit. */
static bool attach(cJSON *j, const char *text, size_t len, size_t *pos)
{
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j)) {
            size_t s, n;
            if (!next_number(text, len, pos, &s, &n) ||
                !qvi_json_set_text(j, text + s, n))
                return false;
        } else if (j->child && !attach(j->child, text, len, pos)) {
            return false;
        }
    }
    return true;
}

cJSON *qvi_json_parse_exact(const char *text, size_t len, const char **end)
{
    const char *stop = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &stop, false);
    if (end)
        *end = stop;
    if (!j)
        return NULL;
    size_t pos = 0;
    if (!attach(j, text, stop && stop >= text ? (size_t)(stop - text) : len,
                &pos)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Number items that carry their text become raw items printing it. */
static void numbers_to_raw(cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j) && j->valuestring)
            j->type = cJSON_Raw | (j->type & ~0xFF);
        else if (j->child)
            numbers_to_raw(j->child);
    }
}

char *qvi_json_print_exact(const cJSON *j)
{
    cJSON *copy = cJSON_Duplicate(j, true);
    if (!copy)
        return NULL;
    numbers_to_raw(copy);
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

qvi_jnum qvi_json_num(const cJSON *j, int64_t *i, uint64_t *u, double *d)
{
    if (!cJSON_IsNumber(j))
        return QVI_JNUM_NONE;
    *d = j->valuedouble;
    const char *t = j->valuestring;
    if (!t) {
        if (fabs(*d) <= 9007199254740992.0 && *d == floor(*d)) {
            *i = (int64_t)*d;
            return QVI_JNUM_INT;
        }
        return QVI_JNUM_FLOAT;
    }
    if (strpbrk(t, ".eE"))
        return QVI_JNUM_FLOAT;
    /* An integer token; serde_json reads one beyond u64 (or below i64) as
     * a float, and so do we. */
    errno = 0;
    char *e = NULL;
    if (t[0] == '-') {
        long long v = strtoll(t, &e, 10);
        if (errno || *e)
            return QVI_JNUM_FLOAT;
        *i = (int64_t)v;
        return QVI_JNUM_INT;
    }
    unsigned long long v = strtoull(t, &e, 10);
    if (errno || *e)
        return QVI_JNUM_FLOAT;
    if (v <= (unsigned long long)INT64_MAX) {
        *i = (int64_t)v;
        return QVI_JNUM_INT;
    }
    *u = (uint64_t)v;
    return QVI_JNUM_UINT;
}
