/*
 * pindex_num.c -- the ordered (value, slot) tree of the integer,
 * float, datetime and geo indexes.
 *
 * Range conditions and order_by need the keys in order, and every write
 * must update them in place.  A fully sorted array would cost a memmove of
 * the whole index per insert; a pointer B-tree costs two pointers per key.
 * This is the middle road, a two-level B-tree: the keys sorted in chunks of
 * at most QVI_NCHUNK (8 KiB), and a sorted array of chunks.  A key is found
 * by binary search over the chunks' first keys, then within its chunk, so
 * an insert or a removal moves at most one chunk's keys and, on a split or
 * a merge, one pointer per chunk (a million keys are ~2,000-4,000 chunks).
 * A full chunk splits in two halves; a chunk under a quarter full merges
 * with a neighbour when both fit in three quarters of one, so the tree
 * stays at least a quarter full after any sequence of writes (in practice
 * half to full).  A bulk build fills chunks to seven eighths, which leaves
 * room for inserts before the first splits.
 *
 * Keys are 16 bytes: the value as (hi, lo) and the slot, ordered in that
 * order, so each (value, point) pair is stored once and a point with equal
 * values is indexed once.  Doubles map to hi through the usual bit trick
 * (flip all bits of negatives, the sign bit of positives), which orders
 * every finite double like the double itself; -0.0 is first made 0.0.
 *
 * Numbers are exact.  Payloads keep integers as i64, or u64 above
 * INT64_MAX, and Qdrant orders them exactly (its OrderValue compares
 * Int(i64) as integers and an integer with a float as numbers), but a
 * double holds only 53 bits: 2^53 and 2^53 + 1 share one.  So a number's
 * hi is its NEAREST double and lo what that double misses: the integer's
 * offset from it (v - nearest, at most half a double's spacing, so within
 * +-1024 for anything up to 2^64), biased by 2^30 and shifted left one
 * bit, whose lowest bit says whether the value is a double (offset 0).
 * Rounding to nearest is monotone (a < b gives nearest(a) <= nearest(b)),
 * and among numbers with one nearest double the offset orders them, so
 * (hi, lo) orders every i64, u64 and finite double exactly; an integer
 * equal to a double (2 and 2.0) keys one below it.  A range over doubles
 * (the filter's range compares payload numbers as doubles) takes whole hi
 * values; a match of an integer takes one (hi, lo).
 *
 * Not thread-safe: the owner's lock (a collection's rwlock) guards the
 * tree.
 */
#include "core/pindex/pindex.h"

#include <stdlib.h>
#include <string.h>

#define BUILD_FILL (QVI_NCHUNK * 7 / 8)

int64_t qvi_double_key(double d)
{
    if (d == 0.0)
        d = 0.0; /* -0.0 == 0.0 must map to one key */
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    u = (u >> 63) ? ~u : u | (1ull << 63);
    return (int64_t)(u ^ (1ull << 63));
}

