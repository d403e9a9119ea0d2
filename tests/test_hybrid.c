/*
 * test_hybrid.c -- the hybrid query API (server/query_*.c and the prefetch
 * tree of server/points_query.c) and the groups endpoints
 * (server/points_groups.c).
 *
 *  1. fusion alone: RRF on Qdrant's own test vectors
 *     (lib/segment/src/common/reciprocal_rank_fusion.rs), weights, zero
 *     weights; DBSF on hand-computed cases.
 *  2. formula alone: every operator, $score and $score[i] with defaults,
 *     payload paths (nested, arrays of one, several values), conditions,
 *     decays, geo_distance, datetime, and Qdrant's errors.
 *  3. random trees: collections with two named vectors ("a" dot, "b"
 *     euclid, integer components so every score is exact and ties are
 *     common) and payloads; random prefetch trees of depth <= 3 with
 *     filters, thresholds, rrf / dbsf / nearest or recommend re-scoring /
 *     formula nodes, nearest and recommend (sum_scores) leaves, offset;
 *     each answer equals a brute-force evaluation written here from
 *     Qdrant's rules (filters propagate to the leaves, a rescore scores
 *     the union of its children, fusion keeps scores >= threshold, ties go
 *     to the lower id -- which is insertion order, the library's tie rule).
 *     The trees' collection also has a sparse vector "s" (server/sparse.h):
 *     its leaves and re-scorings score the points sharing a dimension with
 *     the query by dot product.
 *  4. errors: fusion or formula without prefetch, prefetch without query,
 *     fusion with using, weights count, too deep trees, formula errors.
 *  5. groups: search/groups, query/groups (with prefetch), recommend/groups
 *     against a brute-force grouping, arrays joining several groups,
 *     with_lookup.
 *
 * The catalog doubles are those of test_points_api.c (catalog.h, api.h).
 */
#include "server/points.h"
#include "server/query.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test doubles -------------------------------------------------------- */

#define MAX_COLLS 4

struct qvs_catalog {
    qvs_coll *colls[MAX_COLLS];
    size_t n;
    uint64_t op;
};

static qvs_catalog cat;
static bool with_sparse; /* the random trees' collection has vector "s" */

bool qvs_catalog_get(qvs_catalog *c, const char *name, qvs_coll **out)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->colls[i]->name, name) == 0) {
            c->colls[i]->refs++;
            *out = c->colls[i];
            return true;
        }
    *out = NULL;
    return false;
}

void qvs_coll_release(qvs_catalog *c, qvs_coll *coll)
{
    (void)c;
    ck_assert_uint_gt(coll->refs, 0);
    coll->refs--;
}

const qvs_vector *qvs_coll_vector(const qvs_coll *c, const char *name)
{
    for (size_t i = 0; i < c->n_vectors; i++)
        if (strcmp(c->vectors[i].name, name) == 0)
            return &c->vectors[i];
    return NULL;
}

/* strict.c reads a collection's config and payload schema through these
 * (catalog.c's in the server). */
cJSON *qvs_coll_config_dup(qvs_catalog *cat, qvs_coll *c)
{
    (void)cat;
    return c->config ? cJSON_Duplicate(c->config, true) : cJSON_CreateObject();
}

cJSON *qvs_coll_schema_dup(qvs_catalog *cat, qvs_coll *c)
{
    (void)cat;
    return c->payload_schema ? cJSON_Duplicate(c->payload_schema, true)
                             : cJSON_CreateObject();
}

uint64_t qvs_catalog_next_op_id(qvs_catalog *c)
{
    return ++c->op;
}

bool qvs_fail(qvs_resp *r, int http_status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    r->http_status = http_status;
    return false;
}

const void *qvs_req_raw_body(const qvs_req *req, size_t *len)
{
    (void)req;
    *len = 0;
    return NULL;
}

static qv_collection *new_lib(uint32_t dim, qv_metric m)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = m;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

/* Adds sparse vector "s" (sorted last) to c. */
static void add_sparse_vector(qvs_coll *c)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.kind = QV_VECTOR_SPARSE;
    qv_collection *lib = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &lib), QV_OK);
    c->vectors = realloc(c->vectors, (c->n_vectors + 1) * sizeof(qvs_vector));
    ck_assert_ptr_nonnull(c->vectors);
    c->vectors[c->n_vectors++] = (qvs_vector){.name = strdup("s"),
                                              .metric = QV_METRIC_DOT,
                                              .coll = lib,
                                              .sparse = true};
}

/* A collection with named vectors "a" (dim 4, dot) and "b" (dim 3,
 * euclid), sorted by name as catalog.h promises. */
static qvs_coll *add_named(const char *name)
{
    ck_assert_uint_lt(cat.n, MAX_COLLS);
    qvs_coll *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->name = strdup(name);
    c->named = true;
    c->n_vectors = 2;
    c->vectors = calloc(2, sizeof(qvs_vector));
    c->vectors[0] = (qvs_vector){.name = strdup("a"),
                                 .size = 4,
                                 .metric = QV_METRIC_DOT,
                                 .coll = new_lib(4, QV_METRIC_DOT)};
    c->vectors[1] = (qvs_vector){.name = strdup("b"),
                                 .size = 3,
                                 .metric = QV_METRIC_EUCLID,
                                 .coll = new_lib(3, QV_METRIC_EUCLID)};
    c->points = new_lib(1, QV_METRIC_DOT);
    pthread_mutex_init(&c->write_mu, NULL);
    cat.colls[cat.n++] = c;
    return c;
}

static void setup(void)
{
    memset(&cat, 0, sizeof(cat));
    with_sparse = false;
}

static void teardown(void)
{
    for (size_t i = 0; i < cat.n; i++) {
        qvs_coll *c = cat.colls[i];
        qv_collection_release(c->points);
        for (size_t k = 0; k < c->n_vectors; k++) {
            qv_collection_release(c->vectors[k].coll);
            free(c->vectors[k].name);
        }
        free(c->vectors);
        free(c->name);
        pthread_mutex_destroy(&c->write_mu);
        free(c);
    }
    memset(&cat, 0, sizeof(cat));
}

/* ---- calling handlers ---------------------------------------------------- */

static const char *no_query(const qvs_req *r, const char *key)
{
    (void)r;
    (void)key;
    return NULL;
}

typedef struct out {
    int status;
    cJSON *res;
    char err[1024];
} out;

/* Runs handler h on collection coll with body text; the caller frees
 * o->res (out_free). */
static out call(qvs_handler h, const char *coll, const char *body)
{
    qvs_req req = {.method = "POST", .n_params = 1, .query = no_query};
    req.params[0] = coll;
    req.catalog = &cat;
    char perr[256];
    cJSON *jb = qj_parse(body, strlen(body), perr, sizeof(perr));
    ck_assert_msg(jb != NULL, "bad test JSON: %.300s (%s)", body, perr);
    req.body = jb;
    qvs_resp resp = {.http_status = 200};
    h(&req, &resp);
    cJSON_Delete(jb);
    out o = {.status = resp.http_status};
    snprintf(o.err, sizeof(o.err), "%s", resp.error);
    if (resp.result) {
        char *text = cJSON_PrintUnformatted(resp.result);
        o.res = cJSON_Parse(text);
        ck_assert_ptr_nonnull(o.res);
        cJSON_free(text);
        cJSON_Delete(resp.result);
    }
    for (size_t i = 0; i < cat.n; i++)
        ck_assert_msg(cat.colls[i]->refs == 0, "reference leaked");
    return o;
}

static void ok_or_die(out *o, const char *body)
{
    ck_assert_msg(o->status == 200, "status %d: %s for %.400s", o->status,
                  o->err, body);
}

/* Status and exact message; frees nothing (errors have no result). */
static void expect_error(const char *coll, const char *body, int status,
                         const char *msg)
{
    out o = call(qvs_points_query, coll, body);
    ck_assert_msg(o.status == status && strcmp(o.err, msg) == 0,
                  "got %d \"%s\", want %d \"%s\" for %s", o.status, o.err,
                  status, msg, body);
    cJSON_Delete(o.res);
}

/* ---- 1. fusion alone ----------------------------------------------------- */

static qvs_scored sp(uint64_t id, float score)
{
    qvs_scored s = {.id = qv_id_from_num(id), .score = score};
    return s;
}

static uint64_t id_num(const qvs_scored *s)
{
    ck_assert_uint_eq(s->id.kind, QV_ID_NUM);
    return s->id.u.num;
}

