/*
 * test_crash.c -- kill -9 a writer, again and again, and check that no
 * acknowledged write is ever lost and no batch is ever half there.
 *
 * Each round forks and execs crash_writer (tests/crash_writer.c) on the
 * same store directory: it recovers the store left by the previous kill,
 * then two threads upsert batches of CRASH_K points (one record each) and
 * report every acknowledged batch number on a pipe.  The parent SIGKILLs
 * it once it has seen the progress the round wants -- some new batches
 * acknowledged (mid-write, mid-fsync), a checkpoint under way (the
 * checkpoint threshold is the minimum, so checkpoints are frequent), or
 * right at the start, during recovery -- drains the pipe, and checks a
 * copy of the directory (the original is left as the crash left it, for
 * the next writer to recover):
 *
 *  - every group of points (the batches overwrite CRASH_GROUPS groups)
 *    is entirely present or entirely absent, and all its points carry the
 *    same batch, with its exact vectors and payloads;
 *  - a group holds the latest acknowledged batch written to it, or the
 *    one batch of a thread that was in flight when it was killed;
 *  - a group that was ever acknowledged is present.
 *
 * The same rounds run against a sparse collection too (crash_writer's
 * "sparse" mode, fewer kills): every point's sparse vector must be its
 * batch's, and after recovery the posting lists must answer as the exact
 * scan does.
 *
 * A process kill leaves the page cache intact, so this checks the log's
 * ordering, atomicity and recovery logic, not the disk's; the fsync side
 * is covered by the group commit test in test_wal.c.
 */
#include "quiver.h"
#include "tests/crash_common.h"
#include "tests/wal_support.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CRASH_WRITER
#error "CRASH_WRITER must name the crash_writer binary"
#endif

/* The collection is sparse (the loop test's second run). */
static bool sparse_mode;

enum {
    KILLS = 100,
    SPARSE_KILLS = 30,
    MAX_WANT = 24,            /* batches to see before a mid-write kill */
    START_KILL_MAX_US = 3000, /* delay of a kill during start-up */
    CKPT_WATCH_ACKS = 4000,   /* batches to watch for a checkpoint */
    STALL_SECONDS = 120,      /* safety net: no batch for this long fails */
};

typedef struct progress {
    int64_t acked[2];                 /* last acknowledged batch per thread */
    int64_t group_best[CRASH_GROUPS]; /* latest acknowledged batch, or -1 */
} progress;

static uint64_t next_batch(const progress *p, int t)
{
    return p->acked[t] < 0 ? (uint64_t)t : (uint64_t)p->acked[t] + 2;
}

/* Point id's vector: dense, or sparse (values and indices; the indices
 * of crash_sparse are ascending, as stored). */
static qv_status read_point(qv_collection *c, const qv_point_id *id, float *v,
                            uint32_t *idx)
{
    if (!sparse_mode)
        return qv_get(c, id, v, CRASH_DIM);
    uint32_t *gi = NULL, nnz = 0;
    float *gv = NULL;
    qv_status st = qv_sparse_get(c, id, &gi, &gv, &nnz);
    if (st == QV_OK) {
        ck_assert_uint_eq(nnz, CRASH_DIM);
        memcpy(v, gv, CRASH_DIM * sizeof(float));
        memcpy(idx, gi, CRASH_DIM * sizeof(uint32_t));
    }
    qv_free(gi);
    qv_free(gv);
    return st;
}

/* The recovered posting lists answer as the exact scan does. */
static void check_sparse_index(qv_collection *c)
{
    for (uint32_t q = 0; q < 3 * CRASH_DIM; q += 5) {
        uint32_t qi[2] = {q, q + 1};
        float qv[2] = {1.0f, -0.5f};
        qv_sparse_vector sv = {qi, qv, 2};
        qv_search_params p;
        qv_search_params_init(&p);
        p.k = 20;
        qv_hit a[20], b[20];
        size_t na, nb;
        ck_assert_int_eq(qv_sparse_search(c, &sv, &p, a, &na), QV_OK);
        p.exact = true;
        ck_assert_int_eq(qv_sparse_search(c, &sv, &p, b, &nb), QV_OK);
        ck_assert_uint_eq(na, nb);
        for (size_t i = 0; i < na; i++) {
            ck_assert(qv_id_compare(&a[i].id, &b[i].id) == 0);
            ck_assert(a[i].score == b[i].score);
        }
    }
}

