// `vxpu ps`: the slices on this machine, their processes, usage and limits.
#pragma once

namespace vxpu {

int ListSlices(bool json);

}  // namespace vxpu
