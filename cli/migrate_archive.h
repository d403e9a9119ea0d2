/*
 * migrate_archive.h -- collection snapshot archives for `quiver migrate`
 * (cli/migrate_archive.c): one file holding the several library
 * collections a Qdrant collection with named vectors is kept in.
 *
 * The layout is the server's (docs/FORMAT.md, "Collection snapshot
 * archives"): a 32-byte preamble (magic "QVCSNAP\0", version 1, header
 * length and XXH3-64), a JSON header {"collection": {...}, "members":
 * [{"size", "xxh3"}, ...]} and the members, each a library snapshot file.
 * Member 0 holds the points and their payloads; member 1 + i holds named
 * vector i, whose name is collection.vectors[i].name.
 */
#ifndef QUIVER_CLI_MIGRATE_ARCHIVE_H
#define QUIVER_CLI_MIGRATE_ARCHIVE_H

#include "quiver.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* True when the file at path starts with the archive's magic. */
bool mga_is_archive(const char *path);

/* Writes colls[0..n) to path as an archive whose header's collection
 * entry is entry (borrowed), crash-safely: members are saved to temporary
 * files beside path, joined into path.tmp, which is fsynced and renamed
 * over path.  Returns a status with a message in err. */
qv_status mga_write(const char *path, qv_collection *const *colls, size_t n,
                    const cJSON *entry, char *err, size_t cap);

/* Opens the archive at path after checking it whole
 * (qv_snapshot_archive_verify): *colls gets its n members as new
 * collections (release each, free the array), *entry the header's
 * collection entry (cJSON_Delete). */
qv_status mga_read(const char *path, qv_collection ***colls, size_t *n,
                   cJSON **entry, char *err, size_t cap);

#endif /* QUIVER_CLI_MIGRATE_ARCHIVE_H */
