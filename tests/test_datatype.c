/*
 * test_datatype.c -- vector datatypes (qv_collection_config.datatype):
 * the float16 and uint8 conversions against references (the compiler's
 * _Float16 where it has one, every half bit pattern, Rust's `as u8`
 * cases), what a collection stores and returns for each datatype and
 * metric, the refusals (float16 overflow, unknown
 * datatypes, layout-1 callers), recall of the graph against exact search
 * for each datatype x metric (plain, int8-quantized and multivector), and
 * persistence: snapshot round trip and write-ahead-log replay after the
 * writing process is killed.  It also prints the bytes a vector takes.
 */
#include "core/base/base.h"
#include "core/core.h"
#include "simd/simd.h"
#include "persist/snapshot.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const uint32_t DTYPES[] = {QV_DATATYPE_FLOAT32, QV_DATATYPE_FLOAT16,
                                  QV_DATATYPE_UINT8};

static qv_point_id pid(uint64_t i)
{
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = i};
    return id;
}

static float f16(float v)
{
    return qvi_f16_to_f32(qvi_f32_to_f16(v));
}

/* ---- conversions ---------------------------------------------------------
 */

START_TEST(test_half_known_values)
{
    ck_assert(f16(1.0f) == 1.0f);
    ck_assert(f16(-2.5f) == -2.5f);
    ck_assert(f16(0.1f) == 0.0999755859375f);
    ck_assert(f16(65504.0f) == 65504.0f);
    ck_assert(f16(65519.0f) == 65504.0f);
    ck_assert(isinf(f16(65520.0f)));
    ck_assert(qvi_f16_overflows(65520.0f));
    ck_assert(!qvi_f16_overflows(65519.99f));
    ck_assert(qvi_f16_overflows(-1e30f));
    /* ties to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 */
    ck_assert(f16(1.0f + 0x1p-11f) == 1.0f);
    ck_assert(f16(1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);
    /* subnormals: 2^-24 is the smallest; 2^-25 ties to 0 */
    ck_assert(f16(0x1p-24f) == 0x1p-24f);
    ck_assert(f16(0x1p-25f) == 0.0f);
    ck_assert(f16(3 * 0x1p-26f) == 0x1p-24f);
    ck_assert(f16(0x1p-14f - 0x1p-25f) == 0x1p-14f); /* rounds up to normal */
    ck_assert(qvi_f32_to_f16(-0.0f) == 0x8000u);
}
END_TEST

/* Every half widens and narrows back to itself. */
START_TEST(test_half_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            continue; /* NaN payloads */
        float f = qvi_f16_to_f32((uint16_t)h);
        ck_assert_msg(qvi_f32_to_f16(f) == h, "half 0x%04x -> %g -> 0x%04x", h,
                      (double)f, qvi_f32_to_f16(f));
    }
}
END_TEST

#ifdef __FLT16_MAX__
/* Against the compiler's conversion: each half, its neighbours' midpoints
 * and values a float ulp either side of them. */
START_TEST(test_half_vs_compiler)
{
    uint32_t checked = 0;
    for (uint32_t h = 0; h < 0x7c00u; h++) {
        float a = qvi_f16_to_f32((uint16_t)h);
        float b = qvi_f16_to_f32((uint16_t)(h + 1));
        float mid = a + (b - a) / 2;
        float probes[] = {a, mid, nextafterf(mid, 0), nextafterf(mid, 1e9f)};
        for (size_t i = 0; i < 4; i++)
            for (int s = 0; s < 2; s++) {
                float v = s ? -probes[i] : probes[i];
                float want = (float)(_Float16)v;
                ck_assert_msg(f16(v) == want || (isinf(want) && isinf(f16(v))),
                              "%a: %a, compiler %a", (double)v, (double)f16(v),
                              (double)want);
                checked++;
            }
    }
    printf("float16 conversion: %u values equal the compiler's\n", checked);
}
END_TEST
#endif

