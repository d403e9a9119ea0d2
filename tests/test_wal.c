/*
 * test_wal.c -- the write-ahead log and durable stores.
 *
 *  1. Codec: every record kind survives encode -> scan -> decode; the
 *     header layout is pinned; bad records are refused at encode.
 *  2. Replay: random sequences of every kind of write on a durable
 *     collection; a crash image (the store directory copied while it is
 *     open, as a crash would leave it) recovers to the live collection's
 *     exact state (vectors bit for bit, payloads as text), with and
 *     without checkpoints along the way.
 *  3. Torn tails: the last record cut at every byte offset, or damaged,
 *     is cut off at open; the file is truncated where the good log ends.
 *  4. Damage in the middle of the log, an LSN gap, payload index records:
 *     refused with QV_ECORRUPT / QV_EFORMAT and a message naming the file
 *     and offset; the file is left alone.
 *  5. Failures: an append that fails (injected through the journal's own
 *     hooks) returns QV_EIO and changes nothing, for every writer; a
 *     failed fsync refuses writes until a checkpoint.
 *  6. Group commit: concurrent writers share fsyncs, and every
 *     acknowledged write is in the part of the file an fsync covered.
 *  7. Stores: reopen, drop, re-create, the directory lock, options.
 *  8. Fuzz: damaged segments never crash the reader (ASan checks reads).
 */
#include "persist/wal.h"
#include "tests/wal_support.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { DIM = 8 };

/* ---- helpers ------------------------------------------------------------- */

static qv_collection_config config(qv_metric m)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    return cfg;
}

static qv_store *open_store(const char *path, uint64_t ckpt)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = ckpt;
    qv_store *s = NULL;
    char err[256];
    qv_status st = qv_store_open_dir(path, &o, &s, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "open %s: %s: %s", path, qv_status_name(st),
                  err);
    return s;
}

static qv_status try_open(const char *path, char *err, size_t errcap)
{
    qv_store *s = NULL;
    qv_status st = qv_store_open_dir(path, NULL, &s, err, errcap);
    if (st == QV_OK)
        qv_store_close(s);
    else
        ck_assert_ptr_null(s);
    return st;
}

static void vec_of(uint64_t seed, float *v)
{
    for (int d = 0; d < DIM; d++)
        v[d] = (float)((seed * 2654435761u + (uint64_t)d * 97) % 1000) / 37.0f -
               13.0f;
}

/* Path of the newest log segment of collection name in store path. */
static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n ? (size_t)n : 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_whole(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Every point of a equals the one in b: vector bits and payload text. */
static void assert_same_collection(qv_collection *a, qv_collection *b)
{
    uint64_t na, nb;
    ck_assert_int_eq(qv_count(a, &na), QV_OK);
    ck_assert_int_eq(qv_count(b, &nb), QV_OK);
    ck_assert_uint_eq(na, nb);
    qv_point_id *ids = malloc((na ? na : 1) * sizeof(*ids));
    size_t n;
    ck_assert_int_eq(qv_scroll(a, NULL, NULL, na ? na : 1, ids, &n, NULL, NULL),
                     QV_OK);
    ck_assert_uint_eq(n, na);
    for (size_t i = 0; i < n; i++) {
        float va[DIM], vb[DIM];
        ck_assert_int_eq(qv_get(a, &ids[i], va, DIM), QV_OK);
        ck_assert_int_eq(qv_get(b, &ids[i], vb, DIM), QV_OK);
        ck_assert_msg(memcmp(va, vb, sizeof(va)) == 0,
                      "vector of point %zu differs", i);
        char *ja, *jb;
        size_t la, lb;
        ck_assert_int_eq(qv_payload_get(a, &ids[i], NULL, &ja, &la), QV_OK);
        ck_assert_int_eq(qv_payload_get(b, &ids[i], NULL, &jb, &lb), QV_OK);
        ck_assert_str_eq(ja, jb);
        qv_free(ja);
        qv_free(jb);
    }
    free(ids);
}

/* ---- 1. codec ------------------------------------------------------------ */

typedef struct seen {
    qvi_change recs[16];
    uint8_t *copies[16]; /* bodies the string pointers point into */
    size_t n;
} seen;

typedef struct check_ctx {
    const qvi_change *want;
    size_t n, at;
} check_ctx;

static bool same_ids(const qv_point_id *a, const qv_point_id *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (qv_id_compare(&a[i], &b[i]) != 0)
            return false;
    }
    return true;
}

