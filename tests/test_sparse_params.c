/*
 * test_sparse_params.c -- changing a sparse collection's params
 * (qv_sparse_set_params: Qdrant's PATCH of a sparse vector's modifier and
 * index params) and the posting lists' datatype (float32, float16, uint8).
 *
 *  1. set_params: arguments are checked; the modifier switches IDF on and
 *     off at once (scores computed here by hand from Qdrant's formula);
 *     the threshold and datatype are reported back.
 *  2. Datatypes, with expectations worked out from Qdrant's rules, not
 *     from the library's code: float16 postings hold the nearest half
 *     (values written as exact constants); uint8 postings hold Qdrant's
 *     QuantizedU8 per list, min + round((v - min) / step) * step with step
 *     = (max - min) / 255 in f32; retrieve returns the float32 originals;
 *     the exact scan equals the index walk bit for bit; after inserts that
 *     widen a list's range and deletes that narrow it, the lists equal a
 *     fresh build over the same vectors; float16 refuses values beyond
 *     +-65504; the posting bytes fall to 6/8 and 5/8.
 *  3. Persistence: kind 21 in the log (codec, cut at every byte of the
 *     record: before or after, nothing else), replay from a crash image,
 *     and the datatype and modifier through a snapshot.
 *  4. Posting lists mapped from a snapshot (sections 36-38): the answers
 *     of the reopened collection equal the original's, its lists and rows
 *     are borrowed from the file, writes after the open (lists that grow
 *     out of the mapping, deletes, re-upserts) leave it equal to a fresh
 *     build; a file without the sections rebuilds; crafted damage to each
 *     field of the sections (resealed so the checksums pass) is refused,
 *     and lists that lie about their values only under verification.
 */
#include "core/core.h"
#include "core/sparse/sparse.h"
#include "persist/snapshot.h"
#include "persist/wal.h"
#include "tests/wal_support.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

static qv_point_id num(uint64_t n)
{
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_NUM;
    id.u.num = n;
    return id;
}

static qv_collection_config cfg_of(uint32_t modifier, uint32_t threshold,
                                   uint32_t datatype)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.kind = QV_VECTOR_SPARSE;
    cfg.sparse_modifier = modifier;
    cfg.sparse_full_scan_threshold = threshold;
    cfg.datatype = datatype;
    return cfg;
}

static qv_collection *make(uint32_t modifier, uint32_t datatype)
{
    qv_collection_config cfg = cfg_of(modifier, 0, datatype);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static void put(qv_collection *c, uint64_t id, const uint32_t *idx,
                const float *val, uint32_t nnz)
{
    qv_point_id p = num(id);
    qv_sparse_vector v = {idx, val, nnz};
    ck_assert_int_eq(qv_sparse_upsert(c, &p, &v, 1, NULL, NULL), QV_OK);
}

/* The score of point id for the one-dimension query {dim: 1} (exact or
 * by the index), or NAN when it is not a hit. */
static float score_of(qv_collection *c, uint32_t dim, uint64_t id, bool exact)
{
    float one = 1.0f;
    qv_sparse_vector q = {&dim, &one, 1};
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 100;
    p.exact = exact;
    qv_hit h[100];
    size_t n = 0;
    ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
    for (size_t i = 0; i < n; i++)
        if (h[i].id.u.num == id)
            return h[i].score;
    return NAN;
}

/* Whether c's last error message mentions what. */
static bool errmsg_has(qv_collection *c, const char *what)
{
    char msg[512];
    qv_collection_errmsg(c, msg, sizeof(msg));
    return strstr(msg, what) != NULL;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- 1. set_params ------------------------------------------------------- */

START_TEST(set_params_checks_arguments)
{
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_FLOAT32);
    qv_collection_config cfg = cfg_of(QV_SPARSE_MODIFIER_IDF, 0, 0);
    ck_assert_int_eq(qv_sparse_set_params(NULL, &cfg), QV_ENULL);
    ck_assert_int_eq(qv_sparse_set_params(c, NULL), QV_ENULL);
    cfg.sparse_modifier = 7;
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_EINVAL);
    ck_assert(errmsg_has(c, "modifier"));
    cfg.sparse_modifier = QV_SPARSE_MODIFIER_IDF;
    cfg.datatype = 9;
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_EINVAL);
    ck_assert(errmsg_has(c, "datatype"));
    /* nothing changed */
    qv_collection_config now;
    ck_assert_int_eq(qv_collection_get_config(c, &now), QV_OK);
    ck_assert_uint_eq(now.sparse_modifier, QV_SPARSE_MODIFIER_NONE);
    /* a dense collection is refused */
    qv_collection_config dense;
    qv_collection_config_init(&dense);
    dense.dim = 2;
    qv_collection *d = NULL;
    ck_assert_int_eq(qv_collection_create(&dense, &d), QV_OK);
    cfg.datatype = 0;
    ck_assert_int_eq(qv_sparse_set_params(d, &cfg), QV_EINVAL);
    size_t bytes = 1;
    ck_assert_int_eq(qv_sparse_posting_bytes(d, &bytes), QV_EINVAL);
    ck_assert_int_eq(qv_sparse_posting_bytes(c, NULL), QV_ENULL);
    qv_collection_release(d);
    qv_collection_release(c);
}
END_TEST

