/*
 * text_opts.c -- the options of a full-text index: validation, Qdrant's
 * params JSON, and the bytes the write-ahead log and snapshots keep.
 *
 * Options are validated once, here, whoever gives them (the public API, a
 * decoded log record, a snapshot): a language must be one of Qdrant's
 * (Language / SnowballLanguage in lib/segment/src/data_types/index.rs),
 * min_token_len may not exceed max_token_len.  Unset fields stay unset (-1)
 * so that the params are shown as Qdrant shows them: it serializes every
 * Option field with skip_serializing_if = "Option::is_none", and the
 * tokenizer always.  Sets (stopword languages, custom words) are BTreeSets
 * in Qdrant: shown sorted and without duplicates.
 *
 * The encoding (docs/WAL.md, "text index options"): u8 version 1, u8
 * tokenizer, i8 lowercase, i8 ascii_folding, i8 phrase_matching, i8
 * on_disk, u8 stopword form, i8 stemmer (index in qvi_stem_languages or
 * -1), i64 min, i64 max, u32 stopword language mask, u8 custom present,
 * u32 custom count, then each custom word as u32 length and bytes; all
 * little-endian.  Decoding goes back through the public options and
 * qvi_text_opts_new, so a damaged record can never make options that the
 * API would refuse.
 */
#include "core/text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tokenizer_names[] = {"word", "whitespace", "prefix",
                                              "multilingual"};

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool tristate_ok(int v)
{
    return v >= -1 && v <= 1;
}

static qv_status check_scalars(const qv_text_index_options *o, char *err,
                               size_t cap)
{
    if (o->version != QV_TEXT_INDEX_OPTIONS_VERSION) {
        snprintf(err, cap, "unsupported options version %u", o->version);
        return QV_EINVAL;
    }
    if ((unsigned)o->tokenizer > QV_TEXT_TOKENIZER_MULTILINGUAL) {
        snprintf(err, cap, "unknown tokenizer %d", (int)o->tokenizer);
        return QV_EINVAL;
    }
    if (!tristate_ok(o->lowercase) || !tristate_ok(o->ascii_folding) ||
        !tristate_ok(o->phrase_matching) || !tristate_ok(o->on_disk)) {
        snprintf(err, cap, "a boolean option is not -1, 0 or 1");
        return QV_EINVAL;
    }
    if (o->min_token_len < -1 || o->min_token_len > QV_TEXT_MAX_TOKEN_LEN ||
        o->max_token_len < -1 || o->max_token_len > QV_TEXT_MAX_TOKEN_LEN) {
        snprintf(err, cap, "token lengths must be within 0..%d",
                 QV_TEXT_MAX_TOKEN_LEN);
        return QV_EINVAL;
    }
    if (o->min_token_len >= 0 && o->max_token_len >= 0 &&
        o->min_token_len > o->max_token_len) {
        snprintf(err, cap,
                 "min_token_len (%lld) must not be greater than "
                 "max_token_len (%lld)",
                 (long long)o->min_token_len, (long long)o->max_token_len);
        return QV_EINVAL;
    }
    return QV_OK;
}

/* Adds language name's bit to *mask; checks that Quiver has its list. */
static qv_status add_language(const char *name, uint32_t *mask, char *err,
                              size_t cap)
{
    int i = find_name(qvi_stop_languages, QVI_STOP_LANGUAGES, name);
    if (i < 0) {
        snprintf(err, cap, "unknown stopwords language `%s`",
                 name ? name : "(null)");
        return QV_EINVAL;
    }
    size_t n;
    if (!qvi_stopwords_of((uint32_t)i, &n)) {
        snprintf(err, cap,
                 "stopwords for `%s` are not built into this server yet "
                 "(use custom stopwords)",
                 name);
        return QV_EINVAL;
    }
    *mask |= 1u << i;
    return QV_OK;
}

