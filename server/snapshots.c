/*
 * snapshots.c -- Qdrant's collection snapshot endpoints: create, list,
 * download, delete, recover (from a file:// location, a snapshot name or
 * an http(s):// URL on the allowed hosts) and upload.
 *
 * A Qdrant collection is several library collections plus its config and
 * payload schema (catalog.h), so its snapshot is an archive of library
 * snapshots (qv_snapshot_save) behind a JSON header that records the
 * collection as catalog.json does; the layout is in docs/FORMAT.md
 * ("Collection snapshot archives").  Archives live in
 * STORAGE/snapshots/<collection>/<collection>-<n>-<date>.snapshot and are
 * written crash-safely (temporary file, fsync, rename, directory fsync)
 * through the library's public qv_file_replace_* calls, so that the
 * server and the library share one implementation of that protocol;
 * deletes go through qv_file_remove_durable for the same reason.
 *
 * Everything read back is untrusted: snapshot names must be plain
 * "*.snapshot" file names, recover locations must be file:// paths that
 * resolve inside the storage directory, and an archive's header checksum,
 * member sizes (which must add up to the file exactly), member checksums,
 * its payload index types and every member's full library verification
 * (QV_SNAPSHOT_VERIFY) pass before the catalog replaces anything
 * (qvs_catalog_restore).  What a client gets back reveals nothing outside
 * the storage: a location outside it is 403 whether or not the file
 * exists (only a name missing inside the storage is 404), and no message
 * carries the storage's absolute path (qvs_scrub_storage_paths, applied
 * by http.c to every error reply).  A collection name too long for a file
 * name (255 characters of UTF-8 can be 1020 bytes) is the client's 400.
 *
 * Temporaries: members are extracted, and uploads stored, in a private
 * STORAGE/snapshots/.tmp-XXXXXX directory removed when the request ends.
 * A server killed meanwhile leaves it behind, with half-written archives
 * and checkpoints; `quiver serve` removes those at start
 * (qvs_snapshots_cleanup), matching exact temporary names only, and only
 * while it holds the store's LOCK, so never under a live server.
 *
 * The checksum reported in SnapshotDescription is the SHA-256 of the
 * archive file in lowercase hex, as Qdrant's (lib/collection/src/common/
 * sha_256.rs hash_file), so `sha256sum` verifies a download; it comes
 * from OpenSSL's libcrypto rather than a hand-written digest.  A recover
 * request's "checksum" and an upload's ?checksum= are compared with it,
 * ignoring case; a mismatch is Qdrant's 400 "Checksum mismatch: expected
 * <the file's>, actual <the given>" (StorageError::checksum_mismatch, in
 * the argument order Qdrant's upload handler uses).  Archive members keep
 * their XXH3-64 checksums inside the header (docs/FORMAT.md).
 * wait=false is accepted but the work is still done before answering 202.
 * Upload takes the archive as the raw request body or as the file part of
 * a multipart/form-data body (http.c decodes it: qvs_req_raw_body).
 */
#include "snapshots.h"

#include "routes.h"
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <strings.h>
#include <xxhash.h>

#define OOM           "Service internal error: out of memory"
#define ARCHIVE_MAGIC "QVCSNAP\0"
#define ARCHIVE_VER   1u
#define PREAMBLE      32u /* magic, version, reserved, header len, xxh3 */
#define MAX_HEADER    (16u << 20)
#define MAX_MEMBERS   4097
#define SUFFIX        ".snapshot"
/* The longest archive name: qv_file_replace_begin writes it first as
 * "<name>.tmp-XXXXXX", which must fit NAME_MAX (255 bytes) too. */
#define NAME_ROOM (255 - (int)(sizeof(".tmp-XXXXXX") - 1))
/* The prefix of every temporary directory under STORAGE/snapshots. */
#define TMP_PREFIX ".tmp-"

/* ---- names and paths ------------------------------------------------------
 */

static const char *coll_param(const qvs_req *req)
{
    return req->n_params > 0 ? req->params[0] : "";
}

/* A plain file name ending in .snapshot: no separators, no leading dot
 * (so never "." or ".." or a temporary file), nothing outside the
 * directory it is joined to. */
bool qvs_snap_name_ok(const char *name)
{
    size_t len = strlen(name), sl = strlen(SUFFIX);
    if (len <= sl || len > 255 || name[0] == '.' || strchr(name, '/') ||
        strchr(name, '\\') || strstr(name, ".."))
        return false;
    return strcmp(name + len - sl, SUFFIX) == 0;
}

static bool path_fmt(char *buf, size_t cap, const char *fmt, const char *a,
                     const char *b)
{
    int n = snprintf(buf, cap, fmt, a, b);
    return n > 0 && (size_t)n < cap;
}

/* STORAGE/snapshots/<coll>, created when make is set. */
bool qvs_snap_dir(const qvs_req *req, const char *coll, bool make, char *buf,
                  size_t cap)
{
    const char *root = qvs_catalog_dir(req->catalog);
    char top[PATH_MAX];
    if (!path_fmt(top, sizeof(top), "%s/%s", root, "snapshots") ||
        !path_fmt(buf, cap, "%s/%s", top, coll))
        return false;
    if (!make)
        return true;
    return (mkdir(top, 0755) == 0 || errno == EEXIST) &&
           (mkdir(buf, 0755) == 0 || errno == EEXIST);
}

