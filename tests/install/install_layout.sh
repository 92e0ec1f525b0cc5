#!/usr/bin/env bash
# `cmake --install` lays vxpu out as its packages will (FHS): the programs in <prefix>/bin, the
# interposer, simgpu, the remote client and the helper programs in <prefix>/lib/vxpu, the unit in
# <prefix>/lib/systemd/system naming vxpud where it was put. The installed programs find their
# companions there and nothing in the build tree: as root, the checks run in a mount namespace of
# their own with an empty tmpfs over the build tree.
#   install_layout.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
root="$(mktemp -d /tmp/vxpu-install.XXXXXX)"
trap 'rm -rf "$root"' EXIT
fail() { echo "install_layout: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$root/usr" >"$root/install.log" || { cat "$root/install.log"; fail "cmake --install failed"; }
prefix="$root/usr"
for f in bin/vxpu bin/vxpud bin/vxpu-scheduler lib/vxpu/libvxpu.so lib/vxpu/simgpu/libcuda.so.1 \
    lib/vxpu/simgpu/libnvidia-ml.so.1 lib/vxpu/remote/libcuda.so.1 lib/vxpu/remote/libnvidia-ml.so.1 \
    lib/vxpu/vxpu-remote-worker lib/vxpu/vxpu-burn lib/vxpu/vxpu-vector_add lib/vxpu/vxpu_spank.so \
    lib/systemd/system/vxpud.service; do
  [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
done
for stray in "$prefix/lib/libvxpu.so" "$prefix/lib/simgpu" "$prefix/lib/remote" "$prefix/bin/vxpu-burn"; do
  [ ! -e "$stray" ] || fail "$stray: not the FHS layout"
done
unit="$prefix/lib/systemd/system/vxpud.service"
grep -qx 'ExecStart='"$prefix"'/bin/vxpud $VXPUD_ARGS' "$unit" || fail "the unit does not start $prefix/bin/vxpud"
grep -qx "EnvironmentFile=-$prefix/etc/vxpu/vxpud.env" "$unit" || fail "the unit does not read $prefix/etc/vxpu/vxpud.env"
grep -q '^VXPUD_ARGS="--state-dir /var/run/vxpu' "$prefix/etc/vxpu/vxpud.env" || fail "no $prefix/etc/vxpu/vxpud.env"
# An administrator's configuration survives a second install.
echo 'VXPUD_ARGS="--state-dir /srv/vxpu"' >"$prefix/etc/vxpu/vxpud.env"
cmake --install "$build" --prefix "$root/usr" >>"$root/install.log" || fail "the second cmake --install failed"
grep -qx 'VXPUD_ARGS="--state-dir /srv/vxpu"' "$prefix/etc/vxpu/vxpud.env" || fail "a reinstall replaced the configuration"
# No installed file may load anything from the build tree.
while IFS= read -r -d '' f; do
  if readelf -d "$f" 2>/dev/null | grep -E 'RPATH|RUNPATH' | grep -q "$build"; then fail "$f: a run path into $build"; fi
done < <(find "$prefix" -type f -print0)

checks="$root/checks.sh"
cat >"$checks" <<CHECKS
set -euo pipefail
export VXPU_STATE_DIR="$root/state" VXPU_AGENT_SOCKET=none VXPU_AGENT_BEACON=off
mkdir -p "\$VXPU_STATE_DIR"
unset VXPU_SIMGPU_DIR VXPU_INTERPOSER LD_LIBRARY_PATH LD_PRELOAD
"$prefix/bin/vxpu" devices --sim | grep -q "NVIDIA" || { echo "vxpu devices --sim listed nothing"; exit 1; }
env_out="\$("$prefix/bin/vxpu" run --sim --memory 1GiB -- env)"
grep -qx "LD_PRELOAD=$prefix/bin/../lib/vxpu/libvxpu.so" <<<"\$env_out" || { echo "LD_PRELOAD: \$(grep LD_PRELOAD <<<"\$env_out")"; exit 1; }
grep -q "^LD_LIBRARY_PATH=$prefix/bin/../lib/vxpu/simgpu" <<<"\$env_out" || { echo "LD_LIBRARY_PATH: \$(grep LD_LIBRARY_PATH <<<"\$env_out")"; exit 1; }
"$prefix/bin/vxpu" run --sim --memory 1GiB -- "$prefix/lib/vxpu/vxpu-vector_add" 1000 | grep -q "vector_add: OK" \
  || { echo "vector_add did not run in a slice"; exit 1; }
"$prefix/bin/vxpud" --version >/dev/null || { echo "vxpud --version failed"; exit 1; }
"$prefix/bin/vxpu-scheduler" --version >/dev/null || { echo "vxpu-scheduler --version failed"; exit 1; }
echo "install_layout: the installed programs run from $prefix"
CHECKS
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  unshare -m bash -c "mount -t tmpfs -o size=1m vxpu-hidden '$build' && bash '$checks'" || fail "a check failed (build tree hidden)"
  echo "install_layout: checked with $build hidden"
else
  bash "$checks" || fail "a check failed"
  echo "install_layout: not root: checked with the build tree in sight"
fi
