/*
 * driver_hnswlib.cpp -- `quiver bench` driver for hnswlib (Debian's
 * libhnswlib-dev, header only).
 *
 * Built with -O3 -march=native so that hnswlib's own distance functions use
 * the widest SIMD the machine has (its header picks AVX-512 when
 * __AVX512F__ is defined): we compare against hnswlib at its best, as its
 * users build it.  The version string says which level was compiled in.
 *
 * Metrics: l2 is hnswlib's L2Space (squared distances, same ranking);
 * cosine data arrives unit-normalised from the harness and is searched with
 * InnerProductSpace, which is what hnswlib's own "cosine" space does.
 *
 * The parallel build mirrors hnswlib's Python binding (ParallelFor): T
 * std::threads take point indices from a shared atomic counter and call
 * addPoint, which hnswlib makes safe with its per-node locks.  The level
 * generator uses hnswlib's default seed (100), fixed, so builds replay.
 *
 * The measuring loop and the output records are in harness_driver.c.
 */
#include "harness_driver.h"

#include <hnswlib/hnswlib.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#ifndef QVB_HNSWLIB_VERSION
#define QVB_HNSWLIB_VERSION "debian"
#endif
#if defined(__AVX512F__)
#define QVB_HNSWLIB_SIMD "avx512"
#elif defined(__AVX__)
#define QVB_HNSWLIB_SIMD "avx"
#elif defined(__SSE__)
#define QVB_HNSWLIB_SIMD "sse"
#else
#define QVB_HNSWLIB_SIMD "scalar"
#endif

namespace
{

struct qvb_hnswlib_index {
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
};

int qvb_build(const qvb_drv_config *cfg, const float *base, size_t n,
              unsigned threads, void **out, char *err, size_t cap)
{
    try {
        auto idx = std::make_unique<qvb_hnswlib_index>();
        if (cfg->metric == QVB_DRV_L2)
            idx->space = std::make_unique<hnswlib::L2Space>(cfg->dim);
        else
            idx->space = std::make_unique<hnswlib::InnerProductSpace>(cfg->dim);
        idx->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            idx->space.get(), n, cfg->m, cfg->ef_construct);
        std::atomic<size_t> next(0);
        std::exception_ptr failure;
        std::atomic<bool> failed(false);
        auto work = [&]() {
            try {
                for (size_t i; !failed && (i = next++) < n;)
                    idx->hnsw->addPoint(base + i * cfg->dim,
                                        (hnswlib::labeltype)i);
            } catch (...) {
                if (!failed.exchange(true))
                    failure = std::current_exception();
            }
        };
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < threads; t++)
            pool.emplace_back(work);
        work();
        for (auto &t : pool)
            t.join();
        if (failure)
            std::rethrow_exception(failure);
        *out = idx.release();
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, cap, "hnswlib build: %s", e.what());
    } catch (...) {
        snprintf(err, cap, "hnswlib build failed");
    }
    return -1;
}

int qvb_set_ef(void *index, unsigned ef, char *, size_t)
{
    static_cast<qvb_hnswlib_index *>(index)->hnsw->setEf(ef);
    return 0;
}

int qvb_search(void *index, const float *query, uint32_t k, int32_t *ids,
               char *err, size_t cap)
{
    try {
        auto *idx = static_cast<qvb_hnswlib_index *>(index);
        auto res = idx->hnsw->searchKnn(query, k);
        /* The queue pops the worst first. */
        size_t cnt = res.size();
        for (size_t i = cnt; i-- > 0; res.pop())
            if (i < k)
                ids[i] = (int32_t)res.top().second;
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, cap, "hnswlib search: %s", e.what());
    }
    return -1;
}

void qvb_destroy(void *index)
{
    delete static_cast<qvb_hnswlib_index *>(index);
}

} // namespace

int main(int argc, char **argv)
{
    static const qvb_drv_ops ops = {
        "hnswlib",  QVB_HNSWLIB_VERSION "-" QVB_HNSWLIB_SIMD,
        qvb_build,  qvb_set_ef,
        qvb_search, qvb_destroy,
        nullptr,  /* point_bytes: dim floats */
        nullptr}; /* variants: none only */
    return qvb_drv_main(argc, argv, &ops);
}
