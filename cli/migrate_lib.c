/*
 * migrate_lib.c -- the library endpoints of `quiver migrate`: a Quiver
 * store directory and a Quiver snapshot file (see migrate.h).
 *
 * Both hold library collections, which have exactly one unnamed vector
 * -- dense, sparse (cfg.kind QV_VECTOR_SPARSE) or a multivector
 * (cfg.multivector QV_MULTIVECTOR_MAX_SIM), each read and written with
 * its own calls (qv_get / qv_sparse_get / qv_multi_get, and the upserts
 * that match), with the config the library keeps for it (sparse modifier
 * and full-scan threshold, quantization, HNSW parameters):
 * a Qdrant collection with named vectors cannot be written to them and is
 * refused with a message (never split or cut), and what is read from them
 * is always a collection with one unnamed vector.  Payloads travel as the
 * library's own compact JSON text (qv_payload_get), which writes every
 * number exactly, and are handed to qv_upsert_with_payloads as text, so
 * no number ever passes through a double.
 *
 * Vectors: under cosine the library keeps vectors normalised and
 * qv_get returns them so; upserting a normalised vector normalises it
 * again, as Qdrant does (see migrate.c on how verification allows for it).
 *
 * A store directory is opened with qv_store_open_dir, which holds its
 * lock: it cannot be migrated from while `quiver serve` runs on it, and a
 * `quiver serve` storage directory (its catalog.json maps Qdrant
 * collections onto library collections with internal names) is refused
 * with the advice to migrate from the running server's URL instead.
 *
 * A snapshot file holds one collection.  As a destination it is built in
 * memory and written once, crash-safely, by finish (qv_snapshot_save):
 * its writes are not durable before that, so the endpoint is not
 * `durable` and an interrupted run starts that collection over.
 */
#include "migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- one library collection ---------------------------------------------
 */

static qv_status coll_fail(mg_endpoint *e, qv_collection *c, qv_status st,
                           const char *what)
{
    char msg[512];
    qv_collection_errmsg(c, msg, sizeof(msg));
    return mg_fail(e, st, "%s: %s: %s", what, qv_strerror(st),
                   msg[0] ? msg : "");
}

static qv_status lib_describe(mg_endpoint *e, qv_collection *c, mg_schema *out)
{
    qv_collection_config cfg;
    qv_payload_index_info *idx = NULL;
    size_t n_idx = 0;
    memset(out, 0, sizeof(*out));
    qv_collection_get_config(c, &cfg);
    qv_status st = qv_payload_index_list(c, &idx, &n_idx);
    if (st != QV_OK)
        return coll_fail(e, c, st, "listing payload indexes");
    out->vectors = calloc(1, sizeof(*out->vectors));
    out->indexes = calloc(n_idx ? n_idx : 1, sizeof(*out->indexes));
    if (!out->vectors || !out->indexes)
        goto oom;
    out->n_vectors = 1;
    out->vectors[0].dim = cfg.dim;
    out->vectors[0].metric = cfg.metric;
    out->vectors[0].kind = cfg.kind == QV_VECTOR_SPARSE ? MG_SPARSE
                           : cfg.multivector == QV_MULTIVECTOR_MAX_SIM
                               ? MG_MULTI
                               : MG_DENSE;
    out->vectors[0].sparse_modifier = cfg.sparse_modifier;
    out->vectors[0].sparse_fst = cfg.sparse_full_scan_threshold;
    out->quant = cfg;
    out->hnsw_m = cfg.hnsw_m;
    out->hnsw_ef_construct = cfg.hnsw_ef_construct;
    out->full_scan_threshold_kb = cfg.full_scan_threshold_kb;
    for (size_t i = 0; i < n_idx; i++) {
        const char *kind = qv_index_kind_name(idx[i].kind);
        mg_index *x = &out->indexes[out->n_indexes++];
        x->key = strdup(idx[i].key);
        x->type = strdup(kind);
        x->schema = malloc(strlen(kind) + 3);
        if (!x->key || !x->type || !x->schema)
            goto oom;
        sprintf(x->schema, "\"%s\"", kind);
    }
    qv_free(idx);
    return QV_OK;
oom:
    qv_free(idx);
    mg_schema_free(out);
    return mg_fail(e, QV_ENOMEM, "out of memory");
}

