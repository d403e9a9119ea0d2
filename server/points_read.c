/*
 * points_read.c -- reading points: retrieve by ids (POST /points), get one
 * (GET /points/{id}), scroll and count.
 *
 * Qdrant's defaults differ between these endpoints and are kept:
 * retrieve and scroll return payloads unless told otherwise, GET returns
 * payload and every vector, none return vectors by default otherwise.
 * Retrieve answers in request order, skipping missing ids and repeats.
 * Scroll pages in id order from `offset` (inclusive) and names the first
 * id of the next page in next_page_offset (null on the last page).
 *
 * Scroll with order_by pages through a range index
 * (qv_scroll_order_by_exact) with no next_page_offset, as Qdrant; numbers
 * are exact both ways: start_from is read from its JSON text and an
 * integer order_value is printed as its digits, so 2^53 + 1 or 2^64 - 1
 * come back as sent.
 */
#include "points.h"
#include "strict.h"
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(j) ? NULL : j;
}

/* Appends the record of id to arr, unless the point is gone.  False (reply
 * set) on an error. */
static bool append_record(qvs_call *p, cJSON *arr, const qv_point_id *id,
                          const qj_payload_sel *wp, const qj_vector_sel *wv)
{
    bool gone = false;
    cJSON *rec = qvs_call_record(p, id, wp, wv, &gone);
    if (!rec)
        return gone;
    if (!cJSON_AddItemToArray(arr, rec)) {
        cJSON_Delete(rec);
        return qvs_fail(p->resp, 500, "Service internal error: out of memory");
    }
    return true;
}

void qvs_points_retrieve(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, true))
        return;
    qv_point_id *ids = NULL;
    size_t n = 0;
    bool *dup = NULL;
    qj_payload_sel wp = {0};
    qj_vector_sel wv = {0};
    cJSON *arr = NULL;
    const cJSON *jids = member(p.body, "ids");
    if (!jids) {
        qj_fail_format(resp, "missing field `ids`");
        goto done;
    }
    if (!qj_id_list(jids, &ids, &n, resp, "ids") ||
        !qj_with_payload(p.body, true, &wp, resp) ||
        !qj_with_vector(p.body, &wv, resp) ||
        !qvs_call_check_vector_sel(&p, &wv))
        goto done;
    if (!(dup = malloc((n ? n : 1) * sizeof(bool))) ||
        !(arr = cJSON_CreateArray())) {
        qvs_fail(resp, 500, "Service internal error: out of memory");
        goto done;
    }
    if (!qvs_call_mark_dups(&p, ids, n, false, dup))
        goto done;
    for (size_t i = 0; i < n; i++) {
        bool there = false;
        if (dup[i])
            continue;
        qv_status st = qv_contains(p.coll->points, &ids[i], &there);
        if (st != QV_OK) {
            qj_fail_lib(resp, p.coll->points, st, "looking up a point");
            goto done;
        }
        if (there && !append_record(&p, arr, &ids[i], &wp, &wv))
            goto done;
    }
    qvs_call_result(&p, arr);
    arr = NULL;
done:
    cJSON_Delete(arr);
    qj_payload_sel_free(&wp);
    qj_vector_sel_free(&wv);
    free(dup);
    free(ids);
    qvs_call_close(&p);
}

void qvs_points_get(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    qv_point_id id;
    const char *text = req->n_params > 1 ? req->params[1] : "";
    /* Path parameters are decoded before the collection is looked up. */
    if (!qj_id_from_path(text, &id)) {
        qj_fail_input(resp, "Can not recognize \"%.64s\" as point id", text);
        return;
    }
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, false))
        return;
    qj_payload_sel wp = {.on = true};
    qj_vector_sel wv = {.all = true};
    bool there = false, gone = false;
    char t[QV_UUID_STRLEN];
    qj_id_text(&id, t);
    qv_status st = qv_contains(p.coll->points, &id, &there);
    cJSON *rec = NULL;
    if (st != QV_OK)
        qj_fail_lib(resp, p.coll->points, st, "looking up a point");
    else if (there && (rec = qvs_call_record(&p, &id, &wp, &wv, &gone)))
        qvs_call_result(&p, rec);
    else if (!there || gone)
        qj_fail_not_found(resp, "Point with id %s does not exists!", t);
    qvs_call_close(&p);
}

