/*
 * qjson.c -- reading Qdrant request values and writing reply values.
 *
 * See qjson.h for the contract.  The readers mirror what serde and
 * validator do in Qdrant for the same schema: a wrong JSON type is a 400
 * "Format error in JSON body" (serde), a value outside a declared minimum
 * is a 422 "Validation error in JSON body" (validator).  Our messages name
 * the field by its path in the request ("points[3].vector[7]: ...") where
 * serde names a line and column; that is the one deliberate difference.
 *
 * Floats are written with the fewest significant digits (7, 8 or 9) that
 * read back as the same float32, so a vector stored as 0.1 is returned as
 * 0.1 and not as the double 0.10000000149011612.
 *
 * Parsing (qj_parse) is the one entry point of every request body: cJSON
 * builds the tree (we do not write a JSON parser), then one linear pass
 * over the text, skipping strings, meets the number tokens in document
 * order -- the order of a pre-order walk of the tree, since cJSON keeps
 * every member, duplicates included, in place -- and hangs each token's
 * text on its item.  The same pass checks what serde_json checks and cJSON
 * does not: UTF-8 inside strings, the number grammar (no leading zero),
 * no byte-order mark; and it refuses "\u0000", which cJSON would turn into
 * a terminator that silently cuts keys, values and names.  Readers then
 * take integers from the text (ids up to 2^64-1, 2.0 is a float as in
 * serde) and request values handed to the library are printed with the
 * texts (qj_print), so the library reads exactly what the client sent.
 */
#include "qjson.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <limits.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors -------------------------------------------------------------- */

#define QJ_MSG_CAP 900

static bool vfail(qvs_resp *r, int status, const char *prefix,
                  const char *suffix, const char *fmt, va_list ap)
{
    char msg[QJ_MSG_CAP];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return qvs_fail(r, status, "%s%s%s", prefix, msg, suffix);
}

bool qj_fail_format(qvs_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 400, "Format error in JSON body: ", "", fmt, ap);
    va_end(ap);
    return false;
}

bool qj_fail_validation(qvs_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 422, "Validation error in JSON body: [", "]", fmt, ap);
    va_end(ap);
    return false;
}

bool qj_fail_input(qvs_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 400, "Wrong input: ", "", fmt, ap);
    va_end(ap);
    return false;
}

bool qj_fail_bad_request(qvs_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 400, "Bad request: ", "", fmt, ap);
    va_end(ap);
    return false;
}

bool qj_fail_not_found(qvs_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(r, 404, "Not found: ", "", fmt, ap);
    va_end(ap);
    return false;
}

bool qj_fail_lib(qvs_resp *r, qv_collection *c, qv_status st, const char *what)
{
    char msg[256] = "";
    if (c)
        qv_collection_errmsg(c, msg, sizeof(msg));
    if (!msg[0])
        snprintf(msg, sizeof(msg), "%s", qv_strerror(st));
    switch (st) {
    case QV_EDIM:
    case QV_ENONFINITE:
    case QV_EINVAL:
    case QV_ERANGE:
        return qj_fail_input(r, "%s: %s", what, msg);
    case QV_ENOTFOUND:
        return qj_fail_not_found(r, "%s", msg);
    default:
        return qvs_fail(r, 500, "Service internal error: %s: %s", what, msg);
    }
}

const char *qj_type_name(const cJSON *j)
{
    if (!j)
        return "nothing";
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
    return "an unknown value";
}

/* ---- parsing ------------------------------------------------------------ */

/* 1-based line and column of offset in text, as serde counts them. */
static void position(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 0;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 0;
        } else {
            (*col)++;
        }
    }
}

static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

/* ---- the strict pass ------------------------------------------------------
 * cJSON is lenient where serde_json is not, and keeps numbers as doubles.
 * After cJSON has parsed a body, one pass over the text in document order
 * refuses what serde refuses -- a number with a leading zero ("01") or
 * outside f64's range, a string that is not UTF-8 -- and what we refuse
 * because cJSON cannot keep it (a "\u0000" escape, which cJSON would cut
 * the string at), and gives each number item of the tree the exact text of
 * its token (in valuestring, which cJSON_Delete frees for any item and
 * cJSON_Duplicate copies).  The number tokens of the text and the number
 * items of a pre-order walk of the tree come in the same order: cJSON keeps
 * every member, duplicates included, where it found it. */

