/*
 * test_http_hostile.c -- the HTTP server against a hostile client, over
 * raw loopback sockets: bytes no HTTP library would send are written to
 * 127.0.0.1 and the reply read back as bytes.  The server is the real one
 * (qvs_server_start), in-process on a free port.
 *
 *  1. request smuggling (RFC 9112 section 6.3): Content-Length with
 *     Transfer-Encoding, two different Content-Lengths -- 400 in Qdrant's
 *     JSON envelope, the connection closed, the hidden request never run;
 *  2. transfer codings other than chunked: 400 or 501, closed at once
 *     (they used to get no reply and hold the socket);
 *  3. header fields: a name that is not a token, too many fields, a long
 *     URI -- 400, 431, 414 in JSON, closed;
 *  4. malformed requests (a broken chunk or chunk end, a Content-Length
 *     that is not a number, a head beyond every limit, a garbage request
 *     line, HTTP/2's preface): Qdrant's JSON envelope with a 4xx and the
 *     connection closed at once; pipelining and 100-continue;
 *  5. slowloris: a head dripped a header at a time, and a body dripped a
 *     byte at a time, are cut off by the deadlines (408 in JSON);
 *  6. a flood of 2,000 slow sockets from several addresses, then from the
 *     client's own: a normal request is still answered within 1 s;
 *  7. the worker pool: with every worker busy and the queue full, one more
 *     request is refused 503 at once and a probe answered within 1 s.
 *
 * No assertion depends on the machine's speed beyond that 1 s: deadlines
 * are waited for with bounded polls, and the flood test waits for the
 * server to have registered every socket before it measures.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the server --------------------------------------------------------- */

static qvs_server *srv;
static char storage[256];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void start(unsigned header_timeout_s)
{
    snprintf(storage, sizeof(storage), "/tmp/quiver-test-hostile.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(storage));
    qvs_config cfg;
    qvs_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.storage = storage;
    cfg.threads = 2;
    cfg.max_request_bytes = 1 << 20;
    cfg.header_timeout_s = header_timeout_s;
    char err[512] = "";
    ck_assert_msg(qvs_server_start(&cfg, &srv, err, sizeof(err)), "start: %s",
                  err);
}

static void setup(void)
{
    start(60); /* deadlines far away: what is tested is the parsing */
}

static void setup_fast(void)
{
    start(1); /* one second to send a head */
}

static void teardown(void)
{
    qvs_server_stop(srv);
    srv = NULL;
    nftw(storage, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- raw sockets -------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A socket to the server from source address src (any 127/8 address is
 * the loopback's), or -1. */
static int dial_from(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)qvs_server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int dial(void)
{
    int fd = dial_from("127.0.0.1");
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* Writes all of p; false if the server has closed the connection. */
static bool put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

static bool puts_(int fd, const char *s)
{
    return put(fd, s, strlen(s));
}

typedef struct wire {
    char *p;
    size_t len;
    bool closed; /* end of file (or reset) before the wait ran out */
} wire;

/* Waits up to ms for bytes on fd and appends what arrives to w (kept
 * NUL-terminated); false once the server has closed the connection
 * (w->closed). */
static bool recv_more(int fd, int ms, wire *w)
{
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0)
        return true;
    char b[65536];
    ssize_t k = recv(fd, b, sizeof(b), 0);
    if (k <= 0) {
        w->closed = true;
        return false;
    }
    w->p = realloc(w->p, w->len + (size_t)k + 1);
    memcpy(w->p + w->len, b, (size_t)k);
    w->len += (size_t)k;
    w->p[w->len] = '\0';
    return true;
}

/* Reads until the server closes the connection or wait_s pass. */
static wire slurp(int fd, double wait_s)
{
    wire w = {malloc(1), 0, false};
    w.p[0] = '\0';
    double end = now_s() + wait_s;
    for (;;) {
        double left = end - now_s();
        if (left <= 0 || !recv_more(fd, (int)(left * 1000) + 1, &w))
            break;
    }
    return w;
}

/* Reads one whole reply (head and Content-Length body), waiting at most
 * wait_s. */
static wire reply1(int fd, double wait_s)
{
    wire w = {malloc(1), 0, false};
    w.p[0] = '\0';
    double end = now_s() + wait_s;
    while (now_s() < end) {
        const char *h = strstr(w.p, "\r\n\r\n");
        const char *cl = strcasestr(w.p, "Content-Length:");
        if (h && cl && cl < h &&
            w.len >= (size_t)(h + 4 - w.p) + strtoul(cl + 15, NULL, 10))
            break;
        if (!recv_more(fd, 100, &w))
            break;
    }
    return w;
}

static int status_of(const wire *w)
{
    int st = 0;
    return sscanf(w->p, "HTTP/1.1 %d ", &st) == 1 ? st : 0;
}

static int count_replies(const wire *w)
{
    int n = 0;
    for (const char *p = w->p; (p = strstr(p, "HTTP/1.1 ")); p++)
        n++;
    return n;
}

/* The body is Qdrant's error envelope {"status":{"error":...},"time":t}. */
static void assert_envelope(const wire *w, const char *needle)
{
    const char *body = strstr(w->p, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(strcasestr(w->p, "Content-Type: application/json"));
    cJSON *j = cJSON_Parse(body + 4);
    ck_assert_msg(j != NULL, "not JSON: %s", body + 4);
    cJSON *err = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "status"), "error");
    ck_assert(cJSON_IsString(err));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "time")));
    if (needle)
        ck_assert_msg(strstr(err->valuestring, needle), "error '%s'",
                      err->valuestring);
    cJSON_Delete(j);
}