START_TEST(modifier_switches_idf_at_once)
{
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_FLOAT32);
    /* Four points; dimension 1 in all four, dimension 2 in point 0 only. */
    uint32_t i01[] = {1, 2}, i1[] = {1};
    float v01[] = {2.0f, 3.0f}, v1[] = {0.5f};
    put(c, 0, i01, v01, 2);
    for (uint64_t k = 1; k < 4; k++)
        put(c, k, i1, v1, 1);
    uint32_t qi[] = {1, 2};
    float qv[] = {1.0f, 1.0f};
    qv_sparse_vector q = {qi, qv, 2};
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit h[4];
    size_t n;
    ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_float_eq(h[0].score, 5.0f); /* 2 + 3, no IDF */
    ck_assert_float_eq(h[1].score, 0.5f);

    qv_collection_config cfg = cfg_of(QV_SPARSE_MODIFIER_IDF, 9, 0);
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_OK);
    /* Qdrant's idf = ln((N - df + 0.5) / (df + 0.5) + 1), N = 4 */
    double idf1 = log((4 - 4 + 0.5) / (4 + 0.5) + 1);
    double idf2 = log((4 - 1 + 0.5) / (1 + 0.5) + 1);
    ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
    ck_assert_double_eq_tol(h[0].score, 2 * idf1 + 3 * idf2, 1e-5);
    ck_assert_double_eq_tol(h[1].score, 0.5 * idf1, 1e-6);
    qv_collection_config now;
    ck_assert_int_eq(qv_collection_get_config(c, &now), QV_OK);
    ck_assert_uint_eq(now.sparse_modifier, QV_SPARSE_MODIFIER_IDF);
    ck_assert_uint_eq(now.sparse_full_scan_threshold, 9);
    float w = 0;
    ck_assert_int_eq(qv_sparse_idf(c, &qi[1], 1, &w), QV_OK);
    ck_assert_double_eq_tol(w, idf2, 1e-6);

    /* and off again; threshold 0 means the default */
    cfg = cfg_of(QV_SPARSE_MODIFIER_NONE, 0, 0);
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_OK);
    ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
    ck_assert_float_eq(h[0].score, 5.0f);
    ck_assert_int_eq(qv_collection_get_config(c, &now), QV_OK);
    ck_assert_uint_eq(now.sparse_full_scan_threshold,
                      QV_DEFAULT_SPARSE_FULL_SCAN);
    qv_collection_release(c);
}
END_TEST

/* ---- 2. datatypes -------------------------------------------------------- */

START_TEST(float16_holds_nearest_halves)
{
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_FLOAT16);
    uint32_t d[] = {3};
    /* nearest halves, from the IEEE binary16 grid: 0.1 -> 0x2E66, 1/3 ->
     * 0x3555, 1000.7 -> 1000.5 (spacing 0.5 in [512, 1024)), 2049 ->
     * 2048 (spacing 2, a tie to even) */
    const float in[] = {0.1f, 1.0f / 3.0f, 1000.7f, 2049.0f};
    const float want[] = {0.0999755859375f, 0.333251953125f, 1000.5f, 2048.0f};
    for (uint64_t k = 0; k < 4; k++)
        put(c, k, d, &in[k], 1);
    for (uint64_t k = 0; k < 4; k++) {
        ck_assert_float_eq(score_of(c, 3, k, false), want[k]);
        ck_assert_float_eq(score_of(c, 3, k, true), want[k]);
    }
    /* retrieve returns the float32 original, as Qdrant's vector storage */
    qv_point_id id = num(0);
    uint32_t *idx, nnz;
    float *val;
    ck_assert_int_eq(qv_sparse_get(c, &id, &idx, &val, &nnz), QV_OK);
    ck_assert_float_eq(val[0], 0.1f);
    qv_free(idx);
    qv_free(val);
    /* out of the half range: refused, nothing stored */
    float big = 70000.0f;
    qv_point_id p9 = num(9);
    qv_sparse_vector v = {d, &big, 1};
    ck_assert_int_eq(qv_sparse_upsert(c, &p9, &v, 1, NULL, NULL), QV_ERANGE);
    ck_assert(errmsg_has(c, "float16"));
    uint64_t count = 0;
    ck_assert_int_eq(qv_count(c, &count), QV_OK);
    ck_assert_uint_eq(count, 4);
    /* the same check under the write lock, against the datatype in force
     * when the write applies (a PATCH may come between) */
    qvi_sparse_row row = {d, &big, 1};
    ck_assert_int_eq(qvi_sparse_check_rows_locked(c, &row, 1), QV_ERANGE);
    row.val = (float *)&in[2];
    ck_assert_int_eq(qvi_sparse_check_rows_locked(c, &row, 1), QV_OK);
    qv_collection_release(c);
}
END_TEST

