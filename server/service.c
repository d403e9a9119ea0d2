/*
 * service.c -- Qdrant's service endpoints: the version root, the health
 * probes, /metrics, /telemetry and the cluster status of a single node.
 *
 * GET / is not enveloped: it answers Qdrant's VersionInfo with version
 * 1.19.0, which Qdrant's clients check for compatibility (same major,
 * minor within one), and the build's commit.  The probes answer plain text
 * as Qdrant does; every collection is in memory once the server listens,
 * so /readyz is always ready.
 *
 * /telemetry answers Qdrant's TelemetryData at its `details_level`
 * (tests/openapi/test_service.py checks the keys of each level): level 0
 * the app, the number of collections, the cluster (disabled) and the REST
 * responses per route and status (count, average and total duration, last
 * answer), keyed by the route's pattern as Qdrant's actix routes spell it
 * ("PUT /collections/{name}/points"); level 1 adds memory, hardware and
 * per collection its vectors, optimizer status and params; level 2 the
 * collection's id and config instead; level 3 its one local shard; level 4
 * and above that shard's one segment.  The figures are this server's (one
 * shard, one segment per collection), in Qdrant's shapes.
 */
#include "routes.h"
#include "server.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Unix milliseconds as RFC 3339 UTC, as Qdrant's chrono prints them. */
static void iso_ms(uint64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[40];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03uZ", day, (unsigned)(ms % 1000u));
}

/* OperationDurationStatistics of status slot s of a route. */
static cJSON *duration_stats(qvs_route_stats *st, size_t s, uint64_t n)
{
    cJSON *o = cJSON_CreateObject();
    double total_us = (double)atomic_load(&st->sum_ns_by_status[s]) / 1000.0;
    cJSON_AddNumberToObject(o, "count", (double)n);
    cJSON_AddNumberToObject(o, "avg_duration_micros", total_us / (double)n);
    cJSON_AddNumberToObject(o, "total_duration_micros", floor(total_us));
    uint64_t last = atomic_load(&st->last_ms);
    if (last) {
        char when[64];
        iso_ms(last, when, sizeof(when));
        cJSON_AddStringToObject(o, "last_responded", when);
    }
    return o;
}

/* {"<METHOD> <pattern>": {"<status>": stats}} from the metrics, the
 * pattern as the route table spells it, which is Qdrant's actix pattern
 * ({name} for the collection). */
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
                char key[600];
                snprintf(key, sizeof(key), "%s %s",
                         rt->entries[i].route->method,
                         rt->entries[i].route->pattern);
                by_status = cJSON_AddObjectToObject(responses, key);
            }
            char code[8];
            snprintf(code, sizeof(code), "%d", status);
            cJSON_AddItemToObject(by_status, code,
                                  duration_stats(&m->stats[i], s, n));
        }
    }
    return responses;
}

/* MemoryTelemetry from the allocator and the kernel: what glibc has handed
 * out, and the resident set. */
static cJSON *memory_telemetry(void)
{
    struct mallinfo2 mi = mallinfo2();
    unsigned long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "active_bytes", (double)mi.uordblks);
    cJSON_AddNumberToObject(o, "allocated_bytes", (double)mi.uordblks);
    cJSON_AddNumberToObject(o, "metadata_bytes", 0);
    cJSON_AddNumberToObject(o, "resident_bytes", (double)resident * page);
    cJSON_AddNumberToObject(o, "retained_bytes", (double)mi.fordblks);
    return o;
}

typedef struct coll_walk {
    qvs_catalog *cat;
    unsigned level;
    cJSON *list;
} coll_walk;

/* Points with each vector, and their bytes, summed over the vectors. */
static void vector_totals(const qvs_coll *c, uint64_t *n, uint64_t *bytes)
{
    *n = *bytes = 0;
    for (size_t i = 0; i < c->n_vectors; i++) {
        uint64_t k = 0;
        if (qv_count(c->vectors[i].coll, &k) != QV_OK)
            continue;
        *n += k;
        *bytes += k * (uint64_t)c->vectors[i].size * sizeof(float);
    }
}

