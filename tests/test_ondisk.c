/*
 * test_ondisk.c -- on_disk vectors (qv_collection_set_vectors_on_disk,
 * core/base/maparena.c).
 *
 *  1. Heap and on_disk twins fed the same writes (upserts that grow the
 *     collection, overwrites, deletes) return the same hits, ids and score
 *     bits, by graph walk and by exact scan; the on_disk rows live in the
 *     mapped arena, not on the heap; switching a filled heap collection
 *     moves its rows.
 *  2. A durable store: close, reopen, set on_disk again: the rows are
 *     served from the snapshot mapping, a growth moves them to the arena,
 *     and searches equal the heap twin's all along.
 *  3. Kill and recover: a child writes to an on_disk collection of a
 *     durable store and dies with _exit (no close, no checkpoint); the
 *     reopened store holds every acknowledged point and searches as the
 *     heap twin does.
 *  4. Refusals: NULL, sparse collections, a directory that does not exist.
 *  5. The graph's level-0 links on disk (qv_collection_set_graph_on_disk),
 *     with the vectors and alone, also for a graph built later (past the
 *     threshold) and after reopening: the same hits bit for bit.
 *  6. Both on disk beside quantized codes (int8, binary, product) and the
 *     float16 datatype: the same hits as the heap twin.
 */
#define QVI_HNSW_INTERNAL /* the graph's links arena */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DIM = 24, K = 10 };

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1u << 24) - 0.5f;
}

static void fill(float *v, size_t n, uint64_t seed)
{
    rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n * DIM; i++)
        v[i] = frand();
}

static void write_points(qv_collection *c, uint64_t first, size_t n,
                         uint64_t seed)
{
    float *v = malloc(n * DIM * sizeof(float));
    qv_point_id *ids = malloc(n * sizeof(*ids));
    fill(v, n, seed);
    for (size_t i = 0; i < n; i++)
        ids[i] = (qv_point_id){.kind = QV_ID_NUM, .u.num = first + i};
    ck_assert_int_eq(qv_upsert_batch(c, ids, v, n, DIM), QV_OK);
    free(v);
    free(ids);
}

/* Same queries, same hits bit for bit, graph and exact. */
static void assert_same_search(qv_collection *a, qv_collection *b)
{
    float q[DIM * 20];
    fill(q, 20, 777);
    for (int exact = 0; exact < 2; exact++) {
        for (int i = 0; i < 20; i++) {
            qv_search_params p;
            qv_search_params_init(&p);
            p.k = K;
            p.exact = exact;
            qv_hit ha[K], hb[K];
            size_t na = 0, nb = 0;
            ck_assert_int_eq(qv_search(a, q + i * DIM, DIM, &p, ha, &na),
                             QV_OK);
            ck_assert_int_eq(qv_search(b, q + i * DIM, DIM, &p, hb, &nb),
                             QV_OK);
            ck_assert_uint_eq(na, nb);
            ck_assert_uint_gt(na, 0);
            for (size_t h = 0; h < na; h++) {
                ck_assert_uint_eq(ha[h].id.u.num, hb[h].id.u.num);
                ck_assert_int_eq(memcmp(&ha[h].score, &hb[h].score, 4), 0);
            }
        }
    }
}

static bool rows_in_arena(qv_collection *c)
{
    return c->vec_on_disk && qvi_maparena_contains(&c->vec_arena, c->vecs);
}

static bool rows_in_snapshot(qv_collection *c)
{
    return c->backing && qvi_backing_contains(c->backing, c->vecs);
}

static void config(qv_collection_config *cfg)
{
    qv_collection_config_init(cfg);
    cfg->dim = DIM;
    cfg->full_scan_threshold_kb = 0; /* always the graph unless exact */
    cfg->max_indexing_threads = 1;
}

