/*
 * pindex_posting.c -- posting lists and the value map of the
 * keyword, uuid and full-text indexes.
 *
 * Posting lists.  Most values of a payload key are held by few points (a
 * document id, a rare token); a few are held by many (the tenant of a
 * large customer, a common word).  A posting list therefore has three
 * forms, chosen by density:
 *   inline  up to two slots inside the struct: no allocation at all, which
 *           is what keeps a map of a million unique values small;
 *   array   the slots sorted ascending: 4 bytes a point; inserting a new
 *           (largest) slot appends, a reused one moves the tail;
 *   bitmap  one bit per slot up to the largest: taken when it is no bigger
 *           than the array (n * 32 >= slots covered, and n >= 256), so that
 *           adding to or removing from the posting of a tenant with half a
 *           million points is O(1) instead of a 2 MB memmove.
 * A bitmap turns back into an array when the array would take under a
 * quarter of its size; the gap between the two thresholds keeps a set from
 * flipping back and forth.
 *
 * Value map.  Open addressing with linear probing over a table of entry
 * numbers (load at most 1/2), entries kept dense so that iteration and
 * memory are proportional to the number of values.  Deleting a value
 * shifts the following probe run back (no tombstones) and moves the last
 * entry into the freed place.  Key bytes live in one arena; deleted keys
 * become garbage there, and the arena is compacted when garbage passes
 * half of it.  Hashes are xxHash3, not keyed: payload values chosen to
 * collide slow their own lookups down, nothing else.
 *
 * Not thread-safe: the owner's lock (a collection's rwlock) guards every
 * structure here.
 */
#include "core/pindex/pindex.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define BITMAP_MIN_N 256u

/* ---- posting lists ------------------------------------------------------ */

static uint32_t *slots_of(qvi_posting *p)
{
    return p->mode == QVI_POST_INLINE ? p->u.inl : p->u.arr;
}

static const uint32_t *cslots_of(const qvi_posting *p)
{
    return p->mode == QVI_POST_INLINE ? p->u.inl : p->u.arr;
}

/* Index of the first slot >= s in a sorted array of n. */
static uint32_t lower_bound(const uint32_t *a, uint32_t n, uint32_t s)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool qvi_posting_has(const qvi_posting *p, uint32_t slot)
{
    if (p->mode == QVI_POST_BITMAP)
        return slot / 64 < p->cap && (p->u.bits[slot / 64] >> (slot % 64) & 1);
    const uint32_t *a = cslots_of(p);
    uint32_t i = lower_bound(a, p->n, slot);
    return i < p->n && a[i] == slot;
}

uint64_t qvi_posting_count_in(const qvi_posting *p, const uint64_t *bits,
                              uint32_t nbits)
{
    uint64_t n = 0;
    if (p->mode == QVI_POST_BITMAP) {
        uint32_t words = (nbits + 63) / 64;
        if (words > p->cap)
            words = p->cap;
        for (uint32_t w = 0; w < words; w++)
            n += (uint64_t)__builtin_popcountll(p->u.bits[w] & bits[w]);
        return n;
    }
    const uint32_t *a = cslots_of(p);
    for (uint32_t i = 0; i < p->n; i++)
        n += a[i] < nbits && (bits[a[i] / 64] >> (a[i] % 64) & 1);
    return n;
}

/* Converts an array of n sorted slots (the largest below words * 64) to a
 * bitmap of `words` words.  Returns false when out of memory. */
static bool to_bitmap(qvi_posting *p, uint32_t words)
{
    uint64_t *bits = calloc(words, sizeof(uint64_t));
    if (!bits)
        return false;
    const uint32_t *a = slots_of(p);
    for (uint32_t i = 0; i < p->n; i++)
        bits[a[i] / 64] |= 1ull << (a[i] % 64);
    if (p->mode == QVI_POST_ARRAY)
        free(p->u.arr);
    p->u.bits = bits;
    p->cap = words;
    p->mode = QVI_POST_BITMAP;
    return true;
}