/* Sends req on a new connection; the reply must be one status, closed
 * within a few seconds (the server's deadlines are 60 s here), and if
 * json, Qdrant's envelope naming needle. */
static void expect_refusal(const char *req, size_t len, int status, bool json,
                           const char *needle)
{
    int fd = dial();
    put(fd, req, len);
    wire w = slurp(fd, 10.0);
    close(fd);
    ck_assert_msg(w.closed, "connection left open after: %s", w.p);
    ck_assert_msg(status_of(&w) == status, "want %d, got: %.300s", status, w.p);
    if (json) {
        ck_assert_int_eq(count_replies(&w), 1);
        assert_envelope(&w, needle);
    }
    free(w.p);
}

static void refused(const char *req, int status, const char *needle)
{
    expect_refusal(req, strlen(req), status, true, needle);
}

/* ---- 1. smuggling ------------------------------------------------------- */

/* The second request hides in what a front proxy would take for the
 * first one's body; it must never run (it would answer 200). */
#define HIDDEN "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"

START_TEST(test_smuggling)
{
    refused("POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n" HIDDEN,
            400, "Content-Length and Transfer-Encoding");
    refused("POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
            "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
            "0\r\n\r\n" HIDDEN,
            400, "Content-Length and Transfer-Encoding");
    refused("POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
            "Content-Length: 2\r\nContent-Length: 37\r\n\r\n{}" HIDDEN,
            400, "conflicting Content-Length");
    refused("POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
            "Content-Length: 37\r\nContent-Length: 2\r\n\r\n{}" HIDDEN,
            400, "conflicting Content-Length");

    /* The same length twice is one length (RFC 9110 section 8.6): the
     * request runs (404: no such collection) and the connection stays. */
    int fd = dial();
    puts_(fd, "POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
              "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}" HIDDEN);
    wire w = slurp(fd, 1.0);
    close(fd);
    ck_assert_int_eq(status_of(&w), 404);
    ck_assert_int_eq(count_replies(&w), 2);
    free(w.p);
}
END_TEST

/* ---- 2. transfer codings ------------------------------------------------ */

START_TEST(test_transfer_codings)
{
    static const char post[] =
        "POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n";
    char req[512];
    snprintf(req, sizeof(req), "%sTransfer-Encoding: gzip\r\n\r\n{}", post);
    refused(req, 400, "must end with chunked");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
             post);
    refused(req, 400, "must end with chunked");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", post);
    refused(req, 400, "must end with chunked");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n",
             post);
    refused(req, 400, "must end with chunked");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
             post);
    refused(req, 501, "other than chunked");
    refused("POST /collections/x/points/scroll HTTP/1.0\r\n"
            "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            400, "HTTP/1.0");

    /* Plain chunked still works, on a kept connection. */
    int fd = dial();
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" HIDDEN,
             post);
    puts_(fd, req);
    wire w = slurp(fd, 1.0);
    close(fd);
    ck_assert_int_eq(status_of(&w), 404);
    ck_assert_int_eq(count_replies(&w), 2);
    ck_assert(!w.closed);
    free(w.p);
}
END_TEST

/* ---- 3. header fields --------------------------------------------------- */

