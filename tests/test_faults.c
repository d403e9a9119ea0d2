/*
 * test_faults.c -- fault injection, as SQLite's test suite does it: the
 * k-th call of one kind fails, for every k a representative workload
 * reaches, and the store must come through it.
 *
 * How calls fail.  This program is linked with the linker's --wrap for
 * write, pwrite, fwrite (kind "write"), fsync, fdatasync ("fsync"), rename
 * ("rename"), mmap ("mmap"), malloc, calloc, realloc, aligned_alloc and
 * strdup ("malloc") -- see CMakeLists.txt -- so every call the library's
 * objects make goes through the __wrap_ functions below (cJSON's
 * allocations too, through cJSON_InitHooks), and the library's
 * code is the code that ships, untouched.  Calls are counted and failed
 * only while `armed` is set, which the test sets around each library call
 * and clears for its own bookkeeping; calls made from inside libc (stdio's
 * own write of a buffer, say) are not seen.  A failing call returns what
 * the real one returns on failure (-1 or NULL or MAP_FAILED, a short
 * fwrite) with errno EIO or ENOMEM; with --sticky the first failing
 * write is a short one and the later ones ENOSPC, as a disk filling up.
 *
 * The workload (one run): open a durable store (qv_store_open_dir, with
 * the smallest checkpoint threshold so that writes also checkpoint),
 * create a collection, then upserts with payloads, vector-only upserts,
 * deletes, payload set / overwrite / delete keys / clear, payload index
 * create and drop, an explicit qv_snapshot_save, qv_store_checkpoint, a
 * second collection created, written and dropped, close and reopen, more
 * writes, close.  A first run without injection counts the calls of each
 * kind; then for each kind and each k a forked child runs the workload
 * with the k-th call of that kind failing once (--sticky: failing from
 * the k-th call on, as a full disk would).
 *
 * The model.  For each point id the test keeps the set of states the
 * store may hold: an acknowledged write (QV_OK) replaces the set with the
 * write applied to each member; a write that returned an error adds the
 * states it would produce to the set (an fsync that fails leaves the
 * change applied in memory but unacknowledged: it may or may not survive).
 * The same for the payload index and the second collection.  The open
 * store must hold, for every id, a state in its set (so every acknowledged
 * write and nothing never attempted) before its first close, and again
 * after the reopen and the last writes; then it is closed and reopened
 * without injection, checked again, and must accept one more write.  A
 * child that crashes (or, under AddressSanitizer, leaks), fails a check,
 * or cannot reopen fails the test.  What it cannot see: a write the
 * kernel accepted but a power cut would lose (no crash is simulated here;
 * tests/test_crash.c kills a writer for that).
 *
 * Output: per kind, the calls counted and the injection points exercised
 * (runs in which the failure fired).  By default every k is run while the
 * workload makes at most 4,000 calls, and a stride keeps the run short
 * beyond that; `--all` runs every k whatever the count (target
 * check_faults_full), `--stride N` sets the stride.
 */
#include <quiver.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the shim -------------------------------------------------------------
 */

enum { K_WRITE, K_FSYNC, K_RENAME, K_MMAP, K_MALLOC, K_COUNT };
static const char *const kind_names[K_COUNT] = {"write", "fsync", "rename",
                                                "mmap", "malloc"};

/* Shared with the parent (a MAP_SHARED page): the calls the last run of a
 * child counted, and whether its injection fired. */
typedef struct shared {
    atomic_ulong calls[K_COUNT];
    atomic_bool fired;
} shared;

static shared *sh;
static atomic_bool armed;
static int fail_kind = -1;
static unsigned long fail_at; /* 1-based */
static bool sticky;

static bool inject(int kind)
{
    if (!atomic_load(&armed) || !sh)
        return false;
    unsigned long n = atomic_fetch_add(&sh->calls[kind], 1) + 1;
    if (kind != fail_kind || n < fail_at || (!sticky && n != fail_at))
        return false;
    atomic_store(&sh->fired, true);
    return true;
}

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_rename(const char *a, const char *b);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
char *__real_strdup(const char *s);

ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_rename(const char *a, const char *b);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
char *__wrap_strdup(const char *s);

/* A sticky write failure is a disk filling up: the first failing call
 * writes half of its bytes and returns the short count, the later ones
 * write nothing (ENOSPC).  A single failure is an I/O error (EIO). */
