/*
 * json_io.c -- import and export of the JSON files written by the in-memory
 * vector stores that Quiver replaces.
 *
 * Applications that could not run Qdrant kept their vectors in a toy store
 * that scans every vector and saves one JSON document.  Three shapes are
 * common, and all three are read:
 *
 *   points     [{"id":..,"vector":[..],"payload":{..}}, ...], or the same
 *              list under "points" (Quiver's own export, Qdrant's point
 *              shape; "embedding" is accepted for "vector", "metadata" for
 *              "payload");
 *   langchain  LangChain's InMemoryVectorStore.dump(): an object of
 *              id -> {"id","vector","text","metadata"}; the point's payload
 *              becomes {"page_content": text, "metadata": metadata}, the
 *              layout LangChain's Qdrant store uses, so the same application
 *              code reads it back through Qdrant's API;
 *   llamaindex LlamaIndex's SimpleVectorStore: {"embedding_dict": {id: [..]},
 *              "metadata_dict": {id: {..}}, "text_id_to_ref_doc_id": ..};
 *              the payload is the metadata plus "ref_doc_id".
 *
 * Point ids.  Qdrant ids are unsigned integers or UUIDs; toy stores use any
 * string.  A string that is a UUID (any spelling) is that UUID; any other
 * string becomes a name-based UUID (the first 16 bytes of its XXH3-128,
 * marked version 8, "vendor specific", by RFC 9562) and the original string
 * is kept in the payload under QV_JSON_ORIGINAL_ID_KEY, so that export gives
 * the application its own ids back.  JSON numbers must be exact integers in
 * 0..2^53: cJSON holds them as doubles, so larger ones cannot be read
 * exactly and are refused rather than silently changed; export writes such
 * ids as decimal strings, which import reads back as integers.
 *
 * The whole document is parsed in memory with cJSON: toy stores are small
 * enough to have been one document already.  Points are upserted in batches
 * through the public API, so every id, vector and payload is validated by
 * the same code as any other write; a later duplicate id replaces the
 * earlier point.  Export streams points in id order through a buffered
 * stream into a temporary file that is fsynced and renamed over the target
 * (then the directory is fsynced), floats printed with 9 significant digits
 * so that they read back bit for bit.
 */
#include "quiver.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/filter/filter.h"
#include "persist/fileio.h"

#define IMPORT_BATCH 1024u

/* ---- errors ------------------------------------------------------------- */

static qv_status fail(char *err, size_t cap, qv_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static qv_status fail(char *err, size_t cap, qv_status st, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- ids ---------------------------------------------------------------- */

/* A UUID named by an arbitrary string: XXH3-128 of it with RFC 9562's
 * version 8 and variant bits, so it never equals a random (v4) UUID that
 * the same application also used. */
static qv_point_id id_from_name(const char *s)
{
    XXH128_hash_t h = XXH3_128bits(s, strlen(s));
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, h);
    qv_point_id id;
    memset(&id, 0, sizeof id);
    id.kind = QV_ID_UUID;
    memcpy(id.u.uuid, canon.digest, 16);
    id.u.uuid[6] = (uint8_t)((id.u.uuid[6] & 0x0f) | 0x80);
    id.u.uuid[8] = (uint8_t)((id.u.uuid[8] & 0x3f) | 0x80);
    return id;
}

/* Integer ids above 2^53 do not survive a JSON number in cJSON (or in
 * JavaScript), so export writes them as decimal strings and import reads a
 * string of digits whose value is above 2^53 as that integer. */
static bool big_id_text(const char *s, qv_point_id *out)
{
    uint64_t v = 0;
    if (!*s || strlen(s) > 20)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || (p == s && *p == '0') ||
            __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return false;
    }
    if (v <= (1ull << 53))
        return false;
    *out = qv_id_from_num(v);
    return true;
}

/* Converts a JSON id; *named tells whether the payload must keep the
 * original string. */
