/*
 * test_corruption.c -- damaged snapshot files and logs, byte by byte.
 *
 * Snapshots: a small collection with payloads, deletes and an HNSW graph
 * is saved; then bytes are flipped at every offset of the header and
 * section table, at a stride through every section (found through the
 * section table), in the padding between sections and at random offsets,
 * and the file is cut at many lengths.  Each damaged image is loaded
 * twice (qvi_snapshot_load_buffer, the loader under qv_snapshot_open):
 *   - with QV_SNAPSHOT_VERIFY, every damage inside the header, the table or
 *     a section is refused (QV_ECORRUPT / QV_EFORMAT) with a message
 *     naming the section (or the header).  A flip in the zero padding
 *     between sections is the one thing allowed through: no reader ever
 *     looks at those bytes (docs/FORMAT.md: they are outside every
 *     section and outside the header checksum's range), so they cannot
 *     change what is loaded.
 *   - without it, the load refuses or gives a collection on which count,
 *     scroll, get, payload reads, exact and graph search, an upsert, a
 *     delete and a re-save all run (ASan watches); the re-saved file must
 *     then verify, unless one of the operations reported an error (a save
 *     re-checks vectors and squared norms that came from the file, so
 *     their damage makes the save fail rather than carry over).
 * Every cut is refused both ways (the header records the file size).
 *
 * Logs: a durable store's log segment is damaged at a stride of offsets
 * and cut at many lengths; recovery must either succeed with a prefix of
 * the acknowledged records (damage in the last record, or a cut) or
 * refuse with QV_ECORRUPT naming the segment (damage followed by good
 * records).
 *
 * Outcome counters are asserted, so a loader that starts accepting (or
 * refusing) everything fails the test.  Files go to /dev/shm when it
 * exists: the re-saves fsync, and tmpfs makes that free.
 */
#include "persist/snapshot.h"
#include "persist/wal.h"
#include "tests/wal_support.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DIM = 8, NPOINTS = 300 };

static char dir[64];

