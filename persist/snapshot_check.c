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
 *     under cosine;
 *   - ids: every live id well formed and found at its own slot through the
 *     id map, which proves the ids unique and every bucket where its hash
 *     puts it (the open has already checked that the buckets name distinct
 *     live slots, as many as points);
 *   - payloads: every blob passes qvi_payload_validate;
 *   - graph: qvi_hnsw_check in full, and the dot norms.
 * Then the blobs and the graph are marked verified, so that nothing is
 * checked twice.
 *
 * The lazy check: a borrowed blob is validated the first time anything
 * reads it (qvi_mapping_blob_ok); the answer is kept in a byte per slot.
 * Readers run concurrently under the shared lock, so the byte is read and
 * written atomically; two readers may both validate the same blob, and
 * both store the same answer.
 */
#include "core/payload/payload.h"
#include "persist/snapshot.h"
#include "simd/simd.h"

#include <math.h>
#include <string.h>

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

enum { BLOB_UNCHECKED = 0, BLOB_OK = 1, BLOB_BAD = 2 };

bool qvi_mapping_blob_ok(qvi_mapping *m, uint32_t slot, const uint8_t *blob,
                         size_t len)
{
    if (slot >= m->n_blob_state) /* no borrowed blob lives there */
        return qvi_payload_validate(blob, len) == QV_OK;
    uint8_t st = __atomic_load_n(&m->blob_state[slot], __ATOMIC_RELAXED);
    if (st == BLOB_UNCHECKED) {
        st = qvi_payload_validate(blob, len) == QV_OK ? BLOB_OK : BLOB_BAD;
        __atomic_store_n(&m->blob_state[slot], st, __ATOMIC_RELAXED);
    }
    return st == BLOB_OK;
}

qv_status qvi_snapshot_check_vectors(const qv_collection *c, char *err,
                                     size_t errcap)
{
    uint32_t dim = c->cfg.dim;
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s])
            continue;
        const float *row = c->vecs + (size_t)s * c->stride;
        double sq = 0.0;
        for (uint32_t i = 0; i < dim; i++) {
            if (!isfinite(row[i]))
                return CORRUPT("section 'vectors': slot %u component %u is "
                               "not finite",
                               s, i);
            sq += (double)row[i] * row[i];
        }
        for (size_t i = dim; i < c->stride; i++) {
            if (row[i] != 0.0f)
                return CORRUPT("section 'vectors': slot %u has non-zero "
                               "padding",
                               s);
        }
        double stored = c->sqnorms[s];
        if (!(fabs(stored - sq) <= 1e-3 * (sq > 1.0 ? sq : 1.0)))
            return CORRUPT("section 'squared norms': slot %u has %g, its "
                           "vector %g",
                           s, stored, sq);
        if (c->cfg.metric == QV_METRIC_COSINE && sq != 0.0 &&
            fabs(sq - 1.0) > 1e-3)
            return CORRUPT("section 'vectors': cosine slot %u is not unit "
                           "length (squared norm %g)",
                           s, sq);
    }
    return QV_OK;
}

static qv_status check_ids(const qv_collection *c, char *err, size_t errcap)
{
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s])
            continue;
        if (!qvi_id_valid(&c->ids[s]))
            return CORRUPT("section 'ids': slot %u holds a malformed id", s);
        uint32_t at;
        if (!qvi_idmap_find(&c->map, c->ids, &c->ids[s], &at) || at != s) {
            char text[QV_UUID_STRLEN];
            qv_id_format(&c->ids[s], text, sizeof(text));
            return CORRUPT("section 'id map': id %s of slot %u is not found "
                           "at its slot (a duplicate id or a misplaced "
                           "bucket)",
                           text, s);
        }
    }
    return QV_OK;
}

static qv_status check_payloads(qv_collection *c, char *err, size_t errcap)
{
    for (uint32_t s = 0; s < c->used; s++) {
        const uint8_t *blob = c->payloads[s];
        if (!blob)
            continue;
        if (!qvi_mapping_blob_ok(c->mapping, s, blob, c->payload_lens[s]))
            return CORRUPT("section 'payload arena': the payload of slot %u "
                           "is malformed",
                           s);
    }
    return QV_OK;
}

qv_status qvi_snapshot_verify_loaded(qv_collection *c, char *err, size_t errcap)
{
    qv_status st = qvi_snapshot_check_vectors(c, err, errcap);
    if (st == QV_OK)
        st = check_ids(c, err, errcap);
    if (st == QV_OK)
        st = check_payloads(c, err, errcap);
    if (st == QV_OK && c->index_ok)
        st = qvi_snapshot_check_graph(c, err, errcap);
    if (st == QV_OK)
        c->mapping->graph_unverified = false;
    return st;
}
