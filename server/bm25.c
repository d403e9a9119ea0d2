/*
 * bm25.c -- text into a BM25 sparse vector, as Qdrant's built-in
 * "qdrant/bm25" model does (lib/api's Bm25Config; the same recipe as
 * fastembed's Qdrant/bm25, fastembed/sparse/bm25.py):
 *
 *   1. tokenize: runs of letters and digits ("word" tokenizer); bytes of
 *      multi-byte UTF-8 characters count as letters, so non-ASCII words
 *      stay whole (they are lowercased only in their ASCII letters);
 *   2. lowercase (option `lowercase`, default true);
 *   3. drop English stopwords (NLTK's list, as Qdrant's `english` set);
 *   4. drop tokens outside [min_token_len, max_token_len] when given;
 *   5. stem with Snowball English (bm25_stem.c);
 *   6. index = |murmur3_x86_32(token, 0)| read as a signed 32-bit value
 *      (fastembed: compute_token_id = abs(mmh3.hash(token)));
 *   7. document value = tf (k + 1) / (tf + k (1 - b + b doc_len / avg_len))
 *      with doc_len the tokens kept (fastembed's _term_frequency); a query
 *      gives each distinct token 1.0 (fastembed's query_embed), and the
 *      collection's `idf` modifier supplies the IDF at search time.
 *
 * `language` other than english (or "none", which turns stopwords and
 * stemming off), other tokenizers, ascii_folding and custom stopword
 * lists are refused with a 400 rather than silently approximated.
 */
#include "bm25.h"

#include <ctype.h>
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
    o->lowercase = true;
    o->stopwords = true;
    o->stem = true;
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

/* ---- stopwords ----------------------------------------------------------- */

/* NLTK's English stopwords (179 words), sorted for bsearch. */
static const char *const STOP[] = {
    "a",        "about",      "above",   "after",    "again",     "against",
    "ain",      "all",        "am",      "an",       "and",       "any",
    "are",      "aren",       "aren't",  "as",       "at",        "be",
    "because",  "been",       "before",  "being",    "below",     "between",
    "both",     "but",        "by",      "can",      "couldn",    "couldn't",
    "d",        "did",        "didn",    "didn't",   "do",        "does",
    "doesn",    "doesn't",    "doing",   "don",      "don't",     "down",
    "during",   "each",       "few",     "for",      "from",      "further",
    "had",      "hadn",       "hadn't",  "has",      "hasn",      "hasn't",
    "have",     "haven",      "haven't", "having",   "he",        "her",
    "here",     "hers",       "herself", "him",      "himself",   "his",
    "how",      "i",          "if",      "in",       "into",      "is",
    "isn",      "isn't",      "it",      "it's",     "its",       "itself",
    "just",     "ll",         "m",       "ma",       "me",        "mightn",
    "mightn't", "more",       "most",    "mustn",    "mustn't",   "my",
    "myself",   "needn",      "needn't", "no",       "nor",       "not",
    "now",      "o",          "of",      "off",      "on",        "once",
    "only",     "or",         "other",   "our",      "ours",      "ourselves",
    "out",      "over",       "own",     "re",       "s",         "same",
    "shan",     "shan't",     "she",     "she's",    "should",    "should've",
    "shouldn",  "shouldn't",  "so",      "some",     "such",      "t",
    "than",     "that",       "that'll", "the",      "their",     "theirs",
    "them",     "themselves", "then",    "there",    "these",     "they",
    "this",     "those",      "through", "to",       "too",       "under",
    "until",    "up",         "ve",      "very",     "was",       "wasn",
    "wasn't",   "we",         "were",    "weren",    "weren't",   "what",
    "when",     "where",      "which",   "while",    "who",       "whom",
    "why",      "will",       "with",    "won",      "won't",     "wouldn",
    "wouldn't", "y",          "you",     "you'd",    "you'll",    "you're",
    "you've",   "your",       "yours",   "yourself", "yourselves"};

typedef struct span {
    const char *p;
    size_t n;
} span;

static int cmp_stop(const void *key, const void *elem)
{
    const span *k = key;
    const char *w = *(const char *const *)elem;
    size_t wn = strlen(w);
    int c = memcmp(k->p, w, k->n < wn ? k->n : wn);
    if (c)
        return c;
    return (k->n > wn) - (k->n < wn);
}

