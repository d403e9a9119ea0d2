/*
 * grpc_convert.c -- protobuf-c messages to REST's JSON and back, by
 * reflection over the generated descriptors.
 *
 * Qdrant's gRPC messages and its REST bodies are two spellings of the
 * same types, with the same field names in most places (both come from
 * the same Rust structs).  So one generic walk does the bulk: a field is
 * a JSON member of the same name; a oneof is the member named after the
 * field that is set; a map is an object; a repeated field an array; a
 * proto3 field at its zero value is absent (REST's default applies, as it
 * does in Qdrant's own conversion).  Where REST spells a type differently
 * the walk calls a hook for it, chosen by the message's full name:
 *
 *   qdrant.Value/Struct/ListValue   plain JSON values (payloads)
 *   qdrant.PointId                  a number or a UUID string
 *   qdrant.Vector/VectorInput/...   a float array, {indices, values}, an
 *                                   array of arrays, or an id
 *   qdrant.Condition, Match         REST's flattened conditions and its
 *                                   {"value"}/{"any"}/{"except"} matches
 *   qdrant.WithPayloadSelector ...  true/false, a key list, {"exclude"}
 *   google.protobuf.Timestamp       RFC 3339 text
 *   enums                           REST's names: "Cosine", "keyword",
 *                                   "asc" (the value's name, its type's
 *                                   prefix dropped, lowercased but for
 *                                   Distance)
 *
 * and the reverse hooks for replies (payload values, ids, vectors, enums
 * by name, timestamps, optimizer status, vectors_config).  Integers keep
 * exact text both ways: request numbers get the valuestring qj_parse
 * would give them (qjson.h), reply numbers are read from the raw text of
 * REST's exact output, so a u64 id or an i64 payload integer above 2^53
 * survives the trip.
 */
#include "grpc.h"

#include "qjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers --------------------------------------------------------
 */

static void *field_ptr(const ProtobufCMessage *m,
                       const ProtobufCFieldDescriptor *f)
{
    return (char *)m + f->offset;
}

static uint32_t *quant_ptr(const ProtobufCMessage *m,
                           const ProtobufCFieldDescriptor *f)
{
    return (uint32_t *)((char *)m + f->quantifier_offset);
}

