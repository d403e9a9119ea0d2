/*
 * guard.c -- deadlines and admission limits for client connections: the
 * server's answer to slowloris (request heads or bodies dripped a byte at
 * a time to hold sockets) and to connection floods.
 *
 * An idle timeout alone is reset by every dripped byte, and a hard
 * connection limit, once slow sockets fill it, turns every new client
 * away.  The guard adds, per socket:
 *
 *   - a head deadline: a request head must be complete within
 *     header_timeout_s of the moment the socket started waiting for it
 *     (connect, or the end of the previous reply on a keep-alive
 *     connection -- so it is also the keep-alive idle timeout, as actix,
 *     Qdrant's HTTP layer, closes idle connections after a few seconds);
 *   - a body rate: a body must arrive within header_timeout_s plus one
 *     second per body_min_rate bytes received, so a large upload at a
 *     decent rate never times out and a dripped one does soon;
 *   - admission: when a new socket makes its address hold more than
 *     max_connections_per_ip, or the server more than max_connections,
 *     the oldest socket still waiting for (or receiving) a request is
 *     closed to make room, of that address first.  Slow sockets are
 *     always the oldest ones, so a flood of them evicts itself while a
 *     normal client, whose request follows its connect at once, gets in.
 *     Sockets whose request is complete (the handler runs or the reply is
 *     going out) are never evicted; when all are, the newcomer is refused.
 *
 * A socket closed while a request line was seen, or during a body, first
 * gets Qdrant's JSON error envelope (408 for a deadline, 503 for an
 * eviction) with "Connection: close"; an idle keep-alive socket is closed
 * silently, as any server does (a 408 there could be read as the reply to
 * a request the client is sending at that moment).
 *
 * How a socket is closed.  The guard cannot close() an fd a connection
 * loop (http.c) owns; it calls shutdown(SHUT_RDWR), which wakes the loop
 * with end-of-file, and the loop closes the connection itself.  This is
 * safe against fd reuse because the loop unregisters the socket
 * (qvs_guard_close, which takes the guard's lock) before it closes the fd, and
 * the guard only touches an fd while holding that lock with the socket still
 * registered.
 *
 * Locking.  `lock` protects the table, `n`, `cap`, the counters and
 * `stop`.  A socket's phase, since_ns, body_bytes and line_seen are
 * atomics written by the loop thread serving it and read by the
 * watch thread and by admission; the phase moves only by compare-and-swap
 * (guard.h), so the guard's DEAD wins or loses cleanly against the
 * server's BUSY.
 *
 * The watch thread wakes every 100 ms (or at once on stop) and scans the
 * table: O(connections) per tick, a few microseconds for thousands.
 * Admission scans it too, under the lock, for the per-address count and
 * the oldest candidate: a few microseconds per accepted connection at the
 * default limit, some 100 at the largest (65,536), which then bounds the
 * accept rate -- simpler than an address map, and enough here.
 */
#include "guard.h"

#include "server.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCH_TICK_NS (100 * 1000 * 1000)

