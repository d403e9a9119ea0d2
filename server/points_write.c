/*
 * points_write.c -- the point endpoints that change a collection: upsert,
 * delete, set/overwrite/delete/clear payload, update/delete vectors and the
 * /points/batch list of those operations.
 *
 * Every operation runs in three phases under coll->write_mu (points.h):
 *   1. parse and validate the whole request -- ids, vector names, vector
 *      lengths and values, payload types, filters, point existence -- into
 *      plain arrays, changing nothing;
 *   2. change the registry (or the only collection): the library checks
 *      payloads all or nothing, so a payload it refuses changes nothing;
 *   3. change the named vectors' collections.
 * After phase 1 only an allocation failure can stop a write; if one does
 * in phase 3, the reply is a 500 and the registry keeps the new state.
 *
 * Qdrant semantics kept here:
 *   - upsert replaces the whole point: payload, and in a named collection
 *     every vector (vectors the request does not give are removed);
 *     update_mode (upsert | insert_only | update_only) and update_filter
 *     (existing points are only updated when they match) are honoured;
 *     duplicate ids in one request: the last one wins;
 *   - deleting missing points is no error; every other operation on a
 *     listed id the collection lacks is 404 "No point with id X found";
 *   - set_payload merges top-level keys (or into the object at `key`) and
 *     a key set to null is removed;
 *   - update_vectors keeps the point's other vectors and its payload.
 */
#include "multivec.h"
#include "points.h"
#include "sparse.h"
#include "strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const EITHER =
    "Either list of point ids or filter must be provided";
static const char *const SELECTOR =
    "data did not match any variant of untagged enum PointsSelector";

static bool oom(qvs_call *p)
{
    return qvs_fail(p->resp, 500, "Service internal error: out of memory");
}

/* The member key of obj; NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(j) ? NULL : j;
}

/* ---- parsed points ------------------------------------------------------- */

/* Points of an upsert or update_vectors request: ids, the JSON vector of
 * each (point, vector name) pair (NULL: not given) and payloads. */
typedef struct pset {
    size_t n;
    size_t nv;              /* coll->n_vectors */
    qv_point_id *ids;       /* n */
    const cJSON **vecs;     /* n * nv */
    const cJSON **payloads; /* n; NULL: none ({}) */
    bool batch;             /* came in the column ("batch") form */
} pset;

static void pset_free(pset *s)
{
    free(s->ids);
    free(s->vecs);
    free(s->payloads);
    memset(s, 0, sizeof(*s));
}

static bool pset_alloc(qvs_call *p, pset *s, size_t n)
{
    s->n = n;
    s->nv = p->coll->n_vectors;
    s->ids = calloc(n ? n : 1, sizeof(*s->ids));
    s->vecs = calloc(n * s->nv + 1, sizeof(*s->vecs));
    s->payloads = calloc(n ? n : 1, sizeof(*s->payloads));
    if (!s->ids || !s->vecs || !s->payloads)
        return oom(p);
    return true;
}

/* Index of vector name in coll->vectors, or Qdrant's error. */
static bool vector_index(qvs_call *p, const char *name, size_t *k)
{
    const qvs_vector *v = qvs_call_vector(p, name);
    if (!v)
        return false;
    *k = (size_t)(v - p->coll->vectors);
    return true;
}

/* Sorts one point's "vector" value into its slots (nv entries). */
static bool assign_vectors(qvs_call *p, const cJSON *v, const cJSON **slots,
                           const char *where)
{
    size_t k;
    if (cJSON_IsArray(v)) {
        /* A plain vector is the unnamed one (name ""). */
        if (!vector_index(p, "", &k))
            return false;
        slots[k] = v;
        return true;
    }
    if (!cJSON_IsObject(v))
        return qj_fail_format(p->resp,
                              "%s: invalid type: %s, expected a vector or "
                              "an object of named vectors",
                              where, qj_type_name(v));
    for (const cJSON *m = v->child; m; m = m->next) {
        if (!vector_index(p, m->string, &k))
            return false;
        if (!cJSON_IsNull(m))
            slots[k] = m;
    }
    return true;
}

/* {"points": [{"id", "vector", "payload"?}, ...]} */
static bool parse_point_list(qvs_call *p, const cJSON *arr, bool payloads,
                             pset *s)
{
    if (!cJSON_IsArray(arr))
        return qj_fail_format(p->resp,
                              "points: invalid type: %s, expected a list of "
                              "points",
                              qj_type_name(arr));
    if (!pset_alloc(p, s, (size_t)cJSON_GetArraySize(arr)))
        return false;
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char at[96];
        snprintf(at, sizeof(at), "points[%zu]", i);
        if (!cJSON_IsObject(e))
            return qj_fail_format(p->resp,
                                  "%s: invalid type: %s, expected a point "
                                  "object",
                                  at, qj_type_name(e));
        if (!qj_no_duplicate_fields(e, p->resp, at))
            return false;
        const cJSON *id = member(e, "id"), *vec = member(e, "vector");
        if (!id)
            return qj_fail_format(p->resp, "%s: missing field `id`", at);
        if (!vec)
            return qj_fail_format(p->resp, "%s: missing field `vector`", at);
        char w[128];
        snprintf(w, sizeof(w), "%s.id", at);
        if (!qj_id(id, &s->ids[i], p->resp, w))
            return false;
        snprintf(w, sizeof(w), "%s.vector", at);
        if (!assign_vectors(p, vec, s->vecs + i * s->nv, w))
            return false;
        const cJSON *pl = payloads ? member(e, "payload") : NULL;
        if (pl && !cJSON_IsObject(pl))
            return qj_fail_format(p->resp,
                                  "%s.payload: invalid type: %s, expected a "
                                  "map",
                                  at, qj_type_name(pl));
        s->payloads[i] = pl;
    }
    return true;
}

/* {"batch": {"ids": [...], "vectors": [[...]] | {name: [[...]]},
 *            "payloads"?: [...]}} */
