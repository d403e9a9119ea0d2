/*
 * quantization.c -- Qdrant's quantization on the server.
 *
 * Configs: CreateCollection and PATCH keep the quantization_config as
 * given in the CollectionInfo config (catalog_config.c checks and echoes
 * it); this file turns the one in effect for each vector -- the vector's
 * own VectorParams.quantization_config, else the collection's, as Qdrant's
 * (lib/collection/src/config.rs, the vector's config overrides the
 * collection's) -- into the library's quantization fields, and brings
 * every library collection in line with it: when the collection is
 * created or opened (catalog.c attach_all: the catalog commits a PATCH
 * before the library logs the change, so after a crash between the two
 * the catalog's config is the one that counts) and after each PATCH.  A change
 * rebuilds that collection's codes under its write lock
 * (qv_collection_set_quantization): searches wait for the rebuild rather than
 * see half the codes.
 *
 * Qdrant's scalar {type: int8, quantile, always_ram}, binary {encoding,
 * query_encoding, always_ram} and product {compression, always_ram} map one
 * to one (product's compression x4..x64 becomes quant_encoding, a
 * qv_pq_compression).  turbo is accepted and shown, but the library has no
 * such codes yet: searches of those vectors read the floats.
 *
 * Searches: params.quantization {ignore, rescore, oversampling}
 * (QuantizationSearchParams in Qdrant's OpenAPI; oversampling is validated
 * `range(min = 1.0)`, the others are plain booleans).
 */
#include "quantization.h"

#include "qjson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *item(const cJSON *obj, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(j) ? NULL : j;
}

/* The index of s in names, or dflt when s is not a string. */
static uint32_t pick(const cJSON *s, const char *const *names, uint32_t n,
                     uint32_t dflt)
{
    if (!cJSON_IsString(s))
        return dflt;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(s->valuestring, names[i]) == 0)
            return i;
    return dflt;
}

/* One QuantizationConfig (already checked by catalog_config.c). */
static void from_json(const cJSON *q, qv_collection_config *lib)
{
    static const char *const enc[] = {"one_bit", "one_and_half_bits",
                                      "two_bits"};
    static const char *const qenc[] = {"default", "binary", "scalar4bits",
                                       "scalar8bits"};
    static const char *const ratio[] = {"x4", "x8", "x16", "x32", "x64"};
    const cJSON *s = item(q, "scalar"), *b = item(q, "binary"),
                *p = item(q, "product");
    const cJSON *v = s ? s : b ? b : p;
    if (!cJSON_IsObject(v))
        return; /* turbo: not implemented, see above */
    lib->quant_always_ram = cJSON_IsTrue(item(v, "always_ram"));
    if (v == p) {
        lib->quantization = QV_QUANTIZATION_PRODUCT;
        lib->quant_encoding = pick(item(p, "compression"), ratio, 5, 0);
        return;
    }
    if (s) {
        const cJSON *qu = item(s, "quantile");
        lib->quantization = QV_QUANTIZATION_INT8;
        lib->quant_quantile = cJSON_IsNumber(qu) ? (float)qu->valuedouble : 0;
        return;
    }
    lib->quantization = QV_QUANTIZATION_BINARY;
    lib->quant_encoding = pick(item(b, "encoding"), enc, 3, 0);
    lib->quant_query_encoding = pick(item(b, "query_encoding"), qenc, 4, 0);
}

void qvs_quant_effective(const cJSON *config, const cJSON *vparams,
                         qv_collection_config *lib)
{
    lib->quantization = QV_QUANTIZATION_NONE;
    lib->quant_quantile = 0;
    lib->quant_always_ram = false;
    lib->quant_encoding = 0;
    lib->quant_query_encoding = 0;
    const cJSON *q = item(vparams, "quantization_config");
    if (!q)
        q = item(config, "quantization_config");
    if (q)
        from_json(q, lib);
}

/* Here rather than in catalog_config.c: the point endpoints' tests link
 * this file without the catalog's. */
