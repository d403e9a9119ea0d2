/*
 * query_fusion.c -- combining the ranked lists of several prefetches into
 * one: reciprocal rank fusion (RRF) and distribution-based score fusion
 * (DBSF), as Qdrant 1.19 computes them.
 *
 * RRF follows lib/segment/src/common/reciprocal_rank_fusion.rs: the point
 * at 0-based position pos of a list weighted w scores
 * 1 / ((pos + 1) / w + k - 1), which is the textbook 1 / (pos + k) for
 * w = 1; a weight <= 0 contributes nothing (the point still appears).
 * DBSF follows lib/segment/src/common/score_fusion.rs: each list is
 * normalised with its mean and sample standard deviation (Welford), mean
 * - 3 sd mapping to 0 and mean + 3 sd to 1 (values beyond are not
 * clamped), a one-point list scores 0.5, a list of equal scores 0.5 each;
 * the normalised scores of a point are summed.
 *
 * Both merge by sorting (id, contribution) pairs by id rather than with a
 * hash map: no allocation per point, and the same order every run.  The
 * fused list is sorted by score descending, ties by id ascending (query.h).
 * Arithmetic is float, as in Qdrant, so scores match its to the last bit
 * for the same inputs.
 *
 * Threads: pure functions of their arguments.
 */
#include "query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_score_desc(const void *a, const void *b)
{
    const qvs_scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return qv_id_compare(&x->id, &y->id);
}

static int cmp_id_asc(const void *a, const void *b)
{
    const qvs_scored *x = a, *y = b;
    return qv_id_compare(&x->id, &y->id);
}

void qvs_scored_sort(qvs_scored *s, size_t n)
{
    if (n > 1)
        qsort(s, n, sizeof(*s), cmp_score_desc);
}

static size_t total_hits(const qvs_ranked *lists, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += lists[i].n;
    return t;
}

/* Sums the contributions of equal ids in all[0..n) (sorted by id here),
 * sorts the result by score and hands it over as *out. */
static bool merge_sum(qvs_scored *all, size_t n, qvs_scored **out,
                      size_t *n_out)
{
    if (n > 1)
        qsort(all, n, sizeof(*all), cmp_id_asc);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && qv_id_compare(&all[m - 1].id, &all[i].id) == 0)
            all[m - 1].score += all[i].score;
        else
            all[m++] = all[i];
    }
    qvs_scored_sort(all, m);
    *out = all;
    *n_out = m;
    return true;
}

static float rrf_position_score(size_t pos, uint32_t k, float weight)
{
    if (weight <= 0.0f)
        return 0.0f;
    return 1.0f / ((float)(pos + 1) / weight + (float)k - 1.0f);
}

bool qvs_fuse_rrf(const qvs_ranked *lists, size_t n, uint32_t k,
                  const float *weights, qvs_scored **out, size_t *n_out)
{
    size_t t = total_hits(lists, n);
    qvs_scored *all = malloc((t ? t : 1) * sizeof(*all));
    *out = NULL;
    *n_out = 0;
    if (!all)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float w = weights ? weights[i] : 1.0f;
        for (size_t pos = 0; pos < lists[i].n; pos++) {
            all[m].id = lists[i].hits[pos].id;
            all[m++].score = rrf_position_score(pos, k, w);
        }
    }
    return merge_sum(all, m, out, n_out);
}

/* Welford's one-pass mean and sample variance (n >= 2), in float as
 * Qdrant's welfords_mean_variance. */
static void mean_variance(const qvs_scored *s, size_t n, float *mean,
                          float *var)
{
    float mu = 0.0f, agg = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float old_delta = s[i].score - mu;
        mu += old_delta / (float)(i + 1);
        agg += old_delta * (s[i].score - mu);
    }
    *mean = mu;
    *var = agg / ((float)n - 1.0f);
}

/* Appends list l normalised by mean +- 3 sd to all[*m..]. */
static void dbsf_normalise(const qvs_ranked *l, qvs_scored *all, size_t *m)
{
    float lo = 0.0f, hi = 0.0f;
    if (l->n >= 2) {
        float mean, var;
        mean_variance(l->hits, l->n, &mean, &var);
        float sd = sqrtf(var);
        lo = mean - 3.0f * sd;
        hi = mean + 3.0f * sd;
    }
    for (size_t i = 0; i < l->n; i++) {
        all[*m].id = l->hits[i].id;
        all[(*m)++].score =
            l->n < 2 || lo == hi ? 0.5f : (l->hits[i].score - lo) / (hi - lo);
    }
}

bool qvs_fuse_dbsf(const qvs_ranked *lists, size_t n, qvs_scored **out,
                   size_t *n_out)
{
    size_t t = total_hits(lists, n);
    qvs_scored *all = malloc((t ? t : 1) * sizeof(*all));
    *out = NULL;
    *n_out = 0;
    if (!all)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        dbsf_normalise(&lists[i], all, &m);
    return merge_sum(all, m, out, n_out);
}
