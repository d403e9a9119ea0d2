/*
 * query_formula.c -- formula queries (Qdrant's score boosting): an
 * expression over the prefetch scores and the payload of each candidate,
 * whose value becomes the candidate's score.
 *
 * Parsing follows lib/shard/src/query/formula.rs and evaluation
 * lib/segment/src/index/query_optimization/rescore_formula/
 * (parsed_formula.rs, formula_scorer.rs, value_retriever.rs) of Qdrant
 * 1.19:
 *   - constants are read as f32 (as Qdrant's REST type), evaluation is in
 *     double and the result is rounded to float at the end;
 *   - "$score" is the score of the first prefetch, "$score[i]" of the
 *     i-th; a point absent from that prefetch takes the default
 *     ("$score[i]" in defaults, if a number), else 0;
 *   - any other string is a payload path; its values are collected (an
 *     array value is flattened one level), and one value is the value,
 *     none falls back to defaults, several are an array, which is not a
 *     number (Qdrant's rule: [0.2] is 0.2, [0.2, 0.7] is an error);
 *   - an object that is no expression is a filter condition, worth 1 when
 *     the point matches it and 0 otherwise; the caller answers conditions
 *     (qvs_formula_env.condition), since only it can run filters;
 *   - mult stops at the first factor 0 and div returns 0 for a numerator 0
 *     before evaluating the rest, so errors after them do not surface, as
 *     in Qdrant; div by 0 takes by_zero_default when given;
 *   - sqrt, pow, exp, log10, ln and div refuse non-finite results with
 *     Qdrant's message ("The expression √-1 = NaN produced a non-finite
 *     number"), numbers printed as Rust prints an f64;
 *   - decays: lambda from midpoint (default 0.5) and scale (default 1) at
 *     parse time, lin: max(0, 1 - lambda |x - target|) with lambda = (1 -
 *     midpoint) / scale; exp: e^(lambda |x - target|) with lambda =
 *     ln(midpoint) / scale; gauss: e^(lambda (x - target)^2) with lambda =
 *     ln(midpoint) / scale^2; target defaults to 0;
 *   - geo_distance: haversine metres on a sphere of radius 6371008.8 m (the
 *     geo crate's mean Earth radius, which Qdrant uses);
 *   - datetime and datetime_key: seconds since 1970 (qdrant/qdrant#6196,
 *     "parse strings into f64's seconds").
 *
 * Threads: a parsed formula is read-only; evaluation is reentrant.
 */
#include "query.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum fx_kind {
    FX_CONST,
    FX_SCORE,
    FX_PAYLOAD,
    FX_COND,
    FX_GEO,
    FX_DATETIME_KEY,
    FX_MULT,
    FX_SUM,
    FX_NEG,
    FX_ABS,
    FX_DIV,
    FX_SQRT,
    FX_POW,
    FX_EXP,
    FX_LOG10,
    FX_LN,
    FX_DECAY_LIN,
    FX_DECAY_EXP,
    FX_DECAY_GAUSS,
} fx_kind;

typedef struct fx {
    fx_kind kind;
    double c;         /* constant, by_zero_default, decay lambda */
    bool has_c;       /* div: by_zero_default given */
    size_t index;     /* score or condition number */
    char *path;       /* payload path (payload, geo, datetime_key) */
    double lat, lon;  /* geo origin */
    struct fx **args; /* operands; decay: x, target (NULL: 0) */
    size_t n_args;
} fx;

struct qvs_formula {
    fx *root;
    cJSON *conditions; /* array of condition objects */
    cJSON *defaults;   /* the defaults object (copy), or NULL */
    long max_score;
};

/* ---- errors and number printing ------------------------------------------ */

typedef struct perr {
    char *buf;
    size_t cap;
    int status;
} perr;

static fx *fail(perr *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->cap, fmt, ap);
    va_end(ap);
    e->status = status;
    return NULL;
}

/* An f64 as Rust's Display prints it: shortest text that reads back the
 * same, no exponent, "NaN", "inf", "-inf". */
