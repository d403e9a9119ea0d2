/*
 * harness_report.c -- what `quiver bench` hands back: results.csv,
 * results.json, the table on stdout and QPS at the target recall.
 *
 * The CSV is a contract (bench/README.md): its header never changes, one
 * row per engine and ef, numbers in the C locale, an empty field for a
 * value that was not measured.  The JSON carries the same rows plus what
 * does not fit a row: each engine's one-thread build time, peak memory,
 * version, QPS at the target recall and the quiver/peer ratios.
 *
 * QPS at a recall is read off the Pareto frontier of the sweep (points no
 * other point beats on both recall and QPS), interpolating log(QPS)
 * linearly in recall between the two frontier points around the target:
 * the sweep doubles ef from one point to the next, and QPS falls roughly
 * geometrically with it, so a straight line in log space is the better
 * guess between two points.
 */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char qvb_csv_header[] =
    "engine,dataset,n,dim,metric,m,ef_construct,ef,k,recall,qps,p50_us,"
    "p99_us,build_s,build_threads,index_mb,touched_mb";

/* A number, or nothing when it was not measured. */
static void put_num(FILE *f, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
}

int qvb_write_csv(FILE *f, const qvb_row *rows, size_t n_rows)
{
    fprintf(f, "%s\n", qvb_csv_header);
    for (size_t i = 0; i < n_rows; i++) {
        const qvb_row *r = &rows[i];
        fprintf(f, "%s,%s,%zu,%u,%s,%u,%u,%u,%u,", r->engine, r->dataset, r->n,
                r->dim, qvb_metric_name(r->metric), r->m, r->ef_construct,
                r->ef, r->k);
        put_num(f, "%.4f", r->recall);
        fputc(',', f);
        put_num(f, "%.1f", r->qps);
        fputc(',', f);
        put_num(f, "%.1f", r->p50_us);
        fputc(',', f);
        put_num(f, "%.1f", r->p99_us);
        fputc(',', f);
        put_num(f, "%.3f", r->build_s);
        fprintf(f, ",%u,", r->build_threads);
        put_num(f, "%.1f", r->index_mb);
        fputc(',', f);
        put_num(f, "%.3f", r->touched_mb);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* ---- interpolation ---------------------------------------------------------
 */

typedef struct rq {
    double recall, qps;
} rq;

static int cmp_rq(const void *a, const void *b)
{
    const rq *x = a, *y = b;
    if (x->recall != y->recall)
        return x->recall < y->recall ? -1 : 1;
    return (x->qps < y->qps) - (x->qps > y->qps); /* faster first */
}

double qvb_qps_at_recall(const double *recall, const double *qps, size_t n,
                         double target, int *flag)
{
    int dummy;
    if (!flag)
        flag = &dummy;
    *flag = QVB_INTERP_BELOW;
    rq *all = malloc((n ? 2 * n : 1) * sizeof *all);
    if (!all)
        return NAN;
    rq *p = all, *fr = all + n; /* the points, then the frontier */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(recall[i]) && isfinite(qps[i]) && qps[i] > 0)
            p[m++] = (rq){recall[i], qps[i]};
    qsort(p, m, sizeof *p, cmp_rq);
    /* Frontier, walking down from the highest recall: keep a point only if
     * it is faster than every point of higher (or equal) recall. */
    size_t f = 0;
    double best = -1;
    for (size_t i = m; i-- > 0;) {
        if (p[i].qps > best) {
            best = p[i].qps;
            fr[f++] = p[i];
        }
    }
    /* fr[0..f) runs from the highest recall down, QPS rising. */
    p = fr;
    double out = NAN;
    if (f == 0 || p[0].recall < target)
        goto done;
    size_t hi = 0; /* the lowest-recall frontier point still >= target */
    while (hi + 1 < f && p[hi + 1].recall >= target)
        hi++;
    if (p[hi].recall == target) {
        *flag = QVB_INTERP_EXACT;
        out = p[hi].qps;
    } else if (hi + 1 == f) {
        *flag = QVB_INTERP_ABOVE;
        out = p[hi].qps;
    } else {
        const rq *a = &p[hi + 1], *b = &p[hi]; /* a below, b above */
        double t = (target - a->recall) / (b->recall - a->recall);
        out = exp(log(a->qps) + t * (log(b->qps) - log(a->qps)));
        *flag = QVB_INTERP_OK;
    }
done:
    free(all);
    return out;
}

/* ---- JSON ------------------------------------------------------------------
 */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
}

static const qvb_engine_result *find_engine(const qvb_engine_result *eng,
                                            size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(eng[i].engine, name) && eng[i].ok)
            return &eng[i];
    return NULL;
}

