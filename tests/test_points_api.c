/*
 * test_points_api.c -- Qdrant's point endpoints (server/points_*.c), called
 * directly with hand-built requests and a small test catalog.
 *
 * The catalog, qvs_fail and the operation counter normally come from the
 * server's HTTP layer and catalog.c; this file provides test doubles with
 * the same contracts (catalog.h, api.h, points.h), so the endpoints are
 * tested alone.  Every reply is printed and parsed again, as the HTTP
 * layer would send it, so raw JSON items are checked to be valid JSON.
 *
 *  1. ids: integer and UUID spellings in, lowercase hyphenated out; bad
 *     ids; ids beyond 2^53 (refused in, exact out).
 *  2. upsert: list and batch forms, UpdateResult and wait, validation
 *     before change (dimension, NaN/Inf, bad payload), update_mode,
 *     update_filter, duplicate ids.
 *  3. retrieve / get / scroll / count, with_payload and with_vector forms.
 *  4. delete, payload set/overwrite/delete/clear by ids and by filter.
 *  5. named vectors: partial points, copies of payloads, update and delete
 *     of vectors, searches on each vector.
 *  6. query: scores and orders per metric, threshold, offset, by id,
 *     recommend (average, best_score, sum_scores), lookup_from, mmr,
 *     no query, sample, batch, refused forms.
 *  7. legacy search / recommend and their batches.
 *  8. errors: missing collections, filters (bad, bare key, deep), limits.
 *  9. concurrency: two writers and a reader on a named collection keep
 *     every payload copy equal to the registry (run it under TSan).
 */
#include "server/points.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test doubles -------------------------------------------------------- */

#define MAX_COLLS 8

struct qvs_catalog {
    qvs_coll *colls[MAX_COLLS];
    size_t n;
    uint64_t op;
    pthread_mutex_t mu; /* refs and op, for the concurrent test */
};

static qvs_catalog cat;

bool qvs_catalog_get(qvs_catalog *c, const char *name, qvs_coll **out)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->colls[i]->name, name) == 0) {
            pthread_mutex_lock(&c->mu);
            c->colls[i]->refs++;
            pthread_mutex_unlock(&c->mu);
            *out = c->colls[i];
            return true;
        }
    *out = NULL;
    return false;
}

void qvs_coll_release(qvs_catalog *c, qvs_coll *coll)
{
    pthread_mutex_lock(&c->mu);
    ck_assert_uint_gt(coll->refs, 0);
    coll->refs--;
    pthread_mutex_unlock(&c->mu);
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
    pthread_mutex_lock(&c->mu);
    uint64_t op = ++c->op;
    pthread_mutex_unlock(&c->mu);
    return op;
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

/* ---- the test catalog ---------------------------------------------------- */

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

static qvs_coll *add_coll(const char *name, bool named, size_t nv)
{
    ck_assert_uint_lt(cat.n, MAX_COLLS);
    qvs_coll *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->name = strdup(name);
    c->named = named;
    c->n_vectors = nv;
    c->vectors = calloc(nv, sizeof(qvs_vector));
    pthread_mutex_init(&c->write_mu, NULL);
    cat.colls[cat.n++] = c;
    return c;
}

/* A collection with one unnamed vector. */
static qvs_coll *add_unnamed(const char *name, uint32_t dim, qv_metric m)
{
    qvs_coll *c = add_coll(name, false, 1);
    c->vectors[0].name = strdup("");
    c->vectors[0].size = dim;
    c->vectors[0].metric = m;
    c->vectors[0].coll = new_lib(dim, m);
    c->points = c->vectors[0].coll;
    return c;
}

/* A collection with named vectors "a" (dim 2, cosine) and "b" (dim 3,
 * euclid), sorted by name as catalog.h promises. */
static qvs_coll *add_named(const char *name)
{
    qvs_coll *c = add_coll(name, true, 2);
    c->vectors[0] = (qvs_vector){strdup("a"), 2, QV_METRIC_COSINE,
                                 new_lib(2, QV_METRIC_COSINE), false};
    c->vectors[1] = (qvs_vector){strdup("b"), 3, QV_METRIC_EUCLID,
                                 new_lib(3, QV_METRIC_EUCLID), false};
    c->points = new_lib(1, QV_METRIC_DOT);
    return c;
}

static void setup(void)
{
    memset(&cat, 0, sizeof(cat));
    pthread_mutex_init(&cat.mu, NULL);
}

static void teardown(void)
{
    for (size_t i = 0; i < cat.n; i++) {
        qvs_coll *c = cat.colls[i];
        ck_assert_msg(c->refs == 0, "collection %s still referenced", c->name);
        if (c->named)
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
    pthread_mutex_destroy(&cat.mu);
    memset(&cat, 0, sizeof(cat));
}

/* ---- calling handlers ---------------------------------------------------- */

typedef struct treq {
    qvs_req req;
    const char *wait;
} treq;

static const char *tquery(const qvs_req *r, const char *key)
{
    const treq *t = (const treq *)r;
    return strcmp(key, "wait") == 0 ? t->wait : NULL;
}

typedef struct out {
    int status;
    cJSON *res; /* the result, printed and parsed again */
    char *text; /* the result as printed */
    char err[1024];
} out;

static out results[64];
static size_t n_results;

/* Runs handler h on collection coll (and path id) with body text (NULL:
 * none).  The reply is kept until teardown frees it. */
static out *callw(qvs_handler h, const char *coll, const char *id,
                  const char *body, const char *wait)
{
    treq t = {.wait = wait};
    t.req.method = "POST";
    t.req.params[0] = coll;
    t.req.params[1] = id;
    t.req.n_params = id ? 2 : 1;
    t.req.query = tquery;
    t.req.catalog = &cat;
    cJSON *jb = NULL;
    if (body) {
        char perr[256];
        /* the server's own entry point, which attaches number texts */
        jb = qj_parse(body, strlen(body), perr, sizeof(perr));
        ck_assert_msg(jb != NULL, "bad test JSON: %.200s (%s)", body, perr);
    }
    t.req.body = jb;
    qvs_resp resp = {.http_status = 200};
    h(&t.req, &resp);
    cJSON_Delete(jb);
    if (n_results == sizeof(results) / sizeof(results[0])) {
        for (size_t i = 0; i < n_results; i++) {
            cJSON_Delete(results[i].res);
            cJSON_free(results[i].text);
        }
        n_results = 0;
    }
    out *o = &results[n_results++];
    memset(o, 0, sizeof(*o));
    o->status = resp.http_status;
    snprintf(o->err, sizeof(o->err), "%s", resp.error);
    if (resp.result) {
        ck_assert_int_eq(resp.http_status, 200);
        char *text = cJSON_PrintUnformatted(resp.result);
        ck_assert_ptr_nonnull(text);
        o->res = cJSON_Parse(text);
        ck_assert_msg(o->res != NULL, "reply is not JSON: %.300s", text);
        o->text = text;
        cJSON_Delete(resp.result);
    } else {
        ck_assert_msg(resp.http_status != 200, "no result and no error");
    }
    for (size_t i = 0; i < cat.n; i++)
        ck_assert_msg(cat.colls[i]->refs == 0, "reference leaked");
    return o;
}

static out *call(qvs_handler h, const char *coll, const char *body)
{
    return callw(h, coll, NULL, body, NULL);
}

static void free_results(void)
{
    for (size_t i = 0; i < n_results; i++) {
        cJSON_Delete(results[i].res);
        cJSON_free(results[i].text);
    }
    n_results = 0;
}

#define OK(o)                                                                  \
    do {                                                                       \
        out *o_ = (o);                                                         \
        ck_assert_msg(o_->status == 200, "status %d: %s", o_->status,          \
                      o_->err);                                                \
    } while (0)

/* Status and exact message. */
#define ERR(o, st, msg)                                                        \
    do {                                                                       \
        out *o_ = (o);                                                         \
        ck_assert_int_eq(o_->status, (st));                                    \
        ck_assert_str_eq(o_->err, (msg));                                      \
    } while (0)

/* Status and a part of the message. */
#define ERRP(o, st, part)                                                      \
    do {                                                                       \
        out *o_ = (o);                                                         \
        ck_assert_int_eq(o_->status, (st));                                    \
        ck_assert_msg(strstr(o_->err, (part)) != NULL,                         \
                      "message \"%.300s\" lacks \"%.200s\"", o_->err, (part)); \
    } while (0)

/* The ids of a list of records or scored points, "1,2,uuid". */
static const char *ids_of(const cJSON *arr)
{
    static char buf[1024];
    buf[0] = '\0';
    ck_assert(cJSON_IsArray(arr));
    for (const cJSON *e = arr->child; e; e = e->next) {
        const cJSON *id = cJSON_GetObjectItem(e, "id");
        char one[64];
        if (cJSON_IsNumber(id))
            snprintf(one, sizeof(one), "%.0f", id->valuedouble);
        else
            snprintf(one, sizeof(one), "%s", cJSON_GetStringValue(id));
        if (buf[0])
            strcat(buf, ",");
        strcat(buf, one);
    }
    return buf;
}

/* The scores of a list, "%.4f" each. */
static const char *scores_of(const cJSON *arr)
{
    static char buf[1024];
    buf[0] = '\0';
    for (const cJSON *e = arr->child; e; e = e->next) {
        char one[32];
        snprintf(one, sizeof(one), "%s%.4f", buf[0] ? "," : "",
                 cJSON_GetNumberValue(cJSON_GetObjectItem(e, "score")));
        strcat(buf, one);
    }
    return buf;
}

/* A member as compact JSON text, "" when absent. */
static const char *json_of(const cJSON *o, const char *key)
{
    static char buf[2048];
    const cJSON *j = key ? cJSON_GetObjectItem(o, key) : o;
    buf[0] = '\0';
    if (j) {
        char *t = cJSON_PrintUnformatted(j);
        snprintf(buf, sizeof(buf), "%s", t);
        cJSON_free(t);
    }
    return buf;
}

/* Member key of the reply o as its exact text (the reply re-read with the
 * server's parser and printed with qj_print, so numbers are not rounded
 * through cJSON's double); key NULL: the whole reply. */
static const char *exact_of(out *o, const char *key)
{
    static char buf[2048];
    char perr[256];
    cJSON *j = qj_parse(o->text, strlen(o->text), perr, sizeof(perr));
    ck_assert_msg(j != NULL, "%s", perr);
    char *t = qj_print(key ? cJSON_GetObjectItem(j, key) : j);
    snprintf(buf, sizeof(buf), "%s", t ? t : "");
    free(t);
    cJSON_Delete(j);
    return buf;
}

/* The ids of a query result ({"points":[...]}) as exact text. */
static const char *ids_text(out *o)
{
    static char buf[512];
    buf[0] = '\0';
    char perr[256];
    cJSON *j = qj_parse(o->text, strlen(o->text), perr, sizeof(perr));
    ck_assert_msg(j != NULL, "%s", perr);
    const cJSON *pts = cJSON_GetObjectItem(j, "points");
    for (const cJSON *e = pts ? pts->child : NULL; e; e = e->next) {
        size_t at = strlen(buf);
        char *t = qj_print(cJSON_GetObjectItem(e, "id"));
        snprintf(buf + at, sizeof(buf) - at, "%s%s", at ? "," : "", t);
        free(t);
    }
    cJSON_Delete(j);
    return buf;
}

static const cJSON *points_of(out *o)
{
    OK(o);
    return cJSON_GetObjectItem(o->res, "points");
}

static uint64_t count_of(const char *coll)
{
    out *o = call(qvs_points_count, coll, "{}");
    OK(o);
    return (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o->res, "count"));
}

/* Four points in a 2-d cosine collection "c" with payloads. */
static void seed_c(void)
{
    add_unnamed("c", 2, QV_METRIC_COSINE);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":["
            "{\"id\":1,\"vector\":[1,0],\"payload\":{\"city\":\"Paris\","
            "\"n\":1,\"meta\":{\"a\":1,\"b\":2}}},"
            "{\"id\":2,\"vector\":[0,1],\"payload\":{\"city\":\"Rome\","
            "\"n\":2}},"
            "{\"id\":3,\"vector\":[1,1],\"payload\":{\"city\":\"Paris\","
            "\"n\":3}},"
            "{\"id\":\"550e8400-e29b-41d4-a716-446655440000\","
            "\"vector\":[-1,0]}]}"));
}

