/*
 * config.c -- the settings of `quiver serve`: Qdrant's environment
 * variables first, then command-line flags, which win.
 *
 *   flag                    environment variable                 default
 *   --host H                QDRANT__SERVICE__HOST                (below)
 *   --port P                QDRANT__SERVICE__HTTP_PORT           6333
 *   --grpc-port P           QDRANT__SERVICE__GRPC_PORT           6334 (0: off)
 *   --storage DIR           QDRANT__STORAGE__STORAGE_PATH        ./storage
 *   --api-key K             QDRANT__SERVICE__API_KEY             none
 *   --read-only-api-key K   QDRANT__SERVICE__READ_ONLY_API_KEY   none
 *   --threads N             QDRANT__SERVICE__MAX_WORKERS         CPUs
 *   --max-request-size-mb N QDRANT__SERVICE__MAX_REQUEST_SIZE_MB 32
 *   --header-timeout-sec N  QDRANT__SERVICE__HEADER_TIMEOUT_SEC  10
 *   --body-min-rate N       QDRANT__SERVICE__BODY_MIN_RATE       1024
 *   --max-connections N     QDRANT__SERVICE__MAX_CONNECTIONS     1024
 *   --max-connections-per-ip N
 *                           QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP 256
 *   --snapshot-url-hosts LIST
 *                           QDRANT__STORAGE__SNAPSHOT_URL_HOSTS  loopback
 *   --storage-snapshot PATH, --snapshot PATH:NAME (repeatable, also
 *   --collection-snapshot), --force-snapshot (-f): Qdrant's start-up
 *   recovery flags (src/main.rs Args), no environment variables
 *
 * The snapshot URL hosts are the hosts PUT .../snapshots/recover may
 * download an http(s):// location from (comma-separated, "*" for any):
 * Qdrant downloads any URL it is given, which lets whoever may recover a
 * snapshot make the server fetch from inside its network, so here only
 * loopback is allowed unless the operator says otherwise.
 *
 * The last four are not Qdrant's (actix has fixed equivalents); they are
 * named in its style so a deployment sets them the same way.  They bound
 * what slow or numerous clients can hold (guard.c): a request head must
 * arrive within the header timeout (also the keep-alive idle time), a
 * body at the minimum rate (bytes per second) after that much grace, and
 * past the connection limits the oldest unfinished connection is closed.
 *
 * The default listen address is 127.0.0.1 when no API key is configured,
 * so an unprotected server is reachable only from this machine, and
 * 0.0.0.0 (every interface, as Qdrant) once a key protects it.  An
 * explicit --host or QDRANT__SERVICE__HOST always wins.  Qdrant's
 * MAX_WORKERS of 0 means "one per CPU", as here.
 */
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > (long)QVS_MAX_THREADS ? QVS_MAX_THREADS : (unsigned)n;
}

void qvs_config_init(qvs_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = QVS_DEFAULT_PORT;
    cfg->storage = QVS_DEFAULT_STORAGE;
    cfg->threads = cpu_count();
    cfg->max_request_bytes = (uint64_t)QVS_DEFAULT_MAX_MB << 20;
    cfg->header_timeout_s = QVS_HEADER_TIMEOUT_S;
    cfg->body_min_rate = QVS_BODY_MIN_RATE;
    cfg->max_connections = QVS_CONNECTION_LIMIT;
    cfg->max_connections_per_ip = QVS_PER_IP_LIMIT;
}

bool qvs_config_has_auth(const qvs_config *cfg)
{
    return (cfg->api_key && *cfg->api_key) ||
           (cfg->read_only_api_key && *cfg->read_only_api_key);
}

const char *qvs_config_host(const qvs_config *cfg)
{
    if (cfg->host && *cfg->host)
        return cfg->host;
    return qvs_config_has_auth(cfg) ? "0.0.0.0" : "127.0.0.1";
}

