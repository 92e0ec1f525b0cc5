// `vxpu ps`: the slices on this machine, their processes, usage and limits. Through vxpud when
// it runs (every registered slice, before its first allocation too); without it, the slices
// whose processes have opened a ledger or arbiter. `-o json` is the agent's GET /v1/slices.
#pragma once

namespace vxpu {

int ListSlices(bool json);

}  // namespace vxpu
