/*
 * harness_filter.c -- `quiver bench --filter-sweep`: Quiver's filtered
 * search across selectivities, with and without payload indexes.
 *
 * Every base point gets a payload {"r": r, "g": "g<r>"} where r is a
 * seeded hash of the point's number, uniform over 0..999 and unrelated to
 * where the point lies (so a filter removes points evenly from every
 * cluster, the usual case).  A selectivity s becomes T = round(1000 s)
 * and two filters that select the same points, r < T:
 *
 *   integer  {"must":[{"key":"r","range":{"lt":T}}]}
 *   keyword  {"must":[{"key":"g","match":{"any":["g000",...,"g<T-1>"]}}]}
 *
 * For each selectivity the exact top-k among the matching points is
 * computed with OpenBLAS over just those points (qvb_ground_truth, no
 * Quiver code), and each filter runs R passes over the queries, one query
 * at a time on one thread, through qv_search with the collection's own
 * planner: first without a payload index, then with one (integer index on
 * r, keyword index on g; their build time and heap size are reported).
 * Recall@k, the median pass's QPS and p50/p99 latency go to
 * DIR/filter_sweep.csv and a table on stdout.
 *
 * Quiver runs in this process (there is no peer to compare with, and no
 * build memory to isolate): one collection, built once with the run's M,
 * ef_construct and threads and otherwise Quiver's defaults -- notably
 * full_scan_threshold_kb = 10,000, under which the matching points are
 * scanned rather than walked, as in Qdrant -- so the numbers are what an
 * application gets.
 */
#include "harness.h"
#include "quiver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char qvb_filter_csv_header[] =
    "key,index,selectivity,matches,recall,qps,p50_us,p99_us";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint32_t qvb_filter_bucket(uint64_t seed, size_t i)
{
    return (uint32_t)(mix(seed ^ mix(i)) % 1000u);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of v[0..n) (sorts v). */
static double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0];
}

/* Heap MiB of the collection's one payload index, as it reports it. */
static double index_mib(qv_collection *c)
{
    qv_payload_index_info *info;
    size_t n;
    if (qv_payload_index_list(c, &info, &n) != QV_OK)
        return NAN;
    double mib = n ? (double)info[0].bytes / (1024.0 * 1024.0) : NAN;
    qv_free(info);
    return mib;
}

/* The collection with every point and its payload. */
static int build(const qvb_dataset *d, const qvb_filter_opts *o,
                 qv_collection **out, qvb_err *err)
{
    qv_collection_config cc;
    qv_collection_config_init(&cc);
    cc.dim = d->dim;
    cc.metric = d->metric == QVB_METRIC_L2       ? QV_METRIC_EUCLID
                : d->metric == QVB_METRIC_COSINE ? QV_METRIC_COSINE
                                                 : QV_METRIC_DOT;
    cc.hnsw_m = o->m;
    cc.hnsw_ef_construct = o->ef_construct;
    cc.max_indexing_threads = o->threads;
    qv_point_id *ids = malloc(d->n * sizeof *ids);
    char *text = malloc(d->n * 32);
    const char **texts = malloc(d->n * sizeof *texts);
    size_t *lens = malloc(d->n * sizeof *lens);
    int rc = -1;
    qv_status st = QV_ENOMEM;
    if (!ids || !text || !texts || !lens)
        goto cleanup;
    for (size_t i = 0; i < d->n; i++) {
        uint32_t r = qvb_filter_bucket(o->seed, i);
        ids[i] = qv_id_from_num(i);
        texts[i] = text + i * 32;
        lens[i] = (size_t)snprintf(text + i * 32, 32,
                                   "{\"r\":%u,\"g\":\"g%03u\"}", r, r);
    }
    if ((st = qv_collection_create(&cc, out)) != QV_OK)
        goto cleanup;
    st = qv_upsert_with_payloads(*out, ids, d->base, d->n, d->dim, texts, lens);
    if (st == QV_OK)
        rc = 0;
cleanup:
    if (rc != 0)
        qvb_fail(err, "building the collection: %s", qv_strerror(st));
    free(ids);
    free(text);
    free(texts);
    free(lens);
    return rc;
}

/* Exact top-k of every query among the points with r < t; ids are base
 * numbers, -1 where fewer than k match.  Returns the number of matches,
 * or -1. */
