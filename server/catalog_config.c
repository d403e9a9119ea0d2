/*
 * catalog_config.c -- Qdrant collection configs: CreateCollection bodies
 * checked and turned into library configs plus the CollectionInfo
 * "config" object, and UpdateCollection (PATCH) bodies applied to it.
 *
 * What reaches the library: each vector's size and distance, and the HNSW
 * knobs m, ef_construct, full_scan_threshold and max_indexing_threads
 * (collection-level, overridden per vector by VectorParams.hnsw_config).
 * Qdrant's m = 0 ("no graph") becomes an index that is never built: the
 * library's full-scan threshold set to its maximum.  max_indexing_threads
 * above the library's 64 builds with 64 (more would not help).  The
 * quantization config is checked and kept here and applied to the library
 * collections by quantization.c.  A dense vector's on_disk: true and
 * hnsw_config.on_disk: true are applied by catalog.c (sync_on_disk:
 * vectors, graph links in mapped files).  Every other knob (optimizers,
 * WAL, payload storage, sparse vectors, strict mode, metadata, shard
 * and replication numbers) is checked for its type, kept and echoed back
 * in CollectionInfo, but has no effect: a single-node in-process engine
 * has no segments, optimizers or shards to tune.  PATCH changes the
 * recorded config only (quantization.c then rebuilds changed codes);
 * the library cannot rebuild an existing collection's graph with other
 * parameters yet, so new HNSW values apply when the collection is next
 * created from scratch.
 *
 * Errors follow Qdrant's two kinds: a value of the wrong type or an
 * unknown enum variant is 400 "Format error in JSON body: ...", a value out
 * of its range is 422 "Validation error in JSON body: [path: ...]".
 * multivector_config {"comparator": "max_sim"} makes the vector's library
 * collection a multivector one (server/multivec.c serves its points).
 * Settings Quiver cannot honour (custom sharding) are refused with 400 "Bad
 * request: ..." rather than silently ignored.
 */
#include "server.h"
#include "sparse.h"
#include "strict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool format_error(qvs_resp *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool format_error(qvs_resp *r, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return qvs_fail(r, 400, "Format error in JSON body: %s%s%s", path,
                    *path ? ": " : "", msg);
}

static bool range_error(qvs_resp *r, const char *path, const char *msg)
{
    return qvs_fail(r, 422, "Validation error in JSON body: [%s: %s]", path,
                    msg);
}

static const char *kind(const cJSON *j)
{
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsBool(j))
        return "boolean";
    if (cJSON_IsNumber(j))
        return "number";
    if (cJSON_IsString(j))
        return "string";
    if (cJSON_IsArray(j))
        return "sequence";
    return "map";
}

/* path.key, cut to fit (paths only label error messages). */
static void join(char *out, size_t cap, const char *path, const char *key)
{
    size_t n = strlen(path);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, path, n);
    out[n] = '\0';
    if (n && n + 1 < cap)
        out[n++] = '.', out[n] = '\0';
    size_t k = strlen(key);
    if (k > cap - 1 - n)
        k = cap - 1 - n;
    memcpy(out + n, key, k);
    out[n + k] = '\0';
}

/* An unsigned integer of at most 2^53 (exact in a double). */
static bool get_uint(const cJSON *j, const char *path, uint64_t *out,
                     qvs_resp *r)
{
    if (!cJSON_IsNumber(j))
        return format_error(r, path,
                            "invalid type: %s, expected an unsigned "
                            "integer",
                            kind(j));
    double d = j->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > 9007199254740992.0)
        return format_error(r, path,
                            "invalid value: %g, expected an unsigned "
                            "integer",
                            d);
    *out = (uint64_t)d;
    return true;
}

/* An unsigned field >= min, or absent/null (*present false). */
static bool get_uint_min(const cJSON *obj, const char *key, const char *path,
                         uint64_t min, uint64_t *out, bool *present,
                         qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *present = false;
    if (!j || cJSON_IsNull(j))
        return true;
    char p[300];
    join(p, sizeof(p), path, key);
    if (!get_uint(j, p, out, r))
        return false;
    if (*out < min) {
        char msg[96];
        snprintf(msg, sizeof(msg), "value %llu invalid, must be %llu or larger",
                 (unsigned long long)*out, (unsigned long long)min);
        return range_error(r, p, msg);
    }
    *present = true;
    return true;
}

static bool check_type(const cJSON *obj, const char *key, const char *path,
                       int (*is)(const cJSON *), const char *what, qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j || cJSON_IsNull(j) || is(j))
        return true;
    char p[300];
    join(p, sizeof(p), path, key);
    return format_error(r, p, "invalid type: %s, expected %s", kind(j), what);
}

static int is_bool(const cJSON *j)
{
    return cJSON_IsBool(j);
}
static int is_object(const cJSON *j)
{
    return cJSON_IsObject(j);
}

/* Copies src[key] over dst[key] (replacing); ENOMEM reported into r. */
static bool set_copy(cJSON *dst, const char *key, const cJSON *src, qvs_resp *r)
{
    cJSON *dup = cJSON_Duplicate(src, true);
    if (!dup)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    if (cJSON_HasObjectItem(dst, key))
        cJSON_ReplaceItemInObjectCaseSensitive(dst, key, dup);
    else
        cJSON_AddItemToObject(dst, key, dup);
    return true;
}

static bool set_number(cJSON *dst, const char *key, double v, qvs_resp *r)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (!n)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    if (cJSON_HasObjectItem(dst, key))
        cJSON_ReplaceItemInObjectCaseSensitive(dst, key, n);
    else
        cJSON_AddItemToObject(dst, key, n);
    return true;
}

/* ---- diffs: HNSW, optimizers, WAL --------------------------------------- */

typedef struct uint_field {
    const char *key;
    uint64_t min;
} uint_field;

/* Applies the listed unsigned fields and copies the listed boolean and
 * free-form ones of diff onto cfg.  null means "unchanged". */
