/*
 * snapshot.h -- internal interface of the snapshot files (persist/snapshot_*).
 *
 * A snapshot is one file holding a whole collection: its configuration,
 * vectors, ids, id map, payloads and HNSW graph, laid out so that a reader
 * can map the file and use the big arrays where they lie.  docs/FORMAT.md
 * is the format's specification; the constants below are its numbers.
 *
 * The files:
 *   snapshot_write.c  qv_snapshot_save: streams the sections of the
 *                     collection's columns (core.h, qvi_columns, read
 *                     under its shared lock) to a temporary file
 *   snapshot_read.c   parsing of the header, section table and small
 *                     sections; qv_snapshot_open, the mapping (handed to
 *                     core as a qvi_backing), and the loader
 *                     qvi_snapshot_load_buffer (core adopts the columns)
 *   snapshot_graph.c  the graph's sections, both ways (it alone sees the
 *                     HNSW internals)
 *   snapshot_check.c  deep verification (QV_SNAPSHOT_VERIFY,
 *                     qv_snapshot_verify); the lazy payload check is
 *                     core's (core/backing.c)
 *
 * Trust: everything read from a file is hostile until checked.  The loader
 * is a pure function of (bytes, length) -- qvi_snapshot_load_buffer -- so
 * that fuzz targets can feed it memory buffers.
 */
#ifndef QUIVER_PERSIST_SNAPSHOT_H
#define QUIVER_PERSIST_SNAPSHOT_H

#include "core/core.h"
#include "core/hnsw/hnsw.h"

#include <stdio.h>
#include <xxhash.h>
#include <string.h>

/* Little readers and writers of the file's integers (native byte order,
 * docs/FORMAT.md; any alignment). */
static inline void qvi_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static inline void qvi_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static inline uint32_t qvi_rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t qvi_rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- format constants (docs/FORMAT.md) ----------------------------------- */

#define QVI_SNAP_MAGIC     "\x89QVSNAP\n"
#define QVI_SNAP_MAGIC_LEN 8u
#define QVI_SNAP_BOM       0x01020304u
/* Version 2 stores the rows of float16 and uint8 collections in their
 * element type (config field vectors_elem, offset 76); version 1 files,
 * still read, hold float32 rows, converted at open. */
#define QVI_SNAP_VERSION      2u
#define QVI_SNAP_VERSION_MIN  1u
#define QVI_SNAP_HEADER_SIZE  64u
#define QVI_SNAP_ENTRY_SIZE   32u
#define QVI_SNAP_MAX_SECTIONS 64u
/* Byte offset of the header checksum field. */
#define QVI_SNAP_HEADER_SUM_AT 56u

/* Alignment of small sections and of big arrays (a page, so that a mapped
 * array starts on a page and every vector row on a cache line). */
#define QVI_SNAP_SMALL_ALIGN 64u
#define QVI_SNAP_PAGE_ALIGN  4096u

/* Section flag: a reader that does not know the kind must refuse the file
 * (QV_EFORMAT); unknown kinds without it are skipped. */
#define QVI_SNAP_SEC_REQUIRED 0x1u

enum qvi_snap_kind {
    QVI_SNAP_CONFIG = 1,
    QVI_SNAP_VECTORS = 2,
    QVI_SNAP_SQNORMS = 3,
    QVI_SNAP_IDS = 4,
    QVI_SNAP_LIVE = 5,
    QVI_SNAP_IDMAP = 6,
    QVI_SNAP_PAYLOAD_TABLE = 7,
    QVI_SNAP_PAYLOAD_ARENA = 8,
    QVI_SNAP_PAYLOAD_INDEXES = 9,
    QVI_SNAP_GRAPH = 10,
    QVI_SNAP_GRAPH_LEVELS = 11,
    QVI_SNAP_GRAPH_LINKS0 = 12,
    QVI_SNAP_GRAPH_INDEG0 = 13,
    QVI_SNAP_GRAPH_UPPER_INDEX = 14,
    QVI_SNAP_GRAPH_UPPER_LINKS = 15,
    QVI_SNAP_GRAPH_DOT_NORMS = 16,
    /* Sparse vectors (32-47 reserved; 17-31 are unknown kinds, skipped). */
    QVI_SNAP_SPARSE = 32,
    QVI_SNAP_SPARSE_NNZ = 33,
    QVI_SNAP_SPARSE_INDICES = 34,
    QVI_SNAP_SPARSE_VALUES = 35,
    /* the posting lists, mappable (optional: a reader that lacks them
     * rebuilds the lists from the rows) */
    QVI_SNAP_SPARSE_POSTINGS = 36,       /* header and list directory */
    QVI_SNAP_SPARSE_POSTING_SLOTS = 37,  /* u32 slots of every list */
    QVI_SNAP_SPARSE_POSTING_VALUES = 38, /* typed values of every list */
    /* 39-47, 50-63 and 68-79: unknown kinds, skipped */
    /* Multivectors (48-63 reserved; snapshot_multi.c) */
    QVI_SNAP_MULTI_OFFSETS = 48,
    QVI_SNAP_MULTI_ROWS = 49,
    /* Quantization (64-79 reserved; snapshot_quant.c) */
    QVI_SNAP_QUANT = 64,
    QVI_SNAP_QUANT_STATE = 65, /* the trained state */
    QVI_SNAP_QUANT_CODES = 66, /* n_slots codes */
    QVI_SNAP_QUANT_CORR = 67,  /* int8: n_slots corrections */
    QVI_SNAP_KIND_END          /* one past the last known kind */
};

