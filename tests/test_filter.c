/*
 * test_filter.c -- the Qdrant filter language (core/filter_*.c).
 *
 *  1. Hand-written cases for every condition and each subtle rule of
 *     Qdrant's (is_empty / is_null on missing, null, [], [null]; match on a
 *     float; range on strings; values_count per value; arrays of arrays;
 *     nested within one element; empty should; min_should; key paths).
 *  2. A property test: 12,000 random filters over random payloads must give
 *     exactly the answers of tests/filter_reference.c, an independent
 *     evaluator working on the filter's cJSON.
 *  3. Bad filters: each gets QV_EINVAL and a message naming the offending
 *     part; a 10,000-level filter is refused without deep recursion.
 */
#include "core/filter.h"
#include "tests/filter_gen.h"
#include "tests/filter_reference.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evaluates filter text on payload text with integer id 7. */
static bool run(const char *filter, const char *payload)
{
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_filter *f = NULL;
    qv_status st =
        qvi_filter_parse_text(filter, strlen(filter), &f, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "filter %s refused: %s", filter, err);
    cJSON *p = cJSON_Parse(payload);
    ck_assert_msg(p != NULL, "bad test payload %s", payload);
    qv_point_id id = qv_id_from_num(7);
    bool r = qvi_filter_eval(f, p, &id);
    /* The oracle must agree on every hand-written case too. */
    cJSON *fj = cJSON_Parse(filter);
    ck_assert_msg(ref_filter_eval(fj, p, &id) == r,
                  "reference disagrees on %s over %s", filter, payload);
    cJSON_Delete(fj);
    cJSON_Delete(p);
    qvi_filter_free(f);
    return r;
}

#define YES(f, p) ck_assert_msg(run(f, p), "expected match: %s on %s", f, p)
#define NO(f, p)  ck_assert_msg(!run(f, p), "expected no match: %s on %s", f, p)

/* The filter must be refused with QV_EINVAL and a message containing
 * want. */
static void bad(const char *filter, const char *want)
{
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_filter *f = (qvi_filter *)1;
    qv_status st =
        qvi_filter_parse_text(filter, strlen(filter), &f, err, sizeof(err));
    ck_assert_msg(st == QV_EINVAL, "accepted bad filter %s", filter);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err,
                  want);
}

