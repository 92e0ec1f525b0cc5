#include "common/cudart_tables.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/cudart_integrity.h"

namespace vxpu {
namespace {

using Slot = const void*;

std::atomic<const char*> g_who{"libcuda"};

#define VXPU_TRY(call)                                           \
  do {                                                           \
    CUresult vxpu_try_result = (call);                           \
    if (vxpu_try_result != CUDA_SUCCESS) return vxpu_try_result; \
  } while (0)

CUresult Succeed() { return CUDA_SUCCESS; }

// CUDART_INTERFACE slot 2: the device's primary context, retained.
CUresult PrimaryContext(CUcontext* out, CUdevice device) { return cuDevicePrimaryCtxRetain(out, device); }

// Slots 1, 6 and 8 load a module from a fatbin wrapper at start-up, which only eager loading asks
// for; the driver answers lazy loading (cuModuleGetLoadingMode), so they are refused by name.
CUresult EagerModuleLoad() {
  std::fprintf(stderr,
               "%s: the runtime asked to load a module eagerly, which is not supported (unset "
               "CUDA_MODULE_LOADING)\n",
               g_who.load());
  return CUDA_ERROR_NOT_SUPPORTED;
}

const Slot kCudartInterface[13] = {
    reinterpret_cast<Slot>(sizeof(Slot) * 13), reinterpret_cast<Slot>(&EagerModuleLoad),
    reinterpret_cast<Slot>(&PrimaryContext),   reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&Succeed),          reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&EagerModuleLoad),  reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&EagerModuleLoad),  reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&Succeed),          reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&Succeed),  // slot 12: "load compilers"
};

// TOOLS_RUNTIME_CALLBACK_HOOKS slots 2 and 6 hand out zeroed buffers (1024 and 14 words); each is
// twice as large as asked so that either reading of the count stays inside it.
uint64_t g_hooks_buffer[1024];
uint64_t g_hooks_small_buffer[14];
void HooksBuffer(void** buffer, size_t* count) {
  *buffer = g_hooks_buffer;
  *count = 1024;
}
void HooksSmallBuffer(void** buffer, size_t* count) {
  *buffer = g_hooks_small_buffer;
  *count = 14;
}
const Slot kToolsRuntimeCallbackHooks[7] = {
    reinterpret_cast<Slot>(sizeof(Slot) * 7),  reinterpret_cast<Slot>(&Succeed), reinterpret_cast<Slot>(&HooksBuffer),
    reinterpret_cast<Slot>(&Succeed),          reinterpret_cast<Slot>(&Succeed), reinterpret_cast<Slot>(&Succeed),
    reinterpret_cast<Slot>(&HooksSmallBuffer),
};

const Slot kToolsTls[4] = {reinterpret_cast<Slot>(sizeof(Slot) * 4), nullptr, nullptr, nullptr};

// CONTEXT_LOCAL_STORAGE (no size word): values the runtime keeps per context; a null context is
// the current one. They go with their context (ForgetContextStorage).
struct Storage {
  std::mutex mu;
  std::map<CUcontext, std::map<void*, void*>> values;  // guarded by mu
};
// Never destroyed: the runtime deletes its entries from its own exit handlers, which may run
// after this library's destructors.
Storage& TheStorage() {
  static Storage* storage = new Storage;
  return *storage;
}

// The context `handle` names, checked with the driver (before the storage's lock is taken).
CUresult StorageContext(CUcontext handle, CUcontext* out) {
  if (handle == nullptr) {
    VXPU_TRY(cuCtxGetCurrent(&handle));
    if (handle == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  }
  unsigned version = 0;
  VXPU_TRY(cuCtxGetApiVersion(handle, &version));
  *out = handle;
  return CUDA_SUCCESS;
}
CUresult StoragePut(CUcontext handle, void* key, void* value, void (*)(CUcontext, void*, void*)) {
  CUcontext ctx = nullptr;
  VXPU_TRY(StorageContext(handle, &ctx));
  Storage& storage = TheStorage();
  std::lock_guard<std::mutex> lock(storage.mu);
  storage.values[ctx][key] = value;
  return CUDA_SUCCESS;
}
CUresult StorageDelete(CUcontext handle, void* key) {
  CUcontext ctx = nullptr;
  VXPU_TRY(StorageContext(handle, &ctx));
  Storage& storage = TheStorage();
  std::lock_guard<std::mutex> lock(storage.mu);
  auto it = storage.values.find(ctx);
  if (it != storage.values.end()) it->second.erase(key);
  return CUDA_SUCCESS;
}
CUresult StorageGet(void** value, CUcontext handle, void* key) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext ctx = nullptr;
  VXPU_TRY(StorageContext(handle, &ctx));
  Storage& storage = TheStorage();
  std::lock_guard<std::mutex> lock(storage.mu);
  auto stored = storage.values.find(ctx);
  if (stored == storage.values.end() || stored->second.count(key) == 0)
    return CUDA_ERROR_INVALID_HANDLE;  // nothing stored: what cudart expects
  *value = stored->second[key];
  return CUDA_SUCCESS;
}
const Slot kContextLocalStorage[3] = {reinterpret_cast<Slot>(&StoragePut), reinterpret_cast<Slot>(&StorageDelete),
                                      reinterpret_cast<Slot>(&StorageGet)};

