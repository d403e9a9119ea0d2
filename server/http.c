/*
 * http.c -- the HTTP layer: libmicrohttpd, request bodies, dispatch,
 * replies, graceful shutdown.
 *
 * libmicrohttpd runs its own thread pool, each thread with an epoll loop
 * (MHD_USE_INTERNAL_POLLING_THREAD + MHD_USE_EPOLL + a pool size);
 * HTTP/1.1 keep-alive, request parsing and chunked decoding are its job.
 * Every request gets a qvs_conn, created by the URI-log callback (which
 * sees the raw, still percent-encoded URI: routing needs the segments
 * before decoding, see router.c) and freed by the completion callback.
 *
 * A request's life, in the access handler:
 *   0. framing (check_framing): a request whose length a proxy in front
 *      of us could read differently -- Content-Length with
 *      Transfer-Encoding, two different Content-Lengths, a coding other
 *      than a single final chunked -- is answered 400 (501 for a coding we
 *      do not decode) and its connection closed, so nothing after it on
 *      the wire runs as a request (RFC 9112 section 6.3); so is a header
 *      name that is not a token (400), more than 100 fields (431) and a
 *      URI over 8 KiB (414);
 *   1. headers in: header size checked (16 KiB), CORS preflight answered,
 *      route matched, authorisation decided from the matched route's
 *      flags, 404/405 answered, and a Content-Length over the body limit
 *      refused with 413 -- all before a byte of the body is read;
 *   2. body chunks: appended up to the limit; a chunked body that grows
 *      past it is discarded from then on and answered 413 at its end
 *      (libmicrohttpd cannot answer in the middle of a body); past twice
 *      the limit (at least limit + 1 MiB) the connection is dropped;
 *   3. body complete: JSON parsed (400 "Format error in JSON body"), the
 *      handler called, its qvs_resp turned into Qdrant's envelope.  The
 *      inline routes (QVS_ROUTE_INLINE: the probes /, /healthz, /livez,
 *      /readyz, and /metrics, which counts points without waiting for
 *      a collection's lock) run right there; every
 *      other route runs in the worker pool (cfg.threads workers; a queue
 *      for reads and one for writes, QVS_QUEUE_PER_WORKER places per
 *      worker each, 503 when full; at most half the workers run writes at
 *      once, see "the worker pool" below): the connection is suspended
 *      while a worker decodes the body and runs the handler, and resumed
 *      for libmicrohttpd's thread to send the reply.  So libmicrohttpd's
 *      threads only parse, route and reply, a probe never waits behind a
 *      search or a snapshot, and a search never waits for a worker behind
 *      a queue of upserts.
 * Every reply, of whatever kind, leaves through send_reply, which adds the
 * CORS headers and records the metrics.
 *
 * What stays HTML.  libmicrohttpd refuses some requests itself, while
 * parsing, before any callback of ours can see them, and answers those
 * with its own fixed HTML body (0.9.75 has no hook to replace it): a
 * request line it cannot parse (400, or a close with no reply), an HTTP
 * version other than 1.0/1.1 (505), a Content-Length that is not a number
 * (400, whose head 0.9.75 sends twice), a malformed chunk (400), and a
 * request head that does not fit its per-connection memory pool of
 * QVS_MHD_POOL_BYTES (414 for the URI, 431 for the fields).  The status is
 * the right one and the connection is closed at once in every case
 * (tests/test_http_hostile.c checks both); only the body is not Qdrant's
 * envelope.  The pool is large enough that a 100 KB URI or 5,000 fields
 * reach step 0 and get our JSON 414/431.  Getting JSON for the rest means
 * parsing the wire ourselves in front of libmicrohttpd (a relay over a
 * socket pair, or replacing it), which the hardening did not justify.
 *
 * Slow and numerous clients are the guard's (guard.c): every socket is
 * registered when accepted (MHD_OPTION_NOTIFY_CONNECTION), and the access
 * handler, the URI log and the completion callback report its phase, so
 * the guard can enforce a head deadline, a minimum body rate, and the
 * per-address and total connection limits by evicting the oldest
 * unfinished connection.  libmicrohttpd's own limits sit above the
 * guard's as a backstop, and its idle timeout (60 s) now only covers a
 * client that does not read its reply.
 *
 * Shutdown (qvs_server_stop): MHD_quiesce_daemon closes the listening
 * socket to new connections; connections waiting for a request are
 * closed (the guard); requests already started run to completion
 * (the `active` counter, up to QVS_DRAIN_TIMEOUT_MS), replies then say
 * "Connection: close"; the workers run what is still queued and stop
 * (later requests get 503); MHD_stop_daemon ends the threads; the catalog
 * closes its store last, which checkpoints a durable one.
 */
