/*
 * grpc_server.c -- gRPC over HTTP/2: the listener, libnghttp2 sessions,
 * gRPC's message framing and status trailers.
 *
 * One thread runs a poll loop over the listening socket, an eventfd that
 * workers and qvs_grpc_stop ring, and every client connection.  Each
 * connection is an nghttp2 server session, touched only by this thread:
 * bytes read go to nghttp2_session_mem_recv, whose callbacks collect each
 * stream's headers and DATA; bytes nghttp2 wants to send go out through a
 * non-blocking send, the rest when the socket is writable.  HTTP/2 framing,
 * flow control and HPACK are libnghttp2's; ours are the gRPC parts (the
 * 5-byte length prefix of a message, the grpc-status/grpc-message
 * trailers, grpc-timeout).
 *
 * A call's life: the request stream ends (END_STREAM) -> the head is
 * checked (POST, content-type application/grpc*, a known method, the
 * api-key metadata as REST checks it, exactly one uncompressed message of
 * at most the server's max request size) -> the call is queued in the
 * REST server's worker pool (http.c, shared: the same workers, queues,
 * write cap and "queue full" answer) -> a worker runs it (grpc_rpc.c),
 * submits the reply (HEADERS, one DATA message, trailers) and sends what
 * the socket takes, then puts the call on the `done` list, where this
 * thread frees it.  Any refusal is a "trailers-only" reply (one HEADERS
 * frame with grpc-status), never a dropped stream, so a client always
 * learns why.  Health checks (qdrant.Qdrant/HealthCheck,
 * grpc.health.v1.Health/Check) are answered by this thread at once, never
 * queued behind searches or writes, as REST's probes are.
 *
 * Replies from the workers.  Handing every reply back to this thread
 * cost two wake-ups a call (the eventfd, then poll for the socket) and,
 * on the 2-core benchmark (bench/grpc_load.sh), a sixth of the server's
 * time in the scheduler.  So the worker that ran a call sends its reply
 * itself, holding the connection's mutex `mu`, which this thread holds
 * whenever it touches the connection (reads, flushes, deadlines, GOAWAY,
 * the poll set).  The worker rings the eventfd only when something is
 * left for this thread: bytes the socket did not take (this thread then
 * polls for POLLOUT), a session that is done or failed (only this thread
 * closes a socket: it may be polling it), or a stop.  Otherwise the call
 * waits on `done` until this thread next wakes -- a request, or the tick
 * (TICK_MS), which also starts the idle timer of a connection whose last
 * stream a worker closed.  Head of line: a call still runs in the pool,
 * so a slow one never holds up the other streams of its connection, and
 * writes keep their own queue and cap.  QUIVER_GRPC_HANDOFF=loop restores
 * the hand-back (for measurements).  A flush gathers every frame nghttp2
 * has ready into the connection's `wbuf` and sends them with one send():
 * a reply's HEADERS, DATA and trailers are one TCP segment, so the client
 * wakes once for it, not up to three times.
 *
 * Reading under load.  While reads wait in the pool's queue every worker
 * is busy, and a call read now would only wait behind them; yet reading
 * it at once costs this thread a wake-up per call, which on the 2-core
 * benchmark preempts a worker in the middle of a search.  So while the
 * pool is saturated (qvs_server_drain_arm) this thread stops polling its
 * connections for input and reads them all at once when the worker that
 * takes the last queued read rings it (the drain notice), or after
 * SATED_MS at the latest: one wake-up reads the calls of several
 * connections, as a NIC coalesces interrupts under load.  A read so
 * delayed starts about when it would have anyway (the queue ahead of it
 * was not empty until the notice); a write, a health probe, a PING or a
 * WINDOW_UPDATE waits at most SATED_MS more, and so does the start of a
 * grpc-timeout (a deadline already read expires on time: poll still
 * wakes for it).  With an empty queue every socket
 * is read as soon as it is readable.  QUIVER_GRPC_POLL=eager reads
 * eagerly always (for measurements).
 *
 * Ownership.  A call (gcall) belongs to its stream until it is queued,
 * then to the worker until `done` (its reply fields, `answered` and the
 * session under the connection's `mu`), then to this thread again.  When a
 * stream closes while its call is in the pool (the client cancelled), the
 * call is marked orphaned and freed when it comes back.  A connection is
 * freed only once it is closed and none of its calls is in the pool
 * (`pending`), so a returning call always finds its connection.
 *
 * Deadlines (grpc-timeout): a call whose deadline passes is answered
 * DEADLINE_EXCEEDED at once by this thread (poll wakes for the nearest
 * deadline); a queued call past its deadline is not run at all, and one
 * already running finishes but its reply is dropped.
 *
 * Limits: the connection guard (guard.c) registers every socket with the
 * REST connections, so --max-connections and --max-connections-per-ip
 * count both; a connection is BUSY while it has streams and WAIT when
 * idle, so an idle connection closes after the header timeout, as REST's
 * keep-alive does (clients reconnect), and the oldest idle ones are
 * evicted first.  Half a second before that timeout an idle connection
 * gets GOAWAY: the client opens a new connection for its next call, and a
 * call already on its way is refused with REFUSED_STREAM, which clients
 * retry (it never ran), instead of meeting a closed socket.  A
 * connection has at most MAX_STREAMS concurrent streams
 * (SETTINGS_MAX_CONCURRENT_STREAMS), and its streams together buffer at
 * most twice the message size limit (RESOURCE_EXHAUSTED beyond), so one
 * connection holds little more than one REST request may.
 *
 * Shutdown: the listener closes, every session gets GOAWAY (clients send
 * new calls elsewhere or reconnect), calls in flight finish and are
 * answered, then the connections close.
 */
