/*
 * dashboard.c -- the web UI at /dashboard: static files compiled in.
 *
 * The UI (server/dashboard/: HTML, CSS and plain JavaScript modules, no
 * framework, nothing fetched from elsewhere) is turned into C arrays at
 * build time (cmake/embed_assets.cmake, dashboard.h), so the binary is the
 * whole installation and a page can never come from a different version
 * than the server.  The UI talks to the server only through the public
 * REST API, with the browser's fetch, as any client would.
 *
 * Authorisation follows Qdrant, which serves its dashboard from a path
 * whitelisted in its API-key middleware (src/actix/web_ui.rs, WEB_UI_PATH,
 * and the whitelist in src/actix/mod.rs): the files themselves need no key
 * (QVS_ROUTE_OPEN; they hold no data), and the page asks the user for the
 * key when an API call answers 401 or 403 and sends it as the `api-key`
 * header from then on.  The files are served in the connection loop
 * (QVS_ROUTE_INLINE): they take no lock and cost one copy.
 *
 * Caching: every file carries a strong ETag derived from its content at
 * build time and "Cache-Control: no-cache", so a browser revalidates on
 * each load (If-None-Match answered 304 with no body) and never shows the
 * UI of an older binary.  As Qdrant does for its UI, the replies carry
 * "X-Frame-Options: DENY"; they also forbid content sniffing and set a
 * Content-Security-Policy that allows only this origin, so the pages can
 * load no script or style from anywhere else.
 *
 * GET /dashboard (and "/dashboard/", which the router treats alike) is
 * index.html; GET /dashboard/<file> is that file; any other name is 404
 * with an empty body, as Qdrant's static-file service answers.
 */
#include "dashboard.h"
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Content types by file extension; an asset of another kind is a build
 * mistake, which the dashboard_assets test reports. */
static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"json", "application/json"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
};

static const char csp[] =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static const qvs_dash_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < qvs_dash_assets_n; i++)
        if (strcmp(qvs_dash_assets[i].name, name) == 0)
            return &qvs_dash_assets[i];
    return NULL;
}

/* If-None-Match against our tag: "*" or a comma-separated list of entity
 * tags, compared weakly (a W/ prefix ignored), as RFC 9110 section 13.1.2
 * asks for this header. */
static bool etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t len = strcspn(p, ", \t");
        if (len == elen && memcmp(p, etag, elen) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Fills r with a copy of len bytes of data (may be 0) and the headers
 * every dashboard reply carries. */
static void reply(qvs_resp *r, int status, const void *data, size_t len,
                  const char *type, const char *etag)
{
    r->raw_body = malloc(len ? len : 1);
    if (!r->raw_body) {
        qvs_fail(r, 500, "Service internal error: out of memory");
        return;
    }
    memcpy(r->raw_body, data, len);
    r->raw_len = len;
    r->raw_type = type;
    r->http_status = status;
    static const char *const fixed[][2] = {
        {"Cache-Control", "no-cache"},
        {"X-Frame-Options", "DENY"},
        {"X-Content-Type-Options", "nosniff"},
        {"Content-Security-Policy", csp},
    };
    size_t n = 0;
    for (; n < sizeof(fixed) / sizeof(fixed[0]); n++) {
        r->headers[n][0] = fixed[n][0];
        r->headers[n][1] = fixed[n][1];
    }
    if (etag) {
        r->headers[n][0] = "ETag";
        r->headers[n][1] = etag;
    }
}

static void serve_asset(const qvs_req *req, qvs_resp *r, const char *name)
{
    const qvs_dash_asset *a = find_asset(name);
    if (!a) {
        reply(r, 404, "", 0, "text/plain; charset=utf-8", NULL);
        return;
    }
    const char *inm = qvs_req_header(req, "If-None-Match");
    if (inm && etag_matches(inm, a->etag)) {
        reply(r, 304, "", 0, type_of(a->name), a->etag);
        return;
    }
    reply(r, 200, a->data, a->len, type_of(a->name), a->etag);
}

static void dashboard_index(const qvs_req *req, qvs_resp *r)
{
    serve_asset(req, r, "index.html");
}

static void dashboard_file(const qvs_req *req, qvs_resp *r)
{
    serve_asset(req, r, req->params[0]);
}

const qvs_route qvs_dashboard_routes[] = {
    {"GET", "/dashboard", dashboard_index, QVS_ROUTE_OPEN | QVS_ROUTE_INLINE,
     "dashboard"},
    {"GET", "/dashboard/{file}", dashboard_file,
     QVS_ROUTE_OPEN | QVS_ROUTE_INLINE, "dashboard"},
};
const size_t qvs_dashboard_routes_n =
    sizeof(qvs_dashboard_routes) / sizeof(qvs_dashboard_routes[0]);
