/*
 * text_index.c -- Qdrant's TextIndexParams over REST: the field_schema of
 * a full-text index read into qv_text_index_options, validated, shown back
 * as Qdrant shows it, and applied to the library collections.
 *
 * Reading follows serde's rules for TextIndexParams (lib/segment/src/
 * data_types/index.rs): every field may be absent or null (unset), except
 * `type`; a wrong JSON type or an unknown variant (tokenizer, stopword or
 * stemmer language) is a 400 "Format error in JSON body"; a value the
 * options refuse for its meaning (min_token_len above max_token_len) is a
 * 422 "Validation error in JSON body".  `stopwords` is Qdrant's untagged
 * StopwordsInterface: a language name, or {"languages", "custom"}.
 * `stemmer` is {"type": "snowball", "language": ...} or {"type":
 * "none"} (DisabledStemmerParams: no stemming, shown as given).
 *
 * What is shown (payload_schema's params) is the library's rendering of
 * the options (qv_text_index_options_json: Qdrant's field order, unset
 * fields left out), plus `memory`, `enable_hnsw` and a disabled stemmer,
 * which change nothing here and are kept as given.  The catalog stores the
 * shown params and re-reads them on start, so a restart rebuilds the same
 * index.
 */
#include "text_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tokenizers[] = {"word", "whitespace", "prefix",
                                         "multilingual"};

/* Storage the options borrow from (strings stay in the cJSON tree). */
typedef struct lists {
    const char **langs;
    const char **custom;
} lists;

static void lists_free(lists *l)
{
    free(l->langs);
    free(l->custom);
}

static bool fmt_err(qvs_resp *r, const char *what)
{
    return qvs_fail(r, 400, "Format error in JSON body: field_schema.%s", what);
}

static bool read_bool(const cJSON *s, const char *key, int *out, qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!j || cJSON_IsNull(j))
        return true;
    if (!cJSON_IsBool(j))
        return qvs_fail(r, 400,
                        "Format error in JSON body: field_schema.%s: invalid "
                        "type, expected a boolean",
                        key);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return true;
}

static bool read_len(const cJSON *s, const char *key, int64_t *out, qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!j || cJSON_IsNull(j))
        return true;
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1;
    if (d < 0 || d != (double)(int64_t)d || d > QV_TEXT_MAX_TOKEN_LEN)
        return qvs_fail(r, 400,
                        "Format error in JSON body: field_schema.%s: invalid "
                        "value, expected an integer within 0..%d",
                        key, QV_TEXT_MAX_TOKEN_LEN);
    *out = (int64_t)d;
    return true;
}

/* A JSON array of strings into a new array of borrowed pointers. */
static bool read_strings(const cJSON *a, const char *what, const char ***out,
                         size_t *n, qvs_resp *r)
{
    if (!cJSON_IsArray(a))
        return fmt_err(r, what);
    size_t k = (size_t)cJSON_GetArraySize(a);
    *out = calloc(k ? k : 1, sizeof(char *));
    if (!*out)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    const cJSON *e;
    *n = 0;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e))
            return fmt_err(r, what);
        (*out)[(*n)++] = e->valuestring;
    }
    return true;
}

static bool read_stopwords(const cJSON *s, qv_text_index_options *o, lists *l,
                           qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, "stopwords");
    if (!j || cJSON_IsNull(j))
        return true;
    if (cJSON_IsString(j)) {
        o->stopwords_language = j->valuestring;
        return true;
    }
    if (!cJSON_IsObject(j))
        return fmt_err(r, "stopwords: data did not match any variant of "
                          "untagged enum StopwordsInterface");
    o->stopwords_set = 1;
    const cJSON *langs = cJSON_GetObjectItemCaseSensitive(j, "languages");
    const cJSON *custom = cJSON_GetObjectItemCaseSensitive(j, "custom");
    if (langs && !cJSON_IsNull(langs) &&
        !read_strings(langs, "stopwords.languages", &l->langs,
                      &o->n_stopword_languages, r))
        return false;
    o->stopword_languages = l->langs;
    if (custom && !cJSON_IsNull(custom) &&
        !read_strings(custom, "stopwords.custom", &l->custom,
                      &o->n_custom_stopwords, r))
        return false;
    o->custom_stopwords = l->custom;
    return true;
}