#include "grpc.h"

#include "guard.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 64
#define N_CODES     17 /* gRPC status codes 0..16 */
#define READ_CHUNK  16384
#define TICK_MS     100 /* the longest poll: frees calls workers answered */
#define SATED_MS    5   /* the longest a saturated pool leaves sockets unread */

typedef struct gconn gconn;

typedef struct gcall {
    qvs_job job; /* first: the pool hands it back */
    gconn *conn;
    int32_t stream_id;
    /* The head, as received. */
    char path[256];
    char api_key[512], authorization[520];
    bool has_api_key, has_authorization;
    bool post, grpc_type;
    bool gzip;           /* grpc-encoding: gzip */
    int64_t deadline_ns; /* 0: none */
    /* The body: length-prefixed messages, as received. */
    uint8_t *in;
    size_t in_len, in_cap;
    bool too_large;     /* answered RESOURCE_EXHAUSTED; data discarded */
    const uint8_t *msg; /* the message: into in, or inflated */
    size_t msg_len;
    uint8_t *inflated; /* owned, when the message was gzip-compressed */
    const qvs_grpc_method *method;
    /* The reply. */
    int status;
    char message[1024];
    uint8_t *out; /* 5-byte prefix + message */
    size_t out_len, out_off;
    bool in_pool;  /* queued or running */
    bool answered; /* a reply was submitted */
    bool orphan;   /* the stream closed while in the pool */
    struct gcall *next_done;
    struct gcall *prev, *next; /* the connection's open streams */
} gcall;

struct gconn {
    qvs_grpc *g;
    /* The session and its calls' reply state (answered, orphan, in_pool,
     * the open list, streams, buffered, closed): this thread holds it
     * whenever it touches the connection, a worker while it answers one
     * of its calls (see "Replies from the workers" above). */
    pthread_mutex_t mu;
    int fd;
    nghttp2_session *ng;
    qvs_sock *sock;
    size_t streams;     /* open streams */
    size_t pending;     /* calls in the pool */
    size_t buffered;    /* request bytes its calls hold (in_cap summed) */
    bool closed;        /* socket closed, session gone */
    gcall *open;        /* calls whose stream is open (deadlines) */
    int64_t idle_since; /* when streams last fell to 0 */
    bool goaway;        /* sent: the client opens a new connection */
    /* Frames serialized but not yet taken by the socket (mu): a flush
     * gathers every frame nghttp2 has ready and sends them in one call,
     * so a reply (HEADERS, DATA, trailers) is one segment and one wake-up
     * of the client, not three. */
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    gconn *next;
};

struct qvs_grpc {
    qvs_server *srv;
    uint64_t max_bytes;
    int64_t idle_ns; /* an idle connection gets GOAWAY after this */
    int listen_fd;
    int wake_fd;
    unsigned port;
    pthread_t thread;
    gconn *conns;
    atomic_bool stopping;
    atomic_size_t pending; /* calls in the pool, all connections */
    size_t n_methods;
    /* Replies sent: [method index (n_methods: unknown)][status code]. */
    atomic_uint_least64_t (*replies)[N_CODES];
    pthread_mutex_t done_mu;
    gcall *done;       /* calls back from the pool (done_mu) */
    bool worker_reply; /* workers send their replies (QUIVER_GRPC_HANDOFF) */
    bool coalesce; /* read while saturated only on drain (QUIVER_GRPC_POLL) */
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void ring(qvs_grpc *g)
{
    uint64_t one = 1;
    ssize_t n = write(g->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the loop */
}

/* The pool's drain notice (qvs_server_drain_arm): the last queued read
 * was taken, so read the sockets now. */
static void drain_ring(void *arg)
{
    ring(arg);
}

static void call_free(gcall *c)
{
    if (!c)
        return;
    c->conn->buffered -= c->in_cap;
    free(c->in);
    free(c->inflated);
    free(c->out);
    free(c);
}

/* ---- replies ------------------------------------------------------------- */

/* grpc-message is percent-encoded: bytes outside 0x20..0x7e and '%'. */
static void percent_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
        if (o + (plain ? 1 : 3) >= cap)
            break;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

#define NV(n, v)                                                               \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),              \
            NGHTTP2_NV_FLAG_NO_COPY_NAME                                       \
    }

static void submit_trailers(gconn *k, gcall *c)
{
    char code[16], msg[3200];
    snprintf(code, sizeof(code), "%d", c->status);
    percent_encode(c->message, msg, sizeof(msg));
    nghttp2_nv tr[] = {NV("grpc-status", code), NV("grpc-message", msg)};
    nghttp2_submit_trailer(k->ng, c->stream_id, tr, c->status ? 2 : 1);
}

static ssize_t read_out(nghttp2_session *ng, int32_t stream_id, uint8_t *buf,
                        size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)stream_id;
    gconn *k = user;
    gcall *c = src->ptr;
    size_t n = c->out_len - c->out_off;
    if (n > length)
        n = length;
    memcpy(buf, c->out + c->out_off, n);
    c->out_off += n;
    if (c->out_off == c->out_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        submit_trailers(k, c);
    }
    return (ssize_t)n;
}

