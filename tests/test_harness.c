/*
 * test_harness.c -- the parts of `quiver bench` (bench/harness*.c,
 * plot_svg.c) that do not time anything: the readers on tiny files written
 * here (TEXMEX .fvecs/.bvecs/.ivecs with their _query/_groundtruth
 * siblings, .npy, and ann-benchmarks HDF5 written with the HDF5 C API),
 * the synthetic generator's determinism, exact ground truth against a
 * naive double-precision oracle, recall, the CSV header contract, QPS
 * interpolation at recall 0.95, the driver protocol's field parser, the
 * JSON and SVG outputs, and the run's handling of a missing driver.
 *
 * Timings are never asserted: they belong to the benchmark itself.
 */
#include "bench/harness.h"
#include "bench/harness_driver.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef QVB_HAVE_HDF5
#include <hdf5.h>
#endif

/* ---- helpers
 * ------------------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_harness_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Writes rows of `cols` 4-byte values (or 1-byte ones when elem is 1) in
 * the TEXMEX layout. */
static void write_texmex(const char *path, const void *data, size_t rows,
                         int32_t cols, size_t elem)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    const unsigned char *p = data;
    for (size_t i = 0; i < rows; i++) {
        ck_assert_int_eq(fwrite(&cols, 4, 1, f), 1);
        ck_assert_int_eq(fwrite(p + i * cols * elem, elem, (size_t)cols, f),
                         (size_t)cols);
    }
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static size_t count_substr(const char *s, const char *sub)
{
    size_t n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* ---- metrics
 * -------------------------------------------------------------------- */

START_TEST(metric_names)
{
    qvb_metric m;
    ck_assert_int_eq(qvb_metric_parse("euclidean", &m), 0);
    ck_assert_int_eq(m, QVB_METRIC_L2);
    ck_assert_int_eq(qvb_metric_parse("Angular", &m), 0);
    ck_assert_int_eq(m, QVB_METRIC_COSINE);
    ck_assert_int_eq(qvb_metric_parse("dot", &m), 0);
    ck_assert_int_eq(m, QVB_METRIC_IP);
    ck_assert_int_eq(qvb_metric_parse("hamming", &m), -1);
    ck_assert_str_eq(qvb_metric_name(QVB_METRIC_L2), "l2");
    ck_assert_str_eq(qvb_metric_name(QVB_METRIC_COSINE), "cosine");
    ck_assert_str_eq(qvb_metric_name(QVB_METRIC_IP), "ip");
}
END_TEST

/* ---- synthetic data ---------------------------------------------------------
 */

START_TEST(synthetic_names)
{
    uint32_t dim;
    qvb_metric m;
    ck_assert_int_eq(qvb_synthetic_parse("synthetic-128-l2", &dim, &m), 1);
    ck_assert_uint_eq(dim, 128);
    ck_assert_int_eq(m, QVB_METRIC_L2);
    ck_assert_int_eq(qvb_synthetic_parse("synthetic-768-cos", &dim, &m), 1);
    ck_assert_uint_eq(dim, 768);
    ck_assert_int_eq(m, QVB_METRIC_COSINE);
    ck_assert_int_eq(qvb_synthetic_parse("synthetic-0-l2", &dim, &m), 0);
    ck_assert_int_eq(qvb_synthetic_parse("synthetic-12-hamming", &dim, &m), 0);
    ck_assert_int_eq(qvb_synthetic_parse("sift_base.fvecs", &dim, &m), 0);
}
END_TEST

START_TEST(synthetic_deterministic)
{
    qvb_dataset a, b, c, d;
    qvb_err err;
    ck_assert_int_eq(qvb_synthetic(16, QVB_METRIC_L2, 300, 20, 7, &a, &err), 0);
    ck_assert_int_eq(qvb_synthetic(16, QVB_METRIC_L2, 300, 20, 7, &b, &err), 0);
    /* Same arguments, same bytes. */
    ck_assert_int_eq(memcmp(a.base, b.base, 300 * 16 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.queries, b.queries, 20 * 16 * sizeof(float)), 0);
    ck_assert_str_eq(a.name, "synthetic-16-l2");
    ck_assert_ptr_null(a.gt);
    /* A smaller n and another nq: the same prefix, the same queries. */
    ck_assert_int_eq(qvb_synthetic(16, QVB_METRIC_L2, 100, 5, 7, &c, &err), 0);
    ck_assert_int_eq(memcmp(a.base, c.base, 100 * 16 * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.queries, c.queries, 5 * 16 * sizeof(float)), 0);
    /* Another seed, other data. */
    ck_assert_int_eq(qvb_synthetic(16, QVB_METRIC_L2, 300, 20, 8, &d, &err), 0);
    ck_assert_int_ne(memcmp(a.base, d.base, 300 * 16 * sizeof(float)), 0);
    /* Queries are fresh samples, never copies of base points. */
    for (size_t q = 0; q < a.nq; q++)
        for (size_t i = 0; i < a.n; i++)
            ck_assert_int_ne(
                memcmp(a.queries + q * 16, a.base + i * 16, 16 * sizeof(float)),
                0);
    /* Values are finite and spread out (not all one cluster centre). */
    double mean = 0, var = 0;
    for (size_t i = 0; i < 300 * 16; i++) {
        ck_assert(isfinite(a.base[i]));
        mean += a.base[i];
    }
    mean /= 300 * 16;
    for (size_t i = 0; i < 300 * 16; i++)
        var += (a.base[i] - mean) * (a.base[i] - mean);
    var /= 300 * 16;
    ck_assert(var > 0.5 && var < 3.0); /* ~1 (centres) + 0.36 (noise) */
    qvb_dataset_free(&a);
    qvb_dataset_free(&b);
    qvb_dataset_free(&c);
    qvb_dataset_free(&d);
    ck_assert_ptr_null(a.base); /* free zeroes the struct */
}
END_TEST

/* The stream is part of the benchmark's definition: a change to the
 * generator makes results incomparable with earlier runs, so it must be
 * deliberate, and this test then updated. */
START_TEST(synthetic_golden_values)
{
    qvb_dataset a;
    qvb_err err;
    ck_assert_int_eq(qvb_synthetic(4, QVB_METRIC_L2, 3, 2, 42, &a, &err), 0);
    const float base[4] = {0.209616333f, 0.279480547f, -1.83893609f,
                           0.280509412f};
    const float query[4] = {0.0330206528f, -1.82564878f, -0.246849239f,
                            0.858476937f};
    for (int j = 0; j < 4; j++) {
        ck_assert_float_eq_tol(a.base[j], base[j], 1e-6f);
        ck_assert_float_eq_tol(a.queries[j], query[j], 1e-6f);
    }
    qvb_dataset_free(&a);
}
END_TEST

START_TEST(synthetic_cosine_normalised)
{
    qvb_dataset a;
    qvb_err err;
    ck_assert_int_eq(qvb_synthetic(32, QVB_METRIC_COSINE, 50, 10, 1, &a, &err),
                     0);
    ck_assert_str_eq(a.name, "synthetic-32-cos");
    for (size_t i = 0; i < 60; i++) {
        const float *v = i < 50 ? a.base + i * 32 : a.queries + (i - 50) * 32;
        double s = 0;
        for (int j = 0; j < 32; j++)
            s += (double)v[j] * v[j];
        ck_assert_double_eq_tol(s, 1.0, 1e-5);
    }
    qvb_dataset_free(&a);
}
END_TEST

/* ---- readers
 * ------------------------------------------------------------------- */

START_TEST(read_texmex_siblings)
{
    make_tmpdir();
    enum { N = 6, Q = 2, D = 3 };
    float base[N * D], queries[Q * D];
    for (int i = 0; i < N * D; i++)
        base[i] = (float)i;
    for (int i = 0; i < Q * D; i++)
        queries[i] = (float)(100 + i);
    int32_t gt[Q * 4] = {5, 4, 3, 2, 1, 0, 2, 3};
    char pb[300], pq[300], pg[300];
    tmp_path(pb, sizeof pb, "tiny_base.fvecs");
    tmp_path(pq, sizeof pq, "tiny_query.fvecs");
    tmp_path(pg, sizeof pg, "tiny_groundtruth.ivecs");
    write_texmex(pb, base, N, D, 4);
    write_texmex(pq, queries, Q, D, 4);
    write_texmex(pg, gt, Q, 4, 4);

    qvb_load_options opt = {0};
    opt.holdout = 1000;
    qvb_dataset d;
    qvb_err err;
    ck_assert_msg(qvb_load(pb, &opt, &d, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(d.name, "tiny");
    ck_assert_uint_eq(d.n, N);
    ck_assert_uint_eq(d.nq, Q);
    ck_assert_uint_eq(d.dim, D);
    ck_assert_int_eq(d.metric, QVB_METRIC_L2);
    ck_assert_float_eq(d.base[N * D - 1], (float)(N * D - 1));
    ck_assert_float_eq(d.queries[4], 104.0f);
    ck_assert_uint_eq(d.gt_k, 4);
    ck_assert_int_eq(d.gt[0], 5);
    ck_assert_int_eq(d.gt[7], 3);
    /* Cutting the base drops the ground truth (it may name lost points). */
    qvb_dataset_truncate(&d, 4, 1);
    ck_assert_uint_eq(d.n, 4);
    ck_assert_uint_eq(d.nq, 1);
    ck_assert_ptr_null(d.gt);
    ck_assert_uint_eq(d.gt_k, 0);
    qvb_dataset_free(&d);
    remove_tmpdir();
}
END_TEST

START_TEST(read_bvecs_holdout)
{
    make_tmpdir();
    enum { N = 5, D = 4 };
    unsigned char bytes[N * D];
    for (int i = 0; i < N * D; i++)
        bytes[i] = (unsigned char)(i * 12);
    char p[300];
    tmp_path(p, sizeof p, "bytes.bvecs");
    write_texmex(p, bytes, N, D, 1);
    qvb_load_options opt = {0};
    opt.holdout = 2;
    opt.metric_set = 1;
    opt.metric = QVB_METRIC_IP;
    qvb_dataset d;
    qvb_err err;
    ck_assert_msg(qvb_load(p, &opt, &d, &err) == 0, "%s", err.msg);
    /* The last two rows became the queries. */
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.nq, 2);
    ck_assert_int_eq(d.metric, QVB_METRIC_IP);
    ck_assert_float_eq(d.base[3 * D - 1], (float)(unsigned char)(11 * 12));
    ck_assert_float_eq(d.queries[0], (float)(unsigned char)(12 * 12));
    ck_assert_float_eq(d.queries[2 * D - 1], (float)(unsigned char)(19 * 12));
    ck_assert_str_eq(d.name, "bytes");
    qvb_dataset_free(&d);
    /* Holding out everything leaves no base: refused. */
    opt.holdout = 5;
    ck_assert_int_eq(qvb_load(p, &opt, &d, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no query file"));
    remove_tmpdir();
}
END_TEST

/* A float64 .npy written byte by byte, read through qvb_load. */
START_TEST(read_npy_f8)
{
    make_tmpdir();
    char p[300], pq[300];
    tmp_path(p, sizeof p, "vec.npy");
    tmp_path(pq, sizeof pq, "q.npy");
    const char *dict = "{'descr': '<f8', 'fortran_order': False, "
                       "'shape': (3, 2), }";
    char header[128];
    size_t dlen = strlen(dict);
    size_t total = 10 + dlen + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(header, ' ', sizeof header);
    memcpy(header, dict, dlen);
    header[dlen + pad] = '\n';
    uint16_t hlen = (uint16_t)(dlen + pad + 1);
    double vals[6] = {0.5, -1.25, 2, 3, 4, 5};
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&hlen, 2, 1, f);
    fwrite(header, 1, hlen, f);
    fwrite(vals, sizeof vals[0], 6, f);
    fclose(f);
    f = fopen(pq, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&hlen, 2, 1, f);
    fwrite(header, 1, hlen, f);
    fwrite(vals, sizeof vals[0], 6, f);
    fclose(f);

    qvb_load_options opt = {0};
    opt.query_path = pq;
    qvb_dataset d;
    qvb_err err;
    ck_assert_msg(qvb_load(p, &opt, &d, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.dim, 2);
    ck_assert_uint_eq(d.nq, 3);
    ck_assert_float_eq(d.base[1], -1.25f);
    ck_assert_float_eq(d.base[5], 5.0f);
    ck_assert_ptr_null(d.gt);
    qvb_dataset_free(&d);
    remove_tmpdir();
}
END_TEST

START_TEST(read_rejects_bad_files)
{
    make_tmpdir();
    char p[300];
    tmp_path(p, sizeof p, "broken.fvecs");
    FILE *f = fopen(p, "wb");
    int32_t d = 4;
    float v[3] = {1, 2, 3};
    fwrite(&d, 4, 1, f);
    fwrite(v, 4, 3, f); /* one component short */
    fclose(f);
    qvb_load_options opt = {0};
    opt.holdout = 1;
    qvb_dataset ds;
    qvb_err err = {""};
    ck_assert_int_eq(qvb_load(p, &opt, &ds, &err), -1);
    ck_assert(err.msg[0] != 0);
    tmp_path(p, sizeof p, "missing.fvecs");
    ck_assert_int_eq(qvb_load(p, &opt, &ds, &err), -1);
    remove_tmpdir();
}
END_TEST

#ifdef QVB_HAVE_HDF5
static void h5_write_2d(hid_t file, const char *name, hid_t file_type,
                        hid_t mem_type, hsize_t rows, hsize_t cols,
                        const void *data)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    ck_assert(space >= 0);
    hid_t ds = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(ds >= 0);
    ck_assert(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Sclose(space);
}

/* The root `distance` attribute, as h5py writes it (variable-length) or
 * as a fixed-length string. */
static void h5_write_distance(hid_t file, const char *value, int vlen)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, vlen ? H5T_VARIABLE : strlen(value));
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        H5Acreate2(file, "distance", type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(attr >= 0);
    if (vlen)
        ck_assert(H5Awrite(attr, type, &value) >= 0);
    else
        ck_assert(H5Awrite(attr, type, value) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}
#endif

START_TEST(read_hdf5_ann_benchmarks)
{
#ifdef QVB_HAVE_HDF5
    make_tmpdir();
    char p[300];
    tmp_path(p, sizeof p, "tiny-angular.hdf5");
    enum { N = 4, Q = 2, D = 3, K = 2 };
    float train[N * D] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0};
    float test[Q * D] = {1, 0.1f, 0, 0, 0, 2};
    int32_t neighbors[Q * K] = {0, 3, 2, 1};
    float distances[Q * K] = {0, 0.3f, 0, 1};
    hid_t file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(file >= 0);
    h5_write_2d(file, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, N, D, train);
    h5_write_2d(file, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Q, D, test);
    h5_write_2d(file, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, Q, K,
                neighbors);
    h5_write_2d(file, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Q, K,
                distances);
    h5_write_distance(file, "angular", 1);
    H5Fclose(file);

    qvb_load_options opt = {0};
    qvb_dataset d;
    qvb_err err;
    ck_assert_msg(qvb_load(p, &opt, &d, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(d.name, "tiny-angular");
    ck_assert_uint_eq(d.n, N);
    ck_assert_uint_eq(d.nq, Q);
    ck_assert_uint_eq(d.dim, D);
    ck_assert_int_eq(d.metric, QVB_METRIC_COSINE);
    ck_assert_float_eq(d.base[9], 1.0f);
    ck_assert_float_eq(d.queries[5], 2.0f);
    ck_assert_uint_eq(d.gt_k, K);
    ck_assert_int_eq(d.gt[1], 3);
    ck_assert_int_eq(d.gt[2], 2);
    qvb_dataset_free(&d);

    /* float64 train/test, int64 neighbours, a fixed-length attribute, and
     * a user metric that wins over the file's. */
    tmp_path(p, sizeof p, "tiny-euclidean.h5");
    double train64[N * D], test64[Q * D];
    int64_t nb64[Q * K] = {1, 2, 3, 0};
    for (int i = 0; i < N * D; i++)
        train64[i] = train[i] * 2.0;
    for (int i = 0; i < Q * D; i++)
        test64[i] = test[i];
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5_write_2d(file, "train", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, N, D,
                train64);
    h5_write_2d(file, "test", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, Q, D, test64);
    h5_write_2d(file, "neighbors", H5T_STD_I64LE, H5T_NATIVE_INT64, Q, K, nb64);
    h5_write_distance(file, "euclidean", 0);
    H5Fclose(file);
    ck_assert_msg(qvb_load(p, &opt, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.metric, QVB_METRIC_L2);
    ck_assert_float_eq(d.base[9], 2.0f);
    ck_assert_int_eq(d.gt[2], 3);
    qvb_dataset_free(&d);
    opt.metric_set = 1;
    opt.metric = QVB_METRIC_IP;
    ck_assert_msg(qvb_load(p, &opt, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.metric, QVB_METRIC_IP);
    qvb_dataset_free(&d);

    /* A neighbour id beyond train is refused; so is a file without test. */
    tmp_path(p, sizeof p, "bad.hdf5");
    int32_t bad_nb[Q * K] = {0, 1, 2, N};
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5_write_2d(file, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, N, D, train);
    h5_write_2d(file, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, Q, D, test);
    h5_write_2d(file, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, Q, K,
                bad_nb);
    H5Fclose(file);
    opt.metric_set = 0;
    ck_assert_int_eq(qvb_load(p, &opt, &d, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    tmp_path(p, sizeof p, "notest.hdf5");
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    h5_write_2d(file, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, N, D, train);
    H5Fclose(file);
    ck_assert_int_eq(qvb_load(p, &opt, &d, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "test"));
    remove_tmpdir();
#else
    qvb_dataset d;
    int found;
    qvb_err err;
    ck_assert_int_eq(qvb_have_hdf5(), 0);
    ck_assert_int_eq(qvb_read_hdf5("x.hdf5", &d, &found, &err), -1);
#endif
}
END_TEST

/* ---- ground truth and recall
 * -------------------------------------------------- */

static uint64_t lcg = 12345;
static float frand(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

typedef struct ref {
    double key;
    int32_t id;
} ref;

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->id - y->id;
}

static void check_gt(qvb_metric metric)
{
    enum { N = 3000, Q = 37, D = 19, K = 10 };
    float *base = malloc(N * D * sizeof(float));
    float *qs = malloc(Q * D * sizeof(float));
    int32_t *out = malloc(Q * K * sizeof(int32_t));
    ref *r = malloc(N * sizeof(ref));
    for (int i = 0; i < N * D; i++)
        base[i] = frand();
    for (int i = 0; i < Q * D; i++)
        qs[i] = frand();
    qvb_dataset tmp = {.base = base, .queries = qs, .n = N, .nq = Q, .dim = D};
    if (metric == QVB_METRIC_COSINE)
        qvb_dataset_normalize(&tmp);
    qvb_err err;
    ck_assert_int_eq(qvb_ground_truth(base, N, qs, Q, D, metric, K, out, &err),
                     0);
    for (int q = 0; q < Q; q++) {
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int j = 0; j < D; j++) {
                double a = qs[q * D + j], b = base[i * D + j];
                s += metric == QVB_METRIC_L2 ? (a - b) * (a - b) : -a * b;
            }
            r[i] = (ref){s, i};
        }
        qsort(r, N, sizeof *r, cmp_ref);
        for (int j = 0; j < K; j++)
            ck_assert_msg(out[q * K + j] == r[j].id,
                          "metric %d query %d rank %d: %d, oracle %d",
                          (int)metric, q, j, out[q * K + j], r[j].id);
    }
    free(base);
    free(qs);
    free(out);
    free(r);
}

START_TEST(ground_truth_l2)
{
    check_gt(QVB_METRIC_L2);
}
END_TEST

START_TEST(ground_truth_ip_cosine)
{
    check_gt(QVB_METRIC_IP);
    check_gt(QVB_METRIC_COSINE);
}
END_TEST

START_TEST(ground_truth_k_too_large)
{
    float v[4] = {0};
    int32_t out[8];
    qvb_err err;
    ck_assert_int_eq(
        qvb_ground_truth(v, 2, v, 1, 2, QVB_METRIC_L2, 3, out, &err), -1);
}
END_TEST

START_TEST(recall_values)
{
    /* gt rows are 4 wide; recall@2 looks at the first 2 of each. */
    const int32_t gt[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t all[2 * 2] = {2, 1, 5, 6};
    const int32_t half[2 * 2] = {1, 3, 9, 6};
    const int32_t missing[2 * 2] = {1, -1, -1, -1};
    const int32_t dup[2 * 2] = {1, 1, 5, 5};
    ck_assert_double_eq_tol(qvb_recall(all, gt, 2, 2, 4), 1.0, 1e-12);
    ck_assert_double_eq_tol(qvb_recall(half, gt, 2, 2, 4), 0.5, 1e-12);
    ck_assert_double_eq_tol(qvb_recall(missing, gt, 2, 2, 4), 0.25, 1e-12);
    ck_assert_double_eq_tol(qvb_recall(dup, gt, 2, 2, 4), 0.5, 1e-12);
    ck_assert_double_eq_tol(qvb_recall(all, gt, 1, 2, 4), 1.0, 1e-12);
    ck_assert_double_eq(qvb_recall(all, gt, 0, 2, 4), 0.0);
    /* Id 3 is in gt's row but beyond k: it does not count. */
    const int32_t beyond[2] = {3, 4};
    ck_assert_double_eq(qvb_recall(beyond, gt, 1, 2, 4), 0.0);
}
END_TEST

/* ---- results
 * ---------------------------------------------------------------------- */

static qvb_row make_row(const char *engine, uint32_t ef, double recall,
                        double qps)
{
    qvb_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.engine, sizeof r.engine, "%s", engine);
    snprintf(r.dataset, sizeof r.dataset, "synthetic-128-l2");
    r.n = 1000;
    r.dim = 128;
    r.metric = QVB_METRIC_L2;
    r.m = 16;
    r.ef_construct = 100;
    r.ef = ef;
    r.k = 10;
    r.recall = recall;
    r.qps = qps;
    r.p50_us = 12.25;
    r.p99_us = 40;
    r.build_s = 1.5;
    r.build_threads = 2;
    r.index_mb = 64.5;
    r.touched_mb = 0.125;
    return r;
}

START_TEST(csv_contract)
{
    ck_assert_str_eq(qvb_csv_header,
                     "engine,dataset,n,dim,metric,m,ef_construct,ef,k,recall,"
                     "qps,p50_us,p99_us,build_s,build_threads,index_mb,"
                     "touched_mb");
    qvb_row rows[2] = {make_row("quiver", 16, 0.91234, 20000.04),
                       make_row("faiss", 32, 0.5, 10)};
    rows[1].index_mb = NAN; /* not measured: an empty field */
    rows[1].touched_mb = NAN;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(qvb_write_csv(f, rows, 2), 0);
    fclose(f);
    ck_assert_str_eq(
        buf, "engine,dataset,n,dim,metric,m,ef_construct,ef,k,recall,qps,"
             "p50_us,p99_us,build_s,build_threads,index_mb,touched_mb\n"
             "quiver,synthetic-128-l2,1000,128,l2,16,100,16,10,0.9123,"
             "20000.0,12.2,40.0,1.500,2,64.5,0.125\n"
             "faiss,synthetic-128-l2,1000,128,l2,16,100,32,10,0.5000,10.0,"
             "12.2,40.0,1.500,2,,\n");
    free(buf);
}
END_TEST

START_TEST(interpolation)
{
    int flag;
    /* Between 0.9 (1000 QPS) and 1.0 (100 QPS): log-linear, halfway. */
    double r1[] = {0.8, 0.9, 1.0}, q1[] = {4000, 1000, 100};
    double v = qvb_qps_at_recall(r1, q1, 3, 0.95, &flag);
    ck_assert_int_eq(flag, QVB_INTERP_OK);
    ck_assert_double_eq_tol(v, sqrt(1000.0 * 100.0), 1e-6);
    /* Order of the points does not matter. */
    double r2[] = {1.0, 0.8, 0.9}, q2[] = {100, 4000, 1000};
    ck_assert_double_eq_tol(qvb_qps_at_recall(r2, q2, 3, 0.95, NULL),
                            sqrt(1000.0 * 100.0), 1e-6);
    /* A quarter of the way: 1000 * (100/1000)^0.25. */
    ck_assert_double_eq_tol(qvb_qps_at_recall(r1, q1, 3, 0.925, NULL),
                            1000.0 * pow(0.1, 0.25), 1e-6);
    /* A point exactly at the target. */
    double r3[] = {0.9, 0.95, 0.99}, q3[] = {900, 500, 200};
    ck_assert_double_eq(qvb_qps_at_recall(r3, q3, 3, 0.95, &flag), 500);
    ck_assert_int_eq(flag, QVB_INTERP_EXACT);
    /* Every point above: the fastest, flagged as a lower bound. */
    double r4[] = {0.96, 0.99}, q4[] = {700, 300};
    ck_assert_double_eq(qvb_qps_at_recall(r4, q4, 2, 0.95, &flag), 700);
    ck_assert_int_eq(flag, QVB_INTERP_ABOVE);
    /* None reaches it: NaN. */
    double r5[] = {0.5, 0.94}, q5[] = {700, 300};
    ck_assert(isnan(qvb_qps_at_recall(r5, q5, 2, 0.95, &flag)));
    ck_assert_int_eq(flag, QVB_INTERP_BELOW);
    ck_assert(isnan(qvb_qps_at_recall(r5, q5, 0, 0.95, &flag)));
    /* A dominated point (0.97 at 50 QPS, beaten by 0.98 at 400) is off
     * the frontier: the answer lies between 0.9/1000 and 0.98/400. */
    double r6[] = {0.9, 0.97, 0.98}, q6[] = {1000, 50, 400};
    double t = (0.95 - 0.9) / (0.98 - 0.9);
    ck_assert_double_eq_tol(qvb_qps_at_recall(r6, q6, 3, 0.95, &flag),
                            exp(log(1000) + t * (log(400) - log(1000))), 1e-6);
    ck_assert_int_eq(flag, QVB_INTERP_OK);
}
END_TEST

START_TEST(driver_fields)
{
    char v[64];
    const char *line = "search ef=16 qps=1234.5 p50_us=7 ids=/tmp/a b.ivecs";
    ck_assert_int_eq(qvb_driver_field(line, "ef", v, sizeof v), 1);
    ck_assert_str_eq(v, "16");
    ck_assert_int_eq(qvb_driver_field(line, "qps", v, sizeof v), 1);
    ck_assert_str_eq(v, "1234.5");
    ck_assert_int_eq(qvb_driver_field(line, "p50_us", v, sizeof v), 1);
    ck_assert_str_eq(v, "7");
    ck_assert_int_eq(qvb_driver_field(line, "p99_us", v, sizeof v), 0);
    /* "ef" must not match inside another key. */
    ck_assert_int_eq(qvb_driver_field("build xef=3", "ef", v, sizeof v), 0);
    ck_assert_int_eq(
        qvb_driver_field("error msg=no such file: x\n", "msg", v, sizeof v), 1);
    ck_assert_str_eq(v, "no such file: x");
    /* Truncated to the buffer. */
    ck_assert_int_eq(qvb_driver_field(line, "qps", v, 4), 1);
    ck_assert_str_eq(v, "123");
}
END_TEST

START_TEST(driver_percentiles)
{
    double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
    ck_assert_double_eq(qvb_drv_percentile(v, 10, 50), 5);
    ck_assert_double_eq(qvb_drv_percentile(v, 10, 99), 10);
    ck_assert_double_eq(qvb_drv_percentile(v, 10, 10), 1);
    double m[] = {3, 1, 2, 10};
    ck_assert_double_eq(qvb_drv_median(m, 4), 2.5);
    ck_assert_double_eq(qvb_drv_median(m, 3), 2); /* sorted: 1 2 3 */
    ck_assert(isnan(qvb_drv_median(m, 0)));
}
END_TEST

static void sample_run(qvb_run_info *info, qvb_row *rows,
                       qvb_engine_result *eng)
{
    memset(info, 0, sizeof *info);
    info->dataset = "synthetic-128-l2";
    info->n = 1000;
    info->nq = 10;
    info->dim = 128;
    info->m = 16;
    info->ef_construct = 100;
    info->k = 10;
    info->threads = 2;
    info->reps = 3;
    info->target_recall = 0.95;
    info->cpu = "test \"cpu\"";
    rows[0] = make_row("quiver", 16, 0.9, 2000);
    rows[1] = make_row("quiver", 32, 0.99, 1000);
    rows[2] = make_row("hnswlib", 16, 0.9, 1000);
    rows[3] = make_row("hnswlib", 32, 0.99, 500);
    const char *names[3] = {"quiver", "hnswlib", "faiss"};
    for (int i = 0; i < 3; i++) {
        memset(&eng[i], 0, sizeof eng[i]);
        snprintf(eng[i].engine, sizeof eng[i].engine, "%s", names[i]);
        eng[i].ok = i < 2;
        eng[i].threads = 2;
        eng[i].build_s = 2.0 * (i + 1);
        eng[i].build_s_1 = 3.0 * (i + 1);
        eng[i].index_mb = 100.0 * (i + 1);
        eng[i].first_row = (size_t)i * 2;
        eng[i].n_rows = i < 2 ? 2 : 0;
        double rec[2] = {0.9, 0.99}, q[2];
        q[0] = rows[i * 2 < 4 ? i * 2 : 0].qps;
        q[1] = rows[i * 2 < 4 ? i * 2 + 1 : 0].qps;
        eng[i].qps_at_target =
            eng[i].ok ? qvb_qps_at_recall(rec, q, 2, 0.95, &eng[i].target_flag)
                      : NAN;
    }
    snprintf(eng[2].failure, sizeof eng[2].failure, "no driver");
}

START_TEST(json_and_ratios)
{
    qvb_run_info info;
    qvb_row rows[4];
    qvb_engine_result eng[3];
    sample_run(&info, rows, eng);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(qvb_write_json(f, &info, rows, 4, eng, 3), 0);
    fclose(f);
    /* Quiver is twice as fast at every recall, builds in half the time,
     * uses half the memory. */
    ck_assert_ptr_nonnull(strstr(buf, "\"quiver/hnswlib\": "
                                      "{\"qps_at_target_recall\": 2.000, "
                                      "\"build_s\": 0.500, "
                                      "\"build_s_1_thread\": 0.500, "
                                      "\"index_mb\": 0.500}"));
    ck_assert_ptr_null(strstr(buf, "quiver/faiss")); /* faiss did not run */
    ck_assert_ptr_nonnull(strstr(buf, "\"failure\": \"no driver\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"cpu\": \"test \\\"cpu\\\"\""));
    ck_assert_uint_eq(count_substr(buf, "\"ef\": "), 4);
    free(buf);
}
END_TEST

START_TEST(svg_chart)
{
    qvb_run_info info;
    qvb_row rows[4];
    qvb_engine_result eng[3];
    sample_run(&info, rows, eng);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(qvb_write_svg(f, &info, rows, 4, eng, 3), 0);
    fclose(f);
    ck_assert(strncmp(buf, "<?xml", 5) == 0);
    ck_assert_ptr_nonnull(strstr(buf, "</svg>\n"));
    /* One curve per engine that ran; faiss has no rows and no curve. */
    ck_assert_uint_eq(count_substr(buf, "<polyline"), 2);
    ck_assert_ptr_nonnull(strstr(buf, ">quiver</text>"));
    ck_assert_ptr_nonnull(strstr(buf, ">hnswlib</text>"));
    ck_assert_ptr_null(strstr(buf, ">faiss</text>"));
    ck_assert_uint_eq(count_substr(buf, "<circle"), 4 + 2); /* + legend */
    ck_assert_ptr_nonnull(strstr(buf, "log scale"));
    ck_assert_ptr_nonnull(strstr(buf, "stroke-dasharray")); /* 0.95 line */
    free(buf);
}
END_TEST

/* --quantization expands the engine list: one quiver row per kind and,
 * with int8, faiss's 8-bit peer; a variant runs its base engine's driver
 * (missing here, so the message names quiver-bench-quiver). */
START_TEST(quantization_expands_engines)
{
    make_tmpdir();
    char out[300], drivers[300];
    tmp_path(out, sizeof out, "resq");
    tmp_path(drivers, sizeof drivers, "nodrivers");
    char *argv[] = {"bench",
                    "--data",
                    "synthetic-8-l2",
                    "--n",
                    "200",
                    "--queries",
                    "5",
                    "--engines",
                    "quiver,faiss",
                    "--quantization",
                    "none,int8,binary",
                    "--drivers",
                    drivers,
                    "--out",
                    out,
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    ck_assert_int_eq(qvb_main(argc, argv), 1);
    char path[400];
    snprintf(path, sizeof path, "%s/results.json", out);
    char *json = read_all(path);
    static const char *const want[] = {"quiver", "quiver-int8", "quiver-binary",
                                       "faiss", "faiss-sq8"};
    for (size_t i = 0; i < 5; i++) {
        char e[64];
        snprintf(e, sizeof e, "\"engine\": \"%s\"", want[i]);
        ck_assert_msg(strstr(json, e), "no %s in results.json", want[i]);
    }
    ck_assert_ptr_nonnull(strstr(json, "no driver quiver-bench-quiver "));
    ck_assert_ptr_null(strstr(json, "quiver-bench-quiver-int8"));
    free(json);
    char *bad[] = {"bench", "--quantization", "int4", "--out", out, NULL};
    ck_assert_int_eq(qvb_main(5, bad), 2);
}
END_TEST

/* ---- the run, without engines
 * -------------------------------------------------- */

START_TEST(run_with_missing_driver)
{
    make_tmpdir();
    char out[300], drivers[300];
    tmp_path(out, sizeof out, "res/nested");
    tmp_path(drivers, sizeof drivers, "nodrivers");
    char *argv[] = {"bench",     "--data",    "synthetic-8-l2",
                    "--n",       "200",       "--queries",
                    "5",         "--engines", "nosuch",
                    "--drivers", drivers,     "--out",
                    out,         NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    ck_assert_int_eq(qvb_main(argc, argv), 1);
    char path[400];
    snprintf(path, sizeof path, "%s/results.csv", out);
    char *csv = read_all(path);
    ck_assert_str_eq(csv, "engine,dataset,n,dim,metric,m,ef_construct,ef,k,"
                          "recall,qps,p50_us,p99_us,build_s,build_threads,"
                          "index_mb,touched_mb\n");
    free(csv);
    snprintf(path, sizeof path, "%s/results.json", out);
    char *json = read_all(path);
    ck_assert_ptr_nonnull(strstr(json, "\"engine\": \"nosuch\""));
    ck_assert_ptr_nonnull(strstr(json, "\"ok\": false"));
    free(json);
    snprintf(path, sizeof path, "%s/work", out);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0); /* the work files are gone */
    snprintf(path, sizeof path, "%s/recall_qps.svg", out);
    ck_assert_int_eq(stat(path, &st), 0);

    char *bad[] = {"bench", "--k", "0", NULL};
    ck_assert_int_eq(qvb_main(3, bad), 2);
    char *bad_ef[] = {"bench", "--ef", "16,x", NULL};
    ck_assert_int_eq(qvb_main(3, bad_ef), 2);
    remove_tmpdir();
}
END_TEST

/* ---- the filtered-search sweep
 * ------------------------------------------------- */

START_TEST(filter_sweep_small)
{
    /* Buckets: uniform enough over 0..999, and deterministic. */
    int hist[10] = {0};
    for (size_t i = 0; i < 20000; i++) {
        uint32_t r = qvb_filter_bucket(42, i);
        ck_assert_uint_lt(r, 1000);
        hist[r / 100]++;
    }
    for (int b = 0; b < 10; b++)
        ck_assert_int_gt(hist[b], 1700);
    ck_assert_uint_eq(qvb_filter_bucket(42, 7), qvb_filter_bucket(42, 7));

    /* A whole sweep on a tiny set: every run scans (the collection is
     * below its full-scan threshold), so recall is exactly 1. */
    make_tmpdir();
    char out[300];
    tmp_path(out, sizeof out, "sweep");
    char *argv[] = {"bench",
                    "--filter-sweep",
                    "--data",
                    "synthetic-16-l2",
                    "--n",
                    "3000",
                    "--queries",
                    "20",
                    "--reps",
                    "1",
                    "--selectivities",
                    "0.01,0.5,1",
                    "--out",
                    out,
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    ck_assert_int_eq(qvb_main(argc, argv), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/filter_sweep.csv", out);
    char *csv = read_all(path);
    ck_assert_ptr_nonnull(strstr(csv, qvb_filter_csv_header));
    /* 2 keys x (no index, index) x 3 selectivities */
    ck_assert_uint_eq(count_substr(csv, "\n"), 1 + 12);
    ck_assert_uint_eq(count_substr(csv, ",1.0000,"), 12);
    ck_assert_ptr_nonnull(strstr(csv, "integer,no,0.01,"));
    ck_assert_ptr_nonnull(strstr(csv, "keyword,yes,1,3000,1.0000,"));
    free(csv);

    char *bad[] = {"bench", "--filter-sweep", "--selectivities", "0.0005",
                   NULL};
    ck_assert_int_eq(qvb_main(4, bad), 2);
    char *bad2[] = {"bench", "--selectivities", "0.5,2", NULL};
    ck_assert_int_eq(qvb_main(3, bad2), 2);
    remove_tmpdir();
}
END_TEST

static Suite *harness_suite(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, metric_names);
    tcase_add_test(tc, synthetic_names);
    tcase_add_test(tc, synthetic_deterministic);
    tcase_add_test(tc, synthetic_golden_values);
    tcase_add_test(tc, synthetic_cosine_normalised);
    tcase_add_test(tc, read_texmex_siblings);
    tcase_add_test(tc, read_bvecs_holdout);
    tcase_add_test(tc, read_npy_f8);
    tcase_add_test(tc, read_rejects_bad_files);
    tcase_add_test(tc, read_hdf5_ann_benchmarks);
    tcase_add_test(tc, ground_truth_l2);
    tcase_add_test(tc, ground_truth_ip_cosine);
    tcase_add_test(tc, ground_truth_k_too_large);
    tcase_add_test(tc, recall_values);
    tcase_add_test(tc, csv_contract);
    tcase_add_test(tc, interpolation);
    tcase_add_test(tc, driver_fields);
    tcase_add_test(tc, driver_percentiles);
    tcase_add_test(tc, json_and_ratios);
    tcase_add_test(tc, svg_chart);
    tcase_add_test(tc, run_with_missing_driver);
    tcase_add_test(tc, quantization_expands_engines);
    tcase_add_test(tc, filter_sweep_small);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(harness_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
