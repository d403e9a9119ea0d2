/*
 * test_public_api.c -- the public calls the server and the command-line
 * program use instead of internal headers, and the version field of the
 * options structs.
 *
 *  - qv_snapshot_describe against files written by qv_snapshot_save (with
 *    and without a graph), and its failures: NULL arguments, a missing, an
 *    empty, a truncated and a damaged file.
 *  - qv_file_replace_* and qv_file_remove_durable: contents replaced
 *    whole, abort leaving the old file and no temporary file, a failed
 *    write remembered until the commit, errors for a missing directory and
 *    a missing file.
 *  - qv_collection_config, qv_search_params, qv_order_by and
 *    qv_store_options: *_init() sets the current version, 0 (a
 *    zero-initialised struct) is accepted as the first layout, and a
 *    newer version is refused with QV_EINVAL and a message.
 *
 * Only include/quiver.h is used: this is what an application sees.
 */
#include "quiver.h"
#include "tests/scratch_dir.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static void setup(void)
{
    scratch_dir_make("public-test");
}

/* A collection of n points of dim 8 (every 7th deleted); with graph, its
 * HNSW graph is built (full_scan_threshold_kb 0). */
static qv_collection *make_collection(uint32_t n, bool graph)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 8;
    cfg.metric = QV_METRIC_DOT;
    if (graph)
        cfg.full_scan_threshold_kb = 0;
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    for (uint32_t i = 0; i < n; i++) {
        float v[8];
        for (int j = 0; j < 8; j++)
            v[j] = (float)((i * 31 + (uint32_t)j * 7) % 17) - 8.0f;
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_upsert(c, &id, v, 8), QV_OK);
    }
    for (uint32_t i = 0; i < n; i += 7) {
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_delete(c, &id), QV_OK);
    }
    return c;
}

static const qv_snapshot_section_info *find_section(const qv_snapshot_info *f,
                                                    const char *name)
{
    for (size_t i = 0; i < f->n_sections; i++)
        if (f->sections[i].name && !strcmp(f->sections[i].name, name))
            return &f->sections[i];
    return NULL;
}

