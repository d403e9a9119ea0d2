/*
 * strict.c -- Qdrant's strict mode: the limits of strict_mode_config,
 * checked before a request reads or changes anything.
 *
 * What we follow (Qdrant 1.19): lib/collection/src/operations/verification/
 * mod.rs (StrictModeVerification: the query limit, the filter's keys, the
 * `exact` flag and search params of every read request, check_limit_opt's
 * and check_bool_opt's messages), verification/update.rs (upsert and
 * update-vectors batch sizes, the collection's vector storage size,
 * filters of filtered updates), lib/collection/src/operations/types.rs
 * (CollectionError::strict_mode: "<error>. Help: <solution>", served as a
 * 400 "Bad request: ..."; rate_limit_error: a 429 "Rate limiting exceeded:
 * ..." with Retry-After) and lib/common/common/src/rate_limiting.rs (the
 * token bucket), with tests/openapi/test_strictmode.py for the shapes.
 *
 * Design.  The checks read the request's JSON as it came, not the parsed
 * plans of points_*.c, so that each handler needs one line and the checks
 * see a request before anything is applied.  Only a setting that is
 * present limits anything, and nothing is checked unless `enabled` is true
 * (Qdrant ignores the other fields then).  The limits are read from a copy
 * of the collection's config taken for the request, so a concurrent PATCH
 * is seen whole or not at all.
 *
 * Rates: one bucket for reads and one for writes per collection, holding
 * at most `read_rate_limit` / `write_rate_limit` tokens and refilled at a
 * sixtieth of that per second.  A read costs one token per search in the
 * request plus the conditions of its filters (operation_rate_cost.rs;
 * Qdrant's extra cost of multi-example recommend queries is not counted),
 * a write one per point it lists or, with a filter, per point the filter
 * matches now (Qdrant's cardinality estimate), at least one.  The buckets
 * start full and restart full when the configured rate changes.  Their
 * clock is monotonic and injectable, so tests move time instead of
 * sleeping.
 */
#include "strict.h"

#include "catalog.h"
#include "server.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- rate limits ------------------------------------------------------- */

typedef struct bucket {
    uint64_t per_minute; /* 0: never used yet */
    double tokens;
    uint64_t last_ns;
} bucket;

struct qvs_strict_rates {
    pthread_mutex_t mu;
    bucket read, write;
    qvs_strict_clock now;
    void *now_arg;
};

