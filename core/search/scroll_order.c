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
 * Numbers are exact (Qdrant's OrderValue, lib/segment/src/data_types/
 * order_by.rs: Int(i64) | Float(f64), ints compared as ints, an int and a
 * float as numbers): the tree keys every i64, u64 and double exactly
 * (pindex_num.c), a start_from is keyed the same way, and each value is
 * reported with the kind it was written with.  Qdrant turns an integer
 * start_from into an f64 for its range (a TODO there); this keeps it
 * exact, so paging from the last value seen never skips 2^53 + 1.
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

/* The value a key stands for, as reported: the number as written, or a
 * date-time's seconds with their fraction. */
static qv_number key_value(const qvi_pindex *ix, const qvi_nkey *k)
{
    if (ix->kind == QV_INDEX_DATETIME) {
        qv_number n = {.kind = QV_NUM_DOUBLE};
        n.v.d = (double)k->hi + (double)k->lo * 1e-9;
        return n;
    }
    return qvi_key_number(k->hi, k->lo);
}

/* The nearest double of n. */
static double number_double(const qv_number *n)
{
    switch (n->kind) {
    case QV_NUM_INT:
        return (double)n->v.i;
    case QV_NUM_UINT:
        return (double)n->v.u;
    default:
        return n->v.d;
    }
}

/* The start value of o (with use_start): start_exact when it holds an
 * integer (layout 2 on), else start_from. */
static qv_number start_value(const qv_order_by *o)
{
    if (o->version >= 2 && o->start_exact.kind != QV_NUM_DOUBLE)
        return o->start_exact;
    qv_number n = {.kind = QV_NUM_DOUBLE};
    n.v.d = o->start_from;
    return n;
}

/* Where the walk starts: the first key of the range ascending, one past
 * the last descending.  A number start is keyed as the tree keys values,
 * so the bound is exact; date-times start a second early or late, and the
 * walk skips the keys outside start_from by value. */
static qvi_ncur start_at(const qvi_pindex *ix, const qv_order_by *o)
{
    const qvi_ntree *t = &ix->tree;
    qvi_nkey k = {0, 0, 0};
    if (!o->use_start)
        return o->descending ? (qvi_ncur){t->nc, 0} : (qvi_ncur){0, 0};
    qv_number sn = start_value(o);
    if (ix->kind != QV_INDEX_DATETIME) {
        uint32_t lo;
        qvi_number_key(&sn, &k.hi, &lo);
        /* Below every key of the value, or above them all (the lo of a
         * double, one past it; pindex.h). */
        k.lo = o->descending ? (lo | QVI_NUM_LO_DOUBLE) + 1
                             : lo & ~QVI_NUM_LO_DOUBLE;
        return qvi_ntree_lower_bound(t, &k);
    }
    double s = number_double(&sn);
    if (!o->descending) {
        k.hi = s <= -9.2e18 ? INT64_MIN : (int64_t)floor(s) - 1;
        return qvi_ntree_lower_bound(t, &k);
    }
    k.hi = s >= 9.2e18 ? INT64_MAX : (int64_t)floor(s) + 1;
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
    if (o->version >= 2 && o->start_exact.kind != QV_NUM_DOUBLE &&
        o->start_exact.kind != QV_NUM_INT && o->start_exact.kind != QV_NUM_UINT)
        return qvi_fail(c->err, QV_EINVAL, "start_exact has an unknown kind %d",
                        (int)o->start_exact.kind);
    if (o->use_start) {
        qv_number sn = start_value(o);
        if (sn.kind == QV_NUM_DOUBLE && isnan(sn.v.d))
            return qvi_fail(c->err, QV_ERANGE, "start_from is NaN");
    }
    return QV_OK;
}

/* Both public calls: values to dv as doubles or to nv exactly (either or
 * both NULL). */
static qv_status scroll_order(qv_collection *c, const qv_order_by *o,
                              const qv_filter *filter, size_t limit,
                              qv_point_id *ids_out, double *dv, qv_number *nv,
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
    /* Date-time starts are not exact in the tree (above): checked here. */
    bool dt = o->use_start && ix->kind == QV_INDEX_DATETIME;
    qv_number sn = start_value(o);
    double dt_start = number_double(&sn);
    for (;;) {
        if (o->descending) {
            if (!qvi_ntree_prev(t, &cur))
                break;
        }
        if (!qvi_ntree_at(t, cur, &k))
            break;
        if (!o->descending)
            qvi_ntree_next(t, &cur);
        qv_number v = key_value(ix, &k);
        if (dt && (o->descending ? v.v.d > dt_start : v.v.d < dt_start))
            continue;
        if (!qvi_candidates_match(&q, k.slot))
            continue;
        ids_out[n] = c->ids[k.slot];
        if (dv)
            dv[n] = number_double(&v);
        if (nv)
            nv[n] = v;
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

qv_status qv_scroll_order_by(qv_collection *c, const qv_order_by *o,
                             const qv_filter *filter, size_t limit,
                             qv_point_id *ids_out, double *values_out,
                             size_t *n_out)
{
    return scroll_order(c, o, filter, limit, ids_out, values_out, NULL, n_out);
}

qv_status qv_scroll_order_by_exact(qv_collection *c, const qv_order_by *o,
                                   const qv_filter *filter, size_t limit,
                                   qv_point_id *ids_out, qv_number *values_out,
                                   size_t *n_out)
{
    return scroll_order(c, o, filter, limit, ids_out, NULL, values_out, n_out);
}
