// src/k8s/extender_protocol.h: the kube-scheduler extender v1 JSON. Real-format bodies (a Pod as
// kube-scheduler marshals it, sent nodeCacheCapable with NodeNames and not, with whole Nodes) are
// the seeds fuzz/corpus/extender/args_node_names.json and args_nodes.json; every refusal's exact
// message; the answers' exact bytes.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "k8s/extender_protocol.h"

namespace vxpu {
namespace {

using nlohmann::json;

std::string ReadSeed(const std::string& name) {
  std::ifstream in(std::string(VXPU_EXTENDER_CORPUS) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The nodeCacheCapable request with `patch` merged over it (a null removes a key).
std::string NamesBody(const json& patch = json::object()) {
  json body = json::parse(ReadSeed("args_node_names.json"));
  body.merge_patch(patch);
  return body.dump();
}

ExtenderArgs Accepted(const std::string& body) {
  ExtenderArgs args;
  std::string error;
  EXPECT_TRUE(ParseExtenderArgs(body, &args, &error)) << error;
  return args;
}

std::string Refusal(const std::string& body) {
  ExtenderArgs args;
  std::string error;
  EXPECT_FALSE(ParseExtenderArgs(body, &args, &error)) << body.substr(0, 200);
  EXPECT_EQ(error.find_first_of("\r\n"), std::string::npos) << error;
  return error;
}

void ExpectPod(const ExtenderPod& pod) {
  EXPECT_EQ(pod.namespace_name, "ml");
  EXPECT_EQ(pod.name, "train-0");
  EXPECT_EQ(pod.uid, "6f1c2d4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f");
  EXPECT_EQ(pod.annotations.size(), 2u);
  EXPECT_EQ(pod.annotations.at("vxpu.io/policy"), "hi");
  EXPECT_EQ(pod.annotations.at("kubectl.kubernetes.io/last-applied-configuration"),
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}\n");
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].name, "trainer");
  const std::map<std::string, std::string> requests = {
      {"cpu", "2"}, {"memory", "8Gi"}, {"vxpu.io/gpu-compute", "250m"}, {"vxpu.io/gpu-memory", "8Gi"}};
  const std::map<std::string, std::string> limits = {
      {"memory", "16Gi"}, {"vxpu.io/gpu-compute", "250m"}, {"vxpu.io/gpu-memory", "8Gi"}};
  EXPECT_EQ(pod.containers[0].requests, requests);
  EXPECT_EQ(pod.containers[0].limits, limits);
  EXPECT_EQ(pod.containers[1].name, "sidecar");
  EXPECT_TRUE(pod.containers[1].requests.empty());
  EXPECT_TRUE(pod.containers[1].limits.empty());
  ASSERT_EQ(pod.init_containers.size(), 1u);
  EXPECT_EQ(pod.init_containers[0].name, "fetch");
  const std::map<std::string, std::string> init_requests = {{"cpu", "100m"}, {"memory", "64Mi"}};
  EXPECT_EQ(pod.init_containers[0].requests, init_requests);
  EXPECT_TRUE(pod.init_containers[0].limits.empty());
}

TEST(ExtenderArgs, NodeCacheCapableRequest) {
  ExtenderArgs args = Accepted(ReadSeed("args_node_names.json"));
  ExpectPod(args.pod);
  EXPECT_TRUE(args.node_cache_capable);
  EXPECT_EQ(args.node_names, (std::vector<std::string>{"gpu-node-1", "gpu-node-2", "cpu-node-1"}));
  EXPECT_TRUE(args.node_objects.empty());
}

TEST(ExtenderArgs, FullNodesRequest) {
  const std::string body = ReadSeed("args_nodes.json");
  ExtenderArgs args = Accepted(body);
  ExpectPod(args.pod);
  EXPECT_FALSE(args.node_cache_capable);
  EXPECT_EQ(args.node_names, (std::vector<std::string>{"gpu-node-1", "gpu-node-2"}));
  ASSERT_EQ(args.node_objects.size(), 2u);
  EXPECT_EQ(args.node_objects[1], json::parse(body)["Nodes"]["items"][1]);
}

TEST(ExtenderArgs, NodeNamesWinOverNodesAndEmptyListsAreFine) {
  json nodes = json::parse(ReadSeed("args_nodes.json"))["Nodes"];
  ExtenderArgs both = Accepted(NamesBody({{"Nodes", nodes}}));
  EXPECT_TRUE(both.node_cache_capable);
  EXPECT_EQ(both.node_names.size(), 3u);
  EXPECT_TRUE(both.node_objects.empty());
  EXPECT_TRUE(Accepted(NamesBody({{"NodeNames", json::array()}})).node_names.empty());
  ExtenderArgs empty_list = Accepted(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"metadata", json::object()}}}}));
  EXPECT_FALSE(empty_list.node_cache_capable);
  EXPECT_TRUE(empty_list.node_names.empty());
  ExtenderArgs minimal = Accepted(R"({"Pod":{"metadata":{"name":"p"}},"NodeNames":["n"]})");
  EXPECT_EQ(minimal.pod.name, "p");
  EXPECT_EQ(minimal.pod.namespace_name, "");
  EXPECT_TRUE(minimal.pod.containers.empty());
}

