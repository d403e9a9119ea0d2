/*
 * text_pipe.c -- the full-text pipeline: split, lowercase, fold, drop
 * stopwords, stem, keep by length (and cut prefixes).
 *
 * Qdrant 1.19's order (tokenizers/mod.rs, tokens_processor.rs: lowercase,
 * then stopwords, then the stemmer, then the length check in characters;
 * ASCII folding, new in 1.19, right after lowercasing so that stopwords
 * and stems see folded words).  The prefix tokenizer
 * (PrefixTokenizer::tokenize) indexes, for each processed word, its first
 * n characters for n from min_token_len (default 1) to max_token_len
 * (default unbounded), the whole word once n reaches its length; a query
 * word (tokenize_query) is processed without the stopword check -- "the"
 * must still find "theory" while it is being typed -- and cut to
 * max_token_len characters, so it equals the indexed prefix of every word
 * it begins.
 *
 * Splitting: "word" is text_split.c's; "whitespace" splits on Unicode
 * White_Space as Rust's split_whitespace; "multilingual" keeps the word
 * segments of ICU's word break iterator (letters, numbers, kana,
 * ideographs; ICU's dictionaries cut Chinese, Japanese, Thai, Lao, Khmer
 * and Burmese), run over the UTF-8 text in place (UText), so token bounds
 * are byte offsets of the input.  Qdrant uses charabia here: cuts of CJK
 * text may differ where the dictionaries do.
 *
 * Folding maps each non-ASCII character to the ASCII letters of its
 * compatibility decomposition (NFKD) less its combining marks ("ação" ->
 * "acao", "ﬁ" -> "fi"), or through a short table for the Latin letters
 * that do not decompose (ß -> ss, æ -> ae, ø -> o, ł -> l, ...); anything
 * else is kept.  ICU's Normalizer2 instances are shared and thread-safe.
 *
 * Work buffers belong to one call (a stack buffer, then the heap for long
 * tokens), and the Snowball stemmer, not shareable between threads, is
 * made on the first word that needs it and freed at the end of the call.
 */
#include "core/text/text.h"

#include <libstemmer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utext.h>

typedef struct buf {
    char *p;
    size_t cap;
    char stack[256];
} buf;

typedef struct run {
    const qvi_text_opts *o;
    bool query;
    bool (*emit)(void *ctx, const char *t, size_t n);
    void *ctx;
    struct sb_stemmer *stemmer;
    buf a, b;
    bool oom, stop;
} run;

static bool reserve(run *r, buf *b, size_t n)
{
    if (!b->p) {
        b->p = b->stack;
        b->cap = sizeof(b->stack);
    }
    if (n <= b->cap)
        return true;
    char *p = malloc(n);
    if (!p) {
        r->oom = true;
        return false;
    }
    if (b->p != b->stack)
        free(b->p);
    b->p = p;
    b->cap = n;
    return true;
}

static void buf_free(buf *b)
{
    if (b->p != b->stack)
        free(b->p);
}

static size_t char_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The byte length of the first k characters of s[0..n) (n if fewer). */
static size_t prefix_bytes(const char *s, size_t n, size_t k)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && c++ == k)
            return i;
    return n;
}

/* ---- folding ------------------------------------------------------------ */

static const struct {
    int32_t cp;
    const char *ascii;
} fold_table[] = {
    {0xC6, "AE"},  {0xD0, "D"},  {0xD8, "O"},  {0xDE, "TH"}, {0xDF, "ss"},
    {0xE6, "ae"},  {0xF0, "d"},  {0xF8, "o"},  {0xFE, "th"}, {0x110, "D"},
    {0x111, "d"},  {0x126, "H"}, {0x127, "h"}, {0x131, "i"}, {0x138, "q"},
    {0x141, "L"},  {0x142, "l"}, {0x14A, "N"}, {0x14B, "n"}, {0x152, "OE"},
    {0x153, "oe"}, {0x166, "T"}, {0x167, "t"}, {0x17F, "s"},
};

/* The ASCII form of cp into out (at most 8 bytes): its length, or 0 to
 * keep cp. */
