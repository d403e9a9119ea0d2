/*
 * sparse.h -- Qdrant's sparse vectors over REST (server/sparse_*.c).
 *
 *   sparse_config.c  `sparse_vectors` of CreateCollection: checked and
 *                    turned into one library collection per name
 *                    (QV_VECTOR_SPARSE), listed among the collection's
 *                    vectors with `sparse` set
 *   sparse_points.c  SparseVector JSON ({"indices", "values"}) both ways,
 *                    with Qdrant's validation messages, and the search
 *                    leaf the query paths call for a sparse `using`
 *                    (points_query.c's PK_SPARSE plans, in prefetch
 *                    trees too)
 *
 * A sparse name is a named vector like the dense ones (catalog.h): its
 * library collection holds the points that have it, with a copy of their
 * payloads, so every path that keeps the copies equal (payload edits,
 * deletes, filters) serves it unchanged; only the vector values differ.
 */
#ifndef QUIVER_SERVER_SPARSE_H
#define QUIVER_SERVER_SPARSE_H

#include "catalog.h"
#include "server.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Appends the sparse vectors of a CreateCollection body to spec (which
 * parse_vectors filled), keeping spec->v sorted by name.  Fails into r
 * with Qdrant's messages: an empty name, a name a dense vector has, a bad
 * modifier or index.  An unnamed dense vector next to sparse vectors makes
 * spec named (the dense one is vector "", catalog.h). */
bool qvs_sparse_spec_add(const cJSON *body, qvs_spec *spec, qvs_resp *r);

/* Checks the vector names of an UpdateCollection body against c: a
 * `vectors` entry must not name a sparse vector, a `sparse_vectors` entry
 * must name one of c's sparse vectors (else Qdrant's 400 "Not existing
 * vector name"), and its modifier must stay what it is (changing it is
 * not supported by this server: the library fixes it at creation).  The
 * index settings may change; they do not change answers. */
bool qvs_sparse_patch_check(const cJSON *body, const qvs_coll *c, qvs_resp *r);

/* Applies the checked `sparse_vectors` of an UpdateCollection body to the
 * config's params: each entry's modifier replaces, its index settings
 * merge into the existing ones. */
bool qvs_sparse_patch_apply(cJSON *params, const cJSON *sv, qvs_resp *r);

/* The library config of a sparse vector from its SparseVectorParams
 * (already checked). */
void qvs_sparse_lib_config(const cJSON *params, qv_collection_config *cfg);

/* Brings every sparse vector of c -- its library collection's params
 * (qv_sparse_set_params, logged) and c->vector_cfgs -- in line with
 * config's params.sparse_vectors.  Under the catalog's meta_mu.  at_open:
 * a datatype the stored values do not fit (QV_ERANGE: float16 and a value
 * beyond +-65504, possible only in storages of builds that did not apply
 * the datatype) is left as it is, with a warning on stderr, instead of
 * failing the open.  QV_OK, or the library's status with err (cap bytes)
 * naming the vector; vectors before the failing one are already
 * changed. */
qv_status qvs_sparse_sync(qvs_coll *c, const cJSON *config, bool at_open,
                          char *err, size_t cap);

/* A parsed sparse vector (owned arrays). */
typedef struct qvs_sparse_vec {
    uint32_t *indices;
    float *values;
    uint32_t nnz;
} qvs_sparse_vec;

void qvs_sparse_vec_free(qvs_sparse_vec *v);

/* True when j looks like a SparseVector (an object with "indices" or
 * "values"). */
bool qvs_sparse_is_json(const cJSON *j);

/* Parses j ({"indices": [u32...], "values": [f32...]}) into *out, named
 * where in messages: a format error (400) for wrong types, Qdrant's
 * validation error (422) for unequal lengths or repeated indices. */
bool qvs_sparse_parse(const cJSON *j, qvs_sparse_vec *out, qvs_resp *r,
                      const char *where);

/* A sparse vector given as JSON: a SparseVector, or a Document of the
 * built-in model qdrant/bm25 (server/bm25.h) embedded as a query (query)
 * or a stored document.  Fails into r as qvs_sparse_parse and
 * qvs_bm25_document. */
bool qvs_sparse_from_input(const cJSON *j, bool query, qvs_sparse_vec *out,
                           qvs_resp *r, const char *where);

/* The sparse vector v of the point whose id is j (a query "by id"), into
 * *out, the id into *id.  404 "No point with id X found" when coll lacks
 * the point, 404 "Vector with name ... for point not found" when it lacks
 * the vector (Qdrant's messages); a malformed id is a format error. */
bool qvs_sparse_of_point(const qvs_coll *coll, const qvs_vector *v,
                         const cJSON *j, qv_point_id *id, qvs_sparse_vec *out,
                         qvs_resp *r);

/* True when j is a sparse input: a SparseVector or a Document. */
bool qvs_sparse_is_input(const cJSON *j);

/* Point id's vector in the sparse collection c as {"indices","values"};
 * NULL with *missing when the point lacks it, NULL with r set on error. */
cJSON *qvs_sparse_get_json(qv_collection *c, const qv_point_id *id,
                           bool *missing, qvs_resp *r);

/* Upserts the n parsed vectors of ids (with payload texts as
 * qv_upsert_with_payloads) into the sparse collection c.  Returns the
 * library status (c's message says why). */
qv_status qvs_sparse_upsert(qv_collection *c, const qv_point_id *ids,
                            const qvs_sparse_vec *vecs, size_t n,
                            const char *const *texts, const size_t *lens);

/* The search leaf for a sparse `using`: up to want hits of query in v's
 * collection, best first, filtered by f (may be NULL), with an optional
 * score threshold (keep score >= threshold).  *hits is malloc'd.  False
 * with r set on failure. */
bool qvs_sparse_search(const qvs_vector *v, const qvs_sparse_vec *query,
                       const qv_filter *f, uint64_t want, bool exact,
                       bool has_threshold, float threshold, qv_hit **hits,
                       size_t *n_hits, qvs_resp *r);

#endif /* QUIVER_SERVER_SPARSE_H */
