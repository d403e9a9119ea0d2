/*
 * bench_kernels.c -- how fast the distance kernels and the exact batch
 * search are on this machine.
 *
 * Part 1, kernels.  For 128, 384, 768 and 1536 dimensions and every kernel
 * level the CPU can run, the time of one dot / l2sq / l1 call: one query
 * against a set of vectors that fits in L2 (--ws-kib, 512 KiB by default),
 * visited in order, repeated until a run lasts --ms milliseconds; the
 * median of --reps runs is reported.  GB/s counts the 4*dim bytes of the
 * vector each call reads from the set, not the query, which stays in L1:
 * it is the rate at which a search could stream stored vectors if memory
 * kept up.  These are the calls HNSW search makes, one per visited node.
 *
 * Part 2, exact batch search against numpy.  n random unit vectors
 * (cosine) and nq queries are written as .npy files to a temporary
 * directory; the same data goes into a collection, and qv_search_batch
 * with exact=true is timed (one warm-up, then the median of --batch-reps).
 * Then bench/numpy_exact.py times numpy's matrix product + argpartition on
 * the files in a child process, and the two are printed side by side with
 * their ratio and the overlap of their top-k results.  The collection's
 * full-scan threshold is set beyond its size, so no HNSW graph is built:
 * this benchmark never walks one.
 *
 * OMP_WAIT_POLICY=PASSIVE is set for this process and the child (if it
 * was not, the program re-executes itself so that an OpenMP runtime
 * loaded at start-up sees it): idle BLAS threads then sleep instead of
 * spinning and stealing the CPU from the measured code.  Benchmarks
 * should not run alongside each other; wrap runs in
 * `flock /tmp/quiver-bench.lock`.
 *
 * Timing uses CLOCK_MONOTONIC.  Results are medians; nothing here is a
 * test (tests assert results, not timings).
 */
#include "quiver.h"
#include "simd/simd.h"
#include "vecfile.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------ */

typedef struct options {
    bool kernels;
    bool batch;
    size_t dims[16];
    size_t n_dims;
    size_t ws_kib;
    int reps;
    double ms;
    size_t n;
    size_t nq;
    uint32_t dim;
    uint32_t k;
    int batch_reps;
    size_t block;
    const char *python;
    const char *script;
    bool keep_tmp;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_kernels [options]\n"
            "  --part kernels|batch|all  what to run (all)\n"
            "  --dims 128,384,768,1536   dimensions of part 1\n"
            "  --ws-kib N       vectors per dimension in part 1, in KiB (512)\n"
            "  --reps N         runs per kernel measurement (11)\n"
            "  --ms X           length of one run in milliseconds (20)\n"
            "  --n N            base vectors of part 2 (100000)\n"
            "  --nq N           queries of part 2 (1000)\n"
            "  --dim N          dimension of part 2 (768)\n"
            "  --k N            neighbours per query (10)\n"
            "  --batch-reps N   timed runs of part 2, each side (5)\n"
            "  --block N        queries per numpy matrix product (256)\n"
            "  --python PATH    interpreter with numpy (python3, then\n"
            "                   /usr/bin/python3 if that has no numpy)\n"
            "  --numpy-script PATH  numpy_exact.py (next to this source)\n"
            "  --keep-tmp       keep the .npy files\n");
}

static bool parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_dims(const char *s, options *o)
{
    o->n_dims = 0;
    char buf[256];
    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    for (char *save, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (o->n_dims == sizeof(o->dims) / sizeof(o->dims[0]) ||
            !parse_size(t, 1, QV_MAX_DIM, &o->dims[o->n_dims]))
            return false;
        o->n_dims++;
    }
    return o->n_dims > 0;
}

/* The numpy script next to this source file, when the compiler was given
 * an absolute path (CMake does), else relative to the current directory. */
