/*
 * vector_names.c -- PUT and DELETE /collections/{name}/vectors/{vector_name}:
 * adding a named vector to a live collection and removing one (Qdrant's
 * create_vector_name / delete_vector_name, available since Qdrant 1.18).
 *
 * The body is Qdrant's VectorNameConfig: {"dense": DenseVectorConfig}
 * (size, distance, multivector_config, datatype) or {"sparse":
 * SparseVectorConfig} (modifier, datatype).  Rather than a second parser
 * for vector params, the body is rewritten as the CreateCollection body
 * that would declare that one vector, with the collection's current
 * hnsw_config and optimizer_config, and read by qvs_spec_from_create: the
 * new vector gets exactly the validation, library config and config echo
 * a vector declared at creation gets.  The catalog (catalog.c,
 * qvs_catalog_vector_change) then creates or drops the library collection
 * and commits the new config to catalog.json.
 *
 * Semantics followed (Qdrant 1.19, lib/collection/src/collection/
 * vector_name_schema.rs and lib/storage/src/content_manager/consensus
 * planning):
 *   - creating a vector that exists with the same schema (size, distance,
 *     multivector_config, datatype; sparse: modifier, datatype) is a
 *     no-op; with another schema, or as the other kind (dense vs sparse),
 *     it is 400 "Wrong input: Vector `x` already exists ...";
 *   - deleting a vector that does not exist is a no-op, not an error;
 *   - the last vector may be deleted (points stay, with their payloads);
 *   - both answer an UpdateResult; ?wait and ?timeout as other collection
 *     operations (the change is complete when the answer is sent).
 * Departure: a collection with one unnamed vector keeps its points in that
 * vector's library collection (catalog.h), so it cannot gain or lose
 * vectors here; such requests get a 400 that says so.  One created with an
 * unnamed dense vector beside sparse vectors (stored as named vector "")
 * may gain and lose sparse vectors, but not dense ones: its config shows
 * the dense vector as one VectorParams, which has no room for a second. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM "Service internal error: out of memory"

static const char *vname_param(const qvs_req *req)
{
    return req->n_params > 1 ? req->params[1] : "";
}

/* Qdrant's validate_vector_name on the path: 1 to 255 characters. */
static bool vname_ok(const char *vname, qvs_resp *r)
{
    size_t chars = 0;
    for (const char *p = vname; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    if (chars >= 1 && chars <= QV_MAX_NAME)
        return true;
    return qvs_fail(r, 422,
                    "Validation error in path parameters: [vector_name: "
                    "length must be from 1 to 255]");
}

/* Copies the listed keys of src (when present and not null) into dst. */
static bool copy_keys(cJSON *dst, const cJSON *src, const char *const *keys,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(src, keys[i]);
        if (e && !cJSON_IsNull(e) &&
            !cJSON_AddItemToObject(dst, keys[i], cJSON_Duplicate(e, true)))
            return false;
    }
    return true;
}

/* The dense vector as a CreateCollection body: {"vectors": {vname: ...}}
 * with the collection's index settings. */
static bool dense_body(cJSON *body, const char *vname, const cJSON *dense,
                       const cJSON *config)
{
    static const char *const keys[] = {"size", "distance", "multivector_config",
                                       "datatype"};
    cJSON *vectors = cJSON_AddObjectToObject(body, "vectors");
    cJSON *v = vectors ? cJSON_AddObjectToObject(vectors, vname) : NULL;
    const cJSON *hnsw = cJSON_GetObjectItemCaseSensitive(config, "hnsw_config");
    const cJSON *opt =
        cJSON_GetObjectItemCaseSensitive(config, "optimizer_config");
    return v && copy_keys(v, dense, keys, 4) &&
           (!hnsw || cJSON_AddItemToObject(body, "hnsw_config",
                                           cJSON_Duplicate(hnsw, true))) &&
           (!opt || cJSON_AddItemToObject(body, "optimizers_config",
                                          cJSON_Duplicate(opt, true)));
}

/* The sparse vector as a CreateCollection body: {"sparse_vectors":
 * {vname: SparseVectorParams}}; its datatype goes under "index", as
 * Qdrant's sparse_config_to_params puts it. */
