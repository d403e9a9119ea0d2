/*
 * test_multivec.c -- multivector collections (quiver.h, "Multivectors"):
 * exact MaxSim search against a brute-force reference written here
 * independently (double precision, no library kernel), HNSW recall
 * against the exact answer for every metric, filters, deletes and
 * replacements (which compact the arena), get, and the validation
 * messages.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 16, MAX_ROWS = 6, K = 10 };

static uint64_t rng;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static float gauss(void)
{
    double u = uniform(), v = uniform();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* A random data set: point i has rows[i] rows starting at mats + at[i],
 * each row near one of a few centres of the point's topic (clustered, as
 * token embeddings are). */
typedef struct dataset {
    size_t n;
    uint32_t *rows;
    size_t *at;
    float *mats;
    size_t floats;
} dataset;

static void make_data(dataset *d, size_t n, uint64_t seed)
{
    rng = seed;
    d->n = n;
    d->rows = malloc(n * sizeof(uint32_t));
    d->at = malloc(n * sizeof(size_t));
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        d->rows[i] = 1 + (uint32_t)(uniform() * MAX_ROWS);
        d->at[i] = total;
        total += (size_t)d->rows[i] * DIM;
    }
    d->floats = total;
    d->mats = malloc(total * sizeof(float));
    enum { TOPICS = 16, PER_TOPIC = 4 };
    static float centres[TOPICS * PER_TOPIC * DIM];
    for (size_t j = 0; j < TOPICS * PER_TOPIC * DIM; j++)
        centres[j] = 2 * gauss();
    for (size_t i = 0; i < n; i++) {
        size_t topic = i % TOPICS;
        for (uint32_t r = 0; r < d->rows[i]; r++) {
            size_t pick = topic * PER_TOPIC + (size_t)(uniform() * PER_TOPIC);
            float *row = d->mats + d->at[i] + (size_t)r * DIM;
            for (int k = 0; k < DIM; k++)
                row[k] = centres[pick * DIM + k] + gauss();
        }
    }
}

static void free_data(dataset *d)
{
    free(d->rows);
    free(d->at);
    free(d->mats);
}

static qv_collection *new_collection(qv_metric m, uint32_t threshold_kb)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
    cfg.full_scan_threshold_kb = threshold_kb;
    cfg.max_indexing_threads = 1;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static qv_point_id pid(uint64_t i)
{
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = i};
    return id;
}