/* Checks one group; returns whether it is present. */
static bool check_group(qv_collection *c, const progress *p, uint64_t g)
{
    int present = 0;
    int64_t batch = -1;
    for (unsigned i = 0; i < CRASH_K; i++) {
        qv_point_id id = qv_id_from_num(g * CRASH_K + i);
        float v[CRASH_DIM], want[CRASH_DIM];
        uint32_t sidx[CRASH_DIM];
        qv_status st = read_point(c, &id, v, sidx);
        if (st == QV_ENOTFOUND)
            continue;
        ck_assert_int_eq(st, QV_OK);
        present++;
        char *json, expect[64];
        size_t len;
        ck_assert_int_eq(qv_payload_get(c, &id, NULL, &json, &len), QV_OK);
        unsigned long long b;
        unsigned ii;
        ck_assert_int_eq(sscanf(json, "{\"b\":%llu,\"i\":%u}", &b, &ii), 2);
        crash_payload(b, i, expect, sizeof(expect));
        ck_assert_str_eq(json, expect);
        qv_free(json);
        uint32_t want_idx[CRASH_DIM];
        crash_sparse(b, i, want_idx, want);
        ck_assert_msg(!sparse_mode || memcmp(sidx, want_idx, sizeof(sidx)) == 0,
                      "group %llu point %u: indices are not batch %llu's",
                      (unsigned long long)g, i, b);
        ck_assert_msg(memcmp(v, want, sizeof(v)) == 0,
                      "group %llu point %u: vector is not batch %llu's",
                      (unsigned long long)g, i, b);
        ck_assert_uint_eq(b % CRASH_GROUPS, g);
        if (batch < 0)
            batch = (int64_t)b;
        ck_assert_msg(batch == (int64_t)b,
                      "group %llu mixes batches %lld and %llu",
                      (unsigned long long)g, (long long)batch, b);
    }
    ck_assert_msg(present == 0 || present == (int)CRASH_K,
                  "group %llu is partially present (%d of %u points)",
                  (unsigned long long)g, present, CRASH_K);
    if (!present) {
        ck_assert_msg(p->group_best[g] < 0,
                      "group %llu lost acknowledged batch %lld",
                      (unsigned long long)g, (long long)p->group_best[g]);
        return false;
    }
    /* The latest acknowledged batch, or a thread's in-flight one. */
    int t = (int)(batch % 2);
    ck_assert_msg(
        batch == p->group_best[g] ||
            (batch > p->group_best[g] && (uint64_t)batch == next_batch(p, t)),
        "group %llu holds batch %lld; acknowledged %lld, in "
        "flight %llu",
        (unsigned long long)g, (long long)batch, (long long)p->group_best[g],
        (unsigned long long)next_batch(p, t));
    return true;
}

static void verify(const char *image, const progress *p)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = 0; /* the copy is thrown away: no checkpoint */
    qv_store *s;
    char err[512];
    qv_status st = qv_store_open_dir(image, &o, &s, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "recovery failed: %s: %s", qv_status_name(st),
                  err);
    qv_collection *c;
    if (qv_store_get(s, "c", &c) != QV_OK) {
        /* Killed before the collection was created: nothing acked. */
        ck_assert(p->acked[0] < 0 && p->acked[1] < 0);
        qv_store_close(s);
        return;
    }
    uint64_t groups = 0, count;
    for (uint64_t g = 0; g < CRASH_GROUPS; g++)
        groups += check_group(c, p, g);
    ck_assert_int_eq(qv_count(c, &count), QV_OK);
    ck_assert_uint_eq(count, groups * CRASH_K);
    if (sparse_mode)
        check_sparse_index(c);
    qv_collection_release(c);
    qv_store_close(s);
}

/* ---- running and killing the writer -------------------------------------
 *
 * A kill is timed by what the parent has seen the writer do, never by a
 * clock, so that a slow or loaded machine (sanitizers, other jobs) kills
 * it at the same points as a fast one, only later:
 *
 *  - KILL_WRITING: after WANT new acknowledged batches (1..MAX_WANT);
 *  - KILL_CHECKPOINT: after one new batch, as soon as the store directory
 *    shows a checkpoint this writer started (a temporary file, or a new
 *    log segment beside an old one), so the kill lands between the
 *    checkpoint's steps;
 *  - KILL_STARTING: a short random delay after the start, so mostly
 *    during exec or recovery.  Nothing is asserted about where it lands.
 *
 * The clock is only a safety net: a writer that acknowledges nothing for
 * STALL_SECONDS fails the test with a message instead of hanging it. */