double qvi_key_double(int64_t k)
{
    uint64_t u = (uint64_t)k ^ (1ull << 63);
    u = (u >> 63) ? u & ~(1ull << 63) : ~u;
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* The bias of an offset in lo: offsets are within +-2^11, and lo must
 * stay unsigned with room for the kind bit. */
#define OFF_BIAS (1 << 30)
#define TWO63    9223372036854775808.0
#define TWO64    18446744073709551616.0

void qvi_number_key(const qv_number *v, int64_t *hi, uint32_t *lo)
{
    int64_t off = 0;
    uint32_t dbl = 0;
    double d;
    if (v->kind == QV_NUM_DOUBLE) {
        d = v->v.d;
        dbl = QVI_NUM_LO_DOUBLE;
    } else if (v->kind == QV_NUM_UINT && v->v.u > (uint64_t)INT64_MAX) {
        uint64_t u = v->v.u;
        d = (double)u; /* in [2^63, 2^64] */
        /* 2^64 itself is no u64: the offset is minus what u lacks. */
        off = d >= TWO64 ? -(int64_t)(0 - u) : (int64_t)(u - (uint64_t)d);
    } else {
        int64_t i = v->kind == QV_NUM_UINT ? (int64_t)v->v.u : v->v.i;
        d = (double)i; /* in [-2^63, 2^63] */
        off = d >= TWO63 ? -(int64_t)((1ull << 63) - (uint64_t)i)
                         : i - (int64_t)d;
    }
    *hi = qvi_double_key(d);
    *lo = ((uint32_t)(off + OFF_BIAS) << 1) | dbl;
}

qv_number qvi_key_number(int64_t hi, uint32_t lo)
{
    qv_number n;
    double d = qvi_key_double(hi);
    if (lo & QVI_NUM_LO_DOUBLE) {
        n.kind = QV_NUM_DOUBLE;
        n.v.d = d;
        return n;
    }
    int64_t off = (int64_t)(lo >> 1) - OFF_BIAS;
    if (d >= TWO63) {
        /* Unsigned arithmetic wraps 2^64 + off to the u64 it stands for. */
        uint64_t u = (d >= TWO64 ? 0 : (uint64_t)d) + (uint64_t)off;
        if (u > (uint64_t)INT64_MAX) {
            n.kind = QV_NUM_UINT;
            n.v.u = u;
        } else {
            n.kind = QV_NUM_INT;
            n.v.i = (int64_t)u;
        }
        return n;
    }
    n.kind = QV_NUM_INT;
    n.v.i = (int64_t)d + off;
    return n;
}

int qvi_nkey_cmp(const qvi_nkey *a, const qvi_nkey *b)
{
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return (a->slot > b->slot) - (a->slot < b->slot);
}

/* The chunk a key >= k would be in: the last chunk whose first key is <=
 * k, or 0. */
static uint32_t find_chunk(const qvi_ntree *t, const qvi_nkey *k)
{
    uint32_t lo = 0, hi = t->nc;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (qvi_nkey_cmp(&t->c[mid].e[0], k) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* First index in chunk ch with key >= k. */
static uint32_t find_in(const qvi_nchunk *ch, const qvi_nkey *k)
{
    uint32_t lo = 0, hi = ch->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (qvi_nkey_cmp(&ch->e[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool grow_chunks(qvi_ntree *t)
{
    if (t->nc < t->capc)
        return true;
    uint32_t ncap = t->capc < 8 ? 8 : t->capc + t->capc / 2;
    qvi_nchunk *c = realloc(t->c, (size_t)ncap * sizeof(*c));
    if (!c)
        return false;
    t->c = c;
    t->capc = ncap;
    return true;
}

static qvi_nkey *new_chunk(void)
{
    return malloc(QVI_NCHUNK * sizeof(qvi_nkey));
}

int qvi_ntree_add(qvi_ntree *t, const qvi_nkey *k)
{
    if (t->nc == 0) {
        qvi_nkey *e = new_chunk();
        if (!e || !grow_chunks(t)) {
            free(e);
            return -1;
        }
        t->c[0] = (qvi_nchunk){e, 0};
        t->nc = 1;
    }
    uint32_t ci = find_chunk(t, k);
    qvi_nchunk *ch = &t->c[ci];
    uint32_t i = find_in(ch, k);
    if (i < ch->n && qvi_nkey_cmp(&ch->e[i], k) == 0)
        return 0;
    if (ch->n == QVI_NCHUNK) {
        /* Split: the upper half moves to a new chunk after this one. */
        qvi_nkey *e = new_chunk();
        if (!e || !grow_chunks(t)) {
            free(e);
            return -1;
        }
        ch = &t->c[ci];
        uint32_t half = QVI_NCHUNK / 2;
        memcpy(e, ch->e + half, (QVI_NCHUNK - half) * sizeof(qvi_nkey));
        memmove(t->c + ci + 2, t->c + ci + 1,
                (t->nc - ci - 1) * sizeof(qvi_nchunk));
        t->c[ci + 1] = (qvi_nchunk){e, QVI_NCHUNK - half};
        ch->n = half;
        t->nc++;
        if (i > half) {
            ch = &t->c[ci + 1];
            i -= half;
        } else if (i == half && qvi_nkey_cmp(k, &t->c[ci + 1].e[0]) > 0) {
            ch = &t->c[ci + 1];
            i = 0;
        }
    }
    memmove(ch->e + i + 1, ch->e + i, (ch->n - i) * sizeof(qvi_nkey));
    ch->e[i] = *k;
    ch->n++;
    t->n++;
    return 1;
}

static void drop_chunk(qvi_ntree *t, uint32_t ci)
{
    free(t->c[ci].e);
    memmove(t->c + ci, t->c + ci + 1, (t->nc - ci - 1) * sizeof(qvi_nchunk));
    t->nc--;
}

/* Merges chunk ci into its left or right neighbour when it is under a
 * quarter full and the two fit in three quarters of a chunk. */
static void maybe_merge(qvi_ntree *t, uint32_t ci)
{
    if (t->c[ci].n >= QVI_NCHUNK / 4)
        return;
    uint32_t room = QVI_NCHUNK * 3 / 4;
    if (ci > 0 && t->c[ci - 1].n + t->c[ci].n <= room) {
        qvi_nchunk *l = &t->c[ci - 1];
        memcpy(l->e + l->n, t->c[ci].e, t->c[ci].n * sizeof(qvi_nkey));
        l->n += t->c[ci].n;
        drop_chunk(t, ci);
    } else if (ci + 1 < t->nc && t->c[ci + 1].n + t->c[ci].n <= room) {
        qvi_nchunk *ch = &t->c[ci], *r = &t->c[ci + 1];
        memcpy(ch->e + ch->n, r->e, r->n * sizeof(qvi_nkey));
        ch->n += r->n;
        drop_chunk(t, ci + 1);
    }
}

bool qvi_ntree_remove(qvi_ntree *t, const qvi_nkey *k)
{
    if (t->nc == 0)
        return false;
    uint32_t ci = find_chunk(t, k);
    qvi_nchunk *ch = &t->c[ci];
    uint32_t i = find_in(ch, k);
    if (i >= ch->n || qvi_nkey_cmp(&ch->e[i], k) != 0)
        return false;
    memmove(ch->e + i, ch->e + i + 1, (ch->n - i - 1) * sizeof(qvi_nkey));
    ch->n--;
    t->n--;
    if (ch->n == 0)
        drop_chunk(t, ci);
    else
        maybe_merge(t, ci);
    return true;
}

uint64_t qvi_ntree_count(const qvi_ntree *t, qvi_ncur a, qvi_ncur b)
{
    if (b.c < a.c || (b.c == a.c && b.i <= a.i))
        return 0;
    if (a.c == b.c)
        return b.i - a.i;
    uint64_t n = t->c[a.c].n - a.i;
    for (uint32_t c = a.c + 1; c < b.c && c < t->nc; c++)
        n += t->c[c].n;
    return n + (b.c < t->nc ? b.i : 0);
}

void qvi_ntree_bits(const qvi_ntree *t, qvi_ncur a, qvi_ncur b, uint64_t *bits,
                    uint32_t nbits)
{
    /* A tight loop over whole chunks: this runs per query over every key
     * of a range condition. */
    for (uint32_t c = a.c; c < t->nc && c <= b.c; c++) {
        const qvi_nkey *e = t->c[c].e;
        uint32_t from = c == a.c ? a.i : 0;
        uint32_t to = c == b.c ? b.i : t->c[c].n;
        for (uint32_t i = from; i < to; i++) {
            uint32_t s = e[i].slot;
            if (s < nbits)
                bits[s / 64] |= 1ull << (s % 64);
        }
    }
}

qvi_ncur qvi_ntree_lower_bound(const qvi_ntree *t, const qvi_nkey *k)
{
    qvi_ncur cur = {t->nc, 0};
    if (t->nc == 0)
        return cur;
    uint32_t ci = find_chunk(t, k);
    uint32_t i = find_in(&t->c[ci], k);
    if (i == t->c[ci].n) {
        ci++;
        i = 0;
    }
    cur.c = ci;
    cur.i = i;
    return cur;
}

bool qvi_ntree_at(const qvi_ntree *t, qvi_ncur cur, qvi_nkey *out)
{
    if (cur.c >= t->nc)
        return false;
    *out = t->c[cur.c].e[cur.i];
    return true;
}

void qvi_ntree_next(const qvi_ntree *t, qvi_ncur *cur)
{
    if (cur->c >= t->nc)
        return;
    if (++cur->i == t->c[cur->c].n) {
        cur->c++;
        cur->i = 0;
    }
}

bool qvi_ntree_prev(const qvi_ntree *t, qvi_ncur *cur)
{
    if (cur->i > 0) {
        cur->i--;
        return true;
    }
    if (cur->c == 0 || t->nc == 0)
        return false;
    cur->c--;
    cur->i = t->c[cur->c].n - 1;
    return true;
}

qv_status qvi_ntree_build(qvi_ntree *t, const qvi_nkey *keys, size_t n)
{
    size_t nc = (n + BUILD_FILL - 1) / BUILD_FILL;
    if (nc > UINT32_MAX)
        return QV_ENOMEM;
    qvi_ntree nt = {0};
    if (nc) {
        nt.c = calloc(nc, sizeof(qvi_nchunk));
        if (!nt.c)
            return QV_ENOMEM;
        nt.capc = (uint32_t)nc;
    }
    for (size_t i = 0; i < nc; i++) {
        size_t from = i * BUILD_FILL;
        size_t cnt = n - from < BUILD_FILL ? n - from : BUILD_FILL;
        nt.c[i].e = new_chunk();
        if (!nt.c[i].e) {
            qvi_ntree_free(&nt);
            return QV_ENOMEM;
        }
        memcpy(nt.c[i].e, keys + from, cnt * sizeof(qvi_nkey));
        nt.c[i].n = (uint32_t)cnt;
        nt.nc++;
    }
    nt.n = n;
    qvi_ntree_free(t);
    *t = nt;
    return QV_OK;
}

void qvi_ntree_free(qvi_ntree *t)
{
    for (uint32_t i = 0; i < t->nc; i++)
        free(t->c[i].e);
    free(t->c);
    memset(t, 0, sizeof(*t));
}

size_t qvi_ntree_bytes(const qvi_ntree *t)
{
    return (size_t)t->capc * sizeof(qvi_nchunk) +
           (size_t)t->nc * QVI_NCHUNK * sizeof(qvi_nkey);
}
