#!/bin/sh
# Every dynamic symbol the shared library defines must be a public qv_ one:
# anything else would leak internals into applications' namespaces.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^qv_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^qv_' || true)
if [ -n "$bad" ]; then
    echo "non-qv_ symbols exported from $lib:"
    echo "$bad"
    exit 1
fi
if [ "$count" -lt 30 ]; then
    echo "only $count qv_ symbols exported from $lib; expected the whole API"
    exit 1
fi
echo "$count qv_ symbols exported, nothing else"
