/*
 * migrate_lib.c -- the library endpoints of `quiver migrate`: a Quiver
 * store directory and a Quiver snapshot file (see migrate.h).
 *
 * A library collection holds one vector a point -- dense, sparse
 * (cfg.kind QV_VECTOR_SPARSE) or a multivector (cfg.multivector
 * QV_MULTIVECTOR_MAX_SIM) -- each read and written with its own calls
 * (qv_get / qv_sparse_get / qv_multi_get and the upserts that match),
 * with the config the library keeps for it (sparse modifier and
 * full-scan threshold, quantization, HNSW parameters).  So a Qdrant
 * collection (a lib_set below) is kept as the server keeps it
 * (server/catalog.h):
 *   - one unnamed vector: one library collection, points, vectors and
 *     payloads;
 *   - named vectors (dense, sparse, multi, in any mix): a registry
 *     collection holding every point id with its payload and the payload
 *     indexes (its one-float vector is 0 and unused), plus one library
 *     collection per named vector holding the points that have it (their
 *     payloads stay {}: only the registry's are read).
 * Payloads travel as the library's own compact JSON text (qv_payload_get),
 * which writes every number exactly, and are handed to the upserts as
 * text, so no number ever passes through a double.  A batch goes to the
 * registry and the vector collections inside one atomic group
 * (qv_group_begin), so a crash never leaves a point in one and not the
 * other.
 *
 * In a store directory, named collection C is the registry C and the
 * vector collections "C~NAME" (a vector name the library cannot take in a
 * collection name -- < > : " / \ | ? * -- is refused).  Listing shows C
 * only.  A store collection C is read as a named one when it has dim 1,
 * metric dot and at least one "C~" collection beside it.
 *
 * A snapshot file holds one Qdrant collection: a library snapshot for one
 * unnamed vector, a collection snapshot archive (cli/migrate_archive.c,
 * the server's layout) for named vectors.  As a destination it is built
 * in memory and written once, crash-safely, by finish: its writes are not
 * durable before that, so the endpoint is not `durable` and an
 * interrupted run starts that collection over.  An archive the server
 * wrote (GET .../snapshots/NAME) reads the same way.
 *
 * Vectors: under cosine the library keeps vectors (and multivector rows)
 * normalised and returns them so; upserting a vector that has unit length
 * keeps it as given, as Qdrant does, so copies compare bit for bit.
 *
 * A store directory is opened with qv_store_open_dir, which holds its
 * lock: it cannot be migrated from while `quiver serve` runs on it, and a
 * `quiver serve` storage directory (its catalog.json maps Qdrant
 * collections onto library collections with internal names) is refused
 * with the advice to migrate from the running server's URL instead.
 */
#include "migrate.h"
#include "migrate_archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MEMBER_SEP "~"

/* ---- one Qdrant collection as library collections -------------------------
 */

typedef struct lib_set {
    qv_collection *reg;   /* points and payloads (unnamed: the collection) */
    qv_collection **vecs; /* [n] vector i (unnamed: vecs[0] == reg) */
    char **names;         /* [n] vector names (named only) */
    size_t n;
    bool named;
} lib_set;

static void set_free(lib_set *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->vecs)
            qv_collection_release(ls->vecs[i]);
        if (ls->names)
            free(ls->names[i]);
    }
    qv_collection_release(ls->reg);
    free(ls->vecs);
    free(ls->names);
    memset(ls, 0, sizeof(*ls));
}

/* An unnamed set of c, with references of its own (the caller keeps
 * its). */
static qv_status set_single(qv_collection *c, lib_set *ls)
{
    memset(ls, 0, sizeof(*ls));
    if (!(ls->vecs = calloc(1, sizeof(*ls->vecs))))
        return QV_ENOMEM;
    qv_collection_retain(c);
    qv_collection_retain(c);
    ls->reg = c;
    ls->vecs[0] = c;
    ls->n = 1;
    return QV_OK;
}

static qv_status coll_fail(mg_endpoint *e, qv_collection *c, qv_status st,
                           const char *what)
{
    char msg[512];
    qv_collection_errmsg(c, msg, sizeof(msg));
    return mg_fail(e, st, "%s: %s: %s", what, qv_strerror(st),
                   msg[0] ? msg : "");
}