/* tmp/m<i>.qvs; tmp comes from make_tmp, so it always fits. */
void qvs_snap_member_path(char *buf, size_t cap, const char *tmp, size_t i)
{
    char idx[32];
    snprintf(idx, sizeof(idx), "m%zu.qvs", i);
    if (!path_fmt(buf, cap, "%s/%s", tmp, idx))
        buf[0] = '\0';
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void qvs_snap_rm_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A fresh private directory under STORAGE/snapshots for member files. */
bool qvs_snap_make_tmp(const qvs_req *req, char *buf, size_t cap)
{
    char top[PATH_MAX];
    if (!path_fmt(top, sizeof(top), "%s/%s", qvs_catalog_dir(req->catalog),
                  "snapshots") ||
        (mkdir(top, 0755) != 0 && errno != EEXIST) ||
        !path_fmt(buf, cap, "%s/%s", top, TMP_PREFIX "XXXXXX") ||
        !mkdtemp(buf)) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

/* ---- file checksums --------------------------------------------------------
 */

/* Where hash_file copies the bytes it reads: a plain file (a member
 * extracted to a private directory, which a crash may lose), a crash-safe
 * replacement (an archive being written), or nowhere (both NULL). */
typedef struct copy_to {
    FILE *file;
    qv_file_writer *atomic;
} copy_to;

static bool copy_bytes(const copy_to *to, const char *buf, size_t n)
{
    if (to->file)
        return fwrite(buf, 1, n, to->file) == n;
    if (to->atomic)
        return qv_file_replace_write(to->atomic, buf, n) == QV_OK;
    return true;
}

static bool hash_file(FILE *f, uint64_t limit, XXH64_hash_t *out, copy_to copy)
{
    XXH3_state_t *s = XXH3_createState();
    char *buf = malloc(1u << 16);
    bool ok = s && buf && XXH3_64bits_reset(s) == XXH_OK;
    while (ok && limit) {
        size_t want = limit < (1u << 16) ? (size_t)limit : (1u << 16);
        size_t got = fread(buf, 1, want, f);
        ok = got == want && XXH3_64bits_update(s, buf, got) == XXH_OK &&
             copy_bytes(&copy, buf, got);
        limit -= got;
    }
    if (ok)
        *out = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    free(buf);
    return ok;
}

/* The XXH3-64 of the whole file at path, as 16 hex digits. */
static bool file_checksum(const char *path, char hex[17], uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    XXH64_hash_t h = 0;
    bool ok = f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
              hash_file(f, (uint64_t)st.st_size, &h, (copy_to){0});
    if (f)
        fclose(f);
    if (ok) {
        snprintf(hex, 17, "%016llx", (unsigned long long)h);
        if (size)
            *size = (uint64_t)st.st_size;
    }
    return ok;
}

/* The SHA-256 of the whole file at path, as 64 lowercase hex digits
 * (Qdrant's snapshot checksum), and its size. */
static bool file_sha256(const char *path, char hex[65], uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = malloc(1u << 16);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    bool ok = f && ctx && buf && fstat(fileno(f), &st) == 0 &&
              S_ISREG(st.st_mode) &&
              EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    size_t got;
    while (ok && (got = fread(buf, 1, 1u << 16, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, got) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 &&
         md_len == 32;
    if (f)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (ok) {
        for (unsigned i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        if (size)
            *size = (uint64_t)st.st_size;
    }
    return ok;
}

cJSON *qvs_snap_describe(const char *dir, const char *name)
{
    char path[PATH_MAX], hex[65], when[32];
    struct stat st;
    uint64_t size = 0;
    if (!path_fmt(path, sizeof(path), "%s/%s", dir, name) ||
        stat(path, &st) != 0 || !file_sha256(path, hex, &size))
        return NULL;
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "creation_time", when);
    cJSON_AddNumberToObject(d, "size", (double)size);
    cJSON_AddStringToObject(d, "checksum", hex);
    return d;
}

/* ---- writing an archive ----------------------------------------------------
 */

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8); /* native order, as the library's snapshots */
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The library collections of c, in archive order. */
static size_t members_of(const qvs_coll *c, qv_collection **out)
{
    out[0] = c->points;
    if (!c->named)
        return 1;
    for (size_t i = 0; i < c->n_vectors; i++)
        out[1 + i] = c->vectors[i].coll;
    return 1 + c->n_vectors;
}

/* Saves every member to tmp/m<i>.qvs under write_mu, so that changes to
 * several members (named vectors) land in all or none. */
bool qvs_snap_save_members(qvs_coll *c, const char *tmp, size_t *n, qvs_resp *r)
{
    qv_collection **m = calloc(c->n_vectors + 1, sizeof(*m));
    if (!m)
        return qvs_fail(r, 500, OOM);
    *n = members_of(c, m);
    bool ok = true;
    pthread_mutex_lock(&c->write_mu);
    for (size_t i = 0; ok && i < *n; i++) {
        char path[PATH_MAX];
        qvs_snap_member_path(path, sizeof(path), tmp, i);
        qv_status st = qv_snapshot_save(m[i], path);
        if (st != QV_OK) {
            char msg[256];
            qv_collection_errmsg(m[i], msg, sizeof(msg));
            ok = qvs_fail(r, 500, "Service internal error: snapshot: %s", msg);
        }
    }
    pthread_mutex_unlock(&c->write_mu);
    free(m);
    return ok;
}

/* The header: the collection and each member's size and checksum. */
cJSON *qvs_snap_archive_header(qvs_catalog *cat, qvs_coll *c, const char *tmp,
                               size_t n)
{
    cJSON *config = qvs_coll_config_dup(cat, c);
    cJSON *schema = qvs_coll_schema_dup(cat, c);
    cJSON *coll = config && schema ? qvs_coll_json(c, config, schema) : NULL;
    cJSON_Delete(config);
    cJSON_Delete(schema);
    cJSON *h = cJSON_CreateObject();
    cJSON *ms = cJSON_AddArrayToObject(h, "members");
    bool ok = coll && ms && cJSON_AddItemToObject(h, "collection", coll);
    if (!ok)
        cJSON_Delete(coll);
    for (size_t i = 0; ok && i < n; i++) {
        char path[PATH_MAX], hex[17];
        uint64_t size = 0;
        qvs_snap_member_path(path, sizeof(path), tmp, i);
        cJSON *m = cJSON_CreateObject();
        ok = m && file_checksum(path, hex, &size) &&
             cJSON_AddNumberToObject(m, "size", (double)size) &&
             cJSON_AddStringToObject(m, "xxh3", hex);
        if (m)
            cJSON_AddItemToArray(ms, m);
    }
    if (!ok) {
        cJSON_Delete(h);
        return NULL;
    }
    return h;
}

static bool write_archive(const char *path, const char *tmp, size_t n,
                          const char *header, qvs_resp *r)
{
    char err[512];
    qv_file_writer *af;
    if (qv_file_replace_begin(path, &af, err, sizeof(err)) != QV_OK)
        return qvs_fail(r, 500, "Service internal error: %s", err);
    size_t hlen = strlen(header);
    unsigned char pre[PREAMBLE] = {0};
    memcpy(pre, ARCHIVE_MAGIC, 8);
    uint32_t ver = ARCHIVE_VER;
    memcpy(pre + 8, &ver, 4);
    put_u64(pre + 16, hlen);
    put_u64(pre + 24, XXH3_64bits(header, hlen));
    bool ok = qv_file_replace_write(af, pre, PREAMBLE) == QV_OK &&
              qv_file_replace_write(af, header, hlen) == QV_OK;
    for (size_t i = 0; ok && i < n; i++) {
        char mp[PATH_MAX];
        qvs_snap_member_path(mp, sizeof(mp), tmp, i);
        FILE *f = fopen(mp, "rb");
        struct stat st;
        XXH64_hash_t h;
        ok = f && fstat(fileno(f), &st) == 0 &&
             hash_file(f, (uint64_t)st.st_size, &h, (copy_to){.atomic = af});
        if (f)
            fclose(f);
    }
    if (!ok) {
        qv_file_replace_abort(af);
        return qvs_fail(r, 500, "Service internal error: cannot write %s",
                        strrchr(path, '/') + 1);
    }
    if (qv_file_replace_commit(af, err, sizeof(err)) != QV_OK)
        return qvs_fail(r, 500, "Service internal error: %s", err);
    return true;
}

bool qvs_snap_write(const qvs_req *req, qvs_coll *c, const char *path,
                    qvs_resp *r)
{
    char tmp[PATH_MAX] = "";
    size_t n = 0;
    cJSON *h = NULL;
    char *text = NULL;
    bool ok = qvs_snap_make_tmp(req, tmp, sizeof(tmp)) ||
              qvs_fail(r, 500,
                       "Service internal error: cannot create the "
                       "snapshot directory");
    ok = ok && qvs_snap_save_members(c, tmp, &n, r);
    ok = ok && (((h = qvs_snap_archive_header(req->catalog, c, tmp, n)) &&
                 (text = cJSON_PrintUnformatted(h))) ||
                qvs_fail(r, 500, OOM));
    ok = ok && write_archive(path, tmp, n, text, r);
    if (tmp[0])
        qvs_snap_rm_tree(tmp);
    cJSON_Delete(h);
    free(text);
    return ok;
}

/* A name not taken yet: <coll>-<n>-<YYYY-MM-DD-HH-MM-SS>.snapshot. */
static bool new_name(const qvs_req *req, const char *coll, const char *dir,
                     char *name, size_t cap)
{
    char when[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d-%H-%M-%S", &tm);
    for (int tries = 0; tries < 100; tries++) {
        int k =
            snprintf(name, cap, "%s-%llu-%s%s", coll,
                     (unsigned long long)qvs_catalog_next_op_id(req->catalog),
                     when, SUFFIX);
        char path[PATH_MAX];
        if (k <= 0 || (size_t)k >= cap || k > NAME_ROOM ||
            !path_fmt(path, sizeof(path), "%s/%s", dir, name))
            return false;
        if (access(path, F_OK) != 0)
            return qvs_snap_name_ok(name);
    }
    return false;
}

bool qvs_snap_wait_false(const qvs_req *req)
{
    const char *w = req->query(req, "wait");
    return w && strcmp(w, "false") == 0;
}

static void create_snapshot(const qvs_req *req, qvs_resp *r)
{
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c)) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                 coll_param(req));
        return;
    }
    char dir[PATH_MAX], name[300], path[PATH_MAX];
    /* The name first: a collection name of up to 255 characters may be
     * up to 1020 bytes, more than a file name may hold, and that is the
     * client's input (400), not a server fault (500). */
    bool ok = (qvs_snap_dir(req, c->name, false, dir, sizeof(dir)) &&
               new_name(req, c->name, dir, name, sizeof(name))) ||
              qvs_fail(r, 400,
                       "Bad request: no snapshot file name fits collection "
                       "`%s`",
                       c->name);
    ok = ok && (qvs_snap_dir(req, c->name, true, dir, sizeof(dir)) ||
                qvs_fail(r, 500,
                         "Service internal error: cannot create the "
                         "snapshot directory"));
    ok = ok && path_fmt(path, sizeof(path), "%s/%s", dir, name) &&
         qvs_snap_write(req, c, path, r);
    qvs_coll_release(req->catalog, c);
    if (!ok)
        return;
    if (qvs_snap_wait_false(req))
        r->accepted = true;
    else if (!(r->result = qvs_snap_describe(dir, name)))
        qvs_fail(r, 500, "Service internal error: cannot read %s", name);
}

