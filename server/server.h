/*
 * server.h -- the internal header of the HTTP server: configuration, the
 * router, authentication, metrics, envelopes, the server object, and the
 * catalog's operations that only the collection endpoints use.
 *
 * The contracts shared with the endpoint files are api.h (requests,
 * replies, routes) and catalog.h (collections); this header is what the
 * HTTP layer's own files (http.c, router.c, auth.c, metrics.c, config.c,
 * envelope.c, serve.c) and the service and collection endpoints share.
 *
 * Threads.  The connection loops (http.c) read, parse and reply; route
 * handlers other than the inline ones run in the server's worker threads
 * while their connection waits (http.c); a handler may run
 * in either kind of thread and must not care.  Everything a request touches is
 * either its own (the qvs_conn), immutable after start (config, router), atomic
 * (metrics, counters) or locked inside the catalog.  There is no global mutable
 * state: the signal handling of `quiver serve` uses sigwait in the main thread,
 * not a handler.
 */
#ifndef QUIVER_SERVER_SERVER_H
#define QUIVER_SERVER_SERVER_H

#include "api.h"
#include "catalog.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration (config.c) ------------------------------------------ */

#define QVS_VERSION           "1.19.0" /* the Qdrant version we answer as */
#define QVS_DEFAULT_PORT      6333
#define QVS_DEFAULT_GRPC_PORT 6334
#define QVS_GRPC_PORT_ANY     (-1) /* grpc_port: any free port (tests) */
#define QVS_DEFAULT_STORAGE   "./storage"
#define QVS_DEFAULT_MAX_MB    32u /* Qdrant's max_request_size_mb */
#define QVS_MAX_MAX_MB        4096u
#define QVS_MAX_THREADS       256u
#define QVS_MAX_HEADER_BYTES  16384u /* all request headers together */
#define QVS_MAX_URI_BYTES     8192u  /* the request target (414 beyond) */
#define QVS_MAX_HEADER_COUNT  100u   /* header fields (431 beyond) */
#define QVS_CONNECTION_LIMIT  1024u  /* default --max-connections */
#define QVS_PER_IP_LIMIT      256u   /* default --max-connections-per-ip */
#define QVS_HEADER_TIMEOUT_S  10u    /* default --header-timeout-sec */
#define QVS_BODY_MIN_RATE     1024u  /* default --body-min-rate, bytes/s */
#define QVS_MAX_CONNECTIONS   65536u /* the largest --max-connections */
#define QVS_CONN_TIMEOUT_S    60u    /* a reply the client does not read */
#define QVS_QUEUE_PER_WORKER  64u    /* reads, and writes, queued per worker */
#define QVS_DRAIN_TIMEOUT_MS  30000u /* graceful shutdown waits this long */

/* --snapshot flags at most */
enum { QVS_MAX_STARTUP_SNAPSHOTS = 64 };

/* Strings are borrowed (argv, environment, or the caller's), never freed. */
typedef struct qvs_config {
    const char *host;    /* NULL: 127.0.0.1 without API keys, else 0.0.0.0 */
    unsigned port;       /* 0: any free port (tests) */
    const char *storage; /* directory, created if missing */
    const char *api_key; /* NULL or "": no read-write key */
    const char *read_only_api_key; /* NULL or "": no read-only key */
    unsigned threads;              /* HTTP worker threads, >= 1 */
    uint64_t max_request_bytes;    /* body limit */
    unsigned header_timeout_s;     /* a request head must arrive in this */
    uint64_t body_min_rate;        /* bytes/s a body must keep up, >= 1 */
    unsigned max_connections;      /* open connections in total */
    unsigned max_connections_per_ip;
    /* Hosts snapshot recovery may download http(s):// locations from:
     * comma-separated names; NULL or "" loopback only (localhost,
     * 127.0.0.1, ::1); "*" any host. */
    const char *snapshot_url_hosts;
    /* gRPC (server/grpc/): the port, 0 off (qvs_config_init's default),
     * QVS_GRPC_PORT_ANY any free one; grpc_port_default: the port is the
     * program's default, so failing to bind it only warns. */
    int grpc_port;
    bool grpc_port_default;
    /* Restored before the server listens (Qdrant's start-up flags):
     * --storage-snapshot PATH, a whole-storage snapshot (POST /snapshots);
     * --snapshot PATH:NAME (repeatable), collection snapshots; with
     * --force-snapshot existing collections are replaced, else kept. */
    const char *storage_snapshot;
    const char *collection_snapshots[QVS_MAX_STARTUP_SNAPSHOTS];
    unsigned n_collection_snapshots;
    bool force_snapshot;
} qvs_config;