/* Scroll with order_by: records in value order with their order_value,
 * and no next page offset (Qdrant disables paging by offset here). */
static void scroll_ordered(qvs_call *p, const cJSON *ob, const qv_filter *f,
                           size_t limit, const qj_payload_sel *wp,
                           const qj_vector_sel *wv)
{
    qv_order_by o;
    qv_point_id *ids = NULL;
    qv_number *vals = NULL;
    size_t n = 0;
    cJSON *out = NULL, *arr = NULL;
    if (!qvs_call_order_by_parse(p, ob, &o) ||
        !qvs_call_order_by_run(p, &o, f, limit, &ids, &vals, &n))
        goto done;
    if (!(out = cJSON_CreateObject()) ||
        !(arr = cJSON_AddArrayToObject(out, "points"))) {
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        bool gone = false;
        cJSON *rec = qvs_call_record(p, &ids[i], wp, wv, &gone);
        if (!rec) {
            if (gone)
                continue;
            goto done;
        }
        cJSON_AddItemToArray(arr, rec);
        cJSON_AddItemToObject(rec, "order_value",
                              qvs_order_value_json(&vals[i]));
    }
    if (!cJSON_AddItemToObject(out, "next_page_offset", cJSON_CreateNull())) {
        qvs_fail(p->resp, 500, "Service internal error: out of memory");
        goto done;
    }
    qvs_call_result(p, out);
    out = NULL;
done:
    cJSON_Delete(out);
    free(ids);
    free(vals);
}

void qvs_points_scroll(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, false))
        return;
    qj_payload_sel wp = {0};
    qj_vector_sel wv = {0};
    qv_filter *f = NULL;
    qv_point_id *ids = NULL, start, next;
    cJSON *arr = NULL, *out = NULL;
    const cJSON *joff = member(p.body, "offset");
    uint64_t limit = 0, count = 0;
    if ((joff && !qj_id(joff, &start, resp, "offset")) ||
        !qj_uint(p.body, "limit", 10, 1, &limit, resp) ||
        !qvs_call_filter(&p, member(p.body, "filter"), &f, "filter") ||
        !qj_with_payload(p.body, true, &wp, resp) ||
        !qj_with_vector(p.body, &wv, resp) ||
        !qvs_call_check_vector_sel(&p, &wv))
        goto done;
    if (member(p.body, "order_by")) {
        /* Qdrant's check, before any paging (lib/collection/src/
         * collection/point_ops.rs, scroll_by): an id offset means nothing
         * in value order; "offset": null is no offset. */
        if (joff && !cJSON_IsNull(joff)) {
            qvs_fail(resp, 400,
                     "Wrong input: Cannot use an `offset` when using "
                     "`order_by`. The alternative for paging is to use "
                     "`order_by.start_from` and a filter to exclude the IDs "
                     "that you've already seen for the `order_by.start_from` "
                     "value");
            goto done;
        }
        scroll_ordered(&p, member(p.body, "order_by"), f, (size_t)limit, &wp,
                       &wv);
        goto done;
    }
    qv_status st = qv_count(p.coll->points, &count);
    /* No page is larger than the collection: a huge limit costs nothing. */
    size_t k = (size_t)(limit < count ? limit : count), n = 0;
    bool more = false;
    if (st == QV_OK && k) {
        if (!(ids = malloc(k * sizeof(*ids)))) {
            qvs_fail(resp, 500, "Service internal error: out of memory");
            goto done;
        }
        st = qv_scroll(p.coll->points, joff ? &start : NULL, f, k, ids, &n,
                       &next, &more);
    }
    if (st != QV_OK) {
        qj_fail_lib(resp, p.coll->points, st, "scrolling points");
        goto done;
    }
    if (!(out = cJSON_CreateObject()) ||
        !(arr = cJSON_AddArrayToObject(out, "points"))) {
        qvs_fail(resp, 500, "Service internal error: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (!append_record(&p, arr, &ids[i], &wp, &wv))
            goto done;
    cJSON *nx = more ? qj_id_json(&next) : cJSON_CreateNull();
    if (!nx || !cJSON_AddItemToObject(out, "next_page_offset", nx)) {
        cJSON_Delete(nx);
        qvs_fail(resp, 500, "Service internal error: out of memory");
        goto done;
    }
    qvs_call_result(&p, out);
    out = NULL;
done:
    cJSON_Delete(out);
    free(ids);
    qv_filter_free(f);
    qj_payload_sel_free(&wp);
    qj_vector_sel_free(&wv);
    qvs_call_close(&p);
}

void qvs_points_count(const qvs_req *req, qvs_resp *resp)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_COUNT) ||
        !qvs_call_open(&p, req, resp, false))
        return;
    qv_filter *f = NULL;
    bool exact;
    uint64_t n = 0;
    /* Counts are always exact here; `exact` is read only to check it. */
    if (qj_bool(p.body, "exact", true, &exact, resp) &&
        qvs_call_filter(&p, member(p.body, "filter"), &f, "filter")) {
        qv_status st = qv_count_filter(p.coll->points, f, &n);
        if (st != QV_OK) {
            qj_fail_lib(resp, p.coll->points, st, "counting points");
        } else {
            cJSON *o = cJSON_CreateObject();
            if (o && !cJSON_AddNumberToObject(o, "count", (double)n)) {
                cJSON_Delete(o);
                o = NULL;
            }
            qvs_call_result(&p, o);
        }
    }
    qv_filter_free(f);
    qvs_call_close(&p);
}

