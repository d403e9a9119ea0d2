/*
 * harness.c -- `quiver bench`: options, the run, and the engine drivers.
 *
 * A run, in order:
 *  1. load or generate the data set (harness_data.c), cut it to --n and
 *     --queries, unit-normalise it for cosine;
 *  2. compute the exact top-k when the data set brought none (or too few
 *     columns, or lost it when --n cut the base) (harness_gt.c);
 *  3. write base and queries once to DIR/work/ as .fvecs: every engine
 *     reads these same bytes;
 *  4. for each engine, one after the other, run its driver executable
 *     (quiver-bench-<engine>, see harness_driver.h) and read its records
 *     from a pipe; score the ids it wrote against the ground truth;
 *  5. write DIR/results.csv, DIR/results.json, DIR/recall_qps.svg, print
 *     the table and the quiver/peer ratios (harness_report.c, plot_svg.c).
 *
 * Drivers run one at a time, never concurrently: each is alone on the
 * machine while it measures, and each engine's memory is measured in its
 * own fresh process.  They inherit OMP_WAIT_POLICY=PASSIVE so that faiss's
 * idle OpenMP workers sleep rather than spin on the measured core.
 *
 * Drivers are looked for, in order, in --drivers DIR, $QUIVER_BENCH_DRIVERS,
 * the directory of the running executable (where the build puts them next
 * to `quiver`), its bench/ subdirectory and ../libexec/quiver from it.  An
 * engine whose driver is missing (its library was not installed at build
 * time) or fails is reported and left out; the exit status is then 1.
 */
#include "harness.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define QVB_MAX_ENGINES 8
#define QVB_MAX_EFS     64

typedef struct qvb_opts {
    const char *data, *out, *query_file, *gt_file, *drivers;
    size_t n, nq; /* 0 = the default */
    char engines[QVB_MAX_ENGINES][32];
    size_t n_engines;
    uint32_t m, ef_construct, k, threads, reps;
    uint32_t efs[QVB_MAX_EFS];
    size_t n_efs;
    int metric_set;
    qvb_metric metric;
    uint64_t seed;
    double target;
    int keep_work, single_build;
    int filter_sweep; /* --filter-sweep: the filtered search sweep */
    double sel[QVB_MAX_SELECTIVITIES];
    size_t n_sel;
    uint32_t filter_ef;
} qvb_opts;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fputs(
        "usage: quiver bench [options]\n"
        "  --data NAME|FILE   synthetic-128-l2, synthetic-768-cos (or\n"
        "                     synthetic-<dim>-<l2|cos|ip>), or a .fvecs,\n"
        "                     .bvecs, .npy or ann-benchmarks .hdf5 file\n"
        "                     (default synthetic-128-l2)\n"
        "  --n N              base vectors (synthetic: 100000; file: all)\n"
        "  --queries Q        queries (synthetic: 1000; file: all, or 1000\n"
        "                     held out of the base when it has none)\n"
        "  --query-file FILE  queries for a base file\n"
        "  --gt-file FILE     ground truth (.ivecs) for those queries\n"
        "  --metric M         l2, cosine or ip for files (default: the\n"
        "                     file's, else l2)\n"
        "  --engines LIST     default quiver,hnswlib,faiss\n"
        "  --m M              HNSW links per node (default 16)\n"
        "  --ef-construct E   default 100\n"
        "  --ef LIST          search beam widths (default 16,32,64,128,256)\n"
        "  --k K              neighbours per query (default 10)\n"
        "  --threads T        build threads (default 2); builds are also\n"
        "                     timed with 1 thread\n"
        "  --reps R           query passes, median QPS (default 3)\n"
        "  --seed S           synthetic data seed (default 42)\n"
        "  --target-recall R  recall for the QPS ratios (default 0.95)\n"
        "  --out DIR          results directory (default bench-results)\n"
        "  --drivers DIR      where the quiver-bench-* drivers are\n"
        "  --no-single-thread-build   skip the 1-thread build timing\n"
        "  --keep-work        keep DIR/work (data and ids files)\n"
        "  --filter-sweep     instead of the comparison: Quiver's filtered\n"
        "                     search across selectivities, with and\n"
        "                     without payload indexes (DIR/filter_sweep.csv)\n"
        "  --selectivities L  for the sweep (default\n"
        "                     0.001,0.01,0.05,0.1,0.3,0.5,1)\n"
        "  --filter-ef E      hnsw_ef of the sweep's searches (default 0:\n"
        "                     Quiver's default, max(k, 128))\n",
        f);
}