/* Defaults: port 6333, ./storage, one thread per CPU, 32 MiB, the
 * connection limits and deadlines above. */
void qvs_config_init(qvs_config *cfg);

/* Applies Qdrant's environment variables (QDRANT__SERVICE__HOST, ...),
 * then the command-line flags, which win.  argv[0] is the command name.
 * Returns 0 to run, 1 when --help was printed (exit 0), -1 on a usage
 * error (message printed to stderr, exit 2). */
int qvs_config_parse(qvs_config *cfg, int argc, char **argv);

/* True when a read-write or read-only key is configured. */
bool qvs_config_has_auth(const qvs_config *cfg);

/* The listen address the config resolves to. */
const char *qvs_config_host(const qvs_config *cfg);

/* ---- router (router.c) -------------------------------------------------- */

#define QVS_MAX_SEGMENTS 16

typedef struct qvs_router_entry {
    const qvs_route *route;
    size_t n_segs;
    const char *segs[QVS_MAX_SEGMENTS]; /* into pattern_copy */
    bool capture[QVS_MAX_SEGMENTS];
    char *pattern_copy;
} qvs_router_entry;

typedef struct qvs_router {
    qvs_router_entry *entries;
    size_t n;
} qvs_router;

enum {
    QVS_MATCH_OK = 0,
    QVS_MATCH_NO_PATH = 1,
    QVS_MATCH_NO_METHOD = 2,
    QVS_MATCH_BAD_PATH = 3, /* a segment decodes to NUL */
    QVS_MATCH_NOT_UTF8 = 4  /* a segment decodes to bytes that are not
                               UTF-8 */
};

/* Builds the router from every route table (routes.h).  Returns false on
 * allocation failure or a malformed pattern (a programming error). */
bool qvs_router_init(qvs_router *r);
void qvs_router_free(qvs_router *r);

/* Matches method and the decoded path segments.  On QVS_MATCH_OK, *index
 * is the entry and params[] point into segs.  Literal segments beat
 * captures; HEAD falls back to GET. */
/* The route's pattern as Qdrant names it in telemetry and metrics
 * endpoints: the collection parameter is {collection_name} (our tables
 * write {name}).  Writes into buf (cap bytes) and returns it. */
const char *qvs_route_public_pattern(const qvs_route *route, char *buf,
                                     size_t cap);

int qvs_router_match(const qvs_router *r, const char *method, char **segs,
                     size_t n_segs, size_t *index, const char **params,
                     size_t *n_params);

enum {
    QVS_PATH_OK = 0,
    QVS_PATH_TOO_LONG = 1,
    QVS_PATH_NUL = 2,
    QVS_PATH_NOT_UTF8 = 3
};

/* Splits a raw request path (percent-encoded, no query) into decoded
 * segments, in place: empty segments vanish (so "//" and a trailing "/"
 * do not matter).  Returns QVS_PATH_OK, QVS_PATH_TOO_LONG (more than
 * QVS_MAX_SEGMENTS segments) or QVS_PATH_NUL (a segment decodes to a NUL
 * byte, which no name may hold) or QVS_PATH_NOT_UTF8 (a segment decodes
 * to bytes that are not UTF-8: a name echoed in a reply would make it
 * invalid JSON). */