static size_t read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Entries of scratch_dir whose name contains ".tmp-". */
static int count_tmp(void)
{
    DIR *d = opendir(scratch_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

/* ---- qv_snapshot_describe ------------------------------------------------ */

START_TEST(describe_with_graph)
{
    qv_collection *c = make_collection(500, true);
    ck_assert_int_eq(qv_payload_index_create(c, "tag", QV_INDEX_KEYWORD),
                     QV_OK);
    const char *path = scratch_path("g.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    uint64_t count = 0;
    qv_count(c, &count);
    qv_collection_release(c);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    qv_snapshot_info *f = NULL;
    char err[256] = "";
    ck_assert_int_eq(qv_snapshot_describe(path, &f, err, sizeof(err)), QV_OK);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->file_bytes, (uint64_t)st.st_size);
    ck_assert_uint_eq(f->format_version, 2);
    ck_assert_uint_eq(f->config.dim, 8);
    ck_assert_int_eq(f->config.metric, QV_METRIC_DOT);
    ck_assert_uint_eq(f->config.hnsw_m, QV_DEFAULT_HNSW_M);
    ck_assert_uint_eq(f->config.full_scan_threshold_kb, 0);
    ck_assert_uint_eq(f->config.version, QV_COLLECTION_CONFIG_VERSION);
    ck_assert_uint_ge(f->stride, 8);
    ck_assert_uint_eq(f->points, count);
    ck_assert_uint_eq(f->slots, 500);
    ck_assert_uint_ge(f->idmap_buckets, count);

    ck_assert(f->has_graph);
    ck_assert_uint_eq(f->graph_nodes, count);
    ck_assert_int_ge(f->graph_max_level, 0);
    ck_assert_uint_lt(f->graph_entry, f->slots);
    ck_assert_ptr_nonnull(f->graph_level_nodes);
    uint64_t total = 0, upper = 0;
    for (int l = 0; l <= f->graph_max_level; l++) {
        total += f->graph_level_nodes[l];
        upper += l > 0 ? f->graph_level_nodes[l] : 0;
    }
    ck_assert_uint_eq(total, f->graph_nodes);
    ck_assert_uint_eq(upper, f->graph_upper_nodes);
    ck_assert_uint_gt(f->graph_level_nodes[f->graph_max_level], 0);

    /* The sections: known names, in file order, inside the file, and the
     * ones an open checks marked so. */
    ck_assert_uint_ge(f->n_sections, 10);
    uint64_t prev_end = 0;
    for (size_t i = 0; i < f->n_sections; i++) {
        const qv_snapshot_section_info *s = &f->sections[i];
        ck_assert_ptr_nonnull(s->name);
        ck_assert_uint_ge(s->offset, prev_end);
        ck_assert_uint_le(s->offset + s->length, f->file_bytes);
        prev_end = s->offset + s->length;
    }
    const qv_snapshot_section_info *cfg = find_section(f, "config");
    const qv_snapshot_section_info *vec = find_section(f, "vectors");
    const qv_snapshot_section_info *pix = find_section(f, "payload indexes");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(vec);
    ck_assert_ptr_nonnull(pix);
    ck_assert_ptr_nonnull(find_section(f, "graph"));
    ck_assert_ptr_nonnull(find_section(f, "graph dot norms"));
    ck_assert(cfg->checked_at_open && cfg->required);
    ck_assert(!vec->checked_at_open && vec->required);
    ck_assert(!pix->required);
    ck_assert_uint_eq(vec->length, (uint64_t)f->slots * f->stride * 4);
    qv_free(f);
}
END_TEST

START_TEST(describe_without_graph)
{
    qv_collection *c = make_collection(20, false);
    const char *path = scratch_path("s.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection_release(c);
    qv_snapshot_info *f = NULL;
    ck_assert_int_eq(qv_snapshot_describe(path, &f, NULL, 0), QV_OK);
    ck_assert(!f->has_graph);
    ck_assert_uint_eq(f->graph_nodes, 0);
    ck_assert_int_eq(f->graph_max_level, 0);
    ck_assert_ptr_null(f->graph_level_nodes);
    ck_assert_ptr_null(find_section(f, "graph"));
    ck_assert_uint_eq(f->points, 17);
    qv_free(f);
}
END_TEST

START_TEST(describe_failures)
{
    qv_snapshot_info *f = (qv_snapshot_info *)&f; /* must become NULL */
    char err[256];
    ck_assert_int_eq(qv_snapshot_describe(NULL, &f, err, sizeof(err)),
                     QV_ENULL);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(qv_snapshot_describe("x", NULL, err, sizeof(err)),
                     QV_ENULL);

    f = (qv_snapshot_info *)&f;
    ck_assert_int_eq(
        qv_snapshot_describe(scratch_path("missing.qvs"), &f, err, sizeof(err)),
        QV_EIO);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(err, "missing.qvs"));
    ck_assert_int_eq(qv_snapshot_describe(scratch_dir, &f, err, sizeof(err)),
                     QV_EIO);

    FILE *e = fopen(scratch_path("empty.qvs"), "wb");
    fclose(e);
    ck_assert_int_eq(
        qv_snapshot_describe(scratch_path("empty.qvs"), &f, err, sizeof(err)),
        QV_EFORMAT);
    ck_assert_ptr_null(f);

    /* A good file cut short, then one with its config section damaged. */
    qv_collection *c = make_collection(50, true);
    const char *path = scratch_path("d.qvs");
    ck_assert_int_eq(qv_snapshot_save(c, path), QV_OK);
    qv_collection_release(c);
    ck_assert_int_eq(qv_snapshot_describe(path, &f, NULL, 0), QV_OK);
    uint64_t cfg_at = find_section(f, "config")->offset;
    uint64_t size = f->file_bytes;
    qv_free(f);
    f = NULL;

    char *bytes = malloc(size);
    ck_assert_uint_eq(read_all(path, bytes, size), size);
    FILE *w = fopen(scratch_path("short.qvs"), "wb");
    fwrite(bytes, 1, size / 2, w);
    fclose(w);
    ck_assert_int_eq(
        qv_snapshot_describe(scratch_path("short.qvs"), &f, err, sizeof(err)),
        QV_ECORRUPT);
    ck_assert_ptr_null(f);

    bytes[cfg_at] ^= 0x40;
    w = fopen(scratch_path("bad.qvs"), "wb");
    fwrite(bytes, 1, size, w);
    fclose(w);
    ck_assert_int_eq(
        qv_snapshot_describe(scratch_path("bad.qvs"), &f, err, sizeof(err)),
        QV_ECORRUPT);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(err, "config"));
    free(bytes);
}
END_TEST

/* ---- durable file replacement -------------------------------------------- */

START_TEST(replace_commit_and_abort)
{
    const char *path = scratch_path("f.txt");
    char buf[64] = {0}, err[256];
    qv_file_writer *w = NULL;

    /* A new file, written in pieces. */
    ck_assert_int_eq(qv_file_replace_begin(path, &w, err, sizeof(err)), QV_OK);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(count_tmp(), 1);
    ck_assert_int_eq(qv_file_replace_write(w, "hello ", 6), QV_OK);
    ck_assert_int_eq(qv_file_replace_write(w, NULL, 0), QV_OK);
    ck_assert_int_eq(qv_file_replace_write(w, "world", 5), QV_OK);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing until the commit */
    ck_assert_int_eq(qv_file_replace_commit(w, err, sizeof(err)), QV_OK);
    ck_assert_uint_eq(read_all(path, buf, sizeof(buf)), 11);
    ck_assert_str_eq(buf, "hello world");
    ck_assert_int_eq(count_tmp(), 0);

    /* Replaced whole by a shorter file. */
    ck_assert_int_eq(qv_file_replace_begin(path, &w, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(qv_file_replace_write(w, "bye", 3), QV_OK);
    ck_assert_int_eq(qv_file_replace_commit(w, NULL, 0), QV_OK);
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(read_all(path, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "bye");

    /* An abandoned replacement leaves the old file and no temporary. */
    ck_assert_int_eq(qv_file_replace_begin(path, &w, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(qv_file_replace_write(w, "lost", 4), QV_OK);
    qv_file_replace_abort(w);
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(read_all(path, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "bye");
    ck_assert_int_eq(count_tmp(), 0);
    qv_file_replace_abort(NULL);
}
END_TEST

START_TEST(replace_failures)
{
    char err[256] = "";
    qv_file_writer *w = (qv_file_writer *)&w; /* must become NULL */
    ck_assert_int_eq(qv_file_replace_begin(scratch_path("no/such/dir/f"), &w,
                                           err, sizeof(err)),
                     QV_EIO);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(err, "no/such/dir/f"));
    ck_assert_int_eq(qv_file_replace_begin(NULL, &w, err, sizeof(err)),
                     QV_ENULL);
    ck_assert_int_eq(qv_file_replace_begin("x", NULL, err, sizeof(err)),
                     QV_ENULL);
    ck_assert_int_eq(qv_file_replace_write(NULL, "x", 1), QV_ENULL);
    ck_assert_int_eq(qv_file_replace_commit(NULL, err, sizeof(err)), QV_ENULL);

    ck_assert_int_eq(
        qv_file_replace_begin(scratch_path("f"), &w, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(qv_file_replace_write(w, NULL, 1), QV_ENULL);
    qv_file_replace_abort(w);
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

/* A write that fails (the file-size limit, with SIGXFSZ ignored, makes
 * write(2) fail with EFBIG) leaves the writer failed: later writes fail at
 * once, the commit fails, the target is untouched and no temporary file is
 * left. */
START_TEST(replace_write_failure_is_sticky)
{
    const char *path = scratch_path("big");
    FILE *old = fopen(path, "wb");
    fputs("old", old);
    fclose(old);

    struct rlimit saved, small = {.rlim_cur = 1 << 16};
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small.rlim_max = saved.rlim_max;
    void (*saved_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);

    char err[256] = "";
    qv_file_writer *w = NULL;
    size_t n = 4u << 20;
    char *junk = calloc(1, n);
    qv_status first = qv_file_replace_begin(path, &w, err, sizeof(err));
    qv_status wrote =
        first == QV_OK ? qv_file_replace_write(w, junk, n) : first;
    qv_status again = first == QV_OK ? qv_file_replace_write(w, "x", 1) : QV_OK;
    qv_status commit =
        first == QV_OK ? qv_file_replace_commit(w, err, sizeof(err)) : first;
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, saved_sig);
    free(junk);

    ck_assert_int_eq(first, QV_OK);
    ck_assert_int_eq(wrote, QV_EIO);
    ck_assert_int_eq(again, QV_EIO);
    ck_assert_int_eq(commit, QV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "write failed"));
    char buf[8] = {0};
    ck_assert_uint_eq(read_all(path, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "old");
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

START_TEST(remove_durable)
{
    const char *path = scratch_path("gone");
    FILE *f = fopen(path, "wb");
    fclose(f);
    char err[256] = "";
    ck_assert_int_eq(qv_file_remove_durable(path, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(qv_file_remove_durable(path, err, sizeof(err)),
                     QV_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "gone"));
    ck_assert_int_eq(qv_file_remove_durable(NULL, err, sizeof(err)), QV_ENULL);
}
END_TEST

/* ---- options struct versions --------------------------------------------- */

/* qv_vector_similarity is the similarity searches score with: a hit's
 * score is exactly it (cosine: of the unit-length vectors; euclid: the
 * square root of its negation), on an odd dimension that exercises the
 * kernels' tails. */
START_TEST(vector_similarity_equals_search_scores)
{
    enum { DIM = 13, N = 40 };
    static const qv_metric ms[] = {QV_METRIC_COSINE, QV_METRIC_DOT,
                                   QV_METRIC_EUCLID, QV_METRIC_MANHATTAN};
    float v[N][DIM], q[DIM];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N * DIM + DIM; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        float f = (float)((double)(x >> 11) / 9007199254740992.0) - 0.5f;
        if (i < N * DIM)
            v[i / DIM][i % DIM] = f;
        else
            q[i - N * DIM] = f;
    }
    for (size_t m = 0; m < 4; m++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = DIM;
        cfg.metric = ms[m];
        qv_collection *c;
        ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
        for (uint64_t i = 0; i < N; i++) {
            qv_point_id id = qv_id_from_num(i);
            ck_assert_int_eq(qv_upsert(c, &id, v[i], DIM), QV_OK);
        }
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = N;
        p.exact = true;
        qv_hit hits[N];
        size_t n = 0;
        ck_assert_int_eq(qv_search(c, q, DIM, &p, hits, &n), QV_OK);
        ck_assert_uint_eq(n, N);
        /* The query as the collection prepares it: stored as a point of
         * its own (not among the hits: the search ran before) and read
         * back, normalised under cosine exactly as the search did. */
        float qu[DIM], row[DIM];
        qv_point_id qid = qv_id_from_num(N);
        ck_assert_int_eq(qv_upsert(c, &qid, q, DIM), QV_OK);
        ck_assert_int_eq(qv_get(c, &qid, qu, DIM), QV_OK);
        for (size_t h = 0; h < n; h++) {
            ck_assert_int_eq(qv_get(c, &hits[h].id, row, DIM), QV_OK);
            float s;
            ck_assert_int_eq(qv_vector_similarity(ms[m], qu, row, DIM, &s),
                             QV_OK);
            float want = ms[m] == QV_METRIC_EUCLID      ? sqrtf(-s)
                         : ms[m] == QV_METRIC_MANHATTAN ? -s
                                                        : s;
            ck_assert_msg(want == hits[h].score, "%s: %.9g vs %.9g",
                          qv_metric_name(ms[m]), (double)want,
                          (double)hits[h].score);
        }
        qv_collection_release(c);
    }
    float s;
    ck_assert_int_eq(qv_vector_similarity(QV_METRIC_DOT, NULL, q, DIM, &s),
                     QV_ENULL);
    ck_assert_int_eq(qv_vector_similarity((qv_metric)9, q, q, DIM, &s),
                     QV_EINVAL);
    ck_assert_int_eq(qv_vector_similarity(QV_METRIC_DOT, q, q, 0, &s),
                     QV_EINVAL);
}
END_TEST

START_TEST(init_sets_versions)
{
    qv_collection_config cfg;
    qv_search_params sp;
    qv_order_by ob;
    qv_store_options so;
    memset(&cfg, 0xff, sizeof(cfg));
    memset(&sp, 0xff, sizeof(sp));
    memset(&ob, 0xff, sizeof(ob));
    memset(&so, 0xff, sizeof(so));
    qv_collection_config_init(&cfg);
    qv_search_params_init(&sp);
    qv_order_by_init(&ob);
    qv_store_options_init(&so);
    ck_assert_uint_eq(cfg.version, QV_COLLECTION_CONFIG_VERSION);
    ck_assert_uint_eq(sp.version, QV_SEARCH_PARAMS_VERSION);
    ck_assert_uint_eq(ob.version, QV_ORDER_BY_VERSION);
    ck_assert_uint_eq(so.version, QV_STORE_OPTIONS_VERSION);
    /* NULL is ignored. */
    qv_collection_config_init(NULL);
    qv_search_params_init(NULL);
    qv_order_by_init(NULL);
    qv_store_options_init(NULL);
}
END_TEST

START_TEST(collection_config_version)
{
    /* Zero-initialised, designated: version 0, the first layout. */
    qv_collection_config zero = {.dim = 4,
                                 .metric = QV_METRIC_EUCLID,
                                 .hnsw_m = 8,
                                 .hnsw_ef_construct = 32};
    qv_collection *c = NULL;
    ck_assert_int_eq(qv_collection_create(&zero, &c), QV_OK);
    qv_collection_config got;
    ck_assert_int_eq(qv_collection_get_config(c, &got), QV_OK);
    ck_assert_uint_eq(got.version, QV_COLLECTION_CONFIG_VERSION);
    ck_assert_uint_eq(got.hnsw_m, 8);
    qv_collection_release(c);

    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 4;
    cfg.version = QV_COLLECTION_CONFIG_VERSION + 1;
    c = (qv_collection *)&c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_EINVAL);
    ck_assert_ptr_null(c);

    /* Through a store: refused, with a message, nothing created. */
    qv_store *s = NULL;
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "a", &cfg, NULL), QV_EINVAL);
    char msg[256];
    qv_store_errmsg(s, msg, sizeof(msg));
    ck_assert_str_ne(msg, "");
    ck_assert_int_eq(qv_store_get(s, "a", &c), QV_ENOTFOUND);
    cfg.version = 0;
    ck_assert_int_eq(qv_store_create(s, "a", &cfg, NULL), QV_OK);
    qv_store_close(s);
}
END_TEST

START_TEST(search_params_version)
{
    qv_collection *c = make_collection(30, false);
    float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    qv_hit hits[10];
    size_t n = 0, ns[2] = {0, 0};
    char msg[256];

    qv_search_params zero = {.k = 3}; /* version 0: the first layout */
    ck_assert_int_eq(qv_search(c, q, 8, &zero, hits, &n), QV_OK);
    ck_assert_uint_eq(n, 3);

    qv_search_params p;
    qv_search_params_init(&p);
    p.version = QV_SEARCH_PARAMS_VERSION + 1;
    ck_assert_int_eq(qv_search(c, q, 8, &p, hits, &n), QV_EINVAL);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "version"));
    float qs[16] = {0};
    memcpy(qs, q, sizeof(q));
    qv_hit bh[20];
    ck_assert_int_eq(qv_search_batch(c, qs, 2, 8, &p, bh, ns), QV_EINVAL);
    p.version = UINT32_MAX;
    ck_assert_int_eq(qv_search(c, q, 8, &p, hits, &n), QV_EINVAL);
    p.version = QV_SEARCH_PARAMS_VERSION;
    ck_assert_int_eq(qv_search(c, q, 8, &p, hits, &n), QV_OK);
    qv_collection_release(c);
}
END_TEST

START_TEST(order_by_version)
{
    qv_collection *c = make_collection(10, false);
    ck_assert_int_eq(qv_payload_index_create(c, "n", QV_INDEX_INTEGER), QV_OK);
    qv_point_id ids[10];
    double vals[10];
    size_t n = 0;
    char msg[256];

    qv_order_by zero = {.key = "n"}; /* version 0: the first layout */
    ck_assert_int_eq(qv_scroll_order_by(c, &zero, NULL, 10, ids, vals, &n),
                     QV_OK);

    qv_order_by o;
    qv_order_by_init(&o);
    o.key = "n";
    o.version = QV_ORDER_BY_VERSION + 1;
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 10, ids, vals, &n),
                     QV_EINVAL);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "version"));
    qv_collection_release(c);
}
END_TEST