START_TEST(rrf_qdrant_vectors)
{
    /* test_rrf_scoring in Qdrant's reciprocal_rank_fusion.rs */
    qvs_scored l0[] = {sp(2, 0.9f), sp(1, 0.8f)};
    qvs_scored l1[] = {sp(1, 0.7f), sp(2, 0.6f), sp(3, 0.5f)};
    qvs_scored l2[] = {sp(5, 0.9f), sp(3, 0.5f), sp(1, 0.4f)};
    qvs_ranked lists[] = {{l0, 2}, {l1, 3}, {l2, 3}};
    qvs_scored *out = NULL;
    size_t n = 0;
    ck_assert(qvs_fuse_rrf(lists, 3, QVS_RRF_DEFAULT_K, NULL, &out, &n));
    ck_assert_uint_eq(n, 4);
    uint64_t want_ids[] = {1, 2, 3, 5};
    float want[] = {1.0833334f, 0.8333334f, 0.5833334f, 0.5f};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(id_num(&out[i]), want_ids[i]);
        ck_assert_float_eq_tol(out[i].score, want[i], 1e-7f);
    }
    free(out);
    /* weights 3:1 favour the first list; weight 0 contributes 0 */
    qvs_scored w0[] = {sp(1, 0.9f), sp(2, 0.8f)};
    qvs_scored w1[] = {sp(2, 0.9f), sp(1, 0.8f)};
    qvs_ranked wl[] = {{w0, 2}, {w1, 2}};
    float weights[] = {3.0f, 1.0f};
    ck_assert(qvs_fuse_rrf(wl, 2, 2, weights, &out, &n));
    ck_assert_uint_eq(id_num(&out[0]), 2);
    ck_assert_float_gt(out[0].score, out[1].score);
    free(out);
    float zero[] = {1.0f, 0.0f};
    qvs_scored z0[] = {sp(1, 0.9f)}, z1[] = {sp(2, 0.9f)};
    qvs_ranked zl[] = {{z0, 1}, {z1, 1}};
    ck_assert(qvs_fuse_rrf(zl, 2, 2, zero, &out, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(id_num(&out[0]), 1);
    ck_assert_float_eq(out[0].score, 0.5f);
    ck_assert_float_eq(out[1].score, 0.0f);
    free(out);
    /* equal scores: the lower id first */
    ck_assert(qvs_fuse_rrf(wl, 2, 2, NULL, &out, &n));
    ck_assert_float_eq(out[0].score, out[1].score);
    ck_assert_uint_eq(id_num(&out[0]), 1);
    free(out);
    /* no lists */
    ck_assert(qvs_fuse_rrf(NULL, 0, 2, NULL, &out, &n));
    ck_assert_uint_eq(n, 0);
    free(out);
}
END_TEST

START_TEST(dbsf_by_hand)
{
    /* scores 1, 2, 3: mean 2, sample sd 1, range [-1, 5]: (s + 1) / 6 */
    qvs_scored a[] = {sp(1, 3.0f), sp(2, 2.0f), sp(3, 1.0f)};
    /* one point: 0.5; equal scores: 0.5 each */
    qvs_scored b[] = {sp(3, 7.0f)};
    qvs_scored c[] = {sp(4, 2.0f), sp(1, 2.0f)};
    qvs_ranked lists[] = {{a, 3}, {b, 1}, {c, 2}};
    qvs_scored *out = NULL;
    size_t n = 0;
    ck_assert(qvs_fuse_dbsf(lists, 3, &out, &n));
    ck_assert_uint_eq(n, 4);
    /* 1: 4/6 + 0.5; 3: 2/6 + 0.5; 2: 3/6; 4: 0.5 -> 1, 3, 2, 4 (2 and 4
     * tie at 0.5: lower id first) */
    uint64_t want_ids[] = {1, 3, 2, 4};
    float want[] = {4.0f / 6 + 0.5f, 2.0f / 6 + 0.5f, 0.5f, 0.5f};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(id_num(&out[i]), want_ids[i]);
        ck_assert_float_eq_tol(out[i].score, want[i], 1e-6f);
    }
    free(out);
}
END_TEST

/* ---- 2. formula alone ---------------------------------------------------- */

typedef struct fenv {
    float scores[3];
    bool has[3];
    bool cond[4];
} fenv;

static bool fscore(void *ctx, size_t i, float *out)
{
    fenv *e = ctx;
    if (i >= 3 || !e->has[i])
        return false;
    *out = e->scores[i];
    return true;
}

static bool fcond(void *ctx, size_t i)
{
    return ((fenv *)ctx)->cond[i];
}

/* Evaluates query text (a FormulaQuery) over payload text; returns the
 * value, or NAN with the message in err. */
static double feval(const char *query, const char *payload, fenv *e, char *err,
                    size_t cap)
{
    cJSON *q = cJSON_Parse(query), *pl = cJSON_Parse(payload);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_nonnull(pl);
    int status = 0;
    qvs_formula *f = qvs_formula_parse(q, err, cap, &status);
    double v = NAN;
    if (f) {
        qvs_formula_env env = {fscore, fcond, pl, e};
        if (!qvs_formula_eval(f, &env, &v, err, cap))
            v = NAN;
    }
    qvs_formula_free(f);
    cJSON_Delete(q);
    cJSON_Delete(pl);
    return v;
}

static void fexpect(const char *query, const char *payload, double want)
{
    fenv e = {{0.5f, 2.0f, 0}, {true, true, false}, {true, false}};
    char err[512] = "";
    double v = feval(query, payload, &e, err, sizeof(err));
    ck_assert_msg(fabs(v - want) <= 1e-9 * fmax(1.0, fabs(want)),
                  "%s over %s: got %.17g (%s), want %.17g", query, payload, v,
                  err, want);
}

static void fexpect_error(const char *query, const char *payload,
                          const char *msg)
{
    fenv e = {{0.5f, 2.0f, 0}, {true, true, false}, {true, false}};
    char err[512] = "";
    double v = feval(query, payload, &e, err, sizeof(err));
    ck_assert_msg(isnan(v) && strcmp(err, msg) == 0,
                  "%s: got %g \"%s\", want \"%s\"", query, v, err, msg);
}

START_TEST(formula_operators)
{
    const char *pl = "{\"x\":4,\"n\":{\"y\":[2.5]},\"arr\":[1,2],"
                     "\"loc\":{\"lat\":52.52,\"lon\":13.405},"
                     "\"t\":\"2024-01-02T00:00:00Z\",\"s\":\"no\"}";
    fexpect("{\"formula\":3}", pl, 3.0);
    fexpect("{\"formula\":0.1}", pl, (double)0.1f); /* f32 constants */
    fexpect("{\"formula\":\"$score\"}", pl, 0.5);
    fexpect("{\"formula\":\"$score[1]\"}", pl, 2.0);
    fexpect("{\"formula\":\"$score[2]\"}", pl, 0.0); /* absent: 0 */
    fexpect("{\"formula\":\"$score[2]\",\"defaults\":{\"$score[2]\":7}}", pl,
            7.0);
    fexpect("{\"formula\":\"x\"}", pl, 4.0);
    fexpect("{\"formula\":\"n.y\"}", pl, 2.5); /* [2.5] is 2.5 */
    fexpect("{\"formula\":\"arr[1]\"}", pl, 2.0);
    fexpect("{\"formula\":\"missing\",\"defaults\":{\"missing\":9}}", pl, 9.0);
    fexpect("{\"formula\":{\"sum\":[1,\"x\",\"$score\"]}}", pl, 5.5);
    fexpect("{\"formula\":{\"mult\":[2,\"x\"]}}", pl, 8.0);
    /* mult stops at 0: the missing variable after it is never read */
    fexpect("{\"formula\":{\"mult\":[0,\"missing\"]}}", pl, 0.0);
    fexpect("{\"formula\":{\"neg\":\"x\"}}", pl, -4.0);
    fexpect("{\"formula\":{\"abs\":-3}}", pl, 3.0);
    fexpect("{\"formula\":{\"sqrt\":\"x\"}}", pl, 2.0);
    fexpect("{\"formula\":{\"pow\":{\"base\":\"x\",\"exponent\":0.5}}}", pl,
            2.0);
    fexpect("{\"formula\":{\"exp\":0}}", pl, 1.0);
    fexpect("{\"formula\":{\"log10\":100}}", pl, 2.0);
    fexpect("{\"formula\":{\"ln\":1}}", pl, 0.0);
    fexpect("{\"formula\":{\"div\":{\"left\":\"x\",\"right\":8}}}", pl, 0.5);
    fexpect("{\"formula\":{\"div\":{\"left\":1,\"right\":0,"
            "\"by_zero_default\":5}}}",
            pl, 5.0);
    fexpect("{\"formula\":{\"div\":{\"left\":0,\"right\":0}}}", pl, 0.0);
    /* conditions: 1 when matched (callback), 0 otherwise */
    fexpect("{\"formula\":{\"sum\":[{\"key\":\"x\",\"match\":{\"value\":4}},"
            "{\"mult\":[10,{\"key\":\"x\",\"match\":{\"value\":5}}]}]}}",
            pl, 1.0);
    /* decays at |x - target| == scale give the midpoint */
    fexpect("{\"formula\":{\"lin_decay\":{\"x\":\"x\",\"target\":2,"
            "\"scale\":2,\"midpoint\":0.25}}}",
            pl, 0.25);
    fexpect("{\"formula\":{\"exp_decay\":{\"x\":\"x\",\"target\":2,"
            "\"scale\":2,\"midpoint\":0.25}}}",
            pl, 0.25);
    fexpect("{\"formula\":{\"gauss_decay\":{\"x\":\"x\",\"target\":2,"
            "\"scale\":2,\"midpoint\":0.25}}}",
            pl, 0.25);
    fexpect("{\"formula\":{\"lin_decay\":{\"x\":10}}}", pl, 0.0);
    fexpect("{\"formula\":{\"exp_decay\":{\"x\":0}}}", pl, 1.0);
    /* Berlin to Paris, haversine on the mean Earth radius */
    double rad = M_PI / 180, p1 = 48.8566 * rad, p2 = 52.52 * rad;
    double dl = (13.405 - 2.3522) * rad, dp = p2 - p1;
    double a = sin(dp / 2) * sin(dp / 2) +
               cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    fexpect("{\"formula\":{\"geo_distance\":{\"origin\":{\"lat\":48.8566,"
            "\"lon\":2.3522},\"to\":\"loc\"}}}",
            pl, 2 * 6371008.8 * asin(sqrt(a)));
    /* datetimes in seconds */
    fexpect("{\"formula\":{\"datetime_key\":\"t\"}}", pl, 1704153600.0);
    fexpect("{\"formula\":{\"sum\":[{\"datetime\":\"2024-01-03T00:00:00Z\"},"
            "{\"neg\":{\"datetime_key\":\"t\"}}]}}",
            pl, 86400.0);
}
END_TEST