bool qvs_bm25_stopword(const char *w, size_t len)
{
    span k = {w, len};
    return bsearch(&k, STOP, sizeof(STOP) / sizeof(STOP[0]), sizeof(STOP[0]),
                   cmp_stop) != NULL;
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

static bool word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* Cuts text into processed tokens, appending their ids to *toks. */
static bool tokenize(const char *text, size_t len, const qvs_bm25_opts *o,
                     tok **toks, size_t *n)
{
    size_t cap = 16;
    *n = 0;
    *toks = malloc(cap * sizeof(**toks));
    char *buf = malloc(len + 1);
    if (!*toks || !buf) {
        free(buf);
        return false;
    }
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && word_byte((unsigned char)text[j]))
            j++;
        size_t m = j - i;
        for (size_t q = 0; q < m; q++)
            buf[q] = o->lowercase ? (char)tolower((unsigned char)text[i + q])
                                  : text[i + q];
        i = j;
        if (o->stopwords && qvs_bm25_stopword(buf, m))
            continue;
        if ((o->min_token_len && m < o->min_token_len) ||
            (o->max_token_len && m > o->max_token_len))
            continue;
        if (o->stem)
            m = qvs_stem_english(buf, m);
        if (*n == cap) {
            tok *t = realloc(*toks, cap * 2 * sizeof(*t));
            if (!t) {
                free(buf);
                return false;
            }
            *toks = t;
            cap *= 2;
        }
        (*toks)[(*n)++] = (tok){qvs_bm25_token_id(buf, m), 1};
    }
    free(buf);
    return true;
}

bool qvs_bm25_embed(const char *text, size_t len, const qvs_bm25_opts *o,
                    bool query, qvs_bm25_vec *out)
{
    memset(out, 0, sizeof(*out));
    tok *t = NULL;
    size_t n = 0;
    if (!tokenize(text, len, o, &t, &n)) {
        free(t);
        return false;
    }
    double doc_len = (double)n;
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
        return false;
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
    return true;
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

static bool language_opts(const cJSON *o, qvs_bm25_opts *b, qvs_resp *r,
                          const char *where)
{
    const cJSON *lang = opt(o, "language");
    if (lang && (!cJSON_IsString(lang) ||
                 (strcasecmp(lang->valuestring, "english") != 0 &&
                  strcasecmp(lang->valuestring, "en") != 0 &&
                  strcasecmp(lang->valuestring, "none") != 0)))
        return fail_opt(r, where,
                        "only the languages \"english\" and \"none\" are "
                        "supported by this server");
    if (lang && strcasecmp(lang->valuestring, "none") == 0)
        b->stopwords = b->stem = false;
    const cJSON *sw = opt(o, "stopwords");
    if (sw &&
        !(cJSON_IsString(sw) && strcasecmp(sw->valuestring, "english") == 0))
        return fail_opt(r, where,
                        "only the \"english\" stopwords are supported by this "
                        "server");
    if (sw)
        b->stopwords = true;
    const cJSON *st = opt(o, "stemmer");
    if (st) {
        const cJSON *ty = opt(st, "type"), *sl = opt(st, "language");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "snowball") != 0 ||
            !cJSON_IsString(sl) ||
            (strcasecmp(sl->valuestring, "english") != 0 &&
             strcasecmp(sl->valuestring, "en") != 0))
            return fail_opt(r, where,
                            "only the snowball english stemmer is supported "
                            "by this server");
        b->stem = true;
    }
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
    double mn = 0, mx = 0;
    if (!num_opt(o, "k", 0, &b->k, r, where) ||
        !num_opt(o, "b", 0, &b->b, r, where) ||
        !num_opt(o, "avg_len", 1e-9, &b->avg_len, r, where) ||
        !num_opt(o, "min_token_len", 0, &mn, r, where) ||
        !num_opt(o, "max_token_len", 0, &mx, r, where))
        return false;
    if (b->b > 1)
        return fail_opt(r, where, "b must be from 0 to 1");
    b->min_token_len = (size_t)mn;
    b->max_token_len = (size_t)mx;
    const cJSON *lc = opt(o, "lowercase");
    if (lc && !cJSON_IsBool(lc))
        return fail_opt(r, where, "lowercase: expected a boolean");
    if (lc)
        b->lowercase = cJSON_IsTrue(lc);
    const cJSON *af = opt(o, "ascii_folding");
    if (af && !cJSON_IsFalse(af))
        return fail_opt(r, where,
                        "ascii_folding is not supported by this server");
    const cJSON *tk = opt(o, "tokenizer");
    if (tk && !(cJSON_IsString(tk) && strcmp(tk->valuestring, "word") == 0))
        return fail_opt(r, where,
                        "only the \"word\" tokenizer is supported by this "
                        "server");
    return language_opts(o, b, r, where);
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
    if (!parse_opts(opt(j, "options"), &o, r, where))
        return false;
    if (!qvs_bm25_embed(text->valuestring, strlen(text->valuestring), &o, query,
                        out))
        return qvs_fail(r, 500, "Service internal error: out of memory");
    return true;
}
