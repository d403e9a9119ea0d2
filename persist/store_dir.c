/*
 * store_dir.c -- durable stores: the directory layout, create, drop, open
 * (recovery) and close.
 *
 * Layout of a store at `path`:
 *
 *   path/LOCK                    flock()ed while a handle has the store open
 *   path/collections/<name>/     one directory per collection:
 *       snapshot.qvs             the last checkpoint (carries the config)
 *       wal-<16 hex>.log         log segments (persist/wal.c)
 *   path/tmp/                    collections being created
 *   path/trash/                  collections being dropped
 *
 * Collection names are file-safe already (core/store.c refuses '/', '\\',
 * control characters, "." and "..", and bounds the length), so a name is
 * used as a directory name as it is.  tmp/ and trash/ are outside
 * collections/, so no collection name can collide with them.
 *
 * Create is atomic: the directory is prepared in tmp/ (initial snapshot,
 * fsynced), renamed into collections/, and collections/ is fsynced; a crash
 * leaves either no collection or a complete one.  Drop renames the
 * directory into trash/ and fsyncs both directories before anything is
 * deleted, so a crash never resurrects half a collection.  Open empties
 * tmp/ and trash/, then recovers every directory in collections/.
 *
 * core/store.c knows none of this: it calls create, drop, purge,
 * checkpoint, close and release through store_dir_ops (core.h,
 * qvi_store_backend_ops), which qv_store_open_dir gives to qvi_store_new.
 *
 * Locking: create and drop run under the store's mutex (catalog changes
 * are serialised; lookups of other collections wait for one snapshot of an
 * empty collection at most).  Recovery runs before the store is shared.
 */
#include "persist/wal.h"
#include "persist/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct qvi_store_dir qvi_store_dir;

struct qvi_store_dir {
    char *path;
    int lock_fd;
    qv_store_options opts;
    uint64_t seq;     /* names in tmp/ and trash/; store mutex */
    qvi_wal_ids *ids; /* atomic-group ids of this store's logs (wal.h) */
};

void qv_store_options_init(qv_store_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->checkpoint_wal_bytes = QV_DEFAULT_CHECKPOINT_WAL_BYTES;
    o->verify_on_open = true;
    o->version = QV_STORE_OPTIONS_VERSION;
}

/* path/a[/b]; false when it does not fit. */
static bool join(char *out, const char *base, const char *a, const char *b)
{
    int n = b ? snprintf(out, PATH_MAX, "%s/%s/%s", base, a, b)
              : snprintf(out, PATH_MAX, "%s/%s", base, a);
    return n > 0 && n < PATH_MAX;
}

static int fsync_path(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Removes name (a file, or a directory at most depth levels deep) below
 * the directory parent. */
static void remove_tree_at(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT || depth == 0)
        return;
    int fd =
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove_tree_at(dirfd(d), e->d_name, depth - 1);
    }
    closedir(d);
    unlinkat(parent, name, AT_REMOVEDIR);
}

/* Empties the directory path/sub. */
static void empty_dir(const char *path, const char *sub)
{
    char dir[PATH_MAX];
    if (!join(dir, path, sub, NULL))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    bool removed = false;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            remove_tree_at(dirfd(d), e->d_name, 3);
            removed = true;
        }
    }
    closedir(d);
    /* Nothing removed, nothing to make durable (an earlier removal that
     * a power loss undid is simply redone by the next open). */
    if (removed)
        fsync_path(dir);
}

static void store_dir_purge(qvi_store_dir *d)
{
    if (d)
        empty_dir(d->path, "trash");
}

static void store_dir_free(qvi_store_dir *d)
{
    if (!d)
        return;
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* releases the flock */
    qvi_wal_ids_release(d->ids);
    free(d->path);
    free(d);
}

/* ---- create and drop ----------------------------------------------------- */

/* Moves collections/<name> to trash/ durably. */
static qv_status move_to_trash(qvi_store_dir *d, const char *name, char *err,
                               size_t errcap)
{
    char from[PATH_MAX], to[PATH_MAX], tname[32], coll[PATH_MAX],
        trash[PATH_MAX];
    snprintf(tname, sizeof(tname), "t%" PRIu64, d->seq++);
    if (!join(from, d->path, "collections", name) ||
        !join(to, d->path, "trash", tname) ||
        !join(coll, d->path, "collections", NULL) ||
        !join(trash, d->path, "trash", NULL)) {
        qvi_errf(err, errcap, "path too long");
        return QV_EIO;
    }
    if (rename(from, to) != 0) {
        qvi_errf(err, errcap, "cannot move %s to %s: %s", from, to,
                 strerror(errno));
        return QV_EIO;
    }
    if (fsync_path(coll) != 0 || fsync_path(trash) != 0) {
        qvi_errf(err, errcap, "cannot fsync %s: %s", coll, strerror(errno));
        return QV_EIO;
    }
    return QV_OK;
}

