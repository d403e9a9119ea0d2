/*
 * router.c -- matching a request's method and path to a route.
 *
 * Paths are matched on decoded segments, never on the raw text: the raw
 * path is split at '/', empty segments are dropped (Qdrant trims a
 * trailing slash and merges "//"), and each segment is percent-decoded on
 * its own, so "%2F" stays inside a segment and "%2e%2e" is the literal
 * segment "..", which no pattern has.  Authorisation is decided from the
 * route that matched (http.c), so no spelling of a path reaches a handler
 * with weaker checks than its own route's.
 *
 * Every route is tried; among those whose pattern matches the path, the
 * one that is literal at the first segment where two differ wins (Qdrant
 * registers ".../points/scroll" before ".../points/{id}" for the same
 * effect).  A path some route matches but none with this method is 405;
 * one no route matches is 404.  The tables are small (tens of routes), so
 * a linear scan costs less than the JSON parse of any request.
 */
#include "qjson.h"
#include "routes.h"
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the routes of one table.  Returns false on a malformed pattern. */
static bool add_table(qvs_router *r, const qvs_route *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qvs_router_entry *e = &r->entries[r->n];
        memset(e, 0, sizeof(*e));
        e->route = &table[i];
        e->pattern_copy = strdup(table[i].pattern);
        if (!e->pattern_copy)
            return false;
        r->n++;
        char *save = NULL;
        size_t captures = 0;
        for (char *s = strtok_r(e->pattern_copy, "/", &save); s;
             s = strtok_r(NULL, "/", &save)) {
            if (e->n_segs == QVS_MAX_SEGMENTS)
                return false;
            size_t len = strlen(s);
            bool cap = len >= 2 && s[0] == '{' && s[len - 1] == '}';
            if (cap && ++captures > QVS_MAX_PARAMS)
                return false;
            e->capture[e->n_segs] = cap;
            e->segs[e->n_segs++] = s;
        }
    }
    return true;
}

/* Every route table (routes.h), one per line so that adding one is a
 * one-line change. */
typedef struct route_table {
    const qvs_route *routes;
    const size_t *n;
} route_table;

static const route_table TABLES[] = {
    {qvs_service_routes, &qvs_service_routes_n},
    {qvs_collection_routes, &qvs_collection_routes_n},
    {qvs_snapshot_routes, &qvs_snapshot_routes_n},
    {qvs_points_routes, &qvs_points_routes_n},
    {qvs_facet_routes, &qvs_facet_routes_n},
    {qvs_matrix_routes, &qvs_matrix_routes_n},
    {qvs_full_snapshot_routes, &qvs_full_snapshot_routes_n},
    {qvs_dashboard_routes, &qvs_dashboard_routes_n},
    {qvs_vector_name_routes, &qvs_vector_name_routes_n},
    {qvs_cluster_routes, &qvs_cluster_routes_n},
    {qvs_shard_snapshot_routes, &qvs_shard_snapshot_routes_n},
};
#define N_TABLES (sizeof(TABLES) / sizeof(TABLES[0]))

const char *qvs_route_public_pattern(const qvs_route *route, char *buf,
                                     size_t cap)
{
    static const char from[] = "{name}", to[] = "{collection_name}";
    const char *p = route->pattern, *at = strstr(p, from);
    if (!at)
        snprintf(buf, cap, "%s", p);
    else
        snprintf(buf, cap, "%.*s%s%s", (int)(at - p), p, to,
                 at + sizeof(from) - 1);
    return buf;
}

bool qvs_router_init(qvs_router *r)
{
    memset(r, 0, sizeof(*r));
    size_t total = 0;
    for (size_t t = 0; t < N_TABLES; t++)
        total += *TABLES[t].n;
    r->entries = calloc(total ? total : 1, sizeof(*r->entries));
    if (!r->entries)
        return false;
    for (size_t t = 0; t < N_TABLES; t++) {
        if (*TABLES[t].n && !add_table(r, TABLES[t].routes, *TABLES[t].n)) {
            qvs_router_free(r);
            return false;
        }
    }
    return true;
}

void qvs_router_free(qvs_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->entries[i].pattern_copy);
    free(r->entries);
    memset(r, 0, sizeof(*r));
}

static bool path_matches(const qvs_router_entry *e, char **segs, size_t n)
{
    if (e->n_segs != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!e->capture[i] && strcmp(e->segs[i], segs[i]) != 0)
            return false;
    return true;
}

/* True if a is more literal than b at their first difference. */
static bool more_literal(const qvs_router_entry *a, const qvs_router_entry *b)
{
    for (size_t i = 0; i < a->n_segs && i < b->n_segs; i++)
        if (a->capture[i] != b->capture[i])
            return !a->capture[i];
    return false;
}

static bool method_matches(const char *route, const char *method)
{
    if (strcmp(route, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route, "GET") == 0;
}

int qvs_router_match(const qvs_router *r, const char *method, char **segs,
                     size_t n_segs, size_t *index, const char **params,
                     size_t *n_params)
{
    const qvs_router_entry *best = NULL;
    bool any_path = false;
    for (size_t i = 0; i < r->n; i++) {
        const qvs_router_entry *e = &r->entries[i];
        if (!path_matches(e, segs, n_segs))
            continue;
        any_path = true;
        if (!method_matches(e->route->method, method))
            continue;
        /* An exact method beats HEAD's fallback to GET at equal paths. */
        if (!best || more_literal(e, best) ||
            (!more_literal(best, e) && strcmp(e->route->method, method) == 0))
            best = e;
    }
    if (!best)
        return any_path ? QVS_MATCH_NO_METHOD : QVS_MATCH_NO_PATH;
    *index = (size_t)(best - r->entries);
    *n_params = 0;
    for (size_t i = 0; i < best->n_segs; i++)
        if (best->capture[i])
            params[(*n_params)++] = segs[i];
    return QVS_MATCH_OK;
}

int qvs_path_split(char *path, char **segs, size_t *n_segs)
{
    *n_segs = 0;
    char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *start = p;
        while (*p && *p != '/')
            p++;
        if (*p)
            *p++ = '\0';
        if (*n_segs == QVS_MAX_SEGMENTS)
            return QVS_PATH_TOO_LONG;
        size_t raw = strlen(start);
        size_t len = qvs_unescape(start, false);
        /* A "%00" decodes to NUL: the segment would be cut short. */
        if (len > raw || strlen(start) != len)
            return QVS_PATH_NUL;
        if (!qj_utf8_valid(start, len))
            return QVS_PATH_NOT_UTF8;
        segs[(*n_segs)++] = start;
    }
    return QVS_PATH_OK;
}

size_t qvs_unescape(char *s, bool plus)
{
    char *out = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) &&
            isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], '\0'};
            *out++ = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            *out++ = plus && *p == '+' ? ' ' : *p;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}
