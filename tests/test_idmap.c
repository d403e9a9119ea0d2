/*
 * test_idmap.c -- the id -> slot map against a trivially correct
 * reference.
 *
 * Every id used is unique by construction and lives in one slot of the
 * slot table, so the reference is just "is slot s in the map?".  The
 * tests run a million mixed integer and UUID ids through inserts, lookups,
 * deletes and re-inserts into other slots, then long random mixes on small
 * maps (where probe runs wrap around the table end), checking after each
 * phase both the answers and the table's structure: every entry's tag
 * matches its id, every slot appears once, and every bucket between an
 * entry's home and its position is occupied (the linear-probing invariant
 * that backward-shift deletion must keep).
 */
#include "core/core.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Check's ck_assert reports every passing assertion to the parent
 * process, which costs a system call; the hot loops below run millions of
 * them, so they use this macro, which calls into Check only on failure. */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("line %d: '%s' failed", __LINE__, #cond);             \
    } while (0)

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    return splitmix(rng_state++);
}

/* The i-th id of a family (0..3): integers and UUIDs alternate.  Integers
 * differ by i * 4 + family; UUIDs by their first half, splitmix(i) (a
 * bijection), within a family and by their second half across families.
 * Family 1 is kept for ids that are never inserted. */
static qv_point_id make_id(uint64_t family, uint64_t i)
{
    if (i % 2 == 0)
        return qv_id_from_num(i * 4 + family);
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_UUID;
    uint64_t a = splitmix(i), b = splitmix(family + 0x5151);
    memcpy(id.u.uuid, &a, 8);
    memcpy(id.u.uuid + 8, &b, 8);
    return id;
}

/* The structural invariants of the table, and count == entries. */
static void check_structure(const qvi_idmap *m, const qv_point_id *ids,
                            size_t n_slots)
{
    if (m->cap == 0) {
        REQUIRE(m->count == 0);
        return;
    }
    REQUIRE((m->cap & (m->cap - 1)) == 0);
    REQUIRE(m->count * 4 <= m->cap * 3);
    unsigned bits = (unsigned)__builtin_ctzll(m->cap);
    uint8_t *seen = calloc(n_slots, 1);
    REQUIRE(seen != NULL);
    size_t entries = 0;
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t b = m->buckets[i];
        if (b == 0)
            continue;
        entries++;
        uint32_t slot = (uint32_t)b - 1;
        REQUIRE(slot < n_slots);
        REQUIRE(seen[slot] == 0);
        seen[slot] = 1;
        uint64_t h = qvi_id_hash(&ids[slot]);
        REQUIRE((b >> 32) == (h >> 32));
        size_t home = (size_t)((h >> 32) >> (32 - bits));
        for (size_t j = home; j != i; j = (j + 1) & (m->cap - 1))
            REQUIRE(m->buckets[j] != 0);
    }
    REQUIRE(entries == m->count);
    free(seen);
}

/* Compares every slot's id and a batch of never-inserted ids with the
 * reference. */
static void check_answers(const qvi_idmap *m, const qv_point_id *ids,
                          const uint8_t *in_map, size_t n_slots)
{
    size_t expected = 0;
    for (size_t s = 0; s < n_slots; s++) {
        uint32_t got = UINT32_MAX;
        bool found = qvi_idmap_find(m, ids, &ids[s], &got);
        REQUIRE(found == in_map[s]);
        if (in_map[s]) {
            REQUIRE(got == s);
            expected++;
        } else {
            REQUIRE(got == UINT32_MAX); /* untouched */
        }
    }
    REQUIRE(m->count == expected);
    for (uint64_t i = 0; i < 1000; i++) {
        qv_point_id absent = make_id(1, i);
        REQUIRE(!qvi_idmap_find(m, ids, &absent, NULL));
    }
}

/* A million ids: insert all, look all up, delete half, re-insert some of
 * them into fresh slots, then a random mix; compared with the reference
 * after each phase. */