#include "grpc/grpc.h"
#include "guard.h"
#include "server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One of the worker pool's bounded FIFO queues (a ring). */
typedef struct qvs_queue {
    qvs_job **ring; /* [cap] */
    size_t cap, head, len;
} qvs_queue;

enum { QUEUE_READ, QUEUE_WRITE };

struct qvs_server {
    qvs_config cfg;
    struct MHD_Daemon *daemon;
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
    pthread_t *workers;
    unsigned n_workers;      /* started */
    atomic_bool hold;        /* tests: workers wait before each request */
    atomic_bool hold_writes; /* tests: ... before each write */
    atomic_size_t in_hand;   /* requests workers took and still run */
    atomic_size_t active;    /* requests between URI log and completion */
    atomic_bool stopping;    /* replies close their connections */
    unsigned port;
    char id[37];           /* telemetry id, random per process */
    char started[48];      /* RFC 3339 start time */
    struct qvs_grpc *grpc; /* the gRPC listener (server/grpc/), or NULL */
};

typedef struct qvs_conn {
    qvs_job job; /* its place in the worker pool's queues */
    qvs_server *srv;
    struct MHD_Connection *mhd;
    char *uri; /* raw request target, percent-encoded */
    struct timespec t0;
    bool started;
    bool too_large;
    int early;       /* a reply decided from the headers (EARLY_*) */
    bool answered;   /* the early reply is queued */
    bool must_close; /* the reply closes the connection */
    qvs_sock *sock;  /* the guard's record of the socket, or NULL */
    size_t route;    /* router entry, or SIZE_MAX */
    char *path;      /* the decoded segments point into this copy */
    char *segs[QVS_MAX_SEGMENTS];
    size_t n_segs;
    const char *params[QVS_MAX_PARAMS];
    size_t n_params;
    char *body;
    size_t len, cap;
    uint64_t received;  /* body bytes seen, kept or discarded */
    const char *method; /* libmicrohttpd's, valid for the request */
    bool ran;           /* the handler ran: resp and t hold its reply */
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

/* ---- connection state ---------------------------------------------------- */

static qvs_conn *conn_new(qvs_server *srv, const char *uri)
{
    qvs_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = srv;
    c->route = SIZE_MAX;
    c->uri = strdup(uri ? uri : "/");
    if (!c->uri) {
        free(c);
        return NULL;
    }
    atomic_fetch_add(&srv->active, 1);
    return c;
}

static void conn_free(qvs_conn *c)
{
    atomic_fetch_sub(&c->srv->active, 1);
    cJSON_Delete(c->resp.result); /* a reply never sent (client gone) */
    free(c->resp.raw_body);
    free(c->resp.raw_file);
    free(c->uri);
    free(c->path);
    free(c->body);
    free(c);
}

/* The guard's record of the socket mhd arrived on; NULL once the socket
 * is closed (on_connection clears it) or if it could not be registered. */
static qvs_sock *sock_of(struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mhd)
{
    qvs_sock *s = sock_of(mhd);
    if (s)
        qvs_sock_line(s);
    return conn_new(cls, uri);
}

static void on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    if (*con_cls)
        conn_free(*con_cls);
    *con_cls = NULL;
    qvs_sock *s = sock_of(mhd);
    if (s) /* the reply is out: the next request's head deadline starts */
        qvs_sock_wait(s);
}

