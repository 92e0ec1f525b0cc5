#include "slice/slice_setup.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "agent_api/agent_beacon.h"
#include "backend/device_list.h"
#include "backend/paths.h"
#include "common/process.h"
#include "common/state_dir.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"
#include "slice/admission.h"
#include "slice/daemonless_slices.h"
#include "slice/node_link.h"
#include "slice/slice_edits.h"

namespace vxpu {
namespace {

// `entry` first in the path list `variable` of the program's environment (as changed so far).
std::string Prepended(const EnvLookup& current, const EnvChanges& changes, const std::string& variable,
                      const std::string& entry) {
  auto changed = changes.find(variable);
  std::optional<std::string> value = changed != changes.end() ? changed->second : current(variable);
  return value && !value->empty() ? entry + ":" + *value : entry;
}

// Without --device a slice is on every GPU, or every NPU on a machine without GPUs: a CUDA
// program's slice takes nothing from the NPUs beside it.
std::vector<Device> OneKindByDefault(const std::vector<Device>& all) {
  std::vector<Device> gpus, npus;
  for (const Device& d : all) (d.kind == "npu" ? npus : gpus).push_back(d);
  return gpus.empty() ? npus : gpus;
}

// The devices the command will see: those --device names, or one kind's (OneKindByDefault).
std::optional<std::vector<Device>> DevicesToUse(const SliceRequest& r, std::string* error) {
  std::string why;
  auto all = ListDevices(r.sim, &why);
  if (!all) {
    *error = "cannot list the devices to check the slice against: " + why;
    return std::nullopt;
  }
  if (r.device.empty()) return OneKindByDefault(*all);
  auto chosen = SelectDevices(*all, r.device, &why);
  if (!chosen) *error = "--device: " + why;
  return chosen;
}

// A share that holds its context too (SliceRequest::memory_is_share) as the quota it leaves, in
// MiB, on each of `devices` (the same on each, or an error).
bool QuotaOfShare(const std::vector<Device>& devices, SliceRequest* r, std::string* error) {
  auto reserve = ContextReserve(error);
  if (!reserve) return false;
  std::string quota;
  for (const Device& d : devices) {
    uint64_t share = ParseMemoryQuota(r->memory, d.memory_total, error).value_or(0);
    if (share <= *reserve) {
      *error = "--memory: " + r->memory + " of " + FormatBytes(d.memory_total) + " leaves nothing beside the " +
               FormatBytes(*reserve) + " kept for the slice's context";
      return false;
    }
    std::string here = std::to_string((share - *reserve) >> 20) + "MiB";
    if (!quota.empty() && here != quota) {
      *error = "--memory: " + r->memory + " is a different size on each of these devices";
      return false;
    }
    quota = here;
  }
  if (!quota.empty()) r->memory = quota;
  return true;
}

// The quota fits within the share SliceRequest::memory_cap names, with its context's room, on
// each of `devices`.
bool WithinCap(const std::vector<Device>& devices, const SliceRequest& r, std::string* error) {
  auto reserve = ContextReserve(error);
  if (!reserve) return false;
  for (const Device& d : devices) {
    uint64_t cap = ParseMemoryQuota(r.memory_cap, d.memory_total, error).value_or(0);
    uint64_t quota = ParseMemoryQuota(r.memory, d.memory_total, error).value_or(UINT64_MAX);
    if (AddCapped(quota, *reserve) > cap) {
      *error = "--memory: " + r.memory + " and the " + FormatBytes(*reserve) +
               " kept for the slice's context are more than " + r.memory_cap + " of " + FormatBytes(d.memory_total) +
               ", the share granted";
      return false;
    }
  }
  return true;
}

// The slice as vxpud registers it, on each device the command may use. A percentage quota is a
// size per device: devices of different sizes give different ones, so *sizes holds each.
SliceSpec SpecOf(const SliceRequest& r, const ComputeTerms& terms, const std::vector<Device>& devices,
                 std::vector<uint64_t>* sizes) {
  SliceSpec spec;
  spec.name = terms.slice;
  for (const Device& d : devices) {
    spec.devices.push_back(d.uuid);
    std::string ignored;
    if (!r.memory.empty()) sizes->push_back(ParseMemoryQuota(r.memory, d.memory_total, &ignored).value_or(0));
  }
  if (!sizes->empty()) spec.memory_limit = sizes->front();
  if (terms.request > 0) spec.compute = SliceCompute{terms.request, terms.limit, terms.high_priority};
  spec.owner.pid = getpid();  // the command becomes this process, or it is the launcher that holds the slice
  spec.owner.job = r.job;
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

// Without vxpud: the slice must fit beside the slices set up here without one (started or not)
// and those running, each counted at its quota plus room for its contexts, on each device; then
// it is recorded for the next one (daemonless_slices.h), all under one lock.
bool AdmitDaemonless(SliceSpec spec, const std::vector<uint64_t>& sizes, const std::vector<Device>& devices,
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

// What the command may see of each vendor's devices. When --device chose: CUDA_VISIBLE_DEVICES
// keeps the entries that named GPUs as given, ASCEND_RT_VISIBLE_DEVICES lists the NPUs' logical
// ids. A kind the slice has none of is hidden (an empty list), with or without --device.
void ExportVisibleDevices(const SliceRequest& r, const std::vector<Device>& chosen, EnvChanges* changes) {
  if (r.device.empty()) {  // one kind's devices, all of them (OneKindByDefault): the other kind hidden
    bool npus = !chosen.empty() && chosen.front().kind == "npu";
    (*changes)[npus ? "CUDA_VISIBLE_DEVICES" : "ASCEND_RT_VISIBLE_DEVICES"] = "";
    return;
  }
  std::string gpus, npus;
  size_t start = 0;
  for (const Device& d : chosen) {  // SelectDevices keeps the entries' order
    size_t comma = std::min(r.device.find(',', start), r.device.size());
    std::string& list = d.kind == "npu" ? npus : gpus;
    list +=
        (list.empty() ? "" : ",") + (d.kind == "npu" ? std::to_string(d.index) : r.device.substr(start, comma - start));
    start = comma + 1;
  }
  (*changes)["CUDA_VISIBLE_DEVICES"] = gpus;
  (*changes)["ASCEND_RT_VISIBLE_DEVICES"] = npus;
}

// What the command's environment needs for the slice (the simulators first on its library path).
EnvChanges SliceChanges(const SliceRequest& r, const CheckedRequest& checked, const std::vector<Device>& chosen,
                        const EnvLookup& current) {
  EnvChanges changes;
  if (r.sim) {
    changes["LD_LIBRARY_PATH"] = Prepended(current, changes, "LD_LIBRARY_PATH", SimnpuDir());
    changes["LD_LIBRARY_PATH"] = Prepended(current, changes, "LD_LIBRARY_PATH", SimgpuDir());
  }
  ExportVisibleDevices(r, chosen, &changes);
  changes["LD_PRELOAD"] = Prepended(current, changes, "LD_PRELOAD", InterposerPath());
  SliceEnvTerms terms{checked.slice, r.memory, r.compute, checked.compute_limit, r.priority};
  for (const auto& [name, value] : SliceEnvironment(terms)) {
    changes[name] = value.empty() ? std::nullopt : std::optional<std::string>(value);  // never inherit a stale one
  }
  return changes;
}

// The drivers the command will load are there: the simulators, or NVIDIA's or Ascend's.
bool FindDriver(bool sim, std::string* error) {
  if (sim && !FileExists(SimgpuDir() + "/libcuda.so.1")) *error = "missing simgpu in " + SimgpuDir();
  if (sim && error->empty() && !FileExists(SimnpuDir() + "/libascendcl.so"))
    *error = "missing simnpu in " + SimnpuDir();
  if (!sim && !RealDriverPresent() && !RealAscendPresent())
    *error =
        "no NVIDIA driver (libcuda.so.1) nor Ascend runtime (libascendcl.so) found; add --sim to run on the "
        "simulated devices";
  return error->empty();
}

}  // namespace

bool SetUpSliceFor(const SliceRequest& asked, const EnvLookup& current, EnvChanges* changes, std::string* error) {
  error->clear();
  SliceRequest request = asked;
  CheckedRequest checked;
  if (!CheckRequest(request, getpid(), &checked, error)) return false;
  const std::string interposer = InterposerPath();
  if (!FileExists(interposer)) {
    *error = "missing " + interposer + " (build the whole project)";
    return false;
  }
  if (!FindDriver(request.sim, error)) return false;
  auto devices = DevicesToUse(request, error);
  if (!devices) return false;
  if (request.memory_is_share && !request.memory.empty() && !QuotaOfShare(*devices, &request, error)) return false;
  if (!request.memory_cap.empty() && !request.memory.empty() && !WithinCap(*devices, request, error)) return false;
  // With vxpud running, its state directory is where the slice's segments live.
  std::unique_ptr<AgentClient> agent = LinkAgent(error);
  if (!error->empty()) return false;
  if (!agent && AgentClient::SocketPath().empty()) WarnIfApartFromTheAgent();  // else LinkAgent asked the beacon
  // Listing also removes what killed runs left behind.
  std::vector<SliceSummary> memory_slices = SliceLedger::ListSlices();
  std::vector<ComputeSliceUsage> compute_slices = ComputeArbiter::ListSlices();
  std::vector<DeviceView> views;
  for (const Device& d : *devices) views.push_back(DeviceViewOf(d));
  if (auto refusal = RefuseBesideRunning(request.memory, checked.compute, views, memory_slices, compute_slices)) {
    *error = *refusal;
    return false;
  }
  std::vector<uint64_t> sizes;
  SliceSpec spec = SpecOf(request, checked.compute, *devices, &sizes);
  if (agent ? !Register(agent.get(), spec, sizes, error)
            : !AdmitDaemonless(spec, sizes, *devices, memory_slices, compute_slices, error))
    return false;
  *changes = SliceChanges(request, checked, *devices, current);
  return true;
}

bool SetUpSlice(const SliceRequest& request, std::string* error) {
  EnvChanges changes;
  auto getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  };
  if (!SetUpSliceFor(request, getenv, &changes, error)) return false;
  for (const auto& [name, value] : changes) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  return true;
}

}  // namespace vxpu
