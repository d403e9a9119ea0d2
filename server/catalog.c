/*
 * catalog.c -- the server's Qdrant collections and aliases, built from
 * library collections in one qv_store (see catalog.h for the data model).
 *
 * Library names.  User names never reach the store: the library
 * collections of Qdrant collection number <id> (a counter kept in
 * catalog.json, never reused) are called
 *     c<id>_<slug>                  its points (and its unnamed vector)
 *     c<id>_<slug>.<k>_<vslug>      its k-th named vector (sorted order;
 *                                   vector "" gives c<id>_<slug>.0_)
 * where a slug is the name cut to 48 characters of [A-Za-z0-9_-] (others
 * become '_'), only there so a person can tell the directories apart.
 * The "c<id>_" prefix alone makes every name unique, whatever the user's
 * names, their length or their characters, and each name is a valid store
 * (and directory) name.  catalog.json records each library name, so
 * nothing ever parses them back.
 *
 * Storage.  open_store() is the one place that decides where library
 * collections live: the durable store (qv_store_open_dir) on the storage
 * directory, so every library collection is WAL-logged and snapshotted
 * under STORAGE/collections/<library name>/; collections, configs,
 * payload schemas and aliases live in catalog.json.  On open, a
 * library collection the catalog names but the store lacks is created
 * empty, and one the store has but the catalog does not name (a crash
 * between the store's create and the catalog's write) is dropped if it
 * has our "c<id>_" form.
 *
 * Operation ids.  The operation_id of every UpdateResult comes from one
 * counter that must keep increasing across restarts (a client may order
 * its writes by it).  Writing the counter per request would cost an fsync
 * per write, so ids are reserved in blocks: STORAGE/op_ids holds a bound
 * no id handed out has passed; when the counter reaches it, the next
 * block is reserved durably (qv_file_replace_*) before the id is given
 * out.  A restart starts above the stored bound, so at most one unused
 * block is skipped per restart, never an id repeated.
 *
 * Locking.  meta_mu serialises every metadata change (create, delete,
 * PATCH, aliases, payload indexes) and the catalog.json write that commits
 * it; a change builds its new arrays or config aside, writes the file,
 * and only then publishes under mu, so a failed write changes nothing.
 * mu guards the published arrays, the reference counts and the config and
 * schema pointers, and is held only for lookups and swaps, never across
 * I/O.  Lookups take mu only.  Order: meta_mu before mu.
 */
#include "multivec.h"
#include "qjson.h"
#include "server.h"
#include "sparse.h"
#include "quantization.h"
#include "strict.h"
#include "text_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct qvs_catalog {
    char *dir;
    qv_store *store;
    pthread_mutex_t mu;      /* st's arrays, refs, config/schema pointers */
    pthread_mutex_t meta_mu; /* serialises changes and catalog.json writes */
    qvs_catalog_state st;    /* published state; changed under both locks */
    atomic_uint_least64_t op_id;
    atomic_uint_least64_t op_reserved; /* bound stored in STORAGE/op_ids */
    pthread_mutex_t op_mu;             /* serialises reservations */
    char *url_hosts; /* snapshot URL allow-list; set before serving */
};

#define OP_IDS_FILE "op_ids"
#define OP_ID_BLOCK 4096u
#define OP_ID_MAX   (UINT64_C(1) << 53) /* exact in a JSON number */

#define OOM "Service internal error: out of memory"

/* The one place that opens the library store (see the file comment). */
static bool open_store(const char *dir, qv_store **out, char *err, size_t cap)
{
    qv_status st = qv_store_open_dir(dir, NULL, out, err, cap);
    return st == QV_OK;
}

/* ---- names ----------------------------------------------------------------
 */

const char *qvs_name_invalid(const char *name)
{
    static const char forbidden[] = "<>:\"/\\|?*\x1f";
    static const char *const msgs[] = {
        "collection name cannot contain \"<\" char",
        "collection name cannot contain \">\" char",
        "collection name cannot contain \":\" char",
        "collection name cannot contain \"\\\"\" char",
        "collection name cannot contain \"/\" char",
        "collection name cannot contain \"\\\\\" char",
        "collection name cannot contain \"|\" char",
        "collection name cannot contain \"?\" char",
        "collection name cannot contain \"*\" char",
        "collection name cannot contain \"\\u{1f}\" char"};
    size_t chars = 0;
    for (const char *p = name; *p; p++) {
        const char *f = strchr(forbidden, *p);
        if (f)
            return msgs[f - forbidden];
        if (((unsigned char)*p & 0xc0) != 0x80) /* UTF-8 characters */
            chars++;
    }
    if (chars < 1 || chars > QV_MAX_NAME)
        return "length must be from 1 to 255";
    /* A name is listed in JSON replies: bytes that are not UTF-8 (from a
     * percent-decoded path) would make GET /collections invalid JSON. */
    if (!qj_utf8_valid(name, strlen(name)))
        return "collection name must be valid UTF-8";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "collection name cannot be \".\" or \"..\"";
    return NULL;
}

static void slug(char *out, const char *name)
{
    size_t i = 0;
    for (; name[i] && i < 48; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        out[i] = ok ? ch : '_';
    }
    out[i] = '\0';
}

/* c<id>_<slug>, or c<id>_<slug>.<k>_<vslug> for named vector k. */
static char *lib_name(uint64_t id, const char *coll, const char *vector,
                      size_t k)
{
    char s[49], vs[49], buf[160];
    slug(s, coll);
    if (vector) {
        slug(vs, vector);
        snprintf(buf, sizeof(buf), "c%llu_%s.%zu_%s", (unsigned long long)id, s,
                 k, vs);
    } else {
        snprintf(buf, sizeof(buf), "c%llu_%s", (unsigned long long)id, s);
    }
    return strdup(buf);
}

/* True for names of our c<id>_ form (orphan candidates). */
static bool ours(const char *lib)
{
    if (lib[0] != 'c' || lib[1] < '0' || lib[1] > '9')
        return false;
    const char *p = lib + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '_';
}

/* ---- collections ----------------------------------------------------------
 */

void qvs_coll_free(qvs_coll *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_vectors; i++) {
        free(c->vectors ? c->vectors[i].name : NULL);
        qv_collection_release(c->vectors ? c->vectors[i].coll : NULL);
        free(c->vector_libs ? c->vector_libs[i] : NULL);
    }
    qv_collection_release(c->points);
    free(c->vectors);
    free(c->vector_libs);
    free(c->vector_cfgs);
    free(c->points_lib);
    free(c->name);
    cJSON_Delete(c->config);
    cJSON_Delete(c->payload_schema);
    qvs_strict_rates_free(c->strict);
    pthread_mutex_destroy(&c->write_mu);
    free(c);
}

void qvs_aliases_free(qvs_alias *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].alias);
        free(a[i].coll);
    }
    free(a);
}

const qvs_vector *qvs_coll_vector(const qvs_coll *c, const char *name)
{
    for (size_t i = 0; i < c->n_vectors; i++)
        if (strcmp(c->vectors[i].name, name) == 0)
            return &c->vectors[i];
    return NULL;
}

static qv_status store_fail(qvs_catalog *cat, qv_status st, const char *lib,
                            char *err, size_t cap)
{
    char msg[256];
    qv_store_errmsg(cat->store, msg, sizeof(msg));
    snprintf(err, cap, "library collection %s: %s (%s)", lib, msg,
             qv_strerror(st));
    return st;
}

/* One library collection: created fresh (create) or found, and created if
 * the store lacks it (open). */
