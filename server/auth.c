/*
 * auth.c -- Qdrant's API-key authentication.
 *
 * Enabled when a read-write key (--api-key) or a read-only key
 * (--read-only-api-key) is configured.  The key comes from the `api-key`
 * header or, failing that, from `Authorization: Bearer <key>`, as in
 * Qdrant.  The read-write key may call everything; the read-only key every
 * route without QVS_ROUTE_WRITE.  Routes flagged QVS_ROUTE_OPEN (/,
 * /healthz, /livez, /readyz) need no key at all.
 *
 * Keys are compared in constant time with respect to their contents, so a
 * client cannot find a key byte by byte from response times; the length of
 * the configured key may still show, which reveals nothing useful.  No key
 * is ever written to a log or an error message.
 */
#include "server.h"

#include <string.h>

/* Constant-time equality of the given key against the configured one. */
static bool key_equal(const char *configured, const char *given)
{
    size_t clen = strlen(configured), glen = strlen(given);
    volatile unsigned char diff = (unsigned char)(clen != glen);
    for (size_t i = 0; i < glen; i++) {
        unsigned char c = (unsigned char)configured[clen ? i % clen : 0];
        diff |= (unsigned char)(c ^ (unsigned char)given[i]);
    }
    return clen > 0 && diff == 0;
}

static bool key_set(const char *k)
{
    return k && *k;
}

/* The key a request carries, or NULL. */
static const char *request_key(const char *api_key_header,
                               const char *authorization)
{
    if (api_key_header)
        return api_key_header;
    static const char bearer[] = "Bearer ";
    if (authorization &&
        strncmp(authorization, bearer, sizeof(bearer) - 1) == 0)
        return authorization + sizeof(bearer) - 1;
    return NULL;
}

qvs_auth qvs_auth_check(const qvs_config *cfg, const char *api_key_header,
                        const char *authorization, bool open, bool write)
{
    if (open || !qvs_config_has_auth(cfg))
        return QVS_AUTH_OK;
    const char *key = request_key(api_key_header, authorization);
    if (!key)
        return QVS_AUTH_MISSING;
    /* Both comparisons always run: which key matched does not show. */
    bool rw = key_set(cfg->api_key) && key_equal(cfg->api_key, key);
    bool ro = key_set(cfg->read_only_api_key) &&
              key_equal(cfg->read_only_api_key, key);
    if (rw)
        return QVS_AUTH_OK;
    if (ro)
        return write ? QVS_AUTH_READ_ONLY : QVS_AUTH_OK;
    return QVS_AUTH_INVALID;
}
