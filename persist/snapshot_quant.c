/*
 * snapshot_quant.c -- the quantization section of a snapshot file
 * (kind 64, "quantization", docs/FORMAT.md).
 *
 * Only the config is stored, not the codes: codes are derived from the
 * vectors (training then encoding), rebuilding them costs one pass over
 * the vectors at open -- far less than the graph the file spares -- and a
 * file without codes cannot hold codes that disagree with its vectors.
 * The section is written only for a quantized collection and is not
 * marked required: a reader that predates it opens the collection without
 * quantization, which searches the floats and loses no data.
 *
 * Layout (32 bytes, native byte order like the rest of the file):
 *   0  u32 kind            qv_quantization_kind (1 int8, 2 binary, 3 product)
 *   4  f32 quantile        int8; 0 = unset
 *   8  u32 always_ram      0 or 1
 *  12  u32 encoding        binary: qv_binary_encoding;
 *                          product: qv_pq_compression (0 x4 .. 4 x64)
 *  16  u32 query_encoding  binary: qv_binary_query_encoding
 *  20  12 bytes zero
 * A section whose values the library would refuse in a config is
 * QV_ECORRUPT.
 */
#include "core/core.h"
#include "persist/snapshot.h"

#include <string.h>

#define QUANT_SIZE 32u

void qvi_snap_put_quant(qvi_snapw *w, const qv_collection_config *k)
{
    if (k->quantization == QV_QUANTIZATION_NONE)
        return;
    uint8_t b[QUANT_SIZE] = {0};
    uint32_t v[5] = {k->quantization, 0, k->quant_always_ram ? 1u : 0u,
                     k->quant_encoding, k->quant_query_encoding};
    memcpy(&v[1], &k->quant_quantile, 4);
    memcpy(b, v, sizeof(v));
    qvi_snapw_begin(w, QVI_SNAP_QUANT);
    qvi_snapw_put(w, b, sizeof(b));
    qvi_snapw_end(w);
}

qv_status qvi_snap_parse_quant(qvi_snap_file *f, char *err, size_t errcap)
{
    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_QUANT, &len);
    if (!p)
        return QV_OK; /* not quantized */
    if (len != QUANT_SIZE)
        return qvi_snap_fail(err, errcap, QV_ECORRUPT,
                             "section 'quantization': %llu bytes, expected %u",
                             (unsigned long long)len, QUANT_SIZE);
    uint32_t v[5];
    memcpy(v, p, sizeof(v));
    qv_collection_config *k = &f->config.cfg;
    k->quantization = v[0];
    memcpy(&k->quant_quantile, &v[1], 4);
    k->quant_always_ram = v[2] != 0;
    k->quant_encoding = v[3];
    k->quant_query_encoding = v[4];
    char msg[128];
    if (v[0] == QV_QUANTIZATION_NONE || v[2] > 1 ||
        qvi_quant_config_check(k, msg, sizeof(msg)) != QV_OK)
        return qvi_snap_fail(err, errcap, QV_ECORRUPT,
                             "section 'quantization': invalid config (kind "
                             "%u, encoding %u, query encoding %u)",
                             v[0], v[3], v[4]);
    return QV_OK;
}