/* ---- 1. ids -------------------------------------------------------------- */

START_TEST(uuid_spellings)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":["
            "{\"id\":\"550E8400-E29B-41D4-A716-446655440000\","
            "\"vector\":[1,0]},"
            "{\"id\":\"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}\","
            "\"vector\":[1,0]},"
            "{\"id\":\"urn:uuid:6ba7b811-9dad-11d1-80b4-00c04fd430c8\","
            "\"vector\":[1,0]},"
            "{\"id\":\"6ba7b8129dad11d180b400c04fd430c8\","
            "\"vector\":[1,0]}]}"));
    out *o = call(qvs_points_retrieve, "c",
                  "{\"ids\":[\"550e8400e29b41d4a716446655440000\","
                  "\"6BA7B810-9DAD-11D1-80B4-00C04FD430C8\","
                  "\"6ba7b811-9dad-11d1-80b4-00c04fd430c8\","
                  "\"{6ba7b812-9dad-11d1-80b4-00c04fd430c8}\"]}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res), "550e8400-e29b-41d4-a716-446655440000,"
                                     "6ba7b810-9dad-11d1-80b4-00c04fd430c8,"
                                     "6ba7b811-9dad-11d1-80b4-00c04fd430c8,"
                                     "6ba7b812-9dad-11d1-80b4-00c04fd430c8");
    /* The same point by every spelling in the URL. */
    o = callw(qvs_points_get, "c", "550E8400E29B41D4A716446655440000", NULL,
              NULL);
    OK(o);
    ck_assert_str_eq(json_of(o->res, "id"),
                     "\"550e8400-e29b-41d4-a716-446655440000\"");
    ck_assert_uint_eq(count_of("c"), 4);
}
END_TEST

START_TEST(bad_ids)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    const char *bad[] = {"-1",      "1.5",  "\"abc\"",
                         "\"123\"", "true", "{\"x\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"points\":[{\"id\":%s,\"vector\":[1,0]}]}", bad[i]);
        ERRP(call(qvs_points_upsert, "c", body), 400,
             "Format error in JSON body: points[0].id: value ");
        ERRP(call(qvs_points_upsert, "c", body), 400,
             "is not a valid point ID, valid values are either an unsigned "
             "integer or a UUID");
    }
    /* Ids are u64 (ExtendedPointId::NumId(u64)): 2^64-1 is the largest;
     * 2^64, a fraction and the floats 2.0 / 1e2 are refused, as serde
     * refuses them for a u64. */
    const char *bad2[] = {"18446744073709551616", "2.0", "1e2", "-0.0"};
    for (size_t i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"points\":[{\"id\":%s,\"vector\":[1,0]}]}", bad2[i]);
        ERRP(call(qvs_points_upsert, "c", body), 400,
             "is not a valid point ID, valid values are either an unsigned "
             "integer or a UUID");
    }
    ck_assert_uint_eq(count_of("c"), 0);
    ERR(callw(qvs_points_get, "c", "abc", NULL, NULL), 400,
        "Wrong input: Can not recognize \"abc\" as point id");
    ERR(callw(qvs_points_get, "c", "-3", NULL, NULL), 400,
        "Wrong input: Can not recognize \"-3\" as point id");
    ERR(callw(qvs_points_get, "c", "3", NULL, NULL), 404,
        "Not found: Point with id 3 does not exists!");
}
END_TEST

/* Ids beyond 2^53 can only come from the library here; they go out with
 * their exact digits. */
START_TEST(huge_ids_out)
{
    qvs_coll *c = add_unnamed("c", 2, QV_METRIC_DOT);
    qv_point_id big = qv_id_from_num(UINT64_MAX);
    float v[2] = {1, 0};
    ck_assert_int_eq(qv_upsert(c->points, &big, v, 2), QV_OK);
    out *o = callw(qvs_points_get, "c", "18446744073709551615", NULL, NULL);
    OK(o);
    ck_assert_str_eq(o->text, "{\"id\":18446744073709551615,\"payload\":{},"
                              "\"vector\":[1,0]}");
    o = call(qvs_points_scroll, "c", "{\"with_payload\":false}");
    ck_assert_str_eq(o->text, "{\"points\":[{\"id\":18446744073709551615}],"
                              "\"next_page_offset\":null}");
    /* 2^53 itself is still a plain number, in and out. */
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":9007199254740992,\"vector\":[0,1]}]}"));
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[9007199254740992],\"with_payload\":false}");
    ck_assert_str_eq(o->text, "[{\"id\":9007199254740992}]");
}
END_TEST

/* Issue "Server hardening and data fidelity", item 5: ids above 2^53 were
 * rounded onto another point (cJSON keeps a double).  Qdrant's ids are
 * ExtendedPointId::NumId(u64): every u64 is its own point, everywhere an
 * id appears. */
START_TEST(ids_above_2p53_exact)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":9007199254740993,\"vector\":[1,0]},"
            "{\"id\":9007199254740992,\"vector\":[0,1]},"
            "{\"id\":18446744073709551615,\"vector\":[1,1]},"
            "{\"id\":18446744073709551614,\"vector\":[1,2]}]}"));
    ck_assert_uint_eq(count_of("c"), 4);
    out *o = call(qvs_points_retrieve, "c",
                  "{\"ids\":[18446744073709551614,9007199254740993],"
                  "\"with_payload\":false,\"with_vector\":true}");
    OK(o);
    ck_assert_str_eq(o->text, "[{\"id\":18446744073709551614,\"vector\":[1,2]},"
                              "{\"id\":9007199254740993,\"vector\":[1,0]}]");
    o = callw(qvs_points_get, "c", "9007199254740993", NULL, NULL);
    OK(o);
    ck_assert_str_eq(exact_of(o, "id"), "9007199254740993");
    ck_assert_str_eq(json_of(o->res, "vector"), "[1,0]");
    /* has_id filter in the body */
    o = call(qvs_points_count, "c",
             "{\"filter\":{\"must\":[{\"has_id\":[9007199254740993,"
             "18446744073709551615]}]}}");
    OK(o);
    ck_assert_str_eq(o->text, "{\"count\":2}");
    /* scroll pages through every id exactly */
    o = call(qvs_points_scroll, "c",
             "{\"limit\":2,\"with_payload\":false,"
             "\"offset\":9007199254740993}");
    OK(o);
    ck_assert_str_eq(o->text, "{\"points\":[{\"id\":9007199254740993},"
                              "{\"id\":18446744073709551614}],"
                              "\"next_page_offset\":18446744073709551615}");
    /* query by id and recommend by ids */
    o = call(qvs_points_query, "c", "{\"query\":9007199254740993,\"limit\":1}");
    OK(o);
    ck_assert_str_eq(ids_text(o), "18446744073709551615");
    o = call(qvs_points_query, "c",
             "{\"query\":{\"recommend\":{\"positive\":[9007199254740993],"
             "\"negative\":[9007199254740992]}},\"limit\":1}");
    OK(o);
    /* 2*[1,0] - [0,1] = [2,-1]: [1,1] scores 1, [1,2] 0 */
    ck_assert_str_eq(ids_text(o), "18446744073709551615");
    /* delete one: its twin 2^53 stays */
    OK(call(qvs_points_delete, "c", "{\"points\":[9007199254740993]}"));
    ck_assert_uint_eq(count_of("c"), 3);
    o = callw(qvs_points_get, "c", "9007199254740992", NULL, NULL);
    OK(o);
    ck_assert_int_eq(
        callw(qvs_points_get, "c", "9007199254740993", NULL, NULL)->status,
        404);
}
END_TEST

/* Item 6: payload numbers come back as they went in (Qdrant stores a
 * serde_json Value: i64, u64 or f64 printed shortest round-trip), and a
 * match on an integer compares it exactly. */
