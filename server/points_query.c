/*
 * points_query.c -- searching: the universal query API (POST /points/query
 * and /points/query/batch) and the legacy search and recommend endpoints
 * (POST /points/search, /search/batch, /recommend, /recommend/batch), which
 * Qdrant 1.19 still serves and older clients use exclusively.
 *
 * Every request form is first turned into one `plan`: what to score (a
 * query vector, recommend examples, or nothing: id order or a random
 * sample), on which vector, with which filter, threshold, limit, offset,
 * search parameters, ids to leave out, and what to return.  run_plan then
 * answers a list of ScoredPoint.
 *
 * Scores and orders are the library's, which follow Qdrant's: cosine and
 * dot higher-better, euclid the L2 distance and manhattan the L1 distance,
 * lower-better.  Where this file adds to the library:
 *   - score_threshold keeps strictly better scores (Qdrant's
 *     check_threshold: score > t, or < t for distances); the library keeps
 *     ties, so they are dropped here;
 *   - offset: the library is asked for limit + offset (+ the number of ids
 *     to exclude) hits and the first offset are skipped;
 *   - points referenced by id in a query (nearest by id, recommend
 *     examples) are left out of the answer when they live in the searched
 *     collection (query API) or always (legacy recommend), as Qdrant does;
 *   - recommend average_vector: query = avg(positive) + (avg(positive) -
 *     avg(negative)) over the examples (raw examples normalised first under
 *     cosine), then an ordinary search;
 *   - recommend best_score and sum_scores, and nearest with mmr, score with
 *     Qdrant's formulas over candidates fetched here (see their functions):
 *     best_score and sum_scores scan every matching point exactly, which is
 *     Qdrant's result but not its speed on large collections;
 *   - no query: points in id order (score 1.0, as Qdrant); sample random:
 *     a uniform sample of the matching points (score 1.0).
 * Prefetch, fusion, formula, discover, context, order_by and sparse or
 * multi vectors are refused with a 400 that names what is missing.
 *
 * Threads: read-only; no server lock is taken (points.h).
 */
#include "points.h"
#include "quantization.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(j) ? NULL : j;
}

static bool oom(qvs_resp *r)
{
    return qvs_fail(r, 500, "Service internal error: out of memory");
}

/* ---- plans --------------------------------------------------------------- */

typedef enum plan_kind {
    PK_NEAREST,   /* query vector (optionally re-ranked by MMR) */
    PK_RECO_BEST, /* recommend best_score */
    PK_RECO_SUM,  /* recommend sum_scores */
    PK_SCROLL,    /* no query: id order */
    PK_SAMPLE,    /* sample random */
    PK_ORDER,     /* order_by a payload key */
} plan_kind;

typedef struct plan {
    plan_kind kind;
    const qvs_vector *vec; /* the vector searched (not for scroll/sample) */
    float *query;          /* PK_NEAREST: vec->size floats */
    float *pos, *neg;      /* recommend examples, rows of vec->size */
    size_t n_pos, n_neg;
    bool mmr;
    float mmr_lambda; /* weight of relevance, 1 - diversity */
    uint64_t mmr_candidates;
    qv_filter *filter;
    bool has_threshold;
    float threshold;
    uint64_t limit, offset;
    uint32_t hnsw_ef;
    bool exact;
    qvs_quant_search quant; /* params.quantization */
    qv_point_id *exclude;   /* sorted */
    size_t n_exclude, cap_exclude;
    qj_payload_sel wp;
    qj_vector_sel wv;
    qvs_coll *lookup; /* lookup_from collection (referenced), or NULL */
    const char *lookup_vector;
    qv_order_by order; /* PK_ORDER */
} plan;

static void plan_free(qvs_call *p, plan *q)
{
    free(q->query);
    free(q->pos);
    free(q->neg);
    free(q->exclude);
    qv_filter_free(q->filter);
    qj_payload_sel_free(&q->wp);
    qj_vector_sel_free(&q->wv);
    if (q->lookup)
        qvs_coll_release(p->req->catalog, q->lookup);
    memset(q, 0, sizeof(*q));
}

