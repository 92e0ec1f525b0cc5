// The launch hooks: a kernel or graph launch waits for the process's compute turn on the
// device (compute_gate.h), then goes to the driver unchanged. Without a compute slice they
// are not even handed out through cuGetProcAddress or dlsym (entry.cc).
#include "interposer/compute_gate.h"
#include "interposer/hooks.h"

namespace vxpu::interposer {
namespace {

// Runs `launch` once the device may take work into `stream`.
template <typename Launch>
CUresult Gated(int flavor, CUstream stream, Launch launch) {
  if (ComputeEnabled()) {
    if (CUresult r = AwaitComputeTurn(stream, flavor == kPerThreadFlavor); r != CUDA_SUCCESS) return r;
  }
  return launch();
}

}  // namespace

CUresult Hook_cuLaunchKernel(int flavor, CUfunction f, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                             unsigned int block_x, unsigned int block_y, unsigned int block_z,
                             unsigned int shared_bytes, CUstream stream, void** params, void** extra) {
  VXPU_REAL_OR_FAIL(real, cuLaunchKernel);
  return Gated(flavor, stream, [&] {
    return real(f, grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes, stream, params, extra);
  });
}

CUresult Hook_cuLaunchKernelEx(int flavor, const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  VXPU_REAL_OR_FAIL(real, cuLaunchKernelEx);
  if (config == nullptr) return real(config, f, params, extra);
  return Gated(flavor, config->hStream, [&] { return real(config, f, params, extra); });
}

CUresult Hook_cuLaunchCooperativeKernel(int flavor, CUfunction f, unsigned int grid_x, unsigned int grid_y,
                                        unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                                        unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                                        void** params) {
  VXPU_REAL_OR_FAIL(real, cuLaunchCooperativeKernel);
  return Gated(flavor, stream, [&] {
    return real(f, grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes, stream, params);
  });
}

CUresult Hook_cuGraphLaunch(int flavor, CUgraphExec graph, CUstream stream) {
  VXPU_REAL_OR_FAIL(real, cuGraphLaunch);
  return Gated(flavor, stream, [&] { return real(graph, stream); });
}

}  // namespace vxpu::interposer
