/*
 * test_quant_persist.c -- quantized codes kept by snapshot files
 * (persist/snapshot_quant.c, core/quant/quant_state.c; docs/FORMAT.md
 * sections 65-67).
 *
 * What is asserted:
 *   - round trips for int8, binary (every encoding), product, under
 *     cosine, dot and euclid: the opened collection holds the saved codes
 *     and trained state bit for bit, borrowed from the mapping (time-free
 *     evidence that the open neither trained nor encoded: the codes
 *     pointer lies inside the file's mapping, and the training count is
 *     the saved one, not the point count a retraining would record), and
 *     answers every query with the same ids and the same scores.  The
 *     history makes a retraining at open visible: the codes were trained
 *     on fewer points than the file holds.  Then the same upserts and
 *     deletes on the saved and the opened collection (which crosses the
 *     retraining point and grows the borrowed codes into owned memory)
 *     give the same codes and answers again, and a second save and open
 *     reproduces them;
 *   - a durable store's checkpoint keeps the codes: the reopened store
 *     maps them and answers as an in-memory twin;
 *   - a file without sections 65-67 (an older writer's, simulated by
 *     renaming them to an unknown kind) opens and rebuilds its codes;
 *   - damage: a flip anywhere in sections 65-67 is refused with
 *     QV_SNAPSHOT_VERIFY; without it the file is refused or opens into a
 *     collection that searches, writes and saves (ASan watches); sections
 *     whose checksums were fixed up after an inconsistent edit (a kind
 *     that disagrees with the config, a missing codes section, a NaN
 *     correction) are refused at every open; a malformed int8 code is
 *     refused by VERIFY and by the save of a collection opened without it.
 */
#include "core/core.h"
#include "core/quant/quant.h"
#include "persist/snapshot.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1200, DIM = 32, NQ = 30, K = 10, CLUSTERS = 8 };

static uint64_t rng;
static float gauss(void)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((rng >> 11) + 1.0) / 9007199254740993.0;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* n points of a Gaussian mixture (centres fixed, noise from seed). */
static float *mixture(size_t n, uint64_t seed)
{
    static float centres[CLUSTERS * DIM];
    rng = 99;
    for (int i = 0; i < CLUSTERS * DIM; i++)
        centres[i] = gauss();
    rng = seed;
    float *x = malloc(n * DIM * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIM; d++)
            x[i * DIM + d] = centres[(i % CLUSTERS) * DIM + d] + 0.6f * gauss();
    return x;
}

typedef struct qcase {
    uint32_t kind, enc, qenc;
} qcase;

static const qcase cases[] = {
    {QV_QUANTIZATION_INT8, 0, 0},
    {QV_QUANTIZATION_BINARY, QV_BINARY_ONE_BIT, QV_BINARY_QUERY_DEFAULT},
    {QV_QUANTIZATION_BINARY, QV_BINARY_ONE_AND_HALF_BITS,
     QV_BINARY_QUERY_SCALAR4BITS},
    {QV_QUANTIZATION_BINARY, QV_BINARY_TWO_BITS, QV_BINARY_QUERY_SCALAR8BITS},
    {QV_QUANTIZATION_PRODUCT, QV_PQ_X16, 0},
};
enum { N_CASES = sizeof(cases) / sizeof(cases[0]) };
static const qv_metric metrics[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                    QV_METRIC_EUCLID};

static qv_collection *make(qv_metric m, const qcase *q)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = m;
    cfg.full_scan_threshold_kb = 0; /* always the graph */
    cfg.hnsw_m = 8;
    cfg.hnsw_ef_construct = 32;
    cfg.quantization = q->kind;
    cfg.quant_quantile = q->kind == QV_QUANTIZATION_INT8 ? 0.99f : 0.0f;
    cfg.quant_encoding = q->enc;
    cfg.quant_query_encoding = q->qenc;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

/* Upserts points [from, to) of data with ids equal to their numbers. */
static void upsert_range(qv_collection *c, const float *data, size_t from,
                         size_t to)
{
    qv_point_id *ids = malloc((to - from) * sizeof(*ids));
    for (size_t i = from; i < to; i++)
        ids[i - from] = qv_id_from_num(i);
    ck_assert_int_eq(qv_upsert_batch(c, ids, data + from * DIM, to - from, DIM),
                     QV_OK);
    free(ids);
}

/* Deletes every step-th point of [from, to), highest first: the free
 * stack then reuses the lowest slot first, as a freshly opened file's
 * does, so two collections given the same writes place points alike. */