/* The walk's own half conversion equals the library's for every half
 * (NaNs: the same bits). */
START_TEST(half_conversion_matches)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float a = qvi_sparse_half_value((uint16_t)h),
              b = qvi_half_value((uint16_t)h);
        ck_assert_msg(memcmp(&a, &b, 4) == 0, "half 0x%04x: %a vs %a", h,
                      (double)a, (double)b);
    }
}
END_TEST

/* Qdrant's QuantizedU8 for one list, written out step by step in f32. */
static float u8_expect(float v, float lo, float hi)
{
    float step = (hi - lo) / 255.0f;
    float q = roundf((v - lo) / step);
    if (!(q >= 0.0f))
        q = 0.0f;
    if (q > 255.0f)
        q = 255.0f;
    volatile float prod = q * step; /* no fused multiply-add */
    return lo + prod;
}

START_TEST(uint8_quantizes_per_list)
{
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_UINT8);
    uint32_t d7[] = {7}, d8[] = {8};
    const float in[] = {1.0f, 2.0f, 3.5f, 11.0f};
    for (uint64_t k = 0; k < 4; k++)
        put(c, k, d7, &in[k], 1);
    /* dimension 8: one distinct value (step 0: 0 / 0 gives q 0, the min) */
    float five = 5.0f;
    put(c, 10, d8, &five, 1);
    put(c, 11, d8, &five, 1);
    for (uint64_t k = 0; k < 4; k++) {
        float want = u8_expect(in[k], 1.0f, 11.0f);
        ck_assert_float_eq(score_of(c, 7, k, false), want);
        ck_assert_float_eq(score_of(c, 7, k, true), want);
    }
    /* 3.5: (3.5 - 1) / (10 / 255) = 63.75 -> 64 -> 1 + 64 * 10 / 255 */
    ck_assert_float_eq_tol(score_of(c, 7, 2, false), 3.5098039f, 1e-6);
    ck_assert_float_eq(score_of(c, 8, 10, false), 5.0f);
    /* Widen the range (a new max): every posting is re-encoded. */
    float twenty = 21.0f;
    put(c, 4, d7, &twenty, 1);
    for (uint64_t k = 0; k < 4; k++)
        ck_assert_float_eq(score_of(c, 7, k, false),
                           u8_expect(in[k], 1.0f, 21.0f));
    ck_assert_float_eq(score_of(c, 7, 4, false), 21.0f);
    /* Delete the max and the min: back to [2, 11]. */
    qv_point_id p4 = num(4), p0 = num(0);
    ck_assert_int_eq(qv_delete(c, &p4), QV_OK);
    ck_assert_int_eq(qv_delete(c, &p0), QV_OK);
    for (uint64_t k = 1; k < 4; k++)
        ck_assert_float_eq(score_of(c, 7, k, false),
                           u8_expect(in[k], 2.0f, 11.0f));
    /* retrieve: the original */
    qv_point_id p2 = num(2);
    uint32_t *idx, nnz;
    float *val;
    ck_assert_int_eq(qv_sparse_get(c, &p2, &idx, &val, &nnz), QV_OK);
    ck_assert_float_eq(val[0], 3.5f);
    qv_free(idx);
    qv_free(val);
    qv_collection_release(c);
}
END_TEST

/* Best first, equal scores by id (slots, which order ties, differ between
 * collections built in different orders). */
static int by_score_id(const void *a, const void *b)
{
    const qv_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id.u.num > y->id.u.num) - (x->id.u.num < y->id.u.num);
}

/* Every hit of fixed random queries, with its score's bits, as text. */
static char *answers(qv_collection *c, bool exact)
{
    enum { K = 2000 };
    size_t cap = 1 << 22, len = 0;
    char *s = calloc(1, cap);
    static qv_hit h[K];
    uint64_t rng = 99;
    for (int t = 0; t < 20; t++) {
        uint32_t qi[4];
        float qv[4];
        for (int j = 0; j < 4; j++) {
            qi[j] = (uint32_t)(j * 10 + rng_next(&rng) % 10);
            qv[j] = (float)(1 + rng_next(&rng) % 5) / 3.0f;
        }
        qv_sparse_vector q = {qi, qv, 4};
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = K;
        p.exact = exact;
        size_t n;
        ck_assert_int_eq(qv_sparse_search(c, &q, &p, h, &n), QV_OK);
        ck_assert_uint_lt(n, K); /* all of them */
        qsort(h, n, sizeof(h[0]), by_score_id);
        for (size_t i = 0; i < n && len + 64 < cap; i++)
            len += (size_t)snprintf(s + len, cap - len, "%llu:%a ",
                                    (unsigned long long)h[i].id.u.num,
                                    (double)h[i].score);
        s[len++] = '\n';
    }
    return s;
}

