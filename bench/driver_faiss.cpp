/*
 * driver_faiss.cpp -- `quiver bench` driver for faiss's IndexHNSWFlat
 * (Debian's libfaiss-dev), and with --variant sq8 for IndexHNSWSQ with
 * 8-bit scalar quantization (QT_8bit: one byte a component, a range per
 * component, trained on the base before the build), the in-run peer of
 * Quiver's int8 rows.  faiss searches the codes and does not rescore.
 *
 * The index gets the same M (2*M links on layer 0, as hnswlib and Quiver)
 * and efConstruction as the other engines; efSearch is set per sweep step.
 * l2 is METRIC_L2 (squared distances); cosine data arrives unit-normalised
 * and is searched with METRIC_INNER_PRODUCT.
 *
 * Threads: faiss parallelises add() with OpenMP, so the build runs under
 * omp_set_num_threads(T) and the searches under omp_set_num_threads(1), one
 * query per search() call.  The harness starts this driver with
 * OMP_WAIT_POLICY=PASSIVE so that idle OpenMP workers sleep instead of
 * spinning on the cores the measured thread needs.
 *
 * The measuring loop and the output records are in harness_driver.c.
 */
#include "harness_driver.h"

#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexScalarQuantizer.h>
#include <omp.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#define QVB_STR2(x) #x
#define QVB_STR(x)  QVB_STR2(x)
#define QVB_FAISS_VERSION                                                      \
    QVB_STR(FAISS_VERSION_MAJOR)                                               \
    "." QVB_STR(FAISS_VERSION_MINOR) "." QVB_STR(FAISS_VERSION_PATCH)

namespace
{

/* qvb_idx in newer faiss, faiss::Index::idx_t in 1.7.3: ntotal has
 * that type in both. */
using qvb_idx = decltype(faiss::Index::ntotal);

struct qvb_faiss_index {
    std::unique_ptr<faiss::IndexHNSW> index;
    size_t point_bytes;
    std::vector<float> dist;
    std::vector<qvb_idx> labels;
};

int qvb_build(const qvb_drv_config *cfg, const float *base, size_t n,
              unsigned threads, void **out, char *err, size_t cap)
{
    try {
        auto idx = std::make_unique<qvb_faiss_index>();
        faiss::MetricType metric = cfg->metric == QVB_DRV_L2
                                       ? faiss::METRIC_L2
                                       : faiss::METRIC_INNER_PRODUCT;
        bool sq8 = std::string(cfg->variant) == "sq8";
        if (sq8)
            idx->index = std::make_unique<faiss::IndexHNSWSQ>(
                (int)cfg->dim, faiss::ScalarQuantizer::QT_8bit, (int)cfg->m,
                metric);
        else
            idx->index = std::make_unique<faiss::IndexHNSWFlat>(
                (int)cfg->dim, (int)cfg->m, metric);
        idx->point_bytes = sq8 ? cfg->dim : cfg->dim * sizeof(float);
        idx->index->hnsw.efConstruction = (int)cfg->ef_construct;
        idx->dist.resize(cfg->k);
        idx->labels.resize(cfg->k);
        omp_set_num_threads((int)threads);
        if (sq8)
            idx->index->train((qvb_idx)n, base);
        idx->index->add((qvb_idx)n, base);
        omp_set_num_threads(1);
        *out = idx.release();
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, cap, "faiss build: %s", e.what());
    } catch (...) {
        snprintf(err, cap, "faiss build failed");
    }
    return -1;
}

int qvb_set_ef(void *index, unsigned ef, char *, size_t)
{
    omp_set_num_threads(1);
    static_cast<qvb_faiss_index *>(index)->index->hnsw.efSearch = (int)ef;
    return 0;
}

int qvb_search(void *index, const float *query, uint32_t k, int32_t *ids,
               char *err, size_t cap)
{
    try {
        auto *idx = static_cast<qvb_faiss_index *>(index);
        idx->index->search(1, query, (qvb_idx)k, idx->dist.data(),
                           idx->labels.data());
        for (uint32_t i = 0; i < k; i++)
            ids[i] = idx->labels[i] < 0 ? -1 : (int32_t)idx->labels[i];
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, cap, "faiss search: %s", e.what());
    }
    return -1;
}

void qvb_destroy(void *index)
{
    delete static_cast<qvb_faiss_index *>(index);
}

size_t qvb_point_bytes(void *index)
{
    return static_cast<qvb_faiss_index *>(index)->point_bytes;
}

const char *const qvb_variants[] = {"sq8", nullptr};

} // namespace

int main(int argc, char **argv)
{
    static const qvb_drv_ops ops = {
        "faiss",         QVB_FAISS_VERSION "-hnswflat",
        qvb_build,       qvb_set_ef,
        qvb_search,      qvb_destroy,
        qvb_point_bytes, qvb_variants};
    return qvb_drv_main(argc, argv, &ops);
}
