/*
 * crash_common.h -- what crash_writer.c writes and test_crash.c checks.
 */
#ifndef QUIVER_CRASH_COMMON_H
#define QUIVER_CRASH_COMMON_H

#include <stdint.h>
#include <stdio.h>

#define CRASH_DIM    8u
#define CRASH_K      8u  /* points per batch */
#define CRASH_GROUPS 50u /* batch b overwrites group b % CRASH_GROUPS */

/* Exact in float for every batch number a run reaches. */
static inline void crash_vector(uint64_t b, unsigned i, float *v)
{
    for (unsigned d = 0; d < CRASH_DIM; d++)
        v[d] = (float)((b * 31 + i * 7 + d) % 100000) * 0.25f - 1000.0f;
}

/* The sparse mode's vector of point i of batch b: CRASH_DIM entries whose
 * indices move with the batch, so that every overwrite changes posting
 * lists. */
static inline void crash_sparse(uint64_t b, unsigned i, uint32_t *idx,
                                float *val)
{
    crash_vector(b, i, val);
    for (unsigned d = 0; d < CRASH_DIM; d++)
        idx[d] = d * 3u + (uint32_t)(b % 3);
}

static inline size_t crash_payload(uint64_t b, unsigned i, char *buf,
                                   size_t cap)
{
    return (size_t)snprintf(buf, cap, "{\"b\":%llu,\"i\":%u}",
                            (unsigned long long)b, i);
}

#endif /* QUIVER_CRASH_COMMON_H */
