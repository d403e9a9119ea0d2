/*
 * test_payload.c -- the compact payload form (core/payload.c).
 *
 *  1. Layout: the bytes of a small payload, so a format change is seen.
 *  2. Round trips: encode -> decode and encode -> text -> parse give the
 *     payload back; integers stay integers, floats floats; duplicate keys
 *     keep the last value at the first position; encode(decode(b)) == b.
 *  3. Limits: depth, string, total size, non-object, NaN.
 *  4. JSON text: escaping; include / exclude paths, nested ones too.
 *  5. Edits: set_payload with and without key, delete_payload.
 *  6. Filters: qvi_filter_eval_target over the blob (qvi_payload_blob_ops)
 *     and over the cJSON tree give identical answers for 6,000 random
 *     filters x 24 random payloads (generators copied from test_filter.c).
 *  7. Fuzz: damaged blobs (flipped, truncated, extended, random) never
 *     crash validation; any blob validation accepts decodes, prints and
 *     walks without reading out of bounds (each blob sits in a buffer of
 *     exactly its size, so ASan sees any overread).
 *  8. Stored once: a point's payload written into a registry and 1 or 4
 *     per-vector collections (the server's named vectors) costs the same
 *     heap bytes in the blob pool (payload_pool.c); edits and deletes in
 *     one collection leave the others' payload intact; releasing the
 *     collections gives every byte back; four threads storing and
 *     dropping the same payloads in their own collections keep the
 *     pool's counts right.
 */
#include "core/core.h"
#include "core/filter/filter.h"
#include "core/payload/payload.h"

#include "tests/filter_gen.h"
#include <check.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *enc_text(const char *json, size_t *len)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    cJSON *j = cJSON_Parse(json);
    ck_assert_msg(j != NULL, "bad test JSON %s", json);
    uint8_t *b = NULL;
    qv_status st = qvi_payload_encode(j, &b, len, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "encode %s: %s", json, err);
    cJSON_Delete(j);
    ck_assert_int_eq(qvi_payload_validate(b, *len), QV_OK);
    return b;
}

/* The blob's JSON text with optional include / exclude lists. */
static char *text_of(const uint8_t *b, size_t len, const char *const *inc,
                     size_t ni, const char *const *exc, size_t ne)
{
    char *t = NULL;
    size_t tl = 0;
    ck_assert_int_eq(qvi_payload_to_json(b, len, inc, ni, exc, ne, &t, &tl),
                     QV_OK);
    ck_assert_uint_eq(strlen(t), tl);
    return t;
}

static void expect_text(const char *json, const char *const *inc, size_t ni,
                        const char *const *exc, size_t ne, const char *want)
{
    size_t len;
    uint8_t *b = enc_text(json, &len);
    char *t = text_of(b, len, inc, ni, exc, ne);
    ck_assert_msg(strcmp(t, want) == 0, "%s: got %s, want %s", json, t, want);
    free(t);
    free(b);
}

/* Equal trees with members in the same order.  (cJSON_Compare walks each
 * object both ways, which is exponential in the nesting depth.) */
static bool same_json(const cJSON *a, const cJSON *b)
{
    char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
    ck_assert(x && y);
    bool r = strcmp(x, y) == 0;
    free(x);
    free(y);
    return r;
}

/* Checks every property a payload must keep through the blob. */
static void check_roundtrip(const cJSON *j)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    uint8_t *b = NULL, *b2 = NULL;
    size_t len = 0, len2 = 0;
    ck_assert_int_eq(qvi_payload_encode(j, &b, &len, err, sizeof(err)), QV_OK);
    ck_assert_int_eq(qvi_payload_validate(b, len), QV_OK);
    cJSON *d = qvi_payload_decode(b, len);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(same_json(j, d), "decode differs");
    char *t = text_of(b, len, NULL, 0, NULL, 0);
    cJSON *p = cJSON_Parse(t);
    ck_assert_msg(p && same_json(j, p), "text differs: %s", t);
    /* canonical: re-encoding the decoded tree gives the same bytes */
    ck_assert_int_eq(qvi_payload_encode(d, &b2, &len2, err, sizeof(err)),
                     QV_OK);
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(b, b2, len) == 0);
    cJSON_Delete(p);
    cJSON_Delete(d);
    free(t);
    free(b);
    free(b2);
}

/* ---- 1. layout ----------------------------------------------------------- */

START_TEST(test_layout)
{
    size_t len;
    uint8_t *b = enc_text("{\"a\":1,\"s\":\"hi\"}", &len);
    static const uint8_t want[] = {
        7, 26, 0, 0, 0,   2,   0,   0, 0, /* object: size 26, 2 members */
        1, 0,  0, 0, 'a',                 /* key "a" */
        3, 1,  0, 0, 0,   0,   0,   0, 0, /* int 1 */
        1, 0,  0, 0, 's',                 /* key "s" */
        5, 2,  0, 0, 0,   'h', 'i',       /* string "hi" */
    };
    ck_assert_uint_eq(len, sizeof(want) - 0);
    ck_assert(memcmp(b, want, len) == 0);
    free(b);
    b = enc_text("{}", &len);
    ck_assert_uint_eq(len, 9);
    char *t = text_of(b, len, NULL, 0, NULL, 0);
    ck_assert_str_eq(t, "{}");
    free(t);
    free(b);
}
END_TEST

/* ---- 2. round trips ------------------------------------------------------ */

