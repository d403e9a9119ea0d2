/*
 * snapshot_read.c -- opening a snapshot: parsing, validation and mapping.
 *
 * qv_snapshot_open maps the file MAP_PRIVATE with PROT_READ | PROT_WRITE:
 * the collection then uses the vectors, norms, ids, live bytes, id-map
 * buckets, payload lengths and blobs, and the graph's arrays where they lie
 * (core.h, "backings"), and its later in-place edits copy the touched pages
 * instead of writing the file.  The loader hands the arrays to core as
 * columns (qvi_collection_adopt_columns) with a backing whose release
 * unmaps the file; it never touches the collection's fields.  Nothing big is
 * copied or parsed; the open makes a few linear passes over small per-slot
 * arrays, each a few milliseconds per million points:
 *   - the live bytes (1 byte a slot): values 0/1, the live count, and the
 *     free-slot stack;
 *   - the id-map buckets (16 bytes a point at 3/4 load): each non-empty
 *     bucket must name a distinct live slot and their number must equal
 *     the live count, which keeps every probe in bounds and finite and
 *     makes a delete through a damaged map impossible;
 *   - the payload table (12 bytes a slot): every blob in the arena, only
 *     on live slots; it fills the per-slot blob pointer array;
 *   - the graph levels (1 byte a slot) and upper index (16 bytes per node
 *     of level >= 1, 1/m of them): see snapshot_graph.c;
 *   - int8 quantized codes' corrections (4 bytes a slot, finite): the codes
 *     themselves are borrowed unread (snapshot_quant.c).
 * What those passes cannot afford -- hashing the big sections, validating
 * every payload blob, checking every link -- is done with
 * QV_SNAPSHOT_VERIFY (snapshot_check.c); otherwise blobs are validated on
 * first use and the graph before its first update, and searches tolerate
 * bad links (hnsw_search.c).
 *
 * The loader is a function of (bytes, length): qvi_snapshot_load_buffer
 * works on any 64-byte aligned writable buffer, which is what fuzz targets
 * call.  Every number is checked before it is used as a size, an offset
 * or an index; failures say which section is at fault.
 *
 * Thread safety: open, verify and load touch nothing shared.
 */
#include "persist/snapshot.h"
#include "core/sparse/sparse.h"
#include "core/payload/payload.h"
#include "core/quant/quant.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- section kinds ------------------------------------------------------- */

typedef struct kind_info {
    const char *name;
    uint32_t align;
    bool always_summed;
} kind_info;

static const kind_info kinds[QVI_SNAP_KIND_END] = {
    [QVI_SNAP_CONFIG] = {"config", QVI_SNAP_SMALL_ALIGN, true},
    [QVI_SNAP_VECTORS] = {"vectors", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_SQNORMS] = {"squared norms", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_IDS] = {"ids", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_LIVE] = {"live", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_IDMAP] = {"id map", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_PAYLOAD_TABLE] = {"payload table", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_PAYLOAD_ARENA] = {"payload arena", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_PAYLOAD_INDEXES] = {"payload indexes", QVI_SNAP_SMALL_ALIGN,
                                  true},
    [QVI_SNAP_GRAPH] = {"graph", QVI_SNAP_SMALL_ALIGN, true},
    [QVI_SNAP_GRAPH_LEVELS] = {"graph levels", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_GRAPH_LINKS0] = {"graph level-0 links", QVI_SNAP_PAGE_ALIGN,
                               false},
    [QVI_SNAP_GRAPH_INDEG0] = {"graph in-degrees", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_GRAPH_UPPER_INDEX] = {"graph upper index", QVI_SNAP_PAGE_ALIGN,
                                    true},
    [QVI_SNAP_GRAPH_UPPER_LINKS] = {"graph upper links", QVI_SNAP_PAGE_ALIGN,
                                    false},
    [QVI_SNAP_SPARSE] = {"sparse", QVI_SNAP_SMALL_ALIGN, true},
    [QVI_SNAP_SPARSE_NNZ] = {"sparse lengths", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_SPARSE_INDICES] = {"sparse indices", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_SPARSE_VALUES] = {"sparse values", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_SPARSE_POSTINGS] = {"sparse postings", QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_SPARSE_POSTING_SLOTS] = {"sparse posting slots",
                                       QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_SPARSE_POSTING_VALUES] = {"sparse posting values",
                                        QVI_SNAP_PAGE_ALIGN, true},
    [QVI_SNAP_GRAPH_DOT_NORMS] = {"graph dot norms", QVI_SNAP_PAGE_ALIGN,
                                  false},
    [QVI_SNAP_MULTI_OFFSETS] = {"multivector offsets", QVI_SNAP_PAGE_ALIGN,
                                true},
    [QVI_SNAP_MULTI_ROWS] = {"multivector rows", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_QUANT] = {"quantization", QVI_SNAP_SMALL_ALIGN, true},
    [QVI_SNAP_QUANT_STATE] = {"quantization state", QVI_SNAP_SMALL_ALIGN, true},
    [QVI_SNAP_QUANT_CODES] = {"quantized codes", QVI_SNAP_PAGE_ALIGN, false},
    [QVI_SNAP_QUANT_CORR] = {"quantization corrections", QVI_SNAP_PAGE_ALIGN,
                             false},
};

/* The table has gaps (kinds reserved for other features): a kind without a
 * name there is unknown, and skipped unless marked required. */
static bool kind_known(uint32_t kind)
{
    /* The table has gaps (kinds reserved for later): unknown too. */
    return kind > 0 && kind < QVI_SNAP_KIND_END && kinds[kind].name;
}

const char *qvi_snap_kind_name(uint32_t kind)
{
    return kind_known(kind) ? kinds[kind].name : NULL;
}

uint32_t qvi_snap_kind_align(uint32_t kind)
{
    return kind_known(kind) ? kinds[kind].align : 8;
}

bool qvi_snap_kind_always_summed(uint32_t kind)
{
    return kind_known(kind) && kinds[kind].always_summed;
}

qv_status qvi_snap_fail(char *err, size_t errcap, qv_status st, const char *fmt,
                        ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return st;
}

#define CORRUPT(...) qvi_snap_fail(err, errcap, QV_ECORRUPT, __VA_ARGS__)

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