static bool apply_diff(cJSON *cfg, const cJSON *diff, const char *path,
                       const uint_field *uints, size_t n_uints,
                       const char *const *bools, size_t n_bools,
                       const char *const *echo, size_t n_echo, qvs_resp *r)
{
    if (!cJSON_IsObject(diff))
        return format_error(r, path, "invalid type: %s, expected a map",
                            kind(diff));
    for (size_t i = 0; i < n_uints; i++) {
        uint64_t v = 0;
        bool present;
        if (!get_uint_min(diff, uints[i].key, path, uints[i].min, &v, &present,
                          r))
            return false;
        if (present && !set_number(cfg, uints[i].key, (double)v, r))
            return false;
    }
    for (size_t i = 0; i < n_bools; i++) {
        if (!check_type(diff, bools[i], path, is_bool, "a boolean", r))
            return false;
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(diff, bools[i]);
        if (b && !cJSON_IsNull(b) && !set_copy(cfg, bools[i], b, r))
            return false;
    }
    for (size_t i = 0; i < n_echo; i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(diff, echo[i]);
        if (e && !cJSON_IsNull(e) && !set_copy(cfg, echo[i], e, r))
            return false;
    }
    return true;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Whose memory placement check_memory checks: payload storage and dense
 * vector storage take no `pinned`. */
enum { MEM_ANY, MEM_PAYLOAD, MEM_DENSE };

/* obj.memory, Qdrant 1.19's Memory enum (lib/segment/src/types.rs:
 * cold, cached, pinned); absent or null is "unset".  Payload storage
 * takes no `pinned` (validate_payload_storage_memory in
 * lib/collection/src/config.rs), nor does dense vector storage (1.19's
 * VectorParams.memory: "`pinned` is not supported for dense vector
 * storage"; tests/openapi/test_memory_placement.py): a 422 as its
 * validator gives. */
static bool check_memory(const cJSON *obj, const char *path, int whose,
                         qvs_resp *r)
{
    static const char *const memory[] = {"cold", "cached", "pinned"};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "memory");
    if (!m || cJSON_IsNull(m))
        return true;
    char p[300];
    join(p, sizeof(p), path, "memory");
    if (!cJSON_IsString(m))
        return format_error(r, p, "invalid type: %s, expected a string",
                            kind(m));
    size_t i = 0;
    while (i < COUNT(memory) && strcmp(m->valuestring, memory[i]) != 0)
        i++;
    if (i == COUNT(memory))
        return format_error(r, p,
                            "unknown variant `%.64s`, expected one of `cold`, "
                            "`cached`, `pinned`",
                            m->valuestring);
    if (whose != MEM_ANY && i == 2)
        return range_error(r, p,
                           whose == MEM_PAYLOAD
                               ? "`pinned` memory placement is not supported "
                                 "for payload storage"
                               : "`pinned` memory placement is not supported "
                                 "for dense vector storage");
    return true;
}

/* params.payload (PayloadStorageParams) from a create body or a PATCH's
 * params diff: checked, then merged into params the way Qdrant's
 * PayloadStorageParams::update does (a given memory wins, an unset one
 * keeps the old).  Shown as Qdrant serialises it: absent until given,
 * `{}` when given without a memory, null fields skipped. */
static bool merge_payload_params(cJSON *params, const cJSON *diff,
                                 const char *path, qvs_resp *r)
{
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(diff, "payload");
    if (!pl || cJSON_IsNull(pl))
        return true;
    char p[300];
    join(p, sizeof(p), path, "payload");
    if (!cJSON_IsObject(pl))
        return format_error(r, p, "invalid type: %s, expected a map", kind(pl));
    if (!check_memory(pl, p, MEM_PAYLOAD, r))
        return false;
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(params, "payload");
    if (!cJSON_IsObject(cur)) {
        cur = cJSON_CreateObject();
        if (!cur)
            return qvs_fail(r, 500, "Service internal error: out of memory");
        if (cJSON_HasObjectItem(params, "payload"))
            cJSON_ReplaceItemInObjectCaseSensitive(params, "payload", cur);
        else
            cJSON_AddItemToObject(params, "payload", cur);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(pl, "memory");
    return !m || cJSON_IsNull(m) || set_copy(cur, "memory", m, r);
}

static bool apply_hnsw_diff(cJSON *hnsw, const cJSON *diff, const char *path,
                            qvs_resp *r)
{
    static const uint_field uints[] = {{"m", 0},
                                       {"ef_construct", 4},
                                       {"full_scan_threshold", 10},
                                       {"max_indexing_threads", 0},
                                       {"payload_m", 0}};
    static const char *const bools[] = {"on_disk", "inline_storage"};
    static const char *const echo[] = {"memory"};
    return (!cJSON_IsObject(diff) || check_memory(diff, path, MEM_ANY, r)) &&
           apply_diff(hnsw, diff, path, uints, COUNT(uints), bools,
                      COUNT(bools), echo, COUNT(echo), r);
}

static bool apply_optimizers_diff(cJSON *opt, const cJSON *diff,
                                  const char *path, qvs_resp *r)
{
    static const uint_field uints[] = {
        {"vacuum_min_vector_number", 100}, {"default_segment_number", 0},
        {"max_segment_size", 1},           {"memmap_threshold", 0},
        {"indexing_threshold", 0},         {"flush_interval_sec", 0}};
    static const char *const bools[] = {"prevent_unoptimized"};
    if (!apply_diff(opt, diff, path, uints, COUNT(uints), bools, COUNT(bools),
                    NULL, 0, r))
        return false;
    const cJSON *dt =
        cJSON_GetObjectItemCaseSensitive(diff, "deleted_threshold");
    char p[300];
    if (dt && !cJSON_IsNull(dt)) {
        join(p, sizeof(p), path, "deleted_threshold");
        if (!cJSON_IsNumber(dt))
            return format_error(r, p, "invalid type: %s, expected a number",
                                kind(dt));
        if (!(dt->valuedouble >= 0 && dt->valuedouble <= 1))
            return range_error(r, p, "value invalid, must be from 0 to 1");
        if (!set_number(opt, "deleted_threshold", dt->valuedouble, r))
            return false;
    }
    /* "auto" (no limit) shows as null in the config, as Qdrant. */
    const cJSON *mt =
        cJSON_GetObjectItemCaseSensitive(diff, "max_optimization_threads");
    if (mt && !cJSON_IsNull(mt)) {
        join(p, sizeof(p), path, "max_optimization_threads");
        if (cJSON_IsString(mt) && strcmp(mt->valuestring, "auto") == 0) {
            cJSON *null = cJSON_CreateNull();
            if (!null)
                return qvs_fail(r, 500,
                                "Service internal error: out of "
                                "memory");
            cJSON_ReplaceItemInObjectCaseSensitive(
                opt, "max_optimization_threads", null);
        } else {
            uint64_t v = 0;
            if (!get_uint(mt, p, &v, r) ||
                !set_number(opt, "max_optimization_threads", (double)v, r))
                return false;
        }
    }
    return true;
}

static bool apply_wal_diff(cJSON *wal, const cJSON *diff, const char *path,
                           qvs_resp *r)
{
    static const uint_field uints[] = {{"wal_capacity_mb", 1},
                                       {"wal_segments_ahead", 0},
                                       {"wal_retain_closed", 1}};
    return apply_diff(wal, diff, path, uints, COUNT(uints), NULL, 0, NULL, 0,
                      r);
}

static cJSON *default_hnsw(void)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "m", QV_DEFAULT_HNSW_M);
    cJSON_AddNumberToObject(h, "ef_construct", QV_DEFAULT_EF_CONSTRUCT);
    cJSON_AddNumberToObject(h, "full_scan_threshold",
                            QV_DEFAULT_FULL_SCAN_THRESHOLD_KB);
    cJSON_AddNumberToObject(h, "max_indexing_threads", 0);
    cJSON_AddFalseToObject(h, "on_disk");
    return h;
}

