/*
 * bench_sparse.c -- sparse search: the inverted index against the exact
 * scan, on a BM25-like corpus.
 *
 * The corpus is generated, seeded (xorshift), never from the clock: --n
 * documents of about --doc-len words drawn from a Zipf distribution of
 * exponent --zipf over --vocab words (rank r has weight 1 / r^s, as word
 * frequencies in English text roughly do).  Each document becomes a
 * sparse vector of its distinct words with BM25 term weights (k 1.2,
 * b 0.75, avg_len the mean length), in a collection with the idf modifier
 * -- what the qdrant/bm25 model stores.  Queries are 2 to 5 distinct words
 * drawn from the same distribution (a query, like a document, is mostly
 * frequent words with some rare ones) with weight 1.
 *
 * It reports, single-threaded: queries per second of the exact scan
 * (params.exact) and of the posting lists, their ratio, whether every
 * top-k answer was identical (ids and scores), the posting lists' memory
 * per posting and the build time.  Timings belong here, never in tests.
 *
 * Usage: bench_sparse [--n N] [--vocab V] [--doc-len L] [--zipf S]
 *                     [--queries Q] [--k K] [--seed S]
 */
#include "core/core.h"
#include "core/sparse/sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct opts {
    size_t n, vocab, doc_len, queries;
    double zipf;
    uint32_t k;
    uint64_t seed;
} opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double uniform(uint64_t *s)
{
    return (double)(rng(s) >> 11) / 9007199254740992.0;
}

/* Cumulative Zipf weights over ranks 1..v. */
static double *zipf_table(size_t v, double s)
{
    double *c = malloc(v * sizeof(*c));
    double acc = 0;
    for (size_t i = 0; c && i < v; i++) {
        acc += 1.0 / pow((double)(i + 1), s);
        c[i] = acc;
    }
    for (size_t i = 0; c && i < v; i++)
        c[i] /= acc;
    return c;
}

static uint32_t draw(const double *cum, size_t v, uint64_t *s)
{
    double u = uniform(s);
    size_t lo = 0, hi = v - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One document: len words, sorted, folded into (word, BM25 weight). */
static uint32_t make_doc(const opts *o, const double *cum, uint64_t *s,
                         uint32_t *words, uint32_t *idx, float *val)
{
    size_t len = o->doc_len / 2 + rng(s) % (o->doc_len + 1);
    if (len == 0)
        len = 1;
    for (size_t i = 0; i < len; i++)
        words[i] = draw(cum, o->vocab, s);
    qsort(words, len, sizeof(*words), cmp_u32);
    uint32_t m = 0;
    double norm = 1.2 * (1 - 0.75 + 0.75 * (double)len / (double)o->doc_len);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && words[j] == words[i])
            j++;
        double tf = (double)(j - i);
        idx[m] = words[i];
        val[m++] = (float)(tf * 2.2 / (tf + norm));
        i = j;
    }
    return m;
}

static bool parse(int argc, char **argv, opts *o)
{
    *o = (opts){100000, 50000, 100, 200, 1.0, 10, 42};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--n"))
            o->n = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--vocab"))
            o->vocab = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--doc-len"))
            o->doc_len = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--zipf"))
            o->zipf = strtod(v, NULL);
        else if (!strcmp(a, "--queries"))
            o->queries = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--k"))
            o->k = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10) | 1;
        else
            return false;
    }
    return (argc % 2) == 1 && o->n && o->vocab && o->doc_len && o->queries &&
           o->k >= 1 && o->k <= QV_MAX_K;
}