static qv_status attach(qvs_catalog *cat, const char *lib,
                        const qv_collection_config *cfg, bool create,
                        qv_collection **out, char *err, size_t cap)
{
    qv_status st = create ? QV_ENOTFOUND : qv_store_get(cat->store, lib, out);
    if (st == QV_ENOTFOUND)
        st = qv_store_create(cat->store, lib, cfg, out);
    return st == QV_OK ? st : store_fail(cat, st, lib, err, cap);
}

static void drop_libs(qvs_catalog *cat, const qvs_coll *c)
{
    qv_store_drop(cat->store, c->points_lib);
    for (size_t i = 0; i < c->n_vectors; i++)
        if (strcmp(c->vector_libs[i], c->points_lib) != 0)
            qv_store_drop(cat->store, c->vector_libs[i]);
}

/* Qdrant's `on_disk: true` in a dense vector's params: the library
 * collection keeps its float vectors in a mapped file made in the storage
 * directory (qv_collection_set_vectors_on_disk) instead of on the heap;
 * `hnsw_config.on_disk: true` (the vector's, else the collection's) does
 * the same for its graph's level-0 links (qv_collection_set_graph_on_disk).
 * The setting lives in the config (catalog.json), so it is applied again
 * at every open; one that is turned off takes effect at the next open.
 * Sparse vectors and multivectors stay on the heap (the library refuses
 * them, and they are skipped here). */
static bool sync_on_disk(qvs_catalog *cat, const qvs_coll *c,
                         const cJSON *config, char *err, size_t cap)
{
    for (size_t i = 0; i < c->n_vectors; i++) {
        const cJSON *vp = qvs_quant_vparams(config, c, i);
        const cJSON *od = cJSON_IsObject(vp)
                              ? cJSON_GetObjectItemCaseSensitive(vp, "on_disk")
                              : NULL;
        /* hnsw_config.on_disk: the vector's own hnsw_config, else the
         * collection's. */
        const cJSON *vh =
            cJSON_IsObject(vp)
                ? cJSON_GetObjectItemCaseSensitive(vp, "hnsw_config")
                : NULL;
        const cJSON *gd = cJSON_IsObject(vh)
                              ? cJSON_GetObjectItemCaseSensitive(vh, "on_disk")
                              : NULL;
        if (!gd || cJSON_IsNull(gd)) {
            const cJSON *ch =
                cJSON_GetObjectItemCaseSensitive(config, "hnsw_config");
            gd = cJSON_IsObject(ch)
                     ? cJSON_GetObjectItemCaseSensitive(ch, "on_disk")
                     : NULL;
        }
        if (c->vectors[i].sparse)
            continue;
        qv_collection *lib = c->vectors[i].coll;
        if (cJSON_IsTrue(gd) &&
            qv_collection_set_graph_on_disk(lib, cat->dir) != QV_OK) {
            char msg[256];
            qv_collection_errmsg(lib, msg, sizeof(msg));
            snprintf(err, cap, "on_disk graph of '%s': %s", c->vectors[i].name,
                     msg);
            return false;
        }
        if (!cJSON_IsTrue(od) ||
            c->vector_cfgs[i].multivector != QV_MULTIVECTOR_NONE)
            continue;
        if (qv_collection_set_vectors_on_disk(lib, cat->dir) != QV_OK) {
            char msg[256];
            qv_collection_errmsg(lib, msg, sizeof(msg));
            snprintf(err, cap, "on_disk vectors of '%s': %s",
                     c->vectors[i].name, msg);
            return false;
        }
    }
    return true;
}

/* Gives c its library collections.  On failure, with create, the ones made
 * are dropped again. */
static bool attach_all(qvs_catalog *cat, qvs_coll *c, bool create, char *err,
                       size_t cap)
{
    qv_collection_config reg;
    qvs_registry_config(&reg);
    const qv_collection_config *pcfg = c->named ? &reg : &c->vector_cfgs[0];
    bool ok =
        attach(cat, c->points_lib, pcfg, create, &c->points, err, cap) == QV_OK;
    for (size_t i = 0; ok && i < c->n_vectors; i++) {
        if (!c->named) {
            qv_collection_retain(c->points);
            c->vectors[i].coll = c->points;
            continue;
        }
        ok = attach(cat, c->vector_libs[i], &c->vector_cfgs[i], create,
                    &c->vectors[i].coll, err, cap) == QV_OK;
    }
    /* The quantization and sparse params the catalog's config says
     * (quantization.c, sparse_config.c). */
    if (ok && qvs_quant_sync(c, c->config, err, cap) != QV_OK)
        ok = false;
    if (ok && qvs_sparse_sync(c, c->config, true, err, cap) != QV_OK)
        ok = false;
    if (ok && !sync_on_disk(cat, c, c->config, err, cap))
        ok = false;
    if (!ok && create)
        drop_libs(cat, c);
    return ok;
}

/* A new collection from spec (which gives up its config), with its
 * library collections created. */
static qvs_coll *coll_new(qvs_catalog *cat, const char *name, qvs_spec *spec,
                          uint64_t id, qvs_resp *r)
{
    qvs_coll *c = calloc(1, sizeof(*c));
    size_t n = spec->n ? spec->n : 1;
    if (!c || !(c->vectors = calloc(n, sizeof(*c->vectors))) ||
        !(c->vector_libs = calloc(n, sizeof(*c->vector_libs))) ||
        !(c->vector_cfgs = calloc(n, sizeof(*c->vector_cfgs)))) {
        if (c)
            pthread_mutex_init(&c->write_mu, NULL);
        qvs_coll_free(c);
        qvs_fail(r, 500, OOM);
        return NULL;
    }
    pthread_mutex_init(&c->write_mu, NULL);
    c->refs = 1;
    c->id = id;
    c->named = spec->named;
    c->n_vectors = spec->n;
    c->name = strdup(name);
    c->points_lib = lib_name(id, name, NULL, 0);
    c->payload_schema = cJSON_CreateObject();
    c->strict = qvs_strict_rates_new();
    bool ok = c->name && c->points_lib && c->payload_schema && c->strict;
    for (size_t i = 0; ok && i < spec->n; i++) {
        c->vectors[i].name = strdup(spec->v[i].name);
        c->vectors[i].size = spec->v[i].size;
        c->vectors[i].metric = spec->v[i].metric;
        c->vectors[i].sparse = spec->v[i].lib.kind == QV_VECTOR_SPARSE;
        c->vector_cfgs[i] = spec->v[i].lib;
        c->vector_libs[i] = c->named ? lib_name(id, name, spec->v[i].name, i)
                                     : strdup(c->points_lib);
        ok = c->vectors[i].name && c->vector_libs[i];
    }
    c->config = spec->config;
    spec->config = NULL;
    char err[512];
    if (!ok) {
        qvs_fail(r, 500, OOM);
    } else if (!attach_all(cat, c, true, err, sizeof(err))) {
        qvs_fail(r, 500, "Service internal error: %s", err);
        ok = false;
    }
    if (!ok) {
        qvs_coll_free(c);
        return NULL;
    }
    return c;
}

/* ---- lookups --------------------------------------------------------------
 */

static ptrdiff_t find_coll(const qvs_catalog_state *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(st->colls[mid]->name, name);
        if (cmp == 0)
            return (ptrdiff_t)mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static ptrdiff_t find_alias(const qvs_alias *a, size_t n, const char *alias)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].alias, alias) == 0)
            return (ptrdiff_t)i;
    return -1;
}

/* The collection called name, or the one alias name points to. */
static qvs_coll *resolve(const qvs_catalog_state *st, const char *name)
{
    ptrdiff_t i = find_coll(st, name);
    if (i < 0) {
        ptrdiff_t a = find_alias(st->aliases, st->n_aliases, name);
        if (a >= 0)
            i = find_coll(st, st->aliases[a].coll);
    }
    return i >= 0 ? st->colls[i] : NULL;
}