static void vector_from_config(const qv_collection_config *cfg, mg_vector *v)
{
    v->dim = cfg->dim;
    v->metric = cfg->metric;
    v->kind = cfg->kind == QV_VECTOR_SPARSE                ? MG_SPARSE
              : cfg->multivector == QV_MULTIVECTOR_MAX_SIM ? MG_MULTI
                                                           : MG_DENSE;
    v->sparse_modifier = cfg->sparse_modifier;
    v->sparse_fst = cfg->sparse_full_scan_threshold;
}

static qv_status describe_indexes(mg_endpoint *e, qv_collection *c,
                                  mg_schema *out)
{
    qv_payload_index_info *idx = NULL;
    size_t n_idx = 0;
    qv_status st = qv_payload_index_list(c, &idx, &n_idx);
    if (st != QV_OK)
        return coll_fail(e, c, st, "listing payload indexes");
    out->indexes = calloc(n_idx ? n_idx : 1, sizeof(*out->indexes));
    for (size_t i = 0; out->indexes && i < n_idx; i++) {
        const char *kind = qv_index_kind_name(idx[i].kind);
        mg_index *x = &out->indexes[out->n_indexes++];
        x->key = strdup(idx[i].key);
        x->type = strdup(kind);
        x->schema = malloc(strlen(kind) + 3);
        if (!x->key || !x->type || !x->schema)
            break;
        sprintf(x->schema, "\"%s\"", kind);
    }
    bool ok = out->indexes && (n_idx == 0 || out->indexes[n_idx - 1].schema);
    qv_free(idx);
    return ok ? QV_OK : mg_fail(e, QV_ENOMEM, "out of memory");
}

static qv_status set_describe(mg_endpoint *e, const lib_set *ls, mg_schema *out)
{
    qv_collection_config cfg;
    memset(out, 0, sizeof(*out));
    out->named = ls->named;
    out->vectors = calloc(ls->n ? ls->n : 1, sizeof(*out->vectors));
    if (!out->vectors)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    /* HNSW and quantization: the collection's (unnamed) or the first
     * vector's that has them (named; Qdrant's collection-level config). */
    bool have_cfg = false;
    for (size_t i = 0; i < ls->n; i++) {
        mg_vector *v = &out->vectors[out->n_vectors++];
        qv_collection_get_config(ls->vecs[i], &cfg);
        vector_from_config(&cfg, v);
        if (ls->named && !(v->name = strdup(ls->names[i]))) {
            mg_schema_free(out);
            return mg_fail(e, QV_ENOMEM, "out of memory");
        }
        if (!have_cfg && v->kind != MG_SPARSE) {
            have_cfg = true;
            out->hnsw_m = cfg.hnsw_m;
            out->hnsw_ef_construct = cfg.hnsw_ef_construct;
            out->full_scan_threshold_kb = cfg.full_scan_threshold_kb;
            out->quant = cfg;
        }
    }
    if (!have_cfg)
        qv_collection_config_init(&out->quant);
    qv_status st = describe_indexes(e, ls->reg, out);
    if (st != QV_OK)
        mg_schema_free(out);
    return st;
}

static qv_status lib_vector(qv_collection *c, const qv_point_id *id,
                            mg_batch *out, size_t v, size_t row)
{
    uint32_t d = out->dims[v], n = 0, *idx = NULL;
    float *val = NULL;
    qv_status st;
    switch (out->kinds[v]) {
    case MG_DENSE:
        st = qv_get(c, id, out->vecs[v] + row * d, d);
        if (st == QV_OK)
            out->has[v][row] = true;
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
        return mg_batch_set_var(out, v, row, n, i2, v2);
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
        return mg_batch_set_var(out, v, row, n, NULL, val);
    }
}

/* Appends point id (vector and payload) to out; *found false if it went
 * away meanwhile. */

/* Appends point id (vectors and payload) to out; nothing if it went away
 * meanwhile. */
