// How launchers and CLI commands find vxpud: if one answers on its socket
// (agent_api/agent_client.h), the command works through it and uses its state directory for
// every segment it reads or its workload opens; if none does, the command works daemonless, as
// before vxpud existed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent_api/agent_client.h"
#include "backend/nvidia/nvml_client.h"
#include "node/node_view.h"

namespace vxpu {

// The running agent, or nullptr (none: daemonless; or an error, then *error is set).
std::unique_ptr<AgentClient> LinkAgent(std::string* error);

// Before a command touches any segment: adopts the agent's state directory if one runs, then
// checks VXPU_STATE_DIR (this process fixes its directory at its first segment). 0, or the exit
// code with *error set: 1 for an agent that cannot be reached, 2 for a bad VXPU_STATE_DIR.
int PrepareNodeState(std::string* error);

// The node's slices as the agent's API shows them: from `agent`, or built here from the
// segments without one. nullopt with *error if the agent could not answer.
std::optional<nlohmann::json> SlicesJson(AgentClient* agent, std::string* error);

// The slices, read back from that JSON (for the checks and tables that need them as records).
std::vector<SliceRecord> RecordsOf(const nlohmann::json& slices);

// Devices as the agent's API shows them, from an NVML snapshot (daemonless: healthy, capacity
// from `slices`).
std::vector<DeviceView> DeviceViews(const std::vector<Device>& devices, const std::vector<SliceRecord>& slices,
                                    uint64_t context_reserve);

// The room kept beside each slice's memory quota for its contexts: $VXPU_CONTEXT_RESERVE (an
// IEC size), else 512 MiB. nullopt with *error on a bad value.
std::optional<uint64_t> ContextReserve(std::string* error);

}  // namespace vxpu
