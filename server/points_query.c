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
 *     collection, by the query API and the legacy recommend alike (a
 *     lookup_from collection's ids say nothing of this one's points);
 *   - recommend average_vector: query = avg(positive) + (avg(positive) -
 *     avg(negative)) over the examples (raw examples normalised first under
 *     cosine), then an ordinary search;
 *   - recommend best_score and sum_scores, and nearest with mmr, score with
 *     Qdrant's formulas over candidates fetched here (see their functions):
 *     best_score and sum_scores scan every matching point exactly, which is
 *     Qdrant's result but not its speed on large collections (on sparse
 *     vectors and multivectors too: see below);
 *   - no query: points in id order (score 1.0, as Qdrant); sample random:
 *     a uniform sample of the matching points (score 1.0).
 *
 * Prefetch trees (Qdrant 1.19's lib/shard/src/query/planned_query.rs and
 * lib/collection/src/shards/local_shard/query.rs): a plan may have child
 * plans, one per prefetch, recursively (at most 64 levels deep).
 *   - A node's filter is merged into the filters of every prefetch below
 *     it, and only leaves search with it; a node with prefetches scores
 *     the union of its children's answers only (a has_id filter of them,
 *     searched exactly), with its own query on its own vector, so a dense
 *     re-score of candidates another vector found is one node over one
 *     leaf.
 *   - fusion (rrf, dbsf: query_fusion.c) and formula (query_formula.c)
 *     nodes combine the children's ranked answers instead; their
 *     score_threshold keeps scores >= it (Qdrant's fusion_rescore).
 *   - ids a query references anywhere in the tree are left out of every
 *     answer, as Qdrant merges them into the root filter.
 *   - the root keeps limit + offset and skips offset; inner nodes keep
 *     their limit (default 10).
 *   - a plan that feeds another puts its hits into a hitbuf (plan.sink)
 *     instead of ScoredPoint JSON; the same run_* functions serve both.
 * A leaf scores one named vector.  Sparse vectors and multivectors join
 * as leaf kinds: plan_query_object is where a query names its kind, and a
 * kind needs a parse (into the plan) and a run (hits through emit) like
 * plan_nearest/run_nearest; the tree, fusion, formulas and groups work on
 * (id, score) lists and need nothing more.  A sparse query (sparse.h) is
 * a PK_SPARSE leaf.  A multivector (multivec.h) is searched by MaxSim with
 * a matrix query, or one vector taken as a matrix of one row, as Qdrant
 * does; its scores are post-processed as Qdrant's (qv_multi_search:
 * sqrt(|MaxSim|) under euclid, |MaxSim| under manhattan, lower-better).
 *
 * Discover and context (query {"discover": {target, context}}, {"context":
 * pairs}, and the legacy POST /points/discover and /discover/batch, which
 * Qdrant 1.19 still routes: lib/collection/src/discovery.rs) are leaves
 * like best_score: examples by id or vector as recommend's, each pair a
 * row of pos and neg, scored with Qdrant's formulas (discover_score) by
 * an exact scan of every matching point (or of a node's candidates).
 * Qdrant walks its HNSW graph with the same scores; the exact scan gives
 * the answer that walk approximates, at the cost of reading every
 * matching vector.  Scores are Qdrant's raw ones (a rank plus a sigmoid,
 * or a sum of losses), higher-better whatever the distance, ties by id.
 * relevance_feedback with the naive strategy is one more such leaf: the
 * feedback items become weighted pairs (feedback_pairs) and the score is
 * Qdrant's a * sim(target) + sum of weight * (sim(pos) - sim(neg)).
 *
 * Recommend, discover and context on a sparse vector or a multivector
 * (plan.xkind) keep their examples as xvec (a sorted sparse vector, or a
 * matrix) and score with the same formulas through ex_sim: the sparse
 * dot over shared dimensions, or MaxSim with the example as the query.
 * As in Qdrant 1.19 (reco_query.rs, sparse_vector_index/read_view/
 * search.rs, common/mod.rs):
 *   - a sparse example's values are multiplied by the vector's IDF
 *     weights (qv_sparse_idf) when it has the idf modifier, since Qdrant
 *     remaps every vector of such a query before scoring;
 *   - average_vector on sparse vectors: avg(pos) + (avg(pos) - avg(neg))
 *     over the union of the indices, then a PK_SPARSE search (the library
 *     applies the IDF to it as to any sparse query); on a multivector:
 *     every positive row, then every negative row negated, as one MaxSim
 *     query (Qdrant does not divide there);
 *   - an example of another kind is Qdrant's WrongSparse / WrongMulti
 *     400, "Conversion between sparse (multi) and regular vectors failed";
 *     a dense example for a multivector is a matrix of one row.
 * relevance_feedback scores the same way: the items (q->xpos) and the
 * target by ex_sim, the pairs as indices into the items (fb_pair).
 *
 * Threads: read-only; no server lock is taken (points.h).
 */
#include "multivec.h"
#include "points.h"
#include "strict.h"
#include "query.h"
#include "sparse.h"
#include "quantization.h"

#include <float.h>
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
    PK_RRF,       /* fusion rrf over the prefetches (query_fusion.c) */
    PK_DBSF,      /* fusion dbsf over the prefetches */
    PK_FORMULA,   /* formula over the prefetches (query_formula.c) */
    PK_LEAF_KIND, /* a vector of another kind (leaf_kinds below) */
    PK_SPARSE,    /* a sparse query vector (server/sparse.h) */
    PK_DISCOVER,  /* discover: target (query) + context pairs (pos, neg) */
    PK_CONTEXT,   /* context: pairs only (pos[i], neg[i]) */
    PK_FEEDBACK,  /* relevance_feedback naive: target + weighted pairs */
} plan_kind;

/* One example (or discover target) for a sparse vector or a multivector:
 * the sparse vector, indices ascending and values already times the
 * collection's IDF weights when scoring needs them (xvec_weigh), or
 * n_rows rows of the multivector's size (normalised under cosine). */
typedef struct xvec {
    qvs_sparse_vec sp;
    float *rows;
    uint32_t n_rows;
} xvec;

/* A growing list of scored points: where a plan that feeds another (a
 * prefetch) puts its answer instead of ScoredPoint JSON. */
typedef struct hitbuf {
    qvs_scored *v;
    size_t n, cap;
} hitbuf;

typedef struct plan {
    plan_kind kind;
    const qvs_vector *vec; /* the vector searched (not for scroll/sample) */
    float *query;          /* PK_NEAREST: vec->size floats, or query_rows
                              rows of them for a multivector */
    uint32_t query_rows;   /* 0: a dense query */
    float *pos, *neg;      /* recommend examples, rows of vec->size; for
                              discover and context pair i is pos[i], neg[i] */
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
    /* the prefetch tree: this plan rescores the union of its children's
     * answers (or fuses them); a plan without children is a leaf */
    struct plan *kids;
    size_t n_kids;
    uint64_t rrf_k;     /* PK_RRF */
    float *rrf_weights; /* PK_RRF: n_kids weights, or NULL */
    size_t n_rrf_weights;
    qvs_formula *formula;      /* PK_FORMULA */
    const qvs_leaf_kind *leaf; /* PK_LEAF_KIND, with the query and vector
                                  name (borrowed from the request) */
    const cJSON *leaf_query;
    const char *leaf_using;
    hitbuf *sink;          /* while set, answers go here, not to JSON */
    qvs_sparse_vec sparse; /* PK_SPARSE */
    /* relevance_feedback: a times the target similarity, plus each pair's
     * weight times its similarity difference */
    float fb_a;
    float *fb_weight; /* n_pos weights (xkind: n_fb) */
    /* xkind feedback: the items are xpos[0..n_pos), pair k is items
     * fb_pair[2k] (positive) and fb_pair[2k + 1] (negative) */
    size_t *fb_pair, n_fb;
    /* Sparse and multivector examples (xkind): pos, neg and the discover
     * target live here instead of in pos / neg / query. */
    bool xkind;
    xvec *xpos, *xneg, xtarget;
} plan;

static void xvec_free(xvec *x)
{
    qvs_sparse_vec_free(&x->sp);
    free(x->rows);
    memset(x, 0, sizeof(*x));
}

static void xvecs_free(xvec *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++)
        xvec_free(&x[i]);
    free(x);
}

