/*
 * points_matrix.c -- the distance matrix: POST .../points/search/matrix/pairs
 * and .../offsets (Qdrant's SearchMatrixRequest, answered as
 * SearchMatrixPairsResponse or SearchMatrixOffsetsResponse).
 *
 * Qdrant's recipe (lib/collection/src/collection/distance_matrix.rs),
 * followed step by step:
 *   1. sample `sample` (default 10) points uniformly among those that
 *      match the filter AND have the vector `using` (default: the unnamed
 *      one); fewer than two points give an empty matrix;
 *   2. order the sample by point id;
 *   3. for each sampled point, its `limit` + 1 (default 3 + 1) nearest
 *      among the sampled points, by the vector's distance;
 *   4. drop the point itself from its row, and if it was not there, the
 *      last (worst) of the limit + 1.
 * Rows are found by one exact batch search over the vector's library
 * collection restricted to the sample (a has_id filter), so scores are the
 * library's -- the same numbers an ordinary search reports.  The sample
 * comes from getrandom, per request: no state survives it.
 */
#include "points.h"
#include "strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void matrix_pairs(const qvs_req *req, qvs_resp *resp);
static void matrix_offsets(const qvs_req *req, qvs_resp *resp);

#define MTX "/collections/{name}/points/search/matrix"
const qvs_route qvs_matrix_routes[] = {
    {"POST", MTX "/pairs", matrix_pairs, 0, "search_matrix_pairs"},
    {"POST", MTX "/offsets", matrix_offsets, 0, "search_matrix_offsets"},
};
const size_t qvs_matrix_routes_n =
    sizeof(qvs_matrix_routes) / sizeof(qvs_matrix_routes[0]);

/* The sample and each sampled point's nearest (rows[i * stride ...],
 * n_row[i] of them). */
typedef struct matrix {
    qv_point_id *ids;
    size_t n;
    qv_hit *rows;
    size_t *n_row;
    size_t stride;
} matrix;

static void matrix_free(matrix *m)
{
    free(m->ids);
    free(m->rows);
    free(m->n_row);
    memset(m, 0, sizeof(*m));
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_id(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

/* Keeps k of the n ids, chosen uniformly (partial Fisher-Yates), in id
 * order. */
static size_t sample_ids(qv_point_id *ids, size_t n, size_t k)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)(uintptr_t)ids ^ n;
    if (k > n)
        k = n;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(splitmix(&seed) % (n - i));
        qv_point_id t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    qsort(ids, k, sizeof(*ids), cmp_id);
    return k;
}

/* {"must":[{"has_id":[...]}]} over the sample. */
static qv_filter *sample_filter(qvs_call *p, const matrix *m)
{
    cJSON *f = cJSON_CreateObject(), *must = cJSON_AddArrayToObject(f, "must");
    cJSON *cond = cJSON_CreateObject();
    cJSON *has = cond ? cJSON_AddArrayToObject(cond, "has_id") : NULL;
    bool ok = f && must && cond && has && cJSON_AddItemToArray(must, cond);
    if (!ok)
        cJSON_Delete(cond);
    for (size_t i = 0; ok && i < m->n; i++) {
        cJSON *id = qj_id_json(&m->ids[i]);
        ok = id && cJSON_AddItemToArray(has, id);
        if (!ok)
            cJSON_Delete(id);
    }
    char *text = ok ? cJSON_PrintUnformatted(f) : NULL;
    cJSON_Delete(f);
    qv_filter *out = NULL;
    char err[256];
    if (!text ||
        qv_filter_parse(text, strlen(text), &out, err, sizeof(err)) != QV_OK)
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
    free(text);
    return out;
}

/* Step 3 and 4: the rows of the sampled points. */
static bool nearest_rows(qvs_call *p, const qvs_vector *v, size_t limit,
                         matrix *m)
{
    size_t dim = v->size, k = limit + 1 < m->n ? limit + 1 : m->n;
    float *q = malloc(m->n * dim * sizeof(float));
    m->stride = k;
    m->rows = malloc(m->n * k * sizeof(qv_hit));
    m->n_row = calloc(m->n, sizeof(size_t));
    qv_filter *f = NULL;
    bool ok = q && m->rows && m->n_row;
    if (!ok)
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
    for (size_t i = 0; ok && i < m->n; i++) {
        qv_status st = qv_get(v->coll, &m->ids[i], q + i * dim, v->size);
        ok = st == QV_OK || qj_fail_lib(p->resp, v->coll, st, "matrix");
    }
    if (ok)
        ok = (f = sample_filter(p, m)) != NULL;
    if (ok) {
        qv_search_params sp;
        qv_search_params_init(&sp);
        sp.k = (uint32_t)k;
        sp.exact = true;
        sp.filter = f;
        qv_status st =
            qv_search_batch(v->coll, q, m->n, v->size, &sp, m->rows, m->n_row);
        ok = st == QV_OK || qj_fail_lib(p->resp, v->coll, st, "matrix");
    }
    for (size_t i = 0; ok && i < m->n; i++) {
        qv_hit *row = m->rows + i * k;
        size_t w = 0;
        for (size_t j = 0; j < m->n_row[i]; j++)
            if (qv_id_compare(&row[j].id, &m->ids[i]) != 0)
                row[w++] = row[j];
        if (w == limit + 1)
            w--;
        m->n_row[i] = w;
    }
    qv_filter_free(f);
    free(q);
    return ok;
}