/* Random writes with re-upserts and deletes; then the index walk equals
 * the scan, and both equal a collection built fresh from the surviving
 * vectors (the lists kept in step equal a fresh build). */
START_TEST(kept_lists_equal_fresh_build)
{
    uint32_t dt = (uint32_t)_i; /* float32, float16, uint8 */
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, dt);
    enum { N = 300 };
    static uint32_t idx[N][8];
    static float val[N][8];
    static uint32_t nnz[N];
    static bool alive[N];
    uint64_t rng = 0xfeed + dt;
    for (int round = 0; round < 3; round++) {
        for (uint64_t k = 0; k < N; k++) {
            if (rng_next(&rng) % 3 == 0 && round > 0)
                continue;
            nnz[k] = 1 + (uint32_t)(rng_next(&rng) % 8);
            for (uint32_t j = 0; j < nnz[k]; j++) {
                idx[k][j] = j * 10 + (uint32_t)(rng_next(&rng) % 10);
                val[k][j] = (float)(rng_next(&rng) % 1000) / 37.0f - 3.0f;
            }
            put(c, k, idx[k], val[k], nnz[k]);
            alive[k] = true;
        }
        for (uint64_t k = 0; k < N; k += 7 + (uint64_t)round) {
            if (!alive[k])
                continue;
            qv_point_id p = num(k);
            ck_assert_int_eq(qv_delete(c, &p), QV_OK);
            alive[k] = false;
        }
    }
    qv_collection *fresh = make(QV_SPARSE_MODIFIER_NONE, dt);
    for (uint64_t k = 0; k < N; k++)
        if (alive[k])
            put(fresh, k, idx[k], val[k], nnz[k]);
    char *walk = answers(c, false), *scan = answers(c, true),
         *ref = answers(fresh, false);
    ck_assert_msg(strcmp(walk, scan) == 0, "walk != scan");
    if (strcmp(walk, ref) != 0) {
        fprintf(stderr, "walk:\n%.600s\nref:\n%.600s\n", walk, ref);
        ck_abort_msg("walk != fresh build");
    }
    free(walk);
    free(scan);
    free(ref);
    qv_collection_release(fresh);
    qv_collection_release(c);
}
END_TEST

/* A datatype set later re-encodes the lists: the answers equal those of a
 * collection created with it; bytes per posting 8, 6, 5. */
START_TEST(set_datatype_reencodes_and_saves_memory)
{
    qv_collection *c = make(QV_SPARSE_MODIFIER_IDF, QV_DATATYPE_FLOAT32);
    qv_collection *u8 = make(QV_SPARSE_MODIFIER_IDF, QV_DATATYPE_UINT8);
    uint64_t rng = 17;
    for (uint64_t k = 0; k < 2000; k++) {
        uint32_t idx[4];
        float val[4];
        for (uint32_t j = 0; j < 4; j++) {
            idx[j] = j * 10 + (uint32_t)(rng_next(&rng) % 10);
            val[j] = (float)(rng_next(&rng) % 100) / 7.0f;
        }
        put(c, k, idx, val, 4);
        put(u8, k, idx, val, 4);
    }
    size_t b32, b16, b8;
    ck_assert_int_eq(qv_sparse_posting_bytes(c, &b32), QV_OK);
    qv_collection_config cfg =
        cfg_of(QV_SPARSE_MODIFIER_IDF, 0, QV_DATATYPE_FLOAT16);
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_OK);
    ck_assert_int_eq(qv_sparse_posting_bytes(c, &b16), QV_OK);
    cfg.datatype = QV_DATATYPE_UINT8;
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_OK);
    ck_assert_int_eq(qv_sparse_posting_bytes(c, &b8), QV_OK);
    /* 8000 postings in 40 lists: the table and list headers are the
     * same in all three, the postings 8, 6 and 5 bytes each (capacity
     * slack aside, the same growth in all three). */
    ck_assert_uint_gt(b32, b16);
    ck_assert_uint_gt(b16, b8);
    ck_assert_uint_eq(b32 - b16, (b32 - b8) * 2 / 3);
    char *got = answers(c, false), *want = answers(u8, false);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    /* float16 is refused while a value is out of its range */
    float big = -80000.0f;
    uint32_t d = 5;
    put(c, 5000, &d, &big, 1);
    cfg.datatype = QV_DATATYPE_FLOAT16;
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_ERANGE);
    qv_collection_config now;
    ck_assert_int_eq(qv_collection_get_config(c, &now), QV_OK);
    ck_assert_uint_eq(now.datatype, QV_DATATYPE_UINT8);
    qv_collection_release(u8);
    qv_collection_release(c);
}
END_TEST

/* ---- 3. persistence ------------------------------------------------------ */