static cJSON *default_optimizers(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "deleted_threshold", 0.2);
    cJSON_AddNumberToObject(o, "vacuum_min_vector_number", 1000);
    cJSON_AddNumberToObject(o, "default_segment_number", 0);
    cJSON_AddNullToObject(o, "max_segment_size");
    cJSON_AddNullToObject(o, "memmap_threshold");
    cJSON_AddNumberToObject(o, "indexing_threshold", 10000);
    cJSON_AddNumberToObject(o, "flush_interval_sec", 5);
    cJSON_AddNullToObject(o, "max_optimization_threads");
    return o;
}

static cJSON *default_wal(void)
{
    cJSON *w = cJSON_CreateObject();
    cJSON_AddNumberToObject(w, "wal_capacity_mb", 32);
    cJSON_AddNumberToObject(w, "wal_segments_ahead", 0);
    cJSON_AddNumberToObject(w, "wal_retain_closed", 1);
    return w;
}

/* ---- HNSW settings -> library config ------------------------------------- */

static uint64_t num_or(const cJSON *obj, const char *key, uint64_t dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(j) && j->valuedouble >= 0 ? (uint64_t)j->valuedouble
                                                    : dflt;
}

static bool hnsw_to_lib(const cJSON *hnsw, const char *path,
                        qv_collection_config *lib, qvs_resp *r)
{
    uint64_t m = num_or(hnsw, "m", QV_DEFAULT_HNSW_M);
    uint64_t ef = num_or(hnsw, "ef_construct", QV_DEFAULT_EF_CONSTRUCT);
    uint64_t fst =
        num_or(hnsw, "full_scan_threshold", QV_DEFAULT_FULL_SCAN_THRESHOLD_KB);
    uint64_t threads = num_or(hnsw, "max_indexing_threads", 0);
    if (m != 0 && (m < QV_MIN_HNSW_M || m > QV_MAX_HNSW_M))
        return qvs_fail(r, 400,
                        "Bad request: %s.m = %llu is not supported: use 0 (no "
                        "index) or %u to %u",
                        path, (unsigned long long)m, QV_MIN_HNSW_M,
                        QV_MAX_HNSW_M);
    if (ef > QV_MAX_EF_CONSTRUCT)
        return qvs_fail(r, 400,
                        "Bad request: %s.ef_construct = %llu is not supported: "
                        "at most %u",
                        path, (unsigned long long)ef, QV_MAX_EF_CONSTRUCT);
    if (fst > UINT32_MAX)
        return qvs_fail(r, 400,
                        "Bad request: %s.full_scan_threshold = %llu is too "
                        "large: at most %u",
                        path, (unsigned long long)fst, UINT32_MAX);
    lib->hnsw_m = m ? (uint32_t)m : QV_DEFAULT_HNSW_M;
    lib->hnsw_ef_construct = (uint32_t)ef;
    lib->full_scan_threshold_kb = m ? (uint32_t)fst : UINT32_MAX;
    lib->max_indexing_threads = threads > QV_MAX_INDEXING_THREADS
                                    ? QV_MAX_INDEXING_THREADS
                                    : (uint32_t)threads;
    return true;
}

void qvs_registry_config(qv_collection_config *cfg)
{
    qv_collection_config_init(cfg);
    cfg->dim = 1;
    cfg->metric = QV_METRIC_DOT;
    cfg->full_scan_threshold_kb = UINT32_MAX;
}

/* ---- vectors --------------------------------------------------------------
 */

static bool parse_distance(const cJSON *d, const char *path, qv_metric *out,
                           qvs_resp *r)
{
    static const char *const names[] = {"Cosine", "Euclid", "Dot", "Manhattan"};
    static const qv_metric metrics[] = {QV_METRIC_COSINE, QV_METRIC_EUCLID,
                                        QV_METRIC_DOT, QV_METRIC_MANHATTAN};
    char p[300];
    join(p, sizeof(p), path, "distance");
    if (!d)
        return format_error(r, path, "missing field `distance`");
    if (!cJSON_IsString(d))
        return format_error(r, p, "invalid type: %s, expected a string",
                            kind(d));
    for (size_t i = 0; i < COUNT(names); i++) {
        if (strcmp(d->valuestring, names[i]) == 0) {
            *out = metrics[i];
            return true;
        }
    }
    return format_error(r, p,
                        "unknown variant `%.64s`, expected one of `Cosine`, "
                        "`Euclid`, `Dot`, `Manhattan`",
                        d->valuestring);
}

