/*
 * scratch_dir.h -- one scratch directory per test case, for the suites
 * that write files under it (test_public_api.c, test_snapshot.c).
 *
 * A checked fixture makes it before each test (scratch_dir_make from the
 * suite's setup, which names it) and scratch_dir_remove takes it away
 * after, so no test sees another's files.
 */
#ifndef QUIVER_TESTS_SCRATCH_DIR_H
#define QUIVER_TESTS_SCRATCH_DIR_H

/* The current test's directory, "/tmp/qv-<name>-XXXXXX". */
extern char scratch_dir[64];

/* Makes a fresh scratch_dir named after name. */
void scratch_dir_make(const char *name);
/* Removes scratch_dir and everything in it (a teardown fixture). */
void scratch_dir_remove(void);
/* scratch_dir/name; the result stays valid for the next three calls, so
 * a call may take up to four paths. */
const char *scratch_path(const char *name);

#endif /* QUIVER_TESTS_SCRATCH_DIR_H */
