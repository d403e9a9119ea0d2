/*
 * test_filtered.c -- payloads through the public API, and filtered
 * search, scroll, count and delete: results checked against brute force,
 * and filtered-search recall across selectivities from 0.1% to 100%.
 */
#include "core/core.h"
#include "core/search/search.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qv_collection *make(uint32_t dim, qv_metric m, uint32_t threshold_kb)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = dim;
    cfg.metric = m;
    cfg.full_scan_threshold_kb = threshold_kb;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static qv_filter *filter(const char *text)
{
    qv_filter *f = NULL;
    char err[256] = "";
    qv_status st = qv_filter_parse(text, strlen(text), &f, err, sizeof(err));
    ck_assert_msg(st == QV_OK, "filter %s: %s", text, err);
    return f;
}

static char *get_payload(qv_collection *c, uint64_t id,
                         const qv_payload_select *sel)
{
    qv_point_id pid = qv_id_from_num(id);
    char *json = NULL;
    size_t len = 0;
    ck_assert_int_eq(qv_payload_get(c, &pid, sel, &json, &len), QV_OK);
    ck_assert_uint_eq(strlen(json), len);
    return json;
}

START_TEST(test_payload_edits)
{
    qv_collection *c = make(2, QV_METRIC_DOT, 10000);
    qv_point_id ids[2] = {qv_id_from_num(1), qv_id_from_num(2)};
    float v[4] = {1, 0, 0, 1};
    const char *p[2] = {"{\"doc\":\"a\",\"n\":1,\"meta\":{\"src\":\"x\"}}",
                        NULL};
    size_t lens[2] = {strlen(p[0]), 0};
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, v, 2, 2, p, lens), QV_OK);
    char *j = get_payload(c, 1, NULL);
    ck_assert_str_eq(j, "{\"doc\":\"a\",\"n\":1,\"meta\":{\"src\":\"x\"}}");
    qv_free(j);
    j = get_payload(c, 2, NULL);
    ck_assert_str_eq(j, "{}");
    qv_free(j);

    /* Include and exclude lists. */
    const char *inc[] = {"doc"}, *exc[] = {"meta"};
    qv_payload_select si = {.include = inc, .n_include = 1};
    qv_payload_select se = {.exclude = exc, .n_exclude = 1};
    j = get_payload(c, 1, &si);
    ck_assert_str_eq(j, "{\"doc\":\"a\"}");
    qv_free(j);
    j = get_payload(c, 1, &se);
    ck_assert_str_eq(j, "{\"doc\":\"a\",\"n\":1}");
    qv_free(j);

    /* set merges, with a nested key too; delete keys; overwrite; clear. */
    const char *set = "{\"n\":2,\"tag\":true}";
    ck_assert_int_eq(qv_payload_set(c, &ids[0], set, strlen(set), NULL), QV_OK);
    j = get_payload(c, 1, NULL);
    ck_assert_str_eq(
        j, "{\"doc\":\"a\",\"n\":2,\"meta\":{\"src\":\"x\"},\"tag\":true}");
    qv_free(j);
    const char *inner = "{\"page\":7}";
    ck_assert_int_eq(qv_payload_set(c, &ids[0], inner, strlen(inner), "meta"),
                     QV_OK);
    j = get_payload(c, 1, &(qv_payload_select){.include = exc, .n_include = 1});
    ck_assert_str_eq(j, "{\"meta\":{\"src\":\"x\",\"page\":7}}");
    qv_free(j);
    const char *del[] = {"tag", "meta.src", "absent"};
    ck_assert_int_eq(qv_payload_delete_keys(c, &ids[0], del, 3), QV_OK);
    j = get_payload(c, 1, NULL);
    ck_assert_str_eq(j, "{\"doc\":\"a\",\"n\":2,\"meta\":{\"page\":7}}");
    qv_free(j);
    const char *over = "{\"only\":[1,2,3]}";
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[0], over, strlen(over)),
                     QV_OK);
    j = get_payload(c, 1, NULL);
    ck_assert_str_eq(j, over);
    qv_free(j);
    ck_assert_int_eq(qv_payload_clear(c, &ids[0]), QV_OK);
    j = get_payload(c, 1, NULL);
    ck_assert_str_eq(j, "{}");
    qv_free(j);

    /* Bad input changes nothing: point 2's payload survives every failed
     * edit. */
    const char *keep = "{\"k\":1}";
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[1], keep, strlen(keep)),
                     QV_OK);
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[1], "[1]", 3), QV_EINVAL);
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[1], "{\"a\":", 5), QV_EINVAL);
    ck_assert_int_eq(qv_payload_set(c, &ids[1], "7", 1, NULL), QV_EINVAL);
    qv_point_id missing = qv_id_from_num(99);
    ck_assert_int_eq(qv_payload_overwrite(c, &missing, "{}", 2), QV_ENOTFOUND);
    char msg[128];
    qv_collection_errmsg(c, msg, sizeof(msg));
    ck_assert_str_eq(msg, "no point with id 99");
    ck_assert_int_eq(qv_payload_clear(c, &missing), QV_ENOTFOUND);
    const char *bad[2] = {"{\"ok\":1}", "{broken"};
    size_t bad_lens[2] = {strlen(bad[0]), strlen(bad[1])};
    qv_point_id new_ids[2] = {qv_id_from_num(5), qv_id_from_num(6)};
    ck_assert_int_eq(
        qv_upsert_with_payloads(c, new_ids, v, 2, 2, bad, bad_lens), QV_EINVAL);
    uint64_t n;
    qv_count(c, &n);
    ck_assert_uint_eq(n, 2);
    j = get_payload(c, 2, NULL);
    ck_assert_str_eq(j, keep);
    qv_free(j);

    /* A deleted point's slot is reused by a new point, which starts with
     * an empty payload. */
    ck_assert_int_eq(qv_delete(c, &ids[1]), QV_OK);
    ck_assert_int_eq(qv_upsert(c, &new_ids[0], v, 2), QV_OK);
    j = get_payload(c, 5, NULL);
    ck_assert_str_eq(j, "{}");
    qv_free(j);
    ck_assert_int_eq(qv_upsert(c, &ids[1], v, 2), QV_OK);

    /* An upsert without payloads keeps the point's payload. */
    ck_assert_int_eq(qv_payload_overwrite(c, &ids[1], over, strlen(over)),
                     QV_OK);
    ck_assert_int_eq(qv_upsert(c, &ids[1], v, 2), QV_OK);
    j = get_payload(c, 2, NULL);
    ck_assert_str_eq(j, over);
    qv_free(j);
    qv_collection_release(c);
}
END_TEST

