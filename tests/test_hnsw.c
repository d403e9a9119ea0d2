/*
 * test_hnsw.c -- tests of the HNSW index (core/hnsw_*.c).
 *
 * Every build path is followed by the graph checker and a recall
 * measurement against a brute-force oracle written here, in plain scalar
 * C, independent of the index's kernels: bulk (one thread), parallel batch,
 * incremental inserts, deletes, deletes followed by re-inserts of the same
 * slots with new vectors.  Then filters, concurrent searches (meant to run
 * under ThreadSanitizer too), entry-point removal down to an empty graph,
 * argument errors, and the checker itself, fed deliberately broken graphs
 * so that each of its checks is seen to fail.
 *
 * Data are Gaussian mixtures from a seeded generator, so every run sees the
 * same points; sizes are small (5k-20k points of 32 dimensions) to keep CI
 * and the sanitizer builds fast.  Thresholds are on recall, never on time.
 * Under ThreadSanitizer (scripts/test runs this suite there for its
 * threads) the four largest data sets are halved: that phase of the test
 * command waited 113 s on this one suite; the halved sets run the same
 * threaded code paths, which is what TSan checks.
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"

#if defined(__SANITIZE_THREAD__)
#define SHRINK 2
#else
#define SHRINK 1
#endif

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data ---------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(rng *r)
{
    return ((double)(next_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

static float gauss(rng *r)
{
    return (float)(sqrt(-2.0 * log(uniform(r))) *
                   cos(6.283185307179586 * uniform(r)));
}

typedef struct dataset {
    float *base; /* n rows of stride floats, zero padded */
    float *centres;
    size_t n, stride;
    uint32_t dim, nc;
    float noise; /* standard deviation around a centre */
    qv_metric metric;
    rng r;
} dataset;

/* Draws one mixture point into v (dim floats); normalised under cosine. */
static void draw(dataset *d, float *v)
{
    uint32_t c = (uint32_t)(next_u64(&d->r) % d->nc);
    double norm = 0;
    for (uint32_t j = 0; j < d->dim; j++) {
        v[j] = d->centres[c * d->dim + j] + d->noise * gauss(&d->r);
        norm += (double)v[j] * v[j];
    }
    if (d->metric == QV_METRIC_COSINE && norm > 0) {
        for (uint32_t j = 0; j < d->dim; j++)
            v[j] = (float)(v[j] / sqrt(norm));
    }
}

/* n points around nc centres drawn from N(0, cscale^2), noise sd. */
static void make_data_ex(dataset *d, size_t n, uint32_t dim, qv_metric metric,
                         uint64_t seed, uint32_t nc, float cscale, float noise)
{
    memset(d, 0, sizeof(*d));
    d->n = n;
    d->dim = dim;
    d->stride = (dim + 15) / 16 * 16;
    d->metric = metric;
    d->nc = nc;
    d->noise = noise;
    d->r.s = seed;
    d->centres = malloc(d->nc * dim * sizeof(float));
    d->base = aligned_alloc(64, n * d->stride * sizeof(float));
    ck_assert_ptr_nonnull(d->centres);
    ck_assert_ptr_nonnull(d->base);
    memset(d->base, 0, n * d->stride * sizeof(float));
    for (size_t i = 0; i < d->nc * dim; i++)
        d->centres[i] = cscale * gauss(&d->r);
    for (size_t i = 0; i < n; i++)
        draw(d, d->base + i * d->stride);
}

static void make_data(dataset *d, size_t n, uint32_t dim, qv_metric metric,
                      uint64_t seed)
{
    make_data_ex(d, n, dim, metric, seed, 24, 1.0f, 0.35f);
}

static void free_data(dataset *d)
{
    free(d->base);
    free(d->centres);
}

static qvi_vecview view_of(const dataset *d)
{
    qvi_vecview v = {d->base, d->stride, d->dim, d->metric, NULL};
    return v;
}

/* Reference distance, lower is better, in double. */
static double ref_dist(qv_metric m, const float *a, const float *b,
                       uint32_t dim)
{
    double s = 0;
    for (uint32_t j = 0; j < dim; j++) {
        switch (m) {
        case QV_METRIC_COSINE:
        case QV_METRIC_DOT:
            s -= (double)a[j] * b[j];
            break;
        case QV_METRIC_EUCLID:
            s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
            break;
        case QV_METRIC_MANHATTAN:
            s += fabs((double)a[j] - b[j]);
            break;
        }
    }
    return s;
}

/* Brute-force k nearest of q among the slots with live[s] (all if NULL)
 * and accepted by keep (all if NULL). */
