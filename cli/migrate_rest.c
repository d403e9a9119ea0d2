/*
 * migrate_rest.c -- the Qdrant REST endpoint of `quiver migrate`: Qdrant
 * itself or `quiver serve`, over libcurl (see migrate.h).
 *
 * Calls, as Qdrant 1.19 documents them (qdrant-rest-subset.md and the
 * OpenAPI schema in the reference): GET /collections (list), GET
 * /collections/{c} (config, payload_schema), POST .../points/count with
 * exact=true, POST .../points/scroll with with_vector and with_payload,
 * paged by next_page_offset (scroll pages in id order, so a page's
 * next_page_offset is where an interrupted run resumes), POST .../points
 * (retrieve, for verification), PUT /collections/{c} (create), PUT
 * .../index?wait=true (payload indexes) and PUT .../points?wait=true
 * (upsert): with wait=true the reply comes once the points are applied,
 * so a checkpoint written after it never records more than the server
 * holds.
 *
 * Exact numbers.  Responses are never parsed into a tree of doubles: the
 * text is scanned for spans (cli/jspan.c), ids are read with strtoull or
 * as UUIDs, vector components with strtof (a float printed by the server
 * in any round-trip form reads back to the same bits), and payloads are
 * carried as the server's own text, so 2^64 - 1 and 0.1 arrive as they
 * left.  Vector components are written with nine significant digits,
 * enough for any float to read back bit for bit.
 *
 * Config.  From a REST source the collection's params.vectors,
 * hnsw_config and quantization_config are kept as text and sent as they
 * are to a REST destination, so server-to-server moves keep settings
 * Quiver's library has no field for.  Sparse vectors (params.
 * sparse_vectors: modifier, index.full_scan_threshold) and multivectors
 * (multivector_config, comparator max_sim) are read into the model and
 * their text carried too; quantization_config is also mapped onto the
 * library's fields (scalar int8, binary) for a library destination.
 * Vector datatypes other than float32 are refused with a message rather
 * than converted.
 *
 * Point vectors: dense [..], multivector [[..], ..] and sparse
 * {"indices": [..], "values": [..]}, components read with strtof and
 * written with %.9g as above, so every kind round-trips bit for bit;
 * sparse pairs are kept sorted by index (mg_batch_set_var), the order the
 * library stores them in, so that two sides compare equal.
 */
#include "jspan.h"
#include "migrate.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable text buffer ------------------------------------------------
 */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_fmt(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* s as a JSON string token (cJSON does the escaping). */
static void sb_json_string(sbuf *b, const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    if (text)
        sb_str(b, text);
    else
        b->oom = true;
    free(text);
    cJSON_Delete(j);
}

static void sb_id(sbuf *b, const qv_point_id *id)
{
    char text[QV_UUID_STRLEN];
    qv_id_format(id, text, sizeof(text));
    if (id->kind == QV_ID_NUM)
        sb_str(b, text);
    else
        sb_fmt(b, "\"%s\"", text);
}

/* ---- HTTP ------------------------------------------------------------------
 */

typedef struct rest_state {
    CURL *curl;
    char *base; /* the URL without a trailing '/' */
    struct curl_slist *headers;
    sbuf resp;
} rest_state;

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
    sbuf *b = user;
    sb_add(b, data, size * nmemb);
    return b->oom ? 0 : size * nmemb;
}

/* The error Qdrant's envelope carries (status.error), or the start of
 * the body. */
static void reply_error(const sbuf *r, char *out, size_t cap)
{
    js_span root, err;
    char *msg = NULL;
    if (r->p && js_root(r->p, r->n, &root) &&
        js_path(root, "status.error", &err))
        msg = js_string(err);
    snprintf(out, cap, "%.300s", msg ? msg : r->p ? r->p : "(no body)");
    free(msg);
}

/* "/collections/<escaped name><suffix>" */
static char *coll_path(rest_state *s, const char *name, const char *suffix)
{
    char *esc = curl_easy_escape(s->curl, name, 0);
    sbuf b = {0};
    sb_str(&b, "/collections/");
    sb_str(&b, esc ? esc : "");
    sb_str(&b, suffix);
    curl_free(esc);
    if (!esc || b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Sends one request; on a 2xx reply *root is the response body's value
 * (valid until the next call).  *http gets the status (0: none). */
static qv_status call(mg_endpoint *e, const char *method, const char *path,
                      const sbuf *body, js_span *root, long *http)
{
    rest_state *s = e->state;
    sbuf url = {0};
    *http = 0;
    if (!path || (body && body->oom))
        return mg_fail(e, QV_ENOMEM, "out of memory");
    sb_str(&url, s->base);
    sb_str(&url, path);
    if (url.oom)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    s->resp.n = 0;
    s->resp.oom = false;
    curl_easy_setopt(s->curl, CURLOPT_URL, url.p);
    curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
    if (body) {
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body->p ? body->p : "");
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)body->n);
        curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(s->curl);
    free(url.p);
    if (rc != CURLE_OK)
        return mg_fail(e, QV_EIO, "cannot reach %s: %s", s->base,
                       curl_easy_strerror(rc));
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, http);
    if (*http < 200 || *http > 299) {
        char msg[400];
        reply_error(&s->resp, msg, sizeof(msg));
        return mg_fail(e, *http == 404 ? QV_ENOTFOUND : QV_EIO,
                       "%s %s%s: HTTP %ld: %s", method, s->base, path, *http,
                       msg);
    }
    if (!s->resp.p || !js_root(s->resp.p, s->resp.n, root))
        return mg_fail(e, QV_EIO, "%s %s%s: the reply is not JSON", method,
                       s->base, path);
    return QV_OK;
}