typedef struct strict {
    const char *text;
    size_t len, pos;
    char *err;
    size_t cap;
} strict;

static bool strict_fail(strict *s, size_t at, const char *what)
{
    size_t line, col;
    position(s->text, at + 1, &line, &col);
    snprintf(s->err, s->cap,
             "Format error in JSON body: %s at line %zu column %zu", what, line,
             col);
    return false;
}

/* Length of the UTF-8 sequence at p (n bytes left), 0 if malformed
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return k;
}

bool qj_utf8_valid(const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0, k; i < len; i += k)
        if ((k = utf8_len(t + i, len - i)) == 0)
            return false;
    return true;
}

/* Skips the string starting at the '"' at s->pos. */
static bool strict_string(strict *s)
{
    const unsigned char *t = (const unsigned char *)s->text;
    size_t i = s->pos + 1;
    while (i < s->len && t[i] != '"') {
        if (t[i] == '\\') {
            if (i + 5 < s->len && t[i + 1] == 'u' &&
                memcmp(t + i + 2, "0000", 4) == 0)
                return strict_fail(s, i,
                                   "the escape \\u0000 (a NUL character) is "
                                   "not supported in strings");
            i += 2;
            continue;
        }
        if (t[i] < 0x20) /* serde's words; a raw NUL would cut it too */
            return strict_fail(s, i,
                               "control character (\\u0000-\\u001F) found "
                               "while parsing a string");
        size_t k = utf8_len(t + i, s->len - i);
        if (k == 0)
            return strict_fail(
                s, i, "invalid unicode code point (the body is not UTF-8)");
        i += k;
    }
    s->pos = i + 1;
    return true;
}

/* serde_json's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *p, size_t n)
{
    size_t i = 0;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || p[i] < '0' || p[i] > '9')
        return false;
    if (p[i] == '0')
        i++;
    else
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    if (i < n && p[i] == '.') {
        size_t d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* Finds the next number token (as cJSON reads it: a maximal run of
 * [0-9+-.eE]), checking the strings it skips; *start and *n give the token. */
static bool strict_next_number(strict *s, size_t *start, size_t *n, bool *found)
{
    *found = false;
    while (s->pos < s->len) {
        char c = s->text[s->pos];
        if (c == '"') {
            if (!strict_string(s))
                return false;
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t b = s->pos;
            while (s->pos < s->len && s->text[s->pos] &&
                   strchr("0123456789+-.eE", s->text[s->pos]))
                s->pos++;
            *start = b;
            *n = s->pos - b;
            *found = true;
            return true;
        }
        /* cJSON skips every byte up to 0x20 between tokens; JSON's
         * whitespace is only these four (RFC 8259 section 2). */
        if ((unsigned char)c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return strict_fail(s, s->pos,
                               "control character found where "
                               "JSON allows only whitespace");
        s->pos++;
    }
    return true;
}

/* Attaches token texts to the number items under j (pre-order). */
static bool strict_attach(strict *s, cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j)) {
            size_t b = 0, n = 0;
            bool found;
            if (!strict_next_number(s, &b, &n, &found))
                return false;
            if (!found)
                return strict_fail(s, s->len, "number lost while parsing");
            if (!number_ok(s->text + b, n))
                return strict_fail(s, b + 1, "invalid number");
            if (!isfinite(j->valuedouble))
                return strict_fail(s, b + n - 1, "number out of range");
            char *copy = malloc(n + 1);
            if (!copy) {
                snprintf(s->err, s->cap,
                         "Service internal error: out of "
                         "memory");
                return false;
            }
            memcpy(copy, s->text + b, n);
            copy[n] = '\0';
            j->valuestring = copy; /* cJSON left it NULL for a number */
        } else if (j->child && !strict_attach(s, j->child)) {
            return false;
        }
    }
    return true;
}

