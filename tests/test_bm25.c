/*
 * test_bm25.c -- the built-in qdrant/bm25 model (server/bm25*.c).
 *
 *  1. MurmurHash3_x86_32 against published values, and the token id as
 *     fastembed's abs(mmh3.hash(token)).
 *  2. The default pipeline stems as Snowball English: pairs from the
 *     algorithm's own sample vocabulary (snowballstem.org, english/voc.txt
 *     and output.txt) and its exceptional forms.
 *  3. Stopwords, tokenizing and the BM25 document and query values,
 *     derived by hand from the formula cited in bm25.c.
 *  4. Document options: defaults, k/b/avg_len, language "none", other
 *     languages (their stopwords and stemmer), explicit stopwords and
 *     stemmer, tokenizers, ascii_folding, refusals.
 */
#include "server/bm25.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(murmur3_known_values)
{
    ck_assert_uint_eq(qvs_murmur3_32("", 0, 0), 0);
    ck_assert_uint_eq(qvs_murmur3_32("", 0, 1), 0x514e28b7u);
    ck_assert_uint_eq(qvs_murmur3_32("hello", 5, 0), 0x248bfa47u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    ck_assert_uint_eq(qvs_murmur3_32(fox, strlen(fox), 0), 0x2e4ff723u);
    /* mmh3.hash("foo") == -156908512: the id is its absolute value. */
    ck_assert_uint_eq(qvs_murmur3_32("foo", 3, 0), (uint32_t)-156908512);
    ck_assert_uint_eq(qvs_bm25_token_id("foo", 3), 156908512u);
    ck_assert_uint_eq(qvs_bm25_token_id("hello", 5), 613153351u);
}
END_TEST

static const char *const PAIRS[][2] = {
    {"consign", "consign"},
    {"consigned", "consign"},
    {"consigning", "consign"},
    {"consignment", "consign"},
    {"consist", "consist"},
    {"consisted", "consist"},
    {"consistency", "consist"},
    {"consistent", "consist"},
    {"consistently", "consist"},
    {"consisting", "consist"},
    {"consists", "consist"},
    {"consolation", "consol"},
    {"consolations", "consol"},
    {"consolatory", "consolatori"},
    {"console", "consol"},
    {"consoled", "consol"},
    {"consoles", "consol"},
    {"consolidate", "consolid"},
    {"consolidated", "consolid"},
    {"consolidating", "consolid"},
    {"consoling", "consol"},
    {"consolingly", "consol"},
    {"consols", "consol"},
    {"consonant", "conson"},
    {"consort", "consort"},
    {"consorted", "consort"},
    {"consorting", "consort"},
    {"conspicuous", "conspicu"},
    {"conspicuously", "conspicu"},
    {"conspiracy", "conspiraci"},
    {"conspirator", "conspir"},
    {"conspirators", "conspir"},
    {"conspire", "conspir"},
    {"conspired", "conspir"},
    {"conspiring", "conspir"},
    {"constable", "constabl"},
    {"constables", "constabl"},
    {"constance", "constanc"},
    {"constancy", "constanc"},
    {"constant", "constant"},
    {"knack", "knack"},
    {"knackeries", "knackeri"},
    {"knacks", "knack"},
    {"knag", "knag"},
    {"knave", "knave"},
    {"knaves", "knave"},
    {"knavish", "knavish"},
    {"kneaded", "knead"},
    {"kneading", "knead"},
    {"knee", "knee"},
    {"kneel", "kneel"},
    {"kneeled", "kneel"},
    {"kneeling", "kneel"},
    {"kneels", "kneel"},
    {"knees", "knee"},
    {"knell", "knell"},
    {"knelt", "knelt"},
    {"knew", "knew"},
    {"knick", "knick"},
    {"knif", "knif"},
    {"knife", "knife"},
    {"knight", "knight"},
    {"knightly", "knight"},
    {"knights", "knight"},
    {"knit", "knit"},
    {"knits", "knit"},
    {"knitted", "knit"},
    {"knitting", "knit"},
    {"knives", "knive"},
    {"knob", "knob"},
    {"knobs", "knob"},
    {"knock", "knock"},
    {"knocked", "knock"},
    {"knocker", "knocker"},
    {"knockers", "knocker"},
    {"knocking", "knock"},
    {"knocks", "knock"},
    {"knopp", "knopp"},
    {"knot", "knot"},
    {"knots", "knot"},
    /* the exceptional forms and invariants */
    {"skies", "sky"},
    {"dying", "die"},
    {"news", "news"},
    {"gently", "gentl"},
    {"succeed", "succeed"},
    {"herring", "herring"},
    /* plurals, -ed/-ing, y, the R1 prefixes */
    {"caresses", "caress"},
    {"ponies", "poni"},
    {"ties", "tie"},
    {"cats", "cat"},
    {"gas", "gas"},
    {"running", "run"},
    {"hopping", "hop"},
    {"hoped", "hope"},
    {"agreed", "agre"},
    {"happy", "happi"},
    {"generously", "generous"},
    {"communism", "communism"},
    {"by", "by"},
};

/* One word through the default (english) query pipeline: the single
 * token's index, or 0 when the word is a stopword. */
static uint32_t one_token(const char *w)
{
    qvs_bm25_opts o;
    qvs_bm25_opts_init(&o);
    qvs_bm25_vec v;
    ck_assert_int_eq(qvs_bm25_embed(w, strlen(w), &o, true, &v, NULL, 0),
                     QV_OK);
    ck_assert_uint_le(v.n, 1);
    uint32_t id = v.n ? v.indices[0] : 0;
    qvs_bm25_vec_free(&v);
    return id;
}

START_TEST(stemmer_sample_vocabulary)
{
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(PAIRS) / sizeof(PAIRS[0]); i++) {
        uint32_t id = one_token(PAIRS[i][0]);
        if (!id)
            continue; /* a stopword ("by") */
        const char *stem = PAIRS[i][1];
        ck_assert_msg(id == qvs_bm25_token_id(stem, strlen(stem)),
                      "%s: expected the stem %s", PAIRS[i][0], stem);
        checked++;
    }
    ck_assert_uint_gt(checked, sizeof(PAIRS) / sizeof(PAIRS[0]) - 3);
}
END_TEST

