/*
 * snapshot_sparse.c -- the sparse vectors of a snapshot (docs/FORMAT.md,
 * "Sparse vectors"), both ways.
 *
 * Four sections, present only for a sparse collection (and then
 * required, so that an older reader refuses the file rather than open it
 * as a dense collection of empty rows):
 *   SPARSE          64 bytes: u32 modifier, u32 full_scan_threshold,
 *                   u32 n_slots, u32 zero, u64 total entries, rest zero
 *   SPARSE_NNZ      n_slots u32: entries of each slot's vector (0 for a
 *                   dead slot or an empty vector)
 *   SPARSE_INDICES  the indices of every row in slot order, each row
 *                   strictly ascending
 *   SPARSE_VALUES   the matching f32 values, finite
 *
 * The rows are read into owned memory rather than mapped: each needs its
 * own arrays (a row is replaced whole on an upsert) and the posting lists
 * are rebuilt from them anyway, which is O(entries) like the copy.  So the
 * loader checks everything while copying, and an open never trusts the
 * sections beyond what it has checked.
 */
#include "persist/snapshot.h"
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t qvi_snapshot_sparse_sections(const qvi_columns *cols)
{
    return cols->sparse ? 4 : 0;
}

void qvi_snapshot_write_sparse(qvi_snapw *w, const qvi_columns *cols)
{
    const qvi_sparse *s = cols->sparse;
    if (!s)
        return;
    uint32_t n = cols->n_slots;
    uint64_t total = 0;
    for (uint32_t slot = 0; slot < n && slot < s->cap; slot++)
        total += cols->live[slot] ? s->rows[slot].nnz : 0;
    uint8_t b[QVI_SNAP_SPARSE_SIZE] = {0};
    qvi_put32(b, cols->cfg.sparse_modifier);
    qvi_put32(b + 4, cols->cfg.sparse_full_scan_threshold);
    qvi_put32(b + 8, n);
    qvi_put64(b + 16, total);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE);
    qvi_snapw_put(w, b, sizeof(b));
    qvi_snapw_end(w);

    qvi_snapw_begin(w, QVI_SNAP_SPARSE_NNZ);
    for (uint32_t slot = 0; slot < n; slot++) {
        uint32_t k = slot < s->cap && cols->live[slot] ? s->rows[slot].nnz : 0;
        qvi_snapw_put(w, &k, 4);
    }
    qvi_snapw_end(w);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE_INDICES);
    for (uint32_t slot = 0; slot < n && slot < s->cap; slot++) {
        if (cols->live[slot])
            qvi_snapw_put(w, s->rows[slot].idx, s->rows[slot].nnz * 4ull);
    }
    qvi_snapw_end(w);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE_VALUES);
    for (uint32_t slot = 0; slot < n && slot < s->cap; slot++) {
        if (cols->live[slot])
            qvi_snapw_put(w, s->rows[slot].val, s->rows[slot].nnz * 4ull);
    }
    qvi_snapw_end(w);
}

/* ---- reading ------------------------------------------------------------- */

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

/* Checks and copies one row of k entries. */
static qv_status read_row(const uint8_t *idx, const uint8_t *val, uint32_t k,
                          uint32_t slot, qvi_sparse_row *r, char *err,
                          size_t errcap)
{
    r->idx = malloc((size_t)k * 4);
    r->val = malloc((size_t)k * 4);
    if (!r->idx || !r->val)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    memcpy(r->idx, idx, (size_t)k * 4);
    memcpy(r->val, val, (size_t)k * 4);
    r->nnz = k;
    for (uint32_t i = 0; i < k; i++) {
        if (i > 0 && r->idx[i] <= r->idx[i - 1])
            return CORRUPT("section 'sparse indices': slot %u is not "
                           "strictly ascending",
                           slot);
        if (!isfinite(r->val[i]))
            return CORRUPT("section 'sparse values': slot %u holds a "
                           "non-finite value",
                           slot);
    }
    return QV_OK;
}

