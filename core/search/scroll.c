/*
 * scroll.c -- paging through a collection's points in id order.
 *
 * There is no ordered index of ids yet, so a page is one pass over the
 * candidate slots -- every live slot, or those the payload indexes leave
 * for the filter (search/candidates.c) -- that keeps the limit+1 smallest
 * ids at or after the start in a bounded max-heap: O(n log limit) time and
 * O(limit) memory per page.  The extra entry tells whether another page
 * follows and which id starts it.  (Scrolling by a payload value is
 * scroll_order.c.)
 */
#include "core/core.h"
#include "core/search/search.h"

#include <stdlib.h>

/* Max-heap on id order over an array of ids. */
static void heap_sift_down(qv_point_id *h, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && qv_id_compare(&h[l], &h[m]) > 0)
            m = l;
        if (r < n && qv_id_compare(&h[r], &h[m]) > 0)
            m = r;
        if (m == i)
            return;
        qv_point_id t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_push(qv_point_id *h, size_t *n, size_t cap,
                      const qv_point_id *id)
{
    if (*n == cap) {
        if (qv_id_compare(id, &h[0]) >= 0)
            return;
        h[0] = *id;
        heap_sift_down(h, 0, *n);
        return;
    }
    size_t i = (*n)++;
    h[i] = *id;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (qv_id_compare(&h[i], &h[p]) <= 0)
            break;
        qv_point_id t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int compare_ids(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

qv_status qv_scroll(qv_collection *c, const qv_point_id *start,
                    const qv_filter *filter, size_t limit, qv_point_id *ids_out,
                    size_t *n_out, qv_point_id *next, bool *has_next)
{
    if (!c)
        return QV_ENULL;
    if (!ids_out || !n_out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    if (limit == 0)
        return qvi_fail(c->err, QV_ERANGE, "limit must be at least 1");
    if (start && !qvi_id_valid(start))
        return qvi_fail(c->err, QV_EINVAL, "malformed start id");

    size_t cap;
    if (!qv_add_size(limit, 1, &cap) || cap > SIZE_MAX / sizeof(qv_point_id))
        return qvi_fail(c->err, QV_ERANGE, "limit %zu is too large", limit);

    qv_point_id *heap = NULL;
    size_t n = 0;
    pthread_rwlock_rdlock(&c->lock);
    qvi_candidates q;
    qv_status st = qvi_candidates_prepare_locked(c, qvi_filter_of(filter),
                                                 QVI_CANDIDATES_ALWAYS, &q);
    if (st != QV_OK)
        goto unlock; /* q is empty and safe to free */
    if (cap > q.n_cand + 1)
        cap = q.n_cand + 1;
    heap = malloc(cap * sizeof(*heap));
    if (!heap) {
        st = qvi_fail(c->err, QV_ENOMEM, "cannot allocate a page of %zu", cap);
        goto unlock;
    }
    for (uint32_t s = qvi_candidates_next(&q, 0); s != UINT32_MAX;
         s = qvi_candidates_next(&q, s + 1)) {
        if (start && qv_id_compare(&c->ids[s], start) < 0)
            continue;
        if (!qvi_candidates_match(&q, s))
            continue;
        heap_push(heap, &n, cap, &c->ids[s]);
    }
unlock:
    qvi_candidates_free(&q);
    pthread_rwlock_unlock(&c->lock);
    if (st != QV_OK)
        return st;

    qsort(heap, n, sizeof(*heap), compare_ids);
    size_t page = n < limit ? n : limit;
    for (size_t i = 0; i < page; i++)
        ids_out[i] = heap[i];
    *n_out = page;
    bool more = n > limit;
    if (has_next)
        *has_next = more;
    if (next && more)
        *next = heap[limit];
    free(heap);
    return QV_OK;
}
