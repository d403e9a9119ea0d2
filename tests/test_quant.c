/*
 * test_quant.c -- quantized search (core/quant/, core/collection_quant.c):
 * recall of every quantization kind under every metric against exact
 * search, rescoring returning float scores, configs checked and changed,
 * codes back from a snapshot (kept by the file: test_quant_persist.c
 * covers that in depth), and the leaf's distances against the
 * float distances they approximate; product quantization's recall,
 * exact table distances and rebuilt codebooks.
 *
 * Data: a Gaussian mixture centred on the origin (as embeddings roughly
 * are; binary codes take the sign of each component).  Bounds are set
 * well below what the runs measure (noted beside each) so that they hold
 * whatever the SIMD level, and still fail when the codes are wrong: a
 * search on garbage codes finds almost none of the true neighbours.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/quant/quant.h"
#include "persist/wal.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { N = 3000, DIM = 64, NQ = 50, K = 10, CLUSTERS = 16 };

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

static float *mixture(size_t n, uint64_t seed)
{
    static float centres[CLUSTERS * DIM];
    rng = 4242;
    for (int i = 0; i < CLUSTERS * DIM; i++)
        centres[i] = gauss();
    rng = seed;
    float *x = malloc(n * DIM * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (i % CLUSTERS) * DIM;
        for (int d = 0; d < DIM; d++)
            x[i * DIM + d] = c[d] + 0.7f * gauss();
    }
    return x;
}

static qv_collection *make(qv_metric m, uint32_t kind, uint32_t enc,
                           uint32_t qenc, const float *data)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    cfg.full_scan_threshold_kb = 0; /* always the graph */
    cfg.quantization = kind;
    cfg.quant_quantile = kind == QV_QUANTIZATION_INT8 ? 0.99f : 0.0f;
    cfg.quant_encoding = enc;
    cfg.quant_query_encoding = qenc;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    if (!data)
        return c; /* the caller fills it */
    qv_point_id *ids = malloc(N * sizeof(*ids));
    for (size_t i = 0; i < N; i++)
        ids[i] = qv_id_from_num(i);
    /* Two batches: the second is encoded with the first's training,
     * then the doubling retrains. */
    ck_assert_int_eq(qv_upsert_batch(c, ids, data, N / 3, DIM), QV_OK);
    ck_assert_int_eq(
        qv_upsert_batch(c, ids + N / 3, data + N / 3 * DIM, N - N / 3, DIM),
        QV_OK);
    free(ids);
    ck_assert(kind == QV_QUANTIZATION_NONE || (c->quant && c->quant_ok));
    return c;
}

/* Mean recall@K of the collection's quantized graph search against exact
 * search. */
static double recall(qv_collection *c, const float *queries,
                     const qv_search_params *base)
{
    double sum = 0;
    for (int q = 0; q < NQ; q++) {
        qv_search_params p = *base, e;
        qv_search_params_init(&e);
        e.k = K;
        e.exact = true;
        qv_hit got[K], want[K];
        size_t ng, nw;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, got, &ng),
                         QV_OK);
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &e, want, &nw),
                         QV_OK);
        ck_assert_uint_eq(ng, K);
        int hit = 0;
        for (size_t i = 0; i < ng; i++)
            for (size_t j = 0; j < nw; j++)
                hit += qvi_id_equal(&got[i].id, &want[j].id);
        sum += (double)hit / K;
    }
    return sum / NQ;
}

static const qv_metric metrics[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                    QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};

/* A search on the codes really ran: the walk on the codes and the walk on
 * the floats return different candidate orders on some query. */
static void params_for(qv_search_params *p, uint32_t rescore, double os)
{
    qv_search_params_init(p);
    p->k = K;
    p->hnsw_ef = 64;
    p->quant_rescore = rescore;
    p->quant_oversampling = os;
}

START_TEST(int8_recall_every_metric)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_metric m = metrics[_i];
    qv_collection *c = make(m, QV_QUANTIZATION_INT8, 0, 0, data);
    qv_search_params p;
    params_for(&p, QV_RESCORE_ON, 2.0);
    double r = recall(c, queries, &p);
    ck_assert_msg(r >= 0.9, "metric %d int8+rescore recall %.3f", m, r);
    params_for(&p, QV_RESCORE_AUTO, 0); /* int8: no rescoring */
    r = recall(c, queries, &p);
    ck_assert_msg(r >= 0.75, "metric %d int8 recall %.3f", m, r);
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

static const uint32_t encodings[][2] = {
    {QV_BINARY_ONE_BIT, QV_BINARY_QUERY_DEFAULT},
    {QV_BINARY_ONE_AND_HALF_BITS, QV_BINARY_QUERY_DEFAULT},
    {QV_BINARY_TWO_BITS, QV_BINARY_QUERY_BINARY},
    {QV_BINARY_ONE_BIT, QV_BINARY_QUERY_SCALAR4BITS},
    {QV_BINARY_TWO_BITS, QV_BINARY_QUERY_SCALAR8BITS},
};

