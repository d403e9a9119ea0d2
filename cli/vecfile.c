/*
 * vecfile.c -- TEXMEX (.fvecs, .ivecs, .bvecs) and NumPy (.npy) vector
 * files; the contract is in vecfile.h.
 *
 * Reading is streamed, so memory is the output matrix plus a constant:
 * .npy float32 and int32 data is read straight into the matrix with one
 * fread, other .npy types through a small buffer that converts as it goes;
 * TEXMEX rows are read in blocks of about 4 MiB (one fread each, as a
 * fread per row is several times slower), checked and copied out.
 * Nothing is allocated before the file size has been checked against what
 * the header declares, so a forged dimension or shape costs an error
 * message, not an allocation.  100k x 768 floats load in about 0.15 s
 * from the page cache, either format.
 *
 * Validation order for TEXMEX files: the first row's dimension d must be
 * positive, the file must be a whole number of (4 + d * size) byte rows,
 * and every row must declare d again.  For .npy: magic, version, header
 * length within the file and VF_NPY_MAX_HEADER, a header that parses as
 * the dictionary NumPy writes (exactly the keys descr, fortran_order and
 * shape, as numpy.lib.format requires), then header + rows * cols *
 * itemsize == file size exactly (trailing bytes are refused too).
 *
 * Writes go to "<path>.tmp-<pid>-<n>", created with O_EXCL (so the umask
 * applies, unlike mkstemp's 0600), then are flushed, fsynced, renamed over
 * path, and the directory is fsynced: a crash leaves the old file or the
 * new one, never half of one.
 *
 * No global state: temporary names take a random suffix.
 */
#include "vecfile.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

/* Every format here is little-endian and values are read in place. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "vecfile.c reads little-endian files in place");
_Static_assert(sizeof(float) == 4, "float must be IEEE binary32");

#define VF_IOBUF (1u << 20)
#define VF_BLOCK (4u << 20) /* bytes of TEXMEX rows read at once */
#define VF_CHUNK 4096       /* elements converted per step */

static const char vf_npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- errors and sizes ---------------------------------------------------- */

