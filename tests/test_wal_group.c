/*
 * test_wal_group.c -- one request = one change, all or nothing across a
 * crash at any byte.
 *
 *  1. Codec: the payload edit batch (kind 10), a group member (kind 11,
 *     framing any kind) and a group commit marker (kind 12) survive
 *     encode -> scan -> decode; bad edits are refused at encode; a member
 *     that frames a member or a marker is corrupt.
 *  2. The batch calls: qv_delete_batch and qv_payload_edit_batch are one
 *     record each; the log cut at every byte offset of that record
 *     recovers to the state before the call or after it, never between.
 *  3. Atomic groups: a group over two collections of a store (deletes,
 *     upserts, payload edits in both) is recorded write by write through
 *     the journals' hooks; a crash image cut after every byte of that
 *     sequence recovers both collections to "before" or both to "after".
 *     A rolled-back group stays rolled back at the next open, and a later
 *     group commits next to its skipped members.
 *  4. Old logs: a log of single-point records (kinds 2, 4-7) replays.
 */
#include "persist/wal.h"
#include "tests/wal_support.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DIM = 4 };

/* ---- helpers ------------------------------------------------------------- */

static qv_store *open_store(const char *path)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = 0; /* no automatic checkpoint */
    qv_store *s = NULL;
    char err[256];
    qv_status st = qv_store_open_dir(path, &o, &s, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "open %s: %s: %s", path, qv_status_name(st),
                  err);
    return s;
}

/* Appends printf output to a growing string. */
static void sig_add(char **s, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sig_add(char **s, size_t *len, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    *s = realloc(*s, *len + (size_t)n + 1);
    memcpy(*s + *len, tmp, (size_t)n + 1);
    *len += (size_t)n;
}

/* Everything a collection holds, as text: ids, vector bits, payloads. */
static char *signature(qv_collection *c)
{
    uint64_t n;
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    qv_point_id *ids = malloc((n ? n : 1) * sizeof(*ids));
    size_t got;
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, n ? n : 1, ids, &got, NULL, NULL),
                     QV_OK);
    char *s = NULL;
    size_t len = 0;
    sig_add(&s, &len, "%zu:", got);
    for (size_t i = 0; i < got; i++) {
        char text[QV_UUID_STRLEN];
        float v[DIM];
        uint32_t bits[DIM];
        char *json;
        size_t jl;
        qv_id_format(&ids[i], text, sizeof(text));
        ck_assert_int_eq(qv_get(c, &ids[i], v, DIM), QV_OK);
        memcpy(bits, v, sizeof(bits));
        ck_assert_int_eq(qv_payload_get(c, &ids[i], NULL, &json, &jl), QV_OK);
        sig_add(&s, &len, "%s[%x,%x,%x,%x]%s;", text, bits[0], bits[1], bits[2],
                bits[3], json);
        qv_free(json);
    }
    free(ids);
    return s;
}

/* Closes a scratch store without the checkpoints of qv_store_close
 * (their fsyncs would dominate the cut loops), as a failed open does. */
static void close_scratch(qv_store *s, qv_collection *const *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qvi_journal_detach(cs[i], NULL, NULL);
        qv_collection_release(cs[i]);
    }
    qv_store_close(s);
}

/* Signature of collection name in the store at path. */
static char *signature_at(const char *path, const char *name)
{
    qv_store *s = open_store(path);
    qv_collection *c;
    ck_assert_int_eq(qv_store_get(s, name, &c), QV_OK);
    char *sig = signature(c);
    close_scratch(s, &c, 1);
    return sig;
}

static void upsert_points(qv_collection *c, uint64_t from, uint64_t n,
                          const char *tag)
{
    qv_point_id *ids = malloc(n * sizeof(*ids));
    float *v = malloc(n * DIM * sizeof(float));
    char **texts = malloc(n * sizeof(char *));
    size_t *lens = malloc(n * sizeof(size_t));
    for (uint64_t i = 0; i < n; i++) {
        ids[i] = qv_id_from_num(from + i);
        for (int d = 0; d < DIM; d++)
            v[i * DIM + d] = (float)((from + i) * 7 % 13) + (float)d * 0.5f;
        texts[i] = malloc(96);
        lens[i] = (size_t)snprintf(texts[i], 96,
                                   "{\"i\":%u,\"tag\":\"%s\",\"m\":{\"k\":1}}",
                                   (unsigned)(from + i), tag);
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, v, n, DIM,
                                             (const char *const *)texts, lens),
                     QV_OK);
    for (uint64_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(ids);
    free(v);
}

