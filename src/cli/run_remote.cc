#include "cli/run_remote.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend/paths.h"
#include "common/units.h"
#include "remote/address.h"
#include "remote/protocol.h"

namespace vxpu {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "vxpu run: %s\n", message.c_str());
  return kRunError;
}

// The options that mean something only for a local slice, as given with --remote.
std::string LocalOnlyOptionsGiven(const RunOptions& o) {
  std::string given;
  auto add = [&given](bool present, const char* flag) {
    if (present) given += (given.empty() ? "" : ", ") + std::string(flag);
  };
  add(o.sim, "--sim");
  add(!o.device.empty(), "--device");
  add(!o.compute_limit.empty(), "--compute-limit");
  add(o.strict, "--strict");
  add(o.priority != "normal", "--priority");
  add(o.name_given, "--name");
  return given;
}

}  // namespace

int RunRemote(const RunOptions& o) {
  if (o.command.empty()) return Fail("no command given (vxpu run --remote HOST:PORT -- COMMAND [ARGS...])");
  std::string host, port;
  if (!remote::SplitHostPort(o.remote, &host, &port))
    return Fail("--remote: bad value \"" + o.remote + "\" (want HOST:PORT)");
  std::string local = LocalOnlyOptionsGiven(o);
  if (!local.empty()) return Fail(local + ": not with --remote (the server decides where and how the slice runs)");
  std::string error;
  if (!o.memory.empty() && !ParseMemoryQuota(o.memory, UINT64_MAX, &error)) return Fail("--memory: " + error);
  if (!o.compute.empty() && !ParseSharePermille(o.compute, &error)) return Fail("--compute: " + error);
  const char* token_file = o.token_file.empty() ? std::getenv("VXPU_REMOTE_TOKEN_FILE") : o.token_file.c_str();
  if (token_file == nullptr || *token_file == '\0')
    return Fail("--remote needs --token-file (or VXPU_REMOTE_TOKEN_FILE): the server's token");
  char absolute[PATH_MAX];
  if (realpath(token_file, absolute) == nullptr)
    return Fail(std::string("--token-file: cannot read \"") + token_file + "\": " + std::strerror(errno));
  std::string token;  // checked here as the client library will read it, for a clear error up front
  if (!remote::ReadTokenFile("--token-file", absolute, remote::kMaxTokenBytes, &token, &error)) return Fail(error);
  std::string client = RemoteClientDir();
  if (!FileExists(client + "/libcuda.so.1")) return Fail("missing the remote client in " + client);
  const char* path = std::getenv("LD_LIBRARY_PATH");
  setenv("LD_LIBRARY_PATH", (path != nullptr && *path != '\0' ? client + ":" + path : client).c_str(), 1);
  setenv("VXPU_REMOTE", o.remote.c_str(), 1);
  setenv("VXPU_REMOTE_TOKEN_FILE", absolute, 1);
  if (o.memory.empty())
    unsetenv("VXPU_REMOTE_MEMORY");
  else
    setenv("VXPU_REMOTE_MEMORY", o.memory.c_str(), 1);
  if (o.compute.empty())
    unsetenv("VXPU_REMOTE_COMPUTE");
  else
    setenv("VXPU_REMOTE_COMPUTE", o.compute.c_str(), 1);

  return ExecCommand(o.command);
}

}  // namespace vxpu
