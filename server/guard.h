/*
 * guard.h -- deadlines and admission limits for the server's client
 * connections (guard.c).  http.c uses it for REST connections and
 * server/grpc/grpc_server.c for gRPC ones, which move only between WAIT
 * (no stream open) and BUSY (streams open) and never see a request line,
 * so the guard closes them silently, never with an HTTP/1 error.
 *
 * Every socket libmicrohttpd accepts is registered (its "socket context")
 * and moves through these phases, which http.c reports:
 *
 *   WAIT  waiting for a request head: after connect, or after the
 *         previous reply was sent (keep-alive);
 *   BODY  the head is in, the body is arriving;
 *   BUSY  the whole request is in: the handler runs or the reply is being
 *         sent -- never interrupted by the guard;
 *   DEAD  the guard closed it (libmicrohttpd has not noticed yet).
 *
 * Every transition is a compare-and-swap on the phase, so a connection the
 * guard has declared DEAD can never move on to BUSY and get a reply from
 * the handler interleaved with the guard's 408 or 503.
 */
#ifndef QUIVER_SERVER_GUARD_H
#define QUIVER_SERVER_GUARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { QVS_PHASE_WAIT = 0, QVS_PHASE_BODY, QVS_PHASE_BUSY, QVS_PHASE_DEAD };

typedef struct qvs_guard qvs_guard;

/* One accepted socket.  Owned by the guard; fields other than the atomics
 * are written once at registration. */
typedef struct qvs_sock {
    int fd;
    unsigned char addr[16]; /* client address (IPv4 as v4-mapped IPv6) */
    atomic_int phase;
    atomic_int_least64_t since_ns; /* when the current phase began */
    atomic_uint_least64_t body_bytes;
    atomic_bool line_seen; /* a request line arrived in this WAIT phase */
    size_t slot;           /* index in the guard's table (under its lock) */
} qvs_sock;

typedef struct qvs_guard_limits {
    unsigned header_timeout_s; /* WAIT phase, and the body's grace */
    uint64_t body_min_rate;    /* bytes per second after the grace */
    unsigned max_connections;  /* live sockets in total */
    unsigned max_connections_per_ip;
} qvs_guard_limits;

typedef struct qvs_guard_stats {
    size_t live;      /* registered sockets not DEAD */
    size_t timeouts;  /* closed for a missed deadline, ever */
    size_t evictions; /* closed to admit a newer socket, ever */
} qvs_guard_stats;

/* Starts the guard and its watch thread.  NULL on failure (ENOMEM or no
 * thread). */
qvs_guard *qvs_guard_start(const qvs_guard_limits *lim);

/* Stops the watch thread and frees the guard; every socket must have been
 * closed (qvs_guard_close) first.  NULL is ignored. */
void qvs_guard_free(qvs_guard *g);

/* Registers a socket just accepted from addr.  When the limits are
 * exceeded, the oldest WAIT or BODY socket of the same address (per-address
 * limit), else of all (total limit), is closed to make room -- possibly the
 * new one itself, which then starts DEAD.  NULL on ENOMEM (the caller
 * closes the socket). */
qvs_sock *qvs_guard_open(qvs_guard *g, int fd, const struct sockaddr *addr);

/* Unregisters s and frees it; called before libmicrohttpd closes the fd,
 * which is what makes the guard's shutdown() of s->fd safe. */
void qvs_guard_close(qvs_guard *g, qvs_sock *s);

/* Phase changes (false: s is DEAD, drop the request). */
bool qvs_sock_to(qvs_sock *s, int from, int to);
void qvs_sock_wait(qvs_sock *s); /* BUSY (or anything alive) -> WAIT */
void qvs_sock_body(qvs_sock *s, size_t n);
void qvs_sock_line(qvs_sock *s);

/* Closes every socket in the WAIT phase (shutdown: no new requests). */
void qvs_guard_close_idle(qvs_guard *g);

void qvs_guard_get_stats(qvs_guard *g, qvs_guard_stats *st);

#endif /* QUIVER_SERVER_GUARD_H */