static qv_collection *create(qv_store *s, const char *name)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, name, &cfg, &c), QV_OK);
    return c;
}

/* ---- 1. codec ------------------------------------------------------------ */

typedef struct got {
    qvi_change r[4];
    size_t n;
    bool ok[4];
} got;

/* Checks each decoded record against the expectations in want[]. */
typedef struct want_ctx {
    const qvi_change *want;
    size_t n, at;
} want_ctx;

static bool same_edit(const qv_payload_edit *a, const qv_payload_edit *b)
{
    if (a->kind != b->kind)
        return false;
    if ((a->key == NULL) != (b->key == NULL) ||
        (a->key && strcmp(a->key, b->key) != 0))
        return false;
    if ((a->json == NULL) != (b->json == NULL) || a->len != b->len ||
        (a->json && memcmp(a->json, b->json, a->len) != 0))
        return false;
    if (a->n_keys != b->n_keys)
        return false;
    for (size_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys[i], b->keys[i]) != 0)
            return false;
    return true;
}

static qv_status want_visit(void *arg, const qvi_change *r, size_t off)
{
    (void)off;
    want_ctx *x = arg;
    ck_assert_uint_lt(x->at, x->n);
    const qvi_change *w = &x->want[x->at++];
    ck_assert_uint_eq(r->kind, w->kind);
    ck_assert_uint_eq(r->lsn, w->lsn);
    ck_assert_uint_eq(r->group, w->group);
    ck_assert_uint_eq(r->n, w->n);
    for (size_t i = 0; i < r->n; i++)
        ck_assert_int_eq(qv_id_compare(&r->ids[i], &w->ids[i]), 0);
    ck_assert_uint_eq(r->n_edits, w->n_edits);
    for (size_t k = 0; k < r->n_edits; k++)
        ck_assert_msg(same_edit(&r->edits[k], &w->edits[k]), "edit %zu", k);
    return QV_OK;
}