START_TEST(codec_round_trip)
{
    qv_collection_config cfg =
        cfg_of(QV_SPARSE_MODIFIER_IDF, 123, QV_DATATYPE_UINT8);
    qvi_change r = {.kind = QVI_CHANGE_SPARSE_PARAMS, .sparse_cfg = &cfg};
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    char err[256];
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &len, err, sizeof(err)),
                     QV_OK);
    ck_assert_str_eq(qvi_wal_kind_name(QVI_CHANGE_SPARSE_PARAMS),
                     "sparse params set");
    /* a 32-byte record header, then the 16-byte body (docs/WAL.md) */
    ck_assert_uint_eq(len, 32 + 16);
    qvi_change out;
    ck_assert_msg(qvi_wal_decode(QVI_CHANGE_SPARSE_PARAMS, 1, buf + 32, 16,
                                 &out, err, sizeof(err)) == QV_OK,
                  "%s", err);
    ck_assert_uint_eq(out.sparse_cfg->sparse_modifier, QV_SPARSE_MODIFIER_IDF);
    ck_assert_uint_eq(out.sparse_cfg->sparse_full_scan_threshold, 123);
    ck_assert_uint_eq(out.sparse_cfg->datatype, QV_DATATYPE_UINT8);
    qvi_wal_change_free(&out);
    for (size_t cut = 0; cut < 16; cut++) {
        qvi_change bad;
        ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_SPARSE_PARAMS, 1, buf + 32,
                                        cut, &bad, err, sizeof(err)),
                         QV_ECORRUPT);
        qvi_wal_change_free(&bad);
    }
    /* values a config refuses are corrupt */
    const size_t bad_at[] = {0, 8, 12};
    for (size_t i = 0; i < 3; i++) {
        uint8_t body[16];
        memcpy(body, buf + 32, 16);
        body[bad_at[i]] = 7;
        qvi_change bad;
        ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_SPARSE_PARAMS, 1, body, 16,
                                        &bad, err, sizeof(err)),
                         QV_ECORRUPT);
        qvi_wal_change_free(&bad);
    }
    free(buf);
}
END_TEST

static qv_store *open_store(const char *path)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = 0; /* no automatic checkpoint */
    qv_store *s = NULL;
    char err[256];
    qv_status st = qv_store_open_dir(path, &o, &s, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "open %s: %s", path, err);
    return s;
}

/* The config's sparse params and the answers, as text. */
static char *state(qv_collection *c)
{
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(c, &cfg), QV_OK);
    char *a = answers(c, false);
    size_t n = strlen(a) + 64;
    char *s = malloc(n);
    snprintf(s, n, "mod %u fst %u dt %u\n%s", cfg.sparse_modifier,
             cfg.sparse_full_scan_threshold, cfg.datatype, a);
    free(a);
    return s;
}

static char *state_at(const char *path, const char *name)
{
    qv_store *s = open_store(path);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_get(s, name, &c), QV_OK);
    char *sig = state(c);
    qv_collection_release(c);
    qv_store_close(s);
    return sig;
}

static void fill(qv_collection *c, uint64_t seed)
{
    uint64_t rng = seed;
    for (uint64_t k = 0; k < 400; k++) {
        uint32_t idx[4];
        float val[4];
        for (uint32_t j = 0; j < 4; j++) {
            idx[j] = j * 10 + (uint32_t)(rng_next(&rng) % 10);
            val[j] = (float)(rng_next(&rng) % 100) / 7.0f;
        }
        put(c, k, idx, val, 4);
    }
}

/* kill -9 after an acknowledged set_params: the log replays it; the
 * record cut at any byte recovers to before or after. */
