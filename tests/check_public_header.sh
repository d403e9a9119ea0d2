#!/bin/sh
# The server (server/) and the command-line program (cli/) are clients of
# the library like any application: they may use include/quiver.h only,
# no internal header (core/, persist/, simd/) and no qvi_ symbol.  What
# they need from the library is a public qv_ call with a contract.
set -eu
cd "$1"
bad=$(grep -rn 'qvi_\|#include "\(core\|persist\|simd\)/' server cli || true)
if [ -n "$bad" ]; then
    echo "server/ or cli/ reaches past include/quiver.h:"
    echo "$bad"
    exit 1
fi
echo "server/ and cli/ use only the public header"