const uint8_t *qvi_snap_data(const qvi_snap_file *f, uint32_t kind,
                             uint64_t *len)
{
    int i = kind_known(kind) ? f->by_kind[kind] : -1;
    if (len)
        *len = i < 0 ? 0 : f->sections[i].length;
    if (i < 0 || f->sections[i].length == 0)
        return NULL;
    return f->base + f->sections[i].offset;
}

static uint64_t sec_len(const qvi_snap_file *f, uint32_t kind)
{
    uint64_t n;
    qvi_snap_data(f, kind, &n);
    return n;
}

static bool has(const qvi_snap_file *f, uint32_t kind)
{
    return f->by_kind[kind] >= 0;
}

/* ---- header and section table ------------------------------------------- */

static qv_status parse_header(const uint8_t *buf, size_t len, qvi_snap_file *f,
                              char *err, size_t errcap)
{
    if (len < QVI_SNAP_MAGIC_LEN || memcmp(buf, QVI_SNAP_MAGIC, 8) != 0)
        return qvi_snap_fail(err, errcap, QV_EFORMAT,
                             "not a Quiver snapshot (bad magic)");
    if (len < QVI_SNAP_HEADER_SIZE)
        return CORRUPT("header: the file is %zu bytes, shorter than its "
                       "header (truncated)",
                       len);
    uint32_t bom = qvi_rd32(buf + 8);
    if (bom == __builtin_bswap32(QVI_SNAP_BOM))
        return qvi_snap_fail(err, errcap, QV_EFORMAT,
                             "written on a machine of the other byte order");
    if (bom != QVI_SNAP_BOM)
        return CORRUPT("header: bad byte-order mark 0x%08x", bom);
    f->version = qvi_rd32(buf + 12);
    if (f->version < QVI_SNAP_VERSION_MIN || f->version > QVI_SNAP_VERSION)
        return qvi_snap_fail(err, errcap, QV_EFORMAT,
                             "format version %u; this build reads versions "
                             "%u to %u",
                             f->version, QVI_SNAP_VERSION_MIN,
                             QVI_SNAP_VERSION);
    if (qvi_rd32(buf + 16) != QVI_SNAP_HEADER_SIZE)
        return CORRUPT("header: header size %u, expected %u",
                       qvi_rd32(buf + 16), QVI_SNAP_HEADER_SIZE);
    f->n_sections = qvi_rd32(buf + 20);
    if (f->n_sections == 0 || f->n_sections > QVI_SNAP_MAX_SECTIONS)
        return CORRUPT("header: %u sections (1 to %u allowed)", f->n_sections,
                       QVI_SNAP_MAX_SECTIONS);
    size_t table_end =
        QVI_SNAP_HEADER_SIZE + (size_t)f->n_sections * QVI_SNAP_ENTRY_SIZE;
    if (table_end > len)
        return CORRUPT("header: the section table runs past the end of the "
                       "file (truncated)");
    /* The checksum covers the header, its own field read as zero, and the
     * table. */
    uint8_t head[QVI_SNAP_HEADER_SIZE];
    memcpy(head, buf, sizeof(head));
    memset(head + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    XXH3_state_t *xx = XXH3_createState();
    if (!xx)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    XXH3_64bits_reset(xx);
    XXH3_64bits_update(xx, head, sizeof(head));
    XXH3_64bits_update(xx, buf + QVI_SNAP_HEADER_SIZE,
                       table_end - QVI_SNAP_HEADER_SIZE);
    uint64_t sum = XXH3_64bits_digest(xx);
    XXH3_freeState(xx);
    f->header_checksum = qvi_rd64(buf + QVI_SNAP_HEADER_SUM_AT);
    if (sum != f->header_checksum)
        return CORRUPT("header: checksum mismatch (header or section table "
                       "damaged)");
    uint64_t file_size = qvi_rd64(buf + 24);
    if (file_size != len)
        return CORRUPT("header: the file is %zu bytes, the header says %llu "
                       "(truncated or extended)",
                       len, (unsigned long long)file_size);
    if (!all_zero(buf + 32, 24))
        return CORRUPT("header: reserved bytes are not zero");
    return QV_OK;
}

/* Bounds, alignment and uniqueness of every table entry. */
static qv_status parse_table(qvi_snap_file *f, char *err, size_t errcap)
{
    size_t table_end =
        QVI_SNAP_HEADER_SIZE + (size_t)f->n_sections * QVI_SNAP_ENTRY_SIZE;
    for (uint32_t k = 0; k < QVI_SNAP_KIND_END; k++)
        f->by_kind[k] = -1;
    for (uint32_t i = 0; i < f->n_sections; i++) {
        const uint8_t *e =
            f->base + QVI_SNAP_HEADER_SIZE + (size_t)i * QVI_SNAP_ENTRY_SIZE;
        qvi_snap_section *s = &f->sections[i];
        s->kind = qvi_rd32(e);
        s->flags = qvi_rd32(e + 4);
        s->offset = qvi_rd64(e + 8);
        s->length = qvi_rd64(e + 16);
        s->checksum = qvi_rd64(e + 24);
        const char *name = qvi_snap_kind_name(s->kind);
        if (s->flags & ~QVI_SNAP_SEC_REQUIRED)
            return CORRUPT("section table entry %u: unknown flags 0x%x", i,
                           s->flags);
        if (!name && (s->flags & QVI_SNAP_SEC_REQUIRED))
            return qvi_snap_fail(err, errcap, QV_EFORMAT,
                                 "section table entry %u: required section of "
                                 "unknown kind %u",
                                 i, s->kind);
        if (!name)
            name = "unknown";
        if (s->offset < table_end || s->offset > f->len ||
            s->length > f->len - s->offset)
            return CORRUPT("section '%s': bytes %llu..%llu lie outside the "
                           "file's %zu bytes of data",
                           name, (unsigned long long)s->offset,
                           (unsigned long long)(s->offset + s->length), f->len);
        if (s->offset % qvi_snap_kind_align(s->kind) != 0)
            return CORRUPT("section '%s': offset %llu is not %u-byte aligned",
                           name, (unsigned long long)s->offset,
                           qvi_snap_kind_align(s->kind));
        if (kind_known(s->kind)) {
            if (f->by_kind[s->kind] >= 0)
                return CORRUPT("section '%s' appears twice", name);
            f->by_kind[s->kind] = (int)i;
        }
    }
    /* No two sections may overlap (n is at most 64: quadratic is fine). */
    for (uint32_t i = 0; i < f->n_sections; i++) {
        const qvi_snap_section *a = &f->sections[i];
        for (uint32_t j = i + 1; j < f->n_sections; j++) {
            const qvi_snap_section *b = &f->sections[j];
            if (a->length && b->length && a->offset < b->offset + b->length &&
                b->offset < a->offset + a->length)
                return CORRUPT(
                    "sections '%s' and '%s' overlap",
                    qvi_snap_kind_name(a->kind) ? qvi_snap_kind_name(a->kind)
                                                : "unknown",
                    qvi_snap_kind_name(b->kind) ? qvi_snap_kind_name(b->kind)
                                                : "unknown");
        }
    }
    static const uint32_t required[] = {
        QVI_SNAP_CONFIG,        QVI_SNAP_VECTORS,      QVI_SNAP_SQNORMS,
        QVI_SNAP_IDS,           QVI_SNAP_LIVE,         QVI_SNAP_IDMAP,
        QVI_SNAP_PAYLOAD_TABLE, QVI_SNAP_PAYLOAD_ARENA};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!has(f, required[i]))
            return CORRUPT("section '%s' is missing",
                           qvi_snap_kind_name(required[i]));
    }
    return QV_OK;
}

