/*
 * points_facet.c -- POST /collections/{name}/facet: how many points hold
 * each value of a payload key (Qdrant's FacetRequest / FacetResponse).
 *
 * The counting is the library's (qv_facet, read from the key's index, on
 * the registry collection that holds every point and payload).  This file
 * reads the request as Qdrant does (key required, limit >= 1 defaulting to
 * 10, filter, exact -- counts are always exact here --, shard_key accepted
 * and ignored on one node) and refuses what Qdrant's index selection
 * refuses: a key whose index cannot facet, and an integer index created
 * with `lookup: false`, which in Qdrant has no value map to facet on
 * (lib/segment/src/index/field_index: only map indexes are facet indexes).
 * Both are Qdrant's 400 with its message.
 */
#include "points.h"
#include "strict.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_FACET_INDEX                                                         \
    "Bad request: No appropriate index for faceting: `%s`. Please create "     \
    "one to facet on this field. Check https://qdrant.tech/documentation/"     \
    "concepts/indexing/#payload-index to see which payload schemas support "   \
    "Match conditions"

static void facet(const qvs_req *req, qvs_resp *resp);

const qvs_route qvs_facet_routes[] = {
    {"POST", "/collections/{name}/facet", facet, 0, "facet"},
};
const size_t qvs_facet_routes_n =
    sizeof(qvs_facet_routes) / sizeof(qvs_facet_routes[0]);

/* False (and the reply set) when key's index is an integer index without
 * its lookup map. */
static bool integer_lookup_ok(qvs_call *p, const char *key)
{
    cJSON *schema = qvs_coll_schema_dup(p->req->catalog, p->coll);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(schema, key);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(params, "type");
    bool ok =
        !(cJSON_IsString(type) && strcmp(type->valuestring, "integer") == 0 &&
          cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(params, "lookup")));
    cJSON_Delete(schema);
    return ok || qvs_fail(p->resp, 400, NO_FACET_INDEX, key);
}

static cJSON *hit_json(const qv_facet_hit *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *v = h->kind == QV_FACET_STRING ? cJSON_CreateString(h->str)
               : h->kind == QV_FACET_BOOL ? cJSON_CreateBool(h->boolean)
                                          : qvs_order_value_json(&h->num);
    if (!o || !v || !cJSON_AddItemToObject(o, "value", v) ||
        !cJSON_AddNumberToObject(o, "count", (double)h->count)) {
        if (o && !cJSON_GetObjectItemCaseSensitive(o, "value"))
            cJSON_Delete(v);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *hits_json(const qv_facet_hit *hits, size_t n)
{
    cJSON *res = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!res || !arr || !cJSON_AddItemToObject(res, "hits", arr)) {
        cJSON_Delete(res);
        cJSON_Delete(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *h = hit_json(&hits[i]);
        if (!h || !cJSON_AddItemToArray(arr, h)) {
            cJSON_Delete(h);
            cJSON_Delete(res);
            return NULL;
        }
    }
    return res;
}

static void run_facet(qvs_call *p, const char *key, const qv_filter *f,
                      uint64_t limit)
{
    qv_facet_hit *hits = NULL;
    size_t n = 0;
    qv_status st = qv_facet(p->coll->points, key, f, (size_t)limit, &hits, &n);
    if (st == QV_ENOTFOUND) {
        qvs_fail(p->resp, 400, NO_FACET_INDEX, key);
    } else if (st != QV_OK) {
        qj_fail_lib(p->resp, p->coll->points, st, "facet");
    } else {
        cJSON *res = hits_json(hits, n);
        if (res)
            qvs_call_result(p, res);
        else
            qvs_fail(p->resp, 500, "Service internal error: out of memory");
    }
    qv_free(hits);
}

static void facet(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, true))
        return;
    const char *key = NULL;
    uint64_t limit = 0;
    bool exact = false;
    qv_filter *f = NULL;
    if (!qj_string(p.body, "key", &key, resp))
        goto done;
    if (!key) {
        qj_fail_format(resp, "missing field `key`");
        goto done;
    }
    if (!qj_uint(p.body, "limit", 10, 1, &limit, resp) ||
        !qj_bool(p.body, "exact", false, &exact, resp) ||
        !qvs_call_filter(&p, cJSON_GetObjectItemCaseSensitive(p.body, "filter"),
                         &f, "filter") ||
        !integer_lookup_ok(&p, key))
        goto done;
    run_facet(&p, key, f, limit);
done:
    qv_filter_free(f);
    qvs_call_close(&p);
}