/* Inserts the data set with payloads {"g": i % 3}. */
static void load(qv_collection *c, const dataset *d)
{
    qv_point_id *ids = malloc(d->n * sizeof(*ids));
    char(*texts)[32] = malloc(d->n * sizeof(*texts));
    const char **ptr = malloc(d->n * sizeof(char *));
    size_t *lens = malloc(d->n * sizeof(size_t));
    for (size_t i = 0; i < d->n; i++) {
        ids[i] = pid(i);
        snprintf(texts[i], sizeof(texts[i]), "{\"g\": %zu}", i % 3);
        ptr[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    ck_assert_int_eq(
        qv_multi_upsert_batch(c, ids, d->n, d->rows, d->mats, DIM, ptr, lens),
        QV_OK);
    free(ids);
    free(texts);
    free(ptr);
    free(lens);
}

/* ---- the reference: MaxSim in double, written from Qdrant's definition -- */

static double row_sim(qv_metric m, const float *a, const float *b)
{
    double s = 0, na = 0, nb = 0;
    for (int i = 0; i < DIM; i++) {
        double x = a[i], y = b[i];
        switch (m) {
        case QV_METRIC_COSINE:
            s += x * y;
            na += x * x;
            nb += y * y;
            break;
        case QV_METRIC_DOT:
            s += x * y;
            break;
        case QV_METRIC_EUCLID:
            s -= (x - y) * (x - y);
            break;
        case QV_METRIC_MANHATTAN:
            s -= fabs(x - y);
            break;
        }
    }
    if (m == QV_METRIC_COSINE)
        s = na > 0 && nb > 0 ? s / sqrt(na * nb) : 0;
    return s;
}

static double ref_maxsim(qv_metric m, const float *q, uint32_t nq,
                         const float *p, uint32_t np)
{
    double sum = 0;
    for (uint32_t i = 0; i < nq; i++) {
        double best = -INFINITY;
        for (uint32_t j = 0; j < np; j++) {
            double s = row_sim(m, q + i * DIM, p + j * DIM);
            if (s > best)
                best = s;
        }
        sum += best;
    }
    return sum;
}

typedef struct scored {
    double score;
    size_t i;
} scored;

static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

/* The reference top k among points with alive[i] and i % 3 == group (group
 * < 0: any); returns their number. */
static size_t ref_topk(qv_metric m, const dataset *d, const bool *alive,
                       int group, const float *q, uint32_t nq, scored *out,
                       size_t k)
{
    scored *all = malloc(d->n * sizeof(*all));
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if ((alive && !alive[i]) || (group >= 0 && (int)(i % 3) != group))
            continue;
        all[n].score = ref_maxsim(m, q, nq, d->mats + d->at[i], d->rows[i]);
        all[n++].i = i;
    }
    qsort(all, n, sizeof(*all), by_score);
    if (n > k)
        n = k;
    memcpy(out, all, n * sizeof(*all));
    free(all);
    return n;
}

/* The score the API reports for a MaxSim of s: Qdrant's post-processing,
 * sqrt(|s|) under euclid and |s| under manhattan (its
 * tests/openapi/test_multi_vector.py: sqrt(19) = 4.358899). */
static double api_score(qv_metric m, double s)
{
    if (m == QV_METRIC_EUCLID)
        return sqrt(fabs(s));
    if (m == QV_METRIC_MANHATTAN)
        return fabs(s);
    return s;
}

/* Exact hits equal the reference: same scores (to float rounding) and the
 * same points, allowing points of near-equal score to swap. */
static void assert_same(qv_metric m, const qv_hit *hits, size_t nh,
                        const scored *ref, size_t nr)
{
    ck_assert_uint_eq(nh, nr);
    for (size_t i = 0; i < nh; i++) {
        double want = api_score(m, ref[i].score);
        double tol = 1e-3 * (1 + fabs(want));
        ck_assert_msg(fabs(hits[i].score - want) <= tol,
                      "hit %zu: score %g, reference %g", i, hits[i].score,
                      want);
        if (hits[i].id.u.num != ref[i].i) {
            /* A swap is only fine between scores within rounding (of the
             * MaxSim the order follows). */
            double rt = 1e-3 * (1 + fabs(ref[i].score));
            bool near =
                (i + 1 < nr &&
                 fabs(ref[i + 1].score - ref[i].score) <= 2 * rt) ||
                (i > 0 && fabs(ref[i - 1].score - ref[i].score) <= 2 * rt);
            ck_assert_msg(near, "hit %zu: point %llu, reference %zu", i,
                          (unsigned long long)hits[i].id.u.num, ref[i].i);
        }
    }
}

static void query_of(float *q, uint32_t *nq, uint64_t seed)
{
    rng = seed;
    *nq = 1 + (uint32_t)(uniform() * 4);
    for (uint32_t i = 0; i < *nq * DIM; i++)
        q[i] = gauss();
}

START_TEST(test_exact_equals_reference)
{
    qv_metric m = (qv_metric)_i;
    dataset d;
    make_data(&d, 300, 11 + _i);
    qv_collection *c = new_collection(m, QV_DEFAULT_FULL_SCAN_THRESHOLD_KB);
    load(c, &d);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = K;
    p.exact = true;
    float q[4 * DIM];
    qv_hit hits[K];
    scored ref[K];
    for (int t = 0; t < 20; t++) {
        uint32_t nq;
        query_of(q, &nq, 1000 + t);
        size_t nh = 0;
        ck_assert_int_eq(qv_multi_search(c, q, nq, DIM, &p, hits, &nh), QV_OK);
        size_t nr = ref_topk(m, &d, NULL, -1, q, nq, ref, K);
        assert_same(m, hits, nh, ref, nr);
    }
    free_data(&d);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_filter_and_deletes)
{
    qv_metric m = QV_METRIC_DOT;
    dataset d;
    make_data(&d, 400, 5);
    qv_collection *c = new_collection(m, 0); /* graph from the start */
    load(c, &d);
    bool *alive = malloc(d.n);
    for (size_t i = 0; i < d.n; i++) {
        alive[i] = i % 4 != 0;
        if (!alive[i]) {
            qv_point_id id = pid(i);
            ck_assert_int_eq(qv_delete(c, &id), QV_OK);
        }
    }
    ck_assert(c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), c->count);
    qv_filter *f = NULL;
    const char *js = "{\"must\":[{\"key\":\"g\",\"match\":{\"value\":1}}]}";
    ck_assert_int_eq(qv_filter_parse(js, strlen(js), &f, NULL, 0), QV_OK);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = K;
    p.exact = true;
    p.filter = f;
    float q[4 * DIM];
    qv_hit hits[K];
    scored ref[K];
    for (int t = 0; t < 10; t++) {
        uint32_t nq;
        query_of(q, &nq, 2000 + t);
        size_t nh = 0;
        ck_assert_int_eq(qv_multi_search(c, q, nq, DIM, &p, hits, &nh), QV_OK);
        size_t nr = ref_topk(m, &d, alive, 1, q, nq, ref, K);
        assert_same(m, hits, nh, ref, nr);
        /* The graph walk with the same filter keeps to the filter too. */
        p.exact = false;
        ck_assert_int_eq(qv_multi_search(c, q, nq, DIM, &p, hits, &nh), QV_OK);
        for (size_t i = 0; i < nh; i++) {
            ck_assert_uint_eq(hits[i].id.u.num % 3, 1);
            ck_assert(alive[hits[i].id.u.num]);
        }
        p.exact = true;
    }
    qv_filter_free(f);
    free(alive);
    free_data(&d);
    qv_collection_release(c);
}
END_TEST

