/*
 * test_ids.c -- point ids: every UUID spelling Rust's uuid crate accepts
 * (and the near misses it refuses), formatting and its round trip, the
 * Qdrant order, equality and the stability of the hash.
 */
#include "core/core.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const HYPH = "67e55044-10b1-426f-9247-bb680e5fe0c8";
static const uint8_t BYTES[16] = {0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1,
                                  0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68,
                                  0x0e, 0x5f, 0xe0, 0xc8};

/* Parses text, expecting success and BYTES. */
static void expect_parse(const char *text)
{
    qv_point_id id;
    memset(&id, 0xa5, sizeof(id));
    ck_assert_msg(qv_id_parse_uuid(text, &id) == QV_OK, "refused '%s'", text);
    ck_assert_uint_eq(id.kind, QV_ID_UUID);
    ck_assert_uint_eq(id.reserved, 0);
    ck_assert_mem_eq(id.u.uuid, BYTES, 16);
}

/* Parses text, expecting QV_EINVAL and *out untouched. */
static void expect_refuse(const char *text)
{
    qv_point_id id, before;
    memset(&id, 0x5a, sizeof(id));
    before = id;
    ck_assert_msg(qv_id_parse_uuid(text, &id) == QV_EINVAL, "accepted '%s'",
                  text);
    ck_assert_mem_eq(&id, &before, sizeof(id));
}

START_TEST(test_from_num)
{
    qv_point_id id = qv_id_from_num(UINT64_MAX);
    ck_assert_uint_eq(id.kind, QV_ID_NUM);
    ck_assert_uint_eq(id.reserved, 0);
    ck_assert_uint_eq(id.u.num, UINT64_MAX);
    ck_assert(qvi_id_valid(&id));
    id = qv_id_from_num(0);
    ck_assert_uint_eq(id.u.num, 0);
    ck_assert(qvi_id_valid(&id));
}
END_TEST

