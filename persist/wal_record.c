/*
 * wal_record.c -- the write-ahead log's record codec and segment reader.
 *
 * Everything here is a pure function of bytes: no files, no locks, no
 * global state, so the reader can be fuzzed directly
 * (qvi_wal_scan_buffer).  docs/WAL.md is the format's reference; in short,
 * a segment is a 32-byte header followed by records, each a 32-byte header
 * (checksum, length, kind, LSN, magic, header check) and a body padded with
 * zeros to a multiple of 8 bytes.  All integers are little-endian.
 *
 * Trust: the reader assumes nothing about the bytes.  A length is compared
 * with what is left of the buffer before anything is read or allocated;
 * counts inside a body are compared with what is left of the body, and a
 * body is at most QVI_WAL_MAX_RECORD bytes, so decoding one record
 * allocates at most a small multiple of its (bounded) length.
 *
 * Telling a torn tail from damage in the middle: the write that a crash
 * interrupts is always the last one, so after it the file holds nothing
 * readable.  When a record fails its checks, the reader therefore looks
 * at every later 8-byte boundary for a plausible record header -- magic,
 * header check (a 32-bit hash of the header alone, so this costs O(1) per
 * offset), a length that fits and an LSN above the last good one.  None:
 * torn tail, cut it.  One: something damaged records that were followed by
 * more log, and recovery must stop rather than silently drop them.
 *
 * Codec: a table with one entry per record kind, holding its name, its
 * encoder (which runs twice: once to measure, once to write) and its
 * decoder.  Adding a kind is one table line plus its two functions.
 */
#include "persist/wal.h"
#include "persist/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the WAL codec stores integers and floats in host order, "
               "which must be little-endian; add byte swaps to port it");

#define SEG_MAGIC     "QVWAL\r\n\x1a"
#define REC_MAGIC     0x43525651u /* "QVRC" */
#define NO_KEY        UINT32_MAX  /* PAYLOAD_SET without a key path */
#define ID_BYTES      24u
#define MAX_TEXT      (UINT32_MAX - 1u)
#define OFF_HASH      0
#define OFF_LEN       8
#define OFF_KIND      12
#define OFF_FLAGS     14
#define OFF_LSN       16
#define OFF_MAGIC     24
#define OFF_HCHECK    28
#define SEG_OFF_VER   8
#define SEG_OFF_FLAGS 12
#define SEG_OFF_SEQ   16
#define SEG_OFF_HASH  24

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* ---- writer: measures on a first pass (p NULL), writes on the second ---- */

typedef struct wr {
    uint8_t *p; /* NULL while measuring */
    size_t n;
    bool overflow;
} wr;

static void w_raw(wr *w, const void *src, size_t k)
{
    if (w->p && k)
        memcpy(w->p + w->n, src, k);
    if (!qv_add_size(w->n, k, &w->n))
        w->overflow = true;
}

static void w_u32(wr *w, uint32_t v)
{
    w_raw(w, &v, 4);
}

static void w_u64(wr *w, uint64_t v)
{
    w_raw(w, &v, 8);
}

static void w_id(wr *w, const qv_point_id *id)
{
    uint8_t b[ID_BYTES] = {0};
    memcpy(b, &id->kind, 4);
    if (id->kind == QV_ID_NUM)
        memcpy(b + 8, &id->u.num, 8);
    else
        memcpy(b + 8, id->u.uuid, 16);
    w_raw(w, b, sizeof(b));
}

/* n items of size bytes each. */
static void w_array(wr *w, const void *src, size_t n, size_t size)
{
    size_t k;
    if (!qv_mul_size(n, size, &k)) {
        w->overflow = true;
        return;
    }
    w_raw(w, src, k);
}

/* A length-prefixed string (u32 length, bytes). */
static bool w_text(wr *w, const char *s, size_t len)
{
    if (len > MAX_TEXT)
        return false;
    w_u32(w, (uint32_t)len);
    w_raw(w, s, len);
    return true;
}

/* ---- reader -------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

static bool r_bytes(rd *r, size_t k, const uint8_t **out)
{
    if (r->left < k)
        return false;
    *out = r->p;
    r->p += k;
    r->left -= k;
    return true;
}

static bool r_u32(rd *r, uint32_t *v)
{
    const uint8_t *b;
    if (!r_bytes(r, 4, &b))
        return false;
    *v = get_u32(b);
    return true;
}

static bool r_u64(rd *r, uint64_t *v)
{
    const uint8_t *b;
    if (!r_bytes(r, 8, &b))
        return false;
    *v = get_u64(b);
    return true;
}

/* An id: known kind, zero reserved field and zero padding after an
 * integer, so that one id has exactly one encoding. */
static bool r_id(rd *r, qv_point_id *id)
{
    const uint8_t *b;
    if (!r_bytes(r, ID_BYTES, &b))
        return false;
    memset(id, 0, sizeof(*id));
    id->kind = get_u32(b);
    if (get_u32(b + 4) != 0)
        return false;
    if (id->kind == QV_ID_NUM) {
        id->u.num = get_u64(b + 8);
        return get_u64(b + 16) == 0;
    }
    if (id->kind != QV_ID_UUID)
        return false;
    memcpy(id->u.uuid, b + 8, 16);
    return true;
}

/* n ids into a new array owned by rec (slot own[0]). */
static qv_status r_ids(rd *r, size_t n, qvi_change *rec, char *err,
                       size_t errcap)
{
    if (n > r->left / ID_BYTES) {
        qvi_errf(err, errcap, "%zu ids do not fit in the record", n);
        return QV_ECORRUPT;
    }
    qv_point_id *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (!ids) {
        qvi_errf(err, errcap, "cannot allocate %zu ids", n);
        return QV_ENOMEM;
    }
    rec->own[0] = ids;
    for (size_t i = 0; i < n; i++) {
        if (!r_id(r, &ids[i])) {
            qvi_errf(err, errcap, "id %zu is malformed", i);
            return QV_ECORRUPT;
        }
    }
    rec->ids = ids;
    rec->n = n;
    return QV_OK;
}

