// Libraries and kernels (cuLibrary*, cuKernel*): how the CUDA runtime loads the fatbins nvcc
// embeds. A kernel is kept among the session's functions (a driver launches a CUkernel passed
// as a CUfunction) and its parameter layout answered as a function's. The entry points are
// looked up at run time, so that the worker still starts on a driver older than CUDA 12.
#include <cstring>

#include "remote/cuda_values.h"
#include "remote/worker/session.h"

namespace vxpu::remote {
namespace {

using LoadDataFn = CUresult (*)(CUlibrary*, const void*, CUjit_option*, void**, unsigned, CUlibraryOption*, void**,
                                unsigned);
using UnloadFn = CUresult (*)(CUlibrary);
using GetKernelFn = CUresult (*)(CUkernel*, CUlibrary, const char*);
using KernelParamInfoFn = CUresult (*)(CUkernel, size_t, size_t*, size_t*);
using KernelGetAttributeFn = CUresult (*)(int*, CUfunction_attribute, CUkernel, CUdevice);
using KernelSetAttributeFn = CUresult (*)(CUfunction_attribute, int, CUkernel, CUdevice);

struct LibraryApi {
  LoadDataFn load = DriverEntry<LoadDataFn>("cuLibraryLoadData", 12000);
  UnloadFn unload = DriverEntry<UnloadFn>("cuLibraryUnload", 12000);
  GetKernelFn get_kernel = DriverEntry<GetKernelFn>("cuLibraryGetKernel", 12000);
  KernelParamInfoFn param_info = DriverEntry<KernelParamInfoFn>("cuKernelGetParamInfo", 12040);
  KernelGetAttributeFn get_attribute = DriverEntry<KernelGetAttributeFn>("cuKernelGetAttribute", 12000);
  KernelSetAttributeFn set_attribute = DriverEntry<KernelSetAttributeFn>("cuKernelSetAttribute", 12000);
};

const LibraryApi& Api() {
  static const LibraryApi api;
  return api;
}

CUresult Missing(const char* what) {
  std::fprintf(stderr, "vxpu remote worker: the driver has no %s (CUDA 12.4 and later do)\n", what);
  return CUDA_ERROR_NOT_SUPPORTED;
}

}  // namespace

CUresult Session::LoadLibrary(uint64_t id, const std::string& image) {
  if (Api().load == nullptr) return Missing("cuLibraryLoadData");
  if (!NewId(libraries_, id) || image.empty()) return CUDA_ERROR_INVALID_VALUE;
  if (!WholeImage(image)) return CUDA_ERROR_INVALID_IMAGE;
  std::string text = image + '\0';  // a text image must end in NUL; a binary one ignores what follows
  CUlibrary library = nullptr;
  CUresult result = Api().load(&library, text.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
  if (result == CUDA_SUCCESS) libraries_[id] = library;
  return result;
}

CUresult Session::OnLibraryLoadData(Call& call) {
  CUresult result = LoadLibrary(call.arg(0), call.blob);
  if (result == CUDA_SUCCESS) images_.Keep(call.blob);
  return result;
}

CUresult Session::OnLibraryLoadCached(Call& call) {
  std::string image;
  if (!KeptImage(call.blob, &image)) return CUDA_ERROR_FILE_NOT_FOUND;
  return LoadLibrary(call.arg(0), image);
}

CUresult Session::OnLibraryUnload(Call& call) {
  auto it = libraries_.find(call.arg(0));
  if (it == libraries_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = Api().unload(it->second);
  if (result != CUDA_SUCCESS) return result;
  libraries_.erase(it);
  ForgetFunctionsOf(call.arg(0));
  return CUDA_SUCCESS;
}

CUresult Session::OnLibraryGetKernel(Call& call) {
  uint64_t id = call.arg(0);
  auto library = libraries_.find(call.arg(1));
  if (library == libraries_.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (!NewId(functions_, id) || call.blob.empty() || call.blob.find('\0') != std::string::npos)
    return CUDA_ERROR_INVALID_VALUE;
  if (Api().param_info == nullptr) return Missing("cuKernelGetParamInfo");
  CUkernel kernel = nullptr;
  CUresult result = Api().get_kernel(&kernel, library->second, call.blob.c_str());
  if (result != CUDA_SUCCESS) return result;
  auto info = [kernel](size_t i, size_t* offset, size_t* size) { return Api().param_info(kernel, i, offset, size); };
  if ((result = AnswerLayout(id, call.blob, info, call)) != CUDA_SUCCESS) return result;
  functions_[id] = reinterpret_cast<CUfunction>(kernel);
  function_module_[id] = library->first;
  kernels_.insert(id);
  return CUDA_SUCCESS;
}

CUresult Session::KernelGetAttribute(int* value, CUfunction_attribute attr, CUfunction kernel) const {
  if (Api().get_attribute == nullptr) return Missing("cuKernelGetAttribute");
  return Api().get_attribute(value, attr, reinterpret_cast<CUkernel>(kernel), device_);
}

CUresult Session::KernelSetAttribute(CUfunction_attribute attr, int value, CUfunction kernel) const {
  if (Api().set_attribute == nullptr) return Missing("cuKernelSetAttribute");
  return Api().set_attribute(attr, value, reinterpret_cast<CUkernel>(kernel), device_);
}

bool Session::KeptImage(const std::string& digest, std::string* image) const {
  if (digest.size() != sizeof(Sha256Digest)) return false;
  Sha256Digest name;
  std::memcpy(name.data(), digest.data(), name.size());
  return images_.Find(name, image);
}

}  // namespace vxpu::remote
