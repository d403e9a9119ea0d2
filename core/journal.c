/*
 * journal.c -- the seams through which the layers above core/ (persist/)
 * make a collection durable without reaching into it.
 *
 * A collection knows nothing of files.  It holds an optional journal: an
 * opaque pointer and a table of functions (qvi_journal_ops, core.h) that
 * persist/wal.c implements.  Every mutating function describes its change
 * as a qvi_change (its original input) and hands it to the journal under
 * the write lock, before it mutates; core then sets c->lsn from the LSN the
 * journal assigned and records any failure on the collection, so the
 * journal never writes a collection field.  Without a journal the whole
 * protocol is one pointer test (core.h, qvi_change_log_locked).
 *
 * A journal must also order some of its own state with the collection's
 * writes (a checkpoint switches log segments while no write runs) and read
 * a consistent state (a snapshot save): qvi_collection_run_exclusive and
 * qvi_collection_run_shared run its callback under the collection's lock,
 * so that the lock itself stays private to core.
 *
 * Locking: attach happens before the collection is shared.  The journal
 * fields of qv_collection are then read-only until collection_free.
 */
#include "core/core.h"

#include <stdio.h>

uint64_t qvi_collection_lsn(qv_collection *c)
{
    pthread_rwlock_rdlock(&c->lock);
    uint64_t lsn = c->lsn;
    pthread_rwlock_unlock(&c->lock);
    return lsn;
}

void qvi_collection_set_lsn_nolock(qv_collection *c, uint64_t lsn)
{
    c->lsn = lsn;
}

qv_status qvi_collection_fail(qv_collection *c, qv_status st, const char *fmt,
                              ...)
{
    char msg[QVI_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return qvi_fail(c->err, st, "%s", msg);
}

qv_status qvi_collection_run_exclusive(qv_collection *c,
                                       qv_status (*fn)(void *arg), void *arg)
{
    pthread_rwlock_wrlock(&c->lock);
    qv_status st = fn(arg);
    pthread_rwlock_unlock(&c->lock);
    return st;
}

qv_status qvi_collection_run_shared(qv_collection *c,
                                    qv_status (*fn)(void *arg), void *arg)
{
    pthread_rwlock_rdlock(&c->lock);
    qv_status st = fn(arg);
    pthread_rwlock_unlock(&c->lock);
    return st;
}

void qvi_collection_attach_journal(qv_collection *c, const qvi_journal_ops *ops,
                                   void *j)
{
    c->journal_ops = ops;
    c->journal = j;
}

void *qvi_collection_journal(const qv_collection *c, const qvi_journal_ops *ops)
{
    return c->journal && c->journal_ops == ops ? c->journal : NULL;
}

qv_status qvi_change_append_locked(qv_collection *c, qvi_change *r,
                                   uint64_t *lsn)
{
    char err[QVI_ERRMSG_CAP] = "";
    qv_status st =
        c->journal_ops->append_locked(c->journal, r, lsn, err, sizeof(err));
    if (st != QV_OK) {
        *lsn = 0;
        return qvi_fail(c->err, st, "%s", err);
    }
    c->lsn = *lsn;
    return QV_OK;
}

qv_status qvi_change_wait_durable(qv_collection *c, uint64_t lsn)
{
    char err[QVI_ERRMSG_CAP] = "";
    qv_status st = c->journal_ops->commit(c->journal, lsn, err, sizeof(err));
    return st == QV_OK ? QV_OK : qvi_fail(c->err, st, "%s", err);
}