static void setup(void)
{
    struct stat sb;
    const char *base =
        stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                    : "/tmp";
    snprintf(dir, sizeof(dir), "%s/qv-corrupt-XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    rm_rf(dir);
}

static const char *path_of(const char *name)
{
    static char p[4][160];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void vec_of(uint64_t seed, float *v)
{
    uint64_t s = seed * 31 + 7;
    for (int d = 0; d < DIM; d++)
        v[d] = (float)((rng_next(&s) >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n ? (size_t)n : 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_whole(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- snapshots ----------------------------------------------------------- */

/* 300 points, every third with a payload, every seventh deleted, a graph
 * (threshold 0), m 8. */
static uint8_t *good_snapshot(size_t *len)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_COSINE;
    cfg.full_scan_threshold_kb = 0;
    cfg.hnsw_m = 8;
    cfg.hnsw_ef_construct = 32;
    cfg.max_indexing_threads = 1;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    for (uint64_t i = 0; i < NPOINTS; i++) {
        qv_point_id id = qv_id_from_num(i + 1);
        float v[DIM];
        vec_of(i, v);
        char js[96];
        int n = snprintf(js, sizeof(js),
                         "{\"n\":%u,\"tag\":\"t%u\",\"list\":[1,\"x\",null]}",
                         (unsigned)i, (unsigned)(i % 5));
        const char *p = i % 3 == 0 ? js : NULL;
        size_t pl = (size_t)n;
        ck_assert_int_eq(qv_upsert_with_payloads(c, &id, v, 1, DIM, &p, &pl),
                         QV_OK);
    }
    for (uint64_t i = 0; i < NPOINTS; i += 7) {
        qv_point_id id = qv_id_from_num(i + 1);
        ck_assert_int_eq(qv_delete(c, &id), QV_OK);
    }
    const char *p = path_of("good.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, p), QV_OK);
    qv_collection_release(c);
    return read_whole(p, len);
}

/* Runs the read and write paths on a collection loaded without VERIFY.
 * Returns true when every operation succeeded (QV_ENOTFOUND on a get of a
 * scrolled id counts as a failure: the id map disagrees with the ids). */
static bool exercise(qv_collection *c)
{
    bool ok = true;
    uint64_t n = 0;
    ok &= qv_count(c, &n) == QV_OK;
    qv_point_id ids[NPOINTS + 8];
    size_t got = 0;
    ok &= qv_scroll(c, NULL, NULL, NPOINTS + 8, ids, &got, NULL, NULL) == QV_OK;
    float v[DIM];
    for (size_t i = 0; i < got; i++) {
        ok &= qv_get(c, &ids[i], v, DIM) == QV_OK;
        char *json = NULL;
        size_t jl;
        if (qv_payload_get(c, &ids[i], NULL, &json, &jl) == QV_OK)
            qv_free(json);
        else
            ok = false;
    }
    float q[DIM];
    vec_of(12345, q);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 10;
    qv_hit hits[10];
    size_t nh;
    ok &= qv_search(c, q, DIM, &sp, hits, &nh) == QV_OK;
    sp.exact = true;
    ok &= qv_search(c, q, DIM, &sp, hits, &nh) == QV_OK;
    qv_point_id fresh = qv_id_from_num(1000000);
    ok &= qv_upsert(c, &fresh, q, DIM) == QV_OK;
    if (got)
        ok &= qv_delete(c, &ids[got / 2]) == QV_OK;
    sp.exact = false;
    ok &= qv_search(c, q, DIM, &sp, hits, &nh) == QV_OK;
    return ok;
}

typedef struct snap_counts {
    unsigned cases, verify_refused, verify_padding_ok, plain_refused,
        plain_opened, resave_verified, ops_failed;
    /* Opened, every operation succeeded, and the re-saved file fails
     * verify: damage carried into the new file, by section kind. */
    unsigned resave_bad[QVI_SNAP_KIND_END];
} snap_counts;

/* Where offset at lies: -2 header/table, -1 padding, else a section. */
static int region_of(const qvi_snap_file *f, size_t at)
{
    if (at < QVI_SNAP_HEADER_SIZE + (size_t)QVI_SNAP_ENTRY_SIZE * f->n_sections)
        return -2;
    for (uint32_t i = 0; i < f->n_sections; i++)
        if (at >= f->sections[i].offset &&
            at - f->sections[i].offset < f->sections[i].length)
            return (int)i;
    return -1;
}

/* Loads w (len bytes) with and without VERIFY and checks the outcomes;
 * region is region_of the damage, or -3 for a cut. */
static void check_damaged(const uint8_t *img, size_t len,
                          const qvi_snap_file *good, int region, snap_counts *k)
{
    size_t cap = (len + 4095) & ~(size_t)4095;
    uint8_t *w = aligned_alloc(4096, cap ? cap : 4096);
    char err[256] = "";
    qv_collection *c = NULL;
    k->cases++;

    memcpy(w, img, len);
    qv_status st = qvi_snapshot_load_buffer(w, len, QV_SNAPSHOT_VERIFY, &c, err,
                                            sizeof(err));
    if (st == QV_OK) {
        ck_assert_msg(region == -1, "VERIFY accepted damage in region %d",
                      region);
        k->verify_padding_ok++;
        qv_collection_release(c);
    } else {
        ck_assert_msg(st == QV_ECORRUPT || st == QV_EFORMAT, "%s: %s",
                      qv_status_name(st), err);
        ck_assert_ptr_null(c);
        k->verify_refused++;
        if (region >= 0) {
            char name[64];
            snprintf(name, sizeof(name), "section '%s'",
                     qvi_snap_kind_name(good->sections[region].kind));
            ck_assert_msg(strstr(err, "section '") != NULL,
                          "damage in %s: message \"%s\"", name, err);
        } else {
            ck_assert_msg(err[0] != '\0', "no message");
        }
    }

    memcpy(w, img, len);
    c = NULL;
    st = qvi_snapshot_load_buffer(w, len, 0, &c, err, sizeof(err));
    if (st != QV_OK) {
        ck_assert_msg(st == QV_ECORRUPT || st == QV_EFORMAT, "%s: %s",
                      qv_status_name(st), err);
        ck_assert_ptr_null(c);
        ck_assert_msg(region != -1, "padding flip refused: %s", err);
        k->plain_refused++;
        free(w);
        return;
    }
    ck_assert_int_ne(region, -3); /* a cut is always refused */
    k->plain_opened++;
    bool ok = exercise(c);
    const char *p = path_of("resave.qvs");
    ok &= qv_snapshot_save(c, p) == QV_OK;
    qv_collection_release(c);
    free(w);
    if (!ok) {
        k->ops_failed++;
        return;
    }
    st = qv_snapshot_verify(p, err, sizeof(err));
    if (st != QV_OK) {
        ck_assert_msg(region >= 0, "region %d: re-saved file: %s", region, err);
        k->resave_bad[good->sections[region].kind]++;
        return;
    }
    k->resave_verified++;
}

START_TEST(test_snapshot_flips_and_cuts)
{
    size_t len;
    uint8_t *img = good_snapshot(&len);
    qvi_snap_file f;
    char err[256];
    ck_assert_int_eq(qvi_snapshot_parse(img, len, &f, err, sizeof(err)), QV_OK);
    ck_assert(f.has_graph);
    snap_counts k = {0};
    uint64_t rng = 42;
    unsigned per_region[QVI_SNAP_MAX_SECTIONS] = {0}, padding = 0;

#define FLIP(at, mask)                                                         \
    do {                                                                       \
        size_t at_ = (at);                                                     \
        uint8_t mask_ = (uint8_t)(mask) ? (uint8_t)(mask) : 0x80;              \
        int r_ = region_of(&f, at_);                                           \
        if (r_ >= 0)                                                           \
            per_region[r_]++;                                                  \
        padding += r_ == -1;                                                   \
        img[at_] ^= mask_;                                                     \
        check_damaged(img, len, &f, r_, &k);                                   \
        img[at_] ^= mask_;                                                     \
    } while (0)

    /* Every byte of the header and the section table, one bit each. */
    size_t table_end =
        QVI_SNAP_HEADER_SIZE + QVI_SNAP_ENTRY_SIZE * f.n_sections;
    for (size_t at = 0; at < table_end; at++)
        FLIP(at, 1u << (at % 8));
    /* Through each section: first and last byte and ~40 in between. */
    for (uint32_t i = 0; i < f.n_sections; i++) {
        const qvi_snap_section *s = &f.sections[i];
        if (!s->length)
            continue;
        size_t step = s->length / 40 ? s->length / 40 : 1;
        for (size_t d = 0; d < s->length; d += step)
            FLIP(s->offset + d, 1u << (d % 8));
        FLIP(s->offset + s->length - 1, 0xff);
    }
    /* Padding after each section (up to the next one), a few bytes. */
    for (uint32_t i = 0; i < f.n_sections; i++) {
        size_t end = f.sections[i].offset + f.sections[i].length;
        for (size_t d = 0; d < 64 && end + d < len; d += 13)
            if (region_of(&f, end + d) == -1)
                FLIP(end + d, 0x10);
    }
    for (int r = 0; r < 200; r++)
        FLIP(rng_next(&rng) % len, rng_next(&rng));
#undef FLIP

    unsigned flips = k.cases;
    /* Cuts: every length through the table, then a stride. */
    for (size_t cut = 0; cut < table_end + 8; cut++)
        check_damaged(img, cut, &f, -3, &k);
    for (size_t cut = table_end + 8; cut < len; cut += len / 150 + 1)
        check_damaged(img, cut, &f, -3, &k);
    check_damaged(img, len - 1, &f, -3, &k);

    for (uint32_t i = 0; i < f.n_sections; i++)
        if (f.sections[i].length)
            ck_assert_msg(per_region[i] >= 2, "section %u barely covered", i);
    printf("snapshot: %u sections, %zu bytes; %u flips (%u in padding), %u "
           "cuts; verify refused %u, accepted padding %u; without verify "
           "refused %u, opened %u (re-save verified %u, an operation failed "
           "%u)\n",
           f.n_sections, len, flips, padding, k.cases - flips, k.verify_refused,
           k.verify_padding_ok, k.plain_refused, k.plain_opened,
           k.resave_verified, k.ops_failed);
    for (uint32_t kind = 1; kind < QVI_SNAP_KIND_END; kind++)
        if (k.resave_bad[kind])
            printf("  damage in '%s' opened, worked and was re-saved into a "
                   "file that fails verify: %u cases\n",
                   qvi_snap_kind_name(kind), k.resave_bad[kind]);
    /* No damage is ever carried into a re-saved file. */
    for (uint32_t kind = 1; kind < QVI_SNAP_KIND_END; kind++)
        ck_assert_uint_eq(k.resave_bad[kind], 0);
    ck_assert_uint_gt(padding, 0);
    ck_assert_uint_eq(k.verify_refused + k.verify_padding_ok, k.cases);
    ck_assert_uint_eq(k.verify_padding_ok, padding);
    ck_assert_uint_eq(k.plain_refused + k.plain_opened, k.cases);
    /* Flips in the big arrays open without VERIFY; cuts never do. */
    ck_assert_uint_gt(k.plain_opened, padding + 50);
    ck_assert_uint_gt(k.plain_refused, k.cases - flips + 300);
    free(img);
}
END_TEST

/* ---- logs ---------------------------------------------------------------- */

enum { NREC = 12 };

typedef struct wal_counts {
    unsigned cases, recovered, full, refused;
} wal_counts;

/* Writes the store image (snapshot + the given segment bytes) to work. */
static void make_store(const char *work, const uint8_t *snap, size_t snap_len,
                       const char *seg_name, const uint8_t *seg, size_t len)
{
    char p[512];
    rm_rf(work);
    ck_assert_int_eq(mkdir(work, 0755), 0);
    snprintf(p, sizeof(p), "%s/collections", work);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/collections/t", work);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/collections/t/" QVI_SNAPSHOT_FILE, work);
    write_whole(p, snap, snap_len);
    snprintf(p, sizeof(p), "%s/collections/t/%s", work, seg_name);
    write_whole(p, seg, len);
}

/* Opens work; on success checks that the collection holds exactly the
 * points of the first n records for some n (a prefix), returned. */
static void check_recovery(const char *work, const char *seg_name,
                           bool tail_only, wal_counts *k)
{
    qv_store *s = NULL;
    char err[512];
    k->cases++;
    qv_status st = qv_store_open_dir(work, NULL, &s, err, sizeof(err));
    if (st != QV_OK) {
        ck_assert_ptr_null(s);
        ck_assert_msg((st == QV_ECORRUPT || st == QV_EFORMAT) && !tail_only,
                      "%s: %s", qv_status_name(st), err);
        ck_assert_msg(strstr(err, seg_name) != NULL, "message: %s", err);
        k->refused++;
        return;
    }
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_get(s, "t", &c), QV_OK);
    uint64_t n;
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    ck_assert_uint_le(n, NREC);
    for (uint64_t i = 0; i < NREC; i++) {
        qv_point_id id = qv_id_from_num(i + 1);
        float v[DIM], want[DIM];
        qv_status g = qv_get(c, &id, v, DIM);
        if (i < n) {
            ck_assert_int_eq(g, QV_OK);
            vec_of(i, want);
            ck_assert(memcmp(v, want, sizeof(v)) == 0);
        } else {
            ck_assert_int_eq(g, QV_ENOTFOUND);
        }
    }
    qv_collection_release(c);
    qv_store_close(s);
    k->recovered++;
    k->full += n == NREC;
}

static qv_status note_offset(void *arg, const qvi_change *r, size_t off)
{
    size_t *offs = arg;
    (void)r;
    for (int i = 0; i < NREC + 1; i++)
        if (offs[i] == 0) {
            offs[i] = off;
            break;
        }
    return QV_OK;
}

START_TEST(test_log_flips_and_cuts)
{
    /* A store whose log holds NREC upserts of one point each (raw
     * vectors: euclid keeps them bit for bit). */
    const char *base = path_of("store");
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = 0;
    qv_store *s = NULL;
    char err[512];
    ck_assert_int_eq(qv_store_open_dir(base, &o, &s, err, sizeof(err)), QV_OK);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_store_create(s, "t", &cfg, &c), QV_OK);
    for (uint64_t i = 0; i < NREC; i++) {
        qv_point_id id = qv_id_from_num(i + 1);
        float v[DIM];
        vec_of(i, v);
        const char *js = "{\"k\":\"some payload text\"}";
        size_t jl = strlen(js);
        ck_assert_int_eq(qv_upsert_with_payloads(c, &id, v, 1, DIM, &js, &jl),
                         QV_OK);
    }
    /* The image a crash would leave: the files as they are now. */
    char p[512], seg_name[300] = "";
    snprintf(p, sizeof(p), "%s/collections/t", base);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "wal-", 4) == 0)
            snprintf(seg_name, sizeof(seg_name), "%s", e->d_name);
    closedir(d);
    ck_assert(seg_name[0]);
    size_t snap_len, len;
    snprintf(p, sizeof(p), "%s/collections/t/" QVI_SNAPSHOT_FILE, base);
    uint8_t *snap = read_whole(p, &snap_len);
    snprintf(p, sizeof(p), "%s/collections/t/%s", base, seg_name);
    uint8_t *seg = read_whole(p, &len);
    qv_collection_release(c);
    qv_store_close(s);

    size_t offs[NREC + 1] = {0};
    qvi_wal_scan scan;
    ck_assert_int_eq(qvi_wal_scan_buffer(seg, len, note_offset, offs, &scan),
                     QV_OK);
    ck_assert_uint_eq(scan.n_records, NREC);
    size_t last = offs[NREC - 1];
    const char *work = path_of("work");
    wal_counts flips = {0}, cuts = {0};
    for (size_t at = 0; at < len; at += 3) {
        uint8_t mask = (uint8_t)(1u << (at % 8));
        seg[at] ^= mask;
        make_store(work, snap, snap_len, seg_name, seg, len);
        seg[at] ^= mask;
        check_recovery(work, seg_name, at >= last, &flips);
    }
    for (size_t cut = 0; cut < len; cut += 5) {
        make_store(work, snap, snap_len, seg_name, seg, cut);
        check_recovery(work, seg_name, cut >= QVI_WAL_SEG_HEADER, &cuts);
    }
    printf("log: %zu bytes, %d records; flips %u: recovered %u (all records "
           "%u), refused %u; cuts %u: recovered %u, refused %u\n",
           len, NREC, flips.cases, flips.recovered, flips.full, flips.refused,
           cuts.cases, cuts.recovered, cuts.refused);
    /* Mid-log damage is refused, tail damage recovered. */
    ck_assert_uint_gt(flips.refused, flips.cases / 2);
    ck_assert_uint_gt(flips.recovered, (len - last) / 3 / 2);
    ck_assert_uint_ge(cuts.recovered, cuts.cases - 7);
    free(snap);
    free(seg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("corruption");
    TCase *tc = tcase_create("corruption");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_snapshot_flips_and_cuts);
    tcase_add_test(tc, test_log_flips_and_cuts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
