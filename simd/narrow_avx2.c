/*
 * narrow_avx2.c -- the narrow kernels (half and byte vectors) for x86-64
 * CPUs with AVX2, FMA and F16C, 8 floats / 16 bytes a step.  The text of
 * the kernels is narrow_x86.h, shared with narrow_avx512.c; see there.
 * Compiled without -m flags (each function carries its target attribute);
 * narrow_dispatch.c hands this table out only when cpuid and xgetbv say
 * the CPU and OS can run it.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define FN           __attribute__((target("avx2,fma,f16c")))
#define NAME(x)      avx2_##x
#define W            8
#define VF           __m256
#define VI           __m256i
#define FZERO()      _mm256_setzero_ps()
#define FADD         _mm256_add_ps
#define FSUB         _mm256_sub_ps
#define FMUL         _mm256_mul_ps
#define FLOAD(p)     _mm256_loadu_ps(p)
#define FSTORE(p, v) _mm256_storeu_ps((p), (v))
#define FABS(v)      _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (v))
#define HALF_LOAD(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define BYTE_LOAD(p) _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p)))
#define IZERO()      _mm256_setzero_si256()
#define IADD         _mm256_add_epi32
#define ISUB16       _mm256_sub_epi16
#define IMADD16      _mm256_madd_epi16
#define IABS16       _mm256_abs_epi16
#define IONES16()    _mm256_set1_epi16(1)
#define F2H_STORE(p, v)                                                        \
    _mm_storeu_si128((__m128i *)(p),                                           \
                     _mm256_cvtps_ph((v), _MM_FROUND_TO_NEAREST_INT))

FN static inline float FHSUM(__m256 v)
{
    __m128 s =
        _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

FN static inline uint32_t IHSUM(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
                              _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

#include "simd/narrow_x86.h"

const qvi_narrow_kernels qvi_narrow_avx2 = {
    .level = QVI_SIMD_AVX2,
    .name = "avx2",
    .dot_f16 = avx2_dot_f16,
    .l2sq_f16 = avx2_l2sq_f16,
    .l1_f16 = avx2_l1_f16,
    .dot_u8 = avx2_dot_u8,
    .l2sq_u8 = avx2_l2sq_u8,
    .l1_u8 = avx2_l1_u8,
    .f32_to_f16 = avx2_f32_to_f16,
    .f16_to_f32 = avx2_f16_to_f32,
};

#else
typedef int qvi_narrow_avx2_unused;
#endif
