// src/extender/service.h and unit_request.h through the wire: real-format ExtenderArgs, sent
// nodeCacheCapable (NodeNames) and not (whole Nodes), and the answers' JSON as kube-scheduler
// reads it; invalid counts and bodies; node reports and addresses.
#include "extender/service.h"

#include <gtest/gtest.h>

#include <fstream>

#include "extender/agent_directory.h"
#include "extender/default_workload.h"
#include "extender_requests.h"
#include "sched/granularity.h"
#include "sched/trace.h"

namespace vxpu::extender {
namespace {

using test::ArgsWithNames;
using test::ArgsWithNodes;
using test::Gpus;
using test::json;
using test::NodeJson;
using test::Pod;

std::unique_ptr<Service> NewService(AgentDirectory* directory = nullptr) {
  EngineOptions options;
  options.typical = DefaultTypicalPods();
  std::string error;
  auto service = std::make_unique<Service>(Engine::Create(options, &error), [directory](const ExtenderArgs& args) {
    if (directory) directory->Learn(args);
  });
  service->Report("a", Gpus("a", {3, 3, 3, 3}), 0);
  service->Report("b", Gpus("b", {10, 6}), 0);
  return service;
}

json Ok(const HttpAnswer& answer) {
  EXPECT_EQ(answer.status, 200) << answer.body;
  return json::parse(answer.body);
}

TEST(ExtenderService, NodeCacheCapableFilterAnswersWithNodeNames) {
  auto service = NewService();
  json result = Ok(service->Filter(ArgsWithNames(Pod("5", "u1"), {"a", "b"}), 0));
  EXPECT_TRUE(result["Nodes"].is_null());
  EXPECT_EQ(result["NodeNames"], json({"b"}));
  EXPECT_EQ(result["FailedNodes"]["a"], "no single GPU has 5 free vxpu.io/gpu-units");
  EXPECT_EQ(result["FailedAndUnresolvableNodes"], json::object());
  EXPECT_EQ(result["Error"], "");
}

TEST(ExtenderService, FullNodesFilterSendsThePassingNodeObjectsBackWhole) {
  auto service = NewService();
  json result = Ok(service->Filter(ArgsWithNodes(Pod("20"), {NodeJson("a"), NodeJson("b")}), 0));
  EXPECT_TRUE(result["NodeNames"].is_null());
  ASSERT_EQ(result["Nodes"]["items"].size(), 0u);  // b has one whole GPU, a none
  result = Ok(service->Filter(ArgsWithNodes(Pod("10"), {NodeJson("a"), NodeJson("b")}), 0));
  ASSERT_EQ(result["Nodes"]["items"].size(), 1u);
  EXPECT_EQ(result["Nodes"]["items"][0], NodeJson("b"));
  EXPECT_EQ(result["FailedNodes"].size(), 1u);
}

TEST(ExtenderService, PrioritizeAnswersAHostPriorityList) {
  auto service = NewService();
  json scores = Ok(service->Prioritize(ArgsWithNames(Pod("3", "u2"), {"a", "b"}), 0));
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0]["Host"], "a");
  EXPECT_EQ(scores[1]["Host"], "b");
  EXPECT_EQ(scores[0]["Score"].get<int>() + scores[1]["Score"].get<int>(), 10);
  EXPECT_NE(service->WithEngine([](Engine& e) { return e.PendingOf("u2"); }), nullptr);
  // Keyed by namespace/name without a uid.
  Ok(service->Prioritize(ArgsWithNames(Pod("1", "", "nouid"), {"a", "b"}), 0));
  EXPECT_NE(service->WithEngine([](Engine& e) { return e.PendingOf("ml/nouid"); }), nullptr);
}

TEST(ExtenderService, InvalidCountsFailEveryNodeUnresolvably) {
  auto service = NewService();
  for (std::string units : {"11", "15", "25", "650", "0.5", "-10", "3k", "500m"}) {
    json result = Ok(service->Filter(ArgsWithNames(Pod(units), {"a", "b"}), 0));
    EXPECT_EQ(result["NodeNames"], json::array()) << units;
    EXPECT_EQ(result["FailedAndUnresolvableNodes"].size(), 2u) << units;
  }
  json result = Ok(service->Filter(ArgsWithNames(Pod("15"), {"a"}), 0));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["a"],
            "15 vxpu.io/gpu-units is neither 1-9 (a share of one GPU) nor a multiple of 10 up to 640 (whole GPUs)");
  result = Ok(service->Filter(ArgsWithNames(Pod("0.5"), {"a"}), 0));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["a"],
            "container main: vxpu.io/gpu-units \"0.5\" is not a whole, non-negative count");
}