static const char *default_script(void)
{
    static char path[4096];
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    if (src[0] != '/' || !slash ||
        (size_t)(slash - src) + sizeof("/numpy_exact.py") > sizeof(path))
        return "bench/numpy_exact.py";
    memcpy(path, src, (size_t)(slash - src));
    strcpy(path + (slash - src), "/numpy_exact.py");
    return path;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.kernels = true,
                   .batch = true,
                   .dims = {128, 384, 768, 1536},
                   .n_dims = 4,
                   .ws_kib = 512,
                   .reps = 11,
                   .ms = 20.0,
                   .n = 100000,
                   .nq = 1000,
                   .dim = 768,
                   .k = 10,
                   .batch_reps = 5,
                   .block = 256,
                   .python = NULL,
                   .script = default_script()};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t x;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--keep-tmp") == 0) {
            o->keep_tmp = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_kernels: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--part") == 0) {
            o->kernels = strcmp(v, "kernels") == 0 || strcmp(v, "all") == 0;
            o->batch = strcmp(v, "batch") == 0 || strcmp(v, "all") == 0;
            ok = o->kernels || o->batch;
        } else if (strcmp(a, "--dims") == 0) {
            ok = parse_dims(v, o);
        } else if (strcmp(a, "--ws-kib") == 0) {
            ok = parse_size(v, 1, 1u << 22, &o->ws_kib);
        } else if (strcmp(a, "--reps") == 0) {
            ok = parse_size(v, 1, 1000, &x);
            o->reps = (int)x;
        } else if (strcmp(a, "--ms") == 0) {
            ok = parse_size(v, 1, 100000, &x);
            o->ms = (double)x;
        } else if (strcmp(a, "--n") == 0) {
            ok = parse_size(v, 1, UINT32_MAX, &o->n);
        } else if (strcmp(a, "--nq") == 0) {
            ok = parse_size(v, 1, 10000000, &o->nq);
        } else if (strcmp(a, "--dim") == 0) {
            ok = parse_size(v, QV_MIN_DIM, QV_MAX_DIM, &x);
            o->dim = (uint32_t)x;
        } else if (strcmp(a, "--k") == 0) {
            ok = parse_size(v, QV_MIN_K, QV_MAX_K, &x);
            o->k = (uint32_t)x;
        } else if (strcmp(a, "--batch-reps") == 0) {
            ok = parse_size(v, 1, 1000, &x);
            o->batch_reps = (int)x;
        } else if (strcmp(a, "--block") == 0) {
            ok = parse_size(v, 1, 10000000, &o->block);
        } else if (strcmp(a, "--python") == 0) {
            o->python = v;
        } else if (strcmp(a, "--numpy-script") == 0) {
            o->script = v;
        } else {
            fprintf(stderr, "bench_kernels: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "bench_kernels: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (o->k > o->n) {
        fprintf(stderr, "bench_kernels: --k exceeds --n\n");
        return -1;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
    return (float)((double)(rng_next(s) >> 11) * 0x1p-52 - 1.0);
}

static float *random_matrix(size_t rows, size_t cols, uint64_t seed)
{
    size_t count = rows * cols;
    if (cols && count / cols != rows)
        return NULL;
    float *m = aligned_alloc(64, ((count * sizeof(float) + 63) / 64) * 64);
    if (!m)
        return NULL;
    uint64_t s = seed;
    for (size_t i = 0; i < count; i++)
        m[i] = rng_unit(&s);
    return m;
}

/* ---- part 1: kernels ---------------------------------------------------- */

typedef float (*kernel_fn)(const float *, const float *, size_t);

/* Written with every result so that no call can be optimised away. */
static volatile float sink;

static double one_pass(kernel_fn fn, const float *q, const float *set, size_t m,
                       size_t dim, size_t passes)
{
    float acc = 0.0f;
    double t0 = now_s();
    for (size_t p = 0; p < passes; p++) {
        for (size_t j = 0; j < m; j++)
            acc += fn(q, set + j * dim, dim);
    }
    double t = now_s() - t0;
    sink = acc;
    return t;
}

/* Passes over the set that make one run last about o->ms milliseconds. */
static size_t calibrate(const options *o, kernel_fn fn, const float *q,
                        const float *set, size_t m, size_t dim)
{
    /* Double the passes until one run lasts a tenth of --ms, then scale. */
    size_t passes = 1;
    double t;
    while ((t = one_pass(fn, q, set, m, dim, passes)) < o->ms * 1e-4)
        passes *= 2;
    passes = (size_t)ceil((double)passes * (o->ms * 1e-3) / t);
    return passes ? passes : 1;
}

/*
 * Median nanoseconds per call of each of the n_fns kernels into ns_out.
 * The runs are interleaved (run r of every kernel, then run r + 1), so
 * that a slow spell of the machine (another process, a frequency change)
 * lands on every kernel alike instead of on whichever was being measured.
 */
static void time_kernels(const options *o, const kernel_fn *fns, size_t n_fns,
                         const float *q, const float *set, size_t m, size_t dim,
                         double *ns_out)
{
    size_t passes[QVI_SIMD_LEVEL_COUNT];
    static double runs[QVI_SIMD_LEVEL_COUNT][1000];
    for (size_t f = 0; f < n_fns; f++)
        passes[f] = calibrate(o, fns[f], q, set, m, dim);
    for (int r = 0; r < o->reps; r++) {
        for (size_t f = 0; f < n_fns; f++)
            runs[f][r] = one_pass(fns[f], q, set, m, dim, passes[f]) * 1e9 /
                         ((double)passes[f] * (double)m);
    }
    for (size_t f = 0; f < n_fns; f++)
        ns_out[f] = median(runs[f], (size_t)o->reps);
}

static int run_kernels(const options *o)
{
    const qvi_kernels *levels[QVI_SIMD_LEVEL_COUNT];
    size_t n_levels = 0;
    for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
        const qvi_kernels *k = qvi_simd_level_kernels((qvi_simd_level)lv);
        if (k)
            levels[n_levels++] = k;
    }
    printf("\n== part 1: distance kernels ==\n"
           "one call = one distance; median of %d interleaved runs of %.0f ms; "
           "one query "
           "against %zu KiB of vectors (cache-resident);\nGB/s = 4*dim bytes "
           "of stored vector read per call\n\n",
           o->reps, o->ms, o->ws_kib);
    printf("%5s %-5s", "dim", "kern");
    for (size_t l = 0; l < n_levels; l++)
        printf(" | %10s %7s", levels[l]->name, "GB/s");
    if (n_levels > 1)
        printf(" | %s", "best/scalar");
    printf("\n");

    static const char *const names[] = {"dot", "l2sq", "l1"};
    for (size_t di = 0; di < o->n_dims; di++) {
        size_t dim = o->dims[di];
        size_t m = o->ws_kib * 1024 / (dim * sizeof(float));
        if (m < 1)
            m = 1;
        float *set = random_matrix(m, dim, 0x1234 + dim);
        float *q = random_matrix(1, dim, 0x5678 + dim);
        if (!set || !q) {
            fprintf(stderr, "bench_kernels: out of memory\n");
            free(set);
            free(q);
            return -1;
        }
        for (int kn = 0; kn < 3; kn++) {
            printf("%5zu %-5s", dim, names[kn]);
            kernel_fn fns[QVI_SIMD_LEVEL_COUNT];
            double ns[QVI_SIMD_LEVEL_COUNT];
            for (size_t l = 0; l < n_levels; l++) {
                const qvi_kernels *k = levels[l];
                fns[l] = kn == 0 ? k->dot : kn == 1 ? k->l2sq : k->l1;
            }
            time_kernels(o, fns, n_levels, q, set, m, dim, ns);
            double scalar_ns = 0.0, best_ns = INFINITY;
            for (size_t l = 0; l < n_levels; l++) {
                if (levels[l]->level == QVI_SIMD_SCALAR)
                    scalar_ns = ns[l];
                if (ns[l] < best_ns)
                    best_ns = ns[l];
                printf(" | %7.1f ns %7.1f", ns[l],
                       (double)dim * sizeof(float) / ns[l]);
            }
            if (n_levels > 1)
                printf(" | %10.1fx", scalar_ns / best_ns);
            printf("\n");
            fflush(stdout);
        }
        free(set);
        free(q);
    }
    return 0;
}

/* ---- part 2: exact batch search against numpy --------------------------- */

typedef struct numpy_result {
    double qps;
    double median_s;
    char line[1024];
} numpy_result;

/*
 * Runs python script base queries k --reps R --block B --out ids and parses
 * its "numpy_exact qps=..." line.  Returns 0 on success, 3 when that
 * interpreter has no numpy, -1 on any other failure (message printed).
 */
static int run_numpy_with(const options *o, const char *python,
                          const char *base, const char *queries,
                          const char *ids, numpy_result *res)
{
    char k[32], reps[32], block[32];
    snprintf(k, sizeof(k), "%u", o->k);
    snprintf(reps, sizeof(reps), "%d", o->batch_reps);
    snprintf(block, sizeof(block), "%zu", o->block);
    char *const args[] = {(char *)python,
                          (char *)o->script,
                          (char *)base,
                          (char *)queries,
                          k,
                          "--reps",
                          reps,
                          "--block",
                          block,
                          "--out",
                          (char *)ids,
                          NULL};
    int fds[2];
    if (pipe(fds) != 0) {
        perror("bench_kernels: pipe");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_kernels: fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        execvp(python, args);
        fprintf(stderr, "bench_kernels: cannot run %s: %s\n", python,
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[1024];
    bool parsed = false, no_numpy = false;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "numpy_exact error=no-numpy", 26) == 0)
            no_numpy = true;
        if (sscanf(line, "numpy_exact qps=%lf median_s=%lf", &res->qps,
                   &res->median_s) == 2) {
            parsed = true;
            line[strcspn(line, "\n")] = '\0';
            snprintf(res->line, sizeof(res->line), "%s", line);
        }
    }
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 3 && no_numpy)
        return 3;
    if (code != 0 || !parsed) {
        fprintf(stderr, "bench_kernels: %s %s failed (status %d)\n", python,
                o->script, code);
        return -1;
    }
    return 0;
}

