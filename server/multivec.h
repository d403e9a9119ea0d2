/*
 * multivec.h -- multivector named (or unnamed) vectors over REST
 * (server/multivec.c): what the point endpoints call where a vector may be
 * a matrix.
 *
 * A vector created with `multivector_config: {"comparator": "max_sim"}`
 * is a library collection created with QV_MULTIVECTOR_MAX_SIM
 * (catalog_config.c); its points hold matrices, written and read as
 * [[...], [...]] and searched by MaxSim (quiver.h, "Multivectors").  The
 * write, read and query paths of points_*.c call these functions where
 * they would handle one dense vector, and keep everything else (ids,
 * payloads, filters, named-vector bookkeeping) as it is.
 */
#ifndef QUIVER_SERVER_MULTIVEC_H
#define QUIVER_SERVER_MULTIVEC_H

#include "api.h"
#include "catalog.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when v holds multivectors. */
bool qvs_mv_is_multi(const qvs_vector *v);

/* The matrices of one vector name in an upsert, packed for
 * qv_multi_upsert_batch: counts[i] rows of the point i, rows one after
 * another. */
typedef struct qvs_mv_column {
    float *rows;
    size_t n_floats, cap_floats;
    uint32_t *counts;
    size_t n, cap;
} qvs_mv_column;

void qvs_mv_column_free(qvs_mv_column *col);

/* Parses j, a value given for multivector v, with Qdrant's errors (a plain
 * vector: "Conversion between multi and regular vectors failed"; an empty
 * matrix or rows of different lengths: 422; a row of another dimension
 * than v's: "Vector dimension error"); appends the matrix to col unless
 * col is NULL (validation only).  where names the value in messages. */
bool qvs_mv_parse(const qvs_vector *v, const cJSON *j, qvs_mv_column *col,
                  qvs_resp *r, const char *where);

/* The error of a matrix given for a dense vector v, when j is one (true:
 * the reply is set); false when j is no matrix. */
bool qvs_mv_refuse_matrix(const cJSON *j, qvs_resp *r);

/* Upserts m points into v's library collection: dense vectors (vecs, m *
 * v->size floats) or, for a multivector, the matrices of col.  texts NULL
 * keeps the points' payloads.  Returns the library's status. */
qv_status qvs_mv_upsert(const qvs_vector *v, const qv_point_id *ids, size_t m,
                        const float *vecs, const qvs_mv_column *col,
                        const char *const *texts, const size_t *lens);

/* Point id's matrix in v as [[...], ...]; NULL with *missing when the point
 * has no such vector, NULL with the reply set on another failure. */
cJSON *qvs_mv_json(qvs_resp *r, const qvs_vector *v, const qv_point_id *id,
                   bool *missing);

/* A query for multivector v: a matrix, or one vector (a matrix of one row,
 * as Qdrant converts a dense query for a multivector).  *rows (malloc'd,
 * the caller frees) gets *n_rows rows of v->size floats. */
bool qvs_mv_query(const qvs_vector *v, const cJSON *j, float **rows,
                  uint32_t *n_rows, qvs_resp *r, const char *where);

/* The leaf search of the query path: a dense query (n_rows 0: one vector
 * of v->size floats) through qv_search, or an n_rows matrix through
 * qv_multi_search. */
qv_status qvs_mv_search(const qvs_vector *v, const float *query,
                        uint32_t n_rows, const qv_search_params *sp,
                        qv_hit *hits, size_t *n_hits);

/* Copies every point of multivector collection src (matrices of dim
 * floats, payloads) into dst, point after point: a snapshot restore's
 * copy (catalog.c) for a multivector member. */
qv_status qvs_mv_copy_points(qv_collection *src, qv_collection *dst,
                             uint32_t dim);

#endif /* QUIVER_SERVER_MULTIVEC_H */
