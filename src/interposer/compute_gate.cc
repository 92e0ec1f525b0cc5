#include "interposer/compute_gate.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "interposer/real_driver.h"
#include "interposer/slice_config.h"

namespace vxpu::interposer {
namespace {

constexpr int kMaxDevices = 64;

struct Config {
  bool enabled = false;
  ComputeTerms terms;
  uint64_t lease_ns = 10000000;
};

Config& TheConfig() {
  static Config* config = new Config;  // never destroyed: hooks may run during exit
  return *config;
}

// One device's gate in this process.
struct Gate {
  const GateFamily* family = nullptr;
  std::unique_ptr<ComputeArbiter> arbiter;
  std::atomic<bool> holding{false};
  std::atomic<uint64_t> lease_end_ns{0};
  std::atomic<uint64_t> last_launch_ns{0};
  std::mutex mu;  // the slow path: acquiring, ending and renewing leases
  std::condition_variable granted;
  uint64_t lease_start_ns = 0;
  uint64_t found_empty_ns = 0;  // when a drain last found its queue empty (stale once it launches again)
  std::vector<void*> contexts;  // those this process launched in on the device
  bool keeper_started = false;
};

std::atomic<Gate*> g_gates[kGateFamilies][kMaxDevices];
std::mutex g_open_mu;

// Stream captures in progress in this process (compute_gate.h), and the lock that keeps a drain
// from starting while one begins: drains hold it shared, a capture beginning holds it alone
// (writers first: a capture waits only for the drains already under way). Neither is ever
// destroyed: hooks may run during exit.
std::atomic<int> g_captures{0};
pthread_rwlock_t g_drain_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

bool CaptureInProgress() { return g_captures.load(std::memory_order_acquire) > 0; }

// While it lives, no capture begins.
struct NoCaptureBegins {
  NoCaptureBegins() { pthread_rwlock_rdlock(&g_drain_lock); }
  ~NoCaptureBegins() { pthread_rwlock_unlock(&g_drain_lock); }
  NoCaptureBegins(const NoCaptureBegins&) = delete;
  NoCaptureBegins& operator=(const NoCaptureBegins&) = delete;
};

// A holder whose queue on the device ran empty and that then launched nothing for this long is
// idle: it gives the device up, and wants it again only when it next launches. Work still in
// flight never counts as idle, however long the host thread takes to launch more (a busy CPU).
constexpr uint64_t kIdleNs = 5000000;
uint64_t IdleNs() { return std::min(kIdleNs, TheConfig().lease_ns); }

// Waits for everything this process submitted to the device to finish. Returns false, having
// waited for nothing, while the process has a stream capture in progress: cuCtxSynchronize
// would fail then, and break the capture.
bool Drain(Gate* g) {
  NoCaptureBegins lock;
  if (CaptureInProgress()) return false;
  for (void* ctx : g->contexts) g->family->drain_context(ctx);
  return true;
}

bool DescribeCudaDevice(int device, std::string* uuid, uint64_t* total) {
  return DescribeDevice(static_cast<CUdevice>(device), uuid, total);
}

void DrainCudaContext(void* ctx) {
  static const auto push = RealSymbolAs<decltype(&cuCtxPushCurrent_v2)>("cuCtxPushCurrent_v2");
  static const auto pop = RealSymbolAs<decltype(&cuCtxPopCurrent_v2)>("cuCtxPopCurrent_v2");
  static const auto sync = RealSymbolAs<decltype(&cuCtxSynchronize)>("cuCtxSynchronize");
  if (push == nullptr || pop == nullptr || sync == nullptr || push(static_cast<CUcontext>(ctx)) != CUDA_SUCCESS) return;
  sync();
  CUcontext popped = nullptr;
  pop(&popped);
}

// CUDA's launches look their device up themselves (AwaitComputeTurn): never asked.
bool NoCurrentDevice(int*) { return false; }

const GateFamily kCudaFamily = {0, "device", DescribeCudaDevice, NoCurrentDevice, DrainCudaContext};

// The lease is charged from here, when this process takes it up, not from the grant: the wake-up
// in between (long on a busy CPU) leaves the device idle but gives this process nothing.
void StartLeaseLocked(Gate* g) {
  uint64_t start_ns = MonotonicNs();
  g->lease_start_ns = start_ns;
  g->lease_end_ns.store(start_ns + TheConfig().lease_ns, std::memory_order_relaxed);
  g->last_launch_ns.store(start_ns, std::memory_order_relaxed);
  g->holding.store(true, std::memory_order_release);
  g->granted.notify_all();
}

// Expects g->mu held and the lease held. Charges the lease up to when its work drained, or up
// to now when a capture in progress kept it from draining.
void EndLeaseLocked(Gate* g, bool more) {
  g->holding.store(false, std::memory_order_release);
  Drain(g);
  uint64_t now = MonotonicNs();
  if (g->arbiter->Finish(now - g->lease_start_ns, more)) StartLeaseLocked(g);
}

// Expects g->mu held and the lease over (expired or a yield requested), or not held. Keeps the
// lease without draining when the policy picks this slice again anyway (a drain there would
// idle the device while the process refills its queue); otherwise hands it on and waits for the
// slice's next turn.
void TakeNextTurnLocked(Gate* g) {
  bool holding = g->holding.load(std::memory_order_acquire);
  uint64_t now = MonotonicNs();
  if (holding && g->arbiter->Renew(now - g->lease_start_ns)) return StartLeaseLocked(g);
  if (holding) EndLeaseLocked(g, true);
  if (!g->holding.load(std::memory_order_acquire)) {
    g->arbiter->Acquire();
    StartLeaseLocked(g);
  }
}

// Whether the holder is idle (see kIdleNs). Once it launched nothing for kIdleNs, drains its queue
// (keeping the lease: launches go on meanwhile). A drain with nothing to wait for means the queue
// had run empty already; one that waited starts the count again from when the queue ran empty.
// While the process captures it is idle (compute_gate.h): its queue cannot be drained, and what
// it captures runs nothing.
bool QuietLocked(const Gate* g, uint64_t now) {
  return now - g->last_launch_ns.load(std::memory_order_acquire) > IdleNs();
}

bool IdleLocked(Gate* g, uint64_t now) {
  constexpr uint64_t kNothingInFlightNs = 200000;  // what a drain of an empty queue may take
  if (CaptureInProgress()) return true;
  if (!QuietLocked(g, now)) return false;
  uint64_t last_launch = g->last_launch_ns.load(std::memory_order_acquire);
  if (g->found_empty_ns > last_launch) return now - g->found_empty_ns > IdleNs();
  if (!Drain(g)) return true;  // a capture began meanwhile
  uint64_t drained = MonotonicNs();
  if (g->last_launch_ns.load(std::memory_order_acquire) != last_launch) return false;
  if (drained - now < kNothingInFlightNs) return true;
  g->found_empty_ns = drained;
  return false;
}

// What the keeper does at one wake-up while the process holds the lease.
void TendLeaseLocked(Gate* g) {
  uint64_t now = MonotonicNs();
  bool over = now >= g->lease_end_ns.load(std::memory_order_relaxed) || g->arbiter->YieldRequested();
  if (!over && (!QuietLocked(g, now) || !g->arbiter->OthersWaiting())) return;  // cheap test first
  if (IdleLocked(g, now)) return EndLeaseLocked(g, false);
  if (over) TakeNextTurnLocked(g);
}

void* KeepLeases(void* arg) {
  auto* g = static_cast<Gate*>(arg);
  for (;;) {
    uint64_t wake_in_ns;
    {
      std::unique_lock<std::mutex> lock(g->mu);
      g->granted.wait(lock, [g] { return g->holding.load(std::memory_order_acquire); });
      TendLeaseLocked(g);
      uint64_t now = MonotonicNs();
      uint64_t end = g->lease_end_ns.load(std::memory_order_relaxed);
      wake_in_ns = std::min(end > now ? end - now : 0, IdleNs());
    }
    if (wake_in_ns > 0) g->arbiter->WaitForChange(wake_in_ns);  // woken early by a yield request
  }
  return nullptr;
}

void StartKeeperLocked(Gate* g) {
  if (g->keeper_started) return;
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  g->keeper_started = pthread_create(&thread, &attr, KeepLeases, g) == 0;
  pthread_attr_destroy(&attr);
}

// The gate of `device` of `family`, joining its arbiter on first use; nullptr (and one line) if
// the slice's terms cannot hold there.
Gate* GateFor(const GateFamily& family, int device) {
  if (device < 0 || device >= kMaxDevices || family.index < 0 || family.index >= kGateFamilies) return nullptr;
  std::atomic<Gate*>& slot = g_gates[family.index][device];
  if (Gate* g = slot.load(std::memory_order_acquire)) return g;
  std::lock_guard<std::mutex> lock(g_open_mu);
  if (Gate* g = slot.load(std::memory_order_acquire)) return g;
  std::string uuid, error;
  uint64_t total = 0;
  auto gate = std::make_unique<Gate>();
  gate->family = &family;
  if (!family.describe(device, &uuid, &total)) {
    error = "cannot identify the device";
  } else {
    gate->arbiter = ComputeArbiter::Open(uuid, TheConfig().terms, TheConfig().lease_ns, &error);
  }
  if (gate->arbiter == nullptr) {
    std::fprintf(stderr, "vxpu: slice %s on %s %d: %s; its launches are refused\n", TheConfig().terms.slice.c_str(),
                 family.device_word, device, error.c_str());
    return nullptr;
  }
  slot.store(gate.get(), std::memory_order_release);
  return gate.release();  // lives as long as the process: the keeper thread uses it
}

// The gate of the context this thread last launched in: a launch in the same context again
// finds it without asking the driver for the device.
struct ContextGate {
  void* ctx = nullptr;
  Gate* gate = nullptr;
};
thread_local ContextGate t_last;

// The gate of `ctx` (on `device` of `family`), noting the context for drains: every context a
// process launches in is noted at its first launch from each thread, so no work escapes a drain.
Gate* GateOfContext(const GateFamily& family, void* ctx, int device) {
  Gate* g = GateFor(family, device);
  if (g == nullptr) return nullptr;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    if (std::find(g->contexts.begin(), g->contexts.end(), ctx) == g->contexts.end()) g->contexts.push_back(ctx);
  }
  t_last = ContextGate{ctx, g};
  return g;
}

bool MayLaunchNow(Gate* g) {
  if (!g->holding.load(std::memory_order_acquire)) return false;
  uint64_t now = MonotonicNs();
  if (now >= g->lease_end_ns.load(std::memory_order_relaxed) || g->arbiter->YieldRequested()) return false;
  g->last_launch_ns.store(now, std::memory_order_relaxed);
  return true;
}

void AwaitTurnSlowly(Gate* g) {
  std::lock_guard<std::mutex> lock(g->mu);
  if (MayLaunchNow(g)) return;  // another thread renewed the lease meanwhile
  TakeNextTurnLocked(g);
  StartKeeperLocked(g);
}

uint32_t ShareFromEnv(const char* name, const char* fallback) {
  const char* text = std::getenv(name);
  std::string error;
  auto permille = ParseSharePermille(text != nullptr ? text : fallback, &error);
  if (!permille) RefuseToRun(std::string(name) + ": " + error);
  return *permille;
}

// Gives the device up and leaves its arbiter (at exit: never waits).
void LeaveArbiter(Gate* g) {
  if (g == nullptr || g->arbiter == nullptr) return;
  std::unique_lock<std::mutex> lock(g->mu, std::try_to_lock);
  if (lock.owns_lock() && g->holding.load(std::memory_order_acquire)) {
    g->holding.store(false, std::memory_order_release);
    g->arbiter->Finish(MonotonicNs() - g->lease_start_ns, false);
  }
  g->arbiter->Leave();  // the device's arbiter goes with its last tenant
}

}  // namespace

