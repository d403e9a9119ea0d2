/*
 * sparse_config.c -- the `sparse_vectors` map of CreateCollection.
 *
 * Each entry is Qdrant's SparseVectorParams: {"index"?: {"full_scan_
 * threshold"?, "on_disk"?, "datatype"?}, "modifier"?: "none" | "idf"}.
 * The map itself is still echoed into the collection's config as given
 * (catalog_config.c); here each name becomes a vector spec whose library
 * collection is sparse (QV_VECTOR_SPARSE) with the modifier, the
 * full-scan threshold and the datatype of its posting lists (Qdrant's
 * index.datatype types the weights of its inverted index; the stored
 * vectors, which retrieve returns, stay float32: include/quiver.h).
 * on_disk is accepted and shown but changes nothing: vectors are held in
 * memory.
 *
 * PATCH (qvs_sparse_patch_check, _apply, _sync): Qdrant 1.19 replaces a
 * sparse vector's modifier and merges its index params field by field
 * (CollectionParams::update_sparse_vectors_from_other and
 * SparseIndexParams::update_from_other, lib/collection/src/config.rs and
 * lib/segment/src/types.rs), so all of modifier, full_scan_threshold,
 * on_disk and datatype may change.  The library collection follows the
 * merged config through qv_sparse_set_params (logged, WAL kind 21): before
 * the catalog commits it, undone if the commit fails, and brought in line
 * with the catalog at every open -- so a crash between the two leaves the
 * catalog's config in force, whichever side it fell.
 *
 * A plain VectorParams beside sparse vectors (Qdrant's VectorsConfig::
 * Single with sparse_vectors; LangChain's hybrid mode sends the map form
 * {"": VectorParams}, which parse_named takes) is stored as named vector
 * "" next to the sparse ones, as Qdrant itself keeps DEFAULT_VECTOR_NAME
 * "" among the named vectors of a segment.
 *
 * Names follow Qdrant's CreateCollectionOperation::new checks
 * (lib/storage/src/content_manager/collection_meta_ops.rs): "Sparse vector
 * name cannot be empty", and "Dense and sparse vector names must be
 * unique - duplicate found with 'x'", both 400 "Wrong input".
 */
#include "sparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *member(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNull(m) ? NULL : m;
}

static bool format_error(qvs_resp *r, const char *name, const char *what)
{
    return qvs_fail(r, 400,
                    "Format error in JSON body: sparse_vectors.%.200s%s", name,
                    what);
}

/* One SparseVectorParams, checked. */
static bool check_params(const cJSON *p, const char *name, qvs_resp *r)
{
    const cJSON *mod = member(p, "modifier");
    if (mod &&
        (!cJSON_IsString(mod) || (strcmp(mod->valuestring, "idf") != 0 &&
                                  strcmp(mod->valuestring, "none") != 0)))
        return format_error(r, name,
                            ".modifier: unknown variant, expected `none` or "
                            "`idf`");
    const cJSON *ix = member(p, "index");
    if (!ix)
        return true;
    if (!cJSON_IsObject(ix))
        return format_error(r, name,
                            ".index: invalid type, expected struct "
                            "SparseIndexParams");
    const cJSON *fst = member(ix, "full_scan_threshold");
    if (fst && (!cJSON_IsNumber(fst) || fst->valuedouble < 0 ||
                fst->valuedouble != (double)(uint64_t)fst->valuedouble))
        return format_error(r, name,
                            ".index.full_scan_threshold: invalid value, "
                            "expected usize");
    const cJSON *od = member(ix, "on_disk");
    if (od && !cJSON_IsBool(od))
        return format_error(r, name,
                            ".index.on_disk: invalid type, expected a "
                            "boolean");
    const cJSON *dt = member(ix, "datatype");
    if (dt &&
        (!cJSON_IsString(dt) || (strcmp(dt->valuestring, "float32") != 0 &&
                                 strcmp(dt->valuestring, "float16") != 0 &&
                                 strcmp(dt->valuestring, "uint8") != 0)))
        return format_error(r, name,
                            ".index.datatype: unknown variant, expected one "
                            "of `float32`, `float16`, `uint8`");
    return true;
}