static cJSON *zero_stats(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", 0);
    return o;
}

/* The one segment of a collection's shard (level >= 4): SegmentTelemetry
 * with the required fields of SegmentInfo and SegmentConfig. */
static cJSON *segment_telemetry(const qvs_coll *c, uint64_t points,
                                uint64_t vectors, uint64_t vbytes,
                                uint64_t pbytes)
{
    cJSON *seg = cJSON_CreateObject();
    cJSON *info = cJSON_AddObjectToObject(seg, "info");
    /* A stable id from the name (FNV-1a), in UUID form. */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = c->name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    char uuid[40];
    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012llx",
             (unsigned long long)(h & 0xffffffffffffull));
    cJSON_AddStringToObject(info, "uuid", uuid);
    cJSON_AddStringToObject(info, "segment_type", "plain");
    cJSON_AddNumberToObject(info, "num_vectors", (double)vectors);
    cJSON_AddNumberToObject(info, "num_points", (double)points);
    cJSON_AddNumberToObject(info, "num_indexed_vectors",
                            (double)qvs_coll_indexed_vectors(c));
    cJSON_AddNumberToObject(info, "num_deleted_vectors", 0);
    cJSON_AddNumberToObject(info, "vectors_size_bytes", (double)vbytes);
    cJSON_AddNumberToObject(info, "payloads_size_bytes", (double)pbytes);
    cJSON_AddNumberToObject(info, "ram_usage_bytes", (double)(vbytes + pbytes));
    cJSON_AddNumberToObject(info, "disk_usage_bytes", 0);
    cJSON_AddTrueToObject(info, "is_appendable");
    cJSON_AddObjectToObject(info, "index_schema");
    cJSON_AddObjectToObject(info, "vector_data");
    cJSON *cfg = cJSON_AddObjectToObject(seg, "config");
    cJSON *pst = cJSON_AddObjectToObject(cfg, "payload_storage_type");
    cJSON_AddStringToObject(pst, "type", "in_ram_mmap");
    cJSON_AddArrayToObject(seg, "vector_index_searches");
    cJSON_AddArrayToObject(seg, "payload_field_indices");
    return seg;
}

/* The one local shard (level >= 3): ReplicaSetTelemetry. */
static cJSON *shard_telemetry(const qvs_coll *c, unsigned level)
{
    uint64_t points = qvs_coll_points(c), vectors, vbytes, pbytes = 0;
    vector_totals(c, &vectors, &vbytes);
    if (qv_payload_bytes(c->points, &pbytes) != QV_OK)
        pbytes = 0;
    cJSON *shard = cJSON_CreateObject();
    cJSON_AddNumberToObject(shard, "id", 0);
    cJSON_AddNullToObject(shard, "key");
    cJSON *local = cJSON_AddObjectToObject(shard, "local");
    cJSON_AddStringToObject(local, "variant_name", "local");
    cJSON_AddStringToObject(local, "status", "green");
    cJSON_AddNumberToObject(local, "total_optimized_points", 0);
    cJSON_AddNumberToObject(local, "vectors_size_bytes", (double)vbytes);
    cJSON_AddNumberToObject(local, "payloads_size_bytes", (double)pbytes);
    cJSON_AddNumberToObject(local, "num_points", (double)points);
    cJSON_AddNumberToObject(local, "num_vectors", (double)vectors);
    if (level >= 4) {
        cJSON *segs = cJSON_AddArrayToObject(local, "segments");
        cJSON_AddItemToArray(
            segs, segment_telemetry(c, points, vectors, vbytes, pbytes));
    }
    cJSON *opt = cJSON_AddObjectToObject(local, "optimizations");
    cJSON_AddStringToObject(opt, "status", "ok");
    cJSON_AddItemToObject(opt, "optimizations", zero_stats());
    cJSON_AddFalseToObject(local, "async_scorer");
    cJSON_AddArrayToObject(shard, "remote");
    cJSON *states = cJSON_AddObjectToObject(shard, "replicate_states");
    cJSON_AddStringToObject(states, "0", "Active");
    cJSON *ps = cJSON_AddObjectToObject(shard, "partial_snapshot");
    cJSON_AddNumberToObject(ps, "ongoing_create_snapshot_requests", 0);
    cJSON_AddFalseToObject(ps, "is_recovering");
    cJSON_AddNumberToObject(ps, "recovery_timestamp", 0);
    return shard;
}

