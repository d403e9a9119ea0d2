/*
 * test_pindex.c -- payload indexes (core/pindex*.c,
 * core/scroll_order.c).
 *
 *  1. The structures against simple models under random operations:
 *     posting lists through their inline, array and bitmap forms, the
 *     value map with deletions, the ordered tree with splits and merges.
 *  2. The tokenizer on ASCII, Latin, Greek, Cyrillic, CJK and emoji.
 *  3. Each index kind through the public API: what it holds (the point
 *     counts of qv_payload_index_list), which filters it answers exactly
 *     or narrows, and that every kind of write keeps it right.
 *  4. Full-text semantics: substring without the index, tokens with it,
 *     substring again after dropping it.
 *  5. Scroll with order_by: both directions, start_from, several values
 *     per point, filters, Qdrant's error without a range index; exact
 *     numbers (i64, u64 and doubles around 2^53, 2^63 and 2^64) in key,
 *     order, start_from, paging, match and range.
 *  6. A larger collection filtered by tenant, with deletes and reused
 *     slots (bitmap postings), against brute force; the planner's use of
 *     exact index counts.
 *  7. Bad input; stale indexes (after an allocation failure) and rebuilds.
 */
#include "core/core.h"
#include "core/search/search.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 1;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng >> 33) % n);
}

/* Check records every passing ck_assert (a write per call): loops of
 * millions of checks use this instead. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
    } while (0)

/* ---- 1. structures ------------------------------------------------------ */

START_TEST(test_posting_model)
{
    enum { SLOTS = 40000, OPS = 200000 };
    uint8_t *model = calloc(SLOTS, 1);
    qvi_posting p = {0};
    uint32_t n = 0;
    int saw[3] = {0};
    rng = 7;
    for (int op = 0; op < OPS; op++) {
        /* Phases: dense adds, random churn, thinning: every form. */
        uint32_t range = op < OPS / 3 ? 3000 : SLOTS;
        uint32_t s = rnd(range);
        bool add = op < OPS / 3       ? rnd(4) != 0
                   : op < 2 * OPS / 3 ? rnd(2)
                                      : !rnd(5);
        if (add) {
            int r = qvi_posting_add(&p, s);
            REQUIRE((r) == (model[s] ? 0 : 1));
            n += !model[s];
            model[s] = 1;
        } else {
            REQUIRE(qvi_posting_remove(&p, s) == (model[s] != 0));
            n -= model[s];
            model[s] = 0;
        }
        REQUIRE((p.n) == (n));
        saw[p.mode]++;
        if (op % 5000 == 0) {
            uint32_t words = (SLOTS + 63) / 64;
            uint64_t *bits = calloc(words, 8);
            qvi_posting_or(&p, bits, SLOTS);
            for (uint32_t i = 0; i < SLOTS; i++) {
                REQUIRE(((bits[i / 64] >> (i % 64)) & 1) == model[i]);
                REQUIRE(qvi_posting_has(&p, i) == (model[i] != 0));
            }
            free(bits);
        }
    }
    REQUIRE((saw[QVI_POST_INLINE]) > (0));
    REQUIRE((saw[QVI_POST_ARRAY]) > (0));
    REQUIRE((saw[QVI_POST_BITMAP]) > (0));
    qvi_posting_free(&p);
    free(model);
}
END_TEST

START_TEST(test_vmap_model)
{
    enum { KEYS = 3000, SLOTS = 64, OPS = 300000 };
    uint8_t *model = calloc((size_t)KEYS * SLOTS, 1);
    qvi_vmap m = {0};
    rng = 11;
    for (int op = 0; op < OPS; op++) {
        uint32_t k = rnd(op < OPS / 2 ? KEYS : KEYS / 10), s = rnd(SLOTS);
        char key[32];
        int len = snprintf(key, sizeof(key), "key-%u", k);
        uint8_t *cell = &model[(size_t)k * SLOTS + s];
        if (rnd(3)) {
            REQUIRE(qvi_vmap_add(&m, key, (size_t)len, s) == (*cell ? 0 : 1));
            *cell = 1;
        } else {
            REQUIRE(qvi_vmap_remove(&m, key, (size_t)len, s) == (*cell != 0));
            *cell = 0;
        }
    }
    uint32_t live = 0;
    for (uint32_t k = 0; k < KEYS; k++) {
        char key[32];
        int len = snprintf(key, sizeof(key), "key-%u", k);
        const qvi_posting *p = qvi_vmap_find(&m, key, (size_t)len);
        uint32_t cnt = 0;
        for (uint32_t s = 0; s < SLOTS; s++) {
            bool in = model[(size_t)k * SLOTS + s];
            cnt += in;
            REQUIRE(p ? qvi_posting_has(p, s) == in : !in);
        }
        /* An emptied key is gone from the map. */
        REQUIRE((p != NULL) == (cnt > 0));
        live += cnt > 0;
    }
    REQUIRE((m.n) == (live));
    REQUIRE(NULL == qvi_vmap_find(&m, "nope", 4));
    /* The empty key is a key like any other. */
    REQUIRE((qvi_vmap_add(&m, "", 0, 3)) == (1));
    REQUIRE(NULL != qvi_vmap_find(&m, "", 0));
    qvi_vmap_free(&m);
    free(model);
}
END_TEST

/* Keys of the ntree model: hi in [-250, 250), lo in [0, 3), slot in
 * [0, 200), numbered in key order. */
enum {
    NT_HI = 500,
    NT_LO = 3,
    NT_SLOT = 200,
    NT_SPACE = NT_HI * NT_LO * NT_SLOT
};

static qvi_nkey nt_key(uint32_t i)
{
    qvi_nkey k = {(int64_t)(i / (NT_LO * NT_SLOT)) - 250, (i / NT_SLOT) % NT_LO,
                  i % NT_SLOT};
    return k;
}

