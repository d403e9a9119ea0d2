/*
 * hnswlib_open.cpp -- hnswlib's side of the snapshot open benchmark
 * (bench/snapshot_open.sh): how long hnswlib takes to save an index, to
 * load it back with loadIndex, and to answer the first query after the
 * load, on the same data Quiver's side uses.
 *
 *   hnswlib_open build BASE.fvecs INDEX M EF_CONSTRUCT THREADS
 *   hnswlib_open open  INDEX QUERIES.fvecs DIM K EF
 *
 * `build` builds with THREADS threads (hnswlib's addPoint from a thread
 * pool, as its Python binding does) and times saveIndex; `open` runs in a
 * fresh process so that nothing is cached in the heap, times loadIndex
 * and then one query, then the median of the remaining queries.  Both
 * print one "RESULT key=value ..." line.  L2 space; hnswlib reads its
 * whole file into the heap, which is what the comparison is about.
 */
#include <hnswlib/hnswlib.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

static double now()
{
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static std::vector<float> read_fvecs(const char *path, size_t *dim,
                                     size_t *rows)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0) {
        fprintf(stderr, "%s: not an fvecs file\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    size_t row_bytes = 4 + 4 * (size_t)d;
    *dim = (size_t)d;
    *rows = (size_t)size / row_bytes;
    std::vector<float> out(*rows * *dim);
    std::vector<char> row(row_bytes);
    for (size_t i = 0; i < *rows; i++) {
        if (fread(row.data(), 1, row_bytes, f) != row_bytes) {
            fprintf(stderr, "%s: short read\n", path);
            exit(1);
        }
        memcpy(&out[i * *dim], row.data() + 4, 4 * *dim);
    }
    fclose(f);
    return out;
}

static int build(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    size_t dim, n;
    std::vector<float> base = read_fvecs(argv[2], &dim, &n);
    size_t m = strtoul(argv[4], NULL, 10), efc = strtoul(argv[5], NULL, 10);
    unsigned threads = (unsigned)strtoul(argv[6], NULL, 10);
    hnswlib::L2Space space(dim);
    hnswlib::HierarchicalNSW<float> index(&space, n, m, efc, 100);
    double t0 = now();
    std::atomic<size_t> next(0);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; t++)
        pool.emplace_back([&] {
            for (size_t i; (i = next++) < n;)
                index.addPoint(&base[i * dim], i);
        });
    for (auto &t : pool)
        t.join();
    double built = now() - t0;
    t0 = now();
    index.saveIndex(argv[3]);
    /* saveIndex does not fsync; Quiver's save does, so add it here. */
    FILE *f = fopen(argv[3], "rb+");
    if (f) {
        fflush(f);
        fsync(fileno(f));
        fclose(f);
    }
    double saved = now() - t0;
    struct stat st;
    stat(argv[3], &st);
    printf("RESULT build_s=%.3f save_s=%.3f file_mb=%.1f save_mb_s=%.0f\n",
           built, saved, st.st_size / 1e6, st.st_size / 1e6 / saved);
    return 0;
}

static int open_index(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    size_t qdim, nq;
    std::vector<float> q = read_fvecs(argv[3], &qdim, &nq);
    size_t dim = strtoul(argv[4], NULL, 10), k = strtoul(argv[5], NULL, 10);
    if (qdim != dim || nq < 2) {
        fprintf(stderr, "queries: wrong dimension or too few\n");
        return 1;
    }
    hnswlib::L2Space space(dim);
    double t0 = now();
    hnswlib::HierarchicalNSW<float> index(&space, std::string(argv[2]));
    double opened = now() - t0;
    index.setEf(strtoul(argv[6], NULL, 10));
    t0 = now();
    auto first = index.searchKnn(&q[0], k);
    double first_s = now() - t0;
    std::vector<double> lat;
    for (size_t i = 1; i < nq; i++) {
        t0 = now();
        auto r = index.searchKnn(&q[i * dim], k);
        lat.push_back(now() - t0);
    }
    std::sort(lat.begin(), lat.end());
    printf("RESULT open_ms=%.3f first_query_us=%.1f median_query_us=%.1f "
           "hits=%zu\n",
           opened * 1e3, first_s * 1e6, lat[lat.size() / 2] * 1e6,
           first.size());
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc > 1 && !strcmp(argv[1], "build"))
        rc = build(argc, argv);
    else if (argc > 1 && !strcmp(argv[1], "open"))
        rc = open_index(argc, argv);
    if (rc == 2)
        fprintf(stderr,
                "usage: %s build BASE INDEX M EFC THREADS\n"
                "       %s open INDEX QUERIES DIM K EF\n",
                argv[0], argv[0]);
    return rc;
}