int qvs_path_split(char *path, char **segs, size_t *n_segs);

/* Percent-decodes s in place ("%41" -> "A"; a '%' not followed by two
 * hex digits stays as it is); also turns '+' into ' ' when plus is true
 * (query strings).  Returns the decoded length (s may hold NUL bytes
 * then, from "%00"). */
size_t qvs_unescape(char *s, bool plus);

/* The file part of a multipart/form-data body (multipart.c): the first
 * part with a filename, or the field `snapshot`; *data points into body.
 * False if content_type has no boundary or no such part is there. */
bool qvs_multipart_file(const char *content_type, const char *body, size_t len,
                        const char **data, size_t *data_len);

/* ---- authentication (auth.c) -------------------------------------------- */

typedef enum qvs_auth {
    QVS_AUTH_OK = 0,
    QVS_AUTH_MISSING,  /* 401: no key given */
    QVS_AUTH_INVALID,  /* 401: a key that is neither configured key */
    QVS_AUTH_READ_ONLY /* 403: the read-only key on a write route */
} qvs_auth;

/* Decides a request from its api-key and Authorization headers (either may
 * be NULL).  open: the route needs no key; write: the route changes data.
 * Keys are compared in constant time and never logged. */
qvs_auth qvs_auth_check(const qvs_config *cfg, const char *api_key_header,
                        const char *authorization, bool open, bool write);

/* ---- metrics (metrics.c) ------------------------------------------------ */

#define QVS_N_STATUS  16 /* status slots, see metrics.c */
#define QVS_N_BUCKETS 12 /* latency buckets */

typedef struct qvs_route_stats {
    atomic_uint_least64_t by_status[QVS_N_STATUS];
    atomic_uint_least64_t buckets[QVS_N_BUCKETS + 1]; /* last: +Inf */
    atomic_uint_least64_t sum_ns;
    /* For /telemetry's OperationDurationStatistics: the time spent per
     * status slot and when the route last answered (Unix ms). */
    atomic_uint_least64_t sum_ns_by_status[QVS_N_STATUS];
    atomic_uint_least64_t last_ms;
} qvs_route_stats;

typedef struct qvs_metrics {
    size_t n;               /* routes + 1; the last slot: no route matched */
    qvs_route_stats *stats; /* [n] */
} qvs_metrics;

bool qvs_metrics_init(qvs_metrics *m, size_t n_routes);
void qvs_metrics_free(qvs_metrics *m);

/* Counts one reply of route slot (n-1: unmatched) with status after
 * seconds.  Lock-free. */
void qvs_metrics_record(qvs_metrics *m, size_t slot, int status,
                        double seconds);

/* The HTTP status counted in status slot s (0 for the "other" slot). */
int qvs_metrics_status_code(size_t s);

struct qvs_server;

/* The Prometheus text exposition of the server's metrics (malloc'd). */
char *qvs_metrics_render(struct qvs_server *srv, size_t *len);

/* ---- envelopes and JSON (envelope.c) ------------------------------------ */

/* {"result":result,"status":"ok","time":t}; takes ownership of result
 * (NULL: "result" omitted, used for "accepted").  malloc'd text. */
char *qvs_envelope_ok(cJSON *result, const char *status, double time,
                      size_t *len);

/* {"status":{"error":msg},"time":t}.  Request-decoding errors ("Format
 * error in ...", "Validation error in ...") carry time 0.0, as Qdrant's
 * extractors answer before any handler runs. */
char *qvs_envelope_error(const char *msg, double time, size_t *len);

/* Parses a JSON body; on failure returns NULL and writes a serde-like
 * "Format error in JSON body: ... at line L column C" message to err. */
cJSON *qvs_json_parse(const char *text, size_t len, char *err, size_t cap);

/* ---- the server (http.c) ------------------------------------------------ */