START_TEST(stopwords)
{
    const char *stop[] = {"the", "don't", "yourselves", "a"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(one_token(stop[i]) == 0, "%s", stop[i]);
    ck_assert_uint_eq(one_token("cat"), qvs_bm25_token_id("cat", 3));
    ck_assert_uint_eq(one_token("them2"), qvs_bm25_token_id("them2", 5));
}
END_TEST

static float value_of(const qvs_bm25_vec *v, const char *tok)
{
    uint32_t id = qvs_bm25_token_id(tok, strlen(tok));
    for (uint32_t i = 0; i < v->n; i++)
        if (v->indices[i] == id)
            return v->values[i];
    return -1;
}

START_TEST(document_and_query_values)
{
    qvs_bm25_opts o;
    qvs_bm25_opts_init(&o);
    const char *text = "The cats are RUNNING, running fast!";
    qvs_bm25_vec v;
    ck_assert_int_eq(qvs_bm25_embed(text, strlen(text), &o, false, &v, NULL, 0),
                     QV_OK);
    /* kept: cat, run, run, fast (the, are: stopwords): doc_len 4 */
    ck_assert_uint_eq(v.n, 3);
    for (uint32_t i = 1; i < v.n; i++)
        ck_assert_uint_lt(v.indices[i - 1], v.indices[i]);
    double norm = 1.2 * (1 - 0.75 + 0.75 * 4 / 256.0);
    ck_assert_double_eq_tol(value_of(&v, "cat"), 1 * 2.2 / (1 + norm), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "fast"), 1 * 2.2 / (1 + norm), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "run"), 2 * 2.2 / (2 + norm), 1e-6);
    qvs_bm25_vec_free(&v);
    ck_assert_int_eq(qvs_bm25_embed(text, strlen(text), &o, true, &v, NULL, 0),
                     QV_OK);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_float_eq(value_of(&v, "run"), 1.0f);
    qvs_bm25_vec_free(&v);
    /* Only stopwords and punctuation: an empty vector. */
    ck_assert_int_eq(qvs_bm25_embed("the, of -- a", 12, &o, false, &v, NULL, 0),
                     QV_OK);
    ck_assert_uint_eq(v.n, 0);
    qvs_bm25_vec_free(&v);
}
END_TEST

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(document_options)
{
    qvs_resp r;
    memset(&r, 0, sizeof(r));
    r.http_status = 200;
    qvs_bm25_vec v;
    cJSON *j = parse("{\"text\":\"running dogs\",\"model\":\"qdrant/bm25\","
                     "\"options\":{\"k\":2,\"b\":0,\"avg_len\":10}}");
    ck_assert(qvs_bm25_is_document(j));
    ck_assert(qvs_bm25_document(j, false, &v, &r, "doc"));
    /* b = 0: no length normalisation, tf 1 -> (k + 1) / (1 + k) = 1 */
    ck_assert_uint_eq(v.n, 2);
    ck_assert_double_eq_tol(value_of(&v, "dog"), 1.0, 1e-6);
    qvs_bm25_vec_free(&v);
    cJSON_Delete(j);
    /* language none: no stopwords, no stemming */
    j = parse("{\"text\":\"the dogs\",\"model\":\"Qdrant/bm25\","
              "\"options\":{\"language\":\"none\"}}");
    ck_assert(qvs_bm25_document(j, true, &v, &r, "doc"));
    ck_assert_uint_eq(v.n, 2);
    ck_assert_float_eq(value_of(&v, "dogs"), 1.0f);
    ck_assert_float_eq(value_of(&v, "the"), 1.0f);
    qvs_bm25_vec_free(&v);
    cJSON_Delete(j);
    const char *bad[] = {
        "{\"text\":\"x\",\"model\":\"sentence-transformers/all-MiniLM-L6-v2\"}",
        "{\"text\":\"x\",\"model\":\"qdrant/bm25\",\"options\":{\"b\":2}}",
        "{\"text\":\"x\",\"model\":\"qdrant/bm25\","
        "\"options\":{\"stopwords\":\"klingon\"}}",
        "{\"text\":\"x\",\"model\":\"qdrant/bm25\","
        "\"options\":{\"stemmer\":{\"type\":\"snowball\","
        "\"language\":\"klingon\"}}}",
        "{\"text\":\"x\",\"model\":\"qdrant/bm25\","
        "\"options\":{\"tokenizer\":\"sentencepiece\"}}",
        "{\"text\":\"x\",\"model\":\"qdrant/bm25\","
        "\"options\":{\"ascii_folding\":1}}",
        "{\"text\":5,\"model\":\"qdrant/bm25\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = parse(bad[i]);
        r.http_status = 200;
        ck_assert_msg(!qvs_bm25_document(j, false, &v, &r, "doc"), "%s",
                      bad[i]);
        ck_assert_int_eq(r.http_status, 400);
        cJSON_Delete(j);
    }
}
END_TEST

