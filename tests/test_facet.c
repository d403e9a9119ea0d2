/*
 * test_facet.c -- qv_facet against counts made here from the payloads the
 * test wrote: random points whose keys hold strings, integers (some above
 * 2^53 and INT64_MAX), fractional numbers, booleans and UUIDs, alone or in
 * arrays with repeats; with and without filters; after deletes and
 * payload edits; and Qdrant's order (count descending, then value
 * ascending) and refusals.
 */
#include "quiver.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_POINTS 600
#define N_WORDS  9

static const char *const WORDS[N_WORDS] = {"red", "blue", "green", "Red", "",
                                           "r",   "re",   "blu",   "zz"};
static const char *const UUIDS[3] = {"00000000-0000-0000-0000-000000000002",
                                     "ffffffff-0000-0000-0000-000000000000",
                                     "550e8400-e29b-41d4-a716-446655440000"};
static const char *const INTS[6] = {"-3",
                                    "0",
                                    "7",
                                    "9007199254740993",
                                    "18446744073709551615",
                                    "-9007199254740993"};

/* What point i holds: word and int choices as bit sets (a point holds
 * each chosen value once, however often the JSON repeats it). */
typedef struct truth {
    unsigned words, ints, uuids;
    int b; /* -1 none, 0 false, 1 true */
    bool live;
} truth;

static truth T[N_POINTS];
static qv_collection *C;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends a JSON list (or a lone value when it has one element) of the
 * chosen entries of vals, repeating the first one to exercise dedup. */
static size_t put_set(char *buf, size_t cap, const char *key,
                      const char *const *vals, size_t n_vals, unsigned set,
                      bool quote)
{
    size_t o = (size_t)snprintf(buf, cap, "\"%s\":[", key);
    bool first = true;
    for (size_t v = 0; v < n_vals; v++) {
        if (!(set >> v & 1))
            continue;
        for (int rep = 0; rep < (first ? 2 : 1); rep++)
            o += (size_t)snprintf(
                buf + o, cap - o, "%s%s%s%s", first && rep == 0 ? "" : ",",
                quote ? "\"" : "", vals[v], quote ? "\"" : "");
        first = false;
    }
    o += (size_t)snprintf(buf + o, cap - o, "],");
    return o;
}

static void write_point(uint32_t i, uint64_t *seed)
{
    truth *t = &T[i];
    t->words = (unsigned)(rnd(seed) % (1u << N_WORDS)) & (unsigned)rnd(seed) &
               (unsigned)rnd(seed);
    t->ints = (unsigned)(rnd(seed) % 64) & (unsigned)rnd(seed);
    t->uuids = (unsigned)(rnd(seed) % 8) & (unsigned)rnd(seed);
    t->b = (int)(rnd(seed) % 3) - 1;
    char json[2048];
    size_t o = (size_t)snprintf(json, sizeof(json), "{");
    o += put_set(json + o, sizeof(json) - o, "w", WORDS, N_WORDS, t->words,
                 true);
    o += put_set(json + o, sizeof(json) - o, "n", INTS, 6, t->ints, false);
    o += put_set(json + o, sizeof(json) - o, "u", UUIDS, 3, t->uuids, true);
    /* Fractional numbers never count in an integer index. */
    o += (size_t)snprintf(json + o, sizeof(json) - o, "\"f\":%s,",
                          i % 2 ? "[1.5, 2.0]" : "0.25");
    if (t->b >= 0)
        o += (size_t)snprintf(json + o, sizeof(json) - o, "\"b\":%s,",
                              t->b ? "true" : "false");
    /* "g" under an integer index: only the integer 3 is an integer value
     * (2.5 and 4.0 are written as fractional numbers) */
    snprintf(json + o, sizeof(json) - o, "\"g\":[3,2.5,4.0],\"i\":%u}", i);
    qv_point_id id = qv_id_from_num(i);
    float v[2] = {1.0f, (float)i};
    const char *texts[1] = {json};
    size_t lens[1] = {strlen(json)};
    qv_status st = qv_upsert_with_payloads(C, &id, v, 1, 2, texts, lens);
    char msg[256] = "";
    qv_collection_errmsg(C, msg, sizeof(msg));
    ck_assert_msg(st == QV_OK, "%s: %s", json, msg);
    t->live = true;
}

static void setup(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    ck_assert_int_eq(qv_collection_create(&cfg, &C), QV_OK);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < N_POINTS; i++)
        write_point(i, &seed);
    ck_assert_int_eq(qv_payload_index_create(C, "w", QV_INDEX_KEYWORD), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "n", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "u", QV_INDEX_UUID), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "b", QV_INDEX_BOOL), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "f", QV_INDEX_FLOAT), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "i", QV_INDEX_INTEGER), QV_OK);
    ck_assert_int_eq(qv_payload_index_create(C, "g", QV_INDEX_INTEGER), QV_OK);
}