static int bitmap_add(qvi_posting *p, uint32_t slot)
{
    uint32_t w = slot / 64;
    if (w >= p->cap) {
        uint64_t ncap = (uint64_t)p->cap + p->cap / 2;
        if (ncap <= w)
            ncap = (uint64_t)w + 1;
        uint64_t *bits = realloc(p->u.bits, ncap * sizeof(uint64_t));
        if (!bits)
            return -1;
        memset(bits + p->cap, 0, (ncap - p->cap) * sizeof(uint64_t));
        p->u.bits = bits;
        p->cap = (uint32_t)ncap;
    }
    uint64_t m = 1ull << (slot % 64);
    if (p->u.bits[w] & m)
        return 0;
    p->u.bits[w] |= m;
    p->n++;
    return 1;
}

int qvi_posting_add(qvi_posting *p, uint32_t slot)
{
    if (p->mode == QVI_POST_BITMAP)
        return bitmap_add(p, slot);
    uint32_t *a = slots_of(p);
    uint32_t i = p->n && a[p->n - 1] < slot ? p->n : lower_bound(a, p->n, slot);
    if (i < p->n && a[i] == slot)
        return 0;
    uint32_t top = p->n && a[p->n - 1] > slot ? a[p->n - 1] : slot;
    if (p->n + 1 >= BITMAP_MIN_N && (uint64_t)(p->n + 1) * 32 > top) {
        /* Dense: the bitmap is no bigger than the array would be. */
        if (to_bitmap(p, top / 64 + 1))
            return bitmap_add(p, slot);
        /* else stay an array */
    }
    uint32_t room = p->mode == QVI_POST_INLINE ? 2 : p->cap;
    if (p->n == room) {
        uint64_t ncap = room < 8 ? 8 : (uint64_t)room + room / 2;
        if (ncap > UINT32_MAX)
            return -1;
        uint32_t *na;
        if (p->mode == QVI_POST_INLINE) {
            na = malloc(ncap * sizeof(uint32_t));
            if (!na)
                return -1;
            memcpy(na, p->u.inl, p->n * sizeof(uint32_t));
        } else {
            na = realloc(p->u.arr, ncap * sizeof(uint32_t));
            if (!na)
                return -1;
        }
        p->u.arr = na;
        p->cap = (uint32_t)ncap;
        p->mode = QVI_POST_ARRAY;
        a = na;
    }
    memmove(a + i + 1, a + i, (p->n - i) * sizeof(uint32_t));
    a[i] = slot;
    p->n++;
    return 1;
}

/* A thin bitmap back to an array (kept as a bitmap if that fails). */
static void maybe_unbitmap(qvi_posting *p)
{
    if ((uint64_t)p->n * 32 * 4 >= (uint64_t)p->cap * 64 &&
        p->n >= BITMAP_MIN_N / 4)
        return;
    uint32_t cap = p->n < 8 ? 8 : p->n;
    uint32_t *a = malloc(cap * sizeof(uint32_t));
    if (!a)
        return;
    uint32_t k = 0;
    for (uint32_t w = 0; w < p->cap; w++) {
        for (uint64_t x = p->u.bits[w]; x; x &= x - 1)
            a[k++] = w * 64 + (uint32_t)__builtin_ctzll(x);
    }
    free(p->u.bits);
    p->u.arr = a;
    p->cap = cap;
    p->mode = QVI_POST_ARRAY;
}

bool qvi_posting_remove(qvi_posting *p, uint32_t slot)
{
    if (p->mode == QVI_POST_BITMAP) {
        uint32_t w = slot / 64;
        uint64_t m = 1ull << (slot % 64);
        if (w >= p->cap || !(p->u.bits[w] & m))
            return false;
        p->u.bits[w] &= ~m;
        p->n--;
        maybe_unbitmap(p);
        return true;
    }
    uint32_t *a = slots_of(p);
    uint32_t i = lower_bound(a, p->n, slot);
    if (i >= p->n || a[i] != slot)
        return false;
    memmove(a + i, a + i + 1, (p->n - i - 1) * sizeof(uint32_t));
    p->n--;
    if (p->mode == QVI_POST_ARRAY && p->n <= 2) {
        uint32_t keep[2] = {p->n > 0 ? a[0] : 0, p->n > 1 ? a[1] : 0};
        free(p->u.arr);
        p->u.inl[0] = keep[0];
        p->u.inl[1] = keep[1];
        p->cap = 0;
        p->mode = QVI_POST_INLINE;
    } else if (p->mode == QVI_POST_ARRAY && p->cap > 16 && p->n < p->cap / 4) {
        uint32_t *na = realloc(p->u.arr, (p->cap / 2) * sizeof(uint32_t));
        if (na) {
            p->u.arr = na;
            p->cap /= 2;
        }
    }
    return true;
}

