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

/* A contribution to a fused score: point, value, and its order of
 * arrival, so equal ids are summed in list order as Qdrant sums them
 * (float addition is not associative). */
typedef struct contrib {
    qvs_scored s;
    size_t seq;
} contrib;

static int cmp_contrib(const void *a, const void *b)
{
    const contrib *x = a, *y = b;
    int c = qv_id_compare(&x->s.id, &y->s.id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void qvs_scored_sort(qvs_scored *s, size_t n)
{
    if (n > 1)
        qsort(s, n, sizeof(*s), cmp_score_desc);
}

/* Sums the contributions of equal ids in c[0..n) (sorted here by id and
 * arrival) into a new sorted array *out. */
static bool merge_sum(contrib *c, size_t n, qvs_scored **out, size_t *n_out)
{
    qvs_scored *s = malloc((n ? n : 1) * sizeof(*s));
    if (!s) {
        free(c);
        return false;
    }
    if (n > 1)
        qsort(c, n, sizeof(*c), cmp_contrib);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && qv_id_compare(&s[m - 1].id, &c[i].s.id) == 0)
            s[m - 1].score += c[i].s.score;
        else
            s[m++] = c[i].s;
    }
    free(c);
    qvs_scored_sort(s, m);
    *out = s;
    *n_out = m;
    return true;
}

static float rrf_position_score(size_t pos, uint64_t k, float weight)
{
    if (weight <= 0.0f)
        return 0.0f;
    return 1.0f / ((float)(pos + 1) / weight + (float)k - 1.0f);
}

static contrib *new_contribs(const qvs_ranked *lists, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += lists[i].n;
    return malloc((t ? t : 1) * sizeof(contrib));
}

bool qvs_fuse_rrf(const qvs_ranked *lists, size_t n, uint64_t k,
                  const float *weights, qvs_scored **out, size_t *n_out)
{
    contrib *all = new_contribs(lists, n);
    *out = NULL;
    *n_out = 0;
    if (!all)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float w = weights ? weights[i] : 1.0f;
        for (size_t pos = 0; pos < lists[i].n; pos++, m++) {
            all[m].s.id = lists[i].hits[pos].id;
            all[m].s.score = rrf_position_score(pos, k, w);
            all[m].seq = m;
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
static void dbsf_normalise(const qvs_ranked *l, contrib *all, size_t *m)
{
    float lo = 0.0f, hi = 0.0f;
    if (l->n >= 2) {
        float mean, var;
        mean_variance(l->hits, l->n, &mean, &var);
        float sd = sqrtf(var);
        lo = mean - 3.0f * sd;
        hi = mean + 3.0f * sd;
    }
    for (size_t i = 0; i < l->n; i++, (*m)++) {
        all[*m].s.id = l->hits[i].id;
        all[*m].s.score =
            l->n < 2 || lo == hi ? 0.5f : (l->hits[i].score - lo) / (hi - lo);
        all[*m].seq = *m;
    }
}

bool qvs_fuse_dbsf(const qvs_ranked *lists, size_t n, qvs_scored **out,
                   size_t *n_out)
{
    contrib *all = new_contribs(lists, n);
    *out = NULL;
    *n_out = 0;
    if (!all)
        return false;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        dbsf_normalise(&lists[i], all, &m);
    return merge_sum(all, m, out, n_out);
}
