// The kube-scheduler extender v1 wire format (k8s.io/kube-scheduler/extender/v1, types.go), in one
// place: the request kube-scheduler POSTs to the filter and prioritize verbs (ExtenderArgs) and to
// the bind verb (ExtenderBindingArgs), and the answers it reads back (ExtenderFilterResult,
// HostPriorityList, ExtenderBindingResult). Pure code, no I/O; docs/kubernetes.md, "Extender wire
// format", has the JSON and where each fact comes from.
//
// The Go types carry no json tags, so the names on the wire are the Go field names (PascalCase:
// "Pod", "Nodes", "NodeNames", "FailedNodes", ...) and no field is ever omitted: a nil pointer,
// slice or map is written as null. The Pod and Node inside are core/v1 objects (camelCase:
// "metadata", "spec", "items").
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vxpu {

// What a parser accepts at most.
inline constexpr size_t kExtenderMaxNodes = 10000;
inline constexpr size_t kExtenderMaxName = 253;  // a Kubernetes name (DNS subdomain)
inline constexpr int kExtenderMaxNesting = 64;   // a real Pod or Node nests about 10 levels

// One container of the pod: its resources.requests and resources.limits, resource name ->
// quantity string as written ("500m", "4Gi"; src/k8s/quantity.h reads them).
struct ExtenderContainer {
  std::string name;
  std::map<std::string, std::string> requests;
  std::map<std::string, std::string> limits;
};

// The parts of the pod (a core/v1 Pod) the extender uses.
struct ExtenderPod {
  std::string namespace_name;  // metadata.namespace ("" when absent)
  std::string name;            // metadata.name, never empty
  std::string uid;             // metadata.uid ("" when absent)
  std::map<std::string, std::string> annotations;
  std::vector<ExtenderContainer> containers;       // spec.containers
  std::vector<ExtenderContainer> init_containers;  // spec.initContainers
};

// ExtenderArgs: the body of the filter and prioritize calls.
struct ExtenderArgs {
  ExtenderPod pod;
  // True when the candidates came as "NodeNames" (the extender is nodeCacheCapable), false when
  // they came as full Node objects in "Nodes".items.
  bool node_cache_capable = false;
  std::vector<std::string> node_names;  // either way, in the order given
  // The Node objects of "Nodes".items, as given (empty when node_cache_capable): a filter answer
  // to an extender that is not nodeCacheCapable must send the passing ones back whole, because
  // kube-scheduler uses the Node objects it reads back.
  std::vector<nlohmann::json> node_objects;
};

// Parses an ExtenderArgs body. Refused (false, *error one line naming the field, a bad value
// quoted as JSON cut to 80 characters): not JSON, not an object, nested deeper than
// kExtenderMaxNesting, Pod missing or null, Nodes and NodeNames both null or missing, a field of
// the wrong type, a pod or node name empty or longer than kExtenderMaxName bytes, more than
// kExtenderMaxNodes nodes. NodeNames wins when both are given. Unknown fields are ignored (as Go
// does). Field names are matched exactly (Go's decoder would also take "nodenames"; kube-scheduler
// never writes that).
bool ParseExtenderArgs(const std::string& body, ExtenderArgs* out, std::string* error);

// ExtenderFilterResult. Set `node_names` (NodeNames) for a nodeCacheCapable extender, `nodes`
// (Nodes.items, whole Node objects) for one that is not; kube-scheduler reads NodeNames only when
// it is configured nodeCacheCapable, else Nodes.
struct ExtenderFilterResult {
  std::optional<std::vector<std::string>> node_names;                // nullopt: "NodeNames": null
  std::optional<std::vector<nlohmann::json>> nodes;                  // nullopt: "Nodes": null
  std::map<std::string, std::string> failed_nodes;                   // node -> reason (preemption may help)
  std::map<std::string, std::string> failed_and_unresolvable_nodes;  // node -> reason (it will not)
  std::string error;  // non-empty: kube-scheduler fails the whole filter call with it
};

// The filter answer to `args` that passes `passing` (names from args.node_names, in that order)
// in the form the request came in: NodeNames, or the passing Node objects in Nodes.
ExtenderFilterResult FilterResultFor(const ExtenderArgs& args, const std::vector<std::string>& passing);

// {"Nodes":null|{"metadata":{},"items":[...]},"NodeNames":null|[...],"FailedNodes":{...},
//  "FailedAndUnresolvableNodes":{...},"Error":"..."}: every field, in the Go type's order, map keys
// sorted (as encoding/json writes them).
std::string FilterResultJson(const ExtenderFilterResult& result);

// HostPriority; Score is in 0..10 by convention (MaxExtenderPriority; kube-scheduler scales it).
struct HostPriority {
  std::string host;
  int64_t score = 0;
};

// HostPriorityList: [{"Host":"node-a","Score":7},...] ([] when empty).
std::string PriorityListJson(const std::vector<HostPriority>& list);

// ExtenderBindingArgs: the body of the bind call.
struct ExtenderBindingArgs {
  std::string pod_name;       // PodName
  std::string pod_namespace;  // PodNamespace
  std::string pod_uid;        // PodUID
  std::string node;           // Node
};

// Parses an ExtenderBindingArgs body: all four fields strings, PodName and Node non-empty, none
// longer than kExtenderMaxName bytes; refusals as ParseExtenderArgs's.
bool ParseBindingArgs(const std::string& body, ExtenderBindingArgs* out, std::string* error);

// ExtenderBindingResult: {"Error":""} on success.
std::string BindingResultJson(const std::string& error);

}  // namespace vxpu
