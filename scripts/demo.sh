#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs `vxpu demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
exec "${VXPU_BUILD_DIR:-$root/build}/bin/vxpu" demo "$@"