TEST(ExtenderService, PodsNotAskingForUnitsPassEvenUnknownNodes) {
  auto service = NewService();
  for (std::string units : {"", "0"}) {
    json result = Ok(service->Filter(ArgsWithNames(Pod(units), {"a", "b", "unknown"}), 0));
    EXPECT_EQ(result["NodeNames"], json({"a", "b", "unknown"}));
    EXPECT_EQ(result["FailedNodes"], json::object());
  }
}

TEST(ExtenderService, TwoContainersAskingAreRefused) {
  json pod = test::PodJson(Pod("2"));
  pod["spec"]["containers"].push_back(pod["spec"]["containers"][0]);
  pod["spec"]["containers"][1]["name"] = "second";
  ExtenderPod parsed;
  ExtenderArgs args;
  std::string error;
  ASSERT_TRUE(ParseExtenderArgs(json{{"Pod", pod}, {"NodeNames", {"a"}}}.dump(), &args, &error)) << error;
  UnitRequest request = UnitRequestOf(args.pod);
  EXPECT_EQ(request.invalid,
            "containers main and second both ask for vxpu.io/gpu-units (vxpu-scheduler places one slice per pod)");
  // Requests and limits must agree.
  pod = test::PodJson(Pod("2"));
  pod["spec"]["containers"][0]["resources"]["limits"]["vxpu.io/gpu-units"] = "3";
  ASSERT_TRUE(ParseExtenderArgs(json{{"Pod", pod}, {"NodeNames", {"a"}}}.dump(), &args, &error)) << error;
  EXPECT_EQ(UnitRequestOf(args.pod).invalid, "container main: vxpu.io/gpu-units requests 2 and limits 3 differ");
  // Limits alone are the request.
  pod = test::PodJson(Pod(""));
  pod["spec"]["containers"][0]["resources"]["limits"]["vxpu.io/gpu-units"] = "40";
  ASSERT_TRUE(ParseExtenderArgs(json{{"Pod", pod}, {"NodeNames", {"a"}}}.dump(), &args, &error)) << error;
  request = UnitRequestOf(args.pod);
  EXPECT_TRUE(request.asks && request.invalid.empty());
  EXPECT_EQ(request.whole_gpus(), 4);
  EXPECT_EQ(request.cpu_milli, 1000);
  EXPECT_EQ(request.memory_mib, 1024);
}

TEST(ExtenderService, BadBodiesAre400WithOneLine) {
  auto service = NewService();
  for (const std::string& body : {std::string("{"), std::string("[]"), std::string("{\"Pod\":null}"),
                                  std::string(100000, '['), std::string("\xff\xfe")}) {
    HttpAnswer filter = service->Filter(body, 0);
    EXPECT_EQ(filter.status, 400);
    json f = json::parse(filter.body);
    EXPECT_FALSE(f["Error"].get<std::string>().empty());
    EXPECT_EQ(f["Error"].get<std::string>().find('\n'), std::string::npos);
    HttpAnswer prioritize = service->Prioritize(body, 0);
    EXPECT_EQ(prioritize.status, 400);
    EXPECT_FALSE(json::parse(prioritize.body)["Error"].get<std::string>().empty());
  }
  EXPECT_EQ(json::parse(service->Filter("{", 0).body)["Error"], "extender args: not JSON");
}