/* The graph, built with MaxSim between points, finds what the exact scan
 * finds. */
START_TEST(test_hnsw_recall)
{
    qv_metric m = (qv_metric)_i;
    dataset d;
    make_data(&d, 1500, 21 + _i);
    qv_collection *c = new_collection(m, 0);
    load(c, &d);
    ck_assert(c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), d.n);
    qvi_vecview v = {.base = c->multi->arena,
                     .stride = DIM,
                     .dim = DIM,
                     .metric = m,
                     .offs = c->multi->offs};
    char err[256];
    qv_status st = qvi_hnsw_check(c->index, &v, NULL, err, sizeof(err));
    ck_assert_msg(st == QV_OK || strstr(err, "unreachable"), "graph: %s", err);

    qv_search_params pe, pg;
    qv_search_params_init(&pe);
    pe.k = K;
    pe.exact = true;
    pg = pe;
    pg.exact = false;
    pg.hnsw_ef = 128;
    ck_assert(qvi_index_should_use(c, &pg));
    size_t found = 0, total = 0;
    float q[4 * DIM];
    qv_hit he[K], hg[K];
    for (int t = 0; t < 40; t++) {
        uint32_t nq;
        query_of(q, &nq, 3000 + t);
        size_t ne = 0, ng = 0;
        ck_assert_int_eq(qv_multi_search(c, q, nq, DIM, &pe, he, &ne), QV_OK);
        ck_assert_int_eq(qv_multi_search(c, q, nq, DIM, &pg, hg, &ng), QV_OK);
        ck_assert_uint_eq(ng, K);
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < ng; j++)
                found += he[i].id.u.num == hg[j].id.u.num;
        total += ne;
    }
    double recall = (double)found / (double)total;
    printf("multivec HNSW recall@%d, %s, ef 128: %.3f\n", K, qv_metric_name(m),
           recall);
    ck_assert_msg(recall >= 0.9, "recall %.3f", recall);
    free_data(&d);
    qv_collection_release(c);
}
END_TEST

