// The terms of a slice an agent registered, kept in a file the workload cannot write, so that a
// process of the slice cannot widen them by changing its environment. vxpud writes one file per
// registered slice: lines of KEY=VALUE naming the slice's VXPU_* settings (those below), '#'
// comments. The interposer reads it at load, before anything reads those settings, and puts its
// values in the environment in place of the process's own (docs/security.md):
//  - in a container, the file the device plugin mounts read-only at kContainerTermsPath names
//    the slice, its state directory and its terms: whatever VXPU_* the container sets is ignored;
//  - elsewhere, <VXPU_STATE_DIR>/slices/<VXPU_SLICE>.env, when the agent registered that slice
//    and still serves the directory (holds the lock of AgentServes: a stopped agent's files are
//    not followed).
// Dependency-free (libc) so the interposer can use it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vxpu {

inline constexpr char kContainerTermsPath[] = "/etc/vxpu-slice.env";

// The settings a terms file may hold; those it leaves out are unset.
inline constexpr const char* kTermsKeys[] = {"VXPU_SLICE",   "VXPU_STATE_DIR",     "VXPU_MEMORY",
                                             "VXPU_COMPUTE", "VXPU_COMPUTE_LIMIT", "VXPU_PRIORITY"};

using TermsVars = std::vector<std::pair<std::string, std::string>>;

// <state_dir>/slices/<slice>.env: where vxpud keeps the terms of `slice` for processes outside
// containers.
std::string TermsFileOfSlice(const std::string& state_dir, const std::string& slice);

std::string FormatTermsFile(const TermsVars& vars);
// False with *error naming the line on anything but kTermsKeys, once each, with one-line values.
bool ParseTermsFile(const std::string& text, TermsVars* vars, std::string* error);

// The lock file a running vxpud holds (an open-file-description write lock on all of it) for as
// long as it serves `state_dir`; a second agent cannot take it.
std::string AgentLockPath(const std::string& state_dir);
// Whether an agent holds the lock of `state_dir` now (the lock is only looked at, never taken).
bool AgentServes(const std::string& state_dir);

// Reads the terms file at `path`: true with *vars (and *owner, its owner's uid, if asked) set if
// it is there and well-formed, false with *error empty if there is none, false with *error set
// if it cannot be read or parsed or is no regular file.
bool ReadTermsFile(const std::string& path, TermsVars* vars, std::string* error, unsigned* owner = nullptr);

}  // namespace vxpu