START_TEST(test_match)
{
    YES("{\"must\":{\"key\":\"c\",\"match\":{\"value\":\"red\"}}}",
        "{\"c\":\"red\"}");
    NO("{\"must\":{\"key\":\"c\",\"match\":{\"value\":\"red\"}}}",
       "{\"c\":\"Red\"}");
    YES("{\"must\":[{\"key\":\"c\",\"match\":{\"value\":\"red\"}}]}",
        "{\"c\":[\"blue\",\"red\"]}");
    /* arrays of arrays are not flattened */
    NO("{\"must\":[{\"key\":\"c\",\"match\":{\"value\":\"red\"}}]}",
       "{\"c\":[[\"red\"]]}");
    YES("{\"must\":[{\"key\":\"n\",\"match\":{\"value\":3}}]}", "{\"n\":3}");
    /* an integer never matches a float payload value */
    NO("{\"must\":[{\"key\":\"n\",\"match\":{\"value\":3}}]}", "{\"n\":3.5}");
    NO("{\"must\":[{\"key\":\"n\",\"match\":{\"value\":3}}]}", "{\"n\":\"3\"}");
    YES("{\"must\":[{\"key\":\"b\",\"match\":{\"value\":true}}]}",
        "{\"b\":true}");
    NO("{\"must\":[{\"key\":\"b\",\"match\":{\"value\":true}}]}", "{\"b\":1}");
    YES("{\"must\":[{\"key\":\"n\",\"match\":{\"any\":[1,2]}}]}",
        "{\"n\":[5,2]}");
    NO("{\"must\":[{\"key\":\"n\",\"match\":{\"any\":[1,2]}}]}", "{\"n\":1.5}");
    YES("{\"must\":[{\"key\":\"s\",\"match\":{\"any\":[\"a\",\"b\"]}}]}",
        "{\"s\":\"b\"}");
    NO("{\"must\":[{\"key\":\"s\",\"match\":{\"any\":[]}}]}", "{\"s\":\"b\"}");
    /* except: any non-null value outside the set */
    NO("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[\"a\"]}}]}",
       "{\"s\":\"a\"}");
    YES("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[\"a\"]}}]}",
        "{\"s\":[\"a\",\"b\"]}");
    YES("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[\"a\"]}}]}",
        "{\"s\":5}");
    YES("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[1]}}]}",
        "{\"s\":1.5}");
    YES("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[1]}}]}",
        "{\"s\":true}");
    NO("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[1]}}]}",
       "{\"s\":null}");
    NO("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[1]}}]}", "{}");
    NO("{\"must\":[{\"key\":\"s\",\"match\":{\"except\":[1]}}]}", "{\"s\":[]}");
    /* text: substring (Qdrant without a full-text index) */
    YES("{\"must\":[{\"key\":\"t\",\"match\":{\"text\":\"red ap\"}}]}",
        "{\"t\":\"a red apple\"}");
    NO("{\"must\":[{\"key\":\"t\",\"match\":{\"text\":\"apple red\"}}]}",
       "{\"t\":\"a red apple\"}");
    YES("{\"must\":[{\"key\":\"t\",\"match\":{\"phrase\":\"red apple\"}}]}",
        "{\"t\":\"a red apple\"}");
    YES("{\"must\":[{\"key\":\"t\",\"match\":{\"text_any\":\"pear ppl\"}}]}",
        "{\"t\":\"a red apple\"}");
    NO("{\"must\":[{\"key\":\"t\",\"match\":{\"text_any\":\"pear plum\"}}]}",
       "{\"t\":\"a red apple\"}");
    YES("{\"must\":[{\"key\":\"t\",\"match\":{\"prefix\":\"a r\"}}]}",
        "{\"t\":\"a red apple\"}");
    NO("{\"must\":[{\"key\":\"t\",\"match\":{\"prefix\":\"red\"}}]}",
       "{\"t\":\"a red apple\"}");
}
END_TEST

START_TEST(test_range)
{
    const char *r = "{\"must\":[{\"key\":\"x\",\"range\":{\"gt\":1,"
                    "\"lte\":2.5}}]}";
    NO(r, "{\"x\":1}");
    YES(r, "{\"x\":1.0001}");
    YES(r, "{\"x\":2.5}");
    NO(r, "{\"x\":2.6}");
    YES(r, "{\"x\":[0,2]}");
    NO(r, "{\"x\":\"2\"}"); /* range never matches strings */
    NO(r, "{}");
    YES("{\"must\":[{\"key\":\"x\",\"range\":{\"gte\":1,\"lt\":null}}]}",
        "{\"x\":1}");
    /* date-times */
    const char *d = "{\"must\":[{\"key\":\"d\",\"range\":{"
                    "\"gte\":\"2024-01-01T00:00:00Z\","
                    "\"lt\":\"2024-01-02\"}}]}";
    YES(d, "{\"d\":\"2024-01-01T00:00:00Z\"}");
    NO(d, "{\"d\":\"2023-12-31T23:59:59.999Z\"}");
    YES(d, "{\"d\":\"2024-01-01T23:59:59.999999\"}");
    NO(d, "{\"d\":\"2024-01-02T00:00:00+00:00\"}");
    /* 01:30 at +02:00 is 23:30 the previous day in UTC */
    NO(d, "{\"d\":\"2024-01-01T01:30:00+02:00\"}");
    NO(d, "{\"d\":\"2024-01-01T23:30:00-00:30\"}"); /* = 01-02 00:00Z */
    YES(d, "{\"d\":\"2024-01-01T23:00:00-00:30\"}");
    NO(d, "{\"d\":\"yesterday\"}");
    NO(d, "{\"d\":1704067200}");

    qvi_datetime a, b;
    ck_assert(qvi_datetime_parse("2024-02-29 10:11", 16, &a));
    ck_assert(qvi_datetime_parse("2024-02-29T10:11:00+0000", 24, &b));
    ck_assert_int_eq(a.sec, b.sec);
    ck_assert_int_eq(a.sec, 1709201460);
    ck_assert(qvi_datetime_parse("1970-01-01T00:00:00.5+01", 24, &a));
    ck_assert_int_eq(a.sec, -3600);
    ck_assert_int_eq(a.nsec, 500000000);
    ck_assert(!qvi_datetime_parse("2023-02-29", 10, &a));
    ck_assert(!qvi_datetime_parse("2024-01-01T10:11", 16, &a));
    ck_assert(!qvi_datetime_parse("2024-01-01T25:00:00", 19, &a));
    ck_assert(!qvi_datetime_parse("2024-01-01T10:00:00Zx", 21, &a));
}
END_TEST

