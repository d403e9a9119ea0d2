/*
 * wal.c -- the write-ahead log (journal) of one collection.
 *
 * Files: a collection's directory holds its snapshot (snapshot.qvs) and
 * one or more log segments, wal-<16 hex digits>.log, numbered upwards.
 * Records are appended to the newest segment only; older ones wait for
 * the next checkpoint to delete them.  A segment is created under a
 * temporary name, its header fsynced, then renamed and the directory
 * fsynced, so a segment that exists always has a whole header.
 *
 * Writes (journal_append_locked, reached through qvi_journal_ops from
 * core's qvi_change_log_locked): under the collection's write lock,
 * so the log's order is the order in which changes are applied.  The
 * record is encoded into a reusable buffer and written with one pwrite()
 * at the segment's end; a failed or short write is truncated away and the
 * caller applies nothing.  LSNs are consecutive: a failed append does not
 * consume one, which lets recovery detect a missing record.
 *
 * Group commit (journal_commit, from core's qvi_change_commit), after the
 * write lock is released:
 * the first writer that finds no fsync running becomes the leader, notes
 * the last appended LSN, and calls fdatasync() outside every lock; the
 * others wait on the condition variable.  When the fsync returns, every
 * record up to the noted LSN is durable (durable_lsn), and all waiters up
 * to it return at once; a waiter beyond it becomes the next leader.  Many
 * concurrent writers therefore share few fsyncs.
 *
 * Failure (fsyncgate): when an fsync fails, the kernel may have dropped
 * the dirty pages, and a later fsync can succeed without writing them.  So
 * a failed fsync puts the journal in a failed state: the waiters get
 * QV_EIO (their changes are applied in memory but not acknowledged), and
 * new writes are refused with QV_EIO until a checkpoint writes a fresh
 * snapshot of everything and clears the state.  Reads keep working.
 *
 * Checkpoints (qvi_journal_checkpoint), serialised by ckpt_mu:
 *   1. create segment N+1 (no lock held);
 *   2. under the write lock (qvi_collection_run_exclusive): fdatasync
 *      segment N (so every record in it is
 *      durable and the leader never has to sync two files), switch appends
 *      to N+1; this is the only moment writers wait for, one fsync long;
 *   3. save the snapshot (the snapshot module reads the collection under
 *      its shared lock, qvi_collection_read_columns): it
 *      holds everything up to its LSN, which is at least the last LSN of
 *      segment N;
 *   4. delete segments <= N and fsync the directory.
 * A crash between any two steps recovers: the snapshot is replaced
 * atomically, and recovery skips records at or below its LSN.
 *
 * Recovery (qvi_journal_open): segments in order, each mapped read-only
 * and read by qvi_wal_scan_buffer.  Records at or below the snapshot's LSN
 * are skipped; the rest must continue the snapshot's LSN without a gap and
 * are replayed (wal_replay.c).  A torn tail is truncated and fsynced;
 * damage followed by more log stops recovery with QV_ECORRUPT naming the
 * file and offset.
 *
 * Atomic groups (qv_group_begin / qv_group_end, at the end of this file):
 * several changes, possibly in the logs of several collections, made one
 * unit across a crash by member framing, commit markers written only once
 * every member is durable, checkpoints held off meanwhile, and a
 * store-wide first pass at open that finds the committed groups.
 *
 * The journal never touches the collection's fields or lock: core sets
 * the collection's LSN from what an append returns and records the
 * messages; the steps that must exclude writers run as callbacks under the
 * collection's lock (qvi_collection_run_exclusive / _run_shared).
 *
 * Locks, and what they protect:
 *   the collection's write lock (held by an append's caller, or taken
 *   through qvi_collection_run_exclusive)
 *                    fd (also mu), seq, end, next_lsn, detached, buf.
 *   mu               appended_lsn, durable_lsn, syncing, leader_fd,
 *                    failed, fail_gen, sync_errno, syncs, fd (also
 *                    the collection's write lock).
 *   ckpt_mu          one checkpoint at a time; old[], ckpt_base,
 *                    ckpt_err.
 *   atomics          log_bytes, next_ckpt_at, appends, checkpoints.
 * Order: ckpt_mu, then the collection's lock, then mu.
 */
#include "persist/wal.h"
#include "persist/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends keep their encoding buffer up to this size between calls. */
#define KEEP_BUF (1u << 20)

/* The group ids of one store (wal.h): the next id under a leaf mutex. */
struct qvi_wal_ids {
    pthread_mutex_t mu;
    uint64_t next;
    atomic_size_t holders;
};

struct qvi_journal {
    /* The collection this journal is attached to: not a reference (the
     * collection owns the journal and releases it when it goes). */
    qv_collection *owner;
    char *dir;
    qvi_wal_ids *ids;    /* the store's group ids (a reference) */
    uint64_t ckpt_bytes; /* automatic checkpoint threshold; 0: none */
    qvi_journal_hooks hooks;

    /* the collection's write lock */
    int fd;       /* the active segment (changed under mu too) */
    uint64_t seq; /* its number (changed under ckpt_mu too) */
    uint64_t end; /* its size */
    uint64_t next_lsn;
    bool detached;
    uint8_t *buf;
    size_t buf_cap;

    /* ckpt_mu (old[] grows under the collection's write lock too) */
    uint64_t *old; /* numbers of the older segments, ascending */
    size_t n_old, old_cap;

    atomic_uint_least64_t log_bytes;    /* bytes appended since open */
    atomic_uint_least64_t next_ckpt_at; /* log_bytes that triggers one */
    atomic_uint_least64_t appends;
    atomic_uint_least64_t checkpoints;