/* A length-prefixed string pointing into the buffer. */
static bool r_text(rd *r, const char **s, size_t *len)
{
    uint32_t n;
    const uint8_t *b;
    if (!r_u32(r, &n) || !r_bytes(r, n, &b))
        return false;
    *s = (const char *)b;
    *len = n;
    return true;
}

/* A length-prefixed key path, copied with a NUL into own[slot]; a NUL
 * inside it is refused (the public API takes C strings). */
static bool r_key(rd *r, qvi_change *rec, int slot, const char **out)
{
    const char *s;
    size_t len;
    if (!r_text(r, &s, &len) || memchr(s, '\0', len))
        return false;
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    memcpy(copy, s, len);
    copy[len] = '\0';
    rec->own[slot] = copy;
    *out = copy;
    return true;
}

/* ---- kinds --------------------------------------------------------------- */

/* The payloads of an upsert, if it has them: n u32 lengths followed by the
 * n texts (length 0: no payload, i.e. {}). */
static bool enc_texts(const qvi_change *r, wr *w)
{
    if (!r->texts)
        return true;
    for (size_t i = 0; i < r->n; i++) {
        size_t len = r->texts[i] ? r->text_lens[i] : 0;
        if (len > MAX_TEXT)
            return false;
        w_u32(w, (uint32_t)len);
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->texts[i])
            w_raw(w, r->texts[i], r->text_lens[i]);
    }
    return true;
}

/* UPSERT: u32 dim, u32 flags (bit 0: payloads), u64 n, n ids, n*dim f32,
 * then the payloads (enc_texts). */
static bool enc_upsert(const qvi_change *r, wr *w)
{
    if (!r->ids || !r->vecs || r->n == 0 || r->dim == 0 ||
        (r->texts && !r->text_lens))
        return false;
    w_u32(w, r->dim);
    w_u32(w, r->texts ? 1u : 0u);
    w_u64(w, r->n);
    for (size_t i = 0; i < r->n; i++)
        w_id(w, &r->ids[i]);
    size_t nf;
    if (!qv_mul_size(r->n, r->dim, &nf))
        return false;
    w_array(w, r->vecs, nf, sizeof(float));
    return enc_texts(r, w);
}

static qv_status dec_texts(rd *in, qvi_change *r, size_t n, char *err,
                           size_t errcap);

static qv_status dec_upsert(rd *in, qvi_change *r, char *err, size_t errcap)
{
    uint32_t dim, flags;
    uint64_t n;
    if (!r_u32(in, &dim) || !r_u32(in, &flags) || !r_u64(in, &n)) {
        qvi_errf(err, errcap, "truncated upsert header");
        return QV_ECORRUPT;
    }
    if (dim < QV_MIN_DIM || dim > QV_MAX_DIM || (flags & ~1u) || n == 0) {
        qvi_errf(err, errcap, "bad upsert header (dim %u, flags %u, n %llu)",
                 dim, flags, (unsigned long long)n);
        return QV_ECORRUPT;
    }
    /* Each point needs at least its id and its vector. */
    size_t per = ID_BYTES + (size_t)dim * sizeof(float);
    if (n > in->left / per) {
        qvi_errf(err, errcap, "%llu points of dimension %u do not fit",
                 (unsigned long long)n, dim);
        return QV_ECORRUPT;
    }
    qv_status st = r_ids(in, (size_t)n, r, err, errcap);
    if (st != QV_OK)
        return st;
    size_t vbytes = (size_t)n * dim * sizeof(float);
    const uint8_t *vb;
    float *vecs = malloc(vbytes);
    if (!vecs) {
        qvi_errf(err, errcap, "cannot allocate %zu bytes of vectors", vbytes);
        return QV_ENOMEM;
    }
    r->own[1] = vecs;
    if (!r_bytes(in, vbytes, &vb)) {
        qvi_errf(err, errcap, "truncated vectors");
        return QV_ECORRUPT;
    }
    memcpy(vecs, vb, vbytes);
    r->vecs = vecs;
    r->dim = dim;
    if (!(flags & 1u))
        return QV_OK;
    return dec_texts(in, r, (size_t)n, err, errcap);
}

/* The payloads written by enc_texts, for n points (own[2], own[3]). */
static qv_status dec_texts(rd *in, qvi_change *r, size_t n, char *err,
                           size_t errcap)
{
    if (n > in->left / 4) {
        qvi_errf(err, errcap, "truncated payload lengths");
        return QV_ECORRUPT;
    }
    const char **texts = calloc((size_t)n, sizeof(*texts));
    size_t *lens = calloc((size_t)n, sizeof(*lens));
    r->own[2] = texts;
    r->own[3] = lens;
    if (!texts || !lens) {
        qvi_errf(err, errcap, "cannot allocate %llu payloads",
                 (unsigned long long)n);
        return QV_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t len = 0;
        r_u32(in, &len); /* cannot fail: checked above */
        lens[i] = len;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b;
        if (!r_bytes(in, lens[i], &b)) {
            qvi_errf(err, errcap, "payload %zu overruns the record", i);
            return QV_ECORRUPT;
        }
        texts[i] = lens[i] ? (const char *)b : NULL;
    }
    r->texts = texts;
    r->text_lens = lens;
    return QV_OK;
}

/* SPARSE_UPSERT: u32 flags (bit 0: payloads), u32 zero, u64 n, n ids, n u32
 * lengths (nnz), then every vector's u32 indices followed by every
 * vector's f32 values (in point order, as the caller gave them), then
 * with payloads the texts as UPSERT. */
static bool enc_sparse_upsert(const qvi_change *r, wr *w)
{
    if (!r->ids || !r->sparse || r->n == 0 || (r->texts && !r->text_lens))
        return false;
    w_u32(w, r->texts ? 1u : 0u);
    w_u32(w, 0);
    w_u64(w, r->n);
    for (size_t i = 0; i < r->n; i++)
        w_id(w, &r->ids[i]);
    for (size_t i = 0; i < r->n; i++)
        w_u32(w, r->sparse[i].nnz);
    for (size_t i = 0; i < r->n; i++)
        w_array(w, r->sparse[i].indices, r->sparse[i].nnz, sizeof(uint32_t));
    for (size_t i = 0; i < r->n; i++)
        w_array(w, r->sparse[i].values, r->sparse[i].nnz, sizeof(float));
    return enc_texts(r, w);
}