static bool parse_batch(qvs_call *p, const cJSON *b, pset *s)
{
    if (!cJSON_IsObject(b))
        return qj_fail_format(p->resp,
                              "batch: invalid type: %s, expected a batch "
                              "object",
                              qj_type_name(b));
    const cJSON *jids = member(b, "ids"), *jvecs = member(b, "vectors");
    const cJSON *jpl = member(b, "payloads");
    if (!jids)
        return qj_fail_format(p->resp, "batch: missing field `ids`");
    if (!jvecs)
        return qj_fail_format(p->resp, "batch: missing field `vectors`");
    qv_point_id *ids = NULL;
    size_t n = 0;
    if (!qj_id_list(jids, &ids, &n, p->resp, "batch.ids"))
        return false;
    bool ok = pset_alloc(p, s, n);
    if (ok && n)
        memcpy(s->ids, ids, n * sizeof(*ids));
    free(ids);
    if (!ok)
        return false;
    s->batch = true;
    size_t k;
    if (cJSON_IsArray(jvecs)) {
        if (!vector_index(p, "", &k))
            return false;
        if ((size_t)cJSON_GetArraySize(jvecs) != n)
            return qj_fail_input(p->resp,
                                 "Number of ids (%zu) does not match the "
                                 "number of vectors (%d)",
                                 n, cJSON_GetArraySize(jvecs));
        size_t i = 0;
        for (const cJSON *e = jvecs->child; e; e = e->next, i++)
            s->vecs[i * s->nv + k] = e;
    } else if (cJSON_IsObject(jvecs)) {
        for (const cJSON *m = jvecs->child; m; m = m->next) {
            if (!vector_index(p, m->string, &k))
                return false;
            if (!cJSON_IsArray(m))
                return qj_fail_format(p->resp,
                                      "batch.vectors.%s: invalid type: %s, "
                                      "expected a list of vectors",
                                      m->string, qj_type_name(m));
            if ((size_t)cJSON_GetArraySize(m) != n)
                return qj_fail_input(p->resp,
                                     "Number of ids (%zu) does not match the "
                                     "number of vectors (%d) for vector %s",
                                     n, cJSON_GetArraySize(m), m->string);
            size_t i = 0;
            for (const cJSON *e = m->child; e; e = e->next, i++)
                if (!cJSON_IsNull(e))
                    s->vecs[i * s->nv + k] = e;
        }
    } else {
        return qj_fail_format(p->resp,
                              "batch.vectors: invalid type: %s, expected a "
                              "list of vectors or an object of named lists",
                              qj_type_name(jvecs));
    }
    if (jpl) {
        if (!cJSON_IsArray(jpl))
            return qj_fail_format(p->resp,
                                  "batch.payloads: invalid type: %s, "
                                  "expected a list of payloads",
                                  qj_type_name(jpl));
        if ((size_t)cJSON_GetArraySize(jpl) != n)
            return qj_fail_input(p->resp,
                                 "Number of ids (%zu) does not match the "
                                 "number of payloads (%d)",
                                 n, cJSON_GetArraySize(jpl));
        size_t i = 0;
        for (const cJSON *e = jpl->child; e; e = e->next, i++) {
            if (cJSON_IsNull(e))
                continue;
            if (!cJSON_IsObject(e))
                return qj_fail_format(p->resp,
                                      "batch.payloads[%zu]: invalid type: "
                                      "%s, expected a map",
                                      i, qj_type_name(e));
            s->payloads[i] = e;
        }
    }
    return true;
}

/* Where vector (i, k) came from, for messages. */
static void vec_where(const qvs_call *p, const pset *s, size_t i, size_t k,
                      char *buf, size_t cap)
{
    const char *name = p->coll->vectors[k].name;
    bool named = p->coll->named && name[0]; /* "": the unnamed one */
    if (s->batch && named)
        snprintf(buf, cap, "batch.vectors.%s[%zu]", name, i);
    else if (s->batch)
        snprintf(buf, cap, "batch.vectors[%zu]", i);
    else if (named)
        snprintf(buf, cap, "points[%zu].vector.%s", i, name);
    else
        snprintf(buf, cap, "points[%zu].vector", i);
}

/* The vectors of one name, packed for a library batch call. */
typedef struct column {
    size_t m;               /* points that have this vector (and are kept) */
    qv_point_id *ids;       /* m */
    float *vecs;            /* m * dim (a dense vector) */
    size_t *rows;           /* m: the point index each row came from */
    qvs_sparse_vec *sparse; /* m, for a sparse name (vecs then unused) */
    bool multi;             /* a multivector: the matrices are in mv */
    bool half;              /* float16 storage under a metric that does not
                               normalise first: components must fit a half */
    qvs_mv_column mv;
} column;

static void columns_free(column *cols, size_t nv)
{
    if (!cols)
        return;
    for (size_t k = 0; k < nv; k++) {
        free(cols[k].ids);
        free(cols[k].vecs);
        free(cols[k].rows);
        for (size_t r = 0; cols[k].sparse && r < cols[k].m; r++)
            qvs_sparse_vec_free(&cols[k].sparse[r]);
        free(cols[k].sparse);
        qvs_mv_column_free(&cols[k].mv);
    }
    free(cols);
}

/* Writes a column into its vector's library collection, each row with
 * the payload texts[r] (a named vector's collection keeps a copy). */
static qv_status column_upsert(const qvs_vector *v, const column *col,
                               const char *const *texts, const size_t *lens)
{
    if (v->sparse)
        return qvs_sparse_upsert(v->coll, col->ids, col->sparse, col->m, texts,
                                 lens);
    return qvs_mv_upsert(v, col->ids, col->m, col->vecs,
                         col->multi ? &col->mv : NULL, texts, lens);
}

/* Parses one given vector j of name k into row dst (dense) or *sv
 * (sparse), with where in messages. */
static bool parse_one(qvs_call *p, size_t k, const cJSON *j, float *dst,
                      qvs_sparse_vec *sv, const char *where)
{
    const qvs_vector *v = &p->coll->vectors[k];
    /* A dense vector (or matrix) for a sparse name parses in Qdrant (its
     * Vector is an untagged enum) and fails at the segment: WrongSparse,
     * 400 "Conversion between sparse and regular vectors failed"
     * (lib/collection/src/operations/types.rs, From<OperationError>), the
     * same answer as a sparse vector for a dense name below. */
    if (v->sparse && cJSON_IsArray(j))
        return qj_fail_input(p->resp,
                             "Conversion between sparse and regular vectors "
                             "failed");
    if (v->sparse) {
        /* Qdrant's validator names the value of a point's map of named
         * vectors "?" (the key unnamed): "points[i].vector.?.values". */
        char vw[64];
        unsigned long pi;
        if (p->coll->named && v->name[0] &&
            sscanf(where, "points[%lu]", &pi) == 1) {
            snprintf(vw, sizeof(vw), "points[%lu].vector.?", pi);
            where = vw;
        }
        return qvs_sparse_from_input(j, false, sv, p->resp, where);
    }
    if (qvs_sparse_is_json(j))
        return qj_fail_input(p->resp,
                             "Conversion between sparse and regular vectors "
                             "failed");
    /* Components must be finite (qj_vector); a squared norm past float's
     * range is stored, as Qdrant does (core/collection.c). */
    return qj_vector(j, dst, v->size, p->resp, where);
}