static bool same_text(const char *a, size_t la, const char *b, size_t lb)
{
    return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

static qv_status check_visit(void *arg, const qvi_change *r, size_t off)
{
    (void)off;
    check_ctx *x = arg;
    ck_assert_uint_lt(x->at, x->n);
    const qvi_change *w = &x->want[x->at++];
    ck_assert_uint_eq(r->kind, w->kind);
    ck_assert_uint_eq(r->lsn, w->lsn);
    ck_assert_uint_eq(r->n, w->n);
    ck_assert(same_ids(r->ids, w->ids, w->n));
    ck_assert_uint_eq(r->dim, w->dim);
    if (w->vecs)
        ck_assert(memcmp(r->vecs, w->vecs, w->n * w->dim * 4) == 0);
    ck_assert_int_eq(r->texts != NULL, w->texts != NULL);
    for (size_t i = 0; w->texts && i < w->n; i++) {
        size_t wl = w->texts[i] ? w->text_lens[i] : 0;
        ck_assert_int_eq(r->texts[i] != NULL, w->texts[i] != NULL);
        ck_assert(same_text(r->texts[i], r->text_lens[i], w->texts[i], wl));
    }
    ck_assert(same_text(r->json, r->json_len, w->json, w->json_len));
    ck_assert(same_text(r->index_kind, r->index_kind_len, w->index_kind,
                        w->index_kind_len));
    ck_assert_int_eq(r->key != NULL, w->key != NULL);
    if (w->key)
        ck_assert_str_eq(r->key, w->key);
    ck_assert_uint_eq(r->n_keys, w->n_keys);
    for (size_t i = 0; i < w->n_keys; i++)
        ck_assert_str_eq(r->keys[i], w->keys[i]);
    return QV_OK;
}

START_TEST(test_codec_round_trip)
{
    qv_point_id ids[3] = {qv_id_from_num(7), qv_id_from_num(UINT64_MAX)};
    ck_assert_int_eq(
        qv_id_parse_uuid("550e8400-e29b-41d4-a716-446655440000", &ids[2]),
        QV_OK);
    float vecs[3 * DIM];
    for (int i = 0; i < 3 * DIM; i++)
        vecs[i] = (float)i * -0.37f;
    const char *texts[3] = {"{\"a\":1}", NULL, "{\"b\":[1,2]}"};
    size_t lens[3] = {7, 99, 11};
    const char *keys[2] = {"a.b", "c"};
    qvi_change want[] = {
        {.kind = QVI_CHANGE_UPSERT,
         .ids = ids,
         .n = 3,
         .dim = DIM,
         .vecs = vecs},
        {.kind = QVI_CHANGE_UPSERT,
         .ids = ids,
         .n = 3,
         .dim = DIM,
         .vecs = vecs,
         .texts = texts,
         .text_lens = lens},
        {.kind = QVI_CHANGE_DELETE, .ids = ids + 2, .n = 1},
        {.kind = QVI_CHANGE_DELETE_FILTER, .ids = ids, .n = 3},
        {.kind = QVI_CHANGE_PAYLOAD_OVERWRITE,
         .ids = ids,
         .n = 1,
         .json = "{\"x\":true}",
         .json_len = 10},
        {.kind = QVI_CHANGE_PAYLOAD_SET,
         .ids = ids + 1,
         .n = 1,
         .json = "{}",
         .json_len = 2},
        {.kind = QVI_CHANGE_PAYLOAD_SET,
         .ids = ids + 2,
         .n = 1,
         .json = "{\"y\":2}",
         .json_len = 7,
         .key = "meta.src"},
        {.kind = QVI_CHANGE_PAYLOAD_DELETE_KEYS,
         .ids = ids,
         .n = 1,
         .keys = keys,
         .n_keys = 2},
        {.kind = QVI_CHANGE_PAYLOAD_DELETE_KEYS, .ids = ids, .n = 1},
        {.kind = QVI_CHANGE_PAYLOAD_CLEAR, .ids = ids + 2, .n = 1},
        {.kind = QVI_CHANGE_INDEX_CREATE,
         .key = "city",
         .index_kind = "\"keyword\"",
         .index_kind_len = 9},
        {.kind = QVI_CHANGE_INDEX_DROP, .key = "city"},
    };
    size_t n = sizeof(want) / sizeof(want[0]), len;
    uint8_t *seg = seg_new(&len, 5);
    for (size_t i = 0; i < n; i++) {
        want[i].lsn = 10 + i * 3;
        seg_append(&seg, &len, &want[i]);
    }
    /* Exact-size copy: ASan flags any read past the end. */
    uint8_t *exact = malloc(len);
    memcpy(exact, seg, len);
    check_ctx x = {.want = want, .n = n};
    qvi_wal_scan scan;
    ck_assert_int_eq(qvi_wal_scan_buffer(exact, len, check_visit, &x, &scan),
                     QV_OK);
    ck_assert_uint_eq(x.at, n);
    ck_assert_uint_eq(scan.n_records, n);
    ck_assert_uint_eq(scan.seq, 5);
    ck_assert_uint_eq(scan.valid_end, len);
    ck_assert(!scan.torn);
    ck_assert_uint_eq(scan.last_lsn, want[n - 1].lsn);
    free(exact);
    free(seg);
}
END_TEST

START_TEST(test_codec_layout_and_refusals)
{
    /* The bytes of a small record, so that a format change is seen. */
    qv_point_id id = qv_id_from_num(0x0102030405060708ull);
    qvi_change r = {
        .kind = QVI_CHANGE_PAYLOAD_CLEAR, .ids = &id, .n = 1, .lsn = 42};
    uint8_t *buf = NULL;
    size_t cap = 0, len;
    char err[200];
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &len, err, sizeof(err)),
                     QV_OK);
    ck_assert_uint_eq(len, 32 + 24);
    uint32_t blen, magic;
    uint16_t kind;
    uint64_t lsn, num;
    memcpy(&blen, buf + 8, 4);
    memcpy(&kind, buf + 12, 2);
    memcpy(&lsn, buf + 16, 8);
    memcpy(&magic, buf + 24, 4);
    memcpy(&num, buf + 32 + 8, 8);
    ck_assert_uint_eq(blen, 24);
    ck_assert_uint_eq(kind, QVI_CHANGE_PAYLOAD_CLEAR);
    ck_assert_uint_eq(lsn, 42);
    ck_assert(memcmp(&magic, "QVRC", 4) == 0);
    ck_assert_uint_eq(num, 0x0102030405060708ull);
    uint8_t seg[QVI_WAL_SEG_HEADER];
    qvi_wal_segment_header(seg, 1);
    ck_assert(memcmp(seg, "QVWAL\r\n\x1a", 8) == 0);
    ck_assert_uint_eq(seg[8], QVI_WAL_VERSION);

    /* Refusals: unknown kind, missing data. */
    qvi_change bad = {.kind = 99};
    ck_assert_int_eq(qvi_wal_encode(&bad, &buf, &cap, &len, err, sizeof(err)),
                     QV_EINVAL);
    bad.kind = QVI_CHANGE_UPSERT;
    ck_assert_int_eq(qvi_wal_encode(&bad, &buf, &cap, &len, err, sizeof(err)),
                     QV_EINVAL);
    bad.kind = QVI_CHANGE_PAYLOAD_OVERWRITE;
    bad.ids = &id;
    ck_assert_int_eq(qvi_wal_encode(&bad, &buf, &cap, &len, err, sizeof(err)),
                     QV_EINVAL);
    /* Over the record limit: refused from the measure pass, before the
     * 268 MB of vectors this claims would be read. */
    qv_point_id many[1025];
    for (int i = 0; i < 1025; i++)
        many[i] = qv_id_from_num((uint64_t)i);
    float dummy[1] = {0};
    qvi_change big = {.kind = QVI_CHANGE_UPSERT,
                      .ids = many,
                      .n = 1025,
                      .dim = QV_MAX_DIM,
                      .vecs = dummy};
    ck_assert_int_eq(qvi_wal_encode(&big, &buf, &cap, &len, err, sizeof(err)),
                     QV_ERANGE);
    ck_assert_msg(strstr(err, "split the batch"), "message: %s", err);
    ck_assert_str_eq(qvi_wal_kind_name(QVI_CHANGE_DELETE_FILTER),
                     "delete by filter");
    ck_assert_str_eq(qvi_wal_kind_name(1234), "unknown");

    /* Decoding refuses trailing bytes and a malformed id. */
    qvi_change out;
    uint8_t body[32] = {0};
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_PAYLOAD_CLEAR, 1, body, 32, &out,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&out);
    body[0] = 7; /* id kind 7 */
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_PAYLOAD_CLEAR, 1, body, 24, &out,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&out);
    ck_assert_int_eq(qvi_wal_decode(200, 1, body, 24, &out, err, sizeof(err)),
                     QV_EFORMAT);
    qvi_wal_change_free(&out);
    /* An upsert claiming more points than its bytes hold allocates
     * nothing big: refused from the count alone. */
    uint8_t up[16] = {0};
    uint32_t dim = 4;
    uint64_t huge = 1ull << 60;
    memcpy(up, &dim, 4);
    memcpy(up + 8, &huge, 8);
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_UPSERT, 1, up, sizeof(up), &out,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&out);
    free(buf);
}
END_TEST

