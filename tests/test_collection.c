/*
 * test_collection.c -- collection life cycle, point writes and reads, and
 * every bad-input case of those functions.
 */
#include "core/core.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static qv_collection *make(uint32_t dim, qv_metric metric)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = metric;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_ptr_nonnull(c);
    return c;
}

static qv_point_id uuid_id(const char *text)
{
    qv_point_id id;
    ck_assert_int_eq(qv_id_parse_uuid(text, &id), QV_OK);
    return id;
}

START_TEST(test_config_validation)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    qv_collection *c = (qv_collection *)0x1;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE); /* dim 0 */
    ck_assert_ptr_null(c);
    cfg.dim = QV_MAX_DIM + 1;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    cfg.dim = 4;
    cfg.metric = (qv_metric)7;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    cfg.metric = QV_METRIC_DOT;
    cfg.hnsw_m = 1;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    cfg.hnsw_m = 16;
    cfg.hnsw_ef_construct = QV_MAX_EF_CONSTRUCT + 1;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_ERANGE);
    ck_assert_int_eq(qv_collection_create(NULL, &c), QV_ENULL);
    ck_assert_int_eq(qv_collection_create(&cfg, NULL), QV_ENULL);
    cfg.hnsw_ef_construct = 100;
    cfg.dim = QV_MAX_DIM;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_collection_config got;
    ck_assert_int_eq(qv_collection_get_config(c, &got), QV_OK);
    ck_assert_uint_eq(got.dim, QV_MAX_DIM);
    ck_assert_int_eq(got.metric, QV_METRIC_DOT);
    qv_collection_release(c);
    qv_collection_release(NULL); /* legal */
}
END_TEST

START_TEST(test_upsert_get_replace)
{
    qv_collection *c = make(3, QV_METRIC_DOT);
    qv_point_id id = qv_id_from_num(42);
    float v[3] = {1, 2, 3}, w[3] = {-1, 0.5f, 7}, out[3];
    ck_assert_int_eq(qv_upsert(c, &id, v, 3), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, out, 3), QV_OK);
    ck_assert_mem_eq(out, v, sizeof(v));
    ck_assert_int_eq(qv_upsert(c, &id, w, 3), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, out, 3), QV_OK);
    ck_assert_mem_eq(out, w, sizeof(w));
    uint64_t n = 0;
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    ck_assert_uint_eq(n, 1);
    n = 0;
    ck_assert_int_eq(qv_count_approx(c, &n), QV_OK); /* no writer: exact */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(qv_count_approx(c, NULL), QV_ENULL);
    ck_assert_int_eq(qv_count_approx(NULL, &n), QV_ENULL);
    bool has = false;
    ck_assert_int_eq(qv_contains(c, &id, &has), QV_OK);
    ck_assert(has);
    qv_point_id other = qv_id_from_num(43);
    ck_assert_int_eq(qv_contains(c, &other, &has), QV_OK);
    ck_assert(!has);
    qv_collection_release(c);
}
END_TEST

/* qv_payload_bytes follows every way a payload changes: upsert with a
 * payload, set, overwrite, clear, delete and slot reuse; it is what strict
 * mode's max_collection_payload_size_bytes is checked against. */