/* Sends c's reply: with a message (status OK), or trailers-only.
 * http_status is 200 except for a refused head (415, 405). */
/* A trailers-only reply: one HEADERS frame with the status.  Touches no
 * field of c but `answered` (the loop's own), so it may answer a call a
 * worker is running (a deadline). */
static void count_reply(qvs_grpc *g, const gcall *c, int status)
{
    size_t m = qvs_grpc_method_index(c->path);
    if (status >= 0 && status < N_CODES)
        atomic_fetch_add_explicit(&g->replies[m][status], 1,
                                  memory_order_relaxed);
}

static void send_status(gconn *k, gcall *c, int http_status, int status,
                        const char *message)
{
    if (c->answered || k->closed)
        return;
    c->answered = true;
    count_reply(k->g, c, status);
    char st[8], code[16], msg[3200];
    snprintf(st, sizeof(st), "%d", http_status);
    snprintf(code, sizeof(code), "%d", status);
    percent_encode(message, msg, sizeof(msg));
    nghttp2_nv h[] = {NV(":status", st), NV("content-type", "application/grpc"),
                      NV("grpc-status", code), NV("grpc-message", msg)};
    nghttp2_submit_response(k->ng, c->stream_id, h, status ? 4 : 3, NULL);
}

/* Sends the reply of a call back from the pool: the message, or its
 * error status. */
static void answer(gconn *k, gcall *c)
{
    if (c->status != QVS_GRPC_OK || !c->out) {
        send_status(k, c, 200, c->status, c->message);
        return;
    }
    if (c->answered || k->closed)
        return;
    c->answered = true;
    count_reply(k->g, c, QVS_GRPC_OK);
    nghttp2_nv h[] = {NV(":status", "200"),
                      NV("content-type", "application/grpc"),
                      NV("grpc-accept-encoding", "identity,gzip")};
    nghttp2_data_provider prd = {.source.ptr = c, .read_callback = read_out};
    nghttp2_submit_response(k->ng, c->stream_id, h, 3, &prd);
}

static void refuse(gconn *k, gcall *c, int http_status, int status,
                   const char *fmt, const char *arg)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), fmt, arg);
    send_status(k, c, http_status, status, msg);
}

/* ---- sending ------------------------------------------------------------- */

#define WBUF_GATHER 65536 /* stop gathering frames past this many bytes */

/* Sends what nghttp2 has ready, gathered into k->wbuf so that the frames
 * of a reply leave in one send() (one segment, one wake-up of the client).
 * Holding k->mu.  Returns 0 when everything went out or the socket is
 * full (the rest stays in wbuf: conn_want_write_locked is then true and
 * the loop polls for POLLOUT), -1 on a failed session or socket. */