/* call() for a collection path, returning the envelope's result. */
static qv_status call_coll(mg_endpoint *e, const char *method, const char *name,
                           const char *suffix, const sbuf *body,
                           js_span *result)
{
    rest_state *s = e->state;
    char *path = coll_path(s, name, suffix);
    js_span root;
    long http;
    qv_status st = call(e, method, path, body, &root, &http);
    free(path);
    if (st == QV_ENOTFOUND && !strcmp(method, "GET") && !*suffix)
        return mg_fail(e, st, "%s has no collection '%s'", s->base, name);
    if (st == QV_OK && !js_get(root, "result", result))
        return mg_fail(e, QV_EIO, "%s: a reply without a result", s->base);
    return st;
}

/* ---- reading values ------------------------------------------------------
 */

static bool span_u64(js_span v, uint64_t *out)
{
    char tmp[32];
    if (js_kind(v) != '0' || v.p[0] == '-' || v.n >= sizeof(tmp))
        return false;
    for (size_t i = 0; i < v.n; i++)
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = 0;
    errno = 0;
    unsigned long long x = strtoull(tmp, NULL, 10);
    if (errno)
        return false;
    *out = x;
    return true;
}

static bool span_id(js_span v, qv_point_id *id)
{
    uint64_t num;
    if (span_u64(v, &num)) {
        *id = qv_id_from_num(num);
        return true;
    }
    char *text = js_string(v);
    bool ok = text && qv_id_parse_uuid(text, id) == QV_OK;
    free(text);
    return ok;
}

static bool span_floats(js_span v, float *out, uint32_t dim)
{
    js_iter it;
    js_span x;
    uint32_t i = 0;
    char tmp[64];
    if (!js_iter_begin(v, &it) || it.object)
        return false;
    while (js_iter_next(&it, NULL, &x)) {
        if (i >= dim || js_kind(x) != '0' || x.n >= sizeof(tmp))
            return false;
        memcpy(tmp, x.p, x.n);
        tmp[x.n] = 0;
        out[i++] = strtof(tmp, NULL);
    }
    return i == dim;
}

static char *span_dup(js_span v)
{
    return strndup(v.p, v.n);
}

static bool span_is_null(js_span v)
{
    return js_kind(v) == 'n';
}

/* ---- describe --------------------------------------------------------------
 */

static qv_status parse_vector(mg_endpoint *e, const char *coll, js_span cfg,
                              mg_vector *v)
{
    js_span size, dist, x;
    uint64_t dim = 0;
    char *dname = NULL;
    const char *label = v->name ? v->name : "(unnamed)";
    if (!js_get(cfg, "size", &size) || !span_u64(size, &dim) ||
        dim < QV_MIN_DIM || dim > QV_MAX_DIM || !js_get(cfg, "distance", &dist))
        return mg_fail(e, QV_EINVAL,
                       "collection '%s', vector %s: no usable size and "
                       "distance in its config",
                       coll, label);
    v->kind = MG_DENSE;
    if (js_get(cfg, "multivector_config", &x) && !span_is_null(x)) {
        /* Qdrant 1.19 has one comparator, max_sim (MultiVectorComparator
         * in the OpenAPI schema). */
        js_span cmp;
        char *c = js_get(x, "comparator", &cmp) ? js_string(cmp) : NULL;
        bool ok = c && !strcmp(c, "max_sim");
        free(c);
        if (!ok)
            return mg_fail(e, QV_EINVAL,
                           "collection '%s', vector %s: a multivector "
                           "comparator other than max_sim",
                           coll, label);
        v->kind = MG_MULTI;
    }
    if (js_get(cfg, "datatype", &x) && !span_is_null(x)) {
        char *dt = js_string(x);
        bool ok = dt && !strcmp(dt, "float32");
        free(dt);
        if (!ok)
            return mg_fail(e, QV_EINVAL,
                           "collection '%s', vector %s is not of datatype "
                           "float32, which is all quiver migrate carries",
                           coll, label);
    }
    dname = js_string(dist);
    qv_status st = dname ? qv_metric_parse(dname, &v->metric) : QV_EINVAL;
    free(dname);
    if (st != QV_OK)
        return mg_fail(e, QV_EINVAL,
                       "collection '%s', vector %s: unknown "
                       "distance",
                       coll, label);
    v->dim = (uint32_t)dim;
    return QV_OK;
}

