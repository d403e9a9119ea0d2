/*
 * test_jsonio.c -- import of the JSON stores Quiver replaces (points list,
 * LangChain dump, LlamaIndex store), export and re-import, and refusal of
 * malformed documents with a message naming the point.
 */
#include "quiver.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/quiver-jsonio-XXXXXX";

static const char *path_of(const char *name)
{
    static char buf[256]; /* tests run one at a time in one process */
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static qv_collection_config cfg_of(qv_metric m)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 0;
    cfg.metric = m;
    return cfg;
}

static char *payload_of(qv_collection *c, const qv_point_id *id)
{
    char *json;
    size_t len;
    ck_assert_int_eq(qv_payload_get(c, id, NULL, &json, &len), QV_OK);
    return json;
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/quiver-jsonio-XXXXXX");
}

START_TEST(test_points_layout)
{
    const char *p = write_text(
        "a.json",
        "{\"points\":[{\"id\":7,\"vector\":[1,2,3],\"payload\":{\"city\":"
        "\"Oslo\"}},{\"id\":\"550E8400-E29B-41D4-A716-446655440000\","
        "\"vector\":[0.5,-1,2]},{\"id\":\"doc-1\",\"embedding\":[3,2,1],"
        "\"metadata\":{\"n\":[1,2]}}]}");
    qv_collection_config cfg = cfg_of(QV_METRIC_EUCLID);
    qv_collection *c;
    char err[256] = "";
    ck_assert_int_eq(qv_json_import(p, &cfg, &c, err, sizeof err), QV_OK);
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 3);
    qv_collection_config got;
    qv_collection_get_config(c, &got);
    ck_assert_uint_eq(got.dim, 3);

    qv_point_id id = qv_id_from_num(7);
    float v[3];
    ck_assert_int_eq(qv_get(c, &id, v, 3), QV_OK);
    ck_assert(v[0] == 1 && v[1] == 2 && v[2] == 3);
    char *json = payload_of(c, &id);
    ck_assert_str_eq(json, "{\"city\":\"Oslo\"}");
    qv_free(json);

    ck_assert_int_eq(
        qv_id_parse_uuid("550e8400-e29b-41d4-a716-446655440000", &id), QV_OK);
    ck_assert_int_eq(qv_get(c, &id, v, 3), QV_OK);
    ck_assert(v[0] == 0.5f && v[1] == -1 && v[2] == 2);

    /* A string id that is no UUID keeps its text in the payload; the same
     * text always names the same point. */
    qv_point_id ids[4];
    size_t got_n;
    ck_assert_int_eq(qv_scroll(c, NULL, NULL, 4, ids, &got_n, NULL, NULL),
                     QV_OK);
    ck_assert_uint_eq(got_n, 3);
    json = payload_of(c, &ids[2]);
    ck_assert_ptr_nonnull(strstr(json, "\"_quiver_original_id\":\"doc-1\""));
    ck_assert_ptr_nonnull(strstr(json, "\"n\":[1,2]"));
    qv_free(json);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_round_trip_exact)
{
    /* Export then import: same ids (the application's own strings
     * included), bit-identical vectors, equal payloads. */
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 5;
    cfg.metric = QV_METRIC_DOT;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    enum { N = 700 };
    unsigned seed = 12345;
    qv_point_id *ids = calloc(N, sizeof *ids);
    float *vecs = malloc(sizeof(float) * N * 5);
    const char **pl = calloc(N, sizeof *pl);
    size_t *lens = calloc(N, sizeof *lens);
    for (size_t i = 0; i < N; i++) {
        ids[i] = qv_id_from_num(i * 1000003ull + (i % 3 ? 0 : 1ull << 60));
        for (int d = 0; d < 5; d++)
            vecs[i * 5 + d] = (float)rand_r(&seed) / (float)RAND_MAX * 2 - 1;
        pl[i] = i % 2 ? "{\"t\":\"\\u00e9t\\u00e9 \\\"q\\\"\",\"x\":{\"y\":[1,"
                        "null,true]}}"
                      : NULL;
        lens[i] = pl[i] ? strlen(pl[i]) : 0;
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, vecs, N, 5,
                                             (const char *const *)pl, lens),
                     QV_OK);
    char err[256] = "";
    const char *out = path_of("export.json");
    ck_assert_int_eq(qv_json_export(c, out, QV_JSON_POINTS, err, sizeof err),
                     QV_OK);
    qv_collection_config icfg = cfg_of(QV_METRIC_DOT);
    qv_collection *d;
    ck_assert_int_eq(qv_json_import(out, &icfg, &d, err, sizeof err), QV_OK);
    uint64_t n;
    qv_count(d, &n);
    ck_assert_uint_eq(n, N);
    for (size_t i = 0; i < N; i++) {
        float a[5], b[5];
        ck_assert_int_eq(qv_get(c, &ids[i], a, 5), QV_OK);
        ck_assert_int_eq(qv_get(d, &ids[i], b, 5), QV_OK);
        ck_assert_mem_eq(a, b, sizeof a);
        char *pa = payload_of(c, &ids[i]), *pb = payload_of(d, &ids[i]);
        ck_assert_str_eq(pa, pb);
        qv_free(pa);
        qv_free(pb);
    }
    /* No temporary file is left behind. */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
    ck_assert_int_ne(system(cmd), 0);
    qv_collection_release(c);
    qv_collection_release(d);
    free(ids);
    free(vecs);
    free(pl);
    free(lens);
}
END_TEST

