/*
 * catalog_file.c -- the catalog's metadata on disk: STORAGE/catalog.json.
 *
 * The points themselves live in the library store (one library collection
 * per vector, see catalog.h); this file holds what the store does not
 * know: the Qdrant collections, which library collections make up each of
 * them, their configs as CollectionInfo shows them, their payload index
 * schemas, the aliases, and the next collection id.  It is small and
 * rewritten whole on every metadata change: a temporary file in the same
 * directory, fsync, rename over the old one, fsync of the directory (the
 * library's qv_file_replace_*), so a crash leaves either the old or the
 * new catalog, never a mixture.
 *
 *   {"quiver_catalog": 1, "next_id": 3,
 *    "collections": [{"name": "docs", "id": 1, "named": false,
 *                     "points": "c1_docs",
 *                     "vectors": [{"name": "", "size": 384,
 *                                  "distance": "Cosine",
 *                                  "library": "c1_docs", "m": 16,
 *                                  "ef_construct": 100,
 *                                  "full_scan_threshold_kb": 10000,
 *                                  "max_indexing_threads": 0}],
 *                     "config": {...}, "payload_schema": {...}}],
 *    "aliases": [{"alias_name": "prod", "collection_name": "docs"}]}
 *
 * The file is input like any other: every field is type- and
 * range-checked, names are validated, duplicates and dangling aliases are
 * refused, and the error names the entry ("catalog.json:
 * collections[2].vectors[0].size: ...") rather than starting with a
 * catalog the server would misread.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CATALOG_FILE      "catalog.json"
#define CATALOG_FORMAT    1
#define CATALOG_MAX_BYTES (256u << 20)

/* ---- writing ---------------------------------------------------------------
 */

/* Replaces dir/name with text, durably, through the library's public
 * qv_file_replace_* calls: the server keeps no file-durability code of its
 * own (snapshots.c uses the same calls).  A failed write is remembered by
 * the writer and reported by the commit. */
static bool write_atomic(const char *dir, const char *name, const char *text,
                         size_t len, char *err, size_t cap)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, cap, "path too long: %s/%s", dir, name);
        return false;
    }
    qv_file_writer *w;
    if (qv_file_replace_begin(path, &w, err, cap) != QV_OK)
        return false;
    qv_file_replace_write(w, text, len);
    return qv_file_replace_commit(w, err, cap) == QV_OK;
}

static cJSON *vector_json(const qvs_coll *c, size_t i)
{
    const qv_collection_config *lib = &c->vector_cfgs[i];
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "name", c->vectors[i].name);
    cJSON_AddNumberToObject(v, "size", c->vectors[i].size);
    cJSON_AddStringToObject(v, "distance",
                            qv_metric_name(c->vectors[i].metric));
    cJSON_AddStringToObject(v, "library", c->vector_libs[i]);
    cJSON_AddNumberToObject(v, "m", lib->hnsw_m);
    cJSON_AddNumberToObject(v, "ef_construct", lib->hnsw_ef_construct);
    cJSON_AddNumberToObject(v, "full_scan_threshold_kb",
                            lib->full_scan_threshold_kb);
    cJSON_AddNumberToObject(v, "max_indexing_threads",
                            lib->max_indexing_threads);
    if (c->vectors[i].sparse) {
        /* A sparse vector (server/sparse.h): size 0, its library config. */
        cJSON *sp = cJSON_AddObjectToObject(v, "sparse");
        cJSON_AddStringToObject(
            sp, "modifier",
            lib->sparse_modifier == QV_SPARSE_MODIFIER_IDF ? "idf" : "none");
        cJSON_AddNumberToObject(sp, "full_scan_threshold",
                                lib->sparse_full_scan_threshold);
    }
    if (lib->multivector == QV_MULTIVECTOR_MAX_SIM)
        cJSON_AddStringToObject(v, "multivector", "max_sim");
    /* Absent: float32 (catalogs written before datatypes were applied). */
    if (lib->datatype == QV_DATATYPE_FLOAT16)
        cJSON_AddStringToObject(v, "datatype", "float16");
    else if (lib->datatype == QV_DATATYPE_UINT8)
        cJSON_AddStringToObject(v, "datatype", "uint8");
    return v;
}

