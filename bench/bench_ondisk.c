/*
 * bench_ondisk.c -- on_disk vectors against heap vectors: resident memory
 * and the first query on a cold page cache.  Run by bench/ondisk_cold.sh
 * (one process per mode, under flock /tmp/quiver-bench.lock); not a test.
 *
 *   bench_ondisk MODE N DIM DIR [graph]
 *
 * MODE is heap or disk.  Loads N random DIM-float vectors (a fixed seed)
 * into a collection, its rows (and its graph's level-0 links) on the heap
 * or in mapped files in DIR (qv_collection_set_vectors_on_disk,
 * qv_collection_set_graph_on_disk).  Without "graph" the collection is
 * scanned exactly (the threshold is set out of reach), so a query reads
 * every row; with it an HNSW graph is built (m 16, ef_construct 64) and a
 * query reads the rows of the nodes it visits.  It then prints VmRSS,
 * RssAnon and RssFile, makes the file's pages cold -- fdatasync, then
 * MADV_DONTNEED on the mapping and POSIX_FADV_DONTNEED on the file, as
 * /proc/sys/vm/drop_caches needs root -- and reports how many pages
 * mincore still finds resident, the first query's latency, the next
 * query's, and the memory again.  The heap mode has nothing to make cold:
 * its first query is the warm case.  Figures are for ratios within one
 * run, not absolutes.
 */
#define QVI_HNSW_INTERNAL /* the graph's links arena, to make it cold */
#include "core/core.h"
#include "core/hnsw/hnsw.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void print_mem(const char *when)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    printf("%-14s", when);
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmRSS:", 6) || !strncmp(line, "RssAnon:", 8) ||
            !strncmp(line, "RssFile:", 8)) {
            line[strcspn(line, "\n")] = 0;
            char *p = line;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            *p++ = 0;
            while (*p == ' ' || *p == '\t')
                p++;
            printf(" %s %s", line, p);
        }
    }
    printf("\n");
    if (f)
        fclose(f);
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1u << 24) - 0.5f;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s heap|disk N DIM DIR [graph]\n", argv[0]);
        return 2;
    }
    bool disk = !strcmp(argv[1], "disk");
    size_t n = strtoull(argv[2], NULL, 10);
    uint32_t dim = (uint32_t)strtoul(argv[3], NULL, 10);
    const char *dir = argv[4];
    bool graph = argc > 5 && !strcmp(argv[5], "graph");

    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.hnsw_ef_construct = 64;
    cfg.full_scan_threshold_kb = graph ? 0 : UINT32_MAX;
    qv_collection *c;
    if (qv_collection_create(&cfg, &c) != QV_OK)
        return 1;
    if (disk && (qv_collection_set_vectors_on_disk(c, dir) != QV_OK ||
                 qv_collection_set_graph_on_disk(c, dir) != QV_OK)) {
        char m[256];
        qv_collection_errmsg(c, m, sizeof(m));
        fprintf(stderr, "on_disk: %s\n", m);
        return 1;
    }
    enum { B = 1000 };
    float *v = malloc((size_t)B * dim * sizeof(float));
    qv_point_id ids[B];
    double t0 = now_ms();
    for (size_t at = 0; at < n; at += B) {
        size_t m = n - at < B ? n - at : B;
        for (size_t i = 0; i < m * dim; i++)
            v[i] = frand();
        for (size_t i = 0; i < m; i++)
            ids[i] = qv_id_from_num(at + i + 1);
        if (qv_upsert_batch(c, ids, v, m, dim) != QV_OK)
            return 1;
    }
    printf("mode %s n %zu dim %u %s: load %.0f ms\n", argv[1], n, dim,
           graph ? "graph" : "exact scan", now_ms() - t0);
    print_mem("after load");

    if (disk) {
        size_t len = c->vec_arena.len;
        fdatasync(c->vec_arena.fd);
        madvise(c->vec_arena.base, len, MADV_DONTNEED);
        posix_fadvise(c->vec_arena.fd, 0, 0, POSIX_FADV_DONTNEED);
        size_t pg = (size_t)sysconf(_SC_PAGESIZE), np = (len + pg - 1) / pg;
        unsigned char *vec = malloc(np);
        size_t res = 0;
        if (vec && mincore(c->vec_arena.base, len, vec) == 0)
            for (size_t i = 0; i < np; i++)
                res += vec[i] & 1;
        printf("cold: %zu of %zu vector-file pages resident\n", res, np);
        if (graph) { /* the graph's links file too */
            qvi_maparena *la = &c->index->links_arena;
            fdatasync(la->fd);
            madvise(la->base, la->len, MADV_DONTNEED);
            posix_fadvise(la->fd, 0, 0, POSIX_FADV_DONTNEED);
        }
        free(vec);
        print_mem("after drop");
    }
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 10;
    qv_hit hits[10];
    size_t nh;
    for (size_t i = 0; i < dim; i++)
        v[i] = frand();
    t0 = now_ms();
    if (qv_search(c, v, dim, &p, hits, &nh) != QV_OK)
        return 1;
    double first = now_ms() - t0;
    for (size_t i = 0; i < dim; i++)
        v[i] = frand();
    t0 = now_ms();
    if (qv_search(c, v, dim, &p, hits, &nh) != QV_OK)
        return 1;
    double second = now_ms() - t0;
    printf("first query %.2f ms, second query %.2f ms (%zu hits)\n", first,
           second, nh);
    print_mem("after queries");
    free(v);
    qv_collection_release(c);
    return 0;
}
