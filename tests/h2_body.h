/*
 * h2_body.h -- a request body handed to libnghttp2's data provider, for
 * the gRPC clients of tests/test_grpc.c and bench/bench_grpc_load.c.
 *
 * The provider's source points at an h2_body; nghttp2 calls h2_body_read
 * for the next DATA frame until it reports the end of the body.
 */
#ifndef QUIVER_TESTS_H2_BODY_H
#define QUIVER_TESTS_H2_BODY_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <string.h>

typedef struct h2_body {
    const uint8_t *data;
    size_t len, off;
} h2_body;

static inline ssize_t h2_body_read(nghttp2_session *ng, int32_t id,
                                   uint8_t *buf, size_t length, uint32_t *flags,
                                   nghttp2_data_source *src, void *user)
{
    (void)ng, (void)id, (void)user;
    h2_body *b = src->ptr;
    size_t n = b->len - b->off;
    if (n > length)
        n = length;
    memcpy(buf, b->data + b->off, n);
    b->off += n;
    if (b->off == b->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#endif /* QUIVER_TESTS_H2_BODY_H */
