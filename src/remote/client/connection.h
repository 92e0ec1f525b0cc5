// The client's end of a remote session: one TCP connection to the session's worker.
//
// Requests that get no answer are sent in batches: the first of a burst at once (the device
// may be waiting for it), the ones after it together (when the batch is large, when a call has
// to wait anyway, or flush_us after the first of them was queued), so a burst of launches costs
// a few writes. Calls that need an answer send the batch with them and wait; only
// one waits at a time. Device-to-host copies done asynchronously arrive before the answer of
// the call that synchronised with them and land in the host memory registered for them.
// Once the connection is lost (closed, or silent past the timeout) every later request fails
// with CUDA_ERROR_DEVICE_UNAVAILABLE; nothing blocks longer than the timeout.
#pragma once

#include <cuda.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "remote/protocol.h"

namespace vxpu::remote {

struct Settings {
  std::string host, port;  // the server: VXPU_REMOTE=HOST:PORT
  std::string token;       // VXPU_REMOTE_TOKEN_FILE's content
  std::string memory;      // VXPU_REMOTE_MEMORY, as the user wrote it ("" : the server's default)
  std::string compute;     // VXPU_REMOTE_COMPUTE
  uint32_t timeout_ms = kDefaultTimeoutMs;
  uint32_t flush_us = 50;  // how long the first queued request waits for company
};

// The settings from the environment; false with *error naming the bad variable and value.
bool SettingsFromEnvironment(Settings* settings, std::string* error);

struct Reply {
  std::vector<uint64_t> outs;
  void* into = nullptr;  // where a blob of exactly `into_bytes` goes (device-to-host copies)
  uint64_t into_bytes = 0;
  std::string blob;  // any other blob
};

class Connection {
 public:
  // Connects, says Hello and fills `hello` with the device view. Returns the failure (with
  // *error for the user) or CUDA_SUCCESS.
  CUresult Open(const Settings& settings, Reply* hello, std::string* error);

  // Queues a request that gets no answer. `blob` is copied (large blobs are sent at once).
  CUresult Post(Op op, uint32_t ctx, std::initializer_list<uint64_t> args, const void* blob = nullptr,
                uint64_t blob_bytes = 0);
  // Sends a request with everything queued before it and waits for its answer.
  CUresult Call(Op op, uint32_t ctx, std::initializer_list<uint64_t> args, Reply* reply, const void* blob = nullptr,
                uint64_t blob_bytes = 0);

  // Where the data of asynchronous copy `id` goes when it arrives.
  void ExpectCopy(uint64_t id, void* host, uint64_t bytes);

  // Counters for the benchmarks: writes to the socket and calls that waited for an answer.
  uint64_t writes() const { return writes_; }
  uint64_t round_trips() const { return round_trips_; }

 private:
  CUresult Lost(const char* why);
  CUresult Write(const void* tail, uint64_t tail_bytes);  // the batch, then `tail`; mu_ held
  CUresult ReadAnswer(Reply* reply);
  bool ReadCopyData(uint64_t id, uint64_t bytes);
  void FlushLoop();
  // Reads the keepalives that arrived while nobody waited for an answer (a long idle spell would
  // fill the socket with them). Called with mu_ held.
  void DrainKeepalives();

  int fd_ = -1;
  Settings settings_;
  std::mutex call_mu_;  // one call waits for an answer at a time
  std::mutex mu_;       // the batch and writes to the socket
  std::condition_variable queued_;
  std::string batch_;
  std::chrono::steady_clock::time_point last_write_;
  std::atomic<bool> lost_{false};
  std::string server_;
  std::mutex copies_mu_;
  std::unordered_map<uint64_t, std::pair<void*, uint64_t>> copies_;
  uint64_t writes_ = 0, round_trips_ = 0;
};

}  // namespace vxpu::remote
