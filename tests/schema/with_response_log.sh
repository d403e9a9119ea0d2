#!/usr/bin/env bash
# Runs a test program with QUIVER_RESPONSE_LOG naming a fresh JSONL file,
# then validates every response the program logged against Qdrant's
# OpenAPI schema (validate_responses.py).  Fails if either fails.
#
# Usage: tests/schema/with_response_log.sh PROGRAM [ARGS...]
# e.g. in CMake: add_test(NAME server_http COMMAND bash
#   ${CMAKE_CURRENT_SOURCE_DIR}/tests/schema/with_response_log.sh
#   $<TARGET_FILE:test_server_http>)
# Environment: QUIVER_PYTHON3 (default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${QUIVER_PYTHON3:-/usr/bin/python3}
[ -x "$python" ] || python=python3
[ $# -ge 1 ] || { echo "usage: with_response_log.sh PROGRAM [ARGS...]" >&2; exit 2; }

log=$(mktemp "${TMPDIR:-/tmp}/quiver-responses.XXXXXX")
trap 'rm -f "$log"' EXIT
rc=0
QUIVER_RESPONSE_LOG=$log "$@" || rc=$?
vrc=0
"$python" "$here/validate_responses.py" "$log" || vrc=$?
[ "$rc" -eq 0 ] || { echo "with_response_log.sh: $1 exited with $rc" >&2; exit "$rc"; }
exit "$vrc"
