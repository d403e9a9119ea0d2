/*
 * driver_quiver.c -- `quiver bench` driver for Quiver itself, through the
 * public API only (include/quiver.h), as an application would use it.
 *
 * Build: one collection with {dim, metric, hnsw_m, hnsw_ef_construct,
 * full_scan_threshold_kb = 0 (always the graph), max_indexing_threads = T}
 * and one qv_upsert_batch of all points, ids 0..n-1: the batch insert is
 * Quiver's parallel graph build.  The build time therefore includes what
 * the peers' builds include too: checking and copying the vectors.
 *
 * Search: qv_search one query at a time with hnsw_ef = max(ef, k), the
 * beam hnswlib and faiss use when ef < k.  Metrics: l2 is Quiver's euclid
 * (true distances; the ranking is the same as squared ones), cosine is
 * cosine (the data arrive unit-normalised, so the normalisation on insert
 * changes nothing), ip is dot.
 *
 * Variants (--variant): none (float32), int8, binary and pq, Quiver's
 * quantization (README.md, "Quantization"): the collection keeps codes,
 * the graph walk reads them and the candidates are rescored with the
 * floats -- int8 with oversampling 2, binary (one bit) and pq (product,
 * x8: one byte per two components) with oversampling 4 -- so the recall
 * measured is the rescored one, as Qdrant users run it; float16 and uint8,
 * the vector datatypes (rows of halves or bytes; uint8 casts each
 * component as Rust's `as u8`, so it suits data already in 0..255). The
 * memory record gives the bytes of codes (or stored rows) a search
 * reads.
 *
 * The measuring loop and the output records are in harness_driver.c.
 */
#include "harness_driver.h"
#include "quiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qvb_quiver_index {
    qv_collection *c;
    uint32_t dim;
    qv_search_params params;
    qv_hit *hits;
} qvb_quiver_index;

static void qvb_quiver_destroy(void *index)
{
    qvb_quiver_index *q = index;
    if (!q)
        return;
    qv_collection_release(q->c);
    free(q->hits);
    free(q);
}

static int qvb_quiver_build(const qvb_drv_config *cfg, const float *base,
                            size_t n, unsigned threads, void **out, char *err,
                            size_t cap)
{
    qv_point_id *ids = NULL;
    int rc = -1;
    qvb_quiver_index *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    qv_collection_config cc;
    qv_collection_config_init(&cc);
    cc.dim = cfg->dim;
    cc.metric = cfg->metric == QVB_DRV_L2       ? QV_METRIC_EUCLID
                : cfg->metric == QVB_DRV_COSINE ? QV_METRIC_COSINE
                                                : QV_METRIC_DOT;
    cc.hnsw_m = cfg->m;
    cc.hnsw_ef_construct = cfg->ef_construct;
    cc.full_scan_threshold_kb = 0;
    cc.max_indexing_threads = threads;
    if (!strcmp(cfg->variant, "int8"))
        cc.quantization = QV_QUANTIZATION_INT8;
    else if (!strcmp(cfg->variant, "binary"))
        cc.quantization = QV_QUANTIZATION_BINARY;
    else if (!strcmp(cfg->variant, "pq")) {
        cc.quantization = QV_QUANTIZATION_PRODUCT;
        cc.quant_encoding = QV_PQ_X8;
    } else if (!strcmp(cfg->variant, "float16"))
        cc.datatype = QV_DATATYPE_FLOAT16;
    else if (!strcmp(cfg->variant, "uint8"))
        cc.datatype = QV_DATATYPE_UINT8;
    qv_status st = qv_collection_create(&cc, &q->c);
    if (st != QV_OK) {
        snprintf(err, cap, "qv_collection_create: %s", qv_strerror(st));
        goto cleanup;
    }
    q->hits = malloc(cfg->k * sizeof *q->hits);
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!q->hits || !ids) {
        snprintf(err, cap, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = qv_id_from_num(i);
    st = qv_upsert_batch(q->c, ids, base, n, cfg->dim);
    if (st != QV_OK) {
        char msg[256];
        qv_collection_errmsg(q->c, msg, sizeof msg);
        snprintf(err, cap, "qv_upsert_batch: %s: %s", qv_strerror(st), msg);
        goto cleanup;
    }
    qv_search_params_init(&q->params);
    q->params.k = cfg->k;
    if (cc.quantization != QV_QUANTIZATION_NONE) {
        q->params.quant_rescore = QV_RESCORE_ON;
        q->params.quant_oversampling =
            cc.quantization == QV_QUANTIZATION_INT8 ? 2.0 : 4.0;
    }
    q->dim = cfg->dim;
    *out = q;
    q = NULL;
    rc = 0;
cleanup:
    free(ids);
    qvb_quiver_destroy(q);
    return rc;
}

static int qvb_quiver_set_ef(void *index, unsigned ef, char *err, size_t cap)
{
    qvb_quiver_index *q = index;
    if (ef > QV_MAX_EF) {
        snprintf(err, cap, "ef %u is above QV_MAX_EF (%u)", ef, QV_MAX_EF);
        return -1;
    }
    q->params.hnsw_ef = ef < q->params.k ? q->params.k : ef;
    return 0;
}

static int qvb_quiver_search(void *index, const float *query, uint32_t k,
                             int32_t *ids, char *err, size_t cap)
{
    qvb_quiver_index *q = index;
    size_t got = 0;
    (void)k; /* the driver's k, already in params */
    qv_status st = qv_search(q->c, query, q->dim, &q->params, q->hits, &got);
    if (st != QV_OK) {
        snprintf(err, cap, "qv_search: %s", qv_strerror(st));
        return -1;
    }
    for (size_t i = 0; i < got && i < k; i++)
        ids[i] =
            q->hits[i].id.kind == QV_ID_NUM && q->hits[i].id.u.num <= INT32_MAX
                ? (int32_t)q->hits[i].id.u.num
                : -1;
    return 0;
}

static size_t qvb_quiver_point_bytes(void *index)
{
    qvb_quiver_index *q = index;
    size_t bytes = 0;
    if (qv_collection_code_bytes(q->c, &bytes) == QV_OK && bytes != 0)
        return bytes;
    /* The dim elements a search reads (4, 2 or 1 bytes each: the row's
     * size over its padded length), without the row's padding. */
    size_t row = 0, padded = ((size_t)q->dim + 15) / 16 * 16;
    if (qv_collection_vector_bytes(q->c, &row) != QV_OK || row == 0)
        return (size_t)q->dim * sizeof(float);
    return (size_t)q->dim * (row / padded);
}

int main(int argc, char **argv)
{
    static char version[64];
    qv_build_info info;
    qv_build_info_get(&info);
    snprintf(version, sizeof version, "%s-%s", info.version, info.simd_level);
    static const char *const variants[] = {"int8",    "binary", "pq",
                                           "float16", "uint8",  NULL};
    const qvb_drv_ops ops = {"quiver",
                             version,
                             qvb_quiver_build,
                             qvb_quiver_set_ef,
                             qvb_quiver_search,
                             qvb_quiver_destroy,
                             qvb_quiver_point_bytes,
                             variants};
    return qvb_drv_main(argc, argv, &ops);
}