START_TEST(formula_errors)
{
    const char *pl = "{\"x\":4,\"arr\":[1,2],\"s\":\"no\"}";
    fexpect_error(
        "{\"formula\":\"missing\"}", pl,
        "Expected number value for missing in the payload and/or in the "
        "formula defaults. Error: No value found in a payload nor "
        "defaults");
    fexpect_error(
        "{\"formula\":\"s\"}", pl,
        "Expected number value for s in the payload and/or in the formula "
        "defaults. Error: Value is not a number");
    /* several values are an array, not a number (Qdrant's rule) */
    fexpect_error("{\"formula\":\"arr\"}", pl,
                  "Expected number value for arr in the payload and/or in the "
                  "formula defaults. Error: Value is not a number");
    fexpect_error(
        "{\"formula\":{\"geo_distance\":{\"origin\":{\"lat\":1,\"lon\":2},"
        "\"to\":\"x\"}}}",
        pl,
        "Expected geo point value for x in the payload and/or in the "
        "formula defaults. Error: invalid geo point");
    fexpect_error("{\"formula\":{\"div\":{\"left\":1,\"right\":0}}}", pl,
                  "The expression 1/0 = inf produced a non-finite number");
    fexpect_error(
        "{\"formula\":{\"sqrt\":-1}}", pl,
        "The expression \xe2\x88\x9a-1 = NaN produced a non-finite number");
    fexpect_error("{\"formula\":{\"ln\":0}}", pl,
                  "The expression ln(0) = -inf produced a non-finite number");
    fexpect_error(
        "{\"formula\":{\"log10\":-2}}", pl,
        "The expression log10(-2) = NaN produced a non-finite number");
    fexpect_error("{\"formula\":{\"pow\":{\"base\":0,\"exponent\":-1}}}", pl,
                  "The expression 0^-1 = inf produced a non-finite number");
    fexpect_error(
        "{\"formula\":{\"exp\":1000}}", pl,
        "The expression exp(1000) = inf produced a non-finite number");
    /* parse-time errors */
    fexpect_error("{\"formula\":\"$nope\"}", pl,
                  "Wrong input: Validation failed: failed to parse variable ID "
                  "$nope: Invalid reserved word: $nope");
    fexpect_error("{\"formula\":\"$score[x]\"}", pl,
                  "Wrong input: Validation failed: failed to parse variable ID "
                  "$score[x]: Invalid reserved variable: $score[x]");
    fexpect_error(
        "{\"formula\":{\"lin_decay\":{\"x\":1,\"midpoint\":1.5}}}", pl,
        "Wrong input: Validation failed: Linear decay midpoint should be "
        "in the range [0.0, 1.0], got 1.5.");
    fexpect_error(
        "{\"formula\":{\"exp_decay\":{\"x\":1,\"midpoint\":1}}}", pl,
        "Wrong input: Validation failed: Decay midpoint should be in the "
        "range (0.0, 1.0), got 1.");
    fexpect_error(
        "{\"formula\":{\"gauss_decay\":{\"x\":1,\"scale\":0}}}", pl,
        "Wrong input: Validation failed: Decay scale should be non-zero "
        "positive, got 0.");
    fexpect_error("{\"formula\":{\"sum\":3}}", pl,
                  "Format error in JSON body: query.formula: sum: data did not "
                  "match any variant of untagged enum Expression");
    fexpect_error(
        "{\"formula\":true}", pl,
        "Format error in JSON body: query.formula: formula: data did not "
        "match any variant of untagged enum Expression");
    fexpect_error("{\"formula\":{\"datetime\":\"yesterday\"}}", pl,
                  "Wrong input: Validation failed: failed to parse date-time "
                  "yesterday: input is not a valid date-time");
}
END_TEST

/* ---- 3. random trees against brute force --------------------------------- */

#define NP 48

typedef struct ref_point {
    int a[4];
    int b[3];
    bool has_b;
    int s_dim[2], s_val[2]; /* sparse "s": two distinct dimensions 0..5 */
    bool has_s;
    int g;
    int x;
    int tags[2]; /* tags: 0..2 of 10, 11, 12 (may repeat) */
    int n_tags;
} ref_point;

static ref_point pts[NP + 1]; /* ids 1..NP */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

/* The sparse parts draw from their own generator, so that the dense parts
 * of every tree stay what they were before "s" existed. */
static uint64_t srng_state = 0x5ba75eu;
static int sparse_nodes; /* nearest nodes on "s" the random trees held */

static uint32_t srnd(uint32_t n)
{
    srng_state = srng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((srng_state >> 33) % n);
}

/* Points 1..NP in id order (the library breaks ties by insertion). */
static void seed_random(void)
{
    qvs_coll *coll = add_named("h");
    if (with_sparse)
        add_sparse_vector(coll);
    cJSON *body = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddItemToObject(body, "points", list);
    for (int id = 1; id <= NP; id++) {
        ref_point *r = &pts[id];
        cJSON *p = cJSON_CreateObject(), *v = cJSON_CreateObject();
        cJSON *va = cJSON_CreateArray(), *pl = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "id", id);
        for (int d = 0; d < 4; d++) {
            r->a[d] = (int)rnd(7) - 3;
            cJSON_AddItemToArray(va, cJSON_CreateNumber(r->a[d]));
        }
        cJSON_AddItemToObject(v, "a", va);
        r->has_b = id % 7 != 0;
        if (r->has_b) {
            cJSON *vb = cJSON_CreateArray();
            for (int d = 0; d < 3; d++) {
                r->b[d] = (int)rnd(7) - 3;
                cJSON_AddItemToArray(vb, cJSON_CreateNumber(r->b[d]));
            }
            cJSON_AddItemToObject(v, "b", vb);
        }
        r->has_s = with_sparse && id % 5 != 0;
        if (r->has_s) {
            r->s_dim[0] = (int)srnd(6);
            r->s_dim[1] = (r->s_dim[0] + 1 + (int)srnd(5)) % 6;
            r->s_val[0] = (int)srnd(7) - 3;
            r->s_val[1] = (int)srnd(7) - 3;
            char t[96];
            snprintf(t, sizeof(t), "{\"indices\":[%d,%d],\"values\":[%d,%d]}",
                     r->s_dim[0], r->s_dim[1], r->s_val[0], r->s_val[1]);
            cJSON_AddItemToObject(v, "s", cJSON_Parse(t));
        }
        r->g = (int)rnd(4);
        r->x = (int)rnd(100);
        cJSON_AddNumberToObject(pl, "g", r->g);
        cJSON_AddNumberToObject(pl, "x", r->x);
        char sk[8];
        snprintf(sk, sizeof(sk), "k%d", r->g % 3);
        cJSON *nest = cJSON_CreateObject(), *tags = cJSON_CreateArray();
        cJSON_AddStringToObject(nest, "s", sk);
        cJSON_AddItemToObject(pl, "n", nest);
        r->n_tags = (int)rnd(3);
        for (int t = 0; t < r->n_tags; t++) {
            r->tags[t] = 10 + (int)rnd(3);
            cJSON_AddItemToArray(tags, cJSON_CreateNumber(r->tags[t]));
        }
        cJSON_AddItemToObject(pl, "tags", tags);
        cJSON_AddItemToObject(p, "vector", v);
        cJSON_AddItemToObject(p, "payload", pl);
        cJSON_AddItemToArray(list, p);
    }
    char *text = cJSON_PrintUnformatted(body);
    out o = call(qvs_points_upsert, "h", text);
    ok_or_die(&o, "upsert");
    cJSON_Delete(o.res);
    cJSON_free(text);
    cJSON_Delete(body);
}

