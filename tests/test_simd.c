/*
 * test_simd.c -- every kernel level this machine can run, checked against
 * the scalar reference and against a double-precision oracle.
 *
 * What is checked, for each level that qvi_simd_level_kernels returns
 * (scalar included: it is checked against the oracle):
 *
 *   1. Exact data.  Vectors of small integers (-7..7) have products, squares
 *      and every partial sum exactly representable in float (|sum| < 2^24
 *      up to n = 65543), so the result does not depend on summation order
 *      and every level must return exactly the oracle's value.  This is the
 *      check that catches a dropped, doubled or misplaced element at any
 *      length, including the large ones where a rounding tolerance could
 *      hide one element.
 *   2. Real data.  Random floats of mixed sign and magnitude; each level
 *      must agree with the oracle within a bound on float summation error,
 *      (n/4 + 16) * FLT_EPSILON * sum|terms| (the longest accumulation
 *      chain of any level is at most n/4 + a few adds, each adding at most
 *      half an FLT_EPSILON of sum|terms|), and with the scalar result within
 *      twice that.
 *   3. Normalisation: unit norm within the same bound, each component
 *      within that bound of x_i / |x|, exact results where the arithmetic
 *      is exact (powers of two), the returned norm, zero / subnormal / NaN
 *      / infinite input left as zeros, huge and tiny input rescaled through
 *      the slow path, never a NaN.
 *
 * Every length 1..1100 (all tail lengths of every vector width, many
 * times over) and 2048, 4096, 65536, 65543; n = 0 too.  Pointers are offset
 * by 0..3 floats from a 64-byte boundary, a and b by different amounts.
 * The floats just before and after each vector are NaN, so a kernel that
 * reads outside [0, n) returns NaN and fails; normalize must leave them
 * untouched.
 *
 * The dispatch tests check qvi_simd_available against the table, the
 * x86 detection against GCC's own (__builtin_cpu_supports), and
 * QUIVER_SIMD: each case runs in a forked child, which sets the variable
 * and makes the process's first qvi_simd() call, and must print nothing.
 * That is why nothing in this process calls qvi_simd() before those
 * children are forked (the dispatch test case is added first, so this
 * holds with CK_FORK=no too).  When QUIVER_TEST_EXPECT_SIMD is set (the
 * NEON run under qemu sets "scalar,neon"), the levels available must be
 * exactly that list, so a run cannot silently test less than intended.
 *
 * Checks inside the loops use `if (...) ck_abort_msg(...)` rather than
 * ck_assert: Check records a mark for each ck_assert that passes, and
 * these loops make tens of millions of comparisons.
 */
#include "simd/simd.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD         16 /* NaN floats on each side of a vector */
#define MAX_SMALL_DIM 1100
static const size_t big_dims[] = {2048, 4096, 65536, 65543};
#define N_BIG   (sizeof(big_dims) / sizeof(big_dims[0]))
#define MAX_DIM 65543

static const char *const level_names[QVI_SIMD_LEVEL_COUNT] = {
    [QVI_SIMD_SCALAR] = "scalar",
    [QVI_SIMD_AVX2] = "avx2",
    [QVI_SIMD_AVX512] = "avx512",
    [QVI_SIMD_NEON] = "neon",
};

/* ---- helpers ------------------------------------------------------------- */

/* xorshift64*: a fixed seed per test, so a failure replays exactly. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
    return (float)((double)(rng_next(s) >> 11) * 0x1p-52 - 1.0);
}

/* A vector buffer: GUARD NaNs, room for MAX_DIM + 3 floats, GUARD more. */
typedef struct vbuf {
    float *mem;
    size_t len;
} vbuf;

static vbuf vbuf_new(void)
{
    vbuf b;
    b.len = GUARD + MAX_DIM + 3 + GUARD;
    b.mem = aligned_alloc(64, ((b.len * sizeof(float) + 63) / 64) * 64);
    ck_assert_ptr_nonnull(b.mem);
    for (size_t i = 0; i < b.len; i++)
        b.mem[i] = NAN;
    return b;
}

/* The vector at offset off (0..3 floats past a 64-byte boundary). */
static float *vbuf_at(vbuf *b, size_t off)
{
    return b->mem + GUARD + off;
}

