// Service: the extender's HTTP verbs as functions of the request body (and the time), around two
// Engines behind a mutex: one places vxpu.io/gpu-units on the nodes' GPUs, the other (made alike,
// kind "npu") vxpu.io/npu-units on their NPUs; a pod goes to the one whose units it asks for. Parses ExtenderArgs
// (src/k8s/extender_protocol.h), asks the engine, and writes the answer kube-scheduler reads: 200 with
// ExtenderFilterResult / HostPriorityList, or 400 with the one-line refusal (filter: in ExtenderFilterResult's Error;
// prioritize: {"Error":
// "..."}). Node reports from the agents go through it too. No sockets: the server and the tests
// call it alike.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "extender/engine.h"

namespace vxpu::extender {

struct HttpAnswer {
  int status = 200;
  std::string body;
};

class Service {
 public:
  // Told of every well-formed request's nodes (before the engine sees it): where to find their agents.
  using NodesSeen = std::function<void(const ExtenderArgs&)>;

  explicit Service(std::unique_ptr<Engine> engine, NodesSeen nodes_seen = {});

  HttpAnswer Filter(const std::string& body, double now);
  HttpAnswer Prioritize(const std::string& body, double now);

  void Report(const std::string& node, const NodeReport& report, double now);
  void ReportUnreachable(const std::string& node, const std::string& why);

  // Runs `f` on the GPU engine (the NPU one for "npu") under the lock (tests, benchmarks).
  template <typename F>
  auto WithEngine(F f, const std::string& kind = "gpu") {
    std::lock_guard<std::mutex> lock(mu_);
    return f(EngineFor(kind));
  }

 private:
  bool Parse(const std::string& body, ExtenderArgs* args, std::string* error);
  Engine& EngineFor(const std::string& kind) { return kind == "npu" ? *npu_engine_ : *engine_; }

  std::mutex mu_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Engine> npu_engine_;
  NodesSeen nodes_seen_;
};

}  // namespace vxpu::extender