START_TEST(test_roundtrip)
{
    static const char *const cases[] = {
        "{}",
        "{\"a\":null,\"b\":true,\"c\":false}",
        "{\"i\":-3,\"f\":2.5,\"big\":1e300,\"tiny\":-1.5e-300,\"e\":0}",
        "{\"m\":9007199254740992,\"n\":-9007199254740992,"
        "\"o\":9007199254740994,\"p\":0.1,\"q\":123456789.123}",
        "{\"s\":\"\",\"t\":\"q\\\"uote\\\\back\\n\\t\\u0001\\u001f\","
        "\"u\":\"caf\\u00e9 \\u65e5\\u672c \\ud83d\\ude00\"}",
        "{\"arr\":[1,[2,[3,[]]],{\"x\":{}},\"s\",null],\"o\":{\"p\":{\"q\":"
        "[true]}}}",
        "{\"\":1,\"key with spaces\":\"v\",\"a.b\":2}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *j = cJSON_Parse(cases[i]);
        ck_assert_ptr_nonnull(j);
        check_roundtrip(j);
        cJSON_Delete(j);
    }
    /* integers and floats stay apart through the filter interface */
    size_t len;
    uint8_t *b =
        enc_text("{\"i\":3,\"f\":3.5,\"g\":3.0,\"h\":1e16,\"k\":-0.0}", &len);
    const qvi_payload_ops *ops = &qvi_payload_blob_ops;
    int64_t n;
    qvi_pval v = ops->get(b, "i", 1);
    ck_assert(ops->type(v) == QVI_PT_NUMBER && ops->integer(v, &n) && n == 3);
    v = ops->get(b, "f", 1);
    ck_assert(ops->type(v) == QVI_PT_NUMBER && !ops->integer(v, &n));
    ck_assert(ops->number(v) == 3.5);
    v = ops->get(b, "g", 1); /* cJSON cannot tell 3.0 from 3 */
    ck_assert(ops->integer(v, &n) && n == 3);
    v = ops->get(b, "h", 1); /* beyond 2^53: a double */
    ck_assert(!ops->integer(v, &n) && ops->number(v) == 1e16);
    v = ops->get(b, "k", 1);
    ck_assert(ops->integer(v, &n) && n == 0);
    ck_assert_ptr_null(ops->get(b, "x", 1));
    ck_assert_ptr_null(ops->get(b, "ii", 2));
    free(b);
}
END_TEST

START_TEST(test_duplicates)
{
    /* last value wins, at the first position */
    expect_text("{\"a\":1,\"b\":2,\"a\":3}", NULL, 0, NULL, 0,
                "{\"a\":3,\"b\":2}");
    expect_text("{\"o\":{\"x\":1,\"x\":{\"y\":2},\"z\":0}}", NULL, 0, NULL, 0,
                "{\"o\":{\"x\":{\"y\":2},\"z\":0}}");
    /* the sorted path for large objects: 40 keys, each written 3 times */
    cJSON *j = cJSON_CreateObject();
    cJSON *want = cJSON_CreateObject();
    char k[16];
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 40; i++) {
            snprintf(k, sizeof(k), "k%d", (i * 7) % 40);
            cJSON_AddItemToObject(j, k, cJSON_CreateNumber(r * 100 + i));
            if (r == 0)
                cJSON_AddItemToObject(want, k, cJSON_CreateNumber(0));
        }
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", (i * 7) % 40);
        cJSON_ReplaceItemInObjectCaseSensitive(want, k,
                                               cJSON_CreateNumber(200 + i));
    }
    uint8_t *b;
    size_t len;
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    ck_assert_int_eq(qvi_payload_encode(j, &b, &len, err, sizeof(err)), QV_OK);
    cJSON *d = qvi_payload_decode(b, len);
    ck_assert(cJSON_Compare(d, want, true));
    ck_assert_int_eq(cJSON_GetArraySize(d), 40);
    /* same order of keys as the first occurrences */
    const cJSON *x = d->child, *y = want->child;
    for (; x && y; x = x->next, y = y->next)
        ck_assert_str_eq(x->string, y->string);
    cJSON_Delete(d);
    cJSON_Delete(j);
    cJSON_Delete(want);
    free(b);
}
END_TEST

/* ---- 3. limits ----------------------------------------------------------- */

static qv_status enc_status(const cJSON *j, char *err, size_t cap)
{
    uint8_t *b = (uint8_t *)1;
    size_t len = 99;
    qv_status st = qvi_payload_encode(j, &b, &len, err, cap);
    if (st != QV_OK) {
        ck_assert_ptr_null(b);
        ck_assert_uint_eq(len, 0);
    }
    free(b);
    return st;
}

static cJSON *nested(int levels)
{
    cJSON *root = cJSON_CreateObject(), *cur = root;
    for (int i = 1; i < levels; i++) {
        cJSON *n = i % 2 ? cJSON_CreateArray() : cJSON_CreateObject();
        if (cJSON_IsArray(cur))
            cJSON_AddItemToArray(cur, n);
        else
            cJSON_AddItemToObject(cur, "k", n);
        cur = n;
    }
    return root;
}

START_TEST(test_limits)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    cJSON *j = nested(QVI_PAYLOAD_MAX_DEPTH);
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_OK);
    check_roundtrip(j);
    cJSON_Delete(j);
    j = nested(QVI_PAYLOAD_MAX_DEPTH + 1);
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_EINVAL);
    ck_assert_msg(strstr(err, "deeper") != NULL, "%s", err);
    cJSON_Delete(j);

    j = cJSON_CreateArray();
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_EINVAL);
    ck_assert_msg(strstr(err, "object") != NULL, "%s", err);
    cJSON_Delete(j);
    ck_assert_int_eq(enc_status(NULL, err, sizeof(err)), QV_ENULL);

    j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "x", NAN);
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_EINVAL);
    cJSON_Delete(j);

    /* a string one byte over the limit */
    size_t n = QVI_PAYLOAD_MAX_STRING + 1;
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, 'x', n);
    s[n] = '\0';
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "s", s);
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_ERANGE);
    ck_assert_msg(strstr(err, "string") != NULL, "%s", err);
    cJSON_Delete(j);
    /* five strings at the limit exceed the total size */
    s[n - 1] = '\0';
    j = cJSON_CreateObject();
    for (int i = 0; i < 5; i++) {
        char k[4] = {'k', (char)('0' + i), 0, 0};
        cJSON_AddStringToObject(j, k, s);
    }
    ck_assert_int_eq(enc_status(j, err, sizeof(err)), QV_ERANGE);
    ck_assert_msg(strstr(err, "exceeds") != NULL, "%s", err);
    cJSON_Delete(j);
    free(s);
    /* errcap 0 and err NULL are fine */
    j = cJSON_CreateArray();
    ck_assert_int_eq(enc_status(j, NULL, 0), QV_EINVAL);
    cJSON_Delete(j);
}
END_TEST

