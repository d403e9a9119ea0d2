/*
 * http.c -- the HTTP layer: connection loops over epoll, request
 * dispatch, the worker pool, replies, graceful shutdown.
 *
 * Threads.  QVS_LOOPS loop threads own every client connection: each has
 * its own epoll set holding the shared listening socket (EPOLLEXCLUSIVE,
 * so one loop wakes per new connection), the connections it accepted, and
 * an eventfd the workers use to hand back finished requests.  Sockets are
 * non-blocking and level-triggered.  A loop reads, feeds the bytes to the
 * connection's qvs_wire (wire.c: http-parser plus our limits and framing
 * rules), routes and authorises each request, and writes replies; route
 * handlers run in the worker pool (cfg.threads workers), except the
 * QVS_ROUTE_INLINE ones (probes, /metrics, the dashboard's files), which
 * take no lock and run in the loop.  A connection belongs to exactly one
 * thread at a time: its loop, or -- between enqueue and the hand-back
 * through the loop's `done` list (under `dlock`) -- the worker running its
 * request, while the loop keeps it out of its epoll set.
 *
 * A connection's states:
 *   READ    reading a request (head, then body); pipelined bytes wait in
 *           `in` until the reply to the request before them is out;
 *   WORK    its request is queued or running in the pool;
 *   WRITE   a reply (head and body, or a file by sendfile) is going out;
 *   LINGER  a reply that closes the connection is out and the write side
 *           shut down (so the client reads end-of-file at once); what the
 *           client still sends is read and dropped for up to
 *           QVS_LINGER_MS, so the close does not reset the connection
 *           before the client has read the reply.
 *
 * A request's life:
 *   1. head (QVS_WIRE_HEAD): the route matched, authorisation decided from
 *      the matched route's flags, CORS preflight, 404/405, and a
 *      Content-Length over the body limit (413) -- all before a byte of
 *      the body is read.  A refusal of a request with a body is answered at
 *      once and closes the connection (the body is never read); one
 *      without a body keeps it.  "Expect: 100-continue" is answered when
 *      the body is wanted;
 *   2. body: kept by the wire up to the limit; a chunked body that grows
 *      past it is answered 413 at once;
 *   3. done: an inline route runs here; any other is queued for the pool
 *      (503 when its queue is full) and its reply sent when the worker
 *      hands it back.
 * Every malformed request (QVS_WIRE_ERROR: a bad request line,
 * Content-Length or chunk, a head over its limits, ambiguous framing,
 * an unknown transfer coding) is answered with Qdrant's JSON error
 * envelope and the connection closed: nothing after it on the wire runs.
 * Every reply leaves through queue_reply, which adds the CORS headers and
 * records the metrics.
 *
 * Slow and numerous clients are the guard's (guard.c): every socket is
 * registered when accepted, the loops report its phase, and the guard
 * enforces the head deadline, the minimum body rate and the per-address
 * and total limits by shutting sockets down; the loop then reads end of
 * file and closes.  A client that does not read its reply is closed after
 * QVS_CONN_TIMEOUT_S without progress.
 *
 * Shutdown (qvs_server_stop): the listening socket is shut down; sockets
 * waiting for a request are closed (the guard); requests already started
 * run to completion (the `active` counter, up to QVS_DRAIN_TIMEOUT_MS),
 * replies then say "Connection: close"; the workers run what is still
 * queued and stop; the loops stop and close what is left; the catalog
 * closes its store last, which checkpoints a durable one.
 */
#include "grpc/grpc.h"
#include "guard.h"
#include "server.h"
#include "snapshots.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QVS_LOOPS     2    /* connection loop threads */
#define QVS_LINGER_MS 2000 /* reading what follows a closing reply */
#define READ_CHUNK    65536
#define TICK_MS       250 /* the loops' scan for write and linger deadlines */

/* One of the worker pool's bounded FIFO queues (a ring). */
typedef struct qvs_queue {
    qvs_job **ring; /* [cap] */
    size_t cap, head, len;
} qvs_queue;

enum { QUEUE_READ, QUEUE_WRITE };

enum { C_READ, C_WORK, C_WRITE, C_LINGER };

typedef struct qvs_loop {
    struct qvs_server *srv;
    pthread_t thread;
    bool started;
    int ep;                 /* epoll set */
    int wake;               /* eventfd: done requests, stop */
    struct qvs_conn *conns; /* every connection it owns (loop thread only) */
    pthread_mutex_t dlock;  /* protects done and stop */
    struct qvs_conn *done;  /* handed back by workers */
    bool stop;
    bool listening;          /* the listener is in ep (loop thread only) */
    int64_t accept_retry_ns; /* after EMFILE: when to listen again */
} qvs_loop;

struct qvs_server {
    qvs_config cfg;
    int listen_fd;
    qvs_loop loops[QVS_LOOPS];
    qvs_catalog *catalog;
    qvs_router router;
    qvs_metrics metrics;
    qvs_guard *guard; /* deadlines and connection limits */
    /* The worker pool: `qlock` protects the queues, `qseq`,
     * `writes_running` and `qstop`. */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    qvs_queue queue[2];      /* QUEUE_READ, QUEUE_WRITE */
    uint64_t qseq;           /* arrival number of the next request */
    unsigned write_cap;      /* workers that may run writes at once */
    unsigned writes_running; /* workers running a write now */
    bool qstop;
    /* The drain notice (qvs_server_drain_arm), under qlock too. */
    void (*drain_fn)(void *arg);
    void *drain_arg;
    bool drain_armed;
    pthread_t *workers;
    unsigned n_workers;      /* started */
    atomic_bool hold;        /* tests: workers wait before each request */
    atomic_bool hold_writes; /* tests: ... before each write */
    atomic_size_t in_hand;   /* requests workers took and still run */
    atomic_size_t active;    /* requests between head and reply sent */
    atomic_bool stopping;    /* replies close their connections */
    unsigned port;
    char id[37];                 /* telemetry id, random per process */
    char started[48];            /* RFC 3339 start time */
    struct qvs_grpc *grpc;       /* the gRPC listener (server/grpc/), or NULL */
    atomic_bool grpc_direct_off; /* gRPC's direct path off: every call takes
                                    the JSON route (tests, measurements) */
};