TEST(ExtenderArgs, Limits) {
  EXPECT_EQ(Accepted(NamesBody({{"NodeNames", json::array({std::string(253, 'n')})}})).node_names[0].size(), 253u);
  std::vector<std::string> many(kExtenderMaxNodes, "n");
  EXPECT_EQ(Accepted(NamesBody({{"NodeNames", many}})).node_names.size(), kExtenderMaxNodes);
  many.push_back("n");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", many}})), "NodeNames: 10001 nodes, at most 10000");
  json items = json::array();
  for (size_t i = 0; i <= kExtenderMaxNodes; ++i) items.push_back({{"metadata", {{"name", "n"}}}});
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", items}}}})),
            "Nodes.items: 10001 nodes, at most 10000");
  // 64 levels pass, 65 do not: "Pod" is level 2, so 62 arrays in an annotation-free field.
  auto nested = [](int arrays) { return std::string(arrays, '[') + std::string(arrays, ']'); };
  ExtenderArgs args;
  std::string error;
  EXPECT_TRUE(
      ParseExtenderArgs(R"({"Pod":{"metadata":{"name":"p"},"x":)" + nested(62) + R"(},"NodeNames":[]})", &args, &error))
      << error;
  EXPECT_EQ(Refusal(R"({"Pod":{"metadata":{"name":"p"},"x":)" + nested(63) + R"(},"NodeNames":[]})"),
            "extender args: nested deeper than 64 levels");
  EXPECT_EQ(Refusal(nested(100000)), "extender args: nested deeper than 64 levels");
}

