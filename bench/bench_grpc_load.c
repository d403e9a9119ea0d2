/*
 * bench_grpc_load.c -- the gRPC side of bench/grpc_load.sh: Points/Search
 * calls against `quiver serve`'s gRPC port for a fixed time, as wrk does
 * for REST (bench/http/search.lua), printing the same RESULT line.
 *
 * THREADS threads each drive CONNS connections (HTTP/2 from libnghttp2,
 * messages packed by protobuf-c from the generated Qdrant types), each
 * with one call in flight at a time: a closed loop, like wrk's
 * connections.  Query i of QUERIES.fvecs becomes a SearchPoints with
 * limit K and hnsw_ef EF.  Latencies are kept per thread and merged at the
 * end; a call counts as failed unless grpc-status is 0.
 *
 * Usage: bench_grpc_load HOST PORT COLLECTION QUERIES.fvecs K EF THREADS
 *        CONNS SECONDS
 */
#include "tests/h2_body.h"
#include "vecfile.h"

#include "points_service.pb-c.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64

typedef struct bench {
    const char *host, *collection;
    int port;
    const vf_matrix *q;
    uint64_t k, ef;
    double seconds;
    unsigned conns;
} bench;

typedef struct gconn {
    int fd;
    nghttp2_session *ng;
    uint8_t *body; /* owned; src points into it */
    h2_body src;
    int status;
    bool busy;
    double t0;
    struct worker *w;
    uint8_t out[16384]; /* frames gathered for one send */
} gconn;

typedef struct worker {
    const bench *b;
    size_t next; /* next query */
    double *lat;
    size_t n, cap, failed;
    gconn c[MAX_CONNS];
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sends every frame nghttp2 has ready in one send(): a call's HEADERS and
 * DATA leave as one segment, as gRPC's own clients coalesce their writes,
 * so the server wakes once per call.  The socket blocks, so the loop ends
 * with everything sent. */
static bool flush(gconn *c)
{
    size_t len = 0;
    for (;;) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->ng, &d);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        if (len + (size_t)n > sizeof(c->out)) { /* full: send what we have */
            if (len && send(c->fd, c->out, len, MSG_NOSIGNAL) != (ssize_t)len)
                return false;
            len = 0;
        }
        if ((size_t)n > sizeof(c->out)) {
            if (send(c->fd, d, (size_t)n, MSG_NOSIGNAL) != n)
                return false;
            continue;
        }
        memcpy(c->out + len, d, (size_t)n);
        len += (size_t)n;
    }
    return !len || send(c->fd, c->out, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *user)
{
    (void)ng, (void)f, (void)flags, (void)vlen;
    if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        ((gconn *)user)->status = atoi((const char *)value);
    return 0;
}

static void record(worker *w, double us, bool ok)
{
    if (!ok)
        w->failed++;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
    }
    if (w->lat)
        w->lat[w->n++] = us;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t err, void *user)
{
    (void)ng, (void)id, (void)err;
    gconn *c = user;
    record(c->w, (now() - c->t0) * 1e6, c->status == 0);
    c->busy = false;
    return 0;
}

/* The framed SearchPoints of query i. */
static uint8_t *search_body(const bench *b, size_t i, size_t *len)
{
    Qdrant__SearchPoints sp = QDRANT__SEARCH_POINTS__INIT;
    Qdrant__SearchParams params = QDRANT__SEARCH_PARAMS__INIT;
    sp.collection_name = (char *)b->collection;
    sp.vector = b->q->data + (i % b->q->rows) * b->q->cols;
    sp.n_vector = b->q->cols;
    sp.limit = b->k;
    params.hnsw_ef = b->ef;
    params._hnsw_ef_case = QDRANT__SEARCH_PARAMS___HNSW_EF_HNSW_EF;
    sp.params = &params;
    size_t n = qdrant__search_points__get_packed_size(&sp);
    uint8_t *out = malloc(n + 5);
    if (!out)
        return NULL;
    out[0] = 0;
    out[1] = (uint8_t)(n >> 24);
    out[2] = (uint8_t)(n >> 16);
    out[3] = (uint8_t)(n >> 8);
    out[4] = (uint8_t)n;
    qdrant__search_points__pack(&sp, out + 5);
    *len = n + 5;
    return out;
}

#define NV(n, v)                                                               \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),                  \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

