/*
 * service.c -- Qdrant's service endpoints: the version root, the health
 * probes, /metrics, /telemetry and the cluster status of a single node.
 *
 * GET / is not enveloped: it answers Qdrant's VersionInfo with version
 * 1.19.0, which Qdrant's clients check for compatibility (same major,
 * minor within one), and the build's commit.  The probes answer plain text
 * as Qdrant does; every collection is in memory once the server listens,
 * so /readyz is always ready.  /telemetry is the minimal valid
 * TelemetryData: the app, the number of collections and the REST response
 * counts per endpoint and status from the metrics.
 */
#include "routes.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void send_text(qvs_resp *r, const char *text, const char *type)
{
    r->raw_body = strdup(text);
    if (!r->raw_body) {
        qvs_fail(r, 500, "Service internal error: out of memory");
        return;
    }
    r->raw_len = strlen(text);
    r->raw_type = type;
}

static void root(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "title", "qdrant - vector search engine");
    cJSON_AddStringToObject(v, "version", QVS_VERSION);
    cJSON_AddStringToObject(v, "commit", qvs_commit());
    char *text = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!text) {
        qvs_fail(r, 500, "Service internal error: out of memory");
        return;
    }
    r->raw_body = text;
    r->raw_len = strlen(text);
    r->raw_type = "application/json";
}

static void healthz(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    send_text(r, "healthz check passed", "text/plain; charset=utf-8");
}

static void readyz(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    send_text(r, "all shards are ready", "text/plain; charset=utf-8");
}

static void metrics(const qvs_req *req, qvs_resp *r)
{
    size_t len = 0;
    char *text = qvs_metrics_render(qvs_req_server(req), &len);
    if (!text) {
        qvs_fail(r, 500, "Service internal error: out of memory");
        return;
    }
    r->raw_body = text;
    r->raw_len = len;
    r->raw_type = "text/plain; version=0.0.4";
}

static cJSON *app_telemetry(qvs_server *srv)
{
    cJSON *app = cJSON_CreateObject();
    cJSON_AddStringToObject(app, "name", "qdrant");
    cJSON_AddStringToObject(app, "version", QVS_VERSION);
    cJSON *f = cJSON_AddObjectToObject(app, "features");
    static const char *const flags[] = {
        "debug",  "service_debug_feature", "recovery_mode", "gpu", "rocksdb",
        "staging"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        cJSON_AddFalseToObject(f, flags[i]);
    cJSON_AddStringToObject(app, "startup", qvs_server_started(srv));
    return app;
}

/* {"<METHOD> <pattern>": {"<status>": {"count": n}}} from the metrics. */
static cJSON *rest_telemetry(qvs_server *srv)
{
    const qvs_router *rt = qvs_server_router(srv);
    qvs_metrics *m = qvs_server_metrics(srv);
    cJSON *responses = cJSON_CreateObject();
    for (size_t i = 0; i < rt->n && i < m->n; i++) {
        cJSON *by_status = NULL;
        for (size_t s = 0; s < QVS_N_STATUS; s++) {
            uint64_t n = atomic_load(&m->stats[i].by_status[s]);
            int status = qvs_metrics_status_code(s);
            if (!n || !status)
                continue;
            if (!by_status) {
                char key[600], pattern[512];
                snprintf(key, sizeof(key), "%s %s",
                         rt->entries[i].route->method,
                         qvs_route_public_pattern(rt->entries[i].route, pattern,
                                                  sizeof(pattern)));
                by_status = cJSON_AddObjectToObject(responses, key);
            }
            char code[8];
            snprintf(code, sizeof(code), "%d", status);
            cJSON *st = cJSON_AddObjectToObject(by_status, code);
            cJSON_AddNumberToObject(st, "count", (double)n);
        }
    }
    return responses;
}

static void telemetry(const qvs_req *req, qvs_resp *r)
{
    qvs_server *srv = qvs_req_server(req);
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "id", qvs_server_id(srv));
    cJSON_AddItemToObject(t, "app", app_telemetry(srv));
    cJSON *colls = cJSON_AddObjectToObject(t, "collections");
    cJSON_AddNumberToObject(colls, "number_of_collections",
                            (double)qvs_catalog_count(req->catalog));
    cJSON *reqs = cJSON_AddObjectToObject(t, "requests");
    cJSON *rest = cJSON_AddObjectToObject(reqs, "rest");
    cJSON_AddItemToObject(rest, "responses", rest_telemetry(srv));
    cJSON *grpc = cJSON_AddObjectToObject(reqs, "grpc");
    cJSON_AddObjectToObject(grpc, "responses");
    r->result = t;
}

/* Qdrant's issues report (GET /issues: {"issues": [...]}).  Qdrant files
 * performance issues there (e.g. filtering on an unindexed key); this
 * server records none, so the list is empty and clearing it is a no-op. */
static void issues(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    r->result = cJSON_CreateObject();
    if (r->result)
        cJSON_AddArrayToObject(r->result, "issues");
}

static void clear_issues(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    r->result = cJSON_CreateTrue();
}

static void cluster(const qvs_req *req, qvs_resp *r)
{
    (void)req;
    r->result = cJSON_CreateObject();
    cJSON_AddStringToObject(r->result, "status", "disabled");
}

const qvs_route qvs_service_routes[] = {
    {"GET", "/", root, QVS_ROUTE_OPEN | QVS_ROUTE_INLINE, "root"},
    {"GET", "/healthz", healthz, QVS_ROUTE_OPEN | QVS_ROUTE_INLINE, "healthz"},
    {"GET", "/livez", healthz, QVS_ROUTE_OPEN | QVS_ROUTE_INLINE, "livez"},
    {"GET", "/readyz", readyz, QVS_ROUTE_OPEN | QVS_ROUTE_INLINE, "readyz"},
    {"GET", "/metrics", metrics, QVS_ROUTE_INLINE, "metrics"},
    {"GET", "/telemetry", telemetry, 0, "telemetry"},
    {"GET", "/cluster", cluster, 0, "cluster_status"},
    {"GET", "/issues", issues, 0, "get_issues"},
    {"DELETE", "/issues", clear_issues, QVS_ROUTE_WRITE, "clear_issues"},
};
const size_t qvs_service_routes_n =
    sizeof(qvs_service_routes) / sizeof(qvs_service_routes[0]);
