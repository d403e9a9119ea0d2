/*
 * test_narrow.c -- narrow storage of float16 and uint8 collections: rows of
 * 2 and 1 bytes an element (core/collection.c, core/base/datatype.c).
 *
 * What it checks:
 *   - the bytes a row takes (qv_collection_vector_bytes) fall 2x and 4x;
 *   - for every metric x narrow datatype, exact, batch, graph and
 *     int8-quantized (rescored) searches score as the float reference
 *     computed here, in double, on the converted values (the values
 *     qv_get returns): within the float kernels' summation error for
 *     halves, exactly for bytes (integer kernels; the score is the
 *     integer rounded once to float);
 *   - snapshot round trip of narrow rows (format version 2, with and
 *     without verification), and a version 1 file -- float32 rows with a
 *     float16 / uint8 datatype, as earlier builds wrote -- opened and
 *     converted, its rows then written narrow by the next save; a version 1
 *     row that holds no value of the datatype is refused;
 *   - on_disk narrow rows (mapped arena) answer as heap rows, across growth;
 *   - multivectors: records of halves or bytes (the arena holds the packed
 *     size), MaxSim scores against the double reference for every metric,
 *     snapshot round trip, and version 1 records converted at open.
 * Write-ahead-log replay of narrow collections is covered by
 * test_datatype.c (test_wal_kill_reopen), which reads back through the
 * narrow rows.
 */
#include "core/core.h"
#include "core/multi/multi.h"
#include "persist/snapshot.h"
#include "simd/simd.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static qv_point_id pid(uint64_t i)
{
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = i};
    return id;
}

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

static qv_collection *make(uint32_t dim, qv_metric m, uint32_t dt,
                           uint32_t thr_kb)
{
    qv_collection_config cfg = config(dim, m, dt);
    cfg.full_scan_threshold_kb = thr_kb;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

/* Deterministic values: 0..255 with fractions for uint8 (the cast
 * truncates them), -2..2 otherwise. */
static float val(uint32_t dt, uint64_t i, uint32_t k)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull + k * 0xbf58476d1ce4e5b9ull + 7;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    float x = (float)((z ^ (z >> 31)) >> 40) / (float)(1u << 24); /* 0..1 */
    return dt == QV_DATATYPE_UINT8 ? x * 255.9f : x * 4.0f - 2.0f;
}

static void fill(qv_collection *c, uint32_t dt, uint32_t dim, uint64_t from,
                 uint64_t to)
{
    size_t n = to - from;
    float *v = malloc(n * dim * sizeof(float));
    qv_point_id *ids = malloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        ids[i] = pid(from + i);
        for (uint32_t k = 0; k < dim; k++)
            v[i * dim + k] = val(dt, from + i, k);
    }
    ck_assert_int_eq(qv_upsert_batch(c, ids, v, n, dim), QV_OK);
    free(v);
    free(ids);
}

/* ---- row size -------------------------------------------------------------
 */

START_TEST(test_row_bytes)
{
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT32, QV_DATATYPE_FLOAT16,
                                   QV_DATATYPE_UINT8};
    static const size_t want[] = {768 * 4, 768 * 2, 768};
    for (size_t d = 0; d < 3; d++) {
        qv_collection *c = make(768, QV_METRIC_DOT, dts[d], 0);
        size_t b = 0;
        ck_assert_int_eq(qv_collection_vector_bytes(c, &b), QV_OK);
        ck_assert_uint_eq(b, want[d]);
        ck_assert_uint_eq(c->elem * c->stride, b);
        ck_assert_int_eq(qv_collection_vector_bytes(c, NULL), QV_ENULL);
        qv_collection_release(c);
    }
    ck_assert_int_eq(qv_collection_vector_bytes(NULL, NULL), QV_ENULL);
    /* dim 20 rounds up to 32 elements: 32 bytes for uint8 */
    qv_collection *c = make(20, QV_METRIC_EUCLID, QV_DATATYPE_UINT8, 0);
    size_t b = 0;
    ck_assert_int_eq(qv_collection_vector_bytes(c, &b), QV_OK);
    ck_assert_uint_eq(b, 32);
    qv_collection_release(c);
}
END_TEST

/* ---- scores against the float reference ----------------------------------
 */

enum { SDIM = 37, SN = 600, SQ = 12, SK = 10 };

/* The query as the collection scores it: normalised under cosine (as
 * qvi_prepare_query does, in float), then converted. */