static int cmp_id(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

static bool add_exclude(qvs_call *p, plan *q, const qv_point_id *id)
{
    if (q->n_exclude == q->cap_exclude) {
        size_t cap = q->cap_exclude ? q->cap_exclude * 2 : 8;
        qv_point_id *v = realloc(q->exclude, cap * sizeof(*v));
        if (!v)
            return oom(p->resp);
        q->exclude = v;
        q->cap_exclude = cap;
    }
    q->exclude[q->n_exclude++] = *id;
    return true;
}

static bool excluded(const plan *q, const qv_point_id *id)
{
    return q->n_exclude &&
           bsearch(id, q->exclude, q->n_exclude, sizeof(*id), cmp_id);
}

/* ---- common request fields ----------------------------------------------- */

/* filter, params, score_threshold, limit, offset, with_payload, with_vector
 * (legacy requests require limit: limit_required). */
static bool parse_common(qvs_call *p, const cJSON *o, bool limit_required,
                         plan *q)
{
    qvs_resp *r = p->resp;
    if (limit_required && !member(o, "limit"))
        return qj_fail_format(r, "missing field `limit`");
    uint64_t ef = 0;
    const cJSON *params = member(o, "params");
    if (params && !cJSON_IsObject(params))
        return qj_fail_format(r,
                              "params: invalid type: %s, expected an "
                              "object",
                              qj_type_name(params));
    if (!qvs_call_filter(p, member(o, "filter"), &q->filter, "filter") ||
        !qj_uint(params, "hnsw_ef", 0, 1, &ef, r) ||
        !qj_bool(params, "exact", false, &q->exact, r) ||
        !qvs_quant_search_parse(params, &q->quant, r) ||
        !qj_float(o, "score_threshold", &q->has_threshold, &q->threshold, r) ||
        !qj_uint(o, "limit", 10, 1, &q->limit, r) ||
        !qj_uint(o, "offset", 0, 0, &q->offset, r) ||
        !qj_with_payload(o, false, &q->wp, r) ||
        !qj_with_vector(o, &q->wv, r) || !qvs_call_check_vector_sel(p, &q->wv))
        return false;
    /* Qdrant has no upper bound on ef; the library stops at QV_MAX_EF. */
    q->hnsw_ef = (uint32_t)(ef > QV_MAX_EF ? QV_MAX_EF : ef);
    return true;
}

/* lookup_from: {"collection": name, "vector"?: name}. */
static bool parse_lookup(qvs_call *p, const cJSON *o, plan *q)
{
    const cJSON *lf = member(o, "lookup_from");
    if (!lf)
        return true;
    if (!cJSON_IsObject(lf))
        return qj_fail_format(p->resp,
                              "lookup_from: invalid type: %s, expected an "
                              "object",
                              qj_type_name(lf));
    const char *name = NULL;
    if (!qj_string(lf, "collection", &name, p->resp) ||
        !qj_string(lf, "vector", &q->lookup_vector, p->resp))
        return false;
    if (!name)
        return qj_fail_format(p->resp,
                              "lookup_from: missing field `collection`");
    if (!qvs_catalog_get(p->req->catalog, name, &q->lookup)) {
        q->lookup = NULL;
        return qj_fail_not_found(p->resp, "Collection %s not found", name);
    }
    return true;
}

/* ---- examples: vectors given raw or by point id -------------------------- */

static void normalize(float *v, uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    if (s <= 0 || fabs(s - 1.0) <= 1e-6)
        return;
    float inv = (float)(1.0 / sqrt(s));
    for (uint32_t i = 0; i < dim; i++)
        v[i] *= inv;
}

/* The vector an example names, into out (q->vec->size floats): a raw
 * dense vector, or the vector of a point of the lookup collection
 * (lookup_from, else this one) called lookup_from.vector (else `using`).
 * A referenced point of the searched collection is excluded from the
 * answer when exclude_same, of any collection when exclude_any. */
static bool example_vector(qvs_call *p, plan *q, const cJSON *ex,
                           const char *using, bool exclude_any, float *out,
                           const char *where)
{
    uint32_t dim = q->vec->size;
    if (cJSON_IsArray(ex)) {
        if (cJSON_IsArray(ex->child))
            return qj_fail_bad_request(p->resp,
                                       "%s: multivectors are not supported "
                                       "by this server",
                                       where);
        return qj_vector(ex, out, dim, p->resp, where);
    }
    if (cJSON_IsObject(ex))
        return qj_fail_bad_request(p->resp,
                                   "%s: sparse vectors and inference "
                                   "objects are not supported by this server",
                                   where);
    qv_point_id id;
    if (!qj_id(ex, &id, p->resp, where))
        return false;
    qvs_coll *lc = q->lookup ? q->lookup : p->coll;
    const char *lname = q->lookup_vector ? q->lookup_vector : using;
    /* A missing point is 404 before any vector-name or dimension error:
     * Qdrant checks every referenced id (PointNotFound) before it reads
     * the vectors (lib/collection/src/recommendations.rs). */
    bool there = false;
    qv_contains(lc->points, &id, &there);
    if (!there) {
        char t[QV_UUID_STRLEN];
        qj_id_text(&id, t);
        return qj_fail_not_found(p->resp, "No point with id %s found", t);
    }
    const qvs_vector *lv = qvs_coll_vector(lc, lname);
    if (!lv)
        return qj_fail_input(p->resp, "Not existing vector name error: %s",
                             lname);
    if (lv->size != dim)
        return qj_fail_input(p->resp,
                             "Vector dimension error: expected dim: %u, got "
                             "%u",
                             dim, lv->size);
    qv_status st = qv_get(lv->coll, &id, out, dim);
    if (st == QV_ENOTFOUND)
        return qj_fail_not_found(p->resp,
                                 "Vector with name \"%s\" for point "
                                 "not found",
                                 lname);
    if (st != QV_OK)
        return qj_fail_lib(p->resp, lv->coll, st, "reading a vector");
    if ((exclude_any || lc == p->coll) && !add_exclude(p, q, &id))
        return false;
    return true;
}

/* Reads a list of examples into a new matrix *rows (n rows of dim). */
static bool example_list(qvs_call *p, plan *q, const cJSON *list,
                         const char *name, const char *using, bool legacy,
                         float **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (!list)
        return true;
    if (!cJSON_IsArray(list))
        return qj_fail_format(p->resp, "%s: invalid type: %s, expected a list",
                              name, qj_type_name(list));
    size_t count = (size_t)cJSON_GetArraySize(list);
    uint32_t dim = q->vec->size;
    float *m = malloc((count ? count : 1) * (size_t)dim * sizeof(float));
    if (!m)
        return oom(p->resp);
    size_t i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        char at[96];
        snprintf(at, sizeof(at), "%s[%zu]", name, i);
        if (!example_vector(p, q, e, using, legacy, m + i * (size_t)dim, at)) {
            free(m);
            return false;
        }
        if (q->vec->metric == QV_METRIC_COSINE)
            normalize(m + i * (size_t)dim, dim);
    }
    *rows = m;
    *n = count;
    return true;
}

