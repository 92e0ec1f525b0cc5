// vxpu_spank.so: the SPANK plugin that puts each Slurm job step under a vxpu slice
// (docs/slurm.md). Loaded by srun, sbatch and salloc, which check the --vxpu-* options before
// the job is submitted, and by each step's slurmstepd, which sets the slice up once per step
// (as root, before any task starts: the slice component admits and registers it, owned by the
// step daemon and naming the job) and puts it into the environment every task of the step
// starts with. A step whose slice cannot be set up fails; it never runs unlimited.
#include <dlfcn.h>
#include <unistd.h>
extern "C" {  // spank.h declares C functions without saying so
#include <slurm/spank.h>
}

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "backend/paths.h"
#include "common/state_dir.h"
#include "slice/slice_setup.h"
#include "slurm/job_slice.h"

// SPANK_PLUGIN defines these as const, which C++ would keep inside the library: declared extern first.
extern "C" {
extern const char plugin_name[];
extern const char plugin_type[];
extern const unsigned int plugin_version;
extern const unsigned int spank_plugin_version;
SPANK_PLUGIN(vxpu, 1)
}

namespace {

vxpu::JobOptions g_options;  // this process's job's --vxpu-* options
std::string g_refusal;       // why the options or the step's slice are refused, once known

// The options' `val`s index this table.
struct OptionSpec {
  const char* name;
  const char* arginfo;
  const char* usage;
  std::string vxpu::JobOptions::*field;
};
const OptionSpec kOptions[] = {
    {"vxpu-memory", "SIZE", "vxpu: device memory per GPU for the step's slice (8GiB, 25%)", &vxpu::JobOptions::memory},
    {"vxpu-compute", "PCT", "vxpu: guaranteed share of each GPU's time, in 10% steps (30)", &vxpu::JobOptions::compute},
    {"vxpu-compute-limit", "PCT", "vxpu: most of each GPU's time the step may take (default 100)",
     &vxpu::JobOptions::compute_limit},
    {"vxpu-priority", "normal|high", "vxpu: high: the step's kernels go first, within its share",
     &vxpu::JobOptions::priority},
};

// srun, sbatch or salloc with a bad option: one line saying why, and no job. (Failing the
// option or init_post_opt instead makes Slurm add two lines of its own, neither saying why.)
[[noreturn]] void RefuseSubmission(const std::string& error) {
  slurm_error("vxpu: %s", error.c_str());
  std::exit(1);
}

int OnOption(int val, const char* optarg, int remote) {
  if (val < 0 || val >= static_cast<int>(std::size(kOptions))) return -1;
  std::string value = optarg != nullptr ? optarg : "";
  std::string error;
  if (!vxpu::CheckJobOption(kOptions[val].name, value, &error)) {
    if (!remote) RefuseSubmission(error);
    g_refusal = error;
    return 0;
  }
  g_options.*kOptions[val].field = value;
  return 0;
}

// A variable of the job's environment, nullopt if unset (a long PATH-like value is read whole:
// an entry prepended to it must not drop the rest).
std::optional<std::string> JobEnv(spank_t sp, const std::string& name) {
  for (size_t size = 1 << 12; size <= (1 << 24); size *= 4) {
    std::vector<char> value(size);
    spank_err_t rc = spank_getenv(sp, name.c_str(), value.data(), static_cast<int>(value.size()));
    if (rc == ESPANK_SUCCESS) return std::string(value.data());
    if (rc != ESPANK_NOSPACE) return std::nullopt;
  }
  return std::nullopt;
}

// vxpu's library directory, when the plugin is loaded into Slurm's programs: its own.
std::string PluginDir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&OnOption), &info) == 0 || info.dli_fname == nullptr) return ".";
  std::string path = info.dli_fname;
  return path.substr(0, path.find_last_of('/'));
}

vxpu::StepFacts FactsOf(spank_t sp) {
  vxpu::StepFacts step;
  spank_get_item(sp, S_JOB_ID, &step.job_id);
  spank_get_item(sp, S_JOB_STEPID, &step.step_id);
  step.gpus = JobEnv(sp, "CUDA_VISIBLE_DEVICES");
  step.shards = JobEnv(sp, "SLURM_SHARDS_ON_NODE");
  step.slice = JobEnv(sp, "VXPU_SLICE");
  step.terms = JobEnv(sp, vxpu::kTermsVariable);
  return step;
}

