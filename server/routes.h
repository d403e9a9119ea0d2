/*
 * routes.h -- the route tables the router (router.c) serves, in order.
 *
 * Each endpoint file exports one table.  The router takes them all and
 * matches a request against every pattern, so the order of tables does not
 * matter: literal segments beat captures whatever the order.
 */
#ifndef QUIVER_SERVER_ROUTES_H
#define QUIVER_SERVER_ROUTES_H

#include "api.h"

#include <stddef.h>

/* GET /, /healthz, /livez, /readyz, /metrics, /telemetry, /cluster
 * (service.c) */
extern const qvs_route qvs_service_routes[];
extern const size_t qvs_service_routes_n;

/* /collections..., /aliases (collections.c) */
extern const qvs_route qvs_collection_routes[];
extern const size_t qvs_collection_routes_n;

/* /collections/{name}/snapshots... (snapshots.c) */
extern const qvs_route qvs_snapshot_routes[];
extern const size_t qvs_snapshot_routes_n;

/* /collections/{name}/points... (points_common.c) */
extern const qvs_route qvs_points_routes[];
extern const size_t qvs_points_routes_n;

/* POST /collections/{name}/facet (points_facet.c) */
extern const qvs_route qvs_facet_routes[];
extern const size_t qvs_facet_routes_n;

/* POST .../points/search/matrix/pairs|offsets (points_matrix.c) */
extern const qvs_route qvs_matrix_routes[];
extern const size_t qvs_matrix_routes_n;

/* /cluster/recover, /cluster/peer/{id}, /collections/{name}/cluster and
 * /shards: what a standalone node answers (cluster.c) */
extern const qvs_route qvs_cluster_routes[];
extern const size_t qvs_cluster_routes_n;

/* /collections/{name}/shards/{shard_id}/snapshot(s)... (snapshots_shard.c)
 */
extern const qvs_route qvs_shard_snapshot_routes[];
extern const size_t qvs_shard_snapshot_routes_n;

/* /snapshots... whole-storage snapshots (snapshots_full.c) */
extern const qvs_route qvs_full_snapshot_routes[];
extern const size_t qvs_full_snapshot_routes_n;

/* GET /dashboard, /dashboard/{file}: the web UI's files (dashboard.c) */
extern const qvs_route qvs_dashboard_routes[];
extern const size_t qvs_dashboard_routes_n;

/* PUT/DELETE /collections/{name}/vectors/{vector_name} (vector_names.c) */
extern const qvs_route qvs_vector_name_routes[];
extern const size_t qvs_vector_name_routes_n;

#endif /* QUIVER_SERVER_ROUTES_H */
