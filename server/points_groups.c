/*
 * points_groups.c -- POST /points/search/groups, /points/recommend/groups
 * and /points/query/groups: the best hits of a search, recommend or query
 * request gathered into groups by the value of a payload key.
 *
 * Qdrant (lib/collection/src/grouping/group_by.rs and aggregator.rs) runs
 * the request in rounds, excluding full groups and the points already
 * taken, and feeds the hits, best first, to an aggregator that keeps
 * every group it meets and answers the `limit` groups with the best best
 * hit.  Here the request runs once for every candidate
 * (qvs_query_candidates: its limit lifted, the limits of its prefetches
 * multiplied by the number of groups as Qdrant does) and the same
 * aggregation follows over that one ordered list, so the answer is the one
 * Qdrant's rounds converge to:
 *   - the group keys of a point are the values of group_by (nested keys
 *     and array elements included); a point joins the group of each
 *     distinct one; a point without any, or with one that is not a string
 *     or an integer, is skipped (Qdrant's GroupId, BadKeyType);
 *   - a group takes hits until it holds group_size;
 *   - since the walk is best first, groups are created in the order of
 *     their best hit: the answer is the first `limit` groups created, and
 *     the walk stops once those are all full (no later hit can change
 *     them).
 * Groups whose best hit is the same point come in the order of that
 * point's values; Qdrant leaves them in hash-map order.
 *
 * with_lookup names another collection (and what to return from it): each
 * group's "lookup" is that collection's record whose id is the group id,
 * omitted when there is none (or the id is no valid point id).
 *
 * Cost: the request runs over every matching point (bounded by the
 * prefetches for a query with prefetch), which is exact but not Qdrant's
 * speed on large collections.
 *
 * Threads: read-only; no server lock is taken (points.h).
 */
#include "points.h"
#include "strict.h"
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool oom(qvs_resp *r)
{
    return qvs_fail(r, 500, "Service internal error: out of memory");
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *j = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNull(j) ? NULL : j;
}

typedef struct group {
    char *key;    /* canonical text: a JSON string or integer digits */
    size_t *hits; /* indices into the candidates, best first */
    size_t n;
} group;

typedef struct grouping {
    group *v;
    size_t n, cap;
    size_t full; /* full groups among the first `limit` */
    uint64_t group_size, limit;
} grouping;

static void grouping_free(grouping *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].key);
        free(g->v[i].hits);
    }
    free(g->v);
}

/* The canonical key text of a group_by value, or NULL when the value
 * cannot name a group (Qdrant's GroupKey: strings and integers only). */
static char *key_text(const cJSON *v)
{
    char buf[64];
    if (cJSON_IsString(v))
        return cJSON_PrintUnformatted(v);
    if (!cJSON_IsNumber(v))
        return NULL;
    const char *t = qj_number_text(v, buf, sizeof(buf));
    if (!t || strpbrk(t, ".eE"))
        return NULL;
    return strdup(t);
}

static group *find_group(grouping *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->v[i].key, key) == 0)
            return &g->v[i];
    return NULL;
}

/* Adds hit number idx to the group named key (created if new); *taken
 * when it joined. */
static bool add_to_group(qvs_resp *r, grouping *g, char *key, size_t idx)
{
    group *gr = find_group(g, key);
    if (!gr) {
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 16;
            group *v = realloc(g->v, cap * sizeof(*v));
            if (!v) {
                free(key);
                return oom(r);
            }
            g->v = v;
            g->cap = cap;
        }
        gr = &g->v[g->n++];
        memset(gr, 0, sizeof(*gr));
        gr->key = key;
        if (!(gr->hits = malloc(g->group_size * sizeof(size_t))))
            return oom(r);
    } else {
        free(key);
    }
    if (gr->n >= g->group_size)
        return true;
    gr->hits[gr->n++] = idx;
    if (gr->n == g->group_size && (uint64_t)(gr - g->v) < g->limit)
        g->full++;
    return true;
}