static size_t brute(const dataset *d, const uint8_t *live, const float *q,
                    size_t k, bool (*keep)(uint32_t, void *), uint32_t *out)
{
    double *bd = malloc(k * sizeof(double));
    size_t n = 0;
    for (size_t s = 0; s < d->n; s++) {
        if ((live && !live[s]) || (keep && !keep((uint32_t)s, NULL)))
            continue;
        double x = ref_dist(d->metric, q, d->base + s * d->stride, d->dim);
        if (n == k && x >= bd[k - 1])
            continue;
        size_t i = n < k ? n++ : k - 1;
        while (i > 0 && bd[i - 1] > x) {
            bd[i] = bd[i - 1];
            out[i] = out[i - 1];
            i--;
        }
        bd[i] = x;
        out[i] = (uint32_t)s;
    }
    free(bd);
    return n;
}

#define K 10

/* Mean recall@10 of nq mixture queries with beam ef; checks that no result
 * is outside live (when given) or rejected by keep. */
static double measure_recall(qvi_hnsw *h, dataset *d, const uint8_t *live,
                             size_t nq, uint32_t ef, const qvi_accept *acc,
                             bool (*keep)(uint32_t, void *))
{
    qvi_hnsw_scratch *s = NULL;
    ck_assert_int_eq(qvi_hnsw_scratch_create(&s), QV_OK);
    qvi_vecview v = view_of(d);
    float *q = malloc(d->dim * sizeof(float));
    uint32_t truth[K], got[K];
    float dists[K];
    double total = 0;
    rng saved = d->r;
    d->r.s = 0xabcdef;
    for (size_t i = 0; i < nq; i++) {
        draw(d, q);
        size_t nt = brute(d, live, q, K, keep, truth);
        size_t ng = 99;
        ck_assert_int_eq(
            qvi_hnsw_search(h, &v, q, K, ef, acc, s, got, dists, &ng), QV_OK);
        ck_assert_uint_le(ng, K);
        size_t hit = 0;
        for (size_t a = 0; a < ng; a++) {
            if (live)
                ck_assert_msg(live[got[a]], "removed slot %u returned", got[a]);
            if (keep)
                ck_assert_msg(keep(got[a], NULL), "rejected slot %u returned",
                              got[a]);
            if (a > 0)
                ck_assert(dists[a - 1] <= dists[a]);
            for (size_t b = 0; b < nt; b++)
                hit += got[a] == truth[b];
        }
        total += nt ? (double)hit / (double)nt : 1.0;
    }
    d->r = saved;
    free(q);
    qvi_hnsw_scratch_free(s);
    return total / (double)nq;
}

static void assert_graph_ok(const qvi_hnsw *h, const dataset *d)
{
    char err[256];
    qvi_vecview v = view_of(d);
    qvi_hnsw_stats st;
    qv_status rc = qvi_hnsw_check(h, &v, &st, err, sizeof(err));
    ck_assert_msg(rc == QV_OK, "graph check failed: %s", err);
    ck_assert_uint_eq(st.nodes, qvi_hnsw_count(h));
    ck_assert_uint_eq(st.unreachable, 0);
}

/* After removals or single inserts a few nodes may be stranded until the
 * amortised reconnect runs (qvi_hnsw_maintain): allow a handful, then
 * reconnect and demand the full invariants. */
static void assert_graph_repairs(qvi_hnsw *h, const dataset *d)
{
    char err[256];
    qvi_vecview v = view_of(d);
    qvi_hnsw_stats st;
    qv_status rc = qvi_hnsw_check(h, &v, &st, err, sizeof(err));
    if (rc != QV_OK)
        ck_assert_msg(strstr(err, "unreachable") != NULL,
                      "graph check failed: %s", err);
    ck_assert_uint_le(st.unreachable, st.nodes / 1000 + 2);
    ck_assert_int_eq(qvi_hnsw_reconnect(h, &v, NULL), QV_OK);
    assert_graph_ok(h, d);
}

static qvi_hnsw *new_index(const dataset *d, uint32_t m, uint32_t efc)
{
    qvi_hnsw_params p;
    qvi_hnsw_params_init(&p);
    p.m = m;
    p.ef_construct = efc;
    qvi_hnsw *h = NULL;
    ck_assert_int_eq(qvi_hnsw_create(&p, d->dim, d->metric, &h), QV_OK);
    ck_assert_ptr_nonnull(h);
    return h;
}

static uint32_t *iota(size_t n)
{
    uint32_t *s = malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        s[i] = (uint32_t)i;
    return s;
}

/* ---- recall per metric and build path ------------------------------------ */

