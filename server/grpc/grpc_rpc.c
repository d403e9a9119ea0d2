/*
 * grpc_rpc.c -- Qdrant's gRPC methods, each run by the REST handler of the
 * same meaning.
 *
 * The method list comes from the generated service descriptors (qdrant.
 * Qdrant, Collections, Points, Snapshots, grpc.health.v1.Health), so every
 * method of Qdrant 1.19's public services is known: those with a REST
 * counterpart here run it; the others (cluster set-up, shard keys, vector
 * names) answer UNIMPLEMENTED with a message naming the
 * method, as REST answers 404 (or 400) for the same operations.
 *
 * A call: the request message is unpacked (protobuf-c), converted to the
 * REST body (grpc_convert.c); the collection name, `wait` and the second
 * path parameter move to the route's path and query as REST has them;
 * fields that are transport-only in REST (timeout, read_consistency,
 * ordering, shard_key_selector) are dropped, as a single-node Qdrant
 * ignores them too; a few renames follow REST's spelling (`with_vectors`
 * -> `with_vector`, a point's `vectors` -> `vector`, a PointsSelector
 * merged as `points`/`filter`).  The REST handler found in the server's
 * router by method and pattern runs with that body; its result becomes
 * the reply message (wrapped as `result` or merged with `time`), its
 * error a gRPC status (qvs_grpc_status_of_http) with REST's message.
 */
#include "grpc.h"

#include "collections_service.pb-c.h"
#include "health_check.pb-c.h"
#include "points_service.pb-c.h"
#include "qdrant.pb-c.h"
#include "snapshots_service.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How the REST result becomes the reply message. */
enum {
    REPLY_RESULT, /* {"result": result, "time": t} */
    REPLY_MERGE,  /* result's members and "time" */
    REPLY_BATCH,  /* [[...], ...] -> {"result": [{"result": [...]}, ...]} */
    REPLY_SNAPSHOT,
    REPLY_SNAPSHOTS,
    REPLY_HEALTH = 100, /* qdrant.Qdrant/HealthCheck, no REST call */
    REPLY_GRPC_HEALTH,  /* grpc.health.v1.Health/Check */
};

typedef void (*body_fix)(cJSON *body);

/* One implemented method.  (The type is opaque to the transport.) */
struct qvs_grpc_method {
    const char *path; /* "/qdrant.Points/Search" */
    const char *method;
    const char *pattern; /* REST route; NULL: answered here */
    const char *param2;  /* request field for the second {param} */
    int reply;
    body_fix fix;
};

typedef struct qvs_grpc_method impl;

/* ---- request fix-ups ------------------------------------------------------
 */

static void rename_key(cJSON *obj, const char *from, const char *to)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(obj, from);
    if (v) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, to);
        cJSON_AddItemToObject(obj, to, v);
    }
}

/* Moves the members of the object at key (a converted PointsSelector:
 * {"points": ids} or {"filter": f}) into obj. */
static void merge_selector(cJSON *obj, const char *key)
{
    cJSON *sel = cJSON_DetachItemFromObjectCaseSensitive(obj, key);
    if (!cJSON_IsObject(sel)) {
        cJSON_Delete(sel);
        return;
    }
    cJSON *it = sel->child;
    while (it) {
        cJSON *next = it->next;
        cJSON *v = cJSON_DetachItemViaPointer(sel, it);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, v->string);
        cJSON_AddItemToObject(obj, v->string, v);
        it = next;
    }
    cJSON_Delete(sel);
}

static void points_vector(cJSON *body)
{
    cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(body, "points"))
        rename_key(p, "vectors", "vector");
}

static void fix_upsert(cJSON *body)
{
    points_vector(body);
}

static void fix_selector_points(cJSON *body)
{
    merge_selector(body, "points");
}

static void fix_selector(cJSON *body)
{
    merge_selector(body, "points_selector");
}

static void fix_with_vector(cJSON *body)
{
    rename_key(body, "with_vectors", "with_vector");
}

static void fix_delete_vectors(cJSON *body)
{
    merge_selector(body, "points_selector");
    rename_key(body, "vectors", "vector");
    cJSON *v = cJSON_GetObjectItem(body, "vector");
    if (cJSON_IsObject(v)) /* VectorsSelector {"names": [...]} */
        rename_key(body, "vector", "vector"),
            cJSON_ReplaceItemInObject(
                body, "vector",
                cJSON_Duplicate(cJSON_GetObjectItem(v, "names"), 1));
}

