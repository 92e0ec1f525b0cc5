// AgentDirectory: where each node's vxpud answers (`GET /v1/devices` over TCP, vxpud --api-addr).
// In this order: the node's line in the agents file (--agents: "NODE http://HOST:PORT" per line,
// '#' comments); else --agent-url-template with "{node}" replaced by the node name (for
// nodeCacheCapable requests, which carry names only); else the InternalIP in the Node object's
// status.addresses (requests with whole Nodes) at --agent-port. Nodes are learnt from the requests
// (and from the file at start). Thread-safe; no I/O (the file is read by the caller).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "extender/address.h"
#include "k8s/extender_protocol.h"

namespace vxpu::extender {

// Parses an agents file into *out; false and *error naming the line otherwise (*out untouched).
bool ParseAgentsFile(const std::string& text, std::map<std::string, HostPort>* out, std::string* error);

struct DirectoryOptions {
  std::map<std::string, HostPort> fixed;  // from --agents
  std::string url_template;               // "" or containing "{node}"
  int agent_port = 9396;
};

// Checks a --agent-url-template: "" or http://...{node}...:PORT. False and *error otherwise.
bool CheckUrlTemplate(const std::string& url_template, std::string* error);

class AgentDirectory {
 public:
  explicit AgentDirectory(DirectoryOptions options);

  // Learns the nodes of a request; true when a node was new.
  bool Learn(const ExtenderArgs& args);

  struct Entry {
    std::string node;
    std::optional<HostPort> agent;  // nullopt: no address known
  };
  std::vector<Entry> Entries() const;

 private:
  std::optional<HostPort> FromTemplate(const std::string& node) const;

  DirectoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::optional<HostPort>> nodes_;
};

}  // namespace vxpu::extender
