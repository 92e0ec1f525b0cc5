// capture_probe: captures kernel launches into a CUDA graph, then launches one kernel plainly
// and the graph, and reports how long each step took as one JSON line. The compute tests run it
// under libvxpu.so while another tenant holds the device: capture executes nothing, so it must
// not wait for this process's turn, where the plain launch must. With --warm-up it first runs a
// kernel, so that it holds the device when it starts capturing (as PyTorch captures after its
// warm-up), and with --gap-ms the capture spans many leases: nothing the interposer does at a
// lease's end may break it.
//
//   capture_probe [--launches N] [--stream own|per-thread] [--mode global|thread-local|relaxed]
//                 [--gap-ms G] [--warm-up] [--go-when PATH]
// own (default): a stream of its own, through the exported entry points.
// per-thread: the per-thread default stream, as NULL, through the per-thread variants that
// cuGetProcAddress hands out (how a program built for per-thread default streams reaches them).
// --mode: the capture mode (default global, as torch.cuda.graph captures); --gap-ms: the host
// sleeps G ms after each captured launch (default 0); --go-when: once set up (context, module,
// stream), prints {"ready":true} and waits until PATH exists (30 s at most) before it captures,
// so that a test can time the capture against another tenant's lease without the start-up.
//
// Reports {"stream":...,"mode":...,"captured":N,"nodes":...,"capture_ms":...,"launch_ms":...,
// "graph_ms":...,"failures":[...]}: capture_ms is the whole capture of N launches of a 100 us kernel,
// launch_ms the plain launch call alone, graph_ms the graph's launch until it completed.
// Exit status: 0 when every call succeeded; 1 when one failed (each listed in "failures" and on
// stderr); 2 on bad usage.
#include <cuda.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "sim_kernels_ptx.h"

namespace {

std::vector<std::string> g_failures;

// Whether `result` of `what` succeeded; records the failure if not.
bool Must(CUresult result, const char* what) {
  if (result == CUDA_SUCCESS) return true;
  std::fprintf(stderr, "capture_probe: %s returned %d\n", what, static_cast<int>(result));
  g_failures.push_back(std::string(what) + " returned " + std::to_string(static_cast<int>(result)));
  return false;
}

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: capture_probe [--launches N] [--stream own|per-thread] [--mode global|thread-local|relaxed] "
               "[--gap-ms G] [--warm-up] [--go-when PATH]\n");
  std::exit(2);
}

struct Options {
  int launches = 50;
  std::string stream = "own";
  std::string mode = "global";
  int gap_ms = 0;
  bool warm_up = false;
  std::string go_when;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--warm-up") {
      o.warm_up = true;
      continue;
    }
    if (++i >= argc) Usage();
    std::string value = argv[i];
    if (flag == "--launches") {
      o.launches = std::atoi(value.c_str());
      if (o.launches <= 0) Usage();
    } else if (flag == "--stream") {
      o.stream = value;
      if (o.stream != "own" && o.stream != "per-thread") Usage();
    } else if (flag == "--mode") {
      o.mode = value;
      if (o.mode != "global" && o.mode != "thread-local" && o.mode != "relaxed") Usage();
    } else if (flag == "--go-when") {
      o.go_when = value;
    } else if (flag == "--gap-ms") {
      o.gap_ms = std::atoi(value.c_str());
      if (o.gap_ms < 0 || value.empty()) Usage();
    } else {
      Usage();
    }
  }
  return o;
}

CUstreamCaptureMode ModeOf(const std::string& mode) {
  if (mode == "thread-local") return CU_STREAM_CAPTURE_MODE_THREAD_LOCAL;
  if (mode == "relaxed") return CU_STREAM_CAPTURE_MODE_RELAXED;
  return CU_STREAM_CAPTURE_MODE_GLOBAL;
}

// The entry points the probe calls into its stream, from the exported symbols or, for the
// per-thread default stream, from cuGetProcAddress.
struct Api {
  decltype(&cuLaunchKernel) launch = &cuLaunchKernel;
  decltype(&cuStreamBeginCapture_v2) begin_capture = &cuStreamBeginCapture_v2;
  decltype(&cuStreamEndCapture) end_capture = &cuStreamEndCapture;
  decltype(&cuGraphLaunch) launch_graph = &cuGraphLaunch;
  decltype(&cuStreamSynchronize) synchronize = &cuStreamSynchronize;
};