// CONTEXT_CHECKS slot 2: whether the context is wrapped; never.
CUresult ContextWrapped(CUcontext, uint32_t* wrapped, void**) {
  if (wrapped != nullptr) *wrapped = 0;
  return CUDA_SUCCESS;
}
const Slot kContextChecks[4] = {reinterpret_cast<Slot>(sizeof(Slot) * 4), reinterpret_cast<Slot>(&Succeed),
                                reinterpret_cast<Slot>(&ContextWrapped), reinterpret_cast<Slot>(&Succeed)};

CUresult IntegrityCheck(uint32_t version, uint64_t unix_seconds, uint64_t out[2]);
const Slot kIntegrityCheck[2] = {reinterpret_cast<Slot>(sizeof(Slot) * 2), reinterpret_cast<Slot>(&IntegrityCheck)};

// The devices as the check hashes them: UUID and PCI location, as the driver reports them.
CUresult IntegrityDevices(std::vector<IntegrityDevice>* out) {
  int count = 0;
  VXPU_TRY(cuDeviceGetCount(&count));
  for (int i = 0; i < count; ++i) {
    IntegrityDevice device;
    CUuuid uuid;
    VXPU_TRY(cuDeviceGetUuid_v2(&uuid, i));
    std::memcpy(device.uuid, uuid.bytes, sizeof(device.uuid));
    VXPU_TRY(cuDeviceGetAttribute(&device.pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i));
    VXPU_TRY(cuDeviceGetAttribute(&device.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i));
    VXPU_TRY(cuDeviceGetAttribute(&device.pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i));
    out->push_back(device);
  }
  return CUDA_SUCCESS;
}

CUresult IntegrityCheck(uint32_t version, uint64_t unix_seconds, uint64_t out[2]) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int driver_version = 0;
  VXPU_TRY(cuDriverGetVersion(&driver_version));
  IntegrityInputs in;
  in.driver_version = static_cast<uint32_t>(driver_version);
  in.version = version;
  in.pid = static_cast<uint32_t>(getpid());
  in.thread = static_cast<uint32_t>(pthread_self());
  in.cudart_table = reinterpret_cast<uint64_t>(kCudartInterface);
  in.integrity_table = reinterpret_cast<uint64_t>(kIntegrityCheck);
  in.check_function = reinterpret_cast<uint64_t>(&IntegrityCheck);
  in.unix_seconds = unix_seconds;
  if (version % 10 == 2) VXPU_TRY(IntegrityDevices(&in.devices));
  return IntegrityAnswer(in, out) ? CUDA_SUCCESS : CUDA_ERROR_NOT_SUPPORTED;
}

struct Table {
  uint8_t uuid[16];
  const void* table;
};

const Table kTables[] = {
    {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
     kCudartInterface},
    {{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
     kToolsRuntimeCallbackHooks},
    {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}, kToolsTls},
    {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
     kContextLocalStorage},
    {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e}, kContextChecks},
    {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2}, kIntegrityCheck},
};

std::string UuidText(const CUuuid& id) {
  std::string text;
  char two[3];
  for (unsigned char byte : id.bytes) {
    std::snprintf(two, sizeof(two), "%02x", byte);
    text += two;
  }
  return text;
}

// The table cudart 13.0 asks for before cuInit and does without (its refusal is ignored).
constexpr uint8_t kAskedFirstAndIgnored[16] = {0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e,
                                               0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9};

// Names a table that is not served, once per table.
void ReportUnserved(const CUuuid& id) {
  if (std::memcmp(id.bytes, kAskedFirstAndIgnored, sizeof(kAskedFirstAndIgnored)) == 0) return;
  static std::mutex* mu = new std::mutex;
  static std::set<std::string>* reported = new std::set<std::string>;
  std::lock_guard<std::mutex> lock(*mu);
  if (reported->insert(UuidText(id)).second)
    std::fprintf(stderr, "%s: export table %s is not served (CUDA_ERROR_NOT_FOUND)\n", g_who.load(),
                 UuidText(id).c_str());
}

}  // namespace

CUresult ServeExportTable(const void** table, const CUuuid* id, const char* who) {
  if (table == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  g_who = who;
  for (const Table& t : kTables) {
    if (std::memcmp(t.uuid, id->bytes, sizeof(t.uuid)) == 0) {
      *table = t.table;
      return CUDA_SUCCESS;
    }
  }
  ReportUnserved(*id);
  return CUDA_ERROR_NOT_FOUND;
}

void ForgetContextStorage(CUcontext ctx) {
  Storage& storage = TheStorage();
  std::lock_guard<std::mutex> lock(storage.mu);
  storage.values.erase(ctx);
}

}  // namespace vxpu
