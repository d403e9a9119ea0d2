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
 * The options are declared once, in opt_table: getopt_long's option
 * array, the storing of each argument and the --help text all come from
 * it, so a new option is one entry there (and its default in
 * set_defaults).
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
#include <stdbool.h>
#include <stddef.h>
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
    const char *quantization; /* --quantization, applied by expand_quant */
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

/* --quantization none,int8,binary,pq: the quiver engine becomes one row per
 * kind (quiver, quiver-int8, quiver-binary, quiver-pq, driver variants), and
 * with int8, faiss gains its 8-bit scalar-quantizer peer faiss-sq8.  Applied
 * after every option, so that it expands whatever --engines said. */
static int expand_quant(qvb_opts *o)
{
    if (!o->quantization)
        return 0;
    char buf[128], list[512] = "";
    snprintf(buf, sizeof buf, "%s", o->quantization);
    const char *kinds[4];
    size_t nk = 0;
    bool int8 = false;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (nk == 4 || (strcmp(t, "none") && strcmp(t, "int8") &&
                        strcmp(t, "binary") && strcmp(t, "pq"))) {
            fprintf(stderr,
                    "quiver bench: bad --quantization '%s' (none, "
                    "int8, binary, pq)\n",
                    o->quantization);
            return -1;
        }
        int8 = int8 || !strcmp(t, "int8");
        kinds[nk++] = t;
    }
    for (size_t i = 0; i < o->n_engines; i++) {
        const char *e = o->engines[i];
        size_t at = strlen(list);
        if (!strcmp(e, "quiver")) {
            for (size_t k = 0; k < nk; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list),
                         "%squiver%s%s", strlen(list) ? "," : "",
                         strcmp(kinds[k], "none") ? "-" : "",
                         strcmp(kinds[k], "none") ? kinds[k] : "");
        } else {
            snprintf(list + at, sizeof list - at, "%s%s%s", at ? "," : "", e,
                     !strcmp(e, "faiss") && int8 ? ",faiss-sq8" : "");
        }
    }
    return parse_engines(list, o);
}

/* Parses --metric; remembers that the user chose one. */
static int set_metric(const char *text, qvb_opts *o)
{
    o->metric_set = 1;
    if (qvb_metric_parse(text, &o->metric) != 0) {
        fprintf(stderr, "quiver bench: unknown metric '%s'\n", text);
        return -1;
    }
    return 0;
}

static int set_target(const char *text, qvb_opts *o)
{
    char *end;
    o->target = strtod(text, &end);
    if (end == text || *end || !(o->target > 0) || o->target > 1) {
        fprintf(stderr, "quiver bench: --target-recall must be in (0, 1]\n");
        return -1;
    }
    return 0;
}

/* ---- the option table
 * ---------------------------------------------------------- */

/* How an option's argument is stored into qvb_opts. */
typedef enum opt_kind {
    OPT_FLAG,   /* no argument: stores .value into the int at .field */
    OPT_STRING, /* the const char * at .field points to the argument */
    OPT_SIZE,   /* the size_t at .field: an integer in [.lo, .hi] */
    OPT_U32,    /* the uint32_t at .field: an integer in [.lo, .hi] */
    OPT_U64,    /* the uint64_t at .field: an integer in [.lo, .hi] */
    OPT_SETTER, /* .set parses the argument (and prints its own error) */
    OPT_HELP    /* prints the usage and stops */
} opt_kind;

typedef struct opt_spec {
    const char *name; /* the long option, without "--" */
    const char *arg;  /* the argument's name in --help; NULL: takes none */
    opt_kind kind;
    size_t field; /* offsetof(qvb_opts, ...) */
    uint64_t lo, hi;
    int value;
    int (*set)(const char *text, qvb_opts *o);
    const char *help; /* lines separated by '\n' */
} opt_spec;

#define OPT_AT(f) offsetof(qvb_opts, f)

/* Every option of `quiver bench`, in the order --help lists them (and
 * getopt_long names the candidates of an ambiguous abbreviation).  The
 * defaults are set by set_defaults. */
