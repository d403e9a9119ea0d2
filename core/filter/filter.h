/*
 * filter.h -- internal interface of the payload filter module (Qdrant's
 * filter language).
 *
 * A filter arrives as JSON (cJSON), is checked and compiled once by
 * qvi_filter_parse into a qvi_filter -- flat arrays of nodes, field
 * conditions, interned key paths and a string pool, with no pointer back
 * into the cJSON tree -- and is then evaluated per point by
 * qvi_filter_eval.  The phases live in their own files:
 *
 *   filter_path.c   key paths ("a.b[].c[0]", "a.\"x.y\"") and the payload
 *                   access interface: the only code that knows how a
 *                   payload is represented
 *   filter_parse.c  JSON -> compact form, with errors naming the offending
 *                   part ("must[2].range: needs at least one of ...")
 *   filter_eval.c   compact form x payload x point id -> bool
 *
 * Payload representation.  The evaluator never touches cJSON directly: it
 * sees payload values as opaque handles (qvi_pval) and reads them through a
 * qvi_payload_ops table.  qvi_payload_cjson_ops reads a cJSON tree; a later
 * compact stored form only needs its own table.
 *
 * Thread safety: a parsed filter is immutable; any number of threads may
 * evaluate it concurrently.  Nothing here has global mutable state.
 */
#ifndef QUIVER_FILTER_H
#define QUIVER_FILTER_H

#include "core/base/base.h"

#include <cjson/cJSON.h>

/* Deepest nesting of filters (a Filter used as a condition, or a nested
 * condition's filter) that qvi_filter_parse accepts.  Parsing and evaluation
 * recurse once per level, so this bounds their stack use. */
#define QVI_FILTER_MAX_DEPTH 64
/* Most items (keys, [], [n]) in one key path. */
#define QVI_PATH_MAX_ITEMS 32
/* Longest key path text accepted, in bytes. */
#define QVI_PATH_MAX_LEN 1024
/* Size of an error buffer that always holds a whole message. */
#define QVI_FILTER_ERRMSG_CAP 256

/* ---- payload access (filter_path.c) ------------------------------------- */

typedef enum qvi_ptype {
    QVI_PT_NULL = 0,
    QVI_PT_BOOL,
    QVI_PT_NUMBER,
    QVI_PT_STRING,
    QVI_PT_ARRAY,
    QVI_PT_OBJECT,
    QVI_PT_OTHER /* anything a representation cannot classify: never matches */
} qvi_ptype;

/* An opaque handle to one value inside a payload; NULL means "no value". */
typedef const void *qvi_pval;

/* How the evaluator reads a payload.  Every function must be pure and safe
 * to call concurrently on the same payload. */
typedef struct qvi_payload_ops {
    qvi_ptype (*type)(qvi_pval v);
    bool (*boolean)(qvi_pval v);             /* type BOOL */
    double (*number)(qvi_pval v);            /* type NUMBER */
    bool (*integer)(qvi_pval v, int64_t *n); /* NUMBER that is an int64 */
    const char *(*string)(qvi_pval v, size_t *len);  /* type STRING */
    qvi_pval (*first)(qvi_pval array);               /* NULL when empty */
    qvi_pval (*next)(qvi_pval array, qvi_pval elem); /* NULL at the end */
    /* Member of an object by key (len bytes, also NUL-terminated); NULL if
     * absent. */
    qvi_pval (*get)(qvi_pval object, const char *key, size_t len);
} qvi_payload_ops;

/* Reads a cJSON tree.  Numbers are read with qvi_json_num: exact when the
 * tree came from qvi_json_parse_exact (an integer is an int64 for the
 * evaluator; a u64 above INT64_MAX and a float are not integers). */
extern const qvi_payload_ops qvi_payload_cjson_ops;

/* ---- exact JSON numbers (filter_path.c) ----------------------------------
 * cJSON keeps a number only as a double, so 9007199254740993 and
 * 9007199254740992 become one value and 1.0 cannot be told from 1.  The
 * library therefore parses JSON text with qvi_json_parse_exact, which
 * attaches each number's source text to its item's valuestring (cJSON_Delete
 * frees valuestring whatever the item's type, cJSON_Duplicate copies it), and
 * reads numbers with qvi_json_num, which classifies them as serde_json does:
 * a token without '.', 'e' or 'E' is an integer (i64 when negative or within
 * i64, u64 above), anything else a float.  A number item without text (one
 * made by cJSON_CreateNumber) falls back to the double: integral and at
 * most 2^53 in magnitude is an integer. */