void qvs_sparse_lib_config(const cJSON *params, qv_collection_config *cfg)
{
    qv_collection_config_init(cfg);
    cfg->kind = QV_VECTOR_SPARSE;
    cfg->dim = 1; /* what the library reports for a sparse collection */
    cfg->metric = QV_METRIC_DOT;
    cfg->sparse_full_scan_threshold = QV_DEFAULT_SPARSE_FULL_SCAN;
    const cJSON *mod = member(params, "modifier");
    if (cJSON_IsString(mod) && strcmp(mod->valuestring, "idf") == 0)
        cfg->sparse_modifier = QV_SPARSE_MODIFIER_IDF;
    const cJSON *fst = member(member(params, "index"), "full_scan_threshold");
    if (cJSON_IsNumber(fst) && fst->valuedouble >= 1)
        cfg->sparse_full_scan_threshold = fst->valuedouble > UINT32_MAX
                                              ? UINT32_MAX
                                              : (uint32_t)fst->valuedouble;
    const cJSON *dt = member(member(params, "index"), "datatype");
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "float16") == 0)
        cfg->datatype = QV_DATATYPE_FLOAT16;
    else if (cJSON_IsString(dt) && strcmp(dt->valuestring, "uint8") == 0)
        cfg->datatype = QV_DATATYPE_UINT8;
}

static int vspec_order(const void *a, const void *b)
{
    return strcmp(((const qvs_vspec *)a)->name, ((const qvs_vspec *)b)->name);
}

bool qvs_sparse_spec_add(const cJSON *body, qvs_spec *spec, qvs_resp *r)
{
    const cJSON *sv = member(body, "sparse_vectors");
    int n = cJSON_IsObject(sv) ? cJSON_GetArraySize(sv) : 0;
    if (n == 0)
        return true;
    /* An unnamed dense vector beside sparse ones: the collection takes the
     * named layout (a registry plus one library collection per vector,
     * catalog.h), the dense one as vector "", while its config keeps the
     * single VectorParams echo it was created with. */
    spec->named = true;
    for (const cJSON *e = sv->child; e; e = e->next) {
        if (!e->string[0])
            return qvs_fail(r, 400,
                            "Wrong input: Sparse vector name cannot be empty");
        for (size_t i = 0; i < spec->n; i++)
            if (strcmp(spec->v[i].name, e->string) == 0)
                return qvs_fail(r, 400,
                                "Wrong input: Dense and sparse vector names "
                                "must be unique - duplicate found with "
                                "'%.200s'",
                                e->string);
        if (!check_params(e, e->string, r))
            return false;
    }
    qvs_vspec *v = realloc(spec->v, (spec->n + (size_t)n) * sizeof(*v));
    if (!v)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    spec->v = v;
    for (const cJSON *e = sv->child; e; e = e->next) {
        qvs_vspec *s = &spec->v[spec->n];
        memset(s, 0, sizeof(*s));
        if (!(s->name = strdup(e->string)))
            return qvs_fail(r, 500, "Service internal error: out of memory");
        spec->n++;
        s->metric = QV_METRIC_DOT;
        qvs_sparse_lib_config(e, &s->lib);
    }
    qsort(spec->v, spec->n, sizeof(*spec->v), vspec_order);
    return true;
}

static bool not_existing(qvs_resp *r, const char *name)
{
    return qvs_fail(
        r, 400, "Wrong input: Not existing vector name error: %.200s", name);
}

bool qvs_sparse_patch_check(const cJSON *body, const qvs_coll *c, qvs_resp *r)
{
    const cJSON *dv = member(body, "vectors");
    for (const cJSON *e = cJSON_IsObject(dv) ? dv->child : NULL; e;
         e = e->next) {
        const qvs_vector *v = qvs_coll_vector(c, e->string);
        if (v && v->sparse)
            return not_existing(r, e->string);
    }
    const cJSON *sv = member(body, "sparse_vectors");
    for (const cJSON *e = cJSON_IsObject(sv) ? sv->child : NULL; e;
         e = e->next) {
        const qvs_vector *v = qvs_coll_vector(c, e->string);
        if (!v || !v->sparse)
            return not_existing(r, e->string);
        if (!cJSON_IsObject(e) || !check_params(e, e->string, r))
            return cJSON_IsObject(e) ||
                   format_error(r, e->string,
                                ": invalid type, expected struct "
                                "SparseVectorParams");
    }
    return true;
}

/* The library config config (a collection's config JSON, PATCH merged)
 * gives sparse vector name. */
static void want_of(const cJSON *config, const char *name,
                    qv_collection_config *out)
{
    const cJSON *sv = member(member(config, "params"), "sparse_vectors");
    qvs_sparse_lib_config(member(sv, name), out);
}

