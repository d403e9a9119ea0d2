/*
 * test_simd_narrow.c -- the narrow kernels (simd/narrow_*.c: half and
 * byte vectors) of every level this CPU can run against oracles, over
 * every length 0..300 (all tail lengths of every step width) and a few
 * large ones up to QV_MAX_DIM:
 *   - byte kernels: exact equality with a 64-bit integer oracle, also at
 *     the extreme 65536 x 255 (the 32-bit bound of simd.h);
 *   - half kernels: within the float summation bound (terms per
 *     accumulator times a unit of rounding, of the sum of |terms|) of a
 *     double oracle over the widened values;
 *   - conversions: f16_to_f32 exact on every half bit pattern, f32_to_f16
 *     equal to the scalar reference (round to nearest even) on the
 *     midpoints between halves and their neighbours, overflow included.
 * Builds with the simd/ objects only, so scripts/test-neon runs it under
 * qemu for the NEON kernels; prints the levels it tested
 * (QUIVER_TEST_EXPECT_SIMD makes the list an assertion).
 */
#include "simd/simd.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const qvi_narrow_kernels *ref(void)
{
    return qvi_simd_narrow_level(QVI_SIMD_SCALAR);
}

static void check_bytes(const qvi_narrow_kernels *k, const uint8_t *a,
                        const uint8_t *b, size_t n)
{
    uint64_t dot = 0, l2 = 0, l1 = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = (int64_t)a[i] - b[i];
        dot += (uint64_t)a[i] * b[i];
        l2 += (uint64_t)(d * d);
        l1 += (uint64_t)(d < 0 ? -d : d);
    }
    ck_assert_msg(k->dot_u8(a, b, n) == dot, "%s dot_u8 n=%zu: %u != %llu",
                  k->name, n, k->dot_u8(a, b, n), (unsigned long long)dot);
    ck_assert_msg(k->l2sq_u8(a, b, n) == l2, "%s l2sq_u8 n=%zu", k->name, n);
    ck_assert_msg(k->l1_u8(a, b, n) == l1, "%s l1_u8 n=%zu", k->name, n);
}

static void check_halves(const qvi_narrow_kernels *k, const uint16_t *a,
                         const uint16_t *b, size_t n, float *fa, float *fb)
{
    ref()->f16_to_f32(a, fa, n);
    ref()->f16_to_f32(b, fb, n);
    double dot = 0, l2 = 0, l1 = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)fa[i] - fb[i];
        dot += (double)fa[i] * fb[i];
        mag += fabs((double)fa[i] * fb[i]);
        l2 += d * d;
        l1 += fabs(d);
    }
    /* Float summation error: at most (terms per accumulator + a few)
     * units of rounding of the sum of |terms|; the scalar reference, with
     * four accumulators, is the loosest of the levels. */
    double u = (double)n / 4 + 10, eps = 0x1p-24;
    double tol_dot = u * eps * mag + 1e-30, tol_l2 = u * eps * l2 + 1e-30,
           tol_l1 = u * eps * l1 + 1e-30;
    ck_assert_msg(fabs(k->dot_f16(a, b, n) - dot) <= tol_dot,
                  "%s dot_f16 n=%zu: %g vs %g", k->name, n,
                  (double)k->dot_f16(a, b, n), dot);
    ck_assert_msg(fabs(k->l2sq_f16(a, b, n) - l2) <= tol_l2,
                  "%s l2sq_f16 n=%zu: %g vs %g", k->name, n,
                  (double)k->l2sq_f16(a, b, n), l2);
    ck_assert_msg(fabs(k->l1_f16(a, b, n) - l1) <= tol_l1,
                  "%s l1_f16 n=%zu: %g vs %g", k->name, n,
                  (double)k->l1_f16(a, b, n), l1);
}

/* A random finite half of magnitude below 8 (no overflow in the sums). */
static uint16_t rand_half(void)
{
    uint16_t h = (uint16_t)next();
    return (uint16_t)((h & 0x83ffu) | ((h >> 10) % 18) << 10);
}

static const size_t big[] = {4096, 65535, 65536};