/* The distinct group keys of one point's payload. */
static bool point_keys(qvs_call *p, const qv_point_id *id, const char *by,
                       char ***keys, size_t *n)
{
    char *json = NULL;
    size_t len = 0;
    *keys = NULL;
    *n = 0;
    qv_status st = qv_payload_get(p->coll->points, id, NULL, &json, &len);
    if (st == QV_ENOTFOUND)
        return true;
    if (st != QV_OK)
        return qj_fail_lib(p->resp, p->coll->points, st, "reading a payload");
    char perr[128];
    cJSON *pl = qj_parse(json, len, perr, sizeof(perr));
    qv_free(json);
    if (!pl)
        return oom(p->resp);
    size_t total = qvs_json_path_values(pl, by, NULL, 0);
    const cJSON **vals = malloc((total ? total : 1) * sizeof(*vals));
    char **k = calloc(total ? total : 1, sizeof(*k));
    bool ok = vals && k;
    if (ok) {
        qvs_json_path_values(pl, by, vals, total);
        for (size_t i = 0; i < total; i++) {
            char *t = key_text(vals[i]);
            if (!t) { /* one value that names no group: no group at all */
                for (size_t j = 0; j < *n; j++)
                    free(k[j]);
                *n = 0;
                break;
            }
            bool dup = false;
            for (size_t j = 0; j < *n; j++)
                dup = dup || strcmp(k[j], t) == 0;
            if (!dup)
                k[(*n)++] = t;
            else
                free(t);
        }
    } else {
        oom(p->resp);
    }
    free(vals);
    cJSON_Delete(pl);
    if (!ok) {
        free(k);
        return false;
    }
    *keys = k;
    return true;
}

/* Walks the candidates best first into groups until the first `limit`
 * groups are full. */
