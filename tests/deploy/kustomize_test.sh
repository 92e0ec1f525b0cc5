#!/usr/bin/env bash
# ctest deploy.kustomize: renders the kustomize base deploy/kubernetes with `kubectl kustomize`
# and validates every object it renders (and the example pod) with tests/deploy/validate.mjs
# against the Kubernetes OpenAPI schemas; then checks that each broken fixture in
# tests/deploy/broken is rejected, for the reason its "# expect:" lines give.
# Fails, never skips, when kubectl, node or the validator's npm packages are missing:
# scripts/install-deps.sh installs them (scripts/test.sh runs it first).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
kubectl="${KUBECTL:-kubectl}"

fail() { echo "deploy.kustomize: FAIL: $*" >&2; exit 1; }

command -v "$kubectl" >/dev/null 2>&1 ||
  fail "no kubectl on PATH: run scripts/install-deps.sh (it installs Debian's kubernetes-client when no kubectl is there)"
command -v node >/dev/null 2>&1 || fail "no node on PATH: run scripts/install-deps.sh (Debian's nodejs, npm)"
for m in kubernetes-models @kubernetes-models/prometheus-operator typescript ajv yaml; do
  [ -f "$here/node_modules/$m/package.json" ] ||
    fail "the validator is not installed ($here/node_modules/$m missing): run scripts/install-deps.sh (npm ci in tests/deploy)"
done

tmp="$(mktemp -d)" || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

version="$("$kubectl" version --client 2>/dev/null | head -n 2 | tr '\n' ' ')"
echo "deploy.kustomize: $kubectl: $version"

# 1. Render.
"$kubectl" kustomize "$root/deploy/kubernetes" >"$tmp/rendered.yaml" 2>"$tmp/kustomize.err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/kustomize.err" >&2; fail "kubectl kustomize deploy/kubernetes exited $rc"; }
[ -s "$tmp/rendered.yaml" ] || fail "kubectl kustomize rendered nothing"

# 2. Every rendered object, and the example pod (not in the base), must be valid.
for input in "$tmp/rendered.yaml" "$root/deploy/kubernetes/examples/pod.yaml"; do
  node "$here/validate.mjs" "$input" >"$tmp/out" 2>&1
  rc=$?
  cat "$tmp/out"
  [ "$rc" -eq 0 ] || fail "$input: the validator exited $rc (1: rejected, 2: could not run)"
done

# The base must hold what docs/kubernetes.md promises: the kinds, the contract's paths and flags.
for want in "kind: Namespace" "kind: DaemonSet" "kind: ServiceMonitor" "kind: ConfigMap" \
            "kind: ClusterRoleBinding" "name: vxpu-scheduler" "name: vxpu-kube-scheduler" \
            "--device-plugin-dir=/var/lib/kubelet/device-plugins" "--host-lib-dir=/var/lib/vxpu" \
            "--state-dir=/var/run/vxpu" "--metrics-addr=:9395" "--api-addr=:9396" \
            "path: /var/lib/kubelet/pod-resources" "hostPID: true" "name: vxpu.io/gpu-units" \
            "nodeCacheCapable: true" "schedulerName: vxpu-scheduler" \
            "--agents-dns=vxpud.vxpu-system.svc.cluster.local:9396" "--node-name=\$(NODE_NAME)" \
            "fieldPath: spec.nodeName" "clusterIP: None" "publishNotReadyAddresses: true"; do
  grep -qF -- "$want" "$tmp/rendered.yaml" || fail "the rendered base lacks \"$want\""
done
objects="$(grep -c '^kind: ' "$tmp/rendered.yaml")"

# 3. Each broken fixture must be rejected (exit 1, not 2: a validator that cannot run proves
#    nothing), with every message its "# expect:" lines name.
fixtures=0
for f in "$here"/broken/*.yaml; do
  [ -f "$f" ] || fail "no broken fixtures in $here/broken"
  name="$(basename "$f")"
  grep -q '^# expect: ' "$f" || fail "$name has no \"# expect:\" line"
  node "$here/validate.mjs" "$f" >"$tmp/out" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] || { cat "$tmp/out" >&2; fail "$name: the validator exited $rc, not 1 (rejected)"; }
  while IFS= read -r expect; do
    grep -qF -- "$expect" "$tmp/out" || { cat "$tmp/out" >&2; fail "$name: rejected, but not with \"$expect\""; }
  done < <(sed -n 's/^# expect: //p' "$f")
  echo "deploy.kustomize: $name rejected as expected"
  fixtures=$((fixtures + 1))
done

echo "deploy.kustomize: $objects objects rendered and valid; $fixtures broken fixtures rejected"
exit 0