START_TEST(test_ntree_model)
{
    enum { OPS = 150000 };
    uint8_t *in = calloc(NT_SPACE, 1);
    qvi_nkey *model = malloc(NT_SPACE * sizeof(qvi_nkey));
    size_t n = 0, live = 0;
    qvi_ntree t = {0};
    rng = 13;
    for (int op = 0; op < OPS; op++) {
        /* Clustered keys make chunks fill, split, thin out and merge. */
        uint32_t i = op % 3 ? rnd(NT_SPACE / 20) : rnd(NT_SPACE);
        qvi_nkey k = nt_key(i);
        bool grow = op < OPS / 2 ? rnd(4) != 0 : rnd(3) == 0;
        if (grow) {
            REQUIRE((qvi_ntree_add(&t, &k)) == (in[i] ? 0 : 1));
            live += !in[i];
            in[i] = 1;
        } else {
            REQUIRE(qvi_ntree_remove(&t, &k) == (in[i] != 0));
            live -= in[i];
            in[i] = 0;
        }
        REQUIRE((t.n) == (live));
        if (op % 15000 != 14999)
            continue;
        n = 0;
        for (uint32_t j = 0; j < NT_SPACE; j++)
            if (in[j])
                model[n++] = nt_key(j);
        /* In order forwards, backwards, and from a lower bound. */
        qvi_ncur cur = {0, 0};
        qvi_nkey got;
        for (size_t j = 0; j < n; j++, qvi_ntree_next(&t, &cur)) {
            REQUIRE(qvi_ntree_at(&t, cur, &got));
            REQUIRE((qvi_nkey_cmp(&got, &model[j])) == (0));
        }
        REQUIRE(!qvi_ntree_at(&t, cur, &got));
        for (size_t j = n; j-- > 0;) {
            REQUIRE(qvi_ntree_prev(&t, &cur));
            REQUIRE(qvi_ntree_at(&t, cur, &got));
            REQUIRE((qvi_nkey_cmp(&got, &model[j])) == (0));
        }
        REQUIRE(!qvi_ntree_prev(&t, &cur));
        for (int r = 0; r < 100; r++) {
            qvi_nkey probe = nt_key(rnd(NT_SPACE));
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (qvi_nkey_cmp(&model[mid], &probe) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            cur = qvi_ntree_lower_bound(&t, &probe);
            if (lo == n) {
                REQUIRE(!qvi_ntree_at(&t, cur, &got));
            } else {
                REQUIRE(qvi_ntree_at(&t, cur, &got));
                REQUIRE((qvi_nkey_cmp(&got, &model[lo])) == (0));
            }
        }
        /* No empty chunk is kept. */
        for (uint32_t c = 0; c < t.nc; c++)
            REQUIRE((t.c[c].n) > (0));
    }
    /* A bulk build gives the same keys. */
    qvi_ntree b = {0};
    REQUIRE((qvi_ntree_build(&b, model, n)) == (QV_OK));
    REQUIRE((b.n) == (n));
    qvi_ncur cur = {0, 0};
    qvi_nkey got;
    for (size_t j = 0; j < n; j++, qvi_ntree_next(&b, &cur)) {
        REQUIRE(qvi_ntree_at(&b, cur, &got));
        REQUIRE((qvi_nkey_cmp(&got, &model[j])) == (0));
    }
    qvi_ntree_free(&b);
    qvi_ntree_free(&t);
    free(model);
    free(in);

    /* Doubles keep their order as keys, -0.0 and 0.0 are one key. */
    const double d[] = {-INFINITY, -1e300, -2.5, -1e-300, 0.0,
                        1e-300,    1.0,    2.5,  1e300,   INFINITY};
    for (size_t i = 0; i + 1 < sizeof(d) / sizeof(d[0]); i++) {
        REQUIRE(qvi_double_key(d[i]) < qvi_double_key(d[i + 1]));
        REQUIRE(qvi_key_double(qvi_double_key(d[i])) == d[i]);
    }
    REQUIRE(qvi_double_key(-0.0) == qvi_double_key(0.0));
}
END_TEST

/* ---- 2. tokenizer ------------------------------------------------------- */

typedef struct tokbuf {
    char out[512];
    size_t len;
} tokbuf;

static bool collect(void *ctx, const char *t, size_t n)
{
    tokbuf *b = ctx;
    char low[128];
    ck_assert_uint_lt(n, sizeof(low));
    qvi_text_lower(t, n, low);
    b->len += (size_t)snprintf(b->out + b->len, sizeof(b->out) - b->len,
                               "%s%.*s", b->len ? "|" : "", (int)n, low);
    return false;
}

static void expect_tokens(const char *text, const char *want)
{
    tokbuf b = {.len = 0};
    b.out[0] = '\0';
    qvi_text_tokens(text, strlen(text), collect, &b);
    ck_assert_msg(strcmp(b.out, want) == 0, "tokens of '%s': %s, want %s", text,
                  b.out, want);
}

START_TEST(test_tokenizer)
{
    expect_tokens("Hello, World! it's 2024-01-02",
                  "hello|world|it|s|2024|01|02");
    expect_tokens("  __x__  ", "x");
    expect_tokens("", "");
    expect_tokens("!!! ... ---", "");
    /* Latin-1 and Latin Extended letters are letters and lowercase; the
     * no-break space, guillemets, em dash and curly quotes split. */
    expect_tokens("Café\xc2\xa0NAÏVE «Œuvre»—‘Žluť’", "café|naïve|œuvre|žluť");
    /* Greek, Cyrillic, Armenian */
    expect_tokens("ΑΘΗΝΑ Σοφία, МОСКВА-Ёлка ԱՐԱՐԱՏ",
                  "αθηνα|σοφία|москва|ёлка|արարատ");
    /* CJK runs stay whole (no segmentation); CJK punctuation splits;
     * fullwidth Latin lowercases */
    expect_tokens("東京、大阪。ＡＢＣ", "東京|大阪|ａｂｃ");
    /* emoji and symbols split, digits stay */
    expect_tokens("pizza\xf0\x9f\x8d\x95time 5\xe2\x82\xac", "pizza|time|5");
    /* invalid UTF-8 bytes count as letters, one byte each */
    expect_tokens("a\xff"
                  "b c",
                  "a\xff"
                  "b|c");

    qvi_tq q;
    ck_assert_int_eq(qvi_tq_init(&q, QVI_TQ_ALL, NULL, "Red APPLE, red", 14),
                     QV_OK);
    ck_assert_uint_eq(q.n, 3);
    ck_assert(memcmp(q.buf + q.off[1], "apple", 5) == 0);
    qvi_tq_free(&q);
    char *many = malloc(3 * 2000);
    for (int i = 0; i < 2000; i++)
        memcpy(many + 3 * i, "ab ", 3);
    ck_assert_int_eq(qvi_tq_init(&q, QVI_TQ_ALL, NULL, many, 3 * 2000),
                     QV_EINVAL);
    free(many);
}
END_TEST

/* ---- helpers ------------------------------------------------------------ */

static qv_collection *make(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    cfg.metric = QV_METRIC_EUCLID;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

/* Upserts point id with a payload. */
static void put(qv_collection *c, uint64_t id, const char *json)
{
    qv_point_id pid = qv_id_from_num(id);
    float v[2] = {(float)id, 0};
    size_t len = strlen(json);
    ck_assert_int_eq(qv_upsert_with_payloads(c, &pid, v, 1, 2, &json, &len),
                     QV_OK);
}

static qv_filter *filter(const char *text)
{
    qv_filter *f = NULL;
    char err[256] = "";
    ck_assert_msg(qv_filter_parse(text, strlen(text), &f, err, sizeof(err)) ==
                      QV_OK,
                  "%s: %s", text, err);
    return f;
}

/* The matching ids, ascending, as "1,5,9". */
static char *ids_of(qv_collection *c, const char *ftext)
{
    static char out[4096];
    qv_filter *f = ftext ? filter(ftext) : NULL;
    qv_point_id page[512];
    size_t n;
    ck_assert_int_eq(qv_scroll(c, NULL, f, 512, page, &n, NULL, NULL), QV_OK);
    uint64_t cnt;
    ck_assert_int_eq(qv_count_filter(c, f, &cnt), QV_OK);
    ck_assert_uint_eq(cnt, n);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len +=
            (size_t)snprintf(out + len, sizeof(out) - len, "%s%llu",
                             i ? "," : "", (unsigned long long)page[i].u.num);
    qv_filter_free(f);
    return out;
}

/* How the collection prepares ftext: 0 no narrowing, 1 a superset, 2 the
 * exact set. */
static int how(qv_collection *c, const char *ftext)
{
    qv_filter *f = filter(ftext);
    qvi_candidates q;
    pthread_rwlock_rdlock(&c->lock);
    ck_assert_int_eq(qvi_candidates_prepare_locked(c, qvi_filter_of(f),
                                                   QVI_CANDIDATES_ALWAYS, &q),
                     QV_OK);
    int r = !q.indexed ? 0 : q.exact ? 2 : 1;
    qvi_candidates_free(&q);
    pthread_rwlock_unlock(&c->lock);
    qv_filter_free(f);
    return r;
}

#define EXPECT(c, f, want)                                                     \
    do {                                                                       \
        const char *got_ = ids_of(c, f);                                       \
        ck_assert_msg(strcmp(got_, want) == 0, "%s: got [%s], want [%s]", f,   \
                      got_, want);                                             \
    } while (0)

static uint64_t points_of(qv_collection *c, const char *key)
{
    qv_payload_index_info *info;
    size_t n;
    ck_assert_int_eq(qv_payload_index_list(c, &info, &n), QV_OK);
    uint64_t p = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(info[i].key, key) == 0)
            p = info[i].points;
    qv_free(info);
    ck_assert_msg(p != UINT64_MAX, "no index on %s", key);
    return p;
}

/* ---- 3. each kind ------------------------------------------------------- */

START_TEST(test_keyword_and_updates)
{
    qv_collection *c = make();
    put(c, 1, "{\"t\":\"acme\",\"tags\":[\"a\",\"b\"]}");
    put(c, 2, "{\"t\":\"beta\",\"tags\":[\"b\",[\"a\"]]}");
    put(c, 3, "{\"t\":[\"acme\",\"beta\"],\"tags\":\"c\"}");
    put(c, 4, "{\"t\":7,\"tags\":{\"x\":\"a\"}}");
    ck_assert_int_eq(qv_payload_index_create(c, "t", QV_INDEX_KEYWORD), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "tags", QV_INDEX_KEYWORD),
                     QV_OK);
    ck_assert_uint_eq(points_of(c, "t"), 3);    /* 4 holds no string */
    ck_assert_uint_eq(points_of(c, "tags"), 3); /* nor an object */
    const char *acme =
        "{\"must\":{\"key\":\"t\",\"match\":{\"value\":\"acme\"}}}";
    ck_assert_int_eq(how(c, acme), 2);
    EXPECT(c, acme, "1,3");
    /* A nested array's element is not a value of the key. */
    EXPECT(c, "{\"must\":{\"key\":\"tags\",\"match\":{\"value\":\"a\"}}}", "1");
    EXPECT(c, "{\"must\":{\"key\":\"tags\",\"match\":{\"any\":[\"c\",\"b\"]}}}",
           "1,2,3");
    /* except is not answered by the index, still exact by evaluation */
    const char *exc =
        "{\"must\":{\"key\":\"t\",\"match\":{\"except\":[\"acme\"]}}}";
    ck_assert_int_eq(how(c, exc), 0);
    EXPECT(c, exc, "2,3,4");
    /* must_not of an exact set is exact; should of exact sets too */
    const char *nb =
        "{\"must_not\":{\"key\":\"t\",\"match\":{\"value\":\"beta\"}}}";
    ck_assert_int_eq(how(c, nb), 2);
    EXPECT(c, nb, "1,4");
    const char *sh =
        "{\"should\":[{\"key\":\"t\",\"match\":{\"value\":\"beta\"}},"
        "{\"has_id\":[4]}]}";
    ck_assert_int_eq(how(c, sh), 2);
    EXPECT(c, sh, "2,3,4");

    /* Every write keeps the index right. */
    qv_point_id p1 = qv_id_from_num(1), p2 = qv_id_from_num(2),
                p3 = qv_id_from_num(3);
    const char *ov = "{\"t\":\"beta\"}";
    ck_assert_int_eq(qv_payload_overwrite(c, &p1, ov, strlen(ov)), QV_OK);
    EXPECT(c, acme, "3");
    const char *set = "{\"t\":\"acme\"}";
    ck_assert_int_eq(qv_payload_set(c, &p2, set, strlen(set), NULL), QV_OK);
    EXPECT(c, acme, "2,3");
    const char *del[] = {"t"};
    ck_assert_int_eq(qv_payload_delete_keys(c, &p3, del, 1), QV_OK);
    EXPECT(c, acme, "2");
    ck_assert_int_eq(qv_payload_clear(c, &p2), QV_OK);
    EXPECT(c, acme, "");
    ck_assert_uint_eq(points_of(c, "t"), 1);
    ck_assert_int_eq(qv_delete(c, &p1), QV_OK);
    ck_assert_uint_eq(points_of(c, "t"), 0);
    put(c, 5, "{\"t\":\"acme\"}"); /* reuses point 1's slot */
    put(c, 6, "{\"t\":\"acme\"}");
    EXPECT(c, acme, "5,6");
    qv_filter *f = filter(acme);
    uint64_t deleted;
    ck_assert_int_eq(qv_delete_filter(c, f, &deleted), QV_OK);
    ck_assert_uint_eq(deleted, 2);
    qv_filter_free(f);
    EXPECT(c, acme, "");
    ck_assert_uint_eq(points_of(c, "t"), 0);
    /* An upsert with a payload replaces it in the index. */
    put(c, 3, "{\"t\":\"acme\"}");
    put(c, 3, "{\"t\":\"zeta\"}");
    EXPECT(c, acme, "");
    EXPECT(c, "{\"must\":{\"key\":\"t\",\"match\":{\"value\":\"zeta\"}}}", "3");
    qv_collection_release(c);
}
END_TEST