static bool sparse_body(cJSON *body, const char *vname, const cJSON *sparse)
{
    static const char *const keys[] = {"modifier"};
    cJSON *all = cJSON_AddObjectToObject(body, "sparse_vectors");
    cJSON *v = all ? cJSON_AddObjectToObject(all, vname) : NULL;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(sparse, "datatype");
    cJSON *index = NULL;
    if (v && dt && !cJSON_IsNull(dt) &&
        !((index = cJSON_AddObjectToObject(v, "index")) &&
          cJSON_AddItemToObject(index, "datatype", cJSON_Duplicate(dt, true))))
        return false;
    return v && copy_keys(v, sparse, keys, 1);
}

/* Reads a VectorNameConfig body into spec (one vector named vname). */
static bool spec_from_body(const cJSON *body, const char *vname,
                           const cJSON *config, qvs_spec *spec, qvs_resp *r)
{
    memset(spec, 0, sizeof(*spec));
    if (!body)
        return qvs_fail(r, 400,
                        "Format error in JSON body: EOF while parsing a value "
                        "at line 1 column 0");
    const cJSON *dense = cJSON_GetObjectItemCaseSensitive(body, "dense");
    const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(body, "sparse");
    if (!cJSON_IsObject(body) || cJSON_GetArraySize(body) != 1 ||
        !(cJSON_IsObject(dense) || cJSON_IsObject(sparse)))
        return qvs_fail(r, 400,
                        "Format error in JSON body: data did not match any "
                        "variant of untagged enum VectorNameConfig: expected "
                        "{\"dense\": {\"size\", \"distance\"}} or "
                        "{\"sparse\": {...}}");
    cJSON *create = cJSON_CreateObject();
    bool ok = create && (dense ? dense_body(create, vname, dense, config)
                               : sparse_body(create, vname, sparse));
    if (!ok) {
        cJSON_Delete(create);
        return qvs_fail(r, 500, OOM);
    }
    ok = qvs_spec_from_create(create, spec, r);
    cJSON_Delete(create);
    return ok;
}

/* ---- comparing and changing configs ------------------------------------- */

static const cJSON *params_entry(const cJSON *config, const char *map,
                                 const char *vname)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(config, "params");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(params, map);
    return cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, vname)
                             : NULL;
}

static const char *map_of(const qvs_spec *spec)
{
    return spec->v[0].lib.kind == QV_VECTOR_SPARSE ? "sparse_vectors"
                                                   : "vectors";
}

/* a[key] and b[key] agree (null counts as absent). */
static bool same_key(const cJSON *a, const cJSON *b, const char *key)
{
    const cJSON *x = a ? cJSON_GetObjectItemCaseSensitive(a, key) : NULL;
    const cJSON *y = b ? cJSON_GetObjectItemCaseSensitive(b, key) : NULL;
    if (cJSON_IsNull(x))
        x = NULL;
    if (cJSON_IsNull(y))
        y = NULL;
    return (!x && !y) || (x && y && cJSON_Compare(x, y, true));
}

/* Qdrant's dense_schema_matches / sparse_schema_matches: only what
 * defines the vector space, not the tunable index settings. */
static bool same_schema(const cJSON *old, const cJSON *echo, bool sparse)
{
    if (sparse)
        return same_key(old, echo, "modifier") &&
               same_key(cJSON_GetObjectItemCaseSensitive(old, "index"),
                        cJSON_GetObjectItemCaseSensitive(echo, "index"),
                        "datatype");
    return same_key(old, echo, "size") && same_key(old, echo, "distance") &&
           same_key(old, echo, "multivector_config") &&
           same_key(old, echo, "datatype");
}

int qvs_vector_name_clash(const cJSON *config, const char *vname,
                          const qvs_spec *spec, qvs_resp *r)
{
    bool sparse = spec->v[0].lib.kind == QV_VECTOR_SPARSE;
    const cJSON *echo = params_entry(spec->config, map_of(spec), vname);
    const cJSON *same = params_entry(config, map_of(spec), vname);
    const cJSON *other =
        params_entry(config, sparse ? "vectors" : "sparse_vectors", vname);
    if (same) {
        if (same_schema(same, echo, sparse))
            return 1;
        qvs_fail(r, 400,
                 "Wrong input: %s `%s` already exists with a different "
                 "configuration",
                 sparse ? "Sparse vector" : "Vector", vname);
        return -1;
    }
    if (other) {
        qvs_fail(r, 400, "Wrong input: Vector `%s` already exists as a %s",
                 vname, sparse ? "dense vector" : "sparse vector");
        return -1;
    }
    return 0;
}