static qv_status parse_stopwords(const qv_text_index_options *o,
                                 qvi_text_opts *t, char *err, size_t cap)
{
    if (o->stopwords_language && o->stopwords_set) {
        snprintf(err, cap, "stopwords: a language name or a set, not both");
        return QV_EINVAL;
    }
    if (o->stopwords_language) {
        t->stop_form = 1;
        return add_language(o->stopwords_language, &t->stop_langs, err, cap);
    }
    if (!o->stopwords_set)
        return QV_OK;
    t->stop_form = 2;
    if ((o->n_stopword_languages && !o->stopword_languages) ||
        (o->n_custom_stopwords && !o->custom_stopwords)) {
        snprintf(err, cap, "stopwords: a list is NULL");
        return QV_EINVAL;
    }
    for (size_t i = 0; i < o->n_stopword_languages; i++) {
        qv_status st =
            add_language(o->stopword_languages[i], &t->stop_langs, err, cap);
        if (st != QV_OK)
            return st;
    }
    t->has_custom = o->custom_stopwords != NULL;
    if (o->n_custom_stopwords > UINT32_MAX / 2) {
        snprintf(err, cap, "stopwords: too many custom words");
        return QV_EINVAL;
    }
    if (o->n_custom_stopwords &&
        !(t->custom = calloc(o->n_custom_stopwords, sizeof(char *))))
        return QV_ENOMEM;
    for (size_t i = 0; i < o->n_custom_stopwords; i++) {
        if (!o->custom_stopwords[i]) {
            snprintf(err, cap, "stopwords: custom word %zu is NULL", i);
            return QV_EINVAL;
        }
        if (!(t->custom[t->n_custom++] = strdup(o->custom_stopwords[i])))
            return QV_ENOMEM;
    }
    qsort(t->custom, t->n_custom, sizeof(char *), cmp_str);
    uint32_t w = 0;
    for (uint32_t i = 0; i < t->n_custom; i++) {
        if (w && strcmp(t->custom[w - 1], t->custom[i]) == 0)
            free(t->custom[i]);
        else
            t->custom[w++] = t->custom[i];
    }
    t->n_custom = w;
    return QV_OK;
}

/* The lookup of every stopword: custom words (lowercased like tokens when
 * lowercase is on, as Qdrant's StopwordsFilter::new does) and the lists of
 * the languages, sorted.  stops points into pool (the custom words as
 * tokens see them) and into the static lists. */
static qv_status build_stops(qvi_text_opts *t)
{
    size_t n = t->n_custom;
    for (uint32_t i = 0; i < QVI_STOP_LANGUAGES; i++) {
        size_t k = 0;
        if (t->stop_langs >> i & 1)
            qvi_stopwords_of(i, &k);
        n += k;
    }
    if (n == 0)
        return QV_OK;
    if (!(t->stops = calloc(n, sizeof(char *))))
        return QV_ENOMEM;
    size_t pool = 0;
    for (uint32_t i = 0; i < t->n_custom; i++)
        pool += strlen(t->custom[i]) + 1;
    if (pool && !(t->pool = malloc(pool)))
        return QV_ENOMEM;
    char *at = t->pool;
    for (uint32_t i = 0; i < t->n_custom; i++) {
        size_t k = strlen(t->custom[i]);
        if (t->lowercase != 0)
            qvi_text_lower(t->custom[i], k, at);
        else
            memcpy(at, t->custom[i], k);
        at[k] = '\0';
        t->stops[t->n_stops++] = at;
        at += k + 1;
    }
    for (uint32_t i = 0; i < QVI_STOP_LANGUAGES; i++) {
        size_t k = 0;
        const char *const *w =
            t->stop_langs >> i & 1 ? qvi_stopwords_of(i, &k) : NULL;
        for (size_t j = 0; j < k; j++)
            t->stops[t->n_stops++] = w[j];
    }
    qsort(t->stops, t->n_stops, sizeof(char *), cmp_str);
    return QV_OK;
}

