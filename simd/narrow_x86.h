/*
 * narrow_x86.h -- the body of the x86-64 narrow kernels, included by
 * narrow_avx2.c (W = 8 floats, 256-bit) and narrow_avx512.c (W = 16,
 * 512-bit) with the macros below defined, so that the two widths share
 * one text.  Each kernel runs whole W-element steps, then pads the last
 * n % W elements with zeros in a stack buffer (zero pairs add nothing to
 * any of the sums), so nothing is read past either vector.  Halves are
 * widened with vcvtph2ps (exact) and summed in float with two
 * accumulators; bytes are widened to 16 bits and multiplied pairwise with
 * vpmaddwd into 32-bit lanes: exact.
 *
 * Macros: FN (the target attribute), W, VF (float vector), VI (integer
 * vector), HALF_LOAD(p) (W halves widened), BYTE_LOAD(p) (W bytes widened
 * to 16 bits: W 16-bit lanes), FADD, FSUB, FMUL, FABS, FZERO, FHSUM, IZERO,
 * IADD, ISUB16, IMADD16, IABS16, IONES16, IHSUM, F2H_STORE(p, v).
 */
FN static float NAME(dot_f16)(const uint16_t *a, const uint16_t *b, size_t n)
{
    VF s0 = FZERO(), s1 = FZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        s0 = FADD(s0, FMUL(HALF_LOAD(a + i), HALF_LOAD(b + i)));
        s1 = FADD(s1, FMUL(HALF_LOAD(a + i + W), HALF_LOAD(b + i + W)));
    }
    for (; i + W <= n; i += W)
        s0 = FADD(s0, FMUL(HALF_LOAD(a + i), HALF_LOAD(b + i)));
    if (i < n) {
        uint16_t ta[W] = {0}, tb[W] = {0};
        memcpy(ta, a + i, (n - i) * 2);
        memcpy(tb, b + i, (n - i) * 2);
        s1 = FADD(s1, FMUL(HALF_LOAD(ta), HALF_LOAD(tb)));
    }
    return FHSUM(FADD(s0, s1));
}

FN static float NAME(l2sq_f16)(const uint16_t *a, const uint16_t *b, size_t n)
{
    VF s0 = FZERO(), s1 = FZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VF d0 = FSUB(HALF_LOAD(a + i), HALF_LOAD(b + i));
        VF d1 = FSUB(HALF_LOAD(a + i + W), HALF_LOAD(b + i + W));
        s0 = FADD(s0, FMUL(d0, d0));
        s1 = FADD(s1, FMUL(d1, d1));
    }
    for (; i + W <= n; i += W) {
        VF d = FSUB(HALF_LOAD(a + i), HALF_LOAD(b + i));
        s0 = FADD(s0, FMUL(d, d));
    }
    if (i < n) {
        uint16_t ta[W] = {0}, tb[W] = {0};
        memcpy(ta, a + i, (n - i) * 2);
        memcpy(tb, b + i, (n - i) * 2);
        VF d = FSUB(HALF_LOAD(ta), HALF_LOAD(tb));
        s1 = FADD(s1, FMUL(d, d));
    }
    return FHSUM(FADD(s0, s1));
}

FN static float NAME(l1_f16)(const uint16_t *a, const uint16_t *b, size_t n)
{
    VF s0 = FZERO(), s1 = FZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        s0 = FADD(s0, FABS(FSUB(HALF_LOAD(a + i), HALF_LOAD(b + i))));
        s1 = FADD(s1, FABS(FSUB(HALF_LOAD(a + i + W), HALF_LOAD(b + i + W))));
    }
    for (; i + W <= n; i += W)
        s0 = FADD(s0, FABS(FSUB(HALF_LOAD(a + i), HALF_LOAD(b + i))));
    if (i < n) {
        uint16_t ta[W] = {0}, tb[W] = {0};
        memcpy(ta, a + i, (n - i) * 2);
        memcpy(tb, b + i, (n - i) * 2);
        s1 = FADD(s1, FABS(FSUB(HALF_LOAD(ta), HALF_LOAD(tb))));
    }
    return FHSUM(FADD(s0, s1));
}

/* Byte kernels: 2W bytes a step, widened to 2W 16-bit lanes. */
FN static uint32_t NAME(dot_u8)(const uint8_t *a, const uint8_t *b, size_t n)
{
    VI s = IZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W)
        s = IADD(s, IMADD16(BYTE_LOAD(a + i), BYTE_LOAD(b + i)));
    if (i < n) {
        uint8_t ta[2 * W] = {0}, tb[2 * W] = {0};
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        s = IADD(s, IMADD16(BYTE_LOAD(ta), BYTE_LOAD(tb)));
    }
    return IHSUM(s);
}

FN static uint32_t NAME(l2sq_u8)(const uint8_t *a, const uint8_t *b, size_t n)
{
    VI s = IZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VI d = ISUB16(BYTE_LOAD(a + i), BYTE_LOAD(b + i));
        s = IADD(s, IMADD16(d, d));
    }
    if (i < n) {
        uint8_t ta[2 * W] = {0}, tb[2 * W] = {0};
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        VI d = ISUB16(BYTE_LOAD(ta), BYTE_LOAD(tb));
        s = IADD(s, IMADD16(d, d));
    }
    return IHSUM(s);
}

FN static uint32_t NAME(l1_u8)(const uint8_t *a, const uint8_t *b, size_t n)
{
    VI s = IZERO();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        VI d = IABS16(ISUB16(BYTE_LOAD(a + i), BYTE_LOAD(b + i)));
        s = IADD(s, IMADD16(d, IONES16()));
    }
    if (i < n) {
        uint8_t ta[2 * W] = {0}, tb[2 * W] = {0};
        memcpy(ta, a + i, n - i);
        memcpy(tb, b + i, n - i);
        VI d = IABS16(ISUB16(BYTE_LOAD(ta), BYTE_LOAD(tb)));
        s = IADD(s, IMADD16(d, IONES16()));
    }
    return IHSUM(s);
}

FN static void NAME(f32_to_f16)(const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W)
        F2H_STORE(out + i, FLOAD(in + i));
    if (i < n) {
        float t[W] = {0};
        uint16_t h[W];
        memcpy(t, in + i, (n - i) * 4);
        F2H_STORE(h, FLOAD(t));
        memcpy(out + i, h, (n - i) * 2);
    }
}

FN static void NAME(f16_to_f32)(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + W <= n; i += W)
        FSTORE(out + i, HALF_LOAD(in + i));
    if (i < n) {
        uint16_t t[W] = {0};
        float f[W];
        memcpy(t, in + i, (n - i) * 2);
        FSTORE(f, HALF_LOAD(t));
        memcpy(out + i, f, (n - i) * 4);
    }
}