    /* mu; also fd (see above) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t appended_lsn, durable_lsn;
    bool syncing;
    int leader_fd;
    bool failed;
    uint64_t fail_gen;
    int sync_errno;
    uint64_t syncs;
    uint64_t cut_bytes;

    pthread_mutex_t ckpt_mu;
    uint64_t ckpt_base; /* log_bytes at the last successful switch */

    /* The open atomic group (0: none): written under both ckpt_mu (held by
     * the group from begin to end) and the collection's write lock; read
     * by appends under the write lock and by commits (atomic). */
    atomic_uint_least64_t group;
    char ckpt_err[QVI_ERRMSG_CAP];
};

/* What core calls (core.h, qvi_journal_ops); defined at the end. */
static const qvi_journal_ops journal_ops;

/* ---- small file helpers -------------------------------------------------- */

static ssize_t sys_write(void *arg, int fd, const void *b, size_t n, off_t off)
{
    (void)arg;
    return pwrite(fd, b, n, off);
}

static int sys_sync(void *arg, int fd)
{
    (void)arg;
    return fdatasync(fd);
}

static bool seg_path(const char *dir, uint64_t seq, const char *suffix,
                     char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/wal-%016" PRIx64 ".log%s", dir, seq, suffix);
    return n > 0 && (size_t)n < cap;
}

/* Parses "wal-<16 lowercase hex>.log"; seq 0 is not a segment. */
static bool parse_seg_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != 24 || memcmp(name, "wal-", 4) != 0 ||
        strcmp(name + 20, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char ch = name[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return v != 0;
}

static int full_pwrite(int fd, const uint8_t *b, size_t n, off_t off)
{
    while (n) {
        ssize_t k = pwrite(fd, b, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/* Creates segment seq in dir durably and returns its descriptor. */
static qv_status create_segment(const char *dir, uint64_t seq, int *fd_out,
                                char *err, size_t errcap)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    if (!seg_path(dir, seq, ".tmp", tmp, sizeof(tmp)) ||
        !seg_path(dir, seq, "", path, sizeof(path))) {
        snprintf(err, errcap, "%s: path too long", dir);
        return QV_EIO;
    }
    uint8_t h[QVI_WAL_SEG_HEADER];
    qvi_wal_segment_header(h, seq);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || full_pwrite(fd, h, sizeof(h), 0) != 0 || fsync(fd) != 0 ||
        rename(tmp, path) != 0 || qvi_fsync_dir(dir) != 0) {
        snprintf(err, errcap, "cannot create log segment %s: %s", path,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return QV_EIO;
    }
    *fd_out = fd;
    return QV_OK;
}

/* ---- life cycle ------------------------------------------------------------
 */

static qvi_journal *journal_new(const char *dir, uint64_t ckpt_bytes)
{
    qvi_journal *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->dir = strdup(dir);
    if (!j->dir || pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j->dir);
        free(j);
        return NULL;
    }
    if (pthread_cond_init(&j->cv, NULL) != 0) {
        pthread_mutex_destroy(&j->mu);
        free(j->dir);
        free(j);
        return NULL;
    }
    if (pthread_mutex_init(&j->ckpt_mu, NULL) != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        free(j->dir);
        free(j);
        return NULL;
    }
    j->fd = -1;
    j->leader_fd = -1;
    j->ckpt_bytes = ckpt_bytes;
    j->hooks.write = sys_write;
    j->hooks.sync = sys_sync;
    atomic_init(&j->log_bytes, 0);
    atomic_init(&j->next_ckpt_at, ckpt_bytes);
    atomic_init(&j->appends, 0);
    atomic_init(&j->checkpoints, 0);
    atomic_init(&j->group, 0);
    return j;
}

static void journal_free(qvi_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->old);
    free(j->buf);
    free(j->dir);
    qvi_wal_ids_release(j->ids);
    pthread_mutex_destroy(&j->ckpt_mu);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static bool push_old(qvi_journal *j, uint64_t seq)
{
    if (j->n_old == j->old_cap) {
        size_t cap = j->old_cap ? j->old_cap * 2 : 4;
        uint64_t *o = realloc(j->old, cap * sizeof(*o));
        if (!o)
            return false;
        j->old = o;
        j->old_cap = cap;
    }
    j->old[j->n_old++] = seq;
    return true;
}

/* ---- recovery -------------------------------------------------------------
 */

typedef struct replay_ctx {
    qv_collection *c;
    const qvi_wal_groups *groups; /* committed groups; NULL: none */
    uint64_t snap_lsn; /* records at or below it are in the snapshot */
    uint64_t prev;     /* last LSN seen, in any segment */
    const char *file;
    char msg[2 * QVI_ERRMSG_CAP];
} replay_ctx;

static qv_status replay_visit(void *arg, const qvi_change *r, size_t off)
{
    replay_ctx *x = arg;
    if (r->lsn <= x->prev) {
        snprintf(x->msg, sizeof(x->msg),
                 "%s offset %zu: LSN %" PRIu64 " follows LSN %" PRIu64
                 " of an earlier segment",
                 x->file, off, r->lsn, x->prev);
        return QV_ECORRUPT;
    }
    uint64_t expect = (x->prev > x->snap_lsn ? x->prev : x->snap_lsn) + 1;
    x->prev = r->lsn;
    if (r->lsn <= x->snap_lsn)
        return QV_OK;
    if (r->lsn != expect) {
        snprintf(x->msg, sizeof(x->msg),
                 "%s offset %zu: LSN %" PRIu64 " where %" PRIu64
                 " was expected: log records are missing",
                 x->file, off, r->lsn, expect);
        return QV_ECORRUPT;
    }
    /* A member of a group that was not committed in any log of the store
     * is skipped: the group was cut short by a crash (wal_group below). */
    bool skip = r->group != 0 && r->kind != QVI_CHANGE_GROUP_COMMIT &&
                !qvi_wal_groups_committed(x->groups, r->group);
    qv_status st = skip ? QV_OK : qvi_wal_replay(x->c, r);
    if (st != QV_OK) {
        char why[QVI_ERRMSG_CAP];
        qv_collection_errmsg(x->c, why, sizeof(why));
        snprintf(x->msg, sizeof(x->msg),
                 "%s offset %zu: %s record LSN %" PRIu64
                 " cannot be replayed: %.120s",
                 x->file, off, qvi_wal_kind_name(r->kind), r->lsn, why);
        return st == QV_ENOMEM || st == QV_EFORMAT ? st : QV_ECORRUPT;
    }
    qvi_collection_set_lsn_nolock(x->c, r->lsn);
    return QV_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segment numbers in dir, ascending; removes leftover temporaries. */
static qv_status list_segments(const char *dir, uint64_t **out, size_t *n_out,
                               char *err, size_t errcap)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errcap, "cannot list %s: %s", dir, strerror(errno));
        return QV_EIO;
    }
    uint64_t *segs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    qv_status st = QV_OK;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        uint64_t seq;
        if (len == 28 && strcmp(e->d_name + 24, ".tmp") == 0 &&
            memcmp(e->d_name, "wal-", 4) == 0) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        if (!parse_seg_name(e->d_name, &seq))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            uint64_t *s = realloc(segs, cap * sizeof(*s));
            if (!s) {
                st = QV_ENOMEM;
                snprintf(err, errcap, "cannot list the log segments");
                break;
            }
            segs = s;
        }
        segs[n++] = seq;
    }
    closedir(d);
    if (st != QV_OK) {
        free(segs);
        return st;
    }
    if (n)
        qsort(segs, n, sizeof(*segs), cmp_u64);
    *out = segs;
    *n_out = n;
    return QV_OK;
}