START_TEST(test_numeric_bool_datetime_uuid_geo)
{
    qv_collection *c = make();
    put(c, 1,
        "{\"n\":1,\"f\":0.5,\"b\":true,\"d\":\"2024-01-01T00:00:00Z\","
        "\"u\":\"550e8400-e29b-41d4-a716-446655440000\","
        "\"g\":{\"lon\":13.4,\"lat\":52.5}}");
    put(c, 2,
        "{\"n\":[2,3],\"f\":2,\"b\":false,\"d\":\"2024-01-01T01:00:00+02:00\","
        "\"u\":\"550E8400-E29B-41D4-A716-446655440000\","
        "\"g\":[{\"lon\":2.35,\"lat\":48.85},{\"lon\":0,\"lat\":0}]}");
    put(c, 3,
        "{\"n\":2.5,\"f\":\"2\",\"b\":[true,false],\"d\":\"nope\","
        "\"u\":\"not-a-uuid\",\"g\":{\"lon\":\"x\",\"lat\":1}}");
    put(c, 4, "{}");
    struct {
        const char *key;
        qv_index_kind kind;
        uint64_t points;
    } idx[] = {{"n", QV_INDEX_INTEGER, 3}, {"f", QV_INDEX_FLOAT, 2},
               {"b", QV_INDEX_BOOL, 3},    {"d", QV_INDEX_DATETIME, 2},
               {"u", QV_INDEX_UUID, 2},    {"g", QV_INDEX_GEO, 2}};
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        ck_assert_int_eq(qv_payload_index_create(c, idx[i].key, idx[i].kind),
                         QV_OK);
        ck_assert_uint_eq(points_of(c, idx[i].key), idx[i].points);
    }
    /* Integer indexes hold fractional numbers too: ranges stay exact. */
    const char *r = "{\"must\":{\"key\":\"n\",\"range\":{\"gt\":1,\"lt\":3}}}";
    ck_assert_int_eq(how(c, r), 2);
    EXPECT(c, r, "2,3");
    EXPECT(c, "{\"must\":{\"key\":\"n\",\"range\":{\"gte\":1,\"lte\":1}}}",
           "1");
    EXPECT(c, "{\"must\":{\"key\":\"n\",\"match\":{\"value\":3}}}", "2");
    EXPECT(c, "{\"must\":{\"key\":\"n\",\"match\":{\"any\":[1,3,9]}}}", "1,2");
    EXPECT(c,
           "{\"must\":{\"key\":\"n\",\"match\":{\"value\":9007199254740993}}}",
           "");
    ck_assert_int_eq(how(c, "{\"must\":{\"key\":\"f\",\"range\":{\"gte\":1}}}"),
                     2);
    EXPECT(c, "{\"must\":{\"key\":\"f\",\"range\":{\"gte\":1}}}", "2");
    /* bool */
    ck_assert_int_eq(
        how(c, "{\"must\":{\"key\":\"b\",\"match\":{\"value\":false}}}"), 2);
    EXPECT(c, "{\"must\":{\"key\":\"b\",\"match\":{\"value\":false}}}", "2,3");
    /* datetime: 01:00+02:00 is 23:00Z the day before */
    const char *dr = "{\"must\":{\"key\":\"d\",\"range\":{\"lt\":"
                     "\"2024-01-01T00:00:00Z\"}}}";
    ck_assert_int_eq(how(c, dr), 2);
    EXPECT(c, dr, "2");
    EXPECT(
        c,
        "{\"must\":{\"key\":\"d\",\"range\":{\"gte\":\"2023-12-31T23:00:00Z\","
        "\"lte\":\"2024-01-01\"}}}",
        "1,2");
    /* uuid narrows, the strings are compared as written */
    const char *um = "{\"must\":{\"key\":\"u\",\"match\":{\"value\":"
                     "\"550e8400-e29b-41d4-a716-446655440000\"}}}";
    ck_assert_int_eq(how(c, um), 1);
    EXPECT(c, um, "1");
    ck_assert_int_eq(
        how(c, "{\"must\":{\"key\":\"u\",\"match\":{\"value\":\"x\"}}}"), 0);
    EXPECT(c, "{\"must\":{\"key\":\"u\",\"match\":{\"value\":\"not-a-uuid\"}}}",
           "3");
    /* geo narrows to a latitude band */
    const char *gr = "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":"
                     "{\"lon\":13.4,\"lat\":52.52},\"radius\":10000}}}";
    ck_assert_int_eq(how(c, gr), 1);
    EXPECT(c, gr, "1");
    EXPECT(c,
           "{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":"
           "{\"lon\":-1,\"lat\":50},\"bottom_right\":{\"lon\":5,\"lat\":-1}}}}",
           "2");
    /* Writes move values between keys and kinds. */
    qv_point_id p3 = qv_id_from_num(3);
    const char *set = "{\"n\":[1,1,1],\"b\":null}";
    ck_assert_int_eq(qv_payload_set(c, &p3, set, strlen(set), NULL), QV_OK);
    EXPECT(c, "{\"must\":{\"key\":\"n\",\"match\":{\"value\":1}}}", "1,3");
    EXPECT(c, "{\"must\":{\"key\":\"b\",\"match\":{\"value\":false}}}", "2");
    ck_assert_uint_eq(points_of(c, "b"), 2);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_array_paths)
{
    qv_collection *c = make();
    put(c, 1, "{\"c\":[{\"p\":1,\"w\":\"x\"},{\"p\":5}]}");
    put(c, 2, "{\"c\":[{\"p\":[7,8]},{\"w\":[\"y\",\"x\"]}]}");
    put(c, 3, "{\"c\":{\"p\":1}}");
    ck_assert_int_eq(qv_payload_index_create(c, "c[].p", QV_INDEX_INTEGER),
                     QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "c[].w", QV_INDEX_KEYWORD),
                     QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "c[0].p", QV_INDEX_INTEGER),
                     QV_OK);
    ck_assert_uint_eq(points_of(c, "c[].p"), 2);
    const char *f1 = "{\"must\":{\"key\":\"c[].p\",\"range\":{\"gte\":5}}}";
    ck_assert_int_eq(how(c, f1), 2);
    EXPECT(c, f1, "1,2");
    EXPECT(c, "{\"must\":{\"key\":\"c[].w\",\"match\":{\"value\":\"x\"}}}",
           "1,2");
    EXPECT(c, "{\"must\":{\"key\":\"c[0].p\",\"match\":{\"value\":1}}}", "1");
    /* set and delete through arrays update the indexes */
    qv_point_id p2 = qv_id_from_num(2);
    const char *del[] = {"c[].p"};
    ck_assert_int_eq(qv_payload_delete_keys(c, &p2, del, 1), QV_OK);
    EXPECT(c, f1, "1");
    const char *s = "{\"p\":9}";
    ck_assert_int_eq(qv_payload_set(c, &p2, s, strlen(s), "c[1]"), QV_OK);
    EXPECT(c, f1, "1,2");
    EXPECT(c, "{\"must\":{\"key\":\"c[0].p\",\"match\":{\"value\":9}}}", "");
    /* Quoted and plain spellings name one index. */
    ck_assert_int_eq(
        qv_payload_index_create(c, "\"c\"[].\"w\"", QV_INDEX_KEYWORD), QV_OK);
    size_t n;
    qv_payload_index_info *info;
    ck_assert_int_eq(qv_payload_index_list(c, &info, &n), QV_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(info[1].key, "c[].w");
    ck_assert_str_eq(qv_index_kind_name(info[1].kind), "keyword");
    ck_assert_uint_gt(info[0].bytes, 0);
    ck_assert_uint_gt(info[1].bytes, 0);
    qv_free(info);
    qv_collection_release(c);
}
END_TEST

