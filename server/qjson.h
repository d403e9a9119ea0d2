/*
 * qjson.h -- Qdrant's JSON request values turned into Quiver's, and back.
 *
 * The point endpoints read point ids, vectors, payload and vector
 * selectors, filters and plain scalars out of a parsed request (cJSON) and
 * write ids, scores and vectors into replies.  Every reader here validates
 * what it reads and, on failure, fills the reply with Qdrant's error:
 *
 *   400 "Format error in JSON body: ..."      a value of the wrong type, a
 *                                             malformed id (serde's errors)
 *   422 "Validation error in JSON body: [...]" a value out of its range
 *                                             (validator's errors)
 *   400 "Wrong input: ..."                    a vector of the wrong length
 *
 * and returns false, so callers write "if (!qj_...) goto done;".  A JSON
 * null counts as an absent field, as in Qdrant's nullable schemas; unknown
 * fields are ignored, as serde does for these request types.
 *
 * Numbers: cJSON keeps every number as a double, so qvs_json_parse gives
 * each number item of a request the exact text of its token (in
 * valuestring), and the readers here take integers from that text: ids
 * and counts are exact up to 2^64-1, and "2.0" or "1e2" is a float, which
 * an integer field refuses as serde does.  A request value passed on (a
 * payload, a filter) is printed with qj_print, which writes those texts
 * verbatim, never cJSON's 15-digit rendering.  Output numbers are exact: cJSON
 * prints integers beyond INT_MAX with only 15 significant digits, so such ids,
 * and float scores and vector components, are written as cJSON "raw" items
 * holding their exact decimal text (for floats the shortest text that reads
 * back as the same float32); a reply must be printed with cJSON_Print* (which
 * copies raw items verbatim).
 *
 * Nothing here keeps state; every function is thread-safe.
 */
#ifndef QUIVER_SERVER_QJSON_H
#define QUIVER_SERVER_QJSON_H

#include "api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest integer a number item WITHOUT source text (one we made with
 * cJSON_CreateNumber) is read as exactly. */
#define QJ_MAX_EXACT_INT 9007199254740992.0 /* 2^53 */

/* ---- parsing and exact numbers --------------------------------------------
 */

/* Every JSON body's parse (qvs_json_parse calls it): cJSON, then a strict
 * pass over the text that refuses what serde_json refuses (a byte-order
 * mark, a number with a leading zero or out of f64's range, a string that
 * is not UTF-8) and "\u0000" (cJSON would cut the string at it), and gives
 * each number item its exact source text in valuestring.  NULL on failure,
 * with Qdrant's "Format error in JSON body: ... at line L column C" in err. */
cJSON *qj_parse(const char *text, size_t len, char *err, size_t cap);

/* True if len bytes of text are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool qj_utf8_valid(const char *text, size_t len);

/* j as a u64 from its exact text: digits only (a float such as 2.0 or 1e2,
 * a negative number or one above 2^64-1 gives false). */
bool qj_u64(const cJSON *j, uint64_t *out);

/* The exact text of number j (its valuestring, or %.17g into buf). */
char *qj_number_text(const cJSON *j, char *buf, size_t cap);

/* j printed compactly with every number as its exact source text (for a
 * payload or filter handed to the library).  malloc'd; NULL on ENOMEM. */
char *qj_print(const cJSON *j);

/* A deep copy of j whose numbers are raw items of their exact text, for
 * echoing a request value in a reply.  NULL on ENOMEM. */
cJSON *qj_copy_json(const cJSON *j);

/* ---- errors ---------------------------------------------------------------
 * Each sets resp's status and Qdrant-prefixed message and returns false. */

