/*
 * fuzz_wal.c -- libFuzzer target for the log segment reader.
 *
 * Feeds each input, as a whole segment, to qvi_wal_scan_buffer, which
 * decodes every record it accepts (exercising every kind's decoder).
 * Built only with -DQUIVER_FUZZ=ON and clang:
 *   CC=clang cmake -S . -B build-fuzz -DQUIVER_FUZZ=ON \
 *       -DQUIVER_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
 *   cmake --build build-fuzz --target fuzz_wal
 *   build-fuzz/fuzz_wal -max_len=4096 corpus/
 * A good seed is any wal-*.log file of a durable store.
 */
#include "persist/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qvi_wal_scan scan;
    qvi_wal_scan_buffer(data, size, NULL, NULL, &scan);
    return 0;
}