static bool short_write(void)
{
    static bool done;
    if (!sticky || done)
        return false;
    done = true;
    return true;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (inject(K_WRITE)) {
        if (n > 1 && short_write())
            return __real_write(fd, buf, n / 2);
        errno = sticky ? ENOSPC : EIO;
        return -1;
    }
    return __real_write(fd, buf, n);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (inject(K_WRITE)) {
        if (n > 1 && short_write())
            return __real_pwrite(fd, buf, n / 2, off);
        errno = sticky ? ENOSPC : EIO;
        return -1;
    }
    return __real_pwrite(fd, buf, n, off);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    if (inject(K_WRITE)) {
        if (n > 1 && short_write())
            return __real_fwrite(p, size, n / 2, f);
        errno = sticky ? ENOSPC : EIO;
        return 0;
    }
    return __real_fwrite(p, size, n, f);
}

int __wrap_fsync(int fd)
{
    if (inject(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
    if (inject(K_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

int __wrap_rename(const char *a, const char *b)
{
    if (inject(K_RENAME)) {
        errno = EIO;
        return -1;
    }
    return __real_rename(a, b);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    if (inject(K_MMAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

void *__wrap_malloc(size_t n)
{
    if (inject(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (inject(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (inject(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (inject(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_aligned_alloc(align, n);
}

char *__wrap_strdup(const char *s)
{
    if (inject(K_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

/* cJSON (a shared library, which --wrap cannot reach) allocates through
 * hooks: the library parses payloads and filters with it, so its
 * allocations count as the library's. */
static void *hook_malloc(size_t n)
{
    return __wrap_malloc(n);
}

static void hook_free(void *p)
{
    free(p);
}

/* A library call with injection armed. */
#define LIB(call)                                                              \
    ({                                                                         \
        atomic_store(&armed, true);                                            \
        __auto_type lib_rv_ = (call);                                          \
        atomic_store(&armed, false);                                           \
        lib_rv_;                                                               \
    })

/* ---- the model ------------------------------------------------------------
 */

#define MAX_ID     40
#define MAX_STATES 64
#define DIM        4

/* A point as the model sees it: absent, or a vector version and a payload
 * made of the keys v (int), tag (string "t<n>") and s (int). */
typedef struct pstate {
    bool present;
    int ver;
    bool has_v, has_tag, has_s;
    int v, tag, s;
} pstate;

typedef struct pset {
    size_t n;
    pstate s[MAX_STATES];
} pset;

static pset model[MAX_ID + 1];
static bool idx_may[2]; /* [0]: may be absent, [1]: may be present */
static bool d_may[2];   /* the same for the second collection, "d" */
static char failure[1024];

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
    if (!failure[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(failure, sizeof(failure), fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool same(const pstate *a, const pstate *b)
{
    if (a->present != b->present)
        return false;
    if (!a->present)
        return true;
    return a->ver == b->ver && a->has_v == b->has_v &&
           a->has_tag == b->has_tag && a->has_s == b->has_s &&
           (!a->has_v || a->v == b->v) && (!a->has_tag || a->tag == b->tag) &&
           (!a->has_s || a->s == b->s);
}

static void add_state(pset *p, const pstate *st)
{
    for (size_t i = 0; i < p->n; i++)
        if (same(&p->s[i], st))
            return;
    if (p->n == MAX_STATES) {
        fail("model: too many possible states");
        return;
    }
    p->s[p->n++] = *st;
}

/* An operation on one point's state; returns false when it does not apply
 * (a payload edit of an absent point: QV_ENOTFOUND). */
typedef bool (*op_fn)(pstate *st, int arg);

/* Applies op to id's states: acknowledged (ok) replaces them with the
 * results, failed adds the results to them. */
static void model_apply(int id, op_fn op, int arg, bool ok)
{
    pset next = {0};
    pset *cur = &model[id];
    if (!ok)
        next = *cur;
    for (size_t i = 0; i < cur->n; i++) {
        pstate st = cur->s[i];
        if (op(&st, arg))
            add_state(&next, &st);
    }
    if (ok && next.n == 0) {
        fail("id %d: acknowledged an edit of a point that cannot exist", id);
        return;
    }
    *cur = next;
}

static bool op_upsert_payload(pstate *st, int ver)
{
    *st = (pstate){.present = true,
                   .ver = ver,
                   .has_v = true,
                   .v = ver,
                   .has_tag = true,
                   .tag = ver % 3};
    return true;
}

static bool op_upsert_vector(pstate *st, int ver)
{
    if (!st->present)
        *st = (pstate){.present = true};
    st->ver = ver;
    return true;
}

static bool op_delete(pstate *st, int arg)
{
    (void)arg;
    bool was = st->present;
    *st = (pstate){0};
    return was;
}

static bool op_set_s(pstate *st, int s)
{
    if (!st->present)
        return false;
    st->has_s = true;
    st->s = s;
    return true;
}

static bool op_overwrite(pstate *st, int v)
{
    if (!st->present)
        return false;
    st->has_v = true;
    st->v = v;
    st->has_tag = st->has_s = false;
    return true;
}

static bool op_delete_s(pstate *st, int arg)
{
    (void)arg;
    if (!st->present)
        return false;
    st->has_s = false;
    return true;
}

static bool op_clear(pstate *st, int arg)
{
    (void)arg;
    if (!st->present)
        return false;
    st->has_v = st->has_tag = st->has_s = false;
    return true;
}

/* The state the store holds for id, read without injection. */
static bool read_state(qv_collection *c, int id, pstate *out)
{
    *out = (pstate){0};
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    bool has = false;
    if (qv_contains(c, &pid, &has) != QV_OK)
        return fail("id %d: qv_contains failed", id);
    if (!has)
        return true;
    float vec[DIM];
    if (qv_get(c, &pid, vec, DIM) != QV_OK)
        return fail("id %d: qv_get failed", id);
    if (vec[1] != (float)id || vec[2] != 0.5f || vec[3] != 1.0f)
        return fail("id %d: vector not written by the test", id);
    out->present = true;
    out->ver = (int)vec[0];
    char *json = NULL;
    size_t len = 0;
    if (qv_payload_get(c, &pid, NULL, &json, &len) != QV_OK)
        return fail("id %d: qv_payload_get failed", id);
    cJSON *p = cJSON_ParseWithLength(json, len);
    qv_free(json);
    bool ok = cJSON_IsObject(p);
    const cJSON *e;
    cJSON_ArrayForEach(e, p)
    {
        if (!strcmp(e->string, "v") && cJSON_IsNumber(e)) {
            out->has_v = true;
            out->v = e->valueint;
        } else if (!strcmp(e->string, "s") && cJSON_IsNumber(e)) {
            out->has_s = true;
            out->s = e->valueint;
        } else if (!strcmp(e->string, "tag") && cJSON_IsString(e) &&
                   e->valuestring[0] == 't') {
            out->has_tag = true;
            out->tag = atoi(e->valuestring + 1);
        } else
            ok = false;
    }
    cJSON_Delete(p);
    return ok || fail("id %d: payload not written by the test", id);
}

static void describe(const pstate *s, char *buf, size_t cap)
{
    if (!s->present)
        snprintf(buf, cap, "absent");
    else
        snprintf(buf, cap, "ver %d v%s%d tag%s%d s%s%d", s->ver,
                 s->has_v ? "=" : "-", s->v, s->has_tag ? "=" : "-", s->tag,
                 s->has_s ? "=" : "-", s->s);
}

/* Every point of c is in one of its model states, the count adds up, and
 * the index is as the model allows. */
static bool check_store(qv_store *s, const char *when)
{
    qv_collection *c = NULL;
    if (qv_store_get(s, "c", &c) != QV_OK)
        return fail("%s: collection missing", when);
    uint64_t count = 0, present = 0;
    bool ok = qv_count(c, &count) == QV_OK;
    for (int id = 1; ok && id <= MAX_ID + 1; id++) {
        pstate st;
        ok = read_state(c, id, &st);
        if (!ok)
            break;
        if (id == MAX_ID + 1) {
            ok = !st.present || fail("%s: a point never written", when);
            break;
        }
        present += st.present;
        bool found = false;
        for (size_t i = 0; i < model[id].n && !found; i++)
            found = same(&model[id].s[i], &st);
        if (!found) {
            char got[128], want[128] = "";
            describe(&st, got, sizeof(got));
            if (model[id].n)
                describe(&model[id].s[0], want, sizeof(want));
            ok = fail("%s: id %d holds %s; the model allows %zu states, "
                      "e.g. %s",
                      when, id, got, model[id].n, want);
        }
    }
    if (ok && count != present)
        ok = fail("%s: count %llu, %llu points found", when,
                  (unsigned long long)count, (unsigned long long)present);
    qv_payload_index_info *info = NULL;
    size_t n = 0;
    if (ok && qv_payload_index_list(c, &info, &n) != QV_OK)
        ok = fail("%s: qv_payload_index_list failed", when);
    bool has_idx = false;
    for (size_t i = 0; ok && i < n; i++)
        has_idx |= !strcmp(info[i].key, "tag");
    qv_free(info);
    if (ok && !idx_may[has_idx])
        ok = fail("%s: the tag index is %s", when,
                  has_idx ? "there" : "missing");
    qv_collection_release(c);
    qv_collection *d = NULL;
    bool has_d = qv_store_get(s, "d", &d) == QV_OK;
    qv_collection_release(d);
    if (ok && !d_may[has_d])
        ok = fail("%s: collection d is %s", when, has_d ? "there" : "missing");
    return ok;
}

/* ---- the workload ---------------------------------------------------------
 */

static char dir[512], snap[600];

static void vec_of(int id, int ver, float *v)
{
    v[0] = (float)ver;
    v[1] = (float)id;
    v[2] = 0.5f;
    v[3] = 1.0f;
}

static void w_upsert_payloads(qv_collection *c, int first, int n, int ver)
{
    qv_point_id ids[MAX_ID];
    float vecs[MAX_ID * DIM];
    char text[MAX_ID][64];
    const char *pay[MAX_ID];
    size_t lens[MAX_ID];
    for (int i = 0; i < n; i++) {
        int id = 1 + (first + i) % MAX_ID;
        ids[i] = qv_id_from_num((uint64_t)id);
        vec_of(id, ver, vecs + i * DIM);
        snprintf(text[i], sizeof(text[i]), "{\"v\":%d,\"tag\":\"t%d\"}", ver,
                 ver % 3);
        pay[i] = text[i];
        lens[i] = strlen(text[i]);
    }
    bool ok = LIB(qv_upsert_with_payloads(c, ids, vecs, (size_t)n, DIM, pay,
                                          lens)) == QV_OK;
    for (int i = 0; i < n; i++)
        model_apply(1 + (first + i) % MAX_ID, op_upsert_payload, ver, ok);
}

static void w_upsert_vector(qv_collection *c, int id, int ver)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    float v[DIM];
    vec_of(id, ver, v);
    bool ok = LIB(qv_upsert(c, &pid, v, DIM)) == QV_OK;
    model_apply(id, op_upsert_vector, ver, ok);
}

static void w_delete(qv_collection *c, int id)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    bool ok = LIB(qv_delete(c, &pid)) == QV_OK;
    model_apply(id, op_delete, 0, ok);
}

static void w_set_s(qv_collection *c, int id, int s)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    char text[32];
    snprintf(text, sizeof(text), "{\"s\":%d}", s);
    bool ok = LIB(qv_payload_set(c, &pid, text, strlen(text), NULL)) == QV_OK;
    model_apply(id, op_set_s, s, ok);
}

static void w_overwrite(qv_collection *c, int id, int v)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    char text[32];
    snprintf(text, sizeof(text), "{\"v\":%d}", v);
    bool ok = LIB(qv_payload_overwrite(c, &pid, text, strlen(text))) == QV_OK;
    model_apply(id, op_overwrite, v, ok);
}

static void w_delete_s(qv_collection *c, int id)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    const char *keys[] = {"s"};
    bool ok = LIB(qv_payload_delete_keys(c, &pid, keys, 1)) == QV_OK;
    model_apply(id, op_delete_s, 0, ok);
}

static void w_clear(qv_collection *c, int id)
{
    qv_point_id pid = qv_id_from_num((uint64_t)id);
    bool ok = LIB(qv_payload_clear(c, &pid)) == QV_OK;
    model_apply(id, op_clear, 0, ok);
}

static void w_index(qv_collection *c, bool create)
{
    qv_status st =
        create ? LIB(qv_payload_index_create(c, "tag", QV_INDEX_KEYWORD))
               : LIB(qv_payload_index_drop(c, "tag"));
    if (st == QV_OK)
        idx_may[!create] = false;
    idx_may[create] = true;
}

/* An explicit snapshot: whatever the outcome, the file is either absent
 * or a complete, valid snapshot (never a torn one). */
static bool w_snapshot(qv_collection *c)
{
    qv_status st = LIB(qv_snapshot_save(c, snap));
    char err[256];
    if (st == QV_OK || access(snap, F_OK) == 0) {
        qv_status v = qv_snapshot_verify(snap, err, sizeof(err));
        if (v != QV_OK)
            return fail("snapshot save (%s) left a bad file: %s",
                        qv_strerror(st), err);
    }
    return true;
}

static qv_store *open_store(bool inject_on, char *err, size_t cap)
{
    qv_store_options o;
    qv_store_options_init(&o);
    o.checkpoint_wal_bytes = QV_MIN_CHECKPOINT_WAL_BYTES;
    qv_store *s = NULL;
    qv_status st = inject_on ? LIB(qv_store_open_dir(dir, &o, &s, err, cap))
                             : qv_store_open_dir(dir, &o, &s, err, cap);
    return st == QV_OK ? s : NULL;
}

/* A second collection, created, written and dropped: the store's create
 * (tmp/, rename into collections/) and drop (rename into trash/) paths. */
static void w_second(qv_store *s)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.max_indexing_threads = 1;
    qv_collection *d = NULL;
    qv_status st = LIB(qv_store_create(s, "d", &cfg, &d));
    if (st == QV_OK)
        d_may[0] = false;
    d_may[1] = true;
    if (st == QV_OK) {
        qv_point_id pid = qv_id_from_num(7);
        float v[DIM] = {1, 2, 3, 4};
        LIB(qv_upsert(d, &pid, v, DIM));
        qv_collection_release(d);
    }
    if (LIB(qv_store_drop(s, "d")) == QV_OK)
        d_may[1] = false;
    d_may[0] = true;
}

/* Writes to the open store: a mix of every kind of write. */
static void w_writes(qv_collection *c, int round)
{
    int base = round * 100;
    w_upsert_payloads(c, round, 4, base + 1);
    w_upsert_payloads(c, round + 5, 3, base + 2);
    w_set_s(c, 1 + (round + 1) % MAX_ID, base + 3);
    w_upsert_vector(c, 1 + (round + 2) % MAX_ID, base + 4);
    w_overwrite(c, 1 + (round + 6) % MAX_ID, base + 5);
    w_delete(c, 1 + (round + 3) % MAX_ID);
    w_set_s(c, 1 + (round + 5) % MAX_ID, base + 6);
    w_delete_s(c, 1 + (round + 5) % MAX_ID);
    w_clear(c, 1 + (round + 7) % MAX_ID);
    w_upsert_vector(c, 1 + (round + 9) % MAX_ID, base + 7);
    w_upsert_payloads(c, round + 8, 2, base + 8);
    w_delete(c, 1 + (round + 8) % MAX_ID);
}

/* One run of the workload; true when every check passed. */
static bool workload(void)
{
    for (int id = 0; id <= MAX_ID; id++)
        model[id] = (pset){.n = 1};
    idx_may[0] = d_may[0] = true;
    idx_may[1] = d_may[1] = false;
    char err[512];
    qv_store *s = open_store(true, err, sizeof(err));
    if (!s && !(s = open_store(false, err, sizeof(err))))
        return fail("first open without injection: %s", err);
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = DIM;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.max_indexing_threads = 1;
    qv_collection *c = NULL;
    qv_status st = LIB(qv_store_create(s, "c", &cfg, &c));
    if (st != QV_OK) {
        /* Nothing may be left behind: the name is free again.  Unless
         * the failure is sticky and the clean-up's own rename failed too:
         * then the empty collection's directory stays, and the store must
         * recover it as an empty collection. */
        st = qv_store_create(s, "c", &cfg, &c);
        if (st == QV_EEXIST && sticky) {
            qv_store_close(s);
            s = open_store(false, err, sizeof(err));
            st = s ? qv_store_get(s, "c", &c) : QV_EIO;
        }
        if (st != QV_OK) {
            qv_store_close(s);
            return fail("create after a failed create: %s", qv_strerror(st));
        }
    }
    w_upsert_payloads(c, 0, MAX_ID, 50); /* growth: rows, id map, graph */
    w_writes(c, 0);
    w_index(c, true);
    w_writes(c, 1);
    if (!w_snapshot(c)) {
        qv_collection_release(c);
        qv_store_close(s);
        return false;
    }
    LIB(qv_store_checkpoint(s));
    w_second(s);
    w_writes(c, 2);
    w_index(c, false);
    w_writes(c, 3);
    w_index(c, true);

    /* What the open store holds after the failure, then close and reopen
     * with injection still armed. */
    qv_collection_release(c);
    c = NULL;
    if (!failure[0])
        check_store(s, "in memory");
    atomic_store(&armed, true);
    qv_store_close(s);
    atomic_store(&armed, false);
    s = open_store(true, err, sizeof(err));
    if (s && qv_store_get(s, "c", &c) == QV_OK) {
        w_writes(c, 4);
        qv_collection_release(c);
        c = NULL;
    }
    bool ok = !failure[0];
    if (s) {
        ok = ok && check_store(s, "before close");
        atomic_store(&armed, true);
        qv_store_close(s);
        atomic_store(&armed, false);
    }

    /* Recovery, without injection, must hold the model. */
    s = open_store(false, err, sizeof(err));
    if (!s)
        return fail("reopen without injection: %s", err);
    ok = ok && check_store(s, "after reopen");
    /* ... and the store still takes writes. */
    if (ok && qv_store_get(s, "c", &c) == QV_OK) {
        qv_point_id pid = qv_id_from_num(1000);
        float v[DIM] = {1, 1000, 0.5f, 1};
        if (qv_upsert(c, &pid, v, DIM) != QV_OK)
            ok = fail("a write after recovery failed");
        qv_collection_release(c);
    }
    qv_store_close(s);
    return ok;
}

/* ---- the driver -----------------------------------------------------------
 */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs the workload in a child in a fresh directory.  Returns 0 when it
 * passed, 1 when it failed (message printed), 2 when it crashed. */
static int run_child(int kind, unsigned long k)
{
    for (int i = 0; i < K_COUNT; i++)
        atomic_store(&sh->calls[i], 0);
    atomic_store(&sh->fired, false);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        fail_kind = kind;
        fail_at = k;
        bool ok = workload();
        if (!ok)
            fprintf(stderr, "FAIL: %s call %lu%s: %s\n",
                    kind >= 0 ? kind_names[kind] : "none", k,
                    sticky ? " onwards" : "", failure);
        exit(ok ? 0 : 1); /* not _exit: LeakSanitizer checks at exit */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "CRASH: %s call %lu%s: signal %d\n",
                kind >= 0 ? kind_names[kind] : "none", k,
                sticky ? " onwards" : "", WTERMSIG(status));
        return 2;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    unsigned long stride = 0; /* 0: chosen to fit the budget */
    bool all = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all"))
            all = true;
        else if (!strcmp(argv[i], "--sticky"))
            sticky = true;
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
            stride = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: test_faults [--all | --stride N] [--sticky]\n");
            return 2;
        }
    }
    cJSON_Hooks hooks = {hook_malloc, hook_free};
    cJSON_InitHooks(&hooks);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 2;
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/quiver-faults.%d", tmp, (int)getpid());
    snprintf(snap, sizeof(snap), "%s/explicit.qvs", dir);

    /* The count run: no failure, every check must pass. */
    if (run_child(-1, 0) != 0) {
        fprintf(stderr, "the workload fails without injection\n");
        return 1;
    }
    unsigned long calls[K_COUNT], total = 0;
    for (int i = 0; i < K_COUNT; i++)
        total += calls[i] = atomic_load(&sh->calls[i]);
    /* Every k while the loop stays small (about 1,500 runs take six
     * seconds); a stride beyond 4,000 calls keeps ctest under a minute. */
    if (all)
        stride = 1;
    else if (!stride)
        stride = total / 4000 + 1;

    unsigned long runs = 0, fired[K_COUNT] = {0}, bad = 0;
    for (int kind = 0; kind < K_COUNT; kind++) {
        /* Strided runs still start at 1 and cover each kind's first
         * calls, where set-up paths live; the offset varies by kind. */
        for (unsigned long k = 1; k <= calls[kind] + 1;
             k += (k <= 8 ? 1 : stride)) {
            int rc = run_child(kind, k);
            runs++;
            if (atomic_load(&sh->fired))
                fired[kind]++;
            if (rc != 0)
                bad++;
        }
    }
    printf("fault injection%s: %lu runs, stride %lu\n",
           sticky ? " (sticky)" : "", runs, stride);
    unsigned long exercised = 0;
    for (int i = 0; i < K_COUNT; i++) {
        printf("  %-7s %6lu calls in the workload, %6lu injection points "
               "exercised\n",
               kind_names[i], calls[i], fired[i]);
        exercised += fired[i];
    }
    printf("  total   %6lu calls, %6lu injection points exercised, %lu "
           "failed\n",
           total, exercised, bad);
    munmap(sh, sizeof(*sh));
    return bad ? 1 : 0;
}
