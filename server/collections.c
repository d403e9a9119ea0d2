/*
 * collections.c -- Qdrant's collection-level endpoints: list, get,
 * create, update, delete, exists, aliases, payload indexes and the
 * single-node cluster info of a collection.
 *
 * The handlers only translate between HTTP and the catalog (catalog.c),
 * which does the checking, locking and persisting.  Names in paths may be
 * aliases wherever Qdrant resolves them (get, update, exists, aliases of,
 * index, cluster); DELETE takes the collection's own name only, as Qdrant
 * (deleting through an alias answers false).
 *
 * CollectionInfo: status "green" and optimizer_status "ok" always (there
 * is no background optimizer to fall behind), points_count from the
 * library, indexed_vectors_count the vectors in built HNSW graphs,
 * segments_count the number of library collections, the config as
 * created and patched, and payload_schema with each index's point count
 * (points whose payload has a non-empty value at the key).
 */
#include "routes.h"
#include "server.h"
#include "strict.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM "Service internal error: out of memory"

static const char *coll_param(const qvs_req *req)
{
    return req->n_params > 0 ? req->params[0] : "";
}

static bool not_found(qvs_resp *r, const char *name)
{
    return qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", name);
}

static bool wait_param(const qvs_req *req)
{
    const char *w = req->query(req, "wait");
    return w && strcmp(w, "true") == 0;
}

cJSON *qvs_update_result(const qvs_req *req)
{
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "operation_id",
                            (double)qvs_catalog_next_op_id(req->catalog));
    cJSON_AddStringToObject(res, "status",
                            wait_param(req) ? "completed" : "acknowledged");
    return res;
}

/* Qdrant validates the {name} of every collection route (CollectionPath:
 * length 1..=255) before the handler runs, so an over-long name is 422
 * wherever it appears, not 404 or a quiet false (Qdrant's actix
 * CollectionPath; the same text create gives). */
static bool name_ok(const qvs_req *req, qvs_resp *r)
{
    size_t chars = 0;
    for (const char *p = coll_param(req); *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    if (!(chars >= 1 && chars <= QV_MAX_NAME))
        return qvs_fail(r, 422,
                        "Validation error in path parameters: [name: length "
                        "must be from 1 to 255]");
    char why[64];
    if (qvs_name_control(coll_param(req), why, sizeof(why)))
        return qvs_fail(r, 422,
                        "Validation error in path parameters: [name: %s]", why);
    return true;
}

/* ?timeout= on the collection operations: Qdrant's WaitTimeout, an
 * integer of at least 1 (0 is the validator's 422). */
bool qvs_timeout_ok(const qvs_req *req, qvs_resp *r)
{
    const char *t = req->query ? req->query(req, "timeout") : NULL;
    if (!t)
        return true;
    size_t n = strlen(t);
    if (n == 0 || n > 20 || strspn(t, "0123456789") != n)
        return qvs_fail(r, 400,
                        "Deserialize error in query parameters: timeout: "
                        "invalid digit found in string");
    if (strspn(t, "0") == n)
        return qvs_fail(r, 422,
                        "Validation error in query parameters: [timeout: "
                        "value 0 invalid, must be 1 or larger]");
    return true;
}

static void list_collections(const qvs_req *req, qvs_resp *r)
{
    r->result = qvs_catalog_list(req->catalog);
    if (!r->result)
        qvs_fail(r, 500, OOM);
}

/* The number of points with a non-empty value at key (JSON path). */
static uint64_t points_with(const qvs_coll *c, const char *key)
{
    cJSON *f = cJSON_CreateObject();
    cJSON *not = cJSON_AddArrayToObject(f, "must_not");
    cJSON *cond = cJSON_CreateObject();
    cJSON *empty = cJSON_AddObjectToObject(cond, "is_empty");
    cJSON_AddStringToObject(empty, "key", key);
    cJSON_AddItemToArray(not, cond);
    char *text = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    qv_filter *filter = NULL;
    uint64_t n = 0;
    if (text && qv_filter_parse(text, strlen(text), &filter, NULL, 0) == QV_OK)
        qv_count_filter(c->points, filter, &n);
    qv_filter_free(filter);
    free(text);
    return n;
}

static cJSON *collection_info(qvs_catalog *cat, qvs_coll *c)
{
    cJSON *config = qvs_coll_config_dup(cat, c);
    cJSON *schema = qvs_coll_schema_dup(cat, c);
    cJSON *info = cJSON_CreateObject();
    if (!config || !schema || !info) {
        cJSON_Delete(config);
        cJSON_Delete(schema);
        cJSON_Delete(info);
        return NULL;
    }
    cJSON *field;
    cJSON_ArrayForEach(field, schema)
    {
        cJSON_AddNumberToObject(field, "points",
                                (double)points_with(c, field->string));
    }
    cJSON_AddStringToObject(info, "status", "green");
    cJSON_AddStringToObject(info, "optimizer_status", "ok");
    cJSON_AddNumberToObject(info, "indexed_vectors_count",
                            (double)qvs_coll_indexed_vectors(c));
    cJSON_AddNumberToObject(info, "points_count", (double)qvs_coll_points(c));
    cJSON_AddNumberToObject(info, "segments_count",
                            (double)qvs_coll_segments(c));
    /* Qdrant's CollectionConfig serialises an absent quantization config
     * as null (no skip_serializing_if; OpenAPI: "default": null). */
    if (!cJSON_HasObjectItem(config, "quantization_config"))
        cJSON_AddNullToObject(config, "quantization_config");
    cJSON_AddItemToObject(info, "config", config);
    cJSON_AddItemToObject(info, "payload_schema", schema);
    return info;
}

static void get_collection(const qvs_req *req, qvs_resp *r)
{
    if (!name_ok(req, r))
        return;
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        not_found(r, coll_param(req));
        return;
    }
    r->result = collection_info(req->catalog, c);
    qvs_coll_release(req->catalog, c);
    if (!r->result)
        qvs_fail(r, 500, OOM);
}