/* Adds item under vname to map, keeping the map sorted by name (as Qdrant,
 * a sorted map, lists vectors): the entries after vname move behind it. */
static void insert_sorted(cJSON *map, const char *vname, cJSON *item)
{
    cJSON_AddItemToObject(map, vname, item);
    for (cJSON *e = map->child, *next; e && e != item; e = next) {
        next = e->next;
        if (strcmp(e->string, vname) > 0) {
            cJSON_DetachItemViaPointer(map, e);
            cJSON_AddItemToArray(map, e);
        }
    }
}

cJSON *qvs_vector_config_change(const cJSON *config, const char *vname,
                                const qvs_spec *spec)
{
    cJSON *next = cJSON_Duplicate(config, true);
    cJSON *params =
        next ? cJSON_GetObjectItemCaseSensitive(next, "params") : NULL;
    if (!params) {
        cJSON_Delete(next);
        return NULL;
    }
    if (!spec) {
        cJSON_DeleteItemFromObjectCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(params, "vectors"), vname);
        cJSON_DeleteItemFromObjectCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(params, "sparse_vectors"), vname);
        return next;
    }
    const char *key = map_of(spec);
    cJSON *map = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!cJSON_IsObject(map)) {
        cJSON_DeleteItemFromObjectCaseSensitive(params, key);
        map = cJSON_AddObjectToObject(params, key);
    }
    cJSON *item = cJSON_Duplicate(params_entry(spec->config, key, vname), true);
    if (!map || !item) {
        cJSON_Delete(item);
        cJSON_Delete(next);
        return NULL;
    }
    insert_sorted(map, vname, item);
    return next;
}

/* ---- handlers ------------------------------------------------------------ */

static void create_vector_name(const qvs_req *req, qvs_resp *r)
{
    const char *coll = req->params[0], *vname = vname_param(req);
    if (!qvs_timeout_ok(req, r) || !vname_ok(vname, r))
        return;
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll, &c)) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", coll);
        return;
    }
    cJSON *config = qvs_coll_config_dup(req->catalog, c);
    bool named = c->named;
    qvs_coll_release(req->catalog, c);
    qvs_spec spec;
    if (!config) {
        qvs_fail(r, 500, OOM);
    } else if (spec_from_body(req->body, vname, config, &spec, r)) {
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(config, "params"), "vectors");
        if (named && dv && spec.v[0].lib.kind != QV_VECTOR_SPARSE &&
            qvs_config_vparams(dv, "") == dv)
            qvs_fail(r, 400,
                     "Bad request: collection `%s` has one unnamed dense "
                     "vector (beside sparse vectors); adding dense vectors "
                     "by name is not supported by this server (Quiver)",
                     coll);
        else if (qvs_catalog_vector_change(req->catalog, coll, vname, &spec, r))
            r->result = qvs_update_result(req);
        qvs_spec_free(&spec);
    }
    cJSON_Delete(config);
}

static void delete_vector_name(const qvs_req *req, qvs_resp *r)
{
    const char *vname = vname_param(req);
    if (qvs_timeout_ok(req, r) && vname_ok(vname, r) &&
        qvs_catalog_vector_change(req->catalog, req->params[0], vname, NULL, r))
        r->result = qvs_update_result(req);
}

const qvs_route qvs_vector_name_routes[] = {
    {"PUT", "/collections/{name}/vectors/{vector_name}", create_vector_name,
     QVS_ROUTE_WRITE, "create_vector_name"},
    {"DELETE", "/collections/{name}/vectors/{vector_name}", delete_vector_name,
     QVS_ROUTE_WRITE, "delete_vector_name"},
};
const size_t qvs_vector_name_routes_n =
    sizeof(qvs_vector_name_routes) / sizeof(qvs_vector_name_routes[0]);
