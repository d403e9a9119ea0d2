/*
 * points.h -- Qdrant's point-level endpoints (/collections/{c}/points...).
 *
 * Files:
 *   points_common.c  the route table, opening a collection, `wait`,
 *                    UpdateResult, records (id + payload + vectors), point
 *                    selectors (ids or filter) and the list of library
 *                    collections a point lives in
 *   points_write.c   upsert, delete, set/overwrite/delete/clear payload,
 *                    update/delete vectors, the /points/batch operations
 *   points_read.c    retrieve (POST /points, GET /points/{id}), scroll,
 *                    count
 *   points_query.c   query, query/batch and the legacy search,
 *                    search/batch, recommend, recommend/batch, discover,
 *                    discover/batch; prefetch
 *                    trees (fusion and formulas: query.h)
 *   points_groups.c  search/groups, recommend/groups, query/groups
 *   qjson.c          JSON <-> library values (qjson.h)
 *   multivec.c       multivector values: [[...]] matrices, MaxSim queries
 *                    (multivec.h)
 *
 * Data model (catalog.h): a collection with one unnamed vector is one
 * library collection; a collection with named vectors is a registry
 * collection holding every point and its payload plus one library
 * collection per vector name holding the points that have that vector,
 * each with a copy of the point's payload.  Every write here keeps the
 * copies equal: it changes the registry first (which validates payloads,
 * all or nothing), then the vector collections.
 *
 * Locking: every write handler holds coll->write_mu from its first check
 * ("does point 3 exist?") to its last change, so checks and changes of two
 * writers never interleave and the copies of a named collection stay
 * equal.  Readers take no server lock; each library call is consistent on
 * its own, and a point deleted between two calls of a read is skipped.
 *
 * Validation comes before change: a request with one bad point, id, vector
 * or filter is refused as a whole and changes nothing.
 */
#ifndef QUIVER_SERVER_POINTS_H
#define QUIVER_SERVER_POINTS_H

#include "api.h"
#include "catalog.h"
#include "qjson.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- what the router and the lead wire ----------------------------------- */

/* The point endpoints, for the router. */
extern const qvs_route qvs_points_routes[];
extern const size_t qvs_points_routes_n;

/* The next operation id of the server that owns cat: increasing, starting
 * at 1, unique across the server's collections (UpdateResult.operation_id).
 * Thread-safe.  Implemented by catalog.c (an atomic counter in the
 * catalog); the unit tests provide their own. */
uint64_t qvs_catalog_next_op_id(qvs_catalog *cat);

/* ---- the handlers (exported for the unit tests) -------------------------- */

void qvs_points_upsert(const qvs_req *req, qvs_resp *resp);
void qvs_points_delete(const qvs_req *req, qvs_resp *resp);
void qvs_points_set_payload(const qvs_req *req, qvs_resp *resp);
void qvs_points_overwrite_payload(const qvs_req *req, qvs_resp *resp);
void qvs_points_delete_payload(const qvs_req *req, qvs_resp *resp);
void qvs_points_clear_payload(const qvs_req *req, qvs_resp *resp);
void qvs_points_update_vectors(const qvs_req *req, qvs_resp *resp);
void qvs_points_delete_vectors(const qvs_req *req, qvs_resp *resp);
void qvs_points_batch(const qvs_req *req, qvs_resp *resp);

void qvs_points_retrieve(const qvs_req *req, qvs_resp *resp);
void qvs_points_get(const qvs_req *req, qvs_resp *resp);
void qvs_points_scroll(const qvs_req *req, qvs_resp *resp);
void qvs_points_count(const qvs_req *req, qvs_resp *resp);

void qvs_points_query(const qvs_req *req, qvs_resp *resp);
void qvs_points_query_batch(const qvs_req *req, qvs_resp *resp);
void qvs_points_search(const qvs_req *req, qvs_resp *resp);
void qvs_points_search_batch(const qvs_req *req, qvs_resp *resp);
void qvs_points_recommend(const qvs_req *req, qvs_resp *resp);
void qvs_points_recommend_batch(const qvs_req *req, qvs_resp *resp);
void qvs_points_discover(const qvs_req *req, qvs_resp *resp);
void qvs_points_discover_batch(const qvs_req *req, qvs_resp *resp);

void qvs_points_search_groups(const qvs_req *req, qvs_resp *resp);
void qvs_points_recommend_groups(const qvs_req *req, qvs_resp *resp);
void qvs_points_query_groups(const qvs_req *req, qvs_resp *resp);

/* ---- shared by the points_*.c files (points_common.c) -------------------- */

/* One request on one collection. */
typedef struct qvs_call {
    const qvs_req *req;
    qvs_resp *resp;
    qvs_coll *coll;    /* the collection of req->params[0], referenced */
    const cJSON *body; /* the body object; NULL when the request had none */
    bool in_group;     /* the request runs inside a library atomic group
                          (points_write.c, group_begin) */
    const char *vpath; /* prefix of validation paths: "internal." inside
                          the root of POST /points/query (Qdrant's
                          flattened QueryRequestInternal), else NULL */
} qvs_call;

