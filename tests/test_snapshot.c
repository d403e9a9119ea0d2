/*
 * test_snapshot.c -- snapshot files: round trips, edits on an opened
 * snapshot, verification, failure paths and a few crafted corruptions.
 *
 * A round trip is checked by comparing two collections through the public
 * API only: the same ids, vectors (bit for bit), payloads (as JSON text),
 * counts, and the same hits and scores for exact, graph and filtered
 * searches.  Corruptions are made on the bytes of a good file, with the
 * checksums recomputed where the test wants a deeper check to fire (the
 * layout constants come from persist/snapshot.h).
 */
#include "core/core.h"
#include "core/hnsw/hnsw.h"
#include "persist/snapshot.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static void setup(void)
{
    scratch_dir_make("snap-test");
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_float(uint64_t *s)
{
    return (float)((rng_next(s) >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static qv_point_id make_id(uint64_t i)
{
    if (i % 3 != 0)
        return qv_id_from_num(i * 7 + 1);
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_UUID;
    uint64_t s = i;
    for (int b = 0; b < 16; b++)
        id.u.uuid[b] = (uint8_t)rng_next(&s);
    return id;
}

static const char *const shapes[] = {
    NULL,
    "{}",
    "{\"a\":1,\"b\":\"x\",\"ok\":true,\"none\":null}",
    "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null,\"e\":[[]]}]}},\"f\":-2.5}",
    "{\"tags\":[\"red\",\"green\",\"blue\"],\"n\":[1,2.5,-3],\"mix\":[1,\"a\","
    "{\"k\":false}]}",
    "{\"name\":\"Zo\xc3\xab \xe2\x80\x93 \xe6\x9d\xb1\xe4\xba\xac "
    "\xf0\x9f\x9a\x80\",\"esc\":\"q\\\"\\\\\\n\\u0001\"}",
    "{\"big\":9007199254740993,\"neg\":-9007199254740992,\"f\":1e300}",
};
#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

static qv_collection *make(uint32_t dim, qv_metric metric, uint32_t thr_kb)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = metric;
    cfg.full_scan_threshold_kb = thr_kb;
    cfg.hnsw_m = 8;
    cfg.hnsw_ef_construct = 64;
    cfg.max_indexing_threads = 2;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

/* Upserts points [from, to) with payload shapes and random vectors. */
static void fill(qv_collection *c, uint64_t from, uint64_t to, uint64_t seed)
{
    qv_collection_config cfg;
    qv_collection_get_config(c, &cfg);
    size_t n = (size_t)(to - from);
    qv_point_id *ids = malloc(n * sizeof(*ids));
    float *v = malloc(n * cfg.dim * sizeof(float));
    const char **p = malloc(n * sizeof(*p));
    size_t *lens = malloc(n * sizeof(*lens));
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        ids[i] = make_id(from + i);
        for (uint32_t d = 0; d < cfg.dim; d++)
            v[i * cfg.dim + d] = rng_float(&s);
        p[i] = shapes[(from + i) % N_SHAPES];
        lens[i] = p[i] ? strlen(p[i]) : 0;
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, v, n, cfg.dim, p, lens),
                     QV_OK);
    free(ids);
    free(v);
    free(p);
    free(lens);
}

/* Deletes every k-th point of [from, to) (those still there). */
static void delete_every(qv_collection *c, uint64_t from, uint64_t to,
                         uint64_t k)
{
    for (uint64_t i = from; i < to; i += k) {
        qv_point_id id = make_id(i);
        bool has;
        ck_assert_int_eq(qv_contains(c, &id, &has), QV_OK);
        ck_assert_int_eq(qv_delete(c, &id), has ? QV_OK : QV_ENOTFOUND);
    }
}

static qv_point_id *all_ids(qv_collection *c, size_t *n)
{
    uint64_t count;
    ck_assert_int_eq(qv_count(c, &count), QV_OK);
    qv_point_id *ids = malloc((count + 1) * sizeof(*ids));
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, count + 1, ids, n, NULL, NULL),
                     QV_OK);
    ck_assert_uint_eq(*n, count);
    return ids;
}

static void same_search(qv_collection *a, qv_collection *b,
                        const qv_search_params *p, const float *q, uint32_t dim)
{
    qv_hit ha[20], hb[20];
    size_t na = 0, nb = 0;
    ck_assert_int_eq(qv_search(a, q, dim, p, ha, &na), QV_OK);
    ck_assert_int_eq(qv_search(b, q, dim, p, hb, &nb), QV_OK);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        ck_assert_int_eq(qv_id_compare(&ha[i].id, &hb[i].id), 0);
        ck_assert(ha[i].score == hb[i].score);
    }
}

