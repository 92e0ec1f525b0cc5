#!/usr/bin/env bash
# Fuzzes the agent API's parsers with libFuzzer (docs/fuzzing.md): scripts/fuzz.sh [SECONDS] [TARGET]
# (default 60 seconds; TARGET agent_api_fuzz, the default, agent_http_fuzz, vxpud's HTTP layer, or
# extender_fuzz, the kube-scheduler extender's JSON, src/k8s, and the others listed below; below,
# agent_api stands for the target's name without "_fuzz").
# Builds fuzz/agent_api_fuzz.cc and only what it needs (vxpu_agent_api and its dependencies)
# with Debian's clang into ./build-fuzz (override with VXPU_FUZZ_BUILD_DIR), every
# object under -fsanitize=fuzzer-no-link,address,undefined; then runs it from the seeds in
# fuzz/corpus/agent_api for SECONDS. Exit status 1 when it found a crash or a broken check (the
# input is left in build-fuzz/artifacts/, to be added to fuzz/corpus/agent_api once fixed).
# New inputs it finds go to build-fuzz/corpus/agent_api (kept between runs; the seeds are not touched).
# Environment: VXPU_FUZZ_STRICT=1 also aborts on the known, reported parser bugs;
# VXPU_FUZZ_ARGS adds libFuzzer flags (e.g. "-max_len=65536").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "fuzz.sh: bad SECONDS \"$seconds\" (want a positive whole number)" >&2
  exit 2
fi
target="${2:-agent_api_fuzz}"
case "$target" in
  agent_api_fuzz | agent_http_fuzz | extender_fuzz | gpu_units_fuzz | remote_wire_fuzz) ;;
  *) echo "fuzz.sh: unknown TARGET \"$target\" (want agent_api_fuzz, agent_http_fuzz, extender_fuzz, gpu_units_fuzz or remote_wire_fuzz)" >&2; exit 2 ;;
esac
name="${target%_fuzz}"
dict=()
if [ -f "$root/fuzz/$name.dict" ]; then dict=(-dict="$root/fuzz/$name.dict"); fi
max_len=4096
if [ "$target" = extender_fuzz ]; then max_len=16384; fi  # a real Pod with two Nodes is 5 KB
if [ "$target" = agent_http_fuzz ]; then max_len=8192; fi
build="${VXPU_FUZZ_BUILD_DIR:-$root/build-fuzz}"
for tool in clang clang++ cmake; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (apt-get install clang libclang-rt-14-dev cmake)" >&2; exit 2; }
done

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DVXPU_FUZZ=ON -DVXPU_BUILD_TESTS=OFF -DVXPU_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
cmake --build "$build" --target "$target" -j "$(nproc 2>/dev/null || echo 2)"

if [ "$target" = agent_http_fuzz ] && [ -z "${VXPU_SIMGPU_DIR:-}" ]; then
  # The agent under the HTTP layer serves simgpu's devices: the normal build's (scripts/build.sh).
  export VXPU_SIMGPU_DIR="${VXPU_BUILD_DIR:-$root/build}/lib/simgpu"
  [ -f "$VXPU_SIMGPU_DIR/libnvidia-ml.so.1" ] || { echo "fuzz.sh: agent_http_fuzz needs simgpu: run scripts/build.sh first" >&2; exit 2; }
fi
work="$build/corpus/$name"
artifacts="$build/artifacts"
log="$build/$target.log"
mkdir -p "$work" "$artifacts"
echo "fuzz.sh: $target for ${seconds}s (seeds: fuzz/corpus/$name, log: $log)"
set +e
# shellcheck disable=SC2086  # VXPU_FUZZ_ARGS is a list of flags
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ASAN_OPTIONS="detect_leaks=1" \
  "$build/bin/$target" "$work" "$root/fuzz/corpus/$name" "${dict[@]}" \
  -max_total_time="$seconds" -timeout=10 -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  ${VXPU_FUZZ_ARGS:-} >"$log" 2>&1
status=$?
set -e

last_cov="$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n 1 || true)"
runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
echo "fuzz.sh: last status line: ${last_cov:-none}"
echo "fuzz.sh: ${runs:-?} runs, ${rate:-?} exec/s, corpus now $(find "$work" -type f | wc -l) inputs in $work"
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: $target FAILED (exit $status); the end of $log:" >&2
  tail -n 40 "$log" >&2
  echo "fuzz.sh: reproduce with $build/bin/$target $artifacts/<file>" >&2
  exit 1
fi
echo "fuzz.sh: no crash, no broken check"