bool qvs_catalog_get(qvs_catalog *cat, const char *name_or_alias,
                     qvs_coll **out)
{
    *out = NULL;
    if (!cat || !name_or_alias)
        return false;
    pthread_mutex_lock(&cat->mu);
    qvs_coll *c = resolve(&cat->st, name_or_alias);
    if (c)
        c->refs++;
    pthread_mutex_unlock(&cat->mu);
    *out = c;
    return c != NULL;
}

void qvs_coll_release(qvs_catalog *cat, qvs_coll *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cat->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&cat->mu);
    if (last)
        qvs_coll_free(c);
}

/* Stores bound in STORAGE/op_ids, durably. */
static bool op_ids_store(const char *dir, uint64_t bound, char *err, size_t cap)
{
    char path[4096], text[32];
    int n = snprintf(path, sizeof(path), "%s/" OP_IDS_FILE, dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, cap, "path too long: %s/" OP_IDS_FILE, dir);
        return false;
    }
    int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)bound);
    qv_file_writer *w;
    if (qv_file_replace_begin(path, &w, err, cap) != QV_OK)
        return false;
    qv_file_replace_write(w, text, (size_t)len);
    return qv_file_replace_commit(w, err, cap) == QV_OK;
}

/* Reads the stored bound (0 when there is no file yet). */
static bool op_ids_load(const char *dir, uint64_t *bound, char *err, size_t cap)
{
    char path[4096], text[32] = "";
    *bound = 0;
    snprintf(path, sizeof(path), "%s/" OP_IDS_FILE, dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return true;
        snprintf(err, cap, "%s: cannot open: %s", OP_IDS_FILE, strerror(errno));
        return false;
    }
    size_t got = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[got] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || (*end && *end != '\n') || errno || v > OP_ID_MAX) {
        snprintf(err, cap, "%s: not an operation id bound", OP_IDS_FILE);
        return false;
    }
    *bound = v;
    return true;
}

uint64_t qvs_catalog_next_op_id(qvs_catalog *cat)
{
    uint64_t id = atomic_fetch_add(&cat->op_id, 1) + 1;
    if (id <= atomic_load(&cat->op_reserved))
        return id;
    pthread_mutex_lock(&cat->op_mu);
    uint64_t bound = atomic_load(&cat->op_reserved);
    if (id > bound) {
        char err[512];
        bound = id + OP_ID_BLOCK;
        if (op_ids_store(cat->dir, bound, err, sizeof(err)))
            atomic_store(&cat->op_reserved, bound);
        else /* the id is still unique in this run; retried next time */
            fprintf(stderr, "quiver serve: operation ids: %s\n", err);
    }
    pthread_mutex_unlock(&cat->op_mu);
    return id;
}

size_t qvs_catalog_count(qvs_catalog *cat)
{
    pthread_mutex_lock(&cat->mu);
    size_t n = cat->st.n;
    pthread_mutex_unlock(&cat->mu);
    return n;
}

cJSON *qvs_catalog_list(qvs_catalog *cat)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "collections");
    bool ok = arr != NULL;
    pthread_mutex_lock(&cat->mu);
    for (size_t i = 0; ok && i < cat->st.n; i++) {
        cJSON *d = cJSON_CreateObject();
        ok = d && cJSON_AddStringToObject(d, "name", cat->st.colls[i]->name);
        if (d)
            cJSON_AddItemToArray(arr, d);
    }
    pthread_mutex_unlock(&cat->mu);
    if (!ok) {
        cJSON_Delete(res);
        return NULL;
    }
    return res;
}

void qvs_catalog_each(qvs_catalog *cat, void (*fn)(void *arg, qvs_coll *c),
                      void *arg)
{
    pthread_mutex_lock(&cat->mu);
    size_t n = cat->st.n;
    qvs_coll **held = malloc((n ? n : 1) * sizeof(*held));
    for (size_t i = 0; held && i < n; i++) {
        held[i] = cat->st.colls[i];
        held[i]->refs++;
    }
    pthread_mutex_unlock(&cat->mu);
    if (!held)
        return;
    for (size_t i = 0; i < n; i++) {
        fn(arg, held[i]);
        qvs_coll_release(cat, held[i]);
    }
    free(held);
}

cJSON *qvs_coll_config_dup(qvs_catalog *cat, qvs_coll *c)
{
    pthread_mutex_lock(&cat->mu);
    cJSON *d = cJSON_Duplicate(c->config, true);
    pthread_mutex_unlock(&cat->mu);
    return d;
}

cJSON *qvs_coll_schema_dup(qvs_catalog *cat, qvs_coll *c)
{
    pthread_mutex_lock(&cat->mu);
    cJSON *d = cJSON_Duplicate(c->payload_schema, true);
    pthread_mutex_unlock(&cat->mu);
    return d;
}

uint64_t qvs_coll_points(const qvs_coll *c)
{
    uint64_t n = 0;
    qv_count(c->points, &n);
    return n;
}

/* The library builds a graph once a collection holds its full-scan
 * threshold of vector kilobytes; below that (and with m = 0) nothing is
 * indexed, which is what Qdrant reports for small collections too. */
/* The vectors the HNSW graphs hold (qv_indexed_count), as Qdrant counts
 * the vectors of its indexed segments. */
uint64_t qvs_coll_indexed_vectors(const qvs_coll *c)
{
    uint64_t total = 0;
    for (size_t i = 0; i < c->n_vectors; i++) {
        uint64_t n = 0;
        /* A sparse vector is always in its inverted index, as Qdrant's
         * sparse index counts every vector it holds. */
        if (c->vectors[i].sparse)
            qv_count(c->vectors[i].coll, &n);
        else
            qv_indexed_count(c->vectors[i].coll, &n);
        total += n;
    }
    return total;
}

size_t qvs_coll_segments(const qvs_coll *c)
{
    return c->named ? c->n_vectors + 1 : 1;
}

/* ---- open and close --------------------------------------------------------
 */

static bool mkdir_p(const char *dir, char *err, size_t cap)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        snprintf(err, cap, "storage path too long");
        return false;
    }
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                snprintf(err, cap, "cannot create directory %s: %s", path,
                         strerror(errno));
                return false;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "storage path %s is not a directory", dir);
        return false;
    }
    return true;
}

static bool referenced(const qvs_catalog_state *st, const char *lib)
{
    for (size_t i = 0; i < st->n; i++) {
        const qvs_coll *c = st->colls[i];
        if (strcmp(c->points_lib, lib) == 0)
            return true;
        for (size_t k = 0; k < c->n_vectors; k++)
            if (strcmp(c->vector_libs[k], lib) == 0)
                return true;
    }
    return false;
}

/* Drops library collections of ours that the catalog does not name.  A
 * store with collections but no catalog.json is refused instead: dropping
 * them would lose data someone may want back. */