/* a and b hold the same points and answer every search alike. */
static void same_collection(qv_collection *a, qv_collection *b)
{
    qv_collection_config ca, cb;
    qv_collection_get_config(a, &ca);
    qv_collection_get_config(b, &cb);
    ck_assert_uint_eq(ca.dim, cb.dim);
    ck_assert_int_eq(ca.metric, cb.metric);
    ck_assert_uint_eq(ca.hnsw_m, cb.hnsw_m);
    ck_assert_uint_eq(ca.hnsw_ef_construct, cb.hnsw_ef_construct);
    ck_assert_uint_eq(ca.full_scan_threshold_kb, cb.full_scan_threshold_kb);
    ck_assert_uint_eq(ca.hnsw_seed, cb.hnsw_seed);
    ck_assert_uint_eq(ca.max_indexing_threads, cb.max_indexing_threads);
    ck_assert_uint_eq(a->lsn, b->lsn);
    size_t na, nb;
    qv_point_id *ia = all_ids(a, &na), *ib = all_ids(b, &nb);
    ck_assert_uint_eq(na, nb);
    float *va = malloc(ca.dim * sizeof(float));
    float *vb = malloc(ca.dim * sizeof(float));
    for (size_t i = 0; i < na; i++) {
        ck_assert_int_eq(qv_id_compare(&ia[i], &ib[i]), 0);
        ck_assert_int_eq(qv_get(a, &ia[i], va, ca.dim), QV_OK);
        ck_assert_int_eq(qv_get(b, &ia[i], vb, ca.dim), QV_OK);
        ck_assert_mem_eq(va, vb, ca.dim * sizeof(float));
        char *ja, *jb;
        size_t la, lb;
        ck_assert_int_eq(qv_payload_get(a, &ia[i], NULL, &ja, &la), QV_OK);
        ck_assert_int_eq(qv_payload_get(b, &ia[i], NULL, &jb, &lb), QV_OK);
        ck_assert_str_eq(ja, jb);
        qv_free(ja);
        qv_free(jb);
    }
    qv_filter *f = NULL;
    const char *ftext = "{\"must\":[{\"key\":\"a\",\"match\":{\"value\":1}}]}";
    ck_assert_int_eq(qv_filter_parse(ftext, strlen(ftext), &f, NULL, 0), QV_OK);
    uint64_t fa, fb;
    ck_assert_int_eq(qv_count_filter(a, f, &fa), QV_OK);
    ck_assert_int_eq(qv_count_filter(b, f, &fb), QV_OK);
    ck_assert_uint_eq(fa, fb);
    uint64_t s = 99;
    for (int t = 0; t < 12; t++) {
        for (uint32_t d = 0; d < ca.dim; d++)
            va[d] = rng_float(&s);
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = 10;
        p.hnsw_ef = 32;
        same_search(a, b, &p, va, ca.dim);
        p.exact = true;
        same_search(a, b, &p, va, ca.dim);
        p.exact = false;
        p.filter = f;
        same_search(a, b, &p, va, ca.dim);
    }
    qv_filter_free(f);
    free(va);
    free(vb);
    free(ia);
    free(ib);
}

static qv_collection *open_ok(const char *path, unsigned flags)
{
    char err[256] = "";
    qv_collection *c = NULL;
    qv_status st = qv_snapshot_open(path, flags, &c, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "open %s: %s: %s", path, qv_status_name(st),
                  err);
    return c;
}

static void save_ok(qv_collection *c, const char *path)
{
    qv_status st = qv_snapshot_save(c, path);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(st == QV_OK, "save %s: %s", path, msg);
}

/* ---- round trips --------------------------------------------------------- */

/* Every metric, with no graph (threshold far above the size), a graph
 * from the start (threshold 0) and a graph built on crossing it. */
START_TEST(test_roundtrip_metrics)
{
    static const uint32_t thresholds[] = {1000000, 0, 8};
    qv_metric metric = (qv_metric)(_i / 3);
    uint32_t thr = thresholds[_i % 3];
    qv_collection *c = make(13, metric, thr);
    fill(c, 0, 700, 1 + (uint64_t)_i);
    delete_every(c, 0, 700, 5);
    fill(c, 700, 760, 77); /* reuses deleted slots */
    const char *p = scratch_path("rt.qvs");
    save_ok(c, p);
    qv_collection *d = open_ok(p, 0);
    same_collection(c, d);
    qv_collection *e = open_ok(p, QV_SNAPSHOT_VERIFY);
    same_collection(c, e);
    char err[256];
    ck_assert_int_eq(qv_snapshot_verify(p, err, sizeof(err)), QV_OK);
    qv_collection_release(c);
    qv_collection_release(d);
    qv_collection_release(e);
}
END_TEST