static const opt_spec opt_table[] = {
    {.name = "data",
     .arg = "NAME|FILE",
     .kind = OPT_STRING,
     .field = OPT_AT(data),
     .help = "synthetic-128-l2, synthetic-768-cos (or\n"
             "synthetic-<dim>-<l2|cos|ip>), or a .fvecs,\n"
             ".bvecs, .npy or ann-benchmarks .hdf5 file\n"
             "(default synthetic-128-l2)"},
    {.name = "n",
     .arg = "N",
     .kind = OPT_SIZE,
     .field = OPT_AT(n),
     .lo = 1,
     .hi = INT32_MAX,
     .help = "base vectors (synthetic: 100000; file: all)"},
    {.name = "queries",
     .arg = "Q",
     .kind = OPT_SIZE,
     .field = OPT_AT(nq),
     .lo = 1,
     .hi = INT32_MAX,
     .help = "queries (synthetic: 1000; file: all, or 1000\n"
             "held out of the base when it has none)"},
    {.name = "query-file",
     .arg = "FILE",
     .kind = OPT_STRING,
     .field = OPT_AT(query_file),
     .help = "queries for a base file"},
    {.name = "gt-file",
     .arg = "FILE",
     .kind = OPT_STRING,
     .field = OPT_AT(gt_file),
     .help = "ground truth (.ivecs) for those queries"},
    {.name = "metric",
     .arg = "M",
     .kind = OPT_SETTER,
     .set = set_metric,
     .help = "l2, cosine or ip for files (default: the\n"
             "file's, else l2)"},
    {.name = "engines",
     .arg = "LIST",
     .kind = OPT_SETTER,
     .set = parse_engines,
     .help = "default quiver,hnswlib,faiss"},
    {.name = "quantization",
     .arg = "LIST",
     .kind = OPT_STRING,
     .field = OPT_AT(quantization),
     .help = "none,int8,binary,pq: a quiver row for each\n"
             "(quiver-int8, ...); int8 adds faiss-sq8"},
    {.name = "m",
     .arg = "M",
     .kind = OPT_U32,
     .field = OPT_AT(m),
     .lo = 2,
     .hi = 128,
     .help = "HNSW links per node (default 16)"},
    {.name = "ef-construct",
     .arg = "E",
     .kind = OPT_U32,
     .field = OPT_AT(ef_construct),
     .lo = 4,
     .hi = 4096,
     .help = "default 100"},
    {.name = "ef",
     .arg = "LIST",
     .kind = OPT_SETTER,
     .set = parse_efs,
     .help = "search beam widths (default 16,32,64,128,256)"},
    {.name = "k",
     .arg = "K",
     .kind = OPT_U32,
     .field = OPT_AT(k),
     .lo = 1,
     .hi = 1000,
     .help = "neighbours per query (default 10)"},
    {.name = "threads",
     .arg = "T",
     .kind = OPT_U32,
     .field = OPT_AT(threads),
     .lo = 1,
     .hi = 1024,
     .help = "build threads (default 2); builds are also\n"
             "timed with 1 thread"},
    {.name = "reps",
     .arg = "R",
     .kind = OPT_U32,
     .field = OPT_AT(reps),
     .lo = 1,
     .hi = 100,
     .help = "query passes, median QPS (default 3)"},
    {.name = "seed",
     .arg = "S",
     .kind = OPT_U64,
     .field = OPT_AT(seed),
     .lo = 0,
     .hi = UINT64_MAX,
     .help = "synthetic data seed (default 42)"},
    {.name = "target-recall",
     .arg = "R",
     .kind = OPT_SETTER,
     .set = set_target,
     .help = "recall for the QPS ratios (default 0.95)"},
    {.name = "out",
     .arg = "DIR",
     .kind = OPT_STRING,
     .field = OPT_AT(out),
     .help = "results directory (default bench-results)"},
    {.name = "drivers",
     .arg = "DIR",
     .kind = OPT_STRING,
     .field = OPT_AT(drivers),
     .help = "where the quiver-bench-* drivers are"},
    {.name = "no-single-thread-build",
     .kind = OPT_FLAG,
     .field = OPT_AT(single_build),
     .value = 0,
     .help = "skip the 1-thread build timing"},
    {.name = "keep-work",
     .kind = OPT_FLAG,
     .field = OPT_AT(keep_work),
     .value = 1,
     .help = "keep DIR/work (data and ids files)"},
    {.name = "filter-sweep",
     .kind = OPT_FLAG,
     .field = OPT_AT(filter_sweep),
     .value = 1,
     .help = "instead of the comparison: Quiver's filtered\n"
             "search across selectivities, with and\n"
             "without payload indexes (DIR/filter_sweep.csv)"},
    {.name = "selectivities",
     .arg = "L",
     .kind = OPT_SETTER,
     .set = parse_selectivities,
     .help = "for the sweep (default\n"
             "0.001,0.01,0.05,0.1,0.3,0.5,1)"},
    {.name = "filter-ef",
     .arg = "E",
     .kind = OPT_U32,
     .field = OPT_AT(filter_ef),
     .lo = 0,
     .hi = 65536,
     .help = "hnsw_ef of the sweep's searches (default 0:\n"
             "Quiver's default, max(k, 128))"},
    {.name = "help", .kind = OPT_HELP, .help = "this text (also -h)"},
};