/* recommend: positives, negatives and a strategy.  Qdrant's texts for
 * missing examples differ between the legacy API and the query API. */
static bool plan_recommend(qvs_call *p, plan *q, const cJSON *o,
                           const char *using, bool legacy)
{
    const char *strategy = NULL;
    if (!q->vec && !(q->vec = qvs_call_vector(p, using)))
        return false;
    if (!qj_string(o, "strategy", &strategy, p->resp))
        return false;
    int s = 0; /* 0 average_vector, 1 best_score, 2 sum_scores */
    if (strategy && strcmp(strategy, "best_score") == 0)
        s = 1;
    else if (strategy && strcmp(strategy, "sum_scores") == 0)
        s = 2;
    else if (strategy && strcmp(strategy, "average_vector") != 0)
        return qj_fail_format(p->resp,
                              "strategy: unknown variant `%.64s`, expected "
                              "one of `average_vector`, `best_score`, "
                              "`sum_scores`",
                              strategy);
    const cJSON *jpos = member(o, "positive"), *jneg = member(o, "negative");
    size_t np = cJSON_IsArray(jpos) ? (size_t)cJSON_GetArraySize(jpos) : 0;
    size_t nn = cJSON_IsArray(jneg) ? (size_t)cJSON_GetArraySize(jneg) : 0;
    if (legacy && s == 0 && np == 0)
        return qj_fail_bad_request(p->resp, "At least one positive vector ID "
                                            "required with this strategy");
    if (s != 0 && np == 0 && nn == 0)
        return qj_fail_bad_request(p->resp,
                                   "At least one positive or negative vector "
                                   "ID required with this strategy");
    if (!example_list(p, q, jpos, "positive", using, legacy, &q->pos,
                      &q->n_pos) ||
        !example_list(p, q, jneg, "negative", using, legacy, &q->neg,
                      &q->n_neg))
        return false;
    if (s == 1 || s == 2) {
        q->kind = s == 1 ? PK_RECO_BEST : PK_RECO_SUM;
        return true;
    }
    if (q->n_pos == 0)
        return qj_fail_input(p->resp, "Positive vectors should not be empty "
                                      "with `average` strategy");
    uint32_t dim = q->vec->size;
    if (!(q->query = calloc(dim, sizeof(float))))
        return oom(p->resp);
    for (uint32_t d = 0; d < dim; d++) {
        double sp = 0, sn = 0;
        for (size_t i = 0; i < q->n_pos; i++)
            sp += q->pos[i * (size_t)dim + d];
        for (size_t i = 0; i < q->n_neg; i++)
            sn += q->neg[i * (size_t)dim + d];
        double ap = sp / (double)q->n_pos;
        q->query[d] =
            (float)(q->n_neg ? ap + (ap - sn / (double)q->n_neg) : ap);
        if (!isfinite(q->query[d]))
            return qj_fail_input(p->resp, "the recommend query vector is not "
                                          "finite");
    }
    q->kind = PK_NEAREST;
    return true;
}