/* ---- 4. JSON text -------------------------------------------------------- */

START_TEST(test_text)
{
    expect_text("{\"s\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\"}", NULL,
                0, NULL, 0,
                "{\"s\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\"}");
    expect_text("{\"n\":[1,-2,0.5,1e300,9007199254740993]}", NULL, 0, NULL, 0,
                "{\"n\":[1,-2,0.5,1e300,9007199254740992]}");

    const char *p = "{\"a\":{\"b\":1,\"c\":{\"d\":2,\"e\":3}},\"f\":\"x\","
                    "\"g\":[{\"b\":1}],\"a.b\":7}";
    const char *inc1[] = {"a.b"};
    expect_text(p, inc1, 1, NULL, 0, "{\"a\":{\"b\":1}}");
    const char *inc2[] = {"f", "a.c.e"};
    expect_text(p, inc2, 2, NULL, 0, "{\"a\":{\"c\":{\"e\":3}},\"f\":\"x\"}");
    /* Qdrant's value_filter: a path that stops short keeps the value
     * whole ("f.x" keeps f), one that names a missing member keeps its
     * parent empty, and a key step never enters an array ("g.b"). */
    const char *inc3[] = {"a.z", "f.x", "g.b", "nope"};
    expect_text(p, inc3, 4, NULL, 0, "{\"a\":{},\"f\":\"x\",\"g\":[]}");
    /* [] in paths: elements are reached by [], never by [n]. */
    const char *inc7[] = {"g[].b"};
    expect_text(p, inc7, 1, NULL, 0, "{\"g\":[{\"b\":1}]}");
    const char *inc8[] = {"g[0]"};
    expect_text(p, inc8, 1, NULL, 0, "{\"g\":[]}");
    const char *inc9[] = {"g[]"};
    expect_text(p, inc9, 1, NULL, 0, "{\"g\":[{\"b\":1}]}");
    const char *exc4[] = {"g[].b"};
    expect_text(p, NULL, 0, exc4, 1,
                "{\"a\":{\"b\":1,\"c\":{\"d\":2,\"e\":3}},\"f\":\"x\","
                "\"g\":[{}],\"a.b\":7}");
    const char *exc5[] = {"g[]", "a.c"};
    expect_text(p, NULL, 0, exc5, 2,
                "{\"a\":{\"b\":1},\"f\":\"x\",\"g\":[],\"a.b\":7}");
    const char *exc6[] = {"g[0]"};
    expect_text(p, NULL, 0, exc6, 1, p);
    expect_text("{\"m\":[[1,{\"x\":1,\"y\":2}],3]}", inc7, 0,
                (const char *[]){"m[][].x"}, 1, "{\"m\":[[1,{\"y\":2}],3]}");
    const char *inc4[] = {"\"a.b\""};
    expect_text(p, inc4, 1, NULL, 0, "{\"a.b\":7}");
    const char *inc5[] = {"a", "a.b"};
    expect_text(p, inc5, 2, NULL, 0,
                "{\"a\":{\"b\":1,\"c\":{\"d\":2,\"e\":3}}}");
    const char *exc1[] = {"a.c.d", "g", "zz"};
    expect_text(p, NULL, 0, exc1, 3,
                "{\"a\":{\"b\":1,\"c\":{\"e\":3}},\"f\":\"x\",\"a.b\":7}");
    const char *exc2[] = {"a.b", "a.c"};
    expect_text(p, NULL, 0, exc2, 2,
                "{\"a\":{},\"f\":\"x\",\"g\":[{\"b\":1}],\"a.b\":7}");
    const char *inc6[] = {"a"};
    const char *exc3[] = {"a.c"};
    expect_text(p, inc6, 1, exc3, 1, "{\"a\":{\"b\":1}}");

    size_t len;
    uint8_t *b = enc_text(p, &len);
    char *t = (char *)1;
    size_t tl = 5;
    const char *bad[] = {"a["};
    ck_assert_int_eq(qvi_payload_to_json(b, len, bad, 1, NULL, 0, &t, &tl),
                     QV_EINVAL);
    ck_assert_ptr_null(t);
    const char *bad2[] = {"a..b"};
    ck_assert_int_eq(qvi_payload_to_json(b, len, NULL, 0, bad2, 1, &t, &tl),
                     QV_EINVAL);
    ck_assert_int_eq(qvi_payload_to_json(b, len - 1, NULL, 0, NULL, 0, &t, &tl),
                     QV_ECORRUPT);
    ck_assert_int_eq(qvi_payload_to_json(NULL, len, NULL, 0, NULL, 0, &t, &tl),
                     QV_ENULL);
    free(b);
}
END_TEST

/* ---- 5. edits ------------------------------------------------------------ */

static void expect_merge(const char *old, const char *set, const char *key,
                         const char *want)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    size_t len = 0, nlen;
    uint8_t *b = old ? enc_text(old, &len) : NULL, *nb;
    cJSON *sj = cJSON_Parse(set);
    qv_status st =
        qvi_payload_merge(b, len, sj, key, &nb, &nlen, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "merge: %s", err);
    ck_assert_int_eq(qvi_payload_validate(nb, nlen), QV_OK);
    char *t = text_of(nb, nlen, NULL, 0, NULL, 0);
    ck_assert_msg(strcmp(t, want) == 0, "merge %s into %s at %s: got %s", set,
                  old ? old : "(none)", key ? key : "(root)", t);
    free(t);
    free(nb);
    free(b);
    cJSON_Delete(sj);
}

static void expect_delete(const char *old, const char *const *keys, size_t n,
                          const char *want)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    size_t len, nlen;
    uint8_t *b = enc_text(old, &len), *nb;
    qv_status st =
        qvi_payload_delete_keys(b, len, keys, n, &nb, &nlen, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "delete: %s", err);
    char *t = text_of(nb, nlen, NULL, 0, NULL, 0);
    ck_assert_msg(strcmp(t, want) == 0, "delete from %s: got %s", old, t);
    free(t);
    free(nb);
    free(b);
}