static qv_status set_take(mg_endpoint *e, const lib_set *ls,
                          const qv_point_id *id, mg_batch *out)
{
    char *json = NULL;
    size_t len = 0;
    qv_status st = qv_payload_get(ls->reg, id, NULL, &json, &len);
    if (st == QV_ENOTFOUND)
        return QV_OK;
    if (st != QV_OK)
        return coll_fail(e, ls->reg, st, "reading a payload");
    long row = mg_batch_add(out, id, json, len);
    qv_free(json);
    if (row < 0)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    for (size_t v = 0; v < ls->n; v++) {
        st = lib_vector(ls->vecs[v], id, out, v, (size_t)row);
        if (st == QV_ENOTFOUND && ls->named)
            continue;             /* this point has no such vector */
        if (st == QV_ENOTFOUND) { /* deleted between the two reads */
            free(out->payloads[--out->n]);
            out->payloads[out->n] = NULL;
            return QV_OK;
        }
        if (st != QV_OK)
            return coll_fail(e, ls->vecs[v], st, "reading a vector");
    }
    return QV_OK;
}

static qv_status set_read(mg_endpoint *e, const lib_set *ls,
                          const qv_point_id *start, size_t limit, mg_batch *out,
                          qv_point_id *next, bool *has_next)
{
    qv_point_id *ids = calloc(limit, sizeof(*ids));
    size_t n = 0;
    qv_status st;
    if (!ids)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    mg_batch_clear(out);
    st = qv_scroll(ls->reg, start, NULL, limit, ids, &n, next, has_next);
    if (st != QV_OK)
        st = coll_fail(e, ls->reg, st, "scrolling");
    for (size_t i = 0; st == QV_OK && i < n; i++)
        st = set_take(e, ls, &ids[i], out);
    free(ids);
    return st;
}

static qv_status set_fetch(mg_endpoint *e, const lib_set *ls,
                           const qv_point_id *ids, size_t n, mg_batch *out)
{
    qv_status st = QV_OK;
    mg_batch_clear(out);
    for (size_t i = 0; st == QV_OK && i < n; i++)
        st = set_take(e, ls, &ids[i], out);
    return st;
}

/* Upserts the k rows rows[] of b's vector v into c, with their payloads
 * (with_payloads) or leaving c's payloads alone. */
static qv_status write_vector(qv_collection *c, const mg_batch *b, size_t v,
                              const size_t *rows, size_t k, bool with_payloads)
{
    size_t d = b->dims[v];
    qv_point_id *ids = calloc(k ? k : 1, sizeof(*ids));
    const char **pl = calloc(k ? k : 1, sizeof(*pl));
    size_t *lens = calloc(k ? k : 1, sizeof(*lens));
    uint32_t *cnt = calloc(k ? k : 1, sizeof(*cnt));
    qv_sparse_vector *sv = calloc(k ? k : 1, sizeof(*sv));
    size_t total = 0, at = 0;
    for (size_t i = 0; cnt && i < k; i++)
        total += b->kinds[v] == MG_DENSE   ? d
                 : b->kinds[v] == MG_MULTI ? b->cnt[v][rows[i]] * d
                                           : 0;
    float *fl = malloc((total ? total : 1) * sizeof(float));
    qv_status st = QV_ENOMEM;
    if (!ids || !pl || !lens || !cnt || !sv || !fl)
        goto done;
    for (size_t i = 0; i < k; i++) {
        size_t r = rows[i];
        ids[i] = b->ids[r];
        pl[i] = b->payloads[r];
        lens[i] = b->lens[r];
        if (b->kinds[v] == MG_DENSE) {
            memcpy(fl + at, b->vecs[v] + r * d, d * sizeof(float));
            at += d;
        } else if (b->kinds[v] == MG_MULTI) {
            cnt[i] = b->cnt[v][r];
            memcpy(fl + at, b->val[v][r], cnt[i] * d * sizeof(float));
            at += cnt[i] * d;
        } else {
            sv[i] =
                (qv_sparse_vector){b->idx[v][r], b->val[v][r], b->cnt[v][r]};
        }
    }
    const char *const *p = with_payloads ? pl : NULL;
    if (b->kinds[v] == MG_DENSE)
        st = with_payloads
                 ? qv_upsert_with_payloads(c, ids, fl, k, (uint32_t)d, pl, lens)
                 : qv_upsert_batch(c, ids, fl, k, (uint32_t)d);
    else if (b->kinds[v] == MG_SPARSE)
        st = qv_sparse_upsert(c, ids, sv, k, p, p ? lens : NULL);
    else
        st = qv_multi_upsert_batch(c, ids, k, cnt, fl, (uint32_t)d, p,
                                   p ? lens : NULL);
done:
    free(ids);
    free(pl);
    free(lens);
    free(cnt);
    free(sv);
    free(fl);
    return st;
}

