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

/* The graph checker passes on c's index (a Euclidean collection of
 * dimension dim). */
static void assert_graph_sound(qv_collection *c, uint32_t dim)
{
    char why[256];
    qvi_vecview view = {.base = c->vecs,
                        .stride = c->stride,
                        .dim = dim,
                        .metric = QV_METRIC_EUCLID};
    ck_assert_msg(qvi_hnsw_check(c->index, &view, NULL, why, sizeof(why)) ==
                      QV_OK,
                  "%s", why);
}

/* After a batch insert: c indexes base + count points, its graph passes
 * the checker, and every step-th vector of the batch (ids base, base + 1,
 * ...) is its own nearest neighbour. */
static void assert_graph_finds_batch(qv_collection *c, const float *batch,
                                     uint32_t dim, uint64_t base,
                                     uint64_t count, uint64_t step)
{
    uint64_t indexed = 0;
    ck_assert_int_eq(qv_indexed_count(c, &indexed), QV_OK);
    ck_assert_uint_eq(indexed, base + count);
    assert_graph_sound(c, dim);
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 1;
    for (uint64_t i = 0; i < count; i += step) {
        qv_hit hit;
        size_t n = 0;
        ck_assert_int_eq(qv_search(c, batch + i * dim, dim, &p, &hit, &n),
                         QV_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(hit.id.u.num, base + i);
    }
}

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
    qvi_index_set_chunk_hook(m.c, mid_hook, NULL, &m);

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
    assert_graph_finds_batch(m.c, m.vecs, MID_DIM, MID_BASE, MID_BATCH, 37);
    qvi_index_set_chunk_hook(m.c, NULL, NULL, NULL);
    qv_collection_release(m.c);
    free(m.vecs);
}
END_TEST

/* ---- searches while a batch is being linked (issue 11, item 2) ------- */

/* An upsert links its batch into the graph under the shared lock
 * (collection_index.c, "Chunked graph inserts beside searches").  The link
 * hook parks the writer half way through a chunk, lock held, until a
 * searcher has finished half of its LINK_SEARCHES searches: under the old
 * exclusive chunks that could never happen and the hook would time out.
 * The other half run while the writer links the rest of the batch.  Old points
 * lie in [0, 1)^dim and the batch far away, so the exact top-k of a query
 * at an old point holds old points only, which the graph must find. */
enum {
    LINK_DIM = 16,
    LINK_BASE = 1500,
    LINK_BATCH = 1500,
    LINK_K = 10,
    LINK_SEARCHES = 200
};

static uint64_t lcg_next(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return *st >> 33;
}

static void rand_vecs(float *v, size_t n, uint32_t dim, float offset,
                      uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n * dim; i++)
        v[i] = offset + (float)lcg_next(&st) / (float)(1u << 31);
}

typedef struct link_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qv_collection *c;
    const float *base; /* the old points' vectors */
    float *batch;
    size_t linked_at; /* graph progress when the writer parked */
    size_t total;
    bool parked;   /* the writer is in the link hook, shared lock held */
    int searches;  /* searches the searcher finished */
    bool released; /* the searcher's quota was met while parked */
    int bad;       /* searches with a wrong or short result */
    double recall; /* mean recall@K of those searches against exact */
} link_state;

static void link_hook(void *arg, size_t linked, size_t total)
{
    link_state *m = arg;
    if (linked != total / 2)
        return;
    pthread_mutex_lock(&m->mu);
    m->linked_at = linked;
    m->total = total;
    m->parked = true;
    pthread_cond_broadcast(&m->cv);
    struct timespec dl = deadline_in(120);
    while (m->searches < LINK_SEARCHES / 2 &&
           pthread_cond_timedwait(&m->cv, &m->mu, &dl) == 0)
        ;
    m->released = m->searches >= LINK_SEARCHES / 2;
    m->parked = false;
    pthread_mutex_unlock(&m->mu);
}

static void *link_writer(void *arg)
{
    link_state *m = arg;
    qv_point_id *ids = malloc(LINK_BATCH * sizeof(*ids));
    for (uint64_t i = 0; i < LINK_BATCH; i++)
        ids[i] = qv_id_from_num(LINK_BASE + i);
    qv_status st =
        qv_upsert_batch(m->c, ids, m->batch, LINK_BATCH, (uint32_t)LINK_DIM);
    free(ids);
    return (void *)(intptr_t)st;
}

/* Recall@k of hits against the exact top-k (ids compared). */
static double recall_of(const qv_hit *hits, size_t n, const qv_hit *exact,
                        size_t ne)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < ne; j++) {
            if (hits[i].id.u.num == exact[j].id.u.num) {
                found++;
                break;
            }
        }
    }
    return ne ? (double)found / (double)ne : 1.0;
}