START_TEST(payload_numbers_exact)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    const char *pl =
        "{\"a\":0.30000000000000004,\"b\":0.8444218515250481,"
        "\"c\":9007199254740993,\"d\":9223372036854775808,"
        "\"e\":1.7976931348623157e308,\"f\":1.0,\"g\":-9223372036854775808,"
        "\"h\":18446744073709551615,\"i\":5e-324,\"j\":[1,2.5,-0.0]}";
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"points\":[{\"id\":1,\"vector\":[1,0],\"payload\":%s},"
             "{\"id\":2,\"vector\":[0,1],\"payload\":{\"c\":"
             "9007199254740992}}]}",
             pl);
    OK(call(qvs_points_upsert, "c", body));
    out *o = callw(qvs_points_get, "c", "1", NULL, NULL);
    OK(o);
    ck_assert_str_eq(exact_of(o, "payload"),
                     "{\"a\":0.30000000000000004,\"b\":0.8444218515250481,"
                     "\"c\":9007199254740993,\"d\":9223372036854775808,"
                     "\"e\":1.7976931348623157e308,\"f\":1.0,"
                     "\"g\":-9223372036854775808,\"h\":18446744073709551615,"
                     "\"i\":5e-324,\"j\":[1,2.5,-0.0]}");
    o = call(qvs_points_count, "c",
             "{\"filter\":{\"must\":[{\"key\":\"c\",\"match\":{\"value\":"
             "9007199254740993}}]}}");
    OK(o);
    ck_assert_str_eq(o->text, "{\"count\":1}");
    /* set_payload keeps exactness through the merge */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"k\":12345678901234567890},\"points\":[2]}"));
    o = callw(qvs_points_get, "c", "2", NULL, NULL);
    OK(o);
    ck_assert_str_eq(exact_of(o, "payload"),
                     "{\"c\":9007199254740992,\"k\":12345678901234567890}");
}
END_TEST

/* ---- 2. upsert ----------------------------------------------------------- */

START_TEST(upsert_results_and_wait)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    out *o = call(qvs_points_upsert, "c",
                  "{\"points\":[{\"id\":1,\"vector\":[1,2]}]}");
    OK(o);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"operation_id\":1,\"status\":\"acknowledged\"}");
    o = callw(qvs_points_upsert, "c", NULL,
              "{\"points\":[{\"id\":2,\"vector\":[1,2]}]}", "true");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"operation_id\":2,\"status\":\"completed\"}");
    o = callw(qvs_points_upsert, "c", NULL,
              "{\"points\":[{\"id\":3,\"vector\":[1,2]}]}", "false");
    ck_assert_str_eq(json_of(o->res, "status"), "\"acknowledged\"");
    ERRP(callw(qvs_points_upsert, "c", NULL,
               "{\"points\":[{\"id\":4,\"vector\":[1,2]}]}", "yes"),
         400, "Deserialize error in query parameters: wait");
    ck_assert_uint_eq(count_of("c"), 3);
    ERR(call(qvs_points_upsert, "nope",
             "{\"points\":[{\"id\":1,\"vector\":[1,2]}]}"),
        404, "Not found: Collection `nope` doesn't exist!");
    ERR(call(qvs_points_upsert, "c", "{}"), 400,
        "Format error in JSON body: data did not match any variant of "
        "untagged enum PointInsertOperations");
    ERR(callw(qvs_points_upsert, "c", NULL, NULL, NULL), 400,
        "Format error in JSON body: EOF while parsing a value at line 1 "
        "column 0");
    ERRP(call(qvs_points_upsert, "c", "[1,2]"), 400,
         "Format error in JSON body: invalid type: an array");
}
END_TEST

START_TEST(upsert_validates_before_change)
{
    add_unnamed("c", 4, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":1,\"vector\":[1,2,3,4],"
            "\"payload\":{\"k\":1}}]}"));
    /* One short vector among good ones: nothing changes. */
    ERR(call(qvs_points_upsert, "c",
             "{\"points\":[{\"id\":2,\"vector\":[1,2,3,4]},"
             "{\"id\":1,\"vector\":[9,9,9,9],\"payload\":{\"k\":2}},"
             "{\"id\":3,\"vector\":[1,2,3]}]}"),
        400, "Wrong input: Vector dimension error: expected dim: 4, got 3");
    ERR(call(qvs_points_upsert, "c",
             "{\"batch\":{\"ids\":[5,6],\"vectors\":[[1,2,3,4],[1,2,3,4,5]]}}"),
        400, "Wrong input: Vector dimension error: expected dim: 4, got 5");
    ERR(call(qvs_points_upsert, "c",
             "{\"points\":[{\"id\":2,\"vector\":[1,2,3,1e39]}]}"),
        400,
        "Format error in JSON body: points[0].vector[3]: 1e+39 is not a "
        "finite 32-bit float");
    ERRP(call(qvs_points_upsert, "c",
              "{\"points\":[{\"id\":2,\"vector\":[1,2,\"x\",4]}]}"),
         400, "points[0].vector[2]: invalid type: a string, expected a number");
    ERRP(call(qvs_points_upsert, "c",
              "{\"points\":[{\"id\":2,\"vector\":[1,2,3,4],\"payload\":[1]}]}"),
         400, "points[0].payload: invalid type: an array, expected a map");
    ERRP(call(qvs_points_upsert, "c", "{\"points\":[{\"id\":2}]}"), 400,
         "points[0]: missing field `vector`");
    ERRP(call(qvs_points_upsert, "c",
              "{\"points\":[{\"id\":2,\"vector\":{\"x\":[1]}}]}"),
         400, "Wrong input: Not existing vector name error: x");
    /* A payload nested deeper than the library allows: refused by the
     * library, all or nothing. */
    char deep[2048] = "{\"points\":[{\"id\":7,\"vector\":[1,2,3,4]},"
                      "{\"id\":8,\"vector\":[1,2,3,4],\"payload\":";
    for (int i = 0; i < 80; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 80; i++)
        strcat(deep, "}");
    strcat(deep, "}]}");
    ERRP(call(qvs_points_upsert, "c", deep), 400, "Wrong input: ");
    ck_assert_uint_eq(count_of("c"), 1);
    out *o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"), "{\"k\":1}");
    ck_assert_str_eq(json_of(o->res, "vector"), "[1,2,3,4]");
}
END_TEST

START_TEST(upsert_batch_form)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(
        qvs_points_upsert, "c",
        "{\"batch\":{\"ids\":[1,2,\"550e8400-e29b-41d4-a716-446655440000\"],"
        "\"vectors\":[[1,0],[0,1],[0.5,0.25]],"
        "\"payloads\":[{\"a\":1},null,{\"b\":\"x\"}]}}"));
    out *o = call(qvs_points_retrieve, "c",
                  "{\"ids\":[\"550e8400-e29b-41d4-a716-446655440000\",2,1],"
                  "\"with_vector\":true}");
    OK(o);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":\"550e8400-e29b-41d4-a716-446655440000\","
                     "\"payload\":{\"b\":\"x\"},\"vector\":[0.5,0.25]},"
                     "{\"id\":2,\"payload\":{},\"vector\":[0,1]},"
                     "{\"id\":1,\"payload\":{\"a\":1},\"vector\":[1,0]}]");
    ERRP(call(qvs_points_upsert, "c",
              "{\"batch\":{\"ids\":[1,2],\"vectors\":[[1,0]]}}"),
         400, "Wrong input: Number of ids (2) does not match");
    ERRP(call(qvs_points_upsert, "c",
              "{\"batch\":{\"ids\":[1],\"vectors\":[[1,0]],\"payloads\":[]}}"),
         400, "number of payloads");
    ERRP(call(qvs_points_upsert, "c", "{\"batch\":{\"ids\":[1]}}"), 400,
         "batch: missing field `vectors`");
}
END_TEST

/* Upsert replaces the whole point; repeated ids: the last wins. */
START_TEST(upsert_replaces_and_dedups)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(
        qvs_points_upsert, "c",
        "{\"points\":[{\"id\":1,\"vector\":[1,0],\"payload\":{\"a\":1}}]}"));
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":1,\"vector\":[0,1],\"payload\":{\"b\":1}},"
            "{\"id\":1,\"vector\":[2,2]}]}"));
    out *o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"id\":1,\"payload\":{},\"vector\":[2,2]}");
    ck_assert_uint_eq(count_of("c"), 1);
}
END_TEST

START_TEST(upsert_modes_and_filter)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":1,\"vector\":[1,0],\"payload\":{\"v\":1}},"
            "{\"id\":2,\"vector\":[1,0],\"payload\":{\"v\":2}}]}"));
    OK(call(qvs_points_upsert, "c",
            "{\"update_mode\":\"insert_only\",\"points\":["
            "{\"id\":1,\"vector\":[9,9],\"payload\":{\"v\":10}},"
            "{\"id\":3,\"vector\":[3,3],\"payload\":{\"v\":3}}]}"));
    OK(call(qvs_points_upsert, "c",
            "{\"update_mode\":\"update_only\",\"points\":["
            "{\"id\":2,\"vector\":[2,2],\"payload\":{\"v\":20}},"
            "{\"id\":4,\"vector\":[4,4]}]}"));
    /* update_filter: existing points are updated only when they match;
     * new points are inserted. */
    OK(call(qvs_points_upsert, "c",
            "{\"update_filter\":{\"must\":{\"key\":\"v\",\"match\":"
            "{\"value\":3}}},\"points\":["
            "{\"id\":1,\"vector\":[7,7],\"payload\":{\"v\":100}},"
            "{\"id\":3,\"vector\":[7,7],\"payload\":{\"v\":30}},"
            "{\"id\":5,\"vector\":[5,5]}]}"));
    out *o = call(qvs_points_scroll, "c", "{\"with_vector\":true}");
    ck_assert_str_eq(json_of(points_of(o), NULL),
                     "[{\"id\":1,\"payload\":{\"v\":1},\"vector\":[1,0]},"
                     "{\"id\":2,\"payload\":{\"v\":20},\"vector\":[2,2]},"
                     "{\"id\":3,\"payload\":{\"v\":30},\"vector\":[7,7]},"
                     "{\"id\":5,\"payload\":{},\"vector\":[5,5]}]");
    ERRP(call(qvs_points_upsert, "c",
              "{\"update_mode\":\"merge\",\"points\":[]}"),
         400, "update_mode: unknown variant `merge`");
}
END_TEST

/* ---- 3. reads ------------------------------------------------------------ */

