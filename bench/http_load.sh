#!/usr/bin/env bash
# HTTP overhead benchmark: search requests per second and p99 latency of
# the server under wrk on loopback, next to the same queries searched
# in-process by the same number of threads, on the same data.
#
#   bash bench/http_load.sh [--n 100000] [--dim 768] [--queries 1000]
#                           [--k 10] [--ef 64] [--seconds 20]
#                           [--connections 8] [--threads 2] [--build DIR]
#
# Needs wrk and numpy (scripts/install-deps bench).  Prints a table and
# writes bench/out/http_load.csv.  Takes /tmp/quiver-bench.lock so that it
# never runs next to another benchmark.
#
# Writes next to searches ("do writers starve searches?"):
#
#   bash bench/http_load.sh --writers 4 [--batch 100] [--rounds 3]
#                           [--compare DIR] [the options above]
#
# measures search QPS, p50 and p99 with no writers and then with N more
# connections upserting batches of --batch points (ids of existing points,
# random vectors: the collection keeps its size), --rounds times each,
# alternating, and reports the medians and the writers' points/s.  With
# --compare DIR a second build (say `main`, built in DIR) is loaded with
# the same data and measured in the same rounds, interleaved, so a noisy
# machine weighs on both alike.  Writes bench/out/http_writers.csv; the
# in-process side is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 dim=768 nq=1000 k=10 ef=64 secs=20 conns=8 threads=2 build=build
writers=0 batch=100 rounds=3 compare=
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2 ;; --dim) dim=$2 ;; --queries) nq=$2 ;; --k) k=$2 ;;
    --ef) ef=$2 ;; --seconds) secs=$2 ;; --connections) conns=$2 ;;
    --threads) threads=$2 ;; --build) build=$2 ;;
    --writers) writers=$2 ;; --batch) batch=$2 ;; --rounds) rounds=$2 ;;
    --compare) compare=$2 ;;
    *) echo "http_load: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" "${args[@]}"

