/*
 * envelope.c -- Qdrant's reply envelopes and the parse of JSON bodies.
 *
 * Success: {"result":<r>,"status":"ok","time":<seconds>}; "result" is
 * omitted (not null) when there is none, as for 202 {"status":"accepted"}.
 * Failure: {"status":{"error":"<message>"},"time":<seconds>}.  Qdrant
 * decodes bodies in actix extractors that answer before the handler runs
 * and put "time": 0.0 in the envelope; the errors of that kind are the
 * ones whose message starts "Format error in", "Validation error in" or
 * "Deserialize error in", whoever detects them here, so those carry 0 too.
 *
 * Bodies are parsed by qj_parse (qjson.c), which the point handlers share.
 * Parse errors read like serde_json's ("expected value at line 1 column
 * 5", "EOF while parsing a value ..."), since clients and tests match on
 * the "Format error in JSON body: " prefix and people on the position.
 * cJSON's nesting limit (1000) turns absurdly deep bodies into a parse
 * error rather than a deep recursion later.
 */
#include "qjson.h"
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool qvs_fail(qvs_resp *r, int http_status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    r->http_status = http_status;
    return false;
}

static char *print(cJSON *root, size_t *len)
{
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text)
        *len = strlen(text);
    return text;
}

char *qvs_envelope_ok(cJSON *result, const char *status, double time,
                      size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        cJSON_Delete(result);
        return NULL;
    }
    if (result)
        cJSON_AddItemToObject(root, "result", result);
    if (!cJSON_AddStringToObject(root, "status", status ? status : "ok") ||
        !cJSON_AddNumberToObject(root, "time", time)) {
        cJSON_Delete(root);
        return NULL;
    }
    return print(root, len);
}

static bool is_decode_error(const char *msg)
{
    static const char *const prefixes[] = {
        "Format error in ", "Validation error in ", "Deserialize error in "};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

char *qvs_envelope_error(const char *msg, double time, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *status = cJSON_AddObjectToObject(root, "status");
    if (!status || !cJSON_AddStringToObject(status, "error", msg) ||
        !cJSON_AddNumberToObject(root, "time",
                                 is_decode_error(msg) ? 0.0 : time)) {
        cJSON_Delete(root);
        return NULL;
    }
    return print(root, len);
}

cJSON *qvs_json_parse(const char *text, size_t len, char *err, size_t cap)
{
    return qj_parse(text, len, err, cap); /* one entry point: qjson.c */
}
