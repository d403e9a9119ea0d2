#!/usr/bin/env bash
# `quiver migrate` end to end, against `quiver serve` as the REST peer:
#   - server -> store dir -> server, server -> snapshot file, snapshot ->
#     server, server -> server and server -> store dir with named vectors:
#     config (size, distance,
#     hnsw m), payload indexes and payloads with exact numbers (2^64 - 1,
#     -2^63, 2^53 + 1, 1.0 kept a double, 0.1) arrive as they left;
#   - a migration stopped after 4 batches (the test hook
#     QUIVER_MIGRATE_TEST_STOP_AFTER raises SIGSTOP once the 4th batch is
#     acknowledged and checkpointed) is killed with SIGKILL, and a run with
#     the same arguments resumes at the checkpoint: it copies exactly the
#     800 points left, ends with 1000, and a third run has nothing to do;
#     and a run killed wherever it happens to be after its first progress
#     line resumes where its checkpoint says and ends with 1000;
#   - the verification catches a changed payload (an integer 0 where the
#     source has the double 0.0) and a missing point (exit status 3);
#   - an unnamed dense vector beside a sparse one: server -> server and
#     server -> snapshot file -> server, refused into a store dir;
#   - a collection of dense + sparse (idf) + multivector vectors with a
#     payload index, quantization and HNSW settings goes server -> store
#     dir -> snapshot file (an archive) -> server, each leg that writes
#     durably killed with SIGKILL after 3 batches and resumed; the copy is
#     compared with the original point by point (payloads, and every
#     float32 of every vector bit for bit) and its config checked; an
#     archive the server wrote reads too, a damaged one is refused, and
#     the verification catches a changed multivector and sparse vector;
#   - bad inputs fail with a clear message and exit status 1 (unknown
#     collection, unreachable URL, wrong API key, a destination collection
#     of another dimension, a vector name a store directory cannot keep)
#     or 2 (usage).
set -euo pipefail
quiver=$1
dir=$(mktemp -d)
pid=
pid2=
trap 'kill $pid $pid2 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
# req and limit (its port and start are not used: see serve below).
# shellcheck source=tests/server_lib.sh
source "$(dirname "$0")/server_lib.sh"

die() {
    echo "cli_migrate: $*" >&2
    exit 1
}
# expect STATUS PATTERN -- CMD...: CMD exits with STATUS and its stdout +
# stderr match PATTERN (grep -E).
expect() {
    local want=$1 pat=$2 rc=0
    shift 3
    "$@" >"$dir/out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || die "$* exited $rc, not $want: $(cat "$dir/out")"
    grep -Eq -- "$pat" "$dir/out" || die "$*: no /$pat/ in: $(cat "$dir/out")"
}
# serve STORAGE LOG [ARGS]: starts `quiver serve` on a free port (port 0:
# the kernel picks one, so two tests never race for it) and sets
# served_pid and served_url from the line it prints when it is ready.
serve() {
    local storage=$1 log=$2
    shift 2
    : >"$log" # exists before the child opens it, for the grep below
    "$quiver" serve --port 0 --storage "$storage" "$@" >>"$log" 2>&1 &
    served_pid=$!
    until grep -q 'listening on http://' "$log"; do
        kill -0 "$served_pid" 2>/dev/null || die "the server exited: $(cat "$log")"
        sleep 0.05 # a polling interval
    done
    served_url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
}
scroll() { # collection -> the raw scroll reply with vectors
    req POST "/collections/$1/points/scroll" '{"limit":100,"with_vector":true}'
}

serve "$dir/s" "$dir/log"
pid=$served_pid
url=$served_url
req PUT /collections/docs '{"vectors":{"size":4,"distance":"Cosine"},"hnsw_config":{"m":8}}' >/dev/null
req PUT '/collections/docs/points?wait=true' '{"points":[
 {"id":1,"vector":[0.1,0.2,0.3,0.4],"payload":{"big":18446744073709551615,"neg":-9223372036854775808,"n":9007199254740993,"d":1.0,"x":0.1,"tag":"a","nest":{"l":[1,2.5,{"z":null}]}}},
 {"id":18446744073709551615,"vector":[1,2,3,4.5],"payload":{"tag":"b","n":7}},
 {"id":"550e8400-e29b-41d4-a716-446655440000","vector":[-1,0,0,2],"payload":{}}]}' >/dev/null
