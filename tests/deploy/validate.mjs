#!/usr/bin/env node
// Validates Kubernetes manifests (multi-document YAML) the way an API server would read them,
// offline. Used by ctest deploy.kustomize (tests/deploy/kustomize_test.sh) on the rendered
// deploy/kubernetes base, the example pod, and the broken fixtures it expects to be rejected.
//
//   node tests/deploy/validate.mjs FILE...
//   exit 0: every object is valid; 1: some object was rejected (one line per problem);
//   2: the validator could not run (its npm packages are missing, a file is unreadable).
//
// Each object goes through four checks:
//  1. API version and kind: a GA version (no alpha/beta; this base uses none) of a kind that
//     the Kubernetes API (kubernetes-models, generated from its OpenAPI document) or the
//     Prometheus Operator's CRDs (@kubernetes-models/prometheus-operator) defines.
//  2. Schema: the JSON schema kubernetes-models generated from the OpenAPI document (types,
//     required fields, enums, formats). Those schemas leave objects open: an unknown field passes.
//  3. Unknown fields: every object is type-checked by the TypeScript compiler against the
//     interfaces kubernetes-models generated from the same OpenAPI document; an object literal
//     with a field its type does not declare ("hostPaht") is an error (excess property check),
//     as the API server's strict field validation refuses it.
//  4. Embedded configuration: a ConfigMap value that is a KubeSchedulerConfiguration is checked
//     against schemas/kube-scheduler-config-v1.json (closed objects, written from the Go types).
// And across the objects given together: references resolve (service accounts, config maps,
// roles, Service selectors and ports, the ServiceMonitor's Service and port, the scheduler's
// extender URL), probes name ports their container has.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function die(message) {
  console.error(`validate: ${message}`);
  process.exit(2);
}

// A crash of the validator itself is not a rejection of the input.
process.on("uncaughtException", (e) => die(`internal error: ${e.stack ?? e}`));
process.on("unhandledRejection", (e) => die(`internal error: ${e?.stack ?? e}`));

let YAML, ts, Ajv;
try {
  YAML = (await import("yaml")).default;
  ts = (await import("typescript")).default;
  Ajv = (await import("ajv")).default;
  await import("kubernetes-models/v1/Pod");
  await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor");
} catch (e) {
  die(`the validator's npm packages are not installed in ${here}/node_modules (${e.message.split("\n")[0]}); ` +
      `run scripts/install-deps.sh (npm ci --prefix tests/deploy)`);
}

const files = process.argv.slice(2);
if (files.length === 0) die("usage: validate.mjs FILE...");

const problems = [];
const objects = [];  // {file, doc, obj, id, model}

function where(o) {
  const ns = o.obj?.metadata?.namespace;
  return `${o.file}: ${o.obj?.kind ?? "?"} ${ns ? ns + "/" : ""}${o.obj?.metadata?.name ?? "?"}`;
}
function problem(o, message) { problems.push(`${where(o)}: ${message}`); }

// --- read ---
for (const file of files) {
  let text;
  try { text = readFileSync(file, "utf8"); } catch (e) { die(`cannot read ${file}: ${e.message}`); }
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  docs.forEach((doc, i) => {
    for (const err of doc.errors) problems.push(`${file}: document ${i + 1}: YAML: ${err.message.split("\n")[0]}`);
    if (doc.errors.length) return;
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return;  // an empty document
    objects.push({ file, doc: i + 1, obj });
  });
}

// --- 1 + 2: kind and schema ---
function modulePath(apiVersion, kind) {
  if (apiVersion === "v1") return `kubernetes-models/v1/${kind}`;
  if (apiVersion.startsWith("monitoring.coreos.com/"))
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

for (const o of objects) {
  const { obj } = o;
  if (typeof obj !== "object" || Array.isArray(obj)) { problem(o, "not an object"); continue; }
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    problem(o, "apiVersion and kind must be strings"); continue;
  }
  if (typeof obj.metadata?.name !== "string" || obj.metadata.name === "") {
    problem(o, "metadata.name is required"); continue;
  }
  if (!/^([a-z0-9.-]+\/)?v[0-9]+$/.test(obj.apiVersion)) {
    problem(o, `apiVersion ${JSON.stringify(obj.apiVersion)} is not a GA version (alpha and beta APIs ` +
               `are not served by default, and most were removed)`);
    continue;
  }
  const path = modulePath(obj.apiVersion, obj.kind);
  let Model;
  try {
    Model = (await import(path))[obj.kind];
  } catch { /* not found: below */ }
  if (typeof Model !== "function" || Model.apiVersion !== obj.apiVersion || Model.kind !== obj.kind) {
    problem(o, `no kind ${obj.kind} in ${obj.apiVersion} (neither the Kubernetes API nor the Prometheus Operator defines it)`);
    continue;
  }
  o.model = { path, type: `I${obj.kind}` };
  try {
    new Model(obj).validate();
  } catch (e) {
    for (const line of String(e.message).split(/\n|, (?=data)/)) problem(o, `schema: ${line.replace(/^data/, "")}`);
  }
}

