#!/usr/bin/env bash
# The remote benchmark (docs/benchmarks.md, "Remote vXPUs"): one run, side by side, on simgpu:
#   - the training-step workload (vxpu-bench-train-step) local (vxpu run --sim) and remote over
#     loopback, then remote through a delaying relay adding 0.2 ms and 1 ms of round-trip time;
#     synchronous round trips and messages (socket writes) per step from the client's counters;
#   - the same step written against the CUDA runtime API (vxpu-bench-train-step-rt, NVIDIA's
#     cudart; built when nvcc is found), local and remote over loopback and with 1 ms of RTT;
#   - host-to-device and device-to-host bandwidth remote against raw TCP on the same loopback.
#   bench/remote/run.sh [BUILD_DIR] [-- TRAIN_STEP_FLAGS...]   (default build/, and the workload's defaults)
# Prints one JSON line per measurement, then a table. Needs a built tree (scripts/build.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build="$(cd "$1" && pwd)"; shift; fi
[ "${1:-}" = "--" ] && shift
flags=("$@")
vxpu="$build/bin/vxpu" step="$build/bin/vxpu-bench-train-step" relay="$build/bin/vxpu_test_relay"
rt_step="$build/bin/vxpu-bench-train-step-rt"
[ -x "$rt_step" ] || { echo "run.sh: no $rt_step (no nvcc): the runtime-API step is left out" >&2; rt_step=""; }
for f in "$vxpu" "$step" "$relay"; do [ -x "$f" ] || { echo "run.sh: missing $f (build first)" >&2; exit 2; }; done

work="$(mktemp -d /tmp/vxpu-remote-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# A simulated device of the benchmark's own (not shared with anything else running).
cat >"$work/devices.json" <<JSON
{"devices":[{"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-be0c0000-0000-4000-8000-$(printf '%012x' $$)","memory":"80GiB","context_overhead":"0","sm_count":132}]}
JSON
export VXPU_SIMGPU_CONFIG="$work/devices.json" VXPU_AGENT_SOCKET=none
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token" && chmod 600 "$work/token"

listening() {  # waits for a {"listening":"..."} line in file $1, prints the address
  for _ in $(seq 100); do
    if grep -q listening "$1" 2>/dev/null; then sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "run.sh: $1 never said where it listens" >&2; exit 1
}
"$vxpu" remoted --sim --listen 127.0.0.1:0 --token-file "$work/token" --memory 8GiB --image-cache "$work/images" >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
server="$(listening "$work/server.out")"
# Relays to the server adding 100 us and 500 us each way (0.2 ms and 1 ms of round-trip time).
for delay in 100 500; do
  "$relay" --listen 127.0.0.1:0 --target "$server" --delay-us "$delay" >"$work/relay$delay.out" 2>/dev/null &
  pids+=($!)
done
relay200="$(listening "$work/relay100.out")" relay1000="$(listening "$work/relay500.out")"

remote() { "$vxpu" run --remote "$1" --token-file "$work/token" -- "$step" "${@:2}"; }
local_run() { "$vxpu" run --sim --memory 8GiB -- "$step" "$@"; }
rt_remote() { "$vxpu" run --remote "$1" --token-file "$work/token" -- "$rt_step" "${@:2}"; }
rt_local() { "$vxpu" run --sim --memory 8GiB -- "$rt_step" "$@"; }
run() {  # $1 label, rest the command; appends {"run":label,...} to the results
  local line
  line="$("${@:2}" | tail -1)"
  echo "{\"run\":\"$1\",${line#\{}" | tee -a "$work/results"
}
# Rounds of every configuration in turn, so that the machine's ups and downs (a shared VM's are
# large) fall on all of them alike; the table gives each one's median.
rounds="${VXPU_BENCH_ROUNDS:-5}"
for _ in $(seq "$rounds"); do
  run local local_run "${flags[@]}"
  run remote-loopback remote "$server" "${flags[@]}"
  run remote-rtt-0.2ms remote "$relay200" "${flags[@]}"
  run remote-rtt-1ms remote "$relay1000" "${flags[@]}"
  run bandwidth-remote remote "$server" --bandwidth-mib 256
  run tcp-loopback env LD_LIBRARY_PATH="$build/lib/simgpu" "$step" --tcp-baseline-mib 256
  if [ -n "$rt_step" ]; then
    run runtime-local rt_local "${flags[@]}"
    run runtime-remote-loopback rt_remote "$server" "${flags[@]}"
    run runtime-remote-rtt-1ms rt_remote "$relay1000" "${flags[@]}"
  fi
done
run bandwidth-local local_run --bandwidth-mib 256

python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def median(run, key):
    return statistics.median(r[key] for r in rows if r["run"] == run)
def spread(run, key):
    values = [r[key] for r in rows if r["run"] == run]
    return f"{min(values):.1f}-{max(values):.1f}"
first = next(r for r in rows if r["run"] == "local")
local = median("local", "steps_per_second")
print(f"\ntraining step: {first['kernels_per_step']} kernels of {first['kernel_us']} us, medians of "
      f"{sum(r['run'] == 'local' for r in rows)} rounds; local {local:.1f} steps/s (range {spread('local', 'steps_per_second')})")
for name in ("remote-loopback", "remote-rtt-0.2ms", "remote-rtt-1ms"):
    sps = median(name, "steps_per_second")
    print(f"  {name:18s} {sps:8.1f} steps/s ({spread(name, 'steps_per_second')})  {100 * sps / local:5.1f}% of local"
          f"  {median(name, 'round_trips_per_step'):.2f} round trips/step  {median(name, 'messages_per_step'):.2f} messages/step")
if any(r["run"] == "runtime-local" for r in rows):
    rt_local = median("runtime-local", "steps_per_second")
    print(f"the same step through the CUDA runtime (cudart): local {rt_local:.1f} steps/s "
          f"(range {spread('runtime-local', 'steps_per_second')})")
    for name in ("runtime-remote-loopback", "runtime-remote-rtt-1ms"):
        sps = median(name, "steps_per_second")
        print(f"  {name:26s} {sps:8.1f} steps/s ({spread(name, 'steps_per_second')})  {100 * sps / rt_local:5.1f}% of local"
              f"  {median(name, 'round_trips_per_step'):.2f} round trips/step  {median(name, 'messages_per_step'):.2f} messages/step")
tcp = median("tcp-loopback", "tcp_gbps")
htod, dtoh = median("bandwidth-remote", "htod_gbps"), median("bandwidth-remote", "dtoh_gbps")
l = next(r for r in rows if r["run"] == "bandwidth-local")
print(f"bandwidth, 256 MiB (medians of bests of 5): raw TCP {tcp:.2f} GB/s; remote HtoD {htod:.2f} ({100 * htod / tcp:.0f}% of TCP),"
      f" DtoH {dtoh:.2f} ({100 * dtoh / tcp:.0f}%); local simgpu HtoD {l['htod_gbps']:.2f}, DtoH {l['dtoh_gbps']:.2f}")
PY