/* ---- the query API ------------------------------------------------------- */

static bool unsupported(qvs_call *p, const char *what)
{
    return qj_fail_bad_request(
        p->resp, "%s is not supported by this server (Quiver)", what);
}

/* {"nearest": input, "mmr"?: {"diversity", "candidates_limit"}} */
static bool plan_nearest(qvs_call *p, plan *q, const cJSON *input,
                         const cJSON *mmr, const char *using)
{
    if (!q->vec && !(q->vec = qvs_call_vector(p, using)))
        return false;
    if (!(q->query = malloc(q->vec->size * sizeof(float))))
        return oom(p->resp);
    if (!example_vector(p, q, input, using, false, q->query, "query"))
        return false;
    q->kind = PK_NEAREST;
    if (!mmr)
        return true;
    if (!cJSON_IsObject(mmr))
        return qj_fail_format(p->resp,
                              "query.mmr: invalid type: %s, expected an "
                              "object",
                              qj_type_name(mmr));
    bool has_div = false;
    float div = 0.5f;
    if (!qj_float(mmr, "diversity", &has_div, &div, p->resp) ||
        !qj_uint(mmr, "candidates_limit", q->limit, 0, &q->mmr_candidates,
                 p->resp))
        return false;
    if (!has_div)
        div = 0.5f;
    if (div < 0 || div > 1)
        return qj_fail_validation(p->resp,
                                  "query.mmr.diversity: value %g invalid, "
                                  "must be from 0 to 1",
                                  (double)div);
    if (q->mmr_candidates > 16384)
        return qj_fail_validation(p->resp,
                                  "query.mmr.candidates_limit: value %llu "
                                  "invalid, must be from 0 to 16384",
                                  (unsigned long long)q->mmr_candidates);
    q->mmr = true;
    q->mmr_lambda = 1.0f - div;
    return true;
}

static bool plan_query_object(qvs_call *p, plan *q, const cJSON *j,
                              const char *using)
{
    const cJSON *x;
    if ((x = member(j, "nearest")))
        return plan_nearest(p, q, x, member(j, "mmr"), using);
    if ((x = member(j, "recommend"))) {
        if (!cJSON_IsObject(x))
            return qj_fail_format(p->resp,
                                  "query.recommend: invalid type: %s, "
                                  "expected an object",
                                  qj_type_name(x));
        return plan_recommend(p, q, x, using, false);
    }
    if ((x = member(j, "sample"))) {
        if (!cJSON_IsString(x) || strcmp(x->valuestring, "random") != 0)
            return qj_fail_format(p->resp, "query.sample: unknown variant, "
                                           "expected `random`");
        q->kind = PK_SAMPLE;
        return true;
    }
    if ((x = member(j, "order_by"))) {
        q->kind = PK_ORDER;
        return qvs_call_order_by_parse(p, x, &q->order);
    }
    if (member(j, "indices") || member(j, "values"))
        return unsupported(p, "a sparse vector query");
    static const char *const kinds[] = {
        "discover",           "context", "fusion", "rrf",   "formula",
        "relevance_feedback", "text",    "image",  "object"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (member(j, kinds[i])) {
            char what[64];
            snprintf(what, sizeof(what), "query `%s`", kinds[i]);
            return unsupported(p, what);
        }
    return qj_fail_format(p->resp, "query: data did not match any variant of "
                                   "untagged enum QueryInterface");
}

/* A QueryRequest object into a plan. */
static bool plan_query(qvs_call *p, const cJSON *o, plan *q)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp,
                              "invalid type: %s, expected a "
                              "QueryRequest object",
                              qj_type_name(o));
    const char *using = NULL;
    const cJSON *pre = member(o, "prefetch");
    if (pre && !(cJSON_IsArray(pre) && cJSON_GetArraySize(pre) == 0))
        return unsupported(p, "prefetch");
    if (!qj_string(o, "using", &using, p->resp) ||
        !parse_common(p, o, false, q) || !parse_lookup(p, o, q))
        return false;
    /* A named collection has no vector "": queries that score vectors
     * need `using` there, id order and samples do not. */
    if (using && !(q->vec = qvs_call_vector(p, using)))
        return false;
    if (!using)
        using = "";
    const cJSON *j = member(o, "query");
    if (!j) {
        if (q->has_threshold)
            return qj_fail_bad_request(p->resp,
                                       "A query is needed to use the "
                                       "score_threshold. Can't have "
                                       "score_threshold without defining a "
                                       "query.");
        q->kind = PK_SCROLL;
        return true;
    }
    if (cJSON_IsObject(j))
        return plan_query_object(p, q, j, using);
    return plan_nearest(p, q, j, NULL, using);
}

