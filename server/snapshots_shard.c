/*
 * snapshots_shard.c -- Qdrant's shard snapshot endpoints on a standalone
 * node: /collections/{c}/shards/{shard_id}/snapshots (list, create),
 * .../snapshots/{name} (download, delete), .../snapshots/upload,
 * .../snapshots/recover and the streamed .../snapshot.
 *
 * What Qdrant 1.19 does (src/actix/api/snapshot_api.rs, src/common/
 * snapshots.rs, lib/collection/src/shards/shard_holder/mod.rs):
 *
 *   - a collection without custom sharding on a standalone node has one
 *     local shard, id 0.  The id is actix's Path<ShardId> (u32): text
 *     that is not one does not match the route (404 "can not parse ...
 *     to a u32", as cluster.c answers for a peer id); another number is
 *     CollectionError::NotFound {what: "shard N"}, 404 "Not found: shard
 *     N not found" (shard_not_found_error, "{what} not found" behind
 *     StorageError's "Not found: ").  The collection is looked up first
 *     (404 "Collection `c` doesn't exist!").
 *   - shard snapshots live in <snapshots>/<c>/shards/<id>/, named
 *     "<c>-shard-<id>-<YYYY-MM-DD-HH-MM-SS>.snapshot" (create_shard_
 *     snapshot); listing, download and delete look only there, so they
 *     never see the collection's snapshots, nor it theirs.
 *   - recover (PUT .../recover, ShardSnapshotRecover {location, priority,
 *     checksum, api_key}) and upload replace the data of the shard of an
 *     EXISTING collection (404 when it is missing; a collection recover
 *     would create it).  Upload checks ?checksum= first.
 *
 * A Qdrant shard snapshot holds the shard's segments and WAL, without
 * the collection config.  Here the one shard is the whole collection, so
 * a shard snapshot is the collection snapshot archive (docs/FORMAT.md,
 * snapshots.c) under the shard's name space: the same bytes, restored
 * the same verified way.  Consequently recover also applies the
 * archive's config (Qdrant's restore keeps the collection's config and
 * does not check compatibility yet -- "TODO: Check that shard snapshot is
 * compatible" in recover_local_shard_from), and a collection snapshot of
 * this server is accepted as a shard snapshot and vice versa.
 *
 * GET .../snapshot streams a fresh snapshot without keeping it (Qdrant's
 * stream_shard_snapshot): the archive is written to a private temporary
 * directory, which http.c removes once the file is open for sending
 * (qvs_resp.raw_file_tmp).  Files are written crash-safely by
 * qvs_snap_write; leftovers of a killed server are removed at start by
 * qvs_snapshots_cleanup, which also scans the shards/<id> directories.
 * Authorisation: the route flags, as the collection snapshot routes
 * (read-only keys may list and download; create, delete, recover and
 * upload need a read-write key).
 */
#include "snapshots.h"

#include "routes.h"
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OOM "Service internal error: out of memory"

/* The shard id of params[1] (Path<ShardId>, a u32) when it names the
 * collection's only shard; fails into r otherwise.  The collection is
 * checked first, as Qdrant looks it up before the shard. */
static bool shard_ok(const qvs_req *req, char *coll, size_t cap, qvs_resp *r)
{
    const char *name = req->n_params > 0 ? req->params[0] : "";
    const char *s = req->n_params > 1 ? req->params[1] : "";
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *s == '+' || *end || errno == ERANGE ||
        id > UINT32_MAX)
        return qvs_fail(r, 404, "can not parse \"%.100s\" to a u32", s);
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, name, &c))
        return qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                        name);
    snprintf(coll, cap, "%s", c->name);
    qvs_coll_release(req->catalog, c);
    if (id != 0)
        return qvs_fail(r, 404, "Not found: shard %llu not found", id);
    return true;
}

/* STORAGE/snapshots/<coll>/shards/0, made (with its parents) when make
 * is set. */
static bool shard_dir(const qvs_req *req, const char *coll, bool make,
                      char *buf, size_t cap)
{
    char top[PATH_MAX];
    if (!qvs_snap_dir(req, coll, make, top, sizeof(top)))
        return false;
    int n = snprintf(buf, cap, "%s/shards", top);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    if (make && mkdir(buf, 0755) != 0 && errno != EEXIST)
        return false;
    n = snprintf(buf, cap, "%s/shards/0", top);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    return !make || mkdir(buf, 0755) == 0 || errno == EEXIST;
}

