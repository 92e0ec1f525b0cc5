#include "extender/agent_poller.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <vector>

namespace vxpu::extender {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

AgentPoller::AgentPoller(AgentDirectory* directory, Service* service, double interval_seconds)
    : directory_(directory), service_(service), interval_(interval_seconds) {}

AgentPoller::~AgentPoller() { Stop(); }

void AgentPoller::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AgentPoller::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

void AgentPoller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void AgentPoller::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_ = false;
    lock.unlock();
    PollAll();
    lock.lock();
    cv_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stop_ || wake_; });
  }
}

void AgentPoller::PollAll() {
  std::vector<AgentDirectory::Entry> entries = directory_->Entries();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < entries.size(); i = next++) PollOne(entries[i]);
  };
  std::vector<std::thread> workers;
  for (size_t t = 0; t < std::min<size_t>(8, entries.size()); ++t) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();
}

void AgentPoller::PollOne(const AgentDirectory::Entry& entry) {
  if (!entry.agent) {
    service_->ReportUnreachable(entry.node,
                                "no vxpud address known (a nodeCacheCapable request names nodes only: "
                                "give --agents or --agent-url-template)");
    return;
  }
  const std::string url = AgentUrl(*entry.agent);
  httplib::Client client(entry.agent->host, entry.agent->port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(2, 0);
  httplib::Result answer = client.Get("/v1/devices");
  if (!answer) {
    service_->ReportUnreachable(entry.node, url + ": " + httplib::to_string(answer.error()));
    return;
  }
  if (answer->status != 200) {
    service_->ReportUnreachable(entry.node, url + "/v1/devices: HTTP " + std::to_string(answer->status));
    return;
  }
  NodeReport report;
  std::string error;
  if (!ParseDevicesReport(answer->body, &report, &error)) {
    service_->ReportUnreachable(entry.node, url + "/v1/devices: " + error);
    return;
  }
  service_->Report(entry.node, report, MonotonicSeconds());
}

}  // namespace vxpu::extender