/* Reads point id's vector, of whichever kind, into row row of out. */
static qv_status lib_vector(qv_collection *c, const qv_point_id *id,
                            mg_batch *out, size_t row)
{
    uint32_t d = out->dims[0], n = 0, *idx = NULL;
    float *val = NULL;
    qv_status st;
    switch (out->kinds[0]) {
    case MG_DENSE:
        st = qv_get(c, id, out->vecs[0] + row * d, d);
        if (st == QV_OK)
            out->has[0][row] = true;
        return st;
    case MG_SPARSE:
        st = qv_sparse_get(c, id, &idx, &val, &n);
        if (st != QV_OK)
            return st;
        /* The library's arrays are qv_free'd; the batch's free()d. */
        uint32_t *i2 = malloc((n ? n : 1) * sizeof(uint32_t));
        float *v2 = malloc((n ? n : 1) * sizeof(float));
        if (i2 && v2 && n) {
            memcpy(i2, idx, n * sizeof(uint32_t));
            memcpy(v2, val, n * sizeof(float));
        }
        qv_free(idx);
        qv_free(val);
        if (!i2 || !v2) {
            free(i2);
            free(v2);
            return QV_ENOMEM;
        }
        return mg_batch_set_var(out, 0, row, n, i2, v2);
    default:
        st = qv_multi_get(c, id, NULL, 0, &n);
        if (st != QV_OK && st != QV_ERANGE)
            return st;
        if (!(val = malloc((size_t)n * d * sizeof(float))))
            return QV_ENOMEM;
        st = qv_multi_get(c, id, val, n, &n);
        if (st != QV_OK) {
            free(val);
            return st;
        }
        return mg_batch_set_var(out, 0, row, n, NULL, val);
    }
}

/* Appends point id (vector and payload) to out; *found false if it went
 * away meanwhile. */
static qv_status lib_take(mg_endpoint *e, qv_collection *c,
                          const qv_point_id *id, mg_batch *out)
{
    char *json = NULL;
    size_t len = 0;
    qv_status st = qv_payload_get(c, id, NULL, &json, &len);
    if (st == QV_ENOTFOUND)
        return QV_OK;
    if (st != QV_OK)
        return coll_fail(e, c, st, "reading a payload");
    long row = mg_batch_add(out, id, json, len);
    qv_free(json);
    if (row < 0)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    st = lib_vector(c, id, out, (size_t)row);
    if (st == QV_ENOTFOUND) { /* deleted between the two reads */
        free(out->payloads[--out->n]);
        out->payloads[out->n] = NULL;
        return QV_OK;
    }
    if (st != QV_OK)
        return coll_fail(e, c, st, "reading a vector");
    return QV_OK;
}

static qv_status lib_read(mg_endpoint *e, qv_collection *c,
                          const qv_point_id *start, size_t limit, mg_batch *out,
                          qv_point_id *next, bool *has_next)
{
    qv_point_id *ids = calloc(limit, sizeof(*ids));
    size_t n = 0;
    qv_status st;
    if (!ids)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    mg_batch_clear(out);
    st = qv_scroll(c, start, NULL, limit, ids, &n, next, has_next);
    if (st != QV_OK)
        st = coll_fail(e, c, st, "scrolling");
    for (size_t i = 0; st == QV_OK && i < n; i++)
        st = lib_take(e, c, &ids[i], out);
    free(ids);
    return st;
}

