// Where vxpu's shared segments (slice ledgers, compute arbiters, simgpu devices) live: the
// directory VXPU_STATE_DIR names, or /dev/shm (POSIX shared memory) when it is unset or empty.
// Processes share a slice only if they see the same directory: containers each have their own
// /dev/shm, so on Kubernetes it is a directory every container mounts (hostPath).
// Dependency-free (libc only) so the interposer can use it.
#pragma once

#include <string>

namespace vxpu {

inline constexpr const char kStateDirEnv[] = "VXPU_STATE_DIR";
inline constexpr const char kDefaultStateDir[] = "/dev/shm";

// Resolves `value`, VXPU_STATE_DIR's value (nullptr when unset): kDefaultStateDir when unset or
// empty, else `value` without its trailing slashes, which must be an absolute path naming an
// existing directory. false with *error set to one line naming the value otherwise, e.g.
// `VXPU_STATE_DIR="relative/x": not an absolute path`.
bool ResolveStateDir(const char* value, std::string* dir, std::string* error);

// This process's state directory: VXPU_STATE_DIR resolved at the first call and kept for the
// life of the process, so that a program changing its environment later never splits its
// segments between two places. false with *error set if VXPU_STATE_DIR is bad: nothing then
// falls back to /dev/shm.
bool StateDir(std::string* dir, std::string* error);

}  // namespace vxpu
