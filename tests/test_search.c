/*
 * test_search.c -- exact search, single and batched, against a naive
 * double-precision reference on random data, for all four metrics.
 */
#include "core/core.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A small seeded generator so runs are reproducible. */
static uint64_t rng_state;
static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

typedef struct ref_hit {
    uint64_t id;
    double score;
} ref_hit;

static qv_metric cmp_metric;
static int cmp_ref(const void *a, const void *b)
{
    const ref_hit *x = a, *y = b;
    bool hib = qv_metric_higher_is_better(cmp_metric);
    if (x->score != y->score)
        return (hib ? x->score < y->score : x->score > y->score) ? 1 : -1;
    return x->id < y->id ? -1 : 1;
}

static double ref_score(qv_metric m, const float *q, const float *v, int dim)
{
    double s = 0, nq = 0, nv = 0;
    for (int i = 0; i < dim; i++) {
        switch (m) {
        case QV_METRIC_COSINE:
            nq += (double)q[i] * q[i];
            nv += (double)v[i] * v[i];
            /* fall through */
        case QV_METRIC_DOT:
            s += (double)q[i] * v[i];
            break;
        case QV_METRIC_EUCLID:
            s += ((double)q[i] - v[i]) * ((double)q[i] - v[i]);
            break;
        case QV_METRIC_MANHATTAN:
            s += fabs((double)q[i] - v[i]);
            break;
        }
    }
    if (m == QV_METRIC_COSINE)
        return (nq == 0 || nv == 0) ? 0 : s / sqrt(nq * nv);
    if (m == QV_METRIC_EUCLID)
        return sqrt(s);
    return s;
}

enum { N = 3000, DIM = 37, NQ = 40, K = 10 };

static qv_collection *fill(qv_metric m, float *data, bool delete_some)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_point_id *ids = malloc(N * sizeof(*ids));
    for (int i = 0; i < N; i++)
        ids[i] = qv_id_from_num((uint64_t)i * 3);
    ck_assert_int_eq(qv_upsert_batch(c, ids, data, N, DIM), QV_OK);
    if (delete_some) {
        for (int i = 0; i < N; i += 7)
            ck_assert_int_eq(qv_delete(c, &ids[i]), QV_OK);
    }
    free(ids);
    return c;
}

static void check_against_reference(qv_metric m, bool delete_some)
{
    rng_state = 12345 + m;
    float *data = malloc(sizeof(float) * N * DIM);
    float *queries = malloc(sizeof(float) * NQ * DIM);
    for (int i = 0; i < N * DIM; i++)
        data[i] = frand();
    for (int i = 0; i < NQ * DIM; i++)
        queries[i] = frand();
    qv_collection *c = fill(m, data, delete_some);

    qv_search_params p;
    qv_search_params_init(&p);
    p.k = K;
    qv_hit *batch = malloc(sizeof(qv_hit) * NQ * K);
    size_t batch_n[NQ];
    ck_assert_int_eq(qv_search_batch(c, queries, NQ, DIM, &p, batch, batch_n),
                     QV_OK);

    ref_hit *ref = malloc(sizeof(ref_hit) * N);
    cmp_metric = m;
    for (int qi = 0; qi < NQ; qi++) {
        const float *q = queries + qi * DIM;
        size_t nr = 0;
        for (int i = 0; i < N; i++) {
            if (delete_some && i % 7 == 0)
                continue;
            ref[nr].id = (uint64_t)i * 3;
            ref[nr].score = ref_score(m, q, data + i * DIM, DIM);
            nr++;
        }
        qsort(ref, nr, sizeof(ref_hit), cmp_ref);

        qv_hit hits[K];
        size_t nh;
        ck_assert_int_eq(qv_search(c, q, DIM, &p, hits, &nh), QV_OK);
        ck_assert_uint_eq(nh, K);
        ck_assert_uint_eq(batch_n[qi], K);
        for (int j = 0; j < K; j++) {
            double tol = 1e-4 * (1 + fabs(ref[j].score));
            ck_assert_uint_eq(hits[j].id.u.num, ref[j].id);
            ck_assert_double_eq_tol(hits[j].score, ref[j].score, tol);
            ck_assert_uint_eq(batch[qi * K + j].id.u.num, ref[j].id);
            ck_assert_double_eq_tol(batch[qi * K + j].score, ref[j].score, tol);
        }
        /* A threshold at the 5th score keeps exactly the first five. */
        qv_search_params pt = p;
        pt.use_threshold = true;
        pt.score_threshold = (hits[4].score + hits[5].score) / 2;
        ck_assert_int_eq(qv_search(c, q, DIM, &pt, hits, &nh), QV_OK);
        ck_assert_uint_eq(nh, 5);
        ck_assert_uint_eq(hits[4].id.u.num, ref[4].id);
        ck_assert_int_eq(qv_search_batch(c, q, 1, DIM, &pt, hits, &nh), QV_OK);
        ck_assert_uint_eq(nh, 5);
    }
    free(ref);
    free(batch);
    free(data);
    free(queries);
    qv_collection_release(c);
}

