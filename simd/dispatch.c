/*
 * dispatch.c -- chooses, once per process, the kernel table Quiver uses.
 *
 * Two steps, each run once under pthread_once:
 *
 *   detect  asks the CPU and the OS which levels can run.  On x86-64,
 *           cpuid says what the CPU implements, but an instruction set
 *           that uses wider registers is usable only if the OS saves those
 *           registers on a context switch, which xgetbv (XCR0) reports:
 *           bits 1-2 (SSE, AVX) for AVX2, and also bits 5-7 (opmask and
 *           the two halves of the ZMM file) for AVX-512.  A CPU that has
 *           AVX-512 under an OS (or hypervisor) that does not enable it
 *           must not get those kernels, or the first one raises SIGILL.
 *           On aarch64, NEON is part of the base architecture; getauxval
 *           (AT_HWCAP) & HWCAP_ASIMD confirms it.
 *   choose  picks the level of qvi_simd(): the one named by the
 *           environment variable QUIVER_SIMD (scalar|avx2|avx512|neon, any
 *           case) when it can run, else the best level that can.  An
 *           unknown or unavailable name is ignored silently: a library
 *           must not print, and qv_build_info_get reports the level in
 *           use.  The variable is read once, at the first qvi_simd() call.
 *
 * Keeping the two apart lets qvi_simd_level_kernels and qvi_simd_available
 * answer without fixing the process's choice, so the tests can compare
 * every level and still test QUIVER_SIMD in a forked child.
 *
 * Global state: the variables below are the only mutable globals of
 * Quiver.  Each is written once, inside its pthread_once routine (or, for
 * `chosen`, published once after it), and only read afterwards;
 * pthread_once and the acquire/release pair on `chosen` order those writes
 * before every read.  qvi_simd() is on the hot path (called per distance by
 * some callers), so once the choice is made it costs one acquire load,
 * a plain load on x86-64 and aarch64.
 *
 * The levels live in one static table, in order of preference; adding a
 * level means a kernels_*.c file, a row here and an enum value in simd.h.
 */
#include "simd/simd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#endif

/* Defined in the kernels_*.c files; which ones exist depends on the target
 * architecture, exactly as CMakeLists.txt chooses the sources. */
extern const qvi_kernels qvi_kernels_scalar;
#if defined(__x86_64__)
extern const qvi_kernels qvi_kernels_avx2;
extern const qvi_kernels qvi_kernels_avx512;
#elif defined(__aarch64__)
extern const qvi_kernels qvi_kernels_neon;
#endif

/* ---- CPU and OS support ---------------------------------------------------
 */

#if defined(__x86_64__)
/* XCR0 state components the OS must enable. */
#define XCR0_SSE_AVX 0x06u /* XMM and the upper halves of YMM */
#define XCR0_AVX512  0xE0u /* opmask, upper halves of ZMM0-15, ZMM16-31 */

static uint64_t read_xcr0(void)
{
    /* xgetbv with ecx = 0; written in asm so that this function needs no
     * target attribute (the _xgetbv intrinsic requires -mxsave). */
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

/* AVX2 and FMA, with the OS saving YMM state. */
static bool x86_avx2_usable(uint64_t *xcr0_out)
{
    unsigned eax, ebx, ecx, edx;
    *xcr0_out = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return false;
    bool fma = ecx & bit_FMA, avx = ecx & bit_AVX;
    if (!(ecx & bit_OSXSAVE) || !avx || !fma)
        return false; /* xgetbv itself would fault without OSXSAVE */
    *xcr0_out = read_xcr0();
    if ((*xcr0_out & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return false;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return false;
    return (ebx & bit_AVX2) != 0;
}

static bool cpu_has_avx2(void)
{
    uint64_t xcr0;
    return x86_avx2_usable(&xcr0);
}

/* AVX-512F on top of AVX2 + FMA, with the OS saving opmask and ZMM state. */
static bool cpu_has_avx512(void)
{
    unsigned eax, ebx, ecx, edx;
    uint64_t xcr0;
    if (!x86_avx2_usable(&xcr0))
        return false;
    const uint64_t need = XCR0_SSE_AVX | XCR0_AVX512;
    if ((xcr0 & need) != need)
        return false;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return false;
    return (ebx & bit_AVX512F) != 0;
}
#elif defined(__aarch64__)
static bool cpu_has_neon(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
}
#endif

static bool always(void)
{
    return true;
}

/* ---- the level table ------------------------------------------------------
 */

/* Best first: the first runnable row is the default choice. */
static const struct level_row {
    const qvi_kernels *kernels;
    bool (*runnable)(void);
} level_rows[] = {
#if defined(__x86_64__)
    {&qvi_kernels_avx512, cpu_has_avx512},
    {&qvi_kernels_avx2, cpu_has_avx2},
#elif defined(__aarch64__)
    {&qvi_kernels_neon, cpu_has_neon},
#endif
    {&qvi_kernels_scalar, always},
};

#define N_ROWS (sizeof(level_rows) / sizeof(level_rows[0]))

/* Longest possible list: every name and a comma after each. */
#define AVAILABLE_CAP sizeof("scalar,avx2,avx512,neon,")

/* Written by detect() only. */
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static const qvi_kernels *runnable[QVI_SIMD_LEVEL_COUNT];
static const qvi_kernels *best;
static char available[AVAILABLE_CAP];

/* Written by choose() only. */
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static const qvi_kernels *_Atomic chosen;

static void detect(void)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        const qvi_kernels *k = level_rows[i].kernels;
        if (!level_rows[i].runnable())
            continue;
        runnable[k->level] = k;
        if (!best)
            best = k;
    }
    /* Listed in enum order, which is also narrowest first. */
    size_t len = 0;
    for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
        if (!runnable[lv])
            continue;
        size_t nl = strlen(runnable[lv]->name);
        if (len > 0)
            available[len++] = ',';
        memcpy(available + len, runnable[lv]->name, nl);
        len += nl;
    }
    available[len] = '\0';
}

static void choose(void)
{
    pthread_once(&detect_once, detect);
    const qvi_kernels *pick = best;
    const char *want = getenv("QUIVER_SIMD");
    if (want) {
        for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
            if (runnable[lv] && strcasecmp(want, runnable[lv]->name) == 0)
                pick = runnable[lv];
        }
    }
    atomic_store_explicit(&chosen, pick, memory_order_release);
}

const qvi_kernels *qvi_simd(void)
{
    const qvi_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (__builtin_expect(k != NULL, 1))
        return k;
    pthread_once(&choose_once, choose);
    return atomic_load_explicit(&chosen, memory_order_acquire);
}

const qvi_kernels *qvi_simd_level_kernels(qvi_simd_level level)
{
    if ((unsigned)level >= QVI_SIMD_LEVEL_COUNT)
        return NULL;
    pthread_once(&detect_once, detect);
    return runnable[level];
}

const char *qvi_simd_available(void)
{
    pthread_once(&detect_once, detect);
    return available;
}