/* The library refuses a float16 component that would round to infinity
 * (qv_upsert: QV_ERANGE, core/collection.c).  A named collection writes its
 * vectors in phase 3, after the registry, so that refusal must come here,
 * in phase 1, or the registry would keep a point the request reports as
 * failed.  The bound is the library's: 65520, halfway between the largest
 * half and 2^16, rounds to infinity. */
static bool halves_fit(qvs_call *p, const float *x, size_t n, const char *where)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] < 65520.0f && x[i] > -65520.0f))
            return qj_fail_input(p->resp,
                                 "%s: component %zu (%g) is out of the "
                                 "float16 range (+-65504)",
                                 where, i, (double)x[i]);
    return true;
}

/* Validates every given vector of s (kept or not) and packs those of the
 * kept points (keep NULL: all) into one column per vector name. */
static bool pack_columns(qvs_call *p, const pset *s, const bool *keep,
                         column **out)
{
    size_t nv = s->nv;
    column *cols = calloc(nv, sizeof(*cols));
    float *scratch = NULL;
    if (!cols)
        return oom(p);
    bool ok = false;
    uint32_t maxdim = 0;
    for (size_t k = 0; k < nv; k++) {
        const qvs_vector *v = &p->coll->vectors[k];
        if (v->size > maxdim)
            maxdim = v->size;
        size_t m = 0;
        for (size_t i = 0; i < s->n; i++)
            m += s->vecs[i * nv + k] && (!keep || keep[i]);
        cols[k].ids = malloc((m ? m : 1) * sizeof(qv_point_id));
        cols[k].vecs = malloc((m ? m : 1) * (size_t)(v->size ? v->size : 1) *
                              sizeof(float));
        cols[k].rows = malloc((m ? m : 1) * sizeof(size_t));
        if (v->sparse)
            cols[k].sparse = calloc(m ? m : 1, sizeof(qvs_sparse_vec));
        cols[k].multi = qvs_mv_is_multi(v);
        qv_collection_config vc;
        cols[k].half =
            !v->sparse && qv_collection_get_config(v->coll, &vc) == QV_OK &&
            vc.datatype == QV_DATATYPE_FLOAT16 && vc.metric != QV_METRIC_COSINE;
        if (!cols[k].ids || !cols[k].vecs || !cols[k].rows ||
            (v->sparse && !cols[k].sparse)) {
            oom(p);
            goto done;
        }
    }
    if (!(scratch = malloc((maxdim ? maxdim : 1) * sizeof(float)))) {
        oom(p);
        goto done;
    }
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < nv; k++) {
            const cJSON *j = s->vecs[i * nv + k];
            if (!j)
                continue;
            column *c = &cols[k];
            uint32_t dim = p->coll->vectors[k].size;
            bool kept = !keep || keep[i];
            float *dst = kept ? c->vecs + c->m * (size_t)dim : scratch;
            char w[160];
            vec_where(p, s, i, k, w, sizeof(w));
            if (c->multi) {
                size_t f0 = c->mv.n_floats;
                /* Qdrant's validator names a matrix in a point's map of
                 * named vectors "points[i].vector.?.data" (the map key
                 * unnamed; tests/openapi/test_multi_vector.py). */
                const char *name = p->coll->vectors[k].name;
                if (!s->batch && p->coll->named && name[0])
                    snprintf(w, sizeof(w), "points[%zu].vector.?.data", i);
                if (!qvs_mv_parse(&p->coll->vectors[k], j, kept ? &c->mv : NULL,
                                  p->resp, w))
                    goto done;
                if (c->half && kept &&
                    !halves_fit(p, c->mv.rows + f0, c->mv.n_floats - f0, w))
                    goto done;
            } else {
                if (!p->coll->vectors[k].sparse &&
                    qvs_mv_refuse_matrix(j, p->resp))
                    goto done;
                qvs_sparse_vec tmp = {0};
                qvs_sparse_vec *sv =
                    kept && c->sparse ? &c->sparse[c->m] : &tmp;
                if (!parse_one(p, k, j, dst, sv, w) ||
                    (c->half && !halves_fit(p, dst, dim, w)))
                    goto done;
                if (sv == &tmp)
                    qvs_sparse_vec_free(&tmp);
            }
            if (kept) {
                c->ids[c->m] = s->ids[i];
                c->rows[c->m] = i;
                c->m++;
            }
        }
    }
    ok = true;
done:
    free(scratch);
    if (!ok) {
        columns_free(cols, nv);
        cols = NULL;
    }
    *out = cols;
    return ok;
}

/* ---- update_mode and update_filter --------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

/* Clears keep[i] for points the request must not touch: duplicates
 * (last wins), existing points under insert_only, missing ones under
 * update_only (modes: the request may carry update_mode), existing points
 * that do not match update_filter. */
static bool choose_points(qvs_call *p, const cJSON *body, bool modes,
                          const pset *s, bool *keep)
{
    bool *dup = malloc((s->n ? s->n : 1) * sizeof(bool));
    if (!dup)
        return oom(p);
    bool ok = qvs_call_mark_dups(p, s->ids, s->n, true, dup);
    for (size_t i = 0; i < s->n; i++)
        keep[i] = !dup[i];
    free(dup);
    if (!ok)
        return false;

    const char *mode = NULL;
    if (modes && !qj_string(body, "update_mode", &mode, p->resp))
        return false;
    int m = 0; /* 0 upsert, 1 insert_only, 2 update_only */
    if (mode && strcmp(mode, "insert_only") == 0)
        m = 1;
    else if (mode && strcmp(mode, "update_only") == 0)
        m = 2;
    else if (mode && strcmp(mode, "upsert") != 0)
        return qj_fail_format(p->resp,
                              "update_mode: unknown variant `%.64s`, expected "
                              "one of `upsert`, `insert_only`, `update_only`",
                              mode);
    qv_filter *f = NULL;
    if (!qvs_call_filter(p, member(body, "update_filter"), &f, "update_filter"))
        return false;
    qv_point_id *match = NULL;
    size_t n_match = 0;
    if (f && !qvs_call_scroll_all(p, p->coll->points, f, &match, &n_match)) {
        qv_filter_free(f);
        return false;
    }
    ok = true;
    for (size_t i = 0; ok && i < s->n; i++) {
        if (!keep[i] || (m == 0 && !f))
            continue;
        bool there = false;
        qv_status st = qv_contains(p->coll->points, &s->ids[i], &there);
        if (st != QV_OK) {
            ok =
                qj_fail_lib(p->resp, p->coll->points, st, "looking up a point");
            break;
        }
        if ((m == 1 && there) || (m == 2 && !there))
            keep[i] = false;
        /* qv_scroll returns ids in id order, so match is sorted. */
        if (there && f &&
            !bsearch(&s->ids[i], match, n_match, sizeof(*match), cmp_id))
            keep[i] = false;
    }
    free(match);
    qv_filter_free(f);
    return ok;
}

