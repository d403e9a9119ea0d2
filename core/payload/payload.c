/*
 * payload.c -- the compact stored form of one point's JSON payload.
 *
 * A payload is kept as ONE malloc'd blob: no pointers, no per-value heap
 * blocks, the same bytes in memory and in a snapshot file.  The filter
 * module reads it in place through qvi_payload_blob_ops; results are
 * written as JSON text straight from it; edits (Qdrant's set_payload,
 * delete_payload, overwrite) build a new blob that the collection swaps in
 * under its write lock, so readers never see a half-edited payload.
 *
 * Format (version 1).  All integers are little-endian and unaligned (read
 * byte by byte, so the format is the same on every host).  The blob is one
 * value, the root, which must be an object and span the whole blob.
 *
 *   tag  name    following bytes                       value size
 *   ---  ------  ------------------------------------  ---------------
 *   0x00 null    -                                     1
 *   0x01 false   -                                     1
 *   0x02 true    -                                     1
 *   0x03 int     i64 value                             9
 *   0x04 double  f64 value, finite                     9
 *   0x05 string  u32 n, n bytes (no NUL, no terminator) 5 + n
 *   0x06 array   u32 size, u32 count, count values     9 + size
 *   0x07 object  u32 size, u32 count, count members    9 + size
 *                member = u32 klen, klen key bytes (no NUL), value
 *   0x08 uint    u64 value, above INT64_MAX            9
 *
 * size is the byte length of a container's body (what follows its 9-byte
 * header), so skipping any value costs O(1): that is what makes the
 * filter's get() and next() cheap without an index.  Strings carry their
 * length and are not NUL-terminated; the ops return the length.
 *
 * Numbers follow serde_json, as Qdrant stores them: an integer token (no
 * '.', 'e' or 'E') is an int when it fits i64, a uint when it fits u64
 * above that, a double otherwise; any other token is a double, even 1.0.
 * cJSON keeps only a double, so the encoder reads each number's source
 * text, which qvi_json_parse_exact attaches to the item (qvi_json_num in
 * filter.h); an item without text (made by cJSON_CreateNumber) is an int
 * when integral and within 2^53, a double otherwise.  Decoding attaches
 * the exact text again (a double as its shortest round-trip text, always
 * with a '.' or an exponent), so encode(decode(b)) == b.  Doubles are
 * written as the shortest text that reads back to the same bits
 * (shortest_double), with serde_json's exponent form ("1e-7", "1e308").
 *
 * History.  Until 2026-12 ints were limited to 2^53, an integral double
 * within 2^53 was refused as non-canonical and there was no uint tag.
 * Every blob of that form is still valid (its ints are i64, its doubles
 * finite), so older snapshot files load unchanged; validation now accepts
 * any i64, a uint above INT64_MAX and any finite double.
 *
 * Duplicate keys.  serde_json keeps the last value of a repeated key, and
 * so does Qdrant; encoding keeps the LAST value at the position of the
 * FIRST occurrence (an insertion-ordered map's behaviour).  Blobs we make
 * never hold duplicates; validation does not look for them (it would cost
 * a sort per object), and lookups then see the first.
 *
 * Limits (payload.h): nesting QVI_PAYLOAD_MAX_DEPTH, blob
 * QVI_PAYLOAD_MAX_SIZE, string QVI_PAYLOAD_MAX_STRING, key
 * QVI_PAYLOAD_MAX_KEY.  Every recursion here goes one frame per nesting
 * level, so the limit on depth bounds the stack.
 *
 * Edits.  set_payload and delete_payload decode the old blob to cJSON,
 * edit the tree -- following key paths with [] and [n] exactly as Qdrant's
 * JsonPath value_set / value_remove do -- and encode it again.  Edits are rare
 * next to reads, and this keeps one encoder (duplicate rule, limits, canonical
 * numbers) for every blob; an in-place splice of top-level members would be
 * faster and is the obvious next step if edits ever matter.
 *
 * Nothing here has global mutable state; blobs are immutable, so any
 * number of threads may read one concurrently.
 */
#include "core/payload/payload.h"

#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    T_NULL = 0,
    T_FALSE = 1,
    T_TRUE = 2,
    T_INT = 3,
    T_DOUBLE = 4,
    T_STRING = 5,
    T_ARRAY = 6,
    T_OBJECT = 7,
    T_UINT = 8,
};

#define HDR_NUM  9u /* tag + 8 bytes */
#define HDR_STR  5u /* tag + u32 length */
#define HDR_CONT 9u /* tag + u32 size + u32 count */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- little-endian access ------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static int64_t rd_int(const uint8_t *p)
{
    uint64_t u = rd64(p);
    int64_t n;
    memcpy(&n, &u, sizeof(n));
    return n;
}

