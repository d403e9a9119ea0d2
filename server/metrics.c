/*
 * metrics.c -- request counters and latency histograms, and /metrics in
 * Prometheus' text format.
 *
 * Each route has one qvs_route_stats (plus one slot for requests no route
 * matched): a counter per status slot, a latency histogram and the sum of
 * latencies, all relaxed atomics, hung off the server object; recording a
 * reply takes no lock.  Counters are read without a snapshot, so a scrape
 * racing a request may see the count before the histogram; Prometheus
 * tolerates that, and the next scrape agrees.
 *
 * Names follow Qdrant where Qdrant has them (app_info, collections_total,
 * rest_responses_total, rest_responses_duration_seconds), with the labels
 * method, endpoint (the route pattern, as Qdrant) and status; we add the
 * route's operation name as a label and collection_points{id="c"}.
 * gRPC calls count in grpc_responses_total{endpoint,status}, rendered
 * by the gRPC listener (server/grpc/grpc_server.c).
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The statuses a reply can have; anything else counts in the last slot. */
static const int status_codes[QVS_N_STATUS] = {200, 202, 400, 401, 403, 404,
                                               405, 408, 409, 413, 422, 429,
                                               431, 500, 503, 0 /* other */};

static const double bucket_bounds[QVS_N_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

bool qvs_metrics_init(qvs_metrics *m, size_t n_routes)
{
    m->n = n_routes + 1;
    m->stats = calloc(m->n, sizeof(*m->stats));
    if (!m->stats)
        return false;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t s = 0; s < QVS_N_STATUS; s++)
            atomic_init(&m->stats[i].by_status[s], 0);
        for (size_t b = 0; b <= QVS_N_BUCKETS; b++)
            atomic_init(&m->stats[i].buckets[b], 0);
        atomic_init(&m->stats[i].sum_ns, 0);
    }
    return true;
}

void qvs_metrics_free(qvs_metrics *m)
{
    free(m->stats);
    m->stats = NULL;
    m->n = 0;
}

int qvs_metrics_status_code(size_t s)
{
    return s < QVS_N_STATUS ? status_codes[s] : 0;
}

static size_t status_slot(int status)
{
    for (size_t s = 0; s + 1 < QVS_N_STATUS; s++)
        if (status_codes[s] == status)
            return s;
    return QVS_N_STATUS - 1;
}