/* ---- 4. full text ------------------------------------------------------- */

START_TEST(test_full_text)
{
    qv_collection *c = make();
    put(c, 1, "{\"t\":\"The quick brown Fox\"}");
    put(c, 2, "{\"t\":[\"quick thinking\",\"a fox, brown\"]}");
    put(c, 3, "{\"t\":\"quicker foxes\"}");
    put(c, 4, "{\"t\":\"Ünïcode: ΣΟΦΙΑ and 東京\"}");
    const char *qf =
        "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"quick fox\"}}}";
    const char *sub =
        "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"quick\"}}}";
    const char *ph =
        "{\"must\":{\"key\":\"t\",\"match\":{\"phrase\":\"brown fox\"}}}";
    const char *any =
        "{\"must\":{\"key\":\"t\",\"match\":{\"text_any\":\"FOX sofia\"}}}";
    const char *uni =
        "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"σοφια ünïcode\"}}}";
    /* Without an index: substring of the whole query, case-sensitive. */
    EXPECT(c, qf, "");
    EXPECT(c, sub, "1,2,3");
    EXPECT(c, ph, "");
    ck_assert_int_eq(qv_payload_index_create(c, "t", QV_INDEX_TEXT), QV_OK);
    /* With it: tokens, lowercase, all strings of the point together. */
    ck_assert_int_eq(how(c, qf), 2);
    EXPECT(c, qf, "1,2");
    EXPECT(c, sub, "1,2");
    ck_assert_int_eq(how(c, ph), 1);
    EXPECT(c, ph, "1"); /* point 2's tokens: quick thinking a fox brown */
    EXPECT(c, any, "1,2");
    EXPECT(c, uni, "4");
    EXPECT(c, "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"!!\"}}}", "");
    /* Other parts of the condition still see each value. */
    EXPECT(c, "{\"must_not\":{\"key\":\"t\",\"match\":{\"text\":\"fox\"}}}",
           "3,4");
    /* Inside nested, the substring meaning stays. */
    put(c, 5, "{\"n\":[{\"t\":\"Quick Fox\"}]}");
    ck_assert_int_eq(qv_payload_index_create(c, "n[].t", QV_INDEX_TEXT), QV_OK);
    EXPECT(c,
           "{\"must\":{\"nested\":{\"key\":\"n\",\"filter\":{\"must\":"
           "{\"key\":\"t\",\"match\":{\"text\":\"quick\"}}}}}}",
           "");
    EXPECT(c, "{\"must\":{\"key\":\"n[].t\",\"match\":{\"text\":\"quick\"}}}",
           "5");
    /* Writes update the tokens. */
    qv_point_id p3 = qv_id_from_num(3);
    const char *ov = "{\"t\":\"QUICK, FOX!\"}";
    ck_assert_int_eq(qv_payload_overwrite(c, &p3, ov, strlen(ov)), QV_OK);
    EXPECT(c, qf, "1,2,3");
    /* Dropping the index brings substring matching back. */
    ck_assert_int_eq(qv_payload_index_drop(c, "t"), QV_OK);
    EXPECT(c, qf, "");
    EXPECT(c, sub, "1,2");
    qv_collection_release(c);
}
END_TEST

/* ---- 5. order_by -------------------------------------------------------- */

static char *ordered(qv_collection *c, const char *key, bool desc,
                     const double *start, const char *ftext, size_t limit)
{
    static char out[4096];
    qv_order_by o;
    qv_order_by_init(&o);
    o.key = key;
    o.descending = desc;
    if (start) {
        o.use_start = true;
        o.start_from = *start;
    }
    qv_filter *f = ftext ? filter(ftext) : NULL;
    qv_point_id ids[64];
    double vals[64];
    size_t n;
    qv_status st = qv_scroll_order_by(c, &o, f, limit, ids, vals, &n);
    ck_assert_int_eq(st, QV_OK);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%llu:%g",
                                i ? "," : "", (unsigned long long)ids[i].u.num,
                                vals[i]);
    qv_filter_free(f);
    return out;
}

#define EXPECT_ORDER(got, want)                                                \
    do {                                                                       \
        const char *g_ = (got);                                                \
        ck_assert_msg(strcmp(g_, want) == 0, "got [%s], want [%s]", g_, want); \
    } while (0)

START_TEST(test_order_by)
{
    qv_collection *c = make();
    put(c, 1,
        "{\"ts\":30,\"p\":1.5,\"d\":\"2024-01-02T00:00:00Z\",\"k\":\"a\"}");
    put(c, 2, "{\"ts\":[10,50,10],\"p\":-2,\"d\":\"2024-01-01T00:00:00.5Z\"}");
    put(c, 3, "{\"ts\":20,\"p\":1.5,\"d\":[\"2023-01-01\",\"x\"],\"k\":\"a\"}");
    put(c, 4, "{\"ts\":\"40\",\"k\":\"b\"}");
    qv_order_by o;
    qv_order_by_init(&o);
    o.key = "ts";
    qv_point_id ids[8];
    size_t n;
    char msg[256];
    /* Qdrant's refusal without a range index. */
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, ids, NULL, &n),
                     QV_EINVAL);
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "No range index for `order_by` key: `ts`") == msg,
                  "%s", msg);
    ck_assert_int_eq(qv_payload_index_create(c, "k", QV_INDEX_KEYWORD), QV_OK);
    o.key = "k";
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, ids, NULL, &n),
                     QV_EINVAL);
    ck_assert_int_eq(qv_payload_index_create(c, "ts", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "p", QV_INDEX_FLOAT), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "d", QV_INDEX_DATETIME), QV_OK);
    /* A point appears once per distinct value. */
    EXPECT_ORDER(ordered(c, "ts", false, NULL, NULL, 10),
                 "2:10,3:20,1:30,2:50");
    EXPECT_ORDER(ordered(c, "ts", true, NULL, NULL, 10), "2:50,1:30,3:20,2:10");
    double s = 20;
    EXPECT_ORDER(ordered(c, "ts", false, &s, NULL, 10), "3:20,1:30,2:50");
    EXPECT_ORDER(ordered(c, "ts", true, &s, NULL, 10), "3:20,2:10");
    s = 25;
    EXPECT_ORDER(ordered(c, "ts", true, &s, NULL, 1), "3:20");
    EXPECT_ORDER(
        ordered(c, "ts", false, NULL,
                "{\"must\":{\"key\":\"k\",\"match\":{\"value\":\"a\"}}}", 10),
        "3:20,1:30");
    EXPECT_ORDER(
        ordered(c, "ts", false, NULL, "{\"must_not\":{\"has_id\":[2]}}", 2),
        "3:20,1:30");
    /* Equal values: slot order, reversed when descending. */
    EXPECT_ORDER(ordered(c, "p", false, NULL, NULL, 10), "2:-2,1:1.5,3:1.5");
    EXPECT_ORDER(ordered(c, "p", true, NULL, NULL, 10), "3:1.5,1:1.5,2:-2");
    /* Date-times order by instant and report seconds. */
    EXPECT_ORDER(ordered(c, "d", false, NULL, NULL, 10),
                 "3:1.67253e+09,2:1.70407e+09,1:1.70415e+09");
    s = 1704067200.5;
    EXPECT_ORDER(ordered(c, "d", false, &s, NULL, 10),
                 "2:1.70407e+09,1:1.70415e+09");
    s = 1704067200.4;
    EXPECT_ORDER(ordered(c, "d", true, &s, NULL, 10), "3:1.67253e+09");
    /* Writes move points in the order. */
    qv_point_id p2 = qv_id_from_num(2);
    ck_assert_int_eq(qv_delete(c, &p2), QV_OK);
    put(c, 9, "{\"ts\":5}");
    EXPECT_ORDER(ordered(c, "ts", false, NULL, NULL, 10), "9:5,3:20,1:30");
    /* Bad arguments. */
    o.key = "ts";
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 0, ids, NULL, &n),
                     QV_ERANGE);
    o.use_start = true;
    o.start_from = NAN;
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, ids, NULL, &n),
                     QV_ERANGE);
    o.use_start = false;
    ck_assert_int_eq(qv_scroll_order_by(c, NULL, NULL, 8, ids, NULL, &n),
                     QV_ENULL);
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, NULL, NULL, &n),
                     QV_ENULL);
    ck_assert_int_eq(qv_scroll_order_by(NULL, &o, NULL, 8, ids, NULL, &n),
                     QV_ENULL);
    o.key = "ts[";
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, ids, NULL, &n),
                     QV_EINVAL);
    o.key = NULL;
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 8, ids, NULL, &n),
                     QV_ENULL);
    qv_collection_release(c);
}
END_TEST

