/*
 * snapshot_check.c -- the checks an open leaves out: the deep verification
 * of QV_SNAPSHOT_VERIFY and qv_snapshot_verify, and the lazy check of a
 * borrowed payload blob on its first use.
 *
 * An open validates every number it uses as a size, offset or index, but
 * does not read the big sections.  Verification does, after the section
 * checksums (snapshot_read.c) have passed:
 *   - vectors: every live row finite, its padding zero, its squared norm
 *     equal (to float rounding) to the stored one, unit length or zero
 *     under cosine, each component a value of the datatype (an exact
 *     half, an integer 0..255);
 *   - ids: every live id well formed and found at its own slot through the
 *     id map, which proves the ids unique and every bucket where its hash
 *     puts it (the open has already checked that the buckets name distinct
 *     live slots, as many as points);
 *   - payloads: every blob passes qvi_payload_validate;
 *   - graph: qvi_hnsw_check in full, and the dot norms;
 *   - quantized codes kept by the file: well formed (snapshot_quant.c).
 * Then the blobs and the graph are marked verified, so that nothing is
 * checked twice.
 *
 * The lazy check of a borrowed blob on its first use lives in core
 * (core/backing.c); verification goes through the same memo, so that
 * nothing is checked twice.
 *
 * Every check reads a collection's columns (core.h, qvi_columns): the
 * loader runs them on the view core gives it under the shared lock
 * (qvi_collection_read_columns), the snapshot writer on the view it saves.
 */
#include "core/payload/payload.h"
#include "persist/snapshot.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

/* The checks of one live row (decoded to floats). */
static qv_status check_row(const qvi_columns *cols, uint32_t s,
                           const float *row, uint32_t dim, uint32_t dt,
                           char *err, size_t errcap)
{
    double sq = 0.0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(row[i]))
            return CORRUPT("section 'vectors': slot %u component %u is "
                           "not finite",
                           s, i);
        sq += (double)row[i] * row[i];
        float conv = row[i];
        qvi_datatype_apply(dt, &conv, 1);
        if (conv != row[i])
            return CORRUPT("section 'vectors': slot %u component %u "
                           "(%g) is not a %s value",
                           s, i, (double)row[i], qvi_datatype_name(dt));
    }
    for (size_t i = dim; i < cols->stride; i++) {
        if (row[i] != 0.0f)
            return CORRUPT("section 'vectors': slot %u has non-zero "
                           "padding",
                           s);
    }
    double stored = cols->sqnorms[s];
    if (!(fabs(stored - sq) <= 1e-3 * (sq > 1.0 ? sq : 1.0)))
        return CORRUPT("section 'squared norms': slot %u has %g, its "
                       "vector %g",
                       s, stored, sq);
    if (cols->cfg.metric == QV_METRIC_COSINE &&
        !qvi_byte_cosine(cols->cfg.metric, cols->cfg.datatype) && sq != 0.0 &&
        fabs(sq - 1.0) > 1e-3)
        return CORRUPT("section 'vectors': cosine slot %u is not unit "
                       "length (squared norm %g)",
                       s, sq);
    return QV_OK;
}

qv_status qvi_snapshot_check_vectors(const qvi_columns *cols, char *err,
                                     size_t errcap)
{
    uint32_t dim = cols->cfg.dim;
    uint32_t dt = cols->cfg.datatype;
    uint32_t rdt = qvi_row_datatype(&cols->cfg);
    size_t elem = qvi_datatype_size(rdt);
    float *tmp = NULL;
    if (elem != sizeof(float) &&
        !(tmp = malloc((size_t)cols->stride * sizeof(float))))
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    qv_status st = QV_OK;
    for (uint32_t s = 0; s < cols->n_slots && st == QV_OK; s++) {
        if (!cols->live[s])
            continue;
        const char *raw =
            (const char *)cols->vecs + (size_t)s * cols->row_bytes;
        const float *row = (const float *)(const void *)raw;
        if (tmp) { /* narrow rows: decoded, padding included */
            qvi_datatype_decode(rdt, raw, tmp, cols->stride);
            row = tmp;
        }
        st = check_row(cols, s, row, dim, dt, err, errcap);
    }
    free(tmp);
    return st;
}

static qv_status check_ids(const qvi_columns *cols, char *err, size_t errcap)
{
    /* The map as core would probe it (read only: find never writes). */
    qvi_idmap map = {.buckets = cols->idmap_buckets,
                     .cap = cols->idmap_cap,
                     .count = (size_t)cols->count,
                     .borrowed = true};
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        if (!cols->live[s])
            continue;
        if (!qvi_id_valid(&cols->ids[s]))
            return CORRUPT("section 'ids': slot %u holds a malformed id", s);
        uint32_t at;
        if (!qvi_idmap_find(&map, cols->ids, &cols->ids[s], &at) || at != s) {
            char text[QV_UUID_STRLEN];
            qv_id_format(&cols->ids[s], text, sizeof(text));
            return CORRUPT("section 'id map': id %s of slot %u is not found "
                           "at its slot (a duplicate id or a misplaced "
                           "bucket)",
                           text, s);
        }
    }
    return QV_OK;
}

static qv_status check_payloads(const qvi_columns *cols, qvi_backing *b,
                                char *err, size_t errcap)
{
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        const uint8_t *blob = cols->payloads[s];
        if (!blob)
            continue;
        if (!qvi_backing_blob_ok(b, s, blob, cols->payload_lens[s]))
            return CORRUPT("section 'payload arena': the payload of slot %u "
                           "is malformed",
                           s);
    }
    return QV_OK;
}

qv_status qvi_snapshot_verify_columns(const qvi_columns *cols, qvi_backing *b,
                                      char *err, size_t errcap)
{
    qv_status st = qvi_snapshot_check_vectors(cols, err, errcap);
    if (st == QV_OK)
        st = check_ids(cols, err, errcap);
    if (st == QV_OK)
        st = check_payloads(cols, b, err, errcap);
    if (st == QV_OK && cols->index)
        st = qvi_snapshot_check_graph(cols, err, errcap);
    if (st == QV_OK)
        st = qvi_snapshot_check_codes(cols, err, errcap);
    return st;
}