START_TEST(test_parse_spellings)
{
    expect_parse(HYPH);
    expect_parse("67E55044-10B1-426F-9247-BB680E5FE0C8");
    expect_parse("67e55044-10B1-426f-9247-Bb680e5fE0c8");
    expect_parse("67e5504410b1426f9247bb680e5fe0c8");
    expect_parse("67E5504410B1426F9247BB680E5FE0C8");
    expect_parse("{67e55044-10b1-426f-9247-bb680e5fe0c8}");
    expect_parse("{67E55044-10B1-426F-9247-BB680E5FE0C8}");
    expect_parse("urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_parse("urn:uuid:67E55044-10B1-426F-9247-BB680E5FE0C8");

    qv_point_id id;
    ck_assert_int_eq(
        qv_id_parse_uuid("00000000-0000-0000-0000-000000000000", &id), QV_OK);
    static const uint8_t zero[16] = {0};
    ck_assert_mem_eq(id.u.uuid, zero, 16);
    ck_assert_int_eq(qv_id_parse_uuid("ffffffffffffffffffffffffffffffff", &id),
                     QV_OK);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(id.u.uuid[i], 0xff);
}
END_TEST

START_TEST(test_parse_refused)
{
    /* Lengths around the valid ones. */
    expect_refuse("");
    expect_refuse("!");
    expect_refuse("67e5504410b1426f9247bb680e5fe0c");       /* 31 */
    expect_refuse("67e5504410b1426f9247bb680e5fe0c88");     /* 33 */
    expect_refuse("67e55044-10b1-426f-9247-bb680e5fe0c");   /* 35 */
    expect_refuse("67e55044-10b1-426f-9247-bb680e5fe0c88"); /* 37 */
    expect_refuse("F9168C5E-CEB2-4faa-BBF-329BF39FA1E4");
    /* Hyphens in the wrong places or too few. */
    expect_refuse("67e5504-410b1-426f-9247-bb680e5fe0c8");
    expect_refuse("67e55044-10b14-26f-9247-bb680e5fe0c8");
    expect_refuse("67e55044-10b1-426f9-247-bb680e5fe0c8");
    expect_refuse("67e55044-10b1-426f-9247b-b680e5fe0c8");
    expect_refuse("67e55044+10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("231231212212423424324323477343246663");
    expect_refuse("67e55044-10b1-426f-9247-bb680e5f-0c8");
    /* Whitespace, signs and trailing junk. */
    expect_refuse(" 67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("67e55044-10b1-426f-9247-bb680e5fe0c8 ");
    expect_refuse("67e55044-10b1-426f-9247-bb680e5fe0c8\n");
    expect_refuse("67e5504410b1426f9247bb680e5fe0c8x");
    expect_refuse("+7e5504410b1426f9247bb680e5fe0c8");
    expect_refuse("0x67e5504410b1426f9247bb680e5fe0c8");
    /* Wrappers around the wrong form, or malformed wrappers. */
    expect_refuse("{67e5504410b1426f9247bb680e5fe0c8}");
    expect_refuse("urn:uuid:67e5504410b1426f9247bb680e5fe0c8");
    expect_refuse("URN:UUID:67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("urn:uuid 67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("urn:uid::67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("(67e55044-10b1-426f-9247-bb680e5fe0c8)");
    expect_refuse("{67e55044-10b1-426f-9247-bb680e5fe0c8)");
    expect_refuse("{67e55044-10b1-426f-9247-bb680e5fe0c8");
    expect_refuse("67e55044-10b1-426f-9247-bb680e5fe0c8}");
    expect_refuse("{{67e55044-10b1-426f-9247-bb680e5fe0c}");
    expect_refuse("{67e55044-10b1-426f-9247-bb680e5fe0c8}}");
    /* A NUL inside: the string ends there and is too short. */
    expect_refuse("67e55044-10b1-426f-9247-bb680e5\0e0c8");
}
END_TEST

/* Every digit position of every spelling refuses a non-hex character. */
START_TEST(test_parse_bad_hex_everywhere)
{
    static const char *const good[] = {
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "67e5504410b1426f9247bb680e5fe0c8",
        "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
    };
    static const char bad[] = {'g', 'G',    'z', ' ', '-',
                               ':', '\x80', '/', '@', '`'};
    for (size_t s = 0; s < sizeof(good) / sizeof(good[0]); s++) {
        char buf[64];
        size_t len = strlen(good[s]);
        expect_parse(good[s]);
        for (size_t i = 0; i < len; i++) {
            char c = good[s][i];
            bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            if (!is_hex)
                continue;
            for (size_t b = 0; b < sizeof(bad); b++) {
                memcpy(buf, good[s], len + 1);
                buf[i] = bad[b];
                expect_refuse(buf);
            }
        }
    }
}
END_TEST

START_TEST(test_parse_null)
{
    qv_point_id id;
    ck_assert_int_eq(qv_id_parse_uuid(NULL, &id), QV_ENULL);
    ck_assert_int_eq(qv_id_parse_uuid(HYPH, NULL), QV_ENULL);
}
END_TEST

START_TEST(test_format)
{
    char buf[QV_UUID_STRLEN];
    qv_point_id id = qv_id_from_num(0);
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_OK);
    ck_assert_str_eq(buf, "0");
    id = qv_id_from_num(UINT64_MAX);
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_OK);
    ck_assert_str_eq(buf, "18446744073709551615");
    id = qv_id_from_num(1234567890123ull);
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_OK);
    ck_assert_str_eq(buf, "1234567890123");

    ck_assert_int_eq(
        qv_id_parse_uuid("{F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4}", &id), QV_OK);
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_OK);
    ck_assert_str_eq(buf, "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4");
    ck_assert_uint_eq(strlen(buf), QV_UUID_STRLEN - 1);
}
END_TEST

START_TEST(test_format_capacity)
{
    char buf[QV_UUID_STRLEN];
    qv_point_id id;
    ck_assert_int_eq(qv_id_parse_uuid(HYPH, &id), QV_OK);
    /* 36 bytes is one short; the buffer must stay untouched. */
    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(qv_id_format(&id, buf, QV_UUID_STRLEN - 1), QV_ERANGE);
    for (size_t i = 0; i < sizeof(buf); i++)
        ck_assert_int_eq(buf[i], 'x');
    ck_assert_int_eq(qv_id_format(&id, buf, 0), QV_ERANGE);
    ck_assert_int_eq(qv_id_format(&id, buf, QV_UUID_STRLEN), QV_OK);
    ck_assert_str_eq(buf, HYPH);

    id = qv_id_from_num(12345);
    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(qv_id_format(&id, buf, 5), QV_ERANGE);
    ck_assert_int_eq(buf[0], 'x');
    ck_assert_int_eq(qv_id_format(&id, buf, 6), QV_OK);
    ck_assert_str_eq(buf, "12345");
}
END_TEST

START_TEST(test_format_errors)
{
    char buf[QV_UUID_STRLEN];
    qv_point_id id = qv_id_from_num(7);
    ck_assert_int_eq(qv_id_format(NULL, buf, sizeof(buf)), QV_ENULL);
    ck_assert_int_eq(qv_id_format(&id, NULL, sizeof(buf)), QV_ENULL);
    id.kind = 2;
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_EINVAL);
    id.kind = QV_ID_NUM;
    id.reserved = 1;
    ck_assert_int_eq(qv_id_format(&id, buf, sizeof(buf)), QV_EINVAL);
}
END_TEST

