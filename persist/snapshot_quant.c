/*
 * snapshot_quant.c -- the quantization sections of a snapshot file
 * (docs/FORMAT.md, sections 64-67): the config, and the trained state
 * and codes, so that an open trains nothing.
 *
 *   64 quantization   (32 bytes) the config; written for every quantized
 *                     collection.
 *   65 quantization state (64 bytes + tables) what training produced --
 *                     int8's scale and offset, the binary statistics,
 *                     product's codebooks -- with the live count the
 *                     quantizer was trained on (collection_quant.c uses
 *                     it to decide when to retrain) and the sizes the
 *                     codes must have.
 *   66 quantized codes (n_slots * row bytes, page aligned) every slot's
 *                     code as in memory; dead slots zero.
 *   67 quantization corrections (int8 only, n_slots f32, page aligned)
 *                     the per-slot term of int8's dot product (dead 0).
 * 65-67 are written whenever the collection's codes are trained and
 * sound (qvi_columns.quant), never for a collection whose last code
 * allocation failed.  None of the four is REQUIRED: a reader that
 * predates 65-67 skips them and rebuilds the codes from the vectors, one
 * that predates 64 searches the floats; nothing is lost either way.
 *
 * Opening: the codes and corrections are borrowed from the mapping, as
 * the vectors are (core/quant/quant_state.c), the tables are copied.
 * Like every big array their checksums are checked only with
 * QV_SNAPSHOT_VERIFY; the state's (small) at every open.  65-67 present
 * but inconsistent -- one missing, a kind, encoding, dimension, metric,
 * row or slot count that disagrees with the config, a size that
 * disagrees with those, a non-finite or negative trained value, a
 * non-finite correction -- is QV_ECORRUPT: a file that holds damaged data
 * is refused, as everywhere else in the format, rather than quietly
 * retrained (which would also change the answers).  What the open cannot
 * afford, reading every code, is the deep check of VERIFY and of a save
 * of a collection whose codes came from a file
 * (qvi_snapshot_check_codes): int8 values within 0..127 with matching
 * corrections, zero padding.  Unchecked codes are safe to search: no code
 * value is used as an index beyond a 256-entry table row.
 *
 * Section 64 layout (32 bytes, native byte order like the rest of the
 * file):
 *   0  u32 kind            qv_quantization_kind (1 int8, 2 binary, 3 product)
 *   4  f32 quantile        int8; 0 = unset
 *   8  u32 always_ram      0 or 1
 *  12  u32 encoding        binary: qv_binary_encoding;
 *                          product: qv_pq_compression (0 x4 .. 4 x64)
 *  16  u32 query_encoding  binary: qv_binary_query_encoding
 *  20  12 bytes zero
 * A section whose values the library would refuse in a config is
 * QV_ECORRUPT.
 *
 * Section 65 layout:
 *   0  u32 kind, 4 u32 encoding, 8 u32 dim, 12 u32 metric  (as the config)
 *  16  u32 row             bytes of one code
 *  20  u32 n_slots         as the config
 *  24  u64 trained_on      live points at the last training, <= n_slots
 *  32  f32 alpha, 36 f32 offset   int8 (zero otherwise)
 *  40  u64 n_tables        floats that follow
 *  48  16 bytes zero
 *  64  n_tables f32        binary 1.5/2 bits: mean[dim], sd[dim];
 *                          product: the codebooks as quant_pq.c keeps them
 */
#include "core/core.h"
#include "core/quant/quant.h"
#include "persist/snapshot.h"

#include <string.h>

#define QUANT_SIZE 32u

#define STATE_HEAD 64u

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

uint32_t qvi_snap_quant_sections(const qvi_columns *cols)
{
    if (cols->cfg.quantization == QV_QUANTIZATION_NONE)
        return 0;
    if (!cols->quant)
        return 1;
    return cols->quant->p.kind == QV_QUANTIZATION_INT8 ? 4 : 3;
}

static void put_state(qvi_snapw *w, const qvi_columns *cols)
{
    const qvi_quant *q = cols->quant;
    uint8_t h[STATE_HEAD] = {0};
    size_t nt = qvi_quant_table_floats(q);
    qvi_put32(h, q->p.kind);
    qvi_put32(h + 4, q->p.encoding);
    qvi_put32(h + 8, q->dim);
    qvi_put32(h + 12, (uint32_t)q->metric);
    qvi_put32(h + 16, (uint32_t)q->row);
    qvi_put32(h + 20, cols->n_slots);
    qvi_put64(h + 24, cols->quant_trained_on);
    if (q->p.kind == QV_QUANTIZATION_INT8) {
        memcpy(h + 32, &q->alpha, 4);
        memcpy(h + 36, &q->offset, 4);
    }
    qvi_put64(h + 40, nt);
    qvi_snapw_begin(w, QVI_SNAP_QUANT_STATE);
    qvi_snapw_put(w, h, sizeof(h));
    if (q->p.kind == QV_QUANTIZATION_PRODUCT) {
        qvi_snapw_put(w, q->cent, nt * sizeof(float));
    } else if (nt) {
        qvi_snapw_put(w, q->mean, q->dim * sizeof(float));
        qvi_snapw_put(w, q->sd, q->dim * sizeof(float));
    }
    qvi_snapw_end(w);
}