TEST(ExtenderService, DevicesReportsAreReadAsVxpudWritesThemAndCheckedField) {
  const std::string body = R"([{"index": 1, "uuid": "GPU-b", "name": "NVIDIA H100 80GB HBM3", "healthy": false,
    "health_reason": "gone", "memory_total_bytes": 85899345920, "memory_used_bytes": 0, "memory_for_slices_bytes": 1,
    "compute_free_percent": 100.0, "busy_ratio": null, "processes": 0, "units_total": 10, "units_free": 0,
    "units_held": 0},
   {"index": 0, "uuid": "GPU-a", "name": "NVIDIA H100 80GB HBM3", "healthy": true, "health_reason": "",
    "units_total": 10, "units_free": 7, "units_held": 3}])";
  NodeReport report;
  std::string error;
  ASSERT_TRUE(ParseDevicesReport(body, &report, &error)) << error;
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].uuid, "GPU-a");  // by index
  EXPECT_EQ(report.gpus[0].units_free, 7);
  EXPECT_EQ(report.gpus[0].units_held, 3);
  EXPECT_FALSE(report.gpus[1].healthy);
  EXPECT_FALSE(ParseDevicesReport(R"([{"index":0,"uuid":"GPU-a","name":"x","healthy":true}])", &report, &error));
  EXPECT_EQ(error, "devices[0].units_total: missing (a vxpud without gpu-units?)");
  EXPECT_FALSE(ParseDevicesReport(
      R"([{"index":0,"uuid":"GPU-a","name":"x","healthy":true,"units_total":10,"units_free":8,"units_held":3}])",
      &report, &error));
  EXPECT_EQ(error, "devices[0]: units_free + units_held above units_total");
  EXPECT_FALSE(ParseDevicesReport("{}", &report, &error));
  EXPECT_EQ(error, "devices: want a JSON array");
}

// vxpu.io/npu-units are placed on the nodes' NPUs, by the same rules, apart from the GPUs.
TEST(ExtenderService, NpuUnitsArePlacedOnNpusOnly) {
  auto service = NewService();  // a: four GPUs with 3 free units each, b: GPUs with 10 and 6
  NodeReport c = Gpus("c", {10});
  c.npus = Gpus("c-npu", {2, 7}).gpus;  // c: a GPU, and NPUs with 2 and 7 free units
  service->Report("c", c, 0);
  json result = Ok(service->Filter(ArgsWithNames(test::NpuPod("5", "n1"), {"a", "b", "c"}), 0));
  EXPECT_EQ(result["NodeNames"], json({"c"}));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["a"], "the node has no NPUs (its vxpud reports none)");
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["b"], "the node has no NPUs (its vxpud reports none)");
  // One node passed: the placement is pending on c's second NPU (the only one with 5 free units).
  const PendingPlacement* placed = service->WithEngine([](Engine& e) { return e.PendingOf("n1"); }, "npu");
  ASSERT_NE(placed, nullptr);
  EXPECT_EQ(placed->gpu_uuids, std::vector<std::string>{"GPU-c-npu-1"});
  EXPECT_EQ(service->WithEngine([](Engine& e) { return e.PendingOf("n1"); }), nullptr);  // not the GPUs'
  result = Ok(service->Filter(ArgsWithNames(test::NpuPod("8", "n2"), {"c"}), 0));
  EXPECT_EQ(result["FailedNodes"]["c"], "no single NPU has 8 free vxpu.io/npu-units");
  // A GPU pod still sees c's GPU, untouched by the NPU placement.
  result = Ok(service->Filter(ArgsWithNames(Pod("10", "g1"), {"c"}), 0));
  EXPECT_EQ(result["NodeNames"], json({"c"}));
}

TEST(ExtenderService, APodAskingForBothKindsIsRefused) {
  test::PodSpec both = Pod("2", "x");
  json pod = test::PodJson(both);
  pod["spec"]["containers"][0]["resources"]["limits"]["vxpu.io/npu-units"] = "3";
  ExtenderArgs args;
  std::string error;
  ASSERT_TRUE(ParseExtenderArgs(json{{"Pod", pod}, {"Nodes", nullptr}, {"NodeNames", {"a"}}}.dump(), &args, &error))
      << error;
  UnitRequest request = UnitRequestOf(args.pod);
  EXPECT_TRUE(request.asks);
  EXPECT_EQ(request.invalid,
            "the pod asks for both vxpu.io/gpu-units and vxpu.io/npu-units (vxpu-scheduler places one slice per pod)");
  auto service = NewService();
  json result = Ok(service->Filter(json{{"Pod", pod}, {"Nodes", nullptr}, {"NodeNames", {"a"}}}.dump(), 0));
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["a"], request.invalid);
}