/* A filter of the random trees: g == v, g != v, or x >= v. */
typedef struct rfilter {
    int kind; /* 0 none, 1 g ==, 2 g !=, 3 x >= */
    int v;
} rfilter;

static bool rf_match(const rfilter *f, const ref_point *p)
{
    switch (f->kind) {
    case 1:
        return p->g == f->v;
    case 2:
        return p->g != f->v;
    case 3:
        return p->x >= f->v;
    default:
        return true;
    }
}

static cJSON *rf_json(const rfilter *f)
{
    char t[160];
    if (f->kind == 1)
        snprintf(t, sizeof(t),
                 "{\"must\":[{\"key\":\"g\",\"match\":{\"value\":%d}}]}", f->v);
    else if (f->kind == 2)
        snprintf(t, sizeof(t),
                 "{\"must_not\":[{\"key\":\"g\",\"match\":{\"value\":%d}}]}",
                 f->v);
    else
        snprintf(t, sizeof(t),
                 "{\"must\":[{\"key\":\"x\",\"range\":{\"gte\":%d}}]}", f->v);
    return cJSON_Parse(t);
}

typedef enum rkind {
    RK_NEAREST,
    RK_RRF,
    RK_DBSF,
    RK_FORMULA,
    RK_RECO, /* recommend sum_scores by raw examples */
} rkind;

typedef struct rnode {
    rkind kind;
    int vec; /* 0 "a", 1 "b" (RK_NEAREST, RK_RECO) */
    int q[4];
    int pos[2][4], neg[4]; /* RK_RECO: n_pos positives, has_neg */
    int n_pos;
    bool has_neg;
    rfilter filter;
    int limit;
    bool has_threshold;
    float threshold;
    int rrf_k;        /* 0: default */
    float weights[3]; /* RK_RRF when has_weights */
    bool has_weights;
    struct rnode *kids;
    int n_kids;
} rnode;

typedef struct rhit {
    int id;
    float score;
} rhit;

/* Sparse "s": q[0], q[1] are the query's dimensions (distinct), q[2], q[3]
 * their values; false when the point shares none (no hit). */
