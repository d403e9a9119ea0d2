#!/usr/bin/env bash
# One request = one change across kill -9: the server is SIGKILLed while
# it applies multi-point requests -- a 2,000-id delete, set_payload on
# 2,000 points (also with a null member that needs the per-point path),
# and a /points/batch (upsert + set_payload + delete) on a
# collection with two named vectors (three library collections) -- and
# after each restart every request is there whole or not at all.  The
# kill comes as soon as the request is seen writing its log (the storage's
# log files grow), not after a fixed sleep; a request that finished first
# is checked the same way (it must then be there whole).
set -euo pipefail
quiver=$1
rounds=${2:-8}
dir=$(mktemp -d)
pid=
cpid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$cpid" ] && kill "$cpid" 2>/dev/null; rm -rf "$dir"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/server_lib.sh" # port, url, limit, start, req
count() { # collection [filter] -> exact count
    local body='{"exact":true}'
    [ -n "${2:-}" ] && body="{\"exact\":true,\"filter\":$2}"
    req POST "/collections/$1/points/count" "$body" | sed 's/.*"count":\([0-9]*\).*/\1/'
}
log_bytes() { # total size of every log segment in the storage
    find "$dir/s" -name 'wal-*.log' -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}
ids() { # first last -> "a,b,c,..."
    seq -s, "$1" "$2"
}
# Sends body to path in the background, waits until the request is seen
# writing (the logs grow) or has finished, then kills the server.
kill_during() {
    local before
    before=$(log_bytes)
    printf '%s' "$2" >"$dir/body"
    curl -s --max-time "$limit" -X POST "$url$1" -H 'Content-Type: application/json' \
        --data-binary @"$dir/body" >"$dir/reply" 2>/dev/null &
    cpid=$!
    local deadline=$((SECONDS + limit))
    while [ "$(log_bytes)" -le "$before" ] && kill -0 "$cpid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "the request never wrote its log" >&2; return 1; }
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    cpid=
    if grep -q '"status":"ok"' "$dir/reply"; then finished=$((finished + 1)); else cut=$((cut + 1)); fi
}
# $1 is one of the two allowed values $2 / $3, else fail with $4.
either() {
    [ "$1" -eq "$2" ] || [ "$1" -eq "$3" ] || { echo "$4: $1, expected $2 or $3" >&2; exit 1; }
}

n_u=$((2000 * rounds + 2000))
start
req PUT /collections/u '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
req PUT /collections/n '{"vectors":{"a":{"size":4,"distance":"Dot"},"b":{"size":2,"distance":"Euclid"}}}' >/dev/null
for ((from = 1; from <= n_u; from += 1000)); do
    pts=""
    for ((i = from; i < from + 1000; i++)); do
        pts+="{\"id\":$i,\"vector\":[1,$((i % 7)),0.5,$((i % 3))],\"payload\":{\"r\":0}},"
    done
    req PUT '/collections/u/points?wait=true' "{\"points\":[${pts%,}]}" >/dev/null
done
pts=""
for ((i = 1; i <= 1500; i++)); do
    pts+="{\"id\":$i,\"vector\":{\"a\":[1,$((i % 5)),0,1],\"b\":[$((i % 3)),1]},\"payload\":{\"r\":0}},"
done
req PUT '/collections/n/points?wait=true' "{\"points\":[${pts%,}]}" >/dev/null

finished=0
cut=0
total_u=$n_u
total_n=1500
for round in $(seq 1 "$rounds"); do
    # 1. a 2,000-id delete in the unnamed collection
    first=$(((round - 1) * 2000 + 1))
    kill_during '/collections/u/points/delete?wait=true' \
        "{\"points\":[$(ids "$first" $((first + 1999)))]}"
    start
    c=$(count u)
    either "$c" "$total_u" $((total_u - 2000)) "round $round: points after the 2,000-id delete"
    total_u=$c

    # 2. set_payload on 2,000 points of the unnamed collection
    last=$(((rounds + 1) * 2000))
    kill_during '/collections/u/points/payload?wait=true' \
        "{\"payload\":{\"r\":$round},\"points\":[$(ids $((last - 1999)) "$last")]}"
    start
    c=$(count u "{\"must\":[{\"key\":\"r\",\"match\":{\"value\":$round}}]}")
    either "$c" 0 2000 "round $round: points with the new payload"

    # 2b. the same with a null member whose name is no key path (empty):
    #     the server merges and overwrites point by point, inside a group
    kill_during '/collections/u/points/payload?wait=true' \
        "{\"payload\":{\"r2\":$round,\"\":null},\"points\":[$(ids $((last - 1999)) "$last")]}"
    start
    c=$(count u "{\"must\":[{\"key\":\"r2\",\"match\":{\"value\":$round}}]}")
    either "$c" 0 2000 "round $round: points with the new payload (null member)"

    # 3. a batch on the named collection: upsert 10 new points, set a
    #    payload on points 1..1000, delete 20 points
    newp=""
    for i in $(seq $((100000 + round * 10)) $((100009 + round * 10))); do
        newp+="{\"id\":$i,\"vector\":{\"a\":[1,1,1,1],\"b\":[2,2]},\"payload\":{\"r\":$round}},"
    done
    d0=$((1001 + (round - 1) * 20))
    kill_during '/collections/n/points/batch?wait=true' "{\"operations\":[
        {\"upsert\":{\"points\":[${newp%,}]}},
        {\"set_payload\":{\"payload\":{\"r\":$round},\"points\":[$(ids 1 1000)]}},
        {\"delete\":{\"points\":[$(ids "$d0" $((d0 + 19)))]}}]}"
    start
    c=$(count n)
    either "$c" "$total_n" $((total_n - 10)) "round $round: points after the batch"
    r=$(count n "{\"must\":[{\"key\":\"r\",\"match\":{\"value\":$round}}]}")
    if [ "$c" -eq "$total_n" ]; then want=0; else want=1010; fi
    [ "$r" -eq "$want" ] || { echo "round $round: $c points but $r with the new payload (want $want): half a batch" >&2; exit 1; }
    for v in a b; do
        hv=$(count n "{\"must\":[{\"has_vector\":\"$v\"}]}")
        [ "$hv" -eq "$c" ] || { echo "round $round: $hv points have vector $v, $c points" >&2; exit 1; }
        hr=$(count n "{\"must\":[{\"has_vector\":\"$v\"},{\"key\":\"r\",\"match\":{\"value\":$round}}]}")
        [ "$hr" -eq "$want" ] || { echo "round $round: vector $v's copy of the payload: $hr, want $want" >&2; exit 1; }
    done
    total_n=$c
done
kill -TERM "$pid"
wait "$pid"
pid=
echo "server kill -9 during multi-point requests: $((rounds * 4)) kills ($cut before the reply, $finished after), every request whole or absent"