START_TEST(test_uint8_cast)
{
    /* Rust's `x as u8`: truncation toward zero, saturation. */
    static const float in[] = {-300, -1,     -0.5f,   0,   0.99f,  1,
                               2.9f, 127.5f, 254.99f, 255, 255.5f, 1e9f};
    static const float out[] = {0, 0, 0, 0, 0, 1, 2, 127, 254, 255, 255, 255};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        ck_assert_msg(qvi_round_uint8(in[i]) == out[i], "%g -> %g",
                      (double)in[i], (double)qvi_round_uint8(in[i]));
}
END_TEST

/* ---- collections ---------------------------------------------------------
 */

static qv_collection_config config(uint32_t dim, qv_metric m, uint32_t dt)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = m;
    cfg.datatype = dt;
    cfg.max_indexing_threads = 1;
    return cfg;
}

static qv_collection *make(uint32_t dim, qv_metric m, uint32_t dt)
{
    qv_collection_config cfg = config(dim, m, dt);
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

START_TEST(test_stored_values)
{
    float v[4] = {0.1f, -3.7f, 300.25f, 1000.5f};
    qv_point_id id = pid(1);
    float got[4];
    /* float16 under euclid: each component half-rounded */
    qv_collection *c = make(4, QV_METRIC_EUCLID, QV_DATATYPE_FLOAT16);
    ck_assert_int_eq(qv_upsert(c, &id, v, 4), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, got, 4), QV_OK);
    for (int i = 0; i < 4; i++)
        ck_assert(got[i] == f16(v[i]));
    ck_assert(got[0] != v[0]); /* 0.1 is no half */
    qv_collection_release(c);
    /* uint8 under dot: Rust's cast */
    c = make(4, QV_METRIC_DOT, QV_DATATYPE_UINT8);
    ck_assert_int_eq(qv_upsert(c, &id, v, 4), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, got, 4), QV_OK);
    ck_assert(got[0] == 0 && got[1] == 0 && got[2] == 255 && got[3] == 255);
    float w[4] = {7, 8.9f, 0, 200};
    ck_assert_int_eq(qv_upsert(c, &id, w, 4), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, got, 4), QV_OK);
    ck_assert(got[0] == 7 && got[1] == 8 && got[2] == 0 && got[3] == 200);
    /* The query is cast too: 7*7.9 -> 7*7 ... scores are on integers. */
    float q[4] = {1.9f, 1, 0, 0.5f};
    qv_search_params sp;
    qv_search_params_init(&sp);
    qv_hit hit;
    size_t n = 0;
    ck_assert_int_eq(qv_search(c, q, 4, &sp, &hit, &n), QV_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert(hit.score == 7.0f + 8.0f);
    qv_collection_release(c);
    /* float16 under cosine: normalised, then half-rounded */
    c = make(4, QV_METRIC_COSINE, QV_DATATYPE_FLOAT16);
    ck_assert_int_eq(qv_upsert(c, &id, v, 4), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, got, 4), QV_OK);
    double norm = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert(got[i] == f16(got[i]));
        norm += (double)got[i] * got[i];
    }
    ck_assert(fabs(norm - 1.0) < 1e-3);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_refusals)
{
    qv_collection *c = NULL;
    /* uint8 with cosine is no refusal any more: scored on the bytes
     * (test_narrow.c, test_recall) */
    qv_collection_config cfg = config(4, QV_METRIC_COSINE, QV_DATATYPE_UINT8);
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_collection_release(c);
    c = NULL;
    cfg = config(4, QV_METRIC_DOT, 3);
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    /* A sparse collection takes a datatype (its posting lists' values,
     * tests/test_sparse_params.c), also beside a cosine metric it ignores. */
    cfg = config(4, QV_METRIC_COSINE, QV_DATATYPE_UINT8);
    cfg.kind = QV_VECTOR_SPARSE;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_collection_release(c);
    c = NULL;
    /* A layout-1 caller has no datatype field: whatever lies there is
     * not read. */
    cfg = config(4, QV_METRIC_COSINE, 77);
    cfg.version = 1;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_collection_config got;
    qv_collection_get_config(c, &got);
    ck_assert_uint_eq(got.datatype, QV_DATATYPE_FLOAT32);
    ck_assert_uint_eq(got.version, QV_COLLECTION_CONFIG_VERSION);
    qv_collection_release(c);
    /* float16 overflow: refused with a message, nothing stored */
    c = make(2, QV_METRIC_EUCLID, QV_DATATYPE_FLOAT16);
    float big[2] = {1, 70000};
    qv_point_id id = pid(1);
    ck_assert_int_eq(qv_upsert(c, &id, big, 2), QV_ERANGE);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "float16"), "message: %s", msg);
    uint64_t n = 1;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 0);
    qv_collection_release(c);
    /* ... but under cosine the vector is normalised first */
    c = make(2, QV_METRIC_COSINE, QV_DATATYPE_FLOAT16);
    ck_assert_int_eq(qv_upsert(c, &id, big, 2), QV_OK);
    qv_collection_release(c);
}
END_TEST