static bool ref_sparse(const int *q, const ref_point *p, float *out)
{
    int s = 0;
    bool any = false;
    for (int i = 0; p->has_s && i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (p->s_dim[i] == q[j]) {
                s += p->s_val[i] * q[2 + j];
                any = true;
            }
    *out = (float)s;
    return any;
}

static float ref_score(int vec, const int *q, const ref_point *p)
{
    if (vec == 2) {
        float s;
        ref_sparse(q, p, &s);
        return s;
    }
    if (vec == 0) {
        int s = 0;
        for (int d = 0; d < 4; d++)
            s += q[d] * p->a[d];
        return (float)s;
    }
    int s = 0;
    for (int d = 0; d < 3; d++)
        s += (q[d] - p->b[d]) * (q[d] - p->b[d]);
    return sqrtf((float)s);
}

/* Qdrant's raw similarity: the dot product, or minus the squared L2
 * distance (what recommend strategies add up). */
static int ref_sim(int vec, const int *e, const ref_point *p)
{
    int s = 0;
    for (int d = 0; d < (vec == 0 ? 4 : 3); d++)
        s += vec == 0 ? e[d] * p->a[d] : -(e[d] - p->b[d]) * (e[d] - p->b[d]);
    return s;
}

/* The score of point p under a vector node (nearest or recommend). */
static float ref_node_score(const struct rnode *n, const ref_point *p);

static int vec_higher; /* sort direction for cmp_rhit: 1 desc, 0 asc */

static int cmp_rhit(const void *pa, const void *pb)
{
    const rhit *x = pa, *y = pb;
    if (x->score != y->score) {
        bool before = vec_higher ? x->score > y->score : x->score < y->score;
        return before ? -1 : 1;
    }
    return x->id - y->id;
}

static float ref_node_score(const rnode *n, const ref_point *p)
{
    if (n->kind == RK_NEAREST)
        return ref_score(n->vec, n->q, p);
    int s = 0;
    for (int i = 0; i < n->n_pos; i++)
        s += ref_sim(n->vec, n->pos[i], p);
    if (n->has_neg)
        s -= ref_sim(n->vec, n->neg, p);
    return (float)s;
}

/* Higher scores are better, except for a nearest Euclid query. */
static bool node_higher(const rnode *n)
{
    return n->kind != RK_NEAREST || n->vec != 1;
}

/* Whether point p has what vector node n scores (a sparse one: a
 * dimension shared with the query). */
static bool node_has(const rnode *n, const ref_point *p)
{
    float s;
    if (n->vec == 2)
        return ref_sparse(n->q, p, &s);
    return n->vec == 0 || p->has_b;
}

static void gen_node(rnode *n, int depth, bool root)
{
    memset(n, 0, sizeof(*n));
    n->limit = 1 + (int)rnd(root ? 12 : 20);
    if (rnd(3) == 0) {
        n->filter.kind = 1 + (int)rnd(3);
        n->filter.v = n->filter.kind == 3 ? (int)rnd(80) : (int)rnd(4);
    }
    bool leaf = depth >= 3 || (!root && rnd(3) == 0);
    if (!leaf) {
        n->n_kids = 1 + (int)rnd(3);
        n->kids = calloc((size_t)n->n_kids, sizeof(rnode));
        for (int i = 0; i < n->n_kids; i++)
            gen_node(&n->kids[i], depth + 1, false);
        n->kind = (rkind)rnd(5);
    } else {
        n->kind = rnd(4) == 0 ? RK_RECO : RK_NEAREST;
    }
    n->vec = (int)rnd(2);
    for (int d = 0; d < 4; d++)
        n->q[d] = (int)rnd(7) - 3;
    n->n_pos = 1 + (int)rnd(2);
    n->has_neg = rnd(2);
    for (int d = 0; d < 4; d++) {
        n->pos[0][d] = (int)rnd(7) - 3;
        n->pos[1][d] = (int)rnd(7) - 3;
        n->neg[d] = (int)rnd(7) - 3;
    }
    if (n->kind == RK_RRF) {
        n->rrf_k = rnd(2) ? 0 : 1 + (int)rnd(10);
        n->has_weights = rnd(2);
        for (int i = 0; i < 3; i++)
            n->weights[i] = (float)rnd(4) * 0.5f;
    }
    if (with_sparse && n->kind == RK_NEAREST && srnd(3) == 0) {
        /* "s": two distinct dimensions 0..5, then their values */
        n->vec = 2;
        sparse_nodes++;
        n->q[0] = (int)srnd(6);
        n->q[1] = (n->q[0] + 1 + (int)srnd(5)) % 6;
        n->q[2] = (int)srnd(7) - 3;
        n->q[3] = (int)srnd(7) - 3;
    }
    if (rnd(4) == 0) {
        n->has_threshold = true;
        n->threshold =
            n->kind == RK_NEAREST
                ? (n->vec != 1 ? (float)rnd(9) - 4.0f : 1.0f + (float)rnd(6))
            : n->kind == RK_RECO    ? (float)rnd(21) - 10.0f
            : n->kind == RK_FORMULA ? (float)rnd(3)
                                    : 0.1f * (float)rnd(6);
    }
}

/* How many nodes of each kind the random trees held, leaves and inner
 * nodes apart, so the test can show it exercised them all. */
static int kinds_seen[2][5];

static void count_kinds(const rnode *n)
{
    kinds_seen[n->n_kids > 0][n->kind]++;
    for (int i = 0; i < n->n_kids; i++)
        count_kinds(&n->kids[i]);
}

static void free_node(rnode *n)
{
    for (int i = 0; i < n->n_kids; i++)
        free_node(&n->kids[i]);
    free(n->kids);
}

/* The formula of RK_FORMULA nodes. */
#define TREE_FORMULA                                                           \
    "{\"sum\":[\"$score\",{\"mult\":[0.5,\"$score[1]\"]},"                     \
    "{\"mult\":[\"x\",0.01]},{\"key\":\"g\",\"match\":{\"value\":1}}]}"

static double ref_formula(const ref_point *p, float s0, float s1)
{
    return (double)s0 + (double)0.5f * s1 + p->x * (double)0.01f +
           (p->g == 1 ? 1.0 : 0.0);
}

static cJSON *node_json(const rnode *n, bool root, int offset)
{
    cJSON *o = cJSON_CreateObject();
    if (n->n_kids) {
        cJSON *pre = cJSON_CreateArray();
        for (int i = 0; i < n->n_kids; i++)
            cJSON_AddItemToArray(pre, node_json(&n->kids[i], false, 0));
        cJSON_AddItemToObject(o, "prefetch", pre);
    }
    char t[512];
    switch (n->kind) {
    case RK_NEAREST:
        if (n->vec == 0)
            snprintf(t, sizeof(t), "[%d,%d,%d,%d]", n->q[0], n->q[1], n->q[2],
                     n->q[3]);
        else if (n->vec == 2)
            snprintf(t, sizeof(t), "{\"indices\":[%d,%d],\"values\":[%d,%d]}",
                     n->q[0], n->q[1], n->q[2], n->q[3]);
        else
            snprintf(t, sizeof(t), "[%d,%d,%d]", n->q[0], n->q[1], n->q[2]);
        cJSON_AddStringToObject(o, "using",
                                (const char *[]){"a", "b", "s"}[n->vec]);
        break;
    case RK_RECO: {
        int dim = n->vec == 0 ? 4 : 3;
        size_t at = (size_t)snprintf(t, sizeof(t),
                                     "{\"recommend\":{"
                                     "\"strategy\":\"sum_scores\","
                                     "\"positive\":[");
        for (int i = 0; i < n->n_pos; i++)
            for (int d = 0; d < dim; d++)
                at += (size_t)snprintf(t + at, sizeof(t) - at, "%s%d%s",
                                       d   ? ","
                                       : i ? ",["
                                           : "[",
                                       n->pos[i][d], d == dim - 1 ? "]" : "");
        at += (size_t)snprintf(t + at, sizeof(t) - at, "],\"negative\":[");
        for (int d = 0; n->has_neg && d < dim; d++)
            at += (size_t)snprintf(t + at, sizeof(t) - at, "%s%d%s",
                                   d ? "," : "[", n->neg[d],
                                   d == dim - 1 ? "]" : "");
        snprintf(t + at, sizeof(t) - at, "]}}");
        cJSON_AddStringToObject(o, "using", n->vec == 0 ? "a" : "b");
        break;
    }
    case RK_RRF:
        if (!n->rrf_k && !n->has_weights) {
            snprintf(t, sizeof(t), "{\"fusion\":\"rrf\"}");
            break;
        }
        {
            char w[128] = "", k[32] = "";
            if (n->has_weights) {
                size_t at = 0;
                for (int i = 0; i < n->n_kids; i++)
                    at += (size_t)snprintf(w + at, sizeof(w) - at, "%s%g",
                                           i ? "," : "", (double)n->weights[i]);
            }
            if (n->rrf_k)
                snprintf(k, sizeof(k), "\"k\":%d%s", n->rrf_k,
                         n->has_weights ? "," : "");
            snprintf(t, sizeof(t), "{\"rrf\":{%s%s%s%s}}", k,
                     n->has_weights ? "\"weights\":[" : "", w,
                     n->has_weights ? "]" : "");
        }
        break;
    case RK_DBSF:
        snprintf(t, sizeof(t), "{\"fusion\":\"dbsf\"}");
        break;
    case RK_FORMULA:
        snprintf(t, sizeof(t), "{\"formula\":%s}", TREE_FORMULA);
        break;
    }
    cJSON_AddItemToObject(o, "query", cJSON_Parse(t));
    if (n->filter.kind)
        cJSON_AddItemToObject(o, "filter", rf_json(&n->filter));
    cJSON_AddNumberToObject(o, "limit", n->limit);
    if (n->has_threshold)
        cJSON_AddNumberToObject(o, "score_threshold", n->threshold);
    if (root && offset)
        cJSON_AddNumberToObject(o, "offset", offset);
    return o;
}

/* Brute-force answer of node n under the filters above it (fs, nf);
 * *out (malloc'd, sorted) and its length. */
static int ref_node(const rnode *n, const rfilter *fs, int nf, rhit **out)
{
    rfilter all[8];
    if (nf)
        memcpy(all, fs, (size_t)nf * sizeof(*fs));
    if (n->filter.kind)
        all[nf++] = n->filter;
    rhit *r = calloc(NP * 3 + 1, sizeof(rhit));
    int m = 0;
    if (!n->n_kids) {
        for (int id = 1; id <= NP; id++) {
            bool in = node_has(n, &pts[id]);
            for (int f = 0; in && f < nf; f++)
                in = rf_match(&all[f], &pts[id]);
            if (in)
                r[m++] = (rhit){id, ref_node_score(n, &pts[id])};
        }
        vec_higher = node_higher(n);
        qsort(r, (size_t)m, sizeof(rhit), cmp_rhit);
        int k = 0;
        for (int i = 0; i < m; i++)
            if (!n->has_threshold || (vec_higher ? r[i].score > n->threshold
                                                 : r[i].score < n->threshold))
                r[k++] = r[i];
        *out = r;
        return k < n->limit ? k : n->limit;
    }
    rhit *kid[3];
    int nk[3];
    for (int i = 0; i < n->n_kids; i++)
        nk[i] = ref_node(&n->kids[i], all, nf, &kid[i]);
    /* the union, with each child's score and position */
    float acc[NP + 1] = {0}; /* float sums in list order, as Qdrant */
    bool in[NP + 1] = {0};
    float s[3][NP + 1];
    bool has[3][NP + 1];
    memset(has, 0, sizeof(has));
    for (int i = 0; i < n->n_kids; i++) {
        float mean = 0, sd = 0;
        if (n->kind == RK_DBSF && nk[i] >= 2) {
            double sum = 0, sq = 0;
            for (int j = 0; j < nk[i]; j++)
                sum += kid[i][j].score;
            double mu = sum / nk[i];
            for (int j = 0; j < nk[i]; j++)
                sq += (kid[i][j].score - mu) * (kid[i][j].score - mu);
            mean = (float)mu;
            sd = (float)sqrt(sq / (nk[i] - 1));
        }
        for (int j = 0; j < nk[i]; j++) {
            int id = kid[i][j].id;
            in[id] = true;
            s[i][id] = kid[i][j].score;
            has[i][id] = true;
            if (n->kind == RK_RRF) {
                float w = n->has_weights ? n->weights[i] : 1.0f;
                int k = n->rrf_k ? n->rrf_k : 2;
                acc[id] += w <= 0 ? 0.0 : 1.0 / ((j + 1) / (double)w + k - 1);
            } else if (n->kind == RK_DBSF) {
                acc[id] +=
                    nk[i] < 2 || sd == 0
                        ? 0.5
                        : (kid[i][j].score - (mean - 3 * sd)) / (6.0 * sd);
            }
        }
        free(kid[i]);
    }
    bool higher = true;
    for (int id = 1; id <= NP; id++) {
        if (!in[id])
            continue;
        switch (n->kind) {
        case RK_NEAREST:
        case RK_RECO:
            if (!node_has(n, &pts[id]))
                continue;
            r[m++] = (rhit){id, ref_node_score(n, &pts[id])};
            higher = node_higher(n);
            break;
        case RK_FORMULA:
            r[m++] = (rhit){
                id,
                (float)ref_formula(&pts[id], has[0][id] ? s[0][id] : 0,
                                   n->n_kids > 1 && has[1][id] ? s[1][id] : 0)};
            break;
        default:
            r[m++] = (rhit){id, (float)acc[id]};
        }
    }
    vec_higher = higher;
    qsort(r, (size_t)m, sizeof(rhit), cmp_rhit);
    int k = 0;
    for (int i = 0; i < m; i++) {
        bool keep = !n->has_threshold;
        if (!keep && (n->kind == RK_NEAREST || n->kind == RK_RECO))
            keep =
                higher ? r[i].score > n->threshold : r[i].score < n->threshold;
        else if (!keep)
            keep = r[i].score >= n->threshold;
        if (keep)
            r[k++] = r[i];
    }
    *out = r;
    return k < n->limit ? k : n->limit;
}

/* Fused and formula scores are compared to 1e-5 relative (the float sums
 * may differ in their last bit); ids must be equal one for one. */
static void check_tree(const rnode *root, int offset, int trial)
{
    cJSON *req = node_json(root, true, offset);
    char *body = cJSON_PrintUnformatted(req);
    out o = call(qvs_points_query, "h", body);
    ok_or_die(&o, body);
    rhit *want = NULL;
    rnode page = *root; /* the root keeps limit + offset, then skips */
    page.limit += offset;
    int n = ref_node(&page, NULL, 0, &want);
    int from = offset < n ? offset : n;
    const cJSON *got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_msg(cJSON_GetArraySize(got) == n - from,
                  "trial %d: %d hits, want %d, for %s", trial,
                  cJSON_GetArraySize(got), n - from, body);
    int i = from;
    for (const cJSON *e = got->child; e; e = e->next, i++) {
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
        double sc = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score"));
        ck_assert_msg(
            id == want[i].id && fabs(sc - want[i].score) <=
                                    1e-5 * fmax(1.0, fabs(want[i].score)),
            "trial %d at %d: id %d score %g, want %d %g, for %s", trial, i, id,
            sc, want[i].id, (double)want[i].score, body);
    }
    free(want);
    cJSON_Delete(o.res);
    cJSON_free(body);
    cJSON_Delete(req);
}

START_TEST(random_trees_equal_brute_force)
{
    rng_state = 0x5eed0001u;
    with_sparse = true;
    seed_random();
    for (int trial = 0; trial < 400; trial++) {
        rnode root;
        gen_node(&root, 0, true);
        check_tree(&root, rnd(3) == 0 ? (int)rnd(4) : 0, trial);
        count_kinds(&root);
        free_node(&root);
    }
    /* leaves: nearest and recommend; inner nodes: every kind */
    ck_assert_int_ge(sparse_nodes, 50); /* "s" leaves and rescorings */
    ck_assert_int_ge(kinds_seen[0][RK_NEAREST], 100);
    ck_assert_int_ge(kinds_seen[0][RK_RECO], 30);
    for (int k = 0; k < 5; k++)
        ck_assert_msg(kinds_seen[1][k] >= 30, "kind %d: %d inner nodes", k,
                      kinds_seen[1][k]);
}
END_TEST

START_TEST(rescore_scores_only_candidates)
{
    /* a dense re-score of candidates found by the other vector: the
     * answer holds only prefetched points, scored by the outer query */
    rng_state = 7;
    seed_random();
    const char *body = "{\"prefetch\":{\"query\":[0,0,0],\"using\":\"b\","
                       "\"limit\":3},\"query\":[1,1,1,1],\"using\":\"a\","
                       "\"limit\":10,\"with_payload\":true}";
    out o = call(qvs_points_query, "h", body);
    ok_or_die(&o, body);
    const cJSON *got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), 3);
    for (const cJSON *e = got->child; e; e = e->next) {
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(e, "payload"));
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
        int s = pts[id].a[0] + pts[id].a[1] + pts[id].a[2] + pts[id].a[3];
        ck_assert_double_eq(
            cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score")), s);
    }
    cJSON_Delete(o.res);
}
END_TEST