static void teardown(void)
{
    qv_collection_release(C);
    C = NULL;
}

/* The filter "i is a multiple of m" as the points the test keeps. */
static bool passes(uint32_t i, unsigned m)
{
    return m == 0 || i % m == 0;
}

static qv_filter *filter_for(unsigned m)
{
    if (m == 0)
        return NULL;
    /* i % m == 0 as a has_id list */
    char *json = malloc(16 * N_POINTS + 64);
    size_t o = (size_t)sprintf(json, "{\"must\":[{\"has_id\":[");
    bool first = true;
    for (uint32_t i = 0; i < N_POINTS; i += m) {
        o += (size_t)sprintf(json + o, "%s%u", first ? "" : ",", i);
        first = false;
    }
    sprintf(json + o, "]}]}");
    qv_filter *f = NULL;
    char err[256];
    ck_assert_int_eq(qv_filter_parse(json, strlen(json), &f, err, sizeof(err)),
                     QV_OK);
    free(json);
    return f;
}

/* Expected count of value v of a set-valued key (field selects it). */
static uint64_t expect_set(int field, unsigned v, unsigned m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < N_POINTS; i++) {
        if (!T[i].live || !passes(i, m))
            continue;
        unsigned set = field == 0   ? T[i].words
                       : field == 1 ? T[i].ints
                                    : T[i].uuids;
        n += set >> v & 1;
    }
    return n;
}

static uint64_t expect_bool(int b, unsigned m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < N_POINTS; i++)
        n += T[i].live && passes(i, m) && T[i].b == b;
    return n;
}

/* Checks the order of hits: count descending, value ascending. */
static void check_order(const qv_facet_hit *h, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        ck_assert_uint_ge(h[i - 1].count, h[i].count);
        if (h[i - 1].count != h[i].count && h[i].count)
            continue;
        if (h[i].kind == QV_FACET_STRING) {
            ck_assert_int_lt(strcmp(h[i - 1].str, h[i].str), 0);
        } else if (h[i].kind == QV_FACET_BOOL) {
            ck_assert(!h[i - 1].boolean && h[i].boolean);
        } else {
            const qv_number *a = &h[i - 1].num, *b = &h[i].num;
            bool lt = a->kind == b->kind
                          ? (a->kind == QV_NUM_INT ? a->v.i < b->v.i
                                                   : a->v.u < b->v.u)
                          : a->kind == QV_NUM_INT;
            ck_assert(lt);
        }
    }
}

static void number_text(const qv_number *v, char *buf, size_t cap)
{
    if (v->kind == QV_NUM_INT)
        snprintf(buf, cap, "%" PRId64, v->v.i);
    else
        snprintf(buf, cap, "%" PRIu64, v->v.u);
}

/* Every expected value appears with its count, and nothing else. */
static void check_key(const char *key, int field, unsigned m)
{
    qv_filter *f = filter_for(m);
    qv_facet_hit *h = NULL;
    size_t n = 0;
    ck_assert_int_eq(qv_facet(C, key, f, 1000, &h, &n), QV_OK);
    check_order(h, n);
    const char *const *vals = field == 0 ? WORDS : field == 1 ? INTS : UUIDS;
    size_t n_vals = field == 0 ? N_WORDS : field == 1 ? 6 : 3;
    size_t want_hits = 0;
    for (unsigned v = 0; v < n_vals; v++) {
        uint64_t want = expect_set(field, v, m);
        want_hits += want > 0;
        bool found = false;
        for (size_t k = 0; k < n; k++) {
            char text[32];
            const char *s = h[k].str;
            if (h[k].kind == QV_FACET_NUMBER) {
                number_text(&h[k].num, text, sizeof(text));
                s = text;
            }
            if (strcmp(s, vals[v]) == 0) {
                ck_assert_uint_eq(h[k].count, want);
                found = true;
            }
        }
        ck_assert_msg(found == (want > 0), "%s value %s found %d want %" PRIu64,
                      key, vals[v], found, want);
    }
    ck_assert_uint_eq(n, want_hits);
    qv_free(h);
    qv_filter_free(f);
}

