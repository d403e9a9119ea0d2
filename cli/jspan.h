/*
 * jspan.h -- JSON read as spans of the original text (cli/jspan.c).
 *
 * `quiver migrate` must carry payload numbers exactly (integers up to
 * 2^64 - 1, doubles to the last bit) between Qdrant servers and the
 * library.  A JSON tree library (cJSON) turns every number into a double,
 * so responses are not parsed into a tree at all: these helpers find the
 * span of text a value occupies, and the caller passes that text on
 * unchanged (the library's payload parser and the server's both read
 * numbers exactly).  Strings are decoded by cJSON; numbers are compared
 * by kind and exact value.
 *
 * The text is untrusted (a server's response): every step is bounded by
 * the span's end and a malformed value gives false / NULL, never a read
 * past the end.  Nesting is limited to JS_MAX_DEPTH.
 */
#ifndef QUIVER_CLI_JSPAN_H
#define QUIVER_CLI_JSPAN_H

#include <stdbool.h>
#include <stddef.h>

#define JS_MAX_DEPTH 256

typedef struct js_span {
    const char *p; /* first byte of the value (no leading white space) */
    size_t n;      /* bytes */
} js_span;

/* The whole text as one value: leading and trailing white space removed;
 * false unless it is exactly one well-formed value. */
bool js_root(const char *text, size_t len, js_span *out);

/* The kind of a value by its first byte: '{', '[', '"', 'n' (null), 't',
 * 'f', or '0' for a number. */
char js_kind(js_span v);

/* Iteration over an object's members or an array's elements. */
typedef struct js_iter {
    const char *p, *end;
    bool object, first;
} js_iter;

/* False unless v is an object (open '{') or array ('['). */
bool js_iter_begin(js_span v, js_iter *it);

/* The next member (key: the key's string token, quotes included; NULL
 * allowed for arrays) or element.  False at the end or on malformed
 * text. */
bool js_iter_next(js_iter *it, js_span *key, js_span *val);

/* The member of object obj whose key decodes to key. */
bool js_get(js_span obj, const char *key, js_span *out);

/* js_get along a dotted path of keys ("result.config.params"). */
bool js_path(js_span root, const char *path, js_span *out);

/* A string token decoded to a new NUL-terminated UTF-8 string (free()),
 * or NULL if v is not a well-formed string or memory runs out. */
char *js_string(js_span v);

/* True when the key token equals key once decoded. */
bool js_key_is(js_span tok, const char *key);

/* Structural equality: objects as sets of members (order aside), arrays
 * element by element, strings once decoded, numbers of the same kind
 * (integer or not, as serde_json keeps them) with the same exact value. */
bool js_equal(js_span a, js_span b);

#endif /* QUIVER_CLI_JSPAN_H */
