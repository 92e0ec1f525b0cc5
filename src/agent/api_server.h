// vxpud's local API (docs/agent.md): HTTP/JSON on a unix socket, every route answered from the
// node agent. Errors are {"error": "one line"} with a 4xx/5xx status.
#pragma once

#include <string>

#include "agent/node_agent.h"
#include "agent_api/unix_http.h"

namespace vxpu {

struct ApiInfo {
  std::string version;
  std::string socket;
  bool sim = false;
};

// Installs the routes of the API on `server`.
void InstallApi(NodeAgent* agent, const ApiInfo& info, UnixHttpServer* server);

}  // namespace vxpu
