// `vxpu run`: runs a command under a slice on this machine, no daemon needed. The command
// replaces vxpu (same pid, its exit code is vxpu run's) with libvxpu.so preloaded.
#pragma once

#include <string>
#include <vector>

namespace vxpu {

struct RunOptions {
  std::string device;  // ordinal or UUID; empty: all devices
  std::string memory;  // quota per device, e.g. "20GiB" or "25%"
  std::string name;    // slice name; empty: "run-<pid>"
  bool sim = false;    // run on simgpu instead of the real driver
  std::vector<std::string> command;
};

// Returns only on failure (exit code 125 for vxpu's own errors, 127 if the command cannot run).
int RunUnderSlice(const RunOptions& options);

}  // namespace vxpu
