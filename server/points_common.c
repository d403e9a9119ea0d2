/*
 * points_common.c -- what every point endpoint shares: the route table,
 * opening the collection of a request, `wait`, records, point selectors.
 *
 * Records follow Qdrant's Record and ScoredPoint: absent parts are omitted,
 * not null; a requested payload is always an object ({} when empty); an
 * unnamed vector is a plain array and named vectors an object holding the
 * vectors the point has (possibly {}) -- except that when the only vector
 * to show is "" (an unnamed vector stored in the named layout beside
 * sparse ones, catalog.h), it is the plain array, as Qdrant prints it.
 *
 * Payloads are read from the registry collection (coll->points), vectors
 * from each vector's own collection, so a named point without a given
 * vector simply lacks that member.  The payload text the library prints is
 * put into the reply as a raw JSON item, never parsed again.
 *
 * has_vector conditions are answered here, since only the server knows
 * which library collection holds which vector: each becomes a has_id list
 * of the points of that vector's collection (a full pass over them, paid
 * only by filters that use has_vector).
 */
#include "multivec.h"
#include "points.h"
#include "server.h"
#include "sparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routes -------------------------------------------------------------- */

#define PTS "/collections/{name}/points"
#define W   QVS_ROUTE_WRITE

const qvs_route qvs_points_routes[] = {
    {"PUT", PTS, qvs_points_upsert, W, "upsert_points"},
    {"POST", PTS, qvs_points_retrieve, 0, "get_points"},
    {"GET", PTS "/{id}", qvs_points_get, 0, "get_point"},
    {"POST", PTS "/delete", qvs_points_delete, W, "delete_points"},
    {"POST", PTS "/payload", qvs_points_set_payload, W, "set_payload"},
    {"PUT", PTS "/payload", qvs_points_overwrite_payload, W,
     "overwrite_payload"},
    {"POST", PTS "/payload/delete", qvs_points_delete_payload, W,
     "delete_payload"},
    {"POST", PTS "/payload/clear", qvs_points_clear_payload, W,
     "clear_payload"},
    {"PUT", PTS "/vectors", qvs_points_update_vectors, W, "update_vectors"},
    {"POST", PTS "/vectors/delete", qvs_points_delete_vectors, W,
     "delete_vectors"},
    {"POST", PTS "/batch", qvs_points_batch, W, "batch_update"},
    {"POST", PTS "/scroll", qvs_points_scroll, 0, "scroll_points"},
    {"POST", PTS "/count", qvs_points_count, 0, "count_points"},
    {"POST", PTS "/query", qvs_points_query, 0, "query_points"},
    {"POST", PTS "/query/batch", qvs_points_query_batch, 0,
     "query_batch_points"},
    {"POST", PTS "/search", qvs_points_search, 0, "search_points"},
    {"POST", PTS "/search/batch", qvs_points_search_batch, 0,
     "search_batch_points"},
    {"POST", PTS "/recommend", qvs_points_recommend, 0, "recommend_points"},
    {"POST", PTS "/recommend/batch", qvs_points_recommend_batch, 0,
     "recommend_batch_points"},
    {"POST", PTS "/discover", qvs_points_discover, 0, "discover_points"},
    {"POST", PTS "/discover/batch", qvs_points_discover_batch, 0,
     "discover_batch_points"},
    {"POST", PTS "/search/groups", qvs_points_search_groups, 0,
     "search_point_groups"},
    {"POST", PTS "/recommend/groups", qvs_points_recommend_groups, 0,
     "recommend_point_groups"},
    {"POST", PTS "/query/groups", qvs_points_query_groups, 0,
     "query_points_groups"},
};

const size_t qvs_points_routes_n =
    sizeof(qvs_points_routes) / sizeof(qvs_points_routes[0]);

/* ---- requests ------------------------------------------------------------ */

/* The query parameters Qdrant's point routes declare besides wait
 * (openapi: timeout integer >= 1, ordering WriteOrdering, consistency
 * ReadConsistency = an integer or majority / quorum / all, or empty).  Qdrant
 * decodes them before the handler runs and refuses a value of the wrong
 * form; we have nothing to do with a valid one (one node, writes durable
 * before the reply), but a typo must not pass silently. */
