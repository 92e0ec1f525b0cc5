// Driver API values the protocol has to look inside: which memory pool attributes are int
// rather than 64-bit, and which launch attributes carry plain numbers (the others carry
// handles or pointers, which a session cannot send). Shared by the client and the worker.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <cstring>
#include <string>

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

// The size of a binary module image by its own headers: a 64-bit ELF (cubin: the furthest of the
// section header table, the program header table and every section's contents) or a fatbin
// (header + payload). 0 if it is neither (a text image ends in NUL); UINT64_MAX if its headers lie
// or point at or past `limit` (the bytes known to be there). Reads nothing at or past `limit`.
inline uint64_t BinaryImageBytes(const uint8_t* p, uint64_t limit) {
  auto get = [&](uint64_t at, unsigned width, uint64_t* out) {
    if (at > limit || width > limit - at) return false;
    *out = 0;
    std::memcpy(out, p + at, width);
    return true;
  };
  auto end_of = [](uint64_t offset, uint64_t count, uint64_t each) {
    return each != 0 && count > (UINT64_MAX - offset) / each ? UINT64_MAX : offset + count * each;
  };
  uint64_t magic = 0;
  if (!get(0, 4, &magic)) return 0;
  if (magic == 0xBA55ED50) {  // fatbin: u32 magic, u16 version, u16 header size, u64 payload size
    uint64_t header = 0, payload = 0;
    if (!get(6, 2, &header) || !get(8, 8, &payload)) return UINT64_MAX;
    return payload > UINT64_MAX - header ? UINT64_MAX : header + payload;
  }
  uint64_t elf_class = 0;
  if (std::memcmp(p,
                  "\x7f"
                  "ELF",
                  4) != 0 ||
      !get(4, 1, &elf_class) || elf_class != 2)
    return 0;
  uint64_t phoff = 0, shoff = 0, phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
  if (!get(0x20, 8, &phoff) || !get(0x28, 8, &shoff) || !get(0x36, 2, &phentsize) || !get(0x38, 2, &phnum) ||
      !get(0x3a, 2, &shentsize) || !get(0x3c, 2, &shnum))
    return UINT64_MAX;
  uint64_t end = end_of(shoff, shnum, shentsize);
  uint64_t programs = end_of(phoff, phnum, phentsize);
  if (programs > end) end = programs;
  for (uint64_t i = 0; i < shnum && end != UINT64_MAX; ++i) {
    uint64_t at = shoff + i * shentsize, type = 0, offset = 0, size = 0;
    if (!get(at + 4, 4, &type) || !get(at + 0x18, 8, &offset) || !get(at + 0x20, 8, &size)) return UINT64_MAX;
    if (type == 8) continue;  // SHT_NOBITS: no bytes in the file
    uint64_t section_end = size > UINT64_MAX - offset ? UINT64_MAX : offset + size;
    if (section_end > end) end = section_end;
  }
  return end;
}

// Whether `image`'s own headers point only inside it (a text image always does).
inline bool WholeImage(const std::string& image) {
  return BinaryImageBytes(reinterpret_cast<const uint8_t*>(image.data()), image.size()) <= image.size();
}

}  // namespace vxpu::remote