cJSON *qj_parse(const char *text, size_t len, char *err, size_t cap)
{
    const char *end = NULL;
    size_t line, col;
    /* cJSON skips a UTF-8 byte-order mark; serde_json (and so Qdrant)
     * refuses it as the start of a value. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        snprintf(err, cap,
                 "Format error in JSON body: expected value at line 1 column "
                 "1");
        return NULL;
    }
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!json) {
        /* cJSON reports where it stopped; serde names that spot. */
        const char *at = cJSON_GetErrorPtr();
        size_t off =
            at && at >= text && at <= text + len ? (size_t)(at - text) : len;
        bool eof = off >= len || only_space(text + off, text + len);
        position(text, eof ? len : off + 1, &line, &col);
        snprintf(
            err, cap, "Format error in JSON body: %s at line %zu column %zu",
            eof ? "EOF while parsing a value" : "expected value", line, col);
        return NULL;
    }
    if (end && !only_space(end, text + len)) {
        cJSON_Delete(json);
        position(text, (size_t)(end - text) + 1, &line, &col);
        snprintf(err, cap,
                 "Format error in JSON body: trailing characters at line %zu "
                 "column %zu",
                 line, col);
        return NULL;
    }
    strict s = {.text = text,
                .len = end ? (size_t)(end - text) : len,
                .err = err,
                .cap = cap};
    bool found = false;
    size_t b, n;
    if (!strict_attach(&s, json) ||
        /* the strings after the last number */
        !strict_next_number(&s, &b, &n, &found) || found) {
        if (found)
            strict_fail(&s, b, "number lost while parsing");
        cJSON_Delete(json);
        return NULL;
    }
    return json;
}

bool qj_no_duplicate_fields(const cJSON *obj, qvs_resp *r, const char *where)
{
    /* Structs have a handful of fields: pairwise is cheapest. */
    for (const cJSON *a = obj ? obj->child : NULL; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0)
                return qj_fail_format(r, "%s: duplicate field `%.64s`", where,
                                      a->string);
    return true;
}

/* ---- point ids ----------------------------------------------------------- */

bool qj_u64(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    const char *t = j->valuestring;
    if (!t) { /* an item we made: only its double is known */
        double d = j->valuedouble;
        if (!isfinite(d) || d < 0 || d != floor(d) || d > QJ_MAX_EXACT_INT)
            return false;
        *out = (uint64_t)d;
        return true;
    }
    /* serde reads "2.0" and "1e2" as floats and a u64 refuses both; "-0"
     * is an i64, which a u64 takes. */
    if (strcmp(t, "-0") == 0) {
        *out = 0;
        return true;
    }
    size_t n = strlen(t);
    if (n == 0 || n > 20 || strspn(t, "0123456789") != n)
        return false;
    errno = 0;
    unsigned long long v = strtoull(t, NULL, 10);
    if (errno)
        return false;
    *out = (uint64_t)v;
    return true;
}

char *qj_number_text(const cJSON *j, char *buf, size_t cap)
{
    if (j->valuestring)
        return j->valuestring;
    snprintf(buf, cap, "%.17g", j->valuedouble);
    return buf;
}

/* Turns every number item under j that carries its source text into a raw
 * item of that text, which cJSON prints verbatim. */
static void numbers_to_raw(cJSON *j)
{
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j) && j->valuestring)
            j->type = cJSON_Raw | (j->type & ~0xFF);
        else if (j->child)
            numbers_to_raw(j->child);
    }
}

char *qj_print(const cJSON *j)
{
    cJSON *copy = cJSON_Duplicate(j, true);
    if (!copy)
        return NULL;
    numbers_to_raw(copy);
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

cJSON *qj_copy_json(const cJSON *j)
{
    cJSON *copy = cJSON_Duplicate(j, true);
    if (copy) {
        /* numbers_to_raw walks siblings: keep copy's own (none) */
        if (cJSON_IsNumber(copy) && copy->valuestring)
            copy->type = cJSON_Raw | (copy->type & ~0xFF);
        else if (copy->child)
            numbers_to_raw(copy->child);
    }
    return copy;
}

static bool bad_id(const cJSON *j, qvs_resp *r, const char *where)
{
    const char *tail = "is not a valid point ID, valid values are either an "
                       "unsigned integer or a UUID";
    char buf[40];
    if (cJSON_IsNumber(j))
        return qj_fail_format(r, "%s: value %.64s %s", where,
                              qj_number_text(j, buf, sizeof(buf)), tail);
    if (cJSON_IsString(j))
        return qj_fail_format(r, "%s: value \"%.64s\" %s", where,
                              j->valuestring, tail);
    return qj_fail_format(r, "%s: value of type %s %s", where, qj_type_name(j),
                          tail);
}

bool qj_id(const cJSON *j, qv_point_id *out, qvs_resp *r, const char *where)
{
    uint64_t v;
    if (cJSON_IsNumber(j)) {
        if (!qj_u64(j, &v))
            return bad_id(j, r, where);
        *out = qv_id_from_num(v);
        return true;
    }
    if (cJSON_IsString(j) && qv_id_parse_uuid(j->valuestring, out) == QV_OK)
        return true;
    return bad_id(j, r, where);
}

bool qj_id_list(const cJSON *arr, qv_point_id **out, size_t *n, qvs_resp *r,
                const char *where)
{
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(arr))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a list of "
                              "point ids",
                              where, qj_type_name(arr));
    size_t count = (size_t)cJSON_GetArraySize(arr);
    if (count == 0)
        return true;
    qv_point_id *ids = calloc(count, sizeof(*ids));
    if (!ids)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char at[160];
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (!qj_id(e, &ids[i], r, at)) {
            free(ids);
            return false;
        }
    }
    *out = ids;
    *n = count;
    return true;
}