/* ---- listing, download, delete ---------------------------------------------
 */

static bool existing(const qvs_req *req, char *name, size_t cap, qvs_resp *r)
{
    qvs_coll *c;
    if (!qvs_catalog_get(req->catalog, coll_param(req), &c))
        return qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                        coll_param(req));
    snprintf(name, cap, "%s", c->name);
    qvs_coll_release(req->catalog, c);
    return true;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void list_snapshots(const qvs_req *req, qvs_resp *r)
{
    char coll[1024], dir[PATH_MAX];
    if (!existing(req, coll, sizeof(coll), r))
        return;
    if (!qvs_snap_dir(req, coll, false, dir, sizeof(dir)))
        dir[0] = '\0';
    qvs_snap_list_dir(dir, r);
}

void qvs_snap_list_dir(const char *dir, qvs_resp *r)
{
    cJSON *arr = cJSON_CreateArray();
    struct dirent **ents = NULL;
    int n = dir[0] ? scandir(dir, &ents, NULL, by_name) : -1;
    for (int i = 0; i < n; i++) {
        if (arr && qvs_snap_name_ok(ents[i]->d_name)) {
            cJSON *d = qvs_snap_describe(dir, ents[i]->d_name);
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

/* The path of snapshot params[1] of the collection, which must exist. */
static bool snapshot_path(const qvs_req *req, char *path, size_t cap,
                          qvs_resp *r)
{
    char coll[1024], dir[PATH_MAX];
    const char *name = req->n_params > 1 ? req->params[1] : "";
    if (!qvs_snap_name_ok(name))
        /* No snapshot can have such a name: Qdrant answers 404 (its
         * tests/openapi/test_snapshot.py, path traversal cases). */
        return qvs_fail(r, 404,
                        "Not found: Snapshot %s not found (a plain file "
                        "name ending in .snapshot is required)",
                        name);
    struct stat st;
    if (!existing(req, coll, sizeof(coll), r))
        return false;
    if (!qvs_snap_dir(req, coll, false, dir, sizeof(dir)) ||
        !path_fmt(path, cap, "%s/%s", dir, name) || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return qvs_fail(r, 404, "Not found: Snapshot %s not found", name);
    return true;
}

void qvs_snap_send_file(const char *path, qvs_resp *r)
{
    if (!(r->raw_file = strdup(path)))
        qvs_fail(r, 500, OOM);
    r->raw_type = "application/octet-stream";
}

void qvs_snap_remove_file(const qvs_req *req, const char *path, qvs_resp *r)
{
    char err[512];
    if (qv_file_remove_durable(path, err, sizeof(err)) != QV_OK) {
        qvs_fail(r, 500, "Service internal error: %s", err);
        return;
    }
    if (qvs_snap_wait_false(req))
        r->accepted = true;
    else
        r->result = cJSON_CreateTrue();
}

static void download_snapshot(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (snapshot_path(req, path, sizeof(path), r))
        qvs_snap_send_file(path, r);
}

static void delete_snapshot(const qvs_req *req, qvs_resp *r)
{
    char path[PATH_MAX];
    if (snapshot_path(req, path, sizeof(path), r))
        qvs_snap_remove_file(req, path, r);
}

/* ---- reading an archive ----------------------------------------------------
 */

typedef struct archive {
    qvs_coll *tmpl;
    qv_collection *m[MAX_MEMBERS];
    size_t n;
} archive;

static void archive_free(archive *a)
{
    for (size_t i = 0; i < a->n; i++)
        qv_collection_release(a->m[i]);
    qvs_coll_free(a->tmpl);
    memset(a, 0, sizeof(*a));
}

static bool bad_archive(qvs_resp *r, const char *what)
{
    return qvs_fail(r, 400, "Bad request: not a valid snapshot: %s", what);
}

/* Reads and checks the preamble (magic, version) and the JSON header of
 * the archive in f (size bytes) into *root; what names the archive kind
 * in the message of a wrong magic. */
static bool archive_header(FILE *f, uint64_t size, const char *magic,
                           uint32_t version, const char *what, cJSON **root,
                           qvs_resp *r)
{
    unsigned char pre[PREAMBLE];
    if (size < PREAMBLE || fread(pre, 1, PREAMBLE, f) != PREAMBLE ||
        memcmp(pre, magic, 8) != 0)
        return qvs_fail(r, 400, "Bad request: not a valid snapshot: not a %s",
                        what);
    uint32_t ver;
    memcpy(&ver, pre + 8, 4);
    if (ver != version)
        return bad_archive(r, "unsupported archive version");
    uint64_t hlen = get_u64(pre + 16);
    if (hlen == 0 || hlen > MAX_HEADER || hlen > size - PREAMBLE)
        return bad_archive(r, "header length out of range");
    char *text = malloc(hlen);
    if (!text)
        return qvs_fail(r, 500, OOM);
    bool ok = fread(text, 1, hlen, f) == hlen &&
              XXH3_64bits(text, hlen) == get_u64(pre + 24);
    *root = ok ? cJSON_ParseWithLength(text, hlen) : NULL;
    free(text);
    if (!*root)
        return bad_archive(r, "header checksum mismatch or bad header");
    return true;
}

/* Checks the member list against the bytes left in the file: sizes must
 * add up to it exactly (a collection archive), or at most to it when
 * exact is false (one collection of a full snapshot); *total gets their
 * sum. */
static bool check_members(const cJSON *ms, uint64_t rest, bool exact,
                          uint64_t *total_out, qvs_resp *r)
{
    int n = cJSON_GetArraySize(ms);
    if (!cJSON_IsArray(ms) || n < 1 || n > MAX_MEMBERS)
        return bad_archive(r, "bad member list");
    uint64_t total = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, ms)
    {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "size");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, "xxh3");
        if (!cJSON_IsNumber(s) || s->valuedouble < 0 ||
            s->valuedouble > 9007199254740992.0 ||
            s->valuedouble != (double)(uint64_t)s->valuedouble ||
            !cJSON_IsString(x) || strlen(x->valuestring) != 16)
            return bad_archive(r, "bad member entry");
        uint64_t sz = (uint64_t)s->valuedouble;
        if (sz > rest - total)
            return bad_archive(r, "member sizes exceed the file");
        total += sz;
    }
    if (exact && total != rest)
        return bad_archive(r, "member sizes do not match the file size");
    *total_out = total;
    return true;
}

/* Extracts member i to tmp, checks its checksum, verifies and opens it,
 * and checks it has the shape the header gives it. */
static bool open_member(FILE *f, const cJSON *m, size_t i, const char *tmp,
                        const qvs_coll *c, qv_collection **out, qvs_resp *r)
{
    char path[PATH_MAX], hex[17], err[512];
    qvs_snap_member_path(path, sizeof(path), tmp, i);
    uint64_t size =
        (uint64_t)cJSON_GetObjectItemCaseSensitive(m, "size")->valuedouble;
    FILE *w = fopen(path, "wb");
    XXH64_hash_t h = 0;
    bool ok = w && hash_file(f, size, &h, (copy_to){.file = w});
    ok = (w && fclose(w) == 0) && ok;
    if (!ok)
        return qvs_fail(r, 500,
                        "Service internal error: cannot extract "
                        "snapshot member");
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
    if (strcmp(hex, cJSON_GetObjectItemCaseSensitive(m, "xxh3")->valuestring))
        return qvs_fail(r, 400,
                        "Bad request: not a valid snapshot: member %zu "
                        "checksum mismatch",
                        i);
    qv_status st =
        qv_snapshot_open(path, QV_SNAPSHOT_VERIFY, out, err, sizeof(err));
    if (st != QV_OK)
        return qvs_fail(r, 400,
                        "Bad request: not a valid snapshot: member %zu: %s", i,
                        err);
    qv_collection_config cfg;
    qv_collection_get_config(*out, &cfg);
    uint32_t dim = c->named ? 1 : c->vectors[0].size;
    qv_metric metric = c->named ? cfg.metric : c->vectors[0].metric;
    if (i > 0 && c->named && i - 1 < c->n_vectors) {
        dim = c->vectors[i - 1].size;
        metric = c->vectors[i - 1].metric;
    }
    /* A sparse vector's member is a sparse library collection (it reports
     * dim 1 and dot, server/sparse.h). */
    bool sparse =
        i > 0 && c->named && i - 1 < c->n_vectors && c->vectors[i - 1].sparse;
    if (sparse ? cfg.kind != QV_VECTOR_SPARSE
               : cfg.kind != QV_VECTOR_DENSE || cfg.dim != dim ||
                     cfg.metric != metric)
        return qvs_fail(r, 400,
                        "Bad request: not a valid snapshot: member %zu does "
                        "not match the collection's vectors",
                        i);
    return true;
}

/* Every payload index the archive's collection declares must be one the
 * library builds: the catalog rebuilds them after the swap begins, where an
 * unknown type could only fail as a server error. */
static bool schema_ok(const qvs_coll *c, qvs_resp *r)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, c->payload_schema)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "data_type");
        qv_index_kind kind;
        if (!cJSON_IsObject(e) || !cJSON_IsString(t) ||
            qv_index_kind_parse(t->valuestring, &kind) != QV_OK)
            return bad_archive(r, "unknown payload index type");
    }
    return true;
}