static qv_status vf_fail(char *err, size_t cap, qv_status st, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static qv_status vf_fail(char *err, size_t cap, qv_status st, const char *fmt,
                         ...)
{
    if (err && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

static bool vf_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static bool vf_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* n bytes (rounded up to 64) aligned to 64; NULL on failure or n == 0. */
static void *vf_alloc(size_t n)
{
    void *p = NULL;
    if (n == 0 || n > SIZE_MAX - 63)
        return NULL;
    if (posix_memalign(&p, 64, (n + 63) & ~(size_t)63) != 0)
        return NULL;
    return p;
}

/* ---- formats and element types ------------------------------------------- */

typedef enum vf_format {
    VF_UNKNOWN = 0,
    VF_FVECS,
    VF_IVECS,
    VF_BVECS,
    VF_NPY
} vf_format;

static const struct {
    const char *ext;
    vf_format format;
} vf_formats[] = {
    {".fvecs", VF_FVECS},
    {".ivecs", VF_IVECS},
    {".bvecs", VF_BVECS},
    {".npy", VF_NPY},
};

static vf_format vf_format_of(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof(vf_formats) / sizeof(vf_formats[0]); i++) {
        size_t n = strlen(vf_formats[i].ext);
        if (len > n && strcasecmp(path + len - n, vf_formats[i].ext) == 0)
            return vf_formats[i].format;
    }
    return VF_UNKNOWN;
}

/* Element types on disk: F4, F8 and U1 become float, I4 and I8 int32. */
typedef enum vf_elem { VF_F4, VF_F8, VF_U1, VF_I4, VF_I8 } vf_elem;

static const struct {
    const char *descr; /* .npy type string; NULL when .npy cannot hold it */
    size_t size;
    bool is_int;
} vf_elems[] = {
    [VF_F4] = {"<f4", 4, false}, [VF_F8] = {"<f8", 8, false},
    [VF_U1] = {NULL, 1, false},  [VF_I4] = {"<i4", 4, true},
    [VF_I8] = {"<i8", 8, true},
};

#define VF_N_ELEMS (sizeof(vf_elems) / sizeof(vf_elems[0]))

/* What a reader produces before it is typed as float or int32 (both are 4
 * bytes wide). */
typedef struct vf_raw {
    size_t rows, cols;
    void *data;
} vf_raw;

/* ---- input ----------------------------------------------------------------
 */

typedef struct vf_in {
    FILE *f;
    size_t size; /* bytes in the file */
    size_t cols; /* of the matrix being read, for messages */
    const char *path;
    char *err;
    size_t errcap;
} vf_in;

/* Opens path for reading.  O_NONBLOCK keeps a FIFO or device from
 * blocking the open; anything but a regular file is then refused (it has
 * no size to check headers against). */
static qv_status vf_in_open(vf_in *in, const char *path, char *err,
                            size_t errcap)
{
    memset(in, 0, sizeof(*in));
    in->path = path;
    in->err = err;
    in->errcap = errcap;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return vf_fail(err, errcap, QV_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((uintmax_t)st.st_size > SIZE_MAX)
        why = "too large";
    FILE *f = why ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (!why)
            why = strerror(errno);
        close(fd);
        return vf_fail(err, errcap, QV_EIO, "cannot read %s: %s", path, why);
    }
    setvbuf(f, NULL, _IOFBF, VF_IOBUF);
    in->f = f;
    in->size = (size_t)st.st_size;
    return QV_OK;
}

static void vf_in_close(vf_in *in)
{
    if (in->f)
        fclose(in->f);
    in->f = NULL;
}

/* Reads exactly n bytes.  The size checks made before reading mean a short
 * read can only come from a file that changed underneath us. */
static qv_status vf_in_read(vf_in *in, void *buf, size_t n)
{
    if (n == 0 || fread(buf, 1, n, in->f) == n)
        return QV_OK;
    if (ferror(in->f))
        return vf_fail(in->err, in->errcap, QV_EIO, "cannot read %s: %s",
                       in->path, strerror(errno));
    return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                   "%s: unexpected end of file (did it change while being "
                   "read?)",
                   in->path);
}

static qv_status vf_range_error(vf_in *in, size_t index, const char *type)
{
    size_t cols = in->cols ? in->cols : 1;
    return vf_fail(in->err, in->errcap, QV_ERANGE,
                   "%s: the value at row %zu, column %zu does not fit in %s",
                   in->path, index / cols, index % cols, type);
}

/* Converts n values of the 8- or 1-byte type e at src into dst (float or
 * int32).  index is the position of src[0] in the matrix, for messages. */
static qv_status vf_convert(vf_in *in, vf_elem e, const unsigned char *src,
                            size_t n, void *dst, size_t index)
{
    float *fd = dst;
    int32_t *id = dst;
    for (size_t i = 0; i < n; i++) {
        if (e == VF_U1) {
            fd[i] = src[i];
        } else if (e == VF_F8) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            if (isfinite(v) && fabs(v) > FLT_MAX)
                return vf_range_error(in, index + i, "a float");
            fd[i] = (float)v;
        } else {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return vf_range_error(in, index + i, "an int32");
            id[i] = (int32_t)v;
        }
    }
    return QV_OK;
}

/* Reads n values of type e into dst, which has room for n 4-byte values;
 * index is the matrix position of the first one. */
static qv_status vf_read_values(vf_in *in, vf_elem e, size_t n, void *dst,
                                size_t index)
{
    size_t esz = vf_elems[e].size;
    if (esz == 4)
        return vf_in_read(in, dst, n * 4);
    unsigned char buf[VF_CHUNK * 8];
    char *out = dst;
    while (n > 0) {
        size_t m = n < VF_CHUNK ? n : VF_CHUNK;
        qv_status st = vf_in_read(in, buf, m * esz);
        if (st == QV_OK)
            st = vf_convert(in, e, buf, m, out, index);
        if (st != QV_OK)
            return st;
        out += m * 4;
        index += m;
        n -= m;
    }
    return QV_OK;
}

/* ---- TEXMEX .fvecs / .ivecs / .bvecs ------------------------------------- */

/* Checks the first row's dimension d against the file size; sets the row
 * count. */