START_TEST(retrieve_forms)
{
    seed_c();
    out *o = call(qvs_points_retrieve, "c", "{\"ids\":[3,99,1,3]}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res), "3,1");
    ck_assert_str_eq(json_of(o->res->child, "payload"),
                     "{\"city\":\"Paris\",\"n\":3}");
    ck_assert_ptr_null(cJSON_GetObjectItem(o->res->child, "vector"));
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[1],\"with_payload\":[\"city\",\"meta.b\"]}");
    ck_assert_str_eq(json_of(o->res->child, "payload"),
                     "{\"city\":\"Paris\",\"meta\":{\"b\":2}}");
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[1],\"with_payload\":{\"include\":[\"n\"]}}");
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{\"n\":1}");
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[1],\"with_payload\":{\"exclude\":[\"meta\",\"n\"]}}");
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{\"city\":\"Paris\"}");
    o = call(qvs_points_retrieve, "c", "{\"ids\":[1],\"with_payload\":[]}");
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{}");
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[1],\"with_payload\":false,\"with_vector\":true}");
    ck_assert_str_eq(json_of(o->res, NULL), "[{\"id\":1,\"vector\":[1,0]}]");
    /* Cosine vectors come back normalised, as in Qdrant. */
    o = call(qvs_points_retrieve, "c",
             "{\"ids\":[3],\"with_payload\":false,\"with_vector\":[\"\"]}");
    ck_assert_str_eq(json_of(o->res->child, "vector"),
                     "[0.70710677,0.70710677]");
    ERRP(call(qvs_points_retrieve, "c",
              "{\"ids\":[1],\"with_payload\":{\"include\":[],\"x\":1}}"),
         400, "untagged enum WithPayloadInterface");
    ERRP(call(qvs_points_retrieve, "c",
              "{\"ids\":[1],\"with_vector\":[\"zz\"]}"),
         400, "Wrong input: Not existing vector name error: zz");
    ERR(call(qvs_points_retrieve, "c", "{}"), 400,
        "Format error in JSON body: missing field `ids`");
    ERR(call(qvs_points_retrieve, "nope", "{\"ids\":[1]}"), 404,
        "Not found: Collection `nope` doesn't exist!");
}
END_TEST

START_TEST(get_point)
{
    seed_c();
    out *o = callw(qvs_points_get, "c", "2", NULL, NULL);
    OK(o);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"id\":2,\"payload\":{\"city\":\"Rome\",\"n\":2},"
                     "\"vector\":[0,1]}");
    ERR(callw(qvs_points_get, "nope", "2", NULL, NULL), 404,
        "Not found: Collection `nope` doesn't exist!");
}
END_TEST

START_TEST(scroll_pages)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"batch\":{\"ids\":[5,1,\"550e8400-e29b-41d4-a716-446655440000\","
            "3,2],\"vectors\":[[1,0],[1,0],[1,0],[1,0],[1,0]],"
            "\"payloads\":[{\"g\":1},{\"g\":1},{\"g\":2},{\"g\":2},"
            "{\"g\":1}]}}"));
    out *o = call(qvs_points_scroll, "c", "{\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,2");
    ck_assert_str_eq(json_of(o->res, "next_page_offset"), "3");
    ck_assert_str_eq(json_of(points_of(o)->child, "payload"), "{\"g\":1}");
    o = call(qvs_points_scroll, "c", "{\"limit\":2,\"offset\":3}");
    ck_assert_str_eq(ids_of(points_of(o)), "3,5");
    ck_assert_str_eq(json_of(o->res, "next_page_offset"),
                     "\"550e8400-e29b-41d4-a716-446655440000\"");
    o = call(qvs_points_scroll, "c",
             "{\"offset\":\"550e8400-e29b-41d4-a716-446655440000\"}");
    ck_assert_str_eq(ids_of(points_of(o)),
                     "550e8400-e29b-41d4-a716-446655440000");
    ck_assert_str_eq(json_of(o->res, "next_page_offset"), "null");
    o = call(qvs_points_scroll, "c",
             "{\"filter\":{\"must\":[{\"key\":\"g\",\"match\":{\"value\":1}}]},"
             "\"with_payload\":false,\"limit\":1000000000}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,2,5");
    ck_assert_ptr_null(cJSON_GetObjectItem(points_of(o)->child, "payload"));
    o = callw(qvs_points_scroll, "c", NULL, NULL, NULL); /* no body */
    ck_assert_str_eq(ids_of(points_of(o)),
                     "1,2,3,5,550e8400-e29b-41d4-a716-446655440000");
    ERR(call(qvs_points_scroll, "c", "{\"limit\":0}"), 422,
        "Validation error in JSON body: [limit: value 0 invalid, must be 1 "
        "or larger]");
    ERRP(call(qvs_points_scroll, "c", "{\"limit\":\"ten\"}"), 400,
         "Format error in JSON body: limit: invalid type: a string");
    ERRP(call(qvs_points_scroll, "c", "{\"order_by\":\"g\"}"), 400,
         "Bad request: No range index for `order_by` key: `g`");
}
END_TEST

START_TEST(count_points)
{
    seed_c();
    ck_assert_uint_eq(count_of("c"), 4);
    out *o = call(qvs_points_count, "c",
                  "{\"filter\":{\"must\":{\"key\":\"city\",\"match\":"
                  "{\"value\":\"Paris\"}}},\"exact\":false}");
    OK(o);
    ck_assert_str_eq(json_of(o->res, NULL), "{\"count\":2}");
    o = callw(qvs_points_count, "c", NULL, NULL, NULL);
    ck_assert_str_eq(json_of(o->res, NULL), "{\"count\":4}");
    o = call(qvs_points_count, "c",
             "{\"filter\":{\"must\":{\"has_vector\":\"\"}}}");
    ck_assert_str_eq(json_of(o->res, NULL), "{\"count\":4}");
    ERRP(call(qvs_points_count, "c", "{\"exact\":1}"), 400,
         "exact: invalid type: a number, expected a boolean");
}
END_TEST

/* ---- 4. deletes and payloads --------------------------------------------- */

START_TEST(delete_points)
{
    seed_c();
    OK(call(qvs_points_delete, "c", "{\"points\":[2,77]}"));
    ck_assert_uint_eq(count_of("c"), 3);
    OK(call(qvs_points_delete, "c",
            "{\"filter\":{\"must\":{\"key\":\"city\",\"match\":"
            "{\"value\":\"Paris\"}}}}"));
    out *o = call(qvs_points_scroll, "c", "{}");
    ck_assert_str_eq(ids_of(points_of(o)),
                     "550e8400-e29b-41d4-a716-446655440000");
    ERR(call(qvs_points_delete, "c", "{}"), 400,
        "Format error in JSON body: data did not match any variant of "
        "untagged enum PointsSelector");
    ERRP(call(qvs_points_delete, "c", "{\"points\":[\"x\"]}"), 400,
         "points[0]: value \"x\" is not a valid point ID");
}
END_TEST

START_TEST(payload_ops)
{
    seed_c();
    /* set: merge at the top, null removes */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"n\":null,\"new\":[1,2],\"city\":\"Lyon\"},"
            "\"points\":[1]}"));
    out *o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"),
                     "{\"city\":\"Lyon\",\"meta\":{\"a\":1,\"b\":2},"
                     "\"new\":[1,2]}");
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"city\":\"Paris\"},\"points\":[1]}"));
    /* set with key: merge into the object at the path, null removes */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"b\":null,\"c\":3},\"points\":[1],"
            "\"key\":\"meta\"}"));
    o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"),
                     "{\"city\":\"Paris\",\"meta\":{\"a\":1,\"c\":3},"
                     "\"new\":[1,2]}");
    /* set by filter */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"tag\":\"fr\"},\"filter\":{\"must\":{\"key\":"
            "\"city\",\"match\":{\"value\":\"Paris\"}}}}"));
    o = call(qvs_points_count, "c",
             "{\"filter\":{\"must\":{\"key\":\"tag\",\"match\":"
             "{\"value\":\"fr\"}}}}");
    ck_assert_str_eq(json_of(o->res, NULL), "{\"count\":2}");
    /* overwrite: the whole payload */
    OK(call(qvs_points_overwrite_payload, "c",
            "{\"payload\":{\"only\":true},\"points\":[1,2]}"));
    o = call(qvs_points_retrieve, "c", "{\"ids\":[1,2]}");
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{\"only\":true}");
    ck_assert_str_eq(json_of(o->res->child->next, "payload"),
                     "{\"only\":true}");
    /* overwrite with key: replaces the object at the path */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"x\":1,\"y\":2},\"points\":[1],\"key\":\"o\"}"));
    OK(call(qvs_points_overwrite_payload, "c",
            "{\"payload\":{\"z\":3},\"points\":[1],\"key\":\"o\"}"));
    o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"),
                     "{\"only\":true,\"o\":{\"z\":3}}");
    /* a payload the library refuses (too deep) changes nothing, even in
     * the forms that take several edits */
    char deep[1024] = "{\"points\":[1,2],\"key\":\"o\",\"payload\":{\"q\":null,"
                      "\"d\":";
    for (int i = 0; i < 70; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 70; i++)
        strcat(deep, "}");
    strcat(deep, "}}");
    ERRP(call(qvs_points_set_payload, "c", deep), 400, "Wrong input: ");
    ERRP(call(qvs_points_overwrite_payload, "c", deep), 400, "Wrong input: ");
    o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"),
                     "{\"only\":true,\"o\":{\"z\":3}}");
    /* delete keys, clear */
    OK(call(qvs_points_delete_payload, "c",
            "{\"keys\":[\"only\",\"nothing\"],\"points\":[1]}"));
    o = callw(qvs_points_get, "c", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"), "{\"o\":{\"z\":3}}");
    OK(call(qvs_points_clear_payload, "c",
            "{\"filter\":{\"must\":{\"has_id\":[1,3]}}}"));
    o = call(qvs_points_retrieve, "c", "{\"ids\":[1,3]}");
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{}");
    ck_assert_str_eq(json_of(o->res->child->next, "payload"), "{}");
    /* errors: nothing changes */
    ERR(call(qvs_points_set_payload, "c",
             "{\"payload\":{\"q\":1},\"points\":[2,99]}"),
        404, "Not found: No point with id 99 found");
    o = callw(qvs_points_get, "c", "2", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "payload"), "{\"only\":true}");
    ERR(call(qvs_points_set_payload, "c", "{\"payload\":{\"q\":1}}"), 400,
        "Format error in JSON body: Either list of point ids or filter must "
        "be provided");
    ERR(call(qvs_points_set_payload, "c", "{\"points\":[1]}"), 400,
        "Format error in JSON body: missing field `payload`");
    ERRP(call(qvs_points_set_payload, "c", "{\"payload\":[1],\"points\":[1]}"),
         400, "payload: invalid type: an array, expected a map");
    ERR(call(qvs_points_delete_payload, "c", "{\"points\":[1]}"), 400,
        "Format error in JSON body: missing field `keys`");
    ERR(call(qvs_points_delete_payload, "c",
             "{\"keys\":[\"a\"],\"points\":[12]}"),
        404, "Not found: No point with id 12 found");
    ERR(call(qvs_points_clear_payload, "c", "{\"points\":[12]}"), 404,
        "Not found: No point with id 12 found");
    ERR(call(qvs_points_clear_payload, "nope", "{\"points\":[1]}"), 404,
        "Not found: Collection `nope` doesn't exist!");
}
END_TEST

