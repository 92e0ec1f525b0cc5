#include "extender/agent_poller.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

namespace vxpu::extender {
namespace {

// Runs fn(0..n-1) on up to 8 threads.
template <typename Fn>
void ForEachParallel(size_t n, Fn fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> workers;
  for (size_t t = 0; t < std::min<size_t>(8, n); ++t) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();
}

}  // namespace

std::vector<std::string> ResolveAll(const std::string& host, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return {};
  }
  std::vector<std::string> out;
  for (addrinfo* a = found; a; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof(text), nullptr, 0, NI_NUMERICHOST) != 0) continue;
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
  }
  freeaddrinfo(found);
  if (out.empty()) *error = "'" + host + "' has no addresses";
  return out;
}

std::string NodeOfInfo(const std::string& body, std::string* error) {
  nlohmann::json info = nlohmann::json::parse(body, nullptr, false);
  auto node = info.is_object() ? info.find("node") : info.end();
  if (!info.is_object() || node == info.end() || !node->is_string() || node->get<std::string>().empty()) {
    *error = "/v1/info names no node (a vxpud without --node-name support?)";
    return "";
  }
  return node->get<std::string>();
}

bool ParseAgentsDns(const std::string& text, HostPort* out, std::string* error) {
  std::string ignored;
  std::optional<HostPort> parsed = ParseHostPort(text, &ignored);
  if (!parsed || parsed->host.empty() || parsed->port == 0) {
    *error = "bad --agents-dns '" + text + "' (want HOST:PORT, e.g. vxpud.vxpu-system.svc.cluster.local:9396)";
    return false;
  }
  *out = *parsed;
  return true;
}

AgentDiscovery::AgentDiscovery(HostPort dns, Resolver resolver, Logger log)
    : dns_(std::move(dns)), resolve_(std::move(resolver)), log_(std::move(log)) {}

void AgentDiscovery::Note(const std::string& key, const std::string& message) {
  std::string& last = noted_[key];
  if (message != last && !message.empty()) log_(message);
  last = message;
}

std::map<std::string, HostPort> AgentDiscovery::Discover() {
  const std::string name = dns_.host + ":" + std::to_string(dns_.port);
  std::string error;
  std::vector<std::string> addresses = resolve_(dns_.host, &error);
  if (addresses.empty()) {
    Note("dns", "--agents-dns " + name + ": " + (error.empty() ? "no addresses" : error) + " (keeping the last " +
                    std::to_string(addresses_.size()) + " addresses; retried each poll)");
  } else {
    std::sort(addresses.begin(), addresses.end());
    if (addresses != addresses_) {
      size_t kept = 0;
      for (const std::string& x : addresses) kept += std::binary_search(addresses_.begin(), addresses_.end(), x);
      log_("--agents-dns " + name + ": " + std::to_string(addresses.size()) + " addresses (" +
           std::to_string(addresses.size() - kept) + " new, " + std::to_string(addresses_.size() - kept) + " gone)");
    }
    Note("dns", "");
    addresses_ = std::move(addresses);
  }
  // Forget the addresses gone from DNS, and what was logged about them.
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (std::binary_search(addresses_.begin(), addresses_.end(), it->first)) {
      ++it;
    } else {
      log_("--agents-dns " + name + ": " + it->first + " (node " + it->second + ") is gone");
      it = nodes_.erase(it);
    }
  }
  for (auto it = noted_.begin(); it != noted_.end();) {
    bool gone = it->first.rfind("addr ", 0) == 0 &&
                !std::binary_search(addresses_.begin(), addresses_.end(), it->first.substr(5));
    it = gone ? noted_.erase(it) : std::next(it);
  }
  // Ask each new address its node.
  std::vector<std::string> fresh;
  for (const std::string& a : addresses_) {
    if (!nodes_.count(a)) fresh.push_back(a);
  }
  std::vector<std::string> answers(fresh.size()), failures(fresh.size());
  ForEachParallel(fresh.size(), [&](size_t i) {
    const HostPort agent{fresh[i], dns_.port};
    httplib::Client client(agent.host, agent.port);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    httplib::Result r = client.Get("/v1/info");
    std::string why;
    if (!r) {
      why = httplib::to_string(r.error());
    } else if (r->status != 200) {
      why = "/v1/info: HTTP " + std::to_string(r->status);
    } else {
      answers[i] = NodeOfInfo(r->body, &why);
    }
    if (answers[i].empty()) failures[i] = "--agents-dns " + name + ": " + AgentUrl(agent) + ": " + why;
  });
  for (size_t i = 0; i < fresh.size(); ++i) {
    Note("addr " + fresh[i], failures[i]);
    if (answers[i].empty()) continue;
    nodes_[fresh[i]] = answers[i];
    log_("--agents-dns " + name + ": node " + answers[i] + " at " + AgentUrl({fresh[i], dns_.port}));
  }
  // One agent per node: the lowest address; the others logged (once while it lasts).
  std::map<std::string, HostPort> out;
  std::map<std::string, std::string> conflicts;
  for (const auto& [address, node] : nodes_) {
    auto [it, added] = out.emplace(node, HostPort{address, dns_.port});
    if (!added) conflicts[node] += " " + address;
  }
  for (const auto& [node, agent] : out) {
    auto c = conflicts.find(node);
    Note("node " + node, c == conflicts.end() ? ""
                                              : "--agents-dns " + name + ": node " + node + " answers at " +
                                                    agent.host + " and" + c->second + "; using " + agent.host);
  }
  return out;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

AgentPoller::AgentPoller(AgentDirectory* directory, Service* service, double interval_seconds,
                         AgentDiscovery* discovery)
    : directory_(directory), service_(service), discovery_(discovery), interval_(interval_seconds) {}

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
  if (discovery_) directory_->SetDiscovered(discovery_->Discover());
  std::vector<AgentDirectory::Entry> entries = directory_->Entries();
  ForEachParallel(entries.size(), [&](size_t i) { PollOne(entries[i]); });
}

void AgentPoller::PollOne(const AgentDirectory::Entry& entry) {
  if (!entry.agent) {
    service_->ReportUnreachable(entry.node, entry.missing);
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
