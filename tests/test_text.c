/*
 * test_text.c -- the full-text pipeline (core/text/) and full-text index
 * options: each tokenizer, lowercase, ASCII folding, stopwords, Snowball
 * stemmers, token lengths, prefix and phrase semantics, the options' JSON
 * and encoding, and a filtered count on random texts against an
 * independently computed expectation.
 *
 * Expected tokens follow Qdrant 1.19's own tests where they exist
 * (lib/segment/src/index/field_index/full_text_index/tokenizers/mod.rs:
 * test_prefix_tokenizer, test_prefix_query_tokenizer,
 * test_multilingual_tokenizer_*), and the Snowball reference outputs
 * (snowballstem.org's vocabulary/output lists) for the stemmers.
 */
#include "core/core.h"
#include "core/text/text.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pipeline helpers --------------------------------------------------- */

typedef struct toks {
    char s[4096];
    size_t n;
} toks;

static bool collect(void *ctx, const char *t, size_t n)
{
    toks *b = ctx;
    if (b->n)
        b->s[b->n++] = '|';
    memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = '\0';
    return false;
}

/* The tokens of text under o, joined with '|'. */
static const char *run(const qv_text_index_options *o, bool query,
                       const char *text)
{
    static toks b;
    memset(&b, 0, sizeof(b));
    qvi_text_opts *t = NULL;
    char err[256] = "";
    if (o)
        ck_assert_msg(qvi_text_opts_new(o, &t, err, sizeof(err)) == QV_OK, "%s",
                      err);
    ck_assert_int_eq(
        qvi_text_analyze(t, query, text, strlen(text), collect, &b), QV_OK);
    qvi_text_opts_unref(t);
    return b.s;
}

static qv_text_index_options opts(qv_text_tokenizer tok)
{
    qv_text_index_options o;
    qv_text_index_options_init(&o);
    o.tokenizer = tok;
    return o;
}

START_TEST(test_tokenizers)
{
    ck_assert_str_eq(run(NULL, false, "Hello, World! Привет, мир!"),
                     "hello|world|привет|мир");
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WHITESPACE);
    ck_assert_str_eq(run(&o, false, "Hello, world!\tfoo-bar\u3000x"),
                     "hello,|world!|foo-bar|x");
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.lowercase = 0;
    ck_assert_str_eq(run(&o, false, "Hello, World"), "Hello|World");
    /* Qdrant's test_prefix_tokenizer: min 1, max 4. */
    o = opts(QV_TEXT_TOKENIZER_PREFIX);
    o.min_token_len = 1;
    o.max_token_len = 4;
    ck_assert_str_eq(run(&o, false, "hello, мир!"), "h|he|hel|hell|м|ми|мир");
    /* test_prefix_query_tokenizer: the query word cut to max. */
    ck_assert_str_eq(run(&o, true, "hello, мир!"), "hell|мир");
    /* Qdrant's test_multilingual_tokenizer_english. */
    o = opts(QV_TEXT_TOKENIZER_MULTILINGUAL);
    ck_assert_str_eq(run(&o, false, "What are you waiting for?"),
                     "what|are|you|waiting|for");
    /* Chinese and Japanese are cut by ICU's dictionary into words; Qdrant's
     * charabia gives 今天|是|星期|一 for the first. */
    const char *zh = run(&o, false, "今天是星期一");
    ck_assert_msg(strchr(zh, '|') != NULL, "not segmented: %s", zh);
    ck_assert_msg(strstr(zh, "今天") == zh, "%s", zh);
    const char *th = run(&o, false, "มาทำงานกันเถอะ");
    ck_assert_msg(strchr(th, '|') != NULL, "Thai not segmented: %s", th);
}
END_TEST

START_TEST(test_lengths_and_folding)
{
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
    o.min_token_len = 3;
    o.max_token_len = 5;
    ck_assert_str_eq(run(&o, false, "a ab abc abcde abcdef мирок"),
                     "abc|abcde|мирок");
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.ascii_folding = 1;
    ck_assert_str_eq(run(&o, false, "Ação Crème brûlée Straße Øre ﬁne Łódź"),
                     "acao|creme|brulee|strasse|ore|fine|lodz");
    /* Non-Latin letters stay. */
    ck_assert_str_eq(run(&o, false, "мир σοφία"), "мир|σοφία");
    o.ascii_folding = 0;
    ck_assert_str_eq(run(&o, false, "Ação"), "ação");
}
END_TEST

