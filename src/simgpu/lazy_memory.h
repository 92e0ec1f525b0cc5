// Device memory the simulators hand out: host address space backed by pages only where written
// (MAP_NORESERVE), so a simulated 80 GiB device costs nothing until used. simgpu's and simnpu's.
#pragma once

#include <cstdint>

namespace simgpu {

// `bytes` of lazily backed, read-write memory; nullptr if the address space is exhausted.
void* MapLazy(uint64_t bytes);
void Unmap(void* addr, uint64_t bytes);

}  // namespace simgpu
