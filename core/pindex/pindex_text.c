/*
 * pindex_text.c -- the full-text tokenizer and token match.
 *
 * Qdrant answers `match: {text: "..."}` two ways.  Without a full-text
 * index on the key it is a substring match of the whole query
 * (filter_eval.c).  With one, the query and the payload's strings are cut
 * into tokens and lowercased, and a point matches when every query token
 * is among the point's tokens -- all strings at the key (array elements
 * included) forming one document.  `text_any` needs one query token,
 * `phrase` the query tokens consecutive and in order.  A query with no
 * token (empty, or only punctuation) matches nothing.  This file is the
 * tokenizer, shared by the index (pindex.c) and by the per-point
 * check (qvi_tq_match), so the two can never disagree.
 *
 * Tokens are Qdrant's "word" tokenizer's: maximal runs of alphanumeric
 * characters.  ASCII letters and digits are alphanumeric; so is any other
 * code point except the punctuation, symbol and space blocks listed in
 * is_separator (Latin-1 punctuation, General Punctuation, currency, arrows
 * to dingbats, CJK punctuation, fullwidth punctuation, emoji).  That is close
 * to Rust's char::is_alphanumeric for text in Latin, Greek, Cyrillic,
 * Arabic, Hebrew, Indic and CJK scripts, not identical for every symbol.
 * Bytes that are not valid UTF-8 count as letters, one byte each.
 *
 * Lowercasing covers ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic,
 * Armenian and fullwidth Latin: every mapping keeps the character's
 * encoded length, so a token and its lowercase form have the same byte
 * length and no buffer size depends on the mapping.  Characters whose
 * lowercase changes length (U+0130) or that have no simple lowercase are
 * kept as they are.  Unlike Qdrant there are no tokenizer options
 * (min/max token length, stemming, stop words, ASCII folding).
 *
 * Everything here is pure; a tokenized query (qvi_tq) is immutable and
 * may be matched from any number of threads at once.
 */
#include "core/pindex/pindex.h"

#include <stdlib.h>
#include <string.h>

/* Decodes the UTF-8 character at s[0..avail): sets *cp and returns its
 * length, or returns 1 with *cp = 0xFFFD-ish marker (-1) for an invalid
 * byte. */
static size_t decode(const unsigned char *s, size_t avail, int32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    int32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        *cp = -1;
        return 1;
    }
    if (n > avail) {
        *cp = -1;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* Overlong forms and surrogates are invalid. */
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return n;
}

static bool is_separator(int32_t cp)
{
    if (cp < 0)
        return false; /* an invalid byte counts as a letter */
    if (cp < 0x80)
        return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                 (cp >= '0' && cp <= '9'));
    if (cp <= 0xBF) {
        /* Latin-1 punctuation, except the letters and numbers in it. */
        return !(cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 ||
                 cp == 0xB9 || cp == 0xBA || (cp >= 0xBC && cp <= 0xBE));
    }
    if (cp == 0xD7 || cp == 0xF7)
        return true;
    if (cp == 0x1680 || cp == 0xFEFF)
        return true;
    if (cp >= 0x2000 && cp <= 0x206F) /* General Punctuation */
        return true;
    if (cp >= 0x20A0 && cp <= 0x20CF) /* currency symbols */
        return true;
    if (cp >= 0x2190 && cp <= 0x2BFF) /* arrows .. misc symbols */
        return true;
    if (cp >= 0x3000 && cp <= 0x303F) /* CJK punctuation */
        return !(
            (cp >= 0x3005 && cp <= 0x3007) || (cp >= 0x3021 && cp <= 0x3029) ||
            (cp >= 0x3031 && cp <= 0x3035) || (cp >= 0x3038 && cp <= 0x303C));
    if (cp >= 0xE000 && cp <= 0xF8FF) /* private use */
        return true;
    if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
        (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
        return true;
    if (cp >= 0x1F000 && cp <= 0x1FAFF) /* emoji and pictographs */
        return true;
    return false;
}

