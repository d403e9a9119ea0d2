/*
 * hnsw_graph.c -- layout and life cycle of the HNSW index: creation,
 * growth, node allocation, the level generator and memory accounting.
 *
 * Layout
 * ------
 * The index stores links, never vectors: the collection owns the vectors
 * and passes a qvi_vecview to every call, since it may move them when it
 * grows.  Per slot the index keeps
 *   links0[s * rec0 ..]  level-0 record, [count, up to 2m links], 4+8m bytes
 *   indeg0[s]            number of level-0 links pointing at s
 *   levels[s]            the node's top level, QVI_HNSW_ABSENT if not in
 *   upper[s]             levels 1..L: L records [count, in-degree, m links]
 *   locks[s]             one byte, the batch build's spinlock
 *   sqn[s]               dot only: |x_s|^2, for the build distance
 * which is 4 + 8m + 4 + 1 + 8 + 1 bytes plus, on average, about
 * 4(m+2)/(m-1) bytes of upper records: 155 bytes a node for m = 16.
 * hnswlib keeps the vector, a 64-bit label, a std::mutex per node and a
 * label hash map on top of the same links, and that is 2-5 times more before
 * the vectors.  Links are 32-bit slot numbers, as in hnswlib, so a
 * record could be written to a file or mapped as is.
 *
 * Why level 0 is a flat arena: it holds almost all links, and a search
 * spends nearly all its time there, so one multiplication finds a record
 * and records of nearby slots share pages.  Upper records are few (a node
 * reaches level l with probability m^-l) and are allocated per node, as in
 * hnswlib; a pointer per slot is cheaper than an offset-managed arena with
 * its own free lists, and they are freed when a node is removed.
 *
 * Growth
 * ------
 * qvi_hnsw_reserve grows every per-slot array to a new capacity (at least
 * 1.5 times the old).  Each array that realloc moves is adopted at once, and
 * cap is raised only when all have grown, so a failure leaves a working
 * index with its old capacity (and some arrays merely larger).
 *
 * Levels
 * ------
 * Levels are floor(-ln(U) / ln(m)) (the paper's mL = 1/ln(M)) from a
 * splitmix64 generator seeded by the caller, never by the clock, so a build
 * replays exactly in one thread.  They are capped at QVI_HNSW_MAX_LEVEL:
 * reaching it needs m^30 nodes at m = 2, so the cap never bites in
 * practice but bounds every per-level array.
 *
 * Borrowed arrays
 * ---------------
 * A graph mapped from a snapshot borrows its per-slot arrays and upper
 * blocks from the file's copy-on-write mapping (borrow_lo/borrow_len in
 * struct qvi_hnsw).  Freeing skips them; growth copies a borrowed array
 * into a new block instead of realloc'ing it, the same one copy a realloc
 * that moves would make.
 *
 * Locking: everything here is a writer's job (the caller's write lock),
 * except qvi_hnsw_memory_bytes, qvi_hnsw_count and qvi_hnsw_contains,
 * which are readers (count also beside a linker, see hnsw.h).
 */
#define QVI_HNSW_INTERNAL
#include "core/hnsw/hnsw.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qvi_hnsw_params_init(qvi_hnsw_params *p)
{
    p->m = QV_DEFAULT_HNSW_M;
    p->ef_construct = QV_DEFAULT_EF_CONSTRUCT;
    p->seed = 0x5155495645ull;
    p->custom = NULL;
    p->datatype = QV_DATATYPE_FLOAT32;
}