/* Scans and replays one segment; cuts its torn tail.  *fd_out keeps the
 * descriptor open when keep is set. */
static qv_status recover_segment(qvi_journal *j, replay_ctx *x, uint64_t seq,
                                 bool keep, int *fd_out, uint64_t *end_out,
                                 char *err, size_t errcap)
{
    char path[PATH_MAX];
    if (!seg_path(j->dir, seq, "", path, sizeof(path))) {
        snprintf(err, errcap, "%s: path too long", j->dir);
        return QV_EIO;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return QV_EIO;
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errcap, "cannot map %s: %s", path, strerror(errno));
            close(fd);
            return QV_EIO;
        }
    }
    qvi_wal_scan scan;
    x->file = path;
    x->msg[0] = '\0';
    qv_status st = qvi_wal_scan_buffer(map, size, replay_visit, x, &scan);
    if (map)
        munmap(map, size);
    if (st != QV_OK) {
        if (x->msg[0])
            snprintf(err, errcap, "%s", x->msg);
        else
            snprintf(err, errcap, "%s: %s", path, scan.msg);
    } else if (scan.seq != seq) {
        snprintf(err, errcap, "%s: header says segment %" PRIu64, path,
                 scan.seq);
        st = QV_ECORRUPT;
    } else if (scan.torn) {
        /* Cut the torn tail so that new records follow good ones. */
        if (ftruncate(fd, (off_t)scan.valid_end) != 0 || fdatasync(fd) != 0) {
            snprintf(err, errcap, "cannot cut the torn tail of %s: %s", path,
                     strerror(errno));
            st = QV_EIO;
        }
        j->cut_bytes += size - scan.valid_end;
    }
    if (st == QV_OK) {
        atomic_fetch_add(&j->log_bytes, scan.valid_end - QVI_WAL_SEG_HEADER);
        *end_out = scan.valid_end;
    }
    if (st == QV_OK && keep)
        *fd_out = fd;
    else
        close(fd);
    return st;
}

qv_status qvi_journal_open(qv_collection *c, const char *dir,
                           uint64_t checkpoint_bytes,
                           const qvi_wal_groups *groups, qvi_wal_ids *ids,
                           char *err, size_t errcap)
{
    qvi_journal *j = journal_new(dir, checkpoint_bytes);
    if (!j) {
        snprintf(err, errcap, "cannot allocate a journal");
        return QV_ENOMEM;
    }
    j->ids = ids;
    atomic_fetch_add(&ids->holders, 1);
    uint64_t *segs = NULL;
    size_t n = 0;
    qv_status st = list_segments(dir, &segs, &n, err, errcap);
    uint64_t snap_lsn = qvi_collection_lsn(c);
    replay_ctx x = {.c = c, .snap_lsn = snap_lsn, .groups = groups};
    for (size_t i = 0; st == QV_OK && i < n; i++) {
        bool last = i + 1 == n;
        st =
            recover_segment(j, &x, segs[i], last, &j->fd, &j->end, err, errcap);
        if (st == QV_OK && !last && !push_old(j, segs[i])) {
            snprintf(err, errcap, "cannot allocate the segment list");
            st = QV_ENOMEM;
        }
        if (st == QV_OK && last)
            j->seq = segs[i];
    }
    free(segs);
    if (st == QV_OK && n == 0) {
        j->seq = 1;
        j->end = QVI_WAL_SEG_HEADER;
        st = create_segment(dir, 1, &j->fd, err, errcap);
    }
    if (st != QV_OK) {
        journal_free(j);
        return st;
    }
    uint64_t last = x.prev > snap_lsn ? x.prev : snap_lsn;
    j->next_lsn = last + 1;
    j->appended_lsn = j->durable_lsn = last;
    j->owner = c;
    qvi_collection_attach_journal(c, &journal_ops, j);
    return QV_OK;
}

