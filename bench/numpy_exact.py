#!/usr/bin/env python3
"""numpy_exact.py -- exact top-k search with numpy: the yardstick that
bench_kernels (part 2) runs next to qv_search_batch on the same data.

Usage: numpy_exact.py BASE.npy QUERIES.npy K [--reps R] [--block B]
                      [--out IDS.npy]

The rows are expected to be unit length already (bench_kernels writes them
normalised), so cosine similarity is the dot product.  For each block of B
queries, one matrix product Q @ X.T scores every base row, argpartition
picks the K best of each query's row and argsort orders those K, best
first -- the result qv_search_batch returns.  Loading the files is not
timed.  One untimed warm-up run, then R timed runs.

Prints one line that bench_kernels parses:
  numpy_exact qps=<median queries/s> median_s=<s> min_s=<s> reps=<R>
              block=<B> numpy=<version> blas=<library file>
and, with --out, writes the sorted top-K row indices (int32, nq x K), so
bench_kernels can check that both found the same neighbours.
If numpy cannot be imported, prints "numpy_exact error=no-numpy" and exits
with status 3, so the caller can try another interpreter.
"""
import argparse
import os
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    print("numpy_exact error=no-numpy")
    sys.exit(3)


def blas_library():
    """The BLAS shared library numpy really loaded (from the memory map)."""
    try:
        with open("/proc/self/maps") as f:
            names = {os.path.basename(line.split()[-1])
                     for line in f if "blas" in line.lower() and "/" in line}
        # The resolved file says which implementation sits behind
        # libblas.so.3 (Debian's alternatives).
        return ",".join(sorted(names)) or "unknown"
    except OSError:
        return "unknown"


def topk(base, queries, k, block):
    nq = queries.shape[0]
    out = np.empty((nq, k), dtype=np.int32)
    for q0 in range(0, nq, block):
        scores = queries[q0:q0 + block] @ base.T
        # The k largest of each row, without copying the score matrix
        # (no negation), then only those k sorted, best first.
        part = np.argpartition(scores, -k, axis=1)[:, -k:]
        best = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        out[q0:q0 + block] = np.take_along_axis(part, order, axis=1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("queries")
    ap.add_argument("k", type=int)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--block", type=int, default=256,
                    help="queries per matrix product (bounds the score "
                         "matrix to block x n floats)")
    ap.add_argument("--out")
    a = ap.parse_args()

    base = np.ascontiguousarray(np.load(a.base), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(a.queries), dtype=np.float32)
    if base.ndim != 2 or queries.ndim != 2 or base.shape[1] != queries.shape[1]:
        sys.exit("numpy_exact: base and queries must be 2-D with equal columns")
    k = min(a.k, base.shape[0])
    if k < 1 or a.reps < 1 or a.block < 1:
        sys.exit("numpy_exact: k, reps and block must be positive")

    ids = topk(base, queries, k, a.block)  # warm-up, and the result
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        topk(base, queries, k, a.block)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if a.out:
        np.save(a.out, ids)
    print(f"numpy_exact qps={queries.shape[0] / med:.3f} median_s={med:.6f} "
          f"min_s={min(times):.6f} reps={a.reps} block={a.block} "
          f"numpy={np.__version__} blas={blas_library()}", flush=True)


if __name__ == "__main__":
    main()
