/*
 * test_grpc_fast.c -- the gRPC direct path (server/grpc/grpc_fast.c)
 * against the general JSON route, on the same server and the same data.
 *
 * The server runs in-process (qvs_server_start); collections are made and
 * filled through the REST handlers (found in the server's router, as the
 * gRPC route finds them), and every gRPC call goes through
 * qvs_grpc_invoke twice: with the direct path on, then off
 * (qvs_server_set_grpc_direct).  The two replies must be the same bytes once
 * their `time` fields are zeroed, and the same status and message for
 * errors.  qvs_grpc_fast is also called alone, to prove that the requests
 * meant for it really take it (a comparison of the JSON route with itself
 * would prove nothing) and that the others do not.
 *
 *  1. randomized Search, Query, SearchBatch and QueryBatch (seeded): a
 *     collection with one unnamed cosine vector and one with named
 *     vectors (dot, euclid); u64 ids, ids above 2^63 and UUIDs; payloads
 *     with integers above 2^53, negative i64, doubles, nested values;
 *     filters (match, range, has_id, must_not), payload include/exclude
 *     selectors, with_vectors (all, by name), score_threshold, offset,
 *     hnsw_ef and exact;
 *  2. errors: a missing collection, a wrong dimension, an unknown vector
 *     name, a non-finite element, a sparse request: the direct path
 *     declines and the reply equals the JSON route's;
 *  3. a collection in strict mode: the direct path declines (its rate
 *     buckets must be charged once, by the REST handler).
 * The transport rules (api keys, the read-only key, deadlines, size
 * limits) run before either path and are tested by test_grpc.c.
 */
#include "scratch_dir.h"
#include "server/grpc/grpc.h"
#include "server/qjson.h"
#include "server/server.h"

#include "points_service.pb-c.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qvs_server *srv;

/* A splitmix64 generator: the runs are the same on every machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static float rnd_float(void)
{
    return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- REST, in-process ---------------------------------------------------- */

static void rest(const char *method, const char *pattern, const char *name,
                 const char *body)
{
    const qvs_router *r = qvs_server_router(srv);
    const qvs_route *rt = NULL;
    for (size_t i = 0; i < r->n && !rt; i++)
        if (strcmp(r->entries[i].route->method, method) == 0 &&
            strcmp(r->entries[i].route->pattern, pattern) == 0)
            rt = r->entries[i].route;
    ck_assert_msg(rt, "no route %s %s", method, pattern);
    char err[256] = "";
    cJSON *b = qj_parse(body, strlen(body), err, sizeof(err));
    ck_assert_msg(b, "bad body: %s", err);
    qvs_req req = {
        .method = method, .body = b, .catalog = qvs_server_catalog(srv)};
    req.params[req.n_params++] = name;
    qvs_resp resp = {.http_status = 200};
    rt->handler(&req, &resp);
    ck_assert_msg(resp.http_status < 300, "%s %s: %d %s", method, pattern,
                  resp.http_status, resp.error);
    cJSON_Delete(resp.result);
    cJSON_Delete(b);
}

static const char *const uuids[] = {"5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
                                    "00000000-0000-0000-0000-000000000001",
                                    "ffffffff-ffff-ffff-ffff-fffffffffffe"};

/* The id of point i: small numbers, numbers above 2^63, and UUIDs. */
static void point_id_json(unsigned i, char *buf, size_t cap)
{
    if (i % 10 == 7)
        snprintf(buf, cap, "\"%s\"", uuids[(i / 10) % 3]);
    else if (i % 10 == 3)
        snprintf(buf, cap, "%llu", 9223372036854775808ull + i);
    else
        snprintf(buf, cap, "%u", i);
}

#define N_POINTS 90