START_TEST(test_recall_each_metric)
{
    qv_metric metric = (qv_metric)_i;
    dataset d;
    make_data(&d, 5000, 32, metric, 11 + _i);
    qvi_hnsw *h = new_index(&d, 16, 100);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, d.n, 1), QV_OK);
    ck_assert_uint_eq(qvi_hnsw_count(h), d.n);
    assert_graph_ok(h, &d);
    /* Dot needs no wider beam since the graph is built with the
     * norm-aware distance (hnsw_build.c, "Inner product"). */
    uint32_t ef = 40;
    double r = measure_recall(h, &d, NULL, 200, ef, NULL, NULL);
    printf("hnsw %s: recall@10 %.4f (ef %u)\n",
           metric == QV_METRIC_COSINE   ? "cosine"
           : metric == QV_METRIC_DOT    ? "dot"
           : metric == QV_METRIC_EUCLID ? "euclid"
                                        : "manhattan",
           r, ef);
    ck_assert_msg(r >= 0.95, "recall %.4f", r);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* Inner product on unnormalised, clustered data (maximum inner product
 * search): 20 centres drawn from N(0, 16) in 32 dimensions, unit noise, so
 * norms vary from cluster to cluster.  A graph built with -dot between
 * data points links everything to the long vectors and searches get stuck:
 * recall@10 was 0.83 at ef 128 and 0.91 at ef 1024 before the build
 * distance of hnsw_build.c.  Every build path must reach 0.95 at ef 128:
 * parallel batch, one-by-one inserts, and removals followed by re-inserts
 * of the same slots with longer vectors. */
START_TEST(test_dot_unnormalised)
{
    dataset d;
    const size_t n = 4000 / SHRINK;
    make_data_ex(&d, n, 32, QV_METRIC_DOT, 71, 20, 4.0f, 1.0f);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(n);

    qvi_hnsw *b = new_index(&d, 16, 100);
    ck_assert_int_eq(qvi_hnsw_insert_batch(b, &v, slots, n, 2), QV_OK);
    assert_graph_ok(b, &d);
    double r64 = measure_recall(b, &d, NULL, 200, 64, NULL, NULL);
    double r128 = measure_recall(b, &d, NULL, 200, 128, NULL, NULL);
    printf("hnsw dot unnormalised, batch: recall@10 %.4f (ef 64), %.4f "
           "(ef 128)\n",
           r64, r128);
    ck_assert_msg(r128 >= 0.95, "recall %.4f", r128);
    qvi_hnsw_free(b);

    qvi_hnsw *h = new_index(&d, 16, 100);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(qvi_hnsw_insert(h, &v, slots[i]), QV_OK);
    assert_graph_ok(h, &d);
    double ri = measure_recall(h, &d, NULL, 200, 128, NULL, NULL);
    printf("hnsw dot unnormalised, incremental: recall@10 %.4f\n", ri);
    ck_assert_msg(ri >= 0.95, "recall %.4f", ri);

    /* Remove every third point, check, then give those slots new vectors
     * twice as long: the build distance must use the norms of the vectors
     * now in the slots, not of the removed ones. */
    uint8_t *live = malloc(n);
    memset(live, 1, n);
    for (size_t i = 0; i < n; i += 3) {
        ck_assert_int_eq(qvi_hnsw_remove(h, &v, (uint32_t)i), QV_OK);
        live[i] = 0;
    }
    assert_graph_ok(h, &d);
    /* After removals a few queries still need a wider beam: 0.96 at ef
     * 128, 1.0 at ef 256 (the delete repair is the next thing to improve
     * for dot), so this one is asserted at ef 256. */
    double rd128 = measure_recall(h, &d, live, 200, 128, NULL, NULL);
    double rd = measure_recall(h, &d, live, 200, 256, NULL, NULL);
    printf("hnsw dot unnormalised, after removing 1/3: recall@10 %.4f (ef "
           "128), %.4f (ef 256)\n",
           rd128, rd);
    ck_assert_msg(rd >= 0.95, "recall %.4f", rd);
    for (size_t i = 0; i < n; i += 3) {
        float *x = d.base + i * d.stride;
        draw(&d, x);
        for (uint32_t j = 0; j < d.dim; j++)
            x[j] *= 2.0f;
        ck_assert_int_eq(qvi_hnsw_insert(h, &v, (uint32_t)i), QV_OK);
    }
    assert_graph_ok(h, &d);
    double rr = measure_recall(h, &d, NULL, 200, 128, NULL, NULL);
    printf("hnsw dot unnormalised, after re-inserting longer: recall@10 "
           "%.4f\n",
           rr);
    ck_assert_msg(rr >= 0.95, "recall %.4f", rr);
    free(live);
    qvi_hnsw_free(h);
    free(slots);
    free_data(&d);
}
END_TEST

