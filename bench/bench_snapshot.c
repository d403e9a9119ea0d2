/*
 * bench_snapshot.c -- how fast a snapshot is saved and opened, and what the
 * first queries on a freshly opened snapshot cost.
 *
 * The program builds a collection of --n clustered vectors of --dim
 * dimensions (the Gaussian mixture of `quiver generate`: 32 centres, unit
 * noise) with its HNSW graph (m 16, ef_construct 100, --threads build
 * threads; the full-scan threshold is 0 so the graph exists at any size),
 * then measures
 *   - save: qv_snapshot_save of the whole collection, MB/s of file written
 *     (fsync included), --reps times;
 *   - open: qv_snapshot_open without verification, best and median of
 *     --reps open+release cycles (page cache warm: the file was just
 *     written);
 *   - first query: on a fresh open, the latency of the first qv_search
 *     (k 10, ef 64), then the mean of the next --queries, with the file in
 *     the page cache ("warm") and again after evicting the file's pages
 *     with posix_fadvise(DONTNEED) ("cold", only this file is evicted, so
 *     other processes are not disturbed; the reads then come from disk);
 *   - verify: qv_snapshot_verify of the whole file;
 *   - recall of the opened collection's graph search against the in-memory
 *     one (the same hits are expected: the graph is the same).
 * With --quant int8|binary|binary2|product the collection is quantized
 * (int8 quantile 0.99; binary one bit; binary2 two bits; product x16) and
 * the file keeps its codes (sections 65-67); the open is then also timed
 * on a copy of the file whose code sections are renamed to an unknown
 * kind, as an older writer's file, which makes the open train and encode
 * again: the same run measures both ("open, codes kept" against "open,
 * codes rebuilt").  The queries walk the codes (default rescoring).
 * The build takes the longest at dim 768 (graph and codes): use --file
 * with --reuse to measure opens again without it.
 * With --file F the collection is saved to F and kept; without, a file in
 * /tmp is used and removed at the end.  With --reuse and an existing F,
 * the build is skipped: F is opened and the saves write the opened
 * (mapped) collection back over F.
 *
 * Run it alone: `flock /tmp/quiver-bench.lock build/bench_snapshot`.
 * Timings use CLOCK_MONOTONIC; nothing here is a test.
 */
#include "quiver.h"

#include <xxhash.h>

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float next_gauss(uint64_t *s)
{
    double u1 = ((next_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (next_u64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* The clustered data of `quiver generate` (seeded, reproducible). */
static float *gen(size_t n, size_t dim, uint64_t seed)
{
    size_t clusters = 32;
    float *data = malloc(n * dim * sizeof(float));
    float *centres = malloc(clusters * dim * sizeof(float));
    if (!data || !centres) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint64_t cs = 0x51ed;
    for (size_t i = 0; i < clusters * dim; i++)
        centres[i] = next_gauss(&cs) * 3.0f;
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        const float *c = centres + (next_u64(&s) % clusters) * dim;
        for (size_t d = 0; d < dim; d++)
            data[r * dim + d] = c[d] + next_gauss(&s);
    }
    free(centres);
    return data;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, qv_status st, const char *msg)
{
    fprintf(stderr, "bench_snapshot: %s: %s: %s\n", what, qv_status_name(st),
            msg);
    exit(1);
}

typedef struct opts {
    size_t n, dim, queries;
    unsigned threads;
    int reps;
    const char *file;
    bool reuse;
    uint32_t quant, quant_enc; /* qv_quantization_kind, its encoding */
} opts;

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"n", required_argument, NULL, 'n'},
        {"dim", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 't'},
        {"reps", required_argument, NULL, 'r'},
        {"queries", required_argument, NULL, 'q'},
        {"file", required_argument, NULL, 'f'},
        {"reuse", no_argument, NULL, 'R'},
        {"quant", required_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0}};
    *o = (opts){
        .n = 1000000, .dim = 128, .queries = 200, .threads = 2, .reps = 5};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o->n = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            o->dim = strtoull(optarg, NULL, 10);
            break;
        case 't':
            o->threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            o->reps = atoi(optarg);
            break;
        case 'q':
            o->queries = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            o->file = optarg;
            break;
        case 'R':
            o->reuse = true;
            break;
        case 'Q':
            if (strcmp(optarg, "int8") == 0) {
                o->quant = QV_QUANTIZATION_INT8;
            } else if (strcmp(optarg, "binary") == 0) {
                o->quant = QV_QUANTIZATION_BINARY;
                o->quant_enc = QV_BINARY_ONE_BIT;
            } else if (strcmp(optarg, "binary2") == 0) {
                o->quant = QV_QUANTIZATION_BINARY;
                o->quant_enc = QV_BINARY_TWO_BITS;
            } else if (strcmp(optarg, "product") == 0) {
                o->quant = QV_QUANTIZATION_PRODUCT;
                o->quant_enc = QV_PQ_X16;
            } else {
                fprintf(stderr, "bench_snapshot: --quant int8, binary, "
                                "binary2 or product\n");
                exit(2);
            }
            break;
        default:
            fprintf(stderr, "usage: bench_snapshot [--n N] [--dim D] "
                            "[--threads T] [--reps R] [--queries Q] "
                            "[--file F [--reuse]] "
                            "[--quant int8|binary|binary2|product]\n");
            exit(2);
        }
    }
    if (o->n == 0 || o->dim == 0 || o->reps < 1 || o->queries == 0) {
        fprintf(stderr, "bench_snapshot: bad options\n");
        exit(2);
    }
}

