/*
 * query.h -- the pieces of the hybrid query API (prefetch trees, fusion,
 * formula rescoring, groups) that stand alone, so the Check tests can run
 * them without a server.
 *
 * Files:
 *   query_fusion.c   RRF and DBSF over ranked lists (pure)
 *   query_formula.c  formula parsing and evaluation over one point's
 *                    payload, prefetch scores and condition results (pure:
 *                    conditions are answered by a callback)
 *   points_query.c   the prefetch tree itself, which needs the request
 *                    plans (leaves, rescoring, the root page)
 *   points_groups.c  search/recommend/query groups
 *
 * Orders: every list of qvs_scored produced here is sorted by score
 * descending, ties by point id ascending (qv_id_compare).  Qdrant leaves
 * ties in hash-map order, which is not reproducible; we fix the order so a
 * reference implementation can be compared exactly.
 */
#ifndef QUIVER_SERVER_QUERY_H
#define QUIVER_SERVER_QUERY_H

#include "quiver.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qvs_scored {
    qv_point_id id;
    float score;
} qvs_scored;

/* A ranked list (best first) from one prefetch. */
typedef struct qvs_ranked {
    const qvs_scored *hits;
    size_t n;
} qvs_ranked;

/* ---- fusion (query_fusion.c) --------------------------------------------- */

/* Qdrant's default RRF constant (lib/segment/src/common/
 * reciprocal_rank_fusion.rs DEFAULT_RRF_K). */
#define QVS_RRF_DEFAULT_K 2

/* Sorts s[0..n) by score descending, then id ascending. */
void qvs_scored_sort(qvs_scored *s, size_t n);

/* Reciprocal rank fusion of n lists: a point at 0-based position pos of
 * list i gets 1 / ((pos + 1) / w_i + k - 1) (w_i = weights[i], 1 when
 * weights is NULL; w_i <= 0 contributes 0), summed over the lists it is
 * in.  *out is a new sorted array (free) of *n_out distinct points.
 * Returns false only when out of memory. */
bool qvs_fuse_rrf(const qvs_ranked *lists, size_t n, uint64_t k,
                  const float *weights, qvs_scored **out, size_t *n_out);

/* Distribution-based score fusion: each list's scores are mapped by
 * (s - (mean - 3 sd)) / (6 sd) (sample standard deviation; a single hit
 * scores 0.5, equal extremes 0.5 each), then summed per point.  Same
 * output contract as qvs_fuse_rrf. */
bool qvs_fuse_dbsf(const qvs_ranked *lists, size_t n, qvs_scored **out,
                   size_t *n_out);

/* ---- formula (query_formula.c) ------------------------------------------- */

typedef struct qvs_formula qvs_formula;

/* What a formula reads for one point. */
typedef struct qvs_formula_env {
    /* Score of the point in prefetch i; false when the point is not in
     * that prefetch's results. */
    bool (*score)(void *ctx, size_t i, float *out);
    /* Whether the point matches condition number i (qvs_formula_condition). */
    bool (*condition)(void *ctx, size_t i);
    const cJSON *payload; /* the point's payload object (NULL: none) */
    void *ctx;
} qvs_formula_env;

/* Parses {"formula": expr, "defaults": {...}} (the FormulaQuery object).
 * On failure returns NULL with Qdrant's message in err and *status the
 * HTTP status (400 or 422).  The result keeps copies of what it needs. */
qvs_formula *qvs_formula_parse(const cJSON *query, char *err, size_t cap,
                               int *status);
void qvs_formula_free(qvs_formula *f);

/* The conditions the formula uses, as filter condition JSON objects (each
 * to be wrapped in {"must": [..]}), in number order. */
size_t qvs_formula_n_conditions(const qvs_formula *f);
const cJSON *qvs_formula_condition(const qvs_formula *f, size_t i);

/* The highest $score index the formula reads, or -1 if none. */
long qvs_formula_max_score_index(const qvs_formula *f);

/* Evaluates the formula for one point.  False with Qdrant's message in err
 * (a 400 "Wrong input" text without that prefix) on a type error, a missing
 * variable without default, or a non-finite result. */
bool qvs_formula_eval(const qvs_formula *f, const qvs_formula_env *env,
                      double *out, char *err, size_t cap);