/* The vectors of a sparse upsert: own[1] the n structs, own[4] one buffer
 * of every index then every value (copied: the body is not aligned). */
static qv_status r_sparse_vecs(rd *in, qvi_change *r, char *err, size_t errcap)
{
    size_t n = r->n;
    if (n > in->left / 4) {
        qvi_errf(err, errcap, "truncated sparse lengths");
        return QV_ECORRUPT;
    }
    qv_sparse_vector *v = calloc(n, sizeof(*v));
    r->own[1] = v;
    if (!v) {
        qvi_errf(err, errcap, "cannot allocate %zu sparse vectors", n);
        return QV_ENOMEM;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        r_u32(in, &v[i].nnz); /* cannot fail: checked above */
        total += v[i].nnz;
    }
    if (total > in->left / 8) {
        qvi_errf(err, errcap, "%llu sparse entries do not fit",
                 (unsigned long long)total);
        return QV_ECORRUPT;
    }
    uint8_t *buf = malloc(total ? (size_t)total * 8 : 1);
    r->own[4] = buf;
    if (!buf) {
        qvi_errf(err, errcap, "cannot allocate %llu sparse entries",
                 (unsigned long long)total);
        return QV_ENOMEM;
    }
    const uint8_t *b = NULL;
    if (total)
        r_bytes(in, (size_t)total * 8, &b); /* cannot fail: checked above */
    if (b)
        memcpy(buf, b, (size_t)total * 8);
    uint32_t *idx = (uint32_t *)buf;
    float *val = (float *)(buf + (size_t)total * 4);
    for (size_t i = 0; i < n; i++) {
        v[i].indices = idx;
        v[i].values = val;
        idx += v[i].nnz;
        val += v[i].nnz;
    }
    r->sparse = v;
    return QV_OK;
}

static qv_status dec_sparse_upsert(rd *in, qvi_change *r, char *err,
                                   size_t errcap)
{
    uint32_t flags, zero;
    uint64_t n;
    if (!r_u32(in, &flags) || !r_u32(in, &zero) || !r_u64(in, &n)) {
        qvi_errf(err, errcap, "truncated sparse upsert header");
        return QV_ECORRUPT;
    }
    if ((flags & ~1u) || zero || n == 0 || n > in->left / (ID_BYTES + 4)) {
        qvi_errf(err, errcap, "bad sparse upsert header (flags %u, n %llu)",
                 flags, (unsigned long long)n);
        return QV_ECORRUPT;
    }
    qv_status st = r_ids(in, (size_t)n, r, err, errcap);
    if (st == QV_OK)
        st = r_sparse_vecs(in, r, err, errcap);
    if (st != QV_OK || !(flags & 1u))
        return st;
    return dec_texts(in, r, (size_t)n, err, errcap);
}

/* MULTI_UPSERT (multivectors): u32 dim, u32 flags (bit 0: payloads), u64
 * n, n ids, n u32 row counts, u32 zero when n is odd (8-byte alignment of
 * what follows), sum(row counts) * dim f32, then the payloads
 * (enc_texts). */
static bool enc_multi_upsert(const qvi_change *r, wr *w)
{
    if (!r->ids || !r->vecs || !r->row_counts || r->n == 0 || r->dim == 0 ||
        (r->texts && !r->text_lens))
        return false;
    w_u32(w, r->dim);
    w_u32(w, r->texts ? 1u : 0u);
    w_u64(w, r->n);
    for (size_t i = 0; i < r->n; i++)
        w_id(w, &r->ids[i]);
    w_array(w, r->row_counts, r->n, sizeof(uint32_t));
    if (r->n % 2)
        w_u32(w, 0);
    size_t rows = 0, nf;
    for (size_t i = 0; i < r->n; i++)
        rows += r->row_counts[i]; /* each bounded by QV_MAX_MULTI_ROWS */
    if (!qv_mul_size(rows, r->dim, &nf))
        return false;
    w_array(w, r->vecs, nf, sizeof(float));
    return enc_texts(r, w);
}

/* The row counts of a multivector upsert (own[4]) and the number of rows
 * they add up to. */
static qv_status dec_row_counts(rd *in, qvi_change *r, size_t n, size_t *rows,
                                char *err, size_t errcap)
{
    if (n > in->left / 4) {
        qvi_errf(err, errcap, "truncated row counts");
        return QV_ECORRUPT;
    }
    uint32_t *counts = malloc(n * sizeof(uint32_t));
    if (!counts) {
        qvi_errf(err, errcap, "cannot allocate %zu row counts", n);
        return QV_ENOMEM;
    }
    r->own[4] = counts;
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        r_u32(in, &counts[i]); /* cannot fail: checked above */
        if (counts[i] < QV_MIN_MULTI_ROWS || counts[i] > QV_MAX_MULTI_ROWS) {
            qvi_errf(err, errcap, "point %zu has %u rows", i, counts[i]);
            return QV_ECORRUPT;
        }
        *rows += counts[i];
    }
    uint32_t pad = 0;
    if (n % 2 && (!r_u32(in, &pad) || pad != 0)) {
        qvi_errf(err, errcap, "bad padding after the row counts");
        return QV_ECORRUPT;
    }
    r->row_counts = counts;
    return QV_OK;
}