/* Searches every query once; returns the seconds taken. */
static double run(qv_collection *c, const qv_sparse_vector *qs, size_t nq,
                  bool exact, uint32_t k, qv_hit *hits, size_t *nh)
{
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = k;
    p.exact = exact;
    double t0 = now();
    for (size_t i = 0; i < nq; i++)
        if (qv_sparse_search(c, &qs[i], &p, hits + i * k, &nh[i]) != QV_OK)
            return -1;
    return now() - t0;
}

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_sparse [--n N] [--vocab V] [--doc-len "
                        "L] [--zipf S] [--queries Q] [--k K] [--seed S]\n");
        return 2;
    }
    uint64_t s = o.seed;
    double *cum = zipf_table(o.vocab, o.zipf);
    uint32_t *words = malloc(2 * o.doc_len * sizeof(*words) + 4);
    uint32_t *idx = malloc(2 * o.doc_len * sizeof(*idx) + 4);
    float *val = malloc(2 * o.doc_len * sizeof(*val) + 4);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.kind = QV_VECTOR_SPARSE;
    cfg.sparse_modifier = QV_SPARSE_MODIFIER_IDF;
    qv_collection *c = NULL;
    if (!cum || !words || !idx || !val ||
        qv_collection_create(&cfg, &c) != QV_OK)
        return 1;
    double t0 = now();
    for (size_t d = 0; d < o.n; d++) {
        uint32_t m = make_doc(&o, cum, &s, words, idx, val);
        qv_point_id id = qv_id_from_num(d);
        qv_sparse_vector v = {idx, val, m};
        if (qv_sparse_upsert(c, &id, &v, 1, NULL, NULL) != QV_OK)
            return 1;
    }
    double build = now() - t0;
    qv_sparse_vector *qs = calloc(o.queries, sizeof(*qs));
    float ones[5] = {1, 1, 1, 1, 1};
    for (size_t i = 0; i < o.queries; i++) {
        uint32_t *qi = malloc(5 * sizeof(*qi));
        uint32_t m = 2 + (uint32_t)(rng(&s) % 4);
        for (uint32_t j = 0; j < m; j++) {
            qi[j] = draw(cum, o.vocab, &s);
            for (uint32_t q = 0; q < j; q++)
                if (qi[q] == qi[j]) {
                    j--; /* draw again: indices must be unique */
                    break;
                }
        }
        qs[i] = (qv_sparse_vector){qi, ones, m};
    }
    qv_hit *a = malloc(o.queries * o.k * sizeof(*a));
    qv_hit *b = malloc(o.queries * o.k * sizeof(*b));
    size_t *na = calloc(o.queries, sizeof(*na)),
           *nb = calloc(o.queries, sizeof(*nb));
    double t_exact = run(c, qs, o.queries, true, o.k, a, na);
    double t_index = run(c, qs, o.queries, false, o.k, b, nb);
    size_t same = 0;
    for (size_t i = 0; i < o.queries; i++) {
        bool eq = na[i] == nb[i];
        for (size_t j = 0; eq && j < na[i]; j++)
            eq = qvi_id_equal(&a[i * o.k + j].id, &b[i * o.k + j].id) &&
                 a[i * o.k + j].score == b[i * o.k + j].score;
        same += eq;
    }
    uint64_t vectors = 0, postings = 0;
    qv_sparse_stats(c, &vectors, &postings);
    size_t bytes = qvi_sparse_posting_bytes(c->sparse);
    printf("sparse corpus: %zu docs, vocab %zu, doc_len ~%zu, zipf %.2f, "
           "%llu postings, build %.2f s\n",
           o.n, o.vocab, o.doc_len, o.zipf, (unsigned long long)postings,
           build);
    printf("exact scan:     %10.1f QPS\n", (double)o.queries / t_exact);
    printf("inverted index: %10.1f QPS  (%.1fx the scan)\n",
           (double)o.queries / t_index, t_exact / t_index);
    printf("top-%u equal to exact: %zu of %zu queries\n", o.k, same, o.queries);
    printf("posting lists: %.2f bytes per posting (%zu bytes)\n",
           postings ? (double)bytes / (double)postings : 0.0, bytes);
    return same == o.queries ? 0 : 1;
}
