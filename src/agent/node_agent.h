// vxpud's state: the device inventory, the slice registry and what the slices use, behind one
// lock. The API threads, the metrics scrape and the poll loop all go through it.
//
// Poll() (once per --poll-interval) refreshes device health, samples each slice's device time
// (its achieved share since the last poll), registers slices found running unregistered, and
// reaps registered slices whose owner and joined processes are gone and that have no live
// process left (pod-owned slices are removed by whoever created them, through the API; those of
// kubelet's allocations when kubelet gives their units to another container).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/device_inventory.h"
#include "agent/pod_resources.h"
#include "agent/slice_registry.h"
#include "node/gpu_units.h"
#include "node/node_view.h"

namespace vxpu {

struct AgentOptions {
  std::string state_dir;  // holds the registry and, for every workload, the segments
  bool sim = false;       // the simulated devices instead of the drivers'
  uint64_t context_reserve = 0;
};

// An API answer: an HTTP status and the JSON body.
struct ApiReply {
  int status = 200;
  nlohmann::json body;
};

class NodeAgent {
 public:
  using Log = std::function<void(const std::string&)>;

  // Opens the registry in the state directory and takes a first look at the devices.
  static std::unique_ptr<NodeAgent> Start(const AgentOptions& options, Log log, std::string* error);

  void Poll();

  // The devices and slices; empty with *error (optional) set when the registry cannot be read.
  std::vector<DeviceView> Devices(std::string* error = nullptr);
  std::vector<SliceView> Slices(std::string* error = nullptr);

  ApiReply CreateSlice(const std::string& request_body);
  ApiReply DeleteSlice(const std::string& name);
  ApiReply GetSlice(const std::string& name);

  // The device plugin's side (docs/kubernetes.md). Each device of `kind` ("gpu", "npu") with
  // the state of its units.
  std::vector<std::pair<DeviceView, GpuUnits>> Units(const std::string& kind);
  // The slice for the units kubelet allocated to one container, registered (owner: the kubelet).
  // Slices of earlier containers that held any of these units are dropped first: kubelet only
  // hands out units it knows free. nullopt with *error if the IDs make no slice, a GPU is
  // unhealthy, or an earlier holder still has processes running.
  // The IDs must be units of devices of `kind` (the resource's).
  std::optional<SliceSpec> AllocateUnits(const std::vector<std::string>& ids, const std::string& kind,
                                         std::string* error);
  // Squares the kubelet-owned slices with the containers kubelet says hold units: a slice
  // whose units a container holds is named after it; one whose units no container holds, made
  // over kReleaseGraceSeconds before `now_unix` and without live processes, is removed.
  // Only the slices on devices of `kind` are the resource's (each plugin reconciles its own).
  void ReconcileWithKubelet(const std::vector<ContainerUnits>& holders, const std::string& kind, int64_t now_unix);
  static constexpr int64_t kReleaseGraceSeconds = 5;

  // Also keeps the terms files of registered slices in `dir` (agent/terms_files.h): the device
  // plugin's, which containers get mounted.
  void AddTermsDir(const std::string& dir);

  const AgentOptions& options() const { return options_; }

 private:
  NodeAgent(AgentOptions options, Log log, std::unique_ptr<SliceRegistry> registry)
      : options_(std::move(options)),
        log_(std::move(log)),
        registry_(std::move(registry)),
        inventory_(options_.sim),
        terms_dirs_{options_.state_dir + "/slices"} {}

  // With mu_ held.
  // The registry, read afresh; false with *error set (and logged once) if it cannot be read.
  bool ReadRegistry(std::vector<SliceRecord>* records, std::string* error);
  bool SlicesLocked(std::vector<SliceView>* views, std::string* error);
  std::vector<SliceView> SlicesLocked(const std::vector<SliceRecord>& stored);
  std::vector<DeviceView> DevicesLocked(const std::vector<SliceRecord>& records);
  std::string KindOfLocked(const std::string& uuid);
  void SampleShares(const std::vector<SliceView>& views);
  void AdoptAndReap(const std::vector<SliceView>& views, const std::vector<SliceRecord>& stored);
  void Store(const SliceRecord& record);
  bool DropEarlierHolders(const SliceSpec& spec, const std::vector<SliceView>& views, std::string* error);
  // Makes the terms files match the registry (read afresh).
  void SyncTermsFiles();
  // Writes the terms file of `spec` in every terms directory; false with *error.
  bool WriteTerms(const SliceSpec& spec, std::string* error);
  // Stores a new slice with its terms files; neither stays if either cannot be written.
  bool Register(const SliceRecord& record, std::string* error);

  AgentOptions options_;
  Log log_;
  std::mutex mu_;
  std::unique_ptr<SliceRegistry> registry_;
  DeviceInventory inventory_;
  std::string registry_error_;  // why the registry could not be read last time, if it could not
  std::vector<std::string> terms_dirs_;
  std::string terms_error_;  // the last failure to write a terms file, logged once
  // Per (slice, device): device time and when it was read, and the share since the read before.
  struct Sample {
    uint64_t used_ns = 0;
    uint64_t at_ns = 0;
    double share = 0;
    bool has_share = false;
  };
  std::map<std::pair<std::string, std::string>, Sample> samples_;
};

}  // namespace vxpu
