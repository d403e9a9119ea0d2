/*
 * test_vecfile.c -- the vector file readers and writers of cli/vecfile.c.
 *
 * Round trips through every format, hand-built .npy files in the spellings
 * NumPy and older writers produce, and a corpus of damaged files: every
 * truncation of valid files, byte flips over their headers, forged
 * dimensions and shapes far larger than the file, inconsistent rows,
 * unsupported versions and dtypes.  A refused file must give the expected
 * status, a message, and leave the output untouched; none may crash (run
 * under AddressSanitizer to make that check bite).
 *
 * Files are created with mkstemps (for the extension) or in a mkdtemp
 * directory, and removed afterwards.
 */
#include "vecfile.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------
 */

/* A fresh empty temporary file named /tmp/qv-vecfile-XXXXXX<ext>. */
static void temp_path(char *path, size_t cap, const char *ext)
{
    snprintf(path, cap, "/tmp/qv-vecfile-XXXXXX%s", ext);
    int fd = mkstemps(path, (int)strlen(ext));
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A temporary file holding bytes; its name goes to path. */
static void temp_file(char *path, size_t cap, const char *ext,
                      const void *bytes, size_t n)
{
    temp_path(path, cap, ext);
    write_file(path, bytes, n);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* A .npy image: prefix of the given version, header text padded with
 * spaces to a multiple of 64 and ended by '\n', then n data bytes. */
static unsigned char *make_npy(unsigned major, const char *dict,
                               const void *data, size_t n, size_t *len)
{
    size_t lb = major == 1 ? 2 : 4, pre = 8 + lb;
    size_t hl = strlen(dict) + 1;
    hl += (64 - (pre + hl) % 64) % 64;
    unsigned char *buf = malloc(pre + hl + n + 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < lb; i++)
        buf[8 + i] = (unsigned char)(hl >> (8 * i));
    memset(buf + pre, ' ', hl);
    memcpy(buf + pre, dict, strlen(dict));
    buf[pre + hl - 1] = '\n';
    if (n)
        memcpy(buf + pre + hl, data, n);
    *len = pre + hl + n;
    return buf;
}

static const float F23[6] = {1.5f, -2.25f, 0.0f, 3e-3f, 1e30f, -7.0f};

/* Reads a float file expecting failure with status want, a message and
 * *out untouched. */
static void expect_read_fail(const char *path, qv_status want)
{
    vf_matrix m = {7, 8, (float *)&m};
    char err[256] = "";
    qv_status st = vf_read(path, &m, err, sizeof(err));
    ck_assert_msg(st == want, "%s: got %d (%s), want %d", path, st, err, want);
    ck_assert_uint_gt(strlen(err), 0);
    ck_assert_uint_eq(m.rows, 7);
    ck_assert_uint_eq(m.cols, 8);
    ck_assert_ptr_eq(m.data, &m);
}

static void expect_read_ids_fail(const char *path, qv_status want)
{
    vf_imatrix m = {7, 8, NULL};
    char err[256] = "";
    qv_status st = vf_read_ids(path, &m, err, sizeof(err));
    ck_assert_msg(st == want, "%s: got %d (%s), want %d", path, st, err, want);
    ck_assert_uint_gt(strlen(err), 0);
    ck_assert_uint_eq(m.rows, 7);
    ck_assert_ptr_null(m.data);
}

/* Writes an .npy image with dict and data to a temp file and expects
 * vf_read to refuse it with want. */
static void npy_refused(unsigned major, const char *dict, const void *data,
                        size_t n, qv_status want)
{
    char path[64];
    size_t len;
    unsigned char *img = make_npy(major, dict, data, n, &len);
    temp_file(path, sizeof(path), ".npy", img, len);
    expect_read_fail(path, want);
    unlink(path);
    free(img);
}

/* Reads an .npy image that must load as rows x cols floats. */
static void npy_loads(unsigned major, const char *dict, const void *data,
                      size_t n, size_t rows, size_t cols, const float *want)
{
    char path[64], err[256] = "";
    size_t len;
    unsigned char *img = make_npy(major, dict, data, n, &len);
    temp_file(path, sizeof(path), ".npy", img, len);
    vf_matrix m = {0};
    ck_assert_msg(vf_read(path, &m, err, sizeof(err)) == QV_OK, "%s: %s", dict,
                  err);
    ck_assert_uint_eq(m.rows, rows);
    ck_assert_uint_eq(m.cols, cols);
    if (rows * cols > 0)
        ck_assert_mem_eq(m.data, want, rows * cols * sizeof(float));
    else
        ck_assert_ptr_null(m.data);
    vf_matrix_free(&m);
    unlink(path);
    free(img);
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 200.0 - 100.0);
}

/* ---- round trips ------------------------------------------------------------
 */

START_TEST(test_fvecs_round_trip)
{
    enum { R = 37, C = 19 };
    float data[R * C];
    uint64_t s = 1;
    for (int i = 0; i < R * C; i++)
        data[i] = frand(&s);
    data[0] = -0.0f;
    data[1] = 1e-42f; /* subnormal */
    char path[64], err[256];
    temp_path(path, sizeof(path), ".fvecs");
    ck_assert_int_eq(vf_write(path, data, R, C, err, sizeof(err)), QV_OK);

    size_t n;
    unsigned char *raw = slurp(path, &n);
    ck_assert_uint_eq(n, R * (4 + 4 * C));
    int32_t d;
    memcpy(&d, raw + (4 + 4 * C) * 5, 4);
    ck_assert_int_eq(d, C);
    ck_assert_mem_eq(raw + 4, data, 4 * C);
    free(raw);

    vf_matrix m = {0};
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, R);
    ck_assert_uint_eq(m.cols, C);
    ck_assert_uint_eq((uintptr_t)m.data % 64, 0);
    ck_assert_mem_eq(m.data, data, sizeof(data));
    vf_matrix_free(&m);
    ck_assert_ptr_null(m.data);
    ck_assert_uint_eq(m.rows, 0);
    vf_matrix_free(&m);

    /* The explicit writer ignores the extension; the reader then cannot
     * tell the format and says so. */
    char other[64];
    temp_path(other, sizeof(other), ".dat");
    ck_assert_int_eq(vf_write_fvecs(other, data, R, C, err, sizeof(err)),
                     QV_OK);
    raw = slurp(other, &n);
    ck_assert_uint_eq(n, R * (4 + 4 * C));
    free(raw);
    expect_read_fail(other, QV_EFORMAT);
    unlink(other);
    unlink(path);
}
END_TEST