typedef struct qvs_conn {
    qvs_job job; /* its place in the worker pool's queues */
    qvs_server *srv;
    qvs_loop *loop;
    struct qvs_conn *prev, *next; /* the loop's list */
    struct qvs_conn *next_done;   /* the loop's done list */
    int fd;
    qvs_sock *sock;  /* the guard's record of the socket */
    int state;       /* C_* */
    unsigned events; /* what ep watches now (0: not in ep) */
    qvs_wire wire;
    char *in; /* bytes read and not yet fed to the wire */
    size_t in_len, in_cap;
    char *out; /* reply bytes to send */
    size_t out_len, out_off, out_cap;
    int file_fd; /* a file reply's body, or -1 */
    off_t file_off;
    uint64_t file_left;
    bool close_after;    /* the reply closes the connection */
    int64_t deadline_ns; /* WRITE: progress deadline; LINGER: the end */
    bool in_request;     /* counted in srv->active */
    /* the request being served; reset by next_request */
    struct timespec t0;
    const char *method;
    size_t route; /* router entry, or SIZE_MAX */
    char *path;   /* the decoded segments point into this copy */
    char *segs[QVS_MAX_SEGMENTS];
    size_t n_segs;
    const char *params[QVS_MAX_PARAMS];
    size_t n_params;
    char *query; /* decoded query pairs: key\0value\0... */
    size_t query_len;
    int early;  /* a reply decided from the head (EARLY_*) */
    char *body; /* the request body (the wire's, or the multipart file) */
    size_t len;
    char *own_body; /* a body this conn allocated */
    bool ran;       /* the handler ran: resp and t hold its reply */
    qvs_resp resp;
    double t;
} qvs_conn;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *header(const qvs_conn *c, const char *name)
{
    return qvs_wire_header(&c->wire, name);
}

/* ---- replies -------------------------------------------------------------
 * A reply is built whole into c->out (head and body; a file's body is sent
 * from its descriptor after the head) and written by the loop. */

static bool out_add(qvs_conn *c, const void *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 1024;
        while (cap < c->out_len + n)
            cap *= 2;
        char *o = realloc(c->out, cap);
        if (!o)
            return false;
        c->out = o;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return true;
}

static bool out_fmt(qvs_conn *c, const char *name, const char *value)
{
    return out_add(c, name, strlen(name)) && out_add(c, ": ", 2) &&
           out_add(c, value, strlen(value)) && out_add(c, "\r\n", 2);
}

static const char *reason(int status)
{
    const char *r = http_status_str((enum http_status)status);
    return r && strcmp(r, "<unknown>") != 0 ? r : "Unknown";
}

typedef struct reply {
    int status;
    const char *body;        /* borrowed */
    size_t len;              /* body bytes (or the file's size) */
    const char *type;        /* Content-Type, or NULL */
    const char *(*extra)[2]; /* extra {name, value} pairs, or NULL */
    size_t n_extra;
    int file_fd; /* a file body instead, or -1 (taken) */
} reply;

/* Queues r with the CORS headers and records the reply in the metrics.
 * False on ENOMEM (the connection is then closed). */
static bool queue_reply(qvs_conn *c, const reply *r)
{
    qvs_server *srv = c->srv;
    if (atomic_load(&srv->stopping) || !qvs_wire_keep_alive(&c->wire))
        c->close_after = true;
    bool head_only = c->method && strcmp(c->method, "HEAD") == 0;
    char line[96], num[32], date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status,
             reason(r->status));
    snprintf(num, sizeof(num), "%zu", r->len);
    const char *origin = header(c, "Origin");
    bool ok =
        out_add(c, line, strlen(line)) && out_fmt(c, "Date", date) &&
        out_fmt(c, "Content-Length", num) &&
        out_fmt(c, "Access-Control-Allow-Origin", origin ? origin : "*") &&
        (!origin || out_fmt(c, "Vary", "Origin")) &&
        (!r->type || out_fmt(c, "Content-Type", r->type));
    for (size_t i = 0; ok && i < r->n_extra; i++)
        ok = out_fmt(c, r->extra[i][0], r->extra[i][1]);
    if (ok && c->close_after)
        ok = out_fmt(c, "Connection", "close");
    else if (ok && c->wire.hp.http_minor == 0)
        ok = out_fmt(c, "Connection", "keep-alive");
    ok = ok && out_add(c, "\r\n", 2);
    if (ok && !head_only && r->file_fd < 0)
        ok = out_add(c, r->body, r->len);
    if (r->file_fd >= 0) {
        if (ok && !head_only) {
            c->file_fd = r->file_fd;
            c->file_off = 0;
            c->file_left = r->len;
        } else {
            close(r->file_fd);
        }
    }
    size_t slot = c->route == SIZE_MAX ? srv->router.n : c->route;
    qvs_metrics_record(&srv->metrics, slot, r->status, since(&c->t0));
    c->state = C_WRITE;
    c->deadline_ns = now_ns() + (int64_t)QVS_CONN_TIMEOUT_S * 1000000000;
    return ok;
}

static bool send_body(qvs_conn *c, int status, const char *body, size_t len,
                      const char *type)
{
    reply r = {status, body, len, type, NULL, 0, -1};
    return queue_reply(c, &r);
}

/* Sends buf (malloc'd; freed here). */
static bool send_buffer(qvs_conn *c, int status, char *buf, size_t len,
                        const char *type)
{
    if (!buf)
        return false;
    bool ok = send_body(c, status, buf, len, type);
    free(buf);
    return ok;
}

/* An error envelope (buf, malloc'd; freed here), with Qdrant's
 * Retry-After header when the handler set one (a rate limit's 429). */
static bool send_error_buffer(qvs_conn *c, int status, char *buf, size_t len,
                              const char *retry_after)
{
    if (!buf)
        return false;
    const char *extra[1][2] = {{"Retry-After", retry_after}};
    reply r = {status, buf,
               len,    "application/json",
               extra,  retry_after && retry_after[0] ? 1 : 0,
               -1};
    bool ok = queue_reply(c, &r);
    free(buf);
    return ok;
}

static bool send_error(qvs_conn *c, int status, const char *msg)
{
    size_t len = 0;
    char *text = qvs_envelope_error(msg, since(&c->t0), &len);
    return send_buffer(c, status, text, len, "application/json");
}

/* Removes a raw_file_tmp file and its private directory. */
static void drop_raw_tmp(qvs_resp *r)
{
    if (!r->raw_file || !r->raw_file_tmp)
        return;
    (void)unlink(r->raw_file);
    char *slash = strrchr(r->raw_file, '/');
    if (slash) {
        *slash = '\0';
        (void)rmdir(r->raw_file);
        *slash = '/';
    }
    r->raw_file_tmp = false;
}

static bool send_file(qvs_conn *c, int status, qvs_resp *resp, const char *type)
{
    int fd = open(resp->raw_file, O_RDONLY | O_CLOEXEC);
    drop_raw_tmp(resp); /* the open descriptor keeps the bytes */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(c, 500, "Service internal error: cannot read file");
    }
    reply r = {status, NULL, (size_t)st.st_size, type, NULL, 0, fd};
    return queue_reply(c, &r);
}