START_TEST(test_twins)
{
    qv_collection_config cfg;
    config(&cfg);
    qv_collection *heap, *disk, *moved;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    ck_assert_int_eq(qv_collection_create(&cfg, &disk), QV_OK);
    ck_assert_int_eq(qv_collection_create(&cfg, &moved), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(disk, NULL), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(disk, NULL), QV_OK);
    qv_collection *all[3] = {heap, disk, moved};
    for (int k = 0; k < 3; k++) {
        write_points(all[k], 1, 700, 1);   /* several growths */
        write_points(all[k], 300, 200, 2); /* overwrites and new */
        qv_point_id gone = {.kind = QV_ID_NUM, .u.num = 42};
        ck_assert_int_eq(qv_delete(all[k], &gone), QV_OK);
    }
    ck_assert(rows_in_arena(disk));
    ck_assert(!rows_in_arena(moved));
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(moved, NULL), QV_OK);
    ck_assert(rows_in_arena(moved)); /* heap rows moved at once */
    assert_same_search(heap, disk);
    assert_same_search(heap, moved);
    for (int k = 0; k < 3; k++)
        write_points(all[k], 5000, 900, 3);
    ck_assert(rows_in_arena(disk));
    ck_assert(rows_in_arena(moved));
    assert_same_search(heap, disk);
    assert_same_search(heap, moved);
    for (int k = 0; k < 3; k++)
        qv_collection_release(all[k]);
}
END_TEST

/* on_disk vectors and graph beside quantized codes (kept in RAM) and a
 * narrow datatype: twins with the same config, one on the heap and one
 * with both on disk from the start, give the same hits bit for bit --
 * code walks, float rescoring and exact scans read the rows wherever they
 * live.  Product codebooks train with a fixed seed on the same sample, so
 * the twins hold the same codes. */
START_TEST(test_twins_with_codes_and_datatypes)
{
    static const struct {
        uint32_t quant, encoding, datatype;
    } combos[] = {
        {QV_QUANTIZATION_INT8, 0, QV_DATATYPE_FLOAT32},
        {QV_QUANTIZATION_BINARY, QV_BINARY_TWO_BITS, QV_DATATYPE_FLOAT32},
        {QV_QUANTIZATION_PRODUCT, QV_PQ_X8, QV_DATATYPE_FLOAT32},
        {QV_QUANTIZATION_NONE, 0, QV_DATATYPE_FLOAT16},
        {QV_QUANTIZATION_INT8, 0, QV_DATATYPE_FLOAT16},
        {QV_QUANTIZATION_PRODUCT, QV_PQ_X4, QV_DATATYPE_FLOAT16},
    };
    qv_collection_config cfg;
    config(&cfg);
    cfg.metric = QV_METRIC_EUCLID;
    cfg.quantization = combos[_i].quant;
    cfg.quant_encoding = combos[_i].encoding;
    cfg.datatype = combos[_i].datatype;
    qv_collection *heap, *disk;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    ck_assert_int_eq(qv_collection_create(&cfg, &disk), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(disk, NULL), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(disk, NULL), QV_OK);
    qv_collection *both[2] = {heap, disk};
    for (int k = 0; k < 2; k++) {
        write_points(both[k], 1, 600, 11);
        write_points(both[k], 200, 300, 12); /* overwrites and growth */
        qv_point_id gone = {.kind = QV_ID_NUM, .u.num = 7};
        ck_assert_int_eq(qv_delete(both[k], &gone), QV_OK);
    }
    ck_assert(rows_in_arena(disk));
    assert_same_search(heap, disk);
    qv_collection_release(heap);
    qv_collection_release(disk);
}
END_TEST

static qv_store *open_store(const char *path)
{
    qv_store *s = NULL;
    char err[256] = "";
    ck_assert_msg(qv_store_open_dir(path, NULL, &s, err, sizeof(err)) == QV_OK,
                  "%s", err);
    return s;
}