/* Sets everything outside [off, off + n) to NaN again. */
static void vbuf_guard(vbuf *b, size_t off, size_t n)
{
    float *v = vbuf_at(b, off);
    for (float *p = b->mem; p < v; p++)
        *p = NAN;
    for (float *p = v + n; p < v + n + GUARD; p++)
        *p = NAN;
}

/* True when the GUARD floats on each side of [off, off + n) are NaN. */
static bool vbuf_guard_intact(vbuf *b, size_t off, size_t n)
{
    float *v = vbuf_at(b, off);
    for (size_t i = 1; i <= GUARD; i++) {
        if (!isnan(v[-(ptrdiff_t)i]) || !isnan(v[n + i - 1]))
            return false;
    }
    return true;
}

typedef enum kernel_id { K_DOT, K_L2SQ, K_L1, K_COUNT } kernel_id;
static const char *const kernel_names[K_COUNT] = {"dot", "l2sq", "l1"};

static float run_kernel(const qvi_kernels *k, kernel_id id, const float *a,
                        const float *b, size_t n)
{
    switch (id) {
    case K_DOT:
        return k->dot(a, b, n);
    case K_L2SQ:
        return k->l2sq(a, b, n);
    case K_L1:
        return k->l1(a, b, n);
    case K_COUNT:
        break;
    }
    ck_abort_msg("bad kernel id %d", (int)id);
    return NAN;
}

/* The oracle: the exact value to double precision, and sum |terms|. */
static double oracle(kernel_id id, const float *a, const float *b, size_t n,
                     double *abs_sum)
{
    double s = 0.0, as = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i], t;
        if (id == K_DOT)
            t = x * y;
        else if (id == K_L2SQ)
            t = (x - y) * (x - y);
        else
            t = fabs(x - y);
        s += t;
        as += fabs(t);
    }
    *abs_sum = as;
    return s;
}

/* Worst-case float summation error of any level, relative to sum|terms|. */
static double sum_bound(size_t n)
{
    return ((double)n / 4.0 + 16.0) * FLT_EPSILON;
}

static const qvi_kernels *scalar_kernels(void)
{
    const qvi_kernels *s = qvi_simd_level_kernels(QVI_SIMD_SCALAR);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Offsets of a and b: every offset 0..3 for each, never both equal but
 * once, so the two pointers' misalignments differ. */
static const size_t offsets[][2] = {{0, 0}, {1, 2}, {2, 3}, {3, 1}};
#define N_OFFSETS (sizeof(offsets) / sizeof(offsets[0]))

/* The lengths tested: 1..MAX_SMALL_DIM then big_dims. */
#define N_DIMS (MAX_SMALL_DIM + N_BIG)
static size_t dim_at(size_t i)
{
    return i < MAX_SMALL_DIM ? i + 1 : big_dims[i - MAX_SMALL_DIM];
}

typedef enum data_kind { DATA_EXACT, DATA_REAL } data_kind;

static void fill(float *v, size_t n, data_kind kind, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        if (kind == DATA_EXACT) {
            v[i] = (float)((int)(rng_next(rng) % 15) - 7);
        } else {
            /* Magnitudes over 2^-4..2^4, so terms differ in size and
             * rounding errors are not all alike. */
            int e = (int)(rng_next(rng) % 9) - 4;
            v[i] = ldexpf(rng_unit(rng), e);
        }
    }
}

/* ---- kernel comparisons ---------------------------------------------------
 */

/* Compares one level on one kind of data over every length and offset;
 * returns the number of comparisons made. */
