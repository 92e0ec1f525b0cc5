// Modules, functions and launches. Loading a module and looking a function up wait for the
// server (they can fail, and the function's parameter layout comes back with it); launches
// are packed by that layout and sent without waiting.
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/launch_extra.h"
#include "common/sha256.h"
#include "remote/client/client.h"
#include "remote/client/cuda_api.h"
#include "remote/cuda_values.h"

using namespace vxpu::remote;

namespace {

Connection& Wire() { return Client::Get().connection(); }

// The size of a module image: its headers say (cuda_values.h); a text (PTX) image ends in NUL.
size_t ImageBytes(const void* image) {
  if (strnlen(static_cast<const char*>(image), 4) < 4) return std::strlen(static_cast<const char*>(image));
  uint64_t binary = BinaryImageBytes(static_cast<const uint8_t*>(image), UINT64_MAX);
  return binary != 0 ? binary : std::strlen(static_cast<const char*>(image));
}

CUresult LoadModule(CUmodule* module, const void* image, size_t bytes) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (bytes > kMaxBlobBytes) return CUDA_ERROR_INVALID_IMAGE;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  result = SendImage(Op::kModuleLoadCached, Op::kModuleLoadData, id, image, bytes);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.modules[id] = CurrentContext();
  *module = HandleOf<CUmodule>(id);
  return CUDA_SUCCESS;
}

}  // namespace

namespace vxpu::remote {

CUresult SendImage(Op by_digest, Op whole, uint64_t id, const void* image, size_t bytes) {
  Reply reply;
  if (bytes >= kImageByDigestBytes) {
    vxpu::Sha256Digest digest = vxpu::Sha256(image, bytes);
    CUresult result = Wire().Call(by_digest, CurrentContext(), {id}, &reply, digest.data(), digest.size());
    if (result != CUDA_ERROR_FILE_NOT_FOUND) return result;
  }
  return Wire().Call(whole, CurrentContext(), {id}, &reply, image, bytes);
}

CUresult FunctionInfoOf(CUfunction f, FunctionInfo* info) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.functions.find(IdOf(f));
  if (it == c.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
  *info = it->second;
  return CUDA_SUCCESS;
}

CUresult ParseLayout(const Reply& reply, FunctionInfo* info) {
  // outs: count, (offset, size) per parameter, buffer size.
  const std::vector<uint64_t>& o = reply.outs;
  if (o.empty() || o[0] > (o.size() - 2) / 2 || o.size() != 2 + 2 * o[0]) return CUDA_ERROR_UNKNOWN;
  for (uint64_t i = 0; i < o[0]; ++i) {
    if (o[1 + 2 * i] > o.back() || o[2 + 2 * i] > o.back() - o[1 + 2 * i]) return CUDA_ERROR_UNKNOWN;
    info->params.emplace_back(o[1 + 2 * i], o[2 + 2 * i]);
  }
  info->buffer_bytes = o.back();
  return info->buffer_bytes > kMaxBlobBytes ? CUDA_ERROR_UNKNOWN : CUDA_SUCCESS;
}

}  // namespace vxpu::remote