static bool check_query(const qvs_req *req, qvs_resp *resp)
{
    if (!req->query)
        return true;
    const char *t = req->query(req, "timeout");
    if (t) {
        size_t n = strlen(t);
        if (n == 0 || n > 20 || strspn(t, "0123456789") != n)
            return qvs_fail(resp, 400,
                            "Deserialize error in query parameters: timeout: "
                            "invalid digit found in string");
        if (strspn(t, "0") == n)
            return qvs_fail(resp, 422,
                            "Validation error in query parameters: [timeout: "
                            "value 0 invalid, must be 1 or larger]");
    }
    const char *o = req->query(req, "ordering");
    if (o && strcmp(o, "weak") && strcmp(o, "medium") && strcmp(o, "strong"))
        return qvs_fail(resp, 400,
                        "Deserialize error in query parameters: ordering: "
                        "unknown variant `%.64s`, expected one of `weak`, "
                        "`medium`, `strong`",
                        o);
    const char *c = req->query(req, "consistency");
    /* an empty value is allowed (Qdrant takes it as the default) */
    if (c && c[0] && strcmp(c, "majority") && strcmp(c, "quorum") &&
        strcmp(c, "all") &&
        !(strlen(c) <= 20 && strspn(c, "0123456789") == strlen(c)))
        return qvs_fail(resp, 400,
                        "Deserialize error in query parameters: consistency: "
                        "data did not match any variant of untagged enum "
                        "ReadConsistency");
    return true;
}

/* Here rather than in catalog.c, beside the lookup that uses it, because
 * the point endpoints are also linked without the catalog (test_points_api). */
const char *qvs_name_control(const char *name, char *buf, size_t cap)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            continue;
        /* Rust's Debug escape of the character, as in the message for
         * \x1f above. */
        const char *esc = *p == '\t'   ? "\\t"
                          : *p == '\n' ? "\\n"
                          : *p == '\r' ? "\\r"
                                       : NULL;
        if (esc)
            snprintf(buf, cap, "collection name cannot contain \"%s\" char",
                     esc);
        else
            snprintf(buf, cap,
                     "collection name cannot contain \"\\u{%x}\" char", *p);
        return buf;
    }
    return NULL;
}

bool qvs_call_open(qvs_call *p, const qvs_req *req, qvs_resp *resp,
                   bool need_body)
{
    memset(p, 0, sizeof(*p));
    p->req = req;
    p->resp = resp;
    /* As in Qdrant, the body is decoded before the collection is looked
     * up, so a malformed body is a 400 even for a missing collection. */
    if (req->body && !cJSON_IsObject(req->body))
        return qj_fail_format(resp, "invalid type: %s, expected a JSON object",
                              qj_type_name(req->body));
    if (!req->body && need_body)
        return qj_fail_format(resp, "EOF while parsing a value at line 1 "
                                    "column 0");
    if (!check_query(req, resp))
        return false;
    p->body = req->body;
    const char *name = req->n_params ? req->params[0] : NULL;
    if (!name || !qvs_catalog_get(req->catalog, name, &p->coll)) {
        p->coll = NULL;
        /* A name no collection can have is Qdrant's path validation error
         * (CollectionPath: 1 to 255 characters, no control characters;
         * tests/openapi/test_validation.py), not a 404. */
        size_t chars = 0;
        for (const char *c = name ? name : ""; *c; c++)
            chars += ((unsigned char)*c & 0xc0) != 0x80;
        char why[64];
        if (chars < 1 || chars > QV_MAX_NAME)
            return qvs_fail(resp, 422,
                            "Validation error in path parameters: [name: "
                            "length must be from 1 to 255]");
        if (qvs_name_control(name, why, sizeof(why)))
            return qvs_fail(resp, 422,
                            "Validation error in path parameters: [name: %s]",
                            why);
        return qj_fail_not_found(resp, "Collection `%s` doesn't exist!",
                                 name ? name : "");
    }
    return true;
}

void qvs_call_close(qvs_call *p)
{
    if (p->coll)
        qvs_coll_release(p->req->catalog, p->coll);
    p->coll = NULL;
}

bool qvs_call_wait(qvs_call *p, bool *wait)
{
    const char *v = p->req->query ? p->req->query(p->req, "wait") : NULL;
    *wait = false;
    if (!v)
        return true;
    if (strcmp(v, "true") == 0) {
        *wait = true;
        return true;
    }
    if (strcmp(v, "false") == 0)
        return true;
    return qvs_fail(p->resp, 400,
                    "Deserialize error in query parameters: wait: provided "
                    "string was not `true` or `false`");
}

void qvs_call_result(qvs_call *p, cJSON *result)
{
    if (!result) {
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
        return;
    }
    p->resp->result = result;
}