START_TEST(test_header_fields)
{
    refused("GET /healthz HTTP/1.1\r\nHost: a\r\nX-a : b\r\n\r\n", 400,
            "malformed header field");
    refused("GET /healthz HTTP/1.1\r\nHost: a\r\nX(a): b\r\n\r\n", 400,
            "malformed header field");

    /* 150 fields: over our count. */
    size_t cap = 8192, len = 0;
    char *req = malloc(cap);
    len += (size_t)snprintf(req, cap, "GET /healthz HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 150; i++)
        len += (size_t)snprintf(req + len, cap - len, "X-%d: v\r\n", i);
    snprintf(req + len, cap - len, "\r\n");
    refused(req, 431, "too large");
    free(req);

    /* A 10 KB URI: over the URI limit. */
    req = malloc(16384);
    strcpy(req, "GET /");
    memset(req + 5, 'a', 10000);
    strcpy(req + 10005, " HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(req, 414, "URI too long");
    free(req);

    /* The cases: a 100 KB URI and 5,000 fields. */
    char *big = malloc(200000);
    strcpy(big, "GET /");
    memset(big + 5, 'a', 100000);
    strcpy(big + 100005, " HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(big, 414, "URI too long");
    size_t blen = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 5000; i++)
        blen += (size_t)sprintf(big + blen, "X-%d: v\r\n", i);
    sprintf(big + blen, "\r\n");
    refused(big, 431, "too large");
    free(big);
}
END_TEST

/* ---- 4. malformed requests --------------------------------------------- */

/* Every request the parser refuses gets Qdrant's JSON envelope with its
 * 4xx (or 5xx for a version or coding we do not serve), and the
 * connection closed right after: expect_refusal reads until end of file
 * (bounded, never a fixed sleep).  These used to be answered by
 * libmicrohttpd in HTML, or not at all (issue 11, item 3). */
START_TEST(test_malformed)
{
    static const char post[] =
        "POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n";
    char req[512];
    snprintf(req, sizeof(req), "%sContent-Length: abc\r\n\r\n{}", post);
    refused(req, 400, "invalid Content-Length");
    snprintf(req, sizeof(req), "%sContent-Length: -1\r\n\r\n{}", post);
    refused(req, 400, "invalid Content-Length");
    snprintf(req, sizeof(req),
             "%sContent-Length: 99999999999999999999999\r\n\r\n{}", post);
    refused(req, 400, "invalid Content-Length");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
             post);
    refused(req, 400, "malformed chunked body");
    /* Chunk data not followed by its CRLF. */
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", post);
    refused(req, 400, "malformed chunked body");
    snprintf(req, sizeof(req),
             "%sTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"
             "ffffffffffffffffffff\r\n",
             post);
    refused(req, 400, NULL);

    /* A request line that is not one. */
    refused("\x01\x02 garbage\r\n\r\n", 400, "malformed request line");
    refused("GET /healthz HTTP/1.1 extra\r\n\r\n", 400, NULL);
    refused("GET /healthz HTTP/3.0\r\nHost: a\r\n\r\n", 505,
            "version not supported");
    /* HTTP/2's connection preface (prior knowledge) on this port. */
    static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    expect_refusal(h2, sizeof(h2) - 1, 400, true, "HTTP/2");

    /* A head far over every limit: a 600 KB URI, 64 KB of fields. */
    char *big = malloc(700000);
    strcpy(big, "GET /");
    memset(big + 5, 'a', 600000);
    strcpy(big + 600005, " HTTP/1.1\r\nHost: a\r\n\r\n");
    refused(big, 414, "URI too long");
    size_t n = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'b', 65536);
    strcpy(big + n + 65536, "\r\n\r\n");
    refused(big, 431, "too large");
    free(big);

    /* Bare LF line ends are accepted (http-parser reads them), and the
     * connection kept. */
    int fd = dial();
    puts_(fd, "GET /healthz HTTP/1.1\nHost: a\n\n" HIDDEN);
    wire w = slurp(fd, 1.0);
    close(fd);
    ck_assert_int_eq(count_replies(&w), 2);
    ck_assert_int_eq(status_of(&w), 200);
    ck_assert(!w.closed);
    free(w.p);
}
END_TEST

/* Pipelined requests are answered in order on one connection, and a
 * 100-continue is honoured before the body. */
