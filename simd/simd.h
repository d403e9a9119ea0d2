/*
 * simd.h -- internal interface of the distance kernels.
 *
 * Each kernel set (scalar, AVX2+FMA, AVX-512, NEON) fills one qvi_kernels
 * table.  qvi_simd() returns the table chosen once per process: the widest
 * level the CPU and OS support, or the one named by QUIVER_SIMD when the CPU
 * can run it.  That table is the only global mutable state in Quiver; it is
 * written once under pthread_once and read-only afterwards.
 *
 * Kernels take unaligned pointers and any length n >= 0 (n = 0 gives 0).
 * They accumulate in float with several independent accumulators, so results
 * differ from the scalar reference only in summation order.
 */
#ifndef QUIVER_SIMD_H
#define QUIVER_SIMD_H

#include <stddef.h>

typedef enum qvi_simd_level {
    QVI_SIMD_SCALAR = 0,
    QVI_SIMD_AVX2 = 1,
    QVI_SIMD_AVX512 = 2,
    QVI_SIMD_NEON = 3,
    QVI_SIMD_LEVEL_COUNT
} qvi_simd_level;

typedef struct qvi_kernels {
    qvi_simd_level level;
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    float (*dot)(const float *a, const float *b, size_t n);
    float (*l2sq)(const float *a, const float *b, size_t n); /* sum (a-b)^2 */
    float (*l1)(const float *a, const float *b, size_t n);   /* sum |a-b| */
    /* Scales v in place to unit L2 norm; a zero (or subnormal-norm) vector
     * is left as all zeros.  Returns the norm before scaling.
     * (Details: a vector whose norm is zero, subnormal or not finite -- a
     * NaN or infinite component -- is set to zeros and 0 is returned.  A
     * vector of finite components whose float sum of squares would
     * overflow or underflow, e.g. components near 1e30 or 1e-25, is
     * measured in double and still scaled to unit norm; the returned norm
     * is then +inf if it exceeds FLT_MAX.  Never writes a NaN.) */
    float (*normalize)(float *v, size_t n);
} qvi_kernels;

/* The kernels in use for this process.  Never NULL; thread-safe. */
const qvi_kernels *qvi_simd(void);

/* The table of one level, or NULL when this build or CPU cannot run it.
 * Tests use it to compare every runnable level with the scalar reference. */
const qvi_kernels *qvi_simd_level_kernels(qvi_simd_level level);

/* Comma-separated names of the levels this CPU can run, e.g.
 * "scalar,avx2,avx512".  Static string. */
const char *qvi_simd_available(void);

/* ---- kernels on quantized codes (simd/codes_*.c) -------------------------
 *
 * What core/quant/ scores with: integer arithmetic on bytes and bit words,
 * so every level returns exactly the scalar reference's value.  Scalar
 * (int8) codes are 0..127, as Qdrant's (see core/quant/quant_int8.c):
 * dot_u7 and l2_u7 rely on that bound (a product fits a signed byte times
 * an unsigned byte, a pair of them an int16); l1_u8 takes any bytes.  The
 * sums fit 32 bits for n <= QV_MAX_DIM (65536 * 127^2 < 2^31).  Binary
 * codes are arrays of 64-bit words; the popcounts take the word count.
 * Any n >= 0, unaligned pointers.
 */
#include <stdint.h>

typedef struct qvi_code_kernels {
    qvi_simd_level level;
    const char *name; /* "scalar", "avx2", "avx512" (VNNI+VPOPCNTDQ), "neon" */
    uint32_t (*dot_u7)(const uint8_t *a, const uint8_t *b, size_t n);
    uint32_t (*l2_u7)(const uint8_t *a, const uint8_t *b, size_t n);
    uint32_t (*l1_u8)(const uint8_t *a, const uint8_t *b, size_t n);
    uint64_t (*xor_popcount)(const uint64_t *a, const uint64_t *b, size_t w);
    uint64_t (*and_popcount)(const uint64_t *a, const uint64_t *b, size_t w);
    /* Product quantization's table sum: sum over j < m of
     * table[j * 256 + code[j]].  Floats, so the order of the additions is
     * fixed for every level: eight lanes (lane l takes j = 8 i + l over
     * the whole groups of eight), reduced as ((l0+l4)+(l2+l6)) +
     * ((l1+l5)+(l3+l7)), then the tail j in order. */
    float (*pq_sum)(const float *table, const uint8_t *code, size_t m);
} qvi_code_kernels;