START_TEST(binary_recall_every_metric_and_encoding)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    for (size_t e = 0; e < sizeof(encodings) / sizeof(encodings[0]); e++) {
        qv_metric m = metrics[_i];
        qv_collection *c = make(m, QV_QUANTIZATION_BINARY, encodings[e][0],
                                encodings[e][1], data);
        qv_search_params p;
        /* Binary rescores by default.  64 components are few for binary
         * codes (Qdrant advises them from about 1024), hence the wide
         * oversampling; measured 0.75 (dot, one bit) to 0.98. */
        params_for(&p, QV_RESCORE_AUTO, 10.0);
        p.hnsw_ef = 128;
        double r = recall(c, queries, &p);
        ck_assert_msg(r >= 0.65, "metric %d encoding %u/%u recall %.3f", m,
                      encodings[e][0], encodings[e][1], r);
        qv_collection_release(c);
    }
    free(data);
    free(queries);
}
END_TEST

/* With rescoring each hit's score is its exact float score; without it
 * (int8) the scores are the codes' approximations, close but not equal. */
START_TEST(rescoring_returns_float_scores)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_metric m = metrics[_i];
    for (uint32_t kind = QV_QUANTIZATION_INT8; kind <= QV_QUANTIZATION_BINARY;
         kind++) {
        qv_collection *c = make(m, kind, 0, 0, data);
        bool any_differs = false;
        for (int q = 0; q < 10; q++) {
            const float *qv = queries + q * DIM;
            qv_search_params p;
            params_for(&p, QV_RESCORE_ON, 3.0);
            qv_hit hits[K];
            size_t n;
            ck_assert_int_eq(qv_search(c, qv, DIM, &p, hits, &n), QV_OK);
            float pq[DIM];
            memcpy(pq, qv, sizeof(pq));
            ck_assert_int_eq(qvi_prepare_query(c, qv, DIM, pq), QV_OK);
            for (size_t i = 0; i < n; i++) {
                uint32_t slot = (uint32_t)hits[i].id.u.num;
                float want =
                    qvi_distance_to_score(m, qvi_slot_distance(c, pq, slot));
                ck_assert_float_eq_tol(hits[i].score, want,
                                       1e-5f * (1 + fabsf(want)));
                if (i > 0 && qv_metric_higher_is_better(m))
                    ck_assert(hits[i].score <= hits[i - 1].score);
                else if (i > 0)
                    ck_assert(hits[i].score >= hits[i - 1].score);
            }
            params_for(&p, QV_RESCORE_OFF, 0);
            ck_assert_int_eq(qv_search(c, qv, DIM, &p, hits, &n), QV_OK);
            for (size_t i = 0; i < n; i++) {
                uint32_t slot = (uint32_t)hits[i].id.u.num;
                float want =
                    qvi_distance_to_score(m, qvi_slot_distance(c, pq, slot));
                if (fabsf(hits[i].score - want) > 1e-4f * (1 + fabsf(want)))
                    any_differs = true;
                /* The 0.99 quantile clips the largest components, so
                 * the best matches' scores come out a little low. */
                if (kind == QV_QUANTIZATION_INT8)
                    ck_assert_float_eq_tol(hits[i].score, want,
                                           0.2f * (1 + fabsf(want)));
            }
        }
        ck_assert_msg(any_differs, "un-rescored scores equal float scores: "
                                   "the codes were not searched");
        qv_collection_release(c);
    }
    free(data);
    free(queries);
}
END_TEST

/* A filtered walk on the codes returns only matching points, rescored,
 * and finds most of the exact filtered neighbours. */
START_TEST(filtered_search_on_codes)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c = make(QV_METRIC_COSINE, QV_QUANTIZATION_INT8, 0, 0, NULL);
    qv_point_id *ids = malloc(N * sizeof(*ids));
    const char **pl = malloc(N * sizeof(*pl));
    size_t *lens = malloc(N * sizeof(*lens));
    for (size_t i = 0; i < N; i++) {
        ids[i] = qv_id_from_num(i);
        /* Half of every cluster (ids i % CLUSTERS share a cluster), so
         * that the filter does not cut whole regions off the graph. */
        pl[i] = i / CLUSTERS % 2 ? "{\"odd\":true}" : "{\"odd\":false}";
        lens[i] = strlen(pl[i]);
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, data, N, DIM, pl, lens),
                     QV_OK);
    ck_assert(c->quant && c->quant_ok);
    const char *fj = "{\"must\":[{\"key\":\"odd\",\"match\":{\"value\":"
                     "true}}]}";
    qv_filter *f;
    ck_assert_int_eq(qv_filter_parse(fj, strlen(fj), &f, NULL, 0), QV_OK);
    double sum = 0;
    for (int q = 0; q < NQ; q++) {
        qv_search_params p, e;
        params_for(&p, QV_RESCORE_ON, 2.0);
        p.filter = f;
        e = p;
        e.exact = true;
        qv_hit got[K], want[K];
        size_t ng, nw;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, got, &ng),
                         QV_OK);
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &e, want, &nw),
                         QV_OK);
        ck_assert_uint_eq(ng, K);
        for (size_t i = 0; i < ng; i++) {
            ck_assert_uint_eq(got[i].id.u.num / CLUSTERS % 2, 1);
            for (size_t j = 0; j < nw; j++)
                sum += qvi_id_equal(&got[i].id, &want[j].id);
        }
    }
    double r = sum / (NQ * K);
    ck_assert_msg(r >= 0.85, "filtered int8 recall %.3f", r);
    qv_filter_free(f);
    free(ids);
    free(pl);
    free(lens);
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