static bool reconcile(qvs_catalog *cat, bool found, char *err, size_t cap)
{
    char **names = NULL;
    size_t n = 0;
    if (qv_store_list(cat->store, &names, &n) != QV_OK) {
        snprintf(err, cap, "cannot list the store's collections");
        return false;
    }
    if (!found && n > 0) {
        qv_free(names);
        snprintf(err, cap,
                 "%s holds %zu library collections but no catalog.json; "
                 "refusing to start",
                 cat->dir, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (ours(names[i]) && !referenced(&cat->st, names[i])) {
            fprintf(stderr,
                    "quiver serve: dropping library collection %s, which no "
                    "collection uses\n",
                    names[i]);
            qv_store_drop(cat->store, names[i]);
        }
    }
    qv_free(names);
    return true;
}

/* Builds (or drops) the library's payload index on field in every library
 * collection of c, so filters on it use the index.  Index definitions are
 * persisted in catalog.json and rebuilt from the payloads on start. */
/* Creates (or drops) the index on field in every library collection of c;
 * params: a text index's params as shown (NULL: none). */
static qv_status lib_index(qvs_coll *c, const char *field, const char *type,
                           const cJSON *params, bool drop)
{
    qv_index_kind kind = QV_INDEX_KEYWORD;
    if (!drop && qv_index_kind_parse(type, &kind) != QV_OK)
        return QV_EINVAL;
    qv_status st = QV_OK;
    for (size_t i = 0; i <= c->n_vectors && st == QV_OK; i++) {
        qv_collection *lib = i == c->n_vectors ? c->points : c->vectors[i].coll;
        if (!lib ||
            (i == c->n_vectors && c->n_vectors && lib == c->vectors[0].coll))
            continue;
        if (drop)
            st = qv_payload_index_drop(lib, field);
        else if (kind == QV_INDEX_TEXT && cJSON_IsObject(params))
            st = qvs_text_index_create(lib, field, params);
        else
            st = qv_payload_index_create(lib, field, kind);
        if (st == QV_ENOTFOUND && drop)
            st = QV_OK;
    }
    return st;
}

/* The type name of a payload_schema entry ({"data_type": t, ...}). */
static const char *schema_type(const cJSON *info)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(info, "data_type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static bool rebuild_indexes(qvs_coll *c, char *err, size_t cap)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, c->payload_schema)
    {
        const char *t = schema_type(e);
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
        if (t && lib_index(c, e->string, t, params, false) != QV_OK) {
            snprintf(err, cap,
                     "collection `%s`: cannot rebuild the %s index "
                     "on `%s`",
                     c->name, t, e->string);
            return false;
        }
    }
    return true;
}

bool qvs_catalog_open(const char *dir, qvs_catalog **out, char *err, size_t cap)
{
    *out = NULL;
    if (!mkdir_p(dir, err, cap))
        return false;
    qvs_catalog *cat = calloc(1, sizeof(*cat));
    if (!cat || !(cat->dir = strdup(dir))) {
        free(cat);
        snprintf(err, cap, "out of memory");
        return false;
    }
    pthread_mutex_init(&cat->mu, NULL);
    pthread_mutex_init(&cat->meta_mu, NULL);
    pthread_mutex_init(&cat->op_mu, NULL);
    uint64_t op_bound = 0;
    bool ok = op_ids_load(dir, &op_bound, err, cap);
    /* Ids start above every id a previous run may have handed out; the
     * first one reserves the next block. */
    atomic_init(&cat->op_id, op_bound);
    atomic_init(&cat->op_reserved, op_bound);
    bool found = false;
    ok = ok && qvs_catalog_load(dir, &cat->st, &found, err, cap) &&
         open_store(dir, &cat->store, err, cap);
    for (size_t i = 0; ok && i < cat->st.n; i++)
        ok = attach_all(cat, cat->st.colls[i], false, err, cap) &&
             rebuild_indexes(cat->st.colls[i], err, cap);
    ok = ok && reconcile(cat, found, err, cap);
    if (!ok) {
        qvs_catalog_close(cat);
        return false;
    }
    *out = cat;
    return true;
}

void qvs_catalog_close(qvs_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->st.n; i++)
        qvs_coll_release(cat, cat->st.colls[i]);
    free(cat->st.colls);
    qvs_aliases_free(cat->st.aliases, cat->st.n_aliases);
    qv_store_close(cat->store);
    pthread_mutex_destroy(&cat->mu);
    pthread_mutex_destroy(&cat->meta_mu);
    pthread_mutex_destroy(&cat->op_mu);
    free(cat->url_hosts);
    free(cat->dir);
    free(cat);
}

/* ---- changes
 * ------------------------------------------------------------------
 */

/* Writes next (the state about to be published) to catalog.json. */
static bool commit(qvs_catalog *cat, const qvs_catalog_state *next,
                   const qvs_coll *c, const cJSON *config, const cJSON *schema,
                   qvs_resp *r)
{
    char err[512];
    if (qvs_catalog_save(cat->dir, next, c, config, schema, err, sizeof(err)))
        return true;
    fprintf(stderr, "quiver serve: %s\n", err);
    return qvs_fail(r, 500, "Service internal error: %s", err);
}

/* Publishes next's arrays; returns the old ones for freeing. */
static void publish(qvs_catalog *cat, qvs_catalog_state *next)
{
    pthread_mutex_lock(&cat->mu);
    qvs_catalog_state old = cat->st;
    cat->st = *next;
    pthread_mutex_unlock(&cat->mu);
    *next = old;
}

bool qvs_catalog_create(qvs_catalog *cat, const char *name, const cJSON *body,
                        qvs_resp *r)
{
    /* Control characters are refused for new names only, so that a
     * catalog written before still opens (catalog_file.c checks
     * qvs_name_invalid). */
    char ctl[64];
    const char *why = qvs_name_invalid(name);
    if (!why)
        why = qvs_name_control(name, ctl, sizeof(ctl));
    if (why)
        return qvs_fail(r, 422,
                        "Validation error in path parameters: [name: %s]", why);
    qvs_spec spec;
    if (!qvs_spec_from_create(body, &spec, r))
        return false;
    pthread_mutex_lock(&cat->meta_mu);
    qvs_catalog_state next = cat->st;
    qvs_coll *c = NULL;
    bool ok = false;
    if (find_coll(&cat->st, name) >= 0) {
        qvs_fail(r, 409, "Wrong input: Collection `%s` already exists!", name);
    } else if (find_alias(cat->st.aliases, cat->st.n_aliases, name) >= 0) {
        qvs_fail(r, 400,
                 "Wrong input: Can't create collection with name %s. Alias "
                 "with the same name already exists",
                 name);
    } else if ((c = coll_new(cat, name, &spec, cat->st.next_id, r))) {
        next.colls = malloc((cat->st.n + 1) * sizeof(*next.colls));
        if (!next.colls) {
            qvs_fail(r, 500, OOM);
        } else {
            size_t at = 0;
            while (at < cat->st.n && strcmp(cat->st.colls[at]->name, name) < 0)
                at++;
            for (size_t i = 0; i < cat->st.n; i++)
                next.colls[i + (i >= at)] = cat->st.colls[i];
            next.colls[at] = c;
            next.n = cat->st.n + 1;
            next.next_id = cat->st.next_id + 1;
            ok = commit(cat, &next, NULL, NULL, NULL, r);
        }
    }
    if (ok) {
        publish(cat, &next);
        free(next.colls); /* the old array */
    } else {
        if (c)
            drop_libs(cat, c);
        qvs_coll_free(c);
        if (next.colls != cat->st.colls)
            free(next.colls);
    }
    pthread_mutex_unlock(&cat->meta_mu);
    qvs_spec_free(&spec);
    return ok;
}