/* Registers every accepted socket with the guard, and unregisters it
 * before libmicrohttpd closes its fd (see guard.c). */
static void on_connection(void *cls, struct MHD_Connection *mhd,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    qvs_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr =
            MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = fd ? qvs_guard_open(srv->guard, fd->connect_fd,
                                              addr ? addr->client_addr : NULL)
                             : NULL;
    } else {
        qvs_guard_close(srv->guard, *socket_context);
        *socket_context = NULL;
    }
}

static const char *header(const qvs_conn *c, const char *name)
{
    return MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, name);
}

/* ---- replies --------------------------------------------------------------
 */

/* Queues resp with the CORS headers and records the reply. */
static enum MHD_Result send_reply(qvs_conn *c, int status,
                                  struct MHD_Response *resp,
                                  const char *content_type)
{
    if (!resp)
        return MHD_NO;
    const char *origin = header(c, "Origin");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            origin ? origin : "*");
    if (origin)
        MHD_add_response_header(resp, "Vary", "Origin");
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
    if (c->must_close || atomic_load(&c->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c->mhd, (unsigned)status, resp);
    MHD_destroy_response(resp);
    size_t slot = c->route == SIZE_MAX ? c->srv->router.n : c->route;
    qvs_metrics_record(&c->srv->metrics, slot, status, since(&c->t0));
    return ret;
}

/* Sends len bytes of buf (malloc'd; the reply takes it). */
/* send_buffer with a Retry-After header when retry_after is set. */
static enum MHD_Result send_buffer_retry(qvs_conn *c, int status, char *buf,
                                         size_t len, const char *content_type,
                                         const char *retry_after)
{
    if (!buf)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    if (retry_after && retry_after[0])
        MHD_add_response_header(resp, "Retry-After", retry_after);
    return send_reply(c, status, resp, content_type);
}

static enum MHD_Result send_buffer(qvs_conn *c, int status, char *buf,
                                   size_t len, const char *content_type)
{
    return send_buffer_retry(c, status, buf, len, content_type, NULL);
}

static enum MHD_Result send_static(qvs_conn *c, int status, const char *text,
                                   const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    return send_reply(c, status, resp, content_type);
}

static enum MHD_Result send_error(qvs_conn *c, int status, const char *msg)
{
    size_t len = 0;
    char *text = qvs_envelope_error(msg, since(&c->t0), &len);
    return send_buffer(c, status, text, len, "application/json");
}

static enum MHD_Result send_file(qvs_conn *c, int status, const char *path,
                                 const char *content_type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(c, 500, "Service internal error: cannot read file");
    }
    struct MHD_Response *resp =
        MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    return send_reply(c, status, resp, content_type);
}

/* CORS preflight: any origin, method and header, as Qdrant's defaults. */
static enum MHD_Result send_preflight(qvs_conn *c)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    const char *m = header(c, "Access-Control-Request-Method");
    const char *h = header(c, "Access-Control-Request-Headers");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                            m ? m
                              : "GET, POST, PUT, PATCH, DELETE, HEAD, "
                                "OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", h ? h : "*");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "3600");
    return send_reply(c, 200, resp, NULL);
}

