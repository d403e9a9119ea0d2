#!/usr/bin/env bash
# gRPC vs REST vs in-process: search requests per second, p50 and p99
# latency on the same index, 2 client threads each (issue 15's target:
# gRPC at least 70% of in-process, above REST, since vectors travel as
# binary floats instead of JSON text).
#
#   bash bench/grpc_load.sh [--n 100000] [--dim 768] [--queries 1000]
#                           [--k 10] [--ef 64] [--seconds 10] [--rounds 6]
#                           [--connections 8] [--threads 2] [--build DIR]
#
# Method.  One server (--threads worker threads) is loaded over REST
# (batches of 500 points, wait=true), then stopped with SIGTERM, which
# checkpoints every collection into its snapshot file, and started again
# on the same storage, so that it serves those snapshots, mapped.  The
# dense vectors' file is found through STORAGE/catalog.json (the library
# collection that the collection's dense vector names) in the store's
# layout STORAGE/collections/<library name>/snapshot.qvs.  The in-process
# side opens that same file (bench_search_threads --snapshot, which checks
# its dimension and metric and reports its point count, checked here
# against --n): both sides search the very same graph, not one built by
# REST batches against one built in a single batch.
#
# Then --rounds rounds, each running the three sides one after the other
# for --seconds each, the order rotated from round to round so that no
# side always goes first: REST by wrk (bench/http/search.lua,
# --connections connections over 2 wrk threads), gRPC by bench_grpc_load
# (2 threads, the same number of HTTP/2 connections, one call in flight on
# each: Points/Search with the same limit and hnsw_ef), in-process by a
# fresh bench_search_threads (--threads threads calling qv_search; the
# server stays up, idle, meanwhile).  On a shared VM the same run's QPS
# moves by about +-15% from one minute to the next, and a ratio of one
# phase per side moves with it; each round's ratio is taken between
# phases run next to each other, and the median over the rounds is the
# figure reported.
#
# Prints one row per round (QPS, p50, p99 of each side, that round's
# gRPC / in-process and REST / in-process QPS ratios), then the medians
# over the rounds: QPS, p50 and p99 per side and the MEDIAN OF THE
# PER-ROUND RATIOS, the figure the target is judged on.  Writes
# bench/out/grpc_load.csv with the columns
#     side,round,order,n,dim,k,ef,seconds,qps,p50_us,p99_us,over_inprocess,failures
# one row per side per round (round 1..R, order 1..3 its place in that
# round, over_inprocess its QPS / that round's in-process QPS), then one
# row per side with round "median" (order empty; qps, p50_us, p99_us the
# medians over the rounds; over_inprocess the median of the per-round
# ratios; failures the sum).  Exits non-zero if any request failed.
#
# Needs wrk and numpy (scripts/install-deps bench); without wrk the REST
# side is skipped.  Takes /tmp/quiver-bench.lock so that it never runs
# next to another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 dim=768 nq=1000 k=10 ef=64 secs=10 rounds=6 conns=8 threads=2
build=build
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2 ;; --dim) dim=$2 ;; --queries) nq=$2 ;; --k) k=$2 ;;
    --ef) ef=$2 ;; --seconds) secs=$2 ;; --rounds) rounds=$2 ;;
    --connections) conns=$2 ;; --threads) threads=$2 ;; --build) build=$2 ;;
    *) echo "grpc_load: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "grpc_load: --rounds must be 1 or more" >&2; exit 2; }
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" "${args[@]}"

# Debian's numpy is for Debian's python (a pyenv python may be first on PATH).
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
# start_server: a server on $work/storage and free ports; sets port,
# gport, url and server_pid, and waits until it is ready.
start_server() {
    port=$(free_port) gport=$(free_port)
    "$build/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port "$gport" \
        --storage "$work/storage" --threads "$threads" >>"$work/server.log" 2>&1 &
    server_pid=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -fs "$url/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1 # a polling interval, not a guess at the start-up time
    done
    echo "grpc_load: the server did not start (log: $work/server.log)" >&2
    cat "$work/server.log" >&2
    exit 1
}
# stop_server: SIGTERM, which checkpoints every collection into its
# snapshot; a server that does not exit cleanly fails the run.
stop_server() {
    kill -TERM "$server_pid"
    local rc=0
    wait "$server_pid" || rc=$?
    server_pid=
    [ "$rc" -eq 0 ] || { echo "grpc_load: the server exited with $rc" >&2; cat "$work/server.log" >&2; exit 1; }
}