/* Parses an unsigned decimal in [lo, hi]; names the source on failure. */
static bool parse_uint(const char *what, const char *text, uint64_t lo,
                       uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr,
                "quiver serve: %s must be an integer from %" PRIu64
                " to %" PRIu64 ", got '%s'\n",
                what, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

static bool set_threads(qvs_config *cfg, const char *what, const char *text)
{
    uint64_t v;
    if (!parse_uint(what, text, 0, QVS_MAX_THREADS, &v))
        return false;
    cfg->threads = v ? (unsigned)v : cpu_count();
    return true;
}

static bool set_port(qvs_config *cfg, const char *what, const char *text)
{
    uint64_t v;
    if (!parse_uint(what, text, 0, 65535, &v))
        return false;
    cfg->port = (unsigned)v;
    return true;
}

/* The gRPC port: 0 turns gRPC off.  Given explicitly, a port that cannot
 * be bound stops the server; the default 6334 only warns (grpc_server.c),
 * so that several servers on one machine (tests) need not all say
 * --grpc-port 0. */
static bool set_grpc_port(qvs_config *cfg, const char *what, const char *text)
{
    uint64_t v;
    if (!parse_uint(what, text, 0, 65535, &v))
        return false;
    cfg->grpc_port = (int)v;
    cfg->grpc_port_default = false;
    return true;
}

static bool set_max_mb(qvs_config *cfg, const char *what, const char *text)
{
    uint64_t v;
    if (!parse_uint(what, text, 1, QVS_MAX_MAX_MB, &v))
        return false;
    cfg->max_request_bytes = v << 20;
    return true;
}

/* The four connection settings, bounds included, in one table. */
typedef struct limit_opt {
    const char *flag, *env;
    uint64_t lo, hi;
} limit_opt;

enum { L_HEADER, L_RATE, L_CONNS, L_PER_IP, L_COUNT };

static const limit_opt limit_opts[L_COUNT] = {
    {"--header-timeout-sec", "QDRANT__SERVICE__HEADER_TIMEOUT_SEC", 1, 3600},
    {"--body-min-rate", "QDRANT__SERVICE__BODY_MIN_RATE", 1, 1u << 30},
    {"--max-connections", "QDRANT__SERVICE__MAX_CONNECTIONS", 1,
     QVS_MAX_CONNECTIONS},
    {"--max-connections-per-ip", "QDRANT__SERVICE__MAX_CONNECTIONS_PER_IP", 1,
     QVS_MAX_CONNECTIONS}};

static bool set_limit(qvs_config *cfg, int which, const char *what,
                      const char *text)
{
    const limit_opt *o = &limit_opts[which];
    uint64_t v;
    if (!parse_uint(what, text, o->lo, o->hi, &v))
        return false;
    switch (which) {
    case L_HEADER:
        cfg->header_timeout_s = (unsigned)v;
        break;
    case L_RATE:
        cfg->body_min_rate = v;
        break;
    case L_CONNS:
        cfg->max_connections = (unsigned)v;
        break;
    default:
        cfg->max_connections_per_ip = (unsigned)v;
        break;
    }
    return true;
}

static bool apply_env(qvs_config *cfg)
{
    const char *v;
    if ((v = getenv("QDRANT__SERVICE__HOST")) && *v)
        cfg->host = v;
    if ((v = getenv("QDRANT__SERVICE__HTTP_PORT")) && *v &&
        !set_port(cfg, "QDRANT__SERVICE__HTTP_PORT", v))
        return false;
    if ((v = getenv("QDRANT__SERVICE__GRPC_PORT")) && *v &&
        !set_grpc_port(cfg, "QDRANT__SERVICE__GRPC_PORT", v))
        return false;
    if ((v = getenv("QDRANT__STORAGE__STORAGE_PATH")) && *v)
        cfg->storage = v;
    if ((v = getenv("QDRANT__SERVICE__API_KEY")))
        cfg->api_key = v;
    if ((v = getenv("QDRANT__SERVICE__READ_ONLY_API_KEY")))
        cfg->read_only_api_key = v;
    if ((v = getenv("QDRANT__SERVICE__MAX_WORKERS")) && *v &&
        !set_threads(cfg, "QDRANT__SERVICE__MAX_WORKERS", v))
        return false;
    if ((v = getenv("QDRANT__SERVICE__MAX_REQUEST_SIZE_MB")) && *v &&
        !set_max_mb(cfg, "QDRANT__SERVICE__MAX_REQUEST_SIZE_MB", v))
        return false;
    if ((v = getenv("QDRANT__STORAGE__SNAPSHOT_URL_HOSTS")))
        cfg->snapshot_url_hosts = v;
    for (int i = 0; i < L_COUNT; i++)
        if ((v = getenv(limit_opts[i].env)) && *v &&
            !set_limit(cfg, i, limit_opts[i].env, v))
            return false;
    return true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: quiver serve [--host H] [--port P] [--grpc-port P]\n"
            "                    [--storage DIR]\n"
            "                    [--api-key K] [--read-only-api-key K]\n"
            "                    [--threads N] [--max-request-size-mb N]\n"
            "                    [--header-timeout-sec N] [--body-min-rate N]\n"
            "                    [--max-connections N] "
            "[--max-connections-per-ip N]\n"
            "                    [--snapshot-url-hosts H1,H2|*]\n"
            "                    [--storage-snapshot PATH] "
            "[--snapshot PATH:NAME]... [--force-snapshot]\n"
            "A Qdrant-compatible REST server (Qdrant %s API) on port 6333,\n"
            "and its gRPC API on port 6334 (--grpc-port 0: off).\n"
            "Qdrant's environment variables (QDRANT__SERVICE__HTTP_PORT, "
            "QDRANT__SERVICE__API_KEY,\n"
            "QDRANT__STORAGE__STORAGE_PATH, ...) are read too; flags win.\n"
            "Without an API key the default host is 127.0.0.1, with one "
            "0.0.0.0.\n",
            QVS_VERSION);
}

