// Service: the extender's HTTP verbs as functions of the request body (and the time), around one
// Engine behind a mutex. Parses ExtenderArgs (src/k8s/extender_protocol.h), asks the engine, and
// writes the answer kube-scheduler reads: 200 with ExtenderFilterResult / HostPriorityList, or
// 400 with the one-line refusal (filter: in ExtenderFilterResult's Error; prioritize: {"Error":
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

  // Runs `f` on the engine under the lock (tests, benchmarks).
  template <typename F>
  auto WithEngine(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(*engine_);
  }

 private:
  bool Parse(const std::string& body, ExtenderArgs* args, std::string* error);

  std::mutex mu_;
  std::unique_ptr<Engine> engine_;
  NodesSeen nodes_seen_;
};

}  // namespace vxpu::extender
