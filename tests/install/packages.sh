#!/usr/bin/env bash
# The Debian packages (cmake/Packaging.cmake): cpack builds the four, each holds what it should in
# the FHS layout and depends on Debian 12's packages by name (never on libcuda), and, installed
# by apt into a minimal Debian root (mmdebstrap, as root), `vxpu devices --sim`, a `vxpu run
# --sim` slice, vxpud (reached by `vxpu ps`) and vxpu-scheduler run there: no library missing,
# no path into the build tree.
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
  [vxpu]="./usr/bin/vxpu ./usr/lib/vxpu/libvxpu.so ./usr/lib/vxpu/simgpu/libcuda.so.1 ./usr/lib/vxpu/vxpu-remote-worker ./usr/lib/vxpu/vxpu-burn ./usr/lib/vxpu/vxpu_spank.so"
  [vxpud]="./usr/bin/vxpud ./usr/lib/systemd/system/vxpud.service ./etc/vxpu/vxpud.env ./usr/share/man/man1/vxpud.1.gz"
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
grep -qx 'ExecStart=/usr/bin/vxpud $VXPUD_ARGS' "$work/root/usr/lib/systemd/system/vxpud.service" \
  || fail "the unit does not start /usr/bin/vxpud"
grep -qx "EnvironmentFile=-/etc/vxpu/vxpud.env" "$work/root/usr/lib/systemd/system/vxpud.service" \
  || fail "the unit does not read /etc/vxpu/vxpud.env"
dpkg-deb -I "$work/out/vxpud_${version}_amd64.deb" conffiles | grep -qx /etc/vxpu/vxpud.env \
  || fail "/etc/vxpu/vxpud.env is not a conffile"
# Debian's own checks: every error and warning lintian finds is fixed, or overridden with why
# (deploy/debian/vxpu.lintian-overrides).
if command -v lintian >/dev/null; then
  findings="$(lintian --fail-on error,warning --tag-display-limit 0 "$work"/out/*.deb 2>&1)" \
    || fail "lintian finds errors or warnings: $findings"
  echo "packages: lintian finds no error or warning"
fi

# As root: the packages installed by apt into a minimal Debian 12 root made by mmdebstrap from the
# archive this machine uses (their dependencies come from there), and the programs run in it.
# Otherwise the unpacked files run with the build tree in sight (a weaker check, said so).
debs=("$work"/out/*.deb)
if [ "$(id -u)" = 0 ] && command -v mmdebstrap >/dev/null && command -v unshare >/dev/null; then
  mirror="${VXPU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  mmdebstrap --mode=root --variant=apt \
    --customize-hook='mkdir -p "$1/tmp/debs"' \
    --customize-hook="copy-in ${debs[*]} /tmp/debs" \
    --customize-hook='chroot "$1" sh -c "apt-get install -y -q /tmp/debs/*.deb && rm -r /tmp/debs"' \
    bookworm "$work/debian" "deb $mirror bookworm main" >"$work/mmdebstrap.log" 2>&1 \
    || { tail -20 "$work/mmdebstrap.log"; fail "mmdebstrap could not install the packages"; }
  cat >"$work/debian/checks.sh" <<'CHECKS'
set -eu
export VXPU_AGENT_BEACON=off VXPU_AGENT_SOCKET=none VXPU_STATE_DIR=/tmp
vxpu devices --sim | grep -q NVIDIA || { echo "vxpu devices --sim listed nothing"; exit 1; }
vxpu run --sim --memory 1GiB -- /usr/lib/vxpu/vxpu-vector_add 1000 | grep -q "vector_add: OK" \
  || { echo "vector_add did not run in a slice"; exit 1; }
vxpu-scheduler --version >/dev/null
vxpud --sim --state-dir /tmp/agent --metrics-addr 127.0.0.1:0 & agent=$!
for _ in $(seq 100); do [ -S /tmp/agent/vxpud.sock ] && break; sleep 0.1; done
VXPU_AGENT_SOCKET=/tmp/agent/vxpud.sock VXPU_STATE_DIR=/tmp/agent vxpu ps >/dev/null || { echo "vxpu ps cannot reach vxpud"; exit 1; }
kill $agent && wait $agent || { echo "vxpud did not stop cleanly"; exit 1; }
CHECKS
  unshare -m --propagation private sh -c "
    mount -t proc proc '$work/debian/proc' && mount --rbind /dev '$work/debian/dev' &&
    mount -t tmpfs tmpfs '$work/debian/dev/shm' && mount -t tmpfs tmpfs '$work/debian/tmp' &&
    chroot '$work/debian' /usr/bin/env -i PATH=/usr/bin:/bin sh /checks.sh" || fail "a check failed in the Debian root"
  echo "packages: installed by apt into a minimal Debian root ($(du -sh "$work/debian" | cut -f1)); vxpu, vxpud and vxpu-scheduler run there"
  exit 0
fi
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
bash "$checks" || fail "a check failed"
echo "packages: not root, or no mmdebstrap: checked the unpacked files, with the build tree in sight"
