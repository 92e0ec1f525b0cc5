#include "remote/worker/session.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <thread>

#include "remote/wire.h"

namespace vxpu::remote {

// Reads through a buffer: a batch of small requests costs a few recv calls, not three each.
class Session::SocketSource : public ByteSource {
 public:
  SocketSource(int fd, uint32_t timeout_ms)
      : fd_(fd), timeout_ms_(static_cast<int>(timeout_ms)), buffer_(kBufferBytes) {}
  bool Read(void* data, size_t n, std::string* error) override {
    auto* out = static_cast<uint8_t*>(data);
    while (n > 0) {
      if (begin_ == end_) {
        // Large reads go straight to their destination once the buffer is drained.
        if (n >= kBufferBytes) return Direct(out, n, error);
        if (!Fill(error)) return false;
      }
      size_t take = std::min(n, end_ - begin_);
      std::memcpy(out, buffer_.data() + begin_, take);
      begin_ += take;
      out += take;
      n -= take;
    }
    return true;
  }

 private:
  static constexpr size_t kBufferBytes = 256 << 10;

  // A live client says something at least every kKeepaliveMs (a Keepalive when it has nothing
  // else to say): one silent for the timeout is stopped, hung or cut off, and its session ends.
  bool Fill(std::string* error) {
    for (;;) {
      pollfd pfd{fd_, POLLIN, 0};
      int ready = poll(&pfd, 1, timeout_ms_);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        *error = "the client was silent for " + std::to_string(timeout_ms_) + " ms";
        return false;
      }
      ssize_t got = recv(fd_, buffer_.data(), buffer_.size(), 0);
      if (got > 0) {
        begin_ = 0;
        end_ = static_cast<size_t>(got);
        return true;
      }
      if (got < 0 && errno == EINTR) continue;
      *error = got == 0 ? IoStatusText(IoStatus::kClosed) : IoStatusText(IoStatus::kError);
      return false;
    }
  }

  bool Direct(uint8_t* out, size_t n, std::string* error) {
    IoStatus status = ReadFull(fd_, out, n, timeout_ms_);
    if (status != IoStatus::kOk) *error = IoStatusText(status);
    return status == IoStatus::kOk;
  }

  int fd_;
  int timeout_ms_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0, end_ = 0;
};

namespace {

constexpr uint64_t kChunkBytes = 4ull << 20;
constexpr uint64_t kMaxInflightBytes = 512ull << 20;    // host data of asynchronous copies not yet done
constexpr uint64_t kMaxAsyncBufferBytes = 64ull << 20;  // one asynchronous copy's own buffer at most

// Requests whose reply also reports what earlier unanswered requests left (a driver reports
// asynchronous errors at the next call that waits for the device).
bool Synchronising(Op op) {
  switch (op) {
    case Op::kCtxSynchronize:
    case Op::kStreamSynchronize:
    case Op::kStreamQuery:
    case Op::kEventSynchronize:
    case Op::kEventQuery:
    case Op::kMemcpyDtoH:
    case Op::kMemcpyHtoD: return true;
    default: return false;
  }
}

}  // namespace

Session::Session(int fd, uint32_t timeout_ms, ImageCache images)
    : fd_(fd), timeout_ms_(timeout_ms), images_(std::move(images)), source_(new SocketSource(fd, timeout_ms)) {
  staging_[0].resize(kChunkBytes);
  staging_[1].resize(kChunkBytes);
}

Session::~Session() { delete source_; }

bool Session::Send(const std::string& head, const void* blob, uint64_t blob_bytes) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return SendLocked(head, blob, blob_bytes);
}

bool Session::SendLocked(const std::string& head, const void* blob, uint64_t blob_bytes) {
  iovec iov[2] = {{const_cast<char*>(head.data()), head.size()}, {const_cast<void*>(blob), blob_bytes}};
  return WriteFull(fd_, iov, blob_bytes > 0 ? 2 : 1) == IoStatus::kOk;
}

void Session::KeepaliveLoop() {
  std::string head;
  AppendAnswer(&head, kKeepalive, 0, nullptr, 0, 0);
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(kKeepaliveMs), [this] { return stop_; })) {
    lock.unlock();
    bool sent = Send(head, nullptr, 0);
    lock.lock();
    if (!sent) return;
  }
}

