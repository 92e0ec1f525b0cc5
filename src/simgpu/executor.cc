#include "simgpu/executor.h"

#include <time.h>

#include <algorithm>

namespace simgpu {

namespace {
void SleepNs(uint64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}
}  // namespace

Executor::Executor(SharedDevice* device, int slot) : device_(device), slot_(slot) {
  thread_ = std::thread([this] { Run(); });
}

Executor::~Executor() {
  {
    // Under mu_: set between Run's predicate check and its wait, the wakeup would be lost.
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  queued_.notify_all();
  thread_.join();
}

uint64_t Executor::Submit(uint64_t device_ns, Work work) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t seq = next_seq_++;
  queue_.push_back(Op{seq, device_ns, std::move(work)});
  queued_.notify_one();
  return seq;
}

uint64_t Executor::last_submitted() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_ - 1;
}

int Executor::Wait(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  completed_cv_.wait(lock, [&] { return Done(seq) || stop_.load(); });
  return sticky_error();
}

void Executor::Occupy(uint64_t device_ns) {
  // The device is time-sliced: run at most to the end of the current quantum, then let the
  // next waiting client have it. Time actually slept is what is credited. A sleep overshoots;
  // the overshoot past the end of one operation was spent on the next one already queued, as a
  // real device runs queued kernels back to back whatever its host thread is doing.
  uint64_t remaining = device_ns - std::min(device_ns, overrun_ns_);
  overrun_ns_ -= device_ns - remaining;
  while (remaining > 0 && !stop_.load(std::memory_order_relaxed)) {
    device_->Acquire(slot_);
    uint64_t left = device_->QuantumLeft(slot_);
    if (left == 0) left = uint64_t{device_->quantum_us()} * 1000;
    uint64_t chunk = std::min(remaining, left);
    uint64_t start = MonotonicNs();
    SleepNs(chunk);
    uint64_t ran = MonotonicNs() - start;
    device_->AddBusy(slot_, ran);
    overrun_ns_ = ran > remaining ? ran - remaining : 0;
    remaining -= std::min(remaining, ran);
    device_->EndQuantum(slot_);
  }
}

void Executor::Run() {
  for (;;) {
    Op op;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty()) {
        overrun_ns_ = 0;  // nothing was queued to run in it: the device idled
        lock.unlock();
        device_->Release(slot_);  // nothing pending: the device goes to the others
        lock.lock();
      }
      queued_.wait(lock, [&] { return !queue_.empty() || stop_.load(); });
      if (stop_.load()) break;
      op = std::move(queue_.front());
      queue_.pop_front();
    }
    if (sticky_error() == 0) {
      int error = op.work ? op.work() : 0;
      if (error != 0) {
        int expected = 0;
        sticky_error_.compare_exchange_strong(expected, error);
      }
      if (op.device_ns > 0 && error == 0) Occupy(op.device_ns);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      completed_.store(op.seq, std::memory_order_release);
    }
    completed_cv_.notify_all();
  }
  device_->Release(slot_);
  completed_cv_.notify_all();
}

}  // namespace simgpu