static qv_status lib_fetch(mg_endpoint *e, qv_collection *c,
                           const qv_point_id *ids, size_t n, mg_batch *out)
{
    qv_status st = QV_OK;
    mg_batch_clear(out);
    for (size_t i = 0; st == QV_OK && i < n; i++)
        st = lib_take(e, c, &ids[i], out);
    return st;
}

static qv_status lib_write(mg_endpoint *e, qv_collection *c, const mg_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->has[0][i]) {
            char id[QV_UUID_STRLEN];
            qv_id_format(&b->ids[i], id, sizeof(id));
            return mg_fail(e, QV_EINVAL, "point %s has no vector", id);
        }
    }
    const char *const *pl = (const char *const *)b->payloads;
    qv_status st = QV_OK;
    if (b->kinds[0] == MG_DENSE) {
        st = qv_upsert_with_payloads(c, b->ids, b->vecs[0], b->n, b->dims[0],
                                     pl, b->lens);
    } else if (b->kinds[0] == MG_SPARSE) {
        qv_sparse_vector *sv = calloc(b->n ? b->n : 1, sizeof(*sv));
        if (!sv)
            return mg_fail(e, QV_ENOMEM, "out of memory");
        for (size_t i = 0; i < b->n; i++)
            sv[i] =
                (qv_sparse_vector){b->idx[0][i], b->val[0][i], b->cnt[0][i]};
        st = qv_sparse_upsert(c, b->ids, sv, b->n, pl, b->lens);
        free(sv);
    } else {
        /* One matrix after the other, as qv_multi_upsert_batch takes them. */
        size_t d = b->dims[0], total = 0, at = 0;
        for (size_t i = 0; i < b->n; i++)
            total += b->cnt[0][i];
        float *rows = malloc((total ? total : 1) * d * sizeof(float));
        if (!rows)
            return mg_fail(e, QV_ENOMEM, "out of memory");
        for (size_t i = 0; i < b->n; i++) {
            memcpy(rows + at * d, b->val[0][i],
                   b->cnt[0][i] * d * sizeof(float));
            at += b->cnt[0][i];
        }
        st = qv_multi_upsert_batch(c, b->ids, b->n, b->cnt[0], rows,
                                   (uint32_t)d, pl, b->lens);
        free(rows);
    }
    return st == QV_OK ? QV_OK : coll_fail(e, c, st, "upserting");
}

static qv_status lib_check_schema(mg_endpoint *e, const char *name,
                                  const mg_schema *s)
{
    if (s->named || s->n_vectors != 1)
        return mg_fail(e, QV_EINVAL,
                       "collection '%s' has %zu named vectors; %s holds "
                       "library collections of one unnamed vector each: "
                       "migrate it to a Qdrant server instead",
                       name, s->n_vectors, e->where);
    return QV_OK;
}

static void lib_config(const mg_schema *s, qv_collection_config *cfg)
{
    qv_collection_config_init(cfg);
    cfg->dim = s->vectors[0].dim;
    cfg->metric = s->vectors[0].metric;
    if (s->hnsw_m)
        cfg->hnsw_m = s->hnsw_m;
    if (s->hnsw_ef_construct)
        cfg->hnsw_ef_construct = s->hnsw_ef_construct;
    cfg->full_scan_threshold_kb = s->full_scan_threshold_kb;
    if (s->vectors[0].kind == MG_SPARSE) {
        cfg->kind = QV_VECTOR_SPARSE;
        cfg->sparse_modifier = s->vectors[0].sparse_modifier;
        cfg->sparse_full_scan_threshold = s->vectors[0].sparse_fst;
    }
    if (s->vectors[0].kind == MG_MULTI)
        cfg->multivector = QV_MULTIVECTOR_MAX_SIM;
    cfg->quantization = s->quant.quantization;
    cfg->quant_quantile = s->quant.quant_quantile;
    cfg->quant_always_ram = s->quant.quant_always_ram;
    cfg->quant_encoding = s->quant.quant_encoding;
    cfg->quant_query_encoding = s->quant.quant_query_encoding;
}