/* ---- 5b. order_by over exact numbers -------------------------------------
 * Qdrant's OrderValue is Int(i64) | Float(f64), compared exactly between
 * ints and as numbers between an int and a float (qdrant/qdrant,
 * lib/segment/src/data_types/order_by.rs: `enum OrderValue`, its Ord, and
 * `StartFrom::Integer(i64) | Float(f64) | Datetime`).  Payloads keep i64
 * and u64 exactly, so order_by must too: 2^53 and 2^53 + 1 share a
 * double, 2^63 - 1, 2^63 and 2^64 - 1 round to doubles that are not even
 * integers of their type. */

/* -1 / 0 / 1 for a < b, exactly, by cases (an oracle independent of the
 * keys' encoding). */
static int num_cmp(const qv_number *a, const qv_number *b)
{
    if (a->kind == QV_NUM_DOUBLE && b->kind == QV_NUM_DOUBLE)
        return (a->v.d > b->v.d) - (a->v.d < b->v.d);
    if (a->kind != QV_NUM_DOUBLE && b->kind != QV_NUM_DOUBLE) {
        bool an = a->kind == QV_NUM_INT && a->v.i < 0;
        bool bn = b->kind == QV_NUM_INT && b->v.i < 0;
        if (an != bn)
            return an ? -1 : 1;
        if (an)
            return (a->v.i > b->v.i) - (a->v.i < b->v.i);
        uint64_t x = a->kind == QV_NUM_INT ? (uint64_t)a->v.i : a->v.u;
        uint64_t y = b->kind == QV_NUM_INT ? (uint64_t)b->v.i : b->v.u;
        return (x > y) - (x < y);
    }
    if (a->kind == QV_NUM_DOUBLE)
        return -num_cmp(b, a);
    /* a an integer, b a double. */
    double d = b->v.d;
    if (d < -9223372036854775808.0)
        return 1;
    if (d >= 18446744073709551616.0)
        return -1;
    if (d != floor(d)) { /* a fraction: a <= floor(d) means a < d */
        qv_number fl = {QV_NUM_DOUBLE, {.d = floor(d)}};
        return num_cmp(a, &fl) <= 0 ? -1 : 1;
    }
    qv_number e;
    if (d < 0) {
        e.kind = QV_NUM_INT;
        e.v.i = (int64_t)d;
    } else {
        e.kind = QV_NUM_UINT;
        e.v.u = (uint64_t)d;
    }
    return num_cmp(a, &e);
}

static int key_cmp_of(const qv_number *a, const qv_number *b)
{
    qvi_nkey x = {0, 0, 0}, y = {0, 0, 0};
    qvi_number_key(a, &x.hi, &x.lo);
    qvi_number_key(b, &y.hi, &y.lo);
    return qvi_nkey_cmp(&x, &y);
}

static bool num_same(const qv_number *a, const qv_number *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == QV_NUM_DOUBLE)
        return memcmp(&a->v.d, &b->v.d, sizeof(double)) == 0;
    return a->v.u == b->v.u;
}

START_TEST(test_number_keys)
{
    /* Values near every edge: the double spacing changes at each power of
     * two, and i64 / u64 end at 2^63 / 2^64. */
    qv_number pool[600];
    size_t n = 0;
    const uint64_t centres[] = {0,          1ull << 52, 1ull << 53, 1ull << 54,
                                1ull << 62, 1ull << 63, UINT64_MAX};
    for (size_t c = 0; c < sizeof(centres) / sizeof(centres[0]); c++) {
        for (int64_t o = -6; o <= 6; o++) {
            uint64_t u = centres[c] + (uint64_t)o;
            if ((o < 0 && u > centres[c]) || (o > 0 && u < centres[c]))
                continue; /* wrapped */
            qv_number x = {.kind = u > (uint64_t)INT64_MAX ? QV_NUM_UINT
                                                           : QV_NUM_INT};
            if (x.kind == QV_NUM_UINT)
                x.v.u = u;
            else
                x.v.i = (int64_t)u;
            pool[n++] = x;
            if (u <= (uint64_t)INT64_MAX)
                pool[n++] = (qv_number){QV_NUM_INT, {.i = -(int64_t)u}};
            pool[n++] = (qv_number){QV_NUM_DOUBLE, {.d = (double)u}};
            pool[n++] = (qv_number){QV_NUM_DOUBLE, {.d = -(double)u}};
        }
    }
    const double extra[] = {0.5,
                            -0.5,
                            -0.0,
                            1e300,
                            -1e300,
                            4.9e-324,
                            9223372036854775808.0 * 2,
                            -9.3e18,
                            9007199254740991.5,
                            1.5};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        pool[n++] = (qv_number){QV_NUM_DOUBLE, {.d = extra[i]}};
    pool[n++] = (qv_number){QV_NUM_INT, {.i = INT64_MIN}};
    pool[n++] = (qv_number){QV_NUM_INT, {.i = INT64_MIN + 1}};
    ck_assert_uint_lt(n, sizeof(pool) / sizeof(pool[0]));
    for (size_t i = 0; i < n; i++) {
        /* Round trip: the key gives back the number as written. */
        int64_t hi;
        uint32_t lo;
        qvi_number_key(&pool[i], &hi, &lo);
        qv_number back = qvi_key_number(hi, lo);
        qv_number want = pool[i];
        if (want.kind == QV_NUM_DOUBLE && want.v.d == 0)
            want.v.d = 0.0; /* -0.0 is 0.0 */
        REQUIRE(num_same(&back, &want));
        for (size_t j = 0; j < n; j++) {
            int o = num_cmp(&pool[i], &pool[j]);
            int k = key_cmp_of(&pool[i], &pool[j]);
            k = (k > 0) - (k < 0);
            if (o != 0) {
                if (k != o)
                    fprintf(stderr, "%d/%llx vs %d/%llx: o %d k %d\n",
                            pool[i].kind, (unsigned long long)pool[i].v.u,
                            pool[j].kind, (unsigned long long)pool[j].v.u, o,
                            k);
                REQUIRE(k == o);
            } else {
                /* Equal numbers: one key per kind, the integer first. */
                bool ai = pool[i].kind != QV_NUM_DOUBLE;
                bool bi = pool[j].kind != QV_NUM_DOUBLE;
                REQUIRE(k == (ai == bi ? 0 : ai ? -1 : 1));
            }
        }
    }
}
END_TEST

/* Appends "id:<value>" to the listing out[0..len) (a comma first unless it
 * is empty), the value as i<int>, u<uint> or d<double> after its kind;
 * returns the new length. */
static size_t listing_add(char *out, size_t cap, size_t len, uint64_t id,
                          const qv_number *v)
{
    len += (size_t)snprintf(out + len, cap - len, "%s%llu:", len ? "," : "",
                            (unsigned long long)id);
    if (v->kind == QV_NUM_INT)
        len +=
            (size_t)snprintf(out + len, cap - len, "i%lld", (long long)v->v.i);
    else if (v->kind == QV_NUM_UINT)
        len += (size_t)snprintf(out + len, cap - len, "u%llu",
                                (unsigned long long)v->v.u);
    else
        len += (size_t)snprintf(out + len, cap - len, "d%.17g", v->v.d);
    return len;
}

/* The ids and exact values of an ordered scroll, as "id:i5,id:u9,id:d1.5". */
static char *ordered_exact(qv_collection *c, const char *key, bool desc,
                           const qv_number *start, const char *ftext,
                           size_t limit)
{
    static char out[8192];
    qv_order_by o;
    qv_order_by_init(&o);
    o.key = key;
    o.descending = desc;
    if (start) {
        o.use_start = true;
        if (start->kind == QV_NUM_DOUBLE)
            o.start_from = start->v.d;
        else
            o.start_exact = *start;
    }
    qv_filter *f = ftext ? filter(ftext) : NULL;
    qv_point_id ids[64];
    qv_number vals[64];
    double dv[64];
    qv_point_id ids2[64];
    size_t n, n2;
    ck_assert_int_eq(qv_scroll_order_by_exact(c, &o, f, limit, ids, vals, &n),
                     QV_OK);
    /* The double call agrees, with each value's nearest double. */
    ck_assert_int_eq(qv_scroll_order_by(c, &o, f, limit, ids2, dv, &n2), QV_OK);
    ck_assert_uint_eq(n, n2);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ids[i].u.num, ids2[i].u.num);
        const qv_number *v = &vals[i];
        double near = v->kind == QV_NUM_INT    ? (double)v->v.i
                      : v->kind == QV_NUM_UINT ? (double)v->v.u
                                               : v->v.d;
        ck_assert(memcmp(&near, &dv[i], sizeof(double)) == 0);
        len = listing_add(out, sizeof(out), len, ids[i].u.num, v);
    }
    qv_filter_free(f);
    return out;
}

