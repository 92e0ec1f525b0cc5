// The remote protocol between the client libcuda.so.1 and a session's worker: one TCP
// connection per session, a stream of messages in both directions, little-endian.
//
//   request  Header{op, nargs, ctx, blob} | nargs x u64 | blob
//   answer   AnswerHeader{kind, nouts, result, blob} | nouts x u64 | blob
//
// The client sends requests; ops with reply=0 (ops.def) get no answer, so the client sends
// them in batches without waiting. The worker answers in order: kReply for each request with
// reply=1, kCopyData for a finished asynchronous device-to-host copy (before the reply of the
// synchronising call that found it finished), kKeepalive while it has nothing else to say. The
// client sends Keepalive requests while it has nothing else to send: each side gives up a peer
// silent for longer than its timeout.
// The first request is Hello (token and slice request); nothing else is read before it passes.
// Dependency-free: the client library includes it.
#pragma once

#include <cstdint>

namespace vxpu::remote {

constexpr uint32_t kProtocolVersion = 2;  // 2: libraries, kernels and images by digest
constexpr uint32_t kMaxArgs = 16;
constexpr uint32_t kMaxKernelParams = 512;
constexpr uint32_t kMaxOuts = 2 + 2 * kMaxKernelParams;  // ModuleGetFunction's layout is the longest answer
// Module and library images at least this large are offered by their SHA-256 first (the server
// keeps them between sessions); smaller ones always come whole and are not kept.
constexpr uint64_t kImageByDigestBytes = 4 << 10;
constexpr uint64_t kMaxBlobBytes = 256ull << 20;  // modules, descriptors, parameters
constexpr uint64_t kMaxCopyBytes = 1ull << 40;    // one copy's data (bounded by its allocation too)
constexpr uint64_t kMaxTokenBytes = 4096;
constexpr uint64_t kMaxHelloBytes = kMaxTokenBytes + 128;  // token, memory and compute texts

enum class Op : uint16_t {
#define VXPU_REMOTE_OP(name, code, reply, args, blob) k##name = code,
#include "remote/ops.def"
#undef VXPU_REMOTE_OP
};

enum class BlobKind : uint8_t { kNoBlob, kBytes, kCopyIn };

// What ops.def says about one op; nullptr for codes it does not list.
struct OpSpec {
  Op op;
  const char* name;
  bool reply;
  uint16_t args;
  BlobKind blob;
};
const OpSpec* FindOp(uint16_t code);

#pragma pack(push, 1)
struct Header {
  uint16_t op;
  uint16_t nargs;
  uint32_t ctx;  // the caller's current context id (0: none)
  uint64_t blob;
};
struct AnswerHeader {
  uint16_t kind;
  uint16_t nouts;
  int32_t result;  // a CUresult
  uint64_t blob;
};
#pragma pack(pop)
static_assert(sizeof(Header) == 16 && sizeof(AnswerHeader) == 16);

enum AnswerKind : uint16_t { kReply = 1, kCopyData = 2, kKeepalive = 3 };

// Stream ids with a fixed meaning; the client mints others from kFirstMintedId up.
constexpr uint64_t kNullStream = 0;       // the context's NULL stream
constexpr uint64_t kLegacyStream = 1;     // CU_STREAM_LEGACY
constexpr uint64_t kPerThreadStream = 2;  // CU_STREAM_PER_THREAD
constexpr uint64_t kFirstMintedId = 16;

// Hello's flags, and the device view its reply carries (outs, in this order).
enum HelloOut : uint32_t {
  kHelloDriverVersion,
  kHelloTotalMemory,  // what the slice lets the session see (its quota, or the device)
  kHelloCcMajor,
  kHelloCcMinor,
  kHelloAttributeCount,
  kHelloOutCount
};
// Hello's reply blob: name (256 bytes, NUL padded) | uuid (16) | PCI bus id (32) |
// attributeCount x int32 (CU_DEVICE_ATTRIBUTE_* from 0). On refusal: the reason, as text.
constexpr uint32_t kNameBytes = 256, kUuidBytes = 16, kBusIdBytes = 32;

// What NvmlQuery asks the worker's NVML (which, under the slice, reports the slice's view).
enum NvmlQuery : uint64_t {
  kNvmlMemory,       // -> total, free, used (bytes)
  kNvmlUtilization,  // -> gpu, memory (percent)
};

// How long a silent peer is given before the session counts as lost, by default.
constexpr uint32_t kDefaultTimeoutMs = 10000;
constexpr uint32_t kKeepaliveMs = 1000;

}  // namespace vxpu::remote