qv_status qvi_hnsw_create(const qvi_hnsw_params *p, uint32_t dim,
                          qv_metric metric, qvi_hnsw **out)
{
    if (!out)
        return QV_ENULL;
    *out = NULL;
    if (!p)
        return QV_ENULL;
    if (p->m < QV_MIN_HNSW_M || p->m > QV_MAX_HNSW_M ||
        p->ef_construct < QV_MIN_EF_CONSTRUCT ||
        p->ef_construct > QV_MAX_EF_CONSTRUCT || dim < QV_MIN_DIM ||
        dim > QV_MAX_DIM)
        return QV_ERANGE;

    const qvi_kernels *k = qvi_simd();
    qvi_hnsw_kernel kern;
    bool negate = false;
    switch (metric) {
    case QV_METRIC_COSINE:
    case QV_METRIC_DOT:
        kern = k->dot;
        negate = true;
        break;
    case QV_METRIC_EUCLID:
        kern = k->l2sq;
        break;
    case QV_METRIC_MANHATTAN:
        kern = k->l1;
        break;
    default:
        return QV_EINVAL;
    }

    qvi_hnsw_kernel l2k = k->l2sq;
    uint32_t elem = sizeof(float);
    if (!p->custom && p->datatype != QV_DATATYPE_FLOAT32) {
        if (!qvi_datatype_kernel(p->datatype, QVI_ROWK_DOT))
            return QV_EINVAL;
        int which = metric == QV_METRIC_EUCLID             ? QVI_ROWK_L2SQ
                    : metric == QV_METRIC_MANHATTAN        ? QVI_ROWK_L1
                    : qvi_byte_cosine(metric, p->datatype) ? QVI_ROWK_COS
                                                           : QVI_ROWK_DOT;
        kern = qvi_datatype_kernel(p->datatype, which);
        l2k = qvi_datatype_kernel(p->datatype, QVI_ROWK_L2SQ);
        elem = (uint32_t)qvi_datatype_size(p->datatype);
    }
    if (p->custom) {
        kern = p->custom;
        negate = false;
    }

    qvi_hnsw *h = calloc(1, sizeof(*h));
    if (!h)
        return QV_ENOMEM;
    if (pthread_mutex_init(&h->entry_mu, NULL) != 0) {
        free(h);
        return QV_ENOMEM;
    }
    h->m = p->m;
    h->m0 = 2 * p->m;
    h->ef_construct = p->ef_construct;
    h->dim = dim;
    h->metric = metric;
    h->level_mult = 1.0 / log((double)p->m);
    h->kern = kern;
    h->negate = negate;
    h->custom = p->custom != NULL;
    h->l2k = l2k;
    h->elem = elem;
    h->rec0 = 1 + (size_t)h->m0;
    h->recu = 2 + (size_t)h->m;
    h->max_level = -1;
    h->links_arena.fd = -1;
    h->rng = p->seed;
    *out = h;
    return QV_OK;
}

static void free_owned(const qvi_hnsw *h, void *p)
{
    if (!qvi_hnsw_borrowed(h, p))
        free(p);
}

void qvi_hnsw_free(qvi_hnsw *h)
{
    if (!h)
        return;
    if (h->upper) {
        for (uint32_t s = 0; s < h->cap; s++) {
            if (h->upper[s])
                free_owned(h, h->upper[s]);
        }
    }
    free(h->upper);
    if (!qvi_maparena_contains(&h->links_arena, h->links0))
        free_owned(h, h->links0);
    qvi_maparena_close(&h->links_arena);
    free(h->links_dir);
    free_owned(h, h->indeg0);
    free_owned(h, h->levels);
    free(h->locks);
    free_owned(h, h->sqn);
    qvi_hnsw_scratch_free(h->wscratch);
    pthread_mutex_destroy(&h->entry_mu);
    free(h);
}

/* Grows *p (n_old elements of size sz) to n_new elements; adopts the new
 * block on success.  A borrowed array is copied out, once. */
static bool grow_array(const qvi_hnsw *h, void **p, size_t n_old, size_t n_new,
                       size_t sz)
{
    size_t bytes;
    if (!qv_mul_size(n_new, sz, &bytes))
        return false;
    void *np;
    if ((*p && qvi_hnsw_borrowed(h, *p)) || bytes >= QVI_HUGE_MIN) {
        /* Large arrays (the link records) move to huge pages: a copy per
         * growth, which realloc's mremap would have saved (alloc.c). */
        np = bytes >= QVI_HUGE_MIN ? qvi_alloc_aligned(bytes) : malloc(bytes);
        if (np && n_old)
            memcpy(np, *p, n_old * sz);
        if (np && *p && !qvi_hnsw_borrowed(h, *p))
            free(*p);
    } else {
        np = realloc(*p, bytes);
    }
    if (!np)
        return false;
    *p = np;
    return true;
}