/* In a payload index entry's type word: a full-text index whose options
 * follow its key (docs/FORMAT.md, section 9). */
#define QVI_SNAP_PINDEX_OPTS 0x100u

/* Fixed sizes of the small sections. */
#define QVI_SNAP_CONFIG_SIZE 128u
#define QVI_SNAP_GRAPH_SIZE  320u
/* CONFIG flags. */
#define QVI_SNAP_CFG_HAS_GRAPH 0x1u
/* Bytes of one stored point id and one upper-index entry. */
#define QVI_SNAP_ID_SIZE          24u
#define QVI_SNAP_UPPER_ENTRY_SIZE 16u

/* The quantization sections (snapshot_quant.c).  put: section 64 for a
 * quantized collection, and 65-67 when cols hold trained codes
 * (cols->quant).  parse: section 64 into f->config.cfg after the config
 * (QV_OK when absent, QV_ECORRUPT when invalid). */
struct qvi_snapw;
struct qvi_snap_file;
struct qvi_quant;
void qvi_snap_put_quant(struct qvi_snapw *w, const qvi_columns *cols);

/* Writes cols' slots of elem bytes each from base, live ones as runs of
 * single writes, dead ones as zeros (vectors, quantized codes). */
void qvi_snap_put_live_runs(struct qvi_snapw *w, const qvi_columns *cols,
                            const void *base, size_t elem);
/* Sections qvi_snap_put_quant writes for cols. */
uint32_t qvi_snap_quant_sections(const qvi_columns *cols);
qv_status qvi_snap_parse_quant(struct qvi_snap_file *f, char *err,
                               size_t errcap);
/* The quantizer f kept (sections 65-67), restored with its codes borrowed
 * from f's bytes (which must be writable and outlive it), into *out with
 * its training count; *out NULL when f holds no codes (the open then
 * trains).  Sections that are present but disagree with the config or
 * with each other, or hold values training never makes, are QV_ECORRUPT:
 * the file is refused, not silently rebuilt.  QV_OK, QV_ECORRUPT or
 * QV_ENOMEM with a message. */
qv_status qvi_snap_read_quant(const struct qvi_snap_file *f,
                              struct qvi_quant **out, uint64_t *trained_on,
                              char *err, size_t errcap);
/* The deep check of a quantizer's codes in cols (cols->quant, NULL: none)
 * for QV_SNAPSHOT_VERIFY and for the save of a backed collection
 * (core/quant/quant.h, qvi_quant_check_codes).  QV_OK or QV_ECORRUPT. */
qv_status qvi_snapshot_check_codes(const qvi_columns *cols, char *err,
                                   size_t errcap);

/* The name of a section kind ("vectors"), or NULL when unknown. */
const char *qvi_snap_kind_name(uint32_t kind);

/* Required alignment of a known kind's offset. */
uint32_t qvi_snap_kind_align(uint32_t kind);

/* True for the kinds whose checksum is checked at every open (the small
 * metadata and the per-slot byte arrays the open reads in full anyway);
 * the others only with QV_SNAPSHOT_VERIFY. */
bool qvi_snap_kind_always_summed(uint32_t kind);

/* ---- a parsed file --------------------------------------------------------
 */

typedef struct qvi_snap_section {
    uint32_t kind, flags;
    uint64_t offset, length, checksum;
} qvi_snap_section;

/* The CONFIG section, decoded. */
typedef struct qvi_snap_config {
    qv_collection_config cfg;
    uint64_t wal_lsn;
    uint32_t stride; /* elements per row */
    uint32_t elem;   /* bytes of an element of the file's rows: 4, or (a
                        version 2 file of float16 / uint8 rows) 2 / 1 */
    uint32_t n_slots;
    uint64_t count; /* live points */
    uint64_t idmap_cap;
    uint32_t flags;
} qvi_snap_config;

