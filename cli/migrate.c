/*
 * migrate.c -- `quiver migrate --from SRC --to DST`: streams collections
 * between Quiver store directories, Quiver snapshot files and Qdrant REST
 * servers (Qdrant itself or `quiver serve`), then verifies the copy.
 *
 * The plan.  The source's collections (or the one --collection names) are
 * copied one after the other: the destination collection is created with
 * the source's config (vectors: size and distance, named vectors,
 * multivector_config; sparse vectors with their modifier and index
 * settings; hnsw_config; quantization; payload indexes) or, if it exists,
 * checked to have the same vectors of the same kinds (a clash is an
 * error, never a silent mix); then pages of --batch points are read from
 * the source in id order and upserted, payloads as JSON text so that
 * every number stays exact.
 *
 * Resuming.  With --checkpoint FILE, after each batch the destination has
 * acknowledged durably, the file is rewritten durably with the scroll
 * offset of the next page (migrate_ckpt.c).  A killed run started again
 * with the same arguments skips the collections it finished and resumes
 * the others at their recorded offset, re-copying at most the batch that
 * was in flight (upserts are idempotent).  A snapshot-file destination is
 * written whole at the end, so its collection starts over.
 *
 * Verification.  For each collection: the destination's exact count must
 * equal the source's, and --verify-sample points (drawn uniformly from
 * those copied in this run by reservoir sampling, seeded, or the first
 * page when this run copied none) are read back from both sides and
 * compared: the same named vectors present, float32 components bit for
 * bit (dense vectors, every row of a multivector, a sparse vector's
 * indices and values), and payloads equal as JSON (members in any order,
 * numbers of the same kind and exact value).  Cosine vectors too: both Quiver
 * and Qdrant store a vector that already has unit length exactly as given
 * (is_length_zero_or_normalized), so copying one never moves a bit.
 *
 * Progress.  On a terminal, one line redrawn in place (bar, points,
 * points/s, ETA); otherwise a plain line at most once a second and at the
 * end of each collection, so logs stay readable.
 *
 * Exit status: 0 copied and verified, 1 failed (the message names the
 * side and the reason), 2 usage error, 3 the verification found a
 * difference.
 */
#include "migrate.h"
#include "migrate_ckpt.h"

#include "jspan.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BATCH         256u
#define MAX_BATCH             65536u
#define DEFAULT_VERIFY_SAMPLE 100u
#define MAX_VERIFY_SAMPLE     10000u

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_MISMATCH = 3 };

typedef struct mg_options {
    const char *from, *to, *collection, *to_collection, *checkpoint;
    const char *from_key, *to_key;
    uint64_t batch, verify_sample;
} mg_options;

typedef struct progress {
    bool tty;
    double t0, last;
    uint64_t start, done, total;
    const char *name;
} progress;

typedef struct run {
    mg_options o;
    mg_endpoint src, dst;
    mg_checkpoint ck;
    progress pr;
    uint64_t stop_after; /* test hook: SIGSTOP after this many batches */
    uint64_t batches;
    uint64_t rng;
    qv_point_id *sample; /* reservoir of ids copied in this run */
    size_t n_sample;
    uint64_t seen;
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: quiver migrate --from SRC --to DST [options]\n"
        "\n"
        "Copies collections (config; dense, sparse and multi vectors,\n"
        "named or not; payloads; payload indexes) between any two of:\n"
        "  a Qdrant REST server    http://HOST:PORT (Qdrant or quiver serve)\n"
        "  a Quiver store dir      a directory (qv_store_open_dir)\n"
        "  a Quiver snapshot file  FILE.qvs (one collection)\n"
        "then checks the destination's count and a sample of points.\n"
        "\n"
        "options:\n"
        "  --collection NAME     copy only this collection (default: all)\n"
        "  --to-collection NAME  its name at the destination\n"
        "  --batch N             points per page and upsert (default %u)\n"
        "  --api-key KEY         API key for both sides (header api-key)\n"
        "  --from-api-key KEY    API key for the source only\n"
        "  --to-api-key KEY      API key for the destination only\n"
        "  --checkpoint FILE     record progress; run again to resume\n"
        "  --verify-sample N     points compared at the end (default %u,\n"
        "                        0: count only)\n"
        "\n"
        "exit status: 0 done and verified, 1 failed, 2 usage error,\n"
        "3 the verification found a difference\n",
        DEFAULT_BATCH, DEFAULT_VERIFY_SAMPLE);
}

