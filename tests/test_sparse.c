/*
 * test_sparse.c -- sparse collections (core/sparse/, core/sparse_api.c)
 * and their persistence.
 *
 *  1. Validation: repeated indices, non-finite values, NULLs, dense calls
 *     on a sparse collection and sparse calls on a dense one.
 *  2. Random collections with upserts, re-upserts and deletes: the
 *     inverted-index search equals the exact scan bit for bit (ids, scores,
 *     order), with and without filters (with and without a payload index),
 *     and both equal a brute-force reference written here.
 *  3. IDF: scores equal Qdrant's formula computed by hand.
 *  4. Persistence: a snapshot round trip, the WAL replayed from a crash
 *     image (the files as a killed process leaves them), a checkpoint and
 *     reopen, and the log cut at every byte of a sparse upsert record
 *     recovering to the state before or after it.
 *  5. Concurrency: searches while a writer upserts and deletes (run
 *     under ThreadSanitizer too).
 */
#include "core/sparse/sparse.h"
#include "persist/snapshot.h"
#include "persist/wal.h"
#include "tests/wal_support.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static qv_point_id num(uint64_t n)
{
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_NUM;
    id.u.num = n;
    return id;
}

static qv_collection_config sparse_cfg(uint32_t modifier, uint32_t threshold)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.kind = QV_VECTOR_SPARSE;
    cfg.sparse_modifier = modifier;
    cfg.sparse_full_scan_threshold = threshold;
    return cfg;
}

static qv_collection *new_sparse(uint32_t modifier, uint32_t threshold)
{
    qv_collection_config cfg = sparse_cfg(modifier, threshold);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random vector: up to max_nnz distinct dimensions below n_dims, skewed
 * towards small ones (Zipf-like), values in (0, 2] with some repeats so
 * that scores tie. */
typedef struct rvec {
    uint32_t idx[64];
    float val[64];
    uint32_t nnz;
} rvec;

static void random_vec(uint64_t *rng, uint32_t n_dims, uint32_t max_nnz,
                       rvec *v)
{
    v->nnz = 1 + (uint32_t)(rng_next(rng) % max_nnz);
    for (uint32_t i = 0; i < v->nnz; i++) {
        for (;;) {
            uint64_t r = rng_next(rng);
            uint32_t d = (uint32_t)((r % n_dims) * (r % n_dims) / n_dims);
            bool seen = false;
            for (uint32_t j = 0; j < i; j++)
                seen |= v->idx[j] == d;
            if (!seen) {
                v->idx[i] = d;
                break;
            }
        }
        v->val[i] = (float)(1 + rng_next(rng) % 8) / 4.0f;
    }
}

static qv_sparse_vector view(const rvec *v)
{
    return (qv_sparse_vector){v->idx, v->val, v->nnz};
}

/* ---- 1. validation ------------------------------------------------------- */

START_TEST(refuses_bad_input)
{
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_NONE, 0);
    qv_point_id id = num(1);
    uint32_t dup[] = {3, 1, 3};
    float vals[] = {1, 2, 3};
    qv_sparse_vector v = {dup, vals, 3};
    char msg[256];
    ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, NULL, NULL), QV_EINVAL);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "unique"));
    uint32_t ok[] = {1, 2, 3};
    float bad[] = {1, NAN, 3};
    v = (qv_sparse_vector){ok, bad, 3};
    ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, NULL, NULL),
                     QV_ENONFINITE);
    v = (qv_sparse_vector){NULL, vals, 3};
    ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, NULL, NULL), QV_ENULL);
    /* Dense calls refuse a sparse collection. */
    float dense[1] = {1};
    ck_assert_int_eq(qv_upsert(c, &id, dense, 1), QV_EINVAL);
    qv_hit hits[10];
    size_t n_hits;
    qv_search_params p;
    qv_search_params_init(&p);
    ck_assert_int_eq(qv_search(c, dense, 1, &p, hits, &n_hits), QV_EINVAL);
    uint64_t count = 1;
    ck_assert_int_eq(qv_count(c, &count), QV_OK);
    ck_assert_uint_eq(count, 0); /* nothing changed */
    /* A sparse call refuses a dense collection. */
    qv_collection_config dcfg;
    qv_collection_config_init(&dcfg);
    dcfg.dim = 4;
    qv_collection *d = NULL;
    ck_assert_int_eq(qv_collection_create(&dcfg, &d), QV_OK);
    v = (qv_sparse_vector){ok, vals, 3};
    ck_assert_int_eq(qv_sparse_upsert(d, &id, &v, 1, NULL, NULL), QV_EINVAL);
    ck_assert_int_eq(qv_sparse_search(d, &v, &p, hits, &n_hits), QV_EINVAL);
    /* Unknown kind and modifier. */
    qv_collection_config cfg = sparse_cfg(7, 0);
    qv_collection *e = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &e), QV_EINVAL);
    ck_assert_ptr_null(e);
    qv_collection_release(d);
    qv_collection_release(c);
}
END_TEST

