/*
 * serve.c -- `quiver serve` (and the `quiver-server` program): settings,
 * one startup line, serving until SIGTERM or SIGINT, graceful shutdown.
 *
 * Signals are blocked in every thread (the mask is set before the server
 * starts its threads, which inherit it) and taken by sigwait in the main
 * thread, so shutdown runs as ordinary code rather than in a signal
 * handler, and no global flag is needed.  SIGPIPE is ignored: a client
 * that hangs up mid-reply must not kill the server.
 *
 * Exit codes: 0 after a clean shutdown (or --help), 1 when the server
 * cannot start, 2 for a usage error.
 */
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#ifndef QUIVER_GIT_COMMIT
#define QUIVER_GIT_COMMIT ""
#endif

const char *qvs_commit(void)
{
    static const char zeros[] = "0000000000000000000000000000000000000000";
    const char *c = QUIVER_GIT_COMMIT;
    if (strlen(c) != 40 || strspn(c, "0123456789abcdef") != 40)
        return zeros;
    return c;
}

int qvs_serve_main(int argc, char **argv)
{
    qvs_config cfg;
    qvs_config_init(&cfg);
    int rc = qvs_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Before the store is opened: a server killed during a snapshot
     * recovery leaves its temporary files, which nothing else removes. */
    qvs_snapshots_cleanup(cfg.storage);

    qvs_server *srv;
    char err[1024];
    if (!qvs_server_start(&cfg, &srv, err, sizeof(err))) {
        fprintf(stderr, "quiver serve: %s\n", err);
        return 1;
    }
    const char *host = qvs_config_host(&cfg);
    char grpc[32] = "off";
    if (qvs_server_grpc_port(srv))
        snprintf(grpc, sizeof(grpc), "port %u", qvs_server_grpc_port(srv));
    printf("quiver serve: Qdrant %s API listening on http://%s%s%s:%u "
           "(gRPC %s, storage %s, %u threads, API key %s)\n",
           QVS_VERSION, strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", qvs_server_port(srv), grpc,
           cfg.storage, cfg.threads,
           qvs_config_has_auth(&cfg) ? "required" : "off");
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "quiver serve: %s, shutting down\n",
            sig == SIGINT ? "interrupted" : "terminated");
    qvs_server_stop(srv);
    fprintf(stderr, "quiver serve: stopped\n");
    return 0;
}
