/*
 * idmap.c -- the point id -> slot hash map of a collection.
 *
 * Layout.  An open-addressing table of cap uint64 buckets (cap a power of
 * two, at least MIN_CAP once allocated).  A bucket is 0 when empty, else
 * (tag << 32) | (slot + 1), where tag is the upper 32 bits of the id's
 * xxHash3 (qvi_id_hash).  The ids themselves stay in the caller's slot
 * table: a candidate bucket is confirmed by comparing ids[slot] with the id
 * sought, which costs a cache miss, so the tag filters first.
 *
 * Home bucket.  An entry's home is the top log2(cap) bits of its tag.
 * Taking it from the stored tag (rather than from the low hash bits) means
 * the table can be rehashed, and entries shifted on delete, without
 * touching the slot table or hashing anything again.  The prices: cap may
 * not exceed 2^32, so the map holds at most 3 * 2^30 entries (a
 * collection's slots are 32-bit anyway); and entries with the same home
 * differ only in the tag's low 32 - log2(cap) bits, so a probe compares
 * ids needlessly for about 1 in 2^(32 - log2 cap) of those (1 in 2048 at
 * a million entries), against 1 in 2^32 for entries homed elsewhere.
 *
 * Collisions: linear probing with backward-shift deletion (Knuth's
 * Algorithm R), so there are no tombstones and a lookup stops at the first
 * empty bucket.  Invariants, for every stored entry e at index i:
 *   - every bucket from home(e) to i (cyclically) is occupied;
 *   - count <= max_load(cap) = cap - cap/4 < cap, so an empty bucket
 *     always exists and every probe loop ends.
 * Deletion restores the first invariant by walking the run after the
 * emptied bucket to its end and moving back every entry that the hole
 * would otherwise cut off from its home (see delete_at).
 *
 * Growth: doubling, when an insert would exceed 3/4 load.  reserve(n)
 * sizes the table so that count may reach n without growing, which is how
 * a collection guarantees that a batch, once reserved, cannot fail half
 * way.  Sizes are overflow-checked and a failed allocation leaves the map
 * exactly as it was.
 *
 * Contract checks beyond core.h: insert also refuses a NULL argument
 * (QV_ENULL), slot UINT32_MAX (QV_ERANGE: slot + 1 must fit in 32 bits),
 * ids[slot] != id (QV_EINVAL) and an id already present (QV_EEXIST); each
 * of those changes nothing.  Lookups and removes with NULL arguments find
 * nothing.
 *
 * The hash is not keyed (it must be stable, see ids.c), so ids chosen to
 * collide can make probes long; they stay correct.
 *
 * Borrowed buckets: a collection opened from a snapshot maps its buckets
 * from the file (borrowed set).  They are edited in place like any others,
 * never freed; the first rehash moves the entries into owned memory.
 *
 * Not thread-safe: the collection's lock protects the map (finds under the
 * shared lock are fine, they write nothing).
 */
#include "core/base/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP ((size_t)16)
/* 2^32 buckets, or what a 32-bit size_t can address. */
#if SIZE_MAX > 0xffffffffu
#define MAX_CAP ((size_t)1 << 32)
#else
#define MAX_CAP ((size_t)1 << 28)
#endif

static inline uint32_t bucket_tag(uint64_t b)
{
    return (uint32_t)(b >> 32);
}

static inline uint32_t bucket_slot(uint64_t b)
{
    return (uint32_t)b - 1;
}

/* Index of the home bucket of tag in a table of cap = 2^bits buckets
 * (bits in 4..32, so the shift is in 0..28). */
static inline size_t home_of(uint32_t tag, unsigned bits)
{
    return (size_t)(tag >> (32 - bits));
}

static inline unsigned log2_cap(size_t cap)
{
    return (unsigned)__builtin_ctzll((unsigned long long)cap);
}

static inline size_t max_load(size_t cap)
{
    return cap - cap / 4;
}

void qvi_idmap_init(qvi_idmap *m)
{
    m->buckets = NULL;
    m->cap = 0;
    m->count = 0;
    m->borrowed = false;
}

void qvi_idmap_free(qvi_idmap *m)
{
    if (!m)
        return;
    if (!m->borrowed)
        free(m->buckets);
    qvi_idmap_init(m);
}

/* Places bucket value b in the first empty bucket from its home. */
static void place(uint64_t *buckets, size_t cap, uint64_t b)
{
    size_t mask = cap - 1;
    size_t i = home_of(bucket_tag(b), log2_cap(cap));
    while (buckets[i] != 0)
        i = (i + 1) & mask;
    buckets[i] = b;
}

/* Smallest allowed capacity holding n entries, or 0 if none exists. */
static size_t cap_for(size_t n)
{
    size_t cap = MIN_CAP;
    while (max_load(cap) < n) {
        if (cap >= MAX_CAP)
            return 0;
        cap *= 2;
    }
    return cap;
}

