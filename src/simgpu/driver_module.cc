// Modules, functions and kernel launches.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/launch_extra.h"
#include "simgpu/driver.h"

namespace simgpu {
namespace {

constexpr size_t kMaxImageBytes = 64u << 20;

CUresult LoadModule(CUmodule* out, std::string_view image) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  std::vector<std::string> entries = ModuleEntries(image);
  if (entries.empty()) return CUDA_ERROR_INVALID_IMAGE;
  auto* module = new Module;
  module->ctx = ctx;
  module->entries = std::move(entries);
  d.modules.insert(module);
  *out = reinterpret_cast<CUmodule>(module);
  return CUDA_SUCCESS;
}

std::string_view ImageText(const void* image) {
  const char* text = static_cast<const char*>(image);
  return std::string_view(text, strnlen(text, kMaxImageBytes));
}

struct LaunchShape {
  unsigned grid[3];
  unsigned block[3];
  unsigned shared_bytes;
};

bool ValidShape(const LaunchShape& s) {
  for (int i = 0; i < 3; ++i) {
    if (s.grid[i] == 0 || s.block[i] == 0) return false;
  }
  uint64_t threads = uint64_t{s.block[0]} * s.block[1] * s.block[2];
  return threads <= 1024 && s.block[2] <= 64 && s.grid[1] <= 65535 && s.grid[2] <= 65535 && s.shared_bytes <= 232448;
}

// Packs the kernel's arguments from kernelParams or from the `extra` buffer description.
CUresult PackParams(const BuiltinKernel& kernel, void** params, void** extra, std::vector<uint8_t>* out) {
  uint32_t total = 0;
  std::vector<uint32_t> offsets = ParamOffsets(kernel, &total);
  out->assign(total, 0);
  if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (params != nullptr) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(out->data() + offsets[i], params[i], kernel.param_sizes[i]);
    }
    return CUDA_SUCCESS;
  }
  if (extra != nullptr) {
    const void* buffer = nullptr;
    size_t size = 0;
    if (!vxpu::ExtraBuffer(extra, &buffer, &size) || size < total) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(out->data(), buffer, total);
    return CUDA_SUCCESS;
  }
  return total == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult Launch(CUfunction hfunc, const LaunchShape& shape, CUstream hstream, void** params, void** extra) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  Function* func = FunctionOfLocked(hfunc, ctx);  // the runtime passes a CUkernel here
  if (func == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (!ValidShape(shape)) return CUDA_ERROR_INVALID_VALUE;
  Stream* stream = nullptr;
  SIM_TRY(ResolveStreamLocked(hstream, ctx, &stream));
  if (stream->ctx != func->module->ctx) return CUDA_ERROR_INVALID_CONTEXT;
  SIM_TRY(CapturableLocked(stream));  // into a capturing stream: recorded (EnqueueLocked)
  std::vector<uint8_t> args;
  SIM_TRY(PackParams(*func->kernel, params, extra, &args));
  uint64_t threads =
      uint64_t{shape.grid[0]} * shape.grid[1] * shape.grid[2] * shape.block[0] * shape.block[1] * shape.block[2];
  const BuiltinKernel* kernel = func->kernel;
  uint64_t device_ns = kernel->device_ns(args.data(), threads);
  EnqueueLocked(stream, device_ns, [kernel, args = std::move(args), threads] {
    MemoryCheck check = [](uint64_t addr, uint64_t bytes) {
      std::lock_guard<std::mutex> inner(TheDriver().mu);
      return AccessibleLocked(addr, bytes);
    };
    return kernel->run(args.data(), threads, check) ? 0 : static_cast<int>(CUDA_ERROR_ILLEGAL_ADDRESS);
  });
  return CUDA_SUCCESS;
}

}  // namespace

void DeleteModuleLocked(Module* module) {
  Driver& d = TheDriver();
  for (auto& f : module->functions) d.functions.erase(f.get());
  d.modules.erase(module);
  delete module;
}

const BuiltinKernel* RunnableKernel(const char* name) {
  const BuiltinKernel* kernel = FindBuiltinKernel(name);
  if (kernel == nullptr)
    std::fprintf(stderr, "simgpu: kernel %s is not one simgpu can run (see docs/simgpu.md)\n", name);
  return kernel;
}

}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return LoadModule(module, ImageText(image));
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, CUjit_option*, void**) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return LoadModule(module, ImageText(image));
}

CUresult CUDAAPI cuModuleLoad(CUmodule* module, const char* path) {
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::ifstream in(path, std::ios::binary);
  if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
  std::stringstream text;
  text << in.rdbuf();
  return LoadModule(module, text.str());
}

CUresult CUDAAPI cuModuleUnload(CUmodule handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* module = reinterpret_cast<Module*>(handle);
  if (d.modules.count(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
  DeleteModuleLocked(module);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* out, CUmodule handle, const char* name) {
  if (out == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* module = reinterpret_cast<Module*>(handle);
  if (d.modules.count(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& f : module->functions) {
    if (f->name == name) {
      *out = reinterpret_cast<CUfunction>(f.get());
      return CUDA_SUCCESS;
    }
  }
  if (std::find(module->entries.begin(), module->entries.end(), name) == module->entries.end())
    return CUDA_ERROR_NOT_FOUND;
  const BuiltinKernel* kernel = RunnableKernel(name);
  if (kernel == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  module->functions.push_back(std::make_unique<Function>(Function{module, name, kernel}));
  d.functions.insert(module->functions.back().get());
  *out = reinterpret_cast<CUfunction>(module->functions.back().get());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetAttribute(int* value, CUfunction_attribute attr, CUfunction hfunc) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  if (TheDriver().functions.count(reinterpret_cast<Function*>(hfunc)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  switch (attr) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = 16; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *value = 70; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *value = 90; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = 49152; break;
    default: *value = 0; break;
  }
  return CUDA_SUCCESS;
}

// The layout of a kernel's parameters, as the driver tells it from the module (CUDA 12.4).
CUresult CUDAAPI cuFuncGetParamInfo(CUfunction hfunc, size_t index, size_t* offset, size_t* size) {
  if (offset == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* func = reinterpret_cast<Function*>(hfunc);
  if (TheDriver().functions.count(func) == 0) return CUDA_ERROR_INVALID_HANDLE;
  uint32_t total = 0;
  std::vector<uint32_t> offsets = ParamOffsets(*func->kernel, &total);
  if (index >= offsets.size()) return CUDA_ERROR_INVALID_VALUE;
  *offset = offsets[index];
  *size = func->kernel->param_sizes[index];
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute, int) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  return TheDriver().functions.count(reinterpret_cast<Function*>(hfunc)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                unsigned int by, unsigned int bz, unsigned int shared_bytes, CUstream stream,
                                void** params, void** extra) {
  return Launch(f, LaunchShape{{gx, gy, gz}, {bx, by, bz}, shared_bytes}, stream, params, extra);
}

CUresult CUDAAPI cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                           unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared_bytes,
                                           CUstream stream, void** params) {
  return Launch(f, LaunchShape{{gx, gy, gz}, {bx, by, bz}, shared_bytes}, stream, params, nullptr);
}

CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  LaunchShape shape{{config->gridDimX, config->gridDimY, config->gridDimZ},
                    {config->blockDimX, config->blockDimY, config->blockDimZ},
                    config->sharedMemBytes};
  return Launch(f, shape, config->hStream, params, extra);
}

}  // extern "C"