/* ---- upsert -------------------------------------------------------------- */

/* The payload texts of the points rows[0..m) (NULL: {}). */
static bool payload_texts(qvs_call *p, const pset *s, const size_t *rows,
                          size_t m, char ***texts, size_t **lens)
{
    *texts = calloc(m ? m : 1, sizeof(char *));
    *lens = calloc(m ? m : 1, sizeof(size_t));
    if (!*texts || !*lens)
        return oom(p);
    for (size_t r = 0; r < m; r++) {
        const cJSON *pl = s->payloads[rows[r]];
        if (!pl)
            continue;
        if (!((*texts)[r] = qj_print(pl)))
            return oom(p);
        (*lens)[r] = strlen((*texts)[r]);
    }
    return true;
}

static void texts_free(char **texts, size_t *lens, size_t m)
{
    for (size_t r = 0; texts && r < m; r++)
        cJSON_free(texts[r]);
    free(texts);
    free(lens);
}

/* Named collections: registry first (all kept points, zero vectors, their
 * payloads), then each vector's collection, then removal of the vectors
 * the new points do not have. */
static bool upsert_named(qvs_call *p, const pset *s, const bool *keep,
                         column *cols)
{
    qvs_coll *c = p->coll;
    qv_collection_config rc;
    qv_collection_get_config(c->points, &rc);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        m += keep[i];
    size_t *rows = calloc(m ? m : 1, sizeof(size_t));
    qv_point_id *ids = malloc((m ? m : 1) * sizeof(qv_point_id));
    float *zeros = calloc((m ? m : 1) * (size_t)rc.dim, sizeof(float));
    qv_point_id *gone = malloc((m ? m : 1) * sizeof(qv_point_id));
    char **texts = NULL;
    size_t *lens = NULL;
    bool ok = false;
    if (!rows || !ids || !zeros || !gone) {
        oom(p);
        goto done;
    }
    m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (keep[i]) {
            rows[m] = i;
            ids[m++] = s->ids[i];
        }
    if (!payload_texts(p, s, rows, m, &texts, &lens))
        goto done;
    qv_status st = qv_upsert_with_payloads(c->points, ids, zeros, m, rc.dim,
                                           (const char *const *)texts, lens);
    if (st != QV_OK) {
        qj_fail_lib(p->resp, c->points, st, "upserting points");
        goto done;
    }
    for (size_t k = 0; k < c->n_vectors; k++) {
        const qvs_vector *v = &c->vectors[k];
        column *col = &cols[k];
        char **vt = malloc((col->m ? col->m : 1) * sizeof(char *));
        size_t *vl = malloc((col->m ? col->m : 1) * sizeof(size_t));
        if (!vt || !vl) {
            free(vt);
            free(vl);
            oom(p);
            goto done;
        }
        /* rows[] is ascending, so each column row's payload is found by a
         * merge walk over the kept points. */
        for (size_t r = 0, q = 0; r < col->m; r++) {
            while (rows[q] != col->rows[r])
                q++;
            vt[r] = texts[q];
            vl[r] = lens[q];
        }
        st = column_upsert(v, col, (const char *const *)vt, vl);
        free(vt);
        free(vl);
        if (st != QV_OK) {
            qj_fail_lib(p->resp, v->coll, st, "upserting vectors");
            goto done;
        }
        /* The points that lack this vector lose it: one change. */
        size_t nd = 0;
        for (size_t r = 0; r < m; r++)
            if (!s->vecs[rows[r] * s->nv + k])
                gone[nd++] = ids[r];
        st = qv_delete_batch(v->coll, gone, nd, NULL);
        if (st != QV_OK) {
            qj_fail_lib(p->resp, v->coll, st, "removing vectors");
            goto done;
        }
    }
    ok = true;
done:
    texts_free(texts, lens, m);
    free(rows);
    free(ids);
    free(zeros);
    free(gone);
    return ok;
}

static bool op_upsert(qvs_call *p, const cJSON *body)
{
    pset s = {0};
    bool *keep = NULL;
    column *cols = NULL;
    char **texts = NULL;
    size_t *lens = NULL;
    bool ok = false;
    const cJSON *batch = member(body, "batch"),
                *points = member(body, "points");
    if (batch && points) {
        /* Both forms at once is neither: Qdrant's untagged enum refuses
         * it rather than silently taking one. */
        qj_fail_format(p->resp, "data did not match any variant of untagged "
                                "enum PointInsertOperations (both `batch` and "
                                "`points` given)");
        goto done;
    }
    if (batch) {
        if (!parse_batch(p, batch, &s))
            goto done;
    } else if (points) {
        if (!parse_point_list(p, points, true, &s))
            goto done;
    } else {
        qj_fail_format(p->resp, "data did not match any variant of untagged "
                                "enum PointInsertOperations");
        goto done;
    }
    if (!(keep = malloc((s.n ? s.n : 1) * sizeof(bool)))) {
        oom(p);
        goto done;
    }
    if (!choose_points(p, body, true, &s, keep) ||
        !pack_columns(p, &s, keep, &cols))
        goto done;
    qvs_coll *c = p->coll;
    if (c->named) {
        ok = upsert_named(p, &s, keep, cols);
        goto done;
    }
    /* One unnamed vector: every kept point must carry it. */
    column *col = &cols[0];
    size_t m = 0;
    for (size_t i = 0; i < s.n; i++)
        m += keep[i];
    if (col->m != m) {
        qj_fail_input(p->resp,
                      "Vector dimension error: expected dim: %u, "
                      "got 0",
                      c->vectors[0].size);
        goto done;
    }
    if (!payload_texts(p, &s, col->rows, col->m, &texts, &lens))
        goto done;
    qv_status st = qvs_mv_upsert(&c->vectors[0], col->ids, col->m, col->vecs,
                                 col->multi ? &col->mv : NULL,
                                 (const char *const *)texts, lens);
    if (st != QV_OK) {
        qj_fail_lib(p->resp, c->points, st, "upserting points");
        goto done;
    }
    ok = true;
done:
    texts_free(texts, lens, cols ? cols[0].m : 0);
    columns_free(cols, s.nv);
    free(keep);
    pset_free(&s);
    return ok;
}