start_server
"$py" bench/http/load_points.py "$url" bench "$work/base.fvecs" Cosine 500
"$py" bench/http/make_bodies.py "$work/queries.fvecs" "$k" "$ef" "$work/bodies.jsonl"
stop_server

# The dense vector's library collection, as catalog.json names it (the
# unnamed vector "" of collection "bench"; sparse vectors have no size).
snap=$("$py" - "$work/storage" "$dim" <<'PY'
import json, os, sys
storage, dim = sys.argv[1], int(sys.argv[2])
cat = json.load(open(os.path.join(storage, "catalog.json")))
coll = [c for c in cat["collections"] if c["name"] == "bench"]
if len(coll) != 1:
    sys.exit("grpc_load: catalog.json has no single collection 'bench'")
dense = [v for v in coll[0]["vectors"] if "sparse" not in v]
named = [v for v in dense if v["name"] == ""] or dense
if len(named) != 1 or named[0]["size"] != dim:
    sys.exit(f"grpc_load: no single dense vector of size {dim} in 'bench': {dense}")
path = os.path.join(storage, "collections", named[0]["library"], "snapshot.qvs")
if not os.path.isfile(path):
    sys.exit(f"grpc_load: {path} is missing")
print(path)
PY
)
start_server
points=$(curl -fs "$url/collections/bench" |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["result"]["points_count"])')
echo "== index: $snap (the server reopened it: $points points) =="
[ "$points" -eq "$n" ] || { echo "grpc_load: the server holds $points points, not $n" >&2; exit 1; }

sides=(grpc inproc)
if command -v wrk >/dev/null; then
    sides=(rest grpc inproc)
else
    echo "== REST: skipped (wrk missing: scripts/install-deps bench) =="
fi
# run_side SIDE OUT: one side's phase, its RESULT line in OUT (and its
# exit status as an RC line when it is not 0).
run_side() {
    local rc=0
    case "$1" in
    rest)
        QUIVER_BODIES="$work/bodies.jsonl" wrk -t2 -c"$conns" -d"${secs}s" --latency \
            -s bench/http/search.lua "$url" >"$2" 2>&1 || rc=$? ;;
    grpc)
        "$build/bench_grpc_load" 127.0.0.1 "$gport" bench "$work/queries.fvecs" "$k" "$ef" \
            2 "$(( (conns + 1) / 2 ))" "$secs" >"$2" 2>&1 || rc=$? ;;
    inproc)
        "$build/bench_search_threads" --snapshot "$snap" - "$work/queries.fvecs" cosine \
            "$k" "$ef" "$threads" "$secs" >"$2" 2>&1 || rc=$?
        # The file must hold the data the server was loaded with.
        grep -q "^SNAPSHOT points=$n " "$2" ||
            { echo "grpc_load: $snap does not hold $n points:" >&2; cat "$2" >&2; exit 1; } ;;
    esac
    [ "$rc" -eq 0 ] || echo "RC rc=$rc" >>"$2"
}

# The report: `report.py round R` prints round R's row (the header with
# round 1), `report.py summary` the medians and the CSV.
cat >"$work/report.py" <<'PY'
import os, re, statistics, sys
work, n, dim, k, ef, secs, conns, threads, rounds = sys.argv[1:10]
rounds = int(rounds)
names = {"rest": "REST", "grpc": "gRPC", "inproc": "in-process"}
SIDES = ("rest", "grpc", "inproc")

def parse(side, r):
    """(qps, p50_us, p99_us, failures, order) of one side in round r, or
    None when the side did not run (no wrk).  A missing RESULT line or a
    non-zero exit status counts as a failure."""
    path = f"{work}/{side}.{r}.txt"
    if not os.path.exists(path):
        return None
    text = open(path).read()
    order = int(open(f"{path}.order").read())
    res = [l for l in text.splitlines() if l.startswith("RESULT")]
    rc = re.search(r"^RC rc=(\d+)", text, re.M)
    if not res:
        sys.stderr.write(f"grpc_load: no RESULT from {side} in round {r}:\n{text}")
        return (0.0, 0.0, 0.0, 1, order)
    kv = dict(re.findall(r"(\w+)=([\d.]+)", res[-1]))
    fails = int(float(kv["non2xx"])) + int(float(kv["errors"]))
    if rc and not fails:
        fails = 1
    return (float(kv["requests"]) / float(kv["seconds"]), float(kv["p50_us"]),
            float(kv["p99_us"]), fails, order)

