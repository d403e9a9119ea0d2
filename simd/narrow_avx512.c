/*
 * narrow_avx512.c -- the narrow kernels (half and byte vectors) for x86-64
 * CPUs with AVX-512F and AVX-512BW (the 16-bit lanes of the byte kernels)
 * and F16C, 16 floats / 32 bytes a step.  The text of the kernels is
 * narrow_x86.h, shared with narrow_avx2.c; see there.  Compiled without
 * -m flags; narrow_dispatch.c hands this table out only when cpuid and
 * xgetbv say the CPU and OS can run it.
 */
#include "simd/simd.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define FN           __attribute__((target("avx512f,avx512bw,avx2,fma,f16c")))
#define NAME(x)      avx512_##x
#define W            16
#define VF           __m512
#define VI           __m512i
#define FZERO()      _mm512_setzero_ps()
#define FADD         _mm512_add_ps
#define FSUB         _mm512_sub_ps
#define FMUL         _mm512_mul_ps
#define FLOAD(p)     _mm512_loadu_ps(p)
#define FSTORE(p, v) _mm512_storeu_ps((p), (v))
#define FABS(v)      _mm512_abs_ps(v)
#define HALF_LOAD(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define BYTE_LOAD(p)                                                           \
    _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(p)))
#define IZERO()   _mm512_setzero_si512()
#define IADD      _mm512_add_epi32
#define ISUB16    _mm512_sub_epi16
#define IMADD16   _mm512_madd_epi16
#define IABS16    _mm512_abs_epi16
#define IONES16() _mm512_set1_epi16(1)
#define FHSUM     _mm512_reduce_add_ps

#define F2H_STORE(p, v)                                                        \
    _mm256_storeu_si256((__m256i *)(p),                                        \
                        _mm512_cvtps_ph((v), _MM_FROUND_TO_NEAREST_INT))

/* Not _mm512_reduce_add_epi32: GCC's version adds in signed int, and a
 * byte kernel's sum may exceed INT_MAX (up to 65536 * 255^2).  The
 * intrinsics below add modulo 2^32, and the true sum fits 32 bits. */
FN static inline uint32_t IHSUM(__m512i v)
{
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v),
                                 _mm512_extracti64x4_epi64(v, 1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h),
                              _mm256_extracti128_si256(h, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

#include "simd/narrow_x86.h"

const qvi_narrow_kernels qvi_narrow_avx512 = {
    .level = QVI_SIMD_AVX512,
    .name = "avx512",
    .dot_f16 = avx512_dot_f16,
    .l2sq_f16 = avx512_l2sq_f16,
    .l1_f16 = avx512_l1_f16,
    .dot_u8 = avx512_dot_u8,
    .l2sq_u8 = avx512_l2sq_u8,
    .l1_u8 = avx512_l1_u8,
    .f32_to_f16 = avx512_f32_to_f16,
    .f16_to_f32 = avx512_f16_to_f32,
};

#else
typedef int qvi_narrow_avx512_unused;
#endif