static void fmt_f64(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    char t[64];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(t, sizeof(t), "%.*g", p, v);
        if (strtod(t, NULL) == v)
            break;
    }
    snprintf(t, sizeof(t), "%.*g", p, v);
    char *e = strchr(t, 'e');
    if (!e) {
        snprintf(out, cap, "%s", t);
        return;
    }
    int exp10 = atoi(e + 1);
    int decimals = exp10 < 0 ? p - 1 - exp10 : 0;
    snprintf(out, cap, "%.*f", decimals, v);
}

/* ---- parsing ------------------------------------------------------------- */

static void fx_free(fx *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_args; i++)
        fx_free(x->args[i]);
    free(x->args);
    free(x->path);
    free(x);
}

static fx *fx_new(perr *e, fx_kind kind, size_t n_args)
{
    fx *x = calloc(1, sizeof(*x));
    if (x && n_args && !(x->args = calloc(n_args, sizeof(fx *)))) {
        free(x);
        x = NULL;
    }
    if (!x)
        return fail(e, 500, "Service internal error: out of memory");
    x->kind = kind;
    x->n_args = n_args;
    return x;
}

static fx *parse_expr(qvs_formula *f, const cJSON *j, perr *e);

/* "$score" / "$score[i]" into *index; false with the reason in e. */
static bool parse_score_var(const char *s, size_t *index, perr *e)
{
    const char *rest = s + 1;
    if (strncmp(rest, "score", 5) != 0 ||
        (rest[5] != '\0' && rest[5] != '[' && rest[5] != '.')) {
        fail(e, 400,
             "Wrong input: Validation failed: failed to parse variable ID "
             "%s: Invalid reserved word: %s",
             s, s);
        return false;
    }
    if (rest[5] == '\0') {
        *index = 0;
        return true;
    }
    char *end = NULL;
    unsigned long long i = 0;
    if (rest[5] == '[' && rest[6] >= '0' && rest[6] <= '9')
        i = strtoull(rest + 6, &end, 10);
    if (!end || end[0] != ']' || end[1] != '\0') {
        fail(e, 400,
             "Wrong input: Validation failed: failed to parse variable ID "
             "%s: Invalid reserved variable: %s",
             s, s);
        return false;
    }
    *index = (size_t)i;
    return true;
}

static fx *parse_variable(qvs_formula *f, const char *s, perr *e)
{
    if (s[0] == '\0')
        return fail(e, 400,
                    "Wrong input: Validation failed: failed to parse "
                    "variable ID : Invalid payload variable: ");
    if (s[0] == '$') {
        size_t i = 0;
        if (!parse_score_var(s, &i, e))
            return NULL;
        fx *x = fx_new(e, FX_SCORE, 0);
        if (x) {
            x->index = i;
            if ((long)i > f->max_score)
                f->max_score = (long)i;
        }
        return x;
    }
    fx *x = fx_new(e, FX_PAYLOAD, 0);
    if (x && !(x->path = strdup(s))) {
        fx_free(x);
        return fail(e, 500, "Service internal error: out of memory");
    }
    return x;
}

static fx *format_error(perr *e, const char *what)
{
    return fail(e, 400,
                "Format error in JSON body: query.formula: %s: data did not "
                "match any variant of untagged enum Expression",
                what);
}

/* Operands of mult / sum: a list of expressions. */
static fx *parse_list(qvs_formula *f, const cJSON *l, fx_kind kind,
                      const char *name, perr *e)
{
    if (!cJSON_IsArray(l))
        return format_error(e, name);
    fx *x = fx_new(e, kind, (size_t)cJSON_GetArraySize(l));
    size_t i = 0;
    for (const cJSON *c = l ? l->child : NULL; x && c; c = c->next, i++)
        if (!(x->args[i] = parse_expr(f, c, e))) {
            fx_free(x);
            x = NULL;
        }
    return x;
}

static fx *parse_unary(qvs_formula *f, const cJSON *a, fx_kind kind, perr *e)
{
    fx *x = fx_new(e, kind, 1);
    if (x && !(x->args[0] = parse_expr(f, a, e))) {
        fx_free(x);
        return NULL;
    }
    return x;
}

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNull(j) ? NULL : j;
}