static int parse_u64(const char *opt, const char *text, uint64_t lo,
                     uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr,
                "quiver bench: --%s must be an integer from %llu to %llu, "
                "got '%s'\n",
                opt, (unsigned long long)lo, (unsigned long long)hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u32(const char *opt, const char *text, uint32_t lo,
                     uint32_t hi, uint32_t *out)
{
    uint64_t v;
    if (parse_u64(opt, text, lo, hi, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_efs(const char *text, qvb_opts *o)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    o->n_efs = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (o->n_efs == QVB_MAX_EFS) {
            fprintf(stderr, "quiver bench: at most %d ef values\n",
                    QVB_MAX_EFS);
            return -1;
        }
        if (parse_u32("ef", t, 1, 65536, &o->efs[o->n_efs]) != 0)
            return -1;
        o->n_efs++;
    }
    if (o->n_efs == 0) {
        fprintf(stderr, "quiver bench: --ef needs at least one value\n");
        return -1;
    }
    return 0;
}

static int parse_selectivities(const char *text, qvb_opts *o)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    o->n_sel = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(t, &end);
        /* Buckets are thousandths: 0.001 is the finest selectivity. */
        if (end == t || *end || !(v >= 0.001) || v > 1 ||
            o->n_sel == QVB_MAX_SELECTIVITIES ||
            fabs(v * 1000 - round(v * 1000)) > 1e-9) {
            fprintf(stderr,
                    "quiver bench: --selectivities wants up to %d values "
                    "from 0.001 to 1 in steps of 0.001, got '%s'\n",
                    QVB_MAX_SELECTIVITIES, text);
            return -1;
        }
        o->sel[o->n_sel++] = v;
    }
    return o->n_sel ? 0 : -1;
}

static int parse_engines(const char *text, qvb_opts *o)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    o->n_engines = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        int ok = len > 0 && len < sizeof o->engines[0];
        for (size_t i = 0; ok && i < len; i++)
            ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
                 t[i] == '_' || t[i] == '-';
        if (!ok || o->n_engines == QVB_MAX_ENGINES) {
            fprintf(stderr, "quiver bench: bad engine list '%s'\n", text);
            return -1;
        }
        for (size_t i = 0; i < o->n_engines; i++) {
            if (!strcmp(o->engines[i], t)) {
                fprintf(stderr, "quiver bench: engine '%s' listed twice\n", t);
                return -1;
            }
        }
        memcpy(o->engines[o->n_engines++], t, len + 1);
    }
    if (o->n_engines == 0) {
        fprintf(stderr, "quiver bench: --engines needs at least one\n");
        return -1;
    }
    return 0;
}