static qv_status check_sum(const qvi_snap_file *f, const qvi_snap_section *s,
                           char *err, size_t errcap)
{
    uint64_t sum = XXH3_64bits(f->base + s->offset, s->length);
    if (sum != s->checksum) {
        const char *name = qvi_snap_kind_name(s->kind);
        return CORRUPT("section '%s': checksum mismatch",
                       name ? name : "unknown");
    }
    return QV_OK;
}

qv_status qvi_snapshot_check_sums(const qvi_snap_file *f, char *err,
                                  size_t errcap)
{
    for (uint32_t i = 0; i < f->n_sections; i++) {
        qv_status st = check_sum(f, &f->sections[i], err, errcap);
        if (st != QV_OK)
            return st;
    }
    return QV_OK;
}

/* ---- small sections ------------------------------------------------------ */

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static qv_status parse_config(qvi_snap_file *f, char *err, size_t errcap)
{
    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_CONFIG, &len);
    if (len != QVI_SNAP_CONFIG_SIZE)
        return CORRUPT("section 'config': %llu bytes, expected %u",
                       (unsigned long long)len, QVI_SNAP_CONFIG_SIZE);
    qvi_snap_config *c = &f->config;
    qv_collection_config_init(&c->cfg);
    c->cfg.dim = qvi_rd32(p);
    c->cfg.metric = (qv_metric)qvi_rd32(p + 4);
    c->cfg.hnsw_m = qvi_rd32(p + 8);
    c->cfg.hnsw_ef_construct = qvi_rd32(p + 12);
    c->cfg.full_scan_threshold_kb = qvi_rd32(p + 16);
    c->cfg.max_indexing_threads = qvi_rd32(p + 20);
    c->cfg.hnsw_seed = qvi_rd64(p + 24);
    c->wal_lsn = qvi_rd64(p + 32);
    c->stride = qvi_rd32(p + 40);
    c->n_slots = qvi_rd32(p + 44);
    c->count = qvi_rd64(p + 48);
    c->idmap_cap = qvi_rd64(p + 56);
    c->flags = qvi_rd32(p + 64);
    c->cfg.multivector = qvi_rd32(p + 68);
    c->cfg.datatype = qvi_rd32(p + 72); /* zero (float32) in older files */
    const qv_collection_config *k = &c->cfg;
    if (k->dim < QV_MIN_DIM || k->dim > QV_MAX_DIM)
        return CORRUPT("section 'config': dim %u out of range", k->dim);
    if ((unsigned)k->metric > QV_METRIC_MANHATTAN)
        return CORRUPT("section 'config': unknown metric %u",
                       (unsigned)k->metric);
    if (k->hnsw_m < QV_MIN_HNSW_M || k->hnsw_m > QV_MAX_HNSW_M ||
        k->hnsw_ef_construct < QV_MIN_EF_CONSTRUCT ||
        k->hnsw_ef_construct > QV_MAX_EF_CONSTRUCT ||
        k->max_indexing_threads > QV_MAX_INDEXING_THREADS)
        return CORRUPT("section 'config': HNSW parameters out of range (m "
                       "%u, ef_construct %u, threads %u)",
                       k->hnsw_m, k->hnsw_ef_construct,
                       k->max_indexing_threads);
    if (c->stride != (k->dim + 15) / 16 * 16)
        return CORRUPT("section 'config': stride %u for dim %u (expected %u)",
                       c->stride, k->dim, (k->dim + 15) / 16 * 16);
    if (c->n_slots > QVI_HNSW_MAX_SLOTS || c->count > c->n_slots)
        return CORRUPT("section 'config': %llu points in %u slots",
                       (unsigned long long)c->count, c->n_slots);
    /* The id map needs an empty bucket to end every probe (idmap.c). */
    if (c->idmap_cap != 0 && (!pow2(c->idmap_cap) || c->idmap_cap < 16 ||
                              c->idmap_cap > ((uint64_t)1 << 32)))
        return CORRUPT("section 'config': id map capacity %llu is not a "
                       "power of two from 16 to 2^32",
                       (unsigned long long)c->idmap_cap);
    if (c->count > c->idmap_cap - c->idmap_cap / 4)
        return CORRUPT("section 'config': %llu points overfill an id map "
                       "of %llu buckets",
                       (unsigned long long)c->count,
                       (unsigned long long)c->idmap_cap);
    if (c->flags & ~QVI_SNAP_CFG_HAS_GRAPH)
        return CORRUPT("section 'config': unknown flags 0x%x", c->flags);
    if (k->multivector > QV_MULTIVECTOR_MAX_SIM)
        return CORRUPT("section 'config': unknown multivector comparator %u",
                       k->multivector);
    if (!qvi_datatype_name(k->datatype))
        return CORRUPT("section 'config': unknown datatype %u", k->datatype);
    if (qvi_byte_cosine(k->metric, k->datatype) && f->version < 2)
        return CORRUPT("section 'config': datatype uint8 with cosine in a "
                       "version %u file",
                       f->version);
    /* Version 1 kept float32 rows whatever the datatype (converted at
     * open, fill_columns); version 2 keeps them in the element type. */
    /* A sparse collection (its section is in the table, parsed before
     * this) keeps float32 placeholder rows whatever its datatype, which
     * types its posting values (snapshot_sparse.c): the kind is known
     * from here on, so every row size below (convert_rows, the checks)
     * is the placeholders'. */
    if (f->by_kind[QVI_SNAP_SPARSE] >= 0)
        c->cfg.kind = QV_VECTOR_SPARSE;
    size_t want_elem = qvi_datatype_size(qvi_row_datatype(k));
    c->elem = f->version >= 2 ? qvi_rd32(p + 76) : (uint32_t)sizeof(float);
    if (f->version >= 2 && c->elem != want_elem)
        return CORRUPT("section 'config': vectors of %u-byte elements for "
                       "datatype %s (expected %zu)",
                       c->elem, qvi_datatype_name(k->datatype), want_elem);
    size_t rsv = f->version >= 2 ? 80 : 76;
    if (!all_zero(p + rsv, QVI_SNAP_CONFIG_SIZE - rsv))
        return CORRUPT("section 'config': reserved bytes are not zero");
    f->has_graph = c->flags & QVI_SNAP_CFG_HAS_GRAPH;
    return QV_OK;
}