/* CORS preflight: any origin, method and header, as Qdrant's defaults. */
static bool send_preflight(qvs_conn *c)
{
    const char *m = header(c, "Access-Control-Request-Method");
    const char *h = header(c, "Access-Control-Request-Headers");
    const char *extra[3][2] = {
        {"Access-Control-Allow-Methods",
         m ? m : "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"},
        {"Access-Control-Allow-Headers", h ? h : "*"},
        {"Access-Control-Max-Age", "3600"}};
    reply r = {200, "", 0, NULL, extra, 3, -1};
    return queue_reply(c, &r);
}

/* Sends a handler's raw_body with its extra headers. */
static bool send_raw(qvs_conn *c, int status, const qvs_resp *resp)
{
    size_t n = 0;
    while (n < QVS_MAX_RESP_HEADERS && resp->headers[n][0])
        n++;
    reply r = {status,
               resp->raw_body,
               resp->raw_len,
               resp->raw_type ? resp->raw_type : "application/octet-stream",
               (const char *(*)[2])resp->headers,
               n,
               -1};
    return queue_reply(c, &r);
}

/* Turns a handler's reply into the HTTP reply; frees what it owns. */
static bool send_resp(qvs_conn *c, qvs_resp *r, double t)
{
    bool ok;
    int status = r->http_status ? r->http_status : 200;
    size_t len = 0;
    if (r->raw_file) {
        ok = send_file(c, status, r,
                       r->raw_type ? r->raw_type : "application/octet-stream");
    } else if (r->raw_body) {
        ok = send_raw(c, status, r);
    } else if (status >= 400) {
        char *text = qvs_envelope_error(
            r->error[0] ? r->error : "Service internal error", t, &len);
        ok = send_error_buffer(c, status, text, len, r->retry_after);
    } else if (r->accepted) {
        char *text = qvs_envelope_ok(NULL, "accepted", t, &len);
        ok = send_buffer(c, 202, text, len, "application/json");
    } else {
        cJSON *result = r->result ? r->result : cJSON_CreateNull();
        r->result = NULL;
        char *text = qvs_envelope_ok(result, "ok", t, &len);
        ok = text ? send_buffer(c, status, text, len, "application/json")
                  : send_error(c, 500, "Service internal error: out of memory");
    }
    cJSON_Delete(r->result);
    free(r->raw_body);
    free(r->raw_file);
    r->result = NULL;
    r->raw_body = NULL;
    r->raw_file = NULL;
    return ok;
}

/* ---- the request --------------------------------------------------------- */

/* Splits the query string (after '?', before '#') into decoded pairs. */
static bool parse_query(qvs_conn *c)
{
    const char *q = strchr(qvs_wire_url(&c->wire), '?');
    if (!q)
        return true;
    q++;
    size_t n = strcspn(q, "#");
    c->query = malloc(2 * n + 2);
    if (!c->query)
        return false;
    char *copy = strndup(q, n);
    if (!copy)
        return false;
    char *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        qvs_unescape(kv, true);
        size_t kl = strlen(kv);
        memcpy(c->query + c->query_len, kv, kl + 1);
        c->query_len += kl + 1;
        /* A key without '=' has no value (NULL), as libmicrohttpd's. */
        c->query[c->query_len++] = eq ? 'v' : 'n';
        const char *v = eq ? eq + 1 : "";
        char *vv = strdup(v);
        if (!vv) {
            free(copy);
            return false;
        }
        qvs_unescape(vv, true);
        size_t vl = strlen(vv);
        memcpy(c->query + c->query_len, vv, vl + 1);
        c->query_len += vl + 1;
        free(vv);
    }
    free(copy);
    return true;
}

static const char *req_query(const qvs_req *r, const char *key)
{
    const qvs_conn *c = r->conn;
    for (size_t i = 0; i < c->query_len;) {
        const char *k = c->query + i;
        size_t kl = strlen(k);
        char has = k[kl + 1];
        const char *v = k + kl + 2;
        if (strcmp(k, key) == 0)
            return has == 'v' ? v : NULL;
        i += kl + 2 + strlen(v) + 1;
    }
    return NULL;
}

const void *qvs_req_raw_body(const qvs_req *req, size_t *len)
{
    const qvs_conn *c = req->conn;
    const qvs_route *rt = c->srv->router.entries[c->route].route;
    if (!(rt->flags & QVS_ROUTE_RAW_BODY)) {
        *len = 0;
        return NULL;
    }
    *len = c->len;
    return c->body;
}

const char *qvs_req_header(const qvs_req *req, const char *name)
{
    return header(req->conn, name);
}

qvs_server *qvs_req_server(const qvs_req *req)
{
    return ((const qvs_conn *)req->conn)->srv;
}

/* Splits and matches the request path; fills c->route and c->params. */
static int match_route(qvs_conn *c, const char *method)
{
    const char *uri = qvs_wire_url(&c->wire);
    size_t plen = strcspn(uri, "?#");
    c->path = strndup(uri, plen);
    if (!c->path || c->path[0] != '/')
        return QVS_MATCH_NO_PATH;
    int split = qvs_path_split(c->path, c->segs, &c->n_segs);
    if (split != QVS_PATH_OK)
        return split == QVS_PATH_NUL        ? QVS_MATCH_BAD_PATH
               : split == QVS_PATH_NOT_UTF8 ? QVS_MATCH_NOT_UTF8
                                            : QVS_MATCH_NO_PATH;
    size_t index;
    int m = qvs_router_match(&c->srv->router, method, c->segs, c->n_segs,
                             &index, c->params, &c->n_params);
    if (m == QVS_MATCH_OK)
        c->route = index;
    return m;
}

static bool send_too_large(qvs_conn *c)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "JSON payload is larger than allowed (limit: %llu bytes)",
             (unsigned long long)c->srv->cfg.max_request_bytes);
    return send_error(c, 413, msg);
}

/* Replies decided from the head alone (step 1). */
enum {
    EARLY_NONE = 0,
    EARLY_PREFLIGHT, /* OPTIONS */
    EARLY_NO_KEY,    /* 401 */
    EARLY_BAD_KEY,   /* 401 */
    EARLY_READ_ONLY, /* 403 */
    EARLY_NO_PATH,   /* 404 */
    EARLY_NO_METHOD, /* 405 */
    EARLY_BAD_PATH,  /* 422 */
    EARLY_NOT_UTF8,  /* 400 */
    EARLY_TOO_LARGE, /* 413 */
    EARLY_NO_MEMORY  /* 503 */
};

