#include "agent_api/agent_client.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include "agent_api/unix_http.h"

namespace vxpu {
namespace {

std::optional<nlohmann::json> Answer(const httplib::Result& result, const std::string& what, std::string* error) {
  if (!result) {
    *error = what + ": no answer from vxpud (" + httplib::to_string(result.error()) + ")";
    return std::nullopt;
  }
  nlohmann::json body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (result->status >= 200 && result->status < 300 && !body.is_discarded()) return body;
  if (!body.is_discarded() && body.is_object() && body.contains("error") && body["error"].is_string()) {
    *error = body["error"].get<std::string>();
  } else {
    *error = what + ": vxpud answered " + std::to_string(result->status);
  }
  return std::nullopt;
}

// While alive, a SIGPIPE this thread raises (writing to a connection vxpud has closed: cpp-httplib
// sends without MSG_NOSIGNAL) is held back and then dropped instead of killing the process. The
// signal's disposition, which `vxpu run`'s command inherits, is left as it is.
class SigpipeHeldBack {
 public:
  SigpipeHeldBack() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeHeldBack() {
    sigset_t pending;
    sigpending(&pending);
    timespec now{};
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) sigtimedwait(&pipe_, nullptr, &now);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeHeldBack(const SigpipeHeldBack&) = delete;
  SigpipeHeldBack& operator=(const SigpipeHeldBack&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// Whether vxpud turned the connection away before reading the request (it served nothing): a
// 503, or the request's write failing on the connection it closed.
bool TurnedAway(const httplib::Result& result) {
  return result ? result->status == 503 : result.error() == httplib::Error::Write;
}

// Sends with `send` again while vxpud turns the connection away for being busy, for at most
// kBusyRetrySeconds.
constexpr int kBusyRetrySeconds = 5;
httplib::Result RetryWhileBusy(const std::function<httplib::Result()>& send) {
  SigpipeHeldBack held;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(kBusyRetrySeconds);
  auto pause = std::chrono::milliseconds(20);
  for (;;) {
    httplib::Result result = send();
    if (!TurnedAway(result) || std::chrono::steady_clock::now() + pause > give_up) return result;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace

std::string AgentClient::SocketPath() {
  const char* socket = std::getenv("VXPU_AGENT_SOCKET");
  if (socket != nullptr && std::strcmp(socket, "none") == 0) return "";
  if (socket != nullptr && *socket != '\0') return socket;
  const char* dir = std::getenv("VXPU_STATE_DIR");
  std::string base = dir != nullptr && *dir != '\0' ? dir : kDefaultAgentStateDir;
  return base.append("/").append(kAgentSocketName);
}

std::unique_ptr<AgentClient> AgentClient::Connect(const std::string& socket, std::string* error) {
  if (socket.empty()) return nullptr;
  int why = UnixSocketConnectError(socket);
  if (why == ENOENT || why == ECONNREFUSED || why == ENOTDIR) return nullptr;
  if (why != 0) {
    *error = "cannot reach vxpud at " + socket + ": " + std::strerror(why) +
             (why == EACCES ? " (its socket is for the agent's user and group)" : "");
    return nullptr;
  }
  return std::unique_ptr<AgentClient>(new AgentClient(socket));
}

AgentClient::AgentClient(std::string socket)
    : socket_(std::move(socket)), http_(std::make_unique<UnixHttpClient>(socket_)) {
  http_->set_connection_timeout(2);
  http_->set_read_timeout(10);
}

AgentClient::~AgentClient() = default;

std::optional<nlohmann::json> AgentClient::Get(const std::string& path, std::string* error) {
  return Answer(RetryWhileBusy([&] { return http_->Get(path.c_str()); }), "GET " + path, error);
}

std::optional<nlohmann::json> AgentClient::Post(const std::string& path, const std::string& body, std::string* error) {
  return Answer(RetryWhileBusy([&] { return http_->Post(path.c_str(), body, "application/json"); }), "POST " + path,
                error);
}

std::optional<nlohmann::json> AgentClient::Delete(const std::string& path, std::string* error) {
  return Answer(RetryWhileBusy([&] { return http_->Delete(path.c_str()); }), "DELETE " + path, error);
}

bool AdoptAgentStateDir(AgentClient* client, std::string* error) {
  auto info = client->Get("/v1/info", error);
  if (!info) return false;
  if (!info->contains("state_dir") || !(*info)["state_dir"].is_string()) {
    *error = "vxpud at " + client->socket() + " did not say where its state directory is";
    return false;
  }
  std::string dir = (*info)["state_dir"].get<std::string>();
  const char* mine = std::getenv("VXPU_STATE_DIR");
  if (mine != nullptr && *mine != '\0') {
    std::string own = mine;
    while (own.size() > 1 && own.back() == '/') own.pop_back();
    if (own != dir) {
      *error =
          "VXPU_STATE_DIR=\"" + std::string(mine) + "\" but vxpud at " + client->socket() + " keeps slices in " + dir;
      return false;
    }
    return true;
  }
  setenv("VXPU_STATE_DIR", dir.c_str(), 1);
  return true;
}

}  // namespace vxpu