template <typename Fn>
void PerThread(const char* name, Fn* fn) {
  void* f = nullptr;
  if (Must(cuGetProcAddress(name, &f, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, nullptr), name))
    *fn = reinterpret_cast<Fn>(f);
}

Api PerThreadApi() {
  Api api;
  PerThread("cuLaunchKernel", &api.launch);
  PerThread("cuStreamBeginCapture", &api.begin_capture);
  PerThread("cuStreamEndCapture", &api.end_capture);
  PerThread("cuGraphLaunch", &api.launch_graph);
  PerThread("cuStreamSynchronize", &api.synchronize);
  return api;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) out += (out.size() > 1 ? ",\"" : "\"") + item + "\"";
  return out + "]";
}

struct Timings {
  size_t nodes = 0;
  double capture_ms = -1, launch_ms = -1, graph_ms = -1;
};

// Captures `o.launches` launches of `spin` into `stream`, then launches `spin` and the graph.
Timings Run(const Options& o, const Api& api, CUfunction spin, CUstream stream) {
  Timings t;
  unsigned long long ns = 100000;
  void* params[] = {&ns};
  if (o.warm_up && !(Must(api.launch(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr), "warm-up launch") &&
                     Must(api.synchronize(stream), "cuStreamSynchronize")))
    return t;
  auto start = std::chrono::steady_clock::now();
  if (!Must(api.begin_capture(stream, ModeOf(o.mode)), "cuStreamBeginCapture")) return t;
  for (int i = 0; i < o.launches; ++i) {
    Must(api.launch(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr), "captured launch");
    if (o.gap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.gap_ms));
  }
  CUgraph graph = nullptr;
  if (!Must(api.end_capture(stream, &graph), "cuStreamEndCapture")) return t;
  t.capture_ms = MillisSince(start);
  Must(cuGraphGetNodes(graph, nullptr, &t.nodes), "cuGraphGetNodes");
  CUgraphExec exec = nullptr;
  if (!Must(cuGraphInstantiate(&exec, graph, 0), "cuGraphInstantiate")) return t;

  start = std::chrono::steady_clock::now();
  Must(api.launch(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr), "cuLaunchKernel");
  t.launch_ms = MillisSince(start);
  Must(api.synchronize(stream), "cuStreamSynchronize");

  start = std::chrono::steady_clock::now();
  Must(api.launch_graph(exec, stream), "cuGraphLaunch");
  Must(api.synchronize(stream), "cuStreamSynchronize");
  t.graph_ms = MillisSince(start);
  Must(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
  Must(cuGraphDestroy(graph), "cuGraphDestroy");
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  CUdevice device = 0;
  CUcontext ctx = nullptr;
  CUmodule module = nullptr;
  CUfunction spin = nullptr;
  CUstream stream = nullptr;  // the per-thread default stream, for the per-thread variants
  Timings t;
  if (Must(cuInit(0), "cuInit") && Must(cuDeviceGet(&device, 0), "cuDeviceGet") &&
      Must(cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain") &&
      Must(cuCtxSetCurrent(ctx), "cuCtxSetCurrent") &&
      Must(cuModuleLoadData(&module, kSimKernelsPtx), "cuModuleLoadData") &&
      Must(cuModuleGetFunction(&spin, module, "vxpu_spin_ns"), "cuModuleGetFunction") &&
      (o.stream == "per-thread" || Must(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"))) {
    if (!o.go_when.empty()) {
      std::printf("{\"ready\":true}\n");
      std::fflush(stdout);
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (access(o.go_when.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    t = Run(o, o.stream == "per-thread" ? PerThreadApi() : Api{}, spin, stream);
    if (stream != nullptr) Must(cuStreamDestroy(stream), "cuStreamDestroy");
    Must(cuModuleUnload(module), "cuModuleUnload");
  }
  std::printf(
      "{\"stream\":\"%s\",\"mode\":\"%s\",\"captured\":%d,\"nodes\":%zu,\"capture_ms\":%.3f,\"launch_ms\":%.3f,"
      "\"graph_ms\":%.3f,\"failures\":%s}\n",
      o.stream.c_str(), o.mode.c_str(), o.launches, t.nodes, t.capture_ms, t.launch_ms, t.graph_ms,
      JsonList(g_failures).c_str());
  return g_failures.empty() ? 0 : 1;
}