bool qj_id_from_path(const char *text, qv_point_id *out)
{
    if (!text || !*text)
        return false;
    size_t len = strlen(text);
    if (len <= 20 && strspn(text, "0123456789") == len) {
        errno = 0;
        char *end = NULL;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || *end)
            return false;
        *out = qv_id_from_num((uint64_t)v);
        return true;
    }
    return qv_id_parse_uuid(text, out) == QV_OK;
}

void qj_id_text(const qv_point_id *id, char buf[QV_UUID_STRLEN])
{
    if (qv_id_format(id, buf, QV_UUID_STRLEN) != QV_OK)
        snprintf(buf, QV_UUID_STRLEN, "?");
}

cJSON *qj_id_json(const qv_point_id *id)
{
    char buf[QV_UUID_STRLEN];
    qj_id_text(id, buf);
    if (id->kind == QV_ID_UUID)
        return cJSON_CreateString(buf);
    /* cJSON prints integers beyond INT_MAX with 15 significant digits
     * (its round-trip check is approximate), so those go out as their
     * exact digits. */
    return cJSON_CreateRaw(buf);
}

/* ---- floats and vectors -------------------------------------------------- */

bool qj_is_dense(const cJSON *j)
{
    if (!cJSON_IsArray(j))
        return false;
    for (const cJSON *e = j->child; e; e = e->next)
        if (!cJSON_IsNumber(e))
            return false;
    return true;
}

bool qj_vector(const cJSON *j, float *out, uint32_t dim, qvs_resp *r,
               const char *where)
{
    if (!cJSON_IsArray(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a vector (an "
                              "array of numbers)",
                              where, qj_type_name(j));
    size_t i = 0;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e))
            return qj_fail_format(r,
                                  "%s[%zu]: invalid type: %s, expected a "
                                  "number",
                                  where, i, qj_type_name(e));
        float f = (float)e->valuedouble;
        if (!isfinite(f))
            return qj_fail_format(r, "%s[%zu]: %g is not a finite 32-bit float",
                                  where, i, e->valuedouble);
        if (i < dim)
            out[i] = f;
    }
    if (i != dim)
        return qj_fail_input(r,
                             "Vector dimension error: expected dim: %u, "
                             "got %zu",
                             dim, i);
    return true;
}

cJSON *qj_float_json(float f)
{
    if (!isfinite(f))
        return cJSON_CreateNull(); /* never reached: scores are finite */
    char buf[32];
    for (int prec = 7; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return cJSON_CreateRaw(buf);
}

cJSON *qj_double_json(double d)
{
    if (!isfinite(d))
        return cJSON_CreateNull();
    char buf[40];
    /* Qdrant's OrderValue is an i64 for integer values, an f64 else. */
    if (d == floor(d) && fabs(d) < 9223372036854775808.0) {
        snprintf(buf, sizeof(buf), "%.0f", d);
        return cJSON_CreateRaw(buf);
    }
    /* The shortest text that reads back to d, as the library prints
     * payload doubles (core/payload/payload.c shortest_double): from 15
     * digits for a normal double, from 1 for a subnormal; serde_json's
     * exponent form ("1e-7", not "1e-07"). */
    int prec = fabs(d) < DBL_MIN ? 1 : 15;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &d, sizeof(d)) == 0)
            break;
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *digits = e + 1, *w = e + 1;
        if (*digits == '+')
            digits++;
        else if (*digits == '-')
            *w++ = *digits++;
        while (digits[0] == '0' && digits[1])
            digits++;
        memmove(w, digits, strlen(digits) + 1);
    }
    return cJSON_CreateRaw(buf);
}