START_TEST(test_payload_bytes)
{
    qv_collection *c = make(2, QV_METRIC_DOT);
    uint64_t b = 99;
    ck_assert_int_eq(qv_payload_bytes(c, &b), QV_OK);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(qv_payload_bytes(c, NULL), QV_ENULL);
    ck_assert_int_eq(qv_payload_bytes(NULL, &b), QV_ENULL);
    qv_point_id ids[2] = {qv_id_from_num(1), qv_id_from_num(2)};
    float v[4] = {1, 2, 3, 4};
    const char *pl[2] = {"{\"city\":\"Berlin\"}", "{}"};
    size_t lens[2] = {strlen(pl[0]), 2};
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, v, 2, 2, pl, lens), QV_OK);
    uint64_t one = 0;
    ck_assert_int_eq(qv_payload_bytes(c, &one), QV_OK);
    ck_assert_uint_gt(one, 0);
    ck_assert_int_eq(qv_payload_set(c, &ids[1], pl[0], lens[0], NULL), QV_OK);
    uint64_t two = 0; /* a merged blob need not be the upserted one's size */
    ck_assert_int_eq(qv_payload_bytes(c, &two), QV_OK);
    ck_assert_uint_gt(two, one);
    const char *big = "{\"city\":\"Berlin\",\"text\":\"a longer text\"}";
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[0], big, strlen(big)), QV_OK);
    ck_assert_int_eq(qv_payload_bytes(c, &b), QV_OK);
    ck_assert_uint_gt(b, two);
    ck_assert_int_eq(qv_payload_clear(c, &ids[0]), QV_OK);
    ck_assert_int_eq(qv_payload_bytes(c, &b), QV_OK);
    ck_assert(b > 0 && b < two);
    ck_assert_int_eq(qv_delete(c, &ids[1]), QV_OK);
    ck_assert_int_eq(qv_payload_bytes(c, &b), QV_OK);
    ck_assert_uint_eq(b, 0);
    /* the freed slot is reused by a point without payload */
    qv_point_id id3 = qv_id_from_num(3);
    ck_assert_int_eq(qv_upsert(c, &id3, v, 2), QV_OK);
    ck_assert_int_eq(qv_payload_bytes(c, &b), QV_OK);
    ck_assert_uint_eq(b, 0);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_cosine_normalises_and_zero_stays_zero)
{
    qv_collection *c = make(4, QV_METRIC_COSINE);
    qv_point_id a = qv_id_from_num(1), z = qv_id_from_num(2);
    float v[4] = {3, 0, 4, 0}, zero[4] = {0}, out[4];
    ck_assert_int_eq(qv_upsert(c, &a, v, 4), QV_OK);
    ck_assert_int_eq(qv_upsert(c, &z, zero, 4), QV_OK);
    ck_assert_int_eq(qv_get(c, &a, out, 4), QV_OK);
    ck_assert_float_eq_tol(out[0], 0.6f, 1e-6f);
    ck_assert_float_eq_tol(out[2], 0.8f, 1e-6f);
    ck_assert_int_eq(qv_get(c, &z, out, 4), QV_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(out[i] == 0.0f);

    /* The zero vector scores exactly 0, and a zero query scores 0 too. */
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit hits[10];
    size_t n = 0;
    ck_assert_int_eq(qv_search(c, v, 4, &p, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(hits[0].id.u.num, 1);
    ck_assert_float_eq_tol(hits[0].score, 1.0f, 1e-6f);
    ck_assert(hits[1].score == 0.0f);
    ck_assert_int_eq(qv_search(c, zero, 4, &p, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert(hits[i].score == 0.0f && !isnan(hits[i].score));
    ck_assert_int_eq(qv_search_batch(c, zero, 1, 4, &p, hits, &n), QV_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(hits[i].score == 0.0f);
    qv_collection_release(c);
}
END_TEST

/* Cosine leaves a vector whose squared norm is within 1e-6 of 1 as given
 * (Qdrant's is_length_zero_or_normalized): unit vectors keep every bit,
 * so writing back what was read, again and again, changes nothing. */
START_TEST(test_cosine_keeps_unit_vectors_exactly)
{
    qv_collection *c = make(64, QV_METRIC_COSINE);
    uint64_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        float v[64], first[64], out[64];
        for (int i = 0; i < 64; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            v[i] = (float)((double)(seed >> 40) / (double)(1ull << 24)) - 0.5f;
        }
        qv_point_id id = qv_id_from_num((uint64_t)round);
        ck_assert_int_eq(qv_upsert(c, &id, v, 64), QV_OK);
        ck_assert_int_eq(qv_get(c, &id, first, 64), QV_OK);
        for (int hop = 0; hop < 3; hop++) {
            ck_assert_int_eq(qv_upsert(c, &id, first, 64), QV_OK);
            ck_assert_int_eq(qv_get(c, &id, out, 64), QV_OK);
            ck_assert_mem_eq(out, first, sizeof(out));
        }
    }
    /* a vector already of unit length is stored bit for bit */
    float unit[64] = {0}, out[64];
    unit[3] = 0.6f;
    unit[9] = 0.8f; /* 0.36 + 0.64 rounds to within 1e-6 of 1 */
    qv_point_id u = qv_id_from_num(999);
    ck_assert_int_eq(qv_upsert(c, &u, unit, 64), QV_OK);
    ck_assert_int_eq(qv_get(c, &u, out, 64), QV_OK);
    ck_assert_mem_eq(out, unit, sizeof(out));
    qv_collection_release(c);
}
END_TEST

START_TEST(test_bad_vectors_change_nothing)
{
    qv_collection *c = make(3, QV_METRIC_EUCLID);
    qv_point_id id = qv_id_from_num(7);
    float good[3] = {1, 1, 1};
    ck_assert_int_eq(qv_upsert(c, &id, good, 3), QV_OK);

    float nanv[3] = {1, NAN, 1}, infv[3] = {INFINITY, 0, 0};
    ck_assert_int_eq(qv_upsert(c, &id, nanv, 3), QV_ENONFINITE);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "NaN"));
    ck_assert_int_eq(qv_upsert(c, &id, infv, 3), QV_ENONFINITE);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "infinite"));
    ck_assert_int_eq(qv_upsert(c, &id, good, 2), QV_EDIM);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "expects 3"));
    ck_assert_int_eq(qv_upsert(c, NULL, good, 3), QV_ENULL);
    ck_assert_int_eq(qv_upsert(c, &id, NULL, 3), QV_ENULL);
    ck_assert_int_eq(qv_upsert(NULL, &id, good, 3), QV_ENULL);
    qv_point_id bad = {.kind = 9};
    ck_assert_int_eq(qv_upsert(c, &bad, good, 3), QV_EINVAL);

    float out[3];
    ck_assert_int_eq(qv_get(c, &id, out, 3), QV_OK);
    ck_assert_mem_eq(out, good, sizeof(good));
    ck_assert_int_eq(qv_get(c, &id, out, 4), QV_EDIM);
    ck_assert_int_eq(qv_get(c, &id, NULL, 3), QV_ENULL);

    /* A batch with one bad row in the middle leaves everything as it was. */
    qv_point_id ids[3] = {qv_id_from_num(100), qv_id_from_num(7),
                          qv_id_from_num(101)};
    float rows[9] = {1, 2, 3, 9, 9, 9, 4, NAN, 6};
    ck_assert_int_eq(qv_upsert_batch(c, ids, rows, 3, 3), QV_ENONFINITE);
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(qv_get(c, &ids[0], out, 3), QV_ENOTFOUND);
    ck_assert_int_eq(qv_get(c, &id, out, 3), QV_OK);
    ck_assert_mem_eq(out, good, sizeof(good));
    ck_assert_int_eq(qv_upsert_batch(c, ids, rows, 0, 3), QV_OK);
    qv_collection_release(c);
}
END_TEST