START_TEST(test_codec)
{
    qv_point_id ids[3] = {
        qv_id_from_num(1), qv_id_from_num(9), {.kind = QV_ID_UUID}};
    memset(ids[2].u.uuid, 0x5a, 16);
    const char *keys[2] = {"a.b", "c[].d"};
    const char *one[1] = {"x"};
    qv_payload_edit edits[5] = {
        {.kind = QV_PAYLOAD_EDIT_SET, .json = "{\"a\":1}", .len = 7},
        {.kind = QV_PAYLOAD_EDIT_SET,
         .json = "{\"b\":2}",
         .len = 7,
         .key = "m.n"},
        {.kind = QV_PAYLOAD_EDIT_DELETE_KEYS, .keys = keys, .n_keys = 2},
        {.kind = QV_PAYLOAD_EDIT_CLEAR},
        {.kind = QV_PAYLOAD_EDIT_OVERWRITE, .json = "{}", .len = 2},
    };
    qvi_change want[4] = {
        {.kind = QVI_CHANGE_PAYLOAD_EDIT_BATCH,
         .lsn = 1,
         .ids = ids,
         .n = 3,
         .edits = edits,
         .n_edits = 5},
        {.kind = QVI_CHANGE_DELETE, .lsn = 2, .group = 7, .ids = ids, .n = 2},
        {.kind = QVI_CHANGE_PAYLOAD_DELETE_KEYS,
         .lsn = 3,
         .group = 7,
         .ids = ids,
         .n = 1,
         .keys = one,
         .n_keys = 1},
        {.kind = QVI_CHANGE_GROUP_COMMIT, .lsn = 4, .group = 7},
    };
    size_t len;
    uint8_t *seg = seg_new(&len, 1);
    for (size_t i = 0; i < 4; i++)
        seg_append(&seg, &len, &want[i]);
    want_ctx x = {.want = want, .n = 4};
    qvi_wal_scan scan;
    ck_assert_int_eq(qvi_wal_scan_buffer(seg, len, want_visit, &x, &scan),
                     QV_OK);
    ck_assert_uint_eq(x.at, 4);
    ck_assert_str_eq(qvi_wal_kind_name(QVI_CHANGE_PAYLOAD_EDIT_BATCH),
                     "payload edit batch");
    ck_assert_str_eq(qvi_wal_kind_name(QVI_CHANGE_GROUP_MEMBER),
                     "group member");
    /* The header of a member says kind 11; its body starts with the group
     * and the member's own kind. */
    size_t off2 = QVI_WAL_SEG_HEADER;
    uint32_t blen;
    memcpy(&blen, seg + off2 + 8, 4);
    off2 += 32 + ((blen + 7u) & ~7u);
    uint16_t k16;
    memcpy(&k16, seg + off2 + 12, 2);
    ck_assert_uint_eq(k16, QVI_CHANGE_GROUP_MEMBER);
    uint64_t gid;
    uint32_t inner;
    memcpy(&gid, seg + off2 + 32, 8);
    memcpy(&inner, seg + off2 + 40, 4);
    ck_assert_uint_eq(gid, 7);
    ck_assert_uint_eq(inner, QVI_CHANGE_DELETE);

    /* Refused at encode: an unknown edit kind, a SET without JSON, a
     * marker without a group. */
    uint8_t *buf = NULL;
    size_t cap = 0, n;
    char err[128];
    qv_payload_edit bad = {.kind = (qv_payload_edit_kind)9};
    qvi_change r = {.kind = QVI_CHANGE_PAYLOAD_EDIT_BATCH,
                    .ids = ids,
                    .n = 1,
                    .edits = &bad,
                    .n_edits = 1};
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &n, err, sizeof(err)),
                     QV_EINVAL);
    bad = (qv_payload_edit){.kind = QV_PAYLOAD_EDIT_SET};
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &n, err, sizeof(err)),
                     QV_EINVAL);
    r = (qvi_change){.kind = QVI_CHANGE_GROUP_COMMIT};
    ck_assert_int_eq(qvi_wal_encode(&r, &buf, &cap, &n, err, sizeof(err)),
                     QV_EINVAL);
    free(buf);

    /* Decode refusals: a member framing a marker, group id 0. */
    uint8_t body[24] = {0};
    uint64_t g = 3;
    uint32_t k = QVI_CHANGE_GROUP_COMMIT;
    memcpy(body, &g, 8);
    memcpy(body + 8, &k, 4);
    memcpy(body + 16, &g, 8);
    qvi_change d;
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_GROUP_MEMBER, 1, body, 24, &d,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&d);
    memset(body, 0, sizeof(body));
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_GROUP_COMMIT, 1, body, 8, &d,
                                    err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&d);
    /* An edit batch with an unknown edit kind. */
    uint8_t eb[64] = {0};
    uint64_t one_id = 1;
    uint32_t ne = 1, ek = 77;
    memcpy(eb, &one_id, 8); /* n = 1 */
    /* id: kind 0, zero, u64 5, zero */
    uint64_t five = 5;
    memcpy(eb + 8 + 8, &five, 8);
    memcpy(eb + 32, &ne, 4);
    memcpy(eb + 36, &ek, 4);
    ck_assert_int_eq(qvi_wal_decode(QVI_CHANGE_PAYLOAD_EDIT_BATCH, 1, eb, 40,
                                    &d, err, sizeof(err)),
                     QV_ECORRUPT);
    qvi_wal_change_free(&d);
    free(seg);
}
END_TEST

/* ---- 2. one call, one record: cut at every byte ----------------------------
 */

/* Runs op on collection "t" (40 points with payloads), then cuts the
 * crash image's log at every offset of what op appended: each cut
 * recovers to the state before op or after it. */