/* ---- 2. replay equals live ---------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static qv_point_id random_id(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    if (r % 8 == 0) {
        qv_point_id id = {.kind = QV_ID_UUID};
        memset(id.u.uuid, 0x40 + (int)(r % 13), 16);
        return id;
    }
    return qv_id_from_num(r % 120);
}

/* One random write of any kind; failures (absent ids) are fine. */
static void random_write(qv_collection *c, uint64_t *rng)
{
    qv_point_id ids[6];
    float vecs[6 * DIM];
    char texts[6][96];
    const char *tp[6];
    size_t lens[6];
    qv_point_id id = random_id(rng);
    char json[96];
    int op = (int)(rng_next(rng) % 10);
    size_t n = 1 + rng_next(rng) % 6;
    for (size_t i = 0; i < n; i++) {
        ids[i] = random_id(rng);
        for (int d = 0; d < DIM; d++)
            vecs[i * DIM + d] =
                (float)((int64_t)(rng_next(rng) % 20001) - 10000) / 777.0f;
        int k = (int)(rng_next(rng) % 50);
        lens[i] = (size_t)snprintf(
            texts[i], sizeof(texts[i]),
            "{\"a\":%d,\"tag\":\"t%d\",\"nested\":{\"x\":%d.5}}", k, k % 5, k);
        tp[i] = rng_next(rng) % 5 ? texts[i] : NULL;
    }
    switch (op) {
    case 0:
    case 1:
        qv_upsert_batch(c, ids, vecs, n, DIM);
        break;
    case 2:
    case 3:
        qv_upsert_with_payloads(c, ids, vecs, n, DIM, tp, lens);
        break;
    case 4:
        qv_delete(c, &id);
        break;
    case 5: {
        int len = snprintf(json, sizeof(json),
                           "{\"must\":[{\"key\":\"a\",\"range\":{\"lt\":%d}}]}",
                           (int)(rng_next(rng) % 6));
        qv_filter *f;
        ck_assert_int_eq(qv_filter_parse(json, (size_t)len, &f, NULL, 0),
                         QV_OK);
        qv_delete_filter(c, f, NULL);
        qv_filter_free(f);
        break;
    }
    case 6: {
        int len = snprintf(json, sizeof(json), "{\"o\":%d}",
                           (int)(rng_next(rng) % 9));
        qv_payload_overwrite(c, &id, json, (size_t)len);
        break;
    }
    case 7: {
        int len = snprintf(json, sizeof(json), "{\"s\":[%d,\"v\"]}",
                           (int)(rng_next(rng) % 9));
        qv_payload_set(c, &id, json, (size_t)len,
                       rng_next(rng) % 2 ? "nested.deep" : NULL);
        break;
    }
    case 8: {
        const char *keys[2] = {"tag", "nested.x"};
        qv_payload_delete_keys(c, &id, keys, 1 + rng_next(rng) % 2);
        break;
    }
    default:
        qv_payload_clear(c, &id);
        break;
    }
}

/* Random writes, a crash image, recovery: identical collections. */
static void replay_case(uint64_t ckpt, qv_metric metric, uint64_t seed)
{
    char *dir = make_tmpdir("wal"), live[4096], image[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    qv_store *s = open_store(live, ckpt);
    qv_collection_config cfg = config(metric);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "c", &cfg, &c), QV_OK);
    uint64_t rng = seed;
    for (int i = 0; i < 400; i++)
        random_write(c, &rng);
    qvi_journal_stats st;
    ck_assert_int_eq(qvi_journal_get_stats(c, &st), QV_OK);
    ck_assert_uint_gt(st.appends, 200);
    if (ckpt)
        ck_assert_uint_gt(st.checkpoints, 0);
    else
        ck_assert_uint_eq(st.checkpoints, 0);
    copy_tree(live, image);

    qv_store *r = open_store(image, ckpt);
    qv_collection *rc;
    ck_assert_int_eq(qv_store_get(r, "c", &rc), QV_OK);
    assert_same_collection(c, rc);
    qv_collection_config got;
    qv_collection_get_config(rc, &got);
    ck_assert_int_eq(got.metric, metric);
    /* The recovered collection continues the log: one more write, a
     * clean close and reopen still agree. */
    for (int i = 0; i < 20; i++) {
        uint64_t r1 = rng, r2 = rng;
        random_write(c, &r1);
        random_write(rc, &r2);
        rng = r1;
    }
    assert_same_collection(c, rc);
    qv_collection_release(rc);
    qv_store_close(r);
    r = open_store(image, ckpt);
    ck_assert_int_eq(qv_store_get(r, "c", &rc), QV_OK);
    assert_same_collection(c, rc);
    qv_collection_release(rc);
    qv_store_close(r);

    qv_collection_release(c);
    qv_store_close(s);
    rm_rf(dir);
    free(dir);
}

START_TEST(test_replay_equals_live_log_only)
{
    replay_case(0, QV_METRIC_COSINE, 0x9E3779B97F4A7C15ull);
    replay_case(0, QV_METRIC_EUCLID, 12345);
}
END_TEST

START_TEST(test_replay_equals_live_with_checkpoints)
{
    replay_case(QV_MIN_CHECKPOINT_WAL_BYTES, QV_METRIC_COSINE, 777);
    replay_case(3 * QV_MIN_CHECKPOINT_WAL_BYTES, QV_METRIC_DOT, 4242);
}
END_TEST

/* ---- 3. torn tails ------------------------------------------------------- */

typedef struct offsets {
    size_t off[64];
    size_t n;
} offsets;

static qv_status record_offset(void *arg, const qvi_change *r, size_t off)
{
    (void)r;
    offsets *o = arg;
    if (o->n < 64)
        o->off[o->n++] = off;
    return QV_OK;
}

/* A store with 5 upserts (one point each, with payload) in its log. */
static void five_upserts(const char *path)
{
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_DOT);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "t", &cfg, &c), QV_OK);
    for (uint64_t i = 1; i <= 5; i++) {
        qv_point_id id = qv_id_from_num(i);
        float v[DIM];
        vec_of(i, v);
        char p[40];
        int len = snprintf(p, sizeof(p), "{\"i\":%u}", (unsigned)i);
        const char *pp = p;
        size_t l = (size_t)len;
        ck_assert_int_eq(qv_upsert_with_payloads(c, &id, v, 1, DIM, &pp, &l),
                         QV_OK);
    }
    qv_collection_release(c);
    /* No close: close checkpoints; the crash image keeps the log. */
    char image[4096];
    PATHF(image, "%s.img", path);
    copy_tree(path, image);
    qv_store_close(s);
}

/* Opens the store, checks that collection name has n points and that
 * seg (if not NULL) was cut to seg_size, closes it. */
static void check_open(const char *path, const char *name, uint64_t n,
                       const char *seg, off_t seg_size)
{
    qv_store *s = open_store(path, 0);
    qv_collection *c;
    ck_assert_int_eq(qv_store_get(s, name, &c), QV_OK);
    uint64_t got;
    qv_count(c, &got);
    ck_assert_uint_eq(got, n);
    /* Before close: close checkpoints, which replaces the segment. */
    if (seg)
        ck_assert_int_eq(file_size(seg), seg_size);
    qv_collection_release(c);
    qv_store_close(s);
}

