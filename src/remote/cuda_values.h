// Driver API values the protocol has to look inside: which memory pool attributes are int
// rather than 64-bit, and which launch attributes carry plain numbers (the others carry
// handles or pointers, which a session cannot send). Shared by the client and the worker.
#pragma once

#include <cuda.h>

namespace vxpu::remote {

inline bool PoolAttributeIsInt(CUmemPool_attribute attr) {
  return attr == CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES || attr == CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC ||
         attr == CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES;
}

inline bool PlainLaunchAttribute(CUlaunchAttributeID id) {
  switch (id) {
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION: return true;
    default: return false;
  }
}

constexpr unsigned kMaxLaunchAttributes = 16;

}  // namespace vxpu::remote