static qv_status vf_vecs_shape(vf_in *in, int32_t d, size_t esz, size_t *rows)
{
    size_t row_bytes;
    if (d <= 0)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: row 0 declares %d dimensions", in->path, (int)d);
    if (!vf_mul((size_t)d, esz, &row_bytes) ||
        !vf_add(row_bytes, 4, &row_bytes) || row_bytes > in->size)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: row 0 declares %d dimensions, more than the "
                       "file's %zu bytes can hold",
                       in->path, (int)d, in->size);
    if (in->size % row_bytes != 0)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: %zu bytes is not a whole number of %zu-byte "
                       "rows (4 + %d x %zu): the file is truncated or its "
                       "rows differ in dimension",
                       in->path, in->size, row_bytes, (int)d, esz);
    *rows = in->size / row_bytes;
    return QV_OK;
}

/*
 * Reads rows rows of d values of type e (the file positioned at row 0)
 * into data.  Rows are read a block of about VF_BLOCK bytes at a time with
 * one fread each, then checked and copied out: a fread per row costs
 * several times more for the small rows of typical data sets.  A single
 * row larger than VF_BLOCK gets a block of its own, which the file size
 * check has already bounded.
 */
static qv_status vf_vecs_rows(vf_in *in, vf_elem e, int32_t d, size_t rows,
                              void *data)
{
    size_t esz = vf_elems[e].size, vals = (size_t)d * esz;
    size_t row_bytes = 4 + vals;
    size_t per = VF_BLOCK / row_bytes ? VF_BLOCK / row_bytes : 1;
    if (per > rows)
        per = rows;
    qv_status st = QV_OK;
    unsigned char *buf = malloc(per * row_bytes);
    if (!buf)
        return vf_fail(in->err, in->errcap, QV_ENOMEM,
                       "%s: cannot allocate a read buffer", in->path);
    for (size_t r = 0; r < rows && st == QV_OK; r += per) {
        size_t n = rows - r < per ? rows - r : per;
        if ((st = vf_in_read(in, buf, n * row_bytes)) != QV_OK)
            break;
        for (size_t i = 0; i < n && st == QV_OK; i++) {
            const unsigned char *row = buf + i * row_bytes;
            char *dst = (char *)data + (r + i) * (size_t)d * 4;
            int32_t dr;
            memcpy(&dr, row, 4);
            if (dr != d)
                st = vf_fail(in->err, in->errcap, QV_ECORRUPT,
                             "%s: row %zu declares %d dimensions, row 0 "
                             "declares %d",
                             in->path, r + i, (int)dr, (int)d);
            else if (esz == 4)
                memcpy(dst, row + 4, vals);
            else
                st = vf_convert(in, e, row + 4, (size_t)d, dst,
                                (r + i) * (size_t)d);
        }
    }
    free(buf);
    return st;
}

static qv_status vf_read_vecs(vf_in *in, vf_elem e, vf_raw *out)
{
    void *data = NULL;
    size_t rows = 0, bytes;
    int32_t d = 0;
    qv_status st = QV_OK;
    if (in->size == 0) /* a file of no rows */
        goto done;
    if (in->size < 4) {
        st =
            vf_fail(in->err, in->errcap, QV_ECORRUPT,
                    "%s: %zu bytes is too short for a row", in->path, in->size);
        goto done;
    }
    if ((st = vf_in_read(in, &d, 4)) != QV_OK ||
        (st = vf_vecs_shape(in, d, vf_elems[e].size, &rows)) != QV_OK)
        goto done;
    in->cols = (size_t)d;
    /* rows * d * 4 <= 4 * file size, but check rather than argue. */
    if (!vf_mul(rows, (size_t)d * 4, &bytes) || !(data = vf_alloc(bytes))) {
        st = vf_fail(in->err, in->errcap, QV_ENOMEM,
                     "%s: cannot allocate %zu x %d values", in->path, rows,
                     (int)d);
        goto done;
    }
    if (fseeko(in->f, 0, SEEK_SET) != 0) {
        st = vf_fail(in->err, in->errcap, QV_EIO, "cannot seek in %s: %s",
                     in->path, strerror(errno));
        goto done;
    }
    st = vf_vecs_rows(in, e, d, rows, data);
done:
    if (st != QV_OK) {
        free(data);
        return st;
    }
    out->rows = rows;
    out->cols = rows ? (size_t)d : 0;
    out->data = data;
    return QV_OK;
}