/* One SparseVectorParams: {"modifier"?, "index"?: {"full_scan_threshold"?,
 * "datatype"?, "on_disk"?}}. */
static qv_status parse_sparse(mg_endpoint *e, const char *coll, js_span cfg,
                              mg_vector *v)
{
    js_span x, ix;
    v->kind = MG_SPARSE;
    v->dim = 1;
    v->metric = QV_METRIC_DOT;
    if (js_get(cfg, "modifier", &x) && !span_is_null(x)) {
        char *m = js_string(x);
        bool idf = m && !strcmp(m, "idf"), none = m && !strcmp(m, "none");
        free(m);
        if (!idf && !none)
            return mg_fail(e, QV_EINVAL,
                           "collection '%s', sparse vector %s: unknown "
                           "modifier",
                           coll, v->name);
        v->sparse_modifier =
            idf ? QV_SPARSE_MODIFIER_IDF : QV_SPARSE_MODIFIER_NONE;
    }
    if (js_get(cfg, "index", &ix) && js_kind(ix) == '{') {
        uint64_t fst;
        if (js_get(ix, "full_scan_threshold", &x) && span_u64(x, &fst))
            v->sparse_fst = fst > UINT32_MAX ? UINT32_MAX : (uint32_t)fst;
        if (js_get(ix, "datatype", &x) && !span_is_null(x)) {
            char *dt = js_string(x);
            bool ok = dt && !strcmp(dt, "float32");
            free(dt);
            if (!ok)
                return mg_fail(e, QV_EINVAL,
                               "collection '%s', sparse vector %s is not of "
                               "datatype float32, which is all quiver "
                               "migrate carries",
                               coll, v->name);
        }
    }
    return QV_OK;
}

static size_t count_members(js_span obj)
{
    js_iter it;
    js_span k, v;
    size_t n = 0;
    if (js_iter_begin(obj, &it) && it.object)
        while (js_iter_next(&it, &k, &v))
            n++;
    return n;
}

/* vs: params.vectors; sv: params.sparse_vectors (kind 0: none). */
static qv_status parse_vectors(mg_endpoint *e, const char *coll, js_span vs,
                               js_span sv, mg_schema *out)
{
    js_span size, k, v;
    js_iter it;
    bool has_sparse = js_kind(sv) == '{';
    size_t n_sparse = has_sparse ? count_members(sv) : 0;
    bool single = js_get(vs, "size", &size);
    if (single && !n_sparse) {
        if (!(out->vectors = calloc(1, sizeof(*out->vectors))))
            return mg_fail(e, QV_ENOMEM, "out of memory");
        out->n_vectors = 1;
        return parse_vector(e, coll, vs, &out->vectors[0]);
    }
    if (single) {
        /* An unnamed vector beside sparse vectors (Qdrant's, and quiver
         * serve's since it takes them): named vectors, the dense one
         * called "" (Qdrant's DEFAULT_VECTOR_NAME), as a point's vectors
         * map names it.  The config text still goes verbatim to a REST
         * destination (rest_vectors), so its shape is kept. */
        if (!(out->vectors = calloc(1 + n_sparse, sizeof(*out->vectors))))
            return mg_fail(e, QV_ENOMEM, "out of memory");
        out->named = true;
        out->n_vectors = 1;
        if (!(out->vectors[0].name = strdup("")))
            return mg_fail(e, QV_ENOMEM, "out of memory");
        qv_status st = parse_vector(e, coll, vs, &out->vectors[0]);
        js_iter_begin(sv, &it);
        while (st == QV_OK && js_iter_next(&it, &k, &v)) {
            mg_vector *mv = &out->vectors[out->n_vectors++];
            if (!(mv->name = js_string(k)))
                return mg_fail(e, QV_ENOMEM, "out of memory");
            st = parse_sparse(e, coll, v, mv);
        }
        return st;
    }
    if (!js_iter_begin(vs, &it) || !it.object)
        return mg_fail(e, QV_EINVAL,
                       "collection '%s': unreadable vectors "
                       "config",
                       coll);
    size_t n = count_members(vs) + n_sparse;
    if (n == 0)
        return mg_fail(e, QV_EINVAL,
                       "collection '%s' has no vector, which quiver "
                       "migrate cannot carry",
                       coll);
    if (!(out->vectors = calloc(n, sizeof(*out->vectors))))
        return mg_fail(e, QV_ENOMEM, "out of memory");
    out->named = true;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !n_sparse)
            break;
        js_iter_begin(pass ? sv : vs, &it);
        while (js_iter_next(&it, &k, &v)) {
            mg_vector *mv = &out->vectors[out->n_vectors++];
            if (!(mv->name = js_string(k)))
                return mg_fail(e, QV_ENOMEM, "out of memory");
            qv_status st = pass ? parse_sparse(e, coll, v, mv)
                                : parse_vector(e, coll, v, mv);
            if (st != QV_OK)
                return st;
        }
    }
    return QV_OK;
}

