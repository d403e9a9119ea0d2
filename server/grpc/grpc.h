/*
 * grpc.h -- the internal header of Qdrant's gRPC API (server/grpc/): the
 * listener http.c starts beside REST, and the calls it runs.
 *
 *   grpc_server.c   HTTP/2 (libnghttp2) on its own poll thread: streams,
 *                   gRPC's 5-byte message framing, metadata (api-key,
 *                   grpc-timeout), status trailers, graceful shutdown;
 *   grpc_rpc.c      the table of methods ("/qdrant.Points/Search") and
 *                   what each runs: a REST handler of the same meaning;
 *   grpc_fast.c     the direct path of dense Search, SearchBatch, Query
 *                   and QueryBatch: the vector stays binary, hits go
 *                   straight to ScoredPoint messages, anything else (and
 *                   any error) falls back to the REST handler's route;
 *   grpc_frame.c    gRPC's message framing (the length prefix, gzip);
 *   grpc_convert.c  protobuf-c messages to the REST handlers' JSON bodies
 *                   and their JSON results back to protobuf messages.
 *
 * One source of truth: every RPC with a REST counterpart runs that REST
 * handler (found through the server's own router, by method and path) on
 * the JSON body its request converts to, and converts the handler's
 * result back.  Validation, errors, locking and storage are therefore the
 * REST endpoint's, and the two APIs cannot drift apart; only the mapping
 * of field names and shapes is gRPC's own.  The direct path keeps to this
 * rule: every field but the query vector still reaches the REST code as
 * JSON, the plan and the search are points_query.c's, and it answers only
 * successes (tests/test_grpc_fast.c checks the bytes equal).
 */
#ifndef QUIVER_SERVER_GRPC_H
#define QUIVER_SERVER_GRPC_H

#include "server.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct qvs_grpc qvs_grpc;

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum {
    QVS_GRPC_OK = 0,
    QVS_GRPC_CANCELLED = 1,
    QVS_GRPC_UNKNOWN = 2,
    QVS_GRPC_INVALID_ARGUMENT = 3,
    QVS_GRPC_DEADLINE_EXCEEDED = 4,
    QVS_GRPC_NOT_FOUND = 5,
    QVS_GRPC_ALREADY_EXISTS = 6,
    QVS_GRPC_PERMISSION_DENIED = 7,
    QVS_GRPC_RESOURCE_EXHAUSTED = 8,
    QVS_GRPC_FAILED_PRECONDITION = 9,
    QVS_GRPC_UNIMPLEMENTED = 12,
    QVS_GRPC_INTERNAL = 13,
    QVS_GRPC_UNAVAILABLE = 14,
    QVS_GRPC_UNAUTHENTICATED = 16
};

/* ---- the listener (grpc_server.c) ---------------------------------------- */

/* Binds qvs_server_config(srv)->grpc_port on the REST host and starts the
 * poll thread.  *out is NULL (and true returned) when the port is the
 * program's default and cannot be bound: a warning is printed and only
 * REST serves.  False with a message in err otherwise. */
bool qvs_grpc_start(qvs_server *srv, qvs_grpc **out, char *err, size_t cap);

/* The bound port. */
unsigned qvs_grpc_port(const qvs_grpc *g);

/* Prometheus lines counting the replies sent, by method and status:
 * grpc_responses_total{endpoint="/qdrant.Points/Search",status="OK"}
 * (malloc'd text; NULL on ENOMEM).  Thread-safe (relaxed atomics). */
char *qvs_grpc_metrics(qvs_grpc *g);

/* Graceful stop: no new connections, GOAWAY to every client, calls in
 * flight finish and are answered (up to QVS_DRAIN_TIMEOUT_MS), then every
 * connection closes and the thread ends.  NULL is ignored.  Must run while
 * the worker pool still runs. */
void qvs_grpc_stop(qvs_grpc *g);

/* ---- message framing (grpc_frame.c) -------------------------------------- */

/* Checks the body of a unary call, len bytes at in: exactly one message,
 * its 5-byte prefix (flag 0, or 1 = compressed when the call said
 * grpc-encoding: gzip) and exactly that many bytes.  On success *msg and
 * *msg_len are the message: in place, or inflated (zlib) into *owned
 * (malloc'd, freed by the caller; NULL when in place), at most max bytes
 * either way.  Returns the gRPC status: INVALID_ARGUMENT for a truncated
 * or extra message, UNIMPLEMENTED for a compression we do not speak,
 * RESOURCE_EXHAUSTED past max, INTERNAL for a corrupt gzip stream, with
 * the reason in err. */
