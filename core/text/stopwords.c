/*
 * stopwords.c -- the built-in stopword lists, as data.
 *
 * Qdrant's lists (lib/segment/src/index/field_index/full_text_index/
 * stop_words/LANGUAGE.rs) are NLTK's.  The English one below is Qdrant's
 * english.rs word for word (NLTK's 179 words, in NLTK's order).  The other
 * languages Qdrant names are known (qvi_stop_languages, so their names
 * parse) but have no list here yet: asking for one is refused with a
 * clear message rather than silently filtering nothing.
 */
#include "core/text/text.h"

#include <string.h>

const char *const qvi_stop_languages[QVI_STOP_LANGUAGES] = {
    "arabic",    "azerbaijani", "basque",     "bengali",  "catalan",
    "chinese",   "danish",      "dutch",      "english",  "finnish",
    "french",    "german",      "greek",      "hebrew",   "hinglish",
    "hungarian", "indonesian",  "italian",    "japanese", "kazakh",
    "nepali",    "norwegian",   "portuguese", "romanian", "russian",
    "slovene",   "spanish",     "swedish",    "tajik",    "turkish",
};

/* Qdrant's SnowballLanguage; every one is a libstemmer algorithm. */
const char *const qvi_stem_languages[QVI_STEM_LANGUAGES] = {
    "arabic",  "armenian",  "danish",     "dutch",    "english",
    "finnish", "french",    "german",     "greek",    "hungarian",
    "italian", "norwegian", "portuguese", "romanian", "russian",
    "spanish", "swedish",   "tamil",      "turkish",
};

static const char *const english[] = {
    "i",        "me",        "my",        "myself",   "we",         "our",
    "ours",     "ourselves", "you",       "you're",   "you've",     "you'll",
    "you'd",    "your",      "yours",     "yourself", "yourselves", "he",
    "him",      "his",       "himself",   "she",      "she's",      "her",
    "hers",     "herself",   "it",        "it's",     "its",        "itself",
    "they",     "them",      "their",     "theirs",   "themselves", "what",
    "which",    "who",       "whom",      "this",     "that",       "that'll",
    "these",    "those",     "am",        "is",       "are",        "was",
    "were",     "be",        "been",      "being",    "have",       "has",
    "had",      "having",    "do",        "does",     "did",        "doing",
    "a",        "an",        "the",       "and",      "but",        "if",
    "or",       "because",   "as",        "until",    "while",      "of",
    "at",       "by",        "for",       "with",     "about",      "against",
    "between",  "into",      "through",   "during",   "before",     "after",
    "above",    "below",     "to",        "from",     "up",         "down",
    "in",       "out",       "on",        "off",      "over",       "under",
    "again",    "further",   "then",      "once",     "here",       "there",
    "when",     "where",     "why",       "how",      "all",        "any",
    "both",     "each",      "few",       "more",     "most",       "other",
    "some",     "such",      "no",        "nor",      "not",        "only",
    "own",      "same",      "so",        "than",     "too",        "very",
    "s",        "t",         "can",       "will",     "just",       "don",
    "don't",    "should",    "should've", "now",      "d",          "ll",
    "m",        "o",         "re",        "ve",       "y",          "ain",
    "aren",     "aren't",    "couldn",    "couldn't", "didn",       "didn't",
    "doesn",    "doesn't",   "hadn",      "hadn't",   "hasn",       "hasn't",
    "haven",    "haven't",   "isn",       "isn't",    "ma",         "mightn",
    "mightn't", "mustn",     "mustn't",   "needn",    "needn't",    "shan",
    "shan't",   "shouldn",   "shouldn't", "wasn",     "wasn't",     "weren",
    "weren't",  "won",       "won't",     "wouldn",   "wouldn't",
};

const char *const *qvi_stopwords_of(uint32_t i, size_t *n)
{
    if (i < QVI_STOP_LANGUAGES &&
        strcmp(qvi_stop_languages[i], "english") == 0) {
        *n = sizeof(english) / sizeof(english[0]);
        return english;
    }
    *n = 0;
    return NULL;
}
