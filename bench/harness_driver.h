/*
 * harness_driver.h -- what every engine driver of `quiver bench` shares.
 *
 * A driver is a small executable that wraps one engine (driver_quiver.c,
 * driver_hnswlib.cpp, driver_faiss.cpp).  It supplies four callbacks
 * (build, set_ef, search, destroy) and hands them to qvb_drv_main, which
 * does the rest the same way for every engine: it reads the files the
 * harness wrote, measures memory and time, runs the ef sweep and prints
 * the results.  Keeping the loop here means the engines are timed by the
 * same code, around the same calls, with the same clock.
 *
 * Command line (written by the harness, not meant for people):
 *   DRIVER --base F.fvecs --queries F.fvecs --metric l2|cosine|ip
 *          --m M --ef-construct E --ef 16,32,... --k K --threads T
 *          --reps R --ids-prefix PATH [--no-single-thread-build]
 *          [--variant V]
 * --variant picks one configuration of the engine, named after the engine
 * as `engine-variant` in the results (quiver: none, int8, binary; faiss:
 * flat, sq8); drivers without variants refuse any but none.
 *
 * What happens, in order:
 *   1. load base and queries (the same bytes for every engine: cosine data
 *      is already unit length, so the peers rank it by inner product);
 *   2. read VmRSS and VmHWM from /proc/self/status, build with T threads,
 *      read them again: the growth of VmRSS is the index's resident memory
 *      (graph and its copy of the vectors), the growth of VmHWM the peak;
 *   3. for each ef: R timed passes over all queries, one query at a time on
 *      this one thread; the pass's QPS is nq / its wall time, the reported
 *      QPS the median pass; p50/p99 are over the nq * R single-query
 *      latencies; the ids of the first pass go to PATH<ef>.ivecs;
 *   4. free the index and, when T > 1, build again with one thread, timed.
 *
 * Output: one record per line on stdout, a word then `key=value` fields
 * with no spaces inside values:
 *   engine name=hnswlib version=0.6.2-avx512
 *   build threads=2 seconds=1.234 rss_before_kb=1 rss_after_kb=2
 *         hwm_before_kb=3 hwm_after_kb=4          (one line)
 *   search ef=16 qps=1234.5 p50_us=700.1 p99_us=1500.2 ids=PATH16.ivecs
 *   build threads=1 seconds=2.345 rss_before_kb=... (the second build)
 *   memory touched_bytes=N   (after the first build: the bytes of vectors or
 *                            codes a search reads, n times the bytes of one)
 *   end
 * On failure: `error msg=<text to the end of the line>` and exit status 1.
 */
#ifndef QUIVER_BENCH_HARNESS_DRIVER_H
#define QUIVER_BENCH_HARNESS_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Metric as the drivers see it (same values as qvb_metric). */
enum { QVB_DRV_L2 = 0, QVB_DRV_COSINE = 1, QVB_DRV_IP = 2 };

typedef struct qvb_drv_config {
    uint32_t dim;
    int metric; /* a QVB_DRV_* value */
    uint32_t m; /* HNSW links per node (2*m on layer 0) */
    uint32_t ef_construct;
    uint32_t k;
    const char *variant; /* --variant, or "none" */
} qvb_drv_config;

/* One engine.  Callbacks return 0 on success; on failure they write a
 * message to err (cap bytes) and return -1.  C++ drivers catch their
 * exceptions inside the callbacks: none may cross into C. */
typedef struct qvb_drv_ops {
    const char *name;    /* "quiver", "hnswlib", "faiss" */
    const char *version; /* no spaces */
    /* Builds an index of n vectors (ids 0..n-1) with `threads` threads. */
    int (*build)(const qvb_drv_config *cfg, const float *base, size_t n,
                 unsigned threads, void **index, char *err, size_t cap);
    /* Sets the search beam width for the following searches. */
    int (*set_ef)(void *index, unsigned ef, char *err, size_t cap);
    /* Top-k ids of one query, best first, -1 where fewer than k were
     * found.  Called on one thread; must not allocate more than it frees
     * over a pass, as the QPS loop calls it back to back. */
    int (*search)(void *index, const float *query, uint32_t k, int32_t *ids,
                  char *err, size_t cap);
    void (*destroy)(void *index);
    /* Optional: bytes per point of what a search reads to compute
     * distances (the vectors, or their codes); NULL: dim floats. */
    size_t (*point_bytes)(void *index);
    /* Variants this driver accepts (NULL: only "none"). */
    const char *const *variants;
} qvb_drv_ops;

/* The whole driver: parses argv, runs the steps above, prints the records.
 * Returns the process exit status (0, 1 on failure, 2 on a usage error). */
int qvb_drv_main(int argc, char **argv, const qvb_drv_ops *ops);

/* VmRSS and VmHWM of this process in KiB, from /proc/self/status (-1 when
 * unreadable). */
void qvb_drv_memory(long *rss_kb, long *hwm_kb);

/* Monotonic clock in seconds. */
double qvb_drv_now(void);

/* Nearest-rank percentile p (0..100) of v[0..n), sorting v in place; NaN
 * for n = 0.  qvb_drv_median: the middle value (mean of the two middle
 * ones for even n). */
double qvb_drv_percentile(double *v, size_t n, double p);
double qvb_drv_median(double *v, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* QUIVER_BENCH_HARNESS_DRIVER_H */