int qvs_config_parse(qvs_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"grpc-port", required_argument, NULL, 'g'},
        {"storage", required_argument, NULL, 's'},
        {"api-key", required_argument, NULL, 'k'},
        {"read-only-api-key", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"max-request-size-mb", required_argument, NULL, 'm'},
        {"header-timeout-sec", required_argument, NULL, 256 + L_HEADER},
        {"body-min-rate", required_argument, NULL, 256 + L_RATE},
        {"max-connections", required_argument, NULL, 256 + L_CONNS},
        {"max-connections-per-ip", required_argument, NULL, 256 + L_PER_IP},
        {"snapshot-url-hosts", required_argument, NULL, 'u'},
        {"storage-snapshot", required_argument, NULL, 'S'},
        {"snapshot", required_argument, NULL, 'C'},
        {"collection-snapshot", required_argument, NULL, 'C'},
        {"force-snapshot", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    /* The program serves gRPC by default; qvs_config_init leaves it off
     * for servers started in-process (tests, embedding). */
    cfg->grpc_port = QVS_DEFAULT_GRPC_PORT;
    cfg->grpc_port_default = true;
    if (!apply_env(cfg))
        return -1;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'H':
            cfg->host = optarg;
            break;
        case 'p':
            ok = set_port(cfg, "--port", optarg);
            break;
        case 'g':
            ok = set_grpc_port(cfg, "--grpc-port", optarg);
            break;
        case 's':
            cfg->storage = optarg;
            break;
        case 'k':
            cfg->api_key = optarg;
            break;
        case 'r':
            cfg->read_only_api_key = optarg;
            break;
        case 'u':
            cfg->snapshot_url_hosts = optarg;
            break;
        case 'S':
            cfg->storage_snapshot = optarg;
            break;
        case 'C':
            /* PATH:NAME, split at the last colon as Qdrant does. */
            if (!strrchr(optarg, ':') || strrchr(optarg, ':') == optarg ||
                !strrchr(optarg, ':')[1]) {
                fprintf(stderr,
                        "quiver serve: --snapshot wants PATH:NAME, not "
                        "'%s'\n",
                        optarg);
                ok = false;
            } else if (cfg->n_collection_snapshots ==
                       QVS_MAX_STARTUP_SNAPSHOTS) {
                fprintf(stderr, "quiver serve: more than %u --snapshot\n",
                        (unsigned)QVS_MAX_STARTUP_SNAPSHOTS);
                ok = false;
            } else {
                cfg->collection_snapshots[cfg->n_collection_snapshots++] =
                    optarg;
            }
            break;
        case 'f':
            cfg->force_snapshot = true;
            break;
        case 't':
            ok = set_threads(cfg, "--threads", optarg);
            break;
        case 'm':
            ok = set_max_mb(cfg, "--max-request-size-mb", optarg);
            break;
        case 256 + L_HEADER:
        case 256 + L_RATE:
        case 256 + L_CONNS:
        case 256 + L_PER_IP:
            ok = set_limit(cfg, ch - 256, limit_opts[ch - 256].flag, optarg);
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
        if (!ok)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "quiver serve: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!*cfg->storage) {
        fprintf(stderr, "quiver serve: --storage must not be empty\n");
        return -1;
    }
    return 0;
}
