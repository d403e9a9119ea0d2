/*
 * test_filter.c -- the Qdrant filter language (core/filter_*.c).
 *
 *  1. Hand-written cases for every condition and each subtle rule of
 *     Qdrant's (is_empty / is_null on missing, null, [], [null]; match on a
 *     float; range on strings; values_count per value; arrays of arrays;
 *     nested within one element; empty should; min_should; key paths).
 *  2. A property test: 12,000 random filters over random payloads must give
 *     exactly the answers of tests/filter_reference.c, an independent
 *     evaluator working on the filter's cJSON.  The same filters then run
 *     through collections (count, scroll, exact search) with payload
 *     indexes of every kind on the keys they name -- created before the
 *     data, after it, dropped and recreated -- while random writes change
 *     the payloads, and must give the reference's point sets exactly
 *     (with full-text semantics on the keys with a text index).
 *  3. Bad filters: each gets QV_EINVAL and a message naming the offending
 *     part; a 10,000-level filter is refused without deep recursion.
 */
#include "core/filter/filter.h"
#include "core/search/search.h"
#include "tests/filter_gen.h"
#include "tests/filter_reference.h"

#include "core/core.h"

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
    /* Qdrant 1.19 accepts "%Y-%m-%dT%H:%M" too (types.rs, issue #8718) */
    ck_assert(qvi_datetime_parse("2024-02-29T10:11", 16, &b));
    ck_assert_int_eq(b.sec, 1709201460);
    ck_assert(!qvi_datetime_parse("2024-01-01t10:11", 16, &a));
    ck_assert(!qvi_datetime_parse("2024-01-01T10:11Z", 17, &a));
    ck_assert(!qvi_datetime_parse("2024-01-01T10", 13, &a));
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
    /* a missing key counts 0 values (Qdrant 1.19: FieldCondition::
     * check_empty -> ValuesCount::check_empty, qdrant PR #9607 / issue
     * #9586), also under must_not, should, min_should and nested */
    const char *vc0 =
        "{\"must\":[{\"key\":\"a\",\"values_count\":{\"lt\":1}}]}";
    YES(vc0, "{}");
    YES(vc0, "{\"b\":[1,2]}");
    NO(vc0, "{\"a\":[1]}");
    YES("{\"must\":[{\"key\":\"a\",\"values_count\":{\"gte\":0}}]}", "{}");
    YES("{\"must\":[{\"key\":\"a\",\"values_count\":{\"lte\":0}}]}", "{}");
    NO("{\"must\":[{\"key\":\"a\",\"values_count\":{\"gte\":1}}]}", "{}");
    NO("{\"must_not\":[{\"key\":\"a\",\"values_count\":{\"lt\":1}}]}", "{}");
    YES("{\"must_not\":[{\"key\":\"a\",\"values_count\":{\"gt\":0}}]}", "{}");
    YES("{\"should\":[{\"key\":\"a\",\"values_count\":{\"lt\":1}}]}", "{}");
    YES("{\"min_should\":{\"conditions\":[{\"key\":\"a\",\"values_count\":"
        "{\"lt\":1}},{\"key\":\"b\",\"values_count\":{\"lte\":0}}],"
        "\"min_count\":2}}",
        "{}");
    const char *vcn =
        "{\"must\":[{\"nested\":{\"key\":\"n\",\"filter\":"
        "{\"must\":[{\"key\":\"t\",\"values_count\":{\"lt\":1}}]}}}]}";
    YES(vcn, "{\"n\":[{\"x\":1}]}");
    NO(vcn, "{\"n\":[{\"t\":1}]}");
    NO(vcn, "{}");
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
    qvi_filter_target tg = {
        .ops = &qvi_payload_cjson_ops, .id = &a, .has_vector = vec_cb};
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
    bad("{\"must\":{\"slice\":{\"total\":2,\"index\":-1}}}", "index must be");
    {
        /* index >= total is a range error (the server's 422, as Qdrant's
         * validator), not a malformed filter */
        const char *t = "{\"must\":{\"slice\":{\"total\":2,\"index\":2}}}";
        char err[QVI_FILTER_ERRMSG_CAP];
        qvi_filter *f = (qvi_filter *)1;
        ck_assert_int_eq(
            qvi_filter_parse_text(t, strlen(t), &f, err, sizeof(err)),
            QV_ERANGE);
        ck_assert_ptr_null(f);
        ck_assert_str_eq(err, "must.slice: index must be less than total");
    }
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

/* ---- the same filters through indexed collections -------------------- */