void qvs_metrics_record(qvs_metrics *m, size_t slot, int status, double seconds)
{
    if (slot >= m->n)
        slot = m->n - 1;
    qvs_route_stats *st = &m->stats[slot];
    atomic_fetch_add_explicit(&st->by_status[status_slot(status)], 1,
                              memory_order_relaxed);
    size_t b = 0;
    while (b < QVS_N_BUCKETS && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add_explicit(&st->buckets[b], 1, memory_order_relaxed);
    uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
    atomic_fetch_add_explicit(&st->sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_ns_by_status[status_slot(status)], ns,
                              memory_order_relaxed);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    atomic_store_explicit(&st->last_ms,
                          (uint64_t)now.tv_sec * 1000u +
                              (uint64_t)now.tv_nsec / 1000000u,
                          memory_order_relaxed);
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

/* Writes s as a Prometheus label value: \ " and newline escaped. */
static void put_label(text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            put(t, "\\%c", *s);
        else if (*s == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *s);
    }
}

static void put_route_labels(text *t, const qvs_route *route)
{
    if (!route) {
        put(t, "method=\"\",endpoint=\"unmatched\",operation=\"unmatched\"");
        return;
    }
    char pattern[512];
    put(t, "method=\"%s\",endpoint=\"", route->method);
    put_label(t, qvs_route_public_pattern(route, pattern, sizeof(pattern)));
    put(t, "\",operation=\"");
    put_label(t, route->metric_name ? route->metric_name : "");
    put(t, "\"");
}

static void render_counters(text *t, const qvs_router *r, qvs_metrics *m)
{
    put(t, "# HELP rest_responses_total total number of responses\n"
           "# TYPE rest_responses_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        const qvs_route *route = i < r->n ? r->entries[i].route : NULL;
        for (size_t s = 0; s < QVS_N_STATUS; s++) {
            uint64_t v = atomic_load_explicit(&m->stats[i].by_status[s],
                                              memory_order_relaxed);
            if (!v)
                continue;
            put(t, "rest_responses_total{");
            put_route_labels(t, route);
            if (status_codes[s])
                put(t, ",status=\"%d\"} %llu\n", status_codes[s],
                    (unsigned long long)v);
            else
                put(t, ",status=\"other\"} %llu\n", (unsigned long long)v);
        }
    }
}

static void render_histograms(text *t, const qvs_router *r, qvs_metrics *m)
{
    put(t, "# HELP rest_responses_duration_seconds response duration "
           "histogram\n"
           "# TYPE rest_responses_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const qvs_route *route = i < r->n ? r->entries[i].route : NULL;
        uint64_t cum = 0, counts[QVS_N_BUCKETS + 1];
        for (size_t b = 0; b <= QVS_N_BUCKETS; b++)
            counts[b] = atomic_load_explicit(&m->stats[i].buckets[b],
                                             memory_order_relaxed);
        uint64_t total = 0;
        for (size_t b = 0; b <= QVS_N_BUCKETS; b++)
            total += counts[b];
        if (!total)
            continue;
        for (size_t b = 0; b <= QVS_N_BUCKETS; b++) {
            cum += counts[b];
            put(t, "rest_responses_duration_seconds_bucket{");
            put_route_labels(t, route);
            if (b < QVS_N_BUCKETS)
                put(t, ",le=\"%g\"} %llu\n", bucket_bounds[b],
                    (unsigned long long)cum);
            else
                put(t, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        uint64_t ns =
            atomic_load_explicit(&m->stats[i].sum_ns, memory_order_relaxed);
        put(t, "rest_responses_duration_seconds_sum{");
        put_route_labels(t, route);
        put(t, "} %.9f\n", (double)ns / 1e9);
        put(t, "rest_responses_duration_seconds_count{");
        put_route_labels(t, route);
        put(t, "} %llu\n", (unsigned long long)total);
    }
}

typedef struct coll_lines {
    text *t;
    uint64_t vectors;
} coll_lines;

static void render_one_collection(void *arg, qvs_coll *c)
{
    coll_lines *cl = arg;
    put(cl->t, "collection_points{id=\"");
    put_label(cl->t, c->name);
    uint64_t points = 0;
    qv_count_approx(c->points, &points); /* never waits behind a writer */
    put(cl->t, "\"} %llu\n", (unsigned long long)points);
    for (size_t i = 0; i < c->n_vectors; i++) {
        uint64_t n = 0;
        qv_count_approx(c->vectors[i].coll, &n);
        cl->vectors += n;
    }
}

static void render_collections(text *t, qvs_catalog *cat)
{
    put(t,
        "# HELP collections_total number of collections\n"
        "# TYPE collections_total gauge\n"
        "collections_total %zu\n"
        "# HELP collection_points approximate amount of points per "
        "collection\n"
        "# TYPE collection_points gauge\n",
        qvs_catalog_count(cat));
    coll_lines cl = {t, 0};
    qvs_catalog_each(cat, render_one_collection, &cl);
    put(t,
        "# HELP collections_vector_total total number of vectors in all "
        "collections\n"
        "# TYPE collections_vector_total gauge\n"
        "collections_vector_total %llu\n",
        (unsigned long long)cl.vectors);
}

char *qvs_metrics_render(qvs_server *srv, size_t *len)
{
    text t = {malloc(4096), 0, 4096, false};
    if (!t.buf)
        return NULL;
    put(&t,
        "# HELP app_info information about qdrant server\n"
        "# TYPE app_info gauge\n"
        "app_info{name=\"qdrant\",version=\"%s\"} 1\n"
        "# HELP cluster_enabled is cluster support enabled\n"
        "# TYPE cluster_enabled gauge\n"
        "cluster_enabled 0\n",
        QVS_VERSION);
    render_collections(&t, qvs_server_catalog(srv));
    render_counters(&t, qvs_server_router(srv), qvs_server_metrics(srv));
    render_histograms(&t, qvs_server_router(srv), qvs_server_metrics(srv));
    char *grpc = qvs_server_grpc_metrics(srv); /* NULL: gRPC off */
    if (grpc)
        put(&t, "%s", grpc);
    free(grpc);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