/* ---- legacy requests ----------------------------------------------------- */

/* SearchRequest: {"vector": [..] | {"name", "vector"}, "limit", ...}. */
static bool plan_search(qvs_call *p, const cJSON *o, plan *q)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp,
                              "invalid type: %s, expected a "
                              "SearchRequest object",
                              qj_type_name(o));
    const cJSON *v = member(o, "vector");
    if (!v)
        return qj_fail_format(p->resp, "missing field `vector`");
    if (!parse_common(p, o, true, q))
        return false;
    const char *name = "";
    if (cJSON_IsObject(v)) {
        const cJSON *jn = member(v, "name");
        if (!cJSON_IsString(jn))
            return qj_fail_format(p->resp, "vector: data did not match any "
                                           "variant of untagged enum "
                                           "NamedVectorStruct");
        name = jn->valuestring;
        v = member(v, "vector");
        if (cJSON_IsObject(v))
            return unsupported(p, "a sparse vector search");
    }
    if (!(q->vec = qvs_call_vector(p, name)))
        return false;
    if (cJSON_IsArray(v) && cJSON_IsArray(v->child))
        return unsupported(p, "a multivector search");
    if (!(q->query = malloc(q->vec->size * sizeof(float))))
        return oom(p->resp);
    q->kind = PK_NEAREST;
    return qj_vector(v, q->query, q->vec->size, p->resp, "vector");
}

/* RecommendRequest: {"positive", "negative", "strategy", "limit", "using",
 * "lookup_from", ...}. */
static bool plan_legacy_recommend(qvs_call *p, const cJSON *o, plan *q)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp,
                              "invalid type: %s, expected a "
                              "RecommendRequest object",
                              qj_type_name(o));
    const char *using = NULL;
    if (!qj_string(o, "using", &using, p->resp) ||
        !parse_common(p, o, true, q) || !parse_lookup(p, o, q))
        return false;
    if (!using)
        using = "";
    if (!(q->vec = qvs_call_vector(p, using)))
        return false;
    /* The legacy lookup uses lookup_from.vector, else the default vector,
     * not `using` (Qdrant's get_search_vector_name). */
    if (q->lookup && !q->lookup_vector)
        q->lookup_vector = "";
    return plan_recommend(p, q, o, using, true);
}

/* ---- running a plan ------------------------------------------------------ */

typedef struct scored {
    qv_point_id id;
    float score;
} scored;

/* Appends ScoredPoint {"id", "version", "score", "payload"?, "vector"?}. */
static bool emit(qvs_call *p, const plan *q, cJSON *arr, const scored *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *id = qj_id_json(&s->id), *sc = qj_float_json(s->score);
    if (!o || !id || !sc || !cJSON_AddItemToObject(o, "id", id)) {
        cJSON_Delete(o);
        cJSON_Delete(id);
        cJSON_Delete(sc);
        return oom(p->resp);
    }
    if (!cJSON_AddNumberToObject(o, "version", 0) ||
        !cJSON_AddItemToObject(o, "score", sc)) {
        cJSON_Delete(o);
        return oom(p->resp);
    }
    bool gone = false;
    if (!qvs_call_add_payload_vector(p, o, &s->id, &q->wp, &q->wv, &gone)) {
        cJSON_Delete(o);
        return gone; /* deleted meanwhile: left out */
    }
    if (!cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return oom(p->resp);
    }
    return true;
}

/* Emits s[offset .. offset+limit). */
static bool emit_page(qvs_call *p, const plan *q, cJSON *arr, const scored *s,
                      size_t n)
{
    for (size_t i = q->offset; i < n && i - q->offset < q->limit; i++)
        if (!emit(p, q, arr, &s[i]))
            return false;
    return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* Keeps the hits that are not excluded and strictly pass the threshold. */
static size_t keep_hits(const plan *q, bool higher, scored *s, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (excluded(q, &s[i].id))
            continue;
        if (q->has_threshold && (higher ? !(s[i].score > q->threshold)
                                        : !(s[i].score < q->threshold)))
            continue;
        s[m++] = s[i];
    }
    return m;
}

/* Raw similarity of two vectors, Qdrant's internal score: dot product
 * (cosine vectors are unit length), -squared L2, -L1. */
static float similarity(qv_metric m, const float *a, const float *b,
                        uint32_t dim)
{
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) {
        double d = (double)a[i] - b[i];
        switch (m) {
        case QV_METRIC_COSINE:
        case QV_METRIC_DOT:
            s += (double)a[i] * b[i];
            break;
        case QV_METRIC_EUCLID:
            s -= d * d;
            break;
        case QV_METRIC_MANHATTAN:
            s -= fabs(d);
            break;
        }
    }
    return (float)s;
}

