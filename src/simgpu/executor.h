// Runs one process's work on one simulated device, in submission order, on its own thread.
//
// Every stream of the process's contexts on the device feeds this single queue, so operations
// complete in the order they were issued (a legal schedule for CUDA streams: it honours
// stream order, events and the legacy default stream's barriers). An operation's host-side
// effect (a copy, a fill) happens when it reaches the head of the queue; an operation with
// device time (a kernel) then occupies the device for that long, time-sliced against the other
// clients of the device through SharedDevice. Waiting sleeps; what a sleep overshoots is
// credited to the next queued operation, so back-to-back work keeps the device fully busy.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "simgpu/shared_device.h"

namespace simgpu {

class Executor {
 public:
  // `work` runs on the executor thread; a non-zero return is a sticky error (e.g. an illegal
  // address) reported by every later wait, as a real context reports a fault.
  using Work = std::function<int()>;

  Executor(SharedDevice* device, int slot);
  ~Executor();  // stops after the operation in progress; pending work is dropped
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `work` followed by `device_ns` of device time; returns its sequence number (>0).
  uint64_t Submit(uint64_t device_ns, Work work);

  bool Done(uint64_t seq) const { return completed_.load(std::memory_order_acquire) >= seq; }
  // Sleeps until operation `seq` (and all before it) completed; returns the sticky error or 0.
  int Wait(uint64_t seq);
  int sticky_error() const { return sticky_error_.load(std::memory_order_acquire); }
  uint64_t last_submitted();

 private:
  struct Op {
    uint64_t seq;
    uint64_t device_ns;
    Work work;
  };

  void Run();
  void Occupy(uint64_t device_ns);

  SharedDevice* device_;
  int slot_;
  std::mutex mu_;
  std::condition_variable queued_;
  std::condition_variable completed_cv_;
  std::deque<Op> queue_;
  uint64_t next_seq_ = 1;
  std::atomic<uint64_t> completed_{0};
  std::atomic<int> sticky_error_{0};
  std::atomic<bool> stop_{false};
  uint64_t overrun_ns_ = 0;  // executor thread only: device time slept past the last operation
  std::thread thread_;
};

}  // namespace simgpu
