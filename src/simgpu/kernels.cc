#include "simgpu/kernels.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace simgpu {
namespace {

constexpr uint64_t kLaunchNs = 2000;    // fixed cost of any kernel
constexpr uint64_t kBytesPerNs = 2000;  // ~2 TB/s of memory bandwidth

template <typename T>
T Param(const uint8_t* params, uint32_t offset) {
  T value;
  std::memcpy(&value, params + offset, sizeof(T));
  return value;
}

uint64_t Elements(uint64_t n, uint64_t threads) { return std::min(n, threads); }

uint64_t SpinNs(const uint8_t* params, uint64_t) { return Param<uint64_t>(params, 0); }
bool SpinRun(const uint8_t*, uint64_t, const MemoryCheck&) { return true; }

uint64_t FillNs(const uint8_t* params, uint64_t threads) {
  return kLaunchNs + Elements(Param<uint64_t>(params, 16), threads) * 4 / kBytesPerNs;
}
bool FillRun(const uint8_t* params, uint64_t threads, const MemoryCheck& check) {
  uint64_t dst = Param<uint64_t>(params, 0);
  uint32_t value = Param<uint32_t>(params, 8);
  uint64_t n = Elements(Param<uint64_t>(params, 16), threads);
  if (n == 0) return true;
  if (!check(dst, n * 4)) return false;
  std::fill_n(reinterpret_cast<uint32_t*>(dst), n, value);
  return true;
}

uint64_t AddNs(const uint8_t* params, uint64_t threads) {
  return kLaunchNs + Elements(Param<uint64_t>(params, 24), threads) * 12 / kBytesPerNs;
}
bool AddRun(const uint8_t* params, uint64_t threads, const MemoryCheck& check) {
  uint64_t a = Param<uint64_t>(params, 0), b = Param<uint64_t>(params, 8), c = Param<uint64_t>(params, 16);
  uint64_t n = Elements(Param<uint64_t>(params, 24), threads);
  if (n == 0) return true;
  if (!check(a, n * 4) || !check(b, n * 4) || !check(c, n * 4)) return false;
  const float* x = reinterpret_cast<const float*>(a);
  const float* y = reinterpret_cast<const float*>(b);
  float* z = reinterpret_cast<float*>(c);
  for (uint64_t i = 0; i < n; ++i) z[i] = x[i] + y[i];
  return true;
}

const BuiltinKernel kKernels[] = {
    {"vxpu_spin_ns", {8}, SpinNs, SpinRun},
    {"vxpu_fill_u32", {8, 4, 8}, FillNs, FillRun},
    {"vxpu_vector_add_f32", {8, 8, 8, 8}, AddNs, AddRun},
};

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

}  // namespace

const BuiltinKernel* FindBuiltinKernel(std::string_view name) {
  for (const BuiltinKernel& k : kKernels) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<uint32_t> ParamOffsets(const BuiltinKernel& kernel, uint32_t* total_size) {
  std::vector<uint32_t> offsets;
  uint32_t offset = 0;
  for (uint32_t size : kernel.param_sizes) {
    offset = (offset + size - 1) / size * size;
    offsets.push_back(offset);
    offset += size;
  }
  *total_size = offset;
  return offsets;
}

std::vector<std::string> ModuleEntries(std::string_view image) {
  std::vector<std::string> entries;
  constexpr std::string_view kEntry = ".entry";
  for (size_t pos = image.find(kEntry); pos != std::string_view::npos; pos = image.find(kEntry, pos + 1)) {
    size_t i = pos + kEntry.size();
    if (i >= image.size() || !std::isspace(static_cast<unsigned char>(image[i]))) continue;
    while (i < image.size() && std::isspace(static_cast<unsigned char>(image[i]))) ++i;
    size_t start = i;
    while (i < image.size() && IsIdentChar(image[i])) ++i;
    if (i > start) entries.emplace_back(image.substr(start, i - start));
  }
  return entries;
}

}  // namespace simgpu
