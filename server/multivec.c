/*
 * multivec.c -- multivectors over REST (multivec.h): parsing matrices with
 * Qdrant 1.19's errors, writing, reading and searching them through the
 * library's qv_multi_* calls.
 *
 * Validation follows Qdrant's (lib/api/src/rest/validate.rs,
 * validate_multi_vector: "multi vector must not be empty", "all vectors
 * must have the same dimension, found vector with dimension N", a total
 * below 1024 * 1024 floats; then the vector's own dimension: "Vector
 * dimension error: expected dim: D, got N").  A matrix for a dense vector
 * is Qdrant's "Conversion between multi and regular vectors failed" on
 * writes; a plain vector for a multivector is a matrix of one row, on
 * writes as in queries (qdrant/qdrant#4203; Qdrant's
 * tests/openapi/test_multi_vector.py), and [] an empty dense vector,
 * refused for its dimension.
 *
 * Threads: no state of its own; each call uses the library's locking.
 */
#include "multivec.h"
#include "qjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Qdrant's MAX_MULTIVECTOR_FLATTENED_LEN. */
#define MAX_FLAT (1024u * 1024u)

bool qvs_mv_is_multi(const qvs_vector *v)
{
    qv_collection_config cfg;
    return v && qv_collection_get_config(v->coll, &cfg) == QV_OK &&
           cfg.multivector != QV_MULTIVECTOR_NONE;
}

void qvs_mv_column_free(qvs_mv_column *col)
{
    free(col->rows);
    free(col->counts);
    memset(col, 0, sizeof(*col));
}

static bool conversion_error(qvs_resp *r)
{
    return qj_fail_input(r, "Conversion between multi and regular vectors "
                            "failed");
}

bool qvs_mv_refuse_matrix(const cJSON *j, qvs_resp *r)
{
    if (!cJSON_IsArray(j) || !cJSON_IsArray(j->child))
        return false;
    conversion_error(r);
    return true;
}

/* Checks the shape of matrix j: rows, all arrays of one length. */
static bool check_shape(const cJSON *j, uint32_t *n_rows, uint32_t *len,
                        qvs_resp *r, const char *where)
{
    size_t rows = 0, first = 0, total = 0;
    for (const cJSON *row = j->child; row; row = row->next, rows++) {
        if (!cJSON_IsArray(row))
            return qj_fail_format(r,
                                  "%s[%zu]: invalid type: %s, expected a "
                                  "vector (an array of numbers)",
                                  where, rows, qj_type_name(row));
        size_t n = (size_t)cJSON_GetArraySize(row);
        if (n == 0)
            return qj_fail_validation(r, "%s: all vectors must be non-empty",
                                      where);
        if (rows == 0)
            first = n;
        else if (n != first)
            return qj_fail_validation(r,
                                      "%s: all vectors must have the same "
                                      "dimension, found vector with "
                                      "dimension %zu",
                                      where, n);
        total += n;
    }
    if (rows == 0)
        return qj_fail_validation(r, "%s: multi vector must not be empty",
                                  where);
    if (total >= MAX_FLAT)
        return qj_fail_validation(r,
                                  "%s: Total size of all vectors (%zu) must "
                                  "be less than %u",
                                  where, total, MAX_FLAT);
    if (rows > QV_MAX_MULTI_ROWS)
        return qj_fail_validation(r,
                                  "%s: a multivector has at most %u vectors "
                                  "in this server, got %zu",
                                  where, QV_MAX_MULTI_ROWS, rows);
    *n_rows = (uint32_t)rows;
    *len = (uint32_t)first;
    return true;
}

/* Reads the rows of a checked matrix into out (n_rows * dim floats). */
static bool read_rows(const cJSON *j, uint32_t dim, float *out, qvs_resp *r,
                      const char *where)
{
    size_t i = 0;
    for (const cJSON *row = j->child; row; row = row->next, i++) {
        char w[200];
        snprintf(w, sizeof(w), "%s[%zu]", where, i);
        if (!qj_vector(row, out + i * dim, dim, r, w))
            return false;
    }
    return true;
}