static qv_collection *build(const opts *o)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = (uint32_t)o->dim;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0;
    cfg.max_indexing_threads = o->threads;
    cfg.quantization = o->quant;
    cfg.quant_encoding = o->quant_enc;
    if (o->quant == QV_QUANTIZATION_INT8)
        cfg.quant_quantile = 0.99f;
    qv_collection *c = NULL;
    qv_status st = qv_collection_create(&cfg, &c);
    if (st != QV_OK)
        die("create", st, "");
    float *data = gen(o->n, o->dim, 1);
    qv_point_id *ids = malloc(o->n * sizeof(*ids));
    for (size_t i = 0; i < o->n; i++)
        ids[i] = qv_id_from_num(i);
    double t0 = now();
    st = qv_upsert_batch(c, ids, data, o->n, cfg.dim);
    if (st != QV_OK)
        die("upsert", st, "");
    printf("build:        %zu x %zu, graph with %u threads in %.1f s\n", o->n,
           o->dim, o->threads, now() - t0);
    free(ids);
    free(data);
    return c;
}

static double file_mb(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0;
}

/* A copy of the snapshot at path in out whose quantized-code sections
 * (kinds 65-67, docs/FORMAT.md) are renamed to unassigned kinds (70-72),
 * with the header checksum made good: a reader skips them, as a reader of
 * an older writer's file would find none, and rebuilds the codes.  False
 * when the file has none. */
