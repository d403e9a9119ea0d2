/*
 * snapshot_write.c -- qv_snapshot_save: a collection streamed into one
 * snapshot file (docs/FORMAT.md).
 *
 * Protocol.  The file is written to "path.tmp-XXXXXX" in the target's
 * directory (persist/fileio.c): room for the header and section table
 * first, then each section in turn, padded to its alignment, then the
 * header and table at offset 0.  Then the file is fsynced, renamed over
 * the target and the directory fsynced, so that a crash leaves the old file
 * or the new one.  Any failure removes the temporary file and reports
 * QV_EIO with the system's error text; the collection is never changed.
 *
 * Streaming.  Nothing is assembled in memory: big arrays (vectors, id-map
 * buckets, payload blobs) go from the collection to the FILE in large
 * writes, and per-slot values that need a transformation gather in a 1 MiB
 * staging buffer.  Each section's xxHash3-64 is computed on the bytes as
 * they are written, so the file is read back by nobody.
 *
 * Canonical bytes.  What the reader ignores is written as zeros: the rows,
 * norms, ids and payload entries of deleted slots, the unused bytes of an
 * integer id, the empty cells of link records.  Two saves of collections
 * with the same contents therefore give the same sections, and a deleted
 * point's data does not outlive it in the file.
 *
 * Locking.  The whole copy runs in a callback that core calls under the
 * collection's shared lock with a view of its columns
 * (qvi_collection_read_columns), which gives a consistent view (a writer
 * cannot run in between) while searches go on; the lock is released before
 * the final fsync and rename, which may take a while.
 */
#include "persist/fileio.h"
#include "persist/snapshot.h"

#include <errno.h>
#include <string.h>

/* ---- the stream ---------------------------------------------------------- */

static const uint8_t zeros[4096];

/* Writes n bytes outside any checksum (padding, header). */
static void raw(qvi_snapw *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (!w->err_no) {
        errno = 0;
        if (fwrite(p, 1, n, w->f) != n)
            w->err_no = errno ? errno : EIO;
    }
    w->pos += n;
}

static void flush_stage(qvi_snapw *w)
{
    if (!w->stage_len)
        return;
    XXH3_64bits_update(w->xx, w->stage, w->stage_len);
    raw(w, w->stage, w->stage_len);
    w->stage_len = 0;
}

void qvi_snapw_begin(qvi_snapw *w, uint32_t kind)
{
    flush_stage(w);
    uint32_t a = qvi_snap_kind_align(kind);
    size_t pad = (size_t)((a - w->pos % a) % a);
    raw(w, zeros, pad);
    if (w->n == QVI_SNAP_MAX_SECTIONS) { /* a bug: more kinds than room */
        w->err_no = w->err_no ? w->err_no : EOVERFLOW;
        return;
    }
    qvi_snap_section *s = &w->sec[w->n++];
    s->kind = kind;
    /* Payload index definitions are derived data: a reader that does not
     * know them may ignore them, as it may the quantization config (it then
     * searches the floats), the quantized codes (it then rebuilds them;
     * see snapshot_quant.c) and the sparse posting lists (it rebuilds them
     * from the rows; snapshot_sparse.c).  Everything else is required. */
    bool optional = kind == QVI_SNAP_PAYLOAD_INDEXES ||
                    (kind >= QVI_SNAP_QUANT && kind <= QVI_SNAP_QUANT_CORR) ||
                    (kind >= QVI_SNAP_SPARSE_POSTINGS &&
                     kind <= QVI_SNAP_SPARSE_POSTING_VALUES);
    s->flags = optional ? 0 : QVI_SNAP_SEC_REQUIRED;
    s->offset = w->pos;
    XXH3_64bits_reset(w->xx);
}

void qvi_snapw_put(qvi_snapw *w, const void *p, size_t n)
{
    if (n == 0) /* p may be NULL: an empty collection's arrays */
        return;
    if (n >= QVI_SNAPW_STAGE / 4) {
        flush_stage(w);
        XXH3_64bits_update(w->xx, p, n);
        raw(w, p, n);
        return;
    }
    if (w->stage_len + n > QVI_SNAPW_STAGE)
        flush_stage(w);
    memcpy(w->stage + w->stage_len, p, n);
    w->stage_len += n;
}

