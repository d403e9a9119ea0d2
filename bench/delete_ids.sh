#!/usr/bin/env bash
# How long the server takes to delete 2,000 points listed by id, against
# the same points deleted by a filter (wait=true: until the change is
# durable).  Not a test: it prints timings.
#
#   bash bench/delete_ids.sh QUIVER_BINARY [REPEATS]
#
# Each repeat upserts 4,000 points (4 dims, payload {"i": n}) into a fresh
# collection, deletes ids 1..2000 by id list, then ids 2001..4000 by a
# range filter, and prints curl's total time for both requests; the last
# line gives the medians.  Loopback only; storage in a temporary
# directory.
set -euo pipefail
quiver=$1
repeats=${2:-5}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$quiver" serve --port "$port" --storage "$dir/s" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    curl -fs "$url/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" || { cat "$dir/log" >&2; exit 1; }
    sleep 0.05
done
post() { # method path body-file -> curl's total time in seconds
    curl -fsS -o "$dir/out" -w '%{time_total}' -X "$1" "$url$2" \
        -H 'Content-Type: application/json' --data-binary @"$3"
}
pts=""
for i in $(seq 1 4000); do
    pts+="{\"id\":$i,\"vector\":[1,$((i % 7)),0.5,$((i % 3))],\"payload\":{\"i\":$i}},"
done
printf '{"points":[%s]}' "${pts%,}" >"$dir/points"
printf '{"points":[%s]}' "$(seq -s, 1 2000)" >"$dir/by_ids"
printf '{"filter":{"must":[{"key":"i","range":{"gt":2000}}]}}' >"$dir/by_filter"
printf '{"vectors":{"size":4,"distance":"Cosine"}}' >"$dir/create"
ids_t=()
flt_t=()
for r in $(seq 1 "$repeats"); do
    post PUT "/collections/c$r" "$dir/create" >/dev/null
    post PUT "/collections/c$r/points?wait=true" "$dir/points" >/dev/null
    a=$(post POST "/collections/c$r/points/delete?wait=true" "$dir/by_ids")
    b=$(post POST "/collections/c$r/points/delete?wait=true" "$dir/by_filter")
    printf 'repeat %d: 2,000 ids %.4f s, filter %.4f s\n' "$r" "$a" "$b"
    ids_t+=("$a")
    flt_t+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf 'median: delete 2,000 points by id %.4f s, by filter %.4f s\n' \
    "$(median "${ids_t[@]}")" "$(median "${flt_t[@]}")"
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