/* quant_ignore walks the floats: the results equal those of a collection
 * without quantization built the same way. */
START_TEST(ignore_walks_the_floats)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *a =
        make(QV_METRIC_COSINE, QV_QUANTIZATION_BINARY, 0, 0, data);
    qv_collection *b = make(QV_METRIC_COSINE, QV_QUANTIZATION_NONE, 0, 0, data);
    for (int q = 0; q < NQ; q++) {
        qv_search_params p;
        params_for(&p, QV_RESCORE_AUTO, 0);
        p.quant_ignore = true;
        qv_hit ha[K], hb[K];
        size_t na, nb;
        ck_assert_int_eq(qv_search(a, queries + q * DIM, DIM, &p, ha, &na),
                         QV_OK);
        ck_assert_int_eq(qv_search(b, queries + q * DIM, DIM, &p, hb, &nb),
                         QV_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            ck_assert(qvi_id_equal(&ha[i].id, &hb[i].id));
            ck_assert_float_eq(ha[i].score, hb[i].score);
        }
    }
    qv_collection_release(a);
    qv_collection_release(b);
    free(data);
    free(queries);
}
END_TEST

/* Product quantization, every metric: x8 (buckets of two components) and
 * x32 (eight) with rescoring, and x8 without (Qdrant's default for PQ).
 * Measured here: x8+rescore 0.98-1.0, x32+rescore 0.9+, x8 alone 0.7+. */
START_TEST(pq_recall_every_metric)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_metric m = metrics[_i];
    qv_collection *c = make(m, QV_QUANTIZATION_PRODUCT, QV_PQ_X8, 0, data);
    size_t bytes;
    ck_assert_int_eq(qv_collection_code_bytes(c, &bytes), QV_OK);
    ck_assert_uint_eq(bytes, DIM / 2);
    qv_search_params p;
    params_for(&p, QV_RESCORE_ON, 4.0);
    double r = recall(c, queries, &p);
    ck_assert_msg(r >= 0.9, "metric %d pq x8+rescore recall %.3f", m, r);
    params_for(&p, QV_RESCORE_AUTO, 0); /* product: no rescoring */
    r = recall(c, queries, &p);
    ck_assert_msg(r >= 0.5, "metric %d pq x8 recall %.3f", m, r);

    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c, &cfg), QV_OK);
    cfg.quant_encoding = QV_PQ_X32;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    ck_assert_int_eq(qv_collection_code_bytes(c, &bytes), QV_OK);
    ck_assert_uint_eq(bytes, DIM / 8);
    params_for(&p, QV_RESCORE_ON, 8.0);
    p.hnsw_ef = 128;
    r = recall(c, queries, &p);
    ck_assert_msg(r >= 0.8, "metric %d pq x32+rescore recall %.3f", m, r);
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

/* The table distance is the float distance to the decoded vector: with x4
 * (one component a bucket) and 256 training vectors, every training value
 * starts as a centroid, stays one, and the distance is exact. */
START_TEST(pq_distance_is_exact_on_few_values)
{
    enum { n = 256, dim = 5 };
    float data[n * dim];
    for (int i = 0; i < n * dim; i++)
        data[i] = (float)((i * 7919) % 200) / 50.0f - 2.0f;
    uint8_t live[n];
    memset(live, 1, sizeof live);
    for (int mi = 0; mi < 4; mi++) {
        qvi_quant_params qp = {.kind = QV_QUANTIZATION_PRODUCT,
                               .encoding = QV_PQ_X4};
        qvi_quant *q;
        ck_assert_int_eq(qvi_quant_create(&qp, dim, metrics[mi], &q), QV_OK);
        ck_assert_uint_eq(q->m, dim);
        ck_assert_int_eq(qvi_quant_reserve(q, n), QV_OK);
        ck_assert_int_eq(qvi_quant_train(q, data, dim, live, n), QV_OK);
        for (uint32_t s = 0; s < n; s++)
            qvi_quant_encode(q, s, data + s * dim);
        uint8_t *buf = qvi_alloc_aligned(qvi_quant_query_bytes(q));
        qvi_quant_query qq;
        const float *query = data + 17 * dim;
        qvi_quant_prepare(q, query, buf, &qq);
        for (uint32_t s = 0; s < n; s += 13) {
            const float *v = data + s * dim;
            double want = 0;
            for (int d = 0; d < dim; d++) {
                double t = (double)query[d] - v[d];
                want += metrics[mi] == QV_METRIC_EUCLID ? t * t
                        : metrics[mi] == QV_METRIC_MANHATTAN
                            ? fabs(t)
                            : -(double)query[d] * v[d];
            }
            ck_assert_double_eq_tol(qvi_quant_distance(&qq, s), want, 1e-3);
        }
        free(buf);
        qvi_quant_free(q);
    }
}
END_TEST