static qv_status parse_graph(qvi_snap_file *f, char *err, size_t errcap)
{
    static const uint32_t parts[] = {QVI_SNAP_GRAPH,
                                     QVI_SNAP_GRAPH_LEVELS,
                                     QVI_SNAP_GRAPH_LINKS0,
                                     QVI_SNAP_GRAPH_INDEG0,
                                     QVI_SNAP_GRAPH_UPPER_INDEX,
                                     QVI_SNAP_GRAPH_UPPER_LINKS};
    /* A multivector graph has no dot norms: it is built with MaxSim. */
    bool dot = f->config.cfg.metric == QV_METRIC_DOT &&
               f->config.cfg.multivector == QV_MULTIVECTOR_NONE;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (has(f, parts[i]) != f->has_graph)
            return CORRUPT("section '%s' is %s, but the config says the "
                           "file has %s graph",
                           qvi_snap_kind_name(parts[i]),
                           f->has_graph ? "missing" : "present",
                           f->has_graph ? "a" : "no");
    }
    if (has(f, QVI_SNAP_GRAPH_DOT_NORMS) != (f->has_graph && dot))
        return CORRUPT("section 'graph dot norms' must be present exactly "
                       "when a dot-metric file has a graph");
    if (!f->has_graph)
        return QV_OK;

    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_GRAPH, &len);
    if (len != QVI_SNAP_GRAPH_SIZE)
        return CORRUPT("section 'graph': %llu bytes, expected %u",
                       (unsigned long long)len, QVI_SNAP_GRAPH_SIZE);
    qvi_snap_graph *g = &f->graph;
    const qvi_snap_config *c = &f->config;
    g->m = qvi_rd32(p);
    g->m0 = qvi_rd32(p + 4);
    g->ef_construct = qvi_rd32(p + 8);
    g->entry = qvi_rd32(p + 12);
    g->max_level = (int32_t)qvi_rd32(p + 16);
    g->n_upper = qvi_rd32(p + 20);
    g->count = qvi_rd64(p + 24);
    g->rng = qvi_rd64(p + 32);
    g->dirty = qvi_rd64(p + 40);
    g->upper_words = qvi_rd64(p + 48);
    for (unsigned l = 0; l <= QVI_HNSW_MAX_LEVEL; l++)
        g->level_count[l] = qvi_rd64(p + 56 + 8 * (size_t)l);
    if (!all_zero(p + 304, QVI_SNAP_GRAPH_SIZE - 304))
        return CORRUPT("section 'graph': reserved bytes are not zero");
    if (g->m != c->cfg.hnsw_m || g->m0 != 2 * g->m ||
        g->ef_construct != c->cfg.hnsw_ef_construct)
        return CORRUPT("section 'graph': m %u, m0 %u, ef_construct %u "
                       "disagree with the config",
                       g->m, g->m0, g->ef_construct);
    if (g->count != c->count)
        return CORRUPT("section 'graph': %llu nodes for %llu live points",
                       (unsigned long long)g->count,
                       (unsigned long long)c->count);
    if (g->max_level < -1 || g->max_level > (int32_t)QVI_HNSW_MAX_LEVEL ||
        (g->max_level == -1) != (g->count == 0))
        return CORRUPT("section 'graph': max level %d for %llu nodes",
                       (int)g->max_level, (unsigned long long)g->count);
    uint64_t total = 0, upper_nodes = 0, upper_levels = 0;
    for (unsigned l = 0; l <= QVI_HNSW_MAX_LEVEL; l++) {
        uint64_t n = g->level_count[l];
        if (n > c->n_slots || ((int)l > g->max_level && n != 0) ||
            ((int)l == g->max_level && n == 0))
            return CORRUPT("section 'graph': %llu nodes of level %u with "
                           "max level %d",
                           (unsigned long long)n, l, (int)g->max_level);
        total += n;
        if (l > 0) {
            upper_nodes += n;
            upper_levels += n * l;
        }
    }
    if (total != g->count || upper_nodes != g->n_upper)
        return CORRUPT("section 'graph': level counts add up to %llu nodes "
                       "(%llu above level 0), the header says %llu (%u)",
                       (unsigned long long)total,
                       (unsigned long long)upper_nodes,
                       (unsigned long long)g->count, g->n_upper);
    /* upper_levels <= 30 * 2^31: the product below fits easily. */
    if (g->upper_words != upper_levels * (2 + (uint64_t)g->m))
        return CORRUPT("section 'graph': %llu upper-link words, the levels "
                       "need %llu",
                       (unsigned long long)g->upper_words,
                       (unsigned long long)(upper_levels * (2 + g->m)));
    if (g->count > 0 ? g->entry >= c->n_slots : g->entry != 0)
        return CORRUPT("section 'graph': entry point %u for %llu nodes in %u "
                       "slots",
                       g->entry, (unsigned long long)g->count, c->n_slots);
    return QV_OK;
}

