#!/usr/bin/env bash
# Builds vxpu's container image without a container daemon: the Debian packages (cpack in the
# build directory) installed by apt into a minimal Debian 12 root (mmdebstrap, essential variant:
# a shell and coreutils, no apt), made one layer of an OCI image (umoci). Everything comes from
# this repository and Debian's archive. Needs root (mmdebstrap --mode=root), mmdebstrap, umoci.
#   deploy/image/build.sh BUILD_DIR OUT_DIR
# Leaves OUT_DIR/oci, an OCI image layout tagged with the project's version (one image, for
# every manifest in deploy/kubernetes: vxpud, vxpu-scheduler, the CLI, the interposer, simgpu),
# and OUT_DIR/size (the layer's compressed bytes, then the root's unpacked bytes).
# Environment: VXPU_DEBIAN_MIRROR (default http://deb.debian.org/debian); SOURCE_DATE_EPOCH
# (default: the last commit's time), the time stamped on every file and on the image.
set -euo pipefail
fail() { echo "build-image: $*" >&2; exit 1; }
[ $# -eq 2 ] || fail "usage: $0 BUILD_DIR OUT_DIR"
build="$(cd "$1" && pwd)" || fail "no build directory $1"
[ -f "$build/CPackConfig.cmake" ] || fail "$build is not a configured vxpu build (no CPackConfig.cmake)"
out="$(mkdir -p "$2" && cd "$2" && pwd)"
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap --mode=root)"
for tool in mmdebstrap umoci cpack; do command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"; done

here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}"
mirror="${VXPU_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$(mktemp -d /tmp/vxpu-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/debs" >"$work/cpack.log" 2>&1) \
  || { tail -20 "$work/cpack.log" >&2; fail "cpack failed"; }
# init-system-helpers needs usrmerge or usr-is-merged: the essential set takes the first, and
# perl with it; usr-is-merged replaces it (purged below, with perl: 50 MiB nothing here runs).
includes=(--include=usr-is-merged)
for package in vxpu vxpud vxpu-scheduler; do
  deb="$work/debs/${package}_${version}_amd64.deb"
  [ -f "$deb" ] || fail "cpack made no $deb"
  includes+=("--include=$deb")
done

# Documentation, manuals and translations are left out (the copyright files stay); apt's lists,
# caches and logs are removed; the file-mirror-automount hook lets dpkg inside see the .debs.
mmdebstrap --mode=root --variant=essential --format=tar \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  "${includes[@]}" \
  --customize-hook='chroot "$1" dpkg --purge usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl libperl5.36 perl-modules-5.36' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/cache/ldconfig/aux-cache "$1"/var/log/*' \
  bookworm "$work/rootfs.tar" "deb $mirror bookworm main" >"$work/mmdebstrap.log" 2>&1 \
  || { tail -20 "$work/mmdebstrap.log" >&2; fail "mmdebstrap could not install the packages"; }

rm -rf "$out/oci"
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
image="$out/oci:$version"
umoci init --layout "$out/oci"
umoci new --image "$image"
umoci raw add-layer --image "$image" --history.created "$created" \
  --history.created_by "deploy/image/build.sh (Debian 12 and vxpu $version)" "$work/rootfs.tar"
# The manifests name their command; run bare, the image starts the agent on the simulated GPU.
umoci config --image "$image" --created "$created" --author "vxpu" \
  --no-history --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir / \
  --config.cmd /usr/bin/vxpud --config.cmd --sim \
  --config.label "org.opencontainers.image.title=vxpu" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.source=https://github.com/vxpu/vxpu"
umoci gc --layout "$out/oci"

layer_bytes="$(find "$out/oci/blobs" -type f -size +1M -printf '%s\n' | sort -n | tail -1)"
root_bytes="$(tar -tvf "$work/rootfs.tar" | awk '{ s += $3 } END { print s }')"
printf '%s %s\n' "$layer_bytes" "$root_bytes" >"$out/size"
echo "build-image: $image: layer $((layer_bytes / 1024 / 1024)) MiB compressed, $((root_bytes / 1024 / 1024)) MiB unpacked"