START_TEST(test_numbers_exact)
{
    /* Integers beyond 2^53 and doubles that need 16 or 17 digits keep
     * every bit through import and export (cJSON alone rounds both), and
     * so does a numeric id above 2^53. */
    static const char payload[] =
        "{\"big\":9007199254740993,\"u\":18446744073709551615,"
        "\"neg\":-9223372036854775808,\"d\":0.30000000000000004,"
        "\"e\":0.8444218515250481,\"max\":1.7976931348623157e308,"
        "\"one\":1.0}";
    char doc[1024];
    snprintf(doc, sizeof doc,
             "[{\"id\":9007199254740993,\"vector\":[1,2],\"payload\":%s}]",
             payload);
    const char *p = write_text("exact.json", doc);
    qv_collection_config cfg = cfg_of(QV_METRIC_DOT);
    qv_collection *c;
    char err[256] = "";
    ck_assert_int_eq(qv_json_import(p, &cfg, &c, err, sizeof err), QV_OK);
    qv_point_id id = qv_id_from_num(9007199254740993ull);
    char *got = payload_of(c, &id);
    ck_assert_str_eq(got, payload);
    qv_free(got);
    /* The points layout keeps payloads (LangChain's keeps text and
     * metadata only). */
    const char *out = path_of("pts.json");
    ck_assert_int_eq(qv_json_export(c, out, QV_JSON_POINTS, err, sizeof err),
                     QV_OK);
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_msg(strstr(text, "9007199254740993,\"u\"") &&
                      strstr(text, "0.30000000000000004") &&
                      strstr(text, "0.8444218515250481") &&
                      strstr(text, "18446744073709551615") &&
                      strstr(text, "1.7976931348623157e308"),
                  "export: %s", text);
    qv_collection_config icfg = cfg_of(QV_METRIC_DOT);
    qv_collection *d;
    ck_assert_int_eq(qv_json_import(out, &icfg, &d, err, sizeof err), QV_OK);
    char *back = payload_of(d, &id);
    ck_assert_str_eq(back, payload);
    qv_free(back);
    qv_collection_release(d);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_langchain_round_trip)
{
    const char *p = write_text(
        "lc.json",
        "{\"a1\":{\"id\":\"a1\",\"vector\":[1,0],\"text\":\"hello\","
        "\"metadata\":{\"src\":\"x\"}},\"b2\":{\"id\":\"b2\",\"vector\":[0,"
        "1],\"text\":\"world\",\"metadata\":{}}}");
    qv_collection_config cfg = cfg_of(QV_METRIC_COSINE);
    qv_collection *c;
    char err[256] = "";
    ck_assert_int_eq(qv_json_import(p, &cfg, &c, err, sizeof err), QV_OK);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 1;
    qv_hit hit;
    size_t nh;
    float q[2] = {0.9f, 0.1f};
    ck_assert_int_eq(qv_search(c, q, 2, &sp, &hit, &nh), QV_OK);
    char *json = payload_of(c, &hit.id);
    ck_assert_ptr_nonnull(strstr(json, "\"page_content\":\"hello\""));
    ck_assert_ptr_nonnull(strstr(json, "\"metadata\":{\"src\":\"x\"}"));
    qv_free(json);

    const char *out = path_of("lc-out.json");
    ck_assert_int_eq(qv_json_export(c, out, QV_JSON_LANGCHAIN, err, sizeof err),
                     QV_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(getdelim(&text, &len, 0, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\"a1\":{\"id\":\"a1\",\"vector\":[1,0]"
                                       ",\"text\":\"hello\",\"metadata\":{"
                                       "\"src\":\"x\"}}"));
    ck_assert_ptr_nonnull(strstr(text, "\"b2\":{\"id\":\"b2\""));
    free(text);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_llamaindex)
{
    const char *p = write_text(
        "li.json",
        "{\"embedding_dict\":{\"n1\":[1,2],\"n2\":[2,1]},\"text_id_to_ref_doc_"
        "id\":{\"n1\":\"d1\",\"n2\":\"d1\"},\"metadata_dict\":{\"n1\":{"
        "\"page\":3}}}");
    qv_collection_config cfg = cfg_of(QV_METRIC_EUCLID);
    qv_collection *c;
    char err[256] = "";
    ck_assert_int_eq(qv_json_import(p, &cfg, &c, err, sizeof err), QV_OK);
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 2);
    qv_search_params sp;
    qv_search_params_init(&sp);
    sp.k = 1;
    qv_hit hit;
    size_t nh;
    float q[2] = {1, 2};
    ck_assert_int_eq(qv_search(c, q, 2, &sp, &hit, &nh), QV_OK);
    char *json = payload_of(c, &hit.id);
    ck_assert_ptr_nonnull(strstr(json, "\"page\":3"));
    ck_assert_ptr_nonnull(strstr(json, "\"ref_doc_id\":\"d1\""));
    ck_assert_ptr_nonnull(strstr(json, "\"_quiver_original_id\":\"n1\""));
    qv_free(json);
    qv_collection_release(c);
}
END_TEST