static bool strip_codes(const char *path, const char *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    bool ok = b && fread(b, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    uint32_t count = 0, renamed = 0;
    if (ok)
        memcpy(&count, b + 20, 4);
    for (uint32_t i = 0; ok && i < count && i < 64; i++) {
        uint8_t *e = b + 64 + (size_t)i * 32;
        uint32_t kind;
        memcpy(&kind, e, 4);
        if (kind >= 65 && kind <= 67) {
            kind += 5;
            memcpy(e, &kind, 4);
            renamed++;
        }
    }
    if (ok && renamed) {
        memset(b + 56, 0, 8);
        uint64_t sum = XXH3_64bits(b, 64 + (size_t)count * 32);
        memcpy(b + 56, &sum, 8);
        FILE *w = fopen(out, "wb");
        ok = w && fwrite(b, 1, (size_t)n, w) == (size_t)n;
        if (w)
            ok &= fclose(w) == 0;
    }
    free(b);
    return ok && renamed;
}

/* Best and median of reps open+release cycles of path, in seconds. */
static void time_opens(const char *path, int reps, double *best, double *med)
{
    double *t = malloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        char err[256];
        qv_collection *c = NULL;
        double t0 = now();
        qv_status st = qv_snapshot_open(path, 0, &c, err, sizeof(err));
        t[r] = now() - t0;
        if (st != QV_OK)
            die("open", st, err);
        qv_collection_release(c);
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    *best = t[0];
    *med = t[reps / 2];
    free(t);
}

static void evict(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* Opens path and times the first query and the mean of the next ones. */
static void first_queries(const opts *o, const char *path, const float *q,
                          const char *label)
{
    char err[256];
    qv_collection *c = NULL;
    double t0 = now();
    qv_status st = qv_snapshot_open(path, 0, &c, err, sizeof(err));
    double t_open = now() - t0;
    if (st != QV_OK)
        die("open", st, err);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 10;
    p.hnsw_ef = 64;
    qv_hit hits[10];
    size_t n;
    t0 = now();
    st = qv_search(c, q, (uint32_t)o->dim, &p, hits, &n);
    double t_first = now() - t0;
    if (st != QV_OK)
        die("search", st, "");
    t0 = now();
    for (size_t i = 1; i <= o->queries; i++)
        qv_search(c, q + i * o->dim, (uint32_t)o->dim, &p, hits, &n);
    double t_next = (now() - t0) / (double)o->queries;
    /* The same queries again: their pages are mapped now. */
    t0 = now();
    for (size_t i = 1; i <= o->queries; i++)
        qv_search(c, q + i * o->dim, (uint32_t)o->dim, &p, hits, &n);
    double t_again = (now() - t0) / (double)o->queries;
    printf("%-5s open:    %.2f ms; first query %.2f ms, next %zu queries "
           "%.1f us each (%.1f us repeated)\n",
           label, t_open * 1e3, t_first * 1e3, o->queries, t_next * 1e6,
           t_again * 1e6);
    qv_collection_release(c);
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    char tmp[64] = "/tmp/quiver-bench-snapshot-XXXXXX";
    const char *path = o.file;
    if (!path) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            perror("mkstemp");
            return 1;
        }
        close(fd);
        path = tmp;
    }
    qv_build_info info;
    qv_build_info_get(&info);
    printf("quiver %s (%s, simd %s)\n", info.version, info.build_type,
           info.simd_level);

    qv_collection *mem = NULL;
    struct stat sb;
    if (o.reuse && stat(path, &sb) == 0 && sb.st_size > 0) {
        /* The saves below then write an opened (mapped) collection back
         * over its own file. */
        char err[256];
        qv_status st = qv_snapshot_open(path, 0, &mem, err, sizeof(err));
        if (st != QV_OK)
            die("open", st, err);
        printf("reused:       %s\n", path);
    } else {
        mem = build(&o);
    }
    {
        double best = 1e30;
        for (int r = 0; r < o.reps; r++) {
            double t0 = now();
            qv_status st = qv_snapshot_save(mem, path);
            double t = now() - t0;
            if (st != QV_OK) {
                char msg[256];
                qv_collection_errmsg(mem, msg, sizeof(msg));
                die("save", st, msg);
            }
            printf("save %d:       %.0f MB in %.2f s = %.0f MB/s (fsync "
                   "included)\n",
                   r + 1, file_mb(path), t, file_mb(path) / t);
            if (t < best)
                best = t;
        }
        printf("save best:    %.0f MB/s\n", file_mb(path) / best);
    }
    printf("file:         %s, %.0f MB\n", path, file_mb(path));

    double best, med;
    time_opens(path, o.reps, &best, &med);
    printf("open:         best %.2f ms, median %.2f ms (%d runs, no "
           "verification%s)\n",
           best * 1e3, med * 1e3, o.reps, o.quant ? ", codes kept" : "");
    if (o.quant) {
        char stripped[512];
        snprintf(stripped, sizeof(stripped), "%s.nocodes", path);
        if (strip_codes(path, stripped)) {
            double sbest, smed;
            time_opens(stripped, o.reps, &sbest, &smed);
            printf("open:         best %.2f ms, median %.2f ms (codes "
                   "rebuilt: the file without sections 65-67); kept/rebuilt "
                   "%.4f\n",
                   sbest * 1e3, smed * 1e3, med / smed);
        } else {
            printf("open:         the file holds no quantized codes\n");
        }
        unlink(stripped);
    }

    float *q = gen(o.queries + 1, o.dim, 777);
    first_queries(&o, path, q, "warm");
    evict(path);
    first_queries(&o, path, q, "cold");

    {
        /* The opened collection answers as the one it was saved from. */
        char err[256];
        qv_collection *c = NULL;
        qv_status st = qv_snapshot_open(path, 0, &c, err, sizeof(err));
        if (st != QV_OK)
            die("open", st, err);
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = 10;
        p.hnsw_ef = 64;
        size_t same = 0, total = 0;
        for (size_t i = 0; i < o.queries; i++) {
            qv_hit a[10], b[10];
            size_t na, nb;
            qv_search(mem, q + i * o.dim, (uint32_t)o.dim, &p, a, &na);
            qv_search(c, q + i * o.dim, (uint32_t)o.dim, &p, b, &nb);
            for (size_t j = 0; j < na && j < nb; j++)
                same += qv_id_compare(&a[j].id, &b[j].id) == 0;
            total += na;
        }
        printf("same hits:    %zu of %zu (opened vs in memory)\n", same, total);
        qv_collection_release(c);
    }

    char err[256];
    double t0 = now();
    qv_status st = qv_snapshot_verify(path, err, sizeof(err));
    double tv = now() - t0;
    printf("verify:       %s in %.3f s (%.0f MB/s)\n", qv_status_name(st), tv,
           file_mb(path) / tv);
    if (st != QV_OK)
        printf("              %s\n", err);

    free(q);
    qv_collection_release(mem);
    if (!o.file)
        unlink(path);
    return st == QV_OK ? 0 : 1;
}