static qv_status set_write(mg_endpoint *e, const lib_set *ls, const mg_batch *b)
{
    size_t *rows = calloc(b->n ? b->n : 1, sizeof(*rows));
    qv_point_id *gone = calloc(b->n ? b->n : 1, sizeof(*gone));
    float *zeros = calloc(b->n ? b->n : 1, sizeof(float));
    qv_collection **all = calloc(ls->n + 1, sizeof(*all));
    qv_group *g = NULL;
    qv_status st = QV_OK;
    if (!rows || !gone || !zeros || !all) {
        st = mg_fail(e, QV_ENOMEM, "out of memory");
        goto done;
    }
    if (!ls->named) {
        for (size_t i = 0; i < b->n; i++) {
            if (!b->has[0][i]) {
                char id[QV_UUID_STRLEN];
                qv_id_format(&b->ids[i], id, sizeof(id));
                st = mg_fail(e, QV_EINVAL, "point %s has no vector", id);
                goto done;
            }
            rows[i] = i;
        }
        st = write_vector(ls->reg, b, 0, rows, b->n, true);
        if (st != QV_OK)
            st = coll_fail(e, ls->reg, st, "upserting");
        goto done;
    }
    all[0] = ls->reg;
    for (size_t v = 0; v < ls->n; v++)
        all[v + 1] = ls->vecs[v];
    if ((st = qv_group_begin(all, ls->n + 1, &g)) != QV_OK) {
        st = mg_fail(e, st, "starting an atomic group: %s", qv_strerror(st));
        goto done;
    }
    const char *const *pl = (const char *const *)b->payloads;
    st = qv_upsert_with_payloads(ls->reg, b->ids, zeros, b->n, 1, pl, b->lens);
    if (st != QV_OK)
        st = coll_fail(e, ls->reg, st, "upserting");
    for (size_t v = 0; st == QV_OK && v < ls->n; v++) {
        /* An upsert replaces a point's vectors: those it lacks go. */
        size_t k = 0, n_gone = 0;
        for (size_t i = 0; i < b->n; i++) {
            if (b->has[v][i])
                rows[k++] = i;
            else
                gone[n_gone++] = b->ids[i];
        }
        st = write_vector(ls->vecs[v], b, v, rows, k, false);
        if (st == QV_OK && n_gone)
            st = qv_delete_batch(ls->vecs[v], gone, n_gone, NULL);
        if (st != QV_OK)
            st = coll_fail(e, ls->vecs[v], st, "upserting");
    }
    qv_status gst = qv_group_end(g);
    if (st == QV_OK && gst != QV_OK)
        st = mg_fail(e, gst, "ending an atomic group: %s", qv_strerror(gst));
done:
    free(rows);
    free(gone);
    free(zeros);
    free(all);
    return st;
}

/* The config of vector v of s, for a new library collection. */
static void lib_config(const mg_schema *s, size_t v, qv_collection_config *cfg)
{
    const mg_vector *mv = &s->vectors[v];
    qv_collection_config_init(cfg);
    cfg->dim = mv->dim;
    cfg->metric = mv->metric;
    if (s->hnsw_m)
        cfg->hnsw_m = s->hnsw_m;
    if (s->hnsw_ef_construct)
        cfg->hnsw_ef_construct = s->hnsw_ef_construct;
    cfg->full_scan_threshold_kb = s->full_scan_threshold_kb;
    if (mv->kind == MG_SPARSE) {
        cfg->kind = QV_VECTOR_SPARSE;
        cfg->sparse_modifier = mv->sparse_modifier;
        cfg->sparse_full_scan_threshold = mv->sparse_fst;
        return; /* no quantization of sparse vectors */
    }
    if (mv->kind == MG_MULTI)
        cfg->multivector = QV_MULTIVECTOR_MAX_SIM;
    cfg->quantization = s->quant.quantization;
    cfg->quant_quantile = s->quant.quant_quantile;
    cfg->quant_always_ram = s->quant.quant_always_ram;
    cfg->quant_encoding = s->quant.quant_encoding;
    cfg->quant_query_encoding = s->quant.quant_query_encoding;
}

/* The registry of a named collection: ids and payloads, a dot vector of
 * dim 1 that is always 0 (as the server's, server/catalog.h). */