/* A product-quantized snapshot: the config, the codebooks and the codes
 * come back identical (the file keeps them: sections 65-66). */
START_TEST(pq_snapshot_round_trip)
{
    scratch_dir_make("quant_pq_snapshot");
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c =
        make(QV_METRIC_EUCLID, QV_QUANTIZATION_PRODUCT, QV_PQ_X16, 0, data);
    const char *path = scratch_path("q.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection *d = NULL;
    ck_assert_int_eq(qv_snapshot_open(path, 0, &d, NULL, 0), QV_OK);
    qv_collection_config b;
    ck_assert_int_eq(qv_collection_get_config(d, &b), QV_OK);
    ck_assert_uint_eq(b.quantization, QV_QUANTIZATION_PRODUCT);
    ck_assert_uint_eq(b.quant_encoding, QV_PQ_X16);
    ck_assert(d->quant && d->quant_ok);
    ck_assert_uint_eq(d->quant->m, DIM / 4);
    ck_assert_int_eq(
        memcmp(d->quant->codes, c->quant->codes, (size_t)N * c->quant->row), 0);
    ck_assert_int_eq(memcmp(d->quant->cent, c->quant->cent,
                            (size_t)DIM * 256 * sizeof(float)),
                     0);
    qv_search_params p;
    params_for(&p, QV_RESCORE_OFF, 0);
    for (int q = 0; q < NQ; q++) {
        qv_hit ha[K], hb[K];
        size_t na, nb;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, ha, &na),
                         QV_OK);
        ck_assert_int_eq(qv_search(d, queries + q * DIM, DIM, &p, hb, &nb),
                         QV_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++)
            ck_assert_float_eq(ha[i].score, hb[i].score);
    }
    qv_collection_release(c);
    qv_collection_release(d);
    free(data);
    free(queries);
    scratch_dir_remove();
}
END_TEST

START_TEST(bad_configs_and_params_are_refused)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 8;
    qv_collection *c = NULL;
    cfg.quantization = 7;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    ck_assert_ptr_null(c);
    cfg.quantization = QV_QUANTIZATION_INT8;
    cfg.quant_quantile = 0.3f;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    cfg.quant_quantile = 1.5f;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    cfg.quant_quantile = NAN;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    cfg.quantization = QV_QUANTIZATION_BINARY;
    cfg.quant_quantile = 0;
    cfg.quant_encoding = 3;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    cfg.quant_encoding = 0;
    cfg.quant_query_encoding = 4;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    cfg.quant_query_encoding = 0;
    cfg.quantization = QV_QUANTIZATION_PRODUCT;
    cfg.quant_encoding = QV_PQ_X64 + 1; /* "x3" has no number */
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    ck_assert_ptr_null(c);
    cfg.quantization = QV_QUANTIZATION_BINARY;
    cfg.quant_encoding = 0;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);

    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit h[10];
    size_t n;
    p.quant_oversampling = 0.5;
    ck_assert_int_eq(qv_search(c, v, 8, &p, h, &n), QV_ERANGE);
    p.quant_oversampling = NAN;
    ck_assert_int_eq(qv_search(c, v, 8, &p, h, &n), QV_ERANGE);
    p.quant_oversampling = 1.0;
    p.quant_rescore = 3;
    ck_assert_int_eq(qv_search(c, v, 8, &p, h, &n), QV_EINVAL);

    /* A refused change changes nothing. */
    qv_collection_config bad = cfg;
    bad.quantization = QV_QUANTIZATION_INT8;
    bad.quant_quantile = 0.1f;
    ck_assert_int_eq(qv_collection_set_quantization(c, &bad), QV_ERANGE);
    qv_collection_config got;
    ck_assert_int_eq(qv_collection_get_config(c, &got), QV_OK);
    ck_assert_uint_eq(got.quantization, QV_QUANTIZATION_BINARY);
    ck_assert_int_eq(qv_collection_set_quantization(NULL, &cfg), QV_ENULL);
    ck_assert_int_eq(qv_collection_set_quantization(c, NULL), QV_ENULL);
    qv_collection_release(c);
}
END_TEST