/* The reserved section of payload index definitions: u32 count, u32 zero,
 * then count entries {u32 type, u32 key_len, key, zero padding to 4}.
 * Validated here; read_index_defs hands them to core, which defines and
 * builds them (qvi_collection_adopt_columns). */
static qv_status parse_payload_indexes(const qvi_snap_file *f, char *err,
                                       size_t errcap)
{
    if (!has(f, QVI_SNAP_PAYLOAD_INDEXES))
        return QV_OK;
    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_PAYLOAD_INDEXES, &len);
    if (len < 8 || qvi_rd32(p + 4) != 0)
        return CORRUPT("section 'payload indexes': bad header");
    uint32_t n = qvi_rd32(p);
    uint64_t at = 8;
    for (uint32_t i = 0; i < n; i++) {
        if (len - at < 8)
            return CORRUPT("section 'payload indexes': entry %u is cut", i);
        uint32_t type = qvi_rd32(p + at), klen = qvi_rd32(p + at + 4);
        bool opts = type & QVI_SNAP_PINDEX_OPTS;
        type &= ~QVI_SNAP_PINDEX_OPTS;
        at += 8;
        if (type < 1 || type > 8 || klen == 0 || klen > QVI_PAYLOAD_MAX_KEY ||
            klen > len - at || memchr(p + at, 0, klen) ||
            (opts && type != QV_INDEX_TEXT + 1))
            return CORRUPT("section 'payload indexes': entry %u is malformed",
                           i);
        at += (klen + 3u) & ~3u;
        if (at > len)
            return CORRUPT("section 'payload indexes': entry %u is cut", i);
        if (opts) {
            if (len - at < 4 || qvi_rd32(p + at) > len - at - 4)
                return CORRUPT("section 'payload indexes': entry %u options "
                               "are cut",
                               i);
            at += 4 + ((qvi_rd32(p + at) + 3u) & ~3u);
            if (at > len)
                return CORRUPT("section 'payload indexes': entry %u is cut", i);
        }
    }
    if (at != len)
        return CORRUPT("section 'payload indexes': %llu trailing bytes",
                       (unsigned long long)(len - at));
    return QV_OK;
}

/* Every per-slot section's size against the configuration. */
static qv_status check_sizes(const qvi_snap_file *f, char *err, size_t errcap)
{
    const qvi_snap_config *c = &f->config;
    uint64_t n = c->n_slots;
    struct {
        uint32_t kind;
        uint64_t want;
    } sz[] = {
        {QVI_SNAP_VECTORS, n * c->stride * c->elem},
        {QVI_SNAP_SQNORMS, n * sizeof(float)},
        {QVI_SNAP_IDS, n * QVI_SNAP_ID_SIZE},
        {QVI_SNAP_LIVE, n},
        {QVI_SNAP_IDMAP, c->idmap_cap * sizeof(uint64_t)},
        {QVI_SNAP_PAYLOAD_TABLE, n * (sizeof(uint64_t) + sizeof(uint32_t))},
        {QVI_SNAP_GRAPH_LEVELS, n},
        {QVI_SNAP_GRAPH_LINKS0,
         n * (1 + 2 * (uint64_t)c->cfg.hnsw_m) * sizeof(uint32_t)},
        {QVI_SNAP_GRAPH_INDEG0, n * sizeof(uint32_t)},
        {QVI_SNAP_GRAPH_UPPER_INDEX,
         (uint64_t)f->graph.n_upper * QVI_SNAP_UPPER_ENTRY_SIZE},
        {QVI_SNAP_GRAPH_UPPER_LINKS, f->graph.upper_words * sizeof(uint32_t)},
        {QVI_SNAP_GRAPH_DOT_NORMS, n * sizeof(float)},
    };
    for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
        if (!has(f, sz[i].kind))
            continue;
        uint64_t got = sec_len(f, sz[i].kind);
        if (got != sz[i].want)
            return CORRUPT("section '%s': %llu bytes, the config implies %llu",
                           qvi_snap_kind_name(sz[i].kind),
                           (unsigned long long)got,
                           (unsigned long long)sz[i].want);
    }
    return QV_OK;
}

qv_status qvi_snapshot_parse(const uint8_t *buf, size_t len, qvi_snap_file *f,
                             char *err, size_t errcap)
{
    memset(f, 0, sizeof(*f));
    f->base = buf;
    f->len = len;
    if (!buf)
        return qvi_snap_fail(err, errcap, QV_ENULL, "no buffer");
    qv_status st = parse_header(buf, len, f, err, errcap);
    if (st == QV_OK)
        st = parse_table(f, err, errcap);
    for (uint32_t i = 0; st == QV_OK && i < f->n_sections; i++) {
        if (qvi_snap_kind_always_summed(f->sections[i].kind))
            st = check_sum(f, &f->sections[i], err, errcap);
    }
    if (st == QV_OK)
        st = parse_config(f, err, errcap);
    if (st == QV_OK)
        st = qvi_snap_parse_quant(f, err, errcap);
    if (st == QV_OK)
        st = parse_graph(f, err, errcap);
    if (st == QV_OK)
        st = parse_payload_indexes(f, err, errcap);
    if (st == QV_OK)
        st = check_sizes(f, err, errcap);
    return st;
}

/* ---- the per-slot passes ------------------------------------------------- */

#define HUGE_PAGE ((uintptr_t)2 << 20)

void *qvi_snap_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    size_t bytes;
    if (p && qv_mul_size(n, size, &bytes) && bytes >= 2 * HUGE_PAGE) {
        uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
        if (hi > lo) /* advice only: failure changes nothing */
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    return p;
}

/* The arrays the open builds; everything else is borrowed. */
typedef struct built {
    uint32_t *free_slots; /* n_slots long (the collection's cap) */
    uint32_t n_free;
    uint8_t **payloads; /* n_slots long */
    qvi_hnsw *index;
    qvi_quant *quant; /* restored from sections 65-67, or NULL */
    uint64_t quant_trained_on;
    void *vecs; /* rows converted from a version 1 file (convert_rows), or
                   NULL: the file's are borrowed */
} built;

static void built_free(built *b)
{
    free(b->vecs);
    free(b->free_slots);
    free(b->payloads);
    qvi_hnsw_free(b->index);
    qvi_quant_free(b->quant);
    memset(b, 0, sizeof(*b));
}

