/*
 * topk.c -- bounded max-heap of the k best (lowest-distance) candidates.
 *
 * Exact search pushes every live slot through one of these, so the common
 * case, a candidate worse than the current k-th, costs a single comparison
 * in qvi_topk_bound() before any call.  Order is total: distance, then slot,
 * which makes results reproducible when distances tie.
 */
#include "core/base/base.h"

#include <math.h>
#include <stdlib.h>

qv_status qvi_topk_init(qvi_topk *t, size_t k)
{
    t->slots = malloc(k * sizeof(*t->slots));
    t->dists = malloc(k * sizeof(*t->dists));
    t->k = k;
    t->n = 0;
    if (!t->slots || !t->dists) {
        qvi_topk_free(t);
        return QV_ENOMEM;
    }
    return QV_OK;
}

void qvi_topk_free(qvi_topk *t)
{
    free(t->slots);
    free(t->dists);
    t->slots = NULL;
    t->dists = NULL;
    t->k = t->n = 0;
}

void qvi_topk_reset(qvi_topk *t)
{
    t->n = 0;
}

/* True when entry i is worse than entry j. */
static inline bool worse(const qvi_topk *t, size_t i, size_t j)
{
    if (t->dists[i] != t->dists[j])
        return t->dists[i] > t->dists[j];
    return t->slots[i] > t->slots[j];
}

static inline void swap_entries(qvi_topk *t, size_t i, size_t j)
{
    uint32_t s = t->slots[i];
    float d = t->dists[i];
    t->slots[i] = t->slots[j];
    t->dists[i] = t->dists[j];
    t->slots[j] = s;
    t->dists[j] = d;
}

static void sift_down(qvi_topk *t, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(t, l, m))
            m = l;
        if (r < n && worse(t, r, m))
            m = r;
        if (m == i)
            return;
        swap_entries(t, i, m);
        i = m;
    }
}

static void sift_up(qvi_topk *t, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(t, i, p))
            return;
        swap_entries(t, i, p);
        i = p;
    }
}

void qvi_topk_push(qvi_topk *t, uint32_t slot, float dist)
{
    /* NaN (a product of vectors too large for float: inf - inf) ranks as
     * the worst distance, so the heap order stays total and results
     * deterministic. */
    if (dist != dist)
        dist = INFINITY;
    if (t->n < t->k) {
        t->slots[t->n] = slot;
        t->dists[t->n] = dist;
        sift_up(t, t->n++);
        return;
    }
    if (dist > t->dists[0] || (dist == t->dists[0] && slot >= t->slots[0]))
        return;
    t->slots[0] = slot;
    t->dists[0] = dist;
    sift_down(t, 0, t->n);
}

void qvi_topk_sort(qvi_topk *t)
{
    /* Heap sort: repeatedly move the worst to the end, leaving best first. */
    for (size_t end = t->n; end > 1; end--) {
        swap_entries(t, 0, end - 1);
        sift_down(t, 0, end - 1);
    }
}