START_TEST(test_stopwords)
{
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stopwords_language = "english";
    ck_assert_str_eq(run(&o, false, "The quick fox and THE dog"),
                     "quick|fox|dog");
    const char *custom[] = {"Quick", "fox"};
    const char *langs[] = {"english"};
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stopwords_set = 1;
    o.custom_stopwords = custom;
    o.n_custom_stopwords = 2;
    ck_assert_str_eq(run(&o, false, "The quick fox dog"), "the|dog");
    o.stopword_languages = langs;
    o.n_stopword_languages = 1;
    ck_assert_str_eq(run(&o, false, "The quick fox dog"), "dog");
    /* lowercase off: custom words are compared as given. */
    o.lowercase = 0;
    ck_assert_str_eq(run(&o, false, "Quick quick The the"), "quick|The");
    /* NLTK's lists as Qdrant ships them; the others are refused. */
    static const struct {
        const char *lang, *in, *out;
    } other[] = {
        {"french", "Le chat est sur la table", "chat|table"},
        {"german", "Der Hund und die Katze über", "hund|katze"},
        {"russian", "Кот и собака между нами", "кот|собака|нами"},
        {"spanish", "El perro y la casa", "perro|casa"},
        {"italian", "Il cane e la casa", "cane|casa"},
        {"dutch", "De hond en het huis", "hond|huis"},
        {"portuguese", "O cão e a casa", "cão|casa"},
        {"swedish", "Hunden och huset", "hunden|huset"},
        {"danish", "Hunden og huset", "hunden|huset"},
        {"norwegian", "Hunden og huset", "hunden|huset"},
        {"finnish", "Koira ja talo", "koira|talo"},
        {"hungarian", "A kutya és a ház", "kutya|ház"},
        {"turkish", "Köpek ve ev", "köpek|ev"},
        {"greek", "ο σκύλος και το σπίτι", "σκύλος|σπίτι"},
        {"romanian", "Câinele și casa pe deal", "câinele|și|casa|deal"},
        {"azerbaijani", "it və ev", "it|ev"},
        {"kazakh", "ит және үй бірақ", "ит|және|үй"},
        {"catalan", "El gos i la casa", "gos|casa"},
        {"hebrew", "הכלב של הבית", "הכלב|הבית"},
        {"tajik", "саг ва хона", "саг|хона"},
        {"nepali", "कुकुर र घर", "कुकुर|घर"},
        {"basque", "Txakurra eta etxea", "txakurra|etxea"},
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        o = opts(QV_TEXT_TOKENIZER_WORD);
        o.stopwords_language = other[i].lang;
        ck_assert_str_eq(run(&o, false, other[i].in), other[i].out);
    }
    qvi_text_opts *t;
    char err[256];
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stopwords_language = "slovene";
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not built in"));
    /* Prefix queries keep stopwords: "the" still finds "theory". */
    o = opts(QV_TEXT_TOKENIZER_PREFIX);
    o.stopwords_language = "english";
    ck_assert_str_eq(run(&o, true, "the"), "the");
    ck_assert_str_eq(run(&o, false, "the theory"),
                     "t|th|the|theo|theor|theory");
}
END_TEST