static bool grow(qvs_mv_column *col, size_t floats)
{
    if (col->n == col->cap) {
        size_t cap = col->cap ? col->cap * 2 : 16;
        uint32_t *c = realloc(col->counts, cap * sizeof(uint32_t));
        if (!c)
            return false;
        col->counts = c;
        col->cap = cap;
    }
    if (col->n_floats + floats > col->cap_floats) {
        size_t cap = col->cap_floats ? col->cap_floats * 2 : 1024;
        while (cap < col->n_floats + floats)
            cap *= 2;
        float *f = realloc(col->rows, cap * sizeof(float));
        if (!f)
            return false;
        col->rows = f;
        col->cap_floats = cap;
    }
    return true;
}

/* Parses matrix j of vector dimension dim into a fresh array. */
static bool parse_matrix(const cJSON *j, uint32_t dim, float **out,
                         uint32_t *n_rows, qvs_resp *r, const char *where)
{
    uint32_t len = 0;
    if (!check_shape(j, n_rows, &len, r, where))
        return false;
    if (len != dim)
        return qj_fail_input(r,
                             "Vector dimension error: expected dim: %u, got "
                             "%u",
                             dim, len);
    *out = malloc((size_t)*n_rows * dim * sizeof(float));
    if (!*out)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    if (read_rows(j, dim, *out, r, where))
        return true;
    free(*out);
    *out = NULL;
    return false;
}