START_TEST(test_parallel_batch)
{
    dataset d;
    make_data(&d, 20000 / SHRINK, 32, QV_METRIC_EUCLID, 21);
    qvi_hnsw *h = new_index(&d, 16, 100);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    /* Two batches, so the second one starts from a non-empty graph. */
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, 1000, 2), QV_OK);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots + 1000, d.n - 1000, 4),
                     QV_OK);
    ck_assert_uint_eq(qvi_hnsw_count(h), d.n);
    assert_graph_ok(h, &d);
    double r = measure_recall(h, &d, NULL, 200, 64, NULL, NULL);
    printf("hnsw parallel batch: recall@10 %.4f\n", r);
    ck_assert_msg(r >= 0.95, "recall %.4f", r);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

START_TEST(test_incremental)
{
    dataset d;
    make_data(&d, 5000, 32, QV_METRIC_COSINE, 31);
    qvi_hnsw *h = new_index(&d, 8, 64);
    qvi_vecview v = view_of(&d);
    /* Slots in a scattered order, so capacity grows out of order. */
    for (size_t i = 0; i < d.n; i++) {
        uint32_t slot = (uint32_t)((i * 7919) % d.n);
        ck_assert_int_eq(qvi_hnsw_insert(h, &v, slot), QV_OK);
        if (i == 0 || i == 1 || i == 100)
            assert_graph_ok(h, &d);
    }
    assert_graph_ok(h, &d);
    double r = measure_recall(h, &d, NULL, 200, 64, NULL, NULL);
    printf("hnsw incremental (m 8): recall@10 %.4f\n", r);
    ck_assert_msg(r >= 0.95, "recall %.4f", r);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* Two single-threaded builds with one seed are identical. */
START_TEST(test_reproducible)
{
    dataset d;
    make_data(&d, 3000, 16, QV_METRIC_EUCLID, 41);
    qvi_hnsw *a = new_index(&d, 12, 50), *b = new_index(&d, 12, 50);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(a, &v, slots, d.n, 1), QV_OK);
    for (size_t i = 0; i < d.n; i++)
        ck_assert_int_eq(qvi_hnsw_insert(b, &v, slots[i]), QV_OK);
    ck_assert_int_eq(a->entry, b->entry);
    ck_assert_int_eq(a->max_level, b->max_level);
    ck_assert_mem_eq(a->levels, b->levels, d.n);
    /* Only the used part of each record is defined. */
    for (size_t i = 0; i < d.n; i++) {
        const uint32_t *ra = a->links0 + i * a->rec0;
        const uint32_t *rb = b->links0 + i * b->rec0;
        ck_assert_uint_eq(ra[0], rb[0]);
        ck_assert_mem_eq(ra + 1, rb + 1, ra[0] * sizeof(uint32_t));
    }
    free(slots);
    qvi_hnsw_free(a);
    qvi_hnsw_free(b);
    free_data(&d);
}
END_TEST

/* ---- deletes ------------------------------------------------------------- */

START_TEST(test_delete_reinsert)
{
    dataset d;
    const size_t n = 10000 / SHRINK;
    make_data(&d, n, 32, QV_METRIC_EUCLID, 51);
    qvi_hnsw *h = new_index(&d, 16, 100);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(n);
    uint8_t *live = malloc(n);
    memset(live, 1, n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, n, 2), QV_OK);

    /* Remove 30% of the points, chosen at random, entry point included. */
    rng r = {77};
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = next_u64(&r) % (i + 1);
        uint32_t t = slots[i];
        slots[i] = slots[j];
        slots[j] = t;
    }
    size_t nrem = n * 3 / 10;
    uint32_t ep = h->entry;
    for (size_t i = 0; i < nrem; i++) {
        if (live[ep]) {
            /* swap the entry point into the removal set */
            for (size_t j = i; j < n; j++) {
                if (slots[j] == ep) {
                    slots[j] = slots[i];
                    slots[i] = ep;
                    break;
                }
            }
        }
        ck_assert_int_eq(qvi_hnsw_remove(h, &v, slots[i]), QV_OK);
        live[slots[i]] = 0;
        ck_assert(!qvi_hnsw_contains(h, slots[i]));
        if (i % 500 == 0)
            assert_graph_repairs(h, &d);
    }
    ck_assert(live[ep] == 0);
    ck_assert_int_eq(qvi_hnsw_remove(h, &v, slots[0]), QV_ENOTFOUND);
    ck_assert_uint_eq(qvi_hnsw_count(h), n - nrem);
    assert_graph_repairs(h, &d);
    double r_del = measure_recall(h, &d, live, 200, 64, NULL, NULL);
    printf("hnsw after removing 30%%: recall@10 %.4f\n", r_del);
    ck_assert_msg(r_del >= 0.95, "recall %.4f", r_del);

    /* Re-insert the removed slots with new vectors; the collection would
     * overwrite the vectors before calling insert. */
    for (size_t i = 0; i < nrem; i++)
        draw(&d, d.base + slots[i] * d.stride);
    for (size_t i = 0; i < nrem; i++) {
        ck_assert_int_eq(qvi_hnsw_insert(h, &v, slots[i]), QV_OK);
        live[slots[i]] = 1;
    }
    assert_graph_repairs(h, &d);
    double r_re = measure_recall(h, &d, NULL, 300, 64, NULL, NULL);

    /* A fresh build of the same final vectors. */
    qvi_hnsw *f = new_index(&d, 16, 100);
    uint32_t *all = iota(n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(f, &v, all, n, 2), QV_OK);
    double r_fresh = measure_recall(f, &d, NULL, 300, 64, NULL, NULL);
    printf("hnsw after re-inserting 30%%: recall@10 %.4f, fresh build "
           "%.4f\n",
           r_re, r_fresh);
    ck_assert_msg(r_re >= r_fresh - 0.01, "recall %.4f vs fresh %.4f", r_re,
                  r_fresh);
    free(all);
    qvi_hnsw_free(f);
    free(live);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* qvi_hnsw_replace (an upsert of existing ids, relinked beside searches):
 * 30% of the slots get new vectors, the entry point first and some
 * replaced twice; the graph stays whole, levels and count stay, and
 * recall against exact search matches a fresh build of the final
 * vectors.  Replacing beside new pending nodes leaves them alone. */