/* ---- appends and group commit -------------------------------------------- */

static int write_all(qvi_journal *j, const uint8_t *b, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = j->hooks.write(j->hooks.arg, j->fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            errno = ENOSPC;
            return -1;
        }
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Marks the journal failed; mu held. */
static void set_failed_locked(qvi_journal *j, int e)
{
    j->failed = true;
    j->fail_gen++;
    j->sync_errno = e;
    pthread_cond_broadcast(&j->cv);
}

static void trim_buf(qvi_journal *j)
{
    if (j->buf_cap > KEEP_BUF) {
        free(j->buf);
        j->buf = NULL;
        j->buf_cap = 0;
    }
}

/* qvi_journal_ops.append_locked: the collection's write lock is held. */
static qv_status journal_append_locked(void *jv, qvi_change *r, uint64_t *lsn,
                                       char *err, size_t errcap)
{
    qvi_journal *j = jv;
    *lsn = 0;
    if (j->detached) {
        qvi_errf(err, errcap,
                 "the collection was dropped or its store closed: it "
                 "no longer accepts writes");
        return QV_ENOTFOUND;
    }
    pthread_mutex_lock(&j->mu);
    bool failed = j->failed;
    int e = j->sync_errno;
    pthread_mutex_unlock(&j->mu);
    if (failed) {
        qvi_errf(err, errcap,
                 "the log in %s failed to sync (%s): writes are "
                 "refused until a checkpoint succeeds",
                 j->dir, strerror(e));
        return QV_EIO;
    }
    r->lsn = j->next_lsn;
    if (r->kind != QVI_CHANGE_GROUP_COMMIT)
        r->group = atomic_load(&j->group);
    size_t len;
    qv_status st = qvi_wal_encode(r, &j->buf, &j->buf_cap, &len, err, errcap);
    if (st != QV_OK)
        return st;
    if (write_all(j, j->buf, len, j->end) != 0) {
        e = errno;
        trim_buf(j);
        /* A partial record must not stay in front of the next one. */
        if (ftruncate(j->fd, (off_t)j->end) != 0) {
            pthread_mutex_lock(&j->mu);
            set_failed_locked(j, errno);
            pthread_mutex_unlock(&j->mu);
        }
        qvi_errf(err, errcap,
                 "cannot append to the log segment %" PRIu64
                 " in %s: %s; nothing was changed",
                 j->seq, j->dir, strerror(e));
        return QV_EIO;
    }
    trim_buf(j);
    j->end += len;
    *lsn = j->next_lsn++; /* core makes it the collection's LSN */
    atomic_fetch_add_explicit(&j->log_bytes, len, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->appends, 1, memory_order_relaxed);
    pthread_mutex_lock(&j->mu);
    j->appended_lsn = *lsn;
    pthread_mutex_unlock(&j->mu);
    return QV_OK;
}

/* Group commit: returns 0 once lsn is durable, or an errno. */
static int wait_durable(qvi_journal *j, uint64_t lsn)
{
    int rc = 0;
    pthread_mutex_lock(&j->mu);
    while (j->durable_lsn < lsn) {
        if (j->failed) {
            rc = j->sync_errno ? j->sync_errno : EIO;
            break;
        }
        if (j->syncing) {
            pthread_cond_wait(&j->cv, &j->mu);
            continue;
        }
        /* Become the leader: sync everything appended so far. */
        uint64_t target = j->appended_lsn;
        int fd = j->fd;
        j->syncing = true;
        j->leader_fd = fd;
        pthread_mutex_unlock(&j->mu);
        int r = j->hooks.sync(j->hooks.arg, fd);
        int e = errno;
        pthread_mutex_lock(&j->mu);
        j->syncing = false;
        j->leader_fd = -1;
        j->syncs++;
        if (r == 0) {
            if (target > j->durable_lsn)
                j->durable_lsn = target;
        } else {
            set_failed_locked(j, e ? e : EIO);
        }
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static qv_status checkpoint_held(qvi_journal *j, char *err, size_t errcap);

/* qvi_journal_ops.commit: without the collection's lock. */
static qv_status journal_commit(void *jv, uint64_t lsn, char *err,
                                size_t errcap)
{
    qvi_journal *j = jv;
    /* Inside an atomic group the group's end waits, once for all. */
    if (atomic_load(&j->group) != 0)
        return QV_OK;
    int e = wait_durable(j, lsn);
    if (e) {
        qvi_errf(err, errcap,
                 "fsync of the log in %s failed (%s): the write is "
                 "applied in memory but may not survive a crash; "
                 "writes are refused until a checkpoint succeeds",
                 j->dir, strerror(e));
        return QV_EIO;
    }
    /* The writer that crossed the threshold checkpoints, unless another
     * checkpoint runs.  Its own write is durable already: a failed
     * checkpoint is kept for the stats, not returned. */
    if (j->ckpt_bytes &&
        atomic_load(&j->log_bytes) >= atomic_load(&j->next_ckpt_at) &&
        pthread_mutex_trylock(&j->ckpt_mu) == 0) {
        char why[sizeof(j->ckpt_err)];
        if (checkpoint_held(j, why, sizeof(why)) != QV_OK)
            memcpy(j->ckpt_err, why, sizeof(why));
        pthread_mutex_unlock(&j->ckpt_mu);
    }
    return QV_OK;
}

/* ---- checkpoints ------------------------------------------------------------
 */

/* Closes the segment that was active before a switch once no leader is
 * syncing it. */
static void close_old_fd(qvi_journal *j, int fd)
{
    pthread_mutex_lock(&j->mu);
    while (j->syncing && j->leader_fd == fd)
        pthread_cond_wait(&j->cv, &j->mu);
    close(fd);
    pthread_mutex_unlock(&j->mu);
}

/* Deletes the old segments (all covered by the snapshot just saved). */
static void delete_old_segments(qvi_journal *j)
{
    size_t kept = 0;
    for (size_t i = 0; i < j->n_old; i++) {
        char path[PATH_MAX];
        if (!seg_path(j->dir, j->old[i], "", path, sizeof(path)) ||
            (unlink(path) != 0 && errno != ENOENT))
            j->old[kept++] = j->old[i]; /* retried next time */
    }
    j->n_old = kept;
    qvi_fsync_dir(j->dir);
}

/* Step 2: the switch to segment nfd/new_seq, run under the collection's
 * write lock.  Sets old_fd to the previous descriptor, or -1 when the
 * switch did not happen: detached, or out of memory. */
typedef struct switch_ctx {
    qvi_journal *j;
    int nfd;
    uint64_t new_seq;
    uint64_t gen, base;
    bool detached;
    int old_fd;
} switch_ctx;

static qv_status switch_segment_locked(void *arg)
{
    switch_ctx *x = arg;
    qvi_journal *j = x->j;
    x->old_fd = -1;
    x->detached = j->detached;
    if (j->detached || !push_old(j, j->seq))
        return QV_OK;
    pthread_mutex_lock(&j->mu);
    bool was_failed = j->failed;
    pthread_mutex_unlock(&j->mu);
    /* No append can run: this sync makes all of segment seq durable. */
    int rc = was_failed ? 0 : j->hooks.sync(j->hooks.arg, j->fd);
    int e = errno;
    pthread_mutex_lock(&j->mu);
    if (rc != 0)
        set_failed_locked(j, e ? e : EIO);
    else if (!j->failed)
        j->durable_lsn = j->appended_lsn;
    x->gen = j->fail_gen;
    x->old_fd = j->fd;
    j->fd = x->nfd;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    j->seq = x->new_seq;
    j->end = QVI_WAL_SEG_HEADER;
    x->base = atomic_load(&j->log_bytes);
    return QV_OK;
}

/* Reads, under the collection's shared lock, whether anything was logged
 * since the last checkpoint and the number of the next segment. */
typedef struct idle_ctx {
    qvi_journal *j;
    bool idle;
    uint64_t new_seq;
} idle_ctx;

static qv_status read_idle_locked(void *arg)
{
    idle_ctx *x = arg;
    qvi_journal *j = x->j;
    x->idle = j->detached ||
              (j->n_old == 0 && atomic_load(&j->log_bytes) == j->ckpt_base);
    x->new_seq = j->seq + 1;
    return QV_OK;
}

/* A checkpoint; ckpt_mu held. */
static qv_status checkpoint_held(qvi_journal *j, char *err, size_t errcap)
{
    qv_collection *c = j->owner;
    idle_ctx ix = {.j = j};
    qvi_collection_run_shared(c, read_idle_locked, &ix);
    pthread_mutex_lock(&j->mu);
    bool idle = ix.idle && !j->failed;
    pthread_mutex_unlock(&j->mu);
    if (idle)
        return QV_OK;
    uint64_t new_seq = ix.new_seq;
    int nfd;
    qv_status st = create_segment(j->dir, new_seq, &nfd, err, errcap);
    if (st != QV_OK) {
        atomic_store(&j->next_ckpt_at,
                     atomic_load(&j->log_bytes) + j->ckpt_bytes);
        return st;
    }
    switch_ctx sw = {.j = j, .nfd = nfd, .new_seq = new_seq};
    qvi_collection_run_exclusive(c, switch_segment_locked, &sw);
    uint64_t gen = sw.gen, base = sw.base;
    int old_fd = sw.old_fd;
    if (old_fd < 0) {
        char path[PATH_MAX];
        close(nfd);
        if (seg_path(j->dir, new_seq, "", path, sizeof(path)))
            unlink(path);
        if (sw.detached)
            return QV_OK;
        snprintf(err, errcap, "cannot allocate the segment list");
        return QV_ENOMEM;
    }

    char snap[PATH_MAX];
    int n = snprintf(snap, sizeof(snap), "%s/%s", j->dir, QVI_SNAPSHOT_FILE);
    char why[QVI_ERRMSG_CAP] = "path too long";
    st = n > 0 && (size_t)n < sizeof(snap) ? qv_snapshot_save(c, snap) : QV_EIO;
    if (st == QV_OK) {
        delete_old_segments(j);
        pthread_mutex_lock(&j->mu);
        /* Clear a failure only if nothing failed after the switch: then
         * the snapshot holds every record ever appended. */
        if (j->failed && j->fail_gen == gen) {
            j->failed = false;
            j->durable_lsn = j->appended_lsn;
        }
        pthread_mutex_unlock(&j->mu);
        j->ckpt_base = base;
        atomic_store(&j->next_ckpt_at, base + j->ckpt_bytes);
        atomic_fetch_add(&j->checkpoints, 1);
        j->ckpt_err[0] = '\0';
    } else {
        if (n > 0 && (size_t)n < sizeof(snap))
            qv_collection_errmsg(c, why, sizeof(why));
        snprintf(err, errcap, "checkpoint of %s: cannot save the snapshot: %s",
                 j->dir, why);
        atomic_store(&j->next_ckpt_at,
                     atomic_load(&j->log_bytes) + j->ckpt_bytes);
        st = QV_EIO;
    }
    close_old_fd(j, old_fd);
    return st;
}

static void journal_release(void *j)
{
    journal_free(j);
}

static const qvi_journal_ops journal_ops = {
    .append_locked = journal_append_locked,
    .commit = journal_commit,
    .release = journal_release,
};

qv_status qvi_journal_checkpoint(qv_collection *c)
{
    qvi_journal *j = qvi_collection_journal(c, &journal_ops);
    if (!j)
        return QV_OK;
    char why[QVI_ERRMSG_CAP];
    pthread_mutex_lock(&j->ckpt_mu);
    qv_status st = checkpoint_held(j, why, sizeof(why));
    if (st != QV_OK)
        snprintf(j->ckpt_err, sizeof(j->ckpt_err), "%s", why);
    pthread_mutex_unlock(&j->ckpt_mu);
    if (st != QV_OK)
        return qvi_collection_fail(c, st, "%s", why);
    return QV_OK;
}

static qv_status set_detached_locked(void *arg)
{
    ((qvi_journal *)arg)->detached = true;
    return QV_OK;
}

qv_status qvi_journal_detach(qv_collection *c, qv_status (*before)(void *),
                             void *arg)
{
    qvi_journal *j = qvi_collection_journal(c, &journal_ops);
    if (!j)
        return before ? before(arg) : QV_OK;
    pthread_mutex_lock(&j->ckpt_mu);
    qv_status st = before ? before(arg) : QV_OK;
    if (st == QV_OK)
        qvi_collection_run_exclusive(c, set_detached_locked, j);
    pthread_mutex_unlock(&j->ckpt_mu);
    return st;
}

typedef struct hooks_ctx {
    qvi_journal *j;
    const qvi_journal_hooks *h;
} hooks_ctx;

static qv_status set_hooks_locked(void *arg)
{
    hooks_ctx *x = arg;
    qvi_journal *j = x->j;
    const qvi_journal_hooks *h = x->h;
    pthread_mutex_lock(&j->mu);
    j->hooks.write = h && h->write ? h->write : sys_write;
    j->hooks.sync = h && h->sync ? h->sync : sys_sync;
    j->hooks.arg = h ? h->arg : NULL;
    pthread_mutex_unlock(&j->mu);
    return QV_OK;
}

void qvi_journal_set_hooks(qv_collection *c, const qvi_journal_hooks *h)
{
    qvi_journal *j = qvi_collection_journal(c, &journal_ops);
    if (!j)
        return;
    hooks_ctx x = {.j = j, .h = h};
    qvi_collection_run_exclusive(c, set_hooks_locked, &x);
}

typedef struct stats_ctx {
    qvi_journal *j;
    qvi_journal_stats *out;
} stats_ctx;

static qv_status read_stats_locked(void *arg)
{
    stats_ctx *x = arg;
    x->out->segments = x->j->n_old + 1;
    x->out->detached = x->j->detached;
    return QV_OK;
}

qv_status qvi_journal_get_stats(qv_collection *c, qvi_journal_stats *out)
{
    qvi_journal *j = qvi_collection_journal(c, &journal_ops);
    memset(out, 0, sizeof(*out));
    if (!j)
        return QV_ENOTFOUND;
    pthread_mutex_lock(&j->ckpt_mu);
    stats_ctx x = {.j = j, .out = out};
    qvi_collection_run_shared(c, read_stats_locked, &x);
    memcpy(out->ckpt_error, j->ckpt_err, sizeof(out->ckpt_error));
    pthread_mutex_unlock(&j->ckpt_mu);
    pthread_mutex_lock(&j->mu);
    out->syncs = j->syncs;
    out->durable_lsn = j->durable_lsn;
    out->appended_lsn = j->appended_lsn;
    out->failed = j->failed;
    out->cut_bytes = j->cut_bytes;
    pthread_mutex_unlock(&j->mu);
    out->appends = atomic_load(&j->appends);
    out->checkpoints = atomic_load(&j->checkpoints);
    return QV_OK;
}

/* ---- atomic groups ----------------------------------------------------------
 *
 * A group makes several changes -- to one collection or to several
 * collections of a store, each with its own log -- one unit across a
 * crash: after recovery all of them are there or none.  The server wraps
 * every request that touches more than one library collection, or runs
 * more than one operation, in a group.
 *
 * Protocol (docs/WAL.md, "Atomic groups"):
 *   begin  takes every participant's ckpt_mu (in address order, so two
 *          groups never deadlock), which holds off checkpoints, and marks
 *          each journal with a new group id g;
 *   writes every change appended to a marked journal is framed as a
 *          member of g (kind 11); its writer does not wait for the fsync;
 *   end    (1) fsyncs every participant that got members; (2) only then
 *          appends a commit marker for g (kind 12) to each of them; (3)
 *          fsyncs them again; (4) unmarks the journals and releases
 *          ckpt_mu.
 * Recovery reads every log of the store first (qvi_wal_groups_scan_dir)
 * and collects the ids of the commit markers; it then replays each
 * collection, skipping the members of groups without a marker anywhere.
 *
 * Why this is correct at any crash point: a marker is written only after
 * every member of its group is durable in every log, so one marker in any
 * log proves that all members are there (1 before 2).  Without any marker
 * no member is applied.  Checkpoints are held off from begin to end, so no
 * snapshot can contain a member of a group that might still be rolled
 * back, and no marker can vanish into a snapshot while another log still
 * holds members that need it.  Group ids never repeat within a store: the
 * counter starts above the largest id seen in any of its logs
 * (qvi_wal_ids_seen), and a member that was skipped stays in its log
 * until a checkpoint drops it, so its id is always seen.
 *
 * The members are applied in memory as they are written, so a group
 * cannot be rolled back while the process lives: end commits whatever the
 * group did.  Limitation: if an fsync fails during end (the journal
 * enters its failed state), the markers are not written; a later
 * successful checkpoint of one participant then keeps its part while a
 * crash before the others checkpoint loses theirs.
 */

qv_status qvi_wal_ids_create(qvi_wal_ids **out)
{
    qvi_wal_ids *ids = calloc(1, sizeof(*ids));
    if (!ids)
        return QV_ENOMEM;
    if (pthread_mutex_init(&ids->mu, NULL) != 0) {
        free(ids);
        return QV_ENOMEM;
    }
    ids->next = 1;
    atomic_init(&ids->holders, 1);
    *out = ids;
    return QV_OK;
}

void qvi_wal_ids_release(qvi_wal_ids *ids)
{
    if (!ids || atomic_fetch_sub(&ids->holders, 1) != 1)
        return;
    pthread_mutex_destroy(&ids->mu);
    free(ids);
}

void qvi_wal_ids_seen(qvi_wal_ids *ids, uint64_t max_id)
{
    pthread_mutex_lock(&ids->mu);
    if (ids->next <= max_id)
        ids->next = max_id + 1;
    pthread_mutex_unlock(&ids->mu);
}

/* A new group id for journals js[0..n) (sorted by address): above the next
 * id of every distinct source among them, each source then raised past
 * it, all under their mutexes taken in address order -- so an id is never
 * handed out twice in any one store, also for a group whose collections
 * live in two stores.  0 when there is no journal (the group writes
 * nothing). */
static int cmp_ids(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (qvi_wal_ids *const *)a;
    uintptr_t y = (uintptr_t) * (qvi_wal_ids *const *)b;
    return (x > y) - (x < y);
}

static uint64_t next_group_id(qvi_journal *const *js, size_t n,
                              qvi_wal_ids **scratch)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        scratch[m++] = js[i]->ids;
    qsort(scratch, m, sizeof(*scratch), cmp_ids);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || scratch[u - 1] != scratch[i])
            scratch[u++] = scratch[i];
    uint64_t id = 0;
    for (size_t i = 0; i < u; i++) {
        pthread_mutex_lock(&scratch[i]->mu);
        if (scratch[i]->next > id)
            id = scratch[i]->next;
    }
    for (size_t i = u; i-- > 0;) {
        scratch[i]->next = id + 1;
        pthread_mutex_unlock(&scratch[i]->mu);
    }
    return id;
}

static qv_status groups_visit(void *arg, const qvi_change *r, size_t off)
{
    (void)off;
    qvi_wal_groups *g = arg;
    if (r->group > g->max_id)
        g->max_id = r->group;
    if (r->kind != QVI_CHANGE_GROUP_COMMIT)
        return QV_OK;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        uint64_t *ids = realloc(g->ids, cap * sizeof(*ids));
        if (!ids)
            return QV_ENOMEM;
        g->ids = ids;
        g->cap = cap;
    }
    g->ids[g->n++] = r->group;
    return QV_OK;
}