/* Maximal marginal relevance over the hits (whose vectors are rows of
 * vecs): the most relevant first, then repeatedly the candidate with the
 * best lambda * relevance - (1 - lambda) * max similarity to those chosen.
 * Reorders hits[0..n) into the chosen order; scores stay the search's. */
static bool mmr_rerank(qvs_call *p, const plan *q, scored *hits,
                       const float *vecs, size_t n, size_t want)
{
    uint32_t dim = q->vec->size;
    float *qv = malloc(dim * sizeof(float));
    float *rel = malloc((n ? n : 1) * sizeof(float));
    float *maxsim = malloc((n ? n : 1) * sizeof(float));
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    bool *used = calloc(n ? n : 1, sizeof(bool));
    scored *out = malloc((n ? n : 1) * sizeof(scored));
    bool ok = qv && rel && maxsim && order && used && out;
    if (!ok) {
        oom(p->resp);
        goto done;
    }
    memcpy(qv, q->query, dim * sizeof(float));
    if (q->vec->metric == QV_METRIC_COSINE)
        normalize(qv, dim);
    for (size_t i = 0; i < n; i++) {
        rel[i] = similarity(q->vec->metric, qv, vecs + i * (size_t)dim, dim);
        maxsim[i] = -INFINITY;
    }
    size_t chosen = 0;
    while (chosen < want && chosen < n) {
        size_t best = n;
        float best_score = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            float sc = chosen == 0 ? rel[i]
                                   : q->mmr_lambda * rel[i] -
                                         (1.0f - q->mmr_lambda) * maxsim[i];
            if (best == n || sc > best_score) {
                best = i;
                best_score = sc;
            }
        }
        used[best] = true;
        order[chosen++] = best;
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            float s = similarity(q->vec->metric, vecs + i * (size_t)dim,
                                 vecs + best * (size_t)dim, dim);
            if (s > maxsim[i])
                maxsim[i] = s;
        }
    }
    for (size_t i = 0; i < chosen; i++)
        out[i] = hits[order[i]];
    memcpy(hits, out, chosen * sizeof(scored));
done:
    free(qv);
    free(rel);
    free(maxsim);
    free(order);
    free(used);
    free(out);
    return ok;
}

static bool run_nearest(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_collection *c = q->vec->coll;
    uint32_t dim = q->vec->size;
    uint64_t count = 0;
    qv_status st = qv_count(c, &count);
    if (st != QV_OK)
        return qj_fail_lib(p->resp, c, st, "counting points");
    uint64_t want = q->mmr ? q->mmr_candidates : sat_add(q->limit, q->offset);
    want = sat_add(want, q->n_exclude);
    if (want > count)
        want = count;
    if (want > QV_MAX_K)
        want = QV_MAX_K;
    if (want == 0)
        return true;
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = (uint32_t)want;
    sp.filter = q->filter;
    sp.exact = q->exact;
    sp.hnsw_ef = q->hnsw_ef;
    qvs_quant_search_apply(&q->quant, &sp);
    sp.use_threshold = q->has_threshold;
    sp.score_threshold = q->threshold;
    qv_hit *hits = malloc(want * sizeof(*hits));
    scored *s = malloc(want * sizeof(*s));
    float *vecs = NULL;
    bool ok = false;
    size_t nh = 0;
    if (!hits || !s) {
        oom(p->resp);
        goto done;
    }
    st = qv_search(c, q->query, dim, &sp, hits, &nh);
    if (st != QV_OK) {
        qj_fail_lib(p->resp, c, st, "searching");
        goto done;
    }
    for (size_t i = 0; i < nh; i++) {
        s[i].id = hits[i].id;
        s[i].score = hits[i].score;
    }
    nh = keep_hits(q, qv_metric_higher_is_better(q->vec->metric), s, nh);
    if (q->mmr && nh > 1) {
        /* Candidates deleted since the search are dropped. */
        if (!(vecs = malloc(nh * (size_t)dim * sizeof(float)))) {
            oom(p->resp);
            goto done;
        }
        size_t m = 0;
        for (size_t i = 0; i < nh; i++) {
            st = qv_get(c, &s[i].id, vecs + m * (size_t)dim, dim);
            if (st == QV_OK)
                s[m++] = s[i];
            else if (st != QV_ENOTFOUND) {
                qj_fail_lib(p->resp, c, st, "reading a vector");
                goto done;
            }
        }
        nh = m;
        uint64_t page = sat_add(q->limit, q->offset);
        size_t keep = (size_t)(page < nh ? page : nh);
        if (!mmr_rerank(p, q, s, vecs, nh, keep))
            goto done;
        nh = keep;
    }
    ok = emit_page(p, q, arr, s, nh);
done:
    free(hits);
    free(s);
    free(vecs);
    return ok;
}

