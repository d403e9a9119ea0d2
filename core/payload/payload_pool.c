/*
 * payload_pool.c -- payload blobs stored once, however many collections
 * of a store hold the same point.
 *
 * Why.  A Qdrant collection with named vectors is built by the server from
 * several library collections: a registry of points and one collection per
 * named vector, each with a copy of the point's payload so that a filtered
 * search on any vector needs no join (server/catalog.h).  With four named
 * vectors a payload used to sit on the heap five times.  Every collection
 * of a store now hands its encoded blobs to the store's pool, which keeps
 * one blob per distinct content and counts its holders: the server writes
 * the same payload text into each library collection, the encodings are
 * equal byte for byte (the codec is deterministic: one text, one blob), so
 * the point's payload is held once, and released when its last holder
 * lets go.
 *
 * What it is.  A hash table from content (XXH3 of the bytes) to nodes
 * {blob, len, refs}; a blob's address is what a collection keeps in its
 * slot, unchanged, so readers (searches, filters, payload indexes) read
 * blobs exactly as before and never touch the pool.  Blobs are immutable
 * once interned: every payload edit builds a new blob (payload_api.c).
 *
 * Invariants.  Each node's blob is malloc'd and owned by the pool; refs >= 1
 * while the node is in the table; the byte total counts each node once.
 * qvi_blob_intern never fails: when a node cannot be allocated (or there
 * is no pool) the blob stays private to its holder, and qvi_blob_release,
 * finding no node with that address, frees it.  So it can run in the
 * "mutate" step of a write, where nothing may fail (docs/ARCHITECTURE.md,
 * the life of a write), and a collection without a pool may be given one
 * later (its private blobs are then released as private ones).  Blobs
 * borrowed from a snapshot mapping never come here (the callers test
 * qvi_backing_contains first).
 *
 * Ownership and locking.  A store owns one pool and each collection it
 * creates or recovers holds a reference (core/store.c), so the pool
 * outlives every blob in it; there is no process-wide state.  One mutex
 * per pool guards its table; it is a leaf, taken under a collection's
 * write lock and nothing is taken under it.  Writers of different
 * collections of one store contend only for a hash and a pointer swap.
 */
#include "core/payload/payload.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct pool_node {
    struct pool_node *next;
    uint8_t *blob;
    size_t len;
    uint64_t hash;
    size_t refs;
} pool_node;

struct qvi_blob_pool {
    pthread_mutex_t mu;
    pool_node **buckets; /* n_buckets heads, a power of two; NULL at start */
    size_t n_buckets;
    size_t n_nodes;
    size_t bytes; /* sum of len over the nodes */
    atomic_size_t holders;
};

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    return XXH3_64bits(p, len);
}

qv_status qvi_blob_pool_create(qvi_blob_pool **out)
{
    qvi_blob_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return QV_ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return QV_ENOMEM;
    }
    atomic_init(&p->holders, 1);
    *out = p;
    return QV_OK;
}

void qvi_blob_pool_retain(qvi_blob_pool *p)
{
    atomic_fetch_add(&p->holders, 1);
}

void qvi_blob_pool_release(qvi_blob_pool *p)
{
    if (!p || atomic_fetch_sub(&p->holders, 1) != 1)
        return;
    for (size_t i = 0; i < p->n_buckets; i++) {
        pool_node *n = p->buckets[i];
        while (n) { /* none once every holder released its blobs */
            pool_node *next = n->next;
            free(n->blob);
            free(n);
            n = next;
        }
    }
    free(p->buckets);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Doubles the bucket array when the table is full; keeps the old one when
 * the allocation fails (chains grow longer, nothing breaks). */
static void grow_nolock(qvi_blob_pool *pool)
{
    if (pool->n_nodes < pool->n_buckets)
        return;
    size_t nb = pool->n_buckets ? pool->n_buckets * 2 : 1024;
    if (nb > SIZE_MAX / sizeof(pool_node *))
        return;
    pool_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < pool->n_buckets; i++) {
        pool_node *n = pool->buckets[i];
        while (n) {
            pool_node *next = n->next;
            size_t at = (size_t)n->hash & (nb - 1);
            n->next = b[at];
            b[at] = n;
            n = next;
        }
    }
    free(pool->buckets);
    pool->buckets = b;
    pool->n_buckets = nb;
}

uint8_t *qvi_blob_intern(qvi_blob_pool *pool, uint8_t *blob, size_t len)
{
    if (!blob || !pool)
        return blob;
    uint64_t h = hash_bytes(blob, len);
    pthread_mutex_lock(&pool->mu);
    grow_nolock(pool);
    if (pool->n_buckets) {
        size_t at = (size_t)h & (pool->n_buckets - 1);
        for (pool_node *n = pool->buckets[at]; n; n = n->next) {
            if (n->hash == h && n->len == len &&
                memcmp(n->blob, blob, len) == 0) {
                n->refs++;
                pthread_mutex_unlock(&pool->mu);
                if (n->blob != blob)
                    free(blob);
                return n->blob;
            }
        }
        pool_node *n = malloc(sizeof(*n));
        if (n) {
            *n = (pool_node){.next = pool->buckets[at],
                             .blob = blob,
                             .len = len,
                             .hash = h,
                             .refs = 1};
            pool->buckets[at] = n;
            pool->n_nodes++;
            pool->bytes += len;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return blob; /* interned, or private when no node could be made */
}

void qvi_blob_release(qvi_blob_pool *pool, uint8_t *blob, size_t len)
{
    if (!blob)
        return;
    if (!pool) {
        free(blob);
        return;
    }
    uint64_t h = hash_bytes(blob, len);
    pthread_mutex_lock(&pool->mu);
    if (pool->n_buckets) {
        pool_node **pp = &pool->buckets[(size_t)h & (pool->n_buckets - 1)];
        for (; *pp; pp = &(*pp)->next) {
            pool_node *n = *pp;
            if (n->blob != blob)
                continue;
            if (--n->refs == 0) {
                *pp = n->next;
                pool->n_nodes--;
                pool->bytes -= n->len;
                pthread_mutex_unlock(&pool->mu);
                free(n->blob);
                free(n);
                return;
            }
            pthread_mutex_unlock(&pool->mu);
            return;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    free(blob); /* private: never made it into the table */
}

void qvi_blob_pool_stats(qvi_blob_pool *pool, size_t *blobs, size_t *bytes)
{
    if (!pool) {
        if (blobs)
            *blobs = 0;
        if (bytes)
            *bytes = 0;
        return;
    }
    pthread_mutex_lock(&pool->mu);
    if (blobs)
        *blobs = pool->n_nodes;
    if (bytes)
        *bytes = pool->bytes;
    pthread_mutex_unlock(&pool->mu);
}