static bool send_early(qvs_conn *c, int early)
{
    static const char text_type[] = "text/plain; charset=utf-8";
    static const char no_key[] =
        "Must provide an API key or an Authorization bearer token";
    static const char bad_key[] = "Invalid API key or JWT";
    switch (early) {
    case EARLY_PREFLIGHT:
        return send_preflight(c);
    case EARLY_NO_KEY:
        return send_body(c, 401, no_key, strlen(no_key), text_type);
    case EARLY_BAD_KEY:
        return send_body(c, 401, bad_key, strlen(bad_key), text_type);
    case EARLY_READ_ONLY:
        return send_error(c, 403,
                          "Forbidden: Only read-only access is allowed");
    case EARLY_NO_PATH:
        return send_body(c, 404, "", 0, NULL);
    case EARLY_NO_METHOD:
        return send_body(c, 405, "", 0, NULL);
    case EARLY_BAD_PATH:
        return send_error(c, 422,
                          "Validation error in path parameters: [path: a "
                          "segment cannot contain the NUL char]");
    case EARLY_NOT_UTF8:
        return send_error(c, 400,
                          "Bad request: the request path is not valid UTF-8 "
                          "once percent-decoded");
    case EARLY_NO_MEMORY:
        return send_error(c, 503, "Service unavailable: out of memory");
    default:
        return send_too_large(c);
    }
}

static int decide_early(qvs_conn *c, const char *method)
{
    if (strcmp(method, "OPTIONS") == 0)
        return EARLY_PREFLIGHT;
    int m = match_route(c, method);
    if (!c->path || !parse_query(c))
        return EARLY_NO_MEMORY;
    const qvs_route *rt =
        m == QVS_MATCH_OK ? c->srv->router.entries[c->route].route : NULL;
    qvs_auth a = qvs_auth_check(&c->srv->cfg, header(c, "api-key"),
                                header(c, "Authorization"),
                                rt && (rt->flags & QVS_ROUTE_OPEN),
                                rt && (rt->flags & QVS_ROUTE_WRITE));
    if (a == QVS_AUTH_MISSING)
        return EARLY_NO_KEY;
    if (a == QVS_AUTH_INVALID)
        return EARLY_BAD_KEY;
    if (a == QVS_AUTH_READ_ONLY)
        return EARLY_READ_ONLY;
    if (m == QVS_MATCH_NO_PATH)
        return EARLY_NO_PATH;
    if (m == QVS_MATCH_NO_METHOD)
        return EARLY_NO_METHOD;
    if (m == QVS_MATCH_BAD_PATH)
        return EARLY_BAD_PATH;
    if (m == QVS_MATCH_NOT_UTF8)
        return EARLY_NOT_UTF8;
    uint64_t cl = qvs_wire_content_length(&c->wire);
    if (cl != UINT64_MAX && cl > c->srv->cfg.max_request_bytes)
        return EARLY_TOO_LARGE;
    return EARLY_NONE;
}

/* A raw-body route sent multipart/form-data: keep only the file part.
 * False (the error in r) when the form holds no file. */
static bool unwrap_multipart(qvs_conn *c, qvs_resp *r)
{
    const char *type = header(c, "Content-Type");
    if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
        return true;
    const char *data;
    size_t len;
    if (!c->body || !qvs_multipart_file(type, c->body, c->len, &data, &len))
        return qvs_fail(r, 400,
                        "Format error in multipart body: no file part "
                        "(send the snapshot as the form field `snapshot`)");
    c->body = (char *)data; /* inside the body, which stays alive */
    c->len = len;
    return true;
}

/* Step 3: the whole request is in: decode the body, run the handler,
 * keep its reply in c->resp.  Touches nothing of the loop's, so a worker
 * may run it. */
static void run_request(qvs_conn *c)
{
    qvs_resp *resp = &c->resp;
    memset(resp, 0, sizeof(*resp));
    resp->http_status = 200;
    const qvs_route *rt = c->srv->router.entries[c->route].route;
    cJSON *body = NULL;
    if ((rt->flags & QVS_ROUTE_RAW_BODY) && !unwrap_multipart(c, resp))
        goto done;
    if (!(rt->flags & QVS_ROUTE_RAW_BODY) && c->len > 0) {
        char err[256];
        body = qvs_json_parse(c->body, c->len, err, sizeof(err));
        if (!body) {
            qvs_fail(resp, 400, "%s", err);
            goto done;
        }
    }
    qvs_req req = {.method = c->method,
                   .n_params = c->n_params,
                   .body = body,
                   .query = req_query,
                   .conn = c,
                   .catalog = c->srv->catalog};
    memcpy(req.params, c->params, sizeof(c->params));
    rt->handler(&req, resp);
    if (resp->http_status >= 400)
        qvs_scrub_storage_paths(qvs_catalog_dir(c->srv->catalog), resp->error);
done:
    cJSON_Delete(body);
    c->t = since(&c->t0);
    c->ran = true;
}

/* ---- connections ----------------------------------------------------------
 */

