/*
 * sparse_points.c -- sparse vectors in point requests: the SparseVector
 * JSON both ways, the library calls a sparse name needs (upsert, read,
 * search, copy) for points_*.c.
 *
 * Validation follows Qdrant's SparseVector (lib/sparse/src/common/
 * sparse_vector.rs, validate_sparse_vector_impl): lengths differ ->
 * "values: Validation error: must be the same length as indices [{}]", a
 * repeated index -> "indices: Validation error: must be unique [{}]" (the
 * validator crate's rendering of a custom error without parameters), each
 * a 422 "Validation error in JSON body: [<path>.values: ...]", the path of
 * a named vector in a point list being "points[i].vector.?" as Qdrant's
 * (tests/openapi/test_sparse_vector_validations.py).  Types are serde's:
 * indices u32, values f32 (a non-number, a negative or fractional index is a
 * 400 format error). Stored vectors come back sorted by index, as Qdrant
 * returns them.
 */
#include "sparse.h"
#include "bm25.h"
#include "qjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qvs_sparse_vec_free(qvs_sparse_vec *v)
{
    free(v->indices);
    free(v->values);
    memset(v, 0, sizeof(*v));
}

bool qvs_sparse_is_json(const cJSON *j)
{
    return cJSON_IsObject(j) &&
           (cJSON_GetObjectItemCaseSensitive(j, "indices") ||
            cJSON_GetObjectItemCaseSensitive(j, "values"));
}

static bool parse_indices(const cJSON *a, uint32_t *out, qvs_resp *r,
                          const char *where)
{
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        uint64_t u;
        if (!cJSON_IsNumber(e) || !qj_u64(e, &u) || u > UINT32_MAX)
            return qj_fail_format(r,
                                  "%s.indices[%zu]: invalid value, expected "
                                  "u32",
                                  where, i);
        out[i] = (uint32_t)u;
    }
    return true;
}

static bool parse_values(const cJSON *a, float *out, qvs_resp *r,
                         const char *where)
{
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        float f = cJSON_IsNumber(e) ? (float)e->valuedouble : NAN;
        if (!isfinite(f))
            return qj_fail_format(r,
                                  "%s.values[%zu]: invalid value, expected "
                                  "a finite f32",
                                  where, i);
        out[i] = f;
    }
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool unique(const uint32_t *idx, uint32_t n, qvs_resp *r)
{
    uint32_t *s = malloc((n ? n : 1) * sizeof(*s));
    if (!s)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    memcpy(s, idx, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_u32);
    bool ok = true;
    for (uint32_t i = 1; ok && i < n; i++)
        ok = s[i] != s[i - 1];
    free(s);
    return ok;
}

bool qvs_sparse_parse(const cJSON *j, qvs_sparse_vec *out, qvs_resp *r,
                      const char *where)
{
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected struct "
                              "SparseVector",
                              where, qj_type_name(j));
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(j, "indices");
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(j, "values");
    if (!ji)
        return qj_fail_format(r, "%s: missing field `indices`", where);
    if (!jv)
        return qj_fail_format(r, "%s: missing field `values`", where);
    if (!cJSON_IsArray(ji) || !cJSON_IsArray(jv))
        return qj_fail_format(r,
                              "%s: invalid type: indices and values must be "
                              "arrays",
                              where);
    size_t ni = (size_t)cJSON_GetArraySize(ji),
           nv = (size_t)cJSON_GetArraySize(jv);
    if (ni > QV_MAX_SPARSE_NNZ)
        return qj_fail_validation(r, "%s.indices: at most %u entries", where,
                                  (unsigned)QV_MAX_SPARSE_NNZ);
    out->indices = malloc((ni ? ni : 1) * sizeof(uint32_t));
    out->values = malloc((nv ? nv : 1) * sizeof(float));
    bool ok = out->indices && out->values;
    if (!ok)
        qvs_fail(r, 500, "Service internal error: out of memory");
    ok = ok && parse_indices(ji, out->indices, r, where) &&
         parse_values(jv, out->values, r, where);
    if (ok && ni != nv)
        ok = qj_fail_validation(r,
                                "%s.values: Validation error: must be the "
                                "same length as indices [{}]",
                                where);
    if (ok && !unique(out->indices, (uint32_t)ni, r))
        ok = r->http_status == 500
                 ? false
                 : qj_fail_validation(r,
                                      "%s.indices: Validation error: must be "
                                      "unique [{}]",
                                      where);
    if (!ok) {
        qvs_sparse_vec_free(out);
        return false;
    }
    out->nnz = (uint32_t)ni;
    return true;
}

