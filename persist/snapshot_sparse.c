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
 * and three optional ones, the posting lists in the layout the index uses
 * (core/sparse/sparse.h), so that an open maps them instead of rebuilding
 * them (O(entries) of hashing and appending, most of an open's time):
 *   SPARSE_POSTINGS        32-byte header (u32 datatype, u32 n_lists, u64
 *                          total postings, u32 n_slots, 12 zero bytes),
 *                          then per list 24 bytes: u32 dim, u32 n (>= 1),
 *                          u64 first (its offset in the two arrays below,
 *                          lists stored back to back in order), f32 min,
 *                          f32 max (uint8: the originals' range; else 0)
 *   SPARSE_POSTING_SLOTS   every list's slots, u32, strictly ascending
 *   SPARSE_POSTING_VALUES  every list's values in the datatype (f32, f16
 *                          bits or u8 codes)
 * They are optional so that an older reader skips them (and rebuilds), a
 * file without them (older builds, or a save while the index was stale)
 * has its lists rebuilt, and they are written only from an index that
 * mirrors its rows.
 *
 * Borrowing: rows and lists point into the file's private mapping (the
 * qvi_sparse's borrowed range): nothing is copied at open.  A row is
 * replaced whole by an upsert and a borrowed list is copied out before it
 * grows (sparse_index.c), so the mapping is never freed or reallocated.
 *
 * Trust: the four row sections and the three posting sections are summed
 * at every open, and every bound is checked before use -- each row's
 * indices strictly ascending and its values finite, each list's slots
 * strictly ascending, below n_slots and of live slots that hold a vector,
 * the list offsets contiguous, the totals equal, the values finite, the
 * dimensions unique -- so no crafted file reads or writes out of bounds.
 * That a list mirrors the rows exactly (same slots and the typed value of
 * each row entry) is checked under QV_SNAPSHOT_VERIFY only: a file that
 * passes the cheap checks but lies there gives wrong answers, never a
 * crash, as a graph that passes its bounds checks may.
 */
#include "persist/snapshot.h"
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The posting sections are written from an index that mirrors the rows. */
static bool writes_postings(const qvi_sparse *s)
{
    return s && !s->stale;
}

uint32_t qvi_snapshot_sparse_sections(const qvi_columns *cols)
{
    if (!cols->sparse)
        return 0;
    return writes_postings(cols->sparse) ? 7 : 4;
}

static void write_postings(qvi_snapw *w, const qvi_columns *cols)
{
    const qvi_sparse *s = cols->sparse;
    uint32_t n_lists = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->n_lists; i++) {
        n_lists += s->lists[i].n > 0;
        total += s->lists[i].n;
    }
    uint8_t h[QVI_SNAP_POSTINGS_HEADER] = {0};
    qvi_put32(h, s->datatype);
    qvi_put32(h + 4, n_lists);
    qvi_put64(h + 8, total);
    qvi_put32(h + 16, cols->n_slots);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE_POSTINGS);
    qvi_snapw_put(w, h, sizeof(h));
    uint64_t first = 0;
    for (uint32_t i = 0; i < s->n_lists; i++) {
        const qvi_sparse_posting *l = &s->lists[i];
        if (!l->n)
            continue;
        uint8_t e[QVI_SNAP_POSTINGS_ENTRY] = {0};
        qvi_put32(e, l->dim);
        qvi_put32(e + 4, l->n);
        qvi_put64(e + 8, first);
        if (s->datatype == QV_DATATYPE_UINT8) {
            memcpy(e + 16, &l->vmin, 4);
            memcpy(e + 20, &l->vmax, 4);
        }
        qvi_snapw_put(w, e, sizeof(e));
        first += l->n;
    }
    qvi_snapw_end(w);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE_POSTING_SLOTS);
    for (uint32_t i = 0; i < s->n_lists; i++)
        qvi_snapw_put(w, s->lists[i].slots, (size_t)s->lists[i].n * 4);
    qvi_snapw_end(w);
    size_t es = qvi_sparse_value_size(s->datatype);
    qvi_snapw_begin(w, QVI_SNAP_SPARSE_POSTING_VALUES);
    for (uint32_t i = 0; i < s->n_lists; i++)
        qvi_snapw_put(w, s->lists[i].vals, (size_t)s->lists[i].n * es);
    qvi_snapw_end(w);
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
    if (writes_postings(s))
        write_postings(w, cols);
}

