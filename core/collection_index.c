/*
 * collection_index.c -- keeps a collection's HNSW graph in step with its
 * points and decides when a search uses it.
 *
 * The graph (core/hnsw_*.c) names nodes by slot and reads vectors from the
 * collection's array through a view made afresh for every call, because
 * the array moves when it grows.  Every function here runs under the
 * collection's lock: updates under the write lock (and their linking
 * under the shared lock, see below), searches under the shared lock with
 * a scratch taken from the collection's pool.
 *
 * Failure policy.  The points are the truth and the graph is derived from
 * them, so a failed graph update (out of memory) must not fail a write
 * whose rows are already stored.  Instead the graph is marked stale,
 * searches fall back to the exact scan, which is always correct, and the
 * next write rebuilds the graph from the live slots.  A write therefore
 * never fails halfway, and a search never sees a graph that disagrees with
 * the points.
 *
 * Snapshots.  A graph mapped from a snapshot file without verification is
 * checked in full before its first update and rebuilt if it fails (see
 * mapped_graph_ready_locked).
 *
 * Chunked graph inserts beside searches.  Inserting a batch into the
 * graph is most of an upsert's cost (a 64-point batch of 128-d rows:
 * milliseconds).  Done under the write lock it made every search wait
 * (Quiver issue 11: search p99 4-6x higher beside writers); done in
 * short chunks under the write lock, searches still waited behind each
 * chunk and behind the drain of readers each chunk's write lock needs.
 * So the insert is split by what it touches (core/hnsw/hnsw.h, "Locking
 * model"):
 *   - under the write lock, with the rows, ids and payloads (the first
 *     section of the upsert, right after the WAL record): the quantized
 *     codes and qvi_hnsw_insert_prepare for the new points, which grows
 *     the graph's arrays, draws the levels and allocates the nodes, so
 *     that linking them cannot fail;
 *   - under the shared lock, searches running beside it: relinking the
 *     replaced points in place (qvi_hnsw_replace: unlinked as a delete
 *     would, then linked again at the same level, nothing freed), linking
 *     the new ones (qvi_hnsw_insert_link), both changing link records
 *     with atomic stores, then the amortised reconnect pass.  graph_mu,
 *     which the upsert holds throughout, makes it the only linker.  A
 *     replacement can fail (out of memory, a damaged graph): the graph
 *     then goes stale, under the write lock, and is rebuilt later.
 * Replacing ids is the common case of a steady write load (re-embedding,
 * the benchmark below): unlinking 100 points of 768 dims took about as
 * long as linking them, so the replacements must leave the write lock
 * too.
 * The shared lock is still let go every CHUNK_POINTS points or CHUNK_NS
 * (PARALLEL_CHUNK points for bulk batches), as Qdrant's segment updater
 * applies an upsert in chunks of UPDATE_OP_CHUNK_SIZE = 32 points "so
 * that parallel read operations are not starved" (shard/update/points/
 * upsert.rs): the lock prefers writers, so a writer queued for it (a
 * payload edit) would otherwise hold the searches queued behind it for
 * the whole batch.
 *
 * What a search sees meanwhile: every row, id and payload of the batch
 * is written, and the graph holds the collection's old points plus the
 * batch's points linked so far (a point becomes reachable only once its
 * own links are complete, hnsw_build.c).  So a point of the batch is
 * found by scans, retrieve, scroll and count at once, and by graph
 * searches once linked, as in Qdrant; qv_indexed_count counts the linked
 * ones.  A replaced point keeps its place in the graph, with its new
 * vector (so its distance is right) and its old links until relinked.
 * Durability
 * is untouched: the WAL record was written whole before any mutation,
 * and the graph is derived state that replay rebuilds.  Everything that
 * would see the graph disagree with the points for good (another graph
 * write, a snapshot save) waits on graph_mu until the last point is
 * linked.  The first build of the graph when the collection crosses its
 * threshold, and the rebuild of a stale graph, still hold the write lock
 * whole.
 *
 * When to use the graph.  As in Qdrant, below full_scan_threshold_kb
 * kilobytes of vectors a scan is as fast as a graph walk and exact, so
 * small collections are scanned; exact=true always scans.  The graph is
 * not even built until the collection first crosses the threshold: then
 * it is built from all the points in one parallel batch, and kept in step
 * from there on (also if the collection shrinks again).
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "core/multi/multi.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Batches smaller than this are inserted by the calling thread alone:
 * starting threads costs more than it saves. */