static void registry_config(qv_collection_config *cfg)
{
    qv_collection_config_init(cfg);
    cfg->dim = 1;
    cfg->metric = QV_METRIC_DOT;
}

/* Vector names become part of library collection names. */
static qv_status check_names(mg_endpoint *e, const char *name,
                             const mg_schema *s)
{
    for (size_t v = 0; s->named && v < s->n_vectors; v++) {
        const char *vn = s->vectors[v].name;
        if (!*vn || strpbrk(vn, "<>:\"/\\|?*") ||
            strlen(name) + strlen(vn) + 1 > QV_MAX_NAME)
            return mg_fail(e, QV_EINVAL,
                           "collection '%s': vector name '%s' cannot be part "
                           "of a library collection name (empty, too long, "
                           "or one of < > : \" / \\ | ? *)",
                           name, vn);
        for (const char *p = vn; *p; p++)
            if ((unsigned char)*p < 0x20)
                return mg_fail(e, QV_EINVAL,
                               "collection '%s': a vector name with a "
                               "control character",
                               name);
    }
    return QV_OK;
}

/* An existing set must have the source's vectors. */
static qv_status set_check_existing(mg_endpoint *e, const lib_set *ls,
                                    const char *name, const mg_schema *s)
{
    mg_schema have;
    qv_status st = set_describe(e, ls, &have);
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

/* ---- store directories -----------------------------------------------------
 */

static bool is_member_of(const char *m, const char *c)
{
    size_t n = strlen(c);
    return !strncmp(m, c, n) && m[n] == MEMBER_SEP[0] && m[n + 1];
}

static bool is_registry(qv_collection *c)
{
    qv_collection_config cfg;
    qv_collection_get_config(c, &cfg);
    return cfg.dim == 1 && cfg.metric == QV_METRIC_DOT &&
           cfg.kind == QV_VECTOR_DENSE &&
           cfg.multivector == QV_MULTIVECTOR_NONE;
}

/* The store's collection names (sorted by the library). */
static qv_status store_names(mg_endpoint *e, char ***list, size_t *count)
{
    qv_status st = qv_store_list(e->state, list, count);
    return st == QV_OK
               ? QV_OK
               : mg_fail(e, st, "listing %s: %s", e->where, qv_strerror(st));
}

/* Opens Qdrant collection name of the store as a set. */
static qv_status store_set(mg_endpoint *e, const char *name, lib_set *ls)
{
    qv_collection *c = NULL;
    char **list = NULL;
    size_t count = 0;
    memset(ls, 0, sizeof(*ls));
    qv_status st = qv_store_get(e->state, name, &c);
    if (st == QV_ENOTFOUND)
        return mg_fail(e, st, "%s has no collection '%s'", e->where, name);
    if (st != QV_OK)
        return mg_fail(e, st, "opening '%s': %s", name, qv_strerror(st));
    if (is_registry(c))
        st = store_names(e, &list, &count);
    size_t members = 0;
    for (size_t i = 0; st == QV_OK && i < count; i++)
        members += is_member_of(list[i], name);
    if (st != QV_OK || members == 0) {
        qv_free(list);
        if (st == QV_OK && set_single(c, ls) != QV_OK)
            st = mg_fail(e, QV_ENOMEM, "out of memory");
        qv_collection_release(c);
        return st;
    }
    ls->named = true;
    ls->reg = c;
    ls->vecs = calloc(members, sizeof(*ls->vecs));
    ls->names = calloc(members, sizeof(*ls->names));
    if (!ls->vecs || !ls->names)
        st = mg_fail(e, QV_ENOMEM, "out of memory");
    for (size_t i = 0; st == QV_OK && i < count; i++) {
        if (!is_member_of(list[i], name))
            continue;
        size_t k = ls->n;
        ls->names[k] = strdup(list[i] + strlen(name) + 1);
        st = qv_store_get(e->state, list[i], &ls->vecs[k]);
        ls->n++;
        if (st != QV_OK || !ls->names[k])
            st = mg_fail(e, st ? st : QV_ENOMEM, "opening '%s' of %s", list[i],
                         e->where);
    }
    qv_free(list);
    if (st != QV_OK)
        set_free(ls);
    return st;
}

static qv_status store_list(mg_endpoint *e, char ***names, size_t *n)
{
    char **list = NULL;
    size_t count = 0;
    *n = 0;
    qv_status st = store_names(e, &list, &count);
    if (st != QV_OK)
        return st;
    *names = calloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; *names && i < count; i++) {
        /* A vector collection of a named collection is not listed. */
        bool member = false;
        for (size_t j = 0; !member && j < count; j++) {
            qv_collection *c = NULL;
            if (j == i || !is_member_of(list[i], list[j]) ||
                qv_store_get(e->state, list[j], &c) != QV_OK)
                continue;
            member = is_registry(c);
            qv_collection_release(c);
        }
        if (!member && !((*names)[(*n)++] = strdup(list[i])))
            st = QV_ENOMEM;
    }
    qv_free(list);
    if (!*names || st != QV_OK)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    return QV_OK;
}

