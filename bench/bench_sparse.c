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
 * --datatype float16|uint8 types the posting values (bytes per posting
 * 6 or 5 instead of 8).  --open FILE also saves the collection to FILE
 * and times qv_snapshot_open (no verification, the file in the page
 * cache; best and median of 5): as written, with its posting lists mapped
 * (sections 36-38), and a copy of it with those sections hidden (renamed
 * to unknown kinds, resealed), whose lists are rebuilt from the rows as
 * every open did before them; both opened collections must answer the
 * queries exactly as the built one.
 *
 * Usage: bench_sparse [--n N] [--vocab V] [--doc-len L] [--zipf S]
 *                     [--queries Q] [--k K] [--seed S]
 *                     [--datatype T] [--open FILE]
 */
#include "core/core.h"
#include "core/sparse/sparse.h"
#include "persist/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

typedef struct opts {
    size_t n, vocab, doc_len, queries;
    double zipf;
    uint32_t k;
    uint64_t seed;
    uint32_t datatype;
    const char *open;
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
    *o = (opts){100000, 50000, 100, 200, 1.0, 10, 42, 0, NULL};
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
        else if (!strcmp(a, "--datatype") && !strcmp(v, "float16"))
            o->datatype = QV_DATATYPE_FLOAT16;
        else if (!strcmp(a, "--datatype") && !strcmp(v, "uint8"))
            o->datatype = QV_DATATYPE_UINT8;
        else if (!strcmp(a, "--datatype") && !strcmp(v, "float32"))
            o->datatype = QV_DATATYPE_FLOAT32;
        else if (!strcmp(a, "--open"))
            o->open = v;
        else
            return false;
    }
    return (argc % 2) == 1 && o->n && o->vocab && o->doc_len && o->queries &&
           o->k >= 1 && o->k <= QV_MAX_K;
}

/* ---- --open ----------------------------------------------------------------
 */

/* A copy of snapshot path at out with the posting sections renamed to
 * unknown, optional kinds (39-41) and the header resealed: what a file
 * without them opens as.  False on I/O failure. */
static bool hide_postings(const char *path, const char *out)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || stat(path, &sb) != 0)
        return false;
    size_t n = (size_t)sb.st_size;
    uint8_t *b = malloc(n);
    bool ok = b && fread(b, 1, n, f) == n;
    fclose(f);
    uint32_t ns = 0;
    if (ok)
        memcpy(&ns, b + 20, 4);
    for (uint32_t i = 0; ok && i < ns; i++) {
        uint8_t *e = b + QVI_SNAP_HEADER_SIZE + i * QVI_SNAP_ENTRY_SIZE;
        uint32_t k;
        memcpy(&k, e, 4);
        if (k >= QVI_SNAP_SPARSE_POSTINGS &&
            k <= QVI_SNAP_SPARSE_POSTING_VALUES) {
            k += 3;
            memcpy(e, &k, 4);
        }
    }
    if (ok) {
        size_t h = QVI_SNAP_HEADER_SIZE + ns * QVI_SNAP_ENTRY_SIZE;
        memset(b + QVI_SNAP_HEADER_SUM_AT, 0, 8);
        uint64_t sum = XXH3_64bits(b, h);
        memcpy(b + QVI_SNAP_HEADER_SUM_AT, &sum, 8);
        FILE *w = fopen(out, "wb");
        ok = w && fwrite(b, 1, n, w) == n;
        ok = (w && fclose(w) == 0) && ok;
    }
    free(b);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run(qv_collection *c, const qv_sparse_vector *qs, size_t nq,
                  bool exact, uint32_t k, qv_hit *hits, size_t *nh);

/* Opens path 5 times (after one warm-up read), prints best and median
 * milliseconds, and checks the last opened collection's answers against
 * want (ids and scores).  False on failure. */
static bool time_open(const char *label, const char *path,
                      const qv_sparse_vector *qs, size_t nq, uint32_t k,
                      const qv_hit *want, const size_t *nwant)
{
    double t[5];
    qv_collection *c = NULL;
    char err[256];
    for (int r = -1; r < 5; r++) {
        qv_collection_release(c);
        c = NULL;
        double t0 = now();
        if (qv_snapshot_open(path, 0, &c, err, sizeof(err)) != QV_OK) {
            fprintf(stderr, "bench_sparse: open %s: %s\n", path, err);
            return false;
        }
        if (r >= 0)
            t[r] = now() - t0;
    }
    qsort(t, 5, sizeof(t[0]), cmp_double);
    qv_hit *h = malloc(nq * k * sizeof(*h));
    size_t *nh = calloc(nq, sizeof(*nh));
    size_t same = 0;
    if (h && nh && run(c, qs, nq, false, k, h, nh) >= 0) {
        for (size_t i = 0; i < nq; i++) {
            bool eq = nh[i] == nwant[i];
            for (size_t j = 0; eq && j < nh[i]; j++)
                eq = qvi_id_equal(&h[i * k + j].id, &want[i * k + j].id) &&
                     h[i * k + j].score == want[i * k + j].score;
            same += eq;
        }
    }
    printf("open %-34s best %8.2f ms  median %8.2f ms  answers equal: %zu "
           "of %zu\n",
           label, t[0] * 1e3, t[2] * 1e3, same, nq);
    free(h);
    free(nh);
    qv_collection_release(c);
    return same == nq;
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
                        "L] [--zipf S] [--queries Q] [--k K] [--seed S] "
                        "[--datatype T] [--open FILE]\n");
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
    cfg.datatype = o.datatype;
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
    printf("posting lists (%s): %.2f bytes per posting (%zu bytes)\n",
           o.datatype == QV_DATATYPE_FLOAT16 ? "float16"
           : o.datatype == QV_DATATYPE_UINT8 ? "uint8"
                                             : "float32",
           postings ? (double)bytes / (double)postings : 0.0, bytes);
    bool open_ok = true;
    if (o.open) {
        char hidden[4096];
        snprintf(hidden, sizeof(hidden), "%s.rebuild", o.open);
        double t1 = now();
        if (qv_snapshot_save(c, o.open) != QV_OK ||
            !hide_postings(o.open, hidden)) {
            fprintf(stderr, "bench_sparse: cannot save %s\n", o.open);
            return 1;
        }
        printf("save: %.2f s\n", now() - t1);
        open_ok = time_open("(posting lists mapped)", o.open, qs, o.queries,
                            o.k, b, nb) &&
                  time_open("(posting lists rebuilt)", hidden, qs, o.queries,
                            o.k, b, nb);
        remove(hidden);
    }
    return same == o.queries && open_ok ? 0 : 1;
}