/* ---- leaf kinds (points_query.c) ---------------------------------------- */

struct qvs_call;
struct qvs_coll;

/* One search on one named vector of a leaf kind. */
typedef struct qvs_leaf_search {
    const char *using;       /* the vector name */
    const cJSON *query;      /* the request's "query", as given */
    const qv_filter *filter; /* NULL: every point; at a re-scoring node
                                a has_id list of the candidates */
    uint64_t limit;          /* hits wanted */
    bool has_threshold;      /* keep scores strictly better than it */
    float threshold;
} qvs_leaf_search;

/* A kind of vector the prefetch tree can search besides dense vectors
 * (sparse, multivectors).  owns: whether vector `using` of collection c is
 * of this kind.  search: up to s->limit hits, best first (ties: lower id
 * first), as a new array *out (free) of *n; false with the reply set (p->
 * resp) on bad input or failure.  Both are called without server locks,
 * concurrently. */
typedef struct qvs_leaf_kind {
    const char *name;
    bool (*owns)(const struct qvs_coll *c, const char *using);
    bool (*search)(struct qvs_call *p, const qvs_leaf_search *s,
                   qvs_scored **out, size_t *n);
} qvs_leaf_kind;

/* ---- the query plans, for groups (points_query.c) ------------------------ */

struct qj_payload_sel;
struct qj_vector_sel;

typedef enum qvs_query_form {
    QVS_FORM_QUERY = 0,    /* QueryRequest (prefetch trees included) */
    QVS_FORM_SEARCH = 1,   /* SearchRequest */
    QVS_FORM_RECOMMEND = 2 /* RecommendRequest */
} qvs_query_form;

/* Every hit request o (of the given form) finds, best first, as a new
 * array *out (free) of *n: the request's limit and offset are ignored and
 * the limits of its prefetches multiplied by groups (Qdrant's
 * increase_limit_for_group).  False with the reply set on any error. */
bool qvs_query_candidates(struct qvs_call *p, const cJSON *o,
                          qvs_query_form form, uint64_t groups,
                          qvs_scored **out, size_t *n);

/* A dense nearest-neighbour request whose query vector arrives apart from
 * its JSON, as n floats (the gRPC fast path, server/grpc/grpc_fast.c):
 * o is the request without it -- a SearchRequest (form SEARCH; its
 * "vector", if any, only {"name": ...}) or a QueryRequest without
 * prefetch, lookup_from or query (form QUERY; the vector is the query's
 * "nearest").  Planned and run exactly as the JSON request with the
 * vector in place would be; *out (free) receives the page of hits
 * (offset skipped, limit kept) in the order the JSON route emits them,
 * and *wp / *wv the payload and vector selections (freed by the caller
 * with qj_payload_sel_free / qj_vector_sel_free; they borrow from o).
 * False when the request takes another path (a sparse vector, a
 * multivector, a leaf kind, a wrong dimension) or fails (reply set):
 * either way the caller runs the JSON route, which answers the same
 * error with REST's checks in REST's order.  Read-only, like the rest
 * of this file. */
bool qvs_query_dense_page(struct qvs_call *p, const cJSON *o,
                          qvs_query_form form, const float *vec, size_t n,
                          qvs_scored **out, size_t *n_out,
                          struct qj_payload_sel *wp, struct qj_vector_sel *wv);

/* ScoredPoint JSON for s with the payload and vectors the selections ask
 * for.  NULL either on an error (reply set) or, with *gone true, when the
 * point no longer exists. */
cJSON *qvs_query_point_json(struct qvs_call *p, const qvs_scored *s,
                            const struct qj_payload_sel *wp,
                            const struct qj_vector_sel *wv, bool *gone);

/* The values at a payload path (Qdrant's JSON paths: "a.b", "a[0]",
 * "a[].b"; an array at the end stands for its elements): up to cap of
 * them into out; returns how many there are (may exceed cap).
 * query_formula.c. */
size_t qvs_json_path_values(const cJSON *payload, const char *path,
                            const cJSON **out, size_t cap);

/* Seconds since 1970 of an RFC 3339 date-time or a plain date (UTC), with
 * its fraction (points_read.c, shared with order_by). */
bool qvs_datetime_seconds(const char *s, double *out);

#endif /* QUIVER_SERVER_QUERY_H */
