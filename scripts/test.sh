#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Exit status is ctest's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${VXPU_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 300