static qv_status store_dir_create(qvi_store_dir *d, const char *name,
                                  qv_collection *c, qvi_errbuf *e)
{
    char stage[PATH_MAX], snap[PATH_MAX], final[PATH_MAX], coll[PATH_MAX],
        sname[32], why[QVI_ERRMSG_CAP];
    snprintf(sname, sizeof(sname), "c%" PRIu64, d->seq++);
    if (!join(stage, d->path, "tmp", sname) ||
        !join(snap, stage, QVI_SNAPSHOT_FILE, NULL) ||
        !join(final, d->path, "collections", name) ||
        !join(coll, d->path, "collections", NULL))
        return qvi_fail(e, QV_EIO, "collection `%s`: path too long", name);
    if (mkdir(stage, 0755) != 0)
        return qvi_fail(e, QV_EIO, "cannot create %s: %s", stage,
                        strerror(errno));
    qv_status st = qv_snapshot_save(c, snap);
    if (st != QV_OK) {
        qv_collection_errmsg(c, why, sizeof(why));
        empty_dir(d->path, "tmp");
        return qvi_fail(e, QV_EIO,
                        "collection `%s`: cannot save its first "
                        "snapshot: %s",
                        name, why);
    }
    if (rename(stage, final) != 0) {
        int err = errno;
        empty_dir(d->path, "tmp");
        if (err == EEXIST || err == ENOTEMPTY)
            return qvi_fail(e, QV_EEXIST,
                            "a directory for collection `%s` exists "
                            "already in %s",
                            name, coll);
        return qvi_fail(e, QV_EIO, "cannot create %s: %s", final,
                        strerror(err));
    }
    if (fsync_path(coll) != 0) {
        st = qvi_fail(e, QV_EIO, "cannot fsync %s: %s", coll, strerror(errno));
    } else {
        st = qvi_journal_open(c, final, d->opts.checkpoint_wal_bytes, NULL,
                              d->ids, why, sizeof(why));
        if (st != QV_OK)
            qvi_fail(e, st, "collection `%s`: %s", name, why);
    }
    if (st != QV_OK && move_to_trash(d, name, why, sizeof(why)) == QV_OK)
        store_dir_purge(d);
    return st;
}

typedef struct drop_ctx {
    qvi_store_dir *d;
    const char *name;
    char why[QVI_ERRMSG_CAP];
} drop_ctx;

static qv_status drop_before_detach(void *arg)
{
    drop_ctx *x = arg;
    return move_to_trash(x->d, x->name, x->why, sizeof(x->why));
}

static qv_status store_dir_drop(qvi_store_dir *d, const char *name,
                                qv_collection *c, qvi_errbuf *e)
{
    drop_ctx x = {.d = d, .name = name};
    qv_status st = qvi_journal_detach(c, drop_before_detach, &x);
    if (st != QV_OK)
        return qvi_fail(e, st, "cannot drop collection `%s`: %s", name, x.why);
    return QV_OK;
}

/* ---- the backend table (core.h, qvi_store_backend_ops) ------------------ */

static qv_status ops_create(void *d, const char *name, qv_collection *c,
                            qvi_errbuf *e)
{
    return store_dir_create(d, name, c, e);
}

static qv_status ops_drop(void *d, const char *name, qv_collection *c,
                          qvi_errbuf *e)
{
    return store_dir_drop(d, name, c, e);
}

static void ops_purge(void *d)
{
    store_dir_purge(d);
}

static qv_status ops_checkpoint(void *d, qv_collection *c)
{
    (void)d;
    return qvi_journal_checkpoint(c);
}

/* Clean shutdown: everything into the snapshot; a failure leaves the log,
 * which the next open replays. */
static void ops_close(void *d, qv_collection *c)
{
    (void)d;
    qvi_journal_checkpoint(c);
    qvi_journal_detach(c, NULL, NULL);
}