/* Changing the quantization rebuilds the codes; dropping it drops them. */
START_TEST(set_quantization_rebuilds)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c = make(QV_METRIC_EUCLID, QV_QUANTIZATION_NONE, 0, 0, data);
    ck_assert_ptr_null(c->quant);
    size_t bytes;
    ck_assert_int_eq(qv_collection_code_bytes(c, &bytes), QV_OK);
    ck_assert_uint_eq(bytes, 0);

    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c, &cfg), QV_OK);
    cfg.quantization = QV_QUANTIZATION_INT8;
    cfg.quant_quantile = 0.95f;
    cfg.quant_always_ram = true;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    ck_assert(c->quant && c->quant_ok);
    ck_assert_int_eq(qv_collection_code_bytes(c, &bytes), QV_OK);
    ck_assert_uint_eq(bytes, DIM + 4);
    qv_collection_config got;
    ck_assert_int_eq(qv_collection_get_config(c, &got), QV_OK);
    ck_assert_uint_eq(got.quantization, QV_QUANTIZATION_INT8);
    ck_assert_float_eq(got.quant_quantile, 0.95f);
    ck_assert(got.quant_always_ram);
    qv_search_params p;
    params_for(&p, QV_RESCORE_ON, 2.0);
    ck_assert(recall(c, queries, &p) >= 0.9);

    cfg.quantization = QV_QUANTIZATION_BINARY;
    cfg.quant_encoding = QV_BINARY_TWO_BITS;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    ck_assert_int_eq(qv_collection_code_bytes(c, &bytes), QV_OK);
    ck_assert_uint_eq(bytes, 2 * DIM / 8);
    params_for(&p, QV_RESCORE_AUTO, 10.0);
    p.hnsw_ef = 128;
    ck_assert(recall(c, queries, &p) >= 0.8);

    /* Later writes are encoded too: replace every vector by another's. */
    qv_point_id *ids = malloc(N * sizeof(*ids));
    for (size_t i = 0; i < N; i++)
        ids[i] = qv_id_from_num((i + 1) % N);
    ck_assert_int_eq(qv_upsert_batch(c, ids, data, N, DIM), QV_OK);
    free(ids);
    ck_assert(recall(c, queries, &p) >= 0.8);

    cfg.quantization = QV_QUANTIZATION_NONE;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    ck_assert_ptr_null(c->quant);
    ck_assert(recall(c, queries, &p) >= 0.9);
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