/* Embeds text with the Document options opts (JSON), as a query or a
 * document. */
static void embed_opts(const char *opts, const char *text, bool query,
                       qvs_bm25_vec *v)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"text\":\"%s\",\"model\":\"qdrant/bm25\",\"options\":%s}", text,
             opts);
    qvs_resp r;
    memset(&r, 0, sizeof(r));
    r.http_status = 200;
    cJSON *j = parse(json);
    ck_assert_msg(qvs_bm25_document(j, query, v, &r, "doc"), "%s", json);
    cJSON_Delete(j);
}

/* BM25's document value of a token seen tf times in doc_len tokens, with
 * the default k 1.2, b 0.75, avg_len 256. */
static double bm25_value(double tf, double doc_len)
{
    return tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * doc_len / 256.0));
}

/* The prefix tokenizer as Qdrant 1.19's BM25 runs it (bm25_inference.rs:
 * documents through tokenize_doc, queries through tokenize_query; the
 * prefix tokenizer in lib/segment/.../tokenizers/mod.rs): a document word
 * gives its prefixes of min_token_len (default 1) to max_token_len
 * characters, the whole word once n reaches its length, each a token
 * (tf and doc_len count them); a query word is kept whole, cut to
 * max_token_len characters, and not checked against the stopwords. */
