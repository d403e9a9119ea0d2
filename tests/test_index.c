/*
 * test_index.c -- searches through a collection's HNSW graph: recall
 * against the exact scan for every metric, deletes and replacements seen
 * by the graph, batch and single searches agreeing, and the planner's
 * choice between graph and scan.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 4000, DIM = 32, NQ = 100, K = 10, CLUSTERS = 20 };

static uint64_t rng;
static float gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((rng >> 11) + 1.0) / 9007199254740993.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* Clustered data: a Gaussian mixture, like real embeddings. */
static float *mixture(size_t n, uint64_t seed)
{
    static float centres[CLUSTERS * DIM];
    rng = 777;
    for (int i = 0; i < CLUSTERS * DIM; i++)
        centres[i] = gauss() * 4;
    rng = seed;
    float *x = malloc(n * DIM * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (i % CLUSTERS) * DIM;
        for (int d = 0; d < DIM; d++)
            x[i * DIM + d] = c[d] + gauss();
    }
    return x;
}

/* The graph is in step with the points: a search that silently fell back
 * to the exact scan would make every recall test pass for nothing. */
static void assert_graph_mirrors(qv_collection *c)
{
    ck_assert(c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), c->count);
    qvi_vecview v = {.base = c->vecs,
                     .stride = c->stride,
                     .dim = c->cfg.dim,
                     .metric = c->cfg.metric};
    char err[256];
    qv_status st = qvi_hnsw_check(c->index, &v, NULL, err, sizeof(err));
    ck_assert_msg(st == QV_OK || strstr(err, "unreachable"), "graph: %s", err);
}

static qv_collection *graph_collection(qv_metric m, const float *data, size_t n)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    cfg.full_scan_threshold_kb = 0; /* always the graph */
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_point_id *ids = malloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = qv_id_from_num(i);
    ck_assert_int_eq(qv_upsert_batch(c, ids, data, n, DIM), QV_OK);
    free(ids);
    assert_graph_mirrors(c);
    return c;
}

/* Mean recall@K of graph search against exact search. */
static double recall(qv_collection *c, const float *queries, uint32_t ef)
{
    qv_search_params g, e;
    qv_search_params_init(&g);
    g.k = K;
    g.hnsw_ef = ef;
    e = g;
    e.exact = true;
    size_t found = 0, total = 0;
    for (int q = 0; q < NQ; q++) {
        qv_hit gh[K], eh[K];
        size_t gn, en;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &g, gh, &gn),
                         QV_OK);
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &e, eh, &en),
                         QV_OK);
        ck_assert_uint_eq(gn, en);
        for (size_t i = 0; i < en; i++) {
            for (size_t j = 0; j < gn; j++) {
                if (qv_id_compare(&eh[i].id, &gh[j].id) == 0) {
                    found++;
                    break;
                }
            }
        }
        total += en;
    }
    return (double)found / (double)total;
}