START_TEST(test_npy_round_trip)
{
    enum { R = 53, C = 7 };
    float data[R * C];
    uint64_t s = 2;
    for (int i = 0; i < R * C; i++)
        data[i] = frand(&s);
    char path[64], err[256];
    temp_path(path, sizeof(path), ".npy");
    ck_assert_int_eq(vf_write(path, data, R, C, err, sizeof(err)), QV_OK);

    size_t n;
    unsigned char *raw = slurp(path, &n);
    ck_assert_mem_eq(raw, "\x93NUMPY\x01\x00", 8);
    size_t hl = raw[8] | (size_t)raw[9] << 8;
    ck_assert_uint_eq((10 + hl) % 64, 0);
    ck_assert_uint_eq(n, 10 + hl + sizeof(data));
    ck_assert_int_eq(raw[10 + hl - 1], '\n');
    raw[10 + hl - 1] = '\0';
    ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'descr': '<f4'"));
    ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'fortran_order': False"));
    ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'shape': (53, 7)"));
    ck_assert_mem_eq(raw + 10 + hl, data, sizeof(data));
    free(raw);

    vf_matrix m = {0};
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, R);
    ck_assert_uint_eq(m.cols, C);
    ck_assert_uint_eq((uintptr_t)m.data % 64, 0);
    ck_assert_mem_eq(m.data, data, sizeof(data));
    vf_matrix_free(&m);

    /* An explicit .npy writer, and an empty matrix of 0 rows. */
    ck_assert_int_eq(vf_write_npy(path, NULL, 0, 5, err, sizeof(err)), QV_OK);
    m.rows = 99;
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 0);
    ck_assert_uint_eq(m.cols, 5);
    ck_assert_ptr_null(m.data);
    unlink(path);
}
END_TEST