/* Makes ep watch `events` on c's socket (0: take it out of ep). */
static void watch(qvs_conn *c, unsigned events)
{
    if (events == c->events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = !c->events ? EPOLL_CTL_ADD
             : !events  ? EPOLL_CTL_DEL
                        : EPOLL_CTL_MOD;
    (void)epoll_ctl(c->loop->ep, op, c->fd, &ev);
    c->events = events;
}

/* Forgets the request served (its parts, body and reply). */
static void next_request(qvs_conn *c)
{
    if (c->in_request) {
        c->in_request = false;
        atomic_fetch_sub(&c->srv->active, 1);
    }
    cJSON_Delete(c->resp.result);
    free(c->resp.raw_body);
    drop_raw_tmp(&c->resp);
    free(c->resp.raw_file);
    memset(&c->resp, 0, sizeof(c->resp));
    free(c->path);
    free(c->query);
    free(c->own_body);
    c->path = c->query = c->own_body = c->body = NULL;
    c->query_len = c->len = c->n_segs = c->n_params = 0;
    c->method = NULL;
    c->route = SIZE_MAX;
    c->early = EARLY_NONE;
    c->ran = c->job.write = false;
    c->out_len = c->out_off = 0;
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
}

static void conn_close(qvs_conn *c)
{
    qvs_loop *l = c->loop;
    next_request(c);
    watch(c, 0);
    qvs_guard_close(c->srv->guard, c->sock); /* before the fd goes */
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    qvs_wire_free(&c->wire);
    free(c->in);
    free(c->out);
    free(c);
}

static qvs_conn *conn_new(qvs_loop *l, int fd, const struct sockaddr *addr)
{
    qvs_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = l->srv;
    c->loop = l;
    c->fd = fd;
    c->file_fd = -1;
    c->route = SIZE_MAX;
    c->state = C_READ;
    qvs_wire_limits lim = {.max_uri = QVS_MAX_URI_BYTES,
                           .max_header_bytes = QVS_MAX_HEADER_BYTES,
                           .max_fields = QVS_MAX_HEADER_COUNT,
                           .max_body = l->srv->cfg.max_request_bytes};
    qvs_wire_init(&c->wire, &lim);
    c->sock = qvs_guard_open(l->srv->guard, fd, addr);
    if (!c->sock) {
        free(c);
        return NULL;
    }
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    return c;
}

/* The request is complete, or refused: BODY or WAIT -> BUSY, so the guard
 * leaves it alone from now on.  False if the guard closed it first. */
static bool to_busy(qvs_conn *c)
{
    int ph = atomic_load(&c->sock->phase);
    return ph == QVS_PHASE_BUSY ||
           ((ph == QVS_PHASE_WAIT || ph == QVS_PHASE_BODY) &&
            qvs_sock_to(c->sock, ph, QVS_PHASE_BUSY));
}

static void begin_request(qvs_conn *c)
{
    if (!c->in_request) {
        c->in_request = true;
        atomic_fetch_add(&c->srv->active, 1);
        clock_gettime(CLOCK_MONOTONIC, &c->t0);
    }
}

static bool flush(qvs_conn *c);

/* A malformed request: its envelope, then the connection closes. */
static bool on_wire_error(qvs_conn *c)
{
    begin_request(c);
    if (!to_busy(c))
        return false;
    c->close_after = true;
    return send_error(c, c->wire.status, c->wire.message) && flush(c);
}

/* Step 1: the head is in.  False to close the connection. */
static bool on_head(qvs_conn *c)
{
    begin_request(c);
    c->method = qvs_wire_method(&c->wire);
    c->early = decide_early(c, c->method);
    bool body = qvs_wire_has_body(&c->wire);
    if (body && c->early == EARLY_NONE) {
        if (!qvs_sock_to(c->sock, QVS_PHASE_WAIT, QVS_PHASE_BODY))
            return false; /* the guard closed it meanwhile */
        const char *expect = header(c, "Expect");
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (expect && strcasecmp(expect, "100-continue") == 0 &&
            !out_add(c, cont, sizeof(cont) - 1))
            return false;
        return true;
    }
    if (!to_busy(c))
        return false;
    if (c->early != EARLY_NONE && body) {
        /* Refused before its body: answered at once, the body unread. */
        c->close_after = true;
        return send_early(c, c->early);
    }
    return true;
}

/* Hands c to the pool; false if its queue is full. */
static bool enqueue(qvs_conn *c);

/* Step 3: the whole request is in. */
static bool on_done(qvs_conn *c)
{
    if (!to_busy(c))
        return false;
    if (c->early != EARLY_NONE)
        return send_early(c, c->early);
    c->body = qvs_wire_body(&c->wire, &c->len);
    const qvs_route *rt = c->srv->router.entries[c->route].route;
    if (!(rt->flags & QVS_ROUTE_INLINE)) {
        c->job.write = (rt->flags & QVS_ROUTE_WRITE) != 0;
        watch(c, 0); /* the worker's until it hands it back */
        c->state = C_WORK;
        if (enqueue(c))
            return true;
        c->state = C_READ;
        return send_error(c, 503,
                          "Service unavailable: too many requests in flight");
    }
    run_request(c);
    return send_resp(c, &c->resp, c->t);
}

/* Feeds the bytes waiting in c->in to the wire while c is reading.
 * False to close the connection. */
static bool process_input(qvs_conn *c)
{
    while (c->state == C_READ && c->in_len > 0) {
        int ev;
        size_t used = qvs_wire_feed(&c->wire, c->in, c->in_len, &ev);
        if (c->wire.n_fields > 0 || ev == QVS_WIRE_HEAD)
            qvs_sock_line(c->sock); /* the request line is in */
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (atomic_load(&c->sock->phase) == QVS_PHASE_BODY)
            qvs_sock_body(c->sock, used);
        if (atomic_load(&c->sock->phase) == QVS_PHASE_DEAD)
            return false; /* too slow: the guard has answered */
        bool ok = true;
        if (ev == QVS_WIRE_ERROR)
            return on_wire_error(c);
        if (ev == QVS_WIRE_HEAD)
            ok = on_head(c);
        else if (ev == QVS_WIRE_DONE)
            ok = on_done(c);
        else if (used == 0)
            break;
        if (!ok)
            return false;
    }
    if (c->state == C_WORK)
        return true; /* the worker's now: not in ep */
    if (c->state == C_WRITE || c->out_len > c->out_off)
        return flush(c);
    watch(c, EPOLLIN | EPOLLRDHUP);
    return true;
}

/* The reply is out: close, linger, or read the next request. */
static bool reply_sent(qvs_conn *c)
{
    if (c->state != C_WRITE) { /* a 100 Continue went out */
        c->out_len = c->out_off = 0;
        watch(c, EPOLLIN | EPOLLRDHUP);
        return true;
    }
    if (c->close_after) {
        next_request(c);
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        c->deadline_ns = now_ns() + (int64_t)QVS_LINGER_MS * 1000000;
        watch(c, EPOLLIN | EPOLLRDHUP);
        return true;
    }
    next_request(c);
    qvs_wire_next(&c->wire);
    qvs_sock_wait(c->sock); /* the next request's head deadline starts */
    c->state = C_READ;
    return process_input(c);
}

/* Writes what it can of the reply.  False to close the connection. */
static bool flush(qvs_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c, EPOLLOUT | (c->state == C_READ ? EPOLLIN : 0));
            return true;
        }
        if (k <= 0)
            return false;
        c->out_off += (size_t)k;
        c->deadline_ns = now_ns() + (int64_t)QVS_CONN_TIMEOUT_S * 1000000000;
    }
    while (c->file_left > 0) {
        size_t n = c->file_left > (1u << 20) ? 1u << 20 : (size_t)c->file_left;
        ssize_t k = sendfile(c->fd, c->file_fd, &c->file_off, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c, EPOLLOUT);
            return true;
        }
        if (k <= 0)
            return false; /* an error, or the file shrank */
        c->file_left -= (uint64_t)k;
        c->deadline_ns = now_ns() + (int64_t)QVS_CONN_TIMEOUT_S * 1000000000;
    }
    return reply_sent(c);
}

/* Reads what the socket holds.  False to close the connection. */
static bool on_readable(qvs_conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < READ_CHUNK) {
            char *b = realloc(c->in, c->in_len + READ_CHUNK);
            if (!b)
                return false;
            c->in = b;
            c->in_cap = c->in_len + READ_CHUNK;
        }
        ssize_t k = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (k <= 0)
            return false;         /* end of file: the client, or the guard */
        if (c->state == C_LINGER) /* dropped */
            continue;
        c->in_len += (size_t)k;
        if (!process_input(c))
            return false;
        if (c->state != C_READ)
            return true;
    }
}

static void on_event(qvs_conn *c, unsigned ev)
{
    bool ok = true;
    if (c->state == C_WRITE || (ev & EPOLLOUT))
        ok = (ev & EPOLLERR) ? false : flush(c);
    else if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        ok = on_readable(c);
    if (!ok)
        conn_close(c);
}

/* ---- the loops ------------------------------------------------------------
 */

static void wake_loop(qvs_loop *l)
{
    uint64_t one = 1;
    (void)!write(l->wake, &one, sizeof(one));
}

