// libFuzzer target for the agent API's parsers (src/node/slice.h): the POST /v1/slices body
// (ParseSliceRequest) and the registry's stored records (SliceRecordFromJson), both fed the same
// untrusted bytes. Besides "never crashes", it checks what the parsers promise:
//   - a refusal comes with an error;
//   - an accepted request holds the contract's ranges (name, 1-64 distinct devices, memory or
//     compute, guarantee 1..1000 permille, limit guarantee..1000, one kind of owner);
//   - SliceRequestJson(spec) parses back to the same terms and owner, and a record made from the
//     spec survives SliceRecordToJson -> text -> SliceRecordFromJson unchanged;
//   - an accepted stored record round-trips the same way, and its request form is accepted.
// A broken promise aborts (a "crash" to libFuzzer; a failed test to the corpus driver).
//
// The parser bugs fuzzing found (docs/fuzzing.md, "Findings") are fixed; each keeps its check here.
//
// Built two ways: with clang -fsanitize=fuzzer,address,undefined by scripts/fuzz.sh, and with the
// normal compiler plus fuzz/corpus_driver.cc as the ctest agent_api.FuzzCorpus, which runs every
// file of fuzz/corpus/agent_api through this same function.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fuzz_check.h"
#include "interposer/slice_ledger.h"
#include "node/slice.h"

namespace {

using nlohmann::json;

using vxpu_fuzz::CheckRefusal;
using vxpu_fuzz::Fail;

// A finding of an earlier run, fixed: seen again, it aborts like any broken promise.
void KnownBug(bool violated, const char* id, const std::string& detail) {
  if (violated) Fail(id, detail);
}

std::string Describe(const vxpu::SliceSpec& s) {
  std::string out = "name=" + s.name + " devices=" + std::to_string(s.devices.size());
  out += " memory=" + (s.memory_limit ? std::to_string(*s.memory_limit) : std::string("none"));
  if (s.compute) {
    out += " compute=" + std::to_string(s.compute->guarantee_permille) + "/" +
           std::to_string(s.compute->limit_permille) + (s.compute->high_priority ? " high" : " normal");
  }
  out += " owner=" + (s.owner.is_pod() ? s.owner.pod_namespace + "/" + s.owner.pod + "/" + s.owner.container
                                       : "pid " + std::to_string(s.owner.pid) + " job " + s.owner.job);
  out += " pid_start=" + std::to_string(s.owner.pid_start) + " uid=" + std::to_string(s.owner.uid);
  return out;
}

// FNV-1a: values for the record's agent-filled fields, derived from the input so they vary.
uint64_t Hash(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

// What every accepted spec must hold, whatever it came from.
void CheckSpecRanges(const vxpu::SliceSpec& s, bool stored) {
  const std::string d = Describe(s);
  FUZZ_CHECK(vxpu::SliceLedger::ValidSliceName(s.name), d);
  FUZZ_CHECK(!s.devices.empty() && s.devices.size() <= 64, d);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    FUZZ_CHECK(!s.devices[i].empty(), d);
    for (size_t k = 0; k < i; ++k) FUZZ_CHECK(s.devices[i] != s.devices[k], d);
  }
  FUZZ_CHECK(s.memory_limit || s.compute, d);
  if (s.memory_limit) FUZZ_CHECK(*s.memory_limit > 0, d);
  if (s.compute) {
    // Finding 1 (fixed): a guarantee of 1e-7 passed the 0.1-step check and became 0 permille.
    KnownBug(s.compute->guarantee_permille == 0, "finding 1: compute guarantee 0 accepted", d);
    FUZZ_CHECK(s.compute->guarantee_permille <= 1000, d);
    FUZZ_CHECK(s.compute->limit_permille >= s.compute->guarantee_permille && s.compute->limit_permille <= 1000, d);
  }
  if (s.owner.is_pod()) {
    FUZZ_CHECK(s.owner.pid == 0 && !s.owner.pod_namespace.empty() && !s.owner.container.empty(), d);
    FUZZ_CHECK(s.owner.pid_start == 0 && s.owner.uid == 0 && s.owner.job.empty(), d);
  } else {
    FUZZ_CHECK(s.owner.pid > 0 && s.owner.pod_namespace.empty() && s.owner.container.empty(), d);
    if (!stored) FUZZ_CHECK(s.owner.pid_start == 0 && s.owner.uid == 0, d);  // the agent's to fill
    // A batch job: "<scheduler>:<id>", 1-64 characters, the colon neither first nor last.
    const std::string& job = s.owner.job;
    FUZZ_CHECK(job.empty() ||
                   (job.size() <= 64 && job.find(':') != std::string::npos && job.front() != ':' && job.back() != ':'),
               d);
  }
}

// The request form of `spec` parses back to the same terms and owner (pid_start and uid are not
// part of a request).
void CheckRequestRoundTrip(const vxpu::SliceSpec& spec) {
  const std::string body = vxpu::SliceRequestJson(spec);
  std::string error;
  std::optional<vxpu::SliceSpec> back = vxpu::ParseSliceRequest(body, &error);
  FUZZ_CHECK(back.has_value(), "SliceRequestJson output refused: " + error + "\n  body: " + body);
  FUZZ_CHECK(back->SameTerms(spec), Describe(spec) + "\n  came back as " + Describe(*back));
  vxpu::SliceOwner owner = spec.owner;
  owner.pid_start = 0;
  owner.uid = 0;
  FUZZ_CHECK(back->owner == owner, Describe(spec) + "\n  came back as " + Describe(*back));
  FUZZ_CHECK(vxpu::SliceRequestJson(*back) == body, "second SliceRequestJson differs from the first: " + body);
}

bool SameRecord(const vxpu::SliceRecord& a, const vxpu::SliceRecord& b) {
  return a.spec.SameTerms(b.spec) && a.spec.owner == b.spec.owner && a.created_unix == b.created_unix &&
         a.discovered == b.discovered && a.joined == b.joined;
}

// SliceRecordToJson -> text (as the registry stores it) -> SliceRecordFromJson gives the record back.
void CheckRecordRoundTrip(const vxpu::SliceRecord& record) {
  const std::string text = vxpu::SliceRecordToJson(record).dump();
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!parsed.is_discarded(), "SliceRecordToJson output is not JSON: " + text);
  std::string error;
  std::optional<vxpu::SliceRecord> back = vxpu::SliceRecordFromJson(parsed, &error);
  FUZZ_CHECK(back.has_value(), "SliceRecordToJson output refused: " + error + "\n  record: " + text);
  FUZZ_CHECK(SameRecord(record, *back), "record changed in a round trip\n  stored: " + text +
                                            "\n  read: " + vxpu::SliceRecordToJson(*back).dump());
}

