// What the remote benchmark's two training steps share (train_step.cc on the driver API,
// train_step_rt.cu on the CUDA runtime): their options, the remote client's counters, and the
// one JSON line they print.
#pragma once

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace trainstep {

struct Options {
  int steps = 200;
  int kernels = 200;
  unsigned kernel_us = 25;
  size_t batch_kib = 1024;
  size_t result_kib = 4;
  size_t bandwidth_mib = 0;  // train_step.cc only
  size_t tcp_mib = 0;        // train_step.cc only
};

[[noreturn]] inline void Usage(const char* program, const std::string& problem) {
  std::fprintf(stderr, "%s: %s\n", program, problem.c_str());
  std::exit(2);
}

// The flags of the usage line at the top of each program; any other is a usage error.
inline Options Parse(int argc, char** argv, const char* program, bool copies_too) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage(program, "missing value for " + flag);
    char* end = nullptr;
    long value = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || value <= 0) Usage(program, flag + ": bad value \"" + argv[i] + "\"");
    if (flag == "--steps")
      o.steps = static_cast<int>(value);
    else if (flag == "--kernels")
      o.kernels = static_cast<int>(value);
    else if (flag == "--kernel-us")
      o.kernel_us = static_cast<unsigned>(value);
    else if (flag == "--batch-kib")
      o.batch_kib = static_cast<size_t>(value);
    else if (flag == "--result-kib")
      o.result_kib = static_cast<size_t>(value);
    else if (copies_too && flag == "--bandwidth-mib")
      o.bandwidth_mib = static_cast<size_t>(value);
    else if (copies_too && flag == "--tcp-baseline-mib")
      o.tcp_mib = static_cast<size_t>(value);
    else
      Usage(program, "unknown option " + flag);
  }
  return o;
}

// The remote client's counters (socket writes, calls that waited), when the libcuda.so.1 this
// process loaded (directly, or privately through cudart) is the remote client.
inline bool RemoteStats(unsigned long long* writes, unsigned long long* round_trips) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  using Stats = void (*)(unsigned long long*, unsigned long long*);
  auto stats = driver != nullptr ? reinterpret_cast<Stats>(dlsym(driver, "vxpu_remote_stats")) : nullptr;
  if (stats == nullptr) return false;
  stats(writes, round_trips);
  return true;
}

// Runs `step` o.steps times after 5 of warm-up (each returns false on a failure) and prints the
// JSON line: steps per second and, remotely, round trips and messages per step.
template <typename Step>
int TimeSteps(const Options& o, Step step) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 5; ++i)
    if (!step()) return 1;
  unsigned long long writes0 = 0, trips0 = 0, writes1 = 0, trips1 = 0;
  bool remote = RemoteStats(&writes0, &trips0);
  auto start = Clock::now();
  for (int i = 0; i < o.steps; ++i)
    if (!step()) return 1;
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  RemoteStats(&writes1, &trips1);
  std::printf("{\"steps\":%d,\"kernels_per_step\":%d,\"kernel_us\":%u,\"steps_per_second\":%.2f,\"step_ms\":%.3f",
              o.steps, o.kernels, o.kernel_us, o.steps / seconds, 1000.0 * seconds / o.steps);
  if (remote)
    std::printf(",\"round_trips_per_step\":%.2f,\"messages_per_step\":%.2f",
                static_cast<double>(trips1 - trips0) / o.steps, static_cast<double>(writes1 - writes0) / o.steps);
  std::printf("}\n");
  return 0;
}

}  // namespace trainstep