bool Session::SendWelcome() {
  CUresult result = cuInit(0);
  CUdevice dev = 0;
  if (result == CUDA_SUCCESS) result = cuDeviceGet(&dev, 0);
  std::vector<uint64_t> outs(kHelloOutCount, 0);
  std::string blob(kNameBytes + kUuidBytes + kBusIdBytes, '\0');
  if (result == CUDA_SUCCESS) {
    device_ = dev;
    int version = 0, major = 0, minor = 0;
    size_t total = 0;
    CUuuid uuid{};
    cuDriverGetVersion(&version);
    cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    cuDeviceTotalMem(&total, dev);
    cuDeviceGetName(blob.data(), kNameBytes - 1, dev);
    cuDeviceGetUuid(&uuid, dev);
    std::memcpy(blob.data() + kNameBytes, uuid.bytes, kUuidBytes);
    cuDeviceGetPCIBusId(blob.data() + kNameBytes + kUuidBytes, kBusIdBytes - 1, dev);
    outs[kHelloDriverVersion] = static_cast<uint64_t>(version);
    outs[kHelloTotalMemory] = total;
    outs[kHelloCcMajor] = static_cast<uint64_t>(major);
    outs[kHelloCcMinor] = static_cast<uint64_t>(minor);
    outs[kHelloAttributeCount] = CU_DEVICE_ATTRIBUTE_MAX;
    for (int attr = 0; attr < CU_DEVICE_ATTRIBUTE_MAX; ++attr) {
      int value = 0;
      if (attr > 0) cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(attr), dev);
      blob.append(reinterpret_cast<const char*>(&value), sizeof(value));
    }
  }
  std::string head;
  AppendAnswer(&head, kReply, result, outs.data(), kHelloOutCount, blob.size());
  return Send(head, blob.data(), blob.size()) && result == CUDA_SUCCESS;
}

bool Session::SendFinishedCopies() {
  for (size_t i = 0; i < copies_.size();) {
    PendingCopy& copy = copies_[i];
    if (cuEventQuery(copy.done) == CUDA_ERROR_NOT_READY) {
      ++i;
      continue;
    }
    std::string head;
    AppendAnswer(&head, kCopyData, 0, &copy.id, 1, copy.data.size());
    if (!Send(head, copy.data.data(), copy.data.size())) return false;
    cuEventDestroy(copy.done);
    pending_copy_bytes_ -= copy.data.size();
    Recycle(std::move(copy.data));
    copies_.erase(copies_.begin() + static_cast<long>(i));
  }
  return true;
}

bool Session::Answer(const Call& call, CUresult result) {
  if (!SendFinishedCopies()) return false;
  std::string head;
  AppendAnswer(&head, kReply, result, call.outs.data(), static_cast<uint32_t>(call.outs.size()), call.out_blob.size());
  return Send(head, call.out_blob.data(), call.out_blob.size());
}

CUresult Session::Dispatch(Call& call) {
  switch (call.request.spec->op) {
#define VXPU_REMOTE_OP(name, code, reply, args, blob) \
  case Op::k##name:                                   \
    return On##name(call);
#include "remote/ops.def"
#undef VXPU_REMOTE_OP
  }
  return CUDA_ERROR_NOT_SUPPORTED;
}