START_TEST(test_torn_tail_every_offset)
{
    char *dir = make_tmpdir("wal"), base[4096], image[4096], seg[4096];
    PATHF(base, "%s/s", dir);
    PATHF(image, "%s/s.img", dir);
    five_upserts(base);
    last_segment(image, "t", seg, sizeof(seg));
    size_t len;
    uint8_t *bytes = read_whole(seg, &len);
    offsets o = {0};
    qvi_wal_scan scan;
    ck_assert_int_eq(qvi_wal_scan_buffer(bytes, len, record_offset, &o, &scan),
                     QV_OK);
    ck_assert_uint_eq(o.n, 5);
    size_t last = o.off[4];
    char work[4096], wseg[4096];
    PATHF(work, "%s/w", dir);
    for (size_t cut = last; cut < len; cut++) {
        rm_rf(work);
        copy_tree(image, work);
        last_segment(work, "t", wseg, sizeof(wseg));
        ck_assert_int_eq(truncate(wseg, (off_t)cut), 0);
        check_open(work, "t", 4, wseg, (off_t)last);
    }
    /* A damaged last record (not cut short) is a torn tail too. */
    for (size_t at = last; at < len; at += 7) {
        rm_rf(work);
        copy_tree(image, work);
        last_segment(work, "t", wseg, sizeof(wseg));
        bytes[at] ^= 0x20;
        write_whole(wseg, bytes, len);
        bytes[at] ^= 0x20;
        check_open(work, "t", 4, wseg, (off_t)last);
    }
    /* After the cut, the log goes on: a new write lands and recovers. */
    qv_store *s = open_store(work, 0);
    qv_collection *c;
    ck_assert_int_eq(qv_store_get(s, "t", &c), QV_OK);
    qv_point_id id = qv_id_from_num(99);
    float v[DIM];
    vec_of(99, v);
    ck_assert_int_eq(qv_upsert(c, &id, v, DIM), QV_OK);
    qv_collection_release(c);
    char again[4096];
    PATHF(again, "%s/again", dir);
    copy_tree(work, again);
    qv_store_close(s);
    check_open(again, "t", 5, NULL, 0);
    free(bytes);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 4. corruption ------------------------------------------------------- */

START_TEST(test_mid_log_corruption)
{
    char *dir = make_tmpdir("wal"), base[4096], image[4096], seg[4096],
         work[4096], wseg[4096], err[256];
    PATHF(base, "%s/s", dir);
    PATHF(image, "%s/s.img", dir);
    PATHF(work, "%s/w", dir);
    five_upserts(base);
    last_segment(image, "t", seg, sizeof(seg));
    size_t len;
    uint8_t *bytes = read_whole(seg, &len);
    offsets o = {0};
    qvi_wal_scan scan;
    ck_assert_int_eq(qvi_wal_scan_buffer(bytes, len, record_offset, &o, &scan),
                     QV_OK);
    /* A flipped bit in the body, the length, the checksum of record 2 (of
     * 0..4), each followed by good records: refused, file untouched. */
    size_t spots[] = {o.off[2] + 40, o.off[2] + 8, o.off[2] + 1, o.off[1] + 30};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        rm_rf(work);
        copy_tree(image, work);
        last_segment(work, "t", wseg, sizeof(wseg));
        bytes[spots[i]] ^= 0x04;
        write_whole(wseg, bytes, len);
        bytes[spots[i]] ^= 0x04;
        ck_assert_int_eq(try_open(work, err, sizeof(err)), QV_ECORRUPT);
        ck_assert_msg(strstr(err, "wal-0000000000000001.log") &&
                          strstr(err, "offset"),
                      "message: %s", err);
        ck_assert_int_eq(file_size(wseg), (off_t)len);
    }
    free(bytes);

    /* An LSN gap: records 1, 2, 4. */
    rm_rf(work);
    copy_tree(image, work);
    last_segment(work, "t", wseg, sizeof(wseg));
    qv_point_id id = qv_id_from_num(1);
    size_t slen;
    uint8_t *s = seg_new(&slen, 1);
    uint64_t lsns[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        qvi_change r = {.kind = QVI_CHANGE_PAYLOAD_CLEAR,
                        .ids = &id,
                        .n = 1,
                        .lsn = lsns[i]};
        if (i == 0) {
            float v[DIM] = {1};
            r = (qvi_change){.kind = QVI_CHANGE_UPSERT,
                             .ids = &id,
                             .n = 1,
                             .dim = DIM,
                             .vecs = v,
                             .lsn = 1};
            seg_append(&s, &slen, &r);
            continue;
        }
        seg_append(&s, &slen, &r);
    }
    write_whole(wseg, s, slen);
    ck_assert_int_eq(try_open(work, err, sizeof(err)), QV_ECORRUPT);
    ck_assert_msg(strstr(err, "missing"), "message: %s", err);

    /* A payload index record of a kind no build knows. */
    free(s);
    s = seg_new(&slen, 1);
    qvi_change ix = {.kind = QVI_CHANGE_INDEX_CREATE,
                     .key = "city",
                     .index_kind = "nosuch",
                     .index_kind_len = 6,
                     .lsn = 1};
    seg_append(&s, &slen, &ix);
    write_whole(wseg, s, slen);
    ck_assert_int_eq(try_open(work, err, sizeof(err)), QV_ECORRUPT);
    ck_assert_msg(strstr(err, "unknown kind"), "message: %s", err);

    /* A record that decodes but cannot be applied (wrong dimension). */
    free(s);
    s = seg_new(&slen, 1);
    float v3[3] = {1, 2, 3};
    qvi_change up = {.kind = QVI_CHANGE_UPSERT,
                     .ids = &id,
                     .n = 1,
                     .dim = 3,
                     .vecs = v3,
                     .lsn = 1};
    seg_append(&s, &slen, &up);
    write_whole(wseg, s, slen);
    ck_assert_int_eq(try_open(work, err, sizeof(err)), QV_ECORRUPT);
    ck_assert_msg(strstr(err, "cannot be replayed"), "message: %s", err);

    /* Not a segment at all. */
    write_whole(wseg, (const uint8_t *)"hello, world, not a log segment!", 32);
    ck_assert_int_eq(try_open(work, err, sizeof(err)), QV_EFORMAT);
    free(s);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 5. failures --------------------------------------------------------- */

typedef struct inject {
    int fail_writes; /* fail this many writes from now on (-1: all) */
    bool partial;    /* write half, then fail */
    int fail_syncs;
    int writes, syncs;
} inject;

static ssize_t bad_write(void *arg, int fd, const void *b, size_t n, off_t off)
{
    inject *x = arg;
    x->writes++;
    if (x->fail_writes) {
        if (x->fail_writes > 0)
            x->fail_writes--;
        if (x->partial && n > 1) {
            ssize_t k = pwrite(fd, b, n / 2, off);
            (void)k;
        }
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, b, n, off);
}

static int bad_sync(void *arg, int fd)
{
    inject *x = arg;
    x->syncs++;
    if (x->fail_syncs) {
        x->fail_syncs--;
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

START_TEST(test_failed_append_changes_nothing)
{
    char *dir = make_tmpdir("wal"), path[4096], seg[4096], image[4096];
    PATHF(path, "%s/s", dir);
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_COSINE);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "f", &cfg, &c), QV_OK);
    qv_point_id a = qv_id_from_num(1), b = qv_id_from_num(2);
    float va[DIM], vb[DIM], got[DIM];
    vec_of(1, va);
    vec_of(2, vb);
    ck_assert_int_eq(qv_upsert(c, &a, va, DIM), QV_OK);
    ck_assert_int_eq(qv_payload_overwrite(c, &a, "{\"k\":1}", 7), QV_OK);
    last_segment(path, "f", seg, sizeof(seg));
    off_t before = file_size(seg);

    inject x = {.fail_writes = -1, .partial = true};
    qvi_journal_hooks h = {.write = bad_write, .sync = bad_sync, .arg = &x};
    qvi_journal_set_hooks(c, &h);
    const char *keys[1] = {"k"};
    const char *pl = "{\"z\":2}";
    size_t pl_len = 7;
    qv_filter *f;
    ck_assert_int_eq(qv_filter_parse("{}", 2, &f, NULL, 0), QV_OK);
    qv_status got_st[] = {
        qv_upsert(c, &b, vb, DIM),
        qv_upsert(c, &a, vb, DIM),
        qv_upsert_with_payloads(c, &b, vb, 1, DIM, &pl, &pl_len),
        qv_delete(c, &a),
        qv_delete_filter(c, f, NULL),
        qv_payload_overwrite(c, &a, "{\"k\":2}", 7),
        qv_payload_set(c, &a, "{\"j\":3}", 7, NULL),
        qv_payload_delete_keys(c, &a, keys, 1),
        qv_payload_clear(c, &a),
    };
    qv_filter_free(f);
    for (size_t i = 0; i < sizeof(got_st) / sizeof(got_st[0]); i++)
        ck_assert_msg(got_st[i] == QV_EIO, "writer %zu returned %s", i,
                      qv_status_name(got_st[i]));
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "nothing was changed"), "message: %s", msg);
    ck_assert_int_eq(x.writes, 9);
    /* Unchanged: one point, its vector and payload; the log cut back. */
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 1);
    bool has;
    qv_contains(c, &b, &has);
    ck_assert(!has);
    float want[DIM];
    memcpy(want, va, sizeof(want));
    ck_assert_int_eq(qv_get(c, &a, got, DIM), QV_OK);
    qvi_journal_stats st;
    qvi_journal_get_stats(c, &st);
    ck_assert(!st.failed);
    ck_assert_uint_eq(st.appended_lsn, 2);
    char *json;
    size_t jl;
    ck_assert_int_eq(qv_payload_get(c, &a, NULL, &json, &jl), QV_OK);
    ck_assert_str_eq(json, "{\"k\":1}");
    qv_free(json);
    ck_assert_int_eq(file_size(seg), before);

    /* Healthy again: the next write takes the next LSN and recovers. */
    qvi_journal_set_hooks(c, NULL);
    ck_assert_int_eq(qv_upsert(c, &b, vb, DIM), QV_OK);
    qvi_journal_get_stats(c, &st);
    ck_assert_uint_eq(st.appended_lsn, 3);
    PATHF(image, "%s/img", dir);
    copy_tree(path, image);
    qv_store *r = open_store(image, 0);
    qv_collection *rc;
    ck_assert_int_eq(qv_store_get(r, "f", &rc), QV_OK);
    assert_same_collection(c, rc);
    qv_collection_release(rc);
    qv_store_close(r);
    qv_collection_release(c);
    qv_store_close(s);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_failed_fsync_until_checkpoint)
{
    char *dir = make_tmpdir("wal"), path[4096], image[4096];
    PATHF(path, "%s/s", dir);
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_EUCLID);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "f", &cfg, &c), QV_OK);
    inject x = {.fail_syncs = 1};
    qvi_journal_hooks h = {.write = bad_write, .sync = bad_sync, .arg = &x};
    qvi_journal_set_hooks(c, &h);
    qv_point_id a = qv_id_from_num(1), b = qv_id_from_num(2);
    float v[DIM], got[DIM];
    vec_of(1, v);
    /* The fsync fails: not acknowledged, though applied in memory. */
    ck_assert_int_eq(qv_upsert(c, &a, v, DIM), QV_EIO);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "fsync"), "message: %s", msg);
    /* Failed state: writes refused, reads work. */
    ck_assert_int_eq(qv_upsert(c, &b, v, DIM), QV_EIO);
    ck_assert_int_eq(qv_payload_clear(c, &a), QV_EIO);
    ck_assert_int_eq(qv_get(c, &a, got, DIM), QV_OK);
    qvi_journal_stats st;
    qvi_journal_get_stats(c, &st);
    ck_assert(st.failed);
    ck_assert_int_eq(x.syncs, 1);
    /* A checkpoint makes everything durable and lifts the state. */
    ck_assert_int_eq(qv_store_checkpoint(s), QV_OK);
    qvi_journal_get_stats(c, &st);
    ck_assert(!st.failed);
    ck_assert_uint_eq(st.segments, 1);
    ck_assert_int_eq(qv_upsert(c, &b, v, DIM), QV_OK);
    PATHF(image, "%s/img", dir);
    copy_tree(path, image);
    qv_store *r = open_store(image, 0);
    qv_collection *rc;
    ck_assert_int_eq(qv_store_get(r, "f", &rc), QV_OK);
    assert_same_collection(c, rc);
    uint64_t n;
    qv_count(rc, &n);
    ck_assert_uint_eq(n, 2);
    qv_collection_release(rc);
    qv_store_close(r);

    /* A failed sync at the checkpoint's switch is lifted by that same
     * checkpoint (its snapshot covers everything). */
    ck_assert_int_eq(qv_upsert(c, &a, v, DIM), QV_OK);
    x.fail_syncs = 1;
    int syncs = x.syncs;
    ck_assert_int_eq(qv_store_checkpoint(s), QV_OK);
    ck_assert_int_eq(x.syncs, syncs + 1);
    ck_assert_int_eq(x.fail_syncs, 0);
    qvi_journal_get_stats(c, &st);
    ck_assert(!st.failed);
    ck_assert_int_eq(qv_upsert(c, &b, v, DIM), QV_OK);
    qv_collection_release(c);
    qv_store_close(s);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 6. group commit ----------------------------------------------------- */