static int conn_send_locked(gconn *k)
{
    for (;;) {
        while (k->wlen - k->woff < WBUF_GATHER) {
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(k->ng, &d);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            if (k->wlen + (size_t)n > k->wcap) {
                if (k->woff) { /* compact before growing */
                    memmove(k->wbuf, k->wbuf + k->woff, k->wlen - k->woff);
                    k->wlen -= k->woff;
                    k->woff = 0;
                }
                size_t cap = k->wcap ? k->wcap : 4096;
                while (cap < k->wlen + (size_t)n)
                    cap *= 2;
                if (cap != k->wcap) {
                    uint8_t *p = realloc(k->wbuf, cap);
                    if (!p)
                        return -1;
                    k->wbuf = p;
                    k->wcap = cap;
                }
            }
            memcpy(k->wbuf + k->wlen, d, (size_t)n);
            k->wlen += (size_t)n;
        }
        if (k->woff == k->wlen)
            return 0;
        ssize_t n = send(k->fd, k->wbuf + k->woff, k->wlen - k->woff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        k->woff += (size_t)n;
        if (k->woff < k->wlen)
            return 0; /* the socket is full: POLLOUT */
        k->woff = k->wlen = 0;
    }
}

/* Whether k has bytes to send: buffered, or frames nghttp2 holds. */
static bool conn_want_write_locked(gconn *k)
{
    return k->wlen > k->woff || nghttp2_session_want_write(k->ng);
}

/* ---- running a call ------------------------------------------------------ */

static void call_run(qvs_job *job)
{
    gcall *c = (gcall *)job;
    qvs_grpc *g = c->conn->g;
    if (c->deadline_ns && now_ns() >= c->deadline_ns) {
        c->status = QVS_GRPC_DEADLINE_EXCEEDED;
        snprintf(c->message, sizeof(c->message), "Deadline Exceeded");
        return;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    c->status = qvs_grpc_invoke(g->srv, c->method, c->msg, c->msg_len, &out,
                                &out_len, c->message, sizeof(c->message));
    if (c->status != QVS_GRPC_OK) {
        free(out);
        return;
    }
    c->out = malloc(out_len + 5);
    if (!c->out) {
        free(out);
        c->status = QVS_GRPC_RESOURCE_EXHAUSTED;
        snprintf(c->message, sizeof(c->message), "out of memory");
        return;
    }
    c->out[0] = 0;
    c->out[1] = (uint8_t)(out_len >> 24);
    c->out[2] = (uint8_t)(out_len >> 16);
    c->out[3] = (uint8_t)(out_len >> 8);
    c->out[4] = (uint8_t)out_len;
    if (out_len)
        memcpy(c->out + 5, out, out_len);
    c->out_len = out_len + 5;
    free(out);
}

static void call_done(qvs_job *job)
{
    gcall *c = (gcall *)job;
    gconn *k = c->conn;
    qvs_grpc *g = k->g;
    /* The reply goes out from here when the connection is open; this
     * thread is woken only when something is left for it: bytes the
     * socket did not take (it must poll for POLLOUT), a session to close,
     * an error, a stop.  Otherwise the call waits on `done` until the
     * next time the loop wakes (a request, a tick) and frees it. */
    bool wake = true;
    if (g->worker_reply) {
        pthread_mutex_lock(&k->mu);
        if (!c->orphan && !k->closed) {
            answer(k, c);
            wake = conn_send_locked(k) != 0 || conn_want_write_locked(k) ||
                   !nghttp2_session_want_read(k->ng);
        }
        pthread_mutex_unlock(&k->mu);
    }
    if (atomic_load(&g->stopping))
        wake = true;
    /* Rung under the lock: once the loop has taken c (which needs the
     * lock), this worker touches g no more, so a stopping loop may free
     * g (a race ThreadSanitizer found with the ring after the unlock). */
    pthread_mutex_lock(&g->done_mu);
    c->next_done = g->done;
    g->done = c;
    if (wake)
        ring(g);
    pthread_mutex_unlock(&g->done_mu);
}

/* Parses grpc-timeout ("100m": an ASCII integer of at most 8 digits and a
 * unit H, M, S, m, u, n) into an absolute deadline; false if malformed. */
static bool parse_timeout(const char *v, size_t len, int64_t *deadline)
{
    if (len < 2 || len > 9)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        n = n * 10 + (v[i] - '0');
    }
    static const char units[] = "HMSmun";
    static const int64_t ns[] = {3600000000000, 60000000000, 1000000000,
                                 1000000,       1000,        1};
    const char *u = strchr(units, v[len - 1]);
    if (!u || !v[len - 1])
        return false;
    int64_t scale = ns[u - units];
    int64_t t = n > INT64_MAX / scale ? INT64_MAX / 2 : n * scale;
    *deadline = now_ns() + (t > INT64_MAX / 2 ? INT64_MAX / 2 : t);
    return true;
}

/* The request stream ended: check the head and the framing, then queue. */
static void dispatch(gconn *k, gcall *c)
{
    qvs_grpc *g = k->g;
    if (c->answered)
        return;
    if (!c->post) {
        refuse(k, c, 405, QVS_GRPC_UNIMPLEMENTED, "%s",
               "gRPC requests must use POST");
        return;
    }
    if (!c->grpc_type) {
        refuse(k, c, 415, QVS_GRPC_INVALID_ARGUMENT, "%s",
               "content-type must be application/grpc");
        return;
    }
    c->method = qvs_grpc_find(c->path);
    if (!c->method) {
        refuse(k, c, 200, QVS_GRPC_UNIMPLEMENTED, "Method not found: %s",
               c->path);
        return;
    }
    if (!qvs_grpc_method_implemented(c->method)) {
        refuse(k, c, 200, QVS_GRPC_UNIMPLEMENTED,
               "%s is not implemented by this server (Quiver)", c->path);
        return;
    }
    const qvs_config *cfg = qvs_server_config(g->srv);
    qvs_auth a = qvs_auth_check(cfg, c->has_api_key ? c->api_key : NULL,
                                c->has_authorization ? c->authorization : NULL,
                                qvs_grpc_method_open(c->method),
                                qvs_grpc_method_write(g->srv, c->method));
    if (a == QVS_AUTH_MISSING || a == QVS_AUTH_INVALID) {
        refuse(k, c, 200, QVS_GRPC_UNAUTHENTICATED, "%s",
               a == QVS_AUTH_MISSING
                   ? "Must provide an API key or an Authorization bearer token"
                   : "Invalid API key or JWT");
        return;
    }
    if (a == QVS_AUTH_READ_ONLY) {
        refuse(k, c, 200, QVS_GRPC_PERMISSION_DENIED, "%s",
               "Write access denied");
        return;
    }
    int st = qvs_grpc_unframe(c->in, c->in_len, c->gzip, g->max_bytes, &c->msg,
                              &c->msg_len, &c->inflated, c->message,
                              sizeof(c->message));
    if (st != QVS_GRPC_OK) {
        send_status(k, c, 200, st, c->message);
        return;
    }
    if (c->deadline_ns && now_ns() >= c->deadline_ns) {
        refuse(k, c, 200, QVS_GRPC_DEADLINE_EXCEEDED, "%s",
               "Deadline Exceeded");
        return;
    }
    if (qvs_grpc_method_open(c->method)) {
        /* Health probes take no lock and no time: answered here, never
         * queued behind searches or writes (REST runs its probes in the
         * loop too). */
        call_run(&c->job);
        answer(k, c);
        return;
    }
    c->job.run = call_run;
    c->job.done = call_done;
    c->job.write = qvs_grpc_method_write(g->srv, c->method);
    c->in_pool = true;
    k->pending++;
    atomic_fetch_add(&g->pending, 1);
    if (!qvs_server_submit(g->srv, &c->job)) {
        c->in_pool = false;
        k->pending--;
        atomic_fetch_sub(&g->pending, 1);
        refuse(k, c, 200, QVS_GRPC_UNAVAILABLE, "%s",
               "Service unavailable: too many requests in flight");
    }
}

/* ---- nghttp2 callbacks --------------------------------------------------- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
                            void *user)
{
    gconn *k = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    gcall *c = calloc(1, sizeof(*c));
    if (!c)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    c->conn = k;
    c->stream_id = f->hd.stream_id;
    c->next = k->open;
    if (k->open)
        k->open->prev = c;
    k->open = c;
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, c);
    if (k->streams++ == 0 && k->sock)
        qvs_sock_to(k->sock, QVS_PHASE_WAIT, QVS_PHASE_BUSY);
    return 0;
}

static void copy_value(char *dst, size_t cap, bool *has, const uint8_t *v,
                       size_t len)
{
    if (len >= cap)
        len = cap - 1; /* an over-long key simply fails to match */
    memcpy(dst, v, len);
    dst[len] = '\0';
    *has = true;
}