START_TEST(test_stemmers)
{
    /* Snowball reference pairs (vocabulary -> output). */
    static const struct {
        const char *lang, *in, *out;
    } cases[] = {
        {"english", "running jumps easily connection generously",
         "run|jump|easili|connect|generous"},
        {"english", "consign consigned consigning consignment",
         "consign|consign|consign|consign"},
        {"french", "continuellement continuité", "continuel|continu"},
        {"german", "aufeinanderfolgenden häuser", "aufeinanderfolg|haus"},
        {"russian", "вагоны вагонов", "вагон|вагон"},
        {"spanish", "corriendo chicas", "corr|chic"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
        o.stemmer_language = cases[i].lang;
        ck_assert_str_eq(run(&o, false, cases[i].in), cases[i].out);
    }
    /* Every language Qdrant accepts has a stemmer. */
    for (int i = 0; i < QVI_STEM_LANGUAGES; i++) {
        qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
        o.stemmer_language = qvi_stem_languages[i];
        run(&o, false, "words");
    }
}
END_TEST

START_TEST(test_validation_and_json)
{
    qvi_text_opts *t;
    char err[256];
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
    o.min_token_len = 5;
    o.max_token_len = 2;
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "min_token_len"));
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stemmer_language = "klingon";
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "klingon"));
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stopwords_language = "elvish";
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);
    o = opts((qv_text_tokenizer)9);
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.version = 0;
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_EINVAL);

    char *j = qvi_text_opts_json(NULL);
    ck_assert_str_eq(j, "{\"type\":\"text\",\"tokenizer\":\"word\"}");
    free(j);
    const char *custom[] = {"b\"q", "a", "b\"q"};
    const char *langs[] = {"english"};
    o = opts(QV_TEXT_TOKENIZER_PREFIX);
    o.min_token_len = 2;
    o.max_token_len = 10;
    o.lowercase = 1;
    o.ascii_folding = 1;
    o.phrase_matching = 1;
    o.on_disk = 0;
    o.stopwords_set = 1;
    o.stopword_languages = langs;
    o.n_stopword_languages = 1;
    o.custom_stopwords = custom;
    o.n_custom_stopwords = 3;
    o.stemmer_language = "english";
    ck_assert_int_eq(qvi_text_opts_new(&o, &t, err, sizeof(err)), QV_OK);
    j = qvi_text_opts_json(t);
    ck_assert_str_eq(
        j, "{\"type\":\"text\",\"tokenizer\":\"prefix\",\"min_token_len\":2,"
           "\"max_token_len\":10,\"lowercase\":true,\"ascii_folding\":true,"
           "\"phrase_matching\":true,\"stopwords\":{\"languages\":"
           "[\"english\"],\"custom\":[\"a\",\"b\\\"q\"]},\"on_disk\":false,"
           "\"stemmer\":{\"type\":\"snowball\",\"language\":\"english\"}}");
    /* The encoding comes back equal, and its damaged forms are refused. */
    size_t len;
    uint8_t *enc = qvi_text_opts_encode(t, &len);
    qvi_text_opts *back;
    ck_assert_int_eq(qvi_text_opts_decode(enc, len, &back, err, sizeof(err)),
                     QV_OK);
    ck_assert(qvi_text_opts_equal(t, back));
    char *j2 = qvi_text_opts_json(back);
    ck_assert_str_eq(j, j2);
    for (size_t cut = 0; cut < len; cut++) {
        qvi_text_opts *bad = NULL;
        ck_assert_int_eq(qvi_text_opts_decode(enc, cut, &bad, err, sizeof(err)),
                         QV_ECORRUPT);
        ck_assert_ptr_null(bad);
    }
    enc[7] = 77; /* stemmer index */
    qvi_text_opts *bad = NULL;
    ck_assert_int_eq(qvi_text_opts_decode(enc, len, &bad, err, sizeof(err)),
                     QV_ECORRUPT);
    ck_assert_ptr_null(bad);
    ck_assert(!qvi_text_opts_equal(t, NULL));
    free(enc);
    free(j);
    free(j2);
    qvi_text_opts_unref(back);
    qvi_text_opts_unref(t);
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stopwords_language = "english";
    ck_assert_int_eq(qv_text_index_options_json(&o, &j, err, sizeof(err)),
                     QV_OK);
    ck_assert_str_eq(j, "{\"type\":\"text\",\"tokenizer\":\"word\","
                        "\"stopwords\":\"english\"}");
    free(j);
}
END_TEST

/* ---- the index ---------------------------------------------------------- */

static qv_collection *make(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    cfg.metric = QV_METRIC_EUCLID;
    qv_collection *c;
    ck_assert_int_eq(qv_collection_create(&cfg, &c), QV_OK);
    return c;
}

