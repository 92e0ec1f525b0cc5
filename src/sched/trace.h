// Reading the openb trace CSVs (Alibaba cluster-trace-gpu-v2023, as released with the FGD
// artifact) into the cluster model. Columns are found by their header names, so their order does
// not matter. Any bad input throws TraceError whose message names the file, the line and the bad
// value; nothing is silently dropped or guessed.
#pragma once

#include <cstdint>
#include <istream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sched/model.h"

namespace vxpu::sched {

class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NodeList {
  std::vector<NodeSpec> nodes;
  std::vector<std::string> model_names;  // NodeSpec::gpu_model indexes this
};

struct PodRecord {
  std::string name;
  PodRequest request;
  int64_t creation_time = -1;  // seconds; -1 when the trace gives none
  int64_t deletion_time = -1;
  int line = 0;  // in the CSV, for messages
};

// Nodes: sn,cpu_milli,memory_mib,gpu,model.
NodeList ParseNodeCsv(std::istream& in, const std::string& file_name);
// Pods: name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec[,creation_time,deletion_time,...].
// `gpu_spec` lists allowed models separated by '|'; each must be a model of `nodes`.
std::vector<PodRecord> ParsePodCsv(std::istream& in, const std::string& file_name, const NodeList& nodes);

NodeList ReadNodeCsv(const std::string& path);
std::vector<PodRecord> ReadPodCsv(const std::string& path, const NodeList& nodes);

}  // namespace vxpu::sched