static void prepared(qv_metric m, uint32_t dt, const float *q, float *out,
                     uint32_t dim)
{
    memcpy(out, q, dim * sizeof(float));
    if (m == QV_METRIC_COSINE && dt != QV_DATATYPE_UINT8) {
        float sq = qvi_simd()->dot(out, out, dim);
        if (fabsf(sq - 1.0f) > 1.0e-6f)
            qvi_simd()->normalize(out, dim);
    }
    qvi_datatype_apply(dt, out, dim);
}

/* Qdrant's cosine of unnormalised bytes, in double: dot / sqrt(|q|^2
 * |v|^2), 0 when a norm is 0. */
static double byte_cosine(const float *q, const float *v, uint32_t dim)
{
    double d = 0, n1 = 0, n2 = 0;
    for (uint32_t k = 0; k < dim; k++) {
        d += (double)q[k] * v[k];
        n1 += (double)q[k] * q[k];
        n2 += (double)v[k] * v[k];
    }
    return n1 == 0 || n2 == 0 ? 0 : d / sqrt(n1 * n2);
}

/* The API score of stored vector v for prepared query q, in double. */
static double ref_score(qv_metric m, uint32_t dt, const float *q,
                        const float *v)
{
    if (m == QV_METRIC_COSINE && dt == QV_DATATYPE_UINT8)
        return byte_cosine(q, v, SDIM);
    double s = 0;
    for (uint32_t k = 0; k < SDIM; k++) {
        double a = q[k], b = v[k];
        if (m == QV_METRIC_COSINE || m == QV_METRIC_DOT)
            s += a * b;
        else if (m == QV_METRIC_EUCLID)
            s += (a - b) * (a - b);
        else
            s += fabs(a - b);
    }
    return m == QV_METRIC_EUCLID ? sqrt(s) : s;
}

/* The error allowed: halves sum in float (any order), bytes are exact
 * integers rounded once to float (then square-rooted for euclid). */
static double tolerance(uint32_t dt, qv_metric m, const float *q,
                        const float *v, double ref)
{
    if (dt == QV_DATATYPE_UINT8) /* cosine: a few float roundings */
        return m == QV_METRIC_EUCLID   ? 1e-6 * (ref + 1)
               : m == QV_METRIC_COSINE ? 1e-6
                                       : 1e-7 * fabs(ref);
    double mag = 0;
    for (uint32_t k = 0; k < SDIM; k++)
        mag += fabs((double)q[k]) * fabs((double)v[k]) + fabs((double)q[k]) +
               fabs((double)v[k]);
    double t = (SDIM + 8) * (double)FLT_EPSILON * (mag + 1);
    return m == QV_METRIC_EUCLID ? sqrt(t) + 1e-6 : t;
}

/* Every hit scores as the reference on qv_get's values; the exact hits
 * are the reference's best (by score, ties aside). */
