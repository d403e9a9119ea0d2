/*
 * snapshot_stub.c -- TEMPORARY stand-in for the snapshot module.
 *
 * TEMPORARY: the snapshot branch provides the real qv_snapshot_save /
 * qv_snapshot_open (mmap-able files, docs/FORMAT.md).  This file only lets
 * the write-ahead-log branch build and test until then; the lead deletes
 * it when merging the real one.  Do not build on its format.
 *
 * Format (little-endian, read whole into memory): "QVSTUB\0\1", the
 * collection config (dim, metric, hnsw_m, ef_construct, full scan
 * threshold, indexing threads as u32, seed as u64), lsn u64, count u64,
 * then per point its id (u32 kind, u32 0, 16 value bytes), its stored row
 * (dim f32, exactly as held) and its payload blob (u32 length, bytes; 0 for
 * {}), then an XXH3-64 of everything before.  Written to a temporary name,
 * fsynced, renamed, directory fsynced.
 */
#include "core/core.h"
#include "core/payload.h"
#include "simd/simd.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define STUB_MAGIC "QVSTUB\0\1"

static int fsync_parent(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

typedef struct out {
    FILE *f;
    XXH3_state_t *h;
    bool ok;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, o->f) != n)
        o->ok = false;
    XXH3_64bits_update(o->h, p, n);
}

static void put_u32(out *o, uint32_t v)
{
    put(o, &v, 4);
}

static void put_u64(out *o, uint64_t v)
{
    put(o, &v, 8);
}

static void write_body_locked(qv_collection *c, out *o)
{
    const qv_collection_config *g = &c->cfg;
    put(o, STUB_MAGIC, 8);
    put_u32(o, g->dim);
    put_u32(o, (uint32_t)g->metric);
    put_u32(o, g->hnsw_m);
    put_u32(o, g->hnsw_ef_construct);
    put_u32(o, g->full_scan_threshold_kb);
    put_u32(o, g->max_indexing_threads);
    put_u64(o, g->hnsw_seed);
    put_u64(o, c->lsn);
    put_u64(o, c->count);
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s])
            continue;
        uint8_t id[24] = {0};
        memcpy(id, &c->ids[s].kind, 4);
        if (c->ids[s].kind == QV_ID_NUM)
            memcpy(id + 8, &c->ids[s].u.num, 8);
        else
            memcpy(id + 8, c->ids[s].u.uuid, 16);
        put(o, id, sizeof(id));
        put(o, c->vecs + (size_t)s * c->stride, g->dim * sizeof(float));
        put_u32(o, c->payloads[s] ? c->payload_lens[s] : 0);
        if (c->payloads[s])
            put(o, c->payloads[s], c->payload_lens[s]);
    }
}