START_TEST(vectors_unnamed)
{
    seed_c();
    OK(call(qvs_points_update_vectors, "c",
            "{\"points\":[{\"id\":2,\"vector\":[3,4]}]}"));
    out *o = callw(qvs_points_get, "c", "2", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"id\":2,\"payload\":{\"city\":\"Rome\",\"n\":2},"
                     "\"vector\":[0.6,0.8]}");
    ERR(call(qvs_points_update_vectors, "c",
             "{\"points\":[{\"id\":2,\"vector\":[1,0]},"
             "{\"id\":42,\"vector\":[1,0]}]}"),
        404, "Not found: No point with id 42 found");
    ERR(call(qvs_points_update_vectors, "c",
             "{\"points\":[{\"id\":2,\"vector\":[1,0,0]}]}"),
        400, "Wrong input: Vector dimension error: expected dim: 2, got 3");
    ERR(call(qvs_points_update_vectors, "c", "{\"points\":[]}"), 422,
        "Validation error in JSON body: [points: must contain at least 1 "
        "item]");
    o = callw(qvs_points_get, "c", "2", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "vector"), "[0.6,0.8]");
    ERRP(call(qvs_points_delete_vectors, "c",
              "{\"points\":[2],\"vector\":[\"\"]}"),
         400, "Bad request: the collection has a single unnamed vector");
    ERR(call(qvs_points_delete_vectors, "c",
             "{\"points\":[2],\"vector\":[\"x\"]}"),
        400, "Wrong input: Not existing vector name error: x");
}
END_TEST

/* ---- 5. named vectors ---------------------------------------------------- */

START_TEST(named_vectors)
{
    qvs_coll *c = add_named("n");
    OK(call(qvs_points_upsert, "n",
            "{\"points\":["
            "{\"id\":1,\"vector\":{\"a\":[1,0],\"b\":[0,0,0]},"
            "\"payload\":{\"k\":\"one\"}},"
            "{\"id\":2,\"vector\":{\"a\":[0,1]},\"payload\":{\"k\":\"two\"}},"
            "{\"id\":3,\"vector\":{},\"payload\":{\"k\":\"three\"}},"
            "{\"id\":4,\"vector\":{\"b\":[3,4,0]}}]}"));
    ck_assert_uint_eq(count_of("n"), 4);
    uint64_t na = 0, nb = 0;
    qv_count(c->vectors[0].coll, &na);
    qv_count(c->vectors[1].coll, &nb);
    ck_assert_uint_eq(na, 2);
    ck_assert_uint_eq(nb, 2);
    out *o = call(qvs_points_scroll, "n", "{\"with_vector\":true}");
    ck_assert_str_eq(json_of(points_of(o), NULL),
                     "[{\"id\":1,\"payload\":{\"k\":\"one\"},\"vector\":"
                     "{\"a\":[1,0],\"b\":[0,0,0]}},"
                     "{\"id\":2,\"payload\":{\"k\":\"two\"},\"vector\":"
                     "{\"a\":[0,1]}},"
                     "{\"id\":3,\"payload\":{\"k\":\"three\"},\"vector\":{}},"
                     "{\"id\":4,\"payload\":{},\"vector\":{\"b\":[3,4,0]}}]");
    o = call(qvs_points_retrieve, "n",
             "{\"ids\":[1],\"with_payload\":false,\"with_vector\":[\"b\"]}");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":1,\"vector\":{\"b\":[0,0,0]}}]");
    ERR(call(qvs_points_upsert, "n",
             "{\"points\":[{\"id\":5,\"vector\":[1,0]}]}"),
        400, "Wrong input: Not existing vector name error: ");
    ERR(call(qvs_points_upsert, "n",
             "{\"points\":[{\"id\":5,\"vector\":{\"a\":[1,0],\"b\":[1]}}]}"),
        400, "Wrong input: Vector dimension error: expected dim: 3, got 1");
    ck_assert_uint_eq(count_of("n"), 4);

    /* Payload copies follow every edit: a filtered search on "a" sees the
     * payload set through the registry. */
    OK(call(qvs_points_set_payload, "n",
            "{\"payload\":{\"hot\":true},\"points\":[2]}"));
    o = call(qvs_points_query, "n",
             "{\"query\":[1,0],\"using\":\"a\",\"with_payload\":true,"
             "\"filter\":{\"must\":{\"key\":\"hot\",\"match\":"
             "{\"value\":true}}}}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    ck_assert_str_eq(json_of(points_of(o)->child, "payload"),
                     "{\"k\":\"two\",\"hot\":true}");
    /* update one vector: the other and the payload stay */
    OK(call(qvs_points_update_vectors, "n",
            "{\"points\":[{\"id\":2,\"vector\":{\"b\":[1,1,1]}}]}"));
    o = callw(qvs_points_get, "n", "2", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"id\":2,\"payload\":{\"k\":\"two\",\"hot\":true},"
                     "\"vector\":{\"a\":[0,1],\"b\":[1,1,1]}}");
    o = call(qvs_points_query, "n",
             "{\"query\":[1,1,1],\"using\":\"b\",\"with_payload\":true,"
             "\"filter\":{\"must\":{\"key\":\"hot\",\"match\":"
             "{\"value\":true}}}}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    /* delete a vector */
    OK(call(qvs_points_delete_vectors, "n",
            "{\"points\":[1,2],\"vector\":[\"a\"]}"));
    qv_count(c->vectors[0].coll, &na);
    ck_assert_uint_eq(na, 0);
    o = callw(qvs_points_get, "n", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, "vector"), "{\"b\":[0,0,0]}");
    ERR(call(qvs_points_delete_vectors, "n",
             "{\"points\":[9],\"vector\":[\"a\"]}"),
        404, "Not found: No point with id 9 found");
    ERR(call(qvs_points_delete_vectors, "n", "{\"points\":[1],\"vector\":[]}"),
        422,
        "Validation error in JSON body: [vector: must contain at least 1 "
        "item]");
    /* upsert replaces the whole point: vector b of point 1 goes away */
    OK(call(qvs_points_upsert, "n",
            "{\"points\":[{\"id\":1,\"vector\":{\"a\":[0.6,0.8]}}]}"));
    qv_count(c->vectors[1].coll, &nb);
    ck_assert_uint_eq(nb, 2); /* points 2 and 4 */
    o = callw(qvs_points_get, "n", "1", NULL, NULL);
    ck_assert_str_eq(json_of(o->res, NULL),
                     "{\"id\":1,\"payload\":{},\"vector\":{\"a\":[0.6,0.8]}}");
    /* batch form with named columns; null means "no vector" */
    OK(call(qvs_points_upsert, "n",
            "{\"batch\":{\"ids\":[7,8],\"vectors\":{\"a\":[[1,0],null],"
            "\"b\":[[1,2,3],[4,5,6]]},\"payloads\":[{\"p\":7},{\"p\":8}]}}"));
    o = call(qvs_points_retrieve, "n", "{\"ids\":[7,8],\"with_vector\":true}");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":7,\"payload\":{\"p\":7},\"vector\":{\"a\":[1,0],"
                     "\"b\":[1,2,3]}},{\"id\":8,\"payload\":{\"p\":8},"
                     "\"vector\":{\"b\":[4,5,6]}}]");
    /* deletes reach every copy */
    OK(call(qvs_points_delete, "n",
            "{\"filter\":{\"must\":{\"key\":\"p\",\"range\":{\"gte\":7}}}}"));
    qv_count(c->vectors[1].coll, &nb);
    ck_assert_uint_eq(nb, 2);
    ck_assert_uint_eq(count_of("n"), 4);
    /* has_vector, answered by the server */
    o = call(qvs_points_count, "n",
             "{\"filter\":{\"must\":[{\"has_vector\":\"b\"}]}}");
    ck_assert_str_eq(json_of(o->res, NULL), "{\"count\":2}");
    o = call(qvs_points_scroll, "n",
             "{\"filter\":{\"must_not\":{\"has_vector\":\"a\"},\"should\":"
             "[{\"has_vector\":\"b\"},{\"has_vector\":\"zz\"}]},"
             "\"with_payload\":false}");
    ck_assert_str_eq(ids_of(points_of(o)), "2,4");
    /* id order and samples need no `using`; vector queries do */
    o = call(qvs_points_query, "n", "{\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,2");
    o = call(qvs_points_query, "n",
             "{\"query\":{\"sample\":\"random\"},\"limit\":10}");
    ck_assert_int_eq(cJSON_GetArraySize(points_of(o)), 4);
    ERR(call(qvs_points_query, "n", "{\"query\":[1,0]}"), 400,
        "Wrong input: Not existing vector name error: ");
    /* clear payload reaches the copies too */
    OK(call(qvs_points_clear_payload, "n", "{\"points\":[2]}"));
    o = call(qvs_points_query, "n",
             "{\"query\":[1,1,1],\"using\":\"b\",\"with_payload\":true,"
             "\"filter\":{\"must\":{\"key\":\"hot\",\"match\":"
             "{\"value\":true}}}}");
    ck_assert_str_eq(ids_of(points_of(o)), "");
}
END_TEST

/* ---- 6. query
 * ------------------------------------------------------------------------------
 */