/* Qdrant's QuantizationConfig as the library keeps it: scalar {type int8,
 * quantile, always_ram} and binary {encoding, query_encoding, always_ram}
 * map one to one (server/quantization.c maps them the same way); product
 * and turbo the library has not, and they stay NONE (a REST destination
 * still gets the source's text). */
static void parse_quantization(js_span q, qv_collection_config *lib)
{
    static const char *const enc[] = {"one_bit", "one_and_half_bits",
                                      "two_bits"};
    static const char *const qenc[] = {"default", "binary", "scalar4bits",
                                       "scalar8bits"};
    cJSON *j = cJSON_ParseWithLength(q.p, q.n);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scalar");
    const cJSON *bi = cJSON_GetObjectItemCaseSensitive(j, "binary");
    const cJSON *v = cJSON_IsObject(sc) ? sc : bi;
    if (cJSON_IsObject(v)) {
        lib->quant_always_ram =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "always_ram"));
        if (v == sc) {
            const cJSON *qu = cJSON_GetObjectItemCaseSensitive(sc, "quantile");
            lib->quantization = QV_QUANTIZATION_INT8;
            lib->quant_quantile =
                cJSON_IsNumber(qu) ? (float)qu->valuedouble : 0;
        } else {
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(bi, "encoding");
            const cJSON *qe =
                cJSON_GetObjectItemCaseSensitive(bi, "query_encoding");
            lib->quantization = QV_QUANTIZATION_BINARY;
            for (uint32_t i = 0; i < 3 && cJSON_IsString(en); i++)
                if (!strcmp(en->valuestring, enc[i]))
                    lib->quant_encoding = i;
            for (uint32_t i = 0; i < 4 && cJSON_IsString(qe); i++)
                if (!strcmp(qe->valuestring, qenc[i]))
                    lib->quant_query_encoding = i;
        }
    }
    cJSON_Delete(j);
}

static uint32_t field_u32(js_span obj, const char *key)
{
    js_span v;
    uint64_t x = 0;
    if (!js_get(obj, key, &v) || !span_u64(v, &x) || x > UINT32_MAX)
        return 0;
    return (uint32_t)x;
}

static qv_status parse_indexes(mg_endpoint *e, js_span schema, mg_schema *out)
{
    js_iter it;
    js_span k, v, dt, params;
    size_t n = 0;
    if (!js_iter_begin(schema, &it) || !it.object)
        return QV_OK;
    while (js_iter_next(&it, &k, &v))
        n++;
    if (!(out->indexes = calloc(n ? n : 1, sizeof(*out->indexes))))
        return mg_fail(e, QV_ENOMEM, "out of memory");
    js_iter_begin(schema, &it);
    while (js_iter_next(&it, &k, &v)) {
        mg_index *x = &out->indexes[out->n_indexes++];
        if (!js_get(v, "data_type", &dt))
            return mg_fail(e, QV_EINVAL, "a payload index without data_type");
        x->key = js_string(k);
        x->type = js_string(dt);
        bool has_params = js_get(v, "params", &params) && !span_is_null(params);
        x->schema = span_dup(has_params ? params : dt);
        if (!x->key || !x->type || !x->schema)
            return mg_fail(e, QV_ENOMEM, "out of memory");
    }
    return QV_OK;
}

static qv_status rest_describe(mg_endpoint *e, const char *name, mg_schema *out)
{
    js_span res, vs, x, hnsw;
    memset(out, 0, sizeof(*out));
    qv_status st = call_coll(e, "GET", name, "", NULL, &res);
    if (st != QV_OK)
        return st;
    if (!js_path(res, "config.params.vectors", &vs))
        return mg_fail(e, QV_EINVAL, "collection '%s': no vectors config",
                       name);
    js_span sv = {0};
    if (js_path(res, "config.params.sparse_vectors", &x) && js_kind(x) == '{')
        sv = x;
    st = parse_vectors(e, name, vs, sv, out);
    if (st == QV_OK && sv.p && !(out->rest_sparse = span_dup(sv)))
        st = mg_fail(e, QV_ENOMEM, "out of memory");
    qv_collection_config_init(&out->quant);
    /* An unnamed vector's own quantization_config wins over the
     * collection's, as in Qdrant. */
    if (st == QV_OK && js_get(vs, "size", &x) &&
        js_get(vs, "quantization_config", &x) && !span_is_null(x))
        parse_quantization(x, &out->quant);
    else if (st == QV_OK && js_path(res, "config.quantization_config", &x) &&
             !span_is_null(x))
        parse_quantization(x, &out->quant);
    if (st == QV_OK && js_path(res, "config.hnsw_config", &hnsw)) {
        out->hnsw_m = field_u32(hnsw, "m");
        out->hnsw_ef_construct = field_u32(hnsw, "ef_construct");
        out->full_scan_threshold_kb = field_u32(hnsw, "full_scan_threshold");
        js_span m;
        /* m = 0 is Qdrant's "no graph": a library collection never indexes
         * (the server's own mapping, server/catalog_config.c). */
        if (js_get(hnsw, "m", &m) && m.n == 1 && m.p[0] == '0')
            out->full_scan_threshold_kb = UINT32_MAX;
        out->rest_hnsw = span_dup(hnsw);
    }
    if (st == QV_OK && js_path(res, "config.quantization_config", &x) &&
        !span_is_null(x))
        out->rest_quantization = span_dup(x);
    if (st == QV_OK)
        out->rest_vectors = span_dup(vs);
    if (st == QV_OK && js_get(res, "payload_schema", &x))
        st = parse_indexes(e, x, out);
    if (st != QV_OK)
        mg_schema_free(out);
    return st;
}

