/*
 * scroll_order.c -- scroll ordered by a payload value (Qdrant's scroll
 * with order_by).
 *
 * The order comes from the key's range index: the (value, slot) keys of
 * an integer, float or datetime index are already sorted
 * (pindex_num.c), so a page is a walk from start_from in either
 * direction that keeps the keys whose point passes the filter, until the
 * page is full: O(log n + keys walked).  Without such an index Qdrant
 * refuses the request rather than sort every payload, and so does this,
 * with Qdrant's message.
 *
 * Semantics follow Qdrant's: a point with several values at the key
 * appears once per distinct value (the index holds each (value, point)
 * pair once); start_from is inclusive; there is no next-page id, because
 * equal values make an id offset meaningless.  Equal values come in slot
 * order, reversed when descending.
 *
 * Runs under the collection's read lock, like qv_scroll.
 */
#include "core/search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qv_order_by_init(qv_order_by *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->version = QV_ORDER_BY_VERSION;
}

/* The value a key stands for, as reported: the number, or a date-time's
 * seconds with their fraction. */
static double key_value(const qvi_pindex *ix, const qvi_nkey *k)
{
    if (ix->kind == QV_INDEX_DATETIME)
        return (double)k->hi + (double)k->lo * 1e-9;
    return qvi_key_double(k->hi);
}

/* Where the walk starts: the first key of the range ascending, one past
 * the last descending.  Date-times start a second early or late, and the
 * walk skips the keys outside start_from by value. */
static qvi_ncur start_at(const qvi_pindex *ix, const qv_order_by *o)
{
    const qvi_ntree *t = &ix->tree;
    qvi_nkey k = {0, 0, 0};
    if (!o->use_start)
        return o->descending ? (qvi_ncur){t->nc, 0} : (qvi_ncur){0, 0};
    bool dt = ix->kind == QV_INDEX_DATETIME;
    double s = o->start_from;
    if (!o->descending) {
        if (dt)
            k.hi = s <= -9.2e18 ? INT64_MIN : (int64_t)floor(s) - 1;
        else
            k.hi = qvi_double_key(s);
        return qvi_ntree_lower_bound(t, &k);
    }
    if (dt)
        k.hi = s >= 9.2e18 ? INT64_MAX : (int64_t)floor(s) + 1;
    else
        k.hi = qvi_double_key(s);
    if (k.hi == INT64_MAX)
        return (qvi_ncur){t->nc, 0};
    k.hi++; /* everything with this value lies before */
    return qvi_ntree_lower_bound(t, &k);
}

static qv_status check_args(qv_collection *c, const qv_order_by *o,
                            size_t limit, const qv_point_id *ids_out,
                            const size_t *n_out)
{
    if (!o || !o->key || !ids_out || !n_out)
        return qvi_fail(c->err, QV_ENULL,
                        "order, its key, ids_out or n_out is NULL");
    if (o->version > QV_ORDER_BY_VERSION)
        return qvi_fail(
            c->err, QV_EINVAL,
            "qv_order_by version %u is newer than this library's %u",
            o->version, QV_ORDER_BY_VERSION);
    if (limit == 0)
        return qvi_fail(c->err, QV_ERANGE, "limit must be at least 1");
    if (o->use_start && isnan(o->start_from))
        return qvi_fail(c->err, QV_ERANGE, "start_from is NaN");
    return QV_OK;
}

qv_status qv_scroll_order_by(qv_collection *c, const qv_order_by *o,
                             const qv_filter *filter, size_t limit,
                             qv_point_id *ids_out, double *values_out,
                             size_t *n_out)
{
    if (!c)
        return QV_ENULL;
    qv_status st = check_args(c, o, limit, ids_out, n_out);
    if (st != QV_OK)
        return st;
    qvi_path_item *items = NULL;
    uint32_t n_items = 0, cap_items = 0, pool_len = 0, pool_cap = 0;
    char *pool = NULL;
    char err[QVI_FILTER_ERRMSG_CAP];
    st = qvi_path_parse(o->key, strlen(o->key), &items, &n_items, &cap_items,
                        &pool, &pool_len, &pool_cap, err, sizeof(err));
    if (st != QV_OK) {
        free(items);
        free(pool);
        return qvi_fail(c->err, st, "order_by: %s",
                        st == QV_EINVAL ? err : "out of memory");
    }
    size_t n = 0;
    qvi_candidates q = {0};
    pthread_rwlock_rdlock(&c->lock);
    const qvi_pindex *ix =
        qvi_pindex_set_find(c->pindexes, items, n_items, pool);
    if (!ix || (ix->kind != QV_INDEX_INTEGER && ix->kind != QV_INDEX_FLOAT &&
                ix->kind != QV_INDEX_DATETIME)) {
        st = qvi_fail(c->err, QV_EINVAL,
                      "No range index for `order_by` key: `%s`. Please "
                      "create one to use `order_by`. Integer, float, and "
                      "datetime payloads can have range indexes",
                      o->key);
        goto cleanup;
    }
    if (ix->stale) {
        st = qvi_fail(c->err, QV_ENOMEM,
                      "the index on `%s` is waiting to be rebuilt after "
                      "running out of memory",
                      o->key);
        goto cleanup;
    }
    st = qvi_candidates_prepare_locked(
        c, qvi_filter_of(filter),
        qvi_candidates_search_budget(c, limit < QV_MAX_EF ? (uint32_t)limit
                                                          : QV_MAX_EF),
        &q);
    if (st != QV_OK)
        goto cleanup;
    const qvi_ntree *t = &ix->tree;
    qvi_ncur cur = start_at(ix, o);
    qvi_nkey k;
    for (;;) {
        if (o->descending) {
            if (!qvi_ntree_prev(t, &cur))
                break;
        }
        if (!qvi_ntree_at(t, cur, &k))
            break;
        if (!o->descending)
            qvi_ntree_next(t, &cur);
        double v = key_value(ix, &k);
        if (o->use_start &&
            (o->descending ? v > o->start_from : v < o->start_from))
            continue;
        if (!qvi_candidates_match(&q, k.slot))
            continue;
        ids_out[n] = c->ids[k.slot];
        if (values_out)
            values_out[n] = v;
        if (++n == limit)
            break;
    }
cleanup:
    qvi_candidates_free(&q);
    pthread_rwlock_unlock(&c->lock);
    free(items);
    free(pool);
    if (st == QV_OK)
        *n_out = n;
    return st;
}