/* Loads the collection of one archive header entry ({"collection",
 * "members"}, members already checked) from f, positioned at its first
 * member, extracting members through tmp; fails into r. */
static bool entry_load(FILE *f, const cJSON *entry, const char *tmp, archive *a,
                       qvs_resp *r)
{
    char err[512];
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(entry, "members");
    a->tmpl =
        qvs_coll_parse(cJSON_GetObjectItemCaseSensitive(entry, "collection"),
                       err, sizeof(err));
    bool ok = a->tmpl ||
              qvs_fail(r, 400, "Bad request: not a valid snapshot: %s", err);
    ok = ok && schema_ok(a->tmpl, r);
    size_t want = a->tmpl && a->tmpl->named ? 1 + a->tmpl->n_vectors : 1;
    if (ok && (size_t)cJSON_GetArraySize(ms) != want)
        ok = bad_archive(r, "member count does not match the collection");
    for (const cJSON *m = ok ? ms->child : NULL; ok && m; m = m->next) {
        ok = open_member(f, m, a->n, tmp, a->tmpl, &a->m[a->n], r);
        if (a->m[a->n])
            a->n++;
    }
    return ok;
}

/* Reads and fully verifies the archive at path into a. */
static bool archive_load(const qvs_req *req, const char *path, archive *a,
                         qvs_resp *r)
{
    memset(a, 0, sizeof(*a));
    char tmp[PATH_MAX];
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f)
            fclose(f);
        return qvs_fail(r, 404, "Not found: snapshot file not found");
    }
    cJSON *root = NULL;
    bool ok = qvs_snap_make_tmp(req, tmp, sizeof(tmp)) ||
              qvs_fail(r, 500, "Service internal error: no temporary dir");
    ok = ok &&
         archive_header(f, (uint64_t)st.st_size, ARCHIVE_MAGIC, ARCHIVE_VER,
                        "Quiver collection snapshot archive", &root, r);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "members");
    uint64_t hlen = ok ? (uint64_t)ftell(f) : 0, total = 0;
    ok = ok && check_members(ms, (uint64_t)st.st_size - hlen, true, &total, r);
    ok = ok && entry_load(f, root, tmp, a, r);
    fclose(f);
    cJSON_Delete(root);
    qvs_snap_rm_tree(tmp); /* opened members keep their mappings */
    if (!ok)
        archive_free(a);
    return ok;
}