START_TEST(test_edits)
{
    const char *old = "{\"a\":1,\"p\":{\"x\":1,\"y\":2},\"s\":\"v\"}";
    expect_merge(old, "{\"a\":2,\"n\":true}", NULL,
                 "{\"a\":2,\"p\":{\"x\":1,\"y\":2},\"s\":\"v\",\"n\":true}");
    /* top-level keys replace whole values: no deep merge */
    expect_merge(old, "{\"p\":{\"z\":3}}", NULL,
                 "{\"a\":1,\"p\":{\"z\":3},\"s\":\"v\"}");
    /* with key: merge into the nested object (Qdrant's example) */
    expect_merge(old, "{\"x\":9,\"z\":3}", "p",
                 "{\"a\":1,\"p\":{\"x\":9,\"y\":2,\"z\":3},\"s\":\"v\"}");
    expect_merge(old, "{\"r\":0}", "q.w",
                 "{\"a\":1,\"p\":{\"x\":1,\"y\":2},\"s\":\"v\","
                 "\"q\":{\"w\":{\"r\":0}}}");
    expect_merge(old, "{\"r\":0}", "a", /* a non-object is replaced */
                 "{\"a\":{\"r\":0},\"p\":{\"x\":1,\"y\":2},\"s\":\"v\"}");
    expect_merge(NULL, "{\"k\":[1]}", NULL, "{\"k\":[1]}");
    expect_merge(NULL, "{\"k\":1}", "a.b", "{\"a\":{\"b\":{\"k\":1}}}");
    expect_merge("{\"a\":1}", "{}", NULL, "{\"a\":1}");

    const char *k1[] = {"a", "p.x", "missing", "p.y.z", "s.t"};
    expect_delete(old, k1, 5, "{\"p\":{\"y\":2},\"s\":\"v\"}");
    const char *k2[] = {"p"};
    expect_delete(old, k2, 1, "{\"a\":1,\"s\":\"v\"}");
    expect_delete(old, NULL, 0, old);

    /* Key paths through arrays, as Qdrant's set_payload / delete_payload:
     * [n] steps into one element, [] into each; a step onto a value of the
     * wrong type replaces it by the container it needs. */
    const char *arr2 = "{\"a\":[{\"x\":1},2]}";
    expect_merge(arr2, "{\"y\":1}", "a[0]", "{\"a\":[{\"x\":1,\"y\":1},2]}");
    expect_merge(arr2, "{\"y\":1}", "a[1]", "{\"a\":[{\"x\":1},{\"y\":1}]}");
    expect_merge(arr2, "{\"y\":1}", "a[5]", arr2);
    expect_merge(arr2, "{\"y\":1}", "a[].b",
                 "{\"a\":[{\"x\":1,\"b\":{\"y\":1}},{\"b\":{\"y\":1}}]}");
    expect_merge(arr2, "{\"y\":1}", "q[0].b", "{\"a\":[{\"x\":1},2],\"q\":[]}");
    expect_merge("{\"a\":3}", "{\"y\":1}", "a[]", "{\"a\":[]}");
    expect_merge(old, "{\"y\":1}", "a[0]",
                 "{\"a\":[],\"p\":{\"x\":1,\"y\":2},\"s\":\"v\"}");
    const char *nest = "{\"a\":[{\"b\":1,\"c\":2},{\"b\":3},5]}";
    const char *d1[] = {"a[].b"};
    expect_delete(nest, d1, 1, "{\"a\":[{\"c\":2},{},5]}");
    const char *d2[] = {"a[0]"};
    expect_delete(nest, d2, 1, nest); /* Qdrant never deletes by position */
    const char *d3[] = {"a[0].c"};
    expect_delete(nest, d3, 1, "{\"a\":[{\"b\":1},{\"b\":3},5]}");
    const char *d4[] = {"a[]"};
    expect_delete(nest, d4, 1, "{\"a\":[]}");
    const char *d5[] = {"a.b", "a[9].b"};
    expect_delete(nest, d5, 2, nest);

    /* errors leave nothing behind */
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    size_t len, nlen = 7;
    uint8_t *b = enc_text(old, &len), *nb = (uint8_t *)1;
    cJSON *arr = cJSON_CreateArray();
    ck_assert_int_eq(
        qvi_payload_merge(b, len, arr, NULL, &nb, &nlen, err, sizeof(err)),
        QV_EINVAL);
    ck_assert_ptr_null(nb);
    ck_assert_uint_eq(nlen, 0);
    cJSON *obj = cJSON_CreateObject();
    ck_assert_int_eq(
        qvi_payload_merge(b, len, obj, "a[x]", &nb, &nlen, err, sizeof(err)),
        QV_EINVAL);
    ck_assert_int_eq(
        qvi_payload_merge(b, len - 1, obj, NULL, &nb, &nlen, err, sizeof(err)),
        QV_ECORRUPT);
    /* a merge that nests too deep is refused */
    cJSON *deep = nested(QVI_PAYLOAD_MAX_DEPTH);
    ck_assert_int_eq(
        qvi_payload_merge(b, len, deep, "p", &nb, &nlen, err, sizeof(err)),
        QV_EINVAL);
    const char *bad[] = {"p[]x"};
    ck_assert_int_eq(
        qvi_payload_delete_keys(b, len, bad, 1, &nb, &nlen, err, sizeof(err)),
        QV_EINVAL);
    ck_assert_ptr_null(nb);
    cJSON_Delete(deep);
    cJSON_Delete(arr);
    cJSON_Delete(obj);
    free(b);
}
END_TEST

/* ---- 6. filters over cJSON and over the blob ------------------------------
 */