TEST(ExtenderArgs, Refusals) {
  EXPECT_EQ(Refusal(""), "extender args: not JSON");
  EXPECT_EQ(Refusal("{\"Pod\":"), "extender args: not JSON");
  EXPECT_EQ(Refusal("[1]"), "extender args: want a JSON object, got an array");
  EXPECT_EQ(Refusal("null"), "extender args: want a JSON object, got null");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", nullptr}})), "Pod: missing");
  EXPECT_EQ(Refusal(R"({"pod":{},"NodeNames":[]})"), "Pod: missing");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}})), "Nodes and NodeNames: both null or missing");
  EXPECT_EQ(Refusal(R"({"Pod":{"metadata":{"name":"p"}},"Nodes":null,"NodeNames":null})"),
            "Nodes and NodeNames: both null or missing");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", "train-0"}})), "Pod: want an object, got a string \"train-0\"");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", nullptr}}}})), "Pod.metadata: missing");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", 7}}}})), "Pod.metadata: want an object, got a number 7");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"name", nullptr}}}}}})), "Pod.metadata.name: missing");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"name", ""}}}}}})), "Pod.metadata.name: empty");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"name", 1.5}}}}}})),
            "Pod.metadata.name: want a string, got a number 1.5");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"name", std::string(254, 'p')}}}}}})),
            "Pod.metadata.name: 254 bytes long, at most 253: \"" + std::string(79, 'p') + "...");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"namespace", ""}}}}}})), "Pod.metadata.namespace: empty");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"uid", false}}}}}})),
            "Pod.metadata.uid: want a string, got a boolean false");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"annotations", json::array()}}}}}})),
            "Pod.metadata.annotations: want an object, got an array []");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"annotations", {{"a\nb", 1}}}}}}}})),
            "Pod.metadata.annotations.a\\nb: want a string, got a number 1");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"spec", "x"}}}})), "Pod.spec: want an object, got a string \"x\"");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"spec", {{"containers", json::object()}}}}}})),
            "Pod.spec.containers: want an array, got an object {}");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"spec", {{"containers", {1}}}}}}})),
            "Pod.spec.containers[0]: want an object, got a number 1");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"spec", {{"initContainers", {json::object()}}}}}}})),
            "Pod.spec.initContainers[0].name: missing");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"spec", {{"containers", {{{"name", "c"}, {"resources", 1}}}}}}}}})),
            "Pod.spec.containers[0].resources: want an object, got a number 1");
  EXPECT_EQ(Refusal(NamesBody(
                {{"Pod",
                  {{"spec",
                    {{"containers", {{{"name", "c"}, {"resources", {{"limits", {{"vxpu.io/gpu-memory", 8}}}}}}}}}}}}})),
            "Pod.spec.containers[0].resources.limits.vxpu.io/gpu-memory: want a string, got a number 8");
  EXPECT_EQ(Refusal(NamesBody(
                {{"Pod", {{"spec", {{"containers", {{{"name", "c"}, {"resources", {{"requests", "1"}}}}}}}}}}})),
            "Pod.spec.containers[0].resources.requests: want an object, got a string \"1\"");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", "gpu-node-1"}})), "NodeNames: want an array, got a string \"gpu-node-1\"");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", {"a", 2}}})), "NodeNames[1]: want a string, got a number 2");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", {"a", ""}}})), "NodeNames[1]: empty");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", {std::string(254, 'n')}}})),
            "NodeNames[0]: 254 bytes long, at most 253: \"" + std::string(79, 'n') + "...");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", json::array()}})),
            "Nodes: want an object, got an array []");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", json::object()}}}})),
            "Nodes.items: want an array, got an object {}");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", {"n"}}}}})),
            "Nodes.items[0]: want an object, got a string \"n\"");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", {json::object()}}}}})),
            "Nodes.items[0].metadata: missing");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", {{{"metadata", {{"uid", "u"}}}}}}}}})),
            "Nodes.items[0].metadata.name: missing");
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", nullptr}, {"Nodes", {{"items", {{{"metadata", {{"name", {1}}}}}}}}}})),
            "Nodes.items[0].metadata.name: want a string, got an array [1]");
  // A bad value is quoted escaped and cut: one line whatever it holds.
  EXPECT_EQ(Refusal(NamesBody({{"NodeNames", {std::string("a\n\x01\"b") + std::string(300, 'z')}}})),
            "NodeNames[0]: 305 bytes long, at most 253: \"a\\n\\u0001\\\"b" + std::string(67, 'z') + "...");
  EXPECT_EQ(Refusal(NamesBody({{"Pod", {{"metadata", {{"name", json::array({std::string(100, 'x')})}}}}}})),
            "Pod.metadata.name: want a string, got an array [\"" + std::string(78, 'x') + "...");
}

TEST(ExtenderArgs, RefusalLeavesOutputUntouched) {
  ExtenderArgs args = Accepted(ReadSeed("args_node_names.json"));
  std::string error;
  EXPECT_FALSE(ParseExtenderArgs(NamesBody({{"NodeNames", {"a", 2}}}), &args, &error));
  EXPECT_EQ(args.node_names.size(), 3u);
}

TEST(FilterResult, NodeCacheCapableAnswerIsExact) {
  ExtenderArgs args = Accepted(ReadSeed("args_node_names.json"));
  ExtenderFilterResult result = FilterResultFor(args, {"gpu-node-2", "gpu-node-1"});
  result.failed_nodes["cpu-node-1"] = "no vxpu GPU";
  result.failed_and_unresolvable_nodes["gpu-node-9"] = "80Gi GPU, asked for \"96Gi\"";
  EXPECT_EQ(FilterResultJson(result),
            R"({"Nodes":null,"NodeNames":["gpu-node-2","gpu-node-1"],"FailedNodes":{"cpu-node-1":"no vxpu GPU"},)"
            R"("FailedAndUnresolvableNodes":{"gpu-node-9":"80Gi GPU, asked for \"96Gi\""},"Error":""})");
  EXPECT_EQ(FilterResultJson(FilterResultFor(args, {})),
            R"({"Nodes":null,"NodeNames":[],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
}

