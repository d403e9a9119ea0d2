/*
 * harness.h -- the benchmark harness behind `quiver bench` (bench/).
 *
 * The harness compares Quiver with hnswlib and faiss on the same data.  It
 * runs in the `quiver` process and does everything but build and search an
 * index: it loads or generates the data, computes the exact ground truth,
 * writes the vectors once to files, then runs one driver executable per
 * engine (bench/driver_*.c, *.cpp), one after the other and never two at a
 * time, so that each engine's resident memory is measured alone in its own
 * process.  A driver builds the index, runs the ef sweep on one thread and
 * prints `key=value` lines (the protocol is in harness_driver.h); it writes
 * the ids it found to a file, and the harness scores them, so recall is
 * computed in one place for every engine.
 *
 * This header is internal: qvb_main is what cli/main.c calls; the rest is
 * here so that tests/test_harness.c can test each part (the readers, the
 * synthetic generator, recall, the CSV contract, the interpolation, the
 * chart) without running a benchmark.
 *
 * Conventions: functions that can fail return 0 on success and -1 on
 * failure, with a one-line message in a caller-provided qvb_err.  Whatever
 * a failed call allocated is freed before it returns.
 */
#ifndef QUIVER_BENCH_HARNESS_H
#define QUIVER_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The `quiver bench` subcommand; argv[0] is "bench".  Returns the process
 * exit code: 0 when every requested engine ran, 1 when the work failed or
 * an engine could not run, 2 for a usage error. */
int qvb_main(int argc, char **argv);

/* ---- errors ---------------------------------------------------------------
 */

typedef struct qvb_err {
    char msg[512];
} qvb_err;