static void check_hits(qv_collection *c, uint32_t dt, qv_metric m,
                       const float *q, const qv_hit *hits, size_t n,
                       const double *best, bool exact)
{
    for (size_t i = 0; i < n; i++) {
        float v[SDIM];
        ck_assert_int_eq(qv_get(c, &hits[i].id, v, SDIM), QV_OK);
        double ref = ref_score(m, dt, q, v);
        double tol = tolerance(dt, m, q, v, ref);
        ck_assert_msg(fabs(hits[i].score - ref) <= tol,
                      "%s %s: hit %zu score %.9g, reference %.9g (tol %g)",
                      qvi_datatype_name(dt), qv_metric_name(m), i,
                      (double)hits[i].score, ref, tol);
        if (exact)
            ck_assert_msg(fabs(hits[i].score - best[i]) <= tol,
                          "%s %s: exact hit %zu score %.9g, best %.9g",
                          qvi_datatype_name(dt), qv_metric_name(m), i,
                          (double)hits[i].score, best[i]);
    }
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static void scores_for(uint32_t dt, qv_metric m)
{
    qv_collection *c = make(SDIM, m, dt, 0);
    fill(c, dt, SDIM, 0, SN);
    float *rows = malloc((size_t)SN * SDIM * sizeof(float));
    for (uint64_t i = 0; i < SN; i++) {
        qv_point_id id = pid(i);
        ck_assert_int_eq(qv_get(c, &id, rows + i * SDIM, SDIM), QV_OK);
        for (uint32_t k = 0; k < SDIM; k++) { /* stored as converted */
            float x = rows[i * SDIM + k];
            qvi_datatype_apply(dt, &x, 1);
            ck_assert(x == rows[i * SDIM + k]);
        }
    }
    bool higher = qv_metric_higher_is_better(m);
    float qs[SQ][SDIM];
    for (uint32_t j = 0; j < SQ; j++)
        for (uint32_t k = 0; k < SDIM; k++)
            qs[j][k] = val(dt, 1000000 + j, k);
    qv_hit batch[SQ * SK];
    size_t nb[SQ];
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = SK;
    sp.exact = true;
    ck_assert_int_eq(qv_search_batch(c, &qs[0][0], SQ, SDIM, &sp, batch, nb),
                     QV_OK);
    for (uint32_t j = 0; j < SQ; j++) {
        float q[SDIM];
        prepared(m, dt, qs[j], q, SDIM);
        double *all = malloc(SN * sizeof(double));
        for (uint64_t i = 0; i < SN; i++) {
            double r = ref_score(m, dt, q, rows + i * SDIM);
            all[i] = higher ? r : -r;
        }
        qsort(all, SN, sizeof(double), cmp_desc);
        double best[SK];
        for (size_t i = 0; i < SK; i++)
            best[i] = higher ? all[i] : -all[i];
        free(all);
        qv_hit hits[SK];
        size_t n = 0;
        sp.exact = true;
        ck_assert_int_eq(qv_search(c, qs[j], SDIM, &sp, hits, &n), QV_OK);
        ck_assert_uint_eq(n, SK);
        check_hits(c, dt, m, q, hits, n, best, true);
        /* the batch (scanned with the narrow kernels) equals the search */
        ck_assert_uint_eq(nb[j], SK);
        for (size_t i = 0; i < SK; i++)
            ck_assert(batch[j * SK + i].score == hits[i].score);
        /* the graph: scores exact for what it finds */
        sp.exact = false;
        ck_assert_int_eq(qv_search(c, qs[j], SDIM, &sp, hits, &n), QV_OK);
        ck_assert_uint_eq(n, SK);
        check_hits(c, dt, m, q, hits, n, best, false);
    }
    /* int8 codes trained from the narrow rows, rescored on them */
    qv_collection_config qc = config(SDIM, m, dt);
    qc.quantization = QV_QUANTIZATION_INT8;
    ck_assert_int_eq(qv_collection_set_quantization(c, &qc), QV_OK);
    size_t code = 0;
    ck_assert_int_eq(qv_collection_code_bytes(c, &code), QV_OK);
    ck_assert_uint_gt(code, 0);
    sp.exact = false;
    sp.quant_rescore = QV_RESCORE_ON;
    for (uint32_t j = 0; j < SQ; j++) {
        float q[SDIM];
        prepared(m, dt, qs[j], q, SDIM);
        qv_hit hits[SK];
        size_t n = 0;
        ck_assert_int_eq(qv_search(c, qs[j], SDIM, &sp, hits, &n), QV_OK);
        ck_assert_uint_eq(n, SK);
        check_hits(c, dt, m, q, hits, n, NULL, false);
    }
    free(rows);
    qv_collection_release(c);
}

START_TEST(test_scores_f16)
{
    static const qv_metric ms[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                   QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};
    for (size_t i = 0; i < 4; i++)
        scores_for(QV_DATATYPE_FLOAT16, ms[i]);
}
END_TEST

START_TEST(test_scores_u8)
{
    /* cosine on the bytes as they are (Qdrant's cosine_similarity_bytes) */
    static const qv_metric ms[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                   QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};
    for (size_t i = 0; i < 4; i++)
        scores_for(QV_DATATYPE_UINT8, ms[i]);
}
END_TEST

/* ---- files ----------------------------------------------------------------
 */

static void setup(void)
{
    scratch_dir_make("narrow");
}

enum { FDIM = 20, FN = 300 };

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The table entry of section kind (docs/FORMAT.md), or NULL. */
static uint8_t *entry_of(uint8_t *b, uint32_t kind)
{
    uint32_t ns;
    memcpy(&ns, b + 20, 4);
    for (uint32_t i = 0; i < ns; i++) {
        uint8_t *e = b + QVI_SNAP_HEADER_SIZE + i * QVI_SNAP_ENTRY_SIZE;
        uint32_t k;
        memcpy(&k, e, 4);
        if (k == kind)
            return e;
    }
    return NULL;
}

static uint64_t section_len(uint8_t *b, uint32_t kind)
{
    uint64_t len;
    memcpy(&len, entry_of(b, kind) + 16, 8);
    return len;
}

/* Rewrites a version 2 float32 file as a version 1 file of datatype dt:
 * what an earlier build wrote for a dt collection (float32 rows of
 * converted values).  Reseals the config and header checksums. */
static void make_v1(const char *path, uint32_t dt)
{
    size_t n;
    uint8_t *b = read_all(path, &n);
    uint32_t v;
    memcpy(&v, b + 12, 4);
    ck_assert_uint_eq(v, 2);
    v = 1;
    memcpy(b + 12, &v, 4);
    uint8_t *e = entry_of(b, QVI_SNAP_CONFIG);
    uint64_t off, len;
    memcpy(&off, e + 8, 8);
    memcpy(&len, e + 16, 8);
    uint32_t elem;
    memcpy(&elem, b + off + 76, 4);
    ck_assert_uint_eq(elem, 4);
    memcpy(b + off + 72, &dt, 4);
    memset(b + off + 76, 0, 4); /* reserved in version 1 */
    uint64_t sum = XXH3_64bits(b + off, len);
    memcpy(e + 24, &sum, 8);
    uint32_t ns;
    memcpy(&ns, b + 20, 4);
    memset(b + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    sum = XXH3_64bits(b, QVI_SNAP_HEADER_SIZE + ns * QVI_SNAP_ENTRY_SIZE);
    memcpy(b + QVI_SNAP_HEADER_SUM_AT, &sum, 8);
    write_all(path, b, n);
    free(b);
}

/* Same points, same values, same exact answers. */
static void same(qv_collection *a, qv_collection *b, uint32_t dt)
{
    uint64_t na = 0, nb = 0;
    qv_count(a, &na);
    qv_count(b, &nb);
    ck_assert_uint_eq(na, nb);
    for (uint64_t i = 0; i < FN; i++) {
        qv_point_id id = pid(i);
        float x[FDIM], y[FDIM];
        qv_status st = qv_get(a, &id, x, FDIM);
        ck_assert_int_eq(qv_get(b, &id, y, FDIM), st);
        if (st == QV_OK)
            ck_assert(memcmp(x, y, sizeof(x)) == 0);
    }
    qv_search_params sp;
    qv_search_params_init(&sp);
    for (int exact = 0; exact < 2; exact++) {
        sp.exact = exact;
        for (uint64_t j = 0; j < 5; j++) {
            float q[FDIM];
            for (uint32_t k = 0; k < FDIM; k++)
                q[k] = val(dt, 5000 + j, k);
            qv_hit ha[10], hb[10];
            size_t n1 = 0, n2 = 0;
            ck_assert_int_eq(qv_search(a, q, FDIM, &sp, ha, &n1), QV_OK);
            ck_assert_int_eq(qv_search(b, q, FDIM, &sp, hb, &n2), QV_OK);
            ck_assert_uint_eq(n1, n2);
            for (size_t i = 0; i < n1; i++) {
                ck_assert_uint_eq(ha[i].id.u.num, hb[i].id.u.num);
                ck_assert(ha[i].score == hb[i].score);
            }
        }
    }
}

static qv_collection *open_ok(const char *path, unsigned flags)
{
    qv_collection *o = NULL;
    char err[256] = "";
    ck_assert_msg(qv_snapshot_open(path, flags, &o, err, sizeof(err)) == QV_OK,
                  "open %s: %s", path, err);
    return o;
}

START_TEST(test_snapshot_narrow)
{
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT16, QV_DATATYPE_UINT8};
    /* uint8 under cosine keeps its bytes unnormalised: verify must not
     * ask for unit rows */
    static const qv_metric ms[] = {QV_METRIC_COSINE, QV_METRIC_COSINE};
    for (size_t d = 0; d < 2; d++) {
        qv_metric m = ms[d];
        qv_collection *c = make(FDIM, m, dts[d], 0);
        fill(c, dts[d], FDIM, 0, FN);
        qv_point_id gone = pid(7);
        ck_assert_int_eq(qv_delete(c, &gone), QV_OK);
        const char *path = scratch_path("n.qvs");
        ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
        size_t n;
        uint8_t *b = read_all(path, &n);
        uint32_t v;
        memcpy(&v, b + 12, 4);
        ck_assert_uint_eq(v, QVI_SNAP_VERSION);
        /* the vectors section holds narrow rows: 32 elements a row */
        ck_assert_uint_eq(section_len(b, QVI_SNAP_VECTORS),
                          (uint64_t)c->used * 32 * c->elem);
        free(b);
        for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
            qv_collection *o = open_ok(path, flags);
            ck_assert_uint_eq(o->elem, c->elem);
            /* rows borrowed from the mapping, not copied */
            ck_assert(o->backing && qvi_backing_contains(o->backing, o->vecs));
            qv_point_id id = pid(7);
            bool has = true;
            ck_assert_int_eq(qv_contains(o, &id, &has), QV_OK);
            ck_assert(!has);
            same(c, o, dts[d]);
            /* writes after the open go to narrow rows too (the deleted
             * slot is reused, then the array grows out of the mapping) */
            qv_collection *c2 = make(FDIM, m, dts[d], 0);
            fill(c2, dts[d], FDIM, 0, FN);
            ck_assert_int_eq(qv_delete(c2, &gone), QV_OK);
            fill(o, dts[d], FDIM, 7, 8);
            fill(c2, dts[d], FDIM, 7, 8);
            fill(o, dts[d], FDIM, FN, FN + 200);
            fill(c2, dts[d], FDIM, FN, FN + 200);
            same(c2, o, dts[d]);
            qv_collection_release(c2);
            qv_collection_release(o);
        }
        qv_collection_release(c);
    }
}
END_TEST