START_TEST(test_empty_and_lsn)
{
    for (int thr = 0; thr < 2; thr++) {
        qv_collection *c = make(4, QV_METRIC_EUCLID, thr ? 100000 : 0);
        c->lsn = 42;
        const char *p = scratch_path("empty.qvs");
        save_ok(c, p);
        qv_collection *d = open_ok(p, QV_SNAPSHOT_VERIFY);
        ck_assert_uint_eq(d->lsn, 42);
        uint64_t n = 1;
        ck_assert_int_eq(qv_count(d, &n), QV_OK);
        ck_assert_uint_eq(n, 0);
        fill(d, 0, 50, 3);
        fill(c, 0, 50, 3);
        same_collection(c, d);
        d->lsn = 43;
        save_ok(d, p);
        qv_collection *e = open_ok(p, QV_SNAPSHOT_VERIFY);
        ck_assert_uint_eq(e->lsn, 43);
        same_collection(d, e);
        qv_collection_release(c);
        qv_collection_release(d);
        qv_collection_release(e);
    }
}
END_TEST

/* An opened snapshot takes upserts (new points, replaced vectors, reused
 * slots, growth past the mapped capacity), deletes and payload edits; the
 * file it came from is untouched, and saving it gives a file that behaves
 * the same.  Also saves over its own file. */
START_TEST(test_edit_opened_snapshot)
{
    qv_collection *c = make(9, QV_METRIC_COSINE, 0);
    fill(c, 0, 900, 5);
    delete_every(c, 0, 900, 7);
    const char *p1 = scratch_path("one.qvs"), *p2 = scratch_path("two.qvs");
    save_ok(c, p1);
    struct stat before, after;
    ck_assert_int_eq(stat(p1, &before), 0);
    char *orig = NULL;
    {
        FILE *f = fopen(p1, "rb");
        orig = malloc((size_t)before.st_size);
        ck_assert_uint_eq(fread(orig, 1, (size_t)before.st_size, f),
                          (size_t)before.st_size);
        fclose(f);
    }

    qv_collection *d = open_ok(p1, 0);
    delete_every(d, 1, 900, 11); /* deletes in the mapped live bytes */
    fill(d, 2000, 2150, 8);      /* reuses slots, then grows */
    fill(d, 3, 60, 9);           /* replaces vectors of mapped points */
    qv_point_id id = make_id(4);
    const char *set = "{\"added\":[1,2,3]}";
    ck_assert_int_eq(qv_payload_set(d, &id, set, strlen(set), NULL), QV_OK);
    id = make_id(5);
    const char *keys[] = {"a", "tags"};
    ck_assert_int_eq(qv_payload_delete_keys(d, &id, keys, 2), QV_OK);
    id = make_id(8);
    ck_assert_int_eq(qv_payload_clear(d, &id), QV_OK);
    id = make_id(10);
    const char *ow = "{\"over\":\"written\"}";
    ck_assert_int_eq(qv_payload_overwrite(d, &id, ow, strlen(ow)), QV_OK);
    char *json;
    size_t len;
    ck_assert_int_eq(qv_payload_get(d, &id, NULL, &json, &len), QV_OK);
    ck_assert_str_eq(json, ow);
    qv_free(json);

    /* The file is exactly as written. */
    ck_assert_int_eq(stat(p1, &after), 0);
    ck_assert_int_eq(after.st_size, before.st_size);
    {
        FILE *f = fopen(p1, "rb");
        char *now = malloc((size_t)after.st_size);
        ck_assert_uint_eq(fread(now, 1, (size_t)after.st_size, f),
                          (size_t)after.st_size);
        fclose(f);
        ck_assert_mem_eq(now, orig, (size_t)after.st_size);
        free(now);
    }
    free(orig);

    save_ok(d, p2);
    qv_collection *e = open_ok(p2, QV_SNAPSHOT_VERIFY);
    same_collection(d, e);
    /* Saving over the file the collection maps is safe. */
    save_ok(e, p2);
    qv_collection *g = open_ok(p2, 0);
    same_collection(e, g);
    /* The first write to g's unverified graph checks it first. */
    fill(g, 5000, 5010, 10);
    fill(e, 5000, 5010, 10);
    same_collection(e, g);
    qv_collection_release(c);
    qv_collection_release(d);
    qv_collection_release(e);
    qv_collection_release(g);
}
END_TEST