/* Qdrant's tests/openapi/test_euclid_dist.py: scores are distances. */
START_TEST(query_metrics)
{
    add_unnamed("e", 2, QV_METRIC_EUCLID);
    add_unnamed("m", 2, QV_METRIC_MANHATTAN);
    add_unnamed("d", 2, QV_METRIC_DOT);
    add_unnamed("cos", 2, QV_METRIC_COSINE);
    const char *pts = "{\"points\":[{\"id\":1,\"vector\":[1,1]},"
                      "{\"id\":2,\"vector\":[2,2]},"
                      "{\"id\":3,\"vector\":[-1,-1]},"
                      "{\"id\":4,\"vector\":[0,1]}]}";
    const char *colls[] = {"e", "m", "d", "cos"};
    for (size_t i = 0; i < 4; i++)
        OK(call(qvs_points_upsert, colls[i], pts));
    const char *q = "{\"query\":[1,0],\"limit\":4}";
    out *o = call(qvs_points_query, "e", q);
    ck_assert_str_eq(ids_of(points_of(o)), "1,4,2,3");
    ck_assert_str_eq(scores_of(points_of(o)), "1.0000,1.4142,2.2361,2.2361");
    o = call(qvs_points_query, "m", q);
    ck_assert_str_eq(ids_of(points_of(o)), "1,4,2,3");
    ck_assert_str_eq(scores_of(points_of(o)), "1.0000,2.0000,3.0000,3.0000");
    o = call(qvs_points_query, "d", q);
    ck_assert_str_eq(ids_of(points_of(o)), "2,1,4,3");
    ck_assert_str_eq(scores_of(points_of(o)), "2.0000,1.0000,0.0000,-1.0000");
    o = call(qvs_points_query, "cos", "{\"query\":[1,0],\"limit\":2}");
    ck_assert_str_eq(scores_of(points_of(o)), "0.7071,0.7071");
    /* ScoredPoint: id, version, score; nothing else unless asked. */
    o = call(qvs_points_query, "d", "{\"query\":[1,0],\"limit\":1}");
    ck_assert_str_eq(json_of(points_of(o), NULL),
                     "[{\"id\":2,\"version\":0,\"score\":2}]");
    /* Thresholds keep strictly better scores. */
    o = call(qvs_points_query, "e",
             "{\"query\":[1,0],\"score_threshold\":1.5}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,4");
    o = call(qvs_points_query, "e",
             "{\"query\":[1,0],\"score_threshold\":1.0}");
    ck_assert_str_eq(ids_of(points_of(o)), "");
    o = call(qvs_points_query, "d",
             "{\"query\":[1,0],\"score_threshold\":1.0}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    o = call(qvs_points_query, "m",
             "{\"query\":[1,0],\"score_threshold\":3.5}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,4,2,3");
    /* offset and limit */
    o = call(qvs_points_query, "d",
             "{\"query\":[1,0],\"limit\":2,\"offset\":1}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,4");
    o = call(qvs_points_query, "d",
             "{\"query\":[1,0],\"limit\":2,\"offset\":10}");
    ck_assert_str_eq(ids_of(points_of(o)), "");
    o = call(qvs_points_query, "d",
             "{\"query\":[1,0],\"params\":{\"exact\":true,\"hnsw_ef\":1},"
             "\"limit\":1000000000}");
    ck_assert_str_eq(ids_of(points_of(o)), "2,1,4,3");
}
END_TEST

START_TEST(query_forms)
{
    seed_c();
    /* nearest by id: the point itself is left out */
    out *o = call(qvs_points_query, "c", "{\"query\":1,\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "3,2");
    o = call(
        qvs_points_query, "c",
        "{\"query\":{\"nearest\":\"550e8400-e29b-41d4-a716-446655440000\"},"
        "\"limit\":1}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    ERR(call(qvs_points_query, "c", "{\"query\":77}"), 404,
        "Not found: No point with id 77 found");
    /* with_payload / with_vector */
    o = call(qvs_points_query, "c",
             "{\"query\":[1,0],\"limit\":1,\"with_payload\":[\"city\"],"
             "\"with_vector\":true}");
    ck_assert_str_eq(json_of(points_of(o), NULL),
                     "[{\"id\":1,\"version\":0,\"score\":1,\"payload\":"
                     "{\"city\":\"Paris\"},\"vector\":[1,0]}]");
    /* filter */
    o = call(qvs_points_query, "c",
             "{\"query\":[1,0],\"filter\":{\"must\":{\"key\":\"city\","
             "\"match\":{\"value\":\"Rome\"}}}}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    /* no query: id order, score 1 */
    o = call(qvs_points_query, "c",
             "{\"limit\":2,\"offset\":1,\"with_payload\":{\"include\":"
             "[\"n\"]}}");
    ck_assert_str_eq(json_of(points_of(o), NULL),
                     "[{\"id\":2,\"version\":0,\"score\":1,\"payload\":"
                     "{\"n\":2}},{\"id\":3,\"version\":0,\"score\":1,"
                     "\"payload\":{\"n\":3}}]");
    /* sample: distinct matching points */
    o = call(qvs_points_query, "c",
             "{\"query\":{\"sample\":\"random\"},\"limit\":3,\"filter\":"
             "{\"must\":{\"key\":\"n\",\"range\":{\"gte\":1}}}}");
    const cJSON *s = points_of(o);
    ck_assert_int_eq(cJSON_GetArraySize(s), 3);
    int seen = 0;
    for (const cJSON *e = s->child; e; e = e->next)
        seen |= 1 << (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
    ck_assert_int_eq(seen, 2 | 4 | 8);
    /* batch */
    o = call(qvs_points_query_batch, "c",
             "{\"searches\":[{\"query\":[0,1],\"limit\":1},"
             "{\"query\":[-1,0],\"limit\":1}]}");
    OK(o);
    ck_assert_str_eq(ids_of(cJSON_GetObjectItem(o->res->child, "points")), "2");
    ck_assert_str_eq(ids_of(cJSON_GetObjectItem(o->res->child->next, "points")),
                     "550e8400-e29b-41d4-a716-446655440000");
    ERR(call(qvs_points_query_batch, "c",
             "{\"searches\":[{\"query\":[0,1]},{\"query\":[0,1,2]}]}"),
        400, "Wrong input: Vector dimension error: expected dim: 2, got 3");
    ERR(call(qvs_points_query_batch, "c", "{}"), 400,
        "Format error in JSON body: missing field `searches`");
}
END_TEST

START_TEST(query_refused)
{
    seed_c();
    /* QueryRequest flattens its fields as `internal` (Qdrant's
     * tests/openapi/test_query.py expects this path). */
    ERR(call(qvs_points_query, "c", "{\"query\":[1,0],\"limit\":0}"), 422,
        "Validation error in JSON body: [internal.limit: value 0 invalid, "
        "must be 1 or larger]");
    ERR(call(qvs_points_query, "c",
             "{\"query\":[1,0],\"params\":{\"hnsw_ef\":0}}"),
        422,
        "Validation error in JSON body: [hnsw_ef: value 0 invalid, must be 1 "
        "or larger]");
    ERR(call(qvs_points_query, "c", "{\"score_threshold\":0.5}"), 400,
        "Bad request: A query is needed to use the score_threshold. Can't "
        "have score_threshold without defining a query.");
    ERR(call(qvs_points_query, "c", "{\"query\":[1,0],\"using\":\"x\"}"), 400,
        "Wrong input: Not existing vector name error: x");
    /* prefetch and fusion exist now (tests/test_hybrid.c); these are
     * Qdrant's refusals of their misuse */
    ERR(call(qvs_points_query, "c", "{\"prefetch\":{\"query\":[1,0]}}"), 400,
        "Bad request: A query is needed to merge the prefetches. Can't have "
        "prefetches without defining a query.");
    ERRP(call(qvs_points_query, "c", "{\"query\":{\"order_by\":\"n\"}}"), 400,
         "Bad request: No range index for `order_by` key: `n`");
    ERR(call(qvs_points_query, "c", "{\"query\":{\"fusion\":\"rrf\"}}"), 400,
        "Wrong input: Validation failed: cannot apply Fusion without "
        "prefetches");
    /* A matrix for a dense vector (multivectors: tests/server_multivec.py). */
    ERR(call(qvs_points_query, "c", "{\"query\":[[1,0],[0,1]]}"), 400,
        "Wrong input: Conversion between multi and regular vectors failed");
    ERRP(call(qvs_points_query, "c",
              "{\"query\":{\"indices\":[1],\"values\":[1]}}"),
         400, "sparse");
    ERRP(call(qvs_points_query, "c", "{\"query\":\"not-an-id\"}"), 400,
         "Format error in JSON body: query: value \"not-an-id\" is not a "
         "valid point ID");
    ERRP(call(qvs_points_query, "c", "{\"query\":[1,null]}"), 400,
         "query[1]: invalid type: null, expected a number");
    ERRP(call(qvs_points_query, "c", "{\"query\":{\"bogus\":1}}"), 400,
         "untagged enum QueryInterface");
    ERR(call(qvs_points_query, "nope", "{\"query\":[1,0]}"), 404,
        "Not found: Collection `nope` doesn't exist!");
}
END_TEST

START_TEST(query_recommend)
{
    add_unnamed("d", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "d",
            "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
            "{\"id\":2,\"vector\":[0,1]},{\"id\":3,\"vector\":[1,1]},"
            "{\"id\":4,\"vector\":[2,-1]},{\"id\":5,\"vector\":[-1,2]}]}"));
    /* average: avg(pos) = [1,0]; with negative [0,1]: 2*[1,0]-[0,1] */
    out *o = call(qvs_points_query, "d",
                  "{\"query\":{\"recommend\":{\"positive\":[1],"
                  "\"negative\":[2]}},\"limit\":3}");
    ck_assert_str_eq(ids_of(points_of(o)), "4,3,5");
    ck_assert_str_eq(scores_of(points_of(o)), "5.0000,1.0000,-4.0000");
    /* raw vectors mix with ids */
    o = call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[[0,2],3]}},"
             "\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "5,2");
    /* best_score: closest example wins, sigmoid-scaled; a point nearer a
     * negative scores below zero */
    o = call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[[1,0]],"
             "\"negative\":[[0,1]],\"strategy\":\"best_score\"}},"
             "\"limit\":5}");
    ck_assert_str_eq(ids_of(points_of(o)), "4,1,2,3,5"); /* ties: by id */
    ck_assert_str_eq(scores_of(points_of(o)),
                     "0.8333,0.7500,-0.7500,-0.7500,-0.8333");
    /* sum_scores: pos - neg similarities */
    o = call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[[1,0]],"
             "\"negative\":[[0,1]],\"strategy\":\"sum_scores\"}},"
             "\"limit\":2,\"score_threshold\":1}");
    ck_assert_str_eq(ids_of(points_of(o)), "4");
    ERR(call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"negative\":[1]}}}"),
        400,
        "Wrong input: Positive vectors should not be empty with `average` "
        "strategy");
    ERRP(call(qvs_points_query, "d",
              "{\"query\":{\"recommend\":{\"positive\":[1],"
              "\"strategy\":\"median\"}}}"),
         400, "strategy: unknown variant `median`");
}
END_TEST

