#include "slurm/job_slice.h"

#include <algorithm>
#include <cstdio>

#include "common/units.h"

namespace vxpu {
namespace {

constexpr uint32_t kInteractiveStep = 0xfffffffa;  // Slurm's step id markers (slurm/slurm.h)
constexpr uint32_t kBatchStep = 0xfffffffb;
constexpr uint32_t kExternStep = 0xfffffffc;

// A whole decimal number in [low, high], nullopt otherwise.
std::optional<unsigned> Whole(const std::string& text, unsigned low, unsigned high) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned value = static_cast<unsigned>(std::stoul(text));
  if (value < low || value > high) return std::nullopt;
  return value;
}

bool ParseShardsFollow(const std::string& value, SpankSettings* s) {
  s->shards_memory = s->shards_compute = false;
  if (value == "none") return true;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = std::min(value.find(',', start), value.size());
    std::string part = value.substr(start, comma - start);
    if (part == "memory") {
      s->shards_memory = true;
    } else if (part == "compute") {
      s->shards_compute = true;
    } else {
      return false;
    }
    start = comma + 1;
  }
  return true;
}

// "37.5", "33.33", "30": a percentage to two decimals, rounded down.
std::string PercentText(double percent) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", static_cast<double>(static_cast<uint64_t>(percent * 100)) / 100);
  std::string s = text;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// Fills in from the shard count what no option gave; an option may ask for less than the shards
// hold, never more (*memory_cap: the share the quota must stay within). False with *error on a
// bad count or an option above the shards.
bool FromShards(const SpankSettings& settings, const StepFacts& step, JobOptions* terms, bool* memory_is_share,
                std::string* memory_cap, std::string* error) {
  auto granted = Whole(*step.shards, 1, 1000000);
  if (!granted) {
    *error = "SLURM_SHARDS_ON_NODE: bad value \"" + *step.shards + "\" (want a whole number of shards)";
    return false;
  }
  if (step.gpus && step.gpus->find(',') != std::string::npos) {
    *error = "the step's " + *step.shards + " shards are on GPUs " + *step.gpus +
             ", in a split vxpu cannot see: give --vxpu-memory and --vxpu-compute";
    return false;
  }
  double percent = std::min(100.0, 100.0 * *granted / settings.shards_per_gpu);
  if (percent < settings.floor_percent) percent = settings.floor_percent;
  if (settings.shards_memory) {
    *memory_cap = PercentText(percent) + "%";  // an explicit quota too stays within the shards
    *memory_is_share = terms->memory.empty();
    if (*memory_is_share) terms->memory = *memory_cap;
  }
  if (!settings.shards_compute) return true;
  unsigned step_down = static_cast<unsigned>(percent) / 10 * 10;
  unsigned floor_up = (settings.floor_percent + 9) / 10 * 10;
  const unsigned held = std::max({10u, step_down, floor_up});
  if (terms->compute.empty()) {
    terms->compute = std::to_string(held);
  } else if (ParseSharePermille(terms->compute, error).value_or(0) > 10 * held) {
    *error = "--vxpu-compute " + terms->compute + " is more than the " + std::to_string(held) + "% the step's " +
             *step.shards + " shards hold";
    return false;
  }
  return true;
}

}  // namespace

std::string InSlurmWords(const std::string& message) {
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message.compare(i, 2, "--") == 0 && (i == 0 || message[i - 1] == ' ' || message[i - 1] == '(')) {
      size_t end = message.find_first_not_of("abcdefghijklmnopqrstuvwxyz-", i + 2);
      std::string word = message.substr(i + 2, end == std::string::npos ? std::string::npos : end - i - 2);
      if (word == "memory" || word == "compute" || word == "compute-limit" || word == "priority") {
        out += "--vxpu-" + word;
        i += 1 + word.size();
        continue;
      }
      if (word == "device") {
        out += "CUDA_VISIBLE_DEVICES";
        i += 1 + word.size();
        continue;
      }
    }
    out += message[i];
  }
  const std::string hint = " (--compute-step sets a finer one)";
  size_t at = out.find(hint);
  if (at != std::string::npos) out.erase(at, hint.size());
  return out;
}

