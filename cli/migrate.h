/*
 * migrate.h -- `quiver migrate` (cli/migrate*.c): the collection model it
 * streams and the endpoints it streams between.
 *
 * An endpoint is one side of a migration: a Quiver store directory, a
 * Quiver snapshot file (cli/migrate_lib.c) or a Qdrant REST server
 * (cli/migrate_rest.c).  Each implements mg_ops; cli/migrate.c drives a
 * source and a destination through them without knowing which kinds they
 * are.  Every call returns a qv_status and leaves a one-line message in
 * the endpoint's err on failure.
 */
#ifndef QUIVER_CLI_MIGRATE_H
#define QUIVER_CLI_MIGRATE_H

#include "quiver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one vector of a point is: a dense vector of dim floats, a sparse
 * vector ({"indices","values"}: Qdrant's sparse_vectors), or a
 * multivector (n_rows x dim floats compared by max_sim: Qdrant's
 * multivector_config). */
typedef enum mg_kind { MG_DENSE = 0, MG_SPARSE = 1, MG_MULTI = 2 } mg_kind;

/* One vector of a collection.  A collection has either one unnamed vector
 * (name NULL) or named ones.  dim and metric mean nothing for a sparse
 * vector; sparse_modifier (QV_SPARSE_MODIFIER_*) and sparse_fst (its
 * index's full_scan_threshold, 0: the default) only for one. */
typedef struct mg_vector {
    char *name;
    mg_kind kind;
    uint32_t dim;
    qv_metric metric;
    uint32_t sparse_modifier, sparse_fst;
} mg_vector;

/* One payload index: its key and its field schema as JSON text (Qdrant's
 * field_schema: "\"keyword\"" or an object with "type" and parameters). */
typedef struct mg_index {
    char *key;
    char *schema;
    char *type; /* the kind's name ("keyword", ...) */
} mg_index;

/* What a collection is, apart from its points. */
typedef struct mg_schema {
    mg_vector *vectors;
    size_t n_vectors;
    bool named;
    /* hnsw_config, as the library and Qdrant name it. */
    uint32_t hnsw_m, hnsw_ef_construct, full_scan_threshold_kb;
    /* From a REST source: params.vectors, hnsw_config and
     * quantization_config as the server wrote them, carried verbatim to a
     * REST destination (so settings Quiver's library has no field for,
     * e.g. on_disk, survive a server-to-server move).  NULL otherwise. */
    char *rest_vectors, *rest_hnsw, *rest_quantization, *rest_sparse;
    /* Quantization as the library keeps it (quantization, quant_*
     * fields; QV_QUANTIZATION_NONE: none), read from a library source or
     * mapped from a REST source's quantization_config; written to a
     * library destination, and to a REST one when rest_quantization is
     * NULL. */
    qv_collection_config quant;
    mg_index *indexes;
    size_t n_indexes;
} mg_schema;

void mg_schema_free(mg_schema *s);

/* The index of the vector called name (NULL: the unnamed one), or -1. */
int mg_schema_vector(const mg_schema *s, const char *name);

/* A batch of points, column by column.  A dense vector v has its floats
 * in vecs[v]; a sparse or multi vector has one owned array per row:
 * cnt[v][row] entries (sparse: nnz, indices ascending; multi: rows),
 * idx[v][row] the sparse indices and val[v][row] the sparse values or the
 * rows (cnt * dims[v] floats, row-major). */
typedef struct mg_batch {
    size_t n, cap, n_vectors;
    uint32_t *dims;
    mg_kind *kinds;
    qv_point_id *ids;
    float **vecs;    /* [v]: cap * dims[v] floats (dense vectors only) */
    uint32_t **cnt;  /* [v]: cap counts (sparse and multi vectors) */
    uint32_t ***idx; /* [v]: cap arrays (sparse vectors) */
    float ***val;    /* [v]: cap arrays (sparse and multi vectors) */
    bool **has;      /* [v]: cap flags (a point may lack a named vector) */
    char **payloads; /* owned JSON objects, NUL-terminated */
    size_t *lens;
} mg_batch;

/* Shapes b for schema s (emptied, columns allocated for cap points). */
qv_status mg_batch_init(mg_batch *b, const mg_schema *s, size_t cap);
void mg_batch_clear(mg_batch *b);
void mg_batch_free(mg_batch *b);
/* Appends a point with no vectors yet and payload json (len bytes, copied;
 * NULL: {}); returns its row or -1 when the batch is full / out of
 * memory. */
long mg_batch_add(mg_batch *b, const qv_point_id *id, const char *json,
                  size_t len);

/* Gives row row of batch b its vector v (sparse or multi): count
 * entries, idx (sparse: count indices, sorted here with their values)
 * and val (count or count * dims[v] floats), both malloc'ed and owned by
 * the batch from here on (freed even when this fails).  QV_EINVAL for a
 * sparse vector with a repeated index. */
qv_status mg_batch_set_var(mg_batch *b, size_t v, size_t row, uint32_t count,
                           uint32_t *idx, float *val);

/* The name of a vector kind ("dense", "sparse", "multivector"). */
const char *mg_kind_name(mg_kind k);

typedef struct mg_endpoint mg_endpoint;

typedef struct mg_ops {
    /* The collections, sorted or in the server's order (free each, then
     * the array). */
    qv_status (*list)(mg_endpoint *e, char ***names, size_t *n);
    /* QV_ENOTFOUND when there is no such collection. */
    qv_status (*describe)(mg_endpoint *e, const char *name, mg_schema *out);
    qv_status (*count)(mg_endpoint *e, const char *name, uint64_t *out);
    /* Up to limit points in id order from *start (NULL: the first) into
     * out (shaped by s); *has_next and *next tell where the next page
     * starts. */
    qv_status (*read)(mg_endpoint *e, const char *name, const mg_schema *s,
                      const qv_point_id *start, size_t limit, mg_batch *out,
                      qv_point_id *next, bool *has_next);
    /* The points of ids[0..n) that exist, in any order, into out. */
    qv_status (*fetch)(mg_endpoint *e, const char *name, const mg_schema *s,
                       const qv_point_id *ids, size_t n, mg_batch *out);
    /* Destination: creates the collection with s's config and indexes, or
     * checks that an existing one has the same vectors (QV_EEXIST and a
     * message naming the clash if not). */
    qv_status (*prepare)(mg_endpoint *e, const char *name, const mg_schema *s);
    /* Destination: upserts the batch; durable when it returns if the
     * endpoint's durable flag is set. */
    qv_status (*write)(mg_endpoint *e, const char *name, const mg_schema *s,
                       const mg_batch *b);
    /* Destination: the collection is complete (a snapshot is saved). */
    qv_status (*finish)(mg_endpoint *e, const char *name);
    void (*close)(mg_endpoint *e);
} mg_ops;

struct mg_endpoint {
    const mg_ops *ops;
    const char *where; /* the SRC or DST argument */
    /* Writes are durable once write returns, so a checkpoint may record
     * them; false for a snapshot file, written whole by finish. */
    bool durable;
    char err[1024];
    void *state;
};

/* Opening endpoints.  as_dest: the endpoint will be written (a missing
 * store directory is created; a missing snapshot file is expected).
 * single_name: the name a snapshot file's one collection goes by. */
qv_status mg_open_store(const char *dir, bool as_dest, mg_endpoint *e);
qv_status mg_open_snapshot(const char *path, bool as_dest,
                           const char *single_name, mg_endpoint *e);
qv_status mg_open_rest(const char *url, const char *api_key, bool as_dest,
                       mg_endpoint *e);

/* Fills e->err and returns st. */
qv_status mg_fail(mg_endpoint *e, qv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Compares the vectors of a destination's existing collection (have) with
 * the source's (want); false with a message in err when they differ. */
bool mg_vectors_match(const char *name, const mg_schema *have,
                      const mg_schema *want, char *err, size_t cap);

/* `quiver migrate ...`; argv[0] is "migrate".  Exit status: 0 done and
 * verified, 1 failed, 2 usage error, 3 verification found a difference. */
int qvc_migrate_main(int argc, char **argv);

#endif /* QUIVER_CLI_MIGRATE_H */