std::optional<std::string> Own(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

// The node's settings the tasks must share with this daemon, whatever the submitter's
// environment said: the state directory, and which simulated devices the node has.
bool NodeSettings(bool sim, vxpu::EnvChanges* changes, std::string* error) {
  std::string state_dir;
  if (!vxpu::StateDir(&state_dir, error)) return false;
  (*changes)["VXPU_STATE_DIR"] = state_dir;
  if (sim) {
    (*changes)["VXPU_SIMGPU_CONFIG"] = Own("VXPU_SIMGPU_CONFIG");
    (*changes)["VXPU_SIMNPU_CONFIG"] = Own("VXPU_SIMNPU_CONFIG");
  }
  return true;
}

bool Apply(spank_t sp, const vxpu::EnvChanges& changes, std::string* error) {
  for (const auto& [name, value] : changes) {
    spank_err_t rc = value ? spank_setenv(sp, name.c_str(), value->c_str(), 1) : spank_unsetenv(sp, name.c_str());
    if (rc != ESPANK_SUCCESS) {
      *error = "cannot set " + name + " in the job's environment: " + spank_strerror(rc);
      return false;
    }
  }
  return true;
}

// Sets the step's slice up; false with *error (one line) if it must not run.
bool SetUpStep(spank_t sp, const vxpu::SpankSettings& settings, std::string* error) {
  vxpu::StepFacts step = FactsOf(sp);
  vxpu::StepSlice slice;
  if (!vxpu::StepSliceFor(settings, g_options, step, &slice, error)) return false;
  if (!slice.wanted) return true;
  vxpu::UseLibDir(PluginDir());
  auto lookup = [sp](const std::string& name) { return JobEnv(sp, name); };
  vxpu::EnvChanges changes;
  bool ok = vxpu::SetUpSliceFor(slice.request, lookup, &changes, error);
  if (!ok && slice.joins) {  // the job's slice would not take this step: a slice of its own
    slice.request.name = slice.own_name;
    ok = vxpu::SetUpSliceFor(slice.request, lookup, &changes, error);
  }
  if (!ok || !NodeSettings(settings.sim, &changes, error)) return false;
  changes[vxpu::kTermsVariable] = slice.terms;
  if (!Apply(sp, changes, error)) return false;
  slurm_info("vxpu: job step %s runs in slice %s (memory %s, compute %s)",
             vxpu::StepName(step.job_id, step.step_id).c_str(), slice.request.name.c_str(),
             slice.request.memory.empty() ? "-" : slice.request.memory.c_str(),
             slice.request.compute.empty() ? "-" : (slice.request.compute + "%").c_str());
  return true;
}

}  // namespace

extern "C" {

int slurm_spank_init(spank_t sp, int ac, char** av) {
  (void)ac;
  (void)av;
  for (size_t i = 0; i < std::size(kOptions); ++i) {
    spank_option option{const_cast<char*>(kOptions[i].name),
                        const_cast<char*>(kOptions[i].arginfo),
                        const_cast<char*>(kOptions[i].usage),
                        1,
                        static_cast<int>(i),
                        OnOption};
    if (spank_option_register(sp, &option) != ESPANK_SUCCESS) {
      slurm_error("vxpu: cannot register --%s", kOptions[i].name);
      return -1;
    }
  }
  return 0;
}

// Submitting (srun, sbatch, salloc): the options together, as the step will check them.
// In the step daemon: the slice.
int slurm_spank_init_post_opt(spank_t sp, int ac, char** av) {
  const bool in_step = spank_context() == S_CTX_REMOTE;
  const bool submitting = spank_context() == S_CTX_LOCAL || spank_context() == S_CTX_ALLOCATOR;
  vxpu::SpankSettings settings;
  std::string error;
  bool ok = vxpu::ParseSpankSettings(std::vector<std::string>(av, av + ac), &settings, &error) &&
            (in_step || vxpu::CheckJobOptions(g_options, &error));
  if (!ok && submitting) RefuseSubmission(error);
  if (!in_step) {
    if (!ok) slurm_error("vxpu: %s", error.c_str());
    return ok ? 0 : -1;
  }
  if (g_refusal.empty() && !(ok && SetUpStep(sp, settings, &error))) g_refusal = vxpu::InSlurmWords(error);
  if (!g_refusal.empty()) slurm_error("vxpu: job step refused: %s", g_refusal.c_str());
  return 0;  // each task fails instead (slurm_spank_task_init): the job then fails, saying why
}

// In each task's process, before it executes the job's program: a step whose slice was refused
// runs nothing. The reason goes to the task's standard error (the job's output), and the task
// exits with status 1, so the job fails as a job whose program failed does. (_exit, as
// slurmstepd's task does when a plugin fails, but without its two lines that say no reason.)
int slurm_spank_task_init(spank_t sp, int ac, char** av) {
  (void)sp;
  (void)ac;
  (void)av;
  if (g_refusal.empty()) return 0;
  std::string line = "vxpu: " + g_refusal + "\n";
  ssize_t written = write(STDERR_FILENO, line.data(), line.size());
  (void)written;
  _exit(1);
}

}  // extern "C"
