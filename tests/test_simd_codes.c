/*
 * test_simd_codes.c -- every level of the kernels on quantized codes
 * (simd/codes_*.c) this machine can run, checked against a plain oracle.
 *
 * The kernels are integer arithmetic, so each level must return exactly
 * the oracle's value.  Lengths: every n in 0..700 (every tail of 16-, 32-
 * and 64-byte steps many times over) and 4096, 65535, 65536; pointers
 * offset by 0..3 bytes from an aligned base, a and b by different amounts;
 * codes drawn over their whole range (0..127 for dot_u7 and l2_u7, which
 * rely on that bound, 0..255 for l1_u8), including the all-127 and
 * 0-against-127 extremes where an int16 pair or an int32 lane would
 * overflow first.  Popcounts: every word count 0..300, random words and
 * all-ones.  pq_sum (float table sums): every m in 0..300, compared bit
 * for bit with an oracle adding in simd.h's fixed order.  The test prints the
 * levels it ran, and with QUIVER_TEST_EXPECT_SIMD set (the NEON run) requires
 * that exact list.
 */
#include "simd/simd.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 65536u

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint32_t ref_dot(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (uint64_t)a[i] * b[i];
    return (uint32_t)s;
}

static uint32_t ref_l2(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = (int64_t)a[i] - b[i];
        s += (uint64_t)(d * d);
    }
    return (uint32_t)s;
}

static uint32_t ref_l1(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (uint64_t)(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
    return (uint32_t)s;
}

static uint64_t ref_pop(const uint64_t *a, const uint64_t *b, size_t w,
                        int xor_)
{
    uint64_t s = 0;
    for (size_t i = 0; i < w; i++) {
        uint64_t x = xor_ ? a[i] ^ b[i] : a[i] & b[i];
        for (int bit = 0; bit < 64; bit++)
            s += (x >> bit) & 1;
    }
    return s;
}

enum fill { FILL_RANDOM, FILL_MAX, FILL_ZERO_MAX };

static void fill(uint8_t *a, uint8_t *b, size_t n, unsigned top, enum fill f)
{
    for (size_t i = 0; i < n; i++) {
        switch (f) {
        case FILL_RANDOM:
            a[i] = (uint8_t)(rnd() % (top + 1));
            b[i] = (uint8_t)(rnd() % (top + 1));
            break;
        case FILL_MAX:
            a[i] = b[i] = (uint8_t)top;
            break;
        case FILL_ZERO_MAX:
            a[i] = 0;
            b[i] = (uint8_t)top;
            break;
        }
    }
}

static void check_bytes(const qvi_code_kernels *k, size_t n, enum fill f)
{
    static uint8_t bufa[MAXN + 64], bufb[MAXN + 64];
    uint8_t *a = bufa + n % 4, *b = bufb + (n + 1) % 4;
    fill(a, b, n, 127, f);
    uint32_t got = k->dot_u7(a, b, n), want = ref_dot(a, b, n);
    if (got != want)
        ck_abort_msg("%s dot_u7 n=%zu: %u, want %u", k->name, n, got, want);
    got = k->l2_u7(a, b, n);
    want = ref_l2(a, b, n);
    if (got != want)
        ck_abort_msg("%s l2_u7 n=%zu: %u, want %u", k->name, n, got, want);
    fill(a, b, n, 255, f);
    got = k->l1_u8(a, b, n);
    want = ref_l1(a, b, n);
    if (got != want)
        ck_abort_msg("%s l1_u8 n=%zu: %u, want %u", k->name, n, got, want);
}

static void check_words(const qvi_code_kernels *k, size_t w, bool ones)
{
    static uint64_t a[301], b[301];
    for (size_t i = 0; i < w; i++) {
        a[i] = ones ? ~0ull : rnd();
        b[i] = ones ? ~0ull : rnd();
    }
    uint64_t got = k->xor_popcount(a, b, w), want = ref_pop(a, b, w, 1);
    if (got != want)
        ck_abort_msg("%s xor_popcount w=%zu: %llu, want %llu", k->name, w,
                     (unsigned long long)got, (unsigned long long)want);
    got = k->and_popcount(a, b, w);
    want = ref_pop(a, b, w, 0);
    if (got != want)
        ck_abort_msg("%s and_popcount w=%zu: %llu, want %llu", k->name, w,
                     (unsigned long long)got, (unsigned long long)want);
}

/* pq_sum: float sums, so the oracle adds in the order simd.h fixes and
 * every level must match it bit for bit; m 0..300 covers every tail of
 * the eight-lane steps, codes over 0..255 reach every table column. */
static float ref_pq(const float *t, const uint8_t *c, size_t m)
{
    float l[8] = {0};
    size_t j = 0;
    for (; j + 8 <= m; j += 8)
        for (size_t k = 0; k < 8; k++)
            l[k] += t[(j + k) * 256 + c[j + k]];
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; j < m; j++)
        s += t[j * 256 + c[j]];
    return s;
}

static void check_pq(const qvi_code_kernels *k, size_t m)
{
    static float table[301 * 256];
    static uint8_t code[301 + 3];
    for (size_t i = 0; i < m * 256; i++)
        table[i] = (float)((int64_t)(rnd() % 2000001) - 1000000) / 1000.0f;
    for (size_t off = 0; off < 3; off++) {
        for (size_t j = 0; j < m; j++)
            code[off + j] = (uint8_t)rnd();
        float got = k->pq_sum(table, code + off, m);
        float want = ref_pq(table, code + off, m);
        if (memcmp(&got, &want, sizeof got) != 0)
            ck_abort_msg("%s pq_sum m=%zu off=%zu: %.9g, want %.9g", k->name, m,
                         off, (double)got, (double)want);
    }
}

static const size_t big[] = {4096, 65535, 65536};

START_TEST(each_level_matches_the_oracle)
{
    char ran[128] = "";
    for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
        const qvi_code_kernels *k = qvi_simd_codes_level((qvi_simd_level)lv);
        if (!k)
            continue;
        ck_assert_int_eq(k->level, lv);
        for (size_t n = 0; n <= 700; n++)
            for (int f = FILL_RANDOM; f <= FILL_ZERO_MAX; f++)
                check_bytes(k, n, (enum fill)f);
        for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
            for (int f = FILL_RANDOM; f <= FILL_ZERO_MAX; f++)
                check_bytes(k, big[i], (enum fill)f);
        for (size_t w = 0; w <= 300; w++) {
            check_words(k, w, false);
            check_words(k, w, true);
        }
        for (size_t m = 0; m <= 300; m++)
            check_pq(k, m);
        if (ran[0])
            strcat(ran, ",");
        strcat(ran, k->name);
    }
    printf("code kernel levels tested: %s\n", ran);
    const char *expect = getenv("QUIVER_TEST_EXPECT_SIMD");
    if (expect)
        ck_assert_str_eq(ran, expect);
    ck_assert_ptr_nonnull(qvi_simd_codes_level(QVI_SIMD_SCALAR));
}
END_TEST

START_TEST(chosen_level_is_runnable)
{
    const qvi_code_kernels *k = qvi_simd_codes();
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_eq(k, qvi_simd_codes_level(k->level));
    /* Never wider than the float level in use. */
    ck_assert(
        k->level == qvi_simd()->level ||
        (qvi_simd()->level == QVI_SIMD_AVX512 && k->level == QVI_SIMD_AVX2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("simd_codes");
    TCase *tc = tcase_create("codes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, each_level_matches_the_oracle);
    tcase_add_test(tc, chosen_level_is_runnable);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