static qv_status dec_multi_upsert(rd *in, qvi_change *r, char *err,
                                  size_t errcap)
{
    uint32_t dim, flags;
    uint64_t n;
    if (!r_u32(in, &dim) || !r_u32(in, &flags) || !r_u64(in, &n)) {
        qvi_errf(err, errcap, "truncated multivector upsert header");
        return QV_ECORRUPT;
    }
    if (dim < QV_MIN_DIM || dim > QV_MAX_DIM || (flags & ~1u) || n == 0 ||
        n > in->left / (ID_BYTES + 4)) {
        qvi_errf(err, errcap,
                 "bad multivector upsert header (dim %u, flags %u, n %llu)",
                 dim, flags, (unsigned long long)n);
        return QV_ECORRUPT;
    }
    size_t rows = 0;
    qv_status st = r_ids(in, (size_t)n, r, err, errcap);
    if (st == QV_OK)
        st = dec_row_counts(in, r, (size_t)n, &rows, err, errcap);
    if (st != QV_OK)
        return st;
    if (rows > in->left / ((size_t)dim * sizeof(float))) {
        qvi_errf(err, errcap, "%zu rows of dimension %u do not fit", rows, dim);
        return QV_ECORRUPT;
    }
    size_t vbytes = rows * dim * sizeof(float);
    const uint8_t *vb;
    float *vecs = malloc(vbytes);
    if (!vecs) {
        qvi_errf(err, errcap, "cannot allocate %zu bytes of rows", vbytes);
        return QV_ENOMEM;
    }
    r->own[1] = vecs;
    if (!r_bytes(in, vbytes, &vb)) {
        qvi_errf(err, errcap, "truncated rows");
        return QV_ECORRUPT;
    }
    memcpy(vecs, vb, vbytes);
    r->vecs = vecs;
    r->dim = dim;
    return (flags & 1u) ? dec_texts(in, r, (size_t)n, err, errcap) : QV_OK;
}

/* DELETE, DELETE_FILTER: u64 n, n ids. */
static bool enc_ids(const qvi_change *r, wr *w)
{
    if (!r->ids || r->n == 0)
        return false;
    w_u64(w, r->n);
    for (size_t i = 0; i < r->n; i++)
        w_id(w, &r->ids[i]);
    return true;
}

static qv_status dec_ids(rd *in, qvi_change *r, char *err, size_t errcap)
{
    uint64_t n;
    if (!r_u64(in, &n) || n == 0 || n > in->left / ID_BYTES) {
        qvi_errf(err, errcap, "bad id count");
        return QV_ECORRUPT;
    }
    return r_ids(in, (size_t)n, r, err, errcap);
}

/* The payload kinds start with one id. */
static bool enc_one_id(const qvi_change *r, wr *w)
{
    if (!r->ids)
        return false;
    w_id(w, &r->ids[0]);
    return true;
}

static qv_status dec_one_id(rd *in, qvi_change *r, char *err, size_t errcap)
{
    return r_ids(in, 1, r, err, errcap);
}

/* PAYLOAD_OVERWRITE: id, u32 length, JSON. */
static bool enc_overwrite(const qvi_change *r, wr *w)
{
    return r->json && enc_one_id(r, w) && w_text(w, r->json, r->json_len);
}

static qv_status dec_overwrite(rd *in, qvi_change *r, char *err, size_t errcap)
{
    qv_status st = dec_one_id(in, r, err, errcap);
    if (st == QV_OK && !r_text(in, &r->json, &r->json_len)) {
        qvi_errf(err, errcap, "truncated payload");
        st = QV_ECORRUPT;
    }
    return st;
}

/* PAYLOAD_SET: id, u32 key length (NO_KEY: none), key, u32 length, JSON. */
static bool enc_set(const qvi_change *r, wr *w)
{
    if (!r->json || !enc_one_id(r, w))
        return false;
    if (r->key) {
        if (!w_text(w, r->key, strlen(r->key)))
            return false;
    } else {
        w_u32(w, NO_KEY);
    }
    return w_text(w, r->json, r->json_len);
}

static qv_status dec_set(rd *in, qvi_change *r, char *err, size_t errcap)
{
    qv_status st = dec_one_id(in, r, err, errcap);
    if (st != QV_OK)
        return st;
    uint32_t klen;
    if (in->left >= 4 && (memcpy(&klen, in->p, 4), klen == NO_KEY)) {
        in->p += 4;
        in->left -= 4;
    } else if (!r_key(in, r, 1, &r->key)) {
        qvi_errf(err, errcap, "bad key path");
        return QV_ECORRUPT;
    }
    if (!r_text(in, &r->json, &r->json_len)) {
        qvi_errf(err, errcap, "truncated payload");
        return QV_ECORRUPT;
    }
    return QV_OK;
}

/* PAYLOAD_DELETE_KEYS: id, u64 n, n x (u32 length, key). */
static bool enc_delete_keys(const qvi_change *r, wr *w)
{
    if ((r->n_keys && !r->keys) || !enc_one_id(r, w))
        return false;
    w_u64(w, r->n_keys);
    for (size_t i = 0; i < r->n_keys; i++) {
        if (!r->keys[i] || !w_text(w, r->keys[i], strlen(r->keys[i])))
            return false;
    }
    return true;
}

static qv_status dec_delete_keys(rd *in, qvi_change *r, char *err,
                                 size_t errcap)
{
    qv_status st = dec_one_id(in, r, err, errcap);
    if (st != QV_OK)
        return st;
    uint64_t n;
    if (!r_u64(in, &n) || n > in->left / 4) {
        qvi_errf(err, errcap, "bad key count");
        return QV_ECORRUPT;
    }
    /* One arena for every key and its NUL: at most left + n bytes. */
    const char **keys = calloc(n ? (size_t)n : 1, sizeof(*keys));
    char *arena = malloc(in->left + (size_t)n + 1);
    r->own[2] = keys;
    r->own[3] = arena;
    if (!keys || !arena) {
        qvi_errf(err, errcap, "cannot allocate %llu keys",
                 (unsigned long long)n);
        return QV_ENOMEM;
    }
    char *at = arena;
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (!r_text(in, &s, &len) || memchr(s, '\0', len)) {
            qvi_errf(err, errcap, "key %zu is malformed", i);
            return QV_ECORRUPT;
        }
        memcpy(at, s, len);
        at[len] = '\0';
        keys[i] = at;
        at += len + 1;
    }
    r->keys = keys;
    r->n_keys = (size_t)n;
    return QV_OK;
}

