#!/usr/bin/env bash
# The main job: installs what is missing, builds what the demo runs (the vxpu target brings
# vxpu-burn, the interposer and simgpu; not the tests), and runs `vxpu demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
VXPU_BUILD_TARGETS=vxpu "$root/scripts/build.sh"
exec "${VXPU_BUILD_DIR:-$root/build}/bin/vxpu" demo "$@"