typedef enum qvi_jnum {
    QVI_JNUM_NONE = 0, /* not a number */
    QVI_JNUM_INT,      /* *i holds it */
    QVI_JNUM_UINT,     /* *u holds it (above INT64_MAX) */
    QVI_JNUM_FLOAT,    /* *d holds it */
} qvi_jnum;

/* cJSON_ParseWithLengthOpts(text, len, end, false) plus the number texts.
 * NULL on a parse error (*end then points near it, when end is not NULL)
 * or when memory runs out. */
cJSON *qvi_json_parse_exact(const char *text, size_t len, const char **end);

/* cJSON_PrintUnformatted(j), except that every number with a source text
 * prints that text (cJSON would print its double, rounded to 15 digits
 * when that is close enough).  Free with cJSON_free; NULL when memory runs
 * out. */
char *qvi_json_print_exact(const cJSON *j);

/* Classifies j (see above) and stores its value; the double *d is set for
 * every kind (the nearest double).  i, u, d may not be NULL. */
qvi_jnum qvi_json_num(const cJSON *j, int64_t *i, uint64_t *u, double *d);

/* Attaches text (len bytes) to number item j as its exact source text,
 * replacing any it had.  False when memory runs out. */
bool qvi_json_set_text(cJSON *j, const char *text, size_t len);

typedef enum qvi_path_item_kind {
    QVI_PI_KEY = 0,  /* .name or the first key */
    QVI_PI_INDEX,    /* [n] */
    QVI_PI_WILDCARD, /* [] */
} qvi_path_item_kind;

typedef struct qvi_path_item {
    uint32_t kind;  /* a qvi_path_item_kind */
    uint32_t len;   /* KEY: key length in bytes */
    uint64_t index; /* INDEX: the element; KEY: offset of the key in the
                       owner's string pool (NUL-terminated) */
} qvi_path_item;

/* A parsed key path: items[0] is always a KEY. */
typedef struct qvi_path {
    uint32_t item_off; /* first item in the owner's item array */
    uint32_t n_items;
} qvi_path;

/* Parses a key path in Qdrant's syntax: first key, then any of ".key",
 * ".\"quoted key\"", "[n]", "[]"; raw keys are letters, digits, '_' and '-'
 * (UTF-8 letters included), quoted keys anything but '"' and '\\'.
 * Appends the items to *items (growing it and *cap_items) and the keys to
 * *pool. Returns QV_OK, QV_EINVAL with a message in err, or QV_ENOMEM. */
qv_status qvi_path_parse(const char *text, size_t len, qvi_path_item **items,
                         uint32_t *n_items, uint32_t *cap_items, char **pool,
                         uint32_t *pool_len, uint32_t *pool_cap, char *err,
                         size_t errcap);

/* Calls visit(ctx, v) for every value at path below root (an object), in
 * document order, as Qdrant's get_value does: a KEY step reads an object
 * member (a non-object yields nothing), [n] one array element, [] every
 * element; only the values the last step reaches are reported, so an array
 * there is reported whole.  Stops as soon as visit returns true and then
 * returns true; returns false when every value was visited. */
bool qvi_path_visit(const qvi_payload_ops *ops, qvi_pval root,
                    const qvi_path_item *items, uint32_t n_items,
                    const char *pool, bool (*visit)(void *ctx, qvi_pval v),
                    void *ctx);

/* ---- date-times (filter_parse.c) ---------------------------------------- */

/* An instant: seconds since 1970-01-01T00:00:00Z and nanoseconds. */
typedef struct qvi_datetime {
    int64_t sec;
    int32_t nsec;
} qvi_datetime;

/* Parses the date-time forms Qdrant accepts (chrono formats):
 *   RFC 3339   2024-01-02T03:04:05[.f](Z|+hh:mm)   ('T', 't' or ' ')
 *   offset     2024-01-02T03:04:05[.f]+hh[mm]      ('T' or ' ')
 *   naive      2024-01-02T03:04:05[.f]  2024-01-02T03:04  2024-01-02
 *              (also with ' ' for 'T')
 * -- the set of Qdrant 1.19's DateTimeWrapper::from_str
 * (lib/segment/src/types.rs).
 * Naive times are UTC.  Fractions keep 9 digits.  Returns false on
 * anything else, including impossible dates (2023-02-29). */