cJSON *qj_floats_json(const float *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *x = qj_float_json(v[i]);
        if (!x || !cJSON_AddItemToArray(arr, x)) {
            cJSON_Delete(x);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- scalars ------------------------------------------------------------- */

/* obj's member key, or NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(j) ? NULL : j;
}

bool qj_bool(const cJSON *obj, const char *key, bool dflt, bool *out,
             qvs_resp *r)
{
    const cJSON *j = member(obj, key);
    if (!j) {
        *out = dflt;
        return true;
    }
    if (!cJSON_IsBool(j))
        return qj_fail_format(r, "%s: invalid type: %s, expected a boolean",
                              key, qj_type_name(j));
    *out = cJSON_IsTrue(j);
    return true;
}

bool qj_uint(const cJSON *obj, const char *key, uint64_t dflt, uint64_t min,
             uint64_t *out, qvs_resp *r)
{
    const cJSON *j = member(obj, key);
    if (!j) {
        *out = dflt;
        return true;
    }
    if (!cJSON_IsNumber(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a non-negative "
                              "integer",
                              key, qj_type_name(j));
    uint64_t v;
    char buf[40];
    if (!qj_u64(j, &v))
        return qj_fail_format(r,
                              "%s: invalid value: %.64s, expected a "
                              "non-negative integer",
                              key, qj_number_text(j, buf, sizeof(buf)));
    if (v < min)
        return qj_fail_validation(r,
                                  "%s: value %llu invalid, must be %llu or "
                                  "larger",
                                  key, (unsigned long long)v,
                                  (unsigned long long)min);
    *out = v;
    return true;
}

bool qj_float(const cJSON *obj, const char *key, bool *present, float *out,
              qvs_resp *r)
{
    const cJSON *j = member(obj, key);
    *present = false;
    if (!j)
        return true;
    if (!cJSON_IsNumber(j))
        return qj_fail_format(r, "%s: invalid type: %s, expected a number", key,
                              qj_type_name(j));
    float f = (float)j->valuedouble;
    if (!isfinite(f))
        return qj_fail_format(r, "%s: %g is not a finite 32-bit float", key,
                              j->valuedouble);
    *out = f;
    *present = true;
    return true;
}

bool qj_string(const cJSON *obj, const char *key, const char **out, qvs_resp *r)
{
    const cJSON *j = member(obj, key);
    *out = NULL;
    if (!j)
        return true;
    if (!cJSON_IsString(j))
        return qj_fail_format(r, "%s: invalid type: %s, expected a string", key,
                              qj_type_name(j));
    *out = j->valuestring;
    return true;
}

/* The strings of array j as a new array of borrowed pointers. */
static bool strings_of(const cJSON *j, const char ***out, size_t *n,
                       qvs_resp *r, const char *where)
{
    *out = NULL;
    *n = 0;
    if (!cJSON_IsArray(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a list of "
                              "strings",
                              where, qj_type_name(j));
    size_t count = (size_t)cJSON_GetArraySize(j);
    const char **v = calloc(count + 1, sizeof(*v));
    if (!v)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    size_t i = 0;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            free(v);
            return qj_fail_format(r,
                                  "%s[%zu]: invalid type: %s, expected a "
                                  "string",
                                  where, i, qj_type_name(e));
        }
        v[i] = e->valuestring;
    }
    *out = v;
    *n = count;
    return true;
}

bool qj_string_list(const cJSON *obj, const char *key, const char ***out,
                    size_t *n, qvs_resp *r)
{
    const cJSON *j = member(obj, key);
    *out = NULL;
    *n = 0;
    if (!j)
        return true;
    return strings_of(j, out, n, r, key);
}

/* ---- selectors ----------------------------------------------------------- */

bool qj_with_payload(const cJSON *obj, bool dflt, qj_payload_sel *out,
                     qvs_resp *r)
{
    memset(out, 0, sizeof(*out));
    const cJSON *j = member(obj, "with_payload");
    if (!j) {
        out->on = dflt;
        return true;
    }
    if (cJSON_IsBool(j)) {
        out->on = cJSON_IsTrue(j);
        return true;
    }
    const char **keys = NULL;
    size_t n = 0;
    bool include = true;
    if (cJSON_IsArray(j)) {
        if (!strings_of(j, &keys, &n, r, "with_payload"))
            return false;
    } else if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1 &&
               (cJSON_GetObjectItemCaseSensitive(j, "include") ||
                cJSON_GetObjectItemCaseSensitive(j, "exclude"))) {
        include = cJSON_GetObjectItemCaseSensitive(j, "include") != NULL;
        const char *k = include ? "include" : "exclude";
        char at[40];
        snprintf(at, sizeof(at), "with_payload.%s", k);
        if (!strings_of(cJSON_GetObjectItemCaseSensitive(j, k), &keys, &n, r,
                        at))
            return false;
    } else {
        return qj_fail_format(r, "with_payload: data did not match any variant "
                                 "of untagged enum WithPayloadInterface");
    }
    out->on = true;
    out->keys = keys;
    if (include) {
        /* The library reads an empty selection as "everything"; an empty
         * include list means "nothing" (an empty payload) here. */
        out->sel.include = keys;
        out->sel.n_include = n;
        out->empty = n == 0;
    } else {
        out->sel.exclude = keys;
        out->sel.n_exclude = n;
    }
    return true;
}

