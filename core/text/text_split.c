/*
 * text_split.c -- the word tokenizer and the case mapping of full text.
 *
 * Tokens are Qdrant's "word" tokenizer's: maximal runs of alphanumeric
 * characters (Qdrant splits on !char::is_alphanumeric, tokenizers/mod.rs).
 * ASCII letters and digits are alphanumeric; so is any other code point
 * except the punctuation, symbol and space blocks listed in is_separator
 * (Latin-1 punctuation, General Punctuation, currency, arrows to dingbats,
 * CJK punctuation, fullwidth punctuation, emoji).  That is close to Rust's
 * char::is_alphanumeric for text in Latin, Greek, Cyrillic, Arabic,
 * Hebrew, Indic and CJK scripts, not identical for every symbol.  Bytes
 * that are not valid UTF-8 count as letters, one byte each.
 *
 * Lowercasing covers ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic,
 * Armenian and fullwidth Latin: every mapping keeps the character's
 * encoded length, so a token and its lowercase form have the same byte
 * length and no buffer size depends on the mapping.  Characters whose
 * lowercase changes length (U+0130) or that have no simple lowercase are
 * kept as they are.
 *
 * Everything here is pure and thread-safe.
 */
#include "core/text/text.h"

#include <string.h>

/* Decodes the UTF-8 character at s[0..avail): sets *cp and returns its
 * length, or returns 1 with *cp = 0xFFFD-ish marker (-1) for an invalid
 * byte. */
size_t qvi_utf8_decode(const unsigned char *s, size_t avail, int32_t *cp)
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

bool qvi_text_is_separator(int32_t cp)
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
int32_t qvi_text_lower_cp(int32_t cp)
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

void qvi_utf8_encode(int32_t cp, size_t n, char *out)
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
        size_t k = qvi_utf8_decode(s + i, n - i, &cp);
        if (cp < 0) {
            out[i] = t[i];
        } else {
            int32_t l = qvi_text_lower_cp(cp);
            if (l == cp)
                memcpy(out + i, t + i, k);
            else
                qvi_utf8_encode(l, k, out + i);
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
        size_t k =
            u[i] < 0x80 ? (cp = u[i], 1) : qvi_utf8_decode(u + i, len - i, &cp);
        if (qvi_text_is_separator(cp)) {
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