bool qj_fail_format(qvs_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool qj_fail_validation(qvs_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool qj_fail_input(qvs_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool qj_fail_bad_request(qvs_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool qj_fail_not_found(qvs_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failed library call on c: 400 for bad input (dimension, non-finite,
 * malformed values), 404 for a missing point, 500 otherwise, with the
 * collection's detailed message.  what names the operation. */
bool qj_fail_lib(qvs_resp *r, qv_collection *c, qv_status st, const char *what);

/* A short description of a JSON value's type for messages ("a string"). */
const char *qj_type_name(const cJSON *j);

/* serde's derived struct decoding refuses a field given twice ("duplicate
 * field `vector`"), where cJSON keeps both; a map (a payload) keeps the
 * last instead and must not be checked with this. */
bool qj_no_duplicate_fields(const cJSON *obj, qvs_resp *r, const char *where);

/* ---- point ids ----------------------------------------------------------- */

/* Reads an id: an unsigned integer (up to 2^64-1) or a UUID string in any
 * spelling qv_id_parse_uuid accepts.  where names the field for messages. */
bool qj_id(const cJSON *j, qv_point_id *out, qvs_resp *r, const char *where);

/* Reads a JSON array of ids into a new array *out (freed with free) of *n
 * ids; an empty array gives *out NULL and *n 0. */
bool qj_id_list(const cJSON *arr, qv_point_id **out, size_t *n, qvs_resp *r,
                const char *where);

/* Parses the {id} of a URL path: a decimal u64 or a UUID.  False if it is
 * neither (the caller sends Qdrant's "Can not recognize" error). */
bool qj_id_from_path(const char *text, qv_point_id *out);

/* id's text for messages: decimal or lowercase hyphenated UUID. */
void qj_id_text(const qv_point_id *id, char buf[QV_UUID_STRLEN]);

/* id as JSON: a number, or a string for a UUID.  NULL when out of memory. */
cJSON *qj_id_json(const qv_point_id *id);

/* ---- floats and vectors -------------------------------------------------- */

/* True if j is an array whose items are all numbers (a dense vector, as
 * opposed to a multivector or a sparse vector object). */
bool qj_is_dense(const cJSON *j);

/* Reads a dense vector of exactly dim finite float32 values into out.
 * A wrong element type is a format error; a wrong length is Qdrant's
 * "Wrong input: Vector dimension error: expected dim: D, got N". */
bool qj_vector(const cJSON *j, float *out, uint32_t dim, qvs_resp *r,
               const char *where);

/* f as JSON, its shortest exact decimal text (raw item). */
cJSON *qj_float_json(float f);

/* d as JSON: an integral value as its integer digits, any other as the
 * shortest of %.15g..%.17g that reads back to the same bits (raw item;
 * cJSON would print 15 digits, or 1e+15 for a large integer). */
cJSON *qj_double_json(double d);

/* n floats as a JSON array. */
cJSON *qj_floats_json(const float *v, size_t n);

/* ---- scalars
 * ------------------------------------------------------------------ Each reads
 * obj's member key (obj may be NULL: every member absent). */

/* A boolean; absent or null gives dflt. */
bool qj_bool(const cJSON *obj, const char *key, bool dflt, bool *out,
             qvs_resp *r);

/* A non-negative integer; absent or null gives dflt.  Values below min
 * fail validation (422), as Qdrant's "minimum" constraints do. */
bool qj_uint(const cJSON *obj, const char *key, uint64_t dflt, uint64_t min,
             uint64_t *out, qvs_resp *r);

/* A finite number as float; *present false when absent or null. */
bool qj_float(const cJSON *obj, const char *key, bool *present, float *out,
              qvs_resp *r);

/* A string; *out NULL when absent or null.  The string stays owned by obj. */
bool qj_string(const cJSON *obj, const char *key, const char **out,
               qvs_resp *r);

/* A JSON array of strings (absent/null: *out NULL, *n 0).  *out is a new
 * array of pointers into obj, freed with free. */
bool qj_string_list(const cJSON *obj, const char *key, const char ***out,
                    size_t *n, qvs_resp *r);

/* ---- selectors ----------------------------------------------------------- */

/* with_payload: true | false | ["k", ...] | {"include": [...]} |
 * {"exclude": [...]}. */
typedef struct qj_payload_sel {
    bool on;               /* return a payload at all */
    qv_payload_select sel; /* which keys; borrowed from the request */
    bool empty;            /* an empty include list: return {} */
    const char **keys;     /* the array sel points into (owned) */
} qj_payload_sel;

bool qj_with_payload(const cJSON *obj, bool dflt, qj_payload_sel *out,
                     qvs_resp *r);
void qj_payload_sel_free(qj_payload_sel *s);

/* with_vector: true | false | ["name", ...]. */
typedef struct qj_vector_sel {
    bool all;
    const char **names; /* borrowed strings, owned array */
    size_t n;
} qj_vector_sel;

bool qj_with_vector(const cJSON *obj, qj_vector_sel *out, qvs_resp *r);
void qj_vector_sel_free(qj_vector_sel *s);

/* True if the selection asks for vector name. */
bool qj_vector_sel_has(const qj_vector_sel *s, const char *name);

/* ---- filters ------------------------------------------------------------- */

/* Compiles a Qdrant Filter (j may be NULL or null: *out NULL, no filter).
 * A filter qv_filter_parse refuses is a format error naming the offending
 * part; a field condition with no condition in it is Qdrant's 422. */
bool qj_filter(const cJSON *j, qv_filter **out, qvs_resp *r, const char *where);

/* ---- write results ------------------------------------------------------- */

/* {"operation_id": op, "status": "completed" | "acknowledged"}. */
cJSON *qj_update_result(uint64_t op, bool completed);

#endif /* QUIVER_SERVER_QJSON_H */
