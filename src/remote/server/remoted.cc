#include "remote/server/remoted.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include <cuda.h>
#include "backend/device_list.h"
#include "backend/paths.h"
#include "common/log_limiter.h"
#include "common/units.h"
#include "slice/slice_setup.h"

#include "remote/address.h"
#include "remote/server/admission.h"
#include "remote/server/image_cache_dir.h"
#include "remote/wire.h"

namespace vxpu {
namespace {

using remote::ByteSource;

constexpr int kHelloTimeoutMs = 5000;
volatile sig_atomic_t stop_requested = 0;

void OnStop(int) { stop_requested = 1; }

int Fail(const std::string& message) {
  std::fprintf(stderr, "vxpu remoted: %s\n", message.c_str());
  return 2;
}

bool ReadToken(const std::string& path, std::string* token, std::string* error) {
  return remote::ReadTokenFile("--token-file", path, remote::kMaxTokenBytes, token, error);
}

int Listen(const std::string& address, std::string* bound, std::string* error) {
  std::string host, port;
  if (!remote::SplitHostPort(address, &host, &port, /*any_port=*/true)) {
    *error = "--listen: bad value \"" + address + "\" (want HOST:PORT)";
    return -1;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = "--listen: bad value \"" + address + "\": " + gai_strerror(rc);
    return -1;
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 64) != 0) {
    *error = "--listen " + address + ": " + std::strerror(errno);
    freeaddrinfo(found);
    if (fd >= 0) close(fd);
    return -1;
  }
  freeaddrinfo(found);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char name[NI_MAXHOST], serv[NI_MAXSERV];
  getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, name, sizeof(name), serv, sizeof(serv),
              NI_NUMERICHOST | NI_NUMERICSERV);
  *bound = (addr.ss_family == AF_INET6 ? "[" + std::string(name) + "]" : std::string(name)) + ":" + serv;
  return fd;
}

// Reads Hello: all of it must arrive by one deadline (a byte at a time does not stretch it).
class HelloSource : public ByteSource {
 public:
  explicit HelloSource(int fd)
      : fd_(fd), deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(kHelloTimeoutMs)) {}
  bool Read(void* data, size_t n, std::string* error) override {
    auto* p = static_cast<uint8_t*>(data);
    while (n > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        *error = "no Hello within " + std::to_string(kHelloTimeoutMs) + " ms";
        return false;
      }
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      ssize_t got = recv(fd_, p, n, 0);
      if (got <= 0) {
        *error = got == 0 ? "the client left" : std::strerror(errno);
        return false;
      }
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

 private:
  int fd_;
  std::chrono::steady_clock::time_point deadline_;
};

// A memory quota as the log shows every size ("2.0 GiB"), whether given as "2GiB", "25%" or bytes.
std::string Sized(const std::string& quota, uint64_t device_bytes) {
  std::string ignored;
  std::optional<uint64_t> bytes = ParseMemoryQuota(quota, device_bytes, &ignored);
  return bytes ? FormatBytes(*bytes) : quota;
}

// Answers the client's Hello with a refusal (the client reports `why`).
void Refuse(int fd, CUresult result, const std::string& why) {
  std::string head;
  remote::AppendAnswer(&head, remote::kReply, result, nullptr, 0, why.size());
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(why.data()), why.size()}};
  remote::WriteFull(fd, iov, 2);
}

struct Server {
  const RemotedOptions& options;
  std::string token;
  uint64_t device_bytes = 0;
  std::string image_dir;  // "": images are not kept
  uint64_t image_bytes = 0;
};

// What a session process tells the server over its control socket, one line each: the first
// byte says what, the rest of the line why. Only the server logs, so that it can hold back floods.
enum Told : char {
  kBadHello = 'H',       // refused before the token was looked at
  kWrongToken = 'T',     // refused: the server may bar the address for a while
  kAuthenticated = 'A',  // asks to become a session; the server answers kYes or kNo
  kSliceRefused = 'R',   // a session refused after all (its slice, its worker)
  kStarted = 'S',        // the worker starts: its slice
};
constexpr char kYes = 'Y', kNo = 'N';

