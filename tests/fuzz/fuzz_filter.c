/*
 * fuzz_filter.c -- libFuzzer target: qv_filter_parse on arbitrary bytes.
 *
 * Filters arrive in HTTP bodies from anyone who can reach the server, so
 * the parser must turn every input into a compiled filter or an error: no
 * crash, no out-of-bounds access, no leak, no stack exhaustion on deep
 * nesting.  A compiled filter is also evaluated over one fixed payload so
 * that the evaluator's paths are exercised on whatever the parser accepts.
 */
#include "quiver.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_filter *f = NULL;
    char err[256];
    if (qv_filter_parse((const char *)data, size, &f, err, sizeof err) !=
        QV_OK) {
        /* A failed parse always explains itself. */
        if (f != NULL || strlen(err) == 0)
            __builtin_trap();
        return 0;
    }
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    qv_collection *c;
    if (qv_collection_create(&cfg, &c) == QV_OK) {
        static const char payload[] =
            "{\"city\":\"Oslo\",\"n\":[1,2.5,-3],\"t\":\"2024-01-02T03:04:"
            "05Z\","
            "\"geo\":{\"lon\":10.7,\"lat\":59.9},\"a\":[{\"b\":1},{\"b\":"
            "null}],\"e\":[],\"ok\":true}";
        const char *pl[1] = {payload};
        size_t len[1] = {sizeof payload - 1};
        qv_point_id id = qv_id_from_num(1);
        float v[2] = {1, 0};
        uint64_t n;
        if (qv_upsert_with_payloads(c, &id, v, 1, 2, pl, len) == QV_OK)
            qv_count_filter(c, f, &n);
        qv_collection_release(c);
    }
    qv_filter_free(f);
    return 0;
}