static void fill(const char *coll, bool named)
{
    size_t cap = 1 << 20, len = 0;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    len += (size_t)snprintf(body + len, cap - len, "{\"points\": [");
    for (unsigned i = 0; i < N_POINTS; i++) {
        char id[64];
        point_id_json(i, id, sizeof(id));
        len += (size_t)snprintf(body + len, cap - len, "%s{\"id\": %s, ",
                                i ? "," : "", id);
        unsigned dims[2] = {8, 4};
        const char *names[2] = {"a", "b"};
        len += (size_t)snprintf(body + len, cap - len, "\"vector\": %s",
                                named ? "{" : "");
        for (unsigned v = 0; v < (named ? 2u : 1u); v++) {
            if (named && v == 1 && i % 4 == 0)
                continue; /* some points have no vector "b" */
            if (named)
                len += (size_t)snprintf(body + len, cap - len,
                                        "%s\"%s\": ", v ? ", " : "", names[v]);
            for (unsigned d = 0; d < dims[v]; d++)
                len += (size_t)snprintf(body + len, cap - len, "%s%.9g",
                                        d ? ", " : "[", rnd_float());
            len += (size_t)snprintf(body + len, cap - len, "]");
        }
        len += (size_t)snprintf(
            body + len, cap - len,
            "%s, \"payload\": {\"k\": \"kw%u\", \"n\": %u, "
            "\"big\": %llu, \"neg\": %lld, \"d\": %.17g, "
            "\"s\": {\"x\": [1, 2.5, \"a\", null, true]}, \"e\": []}}",
            named ? "}" : "", i % 5, i % 7, 9007199254740993ull + 2 * i,
            -9223372036854775807ll + i, 0.1 * i + 1e-17);
    }
    snprintf(body + len, cap - len, "]}");
    rest("PUT", "/collections/{name}/points", coll, body);
    free(body);
}

static void setup(void)
{
    scratch_dir_make("grpcfast");
    qvs_config cfg;
    qvs_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.grpc_port = QVS_GRPC_PORT_ANY;
    cfg.storage = scratch_dir;
    cfg.threads = 2;
    char err[512] = "";
    ck_assert_msg(qvs_server_start(&cfg, &srv, err, sizeof(err)), "start: %s",
                  err);
    rest("PUT", "/collections/{name}", "plain",
         "{\"vectors\": {\"size\": 8, \"distance\": \"Cosine\"}}");
    rest("PUT", "/collections/{name}", "named",
         "{\"vectors\": {\"a\": {\"size\": 8, \"distance\": \"Dot\"}, "
         "\"b\": {\"size\": 4, \"distance\": \"Euclid\"}}}");
    rest("PUT", "/collections/{name}", "strict",
         "{\"vectors\": {\"size\": 8, \"distance\": \"Cosine\"}, "
         "\"strict_mode_config\": {\"enabled\": true}}");
    fill("plain", false);
    fill("named", true);
    fill("strict", false);
    qvs_server_set_grpc_direct(srv, true);
}

static void teardown(void)
{
    qvs_server_set_grpc_direct(srv, true);
    qvs_server_stop(srv);
    srv = NULL;
    scratch_dir_remove();
}

/* ---- calls --------------------------------------------------------------- */

typedef struct answer {
    int status;
    char msg[1024];
    uint8_t *out;
    size_t len;
} answer;

static answer invoke(const char *path, const ProtobufCMessage *m, bool fast)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *in = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(in);
    protobuf_c_message_pack(m, in);
    answer a = {0};
    qvs_server_set_grpc_direct(srv, fast);
    a.status = qvs_grpc_invoke(srv, qvs_grpc_find(path), in, len, &a.out,
                               &a.len, a.msg, sizeof(a.msg));
    qvs_server_set_grpc_direct(srv, true);
    free(in);
    return a;
}

