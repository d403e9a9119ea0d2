/*
 * narrow_dispatch.c -- which narrow kernel table (simd/simd.h,
 * qvi_narrow_kernels) a CPU can run.
 *
 * The narrow kernels follow the level of qvi_simd() (so QUIVER_SIMD
 * applies to them too) but need a little more than the float kernels of
 * that level: the x86-64 ones convert halves with F16C, and the AVX-512
 * ones use the 16-bit lanes of AVX512BW.  qvi_simd_level_kernels already
 * answers for the CPU and OS (cpuid, xgetbv) for the level itself; this
 * file adds those two cpuid bits.  Like qvi_simd_codes, it keeps no state
 * and asks cpuid on each call, so callers keep the pointer.
 */
#include "simd/simd.h"

#include <stdbool.h>

#if defined(__x86_64__)
#include <cpuid.h>
extern const qvi_narrow_kernels qvi_narrow_avx2;
extern const qvi_narrow_kernels qvi_narrow_avx512;
#elif defined(__aarch64__)
extern const qvi_narrow_kernels qvi_narrow_neon;
#endif
extern const qvi_narrow_kernels qvi_narrow_scalar;

#if defined(__x86_64__)
static bool has_f16c(void)
{
    unsigned eax, ebx, ecx, edx;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}

static bool has_avx512bw(void)
{
    unsigned eax, ebx, ecx, edx;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) &&
           (ebx & bit_AVX512BW);
}
#endif

const qvi_narrow_kernels *qvi_simd_narrow_level(qvi_simd_level level)
{
    if (!qvi_simd_level_kernels(level))
        return NULL; /* this build or CPU cannot run the level at all */
    switch (level) {
    case QVI_SIMD_SCALAR:
        return &qvi_narrow_scalar;
#if defined(__x86_64__)
    case QVI_SIMD_AVX2:
        return has_f16c() ? &qvi_narrow_avx2 : NULL;
    case QVI_SIMD_AVX512:
        return has_f16c() && has_avx512bw() ? &qvi_narrow_avx512 : NULL;
#elif defined(__aarch64__)
    case QVI_SIMD_NEON:
        return &qvi_narrow_neon;
#endif
    default:
        return NULL;
    }
}

const qvi_narrow_kernels *qvi_simd_narrow(void)
{
    /* The chosen level, else the best narrower one (avx512 -> avx2). */
    for (int lv = (int)qvi_simd()->level; lv >= 0; lv--) {
        if (lv == QVI_SIMD_NEON && qvi_simd()->level != QVI_SIMD_NEON)
            continue;
        const qvi_narrow_kernels *k = qvi_simd_narrow_level((qvi_simd_level)lv);
        if (k)
            return k;
    }
    return &qvi_narrow_scalar;
}