START_TEST(test_pipelining)
{
    int fd = dial();
    puts_(fd, HIDDEN "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n" HIDDEN);
    wire w = {malloc(1), 0, false};
    w.p[0] = '\0';
    while (count_replies(&w) < 3 && recv_more(fd, 2000, &w))
        ;
    ck_assert_int_eq(count_replies(&w), 3);
    const char *second = strstr(w.p + 1, "HTTP/1.1 ");
    ck_assert_int_eq(atoi(second + 9), 404);
    free(w.p);

    puts_(fd, "POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
              "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    w = reply1(fd, 5.0);
    ck_assert_msg(strncmp(w.p, "HTTP/1.1 100 ", 13) == 0, "got: %s", w.p);
    free(w.p);
    puts_(fd, "{}");
    w = reply1(fd, 5.0);
    ck_assert_msg(strstr(w.p, "HTTP/1.1 404 "), "got: %s", w.p);
    free(w.p);
    close(fd);
}
END_TEST

/* ---- 5. slowloris ------------------------------------------------------- */

/* Drips one piece every 200 ms until the server closes the connection
 * (or 20 s pass); returns what it answered. */
static wire drip(const char *first, const char *piece, double *took)
{
    int fd = dial();
    double t0 = now_s();
    puts_(fd, first);
    wire w = {NULL, 0, false};
    while (now_s() - t0 < 20.0) {
        free(w.p);
        w = slurp(fd, 0.2);
        if (w.closed || w.len)
            break;
        if (!puts_(fd, piece))
            break;
    }
    if (!w.closed) {
        wire rest = slurp(fd, 5.0);
        w.p = realloc(w.p, w.len + rest.len + 1);
        memcpy(w.p + w.len, rest.p, rest.len + 1);
        w.len += rest.len;
        w.closed = rest.closed;
        free(rest.p);
    }
    *took = now_s() - t0;
    close(fd);
    return w;
}

START_TEST(test_slow_head)
{
    /* One header every 200 ms: each byte resets an idle timeout, not the
     * head deadline (1 s here). */
    double took;
    wire w = drip("GET /healthz HTTP/1.1\r\nHost: a\r\n", "X-a: b\r\n", &took);
    ck_assert_msg(w.closed, "still open after %.1f s", took);
    ck_assert_int_eq(status_of(&w), 408);
    assert_envelope(&w, "Request timeout");
    free(w.p);

    /* A request line that never ends: closed without a reply. */
    w = drip("GET /healthz HT", "T", &took);
    ck_assert_msg(w.closed, "still open after %.1f s", took);
    free(w.p);

    /* A normal request is unaffected. */
    int fd = dial();
    puts_(fd, HIDDEN);
    w = slurp(fd, 0.5);
    ck_assert_int_eq(status_of(&w), 200);
    free(w.p);
    /* And a connection idle past the deadline is closed silently. */
    w = slurp(fd, 20.0);
    ck_assert(w.closed);
    ck_assert_uint_eq(w.len, 0);
    free(w.p);
    close(fd);
}
END_TEST

START_TEST(test_slow_body)
{
    /* A megabyte announced, a byte every 200 ms: 5 B/s against the
     * minimum of 1024 B/s after 1 s of grace. */
    double took;
    wire w = drip("POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
                  "Content-Length: 1000000\r\n\r\n",
                  " ", &took);
    ck_assert_msg(w.closed, "still open after %.1f s", took);
    ck_assert_int_eq(status_of(&w), 408);
    assert_envelope(&w, "Request timeout");
    free(w.p);
    size_t live, timeouts, evictions;
    qvs_server_conn_stats(srv, &live, &timeouts, &evictions);
    ck_assert_uint_ge(timeouts, 1);

    /* A body at a normal pace is taken whole. */
    int fd = dial();
    puts_(fd, "POST /collections/x/points/scroll HTTP/1.1\r\nHost: a\r\n"
              "Content-Length: 2\r\n\r\n{");
    w = slurp(fd, 0.3);
    free(w.p);
    puts_(fd, "}");
    w = slurp(fd, 1.0);
    ck_assert_int_eq(status_of(&w), 404);
    free(w.p);
    close(fd);
}
END_TEST

/* ---- 6. a flood of slow sockets ----------------------------------------- */

#define FLOOD 2000

/* Waits (bounded) until the server has registered and settled every
 * socket: `live` open ones and `evictions` closed to admit newer ones. */
static void wait_settled(size_t want_live, size_t want_evictions)
{
    size_t live = 0, timeouts, evictions = 0;
    double t0 = now_s();
    while (now_s() - t0 < 60.0) {
        qvs_server_conn_stats(srv, &live, &timeouts, &evictions);
        if (live == want_live && evictions == want_evictions)
            return;
        usleep(10000);
    }
    ck_abort_msg("server holds %zu connections (want %zu), %zu evictions "
                 "(want %zu)",
                 live, want_live, evictions, want_evictions);
}

/* A normal client from src: GET /healthz answered 200 within 1 s. */
static void normal_client(const char *src)
{
    int fd = dial_from(src);
    ck_assert_int_ge(fd, 0);
    double t0 = now_s();
    puts_(fd, HIDDEN);
    wire w = slurp(fd, 1.0);
    double took = now_s() - t0;
    close(fd);
    ck_assert_msg(status_of(&w) == 200, "no reply in 1 s (%.3f s): %s", took,
                  w.p);
    free(w.p);
}

START_TEST(test_flood)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = 2 * (FLOOD + FLOOD / 2) + 512; /* both ends, in-process */
    if (rl.rlim_cur < need) {
        ck_assert_msg(rl.rlim_max >= need, "RLIMIT_NOFILE hard limit %llu",
                      (unsigned long long)rl.rlim_max);
        rl.rlim_cur = need;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    int *fds = malloc(sizeof(int) * (FLOOD + FLOOD / 2));
    size_t n = 0;
    /* 2,000 slow sockets from eight other addresses (250 each, under the
     * per-address limit of 256): the total limit (1024) is what they hit,
     * and the oldest make room for the newest. */
    for (int i = 0; i < FLOOD; i++) {
        char src[32];
        snprintf(src, sizeof(src), "127.0.0.%d", 2 + i % 8);
        int fd = dial_from(src);
        ck_assert_msg(fd >= 0, "connect %d: %s", i, strerror(errno));
        puts_(fd, "GET /healthz HTTP/1.1\r\nHost: a\r\n");
        fds[n++] = fd;
    }
    wait_settled(QVS_CONNECTION_LIMIT, FLOOD - QVS_CONNECTION_LIMIT);
    /* The oldest was evicted, told so in JSON since its request line was
     * in; the newest is still held. */
    wire w = slurp(fds[0], 5.0);
    ck_assert(w.closed);
    ck_assert_int_eq(status_of(&w), 503);
    assert_envelope(&w, "too many connections");
    free(w.p);
    w = slurp(fds[FLOOD - 1], 0.05);
    ck_assert(!w.closed);
    free(w.p);
    normal_client("127.0.0.1");
    /* Its connection evicted one more slow one, and is gone now. */
    size_t before = FLOOD - QVS_CONNECTION_LIMIT + 1;
    wait_settled(QVS_CONNECTION_LIMIT - 1, before);

    /* 1,000 more from the normal client's own address: the first fills
     * the free place, the others each evict one, and past the
     * per-address limit (256) they evict each other, not the client. */
    for (int i = 0; i < FLOOD / 2; i++) {
        int fd = dial_from("127.0.0.1");
        ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
        puts_(fd, "GET /healthz HTTP/1.1\r\nHost: a\r\n");
        fds[n++] = fd;
    }
    wait_settled(QVS_CONNECTION_LIMIT, before + FLOOD / 2 - 1);
    normal_client("127.0.0.1");
    normal_client("127.0.0.5");
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}
END_TEST

/* ---- 7. the worker pool ------------------------------------------------- */

static void await_pool(size_t queued_want, size_t running_want);

/* Opens n connections and sends req on each: with the pool held, the
 * first `running` take the workers (waited for, so that a worker slow to
 * wake cannot leave the queue full a moment too long) and the rest the
 * queue's places. */
static int *send_held(const char *req, size_t n, size_t running)
{
    int *fds = malloc(sizeof(int) * n);
    ck_assert_ptr_nonnull(fds);
    for (size_t i = 0; i < n; i++) {
        if (i == running)
            await_pool(0, running);
        fds[i] = dial();
        puts_(fds[i], req);
    }
    return fds;
}

/* Waits (60 s at most) until the pool has queued requests waiting and
 * running ones on a worker, then checks both. */
static void await_pool(size_t queued_want, size_t running_want)
{
    size_t queued = 0, running = 0;
    double t0 = now_s();
    while (now_s() - t0 < 60.0) {
        qvs_server_queue_stats(srv, &queued, &running);
        if (queued == queued_want && running == running_want)
            break;
        usleep(10000);
    }
    ck_assert_uint_eq(queued, queued_want);
    ck_assert_uint_eq(running, running_want);
}

/* Once the pool is released: every one of the n held requests on fds is
 * answered with status; closes them and frees fds. */
static void answer_held(int *fds, size_t n, int status, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        wire w = reply1(fds[i], 30.0);
        ck_assert_msg(status_of(&w) == status, "%s %zu: %s", what, i, w.p);
        free(w.p);
        close(fds[i]);
    }
    free(fds);
}