typedef struct qvs_server qvs_server;

/* Opens the catalog in cfg->storage and starts listening.  cfg is copied
 * (its strings stay borrowed).  On failure returns false with a message in
 * err. */
bool qvs_server_start(const qvs_config *cfg, qvs_server **out, char *err,
                      size_t cap);

/* Removes what a server killed in the middle of a snapshot operation left
 * in storage (snapshots.c): temporary directories STORAGE/snapshots/.tmp-*
 * holding extracted members or an upload, half-written archives
 * "*.snapshot.tmp-*", "catalog.json.tmp-*" and checkpoints
 * "collections/<name>/snapshot.qvs.tmp-*".  Only names of that exact
 * form are touched, never a collection.  Runs only while it holds the
 * store's LOCK, so it never races a live server on the same storage (and
 * does nothing if one runs).  Prints one line per removal to stderr;
 * returns the number of entries removed. */
size_t qvs_snapshots_cleanup(const char *storage);

/* Cuts the storage directory (as configured, made absolute, and its real
 * path) out of the paths an error message carries, in place, leaving
 * names relative to it (snapshots.c).  http.c applies it to every error
 * reply: a client learns no absolute storage path. */
void qvs_scrub_storage_paths(const char *storage, char *msg);

/* The bound TCP port (useful with port 0). */
unsigned qvs_server_port(const qvs_server *srv);

/* Connections the server holds open now (not yet closed by a deadline or
 * an eviction), and how many it ever closed for a missed deadline and to
 * make room for a newer one (guard.c). */
void qvs_server_conn_stats(qvs_server *srv, size_t *live, size_t *timeouts,
                           size_t *evictions);

/* Requests waiting in the worker pool's queues, and being run by a worker
 * now.  For tests, with qvs_server_hold_workers: while held, the workers
 * take requests but wait before running each, so a test can fill the pool
 * deterministically; qvs_server_hold_writes holds only the writes
 * (QVS_ROUTE_WRITE routes), which take at most half the workers. */
void qvs_server_queue_stats(qvs_server *srv, size_t *queued, size_t *running);
void qvs_server_hold_workers(qvs_server *srv, bool hold);
void qvs_server_hold_writes(qvs_server *srv, bool hold);

/* The bound gRPC port, 0 when gRPC is off. */
unsigned qvs_server_grpc_port(const qvs_server *srv);

/* Turns gRPC's direct protobuf path of dense searches on (the default) or
 * off, when every call takes the JSON route (tests compare the two; the
 * server turns it off at start when QUIVER_GRPC_FAST=0, for measurements).
 * Thread-safe (a relaxed atomic of this server). */
void qvs_server_set_grpc_direct(qvs_server *srv, bool on);
bool qvs_server_grpc_direct(const qvs_server *srv);

/* gRPC's lines of /metrics (malloc'd), or NULL when gRPC is off. */
char *qvs_server_grpc_metrics(qvs_server *srv);

/* ---- the worker pool (http.c), shared by REST requests and gRPC calls --
 * A job is queued with qvs_server_submit; a worker calls run, then done,
 * after which the job is its owner's again (done may free it).  Writes
 * (write = true) wait in their own queue and take at most half the
 * workers, as REST writes do. */
typedef struct qvs_job {
    void (*run)(struct qvs_job *job);
    void (*done)(struct qvs_job *job);
    bool write;
    uint64_t seq; /* set by the pool */
} qvs_job;

/* False when the queue is full or the pool is stopping: the caller
 * answers "unavailable" (503 / UNAVAILABLE) at once. */
bool qvs_server_submit(qvs_server *srv, qvs_job *job);