static void create_collection(const qvs_req *req, qvs_resp *r)
{
    if (qvs_timeout_ok(req, r) &&
        qvs_catalog_create(req->catalog, coll_param(req), req->body, r))
        r->result = cJSON_CreateTrue();
}

static void update_collection(const qvs_req *req, qvs_resp *r)
{
    if (name_ok(req, r) && qvs_timeout_ok(req, r) &&
        qvs_catalog_update(req->catalog, coll_param(req), req->body, r))
        r->result = cJSON_CreateTrue();
}

static void delete_collection(const qvs_req *req, qvs_resp *r)
{
    bool deleted;
    if (name_ok(req, r) && qvs_timeout_ok(req, r) &&
        qvs_catalog_delete(req->catalog, coll_param(req), &deleted, r))
        r->result = cJSON_CreateBool(deleted);
}

static void collection_exists(const qvs_req *req, qvs_resp *r)
{
    if (!name_ok(req, r))
        return;
    qvs_coll *c;
    bool exists = qvs_catalog_get(req->catalog, coll_param(req), &c);
    qvs_coll_release(req->catalog, c);
    r->result = cJSON_CreateObject();
    cJSON_AddBoolToObject(r->result, "exists", exists);
}

static void update_aliases(const qvs_req *req, qvs_resp *r)
{
    if (qvs_catalog_update_aliases(req->catalog, req->body, r))
        r->result = cJSON_CreateTrue();
}

static void collection_aliases(const qvs_req *req, qvs_resp *r)
{
    r->result = qvs_catalog_aliases(req->catalog, coll_param(req), r);
}

static void all_aliases(const qvs_req *req, qvs_resp *r)
{
    r->result = qvs_catalog_aliases(req->catalog, NULL, r);
}

static void create_index(const qvs_req *req, qvs_resp *r)
{
    const cJSON *b = req->body;
    if (!cJSON_IsObject(b)) {
        qvs_fail(r, 400, "Format error in JSON body: %s",
                 b ? "invalid type, expected struct CreateFieldIndex"
                   : "EOF while parsing a value at line 1 column 0");
        return;
    }
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(b, "field_name");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(b, "field_schema");
    if (!cJSON_IsString(field)) {
        qvs_fail(r, 400,
                 "Format error in JSON body: missing field "
                 "`field_name` (a string)");
        return;
    }
    if (!field->valuestring[0]) {
        qvs_fail(r, 422,
                 "Validation error in JSON body: [field_name: must "
                 "not be empty]");
        return;
    }
    if (!schema || cJSON_IsNull(schema)) {
        qvs_fail(r, 400,
                 "Bad request: field_schema is required: this server "
                 "does not infer a field's type");
        return;
    }
    /* Qdrant's IntegerIndexParams validation: an integer index must keep
     * lookup or range (validate_integer_index_params, lib/segment/src/
     * data_types/index.rs, which files the error under "lookup"). */
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (cJSON_IsObject(schema) && cJSON_IsString(ty) &&
        strcmp(ty->valuestring, "integer") == 0 &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(schema, "lookup")) &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(schema, "range"))) {
        qvs_fail(r, 422,
                 "Validation error in JSON body: [field_schema.lookup: the "
                 "'lookup' "
                 "and 'range' capabilities can't be both disabled]");
        return;
    }
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        not_found(r, coll_param(req));
        return;
    }
    if (qvs_strict_check(req, r, QVS_STRICT_INDEX) &&
        qvs_catalog_index_create(req->catalog, c, field->valuestring, schema,
                                 r))
        r->result = qvs_update_result(req);
    qvs_coll_release(req->catalog, c);
}

static void delete_index(const qvs_req *req, qvs_resp *r)
{
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        not_found(r, coll_param(req));
        return;
    }
    if (qvs_catalog_index_drop(req->catalog, c, req->params[1], r))
        r->result = qvs_update_result(req);
    qvs_coll_release(req->catalog, c);
}