void Tell(int control, Told what, const std::string& text = "") {
  std::string line(1, static_cast<char>(what));
  for (char c : text) line += c == '\n' ? ' ' : c;
  line += '\n';
  send(control, line.data(), line.size(), MSG_NOSIGNAL);
}

// In the forked session process: Hello, then the worker replaces this process.
[[noreturn]] void ServeSession(const Server& server, int fd, int control) {
  remote::TuneSocket(fd, server.options.timeout_ms);
  HelloSource source(fd);
  remote::Request request;
  std::string error, blob;
  remote::HelloRequest hello;
  bool read = remote::ReadRequest(source, &request, &error);
  if (read && request.spec->op != remote::Op::kHello) {
    error = std::string("the first request is ") + request.spec->name + ", not Hello";
    read = false;
  } else if (read && request.header.blob > remote::kMaxHelloBytes) {
    error = "Hello of " + std::to_string(request.header.blob) + " bytes (at most " +
            std::to_string(remote::kMaxHelloBytes) + ")";
    read = false;
  }
  if (!read || !remote::ReadBlob(source, request, &blob, &error) ||
      !remote::ParseHello(request, blob, &hello, &error)) {
    Refuse(fd, CUDA_ERROR_INVALID_VALUE, "bad Hello: " + error);
    Tell(control, kBadHello, "bad Hello: " + error);
    _exit(1);
  }
  if (!remote::TokenMatches(server.token, hello.token)) {
    Refuse(fd, CUDA_ERROR_NOT_PERMITTED, "wrong token");
    Tell(control, kWrongToken);
    _exit(1);
  }
  Tell(control, kAuthenticated);
  char verdict = 0;
  if (recv(control, &verdict, 1, 0) != 1 || verdict != kYes) {
    Refuse(fd, CUDA_ERROR_DEVICE_UNAVAILABLE,
           "the server is serving as many sessions as it may (--max-sessions " +
               std::to_string(server.options.max_sessions) + ")");
    _exit(1);
  }
  auto refuse = [&](CUresult result, const std::string& why) {
    Refuse(fd, result, why);
    Tell(control, kSliceRefused, why);
    _exit(1);
  };
  remote::SessionSlice slice;
  if (!remote::DecideSlice(hello, server.options.limits, server.device_bytes, &slice, &error))
    refuse(CUDA_ERROR_INVALID_VALUE, error);
  SliceRequest run;
  run.sim = server.options.sim;
  run.device = server.options.device;
  run.memory = slice.memory;
  run.compute = slice.compute;
  if (!run.compute.empty()) run.compute_step = "0.1";  // the server's limits decide the granularity
  run.name = "remote-" + std::to_string(getpid());
  run.name_given = true;
  if (!SetUpSlice(run, &error)) refuse(CUDA_ERROR_NO_DEVICE, error);
  fcntl(fd, F_SETFD, 0);  // the worker inherits the connection
  std::string worker = CompanionPath("vxpu-remote-worker");
  std::string fd_text = std::to_string(fd), timeout = std::to_string(server.options.timeout_ms);
  Tell(control, kStarted,
       "slice " + run.name + ", memory " + Sized(slice.memory, server.device_bytes) + ", compute " +
           (slice.compute.empty() ? "shared" : slice.compute + "%"));
  std::string image_bytes = std::to_string(server.image_bytes);
  if (server.image_dir.empty()) {
    execl(worker.c_str(), worker.c_str(), "--fd", fd_text.c_str(), "--timeout-ms", timeout.c_str(), nullptr);
  } else {
    execl(worker.c_str(), worker.c_str(), "--fd", fd_text.c_str(), "--timeout-ms", timeout.c_str(), "--image-cache",
          server.image_dir.c_str(), "--image-cache-bytes", image_bytes.c_str(), nullptr);
  }
  refuse(CUDA_ERROR_NOT_INITIALIZED, "cannot start " + worker + ": " + std::strerror(errno));
  _exit(1);  // refuse does not return
}

// The server's side: accepts, forks a session process per connection, and keeps count of who is
// pending and who is a session (remote/server/admission.h) from what each one tells it.
class SessionTable {
 public:
  SessionTable(const Server& server, int listener)
      : server_(server), listener_(listener), admission_(server.options.max_sessions), log_(5, kLogWindow) {}