static int run_numpy(const options *o, const char *base, const char *queries,
                     const char *ids, numpy_result *res, const char **used)
{
    if (o->python) {
        *used = o->python;
        int r = run_numpy_with(o, o->python, base, queries, ids, res);
        if (r == 3)
            fprintf(stderr, "bench_kernels: %s has no numpy\n", o->python);
        return r == 0 ? 0 : -1;
    }
    /* python3 on PATH may be a virtualenv or pyenv without numpy; Debian's
     * own interpreter has python3-numpy. */
    static const char *const candidates[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 2; i++) {
        *used = candidates[i];
        int r = run_numpy_with(o, candidates[i], base, queries, ids, res);
        if (r == 0)
            return 0;
        if (r != 3)
            return -1;
    }
    fprintf(stderr, "bench_kernels: no python3 with numpy found "
                    "(apt-get install python3-numpy, or --python)\n");
    return -1;
}

/* Fraction of numpy's top-k ids that quiver also returned, per query. */
static double overlap(const options *o, const qv_hit *hits,
                      const size_t *n_hits, const vf_imatrix *ids)
{
    size_t found = 0, total = 0;
    for (size_t i = 0; i < o->nq; i++) {
        const int32_t *want = ids->data + i * ids->cols;
        for (size_t a = 0; a < ids->cols; a++) {
            total++;
            for (size_t b = 0; b < n_hits[i]; b++) {
                if (hits[i * o->k + b].id.u.num == (uint64_t)want[a]) {
                    found++;
                    break;
                }
            }
        }
    }
    return total ? (double)found / (double)total : 0.0;
}