static bool is_oneof(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static bool is_named(const ProtobufCMessageDescriptor *d, const char *name)
{
    return strcmp(d->name, name) == 0;
}

static const ProtobufCFieldDescriptor *
field_named(const ProtobufCMessageDescriptor *d, const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

/* A number item with its exact text, as qj_parse makes them. */
static cJSON *exact_number(double v, const char *text)
{
    cJSON *j = cJSON_CreateNumber(v);
    if (j && text) {
        j->valuestring = strdup(text);
        if (!j->valuestring) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

static cJSON *u64_json(uint64_t v)
{
    char t[24];
    snprintf(t, sizeof(t), "%" PRIu64, v);
    return exact_number((double)v, t);
}

static cJSON *i64_json(int64_t v)
{
    char t[24];
    snprintf(t, sizeof(t), "%" PRId64, v);
    return exact_number((double)v, t);
}

static cJSON *double_json(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull(); /* JSON has no NaN; REST refuses it */
    char t[32];
    snprintf(t, sizeof(t), "%.17g", v);
    return exact_number(v, t);
}

/* float fields are vector components and parameters, which the REST
 * readers take from valuedouble (exact for a float): no text needed, and
 * a 768-float query costs no 768 snprintf calls. */
static cJSON *float_json(float v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    return cJSON_CreateNumber((double)v);
}

/* Whether field f of m is set (proto3: a non-zero scalar, a non-empty
 * string, a message; a oneof member that is the chosen one). */
static bool has_field(const ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(size_t *)quant_ptr(m, f) > 0;
    if (is_oneof(f))
        return *quant_ptr(m, f) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
        f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES)
        return *(protobuf_c_boolean *)quant_ptr(m, f);
    const void *p = field_ptr(m, f);
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p != NULL;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return s && *s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    default:
        return *(const uint32_t *)p != 0;
    }
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* ---- enums ----------------------------------------------------------------
 */

/* REST's name of an enum value: its proto name without the type's name as
 * prefix (FieldTypeKeyword -> Keyword), in snake_case except for Distance,
 * whose REST names are capitalised. */
static cJSON *enum_json(const ProtobufCEnumDescriptor *e, int v)
{
    /* Datatype.Default means "none given", as Qdrant converts it
     * (Datatype::Default => None): null, which REST reads as absent. */
    if (v == 0 && strcmp(e->name, "qdrant.Datatype") == 0)
        return cJSON_CreateNull();
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(e, v);
    if (!ev)
        return cJSON_CreateNumber(v);
    const char *n = ev->name;
    size_t pl = strlen(e->short_name);
    if (strncmp(n, e->short_name, pl) == 0 && n[pl])
        n += pl;
    char buf[96];
    if (strcmp(e->name, "qdrant.Distance") == 0) {
        snprintf(buf, sizeof(buf), "%s", n);
        return cJSON_CreateString(buf);
    }
    /* snake_case as serde's rename_all: a word starts at a capital that
     * follows a small letter (BestScore -> best_score, MaxSim -> max_sim,
     * OneAndHalfBits -> one_and_half_bits), so acronyms and digits stay
     * joined (RRF -> rrf, Scalar4Bits -> scalar4bits, Float16). */
    size_t o = 0;
    for (const char *p = n; *p && o + 2 < sizeof(buf); p++) {
        unsigned char ch = (unsigned char)*p;
        if (isupper(ch) && p > n && islower((unsigned char)p[-1]))
            buf[o++] = '_';
        buf[o++] = (char)tolower(ch);
    }
    buf[o] = '\0';
    return cJSON_CreateString(buf);
}

/* Case- and underscore-blind equality ("in_memory" ~ "InMemory"). */
static bool loose_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
}

static bool enum_from_json(const ProtobufCEnumDescriptor *e, const cJSON *j,
                           int *out)
{
    if (cJSON_IsNumber(j)) {
        *out = (int)j->valuedouble;
        return true;
    }
    if (!cJSON_IsString(j))
        return false;
    size_t pl = strlen(e->short_name);
    for (unsigned i = 0; i < e->n_values; i++) {
        const char *n = e->values[i].name;
        const char *bare =
            strncmp(n, e->short_name, pl) == 0 && n[pl] ? n + pl : n;
        if (loose_eq(n, j->valuestring) || loose_eq(bare, j->valuestring)) {
            *out = e->values[i].value;
            return true;
        }
    }
    return false;
}

/* ---- protobuf to JSON -----------------------------------------------------
 */

static cJSON *msg_json(const ProtobufCMessage *m);

/* The set member of m's oneof, or NULL. */
static const ProtobufCFieldDescriptor *oneof_set(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (is_oneof(&d->fields[i]) && has_field(m, &d->fields[i]))
            return &d->fields[i];
    return NULL;
}

static cJSON *scalar_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return i64_json(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return u64_json(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return i64_json(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return u64_json(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return float_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return cJSON_CreateBool(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return enum_json(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return cJSON_CreateString(s ? s : "");
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        return sub ? msg_json(sub) : cJSON_CreateNull();
    }
    default: /* bytes: no Qdrant request field the REST API reads */
        return cJSON_CreateNull();
    }
}

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
    return d->n_fields == 2 && strcmp(d->fields[0].name, "key") == 0 &&
           strcmp(d->fields[1].name, "value") == 0 && strlen(d->name) > 5 &&
           strcmp(d->name + strlen(d->name) - 5, "Entry") == 0;
}

static cJSON *field_json(const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *f)
{
    const void *p = field_ptr(m, f);
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return scalar_json(f, p);
    size_t n = *(const size_t *)quant_ptr(m, f);
    const char *arr = *(const char *const *)p;
    bool map =
        f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor);
    cJSON *out = map ? cJSON_CreateObject() : cJSON_CreateArray();
    for (size_t i = 0; out && i < n; i++) {
        const void *e = arr + i * elem_size(f);
        if (map) {
            const ProtobufCMessage *entry = *(const ProtobufCMessage *const *)e;
            const ProtobufCMessageDescriptor *ed = entry->descriptor;
            const char *key =
                *(const char *const *)field_ptr(entry, &ed->fields[0]);
            cJSON *v =
                scalar_json(&ed->fields[1], field_ptr(entry, &ed->fields[1]));
            cJSON_DeleteItemFromObjectCaseSensitive(out, key ? key : "");
            if (!v || !cJSON_AddItemToObject(out, key ? key : "", v)) {
                cJSON_Delete(v);
                cJSON_Delete(out);
                return NULL;
            }
        } else {
            cJSON *v = scalar_json(f, e);
            if (!v || !cJSON_AddItemToArray(out, v)) {
                cJSON_Delete(v);
                cJSON_Delete(out);
                return NULL;
            }
        }
    }
    return out;
}

/* Every set field as a member (the generic walk). */
static cJSON *fields_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    cJSON *o = cJSON_CreateObject();
    for (unsigned i = 0; o && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!has_field(m, f))
            continue;
        cJSON *v = field_json(m, f);
        /* renamed in the generated copy (cmake/proto3_optional.cmake) */
        const char *name = strcmp(f->name, "pow_base") == 0 ? "base" : f->name;
        if (!v || !cJSON_AddItemToObject(o, name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* The value of m's one set oneof member (NULL member: JSON null). */
static cJSON *oneof_value(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    return f ? field_json(m, f) : cJSON_CreateNull();
}

static cJSON *sub_json(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = field_named(m->descriptor, name);
    if (!f || !has_field(m, f))
        return NULL;
    return field_json(m, f);
}

static cJSON *value_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f || strcmp(f->name, "null_value") == 0)
        return cJSON_CreateNull();
    if (strcmp(f->name, "struct_value") == 0 ||
        strcmp(f->name, "list_value") == 0) {
        const ProtobufCMessage *sub =
            *(const ProtobufCMessage *const *)field_ptr(m, f);
        return msg_json(sub);
    }
    return field_json(m, f);
}

/* {"fields": map} -> the map; {"values": [...]} -> the array. */
static cJSON *only_field(const ProtobufCMessage *m, const char *name)
{
    cJSON *v = sub_json(m, name);
    if (v)
        return v;
    return strcmp(name, "fields") == 0 ? cJSON_CreateObject()
                                       : cJSON_CreateArray();
}

static cJSON *timestamp_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int64_t s = *(const int64_t *)field_ptr(m, field_named(d, "seconds"));
    int32_t ns = *(const int32_t *)field_ptr(m, field_named(d, "nanos"));
    time_t t = (time_t)s;
    struct tm tm;
    char buf[64], frac[16] = "";
    if (!gmtime_r(&t, &tm))
        return cJSON_CreateNull();
    if (ns > 0 && ns < 1000000000)
        snprintf(frac, sizeof(frac), ".%09d", ns);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
    return cJSON_CreateString(buf);
}

/* Vector / VectorOutput / VectorInput: REST's bare shapes. */
static cJSON *vector_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f) /* the deprecated flat `data` */
        return only_field(m, "data");
    const ProtobufCMessage *sub = NULL;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        sub = *(const ProtobufCMessage *const *)field_ptr(m, f);
    if (strcmp(f->name, "dense") == 0)
        return only_field(sub, "data");
    if (strcmp(f->name, "multi_dense") == 0) {
        cJSON *arr = cJSON_CreateArray();
        const ProtobufCFieldDescriptor *vf =
            field_named(sub->descriptor, "vectors");
        size_t n = *(const size_t *)quant_ptr(sub, vf);
        ProtobufCMessage *const *vs =
            *(ProtobufCMessage *const *const *)field_ptr(sub, vf);
        for (size_t i = 0; arr && i < n; i++)
            cJSON_AddItemToArray(arr, only_field(vs[i], "data"));
        return arr;
    }
    return field_json(m, f); /* id, sparse {indices, values}, document ... */
}