enum { IP = 64, IDIM = 2, ROUND = 500, N_IKEYS = 10, BURST = 200 };

/* Keys in the spellings the generator uses for filter keys. */
static const char *const IKEYS[N_IKEYS] = {
    "a", "b", "c", "d", "a[]", "b[0]", "c.d", "d[].a", "a[1].c", "b.a"};

typedef struct world {
    qv_collection *c[3]; /* no index; indexes before data; after data */
    cJSON *shadow[IP];   /* payload of point i, NULL when deleted */
    const char *text_keys[N_IKEYS];
    size_t n_text;
    qv_index_kind kinds[N_IKEYS];
} world;

static qv_collection *new_collection(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = IDIM;
    cfg.metric = QV_METRIC_EUCLID;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static void create_indexes(world *w, qv_collection *c)
{
    for (int k = 0; k < N_IKEYS; k++) {
        qv_status st = qv_payload_index_create(c, IKEYS[k], w->kinds[k]);
        ck_assert_msg(st == QV_OK, "index %s: %s", IKEYS[k], qv_strerror(st));
    }
}

/* A payload object (the generator makes any value), with sentences at
 * some top-level keys so that full-text conditions find tokens. */
static cJSON *gen_payload(int i)
{
    static const char *const sentences[] = {
        "red apple",
        "Apple PIE",
        "pie, red apple!",
        "Red-Apple pie",
        "apple",
        "550E8400-E29B-41D4-A716-446655440000",
        "550e8400-e29b-41d4-a716-446655440000"};
    cJSON *p = gen_value(3);
    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);
        p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, gen_key((unsigned)i % 4), gen_value(2));
    }
    for (unsigned k = 0; k < 4; k++) {
        if (gen_rnd(4))
            continue;
        cJSON *v;
        if (gen_rnd(2)) {
            v = cJSON_CreateString(sentences[gen_rnd(7)]);
        } else {
            v = cJSON_CreateArray();
            cJSON_AddItemToArray(v, cJSON_CreateString(sentences[gen_rnd(7)]));
            cJSON_AddItemToArray(v, cJSON_CreateString(sentences[gen_rnd(7)]));
        }
        cJSON_DeleteItemFromObjectCaseSensitive(p, gen_key(k));
        cJSON_AddItemToObject(p, gen_key(k), v);
    }
    return p;
}

/* Upserts points ids[0..n) with the given payloads into every collection
 * (and the shadow). */
