/*
 * multipart.c -- the file part of a multipart/form-data body (RFC 7578),
 * for snapshot uploads: Qdrant's upload form sends the archive as the
 * field `snapshot`, and the first part that carries a filename (or is
 * named `snapshot`) is taken, as libmicrohttpd's post processor did for
 * the previous HTTP layer.
 *
 * The body is whole in memory (the HTTP layer has read it under the body
 * limit), so the parts are found by searching for the delimiter
 * "\r\n--boundary" with memmem; each part's header block ends at the first
 * empty line and its Content-Disposition gives the name and filename.  No
 * Debian library decodes form bodies in C short of a MIME suite (GMime),
 * and this is the one place that needs it.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The value of parameter `key` in a header value ("...; key=value" or
 * key="value"), copied into out; false if absent. */
static bool param(const char *h, size_t hlen, const char *key, char *out,
                  size_t cap)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 1 <= hlen; i++) {
        if ((i > 0 && h[i - 1] != ';' && h[i - 1] != ' ' && h[i - 1] != '\t') ||
            strncasecmp(h + i, key, klen) != 0 || h[i + klen] != '=')
            continue;
        const char *v = h + i + klen + 1, *end = h + hlen;
        size_t n = 0;
        if (v < end && *v == '"') {
            for (v++; v < end && *v != '"' && n + 1 < cap; v++)
                out[n++] = *v;
        } else {
            for (; v < end && *v != ';' && *v != ' ' && *v != '\r' &&
                   *v != '\n' && n + 1 < cap;
                 v++)
                out[n++] = *v;
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

/* True if the part's headers [h, h + hlen) say it is the upload. */
static bool is_file_part(const char *h, size_t hlen)
{
    const char *cd = NULL;
    for (size_t i = 0; i + 20 <= hlen; i++)
        if ((i == 0 || h[i - 1] == '\n') &&
            strncasecmp(h + i, "Content-Disposition:", 20) == 0) {
            cd = h + i;
            break;
        }
    if (!cd)
        return false;
    const char *eol = memchr(cd, '\n', (size_t)(h + hlen - cd));
    size_t len = eol ? (size_t)(eol - cd) : (size_t)(h + hlen - cd);
    char name[256], file[256];
    if (param(cd, len, "filename", file, sizeof(file)))
        return true;
    return param(cd, len, "name", name, sizeof(name)) &&
           strcmp(name, "snapshot") == 0;
}

bool qvs_multipart_file(const char *content_type, const char *body, size_t len,
                        const char **data, size_t *data_len)
{
    char boundary[256];
    if (!param(content_type, strlen(content_type), "boundary", boundary + 4,
               sizeof(boundary) - 4) ||
        !boundary[4])
        return false;
    memcpy(boundary, "\r\n--", 4);
    size_t blen = strlen(boundary);
    /* The first delimiter may open the body without the CRLF. */
    const char *end = body + len, *p;
    if (len >= blen - 2 && memcmp(body, boundary + 2, blen - 2) == 0)
        p = body + blen - 2;
    else if ((p = memmem(body, len, boundary, blen)))
        p += blen;
    else
        return false;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return false; /* the closing delimiter */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        const char *h = nl + 1;
        const char *blank = memmem(h, (size_t)(end - h), "\r\n\r\n", 4);
        const char *first_blank =
            (end - h >= 2 && h[0] == '\r' && h[1] == '\n') ? h : NULL;
        const char *content;
        size_t hlen;
        if (first_blank) {
            content = h + 2;
            hlen = 0;
        } else if (blank) {
            content = blank + 4;
            hlen = (size_t)(blank + 2 - h);
        } else {
            return false;
        }
        const char *next =
            memmem(content, (size_t)(end - content), boundary, blen);
        if (!next)
            return false;
        if (is_file_part(h, hlen)) {
            *data = content;
            *data_len = (size_t)(next - content);
            return true;
        }
        p = next + blen;
    }
}