/* The reply with its time zeroed (and usage dropped), packed again. */
static void normalise(const ProtobufCMessageDescriptor *d, answer *a)
{
    if (a->status != 0)
        return;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, a->len, a->out);
    ck_assert_ptr_nonnull(m);
    const ProtobufCFieldDescriptor *t =
        protobuf_c_message_descriptor_get_field_by_name(d, "time");
    ck_assert_ptr_nonnull(t);
    *(double *)((char *)m + t->offset) = 0;
    free(a->out);
    a->len = protobuf_c_message_get_packed_size(m);
    a->out = malloc(a->len ? a->len : 1);
    protobuf_c_message_pack(m, a->out);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Both routes give the same answer; returns the number of points the
 * reply holds (summed over a batch). */
static size_t same_answer(const char *path, const ProtobufCMessageDescriptor *d,
                          const ProtobufCMessage *m, bool expect_fast)
{
    /* the direct path alone: taken or declined, as expected */
    size_t plen = protobuf_c_message_get_packed_size(m);
    uint8_t *in = malloc(plen ? plen : 1);
    protobuf_c_message_pack(m, in);
    ProtobufCMessage *rq =
        protobuf_c_message_unpack(m->descriptor, NULL, plen, in);
    ck_assert_ptr_nonnull(rq);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool took = qvs_grpc_fast(srv, path, rq, &t0, &out, &out_len);
    ck_assert_msg(took == expect_fast, "%s: the direct path %s", path,
                  took ? "answered" : "declined");
    free(out);
    protobuf_c_message_free_unpacked(rq, NULL);
    free(in);

    answer f = invoke(path, m, true), j = invoke(path, m, false);
    ck_assert_int_eq(f.status, j.status);
    ck_assert_str_eq(f.msg, j.msg);
    normalise(d, &f);
    normalise(d, &j);
    ck_assert_uint_eq(f.len, j.len);
    ck_assert_msg(f.len == 0 || memcmp(f.out, j.out, f.len) == 0,
                  "%s: replies differ", path);
    size_t n = 0;
    if (f.status == 0) {
        ProtobufCMessage *r = protobuf_c_message_unpack(d, NULL, f.len, f.out);
        if (d == &qdrant__search_response__descriptor)
            n = ((Qdrant__SearchResponse *)r)->n_result;
        else if (d == &qdrant__query_response__descriptor)
            n = ((Qdrant__QueryResponse *)r)->n_result;
        else {
            Qdrant__SearchBatchResponse *b = (Qdrant__SearchBatchResponse *)r;
            for (size_t i = 0; i < b->n_result; i++)
                n += b->result[i]->n_result;
        }
        protobuf_c_message_free_unpacked(r, NULL);
    }
    free(f.out);
    free(j.out);
    return n;
}

/* ---- random requests ----------------------------------------------------- */

/* Storage for the parts of one request (all on the caller's stack). */
typedef struct parts {
    float vec[8];
    Qdrant__Filter filter;
    Qdrant__Condition cond[2], *condp[2];
    Qdrant__FieldCondition field;
    Qdrant__Match match;
    Qdrant__Range range;
    Qdrant__HasIdCondition has_id;
    Qdrant__PointId ids[2], *idp[2];
    char uuid[40];
    char kw[8];
    Qdrant__WithPayloadSelector wp;
    Qdrant__PayloadIncludeSelector inc;
    Qdrant__PayloadExcludeSelector exc;
    char *keys[2];
    Qdrant__WithVectorsSelector wv;
    Qdrant__VectorsSelector vs;
    char *names[1];
    Qdrant__SearchParams params;
    Qdrant__DenseVector dense;
    Qdrant__VectorInput input;
    Qdrant__Query query;
} parts;