static bool parse_num(const char *opt, const char *text, uint64_t lo,
                      uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr,
                "quiver migrate: --%s must be an integer from %" PRIu64
                " to %" PRIu64 ", got '%s'\n",
                opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

/* Returns 0 to go on, else the exit status. */
static int parse_options(int argc, char **argv, mg_options *o)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"collection", required_argument, NULL, 'c'},
        {"to-collection", required_argument, NULL, 'C'},
        {"batch", required_argument, NULL, 'b'},
        {"api-key", required_argument, NULL, 'k'},
        {"from-api-key", required_argument, NULL, 'K'},
        {"to-api-key", required_argument, NULL, 'T'},
        {"checkpoint", required_argument, NULL, 'p'},
        {"verify-sample", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *both = NULL;
    int ch;
    memset(o, 0, sizeof(*o));
    o->batch = DEFAULT_BATCH;
    o->verify_sample = DEFAULT_VERIFY_SAMPLE;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'f':
            o->from = optarg;
            break;
        case 't':
            o->to = optarg;
            break;
        case 'c':
            o->collection = optarg;
            break;
        case 'C':
            o->to_collection = optarg;
            break;
        case 'k':
            both = optarg;
            break;
        case 'K':
            o->from_key = optarg;
            break;
        case 'T':
            o->to_key = optarg;
            break;
        case 'p':
            o->checkpoint = optarg;
            break;
        case 'b':
            ok = parse_num("batch", optarg, 1, MAX_BATCH, &o->batch);
            break;
        case 'v':
            ok = parse_num("verify-sample", optarg, 0, MAX_VERIFY_SAMPLE,
                           &o->verify_sample);
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            ok = false;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "quiver migrate: unexpected argument '%s'\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    if (!o->from || !o->to) {
        fprintf(stderr, "quiver migrate: --from and --to are required "
                        "(quiver migrate --help)\n");
        return EXIT_USAGE;
    }
    if (!o->from_key)
        o->from_key = both;
    if (!o->to_key)
        o->to_key = both;
    return 0;
}

/* ---- endpoints -------------------------------------------------------------
 */

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

typedef enum end_kind { END_REST, END_STORE, END_SNAPSHOT } end_kind;

/* A URL is a server; an existing directory a store and an existing file
 * a snapshot; a missing path a snapshot if it ends in .qvs, else a store
 * directory (created when it is the destination). */
static end_kind classify(const char *where)
{
    struct stat sb;
    if (is_url(where))
        return END_REST;
    bool exists = stat(where, &sb) == 0;
    if ((exists && S_ISREG(sb.st_mode)) ||
        (!exists && ends_with(where, ".qvs")))
        return END_SNAPSHOT;
    return END_STORE;
}

static qv_status open_endpoint(const char *where, const char *key, bool dest,
                               const char *single_name, mg_endpoint *e)
{
    memset(e, 0, sizeof(*e));
    e->where = where;
    switch (classify(where)) {
    case END_REST:
        return mg_open_rest(where, key, dest, e);
    case END_SNAPSHOT:
        return mg_open_snapshot(where, dest, single_name, e);
    default:
        return mg_open_store(where, dest, e);
    }
}

static void close_endpoint(mg_endpoint *e)
{
    if (e->ops && e->state)
        e->ops->close(e);
}

/* ---- progress --------------------------------------------------------------
 */

static void fmt_eta(double s, char *buf, size_t cap)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else
        snprintf(buf, cap, "%.0fh%02.0fm", floor(s / 3600),
                 floor(fmod(s, 3600) / 60));
}