/* The values of test_order_by_exact, ascending: (id, payload number text,
 * the number, its rank among distinct numeric values). */
static const struct {
    uint64_t id;
    const char *text;
    qv_number v;
    int rank;
} EXACT[] = {
    {11, "-9.3e18", {QV_NUM_DOUBLE, {.d = -9.3e18}}, 0},
    {6, "-9223372036854775808", {QV_NUM_INT, {.i = INT64_MIN}}, 1},
    {9, "1.5", {QV_NUM_DOUBLE, {.d = 1.5}}, 2},
    {1, "9007199254740992", {QV_NUM_INT, {.i = 9007199254740992}}, 3},
    {7, "9007199254740992.0", {QV_NUM_DOUBLE, {.d = 9007199254740992.0}}, 3},
    {2, "9007199254740993", {QV_NUM_INT, {.i = 9007199254740993}}, 4},
    {12, "9007199254740994", {QV_NUM_INT, {.i = 9007199254740994}}, 5},
    {13, "9223372036854775806", {QV_NUM_INT, {.i = INT64_MAX - 1}}, 6},
    {3, "9223372036854775807", {QV_NUM_INT, {.i = INT64_MAX}}, 7},
    {4, "9223372036854775808", {QV_NUM_UINT, {.u = 1ull << 63}}, 8},
    {8,
     "9.223372036854775807e18",
     {QV_NUM_DOUBLE, {.d = 9223372036854775808.0}},
     8},
    {5, "18446744073709551615", {QV_NUM_UINT, {.u = UINT64_MAX}}, 9},
    {10,
     "18446744073709551616",
     {QV_NUM_DOUBLE, {.d = 18446744073709551616.0}},
     10},
};
#define N_EXACT (sizeof(EXACT) / sizeof(EXACT[0]))

/* The expected listing of EXACT entries with rank in [lo, hi], ascending
 * or descending. */
static char *exact_want(int lo, int hi, bool desc)
{
    static char out[8192];
    size_t len = 0;
    out[0] = '\0';
    for (size_t k = 0; k < N_EXACT; k++) {
        size_t i = desc ? N_EXACT - 1 - k : k;
        if (EXACT[i].rank < lo || EXACT[i].rank > hi)
            continue;
        const qv_number *v = &EXACT[i].v;
        len = listing_add(out, sizeof(out), len, EXACT[i].id, v);
    }
    return out;
}

static void put_exact(qv_collection *c, size_t i)
{
    char json[128];
    snprintf(json, sizeof(json), "{\"n\":%s,\"f\":%s}", EXACT[i].text,
             EXACT[i].text);
    put(c, EXACT[i].id, json);
}

START_TEST(test_order_by_exact)
{
    /* a: indexes first, then one insert per point (tree adds); b: points
     * first, then a bulk build; plain: no index (the filter's oracle).
     * Ids are inserted in id order, so slots follow ids: equal values of
     * one kind would come in id order (none here). */
    qv_collection *a = make(), *b = make(), *plain = make();
    ck_assert_int_eq(qv_payload_index_create(a, "n", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(a, "f", QV_INDEX_FLOAT), QV_OK);
    for (uint64_t id = 1; id <= N_EXACT; id++)
        for (size_t i = 0; i < N_EXACT; i++)
            if (EXACT[i].id == id) {
                put_exact(a, i);
                put_exact(b, i);
                put_exact(plain, i);
            }
    ck_assert_int_eq(qv_payload_index_create(b, "n", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(b, "f", QV_INDEX_FLOAT), QV_OK);
    qv_collection *both[2] = {a, b};
    for (int ci = 0; ci < 2; ci++) {
        qv_collection *c = both[ci];
        for (int ki = 0; ki < 2; ki++) {
            const char *key = ki ? "f" : "n";
            EXPECT_ORDER(ordered_exact(c, key, false, NULL, NULL, 64),
                         exact_want(0, 99, false));
            EXPECT_ORDER(ordered_exact(c, key, true, NULL, NULL, 64),
                         exact_want(0, 99, true));
            /* start_from exactly at each value, integer or double: the
             * values numerically >= it (<= descending), equal ones of the
             * other kind included. */
            for (size_t i = 0; i < N_EXACT; i++) {
                char want[8192];
                strcpy(want, exact_want(EXACT[i].rank, 99, false));
                EXPECT_ORDER(
                    ordered_exact(c, key, false, &EXACT[i].v, NULL, 64), want);
                strcpy(want, exact_want(0, EXACT[i].rank, true));
                EXPECT_ORDER(ordered_exact(c, key, true, &EXACT[i].v, NULL, 64),
                             want);
            }
        }
    }
    /* A u64 start at or below INT64_MAX is that integer. */
    qv_number s = {QV_NUM_UINT, {.u = 9007199254740993ull}};
    EXPECT_ORDER(ordered_exact(a, "n", true, &s, NULL, 2),
                 "2:i9007199254740993,7:d9007199254740992");
    /* Paging, Qdrant's way: start_from the last value seen, must_not the
     * ids seen; two per page, both directions, covers every value. */
    for (int desc = 0; desc < 2; desc++) {
        char all[8192] = "", seen[1024] = "";
        size_t all_len = 0, seen_len = 0;
        qv_number last = {0};
        bool started = false;
        for (int page = 0; page < 20; page++) {
            char ftext[1200];
            snprintf(ftext, sizeof(ftext), "{\"must_not\":{\"has_id\":[%s]}}",
                     seen);
            qv_order_by o;
            qv_order_by_init(&o);
            o.key = "n";
            o.descending = desc;
            o.use_start = started;
            if (last.kind == QV_NUM_DOUBLE)
                o.start_from = last.v.d;
            else
                o.start_exact = last;
            qv_filter *f = filter(ftext);
            qv_point_id ids[2];
            qv_number vals[2];
            size_t n;
            ck_assert_int_eq(
                qv_scroll_order_by_exact(a, &o, f, 2, ids, vals, &n), QV_OK);
            qv_filter_free(f);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++) {
                seen_len += (size_t)snprintf(
                    seen + seen_len, sizeof(seen) - seen_len, "%s%llu",
                    seen_len ? "," : "", (unsigned long long)ids[i].u.num);
                all_len += (size_t)snprintf(
                    all + all_len, sizeof(all) - all_len, "%s%llu",
                    all_len ? "," : "", (unsigned long long)ids[i].u.num);
            }
            last = vals[n - 1];
            started = true;
        }
        char want[8192] = "";
        size_t wl = 0;
        for (size_t k = 0; k < N_EXACT; k++) {
            size_t i = desc ? N_EXACT - 1 - k : k;
            wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s%llu",
                                   wl ? "," : "",
                                   (unsigned long long)EXACT[i].id);
        }
        EXPECT_ORDER(all, want);
    }
    /* Layout 1 (and qv_scroll_order_by's doubles) still work: start_from
     * 2^53 as a double takes both 2^53s and, ascending, 2^53 + 1. */
    qv_order_by o1;
    qv_order_by_init(&o1);
    o1.version = 1;
    o1.key = "n";
    o1.use_start = true;
    o1.start_from = 9007199254740992.0;
    o1.start_exact.kind = (qv_number_kind)77; /* not read by layout 1 */
    qv_point_id ids[16];
    double dv[16];
    size_t n;
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 3, ids, dv, &n), QV_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(ids[0].u.num, 1);
    ck_assert_uint_eq(ids[1].u.num, 7);
    ck_assert_uint_eq(ids[2].u.num, 2);
    ck_assert(dv[2] == 9007199254740992.0); /* the nearest double */
    o1.descending = true;
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 16, ids, dv, &n), QV_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(ids[0].u.num, 7);
    ck_assert_uint_eq(ids[1].u.num, 1);
    /* Layout 2 refuses a start of an unknown kind. */
    o1.version = QV_ORDER_BY_VERSION;
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 3, ids, dv, &n),
                     QV_EINVAL);
    o1.use_start = false; /* checked whether used or not */
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 3, ids, dv, &n),
                     QV_EINVAL);
    o1.start_exact.kind = QV_NUM_DOUBLE;
    o1.use_start = true;
    o1.start_from = NAN;
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 3, ids, dv, &n),
                     QV_ERANGE);
    o1.start_exact.kind = QV_NUM_INT; /* an integer start replaces the NaN */
    o1.start_exact.v.i = INT64_MAX;
    ck_assert_int_eq(qv_scroll_order_by(a, &o1, NULL, 16, ids, dv, &n), QV_OK);
    ck_assert_uint_eq(n, 9);
    ck_assert_uint_eq(ids[0].u.num, 3);
    /* match and range through the index answer exactly what the filter
     * does without it: match compares i64s exactly, range the doubles. */
    const char *conds[] = {
        "{\"must\":{\"key\":\"K\",\"match\":{\"value\":9007199254740993}}}",
        "{\"must\":{\"key\":\"K\",\"match\":{\"value\":9007199254740992}}}",
        "{\"must\":{\"key\":\"K\",\"match\":{\"value\":9223372036854775807}}}",
        "{\"must\":{\"key\":\"K\",\"match\":{\"value\":-9223372036854775808}}}",
        "{\"must\":{\"key\":\"K\",\"match\":{\"any\":[9007199254740994,"
        "9223372036854775806,1]}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"gte\":9007199254740993}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"gt\":9007199254740992}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"lt\":9223372036854775807}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"lte\":9007199254740992}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"gt\":1.5,\"lt\":"
        "18446744073709551615}}}",
        "{\"must\":{\"key\":\"K\",\"range\":{\"gte\":-9223372036854775808,"
        "\"lte\":1.5}}}",
    };
    for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++) {
        for (int ki = 0; ki < 2; ki++) {
            char cond[256];
            snprintf(cond, sizeof(cond), "%s", conds[i]);
            *strchr(cond, 'K') = ki ? 'f' : 'n';
            char want[4096];
            strcpy(want, ids_of(plain, cond));
            ck_assert_int_eq(how(a, cond), 2);
            EXPECT(a, cond, want);
            EXPECT(b, cond, want);
        }
    }
    EXPECT(a,
           "{\"must\":{\"key\":\"n\",\"match\":{\"value\":9007199254740993}}}",
           "2");
    EXPECT(a,
           "{\"must\":{\"key\":\"n\",\"match\":{\"value\":9007199254740992}}}",
           "1");
    /* Writes: the exact keys come out as they went in. */
    for (size_t i = 0; i < N_EXACT; i += 2) {
        qv_point_id pid = qv_id_from_num(EXACT[i].id);
        ck_assert_int_eq(qv_delete(a, &pid), QV_OK);
    }
    char want[8192] = "";
    size_t wl = 0;
    for (size_t i = 1; i < N_EXACT; i += 2)
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s%llu",
                               wl ? "," : "", (unsigned long long)EXACT[i].id);
    qv_point_id pids[16];
    qv_number vals[16];
    qv_order_by_init(&o1);
    o1.key = "n";
    ck_assert_int_eq(qv_scroll_order_by_exact(a, &o1, NULL, 16, pids, vals, &n),
                     QV_OK);
    char got[8192] = "";
    size_t gl = 0;
    for (size_t i = 0; i < n; i++)
        gl +=
            (size_t)snprintf(got + gl, sizeof(got) - gl, "%s%llu",
                             gl ? "," : "", (unsigned long long)pids[i].u.num);
    EXPECT_ORDER(got, want);
    qv_collection_release(a);
    qv_collection_release(b);
    qv_collection_release(plain);
}
END_TEST

