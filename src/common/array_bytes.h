// Device memory a CUDA array takes, as simgpu charges it and the interposer counts it.
// Header-only; needs cuda.h.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace vxpu {

constexpr uint64_t kArrayAlignment = 512;

inline int ArrayElementBytes(CUarray_format format) {
  switch (format) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8: return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF: return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT: return 4;
    default: return 0;
  }
}

// Bytes of a 1D/2D/3D array (height, depth 0 mean 1); 0 if the descriptor is invalid.
inline uint64_t ArrayBytes(uint64_t width, uint64_t height, uint64_t depth, CUarray_format format, unsigned channels) {
  int element = ArrayElementBytes(format);
  if (width == 0 || element == 0 || (channels != 1 && channels != 2 && channels != 4)) return 0;
  uint64_t bytes = width * (height ? height : 1) * (depth ? depth : 1) * channels * static_cast<uint64_t>(element);
  return (bytes + kArrayAlignment - 1) / kArrayAlignment * kArrayAlignment;
}

// Bytes of a mipmapped array of `levels` levels, each half the previous in every dimension.
inline uint64_t MipmappedArrayBytes(const CUDA_ARRAY3D_DESCRIPTOR& desc, unsigned levels) {
  uint64_t total = 0;
  uint64_t w = desc.Width, h = desc.Height, d = desc.Depth;
  for (unsigned level = 0; level < levels; ++level) {
    uint64_t bytes = ArrayBytes(w, h, d, desc.Format, desc.NumChannels);
    if (bytes == 0) return 0;
    total += bytes;
    w = w > 1 ? w / 2 : 1;
    h = h > 1 ? h / 2 : h;
    d = d > 1 ? d / 2 : d;
  }
  return total;
}

}  // namespace vxpu
