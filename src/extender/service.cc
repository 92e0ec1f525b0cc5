#include "extender/service.h"

#include <nlohmann/json.hpp>

namespace vxpu::extender {

namespace {

std::unique_ptr<Engine> NpuEngineLike(const Engine& gpu) {
  EngineOptions options = gpu.options();
  options.kind = "npu";
  std::string ignored;
  return Engine::Create(options, &ignored);  // the GPU engine's policy exists
}

// The report as the NPU engine sees it: the node's NPUs in the place of its GPUs.
NodeReport NpuSide(const NodeReport& report) {
  NodeReport npus;
  npus.gpus = report.npus;
  return npus;
}

}  // namespace

Service::Service(std::unique_ptr<Engine> engine, NodesSeen nodes_seen)
    : engine_(std::move(engine)), npu_engine_(NpuEngineLike(*engine_)), nodes_seen_(std::move(nodes_seen)) {}

bool Service::Parse(const std::string& body, ExtenderArgs* args, std::string* error) {
  if (!ParseExtenderArgs(body, args, error)) return false;
  if (nodes_seen_) nodes_seen_(*args);
  return true;
}

HttpAnswer Service::Filter(const std::string& body, double now) {
  ExtenderArgs args;
  std::string error;
  if (!Parse(body, &args, &error)) {
    ExtenderFilterResult refused;
    refused.error = error;
    return {400, FilterResultJson(refused)};
  }
  UnitRequest request = UnitRequestOf(args.pod);
  FilterOutcome outcome;
  {
    std::lock_guard<std::mutex> lock(mu_);
    outcome = EngineFor(request.kind).Filter(PodKey(args.pod), request, args.node_names, now);
  }
  ExtenderFilterResult result = FilterResultFor(args, outcome.passing);
  result.failed_nodes = std::move(outcome.failed);
  result.failed_and_unresolvable_nodes = std::move(outcome.unresolvable);
  return {200, FilterResultJson(result)};
}

HttpAnswer Service::Prioritize(const std::string& body, double now) {
  ExtenderArgs args;
  std::string error;
  if (!Parse(body, &args, &error)) {
    return {400, nlohmann::json{{"Error", error}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
  }
  UnitRequest request = UnitRequestOf(args.pod);
  std::vector<HostPriority> scores;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scores = EngineFor(request.kind).Prioritize(PodKey(args.pod), request, args.node_names, now);
  }
  return {200, PriorityListJson(scores)};
}

void Service::Report(const std::string& node, const NodeReport& report, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  engine_->Report(node, report, now);
  npu_engine_->Report(node, NpuSide(report), now);
}

void Service::ReportUnreachable(const std::string& node, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  engine_->ReportUnreachable(node, why);
  npu_engine_->ReportUnreachable(node, why);
}

}  // namespace vxpu::extender
