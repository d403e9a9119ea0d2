/*
 * test_concurrency.c -- concurrent searches alongside writers, and store
 * operations from several threads.  Meant to run under ThreadSanitizer
 * (the test script builds it with QUIVER_SANITIZE=thread); without it, it
 * still checks that every search result is consistent.
 */
#include "quiver.h"
#include "core/core.h" /* qvi_index_set_chunk_hook */
#include "core/hnsw/hnsw.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- a search completes in the middle of a batch's graph insert ------- */

/* Issue 11: an upsert used to insert its whole batch into the graph under
 * the write lock, so every search waited for it.  Now the graph insert
 * runs in chunks and releases the lock between them
 * (core/collection_index.c, "Chunked graph inserts").  The chunk hook
 * stops the writer between two chunks -- the insert is then provably half
 * way, the graph holding part of the batch -- and a search must complete
 * before the writer is let go.  No timing is involved: with the old code
 * the search could never finish while the writer waits for it, and the
 * test fails at its (generous) deadline instead of hanging. */

enum { MID_BASE = 600, MID_BATCH = 1000, MID_DIM = 8 };

typedef struct mid_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qv_collection *c;
    int hooked;      /* hook calls */
    size_t inserted; /* graph progress at the first call */
    size_t total;    /* slots the batch inserts */
    bool mid;        /* the writer is parked in the hook */
    bool go;         /* the writer may go on */
    bool searched;   /* the search thread finished */
    qv_status search_st;
    qv_hit hits[3];
    size_t nhits;
    float *vecs;
} mid_state;

static void mid_vec(uint64_t i, float *v)
{
    /* Distinct points on a spiral: i's own vector is its nearest point. */
    for (int d = 0; d < MID_DIM; d++)
        v[d] = (float)((i * (uint64_t)(d + 3) * 2654435761u) % 10007) / 97.0f;
}

static struct timespec deadline_in(int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return ts;
}

static void mid_hook(void *arg, size_t inserted, size_t total)
{
    mid_state *m = arg;
    pthread_mutex_lock(&m->mu);
    if (m->hooked++ == 0) {
        m->inserted = inserted;
        m->total = total;
        m->mid = true;
        pthread_cond_broadcast(&m->cv);
        struct timespec dl = deadline_in(120);
        while (!m->go && pthread_cond_timedwait(&m->cv, &m->mu, &dl) == 0)
            ;
    }
    pthread_mutex_unlock(&m->mu);
}

static void *mid_writer(void *arg)
{
    mid_state *m = arg;
    qv_point_id *ids = malloc(MID_BATCH * sizeof(*ids));
    for (uint64_t i = 0; i < MID_BATCH; i++)
        ids[i] = qv_id_from_num(MID_BASE + i);
    qv_status st =
        qv_upsert_batch(m->c, ids, m->vecs, MID_BATCH, (uint32_t)MID_DIM);
    free(ids);
    return (void *)(intptr_t)st;
}

static void *mid_searcher(void *arg)
{
    mid_state *m = arg;
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 3;
    float q[MID_DIM];
    mid_vec(17, q); /* an old point: in the graph whatever the progress */
    size_t n = 0;
    qv_status st = qv_search(m->c, q, MID_DIM, &p, m->hits, &n);
    pthread_mutex_lock(&m->mu);
    m->search_st = st;
    m->nhits = n;
    m->searched = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

START_TEST(test_search_during_batch_graph_insert)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = MID_DIM;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0; /* the graph from the first point */
    cfg.max_indexing_threads = 1;
    mid_state m = {.mu = PTHREAD_MUTEX_INITIALIZER,
                   .cv = PTHREAD_COND_INITIALIZER};
    ck_assert_int_eq(qv_collection_create(&cfg, &m.c), QV_OK);
    float v[MID_DIM];
    for (uint64_t i = 0; i < MID_BASE; i++) {
        qv_point_id id = qv_id_from_num(i);
        mid_vec(i, v);
        ck_assert_int_eq(qv_upsert(m.c, &id, v, MID_DIM), QV_OK);
    }
    m.vecs = malloc((size_t)MID_BATCH * MID_DIM * sizeof(float));
    ck_assert_ptr_nonnull(m.vecs);
    for (uint64_t i = 0; i < MID_BATCH; i++)
        mid_vec(MID_BASE + i, m.vecs + i * MID_DIM);
    qvi_index_set_chunk_hook(m.c, mid_hook, &m);

    pthread_t w, r;
    pthread_create(&w, NULL, mid_writer, &m);
    pthread_mutex_lock(&m.mu);
    struct timespec dl = deadline_in(120);
    while (!m.mid && pthread_cond_timedwait(&m.cv, &m.mu, &dl) == 0)
        ;
    bool mid = m.mid;
    pthread_mutex_unlock(&m.mu);
    ck_assert_msg(mid, "the batch insert never paused between chunks");

    /* Half way: every row of the batch is stored, the graph holds only
     * part of it. */
    ck_assert_uint_eq(m.total, MID_BATCH);
    ck_assert_uint_gt(m.inserted, 0);
    ck_assert_uint_lt(m.inserted, MID_BATCH);
    uint64_t count = 0, indexed = 0;
    ck_assert_int_eq(qv_count(m.c, &count), QV_OK);
    ck_assert_uint_eq(count, MID_BASE + MID_BATCH);
    ck_assert_int_eq(qv_indexed_count(m.c, &indexed), QV_OK);
    ck_assert_uint_eq(indexed, MID_BASE + m.inserted);

    /* A graph search must finish while the writer is parked. */
    pthread_create(&r, NULL, mid_searcher, &m);
    pthread_mutex_lock(&m.mu);
    dl = deadline_in(120);
    while (!m.searched && pthread_cond_timedwait(&m.cv, &m.mu, &dl) == 0)
        ;
    bool searched = m.searched;
    m.go = true; /* let the writer finish in any case */
    pthread_cond_broadcast(&m.cv);
    pthread_mutex_unlock(&m.mu);
    ck_assert_msg(searched, "a search did not complete during the insert");
    pthread_join(r, NULL);
    void *wst;
    pthread_join(w, &wst);
    ck_assert_int_eq((int)(intptr_t)wst, QV_OK);
    ck_assert_int_eq(m.search_st, QV_OK);
    ck_assert_uint_eq(m.nhits, 3);
    ck_assert_uint_eq(m.hits[0].id.u.num, 17);
    ck_assert(m.hits[0].score == 0.0f);
    ck_assert_int_gt(m.hooked, 1); /* paused between several chunks */

    /* After: the graph covers every point and finds each new one. */
    ck_assert_int_eq(qv_indexed_count(m.c, &indexed), QV_OK);
    ck_assert_uint_eq(indexed, MID_BASE + MID_BATCH);
    char why[256];
    qvi_vecview view = {.base = m.c->vecs,
                        .stride = m.c->stride,
                        .dim = MID_DIM,
                        .metric = QV_METRIC_EUCLID};
    ck_assert_msg(qvi_hnsw_check(m.c->index, &view, NULL, why, sizeof(why)) ==
                      QV_OK,
                  "%s", why);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 1;
    for (uint64_t i = 0; i < MID_BATCH; i += 37) {
        qv_hit hit;
        size_t n = 0;
        ck_assert_int_eq(
            qv_search(m.c, m.vecs + i * MID_DIM, MID_DIM, &p, &hit, &n), QV_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(hit.id.u.num, MID_BASE + i);
    }
    qvi_index_set_chunk_hook(m.c, NULL, NULL);
    qv_collection_release(m.c);
    free(m.vecs);
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
    tcase_add_test(tc, test_search_during_batch_graph_insert);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