/* ---- restoring a whole-storage snapshot at start-up -----------------------
 *
 * Qdrant's --storage-snapshot (src/snapshots.rs recover_full_snapshot):
 * every collection of the archive is recovered, then its aliases; with
 * --force-snapshot a collection that already exists is replaced, without
 * it the existing one is kept and the archive's copy skipped (Qdrant's
 * recover_snapshots logs "already exists, skipping").  The whole archive
 * is checked before anything changes: preamble, header checksum, member
 * sizes against the file; each collection's members are verified as they
 * are extracted, so a damaged member stops the start before its
 * collection is touched (collections restored before it stay restored,
 * each one atomically, as qvs_catalog_restore does). */

#define FULL_MAGIC   "QVFSNAP\0"
#define FULL_VERSION 1u

/* The member lists of every entry must add up to the rest of the file. */
static bool full_members_ok(const cJSON *cols, uint64_t rest, qvs_resp *r)
{
    if (!cJSON_IsArray(cols))
        return bad_archive(r, "bad collection list");
    const cJSON *e;
    uint64_t used = 0, total = 0;
    cJSON_ArrayForEach(e, cols)
    {
        if (!check_members(cJSON_GetObjectItemCaseSensitive(e, "members"),
                           rest - used, false, &total, r))
            return false;
        used += total;
    }
    if (used != rest)
        return bad_archive(r, "member sizes do not match the file size");
    return true;
}

/* Creates the archive's aliases that do not exist yet (with force, an
 * existing alias of the same name is moved to the archive's collection). */
static bool restore_aliases(qvs_catalog *cat, const cJSON *aliases, bool force,
                            qvs_resp *r)
{
    cJSON *have = qvs_catalog_aliases(cat, NULL, r);
    cJSON *body = cJSON_CreateObject();
    cJSON *acts = cJSON_AddArrayToObject(body, "actions");
    bool ok = have && body && acts;
    const cJSON *a, *list = ok ? aliases : NULL;
    cJSON_ArrayForEach(a, list)
    {
        const cJSON *an = cJSON_GetObjectItemCaseSensitive(a, "alias_name");
        const cJSON *cn =
            cJSON_GetObjectItemCaseSensitive(a, "collection_name");
        if (!cJSON_IsString(an) || !cJSON_IsString(cn)) {
            ok = bad_archive(r, "bad alias entry");
            break;
        }
        bool exists = false;
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(have, "aliases"))
        {
            const cJSON *hn = cJSON_GetObjectItemCaseSensitive(h, "alias_name");
            exists = exists || (cJSON_IsString(hn) &&
                                strcmp(hn->valuestring, an->valuestring) == 0);
        }
        if (exists && !force)
            continue;
        if (exists) {
            cJSON *d = cJSON_CreateObject();
            cJSON *in = cJSON_AddObjectToObject(d, "delete_alias");
            cJSON_AddStringToObject(in, "alias_name", an->valuestring);
            cJSON_AddItemToArray(acts, d);
        }
        cJSON *c = cJSON_CreateObject();
        cJSON *in = cJSON_AddObjectToObject(c, "create_alias");
        cJSON_AddStringToObject(in, "alias_name", an->valuestring);
        cJSON_AddStringToObject(in, "collection_name", cn->valuestring);
        cJSON_AddItemToArray(acts, c);
    }
    ok = ok && (cJSON_GetArraySize(acts) == 0 ||
                qvs_catalog_update_aliases(cat, body, r));
    cJSON_Delete(have);
    cJSON_Delete(body);
    return ok;
}

bool qvs_snap_restore_collection(qvs_catalog *cat, const char *path,
                                 const char *name, bool force, bool *restored,
                                 char *err, size_t cap)
{
    qvs_resp r = {.http_status = 200};
    qvs_req req = {.catalog = cat};
    *restored = false;
    const char *why = qvs_name_invalid(name);
    if (why) {
        snprintf(err, cap, "cannot restore %s as `%s`: %s", path, name, why);
        return false;
    }
    qvs_coll *have = NULL;
    if (!force && qvs_catalog_get(cat, name, &have)) {
        qvs_coll_release(cat, have);
        return true; /* kept: Qdrant skips it without --force-snapshot */
    }
    archive *a = malloc(sizeof(*a));
    bool ok = (a || qvs_fail(&r, 500, OOM)) && archive_load(&req, path, a, &r);
    if (ok) {
        ok = qvs_catalog_restore(cat, name, a->tmpl, a->m, a->n, &r);
        a->tmpl = NULL; /* taken */
        archive_free(a);
        *restored = ok;
    }
    free(a);
    if (!ok)
        snprintf(err, cap, "cannot restore the snapshot %s: %s", path, r.error);
    return ok;
}

