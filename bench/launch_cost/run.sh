#!/usr/bin/env bash
# What the interposer adds to a kernel launch: vxpu-launch-cost bare, under libvxpu.so without a
# compute slice, and holding a compute slice's lease (the fast path). Prints one line each and
# the difference from bare, in ns per launch (the fastest round of each: the least noisy). On simgpu: bench/launch_cost/run.sh --sim
#   bench/launch_cost/run.sh [--sim] [build-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
sim=0
if [[ "${1:-}" == "--sim" ]]; then sim=1; shift; fi
build="${1:-${VXPU_BUILD_DIR:-$root/build}}"
bin="$build/bin/vxpu-launch-cost"
lib="$build/lib/libvxpu.so"
for f in "$bin" "$lib"; do
  [[ -e "$f" ]] || { echo "run.sh: missing $f (build first)" >&2; exit 1; }
done
if [[ $sim == 1 ]]; then
  export LD_LIBRARY_PATH="$build/lib/simgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
fastest() { sed -n 's/.*"ns_per_launch_min":\([0-9.]*\).*/\1/p'; }
bare="$("$bin" | fastest)"
preloaded="$(LD_PRELOAD="$lib" "$bin" | fastest)"
sliced="$(LD_PRELOAD="$lib" VXPU_SLICE="launch-cost-$$" VXPU_COMPUTE=100 "$bin" | fastest)"
report() { awk -v name="$1" -v ns="$2" -v bare="$bare" \
  'BEGIN { printf "%-40s %8.1f ns/launch  (%+.1f vs bare)\n", name, ns, ns - bare }'; }
report "bare" "$bare"
report "libvxpu.so, no compute slice" "$preloaded"
report "libvxpu.so, compute slice (lease held)" "$sliced"
