#!/usr/bin/env bash
# Builds and runs the crate's example against an *installed* Quiver, found
# the way an application finds it: build.rs without QUIVER_LIB_DIR asks
# pkg-config.  Usage: pkg_config_check.sh BUILD_DIR CARGO RUSTC TARGET_DIR
set -euo pipefail
build=$1 cargo=$2 rustc=$3 target=$4
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(dirname "$(find "$prefix" -name quiver.pc | head -n 1)")
unset QUIVER_LIB_DIR
# A fresh target directory every run: with a reused one cargo sometimes
# kept an example linked against an earlier run's (deleted) prefix, and
# the ldd check below failed (twice in loaded full runs).  The crate has
# no dependencies, so building it anew takes seconds.
target=$prefix/target
out=$(PKG_CONFIG_PATH=$pc RUSTC=$rustc CARGO_TARGET_DIR=$target \
      "$cargo" run --offline --locked --quiet \
      --manifest-path "$(dirname "$0")/Cargo.toml" --example rag)
echo "$out"
# The example ran against the installed library (its run path), not the
# build tree's: ldd of the example names the prefix.
# (ldd's output is taken whole first: under pipefail, `ldd | grep -q`
# fails whenever grep exits before ldd has written everything and ldd
# dies of SIGPIPE, which loaded runs hit now and then.)
libs=$(ldd "$target/debug/examples/rag")
grep -q "$prefix" <<<"$libs" ||
    { echo "the example is not linked to the installed library:" >&2
      echo "$libs" >&2; exit 1; }
grep -q "saved and loaded 2 points" <<<"$out"
