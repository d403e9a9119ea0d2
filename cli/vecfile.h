/*
 * vecfile.h -- reading and writing the vector files of the command-line
 * program and the benchmarks.
 *
 * Formats, chosen by the file name's extension (case-insensitive):
 *
 *   .fvecs  TEXMEX float vectors: each row is an int32 dimension d, then
 *           d float32 values, all little-endian.  Read and written.
 *   .ivecs  the same with int32 values (ground-truth neighbour ids).
 *           Read with vf_read_ids, written with vf_write_ids.
 *   .bvecs  the same with uint8 values, read as floats.  Read only.
 *   .npy    NumPy format 1.0, 2.0 or 3.0 holding a 1-D or 2-D C-order
 *           little-endian array: '<f4' or '<f8' (converted to float) for
 *           vf_read, '<i4' or '<i8' (converted to int32) for vf_read_ids.
 *           A 1-D array of n values reads as n rows of 1 column.  Written
 *           as version 1.0, '<f4' (vf_write) or '<i4' (vf_write_ids).
 *
 * Every file is treated as hostile: every row's dimension must equal the
 * first row's, the file size must match the declared shape exactly, sizes
 * are overflow-checked before anything is allocated, and a damaged file is
 * refused with a status and a one-line message naming the file and what is
 * wrong.  Reading never trusts a count it has not checked against the file
 * size, so a forged header cannot make it allocate more than the file
 * could fill.
 *
 * Statuses: QV_ENULL (NULL argument), QV_EIO (cannot open, read, write,
 * fsync or rename; the message has the system's reason), QV_ECORRUPT
 * (truncated file, bad magic, inconsistent dimensions, size mismatch,
 * unparsable .npy header), QV_EFORMAT (unknown extension, unsupported .npy
 * version, dtype, order or rank), QV_ERANGE (a value that does not fit the
 * target type, e.g. a '<f8' beyond float range or an '<i8' beyond int32; a
 * matrix too large to write), QV_ENOMEM.
 *
 * Messages go to err (errcap bytes, always NUL-terminated when errcap > 0;
 * err may be NULL).  err is written only on failure.  A failed call leaves
 * *out untouched and, for writes, leaves any existing file at path as it
 * was: files are written to a temporary name in the same directory,
 * fsynced and renamed over path.
 *
 * The functions keep no state and may be called from several threads at
 * once on different files.  The byte order of every format is little-endian
 * and so must be the host's (checked at compile time).
 */
#ifndef QUIVER_VECFILE_H
#define QUIVER_VECFILE_H

#include "quiver.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest .npy header (the dictionary text) accepted, in bytes. */
#define VF_NPY_MAX_HEADER (1u << 20)

/* A dense row-major matrix of floats: rows * cols values at data, 64-byte
 * aligned.  data is NULL when rows is 0 (an empty .fvecs file also has
 * cols 0).  The matrix owns data: release it with vf_matrix_free. */
typedef struct vf_matrix {
    size_t rows;
    size_t cols;
    float *data;
} vf_matrix;

/* The same with int32 values, for ground-truth neighbour ids. */
typedef struct vf_imatrix {
    size_t rows;
    size_t cols;
    int32_t *data;
} vf_imatrix;

/* Reads a .fvecs, .bvecs or .npy ('<f4', '<f8') file into *out, which is
 * overwritten (not freed) on success.  Returns QV_OK, QV_ENULL, QV_EIO,
 * QV_ECORRUPT, QV_EFORMAT, QV_ERANGE or QV_ENOMEM. */
qv_status vf_read(const char *path, vf_matrix *out, char *err, size_t errcap);

/* Reads an .ivecs or .npy ('<i4', '<i8') file into *out, as vf_read. */
qv_status vf_read_ids(const char *path, vf_imatrix *out, char *err,
                      size_t errcap);

/* Frees m's data and zeroes m.  m may be NULL; freeing twice is harmless. */
void vf_matrix_free(vf_matrix *m);
void vf_imatrix_free(vf_imatrix *m);

/* Writes rows x cols floats (row-major) to path as .fvecs or .npy, chosen
 * by its extension.  cols must be 1..INT32_MAX; rows may be 0 (data may
 * then be NULL).  Returns QV_OK, QV_ENULL, QV_ERANGE, QV_EFORMAT (another
 * extension), QV_EIO or QV_ENOMEM. */
qv_status vf_write(const char *path, const float *data, size_t rows,
                   size_t cols, char *err, size_t errcap);

/* The same, whatever path's extension. */
qv_status vf_write_fvecs(const char *path, const float *data, size_t rows,
                         size_t cols, char *err, size_t errcap);
qv_status vf_write_npy(const char *path, const float *data, size_t rows,
                       size_t cols, char *err, size_t errcap);

/* Writes rows x cols int32 values to path as .ivecs or .npy ('<i4'),
 * chosen by its extension; otherwise as vf_write. */
qv_status vf_write_ids(const char *path, const int32_t *data, size_t rows,
                       size_t cols, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* QUIVER_VECFILE_H */