const qvs_vector *qvs_call_vector(qvs_call *p, const char *name)
{
    const qvs_vector *v = qvs_coll_vector(p->coll, name);
    if (!v)
        qj_fail_input(p->resp, "Not existing vector name error: %s", name);
    return v;
}

bool qvs_call_check_vector_sel(qvs_call *p, const qj_vector_sel *wv)
{
    for (size_t i = 0; i < wv->n; i++)
        if (!qvs_call_vector(p, wv->names[i]))
            return false;
    return true;
}

size_t qvs_call_libcolls(const qvs_coll *coll, qv_collection **out)
{
    size_t n = 0;
    out[n++] = coll->points;
    for (size_t i = 0; i < coll->n_vectors; i++)
        if (coll->vectors[i].coll != coll->points)
            out[n++] = coll->vectors[i].coll;
    return n;
}

/* ---- records ------------------------------------------------------------- */

/* One vector of point id as a JSON array; NULL with *missing when the
 * point does not have it. */
static cJSON *vector_json(qvs_call *p, const qvs_vector *v,
                          const qv_point_id *id, bool *missing)
{
    if (qvs_mv_is_multi(v))
        return qvs_mv_json(p->resp, v, id, missing);
    *missing = false;
    if (v->sparse)
        return qvs_sparse_get_json(v->coll, id, missing, p->resp);
    float stack[256];
    float *buf = v->size <= 256 ? stack : malloc(v->size * sizeof(float));
    if (!buf) {
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
        return NULL;
    }
    cJSON *arr = NULL;
    qv_status st = qv_get(v->coll, id, buf, v->size);
    if (st == QV_ENOTFOUND)
        *missing = true;
    else if (st != QV_OK)
        qj_fail_lib(p->resp, v->coll, st, "reading a vector");
    else if (!(arr = qj_floats_json(buf, v->size)))
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
    if (buf != stack)
        free(buf);
    return arr;
}

static bool add_payload(qvs_call *p, cJSON *obj, const qv_point_id *id,
                        const qj_payload_sel *wp, bool *gone)
{
    cJSON *pl = NULL;
    if (wp->empty) {
        pl = cJSON_CreateObject();
    } else {
        char *json = NULL;
        size_t len = 0;
        const qv_payload_select *sel =
            wp->sel.n_include || wp->sel.n_exclude ? &wp->sel : NULL;
        qv_status st = qv_payload_get(p->coll->points, id, sel, &json, &len);
        if (st == QV_ENOTFOUND) {
            *gone = true;
            return false;
        }
        if (st != QV_OK)
            return qj_fail_lib(p->resp, p->coll->points, st,
                               "reading a payload");
        pl = cJSON_CreateRaw(json);
        qv_free(json);
    }
    if (!pl || !cJSON_AddItemToObject(obj, "payload", pl)) {
        cJSON_Delete(pl);
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    }
    return true;
}

static bool add_vectors(qvs_call *p, cJSON *obj, const qv_point_id *id,
                        const qj_vector_sel *wv, bool *gone)
{
    qvs_coll *c = p->coll;
    bool missing;
    cJSON *out = NULL;
    if (!c->named) {
        out = vector_json(p, &c->vectors[0], id, &missing);
        if (missing)
            *gone = true;
        if (!out)
            return false;
    } else {
        if (!(out = cJSON_CreateObject()))
            return qvs_fail(p->resp, 500,
                            "Service internal error: out of memory");
        for (size_t i = 0; i < c->n_vectors; i++) {
            const qvs_vector *v = &c->vectors[i];
            if (!qj_vector_sel_has(wv, v->name))
                continue;
            cJSON *a = vector_json(p, v, id, &missing);
            if (missing)
                continue;
            if (!a || !cJSON_AddItemToObject(out, v->name, a)) {
                cJSON_Delete(a);
                cJSON_Delete(out);
                if (a)
                    qvs_fail(p->resp, 500,
                             "Service internal error: out of memory");
                return false;
            }
        }
        /* Qdrant prints a point's vectors as a plain array when the only
         * one it returns is the unnamed vector "" (From<NamedVectors> for
         * VectorStruct, lib/segment/src/data_types/vectors.rs): so in a
         * collection with vector "" beside sparse ones, a point without
         * its sparse vector, or with_vector [""], shows [..]. */
        cJSON *only = out->child;
        if (only && !only->next && only->string[0] == '\0') {
            cJSON_DetachItemViaPointer(out, only);
            cJSON_Delete(out);
            out = only;
        }
    }
    if (!cJSON_AddItemToObject(obj, "vector", out)) {
        cJSON_Delete(out);
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    }
    return true;
}

