/*
 * bm25.h -- Qdrant's server-side BM25 "inference" (model qdrant/bm25):
 * text into a sparse vector, with no embedding service.
 *
 *   bm25.c  the library's text pipeline (qv_text_tokenize: tokenizer,
 *           lowercase, ASCII folding, stopwords, Snowball stemmer, token
 *           lengths), each token hashed to an index and weighed by BM25's
 *           term frequency part; the Document JSON and its options
 *
 * The IDF half of BM25 is the collection's: a sparse vector created with
 * "modifier": "idf" multiplies each query value by its dimension's IDF at
 * search time (core/sparse/sparse_search.c).
 */
#ifndef QUIVER_SERVER_BM25_H
#define QUIVER_SERVER_BM25_H

#include "api.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BM25 options (Qdrant's Bm25Config): k, b, avg_len and the text
 * preprocessing (TextPreprocessingConfig) as full-text index options;
 * strings point into the request's JSON. */
typedef struct qvs_bm25_opts {
    double k;                     /* default 1.2 */
    double b;                     /* default 0.75 */
    double avg_len;               /* default 256 */
    qv_text_index_options text;   /* default: word tokenizer, lowercase,
                                     "english" stopwords and stemmer */
    const char **langs, **custom; /* arrays text points to (owned) */
} qvs_bm25_opts;

void qvs_bm25_opts_init(qvs_bm25_opts *o);
void qvs_bm25_opts_free(qvs_bm25_opts *o);

/* A sparse embedding: n (index, value) pairs, indices unique, ascending. */
typedef struct qvs_bm25_vec {
    uint32_t *indices;
    float *values;
    uint32_t n;
} qvs_bm25_vec;

void qvs_bm25_vec_free(qvs_bm25_vec *v);

/* The document embedding of text (len bytes): each distinct token's index
 * gets tf * (k + 1) / (tf + k * (1 - b + b * doc_len / avg_len)), doc_len
 * the number of tokens kept.  query: every distinct token gets 1.0
 * instead.  QV_OK, QV_EINVAL (bad text options: err gets Qdrant-style
 * words) or QV_ENOMEM. */
qv_status qvs_bm25_embed(const char *text, size_t len, const qvs_bm25_opts *o,
                         bool query, qvs_bm25_vec *out, char *err,
                         size_t errcap);

/* The index of a token: |MurmurHash3_x86_32(token, seed 0)| taken as a
 * signed 32-bit value, as fastembed's compute_token_id (abs(mmh3.hash)). */
uint32_t qvs_bm25_token_id(const char *tok, size_t len);

/* MurmurHash3_x86_32 (Austin Appleby's public-domain algorithm). */
uint32_t qvs_murmur3_32(const void *key, size_t len, uint32_t seed);

/* True when j is a Document object ({"text", "model"}). */
bool qvs_bm25_is_document(const cJSON *j);

/* Embeds the Document j ({"text", "model": "qdrant/bm25", "options"?})
 * into *out; where names it in messages.  Fails into r: another model
 * (400: no inference service), a bad option (400/422). */
bool qvs_bm25_document(const cJSON *j, bool query, qvs_bm25_vec *out,
                       qvs_resp *r, const char *where);

#endif /* QUIVER_SERVER_BM25_H */
