#include "extender/agent_directory.h"

#include <sstream>

namespace vxpu::extender {
namespace {

// The InternalIP of a core/v1 Node object, if it has one.
std::optional<std::string> InternalIp(const nlohmann::json& node) {
  auto status = node.find("status");
  if (status == node.end() || !status->is_object()) return std::nullopt;
  auto addresses = status->find("addresses");
  if (addresses == status->end() || !addresses->is_array()) return std::nullopt;
  for (const nlohmann::json& a : *addresses) {
    if (!a.is_object()) continue;
    auto type = a.find("type"), address = a.find("address");
    if (type != a.end() && address != a.end() && *type == "InternalIP" && address->is_string()) {
      return address->get<std::string>();
    }
  }
  return std::nullopt;
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

bool ParseAgentsFile(const std::string& text, std::map<std::string, HostPort>* out, std::string* error) {
  std::map<std::string, HostPort> parsed;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string node, url, extra;
    if (!(fields >> node)) continue;
    std::string why;
    std::optional<HostPort> agent;
    if (!(fields >> url) || (fields >> extra)) {
      why = "want NODE http://HOST:PORT";
    } else if (!(agent = ParseAgentUrl(url, &why))) {
    } else if (!parsed.emplace(node, *agent).second) {
      why = "node " + node + " given twice";
    }
    if (!why.empty()) {
      *error = "line " + std::to_string(number) + ": " + why;
      return false;
    }
  }
  out->merge(parsed);
  return true;
}

bool CheckUrlTemplate(const std::string& url_template, std::string* error) {
  if (url_template.empty()) return true;
  if (url_template.find("{node}") == std::string::npos) {
    *error = "bad --agent-url-template '" + url_template + "': no {node} in it";
    return false;
  }
  std::string why;
  if (!ParseAgentUrl(Replaced(url_template, "{node}", "node-a"), &why)) {
    *error = "bad --agent-url-template '" + url_template + "' (want e.g. http://{node}:9396)";
    return false;
  }
  return true;
}

AgentDirectory::AgentDirectory(DirectoryOptions options) : options_(std::move(options)) {
  for (const auto& [node, agent] : options_.fixed) nodes_[node] = std::nullopt;
}

std::optional<HostPort> AgentDirectory::FromTemplate(const std::string& node) const {
  std::string ignored;
  if (options_.url_template.empty()) return std::nullopt;
  return ParseAgentUrl(Replaced(options_.url_template, "{node}", node), &ignored);
}

bool AgentDirectory::Learn(const ExtenderArgs& args) {
  std::lock_guard<std::mutex> lock(mu_);
  bool learnt = false;
  for (size_t i = 0; i < args.node_names.size(); ++i) {
    const std::string& node = args.node_names[i];
    auto it = nodes_.find(node);
    if (it != nodes_.end() && it->second) continue;  // known, with an InternalIP
    std::optional<HostPort> agent;
    if (i < args.node_objects.size()) {
      if (std::optional<std::string> ip = InternalIp(args.node_objects[i])) {
        std::string ignored;
        agent = ParseHostPort(
            (ip->find(':') != std::string::npos ? "[" + *ip + "]" : *ip) + ":" + std::to_string(options_.agent_port),
            &ignored);
      }
    }
    if (it == nodes_.end() || agent) {
      nodes_[node] = agent;
      learnt = true;
    }
  }
  return learnt;
}

bool AgentDirectory::SetDiscovered(std::map<std::string, HostPort> discovered) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = discovered.size() != discovered_.size();
  for (const auto& [node, agent] : discovered) {
    nodes_.try_emplace(node, std::nullopt);
    auto it = discovered_.find(node);
    if (it == discovered_.end() || it->second.host != agent.host || it->second.port != agent.port) changed = true;
  }
  discovered_ = std::move(discovered);
  return changed;
}

std::vector<AgentDirectory::Entry> AgentDirectory::Entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> out;
  for (const auto& [node, internal_ip] : nodes_) {
    Entry entry{node, std::nullopt, ""};
    if (auto f = options_.fixed.find(node); f != options_.fixed.end()) {
      entry.agent = f->second;
    } else if (auto d = discovered_.find(node); d != discovered_.end()) {
      entry.agent = d->second;
    } else if ((entry.agent = FromTemplate(node))) {
    } else if (internal_ip) {
      entry.agent = internal_ip;
    } else if (!options_.agents_dns.empty()) {
      entry.missing = "no vxpud address known: no agent at --agents-dns " + options_.agents_dns +
                      " gives this node name in its /v1/info (" + std::to_string(discovered_.size()) + " found)";
    } else {
      entry.missing =
          "no vxpud address known (a nodeCacheCapable request names nodes only: give --agents, --agents-dns or "
          "--agent-url-template)";
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace vxpu::extender
