// `vxpu remoted`: serves remote sessions on a GPU node. Each accepted connection that passes
// Hello (token, slice request within the server's limits) gets a worker process of its own,
// started under its slice exactly as `vxpu run` starts a command (registered with vxpud when
// one runs), on the server's one device. The worker dies with the server.
#pragma once

#include <cstdint>
#include <string>

#include "remote/server/session_terms.h"

namespace vxpu {

struct RemotedOptions {
  std::string listen;      // HOST:PORT (port 0: any free port, printed at start)
  std::string token_file;  // the shared secret; must not be readable by group or others
  std::string device = "0";
  remote::SessionLimits limits;  // memory required: the server decides how large a session is
  bool sim = false;
  uint32_t timeout_ms = 10000;  // silence after which a session is given up
  int max_sessions = 64;        // sessions at once (each a process); more are refused
  std::string image_cache;      // where images are kept between sessions ("": default, "none")
  std::string image_cache_size = "4GiB";
};

// Runs until SIGINT/SIGTERM. Returns the exit code: 0 after a signal, 2 for bad options.
int ServeRemote(const RemotedOptions& options);

}  // namespace vxpu
