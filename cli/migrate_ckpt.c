/*
 * migrate_ckpt.c -- the checkpoint file of `quiver migrate --checkpoint`.
 *
 * The file records, per source collection, how far the copy got: the
 * number of points written and the scroll offset (a point id) the next
 * page starts at, or that the collection is done.  It is rewritten
 * durably (qv_file_replace_*: temporary file, fsync, rename, directory
 * fsync) after every batch the destination has acknowledged durably, so
 * after a crash it names a point no later than what the destination
 * holds: a resume re-reads at most one batch (upserts are idempotent, so
 * copying it twice changes nothing) and skips everything before.  The
 * offset is a point id, not a server-side cursor: Qdrant scrolls points
 * in id order and next_page_offset is simply the next id, valid for as
 * long as one likes (Qdrant's maintainers say so in discussion
 * qdrant/qdrant#2872, "Scroll like pagination"), and the library's
 * qv_scroll pages the same way.
 *
 * Format, text, one record per line:
 *     quiver-migrate-checkpoint 1
 *     from <SRC>
 *     to <DST>
 *     at <points> <offset id> <collection name>
 *     done <points> - <collection name>
 * The name comes last so that it may hold spaces; a name holding a line
 * break cannot be recorded and is refused.  A checkpoint of another
 * source or destination is refused rather than applied.
 */
#include "migrate_ckpt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "quiver-migrate-checkpoint 1"

void ck_free(mg_checkpoint *ck)
{
    for (size_t i = 0; i < ck->n; i++)
        free(ck->items[i].name);
    free(ck->items);
    free(ck->from);
    free(ck->to);
    memset(ck, 0, sizeof(*ck));
}

ck_item *ck_find(mg_checkpoint *ck, const char *name)
{
    for (size_t i = 0; i < ck->n; i++)
        if (!strcmp(ck->items[i].name, name))
            return &ck->items[i];
    return NULL;
}

ck_item *ck_get(mg_checkpoint *ck, const char *name)
{
    ck_item *it = ck_find(ck, name);
    if (it)
        return it;
    ck_item *items = realloc(ck->items, (ck->n + 1) * sizeof(*items));
    if (!items)
        return NULL;
    ck->items = items;
    it = &items[ck->n];
    memset(it, 0, sizeof(*it));
    if (!(it->name = strdup(name)))
        return NULL;
    ck->n++;
    return it;
}

static void chomp(char *line)
{
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[n - 1] = 0;
}

/* "at 250 17 docs" / "done 300 - docs" */
static bool parse_item(mg_checkpoint *ck, char *line)
{
    char state[8], offset[64];
    unsigned long long points;
    int used = 0;
    if (sscanf(line, "%7s %llu %63s %n", state, &points, offset, &used) != 3 ||
        !used || !line[used])
        return false;
    ck_item *it = ck_get(ck, line + used);
    if (!it)
        return false;
    it->points = points;
    if (!strcmp(state, "done")) {
        it->done = true;
        return true;
    }
    if (strcmp(state, "at") != 0)
        return false;
    char *end;
    errno = 0;
    unsigned long long num = strtoull(offset, &end, 10);
    if (!errno && !*end && offset[0] != '-')
        it->offset = qv_id_from_num(num);
    else if (qv_id_parse_uuid(offset, &it->offset) != QV_OK)
        return false;
    it->has_offset = true;
    return true;
}

int ck_load(mg_checkpoint *ck, const char *path, const char *from,
            const char *to, char *err, size_t cap)
{
    memset(ck, 0, sizeof(*ck));
    ck->path = path;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, cap, "cannot read checkpoint %s: %s", path,
                 strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    int rc = -1, lineno = 0;
    while (getline(&line, &lcap, f) > 0) {
        chomp(line);
        lineno++;
        bool ok;
        if (lineno == 1)
            ok = !strcmp(line, MAGIC);
        else if (lineno == 2)
            ok = !strncmp(line, "from ", 5) && (ck->from = strdup(line + 5));
        else if (lineno == 3)
            ok = !strncmp(line, "to ", 3) && (ck->to = strdup(line + 3));
        else
            ok = parse_item(ck, line);
        if (!ok) {
            snprintf(err, cap, "%s:%d: not a quiver migrate checkpoint line",
                     path, lineno);
            goto cleanup;
        }
    }
    if (lineno < 3 || strcmp(ck->from, from) != 0 || strcmp(ck->to, to)) {
        snprintf(err, cap,
                 "checkpoint %s belongs to a migration from %s to %s; "
                 "remove it to start this one",
                 path, ck->from ? ck->from : "?", ck->to ? ck->to : "?");
        goto cleanup;
    }
    rc = 1;
cleanup:
    free(line);
    fclose(f);
    return rc;
}

qv_status ck_save(const mg_checkpoint *ck, const char *from, const char *to,
                  char *err, size_t cap)
{
    qv_file_writer *w = NULL;
    qv_status st = qv_file_replace_begin(ck->path, &w, err, cap);
    if (st != QV_OK)
        return st;
    char head[64];
    int n = snprintf(head, sizeof(head), MAGIC "\nfrom ");
    qv_file_replace_write(w, head, (size_t)n);
    qv_file_replace_write(w, from, strlen(from));
    qv_file_replace_write(w, "\nto ", 4);
    qv_file_replace_write(w, to, strlen(to));
    qv_file_replace_write(w, "\n", 1);
    for (size_t i = 0; i < ck->n; i++) {
        const ck_item *it = &ck->items[i];
        char off[QV_UUID_STRLEN] = "-", line[128];
        if (!it->done && it->has_offset)
            qv_id_format(&it->offset, off, sizeof(off));
        if (!it->done && !it->has_offset)
            continue; /* nothing written yet */
        n = snprintf(line, sizeof(line), "%s %" PRIu64 " %s ",
                     it->done ? "done" : "at", it->points, off);
        qv_file_replace_write(w, line, (size_t)n);
        qv_file_replace_write(w, it->name, strlen(it->name));
        qv_file_replace_write(w, "\n", 1);
    }
    return qv_file_replace_commit(w, err, cap);
}
