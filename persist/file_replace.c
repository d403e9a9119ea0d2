/*
 * file_replace.c -- the public face of crash-safe file replacement:
 * qv_file_replace_begin / _write / _commit / _abort and
 * qv_file_remove_durable (contracts in quiver.h).
 *
 * Why these are public.  The library already writes every one of its
 * files by the protocol in fileio.h (temporary name, fsync, rename,
 * directory fsync), and the server needs exactly that protocol for the
 * files it keeps beside the library's (catalog.json, snapshot archives).
 * A server-side copy would be a second implementation of the same
 * durability rules, free to drift from the first (the server's catalog
 * writer had already drifted to a fixed temporary name that two writers
 * would share).  So the server calls these thin wrappers over
 * qvi_atomic_open / _commit / _abort and qvi_fsync_parent_dir, and the
 * protocol lives in one place.
 *
 * A qv_file_writer is a qvi_atomic_file plus a sticky failure flag: the
 * caller may write several pieces and look at one status, the commit's.
 * No locks: a writer belongs to one thread at a time (quiver.h).
 */
#include "persist/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct qv_file_writer {
    qvi_atomic_file af;
    int write_errno; /* errno of the first failed write; 0 if none */
};

qv_status qv_file_replace_begin(const char *path, qv_file_writer **out,
                                char *err, size_t errcap)
{
    if (!out || !path) {
        if (out)
            *out = NULL;
        qvi_errf(err, errcap, "path and out are required");
        return QV_ENULL;
    }
    *out = NULL;
    qv_file_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        qvi_errf(err, errcap, "out of memory");
        return QV_ENOMEM;
    }
    qv_status st = qvi_atomic_open(&w->af, path, err, errcap);
    if (st != QV_OK) {
        free(w);
        return st;
    }
    *out = w;
    return QV_OK;
}

qv_status qv_file_replace_write(qv_file_writer *w, const void *data, size_t len)
{
    if (!w || (!data && len > 0))
        return QV_ENULL;
    if (w->write_errno)
        return QV_EIO;
    if (len > 0 && fwrite(data, 1, len, w->af.f) != len) {
        w->write_errno = errno ? errno : EIO;
        return QV_EIO;
    }
    return QV_OK;
}

qv_status qv_file_replace_commit(qv_file_writer *w, char *err, size_t errcap)
{
    if (!w) {
        qvi_errf(err, errcap, "writer is NULL");
        return QV_ENULL;
    }
    qv_status st;
    if (w->write_errno) {
        qvi_errf(err, errcap, "%s: write failed: %s", w->af.path,
                 strerror(w->write_errno));
        qvi_atomic_abort(&w->af);
        st = QV_EIO;
    } else {
        st = qvi_atomic_commit(&w->af, err, errcap);
    }
    free(w);
    return st;
}

void qv_file_replace_abort(qv_file_writer *w)
{
    if (!w)
        return;
    qvi_atomic_abort(&w->af);
    free(w);
}

qv_status qv_file_remove_durable(const char *path, char *err, size_t errcap)
{
    if (!path) {
        qvi_errf(err, errcap, "path is NULL");
        return QV_ENULL;
    }
    if (unlink(path) != 0) {
        int e = errno;
        qvi_errf(err, errcap, "%s: cannot remove: %s", path, strerror(e));
        return e == ENOENT ? QV_ENOTFOUND : QV_EIO;
    }
    if (qvi_fsync_parent_dir(path) != 0) {
        qvi_errf(err, errcap, "%s: fsync of the directory failed: %s", path,
                 strerror(errno));
        return QV_EIO;
    }
    return QV_OK;
}