enum { WRITERS = 8, PER_WRITER = 40 };

typedef struct gc_shared {
    qv_collection *c;
    pthread_mutex_t mu;
    uint8_t *image; /* the file as the last successful fsync covered it */
    size_t image_len;
    int syncs;
    bool acked[WRITERS * PER_WRITER];
    /* mu: the writers' progress, which the slow disk watches. */
    int entered, returned, done; /* qv_upsert calls; writers finished */
    bool stalled;                /* the watch gave up (a hang) */
} gc_shared;

static void wait_for_queue(gc_shared *g, int fd);

/* Records what each fsync covers: the file as it was before the call. */
static int recording_sync(void *arg, int fd)
{
    gc_shared *g = arg;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -1;
    int rc = fdatasync(fd);
    /* A slow disk, so that writers pile up behind the leader. */
    wait_for_queue(g, fd);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&g->mu);
    g->syncs++;
    if ((size_t)sb.st_size > g->image_len) {
        uint8_t *b = realloc(g->image, (size_t)sb.st_size);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
        g->image = b;
        g->image_len = (size_t)sb.st_size;
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

typedef struct gc_arg {
    gc_shared *g;
    int t;
} gc_arg;

static void *gc_writer(void *arg)
{
    gc_arg *a = arg;
    for (int i = 0; i < PER_WRITER; i++) {
        int k = a->t * PER_WRITER + i;
        qv_point_id id = qv_id_from_num((uint64_t)k);
        float v[DIM];
        vec_of((uint64_t)k, v);
        pthread_mutex_lock(&a->g->mu);
        a->g->entered++;
        pthread_mutex_unlock(&a->g->mu);
        qv_status st = qv_upsert(a->g->c, &id, v, DIM);
        pthread_mutex_lock(&a->g->mu);
        a->g->returned++;
        a->g->done += i + 1 == PER_WRITER;
        pthread_mutex_unlock(&a->g->mu);
        if (st == QV_OK) {
            pthread_mutex_lock(&a->g->mu);
            a->g->acked[k] = true;
            pthread_mutex_unlock(&a->g->mu);
        }
    }
    return NULL;
}

static qv_status mark_durable(void *arg, const qvi_change *r, size_t off)
{
    (void)off;
    bool *durable = arg;
    for (size_t i = 0; i < r->n; i++)
        durable[r->ids[i].u.num] = true;
    return QV_OK;
}

/* The slow disk of recording_sync, slow by exactly as much as it takes:
 * it returns once every writer still running is inside qv_upsert with its
 * record in the log (so all of them queue behind this fsync), whatever the
 * machine's speed.  No writer can pass a running fsync, so this always
 * comes; GC_STALL_SECONDS is only a safety net against a hang. */
enum { GC_STALL_SECONDS = 60 };

static void wait_for_queue(gc_shared *g, int fd)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pthread_mutex_lock(&g->mu);
        bool all_in = g->entered - g->returned == WRITERS - g->done;
        int entered = g->entered;
        pthread_mutex_unlock(&g->mu);
        if (all_in) {
            /* Every call that entered has appended: its id is in the log.
             * A record being written at the end reads as a torn tail. */
            struct stat sb;
            bool in_log[WRITERS * PER_WRITER] = {0};
            uint8_t *b = NULL;
            if (fstat(fd, &sb) == 0 && (b = malloc((size_t)sb.st_size + 1)) &&
                pread(fd, b, (size_t)sb.st_size, 0) == sb.st_size) {
                qvi_wal_scan scan;
                qvi_wal_scan_buffer(b, (size_t)sb.st_size, mark_durable, in_log,
                                    &scan);
            }
            free(b);
            int appended = 0;
            for (int k = 0; k < WRITERS * PER_WRITER; k++)
                appended += in_log[k];
            if (appended >= entered)
                return;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > GC_STALL_SECONDS) {
            pthread_mutex_lock(&g->mu);
            g->stalled = true;
            pthread_mutex_unlock(&g->mu);
            return;
        }
        struct timespec nap = {0, 50 * 1000};
        nanosleep(&nap, NULL);
    }
}