/* Sends a handler's raw_body (taking it) with its extra headers. */
static enum MHD_Result send_raw(qvs_conn *c, int status, qvs_resp *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->raw_len, r->raw_body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO; /* r->raw_body stays the caller's to free */
    r->raw_body = NULL;
    for (size_t i = 0; i < QVS_MAX_RESP_HEADERS && r->headers[i][0]; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    return send_reply(c, status, resp,
                      r->raw_type ? r->raw_type : "application/octet-stream");
}

/* Turns a handler's reply into the HTTP reply; frees what it owns. */
static enum MHD_Result send_resp(qvs_conn *c, qvs_resp *r, double t)
{
    enum MHD_Result ret;
    int status = r->http_status ? r->http_status : 200;
    size_t len = 0;
    if (r->raw_file) {
        ret = send_file(c, status, r->raw_file,
                        r->raw_type ? r->raw_type : "application/octet-stream");
    } else if (r->raw_body) {
        ret = send_raw(c, status, r);
    } else if (status >= 400) {
        char *text = qvs_envelope_error(
            r->error[0] ? r->error : "Service internal error", t, &len);
        ret = send_buffer_retry(c, status, text, len, "application/json",
                                r->retry_after);
    } else if (r->accepted) {
        char *text = qvs_envelope_ok(NULL, "accepted", t, &len);
        ret = send_buffer(c, 202, text, len, "application/json");
    } else {
        cJSON *result = r->result ? r->result : cJSON_CreateNull();
        r->result = NULL;
        char *text = qvs_envelope_ok(result, "ok", t, &len);
        ret = text ? send_buffer(c, status, text, len, "application/json")
                   : send_error(c, 500,
                                "Service internal error: out of "
                                "memory");
    }
    cJSON_Delete(r->result);
    free(r->raw_body);
    free(r->raw_file);
    r->result = NULL;
    r->raw_body = NULL;
    r->raw_file = NULL;
    return ret;
}

/* ---- the request --------------------------------------------------------- */

static const char *req_query(const qvs_req *r, const char *key)
{
    const qvs_conn *c = r->conn;
    return MHD_lookup_connection_value(c->mhd, MHD_GET_ARGUMENT_KIND, key);
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
    size_t plen = strcspn(c->uri, "?#");
    c->path = strndup(c->uri, plen);
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

static bool body_too_large(const qvs_conn *c)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && n > c->srv->cfg.max_request_bytes;
}

static enum MHD_Result send_too_large(qvs_conn *c)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "JSON payload is larger than allowed (limit: %llu bytes)",
             (unsigned long long)c->srv->cfg.max_request_bytes);
    return send_error(c, 413, msg);
}

/* Replies decided from the headers alone (step 1). */
enum {
    EARLY_NONE = 0,
    EARLY_HEADERS,   /* 431 */
    EARLY_PREFLIGHT, /* OPTIONS */
    EARLY_NO_KEY,    /* 401 */
    EARLY_BAD_KEY,   /* 401 */
    EARLY_READ_ONLY, /* 403 */
    EARLY_NO_PATH,   /* 404 */
    EARLY_NO_METHOD, /* 405 */
    EARLY_BAD_PATH,  /* 422 */
    EARLY_NOT_UTF8,  /* 400 */
    EARLY_TOO_LARGE, /* 413 */
    EARLY_FRAMING    /* 400, 414, 431, 501: answered in begin, closes */
};

static enum MHD_Result send_early(qvs_conn *c, int early)
{
    static const char text_type[] = "text/plain; charset=utf-8";
    switch (early) {
    case EARLY_HEADERS:
        return send_error(c, 431, "Request header fields too large");
    case EARLY_PREFLIGHT:
        return send_preflight(c);
    case EARLY_NO_KEY:
        return send_static(
            c, 401, "Must provide an API key or an Authorization bearer token",
            text_type);
    case EARLY_BAD_KEY:
        return send_static(c, 401, "Invalid API key or JWT", text_type);
    case EARLY_READ_ONLY:
        return send_error(c, 403,
                          "Forbidden: Only read-only access is allowed");
    case EARLY_NO_PATH:
        return send_static(c, 404, "", NULL);
    case EARLY_NO_METHOD:
        return send_static(c, 405, "", NULL);
    case EARLY_BAD_PATH:
        return send_error(c, 422,
                          "Validation error in path parameters: [path: a "
                          "segment cannot contain the NUL char]");
    case EARLY_NOT_UTF8:
        return send_error(c, 400,
                          "Bad request: the request path is not valid UTF-8 "
                          "once percent-decoded");
    default:
        return send_too_large(c);
    }
}