START_TEST(test_recall_every_metric)
{
    qv_metric m = (qv_metric)_i;
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c = graph_collection(m, data, N);
    /* Dot over unnormalised vectors is the hard case for any HNSW: points
     * of small norm are nobody's nearest neighbour, so it needs a wider
     * beam for the same recall. */
    double r = recall(c, queries, m == QV_METRIC_DOT ? 128 : 64);
    ck_assert_msg(r >= 0.95, "recall@10 %.3f for %s", r, qv_metric_name(m));
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

START_TEST(test_deletes_and_replacements)
{
    float *data = mixture(N, 3), *queries = mixture(NQ, 4);
    qv_collection *c = graph_collection(QV_METRIC_EUCLID, data, N);
    /* Delete 30%, then check no search returns them. */
    for (size_t i = 0; i < N; i++) {
        if (i % 10 < 3) {
            qv_point_id id = qv_id_from_num(i);
            ck_assert_int_eq(qv_delete(c, &id), QV_OK);
        }
    }
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = K;
    for (int q = 0; q < NQ; q++) {
        qv_hit h[K];
        size_t n;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, h, &n),
                         QV_OK);
        ck_assert_uint_eq(n, K);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_ge(h[i].id.u.num % 10, 3);
    }
    assert_graph_mirrors(c);
    ck_assert_double_ge(recall(c, queries, 64), 0.95);

    /* Re-insert the deleted points (their slots are reused), then move
     * point 5 onto query 0: the graph must find it there at distance 0. */
    qv_point_id *ids = malloc(N * sizeof(*ids));
    float *vecs = malloc((size_t)N * DIM * sizeof(float));
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 10 < 3) {
            ids[n] = qv_id_from_num(i);
            memcpy(vecs + n * DIM, data + i * DIM, DIM * sizeof(float));
            n++;
        }
    }
    ck_assert_int_eq(qv_upsert_batch(c, ids, vecs, n, DIM), QV_OK);
    assert_graph_mirrors(c);
    ck_assert_double_ge(recall(c, queries, 64), 0.95);

    /* A batch naming one id twice indexes it once, with its last vector. */
    qv_point_id twice[2] = {qv_id_from_num(7), qv_id_from_num(7)};
    float two[2 * DIM];
    memcpy(two, queries + DIM, DIM * sizeof(float));
    memcpy(two + DIM, queries + 2 * DIM, DIM * sizeof(float));
    ck_assert_int_eq(qv_upsert_batch(c, twice, two, 2, DIM), QV_OK);
    assert_graph_mirrors(c);
    qv_hit top[K];
    size_t ntop;
    ck_assert_int_eq(qv_search(c, queries + 2 * DIM, DIM, &p, top, &ntop),
                     QV_OK);
    ck_assert_uint_eq(top[0].id.u.num, 7);
    qv_point_id moved = qv_id_from_num(5);
    ck_assert_int_eq(qv_upsert(c, &moved, queries, DIM), QV_OK);
    qv_hit h[K];
    size_t nh;
    ck_assert_int_eq(qv_search(c, queries, DIM, &p, h, &nh), QV_OK);
    ck_assert_uint_eq(h[0].id.u.num, 5);
    ck_assert_float_eq_tol(h[0].score, 0.0f, 1e-3f);
    assert_graph_mirrors(c);
    uint64_t count;
    qv_count(c, &count);
    ck_assert_uint_eq(count, N);
    free(ids);
    free(vecs);
    free(data);
    free(queries);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_batch_agrees_with_single)
{
    float *data = mixture(N, 5), *queries = mixture(NQ, 6);
    qv_collection *c = graph_collection(QV_METRIC_COSINE, data, N);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = K;
    p.hnsw_ef = 40;
    qv_hit *bh = malloc(NQ * K * sizeof(qv_hit));
    size_t bn[NQ];
    ck_assert_int_eq(qv_search_batch(c, queries, NQ, DIM, &p, bh, bn), QV_OK);
    for (int q = 0; q < NQ; q++) {
        qv_hit h[K];
        size_t n;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, h, &n),
                         QV_OK);
        ck_assert_uint_eq(n, bn[q]);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(qv_id_compare(&h[i].id, &bh[q * K + i].id), 0);
            ck_assert_float_eq(h[i].score, bh[q * K + i].score);
        }
        /* Scores are cosine similarities, best first. */
        for (size_t i = 1; i < n; i++)
            ck_assert_float_le(h[i].score, h[i - 1].score);
        ck_assert_float_le(h[0].score, 1.0001f);
    }
    /* A threshold through the graph keeps only what passes. */
    p.use_threshold = true;
    p.score_threshold = 0.99f;
    qv_hit h[K];
    size_t n;
    ck_assert_int_eq(qv_search(c, queries, DIM, &p, h, &n), QV_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_ge(h[i].score, 0.99f);
    free(bh);
    free(data);
    free(queries);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_planner)
{
    float *data = mixture(N, 7);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_DOT;
    /* N * DIM * 4 bytes = 500 KiB: below a 1000 KiB threshold the
     * collection is scanned, above a 100 KiB one it uses the graph. */
    cfg.full_scan_threshold_kb = 1000;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_search_params p;
    qv_search_params_init(&p);
    ck_assert(!qvi_index_should_use(c, &p)); /* empty */
    qv_point_id *ids = malloc(N * sizeof(*ids));
    for (size_t i = 0; i < N; i++)
        ids[i] = qv_id_from_num(i);
    ck_assert_int_eq(qv_upsert_batch(c, ids, data, N - 1, DIM), QV_OK);
    ck_assert(!qvi_index_should_use(c, &p));
    /* Below the threshold the graph is not even built. */
    ck_assert(!c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), 0);
    /* Lower the threshold: the next write builds the graph from every
     * point in one batch, and searches use it. */
    c->cfg.full_scan_threshold_kb = 100;
    ck_assert(!qvi_index_should_use(c, &p));
    ck_assert_int_eq(
        qv_upsert(c, &ids[N - 1], data + (size_t)(N - 1) * DIM, DIM), QV_OK);
    ck_assert(c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), N);
    ck_assert(qvi_index_should_use(c, &p));
    float *queries = mixture(NQ, 8);
    ck_assert_double_ge(recall(c, queries, 64), 0.95);
    free(queries);
    p.exact = true;
    ck_assert(!qvi_index_should_use(c, &p));
    p.exact = false;
    p.k = QV_MAX_EF + 1; /* beyond any beam: scanned */
    ck_assert(!qvi_index_should_use(c, &p));
    free(ids);
    free(data);
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_recall_every_metric, 0,
                        QV_METRIC_MANHATTAN + 1);
    tcase_add_test(tc, test_deletes_and_replacements);
    tcase_add_test(tc, test_batch_agrees_with_single);
    tcase_add_test(tc, test_planner);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