/* Opens the collection named by the first path parameter (404 with
 * Qdrant's message if there is none) and checks the body: an object, or
 * absent when !need_body.  On failure the reply is set and nothing is
 * held.  A successful open is paired with qvs_call_close. */
bool qvs_call_open(qvs_call *p, const qvs_req *req, qvs_resp *resp,
                   bool need_body);
void qvs_call_close(qvs_call *p);

/* Reads the `wait` query parameter (absent: false). */
bool qvs_call_wait(qvs_call *p, bool *wait);

/* Sets the reply's result; a NULL result (out of memory) becomes a 500. */
void qvs_call_result(qvs_call *p, cJSON *result);

/* The vector called name, or Qdrant's "Not existing vector name" error. */
const qvs_vector *qvs_call_vector(qvs_call *p, const char *name);

/* Checks that every name a with_vector list asks for exists. */
bool qvs_call_check_vector_sel(qvs_call *p, const qj_vector_sel *wv);

/* The distinct library collections of coll: the registry (or the one
 * collection) first, then each named vector's.  out has room for
 * coll->n_vectors + 1 entries; returns their number. */
size_t qvs_call_libcolls(const qvs_coll *coll, qv_collection **out);

/* The Record of point id: {"id", "payload"?, "vector"?}.  Returns NULL
 * either on an error (reply set) or, with *gone true, when the point no
 * longer exists (deleted by a concurrent writer). */
cJSON *qvs_call_record(qvs_call *p, const qv_point_id *id,
                       const qj_payload_sel *wp, const qj_vector_sel *wv,
                       bool *gone);

/* Adds "payload" and "vector" members to obj for point id as the
 * selections ask.  Same return convention as qvs_call_record. */
bool qvs_call_add_payload_vector(qvs_call *p, cJSON *obj, const qv_point_id *id,
                                 const qj_payload_sel *wp,
                                 const qj_vector_sel *wv, bool *gone);

/* Compiles a filter like qj_filter, first answering has_vector conditions,
 * which the library leaves to its caller: {"has_vector": name} becomes
 * {"has_id": [every point that has that vector]}. */
bool qvs_call_filter(qvs_call *p, const cJSON *j, qv_filter **out,
                     const char *where);

/* Every point of c matching f (NULL: all), in id order, as a new array
 * (free) -- pages through qv_scroll. */
bool qvs_call_scroll_all(qvs_call *p, qv_collection *c, const qv_filter *f,
                         qv_point_id **ids, size_t *n);

/* 404 "No point with id X found" for the first of ids the collection
 * does not hold. */
bool qvs_call_require_points(qvs_call *p, const qv_point_id *ids, size_t n);

/* The points an operation body selects by "points" (ids) and/or "filter".
 * With neither, fails with a format error whose text is none_msg.  With
 * must_exist, a listed id the collection lacks is a 404.  *ids is a new
 * array (free); ids may repeat. */
bool qvs_call_selector(qvs_call *p, const cJSON *obj, const char *none_msg,
                       bool must_exist, qv_point_id **ids, size_t *n);

/* next[i] = the next position after i holding the same id, or SIZE_MAX
 * when ids[i] is its id's last occurrence. */
bool qvs_call_next_same(qvs_call *p, const qv_point_id *ids, size_t n,
                        size_t *next);

/* dup[i] = true for every ids[i] that also appears at another position
 * and is not the one to keep: the first occurrence (keep_last false) or
 * the last (keep_last true). */
bool qvs_call_mark_dups(qvs_call *p, const qv_point_id *ids, size_t n,
                        bool keep_last, bool *dup);

/* order_by (a key, or {key, direction, start_from} with a number or an
 * RFC 3339 date-time) into *o, whose key points into j.  False (reply set)
 * when malformed. */
bool qvs_call_order_by_parse(qvs_call *p, const cJSON *j, qv_order_by *o);

/* Up to limit (id, value) pairs in o's order over the points matching f,
 * the values exact (qv_scroll_order_by_exact); *ids and *vals are
 * malloc'd.  False (reply set: 400 with the library's message when the
 * key has no range index) on failure. */
bool qvs_call_order_by_run(qvs_call *p, const qv_order_by *o,
                           const qv_filter *f, size_t limit, qv_point_id **ids,
                           qv_number **vals, size_t *n);

/* An order_value as Qdrant prints its OrderValue: an integer as its digits
 * (a u64 too), a double as qj_double_json does.  NULL on ENOMEM. */
cJSON *qvs_order_value_json(const qv_number *v);

#endif /* QUIVER_SERVER_POINTS_H */