START_TEST(test_filter_equivalence)
{
    enum { FILTERS = 6000, PAYLOADS = 24 };
    cJSON *payloads[PAYLOADS];
    uint8_t *blobs[PAYLOADS];
    size_t lens[PAYLOADS];
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    gen_seed(0xb10b);
    long n_true = 0, total = 0;
    for (int it = 0; it < FILTERS; it++) {
        if (it % 250 == 0) {
            if (it)
                for (int i = 0; i < PAYLOADS; i++) {
                    cJSON_Delete(payloads[i]);
                    free(blobs[i]);
                }
            for (int i = 0; i < PAYLOADS; i++) {
                payloads[i] = gen_value(3);
                if (!cJSON_IsObject(payloads[i])) {
                    cJSON_Delete(payloads[i]);
                    payloads[i] = cJSON_CreateObject();
                    cJSON_AddItemToObject(payloads[i], gen_key(i % 4),
                                          gen_value(2));
                }
                ck_assert_int_eq(qvi_payload_encode(payloads[i], &blobs[i],
                                                    &lens[i], err, sizeof(err)),
                                 QV_OK);
                check_roundtrip(payloads[i]);
            }
        }
        cJSON *fj = gen_filter(3);
        qvi_filter *f;
        ck_assert_int_eq(qvi_filter_parse(fj, &f, err, sizeof(err)), QV_OK);
        for (int i = 0; i < PAYLOADS; i++) {
            qv_point_id id = qv_id_from_num((uint64_t)i % 5);
            qvi_filter_target tc = {.ops = &qvi_payload_cjson_ops,
                                    .payload = payloads[i],
                                    .id = &id};
            qvi_filter_target tb = {
                .ops = &qvi_payload_blob_ops, .payload = blobs[i], .id = &id};
            bool want = qvi_filter_eval_target(f, &tc);
            bool got = qvi_filter_eval_target(f, &tb);
            if (want != got) {
                char *s = cJSON_PrintUnformatted(fj);
                char *p = cJSON_PrintUnformatted(payloads[i]);
                ck_abort_msg("filter %s on %s: blob %d, cJSON %d", s, p, got,
                             want);
            }
            n_true += got;
            total++;
        }
        qvi_filter_free(f);
        cJSON_Delete(fj);
    }
    for (int i = 0; i < PAYLOADS; i++) {
        cJSON_Delete(payloads[i]);
        free(blobs[i]);
    }
    ck_assert_int_gt(n_true, total / 20);
    ck_assert_int_lt(n_true, total - total / 20);
    printf("payload filter equivalence: %ld evaluations, %ld true\n", total,
           n_true);
}
END_TEST

/* ---- 7. fuzz ------------------------------------------------------------- */

/* Reads every value reachable through the ops (arrays fully; objects
 * through the generator's keys). */
static size_t walk(const qvi_payload_ops *ops, qvi_pval v, int depth)
{
    static const char *const keys[] = {"a", "b", "c", "d", "lon", "lat", "s"};
    size_t sum = 1, len;
    int64_t n;
    const char *s;
    switch (ops->type(v)) {
    case QVI_PT_BOOL:
        sum += ops->boolean(v);
        break;
    case QVI_PT_NUMBER:
        sum += ops->integer(v, &n) ? 1 : 0;
        sum += ops->number(v) > 0;
        break;
    case QVI_PT_STRING:
        s = ops->string(v, &len);
        for (size_t i = 0; i < len; i++)
            sum += (unsigned char)s[i];
        break;
    case QVI_PT_ARRAY:
        for (qvi_pval x = ops->first(v); x; x = ops->next(v, x))
            sum += walk(ops, x, depth + 1);
        break;
    case QVI_PT_OBJECT:
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            qvi_pval x = ops->get(v, keys[i], strlen(keys[i]));
            if (x)
                sum += walk(ops, x, depth + 1);
        }
        break;
    default:
        break;
    }
    ck_assert_int_le(depth, QVI_PAYLOAD_MAX_DEPTH);
    return sum;
}

/* A richer payload than the filter test's: escapes, big numbers, deep
 * arrays, "s" strings with NUL-free random bytes. */
static cJSON *fuzz_value(int depth)
{
    switch (gen_rnd(depth > 0 ? 9 : 6)) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(gen_rnd(2));
    case 2:
        return cJSON_CreateNumber((double)gen_rnd(1000000) * 1e10 - 3e15);
    case 3:
        return cJSON_CreateNumber((double)gen_rnd(1000) / 7.0);
    case 4:
    case 5: {
        char s[24];
        size_t n = gen_rnd(sizeof(s));
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(1 + gen_rnd(255));
        s[n] = '\0';
        return cJSON_CreateString(s);
    }
    case 6:
    case 7: {
        cJSON *a = cJSON_CreateArray();
        for (uint32_t i = gen_rnd(5); i > 0; i--)
            cJSON_AddItemToArray(a, fuzz_value(depth - 1));
        return a;
    }
    default: {
        static const char *const keys[] = {"a", "b", "c", "d", "s"};
        cJSON *o = cJSON_CreateObject();
        for (uint32_t i = gen_rnd(5); i > 0; i--)
            cJSON_AddItemToObject(o, keys[gen_rnd(5)], fuzz_value(depth - 1));
        return o;
    }
    }
}

/* Checks one candidate blob, held in a buffer of exactly len bytes. */
static bool fuzz_one(const uint8_t *src, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, src, len);
    qv_status st = qvi_payload_validate(b, len);
    ck_assert(st == QV_OK || st == QV_ECORRUPT);
    if (st == QV_OK) {
        cJSON *d = qvi_payload_decode(b, len);
        ck_assert_ptr_nonnull(d);
        char *t = text_of(b, len, NULL, 0, NULL, 0);
        cJSON *p = cJSON_Parse(t);
        ck_assert_msg(p != NULL, "unparsable text %s", t);
        const char *inc[] = {"a.b", "c"}, *exc[] = {"a.c"};
        char *t2 = text_of(b, len, inc, 2, exc, 1);
        walk(&qvi_payload_blob_ops, b, 1);
        /* edits accept whatever validation accepts */
        char err[QVI_PAYLOAD_ERRMSG_CAP];
        uint8_t *nb;
        size_t nlen;
        const char *del[] = {"a.b", "c"};
        ck_assert_int_eq(qvi_payload_delete_keys(b, len, del, 2, &nb, &nlen,
                                                 err, sizeof(err)),
                         QV_OK);
        ck_assert_int_eq(qvi_payload_validate(nb, nlen), QV_OK);
        free(nb);
        cJSON *set = cJSON_Parse("{\"z\":1}");
        st =
            qvi_payload_merge(b, len, set, "a.b", &nb, &nlen, err, sizeof(err));
        /* a merge can only fail by nesting the new object too deep */
        ck_assert_msg(st == QV_OK || st == QV_EINVAL, "merge: %s", err);
        if (st == QV_OK)
            ck_assert_int_eq(qvi_payload_validate(nb, nlen), QV_OK);
        free(nb);
        cJSON_Delete(set);
        st = QV_OK;
        free(t2);
        free(t);
        cJSON_Delete(p);
        cJSON_Delete(d);
    }
    free(b);
    return st == QV_OK;
}