static void put(qv_collection *c, uint64_t id, const char *json)
{
    qv_point_id pid = qv_id_from_num(id);
    float v[2] = {(float)id, 0};
    size_t len = strlen(json);
    ck_assert_int_eq(qv_upsert_with_payloads(c, &pid, v, 1, 2, &json, &len),
                     QV_OK);
}

static uint64_t count(qv_collection *c, const char *kind, const char *text)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"must\":{\"key\":\"t\",\"match\":{\"%s\":\"%s\"}}}", kind,
             text);
    qv_filter *f = NULL;
    char err[256];
    ck_assert_msg(qv_filter_parse(json, strlen(json), &f, err, sizeof(err)) ==
                      QV_OK,
                  "%s", err);
    uint64_t n = 0;
    ck_assert_int_eq(qv_count_filter(c, f, &n), QV_OK);
    qv_filter_free(f);
    return n;
}

START_TEST(test_index_options)
{
    qv_collection *c = make();
    put(c, 1, "{\"t\":\"The Theory of running dogs\"}");
    put(c, 2, "{\"t\":\"a dog runs\"}");
    put(c, 3, "{\"t\":\"Crème brûlée\"}");
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_PREFIX);
    o.min_token_len = 2;
    o.max_token_len = 6;
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_OK);
    ck_assert_uint_eq(count(c, "text", "theo"), 1);
    ck_assert_uint_eq(count(c, "text", "the"), 1);
    ck_assert_uint_eq(count(c, "text", "THEORY"), 1);
    ck_assert_uint_eq(count(c, "text", "theoryx"), 1); /* cut to 6 */
    ck_assert_uint_eq(count(c, "text", "run"), 2);
    ck_assert_uint_eq(count(c, "text", "dog run"), 2);
    ck_assert_uint_eq(count(c, "text", "x"), 0); /* under min */
    char *j;
    ck_assert_int_eq(qv_payload_index_text_params(c, "t", &j), QV_OK);
    ck_assert_str_eq(j, "{\"type\":\"text\",\"tokenizer\":\"prefix\","
                        "\"min_token_len\":2,\"max_token_len\":6}");
    qv_free(j);
    /* Other options replace the index; the same ones change nothing. */
    o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stemmer_language = "english";
    o.stopwords_language = "english";
    o.ascii_folding = 1;
    o.phrase_matching = 1;
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_OK);
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_OK);
    ck_assert_uint_eq(count(c, "text", "theo"), 0);
    ck_assert_uint_eq(count(c, "text", "running"), 2); /* run */
    ck_assert_uint_eq(count(c, "text", "the dogs"), 2);
    ck_assert_uint_eq(count(c, "text", "creme"), 1);
    ck_assert_uint_eq(count(c, "text", "CRÈME"), 1);
    ck_assert_uint_eq(count(c, "phrase", "running dog"), 1);
    /* "a dog runs": "a" is a stopword, stems dog run. */
    ck_assert_uint_eq(count(c, "phrase", "dog running"), 1);
    ck_assert_uint_eq(count(c, "phrase", "dogs theory"), 0);
    ck_assert_uint_eq(count(c, "text_any", "theory brulee"), 2);
    /* Only stopwords: no token, nothing matches. */
    ck_assert_uint_eq(count(c, "text", "the of"), 0);
    /* Bad options change nothing. */
    o.min_token_len = 9;
    o.max_token_len = 1;
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_EINVAL);
    ck_assert_uint_eq(count(c, "text", "running"), 2);
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", NULL), QV_ENULL);
    ck_assert_int_eq(qv_payload_index_create(c, "k", QV_INDEX_KEYWORD), QV_OK);
    ck_assert_int_eq(qv_payload_index_text_params(c, "k", &j), QV_ENOTFOUND);
    qv_collection_release(c);
}
END_TEST

/* Random texts over a small vocabulary: a prefix index's count equals the
 * points having, for every query word, a word it begins (computed here by
 * plain string comparison). */