static bool start_call(worker *w, gconn *c)
{
    free(c->body);
    size_t len = 0;
    c->body = search_body(w->b, w->next++, &len);
    if (!c->body)
        return false;
    c->src = (h2_body){.data = c->body, .len = len};
    c->status = -1;
    c->busy = true;
    c->t0 = now();
    nghttp2_nv nv[] = {NV(":method", "POST"),
                       NV(":scheme", "http"),
                       NV(":authority", "bench"),
                       NV(":path", "/qdrant.Points/Search"),
                       NV("content-type", "application/grpc"),
                       NV("te", "trailers")};
    nghttp2_data_provider prd = {.source.ptr = &c->src,
                                 .read_callback = h2_body_read};
    return nghttp2_submit_request(c->ng, NULL, nv, 6, &prd, NULL) > 0;
}

static bool open_conn(worker *w, gconn *c)
{
    c->w = w;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)w->b->port)};
    inet_pton(AF_INET, w->b->host, &to.sin_addr);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&to, sizeof(to)) != 0)
        return false;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rc = nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return false;
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
    return true;
}

static void *run(void *arg)
{
    worker *w = arg;
    const bench *b = w->b;
    struct pollfd pfd[MAX_CONNS];
    for (unsigned i = 0; i < b->conns; i++)
        if (!open_conn(w, &w->c[i])) {
            w->failed++;
            return NULL;
        }
    double end = now() + b->seconds;
    uint8_t buf[65536];
    for (;;) {
        bool stop = now() >= end, any = false;
        for (unsigned i = 0; i < b->conns; i++) {
            gconn *c = &w->c[i];
            if (!c->busy && !stop && !start_call(w, c))
                w->failed++;
            any |= c->busy;
            if (!flush(c)) {
                w->failed++;
                return NULL;
            }
            pfd[i] = (struct pollfd){.fd = c->fd, .events = POLLIN};
        }
        if (stop && !any)
            break;
        if (poll(pfd, b->conns, 1000) <= 0)
            continue;
        for (unsigned i = 0; i < b->conns; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(w->c[i].fd, buf, sizeof(buf), 0);
            if (n <= 0 ||
                nghttp2_session_mem_recv(w->c[i].ng, buf, (size_t)n) < 0) {
                w->failed++;
                return NULL;
            }
        }
    }
    for (unsigned i = 0; i < b->conns; i++) {
        nghttp2_session_del(w->c[i].ng);
        close(w->c[i].fd);
        free(w->c[i].body);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: bench_grpc_load HOST PORT COLLECTION "
                        "QUERIES.fvecs K EF THREADS CONNS SECONDS\n");
        return 2;
    }
    vf_matrix q;
    char err[256];
    if (vf_read(argv[4], &q, err, sizeof(err)) != QV_OK) {
        fprintf(stderr, "bench_grpc_load: %s\n", err);
        return 1;
    }
    bench b = {.host = argv[1],
               .port = atoi(argv[2]),
               .collection = argv[3],
               .q = &q,
               .k = strtoull(argv[5], NULL, 10),
               .ef = strtoull(argv[6], NULL, 10),
               .conns = (unsigned)atoi(argv[8]),
               .seconds = atof(argv[9])};
    unsigned threads = (unsigned)atoi(argv[7]);
    if (b.conns < 1 || b.conns > MAX_CONNS || threads < 1 || threads > 64) {
        fprintf(stderr, "bench_grpc_load: 1..64 threads and connections\n");
        return 2;
    }
    worker *w = calloc(threads, sizeof(*w));
    pthread_t *t = calloc(threads, sizeof(*t));
    double t0 = now();
    for (unsigned i = 0; i < threads; i++) {
        w[i].b = &b;
        w[i].next = i * 7919;
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    size_t total = 0, failed = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += w[i].n;
        failed += w[i].failed;
    }
    double secs = now() - t0;
    double *all = malloc((total ? total : 1) * sizeof(*all));
    size_t k = 0;
    for (unsigned i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof(*all), cmp_double);
    double p50 = total ? all[total / 2] : 0,
           p99 = total ? all[total * 99 / 100] : 0;
    printf("RESULT requests=%zu seconds=%.3f p50_us=%.0f p99_us=%.0f "
           "non2xx=%zu errors=0\n",
           total, secs, p50, p99, failed);
    free(all);
    free(w);
    free(t);
    vf_matrix_free(&q);
    return failed ? 1 : 0;
}