qv_status qvi_text_opts_new(const qv_text_index_options *o, qvi_text_opts **out,
                            char *err, size_t errcap)
{
    *out = NULL;
    qv_status st = check_scalars(o, err, errcap);
    if (st != QV_OK)
        return st;
    qvi_text_opts *t = calloc(1, sizeof(*t));
    if (!t)
        return QV_ENOMEM;
    t->refs = 1;
    t->tokenizer = (uint8_t)o->tokenizer;
    t->lowercase = (int8_t)o->lowercase;
    t->ascii_folding = (int8_t)o->ascii_folding;
    t->phrase_matching = (int8_t)o->phrase_matching;
    t->on_disk = (int8_t)o->on_disk;
    t->min_len = o->min_token_len;
    t->max_len = o->max_token_len;
    t->stem = -1;
    if (o->stemmer_language) {
        int s = find_name(qvi_stem_languages, QVI_STEM_LANGUAGES,
                          o->stemmer_language);
        if (s < 0) {
            snprintf(err, errcap, "unknown snowball stemmer language `%s`",
                     o->stemmer_language);
            st = QV_EINVAL;
            goto fail;
        }
        t->stem = (int8_t)s;
    }
    st = parse_stopwords(o, t, err, errcap);
    if (st == QV_OK)
        st = build_stops(t);
    if (st == QV_OK) {
        *out = t;
        return QV_OK;
    }
fail:
    qvi_text_opts_unref(t);
    return st;
}

qvi_text_opts *qvi_text_opts_ref(qvi_text_opts *o)
{
    if (o)
        __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
    return o;
}

void qvi_text_opts_unref(qvi_text_opts *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (uint32_t i = 0; i < o->n_custom; i++)
        free(o->custom[i]);
    free(o->custom);
    free(o->stops);
    free(o->pool);
    free(o);
}

/* ---- Qdrant's params JSON ----------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_jstr(sbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, s, 1);
        }
    }
    put(b, "\"", 1);
}

static void put_bool(sbuf *b, const char *name, int8_t v)
{
    if (v < 0)
        return;
    char s[64];
    snprintf(s, sizeof(s), ",\"%s\":%s", name, v ? "true" : "false");
    puts_(b, s);
}

static void put_len(sbuf *b, const char *name, int64_t v)
{
    if (v < 0)
        return;
    char s[64];
    snprintf(s, sizeof(s), ",\"%s\":%lld", name, (long long)v);
    puts_(b, s);
}

static void put_stopwords(sbuf *b, const qvi_text_opts *o)
{
    if (o->stop_form == 1) {
        for (int i = 0; i < QVI_STOP_LANGUAGES; i++)
            if (o->stop_langs >> i & 1) {
                puts_(b, ",\"stopwords\":");
                put_jstr(b, qvi_stop_languages[i]);
            }
        return;
    }
    if (o->stop_form != 2)
        return;
    puts_(b, ",\"stopwords\":{");
    bool first = true;
    if (o->stop_langs) {
        puts_(b, "\"languages\":[");
        for (int i = 0; i < QVI_STOP_LANGUAGES; i++)
            if (o->stop_langs >> i & 1) {
                if (!first)
                    puts_(b, ",");
                first = false;
                put_jstr(b, qvi_stop_languages[i]);
            }
        puts_(b, "]");
    }
    if (o->has_custom) {
        puts_(b, o->stop_langs ? ",\"custom\":[" : "\"custom\":[");
        for (uint32_t i = 0; i < o->n_custom; i++) {
            if (i)
                puts_(b, ",");
            put_jstr(b, o->custom[i]);
        }
        puts_(b, "]");
    }
    puts_(b, "}");
}

char *qvi_text_opts_json(const qvi_text_opts *o)
{
    static const qvi_text_opts defaults = {
        .lowercase = -1,
        .ascii_folding = -1,
        .phrase_matching = -1,
        .on_disk = -1,
        .min_len = -1,
        .max_len = -1,
        .stem = -1,
    };
    if (!o)
        o = &defaults;
    sbuf b = {0};
    puts_(&b, "{\"type\":\"text\",\"tokenizer\":");
    put_jstr(&b, tokenizer_names[o->tokenizer]);
    put_len(&b, "min_token_len", o->min_len);
    put_len(&b, "max_token_len", o->max_len);
    put_bool(&b, "lowercase", o->lowercase);
    put_bool(&b, "ascii_folding", o->ascii_folding);
    put_bool(&b, "phrase_matching", o->phrase_matching);
    put_stopwords(&b, o);
    put_bool(&b, "on_disk", o->on_disk);
    if (o->stem >= 0) {
        puts_(&b, ",\"stemmer\":{\"type\":\"snowball\",\"language\":");
        put_jstr(&b, qvi_stem_languages[o->stem]);
        puts_(&b, "}");
    }
    puts_(&b, "}");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- the persisted encoding --------------------------------------------- */