static void plan_free(qvs_call *p, plan *q)
{
    for (size_t i = 0; i < q->n_kids; i++)
        plan_free(p, &q->kids[i]);
    free(q->kids);
    free(q->rrf_weights);
    qvs_formula_free(q->formula);
    free(q->query);
    free(q->pos);
    free(q->neg);
    free(q->fb_weight);
    free(q->fb_pair);
    xvecs_free(q->xpos, q->n_pos);
    xvecs_free(q->xneg, q->n_neg);
    xvec_free(&q->xtarget);
    free(q->exclude);
    qvs_sparse_vec_free(&q->sparse);
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
static bool parse_common(qvs_call *p, const cJSON *o, const cJSON *filter,
                         bool limit_required, plan *q)
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
    if (!qvs_call_filter(p, filter, &q->filter, "filter") ||
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

/* Qdrant checks every example against the searched vector's kind
 * (lib/segment/src/common/mod.rs, check_query_sparse_vector and
 * check_vector_against_config): a dense or multi example for a sparse
 * vector, or a sparse one for a dense or multi vector, is
 * OperationError::WrongSparse / WrongMulti, 400 "Wrong input: ...". */
static bool wrong_sparse(qvs_call *p)
{
    return qj_fail_input(p->resp, "Conversion between sparse and regular "
                                  "vectors failed");
}

static bool wrong_multi(qvs_call *p)
{
    return qj_fail_input(p->resp, "Conversion between multi and regular "
                                  "vectors failed");
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
    /* sparse vectors and multivectors take example_x (plan.xkind) */
    if (q->vec->sparse || q->xkind)
        return qvs_fail(p->resp, 500,
                        "Service internal error: %s: a sparse or multi "
                        "example on the dense path",
                        where);
    if (cJSON_IsArray(ex)) {
        /* a matrix for a dense vector, as a nearest query refuses it */
        if (cJSON_IsArray(ex->child))
            return wrong_multi(p);
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
    if (lv->sparse)
        return wrong_sparse(p);
    if (qvs_mv_is_multi(lv))
        return wrong_multi(p);
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
                         const char *name, const char *using, float **rows,
                         size_t *n)
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
        /* Only a point of the searched collection is left out, by either
         * API (tests/openapi/test_multicollection_reco.py: a legacy
         * recommend by ids of a lookup_from collection equals one by their
         * raw vectors). */
        if (!example_vector(p, q, e, using, false, m + i * (size_t)dim, at)) {
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

/* ---- examples of sparse vectors and multivectors ------------------------- */

typedef struct sparse_pair {
    uint32_t idx;
    uint32_t order; /* position before sorting: keeps sums in input order */
    float val;
} sparse_pair;

static int cmp_sparse_pair(const void *a, const void *b)
{
    const sparse_pair *x = a, *y = b;
    if (x->idx != y->idx)
        return x->idx < y->idx ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts n pairs by index (then input order) and sums equal indices into
 * v (new arrays, ascending indices), each sum divided by divisor. */
static bool sparse_from_pairs(qvs_call *p, sparse_pair *pr, size_t n,
                              float divisor, qvs_sparse_vec *v)
{
    memset(v, 0, sizeof(*v));
    qsort(pr, n, sizeof(*pr), cmp_sparse_pair);
    v->indices = malloc((n ? n : 1) * sizeof(uint32_t));
    v->values = malloc((n ? n : 1) * sizeof(float));
    if (!v->indices || !v->values) {
        qvs_sparse_vec_free(v);
        return oom(p->resp);
    }
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v->indices[m - 1] == pr[i].idx) {
            v->values[m - 1] += pr[i].val;
            continue;
        }
        v->indices[m] = pr[i].idx;
        v->values[m++] = pr[i].val;
    }
    /* Qdrant divides the summed vector by the count afterwards. */
    for (uint32_t i = 0; divisor != 1.0f && i < m; i++)
        v->values[i] /= divisor;
    v->nnz = m;
    return true;
}

/* Indices ascending (a parsed vector keeps the request's order). */
static bool sparse_sort(qvs_call *p, qvs_sparse_vec *v)
{
    sparse_pair *pr = malloc((v->nnz ? v->nnz : 1) * sizeof(*pr));
    if (!pr)
        return oom(p->resp);
    for (uint32_t i = 0; i < v->nnz; i++)
        pr[i] = (sparse_pair){v->indices[i], i, v->values[i]};
    qvs_sparse_vec s;
    bool ok = sparse_from_pairs(p, pr, v->nnz, 1.0f, &s);
    free(pr);
    if (!ok)
        return false;
    qvs_sparse_vec_free(v);
    *v = s;
    return true;
}

/* Multiplies an example's values by the collection's IDF weights, as
 * Qdrant remaps every vector of a recommend, discover or context query
 * when the sparse vector has the idf modifier (lib/segment/src/index/
 * sparse_index/sparse_vector_index/read_view/search.rs: search transforms
 * the whole QueryVector with remap_idf_weights, then scores with the
 * plain raw scorer). */
static bool xvec_weigh(qvs_call *p, const plan *q, xvec *x)
{
    if (!x->sp.nnz)
        return true;
    float *w = malloc(x->sp.nnz * sizeof(float));
    if (!w)
        return oom(p->resp);
    qv_status st = qv_sparse_idf(q->vec->coll, x->sp.indices, x->sp.nnz, w);
    for (uint32_t i = 0; st == QV_OK && i < x->sp.nnz; i++)
        x->sp.values[i] *= w[i];
    free(w);
    return st == QV_OK ||
           qj_fail_lib(p->resp, q->vec->coll, st, "reading IDF weights");
}

/* Point id's matrix in the multivector collection c into *rows (malloc'd)
 * and *n. */
static qv_status mv_get(qv_collection *c, const qv_point_id *id, uint32_t dim,
                        float **rows, uint32_t *n)
{
    uint32_t cap = 0;
    *rows = NULL;
    for (;;) {
        qv_status st = qv_multi_get(c, id, *rows, cap, n);
        if (st != QV_ERANGE && !(st == QV_OK && !*rows))
            return st;
        float *b = realloc(*rows, (size_t)(*n ? *n : 1) * dim * sizeof(float));
        if (!b)
            return QV_ENOMEM;
        *rows = b;
        cap = *n;
    }
}

/* An example for a sparse vector or a multivector (q->xkind) into out: a
 * raw SparseVector (or bm25 Document), a raw matrix or one dense vector
 * (a matrix of one row, as a nearest query takes it), or a point id
 * resolved as example_vector resolves it. */
static bool example_x(qvs_call *p, plan *q, const cJSON *ex, const char *using,
                      bool exclude_any, xvec *out, const char *where)
{
    const qvs_vector *v = q->vec;
    if (cJSON_IsArray(ex)) {
        if (v->sparse)
            return cJSON_IsArray(ex->child) ? wrong_multi(p) : wrong_sparse(p);
        if (!qvs_mv_query(v, ex, &out->rows, &out->n_rows, p->resp, where))
            return false;
    } else if (cJSON_IsObject(ex)) {
        if (!v->sparse && qvs_sparse_is_json(ex))
            return wrong_sparse(p);
        if (!v->sparse)
            return qj_fail_bad_request(p->resp,
                                       "%s: inference objects are not "
                                       "supported by this server",
                                       where);
        if (!qvs_sparse_from_input(ex, true, &out->sp, p->resp, where) ||
            !sparse_sort(p, &out->sp))
            return false;
    } else {
        qv_point_id id;
        if (!qj_id(ex, &id, p->resp, where))
            return false;
        qvs_coll *lc = q->lookup ? q->lookup : p->coll;
        const char *lname = q->lookup_vector ? q->lookup_vector : using;
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
        if (v->sparse && !lv->sparse)
            return qvs_mv_is_multi(lv) ? wrong_multi(p) : wrong_sparse(p);
        if (lv->sparse && !v->sparse)
            return wrong_sparse(p);
        if (!v->sparse && lv->size != v->size)
            return qj_fail_input(p->resp,
                                 "Vector dimension error: expected dim: %u, "
                                 "got %u",
                                 v->size, lv->size);
        qv_status st;
        if (v->sparse)
            st = qv_sparse_get(lv->coll, &id, &out->sp.indices, &out->sp.values,
                               &out->sp.nnz);
        else if (qvs_mv_is_multi(lv))
            st = mv_get(lv->coll, &id, v->size, &out->rows, &out->n_rows);
        else if (!(out->rows = malloc(v->size * sizeof(float))))
            st = QV_ENOMEM;
        else if ((st = qv_get(lv->coll, &id, out->rows, v->size)) == QV_OK)
            out->n_rows = 1;
        if (st == QV_ENOTFOUND)
            return qj_fail_not_found(p->resp,
                                     "Vector with name \"%s\" for point "
                                     "not found",
                                     lname);
        if (st != QV_OK)
            return qj_fail_lib(p->resp, lv->coll, st, "reading a vector");
        if ((exclude_any || lc == p->coll) && !add_exclude(p, q, &id))
            return false;
    }
    /* Qdrant preprocesses every query vector: cosine rows unit length. */
    if (v->metric == QV_METRIC_COSINE)
        for (uint32_t r = 0; r < out->n_rows; r++)
            normalize(out->rows + (size_t)r * v->size, v->size);
    return true;
}

/* A list of sparse or multivector examples into a new array *out (*n of
 * them, zeroed first so that a failure part way frees cleanly). */
static bool example_xlist(qvs_call *p, plan *q, const cJSON *list,
                          const char *name, const char *using, xvec **out,
                          size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list)
        return true;
    if (!cJSON_IsArray(list))
        return qj_fail_format(p->resp, "%s: invalid type: %s, expected a list",
                              name, qj_type_name(list));
    size_t count = (size_t)cJSON_GetArraySize(list);
    if (!(*out = calloc(count ? count : 1, sizeof(xvec))))
        return oom(p->resp);
    *n = count;
    size_t i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        char at[96];
        snprintf(at, sizeof(at), "%s[%zu]", name, i);
        /* as in example_list: only this collection's points are left out */
        if (!example_x(p, q, e, using, false, &(*out)[i], at))
            return false;
    }
    return true;
}

/* Qdrant's average of sparse vectors (reco_query.rs avg_vectors): the
 * union of the indices, each value the sum over the vectors holding it
 * divided by the number of vectors. */
static bool sparse_avg(qvs_call *p, const xvec *x, size_t n,
                       qvs_sparse_vec *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += x[i].sp.nnz;
    sparse_pair *pr = malloc((total ? total : 1) * sizeof(*pr));
    if (!pr)
        return oom(p->resp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < x[i].sp.nnz; j++, k++)
            pr[k] = (sparse_pair){x[i].sp.indices[j], (uint32_t)k,
                                  x[i].sp.values[j]};
    bool ok = sparse_from_pairs(p, pr, total, (float)n, out);
    free(pr);
    return ok;
}

/* recommend average_vector on a sparse vector or a multivector (Qdrant's
 * avg_vector_for_recommendation, lib/segment/src/vector_storage/query/
 * reco_query.rs):
 *   sparse: avg(pos) + (avg(pos) - avg(neg)) over the union of indices
 *     (combine_aggregate, a missing index counting as 0), then a sparse
 *     nearest query (IDF applied by the search, as to any sparse query);
 *   multivector: the rows of every positive, then the rows of every
 *     negative negated, as one matrix (no division: MaxSim sums over the
 *     query's rows), then a MaxSim nearest query. */
static bool reco_avg_x(qvs_call *p, plan *q)
{
    if (q->vec->sparse) {
        qvs_sparse_vec ap, an;
        memset(&an, 0, sizeof(an));
        if (!sparse_avg(p, q->xpos, q->n_pos, &ap))
            return false;
        if (!q->n_neg) {
            q->sparse = ap;
        } else {
            bool ok = sparse_avg(p, q->xneg, q->n_neg, &an);
            size_t cap = (size_t)ap.nnz + an.nnz;
            qvs_sparse_vec *m = &q->sparse;
            if (ok) {
                m->indices = malloc((cap ? cap : 1) * sizeof(uint32_t));
                m->values = malloc((cap ? cap : 1) * sizeof(float));
                ok = (m->indices && m->values) || oom(p->resp);
            }
            uint32_t i = 0, j = 0, k = 0;
            while (ok && (i < ap.nnz || j < an.nnz)) {
                bool take_p = i < ap.nnz &&
                              (j >= an.nnz || ap.indices[i] <= an.indices[j]);
                bool take_n = j < an.nnz &&
                              (i >= ap.nnz || an.indices[j] <= ap.indices[i]);
                float pv = take_p ? ap.values[i] : 0.0f;
                float nv = take_n ? an.values[j] : 0.0f;
                m->indices[k] = take_p ? ap.indices[i] : an.indices[j];
                m->values[k++] = pv + pv - nv;
                i += take_p;
                j += take_n;
            }
            m->nnz = k;
            qvs_sparse_vec_free(&ap);
            qvs_sparse_vec_free(&an);
            if (!ok)
                return false;
        }
        for (uint32_t i = 0; i < q->sparse.nnz; i++)
            if (!isfinite(q->sparse.values[i]))
                return qj_fail_input(p->resp, "the recommend query vector is "
                                              "not finite");
        q->kind = PK_SPARSE;
        return true;
    }
    size_t rows = 0, dim = q->vec->size;
    for (size_t i = 0; i < q->n_pos; i++)
        rows += q->xpos[i].n_rows;
    for (size_t i = 0; i < q->n_neg; i++)
        rows += q->xneg[i].n_rows;
    if (rows > QV_MAX_MULTI_ROWS)
        return qj_fail_input(p->resp,
                             "the recommend query has %zu rows, more than "
                             "%u",
                             rows, (unsigned)QV_MAX_MULTI_ROWS);
    if (!(q->query = malloc(rows * dim * sizeof(float))))
        return oom(p->resp);
    float *o = q->query;
    for (size_t i = 0; i < q->n_pos; i++) {
        memcpy(o, q->xpos[i].rows, q->xpos[i].n_rows * dim * sizeof(float));
        o += q->xpos[i].n_rows * dim;
    }
    for (size_t i = 0; i < q->n_neg; i++)
        for (size_t f = 0; f < q->xneg[i].n_rows * dim; f++)
            *o++ = -q->xneg[i].rows[f];
    q->query_rows = (uint32_t)rows;
    q->kind = PK_NEAREST;
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
    q->xkind = q->vec->sparse || qvs_mv_is_multi(q->vec);
    if (q->xkind) {
        if (!example_xlist(p, q, jpos, "positive", using, &q->xpos,
                           &q->n_pos) ||
            !example_xlist(p, q, jneg, "negative", using, &q->xneg, &q->n_neg))
            return false;
        if (s == 0 && q->n_pos == 0)
            return qj_fail_input(p->resp, "Positive vectors should not be "
                                          "empty with `average` strategy");
        if (s == 0)
            return reco_avg_x(p, q);
        for (size_t i = 0; q->vec->sparse && i < q->n_pos; i++)
            if (!xvec_weigh(p, q, &q->xpos[i]))
                return false;
        for (size_t i = 0; q->vec->sparse && i < q->n_neg; i++)
            if (!xvec_weigh(p, q, &q->xneg[i]))
                return false;
        q->kind = s == 1 ? PK_RECO_BEST : PK_RECO_SUM;
        return true;
    }
    if (!example_list(p, q, jpos, "positive", using, &q->pos, &q->n_pos) ||
        !example_list(p, q, jneg, "negative", using, &q->neg, &q->n_neg))
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

/* ---- discover and context ------------------------------------------------ */

/* Context pairs into q->pos / q->neg (pair i is row i of both): ctx is one
 * {"positive", "negative"} object, a list of them, or absent / null (no
 * pairs), as Qdrant's ContextInput; the legacy request takes a list only.
 * Ids are resolved like recommend examples (example_vector). */
static bool context_pairs(qvs_call *p, plan *q, const cJSON *ctx,
                          const char *using, const char *where)
{
    size_t n = cJSON_IsArray(ctx)    ? (size_t)cJSON_GetArraySize(ctx)
               : cJSON_IsObject(ctx) ? 1
                                     : 0;
    if (ctx && !cJSON_IsArray(ctx) && !cJSON_IsObject(ctx))
        return qj_fail_format(p->resp,
                              "%s: invalid type: %s, expected a context pair "
                              "or a list of them",
                              where, qj_type_name(ctx));
    size_t row = q->vec->size;
    if (q->xkind) {
        q->xpos = calloc(n ? n : 1, sizeof(xvec));
        q->xneg = calloc(n ? n : 1, sizeof(xvec));
        if (!q->xpos || !q->xneg)
            return oom(p->resp);
        q->n_pos = q->n_neg = n; /* zeroed: plan_free frees what is read */
    } else {
        q->pos = malloc((n ? n : 1) * row * sizeof(float));
        q->neg = malloc((n ? n : 1) * row * sizeof(float));
        if (!q->pos || !q->neg)
            return oom(p->resp);
    }
    const cJSON *e = cJSON_IsArray(ctx) ? ctx->child : ctx;
    for (size_t i = 0; i < n; i++, e = e->next) {
        char at[96];
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        const cJSON *jp = member(e, "positive"), *jn = member(e, "negative");
        if (!cJSON_IsObject(e) || !jp || !jn)
            return qj_fail_format(p->resp,
                                  "%s: missing field `%s`, a context pair "
                                  "needs `positive` and `negative`",
                                  at, jp ? "negative" : "positive");
        if (q->xkind) {
            if (!example_x(p, q, jp, using, false, &q->xpos[i], at) ||
                !example_x(p, q, jn, using, false, &q->xneg[i], at))
                return false;
            if (q->vec->sparse && (!xvec_weigh(p, q, &q->xpos[i]) ||
                                   !xvec_weigh(p, q, &q->xneg[i])))
                return false;
            continue;
        }
        if (!example_vector(p, q, jp, using, false, q->pos + i * row, at) ||
            !example_vector(p, q, jn, using, false, q->neg + i * row, at))
            return false;
        if (q->vec->metric == QV_METRIC_COSINE) {
            normalize(q->pos + i * row, q->vec->size);
            normalize(q->neg + i * row, q->vec->size);
        }
    }
    q->n_pos = q->n_neg = n;
    return true;
}

/* The discover target (a vector or a point id) into q->query. */
static bool discover_target(qvs_call *p, plan *q, const cJSON *t,
                            const char *using)
{
    if (q->xkind)
        return example_x(p, q, t, using, false, &q->xtarget, "target") &&
               (!q->vec->sparse || xvec_weigh(p, q, &q->xtarget));
    if (!(q->query = malloc(q->vec->size * sizeof(float))))
        return oom(p->resp);
    if (!example_vector(p, q, t, using, false, q->query, "target"))
        return false;
    if (q->vec->metric == QV_METRIC_COSINE)
        normalize(q->query, q->vec->size);
    return true;
}

/* The vector a discover, context or relevance_feedback query scores;
 * sparse vectors and multivectors (xkind) keep their examples as xvecs. */
static bool discover_vector(qvs_call *p, plan *q, const char *using,
                            const char *what)
{
    if (!q->vec && !(q->vec = qvs_call_vector(p, using)))
        return false;
    (void)what;
    q->xkind = q->vec->sparse || qvs_mv_is_multi(q->vec);
    return true;
}

/* query {"discover": {"target", "context"}} (Qdrant's DiscoverInput: both
 * required, context may be null). */
static bool plan_discover(qvs_call *p, plan *q, const cJSON *x,
                          const char *using)
{
    if (!cJSON_IsObject(x))
        return qj_fail_format(p->resp,
                              "query.discover: invalid type: %s, expected "
                              "an object",
                              qj_type_name(x));
    const cJSON *t = member(x, "target");
    if (!t)
        return qj_fail_format(p->resp,
                              "query.discover: missing field `target`");
    if (!cJSON_GetObjectItemCaseSensitive(x, "context"))
        return qj_fail_format(p->resp,
                              "query.discover: missing field `context`");
    if (!discover_vector(p, q, using, "discover") ||
        !discover_target(p, q, t, using) ||
        !context_pairs(p, q, member(x, "context"), using,
                       "query.discover.context"))
        return false;
    q->kind = PK_DISCOVER;
    return true;
}

/* query {"context": pair | [pair] | null}. */
static bool plan_context(qvs_call *p, plan *q, const cJSON *x,
                         const char *using)
{
    if (!discover_vector(p, q, using, "context") ||
        !context_pairs(p, q, x, using, "query.context"))
        return false;
    q->kind = PK_CONTEXT;
    return true;
}

/* ---- relevance feedback -------------------------------------------------- */

/* strategy {"naive": {"a", "b", "c"}} (Qdrant's NaiveFeedbackStrategy; b
 * >= 0 as its schema says). */
static bool feedback_strategy(qvs_call *p, const cJSON *st, float *a, float *b,
                              float *c)
{
    const cJSON *nv = member(st, "naive");
    if (!cJSON_IsObject(st) || !cJSON_IsObject(nv))
        return qj_fail_format(p->resp,
                              "query.relevance_feedback.strategy: data did "
                              "not match any variant of untagged enum "
                              "FeedbackStrategy");
    bool has[3] = {false, false, false};
    if (!qj_float(nv, "a", &has[0], a, p->resp) ||
        !qj_float(nv, "b", &has[1], b, p->resp) ||
        !qj_float(nv, "c", &has[2], c, p->resp))
        return false;
    for (int i = 0; i < 3; i++)
        if (!has[i])
            return qj_fail_format(p->resp,
                                  "query.relevance_feedback.strategy.naive: "
                                  "missing field `%c`",
                                  "abc"[i]);
    if (*b < 0) {
        /* Qdrant's validator prints the f32 as Rust's Debug does: -1.0,
         * -0.5 (tests/openapi/test_relevance_feedback.py). */
        char v[32];
        snprintf(v, sizeof(v), "%g", (double)*b);
        if (!strpbrk(v, ".en"))
            strcat(v, ".0");
        return qj_fail_validation(
            p->resp,
            "%squery.relevance_feedback.strategy.naive.b: "
            "value %s invalid, must be 0.0 or larger",
            p->vpath ? p->vpath : "", v);
    }
    return true;
}

/* The ordered pairs of feedback items (i, j), i != j in Qdrant's
 * permutation order, whose scores differ by more than 0: i positive, j
 * negative, weight (s_i - s_j)^b * c (Qdrant's extract_context_pairs in
 * lib/segment/src/vector_storage/query/feedback_query.rs). */
static bool feedback_pairs(qvs_call *p, plan *q, const float *ex,
                           const float *sc, size_t n, float b, float c)
{
    size_t row = q->vec->size, k = 0, cap = n > 1 ? n * (n - 1) : 1;
    q->pos = malloc(cap * row * sizeof(float));
    q->neg = malloc(cap * row * sizeof(float));
    q->fb_weight = malloc(cap * sizeof(float));
    if (!q->pos || !q->neg || !q->fb_weight)
        return oom(p->resp);
    for (size_t i = 0; n > 1 && i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float conf = sc[i] - sc[j];
            if (i == j || !(conf > 0.0f))
                continue;
            memcpy(q->pos + k * row, ex + i * row, row * sizeof(float));
            memcpy(q->neg + k * row, ex + j * row, row * sizeof(float));
            q->fb_weight[k++] = powf(conf, b) * c;
        }
    q->n_pos = q->n_neg = k;
    return true;
}

/* feedback_pairs for sparse vectors and multivectors: the same pairs, as
 * indices into the items q->xpos[0..n). */
static bool feedback_xpairs(qvs_call *p, plan *q, const float *sc, size_t n,
                            float b, float c)
{
    size_t cap = n > 1 ? n * (n - 1) : 1, k = 0;
    q->fb_pair = malloc(2 * cap * sizeof(size_t));
    q->fb_weight = malloc(cap * sizeof(float));
    if (!q->fb_pair || !q->fb_weight)
        return oom(p->resp);
    for (size_t i = 0; n > 1 && i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float conf = sc[i] - sc[j];
            if (i == j || !(conf > 0.0f))
                continue;
            q->fb_pair[2 * k] = i;
            q->fb_pair[2 * k + 1] = j;
            q->fb_weight[k++] = powf(conf, b) * c;
        }
    q->n_fb = k;
    return true;
}

/* The feedback items of a sparse vector or multivector query into q->xpos
 * (IDF-weighted as recommend's examples), their scores into sc. */
static bool feedback_xitems(qvs_call *p, plan *q, const cJSON *fb,
                            const char *using, float *sc)
{
    static const char *const where = "query.relevance_feedback";
    size_t n = (size_t)cJSON_GetArraySize(fb), i = 0;
    if (!(q->xpos = calloc(n ? n : 1, sizeof(xvec))))
        return oom(p->resp);
    q->n_pos = n;
    for (const cJSON *e = fb->child; e; e = e->next, i++) {
        char at[96];
        bool has = false;
        snprintf(at, sizeof(at), "%s.feedback[%zu]", where, i);
        const cJSON *jx = member(e, "example");
        if (!cJSON_IsObject(e) || !jx)
            return qj_fail_format(p->resp, "%s: missing field `example`", at);
        if (!qj_float(e, "score", &has, &sc[i], p->resp))
            return false;
        if (!has)
            return qj_fail_format(p->resp, "%s: missing field `score`", at);
        if (!example_x(p, q, jx, using, false, &q->xpos[i], at) ||
            (q->vec->sparse && !xvec_weigh(p, q, &q->xpos[i])))
            return false;
    }
    return true;
}

/* query {"relevance_feedback": {"target", "feedback": [{"example",
 * "score"}], "strategy": {"naive": {a, b, c}}}}. */
static bool plan_feedback(qvs_call *p, plan *q, const cJSON *x,
                          const char *using)
{
    static const char *const where = "query.relevance_feedback";
    if (!cJSON_IsObject(x))
        return qj_fail_format(p->resp,
                              "%s: invalid type: %s, expected an "
                              "object",
                              where, qj_type_name(x));
    const cJSON *t = member(x, "target"), *fb = member(x, "feedback");
    const cJSON *st = member(x, "strategy");
    if (!t || !fb || !st)
        return qj_fail_format(p->resp, "%s: missing field `%s`", where,
                              !t    ? "target"
                              : !fb ? "feedback"
                                    : "strategy");
    if (!cJSON_IsArray(fb))
        return qj_fail_format(p->resp,
                              "%s.feedback: invalid type: %s, "
                              "expected a sequence",
                              where, qj_type_name(fb));
    if (!fb->child) /* Qdrant's RelevanceFeedbackInput: length(min = 1) */
        return qj_fail_validation(p->resp,
                                  "%s%s.feedback: feedback elements must be "
                                  "non-empty",
                                  p->vpath ? p->vpath : "", where);
    float b = 0, c = 0;
    if (!feedback_strategy(p, st, &q->fb_a, &b, &c) ||
        !discover_vector(p, q, using, "relevance_feedback") ||
        !discover_target(p, q, t, using))
        return false;
    size_t n = (size_t)cJSON_GetArraySize(fb), row = q->vec->size, i = 0;
    q->kind = PK_FEEDBACK;
    if (q->xkind) {
        float *xs = malloc((n ? n : 1) * sizeof(float));
        bool ok = xs ? feedback_xitems(p, q, fb, using, xs) : oom(p->resp);
        ok = ok && feedback_xpairs(p, q, xs, n, b, c);
        free(xs);
        return ok;
    }
    float *ex = malloc((n ? n : 1) * row * sizeof(float));
    float *sc = malloc((n ? n : 1) * sizeof(float));
    bool ok = ex && sc ? true : oom(p->resp);
    for (const cJSON *e = fb->child; ok && e; e = e->next, i++) {
        char at[96];
        bool has = false;
        snprintf(at, sizeof(at), "%s.feedback[%zu]", where, i);
        const cJSON *jx = member(e, "example");
        if (!cJSON_IsObject(e) || !jx)
            ok = qj_fail_format(p->resp, "%s: missing field `example`", at);
        else if (!qj_float(e, "score", &has, &sc[i], p->resp))
            ok = false;
        else if (!has)
            ok = qj_fail_format(p->resp, "%s: missing field `score`", at);
        else if (!example_vector(p, q, jx, using, false, ex + i * row, at))
            ok = false;
        else if (q->vec->metric == QV_METRIC_COSINE)
            normalize(ex + i * row, q->vec->size);
    }
    ok = ok && feedback_pairs(p, q, ex, sc, n, b, c);
    free(ex);
    free(sc);
    q->kind = PK_FEEDBACK;
    return ok;
}

/* ---- the query API ------------------------------------------------------- */

static bool unsupported(qvs_call *p, const char *what)
{
    return qj_fail_bad_request(
        p->resp, "%s is not supported by this server (Quiver)", what);
}

/* The "mmr" of a nearest query ({"diversity", "candidates_limit"}), dense,
 * sparse or multivector. */
static bool plan_mmr(qvs_call *p, plan *q, const cJSON *mmr)
{
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

/* A sparse query (server/sparse.h) against the sparse vector `using`. */
static bool plan_sparse(qvs_call *p, plan *q, const cJSON *j, const char *using,
                        const cJSON *mmr)
{
    if (!q->vec && !(q->vec = qvs_call_vector(p, using)))
        return false;
    if (!q->vec->sparse && qvs_sparse_is_json(j))
        return qj_fail_input(p->resp, "Conversion between sparse and regular "
                                      "vectors failed");
    if (!q->vec->sparse)
        return unsupported(p, "a Document (inference) for a dense vector");
    /* A dense vector (or matrix) for a sparse `using`: Qdrant's sparse
     * index refuses the query vector (WrongSparse), as writes do. */
    if (cJSON_IsArray(j))
        return qj_fail_input(p->resp, "Conversion between sparse and regular "
                                      "vectors failed");
    q->kind = PK_SPARSE;
    qv_point_id id; /* by id: that point's vector, the point excluded */
    bool ok = cJSON_IsObject(j)
                  ? qvs_sparse_from_input(j, true, &q->sparse, p->resp, "query")
                  : qvs_sparse_of_point(p->coll, q->vec, j, &id, &q->sparse,
                                        p->resp) &&
                        add_exclude(p, q, &id);
    return ok && (!mmr || plan_mmr(p, q, mmr));
}

/* A nearest query on a multivector: MaxSim with a matrix, one vector as
 * one row (server/multivec.c), or a point id: that point's matrix (of
 * `using`, or lookup_from's vector), the point excluded, as a dense query
 * by id; with MMR over the candidates' matrices (mmr_rerank). */
static bool plan_multi(qvs_call *p, plan *q, const cJSON *input,
                       const cJSON *mmr, const char *using, const char *where)
{
    q->kind = PK_NEAREST;
    if (cJSON_IsArray(input)) {
        if (!qvs_mv_query(q->vec, input, &q->query, &q->query_rows, p->resp,
                          where))
            return false;
    } else {
        xvec x = {0};
        bool ok = example_x(p, q, input, using, false, &x, where);
        qvs_sparse_vec_free(&x.sp);
        if (!ok) {
            free(x.rows);
            return false;
        }
        q->query = x.rows;
        q->query_rows = x.n_rows;
    }
    return !mmr || plan_mmr(p, q, mmr);
}

/* {"nearest": input, "mmr"?: {"diversity", "candidates_limit"}} */
static bool plan_nearest(qvs_call *p, plan *q, const cJSON *input,
                         const cJSON *mmr, const char *using)
{
    if (!q->vec && !(q->vec = qvs_call_vector(p, using)))
        return false;
    if (q->vec->sparse || qvs_sparse_is_input(input))
        return plan_sparse(p, q, input, using, mmr);
    if (qvs_mv_is_multi(q->vec))
        return plan_multi(p, q, input, mmr, using, "query");
    if (qvs_mv_refuse_matrix(input, p->resp))
        return false;
    if (!(q->query = malloc(q->vec->size * sizeof(float))))
        return oom(p->resp);
    if (!example_vector(p, q, input, using, false, q->query, "query"))
        return false;
    q->kind = PK_NEAREST;
    return !mmr || plan_mmr(p, q, mmr);
}

static bool ids_filter(qvs_call *p, const qv_point_id *ids, size_t n,
                       const cJSON *cond, qv_filter **out);

/* {"fusion": "rrf" | "dbsf"} or {"rrf": {"k"?, "weights"?}}; fusion works
 * on the prefetches' ranks only, so Qdrant refuses `using` with it
 * (collection_query.rs validation). */
static bool plan_fusion(qvs_call *p, plan *q, const cJSON *j, bool has_using)
{
    const cJSON *x = member(j, "fusion");
    if (has_using)
        return qj_fail_bad_request(p->resp, "Fusion queries cannot be "
                                            "combined with the 'using' "
                                            "field.");
    q->rrf_k = QVS_RRF_DEFAULT_K;
    if (x) {
        if (!cJSON_IsString(x) || (strcmp(x->valuestring, "rrf") != 0 &&
                                   strcmp(x->valuestring, "dbsf") != 0))
            return qj_fail_format(p->resp, "query.fusion: unknown variant, "
                                           "expected one of `rrf`, `dbsf`");
        q->kind = strcmp(x->valuestring, "rrf") == 0 ? PK_RRF : PK_DBSF;
        return true;
    }
    x = member(j, "rrf");
    q->kind = PK_RRF;
    if (!cJSON_IsObject(x))
        return qj_fail_format(p->resp,
                              "query.rrf: invalid type: %s, expected an "
                              "object",
                              qj_type_name(x));
    uint64_t k = QVS_RRF_DEFAULT_K;
    if (!qj_uint(x, "k", QVS_RRF_DEFAULT_K, 0, &k, p->resp))
        return false;
    if (k < 1)
        return qj_fail_validation(p->resp,
                                  "query.rrf.k: value %llu invalid, must be "
                                  "1 or larger",
                                  (unsigned long long)k);
    q->rrf_k = k;
    const cJSON *w = member(x, "weights");
    if (!w)
        return true;
    if (!cJSON_IsArray(w))
        return qj_fail_format(p->resp,
                              "query.rrf.weights: invalid type: %s, "
                              "expected a sequence",
                              qj_type_name(w));
    size_t n = (size_t)cJSON_GetArraySize(w);
    if (!(q->rrf_weights = malloc((n ? n : 1) * sizeof(float))))
        return oom(p->resp);
    q->n_rrf_weights = n;
    size_t i = 0;
    for (const cJSON *e = w->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return qj_fail_format(p->resp,
                                  "query.rrf.weights[%zu]: invalid type: "
                                  "%s, expected f32",
                                  i, qj_type_name(e));
        q->rrf_weights[i] = (float)e->valuedouble;
    }
    return true;
}

static bool plan_formula(qvs_call *p, plan *q, const cJSON *j)
{
    char err[512];
    int status = 400;
    if (!(q->formula = qvs_formula_parse(j, err, sizeof(err), &status)))
        return qvs_fail(p->resp, status, "%s", err);
    q->kind = PK_FORMULA;
    /* Conditions are filters: refuse a bad one now, not per candidate. */
    for (size_t i = 0; i < qvs_formula_n_conditions(q->formula); i++) {
        qv_filter *f = NULL;
        if (!ids_filter(p, NULL, 0, qvs_formula_condition(q->formula, i), &f))
            return false;
        qv_filter_free(f);
    }
    return true;
}

static bool plan_query_object(qvs_call *p, plan *q, const cJSON *j,
                              const char *using, bool has_using)
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
    if (member(j, "fusion") || member(j, "rrf"))
        return plan_fusion(p, q, j, has_using);
    if (member(j, "formula"))
        return plan_formula(p, q, j);
    /* A sparse query (server/sparse*.c) is a leaf like a dense one; the
     * tree (prefetch, rescoring, fusion, formula) is the same. */
    if (qvs_sparse_is_input(j))
        return plan_sparse(p, q, j, using, NULL);
    if ((x = member(j, "discover")))
        return plan_discover(p, q, x, using);
    if (cJSON_GetObjectItemCaseSensitive(j, "context"))
        return plan_context(p, q, member(j, "context"), using);
    if ((x = member(j, "relevance_feedback")))
        return plan_feedback(p, q, x, using);
    static const char *const kinds[] = {"text", "image", "object"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (member(j, kinds[i])) {
            char what[64];
            snprintf(what, sizeof(what), "query `%s`", kinds[i]);
            return unsupported(p, what);
        }
    return qj_fail_format(p->resp, "query: data did not match any variant of "
                                   "untagged enum QueryInterface");
}

/* ---- prefetch trees ------------------------------------------------------ */

/* Qdrant's MAX_PREFETCH_DEPTH (lib/shard/src/query/planned_query.rs). */
#define MAX_PREFETCH_DEPTH 64

/* The prefetch member as a list: an object is a list of one. */
static bool prefetch_list(qvs_call *p, const cJSON *o, const cJSON **first,
                          size_t *n)
{
    const cJSON *pre = member(o, "prefetch");
    *first = NULL;
    *n = 0;
    if (!pre)
        return true;
    if (cJSON_IsObject(pre)) {
        *first = pre;
        *n = 1;
        return true;
    }
    if (!cJSON_IsArray(pre))
        return qj_fail_format(p->resp,
                              "prefetch: invalid type: %s, expected a "
                              "Prefetch object or a list",
                              qj_type_name(pre));
    *first = pre->child;
    *n = (size_t)cJSON_GetArraySize(pre);
    return true;
}

/* Depth of the prefetch nesting under o (0: no prefetch), as Qdrant's
 * prefetches_depth; stops counting past limit levels. */
static size_t prefetch_depth(const cJSON *o, size_t limit)
{
    const cJSON *pre = member(o, "prefetch");
    if (!pre || limit == 0)
        return 0;
    size_t best = 0;
    if (cJSON_IsObject(pre))
        best = prefetch_depth(pre, limit - 1);
    else if (cJSON_IsArray(pre))
        for (const cJSON *e = pre->child; e; e = e->next) {
            size_t d = prefetch_depth(e, limit - 1);
            best = d > best ? d : best;
        }
    else
        return 0;
    return best + 1;
}

/* {"must": [a, b]}: a new object, or NULL when out of memory. */
static cJSON *filter_and(const cJSON *a, const cJSON *b)
{
    cJSON *f = cJSON_CreateObject(), *must = cJSON_CreateArray();
    cJSON *ca = qj_copy_json(a), *cb = qj_copy_json(b);
    if (!f || !must || !ca || !cb || !cJSON_AddItemToObject(f, "must", must)) {
        cJSON_Delete(f);
        cJSON_Delete(must);
        cJSON_Delete(ca);
        cJSON_Delete(cb);
        return NULL;
    }
    cJSON_AddItemToArray(must, ca);
    cJSON_AddItemToArray(must, cb);
    return f;
}

static bool plan_node(qvs_call *p, const cJSON *o, plan *q,
                      const cJSON *inherited);

/* The children of q: each prefetch with the filters above it merged into
 * its own (Qdrant propagates them to the leaves: recurse_prefetches). */
static bool plan_kids(qvs_call *p, plan *q, const cJSON *first, size_t n,
                      const cJSON *filter)
{
    if (!(q->kids = calloc(n, sizeof(plan))))
        return oom(p->resp);
    q->n_kids = n;
    size_t i = 0;
    for (const cJSON *e = first; e && i < n; e = e->next, i++) {
        if (!plan_node(p, e, &q->kids[i], filter))
            return false;
        /* A Prefetch has no offset, and the root's does not reach its
         * limit: Qdrant 1.14 stopped adding it (qdrant PR #6357), so a
         * prefetch's limit bounds every page of the root; Qdrant's older
         * test_random_rescore_with_offset expects the opposite. */
        q->kids[i].offset = 0;
    }
    return true;
}

/* Leaf kinds other than dense vectors: each scores one named vector of
 * its kind (query.h, qvs_leaf_kind).  Sparse vectors (server/sparse*.c)
 * and multivectors (server/multivec*.c) plug in by adding their kind
 * here; dense vectors are the plans above. */
static const qvs_leaf_kind *const leaf_kinds[] = {NULL};

static const qvs_leaf_kind *leaf_kind_of(const qvs_coll *c, const char *name)
{
    for (size_t i = 0; leaf_kinds[i]; i++)
        if (leaf_kinds[i]->owns(c, name))
            return leaf_kinds[i];
    return NULL;
}

/* The checks Qdrant makes once a node is read (collection_query.rs
 * validation, planned_query.rs leaf_source_from_scoring_query). */
static bool check_node(qvs_call *p, const plan *q)
{
    if (q->kind == PK_ORDER && q->has_threshold)
        return qj_fail_bad_request(p->resp, "Can't use score_threshold with "
                                            "an order_by query.");
    if ((q->kind == PK_RRF || q->kind == PK_DBSF) && !q->n_kids)
        return qj_fail_input(p->resp, "Validation failed: cannot apply "
                                      "Fusion without prefetches");
    if (q->kind == PK_FORMULA && !q->n_kids)
        return qj_fail_input(p->resp, "Validation failed: cannot apply "
                                      "Formula without prefetches");
    if (q->kind == PK_RRF && q->rrf_weights && q->n_rrf_weights != q->n_kids)
        return qj_fail_input(p->resp,
                             "Validation failed: Number of weights in RRF "
                             "should match number of pre-fetches: got %zu, "
                             "expected %zu",
                             q->n_rrf_weights, q->n_kids);
    return true;
}

/* A node without query: id order, unless it has prefetches or a
 * threshold, which need one. */
static bool plan_no_query(qvs_call *p, plan *q)
{
    if (q->n_kids)
        return qj_fail_bad_request(p->resp, "A query is needed to merge the "
                                            "prefetches. Can't have prefetches "
                                            "without defining a query.");
    if (q->has_threshold)
        return qj_fail_bad_request(p->resp,
                                   "A query is needed to use the "
                                   "score_threshold. Can't have "
                                   "score_threshold without defining a "
                                   "query.");
    q->kind = PK_SCROLL;
    return true;
}

/* One QueryRequest or Prefetch object into q, with the filter the nodes
 * above it impose (NULL: none). */
static bool plan_node(qvs_call *p, const cJSON *o, plan *q,
                      const cJSON *inherited)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp,
                              "invalid type: %s, expected a "
                              "QueryRequest object",
                              qj_type_name(o));
    const char *using = NULL;
    const cJSON *first = NULL, *own = member(o, "filter");
    size_t n_pre = 0;
    cJSON *merged = NULL;
    bool ok = false;
    if (!prefetch_list(p, o, &first, &n_pre))
        return false;
    if (own && inherited && !(merged = filter_and(inherited, own)))
        return oom(p->resp);
    const cJSON *filter = merged ? merged : own ? own : inherited;
    /* A node with prefetches scores only its children's answers: its
     * filter goes down to them, and it gets a has_id filter when run. */
    if (!qj_string(o, "using", &using, p->resp) ||
        !parse_common(p, o, n_pre ? NULL : filter, false, q) ||
        !parse_lookup(p, o, q))
        goto done;
    if (n_pre && !plan_kids(p, q, first, n_pre, filter))
        goto done;
    const cJSON *j = member(o, "query");
    const qvs_leaf_kind *lk = using && j ? leaf_kind_of(p->coll, using) : NULL;
    if (lk) {
        q->kind = PK_LEAF_KIND;
        q->leaf = lk;
        q->leaf_query = j;
        q->leaf_using = using;
        ok = check_node(p, q);
        goto done;
    }
    /* Without `using` a query scores vector "": a named collection
     * usually has none (queries that score vectors need `using` there, id
     * order and samples do not), one with an unnamed dense vector beside
     * sparse ones has it (catalog.h). */
    if (using && !(q->vec = qvs_call_vector(p, using)))
        goto done;
    if (!j)
        ok = plan_no_query(p, q);
    else if (cJSON_IsObject(j))
        ok = plan_query_object(p, q, j, using ? using : "", using && using[0]);
    else
        ok = plan_nearest(p, q, j, NULL, using ? using : "");
    ok = ok && check_node(p, q);
done:
    cJSON_Delete(merged);
    return ok;
}

/* Every id referenced by a query anywhere in the tree is left out of every
 * answer in it (Qdrant merges them into the root filter, which reaches all
 * leaves): gathers them into the root's list. */
static bool gather_excludes(qvs_call *p, plan *root, const plan *q)
{
    for (size_t i = 0; i < q->n_kids; i++) {
        const plan *k = &q->kids[i];
        for (size_t j = 0; j < k->n_exclude; j++)
            if (!add_exclude(p, root, &k->exclude[j]))
                return false;
        if (!gather_excludes(p, root, k))
            return false;
    }
    return true;
}

/* Copies the root's (sorted) exclusions to every node below it. */
static bool share_excludes(qvs_call *p, const plan *root, plan *q)
{
    for (size_t i = 0; i < q->n_kids; i++) {
        plan *k = &q->kids[i];
        k->n_exclude = 0;
        for (size_t j = 0; j < root->n_exclude; j++)
            if (!add_exclude(p, k, &root->exclude[j]))
                return false;
        if (!share_excludes(p, root, k))
            return false;
    }
    return true;
}

/* A QueryRequest object into a plan (a tree when it has prefetches). */
static bool plan_query(qvs_call *p, const cJSON *o, plan *q)
{
    memset(q, 0, sizeof(*q));
    size_t depth = prefetch_depth(o, 100000);
    if (depth > MAX_PREFETCH_DEPTH)
        return qj_fail_input(p->resp,
                             "Validation failed: prefetches depth %zu "
                             "exceeds max depth %d",
                             depth, MAX_PREFETCH_DEPTH);
    if (!plan_node(p, o, q, NULL) || !gather_excludes(p, q, q))
        return false;
    if (q->n_exclude)
        qsort(q->exclude, q->n_exclude, sizeof(*q->exclude), cmp_id);
    return share_excludes(p, q, q);
}

/* The QueryRequest of POST /points/query: Qdrant's validator names its
 * fields through the flattened `internal` (QueryRequest { internal:
 * QueryRequestInternal, shard_key }), so a limit of 0 is
 * "internal.limit: ..." there (tests/openapi/test_query.py). */
static bool plan_query_root(qvs_call *p, const cJSON *o, plan *q)
{
    const cJSON *lim = member(o, "limit");
    uint64_t v;
    if (lim && cJSON_IsNumber(lim) && qj_u64(lim, &v) && v == 0) {
        memset(q, 0, sizeof(*q));
        return qj_fail_validation(p->resp, "internal.limit: value 0 invalid, "
                                           "must be 1 or larger");
    }
    p->vpath = "internal.";
    bool ok = plan_query(p, o, q);
    p->vpath = NULL;
    return ok;
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
    if (!parse_common(p, o, member(o, "filter"), true, q))
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
    }
    if (!(q->vec = qvs_call_vector(p, name)))
        return false;
    if (q->vec->sparse || cJSON_IsObject(v))
        return plan_sparse(p, q, v, name, NULL);
    /* The legacy request takes one dense vector, which a multivector
     * searches as a matrix of one row (qdrant/qdrant#4203). */
    if (cJSON_IsArray(v) && cJSON_IsArray(v->child))
        return qj_fail_format(p->resp, "vector: data did not match any "
                                       "variant of untagged enum "
                                       "NamedVectorStruct");
    if (qvs_mv_is_multi(q->vec) && !cJSON_IsArray(v))
        return qj_fail_format(p->resp, "vector: data did not match any "
                                       "variant of untagged enum "
                                       "NamedVectorStruct");
    if (qvs_mv_is_multi(q->vec))
        return plan_multi(p, q, v, NULL, name, "vector");
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
        !parse_common(p, o, member(o, "filter"), true, q) ||
        !parse_lookup(p, o, q))
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