START_TEST(test_save_failure_paths)
{
    qv_collection *c = make(6, QV_METRIC_DOT, 0);
    fill(c, 0, 100, 2);
    ck_assert_int_eq(qv_snapshot_save(NULL, "x"), QV_ENULL);
    ck_assert_int_eq(qv_snapshot_save(c, NULL), QV_ENULL);
    ck_assert_int_eq(qv_snapshot_save(c, scratch_path("no/such/dir/c.qvs")),
                     QV_EIO);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "No such file or directory"));
    /* The collection is unaffected and still works. */
    fill(c, 100, 120, 3);
    uint64_t n;
    ck_assert_int_eq(qv_count(c, &n), QV_OK);
    ck_assert_uint_eq(n, 120);
    const char *p = scratch_path("ok.qvs");
    save_ok(c, p);
    /* No temporary file is left behind. */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", scratch_dir);
    ck_assert_int_ne(system(cmd), 0);
    qv_collection *d = open_ok(p, 0);
    same_collection(c, d);
    qv_collection_release(c);
    qv_collection_release(d);

    char err[256];
    qv_collection *x = (qv_collection *)1;
    ck_assert_int_eq(
        qv_snapshot_open(scratch_path("missing.qvs"), 0, &x, err, sizeof(err)),
        QV_EIO);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(qv_snapshot_open(p, 0x80, &x, err, sizeof(err)),
                     QV_EINVAL);
    ck_assert_int_eq(qv_snapshot_open(NULL, 0, &x, err, sizeof(err)), QV_ENULL);
    ck_assert_int_eq(qv_snapshot_open(p, 0, NULL, err, sizeof(err)), QV_ENULL);
}
END_TEST

/* ---- crafted corruptions ------------------------------------------------- */

typedef struct image {
    uint8_t *b;
    size_t n;
} image;

static image read_image(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    image im = {aligned_alloc(4096, ((size_t)sb.st_size + 4095) & ~4095ul),
                (size_t)sb.st_size};
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(im.b, 1, im.n, f), im.n);
    fclose(f);
    return im;
}

static void write_image(const image *im, const char *path)
{
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(im->b, 1, im->n, f), im->n);
    ck_assert_int_eq(fclose(f), 0);
}

static uint32_t n_sections(const image *im)
{
    uint32_t n;
    memcpy(&n, im->b + 20, 4);
    return n;
}

static uint8_t *entry_of(const image *im, uint32_t kind)
{
    for (uint32_t i = 0; i < n_sections(im); i++) {
        uint8_t *e = im->b + QVI_SNAP_HEADER_SIZE + i * QVI_SNAP_ENTRY_SIZE;
        uint32_t k;
        memcpy(&k, e, 4);
        if (k == kind)
            return e;
    }
    ck_abort_msg("no section of kind %u", kind);
    return NULL;
}

static uint8_t *section(const image *im, uint32_t kind, uint64_t *len)
{
    uint8_t *e = entry_of(im, kind);
    uint64_t off;
    memcpy(&off, e + 8, 8);
    memcpy(len, e + 16, 8);
    return im->b + off;
}

/* Recomputes kind's checksum, then the header's. */
static void reseal(image *im, uint32_t kind)
{
    if (kind) {
        uint64_t len;
        uint8_t *p = section(im, kind, &len);
        uint64_t sum = XXH3_64bits(p, len);
        memcpy(entry_of(im, kind) + 24, &sum, 8);
    }
    size_t n = QVI_SNAP_HEADER_SIZE + n_sections(im) * QVI_SNAP_ENTRY_SIZE;
    memset(im->b + QVI_SNAP_HEADER_SUM_AT, 0, 8);
    uint64_t sum = XXH3_64bits(im->b, n);
    memcpy(im->b + QVI_SNAP_HEADER_SUM_AT, &sum, 8);
}

/* Opening the image gives st and a message containing what. */
static void refused(const image *im, unsigned flags, qv_status st,
                    const char *what)
{
    const char *p = scratch_path("bad.qvs");
    write_image(im, p);
    char err[256] = "";
    qv_collection *c = (qv_collection *)1;
    qv_status got = qv_snapshot_open(p, flags, &c, err, sizeof(err));
    ck_assert_msg(got == st, "expected %s, got %s: %s", qv_status_name(st),
                  qv_status_name(got), err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, what), "message '%s' lacks '%s'", err, what);
    /* The same bytes through the buffer loader. */
    got = qvi_snapshot_load_buffer(im->b, im->n, flags, &c, err, sizeof(err));
    ck_assert_int_eq(got, st);
}