/* A snapshot keeps the config and the codes. */
START_TEST(snapshot_round_trip)
{
    scratch_dir_make("quant_snapshot");
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c =
        make(QV_METRIC_DOT, QV_QUANTIZATION_BINARY, QV_BINARY_ONE_AND_HALF_BITS,
             QV_BINARY_QUERY_SCALAR8BITS, data);
    const char *path = scratch_path("q.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection *d = NULL;
    ck_assert_int_eq(qv_snapshot_open(path, 0, &d, NULL, 0), QV_OK);
    qv_collection_config a, b;
    ck_assert_int_eq(qv_collection_get_config(c, &a), QV_OK);
    ck_assert_int_eq(qv_collection_get_config(d, &b), QV_OK);
    ck_assert_uint_eq(b.quantization, QV_QUANTIZATION_BINARY);
    ck_assert_uint_eq(b.quant_encoding, QV_BINARY_ONE_AND_HALF_BITS);
    ck_assert_uint_eq(b.quant_query_encoding, QV_BINARY_QUERY_SCALAR8BITS);
    ck_assert(d->quant && d->quant_ok);
    ck_assert_uint_eq(d->quant->row, c->quant->row);
    ck_assert_int_eq(
        memcmp(d->quant->codes, c->quant->codes, (size_t)N * c->quant->row), 0);
    qv_search_params p;
    params_for(&p, QV_RESCORE_OFF, 0);
    for (int q = 0; q < NQ; q++) {
        qv_hit ha[K], hb[K];
        size_t na, nb;
        ck_assert_int_eq(qv_search(c, queries + q * DIM, DIM, &p, ha, &na),
                         QV_OK);
        ck_assert_int_eq(qv_search(d, queries + q * DIM, DIM, &p, hb, &nb),
                         QV_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++)
            ck_assert_float_eq(ha[i].score, hb[i].score);
    }
    qv_collection_release(c);
    qv_collection_release(d);
    free(data);
    free(queries);
    scratch_dir_remove();
}
END_TEST

/* A durable store: the collection's first snapshot holds its int8 config,
 * the log the points and then the change to binary (record kind 40); the
 * writer dies without a checkpoint, so everything is replayed and the
 * codes are rebuilt. */
START_TEST(wal_replay_round_trip)
{
    scratch_dir_make("quant_wal");
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    const char *dir = scratch_path("store");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        qv_store *st;
        qv_collection *c;
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = DIM;
        cfg.metric = QV_METRIC_EUCLID;
        cfg.full_scan_threshold_kb = 0;
        cfg.quantization = QV_QUANTIZATION_INT8;
        cfg.quant_quantile = 0.98f;
        if (qv_store_open_dir(dir, NULL, &st, NULL, 0) != QV_OK ||
            qv_store_create(st, "q", &cfg, &c) != QV_OK)
            _exit(1);
        qv_point_id *ids = malloc(N * sizeof(*ids));
        for (size_t i = 0; i < N; i++)
            ids[i] = qv_id_from_num(i);
        if (qv_upsert_batch(c, ids, data, N, DIM) != QV_OK)
            _exit(2);
        /* Logged as record kind 40, replayed after the points. */
        cfg.quantization = QV_QUANTIZATION_BINARY;
        cfg.quant_encoding = QV_BINARY_TWO_BITS;
        cfg.quant_query_encoding = QV_BINARY_QUERY_SCALAR4BITS;
        _exit(qv_collection_set_quantization(c, &cfg) == QV_OK ? 0 : 3);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    qv_store *st;
    qv_collection *c;
    ck_assert_int_eq(qv_store_open_dir(dir, NULL, &st, NULL, 0), QV_OK);
    ck_assert_int_eq(qv_store_get(st, "q", &c), QV_OK);
    uint64_t count;
    ck_assert_int_eq(qv_count(c, &count), QV_OK);
    ck_assert_uint_eq(count, N);
    qv_collection_config got;
    ck_assert_int_eq(qv_collection_get_config(c, &got), QV_OK);
    ck_assert_uint_eq(got.quantization, QV_QUANTIZATION_BINARY);
    ck_assert_uint_eq(got.quant_encoding, QV_BINARY_TWO_BITS);
    ck_assert_uint_eq(got.quant_query_encoding, QV_BINARY_QUERY_SCALAR4BITS);
    ck_assert(c->quant && c->quant_ok && c->index_ok);
    ck_assert_uint_eq(c->quant->p.kind, QV_QUANTIZATION_BINARY);
    qv_search_params p;
    params_for(&p, QV_RESCORE_AUTO, 10.0);
    p.hnsw_ef = 128;
    ck_assert(recall(c, queries, &p) >= 0.8);
    qv_collection_release(c);
    qv_store_close(st);
    free(data);
    free(queries);
    scratch_dir_remove();
}
END_TEST

/* WAL kind 40 round trip; bad values and short bodies are corrupt, and
 * kinds of the reserved gaps are unknown. */
START_TEST(wal_record_round_trip)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.quantization = QV_QUANTIZATION_INT8;
    cfg.quant_quantile = 0.97f;
    cfg.quant_always_ram = true;
    qvi_change in = {.kind = QVI_CHANGE_QUANT_SET, .quant = &cfg}, out;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    char err[256];
    ck_assert_int_eq(qvi_wal_encode(&in, &buf, &cap, &len, err, sizeof(err)),
                     QV_OK);
    ck_assert_str_eq(qvi_wal_kind_name(QVI_CHANGE_QUANT_SET),
                     "quantization set");
    const uint8_t *body = buf + QVI_WAL_REC_HEADER;
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_QUANT_SET, 1, body, 20, &out,
                                    err, sizeof(err)),
                     QV_OK);
    ck_assert_uint_eq(out.quant->quantization, QV_QUANTIZATION_INT8);
    ck_assert_float_eq(out.quant->quant_quantile, 0.97f);
    ck_assert(out.quant->quant_always_ram);
    qvi_wal_change_free(&out);
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_QUANT_SET, 1, body, 16, &out,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&out);
    uint8_t bad[20];
    memcpy(bad, body, 20);
    bad[0] = 4; /* no such kind (3 is product) */
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_QUANT_SET, 1, bad, 20, &out, err,
                                    sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&out);
    ck_assert_int_eq(qvi_wal_decode(25, 1, body, 20, &out, err, sizeof(err)),
                     QV_EFORMAT);
    qvi_wal_change_free(&out);
    in.quant = NULL; /* nothing to log */
    ck_assert_int_eq(qvi_wal_encode(&in, &buf, &cap, &len, err, sizeof(err)),
                     QV_EINVAL);
    free(buf);
}
END_TEST

/* Searches, upserts and quantization changes at once (run under
 * ThreadSanitizer by the tsan build): every search answers in full. */
typedef struct race_ctx {
    qv_collection *c;
    const float *data, *queries;
    atomic_bool stop;
    int failures;
} race_ctx;

static void *race_search(void *arg)
{
    race_ctx *x = arg;
    for (int i = 0; !atomic_load(&x->stop) || i < 20; i++) {
        qv_search_params p;
        params_for(&p, (uint32_t)(i % 3), i % 2 ? 2.0 : 0);
        qv_hit h[K];
        size_t n;
        if (qv_search(x->c, x->queries + (i % NQ) * DIM, DIM, &p, h, &n) !=
                QV_OK ||
            n != K)
            x->failures++;
    }
    return NULL;
}