/* INDEX_CREATE: u32 length, key path, u32 length, index kind name (the
 * field docs/WAL.md calls the schema text), and, for a full-text index
 * with options, u32 length and their encoding (absent in older logs). */
static bool enc_index_create(const qvi_change *r, wr *w)
{
    return r->key && r->index_kind && w_text(w, r->key, strlen(r->key)) &&
           w_text(w, r->index_kind, r->index_kind_len) &&
           (!r->index_opts ||
            w_text(w, (const char *)r->index_opts, r->index_opts_len));
}

static qv_status dec_index_create(rd *in, qvi_change *r, char *err,
                                  size_t errcap)
{
    if (!r_key(in, r, 1, &r->key) ||
        !r_text(in, &r->index_kind, &r->index_kind_len)) {
        qvi_errf(err, errcap, "bad field key or index kind");
        return QV_ECORRUPT;
    }
    const char *opts = NULL;
    if (in->left && !r_text(in, &opts, &r->index_opts_len)) {
        qvi_errf(err, errcap, "bad field index options");
        return QV_ECORRUPT;
    }
    if (r->index_opts_len)
        r->index_opts = (const uint8_t *)opts;
    return QV_OK;
}

/* INDEX_DROP: u32 length, key path. */
static bool enc_index_drop(const qvi_change *r, wr *w)
{
    return r->key && w_text(w, r->key, strlen(r->key));
}

static qv_status dec_index_drop(rd *in, qvi_change *r, char *err, size_t errcap)
{
    if (!r_key(in, r, 1, &r->key)) {
        qvi_errf(err, errcap, "bad field key");
        return QV_ECORRUPT;
    }
    return QV_OK;
}

/* PAYLOAD_EDIT_BATCH: u64 n (>= 1), n ids, u32 number of edits (>= 1),
 * then each edit: u32 edit kind (qv_payload_edit_kind), then SET: key (u32
 * length or NO_KEY, bytes) and JSON text; OVERWRITE: JSON text;
 * DELETE_KEYS: u64 count and that many key texts; CLEAR: nothing. */
static bool enc_edit(const qv_payload_edit *e, wr *w)
{
    w_u32(w, (uint32_t)e->kind);
    switch (e->kind) {
    case QV_PAYLOAD_EDIT_SET:
        if (!e->json)
            return false;
        if (e->key) {
            if (!w_text(w, e->key, strlen(e->key)))
                return false;
        } else {
            w_u32(w, NO_KEY);
        }
        return w_text(w, e->json, e->len);
    case QV_PAYLOAD_EDIT_OVERWRITE:
        return e->json && w_text(w, e->json, e->len);
    case QV_PAYLOAD_EDIT_DELETE_KEYS:
        if (e->n_keys && !e->keys)
            return false;
        w_u64(w, e->n_keys);
        for (size_t i = 0; i < e->n_keys; i++)
            if (!e->keys[i] || !w_text(w, e->keys[i], strlen(e->keys[i])))
                return false;
        return true;
    case QV_PAYLOAD_EDIT_CLEAR:
        return true;
    }
    return false;
}

static bool enc_edit_batch(const qvi_change *r, wr *w)
{
    if (!enc_ids(r, w) || !r->edits || r->n_edits == 0 ||
        r->n_edits > UINT32_MAX)
        return false;
    w_u32(w, (uint32_t)r->n_edits);
    for (size_t k = 0; k < r->n_edits; k++)
        if (!enc_edit(&r->edits[k], w))
            return false;
    return true;
}

/* Where a decoded edit batch copies its key paths, each with a NUL: the
 * arena holds every key's bytes (at most the body's length) plus one NUL
 * per key, and each key takes at least 4 bytes of the body. */
typedef struct key_sink {
    char *arena;
    const char **ptrs;
    size_t n_ptrs, cap_ptrs;
} key_sink;

static bool r_key_into(rd *in, key_sink *ks, const char **out)
{
    const char *s;
    size_t len;
    if (!r_text(in, &s, &len) || memchr(s, '\0', len))
        return false;
    memcpy(ks->arena, s, len);
    ks->arena[len] = '\0';
    *out = ks->arena;
    ks->arena += len + 1;
    return true;
}

static qv_status dec_edit(rd *in, qv_payload_edit *e, key_sink *ks, char *err,
                          size_t errcap)
{
    uint32_t kind, klen;
    uint64_t nk;
    if (!r_u32(in, &kind)) {
        qvi_errf(err, errcap, "truncated edit");
        return QV_ECORRUPT;
    }
    e->kind = (qv_payload_edit_kind)kind;
    switch (kind) {
    case QV_PAYLOAD_EDIT_SET:
        if (in->left >= 4 && (memcpy(&klen, in->p, 4), klen == NO_KEY)) {
            in->p += 4;
            in->left -= 4;
        } else if (!r_key_into(in, ks, &e->key)) {
            qvi_errf(err, errcap, "bad key path");
            return QV_ECORRUPT;
        }
        /* then the JSON text, as OVERWRITE */
        /* fall through */
    case QV_PAYLOAD_EDIT_OVERWRITE:
        if (!r_text(in, &e->json, &e->len)) {
            qvi_errf(err, errcap, "truncated payload");
            return QV_ECORRUPT;
        }
        return QV_OK;
    case QV_PAYLOAD_EDIT_DELETE_KEYS:
        if (!r_u64(in, &nk) || nk > in->left / 4 ||
            nk > ks->cap_ptrs - ks->n_ptrs) {
            qvi_errf(err, errcap, "bad key count");
            return QV_ECORRUPT;
        }
        e->keys = ks->ptrs + ks->n_ptrs;
        e->n_keys = (size_t)nk;
        for (size_t i = 0; i < nk; i++)
            if (!r_key_into(in, ks, &ks->ptrs[ks->n_ptrs++])) {
                qvi_errf(err, errcap, "key %zu is malformed", i);
                return QV_ECORRUPT;
            }
        return QV_OK;
    case QV_PAYLOAD_EDIT_CLEAR:
        return QV_OK;
    }
    qvi_errf(err, errcap, "unknown payload edit kind %u", kind);
    return QV_ECORRUPT;
}