static cJSON *payload_selector_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateBool(1);
    if (strcmp(f->name, "enable") == 0)
        return field_json(m, f);
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    cJSON *fields = only_field(sub, "fields");
    if (strcmp(f->name, "include") == 0)
        return fields;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "exclude", fields);
    return o;
}

static cJSON *vectors_selector_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateBool(0);
    if (strcmp(f->name, "enable") == 0)
        return field_json(m, f);
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    return only_field(sub, "names");
}

/* Condition: a field condition and a nested filter are flattened. */
static cJSON *condition_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateObject();
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    if (strcmp(f->name, "field") == 0 || strcmp(f->name, "filter") == 0)
        return msg_json(sub);
    cJSON *o = cJSON_CreateObject();
    cJSON *v = strcmp(f->name, "has_id") == 0 ? only_field(sub, "has_id")
               : strcmp(f->name, "has_vector") == 0
                   ? sub_json(sub, "has_vector")
                   : msg_json(sub);
    if (!v)
        v = cJSON_CreateString("");
    cJSON_AddItemToObject(o, f->name, v);
    return o;
}

static cJSON *match_json(const ProtobufCMessage *m)
{
    static const char *const names[][2] = {
        {"keyword", "value"},          {"integer", "value"},
        {"boolean", "value"},          {"text", "text"},
        {"keywords", "any"},           {"integers", "any"},
        {"except_integers", "except"}, {"except_keywords", "except"},
        {"phrase", "phrase"},          {"text_any", "text_any"}};
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    cJSON *o = cJSON_CreateObject();
    if (!f || !o)
        return o;
    const char *key = f->name;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], f->name) == 0)
            key = names[i][1];
    cJSON *v;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) { /* RepeatedStrings/Integers */
        const ProtobufCMessage *sub =
            *(const ProtobufCMessage *const *)field_ptr(m, f);
        v = only_field(sub, sub->descriptor->fields[0].name);
    } else {
        v = field_json(m, f);
    }
    cJSON_AddItemToObject(o, key, v);
    return o;
}

/* StartFrom / OrderValue: the bare value of the oneof. */
static cJSON *bare_oneof_json(const ProtobufCMessage *m)
{
    return oneof_value(m);
}

/* PointsSelector: {"points": ids} or {"filter": filter}, merged by the
 * caller into the request body. */
static cJSON *points_selector_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    cJSON *o = cJSON_CreateObject();
    if (!f || !o)
        return o;
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    if (strcmp(f->name, "points") == 0)
        cJSON_AddItemToObject(o, "points", only_field(sub, "ids"));
    else
        cJSON_AddItemToObject(o, "filter", msg_json(sub));
    return o;
}

