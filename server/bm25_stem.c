/*
 * bm25_stem.c -- the Snowball English stemmer ("Porter2", Martin Porter,
 * snowballstem.org/algorithms/english/stemmer.html), as Qdrant's BM25 and
 * fastembed's use it through rust-stemmers / py_rust_stemmers.
 *
 * The word is lowercase ASCII in a caller's buffer, edited in place (a
 * stem is never longer than its word).  The steps follow the published
 * algorithm one function each: the exceptional forms, R1 and R2, step 0
 * (apostrophes), 1a (plurals), 1b (-ed, -ing), 1c (y -> i), 2, 3, 4
 * (derivational suffixes by region) and 5 (final e, ll).  Within a step
 * the longest matching suffix is chosen first and then its condition
 * checked (Snowball's `among`); a suffix that fails its condition stops
 * the step, as there.  A 'Y' marks a consonant y while the word is being
 * stemmed and is turned back at the end.
 */
#include "bm25.h"

#include <stdbool.h>
#include <string.h>

typedef struct word {
    char *s;
    size_t n;  /* current length */
    size_t r1; /* start of R1 (n when empty) */
    size_t r2;
} word;

static bool vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

static bool ends(const word *w, const char *suf)
{
    size_t k = strlen(suf);
    return w->n >= k && memcmp(w->s + w->n - k, suf, k) == 0;
}

/* Replaces the suffix of length k by rep. */
static void set_to(word *w, size_t k, const char *rep)
{
    size_t r = strlen(rep);
    memcpy(w->s + w->n - k, rep, r);
    w->n = w->n - k + r;
}

/* The longest of the NULL-terminated suffixes the word ends with, or -1;
 * *k gets its length. */
static int longest(const word *w, const char *const *sufs, size_t *k)
{
    int best = -1;
    *k = 0;
    for (int i = 0; sufs[i]; i++) {
        size_t n = strlen(sufs[i]);
        if (n > *k && ends(w, sufs[i])) {
            best = i;
            *k = n;
        }
    }
    return best;
}

static bool in_r1(const word *w, size_t k)
{
    return w->n - k >= w->r1;
}

static bool in_r2(const word *w, size_t k)
{
    return w->n - k >= w->r2;
}

/* The region after the first non-vowel that follows a vowel, from at. */
static size_t region(const char *s, size_t n, size_t at)
{
    for (size_t i = at + 1; i < n; i++)
        if (!vowel(s[i]) && vowel(s[i - 1]))
            return i + 1;
    return n;
}

static void mark_regions(word *w)
{
    static const char *const pre[] = {"gener", "commun", "arsen"};
    w->r1 = (size_t)-1;
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(pre[i]);
        if (w->n >= k && memcmp(w->s, pre[i], k) == 0)
            w->r1 = k;
    }
    if (w->r1 == (size_t)-1)
        w->r1 = region(w->s, w->n, 0);
    w->r2 = w->r1 >= w->n ? w->n : region(w->s, w->n, w->r1);
    if (w->r1 > w->n)
        w->r1 = w->n;
}

/* A short syllable ending at position i (exclusive end): a vowel followed
 * by a non-vowel other than w, x, Y and preceded by a non-vowel; or a
 * vowel at the start followed by a non-vowel. */
static bool short_syllable_at_end(const word *w)
{
    const char *s = w->s;
    size_t n = w->n;
    if (n == 2)
        return vowel(s[0]) && !vowel(s[1]);
    if (n < 3)
        return false;
    char a = s[n - 3], b = s[n - 2], c = s[n - 1];
    return !vowel(a) && vowel(b) && !vowel(c) && c != 'w' && c != 'x' &&
           c != 'Y';
}

static bool is_short(const word *w)
{
    return w->r1 >= w->n && short_syllable_at_end(w);
}

static bool has_vowel(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vowel(s[i]))
            return true;
    return false;
}

/* ---- the steps ----------------------------------------------------------- */

static void step0(word *w)
{
    static const char *const sufs[] = {"'s'", "'s", "'", NULL};
    size_t k;
    if (longest(w, sufs, &k) >= 0)
        w->n -= k;
}

static void step1a(word *w)
{
    static const char *const sufs[] = {"sses", "ied", "ies", "us",
                                       "ss",   "s",   NULL};
    size_t k;
    int i = longest(w, sufs, &k);
    if (i < 0)
        return;
    const char *m = sufs[i];
    if (strcmp(m, "sses") == 0) {
        set_to(w, 4, "ss");
    } else if (strcmp(m, "ied") == 0 || strcmp(m, "ies") == 0) {
        set_to(w, 3, w->n > 4 ? "i" : "ie");
    } else if (strcmp(m, "s") == 0) {
        /* delete if a vowel comes before the letter before the s */
        if (w->n >= 3 && has_vowel(w->s, w->n - 2))
            w->n--;
    }
}

static bool ends_double(const word *w)
{
    static const char *const d[] = {"bb", "dd", "ff", "gg", "mm",
                                    "nn", "pp", "rr", "tt"};
    for (size_t i = 0; i < 9; i++)
        if (ends(w, d[i]))
            return true;
    return false;
}

static void step1b(word *w)
{
    static const char *const sufs[] = {"eed", "eedly", "ed", "edly",
                                       "ing", "ingly", NULL};
    size_t k;
    int i = longest(w, sufs, &k);
    if (i < 0)
        return;
    if (i <= 1) { /* eed, eedly */
        if (in_r1(w, k))
            set_to(w, k, "ee");
        return;
    }
    if (!has_vowel(w->s, w->n - k))
        return;
    w->n -= k;
    if (ends(w, "at") || ends(w, "bl") || ends(w, "iz"))
        set_to(w, 0, "e");
    else if (ends_double(w))
        w->n--;
    else if (is_short(w))
        set_to(w, 0, "e");
}