START_TEST(test_replace_in_place)
{
    dataset d;
    const size_t n = 6000 / SHRINK, extra = 200;
    make_data(&d, n + extra, 32, QV_METRIC_EUCLID, 53);
    qvi_hnsw *h = new_index(&d, 16, 100);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(n + extra);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, n, 2), QV_OK);
    uint64_t lv_before = 0;
    for (size_t i = 0; i < n; i++)
        lv_before += h->levels[i];

    /* New nodes prepared, not linked: replacing must not touch them nor
     * pick one as entry point. */
    ck_assert_int_eq(qvi_hnsw_insert_prepare(h, &v, slots + n, extra), QV_OK);
    ck_assert_uint_eq(qvi_hnsw_count(h), n);
    ck_assert(!qvi_hnsw_contains(h, (uint32_t)n));

    rng r = {91};
    size_t nrep = n * 3 / 10;
    uint32_t first = h->entry;
    for (size_t i = 0; i < nrep; i++) {
        uint32_t s = i == 0 ? first : (uint32_t)(next_u64(&r) % n);
        draw(&d, d.base + (size_t)s * d.stride);
        ck_assert_int_eq(qvi_hnsw_replace(h, &v, s), QV_OK);
        ck_assert(qvi_hnsw_contains(h, s));
    }
    ck_assert_int_eq(qvi_hnsw_replace(h, &v, (uint32_t)n), QV_ENOTFOUND);
    ck_assert_int_eq(qvi_hnsw_replace(NULL, &v, 0), QV_ENULL);
    ck_assert_uint_eq(qvi_hnsw_count(h), n);
    uint64_t lv_after = 0;
    for (size_t i = 0; i < n; i++)
        lv_after += h->levels[i];
    ck_assert_uint_eq(lv_after, lv_before);

    qvi_hnsw_insert_link(h, &v, slots + n, extra, 1);
    ck_assert_uint_eq(qvi_hnsw_count(h), n + extra);
    d.n = n + extra;
    assert_graph_repairs(h, &d);
    double r_rep = measure_recall(h, &d, NULL, 300, 64, NULL, NULL);

    qvi_hnsw *f = new_index(&d, 16, 100);
    ck_assert_int_eq(qvi_hnsw_insert_batch(f, &v, slots, n + extra, 2), QV_OK);
    double r_fresh = measure_recall(f, &d, NULL, 300, 64, NULL, NULL);
    printf("hnsw after replacing 30%% in place: recall@10 %.4f, fresh "
           "build %.4f\n",
           r_rep, r_fresh);
    ck_assert_msg(r_rep >= r_fresh - 0.01, "recall %.4f vs fresh %.4f", r_rep,
                  r_fresh);
    qvi_hnsw_free(f);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* Removing the entry point again and again down to an empty graph keeps
 * max_level right (the Redis vector-sets crash) and the graph searchable. */
