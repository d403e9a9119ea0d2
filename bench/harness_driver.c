/*
 * harness_driver.c -- the measuring loop every engine driver runs.
 *
 * See harness_driver.h for the command line, the steps and the output
 * records.  Design points:
 *  - The engine sees only its callbacks; the clock, the memory readings and
 *    the ef sweep are here, so a difference between engines cannot come
 *    from how each driver happens to time itself.
 *  - Memory is read from /proc/self/status rather than from malloc
 *    statistics: it is what the operating system charges, whatever
 *    allocator or mmap the engine uses.  The driver process holds only the
 *    input vectors before the build, so the growth across the build is the
 *    engine's index.
 *  - The index built with T threads is the one searched, and is measured
 *    first, in a fresh process; the one-thread build comes last and is only
 *    timed, since freeing the first index need not give its pages back.
 *  - Files go through cli/vecfile.c, the project's one reader and writer.
 *  - The ids of the first pass are written out and scored by the harness;
 *    every pass runs the same searches, so the later ones differ only in
 *    time.
 */
#include "harness_driver.h"
#include "vecfile.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double qvb_drv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void qvb_drv_memory(long *rss_kb, long *hwm_kb)
{
    *rss_kb = -1;
    *hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss_kb = strtol(line + 6, NULL, 10);
        else if (!strncmp(line, "VmHWM:", 6))
            *hwm_kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double qvb_drv_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    /* Nearest rank: the smallest value with at least p% of values <= it. */
    double rank = ceil(p / 100.0 * (double)n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return v[i < n ? i : n - 1];
}

double qvb_drv_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- the driver ------------------------------------------------------------
 */

typedef struct drv_args {
    const char *base, *queries, *ids_prefix;
    qvb_drv_config cfg;
    unsigned threads, reps;
    unsigned *efs;
    size_t n_efs;
    int single_build;
} drv_args;

/* Prints the error record; the harness shows the message. */
static int report_error(const char *msg)
{
    printf("error msg=%s\n", msg);
    fflush(stdout);
    return 1;
}

static int parse_uint(const char *text, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* True when the driver knows variant v ("none" always). */
static int variant_known(const qvb_drv_ops *ops, const char *v)
{
    if (!strcmp(v, "none"))
        return 1;
    for (size_t i = 0; ops->variants && ops->variants[i]; i++)
        if (!strcmp(ops->variants[i], v))
            return 1;
    return 0;
}

static int parse_args(int argc, char **argv, drv_args *a, char *err, size_t cap)
{
    static const struct option opts[] = {
        {"base", required_argument, NULL, 'b'},
        {"queries", required_argument, NULL, 'q'},
        {"metric", required_argument, NULL, 'd'},
        {"m", required_argument, NULL, 'm'},
        {"ef-construct", required_argument, NULL, 'c'},
        {"ef", required_argument, NULL, 'e'},
        {"k", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 't'},
        {"reps", required_argument, NULL, 'r'},
        {"ids-prefix", required_argument, NULL, 'i'},
        {"no-single-thread-build", no_argument, NULL, 's'},
        {"variant", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->cfg.m = 16;
    a->cfg.ef_construct = 100;
    a->cfg.k = 10;
    a->threads = 1;
    a->reps = 3;
    a->single_build = 1;
    a->cfg.variant = "none";
    const char *efs = "16,32,64,128,256";
    int c, li = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, &li)) != -1) {
        int bad = 0;
        switch (c) {
        case 'b':
            a->base = optarg;
            break;
        case 'q':
            a->queries = optarg;
            break;
        case 'i':
            a->ids_prefix = optarg;
            break;
        case 'd':
            if (!strcmp(optarg, "l2"))
                a->cfg.metric = QVB_DRV_L2;
            else if (!strcmp(optarg, "cosine"))
                a->cfg.metric = QVB_DRV_COSINE;
            else if (!strcmp(optarg, "ip"))
                a->cfg.metric = QVB_DRV_IP;
            else
                bad = 1;
            break;
        case 'm':
            bad = parse_uint(optarg, 2, 1024, &a->cfg.m);
            break;
        case 'c':
            bad = parse_uint(optarg, 1, 1 << 16, &a->cfg.ef_construct);
            break;
        case 'e':
            efs = optarg;
            break;
        case 'k':
            bad = parse_uint(optarg, 1, 1 << 16, &a->cfg.k);
            break;
        case 't':
            bad = parse_uint(optarg, 1, 4096, &a->threads);
            break;
        case 'r':
            bad = parse_uint(optarg, 1, 1000, &a->reps);
            break;
        case 's':
            a->single_build = 0;
            break;
        case 'v':
            a->cfg.variant = optarg;
            break;
        default:
            set_err(err, cap, "unknown option");
            return -1;
        }
        if (bad) {
            set_err(err, cap, "bad value '%s' for --%s", optarg, opts[li].name);
            return -1;
        }
    }
    if (!a->base || !a->queries || !a->ids_prefix) {
        set_err(err, cap, "--base, --queries and --ids-prefix are required");
        return -1;
    }
    /* The ef list: comma-separated integers. */
    size_t cnt = 1;
    for (const char *p = efs; *p; p++)
        cnt += *p == ',';
    a->efs = calloc(cnt, sizeof *a->efs);
    if (!a->efs) {
        set_err(err, cap, "out of memory");
        return -1;
    }
    char *copy = strdup(efs);
    if (!copy) {
        set_err(err, cap, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (parse_uint(tok, 1, 1 << 20, &a->efs[a->n_efs]) != 0) {
            set_err(err, cap, "bad ef value '%s'", tok);
            free(copy);
            return -1;
        }
        a->n_efs++;
    }
    free(copy);
    if (a->n_efs == 0) {
        set_err(err, cap, "--ef needs at least one value");
        return -1;
    }
    return 0;
}

/* Builds with `threads` threads and prints the build record. */
static int timed_build(const qvb_drv_ops *ops, const drv_args *a,
                       const float *base, size_t n, unsigned threads,
                       void **index, char *err, size_t cap)
{
    long rss0, hwm0, rss1, hwm1;
    qvb_drv_memory(&rss0, &hwm0);
    double t0 = qvb_drv_now();
    if (ops->build(&a->cfg, base, n, threads, index, err, cap) != 0)
        return -1;
    double t1 = qvb_drv_now();
    qvb_drv_memory(&rss1, &hwm1);
    printf("build threads=%u seconds=%.6f rss_before_kb=%ld rss_after_kb=%ld "
           "hwm_before_kb=%ld hwm_after_kb=%ld\n",
           threads, t1 - t0, rss0, rss1, hwm0, hwm1);
    fflush(stdout);
    return 0;
}

static int write_ids(const char *path, const int32_t *ids, size_t nq,
                     uint32_t k, char *err, size_t cap)
{
    return vf_write_ids(path, ids, nq, k, err, cap) == QV_OK ? 0 : -1;
}

/* The ef sweep on the built index. */
static int sweep(const qvb_drv_ops *ops, const drv_args *a, void *index,
                 const float *queries, size_t nq, char *err, size_t cap)
{
    int rc = -1;
    uint32_t k = a->cfg.k, dim = a->cfg.dim;
    int32_t *ids = malloc(nq * k * sizeof *ids + 1);
    int32_t *scratch = malloc(k * sizeof *scratch);
    double *lat = malloc(nq * a->reps * sizeof *lat + 1);
    double *pass_qps = malloc(a->reps * sizeof *pass_qps);
    char *path = malloc(strlen(a->ids_prefix) + 32);
    if (!ids || !scratch || !lat || !pass_qps || !path) {
        set_err(err, cap, "out of memory");
        goto cleanup;
    }
    for (size_t e = 0; e < a->n_efs; e++) {
        unsigned ef = a->efs[e];
        if (ops->set_ef(index, ef, err, cap) != 0)
            goto cleanup;
        for (unsigned r = 0; r < a->reps; r++) {
            double pass0 = qvb_drv_now();
            for (size_t i = 0; i < nq; i++) {
                int32_t *out = r == 0 ? ids + i * k : scratch;
                for (uint32_t j = 0; j < k; j++)
                    out[j] = -1;
                double t0 = qvb_drv_now();
                if (ops->search(index, queries + i * dim, k, out, err, cap))
                    goto cleanup;
                lat[(size_t)r * nq + i] = qvb_drv_now() - t0;
            }
            double secs = qvb_drv_now() - pass0;
            pass_qps[r] = secs > 0 ? (double)nq / secs : 0;
        }
        double qps = qvb_drv_median(pass_qps, a->reps);
        size_t nl = nq * a->reps;
        double p50 = qvb_drv_percentile(lat, nl, 50) * 1e6;
        double p99 = qvb_drv_percentile(lat, nl, 99) * 1e6;
        sprintf(path, "%s%u.ivecs", a->ids_prefix, ef);
        if (write_ids(path, ids, nq, k, err, cap) != 0)
            goto cleanup;
        printf("search ef=%u qps=%.3f p50_us=%.3f p99_us=%.3f ids=%s\n", ef,
               qps, p50, p99, path);
        fflush(stdout);
    }
    rc = 0;
cleanup:
    free(ids);
    free(scratch);
    free(lat);
    free(pass_qps);
    free(path);
    return rc;
}

int qvb_drv_main(int argc, char **argv, const qvb_drv_ops *ops)
{
    char err[512] = "";
    drv_args a;
    vf_matrix bm = {0}, qm = {0};
    void *index = NULL;
    int status = 1;

    printf("engine name=%s version=%s\n", ops->name, ops->version);
    fflush(stdout);
    if (parse_args(argc, argv, &a, err, sizeof err) != 0) {
        report_error(err);
        status = 2;
        goto cleanup;
    }
    if (!variant_known(ops, a.cfg.variant)) {
        snprintf(err, sizeof err, "%s has no variant '%s'", ops->name,
                 a.cfg.variant);
        report_error(err);
        status = 2;
        goto cleanup;
    }
    if (vf_read(a.base, &bm, err, sizeof err) != QV_OK ||
        vf_read(a.queries, &qm, err, sizeof err) != QV_OK)
        goto fail;
    if (qm.cols != bm.cols || bm.rows == 0 || bm.cols > UINT32_MAX) {
        snprintf(err, sizeof err,
                 "queries have %zu components and base %zu, base has %zu rows",
                 qm.cols, bm.cols, bm.rows);
        goto fail;
    }
    a.cfg.dim = (uint32_t)bm.cols;
    const float *base = bm.data, *queries = qm.data;
    size_t n = bm.rows, nq = qm.rows;

    if (timed_build(ops, &a, base, n, a.threads, &index, err, sizeof err))
        goto fail;
    size_t per = ops->point_bytes ? ops->point_bytes(index)
                                  : (size_t)a.cfg.dim * sizeof(float);
    printf("memory touched_bytes=%zu\n", per * n);
    fflush(stdout);
    if (sweep(ops, &a, index, queries, nq, err, sizeof err) != 0)
        goto fail;
    ops->destroy(index);
    index = NULL;
    if (a.single_build && a.threads != 1) {
        if (timed_build(ops, &a, base, n, 1, &index, err, sizeof err))
            goto fail;
        ops->destroy(index);
        index = NULL;
    }
    printf("end\n");
    status = 0;
    goto cleanup;
fail:
    report_error(err);
cleanup:
    if (index)
        ops->destroy(index);
    vf_matrix_free(&bm);
    vf_matrix_free(&qm);
    free(a.efs);
    fflush(stdout);
    return status;
}