/* The lowercase of cp when it has the same encoded length, else cp. */
static int32_t lower_cp(int32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp < 0xC0)
        return cp;
    if (cp <= 0xDE)
        return cp == 0xD7 ? cp : cp + 32;
    if (cp >= 0x100 && cp <= 0x17F) {
        if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
            (cp >= 0x14A && cp <= 0x177))
            return cp | 1;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            return (cp & 1) ? cp + 1 : cp;
        if (cp == 0x178)
            return 0xFF;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 32;
    if (cp == 0x386)
        return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A)
        return cp + 37;
    if (cp == 0x38C)
        return 0x3CC;
    if (cp == 0x38E || cp == 0x38F)
        return cp + 63;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF))
        return cp | 1;
    if (cp >= 0x531 && cp <= 0x556)
        return cp + 48;
    if (cp >= 0xFF21 && cp <= 0xFF3A)
        return cp + 32;
    return cp;
}

static void encode(int32_t cp, size_t n, char *out)
{
    unsigned char *o = (unsigned char *)out;
    switch (n) {
    case 1:
        o[0] = (unsigned char)cp;
        break;
    case 2:
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        break;
    case 3:
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        break;
    default:
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    }
}

void qvi_text_lower(const char *t, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)t;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        size_t k = decode(s + i, n - i, &cp);
        if (cp < 0) {
            out[i] = t[i];
        } else {
            int32_t l = lower_cp(cp);
            if (l == cp)
                memcpy(out + i, t + i, k);
            else
                encode(l, k, out + i);
        }
        i += k;
    }
}

bool qvi_text_tokens(const char *s, size_t len,
                     bool (*tok)(void *ctx, const char *t, size_t n), void *ctx)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start = 0;
    bool in = false;
    while (i < len) {
        int32_t cp;
        size_t k = u[i] < 0x80 ? (cp = u[i], 1) : decode(u + i, len - i, &cp);
        if (is_separator(cp)) {
            if (in && tok(ctx, s + start, i - start))
                return true;
            in = false;
        } else if (!in) {
            in = true;
            start = i;
        }
        i += k;
    }
    return in && tok(ctx, s + start, len - start);
}

/* True when t[0..n) lowercases to q[0..qn) (already lowercase). */
static bool lower_equal(const char *t, size_t n, const char *q, size_t qn)
{
    if (n != qn)
        return false;
    const unsigned char *s = (const unsigned char *)t;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            unsigned char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c += 32;
            if (c != (unsigned char)q[i])
                return false;
            i++;
            continue;
        }
        int32_t cp;
        size_t k = decode(s + i, n - i, &cp);
        char b[4];
        int32_t l = cp < 0 ? cp : lower_cp(cp);
        if (l == cp)
            memcpy(b, t + i, k);
        else
            encode(l, k, b);
        if (memcmp(b, q + i, k) != 0)
            return false;
        i += k;
    }
    return true;
}

/* ---- queries ------------------------------------------------------------ */

typedef struct tq_build {
    qvi_tq *q;
    uint32_t cap;
    size_t buf_len;
    bool too_many, oom;
} tq_build;

static bool add_query_token(void *ctx, const char *t, size_t n)
{
    tq_build *b = ctx;
    qvi_tq *q = b->q;
    if (q->n == QVI_TEXT_MAX_QUERY_TOKENS) {
        b->too_many = true;
        return true;
    }
    if (q->n == b->cap) {
        uint32_t ncap = b->cap ? b->cap * 2 : 8;
        uint32_t *off = realloc(q->off, ncap * sizeof(uint32_t));
        if (off)
            q->off = off;
        uint32_t *len = off ? realloc(q->len, ncap * sizeof(uint32_t)) : NULL;
        if (len)
            q->len = len;
        if (!off || !len) {
            b->oom = true;
            return true;
        }
        b->cap = ncap;
    }
    q->off[q->n] = (uint32_t)b->buf_len;
    q->len[q->n] = (uint32_t)n;
    qvi_text_lower(t, n, q->buf + b->buf_len);
    b->buf_len += n;
    q->n++;
    return false;
}