  // Serves until a stop is requested.
  void Run() {
    while (!stop_requested) {
      Reap();
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (const auto& [pid, c] : children_) {
        if (c.control >= 0) fds.push_back({c.control, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 200) <= 0) continue;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents != 0) Hear(fds[i].fd);
      }
      if (fds[0].revents & POLLIN) Accept();
    }
  }

 private:
  static constexpr std::chrono::seconds kLogWindow{10};
  enum class State { kPending, kSession, kDone };
  struct Child {
    std::string peer;
    int control = -1;
    State state = State::kPending;
    std::string heard;  // a line not yet complete
  };

  // Lines about sessions that passed the token are all printed; those a stranger can cause (a
  // connection turned away, a bad Hello, a wrong token) go through the limiter under `kind`.
  static void Log(const std::string& line) { std::fprintf(stderr, "vxpu remoted: %s\n", line.c_str()); }
  void Log(const std::string& kind, const std::string& line) {
    std::string out = log_.Pass(kind, line, remote::Admission::Clock::now());
    if (!out.empty()) Log(out);
  }

  void Accept() {
    sockaddr_storage address{};
    socklen_t len = sizeof(address);
    int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&address), &len, SOCK_CLOEXEC);
    if (fd < 0) return;
    char host[NI_MAXHOST] = "?";
    getnameinfo(reinterpret_cast<sockaddr*>(&address), len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST);
    std::string peer = host;
    remote::Admission::Verdict verdict = admission_.Connect(peer, remote::Admission::Clock::now());
    if (!verdict.taken) {
      int flags = fcntl(fd, F_GETFL);
      fcntl(fd, F_SETFL, flags | O_NONBLOCK);  // a refusal never waits on a client
      Refuse(fd, verdict.barred ? CUDA_ERROR_NOT_PERMITTED : CUDA_ERROR_DEVICE_UNAVAILABLE, verdict.why);
      close(fd);
      Log("away " + peer, "turned away a connection from " + peer + ": " + verdict.why);
      return;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      admission_.LeftPending(peer);
      close(fd);
      return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      close(listener_);
      close(pair[0]);
      for (const auto& [other, c] : children_) {
        if (c.control >= 0) close(c.control);
      }
      ServeSession(server_, fd, pair[1]);
    }
    close(pair[1]);
    close(fd);
    if (pid < 0) {
      close(pair[0]);
      admission_.LeftPending(peer);
      Log("cannot start a session for " + peer + ": " + std::strerror(errno));
      return;
    }
    children_[pid] = Child{peer, pair[0], State::kPending, ""};
  }

  // Reads what the session process on `control` says.
  void Hear(int control) {
    for (auto& [pid, c] : children_) {
      if (c.control == control) {
        HearFrom(pid, &c);
        return;
      }
    }
  }

  // Reads and handles what `c` has sent; false once nothing more is there (its end closed: it
  // exec'd its worker or died, which waitpid tells apart).
  bool HearFrom(pid_t pid, Child* c) {
    char buffer[512];
    ssize_t n = recv(c->control, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(c->control);
        c->control = -1;
      }
      return false;
    }
    c->heard.append(buffer, static_cast<size_t>(n));
    for (size_t end; c->heard.size() < 4096 && (end = c->heard.find('\n')) != std::string::npos;) {
      std::string line = c->heard.substr(0, end);
      c->heard.erase(0, end + 1);
      if (!line.empty()) Handle(pid, c, static_cast<Told>(line[0]), line.substr(1));
    }
    return true;
  }

  void Handle(pid_t pid, Child* c, Told what, const std::string& text) {
    std::string session = "session " + std::to_string(pid);
    auto now = remote::Admission::Clock::now();
    if (what == kAuthenticated && c->state == State::kPending) {
      bool room = admission_.Authenticated(c->peer);
      c->state = room ? State::kSession : State::kDone;
      char verdict = room ? kYes : kNo;
      send(c->control, &verdict, 1, MSG_NOSIGNAL);
      if (room) {
        Log(session + " from " + c->peer);
      } else {
        Log(session + " refused: as many sessions as --max-sessions " + std::to_string(server_.options.max_sessions) +
            " (from " + c->peer + ")");
      }
    } else if (what == kWrongToken && c->state == State::kPending) {
      admission_.AuthenticationFailed(c->peer, now);
      c->state = State::kDone;
      Log("token " + c->peer, session + " refused: wrong token (from " + c->peer + ")");
    } else if (what == kBadHello && c->state == State::kPending) {
      admission_.LeftPending(c->peer);
      c->state = State::kDone;
      Log("hello " + c->peer, session + " refused: " + text + " (from " + c->peer + ")");
    } else if (what == kSliceRefused) {
      Log(session + " refused: " + text);
    } else if (what == kStarted) {
      Log(session + ": " + text);
    }
  }

  void Reap() {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      Child& c = it->second;
      // What it said before it went counts (a wrong token told and exited between two looks).
      while (c.control >= 0 && HearFrom(pid, &c)) {
      }
      if (c.state == State::kPending) admission_.LeftPending(c.peer);
      if (c.state == State::kSession) {
        admission_.SessionEnded();
        Log(WIFSIGNALED(status)
                ? "session " + std::to_string(pid) + " ended by signal " + std::to_string(WTERMSIG(status))
                : "session " + std::to_string(pid) + " ended (" + std::to_string(WEXITSTATUS(status)) + ")");
      }
      if (c.control >= 0) close(c.control);
      children_.erase(it);
    }
  }

  const Server& server_;
  int listener_;
  remote::Admission admission_;
  LogLimiter log_;
  std::map<pid_t, Child> children_;
};