static void progress_show(progress *p, bool force)
{
    double t = now_s();
    if (!force && t - p->last < (p->tty ? 0.1 : 1.0))
        return;
    p->last = t;
    double rate =
        (double)(p->done - p->start) / (t - p->t0 > 1e-6 ? t - p->t0 : 1e-6);
    uint64_t left = p->total > p->done ? p->total - p->done : 0;
    char eta[32];
    fmt_eta(rate > 0 ? (double)left / rate : NAN, eta, sizeof(eta));
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1)
        frac = 1;
    if (p->tty) {
        char bar[31];
        int full = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < full ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr,
                "\r%s [%s] %" PRIu64 "/%" PRIu64 " %3.0f%% %.0f points/s "
                "ETA %s\033[K",
                p->name, bar, p->done, p->total, frac * 100, rate, eta);
    } else {
        fprintf(stderr,
                "migrate: %s: %" PRIu64 "/%" PRIu64 " points (%.0f points/s, "
                "ETA %s)\n",
                p->name, p->done, p->total, rate, eta);
    }
    fflush(stderr);
}

static void progress_end(progress *p)
{
    progress_show(p, true);
    if (p->tty)
        fputc('\n', stderr);
}

/* ---- copying ---------------------------------------------------------------
 */

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Algorithm R: every id copied in this run is in the sample with equal
 * probability. */
static void sample_add(run *r, const qv_point_id *ids, size_t n)
{
    for (size_t i = 0; i < n && r->o.verify_sample; i++) {
        uint64_t k = r->seen++;
        if (r->n_sample < r->o.verify_sample)
            r->sample[r->n_sample++] = ids[i];
        else if ((k = next_rand(&r->rng) % (k + 1)) < r->o.verify_sample)
            r->sample[k] = ids[i];
    }
}

static int fail(mg_endpoint *e)
{
    fprintf(stderr, "quiver migrate: %s\n", e->err);
    return EXIT_FAIL;
}

static int save_checkpoint(run *r)
{
    char err[512];
    if (!r->o.checkpoint)
        return 0;
    if (ck_save(&r->ck, r->o.from, r->o.to, err, sizeof(err)) != QV_OK) {
        fprintf(stderr, "quiver migrate: writing the checkpoint: %s\n", err);
        return EXIT_FAIL;
    }
    return 0;
}

/* After a batch is durable at the destination: record where the next
 * page starts, show progress, and (test hook) stop to be killed. */
static int batch_committed(run *r, ck_item *ck, const qv_point_id *next)
{
    int rc = 0;
    if (ck && r->dst.durable) {
        ck->offset = *next;
        ck->has_offset = true;
        ck->points = r->pr.done;
        rc = save_checkpoint(r);
    }
    progress_show(&r->pr, r->stop_after && r->batches == r->stop_after);
    if (rc == 0 && r->stop_after && r->batches == r->stop_after) {
        fprintf(stderr,
                "migrate: stopping after %" PRIu64 " batches "
                "(QUIVER_MIGRATE_TEST_STOP_AFTER)\n",
                r->batches);
        raise(SIGSTOP);
    }
    return rc;
}

static int copy_points(run *r, const char *src, const char *dst,
                       const mg_schema *s, ck_item *ck)
{
    mg_batch b;
    qv_point_id start, next;
    bool has_start = false, has_next = true;
    int rc = 0;
    if (mg_batch_init(&b, s, r->o.batch) != QV_OK) {
        fprintf(stderr, "quiver migrate: out of memory\n");
        return EXIT_FAIL;
    }
    if (ck && ck->has_offset && r->dst.durable) {
        start = ck->offset;
        has_start = true;
        r->pr.done = r->pr.start = ck->points;
        fprintf(stderr,
                "migrate: %s: resuming after %" PRIu64 " points (checkpoint "
                "%s)\n",
                src, ck->points, r->o.checkpoint);
    }
    while (rc == 0 && has_next) {
        qv_status st =
            r->src.ops->read(&r->src, src, s, has_start ? &start : NULL,
                             r->o.batch, &b, &next, &has_next);
        if (st != QV_OK) {
            rc = fail(&r->src);
            break;
        }
        if (b.n && r->dst.ops->write(&r->dst, dst, s, &b) != QV_OK) {
            rc = fail(&r->dst);
            break;
        }
        r->pr.done += b.n;
        r->batches++;
        sample_add(r, b.ids, b.n);
        if (has_next) {
            rc = batch_committed(r, ck, &next);
            start = next;
            has_start = true;
        }
    }
    mg_batch_free(&b);
    return rc;
}

