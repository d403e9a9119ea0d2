/*
 * crash_writer.c -- the process test_crash.c kills.
 *
 * Usage: crash_writer STORE NEXT0 NEXT1 CHECKPOINT_BYTES [sparse]
 *
 * Opens the durable store (recovering it), ensures collection "c", then
 * runs two writer threads forever.  Thread t upserts batches NEXT_t,
 * NEXT_t + 2, ...: batch b fills group b % CRASH_GROUPS, i.e. points
 * g*CRASH_K .. g*CRASH_K + CRASH_K - 1, with crash_vector(b, i) and payload
 * {"b":b,"i":i}, as one qv_upsert_with_payloads call (with "sparse": in
 * a sparse collection, crash_sparse(b, i) as one qv_sparse_upsert).  After each
 * batch is acknowledged it writes b (8 bytes, atomic on a pipe) to stdout.  Any
 * failure is printed to stderr and exits with status 2.
 */
#include "quiver.h"
#include "tests/crash_common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static qv_collection *coll;
static bool sparse;

static qv_status upsert(const qv_point_id *ids, uint64_t b, const char **tp,
                        const size_t *lens)
{
    if (sparse) {
        uint32_t idx[CRASH_K][CRASH_DIM];
        float val[CRASH_K][CRASH_DIM];
        qv_sparse_vector sv[CRASH_K];
        for (unsigned i = 0; i < CRASH_K; i++) {
            crash_sparse(b, i, idx[i], val[i]);
            sv[i] = (qv_sparse_vector){idx[i], val[i], CRASH_DIM};
        }
        return qv_sparse_upsert(coll, ids, sv, CRASH_K, tp, lens);
    }
    float vecs[CRASH_K * CRASH_DIM];
    for (unsigned i = 0; i < CRASH_K; i++)
        crash_vector(b, i, vecs + i * CRASH_DIM);
    return qv_upsert_with_payloads(coll, ids, vecs, CRASH_K, CRASH_DIM, tp,
                                   lens);
}

static void die(const char *what, qv_status st, const char *msg)
{
    fprintf(stderr, "crash_writer: %s: %s: %s\n", what, qv_status_name(st),
            msg);
    exit(2);
}

static void *writer(void *arg)
{
    uint64_t b = *(uint64_t *)arg;
    for (;; b += 2) {
        qv_point_id ids[CRASH_K];
        char texts[CRASH_K][64];
        const char *tp[CRASH_K];
        size_t lens[CRASH_K];
        uint64_t g = b % CRASH_GROUPS;
        for (unsigned i = 0; i < CRASH_K; i++) {
            ids[i] = qv_id_from_num(g * CRASH_K + i);
            lens[i] = crash_payload(b, i, texts[i], sizeof(texts[i]));
            tp[i] = texts[i];
        }
        qv_status st = upsert(ids, b, tp, lens);
        if (st != QV_OK) {
            char msg[256];
            qv_collection_errmsg(coll, msg, sizeof(msg));
            die("upsert", st, msg);
        }
        if (write(STDOUT_FILENO, &b, sizeof(b)) != sizeof(b))
            exit(3);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "sparse") == 0)) {
        fprintf(stderr, "usage: crash_writer STORE NEXT0 NEXT1 BYTES "
                        "[sparse]\n");
        return 1;
    }
    uint64_t next[2] = {strtoull(argv[2], NULL, 10),
                        strtoull(argv[3], NULL, 10)};
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = strtoull(argv[4], NULL, 10);
    qv_store *s;
    char err[512];
    qv_status st = qv_store_open_dir(argv[1], &o, &s, err, sizeof(err));
    if (st != QV_OK)
        die("open", st, err);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = CRASH_DIM;
    cfg.metric = QV_METRIC_DOT;
    sparse = argc == 6;
    cfg.kind = sparse ? QV_VECTOR_SPARSE : QV_VECTOR_DENSE;
    st = qv_store_ensure(s, "c", &cfg, &coll, NULL);
    if (st != QV_OK) {
        qv_store_errmsg(s, err, sizeof(err));
        die("ensure", st, err);
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, writer, &next[t]);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    return 0;
}
