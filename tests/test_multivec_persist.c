/*
 * test_multivec_persist.c -- multivector collections across files: the
 * snapshot round trip (matrices, payloads and the MaxSim graph come back,
 * with and without full verification; damaged multivector sections are
 * refused), write-ahead-log replay of multivector upserts and deletes,
 * and kill -9 of a process writing multivector batches to a durable store,
 * after which every acknowledged batch is there, whole.
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DIM = 8, GROUPS = 10, PER = 8 };

/* Row value k of row r of point p as written by batch b (dot metric: kept
 * as is).  Element 0 of row 0 is b itself, so a read names its batch. */
static float value(uint64_t b, uint64_t p, uint32_t r, uint32_t k)
{
    if (r == 0 && k == 0)
        return (float)b;
    return sinf((float)(b * 131 + p * 17 + r * 7 + k));
}

static uint32_t rows_of(uint64_t b, uint64_t p)
{
    return 1 + (uint32_t)((b + p) % 4);
}

static qv_point_id pid(uint64_t i)
{
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = i};
    return id;
}

static qv_collection_config config(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_DOT;
    cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
    cfg.full_scan_threshold_kb = 0; /* the graph from the first point */
    cfg.max_indexing_threads = 1;
    return cfg;
}

/* Batch b: the PER points of group b % GROUPS, with payload {"b": b}. */
static qv_status write_batch(qv_collection *c, uint64_t b)
{
    qv_point_id ids[PER];
    uint32_t counts[PER];
    float rows[PER * 4 * DIM];
    char texts[PER][32];
    const char *tp[PER];
    size_t lens[PER];
    size_t at = 0;
    for (uint64_t i = 0; i < PER; i++) {
        uint64_t p = (b % GROUPS) * PER + i;
        ids[i] = pid(p);
        counts[i] = rows_of(b, p);
        for (uint32_t r = 0; r < counts[i]; r++)
            for (uint32_t k = 0; k < DIM; k++)
                rows[at++] = value(b, p, r, k);
        snprintf(texts[i], sizeof(texts[i]), "{\"b\":%llu}",
                 (unsigned long long)b);
        tp[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    return qv_multi_upsert_batch(c, ids, PER, counts, rows, DIM, tp, lens);
}

/* The batch point p was last written by, checking its rows against it. */
static uint64_t batch_of(qv_collection *c, uint64_t p)
{
    float out[4 * DIM];
    uint32_t n = 0;
    qv_point_id id = pid(p);
    ck_assert_int_eq(qv_multi_get(c, &id, out, 4, &n), QV_OK);
    uint64_t b = (uint64_t)out[0];
    ck_assert_uint_eq(n, rows_of(b, p));
    for (uint32_t r = 0; r < n; r++)
        for (uint32_t k = 0; k < DIM; k++)
            ck_assert(out[r * DIM + k] == value(b, p, r, k));
    return b;
}

/* Every point of group g holds batch b's rows; returns b. */
static uint64_t group_batch(qv_collection *c, uint64_t g)
{
    uint64_t b = batch_of(c, g * PER);
    for (uint64_t i = 1; i < PER; i++)
        ck_assert_uint_eq(batch_of(c, g * PER + i), b);
    return b;
}

/* A point's own matrix finds it first, by graph and by scan alike. */
static void assert_self_search(qv_collection *c, uint64_t p)
{
    float out[4 * DIM];
    uint32_t n = 0;
    qv_point_id id = pid(p);
    ck_assert_int_eq(qv_multi_get(c, &id, out, 4, &n), QV_OK);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 3;
    qv_hit g[3], e[3];
    size_t ng = 0, ne = 0;
    ck_assert_int_eq(qv_multi_search(c, out, n, DIM, &sp, g, &ng), QV_OK);
    sp.exact = true;
    ck_assert_int_eq(qv_multi_search(c, out, n, DIM, &sp, e, &ne), QV_OK);
    ck_assert_uint_eq(ng, ne);
    for (size_t i = 0; i < ne; i++) {
        ck_assert_uint_eq(g[i].id.u.num, e[i].id.u.num);
        ck_assert(g[i].score == e[i].score);
    }
}

static void setup(void)
{
    scratch_dir_make("multivec");
}

START_TEST(test_snapshot_round_trip)
{
    qv_collection_config cfg = config();
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    for (uint64_t b = 0; b < 25; b++)
        ck_assert_int_eq(write_batch(c, b), QV_OK);
    qv_point_id gone = pid(3);
    ck_assert_int_eq(qv_delete(c, &gone), QV_OK);
    const char *path = scratch_path("m.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
        qv_collection *d = NULL;
        char err[256] = "";
        ck_assert_msg(qv_snapshot_open(path, flags, &d, err, sizeof(err)) ==
                          QV_OK,
                      "open: %s", err);
        qv_collection_config got;
        qv_collection_get_config(d, &got);
        ck_assert_uint_eq(got.multivector, QV_MULTIVECTOR_MAX_SIM);
        uint64_t n = 0;
        qv_count(d, &n);
        ck_assert_uint_eq(n, GROUPS * PER - 1);
        ck_assert(d->index_ok);
        for (uint64_t g = 0; g < GROUPS; g++) {
            for (uint64_t i = 0; i < PER; i++) {
                uint64_t p = g * PER + i;
                if (p == 3)
                    continue;
                ck_assert_uint_eq(batch_of(d, p), batch_of(c, p));
            }
        }
        assert_self_search(d, 42);
        /* Writes after the load grow the copied arena and the mapped
         * graph. */
        ck_assert_int_eq(write_batch(d, 25), QV_OK);
        ck_assert_uint_eq(group_batch(d, 5), 25);
        assert_self_search(d, 44);
        qv_collection_release(d);
    }
    qv_collection_release(c);
}
END_TEST

/* Flips one byte of the multivector rows section: a row count grows
 * beyond the section and the open names the section. */
START_TEST(test_snapshot_damaged_rows)
{
    qv_collection_config cfg = config();
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_int_eq(write_batch(c, 0), QV_OK);
    const char *path = scratch_path("m.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection_release(c);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    uint8_t *buf = malloc((size_t)len);
    fseek(f, 0, SEEK_SET);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    /* Find the rows section in the table (32-byte entries after 64). */
    uint32_t nsec;
    memcpy(&nsec, buf + 20, 4);
    uint64_t off = 0;
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t kind;
        memcpy(&kind, buf + 64 + 32 * i, 4);
        if (kind == 49)
            memcpy(&off, buf + 64 + 32 * i + 8, 8);
    }
    ck_assert_uint_ne(off, 0);
    buf[off + 2] = 0x7f; /* the first record's row count */
    fseek(f, (long)off, SEEK_SET);
    fwrite(buf + off, 1, 4, f);
    fclose(f);
    free(buf);
    qv_collection *d = NULL;
    char err[256] = "";
    ck_assert_int_eq(qv_snapshot_open(path, 0, &d, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_msg(strstr(err, "multivector rows"), "message: %s", err);
    ck_assert_ptr_null(d);
}
END_TEST

static qv_store *open_store(uint64_t ckpt_bytes)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = ckpt_bytes;
    qv_store *s = NULL;
    char err[256] = "";
    ck_assert_msg(qv_store_open_dir(scratch_path("store"), &o, &s, err,
                                    sizeof(err)) == QV_OK,
                  "open store: %s", err);
    return s;
}

/* Replay: a process writes and exits without closing its store (no
 * checkpoint), so the reopened store rebuilds everything from its log. */
START_TEST(test_wal_replay)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        qv_store *s = open_store(0);
        qv_collection_config cfg = config();
        qv_collection *c = NULL;
        if (qv_store_create(s, "m", &cfg, &c) != QV_OK)
            _exit(2);
        for (uint64_t b = 0; b < 23; b++)
            if (write_batch(c, b) != QV_OK)
                _exit(3);
        qv_point_id ids[2] = {pid(8), pid(9)};
        if (qv_delete_batch(c, ids, 2, NULL) != QV_OK)
            _exit(4);
        _exit(0); /* no close: the log is all there is */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    qv_store *s = open_store(0);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_get(s, "m", &c), QV_OK);
    uint64_t n = 0;
    qv_count(c, &n);
    ck_assert_uint_eq(n, GROUPS * PER - 2);
    for (uint64_t g = 0; g < GROUPS; g++) {
        uint64_t want = g < 3 ? 20 + g : 10 + g;
        if (g == 1) { /* points 8 and 9 were deleted */
            for (uint64_t i = 2; i < PER; i++)
                ck_assert_uint_eq(batch_of(c, g * PER + i), want);
            continue;
        }
        ck_assert_uint_eq(group_batch(c, g), want);
    }
    ck_assert(c->index_ok);
    assert_self_search(c, 33);
    qv_collection_release(c);
    qv_store_close(s);
}
END_TEST

/* kill -9 while batches stream in, with checkpoints every few records:
 * after recovery each group holds the last batch acknowledged for it, or
 * the one in flight, whole. */
START_TEST(test_kill9)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fd[0]);
        qv_store *s = open_store(QV_MIN_CHECKPOINT_WAL_BYTES);
        qv_collection_config cfg = config();
        qv_collection *c = NULL;
        if (qv_store_create(s, "m", &cfg, &c) != QV_OK)
            _exit(2);
        for (uint64_t b = 0;; b++) {
            if (write_batch(c, b) != QV_OK)
                _exit(3);
            if (write(fd[1], &b, sizeof(b)) != (ssize_t)sizeof(b))
                _exit(4);
        }
    }
    close(fd[1]);
    uint64_t acked = 0, b;
    while (read(fd[0], &b, sizeof(b)) == (ssize_t)sizeof(b)) {
        acked = b;
        if (acked >= 60)
            break;
    }
    ck_assert_uint_ge(acked, 60);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* Acknowledgements the child wrote before it died. */
    while (read(fd[0], &b, sizeof(b)) == (ssize_t)sizeof(b))
        acked = b;
    close(fd[0]);

    qv_store *s = open_store(QV_MIN_CHECKPOINT_WAL_BYTES);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_get(s, "m", &c), QV_OK);
    for (uint64_t g = 0; g < GROUPS; g++) {
        uint64_t last = acked - ((acked + GROUPS - g) % GROUPS);
        uint64_t got = group_batch(c, g);
        ck_assert_msg(got == last || got == acked + 1,
                      "group %llu holds batch %llu, acknowledged %llu",
                      (unsigned long long)g, (unsigned long long)got,
                      (unsigned long long)last);
    }
    assert_self_search(c, 17);
    qv_collection_release(c);
    qv_store_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multivec_persist");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, scratch_dir_remove);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_snapshot_round_trip);
    tcase_add_test(tc, test_snapshot_damaged_rows);
    tcase_add_test(tc, test_wal_replay);
    tcase_add_test(tc, test_kill9);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