START_TEST(test_empty_null_count)
{
    const char *ie = "{\"must\":[{\"is_empty\":{\"key\":\"a\"}}]}";
    YES(ie, "{}");
    YES(ie, "{\"a\":null}");
    YES(ie, "{\"a\":[]}");
    NO(ie, "{\"a\":[null]}");
    NO(ie, "{\"a\":0}");
    NO(ie, "{\"a\":{}}");
    const char *in = "{\"must\":[{\"is_null\":{\"key\":\"a\"}}]}";
    NO(in, "{}");
    YES(in, "{\"a\":null}");
    NO(in, "{\"a\":[null]}");
    NO(in, "{\"a\":[]}");
    YES("{\"must\":[{\"is_null\":{\"key\":\"a[].b\"}}]}",
        "{\"a\":[{\"b\":1},{\"b\":null}]}");
    /* the field-condition forms differ on arrays */
    const char *fe = "{\"must\":[{\"key\":\"a\",\"is_empty\":true}]}";
    YES(fe, "{}");
    YES(fe, "{\"a\":[]}");
    NO(fe, "{\"a\":[null]}");
    const char *fn = "{\"must\":[{\"key\":\"a\",\"is_null\":true}]}";
    NO(fn, "{}");
    YES(fn, "{\"a\":[1,null]}");
    YES("{\"must\":[{\"key\":\"a\",\"is_null\":false}]}", "{}");
    NO("{\"must\":[{\"key\":\"a\",\"is_empty\":false}]}", "{\"a\":null}");
    /* values_count counts each value at the key */
    const char *vc =
        "{\"must\":[{\"key\":\"a\",\"values_count\":{\"gte\":2}}]}";
    YES(vc, "{\"a\":[1,2]}");
    NO(vc, "{\"a\":[1]}");
    NO(vc, "{\"a\":\"xy\"}");
    YES("{\"must\":[{\"key\":\"a[].b\",\"values_count\":{\"gt\":1}}]}",
        "{\"a\":[{\"b\":[1,2]},{\"b\":3}]}");
    NO("{\"must\":[{\"key\":\"a[].b\",\"values_count\":{\"gt\":1}}]}",
       "{\"a\":[{\"b\":1},{\"b\":3}]}");
    YES("{\"must\":[{\"key\":\"a\",\"values_count\":{\"lt\":1}}]}",
        "{\"a\":null}");
    /* a missing key is not counted as 0 (Qdrant's check_empty) */
    NO("{\"must\":[{\"key\":\"a\",\"values_count\":{\"lt\":1}}]}", "{}");
}
END_TEST

