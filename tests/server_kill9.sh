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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
# Safety net only: how long the server may take to recover and answer
# (a sanitizer build on a loaded machine is slow; a fast one is ready in
# milliseconds, and nothing waits longer than the server needs).
limit=${QUIVER_TEST_TIMEOUT:-120}
# Starts the server and waits until it answers /readyz; fails at once if
# it exits, and only after $limit s if it neither answers nor exits.
start() {
    "$quiver" serve --port "$port" --storage "$dir/s" >>"$dir/log" 2>&1 &
    pid=$!
    local deadline=$((SECONDS + limit))
    until curl -fs --max-time 5 "$url/readyz" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "the server exited before it was ready:" >&2
            cat "$dir/log" >&2
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "the server was not ready after $limit s:" >&2
            cat "$dir/log" >&2
            return 1
        fi
        sleep 0.05 # a polling interval, not a guess at the start-up time
    done
}
req() { # method path body -> prints the response, fails unless status ok
    local out
    out=$(curl -fsS --max-time "$limit" -X "$1" "$url$2" \
        -H 'Content-Type: application/json' -d "$3")
    grep -q '"status":"ok"' <<<"$out" || { echo "$1 $2: $out" >&2; return 1; }
    echo "$out"
}
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
