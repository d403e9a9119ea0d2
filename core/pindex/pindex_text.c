/*
 * pindex_text.c -- the full-text query and token match.
 *
 * Qdrant answers `match: {text: "..."}` two ways.  Without a full-text
 * index on the key it is a substring match of the whole query
 * (filter_eval.c).  With one, the query and the payload's strings are cut
 * into tokens, and a point matches when every query token
 * is among the point's tokens -- all strings at the key (array elements
 * included) forming one document.  `text_any` needs one query token,
 * `phrase` the query tokens consecutive and in order.  A query with no
 * token (empty, only punctuation, only stopwords) matches nothing.  The
 * index (pindex.c) and the per-point check here (qvi_tq_match) run the
 * same pipeline, so the two can never disagree.
 *
 * The tokens are those of the key's index pipeline (../text/: its
 * tokenizer, lowercase, folding, stopwords, stemmer and lengths; the
 * defaults when the index has no options), the query text going through
 * the pipeline's query form: a document token and a query token match
 * when their bytes are equal.
 *
 * Everything here is pure; a tokenized query (qvi_tq) is immutable (it
 * holds a reference on its options) and may be matched from any number of
 * threads at once: the pipeline keeps its stemmer per call.
 */
#include "core/pindex/pindex.h"

#include <stdlib.h>
#include <string.h>

/* ---- queries ------------------------------------------------------------ */

typedef struct tq_build {
    qvi_tq *q;
    uint32_t cap;
    size_t buf_len, buf_cap;
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
    if (n > UINT32_MAX - b->buf_len) {
        b->too_many = true;
        return true;
    }
    if (b->buf_len + n > b->buf_cap) {
        size_t ncap = 2 * (b->buf_len + n);
        char *buf = realloc(q->buf, ncap);
        if (!buf) {
            b->oom = true;
            return true;
        }
        q->buf = buf;
        b->buf_cap = ncap;
    }
    q->off[q->n] = (uint32_t)b->buf_len;
    q->len[q->n] = (uint32_t)n;
    memcpy(q->buf + b->buf_len, t, n);
    b->buf_len += n;
    q->n++;
    return false;
}

qv_status qvi_tq_init(qvi_tq *q, qvi_tq_kind kind, qvi_text_opts *opts,
                      const char *text, size_t len)
{
    memset(q, 0, sizeof(*q));
    q->kind = kind;
    if (len > UINT32_MAX)
        return QV_EINVAL;
    q->opts = qvi_text_opts_ref(opts);
    tq_build b = {.q = q};
    qv_status st = qvi_text_analyze(opts, true, text, len, add_query_token, &b);
    if (st != QV_OK || b.too_many || b.oom) {
        qvi_tq_free(q);
        return st != QV_OK || b.oom ? QV_ENOMEM : QV_EINVAL;
    }
    return QV_OK;
}

void qvi_tq_free(qvi_tq *q)
{
    free(q->off);
    free(q->len);
    free(q->buf);
    qvi_text_opts_unref(q->opts);
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

static bool token_equal(const char *t, size_t n, const qvi_tq *q, uint32_t j)
{
    return n == q->len[j] && memcmp(t, q->buf + q->off[j], n) == 0;
}

/* One document token against the query. */
static bool on_doc_token(void *ctx, const char *t, size_t n)
{
    match_state *m = ctx;
    const qvi_tq *q = m->q;
    if (q->kind != QVI_TQ_PHRASE) {
        for (uint32_t j = 0; j < q->n; j++) {
            if (token_equal(t, n, q, j) && set_bit(m->found, j)) {
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
        if (prev && token_equal(t, n, q, j))
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
    /* Out of memory mid-string: the tokens seen so far decide. */
    (void)qvi_text_analyze(m->q->opts, false, s, len, on_doc_token, m);
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