void FuzzRequest(const uint8_t* data, size_t size, const std::string& body) {
  std::string error;
  std::optional<vxpu::SliceSpec> spec = vxpu::ParseSliceRequest(body, &error);
  if (!spec) {
    CheckRefusal(error, "ParseSliceRequest");
    return;
  }
  CheckSpecRanges(*spec, /*stored=*/false);
  CheckRequestRoundTrip(*spec);

  // A record as the agent would make of it: it fills pid_start and uid of a process owner.
  const uint64_t h = Hash(data, size);
  vxpu::SliceRecord record{*spec, static_cast<int64_t>(h), (h & 1) != 0, {}};
  if (!record.spec.owner.is_pod()) {
    record.spec.owner.pid_start = h >> 7;
    record.spec.owner.uid = static_cast<uint32_t>(h >> 17);
  }
  for (uint64_t i = 0; i < ((h >> 3) & 3); ++i) {
    record.joined.push_back(vxpu::SliceHolder{static_cast<int32_t>(1 + ((h >> (8 * i)) & 0x3fffffff)), h ^ i});
  }
  CheckRecordRoundTrip(record);
}

// Findings 3 and 4 (fixed): a stored record's numbers come through unchanged (none cut down to
// fit: owner.uid over 2^32-1, a joined pid over 2^31-1 or not positive, created_unix over
// 2^63-1 are refused) and no unknown top-level field is accepted.
void CheckStoredValuesKept(const json& in, const vxpu::SliceRecord& r) {
  const std::string d = in.dump();
  for (const auto& [key, value] : in.items()) {
    bool known = false;
    for (const char* k :
         {"name", "devices", "memory_limit_bytes", "compute", "owner", "created_unix", "discovered", "joined", "usage"})
      known = known || key == k;
    KnownBug(!known, "finding 4: unknown stored field accepted", d);
  }
  const json& owner = in.at("owner");
  if (owner.contains("uid")) KnownBug(owner.at("uid") != json(r.spec.owner.uid), "finding 3: owner.uid changed", d);
  if (owner.contains("pid_start"))
    KnownBug(owner.at("pid_start") != json(r.spec.owner.pid_start), "finding 3: owner.pid_start changed", d);
  KnownBug(in.at("created_unix") != json(r.created_unix), "finding 3: created_unix changed", d);
  if (in.contains("joined")) {
    for (size_t i = 0; i < r.joined.size(); ++i) {
      const json& h = in.at("joined").at(i);
      KnownBug(h.at("pid") != json(r.joined[i].pid) || r.joined[i].pid <= 0, "finding 3: joined pid changed", d);
    }
  }
}

void FuzzStoredRecord(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string error;
  std::optional<vxpu::SliceRecord> record = vxpu::SliceRecordFromJson(parsed, &error);
  if (!record) {
    CheckRefusal(error, "SliceRecordFromJson");
    return;
  }
  FUZZ_CHECK(parsed.is_object(), "a record from a non-object: " + text);
  CheckSpecRanges(record->spec, /*stored=*/true);
  CheckStoredValuesKept(parsed, *record);
  CheckRecordRoundTrip(*record);
  CheckRequestRoundTrip(record->spec);  // what is stored can be asked for again
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  FuzzRequest(data, size, text);
  FuzzStoredRecord(text);
  return 0;
}
