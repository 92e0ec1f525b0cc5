#include "remote/request_reader.h"

namespace vxpu::remote {

namespace {

const OpSpec kOps[] = {
#define VXPU_REMOTE_OP(name, code, reply, args, blob) {Op::k##name, #name, reply != 0, args, BlobKind::blob},
#include "remote/ops.def"
#undef VXPU_REMOTE_OP
};

}  // namespace

const OpSpec* FindOp(uint16_t code) {
  for (const OpSpec& spec : kOps) {
    if (static_cast<uint16_t>(spec.op) == code) return &spec;
  }
  return nullptr;
}

bool ReadRequest(ByteSource& source, Request* request, std::string* error) {
  if (!source.Read(&request->header, sizeof(Header), error)) return false;
  const Header& h = request->header;
  request->spec = FindOp(h.op);
  if (request->spec == nullptr) {
    *error = "unknown op " + std::to_string(h.op);
    return false;
  }
  const OpSpec& spec = *request->spec;
  if (h.nargs != spec.args) {
    *error = std::string(spec.name) + ": " + std::to_string(h.nargs) + " arguments, want " + std::to_string(spec.args);
    return false;
  }
  bool blob_ok = spec.blob == BlobKind::kNoBlob  ? h.blob == 0
                 : spec.blob == BlobKind::kBytes ? h.blob <= kMaxBlobBytes
                                                 : h.blob <= kMaxCopyBytes;
  if (!blob_ok) {
    *error = std::string(spec.name) + ": blob of " + std::to_string(h.blob) + " bytes is out of bounds";
    return false;
  }
  return source.Read(request->args, sizeof(uint64_t) * h.nargs, error);
}

bool ReadBlob(ByteSource& source, const Request& request, std::string* blob, std::string* error) {
  blob->resize(request.header.blob);
  return source.Read(blob->data(), blob->size(), error);
}

}  // namespace vxpu::remote