/* VectorsConfig: the params object, or the map of named params. */
static cJSON *vectors_config_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateObject();
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    if (strcmp(f->name, "params_map") == 0)
        return only_field(sub, "map");
    return msg_json(sub);
}

/* SparseVectorConfig: REST's sparse_vectors is its map itself
 * ({"text": SparseVectorParams}), not {"map": {...}}. */
static cJSON *sparse_config_json(const ProtobufCMessage *m)
{
    return only_field(m, "map");
}

/* PayloadIndexParams: {"type": "keyword", ...the params}. */
static cJSON *index_params_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateObject();
    const ProtobufCMessage *sub =
        *(const ProtobufCMessage *const *)field_ptr(m, f);
    cJSON *o = msg_json(sub);
    char type[64];
    snprintf(type, sizeof(type), "%s", f->name);
    char *cut = strstr(type, "_index_params");
    if (cut)
        *cut = '\0';
    cJSON_AddItemToObject(o, "type", cJSON_CreateString(type));
    return o;
}

typedef cJSON *(*to_json_hook)(const ProtobufCMessage *m);

typedef struct to_json_entry {
    const char *name;
    to_json_hook hook;
} to_json_entry;

static cJSON *struct_json(const ProtobufCMessage *m)
{
    return only_field(m, "fields");
}

static cJSON *list_json(const ProtobufCMessage *m)
{
    return only_field(m, "values");
}

static cJSON *msg_json(const ProtobufCMessage *m);

/* Query: REST's query object, except that nearest_with_mmr is REST's
 * {"nearest": ..., "mmr": ...} (NearestQuery) and formula REST's
 * {"formula": expression, "defaults": {...}} (FormulaQuery), not members
 * of their own. */
static cJSON *query_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (f && (strcmp(f->name, "nearest_with_mmr") == 0 ||
              strcmp(f->name, "formula") == 0))
        return msg_json(*(const ProtobufCMessage *const *)field_ptr(m, f));
    return fields_json(m);
}

/* Formula {expression, defaults}: REST's {"formula": ..., "defaults"?}. */
static cJSON *formula_json(const ProtobufCMessage *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = sub_json(m, "expression");
    if (!o || !e || !cJSON_AddItemToObject(o, "formula", e)) {
        cJSON_Delete(e);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON *d = sub_json(m, "defaults");
    if (d && cJSON_GetArraySize(d) > 0)
        cJSON_AddItemToObject(o, "defaults", d);
    else
        cJSON_Delete(d);
    return o;
}

/* Expression: REST's untagged expression -- a number (constant), a string
 * (variable), a condition object as is, {"mult": [...]} and {"sum": [...]}
 * from their wrapper messages, and {name: value} for every other kind
 * (neg, abs, div, pow, exp_decay, datetime, ...). */
static cJSON *expression_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = oneof_set(m);
    if (!f)
        return cJSON_CreateNull();
    if (strcmp(f->name, "constant") == 0 || strcmp(f->name, "variable") == 0 ||
        strcmp(f->name, "condition") == 0)
        return field_json(m, f);
    if (strcmp(f->name, "mult") == 0 || strcmp(f->name, "sum") == 0)
        return msg_json(*(const ProtobufCMessage *const *)field_ptr(m, f));
    cJSON *o = cJSON_CreateObject();
    cJSON *v = field_json(m, f);
    if (!o || !v || !cJSON_AddItemToObject(o, f->name, v)) {
        cJSON_Delete(v);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* MultiVectorConfig: comparator MaxSim is 0, proto3's default, so it is
 * absent on the wire, yet REST requires the field (and Qdrant reads the 0
 * as MaxSim). */
static cJSON *multivector_config_json(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        field_named(m->descriptor, "comparator");
    cJSON *o = cJSON_CreateObject();
    cJSON *v = f ? field_json(m, f) : NULL;
    if (!o || !v || !cJSON_AddItemToObject(o, "comparator", v)) {
        cJSON_Delete(v);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ContextInput {pairs: [...]}: REST's context is the list of pairs. */
static cJSON *context_json(const ProtobufCMessage *m)
{
    return only_field(m, "pairs");
}

static const to_json_entry to_json_hooks[] = {
    {"qdrant.Value", value_json},
    {"qdrant.Struct", struct_json},
    {"qdrant.ListValue", list_json},
    {"qdrant.PointId", bare_oneof_json},
    {"qdrant.Vector", vector_json},
    {"qdrant.VectorOutput", vector_json},
    {"qdrant.VectorInput", vector_json},
    {"qdrant.WithPayloadSelector", payload_selector_json},
    {"qdrant.WithVectorsSelector", vectors_selector_json},
    {"qdrant.Condition", condition_json},
    {"qdrant.Match", match_json},
    {"qdrant.StartFrom", bare_oneof_json},
    {"qdrant.VectorExample", bare_oneof_json},
    {"qdrant.TargetVector", bare_oneof_json},
    {"qdrant.OrderValue", bare_oneof_json},
    {"qdrant.PointsSelector", points_selector_json},
    {"qdrant.VectorsConfig", vectors_config_json},
    {"qdrant.VectorsConfigDiff", vectors_config_json},
    {"qdrant.SparseVectorConfig", sparse_config_json},
    {"qdrant.PayloadIndexParams", index_params_json},
    {"google.protobuf.Timestamp", timestamp_json},
    {"qdrant.Query", query_json},
    {"qdrant.ContextInput", context_json},
    {"qdrant.MultiVectorConfig", multivector_config_json},
    {"qdrant.Formula", formula_json},
    {"qdrant.Expression", expression_json},
};

static cJSON *msg_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (size_t i = 0; i < sizeof(to_json_hooks) / sizeof(to_json_hooks[0]);
         i++)
        if (is_named(d, to_json_hooks[i].name))
            return to_json_hooks[i].hook(m);
    if (is_named(d, "qdrant.NamedVectors"))
        return only_field(m, "vectors");
    if (is_named(d, "qdrant.Vectors") || is_named(d, "qdrant.VectorsOutput"))
        return oneof_value(m);
    return fields_json(m);
}

cJSON *qvs_pb_to_json(const ProtobufCMessage *msg)
{
    return msg_json(msg);
}

/* protobuf-c does not check that proto3 strings are UTF-8; Qdrant's
 * decoder (prost) refuses those that are not, and REST never passes such
 * text to a handler (qj_parse), so neither may gRPC. */
const char *qvs_pb_bad_utf8(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE) ||
            !has_field(m, f))
            continue;
        bool rep = f->label == PROTOBUF_C_LABEL_REPEATED;
        size_t n = rep ? *(const size_t *)quant_ptr(m, f) : 1;
        const void *p = field_ptr(m, f);
        const void *const *items =
            rep ? *(const void *const *const *)p : (const void *const *)p;
        for (size_t k = 0; k < n; k++) {
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *str = items[k];
                if (str && !qj_utf8_valid(str, strlen(str)))
                    return f->name;
            } else if (items[k]) {
                const char *bad = qvs_pb_bad_utf8(items[k]);
                if (bad)
                    return bad;
            }
        }
    }
    return NULL;
}

