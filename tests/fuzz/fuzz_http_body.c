/*
 * fuzz_http_body.c -- libFuzzer target: arbitrary bytes as the JSON body of
 * every REST route that reads one.
 *
 * Anyone who can reach the server chooses these bytes, so each handler must
 * answer every body with a sane status and a well-formed reply, leak
 * nothing, and leave the collection consistent.  The target stands in for
 * the HTTP layer (http.c) without sockets: it splits a path with
 * qvs_path_split, matches it with the real router, parses the body with
 * qvs_json_parse as finish() does, calls the handler and wraps the reply
 * with the real envelope functions, as send_resp() does.  The catalog is
 * the real one (catalog.c) in a temporary directory (under /dev/shm when it
 * exists, so that fsync costs nothing).
 *
 * An input is
 *   byte 0   the route: an index into `routes` below (modulo its length)
 *   byte 1   bits 0-1 the {name} path parameter: "c" (named vectors "a"
 *            and "b" with keyword and integer payload indexes), "u" (one
 *            unnamed vector), "al" (an alias of "c") or "zz" (missing until
 *            a body creates it); bits 2-3 the `wait` query parameter:
 *            absent, "true", "false" or "x"
 *   rest     the body (none when empty, as for a request without one)
 * so a seed is written as two bytes and a JSON text.
 *
 * Invariants checked after every request (a violation is __builtin_trap,
 * which libFuzzer reports as a crash):
 *   - the status is one of 200, 202, 400, 403, 404, 409, 422;
 *   - a failed reply carries a message; a successful one no raw body;
 *   - the envelope parses (cJSON_Parse) and has Qdrant's shape:
 *     {"result":...,"status":"ok","time":t}, {"status":"accepted",...} or
 *     {"status":{"error":"..."},"time":t};
 *   - for "c" and "u", an exact count equals the length of a full scroll,
 *     and the same holds under a filter on the indexed keyword field;
 *   - every point of one of c's vector collections is in its registry with
 *     the same payload.
 * ASan and UBSan catch the rest; LeakSanitizer checks every run's leaks.
 * FUZZ_HTTP_VERBOSE=1 in the environment prints each request's status.
 *
 * State: the catalog is rebuilt from scratch every RESET_EVERY inputs, and
 * at once after any input that created something ("zz", a snapshot) or
 * grew a collection past MAX_POINTS, so a long run neither runs out of
 * memory nor lets one input's meaning drift far from a fresh replay.  The
 * corpus replay test sets FUZZ_HTTP_RESET_EVERY=1, so each saved input
 * meets a fresh catalog: the state in which libFuzzer reproduces a crash
 * before saving it.
 */
#include "server/routes.h"
#include "server/server.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 64
#define MAX_POINTS  2000

/* Every route with a JSON body (all but GET, DELETE and raw bodies).
 * Kept as a list rather than derived from the route tables so that a
 * saved input keeps its meaning when routes are added; init() checks that
 * the list covers the tables, so a new route fails the corpus replay until
 * it is added here (at the end). */
typedef struct fz_route {
    const char *method;
    const char *path; /* %s: the collection name */
} fz_route;