static qv_status rest_list(mg_endpoint *e, char ***names, size_t *n)
{
    rest_state *s = e->state;
    js_span root, list, item, nm;
    js_iter it;
    long http;
    *n = 0;
    *names = NULL;
    qv_status st = call(e, "GET", "/collections", NULL, &root, &http);
    if (st != QV_OK)
        return st;
    if (!js_path(root, "result.collections", &list) ||
        !js_iter_begin(list, &it))
        return mg_fail(e, QV_EIO, "%s: unreadable collection list", s->base);
    size_t cap = 0;
    while (js_iter_next(&it, NULL, &item))
        cap++;
    if (!(*names = calloc(cap ? cap : 1, sizeof(char *))))
        return mg_fail(e, QV_ENOMEM, "out of memory");
    js_iter_begin(list, &it);
    while (js_iter_next(&it, NULL, &item))
        if (js_get(item, "name", &nm) && ((*names)[*n] = js_string(nm)))
            (*n)++;
    return QV_OK;
}

static qv_status rest_count(mg_endpoint *e, const char *name, uint64_t *out)
{
    sbuf body = {0};
    js_span res, c;
    sb_str(&body, "{\"exact\":true}");
    qv_status st = call_coll(e, "POST", name, "/points/count", &body, &res);
    free(body.p);
    if (st == QV_OK && (!js_get(res, "count", &c) || !span_u64(c, out)))
        st = mg_fail(e, QV_EIO, "count of '%s': unreadable reply", name);
    return st;
}

/* ---- points ----------------------------------------------------------------
 */

/* A multivector [[...], ...] of rows of dim floats: owned rows, *n rows. */
static bool span_multi(js_span v, uint32_t dim, float **rows, uint32_t *n)
{
    js_iter it;
    js_span x;
    size_t count = 0;
    *rows = NULL;
    *n = 0;
    if (!js_iter_begin(v, &it) || it.object)
        return false;
    while (js_iter_next(&it, NULL, &x))
        count++;
    if (count == 0 || count > QV_MAX_MULTI_ROWS)
        return false;
    if (!(*rows = malloc(count * dim * sizeof(float))))
        return false;
    js_iter_begin(v, &it);
    while (js_iter_next(&it, NULL, &x))
        if (!span_floats(x, *rows + (size_t)(*n)++ * dim, dim))
            return false;
    return true;
}

/* A sparse vector {"indices": [...], "values": [...]}: owned arrays. */
static bool span_sparse(js_span v, uint32_t **idx, float **val, uint32_t *n)
{
    js_span is, vs, x;
    js_iter it;
    size_t count = 0;
    *idx = NULL;
    *val = NULL;
    *n = 0;
    if (!js_get(v, "indices", &is) || !js_get(v, "values", &vs) ||
        !js_iter_begin(is, &it) || it.object)
        return false;
    while (js_iter_next(&it, NULL, &x))
        count++;
    if (count > QV_MAX_SPARSE_NNZ)
        return false;
    *idx = malloc((count ? count : 1) * sizeof(uint32_t));
    *val = malloc((count ? count : 1) * sizeof(float));
    if (!*idx || !*val)
        return false;
    js_iter_begin(is, &it);
    while (js_iter_next(&it, NULL, &x)) {
        uint64_t k;
        if (!span_u64(x, &k) || k > UINT32_MAX)
            return false;
        (*idx)[(*n)++] = (uint32_t)k;
    }
    return span_floats(vs, *val, *n);
}