/* ---- filtered search ------------------------------------------------------
 */

enum { N = 20000, DIM = 24, NQ = 60, K = 10, GROUPS = 1000 };

static uint64_t rng;
static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* Point i has payload {"g": i % 1000, "tag": "t<i%7>"}; a filter
 * g < T selects T/1000 of the points. */
static qv_collection *fill(qv_metric m, uint32_t threshold_kb, float **data)
{
    qv_collection *c = make(DIM, m, threshold_kb);
    *data = malloc(sizeof(float) * N * DIM);
    rng = 31;
    for (size_t i = 0; i < (size_t)N * DIM; i++)
        (*data)[i] = frand();
    qv_point_id *ids = malloc(N * sizeof(*ids));
    char **texts = malloc(N * sizeof(char *));
    size_t *lens = malloc(N * sizeof(size_t));
    for (int i = 0; i < N; i++) {
        ids[i] = qv_id_from_num((uint64_t)i);
        texts[i] = malloc(48);
        lens[i] = (size_t)snprintf(texts[i], 48, "{\"g\":%d,\"tag\":\"t%d\"}",
                                   i % GROUPS, i % 7);
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, *data, N, DIM,
                                             (const char *const *)texts, lens),
                     QV_OK);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(ids);
    return c;
}

/* Recall@K of filtered search (single and batch) against filtered exact
 * search; also checks every hit matches. */
/* (With 20,000 points, t = 1 and 10 select under 5%: the planner scans
 * them, so their recall is exact by construction; t >= 50 walks the
 * graph.) */
static double filtered_recall(qv_collection *c, int t)
{
    char text[64];
    snprintf(text, sizeof(text),
             "{\"must\":[{\"key\":\"g\",\"range\":"
             "{\"lt\":%d}}]}",
             t);
    qv_filter *f = filter(text);
    qv_search_params p, e;
    qv_search_params_init(&p);
    p.k = K;
    p.hnsw_ef = 128;
    p.filter = f;
    e = p;
    e.exact = true;
    float *qs = malloc(sizeof(float) * NQ * DIM);
    rng = 77;
    for (int i = 0; i < NQ * DIM; i++)
        qs[i] = frand();
    qv_hit *bh = malloc(sizeof(qv_hit) * NQ * K);
    size_t bn[NQ];
    ck_assert_int_eq(qv_search_batch(c, qs, NQ, DIM, &p, bh, bn), QV_OK);
    size_t found = 0, total = 0;
    for (int q = 0; q < NQ; q++) {
        qv_hit gh[K], eh[K];
        size_t gn, en;
        ck_assert_int_eq(qv_search(c, qs + q * DIM, DIM, &p, gh, &gn), QV_OK);
        ck_assert_int_eq(qv_search(c, qs + q * DIM, DIM, &e, eh, &en), QV_OK);
        ck_assert_uint_eq(en,
                          (size_t)(t * N / GROUPS) < K ? t * N / GROUPS : K);
        ck_assert_uint_eq(bn[q], gn);
        for (size_t i = 0; i < gn; i++) {
            ck_assert_uint_lt(gh[i].id.u.num % GROUPS, (uint64_t)t);
            ck_assert_uint_lt(bh[q * K + i].id.u.num % GROUPS, (uint64_t)t);
        }
        /* Recall of the single search and of the batch, counted together. */
        for (size_t i = 0; i < en; i++) {
            for (size_t j = 0; j < gn; j++) {
                if (qv_id_compare(&eh[i].id, &gh[j].id) == 0) {
                    found++;
                    break;
                }
            }
            for (size_t j = 0; j < bn[q]; j++) {
                if (qv_id_compare(&eh[i].id, &bh[q * K + j].id) == 0) {
                    found++;
                    break;
                }
            }
        }
        total += 2 * en;
    }
    free(bh);
    free(qs);
    qv_filter_free(f);
    return total ? (double)found / total : 1.0;
}