START_TEST(test_ids_round_trip)
{
    enum { R = 11, C = 10 };
    int32_t data[R * C];
    for (int i = 0; i < R * C; i++)
        data[i] = (i * 7919) % 1000 - 500;
    data[0] = INT32_MIN;
    data[1] = INT32_MAX;
    static const char *const exts[] = {".ivecs", ".npy", ".IVECS"};
    for (size_t e = 0; e < 3; e++) {
        char path[64], err[256];
        temp_path(path, sizeof(path), exts[e]);
        ck_assert_int_eq(vf_write_ids(path, data, R, C, err, sizeof(err)),
                         QV_OK);
        vf_imatrix m = {0};
        ck_assert_int_eq(vf_read_ids(path, &m, err, sizeof(err)), QV_OK);
        ck_assert_uint_eq(m.rows, R);
        ck_assert_uint_eq(m.cols, C);
        ck_assert_mem_eq(m.data, data, sizeof(data));
        vf_imatrix_free(&m);
        ck_assert_ptr_null(m.data);
        /* Id files are not vector files. */
        expect_read_fail(path, QV_EFORMAT);
        unlink(path);
    }
    char path[64];
    temp_path(path, sizeof(path), ".fvecs");
    expect_read_ids_fail(path, QV_EFORMAT);
    unlink(path);
}
END_TEST

START_TEST(test_bvecs)
{
    const unsigned char img[] = {3, 0, 0, 0, 1, 2, 255, 3, 0, 0, 0, 0, 7, 128};
    const float want[6] = {1, 2, 255, 0, 7, 128};
    char path[64], err[256];
    temp_file(path, sizeof(path), ".bvecs", img, sizeof(img));
    vf_matrix m = {0};
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 2);
    ck_assert_uint_eq(m.cols, 3);
    ck_assert_mem_eq(m.data, want, sizeof(want));
    vf_matrix_free(&m);
    /* Writing .bvecs is not offered. */
    ck_assert_int_eq(vf_write(path, want, 2, 3, err, sizeof(err)), QV_EFORMAT);
    unlink(path);
}
END_TEST

/* ---- .npy spellings
 * ----------------------------------------------------------- */

START_TEST(test_npy_spellings)
{
    const char *std = "{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (2, 3), }";
    npy_loads(1, std, F23, sizeof(F23), 2, 3, F23);
    npy_loads(2, std, F23, sizeof(F23), 2, 3, F23);
    npy_loads(3, std, F23, sizeof(F23), 2, 3, F23);
    npy_loads(1,
              "{\"shape\": (2,3), \"fortran_order\": False, "
              "\"descr\": \"<f4\"}",
              F23, sizeof(F23), 2, 3, F23);
    npy_loads(1, "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L)}", F23,
              sizeof(F23), 2, 3, F23);
    npy_loads(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
              F23, sizeof(F23), 6, 1, F23);
    /* Fortran order is harmless with one column. */
    npy_loads(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6, 1), }",
              F23, sizeof(F23), 6, 1, F23);
    /* Zero rows. */
    npy_loads(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
              NULL, 0, 0, 3, F23);

    /* '<f8' converts to float. */
    double d[6];
    for (int i = 0; i < 6; i++)
        d[i] = F23[i];
    npy_loads(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
              d, sizeof(d), 3, 2, F23);
    d[5] = INFINITY;
    float fi[6];
    memcpy(fi, F23, sizeof(fi));
    fi[5] = INFINITY;
    npy_loads(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
              d, sizeof(d), 3, 2, fi);
    d[4] = 1e300;
    npy_refused(1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                d, sizeof(d), QV_ERANGE);
}
END_TEST

START_TEST(test_npy_int_ids)
{
    int64_t v[4] = {0, -1, INT32_MAX, INT32_MIN};
    const int32_t want[4] = {0, -1, INT32_MAX, INT32_MIN};
    char path[64], err[256];
    size_t len;
    unsigned char *img = make_npy(
        1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", v,
        sizeof(v), &len);
    temp_file(path, sizeof(path), ".npy", img, len);
    vf_imatrix m = {0};
    ck_assert_int_eq(vf_read_ids(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 2);
    ck_assert_uint_eq(m.cols, 2);
    ck_assert_mem_eq(m.data, want, sizeof(want));
    vf_imatrix_free(&m);
    expect_read_fail(path, QV_EFORMAT); /* integers are not vectors */
    free(img);

    v[3] = (int64_t)INT32_MAX + 1;
    img =
        make_npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
                 v, sizeof(v), &len);
    write_file(path, img, len);
    expect_read_ids_fail(path, QV_ERANGE);
    free(img);

    /* '<i4', 1-D. */
    img = make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,)}",
                   want, sizeof(want), &len);
    write_file(path, img, len);
    ck_assert_int_eq(vf_read_ids(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 4);
    ck_assert_uint_eq(m.cols, 1);
    ck_assert_mem_eq(m.data, want, sizeof(want));
    vf_imatrix_free(&m);
    free(img);

    /* Floats are not ids. */
    img = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
                   want, sizeof(want), &len);
    write_file(path, img, len);
    expect_read_ids_fail(path, QV_EFORMAT);
    free(img);
    unlink(path);
}
END_TEST

