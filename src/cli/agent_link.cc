#include "cli/agent_link.h"

#include <cstdlib>
#include <ctime>

#include "agent_api/capacity.h"
#include "common/state_dir.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"

namespace vxpu {

std::unique_ptr<AgentClient> LinkAgent(std::string* error) {
  static bool adopted = false;  // once per process: the state dir cannot change after that
  std::unique_ptr<AgentClient> agent = AgentClient::Connect(AgentClient::SocketPath(), error);
  if (agent && !adopted && !AdoptAgentStateDir(agent.get(), error)) return nullptr;
  adopted = adopted || agent != nullptr;
  return agent;
}

int PrepareNodeState(std::string* error) {
  LinkAgent(error);
  if (!error->empty()) return 1;
  std::string dir;
  return StateDir(&dir, error) ? 0 : 2;
}

std::optional<nlohmann::json> SlicesJson(AgentClient* agent, std::string* error) {
  if (agent != nullptr) return agent->Get("/v1/slices", error);
  return SlicesToJson(JoinSlices({}, SliceLedger::ListSlices(), ComputeArbiter::ListSlices(),
                                 static_cast<int64_t>(std::time(nullptr))));
}

std::vector<SliceRecord> RecordsOf(const nlohmann::json& slices) {
  std::vector<SliceRecord> records;
  std::string error;
  for (const nlohmann::json& s : slices) {
    if (auto record = SliceRecordFromJson(s, &error)) records.push_back(std::move(*record));
  }
  return records;
}

std::vector<DeviceView> DeviceViews(const std::vector<GpuDevice>& devices, const std::vector<SliceRecord>& slices,
                                    uint64_t context_reserve) {
  std::vector<DeviceView> views;
  for (const GpuDevice& g : devices) views.push_back(DeviceViewOf(g));
  FillCapacity(slices, context_reserve, &views);
  return views;
}

std::optional<uint64_t> ContextReserve(std::string* error) {
  const char* text = std::getenv("VXPU_CONTEXT_RESERVE");
  if (text == nullptr || *text == '\0') return kDefaultContextReserve;
  if (std::string(text) == "0") return 0;
  std::string why;
  std::optional<uint64_t> bytes =
      std::string(text).find('%') == std::string::npos ? ParseMemoryQuota(text, UINT64_MAX, &why) : std::nullopt;
  if (!bytes) *error = "VXPU_CONTEXT_RESERVE=\"" + std::string(text) + "\": want a size in IEC units (512MiB)";
  return bytes;
}

}  // namespace vxpu