/* Two operands named a and b of object o (div, pow). */
static fx *parse_binary(qvs_formula *f, const cJSON *o, fx_kind kind,
                        const char *name, const char *a, const char *b, perr *e)
{
    if (!cJSON_IsObject(o) || !field(o, a) || !field(o, b))
        return format_error(e, name);
    fx *x = fx_new(e, kind, 2);
    if (x && (!(x->args[0] = parse_expr(f, field(o, a), e)) ||
              !(x->args[1] = parse_expr(f, field(o, b), e)))) {
        fx_free(x);
        return NULL;
    }
    return x;
}

static fx *parse_div(qvs_formula *f, const cJSON *o, perr *e)
{
    fx *x = parse_binary(f, o, FX_DIV, "div", "left", "right", e);
    const cJSON *d = x ? field(o, "by_zero_default") : NULL;
    if (d && !cJSON_IsNumber(d)) {
        fx_free(x);
        return format_error(e, "div.by_zero_default");
    }
    if (d) {
        x->has_c = true;
        x->c = (double)(float)d->valuedouble;
    }
    return x;
}

/* Qdrant's decay_params_to_lambda. */
static bool decay_lambda(fx_kind kind, const cJSON *jm, const cJSON *js,
                         double *lambda, perr *e)
{
    double mid = jm ? (double)(float)jm->valuedouble : 0.5;
    double scale = js ? (double)(float)js->valuedouble : 1.0;
    char t[64];
    fmt_f64(mid, t, sizeof(t));
    if (kind == FX_DECAY_LIN && !(mid >= 0.0 && mid <= 1.0)) {
        fail(e, 400,
             "Wrong input: Validation failed: Linear decay midpoint should "
             "be in the range [0.0, 1.0], got %s.",
             t);
        return false;
    }
    if (kind != FX_DECAY_LIN && !(mid > 0.0 && mid < 1.0)) {
        fail(e, 400,
             "Wrong input: Validation failed: Decay midpoint should be in "
             "the range (0.0, 1.0), got %s.",
             t);
        return false;
    }
    if (!(scale > 0.0)) {
        fmt_f64(scale, t, sizeof(t));
        fail(e, 400,
             "Wrong input: Validation failed: Decay scale should be non-zero "
             "positive, got %s.",
             t);
        return false;
    }
    *lambda = kind == FX_DECAY_LIN   ? (1.0 - mid) / scale
              : kind == FX_DECAY_EXP ? log(mid) / scale
                                     : log(mid) / (scale * scale);
    return true;
}

static fx *parse_decay(qvs_formula *f, const cJSON *o, fx_kind kind,
                       const char *name, perr *e)
{
    const cJSON *jm = cJSON_IsObject(o) ? field(o, "midpoint") : NULL;
    const cJSON *js = cJSON_IsObject(o) ? field(o, "scale") : NULL;
    if (!cJSON_IsObject(o) || !field(o, "x") || (jm && !cJSON_IsNumber(jm)) ||
        (js && !cJSON_IsNumber(js)))
        return format_error(e, name);
    double lambda = 0;
    if (!decay_lambda(kind, jm, js, &lambda, e))
        return NULL;
    fx *x = fx_new(e, kind, 2);
    if (!x)
        return NULL;
    x->c = lambda;
    const cJSON *target = field(o, "target");
    if (!(x->args[0] = parse_expr(f, field(o, "x"), e)) ||
        (target && !(x->args[1] = parse_expr(f, target, e)))) {
        fx_free(x);
        return NULL;
    }
    return x;
}

static fx *parse_geo(const cJSON *o, perr *e)
{
    const cJSON *origin = cJSON_IsObject(o) ? field(o, "origin") : NULL;
    const cJSON *to = cJSON_IsObject(o) ? field(o, "to") : NULL;
    const cJSON *lat = origin ? field(origin, "lat") : NULL;
    const cJSON *lon = origin ? field(origin, "lon") : NULL;
    if (!cJSON_IsString(to) || !cJSON_IsNumber(lat) || !cJSON_IsNumber(lon))
        return format_error(e, "geo_distance");
    fx *x = fx_new(e, FX_GEO, 0);
    if (!x)
        return NULL;
    x->lat = lat->valuedouble;
    x->lon = lon->valuedouble;
    if (!(x->path = strdup(to->valuestring))) {
        fx_free(x);
        return fail(e, 500, "Service internal error: out of memory");
    }
    return x;
}