static image good_image(qv_metric metric)
{
    qv_collection *c = make(8, metric, 0);
    fill(c, 0, 300, 4);
    delete_every(c, 0, 300, 9);
    const char *p = scratch_path("good.qvs");
    save_ok(c, p);
    qv_collection_release(c);
    return read_image(p);
}

/* The quantization section (kind 64): its config comes back, a bad value
 * is QV_ECORRUPT, and unknown kinds in the reserved gaps are skipped. */
START_TEST(test_quant_section)
{
    qv_collection *c = make(8, QV_METRIC_DOT, 0);
    qv_collection_config cfg;
    qv_collection_get_config(c, &cfg);
    cfg.quantization = QV_QUANTIZATION_INT8;
    cfg.quant_quantile = 0.9f;
    ck_assert_int_eq(qv_collection_set_quantization(c, &cfg), QV_OK);
    fill(c, 0, 300, 4);
    const char *p = scratch_path("quant.qvs");
    save_ok(c, p);
    qv_collection_release(c);
    image im = read_image(p);
    uint64_t len;
    uint8_t *q = section(&im, QVI_SNAP_QUANT, &len);
    ck_assert_uint_eq(len, 32);
    uint32_t flags;
    memcpy(&flags, entry_of(&im, QVI_SNAP_QUANT) + 4, 4);
    ck_assert_uint_eq(flags, 0); /* not required: old readers skip it */

    /* Unknown kinds in the gap, not required: skipped.  The codes
     * sections (65-67) go with the config, as for a reader that knows
     * none of them (codes without a config are refused:
     * test_quant_persist.c). */
    uint32_t kind;
    for (kind = QVI_SNAP_QUANT; kind <= QVI_SNAP_QUANT_CORR; kind++) {
        uint32_t gap = kind - QVI_SNAP_QUANT + 40;
        memcpy(entry_of(&im, kind), &gap, 4);
    }
    reseal(&im, 0);
    write_image(&im, p);
    qv_collection *d = NULL;
    ck_assert_int_eq(qv_snapshot_open(p, QV_SNAPSHOT_VERIFY, &d, NULL, 0),
                     QV_OK);
    qv_collection_get_config(d, &cfg);
    ck_assert_uint_eq(cfg.quantization, QV_QUANTIZATION_NONE);
    qv_collection_release(d);
    for (kind = QVI_SNAP_QUANT; kind <= QVI_SNAP_QUANT_CORR; kind++)
        memcpy(entry_of(&im, kind - QVI_SNAP_QUANT + 40), &kind, 4);
    reseal(&im, 0);

    uint32_t bad = 9;
    memcpy(q, &bad, 4); /* no such kind */
    reseal(&im, QVI_SNAP_QUANT);
    refused(&im, 0, QV_ECORRUPT, "quantization");
    bad = QV_QUANTIZATION_INT8;
    memcpy(q, &bad, 4);
    float quantile = 0.2f; /* out of range */
    memcpy(q + 4, &quantile, 4);
    reseal(&im, QVI_SNAP_QUANT);
    refused(&im, 0, QV_ECORRUPT, "quantization");
    quantile = 0.9f;
    memcpy(q + 4, &quantile, 4);
    reseal(&im, QVI_SNAP_QUANT);
    write_image(&im, p);
    ck_assert_int_eq(qv_snapshot_open(p, QV_SNAPSHOT_VERIFY, &d, NULL, 0),
                     QV_OK);
    qv_collection_get_config(d, &cfg);
    ck_assert_uint_eq(cfg.quantization, QV_QUANTIZATION_INT8);
    ck_assert_float_eq(cfg.quant_quantile, 0.9f);
    qv_collection_release(d);
    free(im.b);
}
END_TEST