/* grow_array for links0 of an on_disk graph: the arena grows (the mapping
 * may move, no copy), or, when links0 is on the heap or borrowed from a
 * snapshot, a new arena takes a copy. */
static bool grow_links_mapped(qvi_hnsw *h, size_t n_old, size_t n_new,
                              size_t sz)
{
    size_t bytes;
    if (!qv_mul_size(n_new, sz, &bytes))
        return false;
    bool in_arena =
        h->links_arena.fd >= 0 &&
        (n_old == 0 || qvi_maparena_contains(&h->links_arena, h->links0));
    if (in_arena) {
        if (qvi_maparena_grow(&h->links_arena, bytes) != QV_OK)
            return false;
        h->links0 = h->links_arena.base;
        return true;
    }
    qvi_maparena a;
    if (qvi_maparena_open(&a, h->links_dir, bytes) != QV_OK)
        return false;
    if (n_old)
        memcpy(a.base, h->links0, n_old * sz);
    if (h->links0 && !qvi_hnsw_borrowed(h, h->links0))
        free(h->links0);
    qvi_maparena_close(&h->links_arena); /* holds no links */
    h->links_arena = a;
    h->links0 = a.base;
    return true;
}

qv_status qvi_hnsw_links_on_disk(qvi_hnsw *h, const char *dir)
{
    if (!h)
        return QV_ENULL;
    if (h->links_on_disk)
        return QV_OK;
    char *d = NULL;
    if (dir && !(d = strdup(dir)))
        return QV_ENOMEM;
    char *old_dir = h->links_dir;
    h->links_dir = d;
    bool borrowed = h->links0 && qvi_hnsw_borrowed(h, h->links0);
    if (!borrowed) {
        /* Heap links move now (an empty graph gets its file now, so a bad
         * dir is refused here). */
        size_t rec0_bytes = h->rec0 * sizeof(uint32_t);
        h->links_on_disk = true;
        if (!grow_links_mapped(h, h->cap, h->cap ? h->cap : 1, rec0_bytes)) {
            h->links_on_disk = false;
            h->links_dir = old_dir;
            free(d);
            return QV_EIO;
        }
    }
    free(old_dir);
    h->links_on_disk = true;
    return QV_OK;
}

qv_status qvi_hnsw_reserve(qvi_hnsw *h, size_t n_slots)
{
    if (!h)
        return QV_ENULL;
    if (n_slots <= h->cap)
        return QV_OK;
    if (n_slots > QVI_HNSW_MAX_SLOTS)
        return QV_ERANGE;
    size_t ncap = (size_t)h->cap + h->cap / 2;
    if (ncap < n_slots)
        ncap = n_slots;
    if (ncap < 64)
        ncap = 64;
    if (ncap > QVI_HNSW_MAX_SLOTS)
        ncap = QVI_HNSW_MAX_SLOTS;
    size_t rec0_bytes;
    if (!qv_mul_size(h->rec0, sizeof(uint32_t), &rec0_bytes))
        return QV_ENOMEM;

    size_t oc = h->cap;
    if (h->links_on_disk && !grow_links_mapped(h, oc, ncap, rec0_bytes))
        return QV_ENOMEM;
    if ((!h->links_on_disk &&
         !grow_array(h, (void **)&h->links0, oc, ncap, rec0_bytes)) ||
        !grow_array(h, (void **)&h->indeg0, oc, ncap, sizeof(uint32_t)) ||
        !grow_array(h, (void **)&h->levels, oc, ncap, 1) ||
        !grow_array(h, (void **)&h->upper, oc, ncap, sizeof(uint32_t *)) ||
        !grow_array(h, (void **)&h->locks, oc, ncap, 1))
        return QV_ENOMEM;
    if (h->metric == QV_METRIC_DOT && !h->custom &&
        !grow_array(h, (void **)&h->sqn, oc, ncap, sizeof(float)))
        return QV_ENOMEM;
    size_t old = h->cap;
    memset(h->levels + old, QVI_HNSW_ABSENT, ncap - old);
    memset(h->locks + old, 0, ncap - old);
    for (size_t s = old; s < ncap; s++)
        h->upper[s] = NULL;
    h->cap = (uint32_t)ncap;
    return QV_OK;
}