START_TEST(test_million_mixed)
{
    enum { N = 1000000, EXTRA = 200000 };
    size_t n_slots = N + EXTRA;
    qv_point_id *ids = calloc(n_slots, sizeof(*ids));
    uint8_t *in_map = calloc(n_slots, 1);
    ck_assert_ptr_nonnull(ids);
    ck_assert_ptr_nonnull(in_map);
    qvi_idmap m;
    qvi_idmap_init(&m);
    rng_state = 42;

    for (size_t s = 0; s < N; s++) {
        ids[s] = make_id(0, s);
        REQUIRE(qvi_idmap_insert(&m, ids, &ids[s], (uint32_t)s) == QV_OK);
        in_map[s] = 1;
    }
    ck_assert_uint_eq(m.count, N);
    check_answers(&m, ids, in_map, N);
    check_structure(&m, ids, N);

    /* Delete a random half; a second delete of the same id finds nothing. */
    for (size_t s = 0; s < N; s++) {
        if (rnd() & 1) {
            REQUIRE(qvi_idmap_remove(&m, ids, &ids[s]));
            REQUIRE(!qvi_idmap_remove(&m, ids, &ids[s]));
            in_map[s] = 0;
        }
    }
    check_answers(&m, ids, in_map, N);
    check_structure(&m, ids, N);

    /* Move EXTRA deleted ids to fresh slots, as a collection reusing
     * storage would; the old slot keeps a stale copy of the id. */
    size_t next = N;
    for (size_t s = 0; s < N && next < n_slots; s++) {
        if (in_map[s])
            continue;
        ids[next] = ids[s];
        REQUIRE(qvi_idmap_insert(&m, ids, &ids[next], (uint32_t)next) == QV_OK);
        in_map[next++] = 1;
        ids[s] = make_id(2, s); /* the old slot now holds an unused id */
    }
    check_answers(&m, ids, in_map, n_slots);
    check_structure(&m, ids, n_slots);

    /* A random mix of lookups, deletes and re-inserts. */
    for (int step = 0; step < 2000000; step++) {
        size_t s = rnd() % n_slots;
        uint32_t got;
        if (in_map[s]) {
            REQUIRE(qvi_idmap_find(&m, ids, &ids[s], &got));
            REQUIRE(got == s);
            if (rnd() & 1) {
                REQUIRE(qvi_idmap_remove(&m, ids, &ids[s]));
                in_map[s] = 0;
            }
        } else {
            REQUIRE(!qvi_idmap_find(&m, ids, &ids[s], &got));
            REQUIRE(qvi_idmap_insert(&m, ids, &ids[s], (uint32_t)s) == QV_OK);
            in_map[s] = 1;
        }
    }
    check_answers(&m, ids, in_map, n_slots);
    check_structure(&m, ids, n_slots);

    qvi_idmap_free(&m);
    ck_assert_ptr_null(m.buckets);
    ck_assert_uint_eq(m.cap, 0);
    ck_assert_uint_eq(m.count, 0);
    free(ids);
    free(in_map);
}
END_TEST

/* Small maps: long random runs near the load limit, so clusters wrap
 * around the end of the table and deletions shift across it.  This is the
 * test that caught a first delete that stopped shifting at the first entry
 * sitting at its home bucket, which cut later entries off from theirs. */
START_TEST(test_small_random)
{
    enum { SLOTS = 40 };
    qv_point_id ids[SLOTS];
    uint8_t in_map[SLOTS] = {0};
    qvi_idmap m;
    qvi_idmap_init(&m);
    rng_state = 7;
    for (size_t s = 0; s < SLOTS; s++)
        ids[s] = make_id(0, s * 7919 + 3);
    for (int step = 0; step < 200000; step++) {
        size_t s = rnd() % SLOTS;
        if (in_map[s]) {
            REQUIRE(qvi_idmap_remove(&m, ids, &ids[s]));
            in_map[s] = 0;
        } else {
            REQUIRE(qvi_idmap_insert(&m, ids, &ids[s], (uint32_t)s) == QV_OK);
            in_map[s] = 1;
        }
        if (step % 97 == 0) {
            check_structure(&m, ids, SLOTS);
            check_answers(&m, ids, in_map, SLOTS);
        }
    }
    check_structure(&m, ids, SLOTS);
    check_answers(&m, ids, in_map, SLOTS);
    qvi_idmap_free(&m);
}
END_TEST