/* An existing collection c must have the source's vector. */
static qv_status lib_check_existing(mg_endpoint *e, qv_collection *c,
                                    const char *name, const mg_schema *s)
{
    mg_schema have;
    qv_status st = lib_describe(e, c, &have);
    if (st != QV_OK)
        return st;
    if (!mg_vectors_match(name, &have, s, e->err, sizeof(e->err)))
        st = QV_EEXIST;
    mg_schema_free(&have);
    return st;
}

static qv_status lib_create_indexes(mg_endpoint *e, qv_collection *c,
                                    const mg_schema *s)
{
    for (size_t i = 0; i < s->n_indexes; i++) {
        qv_index_kind kind;
        if (qv_index_kind_parse(s->indexes[i].type, &kind) != QV_OK)
            return mg_fail(e, QV_EINVAL,
                           "payload index '%s' is of type '%s', which "
                           "Quiver's library does not have",
                           s->indexes[i].key, s->indexes[i].type);
        if (s->indexes[i].schema[0] == '{')
            fprintf(stderr,
                    "migrate: payload index '%s' (%s): its parameters are "
                    "not kept (Quiver's library index has none)\n",
                    s->indexes[i].key, s->indexes[i].type);
        qv_status st = qv_payload_index_create(c, s->indexes[i].key, kind);
        if (st != QV_OK)
            return coll_fail(e, c, st, "creating a payload index");
    }
    return QV_OK;
}

/* ---- store directories -----------------------------------------------------
 */

static qv_status store_get(mg_endpoint *e, const char *name, qv_collection **c)
{
    qv_status st = qv_store_get(e->state, name, c);
    if (st == QV_ENOTFOUND)
        return mg_fail(e, st, "%s has no collection '%s'", e->where, name);
    return st;
}

static qv_status store_list(mg_endpoint *e, char ***names, size_t *n)
{
    char **list = NULL;
    size_t count = 0;
    qv_status st = qv_store_list(e->state, &list, &count);
    if (st != QV_OK)
        return mg_fail(e, st, "listing %s: %s", e->where, qv_strerror(st));
    *names = calloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; *names && i < count; i++)
        if (!((*names)[i] = strdup(list[i])))
            st = QV_ENOMEM;
    qv_free(list);
    *n = count;
    if (!*names)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    return st;
}

#define WITH_STORE_COLL(call)                                                  \
    qv_collection *c = NULL;                                                   \
    qv_status st = store_get(e, name, &c);                                     \
    if (st == QV_OK)                                                           \
        st = (call);                                                           \
    qv_collection_release(c);                                                  \
    return st

static qv_status store_describe(mg_endpoint *e, const char *name,
                                mg_schema *out)
{
    WITH_STORE_COLL(lib_describe(e, c, out));
}

static qv_status store_count(mg_endpoint *e, const char *name, uint64_t *out)
{
    WITH_STORE_COLL(qv_count(c, out));
}

static qv_status store_read(mg_endpoint *e, const char *name,
                            const mg_schema *s, const qv_point_id *start,
                            size_t limit, mg_batch *out, qv_point_id *next,
                            bool *has_next)
{
    (void)s;
    WITH_STORE_COLL(lib_read(e, c, start, limit, out, next, has_next));
}

static qv_status store_fetch(mg_endpoint *e, const char *name,
                             const mg_schema *s, const qv_point_id *ids,
                             size_t n, mg_batch *out)
{
    (void)s;
    WITH_STORE_COLL(lib_fetch(e, c, ids, n, out));
}

static qv_status store_write(mg_endpoint *e, const char *name,
                             const mg_schema *s, const mg_batch *b)
{
    (void)s;
    WITH_STORE_COLL(lib_write(e, c, b));
}

