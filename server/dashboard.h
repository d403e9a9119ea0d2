/*
 * dashboard.h -- the web UI's files as the build compiles them in.
 *
 * cmake/embed_assets.cmake turns every file of server/dashboard/ into one
 * entry of qvs_dash_assets (a generated C file in the build directory,
 * never committed); server/dashboard.c serves them at /dashboard/<name>.
 * Everything here is immutable for the life of the process.
 */
#ifndef QUIVER_SERVER_DASHBOARD_H
#define QUIVER_SERVER_DASHBOARD_H

#include <stddef.h>

typedef struct qvs_dash_asset {
    const char *name;          /* "index.html": a file name, no folder */
    const unsigned char *data; /* the file's bytes, NUL-terminated */
    size_t len;                /* without the NUL */
    const char *etag;          /* "\"<16 hex digits of its SHA-256>\"" */
} qvs_dash_asset;

extern const qvs_dash_asset qvs_dash_assets[];
extern const size_t qvs_dash_assets_n;

#endif /* QUIVER_SERVER_DASHBOARD_H */