static qv_status read_rows(const qvi_snap_file *f, const uint8_t *lens,
                           uint64_t total, qvi_sparse *out, char *err,
                           size_t errcap)
{
    uint32_t n = f->config.n_slots;
    uint64_t ilen, vlen;
    const uint8_t *idx = qvi_snap_data(f, QVI_SNAP_SPARSE_INDICES, &ilen);
    const uint8_t *val = qvi_snap_data(f, QVI_SNAP_SPARSE_VALUES, &vlen);
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    if (ilen != total * 4 || vlen != total * 4)
        return CORRUPT("sections 'sparse indices'/'sparse values': %llu and "
                       "%llu bytes for %llu entries",
                       (unsigned long long)ilen, (unsigned long long)vlen,
                       (unsigned long long)total);
    if (qvi_sparse_reserve(out, n) != QV_OK)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    uint64_t at = 0;
    for (uint32_t slot = 0; slot < n; slot++) {
        uint32_t k = qvi_rd32(lens + (size_t)slot * 4);
        if (k == 0)
            continue;
        if (!live[slot] || k > QV_MAX_SPARSE_NNZ || k > total - at)
            return CORRUPT("section 'sparse lengths': slot %u: %u entries "
                           "(dead slot, too many or past the total)",
                           slot, k);
        qv_status st = read_row(idx + at * 4, val + at * 4, k, slot,
                                &out->rows[slot], err, errcap);
        if (st != QV_OK)
            return st;
        at += k;
        out->n_vectors++;
        out->nnz_total += k;
    }
    if (at != total)
        return CORRUPT("section 'sparse lengths': %llu entries, the header "
                       "says %llu",
                       (unsigned long long)at, (unsigned long long)total);
    return QV_OK;
}

qv_status qvi_snapshot_read_sparse(const qvi_snap_file *f,
                                   qv_collection_config *cfg, qvi_sparse *out,
                                   char *err, size_t errcap)
{
    qvi_sparse_init(out);
    uint64_t len, nlen;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_SPARSE, &len);
    const uint8_t *lens = qvi_snap_data(f, QVI_SNAP_SPARSE_NNZ, &nlen);
    bool any = p || lens || qvi_snap_data(f, QVI_SNAP_SPARSE_INDICES, NULL) ||
               qvi_snap_data(f, QVI_SNAP_SPARSE_VALUES, NULL);
    if (!any)
        return QV_OK;
    uint32_t n = f->config.n_slots;
    if (!p || len != QVI_SNAP_SPARSE_SIZE)
        return CORRUPT("section 'sparse': missing or %llu bytes, expected %u",
                       (unsigned long long)(p ? len : 0), QVI_SNAP_SPARSE_SIZE);
    uint32_t modifier = qvi_rd32(p), threshold = qvi_rd32(p + 4);
    uint64_t total = qvi_rd64(p + 16);
    if (modifier > QV_SPARSE_MODIFIER_IDF || threshold == 0 ||
        qvi_rd32(p + 8) != n || qvi_rd32(p + 12) != 0 || f->config.cfg.dim != 1)
        return CORRUPT("section 'sparse': bad header (modifier %u, "
                       "threshold %u, %u slots, dim %u)",
                       modifier, threshold, qvi_rd32(p + 8), f->config.cfg.dim);
    for (size_t i = 24; i < QVI_SNAP_SPARSE_SIZE; i++) {
        if (p[i])
            return CORRUPT("section 'sparse': reserved bytes are not zero");
    }
    if (n && (!lens || nlen != (uint64_t)n * 4))
        return CORRUPT("section 'sparse lengths': %llu bytes for %u slots",
                       (unsigned long long)(lens ? nlen : 0), n);
    qv_status st = read_rows(f, lens, total, out, err, errcap);
    if (st != QV_OK) {
        qvi_sparse_free(out);
        return st;
    }
    cfg->kind = QV_VECTOR_SPARSE;
    cfg->sparse_modifier = modifier;
    cfg->sparse_full_scan_threshold = threshold;
    return QV_OK;
}