/* ---- delete -------------------------------------------------------------- */

static bool delete_ids(qvs_call *p, const qv_point_id *ids, size_t n)
{
    qv_collection **lc = malloc((p->coll->n_vectors + 1) * sizeof(*lc));
    if (!lc)
        return oom(p);
    size_t nl = qvs_call_libcolls(p->coll, lc);
    bool ok = true;
    /* One change (one log record) per library collection. */
    for (size_t j = 0; ok && j < nl; j++) {
        qv_status st = qv_delete_batch(lc[j], ids, n, NULL);
        if (st != QV_OK)
            ok = qj_fail_lib(p->resp, lc[j], st, "deleting points");
    }
    free(lc);
    return ok;
}

static bool op_delete(qvs_call *p, const cJSON *body)
{
    qv_point_id *ids = NULL;
    size_t n = 0;
    const cJSON *flt = member(body, "filter");
    if (flt && !member(body, "points") && !p->coll->named) {
        /* One library collection: let it delete by filter in one pass. */
        qv_filter *f = NULL;
        if (!qvs_call_filter(p, flt, &f, "filter"))
            return false;
        qv_status st = qv_delete_filter(p->coll->points, f, NULL);
        qv_filter_free(f);
        return st == QV_OK ||
               qj_fail_lib(p->resp, p->coll->points, st, "deleting points");
    }
    if (!qvs_call_selector(p, body, SELECTOR, false, &ids, &n))
        return false;
    bool ok = delete_ids(p, ids, n);
    free(ids);
    return ok;
}

/* ---- payload edits ------------------------------------------------------- */

/* One library payload edit (qv_payload_edit), applied to every copy of a
 * point's payload. */
typedef qv_payload_edit pe;

#define PE_SET         QV_PAYLOAD_EDIT_SET
#define PE_OVERWRITE   QV_PAYLOAD_EDIT_OVERWRITE
#define PE_DELETE_KEYS QV_PAYLOAD_EDIT_DELETE_KEYS
#define PE_CLEAR       QV_PAYLOAD_EDIT_CLEAR

/* Applies edits[0..ne) to points ids[0..n) in every library collection
 * that holds them, as one change (one log record) per collection: the
 * registry (lc[0]) holds every point; a vector collection gets only the
 * points it has. */
static bool apply_edits(qvs_call *p, qv_collection **lc, size_t nl,
                        const qv_point_id *ids, size_t n, const pe *edits,
                        size_t ne)
{
    qv_point_id *have = NULL;
    bool ok = true;
    if (nl > 1 && !(have = malloc((n ? n : 1) * sizeof(*have))))
        return oom(p);
    for (size_t j = 0; ok && j < nl; j++) {
        const qv_point_id *sel = ids;
        size_t m = n;
        qv_status st = QV_OK;
        if (j > 0) {
            m = 0;
            for (size_t i = 0; st == QV_OK && i < n; i++) {
                bool there = false;
                st = qv_contains(lc[j], &ids[i], &there);
                if (there)
                    have[m++] = ids[i];
            }
            sel = have;
        }
        if (st == QV_OK && m)
            st = qv_payload_edit_batch(lc[j], sel, m, edits, ne);
        if (st != QV_OK)
            ok = qj_fail_lib(p->resp, lc[j], st, "editing a payload");
    }
    free(have);
    return ok;
}

/* The payload of id (registry) merged with set the Qdrant way: top-level
 * keys replaced, keys set to null removed.  New text in *out. */
static bool merged_payload(qvs_call *p, const qv_point_id *id, const cJSON *set,
                           char **out)
{
    char *json = NULL;
    size_t len = 0;
    qv_status st = qv_payload_get(p->coll->points, id, NULL, &json, &len);
    if (st != QV_OK)
        return qj_fail_lib(p->resp, p->coll->points, st, "reading a payload");
    char perr[128];
    cJSON *root = qj_parse(json, len, perr, sizeof(perr));
    qv_free(json);
    if (!root)
        return oom(p);
    bool ok = true;
    for (const cJSON *m = set->child; ok && m; m = m->next) {
        if (cJSON_IsNull(m)) {
            cJSON_DeleteItemFromObjectCaseSensitive(root, m->string);
            continue;
        }
        /* A replaced key keeps its place, as the library's merge does. */
        cJSON *dup = cJSON_Duplicate(m, true);
        if (cJSON_GetObjectItemCaseSensitive(root, m->string))
            ok = dup &&
                 cJSON_ReplaceItemInObjectCaseSensitive(root, m->string, dup);
        else
            ok = dup && cJSON_AddItemToObject(root, m->string, dup);
        if (!ok)
            cJSON_Delete(dup);
    }
    *out = ok ? qj_print(root) : NULL;
    cJSON_Delete(root);
    if (!*out)
        return oom(p);
    return true;
}

/* A key path naming the top-level member name inside the object at key. */
static bool member_path(qvs_call *p, const char *key, const char *name,
                        char **out)
{
    if (strpbrk(name, "\"\\"))
        return qj_fail_bad_request(p->resp,
                                   "cannot remove payload key \"%.64s\" "
                                   "under `key`: it contains a quote or a "
                                   "backslash",
                                   name);
    size_t n = strlen(key) + strlen(name) + 4;
    if (!(*out = malloc(n)))
        return oom(p);
    snprintf(*out, n, "%s.\"%s\"", key, name);
    return true;
}

/* For set_payload without key: fills paths[] with the quoted top-level
 * names ("name") of payload's null members, so that a merge of the other
 * members followed by one key deletion gives what merged_payload gives.
 * False (the caller frees what was filled) when some name has no such
 * path, appears twice in payload (then the order of its members matters),
 * or memory runs out. */
