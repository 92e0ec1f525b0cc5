#include "remote/client/client.h"

#include <cstdio>
#include <cstring>

namespace vxpu::remote {

namespace {

thread_local bool per_thread_default = false;

// The device view from Hello's reply (protocol.h).
bool ParseDeviceView(const Reply& hello, DeviceView* view) {
  if (hello.outs.size() < kHelloOutCount) return false;
  uint64_t attributes = hello.outs[kHelloAttributeCount];
  if (attributes > 4096 || hello.blob.size() != kNameBytes + kUuidBytes + kBusIdBytes + 4 * attributes) return false;
  const char* p = hello.blob.data();
  view->name.assign(p, strnlen(p, kNameBytes));
  std::memcpy(view->uuid.bytes, p + kNameBytes, kUuidBytes);
  view->bus_id.assign(p + kNameBytes + kUuidBytes, strnlen(p + kNameBytes + kUuidBytes, kBusIdBytes));
  view->attributes.resize(attributes);
  std::memcpy(view->attributes.data(), p + kNameBytes + kUuidBytes + kBusIdBytes, 4 * attributes);
  view->driver_version = static_cast<int>(hello.outs[kHelloDriverVersion]);
  view->total_memory = hello.outs[kHelloTotalMemory];
  view->cc_major = static_cast<int>(hello.outs[kHelloCcMajor]);
  view->cc_minor = static_cast<int>(hello.outs[kHelloCcMinor]);
  // Managed memory is mirrored on this side and handed over at launches and synchronisations
  // (managed_memory.cc): the host may not touch it while the device works.
  for (CUdevice_attribute a :
       {CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS,
        CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES,
        CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST}) {
    if (static_cast<size_t>(a) < view->attributes.size()) view->attributes[a] = 0;
  }
  return true;
}

}  // namespace

Client& Client::Get() {
  // Never destroyed: other libraries' destructors may still call the driver at exit.
  static Client* client = new Client();
  return *client;
}

CUresult Client::Init() {
  std::lock_guard<std::mutex> lock(init_mu_);
  if (tried_) return init_result_;
  tried_ = true;
  Settings settings;
  std::string error;
  Reply hello;
  if (!SettingsFromEnvironment(&settings, &error)) {
    init_result_ = CUDA_ERROR_NOT_INITIALIZED;
  } else {
    init_result_ = connection_.Open(settings, &hello, &error);
    if (init_result_ == CUDA_SUCCESS && !ParseDeviceView(hello, &device_)) {
      error = "the server's device description is malformed";
      init_result_ = CUDA_ERROR_NO_DEVICE;
    }
  }
  if (init_result_ != CUDA_SUCCESS) {
    std::fprintf(stderr, "vxpu remote: %s\n", error.c_str());
  } else {
    ready_ = true;
  }
  return init_result_;
}

uint64_t Client::Mint() { return next_id_++; }

std::vector<uint64_t>& ContextStack() {
  thread_local std::vector<uint64_t> stack;
  return stack;
}

uint32_t CurrentContext() {
  const std::vector<uint64_t>& stack = ContextStack();
  return stack.empty() ? 0 : static_cast<uint32_t>(stack.back());
}

PerThreadScope::PerThreadScope() { per_thread_default = true; }
PerThreadScope::~PerThreadScope() { per_thread_default = false; }

CUresult StreamId(CUstream stream, uint64_t* id) {
  if (stream == nullptr) {
    *id = per_thread_default ? kPerThreadStream : kNullStream;
  } else if (stream == CU_STREAM_LEGACY) {
    *id = kLegacyStream;
  } else if (stream == CU_STREAM_PER_THREAD) {
    *id = kPerThreadStream;
  } else {
    Client& c = Client::Get();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.streams.count(IdOf(stream)) == 0) return CUDA_ERROR_INVALID_HANDLE;
    *id = IdOf(stream);
  }
  return CUDA_SUCCESS;
}

CUresult NeedContext() {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  return CurrentContext() != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult CheckDevice(CUdevice ordinal) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  return ordinal == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

void RememberDeviceMemory(uint64_t base, uint64_t bytes) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  c.device_memory[base] = bytes;
}

bool ForgetDeviceMemory(uint64_t base) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.device_memory.erase(base) != 0;
}

CUresult Allocated(CUresult result, const Reply& reply, CUdeviceptr* dptr, uint64_t bytes) {
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.empty()) return CUDA_ERROR_UNKNOWN;
  RememberDeviceMemory(reply.outs[0], bytes);
  *dptr = reply.outs[0];
  return CUDA_SUCCESS;
}

bool IsDeviceMemory(uint64_t ptr, uint64_t bytes) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.device_memory.upper_bound(ptr);
  if (it == c.device_memory.begin()) return false;
  --it;
  uint64_t offset = ptr - it->first;
  return offset < it->second && bytes <= it->second - offset;
}

}  // namespace vxpu::remote