START_TEST(test_group_commit)
{
    char *dir = make_tmpdir("wal"), path[4096];
    PATHF(path, "%s/s", dir);
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_DOT);
    gc_shared g = {0};
    pthread_mutex_init(&g.mu, NULL);
    ck_assert_int_eq(qv_store_create(s, "g", &cfg, &g.c), QV_OK);
    qvi_journal_hooks h = {.sync = recording_sync, .arg = &g};
    qvi_journal_set_hooks(g.c, &h);
    pthread_t th[WRITERS];
    gc_arg args[WRITERS];
    for (int t = 0; t < WRITERS; t++) {
        args[t] = (gc_arg){.g = &g, .t = t};
        pthread_create(&th[t], NULL, gc_writer, &args[t]);
    }
    for (int t = 0; t < WRITERS; t++)
        pthread_join(th[t], NULL);

    ck_assert_msg(!g.stalled,
                  "the writers did not queue behind an fsync "
                  "within %d s: a hang",
                  GC_STALL_SECONDS);
    int total = WRITERS * PER_WRITER;
    qvi_journal_stats st;
    qvi_journal_get_stats(g.c, &st);
    ck_assert_uint_eq(st.appends, (uint64_t)total);
    ck_assert_uint_eq(st.durable_lsn, (uint64_t)total);
    printf("group commit: %d writes by %d threads, %llu fsyncs\n", total,
           WRITERS, (unsigned long long)st.syncs);
    ck_assert_uint_eq(st.syncs, (uint64_t)g.syncs);
    ck_assert_msg(st.syncs <= (uint64_t)total / 3,
                  "%llu fsyncs for %d writes: no grouping",
                  (unsigned long long)st.syncs, total);

    /* Every acknowledged write lies in what an fsync covered. */
    bool durable[WRITERS * PER_WRITER] = {0};
    qvi_wal_scan scan;
    ck_assert_int_eq(
        qvi_wal_scan_buffer(g.image, g.image_len, mark_durable, durable, &scan),
        QV_OK);
    for (int k = 0; k < total; k++) {
        ck_assert_msg(g.acked[k], "write %d failed", k);
        ck_assert_msg(durable[k], "write %d acknowledged before its fsync", k);
    }
    free(g.image);
    qv_collection_release(g.c);
    qv_store_close(s);
    pthread_mutex_destroy(&g.mu);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Writers while checkpoints rotate segments under them: nothing lost. */
static void *ckpt_writer(void *arg)
{
    gc_arg *a = arg;
    for (int i = 0; i < PER_WRITER; i++) {
        int k = a->t * PER_WRITER + i;
        qv_point_id id = qv_id_from_num((uint64_t)k);
        float v[DIM];
        vec_of((uint64_t)k, v);
        ck_assert_int_eq(qv_upsert(a->g->c, &id, v, DIM), QV_OK);
    }
    return NULL;
}

START_TEST(test_writers_during_checkpoints)
{
    char *dir = make_tmpdir("wal"), path[4096], image[4096];
    PATHF(path, "%s/s", dir);
    qv_store *s = open_store(path, QV_MIN_CHECKPOINT_WAL_BYTES);
    qv_collection_config cfg = config(QV_METRIC_COSINE);
    gc_shared g = {0};
    ck_assert_int_eq(qv_store_create(s, "g", &cfg, &g.c), QV_OK);
    pthread_t th[4];
    gc_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (gc_arg){.g = &g, .t = t};
        pthread_create(&th[t], NULL, ckpt_writer, &args[t]);
    }
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(qv_store_checkpoint(s), QV_OK);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    qvi_journal_stats st;
    qvi_journal_get_stats(g.c, &st);
    ck_assert_uint_gt(st.checkpoints, 1);
    PATHF(image, "%s/img", dir);
    copy_tree(path, image);
    qv_store *r = open_store(image, 0);
    qv_collection *rc;
    ck_assert_int_eq(qv_store_get(r, "g", &rc), QV_OK);
    assert_same_collection(g.c, rc);
    uint64_t n;
    qv_count(rc, &n);
    ck_assert_uint_eq(n, 4 * PER_WRITER);
    qv_collection_release(rc);
    qv_store_close(r);
    qv_collection_release(g.c);
    qv_store_close(s);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 7. stores ----------------------------------------------------------- */