static void ops_release(void *d)
{
    store_dir_free(d);
}

static const qvi_store_backend_ops store_dir_ops = {
    .create = ops_create,
    .drop = ops_drop,
    .purge = ops_purge,
    .checkpoint = ops_checkpoint,
    .close = ops_close,
    .release = ops_release,
};

/* ---- open and recovery ----------------------------------------------------
 */

static qv_status check_options(const qv_store_options *o, char *err,
                               size_t errcap)
{
    if (o->version > QV_STORE_OPTIONS_VERSION) {
        qvi_errf(err, errcap,
                 "qv_store_options version %u is newer than this library's %u",
                 o->version, QV_STORE_OPTIONS_VERSION);
        return QV_EINVAL;
    }
    uint64_t b = o->checkpoint_wal_bytes;
    if (b != 0 &&
        (b < QV_MIN_CHECKPOINT_WAL_BYTES || b > QV_MAX_CHECKPOINT_WAL_BYTES)) {
        qvi_errf(err, errcap,
                 "checkpoint_wal_bytes %" PRIu64 " is outside %u..%llu (or 0)",
                 b, QV_MIN_CHECKPOINT_WAL_BYTES, QV_MAX_CHECKPOINT_WAL_BYTES);
        return QV_ERANGE;
    }
    return QV_OK;
}

static bool make_dir(const char *base, const char *sub, char *err,
                     size_t errcap)
{
    char p[PATH_MAX];
    if (sub ? !join(p, base, sub, NULL)
            : snprintf(p, sizeof(p), "%s", base) >= PATH_MAX) {
        qvi_errf(err, errcap, "%s: path too long", base);
        return false;
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        qvi_errf(err, errcap, "cannot create %s: %s", p, strerror(errno));
        return false;
    }
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        qvi_errf(err, errcap, "%s is not a directory", p);
        return false;
    }
    return true;
}

/* Creates the layout and takes the lock. */
static qv_status prepare(qvi_store_dir *d, char *err, size_t errcap)
{
    char lock[PATH_MAX];
    if (!make_dir(d->path, NULL, err, errcap))
        return QV_EIO;
    if (!join(lock, d->path, "LOCK", NULL)) {
        qvi_errf(err, errcap, "%s: path too long", d->path);
        return QV_EIO;
    }
    d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0) {
        qvi_errf(err, errcap, "cannot open %s: %s", lock, strerror(errno));
        return QV_EIO;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        qvi_errf(err, errcap,
                 errno == EWOULDBLOCK
                     ? "store %s is open already (in this or another process)"
                     : "cannot lock store %s",
                 d->path);
        return QV_EIO;
    }
    if (!make_dir(d->path, "collections", err, errcap) ||
        !make_dir(d->path, "tmp", err, errcap) ||
        !make_dir(d->path, "trash", err, errcap))
        return QV_EIO;
    if (fsync_path(d->path) != 0) {
        qvi_errf(err, errcap, "cannot fsync %s: %s", d->path, strerror(errno));
        return QV_EIO;
    }
    empty_dir(d->path, "tmp");
    empty_dir(d->path, "trash");
    return QV_OK;
}

/* Snapshot, then log: one collection back as it was. */
static qv_status recover_collection(qvi_store_dir *d, qv_store *s,
                                    const char *name,
                                    const qvi_wal_groups *groups,
                                    qv_collection **out, char *err,
                                    size_t errcap)
{
    char dir[PATH_MAX], snap[PATH_MAX], why[QVI_ERRMSG_CAP] = "";
    *out = NULL;
    if (!join(dir, d->path, "collections", name) ||
        !join(snap, dir, QVI_SNAPSHOT_FILE, NULL)) {
        qvi_errf(err, errcap, "collection `%s`: path too long", name);
        return QV_EIO;
    }
    qv_collection *c = NULL;
    qv_status st =
        qv_snapshot_open(snap, d->opts.verify_on_open ? QV_SNAPSHOT_VERIFY : 0,
                         &c, why, sizeof(why));
    if (st != QV_OK) {
        qvi_errf(err, errcap, "collection `%s`: %s: %s", name, snap, why);
        return st;
    }
    /* The store's pool before the replay, so replayed payloads are shared
     * (a fresh collection has none: this cannot be refused). */
    qvi_collection_set_blob_pool(c, qvi_store_blob_pool(s));
    st = qvi_journal_open(c, dir, d->opts.checkpoint_wal_bytes, groups, d->ids,
                          why, sizeof(why));
    if (st != QV_OK) {
        qvi_errf(err, errcap, "collection `%s`: %s", name, why);
        qv_collection_release(c);
        return st;
    }
    *out = c;
    return QV_OK;
}

