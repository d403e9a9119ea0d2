/*
 * harness_gt.c -- exact ground truth and recall for `quiver bench`.
 *
 * The ground truth is computed here, with OpenBLAS directly, rather than
 * through Quiver's own exact search: the oracle that scores Quiver should
 * not share Quiver's code.  It is the usual two-step exact search:
 *  1. Candidates: for a block of queries against a block of base vectors,
 *     one sgemm gives all dot products; the rank key is |x|^2 - 2 q.x for l2
 *     (|q|^2 is the same for every x of a query) and -q.x for cosine (data
 *     unit-normalised) and ip.  Each query keeps its best 2k + 8 keys in a
 *     bounded max-heap.
 *  2. Rescoring: the candidates are scored again in double precision from
 *     the vectors themselves and sorted, ties to the lower id; the first k
 *     are the answer.  Float rounding in the sgemm (|x|^2 and 2 q.x are
 *     large and nearly cancel for l2) can reorder near neighbours in step
 *     1; the spare candidates let step 2 put them right.
 */
#include "harness.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    double key; /* lower is better */
    int32_t id;
} cand;

/* a is worse than b: larger key, or the same key and a larger id. */
static int worse(const cand *a, const cand *b)
{
    return a->key > b->key || (a->key == b->key && a->id > b->id);
}

/* Bounded max-heap of the `cap` best candidates (the worst at the root). */
static void heap_offer(cand *h, size_t *len, size_t cap, cand c)
{
    size_t i;
    if (*len < cap) {
        i = (*len)++;
        while (i > 0 && worse(&c, &h[(i - 1) / 2])) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = c;
        return;
    }
    if (!worse(&h[0], &c))
        return;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const cand *big = &c;
        if (l < cap && worse(&h[l], big)) {
            m = l;
            big = &h[l];
        }
        if (r < cap && worse(&h[r], big))
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = c;
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

static double exact_key(const float *q, const float *x, uint32_t dim,
                        qvb_metric metric)
{
    double s = 0;
    if (metric == QVB_METRIC_L2) {
        for (uint32_t j = 0; j < dim; j++) {
            double d = (double)q[j] - x[j];
            s += d * d;
        }
        return s;
    }
    for (uint32_t j = 0; j < dim; j++)
        s += (double)q[j] * x[j];
    return -s;
}

int qvb_ground_truth(const float *base, size_t n, const float *queries,
                     size_t nq, uint32_t dim, qvb_metric metric, uint32_t k,
                     int32_t *out, qvb_err *err)
{
    enum { QB = 512, BB = 2048 };
    int rc = -1;
    if (k == 0 || k > n)
        return qvb_fail(err, "ground truth: k = %u with %zu points", k, n);
    size_t cap = 2 * (size_t)k + 8;
    if (cap > n)
        cap = n;
    float *norms = malloc(n * sizeof *norms + 1);
    float *prod = malloc((size_t)QB * BB * sizeof *prod);
    cand *heaps = malloc((size_t)QB * cap * sizeof *heaps);
    size_t *lens = malloc(QB * sizeof *lens);
    if (!norms || !prod || !heaps || !lens) {
        qvb_fail(err, "ground truth: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (uint32_t j = 0; j < dim; j++)
            s += (double)base[i * dim + j] * base[i * dim + j];
        norms[i] = metric == QVB_METRIC_L2 ? (float)s : 0.0f;
    }
    for (size_t q0 = 0; q0 < nq; q0 += QB) {
        size_t qn = nq - q0 < QB ? nq - q0 : QB;
        memset(lens, 0, QB * sizeof *lens);
        for (size_t b0 = 0; b0 < n; b0 += BB) {
            size_t bn = n - b0 < BB ? n - b0 : BB;
            /* prod[i][j] = q_i . x_j */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn,
                        (int)bn, (int)dim, 1.0f, queries + q0 * dim, (int)dim,
                        base + b0 * dim, (int)dim, 0.0f, prod, (int)bn);
            for (size_t i = 0; i < qn; i++) {
                const float *row = prod + i * bn;
                cand *h = heaps + i * cap;
                for (size_t j = 0; j < bn; j++) {
                    cand c = {(double)norms[b0 + j] - 2.0 * row[j],
                              (int32_t)(b0 + j)};
                    if (metric != QVB_METRIC_L2)
                        c.key = -(double)row[j];
                    heap_offer(h, &lens[i], cap, c);
                }
            }
        }
        for (size_t i = 0; i < qn; i++) {
            cand *h = heaps + i * cap;
            const float *q = queries + (q0 + i) * dim;
            for (size_t j = 0; j < lens[i]; j++)
                h[j].key =
                    exact_key(q, base + (size_t)h[j].id * dim, dim, metric);
            qsort(h, lens[i], sizeof *h, cmp_cand);
            for (uint32_t j = 0; j < k; j++)
                out[(q0 + i) * k + j] = h[j].id;
        }
    }
    rc = 0;
cleanup:
    free(norms);
    free(prod);
    free(heaps);
    free(lens);
    return rc;
}

double qvb_recall(const int32_t *found, const int32_t *gt, size_t nq,
                  uint32_t k, uint32_t gt_stride)
{
    if (nq == 0 || k == 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < nq; i++) {
        const int32_t *f = found + i * k, *g = gt + i * gt_stride;
        uint32_t hits = 0;
        for (uint32_t a = 0; a < k; a++) {
            if (f[a] < 0)
                continue;
            int dup = 0;
            for (uint32_t b = 0; b < a && !dup; b++)
                dup = f[b] == f[a];
            if (dup)
                continue;
            for (uint32_t b = 0; b < k; b++) {
                if (g[b] == f[a]) {
                    hits++;
                    break;
                }
            }
        }
        total += (double)hits / k;
    }
    return total / (double)nq;
}