START_TEST(query_lookup_from)
{
    add_unnamed("d", 2, QV_METRIC_DOT);
    add_named("n");
    OK(call(qvs_points_upsert, "d",
            "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
            "{\"id\":2,\"vector\":[0,1]}]}"));
    OK(call(qvs_points_upsert, "n",
            "{\"points\":[{\"id\":1,\"vector\":{\"a\":[0,1]}},"
            "{\"id\":9,\"vector\":{\"b\":[1,1,1]}}]}"));
    /* id 1 looked up in "n" (vector "a" = [0,1]); not excluded from "d" */
    out *o = call(qvs_points_query, "d",
                  "{\"query\":1,\"lookup_from\":{\"collection\":\"n\","
                  "\"vector\":\"a\"}}");
    ck_assert_str_eq(ids_of(points_of(o)), "2,1");
    o = call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[1]}},"
             "\"lookup_from\":{\"collection\":\"n\",\"vector\":\"a\"},"
             "\"limit\":1}");
    ck_assert_str_eq(ids_of(points_of(o)), "2");
    ERR(call(qvs_points_query, "d",
             "{\"query\":1,\"lookup_from\":{\"collection\":\"zz\"}}"),
        404, "Not found: Collection zz not found");
    ERR(call(qvs_points_query, "d",
             "{\"query\":1,\"lookup_from\":{\"collection\":\"n\","
             "\"vector\":\"b\"}}"),
        400, "Wrong input: Vector dimension error: expected dim: 2, got 3");
    ERR(call(qvs_points_query, "d",
             "{\"query\":9,\"lookup_from\":{\"collection\":\"n\","
             "\"vector\":\"a\"}}"),
        404, "Not found: Vector with name \"a\" for point not found");
    ERR(call(qvs_points_query, "d",
             "{\"query\":1,\"lookup_from\":{\"collection\":\"n\"}}"),
        400, "Wrong input: Not existing vector name error: ");
    /* a missing point is 404 before the vector name's 400 or the
     * dimension's (Qdrant's recommendations.rs checks ids first) */
    ERR(call(qvs_points_query, "d",
             "{\"query\":77,\"lookup_from\":{\"collection\":\"n\","
             "\"vector\":\"zz\"}}"),
        404, "Not found: No point with id 77 found");
    ERR(call(qvs_points_query, "d",
             "{\"query\":77,\"lookup_from\":{\"collection\":\"n\","
             "\"vector\":\"b\"}}"),
        404, "Not found: No point with id 77 found");
    ERR(call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[77]}},"
             "\"lookup_from\":{\"collection\":\"n\"}}"),
        404, "Not found: No point with id 77 found");
}
END_TEST

/* MMR: with high diversity the near-duplicate of the best hit loses its
 * place to a different point; scores stay the search's. */
START_TEST(query_mmr)
{
    add_unnamed("c", 2, QV_METRIC_COSINE);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
            "{\"id\":2,\"vector\":[1,0.01]},{\"id\":3,\"vector\":[1,0.9]},"
            "{\"id\":4,\"vector\":[-1,0]}]}"));
    out *o = call(qvs_points_query, "c", "{\"query\":[1,0],\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,2");
    o = call(qvs_points_query, "c",
             "{\"query\":{\"nearest\":[1,0],\"mmr\":{\"diversity\":0.9,"
             "\"candidates_limit\":3}},\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,3");
    ck_assert_str_eq(scores_of(points_of(o)), "1.0000,0.7433");
    o = call(qvs_points_query, "c",
             "{\"query\":{\"nearest\":[1,0],\"mmr\":{\"diversity\":0}},"
             "\"limit\":2}");
    ck_assert_str_eq(ids_of(points_of(o)), "1,2");
    ERRP(call(qvs_points_query, "c",
              "{\"query\":{\"nearest\":[1,0],\"mmr\":{\"diversity\":2}}}"),
         422, "diversity");
}
END_TEST

/* ---- 7. legacy endpoints ------------------------------------------------- */

START_TEST(legacy_search)
{
    seed_c();
    add_named("n");
    OK(call(qvs_points_upsert, "n",
            "{\"points\":[{\"id\":1,\"vector\":{\"b\":[0,0,0]}},"
            "{\"id\":2,\"vector\":{\"b\":[3,4,0]},\"payload\":{\"x\":1}}]}"));
    out *o = call(qvs_points_search, "c",
                  "{\"vector\":[1,0],\"limit\":2,\"with_payload\":true}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res), "1,3");
    ck_assert_str_eq(json_of(o->res->child, "payload"),
                     "{\"city\":\"Paris\",\"n\":1,\"meta\":{\"a\":1,\"b\":2}}");
    o = call(qvs_points_search, "n",
             "{\"vector\":{\"name\":\"b\",\"vector\":[3,4,0]},\"limit\":5,"
             "\"with_vector\":[\"b\"]}");
    ck_assert_str_eq(ids_of(o->res), "2,1");
    ck_assert_str_eq(scores_of(o->res), "0.0000,5.0000");
    ck_assert_str_eq(json_of(o->res->child, "vector"), "{\"b\":[3,4,0]}");
    o = call(qvs_points_search, "c",
             "{\"vector\":[1,0],\"limit\":3,\"offset\":1,"
             "\"score_threshold\":0.5}");
    ck_assert_str_eq(ids_of(o->res), "3");
    ERR(call(qvs_points_search, "c", "{\"vector\":[1,0]}"), 400,
        "Format error in JSON body: missing field `limit`");
    ERR(call(qvs_points_search, "c", "{\"limit\":3}"), 400,
        "Format error in JSON body: missing field `vector`");
    ERR(call(qvs_points_search, "n", "{\"vector\":[1,0,0],\"limit\":3}"), 400,
        "Wrong input: Not existing vector name error: ");
    ERR(call(qvs_points_search, "c", "{\"vector\":[1,0,0],\"limit\":3}"), 400,
        "Wrong input: Vector dimension error: expected dim: 2, got 3");
    o = call(qvs_points_search_batch, "c",
             "{\"searches\":[{\"vector\":[0,1],\"limit\":1},"
             "{\"vector\":[1,0],\"limit\":1,\"filter\":{\"must\":{\"key\":"
             "\"city\",\"match\":{\"value\":\"Rome\"}}}}]}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res->child), "2");
    ck_assert_str_eq(ids_of(o->res->child->next), "2");
}
END_TEST

START_TEST(legacy_recommend)
{
    add_unnamed("d", 2, QV_METRIC_DOT);
    add_unnamed("other", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "d",
            "{\"points\":[{\"id\":1,\"vector\":[1,0]},"
            "{\"id\":2,\"vector\":[0,1]},{\"id\":3,\"vector\":[1,1]},"
            "{\"id\":4,\"vector\":[2,-1]},{\"id\":5,\"vector\":[-1,2]}]}"));
    OK(call(qvs_points_upsert, "other",
            "{\"points\":[{\"id\":4,\"vector\":[1,-0.4]}]}"));
    out *o = call(qvs_points_recommend, "d",
                  "{\"positive\":[1],\"negative\":[2],\"limit\":3}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res), "4,3,5");
    /* Ids of a lookup_from collection name its points, not the searched
     * collection's: neither API leaves out this collection's point 4
     * (Qdrant's tests/openapi/test_multicollection_reco.py,
     * test_recommend_lookup: by ids with lookup_from equals by vectors). */
    o = call(qvs_points_recommend, "d",
             "{\"positive\":[4],\"limit\":2,\"lookup_from\":{\"collection\":"
             "\"other\"}}");
    ck_assert_str_eq(ids_of(o->res), "4,1");
    o = call(qvs_points_query, "d",
             "{\"query\":{\"recommend\":{\"positive\":[4]}},\"limit\":2,"
             "\"lookup_from\":{\"collection\":\"other\"}}");
    ck_assert_str_eq(ids_of(points_of(o)), "4,1");
    ERR(call(qvs_points_recommend, "d", "{\"negative\":[1],\"limit\":3}"), 400,
        "Bad request: At least one positive vector ID required with this "
        "strategy");
    ERR(call(qvs_points_recommend, "d",
             "{\"strategy\":\"best_score\",\"limit\":3}"),
        400,
        "Bad request: At least one positive or negative vector ID required "
        "with this strategy");
    ERR(call(qvs_points_recommend, "d", "{\"positive\":[1]}"), 400,
        "Format error in JSON body: missing field `limit`");
    ERR(call(qvs_points_recommend, "d", "{\"positive\":[42],\"limit\":1}"), 404,
        "Not found: No point with id 42 found");
    o = call(qvs_points_recommend_batch, "d",
             "{\"searches\":[{\"positive\":[1],\"limit\":1},"
             "{\"positive\":[2],\"limit\":1}]}");
    OK(o);
    ck_assert_str_eq(ids_of(o->res->child), "4");
    ck_assert_str_eq(ids_of(o->res->child->next), "5");
}
END_TEST

START_TEST(points_batch)
{
    seed_c();
    out *o = call(qvs_points_batch, "c",
                  "{\"operations\":["
                  "{\"upsert\":{\"points\":[{\"id\":10,\"vector\":[1,2]}]}},"
                  "{\"set_payload\":{\"payload\":{\"z\":1},\"points\":[10]}},"
                  "{\"delete\":{\"points\":[1]}},"
                  "{\"clear_payload\":{\"points\":[2]}}]}");
    OK(o);
    ck_assert_int_eq(cJSON_GetArraySize(o->res), 4);
    ck_assert_str_eq(json_of(o->res->child, "status"), "\"acknowledged\"");
    o = call(qvs_points_retrieve, "c", "{\"ids\":[1,2,10]}");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":2,\"payload\":{}},"
                     "{\"id\":10,\"payload\":{\"z\":1}}]");
    ERRP(call(qvs_points_batch, "c",
              "{\"operations\":[{\"delete\":{\"points\":[2]}},"
              "{\"explode\":{}}]}"),
         400, "operations[1]: unknown variant `explode`");
    ck_assert_uint_eq(count_of("c"), 4); /* nothing ran */
}
END_TEST

/* set_payload without key and with null members: the nulls remove
 * top-level names, also names with dots (a quoted key path) or quotes (a
 * per-point merge); in one change per library collection. */
START_TEST(set_payload_null_names)
{
    add_unnamed("c", 2, QV_METRIC_DOT);
    OK(call(qvs_points_upsert, "c",
            "{\"points\":["
            "{\"id\":1,\"vector\":[1,0],\"payload\":{\"a.b\":5,"
            "\"a\":{\"b\":6},\"k\":1}},"
            "{\"id\":2,\"vector\":[0,1],\"payload\":{\"q\\\"x\":1,"
            "\"k\":2}}]}"));
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"a.b\":null,\"x\":1,\"k\":null},"
            "\"points\":[1,2]}"));
    out *o = call(qvs_points_retrieve, "c", "{\"ids\":[1,2]}");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":1,\"payload\":{\"a\":{\"b\":6},\"x\":1}},"
                     "{\"id\":2,\"payload\":{\"q\\\"x\":1,\"x\":1}}]");
    /* a name with a quote: the per-point merge */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"q\\\"x\":null,\"y\":2},\"points\":[2]}"));
    /* a name given twice: the order of its members decides */
    OK(call(qvs_points_set_payload, "c",
            "{\"payload\":{\"x\":null,\"x\":3},\"points\":[2]}"));
    o = call(qvs_points_retrieve, "c", "{\"ids\":[2]}");
    /* x removed, then added at the end */
    ck_assert_str_eq(json_of(o->res->child, "payload"), "{\"y\":2,\"x\":3}");
}
END_TEST

