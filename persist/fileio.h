/*
 * fileio.h -- whole-file reads and crash-safe whole-file writes.
 *
 * A file that replaces another is written to a temporary name in the same
 * directory, flushed and fsynced, renamed over the target, and then the
 * directory is fsynced so that the rename itself survives a crash: a crash
 * at any moment leaves either the old file or the new one, never a mix.
 */
#ifndef QUIVER_PERSIST_FILEIO_H
#define QUIVER_PERSIST_FILEIO_H

#include "quiver.h"

#include <stdio.h>

/* Reads the whole of path into a new NUL-terminated buffer (*len bytes
 * without the NUL) freed with free().  Returns QV_EIO with a message. */
qv_status qvi_read_file(const char *path, char **out, size_t *len, char *err,
                        size_t errcap);

typedef struct qvi_atomic_file {
    FILE *f;    /* write here */
    char *path; /* the target */
    char *tmp;  /* the temporary name */
} qvi_atomic_file;

/* Creates the temporary file next to path.  QV_EIO or QV_ENOMEM. */
qv_status qvi_atomic_open(qvi_atomic_file *af, const char *path, char *err,
                          size_t errcap);

/* Flushes, fsyncs, renames over the target and fsyncs the directory; on
 * any failure removes the temporary file and returns QV_EIO.  af is spent
 * either way. */
qv_status qvi_atomic_commit(qvi_atomic_file *af, char *err, size_t errcap);

/* Abandons the write: closes and removes the temporary file. */
void qvi_atomic_abort(qvi_atomic_file *af);

/* fsyncs the directory that holds path (for renames and unlinks).  Returns
 * 0 or -1 with errno set. */
int qvi_fsync_parent_dir(const char *path);

/* fsyncs the directory dir itself.  Returns 0 or -1 with errno set. */
int qvi_fsync_dir(const char *dir);

/* Formats a message into err (errcap bytes); nothing when err is NULL or
 * errcap 0.  The persistence code's one way of filling caller buffers. */
void qvi_errf(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* QUIVER_PERSIST_FILEIO_H */
