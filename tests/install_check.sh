#!/usr/bin/env bash
# Installs a build into a temporary prefix and builds a tiny application
# against it twice: with pkg-config and with CMake's find_package.  Proves
# that the header, both libraries, quiver.pc and the CMake package config
# are installed and usable.
set -euo pipefail
build=$1
prefix=$(mktemp -d)
app=$(mktemp -d)
trap 'rm -rf "$prefix" "$app"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
cat >"$app/app.c" <<'C'
#include <quiver.h>
#include <stdio.h>
int main(void)
{
    qv_collection_config cfg;
    qv_collection_config_init(&cfg);
    cfg.dim = 2;
    qv_collection *c;
    if (qv_collection_create(&cfg, &c) != QV_OK)
        return 1;
    qv_point_id id = qv_id_from_num(1);
    float v[2] = {1, 0};
    qv_search_params p;
    qv_search_params_init(&p);
    qv_hit hit;
    size_t n = 0;
    if (qv_upsert(c, &id, v, 2) != QV_OK ||
        qv_search(c, v, 2, &p, &hit, &n) != QV_OK || n != 1)
        return 1;
    qv_collection_release(c);
    puts("ok");
    return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch)/pkgconfig"
# shellcheck disable=SC2046
cc -o "$app/app_pc" "$app/app.c" $(pkg-config --cflags --libs quiver)
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib/$(gcc -print-multiarch)" "$app/app_pc" | grep -qx ok

cat >"$app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(app C)
find_package(quiver REQUIRED)
add_executable(app_cmake app.c)
target_link_libraries(app_cmake PRIVATE quiver::quiver_static)
CM
cmake -S "$app" -B "$app/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$app/b" >/dev/null
"$app/b/app_cmake" | grep -qx ok
echo "install check: pkg-config and find_package(quiver) both work"