static bool id_from_json(const cJSON *j, qv_point_id *out, bool *named)
{
    *named = false;
    if (cJSON_IsNumber(j)) {
        int64_t i;
        uint64_t u;
        double d;
        switch (qvi_json_num(j, &i, &u, &d)) {
        case QVI_JNUM_INT:
            if (i < 0)
                return false;
            *out = qv_id_from_num((uint64_t)i);
            return true;
        case QVI_JNUM_UINT:
            *out = qv_id_from_num(u);
            return true;
        default:
            return false; /* 2.0 is no id, as in Qdrant */
        }
    }
    if (!cJSON_IsString(j) || !j->valuestring[0])
        return false;
    if (big_id_text(j->valuestring, out))
        return true;
    if (qv_id_parse_uuid(j->valuestring, out) == QV_OK)
        return true;
    *out = id_from_name(j->valuestring);
    *named = true;
    return true;
}

/* ---- one point, whatever the source shape -------------------------------- */

typedef struct point_ref {
    const cJSON *id;      /* number or string */
    const cJSON *vector;  /* array of numbers */
    const cJSON *payload; /* object or NULL */
    const cJSON *text;    /* langchain: page_content, or NULL */
    const cJSON *ref_doc; /* llamaindex: ref_doc_id, or NULL */
    bool wrap_langchain;  /* payload = {page_content, metadata} */
} point_ref;

/* The batch being filled: ids, vectors and payload texts. */
typedef struct batch {
    qv_collection *c;
    qv_collection_config cfg;
    qv_point_id ids[IMPORT_BATCH];
    char *payloads[IMPORT_BATCH];
    size_t lens[IMPORT_BATCH];
    float *vecs; /* IMPORT_BATCH * dim */
    size_t n;
    uint64_t total;
} batch;

static qv_status batch_flush(batch *b, char *err, size_t cap)
{
    if (b->n == 0)
        return QV_OK;
    qv_status st =
        qv_upsert_with_payloads(b->c, b->ids, b->vecs, b->n, b->cfg.dim,
                                (const char *const *)b->payloads, b->lens);
    if (st != QV_OK) {
        char msg[256];
        qv_collection_errmsg(b->c, msg, sizeof msg);
        fail(err, cap, st, "points %" PRIu64 "..%" PRIu64 ": %s", b->total,
             b->total + b->n - 1, msg);
    }
    for (size_t i = 0; i < b->n; i++) {
        cJSON_free(b->payloads[i]);
        b->payloads[i] = NULL;
    }
    b->total += b->n;
    b->n = 0;
    return st;
}

/* Creates the collection once the first vector gives the dimension. */
static qv_status batch_start(batch *b, uint32_t dim, char *err, size_t cap)
{
    if (b->cfg.dim && b->cfg.dim != dim)
        return fail(err, cap, QV_EDIM,
                    "point 0: vector has %u components, expected %u", dim,
                    b->cfg.dim);
    b->cfg.dim = dim;
    qv_status st = qv_collection_create(&b->cfg, &b->c);
    if (st != QV_OK)
        return fail(err, cap, st, "cannot create a collection of dim %u: %s",
                    dim, qv_strerror(st));
    b->vecs = malloc((size_t)IMPORT_BATCH * dim * sizeof(float));
    return b->vecs ? QV_OK : fail(err, cap, QV_ENOMEM, "out of memory");
}

