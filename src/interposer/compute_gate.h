// The compute side of a vXPU inside one process. Kernel and graph launches on a device wait
// for this process's turn, a lease from the device's ComputeArbiter; while the process holds
// one they pass straight through (cuCtxGetCurrent, atomic loads and a vDSO clock read:
// no syscall, no lock).
// A keeper thread per device ends each lease on time: it renews it if nobody else may run, or
// drains the work the process submitted, reports the device time used (from when the process
// took the lease up) and passes the device on, then waits for the next turn on the process's
// behalf. A holder whose work ran out and that launches nothing more gives the device up.
// Launches into a stream being captured do not execute and are never held back, and while the
// process has a capture in progress the gate makes no call that would break it (see below).
//
// Configured from the environment that `vxpu run` sets:
//   VXPU_COMPUTE        guaranteed share, percent of one device ("30", "12.5"). Unset: no gate.
//   VXPU_COMPUTE_LIMIT  ceiling, percent, at least VXPU_COMPUTE (default 100; equal: strict).
//   VXPU_PRIORITY       "normal" (default) or "high": gets the device first while within its share.
//   VXPU_LEASE_MS       lease length in milliseconds, 1-1000 (default 10).
//   VXPU_SLICE          slice name, shared with the memory quota.
// A malformed configuration stops the process at load with one line.
#pragma once

#include <cstdint>
#include <string>

#include "interposer/cuda_api.h"

namespace vxpu::interposer {

bool ComputeEnabled();

// Waits until the current context's device may take a launch into `stream` from this
// process. Returns CUDA_SUCCESS to go ahead, or the error the launch must fail with.
// `per_thread` tells whether a null stream means the per-thread default stream.
CUresult AwaitComputeTurn(CUstream stream, bool per_thread);

// Another vendor's devices take turns the same way (ascend_hooks.cc). A family names how its
// devices are identified (UUID and memory of ordinal `device`), which device the calling thread's
// current context is on, and how one of its contexts is drained (waits for what the process
// submitted in it, from the keeper's thread).
constexpr int kGateFamilies = 2;  // index 0 is CUDA's
struct GateFamily {
  int index;                // 1..kGateFamilies-1
  const char* device_word;  // how messages name a device ("NPU")
  bool (*describe)(int device, std::string* uuid, uint64_t* total_bytes);
  bool (*current_device)(int* device);
  void (*drain_context)(void* ctx);
};

// Waits until this process may launch into `ctx`, the calling thread's current context of
// `family`. False when the slice's terms cannot hold on its device (one line said): the launch
// must be refused. The device is asked for only when the thread launches in another context
// than last time, as CUDA's launches do.
bool AwaitTurnOn(const GateFamily& family, void* ctx);

// Reads the configuration; on a bad one prints one line and exits. Called at load.
void LoadComputeConfig();

// Gives up every device this process holds (at exit).
void LeaveComputeArbiters();

// Stream capture (capture_hooks.cc). A driver refuses cuCtxSynchronize while a stream of the
// context captures, and invalidates the capture. So while this process has a capture in
// progress the gate never drains: a lease ends without waiting for the work in flight (and is
// charged its wall time), and the holder is idle whenever the keeper checks on it (its captured
// launches run nothing; its next launch that is not captured asks for the device again).
//
// BeforeCaptureBegins() and AfterCaptureBegins() bracket each call that may begin a capture: no
// drain runs in between (the first waits for one in progress to end), and from the second on the
// capture counts as in progress if `began`. AfterCaptureEnds() says that the stream of a counted
// capture left capture mode.
void BeforeCaptureBegins();
void AfterCaptureBegins(bool began);
void AfterCaptureEnds();

// Whether `stream` is in capture mode (capturing, or invalidated and not yet ended).
// `per_thread` tells whether a null stream means the per-thread default stream.
bool StreamCapturing(CUstream stream, bool per_thread);

}  // namespace vxpu::interposer
