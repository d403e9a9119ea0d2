/*
 * main.c -- the `quiver` command-line program.
 *
 * Subcommands are rows of a static table (name, handler, one-line help);
 * each handler parses its own options with getopt_long and returns a
 * process exit code: 0 on success, 1 when the work failed, 2 for a usage
 * error.  Errors go to stderr as one line naming what went wrong; results
 * go to stdout so that they can be piped.
 *
 * The program allocates through jemalloc (linked in by the build), as the
 * server (`quiver serve`, server/) does: fragmentation stays low under many
 * concurrent requests.
 */
#include "migrate.h"
#include "quiver.h"
#include "snapshot_cmd.h"
#include "vecfile.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef QUIVER_HAVE_BENCH
#include "bench/harness.h"
#endif
#ifdef QUIVER_HAVE_SERVER
#include "server/server.h"
#endif

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Parses a decimal unsigned integer option within [lo, hi]. */
static bool parse_u64(const char *opt, const char *text, uint64_t lo,
                      uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr,
                "quiver: --%s must be an integer from %" PRIu64 " to %" PRIu64
                ", got '%s'\n",
                opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

/* ---- info ------------------------------------------------------------------
 */

static int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    qv_build_info info;
    qv_build_info_get(&info);
    printf("quiver %s\n", info.version);
    printf("build type:     %s\n", info.build_type);
    printf("simd in use:    %s\n", info.simd_level);
    printf("simd available: %s\n", info.simd_available);
    printf("blas:           %s\n", info.blas);
    return 0;
}

/* ---- generate --------------------------------------------------------------
 */

/* splitmix64: tiny, seedable, good enough for demo data. */
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

static int cmd_generate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"n", required_argument, NULL, 'n'},
        {"dim", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"clusters", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    uint64_t n = 10000, dim = 128, seed = 1, clusters = 32;
    const char *out = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'n':
            ok = parse_u64("n", optarg, 1, 100000000, &n);
            break;
        case 'd':
            ok = parse_u64("dim", optarg, QV_MIN_DIM, QV_MAX_DIM, &dim);
            break;
        case 's':
            ok = parse_u64("seed", optarg, 0, UINT64_MAX, &seed);
            break;
        case 'c':
            ok = parse_u64("clusters", optarg, 1, 1000000, &clusters);
            break;
        case 'o':
            out = optarg;
            break;
        default:
            ok = false;
        }
        if (!ok)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "quiver: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "usage: quiver generate --out FILE.fvecs|.npy "
                        "[--n N] [--dim D] [--clusters C] [--seed S]\n");
        return 2;
    }
    size_t count;
    if (n > SIZE_MAX / dim / sizeof(float)) {
        fprintf(stderr, "quiver: %" PRIu64 " x %" PRIu64 " is too large\n", n,
                dim);
        return 1;
    }
    count = (size_t)n * dim;
    /* A Gaussian mixture: cluster centres are drawn from one fixed stream
     * so that files generated with different seeds share them, which makes
     * queries generated with another seed land near the base points. */
    float *data = malloc(count * sizeof(float));
    float *centres = malloc((size_t)clusters * dim * sizeof(float));
    if (!data || !centres) {
        free(data);
        free(centres);
        fprintf(stderr, "quiver: out of memory\n");
        return 1;
    }
    uint64_t cs = 0x51ed;
    for (size_t i = 0; i < (size_t)clusters * dim; i++)
        centres[i] = next_gauss(&cs) * 3.0f;
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        const float *c = centres + (next_u64(&s) % clusters) * dim;
        for (size_t d = 0; d < dim; d++)
            data[r * dim + d] = c[d] + next_gauss(&s);
    }
    free(centres);
    char err[256];
    qv_status st =
        vf_write(out, data, (size_t)n, (size_t)dim, err, sizeof(err));
    free(data);
    if (st != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "wrote %" PRIu64 " vectors of %" PRIu64 " dimensions to %s\n", n,
            dim, out);
    return 0;
}

/* ---- query -----------------------------------------------------------------
 */

typedef struct query_opts {
    const char *base, *queries;
    qv_metric metric;
    qv_search_params params;
    bool batch;
} query_opts;