/* ---- verification
 * ------------------------------------------------------------
 */

static bool vectors_equal(const float *a, const float *b, uint32_t dim)
{
    return memcmp(a, b, dim * sizeof(float)) == 0;
}

static long find_row(const mg_batch *b, const qv_point_id *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (qv_id_compare(&b->ids[i], id) == 0)
            return (long)i;
    return -1;
}

/* NULL when point row ra of a equals its copy in b, else what differs. */
static const char *point_diff(const mg_schema *s, const mg_batch *a, size_t ra,
                              const mg_batch *b)
{
    long rb = find_row(b, &a->ids[ra]);
    if (rb < 0)
        return "missing at the destination";
    for (size_t v = 0; v < s->n_vectors; v++) {
        uint32_t d = a->dims[v];
        if (a->has[v][ra] != b->has[v][rb])
            return "a vector is present on one side only";
        if (!a->has[v][ra])
            continue;
        if (a->kinds[v] == MG_DENSE) {
            if (!vectors_equal(a->vecs[v] + ra * d, b->vecs[v] + (size_t)rb * d,
                               d))
                return "the vectors differ";
            continue;
        }
        uint32_t n = a->cnt[v][ra];
        if (n != b->cnt[v][rb])
            return a->kinds[v] == MG_SPARSE
                       ? "the sparse vectors differ in length"
                       : "the multivectors differ in rows";
        /* Sparse: both sides' pairs are sorted by index (mg_batch_set_var),
         * so equal vectors have equal arrays. */
        if (a->kinds[v] == MG_SPARSE &&
            (memcmp(a->idx[v][ra], b->idx[v][rb], n * sizeof(uint32_t)) ||
             !vectors_equal(a->val[v][ra], b->val[v][rb], n)))
            return "the sparse vectors differ";
        if (a->kinds[v] == MG_MULTI &&
            !vectors_equal(a->val[v][ra], b->val[v][rb], n * d))
            return "the multivectors differ";
    }
    js_span pa, pb;
    if (!js_root(a->payloads[ra], a->lens[ra], &pa) ||
        !js_root(b->payloads[rb], b->lens[rb], &pb) || !js_equal(pa, pb))
        return "the payloads differ";
    return NULL;
}

/* The ids to compare: the reservoir, or the source's first page. */
static qv_status sample_ids(run *r, const char *src, const mg_schema *s,
                            mg_batch *tmp)
{
    qv_point_id next;
    bool more;
    if (r->n_sample)
        return QV_OK;
    qv_status st = r->src.ops->read(&r->src, src, s, NULL, r->o.verify_sample,
                                    tmp, &next, &more);
    for (size_t i = 0; st == QV_OK && i < tmp->n; i++)
        r->sample[r->n_sample++] = tmp->ids[i];
    return st;
}

static int compare_sample(run *r, const char *src, const char *dst,
                          const mg_schema *s, size_t *compared)
{
    mg_batch a, b;
    int rc = EXIT_FAIL;
    *compared = 0;
    if (mg_batch_init(&a, s, r->o.verify_sample) != QV_OK ||
        mg_batch_init(&b, s, r->o.verify_sample) != QV_OK) {
        fprintf(stderr, "quiver migrate: out of memory\n");
        mg_batch_free(&a);
        return EXIT_FAIL;
    }
    if (sample_ids(r, src, s, &a) != QV_OK ||
        r->src.ops->fetch(&r->src, src, s, r->sample, r->n_sample, &a) !=
            QV_OK) {
        rc = fail(&r->src);
        goto cleanup;
    }
    if (r->dst.ops->fetch(&r->dst, dst, s, r->sample, r->n_sample, &b) !=
        QV_OK) {
        rc = fail(&r->dst);
        goto cleanup;
    }
    for (size_t i = 0; i < a.n; i++) {
        const char *why = point_diff(s, &a, i, &b);
        if (why) {
            char id[QV_UUID_STRLEN];
            qv_id_format(&a.ids[i], id, sizeof(id));
            fprintf(stderr,
                    "quiver migrate: verification failed: %s, point %s: %s\n",
                    dst, id, why);
            rc = EXIT_MISMATCH;
            goto cleanup;
        }
    }
    *compared = a.n;
    rc = 0;
cleanup:
    mg_batch_free(&a);
    mg_batch_free(&b);
    return rc;
}