static void delete_every(qv_collection *c, size_t from, size_t to, size_t step)
{
    for (size_t i = to; i-- > from;)
        if (i % step == 0) {
            qv_point_id id = qv_id_from_num(i);
            qv_status st = qv_delete(c, &id);
            ck_assert(st == QV_OK || st == QV_ENOTFOUND); /* gone before */
        }
}

/* a and b hold the same trained state (and, with count, the same
 * training count) and, on every live slot, the same codes (and int8
 * corrections). */
static void same_state(const qv_collection *a, const qv_collection *b,
                       bool count)
{
    const qvi_quant *x = a->quant, *y = b->quant;
    ck_assert(x && y && a->quant_ok && b->quant_ok);
    ck_assert(x->trained && y->trained);
    if (count)
        ck_assert_uint_eq(a->quant_trained_on, b->quant_trained_on);
    ck_assert_uint_eq(a->used, b->used);
    ck_assert_uint_eq(x->row, y->row);
    ck_assert_int_eq(memcmp(&x->alpha, &y->alpha, sizeof(float)), 0);
    ck_assert_int_eq(memcmp(&x->offset, &y->offset, sizeof(float)), 0);
    size_t nt = qvi_quant_table_floats(x);
    ck_assert_uint_eq(nt, qvi_quant_table_floats(y));
    if (nt) {
        float *tx = malloc(nt * sizeof(float)),
              *ty = malloc(nt * sizeof(float));
        qvi_quant_tables(x, tx);
        qvi_quant_tables(y, ty);
        ck_assert_int_eq(memcmp(tx, ty, nt * sizeof(float)), 0);
        free(tx);
        free(ty);
    }
    for (uint32_t s = 0; s < a->used; s++) {
        ck_assert_uint_eq(a->live[s], b->live[s]);
        if (!a->live[s])
            continue;
        ck_assert_msg(memcmp(x->codes + (size_t)s * x->row,
                             y->codes + (size_t)s * y->row, x->row) == 0,
                      "slot %u's code differs", s);
        if (x->corr)
            ck_assert_int_eq(memcmp(&x->corr[s], &y->corr[s], sizeof(float)),
                             0);
    }
}

static void same_codes(const qv_collection *a, const qv_collection *b)
{
    same_state(a, b, true);
}

/* Every query gets the same ids and scores (bit for bit) from a and b,
 * on the codes alone (no rescoring: the scores are the code distances)
 * and rescored. */
static void same_answers(qv_collection *a, qv_collection *b,
                         const float *queries)
{
    for (int r = 0; r < 2; r++) {
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = K;
        p.hnsw_ef = 48;
        p.quant_rescore = r ? QV_RESCORE_ON : QV_RESCORE_OFF;
        p.quant_oversampling = 2.0;
        for (int q = 0; q < NQ; q++) {
            qv_hit ha[K], hb[K];
            size_t na, nb;
            ck_assert_int_eq(qv_search(a, queries + q * DIM, DIM, &p, ha, &na),
                             QV_OK);
            ck_assert_int_eq(qv_search(b, queries + q * DIM, DIM, &p, hb, &nb),
                             QV_OK);
            ck_assert_uint_eq(na, K);
            ck_assert_uint_eq(na, nb);
            for (size_t i = 0; i < na; i++) {
                ck_assert(qvi_id_equal(&ha[i].id, &hb[i].id));
                ck_assert_int_eq(
                    memcmp(&ha[i].score, &hb[i].score, sizeof(float)), 0);
            }
        }
    }
}

/* Opened without training: the codes lie in d's mapping. */
static void codes_borrowed(const qv_collection *d)
{
    ck_assert(d->quant && d->quant_ok);
    ck_assert(d->quant->borrowed);
    ck_assert(qvi_backing_contains(d->backing, d->quant->codes));
    if (d->quant->corr)
        ck_assert(qvi_backing_contains(d->backing, d->quant->corr));
}

static qv_collection *open_file(const char *path, unsigned flags)
{
    qv_collection *d = NULL;
    char err[256] = "";
    qv_status st = qv_snapshot_open(path, flags, &d, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "%s: %s", qv_status_name(st), err);
    return d;
}

/* The saved history trains on N/2 points, then adds N/4 (not enough to
 * retrain: a retraining open would train on 3N/4 and record another
 * count), then deletes every 10th point. */