START_TEST(test_snapshot_v1)
{
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT16, QV_DATATYPE_UINT8};
    for (size_t d = 0; d < 2; d++) {
        uint32_t dt = dts[d];
        qv_metric m =
            dt == QV_DATATYPE_UINT8 ? QV_METRIC_EUCLID : QV_METRIC_DOT;
        /* The narrow collection, and a float32 one of its values. */
        qv_collection *c = make(FDIM, m, dt, 0);
        fill(c, dt, FDIM, 0, FN);
        qv_collection *f = make(FDIM, m, QV_DATATYPE_FLOAT32, 0);
        for (uint64_t i = 0; i < FN; i++) {
            qv_point_id id = pid(i);
            float x[FDIM];
            ck_assert_int_eq(qv_get(c, &id, x, FDIM), QV_OK);
            ck_assert_int_eq(qv_upsert(f, &id, x, FDIM), QV_OK);
        }
        const char *path = scratch_path("v1.qvs");
        ck_assert_int_eq(qv_snapshot_save(f, path), QV_OK);
        make_v1(path, dt);
        qv_snapshot_info *info = NULL;
        char err[256] = "";
        ck_assert_int_eq(qv_snapshot_describe(path, &info, err, sizeof(err)),
                         QV_OK);
        ck_assert_uint_eq(info->format_version, 1);
        ck_assert_uint_eq(info->config.datatype, dt);
        qv_free(info);
        for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
            qv_collection *o = open_ok(path, flags);
            ck_assert_uint_eq(o->elem, c->elem);
            /* converted at open into owned narrow rows */
            ck_assert(!qvi_backing_contains(o->backing, o->vecs));
            same(c, o, dt);
            /* saved again: version 2, narrow rows */
            const char *p2 = scratch_path("v2.qvs");
            ck_assert_int_eq(qv_snapshot_save(o, p2), QV_OK);
            size_t n;
            uint8_t *b = read_all(p2, &n);
            uint32_t v;
            memcpy(&v, b + 12, 4);
            ck_assert_uint_eq(v, 2);
            ck_assert_uint_eq(section_len(b, QVI_SNAP_VECTORS),
                              (uint64_t)o->used * 32 * o->elem);
            free(b);
            qv_collection *o2 = open_ok(p2, QV_SNAPSHOT_VERIFY);
            same(c, o2, dt);
            qv_collection_release(o2);
            qv_collection_release(o);
        }
        /* A version 1 row holding no value of dt: 0.1 is no half and no
         * byte.  Written as a float32 file, relabelled. */
        qv_collection *bad = make(FDIM, m, QV_DATATYPE_FLOAT32, 0);
        float x[FDIM];
        for (uint32_t k = 0; k < FDIM; k++)
            x[k] = 0.1f;
        qv_point_id id = pid(1);
        ck_assert_int_eq(qv_upsert(bad, &id, x, FDIM), QV_OK);
        ck_assert_int_eq(qv_snapshot_save(bad, path), QV_OK);
        make_v1(path, dt);
        qv_collection *o = (qv_collection *)1;
        ck_assert_int_eq(qv_snapshot_open(path, 0, &o, err, sizeof(err)),
                         QV_ECORRUPT);
        ck_assert_ptr_null(o);
        ck_assert_msg(strstr(err, qvi_datatype_name(dt)), "message: %s", err);
        qv_collection_release(bad);
        qv_collection_release(f);
        qv_collection_release(c);
    }
}
END_TEST