/* Returns 0, 1 for --help, or 2 for a usage error. */
static int parse_opts(int argc, char **argv, qvb_opts *o)
{
    enum {
        O_DATA = 256,
        O_N,
        O_QUERIES,
        O_QFILE,
        O_GT,
        O_METRIC,
        O_ENGINES,
        O_M,
        O_EFC,
        O_EF,
        O_K,
        O_THREADS,
        O_REPS,
        O_SEED,
        O_TARGET,
        O_OUT,
        O_DRIVERS,
        O_NOSINGLE,
        O_KEEP,
        O_FSWEEP,
        O_SEL,
        O_FEF,
        O_HELP
    };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"n", required_argument, NULL, O_N},
        {"queries", required_argument, NULL, O_QUERIES},
        {"query-file", required_argument, NULL, O_QFILE},
        {"gt-file", required_argument, NULL, O_GT},
        {"metric", required_argument, NULL, O_METRIC},
        {"engines", required_argument, NULL, O_ENGINES},
        {"m", required_argument, NULL, O_M},
        {"ef-construct", required_argument, NULL, O_EFC},
        {"ef", required_argument, NULL, O_EF},
        {"k", required_argument, NULL, O_K},
        {"threads", required_argument, NULL, O_THREADS},
        {"reps", required_argument, NULL, O_REPS},
        {"seed", required_argument, NULL, O_SEED},
        {"target-recall", required_argument, NULL, O_TARGET},
        {"out", required_argument, NULL, O_OUT},
        {"drivers", required_argument, NULL, O_DRIVERS},
        {"no-single-thread-build", no_argument, NULL, O_NOSINGLE},
        {"keep-work", no_argument, NULL, O_KEEP},
        {"filter-sweep", no_argument, NULL, O_FSWEEP},
        {"selectivities", required_argument, NULL, O_SEL},
        {"filter-ef", required_argument, NULL, O_FEF},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->data = "synthetic-128-l2";
    o->out = "bench-results";
    o->m = 16;
    o->ef_construct = 100;
    o->k = 10;
    o->threads = 2;
    o->reps = 3;
    o->seed = QVB_DEFAULT_SEED;
    o->target = 0.95;
    o->single_build = 1;
    parse_engines("quiver,hnswlib,faiss", o);
    parse_efs("16,32,64,128,256", o);
    parse_selectivities("0.001,0.01,0.05,0.1,0.3,0.5,1", o);

    int c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_DATA:
            o->data = optarg;
            break;
        case O_N:
            bad = parse_u64("n", optarg, 1, INT32_MAX, &v);
            o->n = (size_t)v;
            break;
        case O_QUERIES:
            bad = parse_u64("queries", optarg, 1, INT32_MAX, &v);
            o->nq = (size_t)v;
            break;
        case O_QFILE:
            o->query_file = optarg;
            break;
        case O_GT:
            o->gt_file = optarg;
            break;
        case O_METRIC:
            o->metric_set = 1;
            if (qvb_metric_parse(optarg, &o->metric) != 0) {
                fprintf(stderr, "quiver bench: unknown metric '%s'\n", optarg);
                bad = 1;
            }
            break;
        case O_ENGINES:
            bad = parse_engines(optarg, o);
            break;
        case O_M:
            bad = parse_u32("m", optarg, 2, 128, &o->m);
            break;
        case O_EFC:
            bad = parse_u32("ef-construct", optarg, 4, 4096, &o->ef_construct);
            break;
        case O_EF:
            bad = parse_efs(optarg, o);
            break;
        case O_K:
            bad = parse_u32("k", optarg, 1, 1000, &o->k);
            break;
        case O_THREADS:
            bad = parse_u32("threads", optarg, 1, 1024, &o->threads);
            break;
        case O_REPS:
            bad = parse_u32("reps", optarg, 1, 100, &o->reps);
            break;
        case O_SEED:
            bad = parse_u64("seed", optarg, 0, UINT64_MAX, &o->seed);
            break;
        case O_TARGET: {
            char *end;
            o->target = strtod(optarg, &end);
            if (end == optarg || *end || !(o->target > 0) || o->target > 1) {
                fprintf(stderr,
                        "quiver bench: --target-recall must be in (0, 1]\n");
                bad = 1;
            }
            break;
        }
        case O_OUT:
            o->out = optarg;
            break;
        case O_DRIVERS:
            o->drivers = optarg;
            break;
        case O_NOSINGLE:
            o->single_build = 0;
            break;
        case O_KEEP:
            o->keep_work = 1;
            break;
        case O_FSWEEP:
            o->filter_sweep = 1;
            break;
        case O_SEL:
            bad = parse_selectivities(optarg, o);
            break;
        case O_FEF:
            bad = parse_u32("filter-ef", optarg, 0, 65536, &o->filter_ef);
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "quiver bench: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

/* ---- driver records
 * ---------------------------------------------------------- */

