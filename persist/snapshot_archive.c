/*
 * snapshot_archive.c -- checking a collection snapshot archive, the file a
 * Qdrant-compatible server writes for POST /collections/{c}/snapshots
 * (layout in docs/FORMAT.md, "Collection snapshot archives"): a 32-byte
 * preamble, a JSON header listing the members, then the members, each an
 * ordinary library snapshot file.
 *
 * The server writes and restores these archives, but `quiver snapshot
 * verify` must check them too, and the CLI may use only include/quiver.h;
 * so the reading lives here, behind qv_snapshot_archive_verify.  The
 * checks are the ones the server makes before it restores anything
 * (server/snapshots.c): magic and version, the header's XXH3-64, a header
 * that parses with a "members" list of {size, xxh3}, member sizes adding
 * up to the file's length exactly, each member's XXH3-64, and each member
 * opening with QV_SNAPSHOT_VERIFY.  The catalog entry in the header is the
 * server's business and is only required to be an object here.
 *
 * The file is mapped read-only.  A member starts wherever the previous one
 * ended, not on the 64-byte boundary a snapshot buffer needs, so each is
 * copied into an aligned buffer (one member at a time: the memory needed
 * is the largest member, not the archive) and verified there with
 * qvi_snapshot_load_buffer.  Every number read from the file is checked
 * before it is used as a size or an offset.
 */
#include "persist/fileio.h"
#include "persist/snapshot.h"
#include "quiver.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define ARCHIVE_MAGIC    "QVCSNAP\0"
#define ARCHIVE_VERSION  1u
#define ARCHIVE_PREAMBLE 32u
#define ARCHIVE_MAX_HEAD (16u << 20)

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Checks member i (bytes p, n) against its header entry m. */
static qv_status check_member(const uint8_t *p, uint64_t n, const cJSON *m,
                              size_t i, char *err, size_t errcap)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, (uint64_t)XXH3_64bits(p, n));
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, "xxh3");
    if (strcmp(hex, x->valuestring) != 0) {
        qvi_errf(err, errcap, "member %zu: checksum mismatch", i);
        return QV_ECORRUPT;
    }
    uint8_t *buf = qvi_alloc_aligned(n ? (size_t)n : 1);
    if (!buf) {
        qvi_errf(err, errcap, "member %zu: out of memory", i);
        return QV_ENOMEM;
    }
    memcpy(buf, p, (size_t)n);
    qv_collection *c = NULL;
    char why[400] = "";
    qv_status st = qvi_snapshot_load_buffer(buf, (size_t)n, QV_SNAPSHOT_VERIFY,
                                            &c, why, sizeof(why));
    qv_collection_release(c); /* before the buffer it borrows */
    free(buf);
    if (st != QV_OK)
        qvi_errf(err, errcap, "member %zu: %s", i, why);
    return st;
}

/* Checks the archive mapped at base (len bytes). */
static qv_status check_archive(const uint8_t *base, size_t len,
                               uint32_t *n_members, char *err, size_t errcap)
{
    if (len < ARCHIVE_PREAMBLE || memcmp(base, ARCHIVE_MAGIC, 8) != 0) {
        qvi_errf(err, errcap, "not a collection snapshot archive");
        return QV_ECORRUPT;
    }
    uint32_t version;
    memcpy(&version, base + 8, 4);
    if (version != ARCHIVE_VERSION) {
        qvi_errf(err, errcap, "archive version %u is not supported", version);
        return QV_ECORRUPT;
    }
    uint64_t hlen = get_u64(base + 16);
    if (hlen < 1 || hlen > ARCHIVE_MAX_HEAD || hlen > len - ARCHIVE_PREAMBLE ||
        XXH3_64bits(base + ARCHIVE_PREAMBLE, (size_t)hlen) !=
            get_u64(base + 24)) {
        qvi_errf(err, errcap, "header checksum mismatch or bad header");
        return QV_ECORRUPT;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)base + ARCHIVE_PREAMBLE,
                                        (size_t)hlen);
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(root, "members");
    qv_status st = QV_OK;
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "collection")) ||
        !cJSON_IsArray(members) || cJSON_GetArraySize(members) < 1) {
        qvi_errf(err, errcap, "header: no collection or no members");
        st = QV_ECORRUPT;
    }
    /* The sizes must add up to the file exactly (no overflow: each is at
     * most the bytes left). */
    uint64_t left = len - ARCHIVE_PREAMBLE - hlen;
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, members)
    {
        if (st != QV_OK)
            break;
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(m, "size");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, "xxh3");
        if (!cJSON_IsNumber(sz) || sz->valuedouble < 0 ||
            sz->valuedouble != (double)(uint64_t)sz->valuedouble ||
            (uint64_t)sz->valuedouble > left || !cJSON_IsString(x) ||
            strlen(x->valuestring) != 16) {
            qvi_errf(err, errcap, "header: member %zu: bad size or checksum",
                     i);
            st = QV_ECORRUPT;
            break;
        }
        left -= (uint64_t)sz->valuedouble;
        i++;
    }
    if (st == QV_OK && left != 0) {
        qvi_errf(err, errcap, "member sizes do not add up to the file");
        st = QV_ECORRUPT;
    }
    const uint8_t *p = base + ARCHIVE_PREAMBLE + hlen;
    i = 0;
    cJSON_ArrayForEach(m, members)
    {
        if (st != QV_OK)
            break;
        uint64_t n =
            (uint64_t)cJSON_GetObjectItemCaseSensitive(m, "size")->valuedouble;
        st = check_member(p, n, m, i, err, errcap);
        p += n;
        i++;
    }
    if (st == QV_OK && n_members)
        *n_members = (uint32_t)i;
    cJSON_Delete(root);
    return st;
}

qv_status qv_snapshot_archive_verify(const char *path, uint32_t *n_members,
                                     char *err, size_t errcap)
{
    if (n_members)
        *n_members = 0;
    if (!path)
        return QV_ENULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        qvi_errf(err, errcap, "%s: %s", path,
                 e ? strerror(e) : "not a regular file");
        return QV_EIO;
    }
    size_t len = (size_t)sb.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    int e = errno;
    close(fd);
    if (len && map == MAP_FAILED) {
        qvi_errf(err, errcap, "%s: mmap: %s", path, strerror(e));
        return QV_EIO;
    }
    qv_status st = check_archive(map, len, n_members, err, errcap);
    if (len)
        munmap(map, len);
    return st;
}