static qv_status dec_edit_batch(rd *in, qvi_change *r, char *err, size_t errcap)
{
    qv_status st = dec_ids(in, r, err, errcap);
    if (st != QV_OK)
        return st;
    uint32_t ne;
    if (!r_u32(in, &ne) || ne == 0 || ne > in->left / 4 + 1) {
        qvi_errf(err, errcap, "bad edit count");
        return QV_ECORRUPT;
    }
    size_t most_keys = in->left / 4 + 1;
    qv_payload_edit *edits = calloc(ne, sizeof(*edits));
    key_sink ks = {.arena = malloc(in->left + most_keys),
                   .ptrs = calloc(most_keys, sizeof(char *)),
                   .cap_ptrs = most_keys};
    r->own[1] = edits;
    r->own[2] = ks.ptrs;
    r->own[3] = ks.arena;
    if (!edits || !ks.arena || !ks.ptrs) {
        qvi_errf(err, errcap, "cannot allocate %u edits", ne);
        return QV_ENOMEM;
    }
    for (size_t k = 0; k < ne; k++)
        if ((st = dec_edit(in, &edits[k], &ks, err, errcap)) != QV_OK)
            return st;
    r->edits = edits;
    r->n_edits = ne;
    return QV_OK;
}

/* GROUP_COMMIT: u64 group id.  (GROUP_MEMBER is framing, qvi_wal_encode.) */
static bool enc_group_commit(const qvi_change *r, wr *w)
{
    if (r->group == 0)
        return false;
    w_u64(w, r->group);
    return true;
}

static qv_status dec_group_commit(rd *in, qvi_change *r, char *err,
                                  size_t errcap)
{
    if (!r_u64(in, &r->group) || r->group == 0) {
        qvi_errf(err, errcap, "bad group id");
        return QV_ECORRUPT;
    }
    return QV_OK;
}

/* QUANT_SET: u32 kind, f32 quantile (its bits), u32 always_ram (0 or 1),
 * u32 encoding, u32 query encoding (snapshot_quant.c's section, less its
 * padding); values a config would refuse are corrupt. */
static bool enc_quant_set(const qvi_change *r, wr *w)
{
    if (!r->quant)
        return false;
    uint32_t q;
    memcpy(&q, &r->quant->quant_quantile, 4);
    w_u32(w, r->quant->quantization);
    w_u32(w, q);
    w_u32(w, r->quant->quant_always_ram ? 1u : 0u);
    w_u32(w, r->quant->quant_encoding);
    w_u32(w, r->quant->quant_query_encoding);
    return true;
}

static qv_status dec_quant_set(rd *in, qvi_change *r, char *err, size_t errcap)
{
    uint32_t v[5];
    for (int i = 0; i < 5; i++) {
        if (!r_u32(in, &v[i])) {
            qvi_errf(err, errcap, "truncated quantization");
            return QV_ECORRUPT;
        }
    }
    qv_collection_config *cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        qvi_errf(err, errcap, "out of memory");
        return QV_ENOMEM;
    }
    qv_collection_config_init(cfg);
    cfg->quantization = v[0];
    memcpy(&cfg->quant_quantile, &v[1], 4);
    cfg->quant_always_ram = v[2] != 0;
    cfg->quant_encoding = v[3];
    cfg->quant_query_encoding = v[4];
    r->own[0] = cfg;
    r->quant = cfg;
    char msg[128];
    if (v[2] > 1 || qvi_quant_config_check(cfg, msg, sizeof(msg)) != QV_OK) {
        qvi_errf(err, errcap,
                 "bad quantization (kind %u, encoding %u, query "
                 "encoding %u)",
                 v[0], v[3], v[4]);
        return QV_ECORRUPT;
    }
    return QV_OK;
}

/* SPARSE_PARAMS: u32 modifier (0 none, 1 idf), u32 full_scan_threshold
 * (0: the default), u32 datatype (0-2), u32 zero; values a config would
 * refuse are corrupt. */
static bool enc_sparse_params(const qvi_change *r, wr *w)
{
    if (!r->sparse_cfg)
        return false;
    w_u32(w, r->sparse_cfg->sparse_modifier);
    w_u32(w, r->sparse_cfg->sparse_full_scan_threshold);
    w_u32(w, qvi_config_datatype(r->sparse_cfg));
    w_u32(w, 0);
    return true;
}

static qv_status dec_sparse_params(rd *in, qvi_change *r, char *err,
                                   size_t errcap)
{
    uint32_t v[4];
    for (int i = 0; i < 4; i++) {
        if (!r_u32(in, &v[i])) {
            qvi_errf(err, errcap, "truncated sparse params");
            return QV_ECORRUPT;
        }
    }
    if (v[0] > QV_SPARSE_MODIFIER_IDF || !qvi_datatype_name(v[2]) || v[3]) {
        qvi_errf(err, errcap, "bad sparse params (modifier %u, datatype %u)",
                 v[0], v[2]);
        return QV_ECORRUPT;
    }
    qv_collection_config *cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        qvi_errf(err, errcap, "out of memory");
        return QV_ENOMEM;
    }
    qv_collection_config_init(cfg);
    cfg->kind = QV_VECTOR_SPARSE;
    cfg->sparse_modifier = v[0];
    cfg->sparse_full_scan_threshold = v[1];
    cfg->datatype = v[2];
    r->own[0] = cfg;
    r->sparse_cfg = cfg;
    return QV_OK;
}

typedef struct kind_codec {
    const char *name;
    bool (*enc)(const qvi_change *r, wr *w); /* false: bad arguments */
    qv_status (*dec)(rd *in, qvi_change *r, char *err, size_t errcap);
} kind_codec;