TEST(ExtenderService, NpusAreReportedApartFromGpusWithIndexesOfTheirOwn) {
  const std::string unit_fields = R"("name":"x","healthy":true,"units_total":10,"units_free":10,"units_held":0)";
  NodeReport report;
  std::string error;
  ASSERT_TRUE(ParseDevicesReport(R"([{"index":0,"uuid":"GPU-a","kind":"gpu",)" + unit_fields +
                                     R"(},{"index":0,"uuid":"NPU-a","kind":"npu",)" + unit_fields + "}]",
                                 &report, &error))
      << error;
  ASSERT_EQ(report.gpus.size(), 1u);
  ASSERT_EQ(report.npus.size(), 1u);
  EXPECT_EQ(report.npus[0].uuid, "NPU-a");
  EXPECT_FALSE(ParseDevicesReport(R"([{"index":0,"uuid":"NPU-a","kind":"npu",)" + unit_fields +
                                      R"(},{"index":0,"uuid":"NPU-b","kind":"npu",)" + unit_fields + "}]",
                                  &report, &error));
  EXPECT_EQ(error, "devices[1]: uuid or index given twice");
  EXPECT_FALSE(ParseDevicesReport(R"([{"index":0,"uuid":"X-a","kind":"tpu",)" + unit_fields + "}]", &report, &error));
  EXPECT_EQ(error, "devices[0].kind: want \"gpu\" or \"npu\": \"tpu\"");
}

TEST(ExtenderService, AgentAddressesComeFromTheFileTheTemplateOrTheInternalIp) {
  std::map<std::string, HostPort> fixed;
  std::string error;
  ASSERT_TRUE(ParseAgentsFile("# nodes\nfixed http://192.168.1.5:9000\n\n", &fixed, &error)) << error;
  EXPECT_FALSE(ParseAgentsFile("x http://h:1\nbad\n", &fixed, &error));
  EXPECT_EQ(error, "line 2: want NODE http://HOST:PORT");
  EXPECT_FALSE(ParseAgentsFile("y https://h:1\n", &fixed, &error));
  EXPECT_EQ(error, "line 1: bad agent URL (want http://HOST:PORT) 'https://h:1'");

  AgentDirectory by_ip({fixed, "", 9396, ""});
  ExtenderArgs args;
  ASSERT_TRUE(ParseExtenderArgs(
      ArgsWithNodes(Pod(""), {NodeJson("fixed"), NodeJson("n1", "10.1.2.3"), NodeJson("v6", "fd00::7")}), &args,
      &error));
  EXPECT_TRUE(by_ip.Learn(args));
  EXPECT_FALSE(by_ip.Learn(args));
  std::map<std::string, std::string> urls;
  for (const auto& e : by_ip.Entries()) urls[e.node] = e.agent ? AgentUrl(*e.agent) : "";
  EXPECT_EQ(urls, (std::map<std::string, std::string>{{"fixed", "http://192.168.1.5:9000"},
                                                      {"n1", "http://10.1.2.3:9396"},
                                                      {"v6", "http://[fd00::7]:9396"}}));

  ASSERT_TRUE(ParseExtenderArgs(ArgsWithNames(Pod(""), {"n2"}), &args, &error));
  AgentDirectory no_template({{}, "", 9396, ""});
  no_template.Learn(args);
  EXPECT_FALSE(no_template.Entries()[0].agent.has_value());  // names only, no way to reach it
  AgentDirectory with_template({{}, "http://{node}.nodes.example:9396", 9396, ""});
  with_template.Learn(args);
  EXPECT_EQ(AgentUrl(*with_template.Entries()[0].agent), "http://n2.nodes.example:9396");
  EXPECT_FALSE(CheckUrlTemplate("http://host:9396", &error));
  EXPECT_EQ(error, "bad --agent-url-template 'http://host:9396': no {node} in it");
}