/* A worker is done with c: back to its loop, which sends the reply. */
static void hand_back(qvs_conn *c)
{
    qvs_loop *l = c->loop;
    pthread_mutex_lock(&l->dlock);
    c->next_done = l->done;
    l->done = c;
    pthread_mutex_unlock(&l->dlock);
    wake_loop(l);
}

static void take_done(qvs_loop *l)
{
    uint64_t n;
    (void)!read(l->wake, &n, sizeof(n));
    pthread_mutex_lock(&l->dlock);
    qvs_conn *c = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->dlock);
    while (c) {
        qvs_conn *next = c->next_done;
        c->state = C_READ;
        if (!send_resp(c, &c->resp, c->t) || !flush(c))
            conn_close(c);
        c = next;
    }
}

static void listen_on(qvs_loop *l, bool on)
{
    if (on == l->listening)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                             .data.ptr = NULL};
    (void)epoll_ctl(l->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
                    l->srv->listen_fd, &ev);
    l->listening = on;
}

static void accept_all(qvs_loop *l)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(l->srv->listen_fd, (struct sockaddr *)&sa, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: listen again in a moment, rather
                 * than spin on a listener that stays readable. */
                listen_on(l, false);
                l->accept_retry_ns = now_ns() + 100 * 1000000;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                listen_on(l, false); /* shut down: stopping */
            }
            return;
        }
        qvs_conn *c = conn_new(l, fd, (struct sockaddr *)&sa);
        if (!c) {
            close(fd);
            continue;
        }
        watch(c, EPOLLIN | EPOLLRDHUP);
    }
}

/* Closes connections past their write or linger deadline; listens again
 * after a shortage of descriptors. */
static void tick(qvs_loop *l)
{
    int64_t now = now_ns();
    for (qvs_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if ((c->state == C_WRITE || c->state == C_LINGER) &&
            now > c->deadline_ns)
            conn_close(c);
    }
    if (!l->listening && l->accept_retry_ns && now > l->accept_retry_ns &&
        !atomic_load(&l->srv->stopping)) {
        l->accept_retry_ns = 0;
        listen_on(l, true);
    }
}

static void *loop_main(void *arg)
{
    qvs_loop *l = arg;
    struct epoll_event evs[64];
    int64_t next_tick = now_ns();
    for (;;) {
        int n = epoll_wait(l->ep, evs, 64, TICK_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(l);
            else if (evs[i].data.ptr == l)
                take_done(l);
            else
                on_event(evs[i].data.ptr, evs[i].events);
        }
        if (now_ns() >= next_tick) {
            tick(l);
            next_tick = now_ns() + (int64_t)TICK_MS * 1000000;
        }
        pthread_mutex_lock(&l->dlock);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->dlock);
        if (stop)
            break;
    }
    return NULL;
}

static bool loop_start(qvs_server *srv, qvs_loop *l)
{
    l->srv = srv;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->dlock, NULL);
    if (l->ep < 0 || l->wake < 0)
        return false;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &ev) != 0)
        return false;
    listen_on(l, true);
    if (!l->listening || pthread_create(&l->thread, NULL, loop_main, l))
        return false;
    l->started = true;
    return true;
}