START_TEST(test_corrupt_header)
{
    image im = good_image(QV_METRIC_EUCLID);
    image w = {aligned_alloc(4096, (im.n + 4095) & ~4095ul), im.n};
#define FRESH() memcpy(w.b, im.b, im.n)

    FRESH();
    w.b[1] = 'X';
    refused(&w, 0, QV_EFORMAT, "magic");

    FRESH();
    uint32_t v = QVI_SNAP_VERSION + 1;
    memcpy(w.b + 12, &v, 4);
    refused(&w, 0, QV_EFORMAT, "version");

    FRESH();
    v = 0;
    memcpy(w.b + 12, &v, 4);
    refused(&w, 0, QV_EFORMAT, "version");

    FRESH();
    uint32_t bom = __builtin_bswap32(QVI_SNAP_BOM);
    memcpy(w.b + 8, &bom, 4);
    refused(&w, 0, QV_EFORMAT, "byte order");

    FRESH();
    w.b[QVI_SNAP_HEADER_SIZE + 9] ^= 1; /* a section offset, not resealed */
    refused(&w, 0, QV_ECORRUPT, "header: checksum");

    FRESH();
    uint64_t far = (uint64_t)im.n + 4096 * 4;
    memcpy(entry_of(&w, QVI_SNAP_VECTORS) + 8, &far, 8);
    reseal(&w, 0);
    refused(&w, 0, QV_ECORRUPT, "section 'vectors'");

    FRESH();
    uint64_t odd = 4096 + 8;
    memcpy(entry_of(&w, QVI_SNAP_IDS) + 8, &odd, 8);
    reseal(&w, 0);
    refused(&w, 0, QV_ECORRUPT, "section 'ids'");

    FRESH();
    uint32_t unknown = 77;
    memcpy(entry_of(&w, QVI_SNAP_SQNORMS), &unknown, 4);
    reseal(&w, 0);
    refused(&w, 0, QV_EFORMAT, "unknown kind 77");

    w.n = im.n - 100; /* truncated */
    FRESH();
    refused(&w, 0, QV_ECORRUPT, "truncated");
    w.n = 40;
    refused(&w, 0, QV_ECORRUPT, "truncated");
    w.n = im.n;

    FRESH();
    uint64_t len;
    uint8_t *cfg = section(&w, QVI_SNAP_CONFIG, &len);
    cfg[40] ^= 1; /* the stride */
    reseal(&w, 0);
    refused(&w, 0, QV_ECORRUPT, "section 'config': checksum");
    reseal(&w, QVI_SNAP_CONFIG);
    refused(&w, 0, QV_ECORRUPT, "section 'config'");
#undef FRESH
    free(w.b);
    free(im.b);
}
END_TEST

START_TEST(test_corrupt_sections)
{
    image im = good_image(QV_METRIC_DOT);
    image w = {aligned_alloc(4096, (im.n + 4095) & ~4095ul), im.n};
#define FRESH() memcpy(w.b, im.b, im.n)
    uint64_t len;

    /* A flipped vector byte: only VERIFY reads the vectors. */
    FRESH();
    section(&w, QVI_SNAP_VECTORS, &len)[100] ^= 0x40;
    write_image(&w, scratch_path("v.qvs"));
    qv_collection *c = open_ok(scratch_path("v.qvs"), 0);
    qv_collection_release(c);
    refused(&w, QV_SNAPSHOT_VERIFY, QV_ECORRUPT, "section 'vectors': checksum");

    /* Small sections are always checked. */
    FRESH();
    section(&w, QVI_SNAP_LIVE, &len)[3] ^= 1;
    refused(&w, 0, QV_ECORRUPT, "section 'live': checksum");
    reseal(&w, QVI_SNAP_LIVE);
    refused(&w, 0, QV_ECORRUPT, "section 'live'");

    /* An id-map bucket naming a slot out of range. */
    FRESH();
    uint64_t *bk = (uint64_t *)section(&w, QVI_SNAP_IDMAP, &len);
    size_t i = 0;
    while (!bk[i])
        i++;
    bk[i] = (bk[i] & ~0xffffffffull) | 0xfffffff0u;
    reseal(&w, QVI_SNAP_IDMAP);
    refused(&w, 0, QV_ECORRUPT, "section 'id map'");

    /* A payload pointing outside the arena. */
    FRESH();
    uint8_t *t = section(&w, QVI_SNAP_PAYLOAD_TABLE, &len);
    uint32_t nslots = (uint32_t)(len / 12);
    uint32_t *lens = (uint32_t *)(t + 8 * (size_t)nslots);
    size_t s = 0;
    while (!lens[s])
        s++;
    ((uint64_t *)t)[s] = 1ull << 40;
    reseal(&w, QVI_SNAP_PAYLOAD_TABLE);
    refused(&w, 0, QV_ECORRUPT, "section 'payload table'");

    /* The upper index out of order. */
    FRESH();
    uint8_t *ui = section(&w, QVI_SNAP_GRAPH_UPPER_INDEX, &len);
    ck_assert_uint_ge(len, 32);
    ui[0] ^= 0xff;
    reseal(&w, QVI_SNAP_GRAPH_UPPER_INDEX);
    refused(&w, 0, QV_ECORRUPT, "section 'graph upper index'");

    /* An entry point below the top level. */
    FRESH();
    uint8_t *lv = section(&w, QVI_SNAP_GRAPH_LEVELS, &len);
    uint8_t *g = section(&w, QVI_SNAP_GRAPH, &len);
    uint32_t entry;
    memcpy(&entry, g + 12, 4);
    uint32_t other = 0;
    while (other == entry || lv[other] != 0)
        other++;
    memcpy(g + 12, &other, 4);
    reseal(&w, QVI_SNAP_GRAPH);
    refused(&w, 0, QV_ECORRUPT, "section 'graph'");
#undef FRESH
    free(w.b);
    free(im.b);
}
END_TEST

