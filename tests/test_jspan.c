/*
 * test_jspan.c -- cli/jspan.c, the JSON spans `quiver migrate` reads
 * server replies with: paths and iteration over the original text,
 * equality with exact numbers (integers past 2^53 and u64, kinds kept:
 * 1 is not 1.0), members in any order, strings however escaped; and
 * every truncation and byte flip of a reply is refused or read without
 * reading past its end (run under ASan).
 */
#include "jspan.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static js_span root(const char *text)
{
    js_span r;
    ck_assert_msg(js_root(text, strlen(text), &r), "not one value: %s", text);
    return r;
}

static bool eq(const char *a, const char *b)
{
    return js_equal(root(a), root(b));
}

START_TEST(test_paths)
{
    const char *t = " {\"result\":{\"points\":[{\"id\":18446744073709551615,"
                    "\"payload\":{\"a\\u0062\":[1,{\"c\":\"x\"}]}}],"
                    "\"next_page_offset\":null},\"status\":\"ok\"} ";
    js_span r = root(t), pts, off, pt, v, key;
    ck_assert(js_path(r, "result.points", &pts));
    ck_assert(js_path(r, "result.next_page_offset", &off));
    ck_assert_int_eq(js_kind(off), 'n');
    ck_assert(!js_path(r, "result.missing", &v));
    js_iter it;
    ck_assert(js_iter_begin(pts, &it));
    ck_assert(js_iter_next(&it, NULL, &pt));
    ck_assert(!js_iter_next(&it, NULL, &v));
    ck_assert(js_get(pt, "id", &v));
    ck_assert_int_eq((int)v.n, 20);
    ck_assert(!memcmp(v.p, "18446744073709551615", 20));
    ck_assert(js_path(pt, "payload.ab", &v)); /* escaped key */
    ck_assert_int_eq(js_kind(v), '[');
    ck_assert(js_get(r, "status", &v));
    char *s = js_string(v);
    ck_assert_str_eq(s, "ok");
    free(s);
    ck_assert(js_iter_begin(root("{\"k\":1}"), &it));
    ck_assert(js_iter_next(&it, &key, &v));
    ck_assert(js_key_is(key, "k"));
}
END_TEST

START_TEST(test_equal_numbers)
{
    ck_assert(eq("18446744073709551615", "18446744073709551615"));
    ck_assert(!eq("18446744073709551615", "18446744073709551614"));
    ck_assert(!eq("9007199254740993", "9007199254740992")); /* same double */
    ck_assert(eq("-9223372036854775808", "-9223372036854775808"));
    ck_assert(!eq("1", "1.0")); /* kinds are kept, as serde_json keeps them */
    ck_assert(eq("1.0", "1e0"));
    ck_assert(eq("0.1", "1e-1"));
    ck_assert(!eq("0.1", "0.10000000000000002"));
    ck_assert(eq("0", "-0"));
    ck_assert(eq("2.5e300", "2.5e+300"));
}
END_TEST

START_TEST(test_equal_structures)
{
    ck_assert(eq("{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}"));
    ck_assert(!eq("{\"a\":1}", "{\"a\":1,\"b\":2}"));
    ck_assert(!eq("{\"a\":1,\"b\":2}", "{\"a\":1}"));
    ck_assert(!eq("[1,2]", "[2,1]"));
    ck_assert(!eq("[1,2]", "[1,2,3]"));
    ck_assert(eq("\"h\\u00e9\"", "\"h\xc3\xa9\""));
    ck_assert(eq("\"a/b\"", "\"a\\/b\""));
    ck_assert(!eq("\"a\"", "\"b\""));
    ck_assert(!eq("null", "false"));
    ck_assert(eq("{\"n\":{\"z\":null}}", "{ \"n\" : { \"z\" : null } }"));
    ck_assert(!eq("{\"x\":\"1\"}", "{\"x\":1}"));
}
END_TEST

/* Every prefix of a valid reply is refused as a root, and every one-byte
 * change either parses or is refused: never a read past the end (ASan). */
START_TEST(test_damaged)
{
    const char *t = "{\"a\":[1,-2.5e3,\"s\\\"q\",{\"b\":true}],\"c\":null}";
    size_t n = strlen(t);
    js_span r;
    for (size_t k = 0; k < n; k++) {
        char *p = malloc(k ? k : 1);
        memcpy(p, t, k);
        ck_assert_msg(!js_root(p, k, &r), "prefix %zu accepted", k);
        free(p);
    }
    static const char subst[] = "{}[]\",:\\-0e.ntf \x01";
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(subst) - 1; j++) {
            char *p = malloc(n);
            memcpy(p, t, n);
            p[i] = subst[j];
            if (js_root(p, n, &r)) {
                js_span v;
                js_path(r, "a", &v);
                js_equal(r, r);
            }
            free(p);
        }
    }
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    ck_assert(!js_root(deep, 600, &r)); /* deeper than JS_MAX_DEPTH */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jspan");
    TCase *tc = tcase_create("jspan");
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_equal_numbers);
    tcase_add_test(tc, test_equal_structures);
    tcase_add_test(tc, test_damaged);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