typedef enum kill_when {
    KILL_STARTING,
    KILL_WRITING,
    KILL_CHECKPOINT
} kill_when;

typedef struct writer {
    pid_t pid;
    int fd; /* the read end of its acknowledgement pipe */
    int acked;
    double last_ack; /* when it last acknowledged (or started) */
} writer;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void note_ack(progress *p, uint64_t b)
{
    int t = (int)(b % 2);
    ck_assert_msg((int64_t)b > p->acked[t], "batch %llu acked twice",
                  (unsigned long long)b);
    p->acked[t] = (int64_t)b;
    if ((int64_t)b > p->group_best[b % CRASH_GROUPS])
        p->group_best[b % CRASH_GROUPS] = (int64_t)b;
}

/* Fails the test: the writer ended before it was killed. */
static void writer_died(writer *w)
{
    int status;
    ck_assert_int_eq(waitpid(w->pid, &status, 0), w->pid);
    ck_abort_msg("the writer ended by itself after %d acknowledged batches "
                 "(status %d): see its stderr",
                 w->acked, status);
}

/* Records the acknowledgements that arrive within timeout_ms (0: those
 * already there); returns how many. */
static int read_acks(writer *w, progress *p, int timeout_ms)
{
    struct pollfd pf = {w->fd, POLLIN, 0};
    int r = poll(&pf, 1, timeout_ms);
    if (r < 0 && errno == EINTR)
        return 0;
    ck_assert_int_ge(r, 0);
    if (r == 0)
        return 0;
    /* Each batch number is one 8-byte write, atomic on a pipe, so the pipe
     * always holds whole numbers. */
    uint64_t b[64];
    ssize_t k = read(w->fd, b, sizeof(b));
    if (k == 0)
        writer_died(w);
    ck_assert_int_gt(k, 0);
    ck_assert_int_eq(k % (ssize_t)sizeof(b[0]), 0);
    int n = (int)(k / (ssize_t)sizeof(b[0]));
    for (int i = 0; i < n; i++)
        note_ack(p, b[i]);
    w->acked += n;
    w->last_ack = now_seconds();
    return n;
}

static void check_not_stalled(const writer *w)
{
    ck_assert_msg(now_seconds() - w->last_ack < STALL_SECONDS,
                  "the writer acknowledged no batch for %d s (%d acknowledged "
                  "before): hung, or the machine is far too slow",
                  STALL_SECONDS, w->acked);
}

/* Waits until the writer has acknowledged want batches in all. */
static void await_acks(writer *w, progress *p, int want)
{
    while (w->acked < want) {
        read_acks(w, p, 1000);
        check_not_stalled(w);
    }
}

/* Traces of a checkpoint in the store: temporary files, log segments and
 * the highest segment number. */
typedef struct traces {
    int segs, tmps;
    uint64_t max_seq;
} traces;

static void scan_traces(const char *dir, traces *t)
{
    DIR *d = opendir(dir);
    if (!d) /* not created yet, or a directory being removed */
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a[4096];
        PATHF(a, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(a, &sb) != 0)
            continue; /* deleted while we looked */
        if (S_ISDIR(sb.st_mode)) {
            scan_traces(a, t);
        } else if (is_segment(e->d_name)) {
            t->segs++;
            uint64_t seq = strtoull(e->d_name + 4, NULL, 16);
            t->max_seq = seq > t->max_seq ? seq : t->max_seq;
        } else {
            t->tmps += strstr(e->d_name, ".tmp") != NULL;
        }
    }
    closedir(d);
}

/* Watches the store until a checkpoint started by this writer is in
 * progress.  Returns whether one was seen before CKPT_WATCH_ACKS more
 * batches (then the kill lands mid-write, which is no failure). */
static bool await_checkpoint(writer *w, progress *p, const char *store)
{
    traces t0 = {0};
    scan_traces(store, &t0);
    int until = w->acked + CKPT_WATCH_ACKS;
    while (w->acked < until) {
        traces t = {0};
        scan_traces(store, &t);
        /* Segments left by an earlier kill stay until the next checkpoint
         * deletes them: only a newer one shows a checkpoint running now. */
        if (t.tmps > 0 || (t.segs > 1 && t.max_seq > t0.max_seq))
            return true;
        read_acks(w, p, 0);
        check_not_stalled(w);
        pause_us(100);
    }
    return false;
}

