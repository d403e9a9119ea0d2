/*
 * test_grpc.c -- the gRPC listener against bad input, with libnghttp2 as
 * the client: the real server (qvs_server_start) in-process, gRPC on a
 * free loopback port.
 *
 *  1. framing: a message shorter than its length prefix, a prefix cut
 *     short, two messages in a unary call, a compressed flag without
 *     grpc-encoding, and a corrupt gzip body -- each a gRPC status;
 *  2. a message over the size limit: RESOURCE_EXHAUSTED;
 *  3. unknown methods and Qdrant methods we do not implement:
 *     UNIMPLEMENTED;
 *  4. wrong content-type: HTTP 415 with grpc-status INVALID_ARGUMENT;
 *  5. bytes that are not protobuf for a real method, and a string that
 *     is not UTF-8: INVALID_ARGUMENT;
 *  6. a connection that does not speak HTTP/2 is closed, and the server
 *     still answers the next one (grpc.health.v1.Health/Check: SERVING);
 *  7. grpc-timeout: with the workers held, a call is answered
 *     DEADLINE_EXCEEDED by its deadline;
 *  8. api-key metadata: none, wrong, the read-only key on a write;
 *  9. graceful stop: a call in flight when qvs_server_stop starts is
 *     finished and answered OK;
 * 10. an idle connection gets GOAWAY before the guard's header timeout
 *     closes it;
 * 11. replies are counted in /metrics (grpc_responses_total).
 * 12. UpdateCollection's sparse_vectors_config changes a sparse vector's
 *     modifier and index params (as the REST PATCH), read back through
 *     GetCollectionInfo.
 * 13. a saturated pool (reads queued: the listener reads its sockets only
 *     on the queue's drain or a short tick) still answers a health probe,
 *     honours a deadline and reads further calls, all on one connection
 *     beside the waiting calls.
 *
 * Nothing waits on the clock but the deadline tests, whose 50 ms deadline
 * only has to pass (the call is held until then by design), and the idle
 * test, which waits for the GOAWAY the server sends after half a second
 * of idleness; every other wait is for a reply or a counter, with a
 * bounded poll.
 */
#include "h2_body.h"
#include "scratch_dir.h"
#include "server/server.h"

#include "collections_service.pb-c.h"
#include "health_check.pb-c.h"
#include "points_service.pb-c.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define API_KEY "rw-key"
#define RO_KEY  "ro-key"

static qvs_server *srv;

static void start(unsigned header_timeout_s)
{
    scratch_dir_make("grpc");
    qvs_config cfg;
    qvs_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.grpc_port = QVS_GRPC_PORT_ANY;
    cfg.storage = scratch_dir;
    cfg.threads = 2;
    cfg.max_request_bytes = 1 << 20;
    cfg.api_key = API_KEY;
    cfg.read_only_api_key = RO_KEY;
    cfg.header_timeout_s = header_timeout_s;
    char err[512] = "";
    ck_assert_msg(qvs_server_start(&cfg, &srv, err, sizeof(err)), "start: %s",
                  err);
    ck_assert_uint_ne(qvs_server_grpc_port(srv), 0);
}

static void setup(void)
{
    start(60); /* no idle connection closes during a test */
}

static void setup_fast(void)
{
    start(1); /* idle connections get GOAWAY after half a second */
}

static void teardown(void)
{
    qvs_server_stop(srv);
    srv = NULL;
    scratch_dir_remove();
}

/* ---- a small nghttp2 client ---------------------------------------------- */

typedef struct reply {
    int http_status;
    int grpc_status; /* -1: none received */
    char message[512];
    unsigned char data[4096];
    size_t data_len;
    bool closed;
    bool goaway; /* the server sent GOAWAY */
} reply;

typedef struct client {
    int fd;
    nghttp2_session *ng;
    h2_body body;
    reply r;
} client;

