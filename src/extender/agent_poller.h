// AgentPoller: the one part of vxpu-scheduler that talks to the nodes. A thread that, every poll
// interval (and at once when the directory learns a node), reads `GET /v1/devices` from each
// node's vxpud (up to 8 at a time; 1 s to connect, 2 s to answer) and hands the Service the
// report, or the reason it has none (no address, no answer, a body it refuses).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "extender/agent_directory.h"
#include "extender/service.h"

namespace vxpu::extender {

// Seconds on a monotonic clock, the engine's time.
double MonotonicSeconds();

class AgentPoller {
 public:
  AgentPoller(AgentDirectory* directory, Service* service, double interval_seconds);
  ~AgentPoller();  // stops

  void Start();
  void Wake();  // poll now (a node was learnt)
  void Stop();

 private:
  void Run();
  void PollAll();
  void PollOne(const AgentDirectory::Entry& entry);

  AgentDirectory* directory_;
  Service* service_;
  double interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace vxpu::extender