int qvb_driver_field(const char *line, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    /* Fields follow the record word, each after a space. */
    for (const char *p = strchr(line, ' '); p; p = strchr(p + 1, ' ')) {
        if (strncmp(p + 1, key, klen) != 0 || p[1 + klen] != '=')
            continue;
        const char *v = p + 2 + klen;
        size_t len = strcmp(key, "msg") ? strcspn(v, " \n") : strcspn(v, "\n");
        if (cap) {
            size_t c = len < cap - 1 ? len : cap - 1;
            memcpy(out, v, c);
            out[c] = 0;
        }
        return 1;
    }
    return 0;
}

static double field_num(const char *line, const char *key)
{
    char buf[64];
    if (!qvb_driver_field(line, key, buf, sizeof buf))
        return NAN;
    char *end;
    double v = strtod(buf, &end);
    return end == buf ? NAN : v;
}

/* ---- finding and running drivers
 * --------------------------------------------- */

static int find_driver(const char *engine, const char *dir_opt, char *out,
                       size_t cap)
{
    char exe_dir[PATH_MAX] = "";
    ssize_t len = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (len > 0) {
        exe_dir[len] = 0;
        char *slash = strrchr(exe_dir, '/');
        if (slash)
            *slash = 0;
    } else {
        exe_dir[0] = 0;
    }
    const char *env = getenv("QUIVER_BENCH_DRIVERS");
    const char *dirs[5] = {dir_opt, env && *env ? env : NULL,
                           exe_dir[0] ? exe_dir : NULL, NULL, NULL};
    char sub[PATH_MAX + 32], libexec[PATH_MAX + 32];
    if (exe_dir[0]) {
        snprintf(sub, sizeof sub, "%s/bench", exe_dir);
        snprintf(libexec, sizeof libexec, "%s/../libexec/quiver", exe_dir);
        dirs[3] = sub;
        dirs[4] = libexec;
    }
    for (size_t i = 0; i < 5; i++) {
        if (!dirs[i])
            continue;
        snprintf(out, cap, "%s/quiver-bench-%s", dirs[i], engine);
        if (access(out, X_OK) == 0)
            return 0;
        if (i == 0) /* an explicit --drivers is the only place looked */
            break;
    }
    return -1;
}

typedef struct run_ctx {
    const qvb_opts *o;
    const qvb_dataset *d;
    const int32_t *gt;
    uint32_t gt_k;
    char work[PATH_MAX];
} run_ctx;

/* Scores one `search` record into a row.  Returns 0 or -1. */
static int search_record(run_ctx *rc, const char *line, qvb_row *row,
                         qvb_err *err)
{
    char path[PATH_MAX];
    int32_t *ids = NULL;
    size_t rows;
    uint32_t cols;
    double ef = field_num(line, "ef");
    if (!isfinite(ef) || !qvb_driver_field(line, "ids", path, sizeof path))
        return qvb_fail(err, "malformed search record: %s", line);
    if (qvb_read_ivecs(path, &ids, &rows, &cols, err) != 0)
        return -1;
    if (rows != rc->d->nq || cols != rc->o->k) {
        free(ids);
        return qvb_fail(err, "%s: %zu x %u ids, expected %zu x %u", path, rows,
                        cols, rc->d->nq, rc->o->k);
    }
    row->ef = (uint32_t)ef;
    row->recall = qvb_recall(ids, rc->gt, rows, rc->o->k, rc->gt_k);
    row->qps = field_num(line, "qps");
    row->p50_us = field_num(line, "p50_us");
    row->p99_us = field_num(line, "p99_us");
    free(ids);
    if (!rc->o->keep_work)
        unlink(path);
    return 0;
}

/* Runs one engine's driver; appends its rows to *rows.  Fills *e (ok = 0
 * with a reason when the engine could not be measured). */