/* ---- JSON to protobuf -----------------------------------------------------
 */

typedef struct pb_ctx {
    char *msg;
    size_t cap;
    bool failed;
} pb_ctx;

static ProtobufCMessage *json_msg(const ProtobufCMessageDescriptor *d,
                                  const cJSON *j, pb_ctx *cx);

static ProtobufCMessage *new_msg(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m)
        protobuf_c_message_init(d, m);
    return m;
}

/* The exact text of a number item (raw items hold REST's exact output). */
static const char *num_text(const cJSON *j, char *buf, size_t cap)
{
    if (cJSON_IsRaw(j) && j->valuestring)
        return j->valuestring;
    if (cJSON_IsNumber(j) && j->valuestring)
        return j->valuestring;
    if (cJSON_IsNumber(j)) {
        snprintf(buf, cap, "%.17g", j->valuedouble);
        return buf;
    }
    return NULL;
}

static bool is_num(const cJSON *j)
{
    return cJSON_IsNumber(j) || (cJSON_IsRaw(j) && j->valuestring &&
                                 strchr("-0123456789", j->valuestring[0]));
}

static bool is_integer_text(const char *t)
{
    if (*t == '-')
        t++;
    if (!*t)
        return false;
    for (; *t; t++)
        if (*t < '0' || *t > '9')
            return false;
    return true;
}

/* Stores scalar j into p for field f; false on a type mismatch. */
static bool set_scalar(const ProtobufCFieldDescriptor *f, void *p,
                       const cJSON *j, pb_ctx *cx)
{
    char buf[40];
    const char *t = is_num(j) ? num_text(j, buf, sizeof(buf)) : NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!t)
            return false;
        *(int32_t *)p = (int32_t)strtoll(t, NULL, 10);
        return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!t)
            return false;
        *(int64_t *)p = is_integer_text(t) ? strtoll(t, NULL, 10)
                                           : (int64_t)strtod(t, NULL);
        return true;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!t)
            return false;
        *(uint64_t *)p = is_integer_text(t) ? strtoull(t, NULL, 10)
                                            : (uint64_t)strtod(t, NULL);
        return true;
    case PROTOBUF_C_TYPE_FLOAT:
        if (!t)
            return false;
        *(float *)p = strtof(t, NULL);
        return true;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!t)
            return false;
        *(double *)p = strtod(t, NULL);
        return true;
    case PROTOBUF_C_TYPE_BOOL:
        if (!cJSON_IsBool(j))
            return false;
        *(protobuf_c_boolean *)p = cJSON_IsTrue(j);
        return true;
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        if (!enum_from_json(f->descriptor, j, &v))
            return false;
        *(int *)p = v;
        return true;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!cJSON_IsString(j))
            return false;
        char *s = strdup(j->valuestring);
        if (!s) {
            cx->failed = true;
            return false;
        }
        *(char **)p = s;
        return true;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = json_msg(f->descriptor, j, cx);
        if (!sub)
            return false;
        *(ProtobufCMessage **)p = sub;
        return true;
    }
    default:
        return false;
    }
}