START_TEST(test_filtered_recall_across_selectivity)
{
    /* Threshold 0: the planner alone decides between graph and scan. */
    float *data;
    qv_collection *c = fill((qv_metric)_i, 0, &data);
    const int ts[] = {1, 10, 50, 100, 300, 1000};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        double r = filtered_recall(c, ts[i]);
        printf("filtered %s, selectivity %.1f%%: recall@10 %.4f\n",
               qv_metric_name((qv_metric)_i), ts[i] / 10.0, r);
        ck_assert_msg(r >= 0.95, "selectivity %.1f%%: recall %.4f",
                      ts[i] / 10.0, r);
    }
    free(data);
    qv_collection_release(c);
}
END_TEST

/* The same sweep with an integer index on g: the planner counts the
 * matches exactly instead of sampling, scans candidates only, and recall
 * must hold as well (cosine and manhattan, the two score directions). */
START_TEST(test_filtered_recall_indexed)
{
    qv_metric m = _i ? QV_METRIC_MANHATTAN : QV_METRIC_COSINE;
    float *data;
    qv_collection *c = fill(m, 0, &data);
    ck_assert_int_eq(qv_payload_index_create(c, "g", QV_INDEX_INTEGER), QV_OK);
    const int ts[] = {1, 10, 50, 100, 300, 1000};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        double r = filtered_recall(c, ts[i]);
        printf("filtered %s with an index, selectivity %.1f%%: recall@10 "
               "%.4f\n",
               qv_metric_name(m), ts[i] / 10.0, r);
        ck_assert_msg(r >= 0.95, "selectivity %.1f%%: recall %.4f",
                      ts[i] / 10.0, r);
    }
    free(data);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_scroll_count_delete_by_filter)
{
    float *data;
    /* Threshold 0: the graph is live, so deletes also unlink nodes. */
    qv_collection *c = fill(QV_METRIC_EUCLID, 0, &data);
    qv_filter *f = filter("{\"must\":[{\"key\":\"tag\",\"match\":{\"value\":"
                          "\"t3\"}}],\"must_not\":[{\"has_id\":[3,10]}]}");
    uint64_t n = 0, expect = 0;
    for (int i = 0; i < N; i++)
        expect += i % 7 == 3 && i != 3 && i != 10;
    ck_assert_int_eq(qv_count_filter(c, f, &n), QV_OK);
    ck_assert_uint_eq(n, expect);
    ck_assert_int_eq(qv_count_filter(c, NULL, &n), QV_OK);
    ck_assert_uint_eq(n, N);

    /* Scroll pages through exactly the matches, in id order. */
    qv_point_id page[100], next;
    size_t got, seen = 0;
    bool more = true;
    const qv_point_id *start = NULL;
    uint64_t last = 0;
    while (more) {
        ck_assert_int_eq(qv_scroll(c, start, f, 100, page, &got, &next, &more),
                         QV_OK);
        for (size_t i = 0; i < got; i++) {
            uint64_t id = page[i].u.num;
            ck_assert_uint_eq(id % 7, 3);
            ck_assert(id != 3 && id != 10);
            ck_assert(seen == 0 || id > last);
            last = id;
            seen++;
        }
        start = &next;
    }
    ck_assert_uint_eq(seen, expect);

    uint64_t deleted = 0;
    ck_assert_int_eq(qv_delete_filter(c, f, &deleted), QV_OK);
    ck_assert_uint_eq(deleted, expect);
    ck_assert_int_eq(qv_count_filter(c, f, &n), QV_OK);
    ck_assert_uint_eq(n, 0);
    qv_count(c, &n);
    ck_assert_uint_eq(n, N - expect);
    ck_assert_int_eq(qv_delete_filter(c, NULL, NULL), QV_ENULL);
    qv_filter_free(f);
    free(data);
    qv_collection_release(c);
}
END_TEST