START_TEST(test_fuzz)
{
    enum { SEEDS = 200, MUTATIONS = 300 };
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    gen_seed(0xf022);
    long accepted = 0, tried = 0;
    uint8_t *m = NULL;
    for (int s = 0; s < SEEDS; s++) {
        cJSON *o = cJSON_CreateObject();
        for (uint32_t i = gen_rnd(6); i > 0; i--)
            cJSON_AddItemToObject(o, gen_key(gen_rnd(4)), fuzz_value(4));
        uint8_t *b;
        size_t len;
        ck_assert_int_eq(qvi_payload_encode(o, &b, &len, err, sizeof(err)),
                         QV_OK);
        ck_assert(fuzz_one(b, len));
        m = realloc(m, len + 16);
        ck_assert_ptr_nonnull(m);
        for (int k = 0; k < MUTATIONS; k++) {
            size_t mlen = len;
            memcpy(m, b, len);
            switch (gen_rnd(5)) {
            case 0: /* flip one bit */
                m[gen_rnd((uint32_t)len)] ^= (uint8_t)(1u << gen_rnd(8));
                break;
            case 1: /* overwrite a few bytes */
                for (uint32_t i = 1 + gen_rnd(4); i > 0; i--)
                    m[gen_rnd((uint32_t)len)] = (uint8_t)gen_rnd(256);
                break;
            case 2: /* truncate */
                mlen = gen_rnd((uint32_t)len);
                break;
            case 3: /* extend with junk */
                mlen = len + 1 + gen_rnd(15);
                for (size_t i = len; i < mlen; i++)
                    m[i] = (uint8_t)gen_rnd(256);
                break;
            default: /* a small or large length field */
                m[gen_rnd((uint32_t)len)] =
                    gen_rnd(2) ? 0xff : (uint8_t)gen_rnd(3);
                break;
            }
            accepted += fuzz_one(m, mlen);
            tried++;
        }
        free(b);
        cJSON_Delete(o);
    }
    /* pure noise, and noise behind an object tag */
    for (int k = 0; k < 20000; k++) {
        uint8_t r[48];
        size_t n = gen_rnd(sizeof(r) + 1);
        for (size_t i = 0; i < n; i++)
            r[i] = (uint8_t)gen_rnd(gen_rnd(2) ? 8 : 256);
        if (n && gen_rnd(2))
            r[0] = 7;
        accepted += fuzz_one(r, n);
        tried++;
    }
    free(m);
    ck_assert_int_gt(accepted, 0);
    printf("payload fuzz: %ld damaged blobs, %ld still valid\n", tried,
           accepted);
}
END_TEST

/* Issue "Server hardening and data fidelity", item 6: numbers keep their
 * exact value and kind (serde_json's: i64, u64, f64), read from the text
 * by qvi_json_parse_exact, and doubles print shortest round-trip. */
static void expect_exact(const char *json, const char *want)
{
    char err[QVI_PAYLOAD_ERRMSG_CAP];
    cJSON *j = qvi_json_parse_exact(json, strlen(json), NULL);
    ck_assert_ptr_nonnull(j);
    uint8_t *b = NULL;
    size_t len = 0;
    ck_assert_int_eq(qvi_payload_encode(j, &b, &len, err, sizeof(err)), QV_OK);
    cJSON_Delete(j);
    ck_assert_int_eq(qvi_payload_validate(b, len), QV_OK);
    char *t = text_of(b, len, NULL, 0, NULL, 0);
    ck_assert_msg(strcmp(t, want) == 0, "%s: got %s, want %s", json, t, want);
    /* decode -> encode gives the same bytes (merge and delete rely on it) */
    cJSON *d = qvi_payload_decode(b, len);
    uint8_t *b2 = NULL;
    size_t len2 = 0;
    ck_assert_int_eq(qvi_payload_encode(d, &b2, &len2, err, sizeof(err)),
                     QV_OK);
    ck_assert_uint_eq(len2, len);
    ck_assert(memcmp(b, b2, len) == 0);
    cJSON_Delete(d);
    free(b2);
    free(t);
    free(b);
}