static void put_points(world *w, const int *ids, cJSON **payloads, int n)
{
    qv_point_id pid[IP];
    float vec[IP * IDIM];
    char *text[IP];
    size_t len[IP];
    for (int i = 0; i < n; i++) {
        pid[i] = qv_id_from_num((uint64_t)ids[i]);
        vec[i * IDIM] = (float)ids[i];
        vec[i * IDIM + 1] = (float)(ids[i] % 7);
        text[i] = cJSON_PrintUnformatted(payloads[i]);
        len[i] = strlen(text[i]);
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(
            qv_upsert_with_payloads(w->c[k], pid, vec, (size_t)n, IDIM,
                                    (const char *const *)text, len),
            QV_OK);
    for (int i = 0; i < n; i++) {
        cJSON_Delete(w->shadow[ids[i]]);
        w->shadow[ids[i]] = payloads[i];
        free(text[i]);
    }
}

/* Re-reads point i's payload from the collections into the shadow (they
 * must agree): edits then need no second implementation in the test. */
static void resync(world *w, int i)
{
    qv_point_id id = qv_id_from_num((uint64_t)i);
    bool there;
    ck_assert_int_eq(qv_contains(w->c[0], &id, &there), QV_OK);
    cJSON_Delete(w->shadow[i]);
    w->shadow[i] = NULL;
    char *t[3];
    for (int k = 0; k < 3; k++) {
        bool here;
        ck_assert_int_eq(qv_contains(w->c[k], &id, &here), QV_OK);
        ck_assert(here == there);
        if (!there)
            continue;
        size_t len;
        ck_assert_int_eq(qv_payload_get(w->c[k], &id, NULL, &t[k], &len),
                         QV_OK);
    }
    if (!there)
        return;
    ck_assert_str_eq(t[0], t[1]);
    ck_assert_str_eq(t[0], t[2]);
    w->shadow[i] = cJSON_Parse(t[0]);
    for (int k = 0; k < 3; k++)
        qv_free(t[k]);
}

static const char *const EDIT_KEYS[] = {"a",    "b.c",    "a[].b", "c[]",
                                        "d[0]", "b[1].a", "a.a"};

/* One random write, applied to every collection alike. */
static void random_write(world *w)
{
    int i = (int)gen_rnd(IP);
    qv_point_id id = qv_id_from_num((uint64_t)i);
    uint32_t op = gen_rnd(8);
    if (!w->shadow[i] || op == 0) { /* (re)insert or replace */
        cJSON *p = gen_payload(i);
        put_points(w, &i, &p, 1);
        return;
    }
    char *text = NULL;
    cJSON *j = NULL;
    for (int k = 0; k < 3; k++) {
        qv_collection *c = w->c[k];
        switch (op) {
        case 1:
            if (!j) {
                j = gen_payload(i);
                text = cJSON_PrintUnformatted(j);
            }
            ck_assert_int_eq(qv_payload_overwrite(c, &id, text, strlen(text)),
                             QV_OK);
            break;
        case 2: {
            if (!j) {
                j = gen_payload(i);
                text = cJSON_PrintUnformatted(j);
            }
            static const char *const at[] = {NULL, "a", "b[0]", "c[]", "d.a"};
            const char *key = at[(unsigned)i % 5];
            ck_assert_int_eq(qv_payload_set(c, &id, text, strlen(text), key),
                             QV_OK);
            break;
        }
        case 3: {
            const char *keys[2] = {EDIT_KEYS[(unsigned)i % 7],
                                   EDIT_KEYS[(unsigned)(i / 7) % 7]};
            ck_assert_int_eq(qv_payload_delete_keys(c, &id, keys, 2), QV_OK);
            break;
        }
        case 4:
            ck_assert_int_eq(qv_payload_clear(c, &id), QV_OK);
            break;
        case 5:
            ck_assert_int_eq(qv_delete(c, &id), QV_OK);
            break;
        case 6: {
            float v[IDIM] = {1, 2}; /* vector only: payload kept */
            ck_assert_int_eq(qv_upsert(c, &id, v, IDIM), QV_OK);
            break;
        }
        default:
            break;
        }
    }
    cJSON_Delete(j);
    free(text);
    if (op == 7) { /* delete by filter */
        cJSON *fj = gen_filter(1);
        char *ft = cJSON_PrintUnformatted(fj);
        uint64_t del[3];
        /* Text semantics differ without indexes: the indexed collections
         * decide, and the unindexed one deletes what they deleted. */
        for (int k = 1; k < 3; k++) {
            qv_filter *f;
            ck_assert_int_eq(qv_filter_parse(ft, strlen(ft), &f, NULL, 0),
                             QV_OK);
            ck_assert_int_eq(qv_delete_filter(w->c[k], f, &del[k]), QV_OK);
            qv_filter_free(f);
        }
        ck_assert_uint_eq(del[1], del[2]);
        for (int p = 0; p < IP; p++) {
            qv_point_id pid = qv_id_from_num((uint64_t)p);
            bool here;
            qv_contains(w->c[1], &pid, &here);
            if (!here)
                qv_delete(w->c[0], &pid);
        }
        free(ft);
        cJSON_Delete(fj);
        for (int p = 0; p < IP; p++)
            resync(w, p);
        return;
    }
    resync(w, i);
}

/* The reference's matching ids over the shadow, ascending. */
static int expected(const world *w, const cJSON *fj, bool text, uint64_t *out)
{
    int n = 0;
    for (int i = 0; i < IP; i++) {
        if (!w->shadow[i])
            continue;
        qv_point_id id = qv_id_from_num((uint64_t)i);
        bool m = text ? ref_filter_eval_text(fj, w->shadow[i], &id,
                                             w->text_keys, w->n_text)
                      : ref_filter_eval(fj, w->shadow[i], &id);
        if (m)
            out[n++] = (uint64_t)i;
    }
    return n;
}

typedef struct istats {
    long indexed, exact, text_differs, matches;
} istats;

static void check_filter(world *w, const cJSON *fj, int it, istats *st)
{
    char *ft = cJSON_PrintUnformatted(fj);
    qv_filter *f;
    ck_assert_int_eq(qv_filter_parse(ft, strlen(ft), &f, NULL, 0), QV_OK);
    uint64_t want[2][IP];
    int nw[2] = {expected(w, fj, false, want[0]),
                 expected(w, fj, true, want[1])};
    st->matches += nw[1];
    st->text_differs +=
        nw[0] != nw[1] || memcmp(want[0], want[1], sizeof(uint64_t) * nw[0]);
    /* How the indexed collection answers (for the summary line). */
    qvi_candidates fq;
    ck_assert_int_eq(qvi_candidates_prepare_locked(w->c[1], qvi_filter_of(f),
                                                   QVI_CANDIDATES_ALWAYS, &fq),
                     QV_OK);
    st->indexed += fq.indexed;
    st->exact += fq.indexed && fq.exact;
    qvi_candidates_free(&fq);
    for (int k = 0; k < 3; k++) {
        int e = k ? 1 : 0;
        uint64_t n;
        ck_assert_int_eq(qv_count_filter(w->c[k], f, &n), QV_OK);
        ck_assert_msg(n == (uint64_t)nw[e],
                      "filter %d %s: collection %d counts %llu, reference %d",
                      it, ft, k, (unsigned long long)n, nw[e]);
        qv_point_id page[IP];
        size_t got;
        bool more;
        ck_assert_int_eq(
            qv_scroll(w->c[k], NULL, f, IP, page, &got, NULL, &more), QV_OK);
        ck_assert_uint_eq(got, (size_t)nw[e]);
        for (size_t i = 0; i < got; i++)
            ck_assert_msg(page[i].u.num == want[e][i],
                          "filter %d %s: collection %d scrolls %llu at %zu", it,
                          ft, k, (unsigned long long)page[i].u.num, i);
        if (it % 4 == k) {
            /* Exact search for every point: the hits are the matches. */
            qv_search_params sp;
            qv_search_params_init(&sp);
            sp.k = IP;
            sp.exact = true;
            sp.filter = f;
            qv_hit hits_out[IP];
            size_t nh;
            float q[IDIM] = {0, 0};
            ck_assert_int_eq(qv_search(w->c[k], q, IDIM, &sp, hits_out, &nh),
                             QV_OK);
            ck_assert_uint_eq(nh, (size_t)nw[e]);
            bool seen[IP] = {false};
            for (size_t i = 0; i < nh; i++)
                seen[hits_out[i].id.u.num] = true;
            for (int i = 0; i < nw[e]; i++)
                ck_assert(seen[want[e][i]]);
        }
    }
    qv_filter_free(f);
    free(ft);
}

static const char *const UUIDS[] = {"550e8400-e29b-41d4-a716-446655440000",
                                    "550E8400-E29B-41D4-A716-446655440000",
                                    "{550e8400-e29b-41d4-a716-446655440000}",
                                    "6ba7b810-9dad-11d1-80b4-00c04fd430c8"};

/* A condition on key of the sort an index of kind answers. */
static cJSON *cond_for(const char *key, qv_index_kind kind)
{
    static const char *const tkinds[] = {"text", "text_any", "phrase"};
    static const char *const qs[] = {
        "apple",     "red apple", "APPLE red", "pie", "Red-apple",    "x",
        "apple pie", "pie apple", "!!",        "",    "550e8400 e29b"};
    static const char *const words[] = {"x", "red apple", "apple", "y"};
    static const char *const dts[] = {"2024-01-01T00:00:00Z", "2023-12-31",
                                      "2024-01-01T12:30:00.25Z"};
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "key", key);
    cJSON *m, *r;
    switch (kind) {
    case QV_INDEX_TEXT:
        m = cJSON_AddObjectToObject(c, "match");
        cJSON_AddStringToObject(m, tkinds[gen_rnd(3)], qs[gen_rnd(11)]);
        break;
    case QV_INDEX_KEYWORD:
    case QV_INDEX_UUID:
        m = cJSON_AddObjectToObject(c, "match");
        if (gen_rnd(2)) {
            cJSON_AddStringToObject(
                m, "value", gen_rnd(2) ? UUIDS[gen_rnd(4)] : words[gen_rnd(4)]);
        } else {
            cJSON *l = cJSON_AddArrayToObject(m, "any");
            for (uint32_t i = gen_rnd(3); i > 0; i--)
                cJSON_AddItemToArray(l, cJSON_CreateString(UUIDS[gen_rnd(4)]));
        }
        break;
    case QV_INDEX_INTEGER:
    case QV_INDEX_FLOAT:
        if (gen_rnd(2)) {
            m = cJSON_AddObjectToObject(c, "match");
            cJSON_AddNumberToObject(m, "value", (double)gen_rnd(7) - 3);
        } else {
            r = cJSON_AddObjectToObject(c, "range");
            cJSON_AddNumberToObject(r, gen_rnd(2) ? "gt" : "gte",
                                    ((double)gen_rnd(9) - 4) / 2);
            if (gen_rnd(2))
                cJSON_AddNumberToObject(r, gen_rnd(2) ? "lt" : "lte",
                                        ((double)gen_rnd(9)) / 2);
        }
        break;
    case QV_INDEX_DATETIME:
        r = cJSON_AddObjectToObject(c, "range");
        cJSON_AddStringToObject(r, gen_rnd(2) ? "gt" : "lte", dts[gen_rnd(3)]);
        break;
    case QV_INDEX_BOOL:
        m = cJSON_AddObjectToObject(c, "match");
        cJSON_AddBoolToObject(m, "value", gen_rnd(2));
        break;
    default: {
        cJSON *g = cJSON_AddObjectToObject(c, "geo_radius");
        cJSON *ctr = cJSON_AddObjectToObject(g, "center");
        cJSON_AddNumberToObject(ctr, "lon", (double)gen_rnd(21) - 10);
        cJSON_AddNumberToObject(ctr, "lat", (double)gen_rnd(21) - 10);
        cJSON_AddNumberToObject(g, "radius", 100000.0 * (1 + gen_rnd(10)));
        break;
    }
    }
    return c;
}