/* Builds the stored payload of one point as JSON text. */
static char *payload_text(const point_ref *p, bool named)
{
    cJSON *o;
    if (p->wrap_langchain) {
        o = cJSON_CreateObject();
        if (o && p->text)
            cJSON_AddItemToObject(o, "page_content",
                                  cJSON_Duplicate(p->text, true));
        if (o && p->payload)
            cJSON_AddItemToObject(o, "metadata",
                                  cJSON_Duplicate(p->payload, true));
    } else {
        o = p->payload ? cJSON_Duplicate(p->payload, true)
                       : cJSON_CreateObject();
    }
    if (o && p->ref_doc)
        cJSON_AddItemToObject(o, "ref_doc_id",
                              cJSON_Duplicate(p->ref_doc, true));
    if (o && named) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, QV_JSON_ORIGINAL_ID_KEY);
        cJSON_AddStringToObject(o, QV_JSON_ORIGINAL_ID_KEY, p->id->valuestring);
    }
    char *text = o ? qvi_json_print_exact(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static qv_status batch_add(batch *b, const point_ref *p, size_t index,
                           char *err, size_t cap)
{
    bool named;
    qv_point_id id;
    if (!p->id || !id_from_json(p->id, &id, &named))
        return fail(err, cap, QV_EINVAL,
                    "point %zu: id must be an unsigned integer up to 2^53 "
                    "or a non-empty string",
                    index);
    if (!cJSON_IsArray(p->vector))
        return fail(err, cap, QV_EINVAL, "point %zu: no vector array", index);
    int dim = cJSON_GetArraySize(p->vector);
    if (dim < (int)QV_MIN_DIM || dim > (int)QV_MAX_DIM)
        return fail(err, cap, QV_EDIM, "point %zu: vector has %d components",
                    index, dim);
    if (p->payload && !cJSON_IsObject(p->payload) && !cJSON_IsNull(p->payload))
        return fail(err, cap, QV_EINVAL, "point %zu: payload is not an object",
                    index);
    qv_status st;
    if (!b->c && (st = batch_start(b, (uint32_t)dim, err, cap)) != QV_OK)
        return st;
    if ((uint32_t)dim != b->cfg.dim)
        return fail(err, cap, QV_EDIM,
                    "point %zu: vector has %d components, expected %u", index,
                    dim, b->cfg.dim);
    float *row = b->vecs + b->n * b->cfg.dim;
    const cJSON *x;
    size_t i = 0;
    cJSON_ArrayForEach(x, p->vector)
    {
        if (!cJSON_IsNumber(x))
            return fail(err, cap, QV_EINVAL,
                        "point %zu: vector[%zu] is not a number", index, i);
        row[i++] = (float)x->valuedouble;
    }
    char *text = payload_text(p, named);
    if (!text)
        return fail(err, cap, QV_ENOMEM, "out of memory");
    b->ids[b->n] = id;
    b->payloads[b->n] = text;
    b->lens[b->n] = strlen(text);
    if (++b->n == IMPORT_BATCH)
        return batch_flush(b, err, cap);
    return QV_OK;
}

/* ---- the three source shapes --------------------------------------------- */

static const cJSON *either(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    return v ? v : cJSON_GetObjectItemCaseSensitive(o, b);
}

static qv_status import_points(batch *b, const cJSON *list, char *err,
                               size_t cap)
{
    size_t index = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (!cJSON_IsObject(e))
            return fail(err, cap, QV_EINVAL, "point %zu: not an object", index);
        point_ref p = {.id = cJSON_GetObjectItemCaseSensitive(e, "id"),
                       .vector = either(e, "vector", "embedding"),
                       .payload = either(e, "payload", "metadata")};
        qv_status st = batch_add(b, &p, index++, err, cap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

static qv_status import_langchain(batch *b, const cJSON *root, char *err,
                                  size_t cap)
{
    size_t index = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        point_ref p = {.id = id ? id : NULL,
                       .vector = cJSON_GetObjectItemCaseSensitive(e, "vector"),
                       .payload =
                           cJSON_GetObjectItemCaseSensitive(e, "metadata"),
                       .text = cJSON_GetObjectItemCaseSensitive(e, "text"),
                       .wrap_langchain = true};
        cJSON key = {.type = cJSON_String, .valuestring = e->string};
        if (!p.id)
            p.id = &key;
        qv_status st = batch_add(b, &p, index++, err, cap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

static qv_status import_llamaindex(batch *b, const cJSON *root, char *err,
                                   size_t cap)
{
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(root, "embedding_dict");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata_dict");
    const cJSON *refs =
        cJSON_GetObjectItemCaseSensitive(root, "text_id_to_ref_doc_id");
    size_t index = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, emb)
    {
        cJSON key = {.type = cJSON_String, .valuestring = e->string};
        point_ref p = {
            .id = &key,
            .vector = e,
            .payload = cJSON_GetObjectItemCaseSensitive(meta, e->string),
            .ref_doc = cJSON_GetObjectItemCaseSensitive(refs, e->string)};
        qv_status st = batch_add(b, &p, index++, err, cap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

/* True when every member of root is an object with a vector array: the
 * LangChain dump (Quiver's own export has a "points" member instead). */
static bool looks_langchain(const cJSON *root)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (!cJSON_IsObject(e) ||
            !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(e, "vector")))
            return false;
    }
    return true;
}

static qv_status import_root(batch *b, const cJSON *root, char *err, size_t cap)
{
    if (cJSON_IsArray(root))
        return import_points(b, root, err, cap);
    if (!cJSON_IsObject(root))
        return fail(err, cap, QV_EFORMAT,
                    "the document is neither a list of points nor an object");
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(root, "points");
    if (cJSON_IsArray(points))
        return import_points(b, points, err, cap);
    if (cJSON_IsObject(
            cJSON_GetObjectItemCaseSensitive(root, "embedding_dict")))
        return import_llamaindex(b, root, err, cap);
    if (looks_langchain(root))
        return import_langchain(b, root, err, cap);
    return fail(err, cap, QV_EFORMAT,
                "unknown layout: expected a list of points, {\"points\": "
                "[...]}, a LangChain InMemoryVectorStore dump or a "
                "LlamaIndex SimpleVectorStore");
}

qv_status qv_json_import(const char *path, const qv_collection_config *cfg,
                         qv_collection **out, char *err, size_t errcap)
{
    if (out)
        *out = NULL;
    if (!path || !cfg || !out)
        return fail(err, errcap, QV_ENULL, "path, cfg and out are required");
    char *text = NULL;
    size_t len = 0;
    qv_status st = qvi_read_file(path, &text, &len, err, errcap);
    if (st != QV_OK)
        return st;
    const char *end = NULL;
    cJSON *root = qvi_json_parse_exact(text, len, &end);
    if (!root) {
        st = fail(err, errcap, QV_EFORMAT, "%s: malformed JSON at byte %zu",
                  path, end ? (size_t)(end - text) : (size_t)0);
        free(text);
        return st;
    }
    free(text);
    batch *b = calloc(1, sizeof *b);
    if (!b) {
        cJSON_Delete(root);
        return fail(err, errcap, QV_ENOMEM, "out of memory");
    }
    b->cfg = *cfg;
    st = import_root(b, root, err, errcap);
    if (st == QV_OK)
        st = batch_flush(b, err, errcap);
    if (st == QV_OK && !b->c)
        st = b->cfg.dim
                 ? batch_start(b, b->cfg.dim, err, errcap)
                 : fail(err, errcap, QV_EINVAL,
                        "%s holds no points and no dimension was given", path);
    for (size_t i = 0; i < b->n; i++)
        cJSON_free(b->payloads[i]);
    cJSON_Delete(root);
    if (st == QV_OK)
        *out = b->c;
    else
        qv_collection_release(b->c);
    free(b->vecs);
    free(b);
    return st;
}

/* ---- export ---------------------------------------------------------------
 */

/* Writes one point; restores the application's own id when the import
 * named it. */
static bool write_point(FILE *f, qv_collection *c, const qv_point_id *id,
                        float *vec, uint32_t dim, qv_json_format format,
                        bool *firstp)
{
    char *json = NULL;
    size_t len = 0;
    qv_status st = qv_get(c, id, vec, dim);
    if (st == QV_OK)
        st = qv_payload_get(c, id, NULL, &json, &len);
    if (st == QV_ENOTFOUND)
        return true; /* deleted since the scroll saw it */
    if (st != QV_OK)
        return false;
    bool first = *firstp;
    *firstp = false;
    cJSON *payload = qvi_json_parse_exact(json, len, NULL);
    qv_free(json);
    if (!payload)
        return false;
    cJSON *orig = cJSON_DetachItemFromObjectCaseSensitive(
        payload, QV_JSON_ORIGINAL_ID_KEY);
    cJSON *idj;
    if (cJSON_IsString(orig)) {
        idj = orig;
        orig = NULL;
    } else if (id->kind == QV_ID_NUM) {
        idj = cJSON_CreateNumber((double)id->u.num);
    } else {
        char buf[QV_UUID_STRLEN];
        qv_id_format(id, buf, sizeof buf);
        idj = cJSON_CreateString(buf);
    }
    cJSON_Delete(orig);
    char *idtext = cJSON_PrintUnformatted(idj);
    bool ok = idtext != NULL;
    if (ok && id->kind == QV_ID_NUM && !cJSON_IsString(idj)) {
        /* cJSON prints doubles: write the integer ourselves, quoted above
         * 2^53 (see big_id_text). */
        cJSON_free(idtext);
        idtext = malloc(24);
        const char *fmt =
            id->u.num > (1ull << 53) ? "\"%" PRIu64 "\"" : "%" PRIu64;
        ok = idtext && snprintf(idtext, 24, fmt, id->u.num) > 0;
    }
    if (ok && format == QV_JSON_LANGCHAIN)
        ok = fprintf(f, "%s%s:{\"id\":%s,\"vector\":[", first ? "" : ",\n",
                     idtext, idtext) >= 0;
    else if (ok)
        ok = fprintf(f, "%s{\"id\":%s,\"vector\":[", first ? "" : ",\n",
                     idtext) >= 0;
    for (uint32_t i = 0; ok && i < dim; i++)
        ok = fprintf(f, i ? ",%.9g" : "%.9g", (double)vec[i]) >= 0;
    char *ptext = NULL;
    if (ok && format == QV_JSON_LANGCHAIN) {
        cJSON *text = cJSON_GetObjectItemCaseSensitive(payload, "page_content");
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(payload, "metadata");
        char *t = text ? qvi_json_print_exact(text) : NULL;
        char *m = meta ? qvi_json_print_exact(meta) : NULL;
        ok = fprintf(f, "],\"text\":%s,\"metadata\":%s}", t ? t : "\"\"",
                     m ? m : "{}") >= 0;
        cJSON_free(t);
        cJSON_free(m);
    } else if (ok) {
        ptext = qvi_json_print_exact(payload);
        ok = ptext && fprintf(f, "],\"payload\":%s}", ptext) >= 0;
    }
    cJSON_free(ptext);
    free(idtext);
    cJSON_Delete(idj);
    cJSON_Delete(payload);
    return ok;
}

static bool write_all(FILE *f, qv_collection *c, uint32_t dim,
                      qv_json_format format)
{
    enum { PAGE = 512 };
    qv_point_id ids[PAGE], next;
    float *vec = malloc((size_t)dim * sizeof(float));
    bool ok = vec != NULL, has_next = true, first = true, started = false;
    ok = ok &&
         fputs(format == QV_JSON_LANGCHAIN ? "{" : "{\"points\":[\n", f) >= 0;
    while (ok && has_next) {
        size_t n = 0;
        ok = qv_scroll(c, started ? &next : NULL, NULL, PAGE, ids, &n, &next,
                       &has_next) == QV_OK;
        started = true;
        for (size_t i = 0; ok && i < n; i++)
            ok = write_point(f, c, &ids[i], vec, dim, format, &first);
    }
    ok = ok && fputs(format == QV_JSON_LANGCHAIN ? "}\n" : "\n]}\n", f) >= 0;
    free(vec);
    return ok;
}

qv_status qv_json_export(qv_collection *c, const char *path,
                         qv_json_format format, char *err, size_t errcap)
{
    if (!c || !path)
        return fail(err, errcap, QV_ENULL, "collection and path are required");
    if (format != QV_JSON_POINTS && format != QV_JSON_LANGCHAIN)
        return fail(err, errcap, QV_EINVAL, "unknown export format %d",
                    (int)format);
    qv_collection_config cfg;
    qv_collection_get_config(c, &cfg);
    qvi_atomic_file af;
    qv_status st = qvi_atomic_open(&af, path, err, errcap);
    if (st != QV_OK)
        return st;
    if (!write_all(af.f, c, cfg.dim, format)) {
        int e = errno;
        qvi_atomic_abort(&af);
        return fail(err, errcap, QV_EIO, "%s: cannot write the export: %s",
                    path, e ? strerror(e) : "read failed");
    }
    return qvi_atomic_commit(&af, err, errcap);
}