int qvs_grpc_unframe(const uint8_t *in, size_t len, bool gzip, uint64_t max,
                     const uint8_t **msg, size_t *msg_len, uint8_t **owned,
                     char *err, size_t cap);

/* ---- methods (grpc_rpc.c) ------------------------------------------------ */

typedef struct qvs_grpc_method qvs_grpc_method;

/* The method of a request path ("/qdrant.Points/Search"), or NULL for a
 * path that is no method of Qdrant's services.  A method this server does
 * not implement is found too; qvs_grpc_invoke answers it UNIMPLEMENTED. */
const qvs_grpc_method *qvs_grpc_find(const char *path);

/* Whether a method changes data (the read-only key may not call it, and
 * it waits in the pool's write queue) or needs no key (health checks). */
bool qvs_grpc_method_write(qvs_server *srv, const qvs_grpc_method *m);
bool qvs_grpc_method_open(const qvs_grpc_method *m);

/* False for a method of Qdrant's services this server does not implement
 * (answered UNIMPLEMENTED). */
bool qvs_grpc_method_implemented(const qvs_grpc_method *m);

/* Runs one call: unpacks the request message (len bytes), runs it over
 * the server's catalog and packs the reply into *out (malloc'd, *out_len
 * bytes; NULL/0 for an empty message).  Returns the gRPC status; on
 * failure msg holds the message for grpc-message.  Thread-safe. */
int qvs_grpc_invoke(qvs_server *srv, const qvs_grpc_method *m,
                    const uint8_t *in, size_t len, uint8_t **out,
                    size_t *out_len, char *msg, size_t cap);

/* The number of methods of Qdrant's services, and the path of method i
 * into buf (false past the last), for the fuzz target and the tests. */
size_t qvs_grpc_method_count(void);

/* The index of the method at path among qvs_grpc_method_count(), or that
 * count for a path that names none. */
size_t qvs_grpc_method_index(const char *path);
bool qvs_grpc_method_path(size_t i, char *buf, size_t cap);

/* Deletes the members of a converted request that REST has no body field
 * for (collection_name, wait, timeout, read_consistency, ordering,
 * shard_key_selector), as a single-node Qdrant ignores them. */
void qvs_grpc_drop_transport(cJSON *o);

/* ---- the direct path (grpc_fast.c) --------------------------------------- */

/* Answers request rq of the method at path (Points/Search, SearchBatch,
 * Query, QueryBatch) without the JSON route when it can: true with the
 * packed reply in *out (malloc'd, *out_len bytes), the same bytes the
 * general route would give but for the `time` field, measured from *t0.
 * False, with nothing answered and rq unchanged, for anything else --
 * another method, a shape or an error it leaves to the general route,
 * which then runs.  Thread-safe. */
bool qvs_grpc_fast(qvs_server *srv, const char *path, ProtobufCMessage *rq,
                   const struct timespec *t0, uint8_t **out, size_t *out_len);

/* ---- conversions (grpc_convert.c) ---------------------------------------- */

/* A protobuf message as the JSON body of a REST request: field names as
 * in the .proto (they are REST's too), oneofs by their member's name,
 * maps as objects, and Qdrant's value types (Value, PointId, Filter,
 * Match, vectors, selectors, enums) in REST's shapes.  Integers keep
 * their exact text (qjson.h).  NULL on ENOMEM. */
cJSON *qvs_pb_to_json(const ProtobufCMessage *msg);

/* The name of a string field of msg (at any depth) whose text is not
 * UTF-8, or NULL when every string is. */
const char *qvs_pb_bad_utf8(const ProtobufCMessage *msg);

/* A REST result as a protobuf message of type d (malloc'd, freed with
 * protobuf_c_message_free_unpacked(m, NULL)): fields found by name,
 * Qdrant's value types converted back.  Members of the JSON that the
 * message has no field for are skipped.  NULL on ENOMEM or when the
 * result has a shape the message cannot hold (msg says why). */
ProtobufCMessage *qvs_json_to_pb(const ProtobufCMessageDescriptor *d,
                                 const cJSON *j, char *msg, size_t cap);

/* The gRPC status of a REST reply's HTTP status, as Qdrant maps its
 * errors (404 NOT_FOUND, 400/422 INVALID_ARGUMENT, 409 ALREADY_EXISTS,
 * 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 503 UNAVAILABLE, ...). */
int qvs_grpc_status_of_http(int http_status);

#endif /* QUIVER_SERVER_GRPC_H */
