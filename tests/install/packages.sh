#!/usr/bin/env bash
# The Debian packages (cmake/Packaging.cmake): cpack builds the four, each holds what it should in
# the FHS layout and depends on Debian 12's packages by name (never on libcuda), and the files
# they unpack run: as root, in a mount namespace of their own with the build tree hidden,
# `vxpu devices --sim`, a `vxpu run --sim` slice, and vxpud and vxpu-scheduler.
#   packages.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
work="$(mktemp -d /tmp/vxpu-packages.XXXXXX)"
trap 'rm -rf "$work"' EXIT
fail() { echo "packages: $*" >&2; exit 1; }

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1) \
  || { tail -20 "$work/cpack.log"; fail "cpack failed"; }
version="$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")"
declare -A holds=(
  [vxpu]="./usr/bin/vxpu ./usr/lib/vxpu/libvxpu.so ./usr/lib/vxpu/simgpu/libcuda.so.1 ./usr/lib/vxpu/vxpu-remote-worker ./usr/lib/vxpu/vxpu-burn"
  [vxpud]="./usr/bin/vxpud ./usr/lib/systemd/system/vxpud.service"
  [vxpu-scheduler]="./usr/bin/vxpu-scheduler"
  [vxpu-remote-client]="./usr/lib/vxpu/remote/libcuda.so.1 ./usr/lib/vxpu/remote/libnvidia-ml.so.1"
)
for package in "${!holds[@]}"; do
  deb="$work/out/${package}_${version}_amd64.deb"
  [ -f "$deb" ] || fail "no $deb (cpack made: $(ls "$work/out"))"
  [ "$(dpkg-deb -f "$deb" Package)" = "$package" ] || fail "$deb is not package $package"
  contents="$(dpkg-deb -c "$deb" | awk '{print $6}')"
  for f in ${holds[$package]}; do grep -qx -- "$f" <<<"$contents" || fail "$package does not hold $f"; done
  depends="$(dpkg-deb -f "$deb" Depends)"
  grep -q "libc6" <<<"$depends" || fail "$package depends on no Debian package: $depends"
  ! grep -qi "cuda" <<<"$depends" || fail "$package depends on a CUDA package: $depends"
  echo "packages: $package $(du -k "$deb" | cut -f1) KiB, depends: $depends"
  dpkg-deb -x "$deb" "$work/root"
done
grep -q "vxpu (= $version)" <<<"$(dpkg-deb -f "$work/out/vxpud_${version}_amd64.deb" Depends)" || fail "vxpud does not depend on vxpu"
grep -qx "ExecStart=/usr/bin/vxpud --state-dir /var/run/vxpu --metrics-addr :9395" \
  "$work/root/usr/lib/systemd/system/vxpud.service" || fail "the unit does not start /usr/bin/vxpud"

usr="$work/root/usr"
checks="$work/checks.sh"
cat >"$checks" <<CHECKS
set -euo pipefail
export VXPU_STATE_DIR="$work/state" VXPU_AGENT_SOCKET=none VXPU_AGENT_BEACON=off
mkdir -p "\$VXPU_STATE_DIR"
unset VXPU_SIMGPU_DIR VXPU_INTERPOSER LD_LIBRARY_PATH LD_PRELOAD
"$usr/bin/vxpu" devices --sim | grep -q NVIDIA || { echo "vxpu devices --sim listed nothing"; exit 1; }
"$usr/bin/vxpu" run --sim --memory 1GiB -- "$usr/lib/vxpu/vxpu-vector_add" 1000 | grep -q "vector_add: OK" \
  || { echo "vector_add did not run in a slice"; exit 1; }
"$usr/bin/vxpud" --version >/dev/null && "$usr/bin/vxpu-scheduler" --version >/dev/null
CHECKS
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  unshare -m bash -c "mount -t tmpfs -o size=1m vxpu-hidden '$build' && bash '$checks'" || fail "a check failed (build tree hidden)"
  echo "packages: the unpacked files run with $build hidden"
else
  bash "$checks" || fail "a check failed"
  echo "packages: not root: checked with the build tree in sight"
fi