static int decide_early(qvs_conn *c, const char *method)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        c->mhd, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > QVS_MAX_HEADER_BYTES)
        return EARLY_HEADERS;
    if (strcmp(method, "OPTIONS") == 0)
        return EARLY_PREFLIGHT;
    int m = match_route(c, method);
    const qvs_route *rt =
        m == QVS_MATCH_OK ? c->srv->router.entries[c->route].route : NULL;
    qvs_auth a = qvs_auth_check(&c->srv->cfg, header(c, "api-key"),
                                header(c, MHD_HTTP_HEADER_AUTHORIZATION),
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
    if (body_too_large(c))
        return EARLY_TOO_LARGE;
    return EARLY_NONE;
}

/* True unless the headers say there is no body. */
static bool has_body(const qvs_conn *c)
{
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
           (cl && strcmp(cl, "0") != 0);
}

/* ---- framing: what libmicrohttpd lets through -------------------------- */

/* What the header fields say about the message's framing. */
typedef struct framing {
    size_t n_fields;
    size_t n_te;
    const char *cl; /* the first Content-Length */
    bool cl_differ; /* another Content-Length with a different value */
    bool bad_field; /* a name that is not a token, or a control byte */
    const char *te; /* the first Transfer-Encoding */
} framing;

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    (void)kind;
    framing *f = cls;
    f->n_fields++;
    if (!key || !*key)
        f->bad_field = true;
    for (const char *k = key; k && *k; k++)
        if (!is_tchar((unsigned char)*k))
            f->bad_field = true;
    for (const char *v = value; v && *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
            f->bad_field = true;
    if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!f->cl)
            f->cl = value ? value : "";
        else if (strcmp(f->cl, value ? value : "") != 0)
            f->cl_differ = true;
    } else if (key && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (!f->n_te++)
            f->te = value ? value : "";
    }
    return MHD_YES;
}

/* A request whose framing is ambiguous or unknown (RFC 9112 section 6.3):
 * the connection cannot be trusted past it, so it is refused and closed.
 * Returns the status (0: fine) and the message in *msg.  libmicrohttpd has
 * already refused the worst (a Content-Length that is not a number, a
 * broken request line) with its own HTML reply; what it accepts but a
 * proxy in front of us might read differently -- both Content-Length and
 * Transfer-Encoding, two Content-Lengths, a coding other than chunked --
 * is what would let a second request hide in the first one's body. */
static int check_framing(qvs_conn *c, const char *version, const char **msg)
{
    framing f = {0};
    MHD_get_connection_values(c->mhd, MHD_HEADER_KIND, scan_field, &f);
    if (strlen(c->uri) > QVS_MAX_URI_BYTES) {
        *msg = "URI too long";
        return 414;
    }
    if (f.n_fields > QVS_MAX_HEADER_COUNT) {
        *msg = "Request header fields too large: too many fields";
        return 431;
    }
    if (f.bad_field) {
        *msg = "Bad request: malformed header field";
        return 400;
    }
    if (f.cl_differ) {
        *msg = "Bad request: conflicting Content-Length fields";
        return 400;
    }
    if (!f.n_te)
        return 0;
    if (f.cl) {
        *msg = "Bad request: both Content-Length and Transfer-Encoding";
        return 400;
    }
    if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
        *msg = "Bad request: Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    /* Only "chunked", once: the last coding must be chunked, and only
     * there (400 if not: the length is unknowable; several
     * Transfer-Encoding fields are refused rather than joined), and we
     * decode no other coding (501). */
    const char *te = f.te + strspn(f.te, " \t");
    size_t n = strcspn(te, " \t,");
    bool chunked = n == 7 && strncasecmp(te, "chunked", 7) == 0;
    if (f.n_te == 1 && chunked && te[n + strspn(te + n, " \t")] == '\0')
        return 0;
    const char *last = strrchr(f.te, ',');
    last = last ? last + 1 : f.te;
    last += strspn(last, " \t");
    char before[256];
    snprintf(before, sizeof(before), "%.*s", (int)(last - f.te), f.te);
    if (f.n_te > 1 || strcasestr(before, "chunked") ||
        strncasecmp(last, "chunked", 7) != 0 ||
        last[7 + strspn(last + 7, " \t")] != '\0') {
        *msg = "Bad request: Transfer-Encoding must end with chunked";
        return 400;
    }
    *msg = "Not implemented: transfer codings other than chunked";
    return 501;
}