static Qdrant__Filter *rnd_filter(parts *p)
{
    qdrant__filter__init(&p->filter);
    for (int i = 0; i < 2; i++) {
        qdrant__condition__init(&p->cond[i]);
        p->condp[i] = &p->cond[i];
    }
    qdrant__field_condition__init(&p->field);
    qdrant__match__init(&p->match);
    qdrant__range__init(&p->range);
    qdrant__has_id_condition__init(&p->has_id);
    p->cond[0].condition_one_of_case =
        QDRANT__CONDITION__CONDITION_ONE_OF_FIELD;
    p->cond[0].field = &p->field;
    switch (rnd_below(5)) {
    case 0:
        return NULL;
    case 1:
        snprintf(p->kw, sizeof(p->kw), "kw%u", rnd_below(5));
        p->field.key = "k";
        p->field.match = &p->match;
        p->match.match_value_case = QDRANT__MATCH__MATCH_VALUE_KEYWORD;
        p->match.keyword = p->kw;
        p->filter.n_must = 1;
        p->filter.must = p->condp;
        break;
    case 2:
        p->field.key = "n";
        p->field.range = &p->range;
        p->range._gte_case = QDRANT__RANGE___GTE_GTE;
        p->range.gte = rnd_below(7);
        p->filter.n_must = 1;
        p->filter.must = p->condp;
        break;
    case 3:
        p->field.key = "n";
        p->field.match = &p->match;
        p->match.match_value_case = QDRANT__MATCH__MATCH_VALUE_INTEGER;
        p->match.integer = rnd_below(7);
        p->filter.n_should = 1;
        p->filter.should = p->condp;
        break;
    default:
        /* must_not has_id: a UUID and an id above 2^63 */
        for (int i = 0; i < 2; i++) {
            qdrant__point_id__init(&p->ids[i]);
            p->idp[i] = &p->ids[i];
        }
        snprintf(p->uuid, sizeof(p->uuid), "%s", uuids[rnd_below(3)]);
        p->ids[0].point_id_options_case =
            QDRANT__POINT_ID__POINT_ID_OPTIONS_UUID;
        p->ids[0].uuid = p->uuid;
        p->ids[1].point_id_options_case =
            QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM;
        p->ids[1].num = 9223372036854775808ull + 10 * rnd_below(9) + 3;
        p->has_id.n_has_id = 2;
        p->has_id.has_id = p->idp;
        p->cond[1].condition_one_of_case =
            QDRANT__CONDITION__CONDITION_ONE_OF_HAS_ID;
        p->cond[1].has_id = &p->has_id;
        p->filter.n_must_not = 1;
        p->filter.must_not = &p->condp[1];
        break;
    }
    return &p->filter;
}

static Qdrant__WithPayloadSelector *rnd_payload(parts *p)
{
    qdrant__with_payload_selector__init(&p->wp);
    qdrant__payload_include_selector__init(&p->inc);
    qdrant__payload_exclude_selector__init(&p->exc);
    p->keys[0] = "big";
    p->keys[1] = rnd_below(2) ? "neg" : "s";
    switch (rnd_below(5)) {
    case 0:
        return NULL;
    case 1:
        p->wp.selector_options_case =
            QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_ENABLE;
        p->wp.enable = rnd_below(2);
        break;
    case 2:
        p->wp.selector_options_case =
            QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_INCLUDE;
        p->wp.include = &p->inc;
        p->inc.n_fields = 2;
        p->inc.fields = p->keys;
        break;
    case 3:
        p->wp.selector_options_case =
            QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_EXCLUDE;
        p->wp.exclude = &p->exc;
        p->exc.n_fields = 2;
        p->exc.fields = p->keys;
        break;
    default:
        p->wp.selector_options_case =
            QDRANT__WITH_PAYLOAD_SELECTOR__SELECTOR_OPTIONS_ENABLE;
        p->wp.enable = 1;
        break;
    }
    return &p->wp;
}

