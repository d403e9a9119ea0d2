/*
 * codes_avx512.c -- kernels on quantized codes for CPUs with AVX-512 BW,
 * VNNI and VPOPCNTDQ (Intel Ice Lake and later, AMD Zen 4 and later).
 *
 * 64 bytes (or 8 words) a step; the last partial step is one masked load
 * whose masked-off lanes read as 0 and never fault, so there is no scalar
 * tail and no read past either array:
 *   dot_u7  vpdpbusd: unsigned byte times signed byte, four products summed
 *           into each int32 lane in one instruction (codes <= 127 are
 *           valid as both);
 *   l2_u7   |a - b| per byte (a signed byte, as the codes are <= 127), then
 *           vpdpbusd of it with itself;
 *   l1_u8   vpsadbw;
 *   popcounts  vpopcntq on the xor / and of 8 words.
 * codes_scalar.c hands the table out only when cpuid reports all three
 * extensions on top of the float AVX-512 level's checks.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512_CODES_FN                                                        \
    __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vpopcntdq")))

/* The first r byte lanes, r in 0..64. */
AVX512_CODES_FN static inline __mmask64 byte_mask(size_t r)
{
    return r >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << r) - 1);
}

AVX512_CODES_FN static uint32_t avx512_dot_u7(const uint8_t *a,
                                              const uint8_t *b, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 64) {
        __mmask64 m = byte_mask(n - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_dpbusd_epi32(acc, x, y);
    }
    return (uint32_t)_mm512_reduce_add_epi32(acc);
}

AVX512_CODES_FN static uint32_t avx512_l2_u7(const uint8_t *a, const uint8_t *b,
                                             size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 64) {
        __mmask64 m = byte_mask(n - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        __m512i d = _mm512_abs_epi8(_mm512_sub_epi8(x, y));
        acc = _mm512_dpbusd_epi32(acc, d, d);
    }
    return (uint32_t)_mm512_reduce_add_epi32(acc);
}

AVX512_CODES_FN static uint32_t avx512_l1_u8(const uint8_t *a, const uint8_t *b,
                                             size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 64) {
        __mmask64 m = byte_mask(n - i);
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(x, y));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

/* The first r word lanes, r in 0..8. */
AVX512_CODES_FN static inline __mmask8 word_mask(size_t r)
{
    return r >= 8 ? (__mmask8)0xff : (__mmask8)((1u << r) - 1u);
}

AVX512_CODES_FN static uint64_t avx512_xor_popcount(const uint64_t *a,
                                                    const uint64_t *b, size_t w)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < w; i += 8) {
        __mmask8 m = word_mask(w - i);
        __m512i x = _mm512_maskz_loadu_epi64(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi64(m, b + i);
        acc =
            _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
}

AVX512_CODES_FN static uint64_t avx512_and_popcount(const uint64_t *a,
                                                    const uint64_t *b, size_t w)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t i = 0; i < w; i += 8) {
        __mmask8 m = word_mask(w - i);
        __m512i x = _mm512_maskz_loadu_epi64(m, a + i);
        __m512i y = _mm512_maskz_loadu_epi64(m, b + i);
        acc =
            _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
}

const qvi_code_kernels qvi_codes_avx512 = {
    .level = QVI_SIMD_AVX512,
    .name = "avx512",
    .dot_u7 = avx512_dot_u7,
    .l2_u7 = avx512_l2_u7,
    .l1_u8 = avx512_l1_u8,
    .xor_popcount = avx512_xor_popcount,
    .and_popcount = avx512_and_popcount,
    .pq_sum = qvi_pq_sum_avx2,
};

#else
typedef int qvi_codes_avx512_unused;
#endif