/* Step 1: everything decided from the request line and headers.  A
 * refusal of a request with a body goes out at once, so the body is never
 * read (libmicrohttpd then closes the connection); one without a body is
 * answered after the (empty) body, which keeps the connection alive.  A
 * request with bad framing is answered at once and its connection
 * closed, whatever follows it on the wire. */
static enum MHD_Result begin(qvs_conn *c, const char *method,
                             const char *version)
{
    const char *msg = NULL;
    int status = check_framing(c, version, &msg);
    if (status) {
        if (c->sock && !qvs_sock_to(c->sock, QVS_PHASE_WAIT, QVS_PHASE_BUSY))
            return MHD_NO;
        c->answered = c->must_close = true;
        c->early = EARLY_FRAMING;
        return send_error(c, status, msg);
    }
    c->early = decide_early(c, method);
    bool body = has_body(c);
    int next = body && c->early == EARLY_NONE ? QVS_PHASE_BODY : QVS_PHASE_BUSY;
    if (c->sock && !qvs_sock_to(c->sock, QVS_PHASE_WAIT, next))
        return MHD_NO; /* the guard closed it meanwhile */
    if (c->early != EARLY_NONE && body) {
        c->answered = true;
        return send_early(c, c->early);
    }
    return MHD_YES;
}

/* Step 2: one piece of the body.  Returns false to drop the connection. */
static bool absorb(qvs_conn *c, const char *data, size_t n)
{
    uint64_t limit = c->srv->cfg.max_request_bytes;
    c->received += n;
    if (c->sock) {
        qvs_sock_body(c->sock, n);
        if (atomic_load(&c->sock->phase) == QVS_PHASE_DEAD)
            return false; /* too slow: the guard has answered 408 */
    }
    if (c->too_large) /* discarding, up to a bound */
        return c->received <= limit + (limit > (1u << 20) ? limit : 1u << 20);
    if (c->len + n > limit) {
        c->too_large = true;
        free(c->body);
        c->body = NULL;
        c->len = c->cap = 0;
        return true;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n)
            cap *= 2;
        if (cap > limit)
            cap = (size_t)limit;
        char *b = realloc(c->body, cap);
        if (!b)
            return false;
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    return true;
}

/* The file part of a multipart/form-data body, gathered by libmicrohttpd's
 * post processor (Qdrant's upload form sends the snapshot as the field
 * `snapshot`; the first file part is taken whatever its name). */
typedef struct part_buf {
    char *data;
    size_t len, cap;
    char *key; /* the field the data belongs to */
    bool failed;
} part_buf;

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *filename,
                               const char *content_type,
                               const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding, (void)off;
    part_buf *p = cls;
    if (!key || (!filename && strcmp(key, "snapshot") != 0))
        return MHD_YES; /* an ordinary form field */
    if (!p->key && !(p->key = strdup(key)))
        p->failed = true;
    if (p->failed || strcmp(p->key, key) != 0 || size == 0)
        return p->failed ? MHD_NO : MHD_YES;
    if (p->len + size > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 65536;
        while (cap < p->len + size)
            cap *= 2;
        char *d = realloc(p->data, cap);
        if (!d) {
            p->failed = true;
            return MHD_NO;
        }
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data + p->len, data, size);
    p->len += size;
    return MHD_YES;
}