bool qvs_call_add_payload_vector(qvs_call *p, cJSON *obj, const qv_point_id *id,
                                 const qj_payload_sel *wp,
                                 const qj_vector_sel *wv, bool *gone)
{
    *gone = false;
    if (wp->on && !add_payload(p, obj, id, wp, gone))
        return false;
    if ((wv->all || wv->n) && !add_vectors(p, obj, id, wv, gone))
        return false;
    return true;
}

cJSON *qvs_call_record(qvs_call *p, const qv_point_id *id,
                       const qj_payload_sel *wp, const qj_vector_sel *wv,
                       bool *gone)
{
    *gone = false;
    cJSON *obj = cJSON_CreateObject();
    cJSON *jid = qj_id_json(id);
    if (!obj || !jid || !cJSON_AddItemToObject(obj, "id", jid)) {
        cJSON_Delete(obj);
        cJSON_Delete(jid);
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
        return NULL;
    }
    if (!qvs_call_add_payload_vector(p, obj, id, wp, wv, gone)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* ---- filters ------------------------------------------------------------ */

/* True if the JSON tree j holds a has_vector condition anywhere. */
static bool mentions_has_vector(const cJSON *j)
{
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (c->string && strcmp(c->string, "has_vector") == 0)
            return true;
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && mentions_has_vector(c))
            return true;
    }
    return false;
}

/* The ids of the points that have vector name, as a has_id array (a
 * missing name gives an empty list: the condition never holds). */
static cJSON *ids_with_vector(qvs_call *p, const char *name)
{
    const qvs_vector *v = qvs_coll_vector(p->coll, name);
    qv_point_id *ids = NULL;
    size_t n = 0;
    if (v && !qvs_call_scroll_all(p, v->coll, NULL, &ids, &n))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *id = qj_id_json(&ids[i]);
        if (!id || !cJSON_AddItemToArray(arr, id)) {
            cJSON_Delete(id);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    free(ids);
    if (!arr)
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
    return arr;
}

/* Replaces every {"has_vector": name} in j by {"has_id": [ids]}. */
static bool rewrite_has_vector(qvs_call *p, cJSON *j)
{
    for (cJSON *c = j->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "has_vector") == 0 &&
            cJSON_IsString(c)) {
            cJSON *ids = ids_with_vector(p, c->valuestring);
            if (!ids)
                return false;
            /* The new member takes c's place under the key has_id; the
             * key is allocated as cJSON allocates keys, since
             * cJSON_Delete frees it. */
            if (!(ids->string = cJSON_malloc(sizeof("has_id")))) {
                cJSON_Delete(ids);
                return qvs_fail(p->resp, 500,
                                "Service internal error: out of memory");
            }
            memcpy(ids->string, "has_id", sizeof("has_id"));
            cJSON_ReplaceItemViaPointer(j, c, ids);
            c = ids;
        } else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) &&
                   !rewrite_has_vector(p, c)) {
            return false;
        }
    }
    return true;
}

bool qvs_call_filter(qvs_call *p, const cJSON *j, qv_filter **out,
                     const char *where)
{
    *out = NULL;
    if (!cJSON_IsObject(j) || !mentions_has_vector(j))
        return qj_filter(j, out, p->resp, where);
    cJSON *copy = cJSON_Duplicate(j, true);
    if (!copy)
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    bool ok =
        rewrite_has_vector(p, copy) && qj_filter(copy, out, p->resp, where);
    cJSON_Delete(copy);
    return ok;
}

/* ---- point sets ---------------------------------------------------------- */

#define SCROLL_PAGE 1024

bool qvs_call_scroll_all(qvs_call *p, qv_collection *c, const qv_filter *f,
                         qv_point_id **ids, size_t *n)
{
    qv_point_id *v = NULL, start;
    size_t len = 0, cap = 0;
    bool has_start = false;
    for (;;) {
        if (cap - len < SCROLL_PAGE) {
            size_t ncap = cap ? cap * 2 : SCROLL_PAGE;
            qv_point_id *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                free(v);
                return qvs_fail(p->resp, 500,
                                "Service internal error: out of memory");
            }
            v = nv;
            cap = ncap;
        }
        size_t got = 0;
        bool more = false;
        qv_status st = qv_scroll(c, has_start ? &start : NULL, f, SCROLL_PAGE,
                                 v + len, &got, &start, &more);
        if (st != QV_OK) {
            free(v);
            return qj_fail_lib(p->resp, c, st, "scrolling points");
        }
        len += got;
        has_start = true;
        if (!more)
            break;
    }
    *ids = v;
    *n = len;
    return true;
}