/* ---- damaged and unsupported .npy files
 * ---------------------------------------- */

START_TEST(test_npy_refused)
{
    const void *D = F23;
    const size_t N = sizeof(F23);
    /* Versions. */
    npy_refused(4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
                D, N, QV_EFORMAT);
    npy_refused(0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
                D, N, QV_EFORMAT);
    /* Dtypes, order and rank. */
    npy_refused(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3)}",
                D, N, QV_EFORMAT);
    npy_refused(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 6)}",
                D, N, QV_EFORMAT);
    npy_refused(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 6)}",
                D, N, QV_EFORMAT);
    npy_refused(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)}",
                D, N, QV_EFORMAT);
    npy_refused(1,
                "{'descr': [('a', '<f4')], 'fortran_order': False, "
                "'shape': (6,)}",
                D, N, QV_EFORMAT);
    npy_refused(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}",
                D, N, QV_EFORMAT);
    npy_refused(1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3)}",
                D, N, QV_EFORMAT);
    npy_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", D,
                4, QV_EFORMAT);
    npy_refused(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0)}",
                NULL, 0, QV_EFORMAT);
    /* Keys. */
    npy_refused(1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                "'extra': 1}",
                D, N, QV_ECORRUPT);
    npy_refused(1,
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                "'shape': (2, 3)}",
                D, N, QV_ECORRUPT);
    npy_refused(1, "{'descr': '<f4', 'fortran_order': False}", D, N,
                QV_ECORRUPT);
    npy_refused(1, "{'fortran_order': False, 'shape': (2, 3)}", D, N,
                QV_ECORRUPT);
    /* Syntax. */
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0)}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f\\4', 'fortran_order': False, 'shape': (2, 3)}",
        "{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        ("{'descr': '<f4', 'fortran_order': False, 'shape': "
         "(2, 99999999999999999999999)}"),
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),,}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        npy_refused(1, bad[i], D, N, QV_ECORRUPT);
    /* Shapes that do not match the data: larger, far larger, overflowing,
     * smaller (trailing bytes). */
    static const char *const shapes[] = {
        "(3, 3)",
        "(1099511627776, 1099511627776)",
        "(4611686018427387904, 4)",
        "(18446744073709551615, 18446744073709551615)",
        "(1, 3)",
        "(5,)"};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char dict[128];
        snprintf(dict, sizeof(dict),
                 "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
                 shapes[i]);
        npy_refused(1, dict, D, N, QV_ECORRUPT);
        npy_refused(2, dict, D, N, QV_ECORRUPT);
    }
}
END_TEST

START_TEST(test_npy_bad_prefix)
{
    char path[64];
    size_t len;
    unsigned char *img = make_npy(
        1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", F23,
        sizeof(F23), &len);
    temp_path(path, sizeof(path), ".npy");
    /* Bad magic, byte by byte. */
    for (int i = 0; i < 6; i++) {
        img[i] ^= 0x20;
        write_file(path, img, len);
        expect_read_fail(path, QV_ECORRUPT);
        img[i] ^= 0x20;
    }
    /* Minor version. */
    img[7] = 1;
    write_file(path, img, len);
    expect_read_fail(path, QV_EFORMAT);
    img[7] = 0;
    /* Header length past the end of the file, and absurdly large. */
    img[8] = 0xff;
    img[9] = 0xff;
    write_file(path, img, len);
    expect_read_fail(path, QV_ECORRUPT);
    free(img);
    img =
        make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
                 F23, sizeof(F23), &len);
    img[11] = 0x7f;
    write_file(path, img, len);
    expect_read_fail(path, QV_ECORRUPT);
    img[11] = 0;
    img[10] = 0x20; /* 2 MiB: over the limit even in a large enough file */
    unsigned char *big = calloc(1, (3u << 20));
    ck_assert_ptr_nonnull(big);
    memcpy(big, img, len);
    write_file(path, big, 3u << 20);
    expect_read_fail(path, QV_ECORRUPT);
    free(big);
    free(img);
    unlink(path);
}
END_TEST

