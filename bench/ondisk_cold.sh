#!/usr/bin/env bash
# ondisk_cold.sh -- on_disk vectors against heap vectors (bench_ondisk.c):
# memory and first-query latency on a cold page cache, one process per
# mode, in one run, under the shared benchmark lock.
#   bench/ondisk_cold.sh BUILD_DIR [N] [DIM] [graph]
# The vector file is made (unnamed) in $ONDISK_DIR, default the build dir.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [N] [DIM] [graph]}
n=${2:-200000}
dim=${3:-768}
mode=${4:-}
dir=${ONDISK_DIR:-$build}
exec 9>/tmp/quiver-bench.lock
flock 9
for m in heap disk; do
    "$build/bench_ondisk" "$m" "$n" "$dim" "$dir" $mode
    echo
done
