/*
 * status.c -- status codes and per-handle error messages.
 *
 * Every public call returns a qv_status; the handle it failed on keeps a
 * sentence with the detail (which argument, which limit).  The message
 * buffer has its own mutex rather than living under the collection lock,
 * because readers that hold the lock shared can fail concurrently.  The
 * message is advisory: with concurrent failures the last writer wins, while
 * each caller's status code is always its own.
 */
#include "core/base/base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qvi_errbuf {
    pthread_mutex_t mu;
    char msg[QVI_ERRMSG_CAP];
};

static const struct {
    const char *name;
    const char *text;
} status_table[QV_STATUS_COUNT] = {
    [QV_OK] = {"QV_OK", "success"},
    [QV_ENULL] = {"QV_ENULL", "a required pointer argument is NULL"},
    [QV_EINVAL] = {"QV_EINVAL", "invalid argument"},
    [QV_ERANGE] = {"QV_ERANGE", "value out of range"},
    [QV_EDIM] = {"QV_EDIM", "vector dimension does not match the collection"},
    [QV_ENONFINITE] = {"QV_ENONFINITE",
                       "vector has a NaN or infinite component"},
    [QV_ENOTFOUND] = {"QV_ENOTFOUND", "not found"},
    [QV_EEXIST] = {"QV_EEXIST", "already exists"},
    [QV_ENOMEM] = {"QV_ENOMEM", "out of memory"},
    [QV_EIO] = {"QV_EIO", "input/output error"},
    [QV_ECORRUPT] = {"QV_ECORRUPT", "file is corrupt"},
    [QV_EFORMAT] = {"QV_EFORMAT", "unsupported file format or version"},
    [QV_EINTERNAL] = {"QV_EINTERNAL", "internal error (a bug in Quiver)"},
};

const char *qv_strerror(qv_status status)
{
    if ((unsigned)status >= QV_STATUS_COUNT)
        return "unknown status";
    return status_table[status].text;
}

const char *qv_status_name(qv_status status)
{
    if ((unsigned)status >= QV_STATUS_COUNT)
        return "QV_UNKNOWN";
    return status_table[status].name;
}

qv_status qvi_errbuf_create(qvi_errbuf **out)
{
    qvi_errbuf *e = calloc(1, sizeof(*e));
    if (!e)
        return QV_ENOMEM;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        return QV_ENOMEM;
    }
    *out = e;
    return QV_OK;
}

void qvi_errbuf_destroy(qvi_errbuf *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->mu);
    free(e);
}

qv_status qvi_fail(qvi_errbuf *e, qv_status status, const char *fmt, ...)
{
    if (!e)
        return status;
    char tmp[QVI_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&e->mu);
    memcpy(e->msg, tmp, sizeof(tmp));
    pthread_mutex_unlock(&e->mu);
    return status;
}

size_t qvi_errbuf_copy(const qvi_errbuf *e, char *buf, size_t cap)
{
    if (!e) {
        if (buf && cap)
            buf[0] = '\0';
        return 0;
    }
    /* The mutex is logically const: reading the message mutates nothing. */
    qvi_errbuf *me = (qvi_errbuf *)e;
    pthread_mutex_lock(&me->mu);
    size_t len = strlen(me->msg);
    if (buf && cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(buf, me->msg, n);
        buf[n] = '\0';
    }
    pthread_mutex_unlock(&me->mu);
    return len;
}