static void cut_every_offset(void (*op)(qv_collection *c), size_t *n_records)
{
    char *dir = make_tmpdir("walg"), live[4096], image[4096], work[4096],
         seg[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    PATHF(work, "%s/work", dir);
    qv_store *s = open_store(live);
    qv_collection *c = create(s, "t");
    upsert_points(c, 1, 40, "a");
    char *before = signature(c);
    last_segment(live, "t", seg, sizeof(seg));
    off_t from = file_size(seg);
    qvi_journal_stats st0, st1;
    ck_assert_int_eq(qvi_journal_get_stats(c, &st0), QV_OK);
    op(c);
    ck_assert_int_eq(qvi_journal_get_stats(c, &st1), QV_OK);
    *n_records = (size_t)(st1.appends - st0.appends);
    char *after = signature(c);
    copy_tree(live, image);
    off_t to = file_size(seg);
    qv_collection_release(c);
    qv_store_close(s);
    ck_assert_str_ne(before, after);
    check_every_cut(image, work, "t", from, to, signature_at, before, after);
    free(before);
    free(after);
    rm_rf(dir);
    free(dir);
}

static void op_delete_batch(qv_collection *c)
{
    qv_point_id ids[7];
    for (int i = 0; i < 7; i++)
        ids[i] = qv_id_from_num((uint64_t)(i % 5) * 2 + 1); /* repeats */
    ids[6] = qv_id_from_num(999);                           /* absent */
    uint64_t deleted = 0;
    ck_assert_int_eq(qv_delete_batch(c, ids, 7, &deleted), QV_OK);
    ck_assert_uint_eq(deleted, 5);
}

static void op_edit_batch(qv_collection *c)
{
    qv_point_id ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = qv_id_from_num((uint64_t)i * 3 + 5);
    const char *gone[2] = {"tag", "m.k"};
    qv_payload_edit e[3] = {
        {.kind = QV_PAYLOAD_EDIT_SET,
         .json = "{\"x\":[1,2],\"i\":null}",
         .len = 20},
        {.kind = QV_PAYLOAD_EDIT_DELETE_KEYS, .keys = gone, .n_keys = 2},
        {.kind = QV_PAYLOAD_EDIT_SET,
         .json = "{\"deep\":true}",
         .len = 13,
         .key = "m"},
    };
    ck_assert_int_eq(qv_payload_edit_batch(c, ids, 4, e, 3), QV_OK);
}

START_TEST(test_delete_batch_one_record)
{
    size_t n;
    cut_every_offset(op_delete_batch, &n);
    ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(test_edit_batch_one_record)
{
    size_t n;
    cut_every_offset(op_edit_batch, &n);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* The batch calls' contracts, on an in-memory collection. */
START_TEST(test_batch_contracts)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    upsert_points(c, 1, 10, "t");
    char *before = signature(c);
    qv_point_id ids[3] = {qv_id_from_num(1), qv_id_from_num(2),
                          qv_id_from_num(77)};
    qv_payload_edit clear = {.kind = QV_PAYLOAD_EDIT_CLEAR};
    /* An absent id: nothing changes. */
    ck_assert_int_eq(qv_payload_edit_batch(c, ids, 3, &clear, 1), QV_ENOTFOUND);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "77"));
    /* A payload the merge refuses (not an object) at the last edit:
     * nothing changes. */
    qv_payload_edit two[2] = {
        clear, {.kind = QV_PAYLOAD_EDIT_SET, .json = "[1]", .len = 3}};
    ck_assert_int_eq(qv_payload_edit_batch(c, ids, 2, two, 2), QV_EINVAL);
    ck_assert_int_eq(qv_payload_edit_batch(c, ids, 2, two, 0), QV_EINVAL);
    ck_assert_int_eq(qv_payload_edit_batch(c, NULL, 2, two, 1), QV_ENULL);
    qv_point_id bad = {.kind = (qv_id_kind)5};
    ck_assert_int_eq(qv_delete_batch(c, &bad, 1, NULL), QV_EINVAL);
    ck_assert_int_eq(qv_delete_batch(c, NULL, 1, NULL), QV_ENULL);
    char *now = signature(c);
    ck_assert_str_eq(before, now);
    free(now);
    /* n = 0 is no error and changes nothing. */
    uint64_t deleted = 5;
    ck_assert_int_eq(qv_delete_batch(c, ids, 0, &deleted), QV_OK);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(qv_payload_edit_batch(c, ids, 0, &clear, 1), QV_OK);
    /* Overwrite then set on a repeated id: applied once per point. */
    qv_point_id rep[3] = {ids[0], ids[1], ids[0]};
    qv_payload_edit ow[2] = {
        {.kind = QV_PAYLOAD_EDIT_OVERWRITE, .json = "{\"o\":1}", .len = 7},
        {.kind = QV_PAYLOAD_EDIT_SET, .json = "{\"s\":2}", .len = 7}};
    ck_assert_int_eq(qv_payload_edit_batch(c, rep, 3, ow, 2), QV_OK);
    char *json;
    size_t jl;
    ck_assert_int_eq(qv_payload_get(c, &ids[0], NULL, &json, &jl), QV_OK);
    ck_assert_str_eq(json, "{\"o\":1,\"s\":2}");
    qv_free(json);
    ck_assert_int_eq(qv_delete_batch(c, rep, 3, &deleted), QV_OK);
    ck_assert_uint_eq(deleted, 2);
    uint64_t count;
    qv_count(c, &count);
    ck_assert_uint_eq(count, 8);
    free(before);
    qv_collection_release(c);
}
END_TEST

