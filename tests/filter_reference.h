/*
 * filter_reference.h -- a slow, obviously-correct filter evaluator used as
 * the oracle of test_filter.c.  It walks the filter's cJSON directly on
 * every call, shares no code with core/filter_*.c (not even the key path
 * parser), and assumes the filter is valid (the property test only feeds it
 * filters the generator knows to be valid).
 */
#ifndef QUIVER_FILTER_REFERENCE_H
#define QUIVER_FILTER_REFERENCE_H

#include "quiver.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Does the point (payload may be NULL, id may be NULL) pass filter? */
bool ref_filter_eval(const cJSON *filter, const cJSON *payload,
                     const qv_point_id *id);

/* The same, with the keys text_keys[0..n_text) carrying a full-text index:
 * match text / text_any / phrase on them (outside nested) are token
 * matches, as in Qdrant. */
bool ref_filter_eval_text(const cJSON *filter, const cJSON *payload,
                          const qv_point_id *id, const char *const *text_keys,
                          size_t n_text);

#endif