START_TEST(test_worker_pool)
{
    /* Two workers (threads = 2), so 128 places in the queue.  Held, the
     * workers take one request each and the rest fill the queue. */
    size_t cap = 2 * QVS_QUEUE_PER_WORKER, n = 2 + cap;
    qvs_server_hold_workers(srv, true);
    int *fds = send_held("GET /collections HTTP/1.1\r\nHost: a\r\n\r\n", n, 2);
    await_pool(cap, 2);

    /* The queue is full: one more is refused at once, in JSON, and its
     * connection kept. */
    int fd = dial();
    puts_(fd, "GET /collections HTTP/1.1\r\nHost: a\r\n\r\n");
    wire w = reply1(fd, 1.0);
    ck_assert_msg(status_of(&w) == 503, "got: %s", w.p);
    assert_envelope(&w, "too many requests");
    free(w.p);
    /* A probe does not wait behind the held requests. */
    puts_(fd, HIDDEN);
    w = reply1(fd, 1.0);
    ck_assert_int_eq(status_of(&w), 200);
    free(w.p);
    /* Nor does /metrics (it never takes a collection's lock either). */
    puts_(fd, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    w = reply1(fd, 1.0);
    ck_assert_msg(status_of(&w) == 200, "got: %s", w.p);
    free(w.p);
    close(fd);
    normal_client("127.0.0.1");

    /* Released, every held request is answered. */
    qvs_server_hold_workers(srv, false);
    answer_held(fds, n, 200, "request");
}
END_TEST

/* Writes take at most half the workers (one of two here): with the
 * writes held, the second worker still runs reads; writes past their
 * queue's places are refused while reads still get in. */
START_TEST(test_pool_writes)
{
    static const char upsert[] =
        "PUT /collections/nope/points HTTP/1.1\r\nHost: a\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    size_t cap = 2 * QVS_QUEUE_PER_WORKER, n = 1 + cap;
    qvs_server_hold_writes(srv, true);
    int *fds = send_held(upsert, n, 1);
    /* One write runs (held), the rest wait for the cap, not a worker. */
    await_pool(cap, 1);

    /* The write queue is full: one more write is refused at once... */
    int fd = dial();
    puts_(fd, upsert);
    wire w = reply1(fd, 1.0);
    ck_assert_msg(status_of(&w) == 503, "got: %s", w.p);
    assert_envelope(&w, "too many requests");
    free(w.p);
    /* ...and reads, on the same connection and others, are run. */
    for (int i = 0; i < 5; i++) {
        puts_(fd, "GET /collections HTTP/1.1\r\nHost: a\r\n\r\n");
        w = reply1(fd, 2.0);
        ck_assert_msg(status_of(&w) == 200, "read %d: %s", i, w.p);
        free(w.p);
    }
    close(fd);
    normal_client("127.0.0.1");

    /* Released, every held write is answered (the collection is
     * missing: 404, from the handler, not the pool). */
    qvs_server_hold_writes(srv, false);
    answer_held(fds, n, 404, "write");
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("http_hostile");
    TCase *tc = tcase_create("parsing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_smuggling);
    tcase_add_test(tc, test_transfer_codings);
    tcase_add_test(tc, test_header_fields);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_pipelining);
    tcase_add_test(tc, test_flood);
    tcase_add_test(tc, test_worker_pool);
    tcase_add_test(tc, test_pool_writes);
    suite_add_tcase(s, tc);

    TCase *slow = tcase_create("deadlines");
    tcase_add_checked_fixture(slow, setup_fast, teardown);
    tcase_set_timeout(slow, 120);
    tcase_add_test(slow, test_slow_head);
    tcase_add_test(slow, test_slow_body);
    suite_add_tcase(s, slow);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