/* One local shard holding every point: what a single node reports. */
static void collection_cluster(const qvs_req *req, qvs_resp *r)
{
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        not_found(r, coll_param(req));
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "peer_id", 0);
    cJSON_AddNumberToObject(res, "shard_count", 1);
    cJSON *local = cJSON_AddArrayToObject(res, "local_shards");
    cJSON *shard = cJSON_CreateObject();
    cJSON_AddNumberToObject(shard, "shard_id", 0);
    cJSON_AddNumberToObject(shard, "points_count", (double)qvs_coll_points(c));
    cJSON_AddStringToObject(shard, "state", "Active");
    cJSON_AddItemToArray(local, shard);
    cJSON_AddArrayToObject(res, "remote_shards");
    cJSON_AddArrayToObject(res, "shard_transfers");
    qvs_coll_release(req->catalog, c);
    r->result = res;
}

/* Which optional parts GET .../optimizations asked for (?with=a,b). */
typedef struct opt_with {
    bool queued, completed, idle;
} opt_with;

static bool parse_opt_with(const qvs_req *req, qvs_resp *r, opt_with *w)
{
    const char *with = req->query ? req->query(req, "with") : NULL;
    const char *limit = req->query ? req->query(req, "completed_limit") : NULL;
    memset(w, 0, sizeof(*w));
    /* completed_limit: an integer >= 0; nothing ever completes here */
    if (limit && (!*limit || strspn(limit, "0123456789") != strlen(limit)))
        return qvs_fail(r, 400,
                        "Query deserialize error: completed_limit: invalid "
                        "digit found in string");
    for (const char *p = with; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == 6 && strncmp(p, "queued", n) == 0)
            w->queued = true;
        else if (n == 9 && strncmp(p, "completed", n) == 0)
            w->completed = true;
        else if (n == 13 && strncmp(p, "idle_segments", n) == 0)
            w->idle = true;
        else if (n)
            return qvs_fail(r, 400,
                            "Bad request: unknown value `%.*s` in `with`: "
                            "expected queued, completed or idle_segments",
                            (int)(n < 64 ? n : 64), p);
        p += n + (p[n] == ',');
    }
    return true;
}

/* The one "segment" a collection is: a stable UUID made from its name
 * (SHA-256, shaped as a version-8 UUID). */
static void segment_uuid(const char *name, char out[37])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(name, strlen(name), d, &dl, EVP_sha256(), NULL);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x80);
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[d[i] >> 4];
        out[o++] = hex[d[i] & 15];
    }
    out[o] = '\0';
}

/* GET /collections/{name}/optimizations (Qdrant's OptimizationsResponse).
 * Indexing here happens inside each write, before it is acknowledged, so
 * nothing ever runs or waits in the background: no running or queued
 * optimization, and the collection is one idle "segment". */
static void collection_optimizations(const qvs_req *req, qvs_resp *r)
{
    opt_with w;
    if (!parse_opt_with(req, r, &w))
        return;
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        not_found(r, coll_param(req));
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON *sum = cJSON_AddObjectToObject(res, "summary");
    cJSON_AddNumberToObject(sum, "queued_optimizations", 0);
    cJSON_AddNumberToObject(sum, "queued_segments", 0);
    cJSON_AddNumberToObject(sum, "queued_points", 0);
    cJSON_AddNumberToObject(sum, "idle_segments", 1);
    cJSON_AddArrayToObject(res, "running");
    if (w.queued)
        cJSON_AddArrayToObject(res, "queued");
    if (w.completed)
        cJSON_AddArrayToObject(res, "completed");
    if (w.idle) {
        cJSON *seg = cJSON_CreateObject();
        char uuid[37];
        segment_uuid(c->name, uuid);
        cJSON_AddStringToObject(seg, "uuid", uuid);
        cJSON_AddNumberToObject(seg, "points_count",
                                (double)qvs_coll_points(c));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "idle_segments"), seg);
    }
    qvs_coll_release(req->catalog, c);
    r->result = res;
}

#define W QVS_ROUTE_WRITE
const qvs_route qvs_collection_routes[] = {
    {"GET", "/collections", list_collections, 0, "get_collections"},
    {"GET", "/collections/{name}", get_collection, 0, "get_collection"},
    {"PUT", "/collections/{name}", create_collection, W, "create_collection"},
    {"PATCH", "/collections/{name}", update_collection, W, "update_collection"},
    {"DELETE", "/collections/{name}", delete_collection, W,
     "delete_collection"},
    {"GET", "/collections/{name}/exists", collection_exists, 0,
     "collection_exists"},
    {"POST", "/collections/aliases", update_aliases, W, "update_aliases"},
    {"GET", "/collections/{name}/aliases", collection_aliases, 0,
     "get_collection_aliases"},
    {"GET", "/aliases", all_aliases, 0, "get_collections_aliases"},
    {"PUT", "/collections/{name}/index", create_index, W, "create_field_index"},
    {"DELETE", "/collections/{name}/index/{field_name}", delete_index, W,
     "delete_field_index"},
    {"GET", "/collections/{name}/cluster", collection_cluster, 0,
     "collection_cluster_info"},
    {"GET", "/collections/{name}/optimizations", collection_optimizations, 0,
     "get_optimizations"},
};
const size_t qvs_collection_routes_n =
    sizeof(qvs_collection_routes) / sizeof(qvs_collection_routes[0]);