static long filtered_truth(const qvb_dataset *d, const qvb_filter_opts *o,
                           uint32_t t, int32_t *gt, qvb_err *err)
{
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        m += qvb_filter_bucket(o->seed, i) < t;
    for (size_t i = 0; i < d->nq * o->k; i++)
        gt[i] = -1;
    if (m == 0)
        return 0;
    float *sub = malloc(m * d->dim * sizeof(float));
    int32_t *map = malloc(m * sizeof *map);
    uint32_t k = (uint32_t)(m < o->k ? m : o->k);
    int32_t *sgt = malloc(d->nq * k * sizeof *sgt);
    long rc = -1;
    if (!sub || !map || !sgt) {
        qvb_fail(err, "out of memory for the filtered ground truth");
        goto cleanup;
    }
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (qvb_filter_bucket(o->seed, i) >= t)
            continue;
        memcpy(sub + j * d->dim, d->base + i * d->dim, d->dim * sizeof(float));
        map[j++] = (int32_t)i;
    }
    if (qvb_ground_truth(sub, m, d->queries, d->nq, d->dim, d->metric, k, sgt,
                         err) != 0)
        goto cleanup;
    for (size_t q = 0; q < d->nq; q++)
        for (uint32_t i = 0; i < k; i++)
            gt[q * o->k + i] = map[sgt[q * k + i]];
    rc = (long)m;
cleanup:
    free(sub);
    free(map);
    free(sgt);
    return rc;
}

/* The filter text of key kind (0 integer, 1 keyword) for r < t. */
static char *filter_text(int kind, uint32_t t)
{
    char *s = malloc(64 + (size_t)t * 8);
    if (!s)
        return NULL;
    if (kind == 0) {
        sprintf(s, "{\"must\":[{\"key\":\"r\",\"range\":{\"lt\":%u}}]}", t);
        return s;
    }
    size_t n = (size_t)sprintf(s, "{\"must\":[{\"key\":\"g\",\"match\":{"
                                  "\"any\":[");
    for (uint32_t i = 0; i < t; i++)
        n += (size_t)sprintf(s + n, "%s\"g%03u\"", i ? "," : "", i);
    sprintf(s + n, "]}}]}");
    return s;
}

/* Runs the queries o->reps times with filter f; fills row. */
static int measure(qv_collection *c, const qvb_dataset *d,
                   const qvb_filter_opts *o, const qv_filter *f,
                   const int32_t *gt, qvb_filter_row *row, qvb_err *err)
{
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = o->k;
    p.hnsw_ef = o->ef;
    p.filter = f;
    qv_hit *hits = malloc(o->k * sizeof *hits);
    int32_t *found = malloc(d->nq * o->k * sizeof *found);
    double *lat = malloc(d->nq * o->reps * sizeof *lat);
    double *pass = malloc(o->reps * sizeof *pass);
    int rc = -1;
    if (!hits || !found || !lat || !pass) {
        qvb_fail(err, "out of memory");
        goto cleanup;
    }
    for (uint32_t r = 0; r < o->reps; r++) {
        double t0 = now_s();
        for (size_t q = 0; q < d->nq; q++) {
            size_t n;
            double s = now_s();
            qv_status st =
                qv_search(c, d->queries + q * d->dim, d->dim, &p, hits, &n);
            lat[r * d->nq + q] = now_s() - s;
            if (st != QV_OK) {
                qvb_fail(err, "qv_search: %s", qv_strerror(st));
                goto cleanup;
            }
            if (r == 0) {
                for (size_t i = 0; i < o->k; i++)
                    found[q * o->k + i] =
                        i < n ? (int32_t)hits[i].id.u.num : -1;
            }
        }
        pass[r] = (double)d->nq / (now_s() - t0);
    }
    /* Recall over the true neighbours that exist (fewer than k when the
     * filter matches fewer points). */
    double sum = 0;
    size_t nq_scored = 0;
    for (size_t q = 0; q < d->nq; q++) {
        size_t want = 0, got = 0;
        for (size_t i = 0; i < o->k; i++) {
            int32_t g = gt[q * o->k + i];
            if (g < 0)
                continue;
            want++;
            for (size_t j = 0; j < o->k; j++)
                if (found[q * o->k + j] == g) {
                    got++;
                    break;
                }
        }
        if (want) {
            sum += (double)got / (double)want;
            nq_scored++;
        }
    }
    row->recall = nq_scored ? sum / (double)nq_scored : 1.0;
    row->qps = percentile(pass, o->reps, 50);
    row->p50_us = percentile(lat, d->nq * o->reps, 50) * 1e6;
    row->p99_us = percentile(lat, d->nq * o->reps, 99) * 1e6;
    rc = 0;
cleanup:
    free(hits);
    free(found);
    free(lat);
    free(pass);
    return rc;
}