static int parse_query_opts(int argc, char **argv, query_opts *o)
{
    static const struct option opts[] = {
        {"base", required_argument, NULL, 'b'},
        {"queries", required_argument, NULL, 'q'},
        {"metric", required_argument, NULL, 'm'},
        {"k", required_argument, NULL, 'k'},
        {"threshold", required_argument, NULL, 't'},
        {"batch", no_argument, NULL, 'B'},
        {"exact", no_argument, NULL, 'e'},
        {"ef", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->metric = QV_METRIC_COSINE;
    qv_search_params_init(&o->params);
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o->base = optarg;
            break;
        case 'q':
            o->queries = optarg;
            break;
        case 'm':
            if (qv_metric_parse(optarg, &o->metric) != QV_OK) {
                fprintf(stderr,
                        "quiver: unknown metric '%s' (cosine, dot, "
                        "euclid, manhattan)\n",
                        optarg);
                return 2;
            }
            break;
        case 'k':
            if (!parse_u64("k", optarg, QV_MIN_K, QV_MAX_K, &v))
                return 2;
            o->params.k = (uint32_t)v;
            break;
        case 'f':
            if (!parse_u64("ef", optarg, 1, QV_MAX_EF, &v))
                return 2;
            o->params.hnsw_ef = (uint32_t)v;
            break;
        case 't': {
            char *end;
            float t = strtof(optarg, &end);
            if (end == optarg || *end || !isfinite(t)) {
                fprintf(stderr,
                        "quiver: --threshold must be a finite number\n");
                return 2;
            }
            o->params.use_threshold = true;
            o->params.score_threshold = t;
            break;
        }
        case 'B':
            o->batch = true;
            break;
        case 'e':
            o->params.exact = true;
            break;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "quiver: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->base || !o->queries) {
        fprintf(stderr,
                "usage: quiver query --base FILE --queries FILE [--metric "
                "cosine|dot|euclid|manhattan] [--k K] [--threshold S] "
                "[--batch] [--exact] [--ef EF]\n");
        return 2;
    }
    return 0;
}

static void print_hits(size_t qi, const qv_hit *hits, size_t n)
{
    printf("%zu:", qi);
    for (size_t i = 0; i < n; i++) {
        char id[QV_UUID_STRLEN];
        qv_id_format(&hits[i].id, id, sizeof(id));
        printf(" %s:%.6g", id, hits[i].score);
    }
    putchar('\n');
}

static qv_status build_collection(const query_opts *o, const vf_matrix *base,
                                  qv_collection **out)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    if (base->rows == 0 || base->cols < QV_MIN_DIM || base->cols > QV_MAX_DIM) {
        fprintf(stderr,
                "quiver: the base file holds %zu vectors of %zu dimensions; "
                "it needs at least one vector of %u to %u dimensions\n",
                base->rows, base->cols, QV_MIN_DIM, QV_MAX_DIM);
        return QV_ERANGE;
    }
    cfg.dim = (uint32_t)base->cols;
    cfg.metric = o->metric;
    qv_status st = qv_collection_create(&cfg, out);
    if (st != QV_OK)
        return st;
    qv_point_id *ids = malloc(base->rows * sizeof(*ids));
    if (!ids)
        return QV_ENOMEM;
    for (size_t i = 0; i < base->rows; i++)
        ids[i] = qv_id_from_num(i);
    st = qv_upsert_batch(*out, ids, base->data, base->rows, cfg.dim);
    free(ids);
    return st;
}

static qv_status answer(qv_collection *c, const query_opts *o,
                        const vf_matrix *q)
{
    size_t k = o->params.k;
    qv_hit *hits = calloc(o->batch ? q->rows * k : k, sizeof(qv_hit));
    size_t *counts = calloc(o->batch ? q->rows : 1, sizeof(size_t));
    qv_status st = QV_OK;
    if (!hits || !counts) {
        st = QV_ENOMEM;
        goto cleanup;
    }
    if (o->batch) {
        st = qv_search_batch(c, q->data, q->rows, (uint32_t)q->cols, &o->params,
                             hits, counts);
        for (size_t i = 0; st == QV_OK && i < q->rows; i++)
            print_hits(i, hits + i * k, counts[i]);
    } else {
        for (size_t i = 0; st == QV_OK && i < q->rows; i++) {
            st = qv_search(c, q->data + i * q->cols, (uint32_t)q->cols,
                           &o->params, hits, counts);
            if (st == QV_OK)
                print_hits(i, hits, counts[0]);
        }
    }
cleanup:
    free(hits);
    free(counts);
    return st;
}

static int cmd_query(int argc, char **argv)
{
    query_opts o;
    int rc = parse_query_opts(argc, argv, &o);
    if (rc)
        return rc;
    char err[256];
    vf_matrix base = {0}, queries = {0};
    qv_collection *c = NULL;
    rc = 1;
    if (vf_read(o.base, &base, err, sizeof(err)) != QV_OK ||
        vf_read(o.queries, &queries, err, sizeof(err)) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err);
        goto cleanup;
    }
    if (queries.cols != base.cols) {
        fprintf(stderr,
                "quiver: queries have %zu dimensions, the base vectors %zu\n",
                queries.cols, base.cols);
        goto cleanup;
    }
    double t0 = now_seconds();
    qv_status st = build_collection(&o, &base, &c);
    if (st != QV_OK) {
        qv_collection_errmsg(c, err, sizeof(err));
        fprintf(stderr, "quiver: cannot build the collection: %s%s%s\n",
                qv_strerror(st), err[0] ? ": " : "", c ? err : "");
        goto cleanup;
    }
    double t1 = now_seconds();
    st = answer(c, &o, &queries);
    double t2 = now_seconds();
    if (st != QV_OK) {
        qv_collection_errmsg(c, err, sizeof(err));
        fprintf(stderr, "quiver: search failed: %s: %s\n", qv_strerror(st),
                err);
        goto cleanup;
    }
    fprintf(stderr,
            "%zu points of %zu dimensions (%s) loaded in %.3f s; %zu "
            "queries answered in %.3f ms\n",
            base.rows, base.cols, qv_metric_name(o.metric), t1 - t0,
            queries.rows, (t2 - t1) * 1e3);
    rc = 0;
cleanup:
    qv_collection_release(c);
    vf_matrix_free(&base);
    vf_matrix_free(&queries);
    return rc;
}

/* ---- dispatch --------------------------------------------------------------
 */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"query", cmd_query,
     "build a collection from a vector file and answer queries from another"},
    {"generate", cmd_generate, "write a synthetic clustered vector file"},
    {"info", cmd_info, "print the version and the SIMD kernels in use"},
    {"snapshot", qvc_snapshot_main,
     "describe (info) or fully check (verify) a snapshot file"},
    {"migrate", qvc_migrate_main,
     "copy collections between stores, snapshots and Qdrant servers"},
#ifdef QUIVER_HAVE_BENCH
    {"bench", qvb_main, "compare Quiver with hnswlib and faiss (bench/)"},
#endif
#ifdef QUIVER_HAVE_SERVER
    {"serve", qvs_serve_main,
     "run the Qdrant-compatible HTTP server (serve --help)"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: quiver COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "quiver: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
