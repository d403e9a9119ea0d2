/*
 * maparena.c -- a growable array kept in a shared mapping of an unnamed
 * file, for the float vectors of an on_disk collection (Qdrant's
 * `on_disk: true` in dense vector params).
 *
 * What it is.  The arena is a file opened with O_TMPFILE in a directory
 * (the store's, or $TMPDIR): it has no name, so nothing is left behind
 * after a crash, and it is mapped MAP_SHARED, so its pages belong to the
 * page cache, not to the process's anonymous memory: the kernel writes
 * them back and drops them under memory pressure instead of keeping them
 * on the heap or in swap, and a query reads the rows it touches from the
 * file.  Growing extends the file and moves the mapping with mremap, the
 * way realloc moves a heap array; no copy is made.
 *
 * What it is not.  Not a durable format: the file's content is never read
 * back.  Durability stays with the write-ahead log and the snapshot files
 * (a store reopens from them and fills a new arena), so no byte layout is
 * defined here and FORMAT.md does not change.
 *
 * Contract.  Callers keep the arena under their own lock (a collection's
 * write lock); the functions keep no state beyond the struct.  A failed
 * call changes nothing.  Why here and not in persist/: the arena is
 * memory with a file behind it, not a file format, and the collection's
 * growth (collection.c) must place rows in it under its write lock.
 */
#include "core/base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t r;
    if (!qv_add_size(n ? n : 1, pg - 1, &r))
        return 0;
    return r / pg * pg;
}

qv_status qvi_maparena_open(qvi_maparena *a, const char *dir, size_t bytes)
{
    if (!a)
        return QV_ENULL;
    memset(a, 0, sizeof(*a));
    a->fd = -1;
    if (!dir || !*dir) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
    }
    size_t len = page_round(bytes);
    if (!len)
        return QV_ENOMEM;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return QV_EIO;
    if (ftruncate(fd, (off_t)len) != 0) {
        close(fd);
        return errno == ENOSPC ? QV_ENOMEM : QV_EIO;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return QV_ENOMEM;
    }
    /* No MADV_RANDOM: measured with bench/ondisk_cold.sh (50k x 768,
     * graph), it cut the pages a cold query brings in by two thirds but
     * made the first query 4x and the second 30x slower, one synchronous
     * read per row; the default readahead is kept. */
    a->base = p;
    a->len = len;
    a->fd = fd;
    return QV_OK;
}

qv_status qvi_maparena_grow(qvi_maparena *a, size_t bytes)
{
    if (!a || a->fd < 0)
        return QV_ENULL;
    size_t len = page_round(bytes);
    if (!len)
        return QV_ENOMEM;
    if (len <= a->len)
        return QV_OK;
    /* A longer file is harmless if the remap fails: the old mapping and
     * its rows stay as they were. */
    if (ftruncate(a->fd, (off_t)len) != 0)
        return errno == ENOSPC ? QV_ENOMEM : QV_EIO;
    void *p = mremap(a->base, a->len, len, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return QV_ENOMEM;
    a->base = p;
    a->len = len;
    return QV_OK;
}

bool qvi_maparena_contains(const qvi_maparena *a, const void *p)
{
    return a && a->base && (const char *)p >= (const char *)a->base &&
           (const char *)p < (const char *)a->base + a->len;
}

void qvi_maparena_close(qvi_maparena *a)
{
    if (!a)
        return;
    if (a->base)
        munmap(a->base, a->len);
    if (a->fd >= 0)
        close(a->fd);
    memset(a, 0, sizeof(*a));
    a->fd = -1;
}