/* Every proper prefix of a valid .npy file is refused. */
START_TEST(test_npy_truncations)
{
    char path[64];
    size_t len;
    double d[6] = {1, 2, 3, 4, 5, 6};
    unsigned char *imgs[2];
    size_t lens[2];
    imgs[0] = make_npy(
        1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", F23,
        sizeof(F23), &lens[0]);
    imgs[1] =
        make_npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,)}",
                 d, sizeof(d), &lens[1]);
    temp_path(path, sizeof(path), ".npy");
    for (int k = 0; k < 2; k++) {
        for (len = 0; len < lens[k]; len++) {
            write_file(path, imgs[k], len);
            expect_read_fail(path, QV_ECORRUPT);
        }
        write_file(path, imgs[k], lens[k]);
        vf_matrix m = {0};
        ck_assert_int_eq(vf_read(path, &m, NULL, 0), QV_OK);
        ck_assert_uint_eq(m.rows * m.cols, 6);
        vf_matrix_free(&m);
        free(imgs[k]);
    }
    unlink(path);
}
END_TEST

/* Byte flips all over a small .npy and .fvecs file: whatever the reader
 * decides, it must decide it cleanly (AddressSanitizer watches the rest):
 * a known status, a message on failure, a consistent matrix on success. */
static void flip_all(const char *ext, const unsigned char *img, size_t len)
{
    static const unsigned char vals[] = {0x00, 0xff, 0x7f, 0x80, '(', ')',
                                         ',',  '9',  ' ',  '\'', '{', '}',
                                         'L',  0x01, '<',  '8'};
    char path[64];
    temp_path(path, sizeof(path), ext);
    unsigned char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v < sizeof(vals); v++) {
            memcpy(buf, img, len);
            buf[i] = vals[v];
            write_file(path, buf, len);
            vf_matrix m = {0};
            char err[256] = "";
            qv_status st = vf_read(path, &m, err, sizeof(err));
            if (st == QV_OK) {
                ck_assert_uint_le(m.rows * m.cols, len);
                ck_assert_int_eq(m.rows > 0, m.data != NULL);
                vf_matrix_free(&m);
            } else {
                ck_assert_msg(st == QV_ECORRUPT || st == QV_EFORMAT ||
                                  st == QV_ERANGE,
                              "byte %zu = %#x: status %d", i, vals[v], st);
                ck_assert_uint_gt(strlen(err), 0);
            }
        }
    }
    free(buf);
    unlink(path);
}

START_TEST(test_byte_flips)
{
    size_t len;
    unsigned char *img = make_npy(
        1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", F23,
        sizeof(F23), &len);
    flip_all(".npy", img, len);
    free(img);
    unsigned char fv[2 * 16];
    const int32_t three = 3;
    for (int r = 0; r < 2; r++) {
        memcpy(fv + 16 * r, &three, 4);
        memcpy(fv + 16 * r + 4, F23 + 3 * r, 12);
    }
    flip_all(".fvecs", fv, sizeof(fv));
}
END_TEST

/* ---- damaged TEXMEX files
 * --------------------------------------------------------- */

static void vecs_refused(const char *ext, const void *img, size_t n,
                         qv_status want, const char *needle)
{
    char path[64], err[256] = "";
    vf_matrix m = {7, 8, NULL};
    vf_imatrix im = {7, 8, NULL};
    temp_file(path, sizeof(path), ext, img, n);
    bool ids = strcmp(ext, ".ivecs") == 0;
    qv_status st = ids ? vf_read_ids(path, &im, err, sizeof(err))
                       : vf_read(path, &m, err, sizeof(err));
    ck_assert_msg(st == want, "got %d (%s), want %d", st, err, want);
    ck_assert_uint_eq(ids ? im.rows : m.rows, 7);
    ck_assert_ptr_null(ids ? (void *)im.data : (void *)m.data);
    if (needle)
        ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err,
                      needle);
    unlink(path);
}

