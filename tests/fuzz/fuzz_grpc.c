/*
 * fuzz_grpc.c -- libFuzzer target: arbitrary bytes as the body of every
 * gRPC method, framed as on the wire.
 *
 * The target stands in for the HTTP/2 listener (grpc_server.c) without
 * sockets: it checks the framing with qvs_grpc_unframe, as the listener
 * does when a request stream ends, and runs the call with
 * qvs_grpc_invoke, as a worker does -- protobuf decoding, the conversion
 * to REST's JSON, the REST handler, the conversion back and the packing
 * of the reply.  The server is the real one (qvs_server_start, gRPC off,
 * its storage under /dev/shm when it exists), with collection "c"
 * (four-dimensional Cosine vectors, a few points with payloads).
 *
 * An input is (tests/fuzz/grpc_seeds.mjs writes the seeds)
 *   byte 0   the method: an index into Qdrant's services' methods
 *            (qvs_grpc_method_path order), modulo their number;
 *   byte 1   bit 0: the call said grpc-encoding: gzip;
 *   rest     the request body: 5-byte prefix and message.
 *
 * Invariants (a violation is __builtin_trap, a crash for libFuzzer):
 *   - the status is one a client may see for such input: OK,
 *     INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, RESOURCE_EXHAUSTED,
 *     UNIMPLEMENTED, or INTERNAL only for a corrupt gzip stream (framing);
 *   - a failure has a message;
 *   - an OK reply unpacks as the method's reply message.
 * ASan, UBSan and LeakSanitizer catch the rest.  FUZZ_GRPC_VERBOSE=1
 * prints each call's method and status.
 *
 * State: the server is restarted from an empty storage every RESET_EVERY
 * inputs (FUZZ_GRPC_RESET_EVERY overrides it; the corpus replay test sets
 * 1, so every saved input meets a fresh server).
 */
#include "server/grpc/grpc.h"
#include "server/server.h"

#include "collections_service.pb-c.h"
#include "health_check.pb-c.h"
#include "points_service.pb-c.h"
#include "qdrant.pb-c.h"
#include "snapshots_service.pb-c.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 64
#define MAX_BYTES   (1u << 20)

typedef struct fz_state {
    qvs_server *srv;
    char dir[256];
    unsigned runs, reset_every;
    bool verbose;
} fz_state;

static fz_state fz;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void stop(void)
{
    if (!fz.srv)
        return;
    qvs_server_stop(fz.srv);
    fz.srv = NULL;
    nftw(fz.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs a REST route with a JSON body (the fixture); must succeed. */
static void rest(const char *method, const char *pattern, const char *json)
{
    const qvs_router *r = qvs_server_router(fz.srv);
    for (size_t i = 0; i < r->n; i++) {
        const qvs_route *rt = r->entries[i].route;
        if (strcmp(rt->method, method) != 0 ||
            strcmp(rt->pattern, pattern) != 0)
            continue;
        char err[256];
        cJSON *body = qvs_json_parse(json, strlen(json), err, sizeof(err));
        qvs_req req = {.method = method,
                       .params = {"c"},
                       .n_params = 1,
                       .body = body,
                       .catalog = qvs_server_catalog(fz.srv)};
        qvs_resp resp = {.http_status = 200};
        rt->handler(&req, &resp);
        cJSON_Delete(body);
        cJSON_Delete(resp.result);
        if (resp.http_status >= 300) {
            fprintf(stderr, "fuzz_grpc: fixture %s %s: %s\n", method, pattern,
                    resp.error);
            __builtin_trap();
        }
        return;
    }
    __builtin_trap(); /* no such route: a bug of this file */
}

static void start(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fz.dir, sizeof(fz.dir), "%s/quiver-fuzz-grpc.XXXXXX", base);
    if (!mkdtemp(fz.dir))
        __builtin_trap();
    qvs_config cfg;
    qvs_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.storage = fz.dir;
    cfg.threads = 2;
    cfg.max_request_bytes = MAX_BYTES;
    char err[512];
    if (!qvs_server_start(&cfg, &fz.srv, err, sizeof(err))) {
        fprintf(stderr, "fuzz_grpc: %s\n", err);
        __builtin_trap();
    }
    rest("PUT", "/collections/{name}",
         "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"}}");
    rest("PUT", "/collections/{name}/points",
         "{\"points\":[{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"k\":\"a\","
         "\"n\":1}},{\"id\":2,\"vector\":[0,1,0,0],\"payload\":{\"k\":\"b\","
         "\"n\":5,\"big\":9007199254740993}},{\"id\":\"550e8400-e29b-41d4-"
         "a716-446655440000\",\"vector\":[0,0,1,0],\"payload\":{\"l\":[1,"
         "\"x\",null,{\"o\":true}]}}]}");
}