START_TEST(get_returns_sorted_vector_and_payload)
{
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_NONE, 0);
    qv_point_id id = num(7);
    uint32_t idx[] = {9, 2, 5};
    float val[] = {0.5f, -1.0f, 2.0f};
    qv_sparse_vector v = {idx, val, 3};
    const char *pl[] = {"{\"a\":1}"};
    size_t lens[] = {7};
    ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, pl, lens), QV_OK);
    uint32_t *oi = NULL, nnz = 0;
    float *ov = NULL;
    ck_assert_int_eq(qv_sparse_get(c, &id, &oi, &ov, &nnz), QV_OK);
    ck_assert_uint_eq(nnz, 3);
    ck_assert_uint_eq(oi[0], 2);
    ck_assert_uint_eq(oi[1], 5);
    ck_assert_uint_eq(oi[2], 9);
    ck_assert_float_eq(ov[0], -1.0f);
    ck_assert_float_eq(ov[2], 0.5f);
    qv_free(oi);
    qv_free(ov);
    char *json = NULL;
    size_t jl;
    ck_assert_int_eq(qv_payload_get(c, &id, NULL, &json, &jl), QV_OK);
    ck_assert_str_eq(json, "{\"a\":1}");
    qv_free(json);
    /* Without payloads the point keeps its payload; an empty vector is
     * allowed and matches nothing. */
    v.nnz = 0;
    ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, NULL, NULL), QV_OK);
    ck_assert_int_eq(qv_payload_get(c, &id, NULL, &json, &jl), QV_OK);
    ck_assert_str_eq(json, "{\"a\":1}");
    qv_free(json);
    ck_assert_int_eq(qv_sparse_get(c, &id, &oi, &ov, &nnz), QV_OK);
    ck_assert_uint_eq(nnz, 0);
    uint64_t nv = 9;
    ck_assert_int_eq(qv_sparse_stats(c, &nv, NULL), QV_OK);
    ck_assert_uint_eq(nv, 0);
    qv_point_id missing = num(8);
    ck_assert_int_eq(qv_sparse_get(c, &missing, &oi, &ov, &nnz), QV_ENOTFOUND);
    qv_collection_release(c);
}
END_TEST

/* ---- 2. exact == indexed == reference ------------------------------------ */

enum { N_POINTS = 600, N_DIMS = 120, MAX_NNZ = 12 };

/* What the test believes the collection holds. */
typedef struct model {
    rvec v[N_POINTS];
    bool live[N_POINTS];
    int group[N_POINTS];
} model;

static void fill(qv_collection *c, model *m, uint64_t seed)
{
    uint64_t rng = seed;
    memset(m, 0, sizeof(*m));
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < N_POINTS; i++) {
            if (round > 0 && rng_next(&rng) % 3)
                continue;
            random_vec(&rng, N_DIMS, MAX_NNZ, &m->v[i]);
            m->group[i] = (int)(rng_next(&rng) % 5);
            m->live[i] = true;
            char pl[32];
            int len = snprintf(pl, sizeof(pl), "{\"g\":%d}", m->group[i]);
            const char *pls[] = {pl};
            size_t lens[] = {(size_t)len};
            qv_point_id id = num(i);
            qv_sparse_vector sv = view(&m->v[i]);
            ck_assert_int_eq(qv_sparse_upsert(c, &id, &sv, 1, pls, lens),
                             QV_OK);
        }
        for (uint32_t i = 0; i < N_POINTS; i++) {
            if (m->live[i] && rng_next(&rng) % 7 == 0) {
                qv_point_id id = num(i);
                ck_assert_int_eq(qv_delete(c, &id), QV_OK);
                m->live[i] = false;
            }
        }
    }
}

