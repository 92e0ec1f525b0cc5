#include "sched/trace.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>

namespace vxpu::sched {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr const char* kNodeColumns = "sn,cpu_milli,memory_mib,gpu,model (optional: vendor)";
constexpr const char* kDefaultVendor = "nvidia";
constexpr std::string_view kVendorPrefix = "vendor:";
constexpr const char* kPodColumns =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli (optional: gpu_spec,creation_time,deletion_time)";

// Per-GPU memory of the models the FGD artifact knows (MiB); others are unknown (0).
int64_t KnownGpuMemoryMib(const std::string& model) {
  static const std::map<std::string, int64_t> known = {
      {"P4", 7611},    {"2080", 11019}, {"1080", 11178}, {"M40", 11448},     {"T4", 15109},  {"V100M16", 16160},
      {"P100", 16280}, {"A10", 22731},  {"3090", 24268}, {"V100M32", 32510}, {"A100", 81251}};
  auto it = known.find(model);
  return it == known.end() ? 0 : it->second;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string Trim(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

bool IsBlank(const std::string& line) { return std::all_of(line.begin(), line.end(), IsSpace); }

std::string Quote(const std::string& text) { return "'" + text + "'"; }

std::vector<std::string> SplitModels(const std::string& spec) {
  std::vector<std::string> models;
  size_t start = 0;
  while (true) {
    size_t end = spec.find('|', start);
    models.push_back(Trim(std::string_view(spec).substr(start, end - start)));
    if (end == std::string::npos) return models;
    start = end + 1;
  }
}

// One CSV file: its header, then one row at a time, with the file name and line for messages.
class CsvReader {
 public:
  CsvReader(std::istream& in, std::string file_name, std::string expected_columns)
      : in_(in), file_name_(std::move(file_name)), expected_columns_(std::move(expected_columns)) {}

  void ReadHeader(const std::vector<std::string>& required) {
    std::string line;
    if (!NextLine(line)) {
      throw TraceError(file_name_ + ": empty file, expected a header line with columns " + expected_columns_);
    }
    header_line_ = line_number_;
    header_ = SplitLine(line);
    for (const std::string& column : required) RequireColumn(column);
  }

  // Fails, pointing at the header, unless it has `column`; `why` is said after.
  void RequireColumn(const std::string& column, const std::string& why = "") const {
    if (HasColumn(column)) return;
    throw TraceError(file_name_ + ":" + std::to_string(header_line_) + ": missing column " + Quote(column) + why);
  }

  bool NextRow() {
    std::string line;
    if (!NextLine(line)) return false;
    row_ = SplitLine(line);
    if (row_.size() != header_.size()) {
      Fail("expected " + std::to_string(header_.size()) + " fields as in the header, found " +
           std::to_string(row_.size()));
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
      Fail("column " + column + ": empty, expected an integer");
    }
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc::result_out_of_range) FailValue(column, "is out of range");
    if (error != std::errc() || end != text.data() + text.size()) FailValue(column, "is not an integer");
    if (value < 0) FailValue(column, "is negative");
    return value;
  }

  // "file:line: column C: 'value' <problem>".
  [[noreturn]] void FailValue(const std::string& column, const std::string& problem) const {
    Fail("column " + column + ": " + Quote(Text(column)) + " " + problem);
  }
  [[noreturn]] void Fail(const std::string& message) const {
    throw TraceError(file_name_ + ":" + std::to_string(line_number_) + ": " + message);
  }
  int line_number() const { return line_number_; }

 private:
  size_t Column(const std::string& name) const {
    RequireColumn(name);
    return static_cast<size_t>(std::find(header_.begin(), header_.end(), name) - header_.begin());
  }

  // The next line that is not blank, without its line end (and, on the first line, a UTF-8 BOM).
  bool NextLine(std::string& line) {
    while (std::getline(in_, line)) {
      ++line_number_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_number_ == 1) SkipByteOrderMark(line);
      if (!IsBlank(line)) return true;
    }
    return false;
  }

  void SkipByteOrderMark(std::string& line) const {
    if (line.starts_with(kUtf8Bom)) line.erase(0, kUtf8Bom.size());
    if (line.starts_with("\xFF\xFE") || line.starts_with("\xFE\xFF")) Fail("UTF-16 text: save the file as UTF-8 CSV");
  }

  // The fields of a line, separated by commas.
  std::vector<std::string> SplitLine(const std::string& line) const {
    std::vector<std::string> fields;
    size_t pos = 0;
    while (true) {
      fields.push_back(NextField(line, pos, fields.size()));
      if (pos == line.size()) return fields;
      ++pos;  // the comma
    }
  }

  // The field `index` that starts at `pos`, trimmed; leaves `pos` at the comma after it or the end.
  std::string NextField(const std::string& line, size_t& pos, size_t index) const {
    while (pos < line.size() && IsSpace(line[pos])) ++pos;
    if (pos < line.size() && line[pos] == '"') return QuotedField(line, pos, index);
    size_t end = std::min(line.find(',', pos), line.size());
    std::string field = Trim(std::string_view(line).substr(pos, end - pos));
    if (field.find('"') != std::string::npos) Fail(FieldName(index) + ": stray quote in " + Quote(field));
    pos = end;
    return field;
  }

  // A field in double quotes starting at `pos`; "" inside stands for one quote.
  std::string QuotedField(const std::string& line, size_t& pos, size_t index) const {
    std::string field;
    for (++pos; pos < line.size(); ++pos) {
      if (line[pos] != '"') {
        field += line[pos];
      } else if (pos + 1 < line.size() && line[pos + 1] == '"') {
        field += line[++pos];
      } else {
        break;
      }
    }
    if (pos == line.size()) Fail(FieldName(index) + ": no closing quote (a field cannot span lines)");
    ++pos;
    while (pos < line.size() && IsSpace(line[pos])) ++pos;
    if (pos < line.size() && line[pos] != ',') Fail(FieldName(index) + ": text after the closing quote");
    return Trim(field);
  }

  std::string FieldName(size_t index) const {
    if (index < header_.size()) return "column " + header_[index];
    return "field " + std::to_string(index + 1);
  }

  std::istream& in_;
  std::string file_name_;
  std::string expected_columns_;  // for the message on an empty file
  int line_number_ = 0;
  int header_line_ = 0;
  std::vector<std::string> header_;
  std::vector<std::string> row_;
};

bool ValidVendor(const std::string& vendor) {
  return !vendor.empty() && vendor.size() <= 32 && std::all_of(vendor.begin(), vendor.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

// The node's vendor: the column's value, or nvidia without one.
std::string VendorOfRow(const CsvReader& csv) {
  std::string vendor = csv.HasColumn("vendor") ? csv.Text("vendor") : "";
  if (vendor.empty()) return kDefaultVendor;
  if (!ValidVendor(vendor)) csv.FailValue("vendor", "is not a vendor name (lower-case letters and digits)");
  return vendor;
}

int ModelIndex(const CsvReader& csv, NodeList& list, const std::string& model, const std::string& vendor) {
  auto it = std::find(list.model_names.begin(), list.model_names.end(), model);
  if (it != list.model_names.end()) {
    size_t at = static_cast<size_t>(it - list.model_names.begin());
    if (list.model_vendors[at] != vendor)
      csv.Fail("model " + Quote(model) + " is " + Quote(list.model_vendors[at]) + "'s, not " + Quote(vendor) + "'s");
    return static_cast<int>(at);
  }
  list.model_names.push_back(model);
  list.model_vendors.push_back(vendor);
  return static_cast<int>(list.model_names.size()) - 1;
}

NodeSpec NodeOfRow(const CsvReader& csv, NodeList& list) {
  NodeSpec node;
  node.name = csv.Text("sn");
  node.cpu_milli = *csv.Count("cpu_milli");
  node.memory_mib = *csv.Count("memory_mib");
  int64_t gpus = *csv.Count("gpu");
  if (gpus > kMaxGpusPerNode) csv.FailValue("gpu", "exceeds 64 GPUs per node");
  node.gpu_count = static_cast<int>(gpus);
  const std::string& model = csv.Text("model");
  if (gpus > 0 && model.empty()) csv.Fail("column model: empty, but gpu is " + Quote(csv.Text("gpu")));
  std::string vendor = VendorOfRow(csv);
  if (!model.empty()) {
    node.gpu_model = ModelIndex(csv, list, model, vendor);
    if (list.model_names.size() > kMaxGpuModels) csv.FailValue("model", "is a GPU model beyond the 64 allowed");
    node.gpu_memory_mib = KnownGpuMemoryMib(model);
  }
  return node;
}

// The models of `vendor` (a bit set of `nodes.model_names`).
uint64_t ModelsOfVendor(const CsvReader& csv, const NodeList& nodes, const std::string& vendor) {
  uint64_t models = 0;
  for (size_t m = 0; m < nodes.model_vendors.size(); ++m) {
    if (nodes.model_vendors[m] == vendor) models |= uint64_t{1} << m;
  }
  if (models == 0) csv.FailValue("gpu_spec", "names vendor " + Quote(vendor) + ", whose devices no node has");
  return models;
}

// The models a pod may use (a bit set of `nodes.model_names`; 0 = any).
uint64_t AllowedModels(const CsvReader& csv, const NodeList& nodes) {
  if (!csv.HasColumn("gpu_spec")) return 0;
  uint64_t allowed = 0;
  for (const std::string& model : SplitModels(csv.Text("gpu_spec"))) {
    if (model.empty()) continue;
    if (model.rfind(kVendorPrefix, 0) == 0) {
      allowed |= ModelsOfVendor(csv, nodes, model.substr(kVendorPrefix.size()));
      continue;
    }
    auto it = std::find(nodes.model_names.begin(), nodes.model_names.end(), model);
    if (it == nodes.model_names.end())
      csv.FailValue("gpu_spec", "names GPU model " + Quote(model) + ", which no node has");
    allowed |= uint64_t{1} << (it - nodes.model_names.begin());
  }
  return allowed;
}

PodRequest RequestOfRow(const CsvReader& csv, const NodeList& nodes) {
  PodRequest r;
  r.cpu_milli = *csv.Count("cpu_milli");
  r.memory_mib = *csv.Count("memory_mib");
  int64_t gpus = *csv.Count("num_gpu");
  if (gpus > kMaxGpusPerNode) csv.FailValue("num_gpu", "exceeds 64 GPUs per node");
  r.num_gpu = static_cast<int>(gpus);
  r.gpu_milli = *csv.Count("gpu_milli");
  if (r.gpu_milli > kMilliPerGpu) csv.FailValue("gpu_milli", "is over 1000 (a whole GPU)");
  r.allowed_models = AllowedModels(csv, nodes);
  if (std::string why = ValidateRequest(r); !why.empty()) {
    csv.Fail("num_gpu " + Quote(csv.Text("num_gpu")) + " with gpu_milli " + Quote(csv.Text("gpu_milli")) + ": " + why);
  }
  return r;
}

// A time column's value: -1 when the column or the value is missing, unless `times` requires it.
int64_t TimeOfRow(const CsvReader& csv, const std::string& column, PodTimes times) {
  if (!csv.HasColumn(column)) return -1;
  std::optional<int64_t> time = csv.Count(column, true);
  if (!time && times == PodTimes::kRequired) {
    csv.Fail("column " + column + ": empty (the time-based replay needs every pod's creation and deletion time)");
  }
  return time.value_or(-1);
}

PodRecord PodOfRow(const CsvReader& csv, const NodeList& nodes, PodTimes times) {
  PodRecord pod;
  pod.name = csv.Text("name");
  pod.line = csv.line_number();
  pod.request = RequestOfRow(csv, nodes);
  pod.creation_time = TimeOfRow(csv, "creation_time", times);
  pod.deletion_time = TimeOfRow(csv, "deletion_time", times);
  if (pod.creation_time >= 0 && pod.deletion_time >= 0 && pod.deletion_time < pod.creation_time) {
    csv.FailValue("deletion_time", "is before creation_time " + Quote(csv.Text("creation_time")));
  }
  return pod;
}

template <typename Read>
auto ReadFile(const std::string& path, Read read) {
  std::ifstream in(path);
  if (!in) throw TraceError(path + ": cannot open (" + std::strerror(errno) + ")");
  return read(in);
}

}  // namespace

NodeList ParseNodeCsv(std::istream& in, const std::string& file_name) {
  CsvReader csv(in, file_name, kNodeColumns);
  csv.ReadHeader({"sn", "cpu_milli", "memory_mib", "gpu", "model"});
  NodeList list;
  int64_t gpus = 0;
  while (csv.NextRow()) {
    list.nodes.push_back(NodeOfRow(csv, list));
    gpus += list.nodes.back().gpu_count;
  }
  if (list.nodes.empty()) throw TraceError(file_name + ": no nodes, only a header");
  if (gpus == 0) throw TraceError(file_name + ": no node has a GPU");
  return list;
}

std::vector<PodRecord> ParsePodCsv(std::istream& in, const std::string& file_name, const NodeList& nodes,
                                   PodTimes times) {
  CsvReader csv(in, file_name, kPodColumns);
  csv.ReadHeader({"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"});
  if (times == PodTimes::kRequired) {
    for (const char* column : {"creation_time", "deletion_time"}) {
      csv.RequireColumn(column, " (the time-based replay needs creation_time and deletion_time)");
    }
  }
  std::vector<PodRecord> pods;
  while (csv.NextRow()) pods.push_back(PodOfRow(csv, nodes, times));
  if (pods.empty()) throw TraceError(file_name + ": no pods, only a header");
  return pods;
}

NodeList ReadNodeCsv(const std::string& path) {
  return ReadFile(path, [&](std::istream& in) { return ParseNodeCsv(in, path); });
}

std::vector<PodRecord> ReadPodCsv(const std::string& path, const NodeList& nodes, PodTimes times) {
  return ReadFile(path, [&](std::istream& in) { return ParsePodCsv(in, path, nodes, times); });
}

}  // namespace vxpu::sched
