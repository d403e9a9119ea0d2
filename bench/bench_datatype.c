/*
 * bench_datatype.c -- memory, recall and speed of one data set stored as
 * float32, float16 and uint8 (qv_collection_config.datatype).  Not a test;
 * run under flock /tmp/quiver-bench.lock, on an otherwise idle machine.
 *
 *   bench_datatype [N [DIM [NQ [THREADS]]]]     defaults 100000 768 200 2
 *
 * Data: N + NQ vectors of DIM components drawn around 64 cluster centres
 * (a fixed seed), values in [0, 255] with fractions -- the range a uint8
 * collection keeps (Rust's `as u8` truncates the fraction), and one in
 * which a half keeps 3 to 10 fraction bits.  Euclid, as uint8 refuses
 * cosine.  For each datatype, in turn and in one process (the previous
 * collection freed first), it builds the collection with THREADS threads
 * (HNSW m 16, ef_construct 100), then reports:
 *   - rows MB: qv_collection_vector_bytes * N, the stored rows;
 *   - RSS delta MB: VmRSS after the build minus before (rows, norms,
 *     graph, ids; allocator slack included);
 *   - recall@10 at ef 64 and 128 against the exact top 10 of the float32
 *     data (so the datatype's own rounding counts as a miss), and the
 *     exact search of the datatype itself against that same truth;
 *   - QPS of one thread at each ef (NQ queries, the single run's figure).
 * Figures are for ratios within one run, not absolutes.
 */
#include "quiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float unit(uint64_t *s)
{
    return (float)(rng(s) >> 40) / (float)(1u << 24);
}

static void make_data(float *v, size_t n, uint32_t dim)
{
    enum { CENTRES = 64 };
    uint64_t s = 12345;
    float *c = malloc((size_t)CENTRES * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)CENTRES * dim; i++)
        c[i] = 40.0f + 175.0f * unit(&s);
    for (size_t i = 0; i < n; i++) {
        const float *ci = c + (rng(&s) % CENTRES) * dim;
        for (uint32_t k = 0; k < dim; k++) {
            /* centre + a spread of about +-40 (sum of 3 uniforms) */
            float x = ci[k] + 27.0f * (unit(&s) + unit(&s) + unit(&s) - 1.5f);
            v[i * dim + k] = x < 0 ? 0 : x > 255.9f ? 255.9f : x;
        }
    }
    free(c);
}

static int search_all(qv_collection *c, const float *q, size_t nq, uint32_t dim,
                      bool exact, uint32_t ef, uint64_t *out, double *secs)
{
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 10;
    sp.exact = exact;
    sp.hnsw_ef = ef;
    qv_hit hits[10];
    double t0 = now_s();
    for (size_t i = 0; i < nq; i++) {
        size_t n = 0;
        if (qv_search(c, q + i * dim, dim, &sp, hits, &n) != QV_OK || n != 10)
            return -1;
        for (size_t j = 0; j < 10; j++)
            out[i * 10 + j] = hits[j].id.u.num;
    }
    *secs = now_s() - t0;
    return 0;
}

static double recall(const uint64_t *got, const uint64_t *truth, size_t nq)
{
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (size_t a = 0; a < 10; a++)
            for (size_t b = 0; b < 10; b++)
                hit += got[i * 10 + a] == truth[i * 10 + b];
    return (double)hit / (double)(nq * 10);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    uint32_t dim = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 768;
    size_t nq = argc > 3 ? strtoull(argv[3], NULL, 10) : 200;
    uint32_t threads = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 2;
    float *data = malloc((n + nq) * dim * sizeof(float));
    qv_point_id *ids = malloc(n * sizeof(*ids));
    uint64_t *truth = malloc(nq * 10 * sizeof(uint64_t));
    uint64_t *got = malloc(nq * 10 * sizeof(uint64_t));
    if (!data || !ids || !truth || !got) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    make_data(data, n + nq, dim);
    const float *queries = data + n * dim;
    for (size_t i = 0; i < n; i++)
        ids[i] = qv_id_from_num(i);
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT32, QV_DATATYPE_FLOAT16,
                                   QV_DATATYPE_UINT8};
    static const char *const names[] = {"float32", "float16", "uint8"};
    static const uint32_t efs[] = {64, 128};
    qv_build_info info;
    qv_build_info_get(&info);
    printf("bench_datatype: %zu x %u, %zu queries, euclid, m 16, "
           "ef_construct 100, %u build threads, simd %s\n",
           n, dim, nq, threads, info.simd_level);
    printf("%-8s %8s %9s %8s %11s %9s %9s %9s %9s\n", "datatype", "rows MB",
           "RSS+ MB", "build s", "exact rec", "rec@ef64", "QPS ef64", "rec@128",
           "QPS 128");
    for (size_t d = 0; d < 3; d++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = dim;
        cfg.metric = QV_METRIC_EUCLID;
        cfg.datatype = dts[d];
        cfg.hnsw_m = 16;
        cfg.hnsw_ef_construct = 100;
        cfg.full_scan_threshold_kb = 0;
        cfg.max_indexing_threads = threads;
        long r0 = rss_kb();
        qv_collection *c = NULL;
        double t0 = now_s();
        if (qv_collection_create(&cfg, &c) != QV_OK ||
            qv_upsert_batch(c, ids, data, n, dim) != QV_OK) {
            fprintf(stderr, "build failed\n");
            return 1;
        }
        double build = now_s() - t0;
        long r1 = rss_kb();
        size_t row = 0;
        qv_collection_vector_bytes(c, &row);
        double secs;
        if (search_all(c, queries, nq, dim, true, 0, got, &secs) != 0)
            return 1;
        if (d == 0) /* float32 exact: the truth */
            memcpy(truth, got, nq * 10 * sizeof(uint64_t));
        double exact_rec = recall(got, truth, nq);
        double rec[2], qps[2];
        for (size_t e = 0; e < 2; e++) {
            /* one warm-up pass, then the measured one */
            if (search_all(c, queries, nq, dim, false, efs[e], got, &secs) ||
                search_all(c, queries, nq, dim, false, efs[e], got, &secs))
                return 1;
            rec[e] = recall(got, truth, nq);
            qps[e] = (double)nq / secs;
        }
        printf("%-8s %8.1f %9.1f %8.1f %11.4f %9.4f %9.0f %9.4f %9.0f\n",
               names[d], (double)row * (double)n / 1048576.0,
               (double)(r1 - r0) / 1024.0, build, exact_rec, rec[0], qps[0],
               rec[1], qps[1]);
        fflush(stdout);
        qv_collection_release(c);
    }
    free(data);
    free(ids);
    free(truth);
    free(got);
    return 0;
}