void qvi_posting_or(const qvi_posting *p, uint64_t *bits, uint32_t nbits)
{
    if (p->mode == QVI_POST_BITMAP) {
        uint32_t words = (nbits + 63) / 64;
        uint32_t n = p->cap < words ? p->cap : words;
        for (uint32_t w = 0; w < n; w++)
            bits[w] |= p->u.bits[w];
        /* Bits past nbits in the last word never name live slots. */
        if (n == words && nbits % 64)
            bits[words - 1] &= (1ull << (nbits % 64)) - 1;
        return;
    }
    const uint32_t *a = cslots_of(p);
    for (uint32_t i = 0; i < p->n && a[i] < nbits; i++)
        bits[a[i] / 64] |= 1ull << (a[i] % 64);
}

void qvi_posting_free(qvi_posting *p)
{
    if (p->mode == QVI_POST_ARRAY)
        free(p->u.arr);
    else if (p->mode == QVI_POST_BITMAP)
        free(p->u.bits);
    memset(p, 0, sizeof(*p));
}

size_t qvi_posting_bytes(const qvi_posting *p)
{
    if (p->mode == QVI_POST_ARRAY)
        return (size_t)p->cap * sizeof(uint32_t);
    if (p->mode == QVI_POST_BITMAP)
        return (size_t)p->cap * sizeof(uint64_t);
    return 0;
}

/* ---- the value map ------------------------------------------------------ */

static uint64_t key_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

static bool entry_is(const qvi_vmap *m, const qvi_ventry *e, uint64_t h,
                     const void *key, size_t len)
{
    return e->hash == h && e->len == len &&
           memcmp(m->arena + e->off, key, len) == 0;
}

/* Table position holding key, or of the empty bucket where it would go. */
static uint32_t probe(const qvi_vmap *m, uint64_t h, const void *key,
                      size_t len, bool *found)
{
    uint32_t mask = m->tcap - 1, b = (uint32_t)h & mask;
    for (;;) {
        uint32_t t = m->table[b];
        if (t == 0) {
            *found = false;
            return b;
        }
        if (entry_is(m, &m->e[t - 1], h, key, len)) {
            *found = true;
            return b;
        }
        b = (b + 1) & mask;
    }
}

const qvi_posting *qvi_vmap_find(const qvi_vmap *m, const void *key, size_t len)
{
    if (m->n == 0)
        return NULL;
    bool found;
    uint32_t b = probe(m, key_hash(key, len), key, len, &found);
    return found ? &m->e[m->table[b] - 1].p : NULL;
}

static bool rehash(qvi_vmap *m, uint32_t tcap)
{
    uint32_t *t = calloc(tcap, sizeof(uint32_t));
    if (!t)
        return false;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t b = (uint32_t)m->e[i].hash & (tcap - 1);
        while (t[b])
            b = (b + 1) & (tcap - 1);
        t[b] = i + 1;
    }
    free(m->table);
    m->table = t;
    m->tcap = tcap;
    return true;
}

/* Makes room for one more entry and len more key bytes. */
static bool reserve_one(qvi_vmap *m, size_t len)
{
    if (m->n == UINT32_MAX - 1 || m->tcap > (1u << 30))
        return false;
    if ((uint64_t)(m->n + 1) * 2 > m->tcap &&
        !rehash(m, m->tcap ? m->tcap * 2 : 16))
        return false;
    if (m->n == m->cap) {
        uint32_t ncap = m->cap < 8 ? 8 : m->cap + m->cap / 2;
        qvi_ventry *e = realloc(m->e, (size_t)ncap * sizeof(*e));
        if (!e)
            return false;
        m->e = e;
        m->cap = ncap;
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t ncap = m->arena_cap ? m->arena_cap : 256;
        while (ncap < m->arena_len + len)
            ncap *= 2;
        char *a = realloc(m->arena, ncap);
        if (!a)
            return false;
        m->arena = a;
        m->arena_cap = ncap;
    }
    return m->arena_len + len <= UINT32_MAX;
}