bool CheckOptions(const RemotedOptions& o, Server* server, std::string* error) {
  if (o.token_file.empty()) {
    *error = "--token-file is required (a file only its owner can read, holding the sessions' token)";
    return false;
  }
  if (!ReadToken(o.token_file, &server->token, error)) return false;
  std::string why;
  auto devices = ListDevices(o.sim, &why);
  if (!devices) {
    *error = "cannot list the devices: " + why;
    return false;
  }
  auto chosen = SelectDevices(*devices, o.device, &why);
  if (!chosen || chosen->size() != 1) {
    *error = "--device: " + (chosen ? "name one device" : why);
    return false;
  }
  server->device_bytes = chosen->front().memory_total;
  if (!ParseMemoryQuota(o.limits.memory, server->device_bytes, &why)) {
    *error = "--memory: " + why;
    return false;
  }
  if (!o.limits.compute.empty() && !ParseSharePermille(o.limits.compute, &why)) {
    *error = "--compute: " + why;
    return false;
  }
  auto image_bytes = ParseBytes(o.image_cache_size);
  if (!image_bytes) {
    *error = "--image-cache-size: bad value \"" + o.image_cache_size + "\" (want a size: 4GiB, 512MiB)";
    return false;
  }
  server->image_bytes = *image_bytes;
  if (!remote::PrepareImageCacheDir(o.image_cache, &server->image_dir, error)) return false;
  if (!FileExists(CompanionPath("vxpu-remote-worker"))) {
    *error = "missing " + CompanionPath("vxpu-remote-worker") + " (build the whole project)";
    return false;
  }
  return true;
}

}  // namespace

int ServeRemote(const RemotedOptions& options) {
  Server server{options, {}, 0, {}, 0};
  std::string error, bound;
  if (!CheckOptions(options, &server, &error)) return Fail(error);
  int listener = Listen(options.listen, &bound, &error);
  if (listener < 0) return Fail(error);
  signal(SIGINT, OnStop);
  signal(SIGTERM, OnStop);
  signal(SIGPIPE, SIG_IGN);
  std::fprintf(stderr, "vxpu remoted: listening on %s (device %s, up to %s of memory%s per session)\n", bound.c_str(),
               options.device.c_str(), Sized(options.limits.memory, server.device_bytes).c_str(),
               options.limits.compute.empty() ? "" : (", " + options.limits.compute + "% compute").c_str());
  std::printf("{\"listening\":\"%s\"}\n", bound.c_str());
  std::fflush(stdout);
  SessionTable(server, listener).Run();
  close(listener);
  std::fprintf(stderr, "vxpu remoted: stopping\n");
  return 0;
}

}  // namespace vxpu
