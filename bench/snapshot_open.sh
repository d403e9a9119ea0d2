#!/usr/bin/env bash
# Snapshot open benchmark: Quiver's snapshot against hnswlib's saveIndex /
# loadIndex on the same data (the seeded mixture of `quiver generate`, which
# bench_snapshot also builds in memory), m 16, ef_construct 100, euclid.
#   bash bench/snapshot_open.sh [N (default 100000)] [DIM (128)] [THREADS (2)]
# Prints both programs' RESULT lines: save MB/s, open time, first-query and
# median query latency with the file in the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000} dim=${2:-128} threads=${3:-2} build=${BUILD:-build}
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" "$n" "$dim" "$threads"
cmake --build "$build" -j"$(nproc)" --target quiver bench_snapshot hnswlib_open >/dev/null
work=$(mktemp -d /tmp/quiver-open-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build/quiver" generate --n "$n" --dim "$dim" --seed 1 --out "$work/base.fvecs" >/dev/null
"$build/quiver" generate --n 201 --dim "$dim" --seed 777 --out "$work/q.fvecs" >/dev/null
echo "== Quiver: build, qv_snapshot_save, qv_snapshot_open, first queries =="
"$build/bench_snapshot" --n "$n" --dim "$dim" --threads "$threads" --queries 200 \
    --file "$work/quiver.qvs" | tee "$work/quiver.txt"
echo "== hnswlib: build, saveIndex (+fsync), loadIndex, first queries =="
"$build/hnswlib_open" build "$work/base.fvecs" "$work/hnswlib.bin" 16 100 "$threads"
"$build/hnswlib_open" open "$work/hnswlib.bin" "$work/q.fvecs" "$dim" 10 64
