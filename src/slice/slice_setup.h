// Puts the program this process executes next under a slice of this node's devices, the one way
// every local launcher does it (vxpu run, vxpu remoted): the request is checked (slice_request.h)
// against the devices it will use and the slices running there (admission.h), registered with
// vxpud when one runs (which checks it against every slice it knows) or recorded for the next
// launcher without one (daemonless_slices.h), and this process's environment gets the slice
// (slice_edits.h: the VXPU_* settings, the interposer preloaded; simgpu on the library path for
// the simulated devices). The slice is owned by this process: the launcher, or the program it
// becomes. A launcher that starts the program in an environment of its own (the Slurm plugin:
// a job's) asks for the changes instead. Containers get their edits from the device plugin.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "slice/slice_request.h"

namespace vxpu {

// Reads a variable of the environment the program will start with (nullopt: unset).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// What that environment must become: each variable to its value, nullopt to unset it.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

// Checks, admits and registers the slice, and puts into *changes what the environment `current`
// needs for a program to run in it. False with *error saying why not (nothing registered).
bool SetUpSliceFor(const SliceRequest& request, const EnvLookup& current, EnvChanges* changes, std::string* error);

// The same for the program this process executes next: the changes made to this process's
// environment. False with *error saying why not; the environment is unchanged then.
bool SetUpSlice(const SliceRequest& request, std::string* error);

}  // namespace vxpu