START_TEST(test_remove_entry_until_empty)
{
    dataset d;
    const size_t n = 600;
    make_data(&d, n, 8, QV_METRIC_EUCLID, 61);
    qvi_hnsw *h = new_index(&d, 2, 8); /* m = 2: many levels */
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, n, 1), QV_OK);
    ck_assert_int_gt(h->max_level, 2);
    qvi_hnsw_scratch *s;
    ck_assert_int_eq(qvi_hnsw_scratch_create(&s), QV_OK);
    uint32_t out[K];
    size_t nout;
    for (size_t left = n; left > 0; left--) {
        uint32_t ep = h->entry;
        ck_assert_int_eq(qvi_hnsw_remove(h, &v, ep), QV_OK);
        /* With m = 2 removals strand a few nodes, as the header says:
         * reconnect as the collection would, then check. */
        ck_assert_int_eq(qvi_hnsw_reconnect(h, &v, NULL), QV_OK);
        if (left % 50 == 1 || left < 5)
            assert_graph_ok(h, &d);
        ck_assert_int_eq(
            qvi_hnsw_search(h, &v, d.base, K, 16, NULL, s, out, NULL, &nout),
            QV_OK);
        ck_assert_uint_eq(nout, left - 1 < K ? left - 1 : K);
        for (size_t i = 0; i < nout; i++)
            ck_assert_uint_ne(out[i], ep);
    }
    ck_assert_int_eq(h->max_level, -1);
    ck_assert_uint_eq(qvi_hnsw_count(h), 0);
    /* And it grows again from nothing. */
    ck_assert_int_eq(qvi_hnsw_insert(h, &v, 5), QV_OK);
    ck_assert_int_eq(
        qvi_hnsw_search(h, &v, d.base, K, 16, NULL, s, out, NULL, &nout),
        QV_OK);
    ck_assert_uint_eq(nout, 1);
    ck_assert_uint_eq(out[0], 5);
    assert_graph_ok(h, &d);
    qvi_hnsw_scratch_free(s);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* ---- filters ------------------------------------------------------------- */

static bool even(uint32_t slot, void *ctx)
{
    (void)ctx;
    return slot % 2 == 0;
}

START_TEST(test_accept_filter)
{
    dataset d;
    make_data(&d, 8000, 32, QV_METRIC_EUCLID, 71);
    qvi_hnsw *h = new_index(&d, 16, 100);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, d.n, 2), QV_OK);

    qvi_accept by_fn = {.fn = even};
    double r1 = measure_recall(h, &d, NULL, 200, 128, &by_fn, even);
    uint64_t *bits = calloc((d.n + 63) / 64, sizeof(uint64_t));
    for (size_t s = 0; s < d.n; s += 2)
        bits[s / 64] |= 1ull << (s % 64);
    qvi_accept by_bits = {.bitmap = bits, .nbits = d.n};
    double r2 = measure_recall(h, &d, NULL, 200, 128, &by_bits, even);
    printf("hnsw filter (half the points): recall@10 %.4f (fn), %.4f "
           "(bitmap)\n",
           r1, r2);
    ck_assert_msg(r1 >= 0.95, "recall %.4f", r1);
    ck_assert(r1 == r2);

    /* A bitmap shorter than the slots rejects the rest. */
    by_bits.nbits = 64;
    qvi_hnsw_scratch *s;
    ck_assert_int_eq(qvi_hnsw_scratch_create(&s), QV_OK);
    uint32_t out[K];
    size_t nout;
    ck_assert_int_eq(qvi_hnsw_search(h, &v, d.base + 5000 * d.stride, K, 64,
                                     &by_bits, s, out, NULL, &nout),
                     QV_OK);
    for (size_t i = 0; i < nout; i++)
        ck_assert_uint_lt(out[i], 64);
    qvi_hnsw_scratch_free(s);
    free(bits);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* ---- concurrency --------------------------------------------------------- */

typedef struct search_job {
    qvi_hnsw *h;
    dataset *d;
    size_t first, nq;
    uint32_t *out; /* nq * K */
    int rc;
} search_job;

static void *search_thread(void *arg)
{
    search_job *j = arg;
    qvi_hnsw_scratch *s = NULL;
    j->rc = qvi_hnsw_scratch_create(&s);
    qvi_vecview v = view_of(j->d);
    for (size_t q = 0; q < j->nq && j->rc == QV_OK; q++) {
        size_t n;
        const float *query = j->d->base + (j->first + q) * j->d->stride;
        j->rc = qvi_hnsw_search(j->h, &v, query, K, 32, NULL, s, j->out + q * K,
                                NULL, &n);
        if (j->rc == QV_OK && n != K)
            j->rc = -1;
    }
    qvi_hnsw_scratch_free(s);
    return NULL;
}

