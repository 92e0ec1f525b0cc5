#include "slice/slice_request.h"

#include <cstdint>
#include <optional>

#include "common/units.h"
#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

// `flag`'s share in permille; nullopt with *error naming the flag and the value.
std::optional<uint32_t> Share(const char* flag, const std::string& text, std::string* error) {
  auto permille = ParseSharePermille(text, error);
  if (!permille)
    *error = std::string(flag) + ": bad value \"" + text + "\" (want a percentage of one device, 0.1 to 100)";
  return permille;
}

// The options that only mean something with --compute, as given without it ("" if none).
std::string ComputeOnlyOptionsGiven(const SliceRequest& r) {
  std::string given;
  auto add = [&given](bool present, const char* flag) {
    if (present) given += (given.empty() ? "" : ", ") + std::string(flag);
  };
  add(!r.compute_limit.empty(), "--compute-limit");
  add(r.strict, "--strict");
  add(r.priority != "normal", "--priority");
  add(r.compute_step != "10", "--compute-step");
  return given;
}

// Checks the compute options; on success *terms holds the slice's terms (request 0: no compute
// slice) and *limit the ceiling to pass on ("" for none).
bool ValidCompute(const SliceRequest& r, ComputeTerms* terms, std::string* limit, std::string* error) {
  *limit = r.strict ? r.compute : r.compute_limit;
  if (r.priority != "normal" && r.priority != "high") {
    *error = "--priority: bad value \"" + r.priority + "\" (want normal or high)";
    return false;
  }
  if (r.compute.empty()) {
    std::string given = ComputeOnlyOptionsGiven(r);
    if (!given.empty()) *error = given + (given.find(',') == std::string::npos ? " needs" : " need") + " --compute";
    return error->empty();
  }
  if (r.strict && !r.compute_limit.empty()) {
    *error = "--strict and --compute-limit contradict each other (--strict means limit = --compute)";
    return false;
  }
  auto request = Share("--compute", r.compute, error);
  auto step = request ? Share("--compute-step", r.compute_step, error) : std::nullopt;
  if (!request || !step) return false;
  if (*request % *step != 0) {
    *error = "--compute " + r.compute + " is not a multiple of the " + r.compute_step +
             "% step (--compute-step sets a finer one)";
    return false;
  }
  terms->request = *request;
  terms->high_priority = r.priority == "high";
  if (limit->empty()) return true;
  auto ceiling = Share("--compute-limit", *limit, error);
  if (!ceiling) return false;
  if (*ceiling < *request) *error = "--compute-limit " + *limit + " is below --compute " + r.compute;
  terms->limit = *ceiling;
  return error->empty();
}

}  // namespace

bool CheckRequest(const SliceRequest& request, int pid, CheckedRequest* out, std::string* error) {
  if (!ValidCompute(request, &out->compute, &out->compute_limit, error)) return false;
  if (request.memory.empty() && request.compute.empty()) {
    *error = "give --memory, --compute or both";
    return false;
  }
  if (!request.memory.empty() && !ParseMemoryQuota(request.memory, UINT64_MAX, error)) {
    *error = "--memory: " + *error;
    return false;
  }
  out->slice = request.name_given ? request.name : "run-" + std::to_string(pid);
  if (!SliceLedger::ValidSliceName(out->slice)) {
    *error = "--name: bad slice name \"" + out->slice + "\" (want 1-64 of A-Z a-z 0-9 . _ -)";
    return false;
  }
  out->compute.slice = out->slice;
  return true;
}

}  // namespace vxpu