static size_t compare_level(const qvi_kernels *k, data_kind kind)
{
    const qvi_kernels *ref = scalar_kernels();
    vbuf ba = vbuf_new(), bb = vbuf_new();
    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)kind;
    size_t cases = 0;

    for (size_t di = 0; di < N_DIMS; di++) {
        size_t n = dim_at(di);
        for (size_t oi = 0; oi < N_OFFSETS; oi++) {
            size_t oa = offsets[oi][0], ob = offsets[oi][1];
            float *a = vbuf_at(&ba, oa), *b = vbuf_at(&bb, ob);
            vbuf_guard(&ba, oa, n);
            vbuf_guard(&bb, ob, n);
            fill(a, n, kind, &rng);
            fill(b, n, kind, &rng);
            for (int id = 0; id < K_COUNT; id++) {
                double abs_sum;
                double want = oracle(id, a, b, n, &abs_sum);
                float got = run_kernel(k, id, a, b, n);
                float sref = run_kernel(ref, id, a, b, n);
                cases++;
                if (kind == DATA_EXACT) {
                    if ((double)got != want || sref != got)
                        ck_abort_msg("%s %s n=%zu offsets %zu,%zu exact data: "
                                     "got %.9g, scalar %.9g, exact %.17g",
                                     k->name, kernel_names[id], n, oa, ob, got,
                                     sref, want);
                    continue;
                }
                double tol = sum_bound(n) * abs_sum;
                if (!(fabs((double)got - want) <= tol) ||
                    !(fabs((double)got - (double)sref) <= 2.0 * tol))
                    ck_abort_msg("%s %s n=%zu offsets %zu,%zu: got %.9g, "
                                 "scalar %.9g, oracle %.17g, tolerance %.3g",
                                 k->name, kernel_names[id], n, oa, ob, got,
                                 sref, want, tol);
            }
        }
    }
    free(ba.mem);
    free(bb.mem);
    return cases;
}

/* Loop test over the levels: _i is a qvi_simd_level. */
START_TEST(test_kernels_match_reference)
{
    const qvi_kernels *k = qvi_simd_level_kernels((qvi_simd_level)_i);
    if (!k) {
        printf("test_simd: %-6s not runnable here, skipped\n", level_names[_i]);
        fflush(stdout);
        return;
    }
    ck_assert_int_eq(k->level, _i);
    size_t exact = compare_level(k, DATA_EXACT);
    size_t real = compare_level(k, DATA_REAL);
    ck_assert_uint_eq(exact, (size_t)N_DIMS * N_OFFSETS * K_COUNT);
    ck_assert_uint_eq(real, exact);
    printf("test_simd: %-6s dot, l2sq, l1 match the scalar reference and "
           "the oracle: n = 1..%d, 2048, 4096, 65536, 65543, 4 offset "
           "pairs, %zu comparisons\n",
           k->name, MAX_SMALL_DIM, exact + real);
    fflush(stdout);
}
END_TEST

/* n = 0 gives exactly 0 and reads nothing (the pointers face NaNs). */
START_TEST(test_kernels_empty)
{
    const qvi_kernels *k = qvi_simd_level_kernels((qvi_simd_level)_i);
    if (!k)
        return;
    vbuf b = vbuf_new();
    float *p = vbuf_at(&b, 1);
    for (int id = 0; id < K_COUNT; id++) {
        float r = run_kernel(k, id, p, p, 0);
        ck_assert_msg(r == 0.0f, "%s %s(n=0) = %g", k->name, kernel_names[id],
                      r);
    }
    ck_assert_float_eq(k->normalize(p, 0), 0.0f);
    ck_assert(vbuf_guard_intact(&b, 1, 0));
    free(b.mem);
}
END_TEST

/* ---- normalisation --------------------------------------------------------
 */

static double norm_double(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

/* Checks that v (normalised from x) has unit norm and is x / |x|, that ret
 * is |x|, that nothing is NaN, and that the guards are intact. */
static void check_normalized(const qvi_kernels *k, const char *what,
                             const float *x, vbuf *b, size_t off, size_t n,
                             float ret)
{
    const float *v = vbuf_at(b, off);
    double want_norm = norm_double(x, n);
    double bound = sum_bound(n);
    if (!vbuf_guard_intact(b, off, n))
        ck_abort_msg("%s normalize %s n=%zu wrote outside the vector", k->name,
                     what, n);
    double got_norm = norm_double(v, n);
    if (!(fabs(got_norm - 1.0) <= bound))
        ck_abort_msg("%s normalize %s n=%zu: norm after = %.9g", k->name, what,
                     n, got_norm);
    if (isfinite(want_norm) && want_norm <= FLT_MAX &&
        !(fabs((double)ret - want_norm) <= bound * want_norm))
        ck_abort_msg("%s normalize %s n=%zu: returned %.9g, norm %.17g",
                     k->name, what, n, ret, want_norm);
    for (size_t i = 0; i < n; i++) {
        double w = (double)x[i] / want_norm;
        if (isnan(v[i]) || !(fabs((double)v[i] - w) <= bound * fabs(w)))
            ck_abort_msg("%s normalize %s n=%zu: v[%zu] = %.9g, want %.9g",
                         k->name, what, n, i, v[i], w);
    }
}

/* Checks that v was left as all zeros and 0 returned. */
static void check_zeroed(const qvi_kernels *k, const char *what, vbuf *b,
                         size_t off, size_t n, float ret)
{
    const float *v = vbuf_at(b, off);
    if (ret != 0.0f)
        ck_abort_msg("%s normalize %s n=%zu returned %g, want 0", k->name, what,
                     n, ret);
    if (!vbuf_guard_intact(b, off, n))
        ck_abort_msg("%s normalize %s n=%zu wrote outside the vector", k->name,
                     what, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0.0f)
            ck_abort_msg("%s normalize %s n=%zu: v[%zu] = %g, want 0", k->name,
                         what, n, i, v[i]);
    }
}