/* Recall of the graph against exact search, for every datatype x metric
 * (uint8 under cosine: the bytes' own cosine) and with int8 codes. */
enum { RDIM = 24, RN = 1500, RQ = 40, RK = 10 };

static float rval(uint32_t dt, uint64_t i, uint32_t k)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull + k * 0xbf58476d1ce4e5b9ull + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    float x = (float)((z ^ (z >> 31)) >> 40) / (float)(1u << 24); /* 0..1 */
    return dt == QV_DATATYPE_UINT8 ? x * 255.0f : x * 4.0f - 2.0f;
}

static double recall(qv_collection *c, uint32_t dt)
{
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = RK;
    size_t found = 0;
    for (uint64_t q = 0; q < RQ; q++) {
        float qv[RDIM];
        for (uint32_t k = 0; k < RDIM; k++)
            qv[k] = rval(dt, 100000 + q, k);
        qv_hit g[RK], e[RK];
        size_t ng = 0, ne = 0;
        sp.exact = false;
        ck_assert_int_eq(qv_search(c, qv, RDIM, &sp, g, &ng), QV_OK);
        sp.exact = true;
        ck_assert_int_eq(qv_search(c, qv, RDIM, &sp, e, &ne), QV_OK);
        ck_assert_uint_eq(ne, RK);
        for (size_t i = 0; i < ng; i++)
            for (size_t j = 0; j < ne; j++)
                if (g[i].id.u.num == e[j].id.u.num) {
                    found++;
                    break;
                }
    }
    return (double)found / (RQ * RK);
}

START_TEST(test_recall)
{
    static const qv_metric metrics[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                        QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};
    static const uint32_t quants[] = {QV_QUANTIZATION_NONE,
                                      QV_QUANTIZATION_INT8};
    float *vecs = malloc(sizeof(float) * RN * RDIM);
    qv_point_id *ids = malloc(sizeof(*ids) * RN);
    for (size_t d = 0; d < 3; d++)
        for (size_t m = 0; m < 4; m++)
            for (size_t qz = 0; qz < 2; qz++) {
                uint32_t dt = DTYPES[d];
                qv_collection_config cfg = config(RDIM, metrics[m], dt);
                cfg.full_scan_threshold_kb = 0;
                cfg.quantization = quants[qz];
                qv_collection *c = NULL;
                ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
                for (uint64_t i = 0; i < RN; i++) {
                    ids[i] = pid(i);
                    for (uint32_t k = 0; k < RDIM; k++)
                        vecs[i * RDIM + k] = rval(dt, i, k);
                }
                ck_assert_int_eq(qv_upsert_batch(c, ids, vecs, RN, RDIM),
                                 QV_OK);
                double r = recall(c, dt);
                printf("recall %s %s %s: %.3f\n", qvi_datatype_name(dt),
                       qv_metric_name(metrics[m]), qz ? "int8" : "plain", r);
                ck_assert_msg(r >= 0.9, "recall %.3f", r);
                qv_collection_release(c);
            }
    free(vecs);
    free(ids);
}
END_TEST

/* Binary one-bit codes of uint8 vectors are made from x - 127, as
 * Qdrant's: without the shift every bit would be set and the code walk
 * would find nothing better than chance (recall 0 on this data; one-bit
 * codes of uniform data are weak either way, 0.16 with the shift). */