/* One round: new payloads, a new assignment of index kinds to keys, the
 * filters checked before and after random writes. */
static void run_round(world *w, int round, int first, int count, istats *st)
{
    for (int k = 0; k < 3; k++) {
        qv_collection_release(w->c[k]);
        w->c[k] = new_collection();
    }
    for (int i = 0; i < IP; i++) {
        cJSON_Delete(w->shadow[i]);
        w->shadow[i] = NULL;
    }
    w->n_text = 0;
    for (int k = 0; k < N_IKEYS; k++) {
        w->kinds[k] = (qv_index_kind)((k + round) % QV_INDEX_KIND_COUNT);
        if (w->kinds[k] == QV_INDEX_TEXT)
            w->text_keys[w->n_text++] = IKEYS[k];
    }
    create_indexes(w, w->c[1]);
    int ids[IP];
    cJSON *pl[IP];
    for (int i = 0; i < IP; i++) {
        ids[i] = i;
        pl[i] = gen_payload(i);
    }
    put_points(w, ids, pl, IP);
    create_indexes(w, w->c[2]);
    for (int it = first; it < first + count; it++) {
        if (it - first == count / 2) {
            for (int u = 0; u < 48; u++)
                random_write(w);
            /* Drop one index and create it again, on one collection. */
            int k = round % N_IKEYS;
            ck_assert_int_eq(qv_payload_index_drop(w->c[1], IKEYS[k]), QV_OK);
            ck_assert_int_eq(qv_payload_index_drop(w->c[1], IKEYS[k]),
                             QV_ENOTFOUND);
            ck_assert_int_eq(
                qv_payload_index_create(w->c[1], IKEYS[k], w->kinds[k]), QV_OK);
        }
        cJSON *fj = gen_filter(3);
        check_filter(w, fj, it, st);
        cJSON_Delete(fj);
    }
    /* Conditions that an index answers are rare in random filters (the
     * key must be the indexed one, the condition fit its kind): a burst of
     * them, alone or beside a random filter. */
    for (int t = 0; t < BURST; t++) {
        cJSON *fj = cJSON_CreateObject();
        cJSON *must = cJSON_AddArrayToObject(fj, "must");
        int k = (int)gen_rnd(N_IKEYS);
        cJSON_AddItemToArray(must, cond_for(IKEYS[k], w->kinds[k]));
        if (gen_rnd(2))
            cJSON_AddItemToArray(must, gen_filter(1));
        check_filter(w, fj, first + count + t, st);
        cJSON_Delete(fj);
    }
}

START_TEST(test_property_indexed)
{
    enum { FILTERS = 12000 };
    world w = {0};
    istats st = {0};
    gen_seed(0x5eed);
    for (int r = 0; r * ROUND < FILTERS; r++)
        run_round(&w, r, r * ROUND, ROUND, &st);
    for (int k = 0; k < 3; k++)
        qv_collection_release(w.c[k]);
    for (int i = 0; i < IP; i++)
        cJSON_Delete(w.shadow[i]);
    printf("indexed property test: %d filters x 3 collections; %ld narrowed "
           "by indexes (%ld exactly), %ld where full-text semantics "
           "change the answer, %ld matches\n",
           FILTERS, st.indexed, st.exact, st.text_differs, st.matches);
    /* Meaningful only if the indexes and the text semantics are used. */
    ck_assert_int_gt(st.indexed, FILTERS / 10);
    ck_assert_int_gt(st.exact, FILTERS / 20);
    ck_assert_int_gt(st.text_differs, 50);
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
    tcase_add_test(tc, test_property_indexed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
