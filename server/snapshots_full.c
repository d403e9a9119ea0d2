/*
 * snapshots_full.c -- Qdrant's whole-storage snapshots: POST /snapshots
 * (create), GET /snapshots (list), GET /snapshots/{name} (download) and
 * DELETE /snapshots/{name}.
 *
 * A full snapshot holds every collection the way a collection snapshot
 * does (snapshots.c: the library snapshots of its members behind a JSON
 * entry recording the collection as catalog.json does), plus the aliases,
 * in one file STORAGE/snapshots/full-snapshot-<date>.snapshot (Qdrant's
 * name); collection snapshots live one level down, in a folder per
 * collection, so the two never meet.  The layout (docs/FORMAT.md, "Full
 * snapshot archives"): a 32-byte preamble (magic "QVFSNAP\0", version,
 * header length, the header's XXH3-64), the header {"collections":
 * [entry, ...], "aliases": [...]}, then each collection's members in
 * order.  Each collection is saved under its own write lock, so each is
 * consistent; the snapshot as a whole is not one instant across
 * collections (nor is Qdrant's).
 *
 * Files are written crash-safely through qv_file_replace_* and removed
 * through qv_file_remove_durable; members are staged in a private
 * temporary directory removed when the request ends (or by
 * qvs_snapshots_cleanup at the next start, which also removes a
 * half-written archive).  Names given by clients must be plain
 * "*.snapshot" file names.
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
#include <dirent.h>
#include <xxhash.h>

#define FULL_MAGIC    "QVFSNAP\0"
#define FULL_VERSION  1u
#define FULL_PREAMBLE 32u
#define OOM           "Service internal error: out of memory"

static void create_full(const qvs_req *req, qvs_resp *r);
static void list_full(const qvs_req *req, qvs_resp *r);
static void download_full(const qvs_req *req, qvs_resp *r);
static void delete_full(const qvs_req *req, qvs_resp *r);

const qvs_route qvs_full_snapshot_routes[] = {
    {"POST", "/snapshots", create_full, QVS_ROUTE_WRITE,
     "create_full_snapshot"},
    {"GET", "/snapshots", list_full, 0, "list_full_snapshots"},
    {"GET", "/snapshots/{snapshot_name}", download_full, 0,
     "get_full_snapshot"},
    {"DELETE", "/snapshots/{snapshot_name}", delete_full, QVS_ROUTE_WRITE,
     "delete_full_snapshot"},
};
const size_t qvs_full_snapshot_routes_n =
    sizeof(qvs_full_snapshot_routes) / sizeof(qvs_full_snapshot_routes[0]);

/* STORAGE/snapshots, created when make is set. */
static bool top_dir(const qvs_req *req, bool make, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/snapshots", qvs_catalog_dir(req->catalog));
    if (n <= 0 || (size_t)n >= cap)
        return false;
    return !make || mkdir(buf, 0755) == 0 || errno == EEXIST;
}

/* ---- staging every collection ------------------------------------------ */

/* What qvs_catalog_each gathers: one staged folder and header entry per
 * collection, in the order visited. */
typedef struct staging {
    const qvs_req *req;
    qvs_resp *r;
    const char *tmp;
    cJSON *entries;
    size_t *counts; /* members of each collection */
    size_t n, cap;
    bool ok;
} staging;

static bool stage_dir(const staging *s, size_t k, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/c%zu", s->tmp, k);
    return n > 0 && (size_t)n < cap &&
           (mkdir(buf, 0700) == 0 || errno == EEXIST);
}

static void stage_one(void *arg, qvs_coll *c)
{
    staging *s = arg;
    if (!s->ok)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        size_t *counts = realloc(s->counts, cap * sizeof(*counts));
        if (!counts) {
            s->ok = qvs_fail(s->r, 500, OOM);
            return;
        }
        s->counts = counts;
        s->cap = cap;
    }
    char dir[PATH_MAX];
    size_t n = 0;
    cJSON *entry = NULL;
    s->ok = (stage_dir(s, s->n, dir, sizeof(dir)) ||
             qvs_fail(s->r, 500,
                      "Service internal error: cannot stage "
                      "collection `%s`",
                      c->name)) &&
            qvs_snap_save_members(c, dir, &n, s->r) &&
            ((entry = qvs_snap_archive_header(s->req->catalog, c, dir, n)) ||
             qvs_fail(s->r, 500, OOM));
    if (s->ok && !cJSON_AddItemToArray(s->entries, entry)) {
        cJSON_Delete(entry);
        s->ok = qvs_fail(s->r, 500, OOM);
    }
    if (s->ok)
        s->counts[s->n++] = n;
}

/* ---- writing the archive ------------------------------------------------ */

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static bool copy_file(qv_file_writer *w, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1u << 16);
    bool ok = f && buf;
    size_t got;
    while (ok && (got = fread(buf, 1, 1u << 16, f)) > 0)
        ok = qv_file_replace_write(w, buf, got) == QV_OK;
    ok = ok && !ferror(f);
    if (f)
        fclose(f);
    free(buf);
    return ok;
}