static cJSON *coll_json(const qvs_coll *c, const cJSON *config,
                        const cJSON *schema)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddNumberToObject(j, "id", (double)c->id);
    cJSON_AddBoolToObject(j, "named", c->named);
    cJSON_AddStringToObject(j, "points", c->points_lib);
    cJSON *vs = cJSON_AddArrayToObject(j, "vectors");
    for (size_t i = 0; vs && i < c->n_vectors; i++)
        cJSON_AddItemToArray(vs, vector_json(c, i));
    cJSON_AddItemToObject(j, "config", cJSON_Duplicate(config, true));
    cJSON_AddItemToObject(j, "payload_schema", cJSON_Duplicate(schema, true));
    return j;
}

static cJSON *state_json(const qvs_catalog_state *st, const qvs_coll *override,
                         const cJSON *oconfig, const cJSON *oschema)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "quiver_catalog", CATALOG_FORMAT);
    cJSON_AddNumberToObject(root, "next_id", (double)st->next_id);
    cJSON *cs = cJSON_AddArrayToObject(root, "collections");
    for (size_t i = 0; cs && i < st->n; i++) {
        const qvs_coll *c = st->colls[i];
        bool o = c == override;
        cJSON_AddItemToArray(
            cs, coll_json(c, o && oconfig ? oconfig : c->config,
                          o && oschema ? oschema : c->payload_schema));
    }
    cJSON *as = cJSON_AddArrayToObject(root, "aliases");
    for (size_t i = 0; as && i < st->n_aliases; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "alias_name", st->aliases[i].alias);
        cJSON_AddStringToObject(a, "collection_name", st->aliases[i].coll);
        cJSON_AddItemToArray(as, a);
    }
    return root;
}

/* cJSON_Add* drop NULL items silently, so a failed allocation would leave a
 * hole in the tree; writing that would lose collections.  Check that every
 * part is there before writing. */
static bool complete(const cJSON *root, const qvs_catalog_state *st)
{
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "collections");
    const cJSON *as = cJSON_GetObjectItemCaseSensitive(root, "aliases");
    if (cJSON_GetArraySize(cs) != (int)st->n ||
        cJSON_GetArraySize(as) != (int)st->n_aliases)
        return false;
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cs)
    {
        const cJSON *vs = cJSON_GetObjectItemCaseSensitive(c, "vectors");
        if (cJSON_GetArraySize(vs) != (int)st->colls[i]->n_vectors ||
            !cJSON_GetObjectItemCaseSensitive(c, "config") ||
            !cJSON_GetObjectItemCaseSensitive(c, "payload_schema"))
            return false;
        i++;
    }
    return true;
}

bool qvs_catalog_save(const char *dir, const qvs_catalog_state *st,
                      const qvs_coll *override, const cJSON *override_config,
                      const cJSON *override_schema, char *err, size_t cap)
{
    cJSON *root = state_json(st, override, override_config, override_schema);
    char *text = root && complete(root, st) ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, cap, "out of memory writing %s", CATALOG_FILE);
        return false;
    }
    bool ok = write_atomic(dir, CATALOG_FILE, text, strlen(text), err, cap);
    free(text);
    return ok;
}

/* ---- reading ---------------------------------------------------------------
 */

typedef struct loader {
    char *err;
    size_t cap;
} loader;

static bool bad(loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool bad(loader *l, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(l->err, l->cap, "%s: %s", CATALOG_FILE, msg);
    return false;
}

static bool read_file(const char *path, char **text, size_t *len, bool *found,
                      loader *l)
{
    *found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return true;
        return bad(l, "cannot open: %s", strerror(errno));
    }
    *found = true;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > CATALOG_MAX_BYTES) {
        close(fd);
        return bad(l, "cannot read, or larger than %u bytes",
                   CATALOG_MAX_BYTES);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        return bad(l, "cannot read the whole file");
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return true;
}

bool qvs_lib_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > QV_MAX_NAME || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || strchr("<>:\"/\\|?*", ch))
            return false;
    }
    return true;
}