static Qdrant__WithVectorsSelector *rnd_vectors(parts *p, bool named)
{
    qdrant__with_vectors_selector__init(&p->wv);
    qdrant__vectors_selector__init(&p->vs);
    switch (rnd_below(4)) {
    case 0:
    case 1:
        return NULL;
    case 2:
        p->wv.selector_options_case =
            QDRANT__WITH_VECTORS_SELECTOR__SELECTOR_OPTIONS_ENABLE;
        p->wv.enable = 1;
        return &p->wv;
    default:
        if (!named)
            return NULL;
        p->names[0] = rnd_below(2) ? "a" : "b";
        p->vs.n_names = 1;
        p->vs.names = p->names;
        p->wv.selector_options_case =
            QDRANT__WITH_VECTORS_SELECTOR__SELECTOR_OPTIONS_INCLUDE;
        p->wv.include = &p->vs;
        return &p->wv;
    }
}

static Qdrant__SearchParams *rnd_params(parts *p)
{
    qdrant__search_params__init(&p->params);
    switch (rnd_below(3)) {
    case 0:
        return NULL;
    case 1:
        p->params._hnsw_ef_case = QDRANT__SEARCH_PARAMS___HNSW_EF_HNSW_EF;
        p->params.hnsw_ef = 1 + rnd_below(100);
        return &p->params;
    default:
        p->params._exact_case = QDRANT__SEARCH_PARAMS___EXACT_EXACT;
        p->params.exact = 1;
        return &p->params;
    }
}

/* A threshold inside the range of scores of the vector searched. */
static float rnd_threshold(const char *name)
{
    if (name && strcmp(name, "b") == 0)
        return 1.0f + rnd_float() * 0.8f; /* euclid: lower is better */
    return rnd_float() * 0.5f;
}

/* The vector a request searches: "" (plain), "a" or "b" (named). */
static const char *pick_vector(bool named, unsigned *dim)
{
    if (!named) {
        *dim = 8;
        return NULL;
    }
    bool b = rnd_below(2);
    *dim = b ? 4 : 8;
    return b ? "b" : "a";
}

static void rnd_search(Qdrant__SearchPoints *sp, parts *p, bool named)
{
    qdrant__search_points__init(sp);
    sp->collection_name = named ? "named" : "plain";
    unsigned dim;
    const char *name = pick_vector(named, &dim);
    for (unsigned d = 0; d < dim; d++)
        p->vec[d] = rnd_float();
    sp->vector = p->vec;
    sp->n_vector = dim;
    if (name) {
        sp->_vector_name_case = QDRANT__SEARCH_POINTS___VECTOR_NAME_VECTOR_NAME;
        sp->vector_name = (char *)name;
    }
    sp->filter = rnd_filter(p);
    sp->limit = 1 + rnd_below(15);
    sp->with_payload = rnd_payload(p);
    sp->params = rnd_params(p);
    if (rnd_below(3) == 0) {
        sp->_score_threshold_case =
            QDRANT__SEARCH_POINTS___SCORE_THRESHOLD_SCORE_THRESHOLD;
        sp->score_threshold = rnd_threshold(name);
    }
    if (rnd_below(2)) {
        sp->_offset_case = QDRANT__SEARCH_POINTS___OFFSET_OFFSET;
        sp->offset = rnd_below(6);
    }
    Qdrant__WithVectorsSelector *wv = rnd_vectors(p, named);
    if (wv) {
        sp->_with_vectors_case =
            QDRANT__SEARCH_POINTS___WITH_VECTORS_WITH_VECTORS;
        sp->with_vectors = wv;
    }
}