/* Qdrant stores a vector whose squared norm overflows float (its upsert
 * checks the dimension only; lib/api/src/rest/schema.rs VectorStruct), so
 * the library does too.  Its products overflow: +inf is the best dot
 * score there is, and inf - inf (a product of [1e30, 1e30] with
 * [-1e30, 1e30]) is NaN, which must neither break the heaps nor depend on
 * the path taken: it ranks last, as the worst distance, after every
 * finite score, on the exact scan, the graph and the batch alike. */
START_TEST(test_huge_dot_vectors_stored)
{
    for (int graph = 0; graph < 2; graph++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = 4;
        cfg.metric = QV_METRIC_DOT;
        if (graph)
            cfg.full_scan_threshold_kb = 0; /* the graph from the start */
        qv_collection *c = NULL;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        float rows[5][4] = {{1e30f, 1e30f, 0, 0},
                            {-1e30f, 1e30f, 0, 0},
                            {1, 2, 0, 0},
                            {1e30f, -1e30f, 0, 0},
                            {0, 0, 1, 1}};
        for (uint64_t i = 0; i < 5; i++) {
            qv_point_id id = qv_id_from_num(i + 1);
            ck_assert_int_eq(qv_upsert(c, &id, rows[i], 4), QV_OK);
        }
        float back[4];
        qv_point_id one = qv_id_from_num(1);
        ck_assert_int_eq(qv_get(c, &one, back, 4), QV_OK);
        ck_assert(back[0] == 1e30f && back[1] == 1e30f); /* kept as given */

        qv_search_params p;
        qv_search_params_init(&p);
        float q[4] = {1e30f, 1e30f, 0, 0};
        qv_hit a[10], b[10];
        size_t na = 0, nb = 0;
        for (int mode = 0; mode < 3; mode++) {
            p.exact = mode == 1;
            if (mode < 2)
                ck_assert_int_eq(qv_search(c, q, 4, &p, a, &na), QV_OK);
            else
                ck_assert_int_eq(qv_search_batch(c, q, 1, 4, &p, a, &na),
                                 QV_OK);
            ck_assert_uint_eq(na, 5);
            /* 1: +inf; 3: 3e30; 5: 0; 2 and 4: NaN, last, by id. */
            ck_assert_uint_eq(a[0].id.u.num, 1);
            ck_assert(isinf(a[0].score) && a[0].score > 0);
            ck_assert_uint_eq(a[1].id.u.num, 3);
            ck_assert_float_eq_tol(a[1].score, 3e30f, 1e24f);
            ck_assert_uint_eq(a[2].id.u.num, 5);
            ck_assert(a[2].score == 0.0f);
            ck_assert(!isfinite(a[3].score) && !isfinite(a[4].score));
            ck_assert(a[3].id.u.num == 2 || a[3].id.u.num == 4);
            ck_assert(a[4].id.u.num == 2 || a[4].id.u.num == 4);
            ck_assert(a[3].id.u.num != a[4].id.u.num);
            /* The same answer twice. */
            if (mode < 2)
                ck_assert_int_eq(qv_search(c, q, 4, &p, b, &nb), QV_OK);
            else
                ck_assert_int_eq(qv_search_batch(c, q, 1, 4, &p, b, &nb),
                                 QV_OK);
            ck_assert_uint_eq(nb, na);
            for (size_t i = 0; i < na; i++)
                ck_assert_uint_eq(a[i].id.u.num, b[i].id.u.num);
        }
        /* An ordinary query scores them finitely. */
        float small[4] = {1, 0, 0, 0};
        p.exact = false;
        ck_assert_int_eq(qv_search(c, small, 4, &p, a, &na), QV_OK);
        ck_assert_uint_eq(na, 5);
        ck_assert_uint_eq(a[0].id.u.num, 1);
        ck_assert(a[0].score == 1e30f);
        qv_collection_release(c);
    }
}
END_TEST