static ssize_t c_send(nghttp2_session *ng, const uint8_t *data, size_t len,
                      int flags, void *user)
{
    (void)ng, (void)flags;
    client *c = user;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int c_header(nghttp2_session *ng, const nghttp2_frame *f,
                    const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen, uint8_t flags, void *user)
{
    (void)ng, (void)f, (void)flags;
    client *c = user;
    char v[512];
    snprintf(v, sizeof(v), "%.*s", (int)vlen, (const char *)value);
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        c->r.http_status = atoi(v);
    else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        c->r.grpc_status = atoi(v);
    else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(c->r.message, sizeof(c->r.message), "%s", v);
    return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                  const uint8_t *data, size_t len, void *user)
{
    (void)ng, (void)flags, (void)id;
    client *c = user;
    size_t room = sizeof(c->r.data) - c->r.data_len;
    if (len > room)
        len = room;
    memcpy(c->r.data + c->r.data_len, data, len);
    c->r.data_len += len;
    return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    (void)ng;
    if (f->hd.type == NGHTTP2_GOAWAY)
        ((client *)user)->r.goaway = true;
    return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t err, void *user)
{
    (void)ng, (void)id, (void)err;
    ((client *)user)->r.closed = true;
    return 0;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port =
                                 htons((uint16_t)qvs_server_grpc_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
    return fd;
}

static void client_open(client *c)
{
    memset(c, 0, sizeof(*c));
    c->r.grpc_status = -1;
    c->fd = dial();
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, c_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    ck_assert_int_eq(nghttp2_session_client_new(&c->ng, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void client_close(client *c)
{
    nghttp2_session_del(c->ng);
    close(c->fd);
}

#define HDR(n, v)                                                              \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),                  \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

/* Sends one request: path, content type, extra header pairs (NULL-ended),
 * body bytes as given (framing included). */
static void client_submit(client *c, const char *path, const char *type,
                          const char *const *extra, const void *body,
                          size_t len)
{
    nghttp2_nv nv[16] = {HDR(":method", "POST"),         HDR(":scheme", "http"),
                         HDR(":authority", "127.0.0.1"), HDR(":path", path),
                         HDR("content-type", type),      HDR("te", "trailers")};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i]; i += 2)
        nv[n++] = (nghttp2_nv)HDR(extra[i], extra[i + 1]);
    c->body = (h2_body){.data = body, .len = len};
    nghttp2_data_provider prd = {.source.ptr = &c->body,
                                 .read_callback = h2_body_read};
    ck_assert_int_gt(nghttp2_submit_request(c->ng, NULL, nv, n, &prd, NULL), 0);
    ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
}

/* Pumps c's connection until *closed (set by the stream callbacks) or
 * the connection ends (30 s bound). */
static void pump_until_closed(client *c, const bool *closed)
{
    unsigned char buf[16384];
    for (int i = 0; i < 3000 && !*closed; i++) {
        ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        ck_assert_int_ge(nghttp2_session_mem_recv(c->ng, buf, (size_t)n), 0);
    }
}

/* Reads until the stream closes or the connection ends. */
static void client_wait(client *c)
{
    pump_until_closed(c, &c->r.closed);
}

/* One call on a new connection; the reply. */
static reply call(const char *path, const char *type, const char *const *extra,
                  const void *body, size_t len)
{
    client c;
    client_open(&c);
    client_submit(&c, path, type, extra, body, len);
    client_wait(&c);
    reply r = c.r;
    client_close(&c);
    return r;
}

static const char *const with_key[] = {"api-key", API_KEY, NULL};

/* A framed message: the 5-byte prefix (flag, length) and the bytes. */
static size_t frame(unsigned char *out, uint8_t flag, uint32_t declared,
                    const void *msg, size_t len)
{
    out[0] = flag;
    out[1] = (uint8_t)(declared >> 24);
    out[2] = (uint8_t)(declared >> 16);
    out[3] = (uint8_t)(declared >> 8);
    out[4] = (uint8_t)declared;
    memcpy(out + 5, msg, len);
    return len + 5;
}

static reply health(void)
{
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    return call("/grpc.health.v1.Health/Check", "application/grpc", NULL, body,
                n);
}

static void assert_serving(reply r)
{
    ck_assert_int_eq(r.grpc_status, 0);
    ck_assert_uint_ge(r.data_len, 5);
    Grpc__Health__V1__HealthCheckResponse *h =
        grpc__health__v1__health_check_response__unpack(NULL, r.data_len - 5,
                                                        r.data + 5);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(
        h->status,
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    grpc__health__v1__health_check_response__free_unpacked(h, NULL);
}

/* ---- the tests ------------------------------------------------------------
 */

START_TEST(health_check_serving)
{
    assert_serving(health());
    /* counted in /metrics, by method and status */
    size_t len = 0;
    char *text = qvs_metrics_render(srv, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "grpc_responses_total{endpoint=\"/grpc.health."
                               "v1.Health/Check\",status=\"OK\"} 1\n"),
                  "%s", text);
    free(text);
}
END_TEST

START_TEST(framing_errors_are_statuses)
{
    unsigned char body[64];
    const char *path = "/qdrant.Collections/List";
    /* a prefix announcing 100 bytes, 10 sent */
    size_t n = frame(body, 0, 100, "0123456789", 10);
    reply r = call(path, "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 3);
    ck_assert_msg(strstr(r.message, "truncated"), "%s", r.message);
    /* a prefix cut short */
    r = call(path, "application/grpc", with_key, body, 3);
    ck_assert_int_eq(r.grpc_status, 3);
    /* two messages in a unary call */
    n = frame(body, 0, 0, "", 0);
    n += frame(body + n, 0, 0, "", 0);
    r = call(path, "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 3);
    /* compressed without grpc-encoding */
    n = frame(body, 1, 0, "", 0);
    r = call(path, "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 12);
    /* gzip announced, garbage sent */
    static const char *const gz[] = {"api-key", API_KEY, "grpc-encoding",
                                     "gzip", NULL};
    n = frame(body, 1, 4, "junk", 4);
    r = call(path, "application/grpc", gz, body, n);
    ck_assert_int_eq(r.grpc_status, 13);
    /* no body at all */
    r = call(path, "application/grpc", with_key, "", 0);
    ck_assert_int_eq(r.grpc_status, 3);
    assert_serving(health());
}
END_TEST

START_TEST(oversized_message_is_resource_exhausted)
{
    size_t len = (2u << 20) + 5;
    unsigned char *body = calloc(1, len);
    ck_assert_ptr_nonnull(body);
    frame(body, 0, (uint32_t)(len - 5), "", 0);
    reply r =
        call("/qdrant.Points/Upsert", "application/grpc", with_key, body, len);
    free(body);
    ck_assert_int_eq(r.grpc_status, 8);
    assert_serving(health());
}
END_TEST

START_TEST(unknown_methods_are_unimplemented)
{
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    reply r =
        call("/qdrant.Nope/Nothing", "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 12);
    /* a known method without a REST counterpart (shard keys) */
    r = call("/qdrant.Collections/CreateShardKey", "application/grpc", with_key,
             body, n);
    ck_assert_int_eq(r.grpc_status, 12);
    r = call("no-slash", "application/grpc", with_key, body, n);
    ck_assert_int_ne(r.grpc_status, 0);
}
END_TEST

START_TEST(wrong_content_type)
{
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    reply r =
        call("/qdrant.Collections/List", "application/json", with_key, body, n);
    ck_assert_int_eq(r.http_status, 415);
    ck_assert_int_eq(r.grpc_status, 3);
}
END_TEST

START_TEST(malformed_protobuf_is_invalid_argument)
{
    static const unsigned char junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
    unsigned char body[32];
    size_t n = frame(body, 0, sizeof(junk), junk, sizeof(junk));
    reply r =
        call("/qdrant.Points/Search", "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 3);
    /* a valid message naming no collection: REST's 404 */
    Qdrant__SearchPoints sp = QDRANT__SEARCH_POINTS__INIT;
    sp.collection_name = "missing";
    sp.limit = 3;
    unsigned char packed[64];
    size_t len = qdrant__search_points__pack(&sp, packed);
    n = frame(body, 0, (uint32_t)len, packed, len);
    r = call("/qdrant.Points/Search", "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 5);
    ck_assert_str_eq(r.message,
                     "Not found: Collection `missing` doesn't exist!");
    /* a string that is not UTF-8: refused as Qdrant's decoder does */
    sp.collection_name = "\xff\xfe";
    len = qdrant__search_points__pack(&sp, packed);
    n = frame(body, 0, (uint32_t)len, packed, len);
    r = call("/qdrant.Points/Search", "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 3);
    ck_assert_msg(strstr(r.message, "UTF-8"), "%s", r.message);
}
END_TEST

START_TEST(not_http2_is_closed)
{
    int fd = dial();
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(send(fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(junk) - 1);
    char buf[256];
    ssize_t n;
    do { /* the server may send its SETTINGS and GOAWAY first */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 30000), 1);
        n = recv(fd, buf, sizeof(buf), 0);
    } while (n > 0);
    ck_assert_int_le(n, 0);
    close(fd);
    assert_serving(health());
}
END_TEST

START_TEST(deadline_exceeded)
{
    qvs_server_hold_workers(srv, true);
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    static const char *const timeout[] = {"api-key", API_KEY, "grpc-timeout",
                                          "50m", NULL};
    reply r =
        call("/qdrant.Collections/List", "application/grpc", timeout, body, n);
    qvs_server_hold_workers(srv, false);
    ck_assert_int_eq(r.grpc_status, 4);
}
END_TEST

START_TEST(api_keys)
{
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    reply r =
        call("/qdrant.Collections/List", "application/grpc", NULL, body, n);
    ck_assert_int_eq(r.grpc_status, 16);
    static const char *const wrong[] = {"api-key", "nope", NULL};
    r = call("/qdrant.Collections/List", "application/grpc", wrong, body, n);
    ck_assert_int_eq(r.grpc_status, 16);
    static const char *const ro[] = {"api-key", RO_KEY, NULL};
    r = call("/qdrant.Collections/List", "application/grpc", ro, body, n);
    ck_assert_int_eq(r.grpc_status, 0);
    r = call("/qdrant.Collections/Delete", "application/grpc", ro, body, n);
    ck_assert_int_eq(r.grpc_status, 7);
    static const char *const bearer[] = {"authorization", "Bearer " API_KEY,
                                         NULL};
    r = call("/qdrant.Collections/List", "application/grpc", bearer, body, n);
    ck_assert_int_eq(r.grpc_status, 0);
}
END_TEST

START_TEST(idle_connection_gets_goaway)
{
    client c;
    client_open(&c);
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    client_submit(&c, "/grpc.health.v1.Health/Check", "application/grpc", NULL,
                  body, n);
    client_wait(&c);
    ck_assert_int_eq(c.r.grpc_status, 0);
    /* idle now: GOAWAY within the header timeout (1 s), then the close */
    unsigned char buf[4096];
    for (int i = 0; i < 3000 && !c.r.goaway; i++) {
        struct pollfd p = {.fd = c.fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t got = recv(c.fd, buf, sizeof(buf), 0);
        if (got <= 0)
            break;
        ck_assert_int_ge(nghttp2_session_mem_recv(c.ng, buf, (size_t)got), 0);
    }
    ck_assert_msg(c.r.goaway, "no GOAWAY before the idle connection closed");
    client_close(&c);
    assert_serving(health()); /* a new connection is served */
}
END_TEST

static void *stop_server(void *arg)
{
    qvs_server_stop(arg);
    return NULL;
}

START_TEST(graceful_stop_finishes_calls)
{
    qvs_server_hold_workers(srv, true);
    client c;
    client_open(&c);
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    client_submit(&c, "/qdrant.Collections/List", "application/grpc", with_key,
                  body, n);
    /* wait until a worker holds the call */
    size_t queued = 0, running = 0;
    for (int i = 0; i < 3000 && running == 0; i++) {
        struct pollfd p = {.fd = c.fd, .events = 0};
        poll(&p, 0, 10);
        qvs_server_queue_stats(srv, &queued, &running);
    }
    ck_assert_uint_eq(running, 1);
    pthread_t t;
    qvs_server *s = srv;
    ck_assert_int_eq(pthread_create(&t, NULL, stop_server, s), 0);
    qvs_server_hold_workers(s, false);
    client_wait(&c);
    pthread_join(t, NULL);
    srv = NULL;
    ck_assert_int_eq(c.r.grpc_status, 0);
    ck_assert_uint_ge(c.r.data_len, 5);
    client_close(&c);
    scratch_dir_remove();
}
END_TEST

/* ---- several streams on one connection ----------------------------------- */

typedef struct stream {
    h2_body body;
    reply r;
} stream;

static int m_header(nghttp2_session *ng, const nghttp2_frame *f,
                    const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen, uint8_t flags, void *user)
{
    (void)flags, (void)user;
    stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!st)
        return 0;
    char v[512];
    snprintf(v, sizeof(v), "%.*s", (int)vlen, (const char *)value);
    if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        st->r.grpc_status = atoi(v);
    return 0;
}

static int m_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                  const uint8_t *data, size_t len, void *user)
{
    (void)flags, (void)user;
    stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st)
        return 0;
    size_t room = sizeof(st->r.data) - st->r.data_len;
    if (len > room)
        len = room;
    memcpy(st->r.data + st->r.data_len, data, len);
    st->r.data_len += len;
    return 0;
}

static int m_close(nghttp2_session *ng, int32_t id, uint32_t err, void *user)
{
    (void)err, (void)user;
    stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (st)
        st->r.closed = true;
    return 0;
}

/* A client whose replies go to the stream each request was submitted
 * with (m_submit), so one connection carries several calls at once. */
static void mclient_open(client *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = dial();
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, c_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, m_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, m_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, m_close);
    ck_assert_int_eq(nghttp2_session_client_new(&c->ng, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void m_submit(client *c, stream *st, const char *path,
                     const char *const *extra, const void *body, size_t len)
{
    nghttp2_nv nv[16] = {HDR(":method", "POST"),
                         HDR(":scheme", "http"),
                         HDR(":authority", "127.0.0.1"),
                         HDR(":path", path),
                         HDR("content-type", "application/grpc"),
                         HDR("te", "trailers")};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i]; i += 2)
        nv[n++] = (nghttp2_nv)HDR(extra[i], extra[i + 1]);
    memset(st, 0, sizeof(*st));
    st->r.grpc_status = -1;
    st->body = (h2_body){.data = body, .len = len};
    nghttp2_data_provider prd = {.source.ptr = &st->body,
                                 .read_callback = h2_body_read};
    ck_assert_int_gt(nghttp2_submit_request(c->ng, NULL, nv, n, &prd, st), 0);
    ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
}

/* Reads until st closes. */
static void m_wait(client *c, const stream *st)
{
    pump_until_closed(c, &st->r.closed);
}

/* Waits (bounded) until the pool holds `running` calls and queues
 * `queued`; false if it never does. */
static bool pool_reaches(size_t want_queued, size_t want_running)
{
    size_t queued = 0, running = 0;
    for (int i = 0; i < 3000; i++) {
        qvs_server_queue_stats(srv, &queued, &running);
        if (queued == want_queued && running == want_running)
            return true;
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return false;
}

/* While reads wait in the pool's queue, the listener reads its sockets
 * only when the queue drains or every SATED_MS (grpc_server.c, "Reading
 * under load").  It must still read them: with both workers held and a
 * call queued, a health probe on another stream of the same connection
 * is answered, a call with a 50 ms deadline gets DEADLINE_EXCEEDED, and a
 * further call is read and queued; once released, every call is answered
 * OK.  Waits only for replies and pool counters, never on the clock. */
START_TEST(saturated_pool_still_reads)
{
    qvs_server_hold_workers(srv, true);
    unsigned char body[8];
    size_t n = frame(body, 0, 0, "", 0);
    client c;
    mclient_open(&c);
    stream held[3], probe, late, extra;
    for (int i = 0; i < 3; i++)
        m_submit(&c, &held[i], "/qdrant.Collections/List", with_key, body, n);
    /* two calls in the workers' hands, one queued: the pool is saturated */
    ck_assert_msg(pool_reaches(1, 2), "the pool never held 2 and queued 1");
    m_submit(&c, &probe, "/grpc.health.v1.Health/Check", NULL, body, n);
    m_wait(&c, &probe);
    assert_serving(probe.r);
    static const char *const timeout[] = {"api-key", API_KEY, "grpc-timeout",
                                          "50m", NULL};
    m_submit(&c, &late, "/qdrant.Collections/List", timeout, body, n);
    m_wait(&c, &late);
    ck_assert_int_eq(late.r.grpc_status, 4);
    /* the late call stays queued (answered; not run when its turn comes)
     * unless it was refused before queueing: count from here */
    size_t queued = 0, running = 0;
    qvs_server_queue_stats(srv, &queued, &running);
    size_t before = queued;
    m_submit(&c, &extra, "/qdrant.Collections/List", with_key, body, n);
    for (int i = 0; i < 3000 && queued <= before; i++) {
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
        qvs_server_queue_stats(srv, &queued, &running);
    }
    ck_assert_uint_eq(queued, before + 1);     /* read and queued while sated */
    ck_assert_int_eq(extra.r.grpc_status, -1); /* not answered while held */
    qvs_server_hold_workers(srv, false);
    for (int i = 0; i < 3; i++) {
        m_wait(&c, &held[i]);
        ck_assert_int_eq(held[i].r.grpc_status, 0);
    }
    m_wait(&c, &extra);
    ck_assert_int_eq(extra.r.grpc_status, 0);
    client_close(&c);
}
END_TEST

static void teardown_if_running(void)
{
    if (srv)
        teardown();
}

/* Packs m into a gRPC frame in body (room for cap bytes). */
static size_t pack_frame(const ProtobufCMessage *m, unsigned char *body,
                         size_t cap)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    ck_assert_uint_le(len + 5, cap);
    unsigned char *packed = malloc(len ? len : 1);
    protobuf_c_message_pack(m, packed);
    size_t n = frame(body, 0, (uint32_t)len, packed, len);
    free(packed);
    return n;
}

/* The sparse params of vector name in collection c, from
 * GetCollectionInfo (NULL when absent; free *info with the unpacker). */
static const Qdrant__SparseVectorParams *
sparse_params_of(const char *c, const char *name,
                 Qdrant__GetCollectionInfoResponse **info)
{
    Qdrant__GetCollectionInfoRequest q =
        QDRANT__GET_COLLECTION_INFO_REQUEST__INIT;
    q.collection_name = (char *)c;
    unsigned char body[256];
    size_t n = pack_frame(&q.base, body, sizeof(body));
    reply r =
        call("/qdrant.Collections/Get", "application/grpc", with_key, body, n);
    ck_assert_int_eq(r.grpc_status, 0);
    ck_assert_uint_gt(r.data_len, 5);
    *info = qdrant__get_collection_info_response__unpack(NULL, r.data_len - 5,
                                                         r.data + 5);
    ck_assert_ptr_nonnull(*info);
    const Qdrant__CollectionParams *p = (*info)->result->config->params;
    if (p->_sparse_vectors_config_case !=
        QDRANT__COLLECTION_PARAMS___SPARSE_VECTORS_CONFIG_SPARSE_VECTORS_CONFIG)
        return NULL;
    for (size_t i = 0; i < p->sparse_vectors_config->n_map; i++)
        if (strcmp(p->sparse_vectors_config->map[i]->key, name) == 0)
            return p->sparse_vectors_config->map[i]->value;
    return NULL;
}

/* Qdrant 1.19's UpdateCollection carries sparse_vectors_config like the
 * REST PATCH's sparse_vectors (update_sparse_vectors_from_other): the
 * modifier and the index params change. */
START_TEST(update_collection_sparse_params)
{
    unsigned char body[512];
    Qdrant__SparseVectorParams sv = QDRANT__SPARSE_VECTOR_PARAMS__INIT;
    Qdrant__SparseVectorConfig__MapEntry e =
        QDRANT__SPARSE_VECTOR_CONFIG__MAP_ENTRY__INIT;
    e.key = "text";
    e.value = &sv;
    Qdrant__SparseVectorConfig__MapEntry *entries[] = {&e};
    Qdrant__SparseVectorConfig svc = QDRANT__SPARSE_VECTOR_CONFIG__INIT;
    svc.n_map = 1;
    svc.map = entries;
    Qdrant__CreateCollection cc = QDRANT__CREATE_COLLECTION__INIT;
    cc.collection_name = "g";
    cc._sparse_vectors_config_case =
        QDRANT__CREATE_COLLECTION___SPARSE_VECTORS_CONFIG_SPARSE_VECTORS_CONFIG;
    cc.sparse_vectors_config = &svc;
    size_t n = pack_frame(&cc.base, body, sizeof(body));
    reply r = call("/qdrant.Collections/Create", "application/grpc", with_key,
                   body, n);
    ck_assert_msg(r.grpc_status == 0, "create: %d %s", r.grpc_status,
                  r.message);

    Qdrant__GetCollectionInfoResponse *info = NULL;
    const Qdrant__SparseVectorParams *got =
        sparse_params_of("g", "text", &info);
    ck_assert_ptr_nonnull(got);
    ck_assert(got->_modifier_case ==
                  QDRANT__SPARSE_VECTOR_PARAMS___MODIFIER__NOT_SET ||
              got->modifier == QDRANT__MODIFIER__None);
    qdrant__get_collection_info_response__free_unpacked(info, NULL);

    Qdrant__SparseIndexConfig ix = QDRANT__SPARSE_INDEX_CONFIG__INIT;
    ix._full_scan_threshold_case =
        QDRANT__SPARSE_INDEX_CONFIG___FULL_SCAN_THRESHOLD_FULL_SCAN_THRESHOLD;
    ix.full_scan_threshold = 7;
    ix._datatype_case = QDRANT__SPARSE_INDEX_CONFIG___DATATYPE_DATATYPE;
    ix.datatype = QDRANT__DATATYPE__Uint8;
    sv._index_case = QDRANT__SPARSE_VECTOR_PARAMS___INDEX_INDEX;
    sv.index = &ix;
    sv._modifier_case = QDRANT__SPARSE_VECTOR_PARAMS___MODIFIER_MODIFIER;
    sv.modifier = QDRANT__MODIFIER__Idf;
    Qdrant__UpdateCollection uc = QDRANT__UPDATE_COLLECTION__INIT;
    uc.collection_name = "g";
    uc._sparse_vectors_config_case =
        QDRANT__UPDATE_COLLECTION___SPARSE_VECTORS_CONFIG_SPARSE_VECTORS_CONFIG;
    uc.sparse_vectors_config = &svc;
    n = pack_frame(&uc.base, body, sizeof(body));
    r = call("/qdrant.Collections/Update", "application/grpc", with_key, body,
             n);
    ck_assert_msg(r.grpc_status == 0, "update: %d %s", r.grpc_status,
                  r.message);

    got = sparse_params_of("g", "text", &info);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->_modifier_case,
                     QDRANT__SPARSE_VECTOR_PARAMS___MODIFIER_MODIFIER);
    ck_assert_int_eq(got->modifier, QDRANT__MODIFIER__Idf);
    ck_assert_int_eq(got->_index_case,
                     QDRANT__SPARSE_VECTOR_PARAMS___INDEX_INDEX);
    ck_assert_int_eq(got->index->datatype, QDRANT__DATATYPE__Uint8);
    ck_assert_uint_eq(got->index->full_scan_threshold, 7);
    qdrant__get_collection_info_response__free_unpacked(info, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grpc");
    TCase *tc = tcase_create("bad input");
    tcase_add_checked_fixture(tc, setup, teardown_if_running);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, health_check_serving);
    tcase_add_test(tc, framing_errors_are_statuses);
    tcase_add_test(tc, oversized_message_is_resource_exhausted);
    tcase_add_test(tc, unknown_methods_are_unimplemented);
    tcase_add_test(tc, wrong_content_type);
    tcase_add_test(tc, malformed_protobuf_is_invalid_argument);
    tcase_add_test(tc, not_http2_is_closed);
    tcase_add_test(tc, deadline_exceeded);
    tcase_add_test(tc, api_keys);
    tcase_add_test(tc, graceful_stop_finishes_calls);
    tcase_add_test(tc, update_collection_sparse_params);
    tcase_add_test(tc, saturated_pool_still_reads);
    suite_add_tcase(s, tc);
    TCase *idle = tcase_create("idle connections");
    tcase_add_checked_fixture(idle, setup_fast, teardown_if_running);
    tcase_set_timeout(idle, 120);
    tcase_add_test(idle, idle_connection_gets_goaway);
    suite_add_tcase(s, idle);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