START_TEST(round_trip_every_kind_and_metric)
{
    const qcase *qc = &cases[_i / 3];
    qv_metric m = metrics[_i % 3];
    scratch_dir_make("quant_persist_rt");
    float *data = mixture(N + N / 2, 1), *queries = mixture(NQ, 2);
    qv_collection *c = make(m, qc);
    upsert_range(c, data, 0, N / 2);
    upsert_range(c, data, N / 2, 3 * N / 4);
    delete_every(c, 0, 3 * N / 4, 10);
    ck_assert_uint_eq(c->quant_trained_on, N / 2);

    const char *p1 = scratch_path("one.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, p1), QV_OK);
    qv_collection *d = open_file(p1, 0);
    codes_borrowed(d);
    same_codes(c, d);
    same_answers(c, d, queries);
    qv_collection *v = open_file(p1, QV_SNAPSHOT_VERIFY);
    same_codes(c, v);
    qv_collection_release(v);

    /* The same writes on both: the count crosses twice the training count
     * (both retrain), the borrowed codes grow into owned memory. */
    upsert_range(c, data, 3 * N / 4, N + N / 2);
    upsert_range(d, data, 3 * N / 4, N + N / 2);
    delete_every(c, 0, N, 7);
    delete_every(d, 0, N, 7);
    ck_assert(!d->quant->borrowed);
    same_codes(c, d);
    same_answers(c, d, queries);

    const char *p2 = scratch_path("two.qvs");
    ck_assert_int_eq(qv_snapshot_save(d, p2), QV_OK);
    qv_collection *e = open_file(p2, 0);
    codes_borrowed(e);
    same_codes(d, e);
    same_answers(d, e, queries);
    same_answers(c, e, queries);

    qv_collection_release(c);
    qv_collection_release(d);
    qv_collection_release(e);
    free(data);
    free(queries);
    scratch_dir_remove();
}
END_TEST

/* An empty quantized collection round-trips: never written to, it has
 * no codes to keep (section 64 only); opened, it is trained on nothing and
 * its file has empty codes sections.  Both take points afterwards.  (The
 * training count of one-bit codes, which never retrain, may differ.) */
START_TEST(empty_collection_round_trip)
{
    scratch_dir_make("quant_persist_empty");
    float *data = mixture(N, 1);
    for (size_t i = 0; i < N_CASES; i++) {
        bool one_bit = cases[i].kind == QV_QUANTIZATION_BINARY &&
                       cases[i].enc == QV_BINARY_ONE_BIT;
        qv_collection *c = make(QV_METRIC_EUCLID, &cases[i]);
        const char *p = scratch_path("empty.qvs");
        ck_assert_int_eq(qv_snapshot_save(c, p), QV_OK);
        qv_collection *d = open_file(p, QV_SNAPSHOT_VERIFY);
        ck_assert(d->quant && d->quant_ok && d->quant->trained);
        const char *p2 = scratch_path("empty2.qvs");
        ck_assert_int_eq(qv_snapshot_save(d, p2), QV_OK);
        qv_collection *e = open_file(p2, QV_SNAPSHOT_VERIFY);
        ck_assert(e->quant && e->quant_ok && e->quant->trained);
        ck_assert_uint_eq(e->quant->cap, 0);
        upsert_range(c, data, 0, 300);
        upsert_range(d, data, 0, 300);
        upsert_range(e, data, 0, 300);
        same_state(c, d, !one_bit);
        same_state(c, e, !one_bit);
        qv_collection_release(c);
        qv_collection_release(d);
        qv_collection_release(e);
    }
    free(data);
    scratch_dir_remove();
}
END_TEST

/* A durable store: closing checkpoints the collection into a snapshot
 * that keeps its codes; the reopened store maps them (no training) and
 * answers as an in-memory twin given the same writes. */
START_TEST(durable_store_keeps_codes)
{
    scratch_dir_make("quant_persist_store");
    float *data = mixture(N, 1), *queries = mixture(NQ, 2);
    const qcase *qc = &cases[0];
    qv_collection *twin = make(QV_METRIC_EUCLID, qc);
    qv_collection_config cfg;
    ck_assert_int_eq(qv_collection_get_config(twin, &cfg), QV_OK);
    const char *dir = scratch_path("store");
    qv_store *st;
    qv_collection *c;
    ck_assert_int_eq(qv_store_open_dir(dir, NULL, &st, NULL, 0), QV_OK);
    ck_assert_int_eq(qv_store_create(st, "q", &cfg, &c), QV_OK);
    upsert_range(c, data, 0, N / 2);
    upsert_range(c, data, N / 2, 3 * N / 4);
    upsert_range(twin, data, 0, N / 2);
    upsert_range(twin, data, N / 2, 3 * N / 4);
    qv_collection_release(c);
    qv_store_close(st);
    ck_assert_int_eq(qv_store_open_dir(dir, NULL, &st, NULL, 0), QV_OK);
    ck_assert_int_eq(qv_store_get(st, "q", &c), QV_OK);
    codes_borrowed(c);
    same_codes(twin, c);
    same_answers(twin, c, queries);
    qv_collection_release(c);
    qv_store_close(st);
    qv_collection_release(twin);
    free(data);
    free(queries);
    scratch_dir_remove();
}
END_TEST

/* ---- file surgery -------------------------------------------------------- */

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

/* Table entry i of img. */
static uint8_t *entry(uint8_t *img, uint32_t i)
{
    return img + QVI_SNAP_HEADER_SIZE + (size_t)i * QVI_SNAP_ENTRY_SIZE;
}

static uint32_t n_sections(const uint8_t *img)
{
    uint32_t n;
    memcpy(&n, img + 20, 4);
    return n;
}

/* The table index of kind in img, or -1. */
static int find(uint8_t *img, uint32_t kind)
{
    for (uint32_t i = 0; i < n_sections(img); i++) {
        uint32_t k;
        memcpy(&k, entry(img, i), 4);
        if (k == kind)
            return (int)i;
    }
    return -1;
}

static void section_at(uint8_t *img, int i, uint64_t *off, uint64_t *len)
{
    memcpy(off, entry(img, (uint32_t)i) + 8, 8);
    memcpy(len, entry(img, (uint32_t)i) + 16, 8);
}

/* Recomputes section i's checksum (i < 0: none) and the header's, as a
 * writer would: damage that the checksums do not catch. */
static void fix_sums(uint8_t *img, int i)
{
    if (i >= 0) {
        uint64_t off, len;
        section_at(img, i, &off, &len);
        uint64_t sum = XXH3_64bits(img + off, len);
        memcpy(entry(img, (uint32_t)i) + 24, &sum, 8);
    }
    memset(img + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    uint64_t h =
        XXH3_64bits(img, QVI_SNAP_HEADER_SIZE +
                             (size_t)n_sections(img) * QVI_SNAP_ENTRY_SIZE);
    memcpy(img + QVI_SNAP_HEADER_SUM_AT, &h, 8);
}

/* Renames section kind `from` to `to` (an unknown kind: skipped). */
static void rename_kind(uint8_t *img, uint32_t from, uint32_t to)
{
    int i = find(img, from);
    ck_assert_int_ge(i, 0);
    memcpy(entry(img, (uint32_t)i), &to, 4);
    fix_sums(img, -1);
}

/* Loads img (len bytes) from an aligned copy. */
static qv_status load(const uint8_t *img, size_t len, unsigned flags,
                      qv_collection **out, uint8_t **buf, char *err,
                      size_t errcap)
{
    size_t cap = (len + 4095) & ~(size_t)4095;
    *buf = aligned_alloc(4096, cap ? cap : 4096);
    memcpy(*buf, img, len);
    return qvi_snapshot_load_buffer(*buf, len, flags, out, err, errcap);
}

/* An int8 collection trained on fewer points than it holds. */
static uint8_t *saved_image(const qcase *qc, size_t *len, qv_collection **keep)
{
    float *data = mixture(N, 1);
    qv_collection *c = make(QV_METRIC_DOT, qc);
    upsert_range(c, data, 0, N / 2);
    upsert_range(c, data, N / 2, 3 * N / 4);
    delete_every(c, 0, 3 * N / 4, 9);
    const char *p = scratch_path("img.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, p), QV_OK);
    free(data);
    if (keep)
        *keep = c;
    else
        qv_collection_release(c);
    return read_whole(p, len);
}

START_TEST(sections_are_optional_and_old_files_rebuild)
{
    scratch_dir_make("quant_persist_old");
    size_t len;
    qv_collection *c;
    uint8_t *img = saved_image(&cases[0], &len, &c);
    /* 64-67 are present and none is REQUIRED: an older reader skips them. */
    for (uint32_t kind = QVI_SNAP_QUANT; kind <= QVI_SNAP_QUANT_CORR; kind++) {
        int i = find(img, kind);
        ck_assert_int_ge(i, 0);
        uint32_t flags;
        memcpy(&flags, entry(img, (uint32_t)i) + 4, 4);
        ck_assert_uint_eq(flags & QVI_SNAP_SEC_REQUIRED, 0);
    }
    /* As an older writer's file: 65-67 unknown (70-72 are unassigned). */
    rename_kind(img, QVI_SNAP_QUANT_STATE, 70);
    rename_kind(img, QVI_SNAP_QUANT_CODES, 71);
    rename_kind(img, QVI_SNAP_QUANT_CORR, 72);
    const char *p = scratch_path("old.qvs");
    write_whole(p, img, len);
    for (int verify = 0; verify < 2; verify++) {
        qv_collection *d = open_file(p, verify ? QV_SNAPSHOT_VERIFY : 0);
        ck_assert(d->quant && d->quant_ok && !d->quant->borrowed);
        ck_assert(!qvi_backing_contains(d->backing, d->quant->codes));
        /* Rebuilt: trained on every point present now. */
        ck_assert_uint_eq(d->quant_trained_on, d->count);
        ck_assert_uint_ne(d->quant_trained_on, c->quant_trained_on);
        qv_search_params sp;
        qv_search_params_init(&sp);
        sp.k = K;
        qv_hit hits[K];
        size_t nh;
        float *q = mixture(1, 5);
        ck_assert_int_eq(qv_search(d, q, DIM, &sp, hits, &nh), QV_OK);
        ck_assert_uint_eq(nh, K);
        free(q);
        qv_collection_release(d);
    }
    qv_collection_release(c);
    free(img);
    scratch_dir_remove();
}
END_TEST

/* Searches, writes and saves on a collection loaded from a damaged file:
 * true when every call succeeded (the save may refuse damaged codes). */
static bool exercise(qv_collection *c, const char *path)
{
    float *q = mixture(3, 77);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = K;
    qv_hit hits[K];
    size_t nh;
    bool ok = qv_search(c, q, DIM, &sp, hits, &nh) == QV_OK;
    sp.quant_rescore = QV_RESCORE_OFF;
    ok &= qv_search(c, q + DIM, DIM, &sp, hits, &nh) == QV_OK;
    qv_point_id id = qv_id_from_num(5000);
    ok &= qv_upsert(c, &id, q + 2 * DIM, DIM) == QV_OK;
    id = qv_id_from_num(1);
    ok &= qv_delete(c, &id) == QV_OK;
    ok &= qv_search(c, q, DIM, &sp, hits, &nh) == QV_OK;
    qv_status st = qv_snapshot_save(c, path);
    ok &= st == QV_OK;
    ck_assert(st == QV_OK || st == QV_ECORRUPT);
    free(q);
    return ok;
}

START_TEST(damage_is_refused_or_harmless)
{
    scratch_dir_make("quant_persist_flip");
    const qcase *qc = &cases[_i];
    size_t len;
    uint8_t *img = saved_image(qc, &len, NULL);
    const char *resave = scratch_path("resave.qvs");
    unsigned verify_refused = 0, plain_refused = 0, plain_opened = 0,
             cases_run = 0;
    for (uint32_t kind = QVI_SNAP_QUANT_STATE; kind <= QVI_SNAP_QUANT_CORR;
         kind++) {
        int i = find(img, kind);
        if (kind == QVI_SNAP_QUANT_CORR && qc->kind != QV_QUANTIZATION_INT8) {
            ck_assert_int_lt(i, 0);
            continue;
        }
        ck_assert_int_ge(i, 0);
        uint64_t off, slen;
        section_at(img, i, &off, &slen);
        ck_assert_uint_gt(slen, 0);
        size_t step = slen / 30 ? slen / 30 : 1;
        for (size_t d = 0; d < slen; d += step) {
            cases_run++;
            uint8_t mask = (uint8_t)(1u << (d % 8));
            img[off + d] ^= mask;
            char err[256] = "";
            uint8_t *buf;
            qv_collection *c = NULL;
            qv_status st =
                load(img, len, QV_SNAPSHOT_VERIFY, &c, &buf, err, sizeof(err));
            ck_assert_msg(st == QV_ECORRUPT, "%s at %zu of kind %u: %s",
                          qv_status_name(st), d, kind, err);
            ck_assert(strstr(err, "section '") != NULL);
            ck_assert_ptr_null(c);
            verify_refused++;
            free(buf);
            st = load(img, len, 0, &c, &buf, err, sizeof(err));
            if (st == QV_OK) {
                plain_opened++;
                exercise(c, resave);
                qv_collection_release(c);
            } else {
                ck_assert_int_eq(st, QV_ECORRUPT);
                plain_refused++;
            }
            free(buf);
            img[off + d] ^= mask;
        }
    }
    /* The state is summed at every open; the codes only with VERIFY. */
    ck_assert_uint_eq(verify_refused, cases_run);
    ck_assert_uint_gt(plain_refused, 0);
    ck_assert_uint_gt(plain_opened, 0);
    ck_assert_uint_eq(plain_refused + plain_opened, cases_run);
    free(img);
    scratch_dir_remove();
}
END_TEST

/* Edits whose checksums were fixed up: inconsistent sections are refused
 * at every open; a malformed code by VERIFY and by a later save. */
START_TEST(inconsistent_sections_are_refused)
{
    scratch_dir_make("quant_persist_bad");
    size_t len;
    uint8_t *good = saved_image(&cases[0], &len, NULL);
    uint8_t *img = malloc(len);
    char err[256];
    uint8_t *buf;
    qv_collection *c;
    uint64_t off, slen;
    int ist = find(good, QVI_SNAP_QUANT_STATE);
    int icodes = find(good, QVI_SNAP_QUANT_CODES);
    int icorr = find(good, QVI_SNAP_QUANT_CORR);
    ck_assert(ist >= 0 && icodes >= 0 && icorr >= 0);

    /* 1. The state's kind disagrees with the config. */
    memcpy(img, good, len);
    section_at(img, ist, &off, &slen);
    img[off] = QV_QUANTIZATION_BINARY;
    fix_sums(img, ist);
    c = NULL;
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "quantization state"));
    free(buf);

    /* 2. The training count exceeds the slots. */
    memcpy(img, good, len);
    uint64_t big = 1u << 30;
    memcpy(img + off + 24, &big, 8);
    fix_sums(img, ist);
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)),
                     QV_ECORRUPT);
    free(buf);

    /* 3. A non-finite scale. */
    memcpy(img, good, len);
    float nan = NAN;
    memcpy(img + off + 32, &nan, 4);
    fix_sums(img, ist);
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)),
                     QV_ECORRUPT);
    free(buf);

    /* 4. The codes section is gone (renamed to an unknown kind). */
    memcpy(img, good, len);
    rename_kind(img, QVI_SNAP_QUANT_CODES, 75);
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "codes section is missing"));
    free(buf);

    /* 5. A NaN correction on a live slot (slot 1: every 9th is dead). */
    memcpy(img, good, len);
    section_at(img, icorr, &off, &slen);
    memcpy(img + off + 4, &nan, 4);
    fix_sums(img, icorr);
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)),
                     QV_ECORRUPT);
    free(buf);

    /* 6. An int8 code of 200 on live slot 1: opens, but VERIFY refuses it
     * and so does the save of the collection opened without VERIFY. */
    memcpy(img, good, len);
    section_at(img, icodes, &off, &slen);
    size_t row = (DIM + 15) / 16 * 16;
    img[off + row] = 200;
    fix_sums(img, icodes);
    ck_assert_int_eq(
        load(img, len, QV_SNAPSHOT_VERIFY, &c, &buf, err, sizeof(err)),
        QV_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "quantized codes"));
    free(buf);
    ck_assert_int_eq(load(img, len, 0, &c, &buf, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(qv_snapshot_save(c, scratch_path("bad.qvs")), QV_ECORRUPT);
    qv_collection_release(c);
    free(buf);

    /* 7. The unchanged image loads (the edits above were the cause). */
    ck_assert_int_eq(
        load(good, len, QV_SNAPSHOT_VERIFY, &c, &buf, err, sizeof(err)), QV_OK);
    codes_borrowed(c);
    qv_collection_release(c);
    free(buf);
    free(img);
    free(good);
    scratch_dir_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quant_persist");
    TCase *tc = tcase_create("quant_persist");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, round_trip_every_kind_and_metric, 0, N_CASES * 3);
    tcase_add_test(tc, empty_collection_round_trip);
    tcase_add_test(tc, durable_store_keeps_codes);
    tcase_add_test(tc, sections_are_optional_and_old_files_rebuild);
    tcase_add_loop_test(tc, damage_is_refused_or_harmless, 0, N_CASES);
    tcase_add_test(tc, inconsistent_sections_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