START_TEST(test_batch_last_duplicate_wins)
{
    qv_collection *c = make(2, QV_METRIC_DOT);
    qv_point_id ids[3] = {qv_id_from_num(5), qv_id_from_num(6),
                          qv_id_from_num(5)};
    float rows[6] = {1, 1, 2, 2, 3, 3}, out[2];
    ck_assert_int_eq(qv_upsert_batch(c, ids, rows, 3, 2), QV_OK);
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(qv_get(c, &ids[0], out, 2), QV_OK);
    ck_assert(out[0] == 3 && out[1] == 3);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_delete_and_slot_reuse)
{
    qv_collection *c = make(8, QV_METRIC_EUCLID);
    enum { N = 1000 };
    float v[8];
    for (uint64_t i = 0; i < N; i++) {
        for (int d = 0; d < 8; d++)
            v[d] = (float)(i * 8 + d);
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_upsert(c, &id, v, 8), QV_OK);
    }
    uint32_t cap = c->cap, used = c->used;
    for (uint64_t i = 0; i < N; i += 2) {
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_delete(c, &id), QV_OK);
        ck_assert_int_eq(qv_delete(c, &id), QV_ENOTFOUND);
    }
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, N / 2);
    /* Re-inserting as many new points reuses the freed slots. */
    for (uint64_t i = 0; i < N / 2; i++) {
        for (int d = 0; d < 8; d++)
            v[d] = -(float)i;
        qv_point_id id = qv_id_from_num(10000 + i);
        ck_assert_int_eq(qv_upsert(c, &id, v, 8), QV_OK);
    }
    ck_assert_uint_eq(c->used, used);
    ck_assert_uint_eq(c->cap, cap);
    qv_count(c, &n);
    ck_assert_uint_eq(n, N);
    float out[8];
    qv_point_id gone = qv_id_from_num(0), kept = qv_id_from_num(1);
    ck_assert_int_eq(qv_get(c, &gone, out, 8), QV_ENOTFOUND);
    char msg[128];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_str_eq(msg, "no point with id 0");
    ck_assert_int_eq(qv_get(c, &kept, out, 8), QV_OK);
    ck_assert(out[0] == 8.0f && out[7] == 15.0f);
    /* Deleted points never come back from search. */
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 50;
    qv_hit hits[50];
    size_t nh;
    for (int d = 0; d < 8; d++)
        v[d] = (float)d; /* exactly point 0's old vector */
    ck_assert_int_eq(qv_search(c, v, 8, &p, hits, &nh), QV_OK);
    ck_assert_uint_eq(nh, 50);
    for (size_t i = 0; i < nh; i++)
        ck_assert(!(hits[i].id.kind == QV_ID_NUM && hits[i].id.u.num < N &&
                    hits[i].id.u.num % 2 == 0));
    qv_collection_release(c);
}
END_TEST