/* A raw-body route sent multipart/form-data: keep only the file part.
 * False (the error in r) when the form holds no file. */
static bool unwrap_multipart(qvs_conn *c, qvs_resp *r)
{
    const char *type = MHD_lookup_connection_value(
        c->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!type || strncasecmp(type, "multipart/form-data", 19) != 0)
        return true;
    part_buf p = {0};
    struct MHD_PostProcessor *pp =
        MHD_create_post_processor(c->mhd, 65536, on_part, &p);
    bool ok = pp && MHD_post_process(pp, c->body, c->len) == MHD_YES &&
              !p.failed && p.key;
    if (pp)
        MHD_destroy_post_processor(pp);
    free(p.key);
    if (!ok) {
        free(p.data);
        return qvs_fail(r, 400,
                        "Format error in multipart body: no file part "
                        "(send the snapshot as the form field `snapshot`)");
    }
    free(c->body);
    c->body = p.data;
    c->len = p.len;
    c->cap = p.cap;
    return true;
}

/* Step 3: the whole request is in: decode the body, run the handler,
 * keep its reply in c->resp.  Queues nothing on the connection, so a
 * worker may run it while the connection is suspended. */
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

/* ---- the worker pool ------------------------------------------------------
 * Handlers that may be slow (every route but the inline ones: /, /healthz,
 * /livez, /readyz, /metrics) run in a pool of cfg.threads workers, not in
 * libmicrohttpd's threads: the connection is suspended, the request
 * queued, and a worker runs it and resumes the connection, whose thread
 * then sends the reply.  So a probe, or the head of any request, never
 * waits behind a search or a snapshot.
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
 * places. */

/* Queues job; a REST request's connection (suspend, or NULL for a gRPC
 * call) is suspended under the lock, before any worker can resume it. */
static bool submit(qvs_server *srv, qvs_job *job,
                   struct MHD_Connection *suspend)
{
    pthread_mutex_lock(&srv->qlock);
    qvs_queue *q = &srv->queue[job->write ? QUEUE_WRITE : QUEUE_READ];
    bool ok = q->len < q->cap && !srv->qstop;
    if (ok) {
        if (suspend)
            MHD_suspend_connection(suspend);
        job->seq = srv->qseq++;
        q->ring[(q->head + q->len++) % q->cap] = job;
        pthread_cond_signal(&srv->qcond);
    }
    pthread_mutex_unlock(&srv->qlock);
    return ok;
}

bool qvs_server_submit(qvs_server *srv, qvs_job *job)
{
    return submit(srv, job, NULL);
}

static void conn_run(qvs_job *job)
{
    run_request((qvs_conn *)job); /* job is the first member */
}

static void conn_done(qvs_job *job)
{
    MHD_resume_connection(((qvs_conn *)job)->mhd); /* libmicrohttpd's again */
}