TEST(ExtenderService, AgentsComeFromTheFileThenDnsThenTheTemplateThenTheInternalIp) {
  std::map<std::string, HostPort> fixed = {{"f", {"192.168.1.5", 9000}}};
  AgentDirectory directory({fixed, "http://{node}.nodes.example:9396", 9396, "vxpud.test:9396"});
  ExtenderArgs args;
  std::string error;
  ASSERT_TRUE(
      ParseExtenderArgs(ArgsWithNodes(Pod(""), {NodeJson("f", "10.0.0.1"), NodeJson("d", "10.0.0.2")}), &args, &error));
  directory.Learn(args);
  EXPECT_TRUE(
      directory.SetDiscovered({{"f", {"10.9.0.1", 9396}}, {"d", {"10.9.0.2", 9396}}, {"x", {"10.9.0.3", 9396}}}));
  std::map<std::string, std::string> urls;
  for (const auto& e : directory.Entries()) urls[e.node] = e.agent ? AgentUrl(*e.agent) : e.missing;
  EXPECT_EQ(urls, (std::map<std::string, std::string>{
                      {"d", "http://10.9.0.2:9396"}, {"f", "http://192.168.1.5:9000"}, {"x", "http://10.9.0.3:9396"}}));
  // d and x leave DNS: d falls back to the template; x, learnt from discovery, too.
  EXPECT_TRUE(directory.SetDiscovered({}));
  urls.clear();
  for (const auto& e : directory.Entries()) urls[e.node] = e.agent ? AgentUrl(*e.agent) : e.missing;
  EXPECT_EQ(urls["d"], "http://d.nodes.example:9396");
  EXPECT_EQ(urls["x"], "http://x.nodes.example:9396");
  // Without a template: d's InternalIP; x, names only, has none and says where it looked.
  AgentDirectory no_template({{}, "", 9396, "vxpud.test:9396"});
  no_template.Learn(args);
  no_template.SetDiscovered({{"x", {"10.9.0.3", 9396}}});
  no_template.SetDiscovered({});
  urls.clear();
  for (const auto& e : no_template.Entries()) urls[e.node] = e.agent ? AgentUrl(*e.agent) : e.missing;
  EXPECT_EQ(urls["d"], "http://10.0.0.2:9396");
  EXPECT_EQ(urls["x"],
            "no vxpud address known: no agent at --agents-dns vxpud.test:9396 gives this node name in "
            "its /v1/info (0 found)");
}

TEST(ExtenderService, TheDefaultWorkloadIsTheOpenbTracesGpuPodsInUnits) {
  const std::string dir = VXPU_OPENB_DIR;
  sched::NodeList nodes = sched::ReadNodeCsv(dir + "/openb_node_list_gpu_node.csv");
  std::map<int, int> counts;
  for (const sched::PodRecord& pod : sched::ReadPodCsv(dir + "/openb_pod_list_default.csv", nodes)) {
    sched::PodRequest r = sched::RoundRequest(pod.request, sched::Granularity::kTenPercent);
    if (!r.UsesGpu()) continue;
    ++counts[r.SharesGpu() ? static_cast<int>(r.gpu_milli / kMilliPerUnit) : r.num_gpu * kUnitsPerGpu];
  }
  EXPECT_EQ(counts, DefaultUnitCounts());
}

}  // namespace
}  // namespace vxpu::extender

namespace vxpu::extender {
namespace {

// The answers are written directly (not through ordered_json, which is quadratic in the nodes):
// byte for byte what nlohmann's ordered_json wrote, for every kind of string.
TEST(ExtenderService, AnswersAreTheBytesOrderedJsonWrites) {
  const std::vector<std::string> odd = {"plain-node", "quote\"d",    "back\\slash",  "tab\there", "new\nline",
                                        "\x01\x1f",   "caf\xc3\xa9", "bad\xff utf8", "",          "<&>"};
  ExtenderFilterResult result;
  result.node_names = odd;
  for (const std::string& s : odd) {
    result.failed_nodes[s + "f"] = s;
    result.failed_and_unresolvable_nodes[s + "u"] = "same reason";
  }
  result.error = "e\"rr\x02";
  nlohmann::ordered_json want = nlohmann::ordered_json::object();
  want["Nodes"] = nullptr;
  want["NodeNames"] = odd;
  want["FailedNodes"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : result.failed_nodes) want["FailedNodes"][k] = v;
  want["FailedAndUnresolvableNodes"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : result.failed_and_unresolvable_nodes) want["FailedAndUnresolvableNodes"][k] = v;
  want["Error"] = result.error;
  auto dump = [](const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  };
  EXPECT_EQ(FilterResultJson(result), dump(want));
  std::vector<HostPriority> scores;
  nlohmann::ordered_json want_scores = nlohmann::ordered_json::array();
  for (size_t i = 0; i < odd.size(); ++i) {
    scores.push_back({odd[i], static_cast<int64_t>(i) - 3});
    want_scores.push_back({{"Host", odd[i]}, {"Score", static_cast<int64_t>(i) - 3}});
  }
  EXPECT_EQ(PriorityListJson(scores), dump(want_scores));
}

}  // namespace
}  // namespace vxpu::extender