/* The reference: every live point sharing a dimension with q, scored by
 * a plain double dot product, best first, ties by id (which is the slot
 * order here only approximately, so ties are compared as sets below). */
typedef struct ref_hit {
    uint32_t id;
    double score;
} ref_hit;

static int cmp_ref(const void *a, const void *b)
{
    const ref_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static size_t reference(const model *m, const rvec *q, int group, ref_hit *out)
{
    size_t n = 0;
    for (uint32_t i = 0; i < N_POINTS; i++) {
        if (!m->live[i] || (group >= 0 && m->group[i] != group))
            continue;
        double s = 0;
        bool any = false;
        for (uint32_t a = 0; a < m->v[i].nnz; a++)
            for (uint32_t b = 0; b < q->nnz; b++)
                if (m->v[i].idx[a] == q->idx[b]) {
                    s += (double)m->v[i].val[a] * q->val[b];
                    any = true;
                }
        if (any)
            out[n++] = (ref_hit){i, s};
    }
    qsort(out, n, sizeof(*out), cmp_ref);
    return n;
}

static void check_queries(qv_collection *c, const model *m, uint64_t seed,
                          bool with_filter)
{
    uint64_t rng = seed;
    qv_filter *f = NULL;
    if (with_filter) {
        const char *fj = "{\"must\":[{\"key\":\"g\",\"match\":{\"value\":2}}]}";
        ck_assert_int_eq(qv_filter_parse(fj, strlen(fj), &f, NULL, 0), QV_OK);
    }
    static ref_hit ref[N_POINTS];
    for (int t = 0; t < 60; t++) {
        rvec q;
        random_vec(&rng, N_DIMS, 6, &q);
        qv_sparse_vector qv = view(&q);
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = 1 + (uint32_t)(rng_next(&rng) % 30);
        p.filter = f;
        qv_hit a[30], b[30];
        size_t na, nb;
        p.exact = false;
        ck_assert_int_eq(qv_sparse_search(c, &qv, &p, a, &na), QV_OK);
        p.exact = true;
        ck_assert_int_eq(qv_sparse_search(c, &qv, &p, b, &nb), QV_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            ck_assert_uint_eq(a[i].id.u.num, b[i].id.u.num);
            ck_assert(memcmp(&a[i].score, &b[i].score, sizeof(float)) == 0);
        }
        size_t nr = reference(m, &q, with_filter ? 2 : -1, ref);
        ck_assert_uint_eq(na, nr < p.k ? nr : p.k);
        for (size_t i = 0; i < na; i++) {
            /* Same score at each rank (ties may order differently: ours
             * by storage slot). */
            ck_assert_msg(fabs(a[i].score - ref[i].score) <= 1e-5,
                          "query %d rank %zu: %g vs %g", t, i, a[i].score,
                          ref[i].score);
            if (i == 0 || a[i].score != a[i - 1].score)
                continue;
            ck_assert(a[i].score <= a[i - 1].score);
        }
    }
    qv_filter_free(f);
}

START_TEST(indexed_equals_exact_and_reference)
{
    /* threshold 1: filtered searches use the postings too. */
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_NONE, 1);
    static model m;
    fill(c, &m, 0x1234567u + (uint64_t)_i);
    check_queries(c, &m, 99 + (uint64_t)_i, false);
    check_queries(c, &m, 199 + (uint64_t)_i, true);
    ck_assert_int_eq(qv_payload_index_create(c, "g", QV_INDEX_INTEGER), QV_OK);
    check_queries(c, &m, 299 + (uint64_t)_i, true);
    qv_collection_release(c);
}
END_TEST

/* The leaf alone: a stale index (as after an allocation failure) scans,
 * with the same answers, and a rebuild restores the postings. */
