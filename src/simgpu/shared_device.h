// The state of one simulated device that every process using it shares: memory in use and
// the round-robin time slicing of the device between clients (one client = one process's use
// of one device). It lives in a POSIX shared-memory segment named after the device, guarded
// by a robust process-shared mutex; waiting sleeps on a futex, never spins.
//
// Crash safety: a client whose process died (even by SIGKILL) is reclaimed by whoever next
// looks — its memory is released and, if it held the device, the device passes on within one
// liveness-check period (kLivenessCheckMs). Nothing ever needs deleting by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/process.h"
#include "simgpu/device_config.h"

namespace simgpu {

struct SharedState;  // the layout in shared memory, private to shared_device.cc

struct ClientInfo {
  int32_t pid = 0;
  uint64_t memory_used = 0;  // bytes
  uint64_t busy_ns = 0;      // device time consumed so far
  uint64_t start_ns = 0;     // CLOCK_MONOTONIC when the client registered
};

constexpr int kMaxClients = 64;
constexpr int kLivenessCheckMs = 50;

class SharedDevice {
 public:
  // Maps (creating on first use) the segment for `spec`. Returns nullptr with *error set.
  static std::unique_ptr<SharedDevice> Open(const DeviceSpec& spec, std::string* error);
  // Removes the segment of `spec` (for tests that create throwaway devices).
  static void Unlink(const DeviceSpec& spec);
  ~SharedDevice();
  SharedDevice(const SharedDevice&) = delete;
  SharedDevice& operator=(const SharedDevice&) = delete;

  // Clients. Register returns a slot index, or -1 when kMaxClients are live.
  int Register();
  void Unregister(int slot);

  // Memory. Charge fails (returns false) when the device has not `bytes` free.
  bool Charge(int slot, uint64_t bytes);
  void Uncharge(int slot, uint64_t bytes);
  uint64_t total_memory() const;
  uint64_t UsedMemory();
  std::vector<ClientInfo> Clients();

  // Time slicing. A client with pending work calls Acquire (sleeps until it holds the device),
  // runs for at most one quantum, then calls EndQuantum, which passes the device to the next
  // waiting client in round-robin order if there is one. Release gives the device up when the
  // client has no more work. Busy time is credited with AddBusy.
  void Acquire(int slot);
  // Nanoseconds left of the holder's current quantum (0 when expired).
  uint64_t QuantumLeft(int slot);
  void EndQuantum(int slot);
  void Release(int slot);
  void AddBusy(int slot, uint64_t ns);

  uint32_t quantum_us() const { return quantum_us_; }

 private:
  SharedDevice(SharedState* state, size_t size, uint32_t quantum_us)
      : state_(state), size_(size), quantum_us_(quantum_us) {}

  SharedState* state_;
  size_t size_;
  uint32_t quantum_us_;
};

using vxpu::MonotonicNs;

}  // namespace simgpu