bool qvs_snap_restore_storage(qvs_catalog *cat, const char *path, bool force,
                              size_t *restored, char *err, size_t cap)
{
    qvs_resp r = {.http_status = 200};
    qvs_req req = {.catalog = cat};
    char tmp[PATH_MAX] = "";
    cJSON *root = NULL;
    archive *a = calloc(1, sizeof(*a));
    *restored = 0;
    FILE *f = fopen(path, "rb");
    struct stat st;
    bool ok = a || qvs_fail(&r, 500, OOM);
    if (ok && (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)))
        ok = qvs_fail(&r, 404, "cannot open %s: %s", path,
                      f ? "not a regular file" : strerror(errno));
    ok = ok && archive_header(f, (uint64_t)st.st_size, FULL_MAGIC, FULL_VERSION,
                              "Quiver full snapshot archive", &root, &r);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(root, "collections");
    uint64_t hlen = ok ? (uint64_t)ftell(f) : 0;
    ok = ok && full_members_ok(cols, (uint64_t)st.st_size - hlen, &r);
    ok = ok && (qvs_snap_make_tmp(&req, tmp, sizeof(tmp)) ||
                qvs_fail(&r, 500, "no temporary directory"));
    const cJSON *e, *list = ok ? cols : NULL;
    cJSON_ArrayForEach(e, list)
    {
        memset(a, 0, sizeof(*a));
        if (!(ok = entry_load(f, e, tmp, a, &r)))
            break;
        qvs_coll *have = NULL;
        if (!force && qvs_catalog_get(cat, a->tmpl->name, &have)) {
            qvs_coll_release(cat, have);
            archive_free(a); /* kept: Qdrant skips it without force */
            continue;
        }
        /* The name is copied: qvs_catalog_restore takes tmpl and frees
         * its fields before it stores the name. */
        char *name = strdup(a->tmpl->name);
        ok = name ? qvs_catalog_restore(cat, name, a->tmpl, a->m, a->n, &r)
                  : qvs_fail(&r, 500, OOM);
        free(name);
        if (!name)
            qvs_coll_free(a->tmpl);
        a->tmpl = NULL; /* taken */
        archive_free(a);
        if (!ok)
            break;
        (*restored)++;
    }
    ok = ok &&
         restore_aliases(cat, cJSON_GetObjectItemCaseSensitive(root, "aliases"),
                         force, &r);
    if (a)
        archive_free(a);
    free(a);
    if (f)
        fclose(f);
    cJSON_Delete(root);
    qvs_snap_rm_tree(tmp);
    if (!ok)
        snprintf(err, cap, "cannot restore the snapshot %s: %s", path, r.error);
    return ok;
}

bool qvs_snap_restore_from(const qvs_req *req, const char *path,
                           const char *checksum, qvs_resp *r)
{
    const char *name = coll_param(req);
    const char *why = qvs_name_invalid(name);
    if (why)
        return qvs_fail(r, 422,
                        "Validation error in path parameters: [name: %s]", why);
    char hex[65];
    if (checksum && !file_sha256(path, hex, NULL))
        return qvs_fail(r, 500,
                        "Service internal error: cannot read the "
                        "snapshot to check its checksum");
    if (checksum && strcasecmp(hex, checksum) != 0)
        return qvs_fail(r, 400, "Checksum mismatch: expected %s, actual %.128s",
                        hex, checksum);
    archive *a = malloc(sizeof(*a));
    if (!a)
        return qvs_fail(r, 500, OOM);
    bool ok = archive_load(req, path, a, r);
    if (ok) {
        ok = qvs_catalog_restore(req->catalog, name, a->tmpl, a->m, a->n, r);
        a->tmpl = NULL; /* taken */
        archive_free(a);
    }
    free(a);
    if (ok) {
        if (qvs_snap_wait_false(req))
            r->accepted = true;
        else
            r->result = cJSON_CreateTrue();
    }
    return ok;
}

/* ---- recover and upload ----------------------------------------------------
 */

/* Qdrant 1.19's answer to a file:// location outside its snapshots
 * directory: 400 "Snapshot file path must be inside the snapshots
 * directory" (tests/openapi/test_snapshot.py).  Here the allowed directory
 * is the storage directory, which holds the snapshots; and unlike Qdrant,
 * which first answers "does not exist" for a missing file, a location
 * outside gets this one answer whether or not its file exists. */
static bool outside(qvs_resp *r)
{
    return qvs_fail(r, 400,
                    "Bad request: Snapshot file path must be inside the "
                    "snapshots directory (this server's storage directory)");
}

/* True when path lies strictly below dir (both absolute, normalised). */
static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/' && path[1];
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1];
}

/* path made absolute (against the working directory) with ".", ".." and
 * repeated slashes resolved by spelling alone, without looking at the file
 * system, so that the answer cannot depend on what exists. */
static bool lexical_abs(const char *path, char *out, size_t cap)
{
    char in[2 * PATH_MAX];
    if (path[0] == '/')
        snprintf(in, sizeof(in), "%s", path);
    else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return false;
        snprintf(in, sizeof(in), "%s/%s", cwd, path);
    }
    size_t len = 0;
    for (char *save = NULL, *seg = strtok_r(in, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            while (len > 0 && out[len] != '/')
                len--;
            out[len] = '\0';
            continue;
        }
        size_t sl = strlen(seg);
        if (len + 1 + sl + 1 > cap)
            return false;
        out[len++] = '/';
        memcpy(out + len, seg, sl);
        len += sl;
        out[len] = '\0';
    }
    if (len == 0) {
        if (cap < 2)
            return false;
        out[0] = '/';
        out[1] = '\0';
    }
    return true;
}

/* The local path of a location: file:// inside the storage directory, or
 * a snapshot name of this collection. */
bool qvs_snap_location_path(const qvs_req *req, const char *loc, char *out,
                            size_t cap, qvs_resp *r)
{
    char dir[PATH_MAX];
    if (strncmp(loc, "file://", 7) != 0) {
        if (strstr(loc, "://"))
            return qvs_fail(r, 400,
                            "Bad request: only file://, http:// and "
                            "https:// snapshot locations are supported");
        if (!qvs_snap_name_ok(loc))
            return qvs_fail(r, 400, "Bad request: invalid snapshot name `%s`",
                            loc);
        if (!qvs_snap_dir(req, coll_param(req), false, dir, sizeof(dir)) ||
            !path_fmt(out, cap, "%s/%s", dir, loc))
            return qvs_fail(r, 400, "Bad request: location too long");
        return true;
    }
    /* file:// locations stay inside the storage: Qdrant 1.19 recovers
     * file:// snapshots only from its snapshots directory (qdrant PR
     * #8341, "Restrict snapshot recovery to snapshots directory, hide
     * file contents"; earlier #4572 answered 403 "Snapshot file ... must
     * be inside snapshots directory"), so "anywhere readable" is not
     * Qdrant's behaviour and would reveal files outside the storage.
     * Whether a file exists outside the storage directory is not the
     * client's business: a location that is outside by its spelling is
     * refused before anything is looked up, and one that leads outside
     * through a link is refused the same way whether or not its target
     * exists.  Only a name missing inside the storage answers 404. */
    /* file://HOST/path: only an empty host or localhost name this
     * machine, and the path must be absolute (Qdrant's message). */
    const char *fp = loc + 7;
    if (strncmp(fp, "localhost/", 10) == 0)
        fp += 9;
    if (fp[0] != '/')
        return qvs_fail(r, 400,
                        "Bad request: Invalid snapshot URI, file path must "
                        "be absolute or on localhost");
    char root[PATH_MAX], real[PATH_MAX], lex[PATH_MAX], lroot[PATH_MAX];
    if (!realpath(qvs_catalog_dir(req->catalog), root) ||
        !lexical_abs(qvs_catalog_dir(req->catalog), lroot, sizeof(lroot)))
        return qvs_fail(r, 500, "Service internal error: storage path");
    if (!lexical_abs(fp, lex, sizeof(lex)) ||
        (!under(lex, root) && !under(lex, lroot)))
        return outside(r);
    if (!realpath(lex, real)) {
        /* 404 only for a name missing from inside the storage: the
         * deepest ancestor that exists must be inside it, and lex itself
         * must not be a link (a dangling link answers as a link leading
         * out would). */
        int why = errno;
        char anc[PATH_MAX];
        struct stat ls;
        snprintf(anc, sizeof(anc), "%s", lex);
        bool found = false;
        for (char *slash; !found && (slash = strrchr(anc, '/'));) {
            slash[slash == anc ? 1 : 0] = '\0';
            found = realpath(anc, real) != NULL;
            if (slash == anc)
                break;
        }
        if (why == ENOENT && lstat(lex, &ls) != 0 && found &&
            (under(real, root) || strcmp(real, root) == 0))
            return qvs_fail(r, 404, "Not found: snapshot file not found");
        return outside(r);
    }
    if (!under(real, root))
        return outside(r);
    return path_fmt(out, cap, "%s%s", real, "") ||
           qvs_fail(r, 400, "Bad request: location too long");
}