void qvi_snapw_zero(qvi_snapw *w, size_t n)
{
    while (n) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        qvi_snapw_put(w, zeros, k);
        n -= k;
    }
}

void qvi_snapw_end(qvi_snapw *w)
{
    flush_stage(w);
    if (w->n == 0)
        return;
    qvi_snap_section *s = &w->sec[w->n - 1];
    s->length = w->pos - s->offset;
    s->checksum = XXH3_64bits_digest(w->xx);
}

/* ---- the collection's sections ------------------------------------------ */

static void put_config(qvi_snapw *w, const qvi_columns *cols)
{
    uint8_t b[QVI_SNAP_CONFIG_SIZE] = {0};
    const qv_collection_config *k = &cols->cfg;
    qvi_put32(b, k->dim);
    qvi_put32(b + 4, (uint32_t)k->metric);
    qvi_put32(b + 8, k->hnsw_m);
    qvi_put32(b + 12, k->hnsw_ef_construct);
    qvi_put32(b + 16, k->full_scan_threshold_kb);
    qvi_put32(b + 20, k->max_indexing_threads);
    qvi_put64(b + 24, k->hnsw_seed);
    qvi_put64(b + 32, cols->lsn);
    qvi_put32(b + 40, (uint32_t)cols->stride);
    qvi_put32(b + 44, cols->n_slots);
    qvi_put64(b + 48, cols->count);
    qvi_put64(b + 56, cols->idmap_cap);
    qvi_put32(b + 64, cols->index ? QVI_SNAP_CFG_HAS_GRAPH : 0);
    qvi_put32(b + 68, k->multivector);
    qvi_put32(b + 72, k->datatype);
    qvi_put32(b + 76, (uint32_t)(cols->row_bytes / cols->stride));
    qvi_snapw_begin(w, QVI_SNAP_CONFIG);
    qvi_snapw_put(w, b, sizeof(b));
    qvi_snapw_end(w);
}

/* Payload index definitions: u32 count, u32 zero, then per index {u32
 * kind + 1, u32 key length, key, zero padding to 4}; a full-text index
 * with options sets QVI_SNAP_PINDEX_OPTS in its type word and follows its
 * key with {u32 length, the options' encoding, zero padding to 4}.  The
 * indexes themselves are derived data, rebuilt from the payloads on
 * open. */
static void put_payload_indexes(qvi_snapw *w, const qvi_columns *cols)
{
    uint32_t n = cols->n_pindexes;
    uint8_t b[8];
    qvi_snapw_begin(w, QVI_SNAP_PAYLOAD_INDEXES);
    qvi_put32(b, n);
    qvi_put32(b + 4, 0);
    qvi_snapw_put(w, b, 8);
    for (uint32_t i = 0; i < n; i++) {
        const char *key = cols->pindex_keys[i];
        uint32_t klen = (uint32_t)strlen(key);
        const uint8_t *opts = cols->pindex_opts ? cols->pindex_opts[i] : NULL;
        qvi_put32(b, ((uint32_t)cols->pindex_kinds[i] + 1) |
                         (opts ? QVI_SNAP_PINDEX_OPTS : 0));
        qvi_put32(b + 4, klen);
        qvi_snapw_put(w, b, 8);
        qvi_snapw_put(w, key, klen);
        qvi_snapw_zero(w, ((klen + 3u) & ~3u) - klen);
        if (opts) {
            uint32_t olen = cols->pindex_opts_len[i];
            qvi_put32(b, olen);
            qvi_snapw_put(w, b, 4);
            qvi_snapw_put(w, opts, olen);
            qvi_snapw_zero(w, ((olen + 3u) & ~3u) - olen);
        }
    }
    qvi_snapw_end(w);
}

static void put_live(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_LIVE);
    qvi_snapw_put(w, cols->live, cols->n_slots);
    qvi_snapw_end(w);
}

static void put_idmap(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_IDMAP);
    qvi_snapw_put(w, cols->idmap_buckets, cols->idmap_cap * sizeof(uint64_t));
    qvi_snapw_end(w);
}

static uint32_t blob_len(const qvi_columns *cols, uint32_t s)
{
    return cols->live[s] && cols->payloads[s] ? cols->payload_lens[s] : 0;
}

