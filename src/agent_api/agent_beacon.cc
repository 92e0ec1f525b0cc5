#include "agent_api/agent_beacon.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace vxpu {
namespace {

constexpr int kAnswerTimeoutMs = 1000;
constexpr size_t kMaxLine = 4096;

// The beacon's address: a leading NUL puts it in the abstract namespace (no file, gone with
// its holder).
socklen_t BeaconAddress(const std::string& name, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  std::string path = "vxpu-agent-" + name;
  size_t length = std::min(path.size(), sizeof(address->sun_path) - 1);
  std::memcpy(address->sun_path + 1, path.data(), length);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + length);
}

int ConnectToBeacon(const std::string& name) {
  sockaddr_un address;
  socklen_t length = BeaconAddress(name, &address);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads the one line the beacon answers with (at most kMaxLine bytes, within the timeout).
bool ReadLine(int fd, std::string* line) {
  char buffer[512];
  while (line->find('\n') == std::string::npos && line->size() < kMaxLine) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kAnswerTimeoutMs) <= 0) return false;
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line->append(buffer, static_cast<size_t>(n));
  }
  return !line->empty();
}

std::optional<AgentAnnouncement> ParseAnnouncement(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("socket") || !j["socket"].is_string() || !j.contains("state_dir") ||
      !j["state_dir"].is_string() || !j.contains("pid") || !j["pid"].is_number_integer())
    return std::nullopt;
  AgentAnnouncement a{j["socket"].get<std::string>(), j["state_dir"].get<std::string>(), j["pid"].get<int32_t>()};
  if (a.socket.empty() || a.socket[0] != '/' || a.state_dir.empty() || a.state_dir[0] != '/') return std::nullopt;
  return a;
}

}  // namespace

std::string AgentBeaconName() {
  const char* name = std::getenv("VXPU_AGENT_BEACON");
  if (name == nullptr || *name == '\0') return "vxpud";
  return std::strcmp(name, "off") == 0 ? "" : name;
}

std::unique_ptr<AgentBeacon> AgentBeacon::Start(const AgentAnnouncement& announcement, std::string* error) {
  std::string name = AgentBeaconName();
  if (name.empty()) return nullptr;
  sockaddr_un address;
  socklen_t length = BeaconAddress(name, &address);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 64) != 0) {
    int why = errno;
    if (fd >= 0) close(fd);
    std::string ignored;
    std::optional<AgentAnnouncement> other = why == EADDRINUSE ? FindAnnouncedAgent(&ignored) : std::nullopt;
    *error = "cannot announce this agent on beacon @vxpu-agent-" + name + ": " +
             (other ? "vxpud pid " + std::to_string(other->pid) + " (state dir " + other->state_dir + ") holds it"
                    : std::string(std::strerror(why)));
    return nullptr;
  }
  nlohmann::json line = {
      {"socket", announcement.socket}, {"state_dir", announcement.state_dir}, {"pid", announcement.pid}};
  return std::unique_ptr<AgentBeacon>(new AgentBeacon(fd, line.dump() + "\n"));
}

AgentBeacon::AgentBeacon(int fd, std::string line) : fd_(fd), line_(std::move(line)) {
  thread_ = std::thread([this] { Answer(); });
}

AgentBeacon::~AgentBeacon() {
  stopping_ = true;
  thread_.join();
  close(fd_);
}

void AgentBeacon::Answer() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;
    // One short line into an empty socket buffer: it does not block.
    ssize_t ignored = send(client, line_.data(), line_.size(), MSG_NOSIGNAL);
    (void)ignored;
    close(client);
  }
}

std::optional<AgentAnnouncement> FindAnnouncedAgent(std::string* error) {
  std::string name = AgentBeaconName();
  if (name.empty()) return std::nullopt;
  int fd = ConnectToBeacon(name);
  if (fd < 0) return std::nullopt;
  ucred peer{};
  socklen_t peer_length = sizeof(peer);
  bool credited = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) == 0;
  std::string line;
  bool read = ReadLine(fd, &line);
  close(fd);
  if (!credited || (peer.uid != 0 && peer.uid != getuid())) {
    *error = "the agent beacon @vxpu-agent-" + name + " is held by uid " + std::to_string(peer.uid) + " (pid " +
             std::to_string(peer.pid) + "), neither root nor you: not believed";
    return std::nullopt;
  }
  std::optional<AgentAnnouncement> announced = read ? ParseAnnouncement(line) : std::nullopt;
  if (!announced) {
    *error =
        "the agent beacon @vxpu-agent-" + name + " (pid " + std::to_string(peer.pid) + ") answered no announcement";
    return std::nullopt;
  }
  announced->pid = peer.pid;  // what the kernel says, not what the line says
  return announced;
}

}  // namespace vxpu