static const kind_codec codecs[QVI_CHANGE_KIND_COUNT] = {
    [QVI_CHANGE_UPSERT] = {"upsert", enc_upsert, dec_upsert},
    [QVI_CHANGE_DELETE] = {"delete", enc_ids, dec_ids},
    [QVI_CHANGE_DELETE_FILTER] = {"delete by filter", enc_ids, dec_ids},
    [QVI_CHANGE_PAYLOAD_OVERWRITE] = {"payload overwrite", enc_overwrite,
                                      dec_overwrite},
    [QVI_CHANGE_PAYLOAD_SET] = {"payload set", enc_set, dec_set},
    [QVI_CHANGE_PAYLOAD_DELETE_KEYS] = {"payload delete keys", enc_delete_keys,
                                        dec_delete_keys},
    [QVI_CHANGE_PAYLOAD_CLEAR] = {"payload clear", enc_one_id, dec_one_id},
    [QVI_CHANGE_INDEX_CREATE] = {"payload index create", enc_index_create,
                                 dec_index_create},
    [QVI_CHANGE_PAYLOAD_EDIT_BATCH] = {"payload edit batch", enc_edit_batch,
                                       dec_edit_batch},
    [QVI_CHANGE_INDEX_DROP] = {"payload index drop", enc_index_drop,
                               dec_index_drop},
    [QVI_CHANGE_GROUP_COMMIT] = {"group commit", enc_group_commit,
                                 dec_group_commit},
    [QVI_CHANGE_SPARSE_UPSERT] = {"sparse upsert", enc_sparse_upsert,
                                  dec_sparse_upsert},
    [QVI_CHANGE_SPARSE_PARAMS] = {"sparse params set", enc_sparse_params,
                                  dec_sparse_params},
    [QVI_CHANGE_MULTI_UPSERT] = {"multivector upsert", enc_multi_upsert,
                                 dec_multi_upsert},
    [QVI_CHANGE_QUANT_SET] = {"quantization set", enc_quant_set, dec_quant_set},
};

/* A group member's body starts with u64 group id (>= 1), u32 the member's
 * own kind, u32 zero; the member's body follows. */
#define MEMBER_PREFIX 16u

static const kind_codec *codec_of(uint32_t kind)
{
    if (kind >= QVI_CHANGE_KIND_COUNT || !codecs[kind].name)
        return NULL;
    return &codecs[kind];
}

const char *qvi_wal_kind_name(uint32_t kind)
{
    if (kind == QVI_CHANGE_GROUP_MEMBER)
        return "group member";
    const kind_codec *k = codec_of(kind);
    return k ? k->name : "unknown";
}

/* ---- framing ------------------------------------------------------------- */

static uint32_t header_check(const uint8_t *h)
{
    return (uint32_t)XXH3_64bits(h + OFF_LEN, OFF_HCHECK - OFF_LEN);
}

qv_status qvi_wal_encode(const qvi_change *r, uint8_t **buf, size_t *cap,
                         size_t *len, char *err, size_t errcap)
{
    const kind_codec *k = codec_of(r->kind);
    bool member = r->group != 0 && r->kind != QVI_CHANGE_GROUP_COMMIT;
    if (!k) {
        qvi_errf(err, errcap, "unknown record kind %u", r->kind);
        return QV_EINVAL;
    }
    wr w = {.n = member ? MEMBER_PREFIX : 0};
    if (!k->enc(r, &w)) {
        qvi_errf(err, errcap, "%s record: missing data or a string over 4 GiB",
                 k->name);
        return QV_EINVAL;
    }
    if (w.overflow || w.n > QVI_WAL_MAX_RECORD) {
        qvi_errf(err, errcap,
                 "%s record of %zu bytes exceeds the log's limit of %u bytes; "
                 "split the batch",
                 k->name, w.n, QVI_WAL_MAX_RECORD);
        return QV_ERANGE;
    }
    size_t body = w.n, total = QVI_WAL_REC_HEADER + pad8(body);
    if (*cap < total) {
        uint8_t *nb = realloc(*buf, total);
        if (!nb) {
            qvi_errf(err, errcap, "cannot allocate a record of %zu bytes",
                     total);
            return QV_ENOMEM;
        }
        *buf = nb;
        *cap = total;
    }
    uint8_t *h = *buf;
    memset(h, 0, QVI_WAL_REC_HEADER);
    wr out = {.p = h + QVI_WAL_REC_HEADER};
    if (member) {
        w_u64(&out, r->group);
        w_u32(&out, r->kind);
        w_u32(&out, 0);
    }
    k->enc(r, &out);
    memset(h + QVI_WAL_REC_HEADER + body, 0, pad8(body) - body);
    uint32_t blen = (uint32_t)body, magic = REC_MAGIC;
    uint16_t kind = (uint16_t)(member ? QVI_CHANGE_GROUP_MEMBER : r->kind);
    memcpy(h + OFF_LEN, &blen, 4);
    memcpy(h + OFF_KIND, &kind, 2);
    memcpy(h + OFF_LSN, &r->lsn, 8);
    memcpy(h + OFF_MAGIC, &magic, 4);
    uint32_t hc = header_check(h);
    memcpy(h + OFF_HCHECK, &hc, 4);
    uint64_t hash = XXH3_64bits(h + OFF_LEN, total - OFF_LEN);
    memcpy(h + OFF_HASH, &hash, 8);
    *len = total;
    return QV_OK;
}

qv_status qvi_wal_decode(uint32_t kind, uint64_t lsn, const uint8_t *body,
                         size_t len, qvi_change *r, char *err, size_t errcap)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->lsn = lsn;
    rd in = {.p = body, .left = len};
    if (kind == QVI_CHANGE_GROUP_MEMBER) {
        uint32_t inner, zero;
        if (!r_u64(&in, &r->group) || !r_u32(&in, &inner) ||
            !r_u32(&in, &zero) || r->group == 0 || zero != 0 ||
            inner == QVI_CHANGE_GROUP_MEMBER ||
            inner == QVI_CHANGE_GROUP_COMMIT) {
            qvi_errf(err, errcap, "bad group member header");
            return QV_ECORRUPT;
        }
        r->kind = kind = inner;
    }
    const kind_codec *k = codec_of(kind);
    if (!k) {
        qvi_errf(err, errcap,
                 "unknown record kind %u (written by a newer Quiver?)", kind);
        return QV_EFORMAT;
    }
    qv_status st = k->dec(&in, r, err, errcap);
    if (st == QV_OK && in.left != 0) {
        qvi_errf(err, errcap, "%zu unexpected bytes after the %s record's data",
                 in.left, k->name);
        st = QV_ECORRUPT;
    }
    return st;
}