static void check_bools(unsigned m)
{
    qv_filter *f = filter_for(m);
    qv_facet_hit *h = NULL;
    size_t n = 0;
    ck_assert_int_eq(qv_facet(C, "b", f, 10, &h, &n), QV_OK);
    check_order(h, n);
    size_t want_hits = 0;
    for (int b = 0; b < 2; b++) {
        uint64_t want = expect_bool(b, m);
        want_hits += want > 0;
        for (size_t k = 0; k < n; k++)
            if (h[k].boolean == (b == 1))
                ck_assert_uint_eq(h[k].count, want);
    }
    ck_assert_uint_eq(n, want_hits);
    qv_free(h);
    qv_filter_free(f);
}

static void check_all(void)
{
    const unsigned mods[] = {0, 1, 3, 7, 1000};
    for (size_t j = 0; j < sizeof(mods) / sizeof(mods[0]); j++) {
        check_key("w", 0, mods[j]);
        check_key("n", 1, mods[j]);
        check_key("u", 2, mods[j]);
        check_bools(mods[j]);
    }
}

START_TEST(test_counts_match)
{
    check_all();
}
END_TEST

START_TEST(test_counts_after_writes)
{
    uint64_t seed = 42;
    for (uint32_t i = 0; i < N_POINTS; i += 5) {
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_delete(C, &id), QV_OK);
        T[i].live = false;
    }
    for (uint32_t i = 1; i < N_POINTS; i += 11)
        write_point(i, &seed); /* new payloads replace the old */
    for (uint32_t i = 2; i < N_POINTS; i += 13) {
        if (!T[i].live)
            continue;
        qv_point_id id = qv_id_from_num(i);
        ck_assert_int_eq(qv_payload_clear(C, &id), QV_OK);
        T[i].words = T[i].ints = T[i].uuids = 0;
        T[i].b = -1;
    }
    check_all();
}
END_TEST

START_TEST(test_limit_and_ties)
{
    qv_facet_hit *all = NULL, *top = NULL;
    size_t n_all = 0, n_top = 0;
    ck_assert_int_eq(qv_facet(C, "w", NULL, 100, &all, &n_all), QV_OK);
    ck_assert_int_eq(qv_facet(C, "w", NULL, 3, &top, &n_top), QV_OK);
    ck_assert_uint_eq(n_top, 3);
    for (size_t i = 0; i < n_top; i++) {
        ck_assert_str_eq(top[i].str, all[i].str);
        ck_assert_uint_eq(top[i].count, all[i].count);
    }
    qv_free(all);
    qv_free(top);
    /* "i" holds one distinct integer per point: all counts tie at 1, so
     * the values come in ascending order. */
    ck_assert_int_eq(qv_facet(C, "i", NULL, 5, &top, &n_top), QV_OK);
    ck_assert_uint_eq(n_top, 5);
    for (size_t i = 0; i < n_top; i++) {
        ck_assert_uint_eq(top[i].count, 1);
        ck_assert_int_eq(top[i].num.v.i, (int64_t)i);
    }
    qv_free(top);
    ck_assert_int_eq(qv_facet(C, "g", NULL, 5, &top, &n_top), QV_OK);
    ck_assert_uint_eq(n_top, 1);
    ck_assert_int_eq(top[0].num.kind, QV_NUM_INT);
    ck_assert_int_eq(top[0].num.v.i, 3);
    ck_assert_uint_eq(top[0].count, N_POINTS);
    qv_free(top);
}
END_TEST

START_TEST(test_refusals)
{
    qv_facet_hit *h = (qv_facet_hit *)1;
    size_t n = 7;
    char msg[512];
    /* a float index is no facet index (Qdrant: map indexes only) */
    ck_assert_int_eq(qv_facet(C, "f", NULL, 10, &h, &n), QV_ENOTFOUND);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(n, 0);
    qv_collection_errmsg(C, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "No appropriate index for faceting: `f`"), "%s",
                  msg);
    ck_assert_int_eq(qv_facet(C, "nothing", NULL, 10, &h, &n), QV_ENOTFOUND);
    ck_assert_int_eq(qv_facet(C, "w", NULL, 0, &h, &n), QV_ERANGE);
    ck_assert_int_eq(qv_facet(C, "a..b", NULL, 10, &h, &n), QV_EINVAL);
    ck_assert_int_eq(qv_facet(C, NULL, NULL, 10, &h, &n), QV_ENULL);
    ck_assert_int_eq(qv_facet(NULL, "w", NULL, 10, &h, &n), QV_ENULL);
    ck_assert_int_eq(qv_facet(C, "w", NULL, 10, NULL, &n), QV_ENULL);
}
END_TEST

static Suite *facet_suite(void)
{
    Suite *s = suite_create("facet");
    TCase *tc = tcase_create("facet");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_counts_match);
    tcase_add_test(tc, test_counts_after_writes);
    tcase_add_test(tc, test_limit_and_ties);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(facet_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
