/*
 * bench_search_threads.c -- the in-process side of the server benchmarks
 * (bench/http_load.sh, bench/grpc_load.sh).
 *
 * Builds a collection from BASE.fvecs with the settings the HTTP side
 * uses (m 16, ef_construct 100, the default full-scan threshold), then
 * runs THREADS threads that each search the queries of QUERIES.fvecs in a
 * loop for SECONDS seconds with limit K and hnsw_ef EF, as wrk's
 * connections do against the server.  Prints one RESULT line in the
 * format of bench/http/search.lua so the driver script divides one by the
 * other.  Every thread keeps its own latency samples (no shared counters
 * on the hot path); the percentiles are taken over all of them.
 *
 * Usage: bench_search_threads [--snapshot SNAP.qvs] BASE QUERIES.fvecs
 *        METRIC K EF THREADS SECONDS [WRITERS BATCH]
 *
 * --snapshot SNAP.qvs searches the collection saved in that snapshot file
 * instead of building one: qv_snapshot_open maps it, as the server maps
 * the snapshot of a collection it reopens, so that a transport benchmark
 * (bench/grpc_load.sh) searches the very graph the server searches, not
 * one built here in a single batch.  BASE must then be "-" (the points
 * come from the file), WRITERS cannot be given, and the snapshot's
 * dimension and metric must be the queries' dimension and METRIC, or it
 * exits with status 1 before searching.  Opening prints
 *     SNAPSHOT points=N dim=D open_ms=T
 * on stdout, before the RESULT line, so the caller can check N; then every
 * query is searched once, untimed (warm_up).
 *
 * With WRITERS > 0 it also measures how writes delay searches (Quiver
 * issue 11: writes must not starve searches).  In one run, on the same
 * collection, it measures the searches twice: first alone, then beside
 * WRITERS threads that each upsert batches of BATCH new points (rows of
 * BASE with their ids shifted past every existing one, so the graph
 * insert does real work) as fast as they can.  It prints one RESULT line
 * per phase (writers=0, then writers=W) and the ratio of the two p99s;
 * only that ratio, taken in one run, means anything on a shared machine.
 */
#include "quiver.h"
#include "vecfile.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    qv_collection *c;
    const vf_matrix *q;
    qv_search_params params;
    double seconds;
    size_t first; /* query to start from, so threads differ */
    double *lat;  /* latencies in microseconds */
    size_t n, cap;
    int failed;
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *run(void *arg)
{
    worker *w = arg;
    qv_hit *hits = malloc(sizeof *hits * w->params.k);
    double end = now() + w->seconds;
    size_t i = w->first;
    while (hits && !w->failed) {
        double t0 = now();
        if (t0 >= end)
            break;
        size_t nh;
        const float *v = w->q->data + (i % w->q->rows) * w->q->cols;
        if (qv_search(w->c, v, (uint32_t)w->q->cols, &w->params, hits, &nh) !=
            QV_OK)
            w->failed = 1;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            double *grown = realloc(w->lat, w->cap * sizeof *grown);
            if (!grown) {
                w->failed = 1;
                break;
            }
            w->lat = grown;
        }
        w->lat[w->n++] = (now() - t0) * 1e6;
        i++;
    }
    free(hits);
    return NULL;
}

/* An upsert writer of the contention phase. */
typedef struct writer {
    qv_collection *c;
    const vf_matrix *base;
    size_t batch;
    uint64_t next_id; /* ids of this writer: next_id, next_id + 1, ... */
    volatile int *stop;
    size_t batches;
    double *lat; /* upsert latencies in microseconds */
    size_t n, cap;
    int failed;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    size_t dim = w->base->cols;
    qv_point_id *ids = malloc(sizeof *ids * w->batch);
    float *vecs = malloc(sizeof *vecs * w->batch * dim);
    size_t row = (size_t)(w->next_id % w->base->rows);
    while (ids && vecs && !w->failed &&
           !__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
        for (size_t i = 0; i < w->batch; i++) {
            ids[i] = qv_id_from_num(w->next_id++);
            /* A base row, nudged so that it is a new point. */
            const float *src = w->base->data + row * dim;
            for (size_t j = 0; j < dim; j++)
                vecs[i * dim + j] = src[j] * (1.0f + 0.01f * (float)(j & 3));
            row = (row + 1) % w->base->rows;
        }
        double t0 = now();
        if (qv_upsert_batch(w->c, ids, vecs, w->batch, (uint32_t)dim) != QV_OK)
            w->failed = 1;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 1024;
            double *grown = realloc(w->lat, w->cap * sizeof *grown);
            if (!grown) {
                w->failed = 1;
                break;
            }
            w->lat = grown;
        }
        w->lat[w->n++] = (now() - t0) * 1e6;
        w->batches++;
    }
    if (!ids || !vecs)
        w->failed = 1;
    free(ids);
    free(vecs);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static qv_collection *build(const vf_matrix *base, qv_metric metric)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = (uint32_t)base->cols;
    cfg.metric = metric;
    qv_collection *c;
    if (qv_collection_create(&cfg, &c) != QV_OK)
        return NULL;
    qv_point_id *ids = malloc(sizeof *ids * base->rows);
    for (size_t i = 0; ids && i < base->rows; i++)
        ids[i] = qv_id_from_num(i);
    if (!ids || qv_upsert_batch(c, ids, base->data, base->rows,
                                (uint32_t)base->cols) != QV_OK) {
        qv_collection_release(c);
        c = NULL;
    }
    free(ids);
    return c;
}