static bool name_is(const uint8_t *name, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(name, s, len) == 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    gcall *c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!c || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    bool dummy;
    if (name_is(name, nlen, ":method"))
        c->post = vlen == 4 && memcmp(value, "POST", 4) == 0;
    else if (name_is(name, nlen, ":path"))
        copy_value(c->path, sizeof(c->path), &dummy, value, vlen);
    else if (name_is(name, nlen, "content-type"))
        c->grpc_type = vlen >= 16 &&
                       memcmp(value, "application/grpc", 16) == 0 &&
                       (vlen == 16 || value[16] == '+' || value[16] == ';');
    else if (name_is(name, nlen, "grpc-encoding"))
        c->gzip = vlen == 4 && memcmp(value, "gzip", 4) == 0;
    else if (name_is(name, nlen, "api-key"))
        copy_value(c->api_key, sizeof(c->api_key), &c->has_api_key, value,
                   vlen);
    else if (name_is(name, nlen, "authorization"))
        copy_value(c->authorization, sizeof(c->authorization),
                   &c->has_authorization, value, vlen);
    else if (name_is(name, nlen, "grpc-timeout") &&
             !parse_timeout((const char *)value, vlen, &c->deadline_ns))
        c->deadline_ns = 0; /* malformed: no deadline, as grpc-go does */
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                   const uint8_t *data, size_t len, void *user)
{
    (void)flags;
    gconn *k = user;
    gcall *c = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (!c || c->too_large || c->answered)
        return 0;
    /* One message may reach the size limit; all the streams of a
     * connection together twice that, so 64 streams cannot hold 64 times
     * what a REST connection may. */
    bool too_big = (uint64_t)c->in_len + len > k->g->max_bytes + 5;
    if (too_big || (uint64_t)k->buffered + len > 2 * k->g->max_bytes + 10) {
        c->too_large = true;
        k->buffered -= c->in_cap;
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        if (!too_big) {
            refuse(k, c, 200, QVS_GRPC_RESOURCE_EXHAUSTED, "%s",
                   "too many large messages in flight on this connection");
            return 0;
        }
        char lim[32];
        snprintf(lim, sizeof(lim), "%llu", (unsigned long long)k->g->max_bytes);
        /* The reply ends our side of the stream; nghttp2 then resets
         * the client's side (RST_STREAM NO_ERROR) once it is sent, so the
         * rest of the message is not transferred. */
        refuse(k, c, 200, QVS_GRPC_RESOURCE_EXHAUSTED,
               "message larger than max (%s bytes)", lim);
        return 0;
    }
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 1024;
        while (cap < c->in_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->in, cap);
        if (!p)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        k->buffered += cap - c->in_cap;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    gconn *k = user;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        gcall *c = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (c)
            dispatch(k, c);
    }
    return 0;
}

static int on_close(nghttp2_session *ng, int32_t stream_id, uint32_t err,
                    void *user)
{
    (void)err;
    gconn *k = user;
    gcall *c = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (!c)
        return 0;
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    if (c->prev)
        c->prev->next = c->next;
    else
        k->open = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (--k->streams == 0) {
        k->idle_since = now_ns();
        if (k->sock)
            qvs_sock_wait(k->sock);
    }
    if (c->in_pool)
        c->orphan = true; /* freed when the worker hands it back */
    else
        call_free(c);
    return 0;
}

/* ---- connections --------------------------------------------------------- */

static nghttp2_session_callbacks *make_callbacks(void)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return NULL;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    return cb;
}