/* Replacing matrices again and again compacts the arena; get returns the
 * latest rows (normalised under cosine) and the graph follows. */
START_TEST(test_replace_and_get)
{
    qv_collection *c = new_collection(QV_METRIC_COSINE, 0);
    float rows[MAX_ROWS * DIM], out[MAX_ROWS * DIM];
    rng = 99;
    for (int round = 0; round < 30; round++) {
        for (uint64_t i = 0; i < 50; i++) {
            uint32_t n = 1 + (uint32_t)((i + round) % MAX_ROWS);
            for (uint32_t j = 0; j < n * DIM; j++)
                rows[j] = gauss();
            qv_point_id id = pid(i);
            ck_assert_int_eq(qv_multi_upsert(c, &id, rows, n, DIM), QV_OK);
            uint32_t got = 0;
            ck_assert_int_eq(qv_multi_get(c, &id, out, MAX_ROWS, &got), QV_OK);
            ck_assert_uint_eq(got, n);
            for (uint32_t r = 0; r < n; r++) {
                double nn = 0;
                for (int k = 0; k < DIM; k++)
                    nn += (double)rows[r * DIM + k] * rows[r * DIM + k];
                for (int k = 0; k < DIM; k++)
                    ck_assert(fabs(out[r * DIM + k] -
                                   rows[r * DIM + k] / sqrt(nn)) < 1e-5);
            }
        }
    }
    /* Live data: 50 points of at most 6 rows; the arena stays near it. */
    ck_assert_uint_le(c->multi->len - c->multi->garbage,
                      50 * (1 + MAX_ROWS * DIM));
    ck_assert_uint_le(c->multi->cap, 8 * 50 * (1 + MAX_ROWS * DIM) + 4096);
    ck_assert(c->index_ok);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), 50);
    /* The point's own matrix is its best match. */
    qv_point_id id = pid(7);
    uint32_t n = 0;
    ck_assert_int_eq(qv_multi_get(c, &id, out, MAX_ROWS, &n), QV_OK);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 1;
    qv_hit hit;
    size_t nh = 0;
    ck_assert_int_eq(qv_multi_search(c, out, n, DIM, &p, &hit, &nh), QV_OK);
    ck_assert_uint_eq(nh, 1);
    ck_assert_uint_eq(hit.id.u.num, 7);
    ck_assert(fabs(hit.score - (float)n) < 1e-4);
    /* Counting rows without room, and too little room. */
    ck_assert_int_eq(qv_multi_get(c, &id, NULL, 0, &n), QV_OK);
    ck_assert_uint_ge(n, 1);
    if (n > 1)
        ck_assert_int_eq(qv_multi_get(c, &id, out, 1, &n), QV_ERANGE);
    qv_point_id missing = pid(1000);
    ck_assert_int_eq(qv_multi_get(c, &missing, out, MAX_ROWS, &n),
                     QV_ENOTFOUND);
    qv_collection_release(c);
}
END_TEST

/* Cosine rows already of unit length are stored as given, as Qdrant's
 * cosine preprocessing leaves them (is_length_zero_or_normalized): a
 * matrix read back and upserted again (quiver migrate) keeps every bit.
 * Other rows are normalised. */