START_TEST(test_uint8_binary)
{
    qv_collection_config cfg =
        config(RDIM * 4, QV_METRIC_DOT, QV_DATATYPE_UINT8);
    cfg.full_scan_threshold_kb = 0;
    cfg.quantization = QV_QUANTIZATION_BINARY;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    enum { D = RDIM * 4 };
    float *vecs = malloc(sizeof(float) * RN * D);
    qv_point_id *ids = malloc(sizeof(*ids) * RN);
    for (uint64_t i = 0; i < RN; i++) {
        ids[i] = pid(i);
        for (uint32_t k = 0; k < D; k++)
            vecs[i * D + k] = rval(QV_DATATYPE_UINT8, i, k);
    }
    ck_assert_int_eq(qv_upsert_batch(c, ids, vecs, RN, D), QV_OK);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = RK;
    sp.quant_oversampling = 4;
    size_t found = 0;
    for (uint64_t q = 0; q < RQ; q++) {
        float qv[D];
        for (uint32_t k = 0; k < D; k++)
            qv[k] = rval(QV_DATATYPE_UINT8, 100000 + q, k);
        qv_hit g[RK], e[RK];
        size_t ng = 0, ne = 0;
        sp.exact = false;
        ck_assert_int_eq(qv_search(c, qv, D, &sp, g, &ng), QV_OK);
        sp.exact = true;
        ck_assert_int_eq(qv_search(c, qv, D, &sp, e, &ne), QV_OK);
        for (size_t i = 0; i < ng; i++)
            for (size_t j = 0; j < ne; j++)
                found += g[i].id.u.num == e[j].id.u.num;
    }
    double r = (double)found / (RQ * RK);
    printf("recall uint8 Dot binary (oversampling 4): %.3f\n", r);
    ck_assert_msg(r >= 0.1, "recall %.3f", r); /* 0 without the shift */
    free(vecs);
    free(ids);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_multivector)
{
    for (size_t d = 1; d < 3; d++) {
        uint32_t dt = DTYPES[d];
        qv_collection_config cfg = config(4, QV_METRIC_DOT, dt);
        cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
        qv_collection *c = NULL;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        float rows[8] = {0.1f, 2.7f, 3, 4, 100.3f, -6, 7.5f, 8};
        qv_point_id id = pid(5);
        uint32_t counts[1] = {2};
        ck_assert_int_eq(
            qv_multi_upsert_batch(c, &id, 1, counts, rows, 4, NULL, NULL),
            QV_OK);
        float out[8];
        uint32_t n = 0;
        ck_assert_int_eq(qv_multi_get(c, &id, out, 2, &n), QV_OK);
        ck_assert_uint_eq(n, 2);
        for (int i = 0; i < 8; i++) {
            float want = dt == QV_DATATYPE_FLOAT16 ? f16(rows[i])
                                                   : qvi_round_uint8(rows[i]);
            ck_assert_msg(out[i] == want, "%s row value %d: %g, want %g",
                          qvi_datatype_name(dt), i, (double)out[i],
                          (double)want);
        }
        /* MaxSim on converted rows: a query row (1,0,0,0) -> max(x0). */
        float q[4] = {1, 0, 0, 0};
        qv_search_params sp;
        qv_search_params_init(&sp);
        qv_hit hit;
        size_t nh = 0;
        ck_assert_int_eq(qv_multi_search(c, q, 1, 4, &sp, &hit, &nh), QV_OK);
        ck_assert_uint_eq(nh, 1);
        ck_assert(hit.score == out[4]);
        qv_collection_release(c);
    }
}
END_TEST

/* Bytes a vector takes in a collection of each datatype: the row plus
 * the per-slot norm (qv_memory_usage would say the same; this is the
 * layout).  Printed for the report; the assertion pins what this
 * version does, float32 rows whatever the datatype. */
START_TEST(test_memory_per_vector)
{
    for (size_t d = 0; d < 3; d++) {
        qv_collection *c = make(768, QV_METRIC_DOT, DTYPES[d]);
        size_t row = 0;
        ck_assert_int_eq(qv_collection_vector_bytes(c, &row), QV_OK);
        printf("memory per 768-dim vector, %s: %zu bytes of row + %zu of "
               "norm\n",
               qvi_datatype_name(DTYPES[d]), row, sizeof(float));
        /* rows are stored narrow: 4, 2 and 1 bytes a dimension */
        ck_assert_uint_eq(row, 768 * qvi_datatype_size(DTYPES[d]));
        qv_collection_release(c);
    }
}
END_TEST