/* A version 2 file whose config claims another element size is refused. */
START_TEST(test_snapshot_bad_elem)
{
    qv_collection *c = make(FDIM, QV_METRIC_DOT, QV_DATATYPE_FLOAT16, 0);
    fill(c, QV_DATATYPE_FLOAT16, FDIM, 0, 10);
    const char *path = scratch_path("e.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    size_t n;
    uint8_t *b = read_all(path, &n);
    uint8_t *e = entry_of(b, QVI_SNAP_CONFIG);
    uint64_t off, len;
    memcpy(&off, e + 8, 8);
    memcpy(&len, e + 16, 8);
    uint32_t elem = 4;
    memcpy(b + off + 76, &elem, 4);
    uint64_t sum = XXH3_64bits(b + off, len);
    memcpy(e + 24, &sum, 8);
    uint32_t ns;
    memcpy(&ns, b + 20, 4);
    memset(b + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    sum = XXH3_64bits(b, QVI_SNAP_HEADER_SIZE + ns * QVI_SNAP_ENTRY_SIZE);
    memcpy(b + QVI_SNAP_HEADER_SUM_AT, &sum, 8);
    write_all(path, b, n);
    free(b);
    qv_collection *o = (qv_collection *)1;
    char err[256] = "";
    ck_assert_int_eq(qv_snapshot_open(path, 0, &o, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_ptr_null(o);
    ck_assert_msg(strstr(err, "element"), "message: %s", err);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_on_disk_narrow)
{
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT16, QV_DATATYPE_UINT8};
    for (size_t d = 0; d < 2; d++) {
        uint32_t dt = dts[d];
        qv_collection *heap = make(FDIM, QV_METRIC_EUCLID, dt, 0);
        qv_collection *disk = make(FDIM, QV_METRIC_EUCLID, dt, 0);
        ck_assert_int_eq(qv_collection_set_vectors_on_disk(disk, scratch_dir),
                         QV_OK);
        /* several growths of the mapped arena */
        for (uint64_t from = 0; from < FN; from += 50) {
            fill(heap, dt, FDIM, from, from + 50);
            fill(disk, dt, FDIM, from, from + 50);
        }
        ck_assert(qvi_maparena_contains(&disk->vec_arena, disk->vecs));
        ck_assert_uint_ge(disk->vec_arena.len,
                          (size_t)disk->used * disk->row_bytes);
        same(heap, disk, dt);
        /* a snapshot of narrow rows opened on_disk: first growth copies
         * the borrowed rows into the arena */
        const char *path = scratch_path("d.qvs");
        ck_assert_int_eq(qv_snapshot_save(disk, path), QV_OK);
        qv_collection *o = open_ok(path, 0);
        ck_assert_int_eq(qv_collection_set_vectors_on_disk(o, scratch_dir),
                         QV_OK);
        qv_collection_release(disk);
        disk = o;
        qv_point_id three = pid(3);
        ck_assert_int_eq(qv_delete(heap, &three), QV_OK);
        ck_assert_int_eq(qv_delete(disk, &three), QV_OK);
        fill(heap, dt, FDIM, 3, 4);
        fill(disk, dt, FDIM, 3, 4);
        same(heap, disk, dt);
        qv_collection_release(disk);
        qv_collection_release(heap);
    }
}
END_TEST

/* ---- multivectors ---------------------------------------------------------
 */

enum { MDIM = 9, MN = 120, MROWS = 3 };

static uint32_t mrows(uint64_t i)
{
    return 1 + (uint32_t)(i % MROWS);
}

static void multi_fill(qv_collection *c, uint32_t dt, uint64_t from,
                       uint64_t to)
{
    float m[MROWS * MDIM];
    for (uint64_t i = from; i < to; i++) {
        qv_point_id id = pid(i);
        for (uint32_t k = 0; k < mrows(i) * MDIM; k++)
            m[k] = val(dt, i, k);
        ck_assert_int_eq(qv_multi_upsert(c, &id, m, mrows(i), MDIM), QV_OK);
    }
}

/* Qdrant's MaxSim score (sum of row maxima of the similarity), in double,
 * of prepared query rows q (nq) against stored rows d (nd). */
static double ref_maxsim(qv_metric m, uint32_t dt, const float *q, uint32_t nq,
                         const float *d, uint32_t nd)
{
    double sum = 0;
    for (uint32_t i = 0; i < nq; i++) {
        double best = -INFINITY;
        for (uint32_t j = 0; j < nd; j++) {
            double s = 0;
            if (m == QV_METRIC_COSINE && dt == QV_DATATYPE_UINT8) {
                s = byte_cosine(q + i * MDIM, d + j * MDIM, MDIM);
                if (s > best)
                    best = s;
                continue;
            }
            for (uint32_t k = 0; k < MDIM; k++) {
                double a = q[i * MDIM + k], b = d[j * MDIM + k];
                if (m == QV_METRIC_COSINE || m == QV_METRIC_DOT)
                    s += a * b;
                else if (m == QV_METRIC_EUCLID)
                    s -= (a - b) * (a - b);
                else
                    s -= fabs(a - b);
            }
            if (s > best)
                best = s;
        }
        sum += best;
    }
    return sum;
}

static void multi_scores(uint32_t dt, qv_metric m)
{
    qv_collection_config cfg = config(MDIM, m, dt);
    cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
    cfg.full_scan_threshold_kb = 0;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_uint_eq(c->multi->elem, qvi_datatype_size(dt));
    multi_fill(c, dt, 0, MN);
    /* records are narrow: the arena holds exactly the packed rows */
    size_t words = 0;
    for (uint64_t i = 0; i < MN; i++)
        words += qvi_multi_record_floats(MDIM, mrows(i), c->multi->elem);
    ck_assert_uint_eq(c->multi->len, words);
    /* a float32 store would hold 1 + rows * dim words a record */
    size_t f32_words = 0;
    for (uint64_t i = 0; i < MN; i++)
        f32_words += 1 + (size_t)mrows(i) * MDIM;
    ck_assert_uint_lt(c->multi->len * (dt == QV_DATATYPE_UINT8 ? 3 : 1),
                      f32_words);
    float *stored = malloc((size_t)MN * MROWS * MDIM * sizeof(float));
    for (uint64_t i = 0; i < MN; i++) {
        qv_point_id id = pid(i);
        uint32_t n = 0;
        ck_assert_int_eq(
            qv_multi_get(c, &id, stored + i * MROWS * MDIM, MROWS, &n), QV_OK);
        ck_assert_uint_eq(n, mrows(i));
        for (uint32_t k = 0; k < n * MDIM; k++) {
            float x = stored[i * MROWS * MDIM + k];
            qvi_datatype_apply(dt, &x, 1);
            ck_assert(x == stored[i * MROWS * MDIM + k]);
        }
    }
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 5;
    for (uint64_t j = 0; j < 6; j++) {
        float q[2 * MDIM], pq[2 * MDIM];
        for (uint32_t k = 0; k < 2 * MDIM; k++)
            q[k] = val(dt, 70000 + j, k);
        for (uint32_t r = 0; r < 2; r++)
            prepared(m, dt, q + r * MDIM, pq + r * MDIM, MDIM);
        for (int exact = 0; exact < 2; exact++) {
            sp.exact = exact;
            qv_hit hits[5];
            size_t n = 0;
            ck_assert_int_eq(qv_multi_search(c, q, 2, MDIM, &sp, hits, &n),
                             QV_OK);
            ck_assert_uint_eq(n, 5);
            for (size_t h = 0; h < n; h++) {
                uint64_t i = hits[h].id.u.num;
                double ref = ref_maxsim(m, dt, pq, 2, stored + i * MROWS * MDIM,
                                        mrows(i));
                /* Scores post-processed as Qdrant's (qv_multi_search). */
                if (m == QV_METRIC_EUCLID)
                    ref = sqrt(fabs(ref));
                else if (m == QV_METRIC_MANHATTAN)
                    ref = fabs(ref);
                double tol = dt != QV_DATATYPE_UINT8 ? 1e-5 * (fabs(ref) + 1)
                             : m == QV_METRIC_COSINE ? 1e-5
                                                     : 1e-7 * fabs(ref);
                ck_assert_msg(fabs(hits[h].score - ref) <= tol,
                              "%s %s: score %.9g, reference %.9g",
                              qvi_datatype_name(dt), qv_metric_name(m),
                              (double)hits[h].score, ref);
            }
        }
    }
    free(stored);
    qv_collection_release(c);
}

START_TEST(test_multi_scores)
{
    static const qv_metric ms[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                   QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};
    for (size_t i = 0; i < 4; i++) {
        multi_scores(QV_DATATYPE_FLOAT16, ms[i]);
        multi_scores(QV_DATATYPE_UINT8, ms[i]);
    }
}
END_TEST

static void multi_same(qv_collection *a, qv_collection *b, uint32_t dt)
{
    for (uint64_t i = 0; i < MN; i++) {
        qv_point_id id = pid(i);
        float x[MROWS * MDIM], y[MROWS * MDIM];
        uint32_t nx = 0, ny = 0;
        ck_assert_int_eq(qv_multi_get(a, &id, x, MROWS, &nx), QV_OK);
        ck_assert_int_eq(qv_multi_get(b, &id, y, MROWS, &ny), QV_OK);
        ck_assert_uint_eq(nx, ny);
        ck_assert(memcmp(x, y, nx * MDIM * sizeof(float)) == 0);
    }
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.exact = true;
    float q[MDIM];
    for (uint32_t k = 0; k < MDIM; k++)
        q[k] = val(dt, 99999, k);
    qv_hit ha[10], hb[10];
    size_t na = 0, nb = 0;
    ck_assert_int_eq(qv_multi_search(a, q, 1, MDIM, &sp, ha, &na), QV_OK);
    ck_assert_int_eq(qv_multi_search(b, q, 1, MDIM, &sp, hb, &nb), QV_OK);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert(ha[i].score == hb[i].score);
}

START_TEST(test_multi_snapshots)
{
    static const uint32_t dts[] = {QV_DATATYPE_FLOAT16, QV_DATATYPE_UINT8};
    for (size_t d = 0; d < 2; d++) {
        uint32_t dt = dts[d];
        qv_collection_config cfg = config(MDIM, QV_METRIC_DOT, dt);
        cfg.multivector = QV_MULTIVECTOR_MAX_SIM;
        qv_collection *c = NULL;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        multi_fill(c, dt, 0, MN);
        /* version 2: narrow records, read back as they were */
        const char *path = scratch_path("m.qvs");
        ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
        size_t n;
        uint8_t *b = read_all(path, &n);
        ck_assert_uint_eq(section_len(b, QVI_SNAP_MULTI_ROWS),
                          c->multi->len * sizeof(float));
        free(b);
        qv_collection *o = open_ok(path, QV_SNAPSHOT_VERIFY);
        ck_assert_uint_eq(o->multi->elem, c->multi->elem);
        multi_same(c, o, dt);
        qv_collection_release(o);
        /* version 1: a float32 collection of the converted values,
         * relabelled; the records are converted at open */
        qv_collection_config fc =
            config(MDIM, QV_METRIC_DOT, QV_DATATYPE_FLOAT32);
        fc.multivector = QV_MULTIVECTOR_MAX_SIM;
        qv_collection *f = NULL;
        ck_assert_int_eq(qv_collection_create(&fc, &f), QV_OK);
        for (uint64_t i = 0; i < MN; i++) {
            qv_point_id id = pid(i);
            float x[MROWS * MDIM];
            uint32_t nr = 0;
            ck_assert_int_eq(qv_multi_get(c, &id, x, MROWS, &nr), QV_OK);
            ck_assert_int_eq(qv_multi_upsert(f, &id, x, nr, MDIM), QV_OK);
        }
        ck_assert_int_eq(qv_snapshot_save(f, path), QV_OK);
        make_v1(path, dt);
        for (unsigned flags = 0; flags <= QV_SNAPSHOT_VERIFY; flags++) {
            o = open_ok(path, flags);
            ck_assert_uint_eq(o->multi->elem, qvi_datatype_size(dt));
            ck_assert_uint_eq(o->multi->len, c->multi->len);
            multi_same(c, o, dt);
            /* and writes after it */
            multi_fill(o, dt, MN, MN + 10);
            qv_point_id id = pid(MN + 3);
            float x[MROWS * MDIM];
            uint32_t nr = 0;
            ck_assert_int_eq(qv_multi_get(o, &id, x, MROWS, &nr), QV_OK);
            ck_assert_uint_eq(nr, mrows(MN + 3));
            qv_collection_release(o);
        }
        qv_collection_release(f);
        qv_collection_release(c);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("narrow");
    TCase *rows = tcase_create("rows");
    tcase_set_timeout(rows, 300);
    tcase_add_test(rows, test_row_bytes);
    tcase_add_test(rows, test_scores_f16);
    tcase_add_test(rows, test_scores_u8);
    tcase_add_test(rows, test_multi_scores);
    suite_add_tcase(s, rows);
    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, setup, scratch_dir_remove);
    tcase_set_timeout(files, 300);
    tcase_add_test(files, test_snapshot_narrow);
    tcase_add_test(files, test_snapshot_v1);
    tcase_add_test(files, test_snapshot_bad_elem);
    tcase_add_test(files, test_on_disk_narrow);
    tcase_add_test(files, test_multi_snapshots);
    suite_add_tcase(s, files);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