/* The GRAPH section, decoded. */
typedef struct qvi_snap_graph {
    uint32_t m, m0, ef_construct, entry;
    int32_t max_level;
    uint32_t n_upper; /* nodes of level >= 1 */
    uint64_t count, rng, dirty;
    uint64_t upper_words; /* uint32 words of the upper-links arena */
    uint64_t level_count[QVI_HNSW_MAX_LEVEL + 1];
} qvi_snap_graph;

typedef struct qvi_snap_file {
    const uint8_t *base;
    size_t len;
    uint32_t version;
    uint32_t n_sections;
    qvi_snap_section sections[QVI_SNAP_MAX_SECTIONS];
    /* Index into sections[] of each known kind, -1 when absent. */
    int by_kind[QVI_SNAP_KIND_END];
    uint64_t header_checksum;
    qvi_snap_config config;
    bool has_graph;
    qvi_snap_graph graph;
} qvi_snap_file;

/* Parses and validates the header, the section table (bounds, alignment,
 * overlaps, duplicates, required kinds), the CONFIG and GRAPH sections and
 * the checksums of the always-summed kinds, from len bytes at buf.
 * Section sizes are checked against the configuration too.  Returns QV_OK,
 * QV_EFORMAT (magic, byte order, version, unknown required kind) or
 * QV_ECORRUPT, with a message naming the section in err. */
qv_status qvi_snapshot_parse(const uint8_t *buf, size_t len, qvi_snap_file *f,
                             char *err, size_t errcap);

/* The bytes of a present section (NULL when absent or empty). */
const uint8_t *qvi_snap_data(const qvi_snap_file *f, uint32_t kind,
                             uint64_t *len);

/* Checks every section's checksum.  QV_OK or QV_ECORRUPT. */
qv_status qvi_snapshot_check_sums(const qvi_snap_file *f, char *err,
                                  size_t errcap);

/* ---- the loader -----------------------------------------------------------
 */

/* Builds a collection from len bytes at buf, a snapshot file's contents,
 * borrowing its arrays from buf: buf must be 64-byte aligned, writable
 * (in-place edits of the collection write to it) and must outlive the
 * collection; it is not freed.  flags: QV_SNAPSHOT_VERIFY or 0.  This is
 * qv_snapshot_open without the file, for fuzz targets: a pure function of
 * (buf, len) that never reads outside them.  On success *out holds one
 * reference.  Returns QV_OK, QV_ENULL, QV_EINVAL (flags, alignment),
 * QV_EFORMAT, QV_ECORRUPT or QV_ENOMEM with a message in err; *out is
 * NULL on failure. */
qv_status qvi_snapshot_load_buffer(uint8_t *buf, size_t len, unsigned flags,
                                   qv_collection **out, char *err,
                                   size_t errcap);

/* ---- deep checks (snapshot_check.c) ---------------------------------------
 */

/* The vector part of verification: every live row finite with zero
 * padding, its stored squared norm right, unit length under cosine.  A
 * save runs it on a collection whose columns are backed by a snapshot (an
 * unverified open trusts them), so damage is never carried into a new file
 * with fresh checksums. */
qv_status qvi_snapshot_check_vectors(const qvi_columns *c, char *err,
                                     size_t errcap);

/* Everything QV_SNAPSHOT_VERIFY adds beyond the open's own checks, on the
 * columns of a freshly loaded collection whose blobs are backed by b:
 * vectors finite with zero padding, squared norms consistent, every live
 * id well formed and found at its slot through the id map, every payload
 * blob valid (remembered in b's memo), the whole graph when there is one.
 * The caller then marks the graph verified.  QV_OK, QV_ECORRUPT or
 * QV_ENOMEM with a message. */
qv_status qvi_snapshot_verify_columns(const qvi_columns *c, qvi_backing *b,
                                      char *err, size_t errcap);

/* ---- multivectors (snapshot_multi.c) --------------------------------------
 */

/* Writes the MULTI_OFFSETS and MULTI_ROWS sections of a multivector
 * collection (nothing for another). */
struct qvi_snapw;
void qvi_snapshot_write_multi(struct qvi_snapw *w, const qvi_columns *cols);

/* Checks the multivector sections against the config and the live slots:
 * present exactly for a multivector collection, every live slot's record
 * inside MULTI_ROWS with a row count in range, dead slots without one.
 * QV_OK or QV_ECORRUPT. */
qv_status qvi_snapshot_check_multi(const qvi_snap_file *f, char *err,
                                   size_t errcap);

/* Points cols at the multivector sections of f (checked). */
void qvi_snapshot_fill_multi(const qvi_snap_file *f, qvi_columns *cols);

/* ---- the writer -----------------------------------------------------------
 */