int Session::Serve() {
  if (!SendWelcome()) return 1;
  std::thread keepalive([this] { KeepaliveLoop(); });
  std::string error;
  int code = 0;
  for (;;) {
    Request request;
    if (!ReadRequest(*source_, &request, &error)) {
      if (error != IoStatusText(IoStatus::kClosed)) {
        std::fprintf(stderr, "vxpu remote worker: closing the session: %s\n", error.c_str());
        code = 2;
      }
      break;
    }
    Call call{request, {}, {}, {}};
    if (request.spec->blob == BlobKind::kBytes && !ReadBlob(*source_, request, &call.blob, &error)) break;
    CUresult result = SetContext(request.header.ctx);
    if (result == CUDA_SUCCESS) {
      result = Dispatch(call);
    } else if (request.spec->blob == BlobKind::kCopyIn && !Discard(request.header.blob)) {
      broken_ = true;
    }
    if (broken_) {
      std::fprintf(stderr, "vxpu remote worker: closing the session: %s broke the protocol\n", request.spec->name);
      code = 2;
      break;
    }
    if (answered_) {
      answered_ = false;
      continue;
    }
    if (!request.spec->reply) {
      if (result != CUDA_SUCCESS && deferred_ == CUDA_SUCCESS) deferred_ = result;
      continue;
    }
    if (Synchronising(request.spec->op) && result == CUDA_SUCCESS && deferred_ != CUDA_SUCCESS) {
      result = deferred_;
      deferred_ = CUDA_SUCCESS;
    }
    if (!Answer(call, result)) break;
  }
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  shutdown(fd_, SHUT_RDWR);
  keepalive.join();
  return code;
}

CUresult Session::SetContext(uint32_t id) {
  if (id == current_ctx_) return CUDA_SUCCESS;
  CUcontext ctx = nullptr;
  if (id != 0) {
    auto it = contexts_.find(id);
    if (it == contexts_.end()) return CUDA_ERROR_INVALID_CONTEXT;
    ctx = it->second;
  }
  CUresult result = cuCtxSetCurrent(ctx);
  if (result == CUDA_SUCCESS) current_ctx_ = id;
  return result;
}

CUresult Session::StreamOf(uint64_t id, CUstream* out) const {
  if (id == kNullStream) {
    *out = nullptr;
  } else if (id == kLegacyStream) {
    *out = CU_STREAM_LEGACY;
  } else if (id == kPerThreadStream) {
    *out = CU_STREAM_PER_THREAD;
  } else {
    auto it = streams_.find(id);
    if (it == streams_.end()) return CUDA_ERROR_INVALID_HANDLE;
    *out = it->second;
  }
  return CUDA_SUCCESS;
}

CUresult Session::EventOf(uint64_t id, CUevent* out) const {
  auto it = events_.find(id);
  if (it == events_.end()) return CUDA_ERROR_INVALID_HANDLE;
  *out = it->second;
  return CUDA_SUCCESS;
}

CUresult Session::FunctionOf(uint64_t id, CUfunction* out) const {
  auto it = functions_.find(id);
  if (it == functions_.end()) return CUDA_ERROR_INVALID_HANDLE;
  *out = it->second;
  return CUDA_SUCCESS;
}

CUresult Session::PoolOf(uint64_t id, CUmemoryPool* out) const {
  auto it = pools_.find(id);
  if (it == pools_.end()) return CUDA_ERROR_INVALID_HANDLE;
  *out = it->second;
  return CUDA_SUCCESS;
}

bool Session::Within(const std::map<uint64_t, uint64_t>& ranges, uint64_t ptr, uint64_t bytes) {
  auto it = ranges.upper_bound(ptr);
  if (it == ranges.begin()) return false;
  --it;
  uint64_t offset = ptr - it->first;
  return offset <= it->second && bytes <= it->second - offset;
}

bool Session::Discard(uint64_t bytes) {
  std::string error;
  while (bytes > 0) {
    uint64_t n = bytes < kChunkBytes ? bytes : kChunkBytes;
    if (!source_->Read(staging_[0].data(), n, &error)) return false;
    bytes -= n;
  }
  return true;
}

void Session::RememberContextMemory(uint64_t ptr, uint64_t bytes) {
  memory_[ptr] = bytes;
  memory_ctx_[ptr] = current_ctx_;
}

void Session::DrainCopiesOf(uint64_t ctx) {
  for (std::vector<PendingCopy>* list : {&inflight_, &copies_}) {
    for (auto it = list->begin(); it != list->end();) {
      if (it->ctx != ctx) {
        ++it;
        continue;
      }
      cuEventSynchronize(it->done);
      cuEventDestroy(it->done);
      (list == &inflight_ ? inflight_bytes_ : pending_copy_bytes_) -= it->data.size();
      it = list->erase(it);  // a copy of a context that is going is never delivered
    }
  }
}