static size_t at_least_1(size_t n)
{
    return n ? n : 1;
}

/* A version 1 file holds float32 rows whatever the datatype; a float16 or
 * uint8 collection keeps its rows narrow, so they are converted now into
 * an owned array (the only copy an open makes of the rows).  Every live
 * component must already be one of the datatype's values (finite, and
 * equal to its own conversion), as version 1 writers wrote them: anything
 * else is refused rather than rounded.  Dead rows stay zero. */
static qv_status convert_rows(const qvi_snap_file *f, built *b, char *err,
                              size_t errcap)
{
    const qvi_snap_config *k = &f->config;
    uint32_t dt = qvi_row_datatype(&k->cfg);
    size_t elem = qvi_datatype_size(dt);
    if (k->elem == elem)
        return QV_OK; /* borrowed as they lie */
    const float *src =
        (const float *)(const void *)qvi_snap_data(f, QVI_SNAP_VECTORS, NULL);
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    size_t row_bytes = (size_t)k->stride * elem;
    size_t bytes;
    if (!qv_mul_size(k->n_slots ? k->n_slots : 1, row_bytes, &bytes) ||
        !(b->vecs = qvi_alloc_aligned(bytes)))
        return qvi_snap_fail(err, errcap, QV_ENOMEM,
                             "out of memory converting the vectors");
    memset(b->vecs, 0, bytes);
    for (uint32_t s = 0; s < k->n_slots; s++) {
        if (!live[s])
            continue;
        const float *row = src + (size_t)s * k->stride;
        for (uint32_t i = 0; i < k->cfg.dim; i++) {
            float v = row[i];
            qvi_datatype_apply(dt, &v, 1);
            if (!isfinite(row[i]) || v != row[i])
                return CORRUPT("section 'vectors': slot %u component %u "
                               "(%g) is not a %s value",
                               s, i, (double)row[i], qvi_datatype_name(dt));
        }
        qvi_datatype_encode(dt, row, (char *)b->vecs + (size_t)s * row_bytes,
                            k->cfg.dim);
    }
    return QV_OK;
}

/* Live bytes: 0 or 1, as many ones as points; the free stack gets the dead
 * slots so that the lowest is reused first. */
static qv_status scan_live(const qvi_snap_file *f, built *b, char *err,
                           size_t errcap)
{
    uint32_t n = f->config.n_slots;
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    uint64_t count = 0;
    for (uint32_t s = 0; s < n; s++) {
        if (live[s] > 1)
            return CORRUPT("section 'live': slot %u holds %u", s, live[s]);
        count += live[s];
    }
    if (count != f->config.count)
        return CORRUPT("section 'live': %llu live slots, the config says %llu",
                       (unsigned long long)count,
                       (unsigned long long)f->config.count);
    b->free_slots = malloc(at_least_1(n) * sizeof(uint32_t));
    if (!b->free_slots)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    for (uint32_t s = n; s-- > 0;) {
        if (!live[s])
            b->free_slots[b->n_free++] = s;
    }
    return QV_OK;
}

/* Id-map buckets: each non-empty one names a distinct live slot, and there
 * are as many as points.  Then every probe stays in bounds and ends, and no
 * lookup can return a dead slot.  Whether each id sits where its hash puts
 * it is left to QV_SNAPSHOT_VERIFY: a misplaced entry is only unfindable.
 *
 * Two passes, for speed: buckets are empty at random about half the time,
 * so a branch on emptiness would mispredict half the time.  The first pass
 * is branch-free over all buckets: it checks the slot range and packs the
 * named slots; the second checks liveness and duplicates on those only. */
