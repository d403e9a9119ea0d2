/*
 * wire.h -- reading HTTP/1.1 requests off a byte stream (wire.c), for the
 * server's connection loop (http.c) and the fuzz target
 * tests/fuzz/fuzz_http_wire.c.
 *
 * A qvs_wire turns the bytes of one connection into requests, one at a
 * time, with Debian's http-parser doing the framing (request line,
 * header fields, Content-Length, chunked decoding) and this layer adding
 * what a server needs on top: the limits (URI, header bytes, field count,
 * body), the RFC 9112 section 6.3 framing rules that stop request
 * smuggling, and one Qdrant-style error (status and message) for every way
 * a request can be malformed.  It owns no socket and no clock.
 *
 * The caller feeds bytes with qvs_wire_feed, which consumes a prefix of
 * them and reports an event:
 *   QVS_WIRE_MORE   everything was consumed, more bytes are needed;
 *   QVS_WIRE_HEAD   the request line and fields are in (url, fields,
 *                   content length): the caller decides routing,
 *                   authorisation, 100-continue; feeding again reads the
 *                   body;
 *   QVS_WIRE_DONE   the whole request is in (body included); bytes after
 *                   it (a pipelined request) are not consumed: the caller
 *                   keeps them, handles the request, calls qvs_wire_next
 *                   and feeds them again;
 *   QVS_WIRE_ERROR  the request is malformed: status (400, 413, 414, 431,
 *                   501, 505) and message are set, and the connection can
 *                   no longer be trusted -- it is to be answered and
 *                   closed.  Feeding again returns ERROR at once.
 *
 * Thread safety: a qvs_wire is used by one thread at a time (the
 * connection's owner); separate ones are independent.
 */
#ifndef QUIVER_SERVER_WIRE_H
#define QUIVER_SERVER_WIRE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { QVS_WIRE_MORE = 0, QVS_WIRE_HEAD, QVS_WIRE_DONE, QVS_WIRE_ERROR };

typedef struct qvs_wire_limits {
    size_t max_uri;          /* request target bytes (414 beyond) */
    size_t max_header_bytes; /* field names and values together (431) */
    size_t max_fields;       /* field count (431) */
    uint64_t max_body;       /* body bytes kept (413 beyond) */
} qvs_wire_limits;

/* One header field: offsets into the wire's field arena. */
typedef struct qvs_wire_field {
    size_t name, value; /* NUL-terminated strings in `arena` */
    size_t name_len;    /* while the name is still arriving */
    bool name_done;
} qvs_wire_field;

typedef struct qvs_wire {
    http_parser hp;
    qvs_wire_limits lim;
    /* the request being read */
    char *url;
    size_t url_len, url_cap;
    char *arena; /* field names and values, NUL-terminated */
    size_t arena_len, arena_cap;
    qvs_wire_field *fields;
    size_t n_fields, fields_cap;
    size_t header_bytes;
    char *body;
    size_t body_len, body_cap;
    /* framing */
    const char *feed_end; /* end of the bytes being executed */
    unsigned n_cl, n_te;
    int crlf_need; /* bytes of a chunk's CRLF still to check (2, 1, 0) */
    char lead[3];  /* a request's first bytes: "PRI" is HTTP/2's preface */
    size_t lead_n;
    /* outcome */
    int event;
    bool failed;
    int status;
    char message[160];
} qvs_wire;

/* Prepares w for a new connection (no allocation). */
void qvs_wire_init(qvs_wire *w, const qvs_wire_limits *lim);

/* Frees what w holds; w may be initialised again. */
void qvs_wire_free(qvs_wire *w);

/* Consumes a prefix of p[0..n) and returns its length; *event says why it
 * stopped (see above). */
size_t qvs_wire_feed(qvs_wire *w, const char *p, size_t n, int *event);

/* After QVS_WIRE_DONE: forgets the request (its url, fields and body) so
 * the next one on the connection can be read. */
void qvs_wire_next(qvs_wire *w);

/* After QVS_WIRE_HEAD or DONE: the request's parts.  Strings stay valid
 * until qvs_wire_next or qvs_wire_free. */
const char *qvs_wire_method(const qvs_wire *w);
const char *qvs_wire_url(const qvs_wire *w); /* raw, percent-encoded */
/* The first field named name (case-insensitive), surrounding blanks
 * trimmed; NULL if none. */
const char *qvs_wire_header(const qvs_wire *w, const char *name);
/* True if the request announced a body (a Content-Length other than 0, or
 * chunked). */
bool qvs_wire_has_body(const qvs_wire *w);
/* The announced Content-Length, or UINT64_MAX for none (chunked). */
uint64_t qvs_wire_content_length(const qvs_wire *w);
/* True if the connection may carry another request after this one
 * (HTTP/1.1 without "Connection: close", or 1.0 with keep-alive). */
bool qvs_wire_keep_alive(const qvs_wire *w);
/* The body so far (all of it after DONE); NULL when empty. */
char *qvs_wire_body(qvs_wire *w, size_t *len);
/* Takes the body buffer (malloc'd, caller frees); the wire forgets it. */
char *qvs_wire_take_body(qvs_wire *w, size_t *len, size_t *cap);

#endif /* QUIVER_SERVER_WIRE_H */