static bool write_full(const char *path, const staging *s, const char *header,
                       qvs_resp *r)
{
    char err[512];
    qv_file_writer *w;
    if (qv_file_replace_begin(path, &w, err, sizeof(err)) != QV_OK)
        return qvs_fail(r, 500, "Service internal error: %s", err);
    size_t hlen = strlen(header);
    unsigned char pre[FULL_PREAMBLE] = {0};
    memcpy(pre, FULL_MAGIC, 8);
    uint32_t ver = FULL_VERSION;
    memcpy(pre + 8, &ver, 4);
    put_u64(pre + 16, hlen);
    put_u64(pre + 24, XXH3_64bits(header, hlen));
    bool ok = qv_file_replace_write(w, pre, FULL_PREAMBLE) == QV_OK &&
              qv_file_replace_write(w, header, hlen) == QV_OK;
    for (size_t k = 0; ok && k < s->n; k++) {
        char dir[PATH_MAX];
        ok = stage_dir(s, k, dir, sizeof(dir));
        for (size_t i = 0; ok && i < s->counts[k]; i++) {
            char mp[PATH_MAX];
            qvs_snap_member_path(mp, sizeof(mp), dir, i);
            ok = mp[0] && copy_file(w, mp);
        }
    }
    if (!ok) {
        qv_file_replace_abort(w);
        return qvs_fail(r, 500,
                        "Service internal error: cannot write the "
                        "full snapshot");
    }
    if (qv_file_replace_commit(w, err, sizeof(err)) != QV_OK)
        return qvs_fail(r, 500, "Service internal error: %s", err);
    return true;
}

/* full-snapshot-<YYYY-MM-DD-HH-MM-SS>.snapshot, with -<n> added when a
 * snapshot of the same second exists. */
static bool new_name(const char *dir, char *name, size_t cap)
{
    char when[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d-%H-%M-%S", &tm);
    for (int k = 0; k < 1000; k++) {
        if (k == 0)
            snprintf(name, cap, "full-snapshot-%s.snapshot", when);
        else
            snprintf(name, cap, "full-snapshot-%s-%d.snapshot", when, k);
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) != 0)
            return true;
    }
    return false;
}

static char *full_header(const qvs_req *req, staging *s, qvs_resp *r)
{
    cJSON *h = cJSON_CreateObject();
    cJSON *aliases = qvs_catalog_aliases(req->catalog, NULL, r);
    char *text = NULL;
    if (h && aliases && cJSON_AddItemToObject(h, "collections", s->entries)) {
        s->entries = NULL; /* owned by h now */
        cJSON *list =
            cJSON_DetachItemFromObjectCaseSensitive(aliases, "aliases");
        if (list && cJSON_AddItemToObject(h, "aliases", list))
            text = cJSON_PrintUnformatted(h);
        else
            cJSON_Delete(list);
    }
    cJSON_Delete(aliases);
    cJSON_Delete(h);
    if (!text)
        qvs_fail(r, 500, OOM);
    return text;
}

static void create_full(const qvs_req *req, qvs_resp *r)
{
    char top[PATH_MAX], tmp[PATH_MAX] = "", name[128], path[PATH_MAX];
    staging s = {.req = req, .r = r, .tmp = tmp, .ok = true};
    char *header = NULL;
    bool ok = (top_dir(req, true, top, sizeof(top)) &&
               qvs_snap_make_tmp(req, tmp, sizeof(tmp)) &&
               new_name(top, name, sizeof(name))) ||
              qvs_fail(r, 500,
                       "Service internal error: cannot create the "
                       "snapshot directory");
    ok = ok && ((s.entries = cJSON_CreateArray()) || qvs_fail(r, 500, OOM));
    if (ok)
        qvs_catalog_each(req->catalog, stage_one, &s);
    ok = ok && s.ok && (header = full_header(req, &s, r)) != NULL;
    ok = ok && snprintf(path, sizeof(path), "%s/%s", top, name) > 0 &&
         write_full(path, &s, header, r);
    qvs_snap_rm_tree(tmp);
    cJSON_Delete(s.entries);
    free(s.counts);
    free(header);
    if (!ok)
        return;
    if (qvs_snap_wait_false(req))
        r->accepted = true;
    else if (!(r->result = qvs_snap_describe(top, name)))
        qvs_fail(r, 500, "Service internal error: cannot read %s", name);
}

/* ---- listing, download, delete ----------------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void list_full(const qvs_req *req, qvs_resp *r)
{
    char top[PATH_MAX];
    cJSON *arr = cJSON_CreateArray();
    struct dirent **ents = NULL;
    int n = top_dir(req, false, top, sizeof(top))
                ? scandir(top, &ents, NULL, by_name)
                : -1;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        if (arr && qvs_snap_name_ok(ents[i]->d_name) &&
            snprintf(path, sizeof(path), "%s/%s", top, ents[i]->d_name) > 0 &&
            lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            cJSON *d = qvs_snap_describe(top, ents[i]->d_name);
            if (d)
                cJSON_AddItemToArray(arr, d);
        }
        free(ents[i]);
    }
    free(ents);
    if (!arr)
        qvs_fail(r, 500, OOM);
    r->result = arr;
}

/* The path of snapshot params[0], which must be an existing full
 * snapshot. */
static bool full_path(const qvs_req *req, char *path, size_t cap, qvs_resp *r)
{
    const char *name = req->n_params > 0 ? req->params[0] : "";
    char top[PATH_MAX];
    struct stat st;
    if (!qvs_snap_name_ok(name))
        /* No snapshot can have such a name: Qdrant answers 404 (its
         * tests/openapi/test_snapshot.py, path traversal cases). */
        return qvs_fail(r, 404,
                        "Not found: Snapshot %s not found (a plain file "
                        "name ending in .snapshot is required)",
                        name);
    int n = top_dir(req, false, top, sizeof(top))
                ? snprintf(path, cap, "%s/%s", top, name)
                : -1;
    if (n <= 0 || (size_t)n >= cap || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return qvs_fail(r, 404, "Not found: Snapshot %s not found", name);
    return true;
}

static void download_full(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (full_path(req, path, sizeof(path), r))
        qvs_snap_send_file(path, r);
}

static void delete_full(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (full_path(req, path, sizeof(path), r))
        qvs_snap_remove_file(req, path, r);
}
