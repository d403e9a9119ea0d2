/*
 * cluster.c -- the distributed-mode endpoints a single node answers.
 *
 * Quiver is always what Qdrant calls a standalone node: distributed mode
 * is disabled, there is no consensus, one local shard holds every point.
 * Qdrant 1.19 still routes its cluster endpoints in that mode and answers
 * each from its source (src/actix/api/cluster_api.rs,
 * src/common/collections.rs, lib/storage/src/content_manager/toc):
 *
 *   POST   /cluster/recover                 500 "Service internal error:
 *          Qdrant is running in standalone mode" (TableOfContent::
 *          request_snapshot without a consensus sender)
 *   DELETE /cluster/peer/{peer_id}          400 "Bad request: Distributed
 *          mode disabled." -- after the check that the peer holds no
 *          shards (peer 0, this node, holds one per collection; ?force
 *          skips that check as in Qdrant)
 *   POST   /collections/{c}/cluster         400 "Bad request: Distributed
 *   PUT    /collections/{c}/shards              mode disabled" (no period:
 *   POST   /collections/{c}/shards/delete       do_update_collection_cluster
 *          checks the consensus state before it looks the collection up)
 *   GET    /collections/{c}/shards          {"shard_keys": null}: an auto-
 *          sharded collection has no shard keys (custom sharding is refused
 *          at create), 404 for an unknown collection
 *   GET    /cluster/telemetry               {"collections": {}, "cluster":
 *          {"enabled": false, "number_of_peers": null, "peers": {}}}:
 *          DistributedTelemetryData::resolve_telemetries (src/common/
 *          telemetry_ops/distributed_telemetry.rs) over the local node's
 *          telemetry alone, whose ClusterTelemetry has enabled false and
 *          no status when distributed mode is disabled (ClusterStatus::
 *          Disabled => None), so aggregate_collections finds no peer id
 *          and yields no collections, and the cluster part has no peer
 *          count and no peers.  ?timeout is checked as elsewhere;
 *          ?details_level changes nothing a standalone node reports.
 *
 * The shard snapshot endpoints (/collections/{c}/shards/{id}/snapshots...)
 * are in snapshots_shard.c.
 *
 * GET /cluster and GET /collections/{c}/cluster live in service.c and
 * collections.c.  Nothing here reads or changes a collection's data, so
 * no lock is taken beyond the catalog's reference counting.
 */
#include "routes.h"
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *param0(const qvs_req *req)
{
    return req->n_params > 0 ? req->params[0] : "";
}

static void recover_peer(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    qvs_fail(r, 500,
             "Service internal error: Qdrant is running in standalone mode");
}

/* The peer id is actix's Path<u64>: anything else does not match the
 * route (404).  This node is peer 0, as GET /collections/{c}/cluster
 * says; it holds a shard of every collection. */
static void remove_peer(const qvs_req *req, qvs_resp *r)
{
    const char *s = param0(req);
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *s == '+' || *end || errno == ERANGE) {
        qvs_fail(r, 404, "can not parse \"%s\" to a u64", s);
        return;
    }
    const char *force = req->query(req, "force");
    bool forced = force && strcmp(force, "true") == 0;
    if (!forced && id == 0 && qvs_catalog_count(req->catalog) > 0) {
        qvs_fail(r, 400,
                 "Bad request: Cannot remove peer %llu as there are shards "
                 "on it",
                 id);
        return;
    }
    qvs_fail(r, 400, "Bad request: Distributed mode disabled.");
}

/* update_collection_cluster, create_shard_key and delete_shard_key: the
 * body must be a JSON object (the router has already refused one that is
 * not JSON); the consensus check comes before anything else. */
static void cluster_update(const qvs_req *req, qvs_resp *r)
{
    if (!cJSON_IsObject(req->body)) {
        qvs_fail(r, 400,
                 "Format error in JSON body: expected a JSON object body");
        return;
    }
    if (!qvs_timeout_ok(req, r))
        return;
    qvs_fail(r, 400, "Bad request: Distributed mode disabled");
}

static void list_shard_keys(const qvs_req *req, qvs_resp *r)
{
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, param0(req), &c)) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                 param0(req));
        return;
    }
    qvs_coll_release(req->catalog, c);
    r->result = cJSON_CreateObject();
    if (!r->result || !cJSON_AddNullToObject(r->result, "shard_keys")) {
        cJSON_Delete(r->result);
        r->result = NULL;
        qvs_fail(r, 500, "Service internal error: out of memory");
    }
}

static void cluster_telemetry(const qvs_req *req, qvs_resp *r)
{
    if (!qvs_timeout_ok(req, r))
        return;
    cJSON *res = cJSON_CreateObject(), *cl = NULL;
    bool ok = res && cJSON_AddObjectToObject(res, "collections") &&
              (cl = cJSON_AddObjectToObject(res, "cluster")) &&
              cJSON_AddFalseToObject(cl, "enabled") &&
              cJSON_AddNullToObject(cl, "number_of_peers") &&
              cJSON_AddObjectToObject(cl, "peers");
    if (!ok) {
        cJSON_Delete(res);
        qvs_fail(r, 500, "Service internal error: out of memory");
        return;
    }
    r->result = res;
}

#define W QVS_ROUTE_WRITE
const qvs_route qvs_cluster_routes[] = {
    {"POST", "/cluster/recover", recover_peer, W, "recover_current_peer"},
    {"DELETE", "/cluster/peer/{peer_id}", remove_peer, W, "remove_peer"},
    {"POST", "/collections/{name}/cluster", cluster_update, W,
     "update_collection_cluster"},
    {"PUT", "/collections/{name}/shards", cluster_update, W,
     "create_shard_key"},
    {"POST", "/collections/{name}/shards/delete", cluster_update, W,
     "delete_shard_key"},
    {"GET", "/collections/{name}/shards", list_shard_keys, 0,
     "list_shard_keys"},
    {"GET", "/cluster/telemetry", cluster_telemetry, 0, "cluster_telemetry"},
};
const size_t qvs_cluster_routes_n =
    sizeof(qvs_cluster_routes) / sizeof(qvs_cluster_routes[0]);
