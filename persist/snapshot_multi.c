/*
 * snapshot_multi.c -- the multivector sections of a snapshot file
 * (docs/FORMAT.md, "Multivectors").
 *
 * A multivector collection (config field multivector, at byte 68 of
 * CONFIG) adds two sections, both required (a reader that does not know
 * them must refuse the file, or it would lose the matrices):
 *
 *   MULTI_OFFSETS (48)  n_slots u64: where slot s's record starts in
 *                       MULTI_ROWS, in floats, or UINT64_MAX for a dead
 *                       slot
 *   MULTI_ROWS    (49)  the live slots' records one after another, in slot
 *                       order: u32 row count, then count * dim elements
 *                       padded to a 4-byte word (core/multi/multi.h):
 *                       f32 in version 1 files, the datatype's element
 *                       (f32, f16, u8) from version 2 on; version 1
 *                       records of a float16 / uint8 collection are
 *                       converted as they are copied (qvi_multi_adopt)
 *
 * The writer drops the records that the arena still holds for replaced or
 * deleted points, so the file is compact whatever the arena was.  The
 * loader trusts nothing: every live slot needs a record inside MULTI_ROWS
 * with a row count in [QV_MIN_MULTI_ROWS, QV_MAX_MULTI_ROWS], every dead
 * slot none.  The records are then copied into the collection's own arena
 * (qvi_multi_adopt), which must be able to grow; the file's bytes are not
 * borrowed.  Row values are not checked for finiteness here (the dense
 * VERIFY checks do not reach them): a damaged value only changes scores.
 */
#include "core/multi/multi.h"
#include "persist/snapshot.h"

#include <string.h>

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

static bool is_multi(const qvi_columns *cols)
{
    return cols->cfg.multivector != QV_MULTIVECTOR_NONE;
}

/* The record of live slot s in the collection's arena. */
static const float *record_of(const qvi_columns *cols, uint32_t s)
{
    if (!cols->live[s] || cols->multi_offs[s] == QVI_MULTI_NONE)
        return NULL;
    return cols->multi_rows + cols->multi_offs[s];
}

void qvi_snapshot_write_multi(qvi_snapw *w, const qvi_columns *cols)
{
    if (!is_multi(cols))
        return;
    uint32_t dim = cols->cfg.dim;
    uint64_t at = 0;
    qvi_snapw_begin(w, QVI_SNAP_MULTI_OFFSETS);
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        const float *rec = record_of(cols, s);
        uint64_t off = rec ? at : QVI_MULTI_NONE;
        qvi_snapw_put(w, &off, sizeof(off));
        if (rec)
            at += qvi_multi_record_floats(dim, qvi_multi_record_rows(rec),
                                          cols->multi_elem);
    }
    qvi_snapw_end(w);
    qvi_snapw_begin(w, QVI_SNAP_MULTI_ROWS);
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        const float *rec = record_of(cols, s);
        if (rec)
            qvi_snapw_put(w, rec,
                          qvi_multi_record_floats(dim,
                                                  qvi_multi_record_rows(rec),
                                                  cols->multi_elem) *
                              sizeof(float));
    }
    qvi_snapw_end(w);
}

/* Slot s's record, for a live slot: inside the rows, a row count in range. */
static qv_status check_record(const float *rows, uint64_t n_floats,
                              uint64_t off, uint32_t dim, uint32_t elem,
                              uint32_t s, char *err, size_t errcap)
{
    if (off >= n_floats)
        return CORRUPT("section 'multivector offsets': slot %u starts at "
                       "float %llu of %llu",
                       s, (unsigned long long)off,
                       (unsigned long long)n_floats);
    uint32_t n = qvi_multi_record_rows(rows + off);
    if (n < QV_MIN_MULTI_ROWS || n > QV_MAX_MULTI_ROWS ||
        (uint64_t)n * dim > QV_MAX_MULTI_FLOATS)
        return CORRUPT("section 'multivector rows': slot %u has %u rows", s, n);
    if (qvi_multi_record_floats(dim, n, elem) > n_floats - off)
        return CORRUPT("section 'multivector rows': slot %u's %u rows overrun "
                       "the section",
                       s, n);
    return QV_OK;
}

/* Bytes of an element of f's records: f32 before version 2. */
static uint32_t multi_elem(const qvi_snap_file *f)
{
    return f->version >= 2 ? (uint32_t)qvi_datatype_size(f->config.cfg.datatype)
                           : (uint32_t)sizeof(float);
}

qv_status qvi_snapshot_check_multi(const qvi_snap_file *f, char *err,
                                   size_t errcap)
{
    const qvi_snap_config *k = &f->config;
    bool multi = k->cfg.multivector != QV_MULTIVECTOR_NONE;
    bool has_offs = f->by_kind[QVI_SNAP_MULTI_OFFSETS] >= 0;
    bool has_rows = f->by_kind[QVI_SNAP_MULTI_ROWS] >= 0;
    if (has_offs != multi || has_rows != multi)
        return CORRUPT("the multivector sections %s a %s collection",
                       multi ? "are missing from" : "do not belong to",
                       multi ? "multivector" : "single-vector");
    if (!multi)
        return QV_OK;
    uint64_t olen = 0, rlen = 0;
    const uint64_t *offs =
        (const uint64_t *)qvi_snap_data(f, QVI_SNAP_MULTI_OFFSETS, &olen);
    const float *rows =
        (const float *)qvi_snap_data(f, QVI_SNAP_MULTI_ROWS, &rlen);
    if (olen != (uint64_t)k->n_slots * sizeof(uint64_t))
        return CORRUPT("section 'multivector offsets': %llu bytes for %u "
                       "slots",
                       (unsigned long long)olen, k->n_slots);
    if (rlen % sizeof(float))
        return CORRUPT("section 'multivector rows': %llu bytes is no whole "
                       "number of floats",
                       (unsigned long long)rlen);
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    for (uint32_t s = 0; s < k->n_slots; s++) {
        if (!live[s]) {
            if (offs[s] != QVI_MULTI_NONE)
                return CORRUPT("section 'multivector offsets': dead slot %u "
                               "has a record",
                               s);
            continue;
        }
        qv_status st = check_record(rows, rlen / sizeof(float), offs[s],
                                    k->cfg.dim, multi_elem(f), s, err, errcap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

void qvi_snapshot_fill_multi(const qvi_snap_file *f, qvi_columns *cols)
{
    if (f->config.cfg.multivector == QV_MULTIVECTOR_NONE)
        return;
    uint64_t rlen = 0;
    cols->multi_offs =
        (const uint64_t *)qvi_snap_data(f, QVI_SNAP_MULTI_OFFSETS, NULL);
    cols->multi_rows =
        (const float *)qvi_snap_data(f, QVI_SNAP_MULTI_ROWS, &rlen);
    cols->multi_len = rlen / sizeof(float);
    cols->multi_elem = multi_elem(f);
}