static void put_u32(sbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    put(b, (const char *)x, 4);
}

static void put_i64(sbuf *b, int64_t v)
{
    put_u32(b, (uint32_t)(uint64_t)v);
    put_u32(b, (uint32_t)((uint64_t)v >> 32));
}

uint8_t *qvi_text_opts_encode(const qvi_text_opts *o, size_t *len)
{
    sbuf b = {0};
    int8_t head[8] = {1,
                      (int8_t)(o ? o->tokenizer : 0),
                      o ? o->lowercase : -1,
                      o ? o->ascii_folding : -1,
                      o ? o->phrase_matching : -1,
                      o ? o->on_disk : -1,
                      (int8_t)(o ? o->stop_form : 0),
                      o ? o->stem : -1};
    put(&b, (const char *)head, 8);
    put_i64(&b, o ? o->min_len : -1);
    put_i64(&b, o ? o->max_len : -1);
    put_u32(&b, o ? o->stop_langs : 0);
    put(&b, o && o->has_custom ? "\1" : "\0", 1);
    put_u32(&b, o ? o->n_custom : 0);
    for (uint32_t i = 0; o && i < o->n_custom; i++) {
        size_t n = strlen(o->custom[i]);
        put_u32(&b, (uint32_t)n);
        put(&b, o->custom[i], n);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return (uint8_t *)b.p;
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The custom words of an encoding at b[0..len) into words (n of them, each
 * a new NUL-terminated copy). */
static qv_status decode_custom(const uint8_t *b, size_t len, char **words,
                               uint32_t n, char *err, size_t errcap)
{
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (len - at < 4 || rd_u32(b + at) > len - at - 4) {
            snprintf(err, errcap, "text index options: custom word %u cut", i);
            return QV_ECORRUPT;
        }
        uint32_t k = rd_u32(b + at);
        if (memchr(b + at + 4, 0, k)) {
            snprintf(err, errcap, "text index options: custom word %u has NUL",
                     i);
            return QV_ECORRUPT;
        }
        if (!(words[i] = malloc((size_t)k + 1)))
            return QV_ENOMEM;
        memcpy(words[i], b + at + 4, k);
        words[i][k] = '\0';
        at += 4 + (size_t)k;
    }
    if (at != len) {
        snprintf(err, errcap, "text index options: %zu trailing bytes",
                 len - at);
        return QV_ECORRUPT;
    }
    return QV_OK;
}

qv_status qvi_text_opts_decode(const uint8_t *b, size_t len,
                               qvi_text_opts **out, char *err, size_t errcap)
{
    *out = NULL;
    enum { HEAD = 8 + 16 + 4 + 1 + 4 };
    if (len < HEAD || b[0] != 1) {
        snprintf(err, errcap, "text index options: bad header");
        return QV_ECORRUPT;
    }
    qv_text_index_options o;
    qv_text_index_options_init(&o);
    o.tokenizer = (qv_text_tokenizer)b[1];
    o.lowercase = (int8_t)b[2];
    o.ascii_folding = (int8_t)b[3];
    o.phrase_matching = (int8_t)b[4];
    o.on_disk = (int8_t)b[5];
    uint8_t form = b[6];
    int8_t stem = (int8_t)b[7];
    o.min_token_len =
        (int64_t)((uint64_t)rd_u32(b + 8) | (uint64_t)rd_u32(b + 12) << 32);
    o.max_token_len =
        (int64_t)((uint64_t)rd_u32(b + 16) | (uint64_t)rd_u32(b + 20) << 32);
    uint32_t mask = rd_u32(b + 24);
    bool has_custom = b[28] != 0;
    uint32_t n_custom = rd_u32(b + 29);
    if (form > 2 || stem < -1 || stem >= QVI_STEM_LANGUAGES ||
        mask >> QVI_STOP_LANGUAGES || n_custom > (len - HEAD) / 4 ||
        (form != 2 && (has_custom || n_custom)) ||
        (form == 1 && __builtin_popcount(mask) != 1) || (!form && mask)) {
        snprintf(err, errcap, "text index options: bad fields");
        return QV_ECORRUPT;
    }
    o.stemmer_language = stem >= 0 ? qvi_stem_languages[stem] : NULL;
    const char *langs[QVI_STOP_LANGUAGES];
    size_t n_langs = 0;
    for (int i = 0; i < QVI_STOP_LANGUAGES; i++)
        if (mask >> i & 1)
            langs[n_langs++] = qvi_stop_languages[i];
    if (form == 1)
        o.stopwords_language = langs[0];
    char **words = n_custom ? calloc(n_custom, sizeof(char *)) : NULL;
    if (n_custom && !words)
        return QV_ENOMEM;
    qv_status st =
        decode_custom(b + HEAD, len - HEAD, words, n_custom, err, errcap);
    if (st == QV_OK && form == 2) {
        o.stopwords_set = 1;
        o.stopword_languages = n_langs ? langs : NULL;
        o.n_stopword_languages = n_langs;
        o.custom_stopwords = has_custom ? (const char *const *)words : NULL;
        o.n_custom_stopwords = n_custom;
        if (has_custom && !words)
            o.custom_stopwords = (const char *const *)langs; /* empty list */
    }
    if (st == QV_OK) {
        st = qvi_text_opts_new(&o, out, err, errcap);
        if (st == QV_EINVAL)
            st = QV_ECORRUPT;
    }
    for (uint32_t i = 0; words && i < n_custom; i++)
        free(words[i]);
    free(words);
    return st;
}

bool qvi_text_opts_equal(const qvi_text_opts *a, const qvi_text_opts *b)
{
    size_t na = 0, nb = 0;
    uint8_t *ea = qvi_text_opts_encode(a, &na);
    uint8_t *eb = qvi_text_opts_encode(b, &nb);
    bool eq = ea && eb && na == nb && memcmp(ea, eb, na) == 0;
    free(ea);
    free(eb);
    return eq;
}

/* ---- public ------------------------------------------------------------- */

void qv_text_language(const char *name, bool *stopwords, bool *stemmer)
{
    if (stopwords)
        *stopwords =
            find_name(qvi_stop_languages, QVI_STOP_LANGUAGES, name) >= 0;
    if (stemmer)
        *stemmer = find_name(qvi_stem_languages, QVI_STEM_LANGUAGES, name) >= 0;
}

void qv_text_index_options_init(qv_text_index_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->tokenizer = QV_TEXT_TOKENIZER_WORD;
    o->lowercase = o->ascii_folding = o->phrase_matching = o->on_disk = -1;
    o->min_token_len = o->max_token_len = -1;
    o->version = QV_TEXT_INDEX_OPTIONS_VERSION;
}

qv_status qv_text_index_options_json(const qv_text_index_options *o,
                                     char **json, char *errmsg, size_t errcap)
{
    char err[256];
    if (!o || !json)
        return QV_ENULL;
    *json = NULL;
    qvi_text_opts *t;
    qv_status st = qvi_text_opts_new(o, &t, err, sizeof(err));
    if (st == QV_EINVAL && errmsg && errcap)
        snprintf(errmsg, errcap, "%s", err);
    if (st != QV_OK)
        return st;
    *json = qvi_text_opts_json(t);
    qvi_text_opts_unref(t);
    return *json ? QV_OK : QV_ENOMEM;
}