int qvb_filter_sweep(const qvb_dataset *d, const qvb_filter_opts *o,
                     qvb_filter_row **rows_out, size_t *n_rows,
                     qvb_filter_index *built, qvb_err *err)
{
    static const char *const keys[2] = {"r", "g"};
    static const char *const names[2] = {"integer", "keyword"};
    static const qv_index_kind kinds[2] = {QV_INDEX_INTEGER, QV_INDEX_KEYWORD};
    qv_collection *c = NULL;
    int32_t *gt = NULL;
    qv_filter **filters = NULL;
    long *matches = NULL;
    int rc = -1;
    size_t nr = 0, n_sel = o->n_sel;
    qvb_filter_row *rows = calloc(4 * n_sel, sizeof *rows);
    if (!rows || !(gt = malloc(n_sel * d->nq * o->k * sizeof *gt)) ||
        !(filters = calloc(2 * n_sel, sizeof *filters)) ||
        !(matches = calloc(n_sel, sizeof *matches))) {
        qvb_fail(err, "out of memory");
        goto cleanup;
    }
    double t0 = now_s();
    if (build(d, o, &c, err) != 0)
        goto cleanup;
    fprintf(stderr, "quiver bench: collection of %zu points built in %.1f s\n",
            d->n, now_s() - t0);
    t0 = now_s();
    for (size_t s = 0; s < n_sel; s++) {
        uint32_t t = (uint32_t)lround(o->sel[s] * 1000.0);
        matches[s] =
            filtered_truth(d, o, t ? t : 1, gt + s * d->nq * o->k, err);
        if (matches[s] < 0)
            goto cleanup;
        for (int k = 0; k < 2; k++) {
            char *text = filter_text(k, t ? t : 1);
            qv_status st = text ? qv_filter_parse(text, strlen(text),
                                                  &filters[2 * s + k], NULL, 0)
                                : QV_ENOMEM;
            free(text);
            if (st != QV_OK) {
                qvb_fail(err, "filter: %s", qv_strerror(st));
                goto cleanup;
            }
        }
    }
    fprintf(stderr, "quiver bench: filtered ground truth in %.1f s\n",
            now_s() - t0);
    for (int k = 0; k < 2; k++) {
        for (int indexed = 0; indexed < 2; indexed++) {
            if (indexed) {
                double b0 = now_s();
                qv_status st = qv_payload_index_create(c, keys[k], kinds[k]);
                if (st != QV_OK) {
                    qvb_fail(err, "index on %s: %s", keys[k], qv_strerror(st));
                    goto cleanup;
                }
                built[k].build_ms = (now_s() - b0) * 1e3;
                built[k].mib = index_mib(c);
                snprintf(built[k].kind, sizeof built[k].kind, "%s", names[k]);
            }
            for (size_t s = 0; s < n_sel; s++) {
                qvb_filter_row *row = &rows[nr];
                snprintf(row->key, sizeof row->key, "%s", names[k]);
                row->indexed = indexed;
                row->selectivity = o->sel[s];
                row->matches = (size_t)matches[s];
                fprintf(stderr, "quiver bench: %s filter, %s, selectivity %g\n",
                        names[k], indexed ? "indexed" : "no index", o->sel[s]);
                if (measure(c, d, o, filters[2 * s + k], gt + s * d->nq * o->k,
                            row, err) != 0)
                    goto cleanup;
                nr++;
            }
            if (indexed)
                qv_payload_index_drop(c, keys[k]);
        }
    }
    *rows_out = rows;
    *n_rows = nr;
    rows = NULL;
    rc = 0;
cleanup:
    for (size_t i = 0; filters && i < 2 * n_sel; i++)
        qv_filter_free(filters[i]);
    free(filters);
    free(matches);
    free(gt);
    free(rows);
    qv_collection_release(c);
    return rc;
}

int qvb_write_filter_csv(FILE *f, const qvb_filter_row *rows, size_t n)
{
    fprintf(f, "%s\n", qvb_filter_csv_header);
    for (size_t i = 0; i < n; i++) {
        const qvb_filter_row *r = &rows[i];
        fprintf(f, "%s,%s,%g,%zu,%.4f,%.1f,%.1f,%.1f\n", r->key,
                r->indexed ? "yes" : "no", r->selectivity, r->matches,
                r->recall, r->qps, r->p50_us, r->p99_us);
    }
    return ferror(f) ? -1 : 0;
}

void qvb_print_filter_report(FILE *f, const qvb_dataset *d,
                             const qvb_filter_opts *o,
                             const qvb_filter_row *rows, size_t n,
                             const qvb_filter_index *built)
{
    fprintf(f,
            "filtered search: %s, %zu x %u, %zu queries, k=%u, M=%u, "
            "ef_construct=%u, hnsw_ef=%s%u, %u reps\n\n",
            d->name, d->n, d->dim, d->nq, o->k, o->m, o->ef_construct,
            o->ef ? "" : "default ", o->ef ? o->ef : (o->k > 128 ? o->k : 128),
            o->reps);
    fprintf(f,
            "| filter | index | selectivity | matches | recall@%u | QPS | "
            "p50 us | p99 us |\n",
            o->k);
    fprintf(f, "|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const qvb_filter_row *r = &rows[i];
        fprintf(f, "| %s | %s | %g%% | %zu | %.4f | %.0f | %.0f | %.0f |\n",
                r->key, r->indexed ? "yes" : "no", r->selectivity * 100.0,
                r->matches, r->recall, r->qps, r->p50_us, r->p99_us);
    }
    for (int k = 0; k < 2; k++)
        fprintf(f, "\n%s index: built in %.0f ms, %.2f MiB", built[k].kind,
                built[k].build_ms, built[k].mib);
    fprintf(f, "\n");
}