START_TEST(stale_index_scans_and_rebuilds)
{
    qvi_sparse s;
    qvi_sparse_init(&s);
    ck_assert_int_eq(qvi_sparse_reserve(&s, 8), QV_OK);
    for (uint32_t slot = 0; slot < 8; slot++) {
        uint32_t idx[] = {slot % 3, 10 + slot};
        float val[] = {1.0f + (float)slot, 0.5f};
        qvi_sparse_row r;
        ck_assert_int_eq(qvi_sparse_row_make(idx, val, 2, &r, NULL, 0), QV_OK);
        qvi_sparse_set(&s, slot, &r);
    }
    ck_assert_uint_eq(qvi_sparse_df(&s, 1), 3);
    uint32_t qi[] = {1, 12};
    float qv[] = {2.0f, 4.0f};
    qvi_sparse_row q;
    ck_assert_int_eq(qvi_sparse_row_make(qi, qv, 2, &q, NULL, 0), QV_OK);
    qvi_topk a, b;
    ck_assert_int_eq(qvi_topk_init(&a, 5), QV_OK);
    ck_assert_int_eq(qvi_topk_init(&b, 5), QV_OK);
    ck_assert_int_eq(qvi_sparse_search(&s, &q, 8, NULL, false, NULL, &a),
                     QV_OK);
    s.stale = true;
    ck_assert_uint_eq(qvi_sparse_df(&s, 1), 3); /* counted from the rows */
    ck_assert_int_eq(qvi_sparse_search(&s, &q, 8, NULL, false, NULL, &b),
                     QV_OK);
    ck_assert_uint_eq(a.n, b.n);
    ck_assert_uint_eq(a.n, 4); /* slots 1, 4, 7 share dim 1; 2 shares 12 */
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_uint_eq(a.slots[i], b.slots[i]);
        ck_assert(a.dists[i] == b.dists[i]);
    }
    ck_assert_int_eq(qvi_sparse_rebuild(&s, 8), QV_OK);
    ck_assert(!s.stale);
    qvi_sparse_clear(&s, 1);
    ck_assert_uint_eq(qvi_sparse_df(&s, 1), 2);
    qvi_topk_free(&a);
    qvi_topk_free(&b);
    qvi_sparse_row_free(&q);
    qvi_sparse_free(&s);
}
END_TEST

/* A scratch reused across searches (as the collection's pool does) gives
 * what a fresh one gives, whatever the searches before it touched and
 * whatever the number of slots (it grows when the collection does). */
START_TEST(reused_scratch_equals_fresh)
{
    enum { SLOTS = 300, QUERIES = 40 };
    qvi_sparse s;
    qvi_sparse_init(&s);
    ck_assert_int_eq(qvi_sparse_reserve(&s, SLOTS), QV_OK);
    uint64_t x = 12345;
    for (uint32_t slot = 0; slot < SLOTS; slot++) {
        uint32_t idx[4];
        float val[4];
        for (uint32_t j = 0; j < 4; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            idx[j] = j * 16 + (uint32_t)(x >> 60); /* distinct per j */
            val[j] = (float)((x >> 40) & 0xff) / 64.0f;
        }
        qvi_sparse_row r;
        ck_assert_int_eq(qvi_sparse_row_make(idx, val, 4, &r, NULL, 0), QV_OK);
        qvi_sparse_set(&s, slot, &r);
    }
    qvi_sparse_scratch sc = {0};
    for (uint32_t k = 0; k < QUERIES; k++) {
        uint32_t qi[] = {k % 16, 16 + (k * 7) % 16, 48 + k % 5};
        float qv[] = {1.0f, 0.5f + (float)k, 2.0f};
        qvi_sparse_row q;
        ck_assert_int_eq(qvi_sparse_row_make(qi, qv, 3, &q, NULL, 0), QV_OK);
        /* Fewer slots first, then all: the scratch grows midway. */
        uint32_t n = k < QUERIES / 2 ? SLOTS / 3 : SLOTS;
        qvi_topk a, b;
        ck_assert_int_eq(qvi_topk_init(&a, 10), QV_OK);
        ck_assert_int_eq(qvi_topk_init(&b, 10), QV_OK);
        ck_assert_int_eq(qvi_sparse_search(&s, &q, n, NULL, false, &sc, &a),
                         QV_OK);
        ck_assert_int_eq(qvi_sparse_search(&s, &q, n, NULL, true, NULL, &b),
                         QV_OK);
        ck_assert_uint_eq(a.n, b.n);
        ck_assert_uint_gt(a.n, 0);
        for (size_t i = 0; i < a.n; i++) {
            ck_assert_uint_eq(a.slots[i], b.slots[i]);
            ck_assert(a.dists[i] == b.dists[i]);
        }
        for (uint32_t i = 0; i < sc.cap; i++) /* zeros between searches */
            ck_assert(sc.sum[i] == 0.0 && sc.hit[i] == 0);
        qvi_topk_free(&a);
        qvi_topk_free(&b);
        qvi_sparse_row_free(&q);
    }
    ck_assert_uint_eq(sc.cap, SLOTS);
    qvi_sparse_scratch_free(&sc);
    qvi_sparse_free(&s);
}
END_TEST