static bool get_uint(const cJSON *obj, const char *key, uint64_t max,
                     uint64_t *out, const char *where, loader *l)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) ||
        j->valuedouble > (double)max ||
        j->valuedouble != (double)(uint64_t)j->valuedouble)
        return bad(l, "%s.%s: expected an integer from 0 to %llu", where, key,
                   (unsigned long long)max);
    *out = (uint64_t)j->valuedouble;
    return true;
}

/* A vector entry's "datatype" (absent: float32, as catalogs written before
 * datatypes were applied): "float16" or "uint8". */
static bool load_datatype(const cJSON *v, qv_collection_config *cfg,
                          const char *where, loader *l)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "datatype");
    if (!dt)
        return true;
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "float16") == 0)
        cfg->datatype = QV_DATATYPE_FLOAT16;
    else if (cJSON_IsString(dt) && strcmp(dt->valuestring, "uint8") == 0)
        cfg->datatype = QV_DATATYPE_UINT8;
    else
        return bad(l, "%s.datatype: expected \"float16\" or \"uint8\"", where);
    return true;
}

static const char *get_str(const cJSON *obj, const char *key, const char *where,
                           loader *l)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(j)) {
        bad(l, "%s.%s: expected a string", where, key);
        return NULL;
    }
    return j->valuestring;
}

static bool load_lib_config(const cJSON *v, qvs_vector *vec,
                            qv_collection_config *cfg, const char *where,
                            loader *l)
{
    uint64_t m = 0, ef = 0, fst = 0, threads = 0;
    if (!get_uint(v, "m", QV_MAX_HNSW_M, &m, where, l) ||
        !get_uint(v, "ef_construct", QV_MAX_EF_CONSTRUCT, &ef, where, l) ||
        !get_uint(v, "full_scan_threshold_kb", UINT32_MAX, &fst, where, l) ||
        !get_uint(v, "max_indexing_threads", QV_MAX_INDEXING_THREADS, &threads,
                  where, l))
        return false;
    if (m < QV_MIN_HNSW_M || ef < QV_MIN_EF_CONSTRUCT)
        return bad(l, "%s: m or ef_construct below the library's minimum",
                   where);
    qv_collection_config_init(cfg);
    cfg->dim = vec->size;
    cfg->metric = vec->metric;
    cfg->hnsw_m = (uint32_t)m;
    cfg->hnsw_ef_construct = (uint32_t)ef;
    cfg->full_scan_threshold_kb = (uint32_t)fst;
    cfg->max_indexing_threads = (uint32_t)threads;
    /* Multivectors (absent: one vector a point). */
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(v, "multivector");
    if (mv && !(cJSON_IsString(mv) && strcmp(mv->valuestring, "max_sim") == 0))
        return bad(l, "%s.multivector: expected \"max_sim\"", where);
    if (mv)
        cfg->multivector = QV_MULTIVECTOR_MAX_SIM;
    return load_datatype(v, cfg, where, l);
}

/* A sparse vector's entry: "sparse": {"modifier", "full_scan_threshold"},
 * size 0, distance Dot, and "datatype" as a dense vector's. */
static bool load_sparse_vector(const cJSON *v, const cJSON *sp, qvs_coll *c,
                               size_t i, const char *where, loader *l)
{
    qvs_vector *vec = &c->vectors[i];
    const char *name = get_str(v, "name", where, l);
    const char *lib = get_str(v, "library", where, l);
    const char *mod = get_str(sp, "modifier", where, l);
    uint64_t fst = 0;
    if (!name || !lib || !mod ||
        !get_uint(sp, "full_scan_threshold", UINT32_MAX, &fst, where, l))
        return false;
    if (!cJSON_IsObject(sp) || !name[0] ||
        (strcmp(mod, "idf") != 0 && strcmp(mod, "none") != 0))
        return bad(l, "%s.sparse: bad name, modifier or threshold", where);
    if (!qvs_lib_name_valid(lib))
        return bad(l, "%s.library: not a valid library collection name", where);
    vec->name = strdup(name);
    c->vector_libs[i] = strdup(lib);
    if (!vec->name || !c->vector_libs[i])
        return bad(l, "out of memory");
    vec->metric = QV_METRIC_DOT;
    vec->sparse = true;
    qv_collection_config *cfg = &c->vector_cfgs[i];
    qv_collection_config_init(cfg);
    cfg->kind = QV_VECTOR_SPARSE;
    cfg->sparse_modifier = strcmp(mod, "idf") == 0 ? QV_SPARSE_MODIFIER_IDF
                                                   : QV_SPARSE_MODIFIER_NONE;
    cfg->sparse_full_scan_threshold =
        fst ? (uint32_t)fst : QV_DEFAULT_SPARSE_FULL_SCAN;
    cfg->dim = 1;
    cfg->metric = QV_METRIC_DOT;
    /* the posting lists' datatype */
    return load_datatype(v, cfg, where, l);
}

