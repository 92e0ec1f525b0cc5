// The state of one simulated device that every process using it shares: memory in use and
// the round-robin time slicing of the device between clients (one client = one process's use
// of one device). It lives in a POSIX shared-memory segment named after the device, guarded
// by a robust process-shared mutex; waiting sleeps on a futex, never spins.
//
// Crash safety: a client whose process died (even by SIGKILL) is reclaimed by whoever next
// looks — its memory is released and, if it held the device, the device passes on within one
// liveness-check period (kLivenessCheckMs). Nothing ever needs deleting by hand: the segment
// exists while the device has clients; the last one to leave removes it (a killed last client's
// segment goes with the next reader that finds it empty, e.g. simgpu's NVML).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/process.h"
#include "common/shared_segment.h"
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
  // The shared state of the device `spec`; nothing is mapped until a client registers or a
  // reader looks. Returns nullptr with *error set if `spec` cannot name a segment.
  static std::unique_ptr<SharedDevice> Open(const DeviceSpec& spec, std::string* error);
  // Removes the segment of `spec` (for tests that create throwaway devices).
  static void Unlink(const DeviceSpec& spec);
  ~SharedDevice();
  SharedDevice(const SharedDevice&) = delete;
  SharedDevice& operator=(const SharedDevice&) = delete;

  // Clients: one per process at most. Register joins the device (creating its segment if it
  // has none) and returns a slot index, or -1 with *error set (kMaxClients live, or no segment).
  // Unregister leaves it; the last client removes the segment. The calls below that take a
  // slot need a registered client.
  int Register(std::string* error);
  void Unregister(int slot);

  // Memory. Charge fails (returns false) when the device has not `bytes` free.
  bool Charge(int slot, uint64_t bytes);
  void Uncharge(int slot, uint64_t bytes);
  uint64_t total_memory() const;
  // What every client holds, and the clients: readable by anyone, registered or not.
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
  // The pid of the client holding the device, 0 when it is idle. A pure read: nothing is swept,
  // so a dead holder shows until a waiter notices its death (tests watch that hand-over).
  int32_t HolderPid();

  uint32_t quantum_us() const { return spec_.timeslice_us; }

 private:
  SharedDevice(DeviceSpec spec, std::string name) : spec_(std::move(spec)), name_(std::move(name)) {}

  // Runs `read` on the state with its lock held: this client's, or else the segment's if it
  // has one and it still has live clients (it is removed if not). False if there is none.
  // With `sweep`, dead clients are freed first (and a dead holder's device passed on).
  template <typename Read>
  bool ReadLocked(Read read, bool sweep = true);

  DeviceSpec spec_;
  std::string name_;
  std::optional<vxpu::SegmentMapping> mapping_;  // while registered
  SharedState* state_ = nullptr;                 // in mapping_
};

using vxpu::MonotonicNs;

}  // namespace simgpu