/* ---- 3. atomic groups: cut after every byte of the group -------------------
 */

typedef struct wlog {
    int file[256]; /* which collection's segment each write went to */
    size_t len[256];
    size_t n;
} wlog;

typedef struct hook_arg {
    wlog *log;
    int file;
} hook_arg;

static ssize_t rec_write(void *arg, int fd, const void *b, size_t n, off_t off)
{
    hook_arg *h = arg;
    ck_assert_uint_lt(h->log->n, 256);
    h->log->file[h->log->n] = h->file;
    h->log->len[h->log->n++] = n;
    return pwrite(fd, b, n, off);
}

static int rec_sync(void *arg, int fd)
{
    (void)arg;
    return fdatasync(fd);
}

/* The group under test: changes in both collections, several records in
 * each. */
static void the_group(qv_collection *a, qv_collection *b)
{
    qv_collection *both[3] = {b, a, b}; /* order and repeats do not matter */
    qv_group *g;
    ck_assert_int_eq(qv_group_begin(both, 3, &g), QV_OK);
    qv_point_id del[4];
    for (int i = 0; i < 4; i++)
        del[i] = qv_id_from_num((uint64_t)i * 4 + 1);
    ck_assert_int_eq(qv_delete_batch(a, del, 4, NULL), QV_OK);
    qv_payload_edit set = {
        .kind = QV_PAYLOAD_EDIT_SET, .json = "{\"g\":1}", .len = 7};
    ck_assert_int_eq(qv_payload_edit_batch(b, del, 4, &set, 1), QV_OK);
    upsert_points(a, 100, 1, "new");
    ck_assert_int_eq(qv_delete_batch(b, del + 2, 2, NULL), QV_OK);
    ck_assert_int_eq(qv_group_end(g), QV_OK);
}

/* The crash image left when the first cut bytes of the recorded writes
 * reached the files: image copied to work, with each collection's newest
 * log cut to its size before the group (base) plus its share of those
 * bytes; opened, with collections a and b in *ca and *cb. */
static qv_store *open_cut(const char *image, const char *work, const wlog *log,
                          const off_t base[2], size_t cut, qv_collection **ca,
                          qv_collection **cb)
{
    off_t size[2] = {base[0], base[1]};
    size_t left = cut;
    for (size_t i = 0; i < log->n && left; i++) {
        size_t k = log->len[i] < left ? log->len[i] : left;
        size[log->file[i]] += (off_t)k;
        left -= k;
    }
    rm_rf(work);
    copy_tree(image, work);
    char wa[4096], wb[4096];
    last_segment(work, "a", wa, sizeof(wa));
    last_segment(work, "b", wb, sizeof(wb));
    ck_assert_int_eq(truncate(wa, size[0]), 0);
    ck_assert_int_eq(truncate(wb, size[1]), 0);
    qv_store *w = open_store(work);
    ck_assert_int_eq(qv_store_get(w, "a", ca), QV_OK);
    ck_assert_int_eq(qv_store_get(w, "b", cb), QV_OK);
    return w;
}