/* ---- persistence ---------------------------------------------------------
 */

static void setup(void)
{
    scratch_dir_make("datatype");
}

enum { PDIM = 6, PN = 50 };

static float pval(uint64_t i, uint32_t k)
{
    return (float)(i * 3 + k) * 1.37f - 20.0f;
}

static void check_points(qv_collection *c, uint32_t dt, uint64_t n)
{
    qv_collection_config got;
    qv_collection_get_config(c, &got);
    ck_assert_uint_eq(got.datatype, dt);
    uint64_t count = 0;
    qv_count(c, &count);
    ck_assert_uint_eq(count, n);
    for (uint64_t i = 0; i < n; i++) {
        float out[PDIM];
        qv_point_id id = pid(i);
        ck_assert_int_eq(qv_get(c, &id, out, PDIM), QV_OK);
        for (uint32_t k = 0; k < PDIM; k++) {
            float want = pval(i, k);
            qvi_datatype_apply(dt, &want, 1);
            ck_assert(out[k] == want);
        }
    }
}

START_TEST(test_snapshot_round_trip)
{
    for (size_t d = 0; d < 3; d++) {
        qv_collection_config cfg = config(PDIM, QV_METRIC_EUCLID, DTYPES[d]);
        cfg.full_scan_threshold_kb = 0;
        qv_collection *c = NULL;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        for (uint64_t i = 0; i < PN; i++) {
            float v[PDIM];
            for (uint32_t k = 0; k < PDIM; k++)
                v[k] = pval(i, k);
            qv_point_id id = pid(i);
            ck_assert_int_eq(qv_upsert(c, &id, v, PDIM), QV_OK);
        }
        const char *path = scratch_path("d.qvs");
        ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
        qv_collection_release(c);
        for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
            qv_collection *o = NULL;
            char err[256] = "";
            ck_assert_msg(qv_snapshot_open(path, flags, &o, err, sizeof(err)) ==
                              QV_OK,
                          "open: %s", err);
            check_points(o, DTYPES[d], PN);
            /* A write after the load is converted too. */
            float v[PDIM] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 300};
            qv_point_id id = pid(0);
            ck_assert_int_eq(qv_upsert(o, &id, v, PDIM), QV_OK);
            float out[PDIM];
            ck_assert_int_eq(qv_get(o, &id, out, PDIM), QV_OK);
            qvi_datatype_apply(DTYPES[d], v, PDIM);
            ck_assert(memcmp(out, v, sizeof(v)) == 0);
            qv_collection_release(o);
        }
        qv_snapshot_info *info = NULL;
        char err[256];
        ck_assert_int_eq(qv_snapshot_describe(path, &info, err, sizeof(err)),
                         QV_OK);
        ck_assert_uint_eq(info->config.datatype, DTYPES[d]);
        qv_free(info);
    }
}
END_TEST

/* Verification of a loaded file checks the rows in their element type:
 * narrow rows are decoded, so a float16 row holding an infinite half, a
 * norm that disagrees with the bytes, or non-zero padding is refused.
 * (Every byte is a uint8 value; version 1 files, of float32 rows, are
 * checked value by value as they are converted: test_narrow.c.) */