START_TEST(test_vecs_refused)
{
    int32_t img[12];
    /* Dimension 0, negative, and far beyond the file. */
    img[0] = 0;
    vecs_refused(".fvecs", img, 4, QV_ECORRUPT, "0 dimensions");
    img[0] = -1;
    img[1] = 0;
    vecs_refused(".fvecs", img, 8, QV_ECORRUPT, "-1 dimensions");
    img[0] = INT32_MAX;
    vecs_refused(".fvecs", img, sizeof(img), QV_ECORRUPT, NULL);
    vecs_refused(".bvecs", img, sizeof(img), QV_ECORRUPT, NULL);
    vecs_refused(".ivecs", img, sizeof(img), QV_ECORRUPT, NULL);
    /* Too short for a header. */
    vecs_refused(".fvecs", "\x01\x00", 2, QV_ECORRUPT, NULL);
    /* Rows of dim 1 (8 bytes) then one of dim 3 (16 bytes): 24 bytes, a
     * whole number of first-row sizes, so only the row check sees it. */
    int32_t mixed[6] = {1, 0, 3, 0, 0, 0};
    vecs_refused(".fvecs", mixed, sizeof(mixed), QV_ECORRUPT, "row 1");
    vecs_refused(".ivecs", mixed, sizeof(mixed), QV_ECORRUPT, "row 1");
    /* The same in the last row. */
    int32_t last[9] = {2, 0, 0, 2, 0, 0, 5, 0, 0};
    vecs_refused(".fvecs", last, sizeof(last), QV_ECORRUPT, "row 2");
    /* .bvecs rows of 3 bytes (7 bytes each) with a bad second header. */
    const unsigned char b[] = {3, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3};
    vecs_refused(".bvecs", b, sizeof(b), QV_ECORRUPT, "row 1");
}
END_TEST

/* Every prefix of a valid file: whole rows read, anything else refused. */
START_TEST(test_vecs_truncations)
{
    enum { R = 4, C = 3 };
    float data[R * C];
    for (int i = 0; i < R * C; i++)
        data[i] = (float)i;
    char path[64], err[256];
    temp_path(path, sizeof(path), ".fvecs");
    ck_assert_int_eq(vf_write(path, data, R, C, err, sizeof(err)), QV_OK);
    size_t n;
    unsigned char *img = slurp(path, &n);
    const size_t row = 4 + 4 * C;
    for (size_t len = 0; len <= n; len++) {
        write_file(path, img, len);
        if (len % row != 0) {
            expect_read_fail(path, QV_ECORRUPT);
            continue;
        }
        vf_matrix m = {0};
        ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
        ck_assert_uint_eq(m.rows, len / row);
        ck_assert_uint_eq(m.cols, len ? C : 0);
        if (len)
            ck_assert_mem_eq(m.data, data, m.rows * C * sizeof(float));
        else
            ck_assert_ptr_null(m.data);
        vf_matrix_free(&m);
    }
    free(img);
    unlink(path);
}
END_TEST

/* ---- arguments and the file system
 * ----------------------------------------------- */