static int verify(run *r, const char *src, const char *dst, const mg_schema *s)
{
    uint64_t n_src, n_dst;
    size_t compared = 0;
    if (r->src.ops->count(&r->src, src, &n_src) != QV_OK)
        return fail(&r->src);
    if (r->dst.ops->count(&r->dst, dst, &n_dst) != QV_OK)
        return fail(&r->dst);
    if (n_src != n_dst) {
        fprintf(stderr,
                "quiver migrate: verification failed: %s holds %" PRIu64
                " points, the source's %s %" PRIu64 "\n",
                dst, n_dst, src, n_src);
        return EXIT_MISMATCH;
    }
    if (r->o.verify_sample && n_src) {
        int rc = compare_sample(r, src, dst, s, &compared);
        if (rc)
            return rc;
    }
    if (r->o.verify_sample)
        printf("%s -> %s: %" PRIu64 " points, %zu sampled points equal\n", src,
               dst, n_dst, compared);
    else
        printf("%s -> %s: %" PRIu64 " points (count only)\n", src, dst, n_dst);
    return 0;
}

/* ---- one collection
 * ----------------------------------------------------------
 */

static int migrate_collection(run *r, const char *src)
{
    const char *dst = r->o.to_collection ? r->o.to_collection : src;
    mg_schema s;
    int rc;
    if (strchr(src, '\n')) {
        fprintf(stderr, "quiver migrate: a collection name with a line "
                        "break cannot be checkpointed\n");
        return EXIT_FAIL;
    }
    if (r->src.ops->describe(&r->src, src, &s) != QV_OK)
        return fail(&r->src);
    ck_item *ck = r->o.checkpoint ? ck_get(&r->ck, src) : NULL;
    r->n_sample = 0;
    r->seen = 0;
    memset(&r->pr, 0, sizeof(r->pr));
    r->pr.tty = isatty(STDERR_FILENO);
    r->pr.name = src;
    r->pr.t0 = now_s();
    if (r->o.checkpoint && !ck) {
        fprintf(stderr, "quiver migrate: out of memory\n");
        rc = EXIT_FAIL;
        goto cleanup;
    }
    if (ck && ck->done) {
        fprintf(stderr, "migrate: %s: done in an earlier run (checkpoint)\n",
                src);
        rc = verify(r, src, dst, &s);
        goto cleanup;
    }
    if (r->src.ops->count(&r->src, src, &r->pr.total) != QV_OK) {
        rc = fail(&r->src);
        goto cleanup;
    }
    if (r->dst.ops->prepare(&r->dst, dst, &s) != QV_OK) {
        rc = fail(&r->dst);
        goto cleanup;
    }
    rc = copy_points(r, src, dst, &s, ck);
    if (rc == 0 && r->dst.ops->finish(&r->dst, dst) != QV_OK)
        rc = fail(&r->dst);
    if (rc == 0 && ck) {
        ck->done = true;
        ck->points = r->pr.done;
        rc = save_checkpoint(r);
    }
    if (rc == 0) {
        progress_end(&r->pr);
        fprintf(stderr,
                "migrate: %s: %" PRIu64 " points copied in this run, %" PRIu64
                " in all\n",
                src, r->pr.done - r->pr.start, r->pr.done);
        rc = verify(r, src, dst, &s);
    }
cleanup:
    mg_schema_free(&s);
    return rc;
}

