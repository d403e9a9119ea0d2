/*
 * codes_scalar.c -- the portable kernels on quantized codes, the reference
 * the SIMD ones are tested against, and the choice of a code-kernel level.
 *
 * The arithmetic is integer, so the order of the sum does not matter and
 * every level must agree exactly (tests/test_simd_codes.c).  Four
 * accumulators per loop, as kernels_scalar.c, let the compiler vectorise
 * or at least overlap the adds.
 *
 * Choosing a level (qvi_simd_codes): the float kernels' level is the
 * starting point, so QUIVER_SIMD=avx2 also selects the AVX2 code kernels.
 * The AVX-512 code kernels need more than AVX-512F (BW for byte lanes, VNNI
 * for vpdpbusd, VPOPCNTDQ for vpopcntq), so a CPU with AVX-512F alone gets
 * the AVX2 ones.  Nothing is cached here: the caller keeps the pointer,
 * which keeps dispatch.c's tables the only global mutable state.
 */
#include "simd/simd.h"

#include <stdbool.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static uint32_t scalar_dot_u7(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (uint32_t)a[i] * b[i];
        s1 += (uint32_t)a[i + 1] * b[i + 1];
        s2 += (uint32_t)a[i + 2] * b[i + 2];
        s3 += (uint32_t)a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += (uint32_t)a[i] * b[i];
    return s0 + s1 + s2 + s3;
}

static inline uint32_t sq_diff(uint8_t x, uint8_t y)
{
    int d = (int)x - (int)y;
    return (uint32_t)(d * d);
}

static inline uint32_t abs_diff(uint8_t x, uint8_t y)
{
    return x > y ? (uint32_t)(x - y) : (uint32_t)(y - x);
}

static uint32_t scalar_l2_u7(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s0 += sq_diff(a[i], b[i]);
        s1 += sq_diff(a[i + 1], b[i + 1]);
    }
    for (; i < n; i++)
        s0 += sq_diff(a[i], b[i]);
    return s0 + s1;
}

static uint32_t scalar_l1_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s0 += abs_diff(a[i], b[i]);
        s1 += abs_diff(a[i + 1], b[i + 1]);
    }
    for (; i < n; i++)
        s0 += abs_diff(a[i], b[i]);
    return s0 + s1;
}

static uint64_t scalar_xor_popcount(const uint64_t *a, const uint64_t *b,
                                    size_t w)
{
    uint64_t s = 0;
    for (size_t i = 0; i < w; i++)
        s += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    return s;
}

static uint64_t scalar_and_popcount(const uint64_t *a, const uint64_t *b,
                                    size_t w)
{
    uint64_t s = 0;
    for (size_t i = 0; i < w; i++)
        s += (uint64_t)__builtin_popcountll(a[i] & b[i]);
    return s;
}

float qvi_pq_sum_scalar(const float *table, const uint8_t *code, size_t m)
{
    float l[8] = {0};
    size_t j = 0;
    for (; j + 8 <= m; j += 8)
        for (size_t k = 0; k < 8; k++)
            l[k] += table[(j + k) * 256 + code[j + k]];
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; j < m; j++)
        s += table[j * 256 + code[j]];
    return s;
}

const qvi_code_kernels qvi_codes_scalar = {
    .level = QVI_SIMD_SCALAR,
    .name = "scalar",
    .dot_u7 = scalar_dot_u7,
    .l2_u7 = scalar_l2_u7,
    .l1_u8 = scalar_l1_u8,
    .xor_popcount = scalar_xor_popcount,
    .and_popcount = scalar_and_popcount,
    .pq_sum = qvi_pq_sum_scalar,
};

#if defined(__x86_64__)
extern const qvi_code_kernels qvi_codes_avx2;
extern const qvi_code_kernels qvi_codes_avx512;

/* AVX512BW, VNNI and VPOPCNTDQ on top of what the float AVX-512 level
 * already established (AVX-512F with the OS saving ZMM state). */
static bool cpu_has_avx512_codes(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return false;
    return (ebx & bit_AVX512BW) && (ecx & bit_AVX512VNNI) &&
           (ecx & bit_AVX512VPOPCNTDQ);
}
#elif defined(__aarch64__)
extern const qvi_code_kernels qvi_codes_neon;
#endif

const qvi_code_kernels *qvi_simd_codes_level(qvi_simd_level level)
{
    /* A float level that cannot run means its code level cannot either. */
    if (!qvi_simd_level_kernels(level))
        return NULL;
    switch (level) {
    case QVI_SIMD_SCALAR:
        return &qvi_codes_scalar;
#if defined(__x86_64__)
    case QVI_SIMD_AVX2:
        return &qvi_codes_avx2;
    case QVI_SIMD_AVX512:
        return cpu_has_avx512_codes() ? &qvi_codes_avx512 : NULL;
#elif defined(__aarch64__)
    case QVI_SIMD_NEON:
        return &qvi_codes_neon;
#endif
    default:
        return NULL;
    }
}

const qvi_code_kernels *qvi_simd_codes(void)
{
    qvi_simd_level lv = qvi_simd()->level;
    const qvi_code_kernels *k = qvi_simd_codes_level(lv);
    if (!k && lv == QVI_SIMD_AVX512)
        k = qvi_simd_codes_level(QVI_SIMD_AVX2);
    return k ? k : &qvi_codes_scalar;
}
