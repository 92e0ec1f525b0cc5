// Libraries and kernels (cuLibrary*, cuKernel*): how the CUDA runtime loads the fatbins nvcc
// embeds and names their kernels. A kernel resolves, by its name, to one of simgpu's built-ins
// (kernels.h); the name must appear in the image, as a real driver finds it in the cubin.
#include <cstring>

#include "common/cudart_tables.h"
#include "simgpu/driver.h"

namespace simgpu {
namespace {

constexpr uint32_t kFatbinWrapperMagic = 0x466243b1;
constexpr uint32_t kFatbinMagic = 0xBA55ED50;
constexpr size_t kMaxImageBytes = 512u << 20;

struct FatbinWrapper {
  uint32_t magic;
  uint32_t version;
  const void* data;
  const void* filename_or_fatbins;
};

struct FatbinHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t header_size;
  uint64_t files_size;
};

// The bytes of the image at `code`: a fatbin wrapper, a fatbin, or NUL-terminated text (PTX or
// simgpu's text modules). Empty if it is none of these.
std::string ImageBytes(const void* code) {
  uint32_t magic;
  std::memcpy(&magic, code, sizeof(magic));
  if (magic == kFatbinWrapperMagic) {
    const auto* wrapper = static_cast<const FatbinWrapper*>(code);
    if (wrapper->data == nullptr) return "";
    return ImageBytes(wrapper->data);
  }
  if (magic == kFatbinMagic) {
    const auto* header = static_cast<const FatbinHeader*>(code);
    uint64_t size = uint64_t{header->header_size} + header->files_size;
    if (size > kMaxImageBytes) return "";
    return std::string(static_cast<const char*>(code), size);
  }
  const char* text = static_cast<const char*>(code);
  return std::string(text, strnlen(text, kMaxImageBytes));
}

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '.'; }

// Whether `name` stands in `image` as a whole word (a symbol of its cubin, an entry of its PTX).
bool ImageNames(const std::string& image, const std::string& name) {
  for (size_t at = image.find(name); at != std::string::npos; at = image.find(name, at + 1)) {
    bool starts = at == 0 || !IsNameChar(image[at - 1]);
    bool ends = at + name.size() == image.size() || !IsNameChar(image[at + name.size()]);
    if (starts && ends) return true;
  }
  return false;
}

// The module of `library` in `ctx`, made on first use.
Module* ModuleOfLocked(Library* library, Context* ctx) {
  Module*& module = library->modules[ctx];
  if (module == nullptr) {
    module = new Module;
    module->ctx = ctx;
    TheDriver().modules.insert(module);
  }
  return module;
}

}  // namespace

Function* FunctionOfLocked(void* handle, Context* ctx) {
  Driver& d = TheDriver();
  auto* func = static_cast<Function*>(handle);
  if (d.functions.count(func) != 0) return func;
  auto* kernel = static_cast<Kernel*>(handle);
  if (d.kernels.count(kernel) == 0) return nullptr;
  Module* module = ModuleOfLocked(kernel->library, ctx);
  for (auto& f : module->functions) {
    if (f->name == kernel->name) return f.get();
  }
  module->entries.push_back(kernel->name);
  module->functions.push_back(std::make_unique<Function>(Function{module, kernel->name, kernel->builtin}));
  d.functions.insert(module->functions.back().get());
  return module->functions.back().get();
}

void ForgetContextLocked(Context* ctx) {
  Driver& d = TheDriver();
  for (Library* library : d.libraries) {
    auto it = library->modules.find(ctx);
    if (it == library->modules.end()) continue;
    DeleteModuleLocked(it->second);
    library->modules.erase(it);
  }
  vxpu::ForgetContextStorage(reinterpret_cast<CUcontext>(ctx));
}

}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**, unsigned int,
                                   CUlibraryOption*, void**, unsigned int) {
  if (library == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
  SIM_TRY(CheckInit());
  std::string image = ImageBytes(code);
  if (image.empty()) return CUDA_ERROR_INVALID_IMAGE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* loaded = new Library;
  loaded->image = std::move(image);
  d.libraries.insert(loaded);
  *library = reinterpret_cast<CUlibrary>(loaded);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryUnload(CUlibrary handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* library = reinterpret_cast<Library*>(handle);
  if (d.libraries.count(library) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& [ctx, module] : library->modules) DeleteModuleLocked(module);
  for (auto& kernel : library->kernels) d.kernels.erase(kernel.get());
  d.libraries.erase(library);
  delete library;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryGetKernel(CUkernel* out, CUlibrary handle, const char* name) {
  if (out == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* library = reinterpret_cast<Library*>(handle);
  if (d.libraries.count(library) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& kernel : library->kernels) {
    if (kernel->name == name) {
      *out = reinterpret_cast<CUkernel>(kernel.get());
      return CUDA_SUCCESS;
    }
  }
  if (!ImageNames(library->image, name)) return CUDA_ERROR_NOT_FOUND;
  const BuiltinKernel* builtin = RunnableKernel(name);
  if (builtin == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  library->kernels.push_back(std::make_unique<Kernel>(Kernel{library, name, builtin}));
  d.kernels.insert(library->kernels.back().get());
  *out = reinterpret_cast<CUkernel>(library->kernels.back().get());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryGetKernelCount(unsigned int* count, CUlibrary handle) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* library = reinterpret_cast<Library*>(handle);
  if (TheDriver().libraries.count(library) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *count = static_cast<unsigned>(library->kernels.size());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetFunction(CUfunction* out, CUkernel kernel) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.kernels.count(reinterpret_cast<Kernel*>(kernel)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  *out = reinterpret_cast<CUfunction>(FunctionOfLocked(kernel, ctx));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetName(const char** name, CUkernel kernel) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* k = reinterpret_cast<Kernel*>(kernel);
  if (TheDriver().kernels.count(k) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *name = k->name.c_str();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelGetAttribute(int* value, CUfunction_attribute attr, CUkernel kernel, CUdevice) {
  CUfunction func = nullptr;
  SIM_TRY(cuKernelGetFunction(&func, kernel));
  return cuFuncGetAttribute(value, attr, func);
}

CUresult CUDAAPI cuKernelSetAttribute(CUfunction_attribute, int, CUkernel kernel, CUdevice) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  return TheDriver().kernels.count(reinterpret_cast<Kernel*>(kernel)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache, CUdevice) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  return TheDriver().kernels.count(reinterpret_cast<Kernel*>(kernel)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset, size_t* size) {
  CUfunction func = nullptr;
  SIM_TRY(cuKernelGetFunction(&func, kernel));
  return cuFuncGetParamInfo(func, index, offset, size);
}

// Kernels load when first used, as the runtime expects by default (CUDA_MODULE_LOADING=LAZY).
CUresult CUDAAPI cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}

}  // extern "C"