/* DiscoverRequest (legacy POST /points/discover): {"target"?, "context"?:
 * [pair], "limit", "using", "lookup_from", ...}.  A target makes it a
 * discover query, pairs alone a context query; neither is Qdrant's 400,
 * and score_threshold is not part of the request (lib/collection/src/
 * discovery.rs: discovery_into_core_search sets it to None). */
static bool plan_legacy_discover(qvs_call *p, const cJSON *o, plan *q)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp,
                              "invalid type: %s, expected a "
                              "DiscoverRequest object",
                              qj_type_name(o));
    const char *using = NULL;
    if (!qj_string(o, "using", &using, p->resp) ||
        !parse_common(p, o, member(o, "filter"), true, q) ||
        !parse_lookup(p, o, q))
        return false;
    q->has_threshold = false;
    if (!using)
        using = "";
    if (q->lookup && !q->lookup_vector)
        q->lookup_vector = "";
    const cJSON *t = member(o, "target"), *ctx = member(o, "context");
    if (ctx && !cJSON_IsArray(ctx))
        return qj_fail_format(p->resp,
                              "context: invalid type: %s, expected a "
                              "sequence",
                              qj_type_name(ctx));
    if (!t && !cJSON_GetArraySize(ctx))
        return qj_fail_bad_request(p->resp, "target and/or context_pairs "
                                            "must be specified");
    if (!discover_vector(p, q, using, "discover") ||
        (t && !discover_target(p, q, t, using)) ||
        !context_pairs(p, q, ctx, using, "context"))
        return false;
    q->kind = t ? PK_DISCOVER : PK_CONTEXT;
    return true;
}

