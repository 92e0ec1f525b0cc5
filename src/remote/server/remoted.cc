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
#include <vector>

#include <cuda.h>
#include "backend/device_list.h"
#include "backend/paths.h"
#include "cli/run.h"
#include "common/units.h"

#include "remote/address.h"
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
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *error = "--token-file: cannot read \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    *error = "--token-file: \"" + path + "\" is readable by others (chmod 600 it)";
    return false;
  }
  if (!remote::ReadTokenFile(path, token) || token->size() < 16 || token->size() > remote::kMaxTokenBytes) {
    *error = "--token-file: \"" + path + "\" must hold a token of 16 to 4096 bytes";
    return false;
  }
  return true;
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

void Refuse(int fd, CUresult result, const std::string& why) {
  std::string head;
  remote::AppendAnswer(&head, remote::kReply, result, nullptr, 0, why.size());
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(why.data()), why.size()}};
  remote::WriteFull(fd, iov, 2);
  std::fprintf(stderr, "vxpu remoted: session %d refused: %s\n", getpid(), why.c_str());
}

struct Server {
  const RemotedOptions& options;
  std::string token;
  uint64_t device_bytes = 0;
};

// In the forked session process: Hello, then the worker replaces this process.
[[noreturn]] void ServeSession(const Server& server, int fd, const char* peer) {
  std::fprintf(stderr, "vxpu remoted: session %d from %s\n", getpid(), peer);
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
    _exit(1);
  }
  if (!remote::TokenMatches(server.token, hello.token)) {
    Refuse(fd, CUDA_ERROR_NOT_PERMITTED, "wrong token");
    _exit(1);
  }
  remote::SessionSlice slice;
  if (!remote::DecideSlice(hello, server.options.limits, server.device_bytes, &slice, &error)) {
    Refuse(fd, CUDA_ERROR_INVALID_VALUE, error);
    _exit(1);
  }
  RunOptions run;
  run.sim = server.options.sim;
  run.device = server.options.device;
  run.memory = slice.memory;
  run.compute = slice.compute;
  if (!run.compute.empty()) run.compute_step = "0.1";  // the server's limits decide the granularity
  run.name = "remote-" + std::to_string(getpid());
  run.name_given = true;
  if (!PrepareSlice(run, &error)) {
    Refuse(fd, CUDA_ERROR_NO_DEVICE, error);
    _exit(1);
  }
  fcntl(fd, F_SETFD, 0);  // the worker inherits the connection
  std::string worker = CompanionPath("vxpu-remote-worker");
  std::string fd_text = std::to_string(fd), timeout = std::to_string(server.options.timeout_ms);
  std::fprintf(stderr, "vxpu remoted: session %d: slice %s, memory %s, compute %s\n", getpid(), run.name.c_str(),
               slice.memory.c_str(), slice.compute.empty() ? "shared" : (slice.compute + "%").c_str());
  execl(worker.c_str(), worker.c_str(), "--fd", fd_text.c_str(), "--timeout-ms", timeout.c_str(), nullptr);
  Refuse(fd, CUDA_ERROR_NOT_INITIALIZED, "cannot start " + worker + ": " + std::strerror(errno));
  _exit(1);
}

int live_sessions = 0;

void ReapSessions() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    --live_sessions;
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "vxpu remoted: session %d ended by signal %d\n", pid, WTERMSIG(status));
    } else {
      std::fprintf(stderr, "vxpu remoted: session %d ended (%d)\n", pid, WEXITSTATUS(status));
    }
  }
}

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
  if (!FileExists(CompanionPath("vxpu-remote-worker"))) {
    *error = "missing " + CompanionPath("vxpu-remote-worker") + " (build the whole project)";
    return false;
  }
  return true;
}

}  // namespace

int ServeRemote(const RemotedOptions& options) {
  Server server{options, {}, 0};
  std::string error, bound;
  if (!CheckOptions(options, &server, &error)) return Fail(error);
  int listener = Listen(options.listen, &bound, &error);
  if (listener < 0) return Fail(error);
  signal(SIGINT, OnStop);
  signal(SIGTERM, OnStop);
  signal(SIGPIPE, SIG_IGN);
  std::fprintf(stderr, "vxpu remoted: listening on %s (device %s, up to %s of memory%s per session)\n", bound.c_str(),
               options.device.c_str(), options.limits.memory.c_str(),
               options.limits.compute.empty() ? "" : (", " + options.limits.compute + "% compute").c_str());
  std::printf("{\"listening\":\"%s\"}\n", bound.c_str());
  std::fflush(stdout);
  pid_t parent = getpid();
  while (!stop_requested) {
    ReapSessions();
    pollfd pfd{listener, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (live_sessions >= options.max_sessions) {  // each session is a process: bounded
      Refuse(fd, CUDA_ERROR_NO_DEVICE,
             "the server runs its most sessions (" + std::to_string(options.max_sessions) + ")");
      close(fd);
      continue;
    }
    char host[NI_MAXHOST] = "?";
    getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST);
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      close(listener);
      ServeSession(server, fd, host);
    }
    if (pid > 0) ++live_sessions;
    if (pid < 0) std::fprintf(stderr, "vxpu remoted: cannot start a session for %s: %s\n", host, std::strerror(errno));
    close(fd);
  }
  close(listener);
  std::fprintf(stderr, "vxpu remoted: stopping\n");
  return 0;
}

}  // namespace vxpu