START_TEST(test_concurrent_searches)
{
    dataset d;
    make_data(&d, 4000, 16, QV_METRIC_COSINE, 81);
    qvi_hnsw *h = new_index(&d, 16, 64);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, d.n, 2), QV_OK);
    enum { T = 4, NQ = 300 };
    search_job jobs[T];
    pthread_t tids[T];
    uint32_t *want = malloc(NQ * K * sizeof(uint32_t));
    search_job ref = {h, &d, 0, NQ, want, 0};
    search_thread(&ref);
    ck_assert_int_eq(ref.rc, QV_OK);
    for (int t = 0; t < T; t++) {
        jobs[t] = (search_job){h, &d, 0, NQ, malloc(NQ * K * 4), 0};
        ck_assert_int_eq(
            pthread_create(&tids[t], NULL, search_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(tids[t], NULL);
        ck_assert_int_eq(jobs[t].rc, QV_OK);
        ck_assert_mem_eq(jobs[t].out, want, NQ * K * sizeof(uint32_t));
        free(jobs[t].out);
    }
    free(want);
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(test_errors)
{
    dataset d;
    make_data(&d, 100, 8, QV_METRIC_DOT, 91);
    qvi_hnsw_params p;
    qvi_hnsw_params_init(&p);
    qvi_hnsw *h = NULL;
    p.m = 1;
    ck_assert_int_eq(qvi_hnsw_create(&p, 8, QV_METRIC_DOT, &h), QV_ERANGE);
    ck_assert_ptr_null(h);
    p.m = 16;
    p.ef_construct = QV_MAX_EF_CONSTRUCT + 1;
    ck_assert_int_eq(qvi_hnsw_create(&p, 8, QV_METRIC_DOT, &h), QV_ERANGE);
    p.ef_construct = 100;
    ck_assert_int_eq(qvi_hnsw_create(&p, 0, QV_METRIC_DOT, &h), QV_ERANGE);
    ck_assert_int_eq(qvi_hnsw_create(&p, 8, (qv_metric)9, &h), QV_EINVAL);
    ck_assert_int_eq(qvi_hnsw_create(NULL, 8, QV_METRIC_DOT, &h), QV_ENULL);
    ck_assert_int_eq(qvi_hnsw_create(&p, 8, QV_METRIC_DOT, NULL), QV_ENULL);
    ck_assert_int_eq(qvi_hnsw_create(&p, 8, QV_METRIC_DOT, &h), QV_OK);
    qvi_hnsw_free(NULL);
    qvi_hnsw_scratch_free(NULL);

    qvi_vecview v = view_of(&d);
    qvi_hnsw_scratch *s;
    ck_assert_int_eq(qvi_hnsw_scratch_create(&s), QV_OK);
    uint32_t out[K];
    size_t nout = 7;
    /* Empty index: no hits. */
    ck_assert_int_eq(
        qvi_hnsw_search(h, &v, d.base, K, 10, NULL, s, out, NULL, &nout),
        QV_OK);
    ck_assert_uint_eq(nout, 0);
    ck_assert_int_eq(qvi_hnsw_insert(h, &v, 3), QV_OK);
    ck_assert_int_eq(qvi_hnsw_insert(h, &v, 3), QV_EINVAL);
    ck_assert_int_eq(qvi_hnsw_insert(h, &v, QVI_HNSW_MAX_SLOTS), QV_ERANGE);
    ck_assert_int_eq(qvi_hnsw_reserve(h, (size_t)QVI_HNSW_MAX_SLOTS + 1),
                     QV_ERANGE);
    ck_assert_int_eq(qvi_hnsw_remove(h, &v, 4), QV_ENOTFOUND);
    ck_assert_int_eq(qvi_hnsw_remove(h, &v, 1u << 30), QV_ENOTFOUND);
    uint32_t dup[3] = {5, 6, 5};
    uint64_t rng_before = h->rng;
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, dup, 3, 2), QV_EINVAL);
    ck_assert_uint_eq(h->rng, rng_before);
    ck_assert(!qvi_hnsw_contains(h, 5));
    ck_assert(!qvi_hnsw_contains(h, 6));
    ck_assert_uint_eq(qvi_hnsw_count(h), 1);
    uint32_t present[2] = {7, 3};
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, present, 2, 1), QV_EINVAL);
    ck_assert(!qvi_hnsw_contains(h, 7));

    qvi_vecview bad = v;
    bad.dim = 9;
    ck_assert_int_eq(qvi_hnsw_insert(h, &bad, 8), QV_EINVAL);
    bad = v;
    bad.metric = QV_METRIC_EUCLID;
    ck_assert_int_eq(
        qvi_hnsw_search(h, &bad, d.base, K, 10, NULL, s, out, NULL, &nout),
        QV_EINVAL);
    bad = v;
    bad.base = NULL;
    ck_assert_int_eq(qvi_hnsw_remove(h, &bad, 3), QV_ENULL);
    ck_assert_int_eq(
        qvi_hnsw_search(h, &v, d.base, 0, 10, NULL, s, out, NULL, &nout),
        QV_ERANGE);
    ck_assert_int_eq(qvi_hnsw_search(h, &v, d.base, K, QV_MAX_EF + 1, NULL, s,
                                     out, NULL, &nout),
                     QV_ERANGE);
    ck_assert_int_eq(
        qvi_hnsw_search(h, &v, d.base, K, 10, NULL, NULL, out, NULL, &nout),
        QV_ENULL);
    ck_assert_int_eq(
        qvi_hnsw_search(h, &v, d.base, K, 10, NULL, s, out, NULL, &nout),
        QV_OK);
    ck_assert_uint_eq(nout, 1);
    ck_assert_uint_eq(out[0], 3);
    ck_assert_uint_gt(qvi_hnsw_memory_bytes(h), 0);
    ck_assert_uint_eq(qvi_hnsw_memory_bytes(NULL), 0);
    assert_graph_ok(h, &d);
    qvi_hnsw_scratch_free(s);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

