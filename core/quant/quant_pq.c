/*
 * quant_pq.c -- product quantization, Qdrant's `product` with its
 * `compression` (x4 .. x64).
 *
 * The model
 * ---------
 * A vector of dim components is cut into m = ceil(dim / b) consecutive
 * sub-vectors ("buckets") of b components, the last one shorter when b
 * does not divide dim.  b comes from the compression ratio as Qdrant
 * derives it (lib/segment/src/vector_storage/quantized/quantized_vectors.rs,
 * get_bucket_size: x4 -> 1, x8 -> 2, x16 -> 4, x32 -> 8, x64 -> 16): one
 * byte a bucket replaces 4 b bytes of floats.  Each bucket has its own
 * codebook of up to 256 centroids (Qdrant's encoded_vectors_pq.rs keeps
 * 256 as well); a code is the m centroid numbers, one byte each.
 *
 * Training: Lloyd's k-means per bucket on a bounded sample of the live
 * vectors (qvi_quant_sample with PQ_SAMPLE_VECTORS, spread evenly over the
 * slots, so no clock and no random state: the same vectors train the same
 * codebooks), PQ_ITERS rounds, assignments by squared L2 whatever the
 * metric, as Qdrant's.  The initial centroids are sample vectors picked by
 * a fixed-seed xorshift; an empty cluster is re-seeded from another sample
 * vector by the same generator.  With fewer than 256 distinct training
 * vectors a bucket simply gets fewer distinct centroids (k = min(256, n)).
 * Cost: n * 256 * dim * PQ_ITERS multiply-adds, about 2.7e9 at dim 128
 * with a full sample (n = 8,192) -- bounded whatever the collection's
 * size; measured 0.8 to 2.8 s at dim 128 on a loaded 2-core machine
 * (x8 the slowest).  One-component buckets (x4) find the nearest centroid
 * by bisection over the sorted centroids instead (0.9 s there).  Encoding
 * a vector costs 256 * dim, as one query's table.
 *
 * Distances: asymmetric (ADC).  A query is not encoded; prepare builds a
 * table of m x 256 floats, entry (j, c) the bucket-j part of the float
 * distance between the query and centroid c: -q.c for dot and cosine,
 * |q - c|^2 for euclid, |q - c|_1 for manhattan.  Every one of these
 * distances is a sum over components, so the distance to a code is the
 * sum of its m table entries (simd pq_sum), in the units of the float
 * distance: un-rescored scores are approximations of the real ones.
 *
 * The centroids live in q->cent: one block of b x 256 floats a bucket,
 * dimension-major (component d of centroid c at d * 256 + c; a short last
 * bucket's extra rows are zero and never read), so that the loops over
 * the 256 centroids -- assignment, encoding, the query's table -- run at
 * unit stride and vectorize.
 */
#include "core/quant/quant.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PQ_K              256u
#define PQ_ITERS          10u
#define PQ_SAMPLE_VECTORS 8192u

uint32_t qvi_pq_bucket(uint32_t compression)
{
    static const uint32_t b[] = {1, 2, 4, 8, 16};
    return compression < 5 ? b[compression] : 1;
}

size_t qvi_pq_sample_max(void)
{
    return PQ_SAMPLE_VECTORS;
}