/* ---- .npy header ------------------------------------------------------------
 *
 * The header is a Python dict literal NumPy writes as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (100, 128), }
 * padded with spaces and ended by '\n'.  The parser accepts that grammar
 * (either quote, optional trailing commas, Python 2 'L' suffixes) and
 * nothing else.
 */

typedef struct vf_npy {
    char descr[32]; /* as written; mapped to elem once the header parsed */
    vf_elem elem;
    bool fortran;
    size_t ndim;       /* as declared, may exceed 2 */
    uint64_t shape[2]; /* the first two extents */
} vf_npy;

typedef struct vf_cur {
    const char *start, *p, *end;
} vf_cur;

static qv_status vf_syntax(vf_in *in, const vf_cur *c)
{
    return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                   "%s: malformed .npy header near byte %zu of %zu", in->path,
                   (size_t)(c->p - c->start), (size_t)(c->end - c->start));
}

static void vf_skip_ws(vf_cur *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool vf_eat(vf_cur *c, char ch)
{
    vf_skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool vf_word(vf_cur *c, const char *w)
{
    size_t n = strlen(w);
    vf_skip_ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A quoted string without escapes, into buf (cap bytes). */
static bool vf_string(vf_cur *c, char *buf, size_t cap)
{
    vf_skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\0' || n + 1 >= cap)
            return false;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    buf[n] = '\0';
    return true;
}

static bool vf_uint(vf_cur *c, uint64_t *out)
{
    uint64_t v = 0;
    vf_skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return false;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*c->p - '0'), &v))
            return false;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *out = v;
    return true;
}

/* A tuple of extents: "()", "(n,)", "(r, c)", ... */
static bool vf_shape_tuple(vf_cur *c, vf_npy *h)
{
    h->ndim = 0;
    if (!vf_eat(c, '('))
        return false;
    if (vf_eat(c, ')'))
        return true;
    for (;;) {
        uint64_t v;
        if (!vf_uint(c, &v))
            return false;
        if (h->ndim < 2)
            h->shape[h->ndim] = v;
        h->ndim++;
        if (vf_eat(c, ')'))
            return true;
        if (!vf_eat(c, ','))
            return false;
        if (vf_eat(c, ')'))
            return true;
    }
}

/* The descr value: a type string (a list would be a structured dtype). */
static qv_status vf_npy_descr(vf_in *in, vf_cur *c, vf_npy *h)
{
    vf_skip_ws(c);
    if (c->p < c->end && (*c->p == '[' || *c->p == '{'))
        return vf_fail(in->err, in->errcap, QV_EFORMAT,
                       "%s: structured dtypes are not supported", in->path);
    return vf_string(c, h->descr, sizeof(h->descr)) ? QV_OK : vf_syntax(in, c);
}

/* Maps the descr of a fully parsed header to an element type. */
static qv_status vf_npy_elem(vf_in *in, vf_npy *h)
{
    for (size_t i = 0; i < VF_N_ELEMS; i++) {
        if (vf_elems[i].descr && strcmp(h->descr, vf_elems[i].descr) == 0) {
            h->elem = (vf_elem)i;
            return QV_OK;
        }
    }
    return vf_fail(in->err, in->errcap, QV_EFORMAT,
                   "%s: dtype '%s' is not supported (expected <f4, <f8, <i4 "
                   "or <i8)",
                   in->path, h->descr);
}

/* The keys NumPy writes, each required exactly once. */
static const char *const vf_npy_keys[3] = {"descr", "fortran_order", "shape"};

/* Parses one "key: value" pair; *seen has a bit per key met so far. */
static qv_status vf_npy_pair(vf_in *in, vf_cur *c, vf_npy *h, unsigned *seen)
{
    char key[32];
    size_t k = 0;
    if (!vf_string(c, key, sizeof(key)) || !vf_eat(c, ':'))
        return vf_syntax(in, c);
    while (k < 3 && strcmp(key, vf_npy_keys[k]) != 0)
        k++;
    if (k == 3 || (*seen & 1u << k))
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: %s key '%s' in the .npy header", in->path,
                       k < 3 ? "duplicate" : "unexpected", key);
    *seen |= 1u << k;
    if (k == 0)
        return vf_npy_descr(in, c, h);
    if (k == 1) {
        if (vf_word(c, "True"))
            h->fortran = true;
        else if (!vf_word(c, "False"))
            return vf_syntax(in, c);
        return QV_OK;
    }
    return vf_shape_tuple(c, h) ? QV_OK : vf_syntax(in, c);
}