/* One collection at the level: CollectionsAggregatedTelemetry at 1,
 * CollectionTelemetry above. */
static void coll_telemetry(void *arg, qvs_coll *c)
{
    coll_walk *w = arg;
    cJSON *config = qvs_coll_config_dup(w->cat, c);
    if (!config)
        return;
    cJSON *o = cJSON_CreateObject();
    if (w->level == 1) {
        uint64_t vectors, vbytes;
        vector_totals(c, &vectors, &vbytes);
        cJSON_AddNumberToObject(o, "vectors", (double)vectors);
        cJSON_AddStringToObject(o, "optimizers_status", "ok");
        cJSON_AddItemToObject(
            o, "params",
            cJSON_DetachItemFromObjectCaseSensitive(config, "params"));
    } else {
        cJSON_AddStringToObject(o, "id", c->name);
        cJSON_AddNumberToObject(o, "init_time_ms", 0);
        cJSON_AddItemToObject(o, "config", config);
        config = NULL;
        if (w->level >= 3) {
            cJSON *shards = cJSON_AddArrayToObject(o, "shards");
            cJSON_AddItemToArray(shards, shard_telemetry(c, w->level));
            cJSON_AddArrayToObject(o, "transfers");
            cJSON_AddArrayToObject(o, "resharding");
        }
    }
    cJSON_Delete(config);
    cJSON_AddItemToArray(w->list, o);
}

static void telemetry(const qvs_req *req, qvs_resp *r)
{
    qvs_server *srv = qvs_req_server(req);
    const char *dl = req->query ? req->query(req, "details_level") : NULL;
    unsigned long level = 0;
    if (dl) {
        char *end = NULL;
        level = strtoul(dl, &end, 10);
        if (!*dl || *end || dl[0] == '-') {
            qvs_fail(r, 400,
                     "Query deserialize error: details_level: invalid "
                     "digit found in string");
            return;
        }
    }
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "id", qvs_server_id(srv));
    cJSON_AddItemToObject(t, "app", app_telemetry(srv));
    cJSON *colls = cJSON_AddObjectToObject(t, "collections");
    cJSON_AddNumberToObject(colls, "number_of_collections",
                            (double)qvs_catalog_count(req->catalog));
    if (level >= 1) {
        coll_walk w = {req->catalog, level > 100 ? 100 : (unsigned)level,
                       cJSON_AddArrayToObject(colls, "collections")};
        qvs_catalog_each(req->catalog, coll_telemetry, &w);
    }
    cJSON *cluster = cJSON_AddObjectToObject(t, "cluster");
    cJSON_AddFalseToObject(cluster, "enabled");
    cJSON *reqs = cJSON_AddObjectToObject(t, "requests");
    cJSON *rest = cJSON_AddObjectToObject(reqs, "rest");
    cJSON_AddItemToObject(rest, "responses", rest_telemetry(srv));
    cJSON *grpc = cJSON_AddObjectToObject(reqs, "grpc");
    cJSON_AddObjectToObject(grpc, "responses");
    if (level >= 1) {
        cJSON_AddItemToObject(t, "memory", memory_telemetry());
        cJSON *hw = cJSON_AddObjectToObject(t, "hardware");
        cJSON_AddObjectToObject(hw, "collection_data");
    }
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