START_TEST(store_options_version)
{
    char err[256] = "";
    qv_store *s = (qv_store *)&s;
    qv_store_options o;
    qv_store_options_init(&o);
    o.version = QV_STORE_OPTIONS_VERSION + 1;
    ck_assert_int_eq(
        qv_store_open_dir(scratch_path("store"), &o, &s, err, sizeof(err)),
        QV_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "version"));
    ck_assert_int_eq(access(scratch_path("store"), F_OK),
                     -1); /* nothing made */

    qv_store_options zero = {.checkpoint_wal_bytes = 0}; /* version 0 */
    ck_assert_int_eq(
        qv_store_open_dir(scratch_path("store"), &zero, &s, err, sizeof(err)),
        QV_OK);
    qv_store_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("public_api");
    TCase *t = tcase_create("describe");
    tcase_add_checked_fixture(t, setup, scratch_dir_remove);
    tcase_add_test(t, describe_with_graph);
    tcase_add_test(t, describe_without_graph);
    tcase_add_test(t, describe_failures);
    suite_add_tcase(s, t);
    t = tcase_create("files");
    tcase_add_checked_fixture(t, setup, scratch_dir_remove);
    tcase_add_test(t, replace_commit_and_abort);
    tcase_add_test(t, replace_failures);
    tcase_add_test(t, replace_write_failure_is_sticky);
    tcase_add_test(t, remove_durable);
    suite_add_tcase(s, t);
    t = tcase_create("versions");
    tcase_add_checked_fixture(t, setup, scratch_dir_remove);
    tcase_add_test(t, init_sets_versions);
    tcase_add_test(t, vector_similarity_equals_search_scores);
    tcase_add_test(t, collection_config_version);
    tcase_add_test(t, search_params_version);
    tcase_add_test(t, order_by_version);
    tcase_add_test(t, store_options_version);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