static void list_shard_snapshots(const qvs_req *req, qvs_resp *r)
{
    char coll[1024], dir[PATH_MAX];
    if (!shard_ok(req, coll, sizeof(coll), r))
        return;
    if (!shard_dir(req, coll, false, dir, sizeof(dir)))
        dir[0] = '\0';
    qvs_snap_list_dir(dir, r);
}

/* <coll>-shard-0-<date>.snapshot, Qdrant's name; "-<k>" before the
 * suffix when a snapshot of the same second exists already (Qdrant would
 * overwrite it). */
static bool new_shard_name(const char *coll, const char *dir, char *name,
                           size_t cap)
{
    char when[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d-%H-%M-%S", &tm);
    for (int k = 0; k < 100; k++) {
        char extra[16] = "";
        if (k)
            snprintf(extra, sizeof(extra), "-%d", k);
        int n =
            snprintf(name, cap, "%s-shard-0-%s%s.snapshot", coll, when, extra);
        char path[PATH_MAX];
        /* room for qv_file_replace_begin's ".tmp-XXXXXX" */
        if (n <= 0 || (size_t)n >= cap || n > 255 - 11)
            return false;
        int m = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (m <= 0 || (size_t)m >= sizeof(path))
            return false;
        if (access(path, F_OK) != 0)
            return qvs_snap_name_ok(name);
    }
    return false;
}

static void create_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    char coll[1024], dir[PATH_MAX], name[300], path[PATH_MAX];
    if (!shard_ok(req, coll, sizeof(coll), r))
        return;
    if (!shard_dir(req, coll, false, dir, sizeof(dir)) ||
        !new_shard_name(coll, dir, name, sizeof(name))) {
        qvs_fail(r, 400,
                 "Bad request: no snapshot file name fits collection `%s`",
                 coll);
        return;
    }
    if (!shard_dir(req, coll, true, dir, sizeof(dir))) {
        qvs_fail(r, 500,
                 "Service internal error: cannot create the snapshot "
                 "directory");
        return;
    }
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll, &c)) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", coll);
        return;
    }
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    bool ok = (n > 0 && (size_t)n < sizeof(path)) ||
              qvs_fail(r, 400, "Bad request: snapshot path too long");
    ok = ok && qvs_snap_write(req, c, path, r);
    qvs_coll_release(req->catalog, c);
    if (!ok)
        return;
    if (qvs_snap_wait_false(req))
        r->accepted = true;
    else if (!(r->result = qvs_snap_describe(dir, name)))
        qvs_fail(r, 500, "Service internal error: cannot read %s", name);
}

/* The path of shard snapshot params[2], which must exist. */
static bool shard_snapshot_path(const qvs_req *req, char *path, size_t cap,
                                qvs_resp *r)
{
    char coll[1024], dir[PATH_MAX];
    const char *name = req->n_params > 2 ? req->params[2] : "";
    if (!shard_ok(req, coll, sizeof(coll), r))
        return false;
    if (!qvs_snap_name_ok(name))
        /* No snapshot can have such a name: Qdrant answers 404 (its
         * tests/openapi/test_snapshot.py, path traversal cases). */
        return qvs_fail(r, 404,
                        "Not found: Snapshot %s not found (a plain file "
                        "name ending in .snapshot is required)",
                        name);
    struct stat st;
    int n;
    if (!shard_dir(req, coll, false, dir, sizeof(dir)) ||
        (n = snprintf(path, cap, "%s/%s", dir, name)) <= 0 ||
        (size_t)n >= cap || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return qvs_fail(r, 404, "Not found: Snapshot %s not found", name);
    return true;
}

static void download_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (shard_snapshot_path(req, path, sizeof(path), r))
        qvs_snap_send_file(path, r);
}

static void delete_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (shard_snapshot_path(req, path, sizeof(path), r))
        qvs_snap_remove_file(req, path, r);
}