static qv_status recover_all(qvi_store_dir *d, qv_store *s, char *err,
                             size_t errcap)
{
    char coll[PATH_MAX];
    if (!join(coll, d->path, "collections", NULL)) {
        qvi_errf(err, errcap, "%s: path too long", d->path);
        return QV_EIO;
    }
    DIR *dir = opendir(coll);
    if (!dir) {
        qvi_errf(err, errcap, "cannot list %s: %s", coll, strerror(errno));
        return QV_EIO;
    }
    qv_status st = QV_OK;
    struct dirent *e;
    /* Pass 1: the atomic groups committed in any log of the store (a
     * group may span collections; wal.c, "atomic groups"). */
    qvi_wal_groups groups = {0};
    while (st == QV_OK && (e = readdir(dir)) != NULL) {
        struct stat sb;
        char sub[PATH_MAX];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(sb.st_mode) || !join(sub, coll, e->d_name, NULL))
            continue;
        st = qvi_wal_groups_scan_dir(&groups, sub, err, errcap);
    }
    qvi_wal_groups_sort(&groups);
    qvi_wal_ids_seen(d->ids, groups.max_id);
    rewinddir(dir);
    /* Pass 2: each collection, its snapshot then its log. */
    while (st == QV_OK && (e = readdir(dir)) != NULL) {
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(sb.st_mode))
            continue; /* stray files are not collections */
        qv_collection *c;
        st = recover_collection(d, s, e->d_name, &groups, &c, err, errcap);
        if (st == QV_OK) {
            st = qvi_store_adopt(s, e->d_name, c);
            if (st != QV_OK) {
                qvi_errf(err, errcap, "%s/%s: cannot add this collection (%s)",
                         coll, e->d_name, qv_strerror(st));
                if (st == QV_EINVAL)
                    st = QV_ECORRUPT;
                qv_collection_release(c);
            }
        }
    }
    closedir(dir);
    qvi_wal_groups_free(&groups);
    return st;
}

/* Closes a store whose recovery failed without checkpointing the
 * collections already recovered: a failed open writes no snapshot. */
static void abandon(qv_store *s)
{
    char **names;
    size_t n;
    if (qv_store_list(s, &names, &n) == QV_OK) {
        for (size_t i = 0; i < n; i++) {
            qv_collection *c;
            if (qv_store_get(s, names[i], &c) == QV_OK) {
                qvi_journal_detach(c, NULL, NULL);
                qv_collection_release(c);
            }
        }
        qv_free(names);
    }
    qv_store_close(s);
}

qv_status qv_store_open_dir(const char *path, const qv_store_options *opts,
                            qv_store **out, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
    if (!out) {
        qvi_errf(err, errcap, "out is NULL");
        return QV_ENULL;
    }
    *out = NULL;
    if (!path) {
        qvi_errf(err, errcap, "path is NULL");
        return QV_ENULL;
    }
    qv_store_options o;
    qv_store_options_init(&o);
    if (opts)
        o = *opts;
    qv_status st = check_options(&o, err, errcap);
    if (st != QV_OK)
        return st;
    if (!*path) {
        qvi_errf(err, errcap, "path is empty");
        return QV_EINVAL;
    }
    qvi_store_dir *d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(path)) ||
        qvi_wal_ids_create(&d->ids) != QV_OK) {
        if (d)
            free(d->path);
        free(d);
        qvi_errf(err, errcap, "cannot allocate a store");
        return QV_ENOMEM;
    }
    d->lock_fd = -1;
    d->opts = o;
    st = prepare(d, err, errcap);
    if (st != QV_OK) {
        store_dir_free(d);
        return st;
    }
    qv_store *s;
    st = qvi_store_new(&store_dir_ops, d, &s); /* s owns d from here */
    if (st != QV_OK) {
        store_dir_free(d);
        qvi_errf(err, errcap, "cannot allocate a store");
        return st;
    }
    st = recover_all(d, s, err, errcap);
    if (st != QV_OK) {
        abandon(s);
        return st;
    }
    *out = s;
    return QV_OK;
}