/* Vector v of row row from its JSON value x. */
static qv_status one_vector(mg_endpoint *e, const mg_schema *s, size_t v,
                            js_span x, mg_batch *b, size_t row)
{
    const mg_vector *mv = &s->vectors[v];
    const char *label = mv->name ? mv->name : "(unnamed)";
    uint32_t *idx = NULL, n = 0;
    float *val = NULL;
    bool ok;
    switch (mv->kind) {
    case MG_DENSE:
        if (!span_floats(x, b->vecs[v] + row * b->dims[v], b->dims[v]))
            return mg_fail(e, QV_EINVAL,
                           "a point's vector %s is not %u numbers", label,
                           b->dims[v]);
        b->has[v][row] = true;
        return QV_OK;
    case MG_MULTI:
        ok = span_multi(x, b->dims[v], &val, &n);
        break;
    default:
        ok = span_sparse(x, &idx, &val, &n);
        break;
    }
    if (!ok) {
        free(idx);
        free(val);
        return mg_fail(e, QV_EINVAL, "a point's vector %s is not a %s of %s",
                       label, mg_kind_name(mv->kind),
                       mv->kind == MG_SPARSE ? "indices and values"
                                             : "rows of the vector's size");
    }
    if (mg_batch_set_var(b, v, row, n, idx, val) != QV_OK)
        return mg_fail(e, QV_EINVAL,
                       "a point's sparse vector %s repeats an "
                       "index",
                       label);
    return QV_OK;
}

static qv_status point_vectors(mg_endpoint *e, const mg_schema *s, js_span vec,
                               mg_batch *b, size_t row)
{
    if (!s->named)
        return one_vector(e, s, 0, vec, b, row);
    js_iter it;
    js_span k, v;
    /* A point whose only vector is "" comes as a plain array (Qdrant
     * prints a lone default vector unnamed). */
    int unnamed = mg_schema_vector(s, "");
    if (js_kind(vec) == '[' && unnamed >= 0)
        return one_vector(e, s, (size_t)unnamed, vec, b, row);
    if (!js_iter_begin(vec, &it) || !it.object)
        return mg_fail(e, QV_EINVAL, "a point's vectors are not an object");
    while (js_iter_next(&it, &k, &v)) {
        char *name = js_string(k);
        int i = name ? mg_schema_vector(s, name) : -1;
        free(name);
        if (i < 0)
            return mg_fail(e, QV_EINVAL,
                           "a point has vector %.*s that is not a vector of "
                           "the collection",
                           (int)k.n, k.p);
        qv_status st = one_vector(e, s, (size_t)i, v, b, row);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

static qv_status parse_points(mg_endpoint *e, const mg_schema *s,
                              js_span points, mg_batch *b)
{
    js_iter it;
    js_span pt, id, pl, vec;
    if (!js_iter_begin(points, &it) || it.object)
        return mg_fail(e, QV_EIO, "the points are not a list");
    while (js_iter_next(&it, NULL, &pt)) {
        qv_point_id pid;
        if (!js_get(pt, "id", &id) || !span_id(id, &pid))
            return mg_fail(e, QV_EIO, "a point without a readable id");
        bool has_pl = js_get(pt, "payload", &pl) && js_kind(pl) == '{';
        long row =
            mg_batch_add(b, &pid, has_pl ? pl.p : NULL, has_pl ? pl.n : 0);
        if (row < 0)
            return mg_fail(e, QV_ENOMEM, "more points than asked for");
        if (js_get(pt, "vector", &vec) && !span_is_null(vec)) {
            qv_status st = point_vectors(e, s, vec, b, (size_t)row);
            if (st != QV_OK)
                return st;
        }
    }
    return QV_OK;
}

static qv_status rest_read(mg_endpoint *e, const char *name, const mg_schema *s,
                           const qv_point_id *start, size_t limit,
                           mg_batch *out, qv_point_id *next, bool *has_next)
{
    sbuf body = {0};
    js_span res, pts, off;
    mg_batch_clear(out);
    sb_fmt(&body, "{\"limit\":%zu,\"with_payload\":true,\"with_vector\":true",
           limit);
    if (start) {
        sb_str(&body, ",\"offset\":");
        sb_id(&body, start);
    }
    sb_str(&body, "}");
    qv_status st = call_coll(e, "POST", name, "/points/scroll", &body, &res);
    free(body.p);
    if (st != QV_OK)
        return st;
    if (!js_get(res, "points", &pts))
        return mg_fail(e, QV_EIO, "scroll of '%s': no points", name);
    st = parse_points(e, s, pts, out);
    *has_next = js_get(res, "next_page_offset", &off) && !span_is_null(off);
    if (st == QV_OK && *has_next && !span_id(off, next))
        st = mg_fail(e, QV_EIO, "scroll of '%s': unreadable next offset", name);
    return st;
}

static qv_status rest_fetch(mg_endpoint *e, const char *name,
                            const mg_schema *s, const qv_point_id *ids,
                            size_t n, mg_batch *out)
{
    sbuf body = {0};
    js_span res;
    mg_batch_clear(out);
    sb_str(&body, "{\"with_payload\":true,\"with_vector\":true,\"ids\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_str(&body, ",");
        sb_id(&body, &ids[i]);
    }
    sb_str(&body, "]}");
    qv_status st = call_coll(e, "POST", name, "/points", &body, &res);
    free(body.p);
    return st == QV_OK ? parse_points(e, s, res, out) : st;
}

static void write_floats(sbuf *b, const float *v, uint32_t dim)
{
    sb_str(b, "[");
    for (uint32_t i = 0; i < dim; i++)
        sb_fmt(b, i ? ",%.9g" : "%.9g", (double)v[i]);
    sb_str(b, "]");
}

static void write_vector(sbuf *body, const mg_batch *b, size_t v, size_t i)
{
    uint32_t d = b->dims[v];
    switch (b->kinds[v]) {
    case MG_DENSE:
        write_floats(body, b->vecs[v] + i * d, d);
        break;
    case MG_MULTI:
        sb_str(body, "[");
        for (uint32_t r = 0; r < b->cnt[v][i]; r++) {
            sb_str(body, r ? "," : "");
            write_floats(body, b->val[v][i] + (size_t)r * d, d);
        }
        sb_str(body, "]");
        break;
    default:
        sb_str(body, "{\"indices\":[");
        for (uint32_t k = 0; k < b->cnt[v][i]; k++)
            sb_fmt(body, k ? ",%u" : "%u", b->idx[v][i][k]);
        sb_str(body, "],\"values\":");
        write_floats(body, b->val[v][i], b->cnt[v][i]);
        sb_str(body, "}");
    }
}

static void write_point(sbuf *body, const mg_schema *s, const mg_batch *b,
                        size_t i)
{
    sb_str(body, "{\"id\":");
    sb_id(body, &b->ids[i]);
    sb_str(body, ",\"vector\":");
    if (!s->named) {
        write_vector(body, b, 0, i);
    } else {
        bool first = true;
        sb_str(body, "{");
        for (size_t v = 0; v < b->n_vectors; v++) {
            if (!b->has[v][i])
                continue;
            sb_str(body, first ? "" : ",");
            first = false;
            sb_json_string(body, s->vectors[v].name);
            sb_str(body, ":");
            write_vector(body, b, v, i);
        }
        sb_str(body, "}");
    }
    sb_str(body, ",\"payload\":");
    sb_add(body, b->payloads[i], b->lens[i]);
    sb_str(body, "}");
}

static qv_status rest_write(mg_endpoint *e, const char *name,
                            const mg_schema *s, const mg_batch *b)
{
    sbuf body = {0};
    js_span res;
    sb_str(&body, "{\"points\":[");
    for (size_t i = 0; i < b->n; i++) {
        if (i)
            sb_str(&body, ",");
        write_point(&body, s, b, i);
    }
    sb_str(&body, "]}");
    qv_status st = call_coll(e, "PUT", name, "/points?wait=true", &body, &res);
    free(body.p);
    return st;
}

/* ---- creating a collection
 * ---------------------------------------------------
 */

/* The shortest decimal that reads back (strtof) to the same float x. */
static void write_float_short(sbuf *b, float x)
{
    char tmp[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)x);
        if (strtof(tmp, NULL) == x)
            break;
    }
    sb_str(b, tmp);
}

