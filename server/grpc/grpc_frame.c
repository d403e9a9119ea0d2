/*
 * grpc_frame.c -- gRPC's length-prefixed message framing for unary calls
 * (grpc/doc/PROTOCOL-HTTP2.md, "Length-Prefixed-Message"): one byte of
 * flags (0, or 1 when the message is compressed with the call's
 * grpc-encoding), four bytes of big-endian length, the message.
 *
 * Every method here is unary, so a request body holds exactly one
 * message: a body that ends inside the prefix or the message is
 * truncated, one with bytes after the message holds a second message a
 * unary call may not send; both are INVALID_ARGUMENT.  Compression is
 * gzip only (Qdrant's clients send gzip, the JavaScript one by default for
 * messages over 1 KiB); zlib inflates it, never to more than the message
 * size limit, so a small "zip bomb" cannot take memory.
 */
#include "grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inflates a gzip stream of len bytes into a new buffer of at most max
 * bytes.  Returns the status. */
static int inflate_gzip(const uint8_t *in, size_t len, uint64_t max,
                        uint8_t **out, size_t *out_len, char *err, size_t cap)
{
    size_t room = 4096, n = 0;
    uint8_t *buf = malloc(room);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (!buf || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(buf);
        snprintf(err, cap, "out of memory");
        return QVS_GRPC_RESOURCE_EXHAUSTED;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    int rc = Z_OK;
    while (rc == Z_OK && n <= max) {
        if (n == room) {
            uint8_t *p = realloc(buf, room * 2);
            if (!p)
                break;
            buf = p;
            room *= 2;
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(room - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = room - z.avail_out;
    }
    inflateEnd(&z);
    if (n > max) {
        free(buf);
        snprintf(err, cap, "decompressed message larger than max (%llu bytes)",
                 (unsigned long long)max);
        return QVS_GRPC_RESOURCE_EXHAUSTED;
    }
    if (rc != Z_STREAM_END || z.avail_in != 0) {
        free(buf);
        snprintf(err, cap, "malformed gzip-compressed message");
        return QVS_GRPC_INTERNAL;
    }
    *out = buf;
    *out_len = n;
    return QVS_GRPC_OK;
}

int qvs_grpc_unframe(const uint8_t *in, size_t len, bool gzip, uint64_t max,
                     const uint8_t **msg, size_t *msg_len, uint8_t **owned,
                     char *err, size_t cap)
{
    *msg = NULL;
    *msg_len = 0;
    *owned = NULL;
    if (len < 5) {
        snprintf(err, cap, "truncated gRPC message: no length prefix");
        return QVS_GRPC_INVALID_ARGUMENT;
    }
    uint64_t n = ((uint64_t)in[1] << 24) | ((uint64_t)in[2] << 16) |
                 ((uint64_t)in[3] << 8) | in[4];
    if (in[0] > 1 || (in[0] == 1 && !gzip)) {
        snprintf(err, cap, "%s",
                 in[0] == 1 ? "compressed message without a supported "
                              "grpc-encoding (identity, gzip)"
                            : "malformed gRPC message flag");
        return QVS_GRPC_UNIMPLEMENTED;
    }
    if (n != len - 5) {
        snprintf(err, cap, "%s",
                 n > len - 5 ? "truncated gRPC message"
                             : "a unary call takes exactly one message");
        return QVS_GRPC_INVALID_ARGUMENT;
    }
    if (n > max) {
        snprintf(err, cap, "message larger than max (%llu bytes)",
                 (unsigned long long)max);
        return QVS_GRPC_RESOURCE_EXHAUSTED;
    }
    if (in[0] == 0) {
        *msg = in + 5;
        *msg_len = (size_t)n;
        return QVS_GRPC_OK;
    }
    int st = inflate_gzip(in + 5, (size_t)n, max, owned, msg_len, err, cap);
    *msg = *owned;
    return st;
}