static qv_status vf_npy_parse(vf_in *in, const char *text, size_t len,
                              vf_npy *h)
{
    vf_cur c = {text, text, text + len};
    unsigned seen = 0;
    if (!vf_eat(&c, '{'))
        return vf_syntax(in, &c);
    while (!vf_eat(&c, '}')) {
        qv_status st = vf_npy_pair(in, &c, h, &seen);
        if (st != QV_OK)
            return st;
        if (!vf_eat(&c, ',')) {
            if (!vf_eat(&c, '}'))
                return vf_syntax(in, &c);
            break;
        }
    }
    vf_skip_ws(&c);
    if (c.p != c.end)
        return vf_syntax(in, &c);
    for (size_t k = 0; k < 3; k++) {
        if (!(seen & 1u << k))
            return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                           "%s: the .npy header lacks the key '%s'", in->path,
                           vf_npy_keys[k]);
    }
    return vf_npy_elem(in, h);
}

/* Reads the magic, the version and the header length; *offset is where
 * the values start. */
static qv_status vf_npy_prefix(vf_in *in, size_t *header_len, size_t *offset)
{
    unsigned char pre[12];
    if (in->size < 10)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: %zu bytes is too short for a .npy file", in->path,
                       in->size);
    qv_status st = vf_in_read(in, pre, 8);
    if (st != QV_OK)
        return st;
    if (memcmp(pre, vf_npy_magic, 6) != 0)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: not a .npy file (bad magic)", in->path);
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return vf_fail(in->err, in->errcap, QV_EFORMAT,
                       "%s: .npy format version %u.%u is not supported "
                       "(1.0, 2.0 or 3.0)",
                       in->path, major, minor);
    size_t len_bytes = major == 1 ? 2 : 4;
    if (in->size < 8 + len_bytes)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: truncated .npy header", in->path);
    if ((st = vf_in_read(in, pre + 8, len_bytes)) != QV_OK)
        return st;
    size_t len = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (len_bytes == 4)
        len |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    if (len > VF_NPY_MAX_HEADER || len > in->size - 8 - len_bytes)
        return vf_fail(
            in->err, in->errcap, QV_ECORRUPT,
            "%s: the .npy header claims %zu bytes, more than %s", in->path, len,
            len > VF_NPY_MAX_HEADER ? "the 1 MiB allowed" : "the file holds");
    *header_len = len;
    *offset = 8 + len_bytes + len;
    return QV_OK;
}

/* Reads and parses the header; *data_offset is where the values start. */
static qv_status vf_npy_header(vf_in *in, vf_npy *h, size_t *data_offset)
{
    size_t len = 0;
    char *text = NULL;
    qv_status st = vf_npy_prefix(in, &len, data_offset);
    if (st != QV_OK)
        goto cleanup;
    if (!(text = malloc(len ? len : 1))) {
        st = vf_fail(in->err, in->errcap, QV_ENOMEM,
                     "%s: cannot allocate the .npy header", in->path);
        goto cleanup;
    }
    if ((st = vf_in_read(in, text, len)) != QV_OK)
        goto cleanup;
    memset(h, 0, sizeof(*h));
    st = vf_npy_parse(in, text, len, h);
cleanup:
    free(text);
    return st;
}

/* Turns the declared shape into rows x cols and checks it against the
 * file size. */
