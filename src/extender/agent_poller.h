// AgentPoller: the one part of vxpu-scheduler that talks to the nodes. A thread that, every poll
// interval (and at once when the directory learns a node), reads `GET /v1/devices` from each
// node's vxpud (up to 8 at a time; 1 s to connect, 2 s to answer) and hands the Service the
// report, or the reason it has none (no address, no answer, a body it refuses).
//
// AgentDiscovery (--agents-dns HOST:PORT): before each poll, resolves HOST (all A/AAAA records,
// getaddrinfo; e.g. the headless Service of the vxpud DaemonSet, whose pods run with hostNetwork,
// so each record is a node's IP), asks each new address `GET http://IP:PORT/v1/info` for its
// "node" (vxpud --node-name) and hands the directory node -> agent. An address gone from DNS
// drops its node. A failed resolution keeps the last addresses (a DNS hiccup must not fail every
// node); an agent whose info fails is asked again next poll. Each failure is logged once per change.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "extender/agent_directory.h"
#include "extender/service.h"

namespace vxpu::extender {

// Seconds on a monotonic clock, the engine's time.
double MonotonicSeconds();

// The addresses of `host` (numeric, IPv4 and IPv6, each once, in getaddrinfo's order); empty and
// *error on failure.
using Resolver = std::function<std::vector<std::string>(const std::string& host, std::string* error)>;
std::vector<std::string> ResolveAll(const std::string& host, std::string* error);

// The "node" of a vxpud GET /v1/info body; "" and *error when it has none.
std::string NodeOfInfo(const std::string& body, std::string* error);

// Checks --agents-dns: HOST:PORT, both given. False and *error (naming the value) otherwise.
bool ParseAgentsDns(const std::string& text, HostPort* out, std::string* error);

class AgentDiscovery {
 public:
  using Logger = std::function<void(const std::string&)>;
  AgentDiscovery(HostPort dns, Resolver resolver, Logger log);

  // Resolves, asks the new addresses their node; node -> agent as now known.
  std::map<std::string, HostPort> Discover();

 private:
  void Note(const std::string& key, const std::string& message);  // logs when `key`'s message changes

  HostPort dns_;
  Resolver resolve_;
  Logger log_;
  std::vector<std::string> addresses_;        // the last resolution that succeeded
  std::map<std::string, std::string> nodes_;  // address -> its node, once its info answered
  std::map<std::string, std::string> noted_;  // key -> the last message logged
};

class AgentPoller {
 public:
  // `discovery`: nullptr, or run before each poll.
  AgentPoller(AgentDirectory* directory, Service* service, double interval_seconds,
              AgentDiscovery* discovery = nullptr);
  ~AgentPoller();  // stops

  void Start();
  void Wake();  // poll now (a node was learnt)
  void Stop();

 private:
  void Run();
  void PollAll();
  void PollOne(const AgentDirectory::Entry& entry);

  AgentDirectory* directory_;
  Service* service_;
  AgentDiscovery* discovery_;
  double interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace vxpu::extender