START_TEST(test_exact_numbers)
{
    expect_exact("{\"a\":0.30000000000000004,\"b\":0.8444218515250481}",
                 "{\"a\":0.30000000000000004,\"b\":0.8444218515250481}");
    expect_exact("{\"a\":9007199254740993,\"b\":9007199254740992}",
                 "{\"a\":9007199254740993,\"b\":9007199254740992}");
    expect_exact("{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
                 "\"c\":9223372036854775808,\"d\":18446744073709551615}",
                 "{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
                 "\"c\":9223372036854775808,\"d\":18446744073709551615}");
    /* beyond u64: a float, as serde_json reads it */
    expect_exact("{\"a\":18446744073709551616}",
                 "{\"a\":1.8446744073709552e19}");
    expect_exact("{\"a\":1.7976931348623157e308,\"b\":1.0,\"c\":-0.0,"
                 "\"d\":1e2,\"e\":0.1,\"f\":100}",
                 "{\"a\":1.7976931348623157e308,\"b\":1.0,\"c\":-0.0,"
                 "\"d\":100.0,\"e\":0.1,\"f\":100}");
    /* the filter's view: an integer is exact, a float is not an integer */
    const char *arr = "[9007199254740993,2.0,18446744073709551615]";
    cJSON *j = qvi_json_parse_exact(arr, strlen(arr), NULL);
    ck_assert_ptr_nonnull(j);
    int64_t i = 0;
    uint64_t u = 0;
    double dd = 0;
    ck_assert_int_eq(qvi_json_num(j->child, &i, &u, &dd), QVI_JNUM_INT);
    ck_assert(i == 9007199254740993LL);
    ck_assert_int_eq(qvi_json_num(j->child->next, &i, &u, &dd), QVI_JNUM_FLOAT);
    ck_assert_int_eq(qvi_json_num(j->child->next->next, &i, &u, &dd),
                     QVI_JNUM_UINT);
    ck_assert(u == UINT64_MAX);
    cJSON_Delete(j);
    /* validation: a uint within i64 is not canonical */
    uint8_t blob[] = {7, 14,  0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
                      0, 'u', 8, 5, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(qvi_payload_validate(blob, sizeof(blob)), QV_ECORRUPT);
    blob[22] = 0x80; /* 2^63 + 5 */
    ck_assert_int_eq(qvi_payload_validate(blob, sizeof(blob)), QV_OK);
    blob[14] = 3; /* the same bits as an int (now any i64) */
    ck_assert_int_eq(qvi_payload_validate(blob, sizeof(blob)), QV_OK);
}
END_TEST

/* ---- 8. a point's payload stored once ------------------------------------ */

/* Writes N points with payloads into a registry and `vectors` more
 * collections, as the server does for a collection with that many named
 * vectors, and returns the pool's bytes and blobs above the baseline. */
enum { ONCE_N = 300 };

static void named_layout(qvi_blob_pool *pool, size_t vectors,
                         qv_collection **colls, size_t *bytes, size_t *blobs)
{
    qv_point_id ids[ONCE_N];
    float vecs[ONCE_N * 4];
    char texts[ONCE_N][96];
    const char *payloads[ONCE_N];
    size_t lens[ONCE_N];
    for (size_t i = 0; i < ONCE_N; i++) {
        ids[i] = (qv_point_id){.kind = QV_ID_NUM, .u.num = i + 1};
        for (int d = 0; d < 4; d++)
            vecs[i * 4 + d] = (float)(i % 7) + (float)d * 0.5f + 1.0f;
        lens[i] = (size_t)snprintf(
            texts[i], sizeof(texts[i]),
            "{\"city\":\"town-%zu\",\"n\":%zu,\"tags\":[\"a\",\"b\"]}", i, i);
        payloads[i] = texts[i];
    }
    size_t base_bytes, base_blobs;
    qvi_blob_pool_stats(pool, &base_blobs, &base_bytes);
    for (size_t k = 0; k <= vectors; k++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = 4;
        ck_assert_int_eq(qv_collection_create(&cfg, &colls[k]), QV_OK);
        ck_assert_int_eq(qvi_collection_set_blob_pool(colls[k], pool), QV_OK);
        ck_assert_int_eq(qv_upsert_with_payloads(colls[k], ids, vecs, ONCE_N, 4,
                                                 payloads, lens),
                         QV_OK);
    }
    size_t nb, nbl;
    qvi_blob_pool_stats(pool, &nbl, &nb);
    *bytes = nb - base_bytes;
    *blobs = nbl - base_blobs;
}

START_TEST(test_stored_once)
{
    qv_collection *one[2], *four[5];
    qvi_blob_pool *pool;
    ck_assert_int_eq(qvi_blob_pool_create(&pool), QV_OK);
    size_t b0, n0;
    qvi_blob_pool_stats(pool, &n0, &b0);
    size_t bytes1, blobs1, bytes4, blobs4;
    named_layout(pool, 1, one, &bytes1, &blobs1);
    ck_assert_uint_eq(blobs1, ONCE_N);
    ck_assert_uint_gt(bytes1, ONCE_N * 20);
    for (int k = 0; k < 2; k++)
        qv_collection_release(one[k]);
    size_t b, n;
    qvi_blob_pool_stats(pool, &n, &b);
    ck_assert_uint_eq(b, b0); /* every byte given back */
    ck_assert_uint_eq(n, n0);

    named_layout(pool, 4, four, &bytes4, &blobs4);
    printf("payload heap bytes: 1 named vector %zu, 4 named vectors %zu\n",
           bytes1, bytes4);
    ck_assert_uint_eq(bytes4, bytes1); /* not 5/2 times as much */
    ck_assert_uint_eq(blobs4, blobs1);

    /* An edit in one collection gives it its own blob; the others keep
     * theirs, and so does a delete. */
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = 5};
    ck_assert_int_eq(qv_payload_set(four[1], &id, "{\"x\":1}", 7, NULL), QV_OK);
    ck_assert_int_eq(qv_delete(four[2], &id), QV_OK);
    char *json = NULL;
    size_t len = 0;
    ck_assert_int_eq(qv_payload_get(four[1], &id, NULL, &json, &len), QV_OK);
    ck_assert_str_eq(
        json, "{\"city\":\"town-4\",\"n\":4,\"tags\":[\"a\",\"b\"],\"x\":1}");
    qv_free(json);
    for (int k = 0; k < 5; k++) {
        if (k == 1 || k == 2)
            continue;
        ck_assert_int_eq(qv_payload_get(four[k], &id, NULL, &json, &len),
                         QV_OK);
        ck_assert_str_eq(
            json, "{\"city\":\"town-4\",\"n\":4,\"tags\":[\"a\",\"b\"]}");
        qv_free(json);
    }
    qvi_blob_pool_stats(pool, &n, &b);
    ck_assert_uint_eq(n - n0, ONCE_N + 1); /* shared ones + the edited one */
    for (int k = 0; k < 5; k++)
        qv_collection_release(four[k]);
    qvi_blob_pool_stats(pool, &n, &b);
    ck_assert_uint_eq(b, b0);
    ck_assert_uint_eq(n, n0);
    qvi_blob_pool_release(pool);
}
END_TEST

