/*
 * test_server.c -- the HTTP server over loopback: the real server (the
 * same qvs_server `quiver serve` runs), started in-process on a free port
 * (port 0, then the bound port is read back), driven with libcurl.  The
 * SIGTERM and restart cases run the quiver-server program as a child.
 *
 *  1. service: GET / (VersionInfo, not enveloped), probes, /cluster,
 *     /telemetry, /metrics content;
 *  2. collections: create (unnamed, named, HNSW settings), get
 *     (CollectionInfo), list, exists, delete (true, then false), 409, 404;
 *  3. bad input: malformed and empty JSON, wrong types, out-of-range
 *     sizes, unknown distances, bad names, refused settings;
 *  4. PATCH, aliases (create, rename, delete, atomic batches, the 409/400
 *     rules, use in place of a name), payload indexes;
 *  5. HTTP: unknown paths (404, empty), wrong methods (405), trailing and
 *     double slashes, percent-encoding, HEAD, CORS, keep-alive, body limit
 *     (413 by Content-Length and by a growing chunked body), header limit;
 *  6. auth: missing, wrong, Bearer, read-only key on reads and writes,
 *     open routes, encoded paths that must not skip authorisation;
 *  7. configuration: flags over Qdrant's environment variables, defaults,
 *     the connection deadlines and limits;
 *     a damaged catalog.json refuses to start;
 *  8. the program: SIGTERM exits 0, a restart on the same storage brings
 *     collections, configs, payload schemas and aliases back;
 *  9. concurrent clients creating, reading and deleting collections;
 * 10. snapshots: create, list, download, upload (raw and multipart),
 *     recover, delete; clean 4xx errors (names too long for a file,
 *     unknown index types), file:// locations that reveal nothing outside
 *     the storage, messages without the storage path; leftovers of a
 *     killed server (planted, and a real kill -9 mid-upload) removed at
 *     restart;
 * 11. strict mode: every strict_mode_config setting passed under its limit
 *     and refused over it, PATCH on and off, the rate limits (the bucket
 *     on an injected clock);
 * 12. an unnamed dense vector beside sparse vectors (and {"": params}):
 *     create and echo, every upsert form, retrieve shapes, dense, sparse
 *     and RRF hybrid queries, vector and point edits, PATCH, restart,
 *     snapshot recovery, Qdrant's errors.
 *
 * With QUIVER_RESPONSE_LOG set, every response is appended to that file
 * as one JSON line {"method","path","status","body","content_type"} for
 * the OpenAPI schema validator (tests/schema).
 */
#define QVI_HNSW_INTERNAL /* test_on_disk_vectors: the graph links arena */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/payload/payload.h"
#include "server/server.h"
#include "server/strict.h"

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <xxhash.h>

/* ---- the server under test -------------------------------------------- */

static qvs_server *srv;
static char storage[256];
static char base[64];
static CURL *curl; /* one handle per test, so connections are reused */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_storage(void)
{
    snprintf(storage, sizeof(storage), "/tmp/quiver-test-server.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(storage));
}

static void start_with(const qvs_config *cfg)
{
    char err[512] = "";
    ck_assert_msg(qvs_server_start(cfg, &srv, err, sizeof(err)), "start: %s",
                  err);
    ck_assert_uint_gt(qvs_server_port(srv), 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", qvs_server_port(srv));
    curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
}

static void test_config(qvs_config *cfg)
{
    qvs_config_init(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    cfg->storage = storage;
    cfg->threads = 2;
}

static void setup(void)
{
    make_storage();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
}

static void stop_server(void)
{
    curl_easy_cleanup(curl);
    curl = NULL;
    qvs_server_stop(srv);
    srv = NULL;
}

static void teardown(void)
{
    stop_server();
    rm_rf(storage);
}

/* A server that accepts 1 KiB bodies. */
static void setup_small(void)
{
    make_storage();
    qvs_config cfg;
    test_config(&cfg);
    cfg.max_request_bytes = 1024;
    start_with(&cfg);
}

/* A server with a read-write and a read-only key. */
static void setup_auth(void)
{
    make_storage();
    qvs_config cfg;
    test_config(&cfg);
    cfg.api_key = "secret-rw";
    cfg.read_only_api_key = "secret-ro";
    start_with(&cfg);
}

/* ---- the client -------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len;
} buf;

typedef struct reply {
    long status;
    buf body, headers;
    char *content_type;
    cJSON *json;
    long connects; /* new connections this request opened */
} reply;

static reply R; /* the last reply; each call replaces it */

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    size_t add = size * n;
    char *q = realloc(b->p, b->len + add + 1);
    ck_assert_ptr_nonnull(q);
    memcpy(q + b->len, p, add);
    b->p = q;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static void reply_clear(void)
{
    free(R.body.p);
    free(R.headers.p);
    free(R.content_type);
    cJSON_Delete(R.json);
    memset(&R, 0, sizeof(R));
}

/* Paths spelled to probe the router ("//", dot segments, encoded dots,
 * a trailing slash) are not API paths the schema validator can place. */
static bool canonical(const char *path)
{
    size_t plen = strcspn(path, "?");
    char p[4096];
    snprintf(p, sizeof(p), "%.*s", (int)plen, path);
    return !strstr(p, "//") && !strstr(p, "/.") && !strcasestr(p, "%2e") &&
           (plen <= 1 || p[plen - 1] != '/');
}

/* Set around the few calls whose reply is Qdrant's but not its schema's
 * (a null score: test_huge_dot_vectors); they are not logged. */
static bool skip_log;

/* Appends the reply to $QUIVER_RESPONSE_LOG, one JSON line. */
static void log_reply(const char *method, const char *path)
{
    const char *file = getenv("QUIVER_RESPONSE_LOG");
    if (skip_log)
        return;
    /* The validator does not check plain-text 401/403 answers either. */
    bool plain_auth = (R.status == 401 || R.status == 403) && !R.json;
    if (!file || !*file || !canonical(path) || plain_auth)
        return;
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "method", method);
    cJSON_AddStringToObject(line, "path", path);
    cJSON_AddNumberToObject(line, "status", (double)R.status);
    /* The reply's own text, not cJSON's reprint of it, which would round
     * integers above 2^53 into floats the schema refuses. */
    cJSON_AddItemToObject(line, "body",
                          R.json
                              ? cJSON_CreateRaw(R.body.p)
                              : cJSON_CreateString(R.body.p ? R.body.p : ""));
    if (R.content_type)
        cJSON_AddStringToObject(line, "content_type", R.content_type);
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && text) {
        size_t len = strlen(text);
        text[len] = '\n'; /* one write per line: appends do not interleave */
        ck_assert_int_eq(write(fd, text, len + 1), (ssize_t)(len + 1));
    }
    if (fd >= 0)
        close(fd);
    free(text);
}

/* One request on the test's handle; headers is NULL-terminated or NULL.
 * A body of NULL sends none. */
static reply *call_h(const char *method, const char *path, const char *body,
                     const char *const *headers)
{
    reply_clear();
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        hl = curl_slist_append(hl, "Content-Type: application/json");
    }
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &R.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &R.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(hl);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path,
                  curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &R.status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &R.connects);
    char *ct = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    R.content_type = ct ? strdup(ct) : NULL;
    if (R.content_type && strstr(R.content_type, "application/json"))
        R.json = cJSON_ParseWithLength(R.body.p, R.body.len);
    log_reply(method, path);
    return &R;
}

static reply *call(const char *method, const char *path, const char *body)
{
    return call_h(method, path, body, NULL);
}

/* The value of response header name (case-insensitive), or NULL. */
static const char *resp_header(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = R.headers.p; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end - v), v);
            return out;
        }
        line = end + 2;
    }
    return NULL;
}

static const cJSON *result(void)
{
    ck_assert_msg(R.json, "no JSON body (status %ld): %s", R.status,
                  R.body.p ? R.body.p : "");
    const cJSON *s = cJSON_GetObjectItem(R.json, "status");
    ck_assert_msg(cJSON_IsString(s) && strcmp(s->valuestring, "ok") == 0,
                  "not ok: %s", R.body.p);
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(R.json, "time")));
    const cJSON *res = cJSON_GetObjectItem(R.json, "result");
    ck_assert_ptr_nonnull(res);
    return res;
}

static const cJSON *expect_ok(reply *r)
{
    ck_assert_msg(r->status == 200, "status %ld: %s", r->status,
                  r->body.p ? r->body.p : "");
    return result();
}

/* Checks an error envelope with status and returns its message. */
static const char *expect_error(reply *r, long status)
{
    ck_assert_msg(r->status == status, "status %ld, expected %ld: %s",
                  r->status, status, r->body.p ? r->body.p : "");
    ck_assert_msg(r->json, "no JSON error body: %s", r->body.p);
    const cJSON *st = cJSON_GetObjectItem(r->json, "status");
    const cJSON *e = cJSON_GetObjectItem(st, "error");
    ck_assert_msg(cJSON_IsString(e), "no status.error: %s", r->body.p);
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(r->json, "time")));
    ck_assert_ptr_null(cJSON_GetObjectItem(r->json, "result"));
    return e->valuestring;
}

static void expect_error_msg(reply *r, long status, const char *msg)
{
    const char *e = expect_error(r, status);
    ck_assert_msg(strcmp(e, msg) == 0, "error '%s', expected '%s'", e, msg);
}

static void expect_error_prefix(reply *r, long status, const char *prefix)
{
    const char *e = expect_error(r, status);
    ck_assert_msg(strncmp(e, prefix, strlen(prefix)) == 0,
                  "error '%s', expected it to start with '%s'", e, prefix);
}

static double num(const cJSON *obj, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", path);
    const cJSON *j = obj;
    char *save;
    for (char *k = strtok_r(copy, ".", &save); k;
         k = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsNumber(j), "%s is not a number", path);
    return j->valuedouble;
}

static const char *str(const cJSON *obj, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", path);
    const cJSON *j = obj;
    char *save;
    for (char *k = strtok_r(copy, ".", &save); k;
         k = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsString(j), "%s is not a string", path);
    return j->valuestring;
}

static void create(const char *name, const char *body)
{
    char path[512];
    snprintf(path, sizeof(path), "/collections/%s", name);
    ck_assert(cJSON_IsTrue(expect_ok(call("PUT", path, body))));
}

static const char *const SMALL = "{\"vectors\":{\"size\":4,\"distance\":"
                                 "\"Cosine\"}}";

/* ---- 1. service ---------------------------------------------------------- */

START_TEST(test_root)
{
    call("GET", "/", NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_ptr_nonnull(R.json);
    ck_assert_int_eq(cJSON_GetArraySize(R.json), 3); /* not enveloped */
    ck_assert_str_eq(str(R.json, "title"), "qdrant - vector search engine");
    ck_assert_str_eq(str(R.json, "version"), "1.19.0");
    const char *commit = str(R.json, "commit");
    ck_assert_uint_eq(strlen(commit), 40);
    ck_assert_uint_eq(strspn(commit, "0123456789abcdef"), 40);
}
END_TEST

START_TEST(test_probes)
{
    static const char *const paths[] = {"/healthz", "/livez", "/readyz"};
    static const char *const texts[] = {
        "healthz check passed", "healthz check passed", "all shards are ready"};
    for (size_t i = 0; i < 3; i++) {
        call("GET", paths[i], NULL);
        ck_assert_int_eq(R.status, 200);
        ck_assert_str_eq(R.body.p, texts[i]);
        ck_assert_ptr_nonnull(strstr(R.content_type, "text/plain"));
    }
    const cJSON *c = expect_ok(call("GET", "/cluster", NULL));
    ck_assert_str_eq(str(c, "status"), "disabled");
    create("tele", SMALL);
    const cJSON *t = expect_ok(call("GET", "/telemetry", NULL));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(t, "id")));
    ck_assert_str_eq(str(t, "app.name"), "qdrant");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "app"), "features"),
        "gpu")));
    ck_assert_int_eq((int)num(t, "collections.number_of_collections"), 1);
    const cJSON *rest = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "requests"), "rest"),
        "responses");
    /* Keyed by Qdrant's actix route pattern ({name}), each status with
     * its count, average and total duration and last answer (Qdrant's
     * tests/openapi/test_service.py). */
    const cJSON *put = cJSON_GetObjectItem(
        cJSON_GetObjectItem(rest, "PUT /collections/{name}"), "200");
    ck_assert_ptr_nonnull(put);
    ck_assert_int_eq((int)num(put, "count"), 1);
    ck_assert(num(put, "avg_duration_micros") > 0);
    ck_assert_int_eq((int)strlen(str(put, "last_responded")), 24);
    /* details_level: the keys of each level, as Qdrant's. */
    static const char *const l0[] = {"id",      "app",      "collections",
                                     "cluster", "requests", NULL};
    static const char *const l1[] = {"id",       "app",      "collections",
                                     "cluster",  "requests", "memory",
                                     "hardware", NULL};
    static const char *const c1[] = {"vectors", "optimizers_status", "params",
                                     NULL};
    static const char *const c2[] = {"id", "init_time_ms", "config", NULL};
    static const char *const c3[] = {"id",     "init_time_ms", "config",
                                     "shards", "transfers",    "resharding",
                                     NULL};
    static const char *const *const colls[] = {NULL, c1, c2, c3, c3};
    static const int levels[] = {0, 1, 2, 3, 10};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/telemetry?details_level=%d", levels[i]);
        t = expect_ok(call("GET", path, NULL));
        const char *const *want = levels[i] ? l1 : l0;
        size_t n = 0;
        for (; want[n]; n++)
            ck_assert_ptr_nonnull(cJSON_GetObjectItem(t, want[n]));
        ck_assert_int_eq(cJSON_GetArraySize(t), (int)n);
        const cJSON *list = cJSON_GetObjectItem(
            cJSON_GetObjectItem(t, "collections"), "collections");
        if (!levels[i]) {
            ck_assert_ptr_null(list);
            continue;
        }
        const cJSON *one = cJSON_GetArrayItem(list, 0);
        for (n = 0; colls[i][n]; n++)
            ck_assert_ptr_nonnull(cJSON_GetObjectItem(one, colls[i][n]));
        ck_assert_int_eq(cJSON_GetArraySize(one), (int)n);
        const cJSON *local = cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(one, "shards"), 0), "local");
        ck_assert(levels[i] < 3 || local);
        ck_assert((levels[i] >= 4) ==
                  (cJSON_GetObjectItem(local, "segments") != NULL));
    }
    expect_error(call("GET", "/telemetry?details_level=x", NULL), 400);
    /* HEAD answers like GET, without a body. */
    call("HEAD", "/healthz", NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_uint_eq(R.body.len, 0);
}
END_TEST

START_TEST(test_metrics)
{
    create("c", SMALL);
    call("GET", "/collections/missing", NULL);
    call("GET", "/metrics", NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_ptr_nonnull(strstr(R.content_type, "text/plain"));
    static const char *const want[] = {
        "# HELP app_info information about qdrant server\n",
        "# TYPE app_info gauge\n",
        "app_info{name=\"qdrant\",version=\"1.19.0\"} 1\n",
        "collections_total 1\n",
        "collection_points{id=\"c\"} 0\n",
        "# TYPE rest_responses_total counter\n",
        "rest_responses_total{method=\"PUT\",endpoint=\"/collections/"
        "{collection_name}\","
        "operation=\"create_collection\",status=\"200\"} 1\n",
        "rest_responses_total{method=\"GET\",endpoint=\"/collections/"
        "{collection_name}\","
        "operation=\"get_collection\",status=\"404\"} 1\n",
        "# TYPE rest_responses_duration_seconds histogram\n",
        "rest_responses_duration_seconds_bucket{method=\"PUT\",endpoint=\"/"
        "collections/"
        "{collection_name}\",operation=\"create_collection\",le=\"+Inf\"} 1\n",
        "rest_responses_duration_seconds_count{method=\"PUT\",endpoint=\"/"
        "collections/{collection_name}\",operation=\"create_collection\"} 1\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(R.body.p, want[i]), "metrics lack: %s\n%s",
                      want[i], R.body.p);
}
END_TEST

/* ---- 2. collections --------------------------------------------------------
 */

START_TEST(test_collection_lifecycle)
{
    const cJSON *l = expect_ok(call("GET", "/collections", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l, "collections")),
                     0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/docs/exists", NULL)), "exists")));
    create("docs", "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                   "\"hnsw_config\":{\"m\":8,\"ef_construct\":50},"
                   "\"optimizers_config\":{\"indexing_threshold\":0},"
                   "\"on_disk_payload\":false,\"metadata\":{\"team\":\"a\"}}");
    create("alpha", SMALL);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/docs/exists", NULL)), "exists")));

    l = cJSON_GetObjectItem(expect_ok(call("GET", "/collections", NULL)),
                            "collections");
    ck_assert_int_eq(cJSON_GetArraySize(l), 2);
    ck_assert_str_eq(str(cJSON_GetArrayItem(l, 0), "name"), "alpha");
    ck_assert_str_eq(str(cJSON_GetArrayItem(l, 1), "name"), "docs");

    const cJSON *info = expect_ok(call("GET", "/collections/docs", NULL));
    ck_assert_str_eq(str(info, "status"), "green");
    ck_assert_str_eq(str(info, "optimizer_status"), "ok");
    ck_assert_int_eq((int)num(info, "points_count"), 0);
    ck_assert_int_eq((int)num(info, "indexed_vectors_count"), 0);
    ck_assert_int_ge((int)num(info, "segments_count"), 1);
    ck_assert_int_eq((int)num(info, "config.params.vectors.size"), 4);
    ck_assert_str_eq(str(info, "config.params.vectors.distance"), "Dot");
    ck_assert_int_eq((int)num(info, "config.params.shard_number"), 1);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
        "on_disk_payload")));
    ck_assert_int_eq((int)num(info, "config.hnsw_config.m"), 8);
    ck_assert_int_eq((int)num(info, "config.hnsw_config.ef_construct"), 50);
    ck_assert_int_eq((int)num(info, "config.hnsw_config.full_scan_threshold"),
                     10000);
    ck_assert_int_eq(
        (int)num(info, "config.optimizer_config.indexing_threshold"), 0);
    ck_assert_int_eq(
        (int)num(info, "config.optimizer_config.default_segment_number"), 0);
    ck_assert_int_eq(
        (int)num(info, "config.optimizer_config.flush_interval_sec"), 5);
    ck_assert_int_eq((int)num(info, "config.wal_config.wal_capacity_mb"), 32);
    ck_assert_str_eq(str(info, "config.metadata.team"), "a");
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(info, "payload_schema")));

    /* The library got the HNSW settings. */
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "docs", &c));
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c->vectors[0].coll, &cfg), QV_OK);
    ck_assert_uint_eq(cfg.hnsw_m, 8);
    ck_assert_uint_eq(cfg.hnsw_ef_construct, 50);
    ck_assert_uint_eq(cfg.dim, 4);
    ck_assert_int_eq(cfg.metric, QV_METRIC_DOT);
    /* The named layout, the unnamed vector being vector "" beside the
     * registry, so that a point may have no vector (catalog.h). */
    ck_assert(c->named);
    ck_assert_str_eq(c->vectors[0].name, "");
    ck_assert_ptr_ne(c->points, c->vectors[0].coll);
    qvs_coll_release(qvs_server_catalog(srv), c);

    expect_error_msg(call("PUT", "/collections/docs", SMALL), 409,
                     "Wrong input: Collection `docs` already exists!");
    ck_assert(
        cJSON_IsTrue(expect_ok(call("DELETE", "/collections/docs", NULL))));
    ck_assert(
        cJSON_IsFalse(expect_ok(call("DELETE", "/collections/docs", NULL))));
    expect_error_msg(call("GET", "/collections/docs", NULL), 404,
                     "Not found: Collection `docs` doesn't exist!");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/docs/exists", NULL)), "exists")));
    /* The name is free again. */
    create("docs", SMALL);
}
END_TEST

START_TEST(test_named_vectors)
{
    create("multi",
           "{\"vectors\":{\"txt\":{\"size\":2,\"distance\":\"Euclid\"},"
           "\"img\":{\"size\":4,\"distance\":\"Dot\",\"hnsw_config\":"
           "{\"m\":0},\"on_disk\":true},"
           "\"loc\":{\"size\":2,\"distance\":\"Manhattan\"}},"
           "\"sparse_vectors\":{\"kw\":{}}}");
    const cJSON *info = expect_ok(call("GET", "/collections/multi", NULL));
    const cJSON *v = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
        "vectors");
    ck_assert_int_eq(cJSON_GetArraySize(v), 3);
    ck_assert_str_eq(cJSON_GetArrayItem(v, 0)->string, "img"); /* sorted */
    ck_assert_int_eq((int)num(v, "img.size"), 4);
    ck_assert_str_eq(str(v, "img.distance"), "Dot");
    ck_assert_int_eq((int)num(v, "img.hnsw_config.m"), 0);
    ck_assert(cJSON_IsTrue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(v, "img"), "on_disk")));
    ck_assert_str_eq(str(v, "loc.distance"), "Manhattan");
    ck_assert_str_eq(str(v, "txt.distance"), "Euclid");
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
            "sparse_vectors"),
        "kw"));

    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "multi", &c));
    ck_assert(c->named);
    /* The sparse vector "kw" is a vector of its own (server/sparse.h). */
    ck_assert_uint_eq(c->n_vectors, 4);
    ck_assert_str_eq(c->vectors[0].name, "img");
    ck_assert_str_eq(c->vectors[1].name, "kw");
    ck_assert(c->vectors[1].sparse && !c->vectors[0].sparse);
    ck_assert_str_eq(c->vectors[2].name, "loc");
    ck_assert_str_eq(c->vectors[3].name, "txt");
    ck_assert_ptr_nonnull(qvs_coll_vector(c, "txt"));
    ck_assert_ptr_null(qvs_coll_vector(c, ""));
    ck_assert_ptr_ne(c->points, c->vectors[0].coll);
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c->vectors[0].coll, &cfg), QV_OK);
    ck_assert_uint_eq(cfg.full_scan_threshold_kb, UINT32_MAX); /* m = 0 */
    ck_assert_int_eq(qv_collection_get_config(c->vectors[1].coll, &cfg), QV_OK);
    ck_assert_uint_eq(cfg.kind, QV_VECTOR_SPARSE);
    ck_assert_int_eq(qv_collection_get_config(c->vectors[3].coll, &cfg), QV_OK);
    ck_assert_uint_eq(cfg.dim, 2);
    ck_assert_int_eq(cfg.metric, QV_METRIC_EUCLID);
    ck_assert_int_eq(qv_collection_get_config(c->points, &cfg), QV_OK);
    ck_assert_uint_eq(cfg.dim, 1); /* the registry */
    /* A point in the registry counts as a point of the collection. */
    qv_point_id id = qv_id_from_num(7);
    float zero = 0;
    ck_assert_int_eq(qv_upsert(c->points, &id, &zero, 1), QV_OK);
    qvs_coll_release(qvs_server_catalog(srv), c);
    info = expect_ok(call("GET", "/collections/multi", NULL));
    ck_assert_int_eq((int)num(info, "points_count"), 1);

    /* No dense vectors at all is a collection too (sparse only). */
    create("sparse", "{\"sparse_vectors\":{\"s\":{}}}");
    info = expect_ok(call("GET", "/collections/sparse", NULL));
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
            "vectors")),
        0);
}
END_TEST

/* ---- 3. bad input
 * ------------------------------------------------------------ */

START_TEST(test_create_errors)
{
    reply *r = call("PUT", "/collections/x", "{\"vectors\": {\"size\": 4,");
    expect_error_prefix(r, 400, "Format error in JSON body: ");
    ck_assert_double_eq(num(r->json, "time"), 0.0);
    expect_error_prefix(call("PUT", "/collections/x", "{} trailing"), 400,
                        "Format error in JSON body: trailing characters");
    expect_error_prefix(call("PUT", "/collections/x", NULL), 400,
                        "Format error in JSON body: EOF");
    expect_error_prefix(call("PUT", "/collections/x", "[1,2]"), 400,
                        "Format error in JSON body: ");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":\"4\",\"distance\":\"Cosine\"}}"),
        400, "Format error in JSON body: vectors.size: invalid type");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":4.5,\"distance\":\"Cosine\"}}"),
        400, "Format error in JSON body: vectors.size");
    expect_error_msg(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":0,\"distance\":\"Cosine\"}}"),
        422,
        "Validation error in JSON body: [vectors.size: value 0 invalid, must "
        "be from 1 to 65536]");
    expect_error_msg(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":65537,\"distance\":\"Cosine\"}}"),
        422,
        "Validation error in JSON body: [vectors.size: value 65537 invalid, "
        "must be from 1 to 65536]");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":4,\"distance\":\"cosine\"}}"),
        400, "Format error in JSON body: vectors.distance: unknown variant");
    expect_error_prefix(
        call("PUT", "/collections/x", "{\"vectors\":{\"size\":4}}"), 400,
        "Format error in JSON body: vectors: missing");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"a\":{\"size\":2,\"distance\":\"Dot\"},"
             "\"b\":{\"size\":-1,\"distance\":\"Dot\"}}}"),
        400, "Format error in JSON body: vectors.b.size");
    expect_error_prefix(
        call("PUT", "/collections/x", "{\"vectors\":{\"a\":[1]}}"), 400,
        "Format error in JSON body: vectors.a: invalid type");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\","
             "\"multivector_config\":{\"comparator\":\"min_sim\"}}}"),
        400,
        "Format error in JSON body: vectors.multivector_config: comparator: "
        "unknown variant");
    expect_error_prefix(call("PUT", "/collections/x",
                             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                             "\"hnsw_config\":{\"m\":1}}"),
                        400, "Bad request: hnsw_config.m");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
             "\"hnsw_config\":{\"ef_construct\":2}}"),
        422, "Validation error in JSON body: [hnsw_config.ef_construct");
    expect_error_prefix(call("PUT", "/collections/x",
                             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                             "\"shard_number\":0}"),
                        422, "Validation error in JSON body: [shard_number");
    expect_error_prefix(
        call("PUT", "/collections/x",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
             "\"optimizers_config\":{\"deleted_threshold\":2}}"),
        422, "Validation error in JSON body: [optimizers_config.deleted_");
    expect_error_prefix(call("PUT", "/collections/x",
                             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                             "\"on_disk_payload\":\"yes\"}"),
                        400, "Format error in JSON body: on_disk_payload");
    expect_error_prefix(call("PUT", "/collections/x",
                             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                             "\"sharding_method\":\"custom\"}"),
                        400, "Bad request: custom sharding");
    /* Deeply nested JSON is a parse error, not a crash. */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    expect_error_prefix(call("PUT", "/collections/x", deep), 400,
                        "Format error in JSON body: ");
    free(deep);
    /* Nothing was created by any of these. */
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(
            expect_ok(call("GET", "/collections", NULL)), "collections")),
        0);
}
END_TEST

START_TEST(test_bad_names)
{
    static const char *const paths[] = {
        "/collections/a*b",   "/collections/a:b",    "/collections/a%3Cb",
        "/collections/a%2Fb", "/collections/a%5Cb",  "/collections/a%22b",
        "/collections/a%7Cb", "/collections/a%3Fb",  "/collections/.",
        "/collections/..",    "/collections/%2e%2e", "/collections/a%1Fb"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        expect_error_prefix(call("PUT", paths[i], SMALL), 422,
                            "Validation error in path parameters: [name: ");
    expect_error_msg(call("PUT", "/collections/a%2Fb", SMALL), 422,
                     "Validation error in path parameters: [name: collection "
                     "name cannot contain \"/\" char]");
    char path[400] = "/collections/";
    memset(path + 13, 'n', 256);
    path[13 + 256] = '\0';
    expect_error_prefix(call("PUT", path, SMALL), 422,
                        "Validation error in path parameters: [name: length");
    path[13 + 255] = '\0';
    ck_assert(cJSON_IsTrue(expect_ok(call("PUT", path, SMALL))));
    /* Unicode, spaces and dots are fine; the name comes back decoded. */
    create("caf%C3%A9%20menu.v1", SMALL);
    const cJSON *info =
        expect_ok(call("GET", "/collections/caf%C3%A9%20menu.v1", NULL));
    ck_assert_ptr_nonnull(info);
    const cJSON *l = cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections", NULL)), "collections");
    ck_assert_str_eq(str(cJSON_GetArrayItem(l, 0), "name"), "café menu.v1");
    /* A decoded NUL never reaches a handler. */
    expect_error_prefix(call("GET", "/collections/a%00b", NULL), 422,
                        "Validation error in path parameters: ");
}
END_TEST

/* ---- 4. PATCH, aliases, payload indexes
 * -------------------------------------- */

START_TEST(test_patch)
{
    create("p", "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"},"
                "\"hnsw_config\":{\"m\":8},\"metadata\":{\"a\":1,\"b\":2}}");
    ck_assert(cJSON_IsTrue(
        expect_ok(call("PATCH", "/collections/p",
                       "{\"hnsw_config\":{\"ef_construct\":123},"
                       "\"optimizers_config\":{\"indexing_threshold\":5},"
                       "\"params\":{\"replication_factor\":2},"
                       "\"vectors\":{\"\":{\"on_disk\":true}},"
                       "\"metadata\":{\"a\":null,\"c\":3}}"))));
    const cJSON *info = expect_ok(call("GET", "/collections/p", NULL));
    ck_assert_int_eq((int)num(info, "config.hnsw_config.ef_construct"), 123);
    ck_assert_int_eq((int)num(info, "config.hnsw_config.m"), 8);
    ck_assert_int_eq(
        (int)num(info, "config.optimizer_config.indexing_threshold"), 5);
    ck_assert_int_eq((int)num(info, "config.params.replication_factor"), 2);
    ck_assert_int_eq((int)num(info, "config.params.vectors.size"), 4);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
            "vectors"),
        "on_disk")));
    const cJSON *md =
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "metadata");
    ck_assert_ptr_null(cJSON_GetObjectItem(md, "a"));
    ck_assert_int_eq((int)num(md, "b"), 2);
    ck_assert_int_eq((int)num(md, "c"), 3);

    expect_error_msg(call("PATCH", "/collections/nope", "{}"), 404,
                     "Not found: Collection `nope` doesn't exist!");
    expect_error_msg(call("PATCH", "/collections/p",
                          "{\"vectors\":{\"x\":{\"on_disk\":true}}}"),
                     400, "Wrong input: Not existing vector name error: x");
    expect_error_prefix(
        call("PATCH", "/collections/p", "{\"hnsw_config\":{\"m\":\"8\"}}"), 400,
        "Format error in JSON body: hnsw_config.m");
    expect_error_prefix(call("PATCH", "/collections/p", "{\"hnsw_config\":"),
                        400, "Format error in JSON body: ");
    /* A failed PATCH changes nothing. */
    info = expect_ok(call("GET", "/collections/p", NULL));
    ck_assert_int_eq((int)num(info, "config.hnsw_config.m"), 8);
}
END_TEST

static void aliases(const char *body)
{
    ck_assert(
        cJSON_IsTrue(expect_ok(call("POST", "/collections/aliases", body))));
}

static int alias_count(const char *path)
{
    return cJSON_GetArraySize(
        cJSON_GetObjectItem(expect_ok(call("GET", path, NULL)), "aliases"));
}

START_TEST(test_aliases)
{
    create("c1", SMALL);
    create("c2", SMALL);
    aliases("{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\","
            "\"alias_name\":\"prod\"}},{\"create_alias\":{\"collection_name\":"
            "\"c2\",\"alias_name\":\"next\"}}]}");
    const cJSON *a = cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/c1/aliases", NULL)), "aliases");
    ck_assert_int_eq(cJSON_GetArraySize(a), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(a, 0), "alias_name"), "prod");
    ck_assert_str_eq(str(cJSON_GetArrayItem(a, 0), "collection_name"), "c1");
    ck_assert_int_eq(alias_count("/aliases"), 2);
    /* An alias works where a name does. */
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/prod/exists", NULL)), "exists")));
    expect_ok(call("GET", "/collections/prod", NULL));
    ck_assert(cJSON_IsTrue(expect_ok(call(
        "PATCH", "/collections/prod", "{\"metadata\":{\"via\":\"alias\"}}"))));
    ck_assert_str_eq(str(expect_ok(call("GET", "/collections/c1", NULL)),
                         "config.metadata.via"),
                     "alias");
    ck_assert_int_eq(alias_count("/collections/prod/aliases"), 1);

    /* Switch prod to c2 atomically: delete + create in one request. */
    aliases("{\"actions\":[{\"delete_alias\":{\"alias_name\":\"prod\"}},"
            "{\"create_alias\":{\"collection_name\":\"c2\",\"alias_name\":"
            "\"prod\"}}]}");
    ck_assert_int_eq(alias_count("/collections/c1/aliases"), 0);
    ck_assert_int_eq(alias_count("/collections/c2/aliases"), 2);
    /* Rename. */
    aliases("{\"actions\":[{\"rename_alias\":{\"old_alias_name\":\"next\","
            "\"new_alias_name\":\"later\"}}]}");
    expect_error_prefix(call("GET", "/collections/next", NULL), 404,
                        "Not found: ");
    expect_ok(call("GET", "/collections/later", NULL));

    /* A batch with a failing action changes nothing. */
    expect_error_msg(
        call("POST", "/collections/aliases",
             "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\","
             "\"alias_name\":\"temp\"}},{\"create_alias\":{"
             "\"collection_name\":\"missing\",\"alias_name\":\"x\"}}]}"),
        404, "Not found: Collection `missing` doesn't exist!");
    expect_error_prefix(call("GET", "/collections/temp", NULL), 404, "Not");
    /* The naming rules. */
    expect_error_msg(
        call("POST", "/collections/aliases",
             "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\","
             "\"alias_name\":\"c2\"}}]}"),
        409, "Wrong input: Collection `c2` already exists!");
    expect_error_msg(call("PUT", "/collections/prod", SMALL), 400,
                     "Wrong input: Can't create collection with name prod. "
                     "Alias with the same name already exists");
    expect_error_msg(
        call("POST", "/collections/aliases",
             "{\"actions\":[{\"rename_alias\":{\"old_alias_name\":\"zzz\","
             "\"new_alias_name\":\"y\"}}]}"),
        404, "Not found: Alias zzz does not exists!");
    expect_error_prefix(
        call("POST", "/collections/aliases",
             "{\"actions\":[{\"create_alias\":{\"collection_name\":\"c1\","
             "\"alias_name\":\"a/b\"}}]}"),
        422, "Validation error in JSON body: [actions[0].create_alias.");
    expect_error_prefix(call("POST", "/collections/aliases",
                             "{\"actions\":[{\"drop_alias\":{}}]}"),
                        400, "Format error in JSON body: ");
    expect_error_prefix(call("POST", "/collections/aliases", "{}"), 400,
                        "Format error in JSON body: ");
    /* Deleting a missing alias is no error (Qdrant). */
    aliases("{\"actions\":[{\"delete_alias\":{\"alias_name\":\"none\"}}]}");
    expect_error_msg(call("GET", "/collections/none/aliases", NULL), 404,
                     "Not found: Collection `none` doesn't exist!");
    /* DELETE takes no alias; deleting the collection drops its aliases. */
    ck_assert(
        cJSON_IsFalse(expect_ok(call("DELETE", "/collections/prod", NULL))));
    ck_assert(cJSON_IsTrue(expect_ok(call("DELETE", "/collections/c2", NULL))));
    ck_assert_int_eq(alias_count("/aliases"), 0);
    /* The freed alias name can name a collection now. */
    create("prod", SMALL);
}
END_TEST

/* Full-text index params (issue 12, item 5): every TextIndexParams field
 * read, shown in payload_schema as Qdrant shows it, applied to match text
 * and phrase, kept across a restart; Qdrant's 400/422 for bad params. */
static uint64_t text_count(const char *kind, const char *q)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"exact\":true,\"filter\":{\"must\":{\"key\":\"t\",\"match\":"
             "{\"%s\":\"%s\"}}}}",
             kind, q);
    return (uint64_t)num(
        expect_ok(call("POST", "/collections/tx/points/count", body)), "count");
}

static char *text_params(void)
{
    const cJSON *info = expect_ok(call("GET", "/collections/tx", NULL));
    const cJSON *ps = cJSON_GetObjectItem(info, "payload_schema");
    const cJSON *p =
        cJSON_GetObjectItem(cJSON_GetObjectItem(ps, "t"), "params");
    ck_assert_ptr_nonnull(p);
    return cJSON_PrintUnformatted(p);
}

START_TEST(test_text_index_params)
{
    create("tx", SMALL);
    expect_ok(call(
        "PUT", "/collections/tx/points?wait=true",
        "{\"points\":["
        "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"t\":\"The Theory of "
        "running dogs\"}},"
        "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":{\"t\":\"a dog runs\"}},"
        "{\"id\":3,\"vector\":[0,0,1,0],\"payload\":{\"t\":\"Crème brûlée\"}}"
        "]}"));
    /* prefix: every prefix of 2..6 characters; queries cut to 6. */
    expect_ok(call("PUT", "/collections/tx/index?wait=true",
                   "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
                   "\"tokenizer\":\"prefix\",\"min_token_len\":2,"
                   "\"max_token_len\":6}}"));
    ck_assert_uint_eq(text_count("text", "theo"), 1);
    ck_assert_uint_eq(text_count("text", "ru"), 2);
    ck_assert_uint_eq(text_count("text", "dogz"), 0);
    /* Stopwords, stemmer, folding: the params come back as Qdrant shows
     * them (tokenizer always, unset fields left out). */
    const char *schema =
        "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
        "\"lowercase\":true,\"ascii_folding\":true,\"phrase_matching\":true,"
        "\"stopwords\":{\"languages\":[\"english\"],\"custom\":[\"Theory\"]},"
        "\"stemmer\":{\"type\":\"snowball\",\"language\":\"english\"},"
        "\"on_disk\":false}}";
    expect_ok(call("PUT", "/collections/tx/index?wait=true", schema));
    char *p = text_params();
    ck_assert_str_eq(p,
                     "{\"type\":\"text\",\"tokenizer\":\"word\",\"lowercase\":"
                     "true,\"ascii_folding\":true,\"phrase_matching\":true,"
                     "\"stopwords\":{\"languages\":[\"english\"],\"custom\":["
                     "\"Theory\"]},\"on_disk\":false,\"stemmer\":{\"type\":"
                     "\"snowball\",\"language\":\"english\"}}");
    ck_assert_uint_eq(text_count("text", "running"), 2);
    ck_assert_uint_eq(text_count("text", "brulee"), 1);
    ck_assert_uint_eq(text_count("text", "creme"), 1);
    ck_assert_uint_eq(text_count("text", "theory"), 0); /* custom stopword */
    ck_assert_uint_eq(text_count("phrase", "running dogs"), 1);
    ck_assert_uint_eq(text_count("phrase", "dogs running"), 1); /* "dog runs" */
    ck_assert_uint_eq(text_count("phrase", "brûlée dogs"), 0);
    ck_assert_uint_eq(text_count("text_any", "theory brûlée"),
                      1); /* stopword */
    ck_assert_uint_eq(text_count("text_any", "dog brûlée"), 3);
    /* A restart rebuilds the same index from the stored params. */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    char *again = text_params();
    ck_assert_str_eq(again, p);
    ck_assert_uint_eq(text_count("text", "running"), 2);
    free(again);
    free(p);
    /* Multilingual and a language string. */
    expect_ok(call("PUT", "/collections/tx/index?wait=true",
                   "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
                   "\"tokenizer\":\"multilingual\",\"stopwords\":"
                   "\"english\"}}"));
    p = text_params();
    ck_assert_str_eq(p, "{\"type\":\"text\",\"tokenizer\":\"multilingual\","
                        "\"stopwords\":\"english\"}");
    free(p);
    ck_assert_uint_eq(text_count("text", "dog"), 1);
    /* Errors, Qdrant's way; the index stays as it was. */
    expect_error_prefix(
        call("PUT", "/collections/tx/index",
             "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
             "\"tokenizer\":\"ngram\"}}"),
        400,
        "Format error in JSON body: field_schema.tokenizer: unknown "
        "variant `ngram`");
    expect_error_prefix(
        call("PUT", "/collections/tx/index",
             "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
             "\"stopwords\":\"klingon\"}}"),
        400,
        "Format error in JSON body: field_schema: unknown stopwords "
        "language `klingon`");
    expect_error_prefix(
        call("PUT", "/collections/tx/index",
             "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
             "\"stemmer\":{\"type\":\"snowball\",\"language\":\"elvish\"}}}"),
        400, "Format error in JSON body: field_schema: unknown snowball");
    expect_error_prefix(
        call("PUT", "/collections/tx/index",
             "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
             "\"min_token_len\":5,\"max_token_len\":2}}"),
        422, "Validation error in JSON body: [field_schema: min_token_len");
    expect_error_prefix(
        call("PUT", "/collections/tx/index",
             "{\"field_name\":\"t\",\"field_schema\":{\"type\":\"text\","
             "\"lowercase\":\"yes\"}}"),
        400, "Format error in JSON body: field_schema.lowercase");
    p = text_params();
    ck_assert_ptr_nonnull(strstr(p, "multilingual"));
    free(p);
}
END_TEST

START_TEST(test_payload_index)
{
    create("pi", SMALL);
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "pi", &c));
    qvs_coll_release(qvs_server_catalog(srv), c);
    expect_ok(call("PUT", "/collections/pi/points?wait=true",
                   "{\"points\":["
                   "{\"id\":1,\"vector\":[1,0,0,0],"
                   "\"payload\":{\"city\":\"Oslo\",\"n\":1}},"
                   "{\"id\":2,\"vector\":[0,1,0,0],"
                   "\"payload\":{\"city\":\"Rome\"}},"
                   "{\"id\":3,\"vector\":[0,0,1,0],"
                   "\"payload\":{\"n\":2}}]}"));

    const cJSON *u = expect_ok(
        call("PUT", "/collections/pi/index?wait=true",
             "{\"field_name\":\"city\",\"field_schema\":\"keyword\"}"));
    ck_assert_str_eq(str(u, "status"), "completed");
    ck_assert_double_gt(num(u, "operation_id"), 0);
    u = expect_ok(call("PUT", "/collections/pi/index",
                       "{\"field_name\":\"n\",\"field_schema\":{\"type\":"
                       "\"integer\",\"range\":true}}"));
    ck_assert_str_eq(str(u, "status"), "acknowledged");
    const cJSON *info = expect_ok(call("GET", "/collections/pi", NULL));
    const cJSON *ps = cJSON_GetObjectItem(info, "payload_schema");
    ck_assert_str_eq(str(ps, "city.data_type"), "keyword");
    ck_assert_int_eq((int)num(ps, "city.points"), 2);
    ck_assert_str_eq(str(ps, "n.data_type"), "integer");
    ck_assert_int_eq((int)num(ps, "n.points"), 2);
    ck_assert_str_eq(str(ps, "n.params.type"), "integer");

    expect_ok(call("DELETE", "/collections/pi/index/city?wait=true", NULL));
    ps = cJSON_GetObjectItem(expect_ok(call("GET", "/collections/pi", NULL)),
                             "payload_schema");
    ck_assert_ptr_null(cJSON_GetObjectItem(ps, "city"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(ps, "n"));

    expect_error_prefix(
        call("PUT", "/collections/pi/index",
             "{\"field_name\":\"x\",\"field_schema\":\"blob\"}"),
        400, "Format error in JSON body: field_schema");
    expect_error_prefix(
        call("PUT", "/collections/pi/index", "{\"field_schema\":\"keyword\"}"),
        400, "Format error in JSON body: missing field");
    expect_error_msg(
        call("PUT", "/collections/nope/index",
             "{\"field_name\":\"x\",\"field_schema\":\"keyword\"}"),
        404, "Not found: Collection `nope` doesn't exist!");
    expect_error_msg(call("DELETE", "/collections/nope/index/x", NULL), 404,
                     "Not found: Collection `nope` doesn't exist!");
    /* The cluster view of a collection: one local shard. */
    const cJSON *cl = expect_ok(call("GET", "/collections/pi/cluster", NULL));
    ck_assert_int_eq((int)num(cl, "shard_count"), 1);
    ck_assert_int_eq(
        (int)num(cJSON_GetArrayItem(cJSON_GetObjectItem(cl, "local_shards"), 0),
                 "points_count"),
        3);
}
END_TEST

/* ---- 5. HTTP
 * -------------------------------------------------------------------- */

START_TEST(test_routing)
{
    create("r", SMALL);
    call("GET", "/no/such/path", NULL);
    ck_assert_int_eq(R.status, 404);
    ck_assert_uint_eq(R.body.len, 0);
    call("DELETE", "/collections", NULL);
    ck_assert_int_eq(R.status, 405);
    call("POST", "/healthz", "{}");
    ck_assert_int_eq(R.status, 405);
    /* Trailing and doubled slashes, and encoded letters, do not matter. */
    expect_ok(call("GET", "/collections/", NULL));
    expect_ok(call("GET", "//collections//r/", NULL));
    expect_ok(call("GET", "/collections/%72", NULL));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/r/exists?x=1", NULL)), "exists")));
    /* A dot segment is a name, not a step up. */
    call("GET", "/collections/r/../r", NULL);
    ck_assert_int_eq(R.status, 404);
    /* Literal beats capture: /collections/aliases is not a collection. */
    expect_error_prefix(call("POST", "/collections/aliases", "{}"), 400,
                        "Format error");
    expect_error_msg(call("GET", "/collections/aliases", NULL), 404,
                     "Not found: Collection `aliases` doesn't exist!");
}
END_TEST

START_TEST(test_cors)
{
    const char *const origin[] = {"Origin: http://app.example", NULL};
    call_h("GET", "/collections", NULL, origin);
    char v[256];
    ck_assert_str_eq(resp_header("Access-Control-Allow-Origin", v, sizeof(v)),
                     "http://app.example");
    call("GET", "/collections", NULL);
    ck_assert_str_eq(resp_header("Access-Control-Allow-Origin", v, sizeof(v)),
                     "*");
    ck_assert_str_eq(resp_header("Content-Type", v, sizeof(v)),
                     "application/json");
    call("GET", "/nowhere", NULL);
    ck_assert_ptr_nonnull(
        resp_header("Access-Control-Allow-Origin", v, sizeof(v)));
    const char *const pre[] = {
        "Origin: http://app.example", "Access-Control-Request-Method: PUT",
        "Access-Control-Request-Headers: content-type,api-key", NULL};
    call_h("OPTIONS", "/collections/x", NULL, pre);
    ck_assert_int_eq(R.status, 200);
    ck_assert_str_eq(resp_header("Access-Control-Allow-Methods", v, sizeof(v)),
                     "PUT");
    ck_assert_str_eq(resp_header("Access-Control-Allow-Headers", v, sizeof(v)),
                     "content-type,api-key");
    ck_assert_str_eq(resp_header("Access-Control-Allow-Origin", v, sizeof(v)),
                     "http://app.example");
}
END_TEST

START_TEST(test_keep_alive)
{
    call("GET", "/healthz", NULL);
    ck_assert_int_eq(R.connects, 1);
    for (int i = 0; i < 5; i++) {
        create(i % 2 ? "ka" : "kb", SMALL);
        ck_assert_int_eq(R.connects, 0);
        expect_ok(call("DELETE", i % 2 ? "/collections/ka" : "/collections/kb",
                       NULL));
        ck_assert_int_eq(R.connects, 0);
    }
    /* Errors decided from the headers keep the connection too, when the
     * request has no body. */
    call("GET", "/nowhere", NULL);
    ck_assert_int_eq(R.connects, 0);
    call("GET", "/healthz", NULL);
    ck_assert_int_eq(R.connects, 0);
}
END_TEST

/* Sends body in chunks (no Content-Length) through a read callback. */
typedef struct chunks {
    size_t left;
} chunks;

static size_t read_chunk(char *p, size_t size, size_t n, void *ud)
{
    chunks *c = ud;
    size_t k = size * n < c->left ? size * n : c->left;
    if (k > 100)
        k = 100;
    memset(p, ' ', k);
    c->left -= k;
    return k;
}

START_TEST(test_body_limit)
{
    /* 1 KiB limit: a bigger declared body is refused before it is read. */
    char *big = malloc(2048);
    memset(big, ' ', 2047);
    big[0] = '{';
    big[2046] = '}';
    big[2047] = '\0';
    expect_error_msg(call("PUT", "/collections/x", big), 413,
                     "JSON payload is larger than allowed (limit: 1024 "
                     "bytes)");
    big[1023] = '\0';
    big[1022] = '}';
    memcpy(big + 1, "\"vectors\":5", 11); /* exactly 1023 bytes: parsed */
    expect_error_prefix(call("PUT", "/collections/x", big), 400,
                        "Format error in JSON body: vectors");
    free(big);

    /* A chunked body that grows past the limit. */
    chunks ch = {4096};
    char url[128];
    snprintf(url, sizeof(url), "%s/collections/y", base);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_chunk);
    curl_easy_setopt(curl, CURLOPT_READDATA, &ch);
    struct curl_slist *hl =
        curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    buf body = {0};
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
    curl_slist_free_all(hl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    ck_assert_int_eq(status, 413);
    ck_assert_ptr_nonnull(strstr(body.p, "larger than allowed"));
    free(body.p);
    /* The server is fine afterwards. */
    call("GET", "/healthz", NULL);
    ck_assert_int_eq(R.status, 200);

    /* Headers over 16 KiB. */
    char *h = malloc(20000);
    strcpy(h, "X-Big: ");
    memset(h + 7, 'a', 17000);
    h[17007] = '\0';
    const char *const hs[] = {h, NULL};
    call_h("GET", "/healthz", NULL, hs);
    ck_assert_int_eq(R.status, 431);
    free(h);
}
END_TEST

/* ---- 6. auth
 * --------------------------------------------------------------------- */

static const char *const RW[] = {"api-key: secret-rw", NULL};
static const char *const RO[] = {"api-key: secret-ro", NULL};

/* Shard snapshots follow the collection snapshot routes' rules: a
 * read-only key may list, download and stream them, not create, delete,
 * recover or upload. */
START_TEST(test_shard_snapshot_auth)
{
    ck_assert(
        cJSON_IsTrue(expect_ok(call_h("PUT", "/collections/a", SMALL, RW))));
    expect_error_prefix(
        call_h("POST", "/collections/a/shards/0/snapshots", NULL, RO), 403,
        "Forbidden");
    const cJSON *d = expect_ok(
        call_h("POST", "/collections/a/shards/0/snapshots", NULL, RW));
    char name[512], path[1024], body[1100];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    size_t size = (size_t)num(d, "size");
    const cJSON *list =
        expect_ok(call_h("GET", "/collections/a/shards/0/snapshots", NULL, RO));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    snprintf(path, sizeof(path), "/collections/a/shards/0/snapshots/%s", name);
    call_h("GET", path, NULL, RO);
    ck_assert_int_eq(R.status, 200);
    ck_assert_uint_eq(R.body.len, size);
    call_h("GET", "/collections/a/shards/0/snapshot", NULL, RO);
    ck_assert_int_eq(R.status, 200);
    call("GET", "/collections/a/shards/0/snapshots", NULL);
    ck_assert_int_eq(R.status, 401);
    expect_error_prefix(call_h("DELETE", path, NULL, RO), 403, "Forbidden");
    snprintf(body, sizeof(body), "{\"location\":\"%s\"}", name);
    expect_error_prefix(
        call_h("PUT", "/collections/a/shards/0/snapshots/recover", body, RO),
        403, "Forbidden");
    expect_error_prefix(
        call_h("POST", "/collections/a/shards/0/snapshots/upload", "x", RO),
        403, "Forbidden");
    ck_assert(cJSON_IsTrue(expect_ok(
        call_h("PUT", "/collections/a/shards/0/snapshots/recover", body, RW))));
    ck_assert(cJSON_IsTrue(expect_ok(call_h("DELETE", path, NULL, RW))));
}
END_TEST

START_TEST(test_auth)
{
    call("GET", "/collections", NULL);
    ck_assert_int_eq(R.status, 401);
    ck_assert_str_eq(
        R.body.p, "Must provide an API key or an Authorization bearer token");
    const char *const wrong[] = {"api-key: secret-rx", NULL};
    call_h("GET", "/collections", NULL, wrong);
    ck_assert_int_eq(R.status, 401);
    ck_assert_str_eq(R.body.p, "Invalid API key or JWT");
    const char *const prefix[] = {"api-key: secret", NULL};
    call_h("GET", "/collections", NULL, prefix);
    ck_assert_int_eq(R.status, 401);
    const char *const longer[] = {"api-key: secret-rw2", NULL};
    call_h("GET", "/collections", NULL, longer);
    ck_assert_int_eq(R.status, 401);
    const char *const bearer[] = {"Authorization: Bearer secret-rw", NULL};
    expect_ok(call_h("GET", "/collections", NULL, bearer));
    const char *const basic[] = {"Authorization: Basic secret-rw", NULL};
    call_h("GET", "/collections", NULL, basic);
    ck_assert_int_eq(R.status, 401);

    /* Writes need the read-write key; reads take either. */
    ck_assert(
        cJSON_IsTrue(expect_ok(call_h("PUT", "/collections/a", SMALL, RW))));
    expect_error_msg(call_h("PUT", "/collections/b", SMALL, RO), 403,
                     "Forbidden: Only read-only access is allowed");
    expect_error_prefix(call_h("DELETE", "/collections/a", NULL, RO), 403,
                        "Forbidden");
    expect_error_prefix(
        call_h("POST", "/collections/aliases", "{\"actions\":[]}", RO), 403,
        "Forbidden");
    expect_ok(call_h("GET", "/collections/a", NULL, RO));
    expect_ok(call_h("GET", "/aliases", NULL, RO));
    call_h("GET", "/metrics", NULL, RO);
    ck_assert_int_eq(R.status, 200);
    call("GET", "/metrics", NULL);
    ck_assert_int_eq(R.status, 401);

    /* Open routes. */
    call("GET", "/", NULL);
    ck_assert_int_eq(R.status, 200);
    call("GET", "/healthz", NULL);
    ck_assert_int_eq(R.status, 200);
    call("GET", "/readyz", NULL);
    ck_assert_int_eq(R.status, 200);
    call("OPTIONS", "/collections", NULL);
    ck_assert_int_eq(R.status, 200);

    /* Spellings of a path never reach a route without its checks. */
    static const char *const tricks[] = {
        "/healthz/../collections", "//collections", "/./collections",
        "/%2e%2e/collections",     "/collections/", "/healthz/%2e%2e/aliases",
        "/%63ollections",          "/nothing/here"};
    for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
        call("GET", tricks[i], NULL);
        ck_assert_msg(R.status == 401, "%s: %ld", tricks[i], R.status);
    }
    call("PUT", "/healthz/../collections/z", SMALL);
    ck_assert_int_eq(R.status, 401);
    call_h("PUT", "//collections/z", SMALL, RO);
    ck_assert_int_eq(R.status, 403);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
        expect_ok(call_h("GET", "/collections/z/exists", NULL, RW)),
        "exists")));
}
END_TEST

/* ---- 7. configuration
 * -------------------------------------------------------------- */

START_TEST(test_config_parse)
{
    setenv("QDRANT__SERVICE__HTTP_PORT", "7000", 1);
    setenv("QDRANT__SERVICE__API_KEY", "envkey", 1);
    setenv("QDRANT__STORAGE__STORAGE_PATH", "/env/storage", 1);
    setenv("QDRANT__SERVICE__MAX_REQUEST_SIZE_MB", "8", 1);
    setenv("QDRANT__SERVICE__MAX_WORKERS", "3", 1);
    qvs_config cfg;
    qvs_config_init(&cfg);
    char *argv1[] = {"serve", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 1, argv1), 0);
    ck_assert_uint_eq(cfg.port, 7000);
    ck_assert_str_eq(cfg.api_key, "envkey");
    ck_assert_str_eq(cfg.storage, "/env/storage");
    ck_assert_uint_eq(cfg.max_request_bytes, 8u << 20);
    ck_assert_uint_eq(cfg.threads, 3);
    ck_assert_str_eq(qvs_config_host(&cfg), "0.0.0.0"); /* a key is set */

    qvs_config_init(&cfg);
    char *argv2[] = {"serve", "--port",    "7001",    "--storage",
                     "/flag", "--api-key", "flagkey", "--threads",
                     "5",     "--host",    "::1",     "--max-request-size-mb",
                     "2",     NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 13, argv2), 0);
    ck_assert_uint_eq(cfg.port, 7001);
    ck_assert_str_eq(cfg.storage, "/flag");
    ck_assert_str_eq(cfg.api_key, "flagkey");
    ck_assert_uint_eq(cfg.threads, 5);
    ck_assert_str_eq(qvs_config_host(&cfg), "::1");
    ck_assert_uint_eq(cfg.max_request_bytes, 2u << 20);

    unsetenv("QDRANT__SERVICE__API_KEY");
    unsetenv("QDRANT__SERVICE__HTTP_PORT");
    unsetenv("QDRANT__STORAGE__STORAGE_PATH");
    unsetenv("QDRANT__SERVICE__MAX_REQUEST_SIZE_MB");
    unsetenv("QDRANT__SERVICE__MAX_WORKERS");
    qvs_config_init(&cfg);
    ck_assert_int_eq(qvs_config_parse(&cfg, 1, argv1), 0);
    ck_assert_uint_eq(cfg.port, 6333);
    ck_assert_str_eq(cfg.storage, "./storage");
    ck_assert_uint_eq(cfg.max_request_bytes, 32u << 20);
    ck_assert_str_eq(qvs_config_host(&cfg), "127.0.0.1"); /* no key */

    char *bad1[] = {"serve", "--port", "70000", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad1), -1);
    char *bad2[] = {"serve", "--threads", "-1", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad2), -1);
    char *bad3[] = {"serve", "--frobnicate", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 2, bad3), -1);
    char *bad4[] = {"serve", "--max-request-size-mb", "0", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad4), -1);
    setenv("QDRANT__SERVICE__HTTP_PORT", "port", 1);
    ck_assert_int_eq(qvs_config_parse(&cfg, 1, argv1), -1);
    unsetenv("QDRANT__SERVICE__HTTP_PORT");
    char *help[] = {"serve", "--help", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 2, help), 1);
}
END_TEST

/* The deadlines and connection limits against slow clients (guard.c). */
START_TEST(test_config_limits)
{
    qvs_config cfg;
    qvs_config_init(&cfg);
    ck_assert_uint_eq(cfg.header_timeout_s, 10);
    ck_assert_uint_eq(cfg.body_min_rate, 1024);
    ck_assert_uint_eq(cfg.max_connections, 1024);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 256);

    setenv("QDRANT__SERVICE__HEADER_TIMEOUT_SEC", "5", 1);
    setenv("QDRANT__SERVICE__BODY_MIN_RATE", "100", 1);
    setenv("QDRANT__SERVICE__MAX_CONNECTIONS", "4000", 1);
    setenv("QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP", "20", 1);
    char *argv1[] = {"serve", "--max-connections-per-ip", "30", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, argv1), 0);
    ck_assert_uint_eq(cfg.header_timeout_s, 5);
    ck_assert_uint_eq(cfg.body_min_rate, 100);
    ck_assert_uint_eq(cfg.max_connections, 4000);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 30); /* the flag wins */
    unsetenv("QDRANT__SERVICE__HEADER_TIMEOUT_SEC");
    unsetenv("QDRANT__SERVICE__BODY_MIN_RATE");
    unsetenv("QDRANT__SERVICE__MAX_CONNECTIONS");
    unsetenv("QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP");

    char *argv2[] = {"serve", "--header-timeout-sec", "2",  "--body-min-rate",
                     "4096",  "--max-connections",    "10", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 7, argv2), 0);
    ck_assert_uint_eq(cfg.header_timeout_s, 2);
    ck_assert_uint_eq(cfg.body_min_rate, 4096);
    ck_assert_uint_eq(cfg.max_connections, 10);

    char *bad1[] = {"serve", "--header-timeout-sec", "0", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad1), -1);
    char *bad2[] = {"serve", "--max-connections", "70000", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad2), -1);
    char *bad3[] = {"serve", "--body-min-rate", "0", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, bad3), -1);
    setenv("QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP", "many", 1);
    ck_assert_int_eq(qvs_config_parse(&cfg, 1, argv1), -1);
    unsetenv("QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP");
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_damaged_catalog)
{
    make_storage();
    char path[512];
    snprintf(path, sizeof(path), "%s/catalog.json", storage);
    static const char *const damaged[] = {
        "{not json",
        "{\"quiver_catalog\":2,\"next_id\":1,\"collections\":[],\"aliases\":[]"
        "}",
        "{\"quiver_catalog\":1,\"next_id\":1,\"collections\":[{}],"
        "\"aliases\":[]}",
        "{\"quiver_catalog\":1,\"next_id\":5,\"collections\":[],\"aliases\":"
        "[{\"alias_name\":\"a\",\"collection_name\":\"gone\"}]}",
        "{\"quiver_catalog\":1,\"next_id\":5,\"collections\":[{\"name\":\"a\","
        "\"id\":1,\"named\":false,\"points\":\"c1_a\",\"vectors\":[{\"name\":"
        "\"\",\"size\":70000,\"distance\":\"Cosine\",\"library\":\"c1_a\","
        "\"m\":16,\"ef_construct\":100,\"full_scan_threshold_kb\":10,"
        "\"max_indexing_threads\":0}],\"config\":{\"params\":{}},"
        "\"payload_schema\":{}}],\"aliases\":[]}",
        "{\"quiver_catalog\":1,\"next_id\":5,\"collections\":[{\"name\":\"a\","
        "\"id\":1,\"named\":false,\"points\":\"../../etc\",\"vectors\":[{"
        "\"name\":\"\",\"size\":4,\"distance\":\"Cosine\",\"library\":\"../.."
        "/etc\",\"m\":16,\"ef_construct\":100,\"full_scan_threshold_kb\":10,"
        "\"max_indexing_threads\":0}],\"config\":{\"params\":{}},"
        "\"payload_schema\":{}}],\"aliases\":[]}"};
    qvs_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
        write_file(path, damaged[i]);
        char err[512] = "";
        qvs_server *s = NULL;
        ck_assert_msg(!qvs_server_start(&cfg, &s, err, sizeof(err)),
                      "damaged catalog %zu accepted", i);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(err, "catalog.json"), "error %zu: %s", i, err);
    }
    /* A good one (two collections, an alias) is accepted. */
    write_file(
        path,
        "{\"quiver_catalog\":1,\"next_id\":5,\"collections\":[{\"name\":"
        "\"a\",\"id\":1,\"named\":false,\"points\":\"c1_a\",\"vectors\":"
        "[{\"name\":\"\",\"size\":4,\"distance\":\"Cosine\",\"library\":"
        "\"c1_a\",\"m\":16,\"ef_construct\":100,"
        "\"full_scan_threshold_kb\":10,\"max_indexing_threads\":0}],"
        "\"config\":{\"params\":{}},\"payload_schema\":{}}],"
        "\"aliases\":[{\"alias_name\":\"b\",\"collection_name\":\"a\"}]}");
    start_with(&cfg);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/b/exists", NULL)), "exists")));
    stop_server();
    rm_rf(storage);
}
END_TEST

/* ---- 8. the program: SIGTERM and restart
 * ----------------------------------------- */

typedef struct child {
    pid_t pid;
    unsigned port;
} child;

/* Starts quiver-server on storage with args, reads the port from its
 * startup line.  env: NAME=VALUE strings (NULL-terminated) or NULL. */
static void child_start(child *ch, const char *const *args,
                        const char *const *env)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ch->pid = fork();
    ck_assert_int_ge(ch->pid, 0);
    if (ch->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        char *argv[32] = {(char *)QUIVER_SERVER_BIN};
        size_t n = 1;
        for (size_t i = 0; args[i] && n < 31; i++)
            argv[n++] = (char *)args[i];
        argv[n] = NULL;
        execv(QUIVER_SERVER_BIN, argv);
        _exit(127);
    }
    close(fds[1]);
    char line[1024];
    size_t len = 0;
    ch->port = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 20000) == 1, "no startup line");
        ssize_t n = read(fds[0], line + len, 1);
        if (n <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = '\0';
    close(fds[0]);
    const char *at = strstr(line, "127.0.0.1:");
    ck_assert_msg(at, "startup line: '%s'", line);
    ch->port = (unsigned)atoi(at + strlen("127.0.0.1:"));
    ck_assert_uint_gt(ch->port, 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", ch->port);
}

/* Sends sig and returns the exit status (-1 if killed by a signal). */
static int child_stop(child *ch, int sig)
{
    ck_assert_int_eq(kill(ch->pid, sig), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(ch->pid, &status, 0), ch->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_sigterm_restart)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",    "0", "--storage", storage,
                                "--threads", "2", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("kept", "{\"vectors\":{\"size\":3,\"distance\":\"Euclid\"},"
                   "\"hnsw_config\":{\"m\":12}}");
    create("named", "{\"vectors\":{\"a\":{\"size\":2,\"distance\":\"Dot\"},"
                    "\"b\":{\"size\":5,\"distance\":\"Cosine\"}}}");
    create("gone", SMALL);
    aliases("{\"actions\":[{\"create_alias\":{\"collection_name\":\"kept\","
            "\"alias_name\":\"k\"}},{\"create_alias\":{\"collection_name\":"
            "\"gone\",\"alias_name\":\"g\"}}]}");
    expect_ok(call("PUT", "/collections/kept/index",
                   "{\"field_name\":\"tag\",\"field_schema\":\"keyword\"}"));
    expect_ok(call("PATCH", "/collections/kept",
                   "{\"hnsw_config\":{\"ef_construct\":77}}"));
    expect_ok(call("DELETE", "/collections/gone", NULL));
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);

    /* The catalog file is complete JSON (written atomically). */
    char path[512];
    snprintf(path, sizeof(path), "%s/catalog.json", storage);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* ... and no temporary file of it is left ("catalog.json.tmp-*"). */
    DIR *sd = opendir(storage);
    ck_assert_ptr_nonnull(sd);
    for (struct dirent *e; (e = readdir(sd));)
        ck_assert_msg(strncmp(e->d_name, "catalog.json.tmp", 16) != 0,
                      "left behind: %s", e->d_name);
    closedir(sd);

    child_start(&ch, args, NULL);
    const cJSON *l = cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections", NULL)), "collections");
    ck_assert_int_eq(cJSON_GetArraySize(l), 2);
    const cJSON *info = expect_ok(call("GET", "/collections/k", NULL));
    ck_assert_int_eq((int)num(info, "config.params.vectors.size"), 3);
    ck_assert_str_eq(str(info, "config.params.vectors.distance"), "Euclid");
    ck_assert_int_eq((int)num(info, "config.hnsw_config.m"), 12);
    ck_assert_int_eq((int)num(info, "config.hnsw_config.ef_construct"), 77);
    ck_assert_str_eq(str(info, "payload_schema.tag.data_type"), "keyword");
    info = expect_ok(call("GET", "/collections/named", NULL));
    ck_assert_int_eq((int)num(info, "config.params.vectors.b.size"), 5);
    ck_assert_int_eq(alias_count("/aliases"), 1);
    /* The server still works after the restart and ids are not reused. */
    create("gone", SMALL);
    ck_assert_int_eq(child_stop(&ch, SIGINT), 0);

    /* Qdrant's environment variables configure the program too. */
    const char *const env[] = {"QDRANT__SERVICE__API_KEY=k3y",
                               "QDRANT__SERVICE__HOST=127.0.0.1", NULL};
    child_start(&ch, args, env);
    call("GET", "/collections", NULL);
    ck_assert_int_eq(R.status, 401);
    const char *const key[] = {"api-key: k3y", NULL};
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
                         expect_ok(call_h("GET", "/collections", NULL, key)),
                         "collections")),
                     3);
    /* A second server on the same port fails to start, with exit 1. */
    char port[16];
    snprintf(port, sizeof(port), "%u", ch.port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        execl(QUIVER_SERVER_BIN, QUIVER_SERVER_BIN, "--port", port, "--host",
              "127.0.0.1", "--storage", storage, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);

    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* The components of a point's vector (result.vector, or its member
 * `name`) as floats. */
static void point_vector(const char *coll, const char *vname, float *out, int n)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points/1", coll);
    const cJSON *v =
        cJSON_GetObjectItem(expect_ok(call("GET", path, NULL)), "vector");
    if (vname)
        v = cJSON_GetObjectItem(v, vname);
    ck_assert_int_eq(cJSON_GetArraySize(v), n);
    for (int i = 0; i < n; i++)
        out[i] = (float)cJSON_GetArrayItem(v, i)->valuedouble;
}

/* Vector datatypes (VectorParams.datatype) over HTTP: the config shows
 * the datatype as given, points read back hold Qdrant's converted values
 * (float16 half-rounded, uint8 cast as Rust's `as u8`), for plain, named
 * and multi vectors, and all of it survives kill -9 (WAL replay) and a
 * snapshot archive recovered into a new collection. */
START_TEST(test_datatypes_restart)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",    "0", "--storage", storage,
                                "--threads", "2", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("h", "{\"vectors\":{\"size\":3,\"distance\":\"Euclid\","
                "\"datatype\":\"float16\"}}");
    create("b", "{\"vectors\":{\"v\":{\"size\":3,\"distance\":\"Dot\","
                "\"datatype\":\"uint8\"}}}");
    create("m", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\","
                "\"datatype\":\"float16\",\"multivector_config\":"
                "{\"comparator\":\"max_sim\"}}}");
    expect_error_msg(call("PUT", "/collections/x",
                          "{\"vectors\":{\"size\":3,\"distance\":\"Dot\","
                          "\"datatype\":\"int4\"}}"),
                     400,
                     "Format error in JSON body: vectors.datatype: unknown "
                     "variant, expected one of `float32`, `uint8`, "
                     "`float16`, `turbo4`");
    expect_ok(call("PUT", "/collections/h/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[0.1,-2.5,1000.3]}]}"));
    expect_ok(
        call("PUT", "/collections/b/points?wait=true",
             "{\"points\":[{\"id\":1,\"vector\":{\"v\":[1.9,-3,300]}}]}"));
    expect_ok(call("PUT", "/collections/m/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[[0.1,1],[2,3]]}]}"));
    /* float16 overflow is refused, not stored as infinity */
    call("PUT", "/collections/h/points?wait=true",
         "{\"points\":[{\"id\":2,\"vector\":[1,1,70000]}]}");
    ck_assert_int_ge(R.status, 400);
    ck_assert_int_eq(
        (int)num(expect_ok(call("POST", "/collections/h/points/count", "{}")),
                 "count"),
        1);
    for (int round = 0; round < 2; round++) {
        const cJSON *info = expect_ok(call("GET", "/collections/h", NULL));
        ck_assert_str_eq(str(info, "config.params.vectors.datatype"),
                         "float16");
        info = expect_ok(call("GET", "/collections/b", NULL));
        ck_assert_str_eq(str(info, "config.params.vectors.v.datatype"),
                         "uint8");
        float v[4];
        point_vector("h", NULL, v, 3);
        ck_assert(v[0] == 0.0999755859375f && v[1] == -2.5f && v[2] == 1000.5f);
        point_vector("b", "v", v, 3);
        ck_assert(v[0] == 1 && v[1] == 0 && v[2] == 255);
        const cJSON *mv = cJSON_GetObjectItem(
            expect_ok(call("GET", "/collections/m/points/1", NULL)), "vector");
        ck_assert_int_eq(cJSON_GetArraySize(mv), 2);
        ck_assert((float)cJSON_GetArrayItem(cJSON_GetArrayItem(mv, 0), 0)
                      ->valuedouble == 0.0999755859375f);
        /* Scores are on the converted values: dot((1,1,1), (1,0,255)). */
        const cJSON *hits =
            expect_ok(call("POST", "/collections/b/points/search",
                           "{\"vector\":{\"name\":\"v\",\"vector\":[1,1,1]},"
                           "\"limit\":1}"));
        ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 0), "score"), 256);
        if (round == 1) {
            /* A snapshot archive of the named uint8 collection, recovered
             * into a new collection, keeps datatype and values. */
            const cJSON *d =
                expect_ok(call("POST", "/collections/b/snapshots", "{}"));
            char body[1024];
            snprintf(body, sizeof(body),
                     "{\"location\":\"file://%s/snapshots/b/%s\"}", storage,
                     str(d, "name"));
            expect_ok(call("PUT", "/collections/b2/snapshots/recover", body));
            info = expect_ok(call("GET", "/collections/b2", NULL));
            ck_assert_str_eq(str(info, "config.params.vectors.v.datatype"),
                             "uint8");
            point_vector("b2", "v", v, 3);
            ck_assert(v[0] == 1 && v[1] == 0 && v[2] == 255);
            expect_ok(call("PUT", "/collections/b2/points?wait=true",
                           "{\"points\":[{\"id\":1,\"vector\":{\"v\":"
                           "[2.5,7,-1]}}]}"));
            point_vector("b2", "v", v, 3);
            ck_assert(v[0] == 2 && v[1] == 7 && v[2] == 0);
        }
        if (round == 0) /* kill -9: the next start replays the log */
            ck_assert_int_eq(child_stop(&ch, SIGKILL), -1);
        else
            ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
        if (round == 0)
            child_start(&ch, args, NULL);
    }
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* The score of point id in a sparse query on vector "text" of collection
 * sp, or -1 when it is not a hit. */
static double sparse_score(const char *query, uint64_t id)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"query\":%s,\"using\":\"text\",\"limit\":10}", query);
    const cJSON *res =
        expect_ok(call("POST", "/collections/sp/points/query", body));
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(res, "points"))
    {
        if ((uint64_t)num(p, "id") == id)
            return num(p, "score");
    }
    return -1;
}

/* PATCH of a sparse vector's modifier and index datatype (Qdrant 1.19:
 * CollectionParams::update_sparse_vectors_from_other): scores change at
 * once, exactly as Qdrant's IDF and QuantizedU8 give them (worked out
 * here by hand), the change survives kill -9 right after it was
 * acknowledged and a clean restart, and a float16 datatype that cannot
 * hold a stored value is refused with nothing changed. */
START_TEST(test_sparse_patch_restart)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",    "0", "--storage", storage,
                                "--threads", "2", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("sp", "{\"sparse_vectors\":{\"text\":{}}}");
    expect_ok(call(
        "PUT", "/collections/sp/points?wait=true",
        "{\"points\":["
        "{\"id\":1,\"vector\":{\"text\":{\"indices\":[1,2],\"values\":[2,3]}}},"
        "{\"id\":2,\"vector\":{\"text\":{\"indices\":[1],\"values\":[0.5]}}},"
        "{\"id\":3,\"vector\":{\"text\":{\"indices\":[1],\"values\":[0.5]}}},"
        "{\"id\":4,\"vector\":{\"text\":{\"indices\":[1],\"values\":[0.5]}}},"
        "{\"id\":5,\"vector\":{\"text\":{\"indices\":[1],"
        "\"values\":[1.234]}}}]}"));
    const char *q12 = "{\"indices\":[1,2],\"values\":[1,1]}";
    const char *q1 = "{\"indices\":[1],\"values\":[1]}";
    ck_assert_double_eq_tol(sparse_score(q12, 1), 5.0, 1e-9);
    expect_ok(call("PATCH", "/collections/sp",
                   "{\"sparse_vectors\":{\"text\":{\"modifier\":\"idf\"}}}"));
    /* Qdrant's idf = ln((N - df + 0.5) / (df + 0.5) + 1): N 5, dimension 1
     * in all five points, dimension 2 in one. */
    double idf1 = log(0.5 / 5.5 + 1), idf2 = log(4.5 / 1.5 + 1);
    for (int round = 0; round < 2; round++) {
        const cJSON *info = expect_ok(call("GET", "/collections/sp", NULL));
        ck_assert_str_eq(
            str(info, "config.params.sparse_vectors.text.modifier"), "idf");
        ck_assert_double_eq_tol(sparse_score(q12, 1), 2 * idf1 + 3 * idf2,
                                1e-5);
        ck_assert_double_eq_tol(sparse_score(q12, 2), 0.5 * idf1, 1e-6);
        if (round == 0) { /* kill -9 right after the acknowledged PATCH */
            ck_assert_int_eq(child_stop(&ch, SIGKILL), -1);
            child_start(&ch, args, NULL);
        }
    }
    /* Off again, and the postings as uint8: dimension 1 holds 2, 0.5 (x3)
     * and 1.234, so min 0.5 and step 1.5 / 255; 1.234 is quantized to
     * round(0.734 / step) = 125, read back as 0.5 + 125 * step. */
    expect_ok(call("PATCH", "/collections/sp",
                   "{\"sparse_vectors\":{\"text\":{\"modifier\":\"none\","
                   "\"index\":{\"datatype\":\"uint8\"}}}}"));
    /* a value float16 cannot hold, in another dimension */
    expect_ok(call("PUT", "/collections/sp/points?wait=true",
                   "{\"points\":[{\"id\":6,\"vector\":{\"text\":{\"indices\":"
                   "[9],\"values\":[70000]}}}]}"));
    expect_error_prefix(
        call("PATCH", "/collections/sp",
             "{\"sparse_vectors\":{\"text\":{\"index\":{\"datatype\":"
             "\"float16\"}}}}"),
        400, "Bad request: sparse vector text: ");
    float step = 1.5f / 255.0f;
    double want = (double)(0.5f + 125.0f * step);
    for (int round = 0; round < 2; round++) {
        const cJSON *info = expect_ok(call("GET", "/collections/sp", NULL));
        ck_assert_str_eq(
            str(info, "config.params.sparse_vectors.text.modifier"), "none");
        ck_assert_str_eq(
            str(info, "config.params.sparse_vectors.text.index.datatype"),
            "uint8");
        ck_assert_double_eq_tol(sparse_score(q1, 5), want, 1e-6);
        ck_assert(fabs(sparse_score(q1, 5) - 1.234) > 1e-4);
        ck_assert_double_eq_tol(sparse_score(q12, 1), 5.0, 1e-5);
        /* retrieve returns the float32 value as given */
        const cJSON *pt =
            expect_ok(call("GET", "/collections/sp/points/5", NULL));
        ck_assert_double_eq_tol(
            cJSON_GetArrayItem(
                cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(pt, "vector"),
                                        "text"),
                    "values"),
                0)
                ->valuedouble,
            1.234, 1e-6);
        ck_assert_int_eq(child_stop(&ch, round == 0 ? SIGTERM : SIGKILL),
                         round == 0 ? 0 : -1);
        if (round == 0)
            child_start(&ch, args, NULL);
    }
    /* A catalog whose config says float16 for a vector holding 70000 (as
     * a build that showed index.datatype without applying it could leave
     * behind): the start warns and keeps the stored datatype instead of
     * failing the collection. */
    char path[512];
    snprintf(path, sizeof(path), "%s/catalog.json", storage);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[1 << 16];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *cat = cJSON_Parse(text);
    ck_assert_ptr_nonnull(cat);
    cJSON *ix = cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(
                    cJSON_GetObjectItem(
                        cJSON_GetArrayItem(
                            cJSON_GetObjectItem(cat, "collections"), 0),
                        "config"),
                    "params"),
                "sparse_vectors"),
            "text"),
        "index");
    ck_assert_ptr_nonnull(ix);
    cJSON_ReplaceItemInObject(ix, "datatype", cJSON_CreateString("float16"));
    char *out = cJSON_PrintUnformatted(cat);
    write_file(path, out);
    free(out);
    cJSON_Delete(cat);
    child_start(&ch, args, NULL);
    ck_assert_double_eq_tol(sparse_score(q1, 5), want, 1e-6); /* uint8 */
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* The qdrant/bm25 model with the prefix tokenizer over HTTP: documents
 * index every prefix of their words, a query word is one token (Qdrant
 * 1.19's bm25_inference.rs: tokenize_doc for documents, tokenize_query for
 * queries), so "hel" finds both "hello world" and "help", scored by the
 * BM25 value of "hel" in each: tf 1 of 10 tokens (h he hel hell hello w
 * wo wor worl world) and of 4 (h he hel help). */
START_TEST(test_bm25_prefix_query)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",    "0", "--storage", storage,
                                "--threads", "2", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("sp", "{\"sparse_vectors\":{\"text\":{}}}");
    const char *opts = "\"options\":{\"tokenizer\":\"prefix\","
                       "\"language\":\"none\"}";
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"points\":[{\"id\":1,\"vector\":{\"text\":{\"text\":"
             "\"Hello world\",\"model\":\"qdrant/bm25\",%s}}},{\"id\":2,"
             "\"vector\":{\"text\":{\"text\":\"help\",\"model\":"
             "\"qdrant/bm25\",%s}}}]}",
             opts, opts);
    expect_ok(call("PUT", "/collections/sp/points?wait=true", body));
    char q[256];
    snprintf(q, sizeof(q), "{\"text\":\"hel\",\"model\":\"qdrant/bm25\",%s}",
             opts);
    double v10 = 2.2 / (1 + 1.2 * (0.25 + 0.75 * 10 / 256.0));
    double v4 = 2.2 / (1 + 1.2 * (0.25 + 0.75 * 4 / 256.0));
    ck_assert_double_eq_tol(sparse_score(q, 1), v10, 1e-6);
    ck_assert_double_eq_tol(sparse_score(q, 2), v4, 1e-6);
    snprintf(q, sizeof(q), "{\"text\":\"hello\",\"model\":\"qdrant/bm25\",%s}",
             opts);
    ck_assert_double_eq_tol(sparse_score(q, 1), v10, 1e-6);
    ck_assert_double_eq(sparse_score(q, 2), -1); /* not a hit */
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* ---- 9. concurrency
 * -------------------------------------------------------------- */

typedef struct worker {
    int id;
    int failures;
} worker;

static long simple_request(CURL *h, const char *method, const char *path,
                           const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = -1;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    free(b.p);
    return status;
}

static void *work(void *arg)
{
    worker *w = arg;
    CURL *h = curl_easy_init();
    char path[64], alias[256];
    for (int i = 0; i < 40; i++) {
        snprintf(path, sizeof(path), "/collections/w%d_%d", w->id, i % 4);
        long s = simple_request(h, "PUT", path, SMALL);
        w->failures += s != 200 && s != 409;
        w->failures += simple_request(h, "GET", "/collections", NULL) != 200;
        w->failures += simple_request(h, "GET", "/metrics", NULL) != 200;
        snprintf(alias, sizeof(alias),
                 "{\"actions\":[{\"create_alias\":{\"collection_name\":"
                 "\"w%d_%d\",\"alias_name\":\"a%d\"}}]}",
                 w->id, i % 4, w->id);
        s = simple_request(h, "POST", "/collections/aliases", alias);
        w->failures += s != 200 && s != 404;
        snprintf(alias, sizeof(alias), "/collections/a%d", w->id);
        s = simple_request(h, "GET", alias, NULL);
        w->failures += s != 200 && s != 404;
        if (i % 3 == 0)
            w->failures += simple_request(h, "DELETE", path, NULL) != 200;
        /* Schema changes of one collection from every thread at once. */
        snprintf(alias, sizeof(alias),
                 "{\"field_name\":\"f%d\",\"field_schema\":\"keyword\"}",
                 w->id);
        w->failures +=
            simple_request(h, "PUT", "/collections/shared/index", alias) != 200;
        w->failures +=
            simple_request(h, "GET", "/collections/shared", NULL) != 200;
        snprintf(alias, sizeof(alias), "/collections/shared/index/f%d", w->id);
        if (i % 2 == 0)
            w->failures += simple_request(h, "DELETE", alias, NULL) != 200;
    }
    curl_easy_cleanup(h);
    return NULL;
}

START_TEST(test_concurrent_clients)
{
    enum { N = 4 };
    create("shared", SMALL);
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){i, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].failures, 0);
    }
    /* Each thread's last change (i = 39: added, not dropped) is there. */
    const cJSON *ps = cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/shared", NULL)), "payload_schema");
    ck_assert_int_eq(cJSON_GetArraySize(ps), N);
    /* The published state is consistent: every alias names a collection. */
    const cJSON *as = cJSON_GetObjectItem(
        expect_ok(call("GET", "/aliases", NULL)), "aliases");
    const cJSON *a;
    cJSON_ArrayForEach(a, as)
    {
        char path[300];
        snprintf(path, sizeof(path), "/collections/%s",
                 str(a, "collection_name"));
        expect_ok(call("GET", path, NULL));
    }
}
END_TEST

/* ---- the suite
 * ---------------------------------------------------------------------- */

/* ---- snapshots ------------------------------------------------------------
 */

/* Sends the request set up on `curl` (URL and body already set) with the
 * extra headers hl, and records the reply. */
static reply *perform_with(struct curl_slist *hl)
{
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &R.body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(hl);
    ck_assert_msg(rc == CURLE_OK, "%s", curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &R.status);
    char *ct = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    R.content_type = ct ? strdup(ct) : NULL;
    if (R.content_type && strstr(R.content_type, "application/json"))
        R.json = cJSON_ParseWithLength(R.body.p, R.body.len);
    return &R;
}

static void start_request(const char *path)
{
    reply_clear();
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
}

/* A request with a binary body (snapshot upload). */
static reply *call_raw(const char *method, const char *path, const char *data,
                       size_t len)
{
    start_request(path);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    return perform_with(hl);
}

/* A multipart/form-data upload, as Qdrant's clients and `curl -F` send
 * it: the file under field (NULL: a form without any file). */
static reply *call_form(const char *path, const char *field, const char *data,
                        size_t len)
{
    start_request(path);
    curl_mime *mime = curl_mime_init(curl);
    curl_mimepart *part = curl_mime_addpart(mime);
    if (field) {
        curl_mime_name(part, field);
        curl_mime_filename(part, "upload.snapshot");
        curl_mime_data(part, data, len);
    } else {
        curl_mime_name(part, "note");
        curl_mime_data(part, "hello", CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    reply *r = perform_with(curl_slist_append(NULL, "Expect:"));
    curl_mime_free(mime);
    return r;
}

static int points_of(const char *coll)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s", coll);
    return (int)num(expect_ok(call("GET", path, NULL)), "points_count");
}

START_TEST(test_snapshots)
{
    create("snap", SMALL);
    expect_ok(call("PUT", "/collections/snap/index",
                   "{\"field_name\":\"city\",\"field_schema\":\"keyword\"}"));
    expect_ok(call("PUT", "/collections/snap/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],\"payload\":"
                   "{\"city\":\"Oslo\"}},{\"id\":2,\"vector\":[0,1,0,0]},"
                   "{\"id\":3,\"vector\":[0,0,1,0],\"payload\":{\"n\":3}}]}"));

    const cJSON *d =
        expect_ok(call("POST", "/collections/snap/snapshots", "{}"));
    char name[512];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    ck_assert(strncmp(name, "snap-", 5) == 0);
    ck_assert_ptr_nonnull(strstr(name, ".snapshot"));
    /* SHA-256, as Qdrant's (checked against sha256sum below) */
    ck_assert_int_eq((int)strlen(str(d, "checksum")), 64);
    ck_assert_int_eq((int)strlen(str(d, "creation_time")), 19);
    size_t size = (size_t)num(d, "size");
    ck_assert_uint_gt(size, 32);

    const cJSON *list =
        expect_ok(call("GET", "/collections/snap/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(list, 0), "name"), name);

    char path[1024];
    snprintf(path, sizeof(path), "/collections/snap/snapshots/%s", name);
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_ptr_nonnull(R.content_type);
    ck_assert_str_eq(R.content_type, "application/octet-stream");
    ck_assert_uint_eq(R.body.len, size);
    char *file = malloc(size);
    ck_assert_ptr_nonnull(file);
    memcpy(file, R.body.p, size);

    /* Delete points, then restore them from the uploaded archive. */
    expect_ok(call("POST", "/collections/snap/points/delete?wait=true",
                   "{\"points\":[1,2]}"));
    ck_assert_int_eq(points_of("snap"), 1);
    ck_assert(cJSON_IsTrue(expect_ok(
        call_raw("POST", "/collections/snap/snapshots/upload", file, size))));
    ck_assert_int_eq(points_of("snap"), 3);
    const cJSON *info = expect_ok(call("GET", "/collections/snap", NULL));
    ck_assert_int_eq((int)num(info, "payload_schema.city.points"), 1);
    const cJSON *pt =
        expect_ok(call("GET", "/collections/snap/points/1", NULL));
    ck_assert_str_eq(str(pt, "payload.city"), "Oslo");

    /* A damaged or cut archive is refused and changes nothing. */
    expect_ok(call("POST", "/collections/snap/points/delete?wait=true",
                   "{\"points\":[3]}"));
    char *bad = malloc(size);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, file, size);
    bad[size - 100] ^= 0x5a;
    expect_error_prefix(
        call_raw("POST", "/collections/snap/snapshots/upload", bad, size), 400,
        "Bad request: not a valid snapshot");
    expect_error_prefix(
        call_raw("POST", "/collections/snap/snapshots/upload", file, size - 7),
        400, "Bad request: not a valid snapshot");
    expect_error_prefix(
        call_raw("POST", "/collections/snap/snapshots/upload", "junk", 4), 400,
        "Bad request: not a valid snapshot");
    ck_assert_int_eq(points_of("snap"), 2);

    /* The multipart form Qdrant's clients send: field `snapshot`. */
    ck_assert(cJSON_IsTrue(expect_ok(call_form(
        "/collections/snap/snapshots/upload", "snapshot", file, size))));
    ck_assert_int_eq(points_of("snap"), 3);
    expect_ok(call("POST", "/collections/snap/points/delete?wait=true",
                   "{\"points\":[3]}"));
    expect_error_prefix(
        call_form("/collections/snap/snapshots/upload", NULL, NULL, 0), 400,
        "Format error in multipart body: no file part");
    expect_error_prefix(
        call_form("/collections/snap/snapshots/upload", "snapshot", bad, size),
        400, "Bad request: not a valid snapshot");
    ck_assert_int_eq(points_of("snap"), 2);

    /* Recover by snapshot name, and into a new collection. */
    char body[1024];
    snprintf(body, sizeof(body), "{\"location\":\"%s\"}", name);
    ck_assert(cJSON_IsTrue(
        expect_ok(call("PUT", "/collections/snap/snapshots/recover", body))));
    ck_assert_int_eq(points_of("snap"), 3);
    ck_assert(cJSON_IsTrue(expect_ok(
        call_raw("POST", "/collections/copy/snapshots/upload", file, size))));
    ck_assert_int_eq(points_of("copy"), 3);
    snprintf(body, sizeof(body),
             "{\"location\":\"file://%s/snapshots/snap/%s\"}", storage, name);
    expect_ok(call("PUT", "/collections/copy/snapshots/recover", body));

    /* Untrusted names and locations. */
    /* A name no snapshot can have is Qdrant's 404 (its
     * tests/openapi/test_snapshot.py); a file:// location outside is its
     * 400 "must be inside the snapshots directory". */
    expect_error(call("GET", "/collections/snap/snapshots/..%2Fx", NULL), 404);
    expect_error(call("GET", "/collections/snap/snapshots/%2e%2e", NULL), 404);
    expect_error(call("DELETE", "/collections/snap/snapshots/x.txt", NULL),
                 404);
    expect_error(call("GET", "/collections/snap/snapshots/no.snapshot", NULL),
                 404);
    expect_error_prefix(call("PUT", "/collections/snap/snapshots/recover",
                             "{\"location\":\"file:///etc/passwd\"}"),
                        400,
                        "Bad request: Snapshot file path must be inside the "
                        "snapshots directory");
    snprintf(body, sizeof(body),
             "{\"location\":\"file://%s/../../etc/passwd\"}", storage);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    expect_error_msg(call("PUT", "/collections/snap/snapshots/recover",
                          "{\"location\":\"file://./etc/passwd\"}"),
                     400,
                     "Bad request: Invalid snapshot URI, file path must be "
                     "absolute or on localhost");
    /* http(s):// is downloaded now, but only from allowed hosts */
    expect_error(call("PUT", "/collections/snap/snapshots/recover",
                      "{\"location\":\"http://example.com/x.snapshot\"}"),
                 403);
    expect_error(call("PUT", "/collections/snap/snapshots/recover",
                      "{\"location\":\"../x.snapshot\"}"),
                 400);
    snprintf(body, sizeof(body), "{\"location\":\"%s\",\"checksum\":\"%s\"}",
             name, "0000000000000000");
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    ck_assert_int_eq(points_of("snap"), 3);

    /* wait=false answers 202; delete removes the file. */
    call("POST", "/collections/snap/snapshots?wait=false", "{}");
    ck_assert_int_eq(R.status, 202);
    list = expect_ok(call("GET", "/collections/snap/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 2);
    ck_assert(cJSON_IsTrue(expect_ok(call("DELETE", path, NULL))));
    expect_error(call("DELETE", path, NULL), 404);
    list = expect_ok(call("GET", "/collections/snap/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    expect_error(call("GET", "/collections/none/snapshots", NULL), 404);
    free(bad);
    free(file);
}
END_TEST

static void sha256sum(const char *path, char out[65]);

/* The points of collection c as JSON text (defined below). */
static char *scroll_text(const char *c);

/* Shard snapshots on a standalone node (Qdrant 1.19 src/actix/api/
 * snapshot_api.rs, lib/collection/src/shards/shard_holder/mod.rs): the
 * one shard is 0, kept in its own name space <c>-shard-0-<date>.snapshot;
 * shard 1 is 404 "shard 1 not found", a non-u32 id does not match the
 * route; recover and upload need the collection to exist and restore its
 * points bit for bit. */
START_TEST(test_shard_snapshots)
{
    create("ss", "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"}}");
    expect_ok(
        call("PUT", "/collections/ss/points?wait=true",
             "{\"points\":[{\"id\":1,\"vector\":[0.1234567,-3.25e-7,12345.678,"
             "0.3333333],\"payload\":{\"city\":\"Oslo\",\"n\":1.5}},"
             "{\"id\":9007199254740993,\"vector\":[0,1,0,0]},"
             "{\"id\":\"4a1b2c3d-0000-4000-8000-000000000001\","
             "\"vector\":[0.7,0.1,0.2,0.3]}]}"));
    char *before = scroll_text("ss");

    /* An empty list before any, and no collection snapshot appears. */
    const cJSON *list =
        expect_ok(call("GET", "/collections/ss/shards/0/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 0);
    const cJSON *d =
        expect_ok(call("POST", "/collections/ss/shards/0/snapshots", NULL));
    char name[512], sum[65], file[1024], want[65];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    ck_assert_msg(strncmp(name, "ss-shard-0-", 11) == 0, "%s", name);
    ck_assert_int_eq((int)strlen(name), 11 + 19 + 9);
    snprintf(sum, sizeof(sum), "%s", str(d, "checksum"));
    snprintf(file, sizeof(file), "%s/snapshots/ss/shards/0/%s", storage, name);
    sha256sum(file, want);
    ck_assert_str_eq(sum, want);
    size_t size = (size_t)num(d, "size");
    list = expect_ok(call("GET", "/collections/ss/shards/0/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(list, 0), "name"), name);
    ck_assert_str_eq(str(cJSON_GetArrayItem(list, 0), "checksum"), want);
    list = expect_ok(call("GET", "/collections/ss/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 0);

    /* Download: the bytes whose SHA-256 was listed. */
    char path[1200];
    snprintf(path, sizeof(path), "/collections/ss/shards/0/snapshots/%s", name);
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_str_eq(R.content_type, "application/octet-stream");
    ck_assert_uint_eq(R.body.len, size);
    char *bytes = malloc(size);
    ck_assert_ptr_nonnull(bytes);
    memcpy(bytes, R.body.p, size);
    FILE *f = fopen(file, "rb");
    ck_assert_ptr_nonnull(f);
    char *disk = malloc(size);
    ck_assert_ptr_nonnull(disk);
    ck_assert_uint_eq(fread(disk, 1, size, f), size);
    fclose(f);
    ck_assert(memcmp(disk, bytes, size) == 0);
    free(disk);

    /* Upload round trip: points changed, then restored bit for bit. */
    expect_ok(call("POST", "/collections/ss/points/delete?wait=true",
                   "{\"points\":[1]}"));
    expect_ok(call("PUT", "/collections/ss/points?wait=true",
                   "{\"points\":[{\"id\":5,\"vector\":[1,1,1,1]}]}"));
    char up[1200], msg[300];
    snprintf(up, sizeof(up),
             "/collections/ss/shards/0/snapshots/upload?checksum=%064d", 0);
    snprintf(msg, sizeof(msg), "Checksum mismatch: expected %s, actual %064d",
             want, 0);
    expect_error_msg(call_raw("POST", up, bytes, size), 400, msg);
    snprintf(up, sizeof(up),
             "/collections/ss/shards/0/snapshots/upload?checksum=%s", want);
    ck_assert(cJSON_IsTrue(expect_ok(call_raw("POST", up, bytes, size))));
    char *after = scroll_text("ss");
    ck_assert_str_eq(after, before);
    free(after);
    /* Through an alias: the aliased collection is restored, no
     * collection of the alias's name appears. */
    aliases("{\"actions\":[{\"create_alias\":{\"collection_name\":\"ss\","
            "\"alias_name\":\"ssa\"}}]}");
    expect_ok(call("POST", "/collections/ss/points/delete?wait=true",
                   "{\"points\":[1]}"));
    ck_assert(cJSON_IsTrue(expect_ok(call_raw(
        "POST", "/collections/ssa/shards/0/snapshots/upload", bytes, size))));
    ck_assert_int_eq(points_of("ss"), 3);
    const cJSON *colls = expect_ok(call("GET", "/collections", NULL));
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(colls, "collections")), 1);
    ck_assert_int_eq(cJSON_GetArraySize(expect_ok(call(
                         "GET", "/collections/ssa/shards/0/snapshots", NULL))),
                     1);
    /* multipart, as Qdrant's clients send it */
    expect_ok(call("POST", "/collections/ss/points/delete?wait=true",
                   "{\"points\":[1]}"));
    ck_assert(cJSON_IsTrue(
        expect_ok(call_form("/collections/ss/shards/0/snapshots/upload",
                            "snapshot", bytes, size))));
    ck_assert_int_eq(points_of("ss"), 3);

    /* Recover by name (this shard's name space), checksum checked. */
    expect_ok(call("POST", "/collections/ss/points/delete?wait=true",
                   "{\"points\":[1]}"));
    char body[1400];
    snprintf(body, sizeof(body), "{\"location\":\"%s\",\"checksum\":\"%s\"}",
             name, want);
    ck_assert(cJSON_IsTrue(expect_ok(
        call("PUT", "/collections/ss/shards/0/snapshots/recover", body))));
    after = scroll_text("ss");
    ck_assert_str_eq(after, before);
    free(after);
    /* by file:// inside the storage */
    snprintf(body, sizeof(body), "{\"location\":\"file://%s\"}", file);
    ck_assert(cJSON_IsTrue(expect_ok(
        call("PUT", "/collections/ss/shards/0/snapshots/recover", body))));
    expect_error(call("PUT", "/collections/ss/shards/0/snapshots/recover",
                      "{\"location\":\"file:///etc/passwd\"}"),
                 400);
    expect_error(call("PUT", "/collections/ss/shards/0/snapshots/recover",
                      "{\"location\":\"other.snapshot\"}"),
                 404);
    expect_error(
        call("PUT", "/collections/ss/shards/0/snapshots/recover", "{}"), 400);

    /* The streamed snapshot: a whole archive, kept nowhere. */
    call("GET", "/collections/ss/shards/0/snapshot", NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_str_eq(R.content_type, "application/octet-stream");
    ck_assert_uint_gt(R.body.len, 32);
    ck_assert(memcmp(R.body.p, "QVCSNAP", 7) == 0);
    list = expect_ok(call("GET", "/collections/ss/shards/0/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    char tmpdir[1200];
    snprintf(tmpdir, sizeof(tmpdir), "ls -A '%s/snapshots' | grep -c '^.tmp-'",
             storage);
    FILE *p = popen(tmpdir, "r");
    ck_assert_ptr_nonnull(p);
    int tmps = -1;
    ck_assert_int_eq(fscanf(p, "%d", &tmps), 1);
    pclose(p);
    ck_assert_int_eq(tmps, 0);

    /* Shards other than 0, ids that are not u32, missing collections. */
    expect_error_msg(call("GET", "/collections/ss/shards/1/snapshots", NULL),
                     404, "Not found: shard 1 not found");
    expect_error_msg(call("POST", "/collections/ss/shards/7/snapshots", NULL),
                     404, "Not found: shard 7 not found");
    snprintf(path, sizeof(path), "/collections/ss/shards/1/snapshots/%s", name);
    expect_error(call("GET", path, NULL), 404);
    expect_error(call("DELETE", path, NULL), 404);
    expect_error(call_raw("POST", "/collections/ss/shards/1/snapshots/upload",
                          bytes, size),
                 404);
    expect_error(call("GET", "/collections/ss/shards/x/snapshots", NULL), 404);
    expect_error(
        call("GET", "/collections/ss/shards/4294967296/snapshots", NULL), 404);
    expect_error(call("GET", "/collections/ss/shards/1/snapshot", NULL), 404);
    expect_error_msg(call("GET", "/collections/none/shards/0/snapshots", NULL),
                     404, "Not found: Collection `none` doesn't exist!");
    expect_error_msg(call_raw("POST",
                              "/collections/none/shards/0/snapshots/upload",
                              bytes, size),
                     404, "Not found: Collection `none` doesn't exist!");
    snprintf(body, sizeof(body), "{\"location\":\"file://%s\"}", file);
    expect_error(
        call("PUT", "/collections/none/shards/0/snapshots/recover", body), 404);
    expect_error(call("GET", "/collections/none", NULL), 404);
    expect_error(call("GET", "/collections/ss/shards/0/snapshots/x.txt", NULL),
                 404);
    expect_error(call("GET", "/collections/ss/shards/0/snapshots/%2e%2e", NULL),
                 404);

    /* wait=false, then delete. */
    call("POST", "/collections/ss/shards/0/snapshots?wait=false", NULL);
    ck_assert_int_eq(R.status, 202);
    list = expect_ok(call("GET", "/collections/ss/shards/0/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 2);
    snprintf(path, sizeof(path), "/collections/ss/shards/0/snapshots/%s", name);
    ck_assert(cJSON_IsTrue(expect_ok(call("DELETE", path, NULL))));
    expect_error(call("DELETE", path, NULL), 404);
    ck_assert_int_ne(access(file, F_OK), 0);
    list = expect_ok(call("GET", "/collections/ss/shards/0/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    free(bytes);
    free(before);
}
END_TEST

/* ---- data fidelity (issue "Server hardening and data fidelity", 5-9) ---- */

/* Ids above 2^53 and payload numbers through the real server, bit for bit
 * in the reply's text (Qdrant keeps ids as u64 and payloads as serde_json
 * Values: i64, u64, f64 printed shortest round-trip). */
START_TEST(test_exact_numbers)
{
    create("n", SMALL);
    expect_ok(call("PUT", "/collections/n/points?wait=true",
                   "{\"points\":[{\"id\":9007199254740993,\"vector\":[1,0,0,0],"
                   "\"payload\":{\"x\":0.30000000000000004,\"y\":"
                   "9007199254740993,\"z\":9223372036854775808,\"w\":1.0,"
                   "\"m\":1.7976931348623157e308}},"
                   "{\"id\":9007199254740992,\"vector\":[0,1,0,0]}]}"));
    ck_assert_double_eq(
        num(expect_ok(call("POST", "/collections/n/points/count", "{}")),
            "count"),
        2);
    call("GET", "/collections/n/points/9007199254740993", NULL);
    ck_assert_int_eq(R.status, 200);
    ck_assert_msg(strstr(R.body.p, "\"id\":9007199254740993,") &&
                      strstr(R.body.p,
                             "{\"x\":0.30000000000000004,\"y\":"
                             "9007199254740993,\"z\":9223372036854775808,"
                             "\"w\":1.0,\"m\":1.7976931348623157e308}"),
                  "%s", R.body.p);
    /* match compares integers exactly: 2^53+1 is not 2^53 */
    call("POST", "/collections/n/points/scroll",
         "{\"filter\":{\"must\":[{\"key\":\"y\",\"match\":{\"value\":"
         "9007199254740992}}]}}");
    ck_assert_msg(strstr(R.body.p, "\"points\":[]"), "%s", R.body.p);
    /* ... also when an integer index answers the condition (its keys
     * tell 2^53 + 1 from 2^53, core/pindex/pindex_num.c) */
    expect_ok(call("PUT", "/collections/n/points?wait=true",
                   "{\"points\":[{\"id\":3,\"vector\":[0,0,1,0],"
                   "\"payload\":{\"y\":9007199254740992}}]}"));
    expect_ok(call("PUT", "/collections/n/index?wait=true",
                   "{\"field_name\":\"y\",\"field_schema\":\"integer\"}"));
    for (int i = 0; i < 2; i++) {
        char body[200];
        snprintf(body, sizeof(body),
                 "{\"filter\":{\"must\":[{\"key\":\"y\",\"match\":{"
                 "\"%s\":%s}}]},\"exact\":true}",
                 i ? "any" : "value",
                 i ? "[9007199254740993]" : "9007199254740993");
        call("POST", "/collections/n/points/count", body);
        ck_assert_msg(strstr(R.body.p, "{\"count\":1}"), "%s", R.body.p);
    }
    /* Ids serde refuses for a u64: negative, floats (2.0, 1e2), > 2^64-1 */
    static const char *const bad[] = {"-1", "2.0", "1e2",
                                      "18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"points\":[{\"id\":%s,\"vector\":[1,0,0,0]}]}", bad[i]);
        expect_error_prefix(call("PUT", "/collections/n/points", body), 400,
                            "Format error in JSON body: points[0].id: ");
    }
}
END_TEST

/* The (id, order_value) pairs of the last reply, as their texts
 * "id:value,...", read from the reply's own text (cJSON would round both
 * above 2^53). */
static char *order_pairs(void)
{
    static char out[2048];
    size_t len = 0;
    out[0] = '\0';
    const char *p = R.body.p;
    while (p && (p = strstr(p, "{\"id\":"))) {
        p += 6;
        size_t idn = strcspn(p, ",}");
        const char *v = strstr(p, "\"order_value\":");
        ck_assert_msg(v, "no order_value in %s", R.body.p);
        v += 14;
        size_t vn = strcspn(v, ",}");
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%.*s:%.*s",
                                len ? "," : "", (int)idn, p, (int)vn, v);
        p = v;
    }
    return out;
}

/* order_by over integers beyond 2^53 through the real server: ordered
 * exactly, start_from taken from its text, order_value printed as the
 * integer it is.  Qdrant's OrderValue is Int(i64) | Float(f64)
 * (qdrant/qdrant lib/segment/src/data_types/order_by.rs), its StartFrom
 * Integer(i64) | Float(f64) | Datetime; u64 values are Quiver's
 * widening, as its payloads keep them. */
START_TEST(test_exact_order_by)
{
    create("o", SMALL);
    expect_ok(call(
        "PUT", "/collections/o/points?wait=true",
        "{\"points\":["
        "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"n\":9007199254740992}},"
        "{\"id\":2,\"vector\":[1,0,0,0],\"payload\":{\"n\":9007199254740993}},"
        "{\"id\":3,\"vector\":[1,0,0,0],\"payload\":{\"n\":"
        "9223372036854775807}},"
        "{\"id\":4,\"vector\":[1,0,0,0],\"payload\":{\"n\":"
        "9223372036854775808}},"
        "{\"id\":5,\"vector\":[1,0,0,0],\"payload\":{\"n\":"
        "18446744073709551615}},"
        "{\"id\":6,\"vector\":[1,0,0,0],\"payload\":{\"n\":"
        "-9223372036854775808}},"
        "{\"id\":7,\"vector\":[1,0,0,0],\"payload\":{\"n\":1.5}},"
        "{\"id\":8,\"vector\":[1,0,0,0],\"payload\":{\"n\":"
        "9007199254740992.0}}]}"));
    expect_ok(call("PUT", "/collections/o/index?wait=true",
                   "{\"field_name\":\"n\",\"field_schema\":\"integer\"}"));
    static const struct {
        const char *order_by, *want;
    } cases[] = {
        {"\"n\"", "6:-9223372036854775808,7:1.5,1:9007199254740992,"
                  "8:9007199254740992,2:9007199254740993,"
                  "3:9223372036854775807,4:9223372036854775808,"
                  "5:18446744073709551615"},
        {"{\"key\":\"n\",\"direction\":\"desc\"}",
         "5:18446744073709551615,4:9223372036854775808,"
         "3:9223372036854775807,2:9007199254740993,8:9007199254740992,"
         "1:9007199254740992,7:1.5,6:-9223372036854775808"},
        /* start_from exact at each edge */
        {"{\"key\":\"n\",\"start_from\":9007199254740993}",
         "2:9007199254740993,3:9223372036854775807,4:9223372036854775808,"
         "5:18446744073709551615"},
        {"{\"key\":\"n\",\"direction\":\"desc\",\"start_from\":"
         "9007199254740992}",
         "8:9007199254740992,1:9007199254740992,7:1.5,"
         "6:-9223372036854775808"},
        {"{\"key\":\"n\",\"start_from\":9223372036854775807}",
         "3:9223372036854775807,4:9223372036854775808,"
         "5:18446744073709551615"},
        {"{\"key\":\"n\",\"direction\":\"desc\",\"start_from\":"
         "9223372036854775808}",
         "4:9223372036854775808,3:9223372036854775807,2:9007199254740993,"
         "8:9007199254740992,1:9007199254740992,7:1.5,"
         "6:-9223372036854775808"},
        {"{\"key\":\"n\",\"start_from\":18446744073709551615}",
         "5:18446744073709551615"},
        {"{\"key\":\"n\",\"direction\":\"desc\",\"start_from\":"
         "-9223372036854775808}",
         "6:-9223372036854775808"},
        /* a float start compares as a number: 2^63 as a double is
         * 2^63 exactly, above 2^63 - 1 */
        {"{\"key\":\"n\",\"start_from\":9.223372036854775808e18}",
         "4:9223372036854775808,5:18446744073709551615"},
        {"{\"key\":\"n\",\"start_from\":1}",
         "7:1.5,1:9007199254740992,8:9007199254740992,2:9007199254740993,"
         "3:9223372036854775807,4:9223372036854775808,"
         "5:18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"order_by\":%s,\"with_payload\":false,\"limit\":20}",
                 cases[i].order_by);
        expect_ok(call("POST", "/collections/o/points/scroll", body));
        ck_assert_msg(strcmp(order_pairs(), cases[i].want) == 0,
                      "scroll %s: got [%s], want [%s]", cases[i].order_by,
                      order_pairs(), cases[i].want);
        snprintf(body, sizeof(body),
                 "{\"query\":{\"order_by\":%s},\"limit\":20}",
                 cases[i].order_by);
        expect_ok(call("POST", "/collections/o/points/query", body));
        ck_assert_msg(strcmp(order_pairs(), cases[i].want) == 0,
                      "query %s: got [%s], want [%s]", cases[i].order_by,
                      order_pairs(), cases[i].want);
    }
    /* Paging from the last value seen, excluding the ids seen: two pages
     * of three cover 2^53 .. 2^64 - 1 without a skip or a repeat. */
    expect_ok(call("POST", "/collections/o/points/scroll",
                   "{\"order_by\":{\"key\":\"n\",\"start_from\":"
                   "9007199254740992},\"limit\":3,\"with_payload\":false}"));
    ck_assert_str_eq(order_pairs(), "1:9007199254740992,8:9007199254740992,"
                                    "2:9007199254740993");
    expect_ok(call("POST", "/collections/o/points/scroll",
                   "{\"order_by\":{\"key\":\"n\",\"start_from\":"
                   "9007199254740993},\"filter\":{\"must_not\":[{\"has_id\":"
                   "[1,8,2]}]},\"limit\":3,\"with_payload\":false}"));
    ck_assert_str_eq(order_pairs(),
                     "3:9223372036854775807,4:9223372036854775808,"
                     "5:18446744073709551615");
}
END_TEST

/* What serde_json refuses and cJSON accepted (items 7-9).  Qdrant decodes
 * bodies with actix's Json extractor over serde_json and answers its errors
 * with 400 {"status":{"error":"Format error in JSON body: <serde message>
 * at line L column C"}}: "expected value" for a byte-order mark, "invalid
 * number" for a leading zero, "invalid unicode code point" for bytes that
 * are not UTF-8, "duplicate field `vector`" for a struct field given twice
 * (serde derive), and "data did not match any variant of untagged enum
 * PointInsertOperations" for a body that is both forms at once.  Query
 * strings are decoded before the handler too (openapi: timeout integer
 * >= 1, ordering WriteOrdering, consistency ReadConsistency). */
START_TEST(test_strict_bodies)
{
    create("s", SMALL);
    const char *pt = "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]}]}";
    char body[256];
    snprintf(body, sizeof(body), "\xEF\xBB\xBF%s", pt);
    expect_error_msg(call("PUT", "/collections/s/points", body), 400,
                     "Format error in JSON body: expected value at line 1 "
                     "column 1");
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":01,\"vector\":[1,0,0,0]}]}"),
        400, "Format error in JSON body: invalid number at line 1 column");
    /* a control byte between tokens (cJSON takes it for whitespace; found
     * by fuzz_http_body) */
    expect_error_prefix(
        call("POST", "/collections/s/points", "{\x01\"ids\":[1]}"), 400,
        "Format error in JSON body: control character");
    /* invalid UTF-8 in a payload value, a payload key, a filter value */
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],"
             "\"payload\":{\"k\":\"a\xFF\"}}]}"),
        400, "Format error in JSON body: invalid unicode code point");
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],"
             "\"payload\":{\"\xC0\xAF\":1}}]}"),
        400, "Format error in JSON body: invalid unicode code point");
    expect_error_prefix(
        call("POST", "/collections/s/points/count",
             "{\"filter\":{\"must\":[{\"key\":\"k\","
             "\"match\":{\"value\":\"\xED\xA0\x80\"}}]}}"),
        400, "Format error in JSON body: invalid unicode code point");
    /* a raw control character inside a string (serde refuses it) */
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],"
             "\"payload\":{\"k\":\"a\x01b\"}}]}"),
        400,
        "Format error in JSON body: control character (\\u0000-\\u001F) "
        "found while parsing a string at line 1 column");
    /* \u0000 is refused, never cut: keys, values, alias names */
    expect_error_prefix(call("PUT", "/collections/s/points",
                             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],"
                             "\"payload\":{\"k\\u0000x\":\"a\\u0000b\"}}]}"),
                        400, "Format error in JSON body: the escape \\u0000");
    expect_error_prefix(
        call("POST", "/collections/aliases",
             "{\"actions\":[{\"create_alias\":{\"collection_name\":\"s\","
             "\"alias_name\":\"al\\u0000ias\"}}]}"),
        400, "Format error in JSON body: the escape \\u0000");
    ck_assert_int_eq(alias_count("/aliases"), 0);
    /* a path that is not UTF-8 once percent-decoded: 400 on every route,
     * and never echoed (a GET of the name used to put the raw bytes in
     * its "doesn't exist" message, which made the reply invalid JSON) */
    const char *not_utf8 = "Bad request: the request path is not valid UTF-8";
    expect_error_prefix(call("PUT", "/collections/a%FFb", SMALL), 400,
                        not_utf8);
    expect_error_prefix(call("GET", "/collections/a%FFb", NULL), 400, not_utf8);
    expect_error_prefix(call("GET", "/collections/s/points/%C0%AF", NULL), 400,
                        not_utf8);
    ck_assert_ptr_nonnull(expect_ok(call("GET", "/collections", NULL)));
    /* both upsert forms, a duplicate "vector" */
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]}],"
             "\"batch\":{\"ids\":[2],\"vectors\":[[1,0,0,0]]}}"),
        400,
        "Format error in JSON body: data did not match any variant of "
        "untagged enum PointInsertOperations");
    expect_error_prefix(
        call("PUT", "/collections/s/points",
             "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],"
             "\"vector\":[0,1,0,0]}]}"),
        400, "Format error in JSON body: points[0]: duplicate field `vector`");
    /* query parameters */
    expect_error_prefix(call("PUT", "/collections/s/points?timeout=abc", pt),
                        400, "Deserialize error in query parameters: timeout");
    expect_error_prefix(call("PUT", "/collections/s/points?ordering=bogus", pt),
                        400,
                        "Deserialize error in query parameters: ordering: "
                        "unknown variant `bogus`");
    expect_error_prefix(
        call("POST", "/collections/s/points/scroll?consistency=bogus", "{}"),
        400, "Deserialize error in query parameters: consistency");
    ck_assert_double_eq(
        num(expect_ok(call("POST", "/collections/s/points/count", "{}")),
            "count"),
        0);
    /* the valid spellings still pass */
    expect_ok(call("PUT",
                   "/collections/s/points?wait=true&timeout=5&ordering=strong",
                   pt));
    expect_ok(call("POST", "/collections/s/points/scroll?consistency=majority",
                   "{}"));
    expect_ok(call("POST", "/collections/s/points/scroll?consistency=2", "{}"));
    expect_ok(call("POST", "/collections/s/points/scroll?consistency=", "{}"));
}
END_TEST

/* ---- snapshot errors (issue "Server hardening", item 11) ----------------- */

/* Recomputes the archive header's checksum after the header was edited in
 * place (same length). */
static void rehash_header(char *file)
{
    uint64_t hlen, h;
    memcpy(&hlen, file + 16, 8);
    h = XXH3_64bits(file + 32, hlen);
    memcpy(file + 24, &h, 8);
}

/* Downloads the newest snapshot of coll into a malloc'ed buffer. */
static char *snapshot_bytes(const char *coll, size_t *size)
{
    char path[512];
    snprintf(path, sizeof(path), "/collections/%s/snapshots", coll);
    const cJSON *d = expect_ok(call("POST", path, "{}"));
    snprintf(path, sizeof(path), "/collections/%s/snapshots/%s", coll,
             str(d, "name"));
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    *size = R.body.len;
    char *file = malloc(*size);
    ck_assert_ptr_nonnull(file);
    memcpy(file, R.body.p, *size);
    return file;
}

/* No error message may print where the storage lives. */
static void expect_no_storage_path(const char *msg)
{
    char real[PATH_MAX];
    ck_assert_msg(!strstr(msg, storage), "storage path in '%s'", msg);
    if (realpath(storage, real))
        ck_assert_msg(!strstr(msg, real), "storage path in '%s'", msg);
}

START_TEST(test_snapshot_errors)
{
    /* A collection name of 255 two-byte characters fits Qdrant's limit but
     * no file name: a 400 in the envelope, not a 500. */
    char enc[255 * 6 + 64] = "/collections/";
    for (int i = 0; i < 255; i++)
        strcat(enc, "%C3%A9");
    expect_ok(call("PUT", enc, SMALL));
    strcat(enc, "/snapshots");
    expect_no_storage_path(expect_error(call("POST", enc, "{}"), 400));
    /* ... nor does one whose archive name would fit but not its
     * temporary ("<name>.tmp-XXXXXX"). */
    char longer[300];
    memset(longer, 'a', 216);
    longer[216] = '\0';
    char path[512];
    snprintf(path, sizeof(path), "/collections/%s", longer);
    expect_ok(call("PUT", path, SMALL));
    snprintf(path, sizeof(path), "/collections/%s/snapshots", longer);
    expect_error(call("POST", path, "{}"), 400);

    /* An uploaded archive that names an unknown payload index type. */
    create("snap", SMALL);
    expect_ok(call("PUT", "/collections/snap/index",
                   "{\"field_name\":\"city\",\"field_schema\":\"keyword\"}"));
    expect_ok(call("PUT", "/collections/snap/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],\"payload\":"
                   "{\"city\":\"Oslo\"}}]}"));
    size_t size;
    char *file = snapshot_bytes("snap", &size);
    uint64_t hlen;
    memcpy(&hlen, file + 16, 8);
    char *header = strndup(file + 32, hlen);
    char *kw = strstr(header, "\"data_type\":\"keyword\"");
    ck_assert_ptr_nonnull(kw);
    char *bad = malloc(size);
    memcpy(bad, file, size);
    memcpy(bad + 32 + (kw - header) + 13, "nothing", 7);
    rehash_header(bad);
    expect_error_prefix(
        call_raw("POST", "/collections/snap/snapshots/upload", bad, size), 400,
        "Bad request: not a valid snapshot");
    ck_assert_int_eq(points_of("snap"), 1);

    /* A member that fails the library's verification (its own checksum
     * made to match): the message names no storage path. */
    memcpy(bad, file, size);
    bad[size - 1] ^= 0x01;
    uint64_t mh = XXH3_64bits(bad + 32 + hlen, size - 32 - hlen);
    char *x = strstr(header, "\"xxh3\":\"");
    ck_assert_ptr_nonnull(x);
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)mh);
    memcpy(bad + 32 + (x - header) + 8, hex, 16);
    rehash_header(bad);
    const char *e = expect_error(
        call_raw("POST", "/collections/snap/snapshots/upload", bad, size), 400);
    expect_no_storage_path(e);
    free(header);
    free(bad);
    free(file);

    /* Outside the storage directory, existing or not: the same answer. */
    char body[1024];
    expect_error(call("PUT", "/collections/snap/snapshots/recover",
                      "{\"location\":\"file:///etc/passwd\"}"),
                 400);
    expect_error(call("PUT", "/collections/snap/snapshots/recover",
                      "{\"location\":\"file:///no-such-dir-q/x.snapshot\"}"),
                 400);
    expect_error(call("PUT", "/collections/snap/snapshots/recover",
                      "{\"location\":\"file:///etc/no-such-file-q\"}"),
                 400);
    snprintf(body, sizeof(body),
             "{\"location\":\"file://%s/../no-such-file-q\"}", storage);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    /* A link inside the storage that leads out answers as outside too,
     * dangling or not. */
    char link[512];
    snprintf(link, sizeof(link), "%s/out.snapshot", storage);
    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
    snprintf(body, sizeof(body), "{\"location\":\"file://%s\"}", link);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    unlink(link);
    ck_assert_int_eq(symlink("/etc/no-such-file-q", link), 0);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    unlink(link);
    /* Missing inside the storage: 404, without the storage path. */
    snprintf(body, sizeof(body),
             "{\"location\":\"file://%s/snapshots/snap/none.snapshot\"}",
             storage);
    expect_no_storage_path(expect_error(
        call("PUT", "/collections/snap/snapshots/recover", body), 404));
    snprintf(body, sizeof(body),
             "{\"location\":\"file://%s/no-dir/none.snapshot\"}", storage);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 404);
    /* ... but not through a link that leads out. */
    ck_assert_int_eq(symlink("/etc", link), 0);
    snprintf(body, sizeof(body), "{\"location\":\"file://%s/no-such-file-q\"}",
             link);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    snprintf(body, sizeof(body), "{\"location\":\"file://%s/passwd\"}", link);
    expect_error(call("PUT", "/collections/snap/snapshots/recover", body), 400);
    unlink(link);
    ck_assert_int_eq(points_of("snap"), 1);

    /* Any endpoint: a library failure that names a file (the store's
     * tmp/ replaced by a plain file) is reported without the storage. */
    char tmpdir[512];
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", storage);
    rm_rf(tmpdir);
    write_file(tmpdir, "x");
    e = expect_error(call("PUT", "/collections/other", SMALL), 500);
    ck_assert_ptr_nonnull(strstr(e, "tmp/"));
    expect_no_storage_path(e);
    unlink(tmpdir);
    ck_assert_int_eq(mkdir(tmpdir, 0755), 0);
}
END_TEST

/* ---- leftovers of a killed recovery -------------------------------------- */

static void write_junk(const char *path, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < size; i++)
        fputc((int)(i * 131u), f);
    ck_assert_int_eq(fclose(f), 0);
}

static bool exists(const char *fmt, const char *a)
{
    char path[1024];
    snprintf(path, sizeof(path), fmt, storage, a);
    return access(path, F_OK) == 0;
}

START_TEST(test_snapshot_leftovers)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",    "0", "--storage", storage,
                                "--threads", "2", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("snap", SMALL);
    expect_ok(call("PUT", "/collections/snap/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]}]}"));
    size_t size;
    free(snapshot_bytes("snap", &size));
    ck_assert_int_eq(child_stop(&ch, SIGKILL), -1);

    /* What a recovery killed mid-way leaves: its private directory with
     * the upload and extracted members (one still being written), a
     * half-written archive and catalog file.  Decoys of similar names that
     * are not ours must stay. */
    char p[1024];
    snprintf(p, sizeof(p), "%s/snapshots/.tmp-Ab12Cd", storage);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/upload.snapshot");
    write_junk(p, 1 << 20);
    snprintf(p, sizeof(p), "%s/snapshots/.tmp-Ab12Cd/m0.qvs", storage);
    write_junk(p, 4096);
    snprintf(p, sizeof(p), "%s/snapshots/.tmp-Ab12Cd/m1.qvs.tmp-zZ09aa",
             storage);
    write_junk(p, 100);
    snprintf(p, sizeof(p), "%s/snapshots/snap/x.snapshot.tmp-Qw3rty", storage);
    write_junk(p, 100);
    /* a whole-storage snapshot being written */
    snprintf(p, sizeof(p),
             "%s/snapshots/full-snapshot-2026-01-01-00-00-00.snapshot.tmp-"
             "Fu11aa",
             storage);
    write_junk(p, 100);
    snprintf(p, sizeof(p), "%s/catalog.json.tmp-a1B2c3", storage);
    write_junk(p, 10);
    /* a shard snapshot being written, and a streamed one being sent */
    snprintf(p, sizeof(p), "%s/snapshots/snap/shards", storage);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/0");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/snap-shard-0-2026-01-01-00-00-00.snapshot.tmp-Sh4rd0");
    write_junk(p, 100);
    snprintf(p, sizeof(p), "%s/snapshots/snap/shards/0/keep.snapshot", storage);
    write_junk(p, 10);
    snprintf(p, sizeof(p), "%s/snapshots/.tmp-Str3am", storage);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/stream.snapshot");
    write_junk(p, 1000);
    snprintf(p, sizeof(p),
             "%s/snapshots/.tmp-Str3am/stream.snapshot.tmp-9aZ0bc", storage);
    write_junk(p, 100);
    snprintf(p, sizeof(p), "%s/snapshots/.tmp-keep01", storage);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    strcat(p, "/keep.snapshot");
    write_junk(p, 10);
    snprintf(p, sizeof(p), "%s/snapshots/snap/keep.snapshot.tmp-toolong",
             storage);
    write_junk(p, 10);

    /* ... and a checkpoint's snapshot being written. */
    char colls[600], ckpt[1024] = "";
    snprintf(colls, sizeof(colls), "%s/collections", storage);
    DIR *cd = opendir(colls);
    ck_assert_ptr_nonnull(cd);
    for (struct dirent *e; (e = readdir(cd));)
        if (e->d_name[0] != '.')
            snprintf(ckpt, sizeof(ckpt), "%s/%s/snapshot.qvs.tmp-Zx81pQ", colls,
                     e->d_name);
    closedir(cd);
    ck_assert(ckpt[0]);
    write_junk(ckpt, 5000);

    child_start(&ch, args, NULL);
    ck_assert_int_ne(access(ckpt, F_OK), 0);
    ck_assert(!exists("%s/snapshots/%s", ".tmp-Ab12Cd"));
    ck_assert(!exists("%s/snapshots/snap/%s", "x.snapshot.tmp-Qw3rty"));
    ck_assert(!exists("%s/snapshots/%s",
                      "full-snapshot-2026-01-01-00-00-00.snapshot.tmp-Fu11aa"));
    ck_assert(!exists("%s/%s", "catalog.json.tmp-a1B2c3"));
    ck_assert(!exists("%s/snapshots/snap/shards/0/%s",
                      "snap-shard-0-2026-01-01-00-00-00.snapshot.tmp-Sh4rd0"));
    ck_assert(exists("%s/snapshots/snap/shards/0/%s", "keep.snapshot"));
    ck_assert(!exists("%s/snapshots/%s", ".tmp-Str3am"));
    ck_assert(exists("%s/snapshots/%s", ".tmp-keep01/keep.snapshot"));
    ck_assert(exists("%s/snapshots/snap/%s", "keep.snapshot.tmp-toolong"));
    ck_assert_int_eq(points_of("snap"), 1);
    ck_assert_int_eq(cJSON_GetArraySize(expect_ok(
                         call("GET", "/collections/snap/snapshots", NULL))),
                     1);
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* An upload on its own connection, whose outcome (the server is killed
 * under it) does not matter. */
typedef struct upload_job {
    const char *url;
    const char *data;
    size_t len;
    atomic_bool done;
} upload_job;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

static void *upload_thread(void *arg)
{
    upload_job *j = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(h);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    atomic_store(&j->done, true);
    return NULL;
}

/* The name of a ".tmp-*" directory in STORAGE/snapshots, or "". */
static void find_tmp(char *out, size_t cap)
{
    char top[600];
    snprintf(top, sizeof(top), "%s/snapshots", storage);
    out[0] = '\0';
    DIR *d = opendir(top);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, ".tmp-", 5) == 0)
            snprintf(out, cap, "%s/%s", top, e->d_name);
    if (d)
        closedir(d);
}

/* A real kill -9 in the middle of an upload's recovery: the server is
 * killed once its temporary directory is seen (no timed sleep), and the
 * restarted server removes what it left. */
START_TEST(test_snapshot_kill9_upload)
{
    make_storage();
    curl = curl_easy_init();
    const char *const args[] = {"--port",
                                "0",
                                "--storage",
                                storage,
                                "--threads",
                                "2",
                                "--max-request-size-mb",
                                "100",
                                NULL};
    /* A large body keeps the upload's temporary directory on disk while
     * the body is written to it, long enough to be seen. */
    size_t len = (size_t)64 << 20;
    char *data = malloc(len);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    char left[1024] = "";
    for (int attempt = 0; attempt < 20 && !left[0]; attempt++) {
        child ch;
        child_start(&ch, args, NULL);
        if (attempt == 0)
            create("snap", SMALL);
        char url[256];
        snprintf(url, sizeof(url), "%s/collections/snap/snapshots/upload",
                 base);
        upload_job job = {.url = url, .data = data, .len = len};
        atomic_init(&job.done, false);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, upload_thread, &job), 0);
        char seen[1024] = "";
        while (!seen[0] && !atomic_load(&job.done))
            find_tmp(seen, sizeof(seen));
        ck_assert_int_eq(kill(ch.pid, SIGKILL), 0);
        int status;
        ck_assert_int_eq(waitpid(ch.pid, &status, 0), ch.pid);
        pthread_join(t, NULL);
        /* Seen, and still there after the kill: the leftover. */
        if (seen[0] && access(seen, F_OK) == 0)
            snprintf(left, sizeof(left), "%s", seen);
    }
    free(data);
    ck_assert_msg(left[0], "never caught an upload in progress");

    child ch;
    child_start(&ch, args, NULL);
    ck_assert_msg(access(left, F_OK) != 0, "left behind: %s", left);
    expect_ok(call("GET", "/collections/snap", NULL));
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
}
END_TEST

/* ---- 11. Qdrant 1.19 behaviours ---------------------------------------- */

/* Ids of the points a scroll with filter (a JSON text) returns, as "1,3". */
static const char *scroll_ids(const char *coll, const char *filter)
{
    static char out[256];
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/collections/%s/points/scroll", coll);
    snprintf(body, sizeof(body), "{\"filter\":%s,\"limit\":100}", filter);
    const cJSON *pts =
        cJSON_GetObjectItem(expect_ok(call("POST", path, body)), "points");
    out[0] = '\0';
    const cJSON *p;
    cJSON_ArrayForEach(p, pts)
    {
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%.0f", n ? "," : "",
                 cJSON_GetObjectItem(p, "id")->valuedouble);
    }
    return out;
}

/* Qdrant 1.19 counts a missing key as 0 values (issue #9586, PR #9607). */
/* Narrow storage over HTTP (float16 and uint8 rows, README "Datatypes"):
 * upsert, retrieve, search, query, recommend by id, the distance matrix
 * and int8-quantized search with rescoring answer with exact values --
 * integers for uint8 (Qdrant scores bytes in integers), and for float16
 * the float score of the half values, computed here in double.  The
 * float16 collection keeps its rows on_disk. */
START_TEST(test_datatypes_narrow_search)
{
    /* the halves of 0.1, 0.2, 0.3 (round to nearest even) */
    static const double H1 = 0.0999755859375, H2 = 0.199951171875,
                        H3 = 0.300048828125;
    create("nh", "{\"vectors\":{\"size\":3,\"distance\":\"Euclid\","
                 "\"datatype\":\"float16\",\"on_disk\":true},"
                 "\"quantization_config\":{\"scalar\":{\"type\":\"int8\","
                 "\"always_ram\":true}}}");
    create("nb", "{\"vectors\":{\"size\":3,\"distance\":\"Dot\","
                 "\"datatype\":\"uint8\"}}");
    expect_ok(call("PUT", "/collections/nh/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[0.1,0.2,0.3]},"
                   "{\"id\":2,\"vector\":[1,1,1]},"
                   "{\"id\":3,\"vector\":[-0.5,2,0.25]}]}"));
    expect_ok(call("PUT", "/collections/nb/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1.9,2,3]},"
                   "{\"id\":2,\"vector\":[10,0,255.7]},"
                   "{\"id\":3,\"vector\":[300,-1,7]}]}"));
    /* stored as 1 0 ... : {1,2,3}, {10,0,255}, {255,0,7} */
    static const double B[3][3] = {{1, 2, 3}, {10, 0, 255}, {255, 0, 7}};
    /* retrieve */
    const cJSON *pts = expect_ok(call("POST", "/collections/nb/points",
                                      "{\"ids\":[2,3],\"with_vector\":true}"));
    ck_assert_int_eq(cJSON_GetArraySize(pts), 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *p = cJSON_GetArrayItem(pts, i);
        int id = (int)num(p, "id");
        const cJSON *v = cJSON_GetObjectItem(p, "vector");
        for (int k = 0; k < 3; k++)
            ck_assert(cJSON_GetArrayItem(v, k)->valuedouble == B[id - 1][k]);
    }
    float hv[3];
    point_vector("nh", NULL, hv, 3);
    ck_assert(hv[0] == (float)H1 && hv[1] == (float)H2 && hv[2] == (float)H3);
    /* search: dot with the cast query (1, 1, 1): 265, 262, 6 */
    const cJSON *hits = expect_ok(
        call("POST", "/collections/nb/points/search",
             "{\"vector\":[1,1,1.5],\"limit\":3,\"with_vector\":true}"));
    ck_assert_int_eq(cJSON_GetArraySize(hits), 3);
    static const int order[] = {2, 3, 1};
    static const double want[] = {265, 262, 6};
    for (int i = 0; i < 3; i++) {
        const cJSON *h = cJSON_GetArrayItem(hits, i);
        ck_assert_int_eq((int)num(h, "id"), order[i]);
        ck_assert(num(h, "score") == want[i]);
        const cJSON *v = cJSON_GetObjectItem(h, "vector");
        ck_assert(cJSON_GetArrayItem(v, 2)->valuedouble == B[order[i] - 1][2]);
    }
    /* the query API, exact and by graph */
    for (int exact = 0; exact < 2; exact++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"query\":[1,1,1.5],\"limit\":1,\"params\":{\"exact\":%s}}",
                 exact ? "true" : "false");
        const cJSON *r = cJSON_GetObjectItem(
            expect_ok(call("POST", "/collections/nb/points/query", body)),
            "points");
        ck_assert_int_eq((int)num(cJSON_GetArrayItem(r, 0), "id"), 2);
        ck_assert(num(cJSON_GetArrayItem(r, 0), "score") == 265);
    }
    /* recommend by id: the average of id 1's vector is (1, 2, 3) */
    hits = expect_ok(call("POST", "/collections/nb/points/recommend",
                          "{\"positive\":[1],\"limit\":2}"));
    ck_assert_int_eq(cJSON_GetArraySize(hits), 2);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 0), "id"), 2);
    ck_assert(num(cJSON_GetArrayItem(hits, 0), "score") == 775);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 1), "id"), 3);
    ck_assert(num(cJSON_GetArrayItem(hits, 1), "score") == 276);
    /* the distance matrix: every pair scores the integer dot product */
    const cJSON *pairs = cJSON_GetObjectItem(
        expect_ok(call("POST", "/collections/nb/points/search/matrix/pairs",
                       "{\"sample\":3,\"limit\":2}")),
        "pairs");
    ck_assert_int_eq(cJSON_GetArraySize(pairs), 6);
    for (int i = 0; i < 6; i++) {
        const cJSON *p = cJSON_GetArrayItem(pairs, i);
        int a = (int)num(p, "a") - 1, b = (int)num(p, "b") - 1;
        double dot = 0;
        for (int k = 0; k < 3; k++)
            dot += B[a][k] * B[b][k];
        ck_assert_msg(num(p, "score") == dot, "pair %d %d: %g, want %g", a + 1,
                      b + 1, num(p, "score"), dot);
    }
    /* float16 on_disk, int8 codes rescored on the halves: the query
     * (0.1, 0.2, 0.3) is converted too, so point 1 is at distance 0 */
    hits = expect_ok(call("POST", "/collections/nh/points/search",
                          "{\"vector\":[0.1,0.2,0.3],\"limit\":3,"
                          "\"params\":{\"quantization\":{\"rescore\":true}}}"));
    ck_assert_int_eq(cJSON_GetArraySize(hits), 3);
    static const double P[3][3] = {
        {0.0999755859375, 0.199951171875, 0.300048828125},
        {1, 1, 1},
        {-0.5, 2, 0.25}};
    double last = -1;
    for (int i = 0; i < 3; i++) {
        const cJSON *h = cJSON_GetArrayItem(hits, i);
        int id = (int)num(h, "id");
        double d2 = 0;
        for (int k = 0; k < 3; k++)
            d2 += (P[id - 1][k] - P[0][k]) * (P[id - 1][k] - P[0][k]);
        double sc = num(h, "score");
        ck_assert_msg(fabs(sc - sqrt(d2)) <= 1e-6 * (1 + sqrt(d2)),
                      "id %d score %.9g, want %.9g", id, sc, sqrt(d2));
        ck_assert(sc >= last);
        last = sc;
    }
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 0), "id"), 1);
    ck_assert(num(cJSON_GetArrayItem(hits, 0), "score") == 0);
    /* uint8 under Cosine: the bytes' own cosine, as Qdrant's
     * cosine_similarity_bytes (no normalisation; 0 for a zero vector) */
    create("nc", "{\"vectors\":{\"size\":3,\"distance\":\"Cosine\","
                 "\"datatype\":\"uint8\"}}");
    expect_ok(call("PUT", "/collections/nc/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[0,0,0.5]},"
                   "{\"id\":2,\"vector\":[1,2,3]},"
                   "{\"id\":3,\"vector\":[3,2,1.9]}]}"));
    point_vector("nc", NULL, hv, 3); /* point 1: kept as cast, not scaled */
    ck_assert(hv[0] == 0 && hv[1] == 0 && hv[2] == 0);
    hits = expect_ok(call("POST", "/collections/nc/points/search",
                          "{\"vector\":[1,2,3.7],\"limit\":3}"));
    ck_assert_int_eq(cJSON_GetArraySize(hits), 3);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 0), "id"), 2);
    ck_assert(num(cJSON_GetArrayItem(hits, 0), "score") == 1.0);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 1), "id"), 3);
    ck_assert(fabs(num(cJSON_GetArrayItem(hits, 1), "score") - 10.0 / 14.0) <
              1e-6);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 2), "id"), 1);
    ck_assert(num(cJSON_GetArrayItem(hits, 2), "score") == 0);
    /* with int8 codes (made from the normalised bytes), rescored: the
     * same exact cosines */
    expect_ok(call("PATCH", "/collections/nc",
                   "{\"quantization_config\":{\"scalar\":"
                   "{\"type\":\"int8\"}}}"));
    hits = expect_ok(call("POST", "/collections/nc/points/search",
                          "{\"vector\":[1,2,3.7],\"limit\":2,\"params\":"
                          "{\"quantization\":{\"rescore\":true}}}"));
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(hits, 0), "id"), 2);
    ck_assert(num(cJSON_GetArrayItem(hits, 0), "score") == 1.0);
    ck_assert(fabs(num(cJSON_GetArrayItem(hits, 1), "score") - 10.0 / 14.0) <
              1e-6);
    /* strict mode counts the stored bytes: 3 points x 3 bytes = 9 < 20
     * (as float32 they would be 36), so one more upsert passes, and
     * with 4 points (12 bytes) a limit of 12 stops the next */
    expect_ok(call("PATCH", "/collections/nb",
                   "{\"strict_mode_config\":{\"enabled\":true,"
                   "\"max_collection_vector_size_bytes\":20}}"));
    expect_ok(call("PUT", "/collections/nb/points?wait=true",
                   "{\"points\":[{\"id\":4,\"vector\":[4,4,4]}]}"));
    expect_ok(call("PATCH", "/collections/nb",
                   "{\"strict_mode_config\":{\"enabled\":true,"
                   "\"max_collection_vector_size_bytes\":12}}"));
    expect_error_prefix(call("PUT", "/collections/nb/points?wait=true",
                             "{\"points\":[{\"id\":5,\"vector\":[5,5,5]}]}"),
                        400, "Bad request: Max vector storage size limit");
}
END_TEST

START_TEST(test_values_count_missing)
{
    create("vc", SMALL);
    expect_ok(call("PUT", "/collections/vc/points?wait=true",
                   "{\"points\":["
                   "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":"
                   "{\"tags\":[\"a\",\"b\",\"c\"]}},"
                   "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":"
                   "{\"tags\":[\"x\"]}},"
                   "{\"id\":3,\"vector\":[0,0,1,0],\"payload\":"
                   "{\"title\":\"no tags\",\"n\":[{\"x\":1}]}}]}"));
    const char *lt1 = "{\"key\":\"tags\",\"values_count\":{\"lt\":1}}";
    char f[512];
    snprintf(f, sizeof(f), "{\"must\":[%s]}", lt1);
    ck_assert_str_eq(scroll_ids("vc", f), "3");
    snprintf(f, sizeof(f), "{\"must_not\":[%s]}", lt1);
    ck_assert_str_eq(scroll_ids("vc", f), "1,2");
    snprintf(f, sizeof(f), "{\"should\":[%s]}", lt1);
    ck_assert_str_eq(scroll_ids("vc", f), "3");
    snprintf(f, sizeof(f),
             "{\"min_should\":{\"conditions\":[%s,{\"key\":\"title\","
             "\"values_count\":{\"gte\":1}}],\"min_count\":2}}",
             lt1);
    ck_assert_str_eq(scroll_ids("vc", f), "3");
    ck_assert_str_eq(scroll_ids("vc",
                                "{\"must\":[{\"key\":\"tags\",\"values_count\":"
                                "{\"gte\":0}}]}"),
                     "1,2,3");
    ck_assert_str_eq(
        scroll_ids("vc", "{\"must\":[{\"nested\":{\"key\":\"n\",\"filter\":"
                         "{\"must\":[{\"key\":\"y\",\"values_count\":"
                         "{\"lte\":0}}]}}}]}"),
        "3");
}
END_TEST

/* Qdrant 1.19 accepts a date-time bound without seconds, "T" or " "
 * (DateTimeWrapper::from_str, lib/segment/src/types.rs, issue #8718). */
START_TEST(test_datetime_no_seconds)
{
    create("dt", SMALL);
    expect_ok(call("PUT", "/collections/dt/points?wait=true",
                   "{\"points\":["
                   "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":"
                   "{\"at\":\"2015-03-01T12:29:59Z\"}},"
                   "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":"
                   "{\"at\":\"2015-03-01T12:30:00Z\"}}]}"));
    ck_assert_str_eq(scroll_ids("dt", "{\"must\":[{\"key\":\"at\",\"range\":"
                                      "{\"gte\":\"2015-03-01T12:30\"}}]}"),
                     "2");
    ck_assert_str_eq(scroll_ids("dt", "{\"must\":[{\"key\":\"at\",\"range\":"
                                      "{\"lt\":\"2015-03-01 12:30\"}}]}"),
                     "1");
    expect_error(call("POST", "/collections/dt/points/scroll",
                      "{\"filter\":{\"must\":[{\"key\":\"at\",\"range\":"
                      "{\"gte\":\"2015-03-01T12\"}}]}}"),
                 400);
}
END_TEST

static double upsert_op_id(const char *coll, int id)
{
    char path[256], body[256];
    snprintf(path, sizeof(path), "/collections/%s/points?wait=true", coll);
    snprintf(body, sizeof(body),
             "{\"points\":[{\"id\":%d,\"vector\":[1,0,0,0]}]}", id);
    return num(expect_ok(call("PUT", path, body)), "operation_id");
}

/* Operation ids keep increasing across restarts (STORAGE/op_ids). */
START_TEST(test_op_ids_survive_restart)
{
    create("ops", SMALL);
    double a = upsert_op_id("ops", 1);
    double b = upsert_op_id("ops", 2);
    ck_assert(b > a);
    for (int round = 0; round < 2; round++) {
        stop_server();
        qvs_config cfg;
        test_config(&cfg);
        start_with(&cfg);
        double c = upsert_op_id("ops", 3 + round);
        ck_assert_msg(c > b, "operation id %.0f after a restart, was %.0f", c,
                      b);
        b = c;
    }
}
END_TEST

static const cJSON *coll_config(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s", name);
    return cJSON_GetObjectItem(expect_ok(call("GET", path, NULL)), "config");
}

/* quantization_config: null when absent, the create-time alias
 * "quantization", Qdrant's shapes checked, and a create / PATCH / GET
 * round trip (lib/segment/src/types.rs QuantizationConfig). */
START_TEST(test_quantization_config)
{
    create("q0", SMALL);
    const cJSON *q =
        cJSON_GetObjectItem(coll_config("q0"), "quantization_config");
    ck_assert_msg(q && cJSON_IsNull(q), "quantization_config not null");

    create("q1", "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                 "\"quantization\":{\"scalar\":{\"type\":\"int8\","
                 "\"quantile\":0.99,\"always_ram\":true}}}");
    q = cJSON_GetObjectItem(coll_config("q1"), "quantization_config");
    ck_assert_str_eq(str(q, "scalar.type"), "int8");
    ck_assert_double_eq_tol(num(q, "scalar.quantile"), 0.99, 1e-9);

    create("q2", "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                 "\"quantization_config\":{\"product\":{\"compression\":"
                 "\"x16\"}}}");
    ck_assert_str_eq(
        str(coll_config("q2"), "quantization_config.product.compression"),
        "x16");
    /* PATCH: binary replaces, "Disabled" removes (null again) */
    expect_ok(call("PATCH", "/collections/q2",
                   "{\"quantization_config\":{\"binary\":{\"encoding\":"
                   "\"two_bits\",\"query_encoding\":\"scalar8bits\"}}}"));
    ck_assert_str_eq(
        str(coll_config("q2"), "quantization_config.binary.encoding"),
        "two_bits");
    expect_ok(call("PATCH", "/collections/q2",
                   "{\"quantization_config\":\"Disabled\"}"));
    q = cJSON_GetObjectItem(coll_config("q2"), "quantization_config");
    ck_assert(q && cJSON_IsNull(q));

    /* Qdrant's errors: a shape no variant matches is 400, a quantile out
     * of range 422 */
    expect_error_prefix(
        call("PUT", "/collections/q3",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
             "\"quantization_config\":{\"scalar\":{\"type\":\"int4\"}}}"),
        400,
        "Format error in JSON body: quantization_config: data did not "
        "match any variant of untagged enum QuantizationConfig");
    expect_error_prefix(call("PUT", "/collections/q3",
                             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                             "\"quantization_config\":{\"product\":{}}}"),
                        400, "Format error in JSON body");
    expect_error_prefix(
        call("PUT", "/collections/q3",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
             "\"quantization_config\":{\"product\":{\"compression\":"
             "\"x3\"}}}"),
        400,
        "Format error in JSON body: quantization_config: data did not "
        "match any variant of untagged enum QuantizationConfig");
    expect_error_msg(
        call("PUT", "/collections/q3",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
             "\"quantization_config\":{\"scalar\":{\"type\":\"int8\","
             "\"quantile\":0.3}}}"),
        422,
        "Validation error in JSON body: [quantization_config.scalar."
        "quantile: value 0.3 invalid, must be from 0.5 to 1]");
    expect_error_prefix(call("PATCH", "/collections/q1",
                             "{\"quantization_config\":\"Enabled\"}"),
                        400, "Format error in JSON body");
    expect_error_prefix(
        call("PUT", "/collections/q3",
             "{\"vectors\":{\"size\":4,\"distance\":\"Dot\","
             "\"quantization_config\":{\"binary\":{\"encoding\":\"x\"}}}}"),
        400, "Format error in JSON body");
    expect_error(call("GET", "/collections/q3", NULL), 404);
    /* the config survives a restart */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    ck_assert_str_eq(str(coll_config("q1"), "quantization_config.scalar.type"),
                     "int8");
}
END_TEST

/* ---- quantized search (server/quantization.c) ---- */

enum { QDIM = 16, QPOINTS = 400 };

/* Upserts QPOINTS deterministic vectors (centred, so that binary codes
 * mean something) under vector name vec ("" for the unnamed one). */
static void upsert_qpoints(const char *coll, const char *const *vecs,
                           size_t nvecs)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *pts = cJSON_AddArrayToObject(body, "points");
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < QPOINTS; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "id", i + 1);
        cJSON *vv =
            nvecs && vecs[0][0] ? cJSON_AddObjectToObject(p, "vector") : NULL;
        for (size_t k = 0; k < (nvecs ? nvecs : 1); k++) {
            float f[QDIM];
            for (int d = 0; d < QDIM; d++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                f[d] = (float)((double)(x % 2001) / 1000.0 - 1.0);
            }
            cJSON *arr = cJSON_CreateFloatArray(f, QDIM);
            if (vv)
                cJSON_AddItemToObject(vv, vecs[k], arr);
            else
                cJSON_AddItemToObject(p, "vector", arr);
        }
        cJSON_AddItemToArray(pts, p);
    }
    char *text = cJSON_PrintUnformatted(body);
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points?wait=true", coll);
    expect_ok(call("PUT", path, text));
    free(text);
    cJSON_Delete(body);
}

/* Scores of a query for using (NULL: the unnamed vector) with params
 * (a JSON object text), best first, into out (room for 5). */
static int qscores(const char *coll, const char *using, const char *params,
                   double *out)
{
    char body[1024], path[256];
    snprintf(body, sizeof(body),
             "{\"query\":[0.5,-0.25,0.75,0.1,-0.6,0.3,0.2,-0.9,0.4,0.05,"
             "-0.3,0.8,-0.1,0.6,-0.45,0.35],\"limit\":5%s%s%s,\"params\":%s}",
             using ? ",\"using\":\"" : "", using ? using : "",
             using ? "\"" : "", params);
    snprintf(path, sizeof(path), "/collections/%s/points/query", coll);
    const cJSON *pts =
        cJSON_GetObjectItem(expect_ok(call("POST", path, body)), "points");
    int n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pts) out[n++] = num(p, "score");
    return n;
}

static bool all_integers(const double *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] != floor(s[i]))
            return false;
    return true;
}

/* Scores equal (rescored or float) to the exact search's. */
static void expect_exact_scores(const char *coll, const char *using,
                                const char *params)
{
    double got[5], want[5];
    int n = qscores(coll, using, params, got);
    ck_assert_int_eq(qscores(coll, using, "{\"exact\":true}", want), n);
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-5,
                      "%s: score %d is %g, exact %g", params, i, got[i],
                      want[i]);
}

START_TEST(test_quantized_search)
{
    /* int8: un-rescored scores are the codes' (close to, not equal to, the
     * float ones); rescored scores are the float ones. */
    create("qs", "{\"vectors\":{\"size\":16,\"distance\":\"Manhattan\"},"
                 "\"hnsw_config\":{\"full_scan_threshold\":10},"
                 "\"quantization_config\":{\"scalar\":{\"type\":\"int8\"}}}");
    upsert_qpoints("qs", NULL, 0);
    double got[5], want[5];
    int n = qscores("qs", NULL, "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert_int_eq(qscores("qs", NULL, "{\"exact\":true}", want), n);
    bool differs = false;
    for (int i = 0; i < n; i++) {
        ck_assert_double_eq_tol(got[i], want[i], 0.1 * want[i] + 0.05);
        differs = differs || fabs(got[i] - want[i]) > 1e-6;
    }
    ck_assert_msg(differs, "int8 scores equal the float scores");
    expect_exact_scores("qs", NULL,
                        "{\"quantization\":{\"rescore\":true,"
                        "\"oversampling\":4}}");
    /* ignore: the floats, exact scores for the hits the walk found */
    expect_exact_scores("qs", NULL, "{\"quantization\":{\"ignore\":true}}");

    /* PATCH to binary rebuilds the codes: un-rescored manhattan scores
     * are differing-bit counts, whole numbers */
    expect_ok(call("PATCH", "/collections/qs",
                   "{\"quantization_config\":{\"binary\":{}}}"));
    n = qscores("qs", NULL, "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert_msg(n == 5 && all_integers(got, n), "binary scores %g %g", got[0],
                  got[1]);
    /* binary rescores by default: with enough oversampling (16 components
     * make crude codes) the rescored hits are the exact ones */
    expect_exact_scores("qs", NULL,
                        "{\"quantization\":{\"oversampling\":100}}");
    /* the quantization survives a restart */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    n = qscores("qs", NULL, "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert(n == 5 && all_integers(got, n));
    expect_ok(call("PATCH", "/collections/qs",
                   "{\"quantization_config\":\"Disabled\"}"));
    expect_exact_scores("qs", NULL, "{\"quantization\":{\"rescore\":false}}");

    /* Named vectors: a vector's own quantization_config wins over the
     * collection's. */
    create("qn", "{\"vectors\":{\"a\":{\"size\":16,\"distance\":\"Dot\","
                 "\"quantization_config\":{\"scalar\":{\"type\":\"int8\","
                 "\"quantile\":0.99}}},\"b\":{\"size\":16,\"distance\":"
                 "\"Dot\"}},\"hnsw_config\":{\"full_scan_threshold\":10},"
                 "\"quantization_config\":{\"binary\":{\"encoding\":"
                 "\"one_bit\"}}}");
    const char *const names[] = {"a", "b"};
    upsert_qpoints("qn", names, 2);
    n = qscores("qn", "a", "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert(n == 5 && !all_integers(got, n));
    n = qscores("qn", "b", "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert(n == 5 && all_integers(got, n));

    /* Qdrant's errors for params.quantization */
    expect_error_msg(
        call("POST", "/collections/qn/points/query",
             "{\"query\":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],\"using\":\"a\","
             "\"params\":{\"quantization\":{\"oversampling\":0.5}}}"),
        422,
        "Validation error in JSON body: [params.quantization.oversampling: "
        "value 0.5 invalid, must be 1.0 or larger]");
    expect_error_prefix(
        call("POST", "/collections/qn/points/query",
             "{\"query\":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],\"using\":\"a\","
             "\"params\":{\"quantization\":{\"ignore\":\"yes\"}}}"),
        400, "Format error in JSON body: params.quantization.ignore");
    expect_error_prefix(
        call("POST", "/collections/qn/points/search",
             "{\"vector\":{\"name\":\"a\",\"vector\":[1,0,0,0,0,0,0,0,0,0,0,"
             "0,0,0,0,0]},\"limit\":3,\"params\":{\"quantization\":[]}}"),
        400, "Format error in JSON body: params.quantization");
}
END_TEST

/* Product quantization over HTTP: searches walk the codes (un-rescored
 * scores are the table's approximations, not the float scores), rescoring
 * gives the float scores, a PATCH changes the compression and the codes
 * come back after a restart. */
START_TEST(test_quantized_search_product)
{
    create("qp", "{\"vectors\":{\"size\":16,\"distance\":\"Euclid\"},"
                 "\"hnsw_config\":{\"full_scan_threshold\":10},"
                 "\"quantization_config\":{\"product\":{\"compression\":"
                 "\"x8\",\"always_ram\":true}}}");
    upsert_qpoints("qp", NULL, 0);
    double got[5], want[5];
    int n = qscores("qp", NULL, "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert_int_eq(qscores("qp", NULL, "{\"exact\":true}", want), n);
    ck_assert_int_eq(n, 5);
    bool differs = false;
    for (int i = 0; i < n; i++) {
        /* Euclid scores are distances: the table's are close to them */
        ck_assert_double_eq_tol(got[i], want[i], 0.5 * want[i] + 0.1);
        differs = differs || fabs(got[i] - want[i]) > 1e-6;
    }
    ck_assert_msg(differs, "pq scores equal the float scores");
    expect_exact_scores("qp", NULL,
                        "{\"quantization\":{\"rescore\":true,"
                        "\"oversampling\":20}}");
    expect_ok(call("PATCH", "/collections/qp",
                   "{\"quantization_config\":{\"product\":{\"compression\":"
                   "\"x64\"}}}"));
    ck_assert_str_eq(
        str(coll_config("qp"), "quantization_config.product.compression"),
        "x64");
    expect_exact_scores("qp", NULL,
                        "{\"quantization\":{\"rescore\":true,"
                        "\"oversampling\":100}}");
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    n = qscores("qp", NULL, "{\"quantization\":{\"rescore\":false}}", got);
    ck_assert_int_eq(qscores("qp", NULL, "{\"exact\":true}", want), n);
    differs = false;
    for (int i = 0; i < n; i++)
        differs = differs || fabs(got[i] - want[i]) > 1e-6;
    ck_assert_msg(differs, "pq codes gone after a restart");
    /* Qdrant's CompressionRatio has no x3: serde's untagged-enum 400 */
    expect_error_prefix(
        call("PATCH", "/collections/qp",
             "{\"quantization_config\":{\"product\":{\"compression\":"
             "\"x3\"}}}"),
        400,
        "Format error in JSON body: quantization_config: data did not "
        "match any variant of untagged enum QuantizationConfigDiff");
}
END_TEST

/* The SHA-256 of a file by sha256sum, as a user would check it. */
static void sha256sum(const char *path, char out[65])
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%64s", out), 1);
    pclose(p);
}

/* Collection snapshot checksums are SHA-256 of the archive file, checked
 * on upload (?checksum=) and recover (lib/collection/src/common/
 * sha_256.rs; StorageError::ChecksumMismatch). */
START_TEST(test_snapshot_sha256)
{
    create("sh", SMALL);
    expect_ok(call("PUT", "/collections/sh/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]}]}"));
    const cJSON *d = expect_ok(call("POST", "/collections/sh/snapshots", "{}"));
    char name[512], sum[65], file[1024], want[65];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    snprintf(sum, sizeof(sum), "%s", str(d, "checksum"));
    snprintf(file, sizeof(file), "%s/snapshots/sh/%s", storage, name);
    sha256sum(file, want);
    ck_assert_str_eq(sum, want);
    const cJSON *list =
        expect_ok(call("GET", "/collections/sh/snapshots", NULL));
    ck_assert_str_eq(str(cJSON_GetArrayItem(list, 0), "checksum"), want);

    char body[1200], path[1200], msg[300];
    snprintf(body, sizeof(body), "{\"location\":\"%s\",\"checksum\":\"%s\"}",
             name, "ab");
    snprintf(msg, sizeof(msg), "Checksum mismatch: expected %s, actual ab",
             want);
    expect_error_msg(call("PUT", "/collections/sh/snapshots/recover", body),
                     400, msg);
    /* the right one, in capitals too */
    for (char *c = sum; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    snprintf(body, sizeof(body), "{\"location\":\"%s\",\"checksum\":\"%s\"}",
             name, sum);
    ck_assert(cJSON_IsTrue(
        expect_ok(call("PUT", "/collections/sh/snapshots/recover", body))));

    snprintf(path, sizeof(path), "/collections/sh/snapshots/%s", name);
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    size_t size = R.body.len;
    char *bytes = malloc(size);
    ck_assert_ptr_nonnull(bytes);
    memcpy(bytes, R.body.p, size);
    snprintf(path, sizeof(path),
             "/collections/sh/snapshots/upload?checksum=%064d", 0);
    snprintf(msg, sizeof(msg), "Checksum mismatch: expected %s, actual %064d",
             want, 0);
    expect_error_msg(call_raw("POST", path, bytes, size), 400, msg);
    snprintf(path, sizeof(path), "/collections/sh/snapshots/upload?checksum=%s",
             want);
    ck_assert(cJSON_IsTrue(expect_ok(call_raw("POST", path, bytes, size))));
    free(bytes);
}
END_TEST

/* Exit status of `quiver snapshot verify file`. */
static int cli_verify(const char *file)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "'%s' snapshot verify '%s' >/dev/null 2>&1",
             QUIVER_CLI_BIN, file);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* `quiver snapshot verify` accepts the collection snapshot archives the
 * server writes (qv_snapshot_archive_verify), and refuses a damaged one. */
START_TEST(test_cli_verifies_archives)
{
    create("cv", "{\"vectors\":{\"a\":{\"size\":2,\"distance\":\"Dot\"},"
                 "\"b\":{\"size\":3,\"distance\":\"Cosine\"}}}");
    expect_ok(call("PUT", "/collections/cv/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"a\":[1,2],"
                   "\"b\":[1,0,0]},\"payload\":{\"k\":\"v\"}}]}"));
    const cJSON *d = expect_ok(call("POST", "/collections/cv/snapshots", "{}"));
    char file[1024], copy[1100];
    snprintf(file, sizeof(file), "%s/snapshots/cv/%s", storage, str(d, "name"));
    ck_assert_int_eq(cli_verify(file), 0);
    uint32_t n = 0;
    char err[512];
    ck_assert_int_eq(qv_snapshot_archive_verify(file, &n, err, sizeof(err)),
                     QV_OK);
    ck_assert_uint_eq(n, 3); /* the points and two named vectors */

    /* one flipped byte near the end (inside the last member) */
    snprintf(copy, sizeof(copy), "%s/damaged.snapshot", storage);
    FILE *in = fopen(file, "rb"), *out = fopen(copy, "wb");
    ck_assert(in && out);
    int c;
    long at = 0, size;
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    rewind(in);
    while ((c = fgetc(in)) != EOF)
        fputc(at++ == size - 100 ? c ^ 0x40 : c, out);
    fclose(in);
    fclose(out);
    ck_assert_int_eq(cli_verify(copy), 1);
    ck_assert_int_ne(qv_snapshot_archive_verify(copy, NULL, err, sizeof(err)),
                     QV_OK);
    /* a single library snapshot still verifies as before */
    ck_assert_int_eq(cli_verify("/nonexistent/x.qvs"), 1);
}
END_TEST

/* Qdrant's validation status codes (422) for values that parse but are
 * out of their range. */
START_TEST(test_validation_codes)
{
    create("vc6", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/vc6/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0]}]}"));
    /* slice index >= total */
    expect_error_msg(call("POST", "/collections/vc6/points/scroll",
                          "{\"filter\":{\"must\":{\"slice\":{\"total\":2,"
                          "\"index\":2}}}}"),
                     422,
                     "Validation error in JSON body: [filter.must.slice: index "
                     "must be less than total]");
    expect_error(call("POST", "/collections/vc6/points/scroll",
                      "{\"filter\":{\"must\":{\"slice\":{\"total\":2,"
                      "\"index\":-1}}}}"),
                 400);
    /* an integer index with neither lookup nor range */
    expect_error_msg(
        call("PUT", "/collections/vc6/index?wait=true",
             "{\"field_name\":\"n\",\"field_schema\":{\"type\":\"integer\","
             "\"lookup\":false,\"range\":false}}"),
        422,
        "Validation error in JSON body: [field_schema.lookup: the 'lookup' "
        "and 'range' capabilities can't be both disabled]");
    expect_ok(call("PUT", "/collections/vc6/index?wait=true",
                   "{\"field_name\":\"n\",\"field_schema\":{\"type\":"
                   "\"integer\",\"lookup\":false,\"range\":true}}"));
    /* ?timeout=0 on the collection operations */
    const char *t0 = "Validation error in query parameters: [timeout: value 0 "
                     "invalid, must be 1 or larger]";
    expect_error_msg(call("PUT", "/collections/vc7?timeout=0",
                          "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}"),
                     422, t0);
    expect_error(call("GET", "/collections/vc7", NULL), 404);
    expect_error_msg(call("PATCH", "/collections/vc6?timeout=0", "{}"), 422,
                     t0);
    expect_error_msg(call("DELETE", "/collections/vc6?timeout=0", NULL), 422,
                     t0);
    expect_ok(call("GET", "/collections/vc6", NULL));
    expect_ok(call("PUT", "/collections/vc7?timeout=5",
                   "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}"));
    /* a 300-character name on every collection route */
    char path[400] = "/collections/", p2[420];
    memset(path + 13, 'n', 300);
    path[313] = '\0';
    const char *len = "Validation error in path parameters: [name: length must "
                      "be from 1 to 255]";
    expect_error_msg(call("GET", path, NULL), 422, len);
    expect_error_msg(call("DELETE", path, NULL), 422, len);
    expect_error_msg(call("PATCH", path, "{}"), 422, len);
    snprintf(p2, sizeof(p2), "%s/exists", path);
    expect_error_msg(call("GET", p2, NULL), 422, len);
    /* PUT points/vectors with an empty vector map (Qdrant's PointVectors
     * validation) */
    expect_error_msg(call("PUT", "/collections/vc6/points/vectors?wait=true",
                          "{\"points\":[{\"id\":1,\"vector\":[0,1]},"
                          "{\"id\":1,\"vector\":{}}]}"),
                     422,
                     "Validation error in JSON body: [points[1].vector: must "
                     "specify vectors to update for point]");
}
END_TEST

/* Two entries for one point in PUT points/vectors: Qdrant applies them in
 * order, so the point keeps the vectors both name (the later wins where
 * they overlap). */
START_TEST(test_update_vectors_repeated_point)
{
    create("uv", "{\"vectors\":{\"text\":{\"size\":2,\"distance\":"
                 "\"Dot\"},\"image\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(call("PUT", "/collections/uv/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"text\":[1,0],"
                   "\"image\":[0,1]}},{\"id\":2,\"vector\":{\"text\":"
                   "[1,1]}}]}"));
    expect_ok(call("PUT", "/collections/uv/points/vectors?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"text\":[2,2]}},"
                   "{\"id\":2,\"vector\":{\"image\":[5,5]}},"
                   "{\"id\":1,\"vector\":{\"image\":[3,3]}},"
                   "{\"id\":1,\"vector\":{\"image\":[4,4]}}]}"));
    const cJSON *r = expect_ok(call("POST", "/collections/uv/points",
                                    "{\"ids\":[1,2],\"with_vector\":true}"));
    ck_assert_int_eq(cJSON_GetArraySize(r), 2);
    for (const cJSON *pt = r->child; pt; pt = pt->next) {
        const cJSON *v = cJSON_GetObjectItem(pt, "vector");
        double id = num(pt, "id");
        const cJSON *text = cJSON_GetObjectItem(v, "text");
        const cJSON *image = cJSON_GetObjectItem(v, "image");
        ck_assert(cJSON_IsArray(text) && cJSON_IsArray(image));
        double t0 = cJSON_GetArrayItem(text, 0)->valuedouble;
        double i0 = cJSON_GetArrayItem(image, 0)->valuedouble;
        if (id == 1) {
            ck_assert(t0 == 2 && i0 == 4);
        } else {
            ck_assert(t0 == 1 && i0 == 5);
        }
    }
}
END_TEST

/* POST /collections/{c}/facet: counts per value from the key's index,
 * count descending then value ascending, exact integers, Qdrant's 400
 * without a facet index (also for an integer index without lookup) and
 * its 422 for limit 0. */
START_TEST(test_facet_endpoint)
{
    create("fc", SMALL);
    expect_ok(call(
        "PUT", "/collections/fc/points?wait=true",
        "{\"points\":["
        "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"c\":\"red\",\"n\":5,"
        "\"b\":true,\"u\":\"550E8400-e29b-41d4-a716-446655440000\"}},"
        "{\"id\":2,\"vector\":[1,0,0,0],\"payload\":{\"c\":[\"red\",\"blue\","
        "\"red\"],\"n\":[5,9007199254740993],\"b\":false}},"
        "{\"id\":3,\"vector\":[1,0,0,0],\"payload\":{\"c\":\"green\","
        "\"n\":1.5}},"
        "{\"id\":4,\"vector\":[1,0,0,0],\"payload\":{\"c\":\"blue\","
        "\"n\":-3,\"m\":1}}]}"));
    expect_error_msg(
        call("POST", "/collections/fc/facet", "{\"key\":\"c\"}"), 400,
        "Bad request: No appropriate index for faceting: `c`. Please create "
        "one to facet on this field. Check https://qdrant.tech/documentation/"
        "concepts/indexing/#payload-index to see which payload schemas "
        "support Match conditions");
    const char *idx[][2] = {{"c", "\"keyword\""},
                            {"n", "\"integer\""},
                            {"b", "\"bool\""},
                            {"u", "\"uuid\""},
                            {"m", "{\"type\":\"integer\",\"lookup\":false,"
                                  "\"range\":true}"}};
    for (size_t i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"field_name\":\"%s\",\"field_schema\":%s}", idx[i][0],
                 idx[i][1]);
        expect_ok(call("PUT", "/collections/fc/index?wait=true", body));
    }
    const char *want[][2] = {
        {"{\"key\":\"c\"}", "[{\"value\":\"blue\",\"count\":2},{\"value\":"
                            "\"red\",\"count\":2},{\"value\":\"green\","
                            "\"count\":1}]"},
        {"{\"key\":\"n\"}", "[{\"value\":5,\"count\":2},{\"value\":-3,"
                            "\"count\":1},{\"value\":9007199254740993,"
                            "\"count\":1}]"},
        {"{\"key\":\"b\",\"exact\":true}", "[{\"value\":false,\"count\":1},"
                                           "{\"value\":true,\"count\":1}]"},
        {"{\"key\":\"u\"}", "[{\"value\":\"550e8400-e29b-41d4-a716-"
                            "446655440000\",\"count\":1}]"},
        {"{\"key\":\"c\",\"limit\":1,\"filter\":{\"must_not\":[{\"has_id\":"
         "[1]}]}}",
         "[{\"value\":\"blue\",\"count\":2}]"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        expect_ok(call("POST", "/collections/fc/facet", want[i][0]));
        /* compared as text: the reply keeps 2^53 + 1 exact */
        char hits[512];
        snprintf(hits, sizeof(hits), "{\"hits\":%s}", want[i][1]);
        ck_assert_msg(strstr(R.body.p, hits), "%s: got %s", want[i][0],
                      R.body.p);
    }
    expect_error_prefix(
        call("POST", "/collections/fc/facet", "{\"key\":\"m\"}"), 400,
        "Bad request: No appropriate index for faceting");
    expect_error_msg(
        call("POST", "/collections/fc/facet", "{\"key\":\"c\",\"limit\":0}"),
        422,
        "Validation error in JSON body: [limit: value 0 invalid, must be 1 or "
        "larger]");
    expect_error_prefix(call("POST", "/collections/fc/facet", "{}"), 400,
                        "Format error in JSON body: missing field `key`");
    expect_error(call("POST", "/collections/nope/facet", "{\"key\":\"c\"}"),
                 404);
}
END_TEST

/* The distance matrix: with a sample as large as the collection every
 * point is in it, so each row is that point's nearest others, checked
 * here against distances computed by the test; the offsets form carries
 * the same rows; a smaller sample has that many distinct ids, sorted. */
START_TEST(test_matrix_endpoints)
{
    create("mx", "{\"vectors\":{\"size\":2,\"distance\":\"Euclid\"}}");
    const double xs[6] = {0, 1, 3, 7, 15, 31};
    char body[1024];
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int i = 0; i < 6; i++)
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "%s{\"id\":%d,\"vector\":[%g,0],\"payload\":"
                              "{\"odd\":%s}}",
                              i ? "," : "", i + 1, xs[i],
                              i % 2 ? "true" : "false");
    snprintf(body + o, sizeof(body) - o, "]}");
    expect_ok(call("PUT", "/collections/mx/points?wait=true", body));
    const cJSON *r = expect_ok(call("POST",
                                    "/collections/mx/points/search/"
                                    "matrix/pairs",
                                    "{\"sample\":100,\"limit\":2}"));
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(r, "pairs");
    ck_assert_int_eq(cJSON_GetArraySize(pairs), 12);
    int k = 0;
    for (int a = 0; a < 6; a++) {
        /* the two nearest others of a on the line (no ties here) */
        int best[2] = {-1, -1};
        for (int b = 0; b < 6; b++) {
            if (b == a)
                continue;
            double d = fabs(xs[b] - xs[a]);
            if (best[0] < 0 || d < fabs(xs[best[0]] - xs[a])) {
                best[1] = best[0];
                best[0] = b;
            } else if (best[1] < 0 || d < fabs(xs[best[1]] - xs[a])) {
                best[1] = b;
            }
        }
        for (int j = 0; j < 2; j++, k++) {
            const cJSON *pr = cJSON_GetArrayItem(pairs, k);
            ck_assert_int_eq((int)num(pr, "a"), a + 1);
            ck_assert_int_eq((int)num(pr, "b"), best[j] + 1);
            ck_assert(fabs(num(pr, "score") - fabs(xs[best[j]] - xs[a])) <
                      1e-6);
        }
    }
    r = expect_ok(call("POST", "/collections/mx/points/search/matrix/offsets",
                       "{\"sample\":100,\"limit\":1,\"filter\":{\"must\":[{"
                       "\"key\":\"odd\",\"match\":{\"value\":true}}]}}"));
    /* odd points: ids 2, 4, 6 at 1, 7, 31 */
    const char *want = "{\"offsets_row\":[0,1,2],\"offsets_col\":[1,0,1],"
                       "\"scores\":[6,6,24],\"ids\":[2,4,6]}";
    char *got = cJSON_PrintUnformatted(r);
    ck_assert_str_eq(got, want);
    free(got);
    r = expect_ok(call("POST", "/collections/mx/points/search/matrix/offsets",
                       "{\"sample\":3}"));
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "ids");
    ck_assert_int_eq(cJSON_GetArraySize(ids), 3);
    for (int i = 1; i < 3; i++)
        ck_assert_double_lt(cJSON_GetArrayItem(ids, i - 1)->valuedouble,
                            cJSON_GetArrayItem(ids, i)->valuedouble);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "offsets_row")),
        9 - 3);
    /* one point matches: no matrix */
    r = expect_ok(call("POST", "/collections/mx/points/search/matrix/pairs",
                       "{\"filter\":{\"must\":[{\"has_id\":[1]}]}}"));
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "pairs")), 0);
    expect_error_msg(call("POST", "/collections/mx/points/search/matrix/pairs",
                          "{\"sample\":1}"),
                     422,
                     "Validation error in JSON body: [sample: value 1 invalid, "
                     "must be 2 or larger]");
    expect_error_prefix(
        call("POST", "/collections/mx/points/search/matrix/pairs",
             "{\"using\":\"nope\"}"),
        400, "Wrong input: Not existing vector name error: nope");
}
END_TEST

/* GET/DELETE /issues and GET .../optimizations: shapes as Qdrant's
 * (validated against the OpenAPI schema by the run), nothing pending since
 * indexing happens inside each acknowledged write. */
START_TEST(test_issues_and_optimizations)
{
    const cJSON *r = expect_ok(call("GET", "/issues", NULL));
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "issues")), 0);
    ck_assert(cJSON_IsTrue(expect_ok(call("DELETE", "/issues", NULL))));
    create("op", SMALL);
    expect_ok(call("PUT", "/collections/op/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]},"
                   "{\"id\":2,\"vector\":[0,1,0,0]}]}"));
    r = expect_ok(call("GET", "/collections/op/optimizations", NULL));
    ck_assert_int_eq((int)num(r, "summary.idle_segments"), 1);
    ck_assert_int_eq((int)num(r, "summary.queued_points"), 0);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "running")), 0);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "queued"));
    r = expect_ok(call("GET",
                       "/collections/op/optimizations?with=idle_segments,"
                       "queued&completed_limit=2",
                       NULL));
    const cJSON *idle = cJSON_GetObjectItemCaseSensitive(r, "idle_segments");
    ck_assert_int_eq(cJSON_GetArraySize(idle), 1);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(idle, 0), "points_count"), 2);
    ck_assert_uint_eq(strlen(str(cJSON_GetArrayItem(idle, 0), "uuid")), 36);
    ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "queued")));
    expect_error_prefix(
        call("GET", "/collections/op/optimizations?with=later", NULL), 400,
        "Bad request: unknown value `later` in `with`");
    expect_error(call("GET", "/collections/none/optimizations", NULL), 404);
}
END_TEST

/* Whole-storage snapshots: create (every collection and the aliases in one
 * archive), list, download (bytes whose size and SHA-256 the description
 * gives), delete; bad and unknown names. */
START_TEST(test_full_snapshots)
{
    create("fa", SMALL);
    create("fb", "{\"vectors\":{\"x\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(call("PUT", "/collections/fa/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]}]}"));
    aliases("{\"actions\":[{\"create_alias\":{\"collection_name\":\"fa\","
            "\"alias_name\":\"fa_alias\"}}]}");
    ck_assert_int_eq(
        cJSON_GetArraySize(expect_ok(call("GET", "/snapshots", NULL))), 0);
    const cJSON *d = expect_ok(call("POST", "/snapshots", NULL));
    char name[256], sum[65];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    snprintf(sum, sizeof(sum), "%s", str(d, "checksum"));
    double size = num(d, "size");
    ck_assert(strncmp(name, "full-snapshot-", 14) == 0);
    const cJSON *list = expect_ok(call("GET", "/snapshots", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(list), 1);
    ck_assert_str_eq(str(cJSON_GetArrayItem(list, 0), "checksum"), sum);
    char path[512];
    snprintf(path, sizeof(path), "/snapshots/%s", name);
    reply *r = call("GET", path, NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body.len, (size_t)size);
    ck_assert_mem_eq(r->body.p, "QVFSNAP", 8);
    /* every collection and the alias are in the header */
    ck_assert(memmem(r->body.p, r->body.len, "\"name\":\"fa\"", 11));
    ck_assert(memmem(r->body.p, r->body.len, "\"name\":\"fb\"", 11));
    ck_assert(memmem(r->body.p, r->body.len, "fa_alias", 8));
    ck_assert(cJSON_IsTrue(expect_ok(call("DELETE", path, NULL))));
    expect_error(call("GET", path, NULL), 404);
    expect_error(call("DELETE", path, NULL), 404);
    ck_assert_int_eq(
        cJSON_GetArraySize(expect_ok(call("GET", "/snapshots", NULL))), 0);
    expect_error_prefix(call("GET", "/snapshots/x.txt", NULL), 404,
                        "Not found: Snapshot x.txt not found");
    expect_error(call("GET", "/snapshots/..%2Fcatalog.snapshot", NULL), 404);
}
END_TEST

/* indexed_vectors_count reports the vectors in the HNSW graph, built once
 * the vectors pass optimizers_config.indexing_threshold (Qdrant indexes a
 * segment above it; 0 disables indexing). */
START_TEST(test_indexed_vectors_count)
{
    char body[8192];
    size_t n = 0;
    n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"points\":[");
    for (int i = 1; i <= 100; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"id\":%d,\"vector\":[%d,1,2,3]}",
                              i > 1 ? "," : "", i, i);
    snprintf(body + n, sizeof(body) - n, "]}");
    create("ix1", "{\"vectors\":{\"size\":4,\"distance\":\"Euclid\"},"
                  "\"optimizers_config\":{\"indexing_threshold\":1}}");
    create("ix0", "{\"vectors\":{\"size\":4,\"distance\":\"Euclid\"},"
                  "\"optimizers_config\":{\"indexing_threshold\":0}}");
    create("ixd", "{\"vectors\":{\"size\":4,\"distance\":\"Euclid\"}}");
    const char *names[] = {"ix1", "ix0", "ixd"};
    const int want[] = {100, 0, 0};
    for (int k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof(path), "/collections/%s/points?wait=true",
                 names[k]);
        expect_ok(call("PUT", path, body));
        snprintf(path, sizeof(path), "/collections/%s", names[k]);
        const cJSON *info = expect_ok(call("GET", path, NULL));
        ck_assert_int_eq((int)num(info, "indexed_vectors_count"), want[k]);
        ck_assert_int_eq((int)num(info, "points_count"), 100);
        ck_assert_str_eq(str(info, "status"), "green");
        ck_assert_str_eq(str(info, "optimizer_status"), "ok");
    }
    /* searches still find the nearest point through the graph */
    const cJSON *res = expect_ok(call("POST", "/collections/ix1/points/query",
                                      "{\"query\":[50,1,2,3],\"limit\":1}"));
    ck_assert_int_eq(
        (int)cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(res, "points"), 0), "id")
            ->valuedouble,
        50);
}
END_TEST

/* A tiny HTTP server on loopback: serves file_bytes for any path but one
 * containing "missing" (404), for up to `requests` connections. */
typedef struct mini_http {
    int fd;
    unsigned port;
    const char *bytes;
    size_t len;
    int requests;
    pthread_t thread;
} mini_http;

static void *mini_http_run(void *arg)
{
    mini_http *m = arg;
    for (int i = 0; i < m->requests; i++) {
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            break;
        char req[2048];
        ssize_t got = recv(c, req, sizeof(req) - 1, 0);
        req[got > 0 ? got : 0] = '\0';
        char head[128];
        if (strstr(req, "missing")) {
            snprintf(head, sizeof(head),
                     "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            (void)!send(c, head, strlen(head), MSG_NOSIGNAL);
        } else {
            snprintf(head, sizeof(head),
                     "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", m->len);
            (void)!send(c, head, strlen(head), MSG_NOSIGNAL);
            for (size_t off = 0; off < m->len;) {
                ssize_t n = send(c, m->bytes + off, m->len - off, MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                off += (size_t)n;
            }
        }
        close(c);
    }
    return NULL;
}

static void mini_http_start(mini_http *m)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(m->fd, 0);
    ck_assert_int_eq(bind(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(m->fd, 8), 0);
    ck_assert_int_eq(getsockname(m->fd, (struct sockaddr *)&a, &al), 0);
    m->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&m->thread, NULL, mini_http_run, m), 0);
}

/* Recovery from http(s):// locations: downloaded with libcurl from hosts
 * on the allow-list (loopback by default), checksum checked, anything
 * else refused before a byte is sent. */
START_TEST(test_snapshot_from_url)
{
    create("url", SMALL);
    expect_ok(call("PUT", "/collections/url/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]},"
                   "{\"id\":2,\"vector\":[0,1,0,0]}]}"));
    const cJSON *d =
        expect_ok(call("POST", "/collections/url/snapshots", "{}"));
    char name[512], sum[65], path[1024];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    snprintf(sum, sizeof(sum), "%s", str(d, "checksum"));
    snprintf(path, sizeof(path), "/collections/url/snapshots/%s", name);
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    mini_http m = {.len = R.body.len, .requests = 3};
    char *bytes = malloc(m.len);
    ck_assert_ptr_nonnull(bytes);
    memcpy(bytes, R.body.p, m.len);
    m.bytes = bytes;
    mini_http_start(&m);
    expect_ok(call("POST", "/collections/url/points/delete?wait=true",
                   "{\"points\":[1,2]}"));
    ck_assert_int_eq(points_of("url"), 0);

    char body[1400];
    snprintf(body, sizeof(body),
             "{\"location\":\"http://127.0.0.1:%u/s/%s\",\"checksum\":\"%s\"}",
             m.port, name, sum);
    ck_assert(cJSON_IsTrue(
        expect_ok(call("PUT", "/collections/url/snapshots/recover", body))));
    ck_assert_int_eq(points_of("url"), 2);
    /* a wrong checksum: Qdrant's mismatch error, nothing restored */
    snprintf(body, sizeof(body),
             "{\"location\":\"http://localhost:%u/s.snapshot\","
             "\"checksum\":\"%064d\"}",
             m.port, 0);
    expect_error_prefix(call("PUT", "/collections/url/snapshots/recover", body),
                        400, "Checksum mismatch: expected ");
    /* the server's 404 */
    snprintf(body, sizeof(body),
             "{\"location\":\"http://127.0.0.1:%u/missing.snapshot\"}", m.port);
    expect_error_prefix(call("PUT", "/collections/url/snapshots/recover", body),
                        400, "Bad request: failed to download snapshot from ");
    pthread_join(m.thread, NULL);
    close(m.fd);
    free(bytes);
    /* a host not on the allow-list: refused before anything is sent */
    expect_error_msg(call("PUT", "/collections/url/snapshots/recover",
                          "{\"location\":\"http://10.1.2.3/x.snapshot\"}"),
                     403,
                     "Forbidden: snapshot URL host `10.1.2.3` is not allowed "
                     "(--snapshot-url-hosts)");
    expect_error(call("PUT", "/collections/url/snapshots/recover",
                      "{\"location\":\"https://example.com/x.snapshot\"}"),
                 403);
    /* other schemes are still refused */
    expect_error(call("PUT", "/collections/url/snapshots/recover",
                      "{\"location\":\"ftp://127.0.0.1/x.snapshot\"}"),
                 400);
}
END_TEST

/* --snapshot-url-hosts / QDRANT__STORAGE__SNAPSHOT_URL_HOSTS set the
 * allow-list; flags win. */
START_TEST(test_snapshot_url_hosts_config)
{
    qvs_config cfg;
    qvs_config_init(&cfg);
    ck_assert_ptr_null(cfg.snapshot_url_hosts);
    setenv("QDRANT__STORAGE__SNAPSHOT_URL_HOSTS", "a.example,b.example", 1);
    char *argv1[] = {"serve", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 1, argv1), 0);
    ck_assert_str_eq(cfg.snapshot_url_hosts, "a.example,b.example");
    char *argv2[] = {"serve", "--snapshot-url-hosts", "*", NULL};
    ck_assert_int_eq(qvs_config_parse(&cfg, 3, argv2), 0);
    ck_assert_str_eq(cfg.snapshot_url_hosts, "*");
    unsetenv("QDRANT__STORAGE__SNAPSHOT_URL_HOSTS");
}
END_TEST

/* ---- 11. hybrid queries and groups (server/points_query.c tree,
 * server/query_*.c, server/points_groups.c) over HTTP, every response
 * checked against the OpenAPI schema ----------------------------------------
 */

START_TEST(test_hybrid_queries)
{
    create("hy", "{\"vectors\":{\"dense\":{\"size\":2,\"distance\":\"Cosine\"},"
                 "\"other\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(call("PUT", "/collections/hy/points?wait=true",
                   "{\"points\":["
                   "{\"id\":1,\"vector\":{\"dense\":[1,0],\"other\":[0,1]},"
                   "\"payload\":{\"doc\":\"a\",\"price\":10}},"
                   "{\"id\":2,\"vector\":{\"dense\":[0.9,0.1],\"other\":[1,0]},"
                   "\"payload\":{\"doc\":\"a\",\"price\":20}},"
                   "{\"id\":3,\"vector\":{\"dense\":[0,1],\"other\":[2,2]},"
                   "\"payload\":{\"doc\":[\"b\",\"a\"],\"price\":30}},"
                   "{\"id\":4,\"vector\":{\"other\":[3,0]},"
                   "\"payload\":{\"doc\":\"c\"}}]}"));
    /* rrf over two prefetches, scores 1/(pos+2) summed */
    const cJSON *res = expect_ok(
        call("POST", "/collections/hy/points/query",
             "{\"prefetch\":[{\"query\":[1,0],\"using\":\"dense\",\"limit\":3},"
             "{\"query\":[1,0],\"using\":\"other\",\"limit\":3}],"
             "\"query\":{\"fusion\":\"rrf\"},\"with_payload\":[\"doc\"],"
             "\"limit\":2}"));
    const cJSON *pts = cJSON_GetObjectItem(res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 2);
    /* dense: 1, 2, 3; other: 4, 3, 2 -> 2 and 3: 1/3 + 1/4 (a tie: the
     * lower id first), 1 and 4: 1/2 */
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 2);
    ck_assert_double_eq_tol(num(cJSON_GetArrayItem(pts, 0), "score"),
                            7.0 / 12.0, 1e-6);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 1), "id"), 3);
    ck_assert_str_eq(str(cJSON_GetArrayItem(pts, 0), "payload.doc"), "a");
    /* a dense re-score of what the other vector found, and a formula */
    res = expect_ok(call("POST", "/collections/hy/points/query",
                         "{\"prefetch\":{\"query\":[1,1],\"using\":\"other\","
                         "\"limit\":2},\"query\":[0,1],\"using\":\"dense\"}"));
    pts = cJSON_GetObjectItem(res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 1); /* 4 has no dense */
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 3);
    res = expect_ok(
        call("POST", "/collections/hy/points/query",
             "{\"prefetch\":{\"query\":[1,0],\"using\":\"other\",\"limit\":4},"
             "\"query\":{\"formula\":{\"sum\":[\"$score\",{\"mult\":[0.1,"
             "\"price\"]}]},\"defaults\":{\"price\":0}},\"limit\":4}"));
    pts = cJSON_GetObjectItem(res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 4);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 3); /* 5 */
    ck_assert_double_eq_tol(num(cJSON_GetArrayItem(pts, 0), "score"), 5.0,
                            1e-6);
    /* a null value takes the default, as a missing one does (Qdrant's
     * tests/openapi/test_query_formula.py) */
    expect_ok(call("POST", "/collections/hy/points/payload?wait=true",
                   "{\"payload\":{\"price\":null},\"points\":[3]}"));
    res = expect_ok(
        call("POST", "/collections/hy/points/query",
             "{\"prefetch\":{\"query\":[1,0],\"using\":\"other\",\"limit\":4},"
             "\"query\":{\"formula\":{\"sum\":[\"$score\",{\"mult\":[0.1,"
             "\"price\"]}]},\"defaults\":{\"price\":7}},\"limit\":4,"
             "\"filter\":{\"must\":{\"has_id\":[3]}}}"));
    pts = cJSON_GetObjectItem(res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 1);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 3);
    ck_assert_double_eq_tol(num(cJSON_GetArrayItem(pts, 0), "score"), 2.7,
                            1e-6); /* dot 2 + 0.1 * 7 */
    expect_ok(call("POST", "/collections/hy/points/payload?wait=true",
                   "{\"payload\":{\"price\":30},\"points\":[3]}"));
    /* batch with a prefetch, and groups: 3 joins groups a and b */
    res = expect_ok(call(
        "POST", "/collections/hy/points/query/batch",
        "{\"searches\":[{\"prefetch\":{\"query\":[1,0],\"using\":\"dense\"},"
        "\"query\":{\"fusion\":\"dbsf\"},\"limit\":1},"
        "{\"query\":[1,0],\"using\":\"dense\",\"limit\":1}]}"));
    ck_assert_int_eq(cJSON_GetArraySize(res), 2);
    expect_ok(call("PUT", "/collections/hy/points?wait=true",
                   "{\"points\":[{\"id\":5,\"vector\":{\"dense\":[0.1,1]},"
                   "\"payload\":{\"doc\":[\"a\",2.5]}}]}"));
    res = expect_ok(call("POST", "/collections/hy/points/query/groups",
                         "{\"query\":[0,1],\"using\":\"dense\",\"group_by\":"
                         "\"doc\",\"group_size\":2,\"limit\":3,"
                         "\"with_payload\":true}"));
    const cJSON *groups = cJSON_GetObjectItem(res, "groups");
    ck_assert_int_eq(cJSON_GetArraySize(groups), 2);
    /* both groups start with point 3: in the order of its values; 5 has
     * a value that names no group (2.5), so it is in none */
    ck_assert_str_eq(str(cJSON_GetArrayItem(groups, 0), "id"), "b");
    ck_assert_str_eq(str(cJSON_GetArrayItem(groups, 1), "id"), "a");
    const cJSON *ha =
        cJSON_GetObjectItem(cJSON_GetArrayItem(groups, 1), "hits");
    ck_assert_int_eq(cJSON_GetArraySize(ha), 2);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(ha, 0), "id"), 3);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(ha, 1), "id"), 2);
    /* Qdrant's refusals */
    expect_error_msg(call("POST", "/collections/hy/points/query",
                          "{\"query\":{\"fusion\":\"rrf\"}}"),
                     400,
                     "Wrong input: Validation failed: cannot apply Fusion "
                     "without prefetches");
    expect_error_msg(
        call("POST", "/collections/hy/points/query",
             "{\"prefetch\":{\"query\":[1,0],\"using\":\"dense\"},"
             "\"query\":{\"formula\":{\"mult\":[\"$score\",\"doc\"]}}}"),
        400,
        "Wrong input: Expected number value for doc in the payload and/or in "
        "the formula defaults. Error: Value is not a number");
    expect_error_msg(
        call("POST", "/collections/hy/points/query",
             "{\"prefetch\":{\"query\":[1,0],\"using\":\"dense\"},"
             "\"query\":{\"formula\":{\"div\":{\"left\":1,\"right\":0}}}}"),
        400,
        "Wrong input: The expression 1/0 = inf produced a non-finite number");
    expect_error_msg(call("POST", "/collections/hy/points/query/groups",
                          "{\"query\":[0,1],\"using\":\"dense\"}"),
                     400,
                     "Format error in JSON body: missing field `group_by`");
}
END_TEST

/* ---- 11. strict mode (server/strict.c) --------------------------------
 * Each setting: a request under the limit passes, one over it is refused
 * with Qdrant's status and message (tests/openapi/test_strictmode.py and
 * lib/collection/src/operations/verification/ in Qdrant 1.19) and changes
 * nothing. */

static void strict_patch(const char *strict);

/* Collection s with three points, then strict mode set by PATCH. */
static void strict_setup(const char *strict)
{
    expect_ok(call("PUT", "/collections/s",
                   "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"}}"));
    expect_ok(call("PUT", "/collections/s/points?wait=true",
                   "{\"points\":["
                   "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"city\":"
                   "\"Berlin\",\"n\":1}},"
                   "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":{\"city\":"
                   "\"Paris\",\"n\":2}},"
                   "{\"id\":3,\"vector\":[0,0,1,0],\"payload\":{\"city\":"
                   "\"Rome\",\"n\":3}}]}"));
    strict_patch(strict);
}

static void strict_patch(const char *strict)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"strict_mode_config\":%s}", strict);
    expect_ok(call("PATCH", "/collections/s", body));
}

/* The "Bad request: <error>. Help: <solution>" of check_limit_opt. */
static void expect_limit(reply *r, const char *value, const char *max,
                         const char *name)
{
    char msg[512];
    snprintf(msg, sizeof(msg),
             "Bad request: Limit exceeded %s > %s for \"%s\". Help: Reduce "
             "the \"%s\" parameter to or below %s.",
             value, max, name, name, max);
    expect_error_msg(r, 400, msg);
}

static uint64_t strict_count(void)
{
    const cJSON *c = expect_ok(
        call("POST", "/collections/s/points/count", "{\"exact\":false}"));
    return (uint64_t)cJSON_GetObjectItem(c, "count")->valuedouble;
}

START_TEST(test_strict_config_patch)
{
    /* Accepted at create and shown. */
    expect_ok(call("PUT", "/collections/c",
                   "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                   "\"strict_mode_config\":{\"enabled\":true,"
                   "\"max_query_limit\":2}}"));
    const cJSON *cfg = cJSON_GetObjectItem(
        cJSON_GetObjectItem(expect_ok(call("GET", "/collections/c", NULL)),
                            "config"),
        "strict_mode_config");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "enabled")));
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "max_query_limit")->valueint, 2);
    expect_limit(call("POST", "/collections/c/points/search",
                      "{\"vector\":[1,0,0,0],\"limit\":3}"),
                 "3", "2", "limit");
    strict_setup("{\"enabled\":true,\"max_query_limit\":2}");
    const char *q = "{\"vector\":[1,0,0,0],\"limit\":3}";
    expect_limit(call("POST", "/collections/s/points/search", q), "3", "2",
                 "limit");
    /* A partial PATCH keeps the other settings; off means not enforced. */
    strict_patch("{\"max_query_limit\":3}");
    expect_ok(call("POST", "/collections/s/points/search", q));
    strict_patch("{\"max_query_limit\":1,\"enabled\":false}");
    expect_ok(call("POST", "/collections/s/points/search", q));
    strict_patch("{\"enabled\":true}");
    expect_limit(call("POST", "/collections/s/points/search", q), "3", "1",
                 "limit");
    /* Persisted: a restarted server enforces the patched config. */
    stop_server();
    qvs_config conf;
    test_config(&conf);
    start_with(&conf);
    expect_limit(call("POST", "/collections/s/points/search", q), "3", "1",
                 "limit");
    expect_ok(call("POST", "/collections/s/points/search",
                   "{\"vector\":[1,0,0,0],\"limit\":1}"));
}
END_TEST

START_TEST(test_strict_read_limits)
{
    strict_setup("{\"enabled\":true,\"max_query_limit\":2,\"max_timeout\":2,"
                 "\"search_max_hnsw_ef\":5,\"search_allow_exact\":false,"
                 "\"search_max_oversampling\":2.0}");
    const char *S = "/collections/s/points/search";
    expect_ok(call("POST", S, "{\"vector\":[1,0,0,0],\"limit\":2}"));
    expect_limit(call("POST", "/collections/s/points/query",
                      "{\"query\":[1,0,0,0],\"limit\":3}"),
                 "3", "2", "limit");
    expect_limit(call("POST", "/collections/s/points/query",
                      "{\"prefetch\":{\"query\":[1,0,0,0],\"limit\":9},"
                      "\"query\":[1,0,0,0],\"limit\":1}"),
                 "9", "2", "limit");
    expect_limit(call("POST", "/collections/s/points/scroll", "{\"limit\":5}"),
                 "5", "2", "limit");
    expect_limit(call("POST", "/collections/s/points/search/batch",
                      "{\"searches\":[{\"vector\":[1,0,0,0],\"limit\":1},"
                      "{\"vector\":[1,0,0,0],\"limit\":4}]}"),
                 "4", "2", "limit");
    /* ?timeout= against max_timeout. */
    expect_ok(call("POST", "/collections/s/points/search?timeout=2",
                   "{\"vector\":[1,0,0,0],\"limit\":1}"));
    expect_limit(call("POST", "/collections/s/points/search?timeout=3",
                      "{\"vector\":[1,0,0,0],\"limit\":1}"),
                 "3", "2", "timeout");
    /* Search params. */
    expect_ok(call("POST", S,
                   "{\"vector\":[1,0,0,0],\"limit\":1,\"params\":"
                   "{\"hnsw_ef\":5,\"quantization\":{\"oversampling\":2.0}}}"));
    expect_limit(call("POST", S,
                      "{\"vector\":[1,0,0,0],\"limit\":1,\"params\":"
                      "{\"hnsw_ef\":6}}"),
                 "6", "5", "hnsw_ef");
    expect_limit(call("POST", S,
                      "{\"vector\":[1,0,0,0],\"limit\":1,\"params\":"
                      "{\"quantization\":{\"oversampling\":2.5}}}"),
                 "2.5", "2", "oversampling");
    /* Numbers as Rust prints them (1.9, not 1.8999999999999999). */
    strict_patch("{\"search_max_oversampling\":1.9}");
    expect_limit(call("POST", S,
                      "{\"vector\":[1,0,0,0],\"limit\":1,\"params\":"
                      "{\"quantization\":{\"oversampling\":2.0}}}"),
                 "2", "1.9", "oversampling");
    expect_error_msg(call("POST", S,
                          "{\"vector\":[1,0,0,0],\"limit\":1,\"params\":"
                          "{\"exact\":true}}"),
                     400,
                     "Bad request: Exact search disabled!. Help: Set "
                     "exact=false.");
    /* count is exact unless it says otherwise. */
    expect_error_msg(call("POST", "/collections/s/points/count", "{}"), 400,
                     "Bad request: Exact search disabled!. Help: Set "
                     "exact=false.");
    ck_assert_uint_eq(strict_count(), 3);
}
END_TEST

START_TEST(test_strict_unindexed_filters)
{
    strict_setup("{\"enabled\":true,\"unindexed_filtering_retrieve\":false,"
                 "\"unindexed_filtering_update\":false}");
    const char *search = "{\"vector\":[1,0,0,0],\"limit\":3,\"filter\":"
                         "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":"
                         "\"Berlin\"}}]}}";
    const char *msg =
        "Bad request: Index required but not found for \"city\" of one of "
        "the following types: [keyword, uuid]. Help: Create an index for "
        "this key or use a different filter.";
    expect_error_msg(call("POST", "/collections/s/points/search", search), 400,
                     msg);
    const char *del = "{\"filter\":{\"must\":[{\"key\":\"city\",\"match\":"
                      "{\"value\":\"Berlin\"}}]}}";
    expect_error_msg(
        call("POST", "/collections/s/points/delete?wait=true", del), 400, msg);
    ck_assert_uint_eq(strict_count(), 3); /* refused before applied */
    expect_error_msg(
        call("POST", "/collections/s/points/scroll",
             "{\"filter\":{\"must\":[{\"key\":\"n\",\"range\":{\"gt\":1}}]}}"),
        400,
        "Bad request: Index required but not found for \"n\" of one of the "
        "following types: [float, integer]. Help: Create an index for this "
        "key or use a different filter.");
    /* Deleting by ids needs no index. */
    expect_ok(call("POST", "/collections/s/points/delete?wait=true",
                   "{\"points\":[3]}"));
    expect_ok(call("PUT", "/collections/s/index?wait=true",
                   "{\"field_name\":\"city\",\"field_schema\":\"keyword\"}"));
    expect_ok(call("POST", "/collections/s/points/search", search));
    expect_ok(call("POST", "/collections/s/points/delete?wait=true", del));
    ck_assert_uint_eq(strict_count(), 1);
}
END_TEST

START_TEST(test_strict_filter_sizes)
{
    strict_setup("{\"enabled\":true,\"filter_max_conditions\":2,"
                 "\"condition_max_size\":3}");
    const char *S = "/collections/s/points/scroll";
    expect_ok(call("POST", S,
                   "{\"filter\":{\"must\":[{\"key\":\"n\",\"match\":{\"any\":"
                   "[1,2,3]}},{\"has_id\":[1]}]}}"));
    expect_error_msg(
        call("POST", S,
             "{\"filter\":{\"must\":[{\"key\":\"n\",\"match\":"
             "{\"value\":1}},{\"has_id\":[1]}],\"should\":[{\"key\":"
             "\"n\",\"match\":{\"value\":2}}]}}"),
        400,
        "Bad request: Filter condition limit reached (3 > 2). Help: "
        "Reduce the amount of conditions of your filter.");
    expect_error_msg(
        call("POST", S,
             "{\"filter\":{\"must\":[{\"key\":\"n\",\"match\":{\"any\":"
             "[1,2,3,4]}}]}}"),
        400,
        "Bad request: Condition size limit reached (4 > 3). Help: Reduce the "
        "size of your condition.");
}
END_TEST

START_TEST(test_strict_write_limits)
{
    strict_setup("{\"enabled\":true,\"upsert_max_batchsize\":2}");
    const char *P = "/collections/s/points?wait=true";
    expect_ok(call("PUT", P,
                   "{\"batch\":{\"ids\":[4,5],\"vectors\":[[1,1,0,0],"
                   "[1,1,1,0]]}}"));
    expect_limit(call("PUT", P,
                      "{\"batch\":{\"ids\":[6,7,8],\"vectors\":[[1,1,0,0],"
                      "[1,1,1,0],[1,0,0,1]]}}"),
                 "3", "2", "upsert limit");
    expect_limit(call("PUT", "/collections/s/points/vectors?wait=true",
                      "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0]},{\"id\":"
                      "2,\"vector\":[1,0,0,0]},{\"id\":3,\"vector\":"
                      "[1,0,0,0]}]}"),
                 "3", "2", "update limit");
    expect_limit(call("POST", "/collections/s/points/batch?wait=true",
                      "{\"operations\":[{\"delete\":{\"points\":[1]}},"
                      "{\"upsert\":{\"points\":[{\"id\":9,\"vector\":"
                      "[1,0,0,0]},{\"id\":10,\"vector\":[1,0,0,0]},{\"id\":11,"
                      "\"vector\":[1,0,0,0]}]}}]}"),
                 "3", "2", "upsert limit");
    ck_assert_uint_eq(strict_count(), 5); /* the batch's delete not applied */

    /* Points count and vector storage: checked before the write, against
     * what the collection holds (5 points of 16 bytes). */
    strict_patch("{\"max_points_count\":5}");
    expect_error_msg(
        call("PUT", P, "{\"points\":[{\"id\":20,\"vector\":[1,0,0,0]}]}"), 400,
        "Bad request: Max points count limit of 5 reached!");
    strict_patch("{\"max_points_count\":6,\"max_collection_vector_size_bytes\":"
                 "96}");
    expect_ok(
        call("PUT", P, "{\"points\":[{\"id\":20,\"vector\":[1,0,0,0]}]}"));
    expect_error_msg(
        call("PUT", P, "{\"points\":[{\"id\":21,\"vector\":[1,0,0,0]}]}"), 400,
        "Bad request: Max vector storage size limit of "
        "0.000091552734MB reached!");
    ck_assert_uint_eq(strict_count(), 6);

    /* Multivector and sparse limits, per vector name. */
    /* (null in a PATCH keeps a setting: catalog_config.c merges maps.) */
    strict_patch("{\"max_collection_vector_size_bytes\":1000000,"
                 "\"max_points_count\":1000,"
                 "\"multivector_config\":{\"m\":{\"max_vectors\":2}},"
                 "\"sparse_config\":{\"sp\":{\"max_length\":2}}}");
    expect_error_msg(call("PUT", P,
                          "{\"points\":[{\"id\":30,\"vector\":{\"m\":[[1,0],"
                          "[0,1],[1,1]]}}]}"),
                     400,
                     "Bad request: Multivector 'm' has a limit of 2 vectors, "
                     "but 3 were provided!");
    expect_error_msg(call("PUT", P,
                          "{\"points\":[{\"id\":30,\"vector\":{\"sp\":"
                          "{\"indices\":[1,2,3],\"values\":[1,1,1]}}}]}"),
                     400,
                     "Bad request: Sparse vector 'sp' has a limit of 2 "
                     "indices, but 3 were provided!");
}
END_TEST

/* max_collection_payload_size_bytes, as Qdrant 1.19 enforces it
 * (check_collection_payload_size_limit): upserts, vector updates and set /
 * overwrite payload (also inside points/batch) are refused once the
 * payloads already stored reach the limit; deletes and payload removals
 * still pass, so room can be made.  The size is the stored form's bytes
 * (qv_payload_bytes).  Before, the setting was stored but not enforced. */
START_TEST(test_strict_payload_size)
{
    strict_setup("{\"enabled\":true,\"max_collection_payload_size_bytes\":"
                 "1000000}");
    const char *P = "/collections/s/points?wait=true";
    expect_ok(call("PUT", P, "{\"points\":[{\"id\":9,\"vector\":[1,0,0,0]}]}"));
    strict_patch("{\"max_collection_payload_size_bytes\":10}");
    static const char *const msg =
        "Bad request: Max payload storage size limit of "
        "0.000009536743MB reached!";
    expect_error_msg(
        call("PUT", P, "{\"points\":[{\"id\":20,\"vector\":[1,0,0,0]}]}"), 400,
        msg);
    expect_error_msg(call("PUT", "/collections/s/points/vectors?wait=true",
                          "{\"points\":[{\"id\":1,\"vector\":[0,0,0,1]}]}"),
                     400, msg);
    expect_error_msg(call("POST", "/collections/s/points/payload?wait=true",
                          "{\"payload\":{\"a\":1},\"points\":[1]}"),
                     400, msg);
    expect_error_msg(call("PUT", "/collections/s/points/payload?wait=true",
                          "{\"payload\":{\"a\":1},\"points\":[1]}"),
                     400, msg);
    expect_error_msg(call("POST", "/collections/s/points/batch?wait=true",
                          "{\"operations\":[{\"set_payload\":{\"payload\":"
                          "{\"a\":1},\"points\":[2]}}]}"),
                     400, msg);
    /* Making room is allowed: clear every payload, then writes pass. */
    expect_ok(call("POST", "/collections/s/points/payload/clear?wait=true",
                   "{\"filter\":{}}"));
    expect_ok(
        call("PUT", P, "{\"points\":[{\"id\":20,\"vector\":[1,0,0,0]}]}"));
    /* ... until the stored payloads reach the limit again. */
    expect_ok(call("POST", "/collections/s/points/payload?wait=true",
                   "{\"payload\":{\"text\":\"longer than ten\"},"
                   "\"points\":[1]}"));
    expect_error_msg(
        call("PUT", P, "{\"points\":[{\"id\":21,\"vector\":[1,0,0,0]}]}"), 400,
        msg);
}
END_TEST

START_TEST(test_strict_index_count)
{
    strict_setup("{\"enabled\":true,\"max_payload_index_count\":1}");
    const char *I = "/collections/s/index?wait=true";
    expect_ok(call("PUT", I,
                   "{\"field_name\":\"city\",\"field_schema\":"
                   "\"keyword\"}"));
    /* Qdrant counts the indexes there are, so even re-creating one is
     * refused at the limit. */
    const char *full = "Bad request: Collection already has the maximum "
                       "number of payload indices (1). Help: Please delete "
                       "an existing index before creating a new one.";
    expect_error_msg(call("PUT", I,
                          "{\"field_name\":\"city\",\"field_schema\":"
                          "\"keyword\"}"),
                     400, full);
    expect_error_msg(call("PUT", I,
                          "{\"field_name\":\"n\",\"field_schema\":"
                          "\"integer\"}"),
                     400, full);
    const cJSON *schema = cJSON_GetObjectItem(
        expect_ok(call("GET", "/collections/s", NULL)), "payload_schema");
    ck_assert_int_eq(cJSON_GetArraySize(schema), 1);
}
END_TEST

START_TEST(test_strict_rate_limits)
{
    strict_setup("{\"enabled\":true,\"read_rate_limit\":1,"
                 "\"write_rate_limit\":2}");
    const char *q = "{\"vector\":[1,0,0,0],\"limit\":1}";
    /* A bucket of one read a minute: the first passes, the next waits
     * about 60 s (the test would need a minute between two requests to
     * see otherwise). */
    expect_ok(call("POST", "/collections/s/points/search", q));
    const char *e =
        expect_error(call("POST", "/collections/s/points/search", q), 429);
    ck_assert_msg(strncmp(e,
                          "Rate limiting exceeded: Read rate limit exceeded: "
                          "Operation requires 1 tokens but only 0.",
                          76) == 0,
                  "%s", e);
    char ra[32];
    ck_assert_ptr_nonnull(resp_header("Retry-After", ra, sizeof(ra)));
    ck_assert_int_gt(atoi(ra), 0);
    ck_assert_int_le(atoi(ra), 60);
    /* Writes: cost is the points listed; more than the bucket holds is
     * never allowed. */
    expect_error_msg(
        call("PUT", "/collections/s/points?wait=true",
             "{\"points\":[{\"id\":7,\"vector\":[1,0,0,0]},{\"id\":8,"
             "\"vector\":[1,0,0,0]},{\"id\":9,\"vector\":[1,0,0,0]}]}"),
        429,
        "Rate limiting exceeded: Write rate limit exceeded, request larger "
        "than rate limiter capacity, please try to split your request");
    /* A filtered update costs the points it matches (3 > 2). */
    expect_error_msg(
        call("POST", "/collections/s/points/delete?wait=true",
             "{\"filter\":{\"must\":[{\"key\":\"n\",\"range\":"
             "{\"gte\":1}}]}}"),
        429,
        "Rate limiting exceeded: Write rate limit exceeded, request larger "
        "than rate limiter capacity, please try to split your request");
    /* Off: no limit. */
    strict_patch("{\"enabled\":false}");
    ck_assert_uint_eq(strict_count(), 3); /* nothing refused was applied */
    for (int i = 0; i < 3; i++)
        expect_ok(call("POST", "/collections/s/points/search", q));
}
END_TEST

/* The settings are checked at create and in a PATCH: types (400) and
 * Qdrant's minimums (422, the OpenAPI schema's "minimum"). */
START_TEST(test_strict_config_validation)
{
    expect_error_msg(call("PUT", "/collections/v",
                          "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                          "\"strict_mode_config\":{\"max_query_limit\":0}}"),
                     422,
                     "Validation error in JSON body: [strict_mode_config."
                     "max_query_limit: value 0 invalid, must be 1 or larger]");
    expect_error_msg(call("PUT", "/collections/v",
                          "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                          "\"strict_mode_config\":{\"enabled\":\"yes\"}}"),
                     400,
                     "Format error in JSON body: strict_mode_config.enabled: "
                     "invalid type: string, expected a boolean");
    strict_setup("{\"enabled\":true,\"search_max_batchsize\":2}");
    expect_error_msg(call("PATCH", "/collections/s",
                          "{\"strict_mode_config\":{\"read_rate_limit\":-1}}"),
                     400,
                     "Format error in JSON body: strict_mode_config."
                     "read_rate_limit: invalid value: -1, expected an "
                     "unsigned integer");
    expect_error_msg(call("PATCH", "/collections/s",
                          "{\"strict_mode_config\":{\"sparse_config\":{\"t\":"
                          "{\"max_length\":0}}}}"),
                     422,
                     "Validation error in JSON body: [strict_mode_config."
                     "sparse_config.t.max_length: value 0 invalid, must be 1 "
                     "or larger]");
    expect_error_msg(call("PATCH", "/collections/s",
                          "{\"strict_mode_config\":"
                          "{\"max_resident_memory_percent\":101}}"),
                     422,
                     "Validation error in JSON body: [strict_mode_config."
                     "max_resident_memory_percent: value 101 invalid, must be "
                     "from 1 to 100]");
    /* search_max_batchsize: the searches of one batch request. */
    const char *two = "{\"searches\":[{\"vector\":[1,0,0,0],\"limit\":1},"
                      "{\"vector\":[1,0,0,0],\"limit\":1}]}";
    const char *three = "{\"searches\":[{\"vector\":[1,0,0,0],\"limit\":1},"
                        "{\"vector\":[1,0,0,0],\"limit\":1},{\"vector\":"
                        "[1,0,0,0],\"limit\":1}]}";
    expect_ok(call("POST", "/collections/s/points/search/batch", two));
    expect_limit(call("POST", "/collections/s/points/search/batch", three), "3",
                 "2", "batch size");
    expect_limit(call("POST", "/collections/s/points/query/batch",
                      "{\"searches\":[{},{},{}]}"),
                 "3", "2", "batch size");
}
END_TEST

/* multivector_config and sparse_config on real multivectors and sparse
 * vectors (tests/openapi/test_strictmode.py's cases). */
START_TEST(test_strict_multi_sparse)
{
    expect_ok(
        call("PUT", "/collections/s",
             "{\"vectors\":{\"dense-multi\":{\"size\":4,\"distance\":"
             "\"Dot\",\"multivector_config\":{\"comparator\":"
             "\"max_sim\"}}},\"sparse_vectors\":{\"sparse-vector\":{}}}"));
    strict_patch("{\"enabled\":true,\"multivector_config\":{\"dense-multi\":"
                 "{\"max_vectors\":5}},\"sparse_config\":{\"sparse-vector\":"
                 "{\"max_length\":4}}}");
    const char *P = "/collections/s/points?wait=true";
    expect_ok(call("PUT", P,
                   "{\"points\":[{\"id\":1,\"vector\":{\"dense-multi\":"
                   "[[1,2,3,4],[2,3,4,5],[3,4,5,6]],\"sparse-vector\":"
                   "{\"indices\":[1,2,3,4],\"values\":[0.1,0.2,0.3,0.4]}}}]}"));
    const char *six = "[[1,1,1,1],[1,1,1,1],[1,1,1,1],[1,1,1,1],[1,1,1,1],"
                      "[1,1,1,1]]";
    const char *multi_msg = "Bad request: Multivector 'dense-multi' has a "
                            "limit of 5 vectors, but 6 were provided!";
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"points\":[{\"id\":2,\"vector\":{\"dense-multi\":%s}}]}", six);
    expect_error_msg(call("PUT", P, body), 400, multi_msg);
    snprintf(body, sizeof(body),
             "{\"batch\":{\"ids\":[2],\"vectors\":{\"dense-multi\":[%s]}}}",
             six);
    expect_error_msg(call("PUT", P, body), 400, multi_msg);
    expect_error_msg(
        call("PUT", P,
             "{\"points\":[{\"id\":2,\"vector\":{\"sparse-vector\":"
             "{\"indices\":[1,2,3,4,5,6],\"values\":[0.1,0.2,0.3,"
             "0.4,0.5,0.6]}}}]}"),
        400,
        "Bad request: Sparse vector 'sparse-vector' has a limit "
        "of 4 indices, but 6 were provided!");
    ck_assert_uint_eq(strict_count(), 1);
    strict_patch("{\"enabled\":false}");
    expect_ok(call("PUT", P, body));
}
END_TEST

/* The other read endpoints take the same checks. */
START_TEST(test_strict_other_reads)
{
    strict_setup("{\"enabled\":true,\"max_query_limit\":2,"
                 "\"unindexed_filtering_retrieve\":false}");
    expect_ok(call("PUT", "/collections/s/index?wait=true",
                   "{\"field_name\":\"city\",\"field_schema\":"
                   "\"keyword\"}"));
    expect_ok(
        call("POST", "/collections/s/facet", "{\"key\":\"city\",\"limit\":2}"));
    expect_limit(
        call("POST", "/collections/s/facet", "{\"key\":\"city\",\"limit\":3}"),
        "3", "2", "limit");
    expect_limit(call("POST", "/collections/s/points/search/groups",
                      "{\"vector\":[1,0,0,0],\"group_by\":\"city\","
                      "\"limit\":3,\"group_size\":1}"),
                 "3", "2", "limit");
    /* group_by needs an index that answers match. */
    expect_error_msg(call("POST", "/collections/s/points/search/groups",
                          "{\"vector\":[1,0,0,0],\"group_by\":\"n\","
                          "\"limit\":1,\"group_size\":1}"),
                     400,
                     "Bad request: Index required but not found for \"n\". "
                     "Help: Create an index supporting `match` for this key.");
    expect_ok(call("PUT", "/collections/s/index?wait=true",
                   "{\"field_name\":\"n\",\"field_schema\":\"float\"}"));
    expect_error_msg(call("POST", "/collections/s/points/search/groups",
                          "{\"vector\":[1,0,0,0],\"group_by\":\"n\","
                          "\"limit\":1,\"group_size\":1}"),
                     400,
                     "Bad request: Index of type \"Float\" found for \"n\". "
                     "Help: Create an index supporting `match` for this key.");
    expect_ok(call("POST", "/collections/s/points/search/groups",
                   "{\"vector\":[1,0,0,0],\"group_by\":\"city\","
                   "\"limit\":2,\"group_size\":1}"));
    expect_limit(call("POST", "/collections/s/points/search/matrix/pairs",
                      "{\"sample\":2,\"limit\":3}"),
                 "3", "2", "limit");
    expect_error_prefix(call("POST", "/collections/s/points/count",
                             "{\"exact\":false,\"filter\":{\"must\":"
                             "[{\"key\":\"n\",\"match\":{\"value\":1}}]}}"),
                        400,
                        "Bad request: Index required but not found for "
                        "\"n\" of one of the following types: [integer]");
    expect_ok(call("POST", "/collections/s/points/count",
                   "{\"filter\":{\"must\":[{\"key\":\"city\",\"match\":"
                   "{\"value\":\"Rome\"}}]}}"));
    /* An integer index without range serves match but not range. */
    expect_ok(call("PUT", "/collections/s/index?wait=true",
                   "{\"field_name\":\"k\",\"field_schema\":{\"type\":"
                   "\"integer\",\"lookup\":true,\"range\":false}}"));
    expect_ok(call("POST", "/collections/s/points/scroll",
                   "{\"filter\":{\"must\":[{\"key\":\"k\",\"match\":"
                   "{\"value\":1}}]}}"));
    expect_error_prefix(call("POST", "/collections/s/points/scroll",
                             "{\"filter\":{\"must\":[{\"key\":\"k\","
                             "\"range\":{\"gt\":1}}]}}"),
                        400,
                        "Bad request: Index required but not found for "
                        "\"k\" of one of the following types: [float, "
                        "integer]");
}
END_TEST

/* The token bucket alone, on an injected clock (no sleeping). */
static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

START_TEST(test_strict_bucket_clock)
{
    qvs_strict_rates *r = qvs_strict_rates_new();
    ck_assert_ptr_nonnull(r);
    fake_now = 1000;
    qvs_strict_rates_set_clock(r, fake_clock, NULL);
    qvs_resp resp;
    memset(&resp, 0, sizeof(resp));
    for (int i = 0; i < 60; i++)
        ck_assert(qvs_strict_take(r, false, 60, 1, &resp));
    ck_assert(!qvs_strict_take(r, false, 60, 1, &resp));
    ck_assert_int_eq(resp.http_status, 429);
    ck_assert_str_eq(resp.retry_after, "1");
    ck_assert_str_eq(resp.error,
                     "Rate limiting exceeded: Read rate limit exceeded: "
                     "Operation requires 1 tokens but only 0.0 were "
                     "available. Retry after 1s");
    /* The write bucket is separate. */
    ck_assert(qvs_strict_take(r, true, 60, 5, &resp));
    fake_now += 1000000000u; /* one second: one token back */
    ck_assert(qvs_strict_take(r, false, 60, 1, &resp));
    ck_assert(!qvs_strict_take(r, false, 60, 1, &resp));
    fake_now += 3600ull * 1000000000u; /* refill stops at the capacity */
    for (int i = 0; i < 60; i++)
        ck_assert(qvs_strict_take(r, false, 60, 1, &resp));
    ck_assert(!qvs_strict_take(r, false, 60, 1, &resp));
    /* A new rate restarts the bucket full. */
    ck_assert(qvs_strict_take(r, false, 120, 120, &resp));
    memset(&resp, 0, sizeof(resp));
    ck_assert(!qvs_strict_take(r, false, 120, 121, &resp));
    ck_assert_str_eq(resp.retry_after, "");
    qvs_strict_rates_free(r);
}
END_TEST

/* Many threads on one bucket with the clock stopped: exactly the
 * capacity is granted, never more (the mutex in qvs_strict_rates). */
typedef struct bucket_arg {
    qvs_strict_rates *r;
    int granted;
} bucket_arg;

static void *bucket_worker(void *p)
{
    bucket_arg *a = p;
    for (int i = 0; i < 100; i++) {
        qvs_resp resp;
        memset(&resp, 0, sizeof(resp));
        a->granted += qvs_strict_take(a->r, true, 150, 1, &resp);
    }
    return NULL;
}

START_TEST(test_strict_bucket_threads)
{
    qvs_strict_rates *r = qvs_strict_rates_new();
    ck_assert_ptr_nonnull(r);
    fake_now = 5;
    qvs_strict_rates_set_clock(r, fake_clock, NULL);
    pthread_t th[4];
    bucket_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (bucket_arg){r, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, bucket_worker, &args[i]),
                         0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].granted;
    }
    ck_assert_int_eq(total, 150);
    qvs_strict_rates_free(r);
}
END_TEST

/* ---- discover and context against a brute-force reference --------------- */

/* Qdrant's raw similarity, computed as the server does (points_query.c):
 * dot product, -squared L2, -L1, summed in double, then a float. */
/* The engine's own f32 similarity (metric numbered as qv_metric), which
 * test_public_api proves equal to search scores: the reference then
 * checks the formulas built on it, which are what this test is about. */
static float dref_sim(int metric, const float *a, const float *b)
{
    float s = 0;
    ck_assert_int_eq(qv_vector_similarity((qv_metric)metric, a, b, 4, &s),
                     QV_OK);
    return s;
}

/* Qdrant's discover score (discovery_query.rs) or, without a target, its
 * context score (context_query.rs), from the formulas' text. */
static float dref_score(int metric, const float *v, const float *target,
                        float pairs[][2][4], int n);

/* relevance_feedback (naive) in the reference: a * sim(target) + sum of
 * w[i] * (sim(pos_i) - sim(neg_i)); set while a feedback query is checked
 * (a local of the test, passed down through dref_check). */
typedef struct dref_fb {
    float a;
    const float *w;
} dref_fb;

static float dref_fb_score(const dref_fb *fb, int metric, const float *v,
                           const float *target, float pairs[][2][4], int n)
{
    if (!fb)
        return dref_score(metric, v, target, pairs, n);
    float s = fb->a * dref_sim(metric, v, target);
    for (int i = 0; i < n; i++)
        s += fb->w[i] * (dref_sim(metric, v, pairs[i][0]) -
                         dref_sim(metric, v, pairs[i][1]));
    return s;
}

static float dref_score(int metric, const float *v, const float *target,
                        float pairs[][2][4], int n)
{
    float loss = 0;
    int rank = 0;
    for (int i = 0; i < n; i++) {
        float sp = dref_sim(metric, v, pairs[i][0]);
        float sn = dref_sim(metric, v, pairs[i][1]);
        rank += sp > sn ? 1 : sp < sn ? -1 : 0;
        float d = fminf(sp - sn - FLT_EPSILON, 0.0f);
        loss += d / (1.0f + fabsf(d));
    }
    if (!target)
        return loss;
    float t = dref_sim(metric, v, target);
    return (float)rank + 0.5f * (t / (1.0f + fabsf(t)) + 1.0f);
}

/* The server's normalisation of a raw cosine example. */
static void dref_normalize(float *v)
{
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += (double)v[i] * v[i];
    if (s <= 0 || fabs(s - 1.0) <= 1e-6)
        return;
    float inv = (float)(1.0 / sqrt(s));
    for (int i = 0; i < 4; i++)
        v[i] *= inv;
}

typedef struct dref_hit {
    int id;
    float score;
} dref_hit;

static int dref_cmp(const void *a, const void *b)
{
    const dref_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id - y->id;
}

#define DN 40

/* Checks pts (ScoredPoint list) against the reference: points 1..DN with
 * g != skip_g (-1: all), not in excl, best first, ties by id, a page. */
static void dref_check_fb(const cJSON *pts, const dref_fb *fb, int metric,
                          float vecs[][4], const float *target,
                          float pairs[][2][4], int n, int skip_g,
                          const int *excl, int n_excl, int limit, int offset);

static void dref_check(const cJSON *pts, int metric, float vecs[][4],
                       const float *target, float pairs[][2][4], int n,
                       int skip_g, const int *excl, int n_excl, int limit,
                       int offset)
{
    dref_check_fb(pts, NULL, metric, vecs, target, pairs, n, skip_g, excl,
                  n_excl, limit, offset);
}

static void dref_check_fb(const cJSON *pts, const dref_fb *fb, int metric,
                          float vecs[][4], const float *target,
                          float pairs[][2][4], int n, int skip_g,
                          const int *excl, int n_excl, int limit, int offset)
{
    dref_hit h[DN];
    int m = 0;
    for (int id = 1; id <= DN; id++) {
        bool out = id % 3 == skip_g;
        for (int k = 0; k < n_excl; k++)
            out = out || excl[k] == id;
        if (out)
            continue;
        h[m].id = id;
        h[m++].score = dref_fb_score(fb, metric, vecs[id], target, pairs, n);
    }
    qsort(h, (size_t)m, sizeof(h[0]), dref_cmp);
    int want = m - offset < limit ? m - offset : limit;
    ck_assert_int_eq(cJSON_GetArraySize(pts), want < 0 ? 0 : want);
    for (int i = 0; i < want; i++) {
        const cJSON *p = cJSON_GetArrayItem(pts, i);
        ck_assert_int_eq((int)num(p, "id"), h[offset + i].id);
        ck_assert_msg((float)num(p, "score") == h[offset + i].score,
                      "metric %d hit %d: score %.9g, expected %.9g", metric, i,
                      num(p, "score"), (double)h[offset + i].score);
    }
}

/* Random collections (small integer coordinates, so many ties), every
 * metric: discover and context by the query API and the legacy endpoints
 * give exactly the reference's ids and scores.  Score formulas: Qdrant
 * 1.19 lib/segment/src/vector_storage/query/{discovery,context}_query.rs;
 * ids used as examples are excluded (lib/collection/src/discovery.rs). */
START_TEST(test_discover_reference)
{
    static const char *const metrics[] = {"Cosine", "Dot", "Euclid",
                                          "Manhattan"};
    uint64_t seed = 0x5eed1234u;
    for (int metric = 0; metric < 4; metric++) {
        char name[32], path[128], body[8192];
        snprintf(name, sizeof(name), "ds%d", metric);
        snprintf(body, sizeof(body),
                 "{\"vectors\":{\"size\":4,\"distance\":\"%s\"}}",
                 metrics[metric]);
        create(name, body);
        size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
        for (int id = 1; id <= DN; id++) {
            int c[4];
            for (int d = 0; d < 4; d++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                c[d] = (int)((seed >> 33) % 7) - 3;
            }
            if (!c[0] && !c[1] && !c[2] && !c[3])
                c[0] = 1;
            o += (size_t)snprintf(body + o, sizeof(body) - o,
                                  "%s{\"id\":%d,\"vector\":[%d,%d,%d,%d],"
                                  "\"payload\":{\"g\":%d}}",
                                  id > 1 ? "," : "", id, c[0], c[1], c[2], c[3],
                                  id % 3);
        }
        snprintf(body + o, sizeof(body) - o, "]}");
        snprintf(path, sizeof(path), "/collections/%s/points?wait=true", name);
        expect_ok(call("PUT", path, body));
        /* the stored vectors (normalised under cosine) */
        float vecs[DN + 1][4];
        snprintf(path, sizeof(path), "/collections/%s/points/scroll", name);
        const cJSON *sc = expect_ok(
            call("POST", path, "{\"limit\":100,\"with_vector\":true}"));
        const cJSON *p;
        int seen = 0;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(sc, "points"))
        {
            int id = (int)num(p, "id");
            const cJSON *v = cJSON_GetObjectItem(p, "vector");
            for (int d = 0; d < 4; d++)
                vecs[id][d] = (float)cJSON_GetArrayItem(v, d)->valuedouble;
            seen++;
        }
        ck_assert_int_eq(seen, DN);
        int t = 1 + metric, p1 = 7, n1 = 11, p2 = 20, n2 = 33;
        float pairs[2][2][4];
        memcpy(pairs[0][0], vecs[p1], sizeof(vecs[0]));
        memcpy(pairs[0][1], vecs[n1], sizeof(vecs[0]));
        memcpy(pairs[1][0], vecs[p2], sizeof(vecs[0]));
        memcpy(pairs[1][1], vecs[n2], sizeof(vecs[0]));
        int excl[5] = {t, p1, n1, p2, n2};
        /* discover by ids, a filter, a page */
        snprintf(path, sizeof(path), "/collections/%s/points/query", name);
        snprintf(body, sizeof(body),
                 "{\"query\":{\"discover\":{\"target\":%d,\"context\":["
                 "{\"positive\":%d,\"negative\":%d},{\"positive\":%d,"
                 "\"negative\":%d}]}},\"filter\":{\"must_not\":[{\"key\":"
                 "\"g\",\"match\":{\"value\":0}}]},\"limit\":7,\"offset\":2}",
                 t, p1, n1, p2, n2);
        const cJSON *r = expect_ok(call("POST", path, body));
        dref_check(cJSON_GetObjectItem(r, "points"), metric, vecs, vecs[t],
                   pairs, 2, 0, excl, 5, 7, 2);
        /* context: one pair, a raw positive and a negative by id */
        float raw[4] = {1, 2, 0, -1};
        float pr[1][2][4];
        memcpy(pr[0][0], raw, sizeof(raw));
        if (metric == 0)
            dref_normalize(pr[0][0]);
        memcpy(pr[0][1], vecs[n1], sizeof(vecs[0]));
        snprintf(body, sizeof(body),
                 "{\"query\":{\"context\":{\"positive\":[1,2,0,-1],"
                 "\"negative\":%d}},\"limit\":12}",
                 n1);
        r = expect_ok(call("POST", path, body));
        dref_check(cJSON_GetObjectItem(r, "points"), metric, vecs, NULL, pr, 1,
                   -1, &n1, 1, 12, 0);
        /* relevance_feedback, naive: items 0.9 (p1), 0.1 (n1), 0.5 (raw)
         * give the ordered pairs (0,1), (0,2), (2,1) with weights
         * (s_i - s_j)^b * c */
        float fbv[3][4];
        memcpy(fbv[0], vecs[p1], sizeof(fbv[0]));
        memcpy(fbv[1], vecs[n1], sizeof(fbv[0]));
        memcpy(fbv[2], pr[0][0], sizeof(fbv[0]));
        const float fs[3] = {0.9f, 0.1f, 0.5f};
        const int order[3][2] = {{0, 1}, {0, 2}, {2, 1}};
        float fpairs[3][2][4], w[3];
        for (int k = 0; k < 3; k++) {
            memcpy(fpairs[k][0], fbv[order[k][0]], sizeof(fbv[0]));
            memcpy(fpairs[k][1], fbv[order[k][1]], sizeof(fbv[0]));
            w[k] = powf(fs[order[k][0]] - fs[order[k][1]], 0.5f) * 2.0f;
        }
        dref_fb fb = {.a = 1.5f, .w = w};
        snprintf(body, sizeof(body),
                 "{\"query\":{\"relevance_feedback\":{\"target\":%d,"
                 "\"feedback\":[{\"example\":%d,\"score\":0.9},"
                 "{\"example\":%d,\"score\":0.1},{\"example\":[1,2,0,-1],"
                 "\"score\":0.5}],\"strategy\":{\"naive\":{\"a\":1.5,"
                 "\"b\":0.5,\"c\":2}}}},\"limit\":8,\"offset\":1}",
                 t, p1, n1);
        snprintf(path, sizeof(path), "/collections/%s/points/query", name);
        r = expect_ok(call("POST", path, body));
        dref_check_fb(cJSON_GetObjectItem(r, "points"), &fb, metric, vecs,
                      vecs[t], fpairs, 3, -1, excl, 3, 8, 1);
        /* legacy discover: a raw target, pairs by id */
        float target[4] = {-2, 1, 3, 0};
        if (metric == 0)
            dref_normalize(target);
        snprintf(path, sizeof(path), "/collections/%s/points/discover", name);
        snprintf(body, sizeof(body),
                 "{\"target\":[-2,1,3,0],\"context\":[{\"positive\":%d,"
                 "\"negative\":%d},{\"positive\":%d,\"negative\":%d}],"
                 "\"limit\":9,\"with_payload\":true}",
                 p1, n1, p2, n2);
        r = expect_ok(call("POST", path, body));
        dref_check(r, metric, vecs, target, pairs, 2, -1, excl + 1, 4, 9, 0);
        ck_assert(cJSON_IsObject(
            cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "payload")));
        /* legacy batch: a context search, then a discover without pairs */
        snprintf(path, sizeof(path), "/collections/%s/points/discover/batch",
                 name);
        snprintf(body, sizeof(body),
                 "{\"searches\":[{\"context\":[{\"positive\":%d,\"negative\":"
                 "%d},{\"positive\":%d,\"negative\":%d}],\"limit\":40},"
                 "{\"target\":%d,\"limit\":3,\"filter\":{\"must\":[{\"key\":"
                 "\"g\",\"match\":{\"value\":2}}]}}]}",
                 p1, n1, p2, n2, t);
        r = expect_ok(call("POST", path, body));
        ck_assert_int_eq(cJSON_GetArraySize(r), 2);
        dref_check(cJSON_GetArrayItem(r, 0), metric, vecs, NULL, pairs, 2, -1,
                   excl + 1, 4, 40, 0);
        /* g == 2 only: leave out g 0 and 1 by excluding through skip_g
         * twice is not expressible; check membership and order instead */
        const cJSON *b = cJSON_GetArrayItem(r, 1);
        ck_assert_int_eq(cJSON_GetArraySize(b), 3);
        cJSON_ArrayForEach(p, b)
        {
            ck_assert_int_eq((int)num(p, "id") % 3, 2);
            ck_assert_int_ne((int)num(p, "id"), t);
        }
    }
}
END_TEST

/* The errors Qdrant gives for discover and context requests. */
START_TEST(test_discover_errors)
{
    create("de", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(
        call("PUT", "/collections/de/points?wait=true",
             "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
             "{\"id\":2,\"vector\":[0,1]},{\"id\":3,\"vector\":[1,1]}]}"));
    expect_error_msg(
        call("POST", "/collections/de/points/discover", "{\"limit\":3}"), 400,
        "Bad request: target and/or context_pairs must be "
        "specified");
    expect_error_msg(
        call("POST", "/collections/de/points/discover", "{\"target\":1}"), 400,
        "Format error in JSON body: missing field `limit`");
    expect_error_prefix(call("POST", "/collections/de/points/discover",
                             "{\"target\":99,\"limit\":3}"),
                        404, "Not found: No point with id 99 found");
    expect_error_prefix(call("POST", "/collections/de/points/query",
                             "{\"query\":{\"discover\":{\"target\":[1,0]}}}"),
                        400,
                        "Format error in JSON body: query.discover: "
                        "missing field `context`");
    expect_error_prefix(call("POST", "/collections/de/points/query",
                             "{\"query\":{\"context\":[{\"positive\":1}]}}"),
                        400,
                        "Format error in JSON body: query.context[0]: "
                        "missing field `negative`");
    expect_error_prefix(
        call(
            "POST", "/collections/de/points/query",
            "{\"query\":{\"discover\":{\"target\":[1,0,0],\"context\":null}}}"),
        400, "Wrong input: ");
    expect_error_msg(call("POST", "/collections/de/points/query",
                          "{\"query\":{\"relevance_feedback\":{\"target\":"
                          "[1,0],\"feedback\":[]}}}"),
                     400,
                     "Format error in JSON body: query.relevance_feedback: "
                     "missing field `strategy`");
    expect_error_prefix(
        call("POST", "/collections/de/points/query",
             "{\"query\":{\"relevance_feedback\":{\"target\":[1,0],"
             "\"feedback\":[],\"strategy\":{\"naive\":{\"a\":1,\"b\":-1,"
             "\"c\":1}}}}}"),
        422, "Validation error in JSON body: ");
    /* Qdrant 1.19's messages (tests/openapi/test_relevance_feedback.py):
     * the root's paths go through its flattened `internal`, f32 printed
     * as Rust's Debug; an empty feedback list is refused */
    expect_error_msg(
        call("POST", "/collections/de/points/query",
             "{\"query\":{\"relevance_feedback\":{\"target\":[1,0],"
             "\"feedback\":[{\"example\":2,\"score\":1}],\"strategy\":{"
             "\"naive\":{\"a\":1,\"b\":-1,\"c\":1}}}}}"),
        422,
        "Validation error in JSON body: [internal.query.relevance_feedback."
        "strategy.naive.b: value -1.0 invalid, must be 0.0 or larger]");
    expect_error_msg(
        call("POST", "/collections/de/points/query",
             "{\"query\":{\"relevance_feedback\":{\"target\":[1,0],"
             "\"feedback\":[],\"strategy\":{\"naive\":{\"a\":1,\"b\":1,"
             "\"c\":1}}}}}"),
        422,
        "Validation error in JSON body: [internal.query.relevance_feedback."
        "feedback: feedback elements must be non-empty]");
    /* no feedback pairs: a times the target similarity */
    const cJSON *f = expect_ok(
        call("POST", "/collections/de/points/query",
             "{\"query\":{\"relevance_feedback\":{\"target\":[1,0],"
             "\"feedback\":[{\"example\":2,\"score\":1}],\"strategy\":{"
             "\"naive\":{\"a\":2,\"b\":1,\"c\":1}}}}}"));
    const cJSON *fp = cJSON_GetObjectItem(f, "points");
    ck_assert_int_eq(cJSON_GetArraySize(fp), 2); /* 2 is an example */
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(fp, 0), "id"), 1);
    ck_assert_float_eq((float)num(cJSON_GetArrayItem(fp, 0), "score"), 2.0f);
    /* a null context: the target alone ranks, all ranks 0 */
    const cJSON *r = expect_ok(
        call("POST", "/collections/de/points/query",
             "{\"query\":{\"discover\":{\"target\":[1,0],\"context\":null}}}"));
    const cJSON *pts = cJSON_GetObjectItem(r, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 3);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 1);
    ck_assert_float_eq((float)num(cJSON_GetArrayItem(pts, 0), "score"), 0.75f);
    /* discover as a prefetch leaf, its answer re-scored by nearest */
    r = expect_ok(call("POST", "/collections/de/points/query",
                       "{\"prefetch\":{\"query\":{\"context\":{\"positive\":"
                       "[1,0],\"negative\":[0,1]}},\"limit\":2},"
                       "\"query\":[0,1]}"));
    pts = cJSON_GetObjectItem(r, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 2);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 3);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 1), "id"), 1);
}
END_TEST

/* ---- recommend, discover and context on sparse vectors and multivectors -- */

/* A reference query over XN points: the examples are opaque to it, each
 * scored against a point by sim (a sparse dot or a MaxSim).  Formulas from
 * Qdrant 1.19's lib/segment/src/vector_storage/query/reco_query.rs,
 * discovery_query.rs and context_query.rs; pair i is (pos[i], neg[i]). */
#define XN 30
enum { XR_BEST, XR_SUM, XR_DISCOVER, XR_CONTEXT, XR_NEAREST };

typedef struct xref {
    int kind;
    int np, nn;
    const void *pos[4], *neg[4], *target; /* XR_NEAREST: target */
    float (*sim)(const void *ex, int id);
    bool overlap_only; /* sparse nearest: points sharing a dimension */
    bool (*overlaps)(const void *ex, int id);
} xref;

static float xsig(float x)
{
    return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f);
}

static float xref_score(const xref *r, int id)
{
    float bp = -INFINITY, bn = -INFINITY, sp = 0, sn = 0, loss = 0;
    int rank = 0;
    switch (r->kind) {
    case XR_BEST:
        for (int i = 0; i < r->np; i++)
            bp = fmaxf(bp, r->sim(r->pos[i], id));
        for (int i = 0; i < r->nn; i++)
            bn = fmaxf(bn, r->sim(r->neg[i], id));
        return bp > bn ? xsig(bp) : -xsig(bn);
    case XR_SUM:
        for (int i = 0; i < r->np; i++)
            sp += r->sim(r->pos[i], id);
        for (int i = 0; i < r->nn; i++)
            sn += r->sim(r->neg[i], id);
        return sp - sn;
    case XR_NEAREST:
        return r->sim(r->target, id);
    default:
        break;
    }
    for (int i = 0; i < r->np; i++) {
        float a = r->sim(r->pos[i], id), b = r->sim(r->neg[i], id);
        rank += a > b ? 1 : a < b ? -1 : 0;
        float d = fminf(a - b - FLT_EPSILON, 0.0f);
        loss += d / (1.0f + fabsf(d));
    }
    if (r->kind == XR_CONTEXT)
        return loss;
    return (float)rank + xsig(r->sim(r->target, id));
}

/* Checks pts against the reference over points 1..XN whose g (id % 3) is
 * not skip_g, not in excl, with score > thr when has_thr; a page. */
static void xref_check(const cJSON *pts, const xref *r, int skip_g,
                       const int *excl, int n_excl, bool has_thr, float thr,
                       int limit, int offset)
{
    dref_hit h[XN];
    int m = 0;
    for (int id = 1; id <= XN; id++) {
        bool out = id % 3 == skip_g;
        for (int k = 0; k < n_excl; k++)
            out = out || excl[k] == id;
        if (out || (r->overlap_only && !r->overlaps(r->target, id)))
            continue;
        float s = xref_score(r, id);
        if (has_thr && !(s > thr))
            continue;
        h[m].id = id;
        h[m++].score = s;
    }
    qsort(h, (size_t)m, sizeof(h[0]), dref_cmp);
    int want = m - offset < limit ? m - offset : limit;
    want = want < 0 ? 0 : want;
    ck_assert_msg(cJSON_GetArraySize(pts) == want, "%d hits, expected %d",
                  cJSON_GetArraySize(pts), want);
    for (int i = 0; i < want; i++) {
        const cJSON *p = cJSON_GetArrayItem(pts, i);
        ck_assert_msg((int)num(p, "id") == h[offset + i].id,
                      "kind %d hit %d: id %d, expected %d", r->kind, i,
                      (int)num(p, "id"), h[offset + i].id);
        /* A scan scores as the reference does, bit for bit; the nearest
         * search of average_vector sums in the library's own order (the
         * IDF products may then differ in the last bit). */
        double tol =
            r->kind == XR_NEAREST ? 1e-6 * fabs(h[offset + i].score) : 0.0;
        ck_assert_msg(
            fabs((double)(float)num(p, "score") - h[offset + i].score) <= tol,
            "kind %d hit %d: score %.9g, expected %.9g", r->kind, i,
            num(p, "score"), (double)h[offset + i].score);
    }
}

static const cJSON *xquery(const char *coll, const char *ep, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/collections/%s/points/%s", coll, ep);
    const cJSON *r = expect_ok(call("POST", path, body));
    const cJSON *pts = cJSON_GetObjectItem(r, "points");
    return pts ? pts : r;
}

/* -- sparse: the points' vectors as dense arrays over XD dimensions (0:
 * absent; stored values are never 0), examples likewise, already times
 * the IDF weights when the vector has the modifier. */
#define XD 8
static float xs_pts[XN + 1][XD];

static float xs_sim(const void *ex, int id)
{
    const float *e = ex;
    float s = 0.0f;
    for (int d = 0; d < XD; d++)
        if (e[d] != 0.0f && xs_pts[id][d] != 0.0f)
            s += e[d] * xs_pts[id][d];
    return s;
}

static bool xs_overlaps(const void *ex, int id)
{
    const float *e = ex;
    for (int d = 0; d < XD; d++)
        if (e[d] != 0.0f && xs_pts[id][d] != 0.0f)
            return true;
    return false;
}

START_TEST(test_sparse_recommend_discover)
{
    create("xs", "{\"sparse_vectors\":{\"s\":{},\"si\":{\"modifier\":"
                 "\"idf\"}}}");
    static char body[16384];
    uint64_t seed = 0xabcdef12u;
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int id = 1; id <= XN; id++) {
        char sv[256];
        size_t so = (size_t)snprintf(sv, sizeof(sv), "{\"indices\":[");
        int vals[XD], n = 0;
        for (int d = 0; d < XD; d++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int present = (int)((seed >> 40) % 2) || d == id % XD;
            int v = (int)((seed >> 33) % 6) - 3;
            vals[d] = present ? (v >= 0 ? v + 1 : v) : 0;
            xs_pts[id][d] = (float)vals[d];
        }
        for (int d = 0; d < XD; d++)
            if (vals[d])
                so += (size_t)snprintf(sv + so, sizeof(sv) - so, "%s%d",
                                       n++ ? "," : "", d);
        so += (size_t)snprintf(sv + so, sizeof(sv) - so, "],\"values\":[");
        n = 0;
        for (int d = 0; d < XD; d++)
            if (vals[d])
                so += (size_t)snprintf(sv + so, sizeof(sv) - so, "%s%d",
                                       n++ ? "," : "", vals[d]);
        snprintf(sv + so, sizeof(sv) - so, "]}");
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "%s{\"id\":%d,\"vector\":{\"s\":%s,\"si\":%s},"
                              "\"payload\":{\"g\":%d}}",
                              id > 1 ? "," : "", id, sv, sv, id % 3);
    }
    snprintf(body + o, sizeof(body) - o, "]}");
    expect_ok(call("PUT", "/collections/xs/points?wait=true", body));
    /* IDF weights as the library computes them (every point holds a
     * dimension: N = XN). */
    float idf[XD];
    for (int d = 0; d < XD; d++) {
        int df = 0;
        for (int id = 1; id <= XN; id++)
            df += xs_pts[id][d] != 0.0f;
        float nf = (float)XN, dd = (float)df;
        idf[d] = logf((nf - dd + 0.5f) / (dd + 0.5f) + 1.0f);
    }
    static const char *const names[] = {"s", "si"};
    for (int vi = 0; vi < 2; vi++) {
        const char *vn = names[vi];
        /* examples as the server weighs them for scans */
        float ex[XN + 1][XD], raw[XD] = {0}, rawq[XD] = {0};
        for (int id = 1; id <= XN; id++)
            for (int d = 0; d < XD; d++)
                ex[id][d] = xs_pts[id][d] * (vi ? idf[d] : 1.0f);
        raw[1] = 2.0f;
        raw[3] = -1.0f;
        for (int d = 0; d < XD; d++)
            rawq[d] = raw[d] * (vi ? idf[d] : 1.0f);
        const char *rawj = "{\"indices\":[3,1],\"values\":[-1,2]}";
        int p1 = 4, p2 = 9, n1 = 13, n2 = 22, t = 17;
        char q[2048];
        /* best_score by ids, a filter and a page (query API) */
        snprintf(q, sizeof(q),
                 "{\"query\":{\"recommend\":{\"positive\":[%d,%d],"
                 "\"negative\":[%d],\"strategy\":\"best_score\"}},"
                 "\"using\":\"%s\",\"filter\":{\"must_not\":[{\"key\":\"g\","
                 "\"match\":{\"value\":0}}]},\"limit\":6,\"offset\":1}",
                 p1, p2, n1, vn);
        xref r = {.kind = XR_BEST, .np = 2, .nn = 1, .sim = xs_sim};
        r.pos[0] = ex[p1];
        r.pos[1] = ex[p2];
        r.neg[0] = ex[n1];
        int e3[] = {p1, p2, n1};
        xref_check(xquery("xs", "query", q), &r, 0, e3, 3, false, 0, 6, 1);
        /* the same twice by the legacy batch endpoint */
        snprintf(q, sizeof(q),
                 "{\"searches\":[{\"positive\":[%d,%d],\"negative\":[%d],"
                 "\"strategy\":\"best_score\",\"using\":\"%s\",\"filter\":"
                 "{\"must_not\":[{\"key\":\"g\",\"match\":{\"value\":0}}]},"
                 "\"limit\":6,\"offset\":1},{\"positive\":[%d,%d],"
                 "\"negative\":[%d],\"strategy\":\"best_score\",\"using\":"
                 "\"%s\",\"limit\":3}]}",
                 p1, p2, n1, vn, p1, p2, n1, vn);
        const cJSON *rb = xquery("xs", "recommend/batch", q);
        ck_assert_int_eq(cJSON_GetArraySize(rb), 2);
        xref_check(cJSON_GetArrayItem(rb, 0), &r, 0, e3, 3, false, 0, 6, 1);
        xref_check(cJSON_GetArrayItem(rb, 1), &r, -1, e3, 3, false, 0, 3, 0);
        /* sum_scores, a raw positive, a threshold (legacy endpoint) */
        snprintf(q, sizeof(q),
                 "{\"positive\":[%s,%d],\"negative\":[%d],\"strategy\":"
                 "\"sum_scores\",\"using\":\"%s\",\"limit\":8,"
                 "\"score_threshold\":-1.5}",
                 rawj, p2, n2, vn);
        r = (xref){.kind = XR_SUM, .np = 2, .nn = 1, .sim = xs_sim};
        r.pos[0] = rawq;
        r.pos[1] = ex[p2];
        r.neg[0] = ex[n2];
        int e2[] = {p2, n2};
        xref_check(xquery("xs", "recommend", q), &r, -1, e2, 2, true, -1.5f, 8,
                   0);
        /* average_vector: avg(pos) + (avg(pos) - avg(neg)) over the union
         * of indices, searched as a sparse nearest query (IDF applied to
         * the averaged query by the search) */
        float avg[XD];
        for (int d = 0; d < XD; d++) {
            float ap = (raw[d] + xs_pts[p1][d]) / 2.0f, an = xs_pts[n1][d];
            bool has = raw[d] != 0.0f || xs_pts[p1][d] != 0.0f || an != 0.0f;
            avg[d] = has ? (ap + ap - an) * (vi ? idf[d] : 1.0f) : 0.0f;
        }
        snprintf(q, sizeof(q),
                 "{\"query\":{\"recommend\":{\"positive\":[%s,%d],"
                 "\"negative\":[%d]}},\"using\":\"%s\",\"filter\":{\"must\":"
                 "[{\"key\":\"g\",\"match\":{\"any\":[1,2]}}]},\"limit\":5}",
                 rawj, p1, n1, vn);
        r = (xref){.kind = XR_NEAREST,
                   .target = avg,
                   .sim = xs_sim,
                   .overlap_only = true,
                   .overlaps = xs_overlaps};
        int e2b[] = {p1, n1};
        xref_check(xquery("xs", "query", q), &r, 0, e2b, 2, false, 0, 5, 0);
        /* discover: a target by id, a pair by ids and one with a raw
         * positive; a filter and a page */
        snprintf(q, sizeof(q),
                 "{\"query\":{\"discover\":{\"target\":%d,\"context\":["
                 "{\"positive\":%d,\"negative\":%d},{\"positive\":%s,"
                 "\"negative\":%d}]}},\"using\":\"%s\",\"filter\":{"
                 "\"must_not\":[{\"key\":\"g\",\"match\":{\"value\":1}}]},"
                 "\"limit\":7,\"offset\":2}",
                 t, p1, n1, rawj, n2, vn);
        r = (xref){.kind = XR_DISCOVER,
                   .np = 2,
                   .nn = 2,
                   .sim = xs_sim,
                   .target = ex[t]};
        r.pos[0] = ex[p1];
        r.neg[0] = ex[n1];
        r.pos[1] = rawq;
        r.neg[1] = ex[n2];
        int e4[] = {t, p1, n1, n2};
        xref_check(xquery("xs", "query", q), &r, 1, e4, 4, false, 0, 7, 2);
        /* the same by the legacy endpoint */
        snprintf(q, sizeof(q),
                 "{\"target\":%d,\"context\":[{\"positive\":%d,\"negative\":"
                 "%d},{\"positive\":%s,\"negative\":%d}],\"using\":\"%s\","
                 "\"filter\":{\"must_not\":[{\"key\":\"g\",\"match\":{"
                 "\"value\":1}}]},\"limit\":7,\"offset\":2}",
                 t, p1, n1, rawj, n2, vn);
        xref_check(xquery("xs", "discover", q), &r, 1, e4, 4, false, 0, 7, 2);
        /* context: one pair, in a batch beside the best_score query */
        snprintf(q, sizeof(q),
                 "{\"searches\":[{\"query\":{\"context\":{\"positive\":%d,"
                 "\"negative\":%d}},\"using\":\"%s\",\"limit\":10},"
                 "{\"query\":{\"recommend\":{\"positive\":[%d,%d],"
                 "\"negative\":[%d],\"strategy\":\"best_score\"}},"
                 "\"using\":\"%s\",\"limit\":4}]}",
                 p2, n2, vn, p1, p2, n1, vn);
        const cJSON *b = xquery("xs", "query/batch", q);
        ck_assert_int_eq(cJSON_GetArraySize(b), 2);
        r = (xref){.kind = XR_CONTEXT, .np = 1, .nn = 1, .sim = xs_sim};
        r.pos[0] = ex[p2];
        r.neg[0] = ex[n2];
        int e2c[] = {p2, n2};
        xref_check(cJSON_GetObjectItem(cJSON_GetArrayItem(b, 0), "points"), &r,
                   -1, e2c, 2, false, 0, 10, 0);
        r = (xref){.kind = XR_BEST, .np = 2, .nn = 1, .sim = xs_sim};
        r.pos[0] = ex[p1];
        r.pos[1] = ex[p2];
        r.neg[0] = ex[n1];
        xref_check(cJSON_GetObjectItem(cJSON_GetArrayItem(b, 1), "points"), &r,
                   -1, e3, 3, false, 0, 4, 0);
        int top[4]; /* the reply is reused by the next call */
        for (int i = 0; i < 4; i++)
            top[i] = (int)num(
                cJSON_GetArrayItem(
                    cJSON_GetObjectItem(cJSON_GetArrayItem(b, 1), "points"), i),
                "id");
        /* a prefetch leaf: its best 4, re-ranked by rrf, keep its order */
        snprintf(q, sizeof(q),
                 "{\"prefetch\":{\"query\":{\"recommend\":{\"positive\":"
                 "[%d,%d],\"negative\":[%d],\"strategy\":\"best_score\"}},"
                 "\"using\":\"%s\",\"limit\":4},\"query\":{\"fusion\":"
                 "\"rrf\"},\"limit\":4}",
                 p1, p2, n1, vn);
        const cJSON *f = xquery("xs", "query", q);
        ck_assert_int_eq(cJSON_GetArraySize(f), 4);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq((int)num(cJSON_GetArrayItem(f, i), "id"), top[i]);
    }
    /* examples of another kind: Qdrant's WrongSparse / WrongMulti
     * (lib/segment/src/common/mod.rs check_sparse_vector_against_config) */
    expect_error_msg(call("POST", "/collections/xs/points/query",
                          "{\"query\":{\"recommend\":{\"positive\":[[1,2]]}},"
                          "\"using\":\"s\"}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/xs/points/query",
                          "{\"query\":{\"context\":{\"positive\":[[1,2]],"
                          "\"negative\":1}},\"using\":\"s\"}"),
                     400,
                     "Wrong input: Conversion between multi and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/xs/points/discover",
                          "{\"target\":[1,0],\"limit\":3,\"using\":\"s\"}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_prefix(call("POST", "/collections/xs/points/query",
                             "{\"query\":{\"recommend\":{\"positive\":[99]}},"
                             "\"using\":\"s\"}"),
                        404, "Not found: No point with id 99 found");
    expect_error_msg(call("POST", "/collections/xs/points/query",
                          "{\"query\":{\"recommend\":{\"negative\":[1]}},"
                          "\"using\":\"s\"}"),
                     400,
                     "Wrong input: Positive vectors should not be empty with "
                     "`average` strategy");
}
END_TEST

/* -- multivectors (Dot, small integers: MaxSim sums are exact) */
#define XMD 3
typedef struct xmat {
    int n;
    float r[8][XMD];
} xmat;
static xmat xm_pts[XN + 1];

static float xm_maxsim(const xmat *qm, const xmat *dm)
{
    float sum = 0.0f;
    for (int i = 0; i < qm->n; i++) {
        float best = -INFINITY;
        for (int j = 0; j < dm->n; j++) {
            float s = 0.0f;
            for (int d = 0; d < XMD; d++)
                s += qm->r[i][d] * dm->r[j][d];
            best = fmaxf(best, s);
        }
        sum += best;
    }
    return sum;
}

static float xm_sim(const void *ex, int id)
{
    return xm_maxsim(ex, &xm_pts[id]);
}

/* MMR on a sparse vector (was a 400): relevance and similarities are plain
 * sparse dots, as Qdrant's mmr.rs on a volatile sparse storage; the
 * candidates are the points sharing a dimension with the query. */
enum { SM_N = 30, SM_D = 16 };
static float sm_pts[SM_N + 1][SM_D];

static float sm_dot(const float *a, const float *b)
{
    float s = 0.0f;
    for (int d = 0; d < SM_D; d++)
        if (a[d] != 0.0f && b[d] != 0.0f)
            s += a[d] * b[d];
    return s;
}

START_TEST(test_sparse_mmr)
{
    create("sm", "{\"sparse_vectors\":{\"t\":{}}}");
    static char body[32768];
    uint64_t seed = 0xabcdef12u;
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int id = 1; id <= SM_N; id++) {
        char idx[256] = "", val[512] = "";
        size_t oi = 0, ov = 0;
        for (int d = 0; d < SM_D; d++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            if ((seed >> 60) % 3 != 0)
                continue;
            float v = (float)((double)(seed >> 40) / (1 << 24)) + 0.01f;
            sm_pts[id][d] = v;
            oi += (size_t)snprintf(idx + oi, sizeof(idx) - oi, "%s%d",
                                   oi ? "," : "", d);
            ov += (size_t)snprintf(val + ov, sizeof(val) - ov, "%s%.9g",
                                   ov ? "," : "", (double)v);
        }
        o +=
            (size_t)snprintf(body + o, sizeof(body) - o,
                             "%s{\"id\":%d,\"vector\":{\"t\":{\"indices\":[%s],"
                             "\"values\":[%s]}}}",
                             id > 1 ? "," : "", id, idx, val);
    }
    snprintf(body + o, sizeof(body) - o, "]}");
    expect_ok(call("PUT", "/collections/sm/points?wait=true", body));
    float qv[SM_D] = {0};
    qv[1] = 0.5f, qv[4] = 1.25f, qv[9] = 0.75f, qv[13] = 1.0f;
    const float lambda = 0.3f; /* diversity 0.7 */
    const int limit = 5;
    float rel[SM_N + 1], maxs[SM_N + 1];
    bool cand[SM_N + 1], used[SM_N + 1] = {false};
    int order[SM_N], n_cand = 0;
    for (int id = 1; id <= SM_N; id++) {
        cand[id] = false;
        for (int d = 0; d < SM_D; d++)
            cand[id] = cand[id] || (qv[d] != 0.0f && sm_pts[id][d] != 0.0f);
        n_cand += cand[id];
        rel[id] = sm_dot(qv, sm_pts[id]);
        maxs[id] = -INFINITY;
    }
    ck_assert_int_gt(n_cand, limit);
    for (int k = 0; k < limit; k++) {
        int best = 0;
        float bs = -INFINITY;
        for (int id = 1; id <= SM_N; id++) {
            if (!cand[id] || used[id])
                continue;
            float sc = k == 0 ? rel[id]
                              : lambda * rel[id] - (1.0f - lambda) * maxs[id];
            if (!best || sc > bs) {
                best = id;
                bs = sc;
            }
        }
        used[best] = true;
        order[k] = best;
        for (int id = 1; id <= SM_N; id++) {
            float sm = sm_dot(sm_pts[id], sm_pts[best]);
            if (cand[id] && !used[id] && sm > maxs[id])
                maxs[id] = sm;
        }
    }
    const cJSON *pts = xquery(
        "sm", "query",
        "{\"query\":{\"nearest\":{\"indices\":[1,4,9,13],\"values\":[0.5,1.25,"
        "0.75,1.0]},\"mmr\":{\"diversity\":0.7,\"candidates_limit\":30}},"
        "\"using\":\"t\",\"limit\":5}");
    ck_assert_int_eq(cJSON_GetArraySize(pts), limit);
    bool differs = false;
    for (int k = 0; k < limit; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        ck_assert_msg((int)num(p, "id") == order[k],
                      "mmr hit %d: id %d, expected %d", k, (int)num(p, "id"),
                      order[k]);
        ck_assert(fabs(num(p, "score") - rel[order[k]]) <= 1e-5);
        differs = differs || (k > 0 && rel[order[k]] > rel[order[k - 1]]);
    }
    ck_assert_msg(differs, "diversity changed nothing: pick another query");
    /* relevance_feedback (was a 400), scored by sparse dots over every
     * point holding the vector (feedback_query.rs); target and items by
     * id left out */
    const float fa = 1.0f, fb = 1.0f, fc = 2.0f;
    float fsc[SM_N + 1];
    int ids[SM_N], n = 0;
    for (int id = 1; id <= SM_N; id++) {
        if (id == 2 || id == 3 || id == 6)
            continue;
        float pv = sm_dot(sm_pts[3], sm_pts[id]);
        float nv = sm_dot(sm_pts[6], sm_pts[id]);
        fsc[id] = fa * sm_dot(sm_pts[2], sm_pts[id]) +
                  powf(0.8f - 0.1f, fb) * fc * (pv - nv);
        ids[n++] = id;
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (fsc[ids[j]] > fsc[ids[i]]) {
                int t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
            }
    ck_assert(fsc[ids[5]] > fsc[ids[6]]); /* no tie at the cut */
    pts = xquery("sm", "query",
                 "{\"query\":{\"relevance_feedback\":{\"target\":2,"
                 "\"feedback\":[{\"example\":3,\"score\":0.8},{\"example\":6,"
                 "\"score\":0.1}],\"strategy\":{\"naive\":{\"a\":1,\"b\":1,"
                 "\"c\":2}}}},\"using\":\"t\",\"limit\":6}");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 6);
    for (int k = 0; k < 6; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        ck_assert_msg((int)num(p, "id") == ids[k],
                      "feedback hit %d: id %d, expected %d", k,
                      (int)num(p, "id"), ids[k]);
        ck_assert(fabs(num(p, "score") - fsc[ids[k]]) <=
                  1e-5 * (1 + fabs(fsc[ids[k]])));
    }
}
END_TEST

/* MMR on a multivector (was a 400): the candidates' matrices re-ranked as
 * Qdrant's mmr.rs does -- relevance MaxSim(query, c), similarity of a
 * candidate c to a chosen s MaxSim(c as the query, s) -- checked against
 * that greedy selection computed here, on non-integer values (no ties). */
enum { MM_N = 30 };
static xmat mm_pts[MM_N + 1];

START_TEST(test_multivector_mmr)
{
    create("mm", "{\"vectors\":{\"m\":{\"size\":3,\"distance\":\"Dot\","
                 "\"multivector_config\":{\"comparator\":\"max_sim\"}}}}");
    static char body[32768];
    uint64_t seed = 0x5eed1234u;
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int id = 1; id <= MM_N; id++) {
        xmat *m = &mm_pts[id];
        m->n = 1 + id % 3;
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "%s{\"id\":%d,\"vector\":{\"m\":[",
                              id > 1 ? "," : "", id);
        for (int i = 0; i < m->n; i++) {
            for (int d = 0; d < XMD; d++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                m->r[i][d] = (float)((double)(seed >> 40) / (1 << 23)) - 1.0f;
            }
            o += (size_t)snprintf(
                body + o, sizeof(body) - o, "%s[%.9g,%.9g,%.9g]", i ? "," : "",
                (double)m->r[i][0], (double)m->r[i][1], (double)m->r[i][2]);
        }
        o += (size_t)snprintf(body + o, sizeof(body) - o, "]}}");
    }
    snprintf(body + o, sizeof(body) - o, "]}");
    expect_ok(call("PUT", "/collections/mm/points?wait=true", body));
    xmat qm = {.n = 2, .r = {{0.25f, -0.5f, 0.75f}, {-0.125f, 0.5f, 0.5f}}};
    const float lambda = 0.4f; /* diversity 0.6 */
    const int limit = 6;
    /* the reference: every point a candidate (candidates_limit 30) */
    float rel[MM_N + 1], maxs[MM_N + 1];
    bool used[MM_N + 1] = {false};
    int order[MM_N];
    for (int id = 1; id <= MM_N; id++) {
        rel[id] = xm_maxsim(&qm, &mm_pts[id]);
        maxs[id] = -INFINITY;
    }
    for (int k = 0; k < limit; k++) {
        int best = 0;
        float bs = -INFINITY;
        for (int id = 1; id <= MM_N; id++) {
            if (used[id])
                continue;
            float sc = k == 0 ? rel[id]
                              : lambda * rel[id] - (1.0f - lambda) * maxs[id];
            if (!best || sc > bs) {
                best = id;
                bs = sc;
            }
        }
        used[best] = true;
        order[k] = best;
        for (int id = 1; id <= MM_N; id++) {
            float sm = xm_maxsim(&mm_pts[id], &mm_pts[best]);
            if (!used[id] && sm > maxs[id])
                maxs[id] = sm;
        }
    }
    const cJSON *pts =
        xquery("mm", "query",
               "{\"query\":{\"nearest\":[[0.25,-0.5,0.75],[-0.125,0.5,0.5]],"
               "\"mmr\":{\"diversity\":0.6,\"candidates_limit\":30}},\"using\":"
               "\"m\",\"params\":{\"exact\":true},\"limit\":6}");
    ck_assert_int_eq(cJSON_GetArraySize(pts), limit);
    bool differs = false;
    for (int k = 0; k < limit; k++) {
        const cJSON *p = cJSON_GetArrayItem(pts, k);
        ck_assert_msg((int)num(p, "id") == order[k],
                      "mmr hit %d: id %d, "
                      "expected %d",
                      k, (int)num(p, "id"), order[k]);
        ck_assert(fabs(num(p, "score") - rel[order[k]]) <= 1e-5);
        differs = differs || (k > 0 && rel[order[k]] > rel[order[k - 1]]);
    }
    ck_assert_msg(differs, "diversity changed nothing: pick another query");
    /* relevance_feedback (was a 400): a * MaxSim(target, c) plus, for
     * every ordered pair of items whose scores differ (i higher), (s_i -
     * s_j)^b * c times MaxSim(item i, c) - MaxSim(item j, c)
     * (feedback_query.rs); the target and the items by id are left out */
    {
        const xmat *items[3] = {&mm_pts[7], &mm_pts[11], &qm};
        const float isc[3] = {0.9f, 0.2f, 0.5f};
        const float fa = 1.5f, fb = 2.0f, fc = 0.5f;
        float sc[MM_N + 1];
        int ids[MM_N], n = 0;
        for (int id = 1; id <= MM_N; id++) {
            if (id == 5 || id == 7 || id == 11)
                continue;
            float v = fa * xm_maxsim(&mm_pts[5], &mm_pts[id]);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    float conf = isc[i] - isc[j];
                    if (i == j || !(conf > 0.0f))
                        continue;
                    v += powf(conf, fb) * fc *
                         (xm_maxsim(items[i], &mm_pts[id]) -
                          xm_maxsim(items[j], &mm_pts[id]));
                }
            sc[id] = v;
            ids[n++] = id;
        }
        for (int i = 0; i < n; i++) /* by score, descending */
            for (int j = i + 1; j < n; j++)
                if (sc[ids[j]] > sc[ids[i]]) {
                    int t = ids[i];
                    ids[i] = ids[j];
                    ids[j] = t;
                }
        const cJSON *fbp = xquery(
            "mm", "query",
            "{\"query\":{\"relevance_feedback\":{\"target\":5,\"feedback\":["
            "{\"example\":7,\"score\":0.9},{\"example\":11,\"score\":0.2},"
            "{\"example\":[[0.25,-0.5,0.75],[-0.125,0.5,0.5]],\"score\":0.5}],"
            "\"strategy\":{\"naive\":{\"a\":1.5,\"b\":2,\"c\":0.5}}}},"
            "\"using\":\"m\",\"limit\":6}");
        ck_assert_int_eq(cJSON_GetArraySize(fbp), 6);
        for (int k = 0; k < 6; k++) {
            const cJSON *p = cJSON_GetArrayItem(fbp, k);
            ck_assert_msg((int)num(p, "id") == ids[k],
                          "feedback hit %d: id %d, expected %d", k,
                          (int)num(p, "id"), ids[k]);
            ck_assert(fabs(num(p, "score") - sc[ids[k]]) <=
                      1e-5 * (1 + fabs(sc[ids[k]])));
        }
    }
    /* by point id too, with the point itself left out */
    const cJSON *byid = xquery(
        "mm", "query",
        "{\"query\":{\"nearest\":3,\"mmr\":{\"diversity\":0.6}},\"using\":"
        "\"m\",\"limit\":4}");
    ck_assert_int_eq(cJSON_GetArraySize(byid), 4);
    for (int k = 0; k < 4; k++)
        ck_assert_int_ne((int)num(cJSON_GetArrayItem(byid, k), "id"), 3);
}
END_TEST

START_TEST(test_multivector_recommend_discover)
{
    create("xm", "{\"vectors\":{\"m\":{\"size\":3,\"distance\":\"Dot\","
                 "\"multivector_config\":{\"comparator\":\"max_sim\"}},"
                 "\"d\":{\"size\":3,\"distance\":\"Dot\"}},"
                 "\"sparse_vectors\":{\"s\":{}}}");
    static char body[32768];
    uint64_t seed = 0x77aa55u;
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int id = 1; id <= XN; id++) {
        xmat *m = &xm_pts[id];
        m->n = 1 + id % 3;
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "%s{\"id\":%d,\"vector\":{\"m\":[",
                              id > 1 ? "," : "", id);
        for (int i = 0; i < m->n; i++) {
            for (int d = 0; d < XMD; d++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                m->r[i][d] = (float)((int)((seed >> 33) % 7) - 3);
            }
            o += (size_t)snprintf(body + o, sizeof(body) - o, "%s[%g,%g,%g]",
                                  i ? "," : "", (double)m->r[i][0],
                                  (double)m->r[i][1], (double)m->r[i][2]);
        }
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "],\"d\":[1,%d,0],\"s\":{\"indices\":[1],"
                              "\"values\":[1]}},\"payload\":{\"g\":%d}}",
                              id % 4, id % 3);
    }
    snprintf(body + o, sizeof(body) - o, "]}");
    expect_ok(call("PUT", "/collections/xm/points?wait=true", body));
    xmat raw = {.n = 2, .r = {{1, 0, -2}, {0, 3, 1}}};
    const char *rawj = "[[1,0,-2],[0,3,1]]";
    int p1 = 5, p2 = 12, n1 = 8, n2 = 27, t = 19;
    char q[2048];
    /* best_score: ids and a raw matrix, a filter, a page */
    snprintf(q, sizeof(q),
             "{\"query\":{\"recommend\":{\"positive\":[%d,%s],\"negative\":"
             "[%d],\"strategy\":\"best_score\"}},\"using\":\"m\",\"filter\":"
             "{\"must_not\":[{\"key\":\"g\",\"match\":{\"value\":2}}]},"
             "\"limit\":6,\"offset\":1}",
             p1, rawj, n1);
    xref r = {.kind = XR_BEST, .np = 2, .nn = 1, .sim = xm_sim};
    r.pos[0] = &xm_pts[p1];
    r.pos[1] = &raw;
    r.neg[0] = &xm_pts[n1];
    int e2[] = {p1, n1};
    xref_check(xquery("xm", "query", q), &r, 2, e2, 2, false, 0, 6, 1);
    /* sum_scores by the legacy endpoint, a threshold */
    snprintf(q, sizeof(q),
             "{\"positive\":[%d,%d],\"negative\":[%d],\"strategy\":"
             "\"sum_scores\",\"using\":\"m\",\"limit\":9,"
             "\"score_threshold\":0}",
             p1, p2, n2);
    r = (xref){.kind = XR_SUM, .np = 2, .nn = 1, .sim = xm_sim};
    r.pos[0] = &xm_pts[p1];
    r.pos[1] = &xm_pts[p2];
    r.neg[0] = &xm_pts[n2];
    int e3[] = {p1, p2, n2};
    xref_check(xquery("xm", "recommend", q), &r, -1, e3, 3, true, 0.0f, 9, 0);
    /* average_vector: every positive row, then every negative row negated
     * (reco_query.rs merge_positive_and_negative_avg), a MaxSim search */
    xmat avg = {0};
    for (int i = 0; i < xm_pts[p1].n; i++)
        memcpy(avg.r[avg.n++], xm_pts[p1].r[i], sizeof(avg.r[0]));
    for (int i = 0; i < raw.n; i++)
        memcpy(avg.r[avg.n++], raw.r[i], sizeof(avg.r[0]));
    for (int i = 0; i < xm_pts[n1].n; i++, avg.n++)
        for (int d = 0; d < XMD; d++)
            avg.r[avg.n][d] = -xm_pts[n1].r[i][d];
    snprintf(q, sizeof(q),
             "{\"query\":{\"recommend\":{\"positive\":[%d,%s],\"negative\":"
             "[%d]}},\"using\":\"m\",\"params\":{\"exact\":true},"
             "\"filter\":{\"must_not\":[{\"key\":\"g\",\"match\":{\"value\":"
             "0}}]},\"limit\":5,\"offset\":1}",
             p1, rawj, n1);
    r = (xref){.kind = XR_NEAREST, .target = &avg, .sim = xm_sim};
    xref_check(xquery("xm", "query", q), &r, 0, e2, 2, false, 0, 5, 1);
    /* discover and context (legacy discover too) */
    snprintf(q, sizeof(q),
             "{\"query\":{\"discover\":{\"target\":%d,\"context\":[{"
             "\"positive\":%d,\"negative\":%d},{\"positive\":%s,"
             "\"negative\":%d}]}},\"using\":\"m\",\"limit\":8,\"offset\":2}",
             t, p1, n1, rawj, n2);
    r = (xref){.kind = XR_DISCOVER,
               .np = 2,
               .nn = 2,
               .sim = xm_sim,
               .target = &xm_pts[t]};
    r.pos[0] = &xm_pts[p1];
    r.neg[0] = &xm_pts[n1];
    r.pos[1] = &raw;
    r.neg[1] = &xm_pts[n2];
    int e4[] = {t, p1, n1, n2};
    xref_check(xquery("xm", "query", q), &r, -1, e4, 4, false, 0, 8, 2);
    snprintf(q, sizeof(q),
             "{\"context\":[{\"positive\":%d,\"negative\":%d}],\"using\":"
             "\"m\",\"filter\":{\"must\":[{\"key\":\"g\",\"match\":{"
             "\"value\":1}}]},\"limit\":10}",
             p2, n2);
    r = (xref){.kind = XR_CONTEXT, .np = 1, .nn = 1, .sim = xm_sim};
    r.pos[0] = &xm_pts[p2];
    r.neg[0] = &xm_pts[n2];
    int e2c[] = {p2, n2};
    /* g must be 1: leave out g 0 and g 2 by excluding them explicitly */
    int ex_g[XN + 2], nx = 0;
    for (int id = 1; id <= XN; id++)
        if (id % 3 != 1)
            ex_g[nx++] = id;
    ex_g[nx++] = e2c[0];
    ex_g[nx++] = e2c[1];
    xref_check(xquery("xm", "discover", q), &r, -1, ex_g, nx, false, 0, 10, 0);
    /* a dense example (the dense vector "d" of a point by lookup, or raw)
     * is a matrix of one row */
    xmat one = {.n = 1, .r = {{1, (float)(n1 % 4), 0}}};
    snprintf(q, sizeof(q),
             "{\"query\":{\"recommend\":{\"positive\":[[1,%d,0]],"
             "\"strategy\":\"sum_scores\"}},\"using\":\"m\",\"limit\":5}",
             n1 % 4);
    r = (xref){.kind = XR_SUM, .np = 1, .sim = xm_sim};
    r.pos[0] = &one;
    xref_check(xquery("xm", "query", q), &r, -1, NULL, 0, false, 0, 5, 0);
    /* nearest by point id: that point's matrix, the point excluded (was
     * refused), also as {"nearest": id} */
    for (int form = 0; form < 2; form++) {
        snprintf(q, sizeof(q),
                 form ? "{\"query\":{\"nearest\":%d},\"using\":\"m\","
                        "\"params\":{\"exact\":true},\"limit\":7}"
                      : "{\"query\":%d,\"using\":\"m\",\"params\":"
                        "{\"exact\":true},\"filter\":{\"must_not\":[{"
                        "\"key\":\"g\",\"match\":{\"value\":0}}]},"
                        "\"limit\":7}",
                 t);
        r = (xref){.kind = XR_NEAREST, .target = &xm_pts[t], .sim = xm_sim};
        int et[] = {t};
        xref_check(xquery("xm", "query", q), &r, form ? -1 : 0, et, 1, false, 0,
                   7, 0);
    }
    expect_error(call("POST", "/collections/xm/points/query",
                      "{\"query\":100000,\"using\":\"m\"}"),
                 404);
    /* examples of another kind */
    expect_error_msg(call("POST", "/collections/xm/points/query",
                          "{\"query\":{\"recommend\":{\"positive\":[{"
                          "\"indices\":[1],\"values\":[1]}]}},\"using\":"
                          "\"m\"}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/xm/points/query",
                          "{\"query\":{\"discover\":{\"target\":1,"
                          "\"context\":null}},\"using\":\"m\","
                          "\"lookup_from\":{\"collection\":\"xm\","
                          "\"vector\":\"s\"}}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/xm/points/query",
                          "{\"query\":{\"recommend\":{\"positive\":[1]}},"
                          "\"using\":\"d\",\"lookup_from\":{\"collection\":"
                          "\"xm\",\"vector\":\"m\"}}"),
                     400,
                     "Wrong input: Conversion between multi and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/xm/points/query",
                          "{\"query\":{\"recommend\":{\"positive\":[[[1,0,"
                          "0]]]}},\"using\":\"d\"}"),
                     400,
                     "Wrong input: Conversion between multi and regular "
                     "vectors failed");
    expect_error_prefix(call("POST", "/collections/xm/points/query",
                             "{\"query\":{\"context\":{\"positive\":[[1,2]],"
                             "\"negative\":1}},\"using\":\"m\"}"),
                        400, "Wrong input: Vector dimension error");
}
END_TEST

/* ---- named-vector management (server/vector_names.c) ---- */

/* The ids a query on vector `using` finds (query is its JSON). */
static int vn_query(const char *using, const char *query)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"query\":%s,\"using\":\"%s\",\"limit\":10}",
             query, using);
    const cJSON *res =
        expect_ok(call("POST", "/collections/vn/points/query", body));
    return cJSON_GetArraySize(cJSON_GetObjectItem(res, "points"));
}

static const cJSON *vn_vectors(void)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(coll_config("vn"), "params"),
                               "vectors");
}

/* Qdrant 1.18+ create_vector_name / delete_vector_name: dense, sparse and
 * multivector added to a live collection and used at once, the
 * idempotent re-create and the clashes of lib/collection/src/collection/
 * vector_name_schema.rs, delete (a no-op when unknown), restart. */
/* A point with no vector in a collection of one unnamed vector: Qdrant's
 * vectors are all optional, the unnamed one too ("vector": {} is
 * VectorStruct::Named with no entry, lib/api/src/rest/schema.rs), so the
 * point is stored with its payload, counted, retrieved and scrolled with
 * "vector": {} (an empty map: no vector to show), and never found by a
 * vector search, until a vector is set for it (tests/openapi/
 * test_optional_vectors.py does the same on named vectors).  It survives a
 * restart. */
START_TEST(test_unnamed_optional_vector)
{
    create("ov", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(
        call("PUT", "/collections/ov/points?wait=true",
             "{\"points\":[{\"id\":1,\"vector\":{},"
             "\"payload\":{\"k\":\"none\"}},"
             "{\"id\":2,\"vector\":[1,0],\"payload\":{\"k\":\"two\"}}]}"));
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(
            (int)num(
                expect_ok(call("POST", "/collections/ov/points/count", "{}")),
                "count"),
            2);
        const cJSON *p =
            expect_ok(call("GET", "/collections/ov/points/1", NULL));
        ck_assert_str_eq(str(p, "payload.k"), "none");
        const cJSON *v = cJSON_GetObjectItem(p, "vector");
        ck_assert(cJSON_IsObject(v) && v->child == NULL);
        p = expect_ok(call("GET", "/collections/ov/points/2", NULL));
        ck_assert(cJSON_IsArray(cJSON_GetObjectItem(p, "vector")));
        const cJSON *q = expect_ok(call("POST", "/collections/ov/points/query",
                                        "{\"query\":[1,1],\"limit\":10}"));
        const cJSON *pts = cJSON_GetObjectItem(q, "points");
        ck_assert_int_eq(cJSON_GetArraySize(pts), 1);
        ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 2);
        const cJSON *sc = expect_ok(call(
            "POST", "/collections/ov/points/scroll", "{\"with_vector\":true}"));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(sc, "points")),
                         2);
        stop_server(); /* the same after a restart */
        qvs_config cfg;
        test_config(&cfg);
        start_with(&cfg);
    }
    /* A vector set later makes it searchable; an empty update is refused
     * as Qdrant refuses it. */
    expect_ok(call("PUT", "/collections/ov/points/vectors?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[0,3]}]}"));
    const cJSON *q = expect_ok(call("POST", "/collections/ov/points/query",
                                    "{\"query\":[1,1],\"limit\":10}"));
    const cJSON *pts = cJSON_GetObjectItem(q, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 2);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 1);
    expect_error(call("PUT", "/collections/ov/points/vectors?wait=true",
                      "{\"points\":[{\"id\":2,\"vector\":{}}]}"),
                 422);
}
END_TEST

/* Qdrant stores Dot vectors whose squared norm overflows float (it checks
 * the dimension only).  Their products overflow too: Qdrant prints such a
 * score as null (serde_json's spelling of a non-finite float, outside its
 * own schema, hence skip_log), and so do we; the order stays total and
 * repeatable, +inf first, inf - inf = NaN last (core/base/topk.c). */
START_TEST(test_huge_dot_vectors)
{
    create("hd", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/hd/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1e30,1e30]},"
                   "{\"id\":2,\"vector\":[-1e30,1e30]},"
                   "{\"id\":3,\"vector\":[1,2]}]}"));
    const cJSON *p = expect_ok(call("GET", "/collections/hd/points/1", NULL));
    const cJSON *v = cJSON_GetObjectItem(p, "vector");
    ck_assert((float)cJSON_GetArrayItem(v, 0)->valuedouble == 1e30f);
    /* An ordinary query: finite scores, schema-valid. */
    const cJSON *q = expect_ok(
        call("POST", "/collections/hd/points/query", "{\"query\":[1,0]}"));
    const cJSON *pts = cJSON_GetObjectItem(q, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 3);
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 0), "id"), 1);
    ck_assert((float)num(cJSON_GetArrayItem(pts, 0), "score") == 1e30f);
    /* An overflowing one, twice: the same answer. */
    char first[512] = "";
    for (int i = 0; i < 2; i++) {
        skip_log = true;
        q = expect_ok(call("POST", "/collections/hd/points/query",
                           "{\"query\":[1e30,1e30]}"));
        skip_log = false;
        pts = cJSON_GetObjectItem(q, "points");
        ck_assert_int_eq(cJSON_GetArraySize(pts), 3);
        const cJSON *a = cJSON_GetArrayItem(pts, 0);
        ck_assert_int_eq((int)num(a, "id"), 1); /* +inf */
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(a, "score")));
        ck_assert_int_eq((int)num(cJSON_GetArrayItem(pts, 1), "id"), 3);
        const cJSON *c = cJSON_GetArrayItem(pts, 2);
        ck_assert_int_eq((int)num(c, "id"), 2); /* NaN: last */
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "score")));
        char *text = cJSON_PrintUnformatted(pts);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", text);
        else
            ck_assert_str_eq(text, first);
        free(text);
    }
}
END_TEST

/* Scroll ordered by a multi-valued key lists a point once per value, so a
 * page may hold more records than the collection has points (Qdrant:
 * tests/openapi/test_order_by.py); an id offset with order_by is Qdrant's
 * 400 (lib/collection/src/collection/point_ops.rs). */
START_TEST(test_order_by_multi_values)
{
    create("ob", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/ob/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0],"
                   "\"payload\":{\"m\":[1,5]}},"
                   "{\"id\":2,\"vector\":[0,1],\"payload\":{\"m\":[2,4]}}]}"));
    expect_ok(call("PUT", "/collections/ob/index?wait=true",
                   "{\"field_name\":\"m\",\"field_schema\":\"integer\"}"));
    const cJSON *r = expect_ok(call("POST", "/collections/ob/points/scroll",
                                    "{\"order_by\":\"m\",\"limit\":10}"));
    const cJSON *pts = cJSON_GetObjectItem(r, "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 4);
    static const int ids[] = {1, 2, 2, 1}, vals[] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++) {
        const cJSON *pt = cJSON_GetArrayItem(pts, i);
        ck_assert_int_eq((int)num(pt, "id"), ids[i]);
        ck_assert_int_eq((int)num(pt, "order_value"), vals[i]);
    }
    /* A limit below the count still cuts the page. */
    r = expect_ok(call("POST", "/collections/ob/points/scroll",
                       "{\"order_by\":\"m\",\"limit\":3}"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "points")), 3);
    expect_error_prefix(call("POST", "/collections/ob/points/scroll",
                             "{\"order_by\":\"m\",\"offset\":1}"),
                        400,
                        "Wrong input: Cannot use an `offset` when using "
                        "`order_by`");
    expect_ok(call("POST", "/collections/ob/points/scroll",
                   "{\"order_by\":\"m\",\"offset\":null}"));
}
END_TEST

/* Names that no collection can have are Qdrant's path validation errors
 * (422), also where a collection is looked up, not 404s: control
 * characters (tests/openapi/test_collection_exists.py) and more than 255
 * characters (test_validation.py). */
START_TEST(test_collection_name_validation)
{
    expect_error_prefix(call("GET", "/collections/a%09b/exists", NULL), 422,
                        "Validation error in path parameters: [name: ");
    expect_error_msg(call("PUT", "/collections/a%0Ab",
                          "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}"),
                     422,
                     "Validation error in path parameters: [name: "
                     "collection name cannot contain \"\\n\" char]");
    char path[400] = "/collections/";
    memset(path + strlen(path), 'x', 300);
    strcat(path, "/points/1");
    expect_error_msg(call("GET", path, NULL), 422,
                     "Validation error in path parameters: [name: length "
                     "must be from 1 to 255]");
    /* An ordinary missing collection is still a 404. */
    expect_error(call("GET", "/collections/nope/points/1", NULL), 404);
}
END_TEST

/* with_lookup takes "with_vector" as an alias of "with_vectors" (Qdrant's
 * serde alias; tests/openapi/test_group.py). */
START_TEST(test_group_lookup_with_vector_alias)
{
    create("gl", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    create("gd", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/gl/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0],"
                   "\"payload\":{\"doc\":7}}]}"));
    expect_ok(call("PUT", "/collections/gd/points?wait=true",
                   "{\"points\":[{\"id\":7,\"vector\":[0,1],"
                   "\"payload\":{\"title\":\"seven\"}}]}"));
    const cJSON *r = expect_ok(
        call("POST", "/collections/gl/points/query/groups",
             "{\"query\":[1,0],\"group_by\":\"doc\",\"group_size\":1,"
             "\"with_lookup\":{\"collection\":\"gd\",\"with_vector\":true}}"));
    const cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "groups"), 0);
    const cJSON *lk = cJSON_GetObjectItem(g, "lookup");
    ck_assert_int_eq((int)num(lk, "id"), 7);
    ck_assert(cJSON_IsArray(cJSON_GetObjectItem(lk, "vector")));
    ck_assert_str_eq(str(lk, "payload.title"), "seven");
}
END_TEST

/* A legacy recommend by ids of a lookup_from collection equals the same
 * recommend by those points' raw vectors: the ids name points of the
 * other collection, so none of this one's is left out
 * (tests/openapi/test_multicollection_reco.py). */
START_TEST(test_recommend_lookup_keeps_same_ids)
{
    create("rm", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    create("rl", "{\"vectors\":{\"o\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(
        call("PUT", "/collections/rm/points?wait=true",
             "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
             "{\"id\":2,\"vector\":[0,1]},{\"id\":3,\"vector\":[1,1]}]}"));
    expect_ok(call("PUT", "/collections/rl/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"o\":[1,0]}},"
                   "{\"id\":2,\"vector\":{\"o\":[0,2]}}]}"));
    const cJSON *a = expect_ok(
        call("POST", "/collections/rm/points/recommend",
             "{\"positive\":[1],\"negative\":[2],\"limit\":10,"
             "\"lookup_from\":{\"collection\":\"rl\",\"vector\":\"o\"}}"));
    char *ta = cJSON_PrintUnformatted(a);
    const cJSON *b =
        expect_ok(call("POST", "/collections/rm/points/recommend",
                       "{\"positive\":[[1,0]],\"negative\":[[0,2]],"
                       "\"limit\":10}"));
    ck_assert_int_eq(cJSON_GetArraySize(b), 3);
    char *tb = cJSON_PrintUnformatted(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    /* Ids of this collection are still left out. */
    const cJSON *c = expect_ok(call("POST", "/collections/rm/points/recommend",
                                    "{\"positive\":[1],\"limit\":10}"));
    ck_assert_int_eq(cJSON_GetArraySize(c), 2);
}
END_TEST

/* POST /points/query names its limit "internal.limit" in a validation
 * error (QueryRequest flattens QueryRequestInternal as `internal`;
 * tests/openapi/test_query.py). */
START_TEST(test_query_limit_zero_message)
{
    create("ql", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_error_msg(call("POST", "/collections/ql/points/query",
                          "{\"query\":[1,0],\"limit\":0}"),
                     422,
                     "Validation error in JSON body: [internal.limit: value "
                     "0 invalid, must be 1 or larger]");
}
END_TEST

/* Strict mode: an empty `any` has no element to ask for a keyword index,
 * so any index that answers a match (here an integer one) serves it
 * (tests/openapi/test_match_any_empty.py). */
START_TEST(test_strict_empty_any)
{
    create("se", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/se/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,0],"
                   "\"payload\":{\"n\":1}}]}"));
    expect_ok(call("PUT", "/collections/se/index?wait=true",
                   "{\"field_name\":\"n\",\"field_schema\":\"integer\"}"));
    expect_ok(call("PATCH", "/collections/se",
                   "{\"strict_mode_config\":{\"enabled\":true,"
                   "\"unindexed_filtering_retrieve\":false}}"));
    const cJSON *r = expect_ok(call("POST", "/collections/se/points/scroll",
                                    "{\"filter\":{\"must\":[{\"key\":\"n\","
                                    "\"match\":{\"any\":[]}}]}}"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "points")), 0);
    r = expect_ok(call("POST", "/collections/se/points/scroll",
                       "{\"filter\":{\"must_not\":[{\"key\":\"n\","
                       "\"match\":{\"any\":[]}}]}}"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "points")), 1);
    /* Without any index the key is still refused. */
    expect_error(call("POST", "/collections/se/points/scroll",
                      "{\"filter\":{\"must\":[{\"key\":\"m\","
                      "\"match\":{\"any\":[]}}]}}"),
                 400);
}
END_TEST

START_TEST(test_vector_names)
{
    create("vn", "{\"vectors\":{\"a\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(call("PUT", "/collections/vn/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"a\":[1,0]},"
                   "\"payload\":{\"k\":1}}]}"));
    const cJSON *u =
        expect_ok(call("PUT", "/collections/vn/vectors/b?wait=true",
                       "{\"dense\":{\"size\":3,\"distance\":"
                       "\"Euclid\"}}"));
    ck_assert_str_eq(str(u, "status"), "completed");
    ck_assert_double_eq(num(vn_vectors(), "b.size"), 3);
    ck_assert_str_eq(str(vn_vectors(), "b.distance"), "Euclid");
    ck_assert_int_eq(vn_query("b", "[1,2,3]"), 0); /* empty: no point has it */
    /* the same schema again is a no-op; another is Qdrant's 400 */
    expect_ok(call("PUT", "/collections/vn/vectors/b",
                   "{\"dense\":{\"size\":3,\"distance\":\"Euclid\"}}"));
    expect_error_msg(call("PUT", "/collections/vn/vectors/b",
                          "{\"dense\":{\"size\":4,\"distance\":\"Euclid\"}}"),
                     400,
                     "Wrong input: Vector `b` already exists with a different "
                     "configuration");
    expect_ok(call("PUT", "/collections/vn/vectors/s",
                   "{\"sparse\":{\"modifier\":\"idf\"}}"));
    ck_assert_str_eq(str(coll_config("vn"), "params.sparse_vectors.s.modifier"),
                     "idf");
    expect_error_msg(call("PUT", "/collections/vn/vectors/s",
                          "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"),
                     400,
                     "Wrong input: Vector `s` already exists as a sparse "
                     "vector");
    expect_error_msg(
        call("PUT", "/collections/vn/vectors/a", "{\"sparse\":{}}"), 400,
        "Wrong input: Vector `a` already exists as a dense "
        "vector");
    expect_ok(call("PUT", "/collections/vn/vectors/m",
                   "{\"dense\":{\"size\":2,\"distance\":\"Cosine\","
                   "\"multivector_config\":{\"comparator\":\"max_sim\"}}}"));
    ck_assert_str_eq(str(vn_vectors(), "m.multivector_config.comparator"),
                     "max_sim");
    /* listed by name, as Qdrant's sorted map lists them */
    expect_ok(call("PUT", "/collections/vn/vectors/0",
                   "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"));
    expect_ok(call("PUT", "/collections/vn/vectors/aa",
                   "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"));
    char order[64] = "";
    const cJSON *e;
    cJSON_ArrayForEach(e, vn_vectors())
    {
        strcat(order, e->string);
        strcat(order, ",");
    }
    ck_assert_str_eq(order, "0,a,aa,b,m,");
    expect_ok(call("DELETE", "/collections/vn/vectors/0", NULL));
    expect_ok(call("DELETE", "/collections/vn/vectors/aa", NULL));

    /* bad input */
    expect_error_prefix(call("PUT", "/collections/vn/vectors/x", "{}"), 400,
                        "Format error in JSON body");
    expect_error_prefix(call("PUT", "/collections/vn/vectors/x", NULL), 400,
                        "Format error in JSON body");
    expect_error_prefix(call("PUT", "/collections/vn/vectors/x",
                             "{\"dense\":{\"size\":0,\"distance\":\"Dot\"}}"),
                        422, "Validation error");
    expect_error(
        call("PUT", "/collections/vn/vectors/x?timeout=0", "{\"sparse\":{}}"),
        422);
    expect_error(call("PUT", "/collections/nope/vectors/x", "{\"sparse\":{}}"),
                 404);
    expect_error(call("DELETE", "/collections/nope/vectors/x", NULL), 404);
    /* An unnamed dense vector takes a sparse one beside it (the named
     * layout, as a collection created with both); a dense one by name is
     * refused (vector_names.c). */
    create("vu", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
    expect_ok(call("PUT", "/collections/vu/vectors/x", "{\"sparse\":{}}"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(coll_config("vu"), "params"),
                            "sparse_vectors"),
        "x"));
    expect_error_prefix(call("PUT", "/collections/vu/vectors/y",
                             "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"),
                        400, "Bad request");

    /* the new vectors take points at once */
    expect_ok(call("PUT", "/collections/vn/points/vectors?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"b\":[1,2,3]}}]}"));
    expect_ok(call("PUT", "/collections/vn/points?wait=true",
                   "{\"points\":[{\"id\":2,\"vector\":{\"a\":[0,1],"
                   "\"b\":[3,2,1],\"s\":{\"indices\":[7],\"values\":[1]},"
                   "\"m\":[[1,0],[0,1]]}}]}"));
    ck_assert_int_eq(vn_query("b", "[1,2,3]"), 2);
    ck_assert_int_eq(vn_query("s", "{\"indices\":[7],\"values\":[1]}"), 1);
    ck_assert_int_eq(vn_query("m", "[[1,0]]"), 1);

    /* delete: the points keep their other vectors and payloads */
    expect_ok(call("DELETE", "/collections/vn/vectors/b?wait=true", NULL));
    ck_assert_ptr_null(cJSON_GetObjectItem(vn_vectors(), "b"));
    const cJSON *p = expect_ok(call("GET", "/collections/vn/points/1", NULL));
    ck_assert_double_eq(num(p, "payload.k"), 1);
    ck_assert_ptr_nonnull(
        cJSON_GetObjectItem(cJSON_GetObjectItem(p, "vector"), "a"));
    ck_assert_ptr_null(
        cJSON_GetObjectItem(cJSON_GetObjectItem(p, "vector"), "b"));
    expect_error(call("POST", "/collections/vn/points/query",
                      "{\"query\":[1,2,3],\"using\":\"b\"}"),
                 400);
    expect_ok(call("DELETE", "/collections/vn/vectors/b", NULL)); /* no-op */

    /* everything survives a restart; b comes back empty when re-added */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    ck_assert_ptr_null(cJSON_GetObjectItem(vn_vectors(), "b"));
    ck_assert_int_eq(vn_query("m", "[[1,0]]"), 1);
    ck_assert_int_eq(vn_query("s", "{\"indices\":[7],\"values\":[1]}"), 1);
    expect_ok(call("PUT", "/collections/vn/vectors/b",
                   "{\"dense\":{\"size\":3,\"distance\":\"Euclid\"}}"));
    ck_assert_int_eq(vn_query("b", "[1,2,3]"), 0);
    /* the last vectors may go; the points stay */
    expect_ok(call("DELETE", "/collections/vn/vectors/a", NULL));
    expect_ok(call("DELETE", "/collections/vn/vectors/b", NULL));
    expect_ok(call("DELETE", "/collections/vn/vectors/s", NULL));
    expect_ok(call("DELETE", "/collections/vn/vectors/m", NULL));
    ck_assert_int_eq(cJSON_GetArraySize(vn_vectors()), 0);
    ck_assert_double_eq(
        num(expect_ok(call("GET", "/collections/vn", NULL)), "points_count"),
        2);
    stop_server();
    start_with(&cfg);
    ck_assert_double_eq(
        num(expect_ok(call("GET", "/collections/vn", NULL)), "points_count"),
        2);
}
END_TEST

/* Upserts points 1..VN_WRITES with vector "a" (a writer beside the
 * vector-set changes of test_vector_names_concurrent). */
enum { VN_WRITES = 150 };

static void *vn_writer(void *arg)
{
    int *failures = arg;
    CURL *h = curl_easy_init();
    for (int i = 1; h && i <= VN_WRITES; i++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"points\":[{\"id\":%d,\"vector\":{\"a\":[%d,1]}}]}", i, i);
        if (simple_request(h, "PUT", "/collections/vc/points?wait=true",
                           body) != 200)
            (*failures)++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* Vectors added and deleted while another client writes: every write
 * lands (the collection is swapped under its write lock, catalog.c), and
 * the points keep vector "a". */
START_TEST(test_vector_names_concurrent)
{
    create("vc", "{\"vectors\":{\"a\":{\"size\":2,\"distance\":\"Dot\"}}}");
    int failures = 0;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, vn_writer, &failures), 0);
    for (int i = 0; i < 20; i++) {
        expect_ok(call("PUT", "/collections/vc/vectors/x",
                       "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"));
        expect_ok(call("DELETE", "/collections/vc/vectors/x", NULL));
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(failures, 0);
    ck_assert_int_eq(points_of("vc"), VN_WRITES);
    const cJSON *res = expect_ok(call("POST", "/collections/vc/points/query",
                                      "{\"query\":[1,0],\"using\":\"a\","
                                      "\"limit\":1}"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(res, "points")), 1);
}

/* on_disk dense vectors (server/catalog.c sync_on_disk) and a point's
 * payload stored once (core/payload/payload_pool.c), over HTTP. */

static void od_points(const char *coll, const char *const *names, size_t nn,
                      const char *tag)
{
    char body[65536];
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"points\":[");
    for (int i = 0; i < 60; i++) {
        o += (size_t)snprintf(body + o, sizeof(body) - o, "%s{\"id\":%d,",
                              i ? "," : "", i + 1);
        if (nn) {
            o += (size_t)snprintf(body + o, sizeof(body) - o, "\"vector\":{");
            for (size_t k = 0; k < nn; k++)
                o += (size_t)snprintf(body + o, sizeof(body) - o,
                                      "%s\"%s\":[%d.5,%d,-1,%d]", k ? "," : "",
                                      names[k], i % 7, i % 5, i % 3);
            o += (size_t)snprintf(body + o, sizeof(body) - o, "},");
        } else {
            o += (size_t)snprintf(body + o, sizeof(body) - o,
                                  "\"vector\":[%d.5,%d,-1,%d],", i % 7, i % 5,
                                  i % 3);
        }
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "\"payload\":{\"tag\":\"%s-%03d\",\"n\":%d}}",
                              tag, i, i);
    }
    snprintf(body + o, sizeof(body) - o, "]}");
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points?wait=true", coll);
    expect_ok(call("PUT", path, body));
}

/* The ids and score bits of a query on vector `using` (NULL: unnamed). */
static void od_query(const char *coll, const char *using, char *out, size_t cap)
{
    char path[256], body[256];
    snprintf(path, sizeof(path), "/collections/%s/points/query", coll);
    snprintf(body, sizeof(body),
             "{\"query\":[1.5,2,-1,1],\"limit\":8%s%s%s,\"with_payload\":true}",
             using ? ",\"using\":\"" : "", using ? using : "",
             using ? "\"" : "");
    const cJSON *pts =
        cJSON_GetObjectItem(expect_ok(call("POST", path, body)), "points");
    ck_assert_int_eq(cJSON_GetArraySize(pts), 8);
    size_t o = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pts)
    {
        float s = (float)cJSON_GetObjectItem(p, "score")->valuedouble;
        uint32_t bits;
        memcpy(&bits, &s, 4);
        o += (size_t)snprintf(out + o, cap - o, "%d:%08x:%s ",
                              cJSON_GetObjectItem(p, "id")->valueint, bits,
                              str(p, "payload.tag") + 2);
    }
}

static bool od_on_disk(const char *coll, const char *vname)
{
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), coll, &c));
    const qvs_vector *v = qvs_coll_vector(c, vname);
    ck_assert_ptr_nonnull(v);
    bool on = v->coll->vec_on_disk &&
              qvi_maparena_contains(&v->coll->vec_arena, v->coll->vecs);
    qvs_coll_release(qvs_server_catalog(srv), c);
    return on;
}

START_TEST(test_on_disk_vectors)
{
    create("od",
           "{\"vectors\":{\"a\":{\"size\":4,\"distance\":\"Cosine\","
           "\"on_disk\":true},\"b\":{\"size\":4,\"distance\":\"Cosine\"}}}");
    create("odu", "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\","
                  "\"on_disk\":true}}");
    const char *ab[] = {"a", "b"};
    od_points("od", ab, 2, "xx");
    od_points("odu", NULL, 0, "xx");
    ck_assert(od_on_disk("od", "a"));
    ck_assert(!od_on_disk("od", "b"));
    ck_assert(od_on_disk("odu", ""));
    /* hnsw_config.on_disk: the collection's, overridden per vector. */
    create("odg", "{\"vectors\":{\"g\":{\"size\":4,\"distance\":\"Cosine\"},"
                  "\"h\":{\"size\":4,\"distance\":\"Cosine\",\"hnsw_config\":"
                  "{\"on_disk\":false}}},\"hnsw_config\":{\"on_disk\":true}}");
    {
        qvs_coll *g;
        ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "odg", &g));
        ck_assert(qvs_coll_vector(g, "g")->coll->graph_on_disk);
        ck_assert(!qvs_coll_vector(g, "h")->coll->graph_on_disk);
        ck_assert(!qvs_coll_vector(g, "g")->coll->vec_on_disk);
        qv_collection *gl = qvs_coll_vector(g, "g")->coll;
        ck_assert(
            qvi_maparena_contains(&gl->index->links_arena, gl->index->links0));
        qvs_coll_release(qvs_server_catalog(srv), g);
    }
    char qa[512], qb[512], qu[512];
    od_query("od", "a", qa, sizeof(qa));
    od_query("od", "b", qb, sizeof(qb));
    od_query("odu", NULL, qu, sizeof(qu));
    ck_assert_str_eq(qa, qb); /* mapped rows give the heap's bits */
    ck_assert_str_eq(qa, qu);

    /* A restart reopens from the log and snapshots and maps again. */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    od_points("od", ab, 2, "xx"); /* rewrites: the rows may move */
    char ra[512], rb[512];
    od_query("od", "a", ra, sizeof(ra));
    od_query("od", "b", rb, sizeof(rb));
    ck_assert_str_eq(ra, qa);
    ck_assert_str_eq(rb, qb);
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "od", &c));
    qv_collection *a = qvs_coll_vector(c, "a")->coll;
    ck_assert(a->vec_on_disk); /* applied again at open */
    ck_assert(qvi_maparena_contains(&a->vec_arena, a->vecs) ||
              (a->backing && qvi_backing_contains(a->backing, a->vecs)));
    qvs_coll_release(qvs_server_catalog(srv), c);
}
END_TEST

START_TEST(test_payload_stored_once)
{
    /* Same payload sizes, different contents per collection, so only the
     * copies inside one collection can be shared. */
    const char *one[] = {"v0"};
    const char *four[] = {"v0", "v1", "v2", "v3"};
    create("p1", "{\"vectors\":{\"v0\":{\"size\":4,\"distance\":\"Dot\"}}}");
    create("p4", "{\"vectors\":{\"v0\":{\"size\":4,\"distance\":\"Dot\"},"
                 "\"v1\":{\"size\":4,\"distance\":\"Dot\"},"
                 "\"v2\":{\"size\":4,\"distance\":\"Dot\"},"
                 "\"v3\":{\"size\":4,\"distance\":\"Dot\"}}}");
    /* Every library collection of the server's store shares its pool. */
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "p4", &c));
    qvi_blob_pool *pool = c->points->blob_pool;
    ck_assert_ptr_nonnull(pool);
    ck_assert_ptr_eq(qvs_coll_vector(c, "v2")->coll->blob_pool, pool);
    qvs_coll_release(qvs_server_catalog(srv), c);
    size_t b0, b1, b4;
    qvi_blob_pool_stats(pool, NULL, &b0);
    od_points("p1", one, 1, "p1");
    qvi_blob_pool_stats(pool, NULL, &b1);
    od_points("p4", four, 4, "p4");
    qvi_blob_pool_stats(pool, NULL, &b4);
    ck_assert_uint_gt(b1 - b0, 60 * 10);
    ck_assert_uint_eq(b4 - b1, b1 - b0); /* 5 holders, 1 copy, as with 2 */
}
END_TEST

/* The distributed endpoints of a standalone node answer as Qdrant 1.19's
 * do with distributed mode disabled (src/actix/api/cluster_api.rs,
 * src/common/collections.rs do_update_collection_cluster,
 * TableOfContent::request_snapshot): before, these routes were 404. */
START_TEST(test_cluster_standalone)
{
    expect_error_msg(call("POST", "/cluster/recover", NULL), 500,
                     "Service internal error: Qdrant is running in "
                     "standalone mode");
    expect_error_msg(call("DELETE", "/cluster/peer/7", NULL), 400,
                     "Bad request: Distributed mode disabled.");
    expect_error(call("DELETE", "/cluster/peer/x", NULL), 404);
    create("cl", SMALL);
    /* This node (peer 0) holds the collection's shard unless forced. */
    expect_error_msg(call("DELETE", "/cluster/peer/0", NULL), 400,
                     "Bad request: Cannot remove peer 0 as there are shards "
                     "on it");
    expect_error_msg(call("DELETE", "/cluster/peer/0?force=true", NULL), 400,
                     "Bad request: Distributed mode disabled.");
    expect_error_msg(call("POST", "/collections/cl/cluster",
                          "{\"move_shard\": {\"shard_id\": 0, "
                          "\"from_peer_id\": 0, \"to_peer_id\": 1}}"),
                     400, "Bad request: Distributed mode disabled");
    expect_error_msg(
        call("PUT", "/collections/cl/shards", "{\"shard_key\": \"a\"}"), 400,
        "Bad request: Distributed mode disabled");
    expect_error_msg(
        call("POST", "/collections/cl/shards/delete", "{\"shard_key\": \"a\"}"),
        400, "Bad request: Distributed mode disabled");
    const cJSON *keys = expect_ok(call("GET", "/collections/cl/shards", NULL));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(keys, "shard_keys")));
    expect_error(call("GET", "/collections/nope/shards", NULL), 404);
    /* Nothing changed: the collection still answers with its one shard. */
    const cJSON *cl = expect_ok(call("GET", "/collections/cl/cluster", NULL));
    ck_assert_int_eq((int)num(cl, "shard_count"), 1);
    /* DistributedTelemetryData::resolve_telemetries over one standalone
     * node (src/common/telemetry_ops/distributed_telemetry.rs): no peer
     * id, so no collections; the cluster part disabled, without peers. */
    const cJSON *t = expect_ok(call("GET", "/cluster/telemetry", NULL));
    const cJSON *colls = cJSON_GetObjectItem(t, "collections");
    ck_assert(cJSON_IsObject(colls));
    ck_assert_ptr_null(colls->child);
    ck_assert(cJSON_IsFalse(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "cluster"), "enabled")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(t, "cluster"), "number_of_peers")));
    ck_assert(cJSON_IsObject(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "cluster"), "peers")));
    expect_ok(
        call("GET", "/cluster/telemetry?details_level=3&timeout=5", NULL));
    expect_error(call("GET", "/cluster/telemetry?timeout=0", NULL), 422);
    call("POST", "/cluster/telemetry", "{}");
    ck_assert_int_eq(R.status, 405);
}
END_TEST

/* The points of collection c (ids, vectors, payloads), as JSON text:
 * what a restore must bring back exactly. */
static char *scroll_text(const char *c)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points/scroll", c);
    const cJSON *res = expect_ok(
        call("POST", path,
             "{\"limit\":100,\"with_vector\":true,\"with_payload\":true}"));
    char *text = cJSON_PrintUnformatted(res);
    ck_assert_ptr_nonnull(text);
    return text;
}

/* quiver serve --storage-snapshot PATH restores every collection and alias
 * of a whole-storage snapshot into an empty storage, as Qdrant's flag does
 * (src/main.rs Args, src/snapshots.rs recover_full_snapshot); without
 * --force-snapshot an existing collection is kept, with it replaced;
 * --snapshot PATH:NAME restores one collection snapshot; a damaged
 * archive stops the start (exit 1).  Before, the flags were unknown (exit
 * 2) and nothing could restore a full snapshot. */
START_TEST(test_storage_snapshot_startup)
{
    make_storage();
    char first[256];
    snprintf(first, sizeof(first), "%s", storage);
    curl = curl_easy_init();
    const char *const args[] = {"--port",      "0", "--storage", first,
                                "--grpc-port", "0", NULL};
    child ch;
    child_start(&ch, args, NULL);
    create("ra", SMALL);
    create("rb", "{\"vectors\":{\"x\":{\"size\":2,\"distance\":\"Dot\"},"
                 "\"y\":{\"size\":3,\"distance\":\"Cosine\"}}}");
    expect_ok(call("PUT", "/collections/ra/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,2,3,4],"
                   "\"payload\":{\"t\":\"a\"}},{\"id\":2,\"vector\":"
                   "[0.5,0,-1,2],\"payload\":{\"n\":[1,2]}}]}"));
    expect_ok(call("PUT", "/collections/rb/points?wait=true",
                   "{\"points\":[{\"id\":7,\"vector\":{\"x\":[1,2]}},"
                   "{\"id\":8,\"vector\":{\"x\":[3,4],\"y\":[1,0,0]},"
                   "\"payload\":{\"k\":true}}]}"));
    expect_ok(call("PUT", "/collections/ra/index",
                   "{\"field_name\":\"t\",\"field_schema\":\"keyword\"}"));
    aliases("{\"actions\":[{\"create_alias\":{\"collection_name\":\"ra\","
            "\"alias_name\":\"ra_alias\"}}]}");
    char full[512], one[512], *want_a = scroll_text("ra"),
                              *want_b = scroll_text("rb");
    snprintf(full, sizeof(full), "%s/snapshots/%s", first,
             str(expect_ok(call("POST", "/snapshots", NULL)), "name"));
    snprintf(one, sizeof(one), "%s/snapshots/ra/%s:rc", first,
             str(expect_ok(call("POST", "/collections/ra/snapshots", NULL)),
                 "name"));
    ck_assert_int_eq(child_stop(&ch, SIGKILL), -1);

    /* Into an empty storage: everything comes back, bit for bit. */
    make_storage();
    const char *const restore[] = {"--port",
                                   "0",
                                   "--storage",
                                   storage,
                                   "--grpc-port",
                                   "0",
                                   "--storage-snapshot",
                                   full,
                                   "--snapshot",
                                   one,
                                   NULL};
    child_start(&ch, restore, NULL);
    char *got = scroll_text("ra");
    ck_assert_str_eq(got, want_a);
    free(got);
    got = scroll_text("rb");
    ck_assert_str_eq(got, want_b);
    free(got);
    got = scroll_text("rc"); /* the collection snapshot, under its name */
    ck_assert_str_eq(got, want_a);
    free(got);
    got = scroll_text("ra_alias");
    ck_assert_str_eq(got, want_a);
    free(got);
    ck_assert_int_eq(alias_count("/aliases"), 1);
    const cJSON *info = expect_ok(call("GET", "/collections/rb", NULL));
    ck_assert_int_eq((int)num(info, "config.params.vectors.y.size"), 3);
    info = expect_ok(call("GET", "/collections/ra", NULL));
    ck_assert_str_eq(str(info, "payload_schema.t.data_type"), "keyword");
    /* A change made after the restore ... */
    expect_ok(call("POST", "/collections/ra/points/delete?wait=true",
                   "{\"points\":[1]}"));
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);

    /* ... is kept by a restart with the same flags (no --force-snapshot:
     * existing collections are skipped) ... */
    child_start(&ch, restore, NULL);
    got = scroll_text("ra");
    ck_assert_str_ne(got, want_a);
    ck_assert_ptr_null(strstr(got, "\"id\":1,"));
    free(got);
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);
    /* ... and undone with it. */
    const char *const forced[] = {
        "--port",      "0", "--storage",          storage,
        "--grpc-port", "0", "--storage-snapshot", full,
        "-f",          NULL};
    child_start(&ch, forced, NULL);
    got = scroll_text("ra");
    ck_assert_str_eq(got, want_a);
    free(got);
    ck_assert_int_eq(child_stop(&ch, SIGTERM), 0);

    /* A damaged archive stops the start with exit 1, changing nothing. */
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/damaged.snapshot", storage);
    FILE *in = fopen(full, "rb"), *out = fopen(bad, "wb");
    ck_assert(in && out);
    int c;
    for (long i = 0; (c = fgetc(in)) != EOF; i++)
        fputc(i == 40 ? c ^ 0x20 : c, out); /* inside the header */
    fclose(in);
    fclose(out);
    char port_arg[] = "0";
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        execl(QUIVER_SERVER_BIN, QUIVER_SERVER_BIN, "--port", port_arg,
              "--grpc-port", "0", "--storage", storage, "-f",
              "--storage-snapshot", bad, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    free(want_a);
    free(want_b);
    curl_easy_cleanup(curl);
    curl = NULL;
    rm_rf(storage);
    rm_rf(first);
}
END_TEST

/* params.payload and the memory placements, as Qdrant 1.19 shows and
 * checks them (lib/collection/src/config.rs: CollectionParams.payload is
 * skipped when unset, PayloadStorageParams.memory likewise, `pinned`
 * refused for payload storage by validate_payload_storage_memory; Memory
 * is the enum cold|cached|pinned; PATCH merges as
 * PayloadStorageParams::update).  Before, any string was echoed as given,
 * `pinned` included, and a null memory was shown as null. */
START_TEST(test_payload_memory_params)
{
    static const char *const V = "\"vectors\":{\"size\":2,\"distance\":\"Dot\"";
    char body[256];
    snprintf(body, sizeof(body), "{%s},\"payload\":{\"memory\":\"pinned\"}}",
             V);
    expect_error_msg(call("PUT", "/collections/pm", body), 422,
                     "Validation error in JSON body: [payload.memory: "
                     "`pinned` memory placement is not supported for payload "
                     "storage]");
    snprintf(body, sizeof(body), "{%s},\"payload\":{\"memory\":\"hot\"}}", V);
    expect_error_msg(call("PUT", "/collections/pm", body), 400,
                     "Format error in JSON body: payload.memory: unknown "
                     "variant `hot`, expected one of `cold`, `cached`, "
                     "`pinned`");
    snprintf(body, sizeof(body), "{%s,\"memory\":\"warm\"}}", V);
    expect_error_prefix(call("PUT", "/collections/pm", body), 400,
                        "Format error in JSON body: vectors.memory: unknown "
                        "variant `warm`");
    snprintf(body, sizeof(body), "{%s},\"hnsw_config\":{\"memory\":1}}", V);
    expect_error(call("PUT", "/collections/pm", body), 400);
    expect_error(call("GET", "/collections/pm", NULL), 404);

    /* Nor dense vector storage (1.19's VectorParams.memory: "`pinned` is
     * not supported for dense vector storage"), on create and PATCH. */
    snprintf(body, sizeof(body), "{%s,\"memory\":\"pinned\"}}", V);
    expect_error_msg(call("PUT", "/collections/pm", body), 422,
                     "Validation error in JSON body: [vectors.memory: "
                     "`pinned` memory placement is not supported for dense "
                     "vector storage]");

    /* Unset: no "payload" at all; given without memory: {}. */
    snprintf(body, sizeof(body), "{%s,\"memory\":\"cold\"}}", V);
    create("pm", body);
    const cJSON *info = expect_ok(call("GET", "/collections/pm", NULL));
    const cJSON *params =
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params");
    ck_assert_ptr_null(cJSON_GetObjectItem(params, "payload"));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(params, "on_disk_payload")));
    ck_assert_str_eq(str(info, "config.params.vectors.memory"), "cold");
    expect_error(call("PATCH", "/collections/pm",
                      "{\"vectors\":{\"\":{\"memory\":\"pinned\"}}}"),
                 422);
    snprintf(body, sizeof(body), "{%s},\"payload\":{\"memory\":null}}", V);
    create("pn", body);
    info = expect_ok(call("GET", "/collections/pn", NULL));
    const cJSON *pl = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(info, "config"), "params"),
        "payload");
    ck_assert(cJSON_IsObject(pl));
    ck_assert_ptr_null(pl->child);

    /* PATCH merges: a given memory wins, an unset one keeps the old. */
    expect_ok(call("PATCH", "/collections/pm",
                   "{\"params\":{\"payload\":{\"memory\":\"cached\"}}}"));
    info = expect_ok(call("GET", "/collections/pm", NULL));
    ck_assert_str_eq(str(info, "config.params.payload.memory"), "cached");
    expect_ok(call("PATCH", "/collections/pm",
                   "{\"params\":{\"payload\":{\"memory\":null}}}"));
    expect_error(call("PATCH", "/collections/pm",
                      "{\"params\":{\"payload\":{\"memory\":\"pinned\"}}}"),
                 422);
    info = expect_ok(call("GET", "/collections/pm", NULL));
    ck_assert_str_eq(str(info, "config.params.payload.memory"), "cached");
}
END_TEST

/* ---- an unnamed dense vector beside sparse vectors ----------------------
 *
 * Qdrant 1.19 lets a collection have its unnamed vector (DEFAULT_VECTOR_
 * NAME "") next to `sparse_vectors`, declared as one VectorParams or as
 * the map {"": VectorParams} (LangChain's QdrantVectorStore in hybrid
 * mode).  Shapes followed (lib/segment/src/data_types/vectors.rs): a plain
 * array in an upsert is vector "", a map may name "" and the sparse ones;
 * a point's vectors print as a plain array when "" is the only one shown
 * (From<NamedVectors> for VectorStruct), else as a map; a query without
 * `using` scores "".  Stored in the named layout (catalog.h). */

/* The record of point id in the last reply's result array (NULL if none). */
static const cJSON *record_of(const cJSON *arr, int id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *j = cJSON_GetObjectItem(e, "id");
        if (cJSON_IsNumber(j) && (int)j->valuedouble == id)
            return e;
    }
    return NULL;
}

/* The ids of a query/search result (points or a plain list), in order,
 * as "1,5,3". */
static const char *hit_ids(const cJSON *res, char *out, size_t cap)
{
    const cJSON *pts =
        cJSON_IsArray(res) ? res : cJSON_GetObjectItem(res, "points");
    ck_assert(cJSON_IsArray(pts));
    size_t n = 0;
    out[0] = '\0';
    const cJSON *e;
    cJSON_ArrayForEach(e, pts)
    {
        n += (size_t)snprintf(out + n, cap - n, "%s%d", n ? "," : "",
                              (int)num(e, "id"));
        ck_assert_uint_lt(n, cap);
    }
    return out;
}

static void expect_hits(const char *coll, const char *op, const char *body,
                        const char *want)
{
    char path[256], got[256];
    snprintf(path, sizeof(path), "/collections/%s/points/%s", coll, op);
    hit_ids(expect_ok(call("POST", path, body)), got, sizeof(got));
    ck_assert_msg(strcmp(got, want) == 0, "%s %s: hits %s, expected %s", op,
                  body, got, want);
}

/* The "vector" of point id as retrieved with the given with_vector. */
static const cJSON *vector_of(const char *coll, int id, const char *wv)
{
    char path[256], body[256];
    snprintf(path, sizeof(path), "/collections/%s/points", coll);
    snprintf(body, sizeof(body), "{\"ids\":[%d],\"with_vector\":%s}", id, wv);
    const cJSON *rec = record_of(expect_ok(call("POST", path, body)), id);
    ck_assert_ptr_nonnull(rec);
    return cJSON_GetObjectItem(rec, "vector");
}

/* Points of collection "hy" (4-d Cosine "" and sparse "text"):
 *   1: "" [1,0,0,0] and text {1: 0.5, 3: 1}   (map form with both)
 *   2: "" [0,1,0,0]                           (plain array)
 *   3: text {3: 2}                            (map with the sparse only)
 *   4: "" [0,0,1,0], text {7: 1}              (batch, map of columns)
 *   5: "" [0.6,0.8,0,0], text {1: 1}
 *   6: "" [0,0,0,1]                           (batch, plain columns) */
static void fill_hybrid(const char *coll)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points?wait=true", coll);
    expect_ok(call("PUT", path,
                   "{\"points\":[{\"id\":1,\"vector\":{\"\":[1,0,0,0],"
                   "\"text\":{\"indices\":[3,1],\"values\":[1,0.5]}},"
                   "\"payload\":{\"doc\":\"one\"}},"
                   "{\"id\":2,\"vector\":[0,1,0,0]},"
                   "{\"id\":3,\"vector\":{\"text\":{\"indices\":[3],"
                   "\"values\":[2]}}}]}"));
    expect_ok(call("PUT", path,
                   "{\"batch\":{\"ids\":[4,5],\"vectors\":{\"\":[[0,0,1,0],"
                   "[0.6,0.8,0,0]],\"text\":[{\"indices\":[7],\"values\":[1]},"
                   "{\"indices\":[1],\"values\":[1]}]}}}"));
    expect_ok(
        call("PUT", path, "{\"batch\":{\"ids\":[6],\"vectors\":[[0,0,0,1]]}}"));
}

static void check_hybrid(const char *coll)
{
    char path[256];
    snprintf(path, sizeof(path), "/collections/%s/points/count", coll);
    ck_assert_int_eq(
        (int)num(expect_ok(call("POST", path, "{\"exact\":true}")), "count"),
        6);

    /* with_vector true: a map when the sparse one is there too, the plain
     * array when "" is alone, a map without "" when it is missing. */
    const cJSON *v = vector_of(coll, 1, "true");
    ck_assert(cJSON_IsObject(v));
    ck_assert_int_eq(cJSON_GetArraySize(v), 2);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(v, "")), 4);
    ck_assert_double_eq(
        cJSON_GetArrayItem(cJSON_GetObjectItem(v, ""), 0)->valuedouble, 1.0);
    const cJSON *t = cJSON_GetObjectItem(v, "text");
    ck_assert_int_eq(
        (int)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "indices"), 0)
            ->valuedouble,
        1); /* sorted by index */
    ck_assert_double_eq(
        cJSON_GetArrayItem(cJSON_GetObjectItem(t, "values"), 0)->valuedouble,
        0.5);
    v = vector_of(coll, 2, "true");
    ck_assert(cJSON_IsArray(v));
    ck_assert_int_eq(cJSON_GetArraySize(v), 4);
    ck_assert_double_eq(cJSON_GetArrayItem(v, 1)->valuedouble, 1.0);
    v = vector_of(coll, 3, "true");
    ck_assert(cJSON_IsObject(v));
    ck_assert_int_eq(cJSON_GetArraySize(v), 1);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(v, "text"));
    /* Selections: [""] alone prints the array, ["text"] a map. */
    v = vector_of(coll, 1, "[\"\"]");
    ck_assert(cJSON_IsArray(v));
    ck_assert_int_eq(cJSON_GetArraySize(v), 4);
    v = vector_of(coll, 1, "[\"text\"]");
    ck_assert(cJSON_IsObject(v));
    ck_assert_int_eq(cJSON_GetArraySize(v), 1);
    v = vector_of(coll, 6, "[\"text\"]");
    ck_assert(cJSON_IsObject(v) && !v->child);
    snprintf(path, sizeof(path), "/collections/%s/points/5", coll);
    v = cJSON_GetObjectItem(expect_ok(call("GET", path, NULL)), "vector");
    ck_assert(cJSON_IsObject(v) && cJSON_GetArraySize(v) == 2);

    /* Dense: `using` omitted or "", the legacy search's plain vector. */
    expect_hits(coll, "query", "{\"query\":[1,0,0,0],\"limit\":2}", "1,5");
    expect_hits(coll, "query",
                "{\"query\":{\"nearest\":[0,1,0,0]},\"using\":\"\","
                "\"limit\":2}",
                "2,5");
    expect_hits(coll, "search", "{\"vector\":[1,0,0,0],\"limit\":2}", "1,5");
    expect_hits(coll, "search",
                "{\"vector\":{\"name\":\"\",\"vector\":[0,0,1,0]},"
                "\"limit\":1}",
                "4");
    /* Sparse: dot product over shared dimensions (4 and 6 share none). */
    expect_hits(coll, "query",
                "{\"query\":{\"indices\":[1,3],\"values\":[1,1]},"
                "\"using\":\"text\",\"limit\":10}",
                "3,1,5");
    expect_hits(coll, "search",
                "{\"vector\":{\"name\":\"text\",\"vector\":{\"indices\":[7],"
                "\"values\":[1]}},\"limit\":10}",
                "4");
    /* Hybrid: RRF over a dense and a sparse prefetch.  Dense ranks 1, 5;
     * sparse ranks 3, 1, 5: point 1 is first in one list and second in
     * the other, 5 second and third, 3 first in one only. */
    expect_hits(coll, "query",
                "{\"prefetch\":[{\"query\":[1,0,0,0],\"limit\":2},"
                "{\"query\":{\"indices\":[1,3],\"values\":[1,1]},"
                "\"using\":\"text\",\"limit\":3}],"
                "\"query\":{\"fusion\":\"rrf\"},\"limit\":10}",
                "1,5,3");
    /* A filter reaches the dense leaf through the payload copies. */
    expect_hits(coll, "query",
                "{\"query\":[0.6,0.8,0,0],\"limit\":3,\"filter\":{\"must\":"
                "[{\"key\":\"doc\",\"match\":{\"value\":\"one\"}}]}}",
                "1");
    expect_hits(coll, "scroll",
                "{\"filter\":{\"must\":[{\"has_vector\":\"\"}]},\"limit\":10}",
                "1,2,4,5,6");
}

START_TEST(test_unnamed_sparse)
{
    /* Create: one VectorParams beside sparse vectors, echoed as given. */
    create("hy", "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"},"
                 "\"sparse_vectors\":{\"text\":{\"modifier\":\"none\"}}}");
    const cJSON *params = cJSON_GetObjectItem(coll_config("hy"), "params");
    ck_assert_int_eq((int)num(params, "vectors.size"), 4);
    ck_assert_str_eq(str(params, "vectors.distance"), "Cosine");
    ck_assert_str_eq(str(params, "sparse_vectors.text.modifier"), "none");
    qvs_coll *c;
    ck_assert(qvs_catalog_get(qvs_server_catalog(srv), "hy", &c));
    ck_assert(c->named);
    ck_assert_uint_eq(c->n_vectors, 2);
    ck_assert_str_eq(c->vectors[0].name, "");
    ck_assert(!c->vectors[0].sparse && c->vectors[1].sparse);
    ck_assert_ptr_ne(c->vectors[0].coll, c->points);
    qvs_coll_release(qvs_server_catalog(srv), c);

    /* LangChain's form: the map {"": VectorParams}. */
    create("lc", "{\"vectors\":{\"\":{\"size\":4,\"distance\":\"Cosine\"}},"
                 "\"sparse_vectors\":{\"langchain-sparse\":{\"modifier\":"
                 "\"idf\"}}}");
    params = cJSON_GetObjectItem(coll_config("lc"), "params");
    const cJSON *dv =
        cJSON_GetObjectItem(cJSON_GetObjectItem(params, "vectors"), "");
    ck_assert_int_eq((int)num(dv, "size"), 4);
    ck_assert_str_eq(str(dv, "distance"), "Cosine");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(params, "vectors")),
                     1);
    /* The map form alone (LangChain's dense mode) holds plain arrays. */
    create("d0", "{\"vectors\":{\"\":{\"size\":2,\"distance\":\"Dot\"}}}");
    expect_ok(call("PUT", "/collections/d0/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":[1,2]}]}"));
    const cJSON *v = vector_of("d0", 1, "true");
    ck_assert(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2);
    expect_hits("d0", "query", "{\"query\":[1,0]}", "1");

    fill_hybrid("hy");
    check_hybrid("hy");
    expect_ok(call("PUT", "/collections/lc/points?wait=true",
                   "{\"points\":[{\"id\":1,\"vector\":{\"\":[1,0,0,0],"
                   "\"langchain-sparse\":{\"indices\":[5],\"values\":[1]}}},"
                   "{\"id\":2,\"vector\":{\"\":[0,1,0,0],\"langchain-sparse\":"
                   "{\"indices\":[6],\"values\":[1]}}}]}"));
    /* LangChain's hybrid search: both prefetches name their vector. */
    expect_hits(
        "lc", "query",
        "{\"prefetch\":[{\"query\":[0,1,0,0],\"using\":\"\",\"limit\":2},"
        "{\"query\":{\"indices\":[6],\"values\":[1]},"
        "\"using\":\"langchain-sparse\",\"limit\":2}],"
        "\"query\":{\"fusion\":\"rrf\"}}",
        "2,1");

    /* Bad input: Qdrant's WrongSparse both ways, unknown names. */
    expect_error_msg(
        call("PUT", "/collections/hy/points?wait=true",
             "{\"points\":[{\"id\":9,\"vector\":{\"\":{\"indices\":[1],"
             "\"values\":[1]}}}]}"),
        400,
        "Wrong input: Conversion between sparse and regular vectors "
        "failed");
    expect_error_msg(call("PUT", "/collections/hy/points?wait=true",
                          "{\"points\":[{\"id\":9,\"vector\":{\"text\":"
                          "[1,0,0,0]}}]}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_msg(call("PUT", "/collections/hy/points?wait=true",
                          "{\"points\":[{\"id\":9,\"vector\":{\"nope\":"
                          "[1,0,0,0]}}]}"),
                     400, "Wrong input: Not existing vector name error: nope");
    expect_error_msg(call("POST", "/collections/hy/points/query",
                          "{\"query\":[1,0,0,0],\"using\":\"nope\"}"),
                     400, "Wrong input: Not existing vector name error: nope");
    expect_error_msg(call("POST", "/collections/hy/points/query",
                          "{\"query\":[1,0,0,0],\"using\":\"text\"}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_msg(call("POST", "/collections/hy/points/query",
                          "{\"query\":{\"indices\":[1],\"values\":[1]}}"),
                     400,
                     "Wrong input: Conversion between sparse and regular "
                     "vectors failed");
    expect_error_prefix(call("PUT", "/collections/hy/points?wait=true",
                             "{\"points\":[{\"id\":9,\"vector\":[1,0]}]}"),
                        400, "Wrong input: Vector dimension error");
    expect_error_msg(call("PUT", "/collections/bad",
                          "{\"vectors\":{\"size\":4,\"distance\":\"Dot\"},"
                          "\"sparse_vectors\":{\"\":{}}}"),
                     400, "Wrong input: Sparse vector name cannot be empty");
    expect_error_msg(call("PUT", "/collections/bad",
                          "{\"vectors\":{\"\":{\"size\":4,\"distance\":"
                          "\"Dot\"}},\"sparse_vectors\":{\"x\":{},\"\":{}}}"),
                     400, "Wrong input: Sparse vector name cannot be empty");
    ck_assert_int_eq(points_of("hy"), 6); /* nothing changed */

    /* Vector edits and point edits. */
    expect_ok(
        call("PUT", "/collections/hy/points/vectors?wait=true",
             "{\"points\":[{\"id\":2,\"vector\":{\"text\":{\"indices\":"
             "[9],\"values\":[1]}}},{\"id\":3,\"vector\":[0,0,0.6,0.8]}]}"));
    v = vector_of("hy", 2, "true");
    ck_assert(cJSON_IsObject(v) && cJSON_GetArraySize(v) == 2);
    v = vector_of("hy", 3, "true");
    ck_assert(cJSON_IsObject(v) && cJSON_GetArraySize(v) == 2);
    expect_ok(call("POST", "/collections/hy/points/vectors/delete?wait=true",
                   "{\"points\":[2],\"vector\":[\"text\"]}"));
    v = vector_of("hy", 2, "true");
    ck_assert(cJSON_IsArray(v));
    expect_ok(call("POST", "/collections/hy/points/vectors/delete?wait=true",
                   "{\"points\":[3],\"vector\":[\"\"]}"));
    v = vector_of("hy", 3, "true");
    ck_assert(cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1);
    expect_ok(call("POST", "/collections/hy/points/payload?wait=true",
                   "{\"payload\":{\"doc\":\"one\"},\"points\":[5]}"));
    expect_hits("hy", "query",
                "{\"query\":{\"indices\":[1],\"values\":[1]},\"using\":"
                "\"text\",\"filter\":{\"must\":[{\"key\":\"doc\",\"match\":"
                "{\"value\":\"one\"}}]}}",
                "5,1");
    expect_ok(call("POST", "/collections/hy/points/delete?wait=true",
                   "{\"points\":[5]}"));
    ck_assert_int_eq(points_of("hy"), 5);
    expect_hits("hy", "query", "{\"query\":[1,0,0,0],\"limit\":2}", "1,2");

    /* PATCH: "" names the unnamed vector's params, a sparse name is not a
     * dense one. */
    expect_ok(call("PATCH", "/collections/hy",
                   "{\"vectors\":{\"\":{\"on_disk\":true}}}"));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(coll_config("hy"), "params"),
                            "vectors"),
        "on_disk")));
    expect_ok(call("PATCH", "/collections/lc",
                   "{\"vectors\":{\"\":{\"on_disk\":true}}}"));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(coll_config("lc"), "params"), "vectors"),
            ""),
        "on_disk")));
    expect_error_msg(call("PATCH", "/collections/hy",
                          "{\"vectors\":{\"text\":{\"on_disk\":true}}}"),
                     400, "Wrong input: Not existing vector name error: text");
    /* Named vectors: a sparse one may be added, a second dense one not. */
    expect_ok(
        call("PUT", "/collections/hy/vectors/kw?wait=true", "{\"sparse\":{}}"));
    expect_error_prefix(call("PUT", "/collections/hy/vectors/img?wait=true",
                             "{\"dense\":{\"size\":2,\"distance\":\"Dot\"}}"),
                        400, "Bad request: collection `hy` has one unnamed");
    expect_hits("hy", "query", "{\"query\":[1,0,0,0],\"limit\":1}", "1");

    /* Restart on the same storage: configs, layout and points come back. */
    stop_server();
    qvs_config cfg;
    test_config(&cfg);
    start_with(&cfg);
    params = cJSON_GetObjectItem(coll_config("hy"), "params");
    ck_assert_int_eq((int)num(params, "vectors.size"), 4);
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(params, "sparse_vectors"), "kw"));
    ck_assert_int_eq(points_of("hy"), 5);
    v = vector_of("hy", 1, "true");
    ck_assert(cJSON_IsObject(v) && cJSON_GetArraySize(v) == 2);
    ck_assert(cJSON_IsArray(vector_of("hy", 2, "true")));
    expect_hits("hy", "query",
                "{\"prefetch\":[{\"query\":[1,0,0,0],\"limit\":2},"
                "{\"query\":{\"indices\":[1,3],\"values\":[1,1]},"
                "\"using\":\"text\",\"limit\":3}],"
                "\"query\":{\"fusion\":\"rrf\"},\"limit\":10}",
                "1,3,2");
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(coll_config("lc"), "params"),
                            "vectors"),
        ""));
    expect_hits("lc", "query", "{\"query\":[1,0,0,0],\"limit\":1}", "1");
    ck_assert(cJSON_IsArray(vector_of("d0", 1, "true")));
}
END_TEST

/* A snapshot of such a collection, recovered into a new name, holds the
 * same points, shapes and answers. */
START_TEST(test_unnamed_sparse_snapshot)
{
    create("hs", "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"},"
                 "\"sparse_vectors\":{\"text\":{}}}");
    fill_hybrid("hs");
    const cJSON *d = expect_ok(call("POST", "/collections/hs/snapshots", "{}"));
    char name[512], path[1024];
    snprintf(name, sizeof(name), "%s", str(d, "name"));
    snprintf(path, sizeof(path), "/collections/hs/snapshots/%s", name);
    call("GET", path, NULL);
    ck_assert_int_eq(R.status, 200);
    size_t size = R.body.len;
    char *file = malloc(size);
    ck_assert_ptr_nonnull(file);
    memcpy(file, R.body.p, size);
    ck_assert(cJSON_IsTrue(expect_ok(
        call_raw("POST", "/collections/hs2/snapshots/upload", file, size))));
    free(file);
    const cJSON *params = cJSON_GetObjectItem(coll_config("hs2"), "params");
    ck_assert_int_eq((int)num(params, "vectors.size"), 4);
    check_hybrid("hs2");
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_root);
    tcase_add_test(tc, test_probes);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_collection_lifecycle);
    tcase_add_test(tc, test_named_vectors);
    tcase_add_test(tc, test_on_disk_vectors);
    tcase_add_test(tc, test_payload_stored_once);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_patch);
    tcase_add_test(tc, test_aliases);
    tcase_add_test(tc, test_payload_index);
    tcase_add_test(tc, test_text_index_params);
    tcase_add_test(tc, test_routing);
    tcase_add_test(tc, test_cors);
    tcase_add_test(tc, test_keep_alive);
    tcase_add_test(tc, test_concurrent_clients);
    tcase_add_test(tc, test_snapshots);
    tcase_add_test(tc, test_exact_numbers);
    tcase_add_test(tc, test_exact_order_by);
    tcase_add_test(tc, test_strict_bodies);
    tcase_add_test(tc, test_snapshot_errors);
    suite_add_tcase(s, tc);

    TCase *small = tcase_create("limits");
    tcase_add_checked_fixture(small, setup_small, teardown);
    tcase_set_timeout(small, 60);
    tcase_add_test(small, test_body_limit);
    suite_add_tcase(s, small);

    TCase *auth = tcase_create("auth");
    tcase_add_checked_fixture(auth, setup_auth, teardown);
    tcase_set_timeout(auth, 60);
    tcase_add_test(auth, test_auth);
    tcase_add_test(auth, test_shard_snapshot_auth);
    suite_add_tcase(s, auth);

    TCase *prog = tcase_create("program");
    tcase_set_timeout(prog, 120);
    tcase_add_test(prog, test_config_parse);
    tcase_add_test(prog, test_config_limits);
    tcase_add_test(prog, test_damaged_catalog);
    tcase_add_test(prog, test_sigterm_restart);
    tcase_add_test(prog, test_datatypes_restart);
    tcase_add_test(prog, test_sparse_patch_restart);
    tcase_add_test(prog, test_bm25_prefix_query);
    tcase_add_test(prog, test_snapshot_leftovers);
    tcase_add_test(prog, test_snapshot_kill9_upload);
    tcase_add_test(prog, test_storage_snapshot_startup);
    suite_add_tcase(s, prog);

    TCase *q19 = tcase_create("qdrant119");
    tcase_add_checked_fixture(q19, setup, teardown);
    tcase_set_timeout(q19, 60);
    tcase_add_test(q19, test_values_count_missing);
    tcase_add_test(q19, test_datatypes_narrow_search);
    tcase_add_test(q19, test_unnamed_sparse);
    tcase_add_test(q19, test_unnamed_sparse_snapshot);
    tcase_add_test(q19, test_datetime_no_seconds);
    tcase_add_test(q19, test_op_ids_survive_restart);
    tcase_add_test(q19, test_quantization_config);
    tcase_add_test(q19, test_quantized_search);
    tcase_add_test(q19, test_quantized_search_product);
    tcase_add_test(q19, test_snapshot_sha256);
    tcase_add_test(q19, test_shard_snapshots);
    tcase_add_test(q19, test_cli_verifies_archives);
    tcase_add_test(q19, test_validation_codes);
    tcase_add_test(q19, test_indexed_vectors_count);
    tcase_add_test(q19, test_update_vectors_repeated_point);
    tcase_add_test(q19, test_facet_endpoint);
    tcase_add_test(q19, test_matrix_endpoints);
    tcase_add_test(q19, test_issues_and_optimizations);
    tcase_add_test(q19, test_full_snapshots);
    tcase_add_test(q19, test_snapshot_from_url);
    tcase_add_test(q19, test_snapshot_url_hosts_config);
    tcase_add_test(q19, test_hybrid_queries);
    tcase_add_test(q19, test_discover_reference);
    tcase_add_test(q19, test_discover_errors);
    tcase_add_test(q19, test_vector_names);
    tcase_add_test(q19, test_unnamed_optional_vector);
    tcase_add_test(q19, test_huge_dot_vectors);
    tcase_add_test(q19, test_order_by_multi_values);
    tcase_add_test(q19, test_collection_name_validation);
    tcase_add_test(q19, test_group_lookup_with_vector_alias);
    tcase_add_test(q19, test_recommend_lookup_keeps_same_ids);
    tcase_add_test(q19, test_query_limit_zero_message);
    tcase_add_test(q19, test_strict_empty_any);
    tcase_add_test(q19, test_vector_names_concurrent);
    tcase_add_test(q19, test_cluster_standalone);
    tcase_add_test(q19, test_payload_memory_params);
    suite_add_tcase(s, q19);

    /* recommend, discover and context on sparse vectors and multivectors */
    TCase *xreco = tcase_create("xreco");
    tcase_add_checked_fixture(xreco, setup, teardown);
    tcase_set_timeout(xreco, 60);
    tcase_add_test(xreco, test_sparse_recommend_discover);
    tcase_add_test(xreco, test_multivector_recommend_discover);
    tcase_add_test(xreco, test_multivector_mmr);
    tcase_add_test(xreco, test_sparse_mmr);
    suite_add_tcase(s, xreco);

    TCase *strict = tcase_create("strict");
    tcase_add_checked_fixture(strict, setup, teardown);
    tcase_set_timeout(strict, 60);
    tcase_add_test(strict, test_strict_config_patch);
    tcase_add_test(strict, test_strict_config_validation);
    tcase_add_test(strict, test_strict_read_limits);
    tcase_add_test(strict, test_strict_other_reads);
    tcase_add_test(strict, test_strict_unindexed_filters);
    tcase_add_test(strict, test_strict_filter_sizes);
    tcase_add_test(strict, test_strict_write_limits);
    tcase_add_test(strict, test_strict_multi_sparse);
    tcase_add_test(strict, test_strict_index_count);
    tcase_add_test(strict, test_strict_payload_size);
    tcase_add_test(strict, test_strict_rate_limits);
    tcase_add_test(strict, test_strict_bucket_clock);
    tcase_add_test(strict, test_strict_bucket_threads);
    suite_add_tcase(s, strict);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(server_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
