// libFuzzer target for the kube-scheduler extender's JSON parsers (src/k8s/extender_protocol.h):
// the filter/prioritize body (ParseExtenderArgs) and the bind body (ParseBindingArgs), both fed
// the same untrusted bytes. Besides "never crashes", it checks what the parsers promise:
//   - a refusal comes with an error, on one line;
//   - accepted args hold the limits (pod name and node names 1..253 bytes, at most 10,000 nodes,
//     one Node object per name unless nodeCacheCapable);
//   - the filter answer passing every node (FilterResultJson(FilterResultFor(args, names))) is
//     JSON and gives back the same names in the same order, from NodeNames or Nodes.items;
//   - accepted binding args hold their limits and a BindingResultJson of them is JSON.
// A broken promise aborts (a "crash" to libFuzzer; a failed test to the corpus driver).
//
// Built two ways: with clang -fsanitize=fuzzer,address,undefined by scripts/fuzz.sh (target
// extender_fuzz), and with the normal compiler plus fuzz/corpus_driver.cc as the ctest
// k8s.extender.FuzzCorpus, which runs every file of fuzz/corpus/extender through this function.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "k8s/extender_protocol.h"

namespace {

using nlohmann::json;

using vxpu_fuzz::CheckRefusal;
using vxpu_fuzz::Fail;

bool IsName(const std::string& s) { return !s.empty() && s.size() <= vxpu::kExtenderMaxName; }

// The names a filter answer passes, read as kube-scheduler reads them.
std::vector<std::string> PassedNames(const std::string& text, bool node_cache_capable) {
  json answer = json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!answer.is_discarded() && answer.is_object(), "FilterResultJson output is not a JSON object: " + text);
  for (const char* key : {"Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}) {
    FUZZ_CHECK(answer.contains(key), std::string("FilterResultJson output lacks ") + key + ": " + text);
  }
  FUZZ_CHECK(answer["Error"] == "", text);
  std::vector<std::string> names;
  if (node_cache_capable) {
    FUZZ_CHECK(answer["Nodes"].is_null() && answer["NodeNames"].is_array(), text);
    for (const json& n : answer["NodeNames"]) {
      FUZZ_CHECK(n.is_string(), text);
      names.push_back(n.get<std::string>());
    }
  } else {
    FUZZ_CHECK(answer["NodeNames"].is_null() && answer["Nodes"].is_object(), text);
    const json& items = answer["Nodes"]["items"];
    FUZZ_CHECK(items.is_array(), text);
    for (const json& node : items) {
      FUZZ_CHECK(node.is_object() && node.contains("metadata") && node["metadata"].is_object() &&
                     node["metadata"].contains("name") && node["metadata"]["name"].is_string(),
                 text);
      names.push_back(node["metadata"]["name"].get<std::string>());
    }
  }
  return names;
}

void FuzzArgs(const std::string& body) {
  vxpu::ExtenderArgs args;
  std::string error;
  if (!vxpu::ParseExtenderArgs(body, &args, &error)) {
    CheckRefusal(error, "ParseExtenderArgs");
    return;
  }
  FUZZ_CHECK(IsName(args.pod.name), args.pod.name);
  FUZZ_CHECK(args.pod.namespace_name.empty() || IsName(args.pod.namespace_name), args.pod.namespace_name);
  for (const auto* list : {&args.pod.containers, &args.pod.init_containers}) {
    for (const vxpu::ExtenderContainer& c : *list) FUZZ_CHECK(IsName(c.name), c.name);
  }
  FUZZ_CHECK(args.node_names.size() <= vxpu::kExtenderMaxNodes, std::to_string(args.node_names.size()));
  for (const std::string& n : args.node_names) FUZZ_CHECK(IsName(n), n);
  if (args.node_cache_capable) {
    FUZZ_CHECK(args.node_objects.empty(), "node objects with NodeNames");
  } else {
    FUZZ_CHECK(args.node_objects.size() == args.node_names.size(), "one Node object per name");
  }

  const std::string answer = vxpu::FilterResultJson(vxpu::FilterResultFor(args, args.node_names));
  const std::vector<std::string> back = PassedNames(answer, args.node_cache_capable);
  FUZZ_CHECK(back == args.node_names, "node names changed in the filter answer: " + answer);

  std::vector<vxpu::HostPriority> scores;
  for (size_t i = 0; i < args.node_names.size(); ++i) scores.push_back({args.node_names[i], int64_t(i % 11)});
  json list = json::parse(vxpu::PriorityListJson(scores), nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(list.is_array() && list.size() == scores.size(), "PriorityListJson output");
  for (size_t i = 0; i < scores.size(); ++i) FUZZ_CHECK(list[i]["Host"] == scores[i].host, scores[i].host);
}

void FuzzBinding(const std::string& body) {
  vxpu::ExtenderBindingArgs args;
  std::string error;
  if (!vxpu::ParseBindingArgs(body, &args, &error)) {
    CheckRefusal(error, "ParseBindingArgs");
    return;
  }
  FUZZ_CHECK(IsName(args.pod_name) && IsName(args.node), args.pod_name + " " + args.node);
  FUZZ_CHECK(args.pod_namespace.size() <= vxpu::kExtenderMaxName && args.pod_uid.size() <= vxpu::kExtenderMaxName,
             args.pod_namespace);
  const std::string result = vxpu::BindingResultJson(args.pod_namespace + "/" + args.pod_name + " on " + args.node);
  json parsed = json::parse(result, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(parsed.is_object() && parsed.size() == 1 && parsed["Error"].is_string(), result);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  FuzzArgs(text);
  FuzzBinding(text);
  return 0;
}