/* Damaged links and payloads with valid checksums: the open accepts them
 * (it does not read them), searches survive, a payload read reports
 * QV_ECORRUPT, the first write rebuilds the graph, and VERIFY refuses. */
START_TEST(test_unverified_damage)
{
    image im = good_image(QV_METRIC_EUCLID);
    uint64_t len;
    uint32_t *l0 = (uint32_t *)section(&im, QVI_SNAP_GRAPH_LINKS0, &len);
    size_t words = len / 4, rec0 = 1 + 2 * 8;
    for (size_t r = 0; r < words / rec0; r += 3) {
        l0[r * rec0] = 0xffffffffu;     /* count far above 2m */
        l0[r * rec0 + 1] = 0x7ffffff0u; /* link far beyond the slots */
        l0[r * rec0 + 2] = (uint32_t)r; /* link to itself */
    }
    reseal(&im, QVI_SNAP_GRAPH_LINKS0);
    uint8_t *arena = section(&im, QVI_SNAP_PAYLOAD_ARENA, &len);
    arena[0] = 0xee; /* the first blob's tag: no such tag */
    reseal(&im, QVI_SNAP_PAYLOAD_ARENA);
    const char *p = scratch_path("damaged.qvs");
    write_image(&im, p);

    qv_collection *c = open_ok(p, 0);
    float q[8] = {0.1f, -0.2f, 0.3f, 0, 0, 0.5f, -1, 0.25f};
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 10;
    qv_hit hits[10];
    size_t n = 0;
    ck_assert_int_eq(qv_search(c, q, 8, &sp, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 10);
    /* The damaged blob is reported, not decoded. */
    size_t got;
    qv_point_id ids[300];
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 300, ids, &got, NULL, NULL),
                     QV_OK);
    char *json;
    size_t jl;
    int corrupt = 0;
    for (size_t k = 0; k < got; k++) {
        qv_status st = qv_payload_get(c, &ids[k], NULL, &json, &jl);
        if (st == QV_OK)
            qv_free(json);
        else
            corrupt += st == QV_ECORRUPT;
    }
    ck_assert_int_eq(corrupt, 1);
    /* The first write checks the graph, finds the damage and rebuilds. */
    fill(c, 1000, 1001, 1);
    ck_assert(c->index_ok);
    qvi_vecview view = {c->vecs, c->stride, 8, QV_METRIC_EUCLID, NULL};
    char why[256];
    ck_assert_msg(qvi_hnsw_check(c->index, &view, NULL, why, sizeof(why)) ==
                      QV_OK,
                  "%s", why);
    ck_assert_uint_eq(qvi_hnsw_count(c->index), c->count);
    sp.exact = true;
    qv_hit exact[10];
    size_t ne;
    ck_assert_int_eq(qv_search(c, q, 8, &sp, exact, &ne), QV_OK);
    sp.exact = false;
    sp.hnsw_ef = 200;
    ck_assert_int_eq(qv_search(c, q, 8, &sp, hits, &n), QV_OK);
    ck_assert_uint_eq(n, ne);
    for (size_t k = 0; k < n; k++)
        ck_assert_int_eq(qv_id_compare(&hits[k].id, &exact[k].id), 0);
    qv_collection_release(c);

    char err[256];
    ck_assert_int_eq(qv_snapshot_verify(p, err, sizeof(err)), QV_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "section '"));
    free(im.b);
}
END_TEST

START_TEST(test_load_buffer)
{
    image im = good_image(QV_METRIC_MANHATTAN);
    char err[256];
    qv_collection *c = NULL;
    ck_assert_int_eq(qvi_snapshot_load_buffer(im.b, im.n, QV_SNAPSHOT_VERIFY,
                                              &c, err, sizeof(err)),
                     QV_OK);
    qv_collection *d = open_ok(scratch_path("good.qvs"), 0);
    same_collection(c, d);
    fill(c, 400, 500, 6); /* edits land in the caller's buffer */
    qv_collection_release(c);
    qv_collection_release(d);
    ck_assert_int_eq(
        qvi_snapshot_load_buffer(im.b + 8, im.n - 8, 0, &c, err, sizeof(err)),
        QV_EINVAL);
    ck_assert_int_eq(qvi_snapshot_load_buffer(NULL, 0, 0, &c, err, sizeof(err)),
                     QV_ENULL);
    /* Every prefix of the file is refused cleanly. */
    for (size_t cut = 0; cut < im.n; cut += cut < 4096 ? 61 : 4093) {
        ck_assert_int_ne(
            qvi_snapshot_load_buffer(im.b, cut, 0, &c, err, sizeof(err)),
            QV_OK);
        ck_assert_ptr_null(c);
    }
    free(im.b);
}
END_TEST