START_TEST(test_reopen)
{
    scratch_dir_make("ondisk");
    const char *dir = scratch_path("store");
    char path[256];
    snprintf(path, sizeof(path), "%s", dir);
    qv_collection_config cfg;
    config(&cfg);
    qv_collection *heap;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    write_points(heap, 1, 800, 1);

    qv_store *s = open_store(path);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "v", &cfg, &c), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(c, path), QV_OK);
    write_points(c, 1, 800, 1);
    ck_assert(rows_in_arena(c));
    assert_same_search(heap, c);
    qv_collection_release(c);
    qv_store_close(s);

    s = open_store(path);
    ck_assert_int_eq(qv_store_get(s, "v", &c), QV_OK);
    ck_assert(rows_in_snapshot(c));
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(c, path), QV_OK);
    ck_assert(rows_in_snapshot(c)); /* already file pages: left in place */
    assert_same_search(heap, c);
    write_points(heap, 2000, 600, 4); /* grows: rows go to the arena */
    write_points(c, 2000, 600, 4);
    ck_assert(rows_in_arena(c));
    assert_same_search(heap, c);
    qv_collection_release(c);
    qv_store_close(s);
    qv_collection_release(heap);
    scratch_dir_remove();
}
END_TEST

START_TEST(test_kill_recover)
{
    scratch_dir_make("ondisk-kill");
    char path[256];
    snprintf(path, sizeof(path), "%s", scratch_path("store"));
    qv_collection_config cfg;
    config(&cfg);
    qv_store *s = open_store(path);
    ck_assert_int_eq(qv_store_create(s, "v", &cfg, NULL), QV_OK);
    qv_store_close(s);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        qv_store *cs = NULL;
        qv_collection *c = NULL;
        if (qv_store_open_dir(path, NULL, &cs, NULL, 0) != QV_OK ||
            qv_store_get(cs, "v", &c) != QV_OK ||
            qv_collection_set_vectors_on_disk(c, path) != QV_OK)
            _exit(2);
        float *v = malloc(900 * DIM * sizeof(float));
        qv_point_id ids[900];
        fill(v, 900, 9);
        for (size_t i = 0; i < 900; i++)
            ids[i] = (qv_point_id){.kind = QV_ID_NUM, .u.num = i + 1};
        for (size_t i = 0; i < 900; i += 100)
            if (qv_upsert_batch(c, ids + i, v + i * DIM, 100, DIM) != QV_OK)
                _exit(3);
        _exit(c->vec_on_disk && qvi_maparena_contains(&c->vec_arena, c->vecs)
                  ? 0
                  : 4); /* dies: no close, no checkpoint */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    qv_collection *heap;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    {
        float *v = malloc(900 * DIM * sizeof(float));
        qv_point_id ids[900];
        fill(v, 900, 9);
        for (size_t i = 0; i < 900; i++)
            ids[i] = (qv_point_id){.kind = QV_ID_NUM, .u.num = i + 1};
        for (size_t i = 0; i < 900; i += 100)
            ck_assert_int_eq(
                qv_upsert_batch(heap, ids + i, v + i * DIM, 100, DIM), QV_OK);
        free(v);
    }
    s = open_store(path);
    qv_collection *c;
    ck_assert_int_eq(qv_store_get(s, "v", &c), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(c, path), QV_OK);
    ck_assert_uint_eq(c->count, 900);
    write_points(heap, 5000, 300, 5);
    write_points(c, 5000, 300, 5);
    ck_assert(rows_in_arena(c));
    assert_same_search(heap, c);
    qv_collection_release(c);
    qv_store_close(s);
    qv_collection_release(heap);
    scratch_dir_remove();
}
END_TEST

static bool links_in_arena(qv_collection *c)
{
    return c->graph_on_disk &&
           qvi_maparena_contains(&c->index->links_arena, c->index->links0);
}