bool qvs_mv_parse(const qvs_vector *v, const cJSON *j, qvs_mv_column *col,
                  qvs_resp *r, const char *where)
{
    if (!cJSON_IsArray(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a multivector "
                              "(an array of vectors)",
                              where, qj_type_name(j));
    float *rows = NULL;
    uint32_t n = 0;
    if (!j->child || !cJSON_IsArray(j->child)) {
        /* Qdrant's Vector is an untagged enum that tries a dense vector
         * first: [] is an empty dense vector, refused for its dimension,
         * and a dense vector for a multivector is stored as a matrix of one
         * row (tests/openapi/test_multi_vector.py, "emulating a multivec
         * input with a single dense vector"). */
        int len = cJSON_GetArraySize(j);
        if ((uint32_t)len != v->size)
            return qj_fail_input(r,
                                 "Vector dimension error: expected dim: %u, "
                                 "got %d",
                                 v->size, len);
        if (!(rows = malloc((size_t)v->size * sizeof(float))))
            return qvs_fail(r, 500, "Service internal error: out of memory");
        if (!qj_vector(j, rows, v->size, r, where)) {
            free(rows);
            return false;
        }
        n = 1;
    } else if (!parse_matrix(j, v->size, &rows, &n, r, where)) {
        return false;
    }
    bool ok = true;
    if (col) {
        size_t floats = (size_t)n * v->size;
        ok = grow(col, floats);
        if (ok) {
            memcpy(col->rows + col->n_floats, rows, floats * sizeof(float));
            col->n_floats += floats;
            col->counts[col->n++] = n;
        } else {
            qvs_fail(r, 500, "Service internal error: out of memory");
        }
    }
    free(rows);
    return ok;
}

qv_status qvs_mv_upsert(const qvs_vector *v, const qv_point_id *ids, size_t m,
                        const float *vecs, const qvs_mv_column *col,
                        const char *const *texts, const size_t *lens)
{
    if (!col)
        return texts ? qv_upsert_with_payloads(v->coll, ids, vecs, m, v->size,
                                               texts, lens)
                     : qv_upsert_batch(v->coll, ids, vecs, m, v->size);
    return qv_multi_upsert_batch(v->coll, ids, m, col->counts, col->rows,
                                 v->size, texts, lens);
}

cJSON *qvs_mv_json(qvs_resp *r, const qvs_vector *v, const qv_point_id *id,
                   bool *missing)
{
    *missing = false;
    uint32_t n = 0;
    qv_status st = qv_multi_get(v->coll, id, NULL, 0, &n);
    float *buf = NULL;
    /* A concurrent writer may grow the matrix between the two calls. */
    while (st == QV_OK) {
        free(buf);
        uint32_t cap = n;
        if (!(buf = malloc((size_t)cap * v->size * sizeof(float)))) {
            qvs_fail(r, 500, "Service internal error: out of memory");
            return NULL;
        }
        st = qv_multi_get(v->coll, id, buf, cap, &n);
        if (st == QV_ERANGE)
            st = QV_OK;
        else
            break;
    }
    cJSON *arr = NULL;
    if (st == QV_ENOTFOUND)
        *missing = true;
    else if (st != QV_OK)
        qj_fail_lib(r, v->coll, st, "reading a multivector");
    else if ((arr = cJSON_CreateArray()))
        for (uint32_t i = 0; i < n; i++) {
            cJSON *row = qj_floats_json(buf + (size_t)i * v->size, v->size);
            if (!row || !cJSON_AddItemToArray(arr, row)) {
                cJSON_Delete(row);
                cJSON_Delete(arr);
                arr = NULL;
                break;
            }
        }
    if (!arr && !*missing && st == QV_OK)
        qvs_fail(r, 500, "Service internal error: out of memory");
    free(buf);
    return arr;
}

bool qvs_mv_query(const qvs_vector *v, const cJSON *j, float **rows,
                  uint32_t *n_rows, qvs_resp *r, const char *where)
{
    *rows = NULL;
    *n_rows = 0;
    if (!cJSON_IsArray(j))
        return qj_fail_format(r,
                              "%s: invalid type: %s, expected a vector or a "
                              "multivector",
                              where, qj_type_name(j));
    if (j->child && cJSON_IsArray(j->child))
        return parse_matrix(j, v->size, rows, n_rows, r, where);
    if (!(*rows = malloc((size_t)v->size * sizeof(float))))
        return qvs_fail(r, 500, "Service internal error: out of memory");
    if (!qj_vector(j, *rows, v->size, r, where)) {
        free(*rows);
        *rows = NULL;
        return false;
    }
    *n_rows = 1;
    return true;
}

/* Point id's matrix into *buf (grown as needed, *cap rows). */
static qv_status get_matrix(qv_collection *c, const qv_point_id *id,
                            uint32_t dim, float **buf, uint32_t *cap,
                            uint32_t *n)
{
    for (;;) {
        qv_status st = qv_multi_get(c, id, *buf, *cap, n);
        if (st != QV_ERANGE && !(st == QV_OK && !*buf))
            return st;
        float *b = realloc(*buf, (size_t)*n * dim * sizeof(float));
        if (!b)
            return QV_ENOMEM;
        *buf = b;
        *cap = *n;
    }
}

qv_status qvs_mv_copy_points(qv_collection *src, qv_collection *dst,
                             uint32_t dim)
{
    enum { PAGE = 256 };
    qv_point_id ids[PAGE], next;
    float *rows = NULL;
    uint32_t cap = 0;
    qv_status st = QV_OK;
    bool more = true, first = true;
    while (st == QV_OK && more) {
        size_t n = 0;
        st = qv_scroll(src, first ? NULL : &next, NULL, PAGE, ids, &n, &next,
                       &more);
        first = false;
        for (size_t i = 0; st == QV_OK && i < n; i++) {
            uint32_t nr = 0;
            char *pay = NULL;
            size_t len = 0;
            st = get_matrix(src, &ids[i], dim, &rows, &cap, &nr);
            if (st == QV_OK)
                st = qv_payload_get(src, &ids[i], NULL, &pay, &len);
            if (st == QV_OK)
                st = qv_multi_upsert_batch(dst, &ids[i], 1, &nr, rows, dim,
                                           (const char *const *)&pay, &len);
            qv_free(pay);
        }
    }
    free(rows);
    return st;
}

qv_status qvs_mv_search(const qvs_vector *v, const float *query,
                        uint32_t n_rows, const qv_search_params *sp,
                        qv_hit *hits, size_t *n_hits)
{
    if (n_rows == 0)
        return qv_search(v->coll, query, v->size, sp, hits, n_hits);
    return qv_multi_search(v->coll, query, n_rows, v->size, sp, hits, n_hits);
}
