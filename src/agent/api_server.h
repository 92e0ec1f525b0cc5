// vxpud's local API (docs/agent.md): HTTP/JSON on a unix socket, every route answered from the
// node agent; and its read-only half over TCP (--api-addr) for the scheduler extender: the node
// (/v1/info without local paths) and its devices, not its slices (403), which name processes,
// users and pods. Errors are {"error": "one line"} with a 4xx/5xx status; no input makes an
// answer throw.
#pragma once

#include <string>

#include "agent/node_agent.h"
#include "agent_api/unix_http.h"

namespace vxpu {

struct ApiInfo {
  std::string version;
  std::string socket;
  bool sim = false;
  std::string node;  // the node's name (--node-name), for the extender to map agents to nodes
};

enum class ApiAccess { kFull, kReadOnly };

// Installs the routes of the API on `server`; read-only: the node's and devices' GETs (writes
// answer 405, slices 403).
void InstallApi(NodeAgent* agent, const ApiInfo& info, ApiAccess access, httplib::Server* server);

}  // namespace vxpu
