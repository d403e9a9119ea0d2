/*
 * fileio.c -- whole-file reads and crash-safe whole-file writes (see
 * fileio.h for the protocol).
 *
 * The temporary name is the target's name plus ".tmp-" and a suffix
 * mkstemp chooses, in the target's directory: rename(2) is atomic only
 * within one file system, and a fixed name would let two writers of the
 * same target clobber each other's half-written file.
 */
#include "persist/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static qv_status io_fail(char *err, size_t cap, qv_status st, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static qv_status io_fail(char *err, size_t cap, qv_status st, const char *fmt,
                         ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

qv_status qvi_read_file(const char *path, char **out, size_t *len, char *err,
                        size_t errcap)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, errcap, QV_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return io_fail(err, errcap, QV_EIO, "%s: %s", path,
                       e ? strerror(e) : "not a regular file");
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return io_fail(err, errcap, QV_ENOMEM, "%s: %zu bytes: out of memory",
                       path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            free(buf);
            return io_fail(err, errcap, QV_EIO, "%s: read failed: %s", path,
                           r < 0 ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *out = buf;
    *len = size;
    return QV_OK;
}

int qvi_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int qvi_fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int rc = qvi_fsync_dir(dirname(copy));
    int e = errno;
    free(copy);
    errno = e;
    return rc;
}

void qvi_errf(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || !errcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

qv_status qvi_atomic_open(qvi_atomic_file *af, const char *path, char *err,
                          size_t errcap)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = strdup(path);
    af->tmp = malloc(n + sizeof ".tmp-XXXXXX");
    if (!af->path || !af->tmp) {
        qvi_atomic_abort(af);
        return io_fail(err, errcap, QV_ENOMEM, "out of memory");
    }
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    int fd = mkostemp(af->tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        qvi_atomic_abort(af);
        return io_fail(err, errcap, QV_EIO, "%s: cannot create a file: %s",
                       path, strerror(e));
    }
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        qvi_atomic_abort(af);
        return io_fail(err, errcap, QV_ENOMEM, "out of memory");
    }
    setvbuf(af->f, NULL, _IOFBF, 1 << 20);
    return QV_OK;
}

void qvi_atomic_abort(qvi_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

qv_status qvi_atomic_commit(qvi_atomic_file *af, char *err, size_t errcap)
{
    const char *step = "flush";
    int e = 0;
    if (fflush(af->f) != 0)
        goto fail;
    step = "fsync";
    if (fsync(fileno(af->f)) != 0)
        goto fail;
    step = "close";
    FILE *f = af->f;
    af->f = NULL;
    if (fclose(f) != 0)
        goto fail;
    step = "rename";
    if (rename(af->tmp, af->path) != 0)
        goto fail;
    free(af->tmp);
    af->tmp = NULL; /* renamed: nothing left to remove */
    step = "fsync of the directory";
    if (qvi_fsync_parent_dir(af->path) != 0)
        goto fail;
    qvi_atomic_abort(af);
    return QV_OK;
fail:
    e = errno;
    io_fail(err, errcap, QV_EIO, "%s: %s failed: %s", af->path, step,
            strerror(e));
    qvi_atomic_abort(af);
    return QV_EIO;
}