#define WITH_STORE_SET(call)                                                   \
    lib_set ls;                                                                \
    qv_status st = store_set(e, name, &ls);                                    \
    if (st == QV_OK) {                                                         \
        st = (call);                                                           \
        set_free(&ls);                                                         \
    }                                                                          \
    return st

static qv_status store_describe(mg_endpoint *e, const char *name,
                                mg_schema *out)
{
    WITH_STORE_SET(set_describe(e, &ls, out));
}

static qv_status store_count(mg_endpoint *e, const char *name, uint64_t *out)
{
    WITH_STORE_SET(qv_count(ls.reg, out));
}

static qv_status store_read(mg_endpoint *e, const char *name,
                            const mg_schema *s, const qv_point_id *start,
                            size_t limit, mg_batch *out, qv_point_id *next,
                            bool *has_next)
{
    (void)s;
    WITH_STORE_SET(set_read(e, &ls, start, limit, out, next, has_next));
}

static qv_status store_fetch(mg_endpoint *e, const char *name,
                             const mg_schema *s, const qv_point_id *ids,
                             size_t n, mg_batch *out)
{
    (void)s;
    WITH_STORE_SET(set_fetch(e, &ls, ids, n, out));
}

static qv_status store_write(mg_endpoint *e, const char *name,
                             const mg_schema *s, const mg_batch *b)
{
    (void)s;
    WITH_STORE_SET(set_write(e, &ls, b));
}

/* Gets collection name of the store, creating it with cfg if missing. */
static qv_status store_get_or_create(mg_endpoint *e, const char *name,
                                     const qv_collection_config *cfg,
                                     qv_collection **c)
{
    qv_status st = qv_store_get(e->state, name, c);
    if (st != QV_ENOTFOUND)
        return st == QV_OK
                   ? st
                   : mg_fail(e, st, "opening '%s': %s", name, qv_strerror(st));
    st = qv_store_create(e->state, name, cfg, c);
    if (st != QV_OK) {
        char msg[512];
        qv_store_errmsg(e->state, msg, sizeof(msg));
        st = mg_fail(e, st, "creating collection '%s' in %s: %s", name,
                     e->where, msg);
    }
    return st;
}

static qv_status store_prepare(mg_endpoint *e, const char *name,
                               const mg_schema *s)
{
    qv_collection_config cfg;
    qv_collection *c = NULL;
    lib_set ls;
    qv_status st = check_names(e, name, s);
    if (st != QV_OK)
        return st;
    /* The registry (or the one collection) first, then any vector
     * collection missing (a run killed while creating them left some). */
    if (s->named)
        registry_config(&cfg);
    else
        lib_config(s, 0, &cfg);
    st = store_get_or_create(e, name, &cfg, &c);
    for (size_t v = 0; st == QV_OK && s->named && v < s->n_vectors; v++) {
        qv_collection *m = NULL;
        size_t len = strlen(name) + strlen(s->vectors[v].name) + 2;
        char *full = malloc(len);
        if (!full)
            return mg_fail(e, QV_ENOMEM, "out of memory");
        snprintf(full, len, "%s%s%s", name, MEMBER_SEP, s->vectors[v].name);
        lib_config(s, v, &cfg);
        st = store_get_or_create(e, full, &cfg, &m);
        qv_collection_release(m);
        free(full);
    }
    qv_collection_release(c);
    if (st == QV_OK)
        st = store_set(e, name, &ls);
    if (st != QV_OK)
        return st;
    st = set_check_existing(e, &ls, name, s);
    if (st == QV_OK)
        st = lib_create_indexes(e, ls.reg, s);
    set_free(&ls);
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
    lib_set set; /* source: the opened file; destination: built here */
    bool has;
    bool as_dest;
} snap_state;