qv_status qvi_wal_groups_scan_dir(qvi_wal_groups *g, const char *dir, char *err,
                                  size_t errcap)
{
    uint64_t *segs = NULL;
    size_t n = 0;
    qv_status st = list_segments(dir, &segs, &n, err, errcap);
    for (size_t i = 0; st == QV_OK && i < n; i++) {
        char path[PATH_MAX];
        if (!seg_path(dir, segs[i], "", path, sizeof(path)))
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0)
            continue; /* recovery proper reports it */
        if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
            void *map =
                mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map != MAP_FAILED) {
                qvi_wal_scan scan;
                /* Damage is recovery's to report; only memory fails here.
                 * A marker in a torn tail was never durable: the scan
                 * stops before it, as recovery does. */
                if (qvi_wal_scan_buffer(map, (size_t)sb.st_size, groups_visit,
                                        g, &scan) == QV_ENOMEM) {
                    snprintf(err, errcap, "cannot list the groups of %s", path);
                    st = QV_ENOMEM;
                }
                munmap(map, (size_t)sb.st_size);
            }
        }
        close(fd);
    }
    free(segs);
    return st;
}

void qvi_wal_groups_sort(qvi_wal_groups *g)
{
    if (g->n)
        qsort(g->ids, g->n, sizeof(*g->ids), cmp_u64);
}