namespace {

// The parameters as one buffer, from kernelParams or from `extra`'s buffer.
CUresult PackParams(const FunctionInfo& info, void** params, void** extra, std::string* out) {
  out->assign(info.buffer_bytes, '\0');
  if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (params != nullptr) {
    for (size_t i = 0; i < info.params.size(); ++i) {
      if (params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(out->data() + info.params[i].first, params[i], info.params[i].second);
    }
    return CUDA_SUCCESS;
  }
  if (extra == nullptr) return info.params.empty() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  const void* buffer = nullptr;
  size_t size = 0;
  if (!vxpu::ExtraBuffer(extra, &buffer, &size) || size != info.buffer_bytes) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(out->data(), buffer, size);
  return CUDA_SUCCESS;
}

struct Shape {
  unsigned grid[3], block[3], shared;
};

// The launch shape against the device's limits, as the driver checks it before queueing.
bool ValidShape(const Shape& s) {
  const std::vector<int>& a = Client::Get().device().attributes;
  auto limit = [&a](CUdevice_attribute attr) {
    return static_cast<size_t>(attr) < a.size() && a[attr] > 0 ? static_cast<uint64_t>(a[attr]) : UINT32_MAX;
  };
  const CUdevice_attribute grid[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
  const CUdevice_attribute block[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
                                       CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
  uint64_t threads = 1;
  for (int i = 0; i < 3; ++i) {
    if (s.grid[i] == 0 || s.block[i] == 0 || s.grid[i] > limit(grid[i]) || s.block[i] > limit(block[i])) return false;
    threads *= s.block[i];
  }
  return threads <= limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
}

CUresult Launch(CUfunction f, const Shape& s, CUstream stream, void** params, void** extra, bool cooperative,
                const CUlaunchAttribute* attrs, unsigned nattrs) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  FunctionInfo info;
  uint64_t stream_id = 0;
  if ((result = FunctionInfoOf(f, &info)) != CUDA_SUCCESS || (result = StreamId(stream, &stream_id)) != CUDA_SUCCESS)
    return result;
  if (!ValidShape(s) || nattrs > kMaxLaunchAttributes || (nattrs > 0 && attrs == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < nattrs; ++i) {
    if (!PlainLaunchAttribute(attrs[i].id)) return CUDA_ERROR_NOT_SUPPORTED;
  }
  std::string blob;
  if ((result = PackParams(info, params, extra, &blob)) != CUDA_SUCCESS) return result;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  blob.append(reinterpret_cast<const char*>(attrs), sizeof(CUlaunchAttribute) * nattrs);
  return Wire().Post(Op::kLaunchKernel, CurrentContext(),
                     {IdOf(f), s.grid[0], s.grid[1], s.grid[2], s.block[0], s.block[1], s.block[2], s.shared, stream_id,
                      cooperative ? 1u : 0u, nattrs},
                     blob.data(), blob.size());
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuModuleLoad(CUmodule* module, const char* path) {
  if (module == nullptr || path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::ifstream in(path, std::ios::binary);
  if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
  std::stringstream text;
  text << in.rdbuf();
  std::string image = text.str();
  return LoadModule(module, image.data(), image.size());
}

CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return LoadModule(module, image, ImageBytes(image));
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, CUjit_option*, void**) {
  return cuModuleLoadData(module, image);  // JIT options tune the compiler on the server: not forwarded
}

CUresult CUDAAPI cuModuleUnload(CUmodule module) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.modules.count(IdOf(module)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  Reply reply;
  CUresult result = Wire().Call(Op::kModuleUnload, CurrentContext(), {IdOf(module)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.modules.erase(IdOf(module));
  for (auto f = c.functions.begin(); f != c.functions.end();)
    f = f->second.module == IdOf(module) ? c.functions.erase(f) : std::next(f);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* func, CUmodule module, const char* name) {
  if (func == nullptr || name == nullptr || *name == '\0') return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.modules.count(IdOf(module)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  {
    // A function looked up again is the same function, as a driver answers.
    std::lock_guard<std::mutex> lock(c.mu);
    for (const auto& [known, info] : c.functions) {
      if (info.module == IdOf(module) && info.name == name) {
        *func = HandleOf<CUfunction>(known);
        return CUDA_SUCCESS;
      }
    }
  }
  uint64_t id = c.Mint();
  Reply reply;
  CUresult result =
      Wire().Call(Op::kModuleGetFunction, CurrentContext(), {id, IdOf(module)}, &reply, name, std::strlen(name));
  if (result != CUDA_SUCCESS) return result;
  FunctionInfo info;
  info.module = IdOf(module);
  info.name = name;
  if ((result = ParseLayout(reply, &info)) != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.functions[id] = std::move(info);
  *func = HandleOf<CUfunction>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetAttribute(int* value, CUfunction_attribute attr, CUfunction f) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FunctionInfo info;
  CUresult result = FunctionInfoOf(f, &info);
  if (result != CUDA_SUCCESS) return result;
  auto cached = info.attributes.find(attr);
  if (cached != info.attributes.end()) {
    *value = cached->second;
    return CUDA_SUCCESS;
  }
  Reply reply;
  result = Wire().Call(Op::kFuncGetAttribute, CurrentContext(), {IdOf(f), static_cast<uint64_t>(attr)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  *value = static_cast<int>(static_cast<uint32_t>(reply.outs[0]));
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.functions.find(IdOf(f));
  if (it != c.functions.end()) it->second.attributes[attr] = *value;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction f, CUfunction_attribute attr, int value) {
  FunctionInfo info;
  CUresult result = FunctionInfoOf(f, &info);
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  result = Wire().Call(Op::kFuncSetAttribute, CurrentContext(),
                       {IdOf(f), static_cast<uint64_t>(attr), static_cast<uint64_t>(int64_t{value})}, &reply);
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.functions.find(IdOf(f));
  if (it != c.functions.end()) it->second.attributes.clear();  // setting one may change others
  return result;
}

CUresult CUDAAPI cuFuncGetParamInfo(CUfunction f, size_t index, size_t* offset, size_t* size) {
  if (offset == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FunctionInfo info;
  CUresult result = FunctionInfoOf(f, &info);
  if (result != CUDA_SUCCESS) return result;
  if (index >= info.params.size()) return CUDA_ERROR_INVALID_VALUE;
  *offset = info.params[index].first;
  *size = info.params[index].second;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                                unsigned int by, unsigned int bz, unsigned int shared, CUstream stream, void** params,
                                void** extra) {
  return Launch(f, Shape{{gx, gy, gz}, {bx, by, bz}, shared}, stream, params, extra, false, nullptr, 0);
}

CUresult CUDAAPI cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                           unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                           CUstream stream, void** params) {
  return Launch(f, Shape{{gx, gy, gz}, {bx, by, bz}, shared}, stream, params, nullptr, true, nullptr, 0);
}

CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Shape shape{{config->gridDimX, config->gridDimY, config->gridDimZ},
              {config->blockDimX, config->blockDimY, config->blockDimZ},
              config->sharedMemBytes};
  return Launch(f, shape, config->hStream, params, extra, false, config->attrs, config->numAttrs);
}

}  // extern "C"