static bool load_vector(const cJSON *v, qvs_coll *c, size_t i,
                        const char *where, loader *l)
{
    if (!cJSON_IsObject(v))
        return bad(l, "%s: expected an object", where);
    const char *name = get_str(v, "name", where, l);
    const char *dist = get_str(v, "distance", where, l);
    const char *lib = get_str(v, "library", where, l);
    uint64_t size = 0;
    if (!name || !dist || !lib ||
        !get_uint(v, "size", QV_MAX_DIM, &size, where, l))
        return false;
    qvs_vector *vec = &c->vectors[i];
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(v, "sparse");
    if (sp)
        return load_sparse_vector(v, sp, c, i, where, l);
    if (size < QV_MIN_DIM || qv_metric_parse(dist, &vec->metric) != QV_OK ||
        strcmp(qv_metric_name(vec->metric), dist) != 0)
        return bad(l, "%s: bad size or distance", where);
    if (!qvs_lib_name_valid(lib))
        return bad(l, "%s.library: not a valid library collection name", where);
    vec->size = (uint32_t)size;
    vec->name = strdup(name);
    c->vector_libs[i] = strdup(lib);
    if (!vec->name || !c->vector_libs[i])
        return bad(l, "out of memory");
    return load_lib_config(v, vec, &c->vector_cfgs[i], where, l);
}

static int vector_order(const void *a, const void *b)
{
    return strcmp(((const qvs_vector *)a)->name, ((const qvs_vector *)b)->name);
}

/* Checks the vectors of c: unnamed has exactly one, called "" and stored
 * in the points collection; named ones have distinct names and libraries
 * of their own, non-empty except for one dense vector "" (an unnamed
 * vector stored in the named layout because sparse vectors are beside it,
 * or declared as {"": VectorParams}). */
static bool check_vectors(const qvs_coll *c, const char *where, loader *l)
{
    if (!c->named)
        return c->n_vectors == 1 && c->vectors[0].name[0] == '\0' &&
                       strcmp(c->vector_libs[0], c->points_lib) == 0
                   ? true
                   : bad(l,
                         "%s: an unnamed collection must have exactly one "
                         "vector \"\" stored in its points collection",
                         where);
    for (size_t i = 0; i < c->n_vectors; i++) {
        if ((!c->vectors[i].name[0] && c->vectors[i].sparse) ||
            strcmp(c->vector_libs[i], c->points_lib) == 0)
            return bad(l,
                       "%s: named vectors need names and libraries of their "
                       "own",
                       where);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->vectors[i].name, c->vectors[j].name) == 0 ||
                strcmp(c->vector_libs[i], c->vector_libs[j]) == 0)
                return bad(l, "%s: duplicate vector name or library", where);
    }
    return true;
}

/* Sorts vectors by name, keeping their libraries and configs with them. */
static bool sort_vectors(qvs_coll *c)
{
    size_t n = c->n_vectors;
    if (n < 2)
        return true;
    typedef struct triple {
        qvs_vector v;
        char *lib;
        qv_collection_config cfg;
    } triple;
    triple *t = malloc(n * sizeof(*t));
    if (!t)
        return false;
    for (size_t i = 0; i < n; i++)
        t[i] = (triple){c->vectors[i], c->vector_libs[i], c->vector_cfgs[i]};
    qsort(t, n, sizeof(*t), vector_order); /* v is the first member */
    for (size_t i = 0; i < n; i++) {
        c->vectors[i] = t[i].v;
        c->vector_libs[i] = t[i].lib;
        c->vector_cfgs[i] = t[i].cfg;
    }
    free(t);
    return true;
}