static qv_status scan_idmap(const qvi_snap_file *f, char *err, size_t errcap)
{
    uint32_t n = f->config.n_slots;
    uint64_t cap = f->config.idmap_cap, count = f->config.count;
    const uint64_t *buckets =
        (const uint64_t *)qvi_snap_data(f, QVI_SNAP_IDMAP, NULL);
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    /* One spare entry takes the writes past count when the buckets hold
     * more entries than the config says (the count check then fails). */
    uint32_t *named = qvi_snap_calloc((size_t)count + 1, sizeof(uint32_t));
    uint64_t *seen = qvi_snap_calloc(n / 64 + 1, sizeof(uint64_t));
    qv_status st = QV_OK;
    if (!named || !seen) {
        st = qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t used = 0, bad = 0;
    for (uint64_t i = 0; i < cap; i++) {
        uint64_t v = buckets[i];
        uint32_t slot = (uint32_t)v - 1; /* UINT32_MAX when the low half is 0 */
        uint64_t full = v != 0;
        bad |= full & (slot >= n);
        named[used < count ? used : count] = slot;
        used += full;
    }
    if (bad) {
        st = CORRUPT("section 'id map': a bucket names a slot beyond the %u "
                     "slots",
                     n);
        goto done;
    }
    if (used != count) {
        st = CORRUPT("section 'id map': %llu entries for %llu points",
                     (unsigned long long)used, (unsigned long long)count);
        goto done;
    }
    for (uint64_t i = 0; i < used; i++) {
        uint32_t s = named[i];
        if (!live[s] || (seen[s / 64] >> (s % 64) & 1)) {
            st = CORRUPT("section 'id map': an entry names %s slot %u",
                         live[s] ? "an already mapped" : "a dead", s);
            goto done;
        }
        seen[s / 64] |= 1ull << (s % 64);
    }
done:
    free(named);
    free(seen);
    return st;
}

/* Payload table: offsets[n] (u64) then lengths[n] (u32); a blob lies in
 * the arena and belongs to a live slot; length 0 means {} and offset 0. */
static qv_status scan_payloads(const qvi_snap_file *f, built *b, char *err,
                               size_t errcap)
{
    uint32_t n = f->config.n_slots;
    const uint8_t *table = qvi_snap_data(f, QVI_SNAP_PAYLOAD_TABLE, NULL);
    const uint8_t *live = qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    uint64_t arena_len;
    const uint8_t *arena = qvi_snap_data(f, QVI_SNAP_PAYLOAD_ARENA, &arena_len);
    b->payloads = qvi_snap_calloc(n, sizeof(uint8_t *));
    if (!b->payloads)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    if (n == 0)
        return QV_OK; /* the sections are empty: no pointers to make */
    const uint64_t *offs = (const uint64_t *)table;
    const uint32_t *lens = (const uint32_t *)(table + (size_t)n * 8);
    for (uint32_t s = 0; s < n; s++) {
        uint64_t off = offs[s];
        uint32_t len = lens[s];
        if (len == 0) {
            if (off != 0)
                return CORRUPT("section 'payload table': slot %u has offset "
                               "%llu and no length",
                               s, (unsigned long long)off);
            continue;
        }
        if (!live[s])
            return CORRUPT("section 'payload table': dead slot %u has a "
                           "payload",
                           s);
        if (len > QVI_PAYLOAD_MAX_SIZE || off > arena_len ||
            len > arena_len - off)
            return CORRUPT("section 'payload table': slot %u's payload, bytes "
                           "%llu..%llu, lies outside the %llu-byte arena",
                           s, (unsigned long long)off,
                           (unsigned long long)(off + len),
                           (unsigned long long)arena_len);
        b->payloads[s] = (uint8_t *)arena + off;
    }
    return QV_OK;
}

/* ---- the collection ------------------------------------------------------ */

/* The payload index definitions the file lists (parse_payload_indexes has
 * validated the section): n keys, copied with a NUL, and their kinds. */
typedef struct index_defs {
    uint32_t n;
    char **keys;
    qv_index_kind *kinds;
    const uint8_t **opts; /* into the section; NULL: none */
    uint32_t *opts_len;
} index_defs;

static void index_defs_free(index_defs *d)
{
    for (uint32_t i = 0; d->keys && i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    free(d->kinds);
    free(d->opts);
    free(d->opts_len);
    memset(d, 0, sizeof(*d));
}

static qv_status read_index_defs(const qvi_snap_file *f, index_defs *d,
                                 char *err, size_t errcap)
{
    if (!has(f, QVI_SNAP_PAYLOAD_INDEXES))
        return QV_OK;
    uint64_t len;
    const uint8_t *p = qvi_snap_data(f, QVI_SNAP_PAYLOAD_INDEXES, &len);
    uint32_t n = qvi_rd32(p);
    if (n == 0)
        return QV_OK;
    d->keys = calloc(n, sizeof(*d->keys));
    d->kinds = calloc(n, sizeof(*d->kinds));
    d->opts = calloc(n, sizeof(*d->opts));
    d->opts_len = calloc(n, sizeof(*d->opts_len));
    if (!d->keys || !d->kinds || !d->opts || !d->opts_len)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    d->n = n;
    uint64_t at = 8;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t type = qvi_rd32(p + at), klen = qvi_rd32(p + at + 4);
        d->keys[i] = malloc((size_t)klen + 1);
        if (!d->keys[i])
            return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
        memcpy(d->keys[i], p + at + 8, klen);
        d->keys[i][klen] = 0;
        d->kinds[i] = (qv_index_kind)((type & ~QVI_SNAP_PINDEX_OPTS) - 1);
        at += 8 + ((klen + 3u) & ~3u);
        if (type &
            QVI_SNAP_PINDEX_OPTS) { /* checked by parse_payload_indexes */
            d->opts_len[i] = qvi_rd32(p + at);
            d->opts[i] = p + at + 4;
            at += 4 + ((d->opts_len[i] + 3u) & ~3u);
        }
    }
    return QV_OK;
}

/* The columns of f: the borrowed arrays and the built ones. */
static void fill_columns(const qvi_snap_file *f, const built *b,
                         const index_defs *d, qvi_columns *cols)
{
    const qvi_snap_config *k = &f->config;
    uint32_t n = k->n_slots;
    memset(cols, 0, sizeof(*cols));
    cols->cfg = k->cfg;
    cols->stride = k->stride;
    cols->n_slots = n;
    cols->count = k->count;
    cols->lsn = k->wal_lsn;
    cols->vecs =
        b->vecs ? b->vecs : (void *)qvi_snap_data(f, QVI_SNAP_VECTORS, NULL);
    cols->row_bytes =
        (size_t)k->stride * qvi_datatype_size(qvi_row_datatype(&k->cfg));
    cols->sqnorms = (float *)qvi_snap_data(f, QVI_SNAP_SQNORMS, NULL);
    cols->ids = (qv_point_id *)qvi_snap_data(f, QVI_SNAP_IDS, NULL);
    cols->live = (uint8_t *)qvi_snap_data(f, QVI_SNAP_LIVE, NULL);
    const uint8_t *table = qvi_snap_data(f, QVI_SNAP_PAYLOAD_TABLE, NULL);
    cols->payload_lens = n ? (uint32_t *)(table + (size_t)n * 8) : NULL;
    cols->payloads = b->payloads;
    cols->free_slots = b->free_slots;
    cols->n_free = b->n_free;
    cols->idmap_buckets = (uint64_t *)qvi_snap_data(f, QVI_SNAP_IDMAP, NULL);
    cols->idmap_cap = (size_t)k->idmap_cap;
    cols->index = b->index;
    cols->n_pindexes = d->n;
    cols->pindex_keys = (const char *const *)d->keys;
    cols->pindex_kinds = d->kinds;
    cols->pindex_opts = d->opts;
    cols->pindex_opts_len = d->opts_len;
    cols->backed = true;
    cols->quant = b->quant;
    cols->quant_trained_on = b->quant_trained_on;
    qvi_snapshot_fill_multi(f, cols);
}

typedef struct verify_ctx {
    qvi_backing *backing;
    char *err;
    size_t errcap;
} verify_ctx;

static qv_status verify_view(const qvi_columns *cols, void *arg)
{
    verify_ctx *x = arg;
    return qvi_snapshot_verify_columns(cols, x->backing, x->err, x->errcap);
}

/* Loads the collection from m's bytes.  Takes m: on success the collection
 * owns it, on failure it is released. */
static qv_status load(qvi_backing *m, unsigned flags, qv_collection **out,
                      char *err, size_t errcap)
{
    built b = {0};
    index_defs defs = {0};
    qvi_sparse sp;
    qvi_sparse_init(&sp);
    qv_collection *c = NULL;
    qvi_snap_file *f = malloc(sizeof(*f));
    qv_status st;
    if (!f) {
        st = qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
        goto fail;
    }
    st = qvi_snapshot_parse(qvi_backing_base(m), qvi_backing_len(m), f, err,
                            errcap);
    if (st == QV_OK && (flags & QV_SNAPSHOT_VERIFY))
        st = qvi_snapshot_check_sums(f, err, errcap);
    if (st == QV_OK)
        st = scan_live(f, &b, err, errcap);
    if (st == QV_OK)
        st = convert_rows(f, &b, err, errcap);
    if (st == QV_OK)
        st = scan_idmap(f, err, errcap);
    if (st == QV_OK)
        st = scan_payloads(f, &b, err, errcap);
    if (st == QV_OK)
        st = qvi_snapshot_check_multi(f, err, errcap);
    if (st == QV_OK && qvi_backing_track_blobs(m, f->config.n_slots) != QV_OK)
        st = qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    if (st == QV_OK && f->has_graph)
        st = qvi_snapshot_map_graph(f, qvi_snap_data(f, QVI_SNAP_LIVE, NULL),
                                    &b.index, err, errcap);
    if (st == QV_OK)
        st = read_index_defs(f, &defs, err, errcap);
    if (st == QV_OK)
        st = qvi_snapshot_read_sparse(f, &f->config.cfg,
                                      (flags & QV_SNAPSHOT_VERIFY) != 0, &sp,
                                      err, errcap);
    if (st == QV_OK)
        st = qvi_snap_read_quant(f, &b.quant, &b.quant_trained_on, err, errcap);
    if (st != QV_OK)
        goto fail;
    st = qv_collection_create(&f->config.cfg, &c);
    if (st != QV_OK) {
        if (st != QV_ENOMEM)
            st = CORRUPT("section 'config': refused by the collection (%s)",
                         qv_status_name(st));
        goto fail;
    }
    qvi_columns cols;
    fill_columns(f, &b, &defs, &cols);
    cols.sparse = f->config.cfg.kind == QV_VECTOR_SPARSE ? &sp : NULL;
    qvi_backing *backing = m;
    /* c owns the built arrays and the backing from here, whatever the
     * outcome. */
    memset(&b, 0, sizeof(b));
    m = NULL;
    st = qvi_collection_adopt_columns(c, &cols, backing);
    if (st != QV_OK) {
        char why[QVI_ERRMSG_CAP];
        qv_collection_errmsg(c, why, sizeof(why));
        if (st == QV_EINVAL) /* a payload index the file defines */
            st = CORRUPT("section 'payload indexes': %s", why);
        else
            qvi_snap_fail(err, errcap, st, "%s", why);
        goto fail;
    }
    if (flags & QV_SNAPSHOT_VERIFY) {
        verify_ctx x = {.backing = backing, .err = err, .errcap = errcap};
        st = qvi_collection_read_columns(c, verify_view, &x);
        if (st != QV_OK)
            goto fail;
        /* Checked in full: no lazy check before the first update. */
        qvi_backing_set_graph_unverified(backing, false);
    }
    index_defs_free(&defs);
    free(f);
    *out = c;
    return QV_OK;
fail:
    qv_collection_release(c);
    qvi_sparse_free(&sp);
    built_free(&b);
    index_defs_free(&defs);
    qvi_backing_free(m);
    free(f);
    return st;
}

qv_status qvi_snapshot_load_buffer(uint8_t *buf, size_t len, unsigned flags,
                                   qv_collection **out, char *err,
                                   size_t errcap)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!buf)
        return qvi_snap_fail(err, errcap, QV_ENULL, "buffer is NULL");
    if (flags & ~QV_SNAPSHOT_VERIFY)
        return qvi_snap_fail(err, errcap, QV_EINVAL, "unknown flags 0x%x",
                             flags);
    if ((uintptr_t)buf % 64 != 0)
        return qvi_snap_fail(err, errcap, QV_EINVAL,
                             "buffer is not 64-byte aligned");
    /* The caller's buffer: nothing to release. */
    qvi_backing *m = qvi_backing_new(buf, len, NULL, NULL);
    if (!m)
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    return load(m, flags, out, err, errcap);
}