/* Four threads, each with its own collection, store and drop the same
 * payloads at once: the pool's counts stay right (no blob freed while
 * another collection holds it, every byte back at the end). */
static void *pool_worker(void *arg)
{
    qv_collection *c = arg;
    char text[64];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 50; i++) {
            qv_point_id id = {.kind = QV_ID_NUM, .u.num = (uint64_t)i + 1};
            float v[4] = {1, (float)i, 2, 3};
            size_t len = (size_t)snprintf(text, sizeof(text),
                                          "{\"k\":%d,\"r\":%d}", i, round % 3);
            const char *pt = text;
            if (qv_upsert_with_payloads(c, &id, v, 1, 4, &pt, &len) != QV_OK)
                return (void *)1;
        }
        for (int i = 0; i < 50; i += 2) {
            qv_point_id id = {.kind = QV_ID_NUM, .u.num = (uint64_t)i + 1};
            if (qv_delete(c, &id) != QV_OK)
                return (void *)1;
        }
    }
    return NULL;
}

START_TEST(test_pool_threads)
{
    qvi_blob_pool *pool;
    ck_assert_int_eq(qvi_blob_pool_create(&pool), QV_OK);
    size_t b0, n0;
    qvi_blob_pool_stats(pool, &n0, &b0);
    qv_collection *c[4];
    pthread_t t[4];
    for (int k = 0; k < 4; k++) {
        qv_collection_config cfg;
        qv_collection_config_init(&cfg);
        cfg.dim = 4;
        ck_assert_int_eq(qv_collection_create(&cfg, &c[k]), QV_OK);
        ck_assert_int_eq(qvi_collection_set_blob_pool(c[k], pool), QV_OK);
        ck_assert_int_eq(pthread_create(&t[k], NULL, pool_worker, c[k]), 0);
    }
    for (int k = 0; k < 4; k++) {
        void *r;
        ck_assert_int_eq(pthread_join(t[k], &r), 0);
        ck_assert_ptr_null(r);
    }
    size_t n, b;
    qvi_blob_pool_stats(pool, &n, &b);
    ck_assert_uint_eq(n - n0, 25); /* the odd ids' last payloads, shared */
    char *json = NULL;
    size_t len = 0;
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = 2};
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(qv_payload_get(c[k], &id, NULL, &json, &len), QV_OK);
        ck_assert_str_eq(json, "{\"k\":1,\"r\":1}");
        qv_free(json);
    }
    for (int k = 0; k < 4; k++)
        qv_collection_release(c[k]);
    qvi_blob_pool_stats(pool, &n, &b);
    ck_assert_uint_eq(n, n0);
    ck_assert_uint_eq(b, b0);
    qvi_blob_pool_release(pool);
}
END_TEST

/* The pool belongs to a store: its collections share blobs, another
 * store's do not, a collection outside any store keeps private blobs, and
 * a collection outlives its store's close with its blobs intact (the
 * pool lives as long as its last holder).  No process-wide state. */
START_TEST(test_pool_per_store)
{
    qv_store *s1, *s2;
    ck_assert_int_eq(qv_store_open(&s1), QV_OK);
    ck_assert_int_eq(qv_store_open(&s2), QV_OK);
    ck_assert_ptr_ne(qvi_store_blob_pool(s1), qvi_store_blob_pool(s2));
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 4;
    qv_collection *a, *b, *c, *alone;
    ck_assert_int_eq(qv_store_create(s1, "a", &cfg, &a), QV_OK);
    ck_assert_int_eq(qv_store_create(s1, "b", &cfg, &b), QV_OK);
    ck_assert_int_eq(qv_store_create(s2, "c", &cfg, &c), QV_OK);
    ck_assert_int_eq(qv_collection_create(&cfg, &alone), QV_OK);
    ck_assert_ptr_null(alone->blob_pool);
    ck_assert_ptr_eq(a->blob_pool, qvi_store_blob_pool(s1));
    /* another pool cannot replace the one a collection has */
    ck_assert_int_eq(qvi_collection_set_blob_pool(a, qvi_store_blob_pool(s2)),
                     QV_EINVAL);
    qv_point_id id = {.kind = QV_ID_NUM, .u.num = 9};
    float v[4] = {1, 2, 3, 4};
    const char *text = "{\"k\":\"shared\"}";
    size_t len = strlen(text);
    qv_collection *all[4] = {a, b, c, alone};
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(
            qv_upsert_with_payloads(all[k], &id, v, 1, 4, &text, &len), QV_OK);
    ck_assert_ptr_eq(a->payloads[0], b->payloads[0]); /* one blob */
    ck_assert_ptr_ne(a->payloads[0], c->payloads[0]);
    ck_assert_ptr_ne(a->payloads[0], alone->payloads[0]);
    size_t n1, n2;
    qvi_blob_pool_stats(qvi_store_blob_pool(s1), &n1, NULL);
    qvi_blob_pool_stats(qvi_store_blob_pool(s2), &n2, NULL);
    ck_assert_uint_eq(n1, 1);
    ck_assert_uint_eq(n2, 1);
    qv_store_close(s1); /* a and b are still held here */
    qv_store_close(s2);
    char *json = NULL;
    ck_assert_int_eq(qv_payload_get(b, &id, NULL, &json, &len), QV_OK);
    ck_assert_str_eq(json, "{\"k\":\"shared\"}");
    qv_free(json);
    for (int k = 0; k < 4; k++)
        qv_collection_release(all[k]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("payload");
    TCase *tc = tcase_create("payload");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_text);
    tcase_add_test(tc, test_edits);
    tcase_add_test(tc, test_filter_equivalence);
    tcase_add_test(tc, test_fuzz);
    tcase_add_test(tc, test_exact_numbers);
    tcase_add_test(tc, test_stored_once);
    tcase_add_test(tc, test_pool_threads);
    tcase_add_test(tc, test_pool_per_store);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