/* Offsets (u64) then lengths (u32), blobs packed in slot order. */
static void put_payload_table(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_PAYLOAD_TABLE);
    uint64_t off = 0;
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        uint32_t len = blob_len(cols, s);
        uint64_t at = len ? off : 0;
        qvi_snapw_put(w, &at, sizeof(at));
        off += len;
    }
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        uint32_t len = blob_len(cols, s);
        qvi_snapw_put(w, &len, sizeof(len));
    }
    qvi_snapw_end(w);
}

static void put_payload_arena(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_PAYLOAD_ARENA);
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        uint32_t len = blob_len(cols, s);
        if (len)
            qvi_snapw_put(w, cols->payloads[s], len);
    }
    qvi_snapw_end(w);
}

_Static_assert(sizeof(qv_point_id) == QVI_SNAP_ID_SIZE,
               "a stored id is a qv_point_id");

static void put_ids(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_IDS);
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        qv_point_id id;
        memset(&id, 0, sizeof(id));
        if (cols->live[s]) {
            const qv_point_id *src = &cols->ids[s];
            id.kind = src->kind;
            if (src->kind == QV_ID_NUM)
                id.u.num = src->u.num;
            else
                memcpy(id.u.uuid, src->u.uuid, sizeof(id.u.uuid));
        }
        qvi_snapw_put(w, &id, sizeof(id));
    }
    qvi_snapw_end(w);
}

static void put_sqnorms(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_SQNORMS);
    for (uint32_t s = 0; s < cols->n_slots; s++) {
        float v = cols->live[s] ? cols->sqnorms[s] : 0.0f;
        qvi_snapw_put(w, &v, sizeof(v));
    }
    qvi_snapw_end(w);
}

void qvi_snap_put_live_runs(qvi_snapw *w, const qvi_columns *cols,
                            const void *base, size_t elem)
{
    const uint8_t *b = base;
    uint32_t s = 0;
    while (s < cols->n_slots) {
        uint32_t e = s;
        bool alive = cols->live[s];
        while (e < cols->n_slots && (bool)cols->live[e] == alive)
            e++;
        if (alive)
            qvi_snapw_put(w, b + (size_t)s * elem, (size_t)(e - s) * elem);
        else
            qvi_snapw_zero(w, (size_t)(e - s) * elem);
        s = e;
    }
}

/* Runs of live rows in single writes; deleted rows as zeros. */
static void put_vectors(qvi_snapw *w, const qvi_columns *cols)
{
    qvi_snapw_begin(w, QVI_SNAP_VECTORS);
    qvi_snap_put_live_runs(w, cols, cols->vecs, cols->row_bytes);
    qvi_snapw_end(w);
}

static void put_all_locked(qvi_snapw *w, const qvi_columns *cols)
{
    put_config(w, cols);
    qvi_snap_put_quant(w, cols);
    put_payload_indexes(w, cols);
    put_live(w, cols);
    put_idmap(w, cols);
    put_payload_table(w, cols);
    put_ids(w, cols);
    put_sqnorms(w, cols);
    put_vectors(w, cols);
    put_payload_arena(w, cols);
    qvi_snapshot_write_sparse(w, cols);
    qvi_snapshot_write_multi(w, cols);
    if (cols->index) {
        uint32_t n_upper;
        uint64_t words;
        qvi_snapshot_graph_sizes(cols->index, cols->n_slots, &n_upper, &words);
        qvi_snapshot_write_graph(w, cols->index, cols->n_slots, n_upper, words);
    }
}

/* The header and section table, written last at offset 0. */
static void put_header(qvi_snapw *w)
{
    uint8_t b[QVI_SNAP_HEADER_SIZE +
              QVI_SNAP_MAX_SECTIONS * QVI_SNAP_ENTRY_SIZE] = {0};
    size_t n = QVI_SNAP_HEADER_SIZE + (size_t)w->n * QVI_SNAP_ENTRY_SIZE;
    memcpy(b, QVI_SNAP_MAGIC, QVI_SNAP_MAGIC_LEN);
    qvi_put32(b + 8, QVI_SNAP_BOM);
    qvi_put32(b + 12, QVI_SNAP_VERSION);
    qvi_put32(b + 16, QVI_SNAP_HEADER_SIZE);
    qvi_put32(b + 20, w->n);
    qvi_put64(b + 24, w->pos);
    for (uint32_t i = 0; i < w->n; i++) {
        uint8_t *e = b + QVI_SNAP_HEADER_SIZE + (size_t)i * QVI_SNAP_ENTRY_SIZE;
        qvi_put32(e, w->sec[i].kind);
        qvi_put32(e + 4, w->sec[i].flags);
        qvi_put64(e + 8, w->sec[i].offset);
        qvi_put64(e + 16, w->sec[i].length);
        qvi_put64(e + 24, w->sec[i].checksum);
    }
    qvi_put64(b + QVI_SNAP_HEADER_SUM_AT, XXH3_64bits(b, n));
    if (w->err_no)
        return;
    if (fseek(w->f, 0, SEEK_SET) != 0) {
        w->err_no = errno;
        return;
    }
    uint64_t end = w->pos;
    raw(w, b, n);
    w->pos = end;
}

