// `vxpu run --remote HOST:PORT`: runs a driver-API program on a slice of another machine's GPU,
// through the remote client (libcuda.so.1 forwarding to `vxpu remoted`). Nothing local is
// sliced: the server sets up the slice when the program's cuInit opens the session.
#pragma once

#include "cli/run.h"

namespace vxpu {

// Checks the options, puts the session's settings into the environment (VXPU_REMOTE,
// VXPU_REMOTE_TOKEN_FILE, VXPU_REMOTE_MEMORY, VXPU_REMOTE_COMPUTE) with the client first on
// LD_LIBRARY_PATH, and replaces this process with the command. Returns only on failure, with
// RunUnderSlice's exit codes.
int RunRemote(const RunOptions& options);

}  // namespace vxpu