static const fz_route routes[] = {
    {"PUT", "/collections/%s/points"},
    {"POST", "/collections/%s/points"},
    {"POST", "/collections/%s/points/delete"},
    {"POST", "/collections/%s/points/payload"},
    {"PUT", "/collections/%s/points/payload"},
    {"POST", "/collections/%s/points/payload/delete"},
    {"POST", "/collections/%s/points/payload/clear"},
    {"PUT", "/collections/%s/points/vectors"},
    {"POST", "/collections/%s/points/vectors/delete"},
    {"POST", "/collections/%s/points/batch"},
    {"POST", "/collections/%s/points/scroll"},
    {"POST", "/collections/%s/points/count"},
    {"POST", "/collections/%s/points/query"},
    {"POST", "/collections/%s/points/query/batch"},
    {"POST", "/collections/%s/points/search"},
    {"POST", "/collections/%s/points/search/batch"},
    {"POST", "/collections/%s/points/recommend"},
    {"POST", "/collections/%s/points/recommend/batch"},
    {"POST", "/collections/%s/points/discover"},
    {"POST", "/collections/%s/points/discover/batch"},
    {"PUT", "/collections/%s"},
    {"PATCH", "/collections/%s"},
    {"POST", "/collections/aliases"},
    {"PUT", "/collections/%s/index"},
    {"POST", "/collections/%s/snapshots"},
    {"PUT", "/collections/%s/snapshots/recover"},
    {"POST", "/collections/%s/facet"},
    {"POST", "/collections/%s/points/search/matrix/pairs"},
    {"POST", "/collections/%s/points/search/matrix/offsets"},
    {"POST", "/snapshots"},
    {"POST", "/collections/%s/points/search/groups"},
    {"POST", "/collections/%s/points/recommend/groups"},
    {"POST", "/collections/%s/points/query/groups"},
    {"PUT", "/collections/%s/vectors/{vector_name}"},
    {"POST", "/cluster/recover"},
    {"POST", "/collections/%s/cluster"},
    {"PUT", "/collections/%s/shards"},
    {"POST", "/collections/%s/shards/delete"},
    {"POST", "/collections/%s/shards/{shard_id}/snapshots"},
    {"PUT", "/collections/%s/shards/{shard_id}/snapshots/recover"},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const names[4] = {"c", "u", "al", "zz"};
static const char *const waits[4] = {NULL, "true", "false", "x"};

static struct {
    bool ready;
    char dir[64];
    qvs_catalog *cat;
    qvs_router router;
    unsigned runs; /* inputs since the last reset */
    bool verbose;  /* FUZZ_HTTP_VERBOSE set: print each request's status */
    unsigned reset_every; /* RESET_EVERY, or FUZZ_HTTP_RESET_EVERY */
} fz;

/* ---- one request ------------------------------------------------------- */

typedef struct fz_conn {
    const char *wait;
} fz_conn;

static const char *fz_query(const qvs_req *r, const char *key)
{
    const fz_conn *c = r->conn;
    return strcmp(key, "wait") == 0 ? c->wait : NULL;
}

/* Runs method path (already formatted) with body text; fills *resp as the
 * handler left it, or as finish() would for an unparsable body.  Returns
 * false when the path matches no route (a bug of this file). */
static bool call(const char *method, const char *path, const char *text,
                 size_t len, const char *wait, qvs_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->http_status = 200;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *segs[QVS_MAX_SEGMENTS];
    size_t n_segs, index, n_params = 0;
    const char *params[QVS_MAX_PARAMS] = {0};
    if (qvs_path_split(buf, segs, &n_segs) != QVS_PATH_OK ||
        qvs_router_match(&fz.router, method, segs, n_segs, &index, params,
                         &n_params) != QVS_MATCH_OK)
        return false;
    const qvs_route *rt = fz.router.entries[index].route;
    cJSON *body = NULL;
    if (len > 0) {
        char err[256];
        body = qvs_json_parse(text, len, err, sizeof err);
        if (!body) {
            qvs_fail(resp, 400, "%s", err);
            return true;
        }
    }
    fz_conn conn = {wait};
    qvs_req req = {.method = method,
                   .n_params = n_params,
                   .body = body,
                   .query = fz_query,
                   .conn = &conn,
                   .catalog = fz.cat};
    memcpy(req.params, params, sizeof params);
    rt->handler(&req, resp);
    cJSON_Delete(body);
    return true;
}

static void resp_free(qvs_resp *r)
{
    cJSON_Delete(r->result);
    free(r->raw_body);
    free(r->raw_file);
    memset(r, 0, sizeof(*r));
}

/* A JSON request the target makes itself: must succeed. */
static cJSON *must(const char *method, const char *path, const char *json)
{
    qvs_resp r;
    if (!call(method, path, json, strlen(json), "true", &r) ||
        r.http_status >= 300) {
        fprintf(stderr, "fuzz_http_body: %s %s failed: %d %s\n", method, path,
                r.http_status, r.error);
        __builtin_trap();
    }
    cJSON *res = r.result;
    r.result = NULL;
    resp_free(&r);
    return res;
}

/* ---- invariants -------------------------------------------------------- */

static bool status_sane(int s)
{
    return s == 200 || s == 202 || s == 400 || s == 403 || s == 404 ||
           s == 409 || s == 422;
}

/* Wraps the reply as send_resp() does and checks the envelope; consumes
 * resp->result. */
static void check_envelope(qvs_resp *r)
{
    /* The one 500 by design: POST /cluster/recover on a standalone node,
     * as Qdrant answers it (server/cluster.c). */
    bool standalone =
        r->http_status == 500 &&
        strcmp(r->error,
               "Service internal error: Qdrant is running in standalone "
               "mode") == 0;
    if ((!status_sane(r->http_status) && !standalone) || r->raw_body ||
        r->raw_file) {
        fprintf(stderr, "fuzz_http_body: status %d (%s)\n", r->http_status,
                r->error);
        __builtin_trap();
    }
    size_t len = 0;
    char *text;
    bool failed = r->http_status >= 400;
    if (failed) {
        if (!r->error[0])
            __builtin_trap(); /* a failure explains itself */
        text = qvs_envelope_error(r->error, 0.001, &len);
    } else if (r->accepted) {
        text = qvs_envelope_ok(NULL, "accepted", 0.001, &len);
    } else {
        cJSON *result = r->result ? r->result : cJSON_CreateNull();
        r->result = NULL;
        text = qvs_envelope_ok(result, "ok", 0.001, &len);
    }
    if (!text)
        __builtin_trap();
    cJSON *env = cJSON_ParseWithLength(text, len);
    if (!env || !cJSON_IsObject(env)) {
        fprintf(stderr, "fuzz_http_body: not JSON: %.*s\n", (int)len, text);
        __builtin_trap();
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(env, "status");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(env, "time");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(env, "result");
    bool ok = cJSON_IsNumber(t);
    if (failed)
        ok = ok && cJSON_IsObject(st) && !res &&
             cJSON_IsString(cJSON_GetObjectItemCaseSensitive(st, "error"));
    else if (r->accepted)
        ok = ok && cJSON_IsString(st) &&
             strcmp(st->valuestring, "accepted") == 0;
    else
        ok = ok && cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0 &&
             res;
    if (!ok) {
        fprintf(stderr, "fuzz_http_body: bad envelope: %.*s\n", (int)len, text);
        __builtin_trap();
    }
    cJSON_Delete(env);
    free(text);
}

/* Pages through a scroll with filter (NULL: all) and counts the points. */
static double scroll_len(const char *name, const char *filter)
{
    char path[64], body[512];
    snprintf(path, sizeof path, "/collections/%s/points/scroll", name);
    double n = 0;
    char offset[128] = "null";
    for (int page = 0; page < 1000; page++) {
        snprintf(body, sizeof body,
                 "{\"limit\":256,\"with_payload\":false,\"offset\":%s%s%s}",
                 offset, filter ? ",\"filter\":" : "", filter ? filter : "");
        cJSON *res = must("POST", path, body);
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(res, "points");
        const cJSON *next =
            cJSON_GetObjectItemCaseSensitive(res, "next_page_offset");
        n += cJSON_GetArraySize(pts);
        char *nx =
            next && !cJSON_IsNull(next) ? cJSON_PrintUnformatted(next) : NULL;
        cJSON_Delete(res);
        if (!nx)
            return n;
        snprintf(offset, sizeof offset, "%s", nx);
        free(nx);
    }
    __builtin_trap(); /* a scroll that never ends */
}

static double exact_count(const char *name, const char *filter)
{
    char path[64], body[512];
    snprintf(path, sizeof path, "/collections/%s/points/count", name);
    snprintf(body, sizeof body, "{\"exact\":true%s%s}",
             filter ? ",\"filter\":" : "", filter ? filter : "");
    cJSON *res = must("POST", path, body);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(res, "count");
    if (!cJSON_IsNumber(c))
        __builtin_trap();
    double n = c->valuedouble;
    cJSON_Delete(res);
    return n;
}

/* Count and scroll agree, with and without a filter on an indexed field.
 * Returns the number of points. */
static double check_consistent(const char *name)
{
    static const char f[] =
        "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Oslo\"}}]}";
    double n = exact_count(name, NULL);
    if (n != scroll_len(name, NULL) ||
        exact_count(name, f) != scroll_len(name, f)) {
        fprintf(stderr, "fuzz_http_body: count and scroll disagree on %s\n",
                name);
        __builtin_trap();
    }
    return n;
}

/* A named collection keeps each point's payload in its registry and a copy
 * in every vector collection that holds the point (catalog.h): every point
 * of a vector collection is in the registry with an equal payload. */
static void check_copies(const char *name)
{
    qvs_coll *c;
    if (!qvs_catalog_get(fz.cat, name, &c))
        return;
    for (size_t k = 0; c->named && k < c->n_vectors; k++) {
        qv_point_id ids[256], next;
        bool more = true, first = true;
        while (more) {
            size_t got = 0;
            if (qv_scroll(c->vectors[k].coll, first ? NULL : &next, NULL, 256,
                          ids, &got, &next, &more) != QV_OK)
                __builtin_trap();
            first = false;
            for (size_t i = 0; i < got; i++) {
                char *want = NULL, *copy = NULL;
                size_t len;
                if (qv_payload_get(c->points, &ids[i], NULL, &want, &len) !=
                        QV_OK ||
                    qv_payload_get(c->vectors[k].coll, &ids[i], NULL, &copy,
                                   &len) != QV_OK ||
                    strcmp(want, copy) != 0) {
                    fprintf(stderr,
                            "fuzz_http_body: %s: vector %s: payload copy "
                            "%s differs from the registry's %s\n",
                            name, c->vectors[k].name, copy ? copy : "(none)",
                            want ? want : "(none)");
                    __builtin_trap();
                }
                qv_free(want);
                qv_free(copy);
            }
        }
    }
    qvs_coll_release(fz.cat, c);
}

/* ---- state ------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *s, int flag,
                  struct FTW *ftw)
{
    (void)s, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void teardown(void)
{
    qvs_catalog_close(fz.cat);
    fz.cat = NULL;
    nftw(fz.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Snapshots coll and renames the file to s.snapshot, a name an input can
 * spell (the created name holds the time), so that a recover body can
 * reach the archive reader and the restore. */
static void snapshot_as_s(const char *coll)
{
    char path[128], from[512], to[512];
    snprintf(path, sizeof path, "/collections/%s/snapshots", coll);
    cJSON *res = must("POST", path, "");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(res, "name");
    if (!cJSON_IsString(name))
        __builtin_trap();
    snprintf(from, sizeof from, "%s/snapshots/%s/%s", fz.dir, coll,
             name->valuestring);
    snprintf(to, sizeof to, "%s/snapshots/%s/s.snapshot", fz.dir, coll);
    if (rename(from, to) != 0)
        __builtin_trap();
    cJSON_Delete(res);
}

/* A fresh catalog: "c" with named vectors and two payload indexes, "u"
 * with one unnamed vector, an alias, a few points in each and a snapshot
 * of each called s.snapshot. */
static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz.dir, sizeof fz.dir, "%s/fuzz_http_XXXXXX", base);
    char err[256];
    if (!mkdtemp(fz.dir) || !qvs_catalog_open(fz.dir, &fz.cat, err, sizeof err))
        __builtin_trap();
    cJSON_Delete(must("PUT", "/collections/c",
                      "{\"vectors\":{\"a\":{\"size\":4,\"distance\":"
                      "\"Cosine\"},\"b\":{\"size\":3,\"distance\":\"Dot\"}}}"));
    cJSON_Delete(must("PUT", "/collections/u",
                      "{\"vectors\":{\"size\":4,\"distance\":\"Euclid\"}}"));
    cJSON_Delete(must("PUT", "/collections/c/index",
                      "{\"field_name\":\"city\",\"field_schema\":"
                      "\"keyword\"}"));
    cJSON_Delete(must("PUT", "/collections/c/index",
                      "{\"field_name\":\"n\",\"field_schema\":\"integer\"}"));
    cJSON_Delete(must("PUT", "/collections/u/index",
                      "{\"field_name\":\"city\",\"field_schema\":"
                      "\"keyword\"}"));
    cJSON_Delete(must("POST", "/collections/aliases",
                      "{\"actions\":[{\"create_alias\":{\"collection_name\":"
                      "\"c\",\"alias_name\":\"al\"}}]}"));
    cJSON_Delete(must(
        "PUT", "/collections/c/points",
        "{\"points\":["
        "{\"id\":1,\"vector\":{\"a\":[1,0,0,0],\"b\":[1,2,3]},"
        "\"payload\":{\"city\":\"Oslo\",\"n\":1}},"
        "{\"id\":2,\"vector\":{\"a\":[0,1,0,0]},"
        "\"payload\":{\"city\":\"Bergen\",\"n\":2,\"tags\":[\"x\",\"y\"]}},"
        "{\"id\":\"5c56c793-69f3-4fbf-87e6-c4bf54c28c26\","
        "\"vector\":{\"b\":[0,0,1]},\"payload\":{\"city\":[\"Oslo\","
        "\"Rome\"],\"n\":3,\"geo\":{\"lon\":10.7,\"lat\":59.9}}},"
        "{\"id\":4,\"vector\":{\"a\":[0.5,0.5,0,0],\"b\":[-1,0,0]}},"
        "{\"id\":5,\"vector\":{}, \"payload\":{\"n\":5}}]}"));
    cJSON_Delete(must("PUT", "/collections/u/points",
                      "{\"points\":["
                      "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"city\":"
                      "\"Oslo\"}},"
                      "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":{\"city\":"
                      "\"Bergen\",\"n\":2}},"
                      "{\"id\":3,\"vector\":[0,0,1,1]}]}"));
    snapshot_as_s("c");
    snapshot_as_s("u");
    fz.runs = 0;
}

/* libFuzzer ends a timed run with exit(): leave no directory behind. */
static void at_exit(void)
{
    teardown();
    qvs_router_free(&fz.router);
}

/* Once per process: the router, a check that `routes` covers every route
 * with a JSON body, and the first catalog. */
static void init(void)
{
    if (!qvs_router_init(&fz.router))
        __builtin_trap();
    for (size_t i = 0; i < fz.router.n; i++) {
        const qvs_route *rt = fz.router.entries[i].route;
        if (strcmp(rt->method, "GET") == 0 ||
            strcmp(rt->method, "DELETE") == 0 ||
            (rt->flags & QVS_ROUTE_RAW_BODY))
            continue;
        char want[256];
        snprintf(want, sizeof want, "%s", rt->pattern);
        char *cap = strstr(want, "{name}");
        if (cap)
            memmove(cap + 2, cap + 6, strlen(cap + 6) + 1), cap[0] = '%',
                                                            cap[1] = 's';
        bool found = false;
        for (size_t k = 0; k < N_ROUTES && !found; k++)
            found = strcmp(routes[k].method, rt->method) == 0 &&
                    strcmp(routes[k].path, want) == 0;
        if (!found) {
            fprintf(stderr,
                    "fuzz_http_body: route %s %s takes a body but is not "
                    "fuzzed: add it to `routes`\n",
                    rt->method, rt->pattern);
            __builtin_trap();
        }
    }
    fz.verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
    const char *every = getenv("FUZZ_HTTP_RESET_EVERY");
    fz.reset_every =
        every && atoi(every) > 0 ? (unsigned)atoi(every) : RESET_EVERY;
    setup();
    atexit(at_exit);
    fz.ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz.ready)
        init();
    if (size < 2)
        return 0;
    const fz_route *rt = &routes[data[0] % N_ROUTES];
    const char *name = names[data[1] & 3];
    char path[128];
    snprintf(path, sizeof path, rt->path, name);
    qvs_resp resp;
    if (!call(rt->method, path, (const char *)data + 2, size - 2,
              waits[(data[1] >> 2) & 3], &resp))
        __builtin_trap();
    if (fz.verbose)
        fprintf(stderr, "%s %s -> %d %s\n", rt->method, path, resp.http_status,
                resp.error);
    bool grew = resp.http_status < 300 &&
                (strstr(rt->path, "snapshots") ||
                 (data[1] & 3) == 3); /* "zz" or a snapshot now exists */
    check_envelope(&resp);
    resp_free(&resp);
    double n = 0;
    bool have_c = false, have_u = false;
    qvs_coll *c;
    /* A body may have deleted or replaced "c" or "u" (PUT over an alias
     * target, recover): check what is there. */
    if (qvs_catalog_get(fz.cat, "c", &c)) {
        qvs_coll_release(fz.cat, c);
        have_c = true;
        n += check_consistent("c");
        check_copies("c");
    }
    if (qvs_catalog_get(fz.cat, "u", &c)) {
        qvs_coll_release(fz.cat, c);
        have_u = true;
        n += check_consistent("u");
    }
    if (++fz.runs >= fz.reset_every || grew || n > MAX_POINTS || !have_c ||
        !have_u) {
        teardown();
        setup();
    }
    return 0;
}