/* Stops l's thread and closes every connection it still holds. */
static void loop_stop(qvs_loop *l)
{
    if (l->started) {
        pthread_mutex_lock(&l->dlock);
        l->stop = true;
        pthread_mutex_unlock(&l->dlock);
        wake_loop(l);
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    /* Requests handed back after the loop stopped, then the rest. */
    for (qvs_conn *c = l->done, *next; c; c = next) {
        next = c->next_done;
        conn_close(c);
    }
    l->done = NULL;
    while (l->conns)
        conn_close(l->conns);
    if (l->ep >= 0)
        close(l->ep);
    if (l->wake >= 0)
        close(l->wake);
    l->ep = l->wake = -1;
    pthread_mutex_destroy(&l->dlock);
}

/* ---- the worker pool ------------------------------------------------------
 * Handlers that may be slow (every route but the inline ones: /, /healthz,
 * /livez, /readyz, /metrics) run in a pool of cfg.threads workers, not in
 * the connection loops: the connection leaves its loop's epoll set, the
 * request is queued, and a worker runs it and hands the connection back
 * to its loop, which sends the reply.  So a probe, or the head of any request,
 * never waits behind a search or a snapshot.
 *
 * Reads and writes (routes flagged QVS_ROUTE_WRITE) wait in two queues,
 * and at most write_cap workers (half of them, at least one) run writes at
 * once.  Writes to one collection run one at a time anyway (the
 * collection's write lock), so more workers on them only wait: with one
 * FIFO, four upsert connections kept both workers of a two-worker server
 * busy with upserts, one applying and one blocked on the lock, and every
 * search queued behind them (search p99 from 4 ms to hundreds; see
 * bench/http_load.sh --writers).  Now the other workers are always free
 * for reads.  Within the cap a worker takes the oldest request of either
 * queue, so neither kind can starve the other.  What the cap cannot
 * remove is the time a search waits for the collection's lock while a
 * batch is applied (core/collection.c holds it for the batch's graph
 * work).
 *
 * Both queues are bounded (QVS_QUEUE_PER_WORKER per worker each); a
 * request that finds its queue full is answered 503 at once rather than
 * waiting without limit, and a flood of writes cannot fill the reads'
 * places.
 *
 * The drain notice (qvs_server_drain_arm): a listener may skip reading
 * its sockets while reads are queued, since every worker is then busy;
 * the worker that takes the last queued read calls its notice (under
 * qlock, once per arming), so the listener reads again before a worker
 * runs out of work.  The gRPC listener uses it to read many calls per
 * wake-up under load (server/grpc/grpc_server.c). */

/* Queues a job: a REST request (its connection, whose loop no longer
 * watches it) or a gRPC call (server/grpc/), which share the pool. */
bool qvs_server_submit(qvs_server *srv, qvs_job *job)
{
    pthread_mutex_lock(&srv->qlock);
    qvs_queue *q = &srv->queue[job->write ? QUEUE_WRITE : QUEUE_READ];
    bool ok = q->len < q->cap && !srv->qstop;
    if (ok) {
        job->seq = srv->qseq++;
        q->ring[(q->head + q->len++) % q->cap] = job;
        pthread_cond_signal(&srv->qcond);
    }
    pthread_mutex_unlock(&srv->qlock);
    return ok;
}

static void conn_run(qvs_job *job)
{
    run_request((qvs_conn *)job); /* job is the first member */
}

static void conn_done(qvs_job *job)
{
    hand_back((qvs_conn *)job); /* the connection is its loop's again */
}

static bool enqueue(qvs_conn *c)
{
    c->job.run = conn_run;
    c->job.done = conn_done;
    return qvs_server_submit(c->srv, &c->job);
}

static qvs_job *pop_locked(qvs_queue *q)
{
    qvs_job *c = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return c;
}

/* The next request a worker may run: the older of the two queue heads,
 * a write only while fewer than write_cap run; NULL if none may run. */
static qvs_job *take_locked(qvs_server *srv)
{
    qvs_queue *r = &srv->queue[QUEUE_READ], *w = &srv->queue[QUEUE_WRITE];
    bool can_write = w->len && srv->writes_running < srv->write_cap;
    if (r->len && (!can_write || r->ring[r->head]->seq < w->ring[w->head]->seq))
        return pop_locked(r);
    if (!can_write)
        return NULL;
    srv->writes_running++;
    return pop_locked(w);
}

static void *worker(void *arg)
{
    qvs_server *srv = arg;
    pthread_mutex_lock(&srv->qlock);
    for (;;) {
        qvs_job *c = take_locked(srv);
        if (!c) {
            if (srv->qstop && !srv->queue[QUEUE_READ].len &&
                !srv->queue[QUEUE_WRITE].len) {
                /* Stopping, and the queues are drained: so are they for
                 * a worker that went back to sleep after pool_stop's
                 * broadcast because the cap kept it from the last write. */
                pthread_cond_broadcast(&srv->qcond);
                break;
            }
            pthread_cond_wait(&srv->qcond, &srv->qlock);
            continue;
        }
        bool write = c->write;
        atomic_fetch_add(&srv->in_hand, 1);
        /* The last queued read is taken: a listener that stopped polling
         * its sockets while reads waited (qvs_server_drain_arm) reads them
         * now, before this worker needs its next job.  Called under qlock,
         * so that qvs_server_set_drain_notice(NULL) returns only once no
         * worker is inside fn. */
        if (srv->drain_armed && !srv->queue[QUEUE_READ].len) {
            srv->drain_armed = false;
            if (srv->drain_fn)
                srv->drain_fn(srv->drain_arg);
        }
        pthread_mutex_unlock(&srv->qlock);
        while (atomic_load(&srv->hold) ||
               (write && atomic_load(&srv->hold_writes))) {
            struct timespec nap = {0, 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        c->run(c);
        atomic_fetch_sub(&srv->in_hand, 1);
        c->done(c); /* c is its owner's again */
        pthread_mutex_lock(&srv->qlock);
        if (write) {
            srv->writes_running--;
            /* A write waiting for the cap may go now; wake a worker in
             * case this one takes a read. */
            if (srv->queue[QUEUE_WRITE].len)
                pthread_cond_signal(&srv->qcond);
        }
    }
    pthread_mutex_unlock(&srv->qlock);
    return NULL;
}

/* Starts n workers; false (none left running) on failure. */
static bool pool_start(qvs_server *srv, unsigned n)
{
    srv->write_cap = n / 2 ? n / 2 : 1;
    for (int k = QUEUE_READ; k <= QUEUE_WRITE; k++) {
        srv->queue[k].cap = (size_t)n * QVS_QUEUE_PER_WORKER;
        srv->queue[k].ring = calloc(srv->queue[k].cap, sizeof(qvs_job *));
        if (!srv->queue[k].ring)
            return false;
    }
    srv->workers = calloc(n, sizeof(*srv->workers));
    if (!srv->workers)
        return false;
    for (; srv->n_workers < n; srv->n_workers++)
        if (pthread_create(&srv->workers[srv->n_workers], NULL, worker, srv))
            return false;
    return true;
}

/* Lets the workers finish every queued request, then joins them. */
static void pool_stop(qvs_server *srv)
{
    pthread_mutex_lock(&srv->qlock);
    srv->qstop = true;
    pthread_cond_broadcast(&srv->qcond);
    pthread_mutex_unlock(&srv->qlock);
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    srv->n_workers = 0;
    free(srv->workers);
    srv->workers = NULL;
    for (int k = QUEUE_READ; k <= QUEUE_WRITE; k++) {
        free(srv->queue[k].ring);
        srv->queue[k].ring = NULL;
    }
}

static void make_id(char *out)
{
    unsigned char b[16] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        memcpy(b, &t, sizeof(t) < sizeof(b) ? sizeof(t) : sizeof(b));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
             "%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

static void make_started(char *out, size_t cap)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%.31s.%06dZ", base, (int)(t.tv_nsec / 1000 % 1000000));
}

/* ---- start and stop ------------------------------------------------------ */

/* Each connection is one descriptor; says so when the process may run
 * out before the connection limit is reached (accept then fails, and the
 * loops stop accepting for a moment).  `quiver serve` raises its soft
 * limit to the hard one at start. */
static void warn_fd_limit(unsigned conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)conns + 64)
        fprintf(stderr,
                "quiver serve: warning: %llu file descriptors allowed, fewer "
                "than --max-connections needs (%u + 64); raise `ulimit -n`\n",
                (unsigned long long)rl.rlim_cur, conns);
}

/* Opens the listening socket (non-blocking, SO_REUSEADDR); -1 on
 * failure with the message in err. */
static int open_listener(const qvs_config *cfg, char *err, size_t cap)
{
    const char *host = qvs_config_host(cfg);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%u", cfg->port);
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, cap, "cannot resolve host '%s': %s", host,
                 gai_strerror(rc));
        return -1;
    }
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 &&
        (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
         bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
         listen(fd, SOMAXCONN) != 0)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        snprintf(err, cap,
                 "cannot listen on %s port %u (in use, or not an address of "
                 "this machine?)",
                 host, cfg->port);
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

/* Everything qvs_server_start made, in reverse; srv may be half made. */
static void server_free(qvs_server *srv)
{
    if (srv->listen_fd >= 0)
        shutdown(srv->listen_fd, SHUT_RDWR);
    pool_stop(srv); /* runs what is still queued, hands it back */
    for (int i = 0; i < QVS_LOOPS; i++)
        loop_stop(&srv->loops[i]);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    pthread_cond_destroy(&srv->qcond);
    pthread_mutex_destroy(&srv->qlock);
    qvs_guard_free(srv->guard);
    qvs_catalog_close(srv->catalog);
    qvs_metrics_free(&srv->metrics);
    qvs_router_free(&srv->router);
    free(srv);
}

/* Qdrant's start-up recovery (--storage-snapshot, --snapshot PATH:NAME,
 * --force-snapshot), before anything listens; each restored collection is
 * reported on stderr as Qdrant logs it. */