static bool has_id_in(const cJSON *pts_arr, int id)
{
    for (const cJSON *e = pts_arr->child; e; e = e->next)
        if ((int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id")) == id)
            return true;
    return false;
}

static out query_ok(const char *body)
{
    out o = call(qvs_points_query, "h", body);
    ok_or_die(&o, body);
    return o;
}

START_TEST(order_by_sample_batch_and_exclusions)
{
    rng_state = 21;
    seed_random();
    qvs_coll *c = cat.colls[0];
    ck_assert_int_eq(qv_payload_index_create(c->points, "x", QV_INDEX_INTEGER),
                     QV_OK);
    /* order_by in a prefetch: the 5 lowest x, re-scored on "a" */
    out o = query_ok("{\"prefetch\":{\"query\":{\"order_by\":\"x\"},"
                     "\"limit\":5},\"query\":[1,-1,1,-1],\"using\":\"a\"}");
    const cJSON *got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), 5);
    int xs[NP];
    for (int i = 0; i < NP; i++)
        xs[i] = pts[i + 1].x;
    for (int i = 0; i < NP; i++) /* selection of the 5th smallest */
        for (int j = i + 1; j < NP; j++)
            if (xs[j] < xs[i]) {
                int t = xs[i];
                xs[i] = xs[j];
                xs[j] = t;
            }
    double prev = INFINITY;
    for (const cJSON *e = got->child; e; e = e->next) {
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
        double sc = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score"));
        int q[4] = {1, -1, 1, -1};
        ck_assert_int_le(pts[id].x, xs[4]);
        ck_assert_double_eq(sc, ref_score(0, q, &pts[id]));
        ck_assert(sc <= prev);
        prev = sc;
    }
    cJSON_Delete(o.res);
    /* order_by over a prefetch: its candidates by x descending, with
     * order_value */
    o = query_ok("{\"prefetch\":{\"query\":[1,2,3,4],\"using\":\"a\","
                 "\"limit\":8},\"query\":{\"order_by\":{\"key\":\"x\","
                 "\"direction\":\"desc\"}},\"limit\":20}");
    got = cJSON_GetObjectItem(o.res, "points");
    rhit *cand = NULL;
    rnode leaf = {.kind = RK_NEAREST, .vec = 0, .q = {1, 2, 3, 4}, .limit = 8};
    int n = ref_node(&leaf, NULL, 0, &cand);
    ck_assert_int_eq(cJSON_GetArraySize(got), n);
    double last = INFINITY;
    for (const cJSON *e = got->child; e; e = e->next) {
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
        double ov = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "order_value"));
        ck_assert_double_eq(ov, pts[id].x);
        ck_assert(ov <= last);
        last = ov;
        bool in = false;
        for (int i = 0; i < n; i++)
            in = in || cand[i].id == id;
        ck_assert(in);
    }
    cJSON_Delete(o.res);
    /* sample over a prefetch: exactly its candidates, in some order */
    o = query_ok("{\"prefetch\":{\"query\":[1,2,3,4],\"using\":\"a\","
                 "\"limit\":8},\"query\":{\"sample\":\"random\"},"
                 "\"limit\":20}");
    got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), n);
    for (int i = 0; i < n; i++)
        ck_assert(has_id_in(got, cand[i].id));
    cJSON_Delete(o.res);
    /* sample in a prefetch, fused: ranks give 1/2, 1/3, ... */
    o = query_ok("{\"prefetch\":[{\"query\":{\"sample\":\"random\"},"
                 "\"limit\":4}],\"query\":{\"fusion\":\"rrf\"}}");
    got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), 4);
    int pos = 0;
    for (const cJSON *e = got->child; e; e = e->next, pos++)
        ck_assert_double_eq_tol(
            cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score")),
            1.0 / (pos + 2), 1e-6);
    cJSON_Delete(o.res);
    /* a point referenced by id anywhere in the tree is in no answer,
     * even where another prefetch would rank it first */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"prefetch\":[{\"query\":5,\"using\":\"a\",\"limit\":5},"
             "{\"query\":[%d,%d,%d,%d],\"using\":\"a\",\"limit\":5}],"
             "\"query\":{\"fusion\":\"rrf\"},\"limit\":20}",
             pts[5].a[0], pts[5].a[1], pts[5].a[2], pts[5].a[3]);
    o = query_ok(body);
    got = cJSON_GetObjectItem(o.res, "points");
    ck_assert(cJSON_GetArraySize(got) >= 5);
    ck_assert(!has_id_in(got, 5));
    cJSON_Delete(o.res);
    /* ... also from leaves without a vector query (id order, sample,
     * order_by), which still fill their limit */
    const char *leaves[] = {"{\"limit\":10}",
                            "{\"query\":{\"sample\":\"random\"},"
                            "\"limit\":47}",
                            "{\"query\":{\"order_by\":\"x\"},\"limit\":47}"};
    for (int l = 0; l < 3; l++) {
        snprintf(body, sizeof(body),
                 "{\"prefetch\":[{\"query\":5,\"using\":\"a\",\"limit\":1},"
                 "%s],\"query\":{\"fusion\":\"rrf\"},\"limit\":100}",
                 leaves[l]);
        o = query_ok(body);
        got = cJSON_GetObjectItem(o.res, "points");
        ck_assert(!has_id_in(got, 5));
        if (l == 0) /* 1..11 but 5 */
            for (int id = 1; id <= 11; id++)
                ck_assert(id == 5 || has_id_in(got, id));
        else /* every point but 5 */
            ck_assert_int_eq(cJSON_GetArraySize(got), NP - 1);
        cJSON_Delete(o.res);
    }
    /* with_payload and with_vector shape the root's answer only */
    o = query_ok("{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\","
                 "\"limit\":3},{\"query\":[0,0,0],\"using\":\"b\","
                 "\"limit\":3}],\"query\":{\"fusion\":\"dbsf\"},"
                 "\"with_payload\":[\"g\"],\"with_vector\":[\"a\"]}");
    for (const cJSON *e = cJSON_GetObjectItem(o.res, "points")->child; e;
         e = e->next) {
        const cJSON *pl = cJSON_GetObjectItem(e, "payload");
        ck_assert_int_eq(cJSON_GetArraySize(pl), 1);
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(pl, "g"));
        const cJSON *v = cJSON_GetObjectItem(e, "vector");
        ck_assert_int_eq(cJSON_GetArraySize(v), 1);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(v, "a")), 4);
    }
    cJSON_Delete(o.res);
    /* query/batch: each answer equals the query alone */
    const char *q1 = "{\"prefetch\":[{\"query\":[1,1,0,0],\"using\":\"a\"},"
                     "{\"query\":[1,1,1],\"using\":\"b\"}],\"query\":"
                     "{\"rrf\":{\"k\":3}},\"limit\":6}";
    const char *q2 =
        "{\"prefetch\":{\"query\":[1,1,1],\"using\":\"b\","
        "\"limit\":12},\"query\":{\"formula\":" TREE_FORMULA "},\"limit\":6}";
    snprintf(body, sizeof(body), "{\"searches\":[%s,%s]}", q1, q2);
    out b = call(qvs_points_query_batch, "h", body);
    ok_or_die(&b, body);
    const char *single[] = {q1, q2};
    for (int i = 0; i < 2; i++) {
        out one = query_ok(single[i]);
        char *t1 = cJSON_PrintUnformatted(one.res);
        char *t2 = cJSON_PrintUnformatted(cJSON_GetArrayItem(b.res, i));
        ck_assert_str_eq(t1, t2);
        cJSON_free(t1);
        cJSON_free(t2);
        cJSON_Delete(one.res);
    }
    cJSON_Delete(b.res);
    free(cand);
}
END_TEST