/* ---- http(s):// locations ------------------------------------------------
 *
 * Qdrant recovers from a URL by downloading it first (lib/storage/src/
 * content_manager/snapshots/download.rs) and then treats the file as a
 * local one.  Here too: libcurl (already the test suite's HTTP client, a
 * well-kept library) fetches it into the request's private temporary
 * directory, and restore_from checks and restores it, checksum included.
 * Unlike Qdrant, only hosts on the operator's allow-list are fetched from
 * (--snapshot-url-hosts, QDRANT__STORAGE__SNAPSHOT_URL_HOSTS; loopback
 * by default), so a client cannot make the server probe its network:
 * the host is checked before anything is sent, only http and https are
 * spoken and redirects are not followed (they could lead elsewhere). */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* True when host is on the allow-list (NULL: loopback only). */
static bool host_allowed(const char *list, const char *host)
{
    static const char *const loopback[] = {"localhost", "127.0.0.1", "::1",
                                           "[::1]"};
    if (!list) {
        for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++)
            if (strcasecmp(host, loopback[i]) == 0)
                return true;
        return false;
    }
    size_t hl = strlen(host);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 1 && *p == '*')
            return true;
        if (n && n == hl && strncasecmp(p, host, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static size_t write_file(char *p, size_t size, size_t n, void *ud)
{
    return fwrite(p, size, n, ud) * size;
}

/* Downloads url into path; fails into r. */
static bool download(const qvs_req *req, const char *url, const char *path,
                     qvs_resp *r)
{
    pthread_once(&curl_once, curl_init_once);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    if (!ok)
        qvs_fail(r, 400, "Bad request: invalid snapshot URL");
    else if (!host_allowed(qvs_catalog_url_hosts(req->catalog), host))
        ok = qvs_fail(r, 403,
                      "Forbidden: snapshot URL host `%.200s` is not allowed "
                      "(--snapshot-url-hosts)",
                      host);
    curl_free(scheme);
    curl_free(host);
    CURL *h = ok ? curl_easy_init() : NULL;
    FILE *f = ok ? fopen(path, "wb") : NULL;
    if (ok && (!h || !f))
        ok = qvs_fail(r, 500, "Service internal error: cannot download");
    if (ok) {
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_CURLU, u);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_file);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
        CURLcode rc = curl_easy_perform(h);
        if (rc != CURLE_OK)
            ok = qvs_fail(r, 400,
                          "Bad request: failed to download snapshot from "
                          "%.300s: %s",
                          url, cerr[0] ? cerr : curl_easy_strerror(rc));
    }
    if (f && fclose(f) != 0 && ok)
        ok = qvs_fail(r, 500,
                      "Service internal error: cannot store the "
                      "download");
    curl_easy_cleanup(h);
    curl_url_cleanup(u);
    return ok;
}

void qvs_snap_recover_url(const qvs_req *req, const char *url,
                          const char *checksum, qvs_resp *r)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    if (!qvs_snap_make_tmp(req, tmp, sizeof(tmp)) ||
        !path_fmt(path, sizeof(path), "%s/%s", tmp, "download.snapshot"))
        qvs_fail(r, 500, "Service internal error: no temporary dir");
    else if (download(req, url, path, r))
        qvs_snap_restore_from(req, path, checksum, r);
    qvs_snap_rm_tree(tmp);
}

static void recover_snapshot(const qvs_req *req, qvs_resp *r)
{
    const cJSON *b = req->body;
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(b, "location");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(b, "checksum");
    if (!cJSON_IsString(loc)) {
        qvs_fail(r, 400,
                 "Format error in JSON body: missing field `location` (a "
                 "string)");
        return;
    }
    if (strncmp(loc->valuestring, "http://", 7) == 0 ||
        strncmp(loc->valuestring, "https://", 8) == 0) {
        qvs_snap_recover_url(req, loc->valuestring,
                             cJSON_IsString(sum) ? sum->valuestring : NULL, r);
        return;
    }
    char path[PATH_MAX];
    if (qvs_snap_location_path(req, loc->valuestring, path, sizeof(path), r))
        qvs_snap_restore_from(req, path,
                              cJSON_IsString(sum) ? sum->valuestring : NULL, r);
}

static void upload_snapshot(const qvs_req *req, qvs_resp *r)
{
    size_t len = 0;
    const void *body = qvs_req_raw_body(req, &len);
    if (!body || !len) {
        qvs_fail(r, 400,
                 "Bad request: the snapshot file is missing (send "
                 "it as the request body)");
        return;
    }
    char tmp[PATH_MAX], path[PATH_MAX];
    if (!qvs_snap_make_tmp(req, tmp, sizeof(tmp)) ||
        !path_fmt(path, sizeof(path), "%s/%s", tmp, "upload.snapshot")) {
        qvs_fail(r, 500, "Service internal error: no temporary dir");
        qvs_snap_rm_tree(tmp);
        return;
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(body, 1, len, f) == len;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok)
        qvs_fail(r, 500, "Service internal error: cannot store the upload");
    else
        qvs_snap_restore_from(req, path, req->query(req, "checksum"), r);
    qvs_snap_rm_tree(tmp);
}

/* ---- leftovers of a killed server -------------------------------------------
 */

/* name is prefix followed by exactly the six characters mkstemp/mkdtemp
 * put in place of XXXXXX. */
