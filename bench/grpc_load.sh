#!/usr/bin/env bash
# gRPC vs REST vs in-process: search requests per second and p99 latency
# on the same data, 2 client threads each (issue 15's target: gRPC at
# least 70% of in-process, above REST, since vectors travel as binary
# floats instead of JSON text).
#
#   bash bench/grpc_load.sh [--n 100000] [--dim 768] [--queries 1000]
#                           [--k 10] [--ef 64] [--seconds 20]
#                           [--connections 8] [--threads 2] [--build DIR]
#
# One server (--threads worker threads) holds the collection; REST is
# driven by wrk (bench/http/search.lua, --connections connections over 2
# wrk threads), gRPC by bench_grpc_load (2 threads, the same number of
# HTTP/2 connections, one call in flight on each: Points/Search with the
# same limit and hnsw_ef), in-process by bench_search_threads (--threads
# threads calling qv_search).  Needs wrk and numpy (scripts/install-deps
# bench); without wrk the REST row is skipped.  Prints a table and writes
# bench/out/grpc_load.csv.  Takes /tmp/quiver-bench.lock so that it never
# runs next to another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 dim=768 nq=1000 k=10 ef=64 secs=20 conns=8 threads=2 build=build
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2 ;; --dim) dim=$2 ;; --queries) nq=$2 ;; --k) k=$2 ;;
    --ef) ef=$2 ;; --seconds) secs=$2 ;; --connections) conns=$2 ;;
    --threads) threads=$2 ;; --build) build=$2 ;;
    *) echo "grpc_load: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" "${args[@]}"

py=/usr/bin/python3
[ -x "$py" ] || py=python3
cmake --build "$build" -j"$(nproc)" --target quiver bench_search_threads \
    bench_grpc_load >/dev/null
work=$(mktemp -d /tmp/quiver-grpc-bench.XXXXXX)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null && wait "$server_pid" || true; }
    rm -rf "$work"
}
trap cleanup EXIT

echo "== data: $n x $dim cosine, $nq queries =="
"$build/quiver" generate --n $((n + nq)) --dim "$dim" --seed 7 --out "$work/all.fvecs" >/dev/null
"$py" bench/http/split_data.py "$work" "$n"

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port) gport=$(free_port)
"$build/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port "$gport" \
    --storage "$work/storage" --threads "$threads" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1 # a polling interval, not a guess at the start-up time
done
url="http://127.0.0.1:$port"
"$py" bench/http/load_points.py "$url" bench "$work/base.fvecs" Cosine 500
"$py" bench/http/make_bodies.py "$work/queries.fvecs" "$k" "$ef" "$work/bodies.jsonl"

if command -v wrk >/dev/null; then
    echo "== REST: wrk -t2 -c$conns -d${secs}s POST /collections/bench/points/search =="
    QUIVER_BODIES="$work/bodies.jsonl" wrk -t2 -c"$conns" -d"${secs}s" --latency \
        -s bench/http/search.lua "$url" | tee "$work/rest.txt" | grep -E "RESULT"
else
    echo "== REST: skipped (wrk missing: scripts/install-deps bench) =="
fi
echo "== gRPC: 2 threads, $conns connections, ${secs}s Points/Search =="
"$build/bench_grpc_load" 127.0.0.1 "$gport" bench "$work/queries.fvecs" "$k" "$ef" \
    2 "$(( (conns + 1) / 2 ))" "$secs" | tee "$work/grpc.txt"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=

echo "== in-process: $threads threads, qv_search =="
"$build/bench_search_threads" "$work/base.fvecs" "$work/queries.fvecs" cosine \
    "$k" "$ef" "$threads" "$secs" | tee "$work/inproc.txt"

mkdir -p bench/out
"$py" - "$work" "$n" "$dim" "$k" "$ef" "$conns" "$threads" <<'PY'
import os, re, sys
work, n, dim, k, ef, conns, threads = sys.argv[1:8]
def parse(path):
    if not os.path.exists(path):
        return None
    line = [l for l in open(path) if l.startswith("RESULT")][-1]
    kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
    return float(kv["requests"]) / float(kv["seconds"]), float(kv["p50_us"]), \
        float(kv["p99_us"]), int(float(kv["non2xx"])) + int(float(kv["errors"]))
rows = [("gRPC", parse(f"{work}/grpc.txt")), ("REST", parse(f"{work}/rest.txt")),
        ("in-process", parse(f"{work}/inproc.txt"))]
inproc = rows[2][1]
print(f"\n{n} x {dim} cosine, k {k}, ef {ef}, {conns} connections, {threads} server threads\n")
print("| side | QPS | p50 ms | p99 ms | / in-process | failures |\n|---|---|---|---|---|---|")
failed = 0
with open("bench/out/grpc_load.csv", "w") as f:
    f.write("side,n,dim,k,ef,qps,p50_us,p99_us,failures\n")
    for name, r in rows:
        if r is None:
            continue
        failed += r[3]
        print(f"| {name} | {r[0]:.0f} | {r[1]/1000:.2f} | {r[2]/1000:.2f} | {r[0]/inproc[0]:.2f} | {r[3]} |")
        f.write(f"{name},{n},{dim},{k},{ef},{r[0]:.1f},{r[1]:.0f},{r[2]:.0f},{r[3]}\n")
if failed:
    sys.exit("grpc_load: some requests failed")
PY
