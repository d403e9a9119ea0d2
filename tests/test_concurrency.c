/*
 * test_concurrency.c -- concurrent searches alongside writers, and store
 * operations from several threads.  Meant to run under ThreadSanitizer
 * (the test script builds it with QUIVER_SANITIZE=thread); without it, it
 * still checks that every search result is consistent.
 */
#include "quiver.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DIM = 16, BASE = 2000, WRITES = 2000, READERS = 3 };

typedef struct shared {
    qv_collection *c;
    qv_store *store;
    atomic_bool stop;
    atomic_int errors;
} shared;

/* Every stored vector has all components equal to its id's value modulo
 * 1000, so a reader can verify any hit against its id. */
static void vec_for(uint64_t id, float *v)
{
    for (int d = 0; d < DIM; d++)
        v[d] = (float)(id % 1000);
}

static void *reader(void *arg)
{
    shared *sh = arg;
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 5;
    float q[DIM];
    qv_hit hits[5];
    size_t n;
    unsigned iter = 0;
    while (!atomic_load(&sh->stop) || iter < 50) {
        vec_for(iter % 1000, q);
        qv_status st = (iter & 1)
                           ? qv_search(sh->c, q, DIM, &p, hits, &n)
                           : qv_search_batch(sh->c, q, 1, DIM, &p, hits, &n);
        if (st != QV_OK || n != 5)
            atomic_fetch_add(&sh->errors, 1);
        /* The best hit has the query's value: distance 0. */
        else if (hits[0].score != 0.0f)
            atomic_fetch_add(&sh->errors, 1);
        float v[DIM];
        if (n && qv_get(sh->c, &hits[n - 1].id, v, DIM) == QV_OK &&
            v[0] != (float)(hits[n - 1].id.u.num % 1000))
            atomic_fetch_add(&sh->errors, 1);
        iter++;
    }
    return NULL;
}

static void *writer(void *arg)
{
    shared *sh = arg;
    float v[DIM];
    for (uint64_t i = 0; i < WRITES; i++) {
        qv_point_id id = qv_id_from_num(BASE + i);
        vec_for(BASE + i, v);
        if (qv_upsert(sh->c, &id, v, DIM) != QV_OK)
            atomic_fetch_add(&sh->errors, 1);
        if (i % 3 == 0) {
            qv_point_id old = qv_id_from_num(BASE + i / 2);
            qv_status st = qv_delete(sh->c, &old);
            if (st != QV_OK && st != QV_ENOTFOUND)
                atomic_fetch_add(&sh->errors, 1);
        }
    }
    return NULL;
}

START_TEST(test_searches_alongside_writer)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    shared sh = {0};
    ck_assert_int_eq(qv_collection_create(&cfg, &sh.c), QV_OK);
    float v[DIM];
    for (uint64_t i = 0; i < BASE; i++) {
        qv_point_id id = qv_id_from_num(i);
        vec_for(i, v);
        ck_assert_int_eq(qv_upsert(sh.c, &id, v, DIM), QV_OK);
    }
    pthread_t r[READERS], w;
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, &sh);
    pthread_create(&w, NULL, writer, &sh);
    pthread_join(w, NULL);
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    ck_assert_int_eq(atomic_load(&sh.errors), 0);
    uint64_t n;
    qv_count(sh.c, &n);
    ck_assert_uint_ge(n, BASE);
    qv_collection_release(sh.c);
}
END_TEST

static void *store_worker(void *arg)
{
    shared *sh = arg;
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 4;
    float v[4] = {1, 2, 3, 4};
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i % 7);
        qv_collection *c = NULL;
        if (qv_store_ensure(sh->store, name, &cfg, &c, NULL) == QV_OK) {
            qv_point_id id = qv_id_from_num((uint64_t)i);
            if (qv_upsert(c, &id, v, 4) != QV_OK)
                atomic_fetch_add(&sh->errors, 1);
            qv_collection_release(c);
        }
        if (i % 5 == 0)
            qv_store_drop(sh->store, name); /* may race: ENOTFOUND is fine */
        uint64_t total;
        if (qv_store_total_points(sh->store, &total) != QV_OK)
            atomic_fetch_add(&sh->errors, 1);
        char **names;
        size_t n;
        if (qv_store_list(sh->store, &names, &n) == QV_OK)
            qv_free(names);
    }
    return NULL;
}

START_TEST(test_store_from_many_threads)
{
    shared sh = {0};
    ck_assert_int_eq(qv_store_open(&sh.store), QV_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, store_worker, &sh);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&sh.errors), 0);
    qv_store_close(sh.store);
}
END_TEST

/* The same mix through the HNSW graph: readers walk the graph while the
 * writer inserts (with graph updates) and deletes (with graph repair). */
static void *graph_reader(void *arg)
{
    shared *sh = arg;
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 5;
    p.hnsw_ef = 32;
    float q[DIM];
    qv_hit hits[5];
    size_t n;
    unsigned iter = 0;
    while (!atomic_load(&sh->stop) || iter < 50) {
        vec_for(iter * 7 % 1000, q);
        q[iter % DIM] += 0.25f;
        if (qv_search(sh->c, q, DIM, &p, hits, &n) != QV_OK || n != 5)
            atomic_fetch_add(&sh->errors, 1);
        for (size_t i = 1; i < n; i++) {
            if (hits[i].score < hits[i - 1].score)
                atomic_fetch_add(&sh->errors, 1);
        }
        iter++;
    }
    return NULL;
}