/* ---- 3. IDF -------------------------------------------------------------- */

START_TEST(idf_scores_as_qdrant)
{
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_IDF, 0);
    /* Four points; dimension 1 in all four, dimension 2 in one. */
    uint32_t i1[] = {1, 2}, i2[] = {1};
    float v1[] = {1.0f, 1.0f}, v2[] = {1.0f};
    for (uint32_t k = 0; k < 4; k++) {
        qv_point_id id = num(k);
        qv_sparse_vector v = k == 0 ? (qv_sparse_vector){i1, v1, 2}
                                    : (qv_sparse_vector){i2, v2, 1};
        ck_assert_int_eq(qv_sparse_upsert(c, &id, &v, 1, NULL, NULL), QV_OK);
    }
    uint32_t qi[] = {1, 2};
    float qv[] = {1.0f, 1.0f};
    qv_sparse_vector q = {qi, qv, 2};
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit h[4];
    size_t n;
    ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
    ck_assert_uint_eq(n, 4);
    /* idf = ln((N - df + 0.5) / (df + 0.5) + 1), N = 4 */
    double idf1 = log((4 - 4 + 0.5) / (4 + 0.5) + 1);
    double idf2 = log((4 - 1 + 0.5) / (1 + 0.5) + 1);
    ck_assert_uint_eq(h[0].id.u.num, 0);
    ck_assert_double_eq_tol(h[0].score, idf1 + idf2, 1e-5);
    ck_assert_double_eq_tol(h[1].score, idf1, 1e-6);
    /* qv_sparse_idf gives the same weights (an unknown dimension: df 0),
     * and 1.0 without the modifier. */
    uint32_t wi[] = {2, 1, 9};
    float w[3] = {0};
    ck_assert_int_eq(qv_sparse_idf(c, wi, 3, w), QV_OK);
    ck_assert_double_eq_tol(w[0], idf2, 1e-6);
    ck_assert_double_eq_tol(w[1], idf1, 1e-6);
    ck_assert_double_eq_tol(w[2], log((4 + 0.5) / 0.5 + 1), 1e-5);
    ck_assert_int_eq(qv_sparse_idf(NULL, wi, 3, w), QV_ENULL);
    ck_assert_int_eq(qv_sparse_idf(c, NULL, 3, w), QV_ENULL);
    qv_collection *plain = new_sparse(QV_SPARSE_MODIFIER_NONE, 0);
    ck_assert_int_eq(qv_sparse_idf(plain, wi, 3, w), QV_OK);
    ck_assert_float_eq(w[0], 1.0f);
    ck_assert_float_eq(w[2], 1.0f);
    qv_collection_release(plain);
    qv_collection_release(c);
}
END_TEST

/* ---- 4. persistence ------------------------------------------------------ */

/* Every live point's id, vector and payload, in id order, as text. */
static char *signature(qv_collection *c)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    s[0] = 0;
    qv_point_id ids[1024];
    size_t n = 0;
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 1024, ids, &n, NULL, NULL),
                     QV_OK);
    for (size_t i = 0; i < n; i++) {
        uint32_t *idx;
        float *val;
        uint32_t nnz;
        ck_assert_int_eq(qv_sparse_get(c, &ids[i], &idx, &val, &nnz), QV_OK);
        char *pl;
        size_t pll;
        ck_assert_int_eq(qv_payload_get(c, &ids[i], NULL, &pl, &pll), QV_OK);
        char line[4096];
        int k = snprintf(line, sizeof(line),
                         "%llu %s:", (unsigned long long)ids[i].u.num, pl);
        for (uint32_t j = 0; j < nnz && k < 3900; j++)
            k += snprintf(line + k, sizeof(line) - (size_t)k, " %u=%a", idx[j],
                          (double)val[j]);
        qv_free(idx);
        qv_free(val);
        qv_free(pl);
        if (len + (size_t)k + 2 > cap) {
            cap = (cap + (size_t)k) * 2;
            s = realloc(s, cap);
            ck_assert_ptr_nonnull(s);
        }
        memcpy(s + len, line, (size_t)k);
        len += (size_t)k;
        s[len++] = '\n';
        s[len] = 0;
    }
    return s;
}