static fx *parse_datetime(const cJSON *j, bool key, perr *e)
{
    if (!cJSON_IsString(j))
        return format_error(e, key ? "datetime_key" : "datetime");
    if (key) {
        fx *x = fx_new(e, FX_DATETIME_KEY, 0);
        if (x && !(x->path = strdup(j->valuestring))) {
            fx_free(x);
            return fail(e, 500, "Service internal error: out of memory");
        }
        return x;
    }
    double t = 0;
    if (!qvs_datetime_seconds(j->valuestring, &t))
        return fail(e, 400,
                    "Wrong input: Validation failed: failed to parse "
                    "date-time %s: input is not a valid date-time",
                    j->valuestring);
    fx *x = fx_new(e, FX_CONST, 0);
    if (x)
        x->c = t;
    return x;
}

/* An object that is no expression: a filter condition. */
static fx *parse_condition(qvs_formula *f, const cJSON *o, perr *e)
{
    cJSON *c = cJSON_Duplicate(o, 1);
    fx *x = c ? fx_new(e, FX_COND, 0) : NULL;
    if (!x) {
        cJSON_Delete(c);
        return fail(e, 500, "Service internal error: out of memory");
    }
    x->index = (size_t)cJSON_GetArraySize(f->conditions);
    cJSON_AddItemToArray(f->conditions, c);
    return x;
}

static const struct {
    const char *key;
    fx_kind kind;
} unary_ops[] = {{"neg", FX_NEG}, {"abs", FX_ABS},     {"sqrt", FX_SQRT},
                 {"exp", FX_EXP}, {"log10", FX_LOG10}, {"ln", FX_LN}};

static const struct {
    const char *key;
    fx_kind kind;
} decay_ops[] = {{"lin_decay", FX_DECAY_LIN},
                 {"exp_decay", FX_DECAY_EXP},
                 {"gauss_decay", FX_DECAY_GAUSS}};

static fx *parse_object(qvs_formula *f, const cJSON *o, perr *e)
{
    const cJSON *a;
    if ((a = field(o, "mult")))
        return parse_list(f, a, FX_MULT, "mult", e);
    if ((a = field(o, "sum")))
        return parse_list(f, a, FX_SUM, "sum", e);
    for (size_t i = 0; i < sizeof(unary_ops) / sizeof(unary_ops[0]); i++)
        if ((a = field(o, unary_ops[i].key)))
            return parse_unary(f, a, unary_ops[i].kind, e);
    if ((a = field(o, "div")))
        return parse_div(f, a, e);
    if ((a = field(o, "pow")))
        return parse_binary(f, a, FX_POW, "pow", "base", "exponent", e);
    for (size_t i = 0; i < sizeof(decay_ops) / sizeof(decay_ops[0]); i++)
        if ((a = field(o, decay_ops[i].key)))
            return parse_decay(f, a, decay_ops[i].kind, decay_ops[i].key, e);
    if ((a = field(o, "geo_distance")))
        return parse_geo(a, e);
    if ((a = field(o, "datetime")))
        return parse_datetime(a, false, e);
    if ((a = field(o, "datetime_key")))
        return parse_datetime(a, true, e);
    return parse_condition(f, o, e);
}

static fx *parse_expr(qvs_formula *f, const cJSON *j, perr *e)
{
    if (cJSON_IsNumber(j)) {
        fx *x = fx_new(e, FX_CONST, 0);
        if (x)
            x->c = (double)(float)j->valuedouble;
        return x;
    }
    if (cJSON_IsString(j))
        return parse_variable(f, j->valuestring, e);
    if (cJSON_IsObject(j))
        return parse_object(f, j, e);
    return format_error(e, "formula");
}

/* Each key of defaults must name a variable. */
static bool check_defaults(const cJSON *d, perr *e)
{
    for (const cJSON *k = d->child; k; k = k->next) {
        size_t i;
        if (k->string[0] == '$' && !parse_score_var(k->string, &i, e))
            return false;
        if (k->string[0] == '\0') {
            fail(e, 400,
                 "Wrong input: Validation failed: failed to parse variable "
                 "ID : Invalid payload variable: ");
            return false;
        }
    }
    return true;
}