/* ---- order_by --------------------------------------------------------------
 */

/* Seconds since 1970 of an RFC 3339 date-time ("2024-01-02T03:04:05.5Z",
 * an offset instead of Z, or a plain date), as the datetime index stores
 * them (query.h: formulas read date-times the same way). */
bool qvs_datetime_seconds(const char *s, double *out)
{
    struct tm tm = {0};
    int n = 0;
    double frac = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) !=
        3)
        return false;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &m) != 3)
            return false;
        p += 1 + m;
        if (*p == '.') {
            char *end;
            frac = strtod(p, &end);
            p = end;
        }
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &m) != 2)
            return false;
        off = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
        p += 1 + m;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)(timegm(&tm) - off) + frac;
    return true;
}

/* A numeric start_from, read from its exact text: an integer token (no
 * '.', 'e' or 'E') that fits an i64, or a u64 above it, is kept exact in
 * start_exact; anything else is the double start_from, as serde reads
 * Qdrant's untagged StartFrom (Integer(i64) first, then Float(f64)).
 * Qdrant then rounds an integer to an f64 for its range; this does not,
 * so a start of 2^53 + 1 does not also take 2^53. */
static void start_number(const cJSON *from, qv_order_by *o)
{
    char buf[40];
    const char *t = qj_number_text(from, buf, sizeof(buf));
    o->start_from = from->valuedouble;
    if (strpbrk(t, ".eE"))
        return;
    char *end;
    errno = 0;
    if (t[0] == '-') {
        long long v = strtoll(t, &end, 10);
        if (errno || *end)
            return;
        o->start_exact.kind = QV_NUM_INT;
        o->start_exact.v.i = (int64_t)v;
        return;
    }
    unsigned long long v = strtoull(t, &end, 10);
    if (errno || *end)
        return;
    if (v > (unsigned long long)INT64_MAX) {
        o->start_exact.kind = QV_NUM_UINT;
        o->start_exact.v.u = (uint64_t)v;
    } else {
        o->start_exact.kind = QV_NUM_INT;
        o->start_exact.v.i = (int64_t)v;
    }
}