static qv_status store_prepare(mg_endpoint *e, const char *name,
                               const mg_schema *s)
{
    qv_collection *c = NULL;
    qv_collection_config cfg;
    qv_status st = lib_check_schema(e, name, s);
    if (st != QV_OK)
        return st;
    lib_config(s, &cfg);
    st = qv_store_get(e->state, name, &c);
    if (st == QV_OK) {
        st = lib_check_existing(e, c, name, s);
    } else if (st == QV_ENOTFOUND) {
        st = qv_store_create(e->state, name, &cfg, &c);
        if (st != QV_OK) {
            char msg[512];
            qv_store_errmsg(e->state, msg, sizeof(msg));
            st = mg_fail(e, st, "creating collection '%s' in %s: %s", name,
                         e->where, msg);
        }
    }
    if (st == QV_OK)
        st = lib_create_indexes(e, c, s);
    qv_collection_release(c);
    return st;
}

static qv_status store_finish(mg_endpoint *e, const char *name)
{
    (void)name;
    qv_status st = qv_store_checkpoint(e->state);
    if (st != QV_OK) {
        char msg[512];
        qv_store_errmsg(e->state, msg, sizeof(msg));
        return mg_fail(e, st, "checkpointing %s: %s", e->where, msg);
    }
    return QV_OK;
}

static void store_close(mg_endpoint *e)
{
    qv_store_close(e->state);
    e->state = NULL;
}

static const mg_ops store_ops = {store_list,  store_describe, store_count,
                                 store_read,  store_fetch,    store_prepare,
                                 store_write, store_finish,   store_close};

static bool is_file(const char *dir, const char *leaf)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, leaf);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