/* The stemmer: snowball (its language), none, or absent. */
static bool read_stemmer(const cJSON *s, qv_text_index_options *o, qvs_resp *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, "stemmer");
    if (!j || cJSON_IsNull(j))
        return true;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(j, "language");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "none") == 0)
        return true;
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "snowball") != 0 ||
        !cJSON_IsString(lang))
        return fmt_err(r, "stemmer: data did not match any variant of "
                          "untagged enum StemmingAlgorithm");
    o->stemmer_language = lang->valuestring;
    return true;
}

static bool read_options(const cJSON *s, qv_text_index_options *o, lists *l,
                         qvs_resp *r)
{
    qv_text_index_options_init(o);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(s, "tokenizer");
    if (tok && !cJSON_IsNull(tok)) {
        int k = -1;
        for (int i = 0; cJSON_IsString(tok) && i < 4; i++)
            if (strcmp(tok->valuestring, tokenizers[i]) == 0)
                k = i;
        if (k < 0)
            return qvs_fail(r, 400,
                            "Format error in JSON body: field_schema."
                            "tokenizer: unknown variant `%s`, expected one "
                            "of `prefix`, `whitespace`, `word`, "
                            "`multilingual`",
                            cJSON_IsString(tok) ? tok->valuestring : "?");
        o->tokenizer = (qv_text_tokenizer)k;
    }
    return read_len(s, "min_token_len", &o->min_token_len, r) &&
           read_len(s, "max_token_len", &o->max_token_len, r) &&
           read_bool(s, "lowercase", &o->lowercase, r) &&
           read_bool(s, "ascii_folding", &o->ascii_folding, r) &&
           read_bool(s, "phrase_matching", &o->phrase_matching, r) &&
           read_bool(s, "on_disk", &o->on_disk, r) &&
           read_stopwords(s, o, l, r) && read_stemmer(s, o, r);
}

/* Copies the fields the library does not render (kept as given). */
static bool keep_extras(const cJSON *s, cJSON *out)
{
    static const char *const keep[] = {"memory", "enable_hnsw"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, keep[i]);
        if (j && !cJSON_IsNull(j) &&
            !cJSON_AddItemToObject(out, keep[i], cJSON_Duplicate(j, true)))
            return false;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "stemmer");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(st, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "none") == 0 &&
        !cJSON_AddItemToObject(out, "stemmer", cJSON_Duplicate(st, true)))
        return false;
    return true;
}

cJSON *qvs_text_index_params(const cJSON *schema, qvs_resp *r)
{
    qv_text_index_options o;
    lists l = {0};
    cJSON *out = NULL;
    char *json = NULL;
    char err[256] = "";
    if (!read_options(schema, &o, &l, r))
        goto cleanup;
    qv_status st = qv_text_index_options_json(&o, &json, err, sizeof(err));
    if (st == QV_EINVAL) {
        if (strncmp(err, "unknown", 7) == 0)
            qvs_fail(r, 400, "Format error in JSON body: field_schema: %s",
                     err);
        else
            qvs_fail(r, 422,
                     "Validation error in JSON body: [field_schema: %s]", err);
        goto cleanup;
    }
    if (st != QV_OK || !(out = cJSON_Parse(json)) ||
        !keep_extras(schema, out)) {
        cJSON_Delete(out);
        out = NULL;
        qvs_fail(r, 500, "Service internal error: out of memory");
    }
cleanup:
    qv_free(json);
    lists_free(&l);
    return out;
}

qv_status qvs_text_index_create(qv_collection *lib, const char *field,
                                const cJSON *params)
{
    qv_text_index_options o;
    lists l = {0};
    qvs_resp r;
    memset(&r, 0, sizeof(r));
    qv_status st = QV_EINVAL;
    if (read_options(params, &o, &l, &r))
        st = qv_payload_index_create_text(lib, field, &o);
    cJSON_Delete(r.result);
    lists_free(&l);
    return st;
}
