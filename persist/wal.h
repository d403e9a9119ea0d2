/*
 * wal.h -- internal interface of the write-ahead log and of durable stores.
 *
 * Three layers, one file each:
 *
 *   wal_record.c  the record codec and the segment reader: pure functions
 *                 of bytes, no I/O, safe on hostile input (fuzz target:
 *                 qvi_wal_scan_buffer).
 *   wal.c         the journal of one collection: segment files, appends
 *                 under the collection's write lock, group commit, recovery
 *                 (scan + replay + torn-tail cut) and checkpoints (segment
 *                 rotation + snapshot).
 *   wal_replay.c  applies a decoded record to a collection, through a table
 *                 with one entry per record kind.
 *   store_dir.c   the directory layout of a durable store: create, drop,
 *                 open (recovery of every collection), close.
 *
 * The byte format is documented in docs/WAL.md.
 *
 * How core/ uses this: every mutating function calls qvi_wal_log_locked()
 * after its checks and before it changes anything, while it holds the write
 * lock, then qvi_wal_commit() after it released the lock.  Both are one
 * pointer test when the collection has no journal (c->journal == NULL, a
 * plain in-memory collection).
 */
#ifndef QUIVER_WAL_H
#define QUIVER_WAL_H

#include "core/core.h"

#include <sys/types.h>

/* Largest record body, in bytes: a bigger write is refused with
 * QV_ERANGE, and a reader never believes a longer length. */
#define QVI_WAL_MAX_RECORD (256u << 20)
#define QVI_WAL_SEG_HEADER 32u /* segment header bytes */
#define QVI_WAL_REC_HEADER 32u /* record header bytes */
#define QVI_WAL_VERSION    1u

/* The snapshot file inside a collection's directory. */
#define QVI_SNAPSHOT_FILE "snapshot.qvs"

/* Record kinds.  The numbers are part of the file format: never reuse
 * one.  Adding a kind: a layout in docs/WAL.md, an entry in the codec
 * table (wal_record.c) and one in the replay table (wal_replay.c). */
typedef enum qvi_wal_kind {
    QVI_WAL_UPSERT = 1,              /* ids, vectors, optional payloads */
    QVI_WAL_DELETE = 2,              /* ids */
    QVI_WAL_DELETE_FILTER = 3,       /* the ids a filter resolved to */
    QVI_WAL_PAYLOAD_OVERWRITE = 4,   /* id, JSON */
    QVI_WAL_PAYLOAD_SET = 5,         /* id, JSON, optional key path */
    QVI_WAL_PAYLOAD_DELETE_KEYS = 6, /* id, key paths */
    QVI_WAL_PAYLOAD_CLEAR = 7,       /* id */
    QVI_WAL_INDEX_CREATE = 8,        /* field key path, schema JSON */
    QVI_WAL_INDEX_DROP = 9,          /* field key path */
    QVI_WAL_KIND_COUNT
} qvi_wal_kind;

/*
 * One change, as the writer describes it and as the reader decodes it.
 * Writers fill the fields of their kind with borrowed pointers to the
 * caller's input (the ORIGINAL input: replaying the record through the
 * same public function gives the same state).  A decoded record points
 * into the scanned buffer for byte strings (json, texts) and owns copies
 * of everything that needs alignment or a NUL (ids, vecs, keys): free it
 * with qvi_wal_rec_free.
 */
typedef struct qvi_wal_rec {
    uint32_t kind; /* a qvi_wal_kind */
    uint64_t lsn;  /* set by the journal when appended */
    /* UPSERT, DELETE, DELETE_FILTER: n ids.  The PAYLOAD_* kinds: ids[0]
     * (n = 1). */
    const qv_point_id *ids;
    size_t n;
    /* UPSERT */
    uint32_t dim;
    const float *vecs;        /* n * dim floats, as passed by the caller */
    const char *const *texts; /* NULL: no payloads (qv_upsert_batch); else
                                 n JSON texts, NULL entries meaning {} */
    const size_t *text_lens;
    /* PAYLOAD_OVERWRITE, PAYLOAD_SET: the JSON text; INDEX_CREATE: the
     * field schema as JSON text */
    const char *json;
    size_t json_len;
    /* PAYLOAD_SET (NULL: no key), INDEX_CREATE, INDEX_DROP: a key path */
    const char *key;
    /* PAYLOAD_DELETE_KEYS */
    const char *const *keys;
    size_t n_keys;
    /* owned by a decoded record */
    void *own[5];
} qvi_wal_rec;

/* ---- codec and reader (wal_record.c) ------------------------------------ */

/* "upsert", "delete", ...; "unknown" for anything else.  Static. */
const char *qvi_wal_kind_name(uint32_t kind);

/* Encodes r (with r->lsn) as one framed record (header, body, zero
 * padding to 8 bytes) into *buf, growing it (*cap bytes) as needed; *len
 * gets the framed size.  Returns QV_OK, QV_EINVAL (unknown kind, a NULL
 * pointer where the kind needs data), QV_ERANGE (body over
 * QVI_WAL_MAX_RECORD, a string over 4 GiB) or QV_ENOMEM, with a message in
 * err. */
