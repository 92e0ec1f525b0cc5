// Reading the openb trace CSVs (Alibaba cluster-trace-gpu-v2023, as released with the FGD
// artifact) into the cluster model. Columns are found by their header names, so their order does
// not matter, and columns not listed here are ignored. What spreadsheets write is read too: a
// UTF-8 byte-order mark, spaces around names and fields, fields in double quotes (a doubled quote
// inside stands for one; a quoted comma stays in the field, so "1,000" is not a number). Any bad
// input throws TraceError whose message names the file, the line, the column and the bad value;
// nothing is silently dropped or guessed.
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
  std::vector<std::string> model_names;    // NodeSpec::gpu_model indexes this
  std::vector<std::string> model_vendors;  // each model's vendor ("nvidia", "huawei", ...)
};

struct PodRecord {
  std::string name;
  PodRequest request;
  int64_t creation_time = -1;  // seconds; -1 when the trace gives none
  int64_t deletion_time = -1;
  int line = 0;  // in the CSV, for messages
};

// Whether every pod must have a creation and a deletion time (the time-based replay needs them).
enum class PodTimes { kOptional, kRequired };

// Nodes: sn,cpu_milli,memory_mib,gpu,model[,vendor]. At least one node must have a device.
// `vendor` names who makes the node's devices (lower case: nvidia, huawei; empty or no column:
// nvidia); a model is one vendor's.
NodeList ParseNodeCsv(std::istream& in, const std::string& file_name);
// Pods: name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec][,creation_time,deletion_time].
// `gpu_spec` lists allowed models separated by '|', each a model of `nodes` or `vendor:NAME` (any
// model of that vendor's); without the column (or with an empty field) any model will do. The times are seconds; an
// empty field or a missing column is -1, unless `times` is kRequired.
std::vector<PodRecord> ParsePodCsv(std::istream& in, const std::string& file_name, const NodeList& nodes,
                                   PodTimes times = PodTimes::kOptional);

NodeList ReadNodeCsv(const std::string& path);
std::vector<PodRecord> ReadPodCsv(const std::string& path, const NodeList& nodes, PodTimes times = PodTimes::kOptional);

}  // namespace vxpu::sched