static bool aggregate(qvs_call *p, const char *by, const qvs_scored *hits,
                      size_t n, grouping *g)
{
    for (size_t i = 0; i < n && g->full < g->limit; i++) {
        char **keys = NULL;
        size_t nk = 0;
        if (!point_keys(p, &hits[i].id, by, &keys, &nk))
            return false;
        bool ok = true;
        for (size_t k = 0; k < nk; k++) {
            if (ok)
                ok = add_to_group(p->resp, g, keys[k], i);
            else
                free(keys[k]);
        }
        free(keys);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- the request --------------------------------------------------------- */

typedef struct greq {
    const char *by;
    uint64_t group_size, limit;
    qj_payload_sel wp;
    qj_vector_sel wv;
    qvs_coll *lookup; /* with_lookup collection (referenced), or NULL */
    qj_payload_sel lwp;
    qj_vector_sel lwv;
} greq;

static void greq_free(qvs_call *p, greq *g)
{
    qj_payload_sel_free(&g->wp);
    qj_vector_sel_free(&g->wv);
    qj_payload_sel_free(&g->lwp);
    qj_vector_sel_free(&g->lwv);
    if (g->lookup)
        qvs_coll_release(p->req->catalog, g->lookup);
}

/* with_lookup: "collection" or {"collection", "with_payload" (default
 * true), "with_vectors" or its alias "with_vector" (default false)}. */
static bool parse_lookup(qvs_call *p, const cJSON *o, greq *g)
{
    const cJSON *wl = member(o, "with_lookup");
    const char *name = NULL;
    if (!wl)
        return true;
    if (cJSON_IsString(wl)) {
        name = wl->valuestring;
        g->lwp.on = true;
    } else if (cJSON_IsObject(wl)) {
        /* "with_vector" is an alias (serde alias in Qdrant's WithLookup;
         * tests/openapi/test_group.py uses both spellings). */
        const cJSON *wv = member(wl, "with_vectors");
        if (!wv)
            wv = member(wl, "with_vector");
        cJSON *tmp = cJSON_CreateObject();
        if (!tmp || (wv && !cJSON_AddItemReferenceToObject(tmp, "with_vector",
                                                           (cJSON *)wv))) {
            cJSON_Delete(tmp);
            return oom(p->resp);
        }
        bool ok = qj_string(wl, "collection", &name, p->resp) &&
                  qj_with_payload(wl, true, &g->lwp, p->resp) &&
                  qj_with_vector(tmp, &g->lwv, p->resp);
        cJSON_Delete(tmp);
        if (!ok)
            return false;
        if (!name)
            return qj_fail_format(p->resp,
                                  "with_lookup: missing field `collection`");
    } else {
        return qj_fail_format(p->resp,
                              "with_lookup: data did not match any variant "
                              "of untagged enum WithLookupInterface");
    }
    if (!qvs_catalog_get(p->req->catalog, name, &g->lookup)) {
        g->lookup = NULL;
        return qj_fail_not_found(p->resp, "Collection %s not found", name);
    }
    return true;
}

/* group_by, group_size, limit (required for the legacy forms, defaults 3
 * and 10 for query/groups), with_payload, with_vector, with_lookup. */
static bool parse_greq(qvs_call *p, const cJSON *o, bool legacy, greq *g)
{
    memset(g, 0, sizeof(*g));
    if (!cJSON_IsObject(o))
        return qj_fail_format(p->resp, "invalid type: %s, expected an object",
                              qj_type_name(o));
    if (legacy && !member(o, "group_size"))
        return qj_fail_format(p->resp, "missing field `group_size`");
    if (legacy && !member(o, "limit"))
        return qj_fail_format(p->resp, "missing field `limit`");
    if (!qj_string(o, "group_by", &g->by, p->resp) ||
        !qj_uint(o, "group_size", 3, 1, &g->group_size, p->resp) ||
        !qj_uint(o, "limit", 10, 1, &g->limit, p->resp) ||
        !qj_with_payload(o, false, &g->wp, p->resp) ||
        !qj_with_vector(o, &g->wv, p->resp) ||
        !qvs_call_check_vector_sel(p, &g->wv))
        return false;
    if (!g->by)
        return qj_fail_format(p->resp, "missing field `group_by`");
    if (!g->by[0])
        return qj_fail_validation(p->resp, "group_by: value \"\" invalid, "
                                           "must be at least 1 character");
    return parse_lookup(p, o, g);
}

/* ---- the answer ---------------------------------------------------------- */

/* The group id as JSON: the string, or the integer with its exact text. */
static cJSON *group_id_json(const char *key)
{
    if (key[0] == '"')
        return cJSON_Parse(key);
    return cJSON_CreateRaw(key);
}

/* The lookup record whose id is the group's, or NULL (*none when there is
 * none to give). */
static cJSON *lookup_record(qvs_call *p, const greq *g, const char *key,
                            bool *none)
{
    qv_point_id id;
    char perr[64];
    cJSON *j = qj_parse(key, strlen(key), perr, sizeof(perr));
    qvs_resp quiet = {0};
    *none = true;
    bool valid = j && qj_id(j, &id, &quiet, "id");
    cJSON_Delete(j);
    if (!valid)
        return NULL;
    qvs_call lp = *p;
    lp.coll = g->lookup;
    bool gone = false;
    cJSON *r = qvs_call_record(&lp, &id, &g->lwp, &g->lwv, &gone);
    *none = r == NULL && gone;
    return r;
}

static cJSON *group_json(qvs_call *p, const greq *g, const group *gr,
                         const qvs_scored *cands)
{
    cJSON *o = cJSON_CreateObject(), *hits = cJSON_CreateArray();
    cJSON *id = group_id_json(gr->key);
    if (!o || !hits || !id || !cJSON_AddItemToObject(o, "id", id)) {
        cJSON_Delete(o);
        cJSON_Delete(hits);
        cJSON_Delete(id);
        oom(p->resp);
        return NULL;
    }
    cJSON_AddItemToObject(o, "hits", hits);
    for (size_t i = 0; i < gr->n; i++) {
        bool gone = false;
        cJSON *h =
            qvs_query_point_json(p, &cands[gr->hits[i]], &g->wp, &g->wv, &gone);
        if (!h && !gone) {
            cJSON_Delete(o);
            return NULL;
        }
        if (h)
            cJSON_AddItemToArray(hits, h);
    }
    if (g->lookup) {
        bool none = false;
        cJSON *r = lookup_record(p, g, gr->key, &none);
        if (!r && !none) {
            cJSON_Delete(o);
            return NULL;
        }
        if (r)
            cJSON_AddItemToObject(o, "lookup", r);
    }
    return o;
}

static void answer(const qvs_req *req, qvs_resp *resp, qvs_query_form form)
{
    qvs_call p;
    if (!qvs_strict_check(req, resp, QVS_STRICT_READ) ||
        !qvs_call_open(&p, req, resp, true))
        return;
    greq g;
    grouping gs = {0};
    qvs_scored *cands = NULL;
    size_t n = 0;
    cJSON *res = NULL;
    if (!parse_greq(&p, p.body, form != QVS_FORM_QUERY, &g) ||
        !qvs_query_candidates(&p, p.body, form, g.limit, &cands, &n))
        goto done;
    gs.group_size = g.group_size;
    gs.limit = g.limit;
    if (!aggregate(&p, g.by, cands, n, &gs))
        goto done;
    size_t keep = gs.n < g.limit ? gs.n : (size_t)g.limit; /* best first */
    cJSON *list = cJSON_CreateArray();
    if (!(res = cJSON_CreateObject()) || !list ||
        !cJSON_AddItemToObject(res, "groups", list)) {
        cJSON_Delete(list);
        oom(resp);
        goto done;
    }
    for (size_t i = 0; i < keep; i++) {
        cJSON *gj = group_json(&p, &g, &gs.v[i], cands);
        if (!gj) {
            cJSON_Delete(res);
            res = NULL;
            goto done;
        }
        cJSON_AddItemToArray(list, gj);
    }
    qvs_call_result(&p, res);
    res = NULL;
done:
    cJSON_Delete(res);
    grouping_free(&gs);
    free(cands);
    greq_free(&p, &g);
    qvs_call_close(&p);
}

void qvs_points_search_groups(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, QVS_FORM_SEARCH);
}

void qvs_points_recommend_groups(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, QVS_FORM_RECOMMEND);
}

void qvs_points_query_groups(const qvs_req *req, qvs_resp *resp)
{
    answer(req, resp, QVS_FORM_QUERY);
}