static qv_status vf_npy_extent(vf_in *in, const vf_npy *h, size_t offset,
                               size_t *rows, size_t *cols)
{
    size_t esz = vf_elems[h->elem].size, n, bytes;
    if (h->ndim < 1 || h->ndim > 2)
        return vf_fail(in->err, in->errcap, QV_EFORMAT,
                       "%s: %zu-dimensional arrays are not supported (1 or "
                       "2)",
                       in->path, h->ndim);
    uint64_t r = h->shape[0], c = h->ndim == 2 ? h->shape[1] : 1;
    if (h->fortran && r > 1 && c > 1)
        return vf_fail(in->err, in->errcap, QV_EFORMAT,
                       "%s: Fortran-order arrays are not supported", in->path);
    if (c == 0 && r > 0)
        return vf_fail(in->err, in->errcap, QV_EFORMAT,
                       "%s: arrays with no columns are not supported",
                       in->path);
    if (r > SIZE_MAX || c > SIZE_MAX || !vf_mul((size_t)r, (size_t)c, &n) ||
        !vf_mul(n, esz, &bytes) || bytes != in->size - offset)
        return vf_fail(in->err, in->errcap, QV_ECORRUPT,
                       "%s: the declared shape (%llu, %llu) of %s does not "
                       "match the %zu bytes of data in the file",
                       in->path, (unsigned long long)r, (unsigned long long)c,
                       vf_elems[h->elem].descr, in->size - offset);
    *rows = (size_t)r;
    *cols = (size_t)c;
    return QV_OK;
}

static qv_status vf_read_npy(vf_in *in, bool want_int, vf_raw *out)
{
    vf_npy h;
    size_t offset = 0, rows = 0, cols = 0;
    void *data = NULL;
    qv_status st = vf_npy_header(in, &h, &offset);
    if (st != QV_OK)
        goto cleanup;
    if (vf_elems[h.elem].is_int != want_int) {
        st = vf_fail(in->err, in->errcap, QV_EFORMAT,
                     "%s holds %s (%s), %s expected", in->path,
                     want_int ? "floats" : "integers", vf_elems[h.elem].descr,
                     want_int ? "integer ids were" : "float vectors were");
        goto cleanup;
    }
    if ((st = vf_npy_extent(in, &h, offset, &rows, &cols)) != QV_OK)
        goto cleanup;
    in->cols = cols;
    if (rows > 0 && !(data = vf_alloc(rows * cols * 4))) {
        st = vf_fail(in->err, in->errcap, QV_ENOMEM,
                     "%s: cannot allocate %zu x %zu values", in->path, rows,
                     cols);
        goto cleanup;
    }
    if (rows > 0)
        st = vf_read_values(in, h.elem, rows * cols, data, 0);
cleanup:
    if (st != QV_OK) {
        free(data);
        return st;
    }
    out->rows = rows;
    out->cols = cols;
    out->data = data;
    return QV_OK;
}

/* ---- reading: public entry points ---------------------------------------- */

static qv_status vf_read_any(const char *path, bool want_int, vf_raw *out,
                             char *err, size_t errcap)
{
    vf_format fmt = vf_format_of(path);
    vf_elem e = VF_F4;
    if (fmt == VF_FVECS && !want_int)
        e = VF_F4;
    else if (fmt == VF_BVECS && !want_int)
        e = VF_U1;
    else if (fmt == VF_IVECS && want_int)
        e = VF_I4;
    else if (fmt != VF_NPY)
        return vf_fail(err, errcap, QV_EFORMAT,
                       "%s: cannot read %s from a file of this extension "
                       "(expected %s)",
                       path, want_int ? "ids" : "vectors",
                       want_int ? ".ivecs or .npy" : ".fvecs, .bvecs or .npy");
    vf_in in;
    qv_status st = vf_in_open(&in, path, err, errcap);
    if (st != QV_OK)
        return st;
    if (fmt == VF_NPY)
        st = vf_read_npy(&in, want_int, out);
    else
        st = vf_read_vecs(&in, e, out);
    vf_in_close(&in);
    return st;
}

qv_status vf_read(const char *path, vf_matrix *out, char *err, size_t errcap)
{
    if (!path || !out)
        return vf_fail(err, errcap, QV_ENULL, "vf_read: NULL argument");
    vf_raw raw;
    qv_status st = vf_read_any(path, false, &raw, err, errcap);
    if (st != QV_OK)
        return st;
    out->rows = raw.rows;
    out->cols = raw.cols;
    out->data = raw.data;
    return QV_OK;
}

qv_status vf_read_ids(const char *path, vf_imatrix *out, char *err,
                      size_t errcap)
{
    if (!path || !out)
        return vf_fail(err, errcap, QV_ENULL, "vf_read_ids: NULL argument");
    vf_raw raw;
    qv_status st = vf_read_any(path, true, &raw, err, errcap);
    if (st != QV_OK)
        return st;
    out->rows = raw.rows;
    out->cols = raw.cols;
    out->data = raw.data;
    return QV_OK;
}