req PUT '/collections/docs/index?wait=true' '{"field_name":"tag","field_schema":"keyword"}' >/dev/null
req PUT '/collections/docs/index?wait=true' '{"field_name":"n","field_schema":"integer"}' >/dev/null

# ---- server -> store dir -> server ------------------------------------------
expect 0 '3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection docs --to "$dir/store"
expect 0 'docs -> docs_back: 3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$dir/store" --collection docs --to "$url" --to-collection docs_back --batch 2
out=$(scroll docs_back)
for want in '"big":18446744073709551615' '"neg":-9223372036854775808' \
    '"n":9007199254740993' '"d":1.0' '"x":0.1' '"id":18446744073709551615' \
    '"nest":{"l":\[1,2.5,{"z":null}\]}' '"id":"550e8400-e29b-41d4-a716-446655440000"'; do
    grep -q -- "$want" <<<"$out" || die "docs_back lacks $want: $out"
done
info=$(req GET /collections/docs_back '')
grep -q '"vectors":{"size":4,"distance":"Cosine"}' <<<"$info" || die "config: $info"
grep -q '"hnsw_config":{"m":8,' <<<"$info" || die "hnsw_config: $info"
grep -q '"tag":{"data_type":"keyword"' <<<"$info" || die "keyword index: $info"
grep -q '"n":{"data_type":"integer"' <<<"$info" || die "integer index: $info"

# ---- server -> snapshot file, and back ----------------------------------------
expect 0 '3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection docs --to "$dir/docs.qvs"
"$quiver" snapshot verify "$dir/docs.qvs" | grep -q "OK (3 points"
expect 0 'docs -> docs_snap: 3 points' -- \
    "$quiver" migrate --from "$dir/docs.qvs" --to "$url" --to-collection docs_snap
grep -q '"big":18446744073709551615' <<<"$(scroll docs_snap)" || die "docs_snap"

# ---- named vectors, server -> server; refused into a store dir -----------------
req PUT /collections/multi '{"vectors":{"a":{"size":2,"distance":"Dot"},"b":{"size":3,"distance":"Euclid"}}}' >/dev/null
req PUT '/collections/multi/points?wait=true' '{"points":[
 {"id":5,"vector":{"a":[1,2],"b":[1,2,3]},"payload":{"k":[1,2.5e300]}},
 {"id":6,"vector":{"a":[0.5,-2]}}]}' >/dev/null
expect 0 'multi -> multi2: 2 points, 2 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection multi --to "$url" --to-collection multi2
grep -q '"a":{"size":2,"distance":"Dot"' <<<"$(req GET /collections/multi2 '')" || die "multi2 config"
grep -q '"id":6,"payload":{},"vector":{"a":\[0.5,-2\]}}' <<<"$(scroll multi2)" || die "multi2: point 6"
expect 0 'multi -> multi: 2 points, 2 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection multi --to "$dir/store3"
req PUT /collections/slash '{"vectors":{"a/b":{"size":2,"distance":"Dot"}}}' >/dev/null
expect 1 "vector named 'a/b', which .*/store5 cannot keep.*migrate it to a Qdrant server" -- \
    "$quiver" migrate --from "$url" --collection slash --to "$dir/store5"
[ ! -e "$dir/store5" ] || die "a refused migration created $dir/store5"
expect 0 'slash -> slash: 0 points' -- \
    "$quiver" migrate --from "$url" --collection slash --to "$dir/slash.qvs"

# ---- an unnamed dense vector beside a sparse one (named vector ""): server ->
# server keeps the config's shape; server -> snapshot file -> server gives the
# map form {"": ...}; a store directory cannot keep the empty name.  Point 2
# has "" alone, which servers print as a plain array.
req PUT /collections/us '{"vectors":{"size":2,"distance":"Dot"},"sparse_vectors":{"text":{"modifier":"idf"}}}' >/dev/null
req PUT '/collections/us/points?wait=true' '{"points":[
 {"id":1,"vector":{"":[1,2],"text":{"indices":[4,1],"values":[0.5,2]}},"payload":{"k":1}},
 {"id":2,"vector":[3,-4]},
 {"id":3,"vector":{"text":{"indices":[9],"values":[1]}}}]}' >/dev/null
