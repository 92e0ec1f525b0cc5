// Modules, functions and kernel launches. The client packs a launch's parameters by the layout
// ModuleGetFunction reported; the worker points the driver at them by the same layout.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "remote/cuda_values.h"
#include "remote/worker/session.h"

namespace vxpu::remote {

namespace {

using ParamInfoFn = CUresult (*)(CUfunction, size_t, size_t*, size_t*);

// cuFuncGetParamInfo (CUDA 12.4), looked up at run time: nullptr on an older driver.
ParamInfoFn ParamInfo() {
  static ParamInfoFn fn = [] {
    void* found = nullptr;
    if (worker_cuGetProcAddress_v1("cuFuncGetParamInfo", &found, 12040, 0) != CUDA_SUCCESS) found = nullptr;
    return reinterpret_cast<ParamInfoFn>(found);
  }();
  return fn;
}

}  // namespace

CUresult Session::LoadModule(uint64_t id, std::string image) {
  if (!NewId(modules_, id)) return CUDA_ERROR_INVALID_VALUE;
  if (!WholeImage(image)) return CUDA_ERROR_INVALID_IMAGE;
  image.push_back('\0');  // a text image must end in NUL; a binary one ignores what follows it
  CUmodule module = nullptr;
  CUresult result = cuModuleLoadData(&module, image.data());
  if (result != CUDA_SUCCESS) return result;
  modules_[id] = module;
  Own(id);
  return CUDA_SUCCESS;
}

CUresult Session::OnModuleLoadData(Call& call) {
  CUresult result = LoadModule(call.arg(0), call.blob);
  if (result == CUDA_SUCCESS) images_.Keep(call.blob);
  return result;
}

CUresult Session::OnModuleLoadCached(Call& call) {
  std::string image;
  if (!KeptImage(call.blob, &image)) return CUDA_ERROR_FILE_NOT_FOUND;
  return LoadModule(call.arg(0), std::move(image));
}

CUresult Session::OnModuleUnload(Call& call) {
  uint64_t id = call.arg(0);
  auto it = modules_.find(id);
  if (it == modules_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuModuleUnload(it->second);
  if (result != CUDA_SUCCESS) return result;
  modules_.erase(it);
  owner_.erase(id);
  ForgetFunctionsOf(id);
  return CUDA_SUCCESS;
}

void Session::ForgetFunctionsOf(uint64_t parent) {
  for (auto f = function_module_.begin(); f != function_module_.end();) {
    if (f->second != parent) {
      ++f;
      continue;
    }
    functions_.erase(f->first);
    param_offsets_.erase(f->first);
    owner_.erase(f->first);
    kernels_.erase(f->first);
    f = function_module_.erase(f);
  }
}

CUresult Session::OnModuleGetFunction(Call& call) {
  uint64_t id = call.arg(0);
  auto module = modules_.find(call.arg(1));
  if (module == modules_.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (!NewId(functions_, id) || call.blob.empty() || call.blob.find('\0') != std::string::npos)
    return CUDA_ERROR_INVALID_VALUE;
  if (ParamInfo() == nullptr) {
    std::fprintf(stderr,
                 "vxpu remote worker: the driver has no cuFuncGetParamInfo (CUDA 12.4): cannot forward launches\n");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  CUfunction func = nullptr;
  CUresult result = cuModuleGetFunction(&func, module->second, call.blob.c_str());
  if (result != CUDA_SUCCESS) return result;
  auto info = [func](size_t i, size_t* offset, size_t* size) { return ParamInfo()(func, i, offset, size); };
  if ((result = AnswerLayout(id, call.blob, info, call)) != CUDA_SUCCESS) return result;
  functions_[id] = func;
  function_module_[id] = module->first;
  Own(id);
  return CUDA_SUCCESS;
}

CUresult Session::AnswerLayout(uint64_t id, const std::string& name,
                               const std::function<CUresult(size_t, size_t*, size_t*)>& info, Call& call) {
  size_t offset = 0, size = 0;
  if (info(kMaxKernelParams, &offset, &size) == CUDA_SUCCESS) {
    std::fprintf(stderr, "vxpu remote worker: %s has more than %u parameters: not forwarded\n", name.c_str(),
                 kMaxKernelParams);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  // outs: parameter count, each parameter's offset and size, then the buffer's size.
  std::vector<size_t> layout;
  std::vector<uint64_t> outs = {0};
  size_t end = 0;
  for (size_t i = 0; i < kMaxKernelParams && info(i, &offset, &size) == CUDA_SUCCESS; ++i) {
    layout.push_back(offset);
    outs.push_back(offset);
    outs.push_back(size);
    end = std::max(end, offset + size);
  }
  outs[0] = layout.size();
  layout.push_back(end);
  outs.push_back(end);
  call.outs = std::move(outs);
  param_offsets_[id] = std::move(layout);
  return CUDA_SUCCESS;
}

CUresult Session::OnFuncGetAttribute(Call& call) {
  CUfunction func = nullptr;
  CUresult result = FunctionOf(call.arg(0), &func);
  if (result != CUDA_SUCCESS) return result;
  int value = 0;
  auto attr = static_cast<CUfunction_attribute>(call.arg(1));
  result = kernels_.count(call.arg(0)) != 0 ? KernelGetAttribute(&value, attr, func)
                                            : cuFuncGetAttribute(&value, attr, func);
  call.outs = {static_cast<uint64_t>(static_cast<uint32_t>(value))};
  return result;
}

CUresult Session::OnFuncSetAttribute(Call& call) {
  CUfunction func = nullptr;
  CUresult result = FunctionOf(call.arg(0), &func);
  if (result != CUDA_SUCCESS) return result;
  auto attr = static_cast<CUfunction_attribute>(call.arg(1));
  int value = static_cast<int>(static_cast<int64_t>(call.arg(2)));
  return kernels_.count(call.arg(0)) != 0 ? KernelSetAttribute(attr, value, func)
                                          : cuFuncSetAttribute(func, attr, value);
}

// args: function, grid xyz, block xyz, shared bytes, stream, cooperative, attribute count;
// blob: the packed parameters, then the CUlaunchAttribute array.
CUresult Session::OnLaunchKernel(Call& call) {
  CUfunction func = nullptr;
  CUstream stream = nullptr;
  CUresult result = FunctionOf(call.arg(0), &func);
  if (result == CUDA_SUCCESS) result = StreamOf(call.arg(8), &stream);
  if (result != CUDA_SUCCESS) return result;
  const std::vector<size_t>& layout = param_offsets_[call.arg(0)];
  uint64_t nattrs = call.arg(10);
  if (nattrs > kMaxLaunchAttributes || call.blob.size() != layout.back() + nattrs * sizeof(CUlaunchAttribute))
    return CUDA_ERROR_INVALID_VALUE;
  for (int i = 1; i <= 7; ++i) {
    if (call.arg(i) > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<void*> params(layout.size());
  for (size_t i = 0; i + 1 < layout.size(); ++i) params[i] = call.blob.data() + layout[i];
  auto dim = [&](int i) { return static_cast<unsigned>(call.arg(i)); };
  if (nattrs > 0) {
    std::vector<CUlaunchAttribute> attrs(nattrs);
    std::memcpy(attrs.data(), call.blob.data() + layout.back(), nattrs * sizeof(CUlaunchAttribute));
    for (const CUlaunchAttribute& a : attrs) {
      if (!PlainLaunchAttribute(a.id)) return CUDA_ERROR_NOT_SUPPORTED;
    }
    CUlaunchConfig config{dim(1), dim(2), dim(3), dim(4),       dim(5),
                          dim(6), dim(7), stream, attrs.data(), static_cast<unsigned>(nattrs)};
    return cuLaunchKernelEx(&config, func, params.data(), nullptr);
  }
  if (call.arg(9) != 0)
    return cuLaunchCooperativeKernel(func, dim(1), dim(2), dim(3), dim(4), dim(5), dim(6), dim(7), stream,
                                     params.data());
  return cuLaunchKernel(func, dim(1), dim(2), dim(3), dim(4), dim(5), dim(6), dim(7), stream, params.data(), nullptr);
}

}  // namespace vxpu::remote
