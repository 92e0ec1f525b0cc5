// The files that hold registered slices' terms against their workloads' environment
// (common/registered_terms.h): vxpud keeps one per registered slice, <dir>/<slice>.env, in each
// of its terms directories: <state dir>/slices for processes on the host, and, with the device
// plugin, <host lib dir>/slices, which containers get mounted read-only. The directories are
// 0755 and the files 0644, the agent's: workloads read them and cannot write them.
#pragma once

#include <set>
#include <string>

#include "common/registered_terms.h"
#include "node/slice.h"

namespace vxpu {

// The VXPU_* settings of `slice`, whose segments live in `state_dir`: what `vxpu run` exports
// and the device plugin gives containers.
TermsVars SliceTerms(const SliceSpec& slice, const std::string& state_dir);

// Writes the terms of `slice` to <dir>/<name>.env (creating `dir`), replacing the file atomically
// when it differs; false with *error naming the path.
bool WriteTermsFile(const std::string& dir, const SliceSpec& slice, const std::string& state_dir, std::string* error);

// Removes the terms files in `dir` of slices not named in `keep`.
void RemoveTermsFilesExcept(const std::string& dir, const std::set<std::string>& keep);

}  // namespace vxpu