expect 0 'us -> us2: 3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection us --to "$url" --to-collection us2
grep -q '"vectors":{"size":2,"distance":"Dot"}' <<<"$(req GET /collections/us2 '')" || die "us2 config"
grep -q '"id":2,"payload":{},"vector":\[3,-4\]}' <<<"$(scroll us2)" || die "us2: point 2: $(scroll us2)"
grep -q '"id":1,"payload":{"k":1},"vector":{"":\[1,2\],"text":{"indices":\[1,4\],"values":\[2,0.5\]}}}' <<<"$(scroll us2)" ||
    die "us2: point 1: $(scroll us2)"
expect 0 'us -> us: 3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$url" --collection us --to "$dir/us.qvs"
expect 0 'us -> us3: 3 points, 3 sampled points equal' -- \
    "$quiver" migrate --from "$dir/us.qvs" --to "$url" --to-collection us3
grep -q '"vectors":{"":{"size":2,"distance":"Dot"}}' <<<"$(req GET /collections/us3 '')" || die "us3 config"
grep -q '"id":2,"payload":{},"vector":\[3,-4\]}' <<<"$(scroll us3)" || die "us3: point 2: $(scroll us3)"
expect 1 "vector named '', which .*/store6 cannot keep" -- \
    "$quiver" migrate --from "$url" --collection us --to "$dir/store6"

# ---- dense + sparse (idf) + multivector: REST -> dir -> snapshot -> REST ---------
# 600 points (numeric and UUID ids; some lack a vector, some sparse
# vectors are empty), a keyword index, HNSW and int8 quantization settings.
# Both legs that write durably are killed with SIGKILL after 3 batches
# and resumed; at the end every point of hy_back is compared with hy:
# payloads equal, every float32 bit for bit.
python3 - "$dir/hy" <<'PY'
import json, random, sys, uuid
r = random.Random(7)
pts = []
for i in range(600):
    pid = i * 3 if i % 5 else str(uuid.UUID(int=r.getrandbits(128)))
    v = {}
    if i % 7:
        v["dense"] = [r.uniform(-1, 1) for _ in range(4)]
    if i % 11:
        v["colbert"] = [[r.uniform(-2, 2) for _ in range(3)]
                        for _ in range(1 + i % 4)]
    if i % 13:
        idx = r.sample(range(5000), i % 6)
        v["text"] = {"indices": idx, "values": [r.uniform(0, 3) for _ in idx]}
    pts.append({"id": pid, "vector": v,
                "payload": {"i": i, "big": 2**64 - 1 - i, "f": i / 7,
                            "tag": "t%d" % (i % 3)}})
for k in range(0, 600, 200):
    json.dump({"points": pts[k:k + 200]}, open("%s.%d.json" % (sys.argv[1], k), "w"))
PY
req PUT /collections/hy '{"vectors":{"dense":{"size":4,"distance":"Cosine"},
 "colbert":{"size":3,"distance":"Dot","multivector_config":{"comparator":"max_sim"}}},
 "sparse_vectors":{"text":{"modifier":"idf","index":{"full_scan_threshold":300}}},
 "hnsw_config":{"m":12},
 "quantization_config":{"scalar":{"type":"int8","quantile":0.99,"always_ram":true}}}' >/dev/null
for k in 0 200 400; do
    req PUT '/collections/hy/points?wait=true' "$(cat "$dir/hy.$k.json")" >/dev/null
done
req PUT '/collections/hy/index?wait=true' '{"field_name":"tag","field_schema":"keyword"}' >/dev/null