START_TEST(test_reference_all_metrics)
{
    check_against_reference((qv_metric)_i, false);
    check_against_reference((qv_metric)_i, true);
}
END_TEST

START_TEST(test_batch_large_blocks)
{
    /* More vectors and queries than one BLAS block in each direction, and
     * k large enough that the rescoring margin is used. */
    enum { BN = 5000, BD = 64, BQ = 300, BK = 40 };
    rng_state = 99;
    float *data = malloc(sizeof(float) * BN * BD);
    float *qs = malloc(sizeof(float) * BQ * BD);
    for (int i = 0; i < BN * BD; i++)
        data[i] = frand();
    for (int i = 0; i < BQ * BD; i++)
        qs[i] = frand();
    for (int m = 0; m <= QV_METRIC_MANHATTAN; m++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = BD;
        cfg.metric = (qv_metric)m;
        qv_collection *c;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        qv_point_id *ids = malloc(BN * sizeof(*ids));
        for (int i = 0; i < BN; i++)
            ids[i] = qv_id_from_num((uint64_t)i);
        ck_assert_int_eq(qv_upsert_batch(c, ids, data, BN, BD), QV_OK);
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = BK;
        qv_hit *bh = malloc(sizeof(qv_hit) * BQ * BK);
        size_t *bn = malloc(sizeof(size_t) * BQ);
        ck_assert_int_eq(qv_search_batch(c, qs, BQ, BD, &p, bh, bn), QV_OK);
        size_t same = 0;
        for (int qi = 0; qi < BQ; qi++) {
            qv_hit h[BK];
            size_t nh;
            ck_assert_int_eq(qv_search(c, qs + qi * BD, BD, &p, h, &nh), QV_OK);
            ck_assert_uint_eq(nh, BK);
            ck_assert_uint_eq(bn[qi], BK);
            for (int j = 0; j < BK; j++) {
                same += h[j].id.u.num == bh[qi * BK + j].id.u.num;
                ck_assert_float_eq_tol(h[j].score, bh[qi * BK + j].score,
                                       1e-4f * (1 + fabsf(h[j].score)));
            }
        }
        /* Identical ranks except for near ties. */
        ck_assert_uint_ge(same, (size_t)(BQ * BK * 0.999));
        free(bh);
        free(bn);
        free(ids);
        qv_collection_release(c);
    }
    free(data);
    free(qs);
}
END_TEST

/* Points far from the origin and close together (GPS-like coordinates,
 * near-duplicate embeddings): the norm expansion of the BLAS path loses
 * almost every bit there, so the batch must prove or redo its answer. */
