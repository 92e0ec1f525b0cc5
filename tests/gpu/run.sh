#!/usr/bin/env bash
# The GPU suite, for a machine with a real NVIDIA GPU and the CUDA toolkit (no package registry
# needed): builds the dependency-free targets with plain CMake and runs the sample programs
# against the real driver, NVIDIA's CUDA runtime programs (samples/runtime) locally, in slices and
# through the remote client, memory and compute slices with PyTorch (when importable), PyTorch on
# a remote vXPU, the remote training step (driver API and runtime) and the per-launch cost. Prints one PASS/FAIL line per check and exits non-zero on a failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${VXPU_GPU_BUILD_DIR:-$root/build-gpu}"

cmake -S "$root" -B "$build" -DVXPU_INTERPOSER_ONLY=ON -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" >/dev/null || exit 1

failed=0
check() {  # check NAME COMMAND...: runs COMMAND, reports its outcome
  local name="$1"; shift
  if output="$("$@" 2>&1)"; then
    echo "PASS $name: $(echo "$output" | tail -n 1)"
  else
    echo "FAIL $name: $(echo "$output" | tail -n 3 | tr '\n' ' ')"
    failed=1
  fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/GPU /'
check "vector_add on the real driver" "$build/bin/vxpu-vector_add" 10000000
check "burn on the real driver" "$build/bin/vxpu-burn" --seconds 2 --kernel-us 1000

# Memory slices: what `vxpu run --memory 4GiB` sets up, done by hand (the vxpu CLI needs
# Debian libraries this machine may lack).
slice=(env LD_PRELOAD="$build/lib/libvxpu.so" VXPU_MEMORY=4GiB VXPU_SLICE="gpu-suite-$$")
check "vector_add under a 4 GiB slice" "${slice[@]}" "$build/bin/vxpu-vector_add" 10000000
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  for conf in "" "expandable_segments:True"; do
    if ! PYTORCH_CUDA_ALLOC_CONF="$conf" "${slice[@]}" python3 "$root/tests/gpu/torch_memory_slice.py" $((4 << 30)); then
      failed=1
    fi
  done
  # Compute slices: each split with real PyTorch tenants against one tenant alone (target: 3 points).
  for workload in matmul train; do
    if ! python3 "$root/tests/gpu/torch_compute_share.py" split --lib "$build/lib/libvxpu.so" --workload "$workload" \
        --seconds "${VXPU_GPU_SHARE_SECONDS:-10}" --shares 30,70 10,90 20,30,50; then
      failed=1
    fi
  done
else
  echo "SKIP PyTorch checks: torch with CUDA not importable"
fi
# NVIDIA's CUDA runtime as the program (samples/runtime, built when nvcc is found): each program
# in both cudart modes on the real driver and in a 4 GiB slice; every allocation route held to a
# 1 GiB slice (the program itself checks the refusal is cudaErrorMemoryAllocation and that a free
# makes room).
if [ -x "$build/bin/vxpu-rt-vector_add" ]; then
  for mode in "" -static; do
    for program in vector_add streams_events pinned_async malloc_async managed_pitch mem_get_info per_thread \
        graph_capture; do
      check "runtime $program$mode on the real driver" "$build/bin/vxpu-rt-$program$mode"
      check "runtime $program$mode in a 4 GiB slice" "${slice[@]}" "$build/bin/vxpu-rt-$program$mode"
    done
    for route in malloc pitch managed async pool; do
      check "runtime fill$mode by $route held to a 1 GiB slice" env LD_PRELOAD="$build/lib/libvxpu.so" \
        VXPU_MEMORY=1GiB VXPU_SLICE="gpu-suite-fill-$$" "$build/bin/vxpu-rt-fill$mode" "$route" 64 --until-refused
    done
  done
else
  echo "SKIP runtime programs: not built (no nvcc)"
fi
# Remote vXPUs over loopback on the real driver: tests/gpu/remote_session.py plays vxpu remoted's
# part (the CLI may be missing here); the training-step workload local, then remote.
remote=(python3 "$root/tests/gpu/remote_session.py" --build "$build" --)
check "vector_add through the remote client" "${remote[@]}" "$build/bin/vxpu-vector_add" 10000000
if [ -x "$build/bin/vxpu-rt-vector_add" ]; then
  for program in vector_add streams_events pinned_async malloc_async managed_pitch mem_get_info per_thread \
      graph_capture; do
    check "runtime $program through the remote client" "${remote[@]}" "$build/bin/vxpu-rt-$program"
    check "runtime $program-static through the remote client" "${remote[@]}" "$build/bin/vxpu-rt-$program-static"
  done
fi
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  # PyTorch's own runtime through the client: where it stops (cuBLAS's tables) is the finding.
  "${remote[@]}" python3 "$root/tests/gpu/torch_remote.py" || failed=1
fi
echo "Remote training step and bandwidth (local, then remote over loopback):"
for args in "" "--bandwidth-mib 256"; do
  # shellcheck disable=SC2086  # $args is a list of flags
  "$build/bin/vxpu-bench-train-step" $args || failed=1
  # shellcheck disable=SC2086
  "${remote[@]}" "$build/bin/vxpu-bench-train-step" $args || failed=1
done
if [ -x "$build/bin/vxpu-bench-train-step-rt" ]; then
  echo "The same step through the CUDA runtime (local, then remote over loopback):"
  "$build/bin/vxpu-bench-train-step-rt" || failed=1
  "${remote[@]}" "$build/bin/vxpu-bench-train-step-rt" || failed=1
fi
echo "Per-launch cost (ns, fastest round):"
"$root/bench/launch_cost/run.sh" "$build" || failed=1
exit $failed