/* A snapshot being streamed: sections are written one after another, each
 * hashed while it is written. */
typedef struct qvi_snapw {
    FILE *f;
    uint64_t pos; /* bytes written so far */
    XXH3_state_t *xx;
    qvi_snap_section sec[QVI_SNAP_MAX_SECTIONS];
    uint32_t n;
    int err_no;     /* first write error (errno), 0 if none */
    uint8_t *stage; /* small puts gather here (QVI_SNAPW_STAGE bytes) */
    size_t stage_len;
} qvi_snapw;

#define QVI_SNAPW_STAGE ((size_t)1 << 20)

/* Starts a section of kind (padding to its alignment). */
void qvi_snapw_begin(qvi_snapw *w, uint32_t kind);
/* Appends n bytes to the current section. */
void qvi_snapw_put(qvi_snapw *w, const void *p, size_t n);
/* Appends n zero bytes. */
void qvi_snapw_zero(qvi_snapw *w, size_t n);
/* Ends the current section (records its length and checksum). */
void qvi_snapw_end(qvi_snapw *w);

/* ---- the graph's sections (snapshot_graph.c) ------------------------------
 */

/* Counts the upper-level records of h's nodes below n_slots. */
void qvi_snapshot_graph_sizes(const qvi_hnsw *h, uint32_t n_slots,
                              uint32_t *n_upper, uint64_t *upper_words);

/* Writes the GRAPH section and the graph's arrays for slots [0, n_slots);
 * n_upper and upper_words come from qvi_snapshot_graph_sizes. */
void qvi_snapshot_write_graph(qvi_snapw *w, const qvi_hnsw *h, uint32_t n_slots,
                              uint32_t n_upper, uint64_t upper_words);

/* Maps the graph of f in place: validates levels (against live, the
 * collection's live bytes), level counts, entry point, the upper index and
 * every section size, and builds an index that borrows links0, indeg0,
 * levels, the dot norms and its upper blocks from f's bytes.  Link values
 * are not checked (see hnsw_search.c, "Untrusted graphs").  QV_OK,
 * QV_ECORRUPT or QV_ENOMEM with a message; *out NULL on failure. */
qv_status qvi_snapshot_map_graph(const qvi_snap_file *f, const uint8_t *live,
                                 qvi_hnsw **out, char *err, size_t errcap);

/* Part of QV_SNAPSHOT_VERIFY: qvi_hnsw_check over the graph of c (which
 * has one: c->index; nodes left unreachable since the last reconnect are
 * accepted) and its dot norms against c's squared norms.  QV_OK,
 * QV_ECORRUPT or QV_ENOMEM. */
qv_status qvi_snapshot_check_graph(const qvi_columns *c, char *err,
                                   size_t errcap);

/* ---- sparse vectors (snapshot_sparse.c) ----------------------------------
 */

#define QVI_SNAP_SPARSE_SIZE 64u
/* SPARSE_POSTINGS: a 32-byte header, then 24 bytes per list. */
#define QVI_SNAP_POSTINGS_HEADER 32u
#define QVI_SNAP_POSTINGS_ENTRY  24u

/* The number of sections qvi_snapshot_write_sparse writes for cols (0 for
 * a dense collection). */
uint32_t qvi_snapshot_sparse_sections(const qvi_columns *cols);

/* Writes the sparse sections of cols (nothing for a dense collection). */
void qvi_snapshot_write_sparse(qvi_snapw *w, const qvi_columns *cols);

struct qvi_sparse;
/* Reads the sparse sections of f, if any, into out (initialised, empty
 * when absent) and marks cfg sparse with their settings.  The rows, and
 * the posting lists when the file has them, are borrowed from f's bytes
 * (out's borrowed range); without posting sections out's lists stay
 * empty and the caller builds them.  Every count, bound, index order and
 * value is checked; rows only for live slots; with verify also that the
 * posting lists mirror the rows exactly.  QV_OK, QV_ECORRUPT or QV_ENOMEM
 * with a message; out is empty on failure. */
qv_status qvi_snapshot_read_sparse(const qvi_snap_file *f,
                                   qv_collection_config *cfg, bool verify,
                                   struct qvi_sparse *out, char *err,
                                   size_t errcap);

/* calloc(n, size) (n 0 is taken as 1) that asks for transparent huge
 * pages on big blocks: the open writes a few entries into every 4 KiB page
 * of its per-slot arrays, and one 2 MiB fault costs much less than 512
 * small ones.  Freed with free(). */
void *qvi_snap_calloc(size_t n, size_t size);

/* Formats a message into err and returns st (err may be NULL). */
qv_status qvi_snap_fail(char *err, size_t errcap, qv_status st, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

#endif /* QUIVER_PERSIST_SNAPSHOT_H */
