// The one place vxpu declares Huawei Ascend's APIs: AscendCL (libascendcl.so), the runtime layer
// below it (libruntime.so) and DCMI (libdcmi.so). CANN's headers are not available here; names,
// signatures, enum values and codes are from ../shared/ascend-facts.md and the open CANN runtime
// headers. Items marked "simnpu's own" are not confirmed against a real CANN: simnpu defines
// them, and docs/ascend.md lists them as what a real machine must check.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cstdlib>
#include <string>

extern "C" {

// ---- AscendCL ----
typedef int aclError;
typedef void* aclrtContext;
typedef void* aclrtStream;
typedef void* aclrtEvent;
typedef void* aclrtDrvMemHandle;
typedef void* aclrtBinHandle;   // newer CANN
typedef void* aclrtFuncHandle;  // newer CANN

enum {
  ACL_SUCCESS = 0,
  ACL_ERROR_INVALID_PARAM = 100000,
  ACL_ERROR_UNINITIALIZE = 100001,
  ACL_ERROR_REPEAT_INITIALIZE = 100002,
  ACL_ERROR_BAD_ALLOC = 200000,
  ACL_ERROR_INVALID_DEVICE = 200002,
  ACL_ERROR_STORAGE_OVER_LIMIT = 300000,
  ACL_ERROR_INTERNAL_ERROR = 500000,
  ACL_ERROR_FAILURE = 500001,
  ACL_ERROR_RT_PARAM_INVALID = 107000,
  ACL_ERROR_RT_INVALID_DEVICEID = 107001,
  ACL_ERROR_RT_CONTEXT_NULL = 107002,
  ACL_ERROR_RT_FEATURE_NOT_SUPPORT = 207000,
  ACL_ERROR_RT_MEMORY_ALLOCATION = 207001,  // the only code torch_npu treats as out of memory
  ACL_ERROR_RT_MEMORY_FREE = 207002,
  ACL_ERROR_RT_NO_DEVICE = 207004,
  ACL_ERROR_RT_DEVICE_OOM = 207018,
  ACL_ERROR_RT_INTERNAL_ERROR = 507000,
  ACL_ERROR_RT_TASK_TYPE_NOT_SUPPORT = 507009,
  ACL_ERROR_RT_DRV_INTERNAL_ERROR = 507899,
};

typedef enum {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
  ACL_MEM_MALLOC_HUGE_FIRST_P2P = 3,
  ACL_MEM_MALLOC_HUGE_ONLY_P2P = 4,
  ACL_MEM_MALLOC_NORMAL_ONLY_P2P = 5,
  ACL_MEM_MALLOC_HUGE1G_ONLY = 6,
  ACL_MEM_MALLOC_HUGE1G_ONLY_P2P = 7,
} aclrtMemMallocPolicy;
#define ACL_MEM_TYPE_LOW_BAND_WIDTH 0x100
#define ACL_MEM_TYPE_HIGH_BAND_WIDTH 0x1000

typedef enum {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
  ACL_MEMCPY_DEFAULT = 4,
} aclrtMemcpyKind;

typedef enum {
  ACL_DDR_MEM = 0,
  ACL_HBM_MEM = 1,
  ACL_DDR_MEM_HUGE = 2,
  ACL_DDR_MEM_NORMAL = 3,
  ACL_HBM_MEM_HUGE = 4,
  ACL_HBM_MEM_NORMAL = 5,
  ACL_DDR_MEM_P2P_HUGE = 6,
  ACL_DDR_MEM_P2P_NORMAL = 7,
  ACL_HBM_MEM_P2P_HUGE = 8,
  ACL_HBM_MEM_P2P_NORMAL = 9,
  ACL_HBM_MEM_HUGE1G = 10,
  ACL_HBM_MEM_P2P_HUGE1G = 11,
} aclrtMemAttr;

typedef struct {
  int handleType;      // 0: none
  int allocationType;  // 0: pinned
  int memAttr;         // an aclrtMemAttr
  struct {
    uint32_t id;
    int type;  // 0: host, 1: device
  } location;
  uint64_t reserve;
} aclrtPhysicalMemProp;

aclError aclInit(const char* config_path);
aclError aclFinalize(void);
aclError aclrtSetDevice(int32_t device);
aclError aclrtResetDevice(int32_t device);
aclError aclrtGetDevice(int32_t* device);
aclError aclrtGetDeviceCount(uint32_t* count);
aclError aclrtCreateContext(aclrtContext* ctx, int32_t device);
aclError aclrtDestroyContext(aclrtContext ctx);
aclError aclrtSetCurrentContext(aclrtContext ctx);
aclError aclrtCreateStream(aclrtStream* stream);
aclError aclrtDestroyStream(aclrtStream stream);
aclError aclrtSynchronizeStream(aclrtStream stream);
aclError aclrtSynchronizeDevice(void);
aclError aclrtMalloc(void** ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtMallocAlign32(void** ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtFree(void* ptr);
aclError aclrtMallocHost(void** ptr, size_t size);
aclError aclrtFreeHost(void* ptr);
aclError aclrtMemcpy(void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind);
aclError aclrtMemcpyAsync(void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind,
                          aclrtStream stream);
aclError aclrtMemset(void* ptr, size_t max_count, int32_t value, size_t count);
aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free_bytes, size_t* total_bytes);
aclError aclrtMallocPhysical(aclrtDrvMemHandle* handle, size_t size, const aclrtPhysicalMemProp* prop, uint64_t flags);
aclError aclrtFreePhysical(aclrtDrvMemHandle handle);
aclError aclrtReserveMemAddress(void** virt, size_t size, size_t alignment, void* expect, uint64_t flags);
aclError aclrtReleaseMemAddress(void* virt);
aclError aclrtMapMem(void* virt, size_t size, size_t offset, aclrtDrvMemHandle handle, uint64_t flags);
aclError aclrtUnmapMem(void* virt);
aclError aclrtMemGetAllocationGranularity(aclrtPhysicalMemProp* prop, int option, size_t* granularity);
aclError aclrtCreateEvent(aclrtEvent* event);
aclError aclrtDestroyEvent(aclrtEvent event);
aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream);
aclError aclrtSynchronizeEvent(aclrtEvent event);
aclError aclrtEventElapsedTime(float* ms, aclrtEvent start, aclrtEvent end);
aclError aclrtBinaryLoadFromFile(const char* path, void* options, aclrtBinHandle* binary);
aclError aclrtBinaryGetFunction(aclrtBinHandle binary, const char* name, aclrtFuncHandle* function);
aclError aclrtBinaryUnLoad(aclrtBinHandle binary);
aclError aclrtLaunchKernel(aclrtFuncHandle function, uint32_t block_dim, const void* args, size_t args_size,
                           aclrtStream stream);

// ---- The runtime layer (libruntime.so): what the peers hook, and what ACL stands on ----
// Confirmed in the open CANN runtime headers: the device, context, stream, event and memory
// calls. rtMalloc takes a module id since CANN 8 (older: three arguments; passing the fourth to
// an older runtime is harmless in the C calling convention). The VMM and binary calls are
// simnpu's own.
typedef int rtError_t;
typedef void* rtContext_t;
typedef void* rtStream_t;
typedef void* rtEvent_t;
typedef void* rtDrvMemHandle;  // simnpu's own
typedef void* rtBinHandle;     // simnpu's own
typedef void* rtFuncHandle;    // simnpu's own
typedef uint32_t rtMemType_t;
typedef aclrtPhysicalMemProp rtDrvMemProp_t;
typedef int rtMemcpyKind_t;   // RT_MEMCPY_*: the same values as aclrtMemcpyKind's first four
typedef int rtMemInfoType_t;  // RT_MEMORYINFO_*: the same values as aclrtMemAttr
#define RT_ERROR_NONE 0
#define RT_MEMORY_HBM 0x2u

rtError_t rtGetDeviceCount(int32_t* count);
rtError_t rtSetDevice(int32_t device);
rtError_t rtDeviceReset(int32_t device);
rtError_t rtGetDevice(int32_t* device);
rtError_t rtGetDevicePhyIdByIndex(uint32_t index, uint32_t* phy_id);
rtError_t rtDeviceSynchronize(void);
rtError_t rtCtxCreate(rtContext_t* ctx, uint32_t flags, int32_t device);
rtError_t rtCtxDestroy(rtContext_t ctx);
rtError_t rtCtxSetCurrent(rtContext_t ctx);
rtError_t rtCtxGetCurrent(rtContext_t* ctx);
rtError_t rtCtxGetDevice(int32_t* device);
rtError_t rtCtxSynchronize(void);
rtError_t rtStreamCreate(rtStream_t* stream, int32_t priority);
rtError_t rtStreamDestroy(rtStream_t stream);
rtError_t rtStreamSynchronize(rtStream_t stream);
rtError_t rtEventCreate(rtEvent_t* event);
rtError_t rtEventDestroy(rtEvent_t event);
rtError_t rtEventRecord(rtEvent_t event, rtStream_t stream);
rtError_t rtEventSynchronize(rtEvent_t event);
rtError_t rtEventElapsedTime(float* ms, rtEvent_t start, rtEvent_t end);
rtError_t rtMalloc(void** ptr, uint64_t size, rtMemType_t type, uint16_t module_id);
rtError_t rtFree(void* ptr);
rtError_t rtMallocHost(void** ptr, uint64_t size, uint16_t module_id);
rtError_t rtFreeHost(void* ptr);
rtError_t rtMemcpy(void* dst, uint64_t dest_max, const void* src, uint64_t count, rtMemcpyKind_t kind);
rtError_t rtMemcpyAsync(void* dst, uint64_t dest_max, const void* src, uint64_t count, rtMemcpyKind_t kind,
                        rtStream_t stream);
rtError_t rtMemset(void* ptr, uint64_t dest_max, uint32_t value, uint64_t count);
rtError_t rtMemGetInfoEx(rtMemInfoType_t type, size_t* free_bytes, size_t* total_bytes);
rtError_t rtMallocPhysical(rtDrvMemHandle* handle, size_t size, const rtDrvMemProp_t* prop, uint64_t flags);
rtError_t rtFreePhysical(rtDrvMemHandle handle);
rtError_t rtReserveMemAddress(void** virt, size_t size, size_t alignment, void* expect, uint64_t flags);
rtError_t rtReleaseMemAddress(void* virt);
rtError_t rtMapMem(void* virt, size_t size, size_t offset, rtDrvMemHandle handle, uint64_t flags);
rtError_t rtUnmapMem(void* virt);
rtError_t rtBinaryLoad(const void* data, size_t size, rtBinHandle* binary);
rtError_t rtBinaryGetFunction(rtBinHandle binary, const char* name, rtFuncHandle* function);
rtError_t rtBinaryUnload(rtBinHandle binary);
rtError_t rtLaunchKernelByFuncHandle(rtFuncHandle function, uint32_t block_dim, const void* args, size_t args_size,
                                     rtStream_t stream);
// The launch family the peers police, as CANN's runtime headers declare them (confirmed in the
// open runtime's kernel.h and in tools that interpose them). Their structs stay opaque here.
typedef struct rtArgsEx rtArgsEx_t;
typedef struct rtSmDesc rtSmDesc_t;
typedef struct rtTaskCfgInfo rtTaskCfgInfo_t;
typedef void* rtModel_t;
rtError_t rtKernelLaunch(const void* stub, uint32_t block_dim, void* args, uint32_t args_size, rtSmDesc_t* sm_desc,
                         rtStream_t stream);
rtError_t rtKernelLaunchWithFlag(const void* stub, uint32_t block_dim, rtArgsEx_t* args, rtSmDesc_t* sm_desc,
                                 rtStream_t stream, uint32_t flags);
rtError_t rtKernelLaunchWithFlagV2(const void* stub, uint32_t block_dim, rtArgsEx_t* args, rtSmDesc_t* sm_desc,
                                   rtStream_t stream, uint32_t flags, const rtTaskCfgInfo_t* config);
rtError_t rtKernelLaunchWithHandleV2(void* handle, uint64_t tiling_key, uint32_t block_dim, rtArgsEx_t* args,
                                     rtSmDesc_t* sm_desc, rtStream_t stream, const rtTaskCfgInfo_t* config);
rtError_t rtModelExecute(rtModel_t model, rtStream_t stream, uint32_t flags);

// ---- DCMI (libdcmi.so): int results, DCMI_OK = 0 ----
#define DCMI_OK 0
#define DCMI_ERR_INVALID_PARAMETER (-8001)
#define DCMI_ERR_INNER (-8005)
#define DCMI_ERR_INVALID_DEVICE_ID (-8007)
#define DCMI_ERR_DEVICE_NOT_EXIST (-8008)
#define DCMI_ERR_NOT_SUPPORT (-8255)
#define DCMI_UTILIZATION_AICORE 2

struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;  // MB
  unsigned long long memory_available;
  unsigned int freq;
  unsigned long hugepagesize;  // KB
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

struct dcmi_hbm_info {
  unsigned long long memory_size;  // MB
  unsigned int freq;
  unsigned long long memory_usage;  // MB
  int temp;
  unsigned int bandwith_util_rate;
};

struct dcmi_proc_mem_info {
  int proc_id;
  unsigned long proc_mem_usage;  // bytes (unverified)
};

int dcmi_init(void);
int dcmi_get_card_list(int* card_num, int* card_list, int list_len);
int dcmi_get_device_num_in_card(int card_id, int* device_num);
int dcmi_get_device_memory_info_v3(int card_id, int device_id, struct dcmi_get_memory_info_stru* info);
int dcmi_get_device_hbm_info(int card_id, int device_id, struct dcmi_hbm_info* info);
int dcmi_get_device_utilization_rate(int card_id, int device_id, int input_type, unsigned int* rate);
int dcmi_get_device_resource_info(int card_id, int device_id, struct dcmi_proc_mem_info* info, int* proc_num);
// Identity and model (from Huawei's device plugin; unverified in a header).
struct dcmi_chip_info {
  unsigned char chip_type[32];  // "Ascend"
  unsigned char chip_name[32];  // "910B3"
  unsigned char chip_ver[32];
  unsigned int aicore_cnt;
};
int dcmi_get_device_chip_info(int card_id, int device_id, struct dcmi_chip_info* info);
int dcmi_get_device_logic_id(int* logic_id, int card_id, int device_id);
int dcmi_get_device_phyid_from_logicid(unsigned int logic_id, unsigned int* phy_id);

}  // extern "C"

namespace vxpu {

// The UUID vxpu gives an NPU: unique on the node, the same whichever API finds the chip (the
// runtime's physical id, DCMI's), and in the GPU UUIDs' format so ledgers and IDs take both.
inline void NpuUuid(uint32_t phy_id, char out[41]) {
  static const char kHex[] = "0123456789abcdef";
  const char* head = "NPU-a5ce0000-0000-4000-8000-";
  int i = 0;
  for (; head[i] != '\0'; ++i) out[i] = head[i];
  for (int shift = 44; shift >= 0; shift -= 4) out[i++] = kHex[(static_cast<uint64_t>(phy_id) >> shift) & 0xf];
  out[i] = '\0';
}

// Whether `uuid` is one NpuUuid made, and the physical id it was made from.
inline bool IsNpuUuid(const std::string& uuid) { return uuid.size() == 40 && uuid.compare(0, 4, "NPU-") == 0; }
inline uint32_t NpuPhyId(const std::string& uuid) {
  return static_cast<uint32_t>(std::strtoul(uuid.c_str() + 28, nullptr, 16));
}

}  // namespace vxpu
