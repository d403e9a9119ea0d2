/*
 * alloc.c -- aligned allocation for vector rows: 64 bytes, so every row
 * starts on a cache line and the widest (AVX-512) loads are aligned.
 */
#include "core/base/base.h"

void *qvi_alloc_aligned(size_t n)
{
    size_t rounded;
    if (!qv_add_size(n, 63, &rounded))
        return NULL;
    rounded &= ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    return aligned_alloc(64, rounded);
}