bool ComputeEnabled() { return TheConfig().enabled; }

void BeforeCaptureBegins() { pthread_rwlock_wrlock(&g_drain_lock); }

void AfterCaptureBegins(bool began) {
  if (began) g_captures.fetch_add(1, std::memory_order_release);
  pthread_rwlock_unlock(&g_drain_lock);
}

void AfterCaptureEnds() {
  // Never below zero, should a capture end that began where no hook saw it.
  int n = g_captures.load(std::memory_order_relaxed);
  while (n > 0 && !g_captures.compare_exchange_weak(n, n - 1, std::memory_order_release)) {
  }
}

bool StreamCapturing(CUstream stream, bool per_thread) {
  static const auto query = RealSymbolAs<decltype(&cuStreamIsCapturing)>("cuStreamIsCapturing");
  // NULL in a per-thread launch is the per-thread default stream: asked by its own handle, as a
  // driver need not export cuStreamIsCapturing_ptsz (simgpu does not).
  if (per_thread && stream == nullptr) stream = CU_STREAM_PER_THREAD;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  return query != nullptr && query(stream, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

CUresult AwaitComputeTurn(CUstream stream, bool per_thread) {
  static const auto get_current = RealSymbolAs<decltype(&cuCtxGetCurrent)>("cuCtxGetCurrent");
  CUcontext ctx = nullptr;
  if (get_current == nullptr || get_current(&ctx) != CUDA_SUCCESS || ctx == nullptr)
    return CUDA_SUCCESS;  // the driver will say
  Gate* g = t_last.gate;
  if (ctx != t_last.ctx) {
    static const auto get_device = RealSymbolAs<decltype(&cuCtxGetDevice)>("cuCtxGetDevice");
    CUdevice device = 0;
    if (get_device == nullptr || get_device(&device) != CUDA_SUCCESS) return CUDA_SUCCESS;  // the driver will say
    g = GateOfContext(kCudaFamily, ctx, device);
  }
  if (g == nullptr) return CUDA_ERROR_NOT_PERMITTED;
  if (MayLaunchNow(g)) return CUDA_SUCCESS;
  if (StreamCapturing(stream, per_thread)) return CUDA_SUCCESS;  // recorded into a graph, not run
  AwaitTurnSlowly(g);
  return CUDA_SUCCESS;
}

bool AwaitTurnOn(const GateFamily& family, void* ctx) {
  Gate* g = t_last.gate;
  if (ctx != t_last.ctx || g == nullptr || g->family != &family) {
    int device = -1;
    if (!family.current_device(&device)) return true;  // the runtime will say
    g = GateOfContext(family, ctx, device);
  }
  if (g == nullptr) return false;
  if (!MayLaunchNow(g)) AwaitTurnSlowly(g);
  return true;
}

void LoadComputeConfig() {
  Config& config = TheConfig();
  if (std::getenv("VXPU_COMPUTE") == nullptr) {
    for (const char* other : {"VXPU_COMPUTE_LIMIT", "VXPU_PRIORITY", "VXPU_LEASE_MS"}) {
      if (std::getenv(other) != nullptr) RefuseToRun(std::string(other) + " is set but VXPU_COMPUTE is not");
    }
    return;
  }
  config.terms.request = ShareFromEnv("VXPU_COMPUTE", "");
  config.terms.limit = ShareFromEnv("VXPU_COMPUTE_LIMIT", "100");
  if (config.terms.limit < config.terms.request)
    RefuseToRun("VXPU_COMPUTE_LIMIT=" + std::string(std::getenv("VXPU_COMPUTE_LIMIT")) +
                " is below VXPU_COMPUTE=" + std::getenv("VXPU_COMPUTE"));
  const char* priority = std::getenv("VXPU_PRIORITY");
  std::string p = priority != nullptr ? priority : "normal";
  if (p != "normal" && p != "high") RefuseToRun("VXPU_PRIORITY: bad priority \"" + p + "\" (want normal or high)");
  config.terms.high_priority = p == "high";
  if (const char* lease = std::getenv("VXPU_LEASE_MS")) {
    char* end = nullptr;
    long ms = std::strtol(lease, &end, 10);
    if (end == lease || *end != '\0' || ms < 1 || ms > 1000)
      RefuseToRun("VXPU_LEASE_MS: bad lease \"" + std::string(lease) + "\" (want 1-1000 milliseconds)");
    config.lease_ns = static_cast<uint64_t>(ms) * 1000000;
  }
  config.terms.slice = SliceNameFromEnv();
  config.enabled = true;
}

void LeaveComputeArbiters() {
  for (auto& family : g_gates) {
    for (auto& slot : family) LeaveArbiter(slot.load(std::memory_order_acquire));
  }
}

}  // namespace vxpu::interposer