/* A map field from a JSON object. */
static bool set_map(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                    const cJSON *obj, pb_ctx *cx)
{
    size_t n = (size_t)cJSON_GetArraySize(obj);
    ProtobufCMessage **arr = calloc(n ? n : 1, sizeof(*arr));
    if (!arr) {
        cx->failed = true;
        return false;
    }
    *(ProtobufCMessage ***)field_ptr(m, f) = arr;
    size_t *count = (size_t *)quant_ptr(m, f);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        ProtobufCMessage *e = new_msg(ed);
        if (!e) {
            cx->failed = true;
            return false;
        }
        arr[(*count)++] = e;
        char *key = strdup(it->string ? it->string : "");
        if (!key) {
            cx->failed = true;
            return false;
        }
        *(char **)field_ptr(e, &ed->fields[0]) = key;
        if (!set_scalar(&ed->fields[1], field_ptr(e, &ed->fields[1]), it, cx) &&
            cx->failed)
            return false;
    }
    return true;
}

static bool set_field_cooked(ProtobufCMessage *m,
                             const ProtobufCFieldDescriptor *f, const cJSON *j,
                             pb_ctx *cx);

/* REST replies hold payloads as raw items (their exact JSON text): such a
 * value is parsed (qj_parse keeps each number's exact text) first. */
static bool set_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                      const cJSON *j, pb_ctx *cx)
{
    if (!cJSON_IsRaw(j) || !j->valuestring || is_num(j))
        return set_field_cooked(m, f, j, cx);
    char err[128];
    cJSON *parsed =
        qj_parse(j->valuestring, strlen(j->valuestring), err, sizeof(err));
    if (!parsed)
        return true; /* not JSON: skipped, as any shape the field cannot hold */
    bool ok = set_field_cooked(m, f, parsed, cx);
    cJSON_Delete(parsed);
    return ok;
}

static bool set_field_cooked(ProtobufCMessage *m,
                             const ProtobufCFieldDescriptor *f, const cJSON *j,
                             pb_ctx *cx)
{
    if (cJSON_IsNull(j))
        return true;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
            return cJSON_IsObject(j) ? set_map(m, f, j, cx) : true;
        if (!cJSON_IsArray(j))
            return true; /* a shape the message cannot hold: skipped */
        size_t n = (size_t)cJSON_GetArraySize(j), es = elem_size(f);
        char *arr = calloc(n ? n : 1, es);
        if (!arr) {
            cx->failed = true;
            return false;
        }
        *(char **)field_ptr(m, f) = arr;
        size_t *count = (size_t *)quant_ptr(m, f);
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            if (set_scalar(f, arr + *count * es, it, cx))
                (*count)++;
            else if (cx->failed)
                return false;
        }
        return true;
    }
    if (!set_scalar(f, field_ptr(m, f), j, cx))
        return !cx->failed;
    if (is_oneof(f))
        *quant_ptr(m, f) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
             f->type != PROTOBUF_C_TYPE_MESSAGE &&
             f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)quant_ptr(m, f) = 1;
    return true;
}

/* Sets the field named name of m from j (skipped if m has no such field). */
static bool set_named(ProtobufCMessage *m, const char *name, const cJSON *j,
                      pb_ctx *cx)
{
    const ProtobufCFieldDescriptor *f = field_named(m->descriptor, name);
    return !f || set_field(m, f, j, cx);
}

/* REST member names that differ from the message's field names. */
typedef struct alias {
    const char *msg, *field, *json;
} alias;

static const alias aliases[] = {
    {"qdrant.ScoredPoint", "vectors", "vector"},
    {"qdrant.RetrievedPoint", "vectors", "vector"},
    {"qdrant.CollectionParams", "vectors_config", "vectors"},
    {"qdrant.CollectionParams", "sparse_vectors_config", "sparse_vectors"},
    {"qdrant.ScrollResponse", "result", "points"},
    {"qdrant.QueryResponse", "result", "points"},
};

static const cJSON *member_for(const ProtobufCMessageDescriptor *d,
                               const ProtobufCFieldDescriptor *f,
                               const cJSON *obj)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
    if (v)
        return v;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (is_named(d, aliases[i].msg) &&
            strcmp(f->name, aliases[i].field) == 0)
            return cJSON_GetObjectItemCaseSensitive(obj, aliases[i].json);
    return NULL;
}

static bool fields_from_json(ProtobufCMessage *m, const cJSON *obj, pb_ctx *cx)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (!cJSON_IsObject(obj))
        return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (is_oneof(f) && *quant_ptr(m, f) != 0)
            continue; /* another member of its oneof is set */
        const cJSON *v = member_for(d, f, obj);
        if (v && !set_field(m, f, v, cx))
            return false;
    }
    return true;
}

