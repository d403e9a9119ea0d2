/*
 * bm25.c -- text into a BM25 sparse vector, as Qdrant's built-in
 * "qdrant/bm25" model does (Qdrant 1.19's inference bm25.rs and
 * api::rest::Bm25Config; the same recipe as fastembed's Qdrant/bm25):
 *
 *   1. the text pipeline of a full-text index, in its document form for
 *      documents and its query form for queries, as Qdrant 1.19's
 *      Bm25::doc_embed (tokenize_doc) and search_embed (tokenize_query)
 *      in src/common/inference/bm25_inference.rs (its test
 *      prefix_tokenizer_query_parity_doc_diverges): tokenizer (default
 *      "word"), lowercase (default true),
 *      ascii_folding (default false), stopwords and stemmer, token length
 *      bounds.  `language` (default "english") supplies the stopwords when
 *      it is one of Qdrant's stopword languages and the Snowball stemmer
 *      when it is a Snowball language, unless `stopwords` / `stemmer` are
 *      given; any other language (e.g. "none") gives neither, as Qdrant's
 *      new_token_processor_from_config.  The pipeline is the library's
 *      (qv_text_tokenize: the same tokenizers, stopword lists and
 *      libstemmer stemmers the full-text index uses);
 *   2. index = |murmur3_x86_32(token, 0)| read as a signed 32-bit value
 *      (Qdrant's compute_token_id, fastembed's abs(mmh3.hash(token)));
 *   3. document value = tf (k + 1) / (tf + k (1 - b + b doc_len / avg_len))
 *      with doc_len the tokens kept; a query gives each distinct token 1.0,
 *      and the collection's `idf` modifier supplies the IDF at search time.
 *
 * The two forms differ for the prefix tokenizer only
 * (core/text/text_pipe.c): a document gives, for each processed word
 * (stopwords dropped, stemmed, at least min_token_len characters), its
 * prefixes of min_token_len (default 1) to max_token_len characters, the
 * whole word once that reaches its length -- all of them tokens, so they
 * count in tf and doc_len; a query gives each word once, without the
 * stopword check, cut to max_token_len characters, so "hel" scores the
 * documents holding "hello".
 */
#include "bm25.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void qvs_bm25_opts_init(qvs_bm25_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->k = 1.2;
    o->b = 0.75;
    o->avg_len = 256.0;
    qv_text_index_options_init(&o->text);
    o->text.stopwords_language = "english";
    o->text.stemmer_language = "english";
}

void qvs_bm25_vec_free(qvs_bm25_vec *v)
{
    free(v->indices);
    free(v->values);
    memset(v, 0, sizeof(*v));
}

/* ---- murmur3 ------------------------------------------------------------- */

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

uint32_t qvs_murmur3_32(const void *key, size_t len, uint32_t seed)
{
    const uint8_t *p = key;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k;
        memcpy(&k, p + i * 4, 4); /* little-endian hosts, as the WAL */
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const uint8_t *tail = p + nblocks * 4;
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t qvs_bm25_token_id(const char *tok, size_t len)
{
    int32_t s = (int32_t)qvs_murmur3_32(tok, len, 0);
    /* abs in Python's integers: |INT32_MIN| is 2^31, still a u32. */
    return s < 0 ? (uint32_t)(-(int64_t)s) : (uint32_t)s;
}

/* ---- embedding ----------------------------------------------------------- */

typedef struct tok {
    uint32_t id;
    uint32_t tf;
} tok;

static int cmp_tok(const void *a, const void *b)
{
    uint32_t x = ((const tok *)a)->id, y = ((const tok *)b)->id;
    return (x > y) - (x < y);
}

typedef struct toks {
    tok *t;
    size_t n, cap;
    bool oom;
} toks;

static bool add_token(void *ctx, const char *t, size_t n)
{
    toks *k = ctx;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        tok *g = realloc(k->t, cap * sizeof(*g));
        if (!g) {
            k->oom = true;
            return true; /* stop */
        }
        k->t = g;
        k->cap = cap;
    }
    k->t[k->n++] = (tok){qvs_bm25_token_id(t, n), 1};
    return false;
}

