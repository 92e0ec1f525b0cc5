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
  std::string name;                 // slice name, if name_given; else "run-<pid>"
  bool name_given = false;
  bool sim = false;        // run on simgpu instead of the real driver
  std::string remote;      // HOST:PORT of a vxpu remoted: run there instead (cli/run_remote.h)
  std::string token_file;  // the remote server's token
  std::vector<std::string> command;
};

// vxpu run's exit code for its own errors (bad options included): the command's own codes
// are vxpu run's, so vxpu keeps out of their way, as env(1) and docker run do.
constexpr int kRunError = 125;

// Checks the slice against the devices the command will use, registers it with vxpud when one
// runs, and puts it into this process's environment (LD_PRELOAD, VXPU_*) for a program it
// then executes. False with *error saying why not (options.command is not looked at).
bool PrepareSlice(const RunOptions& options, std::string* error);

// Checks the slice against the devices the command will use (they exist, the memory quota fits
// each, the compute guarantee fits beside the running slices'), then replaces this process
// with the command. Returns only on failure: kRunError for vxpu's own errors, 126 if the
// command cannot be executed, 127 if it is not found.
int RunUnderSlice(const RunOptions& options);

// Replaces this process with `command` (looked up on PATH); returns only on failure: 126 if it
// cannot be executed, 127 if it is not found (said on stderr).
int ExecCommand(const std::vector<std::string>& command);

}  // namespace vxpu