START_TEST(params_survive_crash_and_cuts)
{
    char *dir = make_tmpdir("sparse-params"), live[4096], image[4096],
         work[4096], seg[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    PATHF(work, "%s/work", dir);
    qv_store *s = open_store(live);
    qv_collection_config cfg = cfg_of(QV_SPARSE_MODIFIER_NONE, 0, 0);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_create(s, "t", &cfg, &c), QV_OK);
    fill(c, 7);
    char *before = state(c);
    last_segment(live, "t", seg, sizeof(seg));
    off_t from = file_size(seg);
    cfg = cfg_of(QV_SPARSE_MODIFIER_IDF, 11, QV_DATATYPE_UINT8);
    ck_assert_int_eq(qv_sparse_set_params(c, &cfg), QV_OK);
    char *after = state(c);
    copy_tree(live, image); /* what kill -9 leaves */
    off_t to = file_size(seg);
    qv_collection_release(c);
    qv_store_close(s);
    ck_assert_str_ne(before, after);
    ck_assert_int_eq(to - from, 32 + 16);
    /* (first: opening the image recovers and checkpoints it) */
    check_every_cut(image, work, "t", from, to, state_at, before, after);
    char *got = state_at(image, "t");
    ck_assert_str_eq(got, after);
    free(got);
    /* after the close's checkpoint: from the snapshot alone */
    got = state_at(live, "t");
    ck_assert_str_eq(got, after);
    free(got);
    free(before);
    free(after);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(snapshot_keeps_datatype)
{
    char *dir = make_tmpdir("sparse-dt-snap"), path[4096];
    PATHF(path, "%s/c.qvs", dir);
    qv_collection *c = make(QV_SPARSE_MODIFIER_IDF, QV_DATATYPE_FLOAT16);
    fill(c, 8);
    char *want = state(c);
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection *d = NULL;
    char err[256];
    ck_assert_msg(qv_snapshot_open(path, QV_SNAPSHOT_VERIFY, &d, err,
                                   sizeof(err)) == QV_OK,
                  "%s", err);
    char *got = state(d);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_nonnull(strstr(got, "dt 1"));
    free(got);
    free(want);
    qv_collection_release(d);
    qv_collection_release(c);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- 4. mapped posting lists -------------------------------------------- */

typedef struct image {
    uint8_t *b;
    size_t n;
} image;

static image save_image(qv_collection *c, const char *path)
{
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    image im = {aligned_alloc(4096, ((size_t)sb.st_size + 4095) & ~4095ul),
                (size_t)sb.st_size};
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(im.b, 1, im.n, f), im.n);
    fclose(f);
    return im;
}

static image copy_image(const image *im)
{
    image c = {aligned_alloc(4096, (im->n + 4095) & ~4095ul), im->n};
    memcpy(c.b, im->b, im->n);
    return c;
}

static uint8_t *entry_of(const image *im, uint32_t kind)
{
    uint32_t n;
    memcpy(&n, im->b + 20, 4);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = im->b + QVI_SNAP_HEADER_SIZE + i * QVI_SNAP_ENTRY_SIZE;
        uint32_t k;
        memcpy(&k, e, 4);
        if (k == kind)
            return e;
    }
    return NULL;
}

static uint8_t *section(const image *im, uint32_t kind, uint64_t *len)
{
    uint8_t *e = entry_of(im, kind);
    ck_assert_ptr_nonnull(e);
    uint64_t off;
    memcpy(&off, e + 8, 8);
    memcpy(len, e + 16, 8);
    return im->b + off;
}

/* Recomputes kind's checksum (kind 0: none), then the header's. */
static void reseal(image *im, uint32_t kind)
{
    if (kind) {
        uint64_t len;
        uint8_t *p = section(im, kind, &len);
        uint64_t sum = XXH3_64bits(p, len);
        memcpy(entry_of(im, kind) + 24, &sum, 8);
    }
    uint32_t n;
    memcpy(&n, im->b + 20, 4);
    size_t h = QVI_SNAP_HEADER_SIZE + n * QVI_SNAP_ENTRY_SIZE;
    memset(im->b + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    uint64_t sum = XXH3_64bits(im->b, h);
    memcpy(im->b + QVI_SNAP_HEADER_SUM_AT, &sum, 8);
}

/* Buffers lent to loaded collections, freed by free_loaded once they are
 * released. */
static void *lent[16];
static int n_lent;

static void free_loaded(void)
{
    while (n_lent)
        free(lent[--n_lent]);
}

static qv_collection *load_ok(const image *im, unsigned flags)
{
    image c = copy_image(im); /* the collection borrows it */
    ck_assert_int_lt(n_lent, 16);
    lent[n_lent++] = c.b;
    qv_collection *d = NULL;
    char err[256] = "";
    qv_status st =
        qvi_snapshot_load_buffer(c.b, c.n, flags, &d, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "%s", err);
    return d;
}

/* Loading a damaged copy of im fails with a message containing what. */
static void refused(const image *im, unsigned flags, const char *what)
{
    qv_collection *d = NULL;
    char err[256] = "";
    qv_status st =
        qvi_snapshot_load_buffer(im->b, im->n, flags, &d, err, sizeof(err));
    ck_assert_msg(st == QV_ECORRUPT, "expected corrupt, got %s: %s",
                  qv_status_name(st), err);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, what), "message '%s' lacks '%s'", err, what);
}

enum { MN = 400 };
typedef struct model {
    uint32_t idx[MN][8];
    float val[MN][8];
    uint32_t nnz[MN];
    bool alive[MN];
} model;

static void model_put(qv_collection *c, model *m, uint64_t k, uint64_t *rng)
{
    m->nnz[k] = 1 + (uint32_t)(rng_next(rng) % 8);
    for (uint32_t j = 0; j < m->nnz[k]; j++) {
        m->idx[k][j] = j * 10 + (uint32_t)(rng_next(rng) % 10);
        m->val[k][j] = (float)(rng_next(rng) % 1000) / 37.0f - 3.0f;
    }
    put(c, k, m->idx[k], m->val[k], m->nnz[k]);
    m->alive[k] = true;
}