static void run_engine(run_ctx *rc, const char *engine, qvb_row **rows,
                       size_t *n_rows, size_t *cap_rows, qvb_engine_result *e)
{
    const qvb_opts *o = rc->o;
    char driver[PATH_MAX + 64];
    qvb_err err = {""};
    FILE *in = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    pid_t pid = -1;
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    int fa_init = 0;

    memset(e, 0, sizeof *e);
    snprintf(e->engine, sizeof e->engine, "%s", engine);
    snprintf(e->version, sizeof e->version, "unknown");
    e->threads = o->threads;
    e->build_s = e->build_s_1 = e->index_mb = e->build_peak_mb = NAN;
    e->qps_at_target = NAN;
    e->target_flag = QVB_INTERP_BELOW;
    e->first_row = *n_rows;

    if (find_driver(engine, o->drivers, driver, sizeof driver) != 0) {
        qvb_fail(&err,
                 "no driver quiver-bench-%s (was its library installed when "
                 "Quiver was built? see scripts/install-deps bench)",
                 engine);
        goto done;
    }
    char ef_list[QVB_MAX_EFS * 8] = "", num[32], prefix[PATH_MAX + 64];
    for (size_t i = 0; i < o->n_efs; i++) {
        snprintf(num, sizeof num, "%s%u", i ? "," : "", o->efs[i]);
        strcat(ef_list, num);
    }
    char base[PATH_MAX + 32], queries[PATH_MAX + 32], s_m[16], s_efc[16],
        s_k[16], s_t[16], s_r[16];
    snprintf(base, sizeof base, "%s/base.fvecs", rc->work);
    snprintf(queries, sizeof queries, "%s/queries.fvecs", rc->work);
    snprintf(prefix, sizeof prefix, "%s/%s_ef", rc->work, engine);
    snprintf(s_m, sizeof s_m, "%u", o->m);
    snprintf(s_efc, sizeof s_efc, "%u", o->ef_construct);
    snprintf(s_k, sizeof s_k, "%u", o->k);
    snprintf(s_t, sizeof s_t, "%u", o->threads);
    snprintf(s_r, sizeof s_r, "%u", o->reps);
    char *args[] = {driver,
                    "--base",
                    base,
                    "--queries",
                    queries,
                    "--metric",
                    (char *)qvb_metric_name(rc->d->metric),
                    "--m",
                    s_m,
                    "--ef-construct",
                    s_efc,
                    "--ef",
                    ef_list,
                    "--k",
                    s_k,
                    "--threads",
                    s_t,
                    "--reps",
                    s_r,
                    "--ids-prefix",
                    prefix,
                    o->single_build ? NULL : "--no-single-thread-build",
                    NULL};

    if (pipe(fds) != 0 || posix_spawn_file_actions_init(&fa) != 0) {
        qvb_fail(&err, "pipe: %s", strerror(errno));
        goto done;
    }
    fa_init = 1;
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    fflush(stdout);
    fflush(stderr);
    int sr = posix_spawn(&pid, driver, &fa, NULL, args, environ);
    close(fds[1]);
    fds[1] = -1;
    if (sr != 0) {
        pid = -1;
        qvb_fail(&err, "cannot run %s: %s", driver, strerror(sr));
        goto done;
    }
    in = fdopen(fds[0], "r");
    if (!in) {
        qvb_fail(&err, "fdopen: %s", strerror(errno));
        goto done;
    }
    fds[0] = -1;

    int ended = 0, got_main_build = 0;
    double build_s = NAN, index_mb = NAN;
    while (getline(&line, &line_cap, in) > 0) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, "engine ", 7)) {
            qvb_driver_field(line, "version", e->version, sizeof e->version);
        } else if (!strncmp(line, "build ", 6)) {
            double t = field_num(line, "threads");
            double secs = field_num(line, "seconds");
            if (!got_main_build) {
                got_main_build = 1;
                build_s = secs;
                double r0 = field_num(line, "rss_before_kb");
                double r1 = field_num(line, "rss_after_kb");
                double h1 = field_num(line, "hwm_after_kb");
                if (r0 >= 0 && r1 >= 0) {
                    index_mb = (r1 - r0) / 1024.0;
                    e->build_peak_mb = (fmax(h1, r1) - r0) / 1024.0;
                }
                e->build_s = secs;
                e->index_mb = index_mb;
                if (t == 1)
                    e->build_s_1 = secs;
                fprintf(stderr,
                        "  %s: built with %u thread%s in %.2f s, index "
                        "%.1f MiB\n",
                        engine, o->threads, o->threads == 1 ? "" : "s", secs,
                        index_mb);
            } else if (t == 1) {
                e->build_s_1 = secs;
                fprintf(stderr, "  %s: built with 1 thread in %.2f s\n", engine,
                        secs);
            }
        } else if (!strncmp(line, "search ", 7)) {
            if (*n_rows == *cap_rows) {
                size_t nc = *cap_rows ? 2 * *cap_rows : 16;
                qvb_row *nr = realloc(*rows, nc * sizeof *nr);
                if (!nr) {
                    qvb_fail(&err, "out of memory");
                    goto done;
                }
                *rows = nr;
                *cap_rows = nc;
            }
            qvb_row *r = &(*rows)[*n_rows];
            memset(r, 0, sizeof *r);
            snprintf(r->engine, sizeof r->engine, "%s", engine);
            snprintf(r->dataset, sizeof r->dataset, "%s", rc->d->name);
            r->n = rc->d->n;
            r->dim = rc->d->dim;
            r->metric = rc->d->metric;
            r->m = o->m;
            r->ef_construct = o->ef_construct;
            r->k = o->k;
            r->build_s = build_s;
            r->build_threads = o->threads;
            r->index_mb = index_mb;
            if (search_record(rc, line, r, &err) != 0)
                goto done;
            (*n_rows)++;
            fprintf(stderr,
                    "  %s: ef=%u recall=%.4f qps=%.1f p50=%.1fus "
                    "p99=%.1fus\n",
                    engine, r->ef, r->recall, r->qps, r->p50_us, r->p99_us);
        } else if (!strncmp(line, "error ", 6)) {
            char msg[400];
            qvb_driver_field(line, "msg", msg, sizeof msg);
            qvb_fail(&err, "%s", msg);
        } else if (!strcmp(line, "end")) {
            ended = 1;
        }
    }
    fclose(in);
    in = NULL;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (err.msg[0])
        goto done;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ended) {
        if (WIFSIGNALED(status))
            qvb_fail(&err, "driver killed by signal %d", WTERMSIG(status));
        else
            qvb_fail(&err, "driver exited with status %d before the end",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto done;
    }
    if (*n_rows - e->first_row != o->n_efs) {
        qvb_fail(&err, "driver reported %zu of %zu ef values",
                 *n_rows - e->first_row, o->n_efs);
        goto done;
    }
    e->ok = 1;
done:
    if (in)
        fclose(in);
    if (pid > 0) {
        int status;
        kill(pid, SIGTERM);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    free(line);
    if (!e->ok) {
        snprintf(e->failure, sizeof e->failure, "%s", err.msg);
        *n_rows = e->first_row; /* a partial sweep is not reported */
        fprintf(stderr, "quiver bench: %s: %s\n", engine, err.msg);
    }
    e->n_rows = *n_rows - e->first_row;
}

/* ---- the run
 * ------------------------------------------------------------------- */

static int make_dir(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void cpu_model(char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon += 1 + (colon[1] == ' ');
                colon[strcspn(colon, "\n")] = 0;
                snprintf(out, cap, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static int write_file(const char *dir, const char *name, int kind,
                      const qvb_run_info *info, const qvb_row *rows,
                      size_t n_rows, const qvb_engine_result *eng, size_t n_eng)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "quiver bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = kind == 0   ? qvb_write_csv(f, rows, n_rows)
             : kind == 1 ? qvb_write_json(f, info, rows, n_rows, eng, n_eng)
                         : qvb_write_svg(f, info, rows, n_rows, eng, n_eng);
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "quiver bench: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* --filter-sweep: runs the sweep on the loaded data, writes
 * DIR/filter_sweep.csv and prints the table.  Returns the exit status. */
static int filter_sweep(const qvb_opts *o, const qvb_dataset *d)
{
    qvb_filter_opts fo = {o->m,       o->ef_construct, o->k,
                          o->threads, o->reps,         o->filter_ef,
                          o->sel,     o->n_sel,        o->seed};
    qvb_filter_row *rows = NULL;
    size_t n = 0;
    qvb_filter_index built[2] = {{"", NAN, NAN}, {"", NAN, NAN}};
    qvb_err err = {""};
    if (make_dir(o->out) != 0) {
        fprintf(stderr, "quiver bench: cannot create %s: %s\n", o->out,
                strerror(errno));
        return 1;
    }
    if (qvb_filter_sweep(d, &fo, &rows, &n, built, &err) != 0) {
        fprintf(stderr, "quiver bench: %s\n", err.msg);
        return 1;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/filter_sweep.csv", o->out);
    FILE *f = fopen(path, "w");
    int ok = f && qvb_write_filter_csv(f, rows, n) == 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "quiver bench: writing %s failed\n", path);
    qvb_print_filter_report(stdout, d, &fo, rows, n, built);
    printf("wrote %s\n", path);
    free(rows);
    return ok ? 0 : 1;
}

int qvb_main(int argc, char **argv)
{
    qvb_opts o;
    qvb_dataset d = {0};
    qvb_err err = {""};
    qvb_row *rows = NULL;
    size_t n_rows = 0, cap_rows = 0;
    qvb_engine_result eng[QVB_MAX_ENGINES];
    int32_t *gt = NULL;
    run_ctx rc;
    int status = 1, work_made = 0;
    char cpu[128];

    int p = parse_opts(argc, argv, &o);
    if (p)
        return p == 1 ? 0 : 2;
    for (size_t i = 0; i < o.n_efs; i++)
        if (o.efs[i] < o.k)
            fprintf(stderr,
                    "quiver bench: note: ef=%u < k=%u; engines search with "
                    "max(ef, k)\n",
                    o.efs[i], o.k);

    /* 1. The data. */
    double t0 = now_seconds();
    uint32_t sdim;
    qvb_metric smetric;
    if (qvb_synthetic_parse(o.data, &sdim, &smetric)) {
        if (o.query_file || o.gt_file || o.metric_set) {
            fprintf(stderr, "quiver bench: --query-file, --gt-file and "
                            "--metric are for data files\n");
            return 2;
        }
        if (qvb_synthetic(sdim, smetric, o.n ? o.n : 100000, o.nq ? o.nq : 1000,
                          o.seed, &d, &err) != 0)
            goto fail;
    } else {
        qvb_load_options lo = {o.query_file, o.gt_file, o.metric_set, o.metric,
                               o.nq ? o.nq : 1000};
        if (qvb_load(o.data, &lo, &d, &err) != 0)
            goto fail;
        qvb_dataset_truncate(&d, o.n, o.nq);
        if (d.metric == QVB_METRIC_COSINE)
            qvb_dataset_normalize(&d);
    }
    if (o.k > d.n) {
        qvb_fail(&err, "k = %u but the base has %zu vectors", o.k, d.n);
        goto fail;
    }
    if (d.nq == 0) {
        qvb_fail(&err, "the data set has no queries");
        goto fail;
    }
    fprintf(stderr,
            "quiver bench: %s: %zu vectors of %u dimensions (%s), %zu "
            "queries, ready in %.1f s\n",
            d.name, d.n, d.dim, qvb_metric_name(d.metric), d.nq,
            now_seconds() - t0);

    if (o.filter_sweep) {
        status = filter_sweep(&o, &d);
        qvb_dataset_free(&d);
        return status;
    }

    /* 2. Ground truth. */
    rc.gt = d.gt;
    rc.gt_k = d.gt_k;
    if (!d.gt || d.gt_k < o.k) {
        t0 = now_seconds();
        gt = malloc(d.nq * o.k * sizeof *gt);
        if (!gt) {
            qvb_fail(&err, "out of memory for the ground truth");
            goto fail;
        }
        if (qvb_ground_truth(d.base, d.n, d.queries, d.nq, d.dim, d.metric, o.k,
                             gt, &err) != 0)
            goto fail;
        rc.gt = gt;
        rc.gt_k = o.k;
        fprintf(stderr, "quiver bench: exact top-%u in %.1f s\n", o.k,
                now_seconds() - t0);
    } else {
        fprintf(stderr, "quiver bench: ground truth from the data set\n");
    }

    /* 3. The shared input files. */
    rc.o = &o;
    rc.d = &d;
    snprintf(rc.work, sizeof rc.work, "%s/work", o.out);
    if (make_dir(rc.work) != 0) {
        qvb_fail(&err, "cannot create %s: %s", rc.work, strerror(errno));
        goto fail;
    }
    work_made = 1;
    char base_path[PATH_MAX + 32], query_path[PATH_MAX + 32];
    snprintf(base_path, sizeof base_path, "%s/base.fvecs", rc.work);
    snprintf(query_path, sizeof query_path, "%s/queries.fvecs", rc.work);
    if (qvb_write_fvecs(base_path, d.base, d.n, d.dim, &err) != 0 ||
        qvb_write_fvecs(query_path, d.queries, d.nq, d.dim, &err) != 0)
        goto fail;
    /* The drivers have their copy: give the harness's memory back before
     * they run, so it does not crowd them. */
    free(d.base);
    d.base = NULL;

    /* 4. The engines, one at a time. */
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) {
        qvb_fail(&err, "setenv: %s", strerror(errno));
        goto fail;
    }
    int all_ok = 1;
    for (size_t i = 0; i < o.n_engines; i++) {
        fprintf(stderr, "quiver bench: running %s\n", o.engines[i]);
        run_engine(&rc, o.engines[i], &rows, &n_rows, &cap_rows, &eng[i]);
        all_ok &= eng[i].ok;
    }
    for (size_t i = 0; i < o.n_engines; i++) {
        qvb_engine_result *e = &eng[i];
        if (!e->ok)
            continue;
        double rec[QVB_MAX_EFS], qps[QVB_MAX_EFS];
        for (size_t j = 0; j < e->n_rows; j++) {
            rec[j] = rows[e->first_row + j].recall;
            qps[j] = rows[e->first_row + j].qps;
        }
        e->qps_at_target =
            qvb_qps_at_recall(rec, qps, e->n_rows, o.target, &e->target_flag);
    }

    /* 5. Results. */
    cpu_model(cpu, sizeof cpu);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    qvb_run_info info = {d.name,
                         d.n,
                         d.nq,
                         d.dim,
                         d.metric,
                         o.m,
                         o.ef_construct,
                         o.k,
                         o.threads,
                         o.reps,
                         o.seed,
                         o.target,
                         cpu,
                         cpus > 0 ? (unsigned)cpus : 0};
    int wrote = write_file(o.out, "results.csv", 0, &info, rows, n_rows, eng,
                           o.n_engines) == 0 &&
                write_file(o.out, "results.json", 1, &info, rows, n_rows, eng,
                           o.n_engines) == 0 &&
                write_file(o.out, "recall_qps.svg", 2, &info, rows, n_rows, eng,
                           o.n_engines) == 0;
    qvb_print_report(stdout, &info, rows, n_rows, eng, o.n_engines);
    printf("wrote %s/results.csv, %s/results.json, %s/recall_qps.svg\n", o.out,
           o.out, o.out);
    status = wrote && all_ok ? 0 : 1;
    goto cleanup;
fail:
    fprintf(stderr, "quiver bench: %s\n", err.msg);
    status = 1;
cleanup:
    if (work_made && !o.keep_work) {
        char path[PATH_MAX + 96];
        snprintf(path, sizeof path, "%s/base.fvecs", rc.work);
        unlink(path);
        snprintf(path, sizeof path, "%s/queries.fvecs", rc.work);
        unlink(path);
        for (size_t i = 0; i < o.n_engines; i++) {
            for (size_t j = 0; j < o.n_efs; j++) {
                snprintf(path, sizeof path, "%s/%s_ef%u.ivecs", rc.work,
                         o.engines[i], o.efs[j]);
                unlink(path);
            }
        }
        rmdir(rc.work);
    }
    free(rows);
    free(gt);
    qvb_dataset_free(&d);
    return status;
}