static void rnd_query(Qdrant__QueryPoints *qp, parts *p, bool named)
{
    qdrant__query_points__init(qp);
    qp->collection_name = named ? "named" : "plain";
    unsigned dim;
    const char *name = pick_vector(named, &dim);
    for (unsigned d = 0; d < dim; d++)
        p->vec[d] = rnd_float();
    qdrant__dense_vector__init(&p->dense);
    p->dense.data = p->vec;
    p->dense.n_data = dim;
    qdrant__vector_input__init(&p->input);
    p->input.variant_case = QDRANT__VECTOR_INPUT__VARIANT_DENSE;
    p->input.dense = &p->dense;
    qdrant__query__init(&p->query);
    p->query.variant_case = QDRANT__QUERY__VARIANT_NEAREST;
    p->query.nearest = &p->input;
    qp->_query_case = QDRANT__QUERY_POINTS___QUERY_QUERY;
    qp->query = &p->query;
    if (name) {
        qp->_using_case = QDRANT__QUERY_POINTS___USING_USING;
        qp->using_ = (char *)name;
    }
    Qdrant__Filter *f = rnd_filter(p);
    if (f) {
        qp->_filter_case = QDRANT__QUERY_POINTS___FILTER_FILTER;
        qp->filter = f;
    }
    if (rnd_below(4)) {
        qp->_limit_case = QDRANT__QUERY_POINTS___LIMIT_LIMIT;
        qp->limit = 1 + rnd_below(15);
    }
    Qdrant__WithPayloadSelector *wp = rnd_payload(p);
    if (wp) {
        qp->_with_payload_case =
            QDRANT__QUERY_POINTS___WITH_PAYLOAD_WITH_PAYLOAD;
        qp->with_payload = wp;
    }
    Qdrant__SearchParams *sp = rnd_params(p);
    if (sp) {
        qp->_params_case = QDRANT__QUERY_POINTS___PARAMS_PARAMS;
        qp->params = sp;
    }
    if (rnd_below(3) == 0) {
        qp->_score_threshold_case =
            QDRANT__QUERY_POINTS___SCORE_THRESHOLD_SCORE_THRESHOLD;
        qp->score_threshold = rnd_threshold(name);
    }
    if (rnd_below(2)) {
        qp->_offset_case = QDRANT__QUERY_POINTS___OFFSET_OFFSET;
        qp->offset = rnd_below(6);
    }
    Qdrant__WithVectorsSelector *wv = rnd_vectors(p, named);
    if (wv) {
        qp->_with_vectors_case =
            QDRANT__QUERY_POINTS___WITH_VECTORS_WITH_VECTORS;
        qp->with_vectors = wv;
    }
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(random_searches_agree)
{
    size_t points = 0;
    for (int i = 0; i < 300; i++) {
        parts p;
        Qdrant__SearchPoints sp;
        rnd_search(&sp, &p, i % 2);
        points +=
            same_answer("/qdrant.Points/Search",
                        &qdrant__search_response__descriptor, &sp.base, true);
    }
    ck_assert_uint_gt(points, 300); /* not a comparison of empty answers */
}
END_TEST

START_TEST(random_queries_agree)
{
    size_t points = 0;
    for (int i = 0; i < 300; i++) {
        parts p;
        Qdrant__QueryPoints qp;
        rnd_query(&qp, &p, i % 2);
        points +=
            same_answer("/qdrant.Points/Query",
                        &qdrant__query_response__descriptor, &qp.base, true);
    }
    ck_assert_uint_gt(points, 300);
}
END_TEST

START_TEST(random_batches_agree)
{
    size_t points = 0;
    for (int i = 0; i < 60; i++) {
        bool named = i % 2;
        parts p[3];
        Qdrant__SearchPoints sp[3], *spp[3];
        Qdrant__QueryPoints qp[3], *qpp[3];
        unsigned n = 1 + rnd_below(3);
        for (unsigned k = 0; k < n; k++) {
            if (i % 4 < 2) {
                rnd_search(&sp[k], &p[k], named);
                spp[k] = &sp[k];
            } else {
                rnd_query(&qp[k], &p[k], named);
                qpp[k] = &qp[k];
            }
        }
        if (i % 4 < 2) {
            Qdrant__SearchBatchPoints b;
            qdrant__search_batch_points__init(&b);
            b.collection_name = named ? "named" : "plain";
            b.search_points = spp;
            b.n_search_points = n;
            points += same_answer("/qdrant.Points/SearchBatch",
                                  &qdrant__search_batch_response__descriptor,
                                  &b.base, true);
        } else {
            Qdrant__QueryBatchPoints b;
            qdrant__query_batch_points__init(&b);
            b.collection_name = named ? "named" : "plain";
            b.query_points = qpp;
            b.n_query_points = n;
            points += same_answer("/qdrant.Points/QueryBatch",
                                  &qdrant__query_batch_response__descriptor,
                                  &b.base, true);
        }
    }
    ck_assert_uint_gt(points, 60);
}
END_TEST

/* Each error: declined by the direct path, the JSON route's answer. */
START_TEST(errors_take_the_json_route)
{
    parts p;
    Qdrant__SearchPoints sp;
    rnd_search(&sp, &p, false);
    sp.collection_name = "no_such_collection";
    same_answer("/qdrant.Points/Search", &qdrant__search_response__descriptor,
                &sp.base, false);
    answer a = invoke("/qdrant.Points/Search", &sp.base, true);
    ck_assert_int_eq(a.status, QVS_GRPC_NOT_FOUND);
    free(a.out);

    rnd_search(&sp, &p, false);
    sp.n_vector = 7; /* wrong dimension */
    same_answer("/qdrant.Points/Search", &qdrant__search_response__descriptor,
                &sp.base, false);
    a = invoke("/qdrant.Points/Search", &sp.base, true);
    ck_assert_int_eq(a.status, QVS_GRPC_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(a.msg, "dimension"));
    free(a.out);

    rnd_search(&sp, &p, true);
    sp._vector_name_case = QDRANT__SEARCH_POINTS___VECTOR_NAME_VECTOR_NAME;
    sp.vector_name = "nope";
    same_answer("/qdrant.Points/Search", &qdrant__search_response__descriptor,
                &sp.base, false);
    a = invoke("/qdrant.Points/Search", &sp.base, true);
    ck_assert_int_eq(a.status, QVS_GRPC_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(a.msg, "nope"));
    free(a.out);

    rnd_search(&sp, &p, false);
    p.vec[2] = NAN;
    same_answer("/qdrant.Points/Search", &qdrant__search_response__descriptor,
                &sp.base, false);

    Qdrant__QueryPoints qp;
    rnd_query(&qp, &p, false);
    p.dense.n_data = 9; /* wrong dimension in a query */
    same_answer("/qdrant.Points/Query", &qdrant__query_response__descriptor,
                &qp.base, false);
    rnd_query(&qp, &p, true);
    qp._using_case = QDRANT__QUERY_POINTS___USING__NOT_SET; /* no vector "" */
    same_answer("/qdrant.Points/Query", &qdrant__query_response__descriptor,
                &qp.base, false);

    /* one bad request fails the whole batch, with the JSON route's error */
    Qdrant__SearchPoints two[2], *twop[2] = {&two[0], &two[1]};
    parts p2[2];
    rnd_search(&two[0], &p2[0], false);
    rnd_search(&two[1], &p2[1], false);
    two[1].n_vector = 3;
    Qdrant__SearchBatchPoints b;
    qdrant__search_batch_points__init(&b);
    b.collection_name = "plain";
    b.search_points = twop;
    b.n_search_points = 2;
    same_answer("/qdrant.Points/SearchBatch",
                &qdrant__search_batch_response__descriptor, &b.base, false);
}
END_TEST

START_TEST(strict_mode_takes_the_json_route)
{
    parts p;
    Qdrant__SearchPoints sp;
    rnd_search(&sp, &p, false);
    sp.collection_name = "strict";
    same_answer("/qdrant.Points/Search", &qdrant__search_response__descriptor,
                &sp.base, false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grpc_fast");
    TCase *tc = tcase_create("fast vs json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_searches_agree);
    tcase_add_test(tc, random_queries_agree);
    tcase_add_test(tc, random_batches_agree);
    tcase_add_test(tc, errors_take_the_json_route);
    tcase_add_test(tc, strict_mode_takes_the_json_route);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
