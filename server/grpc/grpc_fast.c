/*
 * grpc_fast.c -- the direct protobuf path of the hot read methods:
 * Points/Search, SearchBatch, Query and QueryBatch with a dense query
 * vector.
 *
 * Why.  The general route (grpc_rpc.c) turns a request message into REST's
 * JSON body and the REST result back into a message.  For a search that
 * is a cJSON node per vector element on the way in (768 allocations for a
 * 768-d query, then parsed back to floats) and a tree of ScoredPoint
 * objects, printed scores and a by-name walk over the reply descriptor on
 * the way out: about 8% of the server's time under bench/grpc_load.sh.
 *
 * What.  The vector stays binary: the request message minus its vector
 * (a few fields: limit, filter, params, selectors) still becomes REST's
 * JSON, so every one of those fields is parsed and checked by the REST
 * handler's own code, and points_query.c plans and runs the request with
 * the floats given apart (qvs_query_dense_page, query.h).  The hits come
 * back as (id, score) pairs and go straight into ScoredPoint messages;
 * only a hit whose payload or vectors were asked for takes the JSON way
 * (qvs_query_point_json, then qvs_json_to_pb for that one point): the
 * public API hands payloads out as JSON text (qv_payload_get), and the
 * exact-number rules of that text (u64 and i64 above 2^53, shortest
 * doubles) live in qjson.c and grpc_convert.c, which this reuses rather
 * than copies.  That costs one JSON parse and one conversion per
 * returned payload, as before; the vector and the hit list no longer do.
 *
 * Same answers.  The fast path only ever answers success.  Anything it
 * does not take -- a sparse or multivector, a prefetch, a query that is
 * not a dense `nearest`, lookup_from, a non-finite element, a wrong
 * dimension, a missing collection or vector name, a collection in strict
 * mode (whose rate buckets a second attempt would charge twice), any
 * error at all -- returns false before anything is answered, and the
 * caller runs the general route, which gives REST's error in REST's
 * order.  A read changes nothing, so running it twice is harmless.
 * Authorisation, the read-only key, deadlines and size limits are checked
 * by the transport (grpc_server.c) before any method runs, so they apply
 * to both paths alike.  tests/test_grpc_fast.c compares the two paths
 * byte for byte on randomized requests.
 *
 * Threads: as grpc_rpc.c; no state of its own.
 */
#include "grpc.h"

#include "points.h"
#include "query.h"
#include "strict.h"

#include "points_service.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request on one collection, as grpc_rpc.c's run_rest builds it. */
typedef struct fast {
    qvs_server *srv;
    qvs_req req;
    qvs_resp resp;
    qvs_call p;
    bool open;
    char name[256];
} fast;

static const char *no_query(const qvs_req *r, const char *key)
{
    (void)r;
    (void)key;
    return NULL;
}

/* Opens the collection for a read; false (fall back) when it is missing
 * or in strict mode. */
static bool fast_open(fast *f, qvs_server *srv, const char *collection,
                      const cJSON *body)
{
    memset(f, 0, sizeof(*f));
    f->srv = srv;
    f->resp.http_status = 200;
    if (!collection || !*collection || strlen(collection) >= sizeof(f->name))
        return false;
    snprintf(f->name, sizeof(f->name), "%s", collection);
    f->req = (qvs_req){.method = "POST",
                       .body = body,
                       .query = no_query,
                       .catalog = qvs_server_catalog(srv)};
    f->req.params[f->req.n_params++] = f->name;
    if (qvs_strict_enabled(&f->req))
        return false;
    f->open = qvs_call_open(&f->p, &f->req, &f->resp, true);
    return f->open;
}

static void fast_close(fast *f)
{
    if (f->open)
        qvs_call_close(&f->p);
    f->open = false;
    cJSON_Delete(f->resp.result);
    f->resp.result = NULL;
}

/* REST's body of one request message: grpc_rpc.c's transport fields
 * dropped and with_vectors spelt with_vector (its fix_with_vector). */
static cJSON *body_of(const ProtobufCMessage *m)
{
    cJSON *o = qvs_pb_to_json(m);
    if (!o)
        return NULL;
    qvs_grpc_drop_transport(o);
    cJSON *wv = cJSON_DetachItemFromObjectCaseSensitive(o, "with_vectors");
    if (wv)
        cJSON_AddItemToObject(o, "with_vector", wv);
    return o;
}