void qvi_wal_change_free(qvi_change *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < sizeof(r->own) / sizeof(r->own[0]); i++)
        free(r->own[i]);
    memset(r, 0, sizeof(*r));
}

void qvi_wal_segment_header(uint8_t out[QVI_WAL_SEG_HEADER], uint64_t seq)
{
    memset(out, 0, QVI_WAL_SEG_HEADER);
    memcpy(out, SEG_MAGIC, 8);
    uint32_t version = QVI_WAL_VERSION;
    memcpy(out + SEG_OFF_VER, &version, 4);
    memcpy(out + SEG_OFF_SEQ, &seq, 8);
    uint64_t hash = XXH3_64bits(out, SEG_OFF_HASH);
    memcpy(out + SEG_OFF_HASH, &hash, 8);
}

/* ---- reader -------------------------------------------------------------- */

/* True when a record header at off looks right on its own: magic, header
 * check, zero flags, a body within the limit and within the buffer.  *end
 * gets the offset after the padded record. */
static bool plausible(const uint8_t *buf, size_t len, size_t off, size_t *end)
{
    if (len - off < QVI_WAL_REC_HEADER)
        return false;
    const uint8_t *h = buf + off;
    if (get_u32(h + OFF_MAGIC) != REC_MAGIC ||
        get_u32(h + OFF_HCHECK) != header_check(h) ||
        get_u16(h + OFF_FLAGS) != 0)
        return false;
    uint32_t blen = get_u32(h + OFF_LEN);
    if (blen > QVI_WAL_MAX_RECORD)
        return false;
    size_t rest = len - off - QVI_WAL_REC_HEADER;
    if (pad8(blen) > rest)
        return false;
    *end = off + QVI_WAL_REC_HEADER + pad8(blen);
    return true;
}

static bool checksum_ok(const uint8_t *buf, size_t off, size_t end)
{
    return XXH3_64bits(buf + off + OFF_LEN, end - off - OFF_LEN) ==
           get_u64(buf + off + OFF_HASH);
}

/* The first offset after a bad record at off where a plausible record with
 * an LSN above last starts; 0 when there is none. */
static size_t later_record(const uint8_t *buf, size_t len, size_t off,
                           uint64_t last)
{
    for (size_t q = off + 8; q < len && len - q >= QVI_WAL_REC_HEADER; q += 8) {
        size_t end;
        if (plausible(buf, len, q, &end) && get_u64(buf + q + OFF_LSN) > last)
            return q;
    }
    return 0;
}

static qv_status scan_fail(qvi_wal_scan *out, qv_status st, size_t off,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static qv_status scan_fail(qvi_wal_scan *out, qv_status st, size_t off,
                           const char *fmt, ...)
{
    out->bad_offset = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
    return st;
}

static qv_status check_segment_header(const uint8_t *buf, size_t len,
                                      qvi_wal_scan *out)
{
    if (len < QVI_WAL_SEG_HEADER)
        return scan_fail(out, QV_ECORRUPT, 0,
                         "%zu bytes: shorter than a segment header", len);
    if (memcmp(buf, SEG_MAGIC, 8) != 0)
        return scan_fail(out, QV_EFORMAT, 0, "not a Quiver log segment");
    uint32_t version = get_u32(buf + SEG_OFF_VER);
    if (version != QVI_WAL_VERSION)
        return scan_fail(out, QV_EFORMAT, SEG_OFF_VER,
                         "log format version %u (this build reads %u)", version,
                         QVI_WAL_VERSION);
    if (XXH3_64bits(buf, SEG_OFF_HASH) != get_u64(buf + SEG_OFF_HASH) ||
        get_u32(buf + SEG_OFF_FLAGS) != 0)
        return scan_fail(out, QV_ECORRUPT, 0, "segment header checksum");
    out->seq = get_u64(buf + SEG_OFF_SEQ);
    return QV_OK;
}

qv_status qvi_wal_scan_buffer(const uint8_t *buf, size_t len,
                              qvi_wal_visit visit, void *arg, qvi_wal_scan *out)
{
    memset(out, 0, sizeof(*out));
    if (!buf)
        len = 0;
    qv_status st = check_segment_header(buf, len, out);
    if (st != QV_OK)
        return st;
    size_t off = QVI_WAL_SEG_HEADER;
    uint64_t last = 0;
    while (off < len) {
        size_t end;
        if (!plausible(buf, len, off, &end) || !checksum_ok(buf, off, end)) {
            size_t next = later_record(buf, len, off, last);
            if (next)
                return scan_fail(out, QV_ECORRUPT, off,
                                 "damaged record at offset %zu followed by "
                                 "a record at offset %zu",
                                 off, next);
            out->torn = true;
            break;
        }
        const uint8_t *h = buf + off;
        uint64_t lsn = get_u64(h + OFF_LSN);
        uint32_t kind = get_u16(h + OFF_KIND);
        if (lsn <= last)
            return scan_fail(out, QV_ECORRUPT, off,
                             "record at offset %zu has LSN %llu after LSN "
                             "%llu",
                             off, (unsigned long long)lsn,
                             (unsigned long long)last);
        qvi_change rec;
        char why[128] = "";
        st = qvi_wal_decode(kind, lsn, h + QVI_WAL_REC_HEADER,
                            get_u32(h + OFF_LEN), &rec, why, sizeof(why));
        if (st == QV_OK && visit)
            st = visit(arg, &rec, off);
        else if (st != QV_OK)
            scan_fail(out, st, off, "record at offset %zu (LSN %llu): %s", off,
                      (unsigned long long)lsn, why);
        qvi_wal_change_free(&rec);
        if (st != QV_OK) {
            out->bad_offset = off;
            return st;
        }
        out->n_records++;
        out->last_lsn = last = lsn;
        off = end;
    }
    out->valid_end = off;
    return QV_OK;
}