/* Regression (review): the planner sampled every (used / 512)-th slot, so
 * payloads periodic in insertion order (shard = i % 40 with 20,480
 * points: a step of 40) read as 100% selective for shard == 0 (really
 * 2.5%), and the graph walk with an unwidened beam missed neighbours. */
START_TEST(test_planner_periodic_payloads)
{
    enum { PN = 20480, PD = 16, PQ = 20 };
    qv_collection *c = make(PD, QV_METRIC_EUCLID, 0);
    float *data = malloc(sizeof(float) * PN * PD);
    rng = 5;
    for (int i = 0; i < PN * PD; i++)
        data[i] = frand();
    qv_point_id *ids = malloc(PN * sizeof(*ids));
    char **texts = malloc(PN * sizeof(char *));
    size_t *lens = malloc(PN * sizeof(size_t));
    for (int i = 0; i < PN; i++) {
        ids[i] = qv_id_from_num((uint64_t)i);
        texts[i] = malloc(24);
        lens[i] = (size_t)snprintf(texts[i], 24, "{\"shard\":%d}", i % 40);
    }
    ck_assert_int_eq(qv_upsert_with_payloads(c, ids, data, PN, PD,
                                             (const char *const *)texts, lens),
                     QV_OK);
    qv_filter *f =
        filter("{\"must\":[{\"key\":\"shard\",\"match\":{\"value\":0}}]}");
    qv_search_params p, e;
    qv_search_params_init(&p);
    p.filter = f;
    e = p;
    e.exact = true;
    /* 2.5% selective: below SCAN_BELOW, so the plan must be a scan. */
    qvi_candidates fq;
    ck_assert_int_eq(qvi_candidates_prepare_locked(c, qvi_filter_of(f),
                                                   QVI_CANDIDATES_ALWAYS, &fq),
                     QV_OK);
    qvi_plan plan = qvi_plan_search_locked(c, &p, &fq);
    qvi_candidates_free(&fq);
    ck_assert(!plan.graph);
    for (int q = 0; q < PQ; q++) {
        qv_hit gh[10], eh[10];
        size_t gn, en;
        ck_assert_int_eq(qv_search(c, data + q * 7 * PD, PD, &p, gh, &gn),
                         QV_OK);
        ck_assert_int_eq(qv_search(c, data + q * 7 * PD, PD, &e, eh, &en),
                         QV_OK);
        ck_assert_uint_eq(gn, 10);
        for (size_t i = 0; i < gn; i++)
            ck_assert_int_eq(qv_id_compare(&gh[i].id, &eh[i].id), 0);
    }
    qv_filter_free(f);
    for (int i = 0; i < PN; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free(ids);
    free(data);
    qv_collection_release(c);
}
END_TEST

START_TEST(test_bad_filters)
{
    const char *bad[] = {"{\"must\":[{\"key\":\"a\",\"range\":{}}]}",
                         "{\"must\":[{\"nope\":1}]}", "[1,2]", "{\"must\":",
                         "{\"must\":[{\"key\":\"a\",\"match\":{\"value\":"
                         "[1]}}]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qv_filter *f = (qv_filter *)0x1;
        char err[256] = "";
        ck_assert_int_eq(
            qv_filter_parse(bad[i], strlen(bad[i]), &f, err, sizeof(err)),
            QV_EINVAL);
        ck_assert_ptr_null(f);
        ck_assert_str_ne(err, "");
    }
    /* 10,000 levels of nesting: an error, not a stack overflow. */
    size_t depth = 10000;
    char *deep = malloc(depth * 12 + 16);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "{\"must\":[");
    n += (size_t)sprintf(deep + n, "{}");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(deep + n, "]}");
    qv_filter *f = NULL;
    ck_assert_int_eq(qv_filter_parse(deep, n, &f, NULL, 0), QV_EINVAL);
    ck_assert_ptr_null(f);
    free(deep);
    ck_assert_int_eq(qv_filter_parse(NULL, 0, &f, NULL, 0), QV_ENULL);
    qv_filter_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("filtered");
    TCase *tc = tcase_create("filtered");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_payload_edits);
    tcase_add_loop_test(tc, test_filtered_recall_across_selectivity, 0,
                        QV_METRIC_MANHATTAN + 1);
    tcase_add_loop_test(tc, test_filtered_recall_indexed, 0, 2);
    tcase_add_test(tc, test_scroll_count_delete_by_filter);
    tcase_add_test(tc, test_planner_periodic_payloads);
    tcase_add_test(tc, test_bad_filters);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