static bool parse_size(const cJSON *s, const char *path, uint32_t *out,
                       qvs_resp *r)
{
    char p[300];
    join(p, sizeof(p), path, "size");
    if (!s)
        return format_error(r, path, "missing field `size`");
    uint64_t v = 0;
    if (!get_uint(s, p, &v, r))
        return false;
    if (v < QV_MIN_DIM || v > QV_MAX_DIM) {
        char msg[96];
        snprintf(msg, sizeof(msg), "value %llu invalid, must be from %u to %u",
                 (unsigned long long)v, QV_MIN_DIM, QV_MAX_DIM);
        return range_error(r, p, msg);
    }
    *out = (uint32_t)v;
    return true;
}

/* VectorParams.datatype (Qdrant 1.19's Datatype: float32, uint8,
 * float16, turbo4).  float16 and uint8 reach the library
 * (qv_collection_config.datatype: values converted as Qdrant converts
 * them); turbo4 is accepted and shown but stored as float32. */
static bool parse_datatype(const cJSON *vp, const char *path, uint32_t *out,
                           qvs_resp *r)
{
    static const struct {
        const char *name;
        uint32_t lib;
    } types[] = {{"float32", QV_DATATYPE_FLOAT32},
                 {"uint8", QV_DATATYPE_UINT8},
                 {"float16", QV_DATATYPE_FLOAT16},
                 {"turbo4", QV_DATATYPE_FLOAT32}};
    *out = QV_DATATYPE_FLOAT32;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(vp, "datatype");
    if (!dt || cJSON_IsNull(dt))
        return true;
    char p[300];
    join(p, sizeof(p), path, "datatype");
    if (cJSON_IsString(dt))
        for (size_t i = 0; i < COUNT(types); i++)
            if (strcmp(dt->valuestring, types[i].name) == 0) {
                *out = types[i].lib;
                return true;
            }
    return format_error(r, p,
                        "unknown variant, expected one of `float32`, `uint8`, "
                        "`float16`, `turbo4`");
}

/* ---- quantization ---------------------------------------------------------
 *
 * The config must round-trip (create, PATCH, GET) as Qdrant's does,
 * whether or not the library implements the kind (scalar and binary are
 * applied by quantization.c, product too; turbo only kept), so it is checked
 * against Qdrant 1.19's shapes (lib/segment/src/types.rs: the untagged
 * enum QuantizationConfig of ScalarQuantization {scalar: {type: "int8",
 * quantile 0.5..=1.0, always_ram, memory}}, ProductQuantization {product:
 * {compression: x4..x64, always_ram, memory}}, BinaryQuantization {binary:
 * {always_ram, memory, encoding, query_encoding}}, TurboQuantization
 * {turbo: {always_ram, memory, bits}}; QuantizationConfigDiff adds
 * "Disabled"; the OpenAPI schema has the same) and stored as given.  A
 * shape no variant matches is serde's 400 for an untagged enum; a quantile
 * out of range is the validator's 422. */

static bool enum_ok(const cJSON *j, const char *const *names, size_t n)
{
    if (!j || cJSON_IsNull(j))
        return true;
    if (!cJSON_IsString(j))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(j->valuestring, names[i]) == 0)
            return true;
    return false;
}

/* The fields every variant shares: always_ram and memory. */
static bool quant_common_ok(const cJSON *v)
{
    static const char *const memory[] = {"cold", "cached", "pinned"};
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(v, "always_ram");
    return (!ar || cJSON_IsNull(ar) || cJSON_IsBool(ar)) &&
           enum_ok(cJSON_GetObjectItemCaseSensitive(v, "memory"), memory,
                   COUNT(memory));
}

/* Which variant q matches, in serde's untagged order; 0 when none. */
static int quant_variant(const cJSON *q)
{
    static const char *const compression[] = {"x4", "x8", "x16", "x32", "x64"};
    static const char *const encoding[] = {"one_bit", "two_bits",
                                           "one_and_half_bits"};
    static const char *const query_encoding[] = {"default", "binary",
                                                 "scalar4bits", "scalar8bits"};
    static const char *const bits[] = {"bits1", "bits1_5", "bits2", "bits4"};
    if (!cJSON_IsObject(q))
        return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, "scalar");
    if (cJSON_IsObject(v) && quant_common_ok(v)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
        const cJSON *qu = cJSON_GetObjectItemCaseSensitive(v, "quantile");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "int8") == 0 &&
            (!qu || cJSON_IsNull(qu) || cJSON_IsNumber(qu)))
            return 1;
    }
    v = cJSON_GetObjectItemCaseSensitive(q, "product");
    if (cJSON_IsObject(v) && quant_common_ok(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "compression");
        if (c && !cJSON_IsNull(c) &&
            enum_ok(c, compression, COUNT(compression)))
            return 2;
    }
    v = cJSON_GetObjectItemCaseSensitive(q, "binary");
    if (cJSON_IsObject(v) && quant_common_ok(v) &&
        enum_ok(cJSON_GetObjectItemCaseSensitive(v, "encoding"), encoding,
                COUNT(encoding)) &&
        enum_ok(cJSON_GetObjectItemCaseSensitive(v, "query_encoding"),
                query_encoding, COUNT(query_encoding)))
        return 3;
    v = cJSON_GetObjectItemCaseSensitive(q, "turbo");
    if (cJSON_IsObject(v) && quant_common_ok(v) &&
        enum_ok(cJSON_GetObjectItemCaseSensitive(v, "bits"), bits, COUNT(bits)))
        return 4;
    return 0;
}

/* Checks a QuantizationConfig (diff: a QuantizationConfigDiff, which may
 * also be "Disabled") at path; null passes. */
static bool check_quantization(const cJSON *q, const char *path, bool diff,
                               qvs_resp *r)
{
    if (!q || cJSON_IsNull(q))
        return true;
    if (diff && cJSON_IsString(q) && strcmp(q->valuestring, "Disabled") == 0)
        return true;
    int v = quant_variant(q);
    if (v == 0)
        return format_error(r, path,
                            "data did not match any variant of untagged "
                            "enum %s",
                            diff ? "QuantizationConfigDiff"
                                 : "QuantizationConfig");
    if (v == 1) {
        const cJSON *qu = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(q, "scalar"), "quantile");
        if (cJSON_IsNumber(qu) &&
            !(qu->valuedouble >= 0.5 && qu->valuedouble <= 1.0)) {
            char p[300], msg[128];
            snprintf(p, sizeof(p), "%s%sscalar.quantile", path,
                     *path ? "." : "");
            snprintf(msg, sizeof(msg),
                     "value %g invalid, must be from 0.5 to 1",
                     qu->valuedouble);
            return range_error(r, p, msg);
        }
    }
    return true;
}