static double rd_double(const uint8_t *p)
{
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Size in bytes of the well-formed value at p. */
static size_t value_size(const uint8_t *p)
{
    switch (p[0]) {
    case T_INT:
    case T_DOUBLE:
    case T_UINT:
        return HDR_NUM;
    case T_STRING:
        return HDR_STR + (size_t)rd32(p + 1);
    case T_ARRAY:
    case T_OBJECT:
        return HDR_CONT + (size_t)rd32(p + 1);
    default:
        return 1;
    }
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct enc {
    uint8_t *p;
    size_t len, cap;
    char *err;
    size_t errcap;
} enc;

/* Makes room for n more bytes; returns a pointer to them. */
static qv_status enc_room(enc *e, size_t n, uint8_t **out)
{
    size_t need;
    if (!qv_add_size(e->len, n, &need) || need > QVI_PAYLOAD_MAX_SIZE) {
        set_err(e->err, e->errcap, "payload exceeds %u bytes encoded",
                QVI_PAYLOAD_MAX_SIZE);
        return QV_ERANGE;
    }
    if (need > e->cap) {
        size_t ncap = e->cap ? e->cap : 64;
        while (ncap < need)
            ncap *= 2; /* need <= 64 MiB: no overflow */
        uint8_t *np = realloc(e->p, ncap);
        if (!np) {
            set_err(e->err, e->errcap, "out of memory encoding a payload");
            return QV_ENOMEM;
        }
        e->p = np;
        e->cap = ncap;
    }
    *out = e->p + e->len;
    e->len = need;
    return QV_OK;
}

static qv_status enc_value(enc *e, const cJSON *v, int depth);

typedef struct key_pos {
    const char *k;
    size_t i;
} key_pos;

static int cmp_key_pos(const void *a, const void *b)
{
    const key_pos *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    if (c)
        return c;
    return (x->i > y->i) - (x->i < y->i);
}

/* For the n members m[0..n) of an object, sets src[i] to the member whose
 * value goes at position i (the last one with m[i]'s key), or NULL when
 * m[i] repeats an earlier key.  Small objects compare pairwise; large ones
 * sort (key, position) pairs so that each run of one key gives its first
 * and last positions. */
static qv_status dedupe(const cJSON **m, size_t n, const cJSON **src)
{
    qv_status st = QV_OK;
    key_pos *kp = NULL;
    if (n <= 16) {
        for (size_t i = 0; i < n; i++) {
            src[i] = m[i];
            for (size_t j = 0; j < i && src[i]; j++)
                if (strcmp(m[j]->string, m[i]->string) == 0)
                    src[i] = NULL;
            for (size_t j = i + 1; j < n && src[i]; j++)
                if (strcmp(m[j]->string, m[i]->string) == 0)
                    src[i] = m[j];
        }
        goto cleanup;
    }
    size_t bytes;
    if (!qv_mul_size(n, sizeof(*kp), &bytes) || !(kp = malloc(bytes))) {
        st = QV_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        kp[i].k = m[i]->string;
        kp[i].i = i;
    }
    qsort(kp, n, sizeof(*kp), cmp_key_pos);
    for (size_t r = 0; r < n;) {
        size_t s = r + 1;
        while (s < n && strcmp(kp[s].k, kp[r].k) == 0)
            s++;
        src[kp[r].i] = m[kp[s - 1].i];
        for (size_t t = r + 1; t < s; t++)
            src[kp[t].i] = NULL;
        r = s;
    }
cleanup:
    free(kp);
    return st;
}

/* Writes a container header at e->len and returns its offset. */
static qv_status enc_header(enc *e, uint8_t tag, size_t *at)
{
    uint8_t *p;
    qv_status st = enc_room(e, HDR_CONT, &p);
    if (st != QV_OK)
        return st;
    p[0] = tag;
    *at = e->len - HDR_CONT;
    return QV_OK;
}

static void enc_patch(enc *e, size_t at, uint32_t count)
{
    /* body size < QVI_PAYLOAD_MAX_SIZE: fits 32 bits */
    wr32(e->p + at + 1, (uint32_t)(e->len - at - HDR_CONT));
    wr32(e->p + at + 5, count);
}

static qv_status enc_object(enc *e, const cJSON *o, int depth)
{
    qv_status st;
    const cJSON **m = NULL, **src = NULL;
    const cJSON *small[2 * 16];
    size_t n = 0, at, emitted = 0;
    for (const cJSON *c = o->child; c; c = c->next) {
        if (!c->string) {
            set_err(e->err, e->errcap, "object member without a key");
            return QV_EINVAL;
        }
        n++;
    }
    if ((st = enc_header(e, T_OBJECT, &at)) != QV_OK)
        goto cleanup;
    if (n <= 16) {
        m = small;
        src = small + 16;
    } else {
        size_t bytes;
        if (!qv_mul_size(n, sizeof(*m), &bytes) || !(m = malloc(bytes)) ||
            !(src = malloc(bytes))) {
            set_err(e->err, e->errcap, "out of memory encoding a payload");
            st = QV_ENOMEM;
            goto cleanup;
        }
    }
    n = 0;
    for (const cJSON *c = o->child; c; c = c->next)
        m[n++] = c;
    if ((st = dedupe(m, n, src)) != QV_OK) {
        set_err(e->err, e->errcap, "out of memory encoding a payload");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (!src[i])
            continue;
        size_t klen = strlen(m[i]->string);
        if (klen > QVI_PAYLOAD_MAX_KEY) {
            set_err(e->err, e->errcap, "key of %zu bytes exceeds %u", klen,
                    QVI_PAYLOAD_MAX_KEY);
            st = QV_ERANGE;
            goto cleanup;
        }
        uint8_t *p;
        if ((st = enc_room(e, 4 + klen, &p)) != QV_OK)
            goto cleanup;
        wr32(p, (uint32_t)klen);
        memcpy(p + 4, m[i]->string, klen);
        if ((st = enc_value(e, src[i], depth + 1)) != QV_OK)
            goto cleanup;
        emitted++;
    }
    enc_patch(e, at, (uint32_t)emitted);
cleanup:
    if (m != small) {
        free(m);
        free(src);
    }
    return st;
}

/* Encodes v, which sits at nesting level depth (the root object is 1). */
static qv_status enc_value(enc *e, const cJSON *v, int depth)
{
    qv_status st = QV_OK;
    uint8_t *p;
    switch (v->type & 0xFF) {
    case cJSON_NULL:
    case cJSON_False:
    case cJSON_True:
        if ((st = enc_room(e, 1, &p)) != QV_OK)
            return st;
        p[0] = (v->type & 0xFF) == cJSON_NULL    ? T_NULL
               : (v->type & 0xFF) == cJSON_False ? T_FALSE
                                                 : T_TRUE;
        return QV_OK;
    case cJSON_Number: {
        int64_t n;
        uint64_t u;
        double d;
        qvi_jnum kind = qvi_json_num(v, &n, &u, &d);
        if (kind == QVI_JNUM_FLOAT && !isfinite(d)) {
            set_err(e->err, e->errcap, "number is NaN or infinite");
            return QV_EINVAL;
        }
        if ((st = enc_room(e, HDR_NUM, &p)) != QV_OK)
            return st;
        if (kind == QVI_JNUM_INT) {
            memcpy(&u, &n, sizeof(u));
            p[0] = T_INT;
            wr64(p + 1, u);
        } else if (kind == QVI_JNUM_UINT) {
            p[0] = T_UINT;
            wr64(p + 1, u);
        } else {
            uint64_t u;
            memcpy(&u, &d, sizeof(u));
            p[0] = T_DOUBLE;
            wr64(p + 1, u);
        }
        return QV_OK;
    }
    case cJSON_String: {
        if (!v->valuestring) {
            set_err(e->err, e->errcap, "string item without a value");
            return QV_EINVAL;
        }
        size_t n = strlen(v->valuestring);
        if (n > QVI_PAYLOAD_MAX_STRING) {
            set_err(e->err, e->errcap, "string of %zu bytes exceeds %u", n,
                    QVI_PAYLOAD_MAX_STRING);
            return QV_ERANGE;
        }
        if ((st = enc_room(e, HDR_STR + n, &p)) != QV_OK)
            return st;
        p[0] = T_STRING;
        wr32(p + 1, (uint32_t)n);
        memcpy(p + HDR_STR, v->valuestring, n);
        return QV_OK;
    }
    case cJSON_Array:
    case cJSON_Object:
        break;
    default:
        set_err(e->err, e->errcap, "unsupported cJSON item (raw or invalid)");
        return QV_EINVAL;
    }
    if (depth > QVI_PAYLOAD_MAX_DEPTH) {
        set_err(e->err, e->errcap, "payload nests deeper than %d levels",
                QVI_PAYLOAD_MAX_DEPTH);
        return QV_EINVAL;
    }
    if ((v->type & 0xFF) == cJSON_Object)
        return enc_object(e, v, depth);
    size_t at, n = 0;
    if ((st = enc_header(e, T_ARRAY, &at)) != QV_OK)
        return st;
    for (const cJSON *c = v->child; c; c = c->next, n++)
        if ((st = enc_value(e, c, depth + 1)) != QV_OK)
            return st;
    /* n <= blob size: fits 32 bits */
    enc_patch(e, at, (uint32_t)n);
    return QV_OK;
}

/* The start of every call that makes a blob: clears err and the outputs
 * (so a failed call leaves NULL and 0 there) and refuses a missing output
 * (QV_ENULL).  With not_object, the input in must be a JSON object too:
 * NULL is QV_ENULL, anything else QV_EINVAL with not_object as the
 * message. */
static qv_status blob_out_begin(const cJSON *in, const char *not_object,
                                uint8_t **blob, size_t *len, char *err,
                                size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
    if (blob)
        *blob = NULL;
    if (len)
        *len = 0;
    if (!blob || !len || (not_object && !in)) {
        set_err(err, errcap, "NULL argument");
        return QV_ENULL;
    }
    if (not_object && !cJSON_IsObject(in)) {
        set_err(err, errcap, "%s", not_object);
        return QV_EINVAL;
    }
    return QV_OK;
}

qv_status qvi_payload_encode(const cJSON *obj, uint8_t **blob, size_t *len,
                             char *err, size_t errcap)
{
    qv_status st;
    enc e = {.err = err, .errcap = errcap};
    if ((st = blob_out_begin(obj, "a payload must be a JSON object", blob, len,
                             err, errcap)) != QV_OK)
        goto cleanup;
    if ((st = enc_value(&e, obj, 1)) != QV_OK)
        goto cleanup;
    uint8_t *fit = realloc(e.p, e.len); /* give back the slack */
    if (fit)
        e.p = fit;
    *blob = e.p;
    *len = e.len;
    e.p = NULL;
cleanup:
    free(e.p);
    return st;
}

/* ---- validation ---------------------------------------------------------- */

static bool bytes_clean(const uint8_t *p, size_t n)
{
    return memchr(p, 0, n) == NULL;
}

/* Checks the value at p, which has avail bytes before the end of its
 * container, at nesting level depth; sets *used to its size. */
static bool val_value(const uint8_t *p, size_t avail, int depth, size_t *used)
{
    if (avail < 1)
        return false;
    switch (p[0]) {
    case T_NULL:
    case T_FALSE:
    case T_TRUE:
        *used = 1;
        return true;
    case T_INT:
        if (avail < HDR_NUM)
            return false;
        *used = HDR_NUM;
        return true;
    case T_UINT:
        /* canonical: a value within i64 must be an int */
        if (avail < HDR_NUM || rd64(p + 1) <= (uint64_t)INT64_MAX)
            return false;
        *used = HDR_NUM;
        return true;
    case T_DOUBLE: {
        if (avail < HDR_NUM)
            return false;
        double d = rd_double(p + 1);
        if (!isfinite(d))
            return false;
        *used = HDR_NUM;
        return true;
    }
    case T_STRING: {
        if (avail < HDR_STR)
            return false;
        size_t n = rd32(p + 1);
        if (n > QVI_PAYLOAD_MAX_STRING || n > avail - HDR_STR ||
            !bytes_clean(p + HDR_STR, n))
            return false;
        *used = HDR_STR + n;
        return true;
    }
    case T_ARRAY:
    case T_OBJECT:
        break;
    default:
        return false;
    }
    if (depth > QVI_PAYLOAD_MAX_DEPTH || avail < HDR_CONT)
        return false;
    size_t size = rd32(p + 1);
    uint32_t count = rd32(p + 5);
    if (size > avail - HDR_CONT)
        return false;
    const uint8_t *q = p + HDR_CONT;
    size_t rem = size;
    /* Each element takes at least one byte, so a lying count fails once
     * rem runs out: the loop is bounded by size whatever count says. */
    for (uint32_t i = 0; i < count; i++) {
        if (p[0] == T_OBJECT) {
            if (rem < 4)
                return false;
            size_t klen = rd32(q);
            if (klen > QVI_PAYLOAD_MAX_KEY || klen > rem - 4 ||
                !bytes_clean(q + 4, klen))
                return false;
            q += 4 + klen;
            rem -= 4 + klen;
        }
        size_t u;
        if (!val_value(q, rem, depth + 1, &u))
            return false;
        q += u;
        rem -= u;
    }
    if (rem != 0)
        return false;
    *used = HDR_CONT + size;
    return true;
}

qv_status qvi_payload_validate(const uint8_t *blob, size_t len)
{
    if (!blob)
        return QV_ENULL;
    size_t used;
    if (len > QVI_PAYLOAD_MAX_SIZE || len < HDR_CONT || blob[0] != T_OBJECT ||
        !val_value(blob, len, 1, &used) || used != len)
        return QV_ECORRUPT;
    return QV_OK;
}

/* ---- decoding to cJSON --------------------------------------------------- */

/* A growable scratch buffer that NUL-terminates strings and keys for
 * cJSON, which copies them. */
typedef struct scratch {
    char *p;
    size_t cap;
} scratch;

static const char *scratch_str(scratch *s, const uint8_t *src, size_t n)
{
    if (n + 1 > s->cap) {
        size_t ncap = s->cap ? s->cap : 64;
        while (ncap < n + 1)
            ncap *= 2; /* n <= QVI_PAYLOAD_MAX_STRING */
        char *np = realloc(s->p, ncap);
        if (!np)
            return NULL;
        s->p = np;
        s->cap = ncap;
    }
    memcpy(s->p, src, n);
    s->p[n] = '\0';
    return s->p;
}

static size_t num_text(const uint8_t *p, char *b, size_t cap);

/* A number item carrying its exact text, so that a re-encode (merge,
 * delete) stores the same tag and bits. */
static cJSON *dec_number(const uint8_t *p)
{
    char b[40];
    size_t n = num_text(p, b, sizeof(b));
    cJSON *j = cJSON_CreateNumber(p[0] == T_INT    ? (double)rd_int(p + 1)
                                  : p[0] == T_UINT ? (double)rd64(p + 1)
                                                   : rd_double(p + 1));
    if (j && !qvi_json_set_text(j, b, n)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* Decodes the well-formed value at p; NULL on ENOMEM. */
static cJSON *dec_value(const uint8_t *p, scratch *s)
{
    switch (p[0]) {
    case T_NULL:
        return cJSON_CreateNull();
    case T_FALSE:
        return cJSON_CreateFalse();
    case T_TRUE:
        return cJSON_CreateTrue();
    case T_INT:
    case T_UINT:
    case T_DOUBLE:
        return dec_number(p);
    case T_STRING: {
        const char *str = scratch_str(s, p + HDR_STR, rd32(p + 1));
        return str ? cJSON_CreateString(str) : NULL;
    }
    default:
        break;
    }
    bool obj = p[0] == T_OBJECT;
    cJSON *out = obj ? cJSON_CreateObject() : cJSON_CreateArray();
    uint32_t count = rd32(p + 5);
    const uint8_t *q = p + HDR_CONT;
    for (uint32_t i = 0; out && i < count; i++) {
        const uint8_t *key = NULL;
        size_t klen = 0;
        if (obj) {
            klen = rd32(q);
            key = q + 4;
            q += 4 + klen;
        }
        cJSON *c = dec_value(q, s);
        q += value_size(q);
        const char *k = c && obj ? scratch_str(s, key, klen) : NULL;
        bool ok = c && (obj ? k && cJSON_AddItemToObject(out, k, c)
                            : cJSON_AddItemToArray(out, c));
        if (!ok) {
            cJSON_Delete(c);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

cJSON *qvi_payload_decode(const uint8_t *blob, size_t len)
{
    if (qvi_payload_validate(blob, len) != QV_OK)
        return NULL;
    scratch s = {0};
    cJSON *out = dec_value(blob, &s);
    free(s.p);
    return out;
}

/* ---- key paths (to_json, merge, delete) ---------------------------------- */

/* Parsed key paths, keys only: item i of path j is items[paths[j].item_off
 * + i], its key pool + items[..].index (NUL-terminated). */
typedef struct kpaths {
    qvi_path_item *items;
    uint32_t n_items, cap_items;
    char *pool;
    uint32_t pool_len, pool_cap;
    qvi_path *paths;
    size_t n_paths;
} kpaths;

static void kp_free(kpaths *kp)
{
    free(kp->items);
    free(kp->pool);
    free(kp->paths);
}

/* Parses n texts into kp (which must be zeroed). */
static qv_status kp_parse(kpaths *kp, const char *const *texts, size_t n,
                          char *err, size_t errcap)
{
    if (n == 0)
        return QV_OK;
    if (!texts) {
        set_err(err, errcap, "NULL key path list");
        return QV_ENULL;
    }
    size_t bytes;
    if (!qv_mul_size(n, sizeof(*kp->paths), &bytes) ||
        !(kp->paths = malloc(bytes))) {
        set_err(err, errcap, "out of memory parsing key paths");
        return QV_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        if (!texts[j]) {
            set_err(err, errcap, "key path %zu is NULL", j);
            return QV_ENULL;
        }
        uint32_t off = kp->n_items;
        qv_status st =
            qvi_path_parse(texts[j], strlen(texts[j]), &kp->items, &kp->n_items,
                           &kp->cap_items, &kp->pool, &kp->pool_len,
                           &kp->pool_cap, err, errcap);
        if (st != QV_OK)
            return st;
        kp->paths[j].item_off = off;
        kp->paths[j].n_items = kp->n_items - off;
        kp->n_paths = j + 1;
    }
    return QV_OK;
}

static const qvi_path_item *kp_item(const kpaths *kp, size_t j, uint32_t d)
{
    return &kp->items[kp->paths[j].item_off + d];
}

static const char *kp_key(const kpaths *kp, size_t j, uint32_t d)
{
    return kp->pool + kp_item(kp, j, d)->index;
}

/* ---- JSON text ----------------------------------------------------------- */

typedef struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
} tbuf;

static void t_put(tbuf *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    size_t need;
    if (!qv_add_size(t->len, n + 1, &need)) {
        t->oom = true;
        return;
    }
    if (need > t->cap) {
        size_t ncap = t->cap ? t->cap : 256;
        while (ncap < need) {
            if (!qv_mul_size(ncap, 2, &ncap)) {
                t->oom = true;
                return;
            }
        }
        char *np = realloc(t->p, ncap);
        if (!np) {
            t->oom = true;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void t_putc(tbuf *t, char c)
{
    if (!t->oom && t->len + 1 < t->cap)
        t->p[t->len++] = c;
    else
        t_put(t, &c, 1);
}

static void t_string(tbuf *t, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    t_putc(t, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        t_put(t, (const char *)s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        t_put(t, esc, elen);
    }
    t_put(t, (const char *)s + run, n - run);
    t_putc(t, '"');
}

/* Rewrites the exponent %g printed ("e+308", "e-07") the way serde_json
 * prints it ("e308", "e-7"); returns the new length. */
static int tidy_exponent(char *b, int n)
{
    char *e = strchr(b, 'e');
    if (!e)
        return n;
    char *digits = e + 1, *w = e + 1;
    if (*digits == '+')
        digits++;
    else if (*digits == '-')
        *w++ = *digits++;
    while (digits[0] == '0' && digits[1])
        digits++;
    memmove(w, digits, strlen(digits) + 1);
    return (int)strlen(b);
}

/* The shortest %g text of d that reads back to the same bits.  For a
 * normal double %.15g is the shortest whenever 15 digits or fewer suffice
 * (DBL_DIG), else 16 or 17; a subnormal carries fewer significant bits,
 * so shorter texts can already identify it (5e-324, not
 * 4.94065645841247e-324): those are searched from 1 digit up. */
static int shortest_double(double d, char *b, size_t cap)
{
    int n = 0;
    int prec = fabs(d) < DBL_MIN && d != 0 ? 1 : 15;
    for (;; prec++) {
        n = snprintf(b, cap, "%.*g", prec, d);
        double back = strtod(b, NULL);
        if (prec == 17 || memcmp(&back, &d, sizeof(d)) == 0)
            break;
    }
    return tidy_exponent(b, n);
}

/* The text of the number value at p into b (cap >= 40): an int or uint
 * exactly, a double as the shortest text that reads back to the same bits
 * (shortest_double), with ".0" added when that looks like an integer
 * (serde prints 1.0 as "1.0"; the text must stay a double when read
 * again). */
static size_t num_text(const uint8_t *p, char *b, size_t cap)
{
    if (p[0] == T_INT)
        return (size_t)snprintf(b, cap, "%" PRId64, rd_int(p + 1));
    if (p[0] == T_UINT)
        return (size_t)snprintf(b, cap, "%" PRIu64, rd64(p + 1));
    int n = shortest_double(rd_double(p + 1), b, cap);
    if (!strpbrk(b, ".eEni")) /* "n"/"i": never, doubles are finite */
        n += snprintf(b + n, cap - (size_t)n, ".0");
    return (size_t)n;
}

static void t_value(tbuf *t, const uint8_t *p)
{
    char b[40];
    switch (p[0]) {
    case T_NULL:
        t_put(t, "null", 4);
        return;
    case T_FALSE:
        t_put(t, "false", 5);
        return;
    case T_TRUE:
        t_put(t, "true", 4);
        return;
    case T_INT:
    case T_UINT:
    case T_DOUBLE:
        t_put(t, b, num_text(p, b, sizeof(b)));
        return;
    case T_STRING:
        t_string(t, p + HDR_STR, rd32(p + 1));
        return;
    default:
        break;
    }
    bool obj = p[0] == T_OBJECT;
    uint32_t count = rd32(p + 5);
    const uint8_t *q = p + HDR_CONT;
    t_putc(t, obj ? '{' : '[');
    for (uint32_t i = 0; i < count; i++) {
        if (i)
            t_putc(t, ',');
        if (obj) {
            size_t klen = rd32(q);
            t_string(t, q + 4, klen);
            t_putc(t, ':');
            q += 4 + klen;
        }
        t_value(t, q);
        q += value_size(q);
    }
    t_putc(t, obj ? '}' : ']');
}

/* Selection while writing with include / exclude paths, Qdrant's
 * JsonPath::value_filter: every member and element is kept or dropped by
 * the path that leads to it -- its keys, and [] for each array element
 * (never [n]).  A value is kept when some include path and its path agree
 * on every item both have (either may be the longer: "a" keeps all of a,
 * "a.b" keeps a with only its member b), and no exclude path is a prefix
 * of its path ("a.b" drops a's b; "a[].b" drops the b of every element of
 * a).  So an include path that stops short of a value keeps it whole, an
 * include path naming a member that is missing keeps its parent empty
 * ({"a": {}}), and [n] never matches an element (Qdrant's rule: include
 * "a[0]" keeps a as []).
 *
 * alive[d * n + j] says whether path j agrees with the walked path up to
 * depth d (depth 0 is a top-level key).  Rows are per depth, so a child's
 * row is computed from its parent's without undoing anything. */
#define SEL_ROWS (QVI_PAYLOAD_MAX_DEPTH + 1)

typedef struct sel {
    const kpaths *inc, *exc;
    uint8_t *inc_alive, *exc_alive;
} sel;

/* Does item d of path j equal the walked item (a key, or [] for an array
 * element)? */
static bool item_is(const kpaths *kp, size_t j, uint32_t d, bool element,
                    const uint8_t *k, size_t klen)
{
    const qvi_path_item *it = kp_item(kp, j, d);
    if (element)
        return it->kind == QVI_PI_WILDCARD;
    return it->kind == QVI_PI_KEY && it->len == klen &&
           memcmp(kp->pool + it->index, k, klen) == 0;
}

/* Fills row d of alive for the walked item; returns whether some path is
 * alive (full: and ends at or above depth d). */
static bool sel_step(const kpaths *kp, uint8_t *alive, uint32_t d, bool element,
                     const uint8_t *k, size_t klen, bool full)
{
    bool any = false;
    for (size_t j = 0; j < kp->n_paths; j++) {
        uint32_t len = kp->paths[j].n_items;
        bool up = d == 0 || alive[(d - 1) * kp->n_paths + j];
        bool a = up && (d >= len || item_is(kp, j, d, element, k, klen));
        alive[d * kp->n_paths + j] = a;
        any = any || (a && (!full || len <= d + 1));
    }
    return any;
}

static void t_value_sel(tbuf *t, sel *s, const uint8_t *v, uint32_t d);

/* Writes the kept members or elements of container c, whose own depth is
 * d - 1 (the top-level object has d = 0). */
static void t_container_sel(tbuf *t, sel *s, const uint8_t *c, uint32_t d)
{
    bool obj = c[0] == T_OBJECT;
    uint32_t count = rd32(c + 5);
    const uint8_t *q = c + HDR_CONT;
    bool first = true;
    t_putc(t, obj ? '{' : '[');
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *k = NULL, *v = q;
        size_t klen = 0;
        if (obj) {
            klen = rd32(q);
            k = q + 4;
            v = q + 4 + klen;
        }
        q = v + value_size(v);
        if (d >= SEL_ROWS)
            continue; /* unreachable: blobs nest at most 64 deep */
        bool keep = !s->inc->n_paths ||
                    sel_step(s->inc, s->inc_alive, d, !obj, k, klen, false);
        if (s->exc->n_paths &&
            sel_step(s->exc, s->exc_alive, d, !obj, k, klen, true))
            keep = false;
        if (!keep)
            continue;
        if (!first)
            t_putc(t, ',');
        first = false;
        if (obj) {
            t_string(t, k, klen);
            t_putc(t, ':');
        }
        t_value_sel(t, s, v, d + 1);
    }
    t_putc(t, obj ? '}' : ']');
}

static void t_value_sel(tbuf *t, sel *s, const uint8_t *v, uint32_t d)
{
    if (v[0] == T_OBJECT || v[0] == T_ARRAY)
        t_container_sel(t, s, v, d);
    else
        t_value(t, v);
}

qv_status qvi_payload_to_json(const uint8_t *blob, size_t len,
                              const char *const *include, size_t n_include,
                              const char *const *exclude, size_t n_exclude,
                              char **text, size_t *text_len)
{
    qv_status st = QV_OK;
    kpaths inc = {0}, exc = {0};
    tbuf t = {0};
    sel s = {.inc = &inc, .exc = &exc};
    char err[QVI_FILTER_ERRMSG_CAP];
    if (text)
        *text = NULL;
    if (text_len)
        *text_len = 0;
    if (!blob || !text || !text_len) {
        st = QV_ENULL;
        goto cleanup;
    }
    /* The blob is trusted (payload.h), but a cheap check of the root
     * catches a wrong pointer or length before any deep read. */
    if (len < HDR_CONT || blob[0] != T_OBJECT ||
        HDR_CONT + (size_t)rd32(blob + 1) != len) {
        st = QV_ECORRUPT;
        goto cleanup;
    }
    if ((st = kp_parse(&inc, include, n_include, err, sizeof(err))) != QV_OK ||
        (st = kp_parse(&exc, exclude, n_exclude, err, sizeof(err))) != QV_OK)
        goto cleanup;
    size_t n_rows;
    if (!qv_add_size(n_include, n_exclude, &n_rows) ||
        !qv_mul_size(n_rows + 1, SEL_ROWS, &n_rows) ||
        !(s.inc_alive = calloc(n_rows, 1))) {
        st = QV_ENOMEM;
        goto cleanup;
    }
    s.exc_alive = s.inc_alive + n_include * SEL_ROWS;
    /* Room for the usual case up front: text is rarely twice the blob. */
    t.cap = len < 64 ? 128 : len * 2;
    if (!(t.p = malloc(t.cap))) {
        st = QV_ENOMEM;
        goto cleanup;
    }
    if (n_include == 0 && n_exclude == 0)
        t_value(&t, blob);
    else
        t_container_sel(&t, &s, blob, 0);
    t_put(&t, "", 0); /* room for the NUL */
    if (t.oom) {
        st = QV_ENOMEM;
        goto cleanup;
    }
    t.p[t.len] = '\0';
    *text = t.p;
    *text_len = t.len;
    t.p = NULL;
cleanup:
    free(t.p);
    free(s.inc_alive);
    kp_free(&inc);
    kp_free(&exc);
    return st;
}

/* ---- edits --------------------------------------------------------------- */

/* Decodes old (NULL/0: an empty object) for editing. */
static qv_status edit_open(const uint8_t *old, size_t old_len, cJSON **root,
                           char *err, size_t errcap)
{
    if (!old && old_len == 0) {
        *root = cJSON_CreateObject();
    } else {
        if (!old) {
            set_err(err, errcap, "NULL payload with a length");
            return QV_ENULL;
        }
        if (qvi_payload_validate(old, old_len) != QV_OK) {
            set_err(err, errcap, "stored payload fails validation");
            return QV_ECORRUPT;
        }
        scratch s = {0};
        *root = dec_value(old, &s);
        free(s.p);
    }
    if (!*root) {
        set_err(err, errcap, "out of memory decoding a payload");
        return QV_ENOMEM;
    }
    return QV_OK;
}

/* Sets target[key] = v (owned), replacing an existing member. */
static bool obj_set(cJSON *target, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(target, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(target, key, v);
    return cJSON_AddItemToObject(target, key, v);
}

/* Turns item, in place, into an empty object or array (its key, if it is
 * a member, stays). */
static void reset_item(cJSON *item, int type)
{
    if (item->child) {
        cJSON_Delete(item->child); /* the whole chain of children */
        item->child = NULL;
    }
    if (item->valuestring && !(item->type & cJSON_IsReference))
        cJSON_free(item->valuestring);
    item->valuestring = NULL;
    item->valueint = 0;
    item->valuedouble = 0;
    item->type = type | (item->type & cJSON_StringIsConst);
}

typedef struct vset_ctx {
    const kpaths *kp;
    const cJSON *src;
    uint32_t end; /* items in the key path (0: no key) */
} vset_ctx;

static bool vset(const vset_ctx *v, cJSON *dest, uint32_t d);

/* Qdrant's value_set_map: descends into obj[key], creating it (null, then
 * shaped by what follows) when missing. */
static bool vset_map(const vset_ctx *v, cJSON *obj, const char *key, uint32_t d)
{
    cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (child)
        return vset(v, child, d);
    child = cJSON_CreateNull();
    if (!child || !vset(v, child, d) ||
        !cJSON_AddItemToObject(obj, key, child)) {
        cJSON_Delete(child);
        return false;
    }
    return true;
}

/* Qdrant's value_set: follows items d.. of the key path from dest, making
 * each step's container where the value is of another type (an object
 * for a key, an array for [n] or []; [n] past the end and [] on a
 * non-array set nothing further), then merges the source's top-level
 * members into the object reached.  False when out of memory. */
static bool vset(const vset_ctx *v, cJSON *dest, uint32_t d)
{
    const kpaths *kp = v->kp;
    if (d == v->end) {
        if (!cJSON_IsObject(dest))
            reset_item(dest, cJSON_Object);
        for (const cJSON *m = v->src->child; m; m = m->next) {
            cJSON *c = cJSON_Duplicate(m, true);
            if (!c || !obj_set(dest, m->string, c)) {
                cJSON_Delete(c);
                return false;
            }
        }
        return true;
    }
    const qvi_path_item *it = kp_item(kp, 0, d);
    switch (it->kind) {
    case QVI_PI_KEY:
        if (!cJSON_IsObject(dest))
            reset_item(dest, cJSON_Object);
        return vset_map(v, dest, kp->pool + it->index, d + 1);
    case QVI_PI_INDEX: {
        if (!cJSON_IsArray(dest))
            reset_item(dest, cJSON_Array);
        int size = cJSON_GetArraySize(dest);
        if (it->index < (uint64_t)size)
            return vset(v, cJSON_GetArrayItem(dest, (int)it->index), d + 1);
        return true;
    }
    default:
        if (!cJSON_IsArray(dest)) {
            reset_item(dest, cJSON_Array);
            return true;
        }
        for (cJSON *e = dest->child; e; e = e->next)
            if (!vset(v, e, d + 1))
                return false;
        return true;
    }
}

qv_status qvi_payload_merge(const uint8_t *old, size_t old_len,
                            const cJSON *set, const char *key,
                            uint8_t **new_blob, size_t *new_len, char *err,
                            size_t errcap)
{
    qv_status st;
    cJSON *root = NULL;
    kpaths kp = {0};
    if ((st = blob_out_begin(set, "set_payload needs a JSON object", new_blob,
                             new_len, err, errcap)) != QV_OK)
        goto cleanup;
    for (const cJSON *m = set->child; m; m = m->next) {
        if (!m->string) {
            set_err(err, errcap, "object member without a key");
            st = QV_EINVAL;
            goto cleanup;
        }
    }
    if (key && (st = kp_parse(&kp, &key, 1, err, errcap)) != QV_OK)
        goto cleanup;
    if ((st = edit_open(old, old_len, &root, err, errcap)) != QV_OK)
        goto cleanup;
    vset_ctx v = {.kp = &kp, .src = set, .end = key ? kp.paths[0].n_items : 0};
    bool ok =
        key ? vset_map(&v, root, kp_key(&kp, 0, 0), 1) : vset(&v, root, 0);
    if (!ok) {
        set_err(err, errcap, "out of memory editing a payload");
        st = QV_ENOMEM;
        goto cleanup;
    }
    st = qvi_payload_encode(root, new_blob, new_len, err, errcap);
cleanup:
    cJSON_Delete(root);
    kp_free(&kp);
    return st;
}

/* Qdrant's value_remove: follows items d.. of path j from value; the last
 * item removes a member (key), empties an array ([]), or does nothing
 * ([n]: removing an element by position is not idempotent, so Qdrant does
 * not do it). */
static void vremove(const kpaths *kp, size_t j, cJSON *value, uint32_t d)
{
    const qvi_path_item *it = kp_item(kp, j, d);
    bool last = d + 1 == kp->paths[j].n_items;
    switch (it->kind) {
    case QVI_PI_KEY:
        if (!cJSON_IsObject(value))
            return;
        if (last) {
            cJSON_DeleteItemFromObjectCaseSensitive(value,
                                                    kp->pool + it->index);
        } else {
            cJSON *c =
                cJSON_GetObjectItemCaseSensitive(value, kp->pool + it->index);
            if (c)
                vremove(kp, j, c, d + 1);
        }
        return;
    case QVI_PI_INDEX:
        if (!last && cJSON_IsArray(value) &&
            it->index < (uint64_t)cJSON_GetArraySize(value))
            vremove(kp, j, cJSON_GetArrayItem(value, (int)it->index), d + 1);
        return;
    default:
        if (!cJSON_IsArray(value))
            return;
        if (last) {
            reset_item(value, cJSON_Array);
            return;
        }
        for (cJSON *e = value->child; e; e = e->next)
            vremove(kp, j, e, d + 1);
        return;
    }
}

qv_status qvi_payload_delete_keys(const uint8_t *old, size_t old_len,
                                  const char *const *keys, size_t n_keys,
                                  uint8_t **new_blob, size_t *new_len,
                                  char *err, size_t errcap)
{
    qv_status st;
    cJSON *root = NULL;
    kpaths kp = {0};
    if ((st = blob_out_begin(NULL, NULL, new_blob, new_len, err, errcap)) !=
        QV_OK)
        goto cleanup;
    if ((st = kp_parse(&kp, keys, n_keys, err, errcap)) != QV_OK)
        goto cleanup;
    if ((st = edit_open(old, old_len, &root, err, errcap)) != QV_OK)
        goto cleanup;
    for (size_t j = 0; j < kp.n_paths; j++)
        vremove(&kp, j, root, 0);
    st = qvi_payload_encode(root, new_blob, new_len, err, errcap);
cleanup:
    cJSON_Delete(root);
    kp_free(&kp);
    return st;
}

/* ---- the filter module's view of a blob ---------------------------------- */

static qvi_ptype b_type(qvi_pval v)
{
    switch (((const uint8_t *)v)[0]) {
    case T_NULL:
        return QVI_PT_NULL;
    case T_FALSE:
    case T_TRUE:
        return QVI_PT_BOOL;
    case T_INT:
    case T_DOUBLE:
    case T_UINT:
        return QVI_PT_NUMBER;
    case T_STRING:
        return QVI_PT_STRING;
    case T_ARRAY:
        return QVI_PT_ARRAY;
    case T_OBJECT:
        return QVI_PT_OBJECT;
    default:
        return QVI_PT_OTHER;
    }
}

static bool b_boolean(qvi_pval v)
{
    return ((const uint8_t *)v)[0] == T_TRUE;
}

static double b_number(qvi_pval v)
{
    const uint8_t *p = v;
    if (p[0] == T_INT)
        return (double)rd_int(p + 1);
    if (p[0] == T_UINT)
        return (double)rd64(p + 1);
    return p[0] == T_DOUBLE ? rd_double(p + 1) : 0.0;
}

qvi_jnum qvi_payload_blob_num(qvi_pval v, int64_t *i, uint64_t *u, double *d)
{
    const uint8_t *p = v;
    *d = b_number(v);
    if (p[0] == T_INT) {
        *i = rd_int(p + 1);
        return QVI_JNUM_INT;
    }
    if (p[0] == T_UINT) {
        *u = rd64(p + 1);
        return QVI_JNUM_UINT;
    }
    return p[0] == T_DOUBLE ? QVI_JNUM_FLOAT : QVI_JNUM_NONE;
}

static bool b_integer(qvi_pval v, int64_t *n)
{
    const uint8_t *p = v;
    if (p[0] != T_INT)
        return false;
    *n = rd_int(p + 1);
    return true;
}

static const char *b_string(qvi_pval v, size_t *len)
{
    const uint8_t *p = v;
    if (p[0] != T_STRING) {
        *len = 0;
        return "";
    }
    *len = rd32(p + 1);
    return (const char *)p + HDR_STR;
}

static qvi_pval b_first(qvi_pval a)
{
    const uint8_t *p = a;
    if (p[0] != T_ARRAY || rd32(p + 5) == 0)
        return NULL;
    return p + HDR_CONT;
}

static qvi_pval b_next(qvi_pval a, qvi_pval e)
{
    const uint8_t *p = a, *x = e;
    const uint8_t *end = p + HDR_CONT + rd32(p + 1);
    const uint8_t *n = x + value_size(x);
    return n < end ? n : NULL;
}

static qvi_pval b_get(qvi_pval o, const char *key, size_t len)
{
    const uint8_t *p = o;
    if (p[0] != T_OBJECT)
        return NULL;
    uint32_t count = rd32(p + 5);
    const uint8_t *q = p + HDR_CONT;
    for (uint32_t i = 0; i < count; i++) {
        size_t klen = rd32(q);
        const uint8_t *v = q + 4 + klen;
        if (klen == len && memcmp(q + 4, key, len) == 0)
            return v;
        q = v + value_size(v);
    }
    return NULL;
}

const qvi_payload_ops qvi_payload_blob_ops = {
    .type = b_type,
    .boolean = b_boolean,
    .number = b_number,
    .integer = b_integer,
    .string = b_string,
    .first = b_first,
    .next = b_next,
    .get = b_get,
};