static bool restore_startup_snapshots(const qvs_config *cfg, qvs_catalog *cat,
                                      char *err, size_t cap)
{
    if (cfg->storage_snapshot) {
        size_t n = 0;
        if (!qvs_snap_restore_storage(cat, cfg->storage_snapshot,
                                      cfg->force_snapshot, &n, err, cap))
            return false;
        fprintf(stderr, "quiver serve: restored %zu collection(s) from %s\n", n,
                cfg->storage_snapshot);
    }
    for (unsigned i = 0; i < cfg->n_collection_snapshots; i++) {
        const char *arg = cfg->collection_snapshots[i];
        const char *colon = strrchr(arg, ':');
        char path[4096];
        size_t len = colon ? (size_t)(colon - arg) : 0;
        if (!colon || len >= sizeof(path)) {
            snprintf(err, cap, "--snapshot wants PATH:NAME, not '%s'", arg);
            return false;
        }
        memcpy(path, arg, len);
        path[len] = '\0';
        bool done = false;
        if (!qvs_snap_restore_collection(cat, path, colon + 1,
                                         cfg->force_snapshot, &done, err, cap))
            return false;
        fprintf(stderr, "quiver serve: %s `%s` from %s\n",
                done ? "restored collection" : "kept existing collection",
                colon + 1, path);
    }
    return true;
}

bool qvs_server_start(const qvs_config *cfg, qvs_server **out, char *err,
                      size_t cap)
{
    *out = NULL;
    qvs_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    srv->cfg = *cfg;
    srv->listen_fd = -1;
    for (int i = 0; i < QVS_LOOPS; i++)
        srv->loops[i].ep = srv->loops[i].wake = -1;
    atomic_init(&srv->active, 0);
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->hold, false);
    atomic_init(&srv->hold_writes, false);
    atomic_init(&srv->in_hand, 0);
    pthread_mutex_init(&srv->qlock, NULL);
    pthread_cond_init(&srv->qcond, NULL);
    make_id(srv->id);
    make_started(srv->started, sizeof(srv->started));
    if (!qvs_router_init(&srv->router) ||
        !qvs_metrics_init(&srv->metrics, srv->router.n)) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    if (!qvs_catalog_open(cfg->storage, &srv->catalog, err, cap))
        goto fail;
    if (!qvs_catalog_set_url_hosts(srv->catalog, cfg->snapshot_url_hosts)) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    if (!restore_startup_snapshots(cfg, srv->catalog, err, cap))
        goto fail;
    qvs_guard_limits lim = {.header_timeout_s = cfg->header_timeout_s,
                            .body_min_rate = cfg->body_min_rate,
                            .max_connections = cfg->max_connections,
                            .max_connections_per_ip =
                                cfg->max_connections_per_ip};
    srv->guard = qvs_guard_start(&lim);
    if (!srv->guard) {
        snprintf(err, cap, "cannot start the connection guard");
        goto fail;
    }
    if (!pool_start(srv, cfg->threads ? cfg->threads : 1)) {
        snprintf(err, cap, "cannot start the worker threads");
        goto fail;
    }
    warn_fd_limit(cfg->max_connections);
    srv->listen_fd = open_listener(cfg, err, cap);
    if (srv->listen_fd < 0)
        goto fail;
    srv->port = bound_port(srv->listen_fd);
    for (int i = 0; i < QVS_LOOPS; i++) {
        if (!loop_start(srv, &srv->loops[i])) {
            snprintf(err, cap, "cannot start the connection loops");
            goto fail;
        }
    }
    if (cfg->grpc_port != 0 && !qvs_grpc_start(srv, &srv->grpc, err, cap))
        goto fail;
    *out = srv;
    return true;
fail:
    server_free(srv);
    return false;
}

unsigned qvs_server_port(const qvs_server *srv)
{
    return srv->port;
}

unsigned qvs_server_grpc_port(const qvs_server *srv)
{
    return srv->grpc ? qvs_grpc_port(srv->grpc) : 0;
}

void qvs_server_set_grpc_direct(qvs_server *srv, bool on)
{
    atomic_store_explicit(&srv->grpc_direct_off, !on, memory_order_relaxed);
}

bool qvs_server_grpc_direct(const qvs_server *srv)
{
    return !atomic_load_explicit(&srv->grpc_direct_off, memory_order_relaxed);
}

char *qvs_server_grpc_metrics(qvs_server *srv)
{
    return srv->grpc ? qvs_grpc_metrics(srv->grpc) : NULL;
}

const qvs_config *qvs_server_config(const qvs_server *srv)
{
    return &srv->cfg;
}

qvs_guard *qvs_server_guard(qvs_server *srv)
{
    return srv->guard;
}

void qvs_server_hold_workers(qvs_server *srv, bool hold)
{
    atomic_store(&srv->hold, hold);
}

void qvs_server_hold_writes(qvs_server *srv, bool hold)
{
    atomic_store(&srv->hold_writes, hold);
}

void qvs_server_set_drain_notice(qvs_server *srv, void (*fn)(void *arg),
                                 void *arg)
{
    pthread_mutex_lock(&srv->qlock);
    srv->drain_fn = fn;
    srv->drain_arg = arg;
    srv->drain_armed = false;
    pthread_mutex_unlock(&srv->qlock);
}

bool qvs_server_drain_arm(qvs_server *srv)
{
    pthread_mutex_lock(&srv->qlock);
    bool busy = srv->queue[QUEUE_READ].len > 0 && !srv->qstop;
    srv->drain_armed = busy && srv->drain_fn;
    pthread_mutex_unlock(&srv->qlock);
    return busy && srv->drain_fn;
}

void qvs_server_queue_stats(qvs_server *srv, size_t *queued, size_t *running)
{
    pthread_mutex_lock(&srv->qlock);
    *queued = srv->queue[QUEUE_READ].len + srv->queue[QUEUE_WRITE].len;
    pthread_mutex_unlock(&srv->qlock);
    *running = atomic_load(&srv->in_hand);
}

void qvs_server_conn_stats(qvs_server *srv, size_t *live, size_t *timeouts,
                           size_t *evictions)
{
    qvs_guard_stats st;
    qvs_guard_get_stats(srv->guard, &st);
    *live = st.live;
    *timeouts = st.timeouts;
    *evictions = st.evictions;
}

void qvs_server_stop(qvs_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    shutdown(srv->listen_fd, SHUT_RDWR); /* no new connections */
    /* Connections waiting for a request will get none now. */
    qvs_guard_close_idle(srv->guard);
    /* gRPC stops taking calls and finishes those in flight (they run in
     * the pool, which is still up). */
    qvs_grpc_stop(srv->grpc);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&srv->active) > 0 &&
           since(&t0) * 1000.0 < QVS_DRAIN_TIMEOUT_MS) {
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    server_free(srv);
}

qvs_catalog *qvs_server_catalog(qvs_server *srv)
{
    return srv->catalog;
}

const qvs_router *qvs_server_router(const qvs_server *srv)
{
    return &srv->router;
}

qvs_metrics *qvs_server_metrics(qvs_server *srv)
{
    return &srv->metrics;
}

const char *qvs_server_id(const qvs_server *srv)
{
    return srv->id;
}

const char *qvs_server_started(const qvs_server *srv)
{
    return srv->started;
}
