/*
 * fuzz_wal.c -- libFuzzer target for the log segment reader.
 *
 * Feeds each input, as a whole segment, to qvi_wal_scan_buffer, which
 * decodes every record it accepts (exercising every kind's decoder).
 * Run by scripts/fuzz (QUIVER_SANITIZE=fuzz); the seeds in
 * tests/fuzz/corpus/wal/ are real segments of a durable store (upserts with
 * and without payloads, deletes, payload edits, a filter delete).
 */
#include "persist/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qvi_wal_scan scan;
    qvi_wal_scan_buffer(data, size, NULL, NULL, &scan);
    return 0;
}
