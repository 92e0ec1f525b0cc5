// vxpu-remote-worker: serves one remote session on an accepted connection. Started by
// `vxpu remoted` under the session's slice (as `vxpu run` starts a command), never by hand.
//
//   vxpu-remote-worker --fd N [--timeout-ms T] [--image-cache DIR --image-cache-bytes N]
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "remote/protocol.h"
#include "remote/wire.h"
#include "remote/worker/session.h"

namespace {

bool ParseNumber(const char* text, unsigned long max, unsigned long* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value > max) return false;
  *out = value;
  return true;
}

int Usage(const char* problem) {
  std::fprintf(stderr,
               "vxpu-remote-worker: %s\nusage: vxpu-remote-worker --fd N [--timeout-ms T] [--image-cache DIR "
               "--image-cache-bytes N] (started by vxpu remoted)\n",
               problem);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long fd = 0, timeout_ms = vxpu::remote::kDefaultTimeoutMs, cache_bytes = 0;
  std::string cache_dir;
  bool have_fd = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + flag).c_str());
    const char* value = argv[++i];
    if (flag == "--fd") {
      if (!ParseNumber(value, 65535, &fd)) return Usage((std::string("--fd: bad value \"") + value + "\"").c_str());
      have_fd = true;
    } else if (flag == "--timeout-ms") {
      if (!ParseNumber(value, 3600000, &timeout_ms) || timeout_ms == 0)
        return Usage((std::string("--timeout-ms: bad value \"") + value + "\"").c_str());
    } else if (flag == "--image-cache") {
      if (value[0] != '/')
        return Usage((std::string("--image-cache: want an absolute path, not \"") + value + "\"").c_str());
      cache_dir = value;
    } else if (flag == "--image-cache-bytes") {
      if (!ParseNumber(value, ULONG_MAX, &cache_bytes))
        return Usage((std::string("--image-cache-bytes: bad value \"") + value + "\"").c_str());
    } else {
      return Usage(("unknown option " + flag).c_str());
    }
  }
  if (!have_fd) return Usage("--fd is required");
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    return Usage(("--fd " + std::to_string(fd) + " is not a connected stream socket").c_str());
  vxpu::remote::TuneSocket(static_cast<int>(fd), static_cast<uint32_t>(timeout_ms));
  vxpu::remote::Session session(static_cast<int>(fd), static_cast<uint32_t>(timeout_ms),
                                vxpu::remote::ImageCache(cache_dir, cache_bytes));
  return session.Serve();
}
