#include "slice/node_link.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "agent_api/agent_beacon.h"
#include "common/state_dir.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"
#include "node/capacity.h"
#include "slice/daemonless_slices.h"

namespace vxpu {

namespace {

// "VXPU_STATE_DIR=/x" for the variable by which this process was told where to look for its
// agent, or "" if it was told nothing.
std::string ToldWhere() {
  for (const char* name : {"VXPU_AGENT_SOCKET", "VXPU_STATE_DIR"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return std::string(name) + "=" + value;
  }
  return "";
}

// No agent answers where this process looked: the one the beacon announces serves the node. It is
// used when this process was told nothing (or told its state directory); otherwise whatever is
// set up here would be invisible to it, which is refused.
std::unique_ptr<AgentClient> AnnouncedAgent(std::string* error) {
  std::string why;
  std::optional<AgentAnnouncement> announced = FindAnnouncedAgent(&why);
  if (!announced) {
    if (!why.empty()) std::fprintf(stderr, "vxpu: %s; working without it\n", why.c_str());
    return nullptr;
  }
  std::string told = ToldWhere();
  const char* dir = std::getenv("VXPU_STATE_DIR");
  if (!told.empty() && !(told.rfind("VXPU_STATE_DIR=", 0) == 0 && dir == announced->state_dir)) {
    *error = "vxpud (pid " + std::to_string(announced->pid) + ") serves this node from " + announced->state_dir +
             ", but " + told +
             " has no agent: a slice there would be invisible to it and to its slices; unset it (or " +
             "set VXPU_STATE_DIR=" + announced->state_dir + "), or set VXPU_AGENT_SOCKET=none to work apart from it " +
             "on purpose";
    return nullptr;
  }
  std::unique_ptr<AgentClient> agent = AgentClient::Connect(announced->socket, error);
  if (!agent && error->empty())
    *error = "vxpud (pid " + std::to_string(announced->pid) + ") announces its API on " + announced->socket +
             ", which does not answer";
  return agent;
}

}  // namespace

std::unique_ptr<AgentClient> LinkAgent(std::string* error) {
  static bool adopted = false;  // once per process: the state dir cannot change after that
  std::string socket = AgentClient::SocketPath();
  std::unique_ptr<AgentClient> agent = AgentClient::Connect(socket, error);
  if (!agent && error->empty() && !socket.empty()) agent = AnnouncedAgent(error);
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
  std::vector<SliceRecord> started_here;
  if (!DaemonlessSlices::List(&started_here, error)) return std::nullopt;
  return SlicesToJson(JoinSlices(started_here, SliceLedger::ListSlices(), ComputeArbiter::ListSlices(),
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

std::vector<DeviceView> DeviceViews(const std::vector<Device>& devices, const std::vector<SliceRecord>& slices,
                                    uint64_t context_reserve) {
  std::vector<DeviceView> views;
  for (const Device& g : devices) views.push_back(DeviceViewOf(g));
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