static void check_level(const qvi_narrow_kernels *k)
{
    size_t cap = 65536;
    uint8_t *a8 = malloc(cap), *b8 = malloc(cap);
    uint16_t *a16 = malloc(cap * 2), *b16 = malloc(cap * 2);
    float *fa = malloc(cap * 4), *fb = malloc(cap * 4);
    for (size_t n = 0; n <= 300 + sizeof(big) / sizeof(big[0]); n++) {
        size_t len = n <= 300 ? n : big[n - 301];
        for (size_t i = 0; i < len; i++) {
            a8[i] = (uint8_t)next();
            b8[i] = (uint8_t)next();
            a16[i] = rand_half();
            b16[i] = rand_half();
        }
        check_bytes(k, a8, b8, len);
        check_halves(k, a16, b16, len, fa, fb);
    }
    /* The 32-bit bound: 65536 x 255 * 255 and 65536 x (255 - 0)^2. */
    memset(a8, 255, cap);
    memset(b8, 255, cap);
    check_bytes(k, a8, b8, cap);
    memset(b8, 0, cap);
    check_bytes(k, a8, b8, cap);
    /* f16_to_f32 on every bit pattern, in one call (tails included). */
    for (uint32_t h = 0; h < 65536; h++)
        a16[h] = (uint16_t)h;
    k->f16_to_f32(a16, fa, cap);
    ref()->f16_to_f32(a16, fb, cap);
    for (uint32_t h = 0; h < 65536; h++)
        ck_assert_msg(isnan(fb[h]) ? isnan(fa[h])
                                   : memcmp(&fa[h], &fb[h], 4) == 0,
                      "%s f16_to_f32(0x%04x)", k->name, h);
    /* f32_to_f16 on midpoints between finite halves, a float ulp either
     * side, and values beyond the largest half. */
    size_t m = 0;
    for (uint32_t h = 0; h < 0x7c00u && m + 8 <= cap; h += 1) {
        float x = fb[h], y = fb[h + 1];
        float mid = x + (y - x) / 2;
        fa[m++] = mid;
        fa[m++] = -nextafterf(mid, 0);
        if ((h & 3) == 0)
            fa[m++] = nextafterf(mid, INFINITY);
    }
    fa[m++] = 65520.0f;
    fa[m++] = -1e30f;
    fa[m++] = INFINITY;
    for (size_t len = m - 40; len <= m; len++) { /* every tail length */
        k->f32_to_f16(fa, a16, len);
        ref()->f32_to_f16(fa, b16, len);
        ck_assert_msg(memcmp(a16, b16, len * 2) == 0,
                      "%s f32_to_f16 differs (len %zu)", k->name, len);
    }
    free(a8);
    free(b8);
    free(a16);
    free(b16);
    free(fa);
    free(fb);
}

START_TEST(each_level_matches_the_oracle)
{
    char ran[128] = "";
    for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
        const qvi_narrow_kernels *k = qvi_simd_narrow_level((qvi_simd_level)lv);
        if (!k)
            continue;
        ck_assert_int_eq(k->level, lv);
        check_level(k);
        if (ran[0])
            strcat(ran, ",");
        strcat(ran, k->name);
    }
    printf("narrow kernel levels tested: %s\n", ran);
    const char *expect = getenv("QUIVER_TEST_EXPECT_SIMD");
    if (expect)
        ck_assert_str_eq(ran, expect);
}
END_TEST

/* The scalar conversion itself: known roundings (ties to even,
 * subnormals, overflow). */
START_TEST(scalar_conversion_known_values)
{
    float in[] = {1.0f,     0.1f,     1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                  0x1p-24f, 0x1p-25f, 3 * 0x1p-26f,    65519.0f,
                  65520.0f};
    uint16_t want[] = {0x3c00, 0x2e66, 0x3c00, 0x3c02, 0x0001,
                       0x0000, 0x0001, 0x7bff, 0x7c00};
    uint16_t got[9];
    ref()->f32_to_f16(in, got, 9);
    for (int i = 0; i < 9; i++)
        ck_assert_msg(got[i] == want[i], "%a -> 0x%04x, want 0x%04x",
                      (double)in[i], got[i], want[i]);
}
END_TEST

START_TEST(chosen_level_is_runnable)
{
    const qvi_narrow_kernels *k = qvi_simd_narrow();
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_eq(k, qvi_simd_narrow_level(k->level));
    ck_assert(
        k->level == qvi_simd()->level || k->level == QVI_SIMD_SCALAR ||
        (qvi_simd()->level == QVI_SIMD_AVX512 && k->level == QVI_SIMD_AVX2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("simd_narrow");
    TCase *tc = tcase_create("narrow");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, each_level_matches_the_oracle);
    tcase_add_test(tc, scalar_conversion_known_values);
    tcase_add_test(tc, chosen_level_is_runnable);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