/* ---- 6. scale: tenants -------------------------------------------------- */

START_TEST(test_tenants_at_scale)
{
    enum { N = 30000, TENANTS = 50 };
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 4;
    cfg.metric = QV_METRIC_EUCLID;
    cfg.full_scan_threshold_kb = 0;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "tenant", QV_INDEX_KEYWORD),
                     QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "n", QV_INDEX_INTEGER), QV_OK);
    /* Tenant 0 holds half the points (a bitmap posting), the others
     * share the rest. */
    int *tenant = malloc(N * sizeof(int));
    qv_point_id *ids = malloc(N * sizeof(*ids));
    float *vecs = malloc(N * 4 * sizeof(float));
    char **texts = malloc(N * sizeof(char *));
    size_t *lens = malloc(N * sizeof(size_t));
    rng = 99;
    for (int i = 0; i < N; i++) {
        tenant[i] = rnd(2) ? 0 : 1 + (int)rnd(TENANTS - 1);
        ids[i] = qv_id_from_num((uint64_t)i);
        for (int d = 0; d < 4; d++)
            vecs[i * 4 + d] = (float)rnd(1000) / 100.0f;
        texts[i] = malloc(48);
        lens[i] = (size_t)snprintf(
            texts[i], 48, "{\"tenant\":\"t%d\",\"n\":%d}", tenant[i], i % 100);
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, vecs, N, 4,
                                             (const char *const *)texts, lens),
                     QV_OK);
    /* Delete a third, then insert new points into the freed slots. */
    for (int i = 0; i < N; i += 3)
        ck_assert_int_eq(qv_delete(c, &ids[i]), QV_OK);
    for (int i = 0; i < N; i += 3) {
        tenant[i] = 7;
        ids[i] = qv_id_from_num((uint64_t)(N + i));
        const char *t = "{\"tenant\":\"t7\",\"n\":1000}";
        size_t l = strlen(t);
        ck_assert_int_eq(
            qv_upsert_with_payloads(c, &ids[i], vecs + i * 4, 1, 4, &t, &l),
            QV_OK);
    }
    for (int t = 0; t < TENANTS; t += 7) {
        char f[96];
        snprintf(
            f, sizeof(f),
            "{\"must\":{\"key\":\"tenant\",\"match\":{\"value\":\"t%d\"}}}", t);
        uint64_t want = 0;
        for (int i = 0; i < N; i++)
            want += tenant[i] == t;
        ck_assert_int_eq(how(c, f), 2);
        qv_filter *flt = filter(f);
        uint64_t got;
        ck_assert_int_eq(qv_count_filter(c, flt, &got), QV_OK);
        ck_assert_uint_eq(got, want);
        /* Filtered search: every hit is of the tenant, and the graph or
         * the scan agrees with exact search. */
        qv_search_params p, e;
        qv_search_params_init(&p);
        p.filter = flt;
        e = p;
        e.exact = true;
        qv_hit gh[10], eh[10];
        size_t gn, en;
        ck_assert_int_eq(qv_search(c, vecs, 4, &p, gh, &gn), QV_OK);
        ck_assert_int_eq(qv_search(c, vecs, 4, &e, eh, &en), QV_OK);
        ck_assert_uint_eq(en, want < 10 ? want : 10);
        ck_assert_uint_eq(gn, en);
        for (size_t i = 0; i < en; i++) {
            uint64_t id = eh[i].id.u.num, gid = gh[i].id.u.num;
            ck_assert_int_eq(tenant[id >= N ? id - N : id], t);
            ck_assert_int_eq(tenant[gid >= N ? gid - N : gid], t);
        }
        qv_filter_free(flt);
    }
    /* The planner counts an exact indexed filter instead of sampling:
     * tenant 3 is ~1% of the points, so the plan is an exact scan. */
    qv_filter *f = filter("{\"must\":[{\"key\":\"tenant\",\"match\":{\"value\":"
                          "\"t3\"}},{\"key\":\"n\",\"range\":{\"lt\":50}}]}");
    qvi_candidates q;
    ck_assert_int_eq(qvi_candidates_prepare_locked(c, qvi_filter_of(f),
                                                   QVI_CANDIDATES_ALWAYS, &q),
                     QV_OK);
    ck_assert(q.exact && q.indexed);
    uint64_t want = 0;
    for (uint32_t s = 0; s < c->used; s++) {
        if (!c->live[s])
            continue;
        uint64_t id = c->ids[s].u.num;
        want += tenant[id >= N ? id - N : id] == 3 && id < N && id % 100 < 50;
    }
    ck_assert_uint_eq(q.n_cand, want);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.filter = f;
    qvi_plan plan = qvi_plan_search_locked(c, &sp, &q);
    ck_assert(!plan.graph);
    qvi_candidates_free(&q);
    qv_filter_free(f);

    /* A filter matching nearly everything: a search builds no bitmap
     * (over its budget) but plans from the index's estimate and checks
     * payloads, with the same hits as exact search. */
    f = filter("{\"must\":{\"key\":\"n\",\"range\":{\"gte\":1}}}");
    ck_assert_int_eq(
        qvi_candidates_prepare_locked(c, qvi_filter_of(f),
                                      qvi_candidates_search_budget(c, 128), &q),
        QV_OK);
    ck_assert(q.estimated && !q.cand && !q.exact);
    uint64_t live = 0, est_want = 0;
    for (uint32_t s = 0; s < c->used; s++) {
        live += c->live[s];
        est_want +=
            c->live[s] && (c->ids[s].u.num >= N || c->ids[s].u.num % 100 >= 1);
    }
    ck_assert_uint_eq(q.n_cand, est_want); /* one value per point: exact */
    qvi_candidates_free(&q);
    qv_search_params bp, be;
    qv_search_params_init(&bp);
    bp.filter = f;
    be = bp;
    be.exact = true;
    for (int qi = 0; qi < 20; qi++) {
        qv_hit gh[10], eh[10];
        size_t gn, en;
        ck_assert_int_eq(qv_search(c, vecs + qi * 40, 4, &bp, gh, &gn), QV_OK);
        ck_assert_int_eq(qv_search(c, vecs + qi * 40, 4, &be, eh, &en), QV_OK);
        ck_assert_uint_eq(gn, 10);
        for (size_t i = 0; i < gn; i++) {
            uint64_t id = gh[i].id.u.num;
            ck_assert(id >= N || id % 100 >= 1);
        }
    }
    uint64_t cnt;
    ck_assert_int_eq(qv_count_filter(c, f, &cnt), QV_OK);
    ck_assert_uint_eq(cnt, est_want);
    ck_assert_uint_lt(est_want, live);
    qv_filter_free(f);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(vecs);
    free(ids);
    free(tenant);
    qv_collection_release(c);
}
END_TEST