/* multivector_config: {"comparator": "max_sim"} (Qdrant's
 * MultiVectorConfig; max_sim is its one comparator). */
static bool parse_multivector(const cJSON *vp, const char *path, uint32_t *out,
                              qvs_resp *r)
{
    const cJSON *mv =
        cJSON_GetObjectItemCaseSensitive(vp, "multivector_config");
    if (!mv || cJSON_IsNull(mv))
        return true;
    char p[300];
    join(p, sizeof(p), path, "multivector_config");
    if (!cJSON_IsObject(mv))
        return format_error(r, p,
                            "invalid type: %s, expected struct "
                            "MultiVectorConfig",
                            kind(mv));
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(mv, "comparator");
    if (!cmp)
        return format_error(r, p, "missing field `comparator`");
    if (!cJSON_IsString(cmp) || strcmp(cmp->valuestring, "max_sim") != 0)
        return format_error(r, p,
                            "comparator: unknown variant, expected `max_sim`");
    *out = QV_MULTIVECTOR_MAX_SIM;
    return true;
}

/* One VectorParams: the library config (from coll_hnsw and the vector's
 * own hnsw_config) and the echo for CollectionInfo. */
static bool parse_vparams(const cJSON *vp, const char *path,
                          const cJSON *coll_hnsw, qvs_vspec *out, cJSON **echo,
                          qvs_resp *r)
{
    if (!cJSON_IsObject(vp))
        return format_error(r, path,
                            "invalid type: %s, expected struct "
                            "VectorParams",
                            kind(vp));
    uint32_t datatype = QV_DATATYPE_FLOAT32;
    char qp[300];
    join(qp, sizeof(qp), path, "quantization_config");
    if (!parse_size(cJSON_GetObjectItemCaseSensitive(vp, "size"), path,
                    &out->size, r) ||
        !parse_distance(cJSON_GetObjectItemCaseSensitive(vp, "distance"), path,
                        &out->metric, r) ||
        !check_type(vp, "on_disk", path, is_bool, "a boolean", r) ||
        !check_quantization(
            cJSON_GetObjectItemCaseSensitive(vp, "quantization_config"), qp,
            false, r) ||
        !check_memory(vp, path, MEM_DENSE, r) ||
        !parse_datatype(vp, path, &datatype, r))
        return false;
    uint32_t multivector = QV_MULTIVECTOR_NONE;
    if (!parse_multivector(vp, path, &multivector, r))
        return false;
    cJSON *hnsw = cJSON_Duplicate(coll_hnsw, true);
    if (!hnsw)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(vp, "hnsw_config");
    char p[300];
    join(p, sizeof(p), path, "hnsw_config");
    qv_collection_config_init(&out->lib);
    out->lib.dim = out->size;
    out->lib.metric = out->metric;
    out->lib.multivector = multivector;
    out->lib.datatype = datatype;
    bool ok = (!own || cJSON_IsNull(own) || apply_hnsw_diff(hnsw, own, p, r)) &&
              hnsw_to_lib(hnsw, own && !cJSON_IsNull(own) ? p : "hnsw_config",
                          &out->lib, r);
    cJSON_Delete(hnsw);
    if (!ok)
        return false;

    *echo = cJSON_CreateObject();
    if (!*echo)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    cJSON_AddNumberToObject(*echo, "size", out->size);
    cJSON_AddStringToObject(*echo, "distance", qv_metric_name(out->metric));
    static const char *const extra[] = {"hnsw_config", "quantization_config",
                                        "on_disk",     "memory",
                                        "datatype",    "multivector_config"};
    for (size_t i = 0; i < COUNT(extra); i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(vp, extra[i]);
        if (e && !cJSON_IsNull(e) && !set_copy(*echo, extra[i], e, r))
            return false;
    }
    return true;
}

static int vspec_cmp(const void *a, const void *b)
{
    return strcmp(((const qvs_vspec *)a)->name, ((const qvs_vspec *)b)->name);
}

static bool parse_named(const cJSON *vectors, const cJSON *coll_hnsw,
                        qvs_spec *spec, cJSON *echo, qvs_resp *r)
{
    size_t n = (size_t)cJSON_GetArraySize(vectors);
    spec->named = true;
    spec->v = calloc(n ? n : 1, sizeof(*spec->v));
    if (!spec->v)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    const cJSON *item;
    cJSON_ArrayForEach(item, vectors)
    {
        const char *name = item->string;
        /* "" is Qdrant's DEFAULT_VECTOR_NAME: {"vectors": {"": {...}}}
         * (how LangChain's QdrantVectorStore declares its dense vector)
         * declares the unnamed vector in the map form; points and
         * queries then address it as the unnamed one (catalog.h). */
        size_t len = strlen(name);
        if (len > QV_MAX_NAME)
            return range_error(r, "vectors",
                               "vector names must be at most 255 "
                               "characters");
        if (cJSON_GetObjectItemCaseSensitive(echo, name))
            return format_error(r, "vectors", "duplicate vector `%.64s`", name);
        char path[300];
        snprintf(path, sizeof(path), "vectors.%.200s", name);
        qvs_vspec *v = &spec->v[spec->n];
        v->name = strdup(name);
        if (!v->name)
            return qvs_fail(r, 500, "Service internal error: out of memory");
        spec->n++;
        cJSON *e = NULL;
        if (!parse_vparams(item, path, coll_hnsw, v, &e, r)) {
            cJSON_Delete(e);
            return false;
        }
        cJSON_AddItemToObject(echo, name, e);
    }
    /* Listed by name, as Qdrant (a sorted map) lists them. */
    qsort(spec->v, spec->n, sizeof(*spec->v), vspec_cmp);
    for (size_t i = 0; i < spec->n; i++)
        cJSON_AddItemToObject(
            echo, spec->v[i].name,
            cJSON_DetachItemFromObjectCaseSensitive(echo, spec->v[i].name));
    return true;
}