bool qvi_wal_groups_committed(const qvi_wal_groups *g, uint64_t id)
{
    return g && g->n &&
           bsearch(&id, g->ids, g->n, sizeof(*g->ids), cmp_u64) != NULL;
}

void qvi_wal_groups_free(qvi_wal_groups *g)
{
    free(g->ids);
    memset(g, 0, sizeof(*g));
}

struct qv_group {
    uint64_t id;
    size_t n;
    qv_collection **colls; /* retained until end */
    qvi_journal **js;
    uint64_t *first; /* next_lsn of each journal at begin */
};

typedef struct mark_ctx {
    qvi_journal *j;
    uint64_t id;
    uint64_t *first;
} mark_ctx;

/* Marks or unmarks j; the collection's write lock is held. */
static qv_status mark_locked(void *arg)
{
    mark_ctx *m = arg;
    atomic_store(&m->j->group, m->id);
    if (m->first)
        *m->first = m->j->next_lsn;
    return QV_OK;
}

typedef struct last_ctx {
    qvi_journal *j;
    uint64_t last;
} last_ctx;

static qv_status last_locked(void *arg)
{
    last_ctx *l = arg;
    l->last = l->j->next_lsn - 1;
    return QV_OK;
}

typedef struct marker_ctx {
    qv_collection *c;
    qvi_journal *j;
    uint64_t id;
    uint64_t lsn;
    char err[QVI_ERRMSG_CAP];
} marker_ctx;

