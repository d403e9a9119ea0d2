#!/usr/bin/env bash
# Runs Qdrant's own REST test suite (tests/openapi of github.com/qdrant/qdrant)
# against a fresh `quiver serve` and reports passed / failed / errors, in
# all and per file.  Not part of the default test run.
#
#   bash bench/qdrant_suite.sh SUITE_DIR [--build DIR] [--port P]
#                              [--keep] [-- PYTEST_ARGS...]
#
# SUITE_DIR holds the suite's files as Qdrant's repository has them
# (conftest.py, helpers/collection_setup.py, test_*.py; a checkout's
# tests/openapi will do).  This script fetches nothing: put the version you
# want to measure there yourself (Qdrant's tag v1.19.x for the figures in
# README.md).  The suite's code is not Quiver's and is not in this
# repository.
#
# What it changes in a temporary copy of SUITE_DIR, nothing else:
#   - helpers/helpers.py and helpers/settings.py are replaced by
#     bench/qdrant_suite/ (ours): Qdrant's use schemathesis, which Debian
#     does not package; ours check requests and responses against Qdrant's
#     OpenAPI schema with jsonschema (tests/schema/validate_responses.py);
#   - retry.py (ours) is put on PYTHONPATH when the `retry` package is
#     missing; an __init__.py makes the copy a package, as the tests'
#     relative imports need.
# Files that import packages Debian lacks (pytest_cases, jsons, schemathesis
# itself) fail to collect and count as errors.
#
# Needs /usr/bin/python3 with pytest, requests and jsonschema
# (`scripts/install-deps bench` installs them).
# Writes OUT/junit.xml and OUT/summary.txt (OUT: bench/out/qdrant_suite).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { sed -n 2,30p "$0" >&2; exit 2; }
suite=$(cd "$1" && pwd); shift
build=$root/build port=0 keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --port) port=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        *) echo "qdrant_suite.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
py=/usr/bin/python3
[ -f "$suite/conftest.py" ] && [ -f "$suite/helpers/collection_setup.py" ] || {
    echo "qdrant_suite.sh: $suite has no conftest.py and helpers/collection_setup.py" >&2
    exit 2; }
"$py" -c 'import pytest, requests, jsonschema' || {
    echo "qdrant_suite.sh: needs python3-pytest, python3-requests, python3-jsonschema (scripts/install-deps bench)" >&2
    exit 2; }
[ -x "$build/quiver" ] || { echo "qdrant_suite.sh: no $build/quiver (--build DIR)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/qdrant-suite.XXXXXX")
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    [ "$keep" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/openapi" "$work/storage" "$work/shim"
cp -R "$suite/." "$work/openapi/"
find "$work/openapi" -name __pycache__ -prune -exec rm -rf {} +
touch "$work/openapi/__init__.py" "$work/openapi/helpers/__init__.py"
cp "$here/qdrant_suite/helpers.py" "$here/qdrant_suite/settings.py" "$work/openapi/helpers/"
"$py" -c 'import retry' 2>/dev/null || cp "$here/qdrant_suite/retry.py" "$work/shim/"

# A fresh server on a free port (or --port), its address read from its log.
if [ "$port" = 0 ]; then
    port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
"$build/quiver" serve --host 127.0.0.1 --port "$port" --grpc-port 0 \
    --storage "$work/storage" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

out=$root/bench/out/qdrant_suite
mkdir -p "$out"
rc=0
(cd "$work" && PYTHONPATH="$work/shim" QDRANT_HOST="http://127.0.0.1:$port" \
    QUIVER_SCHEMA_DIR="$root/tests/schema" HTTP_SERVER_HOST=127.0.0.1 \
    "$py" -m pytest -q -p no:cacheprovider -rfE --junitxml="$out/junit.xml" \
    openapi "$@") >"$out/pytest.txt" 2>&1 || rc=$?
tail -n 1 "$out/pytest.txt"

# Per file: tests, passed, failed, errors, skipped (from the JUnit file).
"$py" - "$out/junit.xml" <<'PY' | tee "$out/summary.txt"
import collections, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
per = collections.OrderedDict()
for tc in root.iter("testcase"):
    f = tc.get("classname", "").split(".")
    name = next((x for x in f if x.startswith("test_")), ".".join(f) or "?")
    row = per.setdefault(name, [0, 0, 0, 0, 0])
    row[0] += 1
    kinds = [c.tag for c in tc]
    if "error" in kinds:
        row[3] += 1
    elif "failure" in kinds:
        row[2] += 1
    elif "skipped" in kinds:
        row[4] += 1
    else:
        row[1] += 1
tot = [sum(r[i] for r in per.values()) for i in range(5)]
print(f"{'file':44} {'tests':>5} {'pass':>5} {'fail':>5} {'error':>5} {'skip':>5}")
for name, r in sorted(per.items()):
    print(f"{name:44} {r[0]:5} {r[1]:5} {r[2]:5} {r[3]:5} {r[4]:5}")
rate = 100.0 * tot[1] / tot[0] if tot[0] else 0.0
print(f"{'total':44} {tot[0]:5} {tot[1]:5} {tot[2]:5} {tot[3]:5} {tot[4]:5}  ({rate:.1f}% passed)")
PY
exit 0