/* SearchPoints: vector + vector_name (+ sparse_indices) -> REST's
 * NamedVectorStruct. */
static void fix_search(cJSON *body)
{
    fix_with_vector(body);
    cJSON *vec = cJSON_DetachItemFromObjectCaseSensitive(body, "vector");
    cJSON *name = cJSON_DetachItemFromObjectCaseSensitive(body, "vector_name");
    cJSON *idx =
        cJSON_DetachItemFromObjectCaseSensitive(body, "sparse_indices");
    if (!vec)
        vec = cJSON_CreateArray();
    if (idx) { /* SparseIndices {"data": [...]} */
        cJSON *sparse = cJSON_CreateObject();
        cJSON_AddItemToObject(sparse, "indices",
                              cJSON_DetachItemFromObject(idx, "data"));
        cJSON_AddItemToObject(sparse, "values", vec);
        vec = sparse;
        cJSON_Delete(idx);
    }
    if (name) {
        cJSON *named = cJSON_CreateObject();
        cJSON_AddItemToObject(named, "name", name);
        cJSON_AddItemToObject(named, "vector", vec);
        vec = named;
    }
    cJSON_AddItemToObject(body, "vector", vec);
}

static void fix_recommend(cJSON *body)
{
    fix_with_vector(body);
    static const char *const pairs[][2] = {{"positive_vectors", "positive"},
                                           {"negative_vectors", "negative"}};
    for (size_t i = 0; i < 2; i++) {
        cJSON *vs = cJSON_DetachItemFromObjectCaseSensitive(body, pairs[i][0]);
        if (!vs)
            continue;
        cJSON *to = cJSON_GetObjectItem(body, pairs[i][1]);
        if (!to)
            to = cJSON_AddArrayToObject(body, pairs[i][1]);
        cJSON *v;
        while ((v = cJSON_DetachItemFromArray(vs, 0)))
            cJSON_AddItemToArray(to, v);
        cJSON_Delete(vs);
    }
}

/* A batch's requests: each fixed as the single request is. */
static void fix_batch(cJSON *body, const char *from, body_fix one)
{
    rename_key(body, from, "searches");
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(body, "searches"))
    {
        qvs_grpc_drop_transport(s);
        one(s);
    }
}

static void fix_search_batch(cJSON *body)
{
    fix_batch(body, "search_points", fix_search);
}

static void fix_recommend_batch(cJSON *body)
{
    fix_batch(body, "recommend_points", fix_recommend);
}

static void fix_query_batch(cJSON *body)
{
    fix_batch(body, "query_points", fix_with_vector);
}

static void fix_discover_batch(cJSON *body)
{
    fix_batch(body, "discover_points", fix_with_vector);
}

static void fix_index(cJSON *body)
{
    cJSON *params =
        cJSON_DetachItemFromObjectCaseSensitive(body, "field_index_params");
    cJSON *type = cJSON_DetachItemFromObjectCaseSensitive(body, "field_type");
    if (!type) /* FieldTypeKeyword is 0: proto3 drops it only when unset */
        type = cJSON_CreateString("keyword");
    if (params) {
        cJSON_AddItemToObject(body, "field_schema", params);
        cJSON_Delete(type);
    } else {
        cJSON_AddItemToObject(body, "field_schema", type);
    }
}

static void fix_collection(cJSON *body)
{
    rename_key(body, "vectors_config", "vectors");
    rename_key(body, "sparse_vectors_config", "sparse_vectors");
}

/* UpdateBatch: each operation in REST's spelling. */
static void fix_update_batch(cJSON *body)
{
    cJSON *op;
    cJSON_ArrayForEach(op, cJSON_GetObjectItem(body, "operations"))
    {
        rename_key(op, "delete_points", "delete");
        rename_key(op, "delete_deprecated", "delete");
        rename_key(op, "clear_payload_deprecated", "clear_payload");
        cJSON *inner = op->child;
        if (!inner)
            continue;
        if (cJSON_IsObject(inner)) {
            qvs_grpc_drop_transport(inner);
            points_vector(inner);
            merge_selector(inner, "points_selector");
            if (cJSON_IsObject(cJSON_GetObjectItem(inner, "points")))
                merge_selector(inner, "points");
            if (strcmp(inner->string, "delete_vectors") == 0)
                fix_delete_vectors(inner);
        } else if (strcmp(inner->string, "delete") == 0 ||
                   strcmp(inner->string, "clear_payload") == 0) {
            /* the deprecated forms hold a bare PointsSelector */
            cJSON *sel = cJSON_DetachItemViaPointer(op, inner);
            cJSON *wrap = cJSON_AddObjectToObject(op, sel->string);
            cJSON_AddItemToObject(wrap, "points", sel);
            merge_selector(wrap, "points");
        }
    }
}

