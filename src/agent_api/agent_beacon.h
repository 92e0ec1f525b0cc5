// Where a node's vxpud announces itself, so that a command told nothing about it still finds it
// (a vxpud started with --state-dir /tmp/x is otherwise invisible to `vxpu run`, which then
// works apart from it). The beacon is an abstract unix socket, "@vxpu-agent-NAME" (NAME from
// VXPU_AGENT_BEACON, default "vxpud"; "off" turns the beacon off on both sides): the first
// vxpud of a network namespace holds it and answers each connection with one JSON line, its
// socket, state directory and pid. A beacon held by a user other than root or the caller is
// not believed.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace vxpu {

struct AgentAnnouncement {
  std::string socket;     // the agent's local API
  std::string state_dir;  // where its slices' segments live
  int32_t pid = 0;
};

// The abstract name to use, from VXPU_AGENT_BEACON; "" when the beacon is off.
std::string AgentBeaconName();

// vxpud's side: answers on the beacon until destroyed.
class AgentBeacon {
 public:
  // Holds the beacon for `announcement`. nullptr with *error set when it cannot: the beacon is
  // off (error empty) or another agent holds it (the error names it).
  static std::unique_ptr<AgentBeacon> Start(const AgentAnnouncement& announcement, std::string* error);
  ~AgentBeacon();
  AgentBeacon(const AgentBeacon&) = delete;
  AgentBeacon& operator=(const AgentBeacon&) = delete;

 private:
  AgentBeacon(int fd, std::string line);
  void Answer();
  int fd_;
  std::string line_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The agent the beacon announces, or nullopt: none (error empty), or one that cannot be
// believed or read (*error says why).
std::optional<AgentAnnouncement> FindAnnouncedAgent(std::string* error);

}  // namespace vxpu