static uint64_t monotonic_ns(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

qvs_strict_rates *qvs_strict_rates_new(void)
{
    qvs_strict_rates *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->now = monotonic_ns;
    return r;
}

void qvs_strict_rates_free(qvs_strict_rates *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void qvs_strict_rates_set_clock(qvs_strict_rates *r, qvs_strict_clock now,
                                void *arg)
{
    if (!r || !now)
        return;
    pthread_mutex_lock(&r->mu);
    r->now = now;
    r->now_arg = arg;
    pthread_mutex_unlock(&r->mu);
}

/* Refills b up to now; a new rate restarts it full. */
static void refill(bucket *b, uint64_t per_minute, uint64_t now)
{
    if (b->per_minute != per_minute) {
        b->per_minute = per_minute;
        b->tokens = (double)per_minute;
        b->last_ns = now;
        return;
    }
    double secs = now > b->last_ns ? (double)(now - b->last_ns) / 1e9 : 0;
    b->last_ns = now;
    b->tokens += secs * (double)per_minute / 60.0;
    if (b->tokens > (double)per_minute)
        b->tokens = (double)per_minute;
}

bool qvs_strict_take(qvs_strict_rates *r, bool write, uint64_t per_minute,
                     double cost, qvs_resp *resp)
{
    const char *kind = write ? "Write" : "Read";
    if (!r)
        return true;
    if (cost > (double)per_minute)
        return qvs_fail(resp, 429,
                        "Rate limiting exceeded: %s rate limit exceeded, "
                        "request larger than rate limiter capacity, please "
                        "try to split your request",
                        kind);
    pthread_mutex_lock(&r->mu);
    bucket *b = write ? &r->write : &r->read;
    refill(b, per_minute, r->now(r->now_arg));
    double have = b->tokens;
    bool ok = have >= cost;
    if (ok)
        b->tokens -= cost;
    pthread_mutex_unlock(&r->mu);
    if (ok)
        return true;
    double wait = (cost - have) * 60.0 / (double)per_minute;
    unsigned secs = (unsigned)ceil(wait);
    snprintf(resp->retry_after, sizeof(resp->retry_after), "%u", secs);
    return qvs_fail(resp, 429,
                    "Rate limiting exceeded: %s rate limit exceeded: "
                    "Operation requires %.0f tokens but only %.1f were "
                    "available. Retry after %us",
                    kind, cost, have, secs);
}

/* ---- the settings ------------------------------------------------------ */

typedef struct ctx {
    const qvs_req *req;
    qvs_resp *resp;
    qvs_coll *coll;
    const cJSON *sm;  /* strict_mode_config */
    cJSON *schema;    /* payload_schema copy, taken when first needed */
    double read_cost; /* tokens the request takes */
    double write_cost;
} ctx;

static const cJSON *member(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

/* The setting k when it is a number (null or absent: no limit). */
static bool setting(const ctx *x, const char *k, double *v)
{
    const cJSON *j = member(x->sm, k);
    if (!cJSON_IsNumber(j))
        return false;
    *v = j->valuedouble;
    return true;
}

static bool fail_strict(ctx *x, const char *error, const char *solution)
{
    return qvs_fail(x->resp, 400, "Bad request: %s. Help: %s", error, solution);
}

/* v as Rust's Display prints an f64 or an integer: the shortest digits
 * that read back as v, never an exponent. */
static const char *rust_num(double v, char buf[48])
{
    if (v == floor(v) && fabs(v) < 1e21) {
        snprintf(buf, 48, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 48, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (strchr(buf, 'e'))
        snprintf(buf, 48, "%.17f", v);
    return buf;
}

/* check_limit_opt: value above the setting k is refused, naming name. */
static bool limit(ctx *x, double value, const char *k, const char *name)
{
    double max;
    if (!setting(x, k, &max) || value <= max)
        return true;
    char err[256], help[256], a[48], b[48];
    snprintf(err, sizeof(err), "Limit exceeded %s > %s for \"%s\"",
             rust_num(value, a), rust_num(max, b), name);
    snprintf(help, sizeof(help), "Reduce the \"%s\" parameter to or below %s.",
             name, b);
    return fail_strict(x, err, help);
}

/* A limit with its own message: "<what> (value > max)". */
static bool custom_limit(ctx *x, double value, const char *k, const char *what,
                         const char *solution)
{
    double max;
    if (!setting(x, k, &max) || value <= max)
        return true;
    char err[256], a[48], b[48];
    snprintf(err, sizeof(err), "%s (%s > %s)", what, rust_num(value, a),
             rust_num(max, b));
    return fail_strict(x, err, solution);
}

/* ---- filters ----------------------------------------------------------- */

/* The index types that serve a field condition, as Qdrant names them
 * (PayloadSchemaType's Display), sorted as its message lists them, or
 * NULL when none is needed. */
static const char *const *serving_types(const cJSON *cond)
{
    static const char *const kw[] = {"keyword", "uuid", NULL};
    static const char *const in[] = {"integer", NULL};
    static const char *const bo[] = {"bool", NULL};
    static const char *const tx[] = {"text", NULL};
    static const char *const nu[] = {"float", "integer", NULL};
    static const char *const dt[] = {"datetime", NULL};
    static const char *const geo[] = {"geo", NULL};
    static const char *const lookup_any[] = {"integer", "keyword", "uuid",
                                             NULL};
    const cJSON *m = member(cond, "match");
    if (m) {
        if (member(m, "text") || member(m, "phrase") || member(m, "text_any"))
            return tx;
        const cJSON *v = member(m, "value");
        const cJSON *list = v ? NULL : member(m, "any");
        if (!v && !list)
            list = member(m, "except");
        /* An empty list has no element to tell its type by: any index
         * that answers a match serves it (an empty `any` matches nothing,
         * an empty `except` every value; tests/openapi/
         * test_match_any_empty.py), rather than the keyword index an
         * empty list of strings would ask for. */
        if (cJSON_IsArray(list) && !list->child)
            return lookup_any;
        if (list)
            v = cJSON_IsArray(list) ? list->child : NULL;
        if (cJSON_IsBool(v))
            return bo;
        if (cJSON_IsNumber(v))
            return in;
        return kw;
    }
    const cJSON *r = member(cond, "range");
    if (r) {
        for (const cJSON *b = r->child; b; b = b->next)
            if (cJSON_IsString(b))
                return dt;
        return nu;
    }
    if (member(cond, "geo_radius") || member(cond, "geo_bounding_box") ||
        member(cond, "geo_polygon"))
        return geo;
    return NULL;
}

/* True when the payload schema has key indexed as one of types, able to
 * answer need ("lookup": match, "range": range; NULL: either). */
static bool indexed(ctx *x, const char *key, const char *const *types,
                    const char *need)
{
    if (!x->schema)
        x->schema = qvs_coll_schema_dup(x->req->catalog, x->coll);
    const cJSON *info = member(x->schema, key);
    const cJSON *t = member(info, "data_type");
    /* An integer index built without lookup answers no match, without
     * range no range (Qdrant's IntegerIndexParams). */
    if (cJSON_IsString(t) && strcmp(t->valuestring, "integer") == 0 && need &&
        cJSON_IsFalse(member(member(info, "params"), need)))
        return false;
    for (size_t i = 0; cJSON_IsString(t) && types[i]; i++)
        if (strcmp(t->valuestring, types[i]) == 0)
            return true;
    return false;
}

typedef struct walk {
    size_t conditions; /* every condition, clauses included */
    size_t max_size;   /* the largest list a condition holds */
    const char *key;   /* the first key without a serving index */
    char key_buf[512];
    const char *const *types;
} walk;

static void walk_filter(ctx *x, const cJSON *f, const char *prefix, walk *w);

static void walk_condition(ctx *x, const cJSON *c, const char *prefix, walk *w)
{
    w->conditions++;
    const cJSON *nested = member(c, "nested");
    if (nested) {
        char p[512];
        const cJSON *k = member(nested, "key");
        snprintf(p, sizeof(p), "%s%s[].", prefix,
                 cJSON_IsString(k) ? k->valuestring : "");
        walk_filter(x, member(nested, "filter"), p, w);
        return;
    }
    if (!member(c, "key")) {
        const cJSON *ids = member(c, "has_id");
        if (cJSON_IsArray(ids) && (size_t)cJSON_GetArraySize(ids) > w->max_size)
            w->max_size = (size_t)cJSON_GetArraySize(ids);
        if (member(c, "must") || member(c, "should") || member(c, "must_not") ||
            member(c, "min_should"))
            walk_filter(x, c, prefix, w);
        return;
    }
    const cJSON *m = member(c, "match");
    const cJSON *list = m ? member(m, "any") : NULL;
    list = list ? list : (m ? member(m, "except") : NULL);
    if (cJSON_IsArray(list) && (size_t)cJSON_GetArraySize(list) > w->max_size)
        w->max_size = (size_t)cJSON_GetArraySize(list);
    const cJSON *k = member(c, "key");
    const char *const *types = serving_types(c);
    if (w->key || !types || !cJSON_IsString(k))
        return;
    snprintf(w->key_buf, sizeof(w->key_buf), "%s%s", prefix, k->valuestring);
    const char *need = member(c, "match")   ? "lookup"
                       : member(c, "range") ? "range"
                                            : NULL;
    if (!indexed(x, w->key_buf, types, need)) {
        w->key = w->key_buf;
        w->types = types;
    }
}

static void walk_clause(ctx *x, const cJSON *cl, const char *prefix, walk *w)
{
    if (cJSON_IsArray(cl)) {
        for (const cJSON *c = cl->child; c; c = c->next)
            walk_condition(x, c, prefix, w);
    } else if (cJSON_IsObject(cl)) {
        walk_condition(x, cl, prefix, w);
    }
}

static void walk_filter(ctx *x, const cJSON *f, const char *prefix, walk *w)
{
    walk_clause(x, member(f, "must"), prefix, w);
    walk_clause(x, member(f, "should"), prefix, w);
    walk_clause(x, member(f, "must_not"), prefix, w);
    walk_clause(x, member(member(f, "min_should"), "conditions"), prefix, w);
}

/* The filter checks of a read (update = false) or a filtered update. */
static bool check_filter(ctx *x, const cJSON *f, bool update)
{
    if (!cJSON_IsObject(f))
        return true;
    walk w = {0};
    walk_filter(x, f, "", &w);
    if (!update) /* a read costs its filter's conditions too */
        x->read_cost += (double)w.conditions;
    const cJSON *allow = member(x->sm, update ? "unindexed_filtering_update"
                                              : "unindexed_filtering_retrieve");
    if (cJSON_IsFalse(allow) && w.key) {
        char err[1024], list[128] = "";
        for (size_t i = 0; w.types[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                     i ? ", " : "", w.types[i]);
        snprintf(err, sizeof(err),
                 "Index required but not found for \"%s\" of one of the "
                 "following types: [%s]",
                 w.key, list);
        return fail_strict(x, err,
                           "Create an index for this key or use a different "
                           "filter.");
    }
    return custom_limit(x, (double)w.conditions, "filter_max_conditions",
                        "Filter condition limit reached",
                        "Reduce the amount of conditions of your filter.") &&
           custom_limit(x, (double)w.max_size, "condition_max_size",
                        "Condition size limit reached",
                        "Reduce the size of your condition.");
}

/* ---- reads ------------------------------------------------------------- */

/* SearchParams: exact, hnsw_ef, quantization.oversampling. */
static bool check_params(ctx *x, const cJSON *params)
{
    if (!cJSON_IsObject(params))
        return true;
    if (cJSON_IsTrue(member(params, "exact")) &&
        cJSON_IsFalse(member(x->sm, "search_allow_exact")))
        return fail_strict(x, "Exact search disabled!", "Set exact=false.");
    const cJSON *ef = member(params, "hnsw_ef");
    const cJSON *os = member(member(params, "quantization"), "oversampling");
    return (!cJSON_IsNumber(ef) ||
            limit(x, ef->valuedouble, "search_max_hnsw_ef", "hnsw_ef")) &&
           (!cJSON_IsNumber(os) ||
            limit(x, os->valuedouble, "search_max_oversampling",
                  "oversampling"));
}

/* check_grouping_field: with unindexed_filtering_retrieve false, a
 * group_by key needs an index that answers `match`. */
static bool check_group_by(ctx *x, const cJSON *key)
{
    static const char *const match_types[] = {"keyword", "integer", "bool",
                                              "uuid", NULL};
    static const char *const kinds[][2] = {{"float", "Float"},
                                           {"geo", "Geo"},
                                           {"text", "Text"},
                                           {"datetime", "Datetime"}};
    if (!cJSON_IsString(key) ||
        !cJSON_IsFalse(member(x->sm, "unindexed_filtering_retrieve")) ||
        indexed(x, key->valuestring, match_types, "lookup"))
        return true;
    const cJSON *t = member(member(x->schema, key->valuestring), "data_type");
    char err[512];
    snprintf(err, sizeof(err), "Index required but not found for \"%.400s\"",
             key->valuestring);
    for (size_t i = 0; cJSON_IsString(t) && i < 4; i++)
        if (strcmp(t->valuestring, kinds[i][0]) == 0)
            snprintf(err, sizeof(err),
                     "Index of type \"%s\" found for \"%.400s\"", kinds[i][1],
                     key->valuestring);
    return fail_strict(x, err,
                       "Create an index supporting `match` for this key.");
}

/* One read request (or prefetch): limit, filter, params, nested
 * prefetches.  exact_default: a missing top-level `exact` means true
 * (count). */
static bool check_read(ctx *x, const cJSON *b, bool exact_default)
{
    if (!cJSON_IsObject(b))
        return true;
    /* Qdrant's order: prefetches (check_custom), limit, filter, exact,
     * search params. */
    const cJSON *pf = member(b, "prefetch");
    if (cJSON_IsObject(pf) && !check_read(x, pf, false))
        return false;
    for (const cJSON *e = cJSON_IsArray(pf) ? pf->child : NULL; e; e = e->next)
        if (!check_read(x, e, false))
            return false;
    const cJSON *l = member(b, "limit");
    if (cJSON_IsNumber(l) &&
        !limit(x, l->valuedouble, "max_query_limit", "limit"))
        return false;
    if (!check_filter(x, member(b, "filter"), false))
        return false;
    const cJSON *ex = member(b, "exact");
    bool exact = ex ? cJSON_IsTrue(ex) : exact_default;
    if (exact && cJSON_IsFalse(member(x->sm, "search_allow_exact")))
        return fail_strict(x, "Exact search disabled!", "Set exact=false.");
    return check_params(x, member(b, "params")) &&
           check_group_by(x, member(b, "group_by"));
}

/* ?timeout= against max_timeout. */
static bool check_timeout(ctx *x)
{
    const char *t = x->req->query ? x->req->query(x->req, "timeout") : NULL;
    char *end;
    double v = t ? strtod(t, &end) : 0;
    return !t || *end || limit(x, v, "max_timeout", "timeout");
}

/* ---- writes ------------------------------------------------------------ */

/* The points an upsert or update-vectors body lists. */
static size_t listed_points(const cJSON *b)
{
    const cJSON *pts = member(b, "points");
    if (cJSON_IsArray(pts))
        return (size_t)cJSON_GetArraySize(pts);
    const cJSON *ids = member(member(b, "batch"), "ids");
    return cJSON_IsArray(ids) ? (size_t)cJSON_GetArraySize(ids) : 0;
}

/* Bytes of the collection's dense vectors, as Qdrant's
 * estimated_local_vector_storage_size: each point's dim elements of its
 * datatype (4 bytes float32, 2 float16, 1 uint8), as its storages'
 * size_of_available_vectors_in_bytes count them (count * dim *
 * size_of::<T>(), lib/segment/src/vector_storage/dense/). */
static double vector_bytes(const qvs_coll *c)
{
    double total = 0;
    for (size_t i = 0; i < c->n_vectors; i++) {
        uint64_t n = 0;
        qv_count(c->vectors[i].coll, &n);
        qv_collection_config cfg;
        qv_collection_get_config(c->vectors[i].coll, &cfg);
        double elem = cfg.datatype == QV_DATATYPE_FLOAT16 ? 2
                      : cfg.datatype == QV_DATATYPE_UINT8 ? 1
                                                          : sizeof(float);
        total += (double)n * c->vectors[i].size * elem;
    }
    return total;
}

static uint64_t points_count(const qvs_coll *c)
{
    uint64_t n = 0;
    qv_count(c->points, &n);
    return n;
}

/* v as a Rust f32 Display prints it: the fewest decimals that read back
 * as the same f32, never an exponent. */
static const char *rust_f32(double v, char *buf, size_t cap)
{
    float f = (float)v;
    for (int prec = 0; prec < 60; prec++) {
        snprintf(buf, cap, "%.*f", prec, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return buf;
}

/* Bytes of the collection's payloads as stored (qv_payload_bytes): the
 * estimate Qdrant's payloads_size_bytes is of its payload storage. */
static double payload_bytes(const qvs_coll *c)
{
    uint64_t n = 0;
    qv_payload_bytes(c->points, &n);
    return (double)n;
}

/* max_collection_payload_size_bytes: checked on upserts, vector updates
 * and set / overwrite payload, against the payloads already stored, as
 * Qdrant's check_collection_payload_size_limit
 * (lib/collection/src/collection/strict_mode/...: SetPayload and
 * check_collection_size_limit). */
static bool check_payload_storage(ctx *x)
{
    double max;
    char mb[96];
    if (setting(x, "max_collection_payload_size_bytes", &max) &&
        payload_bytes(x->coll) >= max)
        return qvs_fail(x->resp, 400,
                        "Bad request: Max payload storage size limit of "
                        "%sMB reached!",
                        rust_f32(max / (1024.0 * 1024.0), mb, sizeof(mb)));
    return true;
}

static bool check_storage(ctx *x)
{
    double max, count;
    char mb[96];
    if (setting(x, "max_collection_vector_size_bytes", &max) &&
        vector_bytes(x->coll) >= max)
        return qvs_fail(x->resp, 400,
                        "Bad request: Max vector storage size limit of "
                        "%sMB reached!",
                        rust_f32(max / (1024.0 * 1024.0), mb, sizeof(mb)));
    if (!check_payload_storage(x))
        return false;
    if (setting(x, "max_points_count", &count) &&
        (double)points_count(x->coll) >= count)
        return qvs_fail(x->resp, 400,
                        "Bad request: Max points count limit of %.17g "
                        "reached!",
                        count);
    return true;
}

/* The number of vectors of one named multivector / sparse value. */
static bool check_vector_value(ctx *x, const char *name, const cJSON *v)
{
    double max;
    const cJSON *mv = member(member(x->sm, "multivector_config"), name);
    const cJSON *sp = member(member(x->sm, "sparse_config"), name);
    const cJSON *mx = member(mv, "max_vectors");
    if (cJSON_IsNumber(mx) && cJSON_IsArray(v) && cJSON_IsArray(v->child) &&
        (max = mx->valuedouble) < cJSON_GetArraySize(v))
        return qvs_fail(x->resp, 400,
                        "Bad request: Multivector '%s' has a limit of %.17g "
                        "vectors, but %d were provided!",
                        name, max, cJSON_GetArraySize(v));
    const cJSON *ml = member(sp, "max_length");
    const cJSON *idx = member(v, "indices");
    if (cJSON_IsNumber(ml) && cJSON_IsArray(idx) &&
        (max = ml->valuedouble) < cJSON_GetArraySize(idx))
        return qvs_fail(x->resp, 400,
                        "Bad request: Sparse vector '%s' has a limit of "
                        "%.17g indices, but %d were provided!",
                        name, max, cJSON_GetArraySize(idx));
    return true;
}

/* multivector_config / sparse_config over every named vector listed. */
static bool check_vector_shapes(ctx *x, const cJSON *b)
{
    const cJSON *pts = member(b, "points");
    for (const cJSON *p = cJSON_IsArray(pts) ? pts->child : NULL; p;
         p = p->next) {
        const cJSON *v = member(p, "vector");
        if (cJSON_IsArray(v) && !check_vector_value(x, "", v))
            return false; /* the unnamed vector, a multivector maybe */
        for (const cJSON *e = cJSON_IsObject(v) ? v->child : NULL; e;
             e = e->next)
            if (!check_vector_value(x, e->string, e))
                return false;
    }
    const cJSON *bv = member(member(b, "batch"), "vectors");
    for (const cJSON *one = cJSON_IsArray(bv) ? bv->child : NULL; one;
         one = one->next)
        if (!check_vector_value(x, "", one))
            return false;
    for (const cJSON *e = cJSON_IsObject(bv) ? bv->child : NULL; e; e = e->next)
        for (const cJSON *one = cJSON_IsArray(e) ? e->child : NULL; one;
             one = one->next)
            if (!check_vector_value(x, e->string, one))
                return false;
    return true;
}

/* The points filter f matches now: the cost of a filtered update, as
 * Qdrant's cardinality estimate (0 when the library cannot read the
 * filter, which the handler then refuses). */
static double filter_matches(ctx *x, const cJSON *f)
{
    char *text = cJSON_PrintUnformatted(f);
    qv_filter *flt = NULL;
    uint64_t n = 0;
    if (text && qv_filter_parse(text, strlen(text), &flt, NULL, 0) == QV_OK &&
        qv_count_filter(x->coll->points, flt, &n) != QV_OK)
        n = 0;
    qv_filter_free(flt);
    cJSON_free(text);
    return (double)n;
}

static bool check_write(ctx *x, const cJSON *b, qvs_strict_kind kind)
{
    if (kind == QVS_STRICT_UPSERT || kind == QVS_STRICT_UPDATE_VECS) {
        size_t n = listed_points(b);
        x->write_cost += n ? (double)n : 1;
        return limit(x, (double)n, "upsert_max_batchsize",
                     kind == QVS_STRICT_UPSERT ? "upsert limit"
                                               : "update limit") &&
               check_storage(x) && check_vector_shapes(x, b);
    }
    const cJSON *ids = member(b, "points");
    const cJSON *f = member(b, "filter");
    double cost = cJSON_IsArray(ids) ? (double)cJSON_GetArraySize(ids) : 0;
    if (cJSON_IsObject(f) && member(x->sm, "write_rate_limit"))
        cost += filter_matches(x, f);
    x->write_cost += cost > 1 ? cost : 1;
    return check_filter(x, f, true) &&
           (kind != QVS_STRICT_SET_PAYLOAD || check_payload_storage(x));
}

/* The operations of /points/batch, each as its own request kind. */
static bool check_write_batch(ctx *x, const cJSON *b)
{
    const cJSON *ops = member(b, "operations");
    for (const cJSON *e = cJSON_IsArray(ops) ? ops->child : NULL; e;
         e = e->next) {
        const cJSON *op = cJSON_IsObject(e) ? e->child : NULL;
        if (!op || !op->string)
            continue;
        qvs_strict_kind k =
            strcmp(op->string, "upsert") == 0           ? QVS_STRICT_UPSERT
            : strcmp(op->string, "update_vectors") == 0 ? QVS_STRICT_UPDATE_VECS
            : strcmp(op->string, "set_payload") == 0 ||
                    strcmp(op->string, "overwrite_payload") == 0
                ? QVS_STRICT_SET_PAYLOAD
                : QVS_STRICT_WRITE_FILTER;
        if (!check_write(x, op, k))
            return false;
    }
    return true;
}

static bool check_index(ctx *x)
{
    double max;
    if (!setting(x, "max_payload_index_count", &max))
        return true;
    if (!x->schema)
        x->schema = qvs_coll_schema_dup(x->req->catalog, x->coll);
    if ((double)cJSON_GetArraySize(x->schema) < max)
        return true;
    char err[128];
    snprintf(err, sizeof(err),
             "Collection already has the maximum number of payload indices "
             "(%.17g)",
             max);
    return fail_strict(x, err,
                       "Please delete an existing index before creating a new "
                       "one.");
}

/* ---- the entry point --------------------------------------------------- */

static bool check_kind(ctx *x, qvs_strict_kind kind)
{
    const cJSON *b = x->req->body;
    switch (kind) {
    case QVS_STRICT_READ:
        x->read_cost = 1;
        return check_read(x, b, false);
    case QVS_STRICT_READ_BATCH: {
        const cJSON *list = member(b, "searches");
        if (cJSON_IsArray(list) && !limit(x, (double)cJSON_GetArraySize(list),
                                          "search_max_batchsize", "batch size"))
            return false;
        for (const cJSON *e = cJSON_IsArray(list) ? list->child : NULL; e;
             e = e->next) {
            x->read_cost += 1;
            if (!check_read(x, e, false))
                return false;
        }
        return true;
    }
    case QVS_STRICT_COUNT:
        x->read_cost = 1;
        return check_read(x, b, true);
    case QVS_STRICT_WRITE_BATCH:
        return check_write_batch(x, b);
    case QVS_STRICT_INDEX:
        return check_index(x);
    default:
        return check_write(x, b, kind);
    }
}

/* The rate limits, once the request passed its checks. */
static bool check_rates(ctx *x)
{
    double per_minute;
    if (x->read_cost > 0 && setting(x, "read_rate_limit", &per_minute) &&
        per_minute >= 1 &&
        !qvs_strict_take(x->coll->strict, false, (uint64_t)per_minute,
                         x->read_cost, x->resp))
        return false;
    if (x->write_cost > 0 && setting(x, "write_rate_limit", &per_minute) &&
        per_minute >= 1 &&
        !qvs_strict_take(x->coll->strict, true, (uint64_t)per_minute,
                         x->write_cost, x->resp))
        return false;
    return true;
}

bool qvs_strict_check(const qvs_req *req, qvs_resp *resp, qvs_strict_kind kind)
{
    qvs_coll *c;
    if (!req || !resp || !req->n_params || !req->catalog ||
        !qvs_catalog_get(req->catalog, req->params[0], &c))
        return true;
    cJSON *cfg = qvs_coll_config_dup(req->catalog, c);
    ctx x = {.req = req,
             .resp = resp,
             .coll = c,
             .sm = member(cfg, "strict_mode_config")};
    bool ok = cfg || qvs_fail(resp, 500,
                              "Service internal error: out of "
                              "memory");
    if (ok && cJSON_IsTrue(member(x.sm, "enabled")))
        ok = check_timeout(&x) && check_kind(&x, kind) && check_rates(&x);
    cJSON_Delete(x.schema);
    cJSON_Delete(cfg);
    qvs_coll_release(req->catalog, c);
    return ok;
}

/* ---- the settings themselves ------------------------------------------- */

static const char *json_kind(const cJSON *j)
{
    return cJSON_IsBool(j)     ? "boolean"
           : cJSON_IsNumber(j) ? "number"
           : cJSON_IsString(j) ? "string"
           : cJSON_IsArray(j)  ? "sequence"
                               : "map";
}

/* One unsigned setting of at least min and at most max (0: none). */
static bool valid_uint(const cJSON *j, const char *path, double min, double max,
                       qvs_resp *r)
{
    if (!cJSON_IsNumber(j))
        return qvs_fail(r, 400,
                        "Format error in JSON body: %s: invalid type: %s, "
                        "expected an unsigned integer",
                        path, json_kind(j));
    double d = j->valuedouble;
    if (d < 0 || d != floor(d) || d > 9007199254740992.0)
        return qvs_fail(r, 400,
                        "Format error in JSON body: %s: invalid value: %g, "
                        "expected an unsigned integer",
                        path, d);
    if (d < min)
        return qvs_fail(r, 422,
                        "Validation error in JSON body: [%s: value %.17g "
                        "invalid, must be %.17g or larger]",
                        path, d, min);
    if (max > 0 && d > max)
        return qvs_fail(r, 422,
                        "Validation error in JSON body: [%s: value %.17g "
                        "invalid, must be from %.17g to %.17g]",
                        path, d, min, max);
    return true;
}

/* multivector_config / sparse_config: {name: {field: uint >= 1}}. */
static bool valid_per_vector(const cJSON *j, const char *key, const char *field,
                             qvs_resp *r)
{
    char path[512];
    if (!cJSON_IsObject(j))
        return qvs_fail(r, 400,
                        "Format error in JSON body: strict_mode_config.%s: "
                        "invalid type: %s, expected a map",
                        key, json_kind(j));
    for (const cJSON *e = j->child; e; e = e->next) {
        const cJSON *v = member(e, field);
        snprintf(path, sizeof(path), "strict_mode_config.%s.%.200s.%s", key,
                 e->string, field);
        if (!cJSON_IsObject(e))
            return qvs_fail(r, 400,
                            "Format error in JSON body: strict_mode_config."
                            "%s.%.200s: invalid type: %s, expected a map",
                            key, e->string, json_kind(e));
        if (v && !cJSON_IsNull(v) && !valid_uint(v, path, 1, 0, r))
            return false;
    }
    return true;
}

bool qvs_strict_config_check(const cJSON *sm, qvs_resp *r)
{
    static const char *const bools[] = {
        "enabled", "unindexed_filtering_retrieve", "unindexed_filtering_update",
        "search_allow_exact"};
    static const struct {
        const char *key;
        double min, max;
    } uints[] = {{"max_query_limit", 1, 0},
                 {"max_timeout", 1, 0},
                 {"search_max_hnsw_ef", 0, 0},
                 {"upsert_max_batchsize", 0, 0},
                 {"search_max_batchsize", 0, 0},
                 {"max_collection_vector_size_bytes", 0, 0},
                 {"read_rate_limit", 1, 0},
                 {"write_rate_limit", 1, 0},
                 {"max_collection_payload_size_bytes", 0, 0},
                 {"max_points_count", 1, 0},
                 {"filter_max_conditions", 0, 0},
                 {"condition_max_size", 0, 0},
                 {"max_payload_index_count", 0, 0},
                 {"max_resident_memory_percent", 1, 100}};
    char path[128];
    if (!r || !cJSON_IsObject(sm))
        return true; /* absent, null, or refused by the caller's type check */
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        const cJSON *j = member(sm, bools[i]);
        if (j && !cJSON_IsNull(j) && !cJSON_IsBool(j))
            return qvs_fail(r, 400,
                            "Format error in JSON body: strict_mode_config.%s: "
                            "invalid type: %s, expected a boolean",
                            bools[i], json_kind(j));
    }
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
        const cJSON *j = member(sm, uints[i].key);
        snprintf(path, sizeof(path), "strict_mode_config.%s", uints[i].key);
        if (j && !cJSON_IsNull(j) &&
            !valid_uint(j, path, uints[i].min, uints[i].max, r))
            return false;
    }
    const cJSON *os = member(sm, "search_max_oversampling");
    if (os && !cJSON_IsNull(os) && !cJSON_IsNumber(os))
        return qvs_fail(r, 400,
                        "Format error in JSON body: strict_mode_config."
                        "search_max_oversampling: invalid type: %s, expected "
                        "f64",
                        json_kind(os));
    const cJSON *mv = member(sm, "multivector_config");
    const cJSON *sp = member(sm, "sparse_config");
    return (!mv || cJSON_IsNull(mv) ||
            valid_per_vector(mv, "multivector_config", "max_vectors", r)) &&
           (!sp || cJSON_IsNull(sp) ||
            valid_per_vector(sp, "sparse_config", "max_length", r));
}