static size_t fold_cp(int32_t cp, char out[8])
{
    for (size_t i = 0; i < sizeof(fold_table) / sizeof(fold_table[0]); i++)
        if (fold_table[i].cp == cp) {
            size_t n = strlen(fold_table[i].ascii);
            memcpy(out, fold_table[i].ascii, n);
            return n;
        }
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nfkd = unorm2_getNFKDInstance(&e);
    UChar d[32];
    int32_t n =
        U_SUCCESS(e) ? unorm2_getDecomposition(nfkd, cp, d, 32, &e) : -1;
    if (n <= 0 || U_FAILURE(e))
        return 0;
    size_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (d[i] < 0x80 && k < 8)
            out[k++] = (char)d[i];
        else if (u_getCombiningClass(d[i]) == 0 &&
                 u_charType(d[i]) != U_NON_SPACING_MARK)
            return 0; /* a letter that does not fold */
    }
    return k;
}

/* Folds t[0..n) into r->b. */
static bool fold(run *r, const char *t, size_t n, size_t *out_n)
{
    if (!reserve(r, &r->b, 2 * n + 8))
        return false;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *s = (const unsigned char *)t + i;
        int32_t cp;
        size_t k =
            s[0] < 0x80 ? (cp = s[0], 1) : qvi_utf8_decode(s, n - i, &cp);
        char a[8];
        size_t m = cp >= 0x80 ? fold_cp(cp, a) : 0;
        if (w + (m ? m : k) + 8 > r->b.cap &&
            !reserve(r, &r->b, 2 * (w + m + k + 8)))
            return false;
        if (m)
            memcpy(r->b.p + w, a, m);
        else
            memcpy(r->b.p + w, t + i, k);
        w += m ? m : k;
        i += k;
    }
    *out_n = w;
    return true;
}

/* ---- one word ----------------------------------------------------------- */

static int cmp_token(const char *t, size_t n, const char *w)
{
    int c = strncmp(t, w, n);
    if (c)
        return c;
    return w[n] ? -1 : 0;
}