/* "vectors": one VectorParams (it has size or distance), a map of named
 * ones, or absent (no dense vectors: a registry only). */
static bool parse_vectors(const cJSON *vectors, const cJSON *coll_hnsw,
                          qvs_spec *spec, cJSON **echo, qvs_resp *r)
{
    *echo = NULL;
    if (vectors && !cJSON_IsNull(vectors) && !cJSON_IsObject(vectors))
        return format_error(r, "vectors",
                            "invalid type: %s, expected struct VectorParams "
                            "or a map of them",
                            kind(vectors));
    bool single = vectors && (cJSON_HasObjectItem(vectors, "size") ||
                              cJSON_HasObjectItem(vectors, "distance"));
    if (!single) {
        *echo = cJSON_CreateObject();
        if (!*echo)
            return qvs_fail(r, 500, "Service internal error: out of memory");
        if (!vectors || cJSON_IsNull(vectors)) {
            spec->named = true;
            return true;
        }
        return parse_named(vectors, coll_hnsw, spec, *echo, r);
    }
    spec->v = calloc(1, sizeof(*spec->v));
    if (!spec->v || !(spec->v[0].name = strdup("")))
        return qvs_fail(r, 500, "Service internal error: out of memory");
    spec->n = 1;
    return parse_vparams(vectors, "vectors", coll_hnsw, &spec->v[0], echo, r);
}

/* ---- CreateCollection ---------------------------------------------------- */

static bool parse_params_scalars(const cJSON *body, cJSON *params, qvs_resp *r)
{
    static const char *const counts[] = {"shard_number", "replication_factor",
                                         "write_consistency_factor"};
    for (size_t i = 0; i < COUNT(counts); i++) {
        uint64_t v = 1;
        bool present;
        if (!get_uint_min(body, counts[i], "", 1, &v, &present, r) ||
            !set_number(params, counts[i], (double)(present ? v : 1), r))
            return false;
    }
    const cJSON *sm = cJSON_GetObjectItemCaseSensitive(body, "sharding_method");
    if (sm && !cJSON_IsNull(sm)) {
        if (!cJSON_IsString(sm) || (strcmp(sm->valuestring, "auto") != 0 &&
                                    strcmp(sm->valuestring, "custom") != 0))
            return format_error(r, "sharding_method",
                                "unknown variant, expected `auto` or `custom`");
        if (strcmp(sm->valuestring, "custom") == 0)
            return qvs_fail(r, 400,
                            "Bad request: custom sharding is not "
                            "supported by this server");
        if (!set_copy(params, "sharding_method", sm, r))
            return false;
    }
    if (!check_type(body, "on_disk_payload", "", is_bool, "a boolean", r) ||
        !check_type(body, "payload", "", is_object, "a map", r) ||
        !check_type(body, "sparse_vectors", "", is_object, "a map", r))
        return false;
    const cJSON *odp =
        cJSON_GetObjectItemCaseSensitive(body, "on_disk_payload");
    bool on_disk = !odp || cJSON_IsNull(odp) || cJSON_IsTrue(odp);
    if (!cJSON_AddBoolToObject(params, "on_disk_payload", on_disk))
        return qvs_fail(r, 500, "Service internal error: out of memory");
    if (!merge_payload_params(params, body, "", r))
        return false;
    static const char *const echo[] = {"sparse_vectors"};
    for (size_t i = 0; i < COUNT(echo); i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, echo[i]);
        if (e && !cJSON_IsNull(e) && !set_copy(params, echo[i], e, r))
            return false;
    }
    return true;
}

static bool check_sparse(const cJSON *body, qvs_resp *r)
{
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(body, "sparse_vectors");
    if (!cJSON_IsObject(sv))
        return true;
    const cJSON *item;
    cJSON_ArrayForEach(item, sv)
    {
        if (!cJSON_IsObject(item)) {
            char p[300];
            snprintf(p, sizeof(p), "sparse_vectors.%.200s", item->string);
            return format_error(r, p,
                                "invalid type: %s, expected struct "
                                "SparseVectorParams",
                                kind(item));
        }
    }
    return true;
}

/* Qdrant builds a segment's HNSW index once its vectors pass the
 * optimizers' indexing_threshold (kilobytes; 0 disables indexing) and
 * then searches it, whatever full_scan_threshold says for unfiltered
 * queries; the library has one threshold for both, so it gets the lower
 * of the two, or "never" for 0.  With the defaults (10000 both) nothing
 * changes. */
static void apply_indexing_threshold(const cJSON *opt, qvs_spec *spec)
{
    const cJSON *it =
        cJSON_GetObjectItemCaseSensitive(opt, "indexing_threshold");
    if (!cJSON_IsNumber(it))
        return;
    for (size_t i = 0; i < spec->n; i++) {
        uint32_t *t = &spec->v[i].lib.full_scan_threshold_kb;
        if (*t == UINT32_MAX)
            continue; /* m = 0: no graph at all */
        if (it->valuedouble <= 0)
            *t = UINT32_MAX;
        else if (it->valuedouble < *t)
            *t = (uint32_t)it->valuedouble;
    }
}

/* Copies body[key] into config when it is a map (checked) and not null. */
static bool echo_map(const cJSON *body, const char *key, cJSON *config,
                     qvs_resp *r)
{
    if (!check_type(body, key, "", is_object, "a map", r))
        return false;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, key);
    return !e || cJSON_IsNull(e) || set_copy(config, key, e, r);
}

/* The collection's quantization_config (or its serde alias
 * "quantization", as Qdrant's CreateCollection accepts), checked, into
 * config. */
static bool echo_quantization(const cJSON *body, cJSON *config, qvs_resp *r)
{
    const cJSON *q =
        cJSON_GetObjectItemCaseSensitive(body, "quantization_config");
    const cJSON *alias = cJSON_GetObjectItemCaseSensitive(body, "quantization");
    if (q && alias)
        return format_error(r, "", "duplicate field `quantization_config`");
    if (!q)
        q = alias;
    if (!check_quantization(q, "quantization_config", false, r))
        return false;
    return !q || cJSON_IsNull(q) ||
           set_copy(config, "quantization_config", q, r);
}

