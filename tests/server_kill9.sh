#!/usr/bin/env bash
# Durability of the server under kill -9: writes acknowledged with
# wait=true (points, payload edits, deletes, a payload index) are all there
# after the process is killed without warning and restarted on the same
# storage, 20 times in a row with writes in between.
set -euo pipefail
quiver=$1
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/server_lib.sh" # port, url, limit, start, req
start
req PUT /collections/c '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null
req PUT '/collections/c/index?wait=true' '{"field_name":"round","field_schema":"integer"}' >/dev/null
for round in $(seq 1 20); do
    pts=""
    for i in $(seq 1 25); do
        id=$((round * 100 + i))
        pts+="{\"id\":$id,\"vector\":[$i,$round,1,0.5],\"payload\":{\"round\":$round,\"i\":$i}},"
    done
    req PUT '/collections/c/points?wait=true' "{\"points\":[${pts%,}]}" >/dev/null
    req POST '/collections/c/points/delete?wait=true' "{\"points\":[$((round * 100 + 1))]}" >/dev/null
    req POST '/collections/c/points/payload?wait=true' \
        "{\"payload\":{\"edited\":true},\"points\":[$((round * 100 + 2))]}" >/dev/null
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    start
    count=$(req POST /collections/c/points/count '{"exact":true}' | sed 's/.*"count":\([0-9]*\).*/\1/')
    [ "$count" -eq $((round * 24)) ] || { echo "round $round: $count points, expected $((round * 24))" >&2; exit 1; }
    n=$(req POST /collections/c/points/count \
        "{\"filter\":{\"must\":[{\"key\":\"round\",\"range\":{\"gte\":$round}}]}}" |
        sed 's/.*"count":\([0-9]*\).*/\1/')
    [ "$n" -eq 24 ] || { echo "round $round: index finds $n points of the round" >&2; exit 1; }
    req GET "/collections/c/points/$((round * 100 + 2))" '' | grep -q '"edited":true'
    req GET "/collections/c/points/$((round * 100 + 3))" '' |
        grep -q "\"vector\":\[" || exit 1
done
kill -TERM "$pid"
wait "$pid"
pid=
echo "server kill -9: 20 restarts, every acknowledged write present"