/* The root's offset stays at the root: since Qdrant 1.14 (qdrant PR
 * #6357, "don't propagate offset into prefetches"; 1.19's planned_query.rs
 * adds it to the root's limit only) a prefetch's limit is all the root
 * can page through, so paging past it gives an empty page.  Qdrant's
 * older test_random_rescore_with_offset expects the opposite (offset 1
 * over a prefetch of limit 1 still giving a point); this pins 1.19. */
static int page_size(const char *body)
{
    out o = query_ok(body);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(o.res, "points"));
    cJSON_Delete(o.res);
    return n;
}

START_TEST(offset_stays_at_root)
{
    rng_state = 23;
    seed_random();
    out o = query_ok("{\"prefetch\":{\"limit\":1},\"query\":"
                     "{\"sample\":\"random\"}}");
    const cJSON *got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), 1);
    ck_assert_int_eq(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItem(got->child, "id")), 1);
    cJSON_Delete(o.res);
    /* every rescoring kind: the one candidate is skipped */
    ck_assert_int_eq(page_size("{\"prefetch\":{\"limit\":1},\"query\":"
                               "{\"sample\":\"random\"},\"offset\":1}"),
                     0);
    ck_assert_int_eq(page_size("{\"prefetch\":{\"limit\":1},\"query\":"
                               "[1,2,3,4],\"using\":\"a\",\"offset\":1}"),
                     0);
    ck_assert_int_eq(page_size("{\"prefetch\":{\"prefetch\":{\"limit\":1},"
                               "\"query\":[1,2,3,4],\"using\":\"a\","
                               "\"limit\":5},\"query\":[1,2,3,4],"
                               "\"using\":\"a\",\"offset\":1}"),
                     0);
    ck_assert_int_eq(page_size("{\"prefetch\":[{\"limit\":1},{\"limit\":1}],"
                               "\"query\":{\"fusion\":\"rrf\"},"
                               "\"offset\":1}"),
                     0);
    /* a prefetch of limit 2 leaves one point for the second page */
    ck_assert_int_eq(page_size("{\"prefetch\":{\"limit\":2},\"query\":"
                               "{\"sample\":\"random\"},\"offset\":1}"),
                     1);
}
END_TEST

START_TEST(prefetch_lookup_from)
{
    /* a prefetch's query by id, read from another collection: the id is
     * not left out here, since it names a point of that collection */
    rng_state = 33;
    seed_random();
    add_named("o");
    out o = call(qvs_points_upsert, "o",
                 "{\"points\":[{\"id\":7,\"vector\":{\"a\":[1,0,0,0]}}]}");
    ok_or_die(&o, "o");
    cJSON_Delete(o.res);
    o = query_ok("{\"prefetch\":{\"query\":7,\"using\":\"a\",\"lookup_from\":"
                 "{\"collection\":\"o\",\"vector\":\"a\"},\"limit\":48},"
                 "\"query\":{\"fusion\":\"rrf\"},\"limit\":48}");
    rnode leaf = {.kind = RK_NEAREST, .vec = 0, .q = {1, 0, 0, 0}, .limit = 48};
    rhit *want = NULL;
    int n = ref_node(&leaf, NULL, 0, &want);
    const cJSON *got = cJSON_GetObjectItem(o.res, "points");
    ck_assert_int_eq(cJSON_GetArraySize(got), n);
    ck_assert(has_id_in(got, 7));
    int i = 0;
    for (const cJSON *e = got->child; e; e = e->next, i++)
        ck_assert_int_eq(
            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id")),
            want[i].id);
    free(want);
    cJSON_Delete(o.res);
    o = call(qvs_points_query, "h",
             "{\"prefetch\":{\"query\":99,\"using\":\"a\",\"lookup_from\":"
             "{\"collection\":\"o\"}},\"query\":{\"fusion\":\"rrf\"}}");
    ck_assert_int_eq(o.status, 404);
    ck_assert_str_eq(o.err, "Not found: No point with id 99 found");
}
END_TEST

/* ---- 4. errors ----------------------------------------------------------- */

START_TEST(tree_errors)
{
    rng_state = 3;
    seed_random();
    expect_error("h", "{\"query\":{\"fusion\":\"rrf\"}}", 400,
                 "Wrong input: Validation failed: cannot apply Fusion without "
                 "prefetches");
    expect_error("h",
                 "{\"prefetch\":{\"prefetch\":{\"query\":[1,0,0],\"using\":"
                 "\"b\"},\"query\":{\"fusion\":\"dbsf\"},\"using\":\"a\"},"
                 "\"query\":[1,0,0,0],\"using\":\"a\"}",
                 400,
                 "Bad request: Fusion queries cannot be combined with the "
                 "'using' field.");
    expect_error("h", "{\"query\":{\"formula\":\"$score\"}}", 400,
                 "Wrong input: Validation failed: cannot apply Formula "
                 "without prefetches");
    expect_error("h", "{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\"}]}",
                 400,
                 "Bad request: A query is needed to merge the prefetches. "
                 "Can't have prefetches without defining a query.");
    expect_error("h",
                 "{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\"}],"
                 "\"query\":{\"rrf\":{\"weights\":[1,2]}}}",
                 400,
                 "Wrong input: Validation failed: Number of weights in RRF "
                 "should match number of pre-fetches: got 2, expected 1");
    expect_error("h",
                 "{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\"}],"
                 "\"query\":{\"rrf\":{\"k\":0}}}",
                 422,
                 "Validation error in JSON body: [query.rrf.k: value 0 "
                 "invalid, must be 1 or larger]");
    expect_error("h",
                 "{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\"}],"
                 "\"query\":{\"formula\":\"nope\"}}",
                 400,
                 "Wrong input: Expected number value for nope in the payload "
                 "and/or in the formula defaults. Error: No value found in a "
                 "payload nor defaults");
    expect_error("h",
                 "{\"prefetch\":[{\"query\":[1,0,0,0],\"using\":\"a\"}],"
                 "\"query\":{\"formula\":{\"mult\":[\"$score\",{\"key\":"
                 "\"g\",\"bogus\":1}]}}}",
                 400,
                 "Format error in JSON body: filter: must[0]: unknown member "
                 "\"bogus\"");
    /* 65 nested prefetches: Qdrant's MAX_PREFETCH_DEPTH is 64 */
    size_t cap = 65 * 64 + 256, at = 0;
    char *deep = malloc(cap);
    for (int i = 0; i < 65; i++)
        at += (size_t)snprintf(deep + at, cap - at, "{\"prefetch\":");
    at += (size_t)snprintf(deep + at, cap - at,
                           "{\"query\":[1,0,0,0],\"using\":\"a\"}");
    for (int i = 0; i < 65; i++)
        at += (size_t)snprintf(deep + at, cap - at,
                               ",\"query\":[1,0,0,0],\"using\":\"a\"}");
    expect_error("h", deep, 400,
                 "Wrong input: Validation failed: prefetches depth 65 exceeds "
                 "max depth 64");
    free(deep);
}
END_TEST

/* ---- 5. groups ----------------------------------------------------------- */

/* The group keys of point id for key kind: 0 "g", 1 "tags" (distinct),
 * 2 "n.s" (as "k0".."k2" coded 100 + n). */
static int ref_keys(int id, int kind, int *keys)
{
    const ref_point *r = &pts[id];
    if (kind == 0) {
        keys[0] = r->g;
        return 1;
    }
    if (kind == 2) {
        keys[0] = 100 + r->g % 3;
        return 1;
    }
    int n = 0;
    for (int t = 0; t < r->n_tags; t++)
        if (n == 0 || keys[0] != r->tags[t])
            keys[n++] = r->tags[t];
    return n;
}

typedef struct rgroup {
    int key;
    int hits[8];
    int n;
    int first; /* rank of the best hit */
} rgroup;

/* Qdrant's aggregation over the ranked candidates c[0..n): groups in the
 * order of their best hit, the first `limit` of them, each with its first
 * `size` hits. */
