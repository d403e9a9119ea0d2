/*
 * bench_search_threads.c -- the in-process side of the HTTP overhead
 * benchmark (bench/http_load.sh).
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
 * Usage: bench_search_threads BASE.fvecs QUERIES.fvecs METRIC K EF THREADS
 *        SECONDS
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

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s BASE QUERIES METRIC K EF THREADS SECONDS\n",
                argv[0]);
        return 2;
    }
    vf_matrix base, q;
    char err[256];
    qv_metric metric;
    if (vf_read(argv[1], &base, err, sizeof err) != QV_OK ||
        vf_read(argv[2], &q, err, sizeof err) != QV_OK) {
        fprintf(stderr, "%s\n", err);
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
    double t0 = now();
    qv_collection *c = build(&base, metric);
    if (!c) {
        fprintf(stderr, "build failed\n");
        return 1;
    }
    fprintf(stderr, "built %zu x %zu in %.1f s\n", base.rows, base.cols,
            now() - t0);
    worker *w = calloc(threads, sizeof *w);
    pthread_t *tid = calloc(threads, sizeof *tid);
    for (unsigned t = 0; t < threads; t++) {
        w[t].c = c;
        w[t].q = &q;
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
    double *all = malloc(sizeof *all * (total ? total : 1));
    size_t k = 0;
    for (unsigned t = 0; t < threads; t++) {
        memcpy(all + k, w[t].lat, w[t].n * sizeof *all);
        k += w[t].n;
        free(w[t].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double secs = atof(argv[7]);
    printf("RESULT requests=%zu seconds=%.3f p50_us=%.0f p99_us=%.0f "
           "non2xx=0 errors=%d\n",
           total, secs, total ? all[total / 2] : 0.0,
           total ? all[(size_t)(total * 0.99)] : 0.0, failed);
    free(all);
    free(w);
    free(tid);
    qv_collection_release(c);
    vf_matrix_free(&base);
    vf_matrix_free(&q);
    return failed;
}