bool ParseSpankSettings(const std::vector<std::string>& args, SpankSettings* settings, std::string* error) {
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    std::string key = arg.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (arg == "sim") {
      settings->sim = true;
    } else if (key == "shards" && eq != std::string::npos) {
      ok = ParseShardsFollow(value, settings);
    } else if (key == "shards_per_gpu" && eq != std::string::npos) {
      auto n = Whole(value, 1, 1000);
      ok = n.has_value();
      if (ok) settings->shards_per_gpu = *n;
    } else if (key == "floor" && eq != std::string::npos) {
      auto n = Whole(value, 1, 100);
      ok = n.has_value();
      if (ok) settings->floor_percent = *n;
    } else {
      *error = "plugstack.conf: unknown argument \"" + arg + "\" (want sim, shards=, shards_per_gpu=, floor=)";
      return false;
    }
    if (!ok) {
      *error = "plugstack.conf: bad value in \"" + arg +
               "\" (shards=memory,compute|memory|compute|none; shards_per_gpu=1-1000; floor=1-100)";
      return false;
    }
  }
  return true;
}

bool CheckJobOption(const std::string& option, const std::string& value, std::string* error) {
  bool ok = false;
  if (option == "vxpu-memory") {
    ok = ParseMemoryQuota(value, UINT64_MAX, error).has_value();
  } else if (option == "vxpu-compute" || option == "vxpu-compute-limit") {
    auto permille = ParseSharePermille(value, error);
    ok = permille && (option == "vxpu-compute-limit" || *permille % 100 == 0);
    if (permille && !ok) *error = "bad value \"" + value + "\" (want a multiple of 10%)";
  } else if (option == "vxpu-priority") {
    ok = value == "normal" || value == "high";
    if (!ok) *error = "bad value \"" + value + "\" (want normal or high)";
  } else {
    *error = "unknown option";
  }
  if (!ok) *error = "--" + option + ": " + *error;
  return ok;
}

bool CheckJobOptions(const JobOptions& options, std::string* error) {
  if (options.compute.empty()) return true;  // shards may give the guarantee: the step checks
  SliceRequest r;
  r.memory = options.memory;
  r.compute = options.compute;
  r.compute_limit = options.compute_limit;
  r.priority = options.priority.empty() ? "normal" : options.priority;
  CheckedRequest checked;
  if (CheckRequest(r, 1, &checked, error)) return true;
  *error = InSlurmWords(*error);
  return false;
}

std::string StepName(uint32_t job_id, uint32_t step_id) {
  std::string step = step_id == kBatchStep         ? "batch"
                     : step_id == kExternStep      ? "extern"
                     : step_id == kInteractiveStep ? "interactive"
                                                   : std::to_string(step_id);
  return std::to_string(job_id) + "." + step;
}

bool StepSliceFor(const SpankSettings& settings, const JobOptions& options, const StepFacts& step, StepSlice* out,
                  std::string* error) {
  *out = StepSlice{};
  if (step.step_id == kExternStep) return true;  // no task of the job runs there
  JobOptions terms = options;
  bool memory_is_share = false;
  std::string memory_cap;
  if (step.shards && !step.shards->empty() && !FromShards(settings, step, &terms, &memory_is_share, &memory_cap, error))
    return false;
  if (terms.memory.empty() && terms.compute.empty() && terms.compute_limit.empty() && terms.priority.empty())
    return true;  // neither option nor shard: a whole GPU's job, or none
  if (step.gpus && (step.gpus->empty() || *step.gpus == "NoDevFiles")) {
    *error = "the step has no GPU to slice (ask for one: --gres=shard:N or --gres=gpu:1)";
    return false;
  }
  const std::string name = StepName(step.job_id, step.step_id);
  SliceRequest& r = out->request;
  r.device = step.gpus.value_or("");
  r.memory = terms.memory;
  r.memory_is_share = memory_is_share;
  r.memory_cap = memory_cap;
  r.compute = terms.compute;
  r.compute_limit = terms.compute_limit;
  r.priority = terms.priority.empty() ? "normal" : terms.priority;
  r.sim = settings.sim;
  r.job = "slurm:" + name;
  out->own_name = "slurm-" + name;
  out->terms = (memory_is_share ? "share " : "") + terms.memory + "|" + terms.compute + "|" + terms.compute_limit +
               "|" + (terms.compute.empty() ? "" : r.priority);
  const std::string job_prefix = "slurm-" + std::to_string(step.job_id) + ".";
  out->joins =
      step.slice && step.slice->rfind(job_prefix, 0) == 0 && *step.slice != out->own_name && step.terms == out->terms;
  r.name = out->joins ? *step.slice : out->own_name;
  r.name_given = true;
  CheckedRequest checked;
  if (!CheckRequest(r, 0, &checked, error)) {
    *error = InSlurmWords(*error);
    return false;
  }
  out->wanted = true;
  return true;
}

}  // namespace vxpu