static bool temp_named(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || strlen(name + n) != 6)
        return false;
    for (const char *p = name + n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* name ends in ".tmp-" and six mkstemp characters after a stem that ends
 * in stem_suffix (".snapshot"), or is it when it starts with '/'
 * ("/catalog.json"). */
static bool temp_of(const char *name, const char *stem_suffix)
{
    bool whole = stem_suffix[0] == '/'; /* "/stem": the whole stem */
    stem_suffix += whole;
    size_t len = strlen(name), tl = strlen(".tmp-XXXXXX"),
           sl = strlen(stem_suffix);
    return len >= tl + sl && (!whole || len == tl + sl) &&
           temp_named(name + len - tl, ".tmp-") &&
           strncmp(name + len - tl - sl, stem_suffix, sl) == 0;
}

/* A private directory of make_tmp holds only member files m<i>.qvs and
 * an upload: anything else (a collection named ".tmp-abcdef" has its
 * archives in a directory of that name) means it is not ours. */
static bool only_our_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool ours = true;
    for (struct dirent *e; ours && (e = readdir(d));) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        struct stat st;
        /* m<i>.qvs, or its temporary while qv_snapshot_save writes it */
        size_t stem = temp_of(n, ".qvs") ? len - 11 : len;
        bool member = n[0] == 'm' && stem > 5 &&
                      !strncmp(n + stem - 4, ".qvs", 4) &&
                      strspn(n + 1, "0123456789") == stem - 5;
        /* a streamed shard snapshot (snapshots_shard.c), or its
         * temporary while qvs_snap_write writes it */
        bool stream = !strcmp(n, "stream.snapshot") ||
                      (temp_of(n, ".snapshot") && len == 15 + 11 &&
                       !strncmp(n, "stream.snapshot", 15));
        ours = (member || stream || !strcmp(n, "upload.snapshot")) &&
               fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISREG(st.st_mode);
    }
    closedir(d);
    return ours;
}

static size_t removed(const char *storage, const char *path)
{
    fprintf(stderr, "quiver serve: removed leftover %s\n",
            path + strlen(storage) + 1);
    return 1;
}

/* Removes the regular files in dir whose names are temporaries of
 * stem_suffix. */
static size_t clean_temp_files(const char *storage, const char *dir,
                               const char *stem_suffix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[PATH_MAX];
        struct stat st;
        if (temp_of(e->d_name, stem_suffix) &&
            path_fmt(path, sizeof(path), "%s/%s", dir, e->d_name) &&
            lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0)
            n += removed(storage, path);
    }
    if (d)
        closedir(d);
    return n;
}

/* Shard snapshots being written (snapshots_shard.c) in
 * coll/shards/<id>. */
static size_t clean_shard_dirs(const char *storage, const char *coll)
{
    char shards[PATH_MAX];
    size_t n = 0;
    DIR *d = path_fmt(shards, sizeof(shards), "%s/%s", coll, "shards")
                 ? opendir(shards)
                 : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] != '.' &&
            path_fmt(path, sizeof(path), "%s/%s", shards, e->d_name) &&
            lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            n += clean_temp_files(storage, path, SUFFIX);
    }
    if (d)
        closedir(d);
    return n;
}

size_t qvs_snapshots_cleanup(const char *storage)
{
    char lock[PATH_MAX], top[PATH_MAX];
    if (!path_fmt(lock, sizeof(lock), "%s/%s", storage, "LOCK") ||
        !path_fmt(top, sizeof(top), "%s/%s", storage, "snapshots"))
        return 0;
    /* The store's own lock (persist/store_dir.c): held by a live server
     * on this storage, whose temporaries are in use. */
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no store yet, so nothing of ours either */
    size_t n = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto cleanup;
    n += clean_temp_files(storage, storage, "/catalog.json");
    /* A checkpoint killed mid-write leaves "snapshot.qvs.tmp-XXXXXX" in
     * its collection's directory (the layout of quiver.h's "Durable
     * stores"), which the store's recovery does not remove. */
    char colls[PATH_MAX];
    DIR *d = path_fmt(colls, sizeof(colls), "%s/%s", storage, "collections")
                 ? opendir(colls)
                 : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] != '.' &&
            path_fmt(path, sizeof(path), "%s/%s", colls, e->d_name) &&
            lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            n += clean_temp_files(storage, path, "/snapshot.qvs");
    }
    if (d)
        closedir(d);
    /* whole-storage snapshots being written (snapshots_full.c) */
    n += clean_temp_files(storage, top, SUFFIX);
    d = opendir(top);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' &&
            (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
            continue;
        if (!path_fmt(path, sizeof(path), "%s/%s", top, e->d_name) ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (temp_named(e->d_name, TMP_PREFIX) && only_our_files(path)) {
            qvs_snap_rm_tree(path);
            if (access(path, F_OK) != 0)
                n += removed(storage, path);
        } else {
            n += clean_temp_files(storage, path, SUFFIX);
            n += clean_shard_dirs(storage, path);
        }
    }
    if (d)
        closedir(d);
cleanup:
    close(fd); /* releases the flock */
    return n;
}

/* ---- messages ---------------------------------------------------------------
 */

/* Removes dir from msg wherever it starts a path: followed by '/' (cut
 * with it, leaving a name relative to dir), or, when bare is set, by the
 * end, a space or a colon (the directory itself).  Only at the start of a
 * word, so that "storage" inside another name stays. */
static void cut_prefix(char *msg, const char *dir, bool bare)
{
    size_t n = strlen(dir);
    if (n == 0)
        return;
    for (char *at = msg; (at = strstr(at, dir));) {
        bool word = at == msg || strchr(" `'\"(:=", at[-1]) ||
                    (dir[0] == '/' && at[-1] == '/'); /* file:// */
        bool sep = at[n] == '/';
        if (!word || !(sep || (bare && (!at[n] || strchr(" :,", at[n]))))) {
            at++;
            continue;
        }
        size_t cut = n + (sep ? 1 : 0);
        memmove(at, at + cut, strlen(at + cut) + 1);
    }
}

void qvs_scrub_storage_paths(const char *storage, char *msg)
{
    char real[PATH_MAX], lex[PATH_MAX];
    if (realpath(storage, real) && strcmp(real, "/") != 0)
        cut_prefix(msg, real, true);
    if (lexical_abs(storage, lex, sizeof(lex)) && strcmp(lex, "/") != 0)
        cut_prefix(msg, lex, true);
    cut_prefix(msg, storage, storage[0] == '/' && storage[1]);
}

#define W QVS_ROUTE_WRITE
const qvs_route qvs_snapshot_routes[] = {
    {"POST", "/collections/{name}/snapshots", create_snapshot, W,
     "create_snapshot"},
    {"GET", "/collections/{name}/snapshots", list_snapshots, 0,
     "list_snapshots"},
    {"GET", "/collections/{name}/snapshots/{snapshot_name}", download_snapshot,
     0, "get_snapshot"},
    {"DELETE", "/collections/{name}/snapshots/{snapshot_name}", delete_snapshot,
     W, "delete_snapshot"},
    {"PUT", "/collections/{name}/snapshots/recover", recover_snapshot, W,
     "recover_from_snapshot"},
    {"POST", "/collections/{name}/snapshots/upload", upload_snapshot,
     W | QVS_ROUTE_RAW_BODY, "recover_from_uploaded_snapshot"},
};
const size_t qvs_snapshot_routes_n =
    sizeof(qvs_snapshot_routes) / sizeof(qvs_snapshot_routes[0]);