bool qvs_catalog_delete(qvs_catalog *cat, const char *name, bool *deleted,
                        qvs_resp *r)
{
    *deleted = false;
    pthread_mutex_lock(&cat->meta_mu);
    ptrdiff_t at = find_coll(&cat->st, name);
    if (at < 0) {
        pthread_mutex_unlock(&cat->meta_mu);
        return true;
    }
    qvs_coll *c = cat->st.colls[at];
    qvs_catalog_state next = cat->st;
    next.colls = malloc((cat->st.n ? cat->st.n : 1) * sizeof(*next.colls));
    next.aliases =
        calloc(cat->st.n_aliases ? cat->st.n_aliases : 1, sizeof(qvs_alias));
    bool ok = next.colls && next.aliases;
    next.n = next.n_aliases = 0;
    for (size_t i = 0; ok && i < cat->st.n; i++)
        if (i != (size_t)at)
            next.colls[next.n++] = cat->st.colls[i];
    for (size_t i = 0; ok && i < cat->st.n_aliases; i++) {
        const qvs_alias *a = &cat->st.aliases[i];
        if (strcmp(a->coll, name) == 0)
            continue;
        qvs_alias *d = &next.aliases[next.n_aliases++];
        d->alias = strdup(a->alias);
        d->coll = strdup(a->coll);
        ok = d->alias && d->coll;
    }
    if (!ok)
        qvs_fail(r, 500, OOM);
    ok = ok && commit(cat, &next, NULL, NULL, NULL, r);
    if (ok) {
        publish(cat, &next);
        drop_libs(cat, c);
    }
    free(next.colls);
    qvs_aliases_free(next.aliases, next.n_aliases);
    pthread_mutex_unlock(&cat->meta_mu);
    if (ok) {
        qvs_coll_release(cat, c); /* the catalog's reference */
        *deleted = true;
    }
    return ok;
}

bool qvs_catalog_update(qvs_catalog *cat, const char *name, const cJSON *body,
                        qvs_resp *r)
{
    pthread_mutex_lock(&cat->meta_mu);
    qvs_coll *c = resolve(&cat->st, name);
    cJSON *config = NULL;
    bool ok = false;
    char err[512];
    if (!c)
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", name);
    else if ((config = qvs_config_patch(c->config, c, body, r))) {
        /* Sparse params first (sparse_config.c): a refusal (a value out
         * of float16's range) fails the PATCH before anything commits,
         * and a failed commit puts the old params back. */
        qv_status st = qvs_sparse_sync(c, config, false, err, sizeof(err));
        if (st == QV_OK)
            ok = commit(cat, &cat->st, c, config, NULL, r);
        else if (st == QV_ERANGE || st == QV_EINVAL)
            qvs_fail(r, 400, "Bad request: %s", err);
        else
            qvs_fail(r, 500, "Service internal error: %s", err);
        if (!ok)
            (void)qvs_sparse_sync(c, c->config, false, err, sizeof(err));
    }
    if (ok) {
        pthread_mutex_lock(&cat->mu);
        cJSON *old = c->config;
        c->config = config;
        pthread_mutex_unlock(&cat->mu);
        /* A changed quantization rebuilds codes (searches wait for them).
         * A failure is memory: the committed config is applied again at
         * the next open. */
        if (qvs_quant_sync(c, config, err, sizeof(err)) != QV_OK ||
            !sync_on_disk(cat, c, config, err, sizeof(err)))
            ok = qvs_fail(r, 500, "Service internal error: %s", err);
        config = old;
    }
    cJSON_Delete(config);
    pthread_mutex_unlock(&cat->meta_mu);
    return ok;
}

/* ---- payload indexes -------------------------------------------------------
 */

typedef enum { SCHEMA_ADD, SCHEMA_DROP } schema_op;

/* Adds info under field (taking it) or drops field, committing the new
 * schema before publishing it.  Under meta_mu, as every change: the
 * schema read here cannot be replaced meanwhile. */
static bool change_schema(qvs_catalog *cat, qvs_coll *c, const char *field,
                          schema_op op, cJSON *info, qvs_resp *r)
{
    pthread_mutex_lock(&cat->meta_mu);
    ptrdiff_t at = find_coll(&cat->st, c->name);
    cJSON *next = NULL;
    bool ok = false;
    if (at < 0 || cat->st.colls[at] != c) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", c->name);
    } else if (!(next = cJSON_Duplicate(c->payload_schema, true))) {
        qvs_fail(r, 500, OOM);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(next, field);
        if (op == SCHEMA_ADD) {
            cJSON_AddItemToObject(next, field, info);
            info = NULL;
        }
        ok = commit(cat, &cat->st, c, NULL, next, r);
    }
    if (ok) {
        pthread_mutex_lock(&cat->mu);
        cJSON *old = c->payload_schema;
        c->payload_schema = next;
        pthread_mutex_unlock(&cat->mu);
        next = old;
    }
    pthread_mutex_unlock(&cat->meta_mu);
    cJSON_Delete(next);
    cJSON_Delete(info);
    return ok;
}

bool qvs_catalog_index_create(qvs_catalog *cat, qvs_coll *c, const char *field,
                              const cJSON *schema, qvs_resp *r)
{
    static const char *const types[] = {"keyword",  "integer", "float",
                                        "geo",      "text",    "bool",
                                        "datetime", "uuid"};
    const cJSON *type = cJSON_IsObject(schema)
                            ? cJSON_GetObjectItemCaseSensitive(schema, "type")
                            : schema;
    bool known = false;
    for (size_t i = 0; cJSON_IsString(type) && i < 8; i++)
        known = known || strcmp(type->valuestring, types[i]) == 0;
    if (!known)
        return qvs_fail(r, 400,
                        "Format error in JSON body: field_schema: unknown "
                        "variant, expected one of `keyword`, `integer`, "
                        "`float`, `geo`, `text`, `bool`, `datetime`, `uuid` "
                        "or a map with such a `type`");
    /* A text index's params are read, validated and shown as Qdrant
     * shows them (text_index.c); other kinds keep them as given. */
    cJSON *params = NULL;
    bool text =
        cJSON_IsObject(schema) && strcmp(type->valuestring, "text") == 0;
    if (text && !(params = qvs_text_index_params(schema, r)))
        return false;
    if (!params && cJSON_IsObject(schema) &&
        !(params = cJSON_Duplicate(schema, true)))
        return qvs_fail(r, 500, OOM);
    qv_status st = lib_index(c, field, type->valuestring, params, false);
    if (st != QV_OK) {
        cJSON_Delete(params);
        return qvs_fail(r, st == QV_ENOMEM ? 500 : 400,
                        "Wrong input: cannot index `%s` as %s: %s", field,
                        type->valuestring, qv_strerror(st));
    }
    cJSON *info = cJSON_CreateObject();
    if (!info ||
        !cJSON_AddStringToObject(info, "data_type", type->valuestring) ||
        (params && !cJSON_AddItemToObject(info, "params", params))) {
        if (!info || !cJSON_GetObjectItemCaseSensitive(info, "params"))
            cJSON_Delete(params);
        cJSON_Delete(info);
        return qvs_fail(r, 500, OOM);
    }
    return change_schema(cat, c, field, SCHEMA_ADD, info, r);
}

bool qvs_catalog_index_drop(qvs_catalog *cat, qvs_coll *c, const char *field,
                            qvs_resp *r)
{
    qv_status st = lib_index(c, field, NULL, NULL, true);
    if (st == QV_EINVAL) /* a field no index can have (found by fuzz_grpc) */
        return qvs_fail(r, 400,
                        "Wrong input: cannot drop the index on `%s`: %s", field,
                        qv_strerror(st));
    if (st != QV_OK)
        return qvs_fail(r, 500,
                        "Service internal error: cannot drop the "
                        "index on `%s`: %s",
                        field, qv_strerror(st));
    return change_schema(cat, c, field, SCHEMA_DROP, NULL, r);
}

/* ---- aliases
 * ------------------------------------------------------------------
 */

typedef struct alias_set {
    qvs_alias *a;
    size_t n, cap;
} alias_set;