/* The hits of a few fixed queries, as text (to compare search state). */
static char *search_signature(qv_collection *c)
{
    char *s = calloc(1, 1 << 16);
    size_t len = 0;
    uint64_t rng = 5;
    for (int t = 0; t < 10; t++) {
        rvec q;
        random_vec(&rng, N_DIMS, 6, &q);
        qv_sparse_vector qv = view(&q);
        qv_search_params p;
        qv_search_params_init(&p);
        qv_hit h[10];
        size_t n;
        ck_assert_int_eq(qv_sparse_search(c, &qv, &p, h, &n), QV_OK);
        for (size_t i = 0; i < n; i++)
            len += (size_t)snprintf(s + len, (1 << 16) - len, "%llu:%a ",
                                    (unsigned long long)h[i].id.u.num,
                                    (double)h[i].score);
        s[len++] = '\n';
    }
    return s;
}

static void small_fill(qv_collection *c, uint64_t seed)
{
    static model m;
    uint64_t rng = seed;
    for (uint32_t i = 0; i < 200; i++) {
        random_vec(&rng, N_DIMS, MAX_NNZ, &m.v[i]);
        qv_point_id id = num(i);
        qv_sparse_vector sv = view(&m.v[i]);
        char pl[32];
        int len = snprintf(pl, sizeof(pl), "{\"i\":%u}", i);
        const char *pls[] = {pl};
        size_t lens[] = {(size_t)len};
        ck_assert_int_eq(qv_sparse_upsert(c, &id, &sv, 1, pls, lens), QV_OK);
    }
    for (uint32_t i = 0; i < 200; i += 9) {
        qv_point_id id = num(i);
        ck_assert_int_eq(qv_delete(c, &id), QV_OK);
    }
}

START_TEST(snapshot_round_trip)
{
    char *dir = make_tmpdir("sparse-snap"), path[4096];
    PATHF(path, "%s/c.qvs", dir);
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_IDF, 77);
    small_fill(c, 42);
    char *want = signature(c), *want_s = search_signature(c);
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY;
         flags += QV_SNAPSHOT_VERIFY) {
        qv_collection *d = NULL;
        char err[256];
        ck_assert_msg(qv_snapshot_open(path, flags, &d, err, sizeof(err)) ==
                          QV_OK,
                      "%s", err);
        qv_collection_config cfg;
        ck_assert_int_eq(qv_collection_get_config(d, &cfg), QV_OK);
        ck_assert_uint_eq(cfg.kind, QV_VECTOR_SPARSE);
        ck_assert_uint_eq(cfg.sparse_modifier, QV_SPARSE_MODIFIER_IDF);
        ck_assert_uint_eq(cfg.sparse_full_scan_threshold, 77);
        char *got = signature(d), *got_s = search_signature(d);
        ck_assert_str_eq(got, want);
        ck_assert_str_eq(got_s, want_s);
        free(got);
        free(got_s);
        qv_collection_release(d);
    }
    free(want);
    free(want_s);
    qv_collection_release(c);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Damage inside the sparse sections is refused, never trusted: flip each
 * byte of the file's tail (where they lie, after the payload arena) and
 * check the open either fails or yields a collection that answers. */
START_TEST(snapshot_damage_is_refused)
{
    char *dir = make_tmpdir("sparse-dmg"), path[4096];
    PATHF(path, "%s/c.qvs", dir);
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_NONE, 0);
    small_fill(c, 43);
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection_release(c);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *orig = malloc((size_t)len);
    ck_assert_uint_eq(fread(orig, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    int refused = 0;
    for (long off = 64; off < len; off += 97) {
        uint8_t *buf = aligned_alloc(64, ((size_t)len + 63) / 64 * 64);
        memcpy(buf, orig, (size_t)len);
        buf[off] ^= 0x5a;
        qv_collection *d = NULL;
        char err[256];
        qv_status st =
            qvi_snapshot_load_buffer(buf, (size_t)len, 0, &d, err, sizeof(err));
        if (st == QV_OK) {
            char *sig = search_signature(d); /* must not crash */
            free(sig);
            qv_collection_release(d);
        } else {
            refused++;
        }
        free(buf);
    }
    ck_assert_int_gt(refused, 0);
    free(orig);
    rm_rf(dir);
    free(dir);
}
END_TEST

static qv_store *open_store(const char *path)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = 0; /* no automatic checkpoint */
    qv_store *s = NULL;
    char err[256];
    qv_status st = qv_store_open_dir(path, &o, &s, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "open %s: %s", path, err);
    return s;
}