bool qvi_datetime_parse(const char *s, size_t len, qvi_datetime *out);

/* ---- filters ------------------------------------------------------------ */

typedef struct qvi_filter qvi_filter;

/* Answers has_vector conditions: does point id have the named vector?
 * NULL means "no vector is known", so has_vector never holds. */
typedef bool (*qvi_has_vector_fn)(void *ctx, const qv_point_id *id,
                                  const char *name);

/* Checks and compiles json (a Filter object) into *out.  On failure *out is
 * NULL, err (if errcap > 0) holds a NUL-terminated message naming the
 * offending part, e.g. "must[2].range: needs at least one of gt, gte, lt,
 * lte", and the status is QV_EINVAL (a malformed filter, including one
 * nested deeper than QVI_FILTER_MAX_DEPTH), QV_ENULL (json or out NULL) or
 * QV_ENOMEM.  The result owns all its memory: json may be freed at once.
 * Free it with qvi_filter_free. */
qv_status qvi_filter_parse(const cJSON *json, qvi_filter **out, char *err,
                           size_t errcap);

/* Parses len bytes of JSON text and then calls qvi_filter_parse.  Text that
 * is not JSON, or nests deeper than cJSON's CJSON_NESTING_LIMIT (1000), is
 * QV_EINVAL. */
qv_status qvi_filter_parse_text(const char *text, size_t len, qvi_filter **out,
                                char *err, size_t errcap);

/* Frees f; NULL is allowed. */
void qvi_filter_free(qvi_filter *f);

/* Answers a full-text condition by tokens: called for a field condition
 * outside any nested filter whose match is text, text_any or phrase (and
 * that has no values_count, is_empty or is_null part), with the field's
 * index in the filter's fields[] and the payload root.  Returns 1 or 0, or
 * -1 for "no full-text index on this key": substring matching then
 * applies.  The collection supplies it (search/candidates.c). */
typedef int (*qvi_text_match_fn)(void *ctx, uint32_t field, qvi_pval root);

/* Everything a filter is evaluated against.  payload is the root object (or
 * NULL: no payload, every key missing) read through ops. */
typedef struct qvi_filter_target {
    const qvi_payload_ops *ops;
    qvi_pval payload;
    const qv_point_id *id; /* may be NULL: has_id and slice never hold */
    qvi_has_vector_fn has_vector;
    void *has_vector_ctx;
    qvi_text_match_fn text_match; /* may be NULL: substring everywhere */
    void *text_ctx;
} qvi_filter_target;

/* Does the point pass f?  Pure; safe to call concurrently. */
bool qvi_filter_eval_target(const qvi_filter *f, const qvi_filter_target *t);

/* Shorthand for a cJSON payload (NULL: no payload) without has_vector. */
bool qvi_filter_eval(const qvi_filter *f, const cJSON *payload,
                     const qv_point_id *id);

/* SipHash-2-4 of msg under the 16-byte key (the slice condition uses a zero
 * key).  Exposed for tests. */
uint64_t qvi_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len);

/* ---- the compact form (shared by filter_parse.c and filter_eval.c) ------ */

typedef enum qvi_fnode_kind {
    QVI_FN_FILTER = 0,
    QVI_FN_FIELD,
    QVI_FN_IS_EMPTY,
    QVI_FN_IS_NULL,
    QVI_FN_HAS_ID,
    QVI_FN_HAS_VECTOR,
    QVI_FN_NESTED,
    QVI_FN_SLICE,
} qvi_fnode_kind;

/* One condition or (sub)filter.  Meaning of a, b, c by kind:
 *   FILTER      a = group index
 *   FIELD       a = field index
 *   IS_EMPTY/IS_NULL  a = path index
 *   HAS_ID      a = first id, b = id count (ids sorted)
 *   HAS_VECTOR  a = name offset in the pool
 *   NESTED      a = path index (key with [] appended), b = filter node
 *   SLICE       a = total, b = index */
typedef struct qvi_fnode {
    uint32_t kind;
    uint32_t a, b;
} qvi_fnode;

/* must / should / must_not / min_should of one filter: node indices in
 * kids[off .. off+n). */
typedef struct qvi_fgroup {
    uint32_t must_off, must_n;
    uint32_t should_off, should_n;
    uint32_t not_off, not_n;
    uint32_t min_off, min_n;
    uint64_t min_count;
    bool has_should, has_min;
} qvi_fgroup;

