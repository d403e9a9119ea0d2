# shellcheck shell=bash
# server_lib.sh -- sourced by the kill -9 tests (server_kill9.sh,
# server_kill_atomic.sh): a free port, and start/req to run the server on
# "$dir/s" and talk to it.  The sourcing script sets quiver (the binary)
# and dir (its scratch directory, which also holds the server's log) and
# owns pid (the running server) and the EXIT trap that kills it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
# Safety net only: how long the server may take to recover and answer
# (a sanitizer build on a loaded machine is slow; a fast one is ready in
# milliseconds, and nothing waits longer than the server needs).
limit=${QUIVER_TEST_TIMEOUT:-120}
# Starts the server and waits until it answers /readyz; fails at once if
# it exits, and only after $limit s if it neither answers nor exits.
start() {
    "$quiver" serve --port "$port" --grpc-port 0 --storage "$dir/s" >>"$dir/log" 2>&1 &
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
        -H 'Content-Type: application/json' --data-binary "$3")
    grep -q '"status":"ok"' <<<"$out" || { echo "$1 $2: $out" >&2; return 1; }
    echo "$out"
}
