/*
 * buildinfo.c -- what this build of Quiver is and which kernels it runs.
 */
#include "core/core.h"
#include "simd/simd.h"

#ifndef QUIVER_BUILD_TYPE
#define QUIVER_BUILD_TYPE "unknown"
#endif

void qv_build_info_get(qv_build_info *info)
{
    if (!info)
        return;
    info->version = QV_VERSION_STRING;
    info->simd_level = qvi_simd()->name;
    info->simd_available = qvi_simd_available();
    info->build_type = QUIVER_BUILD_TYPE;
    info->blas = "openblas";
}