static char *signature_at(const char *path, const char *name)
{
    qv_store *s = open_store(path);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_get(s, name, &c), QV_OK);
    char *sig = signature(c);
    qv_collection_release(c);
    qv_store_close(s);
    return sig;
}

START_TEST(wal_replay_and_checkpoint)
{
    char *dir = make_tmpdir("sparse-wal"), live[4096], image[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    qv_store *s = open_store(live);
    qv_collection_config cfg = sparse_cfg(QV_SPARSE_MODIFIER_IDF, 0);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_create(s, "t", &cfg, &c), QV_OK);
    /* ensure with the same config is no conflict; a dense one is */
    bool created = true;
    ck_assert_int_eq(qv_store_ensure(s, "t", &cfg, NULL, &created), QV_OK);
    ck_assert(!created);
    qv_collection_config dense;
    qv_collection_config_init(&dense);
    dense.dim = 1;
    dense.metric = QV_METRIC_DOT;
    ck_assert_int_eq(qv_store_ensure(s, "t", &dense, NULL, NULL), QV_EEXIST);
    small_fill(c, 44);
    char *want = signature(c);
    copy_tree(live, image); /* what kill -9 leaves: the log, no checkpoint */
    qv_collection_release(c);
    qv_store_close(s);
    char *got = signature_at(image, "t");
    ck_assert_str_eq(got, want);
    free(got);
    /* And after the close's checkpoint (a snapshot, no log). */
    got = signature_at(live, "t");
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* The log cut at every byte of one sparse upsert record (with payloads)
 * recovers to the state before the upsert or after it. */
START_TEST(wal_cut_every_offset)
{
    char *dir = make_tmpdir("sparse-cut"), live[4096], image[4096], work[4096],
         seg[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    PATHF(work, "%s/work", dir);
    qv_store *s = open_store(live);
    qv_collection_config cfg = sparse_cfg(QV_SPARSE_MODIFIER_NONE, 0);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_create(s, "t", &cfg, &c), QV_OK);
    small_fill(c, 45);
    char *before = signature(c);
    last_segment(live, "t", seg, sizeof(seg));
    off_t from = file_size(seg);
    qv_point_id ids[3] = {num(3), num(500), num(4)};
    uint32_t i0[] = {5, 1}, i1[] = {77}, i2[] = {0, 2, 4};
    float v0[] = {1, 2}, v1[] = {3}, v2[] = {4, 5, 6};
    qv_sparse_vector vs[3] = {{i0, v0, 2}, {i1, v1, 1}, {i2, v2, 3}};
    const char *pls[] = {"{\"x\":1}", NULL, "{\"y\":[1,2]}"};
    size_t lens[] = {7, 0, 11};
    ck_assert_int_eq(qv_sparse_upsert(c, ids, vs, 3, pls, lens), QV_OK);
    char *after = signature(c);
    copy_tree(live, image);
    off_t to = file_size(seg);
    qv_collection_release(c);
    qv_store_close(s);
    ck_assert_str_ne(before, after);
    ck_assert_int_gt(to, from);
    check_every_cut(image, work, "t", from, to, signature_at, before, after);
    free(before);
    free(after);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* The codec alone: encode, decode, same vectors. */
START_TEST(codec_round_trip)
{
    qv_point_id ids[2] = {num(1), num(2)};
    uint32_t i0[] = {4, 9}, i1[] = {1};
    float v0[] = {0.25f, -3}, v1[] = {7};
    qv_sparse_vector vs[2] = {{i0, v0, 2}, {i1, v1, 1}};
    qvi_change r = {
        .kind = QVI_CHANGE_SPARSE_UPSERT, .ids = ids, .n = 2, .sparse = vs};
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    char err[256];
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &len, err, sizeof(err)),
                     QV_OK);
    qvi_change out;
    ck_assert_msg(qvi_wal_decode(QVI_CHANGE_SPARSE_UPSERT, 1, buf + 32,
                                 len - 32, &out, err, sizeof(err)) == QV_OK,
                  "%s", err);
    /* Cut short anywhere: corrupt, never a crash. */
    for (size_t cut = 0; cut < len - 32 - 8; cut++) {
        qvi_change bad;
        ck_assert_int_ne(qvi_wal_decode(QVI_CHANGE_SPARSE_UPSERT, 1, buf + 32,
                                        cut, &bad, err, sizeof(err)),
                         QV_OK);
        qvi_wal_change_free(&bad);
    }
    ck_assert_uint_eq(out.kind, QVI_CHANGE_SPARSE_UPSERT);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_ptr_null(out.texts);
    ck_assert_uint_eq(out.sparse[0].nnz, 2);
    ck_assert_uint_eq(out.sparse[0].indices[1], 9);
    ck_assert_float_eq(out.sparse[0].values[1], -3.0f);
    ck_assert_uint_eq(out.sparse[1].indices[0], 1);
    ck_assert_float_eq(out.sparse[1].values[0], 7.0f);
    qvi_wal_change_free(&out);
    free(buf);
}
END_TEST

