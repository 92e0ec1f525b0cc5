#!/usr/bin/env bash
# ctest readme.blocks: runs the README's command blocks (every ```sh block of "## Using it") as a
# user pastes them, in order, in one shell, from a scratch copy of the repository's layout
# (build/ and tests/ linked), and fails if one fails or if what they must show is missing.
#   readme_blocks.sh README.md SOURCE_DIR BUILD_DIR
set -uo pipefail
readme="$1" source_dir="$2" build_dir="$3"

work="$(mktemp -d /tmp/vxpu-readme-XXXXXX)"
script="$work/blocks.sh"
output="$work/output.txt"
cleanup() {
  pkill -KILL -P "$runner" 2>/dev/null
  rm -rf "$work" /tmp/vxpu-state /tmp/vxpu-node-a /tmp/remote.token
}
ln -s "$build_dir" "$work/build"
ln -s "$source_dir/tests" "$work/tests"

# The blocks: from the "## Using it" heading to the next "## " heading, ```sh fences only.
awk '/^## /{inside = ($0 == "## Using it")} inside && /^```sh$/{block = 1; n++; print "echo \"=== README block " n "\""; next}
     block && /^```$/{block = 0; next} block{print}' "$readme" >"$work/body.sh"
blocks=$(grep -c '^echo "=== README block' "$work/body.sh")
if [ "$blocks" -lt 5 ]; then
  echo "readme_blocks: found $blocks blocks under '## Using it' in $readme: the extraction is broken" >&2
  exit 1
fi
{
  echo 'set -euo pipefail'
  cat "$work/body.sh"
  echo 'echo "=== README done"'
} >"$script"

rm -rf /tmp/vxpu-state /tmp/vxpu-node-a
# The agent the blocks start announces itself on a beacon of this run's own (ctest turns the
# beacon off for tests; a user's is on).
export VXPU_AGENT_BEACON="readme-$$"
# vxpu remoted keeps images under $XDG_CACHE_HOME: this run's own directory, not the user's.
export XDG_CACHE_HOME="$work/cache"
unset VXPU_STATE_DIR VXPU_AGENT_SOCKET
(cd "$work" && exec bash "$script") >"$output" 2>&1 &
runner=$!
trap cleanup EXIT
wait "$runner"
status=$?
cat "$output"
if [ "$status" -ne 0 ]; then
  echo "readme_blocks: a README block failed (exit $status); the last block started is above" >&2
  exit 1
fi

# What the blocks must have shown, in the order they show it.
expect=(
  "NVIDIA H100 80GB HBM3"
  "refused with CUDA_ERROR_OUT_OF_MEMORY"
  "vector_add: OK"
  "vxpu run: --compute 80.0%: device 0 .* has 30.0% of its compute guaranteed"
  "vxpu top: wrote top.png"
  "vxpu bench share: wrote share.png"
  '"name":"svc"'
  "vxpu_slice_compute"
  '"NodeNames":\["node-a"\]'
  "NVIDIA A100-SXM4-40GB"
  "wrote alloc.png"
  "=== README done"
)
for pattern in "${expect[@]}"; do
  if ! grep -Eq -- "$pattern" "$output"; then
    echo "readme_blocks: the README's blocks never showed: $pattern" >&2
    exit 1
  fi
done
for picture in top.png share.png alloc.png; do
  if [ "$(head -c 4 "$work/$picture" | od -An -c | tr -d ' ')" != "211PNG" ]; then
    echo "readme_blocks: $picture is not a PNG" >&2
    exit 1
  fi
done
echo "readme_blocks: $blocks blocks ran"