def ratio(a, b):
    return a[0] / b[0] if a and b and b[0] > 0 else None

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

def row(r):
    got = {s: parse(s, r) for s in SIDES}
    order = ", ".join(names[s] for s in sorted((s for s in SIDES if got[s]),
                                               key=lambda s: got[s][4]))
    cells = [str(r), order]
    for s in SIDES:
        x = got[s]
        cells += ["-"] * 3 if x is None else \
            [f"{x[0]:,.0f}", f"{x[1] / 1000:.2f}", f"{x[2] / 1000:.2f}"]
    cells += [fmt(ratio(got["grpc"], got["inproc"]), ".2f"),
              fmt(ratio(got["rest"], got["inproc"]), ".2f")]
    return got, "| " + " | ".join(cells) + " |"

if sys.argv[10] == "round":
    r = int(sys.argv[11])
    if r == 1:
        print(f"\n{n} x {dim} cosine, k {k}, ef {ef}, {conns} connections, "
              f"{threads} server threads, {rounds} rounds of {secs} s per side "
              "(QPS; p50 and p99 in ms)\n")
        print("| round | order | REST QPS | p50 | p99 | gRPC QPS | p50 | p99 | "
              "in-process QPS | p50 | p99 | gRPC / in-process | REST / in-process |")
        print("|" + "---|" * 13)
    print(row(r)[1], flush=True)
    sys.exit(0)

per = [row(r)[0] for r in range(1, rounds + 1)]
med = statistics.median
print(f"\nMedians over {rounds} rounds; the ratio column is the median of the "
      "per-round ratios\n(each taken within one round), the figure issue 15's "
      "target (gRPC / in-process >= 0.70) is judged on:\n")
print("| side | QPS | p50 ms | p99 ms | / in-process (median of rounds) | failures |")
print("|---|---|---|---|---|---|")
failed = 0
os.makedirs("bench/out", exist_ok=True)
with open("bench/out/grpc_load.csv", "w") as f:
    f.write("side,round,order,n,dim,k,ef,seconds,qps,p50_us,p99_us,"
            "over_inprocess,failures\n")
    summary = []
    for s in ("grpc", "rest", "inproc"):
        xs = [(r + 1, g[s], ratio(g[s], g["inproc"])) for r, g in enumerate(per)]
        if any(x is None for _, x, _ in xs):
            continue
        for r, x, q in xs:
            f.write(f"{names[s]},{r},{x[4]},{n},{dim},{k},{ef},{secs},{x[0]:.1f},"
                    f"{x[1]:.0f},{x[2]:.0f},{fmt(q, '.4f')},{x[3]}\n")
        qs = [q for _, _, q in xs if q is not None]
        m = (med(x[0] for _, x, _ in xs), med(x[1] for _, x, _ in xs),
             med(x[2] for _, x, _ in xs), med(qs) if qs else None,
             sum(x[3] for _, x, _ in xs))
        failed += m[4]
        summary.append((s, m))
        print(f"| {names[s]} | {m[0]:,.0f} | {m[1] / 1000:.2f} | {m[2] / 1000:.2f} | "
              f"{fmt(m[3], '.2f')} | {m[4]} |")
    for s, m in summary:
        f.write(f"{names[s]},median,,{n},{dim},{k},{ef},{secs},{m[0]:.1f},"
                f"{m[1]:.0f},{m[2]:.0f},{fmt(m[3], '.4f')},{m[4]}\n")
if failed:
    sys.exit("grpc_load: some requests failed")
PY
report() {
    "$py" "$work/report.py" "$work" "$n" "$dim" "$k" "$ef" "$secs" "$conns" \
        "$threads" "$rounds" "$@"
}

echo "== $rounds rounds of ${secs}s per side: REST (wrk -t2 -c$conns), gRPC (2 threads, $conns connections), in-process ($threads threads, qv_search on the same snapshot); order rotated =="
for r in $(seq "$rounds"); do
    for i in "${!sides[@]}"; do
        j=$(( (i + r - 1) % ${#sides[@]} ))
        side=${sides[$j]}
        echo $((i + 1)) >"$work/$side.$r.txt.order"
        run_side "$side" "$work/$side.$r.txt"
    done
    report round "$r"
done
report summary