/* ---- running a plan ------------------------------------------------------ */

typedef qvs_scored scored;

static bool hitbuf_push(qvs_call *p, hitbuf *b, const scored *s)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        scored *v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return oom(p->resp);
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *s;
    return true;
}

/* Appends ScoredPoint {"id", "version", "score", "payload"?, "vector"?}. */
cJSON *qvs_query_point_json(qvs_call *p, const qvs_scored *s,
                            const qj_payload_sel *wp, const qj_vector_sel *wv,
                            bool *gone)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *id = qj_id_json(&s->id), *sc = qj_float_json(s->score);
    *gone = false;
    if (!o || !id || !sc || !cJSON_AddItemToObject(o, "id", id)) {
        cJSON_Delete(o);
        cJSON_Delete(id);
        cJSON_Delete(sc);
        oom(p->resp);
        return NULL;
    }
    if (!cJSON_AddNumberToObject(o, "version", 0) ||
        !cJSON_AddItemToObject(o, "score", sc)) {
        cJSON_Delete(o);
        oom(p->resp);
        return NULL;
    }
    if (!qvs_call_add_payload_vector(p, o, &s->id, wp, wv, gone)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Appends ScoredPoint {"id", "version", "score", "payload"?, "vector"?},
 * or the hit to q->sink. */
static bool emit(qvs_call *p, const plan *q, cJSON *arr, const scored *s)
{
    if (q->sink)
        return hitbuf_push(p, q->sink, s);
    bool gone = false;
    cJSON *o = qvs_query_point_json(p, s, &q->wp, &q->wv, &gone);
    if (!o)
        return gone; /* deleted meanwhile: left out */
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
/* The engine's own similarity (qv_vector_similarity: its SIMD kernels in
 * f32, as Qdrant scores in f32), so that a relevance feedback with a = 1
 * and no pairs scores exactly as the nearest query does
 * (tests/openapi/test_relevance_feedback.py). */
static float similarity(qv_metric m, const float *a, const float *b,
                        uint32_t dim)
{
    float s = 0;
    (void)qv_vector_similarity(m, a, b, dim, &s);
    return s;
}

/* MaxSim of rows a (na of them) against rows b (nb): the sum over a's rows
 * of the best similarity() to one of b's rows (Qdrant's
 * score_max_similarity; one row each: similarity itself). */
static float rows_maxsim(qv_metric m, const float *a, uint32_t na,
                         const float *b, uint32_t nb, uint32_t dim)
{
    float sum = 0.0f;
    for (uint32_t i = 0; i < na; i++) {
        float best = -INFINITY;
        for (uint32_t j = 0; j < nb; j++) {
            float s =
                similarity(m, a + (size_t)i * dim, b + (size_t)j * dim, dim);
            best = s > best ? s : best;
        }
        sum += best;
    }
    return sum;
}

/* The candidates' vectors for MMR: candidate i's rows start at row
 * first[i] of rows and end at first[i + 1] (one row each for a dense
 * vector, a matrix for a multivector). */
typedef struct mmr_rows {
    const float *rows;
    const size_t *first;
} mmr_rows;

static float mmr_sim(const plan *q, const mmr_rows *v, const float *a,
                     uint32_t na, size_t j)
{
    uint32_t dim = q->vec->size;
    return rows_maxsim(q->vec->metric, a, na, v->rows + v->first[j] * dim,
                       (uint32_t)(v->first[j + 1] - v->first[j]), dim);
}

/* Maximal marginal relevance over hits[0..n) with relevance rel[i] (the
 * similarity to the query): the most relevant first, then repeatedly the
 * candidate with the best lambda * relevance - (1 - lambda) * max
 * similarity to those chosen, sim(ctx, c, s) taking candidate c as the
 * query (Qdrant's mmr.rs: the scorer of c scores s).  Reorders the first
 * `want` hits into the chosen order; scores stay the search's. */
typedef float (*mmr_sim_fn)(const void *ctx, size_t c, size_t s);

static bool mmr_select(qvs_call *p, const plan *q, scored *hits,
                       const float *rel, mmr_sim_fn sim, const void *ctx,
                       size_t n, size_t want)
{
    float *maxsim = malloc((n ? n : 1) * sizeof(float));
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    bool *used = calloc(n ? n : 1, sizeof(bool));
    scored *out = malloc((n ? n : 1) * sizeof(scored));
    bool ok = maxsim && order && used && out;
    if (!ok) {
        oom(p->resp);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        maxsim[i] = -INFINITY;
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
            float sm = sim(ctx, i, best);
            if (sm > maxsim[i])
                maxsim[i] = sm;
        }
    }
    for (size_t i = 0; i < chosen; i++)
        out[i] = hits[order[i]];
    memcpy(hits, out, chosen * sizeof(scored));
done:
    free(maxsim);
    free(order);
    free(used);
    free(out);
    return ok;
}

typedef struct rows_ctx {
    const plan *q;
    const mmr_rows *v;
} rows_ctx;

static float rows_pair(const void *ctx, size_t c, size_t s)
{
    const rows_ctx *x = ctx;
    uint32_t dim = x->q->vec->size;
    const mmr_rows *v = x->v;
    return mmr_sim(x->q, v, v->rows + v->first[c] * dim,
                   (uint32_t)(v->first[c + 1] - v->first[c]), s);
}

/* MMR over dense or multivector candidates (their rows in v). */
static bool mmr_rerank(qvs_call *p, const plan *q, scored *hits,
                       const mmr_rows *v, size_t n, size_t want)
{
    uint32_t dim = q->vec->size;
    uint32_t qn = q->query_rows ? q->query_rows : 1;
    float *qv = malloc((size_t)qn * dim * sizeof(float));
    float *rel = malloc((n ? n : 1) * sizeof(float));
    bool ok = qv && rel;
    if (!ok) {
        oom(p->resp);
    } else {
        memcpy(qv, q->query, (size_t)qn * dim * sizeof(float));
        if (q->vec->metric == QV_METRIC_COSINE)
            for (uint32_t r = 0; r < qn; r++)
                normalize(qv + (size_t)r * dim, dim);
        for (size_t i = 0; i < n; i++)
            rel[i] = mmr_sim(q, v, qv, qn, i);
        rows_ctx x = {q, v};
        ok = mmr_select(p, q, hits, rel, rows_pair, &x, n, want);
    }
    free(qv);
    free(rel);
    return ok;
}

/* The vectors of the candidates s[0..nh) for MMR into *v (rows and first
 * malloc'd), dropping candidates deleted since the search; *nh shrinks. */
static bool mmr_fetch(qvs_call *p, const plan *q, scored *s, size_t *nh,
                      float **rows, size_t **first)
{
    qv_collection *c = q->vec->coll;
    uint32_t dim = q->vec->size;
    size_t cap = *nh, used = 0, m = 0;
    *rows = malloc(cap * (size_t)dim * sizeof(float));
    *first = malloc((*nh + 1) * sizeof(size_t));
    if (!*rows || !*first)
        return oom(p->resp);
    for (size_t i = 0; i < *nh; i++) {
        float *one = NULL;
        uint32_t n = 1;
        qv_status st;
        if (!q->query_rows) {
            /* a dense row straight into place (cap holds one per hit) */
            st = qv_get(c, &s[i].id, *rows + used * dim, dim);
            if (st == QV_OK) {
                (*first)[m] = used++;
                s[m++] = s[i];
            } else if (st != QV_ENOTFOUND) {
                return qj_fail_lib(p->resp, c, st, "reading a vector");
            }
            continue;
        }
        st = mv_get(c, &s[i].id, dim, &one, &n);
        if (st == QV_OK && used + n > cap) {
            size_t nc = (used + n) * 2;
            float *g = realloc(*rows, nc * (size_t)dim * sizeof(float));
            if (!g)
                st = QV_ENOMEM;
            else {
                *rows = g;
                cap = nc;
            }
        }
        if (st == QV_OK) {
            memcpy(*rows + used * dim, one, (size_t)n * dim * sizeof(float));
            (*first)[m] = used;
            used += n;
            s[m++] = s[i];
        }
        free(one);
        if (st != QV_OK && st != QV_ENOTFOUND)
            return qj_fail_lib(p->resp, c, st, "reading a vector");
    }
    (*first)[m] = used;
    *nh = m;
    return true;
}

static bool run_nearest(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_collection *c = q->vec->coll;
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
    size_t *first = NULL;
    bool ok = false;
    size_t nh = 0;
    if (!hits || !s) {
        oom(p->resp);
        goto done;
    }
    st = qvs_mv_search(q->vec, q->query, q->query_rows, &sp, hits, &nh);
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
        if (!mmr_fetch(p, q, s, &nh, &vecs, &first))
            goto done;
        uint64_t page = sat_add(q->limit, q->offset);
        size_t keep = (size_t)(page < nh ? page : nh);
        mmr_rows v = {vecs, first};
        if (!mmr_rerank(p, q, s, &v, nh, keep))
            goto done;
        nh = keep;
    }
    ok = emit_page(p, q, arr, s, nh);
done:
    free(hits);
    free(s);
    free(vecs);
    free(first);
    return ok;
}

