// The policed entry points (hooks.def): their ids, their implementations Hook_<symbol>, and
// how a hook reaches the real function it wraps. `flavor` tells a hook which real function
// it stands for: the default one, or the per-thread default-stream variant.
#pragma once

#include "interposer/cuda_api.h"

// cuda.h makes cuStreamBeginCapture a name for cuStreamBeginCapture_v2. Here it names the
// driver's entry point of that name, CUDA 10.0's (no mode), which is policed too.
#undef cuStreamBeginCapture
extern "C" CUresult CUDAAPI cuStreamBeginCapture(CUstream hStream);

#define VXPU_UNPAREN(...) __VA_ARGS__

namespace vxpu::interposer {

enum HookId {
#define VXPU_HOOK(name, since, symbol, per_thread, params, args) kHook_##symbol,
#include "interposer/hooks.def"
#undef VXPU_HOOK
  kHookCount
};

enum Flavor { kDefaultFlavor = 0, kPerThreadFlavor = 1 };

// The real function behind hook `id` in `flavor`; nullptr if the driver lacks it.
void* RealFunction(HookId id, int flavor);

#define VXPU_HOOK(name, since, symbol, per_thread, params, args) \
  CUresult Hook_##symbol(int flavor, VXPU_UNPAREN params);
#include "interposer/hooks.def"
#undef VXPU_HOOK

}  // namespace vxpu::interposer

// Inside Hook_<symbol>: the real function, typed as cuda.h declares it.
#define VXPU_REAL(symbol) \
  reinterpret_cast<decltype(&::symbol)>(::vxpu::interposer::RealFunction(::vxpu::interposer::kHook_##symbol, flavor))
// Declares `var` as VXPU_REAL(symbol); the hook returns CUDA_ERROR_NOT_INITIALIZED if the driver lacks it.
#define VXPU_REAL_OR_FAIL(var, symbol) \
  auto var = VXPU_REAL(symbol);        \
  if (var == nullptr) return CUDA_ERROR_NOT_INITIALIZED
