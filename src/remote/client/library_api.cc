// Libraries and kernels (cuLibrary*, cuKernel*): how the CUDA runtime loads the fatbins nvcc
// embeds. A library is loaded on the worker (by digest when the server kept its image); a kernel
// is kept as a function of this process (its id serves as CUkernel and as the CUfunction a
// driver accepts in its place), with the parameter layout the worker answers.
#include <cstdio>
#include <cstring>

#include "remote/client/client.h"
#include "remote/client/cuda_api.h"
#include "remote/cuda_values.h"

using namespace vxpu::remote;

namespace {

constexpr uint32_t kFatbinWrapperMagic = 0x466243b1;

// The image at `code`: what a fatbin wrapper points to, or `code` itself; its size by its own
// headers (a text image ends in NUL). Zero bytes if there is none.
const void* ImageOf(const void* code, size_t* bytes) {
  uint32_t magic = 0;
  std::memcpy(&magic, code, sizeof(magic));
  if (magic == kFatbinWrapperMagic) {
    struct Wrapper {
      uint32_t magic, version;
      const void* data;
    };
    code = static_cast<const Wrapper*>(code)->data;
    if (code == nullptr) {
      *bytes = 0;
      return nullptr;
    }
  }
  uint64_t binary = BinaryImageBytes(static_cast<const uint8_t*>(code), UINT64_MAX);
  *bytes = binary != 0 ? binary : std::strlen(static_cast<const char*>(code));
  return code;
}

CUresult KnownLibrary(CUlibrary library) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.libraries.count(IdOf(library)) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// The kernel's entry; CUDA_ERROR_INVALID_HANDLE for anything but a kernel this process got.
CUresult KernelInfoOf(CUkernel kernel, FunctionInfo* info) {
  CUresult result = FunctionInfoOf(HandleOf<CUfunction>(IdOf(kernel)), info);
  if (result == CUDA_SUCCESS && !info->kernel) return CUDA_ERROR_INVALID_HANDLE;
  return result;
}

CUfunction AsFunction(CUkernel kernel) { return HandleOf<CUfunction>(IdOf(kernel)); }

}  // namespace

extern "C" {

CUresult CUDAAPI cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**, unsigned int,
                                   CUlibraryOption*, void**, unsigned int) {
  if (library == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = Client::Get().Ready();
  if (result != CUDA_SUCCESS) return result;
  size_t bytes = 0;
  const void* image = ImageOf(code, &bytes);
  if (bytes == 0 || bytes > kMaxBlobBytes) return CUDA_ERROR_INVALID_IMAGE;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  result = SendImage(Op::kLibraryLoadCached, Op::kLibraryLoadData, id, image, bytes);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.libraries[id] = 0;
  *library = HandleOf<CUlibrary>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryUnload(CUlibrary library) {
  CUresult result = Client::Get().Ready();
  if (result != CUDA_SUCCESS || (result = KnownLibrary(library)) != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  Reply reply;
  result = c.connection().Call(Op::kLibraryUnload, CurrentContext(), {IdOf(library)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.libraries.erase(IdOf(library));
  for (auto f = c.functions.begin(); f != c.functions.end();)
    f = f->second.kernel && f->second.module == IdOf(library) ? c.functions.erase(f) : std::next(f);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryGetKernel(CUkernel* kernel, CUlibrary library, const char* name) {
  if (kernel == nullptr || name == nullptr || *name == '\0') return CUDA_ERROR_INVALID_VALUE;
  CUresult result = Client::Get().Ready();
  if (result != CUDA_SUCCESS || (result = KnownLibrary(library)) != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  {
    // A kernel asked for again is the same kernel, as a driver answers.
    std::lock_guard<std::mutex> lock(c.mu);
    for (const auto& [known, info] : c.functions) {
      if (info.kernel && info.module == IdOf(library) && info.name == name) {
        *kernel = HandleOf<CUkernel>(known);
        return CUDA_SUCCESS;
      }
    }
  }
  uint64_t id = c.Mint();
  Reply reply;
  result = c.connection().Call(Op::kLibraryGetKernel, CurrentContext(), {id, IdOf(library)}, &reply, name,
                               std::strlen(name));
  if (result == CUDA_ERROR_NOT_SUPPORTED)
    std::fprintf(stderr, "vxpu remote: the server cannot run kernel %s (CUDA_ERROR_NOT_SUPPORTED; its log says why)\n",
                 name);
  if (result != CUDA_SUCCESS) return result;
  FunctionInfo info;
  info.module = IdOf(library);
  info.kernel = true;
  info.name = name;
  if ((result = ParseLayout(reply, &info)) != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.functions[id] = std::move(info);
  *kernel = HandleOf<CUkernel>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetFunction(CUfunction* func, CUkernel kernel) {
  if (func == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FunctionInfo info;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS || (result = KernelInfoOf(kernel, &info)) != CUDA_SUCCESS) return result;
  *func = AsFunction(kernel);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetName(const char** name, CUkernel kernel) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FunctionInfo info;
  CUresult result = KernelInfoOf(kernel, &info);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  *name = c.functions[IdOf(kernel)].name.c_str();  // lives as long as the kernel
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetAttribute(int* value, CUfunction_attribute attr, CUkernel kernel, CUdevice device) {
  FunctionInfo info;
  CUresult result = CheckDevice(device);
  if (result != CUDA_SUCCESS || (result = KernelInfoOf(kernel, &info)) != CUDA_SUCCESS) return result;
  return cuFuncGetAttribute(value, attr, AsFunction(kernel));
}

CUresult CUDAAPI cuKernelSetAttribute(CUfunction_attribute attr, int value, CUkernel kernel, CUdevice device) {
  FunctionInfo info;
  CUresult result = CheckDevice(device);
  if (result != CUDA_SUCCESS || (result = KernelInfoOf(kernel, &info)) != CUDA_SUCCESS) return result;
  return cuFuncSetAttribute(AsFunction(kernel), attr, value);
}

// A preference the server's driver may ignore as well: checked, not forwarded.
CUresult CUDAAPI cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache, CUdevice device) {
  FunctionInfo info;
  CUresult result = CheckDevice(device);
  if (result != CUDA_SUCCESS) return result;
  return KernelInfoOf(kernel, &info);
}

CUresult CUDAAPI cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset, size_t* size) {
  FunctionInfo info;
  CUresult result = KernelInfoOf(kernel, &info);
  if (result != CUDA_SUCCESS) return result;
  return cuFuncGetParamInfo(AsFunction(kernel), index, offset, size);
}

// Kernels are loaded when first used, as the runtime expects by default: eager loading would
// ask for the CUDART_INTERFACE slots that load a module at start-up, which are refused.
CUresult CUDAAPI cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}

}  // extern "C"