START_TEST(test_verify_rows)
{
    uint16_t h[16] = {0};
    h[0] = qvi_f32_to_f16(1.0f);
    h[1] = qvi_f32_to_f16(1.5f);
    float sq = 1 + 2.25f;
    uint8_t live = 1;
    qvi_columns cols;
    memset(&cols, 0, sizeof(cols));
    cols.cfg = config(3, QV_METRIC_DOT, QV_DATATYPE_FLOAT16);
    cols.stride = 16;
    cols.row_bytes = 32;
    cols.n_slots = 1;
    cols.vecs = h;
    cols.sqnorms = &sq;
    cols.live = &live;
    char err[256] = "";
    ck_assert_int_eq(qvi_snapshot_check_vectors(&cols, err, sizeof(err)),
                     QV_OK);
    h[2] = 0x7c00u; /* +inf */
    ck_assert_int_eq(qvi_snapshot_check_vectors(&cols, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_msg(strstr(err, "finite"), "message: %s", err);
    h[2] = 0;
    h[5] = qvi_f32_to_f16(2.0f); /* padding */
    ck_assert_int_eq(qvi_snapshot_check_vectors(&cols, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_msg(strstr(err, "padding"), "message: %s", err);
    h[5] = 0;
    uint8_t u[16] = {1, 2, 3};
    cols.cfg = config(3, QV_METRIC_DOT, QV_DATATYPE_UINT8);
    cols.row_bytes = 16;
    cols.vecs = u;
    sq = 14;
    ck_assert_int_eq(qvi_snapshot_check_vectors(&cols, err, sizeof(err)),
                     QV_OK);
    u[1] = 200;
    ck_assert_int_eq(qvi_snapshot_check_vectors(&cols, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_msg(strstr(err, "norms"), "message: %s", err);
}
END_TEST

static qv_store *open_store(void)
{
    qv_store_options o;
    qv_store_options_init(&o);
    qv_store *s = NULL;
    char err[256] = "";
    ck_assert_msg(qv_store_open_dir(scratch_path("store"), &o, &s, err,
                                    sizeof(err)) == QV_OK,
                  "open store: %s", err);
    return s;
}

/* A process writes to a durable store and is killed with SIGKILL before
 * any checkpoint: the reopened store replays the log into collections
 * that keep their datatype and hold the converted values. */
START_TEST(test_wal_kill_reopen)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        qv_store *s = open_store();
        for (size_t d = 0; d < 3; d++) {
            qv_collection_config cfg = config(PDIM, QV_METRIC_DOT, DTYPES[d]);
            qv_collection *c = NULL;
            if (qv_store_create(s, qvi_datatype_name(DTYPES[d]), &cfg, &c) !=
                QV_OK)
                _exit(2);
            for (uint64_t i = 0; i < PN; i++) {
                float v[PDIM];
                for (uint32_t k = 0; k < PDIM; k++)
                    v[k] = pval(i, k);
                qv_point_id id = pid(i);
                if (qv_upsert(c, &id, v, PDIM) != QV_OK)
                    _exit(3);
            }
        }
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    qv_store *s = open_store();
    for (size_t d = 0; d < 3; d++) {
        qv_collection *c = NULL;
        ck_assert_int_eq(qv_store_get(s, qvi_datatype_name(DTYPES[d]), &c),
                         QV_OK);
        check_points(c, DTYPES[d], PN);
        qv_collection_release(c);
    }
    /* Asking for the same name with another datatype is a conflict. */
    qv_collection_config cfg = config(PDIM, QV_METRIC_DOT, QV_DATATYPE_FLOAT16);
    qv_collection *c = NULL;
    bool created = true;
    ck_assert_int_eq(qv_store_ensure(s, "uint8", &cfg, &c, &created),
                     QV_EEXIST);
    qv_store_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("datatype");
    TCase *conv = tcase_create("conversions");
    tcase_add_test(conv, test_half_known_values);
    tcase_add_test(conv, test_half_all_patterns);
#ifdef __FLT16_MAX__
    tcase_add_test(conv, test_half_vs_compiler);
#endif
    tcase_add_test(conv, test_uint8_cast);
    suite_add_tcase(s, conv);
    TCase *coll = tcase_create("collections");
    tcase_set_timeout(coll, 300);
    tcase_add_test(coll, test_stored_values);
    tcase_add_test(coll, test_refusals);
    tcase_add_test(coll, test_recall);
    tcase_add_test(coll, test_uint8_binary);
    tcase_add_test(coll, test_multivector);
    tcase_add_test(coll, test_memory_per_vector);
    suite_add_tcase(s, coll);
    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, setup, scratch_dir_remove);
    tcase_set_timeout(files, 300);
    tcase_add_test(files, test_snapshot_round_trip);
    tcase_add_test(files, test_verify_rows);
    tcase_add_test(files, test_wal_kill_reopen);
    suite_add_tcase(s, files);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
