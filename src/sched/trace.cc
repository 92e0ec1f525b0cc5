#include "sched/trace.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>

namespace vxpu::sched {
namespace {

// Per-GPU memory of the models the FGD artifact knows (MiB); others are unknown (0).
int64_t KnownGpuMemoryMib(const std::string& model) {
  static const std::map<std::string, int64_t> known = {
      {"P4", 7611},    {"2080", 11019}, {"1080", 11178}, {"M40", 11448},     {"T4", 15109},  {"V100M16", 16160},
      {"P100", 16280}, {"A10", 22731},  {"3090", 24268}, {"V100M32", 32510}, {"A100", 81251}};
  auto it = known.find(model);
  return it == known.end() ? 0 : it->second;
}

std::vector<std::string> SplitFields(const std::string& line, char separator) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t end = line.find(separator, start);
    fields.push_back(line.substr(start, end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

// One CSV file: its header, then one row at a time, with the file name and line for messages.
class CsvReader {
 public:
  CsvReader(std::istream& in, std::string file_name) : in_(in), file_name_(std::move(file_name)) {}

  void ReadHeader(const std::vector<std::string>& required) {
    std::string line;
    if (!NextLine(line)) Fail("empty file, expected a header");
    header_ = SplitFields(line, ',');
    for (const std::string& column : required) Column(column);
  }

  bool NextRow() {
    std::string line;
    if (!NextLine(line)) return false;
    row_ = SplitFields(line, ',');
    if (row_.size() != header_.size()) {
      Fail("expected " + std::to_string(header_.size()) + " fields, found " + std::to_string(row_.size()));
    }
    return true;
  }

  bool HasColumn(const std::string& name) const {
    return std::find(header_.begin(), header_.end(), name) != header_.end();
  }
  const std::string& Text(const std::string& column) const { return row_[Column(column)]; }

  // A non-negative integer field; empty is allowed only when `optional`.
  std::optional<int64_t> Count(const std::string& column, bool optional = false) const {
    const std::string& text = Text(column);
    if (text.empty()) {
      if (optional) return std::nullopt;
      Fail("missing " + column);
    }
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) Fail(column + " '" + text + "' is not an integer");
    if (value < 0) Fail("negative " + column + " '" + text + "'");
    return value;
  }

  [[noreturn]] void Fail(const std::string& message) const {
    throw TraceError(file_name_ + ":" + std::to_string(line_number_) + ": " + message);
  }
  int line_number() const { return line_number_; }

 private:
  size_t Column(const std::string& name) const {
    auto it = std::find(header_.begin(), header_.end(), name);
    if (it == header_.end()) throw TraceError(file_name_ + ":1: missing column '" + name + "'");
    return static_cast<size_t>(it - header_.begin());
  }

  bool NextLine(std::string& line) {
    while (std::getline(in_, line)) {
      ++line_number_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) return true;
    }
    return false;
  }

  std::istream& in_;
  std::string file_name_;
  int line_number_ = 0;
  std::vector<std::string> header_;
  std::vector<std::string> row_;
};

int ModelIndex(NodeList& list, const std::string& model) {
  auto it = std::find(list.model_names.begin(), list.model_names.end(), model);
  if (it != list.model_names.end()) return static_cast<int>(it - list.model_names.begin());
  list.model_names.push_back(model);
  return static_cast<int>(list.model_names.size()) - 1;
}

uint64_t AllowedModels(const CsvReader& csv, const std::string& spec, const NodeList& nodes) {
  uint64_t allowed = 0;
  for (const std::string& model : SplitFields(spec, '|')) {
    if (model.empty()) continue;
    auto it = std::find(nodes.model_names.begin(), nodes.model_names.end(), model);
    if (it == nodes.model_names.end()) csv.Fail("unknown GPU model '" + model + "' in gpu_spec (no node has it)");
    allowed |= uint64_t{1} << (it - nodes.model_names.begin());
  }
  return allowed;
}

template <typename Read>
auto ReadFile(const std::string& path, Read read) {
  std::ifstream in(path);
  if (!in) throw TraceError(path + ": cannot open");
  return read(in);
}

}  // namespace

NodeList ParseNodeCsv(std::istream& in, const std::string& file_name) {
  CsvReader csv(in, file_name);
  csv.ReadHeader({"sn", "cpu_milli", "memory_mib", "gpu", "model"});
  NodeList list;
  while (csv.NextRow()) {
    NodeSpec node;
    node.name = csv.Text("sn");
    node.cpu_milli = *csv.Count("cpu_milli");
    node.memory_mib = *csv.Count("memory_mib");
    int64_t gpus = *csv.Count("gpu");
    if (gpus > kMaxGpusPerNode) csv.Fail("gpu '" + csv.Text("gpu") + "' exceeds 64 GPUs per node");
    node.gpu_count = static_cast<int>(gpus);
    const std::string& model = csv.Text("model");
    if (gpus > 0 && model.empty()) csv.Fail("node with GPUs but no GPU model");
    if (!model.empty()) {
      node.gpu_model = ModelIndex(list, model);
      if (list.model_names.size() > kMaxGpuModels) csv.Fail("more than 64 GPU models");
      node.gpu_memory_mib = KnownGpuMemoryMib(model);
    }
    list.nodes.push_back(std::move(node));
  }
  if (list.nodes.empty()) throw TraceError(file_name + ": no nodes");
  return list;
}

std::vector<PodRecord> ParsePodCsv(std::istream& in, const std::string& file_name, const NodeList& nodes) {
  CsvReader csv(in, file_name);
  csv.ReadHeader({"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec"});
  bool has_times = csv.HasColumn("creation_time") && csv.HasColumn("deletion_time");
  std::vector<PodRecord> pods;
  while (csv.NextRow()) {
    PodRecord pod;
    pod.name = csv.Text("name");
    pod.line = csv.line_number();
    PodRequest& r = pod.request;
    r.cpu_milli = *csv.Count("cpu_milli");
    r.memory_mib = *csv.Count("memory_mib");
    r.num_gpu = static_cast<int>(std::min<int64_t>(*csv.Count("num_gpu"), kMaxGpusPerNode + 1));
    r.gpu_milli = *csv.Count("gpu_milli");
    r.allowed_models = AllowedModels(csv, csv.Text("gpu_spec"), nodes);
    if (std::string why = ValidateRequest(r); !why.empty()) csv.Fail(why);
    if (has_times) {
      pod.creation_time = csv.Count("creation_time", true).value_or(-1);
      pod.deletion_time = csv.Count("deletion_time", true).value_or(-1);
      if (pod.creation_time >= 0 && pod.deletion_time >= 0 && pod.deletion_time < pod.creation_time) {
        csv.Fail("deletion_time '" + csv.Text("deletion_time") + "' before creation_time");
      }
    }
    pods.push_back(std::move(pod));
  }
  if (pods.empty()) throw TraceError(file_name + ": no pods");
  return pods;
}

NodeList ReadNodeCsv(const std::string& path) {
  return ReadFile(path, [&](std::istream& in) { return ParseNodeCsv(in, path); });
}

std::vector<PodRecord> ReadPodCsv(const std::string& path, const NodeList& nodes) {
  return ReadFile(path, [&](std::istream& in) { return ParsePodCsv(in, path, nodes); });
}

}  // namespace vxpu::sched