/* ---- the table ----------------------------------------------------------- */

#define COLL "/collections/{name}"
#define PTS  COLL "/points"
#define Q    "/qdrant."

static const impl impls[] = {
    {Q "Qdrant/HealthCheck", NULL, NULL, NULL, REPLY_HEALTH, NULL},
    {"/grpc.health.v1.Health/Check", NULL, NULL, NULL, REPLY_GRPC_HEALTH, NULL},
    {Q "Collections/Get", "GET", COLL, NULL, REPLY_RESULT, NULL},
    {Q "Collections/List", "GET", "/collections", NULL, REPLY_MERGE, NULL},
    {Q "Collections/Create", "PUT", COLL, NULL, REPLY_RESULT, fix_collection},
    {Q "Collections/Update", "PATCH", COLL, NULL, REPLY_RESULT, fix_collection},
    {Q "Collections/Delete", "DELETE", COLL, NULL, REPLY_RESULT, NULL},
    {Q "Collections/UpdateAliases", "POST", "/collections/aliases", NULL,
     REPLY_RESULT, NULL},
    {Q "Collections/ListCollectionAliases", "GET", COLL "/aliases", NULL,
     REPLY_MERGE, NULL},
    {Q "Collections/ListAliases", "GET", "/aliases", NULL, REPLY_MERGE, NULL},
    {Q "Collections/CollectionExists", "GET", COLL "/exists", NULL,
     REPLY_RESULT, NULL},
    {Q "Collections/CollectionClusterInfo", "GET", COLL "/cluster", NULL,
     REPLY_MERGE, NULL},
    {Q "Points/Upsert", "PUT", PTS, NULL, REPLY_RESULT, fix_upsert},
    {Q "Points/Delete", "POST", PTS "/delete", NULL, REPLY_RESULT,
     fix_selector_points},
    {Q "Points/Get", "POST", PTS, NULL, REPLY_RESULT, fix_with_vector},
    {Q "Points/UpdateVectors", "PUT", PTS "/vectors", NULL, REPLY_RESULT,
     fix_upsert},
    {Q "Points/DeleteVectors", "POST", PTS "/vectors/delete", NULL,
     REPLY_RESULT, fix_delete_vectors},
    {Q "Points/SetPayload", "POST", PTS "/payload", NULL, REPLY_RESULT,
     fix_selector},
    {Q "Points/OverwritePayload", "PUT", PTS "/payload", NULL, REPLY_RESULT,
     fix_selector},
    {Q "Points/DeletePayload", "POST", PTS "/payload/delete", NULL,
     REPLY_RESULT, fix_selector},
    {Q "Points/ClearPayload", "POST", PTS "/payload/clear", NULL, REPLY_RESULT,
     fix_selector_points},
    {Q "Points/CreateFieldIndex", "PUT", COLL "/index", NULL, REPLY_RESULT,
     fix_index},
    {Q "Points/DeleteFieldIndex", "DELETE", COLL "/index/{field_name}",
     "field_name", REPLY_RESULT, NULL},
    {Q "Points/Search", "POST", PTS "/search", NULL, REPLY_RESULT, fix_search},
    {Q "Points/SearchBatch", "POST", PTS "/search/batch", NULL, REPLY_BATCH,
     fix_search_batch},
    {Q "Points/Scroll", "POST", PTS "/scroll", NULL, REPLY_MERGE,
     fix_with_vector},
    {Q "Points/Recommend", "POST", PTS "/recommend", NULL, REPLY_RESULT,
     fix_recommend},
    {Q "Points/RecommendBatch", "POST", PTS "/recommend/batch", NULL,
     REPLY_BATCH, fix_recommend_batch},
    {Q "Points/Discover", "POST", PTS "/discover", NULL, REPLY_RESULT,
     fix_with_vector},
    {Q "Points/DiscoverBatch", "POST", PTS "/discover/batch", NULL, REPLY_BATCH,
     fix_discover_batch},
    {Q "Points/Count", "POST", PTS "/count", NULL, REPLY_RESULT, NULL},
    {Q "Points/Query", "POST", PTS "/query", NULL, REPLY_MERGE,
     fix_with_vector},
    {Q "Points/QueryBatch", "POST", PTS "/query/batch", NULL, REPLY_BATCH,
     fix_query_batch},
    {Q "Points/UpdateBatch", "POST", PTS "/batch", NULL, REPLY_RESULT,
     fix_update_batch},
    {Q "Points/SearchGroups", "POST", PTS "/search/groups", NULL, REPLY_RESULT,
     fix_search},
    {Q "Points/RecommendGroups", "POST", PTS "/recommend/groups", NULL,
     REPLY_RESULT, fix_recommend},
    {Q "Points/QueryGroups", "POST", PTS "/query/groups", NULL, REPLY_RESULT,
     fix_with_vector},
    {Q "Points/Facet", "POST", COLL "/facet", NULL, REPLY_MERGE, NULL},
    {Q "Points/SearchMatrixPairs", "POST", PTS "/search/matrix/pairs", NULL,
     REPLY_RESULT, NULL},
    {Q "Points/SearchMatrixOffsets", "POST", PTS "/search/matrix/offsets", NULL,
     REPLY_RESULT, NULL},
    {Q "Snapshots/Create", "POST", COLL "/snapshots", NULL, REPLY_SNAPSHOT,
     NULL},
    {Q "Snapshots/CreateFull", "POST", "/snapshots", NULL, REPLY_SNAPSHOT,
     NULL},
    {Q "Snapshots/ListFull", "GET", "/snapshots", NULL, REPLY_SNAPSHOTS, NULL},
    {Q "Snapshots/DeleteFull", "DELETE", "/snapshots/{snapshot_name}",
     "snapshot_name", REPLY_RESULT, NULL},
    {Q "Snapshots/List", "GET", COLL "/snapshots", NULL, REPLY_SNAPSHOTS, NULL},
    {Q "Snapshots/Delete", "DELETE", COLL "/snapshots/{snapshot_name}",
     "snapshot_name", REPLY_RESULT, NULL},
};