/* ---- concurrency (run under ThreadSanitizer by scripts/test) ------------ */

typedef struct race {
    qv_collection *c;
    const qv_filter *f;
    atomic_bool stop;
    atomic_int errors;
} race;

/* Filtered searches and payload reads: they validate mapped blobs lazily,
 * from several threads at once. */
static void *race_reader(void *arg)
{
    race *r = arg;
    float q[8] = {0.5f, -0.5f, 0.25f, 0, 1, 0, -1, 0.125f};
    qv_search_params p;
    qv_search_params_init(&p);
    p.k = 5;
    qv_hit hits[5];
    size_t n;
    for (unsigned it = 0; !atomic_load(&r->stop) || it < 20; it++) {
        p.filter = it & 1 ? r->f : NULL;
        if (qv_search(r->c, q, 8, &p, hits, &n) != QV_OK)
            atomic_fetch_add(&r->errors, 1);
        qv_point_id id = make_id(it % 300);
        char *json;
        size_t len;
        qv_status st = qv_payload_get(r->c, &id, NULL, &json, &len);
        if (st == QV_OK)
            qv_free(json);
        else if (st != QV_ENOTFOUND)
            atomic_fetch_add(&r->errors, 1);
    }
    return NULL;
}

static void *race_writer(void *arg)
{
    race *r = arg;
    for (uint64_t i = 0; i < 40; i++) {
        fill(r->c, 1000 + i * 5, 1005 + i * 5, i);
        qv_point_id id = make_id(i * 3 + 1);
        qv_delete(r->c, &id);
        const char *set = "{\"w\":1}";
        id = make_id(i * 3 + 2);
        qv_payload_set(r->c, &id, set, strlen(set), NULL);
    }
    return NULL;
}

/* Saves run as readers: concurrently with searches, payload reads (lazy
 * blob checks) and a writer on a collection opened from a snapshot; every
 * file saved is sound. */
START_TEST(test_concurrent_save)
{
    qv_collection *c0 = make(8, QV_METRIC_COSINE, 0);
    fill(c0, 0, 300, 12);
    const char *p = scratch_path("race.qvs");
    save_ok(c0, p);
    qv_collection_release(c0);
    race r = {.c = open_ok(p, 0)};
    qv_filter *f = NULL;
    const char *ftext = "{\"must\":[{\"key\":\"tags\",\"match\":"
                        "{\"value\":\"red\"}}]}";
    ck_assert_int_eq(qv_filter_parse(ftext, strlen(ftext), &f, NULL, 0), QV_OK);
    r.f = f;
    atomic_init(&r.stop, false);
    atomic_init(&r.errors, 0);
    pthread_t rd[2], wr;
    for (int i = 0; i < 2; i++)
        pthread_create(&rd[i], NULL, race_reader, &r);
    pthread_create(&wr, NULL, race_writer, &r);
    for (int i = 0; i < 4; i++) {
        const char *q = scratch_path(i & 1 ? "race-a.qvs" : "race-b.qvs");
        save_ok(r.c, q);
        char err[256];
        ck_assert_msg(qv_snapshot_verify(q, err, sizeof(err)) == QV_OK, "%s",
                      err);
    }
    pthread_join(wr, NULL);
    atomic_store(&r.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);
    ck_assert_int_eq(atomic_load(&r.errors), 0);
    save_ok(r.c, p); /* over its own mapping */
    qv_collection *d = open_ok(p, QV_SNAPSHOT_VERIFY);
    same_collection(r.c, d);
    qv_collection_release(d);
    qv_collection_release(r.c);
    qv_filter_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_add_checked_fixture(tc, setup, scratch_dir_remove);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_roundtrip_metrics, 0, 12);
    tcase_add_test(tc, test_empty_and_lsn);
    tcase_add_test(tc, test_edit_opened_snapshot);
    tcase_add_test(tc, test_save_failure_paths);
    tcase_add_test(tc, test_corrupt_header);
    tcase_add_test(tc, test_quant_section);
    tcase_add_test(tc, test_corrupt_sections);
    tcase_add_test(tc, test_unverified_damage);
    tcase_add_test(tc, test_load_buffer);
    tcase_add_test(tc, test_concurrent_save);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
