#!/usr/bin/env bash
# Hybrid retrieval over REST: requests per second and p99 latency of
# `points/query` with a dense HNSW search alone, a sparse (BM25-style,
# idf) search alone, and both as prefetches fused by RRF, on the same
# collection and the same queries (issue 13: hybrid QPS next to
# dense-only).
#
#   bash bench/hybrid_load.sh [--n 100000] [--dim 384] [--queries 1000]
#                             [--k 10] [--ef 64] [--seconds 20]
#                             [--connections 8] [--threads 2] [--rounds 3]
#                             [--build DIR]
#
# The corpus and the bodies come from bench/http/hybrid_data.py; wrk
# (bench/http/search.lua, 2 threads) drives each query kind --rounds times,
# interleaved, and the table shows medians.  Needs wrk and numpy
# (scripts/install-deps bench).  Writes bench/out/hybrid_load.csv.  Takes
# /tmp/quiver-bench.lock so that it never runs next to another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 dim=384 nq=1000 k=10 ef=64 secs=20 conns=8 threads=2 rounds=3
build=build
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2 ;; --dim) dim=$2 ;; --queries) nq=$2 ;; --k) k=$2 ;;
    --ef) ef=$2 ;; --seconds) secs=$2 ;; --connections) conns=$2 ;;
    --threads) threads=$2 ;; --rounds) rounds=$2 ;; --build) build=$2 ;;
    *) echo "hybrid_load: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" "${args[@]}"

py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v wrk >/dev/null || { echo "hybrid_load: wrk missing (scripts/install-deps bench)" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target quiver >/dev/null
work=$(mktemp -d /tmp/quiver-hybrid-bench.XXXXXX)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null && wait "$server_pid" || true; }
    rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port 0 \
    --storage "$work/storage" --threads "$threads" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
url="http://127.0.0.1:$port"
echo "== data: $n documents, $dim-d dense + BM25-style sparse, $nq queries =="
"$py" bench/http/hybrid_data.py "$url" "$n" "$dim" "$nq" "$k" "$ef" "$work"

kinds="dense sparse hybrid"
echo "== $rounds rounds of ${secs}s each: wrk -t2 -c$conns POST /collections/hybrid/points/query =="
for r in $(seq "$rounds"); do
    for m in $kinds; do
        QUIVER_BODIES="$work/$m.jsonl" QUIVER_PATH=/collections/hybrid/points/query \
            wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/search.lua \
            "$url" >"$work/$m.$r.txt"
        grep -h RESULT "$work/$m.$r.txt" | sed "s|^|round $r $m: |"
    done
done

mkdir -p bench/out
"$py" - "$work" "$rounds" "$n" "$dim" "$k" "$ef" "$conns" "$threads" <<'PY'
import re, statistics, sys
work, rounds, n, dim, k, ef, conns, threads = sys.argv[1:9]
def parse(path):
    line = [l for l in open(path) if l.startswith("RESULT")][-1]
    kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
    return (float(kv["requests"]) / float(kv["seconds"]), float(kv["p50_us"]),
            float(kv["p99_us"]), int(float(kv["non2xx"])) + int(float(kv["errors"])))
rows = {}
for m in ("dense", "sparse", "hybrid"):
    rr = [parse(f"{work}/{m}.{r}.txt") for r in range(1, int(rounds) + 1)]
    rows[m] = [statistics.median(x[j] for x in rr) for j in range(3)] + \
        [sum(x[3] for x in rr)]
print(f"\n{n} documents, {dim}-d dense, k {k}, hnsw_ef {ef}, {conns} connections, "
      f"{threads} server threads, medians of {rounds} rounds\n")
print("| query | QPS | p50 ms | p99 ms | vs dense QPS | failures |")
print("|---|---|---|---|---|---|")
with open("bench/out/hybrid_load.csv", "w") as f:
    f.write("query,n,dim,k,ef,qps,p50_us,p99_us,failures\n")
    for m, (q, p50, p99, fails) in rows.items():
        print(f"| {m} | {q:.0f} | {p50/1000:.2f} | {p99/1000:.2f} | "
              f"{q / rows['dense'][0]:.2f} | {fails} |")
        f.write(f"{m},{n},{dim},{k},{ef},{q:.1f},{p50:.0f},{p99:.0f},{fails}\n")
if any(r[3] for r in rows.values()):
    sys.exit("hybrid_load: some requests failed")
PY