static const ProtobufCServiceDescriptor *const services[] = {
    &qdrant__qdrant__descriptor, &qdrant__collections__descriptor,
    &qdrant__points__descriptor, &qdrant__snapshots__descriptor,
    &grpc__health__v1__health__descriptor};

#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* A method of Qdrant's services that this server does not implement. */
static const impl unimplemented = {NULL, NULL, NULL, NULL, 0, NULL};

/* The descriptor of the method at path "/service/Method", or NULL. */
static const ProtobufCMethodDescriptor *method_desc(const char *path)
{
    const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
    if (!slash)
        return NULL;
    size_t sl = (size_t)(slash - path - 1);
    for (size_t s = 0; s < N_SERVICES; s++)
        if (strlen(services[s]->name) == sl &&
            memcmp(services[s]->name, path + 1, sl) == 0)
            return protobuf_c_service_descriptor_get_method_by_name(services[s],
                                                                    slash + 1);
    return NULL;
}

const qvs_grpc_method *qvs_grpc_find(const char *path)
{
    for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++)
        if (strcmp(impls[k].path, path) == 0)
            return &impls[k];
    return method_desc(path) ? &unimplemented : NULL;
}

size_t qvs_grpc_method_count(void)
{
    size_t n = 0;
    for (size_t s = 0; s < N_SERVICES; s++)
        n += services[s]->n_methods;
    return n;
}

size_t qvs_grpc_method_index(const char *path)
{
    size_t base = 0;
    const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
    for (size_t s = 0; slash && s < N_SERVICES; s++) {
        const ProtobufCServiceDescriptor *sd = services[s];
        size_t sl = (size_t)(slash - path - 1);
        if (strlen(sd->name) == sl && memcmp(sd->name, path + 1, sl) == 0)
            for (unsigned i = 0; i < sd->n_methods; i++)
                if (strcmp(sd->methods[i].name, slash + 1) == 0)
                    return base + i;
        base += sd->n_methods;
    }
    return qvs_grpc_method_count();
}

bool qvs_grpc_method_path(size_t i, char *buf, size_t cap)
{
    for (size_t s = 0; s < N_SERVICES; s++) {
        if (i < services[s]->n_methods) {
            snprintf(buf, cap, "/%s/%s", services[s]->name,
                     services[s]->methods[i].name);
            return true;
        }
        i -= services[s]->n_methods;
    }
    return false;
}