START_TEST(test_batch_far_from_origin)
{
    enum { FN = 5000, FD = 32, FQ = 50, FK = 10 };
    const float offsets[] = {0.0f, 10.0f, 1000.0f};
    rng_state = 4242;
    float *data = malloc(sizeof(float) * FN * FD);
    float *qs = malloc(sizeof(float) * FQ * FD);
    for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
        for (int i = 0; i < FN * FD; i++)
            data[i] = offsets[o] + 0.01f * frand();
        for (int i = 0; i < FQ * FD; i++)
            qs[i] = offsets[o] + 0.01f * frand();
        for (int m = 0; m <= QV_METRIC_MANHATTAN; m++) {
            qv_collection_config cfg;
            qv_collection_config_init(&cfg);
            cfg.dim = FD;
            cfg.metric = (qv_metric)m;
            qv_collection *c;
            ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
            qv_point_id *ids = malloc(FN * sizeof(*ids));
            for (int i = 0; i < FN; i++)
                ids[i] = qv_id_from_num((uint64_t)i);
            ck_assert_int_eq(qv_upsert_batch(c, ids, data, FN, FD), QV_OK);
            qv_search_params p;
            qv_search_params_init(&p);
            p.k = FK;
            qv_hit bh[FQ * FK];
            size_t bn[FQ];
            ck_assert_int_eq(qv_search_batch(c, qs, FQ, FD, &p, bh, bn), QV_OK);
            size_t same = 0;
            for (int qi = 0; qi < FQ; qi++) {
                qv_hit h[FK];
                size_t nh;
                ck_assert_int_eq(qv_search(c, qs + qi * FD, FD, &p, h, &nh),
                                 QV_OK);
                ck_assert_uint_eq(bn[qi], nh);
                for (size_t j = 0; j < nh; j++) {
                    same += h[j].id.u.num == bh[qi * FK + j].id.u.num;
                    ck_assert_float_eq(h[j].score, bh[qi * FK + j].score);
                }
            }
            ck_assert_msg(same == FQ * FK, "offset %g metric %d: %zu of %d",
                          offsets[o], m, same, FQ * FK);
            free(ids);
            qv_collection_release(c);
        }
    }
    free(data);
    free(qs);
}
END_TEST

START_TEST(test_fewer_points_than_k)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    cfg.metric = QV_METRIC_MANHATTAN;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit hits[10];
    size_t n = 99;
    float q[2] = {0, 0};
    ck_assert_int_eq(qv_search(c, q, 2, &p, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 0);
    qv_point_id a = qv_id_from_num(1), b;
    ck_assert_int_eq(
        qv_id_parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", &b), QV_OK);
    float va[2] = {1, 1}, vb[2] = {0.5f, 0};
    qv_upsert(c, &a, va, 2);
    qv_upsert(c, &b, vb, 2);
    ck_assert_int_eq(qv_search(c, q, 2, &p, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(hits[0].id.kind, QV_ID_UUID);
    ck_assert_float_eq(hits[0].score, 0.5f);
    ck_assert_float_eq(hits[1].score, 2.0f);
    ck_assert_int_eq(qv_search_batch(c, q, 1, 2, &p, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_float_eq(hits[0].score, 0.5f);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_bad_search_input)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 3;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit hits[10];
    size_t n;
    float q[3] = {1, 2, 3}, nq[3] = {1, NAN, 3};
    p.k = 0;
    ck_assert_int_eq(qv_search(c, q, 3, &p, hits, &n), QV_ERANGE);
    ck_assert_int_eq(qv_search_batch(c, q, 1, 3, &p, hits, &n), QV_ERANGE);
    char msg[128];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "k is 0"));
    p.k = 10;
    ck_assert_int_eq(qv_search(c, q, 2, &p, hits, &n), QV_EDIM);
    ck_assert_int_eq(qv_search_batch(c, q, 1, 4, &p, hits, &n), QV_EDIM);
    ck_assert_int_eq(qv_search(c, nq, 3, &p, hits, &n), QV_ENONFINITE);
    ck_assert_int_eq(qv_search_batch(c, nq, 1, 3, &p, hits, &n), QV_ENONFINITE);
    ck_assert_int_eq(qv_search(c, NULL, 3, &p, hits, &n), QV_ENULL);
    ck_assert_int_eq(qv_search(c, q, 3, NULL, hits, &n), QV_ENULL);
    ck_assert_int_eq(qv_search(c, q, 3, &p, NULL, &n), QV_ENULL);
    ck_assert_int_eq(qv_search(NULL, q, 3, &p, hits, &n), QV_ENULL);
    p.use_threshold = true;
    p.score_threshold = NAN;
    ck_assert_int_eq(qv_search(c, q, 3, &p, hits, &n), QV_ERANGE);
    p.use_threshold = false;
    p.hnsw_ef = QV_MAX_EF + 1;
    ck_assert_int_eq(qv_search(c, q, 3, &p, hits, &n), QV_ERANGE);
    p.hnsw_ef = 0;
    ck_assert_int_eq(qv_search_batch(c, q, 0, 3, &p, hits, &n), QV_OK);
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("exact");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_reference_all_metrics, 0,
                        QV_METRIC_MANHATTAN + 1);
    tcase_add_test(tc, test_batch_large_blocks);
    tcase_add_test(tc, test_batch_far_from_origin);
    tcase_add_test(tc, test_fewer_points_than_k);
    tcase_add_test(tc, test_bad_search_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