void vf_matrix_free(vf_matrix *m)
{
    if (!m)
        return;
    free(m->data);
    memset(m, 0, sizeof(*m));
}

void vf_imatrix_free(vf_imatrix *m)
{
    if (!m)
        return;
    free(m->data);
    memset(m, 0, sizeof(*m));
}

/* ---- output ----------------------------------------------------------------
 */

typedef struct vf_out {
    FILE *f;
    char *tmp;    /* the temporary file's name */
    bool renamed; /* tmp now is path */
    const char *path;
    char *err;
    size_t errcap;
} vf_out;

static qv_status vf_out_open(vf_out *o, const char *path, char *err,
                             size_t errcap)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->err = err;
    o->errcap = errcap;
    size_t cap = strlen(path) + 48;
    if (!(o->tmp = malloc(cap)))
        return vf_fail(err, errcap, QV_ENOMEM, "%s: out of memory", path);
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        /* A random suffix (no process-wide counter); O_EXCL settles a
         * clash, which the retry then escapes. */
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint64_t)tries;
        snprintf(o->tmp, cap, "%s.tmp-%ld-%016llx", path, (long)getpid(),
                 (unsigned long long)r);
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return vf_fail(err, errcap, QV_EIO,
                       "cannot create a file next to %s: %s", path,
                       strerror(e));
    }
    if (!(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        return vf_fail(err, errcap, QV_EIO, "cannot write %s: %s", path,
                       strerror(e));
    }
    setvbuf(o->f, NULL, _IOFBF, VF_IOBUF);
    return QV_OK;
}

static qv_status vf_out_write(vf_out *o, const void *p, size_t n)
{
    if (n == 0 || fwrite(p, 1, n, o->f) == n)
        return QV_OK;
    return vf_fail(o->err, o->errcap, QV_EIO, "cannot write %s: %s", o->path,
                   strerror(errno));
}

/* fsyncs the directory holding path, so that the rename is durable.
 * Filesystems that cannot sync a directory (EINVAL) are let off. */
static bool vf_sync_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return false;
    char *slash = strrchr(dir, '/');
    const char *name = ".";
    if (slash) {
        slash[slash == dir ? 1 : 0] = '\0';
        name = dir;
    }
    int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL);
    if (fd >= 0)
        close(fd);
    free(dir);
    return ok;
}

/* Flushes, fsyncs and closes the temporary file, then renames it over
 * path and syncs the directory. */
static qv_status vf_out_commit(vf_out *o)
{
    FILE *f = o->f;
    o->f = NULL;
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok)
        return vf_fail(o->err, o->errcap, QV_EIO, "cannot write %s: %s",
                       o->path, strerror(e));
    if (rename(o->tmp, o->path) != 0)
        return vf_fail(o->err, o->errcap, QV_EIO, "cannot rename %s to %s: %s",
                       o->tmp, o->path, strerror(errno));
    o->renamed = true;
    if (!vf_sync_dir(o->path))
        return vf_fail(o->err, o->errcap, QV_EIO,
                       "%s was written but its directory could not be "
                       "synced: %s",
                       o->path, strerror(errno));
    return QV_OK;
}

/* Releases o; removes the temporary file unless it became path. */
static void vf_out_close(vf_out *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp && !o->renamed)
        unlink(o->tmp);
    free(o->tmp);
    memset(o, 0, sizeof(*o));
}

/* Checks a write's arguments: every size the writers compute (values of
 * at most 4 bytes plus a 4-byte header per row) fits in rows * cols * 8. */
static qv_status vf_check_write(const char *path, const void *data, size_t rows,
                                size_t cols, char *err, size_t errcap)
{
    size_t n;
    if (!path || (!data && rows > 0))
        return vf_fail(err, errcap, QV_ENULL, "vf_write: NULL argument");
    if (cols == 0 || cols > INT32_MAX)
        return vf_fail(err, errcap, QV_ERANGE,
                       "%s: %zu columns (1 to %d can be written)", path, cols,
                       INT32_MAX);
    if (!vf_mul(rows, cols, &n) || !vf_mul(n, 8, &n))
        return vf_fail(err, errcap, QV_ERANGE,
                       "%s: %zu x %zu values is too large", path, rows, cols);
    return QV_OK;
}