/* ---- 7. bad input, stale indexes, rebuilds ------------------------------ */

START_TEST(test_bad_input)
{
    qv_collection *c = make();
    qv_index_kind k;
    for (int i = 0; i < QV_INDEX_KIND_COUNT; i++) {
        const char *name = qv_index_kind_name((qv_index_kind)i);
        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(qv_index_kind_parse(name, &k), QV_OK);
        ck_assert_int_eq(k, i);
    }
    ck_assert_int_eq(qv_index_kind_parse("KeyWord", &k), QV_OK);
    ck_assert_int_eq(k, QV_INDEX_KEYWORD);
    ck_assert_int_eq(qv_index_kind_parse("keywords", &k), QV_EINVAL);
    ck_assert_int_eq(qv_index_kind_parse(NULL, &k), QV_ENULL);
    ck_assert_ptr_null(qv_index_kind_name(QV_INDEX_KIND_COUNT));
    ck_assert_ptr_null(qv_index_kind_name((qv_index_kind)-1));

    ck_assert_int_eq(qv_payload_index_create(NULL, "a", QV_INDEX_BOOL),
                     QV_ENULL);
    ck_assert_int_eq(qv_payload_index_create(c, NULL, QV_INDEX_BOOL), QV_ENULL);
    ck_assert_int_eq(qv_payload_index_create(c, "", QV_INDEX_BOOL), QV_EINVAL);
    ck_assert_int_eq(qv_payload_index_create(c, "a..b", QV_INDEX_BOOL),
                     QV_EINVAL);
    char msg[256];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "a..b") != NULL, "%s", msg);
    ck_assert_int_eq(
        qv_payload_index_create(c, "a", (qv_index_kind)QV_INDEX_KIND_COUNT),
        QV_EINVAL);
    ck_assert_int_eq(qv_payload_index_drop(c, "a"), QV_ENOTFOUND);
    ck_assert_int_eq(qv_payload_index_drop(c, "a["), QV_EINVAL);
    ck_assert_int_eq(qv_payload_index_drop(NULL, "a"), QV_ENULL);
    ck_assert_int_eq(qv_payload_index_drop(c, NULL), QV_ENULL);
    qv_payload_index_info *info;
    size_t n;
    ck_assert_int_eq(qv_payload_index_list(c, &info, &n), QV_OK);
    ck_assert_uint_eq(n, 0);
    qv_free(info);
    ck_assert_int_eq(qv_payload_index_list(c, NULL, &n), QV_ENULL);
    ck_assert_int_eq(qv_payload_index_list(NULL, &info, &n), QV_ENULL);

    /* Same key, same kind: nothing changes; another kind replaces. */
    put(c, 1, "{\"a\":\"x\"}");
    ck_assert_int_eq(qv_payload_index_create(c, "a", QV_INDEX_KEYWORD), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "a", QV_INDEX_KEYWORD), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "a", QV_INDEX_BOOL), QV_OK);
    ck_assert_int_eq(qv_payload_index_list(c, &info, &n), QV_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(info[0].kind, QV_INDEX_BOOL);
    ck_assert_uint_eq(info[0].points, 0);
    qv_free(info);
    /* A full-text query of too many tokens is refused. */
    ck_assert_int_eq(qv_payload_index_create(c, "t", QV_INDEX_TEXT), QV_OK);
    size_t cap = 3 * 1100 + 64;
    char *q = malloc(cap);
    size_t len =
        (size_t)sprintf(q, "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"");
    for (int i = 0; i < 1100; i++)
        len += (size_t)sprintf(q + len, "w%d ", i % 10);
    len += (size_t)sprintf(q + len, "\"}}}");
    qv_filter *f = filter(q);
    uint64_t cnt;
    ck_assert_int_eq(qv_count_filter(c, f, &cnt), QV_EINVAL);
    qv_filter_free(f);
    free(q);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_stale_and_rebuild)
{
    qv_collection *c = make();
    for (int i = 0; i < 200; i++) {
        char p[64];
        snprintf(p, sizeof(p), "{\"n\":%d,\"t\":\"w%d x\"}", i, i % 10);
        put(c, (uint64_t)i, p);
    }
    ck_assert_int_eq(qv_payload_index_create(c, "n", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(c, "t", QV_INDEX_TEXT), QV_OK);
    const char *r = "{\"must\":{\"key\":\"n\",\"range\":{\"lt\":10}}}";
    const char *t = "{\"must\":{\"key\":\"t\",\"match\":{\"text\":\"X W3\"}}}";
    char want_r[256], want_t[256];
    snprintf(want_r, sizeof(want_r), "%s", ids_of(c, r));
    snprintf(want_t, sizeof(want_t), "%s", ids_of(c, t));
    ck_assert_str_eq(want_r, "0,1,2,3,4,5,6,7,8,9");
    /* What an allocation failure leaves: stale indexes with freed
     * structures.  Answers stay the same (text still by tokens), order_by
     * reports the rebuild, and a rebuild restores the indexes. */
    pthread_rwlock_wrlock(&c->lock);
    for (uint32_t i = 0; i < c->pindexes->n; i++) {
        qvi_pindex *ix = c->pindexes->v[i];
        qvi_ntree_free(&ix->tree);
        qvi_vmap_free(&ix->map);
        ix->stale = true;
    }
    pthread_rwlock_unlock(&c->lock);
    ck_assert_int_eq(how(c, r), 0);
    EXPECT(c, r, want_r);
    EXPECT(c, t, want_t);
    ck_assert_uint_eq(points_of(c, "n"), 200);
    qv_order_by o;
    qv_order_by_init(&o);
    o.key = "n";
    qv_point_id ids[4];
    size_t n;
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 4, ids, NULL, &n),
                     QV_ENOMEM);
    pthread_rwlock_wrlock(&c->lock);
    ck_assert_int_eq(qvi_payload_indexes_rebuild_locked(c, true), QV_OK);
    pthread_rwlock_unlock(&c->lock);
    ck_assert_int_eq(how(c, r), 2);
    EXPECT(c, r, want_r);
    EXPECT(c, t, want_t);
    ck_assert_int_eq(qv_scroll_order_by(c, &o, NULL, 4, ids, NULL, &n), QV_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(ids[3].u.num, 3);

    /* A snapshot loader's path: define, then rebuild once. */
    qv_collection *d = make();
    for (int i = 0; i < 50; i++)
        put(d, (uint64_t)i, i % 2 ? "{\"b\":true}" : "{\"b\":false}");
    pthread_rwlock_wrlock(&d->lock);
    ck_assert_int_eq(
        qvi_payload_index_define_locked(d, "b", QV_INDEX_BOOL, NULL, 0), QV_OK);
    ck_assert_int_eq(
        qvi_payload_index_define_locked(d, "b[", QV_INDEX_BOOL, NULL, 0),
        QV_EINVAL);
    ck_assert_int_eq(qvi_payload_indexes_rebuild_locked(d, false), QV_OK);
    pthread_rwlock_unlock(&d->lock);
    ck_assert_uint_eq(points_of(d, "b"), 50);
    ck_assert_int_eq(
        how(d, "{\"must\":{\"key\":\"b\",\"match\":{\"value\":true}}}"), 2);
    qv_collection_release(d);
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("payload_index");
    TCase *tc = tcase_create("payload_index");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_posting_model);
    tcase_add_test(tc, test_vmap_model);
    tcase_add_test(tc, test_ntree_model);
    tcase_add_test(tc, test_tokenizer);
    tcase_add_test(tc, test_keyword_and_updates);
    tcase_add_test(tc, test_numeric_bool_datetime_uuid_geo);
    tcase_add_test(tc, test_array_paths);
    tcase_add_test(tc, test_full_text);
    tcase_add_test(tc, test_order_by);
    tcase_add_test(tc, test_number_keys);
    tcase_add_test(tc, test_order_by_exact);
    tcase_add_test(tc, test_tenants_at_scale);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_stale_and_rebuild);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