START_TEST(test_store_reopen_drop_lock)
{
    char *dir = make_tmpdir("wal"), path[4096], p[4096], err[256];
    PATHF(path, "%s/s", dir);
    qv_store *s = open_store(path, 0);
    /* One handle at a time. */
    qv_store *twice = (qv_store *)1;
    ck_assert_int_eq(qv_store_open_dir(path, NULL, &twice, err, sizeof(err)),
                     QV_EIO);
    ck_assert_ptr_null(twice);
    ck_assert_msg(strstr(err, "open already"), "message: %s", err);

    qv_collection_config cfg = config(QV_METRIC_DOT);
    qv_collection *a, *b;
    ck_assert_int_eq(qv_store_create(s, "alpha", &cfg, &a), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "beta", &cfg, &b), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "beta", &cfg, NULL), QV_EEXIST);
    qv_point_id id = qv_id_from_num(5);
    float v[DIM];
    vec_of(5, v);
    ck_assert_int_eq(qv_upsert(a, &id, v, DIM), QV_OK);
    ck_assert_int_eq(qv_upsert(b, &id, v, DIM), QV_OK);

    /* Drop: gone from disk at once; the kept handle reads, refuses
     * writes. */
    ck_assert_int_eq(qv_store_drop(s, "beta"), QV_OK);
    PATHF(p, "%s/collections/beta", path);
    ck_assert_int_ne(access(p, F_OK), 0);
    float got[DIM];
    ck_assert_int_eq(qv_get(b, &id, got, DIM), QV_OK);
    ck_assert_int_eq(qv_upsert(b, &id, v, DIM), QV_ENOTFOUND);
    qv_collection_release(b);
    /* Re-create under the same name: a fresh, empty collection. */
    ck_assert_int_eq(qv_store_create(s, "beta", &cfg, &b), QV_OK);
    uint64_t n;
    qv_count(b, &n);
    ck_assert_uint_eq(n, 0);
    qv_collection_release(b);
    qv_collection_release(a);
    qv_store_close(s);
    PATHF(p, "%s/trash", path);
    DIR *d = opendir(p);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);

    /* Reopen: both there, with what was written. */
    s = open_store(path, 0);
    char **names;
    size_t count;
    ck_assert_int_eq(qv_store_list(s, &names, &count), QV_OK);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(names[0], "alpha");
    ck_assert_str_eq(names[1], "beta");
    qv_free(names);
    ck_assert_int_eq(qv_store_get(s, "alpha", &a), QV_OK);
    ck_assert_int_eq(qv_get(a, &id, got, DIM), QV_OK);
    ck_assert(memcmp(got, v, sizeof(v)) == 0);
    qv_collection_release(a);
    /* After close, kept handles refuse writes too. */
    ck_assert_int_eq(qv_store_get(s, "alpha", &a), QV_OK);
    qv_store_close(s);
    ck_assert_int_eq(qv_upsert(a, &id, v, DIM), QV_ENOTFOUND);
    qv_collection_release(a);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Payload indexes are part of a collection's durable state: created and
 * dropped through the log (replayed after a crash) and kept in snapshots
 * (rebuilt from the payloads on open). */
static bool has_index(qv_collection *c, const char *key, qv_index_kind kind,
                      uint64_t points)
{
    qv_payload_index_info *info;
    size_t n;
    ck_assert_int_eq(qv_payload_index_list(c, &info, &n), QV_OK);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || (!strcmp(info[i].key, key) && info[i].kind == kind &&
                          info[i].points == points);
    qv_free(info);
    return found;
}

/* A full-text index's options survive a replay of the log and a snapshot
 * (the INDEX_CREATE record's and the payload indexes section's options). */