START_TEST(test_group_every_byte)
{
    char *dir = make_tmpdir("walg"), live[4096], image[4096], work[4096],
         sa[4096], sb[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    PATHF(work, "%s/work", dir);
    qv_store *s = open_store(live);
    qv_collection *a = create(s, "a"), *b = create(s, "b");
    upsert_points(a, 1, 20, "a");
    upsert_points(b, 1, 20, "b");
    char *before_a = signature(a), *before_b = signature(b);
    last_segment(live, "a", sa, sizeof(sa));
    last_segment(live, "b", sb, sizeof(sb));
    off_t base[2] = {file_size(sa), file_size(sb)};
    wlog log = {0};
    hook_arg ha = {&log, 0}, hb = {&log, 1};
    qvi_journal_hooks h = {.write = rec_write, .sync = rec_sync, .arg = &ha};
    qvi_journal_set_hooks(a, &h);
    h.arg = &hb;
    qvi_journal_set_hooks(b, &h);
    the_group(a, b);
    char *after_a = signature(a), *after_b = signature(b);
    copy_tree(live, image);
    /* The group wrote members to both logs, then a marker to each. */
    size_t total = 0, writes_a = 0, writes_b = 0;
    for (size_t i = 0; i < log.n; i++) {
        total += log.len[i];
        writes_a += log.file[i] == 0;
        writes_b += log.file[i] == 1;
    }
    ck_assert_uint_eq(writes_a, 3); /* delete, upsert, marker */
    ck_assert_uint_eq(writes_b, 3); /* edit, delete, marker */
    ck_assert_int_eq((off_t)total,
                     file_size(sa) - base[0] + file_size(sb) - base[1]);
    qv_collection_release(a);
    qv_collection_release(b);
    qv_store_close(s);

    size_t n_after = 0, n_before = 0, rolled_back_cut = 0;
    for (size_t cut = 0; cut <= total; cut++) {
        qv_collection *ca, *cb;
        qv_store *w = open_cut(image, work, &log, base, cut, &ca, &cb);
        char *ga = signature(ca), *gb = signature(cb);
        bool is_before = !strcmp(ga, before_a) && !strcmp(gb, before_b);
        bool is_after = !strcmp(ga, after_a) && !strcmp(gb, after_b);
        ck_assert_msg(is_before || is_after,
                      "cut after %zu of %zu bytes: a half-applied group", cut,
                      total);
        n_after += is_after;
        n_before += is_before;
        if (is_before && cut > total / 2)
            rolled_back_cut = cut;
        free(ga);
        free(gb);
        qv_collection *both[2] = {ca, cb};
        close_scratch(w, both, 2);
    }
    /* Both outcomes occur, and every cut gave one of them. */
    ck_assert_uint_gt(n_before, 0);
    ck_assert_uint_gt(n_after, 0);
    ck_assert_uint_eq(n_before + n_after, total + 1);

    /* A rolled-back group stays rolled back, and a later group over the
     * same collections commits while the skipped members are still in the
     * logs.  (The id counter is per process, so this does not show that
     * ids stay unique across a restart: qvi_wal_groups_seen does.) */
    ck_assert_uint_gt(rolled_back_cut, 0);
    qv_collection *ca, *cb;
    qv_store *w = open_cut(image, work, &log, base, rolled_back_cut, &ca, &cb);
    the_group(ca, cb);
    char *again_a = signature(ca), *again_b = signature(cb);
    ck_assert_str_eq(again_a, after_a);
    ck_assert_str_eq(again_b, after_b);
    char image2[4096];
    PATHF(image2, "%s/image2", dir);
    copy_tree(work, image2);
    qv_collection_release(ca);
    qv_collection_release(cb);
    qv_store_close(w);
    char *r_a = signature_at(image2, "a"), *r_b = signature_at(image2, "b");
    ck_assert_str_eq(r_a, after_a);
    ck_assert_str_eq(r_b, after_b);
    /* And twice: the skipped members are still skipped. */
    free(r_a);
    free(r_b);
    r_a = signature_at(image2, "a");
    r_b = signature_at(image2, "b");
    ck_assert_str_eq(r_a, after_a);
    ck_assert_str_eq(r_b, after_b);
    free(r_a);
    free(r_b);
    free(again_a);
    free(again_b);
    free(before_a);
    free(before_b);
    free(after_a);
    free(after_b);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Groups on in-memory collections are no-ops; end(NULL) is legal. */
START_TEST(test_group_in_memory)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    qv_group *g;
    ck_assert_int_eq(qv_group_begin(&c, 1, &g), QV_OK);
    upsert_points(c, 1, 3, "m");
    ck_assert_int_eq(qv_group_end(g), QV_OK);
    ck_assert_int_eq(qv_group_end(NULL), QV_OK);
    ck_assert_int_eq(qv_group_begin(&c, 1, NULL), QV_ENULL);
    qv_collection *none = NULL;
    ck_assert_int_eq(qv_group_begin(&none, 1, &g), QV_ENULL);
    ck_assert_ptr_null(g);
    qv_collection_release(c);
}
END_TEST

/* ---- 4. old logs -----------------------------------------------------------
 */

/* A log written by single-point calls only (what earlier builds wrote)
 * recovers to the live state. */
START_TEST(test_old_records_replay)
{
    char *dir = make_tmpdir("walg"), live[4096], image[4096];
    PATHF(live, "%s/live", dir);
    PATHF(image, "%s/image", dir);
    qv_store *s = open_store(live);
    qv_collection *c = create(s, "t");
    upsert_points(c, 1, 10, "o");
    for (uint64_t i = 1; i <= 3; i++) {
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_delete(c, &id), QV_OK);
    }
    qv_point_id id = qv_id_from_num(5);
    const char *k[1] = {"tag"};
    ck_assert_int_eq(qv_payload_set(c, &id, "{\"z\":1}", 7, NULL), QV_OK);
    ck_assert_int_eq(qv_payload_delete_keys(c, &id, k, 1), QV_OK);
    id = qv_id_from_num(6);
    ck_assert_int_eq(qv_payload_overwrite(c, &id, "{\"w\":2}", 7), QV_OK);
    id = qv_id_from_num(7);
    ck_assert_int_eq(qv_payload_clear(c, &id), QV_OK);
    char *want = signature(c);
    copy_tree(live, image);
    qv_collection_release(c);
    qv_store_close(s);
    char *got_sig = signature_at(image, "t");
    ck_assert_str_eq(got_sig, want);
    free(got_sig);
    free(want);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Group ids come from the store, not the process: two stores both start
 * at 1, a group spanning both takes an id above each one's next and
 * raises both, so no store's logs ever hold one id twice. */
static void one_group(qv_collection *const *cs, size_t n, uint64_t id0)
{
    qv_group *g;
    ck_assert_int_eq(qv_group_begin(cs, n, &g), QV_OK);
    for (size_t i = 0; i < n; i++)
        upsert_points(cs[i], id0, 2, "g");
    ck_assert_int_eq(qv_group_end(g), QV_OK);
}

static void committed_ids(const char *store, const char *name, uint64_t *ids,
                          size_t *n)
{
    char dir[4096], err[256];
    PATHF(dir, "%s/collections/%s", store, name);
    qvi_wal_groups g = {0};
    ck_assert_int_eq(qvi_wal_groups_scan_dir(&g, dir, err, sizeof(err)), QV_OK);
    qvi_wal_groups_sort(&g);
    *n = 0;
    for (uint64_t id = 1; id <= 8; id++)
        if (qvi_wal_groups_committed(&g, id))
            ids[(*n)++] = id;
    qvi_wal_groups_free(&g);
}

START_TEST(test_group_ids_per_store)
{
    char *dir = make_tmpdir("walg"), p1[4096], p2[4096];
    PATHF(p1, "%s/one", dir);
    PATHF(p2, "%s/two", dir);
    qv_store *s1 = open_store(p1), *s2 = open_store(p2);
    qv_collection *a = create(s1, "a"), *b = create(s2, "b");
    one_group(&a, 1, 10); /* s1: 1 */
    one_group(&b, 1, 20); /* s2: 1 as well */
    qv_collection *ab[2] = {a, b};
    one_group(ab, 2, 30); /* both: 2 */
    one_group(&b, 1, 40); /* s2: 3 */
    one_group(&a, 1, 50); /* s1: 3 */
    uint64_t ids[8];
    size_t n;
    committed_ids(p1, "a", ids, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    committed_ids(p2, "b", ids, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
    qv_collection_release(a);
    qv_collection_release(b);
    qv_store_close(s1);
    qv_store_close(s2);
    rm_rf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wal_group");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_codec);
    tcase_add_test(tc, test_batch_contracts);
    tcase_add_test(tc, test_delete_batch_one_record);
    tcase_add_test(tc, test_edit_batch_one_record);
    tcase_add_test(tc, test_group_every_byte);
    tcase_add_test(tc, test_group_in_memory);
    tcase_add_test(tc, test_group_ids_per_store);
    tcase_add_test(tc, test_old_records_replay);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
