/*
 * payload_pool.c -- payload blobs stored once, however many collections
 * hold the same point.
 *
 * Why.  A Qdrant collection with named vectors is built by the server from
 * several library collections: a registry of points and one collection per
 * named vector, each with a copy of the point's payload so that a filtered
 * search on any vector needs no join (server/catalog.h).  With four named
 * vectors a payload used to sit on the heap five times.  Every collection
 * now hands its encoded blobs to this pool, which keeps one blob per
 * distinct content and counts its holders: the server writes the same
 * payload text into each library collection, the encodings are equal byte
 * for byte (the codec is deterministic: one text, one blob), so the
 * point's payload is held once, and released when its last holder lets go.
 *
 * What it is.  A hash table from content (FNV-1a of the bytes) to nodes
 * {blob, len, refs}; a blob's address is what a collection keeps in its
 * slot, unchanged, so readers (searches, filters, payload indexes) read
 * blobs exactly as before and never touch the pool.  Blobs are immutable
 * once interned: every payload edit builds a new blob (payload_api.c).
 *
 * Invariants.  Each node's blob is malloc'd and owned by the pool; refs >= 1
 * while the node is in the table; the byte total counts each node once.
 * qvi_blob_intern never fails: when a node cannot be allocated the blob
 * stays private to its holder (not in the table), and qvi_blob_release,
 * finding no node for it, frees it.  So it can run in the "mutate" step of
 * a write, where nothing may fail (docs/ARCHITECTURE.md, the life of a
 * write).  Blobs borrowed from a snapshot mapping never come here (the
 * callers test qvi_backing_contains first).
 *
 * Locking.  One process-wide mutex guards the table; it is a leaf, taken
 * under a collection's write lock and nothing is taken under it.  This is
 * the second piece of global mutable state next to the SIMD table
 * (STYLE.md asks for one): a pool per store would not cover collections
 * created outside a store, and sharing is exactly what the pool is for, so
 * a single one is the clearer thing.  Writers of different collections
 * contend only for a hash and a pointer swap.
 */
#include "core/payload/payload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_node {
    struct pool_node *next;
    uint8_t *blob;
    size_t len;
    uint64_t hash;
    size_t refs;
} pool_node;

static struct {
    pthread_mutex_t mu;
    pool_node **buckets; /* n_buckets heads, a power of two; NULL at start */
    size_t n_buckets;
    size_t n_nodes;
    size_t bytes; /* sum of len over the nodes */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Doubles the bucket array when the table is full; keeps the old one when
 * the allocation fails (chains grow longer, nothing breaks). */
static void grow_nolock(void)
{
    if (pool.n_nodes < pool.n_buckets)
        return;
    size_t nb = pool.n_buckets ? pool.n_buckets * 2 : 1024;
    if (nb > SIZE_MAX / sizeof(pool_node *))
        return;
    pool_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < pool.n_buckets; i++) {
        pool_node *n = pool.buckets[i];
        while (n) {
            pool_node *next = n->next;
            size_t at = (size_t)n->hash & (nb - 1);
            n->next = b[at];
            b[at] = n;
            n = next;
        }
    }
    free(pool.buckets);
    pool.buckets = b;
    pool.n_buckets = nb;
}

uint8_t *qvi_blob_intern(uint8_t *blob, size_t len)
{
    if (!blob)
        return NULL;
    uint64_t h = hash_bytes(blob, len);
    pthread_mutex_lock(&pool.mu);
    grow_nolock();
    if (pool.n_buckets) {
        size_t at = (size_t)h & (pool.n_buckets - 1);
        for (pool_node *n = pool.buckets[at]; n; n = n->next) {
            if (n->hash == h && n->len == len &&
                memcmp(n->blob, blob, len) == 0) {
                n->refs++;
                pthread_mutex_unlock(&pool.mu);
                if (n->blob != blob)
                    free(blob);
                return n->blob;
            }
        }
        pool_node *n = malloc(sizeof(*n));
        if (n) {
            *n = (pool_node){.next = pool.buckets[at],
                             .blob = blob,
                             .len = len,
                             .hash = h,
                             .refs = 1};
            pool.buckets[at] = n;
            pool.n_nodes++;
            pool.bytes += len;
        }
    }
    pthread_mutex_unlock(&pool.mu);
    return blob; /* interned, or private when no node could be made */
}

void qvi_blob_release(uint8_t *blob, size_t len)
{
    if (!blob)
        return;
    uint64_t h = hash_bytes(blob, len);
    pthread_mutex_lock(&pool.mu);
    if (pool.n_buckets) {
        pool_node **pp = &pool.buckets[(size_t)h & (pool.n_buckets - 1)];
        for (; *pp; pp = &(*pp)->next) {
            pool_node *n = *pp;
            if (n->blob != blob)
                continue;
            if (--n->refs == 0) {
                *pp = n->next;
                pool.n_nodes--;
                pool.bytes -= n->len;
                pthread_mutex_unlock(&pool.mu);
                free(n->blob);
                free(n);
                return;
            }
            pthread_mutex_unlock(&pool.mu);
            return;
        }
    }
    pthread_mutex_unlock(&pool.mu);
    free(blob); /* private: never made it into the table */
}

void qvi_blob_pool_stats(size_t *blobs, size_t *bytes)
{
    pthread_mutex_lock(&pool.mu);
    if (blobs)
        *blobs = pool.n_nodes;
    if (bytes)
        *bytes = pool.bytes;
    pthread_mutex_unlock(&pool.mu);
}
