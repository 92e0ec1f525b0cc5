#include "cli/run.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "agent_api/agent_beacon.h"
#include "agent_api/capacity.h"
#include "agent_api/slice.h"
#include "backend/device_list.h"
#include "backend/paths.h"
#include "cli/agent_link.h"
#include "cli/daemonless_slices.h"
#include "common/process.h"
#include "common/state_dir.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

constexpr int kCannotExecute = 126;
constexpr int kNotFound = 127;
constexpr uint32_t kWholeDevice = 1000;  // permille

int Fail(const std::string& message) {
  std::fprintf(stderr, "vxpu run: %s\n", message.c_str());
  return kRunError;
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

std::string Percent(uint32_t permille) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.1f%%", permille / 10.0);
  return text;
}

// `flag`'s share in permille; nullopt with *error naming the flag and the value.
std::optional<uint32_t> Share(const char* flag, const std::string& text, std::string* error) {
  auto permille = ParseSharePermille(text, error);
  if (!permille)
    *error = std::string(flag) + ": bad value \"" + text + "\" (want a percentage of one device, 0.1 to 100)";
  return permille;
}

// The options that only mean something with --compute, as given without it ("" if none).
std::string ComputeOnlyOptionsGiven(const RunOptions& o) {
  std::string given;
  auto add = [&given](bool present, const char* flag) {
    if (present) given += (given.empty() ? "" : ", ") + std::string(flag);
  };
  add(!o.compute_limit.empty(), "--compute-limit");
  add(o.strict, "--strict");
  add(o.priority != "normal", "--priority");
  add(o.compute_step != "10", "--compute-step");
  return given;
}

// Checks the compute options; on success *terms holds the slice's terms (request 0: no compute
// slice) and *limit the ceiling to pass on ("" for none).
bool ValidCompute(const RunOptions& o, ComputeTerms* terms, std::string* limit, std::string* error) {
  *limit = o.strict ? o.compute : o.compute_limit;
  if (o.priority != "normal" && o.priority != "high") {
    *error = "--priority: bad value \"" + o.priority + "\" (want normal or high)";
    return false;
  }
  if (o.compute.empty()) {
    std::string given = ComputeOnlyOptionsGiven(o);
    if (!given.empty()) *error = given + (given.find(',') == std::string::npos ? " needs" : " need") + " --compute";
    return error->empty();
  }
  if (o.strict && !o.compute_limit.empty()) {
    *error = "--strict and --compute-limit contradict each other (--strict means limit = --compute)";
    return false;
  }
  auto request = Share("--compute", o.compute, error);
  auto step = request ? Share("--compute-step", o.compute_step, error) : std::nullopt;
  if (!request || !step) return false;
  if (*request % *step != 0) {
    *error = "--compute " + o.compute + " is not a multiple of the " + o.compute_step +
             "% step (--compute-step sets a finer one)";
    return false;
  }
  terms->request = *request;
  terms->high_priority = o.priority == "high";
  if (limit->empty()) return true;
  auto ceiling = Share("--compute-limit", *limit, error);
  if (!ceiling) return false;
  if (*ceiling < *request) *error = "--compute-limit " + *limit + " is below --compute " + o.compute;
  terms->limit = *ceiling;
  return error->empty();
}

std::string Named(const GpuDevice& d) { return "device " + std::to_string(d.index) + " (" + d.uuid + ")"; }

// The memory quota must fit each device the command may use, and agree with the slice's
// running processes there.
bool QuotaFits(const std::string& quota, const std::string& slice, const std::vector<GpuDevice>& devices,
               const std::vector<SliceSummary>& running, std::string* error) {
  for (const GpuDevice& d : devices) {
    auto bytes = ParseMemoryQuota(quota, d.memory_total, error);
    if (!bytes) {
      *error = "--memory: " + *error + " (" + Named(d) + (devices.size() > 1 ? "; --device picks devices)" : ")");
      return false;
    }
    for (const SliceSummary& s : running) {
      if (s.slice == slice && s.device == d.uuid && s.limit != *bytes) {
        *error = "slice " + slice + " already runs on " + Named(d) + " with " + FormatBytes(s.limit) +
                 " of memory, not " + FormatBytes(*bytes) + " (--name picks another slice)";
        return false;
      }
    }
  }
  return true;
}

