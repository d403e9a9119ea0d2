/*
 * snapshot_cmd.c -- `quiver snapshot info|verify|import|export`.
 *
 * info checks the file the way an open does (header, section table,
 * config, graph metadata, the checksums of the small sections) without
 * building a collection, and prints what it holds: configuration, counts
 * and every section with its offset, size and checksum.  It asks the
 * public qv_snapshot_describe, like every part of this program, which
 * uses only include/quiver.h.
 *
 * verify runs qv_snapshot_open with QV_SNAPSHOT_VERIFY: every checksum,
 * every payload, the id map and the whole graph.  A collection snapshot
 * archive (what `quiver serve` writes for a Qdrant collection snapshot,
 * recognised by its magic) is checked member by member with
 * qv_snapshot_archive_verify.  Exit status 0 when the
 * file is sound, 1 when it is not (with the reason, naming the section),
 * 2 for a usage error.
 *
 * import turns the JSON file of a toy in-memory vector store (a points
 * list, LangChain's InMemoryVectorStore dump or LlamaIndex's
 * SimpleVectorStore; see qv_json_import) into a snapshot, and export turns
 * a snapshot back into JSON (the points layout, or LangChain's): one
 * command each way.
 */
#include "quiver.h"
#include "snapshot_cmd.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: quiver snapshot info FILE\n"
               "       quiver snapshot verify FILE\n"
               "       quiver snapshot import STORE.json OUT.qvs "
               "[--metric cosine|dot|euclid|manhattan]\n"
               "       quiver snapshot export IN.qvs OUT.json "
               "[--format points|langchain]\n");
}

static void print_graph(const qv_snapshot_info *f)
{
    if (!f->has_graph) {
        printf("graph:        none (searches scan until a write builds it)\n");
        return;
    }
    printf("graph:        %" PRIu64 " nodes, max level %d, entry point %u, "
           "%u nodes above level 0\n",
           f->graph_nodes, (int)f->graph_max_level, f->graph_entry,
           f->graph_upper_nodes);
    printf("levels:      ");
    for (int l = 0; l <= f->graph_max_level; l++)
        printf(" %d:%" PRIu64, l, f->graph_level_nodes[l]);
    printf("\n");
}

static int info(const char *path)
{
    qv_snapshot_info *f = NULL;
    char err[512];
    if (qv_snapshot_describe(path, &f, err, sizeof(err)) != QV_OK) {
        fprintf(stderr, "quiver: %s\n", err);
        return 1;
    }
    const qv_collection_config *c = &f->config;
    printf("file:         %s (%" PRIu64 " bytes)\n", path, f->file_bytes);
    printf("format:       version %u, native byte order, header checksum "
           "%016" PRIx64 "\n",
           f->format_version, f->header_checksum);
    printf("config:       dim %u, metric %s, m %u, ef_construct %u, seed "
           "0x%" PRIx64 "\n",
           c->dim, qv_metric_name(c->metric), c->hnsw_m, c->hnsw_ef_construct,
           c->hnsw_seed);
    printf("              full_scan_threshold_kb %u, max_indexing_threads "
           "%u, stride %u\n",
           c->full_scan_threshold_kb, c->max_indexing_threads, f->stride);
    /* Rows are stored in the datatype's element from format version 2 on
     * (docs/FORMAT.md); version 1 kept float32 rows whatever it said. */
    static const char *const dts[] = {"float32", "float16", "uint8"};
    static const unsigned elem[] = {4, 2, 1};
    unsigned dt = c->datatype <= QV_DATATYPE_UINT8 ? c->datatype : 0;
    printf("              datatype %s, %u-byte elements stored\n", dts[dt],
           f->format_version >= 2 ? elem[dt] : 4u);
    printf("wal lsn:      %" PRIu64 "\n", f->wal_lsn);
    printf("points:       %" PRIu64 " live, %" PRIu64
           " deleted slots, %u slots\n",
           f->points, (uint64_t)f->slots - f->points, f->slots);
    printf("id map:       %" PRIu64 " buckets\n", f->idmap_buckets);
    print_graph(f);
    printf("sections:     %zu\n", f->n_sections);
    printf("  %-20s %12s %14s  %-16s %s\n", "kind", "offset", "bytes",
           "xxh3-64", "checked at open");
    for (size_t i = 0; i < f->n_sections; i++) {
        const qv_snapshot_section_info *s = &f->sections[i];
        const char *name = s->name;
        char unknown[32];
        if (!name) {
            snprintf(unknown, sizeof(unknown), "unknown (%u)", s->kind);
            name = unknown;
        }
        printf("  %-20s %12" PRIu64 " %14" PRIu64 "  %016" PRIx64 " %s%s\n",
               name, s->offset, s->length, s->checksum,
               s->checked_at_open ? "always" : "with verify",
               s->required ? "" : ", optional");
    }
    qv_free(f);
    return 0;
}