/* Qdrant's sparse dot (sparse_vector.rs score): the products over the
 * indices both hold (both ascending), summed in f32 in index order; 0
 * without any. */
static float sparse_dot_raw(const uint32_t *ai, const float *av, uint32_t an,
                            const uint32_t *bi, const float *bv, uint32_t bn)
{
    float s = 0.0f;
    uint32_t i = 0, j = 0;
    while (i < an && j < bn) {
        if (ai[i] < bi[j])
            i++;
        else if (ai[i] > bi[j])
            j++;
        else
            s += av[i++] * bv[j++];
    }
    return s;
}

/* Sparse MMR candidates: each one's stored vector (ascending indices). */
typedef struct sparse_cands {
    uint32_t **idx;
    float **val;
    uint32_t *nnz;
} sparse_cands;

static float sparse_pair_sim(const void *ctx, size_t c, size_t s)
{
    const sparse_cands *x = ctx;
    return sparse_dot_raw(x->idx[c], x->val[c], x->nnz[c], x->idx[s], x->val[s],
                          x->nnz[s]);
}

/* MMR over sparse candidates s[0..*nh), as Qdrant's mmr.rs on a volatile
 * sparse storage: relevance and similarities are plain sparse dots (the
 * query as given, no IDF: IDF belongs to the index search that found the
 * candidates).  Candidates deleted since the search are dropped; *nh
 * becomes the page kept. */