/* The REST route of m: its flags decide writes and auth, as for REST. */
static const qvs_route *route_of(qvs_server *srv, const impl *im)
{
    if (!im->pattern)
        return NULL;
    const qvs_router *r = qvs_server_router(srv);
    for (size_t i = 0; i < r->n; i++) {
        const qvs_route *rt = r->entries[i].route;
        if (strcmp(rt->method, im->method) == 0 &&
            strcmp(rt->pattern, im->pattern) == 0)
            return rt;
    }
    return NULL;
}

bool qvs_grpc_method_write(qvs_server *srv, const qvs_grpc_method *m)
{
    const qvs_route *rt = route_of(srv, m);
    return rt && (rt->flags & QVS_ROUTE_WRITE);
}

bool qvs_grpc_method_implemented(const qvs_grpc_method *m)
{
    return m->path != NULL;
}

bool qvs_grpc_method_open(const qvs_grpc_method *m)
{
    return m->reply == REPLY_HEALTH || m->reply == REPLY_GRPC_HEALTH;
}

/* ---- running a call --------------------------------------------------------
 */

typedef struct call_req {
    const char *wait; /* "true", "false" or NULL */
} call_req;

static const char *call_query(const qvs_req *r, const char *key)
{
    const call_req *c = r->conn;
    if (strcmp(key, "wait") == 0)
        return c->wait;
    return NULL;
}