/* Sets want on vector i's library collection; err names the vector. */
static qv_status set_params(qvs_coll *c, size_t i,
                            const qv_collection_config *want, char *err,
                            size_t cap)
{
    qv_collection *lib = c->vectors[i].coll;
    qv_status st = qv_sparse_set_params(lib, want);
    if (st != QV_OK) {
        char msg[256];
        qv_collection_errmsg(lib, msg, sizeof(msg));
        snprintf(err, cap, "sparse vector %s: %s", c->vectors[i].name, msg);
    }
    return st;
}

qv_status qvs_sparse_sync(qvs_coll *c, const cJSON *config, bool at_open,
                          char *err, size_t cap)
{
    for (size_t i = 0; i < c->n_vectors; i++) {
        if (!c->vectors[i].sparse)
            continue;
        qv_collection_config now, want;
        qv_status st = qv_collection_get_config(c->vectors[i].coll, &now);
        if (st != QV_OK)
            return st;
        want_of(config, c->vectors[i].name, &want);
        if (now.sparse_modifier == want.sparse_modifier &&
            now.sparse_full_scan_threshold == want.sparse_full_scan_threshold &&
            now.datatype == want.datatype) {
            c->vector_cfgs[i].sparse_modifier = want.sparse_modifier;
            c->vector_cfgs[i].sparse_full_scan_threshold =
                want.sparse_full_scan_threshold;
            c->vector_cfgs[i].datatype = want.datatype;
            continue;
        }
        st = set_params(c, i, &want, err, cap);
        if (st == QV_ERANGE && at_open) {
            /* A storage of a build that showed index.datatype without
             * applying it may hold a value float16 cannot: the vector
             * keeps the datatype it has, the rest applies. */
            fprintf(stderr, "quiver serve: %s; %s kept\n", err,
                    now.datatype == QV_DATATYPE_UINT8     ? "uint8"
                    : now.datatype == QV_DATATYPE_FLOAT16 ? "float16"
                                                          : "float32");
            want.datatype = now.datatype;
            st = set_params(c, i, &want, err, cap);
        }
        if (st != QV_OK)
            return st;
        c->vector_cfgs[i].sparse_modifier = want.sparse_modifier;
        c->vector_cfgs[i].sparse_full_scan_threshold =
            want.sparse_full_scan_threshold;
        c->vector_cfgs[i].datatype = want.datatype;
    }
    return QV_OK;
}

/* dst[key] as an object, made (or made one) when it is not. */
static cJSON *object_at(cJSON *dst, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(dst, key);
    if (cJSON_IsObject(o))
        return o;
    cJSON_DeleteItemFromObjectCaseSensitive(dst, key);
    return cJSON_AddObjectToObject(dst, key);
}

/* Copies the non-null members of diff into dst, replacing same keys. */
static bool merge_members(cJSON *dst, const cJSON *diff)
{
    for (const cJSON *m = diff->child; m; m = m->next) {
        if (cJSON_IsNull(m))
            continue;
        cJSON *copy = cJSON_Duplicate(m, true);
        if (!copy)
            return false;
        if (cJSON_HasObjectItem(dst, m->string))
            cJSON_ReplaceItemInObjectCaseSensitive(dst, m->string, copy);
        else
            cJSON_AddItemToObject(dst, m->string, copy);
    }
    return true;
}

bool qvs_sparse_patch_apply(cJSON *params, const cJSON *sv, qvs_resp *r)
{
    cJSON *all = object_at(params, "sparse_vectors");
    bool ok = all != NULL;
    for (const cJSON *e = sv->child; ok && e; e = e->next) {
        cJSON *dst = object_at(all, e->string);
        const cJSON *mod = member(e, "modifier");
        const cJSON *ix = member(e, "index");
        ok = dst != NULL;
        if (ok && mod) {
            cJSON *copy = cJSON_Duplicate(mod, true);
            ok = copy && (cJSON_HasObjectItem(dst, "modifier")
                              ? cJSON_ReplaceItemInObjectCaseSensitive(
                                    dst, "modifier", copy)
                              : cJSON_AddItemToObject(dst, "modifier", copy));
        }
        if (ok && ix) {
            cJSON *dix = object_at(dst, "index");
            ok = dix && merge_members(dix, ix);
        }
    }
    return ok || qvs_fail(r, 500, "Service internal error: out of memory");
}