static bool value_from_json(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx)
{
    char buf[40];
    if (cJSON_IsNull(j)) { /* NULL_VALUE is 0: only the case is set */
        const ProtobufCFieldDescriptor *f =
            field_named(m->descriptor, "null_value");
        *quant_ptr(m, f) = f->id;
        return true;
    }
    if (cJSON_IsBool(j))
        return set_named(m, "bool_value", j, cx);
    if (cJSON_IsString(j))
        return set_named(m, "string_value", j, cx);
    if (is_num(j)) {
        const char *t = num_text(j, buf, sizeof(buf));
        bool integral = is_integer_text(t);
        if (integral && t[0] != '-' && strtoull(t, NULL, 10) > INT64_MAX)
            integral = false; /* beyond i64: Qdrant keeps it as a float */
        return set_named(m, integral ? "integer_value" : "double_value", j, cx);
    }
    if (cJSON_IsArray(j))
        return set_named(m, "list_value", j, cx);
    if (cJSON_IsObject(j))
        return set_named(m, "struct_value", j, cx);
    return true;
}

static bool point_id_from_json(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx)
{
    if (cJSON_IsString(j))
        return set_named(m, "uuid", j, cx);
    return set_named(m, "num", j, cx);
}

static bool vector_out_from_json(ProtobufCMessage *m, const cJSON *j,
                                 pb_ctx *cx)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (cJSON_IsObject(j))
        return set_named(m, "sparse", j, cx);
    if (!cJSON_IsArray(j))
        return true;
    if (cJSON_GetArraySize(j) > 0 && cJSON_IsArray(cJSON_GetArrayItem(j, 0))) {
        /* multi_dense: {"vectors": [{"data": [...]}, ...]} */
        cJSON *wrap = cJSON_CreateObject(), *vs = cJSON_CreateArray();
        cJSON_AddItemToObject(wrap, "vectors", vs);
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(one, "data", (cJSON *)it);
            cJSON_AddItemToArray(vs, one);
        }
        bool ok = set_named(m, "multi_dense", wrap, cx);
        cJSON_Delete(wrap);
        return ok;
    }
    cJSON *wrap = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(wrap, "data", (cJSON *)j);
    bool ok = set_named(m, "dense", wrap, cx);
    cJSON_Delete(wrap);
    (void)d;
    return ok;
}

static bool vectors_out_from_json(ProtobufCMessage *m, const cJSON *j,
                                  pb_ctx *cx)
{
    if (cJSON_IsObject(j) && !cJSON_GetObjectItem(j, "indices")) {
        cJSON *wrap = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(wrap, "vectors", (cJSON *)j);
        bool ok = set_named(m, "vectors", wrap, cx);
        cJSON_Delete(wrap);
        return ok;
    }
    return set_named(m, "vector", j, cx);
}

static bool wrap_named(ProtobufCMessage *m, const char *field,
                       const char *inner, const cJSON *j, pb_ctx *cx)
{
    cJSON *wrap = cJSON_CreateObject();
    if (!wrap) {
        cx->failed = true;
        return false;
    }
    cJSON_AddItemReferenceToObject(wrap, inner, (cJSON *)j);
    bool ok = set_named(m, field, wrap, cx);
    cJSON_Delete(wrap);
    return ok;
}

static bool timestamp_from_json(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx)
{
    (void)cx;
    if (!cJSON_IsString(j))
        return true;
    struct tm tm = {0};
    double frac = 0;
    int n = 0;
    if (sscanf(j->valuestring, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) < 6)
        return true;
    if (j->valuestring[n] == '.')
        frac = strtod(j->valuestring + n, NULL);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *(int64_t *)field_ptr(m, field_named(m->descriptor, "seconds")) =
        (int64_t)timegm(&tm);
    *(int32_t *)field_ptr(m, field_named(m->descriptor, "nanos")) =
        (int32_t)(frac * 1e9);
    return true;
}

static bool optimizer_status_from_json(ProtobufCMessage *m, const cJSON *j,
                                       pb_ctx *cx)
{
    if (cJSON_IsString(j) && strcmp(j->valuestring, "ok") == 0) {
        cJSON *t = cJSON_CreateTrue();
        bool ok = set_named(m, "ok", t, cx);
        cJSON_Delete(t);
        return ok;
    }
    return set_named(m, "error", cJSON_GetObjectItem(j, "error"), cx);
}

static bool vectors_config_from_json(ProtobufCMessage *m, const cJSON *j,
                                     pb_ctx *cx)
{
    if (cJSON_GetObjectItem(j, "size"))
        return set_named(m, "params", j, cx);
    return wrap_named(m, "params_map", "map", j, cx);
}

/* REST's sparse_vectors map back into SparseVectorConfig.map. */
static bool sparse_config_from_json(ProtobufCMessage *m, const cJSON *j,
                                    pb_ctx *cx)
{
    return set_named(m, "map", j, cx);
}