qv_status qvi_tq_init(qvi_tq *q, qvi_tq_kind kind, const char *text, size_t len)
{
    memset(q, 0, sizeof(*q));
    q->kind = kind;
    if (len > UINT32_MAX)
        return QV_EINVAL;
    /* Tokens never take more bytes than the text. */
    q->buf = malloc(len ? len : 1);
    if (!q->buf)
        return QV_ENOMEM;
    tq_build b = {.q = q};
    qvi_text_tokens(text, len, add_query_token, &b);
    if (b.too_many || b.oom) {
        qvi_tq_free(q);
        return b.oom ? QV_ENOMEM : QV_EINVAL;
    }
    return QV_OK;
}

void qvi_tq_free(qvi_tq *q)
{
    free(q->off);
    free(q->len);
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

/* ---- matching ----------------------------------------------------------- */

#define WORDS ((QVI_TEXT_MAX_QUERY_TOKENS + 1 + 63) / 64)

typedef struct match_state {
    const qvi_tq *q;
    const qvi_payload_ops *ops;
    uint64_t found[WORDS]; /* ALL/ANY: query tokens seen; PHRASE: prefixes of
                              the phrase ending at the last token */
    uint32_t n_found;
    bool done;
} match_state;

static bool set_bit(uint64_t *w, uint32_t i)
{
    uint64_t m = 1ull << (i % 64);
    if (w[i / 64] & m)
        return false;
    w[i / 64] |= m;
    return true;
}

/* One document token against the query. */
static bool on_doc_token(void *ctx, const char *t, size_t n)
{
    match_state *m = ctx;
    const qvi_tq *q = m->q;
    if (q->kind != QVI_TQ_PHRASE) {
        for (uint32_t j = 0; j < q->n; j++) {
            if (lower_equal(t, n, q->buf + q->off[j], q->len[j]) &&
                set_bit(m->found, j)) {
                m->n_found++;
                if (q->kind == QVI_TQ_ANY || m->n_found == q->n) {
                    m->done = true;
                    return true;
                }
            }
        }
        return false;
    }
    /* Phrase: bit j+1 of the new state is set when the phrase's first j
     * tokens ended at the previous token and token j equals this one. */
    uint64_t next[WORDS] = {0};
    for (uint32_t j = 0; j < q->n; j++) {
        bool prev = j == 0 || (m->found[j / 64] >> (j % 64) & 1);
        if (prev && lower_equal(t, n, q->buf + q->off[j], q->len[j]))
            next[(j + 1) / 64] |= 1ull << ((j + 1) % 64);
    }
    memcpy(m->found, next, sizeof(next));
    if (m->found[q->n / 64] >> (q->n % 64) & 1) {
        m->done = true;
        return true;
    }
    return false;
}

static bool on_string(match_state *m, qvi_pval v)
{
    size_t len;
    const char *s = m->ops->string(v, &len);
    qvi_text_tokens(s, len, on_doc_token, m);
    return m->done;
}

static bool visit_value(void *ctx, qvi_pval v)
{
    match_state *m = ctx;
    const qvi_payload_ops *ops = m->ops;
    qvi_ptype t = ops->type(v);
    if (t == QVI_PT_STRING)
        return on_string(m, v);
    if (t == QVI_PT_ARRAY) {
        for (qvi_pval x = ops->first(v); x; x = ops->next(v, x))
            if (ops->type(x) == QVI_PT_STRING && on_string(m, x))
                return true;
    }
    return false;
}

bool qvi_tq_match(const qvi_tq *q, const qvi_payload_ops *ops, qvi_pval root)
{
    if (q->n == 0 || !root)
        return false;
    match_state m = {.q = q, .ops = ops};
    qvi_path_visit(ops, root, q->items, q->n_items, q->pool, visit_value, &m);
    return m.done;
}
