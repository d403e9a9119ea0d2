/*
 * harness_data.c -- the data sets of `quiver bench`: files and synthetic
 * mixtures.
 *
 * Files: .fvecs, .bvecs, .ivecs and .npy go through the project's readers
 * and writers in cli/vecfile.c, so the benchmark accepts exactly what
 * `quiver query` accepts and checks files as strictly; ann-benchmarks HDF5
 * files are read here with the HDF5 C API (when the build found libhdf5:
 * QVB_HAVE_HDF5).  vecfile's arrays are copied into plain malloc'd ones so
 * that a qvb_dataset owns all its arrays the same way.
 *
 * Synthetic sets (see harness.h for the model): everything comes from
 * xoshiro256** streams seeded through splitmix64 from the user's seed,
 * never from the clock or the address space, and normals from Marsaglia's
 * polar method in double precision, rounded to float at the end, so the
 * same arguments give the same bytes.  Centres, base points and queries
 * use three separate streams: queries are fresh draws from the same
 * mixture, and the first n base points are the same whatever n and nq.
 */
#include "harness.h"
#include "vecfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifdef QVB_HAVE_HDF5
#include <hdf5.h>
#endif

int qvb_fail(qvb_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- metrics ----------------------------------------------------------------
 */

const char *qvb_metric_name(qvb_metric m)
{
    switch (m) {
    case QVB_METRIC_L2:
        return "l2";
    case QVB_METRIC_COSINE:
        return "cosine";
    case QVB_METRIC_IP:
        return "ip";
    }
    return NULL;
}

int qvb_metric_parse(const char *text, qvb_metric *out)
{
    static const struct {
        const char *name;
        qvb_metric metric;
    } names[] = {{"l2", QVB_METRIC_L2},         {"euclid", QVB_METRIC_L2},
                 {"euclidean", QVB_METRIC_L2},  {"cos", QVB_METRIC_COSINE},
                 {"cosine", QVB_METRIC_COSINE}, {"angular", QVB_METRIC_COSINE},
                 {"ip", QVB_METRIC_IP},         {"dot", QVB_METRIC_IP}};
    if (!text)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(text, names[i].name)) {
            *out = names[i].metric;
            return 0;
        }
    }
    return -1;
}

/* ---- data set helpers
 * --------------------------------------------------------- */

void qvb_dataset_free(qvb_dataset *d)
{
    if (!d)
        return;
    free(d->base);
    free(d->queries);
    free(d->gt);
    memset(d, 0, sizeof *d);
}

void qvb_dataset_truncate(qvb_dataset *d, size_t n, size_t nq)
{
    if (n && n < d->n) {
        d->n = n;
        free(d->gt);
        d->gt = NULL;
        d->gt_k = 0;
    }
    if (nq && nq < d->nq)
        d->nq = nq;
}

static void normalize_rows(float *v, size_t rows, uint32_t dim)
{
    for (size_t i = 0; i < rows; i++) {
        float *x = v + i * dim;
        double s = 0;
        for (uint32_t j = 0; j < dim; j++)
            s += (double)x[j] * x[j];
        if (s > 0) {
            double inv = 1.0 / sqrt(s);
            for (uint32_t j = 0; j < dim; j++)
                x[j] = (float)(x[j] * inv);
        }
    }
}

void qvb_dataset_normalize(qvb_dataset *d)
{
    normalize_rows(d->base, d->n, d->dim);
    normalize_rows(d->queries, d->nq, d->dim);
}

/* ---- synthetic mixtures -----------------------------------------------------
 */