static void *link_searcher(void *arg)
{
    link_state *m = arg;
    qv_search_params p, px;
    qv_search_params_init(&p);
    p.k = LINK_K;
    px = p;
    px.exact = true;
    double sum = 0.0;
    for (int i = 0; i < LINK_SEARCHES; i++) {
        uint64_t id = (uint64_t)(i * 7) % LINK_BASE;
        const float *q = m->base + id * LINK_DIM;
        qv_hit hits[LINK_K], exact[LINK_K];
        size_t n = 0, ne = 0;
        qv_status st = qv_search(m->c, q, LINK_DIM, &p, hits, &n);
        qv_status sx = qv_search(m->c, q, LINK_DIM, &px, exact, &ne);
        /* Complete, and the query's own point first (distance 0). */
        if (st != QV_OK || sx != QV_OK || n != LINK_K || ne != LINK_K ||
            hits[0].id.u.num != id || hits[0].score != 0.0f)
            m->bad++;
        sum += recall_of(hits, n, exact, ne);
        pthread_mutex_lock(&m->mu);
        m->searches++;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
    }
    m->recall = sum / LINK_SEARCHES;
    return NULL;
}

START_TEST(test_searches_run_while_batch_links)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = LINK_DIM;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0; /* graph searches from the first point */
    cfg.max_indexing_threads = 1;
    link_state m = {.mu = PTHREAD_MUTEX_INITIALIZER,
                    .cv = PTHREAD_COND_INITIALIZER};
    ck_assert_int_eq(qv_collection_create(&cfg, &m.c), QV_OK);
    float *base = malloc((size_t)LINK_BASE * LINK_DIM * sizeof(float));
    m.batch = malloc((size_t)LINK_BATCH * LINK_DIM * sizeof(float));
    ck_assert_ptr_nonnull(base);
    ck_assert_ptr_nonnull(m.batch);
    rand_vecs(base, LINK_BASE, LINK_DIM, 0.0f, 11);
    rand_vecs(m.batch, LINK_BATCH, LINK_DIM, 50.0f, 12);
    m.base = base;
    qv_point_id *ids = malloc(LINK_BASE * sizeof(*ids));
    for (uint64_t i = 0; i < LINK_BASE; i++)
        ids[i] = qv_id_from_num(i);
    ck_assert_int_eq(qv_upsert_batch(m.c, ids, base, LINK_BASE, LINK_DIM),
                     QV_OK);
    free(ids);
    qvi_index_set_chunk_hook(m.c, NULL, link_hook, &m);

    pthread_t w, r;
    pthread_create(&w, NULL, link_writer, &m);
    pthread_mutex_lock(&m.mu);
    struct timespec dl = deadline_in(120);
    while (!m.parked && pthread_cond_timedwait(&m.cv, &m.mu, &dl) == 0)
        ;
    bool parked = m.parked;
    pthread_mutex_unlock(&m.mu);
    ck_assert_msg(parked, "the writer never reached the middle of the batch");
    /* Parked with the shared lock held, half the batch linked: the graph
     * counts exactly the linked points, the collection all of them. */
    uint64_t count = 0, indexed = 0;
    ck_assert_int_eq(qv_count(m.c, &count), QV_OK);
    ck_assert_uint_eq(count, LINK_BASE + LINK_BATCH);
    ck_assert_int_eq(qv_indexed_count(m.c, &indexed), QV_OK);
    ck_assert_uint_eq(indexed, LINK_BASE + LINK_BATCH / 2);

    pthread_create(&r, NULL, link_searcher, &m);
    pthread_join(r, NULL);
    void *wst;
    pthread_join(w, &wst);
    ck_assert_int_eq((int)(intptr_t)wst, QV_OK);
    ck_assert_uint_eq(m.total, LINK_BATCH);
    ck_assert_uint_eq(m.linked_at, LINK_BATCH / 2);
    ck_assert_msg(m.released,
                  "only %d searches finished while the batch was linking",
                  m.searches);
    ck_assert_int_eq(m.bad, 0);
    ck_assert_msg(m.recall >= 0.95, "recall %.3f during the insert", m.recall);

    /* After: the graph is whole and finds every point of the batch. */
    assert_graph_finds_batch(m.c, m.batch, LINK_DIM, LINK_BASE, LINK_BATCH, 13);
    qvi_index_set_chunk_hook(m.c, NULL, NULL, NULL);
    qv_collection_release(m.c);
    free(base);
    free(m.batch);
}
END_TEST

/* Recall of a graph built by upserts while searches ran beside every
 * insert, then by upserts that replace a quarter of the ids with new
 * vectors (relinked in place beside the searches, qvi_hnsw_replace),
 * against the same upserts with no searches: the searches only read, so
 * the recall (against exact search) must not drop. */
enum { RC_N = 4000, RC_REP = 1000, RC_BATCH = 100, RC_Q = 200, RC_READERS = 2 };