/* ---- files --------------------------------------------------------------- */

/* The backing's release: the file's private mapping goes with the
 * collection. */
static void unmap_file(void *arg, void *base, size_t len)
{
    (void)arg;
    munmap(base, len);
}

qv_status qv_snapshot_open(const char *path, unsigned flags,
                           qv_collection **out, char *err, size_t errcap)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!path)
        return qvi_snap_fail(err, errcap, QV_ENULL, "path is NULL");
    if (flags & ~QV_SNAPSHOT_VERIFY)
        return qvi_snap_fail(err, errcap, QV_EINVAL, "unknown flags 0x%x",
                             flags);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qvi_snap_fail(err, errcap, QV_EIO, "%s: %s", path,
                             strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        close(fd);
        return qvi_snap_fail(err, errcap, QV_EIO, "%s: %s", path,
                             e ? strerror(e) : "not a regular file");
    }
    size_t len = (size_t)sb.st_size;
    if (len < QVI_SNAP_MAGIC_LEN) {
        close(fd);
        return qvi_snap_fail(err, errcap, QV_EFORMAT,
                             "%s: not a Quiver snapshot (%zu bytes)", path,
                             len);
    }
    /* Private and writable: the collection's in-place edits copy pages,
     * the file is never written. */
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (base == MAP_FAILED)
        return qvi_snap_fail(err, errcap, QV_EIO, "%s: mmap: %s", path,
                             strerror(e));
    qvi_backing *m = qvi_backing_new(base, len, unmap_file, NULL);
    if (!m) {
        munmap(base, len);
        return qvi_snap_fail(err, errcap, QV_ENOMEM, "out of memory");
    }
    char why[QVI_ERRMSG_CAP];
    qv_status st = load(m, flags, out, why, sizeof(why));
    if (st != QV_OK)
        qvi_snap_fail(err, errcap, st, "%s: %s", path, why);
    return st;
}

qv_status qv_snapshot_verify(const char *path, char *err, size_t errcap)
{
    qv_collection *c = NULL;
    qv_status st = qv_snapshot_open(path, QV_SNAPSHOT_VERIFY, &c, err, errcap);
    qv_collection_release(c);
    return st;
}
