/*
 * wal_support.h -- file-tree helpers the durability tests share
 * (test_wal.c, test_wal_group.c, test_crash.c, test_corruption.c).
 *
 * Each of those tests builds a store in a scratch directory, copies the
 * tree the way a crash would leave it (the page cache survives a process
 * crash, so a plain copy of the files is that state), damages or cuts the
 * copy and reopens it.  The helpers fail the running Check test on any
 * I/O error rather than return one: a test that cannot set up its image
 * has nothing to check.
 */
#ifndef QUIVER_TESTS_WAL_SUPPORT_H
#define QUIVER_TESTS_WAL_SUPPORT_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>

/* snprintf into a path buffer that must not truncate. */
#define PATHF(buf, ...)                                                        \
    ck_assert_int_lt(snprintf(buf, sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

/* Removes path and everything below it; a missing path is no error. */
void rm_rf(const char *path);
/* A fresh directory /tmp/qv-<name>-XXXXXX; the caller frees the string. */
char *make_tmpdir(const char *name);
/* Copies one regular file to a new file. */
void copy_file(const char *from, const char *to);
/* Copies the tree from into the new directory to. */
void copy_tree(const char *from, const char *to);
/* Whether name is a log segment ("wal-*", not a temporary file). */
bool is_segment(const char *name);
/* copy_tree that also adds to *segs the log segments ("wal-*", not a
 * temporary file) and to *tmps the temporary files ("*.tmp*") it copied:
 * the traces of a checkpoint in progress. */
void copy_tree_counting(const char *from, const char *to, int *segs, int *tmps);

/* The newest log segment of collection name in the store at path
 * (fails the test when there is none), as a path in out[0..cap). */
void last_segment(const char *path, const char *name, char *out, size_t cap);
/* The size of the file at path. */
off_t file_size(const char *path);

/* For every offset in [from, to]: copies the crash image into work, cuts
 * the newest log segment of collection name there, and checks that
 * sig_at(work, name) -- the state recovery gives -- is before for every
 * cut short of to and after at to: a change is there whole or not at
 * all. */
void check_every_cut(const char *image, const char *work, const char *name,
                     off_t from, off_t to,
                     char *(*sig_at)(const char *path, const char *name),
                     const char *before, const char *after);

/* Hand-built log segments (persist/wal.h's record format). */
struct qvi_change;
/* A new segment buffer holding only the header of segment seq. */
uint8_t *seg_new(size_t *len, uint64_t seq);
/* Appends the encoding of r to the segment buffer seg[0..*len). */
void seg_append(uint8_t **seg, size_t *len, const struct qvi_change *r);

#endif /* QUIVER_TESTS_WAL_SUPPORT_H */
