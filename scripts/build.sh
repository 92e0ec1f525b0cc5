#!/usr/bin/env bash
# Configures and builds vxpu into ./build (or $VXPU_BUILD_DIR). Extra arguments go to cmake.
# $VXPU_BUILD_TARGETS (space-separated) builds only those targets and what they need; default all.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${VXPU_BUILD_DIR:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
targets=()
for target in ${VXPU_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build" -j "$jobs" "${targets[@]}"