// --- 3: unknown fields (and types, again) by the TypeScript compiler ---
{
  const typed = objects.filter((o) => o.model);
  const lines = [];
  const spans = [];  // [firstLine, lastLine, object]
  typed.forEach((o, i) => lines.push(`import type { ${o.model.type} as T${i} } from ${JSON.stringify(o.model.path)};`));
  typed.forEach((o, i) => {
    const body = `const o${i}: T${i} = ${JSON.stringify(o.obj, null, 2)};`.split("\n");
    spans.push([lines.length, lines.length + body.length - 1, o]);
    lines.push(...body);
  });
  const virtualName = join(here, "__rendered__.ts");
  const source = lines.join("\n") + "\nexport {};\n";
  const options = {
    noEmit: true, strict: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === virtualName ? ts.createSourceFile(name, source, lang, true) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtualName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtualName ? source : readFile(name));
  const program = ts.createProgram([virtualName], options, host);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ").replace(/'"([^"']+)"'/g, "'$1'");
    if (!d.file || d.file.fileName !== virtualName) { die(`TypeScript: ${message}`); }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const span = spans.find(([a, b]) => line >= a && line <= b);
    if (!span) die(`TypeScript: ${message}`);  // an import failed: the packages are broken
    // The field's path: the keys of the lines that enclose it, each less indented than the last.
    const indent = (l) => /^ */.exec(lines[l])[0].length;
    const path = [];
    let depth = indent(line) + 1;
    for (let l = line; l > span[0] && depth > 0; --l) {
      if (indent(l) >= depth) continue;
      const m = /^ *"([^"]+)":/.exec(lines[l]);
      if (m) path.unshift(m[1]);
      depth = indent(l);
    }
    problem(span[2], `unknown field or wrong type at ${path.join(".") || "(top)"}: ${message}`);
  }
}

// --- 4: a KubeSchedulerConfiguration inside a ConfigMap ---
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const schedulerSchema = JSON.parse(readFileSync(join(here, "schemas/kube-scheduler-config-v1.json"), "utf8"));
const validateSchedulerConfig = ajv.compile(schedulerSchema);
const schedulerConfigs = [];  // the valid ones: {o, key, config}
let schedulerConfigsSeen = 0;
for (const o of objects.filter((x) => x.model && x.obj.kind === "ConfigMap")) {
  for (const [key, value] of Object.entries(o.obj.data ?? {})) {
    if (typeof value !== "string" || !/^\s*(apiVersion|kind):\s*kubescheduler\.config\.k8s\.io|KubeSchedulerConfiguration/m.test(value)) continue;
    ++schedulerConfigsSeen;
    let config;
    try {
      config = YAML.parse(value, { uniqueKeys: true });
    } catch (e) {
      problem(o, `data[${key}]: YAML: ${e.message.split("\n")[0]}`); continue;
    }
    if (!validateSchedulerConfig(config)) {
      for (const e of validateSchedulerConfig.errors.filter((x) => x.keyword !== "if")) {
        const extra = e.keyword === "additionalProperties" ? ` (unknown field ${JSON.stringify(e.params.additionalProperty)})`
                    : e.keyword === "const" || e.keyword === "enum" ? ` (${JSON.stringify(e.params.allowedValue ?? e.params.allowedValues)})` : "";
        problem(o, `data[${key}]: KubeSchedulerConfiguration ${e.instancePath || "(top)"} ${e.message}${extra}`);
      }
      continue;
    }
    schedulerConfigs.push({ o, key, config });
  }
}

// --- across objects ---
const valid = objects.filter((o) => o.model);
const find = (kind, ns, name) => valid.find((x) => x.obj.kind === kind && x.obj.metadata.name === name &&
                                                 (ns === undefined || (x.obj.metadata.namespace ?? "default") === ns));
{
  const seen = new Map();
  for (const o of valid) {
    const id = `${o.obj.apiVersion.split("/").slice(0, -1).join("/")}/${o.obj.kind}/${o.obj.metadata.namespace ?? ""}/${o.obj.metadata.name}`;
    if (seen.has(id)) problem(o, `defined twice (also ${where(seen.get(id))})`);
    seen.set(id, o);
  }
}
const workloads = valid.map((o) => {
  const k = o.obj.kind;
  const template = k === "Pod" ? o.obj : ["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"].includes(k)
    ? o.obj.spec?.template : k === "CronJob" ? o.obj.spec?.jobTemplate?.spec?.template : undefined;
  return template ? { o, ns: o.obj.metadata.namespace ?? "default", labels: template.metadata?.labels ?? {}, spec: template.spec ?? {} } : null;
}).filter(Boolean);
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
const BUILT_IN_ROLES = new Set(["extension-apiserver-authentication-reader", "cluster-admin", "admin", "edit", "view"]);

