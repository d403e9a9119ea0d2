/*
 * wal.h -- internal interface of the write-ahead log and of durable stores.
 *
 * Four files:
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
 * How core/ uses this: it does not include this header.  A record is a
 * qvi_change (core/core.h), and core reaches the journal through the
 * qvi_journal_ops table that wal.c attaches to the collection
 * (qvi_collection_attach_journal), and the store directory through the
 * qvi_store_backend_ops table that store_dir.c gives qvi_store_new
 * (qv_store_open_dir).
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

/* Records are qvi_change values (core/core.h), whose kind numbers
 * (QVI_CHANGE_*) are part of the file format. */

/* ---- codec and reader (wal_record.c) ------------------------------------ */

/* "upsert", "delete", ...; "unknown" for anything else.  Static. */
const char *qvi_wal_kind_name(uint32_t kind);

/* Encodes r (with r->lsn) as one framed record (header, body, zero
 * padding to 8 bytes) into *buf, growing it (*cap bytes) as needed; *len
 * gets the framed size.  Returns QV_OK, QV_EINVAL (unknown kind, a NULL
 * pointer where the kind needs data), QV_ERANGE (body over
 * QVI_WAL_MAX_RECORD, a string over 4 GiB) or QV_ENOMEM, with a message in
 * err. */
qv_status qvi_wal_encode(const qvi_change *r, uint8_t **buf, size_t *cap,
                         size_t *len, char *err, size_t errcap);

/* Decodes the body of a record of kind (len bytes at body, checksum
 * already verified) into *r.  Every count is checked against len before
 * anything is allocated, so memory stays within a small multiple of len.
 * Returns QV_OK, QV_ECORRUPT (malformed body), QV_EFORMAT (unknown kind)
 * or QV_ENOMEM, with a message; *r needs qvi_wal_change_free either way. */
qv_status qvi_wal_decode(uint32_t kind, uint64_t lsn, const uint8_t *body,
                         size_t len, qvi_change *r, char *err, size_t errcap);

void qvi_wal_change_free(qvi_change *r);

/* Writes the 32-byte header of segment number seq. */
void qvi_wal_segment_header(uint8_t out[QVI_WAL_SEG_HEADER], uint64_t seq);

/* Called for each good record, in file order, with its offset.  A status
 * other than QV_OK stops the scan and is returned by it. */
typedef qv_status (*qvi_wal_visit)(void *arg, const qvi_change *r,
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
 * logged it, payload index records included.  Returns that function's
 * status (c's errmsg says why), QV_ECORRUPT for an index record naming an
 * unknown index kind, or QV_EFORMAT for a record kind this build does not
 * know. */
qv_status qvi_wal_replay(qv_collection *c, const qvi_change *r);

/* ---- the journal of a collection (wal.c) -------------------------------- */

/* The atomic groups of a store's logs (wal.c, "atomic groups"): the ids of
 * the commit markers found in any log, and the largest group id seen. */
typedef struct qvi_wal_groups {
    uint64_t *ids; /* sorted by qvi_wal_groups_sort */
    size_t n, cap;
    uint64_t max_id;
} qvi_wal_groups;

/* Adds the markers in the log segments of dir (a collection directory) to
 * g.  Damage is left for recovery to report.  QV_OK, QV_EIO (cannot list
 * dir) or QV_ENOMEM. */
qv_status qvi_wal_groups_scan_dir(qvi_wal_groups *g, const char *dir, char *err,
                                  size_t errcap);
void qvi_wal_groups_sort(qvi_wal_groups *g);
/* Whether group id has a commit marker; g may be NULL (none has). */
bool qvi_wal_groups_committed(const qvi_wal_groups *g, uint64_t id);
void qvi_wal_groups_free(qvi_wal_groups *g);
/* Where the atomic-group ids of one store directory come from: ids must
 * differ among the groups any log of the store holds, so the store's
 * journals share one source (each holds a reference), raised at open
 * above every id its logs hold.  Not process-wide: two stores never
 * share one.  Thread-safe (a leaf mutex). */
typedef struct qvi_wal_ids qvi_wal_ids;
/* A source whose next id is 1.  QV_OK or QV_ENOMEM. */
qv_status qvi_wal_ids_create(qvi_wal_ids **out);
/* One holder less; the last one frees it.  NULL is a no-op. */
void qvi_wal_ids_release(qvi_wal_ids *ids);
/* New ids from ids will be above max_id. */
void qvi_wal_ids_seen(qvi_wal_ids *ids, uint64_t max_id);

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
 * from the snapshot in dir (its LSN is the snapshot's, c has no journal):
 * replays, in LSN order, every record with an LSN above it (except the
 * members of groups that groups does not list as committed), cuts a torn
 * tail (truncate + fsync), and opens the last segment for appending
 * (creating segment 1 when there is none).  On success the journal is
 * attached to c (qvi_collection_attach_journal), which then appends
 * through it (core's qvi_change_log_locked and qvi_change_commit) and
 * releases it when it goes.  checkpoint_bytes: automatic checkpoint
 * threshold (0: never).  ids: the store's group-id source, which the
 * journal keeps a reference to.  Returns QV_OK, QV_EIO, QV_ECORRUPT, QV_EFORMAT
 * or QV_ENOMEM with a message naming the file and offset.  Single-threaded: c
 * is not shared yet.
 */
qv_status qvi_journal_open(qv_collection *c, const char *dir,
                           uint64_t checkpoint_bytes,
                           const qvi_wal_groups *groups, qvi_wal_ids *ids,
                           char *err, size_t errcap);

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

#endif /* QUIVER_WAL_H */
