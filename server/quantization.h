/*
 * quantization.h -- Qdrant's quantization on the server: a collection's
 * quantization_config applied to its library collections, and the
 * `params.quantization` of searches (quantization.c).
 */
#ifndef QUIVER_SERVER_QUANTIZATION_H
#define QUIVER_SERVER_QUANTIZATION_H

#include "quiver.h"
#include "server.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

struct qvs_coll;

/* The quantization config in effect for the vector whose params echo is
 * vparams (a VectorParams object of the CollectionInfo config): its own
 * quantization_config, else the collection's (config), written into
 * lib's quantization fields.  Kinds the library does not implement
 * (product, turbo) leave QV_QUANTIZATION_NONE: they are kept and shown,
 * and searches read the floats. */
void qvs_quant_effective(const cJSON *config, const cJSON *vparams,
                         qv_collection_config *lib);

/* The VectorParams echo of vector i of c in config (NULL if missing). */
const cJSON *qvs_quant_vparams(const cJSON *config, const struct qvs_coll *c,
                               size_t i);

/* Brings each library collection of c's vectors to the quantization its
 * config (config: c->config or the one about to replace it) says, rebuilding
 * the codes of those that change (under each collection's write lock;
 * searches wait).  Returns QV_OK or the first failure, with its message in
 * err (cap bytes). */
qv_status qvs_quant_sync(const struct qvs_coll *c, const cJSON *config,
                         char *err, size_t cap);

/* A search's params.quantization: {ignore, rescore, oversampling}. */
typedef struct qvs_quant_search {
    bool ignore;
    uint32_t rescore; /* a qv_rescore */
    double oversampling;
} qvs_quant_search;

/* Parses params.quantization (params may be NULL; null or absent: the
 * defaults).  Wrong types are 400, oversampling below 1 is 422, as
 * Qdrant's.  Returns false with the error set on r. */
bool qvs_quant_search_parse(const cJSON *params, qvs_quant_search *out,
                            qvs_resp *r);

/* Copies q into the library's search params. */
void qvs_quant_search_apply(const qvs_quant_search *q, qv_search_params *sp);

#endif /* QUIVER_SERVER_QUANTIZATION_H */