for (const w of workloads) {
  const { o, ns, spec } = w;
  const sa = spec.serviceAccountName;
  if (sa && sa !== "default" && !find("ServiceAccount", ns, sa)) problem(o, `serviceAccountName ${sa}: no such ServiceAccount in ${ns}`);
  for (const v of spec.volumes ?? []) {
    if (v.configMap && !v.configMap.optional && !find("ConfigMap", ns, v.configMap.name))
      problem(o, `volume ${v.name}: no ConfigMap ${ns}/${v.configMap.name}`);
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const names = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port ?? c[probe]?.grpc?.port;
      if (typeof port === "string" && !/^[0-9]+$/.test(port) && !names.has(port))
        problem(o, `container ${c.name}: ${probe} uses port ${JSON.stringify(port)}, which the container does not name`);
    }
    const mounts = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const m of c.volumeMounts ?? []) {
      if (!mounts.has(m.name)) problem(o, `container ${c.name}: volumeMount ${m.name}: no such volume`);
    }
  }
  if (o.obj.kind !== "Pod" && o.obj.spec?.selector?.matchLabels && !matches(o.obj.spec.selector.matchLabels, w.labels))
    problem(o, "spec.selector does not match the pod template's labels");
}

for (const o of valid.filter((x) => x.obj.kind === "Service" && x.obj.spec?.selector)) {
  const ns = o.obj.metadata.namespace ?? "default";
  const pods = workloads.filter((w) => w.ns === ns && matches(o.obj.spec.selector, w.labels));
  if (pods.length === 0) { problem(o, "its selector matches no pod template given here"); continue; }
  const named = new Set(pods.flatMap((w) => (w.spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name))));
  for (const p of o.obj.spec.ports ?? []) {
    if (typeof p.targetPort === "string" && !named.has(p.targetPort))
      problem(o, `port ${p.name ?? p.port}: targetPort ${JSON.stringify(p.targetPort)} is not a port of the pods it selects`);
  }
}

for (const o of valid.filter((x) => x.obj.kind === "ServiceMonitor")) {
  const namespaces = o.obj.spec?.namespaceSelector?.matchNames ?? [o.obj.metadata.namespace ?? "default"];
  const services = valid.filter((x) => x.obj.kind === "Service" && namespaces.includes(x.obj.metadata.namespace ?? "default") &&
                                        matches(o.obj.spec?.selector?.matchLabels, x.obj.metadata.labels ?? {}));
  if (services.length === 0) { problem(o, "its selector matches no Service given here"); continue; }
  for (const e of o.obj.spec?.endpoints ?? []) {
    if (e.port && !services.some((s) => (s.obj.spec.ports ?? []).some((p) => p.name === e.port)))
      problem(o, `endpoint port ${JSON.stringify(e.port)} is not a port of the Services it selects`);
  }
}

for (const o of valid.filter((x) => x.obj.kind === "RoleBinding" || x.obj.kind === "ClusterRoleBinding")) {
  for (const s of o.obj.subjects ?? []) {
    if (s.kind === "ServiceAccount" && !find("ServiceAccount", s.namespace, s.name))
      problem(o, `subject ServiceAccount ${s.namespace}/${s.name}: not defined here`);
  }
  const ref = o.obj.roleRef ?? {};
  const ns = ref.kind === "Role" ? (o.obj.metadata.namespace ?? "default") : undefined;
  if (!ref.name?.startsWith("system:") && !BUILT_IN_ROLES.has(ref.name) && !find(ref.kind, ns, ref.name))
    problem(o, `roleRef ${ref.kind} ${ref.name}: not defined here, nor built in`);
}

for (const { o, key, config } of schedulerConfigs) {
  for (const [i, e] of (config.extenders ?? []).entries()) {
    const m = /^https?:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.[a-z0-9.-]+)?:([0-9]+)(\/|$)/.exec(e.urlPrefix);
    if (!m) continue;  // not a Service address: nothing to check here
    const svc = find("Service", m[2], m[1]);
    if (!svc) problem(o, `data[${key}]: extenders[${i}].urlPrefix: no Service ${m[2]}/${m[1]} given here`);
    else if (!(svc.obj.spec.ports ?? []).some((p) => String(p.port) === m[4]))
      problem(o, `data[${key}]: extenders[${i}].urlPrefix: Service ${m[2]}/${m[1]} has no port ${m[4]}`);
  }
}

for (const p of problems) console.log(p);
const rejected = problems.length > 0;
console.log(`validate: ${objects.length} objects in ${files.length} file(s), ${schedulerConfigsSeen} scheduler configuration(s): ` +
            (rejected ? `${problems.length} problem(s)` : "all valid"));
process.exit(rejected ? 1 : 0);