static void at_exit(void)
{
    stop();
}

static void init(void)
{
    const char *e = getenv("FUZZ_GRPC_RESET_EVERY");
    fz.reset_every = e && atoi(e) > 0 ? (unsigned)atoi(e) : RESET_EVERY;
    fz.verbose = getenv("FUZZ_GRPC_VERBOSE") != NULL;
    atexit(at_exit);
}

/* The reply type of the method at path. */
static const ProtobufCMessageDescriptor *output_of(const char *path)
{
    static const ProtobufCServiceDescriptor *const services[] = {
        &qdrant__qdrant__descriptor, &qdrant__collections__descriptor,
        &qdrant__points__descriptor, &qdrant__snapshots__descriptor,
        &grpc__health__v1__health__descriptor};
    for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
        size_t l = strlen(services[s]->name);
        if (strncmp(path + 1, services[s]->name, l) == 0 && path[l + 1] == '/')
            return protobuf_c_service_descriptor_get_method_by_name(
                       services[s], path + l + 2)
                ->output;
    }
    return NULL;
}

static bool status_sane(int st, bool framing)
{
    switch (st) {
    case QVS_GRPC_OK:
    case QVS_GRPC_INVALID_ARGUMENT:
    case QVS_GRPC_NOT_FOUND:
    case QVS_GRPC_ALREADY_EXISTS:
    case QVS_GRPC_RESOURCE_EXHAUSTED:
    case QVS_GRPC_UNIMPLEMENTED:
        return true;
    case QVS_GRPC_INTERNAL:
        return framing; /* a corrupt gzip stream */
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz.reset_every)
        init();
    if (size < 2)
        return 0;
    if (fz.srv && fz.runs % fz.reset_every == 0)
        stop();
    if (!fz.srv)
        start();
    fz.runs++;
    char path[128];
    if (!qvs_grpc_method_path(data[0] % qvs_grpc_method_count(), path,
                              sizeof(path)))
        __builtin_trap();
    const qvs_grpc_method *m = qvs_grpc_find(path);
    if (!m)
        __builtin_trap(); /* every listed method is found */
    const uint8_t *msg;
    size_t msg_len;
    uint8_t *owned = NULL, *out = NULL;
    size_t out_len = 0;
    char err[1024] = "";
    int st = qvs_grpc_unframe(data + 2, size - 2, data[1] & 1, MAX_BYTES, &msg,
                              &msg_len, &owned, err, sizeof(err));
    bool framing = st != QVS_GRPC_OK;
    if (!framing)
        st = qvs_grpc_invoke(fz.srv, m, msg, msg_len, &out, &out_len, err,
                             sizeof(err));
    if (fz.verbose)
        fprintf(stderr, "%s: %d %s\n", path, st, err);
    if (!status_sane(st, framing) || (st != QVS_GRPC_OK && !err[0])) {
        fprintf(stderr, "fuzz_grpc: %s: status %d (%s)\n", path, st, err);
        __builtin_trap();
    }
    if (st == QVS_GRPC_OK) {
        ProtobufCMessage *reply =
            protobuf_c_message_unpack(output_of(path), NULL, out_len, out);
        if (!reply) {
            fprintf(stderr, "fuzz_grpc: %s: the reply does not unpack\n", path);
            __builtin_trap();
        }
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    free(out);
    free(owned);
    return 0;
}