#define N_OPTS (sizeof opt_table / sizeof opt_table[0])

/* Column of the help texts in the usage. */
#define HELP_COLUMN 21

/* One option's lines of the usage: "  --name ARG" then the help text, its
 * continuation lines aligned under the first. */
static void print_opt_help(FILE *f, const opt_spec *sp)
{
    char head[64];
    snprintf(head, sizeof head, "  --%s%s%s", sp->name, sp->arg ? " " : "",
             sp->arg ? sp->arg : "");
    int pad = HELP_COLUMN - (int)strlen(head);
    fprintf(f, "%s%*s", head, pad < 2 ? 2 : pad, "");
    for (const char *p = sp->help;;) {
        size_t len = strcspn(p, "\n");
        fprintf(f, "%.*s\n", (int)len, p);
        if (!p[len])
            break;
        p += len + 1;
        fprintf(f, "%*s", HELP_COLUMN, "");
    }
}

static void usage(FILE *f)
{
    fputs("usage: quiver bench [options]\n", f);
    for (size_t i = 0; i < N_OPTS; i++)
        print_opt_help(f, &opt_table[i]);
}

/* Stores one option's argument as its table entry says.  Returns 0, or -1
 * after printing why the argument was refused. */
static int apply_opt(const opt_spec *sp, const char *text, qvb_opts *o)
{
    char *field = (char *)o + sp->field;
    uint64_t v;
    switch (sp->kind) {
    case OPT_FLAG:
        *(int *)(void *)field = sp->value;
        return 0;
    case OPT_STRING:
        *(const char **)(void *)field = text;
        return 0;
    case OPT_SIZE:
        if (parse_u64(sp->name, text, sp->lo, sp->hi, &v) != 0)
            return -1;
        *(size_t *)(void *)field = (size_t)v;
        return 0;
    case OPT_U32:
        return parse_u32(sp->name, text, (uint32_t)sp->lo, (uint32_t)sp->hi,
                         (uint32_t *)(void *)field);
    case OPT_U64:
        return parse_u64(sp->name, text, sp->lo, sp->hi,
                         (uint64_t *)(void *)field);
    case OPT_SETTER:
        return sp->set(text, o);
    case OPT_HELP:
        break;
    }
    return -1;
}

static void set_defaults(qvb_opts *o)
{
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
}

/* getopt_long's view of opt_table: entry i returns 256 + i. */
static void fill_long_options(struct option *lo)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        lo[i].name = opt_table[i].name;
        lo[i].has_arg = opt_table[i].arg ? required_argument : no_argument;
        lo[i].flag = NULL;
        lo[i].val = 256 + (int)i;
    }
    memset(&lo[N_OPTS], 0, sizeof lo[N_OPTS]);
}