static uint64_t rng = 0x1234567;
static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static qv_point_id random_uuid(void)
{
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_UUID;
    uint64_t a = next_u64(), b = next_u64();
    memcpy(id.u.uuid, &a, 8);
    memcpy(id.u.uuid + 8, &b, 8);
    return id;
}

START_TEST(test_round_trip)
{
    /* 10000 ids: checked with plain ifs, since each passing ck_assert
     * costs a message to Check's parent process. */
    for (int i = 0; i < 10000; i++) {
        qv_point_id id = random_uuid(), back, back_upper;
        char buf[QV_UUID_STRLEN], upper[QV_UUID_STRLEN];
        if (qv_id_format(&id, buf, sizeof(buf)) != QV_OK ||
            strlen(buf) != QV_UUID_STRLEN - 1)
            ck_abort_msg("id %d: format failed", i);
        for (int j = 0; j < QV_UUID_STRLEN; j++) {
            if (buf[j] >= 'A' && buf[j] <= 'F')
                ck_abort_msg("uppercase in %s", buf);
            upper[j] = (buf[j] >= 'a' && buf[j] <= 'f') ? buf[j] - 32 : buf[j];
        }
        if (qv_id_parse_uuid(buf, &back) != QV_OK ||
            qv_id_parse_uuid(upper, &back_upper) != QV_OK)
            ck_abort_msg("%s or %s refused", buf, upper);
        if (memcmp(&id, &back, sizeof(id)) != 0 ||
            memcmp(&id, &back_upper, sizeof(id)) != 0 ||
            !qvi_id_equal(&id, &back))
            ck_abort_msg("%s does not round-trip", buf);
    }
}
END_TEST

static int cmp_ids(const void *a, const void *b)
{
    return qv_id_compare(a, b);
}

START_TEST(test_order)
{
    qv_point_id a = qv_id_from_num(1), b = qv_id_from_num(2);
    qv_point_id big = qv_id_from_num(UINT64_MAX);
    qv_point_id half = qv_id_from_num(1ull << 63);
    qv_point_id u0, u1, uhi;
    ck_assert_int_eq(
        qv_id_parse_uuid("00000000-0000-0000-0000-000000000000", &u0), QV_OK);
    ck_assert_int_eq(
        qv_id_parse_uuid("00000000-0000-0000-0000-000000000001", &u1), QV_OK);
    ck_assert_int_eq(
        qv_id_parse_uuid("80000000-0000-0000-0000-000000000000", &uhi), QV_OK);

    ck_assert_int_lt(qv_id_compare(&a, &b), 0);
    ck_assert_int_gt(qv_id_compare(&b, &a), 0);
    ck_assert_int_eq(qv_id_compare(&a, &a), 0);
    ck_assert_int_lt(qv_id_compare(&a, &half), 0); /* unsigned, not signed */
    ck_assert_int_lt(qv_id_compare(&half, &big), 0);
    ck_assert_int_lt(qv_id_compare(&big, &u0), 0); /* integers first */
    ck_assert_int_gt(qv_id_compare(&u0, &big), 0);
    ck_assert_int_lt(qv_id_compare(&u0, &u1), 0);
    ck_assert_int_lt(qv_id_compare(&u1, &uhi), 0); /* bytes are unsigned */
    ck_assert_int_eq(qv_id_compare(&uhi, &uhi), 0);
    ck_assert_int_lt(qv_id_compare(NULL, &a), 0);
    ck_assert_int_gt(qv_id_compare(&a, NULL), 0);
    ck_assert_int_eq(qv_id_compare(NULL, NULL), 0);

    /* A shuffled mix sorts into integers-then-UUIDs, each in order, and
     * the comparison is antisymmetric on every pair. */
    enum { N = 400 };
    qv_point_id ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (next_u64() & 1) ? random_uuid()
                                  : qv_id_from_num(next_u64() >> (i % 64));
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            if ((qv_id_compare(&ids[i], &ids[j]) > 0) !=
                (qv_id_compare(&ids[j], &ids[i]) < 0))
                ck_abort_msg("compare(%d, %d) is not antisymmetric", i, j);
        }
    }
    qsort(ids, N, sizeof(ids[0]), cmp_ids);
    for (int i = 1; i < N; i++) {
        ck_assert_uint_le(ids[i - 1].kind, ids[i].kind);
        if (ids[i - 1].kind == ids[i].kind && ids[i].kind == QV_ID_NUM)
            ck_assert_uint_le(ids[i - 1].u.num, ids[i].u.num);
        if (ids[i - 1].kind == ids[i].kind && ids[i].kind == QV_ID_UUID) {
            char x[QV_UUID_STRLEN], y[QV_UUID_STRLEN];
            qv_id_format(&ids[i - 1], x, sizeof(x));
            qv_id_format(&ids[i], y, sizeof(y));
            ck_assert_int_le(strcmp(x, y), 0); /* byte order = text order */
        }
    }
}
END_TEST