qv_status mg_open_store(const char *dir, bool as_dest, mg_endpoint *e)
{
    struct stat sb;
    e->ops = &store_ops;
    e->where = dir;
    e->durable = true;
    if (!as_dest && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return mg_fail(e, QV_ENOTFOUND, "%s: no such store directory", dir);
    if (is_file(dir, "catalog.json"))
        return mg_fail(e, QV_EINVAL,
                       "%s is a `quiver serve` storage directory: start "
                       "`quiver serve --storage %s` and migrate %s its URL",
                       dir, dir, as_dest ? "to" : "from");
    qv_store *s = NULL;
    char msg[768];
    qv_status st = qv_store_open_dir(dir, NULL, &s, msg, sizeof(msg));
    if (st != QV_OK)
        return mg_fail(e, st, "cannot open store %s: %s", dir, msg);
    e->state = s;
    return QV_OK;
}

/* ---- snapshot files ------------------------------------------------------
 */

typedef struct snap_state {
    char *path, *name;
    qv_collection *c; /* source: the opened file; destination: built here */
    bool as_dest;
} snap_state;

static qv_status snap_coll(mg_endpoint *e, const char *name, qv_collection **c)
{
    snap_state *s = e->state;
    if (strcmp(name, s->name) != 0 || !s->c)
        return mg_fail(e, QV_ENOTFOUND,
                       "%s holds only collection '%s', not '%s'", s->path,
                       s->name, name);
    *c = s->c;
    return QV_OK;
}

#define WITH_SNAP_COLL(call)                                                   \
    qv_collection *c = NULL;                                                   \
    qv_status st = snap_coll(e, name, &c);                                     \
    return st == QV_OK ? (call) : st

static qv_status snap_list(mg_endpoint *e, char ***names, size_t *n)
{
    snap_state *s = e->state;
    *n = 0;
    if (!(*names = calloc(1, sizeof(char *))) ||
        !((*names)[0] = strdup(s->name)))
        return mg_fail(e, QV_ENOMEM, "out of memory");
    *n = 1;
    return QV_OK;
}

static qv_status snap_describe(mg_endpoint *e, const char *name, mg_schema *out)
{
    WITH_SNAP_COLL(lib_describe(e, c, out));
}

static qv_status snap_count(mg_endpoint *e, const char *name, uint64_t *out)
{
    WITH_SNAP_COLL(qv_count(c, out));
}

static qv_status snap_read(mg_endpoint *e, const char *name, const mg_schema *s,
                           const qv_point_id *start, size_t limit,
                           mg_batch *out, qv_point_id *next, bool *has_next)
{
    (void)s;
    WITH_SNAP_COLL(lib_read(e, c, start, limit, out, next, has_next));
}

static qv_status snap_fetch(mg_endpoint *e, const char *name,
                            const mg_schema *s, const qv_point_id *ids,
                            size_t n, mg_batch *out)
{
    (void)s;
    WITH_SNAP_COLL(lib_fetch(e, c, ids, n, out));
}

static qv_status snap_write(mg_endpoint *e, const char *name,
                            const mg_schema *s, const mg_batch *b)
{
    (void)s;
    WITH_SNAP_COLL(lib_write(e, c, b));
}

static qv_status snap_prepare(mg_endpoint *e, const char *name,
                              const mg_schema *s)
{
    snap_state *ss = e->state;
    qv_collection_config cfg;
    qv_status st = lib_check_schema(e, name, s);
    if (st != QV_OK)
        return st;
    if (ss->c)
        return mg_fail(e, QV_EEXIST,
                       "%s exists: a snapshot destination is written whole; "
                       "remove it or name another file",
                       ss->path);
    if (strcmp(name, ss->name) != 0)
        return mg_fail(e, QV_EINVAL,
                       "%s holds one collection, '%s'; cannot write "
                       "'%s' to it",
                       ss->path, ss->name, name);
    lib_config(s, &cfg);
    st = qv_collection_create(&cfg, &ss->c);
    if (st != QV_OK)
        return mg_fail(e, st, "creating collection '%s': %s", name,
                       qv_strerror(st));
    return lib_create_indexes(e, ss->c, s);
}

/* Saves the collection, then reopens the file so that the verification
 * that follows reads what was written, not what is in memory. */
static qv_status snap_finish(mg_endpoint *e, const char *name)
{
    snap_state *s = e->state;
    qv_collection *c = NULL;
    qv_status st = snap_coll(e, name, &c);
    if (st != QV_OK)
        return st;
    st = qv_snapshot_save(c, s->path);
    if (st != QV_OK)
        return coll_fail(e, c, st, "saving the snapshot");
    qv_collection_release(s->c);
    s->c = NULL;
    char msg[768];
    st = qv_snapshot_open(s->path, QV_SNAPSHOT_VERIFY, &s->c, msg, sizeof(msg));
    return st == QV_OK ? QV_OK
                       : mg_fail(e, st, "reopening %s: %s", s->path, msg);
}

static void snap_close(mg_endpoint *e)
{
    snap_state *s = e->state;
    if (!s)
        return;
    qv_collection_release(s->c);
    free(s->path);
    free(s->name);
    free(s);
    e->state = NULL;
}

static const mg_ops snap_ops = {snap_list,  snap_describe, snap_count,
                                snap_read,  snap_fetch,    snap_prepare,
                                snap_write, snap_finish,   snap_close};

/* "dir/docs.qvs" -> "docs". */
static char *file_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        n = (size_t)(dot - base);
    return strndup(base, n);
}

qv_status mg_open_snapshot(const char *path, bool as_dest,
                           const char *single_name, mg_endpoint *e)
{
    struct stat sb;
    e->ops = &snap_ops;
    e->where = path;
    e->durable = false;
    snap_state *s = calloc(1, sizeof(*s));
    if (!s)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    e->state = s;
    s->as_dest = as_dest;
    s->path = strdup(path);
    s->name = single_name ? strdup(single_name) : file_stem(path);
    if (!s->path || !s->name)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    /* An existing destination file is opened only to be verified (a
     * checkpoint marks its collection done); prepare refuses to write it. */
    if (as_dest && stat(path, &sb) != 0)
        return QV_OK;
    char msg[768];
    qv_status st = qv_snapshot_open(path, 0, &s->c, msg, sizeof(msg));
    return st == QV_OK ? QV_OK : mg_fail(e, st, "%s", msg);
}