/* Fills b at off with n copies of value (and position pos gets special
 * instead, unless pos >= n), guards around it, copies it to x. */
static void set_vector(vbuf *b, size_t off, size_t n, float value, size_t pos,
                       float special, float *x)
{
    float *v = vbuf_at(b, off);
    vbuf_guard(b, off, n);
    for (size_t i = 0; i < n; i++)
        v[i] = i == pos ? special : value;
    memcpy(x, v, n * sizeof(float));
}

START_TEST(test_normalize)
{
    const qvi_kernels *k = qvi_simd_level_kernels((qvi_simd_level)_i);
    if (!k)
        return;
    vbuf b = vbuf_new();
    float *x = malloc((MAX_DIM + 3) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    uint64_t rng = 0x5155495645ULL;
    size_t checked = 0;

    for (size_t di = 0; di < N_DIMS; di++) {
        size_t n = dim_at(di), off = di % 4;
        float *v = vbuf_at(&b, off);

        /* Random data. */
        vbuf_guard(&b, off, n);
        fill(v, n, DATA_REAL, &rng);
        memcpy(x, v, n * sizeof(float));
        float ret = k->normalize(v, n);
        check_normalized(k, "random", x, &b, off, n, ret);

        /* One non-zero component, a power of two, at the last position
         * (the tail of every level): exact result and return value. */
        set_vector(&b, off, n, 0.0f, n - 1, -8.0f, x);
        ret = k->normalize(v, n);
        if (ret != 8.0f || v[n - 1] != -1.0f)
            ck_abort_msg("%s normalize one-hot n=%zu: returned %g, "
                         "v[n-1] = %g",
                         k->name, n, ret, v[n - 1]);
        check_normalized(k, "one-hot", x, &b, off, n, ret);

        /* Zero, negative zero and subnormal vectors stay zero. */
        set_vector(&b, off, n, 0.0f, n, 0.0f, x);
        check_zeroed(k, "zero", &b, off, n, k->normalize(v, n));
        set_vector(&b, off, n, -0.0f, n, 0.0f, x);
        check_zeroed(k, "-zero", &b, off, n, k->normalize(v, n));
        set_vector(&b, off, n, 0x1p-149f, n, 0.0f, x);
        check_zeroed(k, "subnormal", &b, off, n, k->normalize(v, n));

        /* One NaN or infinity anywhere: zeros, never NaN. */
        set_vector(&b, off, n, 0.5f, n / 2, NAN, x);
        check_zeroed(k, "NaN", &b, off, n, k->normalize(v, n));
        set_vector(&b, off, n, 0.5f, n - 1, -INFINITY, x);
        check_zeroed(k, "-inf", &b, off, n, k->normalize(v, n));

        /* Squares that overflow or underflow in float: the slow path
         * still gives a unit vector. */
        set_vector(&b, off, n, 1e30f, n / 3, -3e30f, x);
        check_normalized(k, "huge", x, &b, off, n, k->normalize(v, n));
        set_vector(&b, off, n, FLT_MAX, n, 0.0f, x);
        ret = k->normalize(v, n);
        check_normalized(k, "FLT_MAX", x, &b, off, n, ret);
        if (n > 1 && ret != INFINITY)
            ck_abort_msg("%s normalize FLT_MAX n=%zu returned %g, want inf",
                         k->name, n, ret);
        set_vector(&b, off, n, 1e-25f, n / 3, 3e-25f, x);
        check_normalized(k, "tiny", x, &b, off, n, k->normalize(v, n));
        checked++;
    }

    /* n = 4^j copies of 2^-3: exact norm and result, all powers of two. */
    for (size_t n = 1; n <= 65536; n *= 4) {
        float *v = vbuf_at(&b, 3);
        set_vector(&b, 3, n, 0.125f, n, 0.0f, x);
        float ret = k->normalize(v, n);
        float want = 1.0f / sqrtf((float)n);
        for (size_t i = 0; i < n; i++) {
            if (v[i] != want)
                ck_abort_msg("%s normalize constant n=%zu: v[%zu] = %.9g, "
                             "want %.9g",
                             k->name, n, i, v[i], want);
        }
        ck_assert_float_eq(ret, 0.125f * sqrtf((float)n));
    }
    ck_assert_uint_eq(checked, N_DIMS);
    printf("test_simd: %-6s normalize: unit norm, zero/subnormal/NaN/inf "
           "inputs stay zero, huge/tiny rescaled, %zu lengths\n",
           k->name, checked);
    fflush(stdout);
    free(x);
    free(b.mem);
}
END_TEST

/* ---- dispatch -------------------------------------------------------------
 */

/* The level qvi_simd() must choose with no (or a useless) QUIVER_SIMD. */
static qvi_simd_level best_level(void)
{
    static const qvi_simd_level preference[] = {QVI_SIMD_AVX512, QVI_SIMD_AVX2,
                                                QVI_SIMD_NEON, QVI_SIMD_SCALAR};
    for (size_t i = 0; i < 4; i++) {
        if (qvi_simd_level_kernels(preference[i]))
            return preference[i];
    }
    ck_abort_msg("no level runnable, not even scalar");
    return QVI_SIMD_SCALAR;
}

START_TEST(test_level_tables)
{
    char want[64] = "";
    for (int lv = 0; lv < QVI_SIMD_LEVEL_COUNT; lv++) {
        const qvi_kernels *k = qvi_simd_level_kernels((qvi_simd_level)lv);
        if (!k)
            continue;
        ck_assert_int_eq(k->level, lv);
        ck_assert_str_eq(k->name, level_names[lv]);
        ck_assert(k->dot && k->l2sq && k->l1 && k->normalize);
        if (want[0])
            strcat(want, ",");
        strcat(want, k->name);
    }
    ck_assert_str_eq(qvi_simd_available(), want);
    ck_assert_ptr_nonnull(qvi_simd_level_kernels(QVI_SIMD_SCALAR));
    ck_assert_ptr_null(qvi_simd_level_kernels(QVI_SIMD_LEVEL_COUNT));
    ck_assert_ptr_null(qvi_simd_level_kernels((qvi_simd_level)-1));

#if defined(__x86_64__)
    /* GCC's runtime also checks XCR0 before reporting AVX2 / AVX-512. */
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
    ck_assert_int_eq(qvi_simd_level_kernels(QVI_SIMD_AVX2) != NULL, avx2);
    ck_assert_int_eq(qvi_simd_level_kernels(QVI_SIMD_AVX512) != NULL, avx512);
    ck_assert_ptr_null(qvi_simd_level_kernels(QVI_SIMD_NEON));
#elif defined(__aarch64__)
    ck_assert_ptr_nonnull(qvi_simd_level_kernels(QVI_SIMD_NEON));
    ck_assert_ptr_null(qvi_simd_level_kernels(QVI_SIMD_AVX2));
    ck_assert_ptr_null(qvi_simd_level_kernels(QVI_SIMD_AVX512));
#endif

    const char *expect = getenv("QUIVER_TEST_EXPECT_SIMD");
    if (expect && *expect)
        ck_assert_str_eq(qvi_simd_available(), expect);
}
END_TEST

/*
 * Runs qvi_simd() for the first time in a forked child with QUIVER_SIMD set
 * to value (unset if NULL).  The child's stdout and stderr go to a pipe,
 * whose contents land in printed (cap bytes); returns the level chosen, or
 * -1 if the table returned is not the one qvi_simd_level_kernels gives for
 * its level.
 */
static int choose_in_child(const char *value, char *printed, size_t cap)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL); /* nothing buffered may be flushed twice */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (value)
            setenv("QUIVER_SIMD", value, 1);
        else
            unsetenv("QUIVER_SIMD");
        const qvi_kernels *k = qvi_simd();
        int code = 100;
        if (k && qvi_simd_level_kernels(k->level) == k && qvi_simd() == k)
            code = (int)k->level;
        fflush(NULL);
        _exit(code);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], printed + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    printed[len] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    return code == 100 ? -1 : code;
}