static bool top_level_nulls(const cJSON *payload, char **paths)
{
    size_t k = 0;
    for (const cJSON *m = payload->child; m; m = m->next) {
        if (!cJSON_IsNull(m))
            continue;
        if (!m->string[0] || strpbrk(m->string, "\"\\"))
            return false;
        for (const cJSON *o = payload->child; o; o = o->next)
            if (o != m && strcmp(o->string, m->string) == 0)
                return false;
        size_t len = strlen(m->string) + 3;
        if (!(paths[k] = malloc(len)))
            return false;
        snprintf(paths[k++], len, "\"%s\"", m->string);
    }
    return true;
}

static bool group_begin(qvs_call *p, bool many, qv_group **g);
static bool group_end(qvs_call *p, qv_group *g, bool ok);

/* set_payload (overwrite false) and overwrite_payload (true). */
static bool op_set_payload(qvs_call *p, const cJSON *body, bool overwrite)
{
    const cJSON *payload = member(body, "payload");
    const char *key = NULL;
    if (!payload)
        return qj_fail_format(p->resp, "missing field `payload`");
    if (!cJSON_IsObject(payload))
        return qj_fail_format(p->resp,
                              "payload: invalid type: %s, expected a map",
                              qj_type_name(payload));
    if (!qj_string(body, "key", &key, p->resp))
        return false;
    qv_point_id *ids = NULL;
    size_t n = 0;
    if (!qvs_call_selector(p, body, EITHER, true, &ids, &n))
        return false;

    /* Split the payload into what is set and the keys set to null. */
    cJSON *set = cJSON_Duplicate(payload, true);
    char **null_paths = NULL;
    size_t n_null = 0;
    char *set_text = NULL, *merged = NULL;
    qv_collection **lc = NULL;
    bool ok = false;
    if (!set || !(null_paths = calloc((size_t)cJSON_GetArraySize(payload) + 1,
                                      sizeof(char *)))) {
        oom(p);
        goto done;
    }
    for (cJSON *m = set->child, *next; !overwrite && m; m = next) {
        next = m->next;
        if (!cJSON_IsNull(m))
            continue;
        if (key && !member_path(p, key, m->string, &null_paths[n_null]))
            goto done;
        n_null++;
        cJSON_Delete(cJSON_DetachItemViaPointer(set, m));
    }
    if (!(set_text = qj_print(set)) ||
        !(lc = malloc((p->coll->n_vectors + 1) * sizeof(*lc)))) {
        oom(p);
        goto done;
    }
    size_t nl = qvs_call_libcolls(p->coll, lc);
    size_t tl = strlen(set_text);
    const char *key_only[1] = {key};
    /* Each list is applied to all points of a library collection as one
     * change, all or nothing (qv_payload_edit_batch), registry first: a
     * payload the library refuses changes nothing. */
    pe merge = {.kind = PE_SET, .json = set_text, .len = tl, .key = key};
    pe edits[3];
    size_t ne = 0;
    if (overwrite && key) {
        /* replace the object at key: merge (the check), empty, merge */
        edits[ne++] = merge;
        edits[ne++] =
            (pe){.kind = PE_DELETE_KEYS, .keys = key_only, .n_keys = 1};
        edits[ne++] = merge;
    } else if (overwrite) {
        edits[ne++] = (pe){.kind = PE_OVERWRITE, .json = set_text, .len = tl};
    } else if (n_null && key) {
        edits[ne++] = merge;
        edits[ne++] = (pe){.kind = PE_DELETE_KEYS,
                           .keys = (const char *const *)null_paths,
                           .n_keys = n_null};
    } else if (!n_null) {
        edits[ne++] = merge;
    }
    if (!ne && top_level_nulls(payload, null_paths)) {
        /* Nulls at the top level: merge, then delete the quoted names. */
        edits[ne++] = merge;
        edits[ne++] = (pe){.kind = PE_DELETE_KEYS,
                           .keys = (const char *const *)null_paths,
                           .n_keys = n_null};
    }
    if (ne) {
        ok = apply_edits(p, lc, nl, ids, n, edits, ne);
        goto done;
    }
    /* A null member whose name cannot be written as a key path (a quote,
     * a backslash, empty, or a name given twice): merge here and overwrite
     * each point's payload, one change per point, inside an atomic group
     * (the request's own, or one opened here) so that the request stays
     * one unit across a crash. */
    qv_group *g = NULL;
    bool own_group = !p->in_group;
    if (own_group && !group_begin(p, true, &g))
        goto done;
    bool applied = true;
    for (size_t i = 0; applied && i < n; i++) {
        applied = merged_payload(p, &ids[i], payload, &merged);
        pe ow = {.kind = PE_OVERWRITE,
                 .json = merged,
                 .len = merged ? strlen(merged) : 0};
        applied = applied && apply_edits(p, lc, nl, &ids[i], 1, &ow, 1);
        cJSON_free(merged);
        merged = NULL;
    }
    ok = own_group ? group_end(p, g, applied) : applied;
done:
    for (size_t i = 0; null_paths && i < n_null; i++)
        free(null_paths[i]);
    free(null_paths);
    cJSON_Delete(set);
    cJSON_free(set_text);
    free(lc);
    free(ids);
    return ok;
}

static bool op_set(qvs_call *p, const cJSON *body)
{
    return op_set_payload(p, body, false);
}

static bool op_overwrite(qvs_call *p, const cJSON *body)
{
    return op_set_payload(p, body, true);
}

/* Applies one edit to every selected point. */
static bool edit_selected(qvs_call *p, const cJSON *body, const char *none_msg,
                          const pe *edit)
{
    qv_point_id *ids = NULL;
    size_t n = 0;
    if (!qvs_call_selector(p, body, none_msg, true, &ids, &n))
        return false;
    qv_collection **lc = malloc((p->coll->n_vectors + 1) * sizeof(*lc));
    bool ok = lc != NULL || oom(p);
    size_t nl = ok ? qvs_call_libcolls(p->coll, lc) : 0;
    if (ok)
        ok = apply_edits(p, lc, nl, ids, n, edit, 1);
    free(lc);
    free(ids);
    return ok;
}

static bool op_delete_payload(qvs_call *p, const cJSON *body)
{
    const char **keys = NULL;
    size_t n = 0;
    if (!member(body, "keys"))
        return qj_fail_format(p->resp, "missing field `keys`");
    if (!qj_string_list(body, "keys", &keys, &n, p->resp))
        return false;
    pe e = {.kind = PE_DELETE_KEYS, .keys = keys, .n_keys = n};
    bool ok = edit_selected(p, body, EITHER, &e);
    free(keys);
    return ok;
}

