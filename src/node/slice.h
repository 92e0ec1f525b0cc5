// A slice as vxpud's registry and local API carry it: its terms (devices, memory quota, compute
// share), who owns it and when it was made. The JSON here is the one wire format of the local
// API (docs/agent.md): the agent answers with it and `vxpu ps -o json` prints it.
//
// Contract: parsers take untrusted text, never throw, and fail with *error naming the bad field
// and value; anything unknown or out of range is refused (fail closed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vxpu {

// Who a slice belongs to: a local process (the one `vxpu run` became; for a batch job's step, its
// step daemon, with `job` naming the job), a container of a pod, or the kubelet (a slice the
// device plugin made for the units kubelet allocated to a container; the pod fields are set once
// kubelet's pod resources name it).
struct SliceOwner {
  int32_t pid = 0;            // process owner; 0 for a pod
  uint64_t pid_start = 0;     // its start time (ticks since boot), so a reused pid is not taken for it
  uint32_t uid = 0;           // the owning process's user
  std::string job;            // process owner: the batch job it runs for ("slurm:123.0"), or empty
  std::string pod_namespace;  // pod owner: all three set
  std::string pod;
  std::string container;
  bool kubelet = false;

  bool is_pod() const { return !kubelet && !pod.empty(); }
  bool operator==(const SliceOwner&) const = default;
};

struct SliceCompute {
  uint32_t guarantee_permille = 0;  // 1..1000
  uint32_t limit_permille = 1000;   // guarantee..1000
  bool high_priority = false;
  bool operator==(const SliceCompute&) const = default;
};

// What a slice is: the devices (UUIDs) it may use and, on each of them, its terms.
struct SliceSpec {
  std::string name;
  std::vector<std::string> devices;
  std::optional<uint64_t> memory_limit;  // bytes per device; none: memory is not limited
  std::optional<SliceCompute> compute;   // none: compute is not shared out
  SliceOwner owner;

  // Same terms (name, devices, quota, compute): a second process may join such a slice.
  bool SameTerms(const SliceSpec& other) const;
};

// A process that joined a slice after its owner (a second `vxpu run --name` of the same terms).
struct SliceHolder {
  int32_t pid = 0;
  uint64_t pid_start = 0;
  bool operator==(const SliceHolder&) const = default;
};

// A registered slice. `discovered`: found running (a ledger or arbiter with live processes)
// without having been registered, e.g. started by hand or before the agent.
struct SliceRecord {
  SliceSpec spec;
  int64_t created_unix = 0;
  bool discovered = false;
  std::vector<SliceHolder> joined;
};

// Parses a create-slice request body (docs/agent.md, "POST /v1/slices"). The owner comes in as
// {"pid": N} or {"namespace": ..., "pod": ..., "container": ...}; pid_start and uid are the
// agent's to fill. Returns nullopt with *error set on anything malformed.
std::optional<SliceSpec> ParseSliceRequest(const std::string& body, std::string* error);

// The request body for `spec` (what ParseSliceRequest reads back).
std::string SliceRequestJson(const SliceSpec& spec);

// A record as stored and as the API shows it, and back (the registry's on-disk form).
nlohmann::json SliceRecordToJson(const SliceRecord& record);
std::optional<SliceRecord> SliceRecordFromJson(const nlohmann::json& json, std::string* error);

}  // namespace vxpu