/* quantization_config from the library's fields (see parse_quantization). */
static void write_quantization(sbuf *b, const qv_collection_config *q)
{
    static const char *const enc[] = {"one_bit", "one_and_half_bits",
                                      "two_bits"};
    static const char *const qenc[] = {"default", "binary", "scalar4bits",
                                       "scalar8bits"};
    const char *ram = q->quant_always_ram ? "true" : "false";
    if (q->quantization == QV_QUANTIZATION_INT8) {
        sb_str(b, ",\"quantization_config\":{\"scalar\":{\"type\":\"int8\"");
        if (q->quant_quantile > 0) {
            sb_str(b, ",\"quantile\":");
            write_float_short(b, q->quant_quantile);
        }
        sb_fmt(b, ",\"always_ram\":%s}}", ram);
    } else if (q->quantization == QV_QUANTIZATION_BINARY) {
        sb_fmt(b,
               ",\"quantization_config\":{\"binary\":{\"always_ram\":%s,"
               "\"encoding\":\"%s\",\"query_encoding\":\"%s\"}}",
               ram, enc[q->quant_encoding < 3 ? q->quant_encoding : 0],
               qenc[q->quant_query_encoding < 4 ? q->quant_query_encoding : 0]);
    }
}

/* One VectorParams: size, distance and, for a multivector, its config. */
static void write_dense_params(sbuf *b, const mg_vector *v)
{
    sb_fmt(b, "{\"size\":%u,\"distance\":\"%s\"%s}", v->dim,
           qv_metric_name(v->metric),
           v->kind == MG_MULTI
               ? ",\"multivector_config\":{\"comparator\":\"max_sim\"}"
               : "");
}