qv_status qv_snapshot_save(qv_collection *c, const char *path)
{
    if (!c)
        return QV_ENULL;
    if (!path)
        return qvi_fail(c->err, QV_ENULL, "path is NULL");
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return qvi_fail(c->err, QV_EIO, "path too long");
    out o = {.f = fopen(tmp, "wbe"), .h = XXH3_createState(), .ok = true};
    if (!o.f || !o.h) {
        int e = errno;
        if (o.f)
            fclose(o.f);
        XXH3_freeState(o.h);
        return qvi_fail(c->err, QV_EIO, "cannot create %s: %s", tmp,
                        strerror(e));
    }
    XXH3_64bits_reset(o.h);
    pthread_rwlock_rdlock(&c->lock);
    write_body_locked(c, &o);
    pthread_rwlock_unlock(&c->lock);
    uint64_t hash = XXH3_64bits_digest(o.h);
    XXH3_freeState(o.h);
    if (fwrite(&hash, 8, 1, o.f) != 1)
        o.ok = false;
    if (fflush(o.f) != 0 || fsync(fileno(o.f)) != 0)
        o.ok = false;
    int e = errno;
    if (fclose(o.f) != 0)
        o.ok = false;
    if (!o.ok || rename(tmp, path) != 0 || fsync_parent(path) != 0) {
        e = errno ? errno : e;
        unlink(tmp);
        return qvi_fail(c->err, QV_EIO, "cannot write snapshot %s: %s", path,
                        strerror(e));
    }
    return QV_OK;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct in {
    const uint8_t *p;
    size_t left;
} in;

static bool get(in *r, void *dst, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static qv_status fail(char *err, size_t errcap, qv_status st, const char *msg)
{
    if (err && errcap)
        snprintf(err, errcap, "%s", msg);
    return st;
}

static qv_status read_all(const char *path, uint8_t **buf, size_t *len,
                          char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return fail(err, errcap, QV_EIO, strerror(errno));
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *b = malloc(n ? n : 1);
    size_t got = 0;
    while (b && got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!b || got != n) {
        free(b);
        return fail(err, errcap, b ? QV_EIO : QV_ENOMEM, "cannot read");
    }
    *buf = b;
    *len = n;
    return QV_OK;
}

/* Puts the exact row and the payload back after the batch upsert. */
static qv_status restore_point(qv_collection *c, const qv_point_id *id,
                               const float *row, const uint8_t *blob,
                               uint32_t blen)
{
    uint32_t slot;
    if (!qvi_idmap_find(&c->map, c->ids, id, &slot))
        return QV_ECORRUPT;
    float *dst = c->vecs + (size_t)slot * c->stride;
    memcpy(dst, row, c->cfg.dim * sizeof(float));
    c->sqnorms[slot] = qvi_simd()->dot(dst, dst, c->cfg.dim);
    if (!blen)
        return QV_OK;
    if (qvi_payload_validate(blob, blen) != QV_OK)
        return QV_ECORRUPT;
    uint8_t *copy = malloc(blen);
    if (!copy)
        return QV_ENOMEM;
    memcpy(copy, blob, blen);
    free(c->payloads[slot]);
    c->payloads[slot] = copy;
    c->payload_lens[slot] = blen;
    return QV_OK;
}

static qv_status parse(const uint8_t *b, size_t n, qv_collection **out,
                       char *err, size_t errcap)
{
    if (n < 8 + 32 + 16 + 8 || memcmp(b, STUB_MAGIC, 8) != 0)
        return fail(err, errcap, QV_EFORMAT, "not a (temporary) snapshot");
    uint64_t hash;
    memcpy(&hash, b + n - 8, 8);
    if (XXH3_64bits(b, n - 8) != hash)
        return fail(err, errcap, QV_ECORRUPT, "snapshot checksum mismatch");
    in r = {.p = b + 8, .left = n - 16};
    qv_collection_config g;
    qv_collection_config_init(&g);
    uint32_t metric;
    uint64_t lsn, count;
    get(&r, &g.dim, 4);
    get(&r, &metric, 4);
    get(&r, &g.hnsw_m, 4);
    get(&r, &g.hnsw_ef_construct, 4);
    get(&r, &g.full_scan_threshold_kb, 4);
    get(&r, &g.max_indexing_threads, 4);
    get(&r, &g.hnsw_seed, 8);
    get(&r, &lsn, 8);
    get(&r, &count, 8);
    g.metric = (qv_metric)metric;
    qv_collection *c;
    if (qv_collection_create(&g, &c) != QV_OK)
        return fail(err, errcap, QV_ECORRUPT, "bad config");
    size_t per = 24 + (size_t)g.dim * 4 + 4;
    if (count > r.left / per) {
        qv_collection_release(c);
        return fail(err, errcap, QV_ECORRUPT, "bad point count");
    }
    qv_point_id *ids = calloc(count ? count : 1, sizeof(*ids));
    float *vecs = malloc((count ? count : 1) * g.dim * sizeof(float));
    const uint8_t **blobs = calloc(count ? count : 1, sizeof(*blobs));
    uint32_t *blens = calloc(count ? count : 1, sizeof(*blens));
    qv_status st = ids && vecs && blobs && blens ? QV_OK : QV_ENOMEM;
    for (size_t i = 0; st == QV_OK && i < count; i++) {
        uint8_t idb[24] = {0};
        get(&r, idb, 24);
        memcpy(&ids[i].kind, idb, 4);
        if (ids[i].kind == QV_ID_NUM)
            memcpy(&ids[i].u.num, idb + 8, 8);
        else
            memcpy(ids[i].u.uuid, idb + 8, 16);
        get(&r, vecs + i * g.dim, g.dim * sizeof(float));
        get(&r, &blens[i], 4);
        if (r.left < blens[i]) {
            st = QV_ECORRUPT;
            break;
        }
        blobs[i] = r.p;
        r.p += blens[i];
        r.left -= blens[i];
    }
    if (st == QV_OK && r.left != 0)
        st = QV_ECORRUPT;
    if (st == QV_OK && count)
        st = qv_upsert_batch(c, ids, vecs, count, g.dim) == QV_OK ? QV_OK
                                                                  : QV_ECORRUPT;
    for (size_t i = 0; st == QV_OK && i < count; i++)
        st = restore_point(c, &ids[i], vecs + i * g.dim, blobs[i], blens[i]);
    free(ids);
    free(vecs);
    free(blobs);
    free(blens);
    if (st != QV_OK) {
        qv_collection_release(c);
        return fail(err, errcap, st, "bad snapshot contents");
    }
    c->lsn = lsn;
    *out = c;
    return QV_OK;
}

qv_status qv_snapshot_open(const char *path, unsigned flags,
                           qv_collection **out, char *err, size_t errcap)
{
    (void)flags; /* the stub always verifies its checksum */
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!path)
        return QV_ENULL;
    uint8_t *buf;
    size_t len;
    qv_status st = read_all(path, &buf, &len, err, errcap);
    if (st != QV_OK)
        return st;
    st = parse(buf, len, out, err, errcap);
    free(buf);
    return st;
}