void qj_payload_sel_free(qj_payload_sel *s)
{
    if (!s)
        return;
    free(s->keys);
    memset(s, 0, sizeof(*s));
}

bool qj_with_vector(const cJSON *obj, qj_vector_sel *out, qvs_resp *r)
{
    memset(out, 0, sizeof(*out));
    const cJSON *j = member(obj, "with_vector");
    if (!j)
        j = member(obj, "with_vectors"); /* Qdrant's alias */
    if (!j)
        return true;
    if (cJSON_IsBool(j)) {
        out->all = cJSON_IsTrue(j);
        return true;
    }
    if (cJSON_IsArray(j))
        return strings_of(j, &out->names, &out->n, r, "with_vector");
    return qj_fail_format(r, "with_vector: data did not match any variant of "
                             "untagged enum WithVector");
}

void qj_vector_sel_free(qj_vector_sel *s)
{
    if (!s)
        return;
    free(s->names);
    memset(s, 0, sizeof(*s));
}

bool qj_vector_sel_has(const qj_vector_sel *s, const char *name)
{
    if (s->all)
        return true;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

/* ---- filters ------------------------------------------------------------- */

bool qj_filter(const cJSON *j, qv_filter **out, qvs_resp *r, const char *where)
{
    *out = NULL;
    if (!j || cJSON_IsNull(j))
        return true;
    if (!cJSON_IsObject(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a Filter "
                              "object",
                              where, qj_type_name(j));
    char *text = qj_print(j);
    if (!text)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    char err[512] = "";
    qv_status st = qv_filter_parse(text, strlen(text), out, err, sizeof(err));
    cJSON_free(text);
    if (st == QV_OK)
        return true;
    if (st == QV_ENOMEM)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    const char *bare = strstr(err, "a field condition needs one of");
    if (bare) {
        /* Qdrant's validator refuses {"key": k} alone with this text. */
        int loc = (int)(bare - err);
        while (loc > 0 && (err[loc - 1] == ' ' || err[loc - 1] == ':'))
            loc--;
        return qj_fail_validation(
            r, "%s%s%.*s: At least one field condition must be specified",
            where, loc ? "." : "", loc, err);
    }
    if (st == QV_ERANGE) /* a well-formed value out of range: the validator */
        return qj_fail_validation(r, "%s.%s", where, err);
    return qj_fail_format(r, "%s: %s", where, err);
}

/* ---- write results ------------------------------------------------------- */

cJSON *qj_update_result(uint64_t op, bool completed)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddNumberToObject(o, "operation_id", (double)op) ||
        !cJSON_AddStringToObject(o, "status",
                                 completed ? "completed" : "acknowledged")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
