/*
 * strict.h -- Qdrant's strict mode (the collection's strict_mode_config),
 * enforced on the requests Qdrant enforces it on.
 *
 * Each endpoint handler calls qvs_strict_check once, with the kind of
 * request it serves, before it applies or reads anything; a refused request
 * changes nothing.  The limits come from the collection's config as
 * created and patched; the per-minute read and write token buckets live in
 * the collection (qvs_coll.strict) and follow the configured rates.
 */
#ifndef QUIVER_SERVER_STRICT_H
#define QUIVER_SERVER_STRICT_H

#include "api.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct qvs_coll;

/* What a request does, which decides the checks that apply. */
typedef enum {
    QVS_STRICT_READ,         /* search, query, recommend, discover, groups,
                                scroll, count, facet, matrix, retrieve */
    QVS_STRICT_READ_BATCH,   /* {"searches": [read, ...]} */
    QVS_STRICT_COUNT,        /* count: `exact` defaults to true */
    QVS_STRICT_UPSERT,       /* PUT points */
    QVS_STRICT_UPDATE_VECS,  /* PUT points/vectors */
    QVS_STRICT_WRITE_FILTER, /* delete, payload ops, delete vectors */
    QVS_STRICT_SET_PAYLOAD,  /* set and overwrite payload: also the
                                payload storage limit */
    QVS_STRICT_WRITE_BATCH,  /* POST points/batch */
    QVS_STRICT_INDEX,        /* PUT index */
} qvs_strict_kind;

/* The rate limiters of one collection.  Thread-safe (a mutex inside). */
typedef struct qvs_strict_rates qvs_strict_rates;

/* A monotonic clock in nanoseconds; tests inject their own. */
typedef uint64_t (*qvs_strict_clock)(void *arg);

qvs_strict_rates *qvs_strict_rates_new(void); /* NULL on ENOMEM */
void qvs_strict_rates_free(qvs_strict_rates *r);
void qvs_strict_rates_set_clock(qvs_strict_rates *r, qvs_strict_clock now,
                                void *arg);

/* Takes cost tokens from the read (write = false) or write bucket, which
 * holds per_minute tokens at most and refills per_minute / 60 a second
 * (Qdrant's RateLimiter, lib/common/common/src/rate_limiting.rs); a
 * changed per_minute restarts the bucket full.  On refusal sets a 429
 * with Qdrant's message and resp->retry_after (whole seconds) and returns
 * false. */
bool qvs_strict_take(qvs_strict_rates *r, bool write, uint64_t per_minute,
                     double cost, qvs_resp *resp);

/* Checks request req (body and query string) of the given kind on the
 * collection named by its first path parameter.  True when strict mode is
 * off, the collection is missing (the handler answers 404) or every check
 * passes; otherwise sets Qdrant's error and returns false. */
bool qvs_strict_check(const qvs_req *req, qvs_resp *resp, qvs_strict_kind kind);

/* Whether the collection named by req's first path parameter has strict
 * mode enabled, i.e. whether qvs_strict_check would check anything (false
 * for a missing collection).  Takes no tokens.  For callers that must not
 * run a check twice (the gRPC fast path falls back to the general route
 * when it would apply).  Thread-safe. */
bool qvs_strict_enabled(const qvs_req *req);

/* Checks a strict_mode_config given at create or in a PATCH (anything
 * but an object: nothing to check, the caller refuses a non-map): each
 * setting's type and Qdrant's minimums (400 for a wrong type, 422 for a value
 * out of range, as serde and the validator answer).  Thread-safe. */
bool qvs_strict_config_check(const cJSON *sm, qvs_resp *r);

#endif /* QUIVER_SERVER_STRICT_H */