/* Components of bucket j. */
static uint32_t bucket_len(const qvi_quant *q, uint32_t j)
{
    uint32_t b = q->bucket, start = j * b;
    return q->dim - start < b ? q->dim - start : b;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The codebook of a bucket is stored dimension-major: component d of
 * centroid c at cb[d * PQ_K + c], so that the distances from one
 * sub-vector to all 256 centroids (and a query's table row) are loops
 * over c with unit stride, which the compiler vectorizes. */

/* Squared L2 distances from x (len floats) to the 256 centroids of cb. */
static void all_sq_l2(const float *restrict cb, const float *restrict x,
                      uint32_t len, float *restrict dist)
{
    for (uint32_t c = 0; c < PQ_K; c++)
        dist[c] = 0.0f;
    for (uint32_t d = 0; d < len; d++) {
        const float *row = cb + (size_t)d * PQ_K;
        float xd = x[d];
        for (uint32_t c = 0; c < PQ_K; c++) {
            float t = xd - row[c];
            dist[c] += t * t;
        }
    }
}

/* Nearest of the first k centroids of cb to x; the first on ties. */
static uint32_t nearest(const float *cb, uint32_t k, const float *x,
                        uint32_t len)
{
    float dist[PQ_K];
    all_sq_l2(cb, x, len, dist);
    uint32_t best = 0;
    for (uint32_t c = 1; c < k; c++)
        if (dist[c] < dist[best])
            best = c;
    return best;
}

static void set_centroid(float *cb, uint32_t c, const float *x, uint32_t len)
{
    for (uint32_t d = 0; d < len; d++)
        cb[(size_t)d * PQ_K + c] = x[d];
}

/* One-component buckets (x4): the centroids sorted by value, so that the
 * nearest is found by bisection instead of 256 comparisons. */
typedef struct sorted1 {
    float v[PQ_K];
    uint32_t id[PQ_K];
    uint32_t k;
} sorted1;

static int cmp_pair(const void *a, const void *b)
{
    const float *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]); /* the lower id first */
}

static void sort1(const float *cb, uint32_t k, sorted1 *s)
{
    float pairs[PQ_K][2];
    for (uint32_t c = 0; c < k; c++) {
        pairs[c][0] = cb[c];
        pairs[c][1] = (float)c; /* exact: c < 256 */
    }
    qsort(pairs, k, sizeof(pairs[0]), cmp_pair);
    for (uint32_t c = 0; c < k; c++) {
        s->v[c] = pairs[c][0];
        s->id[c] = (uint32_t)pairs[c][1];
    }
    s->k = k;
}

/* The centroid nearest to x; between two equally near, the lower value
 * (then the lower id). */
static uint32_t nearest1(const sorted1 *s, float x)
{
    uint32_t lo = 0, hi = s->k; /* first v >= x in [lo, hi) */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->k)
        return s->id[s->k - 1];
    if (lo > 0 && x - s->v[lo - 1] <= s->v[lo] - x) {
        /* the first of a run of equal values has the lowest id */
        uint32_t i = lo - 1;
        while (i > 0 && s->v[i - 1] == s->v[i])
            i--;
        return s->id[i];
    }
    return s->id[lo];
}

/* k-means of one bucket on the n sample rows of pts (len floats each,
 * dense), into cb (b x 256, dimension-major).  acc/cnt: scratch of
 * PQ_K * b doubles and PQ_K counts. */
static void kmeans(const float *pts, size_t n, uint32_t len, uint32_t b,
                   float *cb, double *acc, uint32_t *cnt, uint64_t *rng)
{
    uint32_t k = n < PQ_K ? (uint32_t)n : PQ_K;
    memset(cb, 0, (size_t)PQ_K * b * sizeof(float));
    /* Distinct starting rows: a random offset and a stride over the
     * sample, so k <= n rows are all different slots. */
    size_t off = xorshift(rng) % n, step = n / k;
    for (uint32_t c = 0; c < k; c++)
        set_centroid(cb, c, pts + ((off + c * step) % n) * len, len);
    for (uint32_t it = 0; it < PQ_ITERS; it++) {
        memset(acc, 0, (size_t)k * b * sizeof(double));
        memset(cnt, 0, k * sizeof(uint32_t));
        sorted1 s1;
        if (len == 1)
            sort1(cb, k, &s1);
        for (size_t i = 0; i < n; i++) {
            const float *x = pts + i * len;
            uint32_t c =
                len == 1 ? nearest1(&s1, x[0]) : nearest(cb, k, x, len);
            cnt[c]++;
            for (uint32_t d = 0; d < len; d++)
                acc[(size_t)c * b + d] += x[d];
        }
        for (uint32_t c = 0; c < k; c++) {
            if (cnt[c] == 0) {
                /* Empty: re-seed from a sample row. */
                set_centroid(cb, c, pts + (xorshift(rng) % n) * len, len);
                continue;
            }
            for (uint32_t d = 0; d < len; d++)
                cb[(size_t)d * PQ_K + c] =
                    (float)(acc[(size_t)c * b + d] / cnt[c]);
        }
    }
    /* Unused centroids (k < 256) copy centroid 0: never nearer than it
     * (ties go to the first). */
    for (uint32_t c = k; c < PQ_K; c++)
        for (uint32_t d = 0; d < len; d++)
            cb[(size_t)d * PQ_K + c] = cb[(size_t)d * PQ_K];
}

