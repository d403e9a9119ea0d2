/*
 * migrate_ckpt.h -- the checkpoint file of `quiver migrate`
 * (cli/migrate_ckpt.c, where the format is described).
 */
#ifndef QUIVER_CLI_MIGRATE_CKPT_H
#define QUIVER_CLI_MIGRATE_CKPT_H

#include "quiver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ck_item {
    char *name;      /* the source collection */
    bool done;       /* copied, finished and acknowledged */
    uint64_t points; /* points written so far */
    bool has_offset; /* offset holds where the next page starts */
    qv_point_id offset;
} ck_item;

typedef struct mg_checkpoint {
    const char *path; /* borrowed */
    char *from, *to;  /* as the file records them */
    ck_item *items;
    size_t n;
} mg_checkpoint;

/* Reads path into ck.  Returns 1 when it was read, 0 when there is no
 * such file (ck empty), -1 with a message in err when it is unreadable,
 * malformed or records another from / to. */
int ck_load(mg_checkpoint *ck, const char *path, const char *from,
            const char *to, char *err, size_t cap);

/* Writes ck to its path durably (qv_file_replace_*). */
qv_status ck_save(const mg_checkpoint *ck, const char *from, const char *to,
                  char *err, size_t cap);

/* The item of collection name, or NULL (ck_find); ck_get adds it (NULL
 * when out of memory). */
ck_item *ck_find(mg_checkpoint *ck, const char *name);
ck_item *ck_get(mg_checkpoint *ck, const char *name);

void ck_free(mg_checkpoint *ck);

#endif /* QUIVER_CLI_MIGRATE_CKPT_H */