/* Qdrant's scaled fast sigmoid, mapping any similarity into (0, 1). */
static float scaled_sigmoid(float x)
{
    return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f);
}

/* A recommend score of vector v against the examples: best_score takes
 * the closest example, sigmoid-scaled, negated when it is a negative one;
 * sum_scores adds the similarities to positives and subtracts those to
 * negatives. */
static float reco_score(const plan *q, const float *v)
{
    uint32_t dim = q->vec->size;
    qv_metric m = q->vec->metric;
    if (q->kind == PK_RECO_SUM) {
        float s = 0;
        for (size_t i = 0; i < q->n_pos; i++)
            s += similarity(m, v, q->pos + i * (size_t)dim, dim);
        for (size_t i = 0; i < q->n_neg; i++)
            s -= similarity(m, v, q->neg + i * (size_t)dim, dim);
        return s;
    }
    float bp = -INFINITY, bn = -INFINITY;
    for (size_t i = 0; i < q->n_pos; i++) {
        float s = similarity(m, v, q->pos + i * (size_t)dim, dim);
        bp = s > bp ? s : bp;
    }
    for (size_t i = 0; i < q->n_neg; i++) {
        float s = similarity(m, v, q->neg + i * (size_t)dim, dim);
        bn = s > bn ? s : bn;
    }
    return bp > bn ? scaled_sigmoid(bp) : -scaled_sigmoid(bn);
}

static int cmp_scored_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return qv_id_compare(&x->id, &y->id);
}

/* best_score / sum_scores: an exact scan of every matching point. */
static bool run_reco_scan(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_collection *c = q->vec->coll;
    uint32_t dim = q->vec->size;
    qv_point_id *ids = NULL;
    size_t n = 0, m = 0;
    scored *s = NULL;
    float *v = malloc(dim * sizeof(float));
    bool ok = false;
    if (!v) {
        oom(p->resp);
        goto done;
    }
    if (!qvs_call_scroll_all(p, c, q->filter, &ids, &n))
        goto done;
    if (!(s = malloc((n ? n : 1) * sizeof(*s)))) {
        oom(p->resp);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        qv_status st = qv_get(c, &ids[i], v, dim);
        if (st == QV_ENOTFOUND)
            continue;
        if (st != QV_OK) {
            qj_fail_lib(p->resp, c, st, "reading a vector");
            goto done;
        }
        s[m].id = ids[i];
        s[m++].score = reco_score(q, v);
    }
    m = keep_hits(q, true, s, m);
    qsort(s, m, sizeof(*s), cmp_scored_desc);
    ok = emit_page(p, q, arr, s, m);
done:
    free(v);
    free(ids);
    free(s);
    return ok;
}

/* No query: the points in id order, score 1.0. */
static bool run_scroll(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_collection *c = p->coll->points;
    uint64_t count = 0;
    qv_status st = qv_count(c, &count);
    if (st != QV_OK)
        return qj_fail_lib(p->resp, c, st, "counting points");
    uint64_t want = sat_add(q->limit, q->offset);
    size_t k = (size_t)(want < count ? want : count), n = 0;
    if (!k)
        return true;
    qv_point_id *ids = malloc(k * sizeof(*ids));
    scored *s = malloc(k * sizeof(*s));
    bool ok = false;
    if (!ids || !s) {
        oom(p->resp);
        goto done;
    }
    st = qv_scroll(c, NULL, q->filter, k, ids, &n, NULL, NULL);
    if (st != QV_OK) {
        qj_fail_lib(p->resp, c, st, "scrolling points");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        s[i].id = ids[i];
        s[i].score = 1.0f;
    }
    ok = emit_page(p, q, arr, s, n);
done:
    free(ids);
    free(s);
    return ok;
}

/* A small generator for sampling, seeded by the kernel per request. */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* sample random: `limit` matching points chosen uniformly (partial
 * Fisher-Yates), score 1.0; offset is ignored, as in Qdrant. */
static bool run_sample(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_point_id *ids = NULL;
    size_t n = 0;
    if (!qvs_call_scroll_all(p, p->coll->points, q->filter, &ids, &n))
        return false;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)(uintptr_t)ids ^ n;
    size_t k = (size_t)(q->limit < n ? q->limit : n);
    bool ok = true;
    for (size_t i = 0; ok && i < k; i++) {
        size_t j = i + (size_t)(splitmix(&seed) % (n - i));
        qv_point_id t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
        scored s = {.id = ids[i], .score = 1.0f};
        ok = emit(p, q, arr, &s);
    }
    free(ids);
    return ok;
}

/* order_by: points in value order, score 0 and the value as order_value,
 * as Qdrant answers an order_by query. */
