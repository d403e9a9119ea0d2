/*
 * migrate_archive.c -- reading and writing collection snapshot archives
 * for `quiver migrate` (see migrate_archive.h; layout in docs/FORMAT.md,
 * "Collection snapshot archives").
 *
 * The CLI may use only include/quiver.h, and the library opens snapshots
 * from paths, so members go through temporary files: writing saves each
 * member with qv_snapshot_save beside the destination, then streams them
 * into one file while hashing them (XXH3-64, as the server's archives);
 * reading first checks the whole archive with qv_snapshot_archive_verify
 * (magic, checksums, sizes, every member opening with QV_SNAPSHOT_VERIFY),
 * then copies each member to a temporary file, opens it and unlinks it
 * (the opened collection keeps what it mapped).  Memory stays one copy
 * buffer; disk needs room for the members once more.
 */
#include "migrate_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC     "QVCSNAP\0"
#define VERSION   1u
#define PREAMBLE  32u
#define MAX_HEAD  (16u << 20)
#define COPY_BUF  (1u << 20)
#define MAX_MEMBS 65536u

bool mga_is_archive(const char *path)
{
    char magic[8];
    FILE *f = fopen(path, "rb");
    bool yes = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, MAGIC, 8);
    if (f)
        fclose(f);
    return yes;
}

static qv_status fail(char *err, size_t cap, qv_status st, const char *what,
                      const char *path)
{
    snprintf(err, cap, "%s %s: %s", what, path, errno ? strerror(errno) : "");
    return st;
}

/* Appends file from to out, hashing it; *size gets its length. */
static bool append_file(FILE *out, const char *from, char *buf, uint64_t *size,
                        char hex[17])
{
    FILE *in = fopen(from, "rb");
    XXH3_state_t *h = XXH3_createState();
    bool ok = in && h && XXH3_64bits_reset(h) == XXH_OK;
    size_t got;
    *size = 0;
    while (ok && (got = fread(buf, 1, COPY_BUF, in)) > 0) {
        ok = fwrite(buf, 1, got, out) == got &&
             XXH3_64bits_update(h, buf, got) == XXH_OK;
        *size += got;
    }
    ok = ok && !ferror(in);
    if (ok)
        snprintf(hex, 17, "%016" PRIx64, (uint64_t)XXH3_64bits_digest(h));
    if (in)
        fclose(in);
    XXH3_freeState(h);
    return ok;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

qv_status mga_write(const char *path, qv_collection *const *colls, size_t n,
                    const cJSON *entry, char *err, size_t cap)
{
    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen), *member = malloc(plen), *buf = malloc(COPY_BUF);
    cJSON *head = cJSON_CreateObject(), *members = cJSON_CreateArray();
    char *text = NULL;
    FILE *out = NULL;
    qv_status st = QV_ENOMEM;
    errno = 0;
    if (!tmp || !member || !buf || !head || !members)
        goto done;
    snprintf(tmp, plen, "%s.tmp", path);
    /* A first pass saves every member, so a failed save leaves no
     * archive; the second joins them. */
    for (size_t i = 0; i < n; i++) {
        snprintf(member, plen, "%s.m%zu.tmp", path, i);
        st = qv_snapshot_save(colls[i], member);
        if (st != QV_OK) {
            snprintf(err, cap, "saving member %zu of %s: %s", i, path,
                     qv_strerror(st));
            goto done;
        }
    }
    if (!(out = fopen(tmp, "wb"))) {
        st = fail(err, cap, QV_EIO, "cannot create", tmp);
        goto done;
    }
    /* Room for the preamble and a header; the header is written once the
     * member sizes are known, so members go to a second file first. */
    char *body = malloc(plen);
    FILE *bf = NULL;
    if (!body) {
        st = QV_ENOMEM;
        goto done;
    }
    snprintf(body, plen, "%s.body.tmp", path);
    bf = fopen(body, "wb+");
    bool ok = bf != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t size;
        char hex[17];
        snprintf(member, plen, "%s.m%zu.tmp", path, i);
        ok = append_file(bf, member, buf, &size, hex);
        cJSON *m = cJSON_CreateObject();
        ok = ok && m && cJSON_AddNumberToObject(m, "size", (double)size) &&
             cJSON_AddStringToObject(m, "xxh3", hex);
        if (m)
            cJSON_AddItemToArray(members, m);
        unlink(member);
    }
    cJSON_AddItemToObject(head, "collection", cJSON_Duplicate(entry, true));
    cJSON_AddItemToObject(head, "members", members);
    members = NULL;
    text = ok ? cJSON_PrintUnformatted(head) : NULL;
    unsigned char pre[PREAMBLE] = {0};
    if (text) {
        size_t hl = strlen(text);
        uint32_t v = VERSION;
        memcpy(pre, MAGIC, 8);
        memcpy(pre + 8, &v, 4);
        put_u64(pre + 16, hl);
        put_u64(pre + 24, (uint64_t)XXH3_64bits(text, hl));
        ok = fwrite(pre, 1, PREAMBLE, out) == PREAMBLE &&
             fwrite(text, 1, hl, out) == hl && fflush(bf) == 0 &&
             fseek(bf, 0, SEEK_SET) == 0;
        size_t got;
        while (ok && (got = fread(buf, 1, COPY_BUF, bf)) > 0)
            ok = fwrite(buf, 1, got, out) == got;
        ok = ok && !ferror(bf);
    } else {
        ok = false;
    }
    if (bf)
        fclose(bf);
    unlink(body);
    free(body);
    ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
    if (fclose(out) != 0)
        ok = false;
    out = NULL;
    if (!ok || rename(tmp, path) != 0) {
        st = fail(err, cap, QV_EIO, "cannot write", path);
        unlink(tmp);
        goto done;
    }
    /* The rename is durable once the directory is. */
    char *dir = strdup(path);
    int dfd = dir ? open(dirname(dir), O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    st = QV_OK;
done:
    if (out) {
        fclose(out);
        unlink(tmp);
    }
    for (size_t i = 0; st != QV_OK && member && i < n; i++) {
        snprintf(member, plen, "%s.m%zu.tmp", path, i);
        unlink(member);
    }
    if (st == QV_ENOMEM)
        snprintf(err, cap, "out of memory");
    free(text);
    cJSON_Delete(head);
    cJSON_Delete(members);
    free(tmp);
    free(member);
    free(buf);
    return st;
}

