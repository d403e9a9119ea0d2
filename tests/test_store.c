/*
 * test_store.c -- named collections: create, ensure, get, list, drop,
 * total points, name rules, and references that outlive a drop.
 */
#include "quiver.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static qv_collection_config config(uint32_t dim, qv_metric m)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = m;
    return cfg;
}

START_TEST(test_create_get_list_drop)
{
    qv_store *s;
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    qv_collection_config cfg = config(4, QV_METRIC_DOT);
    ck_assert_int_eq(qv_store_create(s, "beta", &cfg, NULL), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "alpha", &cfg, NULL), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "gamma", &cfg, NULL), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "beta", &cfg, NULL), QV_EEXIST);
    char msg[128];
    qv_store_errmsg(s, msg, sizeof(msg));
    ck_assert_str_eq(msg, "collection `beta` already exists");

    char **names;
    size_t n;
    ck_assert_int_eq(qv_store_list(s, &names, &n), QV_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(names[0], "alpha");
    ck_assert_str_eq(names[1], "beta");
    ck_assert_str_eq(names[2], "gamma");
    ck_assert_ptr_null(names[3]);
    qv_free(names);

    qv_collection *c;
    ck_assert_int_eq(qv_store_get(s, "beta", &c), QV_OK);
    qv_point_id id = qv_id_from_num(1);
    float v[4] = {1, 2, 3, 4};
    ck_assert_int_eq(qv_upsert(c, &id, v, 4), QV_OK);
    uint64_t total;
    ck_assert_int_eq(qv_store_total_points(s, &total), QV_OK);
    ck_assert_uint_eq(total, 1);

    /* Dropped while referenced: the holder keeps a working collection. */
    ck_assert_int_eq(qv_store_drop(s, "beta"), QV_OK);
    ck_assert_int_eq(qv_store_drop(s, "beta"), QV_ENOTFOUND);
    qv_collection *again = (qv_collection *)0x1;
    ck_assert_int_eq(qv_store_get(s, "beta", &again), QV_ENOTFOUND);
    ck_assert_ptr_null(again);
    qv_store_errmsg(s, msg, sizeof(msg));
    ck_assert_str_eq(msg, "collection `beta` doesn't exist");
    uint64_t cnt;
    ck_assert_int_eq(qv_count(c, &cnt), QV_OK);
    ck_assert_uint_eq(cnt, 1);
    qv_collection_release(c);
    ck_assert_int_eq(qv_store_total_points(s, &total), QV_OK);
    ck_assert_uint_eq(total, 0);
    qv_store_close(s);
    qv_store_close(NULL);
}
END_TEST

START_TEST(test_ensure)
{
    qv_store *s;
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    qv_collection_config cfg = config(8, QV_METRIC_COSINE);
    bool created = false;
    qv_collection *a, *b;
    ck_assert_int_eq(qv_store_ensure(s, "docs", &cfg, &a, &created), QV_OK);
    ck_assert(created);
    ck_assert_int_eq(qv_store_ensure(s, "docs", &cfg, &b, &created), QV_OK);
    ck_assert(!created);
    ck_assert_ptr_eq(a, b);
    qv_collection_config other = config(8, QV_METRIC_EUCLID);
    ck_assert_int_eq(qv_store_ensure(s, "docs", &other, NULL, &created),
                     QV_EEXIST);
    other = config(9, QV_METRIC_COSINE);
    ck_assert_int_eq(qv_store_ensure(s, "docs", &other, NULL, NULL), QV_EEXIST);
    qv_collection_release(a);
    qv_collection_release(b);
    qv_store_close(s);
}
END_TEST

START_TEST(test_bad_names_and_configs)
{
    qv_store *s;
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    qv_collection_config cfg = config(4, QV_METRIC_DOT);
    const char *bad[] = {"",    ".",   "..",  "a/b", "a\\b", "a:b",      "a*b",
                         "a?b", "a|b", "a<b", "a>b", "a\"b", "tab\there"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(qv_store_create(s, bad[i], &cfg, NULL), QV_EINVAL);
    char longname[QV_MAX_NAME + 2];
    memset(longname, 'x', sizeof(longname));
    longname[QV_MAX_NAME + 1] = '\0';
    ck_assert_int_eq(qv_store_create(s, longname, &cfg, NULL), QV_EINVAL);
    longname[QV_MAX_NAME] = '\0';
    ck_assert_int_eq(qv_store_create(s, longname, &cfg, NULL), QV_OK);
    ck_assert_int_eq(qv_store_create(s, "ünïcode ok", &cfg, NULL), QV_OK);
    qv_collection_config z = config(0, QV_METRIC_DOT);
    ck_assert_int_eq(qv_store_create(s, "zero", &z, NULL), QV_ERANGE);
    char msg[256];
    qv_store_errmsg(s, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "dim 0") != NULL, "message: %s", msg);
    qv_collection_config newer = config(4, QV_METRIC_DOT);
    newer.version = QV_COLLECTION_CONFIG_VERSION + 1;
    ck_assert_int_eq(qv_store_create(s, "newer", &newer, NULL), QV_EINVAL);
    qv_store_errmsg(s, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "version") != NULL, "message: %s", msg);
    ck_assert_int_eq(qv_store_create(s, NULL, &cfg, NULL), QV_ENULL);
    ck_assert_int_eq(qv_store_create(s, "x", NULL, NULL), QV_ENULL);
    ck_assert_int_eq(qv_store_create(NULL, "x", &cfg, NULL), QV_ENULL);
    ck_assert_int_eq(qv_store_open(NULL), QV_ENULL);
    char **names;
    size_t n;
    ck_assert_int_eq(qv_store_list(s, &names, &n), QV_OK);
    ck_assert_uint_eq(n, 2);
    qv_free(names);
    qv_store_close(s);
}
END_TEST

START_TEST(test_close_with_held_reference)
{
    qv_store *s;
    ck_assert_int_eq(qv_store_open(&s), QV_OK);
    qv_collection_config cfg = config(2, QV_METRIC_DOT);
    qv_collection *c;
    ck_assert_int_eq(qv_store_create(s, "kept", &cfg, &c), QV_OK);
    qv_store_close(s);
    qv_point_id id = qv_id_from_num(3);
    float v[2] = {1, 2};
    ck_assert_int_eq(qv_upsert(c, &id, v, 2), QV_OK);
    qv_collection_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_test(tc, test_create_get_list_drop);
    tcase_add_test(tc, test_ensure);
    tcase_add_test(tc, test_bad_names_and_configs);
    tcase_add_test(tc, test_close_with_held_reference);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