/* ---- the checker catches what it claims to ------------------------------- */

START_TEST(test_checker_detects)
{
    dataset d;
    make_data(&d, 500, 8, QV_METRIC_EUCLID, 101);
    qvi_hnsw *h = new_index(&d, 4, 32);
    qvi_vecview v = view_of(&d);
    uint32_t *slots = iota(d.n);
    ck_assert_int_eq(qvi_hnsw_reserve(h, d.n + 10), QV_OK);
    ck_assert_int_eq(qvi_hnsw_insert_batch(h, &v, slots, d.n, 1), QV_OK);
    assert_graph_ok(h, &d);
    char err[256];
    /* Pick a node with at least two level-0 links. */
    uint32_t s = 0;
    while (h->links0[s * h->rec0] < 2)
        s++;
    uint32_t *rec = h->links0 + s * h->rec0;
    uint32_t saved1 = rec[1], saved2 = rec[2], savedc = rec[0];

    struct {
        const char *what;
        int id;
    } cases[] = {{"itself", 0}, {"twice", 1},      {"dangling", 2},
                 {"beyond", 3}, {"in-links", 4},   {"links on level", 5},
                 {"entry", 6},  {"unreachable", 7}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint32_t absent = (uint32_t)d.n + 1; /* < cap, never inserted */
        uint32_t saved_entry = h->entry;
        uint32_t *saved0 = NULL;
        switch (cases[c].id) {
        case 0:
            rec[1] = s;
            break;
        case 1:
            rec[2] = rec[1];
            break;
        case 2:
            ck_assert_uint_lt(absent, h->cap);
            rec[1] = absent;
            break;
        case 3:
            rec[1] = h->cap + 5;
            break;
        case 4:
            h->indeg0[saved1]++;
            break;
        case 5:
            rec[0] = h->m0 + 1;
            break;
        case 6:
            h->entry = s == 0 ? 1 : 0;
            if (h->levels[h->entry] == h->max_level)
                h->entry = absent;
            break;
        case 7:
            /* Cut every link on every level: the entry reaches nothing. */
            saved0 = malloc(h->cap * h->rec0 * sizeof(uint32_t));
            memcpy(saved0, h->links0, h->cap * h->rec0 * sizeof(uint32_t));
            for (uint32_t x = 0; x < d.n; x++) {
                uint32_t *r0 = h->links0 + x * h->rec0;
                for (uint32_t i = 0; i < r0[0]; i++)
                    h->indeg0[r0[1 + i]]--;
                r0[0] = 0;
            }
            break;
        }
        qvi_hnsw_stats st;
        qv_status rc = qvi_hnsw_check(h, &v, &st, err, sizeof(err));
        ck_assert_msg(rc == QV_ECORRUPT, "case %s passed", cases[c].what);
        ck_assert_msg(strstr(err, cases[c].what) != NULL,
                      "case %s: message \"%s\"", cases[c].what, err);
        if (cases[c].id == 7) {
            ck_assert_uint_gt(st.unreachable, 0);
            memcpy(h->links0, saved0, h->cap * h->rec0 * sizeof(uint32_t));
            for (uint32_t x = 0; x < d.n; x++) {
                uint32_t *r0 = h->links0 + x * h->rec0;
                for (uint32_t i = 0; i < r0[0]; i++)
                    h->indeg0[r0[1 + i]]++;
            }
            free(saved0);
        }
        if (cases[c].id == 4)
            h->indeg0[saved1]--;
        h->entry = saved_entry;
        rec[0] = savedc;
        rec[1] = saved1;
        rec[2] = saved2;
        assert_graph_ok(h, &d);
    }
    free(slots);
    qvi_hnsw_free(h);
    free_data(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hnsw");
    TCase *tc = tcase_create("hnsw");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_recall_each_metric, 0,
                        QV_METRIC_MANHATTAN + 1);
    tcase_add_test(tc, test_dot_unnormalised);
    tcase_add_test(tc, test_parallel_batch);
    tcase_add_test(tc, test_incremental);
    tcase_add_test(tc, test_reproducible);
    tcase_add_test(tc, test_delete_reinsert);
    tcase_add_test(tc, test_replace_in_place);
    tcase_add_test(tc, test_remove_entry_until_empty);
    tcase_add_test(tc, test_accept_filter);
    tcase_add_test(tc, test_concurrent_searches);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_checker_detects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