static bool alias_put(alias_set *s, const char *alias, const char *coll)
{
    ptrdiff_t i = find_alias(s->a, s->n, alias);
    char *c = strdup(coll);
    if (!c)
        return false;
    if (i >= 0) {
        free(s->a[i].coll);
        s->a[i].coll = c;
        return true;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        qvs_alias *a = realloc(s->a, cap * sizeof(*a));
        if (!a) {
            free(c);
            return false;
        }
        s->a = a;
        s->cap = cap;
    }
    s->a[s->n].alias = strdup(alias);
    s->a[s->n].coll = c;
    if (!s->a[s->n].alias) {
        free(c);
        return false;
    }
    s->n++;
    return true;
}

static void alias_remove(alias_set *s, const char *alias)
{
    ptrdiff_t i = find_alias(s->a, s->n, alias);
    if (i < 0)
        return;
    free(s->a[i].alias);
    free(s->a[i].coll);
    s->a[i] = s->a[--s->n];
}

static const char *action_str(const cJSON *op, const char *key, size_t i,
                              const char *action, qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(op, key);
    if (cJSON_IsString(j))
        return j->valuestring;
    qvs_fail(r, 400,
             "Format error in JSON body: actions[%zu].%s: missing or "
             "mistyped field `%s`",
             i, action, key);
    return NULL;
}

/* A new alias name: valid, and not a collection's name (409). */
static bool alias_name_ok(const qvs_catalog_state *st, const char *alias,
                          size_t i, const char *action, const char *field,
                          qvs_resp *r)
{
    const char *why = qvs_name_invalid(alias);
    if (why)
        return qvs_fail(r, 422,
                        "Validation error in JSON body: [actions[%zu].%s.%s: "
                        "%s]",
                        i, action, field, why);
    if (find_coll(st, alias) >= 0)
        return qvs_fail(r, 409, "Wrong input: Collection `%s` already exists!",
                        alias);
    return true;
}

static bool apply_action(const qvs_catalog_state *st, alias_set *s,
                         const cJSON *action, size_t i, qvs_resp *r)
{
    const cJSON *op;
    if ((op = cJSON_GetObjectItemCaseSensitive(action, "create_alias"))) {
        const char *coll =
            action_str(op, "collection_name", i, "create_alias", r);
        const char *alias =
            coll ? action_str(op, "alias_name", i, "create_alias", r) : NULL;
        if (!alias)
            return false;
        if (find_coll(st, coll) < 0)
            return qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                            coll);
        return alias_name_ok(st, alias, i, "create_alias", "alias_name", r) &&
               (alias_put(s, alias, coll) || qvs_fail(r, 500, OOM));
    }
    if ((op = cJSON_GetObjectItemCaseSensitive(action, "delete_alias"))) {
        const char *alias = action_str(op, "alias_name", i, "delete_alias", r);
        if (!alias)
            return false;
        alias_remove(s, alias);
        return true;
    }
    if ((op = cJSON_GetObjectItemCaseSensitive(action, "rename_alias"))) {
        const char *from =
            action_str(op, "old_alias_name", i, "rename_alias", r);
        const char *to =
            from ? action_str(op, "new_alias_name", i, "rename_alias", r)
                 : NULL;
        if (!to)
            return false;
        ptrdiff_t k = find_alias(s->a, s->n, from);
        if (k < 0)
            return qvs_fail(r, 404, "Not found: Alias %s does not exists!",
                            from);
        if (!alias_name_ok(st, to, i, "rename_alias", "new_alias_name", r))
            return false;
        char *coll = strdup(s->a[k].coll);
        bool ok = coll != NULL;
        if (ok) {
            alias_remove(s, from);
            ok = alias_put(s, to, coll);
        }
        free(coll);
        return ok || qvs_fail(r, 500, OOM);
    }
    return qvs_fail(r, 400,
                    "Format error in JSON body: actions[%zu]: unknown variant, "
                    "expected one of `create_alias`, `delete_alias`, "
                    "`rename_alias`",
                    i);
}

static int alias_cmp(const void *a, const void *b)
{
    return strcmp(((const qvs_alias *)a)->alias, ((const qvs_alias *)b)->alias);
}

bool qvs_catalog_update_aliases(qvs_catalog *cat, const cJSON *body,
                                qvs_resp *r)
{
    const cJSON *actions = cJSON_GetObjectItemCaseSensitive(body, "actions");
    if (!body)
        return qvs_fail(r, 400,
                        "Format error in JSON body: EOF while parsing "
                        "a value at line 1 column 0");
    if (!cJSON_IsArray(actions))
        return qvs_fail(r, 400,
                        "Format error in JSON body: missing field "
                        "`actions` (an array)");
    pthread_mutex_lock(&cat->meta_mu);
    alias_set s = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < cat->st.n_aliases; i++)
        ok = alias_put(&s, cat->st.aliases[i].alias, cat->st.aliases[i].coll);
    if (!ok)
        qvs_fail(r, 500, OOM);
    size_t i = 0;
    const cJSON *action;
    cJSON_ArrayForEach(action, actions)
    {
        ok = ok && apply_action(&cat->st, &s, action, i++, r);
    }
    qvs_catalog_state next = cat->st;
    if (ok) {
        if (s.n) /* s.a is NULL without aliases: qsort's argument is nonnull */
            qsort(s.a, s.n, sizeof(*s.a), alias_cmp);
        next.aliases = s.a;
        next.n_aliases = s.n;
        ok = commit(cat, &next, NULL, NULL, NULL, r);
    }
    if (ok) {
        publish(cat, &next);
        s.a = next.aliases; /* the old ones, freed below */
        s.n = next.n_aliases;
    }
    qvs_aliases_free(s.a, s.n);
    pthread_mutex_unlock(&cat->meta_mu);
    return ok;
}

cJSON *qvs_catalog_aliases(qvs_catalog *cat, const char *collection,
                           qvs_resp *r)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(res, "aliases");
    if (!arr) {
        cJSON_Delete(res);
        qvs_fail(r, 500, OOM);
        return NULL;
    }
    pthread_mutex_lock(&cat->mu);
    const qvs_coll *c = collection ? resolve(&cat->st, collection) : NULL;
    bool ok = !collection || c;
    for (size_t i = 0; ok && i < cat->st.n_aliases; i++) {
        const qvs_alias *a = &cat->st.aliases[i];
        if (c && strcmp(a->coll, c->name) != 0)
            continue;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, d);
        ok = cJSON_AddStringToObject(d, "alias_name", a->alias) &&
             cJSON_AddStringToObject(d, "collection_name", a->coll);
    }
    pthread_mutex_unlock(&cat->mu);
    if (!ok) {
        cJSON_Delete(res);
        if (collection && !c)
            qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!",
                     collection);
        else
            qvs_fail(r, 500, OOM);
        return NULL;
    }
    return res;
}

/* ---- restoring from a snapshot ---------------------------------------------
 */

bool qvs_catalog_set_url_hosts(qvs_catalog *cat, const char *hosts)
{
    char *copy = hosts && *hosts ? strdup(hosts) : NULL;
    if (hosts && *hosts && !copy)
        return false;
    free(cat->url_hosts);
    cat->url_hosts = copy;
    return true;
}

const char *qvs_catalog_url_hosts(const qvs_catalog *cat)
{
    return cat->url_hosts;
}

const char *qvs_catalog_dir(const qvs_catalog *cat)
{
    return cat->dir;
}

#define COPY_PAGE 256

/* Copies every point of src (vectors of dim floats, or sparse vectors,
 * and payloads) into dst, a page at a time. */