static void expect_refused(const char *text, qv_status st, const char *needle)
{
    const char *p = write_text("bad.json", text);
    qv_collection_config cfg = cfg_of(QV_METRIC_COSINE);
    qv_collection *c = (qv_collection *)0x1;
    char err[256] = "";
    ck_assert_int_eq(qv_json_import(p, &cfg, &c, err, sizeof err), st);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

START_TEST(test_bad_documents)
{
    expect_refused("{\"points\":[{\"id\":1,\"vector\":[1,2", QV_EFORMAT,
                   "malformed JSON");
    expect_refused("42", QV_EFORMAT, "neither a list");
    expect_refused("{\"x\":1}", QV_EFORMAT, "unknown layout");
    expect_refused("[{\"id\":-1,\"vector\":[1]}]", QV_EINVAL, "point 0: id");
    expect_refused("[{\"id\":1.5,\"vector\":[1]}]", QV_EINVAL, "point 0: id");
    expect_refused("[{\"id\":1e300,\"vector\":[1]}]", QV_EINVAL, "point 0: id");
    expect_refused("[{\"id\":1,\"vector\":[1,2]},{\"id\":2,\"vector\":[1]}]",
                   QV_EDIM, "point 1: vector has 1 components, expected 2");
    expect_refused("[{\"id\":1,\"vector\":[1,\"a\"]}]", QV_EINVAL,
                   "point 0: vector[1] is not a number");
    expect_refused("[{\"id\":1,\"vector\":[1],\"payload\":[1]}]", QV_EINVAL,
                   "payload is not an object");
    expect_refused("[{\"id\":1}]", QV_EINVAL, "no vector");
    expect_refused("[]", QV_EINVAL, "no points and no dimension");
    /* Not finite after narrowing to float. */
    expect_refused("[{\"id\":1,\"vector\":[1e39]}]", QV_ENONFINITE,
                   "points 0..0");

    qv_collection_config cfg = cfg_of(QV_METRIC_COSINE);
    qv_collection *c;
    char err[256] = "";
    ck_assert_int_eq(
        qv_json_import(path_of("missing.json"), &cfg, &c, err, sizeof err),
        QV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "missing.json"));
    ck_assert_int_eq(qv_json_import(NULL, &cfg, &c, err, sizeof err), QV_ENULL);
    ck_assert_int_eq(
        qv_json_export(NULL, "/tmp/x.json", QV_JSON_POINTS, err, sizeof err),
        QV_ENULL);
}
END_TEST

START_TEST(test_export_failure_leaves_target)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    char err[256] = "";
    ck_assert_int_eq(qv_json_export(c, "/nonexistent-dir/x.json",
                                    QV_JSON_POINTS, err, sizeof err),
                     QV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.json"));
    /* An empty collection with a known dimension round-trips. */
    const char *out = path_of("empty.json");
    ck_assert_int_eq(qv_json_export(c, out, QV_JSON_POINTS, err, sizeof err),
                     QV_OK);
    qv_collection_config icfg = cfg_of(QV_METRIC_COSINE);
    icfg.dim = 2;
    qv_collection *d;
    ck_assert_int_eq(qv_json_import(out, &icfg, &d, err, sizeof err), QV_OK);
    uint64_t n = 1;
    qv_count(d, &n);
    ck_assert_uint_eq(n, 0);
    qv_collection_release(c);
    qv_collection_release(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonio");
    TCase *tc = tcase_create("jsonio");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_points_layout);
    tcase_add_test(tc, test_round_trip_exact);
    tcase_add_test(tc, test_numbers_exact);
    tcase_add_test(tc, test_langchain_round_trip);
    tcase_add_test(tc, test_llamaindex);
    tcase_add_test(tc, test_bad_documents);
    tcase_add_test(tc, test_export_failure_leaves_target);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