// The compute guarantee must fit beside the running slices' on each device the command may
// use (the arbiter refuses it at the first launch otherwise, where the workload cannot say why).
bool ComputeFits(const ComputeTerms& terms, const std::vector<GpuDevice>& devices,
                 const std::vector<ComputeSliceUsage>& running, std::string* error) {
  for (const GpuDevice& d : devices) {
    uint32_t reserved = 0;
    for (const ComputeSliceUsage& s : running) {
      if (s.device != d.uuid) continue;
      if (s.slice != terms.slice) {
        reserved += s.terms.request;
      } else if (s.terms.request != terms.request || s.terms.limit != terms.limit ||
                 s.terms.high_priority != terms.high_priority) {
        *error = "slice " + terms.slice + " already runs on " + Named(d) + " with compute " + Percent(s.terms.request) +
                 ", limit " + Percent(s.terms.limit) + ", " + (s.terms.high_priority ? "high" : "normal") +
                 " priority (--name picks another slice)";
        return false;
      }
    }
    if (reserved + terms.request > kWholeDevice) {
      *error = "--compute " + Percent(terms.request) + ": " + Named(d) + " has " + Percent(reserved) +
               " of its compute guaranteed to running slices; " + Percent(kWholeDevice - reserved) + " is left";
      return false;
    }
  }
  return true;
}

// The devices the command will see: those --device names, or all of them.
std::optional<std::vector<GpuDevice>> DevicesToUse(const RunOptions& o, std::string* error) {
  std::string why;
  auto all = ListDevices(o.sim, &why);
  if (!all) {
    *error = "cannot list the devices to check the slice against: " + why;
    return std::nullopt;
  }
  if (o.device.empty()) return all;
  auto chosen = SelectDevices(*all, o.device, &why);
  if (!chosen) *error = "--device: " + why;
  return chosen;
}

// The slice as vxpud registers it, on each device the command may use. A percentage quota is a
// size per device: devices of different sizes give different ones, so *sizes holds each.
SliceSpec SpecOf(const RunOptions& o, const ComputeTerms& terms, const std::vector<GpuDevice>& devices,
                 std::vector<uint64_t>* sizes) {
  SliceSpec spec;
  spec.name = terms.slice;
  for (const GpuDevice& d : devices) {
    spec.devices.push_back(d.uuid);
    std::string ignored;
    if (!o.memory.empty()) sizes->push_back(ParseMemoryQuota(o.memory, d.memory_total, &ignored).value_or(0));
  }
  if (!sizes->empty()) spec.memory_limit = sizes->front();
  if (terms.request > 0) spec.compute = SliceCompute{terms.request, terms.limit, terms.high_priority};
  spec.owner.pid = getpid();  // the command becomes this process
  return spec;
}

// Registers the slice with vxpud, which checks it against every slice it knows.
bool Register(AgentClient* agent, const SliceSpec& spec, const std::vector<uint64_t>& sizes, std::string* error) {
  for (uint64_t size : sizes) {
    if (size != sizes.front()) {
      *error = "--memory: a percentage is a different size on each of these devices; give a size (4GiB) or --device";
      return false;
    }
  }
  if (agent->Post("/v1/slices", SliceRequestJson(spec), error)) return true;
  *error = "vxpud (" + agent->socket() + "): " + *error;
  return false;
}

// Without vxpud: the slice must fit beside the slices `vxpu run` set up here (started or not)
// and those running, each counted at its quota plus room for its contexts, on each device; then
// it is recorded for the next one (daemonless_slices.h), all under one lock.
bool AdmitDaemonless(SliceSpec spec, const std::vector<uint64_t>& sizes, const std::vector<GpuDevice>& devices,
                     const std::vector<SliceSummary>& memory_slices,
                     const std::vector<ComputeSliceUsage>& compute_slices, std::string* error) {
  auto reserve = ContextReserve(error);
  if (!reserve) return false;
  std::unique_ptr<DaemonlessSlices> lock = DaemonlessSlices::Lock(error);
  std::vector<SliceRecord> records;
  if (!lock || !DaemonlessSlices::List(&records, error)) return false;
  std::vector<SliceRecord> all;
  for (const SliceView& v : JoinSlices(records, memory_slices, compute_slices, 0)) all.push_back(v.record);
  std::vector<DeviceView> views = DeviceViews(devices, all, *reserve);
  for (size_t i = 0; i < sizes.size(); ++i) {
    SliceSpec on_one = spec;
    on_one.devices = {spec.devices[i]};
    on_one.memory_limit = sizes[i];
    if (auto refusal = RefuseSlice(on_one, all, *reserve, views)) {
      *error = *refusal + " (VXPU_CONTEXT_RESERVE sets the room kept for contexts)";
      return false;
    }
  }
  // A percentage is a size per device: the record keeps the smallest, which fits on each.
  if (!sizes.empty()) spec.memory_limit = *std::min_element(sizes.begin(), sizes.end());
  spec.owner.pid_start = ThisProcessStartTicks();
  spec.owner.uid = getuid();
  size_t at = 0;
  if (AdmitSlice(spec, std::time(nullptr), *reserve, views, &records, &at, error) == Admission::kRefused) return false;
  return lock->Store(records, error);
}