enum {
    QVI_FP_MATCH = 1u << 0,
    QVI_FP_RANGE = 1u << 1,
    QVI_FP_DTRANGE = 1u << 2,
    QVI_FP_GEO_RADIUS = 1u << 3,
    QVI_FP_GEO_BOX = 1u << 4,
    QVI_FP_GEO_POLY = 1u << 5,
    QVI_FP_VCOUNT = 1u << 6,
    QVI_FP_IS_EMPTY = 1u << 7,
    QVI_FP_IS_NULL = 1u << 8,
};

typedef enum qvi_match_kind {
    QVI_M_BOOL = 0,
    QVI_M_INT,
    QVI_M_STR,
    QVI_M_TEXT,     /* text: substring, as unindexed Qdrant */
    QVI_M_TEXT_ANY, /* any whitespace-separated token is a substring */
    QVI_M_PREFIX,
    QVI_M_ANY_INT,
    QVI_M_ANY_STR,
    QVI_M_EXCEPT_INT,
    QVI_M_EXCEPT_STR,
    QVI_M_PHRASE, /* as text without a full-text index */
} qvi_match_kind;

/* Bounds bits, in the order of the lo/hi arrays below. */
enum { QVI_B_GT = 1, QVI_B_GTE = 2, QVI_B_LT = 4, QVI_B_LTE = 8 };

/* A field condition: key plus one or more parts, which Qdrant ORs per value
 * (a values_count, is_empty or is_null part takes precedence, in that
 * order, over the others). */
typedef struct qvi_ffield {
    uint32_t path;
    uint32_t parts; /* QVI_FP_* */
    uint32_t match_kind;
    bool mbool, is_empty, is_null;
    int64_t mint;
    uint32_t str_off, str_len;    /* string operand (value/text/prefix) */
    uint32_t set_off, set_n;      /* any/except: sorted ints or strings */
    uint32_t rbits, vbits, dbits; /* QVI_B_* of range, values_count, dt */
    double r[4];                  /* gt, gte, lt, lte */
    uint64_t vc[4];
    qvi_datetime dt[4];
    uint32_t geo; /* geo index */
} qvi_ffield;

/* A geo shape: radius (center, metres), box (top-left, bottom-right) or
 * polygon (rings[ring_off..+n_rings), exterior first). */
typedef struct qvi_fgeo {
    double lat0, lon0, lat1, lon1, radius;
    uint32_t ring_off, n_rings;
} qvi_fgeo;

typedef struct qvi_fring {
    uint32_t pt_off, n_pts; /* pts[2*i] = lon, pts[2*i+1] = lat */
} qvi_fring;

typedef struct qvi_fstr {
    uint32_t off, len;
} qvi_fstr;

struct qvi_filter {
    uint32_t root; /* node index of the top filter */
    qvi_fnode *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *kids;
    uint32_t n_kids, cap_kids;
    qvi_fgroup *groups;
    uint32_t n_groups, cap_groups;
    qvi_ffield *fields;
    uint32_t n_fields, cap_fields;
    qvi_path *paths;     /* interned: one entry per distinct key text */
    uint32_t *path_text; /* pool offset of each path's source text */
    uint32_t n_paths, cap_paths, cap_path_text;
    qvi_path_item *items;
    uint32_t n_items, cap_items;
    int64_t *ints; /* any/except integer sets */
    uint32_t n_ints, cap_ints;
    qvi_fstr *strs; /* any/except string sets */
    uint32_t n_strs, cap_strs;
    qv_point_id *ids;
    uint32_t n_ids, cap_ids;
    qvi_fgeo *geos;
    uint32_t n_geos, cap_geos;
    qvi_fring *rings;
    uint32_t n_rings, cap_rings;
    double *pts;
    uint32_t n_pts, cap_pts; /* doubles, two per point */
    char *pool;
    uint32_t pool_len, pool_cap;
};

/* Grows *arr (elements of size elem, *cap of them) to hold need elements,
 * with overflow-checked sizes.  Returns false on overflow or ENOMEM. */
bool qvi_filter_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem);

/* Haversine distance in metres on the mean Earth radius (6371008.8 m), as
 * the geo crate computes it. */
double qvi_haversine_m(double lat1, double lon1, double lat2, double lon2);

#endif /* QUIVER_FILTER_H */