qv_status qvi_pq_train(qvi_quant *q, const float *base, size_t stride,
                       const uint8_t *live, uint32_t used)
{
    uint32_t b = q->bucket, m = q->m;
    size_t max = PQ_SAMPLE_VECTORS;
    size_t cent_n = (size_t)m * PQ_K * b;
    uint32_t *slots = malloc(max * sizeof(uint32_t));
    float *cent = calloc(cent_n, sizeof(float));
    float *pts = malloc(max * b * sizeof(float));
    double *acc = malloc((size_t)PQ_K * b * sizeof(double));
    uint32_t *cnt = malloc(PQ_K * sizeof(uint32_t));
    qv_status st = QV_ENOMEM;
    if (!slots || !cent || !pts || !acc || !cnt)
        goto cleanup;
    size_t n = qvi_quant_sample(live, used, slots, max);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t len = bucket_len(q, j);
        for (size_t i = 0; i < n; i++)
            memcpy(pts + i * len, base + (size_t)slots[i] * stride + j * b,
                   len * sizeof(float));
        float *cj = cent + (size_t)j * PQ_K * b;
        if (n == 0)
            continue; /* all-zero codebook: every code 0, still valid */
        kmeans(pts, n, len, b, cj, acc, cnt, &rng);
    }
    free(q->cent);
    q->cent = cent;
    cent = NULL;
    q->trained = true;
    st = QV_OK;
cleanup:
    free(slots);
    free(cent);
    free(pts);
    free(acc);
    free(cnt);
    return st;
}

void qvi_pq_encode(qvi_quant *q, uint32_t slot, const float *v)
{
    uint8_t *code = q->codes + (size_t)slot * q->row;
    uint32_t b = q->bucket;
    for (uint32_t j = 0; j < q->m; j++)
        code[j] = (uint8_t)nearest(q->cent + (size_t)j * PQ_K * b, PQ_K,
                                   v + j * b, bucket_len(q, j));
    memset(code + q->m, 0, q->row - q->m);
}

size_t qvi_pq_query_bytes(const qvi_quant *q)
{
    return (size_t)q->m * PQ_K * sizeof(float);
}

static float dist_pq(const qvi_quant_query *qq, uint32_t slot)
{
    const qvi_quant *q = qq->q;
    return q->k->pq_sum((const float *)qq->code,
                        q->codes + (size_t)slot * q->row, q->m);
}

/* Row j of the table: the bucket-j part of the metric's distance from
 * x (len floats) to each of the 256 centroids of cb.  restrict: the
 * loops over c vectorize. */
static void table_row(qv_metric metric, const float *restrict cb,
                      const float *restrict x, uint32_t len, float *restrict tj)
{
    for (uint32_t c = 0; c < PQ_K; c++)
        tj[c] = 0.0f;
    for (uint32_t d = 0; d < len; d++) {
        const float *restrict row = cb + (size_t)d * PQ_K;
        float xd = x[d];
        if (metric == QV_METRIC_EUCLID)
            for (uint32_t c = 0; c < PQ_K; c++)
                tj[c] += (xd - row[c]) * (xd - row[c]);
        else if (metric == QV_METRIC_MANHATTAN)
            for (uint32_t c = 0; c < PQ_K; c++)
                tj[c] += fabsf(xd - row[c]);
        else
            for (uint32_t c = 0; c < PQ_K; c++)
                tj[c] -= xd * row[c];
    }
}

void qvi_pq_prepare(const qvi_quant *q, const float *query, uint8_t *buf,
                    qvi_quant_query *out)
{
    float *table = (float *)buf;
    uint32_t b = q->bucket;
    for (uint32_t j = 0; j < q->m; j++)
        table_row(q->metric, q->cent + (size_t)j * PQ_K * b, query + j * b,
                  bucket_len(q, j), table + (size_t)j * PQ_K);
    out->q = q;
    out->dist = dist_pq;
    out->code = buf;
    out->corr = 0.0f;
    out->planes = 0;
}
