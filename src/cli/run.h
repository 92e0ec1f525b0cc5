// `vxpu run`: runs a command under a slice on this machine, no daemon needed. The command
// replaces vxpu (same pid, its exit code is vxpu run's) with libvxpu.so preloaded. The slice is
// set up by the slice component (slice/slice_setup.h); --remote runs it on another machine's.
#pragma once

#include <string>
#include <vector>

#include "slice/slice_request.h"

namespace vxpu {

// vxpu run's options: the slice asked for, and where and what to run in it.
struct RunOptions : SliceRequest {
  std::string remote;      // HOST:PORT of a vxpu remoted: run there instead (cli/run_remote.h)
  std::string token_file;  // the remote server's token
  std::vector<std::string> command;
};

// vxpu run's exit code for its own errors (bad options included): the command's own codes
// are vxpu run's, so vxpu keeps out of their way, as env(1) and docker run do.
constexpr int kRunError = 125;

// Sets up the slice (SetUpSlice), then replaces this process with the command. Returns only on
// failure: kRunError for vxpu's own errors, 126 if the command cannot be executed, 127 if it is
// not found.
int RunUnderSlice(const RunOptions& options);

// Replaces this process with `command` (looked up on PATH); returns only on failure: 126 if it
// cannot be executed, 127 if it is not found (said on stderr).
int ExecCommand(const std::vector<std::string>& command);

}  // namespace vxpu