static bool enqueue(qvs_conn *c)
{
    c->job.run = conn_run;
    c->job.done = conn_done;
    return submit(c->srv, &c->job, c->mhd);
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
        srv->queue[k].ring = calloc(srv->queue[k].cap, sizeof(qvs_conn *));
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

/* Step 3 in libmicrohttpd's thread: a probe runs here, anything else goes
 * to the pool; called again when the worker resumes the connection. */
static enum MHD_Result finish(qvs_conn *c, const char *method)
{
    if (c->ran)
        return send_resp(c, &c->resp, c->t);
    if (c->too_large)
        return send_too_large(c);
    c->method = method;
    const qvs_route *rt = c->srv->router.entries[c->route].route;
    if (!(rt->flags & QVS_ROUTE_INLINE)) {
        c->job.write = (rt->flags & QVS_ROUTE_WRITE) != 0;
        if (enqueue(c))
            return MHD_YES;
        return send_error(c, 503,
                          "Service unavailable: too many requests in flight");
    }
    run_request(c);
    return send_resp(c, &c->resp, c->t);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mhd,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    qvs_conn *c = *con_cls;
    if (!c) {
        c = conn_new(cls, url);
        if (!c)
            return MHD_NO;
        *con_cls = c;
    }
    if (!c->started) {
        c->started = true;
        c->mhd = mhd;
        c->sock = sock_of(mhd);
        clock_gettime(CLOCK_MONOTONIC, &c->t0);
        return begin(c, method, version);
    }
    if (c->early != EARLY_NONE) {
        if (*upload_data_size || c->answered)
            return MHD_NO;
        c->answered = true;
        return send_early(c, c->early);
    }
    if (*upload_data_size) {
        bool ok = absorb(c, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    if (c->sock && atomic_load(&c->sock->phase) != QVS_PHASE_BUSY &&
        !qvs_sock_to(c->sock, QVS_PHASE_BODY, QVS_PHASE_BUSY))
        return MHD_NO; /* the body came too slowly: closed by the guard */
    return finish(c, method);
}

/* ---- start and stop ------------------------------------------------------ */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    /* A client that hangs up, or that the guard cut off, is routine; a
     * line each would let a flood of slow sockets flood the log too. */
    if (strncmp(line, "Connection socket is closed when reading", 40) == 0 ||
        strncmp(line, "Connection was closed by remote side", 36) == 0)
        return;
    fprintf(stderr, "quiver serve: libmicrohttpd: %s", line);
    if (!*line || line[strlen(line) - 1] != '\n')
        fputc('\n', stderr);
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

/* Each connection is one descriptor; says so when the process may run
 * out before the connection limit is reached (accept then fails, and
 * libmicrohttpd stops accepting until a connection closes).  `quiver
 * serve` raises its soft limit to the hard one at start. */
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

static struct MHD_Daemon *start_daemon(qvs_server *srv, char *err, size_t cap)
{
    const char *host = qvs_config_host(&srv->cfg);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%u", srv->cfg.port);
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, cap, "cannot resolve host '%s': %s", host,
                 gai_strerror(rc));
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME; /* the worker pool */
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned threads = srv->cfg.threads ? srv->cfg.threads : 1;
    /* libmicrohttpd's own limit sits above the guard's, with room for the
     * sockets the guard has closed and libmicrohttpd not yet reaped: the
     * guard decides who is let go, libmicrohttpd's refusal is the last
     * resort.  Its per-address limit is left off for the same reason. */
    unsigned conns = srv->cfg.max_connections;
    unsigned hard = conns + conns / 4 + 16;
    if (hard < threads)
        hard = threads;
    warn_fd_limit(hard);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, hard, MHD_OPTION_CONNECTION_TIMEOUT,
        QVS_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)QVS_MHD_POOL_BYTES,
        MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)16 * 1024,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d)
        snprintf(err, cap,
                 "cannot listen on %s port %u (in use, or not an address of "
                 "this machine?)",
                 host, srv->cfg.port);
    return d;
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
    srv->daemon = start_daemon(srv, err, cap);
    if (!srv->daemon)
        goto fail;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;
    if (cfg->grpc_port != 0 && !qvs_grpc_start(srv, &srv->grpc, err, cap))
        goto fail;
    *out = srv;
    return true;
fail:
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    pool_stop(srv);
    pthread_cond_destroy(&srv->qcond);
    pthread_mutex_destroy(&srv->qlock);
    qvs_guard_free(srv->guard);
    qvs_catalog_close(srv->catalog);
    qvs_metrics_free(&srv->metrics);
    qvs_router_free(&srv->router);
    free(srv);
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
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
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
    pool_stop(srv); /* runs what is still queued, resumes its connections */
    MHD_stop_daemon(srv->daemon); /* unregisters every socket */
    pthread_cond_destroy(&srv->qcond);
    pthread_mutex_destroy(&srv->qlock);
    qvs_guard_free(srv->guard);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    qvs_catalog_close(srv->catalog);
    qvs_metrics_free(&srv->metrics);
    qvs_router_free(&srv->router);
    free(srv);
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
