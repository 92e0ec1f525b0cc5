// `vxpu run`: runs a command under a slice on this machine, no daemon needed. The command
// replaces vxpu (same pid, its exit code is vxpu run's) with libvxpu.so preloaded.
#pragma once

#include <string>
#include <vector>

namespace vxpu {

struct RunOptions {
  std::string device;         // ordinal or UUID; empty: all devices
  std::string memory;         // quota per device, e.g. "20GiB" or "25%"; empty: no memory quota
  std::string compute;        // guaranteed share of each device in percent, e.g. "30"; empty: none
  std::string compute_limit;  // ceiling in percent; empty: 100
  bool strict = false;        // ceiling = guaranteed share
  std::string priority = "normal";
  std::string compute_step = "10";  // --compute must be a multiple of this (percent)
  std::string name;                 // slice name; empty: "run-<pid>"
  bool sim = false;                 // run on simgpu instead of the real driver
  std::vector<std::string> command;
};

// Returns only on failure (exit code 125 for vxpu's own errors, 127 if the command cannot run).
int RunUnderSlice(const RunOptions& options);

}  // namespace vxpu