# stop_and_kill LOG CMD...: runs CMD with the stop hook after 3 batches,
# waits until it stopped itself, kills it with SIGKILL.
stop_and_kill() {
    local log=$1
    shift
    QUIVER_MIGRATE_TEST_STOP_AFTER=3 "$@" >"$log" 2>&1 &
    local p=$!
    until [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ]; do
        kill -0 "$p" 2>/dev/null || die "migrate exited early: $(cat "$log")"
        sleep 0.02 # a polling interval
    done
    kill -9 "$p"
    wait "$p" 2>/dev/null || true
}
hy1=("$quiver" migrate --from "$url" --collection hy --to "$dir/hystore" --batch 50 --checkpoint "$dir/ckhy1")
stop_and_kill "$dir/runhy1" "${hy1[@]}"
grep -q '^at 150 ' "$dir/ckhy1" || die "hy checkpoint: $(cat "$dir/ckhy1")"
expect 0 'hy -> hy: 600 points, 100 sampled points equal' -- "${hy1[@]}"
grep -q 'resuming after 150 points' "$dir/out" || die "hy resume: $(cat "$dir/out")"
grep -q 'hy: 450 points copied in this run, 600 in all' "$dir/out" || die "hy resume: $(cat "$dir/out")"
expect 0 'hy -> hy: 600 points, 100 sampled points equal' -- \
    "$quiver" migrate --from "$dir/hystore" --collection hy --to "$dir/hy.qvs"
"$quiver" snapshot verify "$dir/hy.qvs" | grep -q "OK (collection snapshot archive, 4 member" ||
    die "hy.qvs: $("$quiver" snapshot verify "$dir/hy.qvs" 2>&1)"
hy2=("$quiver" migrate --from "$dir/hy.qvs" --to "$url" --to-collection hy_back --batch 50 --checkpoint "$dir/ckhy2")
stop_and_kill "$dir/runhy2" "${hy2[@]}"
grep -q '"count":150' <<<"$(req POST /collections/hy_back/points/count '{"exact":true}')" || die "hy_back count after kill"
expect 0 'hy -> hy_back: 600 points, 100 sampled points equal' -- "${hy2[@]}"
grep -q 'hy: 450 points copied in this run, 600 in all' "$dir/out" || die "hy_back resume: $(cat "$dir/out")"
info=$(req GET /collections/hy_back '')
for want in '"sparse_vectors":{"text":{"modifier":"idf","index":{"full_scan_threshold":300}}}' \
    '"colbert":{"size":3,"distance":"Dot","multivector_config":{"comparator":"max_sim"}}' \
    '"dense":{"size":4,"distance":"Cosine"}' '"hnsw_config":{"m":12,' \
    '"quantization_config":{"scalar":{"type":"int8","quantile":0.99,"always_ram":true}}' \
    '"tag":{"data_type":"keyword"'; do
    grep -qF -- "$want" <<<"$info" || die "hy_back lacks $want: $info"
done
req POST /collections/hy/points/scroll '{"limit":1000,"with_vector":true,"with_payload":true}' >"$dir/hy.a"
req POST /collections/hy_back/points/scroll '{"limit":1000,"with_vector":true,"with_payload":true}' >"$dir/hy.b"
python3 - "$dir/hy.a" "$dir/hy.b" <<'PY' || die "hy_back differs from hy"
import json, struct, sys
def f32(x):  # the float32 a printed component stands for, as bits
    return struct.pack("<f", x)
def bits(v):
    if isinstance(v, dict):  # sparse: pairs in index order
        p = sorted(zip(v["indices"], v["values"]))
        return [(i, f32(x)) for i, x in p]
    if v and isinstance(v[0], list):  # multivector
        return [[f32(x) for x in row] for row in v]
    return [f32(x) for x in v]
a, b = (json.load(open(f), parse_int=int)["result"]["points"] for f in sys.argv[1:])
assert len(a) == 600 and len(b) == 600, (len(a), len(b))
bb = {json.dumps(p["id"]): p for p in b}
kinds = set()
for p in a:
    q = bb[json.dumps(p["id"])]
    assert p["payload"] == q["payload"], p["id"]
    assert sorted(p["vector"]) == sorted(q["vector"]), p["id"]
    for name, v in p["vector"].items():
        assert bits(v) == bits(q["vector"][name]), (p["id"], name)
        kinds.add(name)
assert kinds == {"dense", "colbert", "text"}, kinds
PY