static qv_collection *fresh_of(const model *m, uint32_t dt)
{
    qv_collection *f = make(QV_SPARSE_MODIFIER_IDF, dt);
    for (uint64_t k = 0; k < MN; k++)
        if (m->alive[k])
            put(f, k, m->idx[k], m->val[k], m->nnz[k]);
    return f;
}

static void same_answers(qv_collection *a, qv_collection *b)
{
    for (int exact = 0; exact < 2; exact++) {
        char *x = answers(a, exact), *y = answers(b, exact);
        ck_assert_msg(strcmp(x, y) == 0, "answers differ (exact %d)", exact);
        free(x);
        free(y);
    }
}

START_TEST(postings_mapped_round_trip)
{
    uint32_t dt = (uint32_t)_i;
    char *dir = make_tmpdir("sparse-map"), path[4096];
    PATHF(path, "%s/c.qvs", dir);
    static model m;
    memset(&m, 0, sizeof(m));
    uint64_t rng = 0xabc + dt;
    qv_collection *c = make(QV_SPARSE_MODIFIER_IDF, dt);
    for (uint64_t k = 0; k < 300; k++)
        model_put(c, &m, k, &rng);
    for (uint64_t k = 0; k < 300; k += 7) {
        qv_point_id p = num(k);
        ck_assert_int_eq(qv_delete(c, &p), QV_OK);
        m.alive[k] = false;
    }
    image im = save_image(c, path);
    /* the three sections are there, none required */
    for (uint32_t kind = QVI_SNAP_SPARSE_POSTINGS;
         kind <= QVI_SNAP_SPARSE_POSTING_VALUES; kind++) {
        uint8_t *e = entry_of(&im, kind);
        ck_assert_ptr_nonnull(e);
        uint32_t flags;
        memcpy(&flags, e + 4, 4);
        ck_assert_uint_eq(flags, 0);
    }
    for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY;
         flags += QV_SNAPSHOT_VERIFY) {
        qv_collection *d = load_ok(&im, flags);
        same_answers(c, d);
        /* lent by the file, not rebuilt */
        ck_assert(d->sparse->n_lists > 0);
        ck_assert(qvi_sparse_borrowed(d->sparse, d->sparse->lists[0].slots));
        ck_assert(qvi_sparse_borrowed(d->sparse, d->sparse->rows[1].idx));
        if (flags) {
            qv_collection_release(d);
            continue;
        }
        /* writes on the lent lists: grow them, delete, re-upsert */
        for (uint64_t k = 0; k < MN; k++) {
            if (k < 300 && rng_next(&rng) % 3)
                continue;
            model_put(d, &m, k, &rng);
        }
        for (uint64_t k = 3; k < MN; k += 11) {
            if (!m.alive[k])
                continue;
            qv_point_id p = num(k);
            ck_assert_int_eq(qv_delete(d, &p), QV_OK);
            m.alive[k] = false;
        }
        qv_collection *f = fresh_of(&m, dt);
        same_answers(d, f);
        /* and saved again from the half-lent state */
        char p2[4096];
        PATHF(p2, "%s/d.qvs", dir);
        image im2 = save_image(d, p2);
        qv_collection *e = load_ok(&im2, QV_SNAPSHOT_VERIFY);
        same_answers(e, f);
        qv_collection_release(e);
        qv_collection_release(f);
        qv_collection_release(d);
        free(im2.b);
    }
    /* A file without the posting sections (an older build's, or a reader
     * that skips them): the lists are rebuilt, same answers. */
    image old = copy_image(&im);
    for (uint32_t kind = QVI_SNAP_SPARSE_POSTINGS;
         kind <= QVI_SNAP_SPARSE_POSTING_VALUES; kind++) {
        uint32_t gap = kind + 3; /* 39-41: unknown, not required */
        memcpy(entry_of(&old, kind), &gap, 4);
    }
    reseal(&old, 0);
    qv_collection *o = load_ok(&old, QV_SNAPSHOT_VERIFY);
    same_answers(c, o);
    ck_assert(!qvi_sparse_borrowed(o->sparse, o->sparse->lists[0].slots));
    qv_collection_release(o);
    free(old.b);
    free(im.b);
    qv_collection_release(c);
    free_loaded();
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Each field of the posting sections damaged and resealed (so only the
 * structural checks can catch it). */