static qv_status snap_coll(mg_endpoint *e, const char *name, lib_set **ls)
{
    snap_state *s = e->state;
    if (strcmp(name, s->name) != 0 || !s->has)
        return mg_fail(e, QV_ENOTFOUND,
                       "%s holds only collection '%s', not '%s'", s->path,
                       s->name, name);
    *ls = &s->set;
    return QV_OK;
}

#define WITH_SNAP_SET(call)                                                    \
    lib_set *ls = NULL;                                                        \
    qv_status st = snap_coll(e, name, &ls);                                    \
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
    WITH_SNAP_SET(set_describe(e, ls, out));
}

static qv_status snap_count(mg_endpoint *e, const char *name, uint64_t *out)
{
    WITH_SNAP_SET(qv_count(ls->reg, out));
}

static qv_status snap_read(mg_endpoint *e, const char *name, const mg_schema *s,
                           const qv_point_id *start, size_t limit,
                           mg_batch *out, qv_point_id *next, bool *has_next)
{
    (void)s;
    WITH_SNAP_SET(set_read(e, ls, start, limit, out, next, has_next));
}

static qv_status snap_fetch(mg_endpoint *e, const char *name,
                            const mg_schema *s, const qv_point_id *ids,
                            size_t n, mg_batch *out)
{
    (void)s;
    WITH_SNAP_SET(set_fetch(e, ls, ids, n, out));
}

static qv_status snap_write(mg_endpoint *e, const char *name,
                            const mg_schema *s, const mg_batch *b)
{
    (void)s;
    WITH_SNAP_SET(set_write(e, ls, b));
}

static qv_status snap_prepare(mg_endpoint *e, const char *name,
                              const mg_schema *s)
{
    snap_state *ss = e->state;
    qv_collection_config cfg;
    lib_set *ls = &ss->set;
    if (ss->has)
        return mg_fail(e, QV_EEXIST,
                       "%s exists: a snapshot destination is written whole; "
                       "remove it or name another file",
                       ss->path);
    if (strcmp(name, ss->name) != 0)
        return mg_fail(e, QV_EINVAL,
                       "%s holds one collection, '%s'; cannot write "
                       "'%s' to it",
                       ss->path, ss->name, name);
    memset(ls, 0, sizeof(*ls));
    ls->named = s->named;
    ls->vecs = calloc(s->n_vectors, sizeof(*ls->vecs));
    ls->names = calloc(s->n_vectors, sizeof(*ls->names));
    if (!ls->vecs || !ls->names)
        return mg_fail(e, QV_ENOMEM, "out of memory");
    ss->has = true;
    qv_status st = QV_OK;
    if (s->named) {
        registry_config(&cfg);
        st = qv_collection_create(&cfg, &ls->reg);
    }
    for (size_t v = 0; st == QV_OK && v < s->n_vectors; v++) {
        lib_config(s, v, &cfg);
        st = qv_collection_create(&cfg, &ls->vecs[v]);
        ls->n++;
        if (st == QV_OK && s->named &&
            !(ls->names[v] = strdup(s->vectors[v].name)))
            st = QV_ENOMEM;
    }
    if (st == QV_OK && !s->named) {
        ls->reg = ls->vecs[0];
        qv_collection_retain(ls->reg);
    }
    if (st != QV_OK)
        return mg_fail(e, st, "creating collection '%s': %s", name,
                       qv_strerror(st));
    return lib_create_indexes(e, ls->reg, s);
}

/* The archive header's collection entry: the names the members go by,
 * and (for a reader's information) each vector's kind and size. */