static bool run_order(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_point_id *ids = NULL;
    qv_number *vals = NULL;
    size_t n = 0;
    uint64_t want = q->limit + q->offset;
    bool ok = qvs_call_order_by_run(p, &q->order, q->filter,
                                    (size_t)(want < QV_MAX_K ? want : QV_MAX_K),
                                    &ids, &vals, &n);
    for (size_t i = q->offset; ok && i < n; i++) {
        scored s = {.id = ids[i], .score = 0.0f};
        int before = cJSON_GetArraySize(arr);
        ok = emit(p, q, arr, &s);
        if (ok && cJSON_GetArraySize(arr) > before)
            cJSON_AddItemToObject(cJSON_GetArrayItem(arr, before),
                                  "order_value",
                                  qvs_order_value_json(&vals[i]));
    }
    free(ids);
    free(vals);
    return ok;
}

/* The plan's ScoredPoints as a new array, or NULL (reply set). */
static cJSON *run_plan(qvs_call *p, plan *q)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        oom(p->resp);
        return NULL;
    }
    if (q->n_exclude)
        qsort(q->exclude, q->n_exclude, sizeof(*q->exclude), cmp_id);
    bool ok = false;
    switch (q->kind) {
    case PK_NEAREST:
        ok = run_nearest(p, q, arr);
        break;
    case PK_RECO_BEST:
    case PK_RECO_SUM:
        ok = run_reco_scan(p, q, arr);
        break;
    case PK_SCROLL:
        ok = run_scroll(p, q, arr);
        break;
    case PK_SAMPLE:
        ok = run_sample(p, q, arr);
        break;
    case PK_ORDER:
        ok = run_order(p, q, arr);
        break;
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* ---- handlers ------------------------------------------------------------ */

typedef bool (*plan_fn)(qvs_call *p, const cJSON *o, plan *q);

/* One request object -> its ScoredPoint array, wrapped as {"points": [...]}
 * when wrap. */
static cJSON *answer_one(qvs_call *p, const cJSON *o, plan_fn fn, bool wrap)
{
    plan q;
    cJSON *arr = NULL;
    if (fn(p, o, &q))
        arr = run_plan(p, &q);
    plan_free(p, &q);
    if (!arr || !wrap)
        return arr;
    cJSON *w = cJSON_CreateObject();
    if (!w || !cJSON_AddItemToObject(w, "points", arr)) {
        cJSON_Delete(w);
        cJSON_Delete(arr);
        oom(p->resp);
        return NULL;
    }
    return w;
}

static void answer(const qvs_req *req, qvs_resp *resp, plan_fn fn, bool wrap)
{
    qvs_call p;
    if (!qvs_call_open(&p, req, resp, true))
        return;
    cJSON *r = answer_one(&p, p.body, fn, wrap);
    if (r)
        qvs_call_result(&p, r);
    qvs_call_close(&p);
}

/* {"searches": [request, ...]} -> [answer, ...]; the first failing
 * request fails the whole batch. */
static void answer_batch(const qvs_req *req, qvs_resp *resp, plan_fn fn,
                         bool wrap)
{
    qvs_call p;
    if (!qvs_call_open(&p, req, resp, true))
        return;
    const cJSON *list = member(p.body, "searches");
    cJSON *out = NULL;
    if (!list) {
        qj_fail_format(resp, "missing field `searches`");
        goto done;
    }
    if (!cJSON_IsArray(list)) {
        qj_fail_format(resp, "searches: invalid type: %s, expected a list",
                       qj_type_name(list));
        goto done;
    }
    if (!(out = cJSON_CreateArray())) {
        oom(resp);
        goto done;
    }
    for (const cJSON *e = list->child; e; e = e->next) {
        cJSON *r = answer_one(&p, e, fn, wrap);
        if (!r)
            goto done;
        if (!cJSON_AddItemToArray(out, r)) {
            cJSON_Delete(r);
            oom(resp);
            goto done;
        }
    }
    qvs_call_result(&p, out);
    out = NULL;
done:
    cJSON_Delete(out);
    qvs_call_close(&p);
}

void qvs_points_query(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, plan_query, true);
}

void qvs_points_query_batch(const qvs_req *req, qvs_resp *resp)
{
    answer_batch(req, resp, plan_query, true);
}

void qvs_points_search(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, plan_search, false);
}

void qvs_points_search_batch(const qvs_req *req, qvs_resp *resp)
{
    answer_batch(req, resp, plan_search, false);
}

void qvs_points_recommend(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, plan_legacy_recommend, false);
}

void qvs_points_recommend_batch(const qvs_req *req, qvs_resp *resp)
{
    answer_batch(req, resp, plan_legacy_recommend, false);
}