typedef struct qvb_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} qvb_rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Stream `stream` of seed: distinct streams are unrelated generators. */
static void rng_seed(qvb_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(qvb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_uniform(qvb_rng *r) /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_normal(qvb_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2 * rng_uniform(r) - 1;
        v = 2 * rng_uniform(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double m = sqrt(-2 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

int qvb_synthetic_parse(const char *name, uint32_t *dim, qvb_metric *metric)
{
    static const char prefix[] = "synthetic-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *p = name + sizeof prefix - 1;
    char *end;
    errno = 0;
    unsigned long d = strtoul(p, &end, 10);
    if (errno || end == p || *end != '-' || d < 1 || d > 65536 || *p == '-')
        return 0;
    qvb_metric m;
    if (qvb_metric_parse(end + 1, &m) != 0)
        return 0;
    *dim = (uint32_t)d;
    *metric = m;
    return 1;
}

enum { STREAM_CENTRES = 1, STREAM_BASE = 2, STREAM_QUERIES = 3 };

static void draw_points(float *out, size_t rows, uint32_t dim,
                        const double *centres, const double *sigma, qvb_rng *r)
{
    for (size_t i = 0; i < rows; i++) {
        const double *c = centres + (rng_next(r) % QVB_SYNTH_CLUSTERS) * dim;
        float *x = out + i * dim;
        for (uint32_t j = 0; j < dim; j++)
            x[j] = (float)(c[j] + sigma[j] * rng_normal(r));
    }
}

int qvb_synthetic(uint32_t dim, qvb_metric metric, size_t n, size_t nq,
                  uint64_t seed, qvb_dataset *out, qvb_err *err)
{
    qvb_dataset d = {0};
    double *centres = NULL, *sigma = NULL;
    int rc = -1;
    if (dim == 0 || n == 0) {
        qvb_fail(err, "a synthetic set needs dim > 0 and n > 0");
        goto cleanup;
    }
    if (n > SIZE_MAX / sizeof(float) / dim ||
        nq > SIZE_MAX / sizeof(float) / dim) {
        qvb_fail(err, "synthetic set too large");
        goto cleanup;
    }
    centres = malloc((size_t)QVB_SYNTH_CLUSTERS * dim * sizeof *centres);
    sigma = malloc(dim * sizeof *sigma);
    d.base = malloc(n * dim * sizeof(float));
    d.queries = malloc((nq ? nq : 1) * dim * sizeof(float));
    if (!centres || !sigma || !d.base || !d.queries) {
        qvb_fail(err, "out of memory for a synthetic set of %zu x %u", n, dim);
        goto cleanup;
    }
    double total = 0;
    for (uint32_t j = 0; j < dim; j++) {
        sigma[j] = pow(1.0 + j, -QVB_SYNTH_DECAY);
        total += sigma[j] * sigma[j];
    }
    double scale = QVB_SYNTH_SPREAD * sqrt(dim / total);
    for (uint32_t j = 0; j < dim; j++)
        sigma[j] *= scale;

    qvb_rng r;
    rng_seed(&r, seed, STREAM_CENTRES);
    for (size_t i = 0; i < (size_t)QVB_SYNTH_CLUSTERS * dim; i++)
        centres[i] = rng_normal(&r);
    rng_seed(&r, seed, STREAM_BASE);
    draw_points(d.base, n, dim, centres, sigma, &r);
    rng_seed(&r, seed, STREAM_QUERIES);
    draw_points(d.queries, nq, dim, centres, sigma, &r);

    d.dim = dim;
    d.n = n;
    d.nq = nq;
    d.metric = metric;
    snprintf(d.name, sizeof d.name, "synthetic-%u-%s", dim,
             metric == QVB_METRIC_COSINE ? "cos"
             : metric == QVB_METRIC_IP   ? "ip"
                                         : "l2");
    if (metric == QVB_METRIC_COSINE)
        qvb_dataset_normalize(&d);
    *out = d;
    memset(&d, 0, sizeof d);
    rc = 0;
cleanup:
    free(centres);
    free(sigma);
    qvb_dataset_free(&d);
    return rc;
}

/* ---- .fvecs / .ivecs through vecfile ---------------------------------------
 */

int qvb_write_fvecs(const char *path, const float *v, size_t rows, uint32_t dim,
                    qvb_err *err)
{
    char msg[256];
    if (vf_write_fvecs(path, v, rows, dim, msg, sizeof msg) != QV_OK)
        return qvb_fail(err, "%s", msg);
    return 0;
}

int qvb_write_ivecs(const char *path, const int32_t *v, size_t rows,
                    uint32_t cols, qvb_err *err)
{
    char msg[256];
    if (vf_write_ids(path, v, rows, cols, msg, sizeof msg) != QV_OK)
        return qvb_fail(err, "%s", msg);
    return 0;
}

int qvb_read_ivecs(const char *path, int32_t **out, size_t *rows,
                   uint32_t *cols, qvb_err *err)
{
    vf_imatrix m = {0};
    char msg[256];
    if (vf_read_ids(path, &m, msg, sizeof msg) != QV_OK)
        return qvb_fail(err, "%s", msg);
    if (m.rows == 0 || m.cols == 0 || m.cols > 1u << 20) {
        size_t r = m.rows, c = m.cols;
        vf_imatrix_free(&m);
        return qvb_fail(err, "%s: %zu rows of %zu ids is not usable", path, r,
                        c);
    }
    /* vf's buffer is plain malloc'd memory: hand it over, no copy. */
    *out = m.data;
    *rows = m.rows;
    *cols = (uint32_t)m.cols;
    return 0;
}

/* ---- HDF5 -----------------------------------------------------------------
 */

int qvb_have_hdf5(void)
{
#ifdef QVB_HAVE_HDF5
    return 1;
#else
    return 0;
#endif
}

#ifdef QVB_HAVE_HDF5
/* Reads a 2-D dataset converted to mem_type (HDF5 converts float64 to
 * float32 and int64 to int32 on the way).  Returns 0, or -1. */
static int h5_read_2d(hid_t file, const char *name, hid_t mem_type, size_t elem,
                      void **out, size_t *rows, size_t *cols, const char *path,
                      qvb_err *err)
{
    int rc = -1;
    hid_t ds = -1, space = -1;
    void *buf = NULL;
    ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) {
        qvb_fail(err, "%s: no dataset '%s'", path, name);
        goto cleanup;
    }
    space = H5Dget_space(ds);
    hsize_t dims[2];
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 2 || dims[1] == 0 ||
        dims[1] > 65536 || dims[0] > SIZE_MAX / elem / dims[1]) {
        qvb_fail(err, "%s: dataset '%s' is not a usable 2-D array", path, name);
        goto cleanup;
    }
    buf = malloc((size_t)(dims[0] * dims[1]) * elem + 1);
    if (!buf) {
        qvb_fail(err, "%s: out of memory for '%s'", path, name);
        goto cleanup;
    }
    if (dims[0] &&
        H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        qvb_fail(err, "%s: cannot read '%s' as %s", path, name,
                 elem == 4 && mem_type == H5T_NATIVE_FLOAT ? "float32"
                                                           : "int32");
        goto cleanup;
    }
    *out = buf;
    buf = NULL;
    *rows = (size_t)dims[0];
    *cols = (size_t)dims[1];
    rc = 0;
cleanup:
    free(buf);
    if (space >= 0)
        H5Sclose(space);
    if (ds >= 0)
        H5Dclose(ds);
    return rc;
}

/* The root attribute `distance` ("euclidean", "angular", ...) into buf;
 * returns 0 when present and a string. */
static int h5_distance_attr(hid_t file, char *buf, size_t cap)
{
    int rc = -1;
    if (H5Aexists(file, "distance") <= 0)
        return -1;
    hid_t attr = H5Aopen(file, "distance", H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    hid_t mem = -1;
    if (type < 0 || H5Tget_class(type) != H5T_STRING)
        goto cleanup;
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        if (H5Aread(attr, mem, &s) < 0 || !s)
            goto cleanup;
        snprintf(buf, cap, "%s", s);
        H5free_memory(s);
    } else {
        size_t sz = H5Tget_size(type);
        char *s = calloc(sz + 1, 1);
        if (!s)
            goto cleanup;
        mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, sz + 1);
        H5Tset_strpad(mem, H5T_STR_NULLTERM);
        if (H5Aread(attr, mem, s) < 0) {
            free(s);
            goto cleanup;
        }
        snprintf(buf, cap, "%s", s);
        free(s);
    }
    rc = 0;
cleanup:
    if (mem >= 0)
        H5Tclose(mem);
    if (type >= 0)
        H5Tclose(type);
    if (attr >= 0)
        H5Aclose(attr);
    return rc;
}
#endif

int qvb_read_hdf5(const char *path, qvb_dataset *out, int *metric_found,
                  qvb_err *err)
{
#ifdef QVB_HAVE_HDF5
    qvb_dataset d = {0};
    int rc = -1;
    size_t rows, cols, qrows, qcols;
    void *buf = NULL;
    *metric_found = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by us */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return qvb_fail(err, "%s: cannot open as HDF5", path);
    if (h5_read_2d(file, "train", H5T_NATIVE_FLOAT, 4, &buf, &rows, &cols, path,
                   err) != 0)
        goto cleanup;
    d.base = buf;
    if (h5_read_2d(file, "test", H5T_NATIVE_FLOAT, 4, &buf, &qrows, &qcols,
                   path, err) != 0)
        goto cleanup;
    d.queries = buf;
    if (qcols != cols) {
        qvb_fail(err, "%s: train has %zu columns, test %zu", path, cols, qcols);
        goto cleanup;
    }
    if (rows == 0) {
        qvb_fail(err, "%s: train is empty", path);
        goto cleanup;
    }
    d.n = rows;
    d.nq = qrows;
    d.dim = (uint32_t)cols;
    if (H5Lexists(file, "neighbors", H5P_DEFAULT) > 0) {
        size_t grows, gcols;
        if (h5_read_2d(file, "neighbors", H5T_NATIVE_INT32, 4, &buf, &grows,
                       &gcols, path, err) != 0)
            goto cleanup;
        d.gt = buf;
        d.gt_k = (uint32_t)gcols;
        if (grows != qrows) {
            qvb_fail(err, "%s: neighbors has %zu rows for %zu queries", path,
                     grows, qrows);
            goto cleanup;
        }
        for (size_t i = 0; i < grows * gcols; i++) {
            if (d.gt[i] < -1 || (d.gt[i] >= 0 && (size_t)d.gt[i] >= rows)) {
                qvb_fail(err, "%s: neighbors[%zu] = %d is out of range", path,
                         i, d.gt[i]);
                goto cleanup;
            }
        }
    }
    char dist[64];
    if (h5_distance_attr(file, dist, sizeof dist) == 0) {
        if (qvb_metric_parse(dist, &d.metric) != 0) {
            qvb_fail(err, "%s: distance '%s' is not supported", path, dist);
            goto cleanup;
        }
        *metric_found = 1;
    }
    *out = d;
    memset(&d, 0, sizeof d);
    rc = 0;
cleanup:
    qvb_dataset_free(&d);
    H5Fclose(file);
    return rc;
#else
    (void)out;
    *metric_found = 0;
    return qvb_fail(err,
                    "%s: this build cannot read HDF5 (install libhdf5-dev "
                    "and rebuild)",
                    path);
#endif
}

/* ---- loading files ---------------------------------------------------------
 */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Vectors of any format vecfile reads, as rows x dim floats. */
static int read_vectors(const char *path, float **out, size_t *rows,
                        uint32_t *dim, qvb_err *err)
{
    vf_matrix m = {0};
    char msg[256];
    if (vf_read(path, &m, msg, sizeof msg) != QV_OK)
        return qvb_fail(err, "%s", msg);
    if (m.cols == 0 || m.cols > 65536 || m.rows == 0) {
        vf_matrix_free(&m);
        return qvb_fail(err, "%s: %zu rows of %zu columns is not a data set",
                        path, (size_t)m.rows, (size_t)m.cols);
    }
    size_t bytes = (size_t)m.rows * m.cols * sizeof(float);
    float *copy = malloc(bytes);
    if (!copy) {
        vf_matrix_free(&m);
        return qvb_fail(err, "%s: out of memory", path);
    }
    memcpy(copy, m.data, bytes);
    *out = copy;
    *rows = m.rows;
    *dim = (uint32_t)m.cols;
    vf_matrix_free(&m);
    return 0;
}

/* The data set's name: the file's base name without extension or _base. */
static void dataset_name(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, cap, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = 0;
    if (ends_with(out, "_base"))
        out[strlen(out) - 5] = 0;
    /* The CSV stays one token per field: replace what would need quoting. */
    for (char *p = out; *p; p++)
        if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r')
            *p = '_';
}

int qvb_load(const char *path, const qvb_load_options *opt, qvb_dataset *out,
             qvb_err *err)
{
    qvb_dataset d = {0};
    char *sibling = NULL;
    int rc = -1;

    if (ends_with(path, ".hdf5") || ends_with(path, ".h5")) {
        int found;
        if (qvb_read_hdf5(path, &d, &found, err) != 0)
            goto cleanup;
        if (opt->metric_set)
            d.metric = opt->metric;
        else if (!found)
            d.metric = QVB_METRIC_L2;
    } else {
        if (read_vectors(path, &d.base, &d.n, &d.dim, err) != 0)
            goto cleanup;
        d.metric = opt->metric_set ? opt->metric : QVB_METRIC_L2;
        const char *qpath = opt->query_path, *gpath = opt->gt_path;
        /* X_base.ext: X_query.ext and X_groundtruth.ivecs (TEXMEX). */
        const char *ext = strrchr(path, '.');
        size_t stem = ext ? (size_t)(ext - path) : 0;
        if (!qpath && stem >= 5 && !strncmp(path + stem - 5, "_base", 5)) {
            sibling = malloc(2 * strlen(path) + 64);
            if (!sibling) {
                qvb_fail(err, "out of memory");
                goto cleanup;
            }
            char *gsib = sibling + strlen(path) + 32;
            sprintf(sibling, "%.*s_query%s", (int)(stem - 5), path, ext);
            sprintf(gsib, "%.*s_groundtruth.ivecs", (int)(stem - 5), path);
            if (file_exists(sibling)) {
                qpath = sibling;
                if (!gpath && file_exists(gsib))
                    gpath = gsib;
            }
        }
        if (qpath) {
            uint32_t qdim;
            if (read_vectors(qpath, &d.queries, &d.nq, &qdim, err) != 0)
                goto cleanup;
            if (qdim != d.dim) {
                qvb_fail(err, "%s has %u components, %s has %u", qpath, qdim,
                         path, d.dim);
                goto cleanup;
            }
        } else {
            size_t h = opt->holdout;
            if (h == 0 || h >= d.n) {
                qvb_fail(err,
                         "%s: no query file, and %zu held-out queries "
                         "leave no base (it has %zu vectors)",
                         path, h, d.n);
                goto cleanup;
            }
            d.queries = malloc(h * d.dim * sizeof(float));
            if (!d.queries) {
                qvb_fail(err, "out of memory");
                goto cleanup;
            }
            d.n -= h;
            memcpy(d.queries, d.base + d.n * d.dim, h * d.dim * sizeof(float));
            d.nq = h;
        }
        if (gpath) {
            size_t rows = 0;
            if (qvb_read_ivecs(gpath, &d.gt, &rows, &d.gt_k, err) != 0)
                goto cleanup;
            if (rows != d.nq) {
                qvb_fail(err, "%s has %zu rows for %zu queries", gpath, rows,
                         d.nq);
                goto cleanup;
            }
        }
        for (size_t i = 0; d.gt && i < d.nq * d.gt_k; i++) {
            if (d.gt[i] < -1 || (d.gt[i] >= 0 && (size_t)d.gt[i] >= d.n)) {
                /* Not this base's ground truth: compute it again. */
                free(d.gt);
                d.gt = NULL;
                d.gt_k = 0;
            }
        }
    }
    dataset_name(path, d.name, sizeof d.name);
    *out = d;
    memset(&d, 0, sizeof d);
    rc = 0;
cleanup:
    free(sibling);
    qvb_dataset_free(&d);
    return rc;
}