START_TEST(test_paths_and_nested)
{
    YES("{\"must\":{\"key\":\"a.b\",\"match\":{\"value\":1}}}",
        "{\"a\":{\"b\":1}}");
    /* a key step does not reach through an array */
    NO("{\"must\":{\"key\":\"a.b\",\"match\":{\"value\":1}}}",
       "{\"a\":[{\"b\":1}]}");
    YES("{\"must\":{\"key\":\"a[].b\",\"match\":{\"value\":1}}}",
        "{\"a\":[{\"b\":2},{\"b\":1}]}");
    YES("{\"must\":{\"key\":\"a[1].b\",\"match\":{\"value\":1}}}",
        "{\"a\":[{\"b\":2},{\"b\":1}]}");
    NO("{\"must\":{\"key\":\"a[0].b\",\"match\":{\"value\":1}}}",
       "{\"a\":[{\"b\":2},{\"b\":1}]}");
    YES("{\"must\":{\"key\":\"a[][]\",\"match\":{\"value\":3}}}",
        "{\"a\":[[1],[2,3]]}");
    YES("{\"must\":{\"key\":\"\\\"x.y\\\".z\",\"match\":{\"value\":1}}}",
        "{\"x.y\":{\"z\":1}}");
    /* nested: both conditions within ONE element */
    const char *flat = "{\"must\":[{\"key\":\"d[].n\",\"match\":{\"value\":"
                       "\"a\"}},{\"key\":\"d[].v\",\"match\":{\"value\":1}}]}";
    const char *nest = "{\"must\":{\"nested\":{\"key\":\"d\",\"filter\":{"
                       "\"must\":[{\"key\":\"n\",\"match\":{\"value\":\"a\"}},"
                       "{\"key\":\"v\",\"match\":{\"value\":1}}]}}}}";
    const char *p = "{\"d\":[{\"n\":\"a\",\"v\":2},{\"n\":\"b\",\"v\":1}]}";
    YES(flat, p);
    NO(nest, p);
    YES(nest, "{\"d\":[{\"n\":\"b\",\"v\":1},{\"n\":\"a\",\"v\":1}]}");
    NO(nest, "{\"d\":{\"n\":\"a\",\"v\":1}}");
    /* has_id never holds inside nested */
    NO("{\"must\":{\"nested\":{\"key\":\"d\",\"filter\":{\"must\":"
       "{\"has_id\":[7]}}}}}",
       "{\"d\":[{}]}");
}
END_TEST