static void recover_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(req->body, "location");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(req->body, "checksum");
    const char *checksum = cJSON_IsString(sum) ? sum->valuestring : NULL;
    if (!cJSON_IsString(loc)) {
        qvs_fail(r, 400,
                 "Format error in JSON body: missing field `location` (a "
                 "string)");
        return;
    }
    char coll[1024], path[PATH_MAX], dir[PATH_MAX];
    if (!shard_ok(req, coll, sizeof(coll), r))
        return;
    /* Restored as the collection itself when the path names an alias. */
    qvs_req real = *req;
    real.params[0] = coll;
    req = &real;
    const char *l = loc->valuestring;
    if (strncmp(l, "http://", 7) == 0 || strncmp(l, "https://", 8) == 0) {
        qvs_snap_recover_url(req, l, checksum, r);
        return;
    }
    if (!strstr(l, "://")) {
        /* A plain name: one of this shard's snapshots. */
        int n;
        if (!qvs_snap_name_ok(l)) {
            qvs_fail(r, 400, "Bad request: invalid snapshot name `%.300s`", l);
            return;
        }
        if (!shard_dir(req, coll, false, dir, sizeof(dir)) ||
            (n = snprintf(path, sizeof(path), "%s/%s", dir, l)) <= 0 ||
            (size_t)n >= sizeof(path) || access(path, F_OK) != 0) {
            qvs_fail(r, 404, "Not found: Snapshot %s not found", l);
            return;
        }
    } else if (!qvs_snap_location_path(req, l, path, sizeof(path), r)) {
        return;
    }
    qvs_snap_restore_from(req, path, checksum, r);
}

static void upload_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    size_t len = 0;
    const void *body = qvs_req_raw_body(req, &len);
    char coll[1024], tmp[PATH_MAX] = "", path[PATH_MAX];
    if (!shard_ok(req, coll, sizeof(coll), r))
        return;
    qvs_req real = *req;
    real.params[0] = coll;
    req = &real;
    if (!body || !len) {
        qvs_fail(r, 400,
                 "Bad request: the snapshot file is missing (send it as the "
                 "request body)");
        return;
    }
    int n = 0;
    if (!qvs_snap_make_tmp(req, tmp, sizeof(tmp)) ||
        (n = snprintf(path, sizeof(path), "%s/upload.snapshot", tmp)) <= 0 ||
        (size_t)n >= sizeof(path)) {
        qvs_fail(r, 500, "Service internal error: no temporary dir");
    } else {
        FILE *f = fopen(path, "wb");
        bool ok = f && fwrite(body, 1, len, f) == len;
        ok = (f && fclose(f) == 0) && ok;
        if (!ok)
            qvs_fail(r, 500, "Service internal error: cannot store the upload");
        else
            qvs_snap_restore_from(req, path, req->query(req, "checksum"), r);
    }
    if (tmp[0])
        qvs_snap_rm_tree(tmp);
}

static void stream_shard_snapshot(const qvs_req *req, qvs_resp *r)
{
    char coll[1024], tmp[PATH_MAX] = "", path[PATH_MAX];
    if (!shard_ok(req, coll, sizeof(coll), r))
        return;
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll, &c)) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", coll);
        return;
    }
    int n = 0;
    bool ok =
        qvs_snap_make_tmp(req, tmp, sizeof(tmp)) &&
        (n = snprintf(path, sizeof(path), "%s/stream.snapshot", tmp)) > 0 &&
        (size_t)n < sizeof(path);
    if (!ok)
        qvs_fail(r, 500, "Service internal error: no temporary dir");
    ok = ok && qvs_snap_write(req, c, path, r);
    qvs_coll_release(req->catalog, c);
    if (ok && !(r->raw_file = strdup(path)))
        ok = qvs_fail(r, 500, OOM);
    if (!ok) {
        if (tmp[0])
            qvs_snap_rm_tree(tmp);
        return;
    }
    r->raw_file_tmp = true;
    r->raw_type = "application/octet-stream";
}

#define W QVS_ROUTE_WRITE
#define P "/collections/{name}/shards/{shard_id}"
const qvs_route qvs_shard_snapshot_routes[] = {
    {"GET", P "/snapshots", list_shard_snapshots, 0, "list_shard_snapshots"},
    {"POST", P "/snapshots", create_shard_snapshot, W, "create_shard_snapshot"},
    {"GET", P "/snapshots/{snapshot_name}", download_shard_snapshot, 0,
     "get_shard_snapshot"},
    {"DELETE", P "/snapshots/{snapshot_name}", delete_shard_snapshot, W,
     "delete_shard_snapshot"},
    {"PUT", P "/snapshots/recover", recover_shard_snapshot, W,
     "recover_shard_from_snapshot"},
    {"POST", P "/snapshots/upload", upload_shard_snapshot,
     W | QVS_ROUTE_RAW_BODY, "recover_shard_from_uploaded_snapshot"},
    {"GET", P "/snapshot", stream_shard_snapshot, 0, "stream_shard_snapshot"},
};
const size_t qvs_shard_snapshot_routes_n =
    sizeof(qvs_shard_snapshot_routes) / sizeof(qvs_shard_snapshot_routes[0]);