qv_status qvi_wal_encode(const qvi_wal_rec *r, uint8_t **buf, size_t *cap,
                         size_t *len, char *err, size_t errcap);

/* Decodes the body of a record of kind (len bytes at body, checksum
 * already verified) into *r.  Every count is checked against len before
 * anything is allocated, so memory stays within a small multiple of len.
 * Returns QV_OK, QV_ECORRUPT (malformed body), QV_EFORMAT (unknown kind)
 * or QV_ENOMEM, with a message; *r needs qvi_wal_rec_free either way. */
qv_status qvi_wal_decode(uint32_t kind, uint64_t lsn, const uint8_t *body,
                         size_t len, qvi_wal_rec *r, char *err, size_t errcap);

void qvi_wal_rec_free(qvi_wal_rec *r);

/* Writes the 32-byte header of segment number seq. */
void qvi_wal_segment_header(uint8_t out[QVI_WAL_SEG_HEADER], uint64_t seq);

/* Called for each good record, in file order, with its offset.  A status
 * other than QV_OK stops the scan and is returned by it. */
typedef qv_status (*qvi_wal_visit)(void *arg, const qvi_wal_rec *r,
                                   size_t offset);

typedef struct qvi_wal_scan {
    uint64_t seq;       /* from the segment header */
    size_t valid_end;   /* end of the last good record */
    bool torn;          /* bytes after valid_end are a torn tail: nothing
                           readable follows them */
    uint64_t n_records; /* good records visited */
    uint64_t last_lsn;  /* LSN of the last one (0: none) */
    size_t bad_offset;  /* the offset a failure refers to */
    char msg[200];      /* the failure, or "" */
} qvi_wal_scan;

/*
 * Reads one segment: the whole file is buf[0..len).  A pure function of
 * its input; it never reads outside the buffer, and allocates only while
 * decoding one record at a time (bounded by that record's length, itself
 * bounded by len and QVI_WAL_MAX_RECORD).
 *
 * A record that fails its checks (header, length, checksum) ends the
 * readable log.  If no plausible record header (magic, header checksum,
 * length within the buffer, LSN above the last good one) follows it at any
 * 8-byte boundary, the rest is a torn tail: out->torn, out->valid_end is
 * where to cut, QV_OK.  If one does follow, the damage is in the middle of
 * the log: QV_ECORRUPT, naming both offsets.
 *
 * Returns QV_OK, QV_EFORMAT (not a segment, or another version),
 * QV_ECORRUPT (segment header, mid-log damage, a checksummed record that
 * does not decode, LSNs not increasing), QV_ENOMEM, or what visit returned;
 * out->msg and out->bad_offset say where.  visit may be NULL.
 */
qv_status qvi_wal_scan_buffer(const uint8_t *buf, size_t len,
                              qvi_wal_visit visit, void *arg,
                              qvi_wal_scan *out);

/* ---- replay (wal_replay.c) ---------------------------------------------- */

/* Applies r to c (which has no journal) through the public function that
 * logged it.  Returns that function's status (c's errmsg says why), or
 * QV_EFORMAT for a kind this build cannot apply (payload indexes). */
qv_status qvi_wal_replay(qv_collection *c, const qvi_wal_rec *r);

/* ---- the journal of a collection (wal.c) -------------------------------- */

typedef struct qvi_journal qvi_journal;

/* Test hooks: replace the system calls of one journal (not global). */
typedef struct qvi_journal_hooks {
    /* Replaces pwrite() for appends: bytes written or -1 with errno. */
    ssize_t (*write)(void *arg, int fd, const void *buf, size_t len, off_t off);
    /* Replaces fdatasync(): 0 or -1 with errno. */
    int (*sync)(void *arg, int fd);
    void *arg;
} qvi_journal_hooks;

typedef struct qvi_journal_stats {
    uint64_t appends;      /* records appended */
    uint64_t syncs;        /* fdatasync calls by group-commit leaders */
    uint64_t durable_lsn;  /* every record up to it is on disk */
    uint64_t appended_lsn; /* last record written */
    uint64_t checkpoints;  /* successful checkpoints */
    uint64_t segments;     /* segment files of the log */
    uint64_t cut_bytes;    /* torn tail bytes cut at recovery */
    bool failed;           /* writes refused until a checkpoint */
    bool detached;
    char ckpt_error[QVI_ERRMSG_CAP]; /* last checkpoint failure, or "" */
} qvi_journal_stats;

/*
 * Recovers the log in directory dir for c, a collection just restored
 * from the snapshot in dir (c->lsn is the snapshot's LSN, c has no
 * journal): replays, in LSN order, every record with an LSN above c->lsn,
 * cuts a torn tail (truncate + fsync), and opens the last segment for
 * appending (creating segment 1 when there is none).  On success c->journal
 * is set.  checkpoint_bytes: automatic checkpoint threshold (0: never).
 * Returns QV_OK, QV_EIO, QV_ECORRUPT, QV_EFORMAT or QV_ENOMEM with a
 * message naming the file and offset.  Single-threaded: c is not shared
 * yet.
 */
