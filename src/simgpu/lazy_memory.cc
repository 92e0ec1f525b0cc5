#include "simgpu/lazy_memory.h"

#include <sys/mman.h>

namespace simgpu {

void* MapLazy(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void Unmap(void* addr, uint64_t bytes) { munmap(addr, bytes); }

}  // namespace simgpu