START_TEST(prefix_tokenizer_documents_and_queries)
{
    qvs_bm25_vec v;
    const char *plain = "{\"tokenizer\":\"prefix\",\"language\":\"none\"}";
    /* h he hel hell hello w wo wor worl world: 10 tokens, tf 1 each */
    embed_opts(plain, "Hello world", false, &v);
    ck_assert_uint_eq(v.n, 10);
    const char *const want[] = {"h", "he", "hel", "hell", "hello",
                                "w", "wo", "wor", "worl", "world"};
    for (int i = 0; i < 10; i++)
        ck_assert_double_eq_tol(value_of(&v, want[i]), bm25_value(1, 10), 1e-6);
    qvs_bm25_vec_free(&v);
    /* a query word is one token, whatever its length */
    embed_opts(plain, "HEL hello", true, &v);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_float_eq(value_of(&v, "hel"), 1.0f);
    ck_assert_float_eq(value_of(&v, "hello"), 1.0f);
    ck_assert_double_lt(value_of(&v, "h"), 0); /* no shorter prefixes */
    qvs_bm25_vec_free(&v);

    /* max_token_len 3: "hello" -> h he hel; "hi" -> h hi (whole at 2):
     * doc_len 5, "h" twice; a query "hello" is cut to "hel". */
    const char *max3 = "{\"tokenizer\":\"prefix\",\"language\":\"none\","
                       "\"max_token_len\":3}";
    embed_opts(max3, "hello hi", false, &v);
    ck_assert_uint_eq(v.n, 4);
    ck_assert_double_eq_tol(value_of(&v, "h"), bm25_value(2, 5), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "hel"), bm25_value(1, 5), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "hi"), bm25_value(1, 5), 1e-6);
    ck_assert_double_lt(value_of(&v, "hello"), 0);
    qvs_bm25_vec_free(&v);
    embed_opts(max3, "hello", true, &v);
    ck_assert_uint_eq(v.n, 1);
    ck_assert_float_eq(value_of(&v, "hel"), 1.0f);
    qvs_bm25_vec_free(&v);

    /* min_token_len 2: "a" goes (shorter), "bc" -> bc, "def" -> de def;
     * in a query too "a" goes */
    const char *min2 = "{\"tokenizer\":\"prefix\",\"language\":\"none\","
                       "\"min_token_len\":2}";
    embed_opts(min2, "a bc def", false, &v);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_double_eq_tol(value_of(&v, "de"), bm25_value(1, 3), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "bc"), bm25_value(1, 3), 1e-6);
    qvs_bm25_vec_free(&v);
    embed_opts(min2, "a de", true, &v);
    ck_assert_uint_eq(v.n, 1);
    ck_assert_float_eq(value_of(&v, "de"), 1.0f);
    qvs_bm25_vec_free(&v);

    /* English defaults: the document drops the stopword "the" and stems
     * "theory" to "theori" before cutting it (t th the theo theor
     * theori); the query keeps "the" (no stopword check on the query side
     * of the prefix tokenizer), which the word tokenizer drops. */
    const char *en = "{\"tokenizer\":\"prefix\"}";
    embed_opts(en, "The theory", false, &v);
    ck_assert_uint_eq(v.n, 6);
    ck_assert_double_eq_tol(value_of(&v, "the"), bm25_value(1, 6), 1e-6);
    ck_assert_double_eq_tol(value_of(&v, "theori"), bm25_value(1, 6), 1e-6);
    qvs_bm25_vec_free(&v);
    embed_opts(en, "the", true, &v);
    ck_assert_uint_eq(v.n, 1);
    ck_assert_float_eq(value_of(&v, "the"), 1.0f);
    qvs_bm25_vec_free(&v);
    embed_opts("{\"tokenizer\":\"word\"}", "the", true, &v);
    ck_assert_uint_eq(v.n, 0);
    qvs_bm25_vec_free(&v);
}
END_TEST