static void *race_upsert(void *arg)
{
    race_ctx *x = arg;
    for (int i = 0; i < 30; i++) {
        qv_point_id id = qv_id_from_num((uint64_t)(i * 97) % N);
        if (qv_upsert(x->c, &id, x->data + ((i * 31) % N) * DIM, DIM) != QV_OK)
            x->failures++;
    }
    return NULL;
}

START_TEST(changes_race_searches)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    race_ctx x = {.data = data, .queries = queries};
    x.c = make(QV_METRIC_COSINE, QV_QUANTIZATION_INT8, 0, 0, data);
    atomic_init(&x.stop, false);
    pthread_t ts, tu;
    ck_assert_int_eq(pthread_create(&ts, NULL, race_search, &x), 0);
    ck_assert_int_eq(pthread_create(&tu, NULL, race_upsert, &x), 0);
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(x.c, &cfg), QV_OK);
    static const uint32_t kinds[] = {
        QV_QUANTIZATION_BINARY, QV_QUANTIZATION_NONE, QV_QUANTIZATION_INT8};
    for (int i = 0; i < 6; i++) {
        cfg.quantization = kinds[i % 3];
        ck_assert_int_eq(qv_collection_set_quantization(x.c, &cfg), QV_OK);
    }
    atomic_store(&x.stop, true);
    pthread_join(ts, NULL);
    pthread_join(tu, NULL);
    ck_assert_int_eq(x.failures, 0);
    ck_assert(x.c->quant && x.c->quant_ok);
    qv_collection_release(x.c);
    free(data);
    free(queries);
}
END_TEST

/* A write that crosses a doubling trains afresh after its write lock is
 * released: when the fresh codes are built, the old ones still serve, a
 * search runs (it would wait forever behind a held write lock: the hook
 * runs in the writer's thread), and the upsert returns with the new
 * training installed. */
typedef struct {
    qv_collection *c;
    const float *queries;
    int calls;
    uint64_t trained_on_seen;
    int searched;
} train_ctx;

static void search_in_hook(void *arg)
{
    train_ctx *x = arg;
    x->calls++;
    x->trained_on_seen = x->c->quant_trained_on; /* graph_mu keeps it */
    qv_search_params p;
    params_for(&p, QV_RESCORE_AUTO, 0);
    qv_hit h[K];
    size_t n = 0;
    if (qv_search(x->c, x->queries, DIM, &p, h, &n) == QV_OK && n == K)
        x->searched++;
}

START_TEST(retraining_runs_beside_searches)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    for (size_t k = 0; k < 2; k++) {
        uint32_t kind = k ? QV_QUANTIZATION_PRODUCT : QV_QUANTIZATION_INT8;
        qv_collection *c =
            make(QV_METRIC_EUCLID, kind, k ? QV_PQ_X8 : 0, 0, NULL);
        train_ctx x = {.c = c, .queries = queries};
        qvi_quant_set_train_hook(c, search_in_hook, &x);
        qv_point_id *ids = malloc(N * sizeof(*ids));
        for (size_t i = 0; i < N; i++)
            ids[i] = qv_id_from_num(i);
        ck_assert_int_eq(qv_upsert_batch(c, ids, data, N / 4, DIM), QV_OK);
        ck_assert_int_eq(x.calls, 1); /* the first training */
        ck_assert_uint_eq(x.trained_on_seen, 0);
        ck_assert_uint_eq(c->quant_trained_on, N / 4);
        /* N/4 more: not yet double the training count. */
        ck_assert_int_eq(
            qv_upsert_batch(c, ids + N / 4, data + N / 4 * DIM, N / 8, DIM),
            QV_OK);
        ck_assert_int_eq(x.calls, 1);
        ck_assert(c->quant_ok && !c->quant_retrain);
        /* The rest crosses the doubling: trained again beside a search. */
        size_t done = N / 4 + N / 8;
        ck_assert_int_eq(
            qv_upsert_batch(c, ids + done, data + done * DIM, N - done, DIM),
            QV_OK);
        ck_assert_int_eq(x.calls, 2);
        ck_assert_uint_eq(x.trained_on_seen, N / 4);
        ck_assert_int_eq(x.searched, 2);
        ck_assert_uint_eq(c->quant_trained_on, N);
        ck_assert(c->quant_ok && !c->quant_retrain);
        qvi_quant_set_train_hook(c, NULL, NULL);
        qv_search_params p;
        params_for(&p, QV_RESCORE_ON, 2.0);
        ck_assert(recall(c, queries, &p) >= 0.8);
        free(ids);
        qv_collection_release(c);
    }
    free(data);
    free(queries);
}
END_TEST