/* Moves every entry into a new table of new_cap buckets. */
static qv_status rehash(qvi_idmap *m, size_t new_cap)
{
    size_t bytes;
    if (!qv_mul_size(new_cap, sizeof(uint64_t), &bytes))
        return QV_ENOMEM;
    uint64_t *nb = calloc(1, bytes);
    if (!nb)
        return QV_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->buckets[i] != 0)
            place(nb, new_cap, m->buckets[i]);
    }
    if (!m->borrowed)
        free(m->buckets);
    m->borrowed = false;
    m->buckets = nb;
    m->cap = new_cap;
    return QV_OK;
}

qv_status qvi_idmap_reserve(qvi_idmap *m, size_t n)
{
    if (!m)
        return QV_ENULL;
    if (n <= max_load(m->cap))
        return QV_OK;
    if (n < m->count)
        n = m->count;
    size_t cap = cap_for(n);
    if (cap == 0)
        return QV_ENOMEM;
    if (cap <= m->cap)
        return QV_OK;
    return rehash(m, cap);
}

/*
 * Probes for id.  Returns the index of its bucket, or cap when absent.
 * When absent and empty_out is not NULL, *empty_out is the first empty
 * bucket of the probe run, where an insert would place it.
 */
static size_t locate(const qvi_idmap *m, const qv_point_id *ids,
                     const qv_point_id *id, uint32_t tag, size_t *empty_out)
{
    size_t mask = m->cap - 1;
    size_t i = home_of(tag, log2_cap(m->cap));
    for (;;) {
        uint64_t b = m->buckets[i];
        if (b == 0) {
            if (empty_out)
                *empty_out = i;
            return m->cap;
        }
        if (bucket_tag(b) == tag && qvi_id_equal(&ids[bucket_slot(b)], id))
            return i;
        i = (i + 1) & mask;
    }
}

static inline uint32_t tag_of(const qv_point_id *id)
{
    return (uint32_t)(qvi_id_hash(id) >> 32);
}

bool qvi_idmap_find(const qvi_idmap *m, const qv_point_id *ids,
                    const qv_point_id *id, uint32_t *slot_out)
{
    if (!m || !ids || !id || m->cap == 0)
        return false;
    size_t i = locate(m, ids, id, tag_of(id), NULL);
    if (i == m->cap)
        return false;
    if (slot_out)
        *slot_out = bucket_slot(m->buckets[i]);
    return true;
}

qv_status qvi_idmap_insert(qvi_idmap *m, const qv_point_id *ids,
                           const qv_point_id *id, uint32_t slot)
{
    if (!m || !ids || !id)
        return QV_ENULL;
    if (slot == UINT32_MAX)
        return QV_ERANGE;
    if (!qvi_id_equal(&ids[slot], id))
        return QV_EINVAL;
    uint32_t tag = tag_of(id);
    size_t empty = 0;
    if (m->cap != 0 && locate(m, ids, id, tag, &empty) != m->cap)
        return QV_EEXIST;
    if (m->cap == 0 || m->count + 1 > max_load(m->cap)) {
        size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
        if (cap > MAX_CAP)
            return QV_ENOMEM;
        qv_status st = rehash(m, cap);
        if (st != QV_OK)
            return st;
        (void)locate(m, ids, id, tag, &empty);
    }
    m->buckets[empty] = (uint64_t)tag << 32 | ((uint64_t)slot + 1);
    m->count++;
    return QV_OK;
}

/* True when k lies cyclically in (lo, hi]. */
static inline bool cyclic_between(size_t lo, size_t k, size_t hi)
{
    return lo <= hi ? (lo < k && k <= hi) : (lo < k || k <= hi);
}

/*
 * Backward-shift deletion (Knuth's Algorithm R): empties bucket hole, then
 * walks the rest of the run.  An entry whose home lies cyclically in
 * (hole, j] must stay (moving it before its home would hide it); any other
 * entry moves into the hole, and the hole moves to where it was.  Stopping
 * at an entry that sits at its home would be wrong here: plain linear
 * probing does not keep a run sorted by home, so entries further on may
 * still depend on the hole being filled.
 */
static void delete_at(qvi_idmap *m, size_t hole)
{
    size_t mask = m->cap - 1;
    unsigned bits = log2_cap(m->cap);
    for (size_t j = (hole + 1) & mask; m->buckets[j] != 0; j = (j + 1) & mask) {
        size_t home = home_of(bucket_tag(m->buckets[j]), bits);
        if (cyclic_between(hole, home, j))
            continue;
        m->buckets[hole] = m->buckets[j];
        hole = j;
    }
    m->buckets[hole] = 0;
    m->count--;
}

bool qvi_idmap_remove(qvi_idmap *m, const qv_point_id *ids,
                      const qv_point_id *id)
{
    if (!m || !ids || !id || m->cap == 0)
        return false;
    size_t i = locate(m, ids, id, tag_of(id), NULL);
    if (i == m->cap)
        return false;
    delete_at(m, i);
    return true;
}