/* TEXMEX rows of cols 4-byte values. */
static qv_status vf_write_vecs(const char *path, const void *data, size_t rows,
                               size_t cols, char *err, size_t errcap)
{
    vf_out o = {0};
    qv_status st = vf_check_write(path, data, rows, cols, err, errcap);
    if (st != QV_OK)
        return st;
    if ((st = vf_out_open(&o, path, err, errcap)) != QV_OK)
        goto cleanup;
    int32_t d = (int32_t)cols;
    for (size_t r = 0; r < rows && st == QV_OK; r++) {
        st = vf_out_write(&o, &d, 4);
        if (st == QV_OK)
            st = vf_out_write(&o, (const char *)data + r * cols * 4, cols * 4);
    }
    if (st == QV_OK)
        st = vf_out_commit(&o);
cleanup:
    vf_out_close(&o);
    return st;
}

/* A version 1.0 .npy file of rows x cols 4-byte values of type descr. */
static qv_status vf_write_npy_raw(const char *path, const char *descr,
                                  const void *data, size_t rows, size_t cols,
                                  char *err, size_t errcap)
{
    vf_out o = {0};
    char head[256];
    qv_status st = vf_check_write(path, data, rows, cols, err, errcap);
    if (st != QV_OK)
        return st;
    /* 10 bytes of prefix, the dict, spaces, '\n': a multiple of 64. */
    int n = snprintf(head + 10, sizeof(head) - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': "
                     "(%zu, %zu), }",
                     descr, rows, cols);
    size_t len = 10 + (size_t)n + 1;
    size_t pad = (64 - len % 64) % 64;
    memset(head + 10 + n, ' ', pad);
    head[len + pad - 1] = '\n';
    size_t header_len = len + pad - 10;
    memcpy(head, vf_npy_magic, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)(header_len & 0xff);
    head[9] = (char)(header_len >> 8);
    if ((st = vf_out_open(&o, path, err, errcap)) != QV_OK)
        goto cleanup;
    st = vf_out_write(&o, head, len + pad);
    if (st == QV_OK)
        st = vf_out_write(&o, data, rows * cols * 4);
    if (st == QV_OK)
        st = vf_out_commit(&o);
cleanup:
    vf_out_close(&o);
    return st;
}

/* ---- writing: public entry points ---------------------------------------- */

qv_status vf_write_fvecs(const char *path, const float *data, size_t rows,
                         size_t cols, char *err, size_t errcap)
{
    return vf_write_vecs(path, data, rows, cols, err, errcap);
}

qv_status vf_write_npy(const char *path, const float *data, size_t rows,
                       size_t cols, char *err, size_t errcap)
{
    return vf_write_npy_raw(path, "<f4", data, rows, cols, err, errcap);
}

qv_status vf_write(const char *path, const float *data, size_t rows,
                   size_t cols, char *err, size_t errcap)
{
    if (!path)
        return vf_fail(err, errcap, QV_ENULL, "vf_write: NULL path");
    switch (vf_format_of(path)) {
    case VF_FVECS:
        return vf_write_fvecs(path, data, rows, cols, err, errcap);
    case VF_NPY:
        return vf_write_npy(path, data, rows, cols, err, errcap);
    default:
        return vf_fail(err, errcap, QV_EFORMAT,
                       "%s: cannot write vectors to a file of this extension "
                       "(expected .fvecs or .npy)",
                       path);
    }
}

qv_status vf_write_ids(const char *path, const int32_t *data, size_t rows,
                       size_t cols, char *err, size_t errcap)
{
    if (!path)
        return vf_fail(err, errcap, QV_ENULL, "vf_write_ids: NULL path");
    switch (vf_format_of(path)) {
    case VF_IVECS:
        return vf_write_vecs(path, data, rows, cols, err, errcap);
    case VF_NPY:
        return vf_write_npy_raw(path, "<i4", data, rows, cols, err, errcap);
    default:
        return vf_fail(err, errcap, QV_EFORMAT,
                       "%s: cannot write ids to a file of this extension "
                       "(expected .ivecs or .npy)",
                       path);
    }
}