static qvs_coll *coll_alloc(size_t n_vectors)
{
    qvs_coll *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    size_t n = n_vectors ? n_vectors : 1;
    c->vectors = calloc(n, sizeof(*c->vectors));
    c->vector_libs = calloc(n, sizeof(*c->vector_libs));
    c->vector_cfgs = calloc(n, sizeof(*c->vector_cfgs));
    c->n_vectors = n_vectors;
    c->refs = 1;
    pthread_mutex_init(&c->write_mu, NULL);
    if (!c->vectors || !c->vector_libs || !c->vector_cfgs) {
        qvs_coll_free(c);
        return NULL;
    }
    return c;
}

static qvs_coll *load_coll(const cJSON *j, const char *where, loader *l)
{
    if (!cJSON_IsObject(j)) {
        bad(l, "%s: expected an object", where);
        return NULL;
    }
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(j, "vectors");
    const cJSON *named = cJSON_GetObjectItemCaseSensitive(j, "named");
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(j, "config");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "payload_schema");
    if (!cJSON_IsArray(vs) || cJSON_GetArraySize(vs) > 4096 ||
        !cJSON_IsBool(named) || !cJSON_IsObject(config) ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(config, "params")) ||
        !cJSON_IsObject(schema)) {
        bad(l,
            "%s: missing or mistyped vectors, named, config or "
            "payload_schema",
            where);
        return NULL;
    }
    qvs_coll *c = coll_alloc((size_t)cJSON_GetArraySize(vs));
    if (!c) {
        bad(l, "out of memory");
        return NULL;
    }
    c->named = cJSON_IsTrue(named);
    const char *name = get_str(j, "name", where, l);
    const char *points = name ? get_str(j, "points", where, l) : NULL;
    c->name = name ? strdup(name) : NULL;
    c->points_lib = points ? strdup(points) : NULL;
    c->config = cJSON_Duplicate(config, true);
    c->payload_schema = cJSON_Duplicate(schema, true);
    bool ok = c->name && c->points_lib && c->config && c->payload_schema &&
              get_uint(j, "id", UINT64_C(1) << 53, &c->id, where, l);
    if (ok && (qvs_name_invalid(name) || !qvs_lib_name_valid(points)))
        ok = bad(l, "%s: invalid collection or library name", where);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vs)
    {
        char w[300];
        snprintf(w, sizeof(w), "%s.vectors[%zu]", where, i);
        ok = ok && load_vector(v, c, i, w, l);
        i++;
    }
    ok = ok && check_vectors(c, where, l);
    if (ok && !sort_vectors(c))
        ok = bad(l, "out of memory");
    if (!ok) {
        if (!l->err[0])
            bad(l, "%s: out of memory", where);
        qvs_coll_free(c);
        return NULL;
    }
    return c;
}

static int coll_order(const void *a, const void *b)
{
    return strcmp((*(qvs_coll *const *)a)->name, (*(qvs_coll *const *)b)->name);
}

static int alias_order(const void *a, const void *b)
{
    return strcmp(((const qvs_alias *)a)->alias, ((const qvs_alias *)b)->alias);
}

static const qvs_coll *find(const qvs_catalog_state *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->colls[i]->name, name) == 0)
            return st->colls[i];
    return NULL;
}

/* Loads collections; checks unique names, ids and library names. */
static bool load_colls(const cJSON *cs, qvs_catalog_state *st, loader *l)
{
    size_t n = (size_t)cJSON_GetArraySize(cs);
    st->colls = calloc(n ? n : 1, sizeof(*st->colls));
    if (!st->colls)
        return bad(l, "out of memory");
    const cJSON *j;
    cJSON_ArrayForEach(j, cs)
    {
        char where[64];
        snprintf(where, sizeof(where), "collections[%zu]", st->n);
        qvs_coll *c = load_coll(j, where, l);
        if (!c)
            return false;
        st->colls[st->n++] = c;
        if (c->id >= st->next_id)
            return bad(l, "%s.id: not below next_id", where);
        for (size_t k = 0; k + 1 < st->n; k++) {
            const qvs_coll *o = st->colls[k];
            if (strcmp(o->name, c->name) == 0 || o->id == c->id ||
                strcmp(o->points_lib, c->points_lib) == 0)
                return bad(l, "%s: duplicate name, id or library", where);
        }
    }
    qsort(st->colls, st->n, sizeof(*st->colls), coll_order);
    return true;
}