std::vector<uint8_t> Session::Buffer(uint64_t bytes) {
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    if (it->size() != bytes) continue;
    std::vector<uint8_t> reused = std::move(*it);
    spare_.erase(it);
    return reused;
  }
  return std::vector<uint8_t>(bytes);
}

void Session::Recycle(std::vector<uint8_t> buffer) {
  constexpr size_t kSpares = 8, kLargest = 64 << 20;
  if (buffer.size() > kLargest) return;
  if (spare_.size() == kSpares) spare_.erase(spare_.begin());
  spare_.push_back(std::move(buffer));
}

CUresult Session::Track(CUresult queued, CUstream stream, PendingCopy* copy) {
  CUresult result = queued;
  if (result == CUDA_SUCCESS) result = cuEventCreate(&copy->done, CU_EVENT_DISABLE_TIMING);
  if (result == CUDA_SUCCESS) result = cuEventRecord(copy->done, stream);
  if (result == CUDA_SUCCESS) return CUDA_SUCCESS;
  if (copy->done != nullptr) cuEventDestroy(copy->done);
  copy->done = nullptr;
  cuStreamSynchronize(stream);  // the copy may still use the buffer
  return result;
}

void Session::ReleaseFinishedBuffers() {
  for (size_t i = 0; i < inflight_.size();) {
    PendingCopy& copy = inflight_[i];
    // Past the bound, the oldest buffer is waited for rather than more memory taken.
    bool over = i == 0 && inflight_bytes_ > kMaxInflightBytes;
    if (over) cuEventSynchronize(copy.done);
    if (!over && cuEventQuery(copy.done) == CUDA_ERROR_NOT_READY) {
      ++i;
      continue;
    }
    cuEventDestroy(copy.done);
    inflight_bytes_ -= copy.data.size();
    Recycle(std::move(copy.data));
    inflight_.erase(inflight_.begin() + static_cast<long>(i));
  }
}

CUresult Session::CopyIn(uint64_t dst, uint64_t bytes, CUstream stream, bool async) {
  std::string error;
  if (async && bytes <= kMaxAsyncBufferBytes) {
    // The data must outlive the copy: it gets a buffer of its own until the copy is done. (A
    // larger copy goes through the staging buffers and is waited for, as the driver does with
    // an asynchronous copy from pageable memory.)
    PendingCopy keep{0, Buffer(bytes), nullptr, current_ctx_};
    if (!source_->Read(keep.data.data(), bytes, &error)) {
      broken_ = true;
      return CUDA_ERROR_UNKNOWN;
    }
    CUresult result = Track(cuMemcpyHtoDAsync(dst, keep.data.data(), bytes, stream), stream, &keep);
    if (result != CUDA_SUCCESS) return result;
    inflight_bytes_ += bytes;
    inflight_.push_back(std::move(keep));
    ReleaseFinishedBuffers();
    return CUDA_SUCCESS;
  }
  CUevent done[2] = {nullptr, nullptr};
  CUresult result = CUDA_SUCCESS;
  for (uint64_t offset = 0, k = 0; offset < bytes; offset += kChunkBytes, ++k) {
    uint64_t n = bytes - offset < kChunkBytes ? bytes - offset : kChunkBytes;
    std::vector<uint8_t>& buffer = staging_[k % 2];
    if (done[k % 2] != nullptr) cuEventSynchronize(done[k % 2]);
    if (!source_->Read(buffer.data(), n, &error)) {
      broken_ = true;
      result = CUDA_ERROR_UNKNOWN;
      break;
    }
    if (result != CUDA_SUCCESS) continue;  // keep reading the data: the stream stays in step
    result = cuMemcpyHtoDAsync(dst + offset, buffer.data(), n, stream);
    if (result == CUDA_SUCCESS && done[k % 2] == nullptr) result = cuEventCreate(&done[k % 2], CU_EVENT_DISABLE_TIMING);
    if (result == CUDA_SUCCESS) result = cuEventRecord(done[k % 2], stream);
  }
  for (CUevent e : done) {
    if (e == nullptr) continue;
    cuEventSynchronize(e);
    cuEventDestroy(e);
  }
  return result;
}

}  // namespace vxpu::remote