void qvi_snap_put_quant(qvi_snapw *w, const qvi_columns *cols)
{
    const qv_collection_config *k = &cols->cfg;
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
    const qvi_quant *q = cols->quant;
    if (!q)
        return;
    put_state(w, cols);
    qvi_snapw_begin(w, QVI_SNAP_QUANT_CODES);
    qvi_snap_put_live_runs(w, cols, q->codes, q->row);
    qvi_snapw_end(w);
    if (q->p.kind == QV_QUANTIZATION_INT8) {
        qvi_snapw_begin(w, QVI_SNAP_QUANT_CORR);
        qvi_snap_put_live_runs(w, cols, (const uint8_t *)q->corr,
                               sizeof(float));
        qvi_snapw_end(w);
    }
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

static bool has(const qvi_snap_file *f, uint32_t kind)
{
    return f->by_kind[kind] >= 0;
}

qv_status qvi_snap_read_quant(const qvi_snap_file *f, qvi_quant **out,
                              uint64_t *trained_on, char *err, size_t errcap)
{
    *out = NULL;
    *trained_on = 0;
    bool hs = has(f, QVI_SNAP_QUANT_STATE), hc = has(f, QVI_SNAP_QUANT_CODES),
         hr = has(f, QVI_SNAP_QUANT_CORR);
    if (!hs && !hc && !hr)
        return QV_OK; /* an older file, or untrained codes: rebuilt */
    const qv_collection_config *k = &f->config.cfg;
    uint32_t n = f->config.n_slots;
    if (k->quantization == QV_QUANTIZATION_NONE)
        return CORRUPT("section 'quantization state': quantized codes in a "
                       "file without a quantization config");
    bool int8 = k->quantization == QV_QUANTIZATION_INT8;
    if (!hs || !hc || hr != int8)
        return CORRUPT("section 'quantization state': the %s section is "
                       "%s",
                       !hs   ? "state"
                       : !hc ? "codes"
                             : "corrections",
                       !hs || !hc || int8 ? "missing"
                                          : "present for non-int8 "
                                            "codes");
    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_QUANT_STATE, &len);
    if (len < STATE_HEAD)
        return CORRUPT("section 'quantization state': %llu bytes, at least "
                       "%u expected",
                       (unsigned long long)len, STATE_HEAD);
    uint32_t kind = qvi_rd32(p), enc = qvi_rd32(p + 4), dim = qvi_rd32(p + 8),
             metric = qvi_rd32(p + 12), row = qvi_rd32(p + 16),
             slots = qvi_rd32(p + 20);
    uint64_t trained = qvi_rd64(p + 24), nt = qvi_rd64(p + 40);
    float alpha, offset;
    memcpy(&alpha, p + 32, 4);
    memcpy(&offset, p + 36, 4);
    static const uint8_t zero16[16];
    if (kind != k->quantization || enc != k->quant_encoding || dim != k->dim ||
        metric != (uint32_t)k->metric || slots != n)
        return CORRUPT("section 'quantization state': kind %u, encoding %u, "
                       "dim %u, metric %u, %u slots disagree with the config",
                       kind, enc, dim, metric, slots);
    if (trained > n || memcmp(p + 48, zero16, 16) != 0 ||
        (!int8 && (qvi_rd32(p + 32) || qvi_rd32(p + 36))))
        return CORRUPT("section 'quantization state': bad header (trained on "
                       "%llu of %u slots)",
                       (unsigned long long)trained, n);
    qvi_quant_params qp = {.kind = k->quantization,
                           .quantile = k->quant_quantile,
                           .encoding = k->quant_encoding,
                           .query_encoding = k->quant_query_encoding};
    qvi_quant *q = NULL;
    qv_status st = qvi_quant_create(&qp, k->dim, k->metric, &q);
    if (st != QV_OK) /* the config was checked: only memory can fail */
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    uint64_t clen, rlen;
    uint8_t *codes = (uint8_t *)qvi_snap_data(f, QVI_SNAP_QUANT_CODES, &clen);
    float *corr = (float *)qvi_snap_data(f, QVI_SNAP_QUANT_CORR, &rlen);
    size_t want_nt = qvi_quant_table_floats(q);
    char msg[128];
    if (row != q->row)
        st = CORRUPT("section 'quantization state': codes of %u bytes, the "
                     "config implies %zu",
                     row, q->row);
    else if (nt != want_nt || len != STATE_HEAD + want_nt * sizeof(float))
        st = CORRUPT("section 'quantization state': %llu bytes with %llu "
                     "trained values, the config implies %zu values",
                     (unsigned long long)len, (unsigned long long)nt, want_nt);
    else if (clen != (uint64_t)n * row)
        st = CORRUPT("section 'quantized codes': %llu bytes, the config "
                     "implies %llu",
                     (unsigned long long)clen, (unsigned long long)n * row);
    else if (int8 && rlen != (uint64_t)n * sizeof(float))
        st = CORRUPT("section 'quantization corrections': %llu bytes, the "
                     "config implies %llu",
                     (unsigned long long)rlen,
                     (unsigned long long)n * sizeof(float));
    else if ((st = qvi_quant_restore(q, alpha, offset,
                                     (const float *)(p + STATE_HEAD), nt, codes,
                                     corr, n, msg, sizeof(msg))) == QV_EINVAL)
        st = CORRUPT("section 'quantization state': %s", msg);
    else if (st != QV_OK)
        st = qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    if (st != QV_OK) {
        qvi_quant_free(q);
        return st;
    }
    *out = q;
    *trained_on = trained;
    return QV_OK;
}

qv_status qvi_snapshot_check_codes(const qvi_columns *cols, char *err,
                                   size_t errcap)
{
    if (!cols->quant)
        return QV_OK;
    uint32_t bad = 0;
    if (qvi_quant_check_codes(cols->quant, cols->live, cols->n_slots, &bad) !=
        QV_OK)
        return CORRUPT("section 'quantized codes': slot %u's code is "
                       "malformed (a value, its padding or its correction)",
                       bad);
    return QV_OK;
}