static void conn_accept(qvs_grpc *g)
{
    struct sockaddr_storage addr;
    socklen_t alen = sizeof(addr);
    int fd = accept4(g->listen_fd, (struct sockaddr *)&addr, &alen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    /* A reply is three frames (HEADERS, DATA, trailers) written one by
     * one: without TCP_NODELAY, Nagle's algorithm holds the last ones for
     * the client's delayed ACK (40 ms a call). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gconn *k = calloc(1, sizeof(*k));
    nghttp2_session_callbacks *cb = make_callbacks();
    if (!k || !cb || nghttp2_session_server_new(&k->ng, cb, k) != 0) {
        nghttp2_session_callbacks_del(cb);
        free(k);
        close(fd);
        return;
    }
    nghttp2_session_callbacks_del(cb);
    pthread_mutex_init(&k->mu, NULL);
    k->g = g;
    k->fd = fd;
    k->idle_since = now_ns();
    k->sock =
        qvs_guard_open(qvs_server_guard(g->srv), fd, (struct sockaddr *)&addr);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20}};
    nghttp2_submit_settings(k->ng, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(k->ng, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    if (atomic_load(&g->stopping))
        nghttp2_submit_goaway(k->ng, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
                              NULL, 0);
    k->next = g->conns;
    g->conns = k;
}

/* Closes the socket and the session; the gconn stays until no call of
 * it is in the pool.  This thread only, holding k->mu: a worker never
 * closes a socket the loop may be polling. */
static void conn_close(gconn *k)
{
    if (k->closed)
        return;
    k->closed = true;
    /* nghttp2_session_del calls no stream-close callback: release the
     * calls of the streams still open here. */
    for (gcall *c = k->open, *next; c; c = next) {
        next = c->next;
        if (c->in_pool)
            c->orphan = true;
        else
            call_free(c);
    }
    k->open = NULL;
    nghttp2_session_del(k->ng);
    k->ng = NULL;
    if (k->sock)
        qvs_guard_close(qvs_server_guard(k->g->srv), k->sock);
    k->sock = NULL;
    close(k->fd);
    k->fd = -1;
    free(k->wbuf);
    k->wbuf = NULL;
    k->wlen = k->woff = k->wcap = 0;
}

static void conn_read(gconn *k)
{
    uint8_t buf[READ_CHUNK];
    pthread_mutex_lock(&k->mu);
    for (;;) {
        ssize_t n = recv(k->fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || nghttp2_session_mem_recv(k->ng, buf, (size_t)n) < 0) {
            conn_close(k);
            break;
        }
        /* A short read drained the socket: poll (level-triggered) reports
         * what arrives later, so no recv just to meet EAGAIN. */
        if ((size_t)n < sizeof(buf))
            break;
    }
    pthread_mutex_unlock(&k->mu);
}

/* Flushes what nghttp2 has to send; closes a session that is done.
 * Holding k->mu. */
static void conn_flush_locked(gconn *k)
{
    if (k->closed)
        return;
    if (conn_send_locked(k) != 0 ||
        (!nghttp2_session_want_read(k->ng) && !conn_want_write_locked(k)))
        conn_close(k);
}

/* Calls back from the pool: answer those whose stream is still open. */
static void take_done(qvs_grpc *g)
{
    pthread_mutex_lock(&g->done_mu);
    gcall *c = g->done;
    g->done = NULL;
    pthread_mutex_unlock(&g->done_mu);
    while (c) {
        gcall *next = c->next_done;
        gconn *k = c->conn;
        pthread_mutex_lock(&k->mu);
        c->in_pool = false;
        k->pending--;
        atomic_fetch_sub(&g->pending, 1);
        if (c->orphan || k->closed)
            call_free(c);
        else
            answer(k, c); /* nothing when the worker answered */
        pthread_mutex_unlock(&k->mu);
        c = next;
    }
}

/* Sends GOAWAY to k if it has been idle for idle_ns: a little before the
 * guard's header timeout would close it, so that the client learns to
 * open a new connection for its next call instead of sending it on a
 * socket that is about to close.  Returns ns until that moment, or -1. */
static int64_t idle_goaway(qvs_grpc *g, gconn *k, int64_t now)
{
    if (k->goaway || k->streams)
        return -1;
    int64_t left = k->idle_since + g->idle_ns - now;
    if (left > 0)
        return left;
    k->goaway = true;
    nghttp2_submit_goaway(k->ng, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(k->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    return -1;
}

/* Answers DEADLINE_EXCEEDED for every call past its deadline and sends
 * GOAWAY to idle connections; returns the poll timeout until the next
 * such moment (ms, -1 none). */
static int expire(qvs_grpc *g)
{
    int64_t now = now_ns(), next = -1;
    for (gconn *k = g->conns; k; k = k->next) {
        pthread_mutex_lock(&k->mu);
        if (k->closed) {
            pthread_mutex_unlock(&k->mu);
            continue;
        }
        int64_t idle = idle_goaway(g, k, now);
        if (idle >= 0 && (next < 0 || idle < next))
            next = idle;
        for (gcall *c = k->open; c; c = c->next) {
            if (!c->deadline_ns || c->answered)
                continue;
            if (c->deadline_ns <= now)
                send_status(k, c, 200, QVS_GRPC_DEADLINE_EXCEEDED,
                            "Deadline Exceeded");
            else if (next < 0 || c->deadline_ns - now < next) {
                next = c->deadline_ns - now;
            }
        }
        pthread_mutex_unlock(&k->mu);
    }
    return next < 0 ? -1 : (int)(next / 1000000 + 1);
}

/* Frees closed connections with no call left in the pool. */
static void reap(qvs_grpc *g)
{
    for (gconn **p = &g->conns; *p;) {
        gconn *k = *p;
        if (k->closed && k->pending == 0) {
            *p = k->next;
            pthread_mutex_destroy(&k->mu);
            free(k);
        } else {
            p = &k->next;
        }
    }
}

static size_t count_conns(const qvs_grpc *g)
{
    size_t n = 0;
    for (const gconn *k = g->conns; k; k = k->next)
        n++;
    return n;
}

static void goaway_all(qvs_grpc *g)
{
    if (g->listen_fd >= 0) {
        close(g->listen_fd);
        g->listen_fd = -1;
    }
    for (gconn *k = g->conns; k; k = k->next) {
        pthread_mutex_lock(&k->mu);
        if (!k->closed) {
            nghttp2_submit_goaway(
                k->ng, NGHTTP2_FLAG_NONE,
                nghttp2_session_get_last_proc_stream_id(k->ng),
                NGHTTP2_NO_ERROR, NULL, 0);
            conn_flush_locked(k);
        }
        pthread_mutex_unlock(&k->mu);
    }
}

/* Stopping and nothing in flight: every reply is out (or its stream
 * gone), so the connections may close. */
static bool drained(qvs_grpc *g, int64_t since)
{
    if ((now_ns() - since) / 1000000 >= (int64_t)QVS_DRAIN_TIMEOUT_MS)
        return true;
    if (atomic_load(&g->pending) > 0)
        return false;
    bool done = true;
    for (gconn *k = g->conns; k && done; k = k->next) {
        pthread_mutex_lock(&k->mu);
        if (!k->closed && conn_want_write_locked(k))
            done = false;
        /* a call whose message is still arriving: the client started it
         * before GOAWAY, so it is answered too */
        for (gcall *c = k->closed ? NULL : k->open; c && done; c = c->next)
            if (!c->answered)
                done = false;
        pthread_mutex_unlock(&k->mu);
    }
    return done;
}

static void *loop(void *arg)
{
    qvs_grpc *g = arg;
    struct pollfd *pfd = NULL;
    gconn **who = NULL;
    size_t cap = 0;
    int64_t stop_since = 0;
    for (;;) {
        take_done(g);
        expire(g); /* before the flush: it may answer */
        for (gconn *k = g->conns; k; k = k->next) {
            pthread_mutex_lock(&k->mu);
            conn_flush_locked(k);
            pthread_mutex_unlock(&k->mu);
        }
        reap(g);
        bool stopping = atomic_load(&g->stopping);
        if (stopping && !stop_since) {
            stop_since = now_ns();
            goaway_all(g);
        }
        if (stopping && drained(g, stop_since))
            break;
        size_t n = count_conns(g) + 2;
        if (n > cap) {
            struct pollfd *p = realloc(pfd, n * sizeof(*p));
            gconn **w = p ? realloc(who, n * sizeof(*w)) : NULL;
            if (p)
                pfd = p;
            if (w)
                who = w;
            if (!p || !w) {
                struct timespec nap = {0, 10000000};
                nanosleep(&nap, NULL);
                continue;
            }
            cap = n;
        }
        /* Again after the flush, which closes streams (and so starts idle
         * times); what it submits makes want_write true, so poll returns
         * at once to send it. */
        int timeout = expire(g);
        /* Saturated: reads wait in the pool's queue, so every worker is
         * busy and a call read now would only wait behind them.  The
         * sockets are then read when the queue drains (a worker rings)
         * or after SATED_MS, not on every request's arrival: one wake-up
         * reads the calls of several connections ("Reading under load"
         * above). */
        bool sated = g->coalesce && !stopping && qvs_server_drain_arm(g->srv);
        size_t m = 0;
        pfd[m++] = (struct pollfd){.fd = g->wake_fd, .events = POLLIN};
        if (g->listen_fd >= 0)
            pfd[m++] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
        size_t first = m;
        for (gconn *k = g->conns; k; k = k->next) {
            if (k->closed)
                continue;
            short ev = sated ? 0 : POLLIN;
            pthread_mutex_lock(&k->mu);
            if (conn_want_write_locked(k))
                ev |= POLLOUT;
            pthread_mutex_unlock(&k->mu);
            who[m] = k;
            pfd[m++] = (struct pollfd){.fd = k->fd, .events = ev};
        }
        if (stopping && (timeout < 0 || timeout > 50))
            timeout = 50; /* re-check the drain */
        /* Workers answer without waking this thread: a tick frees their
         * calls and notices connections they left idle (GOAWAY). */
        if (timeout < 0 || timeout > TICK_MS)
            timeout = TICK_MS;
        if (sated && timeout > SATED_MS)
            timeout = SATED_MS;
        if (poll(pfd, m, timeout) < 0 && errno != EINTR)
            break;
        if (sated) {
            /* the read pass: what arrived while the pool was busy */
            for (size_t i = first; i < m; i++)
                pfd[i].events |= POLLIN;
            if (m > first && poll(pfd + first, m - first, 0) < 0 &&
                errno != EINTR)
                break;
        }
        if (pfd[0].revents) {
            uint64_t v;
            ssize_t r = read(g->wake_fd, &v, sizeof(v));
            (void)r;
        }
        if (first == 2 && (pfd[1].revents & POLLIN))
            conn_accept(g);
        for (size_t i = first; i < m; i++) {
            gconn *k = who[i];
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                conn_read(k);
        }
    }
    for (gconn *k = g->conns; k; k = k->next) {
        pthread_mutex_lock(&k->mu);
        conn_close(k);
        pthread_mutex_unlock(&k->mu);
    }
    /* Calls still in the pool (past the drain timeout) point at their
     * connection: wait for the workers to hand them back. */
    while (atomic_load(&g->pending) > 0) {
        struct pollfd w = {.fd = g->wake_fd, .events = POLLIN};
        if (poll(&w, 1, 100) > 0) {
            uint64_t v;
            ssize_t r = read(g->wake_fd, &v, sizeof(v));
            (void)r;
        }
        take_done(g);
    }
    take_done(g);
    reap(g);
    free(pfd);
    free(who);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static int bind_listener(const char *host, int port, unsigned *bound, char *err,
                         size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%d", port < 0 ? 0 : port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        snprintf(err, cap, "gRPC: cannot resolve %s: %s", host,
                 gai_strerror(rc));
        return -1;
    }
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, 128) != 0) {
        snprintf(err, cap, "gRPC: cannot listen on %s port %d: %s", host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *bound =
        ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                       : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}

bool qvs_grpc_start(qvs_server *srv, qvs_grpc **out, char *err, size_t cap)
{
    *out = NULL;
    const qvs_config *cfg = qvs_server_config(srv);
    qvs_grpc *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    g->srv = srv;
    g->max_bytes = cfg->max_request_bytes;
    /* measurement knob: QUIVER_GRPC_HANDOFF=loop sends every reply from
     * the connection's thread, as before workers answered */
    const char *handoff = getenv("QUIVER_GRPC_HANDOFF");
    g->worker_reply = !(handoff && strcmp(handoff, "loop") == 0);
    /* measurement knob: QUIVER_GRPC_POLL=eager reads every socket as
     * soon as it is readable, even while the pool is saturated */
    const char *pollenv = getenv("QUIVER_GRPC_POLL");
    g->coalesce = !(pollenv && strcmp(pollenv, "eager") == 0);
    /* measurement knob: QUIVER_GRPC_FAST=0 sends every method the JSON
     * route, to measure the direct path (grpc_fast.c) against it */
    const char *fastenv = getenv("QUIVER_GRPC_FAST");
    if (fastenv && strcmp(fastenv, "0") == 0)
        qvs_server_set_grpc_direct(srv, false);
    /* The guard closes an idle (WAIT) socket after the header timeout;
     * GOAWAY goes out half a second before. */
    g->idle_ns = (int64_t)cfg->header_timeout_s * 1000000000 - 500000000;
    if (g->idle_ns < 500000000)
        g->idle_ns = 500000000;
    g->wake_fd = -1;
    pthread_mutex_init(&g->done_mu, NULL);
    g->n_methods = qvs_grpc_method_count();
    g->replies = calloc(g->n_methods + 1, sizeof(*g->replies));
    if (!g->replies) {
        pthread_mutex_destroy(&g->done_mu);
        free(g);
        snprintf(err, cap, "out of memory");
        return false;
    }
    g->listen_fd =
        bind_listener(qvs_config_host(cfg), cfg->grpc_port, &g->port, err, cap);
    if (g->listen_fd < 0 && cfg->grpc_port_default) {
        fprintf(stderr, "quiver serve: warning: %s; gRPC is off\n", err);
        pthread_mutex_destroy(&g->done_mu);
        free(g->replies);
        free(g);
        return true;
    }
    if (g->listen_fd < 0)
        goto fail;
    g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->wake_fd < 0 || pthread_create(&g->thread, NULL, loop, g) != 0) {
        snprintf(err, cap, "gRPC: cannot start its thread");
        goto fail;
    }
    qvs_server_set_drain_notice(srv, drain_ring, g);
    *out = g;
    return true;
fail:
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->wake_fd >= 0)
        close(g->wake_fd);
    pthread_mutex_destroy(&g->done_mu);
    free(g->replies);
    free(g);
    return false;
}

unsigned qvs_grpc_port(const qvs_grpc *g)
{
    return g->port;
}

void qvs_grpc_stop(qvs_grpc *g)
{
    if (!g)
        return;
    atomic_store(&g->stopping, true);
    ring(g);
    pthread_join(g->thread, NULL);
    /* no worker rings g once this returns */
    qvs_server_set_drain_notice(g->srv, NULL, NULL);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    close(g->wake_fd);
    pthread_mutex_destroy(&g->done_mu);
    free(g->replies);
    free(g);
}

char *qvs_grpc_metrics(qvs_grpc *g)
{
    static const char *const names[N_CODES] = {"OK",
                                               "CANCELLED",
                                               "UNKNOWN",
                                               "INVALID_ARGUMENT",
                                               "DEADLINE_EXCEEDED",
                                               "NOT_FOUND",
                                               "ALREADY_EXISTS",
                                               "PERMISSION_DENIED",
                                               "RESOURCE_EXHAUSTED",
                                               "FAILED_PRECONDITION",
                                               "ABORTED",
                                               "OUT_OF_RANGE",
                                               "UNIMPLEMENTED",
                                               "INTERNAL",
                                               "UNAVAILABLE",
                                               "DATA_LOSS",
                                               "UNAUTHENTICATED"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "# HELP grpc_responses_total total number of gRPC replies\n"
               "# TYPE grpc_responses_total counter\n");
    for (size_t m = 0; m <= g->n_methods; m++) {
        char path[128] = "unknown";
        if (m < g->n_methods)
            qvs_grpc_method_path(m, path, sizeof(path));
        for (int s = 0; s < N_CODES; s++) {
            uint64_t n =
                atomic_load_explicit(&g->replies[m][s], memory_order_relaxed);
            if (n)
                fprintf(f,
                        "grpc_responses_total{endpoint=\"%s\",status=\"%s\"} "
                        "%llu\n",
                        path, names[s], (unsigned long long)n);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
