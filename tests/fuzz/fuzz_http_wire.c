/*
 * fuzz_http_wire.c -- libFuzzer target: arbitrary bytes as what a client
 * sends on one connection, read by the server's request reader
 * (server/wire.c over http-parser) as the connection loop reads them.
 *
 * An input is
 *   byte 0   how the bytes arrive: 0 all at once, else in pieces of
 *            byte0 bytes (as many small reads)
 *   rest     the bytes of the connection
 * Each piece is fed until the wire stops consuming it; after a head it is
 * fed on (as the loop does for a request it accepts); after a complete
 * request the wire moves on to the next (pipelining); an error ends the
 * connection, as the loop closes it.
 *
 * Invariants (a violation is __builtin_trap, a crash to libFuzzer):
 *   - an error carries a status among 400, 413, 414, 431, 501, 503, 505
 *     and a message;
 *   - a request's URL, fields and body stay within the limits;
 *   - a complete request's method and URL are strings, and the feed always
 *     makes progress or stops with an event.
 * ASan and UBSan catch the rest; LeakSanitizer checks every run's leaks.
 */
#include "server/wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const qvs_wire *w)
{
    static const int ok[] = {400, 413, 414, 431, 501, 503, 505};
    bool known = false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        known |= w->status == ok[i];
    if (!known || !w->message[0])
        __builtin_trap();
}

static void check_request(qvs_wire *w, const qvs_wire_limits *lim)
{
    size_t len;
    (void)qvs_wire_body(w, &len);
    if (strlen(qvs_wire_url(w)) > lim->max_uri || len > lim->max_body ||
        w->n_fields > lim->max_fields || !qvs_wire_method(w))
        __builtin_trap();
    (void)qvs_wire_header(w, "Content-Type");
    (void)qvs_wire_keep_alive(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    qvs_wire_limits lim = {.max_uri = 256,
                           .max_header_bytes = 1024,
                           .max_fields = 16,
                           .max_body = 4096};
    qvs_wire w;
    qvs_wire_init(&w, &lim);
    size_t off = 0;
    bool closed = false;
    while (off < n && !closed) {
        size_t piece = step && n - off > step ? step : n - off;
        size_t used = 0;
        int stalls = 0; /* events without progress: at most head, done */
        while (used < piece && !closed) {
            int ev;
            size_t k = qvs_wire_feed(&w, p + off + used, piece - used, &ev);
            if (k > piece - used || (k == 0 && ++stalls > 2))
                __builtin_trap();
            used += k;
            if (ev == QVS_WIRE_ERROR) {
                check_error(&w);
                closed = true;
            } else if (ev == QVS_WIRE_HEAD) {
                check_request(&w, &lim);
            } else if (ev == QVS_WIRE_DONE) {
                check_request(&w, &lim);
                qvs_wire_next(&w);
            } else if (used != piece) {
                __builtin_trap(); /* stopped without a reason */
            }
            if (k)
                stalls = 0;
        }
        off += used;
    }
    qvs_wire_free(&w);
    return 0;
}