START_TEST(test_valid_equal)
{
    qv_point_id n5 = qv_id_from_num(5), u;
    ck_assert(qvi_id_valid(&n5));
    ck_assert(!qvi_id_valid(NULL));
    /* A UUID whose first 8 bytes read as the integer 5. */
    memset(&u, 0, sizeof(u));
    u.kind = QV_ID_UUID;
    u.u.num = 5;
    ck_assert(qvi_id_valid(&u));
    ck_assert(!qvi_id_equal(&n5, &u));
    ck_assert(!qvi_id_equal(&u, &n5));
    ck_assert_int_ne(qv_id_compare(&n5, &u), 0);
    ck_assert(qvi_id_equal(&u, &u));
    ck_assert(!qvi_id_equal(&n5, NULL));

    /* An integer id's unused union bytes do not matter. */
    qv_point_id n5b = n5;
    memset(n5b.u.uuid + 8, 0xee, 8);
    ck_assert(qvi_id_equal(&n5, &n5b));
    ck_assert_int_eq(qv_id_compare(&n5, &n5b), 0);
    ck_assert_uint_eq(qvi_id_hash(&n5), qvi_id_hash(&n5b));

    qv_point_id bad = n5;
    bad.kind = 2;
    ck_assert(!qvi_id_valid(&bad));
    bad = n5;
    bad.reserved = 3;
    ck_assert(!qvi_id_valid(&bad));
}
END_TEST

START_TEST(test_hash_stable)
{
    /* The hash is xxHash3 of kind byte + value bytes (integer
     * little-endian): recompute it independently. */
    uint8_t enc[17] = {0};
    qv_point_id n = qv_id_from_num(0x0102030405060708ull);
    enc[0] = QV_ID_NUM;
    for (int i = 0; i < 8; i++)
        enc[1 + i] = (uint8_t)(8 - i);
    ck_assert_uint_eq(qvi_id_hash(&n), XXH3_64bits(enc, 9));
    qv_point_id u;
    ck_assert_int_eq(qv_id_parse_uuid(HYPH, &u), QV_OK);
    enc[0] = QV_ID_UUID;
    memcpy(enc + 1, BYTES, 16);
    ck_assert_uint_eq(qvi_id_hash(&u), XXH3_64bits(enc, 17));

    /* Golden values: they must never change between runs or builds. */
    qv_point_id zero = qv_id_from_num(0), one = qv_id_from_num(1);
    ck_assert_uint_eq(qvi_id_hash(&zero), 0x34499569f0391857ull);
    ck_assert_uint_eq(qvi_id_hash(&one), 0x4ac0e8d997f93b82ull);
    ck_assert_uint_eq(qvi_id_hash(&u), 0xbb65856d1f60db82ull);

    /* Distinct small ids hash apart, and integer 0 apart from the nil
     * UUID. */
    qv_point_id nil;
    ck_assert_int_eq(qv_id_parse_uuid("00000000000000000000000000000000", &nil),
                     QV_OK);
    ck_assert_uint_ne(qvi_id_hash(&zero), qvi_id_hash(&nil));
    enum { N = 20000 };
    uint64_t *h = malloc(N * sizeof(*h));
    ck_assert_ptr_nonnull(h);
    for (int i = 0; i < N; i++) {
        qv_point_id id = qv_id_from_num((uint64_t)i);
        h[i] = qvi_id_hash(&id);
        if (h[i] != qvi_id_hash(&id))
            ck_abort_msg("hash of %d is not deterministic", i);
    }
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < i + 64 && j < N; j++) {
            if (h[i] == h[j])
                ck_abort_msg("ids %d and %d collide", i, j);
        }
    }
    free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ids");
    TCase *tc = tcase_create("ids");
    tcase_add_test(tc, test_from_num);
    tcase_add_test(tc, test_parse_spellings);
    tcase_add_test(tc, test_parse_refused);
    tcase_add_test(tc, test_parse_bad_hex_everywhere);
    tcase_add_test(tc, test_parse_null);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_format_capacity);
    tcase_add_test(tc, test_format_errors);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_valid_equal);
    tcase_add_test(tc, test_hash_stable);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