const cJSON *qvs_config_vparams(const cJSON *vectors, const char *name)
{
    if (!cJSON_IsObject(vectors) || !name)
        return NULL;
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(vectors, "size")))
        return name[0] == '\0' ? vectors : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(vectors, name);
    return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *qvs_quant_vparams(const cJSON *config, const qvs_coll *c, size_t i)
{
    const cJSON *vectors = item(item(config, "params"), "vectors");
    return qvs_config_vparams(vectors, c->vectors[i].name);
}

static bool same_quantization(const qv_collection_config *a,
                              const qv_collection_config *b)
{
    return a->quantization == b->quantization &&
           a->quant_quantile == b->quant_quantile &&
           a->quant_always_ram == b->quant_always_ram &&
           a->quant_encoding == b->quant_encoding &&
           a->quant_query_encoding == b->quant_query_encoding;
}

qv_status qvs_quant_sync(const qvs_coll *c, const cJSON *config, char *err,
                         size_t cap)
{
    for (size_t i = 0; i < c->n_vectors; i++) {
        qv_collection *lib = c->vectors[i].coll;
        qv_collection_config now, want;
        qv_status st = qv_collection_get_config(lib, &now);
        if (st != QV_OK)
            return st;
        want = now;
        qvs_quant_effective(config, qvs_quant_vparams(config, c, i), &want);
        if (same_quantization(&now, &want))
            continue;
        st = qv_collection_set_quantization(lib, &want);
        if (st != QV_OK) {
            char msg[256];
            qv_collection_errmsg(lib, msg, sizeof(msg));
            snprintf(err, cap, "quantization of vector '%s': %s",
                     c->vectors[i].name, msg);
            return st;
        }
    }
    return QV_OK;
}

bool qvs_quant_search_parse(const cJSON *params, qvs_quant_search *out,
                            qvs_resp *r)
{
    memset(out, 0, sizeof(*out));
    const cJSON *q = item(params, "quantization");
    if (!q)
        return true;
    if (!cJSON_IsObject(q))
        return qj_fail_format(r,
                              "params.quantization: invalid type: %s, "
                              "expected struct QuantizationSearchParams",
                              qj_type_name(q));
    const cJSON *ig = item(q, "ignore"), *rs = item(q, "rescore"),
                *os = item(q, "oversampling");
    if ((ig && !cJSON_IsBool(ig)) || (rs && !cJSON_IsBool(rs)))
        return qj_fail_format(r,
                              "params.quantization.%s: invalid type: %s, "
                              "expected a boolean",
                              ig && !cJSON_IsBool(ig) ? "ignore" : "rescore",
                              qj_type_name(ig && !cJSON_IsBool(ig) ? ig : rs));
    if (os && !cJSON_IsNumber(os))
        return qj_fail_format(r,
                              "params.quantization.oversampling: invalid "
                              "type: %s, expected f64",
                              qj_type_name(os));
    if (os && !(os->valuedouble >= 1.0)) {
        /* serde_json prints a float with a fraction: 0 as "0.0". */
        double v = os->valuedouble;
        return qj_fail_validation(r,
                                  "params.quantization.oversampling: value "
                                  "%.*g%s invalid, must be 1.0 or larger",
                                  17, v, v == floor(v) ? ".0" : "");
    }
    out->ignore = cJSON_IsTrue(ig);
    out->rescore = !rs                ? QV_RESCORE_AUTO
                   : cJSON_IsTrue(rs) ? QV_RESCORE_ON
                                      : QV_RESCORE_OFF;
    /* Qdrant has no upper bound; the library keeps at most QV_MAX_EF
     * candidates anyway. */
    out->oversampling = os ? fmin(os->valuedouble, QV_MAX_OVERSAMPLING) : 0;
    return true;
}

void qvs_quant_search_apply(const qvs_quant_search *q, qv_search_params *sp)
{
    sp->quant_ignore = q->ignore;
    sp->quant_rescore = q->rescore;
    sp->quant_oversampling = q->oversampling;
}