/* Appends g's commit marker; the collection's write lock is held, so the
 * collection's LSN follows the log (a snapshot's LSN covers the marker). */
static qv_status marker_locked(void *arg)
{
    marker_ctx *m = arg;
    qvi_change rec = {.kind = QVI_CHANGE_GROUP_COMMIT, .group = m->id};
    qv_status st =
        journal_append_locked(m->j, &rec, &m->lsn, m->err, sizeof(m->err));
    if (st == QV_OK)
        qvi_collection_set_lsn_nolock(m->c, m->lsn);
    return st;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a;
    uintptr_t y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static void group_free(qv_group *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->colls && i < g->n; i++)
        qv_collection_release(g->colls[i]);
    free(g->colls);
    free(g->js);
    free(g->first);
    free(g);
}

qv_status qv_group_begin(qv_collection *const *colls, size_t n, qv_group **out)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!colls && n)
        return QV_ENULL;
    qv_group *g = calloc(1, sizeof(*g));
    qv_collection **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!g || !sorted || !(g->colls = calloc(n ? n : 1, sizeof(*g->colls))) ||
        !(g->js = calloc(n ? n : 1, sizeof(*g->js))) ||
        !(g->first = calloc(n ? n : 1, sizeof(*g->first)))) {
        free(sorted);
        group_free(g);
        return QV_ENOMEM;
    }
    /* Durable participants only, each once, in address order. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!colls[i]) {
            free(sorted);
            group_free(g);
            return QV_ENULL;
        }
        if (qvi_collection_journal(colls[i], &journal_ops))
            sorted[m++] = colls[i];
    }
    qsort(sorted, m, sizeof(*sorted), cmp_ptr);
    for (size_t i = 0; i < m; i++) {
        if (g->n && g->colls[g->n - 1] == sorted[i])
            continue;
        g->colls[g->n] = sorted[i];
        g->js[g->n++] = qvi_collection_journal(sorted[i], &journal_ops);
    }
    /* sorted has room for g->n pointers: the id sources' scratch */
    g->id = next_group_id(g->js, g->n, (qvi_wal_ids **)sorted);
    for (size_t i = 0; i < g->n; i++) {
        qvi_journal *j = g->js[i];
        qv_collection_retain(g->colls[i]);
        pthread_mutex_lock(&j->ckpt_mu);
        mark_ctx mc = {.j = j, .id = g->id, .first = &g->first[i]};
        qvi_collection_run_exclusive(g->colls[i], mark_locked, &mc);
    }
    free(sorted);
    *out = g;
    return QV_OK;
}

