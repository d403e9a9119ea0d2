/*
 * scratch_dir.c -- one scratch directory per test case; see
 * scratch_dir.h.
 */
#include "scratch_dir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

char scratch_dir[64];

void scratch_dir_make(const char *name)
{
    int n =
        snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/qv-%s-XXXXXX", name);
    ck_assert_int_lt(n, (int)sizeof(scratch_dir));
    ck_assert_ptr_nonnull(mkdtemp(scratch_dir));
}

void scratch_dir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch_dir);
    ck_assert_int_eq(system(cmd), 0);
}

const char *scratch_path(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", scratch_dir, name);
    return p[i];
}