bool qvs_sparse_is_input(const cJSON *j)
{
    return qvs_sparse_is_json(j) || qvs_bm25_is_document(j);
}

bool qvs_sparse_from_input(const cJSON *j, bool query, qvs_sparse_vec *out,
                           qvs_resp *r, const char *where)
{
    if (!qvs_bm25_is_document(j))
        return qvs_sparse_parse(j, out, r, where);
    qvs_bm25_vec v;
    if (!qvs_bm25_document(j, query, &v, r, where))
        return false;
    out->indices = v.indices;
    out->values = v.values;
    out->nnz = v.n;
    return true;
}

bool qvs_sparse_of_point(const qvs_coll *coll, const qvs_vector *v,
                         const cJSON *j, qv_point_id *id, qvs_sparse_vec *out,
                         qvs_resp *r)
{
    memset(out, 0, sizeof(*out));
    if (!qj_id(j, id, r, "query"))
        return false;
    bool there = false;
    qv_contains(coll->points, id, &there);
    char t[QV_UUID_STRLEN];
    qj_id_text(id, t);
    if (!there)
        return qj_fail_not_found(r, "No point with id %s found", t);
    qv_status st =
        qv_sparse_get(v->coll, id, &out->indices, &out->values, &out->nnz);
    if (st == QV_ENOTFOUND)
        return qj_fail_not_found(
            r, "Vector with name \"%s\" for point not found", v->name);
    return st == QV_OK || qj_fail_lib(r, v->coll, st, "reading a vector");
}

cJSON *qvs_sparse_get_json(qv_collection *c, const qv_point_id *id,
                           bool *missing, qvs_resp *r)
{
    *missing = false;
    uint32_t *idx = NULL, nnz = 0;
    float *val = NULL;
    qv_status st = qv_sparse_get(c, id, &idx, &val, &nnz);
    if (st == QV_ENOTFOUND) {
        *missing = true;
        return NULL;
    }
    if (st != QV_OK) {
        qj_fail_lib(r, c, st, "reading a sparse vector");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *ji = cJSON_AddArrayToObject(o, "indices");
    cJSON *jv = qj_floats_json(val, nnz);
    bool ok = o && ji && jv && cJSON_AddItemToObject(o, "values", jv);
    if (!ok)
        cJSON_Delete(jv);
    for (uint32_t i = 0; ok && i < nnz; i++)
        ok = cJSON_AddItemToArray(ji, cJSON_CreateNumber((double)idx[i]));
    qv_free(idx);
    qv_free(val);
    if (!ok) {
        cJSON_Delete(o);
        qvs_fail(r, 500, "Service internal error: out of memory");
        return NULL;
    }
    return o;
}

qv_status qvs_sparse_upsert(qv_collection *c, const qv_point_id *ids,
                            const qvs_sparse_vec *vecs, size_t n,
                            const char *const *texts, const size_t *lens)
{
    if (n == 0)
        return QV_OK;
    qv_sparse_vector *sv = malloc(n * sizeof(*sv));
    if (!sv)
        return QV_ENOMEM;
    for (size_t i = 0; i < n; i++)
        sv[i] =
            (qv_sparse_vector){vecs[i].indices, vecs[i].values, vecs[i].nnz};
    qv_status st = qv_sparse_upsert(c, ids, sv, n, texts, lens);
    free(sv);
    return st;
}

bool qvs_sparse_search(const qvs_vector *v, const qvs_sparse_vec *query,
                       const qv_filter *f, uint64_t want, bool exact,
                       bool has_threshold, float threshold, qv_hit **hits,
                       size_t *n_hits, qvs_resp *r)
{
    *hits = NULL;
    *n_hits = 0;
    if (want > QV_MAX_K)
        want = QV_MAX_K;
    if (want == 0)
        return true;
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = (uint32_t)want;
    sp.filter = f;
    sp.exact = exact;
    sp.use_threshold = has_threshold;
    sp.score_threshold = threshold;
    if (!(*hits = malloc(want * sizeof(**hits))))
        return qvs_fail(r, 500, "Service internal error: out of memory");
    qv_sparse_vector q = {query->indices, query->values, query->nnz};
    qv_status st = qv_sparse_search(v->coll, &q, &sp, *hits, n_hits);
    if (st != QV_OK) {
        free(*hits);
        *hits = NULL;
        return qj_fail_lib(r, v->coll, st, "searching sparse vectors");
    }
    return true;
}