bool qvs_call_require_points(qvs_call *p, const qv_point_id *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool there = false;
        qv_status st = qv_contains(p->coll->points, &ids[i], &there);
        if (st != QV_OK)
            return qj_fail_lib(p->resp, p->coll->points, st,
                               "looking up a point");
        if (!there) {
            char t[QV_UUID_STRLEN];
            qj_id_text(&ids[i], t);
            return qj_fail_not_found(p->resp, "No point with id %s found", t);
        }
    }
    return true;
}

bool qvs_call_selector(qvs_call *p, const cJSON *obj, const char *none_msg,
                       bool must_exist, qv_point_id **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(obj, "points");
    const cJSON *flt = cJSON_GetObjectItemCaseSensitive(obj, "filter");
    if (cJSON_IsNull(pts))
        pts = NULL;
    if (cJSON_IsNull(flt))
        flt = NULL;
    if (!pts && !flt)
        return qj_fail_format(p->resp, "%s", none_msg);
    qv_point_id *listed = NULL, *matched = NULL;
    size_t n_listed = 0, n_matched = 0;
    qv_filter *f = NULL;
    bool ok = false;
    if (pts && !qj_id_list(pts, &listed, &n_listed, p->resp, "points"))
        goto done;
    if (flt && !qvs_call_filter(p, flt, &f, "filter"))
        goto done;
    if (must_exist && !qvs_call_require_points(p, listed, n_listed))
        goto done;
    if (f && !qvs_call_scroll_all(p, p->coll->points, f, &matched, &n_matched))
        goto done;
    if (!n_matched) {
        *ids = listed;
        *n = n_listed;
        listed = NULL;
    } else if (!n_listed) {
        *ids = matched;
        *n = n_matched;
        matched = NULL;
    } else {
        qv_point_id *all = malloc((n_listed + n_matched) * sizeof(*all));
        if (!all) {
            qvs_fail(p->resp, 500, "Service internal error: out of memory");
            goto done;
        }
        memcpy(all, listed, n_listed * sizeof(*all));
        memcpy(all + n_listed, matched, n_matched * sizeof(*all));
        *ids = all;
        *n = n_listed + n_matched;
    }
    ok = true;
done:
    free(listed);
    free(matched);
    qv_filter_free(f);
    return ok;
}

typedef struct id_pos {
    qv_point_id id;
    size_t pos;
} id_pos;

static int cmp_id_pos(const void *a, const void *b)
{
    const id_pos *x = a, *y = b;
    int c = qv_id_compare(&x->id, &y->id);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

bool qvs_call_next_same(qvs_call *p, const qv_point_id *ids, size_t n,
                        size_t *next)
{
    for (size_t i = 0; i < n; i++)
        next[i] = SIZE_MAX;
    if (n < 2)
        return true;
    id_pos *v = malloc(n * sizeof(*v));
    if (!v)
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    for (size_t i = 0; i < n; i++) {
        v[i].id = ids[i];
        v[i].pos = i;
    }
    /* Sorted by (id, position): equal ids sit together in request order. */
    qsort(v, n, sizeof(*v), cmp_id_pos);
    for (size_t i = 0; i + 1 < n; i++)
        if (qv_id_compare(&v[i].id, &v[i + 1].id) == 0)
            next[v[i].pos] = v[i + 1].pos;
    free(v);
    return true;
}

bool qvs_call_mark_dups(qvs_call *p, const qv_point_id *ids, size_t n,
                        bool keep_last, bool *dup)
{
    size_t *next = malloc((n ? n : 1) * sizeof(*next));
    if (!next)
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    bool ok = qvs_call_next_same(p, ids, n, next);
    memset(dup, 0, n * sizeof(*dup));
    bool *has_prev = keep_last ? NULL : calloc(n ? n : 1, sizeof(bool));
    if (ok && !keep_last && !has_prev)
        ok = qvs_fail(p->resp, 500, "Service internal error: out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        if (keep_last)
            dup[i] = next[i] != SIZE_MAX;
        else if (next[i] != SIZE_MAX)
            has_prev[next[i]] = true;
    }
    for (size_t i = 0; ok && !keep_last && i < n; i++)
        dup[i] = has_prev[i];
    free(has_prev);
    free(next);
    return ok;
}