qv_status qvs_bm25_embed(const char *text, size_t len, const qvs_bm25_opts *o,
                         bool query, qvs_bm25_vec *out, char *err,
                         size_t errcap)
{
    memset(out, 0, sizeof(*out));
    toks k = {0};
    qv_status st = query ? qv_text_tokenize_query(&o->text, text, len,
                                                  add_token, &k, err, errcap)
                         : qv_text_tokenize(&o->text, text, len, add_token, &k,
                                            err, errcap);
    if (st == QV_OK && k.oom)
        st = QV_ENOMEM;
    if (st != QV_OK) {
        free(k.t);
        return st;
    }
    tok *t = k.t;
    size_t n = k.n;
    double doc_len = (double)n;
    if (n)
        qsort(t, n, sizeof(*t), cmp_tok);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && t[u - 1].id == t[i].id)
            t[u - 1].tf++;
        else
            t[u++] = t[i];
    }
    out->indices = malloc((u ? u : 1) * sizeof(uint32_t));
    out->values = malloc((u ? u : 1) * sizeof(float));
    if (!out->indices || !out->values) {
        free(t);
        qvs_bm25_vec_free(out);
        return QV_ENOMEM;
    }
    for (size_t i = 0; i < u; i++) {
        double tf = t[i].tf;
        double v =
            query
                ? 1.0
                : tf * (o->k + 1.0) /
                      (tf + o->k * (1.0 - o->b + o->b * doc_len / o->avg_len));
        out->indices[i] = t[i].id;
        out->values[i] = (float)v;
    }
    out->n = (uint32_t)u;
    free(t);
    return QV_OK;
}

/* ---- the Document JSON --------------------------------------------------- */

bool qvs_bm25_is_document(const cJSON *j)
{
    return cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "text") &&
           cJSON_GetObjectItemCaseSensitive(j, "model");
}

static const cJSON *opt(const cJSON *o, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNull(m) ? NULL : m;
}

static bool fail_opt(qvs_resp *r, const char *where, const char *what)
{
    return qvs_fail(r, 400, "Bad request: %s.options: %s", where, what);
}

static bool num_opt(const cJSON *o, const char *k, double lo, double *out,
                    qvs_resp *r, const char *where)
{
    const cJSON *v = opt(o, k);
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo)
        return qvs_fail(r, 400,
                        "Bad request: %s.options.%s: expected a number "
                        "of at least %g",
                        where, k, lo);
    *out = v->valuedouble;
    return true;
}

/* A list of strings at key of o (absent: *n 0), into a new array of
 * pointers into o (freed by the caller); false with r set on a bad one. */
static bool str_list(const cJSON *o, const char *key, const char ***out,
                     size_t *n, qvs_resp *r, const char *where)
{
    *out = NULL;
    *n = 0;
    const cJSON *a = opt(o, key);
    if (!a || cJSON_IsNull(a))
        return true;
    if (!cJSON_IsArray(a))
        return fail_opt(r, where, "stopwords: expected a list of strings");
    size_t cap = (size_t)cJSON_GetArraySize(a);
    *out = malloc((cap ? cap : 1) * sizeof(**out));
    if (!*out)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e))
            return fail_opt(r, where, "stopwords: expected a list of strings");
        (*out)[(*n)++] = e->valuestring;
    }
    return true;
}

/* language, stopwords and stemmer into b->text (Qdrant's
 * new_token_processor_from_config: an explicit option wins; otherwise
 * the language gives what it is known for, and nothing when unknown). */
static bool language_opts(const cJSON *o, qvs_bm25_opts *b, qvs_resp *r,
                          const char *where)
{
    const cJSON *lang = opt(o, "language");
    if (lang && !cJSON_IsNull(lang) && !cJSON_IsString(lang))
        return fail_opt(r, where, "language: expected a string");
    const char *l = cJSON_IsString(lang) ? lang->valuestring : "english";
    bool has_stop = false, has_stem = false;
    qv_text_language(l, &has_stop, &has_stem);
    b->text.stopwords_language = has_stop ? l : NULL;
    b->text.stemmer_language = has_stem ? l : NULL;
    const cJSON *sw = opt(o, "stopwords");
    if (cJSON_IsString(sw)) {
        b->text.stopwords_language = sw->valuestring;
    } else if (cJSON_IsObject(sw)) {
        b->text.stopwords_language = NULL;
        b->text.stopwords_set = 1;
        if (!str_list(sw, "languages", &b->langs, &b->text.n_stopword_languages,
                      r, where) ||
            !str_list(sw, "custom", &b->custom, &b->text.n_custom_stopwords, r,
                      where))
            return false;
        b->text.stopword_languages = b->langs;
        b->text.custom_stopwords = b->custom;
    } else if (sw && !cJSON_IsNull(sw)) {
        return fail_opt(r, where,
                        "stopwords: expected a language or "
                        "{\"languages\", \"custom\"}");
    }
    const cJSON *st = opt(o, "stemmer");
    if (st && !cJSON_IsNull(st)) {
        const cJSON *ty = opt(st, "type"), *sl = opt(st, "language");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "snowball") != 0 ||
            !cJSON_IsString(sl))
            return fail_opt(r, where,
                            "stemmer: expected {\"type\": \"snowball\", "
                            "\"language\": ...}");
        b->text.stemmer_language = sl->valuestring;
    }
    return true;
}