/* A batch stops at the operation that fails; the ones before it stay
 * applied, as in Qdrant. */
START_TEST(points_batch_stops_at_failure)
{
    seed_c();
    ERRP(call(qvs_points_batch, "c",
              "{\"operations\":["
              "{\"delete\":{\"points\":[1]}},"
              "{\"set_payload\":{\"payload\":{\"z\":1},"
              "\"points\":[2,999]}},"
              "{\"delete\":{\"points\":[3]}}]}"),
         404, "999");
    out *o = call(qvs_points_retrieve, "c", "{\"ids\":[1,2,3]}");
    ck_assert_str_eq(json_of(o->res, NULL),
                     "[{\"id\":2,\"payload\":{\"city\":\"Rome\",\"n\":2}},"
                     "{\"id\":3,\"payload\":{\"city\":\"Paris\",\"n\":3}}]");
}
END_TEST

/* ---- 8. filters and hostile input ---------------------------------------- */

START_TEST(filter_errors)
{
    seed_c();
    ERR(call(qvs_points_count, "c",
             "{\"filter\":{\"must\":[{\"key\":"
             "\"city\"}]}}"),
        422,
        "Validation error in JSON body: [filter.must[0]: At least one field "
        "condition must be specified]");
    ERRP(call(qvs_points_scroll, "c",
              "{\"filter\":{\"must\":[{\"key\":\"n\",\"range\":{}}]}}"),
         400, "Format error in JSON body: filter: must[0].range");
    ERRP(call(qvs_points_query, "c", "{\"query\":[1,0],\"filter\":[1]}"), 400,
         "filter: invalid type: an array, expected a Filter object");
    /* deeper than the filter parser allows: an error, not a crash */
    char *deep = malloc(20000);
    strcpy(deep, "{\"filter\":");
    for (int i = 0; i < 400; i++)
        strcat(deep, "{\"must\":[");
    strcat(deep, "{\"has_id\":[1]}");
    for (int i = 0; i < 400; i++)
        strcat(deep, "]}");
    strcat(deep, "}");
    ERRP(call(qvs_points_count, "c", deep), 400, "Format error in JSON body");
    free(deep);
    /* with_payload paths the library refuses */
    ERRP(call(qvs_points_retrieve, "c",
              "{\"ids\":[1],\"with_payload\":[\"a[\"]}"),
         400, "Wrong input");
}
END_TEST

/* A big batch with NaN-like garbage at the end changes nothing. */
START_TEST(big_batch_all_or_nothing)
{
    add_unnamed("c", 8, QV_METRIC_EUCLID);
    size_t n = 2000;
    char *b = malloc(n * 64 + 128);
    strcpy(b, "{\"batch\":{\"ids\":[");
    for (size_t i = 0; i < n; i++)
        sprintf(b + strlen(b), "%s%zu", i ? "," : "", i);
    strcat(b, "],\"vectors\":[");
    for (size_t i = 0; i < n; i++)
        sprintf(b + strlen(b), "%s[%zu,1,2,3,4,5,6,%s]", i ? "," : "", i,
                i == n - 1 ? "-1e300" : "7");
    strcat(b, "]}}");
    ERRP(call(qvs_points_upsert, "c", b), 400,
         "batch.vectors[1999][7]: -1e+300 is not a finite 32-bit float");
    ck_assert_uint_eq(count_of("c"), 0);
    char *fix = strstr(b, "-1e300");
    memcpy(fix, "-1.000", 6);
    OK(call(qvs_points_upsert, "c", b));
    ck_assert_uint_eq(count_of("c"), n);
    out *o = call(qvs_points_query, "c",
                  "{\"query\":[1999,1,2,3,4,5,6,-1],\"limit\":1}");
    ck_assert_str_eq(ids_of(points_of(o)), "1999");
    ck_assert_str_eq(scores_of(points_of(o)), "0.0000");
    free(b);
}
END_TEST

/* ---- 9. concurrency ------------------------------------------------------ */

/* A handler call that keeps nothing (for threads). */
static int call_quiet(qvs_handler h, const char *coll, const char *body)
{
    treq t = {.wait = NULL};
    t.req.method = "POST";
    t.req.params[0] = coll;
    t.req.n_params = 1;
    t.req.query = tquery;
    t.req.catalog = &cat;
    char perr[256];
    cJSON *jb = qj_parse(body, strlen(body), perr, sizeof(perr));
    t.req.body = jb;
    qvs_resp resp = {.http_status = 200};
    h(&t.req, &resp);
    cJSON_Delete(jb);
    cJSON_Delete(resp.result);
    return resp.http_status;
}

static void *writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    char body[256];
    for (int i = 0; i < 150; i++) {
        int id = i % 10;
        if (i % 3 == 0)
            snprintf(body, sizeof(body),
                     "{\"points\":[{\"id\":%d,\"vector\":{\"a\":[1,%d],"
                     "\"b\":[%d,0,1]},\"payload\":{\"w\":%d,\"i\":%d}}]}",
                     id, i, w, w, i);
        else if (i % 3 == 1)
            snprintf(body, sizeof(body),
                     "{\"payload\":{\"w\":%d,\"s\":%d},\"points\":[%d]}", w, i,
                     id);
        else
            snprintf(body, sizeof(body),
                     "{\"points\":[{\"id\":%d,\"vector\":{\"b\":[%d,%d,0]}}]}",
                     id, w, i);
        qvs_handler h = i % 3 == 0   ? qvs_points_upsert
                        : i % 3 == 1 ? qvs_points_set_payload
                                     : qvs_points_update_vectors;
        int st = call_quiet(h, "n", body);
        ck_assert_msg(st == 200 || st == 404, "status %d", st);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 150; i++) {
        int st = call_quiet(qvs_points_query, "n",
                            "{\"query\":[1,1,1],\"using\":\"b\","
                            "\"with_payload\":true,\"with_vector\":true}");
        ck_assert_int_eq(st, 200);
        st = call_quiet(qvs_points_scroll, "n", "{\"with_vector\":true}");
        ck_assert_int_eq(st, 200);
    }
    return NULL;
}

/* Writers of the same points on two threads and a reader: afterwards every
 * copy of every payload equals the registry's. */
START_TEST(concurrent_writers_keep_copies_equal)
{
    qvs_coll *c = add_named("n");
    pthread_t t[3];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(
            pthread_create(&t[i], NULL, writer, (void *)(intptr_t)(i + 1)), 0);
    ck_assert_int_eq(pthread_create(&t[2], NULL, reader, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int id = 0; id < 10; id++) {
        qv_point_id pid = qv_id_from_num((uint64_t)id);
        char *want = NULL, *got = NULL;
        size_t len;
        ck_assert_int_eq(qv_payload_get(c->points, &pid, NULL, &want, &len),
                         QV_OK);
        for (size_t k = 0; k < c->n_vectors; k++) {
            qv_status st =
                qv_payload_get(c->vectors[k].coll, &pid, NULL, &got, &len);
            if (st == QV_ENOTFOUND)
                continue;
            ck_assert_int_eq(st, QV_OK);
            ck_assert_str_eq(got, want);
            qv_free(got);
        }
        qv_free(want);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("points_api");
    TCase *t = tcase_create("points");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_checked_fixture(t, NULL, free_results);
    tcase_add_test(t, uuid_spellings);
    tcase_add_test(t, set_payload_null_names);
    tcase_add_test(t, points_batch_stops_at_failure);
    tcase_add_test(t, bad_ids);
    tcase_add_test(t, huge_ids_out);
    tcase_add_test(t, ids_above_2p53_exact);
    tcase_add_test(t, payload_numbers_exact);
    tcase_add_test(t, upsert_results_and_wait);
    tcase_add_test(t, upsert_validates_before_change);
    tcase_add_test(t, upsert_batch_form);
    tcase_add_test(t, upsert_replaces_and_dedups);
    tcase_add_test(t, upsert_modes_and_filter);
    tcase_add_test(t, retrieve_forms);
    tcase_add_test(t, get_point);
    tcase_add_test(t, scroll_pages);
    tcase_add_test(t, count_points);
    tcase_add_test(t, delete_points);
    tcase_add_test(t, payload_ops);
    tcase_add_test(t, vectors_unnamed);
    tcase_add_test(t, named_vectors);
    tcase_add_test(t, query_metrics);
    tcase_add_test(t, query_forms);
    tcase_add_test(t, query_refused);
    tcase_add_test(t, query_recommend);
    tcase_add_test(t, query_lookup_from);
    tcase_add_test(t, query_mmr);
    tcase_add_test(t, legacy_search);
    tcase_add_test(t, legacy_recommend);
    tcase_add_test(t, points_batch);
    tcase_add_test(t, filter_errors);
    tcase_add_test(t, big_batch_all_or_nothing);
    tcase_add_test(t, concurrent_writers_keep_copies_equal);
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