/* The pq_sum kernels, shared between levels (AVX-512 uses the AVX2
 * gather, NEON the scalar walk); call them through the table. */
float qvi_pq_sum_scalar(const float *table, const uint8_t *code, size_t m);
#if defined(__x86_64__)
float qvi_pq_sum_avx2(const float *table, const uint8_t *code, size_t m);
#endif

/* The code kernels matching the level of qvi_simd(): the same level when
 * this CPU can run its code kernels (the AVX-512 ones also need AVX512BW,
 * VNNI and VPOPCNTDQ), else the best narrower level.  Never NULL.  Asks
 * cpuid on each call, so callers keep the pointer (core/quant/ does, per
 * quantizer); no global state.  Thread-safe. */
const qvi_code_kernels *qvi_simd_codes(void);

/* The code kernels of one level, or NULL when this build or CPU cannot
 * run them (tests compare every runnable level with the scalar one). */
const qvi_code_kernels *qvi_simd_codes_level(qvi_simd_level level);

/* ---- kernels on narrow vector elements (simd/narrow_*.c) -----------------
 *
 * For vectors stored as IEEE halves (qv_datatype FLOAT16) or bytes (UINT8):
 * both operands in the narrow type, as Qdrant scores a query converted to
 * the storage's type.  The half kernels widen to float (F16C vcvtph2ps on
 * x86-64, fcvtl on aarch64: exact) and sum in float like the float
 * kernels, so they differ from the scalar reference only in summation
 * order.  The byte kernels are integer and exact at every level: a product
 * or squared difference is at most 255^2, and n <= QV_MAX_DIM keeps the
 * sums below 2^32 (65536 * 65025 < 2^32).  Conversions: f32_to_f16 rounds
 * to nearest, ties to even (vcvtps2ph with imm 0 rounds so too, whatever
 * MXCSR says), an overflow giving infinity; f16_to_f32 is exact.  Any
 * n >= 0, unaligned pointers; the narrow_*.c files use no other state.
 *
 * Not yet called by core/: the collection still keeps float32 rows (the
 * converted values) whatever its datatype (see include/quiver.h,
 * "Vector datatypes"); these are the kernels a narrow storage will use.
 */
/* IEEE half of f, rounded to nearest, ties to even (Rust's
 * f16::from_f32), on the bits: independent of the compiler's _Float16 and
 * of the FPU's rounding mode.  Overflow gives infinity. */
uint16_t qvi_f32_to_f16(float f);
/* The float equal to half h (exact). */
float qvi_f16_to_f32(uint16_t h);

typedef struct qvi_narrow_kernels {
    qvi_simd_level level;
    const char *name; /* "scalar", "avx2" (+F16C), "avx512" (+BW), "neon" */
    float (*dot_f16)(const uint16_t *a, const uint16_t *b, size_t n);
    float (*l2sq_f16)(const uint16_t *a, const uint16_t *b, size_t n);
    float (*l1_f16)(const uint16_t *a, const uint16_t *b, size_t n);
    uint32_t (*dot_u8)(const uint8_t *a, const uint8_t *b, size_t n);
    uint32_t (*l2sq_u8)(const uint8_t *a, const uint8_t *b, size_t n);
    uint32_t (*l1_u8)(const uint8_t *a, const uint8_t *b, size_t n);
    void (*f32_to_f16)(const float *in, uint16_t *out, size_t n);
    void (*f16_to_f32)(const uint16_t *in, float *out, size_t n);
} qvi_narrow_kernels;

/* The narrow kernels matching the level of qvi_simd(): that level when the
 * CPU also has what its narrow kernels need (F16C for avx2 and avx512,
 * AVX512BW for avx512), else the best narrower one.  Never NULL.  Asks
 * cpuid on each call (callers keep the pointer); no global state. */
const qvi_narrow_kernels *qvi_simd_narrow(void);

/* The narrow kernels of one level, or NULL when this build or CPU cannot
 * run them (tests compare every runnable level with the scalar one). */
const qvi_narrow_kernels *qvi_simd_narrow_level(qvi_simd_level level);

#endif /* QUIVER_SIMD_H */