static bool diff_section(const cJSON *body, const char *key, cJSON *section,
                         bool (*apply)(cJSON *, const cJSON *, const char *,
                                       qvs_resp *),
                         qvs_resp *r)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, key);
    return !d || cJSON_IsNull(d) || apply(section, d, key, r);
}

static bool missing_body(const cJSON *body, const char *what, qvs_resp *r)
{
    if (!body)
        return qvs_fail(r, 400,
                        "Format error in JSON body: EOF while parsing a value "
                        "at line 1 column 0");
    return format_error(r, "", "invalid type: %s, expected struct %s",
                        kind(body), what);
}

bool qvs_spec_from_create(const cJSON *body, qvs_spec *spec, qvs_resp *r)
{
    memset(spec, 0, sizeof(*spec));
    if (!cJSON_IsObject(body))
        return missing_body(body, "CreateCollection", r);
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(body, "init_from");
    if (init && !cJSON_IsNull(init))
        return qvs_fail(r, 400,
                        "Bad request: init_from is not supported by "
                        "this server");
    cJSON *config = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(config, "params");
    cJSON *hnsw = default_hnsw(), *opt = default_optimizers(),
          *wal = default_wal();
    cJSON *vectors = NULL;
    bool ok = params && hnsw && opt && wal;
    if (!ok)
        qvs_fail(r, 500, "Service internal error: out of memory");
    ok = ok && diff_section(body, "hnsw_config", hnsw, apply_hnsw_diff, r) &&
         hnsw_to_lib(hnsw, "hnsw_config", &(qv_collection_config){0}, r) &&
         parse_vectors(cJSON_GetObjectItemCaseSensitive(body, "vectors"), hnsw,
                       spec, &vectors, r);
    if (ok) {
        cJSON_AddItemToObject(params, "vectors", vectors);
        vectors = NULL;
    }
    ok = ok && parse_params_scalars(body, params, r) && check_sparse(body, r) &&
         qvs_sparse_spec_add(body, spec, r) &&
         diff_section(body, "optimizers_config", opt, apply_optimizers_diff,
                      r) &&
         diff_section(body, "wal_config", wal, apply_wal_diff, r);
    /* Every new collection takes the named layout (catalog.h), an unnamed
     * vector being vector "": Qdrant's vectors are all optional, the
     * unnamed one too, so a point may come with "vector": {} and is stored
     * without one (counted, retrieved with "vector": {}, never found by a
     * search), which a registry beside the vector's library collection
     * can hold and a lone library collection cannot.  Collections created
     * before keep the layout recorded in catalog.json. */
    spec->named = true;
    if (ok)
        apply_indexing_threshold(opt, spec);
    if (ok) {
        cJSON_AddItemToObject(config, "hnsw_config", hnsw);
        cJSON_AddItemToObject(config, "optimizer_config", opt);
        cJSON_AddItemToObject(config, "wal_config", wal);
        hnsw = opt = wal = NULL;
        ok = echo_quantization(body, config, r) &&
             qvs_strict_config_check(
                 cJSON_GetObjectItemCaseSensitive(body, "strict_mode_config"),
                 r) &&
             echo_map(body, "strict_mode_config", config, r) &&
             echo_map(body, "metadata", config, r);
    }
    cJSON_Delete(vectors);
    cJSON_Delete(hnsw);
    cJSON_Delete(opt);
    cJSON_Delete(wal);
    spec->config = config;
    if (!ok)
        qvs_spec_free(spec);
    return ok;
}

void qvs_spec_free(qvs_spec *spec)
{
    for (size_t i = 0; i < spec->n; i++)
        free(spec->v[i].name);
    free(spec->v);
    cJSON_Delete(spec->config);
    memset(spec, 0, sizeof(*spec));
}

/* ---- UpdateCollection (PATCH) ---------------------------------------------
 */

/* Merges the keys of diff into obj[key] (created if missing); a null
 * value removes the key when remove_null, else is skipped. */
static bool merge_into(cJSON *obj, const char *key, const cJSON *diff,
                       bool remove_null, qvs_resp *r)
{
    cJSON *dst = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsObject(dst)) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        dst = cJSON_AddObjectToObject(obj, key);
        if (!dst)
            return qvs_fail(r, 500, "Service internal error: out of memory");
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, diff)
    {
        if (cJSON_IsNull(item)) {
            if (remove_null)
                cJSON_DeleteItemFromObjectCaseSensitive(dst, item->string);
            continue;
        }
        if (!set_copy(dst, item->string, item, r))
            return false;
    }
    return true;
}

/* quantization_config in a PATCH: a map replaces, "Disabled" removes. */
static bool patch_quantization(cJSON *target, const cJSON *q, const char *path,
                               qvs_resp *r)
{
    if (!q || cJSON_IsNull(q))
        return true;
    if (!check_quantization(q, path, true, r))
        return false;
    if (cJSON_IsString(q) && strcmp(q->valuestring, "Disabled") == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(target, "quantization_config");
        return true;
    }
    if (!cJSON_IsObject(q))
        return format_error(r, path,
                            "invalid type: %s, expected a map or "
                            "\"Disabled\"",
                            kind(q));
    return set_copy(target, "quantization_config", q, r);
}

