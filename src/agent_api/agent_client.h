// The CLI's side of vxpud's local API: finds the agent, sends a request, returns the JSON it
// answers or the one-line error it gives.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vxpu {

class UnixHttpClient;

// vxpud's defaults: the state directory and, in it, the socket.
inline constexpr const char* kDefaultAgentStateDir = "/var/run/vxpu";
inline constexpr const char* kAgentSocketName = "vxpud.sock";

class AgentClient {
 public:
  // Where the agent listens: $VXPU_AGENT_SOCKET, else vxpud.sock in $VXPU_STATE_DIR, else in
  // /var/run/vxpu. "" for VXPU_AGENT_SOCKET=none: work without an agent.
  static std::string SocketPath();
  // A client of the agent at `socket`, or nullptr: with *error empty if no agent runs there (run
  // daemonless), set if one does that this process may not reach (never fall back then: the
  // slice would not share its devices' arbiters with the agent's).
  static std::unique_ptr<AgentClient> Connect(const std::string& socket, std::string* error);
  ~AgentClient();

  // GET/POST/DELETE `path` (e.g. "/v1/slices"); the answer's JSON, or nullopt with *error set to
  // the agent's message (or why it could not be asked).
  std::optional<nlohmann::json> Get(const std::string& path, std::string* error);
  std::optional<nlohmann::json> Post(const std::string& path, const std::string& body, std::string* error);
  std::optional<nlohmann::json> Delete(const std::string& path, std::string* error);

  const std::string& socket() const { return socket_; }

 private:
  explicit AgentClient(std::string socket);
  std::string socket_;
  std::unique_ptr<UnixHttpClient> http_;
};

// The state directory the agent at `client` keeps its segments in, made this process's
// VXPU_STATE_DIR (so its segments and children's follow). False with *error if VXPU_STATE_DIR
// is already set to another directory.
bool AdoptAgentStateDir(AgentClient* client, std::string* error);

}  // namespace vxpu
