/*
 * fuzz_snapshot.c -- libFuzzer target for the snapshot loader.
 *
 * Copies each input into a 64-byte aligned writable buffer (the loader
 * borrows arrays from it and edits write to it) and loads it with
 * qvi_snapshot_load_buffer, with and without QV_SNAPSHOT_VERIFY.  What
 * loads is used as an application would: count, scroll, get, payload
 * reads, exact and graph search, then an upsert and a delete (the first
 * write checks and maybe rebuilds an unverified graph).  Seeds in
 * tests/fuzz/corpus/snapshot/ are small real snapshots.
 */
#include "persist/snapshot.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(qv_collection *c)
{
    uint64_t n;
    qv_count(c, &n);
    qv_collection_config cfg;
    qv_collection_get_config(c, &cfg);
    if (cfg.dim > 4096)
        return;
    qv_point_id ids[64];
    size_t got = 0;
    qv_scroll(c, NULL, NULL, 64, ids, &got, NULL, NULL);
    float *v = calloc(cfg.dim, sizeof(float));
    if (!v)
        return;
    for (size_t i = 0; i < got; i++) {
        qv_get(c, &ids[i], v, cfg.dim);
        char *json = NULL;
        size_t jl;
        if (qv_payload_get(c, &ids[i], NULL, &json, &jl) == QV_OK)
            qv_free(json);
    }
    for (uint32_t d = 0; d < cfg.dim; d++)
        v[d] = (float)(d % 7) - 3.0f;
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 5;
    qv_hit hits[5];
    size_t nh;
    qv_search(c, v, cfg.dim, &sp, hits, &nh);
    sp.exact = true;
    qv_search(c, v, cfg.dim, &sp, hits, &nh);
    qv_point_id fresh = qv_id_from_num(987654321);
    qv_upsert(c, &fresh, v, cfg.dim);
    if (got)
        qv_delete(c, &ids[0]);
    sp.exact = false;
    qv_search(c, v, cfg.dim, &sp, hits, &nh);
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = (size + 63) & ~(size_t)63;
    uint8_t *buf = aligned_alloc(64, cap ? cap : 64);
    if (!buf)
        return 0;
    char err[256];
    for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
        memcpy(buf, data, size);
        qv_collection *c = NULL;
        if (qvi_snapshot_load_buffer(buf, size, flags, &c, err, sizeof(err)) ==
            QV_OK) {
            exercise(c);
            qv_collection_release(c);
        }
    }
    free(buf);
    return 0;
}