qvs_formula *qvs_formula_parse(const cJSON *query, char *err, size_t cap,
                               int *status)
{
    perr e = {err, cap, 400};
    const cJSON *d = field(query, "defaults");
    qvs_formula *f = calloc(1, sizeof(*f));
    if (!f || !(f->conditions = cJSON_CreateArray())) {
        free(f);
        fail(&e, 500, "Service internal error: out of memory");
        *status = e.status;
        return NULL;
    }
    f->max_score = -1;
    if (d && !cJSON_IsObject(d))
        fail(&e, 400,
             "Format error in JSON body: query.defaults: invalid type: %s, "
             "expected a map",
             cJSON_IsArray(d) ? "sequence" : "value");
    else if ((!d || check_defaults(d, &e)) &&
             (f->root = parse_expr(f, field(query, "formula"), &e)) && d &&
             !(f->defaults = cJSON_Duplicate(d, 1)))
        fail(&e, 500, "Service internal error: out of memory");
    if (!f->root || (d && !f->defaults)) {
        qvs_formula_free(f);
        *status = e.status;
        return NULL;
    }
    return f;
}

void qvs_formula_free(qvs_formula *f)
{
    if (!f)
        return;
    fx_free(f->root);
    cJSON_Delete(f->conditions);
    cJSON_Delete(f->defaults);
    free(f);
}

size_t qvs_formula_n_conditions(const qvs_formula *f)
{
    return (size_t)cJSON_GetArraySize(f->conditions);
}

const cJSON *qvs_formula_condition(const qvs_formula *f, size_t i)
{
    return cJSON_GetArrayItem(f->conditions, (int)i);
}

long qvs_formula_max_score_index(const qvs_formula *f)
{
    return f->max_score;
}

/* ---- payload values ------------------------------------------------------ */

/* Up to cap values at path in v (Qdrant's JSON paths: "a.b", "a[0]",
 * "a[].b"), an array at the end flattened one level; returns how many
 * exist (may exceed cap). */
static size_t collect(const cJSON *v, const char *path, const cJSON **out,
                      size_t cap, size_t n)
{
    if (!v)
        return n;
    if (*path == '\0') {
        if (cJSON_IsArray(v)) {
            for (const cJSON *c = v->child; c; c = c->next, n++)
                if (n < cap)
                    out[n] = c;
            return n;
        }
        if (n < cap)
            out[n] = v;
        return n + 1;
    }
    if (*path == '.')
        path++;
    if (*path == '[') {
        if (!cJSON_IsArray(v))
            return n;
        if (path[1] == ']') {
            for (const cJSON *c = v->child; c; c = c->next)
                n = collect(c, path + 2, out, cap, n);
            return n;
        }
        char *end;
        unsigned long i = strtoul(path + 1, &end, 10);
        if (*end != ']')
            return n;
        return collect(cJSON_GetArrayItem(v, (int)i), end + 1, out, cap, n);
    }
    size_t len = strcspn(path, ".[");
    if (!cJSON_IsObject(v))
        return n;
    for (const cJSON *c = v->child; c; c = c->next)
        if (strlen(c->string) == len && strncmp(c->string, path, len) == 0)
            return collect(c, path + len, out, cap, n);
    return n;
}

size_t qvs_json_path_values(const cJSON *payload, const char *path,
                            const cJSON **out, size_t cap)
{
    return collect(payload, path, out, cap, 0);
}

typedef enum want { WANT_NUMBER, WANT_GEO, WANT_DATETIME } want;

static const char *const want_name[] = {"number", "geo point", "datetime"};

/* Converts one value (an array standing for several values fails). */
static bool convert(const cJSON *v, bool several, want w, double *a, double *b,
                    const char **why)
{
    switch (w) {
    case WANT_NUMBER:
        if (several || !cJSON_IsNumber(v)) {
            *why = "Value is not a number";
            return false;
        }
        *a = v->valuedouble;
        return true;
    case WANT_GEO: {
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(v, "lat");
        const cJSON *lon = cJSON_GetObjectItemCaseSensitive(v, "lon");
        if (several || !cJSON_IsNumber(lat) || !cJSON_IsNumber(lon)) {
            *why = "invalid geo point";
            return false;
        }
        *a = lat->valuedouble;
        *b = lon->valuedouble;
        return true;
    }
    case WANT_DATETIME:
        if (several || !cJSON_IsString(v)) {
            *why = "value is not a string";
            return false;
        }
        if (!qvs_datetime_seconds(v->valuestring, a)) {
            *why = "input is not a valid date-time";
            return false;
        }
        return true;
    }
    return false;
}