/* The drain notice, for a listener that need not read its sockets while
 * every worker is busy and reads wait in the queue (grpc_server.c: a new
 * call read then would only wait behind them).  qvs_server_drain_arm
 * returns true when reads are queued (and the pool is not stopping) and
 * arms the notice: the worker that takes the last
 * queued read calls fn(arg) once, under the pool's lock (fn must be
 * short and take no lock of the pool: the gRPC listener rings its
 * eventfd).  False, and nothing armed, otherwise.  Setting fn to NULL
 * (before arg goes away) returns once no worker is inside fn.
 * Thread-safe. */
void qvs_server_set_drain_notice(qvs_server *srv, void (*fn)(void *arg),
                                 void *arg);
bool qvs_server_drain_arm(qvs_server *srv);

/* The configuration the server runs with, and its connection guard
 * (guard.h), for the gRPC listener. */
const qvs_config *qvs_server_config(const qvs_server *srv);
struct qvs_guard *qvs_server_guard(qvs_server *srv);

/* Graceful stop: stops accepting connections, lets in-flight requests
 * finish (up to QVS_DRAIN_TIMEOUT_MS), stops the daemon, then closes the
 * catalog and its store (a durable store checkpoints).  NULL is ignored. */
void qvs_server_stop(qvs_server *srv);

/* What the service endpoints read (service.c, metrics.c). */
qvs_server *qvs_req_server(const qvs_req *req);
qvs_catalog *qvs_server_catalog(qvs_server *srv);
const qvs_router *qvs_server_router(const qvs_server *srv);
qvs_metrics *qvs_server_metrics(qvs_server *srv);
const char *qvs_server_id(const qvs_server *srv);
const char *qvs_server_started(const qvs_server *srv); /* RFC 3339 */

/* The build's git commit, 40 lowercase hex digits (zeros if unknown). */
const char *qvs_commit(void);

/* ---- `quiver serve` (serve.c) ------------------------------------------- */

/* The whole program: parses flags and environment, serves until SIGTERM
 * or SIGINT, shuts down gracefully.  Returns the exit code. */
int qvs_serve_main(int argc, char **argv);

/* ---- catalog operations for the collection endpoints (catalog*.c) ------- */

/* Opens the catalog stored in dir (created if missing): reads
 * dir/catalog.json, opens the library store and reattaches every
 * collection.  Returns false with a message in err. */
bool qvs_catalog_open(const char *dir, qvs_catalog **out, char *err,
                      size_t cap);

/* Releases every collection and closes the store.  NULL is ignored. */
void qvs_catalog_close(qvs_catalog *cat);

/* Qdrant's rules for a new collection or alias name: NULL if valid, else
 * the reason ("collection name cannot contain \"/\" char"). */
const char *qvs_name_invalid(const char *name);

/* A control character in a collection name (Qdrant 1.19 refuses one in
 * any collection path with 422, tests/openapi/test_collection_exists.py):
 * NULL if there is none, else the reason, written into buf (cap bytes). */
const char *qvs_name_control(const char *name, char *buf, size_t cap);

/* Creates collection name from a CreateCollection body.  Fails (into r)
 * with 409 if it exists, 400 if an alias has that name, 400/422 for a bad
 * body, 500 if storage fails. */
bool qvs_catalog_create(qvs_catalog *cat, const char *name, const cJSON *body,
                        qvs_resp *r);

/* Applies an UpdateCollection body (name or alias).  404 if missing. */
bool qvs_catalog_update(qvs_catalog *cat, const char *name, const cJSON *body,
                        qvs_resp *r);

/* Deletes collection name (not an alias, as Qdrant) and its aliases.
 * *deleted is false when there was none.  Fails only on storage errors. */
bool qvs_catalog_delete(qvs_catalog *cat, const char *name, bool *deleted,
                        qvs_resp *r);

/* Applies {"actions":[...]} alias operations, all or nothing. */
bool qvs_catalog_update_aliases(qvs_catalog *cat, const cJSON *body,
                                qvs_resp *r);

/* {"aliases":[{"alias_name","collection_name"}...]} for every alias, or
 * only those of collection (which must exist: 404). NULL on failure. */