/* Returns 0, 1 for --help, or 2 for a usage error. */
static int parse_opts(int argc, char **argv, qvb_opts *o)
{
    struct option long_opts[N_OPTS + 1];
    fill_long_options(long_opts);
    set_defaults(o);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const opt_spec *sp =
            c >= 256 && c < 256 + (int)N_OPTS ? &opt_table[c - 256] : NULL;
        if (c == 'h' || (sp && sp->kind == OPT_HELP)) {
            usage(stdout);
            return 1;
        }
        if (!sp) {
            usage(stderr);
            return 2;
        }
        if (apply_opt(sp, optarg, o) != 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "quiver bench: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    return expand_quant(o) == 0 ? 0 : 2;
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

/* An engine name is DRIVER or DRIVER-VARIANT ("quiver-int8": driver
 * quiver-bench-quiver with --variant int8). */
static void engine_driver_name(const char *engine, char *out, size_t cap)
{
    snprintf(out, cap, "%s", engine);
    char *dash = strchr(out, '-');
    if (dash)
        *dash = 0;
}

static const char *engine_variant(const char *engine)
{
    const char *dash = strchr(engine, '-');
    return dash ? dash + 1 : "none";
}

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

/* A driver's command line (harness_driver.h).  argv points into the
 * buffers beside it, so the struct must outlive the posix_spawn call. */
typedef struct driver_argv {
    char base[PATH_MAX + 32], queries[PATH_MAX + 32], prefix[PATH_MAX + 64];
    char ef_list[QVB_MAX_EFS * 8];
    char m[16], efc[16], k[16], threads[16], reps[16];
    char *argv[28];
} driver_argv;

static void driver_argv_fill(driver_argv *a, const run_ctx *rc, char *driver,
                             const char *engine)
{
    const qvb_opts *o = rc->o;
    char num[32];
    a->ef_list[0] = 0;
    for (size_t i = 0; i < o->n_efs; i++) {
        snprintf(num, sizeof num, "%s%u", i ? "," : "", o->efs[i]);
        strcat(a->ef_list, num);
    }
    snprintf(a->base, sizeof a->base, "%s/base.fvecs", rc->work);
    snprintf(a->queries, sizeof a->queries, "%s/queries.fvecs", rc->work);
    snprintf(a->prefix, sizeof a->prefix, "%s/%s_ef", rc->work, engine);
    snprintf(a->m, sizeof a->m, "%u", o->m);
    snprintf(a->efc, sizeof a->efc, "%u", o->ef_construct);
    snprintf(a->k, sizeof a->k, "%u", o->k);
    snprintf(a->threads, sizeof a->threads, "%u", o->threads);
    snprintf(a->reps, sizeof a->reps, "%u", o->reps);
    char *args[] = {driver,
                    "--base",
                    a->base,
                    "--queries",
                    a->queries,
                    "--metric",
                    (char *)qvb_metric_name(rc->d->metric),
                    "--m",
                    a->m,
                    "--ef-construct",
                    a->efc,
                    "--ef",
                    a->ef_list,
                    "--k",
                    a->k,
                    "--threads",
                    a->threads,
                    "--reps",
                    a->reps,
                    "--ids-prefix",
                    a->prefix,
                    "--variant",
                    (char *)engine_variant(engine),
                    o->single_build ? NULL : "--no-single-thread-build",
                    NULL};
    _Static_assert(sizeof args <= sizeof a->argv, "driver_argv.argv too short");
    memcpy(a->argv, args, sizeof args);
}

/* Starts the driver with its stdout on a pipe.  On success *in reads its
 * records; *pid is set as soon as the child exists (even when a later step
 * fails), so the caller can stop it.  Returns 0 or -1 with err. */
static int spawn_driver(const run_ctx *rc, char *driver, const char *engine,
                        pid_t *pid, FILE **in, qvb_err *err)
{
    driver_argv a;
    int fds[2] = {-1, -1}, fa_init = 0, ret = -1;
    posix_spawn_file_actions_t fa;

    driver_argv_fill(&a, rc, driver, engine);
    if (pipe(fds) != 0 || posix_spawn_file_actions_init(&fa) != 0) {
        qvb_fail(err, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    fa_init = 1;
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    fflush(stdout);
    fflush(stderr);
    int sr = posix_spawn(pid, driver, &fa, NULL, a.argv, environ);
    close(fds[1]);
    fds[1] = -1;
    if (sr != 0) {
        *pid = -1;
        qvb_fail(err, "cannot run %s: %s", driver, strerror(sr));
        goto cleanup;
    }
    *in = fdopen(fds[0], "r");
    if (!*in) {
        qvb_fail(err, "fdopen: %s", strerror(errno));
        goto cleanup;
    }
    fds[0] = -1;
    ret = 0;
cleanup:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    return ret;
}

/* What one driver's records have told the harness so far. */
typedef struct driver_run {
    run_ctx *rc;
    const char *engine;
    qvb_engine_result *e;
    qvb_row **rows;
    size_t *n_rows, *cap_rows;
    int ended;          /* the `end` record came */
    int got_main_build; /* the first `build` record (T threads) came */
    double build_s;     /* of that build, copied into every row */
    double index_mb;
    double touched_mb; /* the `memory` record: what searches read */
    qvb_err err;       /* the last `error` record, or why reading stopped */
} driver_run;

/* A `build` record: the first is the T-thread build, whose time and memory
 * every row reports; a later one with threads=1 is the 1-thread timing. */
static void on_build_record(driver_run *r, const char *line)
{
    const qvb_opts *o = r->rc->o;
    qvb_engine_result *e = r->e;
    double t = field_num(line, "threads");
    double secs = field_num(line, "seconds");
    if (r->got_main_build) {
        if (t == 1) {
            e->build_s_1 = secs;
            fprintf(stderr, "  %s: built with 1 thread in %.2f s\n", r->engine,
                    secs);
        }
        return;
    }
    r->got_main_build = 1;
    r->build_s = secs;
    double r0 = field_num(line, "rss_before_kb");
    double r1 = field_num(line, "rss_after_kb");
    double h1 = field_num(line, "hwm_after_kb");
    if (r0 >= 0 && r1 >= 0) {
        r->index_mb = (r1 - r0) / 1024.0;
        e->build_peak_mb = (fmax(h1, r1) - r0) / 1024.0;
    }
    e->build_s = secs;
    e->index_mb = r->index_mb;
    if (t == 1)
        e->build_s_1 = secs;
    fprintf(stderr,
            "  %s: built with %u thread%s in %.2f s, index "
            "%.1f MiB\n",
            r->engine, o->threads, o->threads == 1 ? "" : "s", secs,
            r->index_mb);
}

/* A new row at the end of *r->rows, zeroed.  NULL when out of memory. */
static qvb_row *append_row(driver_run *r)
{
    if (*r->n_rows == *r->cap_rows) {
        size_t nc = *r->cap_rows ? 2 * *r->cap_rows : 16;
        qvb_row *nr = realloc(*r->rows, nc * sizeof *nr);
        if (!nr)
            return NULL;
        *r->rows = nr;
        *r->cap_rows = nc;
    }
    qvb_row *row = &(*r->rows)[*r->n_rows];
    memset(row, 0, sizeof *row);
    return row;
}

/* A `search` record: one row, scored against the ground truth.  Returns 0,
 * or -1 with r->err (the run stops). */
static int on_search_record(driver_run *r, const char *line)
{
    const run_ctx *rc = r->rc;
    const qvb_opts *o = rc->o;
    qvb_row *row = append_row(r);
    if (!row)
        return qvb_fail(&r->err, "out of memory");
    snprintf(row->engine, sizeof row->engine, "%s", r->engine);
    snprintf(row->dataset, sizeof row->dataset, "%s", rc->d->name);
    row->n = rc->d->n;
    row->dim = rc->d->dim;
    row->metric = rc->d->metric;
    row->m = o->m;
    row->ef_construct = o->ef_construct;
    row->k = o->k;
    row->build_s = r->build_s;
    row->build_threads = o->threads;
    row->index_mb = r->index_mb;
    row->touched_mb = r->touched_mb;
    if (search_record(r->rc, line, row, &r->err) != 0)
        return -1;
    (*r->n_rows)++;
    fprintf(stderr,
            "  %s: ef=%u recall=%.4f qps=%.1f p50=%.1fus "
            "p99=%.1fus\n",
            r->engine, row->ef, row->recall, row->qps, row->p50_us,
            row->p99_us);
    return 0;
}

/* One record, by its first word.  An `error` record is kept in r->err and
 * reading goes on to the driver's end.  Returns -1 to stop reading. */
static int on_record(driver_run *r, const char *line)
{
    if (!strncmp(line, "engine ", 7)) {
        qvb_driver_field(line, "version", r->e->version, sizeof r->e->version);
    } else if (!strncmp(line, "build ", 6)) {
        on_build_record(r, line);
    } else if (!strncmp(line, "search ", 7)) {
        return on_search_record(r, line);
    } else if (!strncmp(line, "memory ", 7)) {
        r->touched_mb = field_num(line, "touched_bytes") / (1024.0 * 1024.0);
        r->e->touched_mb = r->touched_mb;
    } else if (!strncmp(line, "error ", 6)) {
        char msg[400];
        qvb_driver_field(line, "msg", msg, sizeof msg);
        qvb_fail(&r->err, "%s", msg);
    } else if (!strcmp(line, "end")) {
        r->ended = 1;
    }
    return 0;
}

/* Reads the driver's records until it closes its output.  Returns 0, or -1
 * with r->err when a record could not be taken in. */
static int read_records(driver_run *r, FILE *in)
{
    char *line = NULL;
    size_t line_cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &line_cap, in) > 0) {
        line[strcspn(line, "\n")] = 0;
        rc = on_record(r, line);
    }
    free(line);
    return rc;
}

/* The driver's wait status (-1, an abnormal end, if it cannot be had). */
static int wait_driver(pid_t pid)
{
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* A driver that must not run on (the harness stopped reading it). */
static void stop_driver(pid_t pid)
{
    kill(pid, SIGTERM);
    wait_driver(pid);
}

/* 0 when the driver exited with status 0 after its `end` record. */
static int check_exit(int status, int ended, qvb_err *err)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && ended)
        return 0;
    if (WIFSIGNALED(status))
        return qvb_fail(err, "driver killed by signal %d", WTERMSIG(status));
    return qvb_fail(err, "driver exited with status %d before the end",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* *e for an engine whose rows start at first_row, before anything is
 * known: not ok, every measurement NaN. */
static void engine_result_init(qvb_engine_result *e, const char *engine,
                               uint32_t threads, size_t first_row)
{
    memset(e, 0, sizeof *e);
    snprintf(e->engine, sizeof e->engine, "%s", engine);
    snprintf(e->version, sizeof e->version, "unknown");
    e->threads = threads;
    e->build_s = e->build_s_1 = e->index_mb = e->build_peak_mb = NAN;
    e->touched_mb = NAN;
    e->qps_at_target = NAN;
    e->target_flag = QVB_INTERP_BELOW;
    e->first_row = first_row;
}

/* Runs one engine's driver; appends its rows to *rows.  Fills *e (ok = 0
 * with a reason when the engine could not be measured, and then none of
 * its rows are kept). */
static void run_engine(run_ctx *rc, const char *engine, qvb_row **rows,
                       size_t *n_rows, size_t *cap_rows, qvb_engine_result *e)
{
    const qvb_opts *o = rc->o;
    char driver[PATH_MAX + 64];
    driver_run r = {.rc = rc,
                    .engine = engine,
                    .e = e,
                    .rows = rows,
                    .n_rows = n_rows,
                    .cap_rows = cap_rows,
                    .build_s = NAN,
                    .index_mb = NAN,
                    .touched_mb = NAN};
    FILE *in = NULL;
    pid_t pid = -1;

    engine_result_init(e, engine, o->threads, *n_rows);
    char base_name[32];
    engine_driver_name(engine, base_name, sizeof base_name);
    if (find_driver(base_name, o->drivers, driver, sizeof driver) != 0) {
        qvb_fail(&r.err,
                 "no driver quiver-bench-%s (was its library installed when "
                 "Quiver was built? see scripts/install-deps bench)",
                 base_name);
        goto done;
    }
    if (spawn_driver(rc, driver, engine, &pid, &in, &r.err) != 0 ||
        read_records(&r, in) != 0)
        goto done;
    fclose(in);
    in = NULL;
    int status = wait_driver(pid);
    pid = -1;
    if (r.err.msg[0] || check_exit(status, r.ended, &r.err) != 0)
        goto done;
    if (*n_rows - e->first_row != o->n_efs) {
        qvb_fail(&r.err, "driver reported %zu of %zu ef values",
                 *n_rows - e->first_row, o->n_efs);
        goto done;
    }
    e->ok = 1;
done:
    if (in)
        fclose(in);
    if (pid > 0)
        stop_driver(pid);
    if (!e->ok) {
        snprintf(e->failure, sizeof e->failure, "%s", r.err.msg);
        *n_rows = e->first_row; /* a partial sweep is not reported */
        fprintf(stderr, "quiver bench: %s: %s\n", engine, r.err.msg);
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

/* Engines search with max(ef, k): say so when an ef is below k. */
static void note_small_efs(const qvb_opts *o)
{
    for (size_t i = 0; i < o->n_efs; i++)
        if (o->efs[i] < o->k)
            fprintf(stderr,
                    "quiver bench: note: ef=%u < k=%u; engines search with "
                    "max(ef, k)\n",
                    o->efs[i], o->k);
}

/* --query-file, --gt-file and --metric describe a data file; with a
 * synthetic set they are a usage error.  Returns 0 or -1. */
static int check_data_opts(const qvb_opts *o)
{
    uint32_t dim;
    qvb_metric metric;
    if (qvb_synthetic_parse(o->data, &dim, &metric) &&
        (o->query_file || o->gt_file || o->metric_set)) {
        fprintf(stderr, "quiver bench: --query-file, --gt-file and "
                        "--metric are for data files\n");
        return -1;
    }
    return 0;
}

/* Step 1: generates or loads the data set, cut to --n and --queries and
 * normalised for cosine, and checks that it can answer k neighbours.
 * Returns 0 or -1 with err. */
static int load_data(const qvb_opts *o, qvb_dataset *d, qvb_err *err)
{
    double t0 = now_seconds();
    uint32_t sdim;
    qvb_metric smetric;
    if (qvb_synthetic_parse(o->data, &sdim, &smetric)) {
        if (qvb_synthetic(sdim, smetric, o->n ? o->n : 100000,
                          o->nq ? o->nq : 1000, o->seed, d, err) != 0)
            return -1;
    } else {
        qvb_load_options lo = {o->query_file, o->gt_file, o->metric_set,
                               o->metric, o->nq ? o->nq : 1000};
        if (qvb_load(o->data, &lo, d, err) != 0)
            return -1;
        qvb_dataset_truncate(d, o->n, o->nq);
        if (d->metric == QVB_METRIC_COSINE)
            qvb_dataset_normalize(d);
    }
    if (o->k > d->n)
        return qvb_fail(err, "k = %u but the base has %zu vectors", o->k, d->n);
    if (d->nq == 0)
        return qvb_fail(err, "the data set has no queries");
    fprintf(stderr,
            "quiver bench: %s: %zu vectors of %u dimensions (%s), %zu "
            "queries, ready in %.1f s\n",
            d->name, d->n, d->dim, qvb_metric_name(d->metric), d->nq,
            now_seconds() - t0);
    return 0;
}

/* Step 2: points rc->gt at the data set's ground truth when it has k
 * columns, else computes the exact top-k into *owned (the caller frees
 * it).  Returns 0 or -1 with err. */
static int ground_truth(run_ctx *rc, int32_t **owned, qvb_err *err)
{
    const qvb_dataset *d = rc->d;
    uint32_t k = rc->o->k;
    rc->gt = d->gt;
    rc->gt_k = d->gt_k;
    if (d->gt && d->gt_k >= k) {
        fprintf(stderr, "quiver bench: ground truth from the data set\n");
        return 0;
    }
    double t0 = now_seconds();
    *owned = malloc(d->nq * k * sizeof **owned);
    if (!*owned)
        return qvb_fail(err, "out of memory for the ground truth");
    if (qvb_ground_truth(d->base, d->n, d->queries, d->nq, d->dim, d->metric, k,
                         *owned, err) != 0)
        return -1;
    rc->gt = *owned;
    rc->gt_k = k;
    fprintf(stderr, "quiver bench: exact top-%u in %.1f s\n", k,
            now_seconds() - t0);
    return 0;
}

/* Step 3: DIR/work/base.fvecs and queries.fvecs, the bytes every driver
 * reads.  *work_made is set once the directory exists (the caller removes
 * it).  The drivers have their copy then: the base is freed, so that the
 * harness's memory does not crowd them.  Returns 0 or -1 with err. */
static int write_inputs(run_ctx *rc, qvb_dataset *d, int *work_made,
                        qvb_err *err)
{
    char base_path[PATH_MAX + 32], query_path[PATH_MAX + 32];
    snprintf(rc->work, sizeof rc->work, "%s/work", rc->o->out);
    if (make_dir(rc->work) != 0)
        return qvb_fail(err, "cannot create %s: %s", rc->work, strerror(errno));
    *work_made = 1;
    snprintf(base_path, sizeof base_path, "%s/base.fvecs", rc->work);
    snprintf(query_path, sizeof query_path, "%s/queries.fvecs", rc->work);
    if (qvb_write_fvecs(base_path, d->base, d->n, d->dim, err) != 0 ||
        qvb_write_fvecs(query_path, d->queries, d->nq, d->dim, err) != 0)
        return -1;
    free(d->base);
    d->base = NULL;
    return 0;
}

/* QPS at the target recall of each engine that ran, from its sweep. */
static void score_at_target(const qvb_opts *o, const qvb_row *rows,
                            qvb_engine_result *eng)
{
    for (size_t i = 0; i < o->n_engines; i++) {
        qvb_engine_result *e = &eng[i];
        if (!e->ok)
            continue;
        double rec[QVB_MAX_EFS], qps[QVB_MAX_EFS];
        for (size_t j = 0; j < e->n_rows; j++) {
            rec[j] = rows[e->first_row + j].recall;
            qps[j] = rows[e->first_row + j].qps;
        }
        e->qps_at_target =
            qvb_qps_at_recall(rec, qps, e->n_rows, o->target, &e->target_flag);
    }
}

/* Step 4: the engines, one at a time.  *all_ok is 0 when one could not be
 * measured.  Returns 0, or -1 with err when none could be started. */
static int run_engines(run_ctx *rc, qvb_engine_result *eng, qvb_row **rows,
                       size_t *n_rows, size_t *cap_rows, int *all_ok,
                       qvb_err *err)
{
    const qvb_opts *o = rc->o;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        return qvb_fail(err, "setenv: %s", strerror(errno));
    *all_ok = 1;
    for (size_t i = 0; i < o->n_engines; i++) {
        fprintf(stderr, "quiver bench: running %s\n", o->engines[i]);
        run_engine(rc, o->engines[i], rows, n_rows, cap_rows, &eng[i]);
        *all_ok &= eng[i].ok;
    }
    score_at_target(o, *rows, eng);
    return 0;
}

/* Step 5: results.csv, results.json, recall_qps.svg and the table on
 * stdout.  Returns 0, or -1 when a file could not be written (the others
 * and the table still are, up to the first failure). */
static int write_results(const qvb_opts *o, const qvb_dataset *d,
                         const qvb_row *rows, size_t n_rows,
                         const qvb_engine_result *eng)
{
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    qvb_run_info info = {d->name,
                         d->n,
                         d->nq,
                         d->dim,
                         d->metric,
                         o->m,
                         o->ef_construct,
                         o->k,
                         o->threads,
                         o->reps,
                         o->seed,
                         o->target,
                         cpu,
                         cpus > 0 ? (unsigned)cpus : 0};
    /* In write_file's order of kinds; stops at the first failure. */
    static const char *const names[] = {"results.csv", "results.json",
                                        "recall_qps.svg"};
    size_t ne = o->n_engines;
    int wrote = 1;
    for (int kind = 0; wrote && kind < 3; kind++)
        wrote = write_file(o->out, names[kind], kind, &info, rows, n_rows, eng,
                           ne) == 0;
    qvb_print_report(stdout, &info, rows, n_rows, eng, ne);
    printf("wrote %s/results.csv, %s/results.json, %s/recall_qps.svg\n", o->out,
           o->out, o->out);
    return wrote ? 0 : -1;
}

/* Removes DIR/work: the inputs and every ids file a driver may have left. */
static void remove_work(const run_ctx *rc)
{
    const qvb_opts *o = rc->o;
    char path[PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/base.fvecs", rc->work);
    unlink(path);
    snprintf(path, sizeof path, "%s/queries.fvecs", rc->work);
    unlink(path);
    for (size_t i = 0; i < o->n_engines; i++) {
        for (size_t j = 0; j < o->n_efs; j++) {
            snprintf(path, sizeof path, "%s/%s_ef%u.ivecs", rc->work,
                     o->engines[i], o->efs[j]);
            unlink(path);
        }
    }
    rmdir(rc->work);
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
    run_ctx rc = {&o, &d, NULL, 0, ""};
    int status = 1, work_made = 0, all_ok = 0;

    int p = parse_opts(argc, argv, &o);
    if (p)
        return p == 1 ? 0 : 2;
    note_small_efs(&o);
    if (check_data_opts(&o) != 0)
        return 2;
    if (load_data(&o, &d, &err) != 0)
        goto fail;
    if (o.filter_sweep) {
        status = filter_sweep(&o, &d);
        goto cleanup;
    }
    if (ground_truth(&rc, &gt, &err) != 0 ||
        write_inputs(&rc, &d, &work_made, &err) != 0 ||
        run_engines(&rc, eng, &rows, &n_rows, &cap_rows, &all_ok, &err) != 0)
        goto fail;
    status = write_results(&o, &d, rows, n_rows, eng) == 0 && all_ok ? 0 : 1;
    goto cleanup;
fail:
    fprintf(stderr, "quiver bench: %s\n", err.msg);
    status = 1;
cleanup:
    if (work_made && !o.keep_work)
        remove_work(&rc);
    free(rows);
    free(gt);
    qvb_dataset_free(&d);
    return status;
}