START_TEST(test_logic_and_ids)
{
    YES("{}", "{}");
    NO("{\"should\":[]}", "{}");
    YES("{\"must\":[]}", "{}");
    YES("{\"must_not\":[]}", "{}");
    YES("{\"should\":[{\"has_id\":[1,7]}]}", "{}");
    NO("{\"must_not\":{\"has_id\":[7]}}", "{}");
    NO("{\"must\":{\"has_id\":[8,\"67e55044-10b1-426f-9247-bb680e5fe0c8\"]}}",
       "{}");
    const char *ms = "{\"min_should\":{\"conditions\":[{\"has_id\":[7]},"
                     "{\"key\":\"a\",\"match\":{\"value\":1}},"
                     "{\"key\":\"b\",\"match\":{\"value\":1}}],"
                     "\"min_count\":2}}";
    NO(ms, "{}");
    YES(ms, "{\"b\":1}");
    YES("{\"must\":{\"must_not\":{\"should\":[{\"key\":\"a\",\"match\":{"
        "\"value\":1}}]}}}",
        "{\"a\":2}");

    /* UUID ids, has_vector through the callback, and slices */
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_filter *f;
    const char *t = "{\"must\":{\"has_id\":[\"67E55044-10B1-426F-9247-"
                    "BB680E5FE0C8\"]}}";
    ck_assert_int_eq(qvi_filter_parse_text(t, strlen(t), &f, err, 256), QV_OK);
    qv_point_id u, n = qv_id_from_num(1);
    ck_assert_int_eq(
        qv_id_parse_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8", &u), QV_OK);
    ck_assert(qvi_filter_eval(f, NULL, &u));
    ck_assert(!qvi_filter_eval(f, NULL, &n));
    ck_assert(!qvi_filter_eval(f, NULL, NULL));
    qvi_filter_free(f);
}
END_TEST

static bool vec_cb(void *ctx, const qv_point_id *id, const char *name)
{
    (void)ctx;
    return id->u.num == 1 && strcmp(name, "img") == 0;
}

START_TEST(test_vector_slice)
{
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_filter *f;
    const char *t = "{\"must\":{\"has_vector\":\"img\"}}";
    ck_assert_int_eq(qvi_filter_parse_text(t, strlen(t), &f, err, 256), QV_OK);
    qv_point_id a = qv_id_from_num(1), b = qv_id_from_num(2);
    qvi_filter_target tg = {&qvi_payload_cjson_ops, NULL, &a, vec_cb, NULL};
    ck_assert(qvi_filter_eval_target(f, &tg));
    tg.id = &b;
    ck_assert(!qvi_filter_eval_target(f, &tg));
    tg.has_vector = NULL;
    tg.id = &a;
    ck_assert(!qvi_filter_eval_target(f, &tg));
    qvi_filter_free(f);

    /* SipHash-2-4 reference vectors (key 00..0f, messages 00..len-1). */
    uint8_t key[16], msg[16];
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t)i;
    ck_assert_uint_eq(qvi_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    ck_assert_uint_eq(qvi_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);

    /* slices of total 3 partition the ids */
    qvi_filter *s[3];
    for (int i = 0; i < 3; i++) {
        char txt[96];
        snprintf(txt, sizeof(txt),
                 "{\"must\":{\"slice\":{\"total\":3,\"index\":%d}}}", i);
        ck_assert_int_eq(
            qvi_filter_parse_text(txt, strlen(txt), &s[i], err, 256), QV_OK);
    }
    int counts[3] = {0, 0, 0};
    for (uint64_t n = 0; n < 300; n++) {
        qv_point_id id = qv_id_from_num(n);
        int hits = 0;
        for (int i = 0; i < 3; i++)
            if (qvi_filter_eval(s[i], NULL, &id)) {
                hits++;
                counts[i]++;
            }
        ck_assert_int_eq(hits, 1);
    }
    for (int i = 0; i < 3; i++) {
        ck_assert_int_gt(counts[i], 60);
        qvi_filter_free(s[i]);
    }
}
END_TEST

START_TEST(test_geo)
{
    const char *berlin = "{\"g\":{\"lon\":13.404954,\"lat\":52.520008}}";
    YES("{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":{\"lon\":13.41,"
        "\"lat\":52.52},\"radius\":1000}}}",
        berlin);
    NO("{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":{\"lon\":13.41,"
       "\"lat\":52.52},\"radius\":300}}}",
       berlin);
    /* ~2.82 km between Berlin and Potsdamer Platz-ish offset */
    double d = qvi_haversine_m(52.520008, 13.404954, 52.509, 13.376);
    ck_assert(d > 2000 && d < 2500);
    YES("{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{"
        "\"lon\":13,\"lat\":53},\"bottom_right\":{\"lon\":14,\"lat\":52}}}}",
        berlin);
    NO("{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{"
       "\"lon\":14,\"lat\":53},\"bottom_right\":{\"lon\":15,\"lat\":52}}}}",
       berlin);
    /* antimeridian crossing */
    YES("{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{"
        "\"lon\":170,\"lat\":10},\"bottom_right\":{\"lon\":-170,\"lat\":-10}}"
        "}}",
        "{\"g\":{\"lon\":179,\"lat\":0}}");
    const char *poly = "{\"must\":{\"key\":\"g\",\"geo_polygon\":{"
                       "\"exterior\":{\"points\":[{\"lon\":0,\"lat\":0},"
                       "{\"lon\":10,\"lat\":0},{\"lon\":10,\"lat\":10},"
                       "{\"lon\":0,\"lat\":10},{\"lon\":0,\"lat\":0}]},"
                       "\"interiors\":[{\"points\":[{\"lon\":4,\"lat\":4},"
                       "{\"lon\":6,\"lat\":4},{\"lon\":6,\"lat\":6},"
                       "{\"lon\":4,\"lat\":6},{\"lon\":4,\"lat\":4}]}]}}}";
    YES(poly, "{\"g\":{\"lon\":2,\"lat\":2}}");
    NO(poly, "{\"g\":{\"lon\":5,\"lat\":5}}");
    NO(poly, "{\"g\":{\"lon\":4,\"lat\":5}}"); /* on a hole's edge */
    NO(poly, "{\"g\":{\"lon\":0,\"lat\":5}}"); /* on the boundary */
    NO(poly, "{\"g\":{\"lon\":11,\"lat\":5}}");
    YES(poly, "{\"g\":[{\"lon\":11,\"lat\":5},{\"lon\":1,\"lat\":1}]}");
    NO(poly, "{\"g\":{\"lon\":\"2\",\"lat\":2}}");
}
END_TEST

START_TEST(test_errors)
{
    bad("{\"must\":[{},{},{\"key\":\"a\",\"range\":{}}]}",
        "must[2].range: needs at least one of gt, gte, lt, lte");
    bad("{\"must\":{\"kye\":\"a\"}}", "must: unknown member \"kye\"");
    bad("{\"musts\":[]}", "filter: unknown member \"musts\"");
    bad("{\"should\":[{\"key\":\"a\"}]}", "should[0]: a field condition needs");
    bad("{\"must\":{\"key\":\"a\",\"match\":{\"value\":1.5}}}",
        "must.match.value: must be a string, an integer");
    bad("{\"must\":{\"key\":\"a\",\"match\":{\"any\":[1,\"x\"]}}}",
        "must.match.any: element 1");
    bad("{\"must\":{\"key\":\"a\",\"match\":{\"value\":1,\"any\":[1]}}}",
        "needs exactly one");
    bad("{\"must\":{\"key\":\"a\",\"range\":{\"gt\":1,\"lt\":\"2024-01-01\"}}"
        "}",
        "not a mix");
    bad("{\"must\":{\"key\":\"a\",\"range\":{\"gt\":\"soon\"}}}",
        "must.range.gt: \"soon\" is not a date-time");
    bad("{\"must\":{\"key\":\"a\",\"range\":{\"gt\":true}}}",
        "must.range.gt: must be a number");
    bad("{\"must\":{\"key\":\"a\",\"values_count\":{\"gt\":-1}}}",
        "values_count.gt: must be a non-negative integer");
    bad("{\"must\":{\"key\":\"a..b\",\"match\":{\"value\":1}}}",
        "must.key: key \"a..b\"");
    bad("{\"must\":{\"key\":\"a[x]\",\"match\":{\"value\":1}}}",
        "malformed [index]");
    bad("{\"must\":{\"key\":\"\",\"match\":{\"value\":1}}}", "is empty");
    bad("{\"must\":{\"key\":5,\"match\":{\"value\":1}}}",
        "must.key: must be a string");
    bad("{\"must\":{\"has_id\":[-1]}}", "must.has_id[0]: an id is");
    bad("{\"must\":{\"has_id\":[\"nope\"]}}", "is not a UUID");
    bad("{\"must\":{\"has_id\":[1],\"key\":\"a\"}}",
        "must: unknown member \"has_id\"");
    bad("{\"must\":{\"has_id\":[1],\"x\":1}}", "takes no other member");
    bad("{\"min_should\":{\"conditions\":[],\"min_count\":0}}",
        "min_should: min_count must be an integer >= 1");
    bad("{\"min_should\":{\"min_count\":1}}", "needs an array");
    bad("{\"must\":{\"nested\":{\"key\":\"d\"}}}", "must.nested.filter: is "
                                                   "missing");
    bad("{\"must\":{\"nested\":{\"key\":\"d\",\"filter\":{\"must\":{\"key\":"
        "\"x\",\"range\":{}}}}}}",
        "must.nested.filter.must.range: needs at least one");
    bad("{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":{\"lon\":200,"
        "\"lat\":0},\"radius\":1}}}",
        "must.geo_radius.center: lon 200 is outside");
    bad("{\"must\":{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":["
        "{\"lon\":0,\"lat\":0},{\"lon\":1,\"lat\":0},{\"lon\":1,\"lat\":1},"
        "{\"lon\":0,\"lat\":1}]}}}}",
        "must.geo_polygon.exterior: the first and last points");
    bad("{\"must\":{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":["
        "{\"lon\":0,\"lat\":0}]}}}}",
        "needs at least 4 points");
    bad("{\"must\":{\"slice\":{\"total\":2,\"index\":2}}}", "index must be");
    bad("{\"must\":5}", "must: must be a condition or an array");
    bad("{\"must\":[5]}", "must[0]: a condition must be an object");
    bad("[]", "filter: a filter must be an object");
    bad("{\"must\":{\"key\":\"a\",\"is_empty\":1}}", "must.is_empty: must be "
                                                     "a boolean");
    bad("{\"must\":{\"key\":\"a\",\"key\":\"b\",\"is_empty\":true}}",
        "duplicate member");
    bad("{\"must\":", "not valid JSON");
}
END_TEST

/* 10,000 levels: cJSON's text parser stops at 1000; a tree built in memory
 * is refused by our depth limit.  Neither may recurse without bound. */
START_TEST(test_deep)
{
    enum { LEVELS = 10000 };
    size_t cap = (size_t)LEVELS * 12 + 16, n = 0;
    char *txt = malloc(cap);
    ck_assert_ptr_nonnull(txt);
    for (int i = 0; i < LEVELS; i++)
        n += (size_t)sprintf(txt + n, "{\"must\":");
    n += (size_t)sprintf(txt + n, "{}");
    for (int i = 0; i < LEVELS; i++)
        txt[n++] = '}';
    txt[n] = '\0';
    bad(txt, "not valid JSON");
    free(txt);

    cJSON *root = cJSON_CreateObject(), *cur = root;
    for (int i = 0; i < LEVELS; i++) {
        cJSON *child = cJSON_CreateObject();
        cJSON_AddItemToObject(cur, "must", child);
        cur = child;
    }
    char err[QVI_FILTER_ERRMSG_CAP];
    qvi_filter *f = (qvi_filter *)1;
    ck_assert_int_eq(qvi_filter_parse(root, &f, err, sizeof(err)), QV_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err, "nest deeper than 64") != NULL, "%s", err);
    /* Exactly at the limit is fine. */
    cJSON *ok = cJSON_CreateObject();
    cur = ok;
    for (int i = 1; i < QVI_FILTER_MAX_DEPTH; i++) {
        cJSON *child = cJSON_CreateObject();
        cJSON_AddItemToObject(cur, "must", child);
        cur = child;
    }
    ck_assert_int_eq(qvi_filter_parse(ok, &f, err, sizeof(err)), QV_OK);
    ck_assert(qvi_filter_eval(f, NULL, NULL));
    qvi_filter_free(f);
    cJSON_Delete(ok);
    /* Free the deep tree without recursing 10,000 times. */
    while (root) {
        cJSON *next = cJSON_DetachItemFromObject(root, "must");
        cJSON_Delete(root);
        root = next;
    }
}
END_TEST

/* ---- property test ------------------------------------------------------- */

START_TEST(test_property)
{
    enum { FILTERS = 12000, PAYLOADS = 24 };
    cJSON *payloads[PAYLOADS];
    gen_seed(0x5eed);
    long agree_true = 0, total = 0;
    for (int it = 0; it < FILTERS; it++) {
        if (it % 500 == 0) {
            if (it)
                for (int i = 0; i < PAYLOADS; i++)
                    cJSON_Delete(payloads[i]);
            for (int i = 0; i < PAYLOADS; i++)
                payloads[i] = gen_value(3);
            for (int i = 0; i < PAYLOADS; i++)
                if (!cJSON_IsObject(payloads[i])) {
                    cJSON_Delete(payloads[i]);
                    payloads[i] = cJSON_CreateObject();
                    cJSON_AddItemToObject(payloads[i], gen_key(i % 4),
                                          gen_value(2));
                }
        }
        cJSON *fj = gen_filter(3);
        char err[QVI_FILTER_ERRMSG_CAP];
        qvi_filter *f;
        qv_status st = qvi_filter_parse(fj, &f, err, sizeof(err));
        if (st != QV_OK) {
            char *s = cJSON_PrintUnformatted(fj);
            ck_abort_msg("generated filter refused: %s (%s)", err, s);
        }
        for (int i = 0; i < PAYLOADS; i++) {
            qv_point_id id = qv_id_from_num((uint64_t)i % 5);
            bool want = ref_filter_eval(fj, payloads[i], &id);
            bool got = qvi_filter_eval(f, payloads[i], &id);
            if (want != got) {
                char *s = cJSON_PrintUnformatted(fj);
                char *p = cJSON_PrintUnformatted(payloads[i]);
                ck_abort_msg("filter %s on payload %s id %d: got %d, "
                             "reference %d",
                             s, p, i % 5, got, want);
            }
            agree_true += got;
            total++;
        }
        qvi_filter_free(f);
        cJSON_Delete(fj);
    }
    for (int i = 0; i < PAYLOADS; i++)
        cJSON_Delete(payloads[i]);
    /* The test is only meaningful if both outcomes are common. */
    ck_assert_int_gt(agree_true, total / 20);
    ck_assert_int_lt(agree_true, total - total / 20);
    printf("filter property test: %ld evaluations, %ld true\n", total,
           agree_true);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("filter");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_match);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_empty_null_count);
    tcase_add_test(tc, test_paths_and_nested);
    tcase_add_test(tc, test_logic_and_ids);
    tcase_add_test(tc, test_vector_slice);
    tcase_add_test(tc, test_geo);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_deep);
    tcase_add_test(tc, test_property);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