static bool sparse_mmr(qvs_call *p, const plan *q, scored *s, size_t *nh)
{
    size_t n = *nh, m = 0;
    qv_collection *c = q->vec->coll;
    sparse_cands x = {calloc(n, sizeof(uint32_t *)), calloc(n, sizeof(float *)),
                      calloc(n, sizeof(uint32_t))};
    float *rel = malloc(n * sizeof(float));
    qvs_sparse_vec qs = {
        malloc((q->sparse.nnz ? q->sparse.nnz : 1) * sizeof(uint32_t)),
        malloc((q->sparse.nnz ? q->sparse.nnz : 1) * sizeof(float)),
        q->sparse.nnz};
    bool ok = x.idx && x.val && x.nnz && rel && qs.indices && qs.values;
    if (!ok) {
        oom(p->resp);
        goto done;
    }
    memcpy(qs.indices, q->sparse.indices, qs.nnz * sizeof(uint32_t));
    memcpy(qs.values, q->sparse.values, qs.nnz * sizeof(float));
    if (!(ok = sparse_sort(p, &qs)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        qv_status st =
            qv_sparse_get(c, &s[i].id, &x.idx[m], &x.val[m], &x.nnz[m]);
        if (st == QV_ENOTFOUND)
            continue;
        if (st != QV_OK) {
            ok = qj_fail_lib(p->resp, c, st, "reading a vector");
            goto done;
        }
        rel[m] = sparse_dot_raw(qs.indices, qs.values, qs.nnz, x.idx[m],
                                x.val[m], x.nnz[m]);
        s[m++] = s[i];
    }
    uint64_t page = sat_add(q->limit, q->offset);
    size_t keep = (size_t)(page < m ? page : m);
    ok = mmr_select(p, q, s, rel, sparse_pair_sim, &x, m, keep);
    *nh = keep;
done:
    for (size_t i = 0; x.idx && x.val && i < m; i++) {
        qv_free(x.idx[i]);
        qv_free(x.val[i]);
    }
    free(x.idx);
    free(x.val);
    free(x.nnz);
    free(rel);
    qvs_sparse_vec_free(&qs);
    return ok;
}

static bool run_sparse(qvs_call *p, const plan *q, cJSON *arr)
{
    uint64_t want = q->mmr ? q->mmr_candidates : sat_add(q->limit, q->offset);
    want = sat_add(want, q->n_exclude);
    qv_hit *hits = NULL;
    size_t nh = 0;
    if (!qvs_sparse_search(q->vec, &q->sparse, q->filter, want, q->exact,
                           q->has_threshold, q->threshold, &hits, &nh, p->resp))
        return false;
    scored *s = malloc((nh ? nh : 1) * sizeof(*s));
    bool ok = s != NULL;
    for (size_t i = 0; ok && i < nh; i++)
        s[i] = (scored){hits[i].id, hits[i].score};
    if (ok) {
        nh = keep_hits(q, true, s, nh);
        if (q->mmr && nh > 1)
            ok = sparse_mmr(p, q, s, &nh);
        ok = ok && emit_page(p, q, arr, s, nh);
    } else {
        oom(p->resp);
    }
    free(s);
    free(hits);
    return ok;
}

/* Qdrant's scaled fast sigmoid, mapping any similarity into (0, 1). */
static float scaled_sigmoid(float x)
{
    return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f);
}

/* A candidate of a scan: a dense vector (v), a matrix (v, n_rows rows)
 * or a sparse vector (idx, val, nnz; indices ascending). */
typedef struct cand {
    const float *v;
    uint32_t n_rows;
    const uint32_t *idx;
    const float *val;
    uint32_t nnz;
} cand;

/* Qdrant's sparse dot (sparse_vector.rs score), candidate side. */
static float sparse_dot(const qvs_sparse_vec *a, const cand *c)
{
    return sparse_dot_raw(a->indices, a->values, a->nnz, c->idx, c->val,
                          c->nnz);
}

/* MaxSim of the query rows x against the candidate's rows, with the row
 * similarity of similarity() (Qdrant's score_max_similarity; the
 * library's MaxSim, core/multi/multi_maxsim.c, sums the same way). */
static float maxsim(qv_metric m, const xvec *x, const cand *c, uint32_t dim)
{
    return rows_maxsim(m, x->rows, x->n_rows, c->v, c->n_rows, dim);
}

enum { EX_POS, EX_NEG, EX_TARGET };

/* The similarity of candidate c to example i of a side (the target: i
 * unused), whatever the vector's kind. */
static float ex_sim(const plan *q, const cand *c, int side, size_t i)
{
    uint32_t dim = q->vec->size;
    qv_metric m = q->vec->metric;
    if (!q->xkind) {
        const float *e = side == EX_TARGET ? q->query
                         : side == EX_POS  ? q->pos + i * (size_t)dim
                                           : q->neg + i * (size_t)dim;
        return similarity(m, c->v, e, dim);
    }
    const xvec *x = side == EX_TARGET ? &q->xtarget
                    : side == EX_POS  ? &q->xpos[i]
                                      : &q->xneg[i];
    return q->vec->sparse ? sparse_dot(&x->sp, c) : maxsim(m, x, c, dim);
}

/* A recommend score of candidate c against the examples: best_score takes
 * the closest example, sigmoid-scaled, negated when it is a negative one;
 * sum_scores adds the similarities to positives and subtracts those to
 * negatives (reco_query.rs: RecoBestScoreQuery, RecoSumScoresQuery). */