static bool is_stopword(const qvi_text_opts *o, const char *t, size_t n)
{
    if (memchr(t, 0, n))
        return false;
    uint32_t lo = 0, hi = o->n_stops;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_token(t, n, o->stops[mid]);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

static bool emit_checked(run *r, const char *t, size_t n)
{
    const qvi_text_opts *o = r->o;
    if (o && (o->min_len >= 0 || o->max_len >= 0)) {
        size_t c = char_count(t, n);
        if ((o->min_len >= 0 && c < (size_t)o->min_len) ||
            (o->max_len >= 0 && c > (size_t)o->max_len))
            return false;
    }
    if (n && r->emit(r->ctx, t, n))
        r->stop = true;
    return r->stop;
}

static bool emit_prefixes(run *r, const char *t, size_t n)
{
    const qvi_text_opts *o = r->o;
    size_t max = o->max_len >= 0 ? (size_t)o->max_len : SIZE_MAX;
    if (r->query)
        return emit_checked(r, t, prefix_bytes(t, n, max));
    size_t chars = char_count(t, n);
    for (size_t k = o->min_len > 0 ? (size_t)o->min_len : 1; k <= max; k++) {
        if (k >= chars)
            return emit_checked(r, t, n);
        if (emit_checked(r, t, prefix_bytes(t, n, k)))
            return true;
    }
    return false;
}

static const char *stem(run *r, const char *t, size_t *n)
{
    if (*n > INT32_MAX)
        return t;
    if (!r->stemmer &&
        !(r->stemmer = sb_stemmer_new(qvi_stem_languages[r->o->stem], NULL))) {
        r->oom = true;
        return NULL;
    }
    const sb_symbol *s =
        sb_stemmer_stem(r->stemmer, (const sb_symbol *)t, (int)*n);
    if (!s) {
        r->oom = true;
        return NULL;
    }
    *n = (size_t)sb_stemmer_length(r->stemmer);
    return (const char *)s;
}

/* One word of the splitter through the rest of the pipeline. */
static bool on_word(void *ctx, const char *t, size_t n)
{
    run *r = ctx;
    const qvi_text_opts *o = r->o;
    if (!o || o->lowercase != 0) {
        if (!reserve(r, &r->a, n))
            return true;
        qvi_text_lower(t, n, r->a.p);
        t = r->a.p;
    }
    if (!o)
        return emit_checked(r, t, n);
    if (o->ascii_folding == 1) {
        if (!fold(r, t, n, &n))
            return true;
        t = r->b.p;
    }
    bool prefix = o->tokenizer == QV_TEXT_TOKENIZER_PREFIX;
    if (o->n_stops && !(prefix && r->query) && is_stopword(o, t, n))
        return false;
    if (o->stem >= 0 && !(t = stem(r, t, &n)))
        return true;
    return prefix ? emit_prefixes(r, t, n) : emit_checked(r, t, n);
}

/* ---- splitters ---------------------------------------------------------- */

/* Unicode White_Space, as Rust's char::is_whitespace. */
static bool is_space(int32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

static void split_whitespace(run *r, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start = 0;
    bool in = false;
    while (i < len) {
        int32_t cp;
        size_t k =
            u[i] < 0x80 ? (cp = u[i], 1) : qvi_utf8_decode(u + i, len - i, &cp);
        if (is_space(cp)) {
            if (in && on_word(r, s + start, i - start))
                return;
            in = false;
        } else if (!in) {
            in = true;
            start = i;
        }
        i += k;
    }
    if (in)
        on_word(r, s + start, len - start);
}

static void split_multilingual(run *r, const char *s, size_t len)
{
    UErrorCode e = U_ZERO_ERROR;
    if (len > INT64_MAX)
        return;
    UText *ut = utext_openUTF8(NULL, s, (int64_t)len, &e);
    UBreakIterator *bi = ubrk_open(UBRK_WORD, "", NULL, 0, &e);
    if (U_SUCCESS(e))
        ubrk_setUText(bi, ut, &e);
    if (U_FAILURE(e)) {
        r->oom = true;
        goto cleanup;
    }
    int32_t a = ubrk_first(bi);
    for (int32_t b = ubrk_next(bi); b != UBRK_DONE; a = b, b = ubrk_next(bi))
        if (ubrk_getRuleStatus(bi) >= UBRK_WORD_NONE_LIMIT &&
            on_word(r, s + a, (size_t)(b - a)))
            break;
cleanup:
    if (bi)
        ubrk_close(bi);
    utext_close(ut);
}

qv_status qvi_text_analyze(const qvi_text_opts *o, bool query, const char *s,
                           size_t len,
                           bool (*emit)(void *ctx, const char *t, size_t n),
                           void *ctx)
{
    run r = {.o = o, .query = query, .emit = emit, .ctx = ctx};
    switch (o ? o->tokenizer : QV_TEXT_TOKENIZER_WORD) {
    case QV_TEXT_TOKENIZER_WHITESPACE:
        split_whitespace(&r, s, len);
        break;
    case QV_TEXT_TOKENIZER_MULTILINGUAL:
        split_multilingual(&r, s, len);
        break;
    default:
        qvi_text_tokens(s, len, on_word, &r);
        break;
    }
    if (r.stemmer)
        sb_stemmer_delete(r.stemmer);
    buf_free(&r.a);
    buf_free(&r.b);
    return r.oom ? QV_ENOMEM : QV_OK;
}

/* ---- public ------------------------------------------------------------- */

/* Both public forms: options checked and compiled, then one run. */
static qv_status tokenize(const qv_text_index_options *o, bool query,
                          const char *text, size_t len,
                          bool (*tok)(void *ctx, const char *t, size_t n),
                          void *ctx, char *errmsg, size_t errcap)
{
    if (!tok || (!text && len))
        return QV_ENULL;
    char err[256];
    qvi_text_opts *t = NULL;
    if (o) {
        qv_status st = qvi_text_opts_new(o, &t, err, sizeof(err));
        if (st == QV_EINVAL && errmsg && errcap)
            snprintf(errmsg, errcap, "%s", err);
        if (st != QV_OK)
            return st;
    }
    qv_status st = qvi_text_analyze(t, query, text ? text : "", len, tok, ctx);
    qvi_text_opts_unref(t);
    return st;
}

qv_status qv_text_tokenize(const qv_text_index_options *o, const char *text,
                           size_t len,
                           bool (*tok)(void *ctx, const char *t, size_t n),
                           void *ctx, char *errmsg, size_t errcap)
{
    return tokenize(o, false, text, len, tok, ctx, errmsg, errcap);
}

qv_status qv_text_tokenize_query(const qv_text_index_options *o,
                                 const char *text, size_t len,
                                 bool (*tok)(void *ctx, const char *t,
                                             size_t n),
                                 void *ctx, char *errmsg, size_t errcap)
{
    return tokenize(o, true, text, len, tok, ctx, errmsg, errcap);
}