static bool var_error(char *err, size_t cap, const char *path, want w,
                      const char *why)
{
    snprintf(err, cap,
             "Expected %s value for %s in the payload and/or in the formula "
             "defaults. Error: %s",
             want_name[w], path, why);
    return false;
}

/* The value of payload path for the point, else its default. */
static bool payload_value(const qvs_formula *f, const qvs_formula_env *env,
                          const char *path, want w, double *a, double *b,
                          char *err, size_t cap)
{
    const cJSON *vals[2];
    size_t n = collect(env->payload, path, vals, 2, 0);
    const char *why = NULL;
    /* A null stands for no value: the default applies, as Qdrant's
     * variable retrieval skips nulls (tests/openapi/test_query_formula.py
     * scores a point with "price": null by its default). */
    if (n == 1 && cJSON_IsNull(vals[0]))
        n = 0;
    if (n == 0) {
        const cJSON *d =
            f->defaults ? cJSON_GetObjectItemCaseSensitive(f->defaults, path)
                        : NULL;
        if (!d)
            return var_error(err, cap, path, w,
                             "No value found in a payload nor defaults");
        n = collect(d, "", vals, 2, 0);
        if (n == 0) /* an empty list */
            return var_error(err, cap, path, w,
                             "No value found in a payload nor defaults");
    }
    if (!convert(vals[0], n > 1, w, a, b, &why))
        return var_error(err, cap, path, w, why);
    return true;
}

/* ---- evaluation ---------------------------------------------------------- */

typedef struct ev {
    const qvs_formula *f;
    const qvs_formula_env *env;
    char *err;
    size_t cap;
} ev;

static bool eval(const ev *c, const fx *x, double *out);

static bool non_finite(const ev *c, const char *fmt, double a, double b,
                       double r)
{
    char ta[64], tb[64], tr[64], expr[256];
    fmt_f64(a, ta, sizeof(ta));
    fmt_f64(b, tb, sizeof(tb));
    fmt_f64(r, tr, sizeof(tr));
    /* fmt names its operands in order: %1$s a, %2$s b, %3$s result */
    if (strcmp(fmt, "div") == 0)
        snprintf(expr, sizeof(expr), "%s/%s = %s", ta, tb, tr);
    else if (strcmp(fmt, "sqrt") == 0)
        snprintf(expr, sizeof(expr), "\xe2\x88\x9a%s = %s", ta, tr);
    else if (strcmp(fmt, "pow") == 0)
        snprintf(expr, sizeof(expr), "%s^%s = %s", ta, tb, tr);
    else
        snprintf(expr, sizeof(expr), "%s(%s) = %s", fmt, ta, tr);
    snprintf(c->err, c->cap, "The expression %s produced a non-finite number",
             expr);
    return false;
}

static double score_default(const qvs_formula *f, size_t i)
{
    if (!f->defaults)
        return 0.0;
    for (const cJSON *k = f->defaults->child; k; k = k->next) {
        size_t j;
        char scratch[8];
        perr e = {scratch, sizeof(scratch), 0};
        if (k->string[0] == '$' && parse_score_var(k->string, &j, &e) &&
            j == i && cJSON_IsNumber(k))
            return k->valuedouble;
    }
    return 0.0;
}

static bool eval_list(const ev *c, const fx *x, double *out)
{
    double acc = x->kind == FX_MULT ? 1.0 : 0.0;
    for (size_t i = 0; i < x->n_args; i++) {
        double v;
        if (!eval(c, x->args[i], &v))
            return false;
        if (x->kind == FX_MULT) {
            if (v == 0.0) {
                *out = 0.0;
                return true;
            }
            acc *= v;
        } else {
            acc += v;
        }
    }
    *out = acc;
    return true;
}