cJSON *qvs_catalog_aliases(qvs_catalog *cat, const char *collection,
                           qvs_resp *r);

/* {"collections":[{"name":...}...]}, sorted by name.  NULL on ENOMEM. */
cJSON *qvs_catalog_list(qvs_catalog *cat);

size_t qvs_catalog_count(qvs_catalog *cat);

/* The storage directory the catalog was opened on. */
const char *qvs_catalog_dir(const qvs_catalog *cat);

/* The snapshot URL host allow-list (qvs_config.snapshot_url_hosts),
 * copied; NULL until set, meaning loopback only. */
bool qvs_catalog_set_url_hosts(qvs_catalog *cat, const char *hosts);
const char *qvs_catalog_url_hosts(const qvs_catalog *cat);

/* Replaces collection name (or creates it) with tmpl (from qvs_coll_parse,
 * taken over whatever happens), filled with the points of members:
 * members[0] for the points collection, members[1 + i] for named vector i
 * (n_members = 1 or 1 + n_vectors).  New library collections are made
 * and filled first; catalog.json then switches to them in one atomic
 * write and the old ones are dropped, so a failure or crash leaves the
 * old collection whole.  Aliases keep pointing at name. */
bool qvs_catalog_restore(qvs_catalog *cat, const char *name, qvs_coll *tmpl,
                         qv_collection *const *members, size_t n_members,
                         qvs_resp *r);

/* Records a payload index (field_schema as given) or drops one. */
bool qvs_catalog_index_create(qvs_catalog *cat, qvs_coll *c, const char *field,
                              const cJSON *schema, qvs_resp *r);
bool qvs_catalog_index_drop(qvs_catalog *cat, qvs_coll *c, const char *field,
                            qvs_resp *r);

/* Copies of a collection's config and payload schema, taken under the
 * catalog's lock (PATCH may replace them meanwhile). */
cJSON *qvs_coll_config_dup(qvs_catalog *cat, qvs_coll *c);
cJSON *qvs_coll_schema_dup(qvs_catalog *cat, qvs_coll *c);

/* Points and indexed vectors as CollectionInfo reports them. */
uint64_t qvs_coll_points(const qvs_coll *c);
uint64_t qvs_coll_indexed_vectors(const qvs_coll *c);
size_t qvs_coll_segments(const qvs_coll *c);

/* Calls fn for every collection, each held by a reference for the call;
 * the catalog's lock is not held while fn runs. */
void qvs_catalog_each(qvs_catalog *cat, void (*fn)(void *arg, qvs_coll *c),
                      void *arg);

typedef struct qvs_alias {
    char *alias;
    char *coll;
} qvs_alias;

/* ---- catalog.json (catalog_file.c) -------------------------------------- */

/* What catalog.json holds.  Collections come without library handles
 * (catalog.c attaches them); refs is 1. */
typedef struct qvs_catalog_state {
    uint64_t next_id;
    qvs_coll **colls; /* sorted by name */
    size_t n;
    qvs_alias *aliases; /* sorted by alias */
    size_t n_aliases;
} qvs_catalog_state;

/* Writes dir/catalog.json atomically (temporary file, fsync, rename,
 * directory fsync).  When override is not NULL, its config and payload
 * schema are written as override_config / override_schema (the change
 * being committed).  Returns false with a message in err. */
bool qvs_catalog_save(const char *dir, const qvs_catalog_state *st,
                      const qvs_coll *override, const cJSON *override_config,
                      const cJSON *override_schema, char *err, size_t cap);

/* Reads and checks dir/catalog.json into st (zeroed first).  *found is
 * false, with an empty state, when the file does not exist.  A damaged or
 * inconsistent file is refused with a message naming the bad entry. */
bool qvs_catalog_load(const char *dir, qvs_catalog_state *st, bool *found,
                      char *err, size_t cap);