static bool order_value_from_json(ProtobufCMessage *m, const cJSON *j,
                                  pb_ctx *cx)
{
    char buf[40];
    const char *t = is_num(j) ? num_text(j, buf, sizeof(buf)) : NULL;
    if (!t)
        return true;
    return set_named(m, is_integer_text(t) ? "int" : "float", j, cx);
}

/* {"type": "keyword", ...} -> keyword_index_params {...}. */
static bool index_params_from_json(ProtobufCMessage *m, const cJSON *j,
                                   pb_ctx *cx)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(type))
        return true;
    char field[64];
    snprintf(field, sizeof(field), "%s_index_params", type->valuestring);
    return set_named(m, field, j, cx);
}

/* GroupId / FacetValue: a string, a bool, a non-negative or a negative
 * integer, each in its own member. */
static bool scalar_variant_from_json(ProtobufCMessage *m, const cJSON *j,
                                     pb_ctx *cx)
{
    char buf[40];
    if (cJSON_IsString(j))
        return set_named(m, "string_value", j, cx);
    if (cJSON_IsBool(j))
        return set_named(m, "bool_value", j, cx);
    const char *t = is_num(j) ? num_text(j, buf, sizeof(buf)) : NULL;
    if (!t)
        return true;
    bool has_unsigned = field_named(m->descriptor, "unsigned_value") != NULL;
    return set_named(
        m, has_unsigned && t[0] != '-' ? "unsigned_value" : "integer_value", j,
        cx);
}

static bool struct_from_json(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx)
{
    return set_named(m, "fields", j, cx);
}

static bool list_from_json(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx)
{
    return set_named(m, "values", j, cx);
}

typedef bool (*from_json_hook)(ProtobufCMessage *m, const cJSON *j, pb_ctx *cx);

typedef struct from_json_entry {
    const char *name;
    from_json_hook hook;
} from_json_entry;

static const from_json_entry from_json_hooks[] = {
    {"qdrant.Value", value_from_json},
    {"qdrant.Struct", struct_from_json},
    {"qdrant.ListValue", list_from_json},
    {"qdrant.PointId", point_id_from_json},
    {"qdrant.VectorOutput", vector_out_from_json},
    {"qdrant.VectorsOutput", vectors_out_from_json},
    {"qdrant.OrderValue", order_value_from_json},
    {"qdrant.OptimizerStatus", optimizer_status_from_json},
    {"qdrant.VectorsConfig", vectors_config_from_json},
    {"qdrant.SparseVectorConfig", sparse_config_from_json},
    {"qdrant.PayloadIndexParams", index_params_from_json},
    {"qdrant.GroupId", scalar_variant_from_json},
    {"qdrant.FacetValue", scalar_variant_from_json},
    {"google.protobuf.Timestamp", timestamp_from_json},
};

static ProtobufCMessage *json_msg(const ProtobufCMessageDescriptor *d,
                                  const cJSON *j, pb_ctx *cx)
{
    ProtobufCMessage *m = new_msg(d);
    if (!m) {
        cx->failed = true;
        return NULL;
    }
    bool ok = true, hooked = false;
    for (size_t i = 0; i < sizeof(from_json_hooks) / sizeof(from_json_hooks[0]);
         i++)
        if (is_named(d, from_json_hooks[i].name)) {
            ok = from_json_hooks[i].hook(m, j, cx);
            hooked = true;
        }
    if (!hooked)
        ok = fields_from_json(m, j, cx);
    if (!ok || cx->failed) {
        protobuf_c_message_free_unpacked(m, NULL);
        if (!cx->failed)
            snprintf(cx->msg, cx->cap, "cannot convert the reply to %s",
                     d->name);
        cx->failed = true;
        return NULL;
    }
    return m;
}

ProtobufCMessage *qvs_json_to_pb(const ProtobufCMessageDescriptor *d,
                                 const cJSON *j, char *msg, size_t cap)
{
    pb_ctx cx = {.msg = msg, .cap = cap};
    snprintf(msg, cap, "out of memory");
    return json_msg(d, j, &cx);
}

/* ---- status codes ---------------------------------------------------------
 */

int qvs_grpc_status_of_http(int http_status)
{
    switch (http_status) {
    case 200:
    case 202:
        return QVS_GRPC_OK;
    case 400:
    case 422:
        return QVS_GRPC_INVALID_ARGUMENT;
    case 401:
        return QVS_GRPC_UNAUTHENTICATED;
    case 403:
        return QVS_GRPC_PERMISSION_DENIED;
    case 404:
        return QVS_GRPC_NOT_FOUND;
    case 408:
    case 504:
        return QVS_GRPC_DEADLINE_EXCEEDED;
    case 409:
        return QVS_GRPC_ALREADY_EXISTS;
    case 413:
    case 429:
        return QVS_GRPC_RESOURCE_EXHAUSTED;
    case 501:
        return QVS_GRPC_UNIMPLEMENTED;
    case 503:
        return QVS_GRPC_UNAVAILABLE;
    default:
        return QVS_GRPC_INTERNAL;
    }
}