/* One VectorParamsDiff applied to the echo of that vector's params. */
static bool patch_vector(cJSON *target, const cJSON *coll_hnsw,
                         const cJSON *diff, const char *path, qvs_resp *r)
{
    if (!cJSON_IsObject(diff))
        return format_error(r, path,
                            "invalid type: %s, expected struct "
                            "VectorParamsDiff",
                            kind(diff));
    if (!check_type(diff, "on_disk", path, is_bool, "a boolean", r) ||
        !check_memory(diff, path, MEM_DENSE, r))
        return false;
    char p[300];
    join(p, sizeof(p), path, "hnsw_config");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(diff, "hnsw_config");
    if (h && !cJSON_IsNull(h)) {
        if (cJSON_IsObject(h) && !h->child) {
            cJSON_DeleteItemFromObjectCaseSensitive(target, "hnsw_config");
        } else {
            if (!cJSON_IsObject(
                    cJSON_GetObjectItemCaseSensitive(target, "hnsw_config")) &&
                !cJSON_AddObjectToObject(target, "hnsw_config"))
                return qvs_fail(r, 500,
                                "Service internal error: out of "
                                "memory");
            cJSON *own =
                cJSON_GetObjectItemCaseSensitive(target, "hnsw_config");
            cJSON *eff = cJSON_Duplicate(coll_hnsw, true);
            bool ok = eff && apply_hnsw_diff(own, h, p, r) &&
                      apply_hnsw_diff(eff, own, p, r) &&
                      hnsw_to_lib(eff, p, &(qv_collection_config){0}, r);
            cJSON_Delete(eff);
            if (!ok) {
                if (r->http_status < 400)
                    qvs_fail(r, 500, "Service internal error: out of memory");
                return false;
            }
        }
    }
    join(p, sizeof(p), path, "quantization_config");
    if (!patch_quantization(
            target,
            cJSON_GetObjectItemCaseSensitive(diff, "quantization_config"), p,
            r))
        return false;
    static const char *const plain[] = {"on_disk", "memory"};
    for (size_t i = 0; i < COUNT(plain); i++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(diff, plain[i]);
        if (e && !cJSON_IsNull(e) && !set_copy(target, plain[i], e, r))
            return false;
    }
    return true;
}

static bool patch_vectors(cJSON *cfg, const qvs_coll *c, const cJSON *diff,
                          qvs_resp *r)
{
    if (!diff || cJSON_IsNull(diff))
        return true;
    if (!cJSON_IsObject(diff))
        return format_error(r, "vectors", "invalid type: %s, expected a map",
                            kind(diff));
    cJSON *params = cJSON_GetObjectItemCaseSensitive(cfg, "params");
    cJSON *vectors = cJSON_GetObjectItemCaseSensitive(params, "vectors");
    const cJSON *hnsw = cJSON_GetObjectItemCaseSensitive(cfg, "hnsw_config");
    const cJSON *item;
    cJSON_ArrayForEach(item, diff)
    {
        /* The echo's shape, not the storage layout, says where a name's
         * params are: an unnamed vector beside sparse ones is stored as
         * named vector "" but shown as one VectorParams (catalog.h). */
        const qvs_vector *v = qvs_coll_vector(c, item->string);
        cJSON *target = v && !v->sparse
                            ? (cJSON *)qvs_config_vparams(vectors, item->string)
                            : NULL;
        if (!cJSON_IsObject(target))
            return qvs_fail(
                r, 400, "Wrong input: Not existing vector name error: %.200s",
                item->string);
        char path[300];
        snprintf(path, sizeof(path), "vectors.%.200s", item->string);
        if (!patch_vector(target, hnsw, item, path, r))
            return false;
    }
    return true;
}

static bool patch_params(cJSON *cfg, const cJSON *diff, qvs_resp *r)
{
    static const uint_field uints[] = {{"replication_factor", 1},
                                       {"write_consistency_factor", 1},
                                       {"read_fan_out_factor", 0},
                                       {"read_fan_out_delay_ms", 0}};
    static const char *const bools[] = {"on_disk_payload"};
    if (!diff || cJSON_IsNull(diff))
        return true;
    cJSON *params = cJSON_GetObjectItemCaseSensitive(cfg, "params");
    return apply_diff(params, diff, "params", uints, COUNT(uints), bools,
                      COUNT(bools), NULL, 0, r) &&
           merge_payload_params(params, diff, "params", r);
}

static bool patch_maps(cJSON *cfg, const cJSON *body, qvs_resp *r)
{
    if (!check_type(body, "sparse_vectors", "", is_object, "a map", r) ||
        !check_sparse(body, r) ||
        !check_type(body, "strict_mode_config", "", is_object, "a map", r) ||
        !qvs_strict_config_check(
            cJSON_GetObjectItemCaseSensitive(body, "strict_mode_config"), r) ||
        !check_type(body, "metadata", "", is_object, "a map", r))
        return false;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(body, "sparse_vectors");
    const cJSON *sm =
        cJSON_GetObjectItemCaseSensitive(body, "strict_mode_config");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    cJSON *params = cJSON_GetObjectItemCaseSensitive(cfg, "params");
    return (!cJSON_IsObject(sv) || qvs_sparse_patch_apply(params, sv, r)) &&
           (!cJSON_IsObject(sm) ||
            merge_into(cfg, "strict_mode_config", sm, false, r)) &&
           (!cJSON_IsObject(md) || merge_into(cfg, "metadata", md, true, r));
}

cJSON *qvs_config_patch(const cJSON *config, const qvs_coll *c,
                        const cJSON *body, qvs_resp *r)
{
    if (!cJSON_IsObject(body)) {
        missing_body(body, "UpdateCollection", r);
        return NULL;
    }
    cJSON *cfg = cJSON_Duplicate(config, true);
    if (!cfg) {
        qvs_fail(r, 500, "Service internal error: out of memory");
        return NULL;
    }
    cJSON *hnsw = cJSON_GetObjectItemCaseSensitive(cfg, "hnsw_config");
    cJSON *opt = cJSON_GetObjectItemCaseSensitive(cfg, "optimizer_config");
    bool ok =
        qvs_sparse_patch_check(body, c, r) &&
        diff_section(body, "hnsw_config", hnsw, apply_hnsw_diff, r) &&
        hnsw_to_lib(hnsw, "hnsw_config", &(qv_collection_config){0}, r) &&
        patch_vectors(cfg, c, cJSON_GetObjectItemCaseSensitive(body, "vectors"),
                      r) &&
        diff_section(body, "optimizers_config", opt, apply_optimizers_diff,
                     r) &&
        patch_params(cfg, cJSON_GetObjectItemCaseSensitive(body, "params"),
                     r) &&
        patch_quantization(
            cfg, cJSON_GetObjectItemCaseSensitive(body, "quantization_config"),
            "quantization_config", r) &&
        patch_maps(cfg, body, r);
    if (!ok) {
        cJSON_Delete(cfg);
        return NULL;
    }
    return cfg;
}