/* Runs the writer, kills it when the round's moment has come, collects
 * every acknowledgement it sent.  Returns the batches acknowledged; sets
 * *watched when a checkpoint was seen in progress at the kill. */
static int run_and_kill(const char *store, progress *p, kill_when when,
                        int want, long start_us, bool *watched)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char a0[32], a1[32], bytes[32];
    PATHF(a0, "%llu", (unsigned long long)next_batch(p, 0));
    PATHF(a1, "%llu", (unsigned long long)next_batch(p, 1));
    PATHF(bytes, "%u", QV_MIN_CHECKPOINT_WAL_BYTES);
    writer w = {.pid = fork(), .fd = fds[0], .last_ack = now_seconds()};
    ck_assert_int_ge(w.pid, 0);
    if (w.pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(CRASH_WRITER, CRASH_WRITER, store, a0, a1, bytes,
              sparse_mode ? "sparse" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *watched = false;
    if (when == KILL_STARTING) {
        pause_us(start_us);
    } else {
        await_acks(&w, p, when == KILL_WRITING ? want : 1);
        if (when == KILL_CHECKPOINT)
            *watched = await_checkpoint(&w, p, store);
    }
    ck_assert_int_eq(kill(w.pid, SIGKILL), 0);
    /* What it wrote before it died was acknowledged too. */
    uint64_t b;
    ssize_t k;
    while ((k = read(w.fd, &b, sizeof(b))) == sizeof(b)) {
        note_ack(p, b);
        w.acked++;
    }
    ck_assert_int_eq(k, 0);
    close(w.fd);
    int status;
    ck_assert_int_eq(waitpid(w.pid, &status, 0), w.pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the writer exited by itself (status %d): see its stderr",
                  status);
    return w.acked;
}

START_TEST(test_kill_during_writes)
{
    sparse_mode = _i == 1;
    int kills = sparse_mode ? SPARSE_KILLS : KILLS;
    char tmpl[] = "/tmp/qv-crash-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char store[4096], image[4096];
    PATHF(store, "%s/store", tmpl);
    PATHF(image, "%s/image", tmpl);
    progress p = {.acked = {-1, -1}};
    for (unsigned g = 0; g < CRASH_GROUPS; g++)
        p.group_best[g] = -1;
    unsigned seed = 20240601;
    int total = 0, progressed = 0, mid_checkpoint = 0, watched_ckpt = 0;
    for (int round = 0; round < kills; round++) {
        /* Mostly mid-write or mid-checkpoint, sometimes right at the start
         * (during recovery). */
        kill_when when = round % 7 == 0   ? KILL_STARTING
                         : round % 3 == 0 ? KILL_CHECKPOINT
                                          : KILL_WRITING;
        int want = 1 + rand_r(&seed) % MAX_WANT;
        long start_us = rand_r(&seed) % START_KILL_MAX_US;
        bool watched;
        int n = run_and_kill(store, &p, when, want, start_us, &watched);
        total += n;
        progressed += when != KILL_STARTING;
        watched_ckpt += watched;
        int segs = 0, tmps = 0;
        if (access(store, F_OK) != 0) { /* killed before it made it */
            ck_assert(p.acked[0] < 0 && p.acked[1] < 0);
            continue;
        }
        rm_rf(image);
        copy_tree_counting(store, image, &segs, &tmps);
        mid_checkpoint += segs > 1 || tmps > 0;
        verify(image, &p);
    }
    printf("crash%s: %d kills, %d batches acknowledged, %d kills seen "
           "mid-checkpoint, %d left a checkpoint in progress\n",
           sparse_mode ? " (sparse)" : "", kills, total, watched_ckpt,
           mid_checkpoint);
    /* Holds by construction (each such round waited for a batch); a
     * failure here means the acknowledgements were miscounted. */
    ck_assert_int_ge(total, progressed);
    /* Checkpoints run every few batches: rounds that watch for one and
     * never see it mean the writer stopped checkpointing. */
    ck_assert_msg(watched_ckpt > 0, "no checkpoint seen under way");
    rm_rf(tmpl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("crash");
    /* Generous: the writer's progress, not a clock, decides each kill, and
     * a stalled writer fails by itself after STALL_SECONDS. */
    tcase_set_timeout(tc, 1200);
    tcase_add_loop_test(tc, test_kill_during_writes, 0, 2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