static double ratio(double a, double b)
{
    return isfinite(a) && isfinite(b) && b > 0 ? a / b : NAN;
}

static const char *interp_name(int flag)
{
    switch (flag) {
    case QVB_INTERP_OK:
        return "interpolated";
    case QVB_INTERP_EXACT:
        return "measured";
    case QVB_INTERP_ABOVE:
        return "lower_bound";
    default:
        return "unreached";
    }
}

int qvb_write_json(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                   size_t n_rows, const qvb_engine_result *eng, size_t n_eng)
{
    fputs("{\n  \"run\": {\"dataset\": ", f);
    json_str(f, info->dataset);
    fprintf(f,
            ", \"n\": %zu, \"queries\": %zu, \"dim\": %u, \"metric\": "
            "\"%s\", \"m\": %u, \"ef_construct\": %u, \"k\": %u, "
            "\"threads\": %u, \"reps\": %u, \"seed\": %llu, "
            "\"target_recall\": %.4f, \"cpus\": %u, \"cpu\": ",
            info->n, info->nq, info->dim, qvb_metric_name(info->metric),
            info->m, info->ef_construct, info->k, info->threads, info->reps,
            (unsigned long long)info->seed, info->target_recall, info->cpus);
    json_str(f, info->cpu ? info->cpu : "");
    fputs("},\n", f);
    fputs("  \"results\": [", f);
    for (size_t i = 0; i < n_rows; i++) {
        const qvb_row *r = &rows[i];
        fputs(i ? ",\n    {" : "\n    {", f);
        fputs("\"engine\": ", f);
        json_str(f, r->engine);
        fputs(", \"dataset\": ", f);
        json_str(f, r->dataset);
        fprintf(f,
                ", \"n\": %zu, \"dim\": %u, \"metric\": \"%s\", \"m\": %u, "
                "\"ef_construct\": %u, \"ef\": %u, \"k\": %u, \"recall\": ",
                r->n, r->dim, qvb_metric_name(r->metric), r->m, r->ef_construct,
                r->ef, r->k);
        json_num(f, "%.4f", r->recall);
        fputs(", \"qps\": ", f);
        json_num(f, "%.1f", r->qps);
        fputs(", \"p50_us\": ", f);
        json_num(f, "%.1f", r->p50_us);
        fputs(", \"p99_us\": ", f);
        json_num(f, "%.1f", r->p99_us);
        fputs(", \"build_s\": ", f);
        json_num(f, "%.3f", r->build_s);
        fprintf(f, ", \"build_threads\": %u, \"index_mb\": ", r->build_threads);
        json_num(f, "%.1f", r->index_mb);
        fputc('}', f);
    }
    fputs("\n  ],\n  \"engines\": [", f);
    for (size_t i = 0; i < n_eng; i++) {
        const qvb_engine_result *e = &eng[i];
        fputs(i ? ",\n    {" : "\n    {", f);
        fputs("\"engine\": ", f);
        json_str(f, e->engine);
        fputs(", \"version\": ", f);
        json_str(f, e->version);
        fprintf(f, ", \"ok\": %s", e->ok ? "true" : "false");
        if (!e->ok) {
            fputs(", \"failure\": ", f);
            json_str(f, e->failure);
        }
        fprintf(f, ", \"build_threads\": %u, \"build_s\": ", e->threads);
        json_num(f, "%.3f", e->build_s);
        fputs(", \"build_s_1_thread\": ", f);
        json_num(f, "%.3f", e->build_s_1);
        fputs(", \"index_mb\": ", f);
        json_num(f, "%.1f", e->index_mb);
        fputs(", \"build_peak_mb\": ", f);
        json_num(f, "%.1f", e->build_peak_mb);
        fputs(", \"qps_at_target_recall\": ", f);
        json_num(f, "%.1f", e->qps_at_target);
        fprintf(f, ", \"qps_at_target_recall_is\": \"%s\"}",
                interp_name(e->target_flag));
    }
    fputs("\n  ],\n  \"ratios\": {", f);
    const qvb_engine_result *q = find_engine(eng, n_eng, "quiver");
    int first = 1;
    for (size_t i = 0; q && i < n_eng; i++) {
        const qvb_engine_result *p = &eng[i];
        if (p == q || !p->ok)
            continue;
        fprintf(f, "%s\n    \"quiver/%s\": {\"qps_at_target_recall\": ",
                first ? "" : ",", p->engine);
        first = 0;
        json_num(f, "%.3f", ratio(q->qps_at_target, p->qps_at_target));
        fputs(", \"build_s\": ", f);
        json_num(f, "%.3f", ratio(q->build_s, p->build_s));
        fputs(", \"build_s_1_thread\": ", f);
        json_num(f, "%.3f", ratio(q->build_s_1, p->build_s_1));
        fputs(", \"index_mb\": ", f);
        json_num(f, "%.3f", ratio(q->index_mb, p->index_mb));
        fputc('}', f);
    }
    fputs(first ? "}\n}\n" : "\n  }\n}\n", f);
    return ferror(f) ? -1 : 0;
}

