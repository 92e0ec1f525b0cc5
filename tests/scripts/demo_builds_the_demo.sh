#!/usr/bin/env bash
# ctest scripts.demo_builds_only_the_demo: scripts/demo.sh compiled the whole project, 36 test
# programs included (6 minutes here), before a demo that needs five targets. Runs demo.sh with
# cmake replaced by a wrapper that configures a scratch build directory for real and turns the
# build into a dry run (make -n -k: keep going past what a dry run cannot link), then checks what it
# would have built.
#   demo_builds_the_demo.sh SOURCE_DIR
set -uo pipefail
source_dir="$1"
work="$(mktemp -d /tmp/vxpu-demo-build-XXXXXX)"
trap 'rm -rf "$work"' EXIT
real_cmake="$(command -v cmake)"
mkdir "$work/bin"
cat >"$work/bin/cmake" <<WRAPPER
#!/usr/bin/env bash
if [ "\$1" = "--build" ]; then
  echo "cmake \$*" >>"$work/build-commands"
  exec "$real_cmake" "\$@" -- -n -k >>"$work/dry-run" 2>&1
fi
exec "$real_cmake" "\$@"
WRAPPER
chmod +x "$work/bin/cmake"
# The demo itself fails at the end (nothing was built): only what it would have built counts.
PATH="$work/bin:$PATH" VXPU_BUILD_DIR="$work/build" "$source_dir/scripts/demo.sh" --seconds 2 >"$work/demo.log" 2>&1
if [ ! -s "$work/dry-run" ]; then
  echo "demo_builds_the_demo: demo.sh built nothing (it never ran cmake --build):" >&2
  cat "$work/demo.log" >&2
  exit 1
fi
cat "$work/build-commands"
compiled=$(grep -c 'Building C' "$work/dry-run")
tests=$(grep 'Building C' "$work/dry-run" | grep -c 'object tests/' || true)
echo "demo.sh would compile $compiled files, $tests of them tests"
status=0
if [ "$tests" -ne 0 ]; then
  echo "demo_builds_the_demo: demo.sh builds tests:" >&2
  grep 'Building C' "$work/dry-run" | grep 'object tests/' | sed 's/.*object //' | head -5 >&2
  status=1
fi
# The demo runs vxpu (a dry run cannot link its way there: the command says it), vxpu-burn, the
# interposer and simgpu's two libraries.
if grep -q -- '--target' "$work/build-commands" && ! grep -q -- '--target vxpu' "$work/build-commands"; then
  echo "demo_builds_the_demo: demo.sh does not build vxpu" >&2
  status=1
fi
for needed in samples/CMakeFiles/burn.dir src/interposer/CMakeFiles/vxpu_interposer.dir \
  src/simgpu/CMakeFiles/simgpu_cuda.dir src/simgpu/CMakeFiles/simgpu_nvml.dir; do
  if ! grep -q -- "-f $needed/build.make $needed/build" "$work/dry-run"; then
    echo "demo_builds_the_demo: demo.sh does not build ${needed%/CMakeFiles/*}'s $(basename "$needed" .dir)," \
      "which the demo runs" >&2
    status=1
  fi
done
exit $status
