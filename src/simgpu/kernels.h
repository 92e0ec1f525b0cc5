// The kernels simgpu can run, and the module format that names them.
//
// A module image is text (NUL-terminated, as PTX is) declaring kernels with ".entry NAME"; a
// real PTX file is therefore a valid sim module, and the sample kernels ship as PTX that both
// the real driver and simgpu load. simgpu runs the entries it knows as built-ins, really
// computing on device memory, and charges each a device time:
//   vxpu_spin_ns(u64 ns)                                 occupies the device for ns
//   vxpu_fill_u32(u32* dst, u32 value, u64 n)            dst[i] = value
//   vxpu_vector_add_f32(f32* a, f32* b, f32* c, u64 n)   c[i] = a[i] + b[i]
// Element-wise kernels handle i < min(n, total threads of the launch), like a bounds-checked
// CUDA kernel with one thread per element.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace simgpu {

// True if [addr, addr+bytes) lies in device memory the caller may access.
using MemoryCheck = std::function<bool(uint64_t addr, uint64_t bytes)>;

struct BuiltinKernel {
  std::string_view name;
  std::vector<uint32_t> param_sizes;  // each parameter aligned to its own size
  // Device time the launch takes, from its parameters and thread count.
  uint64_t (*device_ns)(const uint8_t* params, uint64_t threads);
  // Does the work; false if it would touch memory outside `check` (an illegal address).
  bool (*run)(const uint8_t* params, uint64_t threads, const MemoryCheck& check);
};

const BuiltinKernel* FindBuiltinKernel(std::string_view name);

// Byte offsets of each parameter in a packed parameter buffer, and the buffer's size.
std::vector<uint32_t> ParamOffsets(const BuiltinKernel& kernel, uint32_t* total_size);

// Entry names declared in a module image; empty if the image is not a text module.
std::vector<std::string> ModuleEntries(std::string_view image);

}  // namespace simgpu
