// Puts the program this process executes next under a slice of this node's devices, the one way
// every local launcher does it (vxpu run, vxpu remoted): the request is checked (slice_request.h)
// against the devices it will use and the slices running there (admission.h), registered with
// vxpud when one runs (which checks it against every slice it knows) or recorded for the next
// launcher without one (daemonless_slices.h), and this process's environment gets the slice
// (slice_edits.h: the VXPU_* settings, the interposer preloaded; simgpu on the library path for
// the simulated devices). Containers get their edits from the device plugin instead.
#pragma once

#include <string>

#include "slice/slice_request.h"

namespace vxpu {

// False with *error saying why not; the environment is unchanged then.
bool SetUpSlice(const SliceRequest& request, std::string* error);

}  // namespace vxpu