# An archive the server wrote reads the same way; a damaged one is refused.
req POST /collections/hy/snapshots '' >/dev/null
srvsnap=$(find "$dir/s/snapshots/hy" -name "*.snapshot" | head -1)
[ -f "$srvsnap" ] || die "no server snapshot of hy"
cp "$srvsnap" "$dir/hysrv.snapshot"
hy3=("$quiver" migrate --from "$dir/hysrv.snapshot" --to "$url" --to-collection hy_srv --checkpoint "$dir/ckhy3")
expect 0 'hysrv -> hy_srv: 600 points, 100 sampled points equal' -- "${hy3[@]}"
# The verification compares multivectors and sparse vectors: point 3 (the
# first numeric id, in every run's sample) changed at the destination.
req PUT '/collections/hy_back/points/vectors?wait=true' \
    '{"points":[{"id":3,"vector":{"colbert":[[1,2,3]]}}]}' >/dev/null
expect 3 'point 3: the multivectors differ' -- "${hy2[@]}"
req PUT '/collections/hy_srv/points/vectors?wait=true' \
    '{"points":[{"id":3,"vector":{"text":{"indices":[1],"values":[0.5]}}}]}' >/dev/null
expect 3 'point 3: the sparse vectors differ' -- "${hy3[@]}"
cp "$dir/hy.qvs" "$dir/bad.qvs"
size=$(stat -c %s "$dir/bad.qvs")
printf '\x55' | dd of="$dir/bad.qvs" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
expect 1 'bad.qvs: .*checksum mismatch' -- \
    "$quiver" migrate --from "$dir/bad.qvs" --to "$url" --to-collection hy_bad

# ---- an empty collection ------------------------------------------------------------
req PUT /collections/empty '{"vectors":{"size":3,"distance":"Manhattan"}}' >/dev/null
expect 0 'empty -> empty: 0 points, 0 sampled' -- \
    "$quiver" migrate --from "$url" --collection empty --to "$dir/store"
expect 0 'empty -> e2: 0 points' -- \
    "$quiver" migrate --from "$dir/store" --collection empty --to "$url" --to-collection e2
grep -q '"distance":"Manhattan"' <<<"$(req GET /collections/e2 '')" || die "e2 config"

# ---- kill -9 in the middle, then resume -------------------------------------------
python3 - "$dir/pts.json" <<'PY'
import json, random, sys
r = random.Random(1)
pts = [{"id": i, "vector": [r.uniform(-1, 1) for _ in range(8)],
        "payload": {"i": i, "big": 2**64 - 1 - i, "f": i / 7}} for i in range(1000)]
json.dump(pts, open(sys.argv[1], "w"))
PY
"$quiver" snapshot import "$dir/pts.json" "$dir/big.qvs" --metric euclid >/dev/null
mig=("$quiver" migrate --from "$dir/big.qvs" --to "$url" --batch 50 --checkpoint "$dir/ck")
QUIVER_MIGRATE_TEST_STOP_AFTER=4 "${mig[@]}" >"$dir/run1" 2>&1 &
mpid=$!
# Wait until it has stopped itself (state T) after reporting progress.
until [ "$(awk '{print $3}' "/proc/$mpid/stat" 2>/dev/null)" = T ]; do
    kill -0 "$mpid" 2>/dev/null || die "migrate exited early: $(cat "$dir/run1")"
    sleep 0.02 # a polling interval
done
grep -q 'big: 200/1000 points' "$dir/run1" || die "no progress line: $(cat "$dir/run1")"
kill -9 "$mpid"
wait "$mpid" 2>/dev/null || true
grep -q '^at 200 200 big$' "$dir/ck" || die "checkpoint: $(cat "$dir/ck")"
grep -q '"count":200' <<<"$(req POST /collections/big/points/count '{"exact":true}')" || die "count after kill"
expect 0 'resuming after 200 points' -- "${mig[@]}"
grep -q 'big: 800 points copied in this run, 1000 in all' "$dir/out" || die "resume: $(cat "$dir/out")"
grep -q 'big -> big: 1000 points, 100 sampled points equal' "$dir/out" || die "resume verify"
grep -q '^done 1000 - big$' "$dir/ck" || die "checkpoint at the end: $(cat "$dir/ck")"
expect 0 'done in an earlier run' -- "${mig[@]}"