bool qvs_call_order_by_parse(qvs_call *p, const cJSON *j, qv_order_by *o)
{
    qv_order_by_init(o);
    if (cJSON_IsString(j)) {
        o->key = j->valuestring;
        return true;
    }
    const cJSON *key = member(j, "key"), *dir = member(j, "direction"),
                *from = member(j, "start_from");
    if (!cJSON_IsObject(j) || !cJSON_IsString(key))
        return qj_fail_format(p->resp, "order_by: expected a key or an object "
                                       "with a string `key`");
    o->key = key->valuestring;
    if (dir && (!cJSON_IsString(dir) || (strcmp(dir->valuestring, "asc") &&
                                         strcmp(dir->valuestring, "desc"))))
        return qj_fail_format(p->resp, "order_by.direction: unknown variant, "
                                       "expected `asc` or `desc`");
    o->descending = dir && !strcmp(dir->valuestring, "desc");
    if (cJSON_IsNumber(from)) {
        o->use_start = true;
        start_number(from, o);
    } else if (cJSON_IsString(from)) {
        o->use_start = qvs_datetime_seconds(from->valuestring, &o->start_from);
        if (!o->use_start)
            return qj_fail_format(p->resp,
                                  "order_by.start_from: `%.64s` is neither a "
                                  "number nor an RFC 3339 date-time",
                                  from->valuestring);
    } else if (from) {
        return qj_fail_format(p->resp, "order_by.start_from: expected a "
                                       "number or a date-time");
    }
    return true;
}

cJSON *qvs_order_value_json(const qv_number *v)
{
    char buf[24];
    switch (v->kind) {
    case QV_NUM_INT:
        snprintf(buf, sizeof(buf), "%" PRId64, v->v.i);
        return cJSON_CreateRaw(buf);
    case QV_NUM_UINT:
        snprintf(buf, sizeof(buf), "%" PRIu64, v->v.u);
        return cJSON_CreateRaw(buf);
    default:
        return qj_double_json(v->v.d);
    }
}

bool qvs_call_order_by_run(qvs_call *p, const qv_order_by *o,
                           const qv_filter *f, size_t limit, qv_point_id **ids,
                           qv_number **vals, size_t *n)
{
    *n = 0;
    *ids = NULL;
    *vals = NULL;
    if (limit == 0)
        return true;
    /* A huge limit (found by fuzz_grpc: a u32 limit asked for 96 GB) must
     * not size the buffers: start at the number of points and double while
     * a page comes back full.  A page may hold more records than points: a
     * point comes once per distinct value of a multi-valued key, as in
     * Qdrant (tests/openapi/test_order_by.py), so the points are only the
     * first guess. */
    size_t cap = limit;
    uint64_t total = 0;
    if (qv_count(p->coll->points, &total) == QV_OK && total < cap)
        cap = total ? (size_t)total : 1;
    qv_status st;
    for (;;) {
        qv_point_id *ni = realloc(*ids, cap * sizeof(**ids));
        if (ni)
            *ids = ni;
        qv_number *nv = ni ? realloc(*vals, cap * sizeof(**vals)) : NULL;
        if (nv)
            *vals = nv;
        if (!ni || !nv)
            return qvs_fail(p->resp, 500,
                            "Service internal error: out of memory");
        st = qv_scroll_order_by_exact(p->coll->points, o, f, cap, *ids, *vals,
                                      n);
        if (st != QV_OK || *n < cap || cap == limit)
            break;
        cap = cap > limit / 2 ? limit : cap * 2;
    }
    if (st == QV_EINVAL) {
        char msg[512];
        qv_collection_errmsg(p->coll->points, msg, sizeof msg);
        return qj_fail_bad_request(p->resp, "%s", msg);
    }
    if (st != QV_OK)
        return qj_fail_lib(p->resp, p->coll->points, st, "ordering points");
    return true;
}