static void normalize_rows(float *m, size_t rows, size_t cols)
{
    const qvi_kernels *k = qvi_simd();
    for (size_t i = 0; i < rows; i++)
        k->normalize(m + i * cols, cols);
}

static int run_batch(const options *o)
{
    int rc = -1;
    char dir[] = "/tmp/quiver-bench-XXXXXX";
    char base_path[64], q_path[64], ids_path[64];
    bool have_dir = false;
    float *base = NULL, *queries = NULL;
    qv_point_id *idv = NULL;
    qv_hit *hits = NULL;
    size_t *n_hits = NULL;
    qv_collection *c = NULL;
    vf_imatrix ids = {0};
    char err[512];

    printf("\n== part 2: exact batch search, cosine, n=%zu dim=%u nq=%zu "
           "k=%u ==\n",
           o->n, o->dim, o->nq, o->k);
    fflush(stdout);
    if (!mkdtemp(dir)) {
        perror("bench_kernels: mkdtemp");
        goto cleanup;
    }
    have_dir = true;
    snprintf(base_path, sizeof(base_path), "%s/base.npy", dir);
    snprintf(q_path, sizeof(q_path), "%s/queries.npy", dir);
    snprintf(ids_path, sizeof(ids_path), "%s/numpy_ids.npy", dir);

    base = random_matrix(o->n, o->dim, 0xBA5E);
    queries = random_matrix(o->nq, o->dim, 0x0E7);
    idv = malloc(o->n * sizeof(*idv));
    hits = malloc(o->nq * o->k * sizeof(*hits));
    n_hits = malloc(o->nq * sizeof(*n_hits));
    if (!base || !queries || !idv || !hits || !n_hits) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        goto cleanup;
    }
    normalize_rows(base, o->n, o->dim);
    normalize_rows(queries, o->nq, o->dim);
    if (vf_write_npy(base_path, base, o->n, o->dim, err, sizeof(err)) !=
            QV_OK ||
        vf_write_npy(q_path, queries, o->nq, o->dim, err, sizeof(err)) !=
            QV_OK) {
        fprintf(stderr, "bench_kernels: %s\n", err);
        goto cleanup;
    }

    /* The collection: exact search never walks the graph, which the
     * collection still maintains on insert, so it is made as cheap as the
     * limits allow. */
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = o->dim;
    cfg.metric = QV_METRIC_COSINE;
    cfg.full_scan_threshold_kb = UINT32_MAX; /* never build the graph */
    qv_status st = qv_collection_create(&cfg, &c);
    if (st != QV_OK) {
        fprintf(stderr, "bench_kernels: create: %s\n", qv_strerror(st));
        goto cleanup;
    }
    for (size_t i = 0; i < o->n; i++)
        idv[i] = qv_id_from_num(i);
    double t0 = now_s();
    st = qv_upsert_batch(c, idv, base, o->n, o->dim);
    if (st != QV_OK) {
        qv_collection_errmsg(c, err, sizeof(err));
        fprintf(stderr, "bench_kernels: upsert: %s (%s)\n", qv_strerror(st),
                err);
        goto cleanup;
    }
    printf("loaded %zu vectors in %.1f s (not part of the timings)\n", o->n,
           now_s() - t0);
    fflush(stdout);

    qv_search_params params;
    qv_search_params_init(&params);
    params.k = o->k;
    params.exact = true;
    double runs[1000];
    for (int r = -1; r < o->batch_reps; r++) { /* r = -1: warm-up */
        t0 = now_s();
        st = qv_search_batch(c, queries, o->nq, o->dim, &params, hits, n_hits);
        double t = now_s() - t0;
        if (st != QV_OK) {
            qv_collection_errmsg(c, err, sizeof(err));
            fprintf(stderr, "bench_kernels: qv_search_batch: %s (%s)\n",
                    qv_strerror(st), err);
            goto cleanup;
        }
        if (r >= 0)
            runs[r] = t;
    }
    double q_med = median(runs, (size_t)o->batch_reps);
    double q_qps = (double)o->nq / q_med;

    numpy_result np = {0};
    const char *python = NULL;
    if (run_numpy(o, base_path, q_path, ids_path, &np, &python) != 0)
        goto cleanup;
    if (vf_read_ids(ids_path, &ids, err, sizeof(err)) != QV_OK ||
        ids.rows != o->nq) {
        fprintf(stderr, "bench_kernels: numpy ids: %s\n",
                ids.rows != o->nq ? "wrong row count" : err);
        goto cleanup;
    }

    printf("median of %d runs after one warm-up, each side; same data, "
           "same machine, same run\n",
           o->batch_reps);
    printf("  %-34s %10.1f queries/s  (%.3f s per batch)\n",
           "quiver qv_search_batch (exact)", q_qps, q_med);
    printf("  %-34s %10.1f queries/s  (%.3f s per batch)\n",
           "numpy matmul + argpartition", np.qps, np.median_s);
    printf("  ratio quiver / numpy: %.2f\n", q_qps / np.qps);
    printf("  top-%u overlap with numpy: %.4f\n", o->k,
           overlap(o, hits, n_hits, &ids));
    printf("  numpy: %s (%s)\n", np.line, python);
    rc = 0;