qv_status qvi_journal_open(qv_collection *c, const char *dir,
                           uint64_t checkpoint_bytes, char *err, size_t errcap);

/* Frees the journal (from collection_free: no other user left). */
void qvi_journal_free(qvi_journal *j);

/* Appends r under c's write lock (the caller holds it): the record gets
 * the next LSN (*lsn) and c->lsn is set to it.  On failure nothing was
 * logged (a partial write is truncated away) and the caller must change
 * nothing.  Returns QV_OK, QV_EIO (write failed, or the journal is in its
 * failed state), QV_ENOTFOUND (collection dropped or store closed),
 * QV_ERANGE (record too large) or QV_ENOMEM; the message is on c. */
qv_status qvi_journal_append_locked(qv_collection *c, qvi_wal_rec *r,
                                    uint64_t *lsn);

/* Waits, without c's lock, until record lsn is durable (group commit),
 * then checkpoints if the log has grown past its threshold.  Returns QV_OK
 * or QV_EIO (an fsync failed: the write was applied in memory but is not
 * acknowledged). */
qv_status qvi_journal_commit(qv_collection *c, uint64_t lsn);

/* Makes everything c holds durable in a new snapshot and drops the log
 * records it covers: rotates to a new segment under the write lock, saves
 * the snapshot without it, deletes the old segments.  Clears the failed
 * state when it succeeds.  Does nothing when nothing was logged since the
 * last checkpoint (unless the journal failed).  Thread-safe; checkpoints
 * of one collection are serialised.  Returns QV_OK, QV_EIO or QV_ENOMEM,
 * message on c. */
qv_status qvi_journal_checkpoint(qv_collection *c);

/* Runs before() (may be NULL) with checkpoints held off, and if it
 * succeeds detaches the journal: later writes to c are refused with
 * QV_ENOTFOUND.  For drop and close. */
qv_status qvi_journal_detach(qv_collection *c, qv_status (*before)(void *),
                             void *arg);

/* Installs test hooks; only while no write is in flight. */
void qvi_journal_set_hooks(qv_collection *c, const qvi_journal_hooks *h);

/* A consistent copy of the journal's counters.  Returns QV_ENOTFOUND when
 * c has no journal. */
qv_status qvi_journal_get_stats(qv_collection *c, qvi_journal_stats *out);

/* ---- hooks for core/ ----------------------------------------------------- */

/* Logs r if c has a journal; *lsn gets its LSN, or 0 without a journal.
 * Write lock held.  See qvi_journal_append_locked. */
static inline qv_status qvi_wal_log_locked(qv_collection *c, qvi_wal_rec *r,
                                           uint64_t *lsn)
{
    *lsn = 0;
    if (!c->journal)
        return QV_OK;
    return qvi_journal_append_locked(c, r, lsn);
}

/* After the write lock is released: waits for lsn to be durable (nothing
 * to wait for when lsn is 0). */
static inline qv_status qvi_wal_commit(qv_collection *c, uint64_t lsn)
{
    if (lsn == 0)
        return QV_OK;
    return qvi_journal_commit(c, lsn);
}

/* ---- durable stores (store_dir.c), hooks for core/store.c --------------- */

typedef struct qvi_store_dir qvi_store_dir;

/* Creates collection name on disk for c (new, unshared, empty) and
 * attaches its journal.  Store mutex held.  Returns QV_OK, QV_EIO,
 * QV_EEXIST or QV_ENOMEM with a message on e. */
qv_status qvi_sdir_create(qvi_store_dir *d, const char *name, qv_collection *c,
                          qvi_errbuf *e);

/* Removes collection name from disk durably (renamed to a tombstone,
 * fsynced) and detaches c's journal.  Store mutex held.  The tombstone's
 * files are deleted by qvi_sdir_purge.  Returns QV_OK or QV_EIO. */
qv_status qvi_sdir_drop(qvi_store_dir *d, const char *name, qv_collection *c,
                        qvi_errbuf *e);

/* Deletes tombstones; without the store mutex.  Errors are ignored: a
 * tombstone left behind is deleted at the next open. */
void qvi_sdir_purge(qvi_store_dir *d);

/* Releases the directory lock and frees d. */
void qvi_sdir_free(qvi_store_dir *d);

/* Store internals for store_dir.c (core/store.c). */
qv_status qvi_store_new(qvi_store_dir *dir, qv_store **out);
/* Adds a recovered collection (taking the caller's reference); checks the
 * name.  Returns QV_OK, QV_EINVAL, QV_EEXIST or QV_ENOMEM. */
qv_status qvi_store_adopt(qv_store *s, const char *name, qv_collection *c);

#endif /* QUIVER_WAL_H */
