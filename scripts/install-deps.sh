#!/usr/bin/env bash
# Installs the Debian packages the vxpu build needs, only those that are missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev libcairo2-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libcpp-httplib-dev prometheus-cpp-dev libsqlite3-dev
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v nvcc >/dev/null 2>&1 && [ ! -f /usr/local/cuda/include/cuda.h ]; then
  echo "install-deps: warning: no CUDA toolkit headers found (nvcc not on PATH, no /usr/local/cuda);" \
       "the build needs cuda.h" >&2
fi
