#!/usr/bin/env bash
# What vxpud costs and how fast it answers, on simgpu:
#   - `vxpu run --sim --memory 100MiB -- true`, start to exit, without an agent and with one (the
#     difference is finding the agent, adopting its state dir and registering the slice);
#   - GET /v1/slices and GET /metrics with N slices registered (pod-owned, so none is reaped);
#   - POST /v1/slices (register) and DELETE (remove) of one slice.
# Each figure is the median of RUNS tries (curl's time_total for the HTTP ones).
#   bench/agent/run.sh [build-dir]     (RUNS=50 SLICES=100 by default)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-${VXPU_BUILD_DIR:-$root/build}}"
runs="${RUNS:-50}"
slices="${SLICES:-100}"
for f in "$build/bin/vxpu" "$build/bin/vxpud"; do
  [[ -x "$f" ]] || { echo "run.sh: missing $f (build first)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "run.sh: needs curl" >&2; exit 1; }

work="$(mktemp -d /tmp/vxpu-agent-bench.XXXXXX)"
agent=""
cleanup() {
  [[ -n "$agent" ]] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
uuid="GPU-be0c0000-0000-4000-8000-$(printf '%012x' $$)"
printf '{"devices":[{"uuid":"%s","memory":"1TiB","context_overhead":"0"}]}' "$uuid" > "$work/devices.json"
export VXPU_SIMGPU_CONFIG="$work/devices.json"
mkdir "$work/state"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ms_of_runs() {  # the median wall time of `vxpu run ... -- true`, in ms, with env "$@"
  for i in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    env "$@" "$build/bin/vxpu" run --sim --memory 100MiB -- true
    end=$(date +%s%N)
    echo $(((end - start) / 1000))
  done | median | awk '{ printf "%.2f", $1 / 1000 }'
}
http_ms() {  # the median of curl's time_total for "$@", in ms
  for i in $(seq "$runs"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$@"
  done | median | awk '{ printf "%.2f", $1 * 1000 }'
}

daemonless=$(ms_of_runs VXPU_STATE_DIR="$work/state" VXPU_AGENT_SOCKET="$work/none.sock")

"$build/bin/vxpud" --sim --state-dir "$work/state" --metrics-addr 127.0.0.1:0 --poll-interval 1 2> "$work/vxpud.log" &
agent=$!
for _ in $(seq 100); do
  grep -q "serving:" "$work/vxpud.log" 2>/dev/null && break
  sleep 0.05
done
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$work/vxpud.log")
[[ -n "$port" ]] || { echo "run.sh: vxpud did not start:" >&2; cat "$work/vxpud.log" >&2; exit 1; }
sock="$work/state/vxpud.sock"
with_agent=$(ms_of_runs VXPU_STATE_DIR="$work/state")

api="http://vxpud/v1/slices"
body() { printf '{"name":"%s","devices":["%s"],"memory_limit_bytes":1073741824,"owner":{"namespace":"bench","pod":"p%s","container":"c"}}' "$1" "$uuid" "$1"; }
post_delete=()
for i in $(seq "$runs"); do
  post_delete+=("$(curl -s -o /dev/null -w '%{time_total}' --unix-socket "$sock" -X POST -d "$(body one)" "$api")")
  curl -s -o /dev/null --unix-socket "$sock" -X DELETE "$api/one"
done
post=$(printf '%s\n' "${post_delete[@]}" | median | awk '{ printf "%.2f", $1 * 1000 }')
for i in $(seq "$slices"); do
  curl -s -o /dev/null --unix-socket "$sock" -X POST -d "$(body "s$i")" "$api"
done
listed=$(curl -s --unix-socket "$sock" "$api" | grep -o '"name":"s[0-9]*"' | wc -l)
[[ "$listed" == "$slices" ]] || { echo "run.sh: $listed slices listed, not $slices" >&2; exit 1; }
list=$(http_ms --unix-socket "$sock" "$api")
scrape=$(http_ms "http://127.0.0.1:$port/metrics")

echo "vxpu run --sim --memory 100MiB -- true, median of $runs:"
echo "  without vxpud                 $daemonless ms"
echo "  with vxpud (registers)        $with_agent ms"
echo "vxpud API and metrics, median of $runs:"
echo "  POST /v1/slices (register)    $post ms"
echo "  GET /v1/slices, $slices slices   $list ms"
echo "  GET /metrics, $slices slices     $scrape ms"