static void create_body(sbuf *b, const mg_schema *s)
{
    const mg_vector *v0 = &s->vectors[0];
    if (s->rest_vectors) {
        sb_str(b, "{\"vectors\":");
        sb_str(b, s->rest_vectors);
        if (s->rest_sparse) {
            sb_str(b, ",\"sparse_vectors\":");
            sb_str(b, s->rest_sparse);
        }
    } else if (!s->named) {
        sb_str(b, "{\"vectors\":");
        write_dense_params(b, v0);
    } else {
        /* From a library endpoint: the model's vectors, dense and multi
         * under "vectors", sparse under "sparse_vectors". */
        for (int sparse = 0; sparse < 2; sparse++) {
            bool first = true;
            sb_str(b, sparse ? ",\"sparse_vectors\":{" : "{\"vectors\":{");
            for (size_t i = 0; i < s->n_vectors; i++) {
                const mg_vector *v = &s->vectors[i];
                if ((v->kind == MG_SPARSE) != sparse)
                    continue;
                sb_str(b, first ? "" : ",");
                first = false;
                sb_json_string(b, v->name);
                sb_str(b, ":");
                if (!sparse) {
                    write_dense_params(b, v);
                    continue;
                }
                sb_fmt(b, "{\"modifier\":\"%s\"",
                       v->sparse_modifier == QV_SPARSE_MODIFIER_IDF ? "idf"
                                                                    : "none");
                if (v->sparse_fst)
                    sb_fmt(b, ",\"index\":{\"full_scan_threshold\":%u}",
                           v->sparse_fst);
                sb_str(b, "}");
            }
            sb_str(b, "}");
        }
    }
    if (s->rest_hnsw) {
        sb_str(b, ",\"hnsw_config\":");
        sb_str(b, s->rest_hnsw);
    } else if (s->hnsw_m) {
        /* Qdrant's full_scan_threshold is at least 10 (KB); the library's
         * 0..9 ("index almost always") is sent as 10. */
        uint32_t fst = s->full_scan_threshold_kb;
        sb_fmt(b,
               ",\"hnsw_config\":{\"m\":%u,\"ef_construct\":%u,"
               "\"full_scan_threshold\":%u}",
               s->hnsw_m, s->hnsw_ef_construct, fst < 10 ? 10 : fst);
    }
    if (s->rest_quantization) {
        sb_str(b, ",\"quantization_config\":");
        sb_str(b, s->rest_quantization);
    } else {
        write_quantization(b, &s->quant);
    }
    sb_str(b, "}");
}

static qv_status create_indexes(mg_endpoint *e, const char *name,
                                const mg_schema *s)
{
    qv_status st = QV_OK;
    for (size_t i = 0; st == QV_OK && i < s->n_indexes; i++) {
        sbuf body = {0};
        js_span res;
        sb_str(&body, "{\"field_name\":");
        sb_json_string(&body, s->indexes[i].key);
        sb_str(&body, ",\"field_schema\":");
        sb_str(&body, s->indexes[i].schema);
        sb_str(&body, "}");
        st = call_coll(e, "PUT", name, "/index?wait=true", &body, &res);
        free(body.p);
    }
    return st;
}

static qv_status rest_prepare(mg_endpoint *e, const char *name,
                              const mg_schema *s)
{
    mg_schema have;
    if (!s->named && s->vectors[0].kind == MG_SPARSE)
        return mg_fail(e, QV_EINVAL,
                       "collection '%s' is a library collection of one "
                       "sparse vector, which has no name; a Qdrant "
                       "collection's sparse vectors are named",
                       name);
    qv_status st = rest_describe(e, name, &have);
    if (st == QV_OK) {
        if (!mg_vectors_match(name, &have, s, e->err, sizeof(e->err)))
            st = QV_EEXIST;
        mg_schema_free(&have);
    } else if (st == QV_ENOTFOUND) {
        sbuf body = {0};
        js_span res;
        create_body(&body, s);
        st = call_coll(e, "PUT", name, "", &body, &res);
        free(body.p);
    }
    return st == QV_OK ? create_indexes(e, name, s) : st;
}

static qv_status rest_finish(mg_endpoint *e, const char *name)
{
    (void)e;
    (void)name;
    return QV_OK;
}

static void rest_close(mg_endpoint *e)
{
    rest_state *s = e->state;
    if (!s)
        return;
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    free(s->base);
    free(s->resp.p);
    free(s);
    e->state = NULL;
}

static const mg_ops rest_ops = {rest_list,  rest_describe, rest_count,
                                rest_read,  rest_fetch,    rest_prepare,
                                rest_write, rest_finish,   rest_close};

qv_status mg_open_rest(const char *url, const char *api_key, bool as_dest,
                       mg_endpoint *e)
{
    (void)as_dest;
    e->ops = &rest_ops;
    e->where = url;
    e->durable = true; /* every upsert is sent with wait=true */
    rest_state *s = calloc(1, sizeof(*s));
    if (!s)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    e->state = s;
    s->base = strdup(url);
    s->curl = curl_easy_init();
    if (!s->base || !s->curl)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    size_t n = strlen(s->base);
    while (n > 0 && s->base[n - 1] == '/')
        s->base[--n] = 0;
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (api_key) {
        sbuf h = {0};
        sb_str(&h, "api-key: ");
        sb_str(&h, api_key);
        if (h.p)
            s->headers = curl_slist_append(s->headers, h.p);
        free(h.p);
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &s->resp);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    return QV_OK;
}