cleanup:
    qv_collection_release(c);
    vf_imatrix_free(&ids);
    free(base);
    free(queries);
    free(idv);
    free(hits);
    free(n_hits);
    if (have_dir && !o->keep_tmp) {
        unlink(base_path);
        unlink(q_path);
        unlink(ids_path);
        rmdir(dir);
    } else if (have_dir) {
        printf("  files kept in %s\n", dir);
    }
    return rc;
}

int main(int argc, char **argv)
{
    /* Set before any OpenMP runtime starts: re-execute once if needed. */
    const char *wp = getenv("OMP_WAIT_POLICY");
    if (!wp || strcmp(wp, "PASSIVE") != 0) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
        /* No /proc: carry on, BLAS may then spin between calls. */
    }

    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;

    qv_build_info info;
    qv_build_info_get(&info);
    printf("quiver %s, %s build, kernels in use: %s (CPU can run: %s), "
           "BLAS: %s; OMP_WAIT_POLICY=PASSIVE\n",
           info.version, info.build_type, info.simd_level, info.simd_available,
           info.blas);
    fflush(stdout);

    int rc = 0;
    if (o.kernels && run_kernels(&o) != 0)
        rc = 1;
    if (o.batch && run_batch(&o) != 0)
        rc = 1;
    return rc;
}
