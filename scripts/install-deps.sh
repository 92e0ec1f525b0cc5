#!/usr/bin/env bash
# Installs the Debian packages the vxpu build needs, only those that are missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev gnuplot-nox
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libcpp-httplib-dev prometheus-cpp-dev libsqlite3-dev libssl-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  prometheus
  iproute2
  mmdebstrap umoci runc skopeo lintian help2man libyaml-cpp-dev
  libslurm-dev slurmd slurmctld slurm-client munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# ctest deploy.kustomize renders deploy/kubernetes with kubectl and validates it with Node.js:
# the kubectl on PATH if there is one (the machine image has the kubectl package of Google's
# Cloud SDK), else Debian's kubernetes-client (both install /usr/bin/kubectl); Debian's nodejs and
# npm where no node is there (the image's nodejs package brings its own npm).
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The validator of ctest deploy.kustomize (tests/deploy/validate.mjs): npm packages pinned by
# tests/deploy/package-lock.json, installed by npm ci into tests/deploy/node_modules (ignored by
# git); again only when the lock file changed since the last install.
deploy_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/deploy"
if ! cmp -s "$deploy_tests/package-lock.json" "$deploy_tests/node_modules/.vxpu-installed-lock"; then
  echo "install-deps: installing the deploy validator (npm ci in tests/deploy)"
  (cd "$deploy_tests" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$deploy_tests/package-lock.json" "$deploy_tests/node_modules/.vxpu-installed-lock"
fi

if ! command -v nvcc >/dev/null 2>&1 && [ ! -f /usr/local/cuda/include/cuda.h ]; then
  echo "install-deps: warning: no CUDA toolkit headers found (nvcc not on PATH, no /usr/local/cuda);" \
       "the build needs cuda.h" >&2
fi