START_TEST(postings_damage_refused)
{
    char *dir = make_tmpdir("sparse-map-dmg"), path[4096];
    PATHF(path, "%s/c.qvs", dir);
    static model m;
    memset(&m, 0, sizeof(m));
    uint64_t rng = 0x5eed;
    qv_collection *c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_FLOAT32);
    for (uint64_t k = 0; k < 200; k++)
        model_put(c, &m, k, &rng);
    image im = save_image(c, path);
    qv_collection_release(c);
    uint64_t hl, sl, vl;
    size_t h_off = (size_t)(section(&im, QVI_SNAP_SPARSE_POSTINGS, &hl) - im.b),
           s_off = (size_t)(section(&im, QVI_SNAP_SPARSE_POSTING_SLOTS, &sl) -
                            im.b),
           v_off = (size_t)(section(&im, QVI_SNAP_SPARSE_POSTING_VALUES, &vl) -
                            im.b);
    const size_t e0 = h_off + QVI_SNAP_POSTINGS_HEADER; /* list 0 */
    const size_t e1 = e0 + QVI_SNAP_POSTINGS_ENTRY;     /* list 1 */
    uint32_t n0;
    memcpy(&n0, im.b + e0 + 4, 4);
    ck_assert_uint_gt(n0, 2);

    /* not resealed: the checksum */
    image x = copy_image(&im);
    x.b[s_off + 5] ^= 1;
    refused(&x, 0, "checksum");
    free(x.b);

    struct {
        size_t at;
        uint32_t value;
        uint32_t kind;
        const char *what;
    } cases[] = {
        {h_off, QV_DATATYPE_UINT8, QVI_SNAP_SPARSE_POSTINGS, "bad header"},
        {h_off + 4, 1000000, QVI_SNAP_SPARSE_POSTINGS, "bad header"},
        {h_off + 20, 1, QVI_SNAP_SPARSE_POSTINGS, "bad header"},
        {e0 + 4, 0, QVI_SNAP_SPARSE_POSTINGS, "empty or not where"},
        {e1 + 8, 1, QVI_SNAP_SPARSE_POSTINGS, "empty or not where"},
        {e0 + 4, 0xFFFFFFF0u, QVI_SNAP_SPARSE_POSTINGS, "empty or not where"},
        {s_off, 0x7FFFFFFFu, QVI_SNAP_SPARSE_POSTING_SLOTS, "out of range"},
        {s_off + 4, 0, QVI_SNAP_SPARSE_POSTING_SLOTS, "out of order"},
        {v_off, 0x7FC00000u, QVI_SNAP_SPARSE_POSTING_VALUES, "non-finite"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        x = copy_image(&im);
        memcpy(x.b + cases[i].at, &cases[i].value, 4);
        reseal(&x, cases[i].kind);
        refused(&x, 0, cases[i].what);
        free(x.b);
    }
    /* a dimension twice */
    x = copy_image(&im);
    memcpy(x.b + e1, x.b + e0, 4);
    reseal(&x, QVI_SNAP_SPARSE_POSTINGS);
    refused(&x, 0, "repeats");
    free(x.b);
    /* the arrays without their directory */
    x = copy_image(&im);
    uint32_t gap = 39;
    memcpy(entry_of(&x, QVI_SNAP_SPARSE_POSTINGS), &gap, 4);
    reseal(&x, 0);
    refused(&x, 0, "without their directory");
    free(x.b);
    /* Lists that lie about a value but keep every bound: only the deep
     * check finds it; a plain open answers (with the lie). */
    x = copy_image(&im);
    float f;
    memcpy(&f, x.b + v_off, 4);
    f += 1.0f;
    memcpy(x.b + v_off, &f, 4);
    reseal(&x, QVI_SNAP_SPARSE_POSTING_VALUES);
    qv_collection *d = load_ok(&x, 0);
    char *a = answers(d, false);
    free(a);
    qv_collection_release(d);
    refused(&x, QV_SNAPSHOT_VERIFY, "do not mirror");
    free(x.b);
    free(im.b);
    free_loaded();

    /* uint8: a range whose min exceeds its max */
    c = make(QV_SPARSE_MODIFIER_NONE, QV_DATATYPE_UINT8);
    for (uint64_t k = 0; k < 50; k++)
        model_put(c, &m, k, &rng);
    im = save_image(c, path);
    qv_collection_release(c);
    h_off = (size_t)(section(&im, QVI_SNAP_SPARSE_POSTINGS, &hl) - im.b);
    x = copy_image(&im);
    float big = 1e9f;
    memcpy(x.b + h_off + QVI_SNAP_POSTINGS_HEADER + 16, &big, 4);
    reseal(&x, QVI_SNAP_SPARSE_POSTINGS);
    refused(&x, 0, "uint8 range");
    free(x.b);
    free(im.b);
    rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sparse_params");
    TCase *tc = tcase_create("all");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, set_params_checks_arguments);
    tcase_add_test(tc, modifier_switches_idf_at_once);
    tcase_add_test(tc, float16_holds_nearest_halves);
    tcase_add_test(tc, half_conversion_matches);
    tcase_add_test(tc, uint8_quantizes_per_list);
    tcase_add_loop_test(tc, kept_lists_equal_fresh_build, 0, 3);
    tcase_add_test(tc, set_datatype_reencodes_and_saves_memory);
    tcase_add_test(tc, codec_round_trip);
    tcase_add_test(tc, params_survive_crash_and_cuts);
    tcase_add_test(tc, snapshot_keeps_datatype);
    tcase_add_loop_test(tc, postings_mapped_round_trip, 0, 3);
    tcase_add_test(tc, postings_damage_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