START_TEST(test_random_prefix_counts)
{
    static const char *vocab[] = {"apple", "apply",  "ape",   "banana",
                                  "band",  "bandit", "cat",   "catalog",
                                  "dog",   "dot",    "Zebra", "zen"};
    enum { NV = 12, NP = 300, NW = 5 };
    uint64_t seed = 12345;
    int words[NP][NW];
    qv_collection *c = make();
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_PREFIX);
    o.max_token_len = 4;
    ck_assert_int_eq(qv_payload_index_create_text(c, "t", &o), QV_OK);
    for (int p = 0; p < NP; p++) {
        char json[256] = "{\"t\":\"";
        for (int w = 0; w < NW; w++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            words[p][w] = (int)((seed >> 33) % NV);
            strcat(json, vocab[words[p][w]]);
            strcat(json, w + 1 < NW ? ", " : "\"}");
        }
        put(c, (uint64_t)p + 1, json);
    }
    static const char *queries[] = {"ap",      "app", "band", "bandi", "ca",
                                    "cat dog", "ze",  "z",    "do ap", "xyz"};
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        /* The query words, cut to 4 characters and lowercased. */
        char qs[64];
        snprintf(qs, sizeof(qs), "%s", queries[q]);
        uint64_t want = 0;
        for (int p = 0; p < NP; p++) {
            bool all = true;
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%s", qs);
            for (char *w = strtok(tmp, " "); w; w = strtok(NULL, " ")) {
                size_t wl = strlen(w) > 4 ? 4 : strlen(w);
                bool any = false;
                for (int k = 0; k < NW; k++)
                    any = any || strncasecmp(vocab[words[p][k]], w, wl) == 0;
                all = all && any;
            }
            want += all;
        }
        ck_assert_msg(count(c, "text", qs) == want, "%s: %llu", qs,
                      (unsigned long long)want);
    }
    qv_collection_release(c);
}
END_TEST

/* Queries on a stemmed, folded prefix index from several threads while a
 * writer updates payloads and replaces the index: each query keeps its
 * options alive (a reference) and makes its own stemmer, so the answers
 * stay exact (run under ThreadSanitizer with -DQUIVER_SANITIZE=thread). */
typedef struct race {
    qv_collection *c;
    int stop;
    int bad;
} race;

static void *race_reader(void *arg)
{
    race *r = arg;
    const char *q = "{\"must\":{\"key\":\"t\",\"match\":{\"text\":"
                    "\"running\"}}}";
    qv_filter *f = NULL;
    char err[256];
    if (qv_filter_parse(q, strlen(q), &f, err, sizeof(err)) != QV_OK)
        return NULL;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        uint64_t n = 0;
        /* Points 1..20 always say "runs"; 21..40 are rewritten between
         * "ran" and "running": with either index, 20 or 40 match. */
        if (qv_count_filter(r->c, f, &n) != QV_OK || n < 20 || n > 40)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
    }
    qv_filter_free(f);
    return NULL;
}

START_TEST(test_concurrent_queries)
{
    race r = {.c = make()};
    for (uint64_t i = 1; i <= 40; i++)
        put(r.c, i, i <= 20 ? "{\"t\":\"Ça runs\"}" : "{\"t\":\"ran\"}");
    qv_text_index_options o = opts(QV_TEXT_TOKENIZER_WORD);
    o.stemmer_language = "english";
    o.ascii_folding = 1;
    ck_assert_int_eq(qv_payload_index_create_text(r.c, "t", &o), QV_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_reader, &r), 0);
    for (int round = 0; round < 30; round++) {
        for (uint64_t i = 21; i <= 40; i++)
            put(r.c, i, round % 2 ? "{\"t\":\"ran\"}" : "{\"t\":\"running\"}");
        o.tokenizer =
            round % 3 ? QV_TEXT_TOKENIZER_WORD : QV_TEXT_TOKENIZER_WHITESPACE;
        ck_assert_int_eq(qv_payload_index_create_text(r.c, "t", &o), QV_OK);
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(r.bad, 0);
    qv_collection_release(r.c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tokenizers);
    tcase_add_test(tc, test_lengths_and_folding);
    tcase_add_test(tc, test_stopwords);
    tcase_add_test(tc, test_stemmers);
    tcase_add_test(tc, test_validation_and_json);
    tcase_add_test(tc, test_index_options);
    tcase_add_test(tc, test_random_prefix_counts);
    tcase_add_test(tc, test_concurrent_queries);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
