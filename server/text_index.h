/*
 * text_index.h -- full-text index params over REST (text_index.c).
 */
#ifndef QUIVER_SERVER_TEXT_INDEX_H
#define QUIVER_SERVER_TEXT_INDEX_H

#include "quiver.h"
#include "api.h"

#include <cjson/cJSON.h>

/* Reads and validates the field_schema object of a "text" index and
 * returns the params as Qdrant shows them (a new tree, the caller's), or
 * NULL after qvs_fail (400 / 422 with Qdrant's message, 500). */
cJSON *qvs_text_index_params(const cJSON *schema, qvs_resp *r);

/* Creates the full-text index on field of lib with params (as
 * qvs_text_index_params returned them).  The library's status. */
qv_status qvs_text_index_create(qv_collection *lib, const char *field,
                                const cJSON *params);

#endif /* QUIVER_SERVER_TEXT_INDEX_H */