static qv_status copy_points(qv_collection *src, qv_collection *dst,
                             uint32_t dim, bool sparse)
{
    qv_collection_config sc;
    if (qv_collection_get_config(src, &sc) == QV_OK &&
        sc.multivector != QV_MULTIVECTOR_NONE)
        return qvs_mv_copy_points(src, dst, dim);
    qv_point_id ids[COPY_PAGE], next;
    float *vecs = malloc((size_t)COPY_PAGE * (dim ? dim : 1) * sizeof(float));
    qvs_sparse_vec sv[COPY_PAGE];
    char *pay[COPY_PAGE] = {0};
    size_t lens[COPY_PAGE];
    memset(sv, 0, sizeof(sv));
    qv_status st = vecs ? QV_OK : QV_ENOMEM;
    bool more = true, first = true;
    while (st == QV_OK && more) {
        size_t n = 0;
        st = qv_scroll(src, first ? NULL : &next, NULL, COPY_PAGE, ids, &n,
                       &next, &more);
        first = false;
        for (size_t i = 0; st == QV_OK && i < n; i++) {
            st = sparse ? qv_sparse_get(src, &ids[i], &sv[i].indices,
                                        &sv[i].values, &sv[i].nnz)
                        : qv_get(src, &ids[i], vecs + i * dim, dim);
            if (st == QV_OK)
                st = qv_payload_get(src, &ids[i], NULL, &pay[i], &lens[i]);
        }
        if (st == QV_OK && n)
            st = sparse
                     ? qvs_sparse_upsert(dst, ids, sv, n,
                                         (const char *const *)pay, lens)
                     : qv_upsert_with_payloads(dst, ids, vecs, n, dim,
                                               (const char *const *)pay, lens);
        for (size_t i = 0; i < n; i++) {
            qv_free(pay[i]);
            pay[i] = NULL;
            qvs_sparse_vec_free(&sv[i]);
        }
    }
    free(vecs);
    return st;
}

/* Names c's library collections after its new id and creates them. */
static bool restore_libs(qvs_catalog *cat, qvs_coll *c, uint64_t id,
                         qvs_resp *r)
{
    c->id = id;
    free(c->points_lib);
    c->points_lib = lib_name(id, c->name, NULL, 0);
    bool ok = c->points_lib != NULL;
    for (size_t i = 0; ok && i < c->n_vectors; i++) {
        free(c->vector_libs[i]);
        c->vector_libs[i] = c->named
                                ? lib_name(id, c->name, c->vectors[i].name, i)
                                : strdup(c->points_lib);
        ok = c->vector_libs[i] != NULL;
    }
    if (!ok)
        return qvs_fail(r, 500, OOM);
    char err[512];
    if (!attach_all(cat, c, true, err, sizeof(err)))
        return qvs_fail(r, 500, "Service internal error: %s", err);
    return true;
}

static bool restore_fill(qvs_coll *c, qv_collection *const *members,
                         qvs_resp *r)
{
    qv_status st = copy_points(members[0], c->points,
                               c->named ? 1 : c->vectors[0].size, false);
    for (size_t i = 0; st == QV_OK && c->named && i < c->n_vectors; i++)
        st = copy_points(members[1 + i], c->vectors[i].coll, c->vectors[i].size,
                         c->vectors[i].sparse);
    if (st != QV_OK)
        return qvs_fail(r, st == QV_ENOMEM ? 500 : 400,
                        "Wrong input: cannot restore the snapshot's points: %s",
                        qv_strerror(st));
    char err[512];
    if (!rebuild_indexes(c, err, sizeof(err)))
        return qvs_fail(r, 500, "Service internal error: %s", err);
    return true;
}

bool qvs_catalog_restore(qvs_catalog *cat, const char *name, qvs_coll *tmpl,
                         qv_collection *const *members, size_t n_members,
                         qvs_resp *r)
{
    free(tmpl->name);
    tmpl->name = strdup(name);
    if (!tmpl->name) {
        qvs_coll_free(tmpl);
        return qvs_fail(r, 500, OOM);
    }
    if (n_members != (tmpl->named ? 1 + tmpl->n_vectors : 1)) {
        qvs_coll_free(tmpl);
        return qvs_fail(r, 400,
                        "Bad request: the snapshot has %zu members, its "
                        "collection needs %zu",
                        n_members, tmpl->named ? 1 + tmpl->n_vectors : 1);
    }
    pthread_mutex_lock(&cat->meta_mu);
    ptrdiff_t at = find_coll(&cat->st, name);
    qvs_coll *old = at >= 0 ? cat->st.colls[at] : NULL;
    qvs_catalog_state next = cat->st;
    bool made = false, ok = true;
    if (!old && find_alias(cat->st.aliases, cat->st.n_aliases, name) >= 0)
        ok = qvs_fail(r, 400,
                      "Wrong input: Can't create collection with name %s. "
                      "Alias with the same name already exists",
                      name);
    ok = ok && (made = restore_libs(cat, tmpl, cat->st.next_id, r)) &&
         restore_fill(tmpl, members, r);
    if (ok) {
        next.n = cat->st.n + (old ? 0 : 1);
        next.colls = malloc(next.n * sizeof(*next.colls));
        ok = next.colls || qvs_fail(r, 500, OOM);
    }
    if (ok) {
        size_t k = 0;
        bool placed = false;
        for (size_t i = 0; i < cat->st.n; i++) {
            qvs_coll *e = cat->st.colls[i];
            if (!placed && strcmp(e->name, name) >= 0) {
                next.colls[k++] = tmpl;
                placed = true;
            }
            if (e != old)
                next.colls[k++] = e;
        }
        if (!placed)
            next.colls[k++] = tmpl;
        next.next_id = cat->st.next_id + 1;
        ok = commit(cat, &next, NULL, NULL, NULL, r);
    }
    if (ok) {
        publish(cat, &next);
        free(next.colls); /* the old array */
        if (old)
            drop_libs(cat, old);
    } else {
        if (next.colls != cat->st.colls)
            free(next.colls);
        if (made)
            drop_libs(cat, tmpl);
        qvs_coll_free(tmpl);
    }
    pthread_mutex_unlock(&cat->meta_mu);
    if (ok && old)
        qvs_coll_release(cat, old); /* the catalog's reference */
    return ok;
}

/* ---- named vectors ---------------------------------------------------------
 *
 * PUT/DELETE /collections/{c}/vectors/{v} (vector_names.c) change a live
 * collection's vector set.  Handlers read c->vectors without a lock, so the
 * set is never changed in place: a copy with the new set (sharing every
 * other library collection) replaces c in the catalog, as restore does.
 * Adding creates the new library collection before catalog.json names it;
 * dropping rewrites catalog.json before the library collection goes.  A
 * crash between the two leaves a library collection no entry names, which
 * reconcile() drops at the next open: either way the catalog and the store
 * agree after a restart.  c's write_mu is held across the swap so that no
 * write is half applied to the old set.
 */

