# aarch64-linux-gnu.cmake -- CMake toolchain file for the aarch64 cross
# build of Debian 12, run under qemu-user.
#
#   cmake -S . -B build-neon -DQUIVER_SIMD_ONLY=ON \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# Needs the Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and
# qemu-user, and for the tests check:arm64 (multiarch: dpkg
# --add-architecture arm64); scripts/test-neon installs them all.
#
# Where things come from:
#   - the compiler's own sysroot /usr/aarch64-linux-gnu has the C library
#     (libc6-dev-arm64-cross);
#   - Debian multiarch packages (check:arm64, libsubunit-dev:arm64) put
#     their libraries in /usr/lib/aarch64-linux-gnu and their headers in
#     /usr/include, both of which Debian's cross gcc searches by itself;
#   - pkg-config must read the arm64 .pc files, not the host's, so
#     PKG_CONFIG_LIBDIR is pointed at the multiarch directory.
#   - executables are linked -static, so qemu-user needs no aarch64 dynamic
#     loader, and find_library prefers static archives (see the end of this
#     file); the -L prefix given to qemu still lets it run a dynamic one.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

# A full path: a bare name made CMake fail to find the compiler when it
# re-ran inside scripts/test (cause not found; Debian installs it here).
set(CMAKE_C_COMPILER /usr/bin/aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Search the cross sysroot and the multiarch directories of / for libraries
# and headers, never the host's programs' directories for them.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest runs every test program through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

# Static executables.  find_library must then return archives: pkg-config's
# "-lm -lsubunit" become full paths through find_library, and a full path to
# a .so cannot be linked -static.  CMake resets CMAKE_FIND_LIBRARY_SUFFIXES
# after reading a toolchain file (CMakeGenericSystem.cmake), so the setting
# is made from the hook CMake reads after its platform files: this same file
# is named as CMAKE_USER_MAKE_RULES_OVERRIDE, and on that pass, recognised by
# the compiler being loaded, sets the suffixes.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
if(CMAKE_C_COMPILER_LOADED)
  set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
else()
  set(CMAKE_USER_MAKE_RULES_OVERRIDE "${CMAKE_CURRENT_LIST_FILE}")
endif()