START_TEST(test_read_errors)
{
    vf_matrix m = {0};
    vf_imatrix im = {0};
    char err[256];
    ck_assert_int_eq(vf_read(NULL, &m, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(vf_read("x.fvecs", NULL, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(vf_read_ids(NULL, &im, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(vf_read_ids("x.ivecs", NULL, err, sizeof(err)), QV_ENULL);

    char dir[] = "/tmp/qv-vecfile-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/missing.fvecs", dir);
    expect_read_fail(path, QV_EIO);
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_EIO);
    ck_assert_ptr_nonnull(strstr(err, path));
    /* A directory is not a vector file. */
    snprintf(path, sizeof(path), "%s/sub.npy", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    expect_read_fail(path, QV_EIO);
    rmdir(path);
    /* Nor is a FIFO, and opening one must not block. */
    snprintf(path, sizeof(path), "%s/fifo.fvecs", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_read_fail(path, QV_EIO);
    unlink(path);
    /* Unknown extensions. */
    snprintf(path, sizeof(path), "%s/a.txt", dir);
    expect_read_fail(path, QV_EFORMAT);
    rmdir(dir);

    /* The message buffer may be NULL or tiny. */
    ck_assert_int_eq(vf_read("/nonexistent/x.fvecs", &m, NULL, 0), QV_EIO);
    err[0] = 'x';
    ck_assert_int_eq(vf_read("/nonexistent/x.fvecs", &m, err, 1), QV_EIO);
    ck_assert_int_eq(err[0], '\0');
    memset(err, 'x', sizeof(err));
    ck_assert_int_eq(vf_read("/nonexistent/x.fvecs", &m, err, 8), QV_EIO);
    ck_assert_uint_eq(strlen(err), 7);
}
END_TEST

/* Number of entries of dir whose name contains ".tmp-". */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

START_TEST(test_write_errors)
{
    const float v[6] = {1, 2, 3, 4, 5, 6};
    const int32_t iv[6] = {1, 2, 3, 4, 5, 6};
    char err[256];
    char dir[] = "/tmp/qv-vecfile-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], sub[128];
    snprintf(path, sizeof(path), "%s/out.fvecs", dir);

    ck_assert_int_eq(vf_write(NULL, v, 2, 3, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(vf_write(path, NULL, 2, 3, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(vf_write(path, v, 2, 0, err, sizeof(err)), QV_ERANGE);
    ck_assert_int_eq(
        vf_write(path, v, 1, (size_t)INT32_MAX + 1, err, sizeof(err)),
        QV_ERANGE);
    ck_assert_int_eq(vf_write(path, v, SIZE_MAX / 2, 3, err, sizeof(err)),
                     QV_ERANGE);
    ck_assert_int_eq(vf_write_npy(path, v, SIZE_MAX / 4, 4, err, sizeof(err)),
                     QV_ERANGE);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing was created */
    snprintf(sub, sizeof(sub), "%s/out.txt", dir);
    ck_assert_int_eq(vf_write(sub, v, 2, 3, err, sizeof(err)), QV_EFORMAT);
    ck_assert_int_eq(vf_write_ids(path, iv, 2, 3, err, sizeof(err)),
                     QV_EFORMAT);
    snprintf(sub, sizeof(sub), "%s/no/such/dir.fvecs", dir);
    ck_assert_int_eq(vf_write(sub, v, 2, 3, err, sizeof(err)), QV_EIO);
    ck_assert_ptr_nonnull(strstr(err, sub));

    /* Overwriting replaces the old file whole. */
    ck_assert_int_eq(vf_write(path, v, 2, 3, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(vf_write(path, v, 1, 2, err, sizeof(err)), QV_OK);
    vf_matrix m = {0};
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 1);
    ck_assert_uint_eq(m.cols, 2);
    vf_matrix_free(&m);
    /* Zero rows make an empty .fvecs file, read back as 0 x 0. */
    ck_assert_int_eq(vf_write(path, NULL, 0, 3, err, sizeof(err)), QV_OK);
    m.rows = 5;
    ck_assert_int_eq(vf_read(path, &m, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(m.rows, 0);
    ck_assert_uint_eq(m.cols, 0);
    ck_assert_ptr_null(m.data);

    /* A failed rename (the target is a directory) leaves no temporary
     * file behind. */
    snprintf(sub, sizeof(sub), "%s/isdir.npy", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(vf_write(sub, v, 2, 3, err, sizeof(err)), QV_EIO);
    ck_assert_int_eq(count_temps(dir), 0);
    rmdir(sub);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0); /* empty: nothing left behind */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vecfile");
    TCase *tc = tcase_create("vecfile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fvecs_round_trip);
    tcase_add_test(tc, test_npy_round_trip);
    tcase_add_test(tc, test_ids_round_trip);
    tcase_add_test(tc, test_bvecs);
    tcase_add_test(tc, test_npy_spellings);
    tcase_add_test(tc, test_npy_int_ids);
    tcase_add_test(tc, test_npy_refused);
    tcase_add_test(tc, test_npy_bad_prefix);
    tcase_add_test(tc, test_npy_truncations);
    tcase_add_test(tc, test_byte_flips);
    tcase_add_test(tc, test_vecs_refused);
    tcase_add_test(tc, test_vecs_truncations);
    tcase_add_test(tc, test_read_errors);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