static bool load_aliases(const cJSON *as, qvs_catalog_state *st, loader *l)
{
    size_t n = (size_t)cJSON_GetArraySize(as);
    st->aliases = calloc(n ? n : 1, sizeof(*st->aliases));
    if (!st->aliases)
        return bad(l, "out of memory");
    const cJSON *j;
    cJSON_ArrayForEach(j, as)
    {
        char where[64];
        snprintf(where, sizeof(where), "aliases[%zu]", st->n_aliases);
        const char *alias = get_str(j, "alias_name", where, l);
        const char *coll =
            alias ? get_str(j, "collection_name", where, l) : NULL;
        if (!coll)
            return false;
        if (qvs_name_invalid(alias) || !find(st, coll) || find(st, alias))
            return bad(l, "%s: invalid alias, or its collection is missing",
                       where);
        for (size_t k = 0; k < st->n_aliases; k++)
            if (strcmp(st->aliases[k].alias, alias) == 0)
                return bad(l, "%s: duplicate alias", where);
        qvs_alias *a = &st->aliases[st->n_aliases++];
        a->alias = strdup(alias);
        a->coll = strdup(coll);
        if (!a->alias || !a->coll)
            return bad(l, "out of memory");
    }
    qsort(st->aliases, st->n_aliases, sizeof(*st->aliases), alias_order);
    return true;
}

static void state_free(qvs_catalog_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        qvs_coll_free(st->colls[i]);
    free(st->colls);
    qvs_aliases_free(st->aliases, st->n_aliases);
    memset(st, 0, sizeof(*st));
}

bool qvs_catalog_load(const char *dir, qvs_catalog_state *st, bool *found,
                      char *err, size_t cap)
{
    memset(st, 0, sizeof(*st));
    st->next_id = 1;
    err[0] = '\0';
    loader l = {err, cap};
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, CATALOG_FILE);
    char *text = NULL;
    size_t len = 0;
    if (!read_file(path, &text, &len, found, &l))
        return false;
    if (!*found)
        return true;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    bool ok = root != NULL || bad(&l, "not valid JSON");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "collections");
    const cJSON *as = cJSON_GetObjectItemCaseSensitive(root, "aliases");
    uint64_t format = 0;
    ok = ok &&
         get_uint(root, "quiver_catalog", UINT32_MAX, &format, "root", &l) &&
         (format == CATALOG_FORMAT ||
          bad(&l, "format %llu is not supported (this server reads %d)",
              (unsigned long long)format, CATALOG_FORMAT)) &&
         get_uint(root, "next_id", UINT64_C(1) << 53, &st->next_id, "root",
                  &l) &&
         ((cJSON_IsArray(cs) && cJSON_IsArray(as)) ||
          bad(&l, "collections and aliases must be arrays")) &&
         load_colls(cs, st, &l) && load_aliases(as, st, &l);
    cJSON_Delete(root);
    if (!ok)
        state_free(st);
    return ok;
}

/* ---- one collection, for snapshot archives ---------------------------------
 */

cJSON *qvs_coll_json(const qvs_coll *c, const cJSON *config,
                     const cJSON *schema)
{
    cJSON *j = coll_json(c, config, schema);
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(j, "vectors");
    if (!j || cJSON_GetArraySize(vs) != (int)c->n_vectors ||
        !cJSON_GetObjectItemCaseSensitive(j, "config") ||
        !cJSON_GetObjectItemCaseSensitive(j, "payload_schema")) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

qvs_coll *qvs_coll_parse(const cJSON *j, char *err, size_t cap)
{
    err[0] = '\0';
    loader l = {err, cap};
    return load_coll(j, "collection", &l);
}