#define PARALLEL_MIN_BATCH 2048u
/* Chunks of a graph insert (see "Chunked graph inserts"): a serial chunk
 * ends after CHUNK_POINTS points (Qdrant's UPDATE_OP_CHUNK_SIZE) or once
 * it has run CHUNK_NS, whichever comes first, so that the shared lock is
 * held about half a millisecond at a time whatever the dimension; a
 * parallel chunk is PARALLEL_CHUNK points.  The count bound makes the
 * number of chunks independent of machine speed (tests rely on it). */
#define CHUNK_POINTS   32u
#define CHUNK_NS       500000ll
#define PARALLEL_CHUNK 4096u

/* The graph of a multivector collection reads the records of c->multi
 * (hnsw.h, qvi_vecview.offs) through the MaxSim kernel. */
static qvi_vecview view_of(const qv_collection *c)
{
    qvi_vecview v = {.base = c->vecs,
                     .stride = c->row_bytes / sizeof(float),
                     .dim = c->cfg.dim,
                     .metric = c->cfg.metric};
    if (c->multi) {
        v.base = c->multi->arena;
        v.offs = c->multi->offs;
    }
    return v;
}

static qv_status new_graph(const qv_collection *c, qvi_hnsw **out)
{
    qvi_hnsw_params p;
    qvi_hnsw_params_init(&p);
    p.m = c->cfg.hnsw_m;
    p.ef_construct = c->cfg.hnsw_ef_construct;
    p.seed = c->cfg.hnsw_seed;
    if (c->multi)
        p.custom = qvi_multi_kernel_of(c->cfg.metric, c->cfg.datatype);
    p.datatype = qvi_row_datatype(&c->cfg);
    qv_status st = qvi_hnsw_create(&p, c->cfg.dim, c->cfg.metric, out);
    if (st == QV_OK && c->graph_on_disk &&
        (st = qvi_hnsw_links_on_disk(*out, c->graph_dir)) != QV_OK) {
        qvi_hnsw_free(*out);
        *out = NULL;
    }
    return st;
}

qv_status qv_collection_set_graph_on_disk(qv_collection *c, const char *dir)
{
    if (!c)
        return QV_ENULL;
    if (c->cfg.kind == QV_VECTOR_SPARSE)
        return qvi_fail(c->err, QV_EINVAL,
                        "a sparse vector has no HNSW graph to keep on disk");
    char *d = NULL;
    if (dir && !(d = strdup(dir)))
        return qvi_fail(c->err, QV_ENOMEM, "out of memory");
    qv_status st = QV_OK;
    /* graph_mu too: a chunked graph insert (hol) must not see its links
     * move between two chunks. */
    pthread_mutex_lock(&c->graph_mu);
    pthread_rwlock_wrlock(&c->lock);
    if (!c->graph_on_disk) {
        st = qvi_hnsw_links_on_disk(c->index, dir);
        if (st == QV_OK) {
            c->graph_on_disk = true;
            c->graph_dir = d;
            d = NULL;
        } else {
            qvi_fail(c->err, st, "cannot make the on-disk graph file in %s",
                     dir ? dir : "$TMPDIR");
        }
    }
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->graph_mu);
    free(d);
    return st;
}

qv_status qvi_index_create(qv_collection *c)
{
    if (pthread_mutex_init(&c->pool_mu, NULL) != 0)
        return QV_ENOMEM;
    if (pthread_mutex_init(&c->graph_mu, NULL) != 0) {
        pthread_mutex_destroy(&c->pool_mu);
        return QV_ENOMEM;
    }
    qv_status st = new_graph(c, &c->index);
    if (st != QV_OK) {
        pthread_mutex_destroy(&c->graph_mu);
        pthread_mutex_destroy(&c->pool_mu);
        return st;
    }
    /* An empty graph mirrors an empty collection; with a threshold the
     * graph waits until the collection is big enough to need it. */
    c->index_ok = c->cfg.full_scan_threshold_kb == 0;
    return QV_OK;
}