/* ---- reading ------------------------------------------------------------- */

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

static bool all_zero_bytes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Checks one row of k entries and lends it (the file's bytes). */
static qv_status read_row(const uint8_t *idx, const uint8_t *val, uint32_t k,
                          uint32_t slot, qvi_sparse_row *r, char *err,
                          size_t errcap)
{
    /* 4-byte aligned: the sections are page aligned and rows are runs of
     * u32 / f32 within them. */
    r->idx = (uint32_t *)(uintptr_t)idx;
    r->val = (float *)(uintptr_t)val;
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

/* A half that is not a number or infinite: exponent all ones. */
static bool half_nonfinite(uint16_t h)
{
    return (h & 0x7C00u) == 0x7C00u;
}

/* Checks one list's slots and values (the bounds every use relies on). */
static qv_status check_list(const qvi_snap_file *f, const qvi_sparse *out,
                            const qvi_sparse_posting *l, uint32_t dt, char *err,
                            size_t errcap)
{
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    uint32_t n_slots = f->config.n_slots;
    for (uint32_t i = 0; i < l->n; i++) {
        uint32_t slot = l->slots[i];
        if (slot >= n_slots || (i && slot <= l->slots[i - 1]) || !live[slot] ||
            out->rows[slot].nnz == 0)
            return CORRUPT("section 'sparse posting slots': dimension %u: "
                           "slot %u out of order, out of range or without "
                           "a vector",
                           l->dim, slot);
        bool bad = dt == QV_DATATYPE_FLOAT32
                       ? !isfinite(((const float *)l->vals)[i])
                   : dt == QV_DATATYPE_FLOAT16
                       ? half_nonfinite(((const uint16_t *)l->vals)[i])
                       : false;
        if (bad)
            return CORRUPT("section 'sparse posting values': dimension %u "
                           "holds a non-finite value",
                           l->dim);
    }
    if (dt == QV_DATATYPE_UINT8 &&
        !(isfinite(l->vmin) && isfinite(l->vmax) && l->vmin <= l->vmax))
        return CORRUPT("section 'sparse postings': dimension %u: bad uint8 "
                       "range",
                       l->dim);
    return QV_OK;
}

/* The posting sections, when present, lent to out as its lists. */
static qv_status read_postings(const qvi_snap_file *f, uint32_t dt, bool verify,
                               qvi_sparse *out, char *err, size_t errcap)
{
    uint64_t hlen, slen, vlen;
    const uint8_t *h = qvi_snap_data(f, QVI_SNAP_SPARSE_POSTINGS, &hlen);
    const uint8_t *sl = qvi_snap_data(f, QVI_SNAP_SPARSE_POSTING_SLOTS, &slen);
    const uint8_t *vl = qvi_snap_data(f, QVI_SNAP_SPARSE_POSTING_VALUES, &vlen);
    if (!h) {
        if (sl || vl)
            return CORRUPT("sparse posting arrays without their directory");
        return QV_OK; /* an older file: the caller builds the lists */
    }
    if (hlen < QVI_SNAP_POSTINGS_HEADER)
        return CORRUPT("section 'sparse postings': %llu bytes",
                       (unsigned long long)hlen);
    uint32_t n_lists = qvi_rd32(h + 4);
    uint64_t total = qvi_rd64(h + 8);
    size_t es = qvi_sparse_value_size(dt);
    if (qvi_rd32(h) != dt || qvi_rd32(h + 16) != f->config.n_slots ||
        !all_zero_bytes(h + 20, 12) ||
        hlen != QVI_SNAP_POSTINGS_HEADER +
                    (uint64_t)n_lists * QVI_SNAP_POSTINGS_ENTRY ||
        total != out->nnz_total)
        return CORRUPT("section 'sparse postings': bad header (datatype %u, "
                       "%u lists, %llu postings for %llu entries)",
                       qvi_rd32(h), n_lists, (unsigned long long)total,
                       (unsigned long long)out->nnz_total);
    if ((total && (!sl || !vl)) || (sl ? slen : 0) != total * 4 ||
        (vl ? vlen : 0) != total * es)
        return CORRUPT("sections 'sparse posting slots'/'values': sizes for "
                       "%llu postings",
                       (unsigned long long)total);
    qvi_sparse_posting *lists = calloc(n_lists ? n_lists : 1, sizeof(*lists));
    if (!lists)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    uint64_t at = 0;
    qv_status st = QV_OK;
    for (uint32_t i = 0; i < n_lists && st == QV_OK; i++) {
        const uint8_t *e =
            h + QVI_SNAP_POSTINGS_HEADER + (size_t)i * QVI_SNAP_POSTINGS_ENTRY;
        qvi_sparse_posting *l = &lists[i];
        l->dim = qvi_rd32(e);
        l->n = l->cap = qvi_rd32(e + 4);
        memcpy(&l->vmin, e + 16, 4);
        memcpy(&l->vmax, e + 20, 4);
        if (l->n == 0 || qvi_rd64(e + 8) != at || l->n > total - at) {
            st = CORRUPT("section 'sparse postings': list %u (dimension %u) "
                         "is empty or not where the previous one ends",
                         i, l->dim);
            break;
        }
        l->slots = (uint32_t *)(uintptr_t)(sl + at * 4);
        l->vals = (void *)(uintptr_t)(vl + at * es);
        at += l->n;
        st = check_list(f, out, l, dt, err, errcap);
    }
    if (st == QV_OK && at != total)
        st = CORRUPT("section 'sparse postings': the lists hold %llu of "
                     "%llu postings",
                     (unsigned long long)at, (unsigned long long)total);
    if (st != QV_OK) {
        free(lists);
        return st;
    }
    out->datatype = dt;
    st = qvi_sparse_adopt_lists(out, lists, n_lists);
    if (st == QV_EINVAL)
        return CORRUPT("section 'sparse postings': a dimension repeats");
    if (st != QV_OK)
        return qvi_snap_fail(err, errcap, st, "out of memory");
    if (verify && !qvi_sparse_mirrors_rows(out, f->config.n_slots))
        return CORRUPT("sparse posting lists do not mirror the rows");
    return QV_OK;
}

qv_status qvi_snapshot_read_sparse(const qvi_snap_file *f,
                                   qv_collection_config *cfg, bool verify,
                                   qvi_sparse *out, char *err, size_t errcap)
{
    qvi_sparse_init(out);
    uint64_t len, nlen;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_SPARSE, &len);
    const uint8_t *lens = qvi_snap_data(f, QVI_SNAP_SPARSE_NNZ, &nlen);
    bool any = p || lens || qvi_snap_data(f, QVI_SNAP_SPARSE_INDICES, NULL) ||
               qvi_snap_data(f, QVI_SNAP_SPARSE_VALUES, NULL) ||
               qvi_snap_data(f, QVI_SNAP_SPARSE_POSTINGS, NULL);
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
    /* Rows and lists are lent by the file from here on. */
    out->borrow_lo = f->base;
    out->borrow_len = f->len;
    qv_status st = read_rows(f, lens, total, out, err, errcap);
    if (st == QV_OK)
        st = read_postings(f, f->config.cfg.datatype, verify, out, err, errcap);
    if (st != QV_OK) {
        qvi_sparse_free(out);
        return st;
    }
    cfg->kind = QV_VECTOR_SPARSE;
    cfg->sparse_modifier = modifier;
    cfg->sparse_full_scan_threshold = threshold;
    return QV_OK;
}