static bool bool_opt(const cJSON *o, const char *k, int *out, qvs_resp *r,
                     const char *where)
{
    const cJSON *v = opt(o, k);
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsBool(v))
        return qvs_fail(
            r, 400, "Bad request: %s.options.%s: expected a boolean", where, k);
    *out = cJSON_IsTrue(v);
    return true;
}

static bool parse_opts(const cJSON *o, qvs_bm25_opts *b, qvs_resp *r,
                       const char *where)
{
    qvs_bm25_opts_init(b);
    if (!o)
        return true;
    if (!cJSON_IsObject(o))
        return fail_opt(r, where, "expected an object");
    double mn = -1, mx = -1;
    if (!num_opt(o, "k", 0, &b->k, r, where) ||
        !num_opt(o, "b", 0, &b->b, r, where) ||
        !num_opt(o, "avg_len", 1e-9, &b->avg_len, r, where) ||
        !num_opt(o, "min_token_len", 0, &mn, r, where) ||
        !num_opt(o, "max_token_len", 0, &mx, r, where) ||
        !bool_opt(o, "lowercase", &b->text.lowercase, r, where) ||
        !bool_opt(o, "ascii_folding", &b->text.ascii_folding, r, where))
        return false;
    if (b->b > 1)
        return fail_opt(r, where, "b must be from 0 to 1");
    if (mn > QV_TEXT_MAX_TOKEN_LEN || mx > QV_TEXT_MAX_TOKEN_LEN)
        return fail_opt(r, where, "token lengths must be at most 65535");
    b->text.min_token_len = (int64_t)mn;
    b->text.max_token_len = (int64_t)mx;
    const cJSON *tk = opt(o, "tokenizer");
    if (tk && !cJSON_IsNull(tk)) {
        static const char *const names[] = {"word", "whitespace", "prefix",
                                            "multilingual"};
        int k = -1;
        for (int i = 0; cJSON_IsString(tk) && i < 4; i++)
            if (strcmp(tk->valuestring, names[i]) == 0)
                k = i;
        if (k < 0)
            return fail_opt(r, where,
                            "tokenizer: expected one of \"word\", "
                            "\"whitespace\", \"prefix\", \"multilingual\"");
        b->text.tokenizer = (qv_text_tokenizer)k;
    }
    return language_opts(o, b, r, where);
}

void qvs_bm25_opts_free(qvs_bm25_opts *o)
{
    free(o->langs);
    free(o->custom);
    o->langs = o->custom = NULL;
}

bool qvs_bm25_document(const cJSON *j, bool query, qvs_bm25_vec *out,
                       qvs_resp *r, const char *where)
{
    memset(out, 0, sizeof(*out));
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!cJSON_IsString(text) || !cJSON_IsString(model))
        return qvs_fail(r, 400,
                        "Format error in JSON body: %s: a Document needs the "
                        "strings `text` and `model`",
                        where);
    if (strcasecmp(model->valuestring, "qdrant/bm25") != 0)
        return qvs_fail(r, 400,
                        "Bad request: %s: model \"%.100s\" needs an inference "
                        "service, which this server does not have; only "
                        "\"qdrant/bm25\" is built in",
                        where, model->valuestring);
    qvs_bm25_opts o;
    if (!parse_opts(opt(j, "options"), &o, r, where)) {
        qvs_bm25_opts_free(&o);
        return false;
    }
    char err[256] = "";
    qv_status st = qvs_bm25_embed(text->valuestring, strlen(text->valuestring),
                                  &o, query, out, err, sizeof(err));
    qvs_bm25_opts_free(&o);
    if (st == QV_EINVAL)
        return fail_opt(r, where, err);
    if (st != QV_OK)
        return qvs_fail(r, 500, "Service internal error: out of memory");
    return true;
}