/* Formats the message into err (if not NULL) and returns -1. */
int qvb_fail(qvb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- metrics --------------------------------------------------------------
 */

/* The harness keeps its own metric names: they are the drivers' protocol
 * and the CSV's `metric` column, and must not move with the library. */
typedef enum qvb_metric {
    QVB_METRIC_L2 = 0,     /* Euclidean distance, lower is better */
    QVB_METRIC_COSINE = 1, /* data written unit-normalised, scored by dot */
    QVB_METRIC_IP = 2      /* inner product, higher is better */
} qvb_metric;

/* "l2", "cosine" or "ip"; NULL for an unknown value. */
const char *qvb_metric_name(qvb_metric m);

/* Accepts l2, euclid, euclidean, cos, cosine, angular, ip, dot.  Returns 0
 * or -1. */
int qvb_metric_parse(const char *text, qvb_metric *out);

/* ---- data sets ------------------------------------------------------------
 */

typedef struct qvb_dataset {
    char name[128]; /* the CSV's `dataset`: "synthetic-128-l2", a file's
                       base name, ... */
    qvb_metric metric;
    uint32_t dim;
    size_t n;       /* base vectors */
    size_t nq;      /* queries */
    float *base;    /* n * dim, row-major, malloc'd */
    float *queries; /* nq * dim, malloc'd */
    uint32_t gt_k;  /* columns of gt; 0 when there is no ground truth */
    int32_t *gt;    /* nq * gt_k ids into base, best first, or NULL */
} qvb_dataset;

/* Frees the arrays and zeroes *d.  NULL and a zeroed dataset are fine. */
void qvb_dataset_free(qvb_dataset *d);

/* Keeps the first n base vectors and the first nq queries (0 = all).  The
 * ground truth is dropped when the base shrinks (it names points that may
 * be gone) and trimmed to the kept queries otherwise. */
void qvb_dataset_truncate(qvb_dataset *d, size_t n, size_t nq);

/* Scales every base vector and query to unit length (zero vectors stay
 * zero).  Done for cosine before anything is written, so that every engine
 * sees the same bytes and ranks by dot product. */
void qvb_dataset_normalize(qvb_dataset *d);

/* The synthetic sets: a mixture of QVB_SYNTH_CLUSTERS Gaussian clusters in
 * dim dimensions.  Centres are drawn from N(0, 1) per component; a point
 * picks a cluster uniformly and adds noise whose scale decays along the
 * components (sigma_j = QVB_SYNTH_SPREAD * (1 + j)^-QVB_SYNTH_DECAY, scaled
 * so that the total variance is QVB_SYNTH_SPREAD^2 * dim): more variance in
 * the leading components than the trailing ones, as with real embeddings.
 * The constants were chosen so that at 100,000 points, M = 16 and
 * ef_construct = 100, hnswlib's recall@10 runs from about 0.8 at ef = 16 to
 * 0.998+ at ef = 256, for both 128-d l2 and 768-d cosine: recall 0.95
 * falls inside the default sweep, where QPS can be interpolated.  Base points
 * and queries come from two independent streams of the same seed, so queries
 * are fresh samples of the same mixture and never copies of base points, and
 * the first n base points do not depend on nq or on a larger n.  The generator
 * is xoshiro256** seeded by splitmix64 with normals from the polar method:
 * the same arguments give the same bytes on every run. */
#define QVB_SYNTH_CLUSTERS 100u
#define QVB_SYNTH_SPREAD   0.6
#define QVB_SYNTH_DECAY    0.25
#define QVB_DEFAULT_SEED   42u

/* Parses a synthetic set name, "synthetic-<dim>-<metric>" (the documented
 * ones are synthetic-128-l2 and synthetic-768-cos).  Returns 1 and fills
 * *dim and *metric for such a name, 0 for anything else (a file name). */
int qvb_synthetic_parse(const char *name, uint32_t *dim, qvb_metric *metric);

/* Generates n base vectors and nq queries into *out (name set to
 * synthetic-<dim>-<l2|cos|ip>, no ground truth; cosine data is returned
 * normalised).  Returns 0 or -1 (allocation). */
int qvb_synthetic(uint32_t dim, qvb_metric metric, size_t n, size_t nq,
                  uint64_t seed, qvb_dataset *out, qvb_err *err);

/* Where the queries and ground truth come from when loading a file. */
typedef struct qvb_load_options {
    const char *query_path; /* queries file, or NULL (see qvb_load) */
    const char *gt_path;    /* ground truth .ivecs/.npy, or NULL */
    int metric_set;         /* metric given by the user */
    qvb_metric metric;      /* used when metric_set */
    size_t holdout;         /* queries to take from the base file's tail
                               when there is no query file */
} qvb_load_options;

/* Loads a data set from path by its extension:
 *  - .hdf5/.h5: the ann-benchmarks layout, datasets `train`, `test` and
 *    optionally `neighbors` (and `distances`, unused); the metric comes
 *    from the file's `distance` attribute (euclidean, angular, ip) unless
 *    the user set one.
 *  - .fvecs, .bvecs (TEXMEX, bytes widened to floats), .npy (float32,
 *    float64, uint8, 2-D, C order): the base vectors.  Queries come from
 *    opt->query_path, else from a sibling file when path ends in
 *    _base.<ext> (X_query.<ext>, ground truth X_groundtruth.ivecs), else
 *    the last opt->holdout vectors are taken out of the base as queries.
 * Returns 0 or -1 with the reason in err. */
int qvb_load(const char *path, const qvb_load_options *opt, qvb_dataset *out,
             qvb_err *err);

/* Reads an ann-benchmarks HDF5 file.  Returns 0, or -1 when the file cannot
 * be read, lacks train/test, or this build has no HDF5 support. */
int qvb_read_hdf5(const char *path, qvb_dataset *out, int *metric_found,
                  qvb_err *err);

/* 1 when this build can read HDF5 files. */
int qvb_have_hdf5(void);

/* Writes rows x dim floats as .fvecs / rows x cols int32 as .ivecs.
 * Returns 0 or -1. */
int qvb_write_fvecs(const char *path, const float *v, size_t rows, uint32_t dim,
                    qvb_err *err);
int qvb_write_ivecs(const char *path, const int32_t *v, size_t rows,
                    uint32_t cols, qvb_err *err);

/* Reads an .ivecs file of rows with the same width into a malloc'd array.
 * Returns 0 or -1. */
int qvb_read_ivecs(const char *path, int32_t **out, size_t *rows,
                   uint32_t *cols, qvb_err *err);

/* ---- ground truth and recall ----------------------------------------------
 */

/* Exact top-k of each query by blocked BLAS products (sgemm of a block of
 * queries against a block of base vectors, then a k-heap per query); ties
 * go to the lower id.  For l2 the ranking uses |x|^2 - 2 q.x, for cosine
 * (normalised data) and ip the dot product.  k <= n.  out: nq * k ids,
 * best first.  Uses OpenBLAS's threads.  Returns 0 or -1 (allocation). */
int qvb_ground_truth(const float *base, size_t n, const float *queries,
                     size_t nq, uint32_t dim, qvb_metric metric, uint32_t k,
                     int32_t *out, qvb_err *err);

/* Mean recall@k: for each query the fraction of the first k ids of gt
 * (rows of gt_stride ids) found among the first k of found (rows of k ids,
 * -1 for a missing hit), averaged over nq queries.  k <= gt_stride.  A
 * found id counted once even if repeated.  nq = 0 gives 0. */
double qvb_recall(const int32_t *found, const int32_t *gt, size_t nq,
                  uint32_t k, uint32_t gt_stride);

/* ---- results --------------------------------------------------------------
 */

/* One row of results.csv: one engine at one ef. */
typedef struct qvb_row {
    char engine[32];
    char dataset[128];
    size_t n;
    uint32_t dim;
    qvb_metric metric;
    uint32_t m, ef_construct, ef, k;
    double recall; /* recall@k, 0..1 */
    double qps;    /* median over the query passes, one thread */
    double p50_us; /* latency percentiles over all passes */
    double p99_us;
    double build_s; /* wall time of the build with build_threads */
    uint32_t build_threads;
    double index_mb;   /* VmRSS growth across that build, MiB */
    double touched_mb; /* vectors or codes a search reads, MiB */
} qvb_row;

/* The CSV header, exactly; scripts rely on it (bench/README.md). */
extern const char qvb_csv_header[];

/* Writes the header line and one line per row.  Returns 0 or -1. */
int qvb_write_csv(FILE *f, const qvb_row *rows, size_t n_rows);

/* What the harness knows of one engine after its run. */
typedef struct qvb_engine_result {
    char engine[32];
    char version[64];
    int ok;            /* the driver ran and reported every ef */
    char failure[512]; /* why not, when !ok */
    double build_s;    /* build with `threads` threads */
    double build_s_1;  /* build with one thread (NaN if not measured) */
    uint32_t threads;
    double index_mb;          /* VmRSS growth across the build */
    double touched_mb;        /* vectors or codes searches read, MiB */
    double build_peak_mb;     /* VmHWM growth across the build */
    double qps_at_target;     /* interpolated, NaN when out of reach */
    int target_flag;          /* a QVB_INTERP_* value */
    size_t first_row, n_rows; /* its rows in the run's row array */
} qvb_engine_result;

/* How qvb_qps_at_recall found its answer. */
enum {
    QVB_INTERP_OK = 0,    /* between two measured points */
    QVB_INTERP_EXACT = 1, /* a point has exactly the target recall */
    QVB_INTERP_ABOVE = 2, /* every point is above the target: the best QPS
                             measured, a lower bound */
    QVB_INTERP_BELOW = 3  /* no point reaches the target: NaN */
};

/* QPS at recall `target` on the Pareto frontier of the points (recall[i],
 * qps[i]) (a point is dropped when another has at least its recall and at
 * least its QPS, one of them strictly).  Between the two frontier points
 * around the target, log(QPS) is interpolated linearly in recall, since
 * QPS falls roughly geometrically as recall rises.  Returns NaN for
 * n = 0 or when no point reaches the target; *flag (if not NULL) gets a
 * QVB_INTERP_* value. */
double qvb_qps_at_recall(const double *recall, const double *qps, size_t n,
                         double target, int *flag);

/* Run description shared by the JSON and the chart. */
typedef struct qvb_run_info {
    const char *dataset;
    size_t n, nq;
    uint32_t dim;
    qvb_metric metric;
    uint32_t m, ef_construct, k, threads, reps;
    uint64_t seed;
    double target_recall;
    const char *cpu; /* model name from /proc/cpuinfo, or "" */
    unsigned cpus;   /* online CPUs */
} qvb_run_info;

/* Writes results.json: the run, every row, each engine's summary and the
 * quiver/peer ratios.  Returns 0 or -1. */
int qvb_write_json(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                   size_t n_rows, const qvb_engine_result *eng, size_t n_eng);

/* The value of field `key` in a driver's output line (harness_driver.h):
 * copies it to out (cap bytes, truncated) and returns 1, or returns 0 when
 * the line has no such field.  The value ends at the next space, except
 * for `msg`, which runs to the end of the line. */
int qvb_driver_field(const char *line, const char *key, char *out, size_t cap);

/* Prints the human table and the ratio lines. */
void qvb_print_report(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                      size_t n_rows, const qvb_engine_result *eng,
                      size_t n_eng);

/* Draws the recall/QPS chart as SVG: recall on x, QPS on a log-scale y,
 * one polyline per engine with a marker per ef, a legend, and a dashed
 * line at the target recall.  Engines with no rows are left out.  Returns
 * 0 or -1. */
int qvb_write_svg(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                  size_t n_rows, const qvb_engine_result *eng, size_t n_eng);

/* ---- the filtered-search sweep (harness_filter.c) -------------------------
 */

/* `quiver bench --filter-sweep`: Quiver alone, filtered search at several
 * selectivities over an integer and a keyword payload key, without and
 * with a payload index (bench/README.md). */
#define QVB_MAX_SELECTIVITIES 16

typedef struct qvb_filter_opts {
    uint32_t m, ef_construct, k, threads, reps;
    uint32_t ef;       /* hnsw_ef of the searches; 0: Quiver's default */
    const double *sel; /* selectivities in (0, 1], multiples of 0.001 */
    size_t n_sel;
    uint64_t seed; /* of the payload buckets */
} qvb_filter_opts;

typedef struct qvb_filter_row {
    char key[16]; /* "integer" or "keyword" */
    int indexed;
    double selectivity;
    size_t matches; /* points the filter matches */
    double recall, qps, p50_us, p99_us;
} qvb_filter_row;

/* Build time and heap size of one payload index. */
typedef struct qvb_filter_index {
    char kind[16];
    double build_ms, mib;
} qvb_filter_index;

/* The CSV header of DIR/filter_sweep.csv. */
extern const char qvb_filter_csv_header[];

/* The payload bucket r (0..999) of base point i: a seeded hash, uniform
 * and unrelated to the point's position. */
uint32_t qvb_filter_bucket(uint64_t seed, size_t i);

/* Builds a collection of d's points with payloads, computes the exact
 * filtered top-k per selectivity (OpenBLAS), and measures filtered search
 * for each key, without and with its index.  *rows (malloc'd, 4 * n_sel)
 * gets the results, built[0..1] the two indexes' costs.  Returns 0 or -1
 * with err. */
int qvb_filter_sweep(const qvb_dataset *d, const qvb_filter_opts *o,
                     qvb_filter_row **rows, size_t *n_rows,
                     qvb_filter_index *built, qvb_err *err);

int qvb_write_filter_csv(FILE *f, const qvb_filter_row *rows, size_t n);

/* The table (Markdown) and the index costs. */
void qvb_print_filter_report(FILE *f, const qvb_dataset *d,
                             const qvb_filter_opts *o,
                             const qvb_filter_row *rows, size_t n,
                             const qvb_filter_index *built);

#endif /* QUIVER_BENCH_HARNESS_H */