static bool eval_div(const ev *c, const fx *x, double *out)
{
    double l, r;
    if (!eval(c, x->args[0], &l))
        return false;
    if (l == 0.0) {
        *out = 0.0;
        return true;
    }
    if (!eval(c, x->args[1], &r))
        return false;
    if (r == 0.0 && x->has_c) {
        *out = x->c;
        return true;
    }
    *out = l / r;
    return isfinite(*out) || non_finite(c, "div", l, r, *out);
}

static bool eval_math(const ev *c, const fx *x, double *out)
{
    double v, w = 0;
    if (!eval(c, x->args[0], &v))
        return false;
    switch (x->kind) {
    case FX_NEG:
        *out = -v;
        return true;
    case FX_ABS:
        *out = fabs(v);
        return true;
    case FX_SQRT:
        *out = sqrt(v);
        return isfinite(*out) || non_finite(c, "sqrt", v, 0, *out);
    case FX_POW:
        if (!eval(c, x->args[1], &w))
            return false;
        *out = pow(v, w);
        return isfinite(*out) || non_finite(c, "pow", v, w, *out);
    case FX_EXP:
        *out = exp(v);
        return isfinite(*out) || non_finite(c, "exp", v, 0, *out);
    case FX_LOG10:
        *out = log10(v);
        return isfinite(*out) || non_finite(c, "log10", v, 0, *out);
    case FX_LN:
        *out = log(v);
        return isfinite(*out) || non_finite(c, "ln", v, 0, *out);
    default:
        return false;
    }
}

static bool eval_decay(const ev *c, const fx *x, double *out)
{
    double v, t = 0.0;
    if (!eval(c, x->args[0], &v) || (x->args[1] && !eval(c, x->args[1], &t)))
        return false;
    double d = v - t;
    switch (x->kind) {
    case FX_DECAY_LIN:
        *out = fmax(0.0, 1.0 - x->c * fabs(d));
        break;
    case FX_DECAY_EXP:
        *out = exp(x->c * fabs(d));
        break;
    default:
        *out = exp(x->c * d * d);
        break;
    }
    return true;
}

/* Haversine distance in metres (geo crate, Haversine::distance). */
static double haversine(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371008.8, rad = M_PI / 180.0;
    double p1 = lat1 * rad, p2 = lat2 * rad;
    double dp = (lat2 - lat1) * rad, dl = (lon2 - lon1) * rad;
    double a = sin(dp / 2) * sin(dp / 2) +
               cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return 2.0 * r * asin(sqrt(a));
}

static bool eval(const ev *c, const fx *x, double *out)
{
    double lat, lon;
    float s;
    switch (x->kind) {
    case FX_CONST:
        *out = x->c;
        return true;
    case FX_SCORE:
        *out = c->env->score(c->env->ctx, x->index, &s)
                   ? (double)s
                   : score_default(c->f, x->index);
        return true;
    case FX_PAYLOAD:
        return payload_value(c->f, c->env, x->path, WANT_NUMBER, out, &lon,
                             c->err, c->cap);
    case FX_COND:
        *out = c->env->condition(c->env->ctx, x->index) ? 1.0 : 0.0;
        return true;
    case FX_GEO:
        if (!payload_value(c->f, c->env, x->path, WANT_GEO, &lat, &lon, c->err,
                           c->cap))
            return false;
        *out = haversine(x->lat, x->lon, lat, lon);
        return true;
    case FX_DATETIME_KEY:
        return payload_value(c->f, c->env, x->path, WANT_DATETIME, out, &lon,
                             c->err, c->cap);
    case FX_MULT:
    case FX_SUM:
        return eval_list(c, x, out);
    case FX_DIV:
        return eval_div(c, x, out);
    case FX_DECAY_LIN:
    case FX_DECAY_EXP:
    case FX_DECAY_GAUSS:
        return eval_decay(c, x, out);
    default:
        return eval_math(c, x, out);
    }
}

bool qvs_formula_eval(const qvs_formula *f, const qvs_formula_env *env,
                      double *out, char *err, size_t cap)
{
    ev c = {f, env, err, cap};
    return eval(&c, f->root, out);
}