static float reco_score(const plan *q, const cand *c)
{
    if (q->kind == PK_RECO_SUM) {
        float sp = 0, sn = 0;
        for (size_t i = 0; i < q->n_pos; i++)
            sp += ex_sim(q, c, EX_POS, i);
        for (size_t i = 0; i < q->n_neg; i++)
            sn += ex_sim(q, c, EX_NEG, i);
        return sp - sn;
    }
    float bp = -INFINITY, bn = -INFINITY;
    for (size_t i = 0; i < q->n_pos; i++) {
        float s = ex_sim(q, c, EX_POS, i);
        bp = s > bp ? s : bp;
    }
    for (size_t i = 0; i < q->n_neg; i++) {
        float s = ex_sim(q, c, EX_NEG, i);
        bn = s > bn ? s : bn;
    }
    return bp > bn ? scaled_sigmoid(bp) : -scaled_sigmoid(bn);
}

/* Qdrant's discover and context scores (lib/segment/src/vector_storage/
 * query/discovery_query.rs, context_query.rs), in f32 as Qdrant computes
 * them.  discover: each pair adds +1 when v is more similar to its
 * positive, -1 when to its negative, 0 on a tie (total_cmp), and the
 * scaled sigmoid of the similarity to the target, in (0, 1), breaks ties
 * between equal ranks.  context: each pair adds the fast sigmoid of
 * min(sim(positive) - sim(negative) - f32::EPSILON, 0), a loss in (-1, 0]:
 * 0 for every point on the positive side of all pairs. */
static float discover_score(const plan *q, const cand *c)
{
    float total = 0;
    int rank = 0;
    for (size_t i = 0; i < q->n_pos; i++) {
        float sp = ex_sim(q, c, EX_POS, i);
        float sn = ex_sim(q, c, EX_NEG, i);
        if (q->kind == PK_DISCOVER) {
            rank += sp > sn ? 1 : sp < sn ? -1 : 0;
            continue;
        }
        float d = sp - sn - FLT_EPSILON;
        d = d < 0.0f ? d : 0.0f;
        total += d / (1.0f + fabsf(d));
    }
    if (q->kind == PK_CONTEXT)
        return total;
    return (float)rank + scaled_sigmoid(ex_sim(q, c, EX_TARGET, 0));
}

/* Qdrant's naive relevance feedback score (feedback_query.rs): a times
 * the target similarity, plus each pair's weight times sim(positive) -
 * sim(negative), accumulated in f32 in pair order. */
static float feedback_score(const plan *q, const float *v)
{
    uint32_t dim = q->vec->size;
    qv_metric m = q->vec->metric;
    float score = q->fb_a * similarity(m, v, q->query, dim);
    for (size_t i = 0; i < q->n_pos; i++) {
        float delta = similarity(m, v, q->pos + i * (size_t)dim, dim) -
                      similarity(m, v, q->neg + i * (size_t)dim, dim);
        score += q->fb_weight[i] * delta;
    }
    return score;
}

/* feedback_score for sparse vectors and multivectors (ex_sim). */
static float feedback_xscore(const plan *q, const cand *c)
{
    float score = q->fb_a * ex_sim(q, c, EX_TARGET, 0);
    for (size_t k = 0; k < q->n_fb; k++) {
        float delta = ex_sim(q, c, EX_POS, q->fb_pair[2 * k]) -
                      ex_sim(q, c, EX_POS, q->fb_pair[2 * k + 1]);
        score += q->fb_weight[k] * delta;
    }
    return score;
}

static float scan_score(const plan *q, const cand *c)
{
    if (q->kind == PK_FEEDBACK)
        return q->xkind ? feedback_xscore(q, c) : feedback_score(q, c->v);
    return q->kind == PK_DISCOVER || q->kind == PK_CONTEXT
               ? discover_score(q, c)
               : reco_score(q, c);
}

/* Point id's vector of q's kind into *c (buffers in *buf / the sparse
 * arrays, which the caller frees). */
static qv_status scan_get(const plan *q, const qv_point_id *id, float **buf,
                          uint32_t *cap_rows, cand *c)
{
    qv_collection *coll = q->vec->coll;
    uint32_t dim = q->vec->size;
    memset(c, 0, sizeof(*c));
    if (q->vec->sparse)
        return qv_sparse_get(coll, id, (uint32_t **)&c->idx, (float **)&c->val,
                             &c->nnz);
    if (!q->xkind) {
        c->v = *buf;
        c->n_rows = 1;
        return qv_get(coll, id, *buf, dim);
    }
    for (;;) {
        qv_status st = qv_multi_get(coll, id, *buf, *cap_rows, &c->n_rows);
        if (st != QV_ERANGE) {
            c->v = *buf;
            return st;
        }
        float *b = realloc(*buf, (size_t)c->n_rows * dim * sizeof(float));
        if (!b)
            return QV_ENOMEM;
        *buf = b;
        *cap_rows = c->n_rows;
    }
}

static int cmp_scored_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return qv_id_compare(&x->id, &y->id);
}

/* best_score / sum_scores, discover and context: an exact scan of every
 * matching point. */
static bool run_reco_scan(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_collection *c = q->vec->coll;
    uint32_t dim = q->vec->size, cap_rows = 1;
    qv_point_id *ids = NULL;
    size_t n = 0, m = 0;
    scored *s = NULL;
    float *v = malloc((dim ? dim : 1) * sizeof(float));
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
        cand cd;
        qv_status st = scan_get(q, &ids[i], &v, &cap_rows, &cd);
        if (st == QV_OK) {
            s[m].id = ids[i];
            s[m++].score = scan_score(q, &cd);
        }
        free((void *)cd.idx);
        free((void *)cd.val);
        if (st == QV_ENOTFOUND)
            continue;
        if (st != QV_OK) {
            qj_fail_lib(p->resp, c, st, "reading a vector");
            goto done;
        }
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
    /* ids a tree excludes are skipped: fetch as many more */
    uint64_t want = sat_add(sat_add(q->limit, q->offset), q->n_exclude);
    size_t k = (size_t)(want < count ? want : count), n = 0, m = 0;
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
    for (size_t i = 0; i < n; i++)
        if (!excluded(q, &ids[i])) {
            s[m].id = ids[i];
            s[m++].score = 1.0f;
        }
    ok = emit_page(p, q, arr, s, m);
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
 * Fisher-Yates), score 1.0.  Qdrant ignores offset for a sample without
 * prefetch (its output is not stable anyway) and pages one over a
 * prefetch (collection_query.rs, try_into_shard_request). */
static bool run_sample(qvs_call *p, const plan *q, cJSON *arr)
{
    qv_point_id *ids = NULL;
    size_t n = 0, m = 0;
    if (!qvs_call_scroll_all(p, p->coll->points, q->filter, &ids, &n))
        return false;
    for (size_t i = 0; i < n; i++) /* ids a tree excludes */
        if (!excluded(q, &ids[i]))
            ids[m++] = ids[i];
    n = m;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)(uintptr_t)ids ^ n;
    uint64_t skip = q->n_kids ? q->offset : 0;
    uint64_t want = sat_add(q->limit, skip);
    size_t k = (size_t)(want < n ? want : n);
    bool ok = true;
    for (size_t i = 0; ok && i < k; i++) {
        size_t j = i + (size_t)(splitmix(&seed) % (n - i));
        qv_point_id t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
        scored s = {.id = ids[i], .score = 1.0f};
        if (i >= skip)
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
    /* ids a tree excludes are skipped: fetch as many more */
    uint64_t want = sat_add(sat_add(q->limit, q->offset), q->n_exclude);
    bool ok = qvs_call_order_by_run(p, &q->order, q->filter,
                                    (size_t)(want < QV_MAX_K ? want : QV_MAX_K),
                                    &ids, &vals, &n);
    uint64_t kept = 0;
    for (size_t i = 0; ok && i < n && kept < sat_add(q->limit, q->offset);
         i++) {
        if (excluded(q, &ids[i]) || kept++ < q->offset)
            continue;
        scored s = {.id = ids[i], .score = 0.0f};
        int before = cJSON_GetArraySize(arr);
        ok = emit(p, q, arr, &s);
        if (ok && !q->sink && cJSON_GetArraySize(arr) > before)
            cJSON_AddItemToObject(cJSON_GetArrayItem(arr, before),
                                  "order_value",
                                  qvs_order_value_json(&vals[i]));
    }
    free(ids);
    free(vals);
    return ok;
}

/* A leaf (or re-score) on a vector of another kind: the kind searches,
 * this drops the ids the tree excludes and pages. */
static bool run_leaf_kind(qvs_call *p, const plan *q, cJSON *arr)
{
    qvs_leaf_search ls = {
        .using = q->leaf_using,
        .query = q->leaf_query,
        .filter = q->filter,
        .limit = sat_add(sat_add(q->limit, q->offset), q->n_exclude),
        .has_threshold = q->has_threshold,
        .threshold = q->threshold,
    };
    scored *s = NULL;
    size_t n = 0, m = 0;
    if (!q->leaf->search(p, &ls, &s, &n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!excluded(q, &s[i].id))
            s[m++] = s[i];
    bool ok = emit_page(p, q, arr, s, m);
    free(s);
    return ok;
}

/* Runs a plan whose candidates are already settled (a leaf, or a node
 * whose filter now names its children's answers): its hits go to arr, or
 * to q->sink when set.  Fusion and formula nodes are run_tree's. */
static bool run_kind(qvs_call *p, plan *q, cJSON *arr)
{
    switch (q->kind) {
    case PK_NEAREST:
        return run_nearest(p, q, arr);
    case PK_RECO_BEST:
    case PK_RECO_SUM:
    case PK_DISCOVER:
    case PK_CONTEXT:
    case PK_FEEDBACK:
        return run_reco_scan(p, q, arr);
    case PK_SCROLL:
        return run_scroll(p, q, arr);
    case PK_SAMPLE:
        return run_sample(p, q, arr);
    case PK_ORDER:
        return run_order(p, q, arr);
    case PK_LEAF_KIND:
        return run_leaf_kind(p, q, arr);
    case PK_SPARSE:
        return run_sparse(p, q, arr);
    case PK_RRF:
    case PK_DBSF:
    case PK_FORMULA:
        break;
    }
    return qvs_fail(p->resp, 500,
                    "Service internal error: fusion without "
                    "prefetches was planned");
}

/* ---- running a prefetch tree --------------------------------------------- */

static void hitbufs_free(hitbuf *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        free(b[i].v);
    free(b);
}

/* The distinct ids of the children's answers, sorted (a new array). */
static bool union_ids(qvs_call *p, const hitbuf *kids, size_t n,
                      qv_point_id **out, size_t *n_out)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += kids[i].n;
    qv_point_id *ids = malloc((t ? t : 1) * sizeof(*ids));
    if (!ids)
        return oom(p->resp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < kids[i].n; j++)
            ids[m++] = kids[i].v[j].id;
    qsort(ids, m, sizeof(*ids), cmp_id);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || qv_id_compare(&ids[u - 1], &ids[i]) != 0)
            ids[u++] = ids[i];
    *out = ids;
    *n_out = u;
    return true;
}

/* {"must": [cond?, {"has_id": ids}]}, compiled (cond NULL: ids alone). */
static bool ids_filter(qvs_call *p, const qv_point_id *ids, size_t n,
                       const cJSON *cond, qv_filter **out)
{
    cJSON *f = cJSON_CreateObject(), *must = cJSON_CreateArray();
    cJSON *has = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON *c = cond ? qj_copy_json(cond) : NULL;
    bool ok = f && must && has && list && (c || !cond);
    if (ok) {
        cJSON_AddItemToObject(f, "must", must);
        if (c)
            cJSON_AddItemToArray(must, c);
        cJSON_AddItemToArray(must, has);
        cJSON_AddItemToObject(has, "has_id", list);
        for (size_t i = 0; ok && i < n; i++) {
            cJSON *id = qj_id_json(&ids[i]);
            ok = id && cJSON_AddItemToArray(list, id);
        }
    } else {
        cJSON_Delete(must);
        cJSON_Delete(has);
        cJSON_Delete(list);
        cJSON_Delete(c);
    }
    if (ok)
        ok = qvs_call_filter(p, f, out, "filter");
    else
        oom(p->resp);
    cJSON_Delete(f);
    return ok;
}

static bool run_tree(qvs_call *p, plan *q, cJSON *arr);

/* The answer of a prefetch (best first, at most its limit) into out. */
static bool run_node(qvs_call *p, plan *q, hitbuf *out)
{
    q->sink = out;
    bool ok = q->n_kids ? run_tree(p, q, NULL) : run_kind(p, q, NULL);
    q->sink = NULL;
    return ok;
}