/* True when path starts with the magic of a collection snapshot archive
 * (the server's collection snapshots, docs/FORMAT.md). */
static bool is_archive(const char *path)
{
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    bool yes =
        f && fread(magic, 1, 8, f) == 8 && memcmp(magic, "QVCSNAP\0", 8) == 0;
    if (f)
        fclose(f);
    return yes;
}

static int verify_archive(const char *path)
{
    char err[512];
    uint32_t n = 0;
    qv_status st = qv_snapshot_archive_verify(path, &n, err, sizeof(err));
    if (st != QV_OK) {
        fprintf(stderr, "quiver: %s: %s\n", qv_status_name(st), err);
        printf("%s: FAILED\n", path);
        return 1;
    }
    printf("%s: OK (collection snapshot archive, %u member snapshot%s; every "
           "checksum, payload, id and graph link checked)\n",
           path, n, n == 1 ? "" : "s");
    return 0;
}

static int verify(const char *path)
{
    if (is_archive(path))
        return verify_archive(path);
    char err[512];
    qv_collection *c = NULL;
    qv_status st =
        qv_snapshot_open(path, QV_SNAPSHOT_VERIFY, &c, err, sizeof(err));
    if (st != QV_OK) {
        fprintf(stderr, "quiver: %s: %s\n", qv_status_name(st), err);
        printf("%s: FAILED\n", path);
        return 1;
    }
    uint64_t n = 0;
    qv_count(c, &n);
    qv_collection_release(c);
    printf("%s: OK (%" PRIu64 " points; every checksum, payload, id and "
           "graph link checked)\n",
           path, n);
    return 0;
}

static int import_json(int argc, char **argv)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 0; /* from the first vector */
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc || strcmp(argv[i], "--metric") ||
            qv_metric_parse(argv[i + 1], &cfg.metric) != QV_OK) {
            usage(stderr);
            return 2;
        }
    }
    char err[512];
    qv_collection *c;
    qv_status st = qv_json_import(argv[1], &cfg, &c, err, sizeof err);
    if (st != QV_OK) {
        fprintf(stderr, "quiver: %s: %s\n", argv[1], err);
        return 1;
    }
    uint64_t n = 0;
    qv_count(c, &n);
    st = qv_snapshot_save(c, argv[2]);
    if (st != QV_OK) {
        qv_collection_errmsg(c, err, sizeof err);
        fprintf(stderr, "quiver: %s: %s\n", argv[2], err);
    } else {
        printf("%s: %" PRIu64 " points from %s\n", argv[2], n, argv[1]);
    }
    qv_collection_release(c);
    return st == QV_OK ? 0 : 1;
}

static int export_json(int argc, char **argv)
{
    qv_json_format format = QV_JSON_POINTS;
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 < argc && !strcmp(argv[i], "--format") &&
            !strcmp(argv[i + 1], "points"))
            format = QV_JSON_POINTS;
        else if (i + 1 < argc && !strcmp(argv[i], "--format") &&
                 !strcmp(argv[i + 1], "langchain"))
            format = QV_JSON_LANGCHAIN;
        else {
            usage(stderr);
            return 2;
        }
    }
    char err[512];
    qv_collection *c;
    if (qv_snapshot_open(argv[1], QV_SNAPSHOT_VERIFY, &c, err, sizeof err) !=
        QV_OK) {
        fprintf(stderr, "quiver: %s: %s\n", argv[1], err);
        return 1;
    }
    qv_status st = qv_json_export(c, argv[2], format, err, sizeof err);
    if (st != QV_OK)
        fprintf(stderr, "quiver: %s\n", err);
    else
        printf("%s: written from %s\n", argv[2], argv[1]);
    qv_collection_release(c);
    return st == QV_OK ? 0 : 1;
}

int qvc_snapshot_main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "info"))
        return info(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "verify"))
        return verify(argv[2]);
    /* import/export: argv shifted so that argv[1], argv[2] are the files */
    if (argc >= 4 && !strcmp(argv[1], "import"))
        return import_json(argc - 1, argv + 1);
    if (argc >= 4 && !strcmp(argv[1], "export"))
        return export_json(argc - 1, argv + 1);
    usage(stderr);
    return 2;
}
