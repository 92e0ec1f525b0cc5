// How a Slurm job step gets its slice: the plugin's settings (its arguments in plugstack.conf),
// the job's --vxpu-* options and the GPU shards Slurm granted the step become one SliceRequest
// for the slice component (docs/slurm.md). Explicit options win; otherwise a step granted N of a
// GPU's S shards gets N/S of its memory and compute (rounded down to the 10% compute step, never
// below the floor). A step inside a job that already holds a slice of the same terms (the batch
// script's, whose srun steps inherit its environment) joins it; otherwise it gets its own,
// "slurm-<job>.<step>". Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slice/slice_request.h"

namespace vxpu {

struct SpankSettings {
  bool sim = false;            // the simulated devices (simgpu, simnpu) instead of the drivers
  bool shards_memory = true;   // memory follows the shard count
  bool shards_compute = true;  // compute follows the shard count
  unsigned shards_per_gpu = 10;
  unsigned floor_percent = 10;  // the least share of a GPU a shard count turns into
};

// Parses plugstack.conf's arguments: "sim", "shards=memory,compute" (or memory, compute, none),
// "shards_per_gpu=S" (1-1000), "floor=P" (1-100). False with *error naming the bad argument.
bool ParseSpankSettings(const std::vector<std::string>& args, SpankSettings* settings, std::string* error);

// A job's --vxpu-* options, as given ("" for one not given).
struct JobOptions {
  std::string memory;
  std::string compute;
  std::string compute_limit;
  std::string priority;
};

// Checks one option's value as submitted (srun, sbatch, salloc), before any device is known:
// `option` is its name without dashes ("vxpu-memory"). False with *error in one line.
bool CheckJobOption(const std::string& option, const std::string& value, std::string* error);

// Checks the options together where that needs no device nor shard count (a ceiling below the
// guarantee). False with *error in one line.
bool CheckJobOptions(const JobOptions& options, std::string* error);

// What the step daemon knows of the step.
struct StepFacts {
  uint32_t job_id = 0;
  uint32_t step_id = 0;               // Slurm's number, or its batch/extern/interactive markers
  std::optional<std::string> gpus;    // the step's CUDA_VISIBLE_DEVICES (ordinals)
  std::optional<std::string> shards;  // SLURM_SHARDS_ON_NODE
  std::optional<std::string> slice;   // VXPU_SLICE the job's environment already names
  std::optional<std::string> terms;   // and the terms that slice was asked with (kTermsVariable)
};

// Where the plugin leaves a step's terms as asked (StepSlice::terms) in its tasks' environment,
// for the steps they start to compare theirs with.
inline constexpr char kTermsVariable[] = "VXPU_SLURM_TERMS";

// The slice component's messages name vxpu run's options: a job has them as --vxpu-*, and its
// GPUs from Slurm (CUDA_VISIBLE_DEVICES) instead of --device.
std::string InSlurmWords(const std::string& message);

// "123.0", "123.batch", "123.interactive", "123.extern".
std::string StepName(uint32_t job_id, uint32_t step_id);

// The slice the step asks for, in *request; false with *error (one line) if the options or the
// shard count are bad, which fails the step. *wanted is false when the step gets no slice: no
// option and no shard, or the extern step. *joins says the request joins the slice the job
// already holds (a caller that is refused may retry with own_name).
struct StepSlice {
  bool wanted = false;
  SliceRequest request;
  bool joins = false;
  std::string own_name;  // "slurm-<job>.<step>"
  std::string terms;     // the terms as asked, one line: what kTermsVariable holds
};
bool StepSliceFor(const SpankSettings& settings, const JobOptions& options, const StepFacts& step, StepSlice* out,
                  std::string* error);

}  // namespace vxpu