START_TEST(test_graph_searches_alongside_writer)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0;
    cfg.max_indexing_threads = 2;
    shared sh = {0};
    ck_assert_int_eq(qv_collection_create(&cfg, &sh.c), QV_OK);
    float v[DIM];
    for (uint64_t i = 0; i < BASE; i++) {
        qv_point_id id = qv_id_from_num(i);
        vec_for(i, v);
        v[i % DIM] += (float)(i / 1000) * 0.5f;
        ck_assert_int_eq(qv_upsert(sh.c, &id, v, DIM), QV_OK);
    }
    pthread_t r[READERS], w;
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, graph_reader, &sh);
    pthread_create(&w, NULL, writer, &sh);
    pthread_join(w, NULL);
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    ck_assert_int_eq(atomic_load(&sh.errors), 0);
    qv_collection_release(sh.c);
}
END_TEST

/* ---- payload indexes under concurrent writes -------------------------- */

/* Point i always has tenant "t<i % 10>"; the writer changes its other
 * fields, deletes and re-creates it, and creates and drops the indexes, so
 * a reader can check every filtered answer against the id alone. */
static void put_tenant(qv_collection *c, uint64_t i, unsigned salt)
{
    qv_point_id id = qv_id_from_num(i);
    float v[DIM];
    vec_for(i, v);
    char text[96];
    const char *t = text;
    size_t len = (size_t)snprintf(text, sizeof text,
                                  "{\"t\":\"t%u\",\"n\":%u,\"w\":\"word%u\"}",
                                  (unsigned)(i % 10), salt % 100, salt % 7);
    qv_upsert_with_payloads(c, &id, v, 1, DIM, &t, &len);
}

static void *index_writer(void *arg)
{
    shared *sh = arg;
    for (unsigned w = 0; w < WRITES; w++) {
        uint64_t i = (w * 7919u) % BASE;
        qv_point_id id = qv_id_from_num(i);
        switch (w % 6) {
        case 0:
            put_tenant(sh->c, i, w);
            break;
        case 1: {
            const char *set = "{\"n\":5}";
            qv_payload_set(sh->c, &id, set, strlen(set), NULL);
            break;
        }
        case 2:
            qv_delete(sh->c, &id);
            put_tenant(sh->c, i, w);
            break;
        case 3: {
            const char *keys[] = {"w"};
            qv_payload_delete_keys(sh->c, &id, keys, 1);
            break;
        }
        case 4:
            if (w % 60 == 4)
                qv_payload_index_drop(sh->c, "n");
            break;
        default:
            if (w % 60 == 5)
                qv_payload_index_create(sh->c, "n", QV_INDEX_INTEGER);
            break;
        }
    }
    atomic_store(&sh->stop, true);
    return NULL;
}

static void *index_reader(void *arg)
{
    shared *sh = arg;
    const char *ft = "{\"must\":[{\"key\":\"t\",\"match\":{\"value\":\"t3\"}},"
                     "{\"key\":\"w\",\"match\":{\"text\":\"WORD3\"}}]}";
    qv_filter *f;
    if (qv_filter_parse(ft, strlen(ft), &f, NULL, 0) != QV_OK) {
        atomic_fetch_add(&sh->errors, 1);
        return NULL;
    }
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 5;
    p.filter = f;
    unsigned iter = 0;
    while (!atomic_load(&sh->stop) || iter < 20) {
        float q[DIM];
        vec_for(iter % 1000, q);
        qv_hit hits[5];
        size_t n;
        if (qv_search(sh->c, q, DIM, &p, hits, &n) != QV_OK)
            atomic_fetch_add(&sh->errors, 1);
        for (size_t i = 0; i < n; i++)
            if (hits[i].id.u.num % 10 != 3)
                atomic_fetch_add(&sh->errors, 1);
        uint64_t cnt;
        if (qv_count_filter(sh->c, f, &cnt) != QV_OK || cnt > BASE / 10)
            atomic_fetch_add(&sh->errors, 1);
        qv_point_id ids[8];
        qv_order_by o;
        qv_order_by_init(&o);
        o.key = "n";
        qv_status st = qv_scroll_order_by(sh->c, &o, f, 8, ids, NULL, &n);
        /* The index may be dropped at that moment: EINVAL then. */
        if (st != QV_OK && st != QV_EINVAL)
            atomic_fetch_add(&sh->errors, 1);
        for (size_t i = 0; st == QV_OK && i < n; i++)
            if (ids[i].u.num % 10 != 3)
                atomic_fetch_add(&sh->errors, 1);
        qv_payload_index_info *info;
        size_t ni;
        if (qv_payload_index_list(sh->c, &info, &ni) != QV_OK)
            atomic_fetch_add(&sh->errors, 1);
        else
            qv_free(info);
        iter++;
    }
    qv_filter_free(f);
    return NULL;
}

START_TEST(test_payload_indexes_alongside_writer)
{
    shared sh = {0};
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    ck_assert_int_eq(qv_collection_create(&cfg, &sh.c), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(sh.c, "t", QV_INDEX_KEYWORD),
                     QV_OK);
    ck_assert_int_eq(qv_payload_index_create(sh.c, "w", QV_INDEX_TEXT), QV_OK);
    for (uint64_t i = 0; i < BASE; i++)
        put_tenant(sh.c, i, (unsigned)i);
    pthread_t w, r[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, index_reader, &sh);
    pthread_create(&w, NULL, index_writer, &sh);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    ck_assert_int_eq(atomic_load(&sh.errors), 0);
    qv_collection_release(sh.c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_searches_alongside_writer);
    tcase_add_test(tc, test_store_from_many_threads);
    tcase_add_test(tc, test_graph_searches_alongside_writer);
    tcase_add_test(tc, test_payload_indexes_alongside_writer);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