START_TEST(test_cosine_unit_rows_kept)
{
    qv_collection *c = new_collection(QV_METRIC_COSINE, 0);
    float rows[MAX_ROWS * DIM], once[MAX_ROWS * DIM], twice[MAX_ROWS * DIM];
    rng = 5;
    for (uint64_t i = 0; i < 40; i++) {
        uint32_t n = 1 + (uint32_t)(i % MAX_ROWS), got = 0;
        for (uint32_t j = 0; j < n * DIM; j++)
            rows[j] = 3.0f * gauss();
        qv_point_id a = pid(i), b = pid(1000 + i);
        ck_assert_int_eq(qv_multi_upsert(c, &a, rows, n, DIM), QV_OK);
        ck_assert_int_eq(qv_multi_get(c, &a, once, MAX_ROWS, &got), QV_OK);
        ck_assert_uint_eq(got, n);
        ck_assert(memcmp(once, rows, n * DIM * sizeof(float)) != 0);
        ck_assert_int_eq(qv_multi_upsert(c, &b, once, n, DIM), QV_OK);
        ck_assert_int_eq(qv_multi_get(c, &b, twice, MAX_ROWS, &got), QV_OK);
        ck_assert_uint_eq(got, n);
        ck_assert_mem_eq(once, twice, n * DIM * sizeof(float));
    }
    /* A unit row given exactly (0.6, 0.8, 0, ...) is kept exactly. */
    memset(rows, 0, sizeof(rows));
    rows[0] = 0.6f;
    rows[1] = 0.8f;
    qv_point_id u = pid(5000);
    uint32_t got = 0;
    ck_assert_int_eq(qv_multi_upsert(c, &u, rows, 1, DIM), QV_OK);
    ck_assert_int_eq(qv_multi_get(c, &u, once, MAX_ROWS, &got), QV_OK);
    ck_assert_mem_eq(once, rows, DIM * sizeof(float));
    qv_collection_release(c);
}
END_TEST

static void assert_msg(qv_collection *c, const char *part)
{
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, part), "message '%s' lacks '%s'", msg, part);
}

START_TEST(test_validation)
{
    qv_collection *c = new_collection(QV_METRIC_DOT, 0);
    float rows[2 * DIM] = {0};
    qv_point_id id = pid(1);
    ck_assert_int_eq(qv_multi_upsert(c, &id, rows, 0, DIM), QV_ERANGE);
    assert_msg(c, "0 rows");
    ck_assert_int_eq(qv_multi_upsert(c, &id, rows, 2, DIM - 1), QV_EDIM);
    rows[DIM + 3] = NAN;
    ck_assert_int_eq(qv_multi_upsert(c, &id, rows, 2, DIM), QV_ENONFINITE);
    assert_msg(c, "NaN");
    rows[DIM + 3] = 0;
    ck_assert_int_eq(qv_multi_upsert(c, &id, rows, QV_MAX_MULTI_ROWS + 1, DIM),
                     QV_ERANGE);
    /* A failed batch changed nothing. */
    uint64_t n = 1;
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    ck_assert_uint_eq(n, 0);
    /* Single-vector calls refuse a multivector collection. */
    ck_assert_int_eq(qv_upsert(c, &id, rows, DIM), QV_EINVAL);
    assert_msg(c, "multivectors");
    ck_assert_int_eq(qv_get(c, &id, rows, DIM), QV_EINVAL);
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit hits[10];
    size_t nh;
    ck_assert_int_eq(qv_search(c, rows, DIM, &p, hits, &nh), QV_EINVAL);
    ck_assert_int_eq(qv_multi_search(c, rows, 0, DIM, &p, hits, &nh),
                     QV_ERANGE);
    /* Bad payload JSON: nothing stored. */
    uint32_t one = 1;
    const char *bad = "{nope";
    size_t bl = strlen(bad);
    ck_assert_int_eq(
        qv_multi_upsert_batch(c, &id, 1, &one, rows, DIM, &bad, &bl),
        QV_EINVAL);
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    ck_assert_uint_eq(n, 0);
    qv_collection_release(c);

    /* And the multivector calls refuse a dense collection. */
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_int_eq(qv_multi_upsert(c, &id, rows, 1, DIM), QV_EINVAL);
    assert_msg(c, "needs a multivector collection");
    qv_collection_release(c);
    cfg.multivector = 7;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    cfg.multivector = QV_MULTIVECTOR_MAX_SIM; /* a sparse one: no matrices */
    cfg.kind = QV_VECTOR_SPARSE;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    cfg.kind = QV_VECTOR_DENSE;

    /* A store tells a multivector config from a dense one of the same
     * size. */
    qv_store *st = NULL;
    ck_assert_int_eq(qv_store_open(&st), QV_OK);
    cfg.multivector = QV_MULTIVECTOR_NONE;
    ck_assert_int_eq(qv_store_create(st, "a", &cfg, NULL), QV_OK);
    cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
    ck_assert_int_eq(qv_store_ensure(st, "a", &cfg, NULL, NULL), QV_EEXIST);
    qv_store_close(st);
}
END_TEST