/* ---- the command
 * ---------------------------------------------------------------
 */

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The source collections to copy. */
static int plan(run *r, char ***names, size_t *n)
{
    if (r->o.collection) {
        *names = calloc(1, sizeof(char *));
        if (!*names || !((*names)[0] = strdup(r->o.collection)))
            return EXIT_FAIL;
        *n = 1;
        return 0;
    }
    if (r->src.ops->list(&r->src, names, n) != QV_OK)
        return fail(&r->src);
    if (*n > 1 && (r->o.to_collection || classify(r->o.to) == END_SNAPSHOT)) {
        fprintf(stderr,
                "quiver migrate: %s holds %zu collections; %s: name one "
                "with --collection\n",
                r->o.from, *n,
                r->o.to_collection ? "--to-collection renames one"
                                   : "a snapshot file holds one");
        return EXIT_USAGE;
    }
    if (*n == 0)
        fprintf(stderr, "migrate: %s holds no collection\n", r->o.from);
    return 0;
}

/* A store directory keeps a named vector in a library collection named
 * after it (cli/migrate_lib.c): refuse vector names a library collection
 * name cannot hold before the destination is opened (which would create
 * an empty store).  A snapshot archive keeps the names in its header and
 * takes any. */
static int check_library_fit(run *r, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mg_schema s;
        if (r->src.ops->describe(&r->src, names[i], &s) != QV_OK)
            return fail(&r->src);
        const char *bad = NULL;
        for (size_t v = 0; s.named && !bad && v < s.n_vectors; v++) {
            const char *vn = s.vectors[v].name;
            if (!*vn || strpbrk(vn, "<>:\"/\\|?*"))
                bad = vn;
            for (const char *p = vn; !bad && *p; p++)
                if ((unsigned char)*p < 0x20)
                    bad = vn;
        }
        if (bad)
            fprintf(stderr,
                    "quiver migrate: collection '%s' has a vector named "
                    "'%s', which %s cannot keep (a library collection name "
                    "holds none of < > : \" / \\ | ? * or control "
                    "characters): migrate it to a Qdrant server instead\n",
                    names[i], bad, r->o.to);
        mg_schema_free(&s);
        if (bad)
            return EXIT_FAIL;
    }
    return 0;
}

static int run_all(run *r)
{
    char err[512];
    if (r->o.checkpoint && ck_load(&r->ck, r->o.checkpoint, r->o.from, r->o.to,
                                   err, sizeof(err)) < 0) {
        fprintf(stderr, "quiver migrate: %s\n", err);
        return EXIT_FAIL;
    }
    r->ck.path = r->o.checkpoint;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (open_endpoint(r->o.from, r->o.from_key, false, r->o.collection,
                      &r->src) != QV_OK)
        rc = fail(&r->src);
    if (rc == 0)
        rc = plan(r, &names, &n);
    if (rc == 0 && classify(r->o.to) == END_STORE)
        rc = check_library_fit(r, names, n);
    /* A snapshot destination takes the one collection's name. */
    const char *single = r->o.to_collection ? r->o.to_collection
                         : n == 1           ? names[0]
                                            : NULL;
    if (rc == 0 &&
        open_endpoint(r->o.to, r->o.to_key, true, single, &r->dst) != QV_OK)
        rc = fail(&r->dst);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = migrate_collection(r, names[i]);
    free_names(names, n);
    return rc;
}

int qvc_migrate_main(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof(r));
    int rc = parse_options(argc, argv, &r.o);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    const char *hook = getenv("QUIVER_MIGRATE_TEST_STOP_AFTER");
    if (hook)
        r.stop_after = strtoull(hook, NULL, 10);
    r.rng = 0x6d696772617465; /* fixed: a run's sample can be replayed */
    r.sample =
        calloc(r.o.verify_sample ? r.o.verify_sample : 1, sizeof(*r.sample));
    if (!r.sample || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "quiver migrate: cannot initialise\n");
        free(r.sample);
        return EXIT_FAIL;
    }
    rc = run_all(&r);
    close_endpoint(&r.dst);
    close_endpoint(&r.src);
    ck_free(&r.ck);
    free(r.sample);
    curl_global_cleanup();
    return rc;
}