START_TEST(test_env_override)
{
    static const struct {
        const char *value;
        int level; /* -1: the best level */
    } cases[] = {
        {NULL, -1},
        {"scalar", QVI_SIMD_SCALAR},
        {"avx2", QVI_SIMD_AVX2},
        {"avx512", QVI_SIMD_AVX512},
        {"neon", QVI_SIMD_NEON},
        {"AVX2", QVI_SIMD_AVX2},
        {"Scalar", QVI_SIMD_SCALAR},
        {"", -1},
        {"sse4", -1},
        {"avx2 ", -1},
        {"scalarx", -1},
    };
    qvi_simd_level best = best_level();
    char report[256] = "";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int want = cases[i].level;
        if (want < 0 || !qvi_simd_level_kernels((qvi_simd_level)want))
            want = (int)best; /* unknown or not runnable: the best */
        char printed[512];
        int got = choose_in_child(cases[i].value, printed, sizeof(printed));
        ck_assert_msg(got == want, "QUIVER_SIMD=%s chose %d, want %d",
                      cases[i].value ? cases[i].value : "(unset)", got, want);
        ck_assert_msg(printed[0] == '\0', "QUIVER_SIMD=%s printed \"%s\"",
                      cases[i].value ? cases[i].value : "(unset)", printed);
        if (cases[i].value && i < 5) {
            size_t len = strlen(report);
            snprintf(report + len, sizeof(report) - len, " %s->%s",
                     cases[i].value, level_names[got]);
        }
    }
    printf("test_simd: QUIVER_SIMD override (default %s):%s\n",
           level_names[best], report);
    fflush(stdout);
}
END_TEST

