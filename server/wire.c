/*
 * wire.c -- HTTP/1.1 requests from a byte stream, over Debian's
 * http-parser (2.9): the contract is in wire.h.
 *
 * http-parser does the framing: the request line, header fields (obs-fold
 * and bare-LF line ends included, as it accepts them), Content-Length and
 * the chunked coding.  It is paused at the end of the head and at the end
 * of each message (http_parser_pause), so the caller decides about one
 * request before a byte of its body, or of the next request, is read.
 * What this file adds, in its callbacks:
 *
 *   - limits, checked as the bytes arrive so no head is buffered past
 *     them: the request target (414), field names and values together and
 *     the number of fields (431), and the body (413);
 *   - the framing rules of RFC 9112 section 6.3, which keep a second
 *     request from hiding in the first one's body: Content-Length with
 *     Transfer-Encoding, two different Content-Lengths, Transfer-Encoding
 *     in HTTP/1.0, and any coding but one final "chunked" are refused
 *     (400; 501 for a coding before chunked we do not decode);
 *   - what http-parser lets through when built without HTTP_PARSER_STRICT
 *     (as Debian's is): a field name that is not a token, a control byte
 *     in a value (400), and the CRLF after a chunk's data, which it skips
 *     unread (400 unless it is there);
 *   - one status and message for each error http-parser reports.
 *
 * Two repeated Content-Length fields with the same value are one length
 * (RFC 9110 section 8.6), but http-parser refuses any second one.  So when
 * a second Content-Length name completes, its F_CONTENTLENGTH flag (the
 * header calls the flags "semi-public") is cleared before the value is
 * read, and the values are compared here: equal ones pass, different ones
 * are 400.  The name is known to be complete when the byte after it is
 * the ':' (http-parser calls back at the colon); a name split exactly
 * before its colon across two reads is finished one callback later, after
 * the parser has already refused the value -- that rare case is then
 * answered 400 like a conflicting length, never accepted wrongly.
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static qvs_wire *wire_of(http_parser *hp)
{
    return hp->data;
}

/* Records the first error (later ones are consequences); returns -1 so a
 * callback can stop the parser with "return fail(...)". */
static int fail(qvs_wire *w, int status, const char *msg)
{
    if (!w->failed) {
        w->failed = true;
        w->status = status;
        snprintf(w->message, sizeof(w->message), "%s", msg);
    }
    return -1;
}

