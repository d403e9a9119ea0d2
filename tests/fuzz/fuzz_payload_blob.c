/*
 * fuzz_payload_blob.c -- libFuzzer target: the payload blob validator.
 *
 * Payload blobs are read from snapshot files and write-ahead logs, which
 * may come from elsewhere.  qvi_payload_validate must refuse every
 * malformed blob; whatever it accepts must then be safe to walk, so the
 * target converts accepted blobs back to JSON and re-encodes them.
 */
#include "core/payload/payload.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (qvi_payload_validate(data, size) != QV_OK)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (qvi_payload_to_json(data, size, NULL, 0, NULL, 0, &text, &len) != QV_OK)
        __builtin_trap(); /* a valid blob always converts */
    /* read back with exact numbers, as the library reads payloads */
    cJSON *obj = qvi_json_parse_exact(text, len, NULL);
    if (!obj)
        __builtin_trap(); /* and converts to valid JSON */
    uint8_t *blob = NULL;
    size_t blen = 0;
    char err[128];
    /* every number a valid blob holds is encodable again */
    if (qvi_payload_encode(obj, &blob, &blen, err, sizeof err) != QV_OK)
        __builtin_trap();
    free(blob);
    cJSON_Delete(obj);
    free(text);
    return 0;
}