# Debian's numpy is for Debian's python (a pyenv python may be first on PATH).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v wrk >/dev/null || { echo "http_load: wrk missing (scripts/install-deps bench)" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target quiver bench_search_threads >/dev/null
[ -z "$compare" ] || cmake --build "$compare" -j"$(nproc)" --target quiver >/dev/null
work=$(mktemp -d /tmp/quiver-http-bench.XXXXXX)
server_pid=
cleanup() {
    for p in $server_pid; do
        kill "$p" 2>/dev/null && wait "$p" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== data: $n x $dim cosine, $nq queries =="
"$build/quiver" generate --n $((n + nq)) --dim "$dim" --seed 7 --out "$work/all.fvecs" >/dev/null
"$py" bench/http/split_data.py "$work" "$n"

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# start_server BUILD TAG: a server of BUILD on a free port, storage
# $work/storage.TAG; sets port and appends its pid to server_pid.
start_server() {
    port=$(free_port)
    "$1/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port 0 \
        --storage "$work/storage.$2" --threads "$threads" \
        >"$work/server.$2.log" 2>&1 &
    server_pid="$server_pid $!"
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
}

if [ "$writers" -gt 0 ]; then
    "$py" bench/http/make_bodies.py "$work/queries.fvecs" "$k" "$ef" "$work/bodies.jsonl"
    "$py" bench/http/make_upserts.py "$dim" "$n" "$batch" 40 "$work/upserts.jsonl"
    builds=("$build") urls=()
    [ -z "$compare" ] || builds+=("$compare")
    for i in "${!builds[@]}"; do
        start_server "${builds[$i]}" "$i"
        urls+=("http://127.0.0.1:$port")
        echo "== load ${builds[$i]} =="
        "$py" bench/http/load_points.py "${urls[$i]}" bench "$work/base.fvecs" Cosine 500
    done
    echo "== $rounds rounds of ${secs}s: wrk -t2 -c$conns search, alone and next to wrk -t1 -c$writers upserting $batch points (wait=true) =="
    for r in $(seq "$rounds"); do
        for i in "${!builds[@]}"; do
            QUIVER_BODIES="$work/bodies.jsonl" wrk -t2 -c"$conns" -d"${secs}s" \
                --latency -s bench/http/search.lua "${urls[$i]}" >"$work/quiet.$i.$r.txt"
            QUIVER_BODIES="$work/upserts.jsonl" QUIVER_METHOD=PUT \
                QUIVER_PATH="/collections/bench/points?wait=true" \
                wrk -t1 -c"$writers" -d"${secs}s" --latency --timeout 30s \
                -s bench/http/search.lua "${urls[$i]}" >"$work/writer.$i.$r.txt" &
            wpid=$!
            QUIVER_BODIES="$work/bodies.jsonl" wrk -t2 -c"$conns" -d"${secs}s" \
                --latency -s bench/http/search.lua "${urls[$i]}" >"$work/busy.$i.$r.txt"
            wait "$wpid"
            grep -h RESULT "$work/quiet.$i.$r.txt" "$work/busy.$i.$r.txt" \
                "$work/writer.$i.$r.txt" | sed "s|^|round $r ${builds[$i]}: |"
        done
    done
    mkdir -p bench/out
    "$py" - "$work" "$rounds" "$batch" "$n" "$dim" "$conns" "$writers" "${builds[@]}" <<'PY'
import re, statistics, sys
work, rounds, batch, n, dim, conns, writers = sys.argv[1:8]
builds = sys.argv[8:]
def parse(path):
    line = [l for l in open(path) if l.startswith("RESULT")][-1]
    kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
    return (float(kv["requests"]) / float(kv["seconds"]), float(kv["p50_us"]),
            float(kv["p99_us"]), int(float(kv["non2xx"])) + int(float(kv["errors"])))
def med(rows, j):
    return statistics.median(r[j] for r in rows)
print(f"\n{n} x {dim}, {conns} search connections, {writers} writer connections "
      f"of {batch} points, medians of {rounds} rounds\n")
print("| build | writers | search QPS | p50 ms | p99 ms | writer points/s | writer p99 ms | failures |")
print("|---|---|---|---|---|---|---|---|")
failed = 0
with open("bench/out/http_writers.csv", "w") as f:
    f.write("build,writers,qps,p50_us,p99_us,points_per_s,writer_p99_us,failures\n")
    for i, b in enumerate(builds):
        rr = range(1, int(rounds) + 1)
        quiet = [parse(f"{work}/quiet.{i}.{r}.txt") for r in rr]
        busy = [parse(f"{work}/busy.{i}.{r}.txt") for r in rr]
        wr = [parse(f"{work}/writer.{i}.{r}.txt") for r in rr]
        for w, rows, pts, wp99 in ((0, quiet, 0.0, 0.0),
                                   (writers, busy, med(wr, 0) * int(batch), med(wr, 2))):
            fails = sum(r[3] for r in rows) + (sum(r[3] for r in wr) if rows is busy else 0)
            failed += fails
            print(f"| {b} | {w} | {med(rows, 0):.0f} | {med(rows, 1)/1000:.2f} | "
                  f"{med(rows, 2)/1000:.2f} | {pts:.0f} | {wp99/1000:.1f} | {fails} |")
            f.write(f"{b},{w},{med(rows, 0):.1f},{med(rows, 1):.0f},{med(rows, 2):.0f},"
                    f"{pts:.0f},{wp99:.0f},{fails}\n")
        print(f"| {b} | p99 per round, alone / with writers | "
              + " ".join(f"{q[2]/1000:.1f}/{w[2]/1000:.1f}" for q, w in zip(quiet, busy))
              + " | | | | | |")
if failed:
    sys.exit("http_load: some requests failed")
PY
    exit 0
fi

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port 0 --storage "$work/storage" \
    --threads "$threads" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
url="http://127.0.0.1:$port"
"$py" bench/http/load_points.py "$url" bench "$work/base.fvecs" Cosine 500
"$py" bench/http/make_bodies.py "$work/queries.fvecs" "$k" "$ef" "$work/bodies.jsonl"

echo "== HTTP: wrk -t2 -c$conns -d${secs}s POST /collections/bench/points/search =="
QUIVER_BODIES="$work/bodies.jsonl" wrk -t2 -c"$conns" -d"${secs}s" --latency \
    -s bench/http/search.lua "$url" | tee "$work/wrk.txt" | grep -E "RESULT|Requests/sec"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=

echo "== in-process: $threads threads, qv_search =="
"$build/bench_search_threads" "$work/base.fvecs" "$work/queries.fvecs" cosine \
    "$k" "$ef" "$threads" "$secs" | tee "$work/inproc.txt"

mkdir -p bench/out
"$py" - "$work" "$n" "$dim" "$k" "$ef" "$conns" "$threads" <<'PY'
import re, sys
work, n, dim, k, ef, conns, threads = sys.argv[1:8]
def parse(path):
    line = [l for l in open(path) if l.startswith("RESULT")][-1]
    kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
    return float(kv["requests"]) / float(kv["seconds"]), float(kv["p50_us"]), \
        float(kv["p99_us"]), int(float(kv["non2xx"])) + int(float(kv["errors"]))
h, i = parse(f"{work}/wrk.txt"), parse(f"{work}/inproc.txt")
print(f"\n| side | QPS | p50 ms | p99 ms | failures |\n|---|---|---|---|---|")
print(f"| HTTP (wrk, {conns} connections, {threads} server threads) | {h[0]:.0f} | {h[1]/1000:.2f} | {h[2]/1000:.2f} | {h[3]} |")
print(f"| in-process ({threads} threads) | {i[0]:.0f} | {i[1]/1000:.2f} | {i[2]/1000:.2f} | {i[3]} |")
print(f"\nHTTP / in-process QPS: {h[0]/i[0]:.2f}")
with open("bench/out/http_load.csv", "w") as f:
    f.write("side,n,dim,k,ef,qps,p50_us,p99_us,failures\n")
    f.write(f"http,{n},{dim},{k},{ef},{h[0]:.1f},{h[1]:.0f},{h[2]:.0f},{h[3]}\n")
    f.write(f"inprocess,{n},{dim},{k},{ef},{i[0]:.1f},{i[1]:.0f},{i[2]:.0f},{i[3]}\n")
if h[3]:
    sys.exit("http_load: some requests failed")
PY