// Daemonless on purpose (VXPU_AGENT_SOCKET=none) beside an agent that runs: say it will not count
// this slice.
void WarnIfApartFromTheAgent() {
  std::string ignored;
  std::optional<AgentAnnouncement> agent = FindAnnouncedAgent(&ignored);
  std::string dir;
  if (agent && StateDir(&dir, &ignored) && agent->state_dir != dir)
    std::fprintf(stderr,
                 "vxpu run: warning: VXPU_AGENT_SOCKET=none: this slice is apart from vxpud (pid %d, state in %s), "
                 "which neither counts it nor holds its other slices to it\n",
                 agent->pid, agent->state_dir.c_str());
}

// Puts the slice into the environment the command inherits.
void ExportSlice(const RunOptions& o, const std::string& slice, const std::string& compute_limit) {
  if (!o.device.empty()) setenv("CUDA_VISIBLE_DEVICES", o.device.c_str(), 1);
  setenv("LD_PRELOAD", Prepended("LD_PRELOAD", InterposerPath()).c_str(), 1);
  SetOrClear("VXPU_MEMORY", o.memory);
  SetOrClear("VXPU_COMPUTE", o.compute);
  SetOrClear("VXPU_COMPUTE_LIMIT", compute_limit);
  SetOrClear("VXPU_PRIORITY", o.compute.empty() ? "" : o.priority);
  setenv("VXPU_SLICE", slice.c_str(), 1);
}

}  // namespace

bool PrepareSlice(const RunOptions& options, std::string* why) {
  std::string error;
  auto Refuse = [why](const std::string& message) {
    *why = message;
    return false;
  };
  ComputeTerms terms;
  std::string compute_limit;
  if (!ValidCompute(options, &terms, &compute_limit, &error)) return Refuse(error);
  if (options.memory.empty() && options.compute.empty()) return Refuse("give --memory, --compute or both");
  if (!options.memory.empty() && !ParseMemoryQuota(options.memory, UINT64_MAX, &error))
    return Refuse("--memory: " + error);
  std::string slice = options.name_given ? options.name : "run-" + std::to_string(getpid());
  if (!SliceLedger::ValidSliceName(slice))
    return Refuse("--name: bad slice name \"" + slice + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
  terms.slice = slice;
  const std::string interposer = InterposerPath();
  if (!FileExists(interposer)) return Refuse("missing " + interposer + " (build the whole project)");
  if (options.sim) {
    std::string simgpu = SimgpuDir();
    if (!FileExists(simgpu + "/libcuda.so.1")) return Refuse("missing simgpu in " + simgpu);
    setenv("LD_LIBRARY_PATH", Prepended("LD_LIBRARY_PATH", simgpu).c_str(), 1);
  } else if (!RealDriverPresent()) {
    return Refuse("no NVIDIA driver found (libcuda.so.1); add --sim to run on the simulated GPU");
  }
  auto devices = DevicesToUse(options, &error);
  if (!devices) return Refuse(error);
  // With vxpud running, its state directory is where the slice's segments live.
  std::unique_ptr<AgentClient> agent = LinkAgent(&error);
  if (!error.empty()) return Refuse(error);
  if (!agent && AgentClient::SocketPath().empty()) WarnIfApartFromTheAgent();  // else LinkAgent asked the beacon
  // Listing also removes what killed runs left behind.
  std::vector<SliceSummary> memory_slices = SliceLedger::ListSlices();
  std::vector<ComputeSliceUsage> compute_slices = ComputeArbiter::ListSlices();
  if (!options.memory.empty() && !QuotaFits(options.memory, slice, *devices, memory_slices, &error))
    return Refuse(error);
  if (terms.request > 0 && !ComputeFits(terms, *devices, compute_slices, &error)) return Refuse(error);
  std::vector<uint64_t> sizes;
  SliceSpec spec = SpecOf(options, terms, *devices, &sizes);
  if (agent ? !Register(agent.get(), spec, sizes, &error)
            : !AdmitDaemonless(spec, sizes, *devices, memory_slices, compute_slices, &error))
    return Refuse(error);
  ExportSlice(options, slice, compute_limit);
  return true;
}

int ExecCommand(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  int why = errno;
  std::fprintf(stderr, "vxpu run: cannot run %s: %s\n", argv[0], std::strerror(why));
  return why == ENOENT ? kNotFound : kCannotExecute;
}

int RunUnderSlice(const RunOptions& options) {
  if (options.command.empty()) return Fail("no command given (vxpu run [OPTIONS] -- COMMAND [ARGS...])");
  std::string error;
  if (!PrepareSlice(options, &error)) return Fail(error);
  return ExecCommand(options.command);
}

}  // namespace vxpu