static int ref_groups(const rhit *c, int n, int kind, int size, int limit,
                      rgroup *out)
{
    int ng = 0;
    for (int i = 0; i < n; i++) {
        int keys[2];
        int nk = ref_keys(c[i].id, kind, keys);
        for (int k = 0; k < nk; k++) {
            int g = 0;
            while (g < ng && out[g].key != keys[k])
                g++;
            if (g == ng)
                out[ng++] = (rgroup){.key = keys[k], .first = i};
            if (out[g].n < size)
                out[g].hits[out[g].n++] = i;
        }
    }
    return ng < limit ? ng : limit;
}

/* Every point with vector a, ranked by dot with q, minus id skip. */
static int ref_rank_a(const int *q, int skip, rhit *r)
{
    int m = 0;
    for (int id = 1; id <= NP; id++)
        if (id != skip)
            r[m++] = (rhit){id, ref_score(0, q, &pts[id])};
    vec_higher = 1;
    qsort(r, (size_t)m, sizeof(rhit), cmp_rhit);
    return m;
}

static void check_groups(qvs_handler h, const char *body, const rhit *c, int n,
                         int kind, int size, int limit)
{
    rgroup want[64];
    int ng = ref_groups(c, n, kind, size, limit, want);
    out o = call(h, "h", body);
    ok_or_die(&o, body);
    const cJSON *groups = cJSON_GetObjectItem(o.res, "groups");
    ck_assert_msg(cJSON_GetArraySize(groups) == ng, "%d groups, want %d: %s",
                  cJSON_GetArraySize(groups), ng, body);
    int gi = 0;
    for (const cJSON *g = groups->child; g; g = g->next, gi++) {
        const cJSON *id = cJSON_GetObjectItem(g, "id");
        int key = cJSON_IsString(id) ? 100 + atoi(id->valuestring + 1)
                                     : (int)id->valuedouble;
        ck_assert_msg(key == want[gi].key, "group %d: key %d, want %d: %s", gi,
                      key, want[gi].key, body);
        const cJSON *hits = cJSON_GetObjectItem(g, "hits");
        ck_assert_int_eq(cJSON_GetArraySize(hits), want[gi].n);
        int hi = 0;
        for (const cJSON *e = hits->child; e; e = e->next, hi++) {
            const rhit *w = &c[want[gi].hits[hi]];
            ck_assert_int_eq(
                (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id")), w->id);
            ck_assert_double_eq_tol(
                cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score")), w->score,
                1e-5);
        }
    }
    cJSON_Delete(o.res);
}

START_TEST(groups_equal_brute_force)
{
    rng_state = 11;
    seed_random();
    rhit c[NP];
    for (int trial = 0; trial < 40; trial++) {
        int q[4], size = 1 + (int)rnd(3), limit = 1 + (int)rnd(5);
        int kind = (int)rnd(3);
        const char *by = kind == 0 ? "g" : kind == 1 ? "tags" : "n.s";
        for (int d = 0; d < 4; d++)
            q[d] = (int)rnd(7) - 3;
        char body[512];
        int n = ref_rank_a(q, 0, c);
        snprintf(body, sizeof(body),
                 "{\"vector\":{\"name\":\"a\",\"vector\":[%d,%d,%d,%d]},"
                 "\"group_by\":\"%s\",\"group_size\":%d,\"limit\":%d,"
                 "\"with_payload\":true}",
                 q[0], q[1], q[2], q[3], by, size, limit);
        check_groups(qvs_points_search_groups, body, c, n, kind, size, limit);
        snprintf(body, sizeof(body),
                 "{\"query\":[%d,%d,%d,%d],\"using\":\"a\",\"group_by\":\"%s\","
                 "\"group_size\":%d,\"limit\":%d}",
                 q[0], q[1], q[2], q[3], by, size, limit);
        check_groups(qvs_points_query_groups, body, c, n, kind, size, limit);
        /* recommend by one positive: the query is that point's vector,
         * and the point itself is left out */
        int pos = 1 + (int)rnd(NP);
        n = ref_rank_a(pts[pos].a, pos, c);
        snprintf(body, sizeof(body),
                 "{\"positive\":[%d],\"using\":\"a\",\"group_by\":\"%s\","
                 "\"group_size\":%d,\"limit\":%d}",
                 pos, by, size, limit);
        check_groups(qvs_points_recommend_groups, body, c, n, kind, size,
                     limit);
    }
}
END_TEST

START_TEST(query_groups_with_prefetch_and_lookup)
{
    rng_state = 12;
    seed_random();
    /* prefetch limits are multiplied by the number of groups (2): the
     * fused candidates are those of two leaves of 5 * 2 hits */
    rnode root = {.kind = RK_RRF, .limit = NP, .n_kids = 2};
    rnode kids[2] = {
        {.kind = RK_NEAREST, .vec = 0, .q = {1, 2, 0, -1}, .limit = 10},
        {.kind = RK_NEAREST, .vec = 1, .q = {0, 1, 2}, .limit = 10}};
    root.kids = kids;
    rhit *c = NULL;
    int n = ref_node(&root, NULL, 0, &c);
    const char *body =
        "{\"prefetch\":[{\"query\":[1,2,0,-1],\"using\":\"a\",\"limit\":5},"
        "{\"query\":[0,1,2],\"using\":\"b\",\"limit\":5}],"
        "\"query\":{\"fusion\":\"rrf\"},\"group_by\":\"g\",\"group_size\":2,"
        "\"limit\":2}";
    check_groups(qvs_points_query_groups, body, c, n, 0, 2, 2);
    free(c);
    /* with_lookup: the record of "docs" whose id is the group id */
    add_named("docs");
    out o = call(qvs_points_upsert, "docs",
                 "{\"points\":[{\"id\":0,\"vector\":{},\"payload\":{\"t\":"
                 "\"zero\"}},{\"id\":1,\"vector\":{},\"payload\":{\"t\":"
                 "\"one\"}},{\"id\":2,\"vector\":{},\"payload\":{\"t\":"
                 "\"two\"}}]}");
    ok_or_die(&o, "docs");
    cJSON_Delete(o.res);
    o = call(qvs_points_query_groups, "h",
             "{\"query\":[1,1,1,1],\"using\":\"a\",\"group_by\":\"g\","
             "\"group_size\":1,\"limit\":4,\"with_lookup\":{\"collection\":"
             "\"docs\",\"with_payload\":[\"t\"]}}");
    ok_or_die(&o, "lookup");
    int seen = 0;
    for (const cJSON *g = cJSON_GetObjectItem(o.res, "groups")->child; g;
         g = g->next) {
        int key = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(g, "id"));
        const cJSON *lk = cJSON_GetObjectItem(g, "lookup");
        if (key == 3) { /* no such doc */
            ck_assert_ptr_null(lk);
            continue;
        }
        static const char *const names[] = {"zero", "one", "two"};
        ck_assert_ptr_nonnull(lk);
        ck_assert_int_eq(
            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(lk, "id")), key);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
                             cJSON_GetObjectItem(lk, "payload"), "t")),
                         names[key]);
        seen++;
    }
    ck_assert_int_eq(seen, 3);
    cJSON_Delete(o.res);
    /* string with_lookup, and the errors */
    o = call(qvs_points_query_groups, "h",
             "{\"query\":[1,1,1,1],\"using\":\"a\",\"group_by\":\"g\","
             "\"with_lookup\":\"nope\"}");
    ck_assert_int_eq(o.status, 404);
    ck_assert_str_eq(o.err, "Not found: Collection nope not found");
    o = call(qvs_points_search_groups, "h",
             "{\"vector\":{\"name\":\"a\",\"vector\":[1,1,1,1]},"
             "\"group_by\":\"g\",\"limit\":2}");
    ck_assert_int_eq(o.status, 400);
    ck_assert_str_eq(o.err,
                     "Format error in JSON body: missing field `group_size`");
    o = call(qvs_points_query_groups, "h", "{\"query\":[1,1,1,1]}");
    ck_assert_int_eq(o.status, 400);
    ck_assert_str_eq(o.err, "Format error in JSON body: missing field "
                            "`group_by`");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hybrid");
    TCase *t = tcase_create("pure");
    tcase_add_test(t, rrf_qdrant_vectors);
    tcase_add_test(t, dbsf_by_hand);
    tcase_add_test(t, formula_operators);
    tcase_add_test(t, formula_errors);
    suite_add_tcase(s, t);
    t = tcase_create("trees");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, random_trees_equal_brute_force);
    tcase_add_test(t, rescore_scores_only_candidates);
    tcase_add_test(t, tree_errors);
    tcase_add_test(t, order_by_sample_batch_and_exclusions);
    tcase_add_test(t, offset_stays_at_root);
    tcase_add_test(t, prefetch_lookup_from);
    tcase_add_test(t, groups_equal_brute_force);
    tcase_add_test(t, query_groups_with_prefetch_and_lookup);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