static void step1c(word *w)
{
    if (w->n > 2 && (w->s[w->n - 1] == 'y' || w->s[w->n - 1] == 'Y') &&
        !vowel(w->s[w->n - 2]))
        w->s[w->n - 1] = 'i';
}

static bool li_ending(char c)
{
    return strchr("cdeghkmnrt", c) != NULL;
}

static void step2(word *w)
{
    static const char *const sufs[] = {
        "tional",  "enci",    "anci",    "abli",  "entli",  "izer", "ization",
        "ational", "ation",   "ator",    "alism", "aliti",  "alli", "fulness",
        "ousli",   "ousness", "iveness", "iviti", "biliti", "bli",  "ogi",
        "fulli",   "lessli",  "li",      NULL};
    static const char *const rep[] = {
        "tion", "ence", "ance", "able", "ent", "ize", "ize",  "ate",
        "ate",  "ate",  "al",   "al",   "al",  "ful", "ous",  "ous",
        "ive",  "ive",  "ble",  "ble",  "og",  "ful", "less", ""};
    size_t k;
    int i = longest(w, sufs, &k);
    if (i < 0)
        return;
    if (!in_r1(w, k))
        return;
    if (strcmp(sufs[i], "ogi") == 0 && !(w->n > 3 && w->s[w->n - 4] == 'l'))
        return;
    if (strcmp(sufs[i], "li") == 0 && !(w->n > 2 && li_ending(w->s[w->n - 3])))
        return;
    set_to(w, k, rep[i]);
}

static void step3(word *w)
{
    static const char *const sufs[] = {"tional", "ational", "alize", "icate",
                                       "iciti",  "ical",    "ful",   "ness",
                                       "ative",  NULL};
    static const char *const rep[] = {"tion", "ate", "al", "ic", "ic",
                                      "ic",   "",    "",   ""};
    size_t k;
    int i = longest(w, sufs, &k);
    if (i < 0)
        return;
    if (!in_r1(w, k))
        return;
    if (strcmp(sufs[i], "ative") == 0 && !in_r2(w, k))
        return;
    set_to(w, k, rep[i]);
}

static void step4(word *w)
{
    static const char *const sufs[] = {"al",   "ance", "ence", "er",    "ic",
                                       "able", "ible", "ant",  "ement", "ment",
                                       "ent",  "ism",  "ate",  "iti",   "ous",
                                       "ive",  "ize",  "ion",  NULL};
    size_t k;
    int i = longest(w, sufs, &k);
    if (i < 0)
        return;
    if (!in_r2(w, k))
        return;
    if (strcmp(sufs[i], "ion") == 0 &&
        !(w->n > 3 && (w->s[w->n - 4] == 's' || w->s[w->n - 4] == 't')))
        return;
    w->n -= k;
}

static void step5(word *w)
{
    if (ends(w, "e")) {
        if (in_r2(w, 1)) {
            w->n--;
        } else if (in_r1(w, 1)) {
            w->n--;
            bool short_syl = short_syllable_at_end(w);
            if (short_syl)
                w->n++; /* keep the e after a short syllable */
        }
    } else if (ends(w, "ll") && in_r2(w, 1)) {
        w->n--;
    }
}

/* ---- exceptions ---------------------------------------------------------- */

static bool exception1(word *w)
{
    static const char *const from[] = {
        "skis",  "skies",  "dying", "lying",  "tying", "idly", "gently",
        "ugly",  "early",  "only",  "singly", "sky",   "news", "howe",
        "atlas", "cosmos", "bias",  "andes",  NULL};
    static const char *const to[] = {
        "ski",   "sky",  "die",   "lie",    "tie",   "idl",
        "gentl", "ugli", "earli", "onli",   "singl", "sky",
        "news",  "howe", "atlas", "cosmos", "bias",  "andes"};
    for (int i = 0; from[i]; i++) {
        if (w->n == strlen(from[i]) && memcmp(w->s, from[i], w->n) == 0) {
            w->n = strlen(to[i]);
            memcpy(w->s, to[i], w->n);
            return true;
        }
    }
    return false;
}

static bool exception2(const word *w)
{
    static const char *const inv[] = {"inning",  "outing",  "canning",
                                      "herring", "earring", "proceed",
                                      "exceed",  "succeed", NULL};
    for (int i = 0; inv[i]; i++)
        if (w->n == strlen(inv[i]) && memcmp(w->s, inv[i], w->n) == 0)
            return true;
    return false;
}

size_t qvs_stem_english(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return n;
    word w = {s, n, 0, 0};
    if (n <= 2)
        return n;
    if (s[0] == '\'') {
        memmove(s, s + 1, n - 1);
        w.n = --n;
    }
    if (exception1(&w))
        return w.n;
    /* y at the start or after a vowel is a consonant: Y. */
    for (size_t i = 0; i < w.n; i++)
        if (s[i] == 'y' && (i == 0 || vowel(s[i - 1])))
            s[i] = 'Y';
    mark_regions(&w);
    step0(&w);
    step1a(&w);
    if (!exception2(&w)) {
        step1b(&w);
        step1c(&w);
        step2(&w);
        step3(&w);
        step4(&w);
        step5(&w);
    }
    for (size_t i = 0; i < w.n; i++)
        if (s[i] == 'Y')
            s[i] = 'y';
    return w.n;
}