# A kill -9 wherever it lands (no stop hook): after the first progress
# line, which comes after the first acknowledged batch.  The resume picks
# up at the checkpoint; what it resumed after plus what it copied is the
# whole collection (or the first run had already finished).
mig2=("$quiver" migrate --from "$dir/big.qvs" --to "$url" --to-collection big_r
    --batch 10 --checkpoint "$dir/ck2")
: >"$dir/run2" # exists before the child opens it, for the grep below
"${mig2[@]}" >>"$dir/run2" 2>&1 &
mpid=$!
until grep -q 'big: [0-9]*/1000 points' "$dir/run2"; do
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.01 # a polling interval
done
kill -9 "$mpid" 2>/dev/null || true
wait "$mpid" 2>/dev/null || true
expect 0 'big -> big_r: 1000 points, 100 sampled points equal' -- "${mig2[@]}"
if grep -q 'done in an earlier run' "$dir/out"; then
    echo "cli_migrate: the unhooked run finished before its kill" >&2
else
    resumed=$(sed -n 's/.*resuming after \([0-9]*\) points.*/\1/p' "$dir/out")
    copied=$(sed -n 's/.*: \([0-9]*\) points copied in this run.*/\1/p' "$dir/out")
    [ "$((${resumed:-0} + copied))" = 1000 ] || die "resumed ${resumed:-0} + copied $copied"
fi

expect 0 'big -> big: 1000 points \(count only\)' -- \
    "$quiver" migrate --from "$dir/big.qvs" --to "$dir/store4" --verify-sample 0

# ---- the verification catches differences --------------------------------------
req POST '/collections/big/points/payload?wait=true' '{"payload":{"f":0},"points":[0]}' >/dev/null
expect 3 'point 0: the payloads differ' -- "${mig[@]}"
req POST '/collections/big/points/payload?wait=true' '{"payload":{"f":0.0},"points":[0]}' >/dev/null
expect 0 '1000 points, 100 sampled' -- "${mig[@]}"
req POST '/collections/big/points/delete?wait=true' '{"points":[999]}' >/dev/null
expect 3 'holds 999 points, the source' -- "${mig[@]}"

# ---- bad inputs -------------------------------------------------------------------
expect 1 "has no collection 'nope'" -- \
    "$quiver" migrate --from "$url" --collection nope --to "$dir/store"
expect 1 "no collection 'nope'" -- \
    "$quiver" migrate --from "$dir/store" --collection nope --to "$url"
expect 1 'cannot reach http://127.0.0.1:1' -- \
    "$quiver" migrate --from http://127.0.0.1:1 --to "$dir/store"
req PUT /collections/clash '{"vectors":{"size":8,"distance":"Cosine"}}' >/dev/null
expect 1 "collection 'clash' exists with vector \(unnamed\) of size 8 \(Cosine\); the source's has size 4" -- \
    "$quiver" migrate --from "$dir/store" --collection docs --to "$url" --to-collection clash
expect 1 'no such store directory' -- "$quiver" migrate --from "$dir/none" --to "$url"
expect 2 'required' -- "$quiver" migrate --from "$url"
expect 2 'batch must be' -- "$quiver" migrate --from "$url" --to "$dir/x" --batch 0
expect 0 'usage: quiver migrate --from SRC --to DST' -- "$quiver" migrate --help

# An API key: wrong is refused, right works.
serve "$dir/s2" "$dir/log2" --api-key sekrit --host 127.0.0.1
pid2=$served_pid
url2=$served_url
expect 1 'HTTP 401' -- "$quiver" migrate --from "$dir/store" --collection docs --to "$url2" --to-api-key wrong
expect 1 'HTTP 401' -- "$quiver" migrate --from "$dir/store" --collection docs --to "$url2"
# Every collection of the store (no --collection): docs and empty.
expect 0 'docs -> docs: 3 points, 3 sampled' -- \
    "$quiver" migrate --from "$dir/store" --to "$url2" --api-key sekrit
grep -q 'empty -> empty: 0 points' "$dir/out" || die "all collections: $(cat "$dir/out")"
expect 0 'docs -> d2: 3 points, 3 sampled' -- \
    "$quiver" migrate --from "$url2" --collection docs --from-api-key sekrit --to "$url" --to-collection d2
echo "cli migrate: ok"