static cJSON *archive_entry(const char *name, const lib_set *ls)
{
    cJSON *j = cJSON_CreateObject(), *vs = cJSON_AddArrayToObject(j, "vectors");
    bool ok = j && vs && cJSON_AddStringToObject(j, "name", name) &&
              cJSON_AddBoolToObject(j, "named", true);
    for (size_t i = 0; ok && i < ls->n; i++) {
        qv_collection_config cfg;
        mg_vector v;
        qv_collection_get_config(ls->vecs[i], &cfg);
        vector_from_config(&cfg, &v);
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddItemToArray(vs, x) &&
             cJSON_AddStringToObject(x, "name", ls->names[i]) &&
             cJSON_AddStringToObject(x, "kind", mg_kind_name(v.kind)) &&
             (v.kind == MG_SPARSE ||
              (cJSON_AddNumberToObject(x, "size", v.dim) &&
               cJSON_AddStringToObject(x, "distance",
                                       qv_metric_name(v.metric))));
    }
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* A set from an archive's members and its collection entry. */
static qv_status set_from_archive(qv_collection **colls, size_t n,
                                  const cJSON *entry, lib_set *ls)
{
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(entry, "vectors");
    memset(ls, 0, sizeof(*ls));
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "named")))
        return n == 1 ? set_single(colls[0], ls) : QV_EFORMAT;
    if (n < 2 || !cJSON_IsArray(vs) || (size_t)cJSON_GetArraySize(vs) != n - 1)
        return QV_EFORMAT;
    ls->named = true;
    ls->vecs = calloc(n - 1, sizeof(*ls->vecs));
    ls->names = calloc(n - 1, sizeof(*ls->names));
    if (!ls->vecs || !ls->names)
        return QV_ENOMEM;
    qv_collection_retain(colls[0]);
    ls->reg = colls[0];
    for (size_t i = 0; i + 1 < n; i++) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(vs, (int)i), "name");
        if (!cJSON_IsString(nm))
            return QV_EFORMAT;
        qv_collection_retain(colls[i + 1]);
        ls->vecs[ls->n++] = colls[i + 1];
        if (!(ls->names[i] = strdup(nm->valuestring)))
            return QV_ENOMEM;
    }
    return QV_OK;
}

/* Opens path, a library snapshot or an archive, into s->set. */
static qv_status snap_load(mg_endpoint *e, snap_state *s, unsigned flags)
{
    char msg[768] = "";
    qv_status st;
    if (!mga_is_archive(s->path)) {
        qv_collection *c = NULL;
        st = qv_snapshot_open(s->path, flags, &c, msg, sizeof(msg));
        if (st == QV_OK) {
            st = set_single(c, &s->set);
            qv_collection_release(c);
        }
    } else {
        qv_collection **colls = NULL;
        size_t n = 0;
        cJSON *entry = NULL;
        st = mga_read(s->path, &colls, &n, &entry, msg, sizeof(msg));
        if (st == QV_OK) {
            st = set_from_archive(colls, n, entry, &s->set);
            if (st == QV_EFORMAT)
                snprintf(msg, sizeof(msg),
                         "its header does not name one vector per member");
        }
        for (size_t i = 0; i < n; i++)
            qv_collection_release(colls[i]);
        free(colls);
        cJSON_Delete(entry);
    }
    if (st != QV_OK) {
        set_free(&s->set);
        return mg_fail(e, st, "%s: %s", s->path,
                       msg[0] ? msg : qv_strerror(st));
    }
    s->has = true;
    return QV_OK;
}

/* Saves the collection, then reopens the file so that the verification
 * that follows reads what was written, not what is in memory. */
static qv_status snap_finish(mg_endpoint *e, const char *name)
{
    snap_state *s = e->state;
    lib_set *ls = NULL;
    qv_status st = snap_coll(e, name, &ls);
    if (st != QV_OK)
        return st;
    if (!ls->named) {
        st = qv_snapshot_save(ls->reg, s->path);
        if (st != QV_OK)
            return coll_fail(e, ls->reg, st, "saving the snapshot");
    } else {
        char msg[768];
        qv_collection **all = calloc(ls->n + 1, sizeof(*all));
        cJSON *entry = archive_entry(name, ls);
        st = all && entry ? QV_OK : QV_ENOMEM;
        if (st == QV_OK) {
            all[0] = ls->reg;
            memcpy(all + 1, ls->vecs, ls->n * sizeof(*all));
            st = mga_write(s->path, all, ls->n + 1, entry, msg, sizeof(msg));
        }
        free(all);
        cJSON_Delete(entry);
        if (st != QV_OK)
            return mg_fail(e, st, "saving %s: %s", s->path,
                           st == QV_ENOMEM ? "out of memory" : msg);
    }
    set_free(&s->set);
    s->has = false;
    return snap_load(e, s, QV_SNAPSHOT_VERIFY);
}

static void snap_close(mg_endpoint *e)
{
    snap_state *s = e->state;
    if (!s)
        return;
    set_free(&s->set);
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
    return snap_load(e, s, 0);
}
