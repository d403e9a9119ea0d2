/*
 * codes_avx2.c -- kernels on quantized codes for AVX2 CPUs.
 *
 * Compiled without -m flags; each function carries its target attribute
 * and codes_scalar.c hands the table out only at the AVX2 level, which
 * dispatch.c grants after cpuid and xgetbv.  32 bytes a step:
 *   dot_u7  vpmaddubsw (unsigned byte times signed byte, pairs summed into
 *           int16: codes <= 127 keep each pair <= 32258) then vpmaddwd by
 *           ones into int32 lanes;
 *   l2_u7   the byte difference (within -127..127, so a signed byte), its
 *           absolute value, squared and paired by the same vpmaddubsw;
 *   l1_u8   vpsadbw, which sums absolute byte differences into 64-bit lanes.
 * The n % 32 tail goes through the scalar loop.  The popcounts use the
 * popcnt instruction (every AVX2 CPU has it), four words at a time.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,popcnt")))

AVX2_FN static inline uint32_t hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
                              _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

AVX2_FN static uint32_t avx2_dot_u7(const uint8_t *a, const uint8_t *b,
                                    size_t n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i p = _mm256_maddubs_epi16(x, y);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    uint32_t s = hsum_epi32(acc);
    for (; i < n; i++)
        s += (uint32_t)a[i] * b[i];
    return s;
}

AVX2_FN static uint32_t avx2_l2_u7(const uint8_t *a, const uint8_t *b, size_t n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i d = _mm256_abs_epi8(_mm256_sub_epi8(x, y));
        __m256i p = _mm256_maddubs_epi16(d, d);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    uint32_t s = hsum_epi32(acc);
    for (; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        s += (uint32_t)(d * d);
    }
    return s;
}

AVX2_FN static uint32_t avx2_l1_u8(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(x, y));
    }
    uint32_t s = hsum_epi32(acc); /* the high halves of the lanes are 0 */
    for (; i < n; i++)
        s += a[i] > b[i] ? (uint32_t)(a[i] - b[i]) : (uint32_t)(b[i] - a[i]);
    return s;
}

AVX2_FN static uint64_t avx2_xor_popcount(const uint64_t *a, const uint64_t *b,
                                          size_t w)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= w; i += 4) {
        s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
        s1 += (uint64_t)_mm_popcnt_u64(a[i + 1] ^ b[i + 1]);
        s2 += (uint64_t)_mm_popcnt_u64(a[i + 2] ^ b[i + 2]);
        s3 += (uint64_t)_mm_popcnt_u64(a[i + 3] ^ b[i + 3]);
    }
    for (; i < w; i++)
        s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
    return s0 + s1 + s2 + s3;
}

AVX2_FN static uint64_t avx2_and_popcount(const uint64_t *a, const uint64_t *b,
                                          size_t w)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= w; i += 4) {
        s0 += (uint64_t)_mm_popcnt_u64(a[i] & b[i]);
        s1 += (uint64_t)_mm_popcnt_u64(a[i + 1] & b[i + 1]);
        s2 += (uint64_t)_mm_popcnt_u64(a[i + 2] & b[i + 2]);
        s3 += (uint64_t)_mm_popcnt_u64(a[i + 3] & b[i + 3]);
    }
    for (; i < w; i++)
        s0 += (uint64_t)_mm_popcnt_u64(a[i] & b[i]);
    return s0 + s1 + s2 + s3;
}

/* Eight table entries a step with one gather: the codes widened to 32
 * bits plus each lane's row offset (j * 256).  The lanes are reduced in
 * the order simd.h fixes, so the sum equals the scalar one exactly. */
AVX2_FN float qvi_pq_sum_avx2(const float *table, const uint8_t *code, size_t m)
{
    __m256 acc = _mm256_setzero_ps();
    __m256i rows = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
    const __m256i step = _mm256_set1_epi32(8 * 256);
    size_t j = 0;
    for (; j + 8 <= m; j += 8) {
        __m128i c8 = _mm_loadl_epi64((const __m128i *)(code + j));
        __m256i idx = _mm256_add_epi32(_mm256_cvtepu8_epi32(c8), rows);
        acc = _mm256_add_ps(acc, _mm256_i32gather_ps(table, idx, 4));
        rows = _mm256_add_epi32(rows, step);
    }
    float l[8];
    _mm256_storeu_ps(l, acc);
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; j < m; j++)
        s += table[j * 256 + code[j]];
    return s;
}

const qvi_code_kernels qvi_codes_avx2 = {
    .level = QVI_SIMD_AVX2,
    .name = "avx2",
    .dot_u7 = avx2_dot_u7,
    .l2_u7 = avx2_l2_u7,
    .l1_u8 = avx2_l1_u8,
    .xor_popcount = avx2_xor_popcount,
    .and_popcount = avx2_and_popcount,
    .pq_sum = qvi_pq_sum_avx2,
};

#else
typedef int qvi_codes_avx2_unused;
#endif
