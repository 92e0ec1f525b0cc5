// Linked into every test program (tests/CMakeLists.txt): the vxpud instances tests start, many
// at once, must not announce themselves to the commands of other tests (agent_beacon.h), which
// would then find them. A test of the beacon names its own in its children's environment.
#include <cstdlib>

namespace {

[[maybe_unused]] const bool kBeaconOff = [] { return setenv("VXPU_AGENT_BEACON", "off", /*overwrite=*/0) == 0; }();

}  // namespace
