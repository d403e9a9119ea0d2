/*
 * stopwords.c -- the built-in stopword lists, as data.
 *
 * Qdrant's lists (lib/segment/src/index/field_index/full_text_index/
 * stop_words/LANGUAGE.rs) are NLTK's.  stopwords_data.inc holds 23 of them,
 * word for word as Qdrant ships them (entries that hold a space or a tab,
 * which no token can equal, included), except Basque: Qdrant's list repeats
 * words and holds many with a trailing space or tab; only its 231 distinct
 * words without white space are kept, which matches every token alike.
 * The languages without a list here yet (arabic, bengali, chinese, hinglish,
 * indonesian, japanese, slovene) are known (qvi_stop_languages, so their names
 * parse) and refused with a clear message rather than silently filtering
 * nothing.
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

#include "core/text/stopwords_data.inc"

/* The languages with a list, by name. */
static const struct {
    const char *name;
    const char *const *words;
    size_t n;
} lists[] = {
    {"azerbaijani", sw_azerbaijani,
     sizeof(sw_azerbaijani) / sizeof(sw_azerbaijani[0])},
    {"basque", sw_basque, sizeof(sw_basque) / sizeof(sw_basque[0])},
    {"catalan", sw_catalan, sizeof(sw_catalan) / sizeof(sw_catalan[0])},
    {"danish", sw_danish, sizeof(sw_danish) / sizeof(sw_danish[0])},
    {"dutch", sw_dutch, sizeof(sw_dutch) / sizeof(sw_dutch[0])},
    {"english", sw_english, sizeof(sw_english) / sizeof(sw_english[0])},
    {"finnish", sw_finnish, sizeof(sw_finnish) / sizeof(sw_finnish[0])},
    {"french", sw_french, sizeof(sw_french) / sizeof(sw_french[0])},
    {"german", sw_german, sizeof(sw_german) / sizeof(sw_german[0])},
    {"greek", sw_greek, sizeof(sw_greek) / sizeof(sw_greek[0])},
    {"hebrew", sw_hebrew, sizeof(sw_hebrew) / sizeof(sw_hebrew[0])},
    {"hungarian", sw_hungarian, sizeof(sw_hungarian) / sizeof(sw_hungarian[0])},
    {"italian", sw_italian, sizeof(sw_italian) / sizeof(sw_italian[0])},
    {"kazakh", sw_kazakh, sizeof(sw_kazakh) / sizeof(sw_kazakh[0])},
    {"nepali", sw_nepali, sizeof(sw_nepali) / sizeof(sw_nepali[0])},
    {"norwegian", sw_norwegian, sizeof(sw_norwegian) / sizeof(sw_norwegian[0])},
    {"portuguese", sw_portuguese,
     sizeof(sw_portuguese) / sizeof(sw_portuguese[0])},
    {"romanian", sw_romanian, sizeof(sw_romanian) / sizeof(sw_romanian[0])},
    {"russian", sw_russian, sizeof(sw_russian) / sizeof(sw_russian[0])},
    {"spanish", sw_spanish, sizeof(sw_spanish) / sizeof(sw_spanish[0])},
    {"swedish", sw_swedish, sizeof(sw_swedish) / sizeof(sw_swedish[0])},
    {"tajik", sw_tajik, sizeof(sw_tajik) / sizeof(sw_tajik[0])},
    {"turkish", sw_turkish, sizeof(sw_turkish) / sizeof(sw_turkish[0])},
};

const char *const *qvi_stopwords_of(uint32_t i, size_t *n)
{
    *n = 0;
    if (i >= QVI_STOP_LANGUAGES)
        return NULL;
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
        if (strcmp(lists[k].name, qvi_stop_languages[i]) == 0) {
            *n = lists[k].n;
            return lists[k].words;
        }
    return NULL;
}