static bool op_clear_payload(qvs_call *p, const cJSON *body)
{
    pe e = {.kind = PE_CLEAR};
    return edit_selected(p, body, SELECTOR, &e);
}

/* ---- vectors ------------------------------------------------------------- */

/* A point listed twice in one update_vectors request gets both updates in
 * request order (Qdrant applies them one after the other): every vector an
 * occurrence names and a later one does not is carried forward, so the
 * last occurrence -- the one choose_points keeps -- holds them all. */
static bool fold_repeated_points(qvs_call *p, pset *s)
{
    size_t *next = malloc((s->n ? s->n : 1) * sizeof(*next));
    if (!next)
        return oom(p);
    bool ok = qvs_call_next_same(p, s->ids, s->n, next);
    for (size_t i = 0; ok && i < s->n; i++) {
        if (next[i] == SIZE_MAX)
            continue;
        const cJSON **from = s->vecs + i * s->nv;
        const cJSON **to = s->vecs + next[i] * s->nv;
        for (size_t k = 0; k < s->nv; k++)
            if (!to[k])
                to[k] = from[k];
    }
    free(next);
    return ok;
}

static bool op_update_vectors(qvs_call *p, const cJSON *body)
{
    const cJSON *points = member(body, "points");
    if (!points)
        return qj_fail_format(p->resp, "missing field `points`");
    if (cJSON_IsArray(points) && cJSON_GetArraySize(points) == 0)
        return qj_fail_validation(p->resp,
                                  "points: must contain at least 1 item");
    /* An empty vector map updates nothing: Qdrant's PointVectors
     * validation (lib/api/src/rest/schema.rs) answers 422. */
    int i = 0;
    for (const cJSON *pt = cJSON_IsArray(points) ? points->child : NULL; pt;
         pt = pt->next, i++) {
        const cJSON *v = cJSON_IsObject(pt) ? member(pt, "vector") : NULL;
        if (!v && cJSON_IsObject(pt))
            v = member(pt, "vectors");
        if (cJSON_IsObject(v) && !v->child)
            return qj_fail_validation(p->resp,
                                      "points[%d].vector: must specify "
                                      "vectors to update for point",
                                      i);
    }
    pset s = {0};
    bool *keep = NULL;
    column *cols = NULL;
    bool ok = false;
    if (!parse_point_list(p, points, false, &s) ||
        !qvs_call_require_points(p, s.ids, s.n))
        goto done;
    if (!(keep = malloc((s.n ? s.n : 1) * sizeof(bool)))) {
        oom(p);
        goto done;
    }
    if (!fold_repeated_points(p, &s) ||
        !choose_points(p, body, false, &s, keep) ||
        !pack_columns(p, &s, keep, &cols))
        goto done;
    qvs_coll *c = p->coll;
    if (!c->named) {
        qv_status st =
            qvs_mv_upsert(&c->vectors[0], cols[0].ids, cols[0].m, cols[0].vecs,
                          cols[0].multi ? &cols[0].mv : NULL, NULL, NULL);
        ok = st == QV_OK ||
             qj_fail_lib(p->resp, c->points, st, "updating vectors");
        goto done;
    }
    /* A vector collection keeps a copy of the payload: take it from the
     * registry for every row. */
    for (size_t k = 0; k < c->n_vectors; k++) {
        column *col = &cols[k];
        if (!col->m)
            continue;
        char **texts = calloc(col->m, sizeof(char *));
        size_t *lens = calloc(col->m, sizeof(size_t));
        qv_status st = texts && lens ? QV_OK : QV_ENOMEM;
        for (size_t r = 0; st == QV_OK && r < col->m; r++)
            st = qv_payload_get(c->points, &col->ids[r], NULL, &texts[r],
                                &lens[r]);
        if (st == QV_OK)
            st = column_upsert(&c->vectors[k], col, (const char *const *)texts,
                               lens);
        for (size_t r = 0; texts && r < col->m; r++)
            qv_free(texts[r]);
        free(texts);
        free(lens);
        if (st != QV_OK) {
            qj_fail_lib(p->resp, c->vectors[k].coll, st, "updating vectors");
            goto done;
        }
    }
    ok = true;
done:
    columns_free(cols, s.nv);
    free(keep);
    pset_free(&s);
    return ok;
}

static bool op_delete_vectors(qvs_call *p, const cJSON *body)
{
    const char **names = NULL;
    size_t nn = 0;
    qv_point_id *ids = NULL;
    size_t n = 0;
    bool ok = false;
    if (!member(body, "vector"))
        return qj_fail_format(p->resp, "missing field `vector`");
    if (!qj_string_list(body, "vector", &names, &nn, p->resp))
        return false;
    if (nn == 0) {
        qj_fail_validation(p->resp, "vector: must contain at least 1 item");
        goto done;
    }
    const qvs_vector **vs = calloc(nn, sizeof(*vs));
    if (!vs) {
        oom(p);
        goto done;
    }
    for (size_t i = 0; i < nn; i++)
        if (!(vs[i] = qvs_call_vector(p, names[i])))
            goto done_vs;
    if (!p->coll->named) {
        qj_fail_bad_request(p->resp,
                            "the collection has a single unnamed vector, "
                            "which cannot be deleted from its points");
        goto done_vs;
    }
    if (!qvs_call_selector(p, body, EITHER, true, &ids, &n))
        goto done_vs;
    ok = true;
    for (size_t k = 0; ok && k < nn; k++) {
        qv_status st = qv_delete_batch(vs[k]->coll, ids, n, NULL);
        if (st != QV_OK)
            ok = qj_fail_lib(p->resp, vs[k]->coll, st, "deleting vectors");
    }
done_vs:
    free(vs);
done:
    free(ids);
    free(names);
    return ok;
}

/* ---- handlers ------------------------------------------------------------ */

typedef bool (*write_op)(qvs_call *p, const cJSON *body);

/* Crash atomicity of one request.  Each library call is one change (one
 * log record), all or nothing; a request that makes more than one --
 * because the collection has named vectors (a registry plus one library
 * collection per vector) or because it is a /points/batch of several
 * operations -- runs inside a library atomic group (qv_group_begin), so
 * that after a kill -9 it is applied whole or not at all.  `many`: the
 * request may make several changes even in an unnamed collection. */
static bool group_begin(qvs_call *p, bool many, qv_group **g)
{
    *g = NULL;
    if (!p->coll->named && !many)
        return true;
    qv_collection **lc = malloc((p->coll->n_vectors + 1) * sizeof(*lc));
    if (!lc)
        return oom(p);
    size_t nl = qvs_call_libcolls(p->coll, lc);
    qv_status st = qv_group_begin(lc, nl, g);
    free(lc);
    p->in_group = st == QV_OK;
    return st == QV_OK || oom(p);
}