typedef struct rc_state {
    qv_collection *c;
    const float *data;
    atomic_bool stop;
    atomic_int searches;
    atomic_int errors;
} rc_state;

static void *rc_reader(void *arg)
{
    rc_state *st = arg;
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = LINK_K;
    qv_hit hits[LINK_K];
    unsigned i = 0;
    while (!atomic_load(&st->stop)) {
        size_t n = 0;
        uint64_t total = 0;
        qv_count(st->c, &total);
        if (total == 0)
            continue;
        const float *q = st->data + (size_t)(i++ % total) * LINK_DIM;
        /* Once the first batch is surely linked (the second has rows),
         * every search is complete. */
        if (qv_search(st->c, q, LINK_DIM, &p, hits, &n) != QV_OK ||
            (total >= 2 * RC_BATCH && n != LINK_K))
            atomic_fetch_add(&st->errors, 1);
        atomic_fetch_add(&st->searches, 1);
    }
    return NULL;
}

static double rc_recall(qv_collection *c, const float *queries)
{
    qv_search_params p, px;
    qv_search_params_init(&p);
    p.k = LINK_K;
    p.hnsw_ef = 16; /* low, so that a worse graph shows */
    px = p;
    px.exact = true;
    double sum = 0.0;
    for (int i = 0; i < RC_Q; i++) {
        qv_hit hits[LINK_K], exact[LINK_K];
        size_t n = 0, ne = 0;
        ck_assert_int_eq(qv_search(c, queries + (size_t)i * LINK_DIM, LINK_DIM,
                                   &p, hits, &n),
                         QV_OK);
        ck_assert_int_eq(qv_search(c, queries + (size_t)i * LINK_DIM, LINK_DIM,
                                   &px, exact, &ne),
                         QV_OK);
        sum += recall_of(hits, n, exact, ne);
    }
    return sum / RC_Q;
}

static qv_collection *rc_build(const float *data, rc_state *readers_on)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = LINK_DIM;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0;
    cfg.max_indexing_threads = 1;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    pthread_t th[RC_READERS];
    if (readers_on) {
        readers_on->c = c;
        for (int t = 0; t < RC_READERS; t++)
            pthread_create(&th[t], NULL, rc_reader, readers_on);
    }
    qv_point_id ids[RC_BATCH];
    for (size_t b = 0; b < RC_N; b += RC_BATCH) {
        for (size_t i = 0; i < RC_BATCH; i++)
            ids[i] = qv_id_from_num(b + i);
        ck_assert_int_eq(
            qv_upsert_batch(c, ids, data + b * LINK_DIM, RC_BATCH, LINK_DIM),
            QV_OK);
    }
    for (size_t b = 0; b < RC_REP; b += RC_BATCH) {
        for (size_t i = 0; i < RC_BATCH; i++)
            ids[i] = qv_id_from_num(b * 3 + i); /* existing ids */
        ck_assert_int_eq(qv_upsert_batch(c, ids, data + (RC_N + b) * LINK_DIM,
                                         RC_BATCH, LINK_DIM),
                         QV_OK);
    }
    if (readers_on) {
        atomic_store(&readers_on->stop, true);
        for (int t = 0; t < RC_READERS; t++)
            pthread_join(th[t], NULL);
    }
    return c;
}

START_TEST(test_recall_with_concurrent_searches)
{
    float *data = malloc((size_t)(RC_N + RC_REP) * LINK_DIM * sizeof(float));
    float *queries = malloc((size_t)RC_Q * LINK_DIM * sizeof(float));
    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(queries);
    rand_vecs(data, RC_N + RC_REP, LINK_DIM, 0.0f, 21);
    rand_vecs(queries, RC_Q, LINK_DIM, 0.0f, 22);

    qv_collection *serial = rc_build(data, NULL);
    rc_state st = {.data = data};
    atomic_init(&st.stop, false);
    atomic_init(&st.searches, 0);
    atomic_init(&st.errors, 0);
    qv_collection *conc = rc_build(data, &st);
    ck_assert_int_eq(atomic_load(&st.errors), 0);
    ck_assert_int_gt(atomic_load(&st.searches), 0);

    double r_serial = rc_recall(serial, queries);
    double r_conc = rc_recall(conc, queries);
    /* One linker thread: the graph does not depend on the searches. */
    ck_assert_msg(r_conc >= r_serial - 0.005,
                  "recall %.4f with searches beside, %.4f without", r_conc,
                  r_serial);
    ck_assert_msg(r_serial >= 0.85, "recall %.4f at ef 16", r_serial);
    assert_graph_sound(conc, LINK_DIM);
    qv_collection_release(serial);
    qv_collection_release(conc);
    free(data);
    free(queries);
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
    tcase_add_test(tc, test_searches_run_while_batch_links);
    tcase_add_test(tc, test_recall_with_concurrent_searches);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
