/*
 * snapshot_info.c -- qv_snapshot_describe: what a snapshot file holds,
 * without loading it (contract in quiver.h).
 *
 * It maps the file read-only, runs the same parser as every open
 * (qvi_snapshot_parse: header, section table, config, graph header,
 * checksums of the always-summed sections), copies what the parser
 * decoded into one allocation the caller frees with qv_free, and unmaps
 * the file before returning.  Nothing in the result points into the file,
 * so the result outlives it and the parser's internal structs stay
 * internal: `quiver snapshot info` and any other caller see only
 * qv_snapshot_info.
 *
 * Layout of the allocation: the qv_snapshot_info, then the section array,
 * then the graph's per-level counts; the info's pointers lead into it.
 * The parser's own struct (with room for 64 sections) is large, so it is
 * taken from the heap, not the stack.
 */
#include "persist/fileio.h"
#include "persist/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps path read-only into *base (NULL for an empty file), *len bytes. */
static qv_status map_file(const char *path, const uint8_t **base, size_t *len,
                          char *err, size_t errcap)
{
    *base = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        qvi_errf(err, errcap, "%s: %s", path,
                 e ? strerror(e) : "not a regular file");
        return QV_EIO;
    }
    *len = (size_t)sb.st_size;
    if (*len > 0) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            qvi_errf(err, errcap, "%s: mmap: %s", path, strerror(e));
            return QV_EIO;
        }
        *base = p;
    }
    close(fd);
    return QV_OK;
}

/* One allocation holding the description of the parsed file f. */
static qv_snapshot_info *build(const qvi_snap_file *f, size_t file_bytes)
{
    size_t n_levels = f->has_graph && f->graph.max_level >= 0
                          ? (size_t)f->graph.max_level + 1
                          : 0;
    /* Each part starts at its own type's alignment. */
    size_t sec_at = sizeof(qv_snapshot_info);
    sec_at = (sec_at + alignof(qv_snapshot_section_info) - 1) &
             ~(alignof(qv_snapshot_section_info) - 1);
    size_t lev_at = sec_at + f->n_sections * sizeof(qv_snapshot_section_info);
    lev_at = (lev_at + alignof(uint64_t) - 1) & ~(alignof(uint64_t) - 1);
    uint8_t *mem = calloc(1, lev_at + n_levels * sizeof(uint64_t));
    if (!mem)
        return NULL;
    qv_snapshot_info *info = (qv_snapshot_info *)mem;
    qv_snapshot_section_info *secs = (qv_snapshot_section_info *)(mem + sec_at);
    uint64_t *levels = (uint64_t *)(mem + lev_at);

    const qvi_snap_config *c = &f->config;
    info->file_bytes = file_bytes;
    info->format_version = f->version;
    info->header_checksum = f->header_checksum;
    info->config = c->cfg;
    info->config.version = QV_COLLECTION_CONFIG_VERSION;
    info->stride = c->stride;
    info->wal_lsn = c->wal_lsn;
    info->points = c->count;
    info->slots = c->n_slots;
    info->idmap_buckets = c->idmap_cap;
    info->has_graph = f->has_graph;
    if (f->has_graph) {
        const qvi_snap_graph *g = &f->graph;
        info->graph_nodes = g->count;
        info->graph_max_level = g->max_level;
        info->graph_entry = g->entry;
        info->graph_upper_nodes = g->n_upper;
        memcpy(levels, g->level_count, n_levels * sizeof(uint64_t));
        info->graph_level_nodes = levels;
    }
    for (uint32_t i = 0; i < f->n_sections; i++) {
        const qvi_snap_section *s = &f->sections[i];
        secs[i] = (qv_snapshot_section_info){
            .kind = s->kind,
            .name = qvi_snap_kind_name(s->kind),
            .required = (s->flags & QVI_SNAP_SEC_REQUIRED) != 0,
            .checked_at_open = qvi_snap_kind_always_summed(s->kind),
            .offset = s->offset,
            .length = s->length,
            .checksum = s->checksum,
        };
    }
    info->n_sections = f->n_sections;
    info->sections = secs;
    return info;
}

qv_status qv_snapshot_describe(const char *path, qv_snapshot_info **out,
                               char *err, size_t errcap)
{
    if (out)
        *out = NULL;
    if (!path || !out) {
        qvi_errf(err, errcap, "path and out are required");
        return QV_ENULL;
    }
    const uint8_t *base = NULL;
    size_t len = 0;
    qvi_snap_file *f = NULL;
    char why[QVI_ERRMSG_CAP];
    qv_status st = map_file(path, &base, &len, err, errcap);
    if (st != QV_OK)
        return st;
    f = malloc(sizeof(*f));
    if (!f) {
        st = QV_ENOMEM;
        qvi_errf(err, errcap, "%s: out of memory", path);
        goto cleanup;
    }
    /* An empty file maps to nothing; the parser refuses it by its length. */
    static const uint8_t empty[1];
    st = qvi_snapshot_parse(base ? base : empty, len, f, why, sizeof(why));
    if (st != QV_OK) {
        qvi_errf(err, errcap, "%s: %s", path, why);
        goto cleanup;
    }
    *out = build(f, len);
    if (!*out) {
        st = QV_ENOMEM;
        qvi_errf(err, errcap, "%s: out of memory", path);
    }
cleanup:
    free(f);
    if (base)
        munmap((void *)base, len);
    return st;
}