/* The first qvi_simd() calls of a process, made by several threads at
 * once (in a forked child, so they are the first), all get the same
 * table: the one for the best level. */
#define RACE_THREADS 8
static pthread_barrier_t race_barrier;

static void *race_thread(void *out)
{
    pthread_barrier_wait(&race_barrier);
    *(const qvi_kernels **)out = qvi_simd();
    return NULL;
}

START_TEST(test_first_call_concurrent)
{
    const qvi_kernels *best = qvi_simd_level_kernels(best_level());
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsetenv("QUIVER_SIMD");
        pthread_t th[RACE_THREADS];
        const qvi_kernels *got[RACE_THREADS];
        int code = 0;
        pthread_barrier_init(&race_barrier, NULL, RACE_THREADS);
        for (int i = 0; i < RACE_THREADS; i++) {
            if (pthread_create(&th[i], NULL, race_thread, &got[i]) != 0)
                _exit(2);
        }
        for (int i = 0; i < RACE_THREADS; i++) {
            pthread_join(th[i], NULL);
            if (got[i] != best)
                code = 1;
        }
        _exit(code);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_msg(WEXITSTATUS(status) == 0,
                  "concurrent first calls: child exit status %d",
                  WEXITSTATUS(status));
}
END_TEST

/* In this process (after the forked children above): qvi_simd() is
 * stable and is one of the runnable tables. */
START_TEST(test_simd_stable)
{
    const qvi_kernels *k = qvi_simd();
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_eq(qvi_simd_level_kernels(k->level), k);
    ck_assert_ptr_eq(qvi_simd(), k);
}
END_TEST

static Suite *simd_suite(void)
{
    Suite *s = suite_create("simd");

    /* First: nothing may call qvi_simd() in this process before it. */
    TCase *tc = tcase_create("dispatch");
    tcase_add_test(tc, test_level_tables);
    tcase_add_test(tc, test_env_override);
    tcase_add_test(tc, test_first_call_concurrent);
    tcase_add_test(tc, test_simd_stable);
    suite_add_tcase(s, tc);

    /* Under qemu-user or sanitizers the comparisons take a while. */
    tc = tcase_create("kernels");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_kernels_empty, 0, QVI_SIMD_LEVEL_COUNT);
    tcase_add_loop_test(tc, test_kernels_match_reference, 0,
                        QVI_SIMD_LEVEL_COUNT);
    tcase_add_loop_test(tc, test_normalize, 0, QVI_SIMD_LEVEL_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    printf("test_simd: levels this CPU can run: %s\n", qvi_simd_available());
    fflush(stdout);
    SRunner *sr = srunner_create(simd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