START_TEST(test_scroll_id_order)
{
    qv_collection *c = make(2, QV_METRIC_DOT);
    const char *uuids[] = {"ffffffff-0000-0000-0000-000000000000",
                           "00000000-0000-0000-0000-000000000001",
                           "7fffffff-ffff-ffff-ffff-ffffffffffff"};
    float v[2] = {1, 0};
    uint64_t nums[] = {UINT64_MAX, 0, 17, 3, 1000000};
    for (size_t i = 0; i < 3; i++) {
        qv_point_id id = uuid_id(uuids[i]);
        ck_assert_int_eq(qv_upsert(c, &id, v, 2), QV_OK);
    }
    for (size_t i = 0; i < 5; i++) {
        qv_point_id id = qv_id_from_num(nums[i]);
        ck_assert_int_eq(qv_upsert(c, &id, v, 2), QV_OK);
    }
    qv_point_id page[3], next;
    size_t n;
    bool more;
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 3, page, &n, &next, &more),
                     QV_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert(more);
    ck_assert_uint_eq(page[0].u.num, 0);
    ck_assert_uint_eq(page[1].u.num, 3);
    ck_assert_uint_eq(page[2].u.num, 17);
    ck_assert_uint_eq(next.u.num, 1000000);
    ck_assert_int_eq(qv_scroll(c, &next, NULL, 3, page, &n, &next, &more),
                     QV_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert(more);
    ck_assert_uint_eq(page[0].u.num, 1000000);
    ck_assert_uint_eq(page[1].u.num, UINT64_MAX);
    ck_assert_int_eq(page[2].kind, QV_ID_UUID);
    ck_assert_uint_eq(page[2].u.uuid[15], 1);
    ck_assert_int_eq(next.kind, QV_ID_UUID);
    ck_assert_uint_eq(next.u.uuid[0], 0x7f);
    ck_assert_int_eq(qv_scroll(c, &next, NULL, 3, page, &n, &next, &more),
                     QV_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert(!more);
    ck_assert_uint_eq(page[1].u.uuid[0], 0xff);
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 0, page, &n, NULL, NULL),
                     QV_ERANGE);
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 3, NULL, &n, NULL, NULL),
                     QV_ENULL);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_retain_release)
{
    qv_collection *c = make(2, QV_METRIC_DOT);
    qv_collection_retain(c);
    qv_collection_release(c);
    uint64_t n = 1;
    ck_assert_int_eq(qv_count(c, &n), QV_OK); /* still alive */
    ck_assert_uint_eq(n, 0);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_status_strings)
{
    for (int s = 0; s < QV_STATUS_COUNT; s++) {
        ck_assert_ptr_nonnull(qv_strerror((qv_status)s));
        ck_assert_str_ne(qv_strerror((qv_status)s), "unknown status");
        ck_assert_ptr_nonnull(strstr(qv_status_name((qv_status)s), "QV_"));
    }
    ck_assert_str_eq(qv_strerror((qv_status)999), "unknown status");
    ck_assert_str_eq(qv_status_name(QV_EDIM), "QV_EDIM");
    qv_metric m;
    ck_assert_int_eq(qv_metric_parse("Euclid", &m), QV_OK);
    ck_assert_int_eq(m, QV_METRIC_EUCLID);
    ck_assert_int_eq(qv_metric_parse("l1", &m), QV_OK);
    ck_assert_int_eq(m, QV_METRIC_MANHATTAN);
    ck_assert_int_eq(qv_metric_parse("hamming", &m), QV_EINVAL);
    ck_assert_str_eq(qv_metric_name(QV_METRIC_COSINE), "Cosine");
    ck_assert_ptr_null(qv_metric_name((qv_metric)9));
    qv_build_info info;
    qv_build_info_get(&info);
    ck_assert_str_eq(info.version, QV_VERSION_STRING);
    ck_assert_ptr_nonnull(strstr(info.simd_available, info.simd_level));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("collection");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_config_validation);
    tcase_add_test(tc, test_upsert_get_replace);
    tcase_add_test(tc, test_cosine_normalises_and_zero_stays_zero);
    tcase_add_test(tc, test_cosine_keeps_unit_vectors_exactly);
    tcase_add_test(tc, test_bad_vectors_change_nothing);
    tcase_add_test(tc, test_huge_dot_vectors_stored);
    tcase_add_test(tc, test_batch_last_duplicate_wins);
    tcase_add_test(tc, test_delete_and_slot_reuse);
    tcase_add_test(tc, test_payload_bytes);
    tcase_add_test(tc, test_scroll_id_order);
    tcase_add_test(tc, test_retain_release);
    tcase_add_test(tc, test_status_strings);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