/* One phase: THREADS searchers for SECONDS (beside `writers` upserting
 * threads when writers > 0).  Prints its RESULT line; returns the p99 in
 * microseconds, or -1 on failure. */
static double phase(qv_collection *c, const vf_matrix *base, const vf_matrix *q,
                    char **argv, unsigned threads, unsigned writers,
                    size_t batch, uint64_t *next_id)
{
    worker *w = calloc(threads, sizeof *w);
    pthread_t *tid = calloc(threads, sizeof *tid);
    writer *wr = calloc(writers ? writers : 1, sizeof *wr);
    pthread_t *wtid = calloc(writers ? writers : 1, sizeof *wtid);
    volatile int stop = 0;
    if (!w || !tid || !wr || !wtid)
        return -1;
    for (unsigned t = 0; t < writers; t++) {
        wr[t].c = c;
        wr[t].base = base;
        wr[t].batch = batch;
        wr[t].next_id = *next_id + (uint64_t)t * 1000000000ull;
        wr[t].stop = &stop;
        pthread_create(&wtid[t], NULL, write_loop, &wr[t]);
    }
    *next_id += (uint64_t)(writers ? writers : 1) * 1000000000ull;
    for (unsigned t = 0; t < threads; t++) {
        w[t].c = c;
        w[t].q = q;
        qv_search_params_init(&w[t].params);
        w[t].params.k = (uint32_t)atoi(argv[4]);
        w[t].params.hnsw_ef = (uint32_t)atoi(argv[5]);
        w[t].seconds = atof(argv[7]);
        w[t].first = t * 7919u;
        pthread_create(&tid[t], NULL, run, &w[t]);
    }
    size_t total = 0;
    int failed = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        total += w[t].n;
        failed |= w[t].failed;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    size_t batches = 0, wtotal = 0;
    for (unsigned t = 0; t < writers; t++) {
        pthread_join(wtid[t], NULL);
        batches += wr[t].batches;
        wtotal += wr[t].n;
        failed |= wr[t].failed;
    }
    double *all = malloc(sizeof *all * (total ? total : 1));
    double *wall = malloc(sizeof *wall * (wtotal ? wtotal : 1));
    size_t k = 0;
    for (unsigned t = 0; t < threads; t++) {
        memcpy(all + k, w[t].lat, w[t].n * sizeof *all);
        k += w[t].n;
        free(w[t].lat);
    }
    k = 0;
    for (unsigned t = 0; t < writers; t++) {
        memcpy(wall + k, wr[t].lat, wr[t].n * sizeof *wall);
        k += wr[t].n;
        free(wr[t].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    qsort(wall, wtotal, sizeof *wall, cmp_double);
    double secs = atof(argv[7]);
    double p99 = total ? all[(size_t)(total * 0.99)] : 0.0;
    printf("RESULT requests=%zu seconds=%.3f p50_us=%.0f p99_us=%.0f "
           "non2xx=0 errors=%d",
           total, secs, total ? all[total / 2] : 0.0, p99, failed);
    if (argv[8])
        printf(" writers=%u batches=%zu points_per_s=%.0f upsert_p50_us=%.0f "
               "upsert_p99_us=%.0f",
               writers, batches, (double)(batches * batch) / secs,
               wtotal ? wall[wtotal / 2] : 0.0,
               wtotal ? wall[(size_t)(wtotal * 0.99)] : 0.0);
    printf("\n");
    fflush(stdout);
    free(all);
    free(wall);
    free(w);
    free(tid);
    free(wr);
    free(wtid);
    return failed ? -1 : p99;
}

/* Opens the snapshot at path and checks that it can answer the queries:
 * its dimension must be dim and its metric metric.  Prints the SNAPSHOT
 * line.  Returns NULL (with a message on stderr) on any failure. */
static qv_collection *open_snapshot(const char *path, size_t dim,
                                    qv_metric metric)
{
    char err[512];
    double t0 = now();
    qv_collection *c;
    if (qv_snapshot_open(path, 0, &c, err, sizeof err) != QV_OK) {
        /* The message names the file when the open itself failed. */
        fprintf(stderr, "%s%s%s\n", strstr(err, path) ? "" : path,
                strstr(err, path) ? "" : ": ", err);
        return NULL;
    }
    double ms = (now() - t0) * 1e3;
    qv_collection_config cfg;
    uint64_t points = 0;
    if (qv_collection_get_config(c, &cfg) != QV_OK ||
        qv_count(c, &points) != QV_OK) {
        fprintf(stderr, "%s: cannot read its config or count\n", path);
        goto fail;
    }
    if (cfg.dim != dim) {
        fprintf(stderr, "%s: dimension %u, the queries have %zu\n", path,
                cfg.dim, dim);
        goto fail;
    }
    if (cfg.metric != metric) {
        fprintf(stderr, "%s: metric %s, not %s\n", path,
                qv_metric_name(cfg.metric), qv_metric_name(metric));
        goto fail;
    }
    printf("SNAPSHOT points=%llu dim=%u open_ms=%.2f\n",
           (unsigned long long)points, cfg.dim, ms);
    fflush(stdout);
    return c;
fail:
    qv_collection_release(c);
    return NULL;
}

/* Searches every query once before the timed phase.  A fresh mapping
 * faults its pages in on first touch, while the server that mapped the
 * same file has answered these queries already (bench/grpc_load.sh runs
 * its sides in turn): without this the in-process side would pay those
 * faults inside its timed seconds. */
static bool warm_up(qv_collection *c, const vf_matrix *q, char **argv)
{
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = (uint32_t)atoi(argv[4]);
    p.hnsw_ef = (uint32_t)atoi(argv[5]);
    qv_hit *hits = malloc(sizeof *hits * (p.k ? p.k : 1));
    bool ok = hits != NULL;
    for (size_t i = 0; ok && i < q->rows; i++) {
        size_t n;
        ok = qv_search(c, q->data + i * q->cols, (uint32_t)q->cols, &p, hits,
                       &n) == QV_OK;
    }
    free(hits);
    if (!ok)
        fprintf(stderr, "warm-up search failed\n");
    return ok;
}

int main(int argc, char **argv)
{
    const char *snapshot = NULL;
    /* "--snapshot PATH" comes first; shifting argv past it keeps the
     * positional arguments at the indexes phase() reads them from. */
    if (argc > 2 && strcmp(argv[1], "--snapshot") == 0) {
        snapshot = argv[2];
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }
    if (snapshot && (argc != 8 || strcmp(argv[1], "-") != 0)) {
        fprintf(stderr, "with --snapshot, BASE must be - and WRITERS "
                        "cannot be given (the points come from the file)\n");
        return 2;
    }
    if (argc != 8 && argc != 10) {
        fprintf(stderr,
                "usage: %s BASE QUERIES METRIC K EF THREADS SECONDS "
                "[WRITERS BATCH]\n"
                "       %s --snapshot SNAP.qvs - QUERIES METRIC K EF "
                "THREADS SECONDS\n",
                argv[0], argv[0]);
        return 2;
    }
    vf_matrix base = {0}, q;
    char err[256];
    qv_metric metric;
    if ((!snapshot && vf_read(argv[1], &base, err, sizeof err) != QV_OK) ||
        vf_read(argv[2], &q, err, sizeof err) != QV_OK) {
        fprintf(stderr, "%s\n", err);
        vf_matrix_free(&base);
        return 1;
    }
    if (qv_metric_parse(argv[3], &metric) != QV_OK) {
        fprintf(stderr, "unknown metric %s\n", argv[3]);
        return 2;
    }
    unsigned threads = (unsigned)atoi(argv[6]);
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "THREADS must be 1..256\n");
        return 2;
    }
    int writers = argc == 10 ? atoi(argv[8]) : 0;
    long batch = argc == 10 ? atol(argv[9]) : 0;
    if (argc == 10 &&
        (writers < 1 || writers > 64 || batch < 1 || batch > 100000)) {
        fprintf(stderr, "WRITERS must be 1..64 and BATCH 1..100000\n");
        return 2;
    }
    qv_collection *c;
    if (snapshot) {
        c = open_snapshot(snapshot, q.cols, metric);
        if (!c || !warm_up(c, &q, argv)) {
            if (c)
                qv_collection_release(c);
            return 1;
        }
    } else {
        double t0 = now();
        c = build(&base, metric);
        if (!c) {
            fprintf(stderr, "build failed\n");
            return 1;
        }
        fprintf(stderr, "built %zu x %zu in %.1f s\n", base.rows, base.cols,
                now() - t0);
    }
    uint64_t next_id = base.rows;
    int failed = 0;
    double alone = phase(c, &base, &q, argv, threads, 0, 0, &next_id);
    failed |= alone < 0;
    if (writers > 0 && !failed) {
        double with = phase(c, &base, &q, argv, threads, (unsigned)writers,
                            (size_t)batch, &next_id);
        failed |= with < 0;
        if (!failed)
            printf("RATIO p99_with_writers/p99_alone=%.2f\n",
                   alone > 0 ? with / alone : 0.0);
    }
    qv_collection_release(c);
    vf_matrix_free(&base);
    vf_matrix_free(&q);
    return failed;
}