bool qvi_hnsw_contains(const qvi_hnsw *h, uint32_t slot)
{
    return h && slot < h->cap && h->levels[slot] != QVI_HNSW_ABSENT;
}

uint64_t qvi_hnsw_count(const qvi_hnsw *h)
{
    /* Atomic: a linker adds to it beside the readers (hnsw.h). */
    return h ? __atomic_load_n(&h->count, __ATOMIC_RELAXED) : 0;
}

unsigned qvi_hnsw_random_level(qvi_hnsw *h)
{
    /* splitmix64 */
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = ((double)(z >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double l = -log(u) * h->level_mult;
    if (!(l < (double)QVI_HNSW_MAX_LEVEL))
        return QVI_HNSW_MAX_LEVEL;
    return (unsigned)l;
}

qv_status qvi_hnsw_check_view(const qvi_hnsw *h, const qvi_vecview *v)
{
    if (!v || !v->base)
        return QV_ENULL;
    /* Dense rows must hold dim elements; records (offs) have their own
     * sizes, which only the custom distance reads. */
    if (v->dim != h->dim || v->metric != h->metric ||
        (!v->offs && v->stride * sizeof(float) < (size_t)v->dim * h->elem))
        return QV_EINVAL;
    if ((v->offs != NULL) != h->custom)
        return QV_EINVAL;
    return QV_OK;
}

qv_status qvi_hnsw_check_node(const qvi_hnsw *h, const qvi_vecview *v,
                              uint32_t slot)
{
    if (!h)
        return QV_ENULL;
    qv_status st = qvi_hnsw_check_view(h, v);
    if (st != QV_OK)
        return st;
    return qvi_hnsw_contains(h, slot) ? QV_OK : QV_ENOTFOUND;
}

qv_status qvi_hnsw_alloc_node(qvi_hnsw *h, uint32_t slot, unsigned level)
{
    uint32_t *blk = NULL;
    if (level > 0) {
        size_t n, bytes;
        if (!qv_mul_size(h->recu, level, &n) ||
            !qv_mul_size(n, sizeof(uint32_t), &bytes))
            return QV_ENOMEM;
        blk = malloc(bytes);
        if (!blk)
            return QV_ENOMEM;
        for (unsigned l = 0; l < level; l++) {
            blk[l * h->recu] = 0;     /* count */
            blk[l * h->recu + 1] = 0; /* in-degree */
        }
        h->upper_bytes += bytes;
    }
    h->upper[slot] = blk;
    h->links0[(size_t)slot * h->rec0] = 0;
    h->indeg0[slot] = 0;
    return QV_OK;
}

void qvi_hnsw_free_upper(qvi_hnsw *h, uint32_t slot)
{
    if (!h->upper[slot])
        return;
    if (!qvi_hnsw_borrowed(h, h->upper[slot])) {
        h->upper_bytes -= h->recu * h->levels[slot] * sizeof(uint32_t);
        free(h->upper[slot]);
    }
    h->upper[slot] = NULL;
}

qv_status qvi_hnsw_wscratch(qvi_hnsw *h, qvi_hnsw_scratch **out)
{
    if (!h->wscratch) {
        qv_status st = qvi_hnsw_scratch_create(&h->wscratch);
        if (st != QV_OK)
            return st;
    }
    *out = h->wscratch;
    return QV_OK;
}

static size_t scratch_bytes(const qvi_hnsw_scratch *s)
{
    if (!s)
        return 0;
    return s->vcap * sizeof(uint16_t) +
           (s->pool_cap + s->acc_cap + s->cand_cap + s->saved_cap) *
               sizeof(qvi_hnsw_cand) +
           s->ids_cap * sizeof(uint32_t);
}

size_t qvi_hnsw_memory_bytes(const qvi_hnsw *h)
{
    if (!h)
        return 0;
    size_t per_slot = h->rec0 * sizeof(uint32_t) + sizeof(uint32_t) + 1 +
                      sizeof(uint32_t *) + 1 + (h->sqn ? sizeof(float) : 0);
    return sizeof(*h) + (size_t)h->cap * per_slot + h->upper_bytes +
           scratch_bytes(h->wscratch);
}
