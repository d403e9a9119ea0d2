/*
 * text.h -- internal interface of the full-text pipeline.
 *
 * One pipeline turns a string into the tokens a full-text index holds and
 * a query looks up, so that the index (../pindex/pindex.c), the per-point
 * token match (../pindex/pindex_text.c) and any other tokenizing caller
 * (qv_text_tokenize, for BM25) can never disagree.  The steps, in Qdrant
 * 1.19's order (lib/segment/src/index/field_index/full_text_index/
 * tokenizers/mod.rs and tokens_processor.rs):
 *
 *   split      word (text_split.c), whitespace, multilingual (ICU word
 *              break) or prefix (words, then their prefixes)
 *   lowercase  (on by default) length-keeping case mapping
 *   fold       ascii_folding: ICU compatibility decomposition without the
 *              combining marks, and a table for the letters that do not
 *              decompose (ß, æ, ø, ł, ...)
 *   stopwords  built-in lists (stopwords.c) and custom words
 *   stem       Snowball (libstemmer)
 *   length     tokens under min_token_len or over max_token_len characters
 *              are dropped
 *
 * The parts: text_split.c (UTF-8, word splitting, case), text_opts.c (the
 * options: validation, Qdrant's params JSON, the persisted encoding),
 * text_pipe.c (the pipeline), stopwords.c (the lists).
 *
 * A qvi_text_opts is immutable once made and reference-counted (atomic),
 * so a query can keep the options of the index it was built against while
 * the index is replaced.  Everything here is thread-safe: a stemmer is
 * made per call (libstemmer's are not shareable).
 *
 * This folder is a leaf: it includes only core/base/ and quiver.h.
 */
#ifndef QUIVER_TEXT_H
#define QUIVER_TEXT_H

#include "core/base/base.h"

/* ---- UTF-8, the word splitter and case (text_split.c) ---------------- */

/* Decodes the UTF-8 character at s[0..avail): sets *cp and returns its
 * length, or returns 1 with *cp = -1 for an invalid byte. */
size_t qvi_utf8_decode(const unsigned char *s, size_t avail, int32_t *cp);
/* Writes cp as n bytes of UTF-8 (n is its encoded length). */
void qvi_utf8_encode(int32_t cp, size_t n, char *out);
bool qvi_text_is_separator(int32_t cp);
/* The lowercase of cp when it has the same encoded length, else cp. */
int32_t qvi_text_lower_cp(int32_t cp);

/* Calls tok(ctx, start, len) for each token of s[0..len): runs of letters
 * and digits (Unicode-aware: non-ASCII letters count, punctuation and
 * symbols split), as Qdrant's default "word" tokenizer.  Stops early and
 * returns true when tok does. */
bool qvi_text_tokens(const char *s, size_t len,
                     bool (*tok)(void *ctx, const char *t, size_t n),
                     void *ctx);
/* Writes the lowercase form of the token t[0..n) to out (n bytes: the
 * case mappings used keep every character's encoded length). */
void qvi_text_lower(const char *t, size_t n, char *out);

/* ---- options (text_opts.c) ------------------------------------------- */

typedef struct qvi_text_opts {
    uint32_t refs;
    uint8_t tokenizer; /* qv_text_tokenizer */
    int8_t lowercase, ascii_folding, phrase_matching, on_disk; /* -1 unset */
    int64_t min_len, max_len;                                  /* -1 unset */
    uint8_t stop_form;   /* 0 none, 1 one language name, 2 a set */
    uint32_t stop_langs; /* bit i: qvi_stop_languages[i] */
    bool has_custom;     /* the set's "custom" is present */
    char **custom;       /* as given, sorted and unique (Qdrant's BTreeSet) */
    uint32_t n_custom;
    int8_t stem; /* index in qvi_stem_languages, or -1 */
    /* The stopword lookup: every word (custom ones lowercased when
     * lowercase is on), sorted by bytes. */
    const char **stops;
    uint32_t n_stops;
    char *pool;
} qvi_text_opts;

/* Qdrant's Language enum and SnowballLanguage enum, in their order. */
#define QVI_STOP_LANGUAGES 30
extern const char *const qvi_stop_languages[QVI_STOP_LANGUAGES];
#define QVI_STEM_LANGUAGES 19
extern const char *const qvi_stem_languages[QVI_STEM_LANGUAGES];

/* The built-in stopword list of language i (stopwords.c): *n words, or
 * NULL when Quiver has no list for it yet. */
const char *const *qvi_stopwords_of(uint32_t i, size_t *n);

/* Validates o and makes its options (refs = 1).  QV_OK, QV_EINVAL (err,
 * errcap bytes, gets Qdrant's message) or QV_ENOMEM. */
qv_status qvi_text_opts_new(const qv_text_index_options *o, qvi_text_opts **out,
                            char *err, size_t errcap);
qvi_text_opts *qvi_text_opts_ref(qvi_text_opts *o);
/* Drops a reference, freeing o with the last; NULL is ignored. */
void qvi_text_opts_unref(qvi_text_opts *o);

/* Qdrant's params JSON of o (NULL: the defaults), NUL-terminated, in a new
 * allocation (free()), or NULL when out of memory. */
char *qvi_text_opts_json(const qvi_text_opts *o);

/* The persisted encoding of o (docs/WAL.md, docs/FORMAT.md): written to a
 * new allocation (free()) of *len bytes; NULL when out of memory. */
uint8_t *qvi_text_opts_encode(const qvi_text_opts *o, size_t *len);
/* Reads an encoding back (validated as qvi_text_opts_new does).  QV_OK,
 * QV_ECORRUPT (err gets why) or QV_ENOMEM. */
qv_status qvi_text_opts_decode(const uint8_t *b, size_t len,
                               qvi_text_opts **out, char *err, size_t errcap);
/* True when a and b (NULL: the defaults) define the same index. */
bool qvi_text_opts_equal(const qvi_text_opts *a, const qvi_text_opts *b);

/* ---- the pipeline (text_pipe.c) -------------------------------------- */

/* Runs the pipeline of o (NULL: the defaults) on s[0..len): the document
 * form, or the query form (query: the prefix tokenizer cuts each word to
 * max_token_len and drops no stopword).  emit(ctx, token, n) gets each
 * token kept, in order, valid during the call; the run stops when emit
 * returns true.  QV_OK or QV_ENOMEM. */
qv_status qvi_text_analyze(const qvi_text_opts *o, bool query, const char *s,
                           size_t len,
                           bool (*emit)(void *ctx, const char *t, size_t n),
                           void *ctx);

#endif /* QUIVER_TEXT_H */