void qvi_index_destroy(qv_collection *c)
{
    qvi_hnsw_free(c->index);
    for (size_t i = 0; i < c->pool_n; i++)
        qvi_hnsw_scratch_free(c->pool[i]);
    free(c->pool);
    pthread_mutex_destroy(&c->graph_mu);
    pthread_mutex_destroy(&c->pool_mu);
}

static unsigned build_threads(const qv_collection *c, size_t n)
{
    if (n < PARALLEL_MIN_BATCH)
        return 1;
    if (c->cfg.max_indexing_threads)
        return c->cfg.max_indexing_threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)cpus : 1;
}

/* Rebuilds the graph from every live slot; on failure keeps it stale. */
static void rebuild_locked(qv_collection *c)
{
    qvi_hnsw *fresh = NULL;
    uint32_t *slots = malloc((c->count ? c->count : 1) * sizeof(uint32_t));
    if (!slots || new_graph(c, &fresh) != QV_OK)
        goto fail;
    size_t n = 0;
    for (uint32_t s = 0; s < c->used; s++) {
        if (c->live[s])
            slots[n++] = s;
    }
    qvi_vecview v = view_of(c);
    if (qvi_hnsw_insert_batch(fresh, &v, slots, n, build_threads(c, n)) !=
        QV_OK)
        goto fail;
    qvi_hnsw_free(c->index);
    c->index = fresh;
    c->index_ok = true;
    c->rebuild_after = 0;
    free(slots);
    return;
fail:
    /* Retrying on every write would rebuild under the write lock again and
     * again; wait until the collection has grown by a tenth. */
    c->rebuild_after = c->count + c->count / 10 + 1;
    qvi_hnsw_free(fresh);
    free(slots);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* True when the collection holds at least full_scan_threshold_kb of
 * vectors, the size from which a graph walk beats a scan. */
static bool above_threshold(const qv_collection *c)
{
    /* Bytes in the element type, as Qdrant's
     * size_of_available_vectors_in_bytes (count * dim * size_of::<T>(),
     * lib/segment/src/vector_storage/dense/): a float16 collection reaches
     * the threshold at twice the points of a float32 one. */
    double kb = (double)c->count * c->cfg.dim * c->elem / 1024.0;
    return c->count > 0 && kb >= (double)c->cfg.full_scan_threshold_kb;
}

/* A graph mapped from a snapshot that was opened without
 * QV_SNAPSHOT_VERIFY has not been checked: searches tolerate bad links
 * (hnsw_search.c), updates do not.  So before its first update the whole
 * graph is checked once, and a graph that fails is rebuilt from the
 * vectors (whose rows already hold the pending write).  Returns false when
 * the graph was rebuilt or is stale: the caller's update is then done. */
static bool mapped_graph_ready_locked(qv_collection *c)
{
    if (!c->index_ok)
        return false;
    if (!c->backing || !qvi_backing_take_graph_check(c->backing))
        return true;
    qvi_vecview v = view_of(c);
    qvi_hnsw_stats stats;
    qv_status st = qvi_hnsw_check(c->index, &v, &stats, NULL, 0);
    /* Nodes left unreachable since the last reconnect are no damage (the
     * amortised reconnect of hnsw_connect.c will link them): the structure
     * passed, since reachability is checked last. */
    if (st == QV_OK || (st == QV_ECORRUPT && stats.unreachable > 0))
        return true;
    c->index_ok = false; /* until the rebuild succeeds */
    rebuild_locked(c);
    return false;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Links slots[0..*k) one by one in the calling thread: the first (nrep -
 * done, if positive) are points already in the graph that get their new
 * vector (qvi_hnsw_replace), the others were prepared.  Stops early once
 * CHUNK_NS has passed (after at least one) and sets *k to the number
 * done.  The test hook sees each point linked, with the shared lock
 * held.  Returns false if a replacement failed (the graph is then valid
 * but no longer mirrors the points). */
static bool link_timed(qv_collection *c, const qvi_vecview *v,
                       const uint32_t *slots, size_t *k, size_t done,
                       size_t nrep, size_t total)
{
    long long start = now_ns();
    for (size_t i = 0; i < *k; i++) {
        if (done + i < nrep) {
            if (qvi_hnsw_replace(c->index, v, slots[i]) != QV_OK)
                return false;
        } else {
            qvi_hnsw_insert_link(c->index, v, slots + i, 1, 1);
        }
        if (c->link_hook)
            c->link_hook(c->chunk_hook_arg, done + i + 1, total);
        if (now_ns() - start >= CHUNK_NS) {
            *k = i + 1;
            break;
        }
    }
    return true;
}

void qvi_index_update_locked(qv_collection *c, uint32_t *slots, size_t n)
{
    qvi_quant_update_locked(c, slots, n); /* quantized codes */
    if (c->index_ok && !mapped_graph_ready_locked(c))
        return;
    if (!c->index_ok) {
        /* Built lazily in one parallel batch once the collection crosses
         * the threshold (or after a failed update). */
        if (above_threshold(c) && c->count >= c->rebuild_after)
            rebuild_locked(c);
        return;
    }
    /* A slot written twice in one batch is indexed once, with its final
     * vector. */
    qsort(slots, n, sizeof(uint32_t), compare_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || slots[u - 1] != slots[i])
            slots[u++] = slots[i];
    }
    if (u == 0)
        return;
    /* Replaced points (already in the graph) first, then new ones, each
     * part in slot order. */
    size_t nrep = 0;
    for (size_t i = 0; i < u; i++) {
        if (qvi_hnsw_contains(c->index, slots[i])) {
            uint32_t t = slots[nrep];
            slots[nrep++] = slots[i];
            slots[i] = t;
        }
    }
    qsort(slots, nrep, sizeof(uint32_t), compare_u32);
    qsort(slots + nrep, u - nrep, sizeof(uint32_t), compare_u32);
    /* Everything that allocates, under the write lock: the new points'
     * nodes (hnsw.h, "Locking model").  A replaced point keeps its node
     * and gets relinked in place. */
    qvi_vecview v = view_of(c);
    if (qvi_hnsw_insert_prepare(c->index, &v, slots + nrep, u - nrep) !=
        QV_OK) {
        c->index_ok = false;
        return;
    }
    unsigned threads = build_threads(c, u - nrep);
    pthread_rwlock_unlock(&c->lock);
    bool ok = true;
    for (size_t done = 0; done < u && ok;) {
        if (done > 0 && c->chunk_hook)
            c->chunk_hook(c->chunk_hook_arg, done, u);
        /* Searches run beside the linking (see "Chunked graph inserts");
         * the lock is let go between chunks only so that a writer queued
         * for it (the lock prefers writers) does not hold up the searches
         * queued behind it for the whole batch.  No graph writer can come
         * in (graph_mu), and nothing else moves the rows, but the view is
         * cheap to redo. */
        pthread_rwlock_rdlock(&c->lock);
        v = view_of(c);
        size_t k = u - done;
        if (threads > 1 && done >= nrep) {
            if (k > PARALLEL_CHUNK)
                k = PARALLEL_CHUNK;
            qvi_hnsw_insert_link(c->index, &v, slots + done, k, threads);
        } else {
            if (done < nrep && k > nrep - done)
                k = nrep - done; /* a parallel part may follow */
            if (k > CHUNK_POINTS)
                k = CHUNK_POINTS;
            ok = link_timed(c, &v, slots + done, &k, done, nrep, u);
        }
        done += k;
        if (done < u && ok)
            pthread_rwlock_unlock(&c->lock);
    }
    if (!ok) {
        /* A damaged graph (in-degrees that disagree with the links) or no
         * memory for a replacement: searches may go on using it, it is
         * valid, but it misses points now, so it goes stale (under the
         * write lock: searches read index_ok) and is rebuilt later. */
        pthread_rwlock_unlock(&c->lock);
        pthread_rwlock_wrlock(&c->lock);
        c->index_ok = false;
        return;
    }
    /* Still under the shared lock: the amortised reconnect pass, a
     * linker too (hnsw_connect.c).  Out of memory leaves the graph valid,
     * and the next insert tries again. */
    (void)qvi_hnsw_maintain(c->index, &v);
}

void qvi_index_set_chunk_hook(
    qv_collection *c, void (*fn)(void *arg, size_t inserted, size_t total),
    void (*link_fn)(void *arg, size_t linked, size_t total), void *arg)
{
    pthread_mutex_lock(&c->graph_mu);
    c->chunk_hook = fn;
    c->link_hook = link_fn;
    c->chunk_hook_arg = arg;
    pthread_mutex_unlock(&c->graph_mu);
}

void qvi_index_remove_locked(qv_collection *c, uint32_t slot)
{
    /* A stale graph's rebuild will skip the dead slot, and so did the
     * rebuild of a mapped graph that failed its check. */
    if (!mapped_graph_ready_locked(c))
        return;
    qvi_vecview v = view_of(c);
    if (qvi_hnsw_remove(c->index, &v, slot) != QV_OK)
        c->index_ok = false;
}

bool qvi_index_should_use(const qv_collection *c,
                          const qv_search_params *params)
{
    if (params->exact || !c->index_ok || params->k > QV_MAX_EF)
        return false;
    return above_threshold(c);
}

static qvi_hnsw_scratch *take_scratch(qv_collection *c)
{
    qvi_hnsw_scratch *s = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->pool_n)
        s = c->pool[--c->pool_n];
    pthread_mutex_unlock(&c->pool_mu);
    if (!s && qvi_hnsw_scratch_create(&s) != QV_OK)
        return NULL;
    return s;
}