START_TEST(test_text_index_options_durable)
{
    char *dir = make_tmpdir("wal"), path[4096], image[4096], err[256];
    PATHF(path, "%s/s", dir);
    PATHF(image, "%s/crash", dir);
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_EUCLID);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "c", &cfg, &c), QV_OK);
    static const char *texts[] = {"The running dogs", "a theory of cats",
                                  "Crème brûlée"};
    for (uint64_t i = 0; i < 3; i++) {
        float v[DIM];
        vec_of(i, v);
        qv_point_id id = qv_id_from_num(i);
        char pl[64];
        snprintf(pl, sizeof pl, "{\"t\":\"%s\"}", texts[i]);
        const char *t[1] = {pl};
        size_t lens[1] = {strlen(pl)};
        ck_assert_int_eq(qv_upsert_with_payloads(c, &id, v, 1, DIM, t, lens),
                         QV_OK);
    }
    const char *custom[] = {"cats"};
    qv_text_index_options o;
    qv_text_index_options_init(&o);
    o.tokenizer = QV_TEXT_TOKENIZER_PREFIX;
    o.max_token_len = 5;
    o.ascii_folding = 1;
    o.stopwords_set = 1;
    o.custom_stopwords = custom;
    o.n_custom_stopwords = 1;
    o.stemmer_language = "english";
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_OK);
    char *want;
    ck_assert_int_eq(qv_payload_index_text_params(c, "t", &want), QV_OK);
    copy_tree(path, image);
    qv_collection_release(c);
    qv_store_close(s);

    for (int round = 0; round < 2; round++) {
        /* round 0: replayed from the log; round 1: from the snapshot. */
        s = open_store(image, 0);
        ck_assert_int_eq(qv_store_get(s, "c", &c), QV_OK);
        char *got;
        ck_assert_int_eq(qv_payload_index_text_params(c, "t", &got), QV_OK);
        ck_assert_str_eq(got, want);
        qv_free(got);
        static const struct {
            const char *q;
            uint64_t n;
        } cases[] = {{"run", 1}, {"theo", 1}, {"creme", 1}, {"cats", 0}};
        for (size_t k = 0; k < 4; k++) {
            char q[128];
            snprintf(q, sizeof q,
                     "{\"must\":{\"key\":\"t\",\"match\":{\"text\":"
                     "\"%s\"}}}",
                     cases[k].q);
            qv_filter *f;
            ck_assert_int_eq(qv_filter_parse(q, strlen(q), &f, err, sizeof err),
                             QV_OK);
            uint64_t n = 0;
            ck_assert_int_eq(qv_count_filter(c, f, &n), QV_OK);
            ck_assert_msg(n == cases[k].n, "%s: %llu", cases[k].q,
                          (unsigned long long)n);
            qv_filter_free(f);
        }
        qv_collection_release(c);
        qv_store_close(s);
    }
    qv_free(want);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_payload_indexes_durable)
{
    char *dir = make_tmpdir("wal"), path[4096], image[4096], err[256];
    PATHF(path, "%s/s", dir);
    PATHF(image, "%s/crash", dir);
    qv_store *s = open_store(path, 0);
    qv_collection_config cfg = config(QV_METRIC_EUCLID);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "c", &cfg, &c), QV_OK);
    for (uint64_t i = 0; i < 40; i++) {
        float v[DIM];
        vec_of(i, v);
        qv_point_id id = qv_id_from_num(i);
        char pl[64];
        snprintf(pl, sizeof pl, "{\"n\":%llu,\"tag\":\"t%llu\"}",
                 (unsigned long long)i, (unsigned long long)(i % 4));
        const char *texts[1] = {pl};
        size_t lens[1] = {strlen(pl)};
        ck_assert_int_eq(
            qv_upsert_with_payloads(c, &id, v, 1, DIM, texts, lens), QV_OK);
    }
    ck_assert_int_eq(qv_payload_index_create(c, "n", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "tag", QV_INDEX_KEYWORD),
                     QV_OK);
    ck_assert_int_eq(qv_payload_index_drop(c, "tag"), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "tag", QV_INDEX_TEXT), QV_OK);
    /* The disk as a crash would leave it: only the log has the indexes. */
    copy_tree(path, image);
    qv_collection_release(c);
    qv_store_close(s);

    for (int round = 0; round < 2; round++) {
        /* round 0: replayed from the log; round 1: from the snapshot the
         * close of round 0 wrote. */
        s = open_store(image, 0);
        ck_assert_int_eq(qv_store_get(s, "c", &c), QV_OK);
        ck_assert(has_index(c, "n", QV_INDEX_INTEGER, 40));
        ck_assert(has_index(c, "tag", QV_INDEX_TEXT, 40));
        ck_assert(!has_index(c, "tag", QV_INDEX_KEYWORD, 40));
        qv_filter *f;
        const char *q = "{\"must\":[{\"key\":\"n\",\"range\":{\"gte\":30}}]}";
        ck_assert_int_eq(qv_filter_parse(q, strlen(q), &f, err, sizeof err),
                         QV_OK);
        uint64_t n = 0;
        ck_assert_int_eq(qv_count_filter(c, f, &n), QV_OK);
        ck_assert_uint_eq(n, 10);
        qv_filter_free(f);
        qv_collection_release(c);
        qv_store_close(s);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_options_and_arguments)
{
    qv_store_options o;
    qv_store_options_init(&o);
    ck_assert_uint_eq(o.checkpoint_wal_bytes, QV_DEFAULT_CHECKPOINT_WAL_BYTES);
    ck_assert(o.verify_on_open);
    qv_store_options_init(NULL);
    char err[256];
    qv_store *s = (qv_store *)1;
    o.checkpoint_wal_bytes = 100;
    ck_assert_int_eq(qv_store_open_dir("/tmp/x", &o, &s, err, sizeof(err)),
                     QV_ERANGE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(qv_store_open_dir(NULL, NULL, &s, err, sizeof(err)),
                     QV_ENULL);
    ck_assert_int_eq(qv_store_open_dir("/tmp/x", NULL, NULL, err, sizeof(err)),
                     QV_ENULL);
    ck_assert_int_eq(qv_store_open_dir("", NULL, &s, NULL, 0), QV_EINVAL);
    ck_assert_int_eq(
        qv_store_open_dir("/nonexistent/dir/store", NULL, &s, err, sizeof(err)),
        QV_EIO);
    ck_assert_int_eq(qv_store_checkpoint(NULL), QV_ENULL);
    /* An in-memory store checkpoints nothing, successfully. */
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    ck_assert_int_eq(qv_store_checkpoint(s), QV_OK);
    qv_store_close(s);
    /* A collection directory without its snapshot is refused. */
    char *dir = make_tmpdir("wal"), p[4096];
    PATHF(p, "%s/collections", dir);
    mkdir(p, 0755);
    PATHF(p, "%s/collections/ghost", dir);
    mkdir(p, 0755);
    ck_assert_int_ne(try_open(dir, err, sizeof(err)), QV_OK);
    ck_assert_msg(strstr(err, "ghost"), "message: %s", err);
    /* A failed open checkpoints nothing: a good collection keeps its log
     * untouched, whether it was recovered before the bad one or not. */
    rm_rf(p);
    char good[4096], seg[4096];
    PATHF(good, "%s/good", dir);
    five_upserts(good); /* leaves good.img: a crash image with a log */
    PATHF(good, "%s/good.img", dir);
    PATHF(p, "%s/collections/zz-ghost", good);
    mkdir(p, 0755);
    last_segment(good, "t", seg, sizeof(seg));
    off_t before = file_size(seg);
    ck_assert_int_ne(try_open(good, err, sizeof(err)), QV_OK);
    ck_assert_msg(strstr(err, "zz-ghost"), "message: %s", err);
    ck_assert_int_eq(file_size(seg), before);
    ck_assert_int_eq(rmdir(p), 0);
    check_open(good, "t", 5, seg, before);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 8. fuzz ------------------------------------------------------------- */

START_TEST(test_fuzz_damaged_segments)
{
    char *dir = make_tmpdir("wal"), base[4096], image[4096], seg[4096];
    PATHF(base, "%s/s", dir);
    PATHF(image, "%s/s.img", dir);
    five_upserts(base);
    last_segment(image, "t", seg, sizeof(seg));
    size_t len;
    uint8_t *good = read_whole(seg, &len);
    uint64_t rng = 99;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = len;
        int mode = (int)(rng_next(&rng) % 4);
        if (mode == 1)
            n = rng_next(&rng) % (len + 1);
        else if (mode == 2)
            n = len + rng_next(&rng) % 64;
        uint8_t *b = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            b[i] = i < len ? good[i] : (uint8_t)rng_next(&rng);
        int flips = 1 + (int)(rng_next(&rng) % 8);
        for (int k = 0; mode != 1 && k < flips && n; k++)
            b[rng_next(&rng) % n] ^= (uint8_t)(1u << (rng_next(&rng) % 8));
        if (mode == 3)
            for (size_t i = QVI_WAL_SEG_HEADER; i < n; i++)
                b[i] = (uint8_t)rng_next(&rng);
        qvi_wal_scan scan;
        qv_status st = qvi_wal_scan_buffer(b, n, NULL, NULL, &scan);
        ck_assert(st == QV_OK || st == QV_ECORRUPT || st == QV_EFORMAT);
        ck_assert_uint_le(scan.valid_end, n);
        free(b);
    }
    free(good);
    rm_rf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("wal");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_codec_round_trip);
    tcase_add_test(tc, test_codec_layout_and_refusals);
    tcase_add_test(tc, test_replay_equals_live_log_only);
    tcase_add_test(tc, test_replay_equals_live_with_checkpoints);
    tcase_add_test(tc, test_torn_tail_every_offset);
    tcase_add_test(tc, test_mid_log_corruption);
    tcase_add_test(tc, test_failed_append_changes_nothing);
    tcase_add_test(tc, test_failed_fsync_until_checkpoint);
    tcase_add_test(tc, test_group_commit);
    tcase_add_test(tc, test_writers_during_checkpoints);
    tcase_add_test(tc, test_store_reopen_drop_lock);
    tcase_add_test(tc, test_payload_indexes_durable);
    tcase_add_test(tc, test_text_index_options_durable);
    tcase_add_test(tc, test_options_and_arguments);
    tcase_add_test(tc, test_fuzz_damaged_segments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