/* Parses the request and fills m (empty for fewer than two points). */
static bool run_matrix(qvs_call *p, matrix *m)
{
    uint64_t sample = 0, limit = 0;
    const char *using = NULL;
    qv_filter *f = NULL;
    const cJSON *body = p->body;
    if (!qj_uint(body, "sample", 10, 2, &sample, p->resp) ||
        !qj_uint(body, "limit", 3, 1, &limit, p->resp) ||
        !qj_string(body, "using", &using, p->resp))
        return false;
    const qvs_vector *v = qvs_call_vector(p, using ? using : "");
    if (!v ||
        !qvs_call_filter(p, cJSON_GetObjectItemCaseSensitive(body, "filter"),
                         &f, "filter"))
        return false;
    /* v->coll holds exactly the points that have the vector. */
    bool ok = qvs_call_scroll_all(p, v->coll, f, &m->ids, &m->n);
    qv_filter_free(f);
    if (!ok)
        return false;
    m->n = sample_ids(m->ids, m->n, (size_t)sample);
    if (m->n < 2) {
        m->n = 0;
        return true;
    }
    return nearest_rows(p, v, (size_t)limit, m);
}

static cJSON *pairs_json(const matrix *m)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = res ? cJSON_AddArrayToObject(res, "pairs") : NULL;
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < m->n; i++) {
        for (size_t j = 0; ok && j < m->n_row[i]; j++) {
            const qv_hit *h = &m->rows[i * m->stride + j];
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddItemToArray(arr, o) &&
                 cJSON_AddItemToObject(o, "a", qj_id_json(&m->ids[i])) &&
                 cJSON_AddItemToObject(o, "b", qj_id_json(&h->id)) &&
                 cJSON_AddItemToObject(o, "score", qj_float_json(h->score));
        }
    }
    if (!ok)
        cJSON_Delete(res);
    return ok ? res : NULL;
}

/* The column of a row entry: its position in the (sorted) sample. */
static size_t column_of(const matrix *m, const qv_point_id *id)
{
    const qv_point_id *at = bsearch(id, m->ids, m->n, sizeof(*id), cmp_id);
    return at ? (size_t)(at - m->ids) : 0;
}

static cJSON *offsets_json(const matrix *m)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *rows = res ? cJSON_AddArrayToObject(res, "offsets_row") : NULL;
    cJSON *cols = res ? cJSON_AddArrayToObject(res, "offsets_col") : NULL;
    cJSON *scores = res ? cJSON_AddArrayToObject(res, "scores") : NULL;
    cJSON *ids = res ? cJSON_AddArrayToObject(res, "ids") : NULL;
    bool ok = rows && cols && scores && ids;
    for (size_t i = 0; ok && i < m->n; i++) {
        for (size_t j = 0; ok && j < m->n_row[i]; j++) {
            const qv_hit *h = &m->rows[i * m->stride + j];
            ok = cJSON_AddItemToArray(rows, cJSON_CreateNumber((double)i)) &&
                 cJSON_AddItemToArray(
                     cols, cJSON_CreateNumber((double)column_of(m, &h->id))) &&
                 cJSON_AddItemToArray(scores, qj_float_json(h->score));
        }
        ok = ok && cJSON_AddItemToArray(ids, qj_id_json(&m->ids[i]));
    }
    if (!ok)
        cJSON_Delete(res);
    return ok ? res : NULL;
}

static void answer(const qvs_req *req, qvs_resp *resp, bool offsets)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, false))
        return;
    matrix m = {0};
    if (run_matrix(&p, &m)) {
        cJSON *res = offsets ? offsets_json(&m) : pairs_json(&m);
        if (res)
            qvs_call_result(&p, res);
        else
            qvs_fail(resp, 500, "Service internal error: out of memory");
    }
    matrix_free(&m);
    qvs_call_close(&p);
}

static void matrix_pairs(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, false);
}

static void matrix_offsets(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, true);
}