/* Appends n bytes to a growing buffer; false on ENOMEM. */
static bool append(char **buf, size_t *len, size_t *cap, const char *p,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return false;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

/* ---- the request line and fields ---------------------------------------- */

static int on_begin(http_parser *hp)
{
    qvs_wire *w = wire_of(hp);
    w->url_len = w->arena_len = w->n_fields = w->header_bytes = 0;
    w->body_len = 0;
    w->n_cl = w->n_te = 0;
    w->crlf_need = 0;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    qvs_wire *w = wire_of(hp);
    if (w->url_len + len > w->lim.max_uri)
        return fail(w, 414, "URI too long");
    if (!append(&w->url, &w->url_len, &w->url_cap, at, len))
        return fail(w, 503, "Service unavailable: out of memory");
    return 0;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static qvs_wire_field *last_field(qvs_wire *w)
{
    return w->n_fields ? &w->fields[w->n_fields - 1] : NULL;
}

/* The current field's name is complete: NUL-terminate it and apply the
 * checks that depend on it. */
static int finish_name(qvs_wire *w)
{
    qvs_wire_field *f = last_field(w);
    if (!f || f->name_done)
        return 0;
    f->name_done = true;
    const char *name = w->arena + f->name;
    if (!f->name_len)
        return fail(w, 400, "Bad request: malformed header field");
    for (size_t i = 0; i < f->name_len; i++)
        if (!is_tchar((unsigned char)name[i]))
            return fail(w, 400, "Bad request: malformed header field");
    if (strcasecmp(name, "Content-Length") == 0 && w->n_cl++)
        w->hp.flags &= (unsigned)~F_CONTENTLENGTH; /* see the essay */
    else if (strcasecmp(name, "Transfer-Encoding") == 0)
        w->n_te++;
    /* The value starts after the name's NUL. */
    if (!append(&w->arena, &w->arena_len, &w->arena_cap, "", 1))
        return fail(w, 503, "Service unavailable: out of memory");
    f->value = w->arena_len;
    return 0;
}

static int count_bytes(qvs_wire *w, size_t len)
{
    w->header_bytes += len;
    if (w->header_bytes > w->lim.max_header_bytes)
        return fail(w, 431, "Request header fields too large");
    return 0;
}

static int on_field(http_parser *hp, const char *at, size_t len)
{
    qvs_wire *w = wire_of(hp);
    if (count_bytes(w, len))
        return -1;
    qvs_wire_field *f = last_field(w);
    if (!f || f->name_done) {
        if (w->n_fields == w->lim.max_fields)
            return fail(w, 431,
                        "Request header fields too large: too many fields");
        if (w->n_fields == w->fields_cap) {
            size_t cap = w->fields_cap ? w->fields_cap * 2 : 16;
            qvs_wire_field *nf = realloc(w->fields, cap * sizeof(*nf));
            if (!nf)
                return fail(w, 503, "Service unavailable: out of memory");
            w->fields = nf;
            w->fields_cap = cap;
        }
        if (w->arena_len && !append(&w->arena, &w->arena_len, &w->arena_cap, "",
                                    1)) /* ends the previous value */
            return fail(w, 503, "Service unavailable: out of memory");
        f = &w->fields[w->n_fields++];
        memset(f, 0, sizeof(*f));
        f->name = w->arena_len;
    }
    if (!append(&w->arena, &w->arena_len, &w->arena_cap, at, len))
        return fail(w, 503, "Service unavailable: out of memory");
    f->name_len += len;
    if (at + len < w->feed_end && at[len] == ':')
        return finish_name(w);
    return 0;
}

static int on_value(http_parser *hp, const char *at, size_t len)
{
    qvs_wire *w = wire_of(hp);
    if (count_bytes(w, len) || finish_name(w))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)at[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return fail(w, 400, "Bad request: malformed header field");
    }
    if (!append(&w->arena, &w->arena_len, &w->arena_cap, at, len))
        return fail(w, 503, "Service unavailable: out of memory");
    return 0;
}

/* A field's value, trailing blanks cut (http-parser drops the leading
 * ones). */
static const char *value_of(const qvs_wire *w, const qvs_wire_field *f)
{
    return f->name_done ? w->arena + f->value : "";
}

static void trim_values(qvs_wire *w)
{
    for (size_t i = 0; i < w->n_fields; i++) {
        if (!w->fields[i].name_done)
            continue;
        char *v = w->arena + w->fields[i].value;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = '\0';
        v += strspn(v, " \t");
        w->fields[i].value = (size_t)(v - w->arena);
    }
}

/* RFC 9112 section 6.3: a Transfer-Encoding must be one field whose last
 * (and only) "chunked" ends it.  0 when the framing is sound. */
static int check_codings(qvs_wire *w, const char *te)
{
    if (w->n_cl)
        return fail(w, 400,
                    "Bad request: both Content-Length and Transfer-Encoding");
    if (w->hp.http_minor == 0)
        return fail(w, 400,
                    "Bad request: Transfer-Encoding in an HTTP/1.0 request");
    const char *last = strrchr(te, ',');
    last = last ? last + 1 : te;
    last += strspn(last, " \t");
    bool ends_chunked = strcasecmp(last, "chunked") == 0;
    size_t chunked_seen = 0;
    for (const char *p = te; (p = strcasestr(p, "chunked")); p += 7)
        chunked_seen++;
    if (w->n_te > 1 || !ends_chunked || chunked_seen > 1)
        return fail(w, 400,
                    "Bad request: Transfer-Encoding must end with chunked");
    if (last != te + strspn(te, " \t"))
        return fail(w, 501,
                    "Not implemented: transfer codings other than chunked");
    return 0;
}

static int on_headers(http_parser *hp)
{
    qvs_wire *w = wire_of(hp);
    if (finish_name(w))
        return -1;
    trim_values(w);
    if (hp->http_major != 1 || hp->http_minor > 1)
        return fail(w, 505, "HTTP version not supported");
    const char *cl0 = NULL;
    for (size_t i = 0; i < w->n_fields; i++) {
        const char *name = w->arena + w->fields[i].name;
        if (strcasecmp(name, "Content-Length") != 0)
            continue;
        const char *v = value_of(w, &w->fields[i]);
        if (cl0 && strcmp(cl0, v) != 0)
            return fail(w, 400,
                        "Bad request: conflicting Content-Length fields");
        cl0 = v;
    }
    const char *te = qvs_wire_header(w, "Transfer-Encoding");
    if (te && check_codings(w, te))
        return -1;
    w->event = QVS_WIRE_HEAD;
    http_parser_pause(hp, 1);
    return 0;
}

/* ---- the body ------------------------------------------------------------ */

/* Checks the CRLF after a chunk's data among the bytes [p, end). */
static int check_crlf(qvs_wire *w, const char *p, const char *end)
{
    for (; w->crlf_need && p < end; p++, w->crlf_need--) {
        char want = w->crlf_need == 2 ? '\r' : '\n';
        /* A bare LF ends the chunk as it ends a line elsewhere. */
        if (*p == '\n' && want == '\r') {
            w->crlf_need = 0;
            break;
        }
        if (*p != want)
            return fail(w, 400, "Bad request: malformed chunked body");
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    qvs_wire *w = wire_of(hp);
    if (w->body_len + len > w->lim.max_body) {
        char msg[120];
        snprintf(msg, sizeof(msg),
                 "JSON payload is larger than allowed (limit: %llu bytes)",
                 (unsigned long long)w->lim.max_body);
        return fail(w, 413, msg);
    }
    if (!append(&w->body, &w->body_len, &w->body_cap, at, len))
        return fail(w, 503, "Service unavailable: out of memory");
    if ((hp->flags & F_CHUNKED) && hp->content_length == 0) {
        w->crlf_need = 2;
        return check_crlf(w, at + len, w->feed_end);
    }
    return 0;
}

static int on_complete(http_parser *hp)
{
    qvs_wire *w = wire_of(hp);
    w->event = QVS_WIRE_DONE;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* ---- feeding --------------------------------------------------------------
 */

void qvs_wire_init(qvs_wire *w, const qvs_wire_limits *lim)
{
    memset(w, 0, sizeof(*w));
    w->lim = *lim;
    http_parser_init(&w->hp, HTTP_REQUEST);
    w->hp.data = w;
}

void qvs_wire_free(qvs_wire *w)
{
    free(w->url);
    free(w->arena);
    free(w->fields);
    free(w->body);
    memset(w, 0, sizeof(*w));
}

/* The status and message of an error http-parser found itself. */
static void parser_error(qvs_wire *w)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&w->hp);
    switch (e) {
    case HPE_INVALID_CONTENT_LENGTH:
        fail(w, 400, "Bad request: invalid Content-Length");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        fail(w, 400,
             w->n_te ? "Bad request: both Content-Length and "
                       "Transfer-Encoding"
                     : "Bad request: conflicting Content-Length fields");
        break;
    case HPE_INVALID_CHUNK_SIZE:
        fail(w, 400, "Bad request: malformed chunked body");
        break;
    case HPE_HEADER_OVERFLOW:
        fail(w, 431, "Request header fields too large");
        break;
    case HPE_INVALID_HEADER_TOKEN:
        fail(w, 400, "Bad request: malformed header field");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        fail(w, 400, "Bad request: Transfer-Encoding must end with chunked");
        break;
    case HPE_INVALID_METHOD:
        if (w->lead_n == 3 && memcmp(w->lead, "PRI", 3) == 0)
            fail(w, 400,
                 "Bad request: HTTP/2 is not served on this port (use "
                 "HTTP/1.1)");
        else
            fail(w, 400, "Bad request: malformed request line");
        break;
    case HPE_INVALID_URL:
    case HPE_INVALID_VERSION:
    case HPE_INVALID_CONSTANT:
        fail(w, 400, "Bad request: malformed request line");
        break;
    default:
        fail(w, 400, "Bad request: malformed request");
        break;
    }
}

size_t qvs_wire_feed(qvs_wire *w, const char *p, size_t n, int *event)
{
    if (w->failed) {
        *event = QVS_WIRE_ERROR;
        return 0;
    }
    http_parser_pause(&w->hp, 0);
    w->event = QVS_WIRE_MORE;
    if (check_crlf(w, p, p + n)) {
        *event = QVS_WIRE_ERROR;
        return 0;
    }
    for (size_t i = 0; w->lead_n < sizeof(w->lead) && i < n; i++)
        w->lead[w->lead_n++] = p[i];
    w->feed_end = p + n;
    size_t used = n ? http_parser_execute(&w->hp, &SETTINGS, p, n) : 0;
    w->feed_end = NULL;
    enum http_errno e = HTTP_PARSER_ERRNO(&w->hp);
    if (w->failed || (e != HPE_OK && e != HPE_PAUSED)) {
        if (!w->failed)
            parser_error(w);
        *event = QVS_WIRE_ERROR;
        return used;
    }
    *event = w->event;
    return used;
}

void qvs_wire_next(qvs_wire *w)
{
    w->url_len = w->arena_len = w->n_fields = w->header_bytes = 0;
    w->body_len = 0;
    w->lead_n = 0;
    if (w->body_cap > 65536) { /* one big upload need not stay resident */
        free(w->body);
        w->body = NULL;
        w->body_cap = 0;
    }
    w->event = QVS_WIRE_MORE;
}

/* ---- the request's parts ------------------------------------------------- */

const char *qvs_wire_method(const qvs_wire *w)
{
    return http_method_str((enum http_method)w->hp.method);
}

const char *qvs_wire_url(const qvs_wire *w)
{
    return w->url_len ? w->url : "/";
}

const char *qvs_wire_header(const qvs_wire *w, const char *name)
{
    for (size_t i = 0; i < w->n_fields; i++)
        if (w->fields[i].name_done &&
            strcasecmp(w->arena + w->fields[i].name, name) == 0)
            return value_of(w, &w->fields[i]);
    return NULL;
}

uint64_t qvs_wire_content_length(const qvs_wire *w)
{
    if (w->hp.flags & F_CHUNKED)
        return UINT64_MAX;
    return (w->hp.flags & F_CONTENTLENGTH) ? w->hp.content_length : 0;
}

bool qvs_wire_has_body(const qvs_wire *w)
{
    return (w->hp.flags & F_CHUNKED) || qvs_wire_content_length(w) > 0;
}

bool qvs_wire_keep_alive(const qvs_wire *w)
{
    return http_should_keep_alive(&w->hp) != 0;
}

char *qvs_wire_body(qvs_wire *w, size_t *len)
{
    *len = w->body_len;
    return w->body_len ? w->body : NULL;
}

char *qvs_wire_take_body(qvs_wire *w, size_t *len, size_t *cap)
{
    char *b = w->body;
    *len = w->body_len;
    *cap = w->body_cap;
    w->body = NULL;
    w->body_len = w->body_cap = 0;
    return b;
}
