// libFuzzer target for vxpud's HTTP layer: the bytes a client sends on the API socket (request
// lines, methods, paths, headers, bodies, several requests pipelined) go through the same
// GuardedHttpServer (src/agent_api/guarded_http.h), cpp-httplib's parser and vxpud's routes
// (src/agent/api_server.h) as on the real socket, on a socket pair, with a NodeAgent over a
// throwaway state directory and simgpu's devices. Besides "never crashes", it checks that:
//   - no answer throws (the server's last guard catches it and closes the connection unanswered:
//     GuardedHttpServer::escaped_exceptions counts those);
//   - whatever is answered begins with an HTTP/1.1 status line;
//   - an answer's JSON body (a whole one: not the parts a Range asks for) parses, and an error in
//     it is one line.
//
// Built two ways, like the other targets: by scripts/fuzz.sh SECONDS agent_http_fuzz with clang
// and libFuzzer, and with fuzz/corpus_driver.cc as the ctest agent.HttpFuzzCorpus over
// fuzz/corpus/agent_http.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/api_server.h"
#include "agent/node_agent.h"
#include "agent_api/guarded_http.h"
#include "fuzz_check.h"

namespace {

class FuzzServer : public vxpu::GuardedHttpServer {
 public:
  void Serve(int sock) { ServeConnection(sock, /*while_listening=*/false); }
};

struct Target {
  std::string state_dir;
  std::unique_ptr<vxpu::NodeAgent> agent;
  FuzzServer server;
};

Target* Setup() {
  auto* t = new Target;
  char pattern[] = "/tmp/vxpu-http-fuzz-XXXXXX";
  if (mkdtemp(pattern) == nullptr) std::abort();
  t->state_dir = pattern;
  setenv("VXPU_STATE_DIR", pattern, 1);
  std::string error;
  vxpu::AgentOptions options{t->state_dir, /*sim=*/true, 512ull << 20};
  t->agent = vxpu::NodeAgent::Start(
      options, [](const std::string&) {}, &error);
  if (!t->agent) {
    std::fprintf(stderr, "agent_http_fuzz: %s\n", error.c_str());
    std::abort();
  }
  vxpu::InstallApi(t->agent.get(), vxpu::ApiInfo{"fuzz", t->state_dir + "/vxpud.sock", true, "fuzz-node"},
                   vxpu::ApiAccess::kFull, &t->server);
  std::atexit([] {});
  return t;
}

// What came back on `fd` until the server's side closed.
std::string Drain(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

// Checks the first answer in `answer` (`is_head`: it answers a HEAD, which carries no body).
void CheckAnswer(const std::string& answer, bool is_head) {
  if (answer.empty()) return;  // closed without answering: a request it could not read
  FUZZ_CHECK(answer.rfind("HTTP/1.1 ", 0) == 0, answer.substr(0, 200));
  size_t body = answer.find("\r\n\r\n");
  FUZZ_CHECK(body != std::string::npos, answer.substr(0, 200));
  if (is_head) return;
  std::string head = answer.substr(0, body + 2);
  if (head.find("Content-Type: application/json\r\n") == std::string::npos ||
      head.find("Content-Range: ") != std::string::npos)
    return;  // parts of the JSON, for a Range
  size_t length_at = answer.find("Content-Length: ");
  if (length_at == std::string::npos || length_at > body) return;
  size_t length = std::strtoul(answer.c_str() + length_at + 16, nullptr, 10);
  std::string text = answer.substr(body + 4, length);
  if (text.empty()) return;
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  FUZZ_CHECK(!json.is_discarded(), "an answer that is not JSON: " + text);
  if (json.is_object() && json.contains("error")) vxpu_fuzz::CheckRefusal(json["error"].get<std::string>(), "the API");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target* target = Setup();
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
  int big = 1 << 20;
  setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = send(pair[0], data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(pair[0], SHUT_WR);
  target->server.Serve(pair[1]);
  shutdown(pair[1], SHUT_WR);
  CheckAnswer(Drain(pair[0]), size >= 4 && std::memcmp(data, "HEAD", 4) == 0);
  FUZZ_CHECK(target->server.escaped_exceptions() == 0, "an answer threw (the connection closed unanswered)");
  close(pair[0]);
  close(pair[1]);
  return 0;
}
