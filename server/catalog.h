/*
 * catalog.h -- the server's Qdrant collections, their aliases and their
 * storage.
 *
 * A Qdrant collection has one unnamed vector or several named ones, each
 * with its own size and distance, and one payload per point.  The library's
 * qv_collection holds exactly one vector per point, so a Qdrant collection
 * (qvs_coll) is built from library collections:
 *   - one unnamed vector, in a collection created before this server
 *     gave every new collection the named layout: a single qv_collection
 *     holds the points, their vectors and their payloads (points ==
 *     vectors[0].coll).  Such a collection keeps that layout (catalog.json
 *     records it); it cannot hold a point without a vector;
 *   - named vectors: `points` is a registry collection (every point id with
 *     its payload; its one-float vector is unused) and each named vector has
 *     its own qv_collection holding the points that have that vector, with
 *     their payloads so that filtered searches need no join.  The library
 *     keeps equal payload blobs once on the heap (core/payload/
 *     payload_pool.c), so these copies cost one blob per point;
 *   - an unnamed dense vector in a new collection (alone, beside sparse
 *     vectors, or declared in the map form {"vectors": {"": {...}}} as
 *     LangChain's QdrantVectorStore does): the named layout, the dense
 *     vector being named vector "" (Qdrant's DEFAULT_VECTOR_NAME) with its
 *     own library collection, so that, as in Qdrant, a point may come
 *     without it ("vector": {}: stored, counted, shown as {}, never found
 *     by a search).  Requests reach it as they reach an unnamed vector (a
 *     plain array in upserts, `using` omitted or "" in queries), and a
 *     point whose only shown vector is "" prints it as a plain array
 *     (points_common.c).  The config keeps the shape it was created with:
 *     one VectorParams or a map (qvs_config_vparams finds a vector's
 *     params in either).
 * `named` is thus the storage layout, not the config's shape: it is true
 * whenever points has library collections beside it.
 * Handlers that change more than one library collection hold write_mu, so
 * such changes are applied in one order; readers do not take it.
 *
 * Lookups accept a collection name or an alias and return a counted
 * reference, so a collection deleted while a request uses it stays valid
 * until the request releases it.
 */
#ifndef QUIVER_SERVER_CATALOG_H
#define QUIVER_SERVER_CATALOG_H

#include "quiver.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qvs_catalog qvs_catalog;

typedef struct qvs_vector {
    char *name; /* "" for the unnamed vector */
    uint32_t size;
    qv_metric metric;
    qv_collection *coll; /* the points that have this vector */
    bool sparse;         /* a sparse vector (server/sparse.h): size 0, coll is a
                            QV_VECTOR_SPARSE library collection */
} qvs_vector;

typedef struct qvs_coll {
    char *name;
    bool named; /* the named layout: a registry plus one library collection
                   per vector (vectors given as a map, or sparse ones) */
    size_t n_vectors;
    qvs_vector *vectors;   /* sorted by name */
    qv_collection *points; /* every point and its payload (see above) */
    cJSON *config;         /* the CollectionInfo "config" object, as created
                              and patched; read-only outside catalog.c */
    pthread_mutex_t write_mu;
    /* private to catalog.c below */
    unsigned refs;      /* under the catalog's lock */
    uint64_t id;        /* catalog id: library names derive from it */
    char *points_lib;   /* store name of `points` */
    char **vector_libs; /* store name of vectors[i].coll */
    qv_collection_config *vector_cfgs; /* library config of vectors[i] */
    cJSON *payload_schema; /* {field: PayloadIndexInfo minus "points"};
                              replaced under the catalog's lock */
    struct qvs_strict_rates *strict; /* strict mode's rate limiters
                                        (strict.h), for the handlers */
} qvs_coll;

/* Looks up a collection by name or alias; *out gets a reference released
 * with qvs_coll_release.  Returns false (and *out NULL) if neither exists.
 * Thread-safe. */
bool qvs_catalog_get(qvs_catalog *cat, const char *name_or_alias,
                     qvs_coll **out);

void qvs_coll_release(qvs_catalog *cat, qvs_coll *c);

/* The vector called name ("" for the unnamed one), or NULL. */
const qvs_vector *qvs_coll_vector(const qvs_coll *c, const char *name);

/* The next operation id of the server that owns cat: increasing, starting
 * at 1, unique across the server's collections (UpdateResult.operation_id).
 * Thread-safe (an atomic counter in the catalog). */
uint64_t qvs_catalog_next_op_id(qvs_catalog *cat);

#endif /* QUIVER_SERVER_CATALOG_H */