/* One answer per child of q, in prefetch order (a new array). */
static bool run_kids(qvs_call *p, plan *q, hitbuf **out)
{
    hitbuf *kids = calloc(q->n_kids, sizeof(*kids));
    if (!kids)
        return oom(p->resp);
    for (size_t i = 0; i < q->n_kids; i++)
        if (!run_node(p, &q->kids[i], &kids[i])) {
            hitbufs_free(kids, q->n_kids);
            return false;
        }
    *out = kids;
    return true;
}

static bool fuse(qvs_call *p, const plan *q, const hitbuf *kids, scored **out,
                 size_t *n)
{
    qvs_ranked *lists = calloc(q->n_kids ? q->n_kids : 1, sizeof(*lists));
    if (!lists)
        return oom(p->resp);
    for (size_t i = 0; i < q->n_kids; i++) {
        lists[i].hits = kids[i].v;
        lists[i].n = kids[i].n;
    }
    bool ok = q->kind == PK_RRF ? qvs_fuse_rrf(lists, q->n_kids, q->rrf_k,
                                               q->rrf_weights, out, n)
                                : qvs_fuse_dbsf(lists, q->n_kids, out, n);
    free(lists);
    return ok ? true : oom(p->resp);
}

/* What a formula sees of one candidate (query.h qvs_formula_env). */
typedef struct formula_ctx {
    const hitbuf *by_id; /* each child's answer sorted by id */
    size_t n_kids;
    qv_point_id **cond_ids; /* per condition: matching candidates, sorted */
    size_t *cond_n;
    qv_point_id id; /* the candidate */
} formula_ctx;

static int cmp_scored_id(const void *a, const void *b)
{
    return qv_id_compare(&((const scored *)a)->id, &((const scored *)b)->id);
}

static bool fx_score(void *ctx, size_t i, float *out)
{
    const formula_ctx *c = ctx;
    if (i >= c->n_kids || c->by_id[i].n == 0)
        return false;
    scored key = {.id = c->id};
    const scored *s =
        bsearch(&key, c->by_id[i].v, c->by_id[i].n, sizeof(*s), cmp_scored_id);
    if (s)
        *out = s->score;
    return s != NULL;
}

static bool fx_condition(void *ctx, size_t i)
{
    const formula_ctx *c = ctx;
    return c->cond_n[i] && bsearch(&c->id, c->cond_ids[i], c->cond_n[i],
                                   sizeof(qv_point_id), cmp_id) != NULL;
}

/* The candidates among ids that match each condition of the formula. */
static bool formula_conditions(qvs_call *p, const plan *q,
                               const qv_point_id *ids, size_t n, formula_ctx *c)
{
    size_t nc = qvs_formula_n_conditions(q->formula);
    c->cond_ids = calloc(nc ? nc : 1, sizeof(*c->cond_ids));
    c->cond_n = calloc(nc ? nc : 1, sizeof(*c->cond_n));
    if (!c->cond_ids || !c->cond_n)
        return oom(p->resp);
    for (size_t i = 0; i < nc; i++) {
        qv_filter *f = NULL;
        if (!ids_filter(p, ids, n, qvs_formula_condition(q->formula, i), &f))
            return false;
        bool ok = qvs_call_scroll_all(p, p->coll->points, f, &c->cond_ids[i],
                                      &c->cond_n[i]);
        qv_filter_free(f);
        if (!ok)
            return false;
    }
    return true;
}

/* The formula's value for the candidate c->id, into *out; *gone when the
 * point was deleted meanwhile. */
static bool formula_one(qvs_call *p, const plan *q, formula_ctx *c, double *out,
                        bool *gone)
{
    char *json = NULL;
    size_t len = 0;
    qv_status st = qv_payload_get(p->coll->points, &c->id, NULL, &json, &len);
    if (st == QV_ENOTFOUND) {
        *gone = true;
        return true;
    }
    if (st != QV_OK)
        return qj_fail_lib(p->resp, p->coll->points, st, "reading a payload");
    cJSON *payload = cJSON_ParseWithLength(json, len);
    qv_free(json);
    if (!payload)
        return oom(p->resp);
    qvs_formula_env env = {fx_score, fx_condition, payload, c};
    char err[512];
    bool ok = qvs_formula_eval(q->formula, &env, out, err, sizeof(err));
    cJSON_Delete(payload);
    return ok ? true : qj_fail_input(p->resp, "%s", err);
}

/* Scores the union of the children's answers with the formula. */
static bool formula_rescore(qvs_call *p, const plan *q, hitbuf *kids,
                            scored **out, size_t *n_out)
{
    formula_ctx c = {.by_id = kids, .n_kids = q->n_kids};
    qv_point_id *ids = NULL;
    size_t n = 0, m = 0;
    scored *s = NULL;
    bool ok = false;
    for (size_t i = 0; i < q->n_kids; i++)
        if (kids[i].n > 1)
            qsort(kids[i].v, kids[i].n, sizeof(scored), cmp_scored_id);
    if (!union_ids(p, kids, q->n_kids, &ids, &n) ||
        !formula_conditions(p, q, ids, n, &c))
        goto done;
    if (!(s = malloc((n ? n : 1) * sizeof(*s)))) {
        oom(p->resp);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        bool gone = false;
        c.id = ids[i];
        if (!formula_one(p, q, &c, &v, &gone))
            goto done;
        if (gone)
            continue;
        s[m].id = ids[i];
        s[m++].score = (float)v;
    }
    qvs_scored_sort(s, m);
    *out = s;
    *n_out = m;
    s = NULL;
    ok = true;
done:
    for (size_t i = 0; c.cond_ids && i < qvs_formula_n_conditions(q->formula);
         i++)
        free(c.cond_ids[i]);
    free(c.cond_ids);
    free(c.cond_n);
    free(ids);
    free(s);
    return ok;
}

/* A node with prefetches: runs the children, then fuses their answers,
 * scores them with the formula, or runs its own query restricted to them
 * (Qdrant's rescore: a has_id filter of the union, local_shard/query.rs).
 * Fusion and formula keep scores >= score_threshold, as Qdrant's
 * fusion_rescore; a vector rescore keeps what the search keeps. */
static bool run_tree(qvs_call *p, plan *q, cJSON *arr)
{
    hitbuf *kids = NULL;
    scored *s = NULL;
    qv_point_id *ids = NULL;
    size_t n = 0;
    bool ok = false;
    if (!run_kids(p, q, &kids))
        return false;
    if (q->kind == PK_RRF || q->kind == PK_DBSF || q->kind == PK_FORMULA) {
        if (!(q->kind == PK_FORMULA ? formula_rescore(p, q, kids, &s, &n)
                                    : fuse(p, q, kids, &s, &n)))
            goto done;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!q->has_threshold || s[i].score >= q->threshold)
                s[m++] = s[i];
        ok = emit_page(p, q, arr, s, m);
        goto done;
    }
    if (!union_ids(p, kids, q->n_kids, &ids, &n))
        goto done;
    qv_filter_free(q->filter);
    q->filter = NULL;
    q->exact = true; /* a few candidates: score every one */
    ok = ids_filter(p, ids, n, NULL, &q->filter) && run_kind(p, q, arr);
done:
    hitbufs_free(kids, q->n_kids);
    free(s);
    free(ids);
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
    bool ok = q->n_kids ? run_tree(p, q, arr) : run_kind(p, q, arr);
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* ---- candidates for groups (points_groups.c) ----------------------------- */

typedef bool (*plan_fn)(qvs_call *p, const cJSON *o, plan *q);

/* Multiplies the limit of every prefetch below q by m, as Qdrant's
 * increase_limit_for_group does for group requests. */
static void scale_prefetch_limits(plan *q, uint64_t m)
{
    for (size_t i = 0; i < q->n_kids; i++) {
        plan *k = &q->kids[i];
        k->limit =
            k->limit > UINT64_MAX / (m ? m : 1) ? UINT64_MAX : k->limit * m;
        scale_prefetch_limits(k, m);
    }
}

bool qvs_query_candidates(qvs_call *p, const cJSON *o, qvs_query_form form,
                          uint64_t groups, qvs_scored **out, size_t *n)
{
    static const plan_fn fns[] = {plan_query, plan_search,
                                  plan_legacy_recommend};
    plan q;
    hitbuf buf = {0};
    uint64_t count = 0;
    bool ok = fns[form](p, o, &q);
    qv_status st = ok ? qv_count(p->coll->points, &count) : QV_OK;
    if (st != QV_OK)
        ok = qj_fail_lib(p->resp, p->coll->points, st, "counting points");
    if (ok) {
        q.limit = count ? count : 1; /* every candidate, best first */
        q.offset = 0;
        scale_prefetch_limits(&q, groups);
        if (q.n_exclude)
            qsort(q.exclude, q.n_exclude, sizeof(*q.exclude), cmp_id);
        q.sink = &buf;
        ok = q.n_kids ? run_tree(p, &q, NULL) : run_kind(p, &q, NULL);
        q.sink = NULL;
    }
    plan_free(p, &q);
    if (!ok) {
        free(buf.v);
        return false;
    }
    *out = buf.v;
    *n = buf.n;
    return true;
}

/* ---- dense requests with their vector apart (the gRPC fast path) -------- */

/* The plan of a request whose dense vector is vec[0..n): the same steps
 * plan_search / plan_node take for it, false (reply set, or not: the
 * caller falls back either way) where they would take another path. */
static bool plan_dense(qvs_call *p, const cJSON *o, qvs_query_form form,
                       const float *vec, size_t n, plan *q)
{
    memset(q, 0, sizeof(*q));
    if (!cJSON_IsObject(o))
        return false;
    const char *name = "";
    if (form == QVS_FORM_SEARCH) {
        const cJSON *v = member(o, "vector");
        if (v && !cJSON_IsString(member(v, "name")))
            return false;
        if (v)
            name = member(v, "name")->valuestring;
        if (!parse_common(p, o, member(o, "filter"), true, q))
            return false;
    } else {
        const char *using = NULL;
        if (member(o, "prefetch") || member(o, "query") ||
            member(o, "lookup_from") || !qj_string(o, "using", &using, p->resp))
            return false;
        if (using && leaf_kind_of(p->coll, using))
            return false;
        if (!parse_common(p, o, member(o, "filter"), false, q))
            return false;
        name = using ? using : "";
    }
    if (!(q->vec = qvs_call_vector(p, name)))
        return false;
    if (q->vec->sparse || qvs_mv_is_multi(q->vec) || n != q->vec->size)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(vec[i]))
            return false;
    if (!(q->query = malloc(n * sizeof(float))))
        return oom(p->resp);
    memcpy(q->query, vec, n * sizeof(float));
    q->kind = PK_NEAREST;
    return check_node(p, q);
}

bool qvs_query_dense_page(qvs_call *p, const cJSON *o, qvs_query_form form,
                          const float *vec, size_t n, qvs_scored **out,
                          size_t *n_out, qj_payload_sel *wp, qj_vector_sel *wv)
{
    *out = NULL;
    *n_out = 0;
    if (!p || !vec || !wp || !wv ||
        (form != QVS_FORM_SEARCH && form != QVS_FORM_QUERY))
        return false;
    plan q;
    hitbuf buf = {0};
    bool ok = plan_dense(p, o, form, vec, n, &q);
    if (ok) {
        /* emit_page puts the page into the sink, as run_plan would emit
         * it as JSON (a dense query excludes no ids) */
        q.sink = &buf;
        ok = run_kind(p, &q, NULL);
        q.sink = NULL;
    }
    if (ok) {
        *wp = q.wp;
        *wv = q.wv;
        memset(&q.wp, 0, sizeof(q.wp));
        memset(&q.wv, 0, sizeof(q.wv));
        *out = buf.v;
        *n_out = buf.n;
        buf.v = NULL;
    }
    free(buf.v);
    plan_free(p, &q);
    return ok;
}

/* ---- handlers ------------------------------------------------------------ */

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
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, true))
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
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ_BATCH) ||
        !qvs_call_open(&p, req, resp, true))
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
    answer(req, resp, plan_query_root, true);
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

void qvs_points_discover(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, plan_legacy_discover, false);
}

void qvs_points_discover_batch(const qvs_req *req, qvs_resp *resp)
{
    answer_batch(req, resp, plan_legacy_discover, false);
}