START_TEST(test_graph)
{
    qv_collection_config cfg;
    config(&cfg);
    qv_collection *heap, *both, *lazy;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    ck_assert_int_eq(qv_collection_create(&cfg, &both), QV_OK);
    cfg.full_scan_threshold_kb = 20; /* graph built after ~200 points */
    ck_assert_int_eq(qv_collection_create(&cfg, &lazy), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(both, NULL), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(both, NULL), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(both, NULL), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(lazy, NULL), QV_OK);
    qv_collection *all[3] = {heap, both, lazy};
    for (int k = 0; k < 3; k++) {
        write_points(all[k], 1, 700, 1);
        write_points(all[k], 300, 200, 2);
        qv_point_id gone = {.kind = QV_ID_NUM, .u.num = 42};
        ck_assert_int_eq(qv_delete(all[k], &gone), QV_OK);
    }
    ck_assert(links_in_arena(both));
    ck_assert(rows_in_arena(both));
    ck_assert(links_in_arena(lazy)); /* the graph built later too */
    ck_assert(!rows_in_arena(lazy));
    ck_assert(lazy->index_ok);
    assert_same_search(heap, both);
    /* lazy's graph was built in one batch, the others point by point:
     * compare it with the exact scan only through a heap twin built the
     * same way. */
    qv_collection *lazy_heap;
    ck_assert_int_eq(qv_collection_create(&cfg, &lazy_heap), QV_OK);
    write_points(lazy_heap, 1, 700, 1);
    write_points(lazy_heap, 300, 200, 2);
    qv_point_id gone = {.kind = QV_ID_NUM, .u.num = 42};
    ck_assert_int_eq(qv_delete(lazy_heap, &gone), QV_OK);
    assert_same_search(lazy_heap, lazy);
    for (int k = 0; k < 3; k++)
        qv_collection_release(all[k]);
    qv_collection_release(lazy_heap);
}
END_TEST

START_TEST(test_graph_reopen)
{
    scratch_dir_make("ondisk-graph");
    char path[256];
    snprintf(path, sizeof(path), "%s", scratch_path("store"));
    qv_collection_config cfg;
    config(&cfg);
    qv_collection *heap;
    ck_assert_int_eq(qv_collection_create(&cfg, &heap), QV_OK);
    write_points(heap, 1, 800, 1);
    qv_store *s = open_store(path);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "v", &cfg, &c), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(c, path), QV_OK);
    write_points(c, 1, 800, 1);
    ck_assert(links_in_arena(c));
    assert_same_search(heap, c);
    qv_collection_release(c);
    qv_store_close(s);

    s = open_store(path);
    ck_assert_int_eq(qv_store_get(s, "v", &c), QV_OK);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(c, path), QV_OK);
    assert_same_search(heap, c);
    write_points(heap, 2000, 600, 4);
    write_points(c, 2000, 600, 4); /* grows: links go to the arena */
    ck_assert(links_in_arena(c));
    assert_same_search(heap, c);
    qv_collection_release(c);
    qv_store_close(s);
    qv_collection_release(heap);
    scratch_dir_remove();
}
END_TEST

START_TEST(test_refusals)
{
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(NULL, NULL), QV_ENULL);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.kind = QV_VECTOR_SPARSE;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_int_eq(qv_collection_set_vectors_on_disk(c, NULL), QV_EINVAL);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(c, NULL), QV_EINVAL);
    ck_assert_int_eq(qv_collection_set_graph_on_disk(NULL, NULL), QV_ENULL);
    qv_collection_release(c);
    config(&cfg);
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_int_eq(
        qv_collection_set_vectors_on_disk(c, "/nonexistent-quiver-dir"),
        QV_EIO);
    ck_assert(!c->vec_on_disk); /* nothing changed */
    ck_assert_int_eq(
        qv_collection_set_graph_on_disk(c, "/nonexistent-quiver-dir"), QV_EIO);
    ck_assert(!c->graph_on_disk);
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ondisk");
    TCase *tc = tcase_create("ondisk");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_twins);
    tcase_add_loop_test(tc, test_twins_with_codes_and_datatypes, 0, 6);
    tcase_add_test(tc, test_reopen);
    tcase_add_test(tc, test_kill_recover);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_graph);
    tcase_add_test(tc, test_graph_reopen);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
