// Initialisation, versions, errors and the device: one device (ordinal 0), described once by
// the server when the session opens, answered from that description.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/cuda_errors.h"
#include "common/cudart_tables.h"
#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

using vxpu::remote::Client;

using vxpu::remote::CheckDevice;

extern "C" {

CUresult CUDAAPI cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return Client::Get().Init();
}

CUresult CUDAAPI cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Before cuInit the client can only speak for the headers it was built with; after, for no
  // more than those and the server's driver both do (the runtime asks before and after).
  const Client& c = Client::Get();
  *version = c.Ready() == CUDA_SUCCESS ? std::min(c.device().driver_version, CUDA_VERSION) : CUDA_VERSION;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char** text) { return vxpu::ErrorString(error, text); }
CUresult CUDAAPI cuGetErrorName(CUresult error, const char** name) { return vxpu::ErrorName(error, name); }

// The CUDA runtime's private tables: not forwarded (docs/remote.md).
// The CUDA runtime's private tables are answered here, never forwarded: the integrity check
// hashes this process's own pid, thread and table addresses (common/cudart_tables.h).
CUresult CUDAAPI cuGetExportTable(const void** table, const CUuuid* id) {
  return vxpu::ServeExportTable(table, id, "vxpu remote");
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(ordinal);
  if (result == CUDA_SUCCESS) *device = 0;
  return result;
}

CUresult CUDAAPI cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result == CUDA_SUCCESS) std::snprintf(name, static_cast<size_t>(len), "%s", Client::Get().device().name.c_str());
  return result;
}

CUresult CUDAAPI cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result == CUDA_SUCCESS) *uuid = Client::Get().device().uuid;
  return result;
}

CUresult CUDAAPI remote_cuDeviceGetUuid_v1(CUuuid* uuid, CUdevice dev) { return cuDeviceGetUuid_v2(uuid, dev); }

CUresult CUDAAPI cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result == CUDA_SUCCESS) *bytes = Client::Get().device().total_memory;
  return result;
}

CUresult CUDAAPI remote_cuDeviceTotalMem_v1(unsigned int* bytes, CUdevice dev) {
  size_t total = 0;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuDeviceTotalMem_v2(&total, dev);
  *bytes = total > UINT32_MAX ? UINT32_MAX : static_cast<unsigned>(total);
  return result;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* value, CUdevice_attribute attr, CUdevice dev) {
  if (value == nullptr || attr <= 0 || attr >= CU_DEVICE_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  const std::vector<int>& attributes = Client::Get().device().attributes;
  *value = static_cast<size_t>(attr) < attributes.size() ? attributes[attr] : 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  *major = Client::Get().device().cc_major;
  *minor = Client::Get().device().cc_minor;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetPCIBusId(char* bus_id, int len, CUdevice dev) {
  if (bus_id == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result == CUDA_SUCCESS)
    std::snprintf(bus_id, static_cast<size_t>(len), "%s", Client::Get().device().bus_id.c_str());
  return result;
}

CUresult CUDAAPI cuDeviceCanAccessPeer(int* can_access, CUdevice dev, CUdevice peer) {
  if (can_access == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result == CUDA_SUCCESS) result = CheckDevice(peer);
  if (result == CUDA_SUCCESS) *can_access = 0;
  return result;
}

}  // extern "C"

// For the remote libnvidia-ml.so.1: the worker's NVML answers `what` (protocol.h NvmlQuery)
// into values[0..count); returns the number of values, or -1 if it cannot.
extern "C" __attribute__((visibility("default"))) int vxpu_remote_nvml_query(unsigned long long what,
                                                                             unsigned long long* values, int count) {
  if (Client::Get().Init() != CUDA_SUCCESS || values == nullptr) return -1;
  vxpu::remote::Reply reply;
  if (Client::Get().connection().Call(vxpu::remote::Op::kNvmlQuery, 0, {what}, &reply) != CUDA_SUCCESS) return -1;
  int n = 0;
  for (; n < count && static_cast<size_t>(n) < reply.outs.size(); ++n) values[n] = reply.outs[n];
  return n;
}

// For benchmarks: the session's socket writes and the calls that waited for an answer.
extern "C" __attribute__((visibility("default"))) void vxpu_remote_stats(unsigned long long* writes,
                                                                         unsigned long long* round_trips) {
  vxpu::remote::Connection& c = Client::Get().connection();
  if (writes != nullptr) *writes = c.writes();
  if (round_trips != nullptr) *round_trips = c.round_trips();
}