/* Readers (search by graph and by scan, get) next to a writer that
 * replaces and deletes matrices, growing and compacting the arena: run
 * under ThreadSanitizer, and every answer must be well formed. */
typedef struct race {
    qv_collection *c;
    atomic_bool stop;
} race;

static void *race_reader(void *arg)
{
    race *r = arg;
    float q[2 * DIM], out[MAX_ROWS * DIM];
    for (int k = 0; k < 2 * DIM; k++)
        q[k] = (float)(k % 5) - 2.0f;
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 5;
    uint64_t round = 0;
    while (!atomic_load(&r->stop)) {
        p.exact = round++ % 2;
        qv_hit hits[5];
        size_t nh = 0;
        ck_assert_int_eq(qv_multi_search(r->c, q, 2, DIM, &p, hits, &nh),
                         QV_OK);
        for (size_t i = 1; i < nh; i++)
            ck_assert(hits[i - 1].score >= hits[i].score);
        qv_point_id id = pid(round % 64);
        uint32_t n = 0;
        qv_status st = qv_multi_get(r->c, &id, out, MAX_ROWS, &n);
        ck_assert(st == QV_OK || st == QV_ENOTFOUND);
        ck_assert(st != QV_OK || (n >= 1 && n <= MAX_ROWS));
    }
    return NULL;
}

START_TEST(test_readers_next_to_writer)
{
    race r = {.c = new_collection(QV_METRIC_DOT, 0)};
    atomic_init(&r.stop, false);
    float rows[MAX_ROWS * DIM];
    rng = 5;
    for (uint64_t i = 0; i < 64; i++) {
        for (int k = 0; k < MAX_ROWS * DIM; k++)
            rows[k] = gauss();
        qv_point_id id = pid(i);
        ck_assert_int_eq(qv_multi_upsert(r.c, &id, rows, 1 + i % MAX_ROWS, DIM),
                         QV_OK);
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, race_reader, &r), 0);
    for (uint64_t w = 0; w < 400; w++) {
        for (int k = 0; k < MAX_ROWS * DIM; k++)
            rows[k] = gauss();
        qv_point_id id = pid(w % 64);
        if (w % 7 == 3) {
            qv_status st = qv_delete(r.c, &id);
            ck_assert(st == QV_OK || st == QV_ENOTFOUND);
        } else {
            ck_assert_int_eq(
                qv_multi_upsert(r.c, &id, rows, 1 + w % MAX_ROWS, DIM), QV_OK);
        }
    }
    atomic_store(&r.stop, true);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    qv_collection_release(r.c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multivec");
    TCase *tc = tcase_create("maxsim");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_exact_equals_reference, 0,
                        QV_METRIC_MANHATTAN + 1);
    tcase_add_loop_test(tc, test_hnsw_recall, 0, QV_METRIC_MANHATTAN + 1);
    tcase_add_test(tc, test_filter_and_deletes);
    tcase_add_test(tc, test_replace_and_get);
    tcase_add_test(tc, test_cosine_unit_rows_kept);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_readers_next_to_writer);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