/* Vectors rewritten while set_quantization builds its codes under the
 * shared lock are re-encoded before the swap: scores read from the codes
 * alone (no rescoring) still rank as the floats do.  Before the write
 * counter was kept, the swap installed codes of the old vectors. */
typedef struct {
    qv_collection *c;
    const float *data;
    int calls;
} rewrite_ctx;

static void rewrite_in_hook(void *arg)
{
    rewrite_ctx *x = arg;
    if (x->calls++)
        return;
    qv_point_id *ids = malloc(N * sizeof(*ids));
    for (size_t i = 0; i < N; i++)
        ids[i] = qv_id_from_num((i + N / 2) % N);
    ck_assert_int_eq(qv_upsert_batch(x->c, ids, x->data, N, DIM), QV_OK);
    free(ids);
}

START_TEST(set_quantization_sees_writes_in_between)
{
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    qv_collection *c = make(QV_METRIC_EUCLID, QV_QUANTIZATION_NONE, 0, 0, data);
    rewrite_ctx x = {.c = c, .data = data};
    qvi_quant_set_train_hook(c, rewrite_in_hook, &x);
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c, &cfg), QV_OK);
    cfg.quantization = QV_QUANTIZATION_INT8;
    cfg.quant_quantile = 0.99f;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    ck_assert_int_eq(x.calls, 1);
    qvi_quant_set_train_hook(c, NULL, NULL);
    qv_search_params p;
    params_for(&p, QV_RESCORE_OFF, 0);
    ck_assert(recall(c, queries, &p) >= 0.8);
    qv_collection_release(c);
    free(data);
    free(queries);
}
END_TEST

/* The leaf alone: int8 distances track the float ones. */
START_TEST(int8_distance_tracks_float)
{
    float *data = mixture(N, 1);
    uint8_t *live = malloc(N);
    memset(live, 1, N);
    qv_metric m = metrics[_i];
    qvi_quant_params qp = {.kind = QV_QUANTIZATION_INT8};
    qvi_quant *q;
    ck_assert_int_eq(qvi_quant_create(&qp, DIM, m, &q), QV_OK);
    ck_assert_int_eq(qvi_quant_reserve(q, N), QV_OK);
    ck_assert_int_eq(qvi_quant_train(q, data, DIM, live, N), QV_OK);
    for (uint32_t s = 0; s < N; s++)
        qvi_quant_encode(q, s, data + (size_t)s * DIM);
    uint8_t *buf = qvi_alloc_aligned(qvi_quant_query_bytes(q));
    const qvi_kernels *k = qvi_simd();
    for (uint32_t s = 0; s < 100; s++) {
        const float *x = data + (size_t)(N - 1 - s) * DIM;
        qvi_quant_query qq;
        qvi_quant_prepare(q, x, buf, &qq);
        const float *y = data + (size_t)s * DIM;
        float exact = m == QV_METRIC_EUCLID      ? k->l2sq(x, y, DIM)
                      : m == QV_METRIC_MANHATTAN ? k->l1(x, y, DIM)
                                                 : -k->dot(x, y, DIM);
        float approx = qvi_quant_distance(&qq, s);
        /* Whole range, 127 levels: each component within alpha / 2, so a
         * dot product within about alpha (|x|_1 + |y|_1) / 2. */
        float tol = m == QV_METRIC_COSINE || m == QV_METRIC_DOT
                        ? 0.02f * sqrtf(k->dot(x, x, DIM) * k->dot(y, y, DIM))
                        : 0.05f * (1 + fabsf(exact));
        ck_assert_msg(fabsf(approx - exact) <= tol, "metric %d: %g vs %g", m,
                      approx, exact);
    }
    free(buf);
    qvi_quant_free(q);
    free(live);
    free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, int8_recall_every_metric, 0, 4);
    tcase_add_loop_test(tc, binary_recall_every_metric_and_encoding, 0, 4);
    tcase_add_loop_test(tc, rescoring_returns_float_scores, 0, 4);
    tcase_add_test(tc, ignore_walks_the_floats);
    tcase_add_test(tc, filtered_search_on_codes);
    tcase_add_loop_test(tc, pq_recall_every_metric, 0, 4);
    tcase_add_test(tc, pq_distance_is_exact_on_few_values);
    tcase_add_test(tc, pq_snapshot_round_trip);
    tcase_add_test(tc, bad_configs_and_params_are_refused);
    tcase_add_test(tc, set_quantization_rebuilds);
    tcase_add_test(tc, snapshot_round_trip);
    tcase_add_test(tc, wal_replay_round_trip);
    tcase_add_test(tc, wal_record_round_trip);
    tcase_add_test(tc, changes_race_searches);
    tcase_add_test(tc, retraining_runs_beside_searches);
    tcase_add_test(tc, set_quantization_sees_writes_in_between);
    tcase_add_loop_test(tc, int8_distance_tracks_float, 0, 4);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