qv_status qv_group_end(qv_group *g)
{
    if (!g)
        return QV_OK;
    qv_status st = QV_OK;
    bool *has = calloc(g->n ? g->n : 1, sizeof(*has));
    uint64_t *upto = calloc(g->n ? g->n : 1, sizeof(*upto));
    if (!has || !upto)
        st = QV_ENOMEM;
    /* 1. every member durable, in every participant */
    for (size_t i = 0; st == QV_OK && i < g->n; i++) {
        last_ctx lc = {.j = g->js[i]};
        qvi_collection_run_exclusive(g->colls[i], last_locked, &lc);
        has[i] = lc.last >= g->first[i];
        if (has[i] && wait_durable(g->js[i], lc.last) != 0)
            st = qvi_collection_fail(g->colls[i], QV_EIO,
                                     "fsync of the log in %s failed: the "
                                     "group is applied in memory but may "
                                     "not survive a crash",
                                     g->js[i]->dir);
    }
    /* 2. the commit markers, 3. durable */
    for (size_t i = 0; st == QV_OK && i < g->n; i++) {
        if (!has[i])
            continue;
        marker_ctx mk = {.c = g->colls[i], .j = g->js[i], .id = g->id};
        st = qvi_collection_run_exclusive(g->colls[i], marker_locked, &mk);
        if (st != QV_OK)
            qvi_collection_fail(g->colls[i], st, "%s", mk.err);
        upto[i] = mk.lsn;
    }
    for (size_t i = 0; st == QV_OK && i < g->n; i++)
        if (has[i] && wait_durable(g->js[i], upto[i]) != 0)
            st = qvi_collection_fail(g->colls[i], QV_EIO,
                                     "fsync of the log in %s failed",
                                     g->js[i]->dir);
    /* 4. unmark, let checkpoints run again (reverse order) */
    for (size_t i = g->n; i-- > 0;) {
        mark_ctx mc = {.j = g->js[i], .id = 0};
        qvi_collection_run_exclusive(g->colls[i], mark_locked, &mc);
        pthread_mutex_unlock(&g->js[i]->ckpt_mu);
    }
    free(has);
    free(upto);
    group_free(g);
    return st;
}
