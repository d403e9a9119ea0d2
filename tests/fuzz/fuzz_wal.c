/*
 * fuzz_wal.c -- libFuzzer target: the write-ahead-log reader.
 *
 * Two ways in.  The whole input is scanned as a log segment (header,
 * framing, checksums, torn-tail and mid-log rules).  But a checksum makes
 * almost every mutation of a record a "bad record", so the record decoders
 * behind it would only ever see the seeds' bytes; the input is therefore
 * also decoded directly as one record body (its first byte picks the
 * kind), and a record that decodes is replayed into a small collection, as
 * recovery would.  Everything must end in a status, never a crash, an
 * out-of-bounds read or an unbounded allocation.
 */
#include "persist/wal.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static qv_status replay_into(void *arg, const qvi_change *r, size_t offset)
{
    (void)offset;
    qvi_wal_replay(arg, r);
    return QV_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 4;
    qv_collection *c = NULL;
    if (qv_collection_create(&cfg, &c) != QV_OK)
        return 0;
    qvi_wal_scan scan;
    qvi_wal_scan_buffer(data, size, replay_into, c, &scan);
    if (size > 0) {
        qvi_change r = {0};
        char err[256];
        if (qvi_wal_decode(data[0] % QVI_CHANGE_KIND_COUNT, 1, data + 1,
                           size - 1, &r, err, sizeof err) == QV_OK)
            qvi_wal_replay(c, &r);
        qvi_wal_change_free(&r);
    }
    qv_collection_release(c);
    return 0;
}