int qvi_vmap_add(qvi_vmap *m, const void *key, size_t len, uint32_t slot)
{
    uint64_t h = key_hash(key, len);
    bool found = false;
    uint32_t b = m->tcap ? probe(m, h, key, len, &found) : 0;
    if (found)
        return qvi_posting_add(&m->e[m->table[b] - 1].p, slot);
    uint32_t old_tcap = m->tcap;
    if (!reserve_one(m, len))
        return -1;
    if (m->tcap != old_tcap)
        b = probe(m, h, key, len, &found);
    qvi_ventry *e = &m->e[m->n];
    memset(e, 0, sizeof(*e));
    if (qvi_posting_add(&e->p, slot) < 0)
        return -1; /* cannot happen: an inline posting takes one slot */
    e->hash = h;
    e->off = (uint32_t)m->arena_len;
    e->len = (uint32_t)len;
    if (len)
        memcpy(m->arena + m->arena_len, key, len);
    m->arena_len += len;
    m->table[b] = ++m->n;
    return 1;
}

/* Copies the live keys into a new arena (skipped when out of memory). */
static void compact_arena(qvi_vmap *m)
{
    size_t live = m->arena_len - m->garbage;
    char *a = malloc(live ? live : 1);
    if (!a)
        return;
    size_t off = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        memcpy(a + off, m->arena + m->e[i].off, m->e[i].len);
        m->e[i].off = (uint32_t)off;
        off += m->e[i].len;
    }
    free(m->arena);
    m->arena = a;
    m->arena_len = m->arena_cap = live;
    m->garbage = 0;
}

/* Deletes the entry at table bucket b (whose posting is empty). */
static void delete_entry(qvi_vmap *m, uint32_t b)
{
    uint32_t mask = m->tcap - 1, idx = m->table[b] - 1;
    m->garbage += m->e[idx].len;
    qvi_posting_free(&m->e[idx].p);
    /* Backward-shift deletion: pull later members of the probe run into
     * the hole when their home bucket does not lie between the hole and
     * them. */
    uint32_t hole = b, j = b;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t t = m->table[j];
        if (t == 0)
            break;
        uint32_t home = (uint32_t)m->e[t - 1].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->table[hole] = t;
            hole = j;
        }
    }
    m->table[hole] = 0;
    /* Keep entries dense: the last one moves into idx. */
    uint32_t last = m->n - 1;
    if (idx != last) {
        m->e[idx] = m->e[last];
        bool found;
        uint32_t lb = probe(m, m->e[idx].hash, m->arena + m->e[idx].off,
                            m->e[idx].len, &found);
        m->table[lb] = idx + 1;
    }
    m->n--;
    if (m->garbage > 4096 && m->garbage * 2 > m->arena_len)
        compact_arena(m);
}

bool qvi_vmap_remove(qvi_vmap *m, const void *key, size_t len, uint32_t slot)
{
    if (m->n == 0)
        return false;
    bool found;
    uint32_t b = probe(m, key_hash(key, len), key, len, &found);
    if (!found)
        return false;
    qvi_ventry *e = &m->e[m->table[b] - 1];
    if (!qvi_posting_remove(&e->p, slot))
        return false;
    if (e->p.n == 0)
        delete_entry(m, b);
    return true;
}

void qvi_vmap_free(qvi_vmap *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        qvi_posting_free(&m->e[i].p);
    free(m->e);
    free(m->table);
    free(m->arena);
    memset(m, 0, sizeof(*m));
}

size_t qvi_vmap_bytes(const qvi_vmap *m)
{
    size_t b = (size_t)m->cap * sizeof(qvi_ventry) +
               (size_t)m->tcap * sizeof(uint32_t) + m->arena_cap;
    for (uint32_t i = 0; i < m->n; i++)
        b += qvi_posting_bytes(&m->e[i].p);
    return b;
}