static void give_scratch(qv_collection *c, qvi_hnsw_scratch *s)
{
    pthread_mutex_lock(&c->pool_mu);
    if (c->pool_n == c->pool_cap) {
        size_t cap = c->pool_cap ? c->pool_cap * 2 : 4;
        qvi_hnsw_scratch **p = realloc(c->pool, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&c->pool_mu);
            qvi_hnsw_scratch_free(s);
            return;
        }
        c->pool = p;
        c->pool_cap = cap;
    }
    c->pool[c->pool_n++] = s;
    pthread_mutex_unlock(&c->pool_mu);
}

uint32_t qvi_default_ef(const qv_search_params *params)
{
    if (params->hnsw_ef)
        return params->hnsw_ef;
    return params->k > 128 ? params->k : 128;
}

qv_status qvi_index_search_locked(qv_collection *c, const float *q,
                                  const qv_search_params *params,
                                  const qvi_accept *acc, uint32_t ef,
                                  qvi_topk *t)
{
    qvi_hnsw_scratch *s = take_scratch(c);
    if (!s)
        return QV_ENOMEM;
    if (qvi_quant_should_use(c, params)) {
        qv_status st = qvi_quant_search_locked(c, q, params, acc, ef, s, t);
        give_scratch(c, s);
        return st;
    }
    qvi_vecview v = view_of(c);
    size_t n = 0;
    /* Narrow rows: the graph scores the query's encoding (core.h); a
     * multivector query is a record already (core/multi/). */
    if (c->narrow && !c->multi)
        q += c->stride;
    qv_status st = qvi_hnsw_search(c->index, &v, q, params->k, ef, acc, s,
                                   t->slots, t->dists, &n);
    give_scratch(c, s);
    t->n = st == QV_OK ? n : 0;
    return st;
}

/* ---- public: how much of the collection the graph covers ----------------- */

qv_status qv_indexed_count(qv_collection *c, uint64_t *out)
{
    if (!c)
        return QV_ENULL;
    if (!out)
        return qvi_fail(c->err, QV_ENULL, "output is NULL");
    pthread_rwlock_rdlock(&c->lock);
    /* A stale graph (or one not built yet) indexes nothing a search uses. */
    *out = c->index_ok && c->index ? qvi_hnsw_count(c->index) : 0;
    pthread_rwlock_unlock(&c->lock);
    return QV_OK;
}