/* Languages as Qdrant's new_token_processor_from_config: a stopword and
 * Snowball language gives both; explicit stopwords / stemmer win; a
 * language Qdrant does not know gives neither. */
static uint32_t n_tokens(const char *json, const char *probe, bool *found)
{
    qvs_resp r;
    memset(&r, 0, sizeof(r));
    r.http_status = 200;
    cJSON *j = cJSON_Parse(json);
    ck_assert_ptr_nonnull(j);
    qvs_bm25_vec v;
    ck_assert_msg(qvs_bm25_document(j, true, &v, &r, "doc"), "%s", json);
    uint32_t n = v.n;
    *found = false;
    uint32_t id = qvs_bm25_token_id(probe, strlen(probe));
    for (uint32_t i = 0; i < v.n; i++)
        *found = *found || v.indices[i] == id;
    qvs_bm25_vec_free(&v);
    cJSON_Delete(j);
    return n;
}

START_TEST(languages_and_text_options)
{
    bool f;
    /* Spanish: "los" and "de" are stopwords, "tiempos" stems to "tiemp" */
    ck_assert_uint_eq(
        n_tokens("{\"text\":\"los tiempos de guerra\",\"model\":"
                 "\"qdrant/bm25\",\"options\":{\"language\":\"spanish\"}}",
                 "tiemp", &f),
        2);
    ck_assert(f);
    /* The same text in the default (english) keeps "los" and "de" */
    ck_assert_uint_eq(n_tokens("{\"text\":\"los tiempos de guerra\",\"model\":"
                               "\"qdrant/bm25\"}",
                               "los", &f),
                      4);
    ck_assert(f);
    /* An unknown language: no stopwords, no stemming */
    ck_assert_uint_eq(
        n_tokens("{\"text\":\"the running dogs\",\"model\":\"qdrant/bm25\","
                 "\"options\":{\"language\":\"elvish\"}}",
                 "running", &f),
        3);
    ck_assert(f);
    /* Explicit custom stopwords replace the language's; stemmer kept */
    ck_assert_uint_eq(
        n_tokens("{\"text\":\"the running dogs\",\"model\":\"qdrant/bm25\","
                 "\"options\":{\"stopwords\":{\"custom\":[\"dogs\"]}}}",
                 "run", &f),
        2); /* the, run */
    ck_assert(f);
    /* ascii_folding and the whitespace tokenizer */
    ck_assert_uint_eq(
        n_tokens("{\"text\":\"ação-x\",\"model\":\"qdrant/bm25\","
                 "\"options\":{\"ascii_folding\":true,\"tokenizer\":"
                 "\"whitespace\",\"language\":\"none\"}}",
                 "acao-x", &f),
        1);
    ck_assert(f);
    /* A stemmer of another language than the stopwords */
    ck_assert_uint_eq(
        n_tokens("{\"text\":\"the chats\",\"model\":\"qdrant/bm25\","
                 "\"options\":{\"stemmer\":{\"type\":\"snowball\","
                 "\"language\":\"french\"}}}",
                 "chat", &f),
        1);
    ck_assert(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bm25");
    TCase *tc = tcase_create("bm25");
    tcase_add_test(tc, murmur3_known_values);
    tcase_add_test(tc, stemmer_sample_vocabulary);
    tcase_add_test(tc, stopwords);
    tcase_add_test(tc, document_and_query_values);
    tcase_add_test(tc, document_options);
    tcase_add_test(tc, prefix_tokenizer_documents_and_queries);
    tcase_add_test(tc, languages_and_text_options);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
