#!/usr/bin/env bash
# The container image (deploy/image/build.sh): built from the Debian packages into BUILD_DIR/image
# (where the OCI runtime tests find it), tagged with the version, holding every program the
# manifests name and nothing that bloats it (no perl beyond dpkg's, no apt, no documentation),
# starting vxpud by default; `skopeo copy` to a docker archive, as docs/install.md says, names it
# as the manifests do. Prints its size. Root only (mmdebstrap --mode=root).
#   image.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap --mode=root): run the suite as root"
"$source_dir/deploy/image/build.sh" "$build" "$build/image"
version="$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")"
work="$(mktemp -d /tmp/vxpu-image-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT

umoci ls --layout "$build/image/oci" | grep -qx "$version" || fail "the layout has no tag $version"
umoci unpack --image "$build/image/oci:$version" "$work/bundle" >/dev/null || fail "umoci cannot unpack it"
root="$work/bundle/rootfs"
args="$(tr -d ' \t\n' <"$work/bundle/config.json" | grep -o '"args":\[[^]]*\]')"
[ "$args" = '"args":["/usr/bin/vxpud","--sim"]' ] || fail "it starts $args, not vxpud"
for f in usr/bin/vxpu usr/bin/vxpud usr/bin/vxpu-scheduler usr/lib/vxpu/libvxpu.so usr/lib/vxpu/simgpu/libcuda.so.1 \
         usr/lib/vxpu/vxpu-burn bin/sh; do
  [ -e "$root/$f" ] || fail "it holds no /$f"
done
for f in usr/lib/x86_64-linux-gnu/perl usr/share/perl usr/bin/apt-get usr/share/man/man1; do [ ! -e "$root/$f" ] || fail "it holds /$f"; done
extra_docs="$(find "$root/usr/share/doc" -type f ! -name copyright | head -3)"
[ -z "$extra_docs" ] || fail "it holds documentation: $extra_docs"
# Every command the manifests run from this image is in it.
for manifest in "$source_dir"/deploy/kubernetes/vxpud/daemonset.yaml "$source_dir"/deploy/kubernetes/scheduler/extender-deployment.yaml; do
  command="$(sed -n 's/^ *command: \["\([^"]*\)".*/\1/p' "$manifest")"
  [ -n "$command" ] || fail "$manifest names no command"
  [ -x "$root$command" ] || fail "$manifest runs $command, which the image lacks"
done
chroot "$root" /usr/bin/vxpu-scheduler --version >/dev/null || fail "vxpu-scheduler does not run in the image"
chroot "$root" /usr/bin/vxpu --help >/dev/null || fail "vxpu does not run in the image"

# The docs' route to a node or a registry: a docker archive, named as the manifests name it.
if command -v skopeo >/dev/null; then
  skopeo copy --quiet "oci:$build/image/oci:$version" "docker-archive:$work/vxpu.tar:ghcr.io/vxpu/vxpu:$version" \
    || fail "skopeo cannot copy it to a docker archive"
  tar -xOf "$work/vxpu.tar" manifest.json | grep -q "\"ghcr.io/vxpu/vxpu:$version\"" || fail "the archive does not name ghcr.io/vxpu/vxpu:$version"
fi
read -r layer unpacked <"$build/image/size"
echo "image: ghcr.io/vxpu/vxpu:$version, $((layer / 1024 / 1024)) MiB compressed ($layer bytes), $((unpacked / 1024 / 1024)) MiB unpacked"