/* ---- the table
 * --------------------------------------------------------------- */

static void put_cell(FILE *f, const char *fmt, int width, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, width, v);
    else
        fprintf(f, "%*s", width, "-");
}

static void put_ratio(FILE *f, const char *what, double r, const char *hint)
{
    if (isfinite(r))
        fprintf(f, "  %-24s %6.2fx  (%s)\n", what, r, hint);
    else
        fprintf(f, "  %-24s %7s  (%s)\n", what, "n/a", hint);
}

void qvb_print_report(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                      size_t n_rows, const qvb_engine_result *eng, size_t n_eng)
{
    fprintf(f,
            "\n%s: n=%zu dim=%u metric=%s queries=%zu M=%u ef_construct=%u "
            "k=%u\n",
            info->dataset, info->n, info->dim, qvb_metric_name(info->metric),
            info->nq, info->m, info->ef_construct, info->k);
    fprintf(f,
            "search: one query at a time on one thread, median QPS of %u "
            "passes\n\n",
            info->reps);
    fprintf(f, "%-10s %6s %9s %11s %9s %9s\n", "engine", "ef", "recall", "QPS",
            "p50 us", "p99 us");
    for (size_t i = 0; i < n_rows; i++) {
        const qvb_row *r = &rows[i];
        fprintf(f, "%-10s %6u ", r->engine, r->ef);
        put_cell(f, "%*.4f", 9, r->recall);
        put_cell(f, " %*.1f", 11, r->qps);
        put_cell(f, " %*.1f", 9, r->p50_us);
        put_cell(f, " %*.1f", 9, r->p99_us);
        fputc('\n', f);
    }
    fprintf(f, "\n%-10s %12s %12s %10s %10s %14s\n", "engine", "build 1 thr",
            "build", "index MiB", "peak MiB", "QPS@recall");
    for (size_t i = 0; i < n_eng; i++) {
        const qvb_engine_result *e = &eng[i];
        if (!e->ok) {
            fprintf(f, "%-10s did not run: %s\n", e->engine, e->failure);
            continue;
        }
        char build_hdr[32];
        snprintf(build_hdr, sizeof build_hdr, "%.2f s/%uT", e->build_s,
                 e->threads);
        fprintf(f, "%-10s ", e->engine);
        if (isfinite(e->build_s_1))
            fprintf(f, "%10.2f s", e->build_s_1);
        else
            fprintf(f, "%12s", "-");
        fprintf(f, " %12s", build_hdr);
        put_cell(f, " %*.1f", 10, e->index_mb);
        put_cell(f, " %*.1f", 10, e->build_peak_mb);
        put_cell(f, " %*.1f", 14, e->qps_at_target);
        if (e->target_flag == QVB_INTERP_ABOVE)
            fputs(" (lower bound: every ef was above the target)", f);
        else if (e->target_flag == QVB_INTERP_BELOW)
            fputs(" (no ef reached the target)", f);
        fputc('\n', f);
    }
    fprintf(f, "(QPS@recall: QPS interpolated at recall@%u = %.2f)\n", info->k,
            info->target_recall);
    const qvb_engine_result *q = find_engine(eng, n_eng, "quiver");
    for (size_t i = 0; q && i < n_eng; i++) {
        const qvb_engine_result *p = &eng[i];
        if (p == q || !p->ok)
            continue;
        fprintf(f, "\nquiver / %s:\n", p->engine);
        char what[64];
        snprintf(what, sizeof what, "QPS at recall %.2f", info->target_recall);
        put_ratio(f, what, ratio(q->qps_at_target, p->qps_at_target),
                  "higher is better for quiver");
        snprintf(what, sizeof what, "build time, %u threads", q->threads);
        put_ratio(f, what, ratio(q->build_s, p->build_s),
                  "lower is better for quiver");
        put_ratio(f, "build time, 1 thread", ratio(q->build_s_1, p->build_s_1),
                  "lower is better for quiver");
        put_ratio(f, "index memory", ratio(q->index_mb, p->index_mb),
                  "lower is better for quiver");
    }
    fputc('\n', f);
}
