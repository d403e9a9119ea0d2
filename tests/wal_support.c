/*
 * wal_support.c -- file-tree helpers the durability tests share; see
 * wal_support.h.
 */
#include "wal_support.h"

#include "persist/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *make_tmpdir(const char *name)
{
    char t[256];
    PATHF(t, "/tmp/qv-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(t));
    char *dir = strdup(t);
    ck_assert_ptr_nonnull(dir);
    return dir;
}

void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    char buf[65536];
    ssize_t k;
    while ((k = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)k), k);
    close(in);
    close(out);
}

bool is_segment(const char *name)
{
    return strncmp(name, "wal-", 4) == 0 && strstr(name, ".tmp") == NULL;
}

void copy_tree_counting(const char *from, const char *to, int *segs, int *tmps)
{
    ck_assert_int_eq(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char a[4096], b[4096];
        PATHF(a, "%s/%s", from, e->d_name);
        PATHF(b, "%s/%s", to, e->d_name);
        struct stat sb;
        ck_assert_int_eq(lstat(a, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            copy_tree_counting(a, b, segs, tmps);
            continue;
        }
        copy_file(a, b);
        if (segs)
            *segs += is_segment(e->d_name);
        if (tmps)
            *tmps += strstr(e->d_name, ".tmp") != NULL;
    }
    closedir(d);
}

void copy_tree(const char *from, const char *to)
{
    copy_tree_counting(from, to, NULL, NULL);
}

void last_segment(const char *path, const char *name, char *out, size_t cap)
{
    char dir[4096];
    PATHF(dir, "%s/collections/%s", path, name);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char best[64] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "wal-", 4) == 0 && strlen(e->d_name) == 24 &&
            strcmp(e->d_name, best) > 0)
            PATHF(best, "%s", e->d_name);
    }
    closedir(d);
    ck_assert_msg(best[0], "no segment in %s", dir);
    ck_assert_int_lt(snprintf(out, cap, "%s/%s", dir, best), (int)cap);
}

off_t file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_size;
}

uint8_t *seg_new(size_t *len, uint64_t seq)
{
    uint8_t *seg = malloc(QVI_WAL_SEG_HEADER);
    qvi_wal_segment_header(seg, seq);
    *len = QVI_WAL_SEG_HEADER;
    return seg;
}

void seg_append(uint8_t **seg, size_t *len, const struct qvi_change *r)
{
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    char err[128];
    ck_assert_int_eq(qvi_wal_encode(r, &buf, &cap, &n, err, sizeof(err)),
                     QV_OK);
    *seg = realloc(*seg, *len + n);
    memcpy(*seg + *len, buf, n);
    *len += n;
    free(buf);
}

void check_every_cut(const char *image, const char *work, const char *name,
                     off_t from, off_t to,
                     char *(*sig_at)(const char *path, const char *name),
                     const char *before, const char *after)
{
    char wseg[4096];
    for (off_t cut = from; cut <= to; cut++) {
        rm_rf(work);
        copy_tree(image, work);
        last_segment(work, name, wseg, sizeof(wseg));
        ck_assert_int_eq(truncate(wseg, cut), 0);
        char *sig = sig_at(work, name);
        const char *want = cut == to ? after : before;
        ck_assert_msg(strcmp(sig, want) == 0,
                      "cut at %lld of [%lld, %lld]: neither before nor after",
                      (long long)cut, (long long)from, (long long)to);
        free(sig);
    }
}
