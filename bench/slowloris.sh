#!/usr/bin/env bash
# Slowloris against `quiver serve`: how many of 20 probes (GET /healthz,
# 1 s timeout each, one every 0.5 s) are answered while N slow sockets are
# kept open.  Not part of the test run (tests/test_http_hostile.c checks
# the behaviour; this measures it).
#
#   bash bench/slowloris.sh [--n 2000] [--mode head|body] [--spread 8]
#                           [--warmup 10] [--reopen-delay 1] [--build DIR]
#                           [--server-args "..."]
#
#   head: each socket sends a request line and a Host header, then one more
#         header every 5-8 s, never the blank line;
#   body: each socket sends a full head announcing a 1,000,000-byte body,
#         then one byte of it every 8 s.
# A socket the server closes is reopened after --reopen-delay seconds, as a
# real attacker does, so N stay in flight (a delay of 0 turns it into a
# connection storm once N exceeds the server's limits: each reopen evicts
# another slow socket).  --spread K spreads them over source addresses
# 127.0.0.2 .. 127.0.0.(K+1) (0: all from 127.0.0.1, the probes' own
# address).  --warmup is how long the sockets drip before the probes
# start.  --server-args passes flags to the server (e.g. to compare limits).
#
# Loopback only; everything the script starts it stops.  Takes
# /tmp/quiver-bench.lock so that it never runs next to another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
n=2000 mode=head spread=8 warmup=10 build=build server_args= reopen=1
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2 ;; --mode) mode=$2 ;; --spread) spread=$2 ;;
    --warmup) warmup=$2 ;; --build) build=$2 ;; --server-args) server_args=$2 ;;
    --reopen-delay) reopen=$2 ;;
    *) echo "slowloris: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
case "$mode" in head | body) ;; *) echo "slowloris: --mode head|body" >&2; exit 2 ;; esac
[ -n "${QUIVER_BENCH_LOCKED:-}" ] ||
    QUIVER_BENCH_LOCKED=1 exec flock /tmp/quiver-bench.lock "$0" \
        --n "$n" --mode "$mode" --spread "$spread" --warmup "$warmup" \
        --build "$build" --server-args "$server_args" --reopen-delay "$reopen"

py=/usr/bin/python3
[ -x "$py" ] || py=python3
bin="$build/quiver-server"
[ -x "$bin" ] || { echo "slowloris: $bin missing (build first)" >&2; exit 1; }
# Both ends live on this machine: the slow sockets and the server's side.
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/quiver-slowloris.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
"$bin" --host 127.0.0.1 --port "$port" --storage "$work/storage" $server_args \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

"$py" - "$port" "$n" "$mode" "$spread" "$warmup" "$reopen" <<'PY'
import random, selectors, socket, sys, threading, time

port, n, mode, spread = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                         int(sys.argv[4]))
warmup, reopen = float(sys.argv[5]), float(sys.argv[6])
pending = []  # (when, index) of sockets to reopen
rng = random.Random(1)
sel = selectors.DefaultSelector()
stop = False
stats = {"opened": 0, "closed_by_server": 0, "open": 0}

def head():
    if mode == "head":
        return b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    return (b"POST /collections/x/points/scroll HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000000\r\n\r\n")

def piece():
    return b"X-a: b\r\n" if mode == "head" else b" "

def pause():
    return rng.uniform(5, 8) if mode == "head" else 8.0

def open_one(i):
    src = "127.0.0.%d" % (2 + i % spread) if spread else "127.0.0.1"
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(head())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [i, time.time() + pause()])
    stats["opened"] += 1
    stats["open"] += 1

def attacker():
    for i in range(n):
        open_one(i)
    while not stop:
        for key, _ in sel.select(timeout=0.1):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # the server let it go: reopen
                i = key.data[0]
                sel.unregister(key.fileobj)
                key.fileobj.close()
                stats["closed_by_server"] += 1
                stats["open"] -= 1
                pending.append((time.time() + reopen, i))
        now = time.time()
        while pending and pending[0][0] <= now and not stop:
            try:
                open_one(pending.pop(0)[1])
            except OSError:
                pass
        for key in list(sel.get_map().values()):
            if key.data[1] <= now:
                try:
                    key.fileobj.send(piece())
                except OSError:
                    pass
                key.data[1] = now + pause()

t = threading.Thread(target=attacker, daemon=True)
t.start()
while stats["opened"] < n:
    time.sleep(0.05)
time.sleep(warmup)

answered, lat = 0, []
for _ in range(20):
    t0 = time.time()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        c.settimeout(max(0.01, 1.0 - (time.time() - t0)))
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = c.recv(4096)
        c.close()
        if reply.startswith(b"HTTP/1.1 200"):
            answered += 1
            lat.append(time.time() - t0)
    except OSError:
        pass
    time.sleep(0.5)
stop = True
lat.sort()
fmt = lambda v: "%.1f ms" % (v * 1000) if v is not None else "-"
print("slowloris: mode=%s n=%d spread=%d warmup=%.0fs: %d/20 probes answered "
      "within 1 s (median %s, max %s); the server closed %d slow sockets, "
      "each reopened" % (mode, n, spread, warmup, answered,
                         fmt(lat[len(lat) // 2] if lat else None),
                         fmt(lat[-1] if lat else None),
                         stats["closed_by_server"]))
PY