/* A copy of c's vectors and libraries (retained), with room for one more. */
static qvs_coll *coll_clone(const qvs_coll *c)
{
    size_t cap = c->n_vectors + 1;
    qvs_coll *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    pthread_mutex_init(&d->write_mu, NULL);
    d->refs = 1;
    d->id = c->id;
    d->named = c->named;
    d->name = strdup(c->name);
    d->points_lib = strdup(c->points_lib);
    d->payload_schema = cJSON_Duplicate(c->payload_schema, true);
    d->vectors = calloc(cap, sizeof(*d->vectors));
    d->vector_libs = calloc(cap, sizeof(*d->vector_libs));
    d->vector_cfgs = calloc(cap, sizeof(*d->vector_cfgs));
    bool ok = d->name && d->points_lib && d->payload_schema && d->vectors &&
              d->vector_libs && d->vector_cfgs;
    if (ok) {
        qv_collection_retain(c->points);
        d->points = c->points;
    }
    for (size_t i = 0; ok && i < c->n_vectors; i++) {
        d->vectors[i] = c->vectors[i];
        d->vectors[i].name = strdup(c->vectors[i].name);
        d->vector_libs[i] = strdup(c->vector_libs[i]);
        d->vector_cfgs[i] = c->vector_cfgs[i];
        qv_collection_retain(c->vectors[i].coll);
        d->n_vectors = i + 1;
        ok = d->vectors[i].name && d->vector_libs[i];
    }
    if (!ok) {
        qvs_coll_free(d);
        return NULL;
    }
    return d;
}

/* A library name for d's new vector that no vector of d uses (k counts
 * up from n_vectors: the sorted index of the others may be taken). */
static char *new_vector_lib(const qvs_coll *d, const char *vname)
{
    for (size_t k = d->n_vectors;; k++) {
        char *lib = lib_name(d->id, d->name, vname, k);
        bool used = false;
        for (size_t i = 0; lib && !used && i < d->n_vectors; i++)
            used = strcmp(d->vector_libs[i], lib) == 0;
        if (!used)
            return lib;
        free(lib);
    }
}

/* Inserts spec's vector into d at its sorted place and creates its
 * library collection. */
static bool clone_add(qvs_catalog *cat, qvs_coll *d, const char *vname,
                      const qvs_spec *spec, qvs_resp *r)
{
    const qvs_vspec *v = &spec->v[0];
    size_t at = 0;
    while (at < d->n_vectors && strcmp(d->vectors[at].name, vname) < 0)
        at++;
    qvs_vector nv = {.name = strdup(vname),
                     .size = v->size,
                     .metric = v->metric,
                     .sparse = v->lib.kind == QV_VECTOR_SPARSE};
    char *lib = new_vector_lib(d, vname);
    char err[512];
    if (!nv.name || !lib) {
        free(nv.name);
        free(lib);
        return qvs_fail(r, 500, OOM);
    }
    if (attach(cat, lib, &v->lib, true, &nv.coll, err, sizeof(err)) != QV_OK) {
        free(nv.name);
        free(lib);
        return qvs_fail(r, 500, "Service internal error: %s", err);
    }
    size_t tail = d->n_vectors - at;
    memmove(&d->vectors[at + 1], &d->vectors[at], tail * sizeof(nv));
    memmove(&d->vector_libs[at + 1], &d->vector_libs[at], tail * sizeof(lib));
    memmove(&d->vector_cfgs[at + 1], &d->vector_cfgs[at],
            tail * sizeof(v->lib));
    d->vectors[at] = nv;
    d->vector_libs[at] = lib;
    d->vector_cfgs[at] = v->lib;
    d->n_vectors++;
    return true;
}

/* Removes vector k from d (its library collection stays in the store). */
static void clone_remove(qvs_coll *d, size_t k)
{
    free(d->vectors[k].name);
    qv_collection_release(d->vectors[k].coll);
    free(d->vector_libs[k]);
    size_t tail = d->n_vectors - k - 1;
    memmove(&d->vectors[k], &d->vectors[k + 1], tail * sizeof(*d->vectors));
    memmove(&d->vector_libs[k], &d->vector_libs[k + 1],
            tail * sizeof(*d->vector_libs));
    memmove(&d->vector_cfgs[k], &d->vector_cfgs[k + 1],
            tail * sizeof(*d->vector_cfgs));
    d->n_vectors--;
}

/* Drops the library collection made for d's new vector vname. */
static void drop_new_vector(qvs_catalog *cat, const qvs_coll *d,
                            const char *vname)
{
    const qvs_vector *v = qvs_coll_vector(d, vname);
    if (v)
        qv_store_drop(cat->store, d->vector_libs[v - d->vectors]);
}

/* c's replacement with the changed vector set, or NULL (failed into r,
 * or *noop when nothing is to change). */
static qvs_coll *reshaped(qvs_catalog *cat, const qvs_coll *c,
                          const char *vname, const qvs_spec *spec, bool *noop,
                          qvs_resp *r)
{
    const qvs_vector *old = qvs_coll_vector(c, vname);
    *noop = false;
    if (spec) {
        int clash = qvs_vector_name_clash(c->config, vname, spec, r);
        *noop = clash > 0;
        if (clash)
            return NULL;
    } else if (!old) {
        *noop = true; /* Qdrant: deleting a vector that does not exist */
        return NULL;
    }
    cJSON *config = qvs_vector_config_change(c->config, vname, spec);
    qvs_coll *d = config ? coll_clone(c) : NULL;
    if (!d) {
        cJSON_Delete(config);
        qvs_fail(r, 500, OOM);
        return NULL;
    }
    d->config = config;
    bool ok = true;
    if (spec)
        ok = clone_add(cat, d, vname, spec, r);
    else
        clone_remove(d, (size_t)(old - c->vectors));
    char err[512];
    if (ok && spec && qvs_quant_sync(d, config, err, sizeof(err)) != QV_OK)
        ok = qvs_fail(r, 500, "Service internal error: %s", err);
    if (!ok) {
        if (spec)
            drop_new_vector(cat, d, vname);
        qvs_coll_free(d);
        return NULL;
    }
    return d;
}

/* Puts d in c's place (catalog.json first); false leaves all as it was. */
static bool swap_coll(qvs_catalog *cat, qvs_coll *c, qvs_coll *d, qvs_resp *r)
{
    qvs_catalog_state next = cat->st;
    next.colls = malloc((cat->st.n ? cat->st.n : 1) * sizeof(*next.colls));
    if (!next.colls)
        return qvs_fail(r, 500, OOM);
    for (size_t i = 0; i < cat->st.n; i++)
        next.colls[i] = cat->st.colls[i] == c ? d : cat->st.colls[i];
    bool ok = commit(cat, &next, NULL, NULL, NULL, r);
    if (ok)
        publish(cat, &next); /* next.colls is now the old array */
    free(next.colls);
    return ok;
}

bool qvs_catalog_vector_change(qvs_catalog *cat, const char *name,
                               const char *vname, const qvs_spec *spec,
                               qvs_resp *r)
{
    pthread_mutex_lock(&cat->meta_mu);
    qvs_coll *c = resolve(&cat->st, name);
    qvs_coll *d = NULL;
    bool ok = false, noop = false;
    if (!c) {
        qvs_fail(r, 404, "Not found: Collection `%s` doesn't exist!", name);
    } else if (!c->named) {
        qvs_fail(r, 400,
                 "Bad request: collection `%s` has one unnamed vector; adding "
                 "or deleting vectors by name needs a collection created "
                 "with named vectors on this server (Quiver)",
                 c->name);
    } else {
        pthread_mutex_lock(&c->write_mu);
        d = reshaped(cat, c, vname, spec, &noop, r);
        ok = noop || (d && swap_coll(cat, c, d, r));
        pthread_mutex_unlock(&c->write_mu);
    }
    if (ok && d && !spec) {
        const qvs_vector *v = qvs_coll_vector(c, vname);
        qv_store_drop(cat->store, c->vector_libs[v - c->vectors]);
    } else if (!ok && d) {
        if (spec)
            drop_new_vector(cat, d, vname);
        qvs_coll_free(d);
    }
    pthread_mutex_unlock(&cat->meta_mu);
    if (ok && d)
        qvs_coll_release(cat, c); /* the catalog's reference */
    return ok;
}