/* ---- 5. concurrency ------------------------------------------------------ */

typedef struct reader {
    qv_collection *c;
    atomic_bool *stop;
    int searches;
} reader;

/* Searches until told to stop; every answer must be sorted best first
 * whatever the writer does meanwhile. */
static void *read_loop(void *arg)
{
    reader *r = arg;
    uint64_t rng = 77;
    while (!atomic_load(r->stop)) {
        rvec q;
        random_vec(&rng, N_DIMS, 4, &q);
        qv_sparse_vector qv = view(&q);
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = 10;
        p.exact = r->searches % 2;
        qv_hit h[10];
        size_t n;
        if (qv_sparse_search(r->c, &qv, &p, h, &n) != QV_OK)
            return "search failed";
        for (size_t i = 1; i < n; i++)
            if (h[i].score > h[i - 1].score)
                return "unsorted answer";
        r->searches++;
    }
    return NULL;
}

/* Run under ThreadSanitizer too: searches (shared lock) against upserts
 * and deletes (exclusive lock) touching the rows and posting lists. */
START_TEST(searches_during_writes)
{
    qv_collection *c = new_sparse(QV_SPARSE_MODIFIER_IDF, 0);
    atomic_bool stop;
    atomic_init(&stop, false);
    reader rd[2] = {{c, &stop, 0}, {c, &stop, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
    uint64_t rng = 5;
    for (int round = 0; round < 400; round++) {
        rvec v;
        random_vec(&rng, N_DIMS, MAX_NNZ, &v);
        qv_point_id id = num(rng_next(&rng) % 150);
        qv_sparse_vector sv = view(&v);
        if (round % 5 == 4)
            (void)qv_delete(c, &id); /* absent ids are fine */
        else
            ck_assert_int_eq(qv_sparse_upsert(c, &id, &sv, 1, NULL, NULL),
                             QV_OK);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        void *why;
        ck_assert_int_eq(pthread_join(th[i], &why), 0);
        ck_assert_msg(why == NULL, "reader %d: %s", i, (const char *)why);
    }
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sparse");
    TCase *tc = tcase_create("sparse");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, refuses_bad_input);
    tcase_add_test(tc, get_returns_sorted_vector_and_payload);
    tcase_add_loop_test(tc, indexed_equals_exact_and_reference, 0, 3);
    tcase_add_test(tc, stale_index_scans_and_rebuilds);
    tcase_add_test(tc, reused_scratch_equals_fresh);
    tcase_add_test(tc, idf_scores_as_qdrant);
    tcase_add_test(tc, snapshot_round_trip);
    tcase_add_test(tc, snapshot_damage_is_refused);
    tcase_add_test(tc, wal_replay_and_checkpoint);
    tcase_add_test(tc, wal_cut_every_offset);
    tcase_add_test(tc, codec_round_trip);
    tcase_add_test(tc, searches_during_writes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