struct qvs_guard {
    qvs_guard_limits lim;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled on stop */
    pthread_t watcher;
    bool stop;
    qvs_sock **table; /* registered sockets, in no order */
    size_t n, cap;
    size_t timeouts, evictions;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- phases ------------------------------------------------------------- */

bool qvs_sock_to(qvs_sock *s, int from, int to)
{
    int expect = from;
    if (!atomic_compare_exchange_strong(&s->phase, &expect, to))
        return false;
    atomic_store(&s->since_ns, now_ns());
    return true;
}

void qvs_sock_wait(qvs_sock *s)
{
    atomic_store(&s->line_seen, false);
    atomic_store(&s->body_bytes, 0);
    int ph = atomic_load(&s->phase);
    while (ph != QVS_PHASE_DEAD && ph != QVS_PHASE_WAIT) {
        atomic_store(&s->since_ns, now_ns());
        if (atomic_compare_exchange_weak(&s->phase, &ph, QVS_PHASE_WAIT))
            return;
    }
}

void qvs_sock_body(qvs_sock *s, size_t n)
{
    atomic_fetch_add(&s->body_bytes, n);
}

void qvs_sock_line(qvs_sock *s)
{
    atomic_store(&s->line_seen, true);
}

/* ---- closing ------------------------------------------------------------ */

/* Writes a complete JSON error reply; best effort, the socket is
 * non-blocking and the reply fits any socket buffer. */
static void send_status(int fd, int status)
{
    const char *reason =
        status == 408 ? "Request Timeout" : "Service Unavailable";
    const char *msg =
        status == 408 ? "Request timeout: the request was not received in time"
                      : "Service unavailable: too many connections";
    size_t len = 0;
    char *body = qvs_envelope_error(msg, 0.0, &len);
    if (!body)
        return;
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\n"
                      "Access-Control-Allow-Origin: *\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      status, reason, len);
    struct iovec iov[2] = {{head, (size_t)hl}, {body, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    (void)!sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    free(body);
}

/* True if the peer has sent bytes the loop has not read yet: under load
 * a socket can be evicted before its loop parsed the request line, and
 * that client is owed the reply as much as one whose line was parsed. */
static bool has_unread_bytes(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Declares s DEAD (unless its request is complete) and shuts its socket
 * down; status is the reply a half-received request gets.  True if it
 * was closed. */
static bool close_locked(qvs_sock *s, int status)
{
    int ph = atomic_load(&s->phase);
    while (ph == QVS_PHASE_WAIT || ph == QVS_PHASE_BODY) {
        if (atomic_compare_exchange_weak(&s->phase, &ph, QVS_PHASE_DEAD)) {
            if (ph == QVS_PHASE_BODY || atomic_load(&s->line_seen) ||
                has_unread_bytes(s->fd))
                send_status(s->fd, status);
            shutdown(s->fd, SHUT_RDWR);
            return true;
        }
    }
    return false;
}

static bool evictable(const qvs_sock *s)
{
    int ph = atomic_load(&s->phase);
    return ph == QVS_PHASE_WAIT || ph == QVS_PHASE_BODY;
}

/* The oldest evictable socket, of addr only when addr is not NULL. */
static qvs_sock *oldest_locked(qvs_guard *g, const unsigned char *addr)
{
    qvs_sock *best = NULL;
    int64_t best_t = INT64_MAX;
    for (size_t i = 0; i < g->n; i++) {
        qvs_sock *s = g->table[i];
        if (!evictable(s) || (addr && memcmp(s->addr, addr, 16) != 0))
            continue;
        int64_t t = atomic_load(&s->since_ns);
        if (t < best_t) {
            best_t = t;
            best = s;
        }
    }
    return best;
}

/* ---- the watch thread --------------------------------------------------- */

static void watch_locked(qvs_guard *g)
{
    int64_t now = now_ns();
    int64_t grace = (int64_t)g->lim.header_timeout_s * 1000000000;
    for (size_t i = 0; i < g->n; i++) {
        qvs_sock *s = g->table[i];
        int ph = atomic_load(&s->phase);
        int64_t age = now - atomic_load(&s->since_ns);
        int64_t allowed = grace;
        if (ph == QVS_PHASE_BODY) {
            uint64_t b = atomic_load(&s->body_bytes);
            double extra = (double)b / (double)g->lim.body_min_rate * 1e9;
            allowed = extra > 9e18 ? INT64_MAX : grace + (int64_t)extra;
        } else if (ph != QVS_PHASE_WAIT) {
            continue;
        }
        if (age > allowed && close_locked(s, 408))
            g->timeouts++;
    }
}

static void *watch(void *arg)
{
    qvs_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += WATCH_TICK_NS;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &t);
        if (!g->stop)
            watch_locked(g);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* ---- life --------------------------------------------------------------- */

qvs_guard *qvs_guard_start(const qvs_guard_limits *lim)
{
    qvs_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->lim = *lim;
    if (g->lim.body_min_rate == 0)
        g->lim.body_min_rate = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->watcher, NULL, watch, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    return g;
}

void qvs_guard_free(qvs_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->watcher, NULL);
    for (size_t i = 0; i < g->n; i++) /* none unless the daemon leaked */
        free(g->table[i]);
    free(g->table);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void addr_key(const struct sockaddr *sa, unsigned char *out)
{
    memset(out, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(out, &in6->sin6_addr, 16);
    }
}

qvs_sock *qvs_guard_open(qvs_guard *g, int fd, const struct sockaddr *addr)
{
    qvs_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = fd;
    addr_key(addr, s->addr);
    atomic_init(&s->phase, QVS_PHASE_WAIT);
    atomic_init(&s->since_ns, now_ns());
    atomic_init(&s->body_bytes, 0);
    atomic_init(&s->line_seen, false);
    pthread_mutex_lock(&g->lock);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        qvs_sock **t = realloc(g->table, cap * sizeof(*t));
        if (!t) {
            pthread_mutex_unlock(&g->lock);
            free(s);
            return NULL;
        }
        g->table = t;
        g->cap = cap;
    }
    s->slot = g->n;
    g->table[g->n++] = s;
    size_t live = 0, same = 0;
    for (size_t i = 0; i < g->n; i++) {
        qvs_sock *o = g->table[i];
        if (atomic_load(&o->phase) == QVS_PHASE_DEAD)
            continue;
        live++;
        same += memcmp(o->addr, s->addr, 16) == 0;
    }
    if (same > g->lim.max_connections_per_ip) {
        qvs_sock *v = oldest_locked(g, s->addr);
        if (v && close_locked(v, 503)) {
            g->evictions++;
            live--;
        }
    }
    if (live > g->lim.max_connections) {
        qvs_sock *v = oldest_locked(g, NULL);
        if (v && close_locked(v, 503))
            g->evictions++;
    }
    pthread_mutex_unlock(&g->lock);
    return s;
}

void qvs_guard_close(qvs_guard *g, qvs_sock *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g->lock);
    size_t i = s->slot;
    g->table[i] = g->table[--g->n];
    g->table[i]->slot = i;
    pthread_mutex_unlock(&g->lock);
    free(s);
}

void qvs_guard_close_idle(qvs_guard *g)
{
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->n; i++) {
        qvs_sock *s = g->table[i];
        if (atomic_load(&s->phase) == QVS_PHASE_WAIT)
            close_locked(s, 503);
    }
    pthread_mutex_unlock(&g->lock);
}

void qvs_guard_get_stats(qvs_guard *g, qvs_guard_stats *st)
{
    pthread_mutex_lock(&g->lock);
    st->live = 0;
    for (size_t i = 0; i < g->n; i++)
        st->live += atomic_load(&g->table[i]->phase) != QVS_PHASE_DEAD;
    st->timeouts = g->timeouts;
    st->evictions = g->evictions;
    pthread_mutex_unlock(&g->lock);
}