/* Copies n bytes of in to a new temporary file and opens it. */
static qv_status open_member(FILE *in, uint64_t n, char *buf,
                             qv_collection **out, char *err, size_t cap)
{
    const char *tdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/quiver-migrate-XXXXXX",
             tdir && *tdir ? tdir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return fail(err, cap, QV_EIO, "cannot create", path);
    bool ok = true;
    while (ok && n > 0) {
        size_t want = n < COPY_BUF ? (size_t)n : COPY_BUF;
        ok = fread(buf, 1, want, in) == want &&
             write(fd, buf, want) == (ssize_t)want;
        n -= want;
    }
    close(fd);
    qv_status st = QV_EIO;
    if (ok)
        st = qv_snapshot_open(path, 0, out, err, cap);
    else
        snprintf(err, cap, "cannot copy a member to %s", path);
    unlink(path);
    return st;
}

qv_status mga_read(const char *path, qv_collection ***colls, size_t *n,
                   cJSON **entry, char *err, size_t cap)
{
    uint32_t count = 0;
    *colls = NULL;
    *n = 0;
    *entry = NULL;
    qv_status st = qv_snapshot_archive_verify(path, &count, err, cap);
    if (st != QV_OK)
        return st;
    FILE *in = fopen(path, "rb");
    unsigned char pre[PREAMBLE];
    char *head = NULL, *buf = malloc(COPY_BUF);
    cJSON *root = NULL;
    uint64_t hl = 0;
    errno = 0;
    st = QV_EIO;
    if (!in || !buf || fread(pre, 1, PREAMBLE, in) != PREAMBLE) {
        fail(err, cap, st, "cannot read", path);
        goto done;
    }
    memcpy(&hl, pre + 16, 8);
    /* qv_snapshot_archive_verify checked hl and the checksum. */
    if (hl > MAX_HEAD || count > MAX_MEMBS || !(head = malloc(hl)) ||
        fread(head, 1, hl, in) != hl ||
        !(root = cJSON_ParseWithLength(head, hl)) ||
        !(*colls = calloc(count ? count : 1, sizeof(**colls)))) {
        fail(err, cap, st, "cannot read the header of", path);
        goto done;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "members"))
    {
        uint64_t size =
            (uint64_t)cJSON_GetObjectItemCaseSensitive(m, "size")->valuedouble;
        st = open_member(in, size, buf, &(*colls)[*n], err, cap);
        if (st != QV_OK)
            goto done;
        (*n)++;
    }
    *entry = cJSON_DetachItemFromObjectCaseSensitive(root, "collection");
    st = QV_OK;
done:
    if (st != QV_OK && *colls) {
        for (size_t i = 0; i < *n; i++)
            qv_collection_release((*colls)[i]);
        free(*colls);
        *colls = NULL;
        *n = 0;
    }
    if (in)
        fclose(in);
    cJSON_Delete(root);
    free(head);
    free(buf);
    return st;
}