/* One collection as catalog.json records it (config and schema as
 * given), for snapshot archives; NULL on ENOMEM.  qvs_coll_parse checks
 * such an entry as qvs_catalog_load does and returns a collection without
 * library handles (refs 1), or NULL with a message in err. */
cJSON *qvs_coll_json(const qvs_coll *c, const cJSON *config,
                     const cJSON *schema);
qvs_coll *qvs_coll_parse(const cJSON *j, char *err, size_t cap);

/* Frees a collection (the library handles it holds included). */
void qvs_coll_free(qvs_coll *c);

/* Frees the alias array. */
void qvs_aliases_free(qvs_alias *a, size_t n);

/* True if name can name a library collection in the store. */
bool qvs_lib_name_valid(const char *name);

/* ---- collection configs (catalog_config.c) ------------------------------ */

typedef struct qvs_vspec {
    char *name; /* "" for the unnamed vector */
    uint32_t size;
    qv_metric metric;
    qv_collection_config lib; /* what the library collection is made with */
} qvs_vspec;

typedef struct qvs_spec {
    bool named;
    size_t n;
    qvs_vspec *v;  /* sorted by name */
    cJSON *config; /* the CollectionInfo "config" object */
} qvs_spec;

/* Validates a CreateCollection body into spec (Qdrant's defaults filled
 * in).  Fails into r with Qdrant's 400/422 messages. */
bool qvs_spec_from_create(const cJSON *body, qvs_spec *spec, qvs_resp *r);
void qvs_spec_free(qvs_spec *spec);

/* The config that results from applying an UpdateCollection body to
 * config (not modified).  Fails into r. */
cJSON *qvs_config_patch(const cJSON *config, const qvs_coll *c,
                        const cJSON *body, qvs_resp *r);

/* The VectorParams of dense vector name within vectors, a config's
 * params.vectors: when vectors is one VectorParams (its "size" is a
 * number: the collection was created with an unnamed vector, alone or
 * beside sparse vectors) it is the params of "" and of no other name;
 * otherwise (a map of named params, which may name "") its member name.
 * NULL when there is none.  (Defined in quantization.c.) */
const cJSON *qvs_config_vparams(const cJSON *vectors, const char *name);

/* The library config of the registry collection of named vectors: one
 * unused float, never indexed. */
void qvs_registry_config(qv_collection_config *cfg);

/* ---- named-vector management (vector_names.c, catalog.c) -------------- */

/* The UpdateResult of a collection operation (?wait= gives its status) and
 * the check of its ?timeout= (Qdrant's WaitTimeout: 1 or more), shared by
 * the collection endpoints (collections.c). */
cJSON *qvs_update_result(const qvs_req *req);
bool qvs_timeout_ok(const qvs_req *req, qvs_resp *r);

/* How a requested vector compares with config's vector of that name:
 * 0 none, 1 one with the same schema (creating it again is a no-op), -1
 * a clash (failed into r with Qdrant's 400).  spec->config holds the
 * request's echo (params.vectors or params.sparse_vectors). */
int qvs_vector_name_clash(const cJSON *config, const char *vname,
                          const qvs_spec *spec, qvs_resp *r);

/* config with spec's one vector added (or vname removed when spec is
 * NULL) in params.vectors / params.sparse_vectors; NULL on OOM. */
cJSON *qvs_vector_config_change(const cJSON *config, const char *vname,
                                const qvs_spec *spec);

/* Adds spec's one vector (named vname) to collection name, or removes
 * vname (spec NULL; an unknown name is a no-op, as in Qdrant): a new
 * library collection is created (or dropped after catalog.json no longer
 * names it) and the collection is replaced by a copy with the new vector
 * set, so requests in flight keep the one they hold.  Thread-safe. */
bool qvs_catalog_vector_change(qvs_catalog *cat, const char *name,
                               const char *vname, const qvs_spec *spec,
                               qvs_resp *r);

#endif /* QUIVER_SERVER_SERVER_H */
