#include "cli/run.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/paths.h"
#include "common/units.h"
#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

constexpr int kVxpuError = 125;
constexpr int kCannotRun = 127;

int Fail(const std::string& message) {
  std::fprintf(stderr, "vxpu run: %s\n", message.c_str());
  return kVxpuError;
}

std::string Prepended(const char* variable, const std::string& entry) {
  const char* current = std::getenv(variable);
  return current != nullptr && *current != '\0' ? entry + ":" + current : entry;
}

// Sets `variable` to `value`, or removes it when `value` is empty (never inherit a stale one).
void SetOrClear(const char* variable, const std::string& value) {
  if (value.empty()) {
    unsetenv(variable);
  } else {
    setenv(variable, value.c_str(), 1);
  }
}

// Checks the compute options; on success *limit is the ceiling to pass on ("" for none).
bool ValidCompute(const RunOptions& o, std::string* limit, std::string* error) {
  *limit = o.strict ? o.compute : o.compute_limit;
  if (o.priority != "normal" && o.priority != "high") {
    *error = "--priority: bad priority \"" + o.priority + "\" (want normal or high)";
    return false;
  }
  if (o.compute.empty()) {
    if (!o.compute_limit.empty() || o.strict || o.priority != "normal")
      *error = "--compute-limit, --strict and --priority need --compute";
    return error->empty();
  }
  if (o.strict && !o.compute_limit.empty()) {
    *error = "--strict and --compute-limit contradict each other (--strict means limit = --compute)";
    return false;
  }
  auto request = ParseSharePermille(o.compute, error);
  auto step = ParseSharePermille(o.compute_step, error);
  if (!request || !step) return false;
  if (*request % *step != 0) {
    *error = "--compute " + o.compute + " is not a multiple of the " + o.compute_step +
             "% step (--compute-step sets a finer one)";
    return false;
  }
  if (limit->empty()) return true;
  auto ceiling = ParseSharePermille(*limit, error);
  if (!ceiling) return false;
  if (*ceiling < *request) *error = "--compute-limit " + *limit + " is below --compute " + o.compute;
  return error->empty();
}

}  // namespace

int RunUnderSlice(const RunOptions& options) {
  std::string error;
  if (options.command.empty()) return Fail("no command given (vxpu run --memory Q -- CMD ARGS...)");
  if (options.memory.empty() && options.compute.empty()) return Fail("give --memory, --compute or both");
  if (!options.memory.empty() && !ParseMemoryQuota(options.memory, UINT64_MAX, &error))
    return Fail("--memory: " + error);
  std::string compute_limit;
  if (!ValidCompute(options, &compute_limit, &error)) return Fail(error);
  std::string slice = options.name.empty() ? "run-" + std::to_string(getpid()) : options.name;
  if (!SliceLedger::ValidSliceName(slice))
    return Fail("--name: bad slice name \"" + slice + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
  const std::string interposer = InterposerPath();
  if (!FileExists(interposer)) return Fail("missing " + interposer + " (build the whole project)");
  if (options.sim) {
    std::string simgpu = SimgpuDir();
    if (!FileExists(simgpu + "/libcuda.so.1")) return Fail("missing simgpu in " + simgpu);
    setenv("LD_LIBRARY_PATH", Prepended("LD_LIBRARY_PATH", simgpu).c_str(), 1);
  } else if (!RealDriverPresent()) {
    return Fail("no NVIDIA driver found (libcuda.so.1); add --sim to run on the simulated GPU");
  }
  if (!options.device.empty()) setenv("CUDA_VISIBLE_DEVICES", options.device.c_str(), 1);
  setenv("LD_PRELOAD", Prepended("LD_PRELOAD", interposer).c_str(), 1);
  SetOrClear("VXPU_MEMORY", options.memory);
  SetOrClear("VXPU_COMPUTE", options.compute);
  SetOrClear("VXPU_COMPUTE_LIMIT", compute_limit);
  SetOrClear("VXPU_PRIORITY", options.compute.empty() ? "" : options.priority);
  setenv("VXPU_SLICE", slice.c_str(), 1);

  std::vector<char*> argv;
  for (const std::string& arg : options.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::fprintf(stderr, "vxpu run: cannot run %s: %s\n", argv[0], std::strerror(errno));
  return kCannotRun;
}

}  // namespace vxpu