/* Ends the group; ok is the request's outcome so far. */
static bool group_end(qvs_call *p, qv_group *g, bool ok)
{
    qv_status st = qv_group_end(g);
    p->in_group = false;
    if (st == QV_OK || !ok)
        return ok;
    return qj_fail_lib(p->resp, p->coll->points, st, "committing the changes");
}

/* Opens the collection, runs op under write_mu, answers UpdateResult. */
static void run_write(const qvs_req *req, qvs_resp *resp, write_op op)
{
    qvs_call p;
    bool wait;
    if (!qvs_call_open(&p, req, resp, true))
        return;
    if (qvs_call_wait(&p, &wait)) {
        qv_group *g;
        pthread_mutex_lock(&p.coll->write_mu);
        bool ok = group_begin(&p, false, &g);
        if (ok)
            ok = group_end(&p, g, op(&p, p.body));
        pthread_mutex_unlock(&p.coll->write_mu);
        if (ok)
            qvs_call_result(
                &p,
                qj_update_result(qvs_catalog_next_op_id(req->catalog), wait));
    }
    qvs_call_close(&p);
}

void qvs_points_upsert(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_UPSERT))
        run_write(req, resp, op_upsert);
}

void qvs_points_delete(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_WRITE_FILTER))
        run_write(req, resp, op_delete);
}

void qvs_points_set_payload(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_SET_PAYLOAD))
        run_write(req, resp, op_set);
}

void qvs_points_overwrite_payload(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_SET_PAYLOAD))
        run_write(req, resp, op_overwrite);
}

void qvs_points_delete_payload(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_WRITE_FILTER))
        run_write(req, resp, op_delete_payload);
}

void qvs_points_clear_payload(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_WRITE_FILTER))
        run_write(req, resp, op_clear_payload);
}

void qvs_points_update_vectors(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_UPDATE_VECS))
        run_write(req, resp, op_update_vectors);
}

void qvs_points_delete_vectors(const qvs_req *req, qvs_resp *resp)
{
    if (qvs_strict_check(req, resp, QVS_STRICT_WRITE_FILTER))
        run_write(req, resp, op_delete_vectors);
}

/* POST /points/batch: {"operations": [{"upsert": {...}}, ...]}, applied in
 * order; the answer is one UpdateResult per operation.  As in Qdrant
 * (which logs and applies the operations one by one), an operation that
 * fails stops the batch and earlier ones stay applied; the reply is the
 * failure.  Across a crash the request is one atomic group: after a
 * restart either nothing of it is there or exactly what the server had
 * applied when it answered (every operation, or those before the failing
 * one). */
static const struct {
    const char *name;
    write_op op;
} BATCH_OPS[] = {
    {"upsert", op_upsert},
    {"delete", op_delete},
    {"set_payload", op_set},
    {"overwrite_payload", op_overwrite},
    {"delete_payload", op_delete_payload},
    {"clear_payload", op_clear_payload},
    {"update_vectors", op_update_vectors},
    {"delete_vectors", op_delete_vectors},
};

#define N_BATCH_OPS (sizeof(BATCH_OPS) / sizeof(BATCH_OPS[0]))

/* The operation function of one batch entry, with its body. */
static bool batch_entry(qvs_call *p, const cJSON *e, size_t i, write_op *op,
                        const cJSON **body)
{
    if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 1)
        return qj_fail_format(p->resp,
                              "operations[%zu]: expected an object with one "
                              "operation",
                              i);
    for (size_t k = 0; k < N_BATCH_OPS; k++)
        if (strcmp(e->child->string, BATCH_OPS[k].name) == 0) {
            if (!cJSON_IsObject(e->child))
                return qj_fail_format(p->resp,
                                      "operations[%zu].%s: invalid type: %s, "
                                      "expected an object",
                                      i, e->child->string,
                                      qj_type_name(e->child));
            *op = BATCH_OPS[k].op;
            *body = e->child;
            return true;
        }
    return qj_fail_format(p->resp,
                          "operations[%zu]: unknown variant `%.64s`, expected "
                          "one of `upsert`, `delete`, `set_payload`, "
                          "`overwrite_payload`, `delete_payload`, "
                          "`clear_payload`, `update_vectors`, "
                          "`delete_vectors`",
                          i, e->child->string);
}

void qvs_points_batch(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    bool wait;
    if (!qvs_strict_check(req, resp, QVS_STRICT_WRITE_BATCH) ||
        !qvs_call_open(&p, req, resp, true))
        return;
    const cJSON *ops = member(p.body, "operations");
    cJSON *results = NULL;
    if (!qvs_call_wait(&p, &wait))
        goto done;
    if (!ops) {
        qj_fail_format(resp, "missing field `operations`");
        goto done;
    }
    if (!cJSON_IsArray(ops)) {
        qj_fail_format(resp, "operations: invalid type: %s, expected a list",
                       qj_type_name(ops));
        goto done;
    }
    /* The shapes of all entries are checked before the first one runs. */
    size_t i = 0;
    for (const cJSON *e = ops->child; e; e = e->next, i++) {
        write_op op;
        const cJSON *body;
        if (!batch_entry(&p, e, i, &op, &body))
            goto done;
    }
    if (!(results = cJSON_CreateArray())) {
        oom(&p);
        goto done;
    }
    pthread_mutex_lock(&p.coll->write_mu);
    qv_group *g;
    bool ok = group_begin(&p, i > 1, &g);
    bool began = ok;
    i = 0;
    for (const cJSON *e = ops->child; ok && e; e = e->next, i++) {
        write_op op = NULL;
        const cJSON *body = NULL;
        ok = batch_entry(&p, e, i, &op, &body) && op(&p, body);
        cJSON *r =
            ok ? qj_update_result(qvs_catalog_next_op_id(req->catalog), wait)
               : NULL;
        if (ok && (!r || !cJSON_AddItemToArray(results, r))) {
            cJSON_Delete(r);
            ok = oom(&p);
        }
    }
    if (began)
        ok = group_end(&p, g, ok);
    pthread_mutex_unlock(&p.coll->write_mu);
    if (ok) {
        qvs_call_result(&p, results);
        results = NULL;
    }
done:
    cJSON_Delete(results);
    qvs_call_close(&p);
}