TEST(FilterResult, FullNodesAnswerSendsTheNodeObjectsBack) {
  const std::string body = ReadSeed("args_nodes.json");
  ExtenderArgs args = Accepted(body);
  ExtenderFilterResult result = FilterResultFor(args, {"gpu-node-2", "not-asked-about"});
  ASSERT_TRUE(result.nodes.has_value());
  EXPECT_FALSE(result.node_names.has_value());
  const std::string text = FilterResultJson(result);
  const std::string node2 = json::parse(body)["Nodes"]["items"][1].dump();
  EXPECT_EQ(text, R"({"Nodes":{"metadata":{},"items":[)" + node2 +
                      R"(]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
}

TEST(FilterResult, ErrorAndKeyOrder) {
  ExtenderFilterResult result;
  result.error = "vxpu: no node state yet";
  result.failed_nodes = {{"b", "2"}, {"a", "1"}, {"B", "3"}};
  EXPECT_EQ(FilterResultJson(result), R"({"Nodes":null,"NodeNames":null,"FailedNodes":{"B":"3","a":"1","b":"2"},)"
                                      R"("FailedAndUnresolvableNodes":{},"Error":"vxpu: no node state yet"})");
}

TEST(PriorityList, Exact) {
  EXPECT_EQ(PriorityListJson({{"gpu-node-1", 10}, {"gpu-node-2", 0}, {"n", -3}}),
            R"([{"Host":"gpu-node-1","Score":10},{"Host":"gpu-node-2","Score":0},{"Host":"n","Score":-3}])");
  EXPECT_EQ(PriorityListJson({}), "[]");
}

std::string BindingRefusal(const std::string& body) {
  ExtenderBindingArgs args;
  std::string error;
  EXPECT_FALSE(ParseBindingArgs(body, &args, &error)) << body;
  EXPECT_EQ(error.find_first_of("\r\n"), std::string::npos) << error;
  return error;
}

TEST(Binding, ParsesKubeSchedulersBody) {
  ExtenderBindingArgs args;
  std::string error;
  ASSERT_TRUE(ParseBindingArgs(
      R"({"PodName":"train-0","PodNamespace":"ml","PodUID":"6f1c2d4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f","Node":"gpu-node-1"})",
      &args, &error))
      << error;
  EXPECT_EQ(args.pod_name, "train-0");
  EXPECT_EQ(args.pod_namespace, "ml");
  EXPECT_EQ(args.pod_uid, "6f1c2d4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f");
  EXPECT_EQ(args.node, "gpu-node-1");
  ASSERT_TRUE(ParseBindingArgs(R"({"PodName":"p","PodNamespace":"","PodUID":"","Node":"n","Extra":1})", &args, &error))
      << error;
  EXPECT_EQ(args.pod_namespace, "");
}

TEST(Binding, Refusals) {
  EXPECT_EQ(BindingRefusal("x"), "binding args: not JSON");
  EXPECT_EQ(BindingRefusal("\"x\""), "binding args: want a JSON object, got a string");
  EXPECT_EQ(BindingRefusal(std::string(100, '[') + std::string(100, ']')),
            "binding args: nested deeper than 64 levels");
  EXPECT_EQ(BindingRefusal(R"({"PodNamespace":"ml","PodUID":"u","Node":"n"})"), "PodName: missing");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"p","PodUID":"u","Node":"n"})"), "PodNamespace: missing");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"p","PodNamespace":"ml","Node":"n"})"), "PodUID: missing");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"p","PodNamespace":"ml","PodUID":"u"})"), "Node: missing");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"","PodNamespace":"ml","PodUID":"u","Node":"n"})"), "PodName: empty");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"p","PodNamespace":"ml","PodUID":"u","Node":null})"),
            "Node: want a string, got null null");
  EXPECT_EQ(BindingRefusal(R"({"PodName":"p","PodNamespace":1,"PodUID":"u","Node":"n"})"),
            "PodNamespace: want a string, got a number 1");
  EXPECT_EQ(
      BindingRefusal(R"({"PodName":"p","PodNamespace":"ml","PodUID":"u","Node":")" + std::string(254, 'n') + "\"}"),
      "Node: 254 bytes long, at most 253: \"" + std::string(79, 'n') + "...");
}

TEST(Binding, ResultJson) {
  EXPECT_EQ(BindingResultJson(""), R"({"Error":""})");
  EXPECT_EQ(BindingResultJson("pod ml/train-0: node gone\n"), R"({"Error":"pod ml/train-0: node gone\n"})");
}

}  // namespace
}  // namespace vxpu
