#!/usr/bin/env bash
# The `quiver snapshot` commands end to end: a LangChain store.json becomes
# a snapshot (import), passes verify, shows its sections (info), and comes
# back as JSON (export) with the same ids, texts and metadata; a damaged
# snapshot fails verify with exit status 1.
set -euo pipefail
quiver=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/store.json" <<'JSON'
{"a1":{"id":"a1","vector":[1,0,0.5],"text":"hello","metadata":{"src":"x"}},
 "b2":{"id":"b2","vector":[0,1,0.1],"text":"world","metadata":{"n":[1,2]}}}
JSON
"$quiver" snapshot import "$dir/store.json" "$dir/s.qvs" --metric dot | grep -q "2 points"
"$quiver" snapshot verify "$dir/s.qvs" | grep -q "OK (2 points"
"$quiver" snapshot info "$dir/s.qvs" | grep -qi "vectors"
"$quiver" snapshot export "$dir/s.qvs" "$dir/out.json" --format langchain >/dev/null
grep -q '"a1":{"id":"a1","vector":\[1,0,0.5\],"text":"hello","metadata":{"src":"x"}}' "$dir/out.json"
grep -q '"b2":{"id":"b2","vector":\[0,1,0.100000001\],"text":"world","metadata":{"n":\[1,2\]}}' "$dir/out.json"
# Damage the first byte of the vectors section (its offset from info):
# verify must fail.
off=$("$quiver" snapshot info "$dir/s.qvs" | awk '$1 == "vectors" {print $2}')
[ -n "$off" ]
printf '\x7f' | dd of="$dir/s.qvs" bs=1 seek="$off" conv=notrunc status=none
if "$quiver" snapshot verify "$dir/s.qvs" 2>/dev/null; then
    echo "verify accepted a damaged file" >&2
    exit 1
fi
"$quiver" snapshot import "$dir/missing.json" "$dir/x.qvs" 2>/dev/null && exit 1
echo "cli snapshot: ok"
