/*
 * filter_gen.h -- random payloads and filters for property tests.
 */
#ifndef QUIVER_TESTS_FILTER_GEN_H
#define QUIVER_TESTS_FILTER_GEN_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* Restarts the generator at seed. */
void gen_seed(uint64_t seed);
/* A uniform integer in [0, n). */
uint32_t gen_rnd(uint32_t n);
/* A random JSON value nested at most depth levels (any type). */
cJSON *gen_value(int depth);
/* A random valid Qdrant filter nested at most depth levels. */
cJSON *gen_filter(int depth);
/* One of the four payload keys the filters name ("a".."d"). */
const char *gen_key(unsigned i);

#endif
