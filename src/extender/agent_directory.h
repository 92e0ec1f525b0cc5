// AgentDirectory: where each node's vxpud answers (`GET /v1/devices` over TCP, vxpud --api-addr).
// In this order: the node's line in the agents file (--agents: "NODE http://HOST:PORT" per line,
// '#' comments); else the agent discovered through --agents-dns that names this node in its
// GET /v1/info (AgentDiscovery in agent_poller.h hands the map in with SetDiscovered); else
// --agent-url-template with "{node}" replaced by the node name; else the InternalIP in the Node
// object's status.addresses (requests with whole Nodes) at --agent-port. nodeCacheCapable requests
// carry names only, so they need one of the first three. Nodes are learnt from the requests (and
// from the file at start, and from discovery). Thread-safe; no I/O (the file is read, and DNS
// resolved, by the caller).
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
  std::string agents_dns;  // "" or --agents-dns HOST:PORT as given (for the reasons only)
};

// Checks a --agent-url-template: "" or http://...{node}...:PORT. False and *error otherwise.
bool CheckUrlTemplate(const std::string& url_template, std::string* error);

class AgentDirectory {
 public:
  explicit AgentDirectory(DirectoryOptions options);

  // Learns the nodes of a request; true when a node was new.
  bool Learn(const ExtenderArgs& args);

  // Replaces the agents discovered through --agents-dns (node -> agent); their nodes become known.
  // A node no longer in the map loses that agent (falls back to the template or InternalIP, or
  // has none). True when the map changed.
  bool SetDiscovered(std::map<std::string, HostPort> discovered);

  struct Entry {
    std::string node;
    std::optional<HostPort> agent;  // nullopt: no address known, and `missing` says why
    std::string missing;
  };
  std::vector<Entry> Entries() const;

 private:
  std::optional<HostPort> FromTemplate(const std::string& node) const;

  DirectoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::optional<HostPort>> nodes_;  // every node known -> its InternalIP agent
  std::map<std::string, HostPort> discovered_;
};

}  // namespace vxpu::extender
