/*
 * api.h -- the contract between the HTTP layer of the server and the files
 * that implement Qdrant's endpoints.
 *
 * The HTTP layer (http.c and friends) owns everything about transport:
 * the connection loops, reading and limiting bodies, parsing JSON,
 * authentication, CORS, metrics, the envelope and the clock.  An endpoint sees
 * one parsed request (qvs_req) and fills one reply (qvs_resp); it never touches
 * a socket, never writes an envelope and never decides authorisation, which the
 * router does from the matched route's flags, so no encoding of a path can
 * reach a handler the caller may not call.
 *
 * Endpoint files export tables of qvs_route; the router matches method and
 * path pattern (segments "{name}" capture one decoded path segment, in
 * order, into req->params).  Literal segments win over captures, as in
 * Qdrant (".../points/scroll" before ".../points/{id}").
 */
#ifndef QUIVER_SERVER_API_H
#define QUIVER_SERVER_API_H

#include "quiver.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct qvs_catalog;

#define QVS_MAX_PARAMS       4
#define QVS_MAX_RESP_HEADERS 6

typedef struct qvs_req {
    const char *method;                 /* "GET", "POST", ... */
    const char *params[QVS_MAX_PARAMS]; /* captured path segments, decoded */
    size_t n_params;
    const cJSON *body; /* parsed JSON body; NULL if none */
    const char *(*query)(const struct qvs_req *r, const char *key);
    /* query-string value or NULL */
    void *conn;                  /* the HTTP layer's, opaque */
    struct qvs_catalog *catalog; /* the server's collections */
} qvs_req;

/* What a handler produces.  On success it sets result (the reply takes
 * ownership; the HTTP layer wraps it as {"result":...,"status":"ok",
 * "time":...}).  On failure it calls qvs_fail, which sets http_status and
 * the message that goes into {"status":{"error":...},"time":...}.
 * raw_body/raw_type (owned, malloc'd) send a non-JSON body as is (metrics,
 * snapshot downloads); raw_file streams a file by path instead.
 * accepted = true answers 202 {"status":"accepted"} with no result. */
typedef struct qvs_resp {
    int http_status; /* 200 until a handler says otherwise */
    cJSON *result;
    char error[1024];
    char *raw_body;
    size_t raw_len;
    const char *raw_type;
    char *raw_file; /* path of a file to send (snapshot download) */
    /* raw_file is the only file in a private temporary directory (a
     * streamed shard snapshot): both are removed once the file is open
     * for sending, or when the reply is dropped. */
    bool raw_file_tmp;
    bool accepted;
    /* Extra headers of a raw_body reply, {name, value} pairs, unused ones
     * NULL: static strings, never freed (the dashboard's ETag,
     * Cache-Control and security headers). */
    const char *headers[QVS_MAX_RESP_HEADERS][2];
    /* Retry-After of an error reply (a 429 of strict mode's rate limits),
     * "" for none. */
    char retry_after[24];
} qvs_resp;

/* Sets status and a formatted message (already prefixed the Qdrant way by
 * the caller, e.g. "Not found: Collection `x` doesn't exist!"); returns
 * false so handlers can write "return qvs_fail(...)" in bool helpers. */
bool qvs_fail(qvs_resp *r, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*qvs_handler)(const qvs_req *req, qvs_resp *resp);

enum {
    QVS_ROUTE_WRITE = 1u << 0,    /* refused (403) for the read-only key */
    QVS_ROUTE_OPEN = 1u << 1,     /* needs no API key (/, /healthz, ...) */
    QVS_ROUTE_RAW_BODY = 1u << 2, /* body is not JSON (snapshot upload):
                                     the handler reads it via
                                     qvs_req_raw_body */
    QVS_ROUTE_INLINE = 1u << 3,   /* runs in the connection loop, never
                                     queued (probes, /metrics): it must
                                     never wait for a lock a writer holds */
};

typedef struct qvs_route {
    const char *method;
    const char *pattern; /* "/collections/{name}/points/{id}" */
    qvs_handler handler;
    unsigned flags;
    const char *metric_name; /* endpoint label for /metrics */
} qvs_route;

/* The raw request body of a QVS_ROUTE_RAW_BODY route (NULL/0 otherwise).
 * Implemented by the HTTP layer. */
const void *qvs_req_raw_body(const qvs_req *req, size_t *len);

/* The value of request header name (case-insensitive), or NULL; valid for
 * the handler's call.  Implemented by the HTTP layer. */
const char *qvs_req_header(const qvs_req *req, const char *name);

#endif /* QUIVER_SERVER_API_H */