/* A SearchPoints as REST's SearchRequest without its vector ("vector":
 * {"name"} when it names one), or NULL when it is not a dense search. */
static cJSON *search_body(Qdrant__SearchPoints *sp)
{
    if (!sp->n_vector ||
        sp->_sparse_indices_case ==
            QDRANT__SEARCH_POINTS___SPARSE_INDICES_SPARSE_INDICES)
        return NULL;
    size_t n = sp->n_vector;
    float *v = sp->vector;
    Qdrant__SearchPoints__VectorNameCase nc = sp->_vector_name_case;
    char *name = nc ? sp->vector_name : NULL;
    sp->n_vector = 0;
    sp->vector = NULL;
    sp->_vector_name_case = QDRANT__SEARCH_POINTS___VECTOR_NAME__NOT_SET;
    cJSON *o = body_of(&sp->base);
    sp->n_vector = n;
    sp->vector = v;
    sp->_vector_name_case = nc;
    if (o && name) {
        cJSON *named = cJSON_AddObjectToObject(o, "vector");
        if (!named || !cJSON_AddStringToObject(named, "name", name)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* The dense vector of a QueryPoints (query.nearest.dense), or NULL when
 * it is not one the fast path takes. */
static const Qdrant__DenseVector *query_vector(const Qdrant__QueryPoints *qp)
{
    if (qp->n_prefetch ||
        qp->_lookup_from_case == QDRANT__QUERY_POINTS___LOOKUP_FROM_LOOKUP_FROM)
        return NULL;
    const Qdrant__Query *q =
        qp->_query_case == QDRANT__QUERY_POINTS___QUERY_QUERY ? qp->query
                                                              : NULL;
    if (!q || q->variant_case != QDRANT__QUERY__VARIANT_NEAREST ||
        !q->nearest ||
        q->nearest->variant_case != QDRANT__VECTOR_INPUT__VARIANT_DENSE ||
        !q->nearest->dense || !q->nearest->dense->n_data)
        return NULL;
    return q->nearest->dense;
}

/* A QueryPoints as REST's QueryRequest without its query. */
static cJSON *query_body(Qdrant__QueryPoints *qp)
{
    Qdrant__QueryPoints__QueryCase qc = qp->_query_case;
    qp->_query_case = QDRANT__QUERY_POINTS___QUERY__NOT_SET;
    cJSON *o = body_of(&qp->base);
    qp->_query_case = qc;
    return o;
}

/* ---- replies ------------------------------------------------------------- */

static Qdrant__PointId *point_id(const qv_point_id *id)
{
    Qdrant__PointId *pid = malloc(sizeof(*pid));
    if (!pid)
        return NULL;
    qdrant__point_id__init(pid);
    if (id->kind == QV_ID_NUM) {
        pid->point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_NUM;
        pid->num = id->u.num;
        return pid;
    }
    char t[QV_UUID_STRLEN];
    qj_id_text(id, t);
    pid->point_id_options_case = QDRANT__POINT_ID__POINT_ID_OPTIONS_UUID;
    if (!(pid->uuid = strdup(t))) {
        free(pid);
        return NULL;
    }
    return pid;
}

/* The ScoredPoint of hit s; NULL with *gone when the point was deleted
 * since the search (left out, as the JSON route leaves it out), NULL
 * without it on failure. */
static Qdrant__ScoredPoint *scored_point(fast *f, const qvs_scored *s,
                                         const qj_payload_sel *wp,
                                         const qj_vector_sel *wv, bool *gone)
{
    *gone = false;
    if (wp->on || wv->all || wv->n) {
        cJSON *o = qvs_query_point_json(&f->p, s, wp, wv, gone);
        if (!o)
            return NULL;
        char msg[256];
        ProtobufCMessage *m = qvs_json_to_pb(&qdrant__scored_point__descriptor,
                                             o, msg, sizeof(msg));
        cJSON_Delete(o);
        return (Qdrant__ScoredPoint *)m;
    }
    Qdrant__ScoredPoint *sp = malloc(sizeof(*sp));
    if (!sp)
        return NULL;
    qdrant__scored_point__init(sp);
    sp->score = s->score;
    if (!(sp->id = point_id(&s->id))) {
        free(sp);
        return NULL;
    }
    return sp;
}

/* Runs one dense request (its body o, its floats) into *out / *n_out
 * (ScoredPoint messages, malloc'd); false to fall back. */
static bool run_one(fast *f, const cJSON *o, qvs_query_form form,
                    const float *vec, size_t n, Qdrant__ScoredPoint ***out,
                    size_t *n_out)
{
    qvs_scored *hits = NULL;
    size_t nh = 0, m = 0;
    qj_payload_sel wp = {0};
    qj_vector_sel wv = {0};
    Qdrant__ScoredPoint **pts = NULL;
    bool ok = false;
    if (!qvs_query_dense_page(&f->p, o, form, vec, n, &hits, &nh, &wp, &wv))
        goto done;
    if (!(pts = calloc(nh ? nh : 1, sizeof(*pts))))
        goto done;
    for (size_t i = 0; i < nh; i++) {
        bool gone = false;
        Qdrant__ScoredPoint *sp = scored_point(f, &hits[i], &wp, &wv, &gone);
        if (!sp && !gone)
            goto done;
        if (sp)
            pts[m++] = sp;
    }
    *out = pts;
    *n_out = m;
    pts = NULL;
    ok = true;
done:
    for (size_t i = 0; pts && i < m; i++)
        protobuf_c_message_free_unpacked(&pts[i]->base, NULL);
    free(pts);
    free(hits);
    qj_payload_sel_free(&wp);
    qj_vector_sel_free(&wv);
    return ok;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Packs reply into *out (malloc'd), frees it; false on ENOMEM. */
static bool pack(ProtobufCMessage *reply, uint8_t **out, size_t *out_len)
{
    size_t len = protobuf_c_message_get_packed_size(reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        protobuf_c_message_pack(reply, buf);
    protobuf_c_message_free_unpacked(reply, NULL);
    if (!buf)
        return false;
    *out = buf;
    *out_len = len;
    return true;
}

/* ---- the methods --------------------------------------------------------- */

/* A single request: Search or Query. */
static bool fast_single(qvs_server *srv, ProtobufCMessage *rq, bool query,
                        const struct timespec *t0, uint8_t **out,
                        size_t *out_len)
{
    const char *coll;
    const float *vec;
    size_t n;
    cJSON *body;
    if (query) {
        Qdrant__QueryPoints *qp = (Qdrant__QueryPoints *)rq;
        const Qdrant__DenseVector *dv = query_vector(qp);
        if (!dv)
            return false;
        coll = qp->collection_name;
        vec = dv->data;
        n = dv->n_data;
        body = query_body(qp);
    } else {
        Qdrant__SearchPoints *sp = (Qdrant__SearchPoints *)rq;
        coll = sp->collection_name;
        vec = sp->vector;
        n = sp->n_vector;
        body = search_body(sp);
    }
    if (!body)
        return false;
    fast f;
    bool ok = false;
    Qdrant__ScoredPoint **pts = NULL;
    size_t np = 0;
    if (fast_open(&f, srv, coll, body) &&
        run_one(&f, body, query ? QVS_FORM_QUERY : QVS_FORM_SEARCH, vec, n,
                &pts, &np)) {
        /* SearchResponse and QueryResponse: result, time */
        Qdrant__SearchResponse *sr = malloc(sizeof(*sr));
        Qdrant__QueryResponse *qr = malloc(sizeof(*qr));
        ProtobufCMessage *reply = NULL;
        if (query && qr) {
            qdrant__query_response__init(qr);
            qr->result = pts;
            qr->n_result = np;
            qr->time = since(t0);
            reply = &qr->base;
            qr = NULL;
        } else if (!query && sr) {
            qdrant__search_response__init(sr);
            sr->result = pts;
            sr->n_result = np;
            sr->time = since(t0);
            reply = &sr->base;
            sr = NULL;
        }
        free(sr);
        free(qr);
        if (reply) {
            pts = NULL;
            np = 0;
            ok = pack(reply, out, out_len);
        }
    }
    for (size_t i = 0; i < np; i++)
        protobuf_c_message_free_unpacked(&pts[i]->base, NULL);
    free(pts);
    fast_close(&f);
    cJSON_Delete(body);
    return ok;
}

/* A batch: SearchBatch or QueryBatch, all requests on the fast path or
 * none (the first failing request fails the whole batch in REST). */
static bool fast_batch(qvs_server *srv, ProtobufCMessage *rq, bool query,
                       const struct timespec *t0, uint8_t **out,
                       size_t *out_len)
{
    const char *coll;
    size_t nr;
    if (query) {
        Qdrant__QueryBatchPoints *b = (Qdrant__QueryBatchPoints *)rq;
        coll = b->collection_name;
        nr = b->n_query_points;
    } else {
        Qdrant__SearchBatchPoints *b = (Qdrant__SearchBatchPoints *)rq;
        coll = b->collection_name;
        nr = b->n_search_points;
    }
    if (!nr)
        return false;
    cJSON **bodies = calloc(nr, sizeof(*bodies));
    const float **vecs = calloc(nr, sizeof(*vecs));
    size_t *dims = calloc(nr, sizeof(*dims));
    Qdrant__BatchResult **res = calloc(nr, sizeof(*res));
    bool ok = false, opened = false;
    size_t done = 0;
    fast f;
    if (!bodies || !vecs || !dims || !res)
        goto out;
    for (size_t i = 0; i < nr; i++) {
        if (query) {
            Qdrant__QueryPoints *qp =
                ((Qdrant__QueryBatchPoints *)rq)->query_points[i];
            const Qdrant__DenseVector *dv = query_vector(qp);
            if (!dv)
                goto out;
            vecs[i] = dv->data;
            dims[i] = dv->n_data;
            bodies[i] = query_body(qp);
        } else {
            Qdrant__SearchPoints *sp =
                ((Qdrant__SearchBatchPoints *)rq)->search_points[i];
            vecs[i] = sp->vector;
            dims[i] = sp->n_vector;
            bodies[i] = search_body(sp);
        }
        if (!bodies[i])
            goto out;
    }
    opened = true;
    /* REST's body of a batch is {"searches": [...]}; the handler reads
     * nothing else of it, and the fast path gives no body to it. */
    if (!fast_open(&f, srv, coll, bodies[0]))
        goto out;
    for (; done < nr; done++) {
        Qdrant__BatchResult *r = malloc(sizeof(*r));
        if (!r)
            goto out;
        qdrant__batch_result__init(r);
        res[done] = r;
        if (!run_one(&f, bodies[done], query ? QVS_FORM_QUERY : QVS_FORM_SEARCH,
                     vecs[done], dims[done], &r->result, &r->n_result))
            goto out;
    }
    ProtobufCMessage *reply = NULL;
    if (query) {
        Qdrant__QueryBatchResponse *qr = malloc(sizeof(*qr));
        if (qr) {
            qdrant__query_batch_response__init(qr);
            qr->result = res;
            qr->n_result = nr;
            qr->time = since(t0);
            reply = &qr->base;
        }
    } else {
        Qdrant__SearchBatchResponse *sr = malloc(sizeof(*sr));
        if (sr) {
            qdrant__search_batch_response__init(sr);
            sr->result = res;
            sr->n_result = nr;
            sr->time = since(t0);
            reply = &sr->base;
        }
    }
    if (reply) {
        res = NULL;
        ok = pack(reply, out, out_len);
    }
out:
    if (opened)
        fast_close(&f);
    for (size_t i = 0; res && i < nr; i++)
        if (res[i])
            protobuf_c_message_free_unpacked(&res[i]->base, NULL);
    for (size_t i = 0; bodies && i < nr; i++)
        cJSON_Delete(bodies[i]);
    free(res);
    free(bodies);
    free(vecs);
    free(dims);
    return ok;
}

bool qvs_grpc_fast(qvs_server *srv, const char *path, ProtobufCMessage *rq,
                   const struct timespec *t0, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!srv || !path || !rq || !t0 || !qvs_server_grpc_direct(srv))
        return false;
    if (strcmp(path, "/qdrant.Points/Search") == 0)
        return fast_single(srv, rq, false, t0, out, out_len);
    if (strcmp(path, "/qdrant.Points/Query") == 0)
        return fast_single(srv, rq, true, t0, out, out_len);
    if (strcmp(path, "/qdrant.Points/SearchBatch") == 0)
        return fast_batch(srv, rq, false, t0, out, out_len);
    if (strcmp(path, "/qdrant.Points/QueryBatch") == 0)
        return fast_batch(srv, rq, true, t0, out, out_len);
    return false;
}