/* Sections the collection will have: the table is sized before they are
 * written. */
static uint32_t planned_sections(const qvi_columns *cols)
{
    uint32_t n = 9 + qvi_snapshot_sparse_sections(cols);
    bool multi = cols->cfg.multivector != QV_MULTIVECTOR_NONE;
    if (cols->index)
        n += cols->cfg.metric == QV_METRIC_DOT && !multi ? 7 : 6;
    n += qvi_snap_quant_sections(cols);
    return multi ? n + 2 : n;
}

/* The part of a save that runs under the collection's shared lock
 * (qvi_collection_read_columns). */
typedef struct save_ctx {
    qvi_snapw *w;
    uint32_t planned;
    bool damaged;
    char err[QVI_ERRMSG_CAP];
} save_ctx;

static qv_status save_columns(const qvi_columns *cols, void *arg)
{
    save_ctx *x = arg;
    if (cols->backed &&
        (qvi_snapshot_check_vectors(cols, x->err, sizeof(x->err)) != QV_OK ||
         qvi_snapshot_check_codes(cols, x->err, sizeof(x->err)) != QV_OK)) {
        x->damaged = true;
        return QV_ECORRUPT;
    }
    x->planned = planned_sections(cols);
    raw(x->w, zeros, QVI_SNAP_HEADER_SIZE + x->planned * QVI_SNAP_ENTRY_SIZE);
    put_all_locked(x->w, cols);
    return QV_OK;
}

qv_status qv_snapshot_save(qv_collection *c, const char *path)
{
    if (!c)
        return QV_ENULL;
    if (!path)
        return qvi_collection_fail(c, QV_ENULL, "path is NULL");
    char err[QVI_ERRMSG_CAP];
    qvi_atomic_file af;
    qv_status st = qvi_atomic_open(&af, path, err, sizeof(err));
    if (st != QV_OK)
        return qvi_collection_fail(c, st, "snapshot: %s", err);
    qvi_snapw w;
    memset(&w, 0, sizeof(w));
    w.f = af.f;
    w.xx = XXH3_createState();
    w.stage = malloc(QVI_SNAPW_STAGE);
    if (!w.xx || !w.stage) {
        st = qvi_collection_fail(c, QV_ENOMEM, "snapshot: out of memory");
        goto fail;
    }

    save_ctx x = {.w = &w};
    st = qvi_collection_read_columns(c, save_columns, &x);
    if (x.damaged) {
        st = qvi_collection_fail(c, QV_ECORRUPT,
                                 "snapshot: refusing to save data damaged in "
                                 "the file it was opened from: %s",
                                 x.err);
        goto fail;
    }
    if (st != QV_OK) /* the message is on c */
        goto fail;
    if (w.n != x.planned && !w.err_no) {
        st = qvi_collection_fail(c, QV_EINTERNAL,
                                 "snapshot: wrote %u sections, planned %u", w.n,
                                 x.planned);
        goto fail;
    }
    put_header(&w);
    if (w.err_no) {
        st = qvi_collection_fail(c, QV_EIO, "snapshot: %s: write failed: %s",
                                 path, strerror(w.err_no));
        goto fail;
    }
    XXH3_freeState(w.xx);
    free(w.stage);
    st = qvi_atomic_commit(&af, err, sizeof(err));
    if (st != QV_OK)
        return qvi_collection_fail(c, st, "snapshot: %s", err);
    return QV_OK;
fail:
    qvi_atomic_abort(&af);
    XXH3_freeState(w.xx);
    free(w.stage);
    return st;
}