/* Growth doubles the table, keeps it under 3/4 load and keeps every
 * entry findable. */
START_TEST(test_growth)
{
    enum { N = 100000 };
    qv_point_id *ids = malloc(N * sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    qvi_idmap m;
    qvi_idmap_init(&m);
    ck_assert_uint_eq(m.cap, 0);
    size_t last_cap = 0, grows = 0;
    for (size_t s = 0; s < N; s++) {
        ids[s] = make_id(0, s);
        REQUIRE(qvi_idmap_insert(&m, ids, &ids[s], (uint32_t)s) == QV_OK);
        if (m.cap != last_cap) {
            if (last_cap)
                ck_assert_uint_eq(m.cap, last_cap * 2);
            last_cap = m.cap;
            grows++;
            check_structure(&m, ids, s + 1);
        }
        REQUIRE(m.count * 4 <= m.cap * 3);
    }
    /* 16 -> 2^18 buckets hold 100000 entries at under 3/4 load. */
    ck_assert_uint_eq(m.cap, 1u << 18);
    ck_assert_uint_eq(grows, 15);
    for (size_t s = 0; s < N; s++) {
        uint32_t got = UINT32_MAX;
        REQUIRE(qvi_idmap_find(&m, ids, &ids[s], &got));
        REQUIRE(got == s);
    }
    qvi_idmap_free(&m);
    free(ids);
}
END_TEST

START_TEST(test_reserve)
{
    enum { N = 50000 };
    qv_point_id *ids = malloc(N * sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    qvi_idmap m;
    qvi_idmap_init(&m);

    ck_assert_int_eq(qvi_idmap_reserve(&m, 0), QV_OK);
    ck_assert_uint_eq(m.cap, 0);
    ck_assert_int_eq(qvi_idmap_reserve(&m, N), QV_OK);
    size_t cap = m.cap;
    uint64_t *buckets = m.buckets;
    ck_assert_uint_ge(cap - cap / 4, N);
    /* The next N inserts never reallocate. */
    for (size_t s = 0; s < N; s++) {
        ids[s] = make_id(0, s);
        REQUIRE(qvi_idmap_insert(&m, ids, &ids[s], (uint32_t)s) == QV_OK);
        REQUIRE(m.buckets == buckets);
    }
    ck_assert_uint_eq(m.cap, cap);
    /* Reserving less than the count, or what is already there, is a
     * no-op. */
    ck_assert_int_eq(qvi_idmap_reserve(&m, 10), QV_OK);
    ck_assert_int_eq(qvi_idmap_reserve(&m, N), QV_OK);
    ck_assert_ptr_eq(m.buckets, buckets);
    /* An impossible reservation fails and leaves the map as it was. */
    ck_assert_int_eq(qvi_idmap_reserve(&m, SIZE_MAX), QV_ENOMEM);
    ck_assert_int_eq(qvi_idmap_reserve(&m, (size_t)1 << 40), QV_ENOMEM);
    ck_assert_ptr_eq(m.buckets, buckets);
    ck_assert_uint_eq(m.cap, cap);
    ck_assert_uint_eq(m.count, N);
    check_structure(&m, ids, N);
    for (size_t s = 0; s < N; s += 7) {
        uint32_t got = UINT32_MAX;
        REQUIRE(qvi_idmap_find(&m, ids, &ids[s], &got));
        REQUIRE(got == s);
    }
    /* Growing by reserve keeps every entry. */
    ck_assert_int_eq(qvi_idmap_reserve(&m, 4 * N), QV_OK);
    ck_assert_uint_gt(m.cap, cap);
    check_structure(&m, ids, N);
    for (size_t s = 0; s < N; s++)
        REQUIRE(qvi_idmap_find(&m, ids, &ids[s], NULL));
    ck_assert_int_eq(qvi_idmap_reserve(NULL, 1), QV_ENULL);
    qvi_idmap_free(&m);
    free(ids);
}
END_TEST

START_TEST(test_absent_and_contract)
{
    qv_point_id ids[4] = {qv_id_from_num(1), qv_id_from_num(2),
                          qv_id_from_num(3), qv_id_from_num(4)};
    qvi_idmap m;
    qvi_idmap_init(&m);
    uint32_t got = 99;
    /* Empty map: nothing to find or remove. */
    ck_assert(!qvi_idmap_find(&m, ids, &ids[0], &got));
    ck_assert_uint_eq(got, 99);
    ck_assert(!qvi_idmap_remove(&m, ids, &ids[0]));
    ck_assert_uint_eq(m.count, 0);

    ck_assert_int_eq(qvi_idmap_insert(&m, ids, &ids[0], 0), QV_OK);
    ck_assert(!qvi_idmap_remove(&m, ids, &ids[1]));
    ck_assert_uint_eq(m.count, 1);
    /* Integer 1 and a UUID whose first bytes read as 1 are different. */
    qv_point_id u;
    memset(&u, 0, sizeof(u));
    u.kind = QV_ID_UUID;
    u.u.num = 1;
    ck_assert(!qvi_idmap_find(&m, ids, &u, NULL));
    ck_assert(!qvi_idmap_remove(&m, ids, &u));

    /* Refused inserts change nothing. */
    ck_assert_int_eq(qvi_idmap_insert(&m, ids, &ids[0], 0), QV_EEXIST);
    ck_assert_int_eq(qvi_idmap_insert(&m, ids, &ids[1], 2), QV_EINVAL);
    ck_assert_int_eq(qvi_idmap_insert(&m, ids, &ids[1], UINT32_MAX), QV_ERANGE);
    ck_assert_int_eq(qvi_idmap_insert(NULL, ids, &ids[1], 1), QV_ENULL);
    ck_assert_int_eq(qvi_idmap_insert(&m, NULL, &ids[1], 1), QV_ENULL);
    ck_assert_int_eq(qvi_idmap_insert(&m, ids, NULL, 1), QV_ENULL);
    ck_assert_uint_eq(m.count, 1);
    ck_assert(!qvi_idmap_find(&m, ids, &ids[1], NULL));
    ck_assert(!qvi_idmap_find(NULL, ids, &ids[0], NULL));
    ck_assert(!qvi_idmap_find(&m, NULL, &ids[0], NULL));
    ck_assert(!qvi_idmap_find(&m, ids, NULL, NULL));
    ck_assert(!qvi_idmap_remove(NULL, ids, &ids[0]));
    ck_assert(qvi_idmap_find(&m, ids, &ids[0], &got));
    ck_assert_uint_eq(got, 0);

    /* Remove then re-insert the same id into the same slot. */
    ck_assert(qvi_idmap_remove(&m, ids, &ids[0]));
    ck_assert_uint_eq(m.count, 0);
    ck_assert(!qvi_idmap_find(&m, ids, &ids[0], NULL));
    ck_assert_int_eq(qvi_idmap_insert(&m, ids, &ids[0], 0), QV_OK);
    ck_assert(qvi_idmap_find(&m, ids, &ids[0], &got));
    ck_assert_uint_eq(got, 0);

    qvi_idmap_free(&m);
    qvi_idmap_free(&m); /* harmless twice */
    qvi_idmap_free(NULL);
    ck_assert_uint_eq(m.cap, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idmap");
    TCase *tc = tcase_create("idmap");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_million_mixed);
    tcase_add_test(tc, test_small_random);
    tcase_add_test(tc, test_growth);
    tcase_add_test(tc, test_reserve);
    tcase_add_test(tc, test_absent_and_contract);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