void qvs_grpc_drop_transport(cJSON *o)
{
    static const char *const keys[] = {"collection_name", "wait",
                                       "timeout",         "read_consistency",
                                       "ordering",        "shard_key_selector"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* The reply's JSON in the shape of the reply message. */
static cJSON *reply_json(const impl *im, cJSON *result, double t)
{
    cJSON *o = NULL;
    switch (im->reply) {
    case REPLY_MERGE:
        o = cJSON_IsObject(result) ? result : cJSON_CreateObject();
        if (o != result)
            cJSON_Delete(result);
        break;
    case REPLY_BATCH: {
        o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "result");
        cJSON *it;
        cJSON_ArrayForEach(it, result)
        {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddItemToObject(
                one, "result",
                cJSON_IsArray(it)
                    ? cJSON_Duplicate(it, 1)
                    : cJSON_Duplicate(cJSON_GetObjectItem(it, "points"), 1));
            cJSON_AddItemToArray(arr, one);
        }
        cJSON_Delete(result);
        break;
    }
    case REPLY_SNAPSHOT:
    case REPLY_SNAPSHOTS:
        o = cJSON_CreateObject();
        cJSON_AddItemToObject(o,
                              im->reply == REPLY_SNAPSHOT
                                  ? "snapshot_description"
                                  : "snapshot_descriptions",
                              result ? result : cJSON_CreateNull());
        break;
    default:
        o = cJSON_CreateObject();
        if (result)
            cJSON_AddItemToObject(o, "result", result);
        break;
    }
    if (o)
        cJSON_AddNumberToObject(o, "time", t);
    return o;
}

static cJSON *health_json(const impl *im)
{
    cJSON *o = cJSON_CreateObject();
    if (im->reply == REPLY_GRPC_HEALTH) {
        cJSON_AddStringToObject(o, "status", "SERVING");
        return o;
    }
    cJSON_AddStringToObject(o, "title", "qdrant - vector search engine");
    cJSON_AddStringToObject(o, "version", QVS_VERSION);
    cJSON_AddStringToObject(o, "commit", qvs_commit());
    return o;
}

/* Runs the REST handler of im with the request's body; the result in *out
 * (owned) or the error in resp. */
static void run_rest(qvs_server *srv, const impl *im, cJSON *body,
                     qvs_resp *resp)
{
    const qvs_route *rt = route_of(srv, im);
    if (!rt) {
        qvs_fail(resp, 501, "no REST route %s %s", im->method, im->pattern);
        return;
    }
    cJSON *name =
        cJSON_DetachItemFromObjectCaseSensitive(body, "collection_name");
    cJSON *p2 = im->param2
                    ? cJSON_DetachItemFromObjectCaseSensitive(body, im->param2)
                    : NULL;
    cJSON *wait = cJSON_DetachItemFromObjectCaseSensitive(body, "wait");
    call_req cr = {.wait = cJSON_IsBool(wait)
                               ? (cJSON_IsTrue(wait) ? "true" : "false")
                               : NULL};
    qvs_grpc_drop_transport(body);
    if (im->fix)
        im->fix(body);
    qvs_req req = {.method = im->method,
                   .body = strcmp(im->method, "GET") == 0 ||
                                   strcmp(im->method, "DELETE") == 0
                               ? NULL
                               : body,
                   .query = call_query,
                   .conn = &cr,
                   .catalog = qvs_server_catalog(srv)};
    if (strstr(im->pattern, "{name}"))
        req.params[req.n_params++] =
            cJSON_IsString(name) ? name->valuestring : "";
    if (im->param2)
        req.params[req.n_params++] = cJSON_IsString(p2) ? p2->valuestring : "";
    /* A path segment is never empty over REST (the router drops empty
     * segments), so the handlers never see ""; Qdrant's gRPC validation
     * refuses an empty name too. */
    for (size_t i = 0; i < req.n_params; i++)
        if (!*req.params[i]) {
            qvs_fail(resp, 422, "Validation error: %s must not be empty",
                     i == 0 && strstr(im->pattern, "{name}") ? "collection_name"
                                                             : im->param2);
            goto done;
        }
    rt->handler(&req, resp);
    if (resp->http_status >= 400)
        qvs_scrub_storage_paths(qvs_catalog_dir(req.catalog), resp->error);
done:
    cJSON_Delete(name);
    cJSON_Delete(p2);
    cJSON_Delete(wait);
}

int qvs_grpc_invoke(qvs_server *srv, const qvs_grpc_method *m,
                    const uint8_t *in, size_t len, uint8_t **out,
                    size_t *out_len, char *msg, size_t cap)
{
    *out = NULL;
    *out_len = 0;
    const ProtobufCMethodDescriptor *md = m->path ? method_desc(m->path) : NULL;
    if (!md) {
        snprintf(msg, cap, "this method is not implemented by Quiver");
        return QVS_GRPC_UNIMPLEMENTED;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ProtobufCMessage *rq = protobuf_c_message_unpack(md->input, NULL, len, in);
    if (!rq) {
        snprintf(msg, cap, "cannot decode %s: malformed protobuf message",
                 md->input->name);
        return QVS_GRPC_INVALID_ARGUMENT;
    }
    const char *bad = qvs_pb_bad_utf8(rq);
    if (bad) {
        snprintf(msg, cap, "cannot decode %s: field `%s` is not UTF-8",
                 md->input->name, bad);
        protobuf_c_message_free_unpacked(rq, NULL);
        return QVS_GRPC_INVALID_ARGUMENT;
    }
    if (qvs_grpc_fast(srv, m->path, rq, &t0, out, out_len)) {
        protobuf_c_message_free_unpacked(rq, NULL);
        msg[0] = '\0';
        return QVS_GRPC_OK;
    }
    int status = QVS_GRPC_OK;
    cJSON *body = qvs_pb_to_json(rq);
    protobuf_c_message_free_unpacked(rq, NULL);
    qvs_resp resp = {.http_status = 200};
    cJSON *reply = NULL;
    ProtobufCMessage *pb = NULL;
    if (!body) {
        snprintf(msg, cap, "out of memory");
        status = QVS_GRPC_RESOURCE_EXHAUSTED;
        goto done;
    }
    if (m->pattern) {
        run_rest(srv, m, body, &resp);
        if (resp.http_status >= 300) {
            snprintf(msg, cap, "%s", resp.error);
            status = qvs_grpc_status_of_http(resp.http_status);
            goto done;
        }
        reply = reply_json(m, resp.result, since(&t0));
        resp.result = NULL;
    } else {
        reply = health_json(m);
    }
    pb = reply ? qvs_json_to_pb(md->output, reply, msg, cap) : NULL;
    if (!pb) {
        status = QVS_GRPC_INTERNAL;
        goto done;
    }
    *out_len = protobuf_c_message_get_packed_size(pb);
    *out = malloc(*out_len ? *out_len : 1);
    if (!*out) {
        snprintf(msg, cap, "out of memory");
        status = QVS_GRPC_RESOURCE_EXHAUSTED;
        *out_len = 0;
        goto done;
    }
    protobuf_c_message_pack(pb, *out);
    msg[0] = '\0';
done:
    if (pb)
        protobuf_c_message_free_unpacked(pb, NULL);
    cJSON_Delete(reply);
    cJSON_Delete(resp.result);
    free(resp.raw_body);
    free(resp.raw_file);
    cJSON_Delete(body);
    return status;
}
