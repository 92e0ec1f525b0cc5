// libFuzzer target for the device IDs kubelet sends the device plugin (src/node/gpu_units.h):
// ParseUnitId, SliceForUnits (Allocate) and PreferredUnits (GetPreferredAllocation), fed IDs
// from untrusted bytes: the first byte is the allocation size, the second how many of the IDs are
// must_include, the rest newline-separated IDs (the protobuf framing around them is Debian's
// protobuf's to parse). Besides "never crashes", it checks what they promise:
//   - a refusal comes with an error, on one line;
//   - an accepted slice holds exactly the units it was given, 1-9 of one GPU or all of whole
//     GPUs, with compute 10% per unit and a memory quota below its units' share;
//   - a preferred allocation has no repeats, only offered IDs, every must_include one, and at
//     most `size` of them.
// Built as scripts/fuzz.sh's gpu_units_fuzz and, with fuzz/corpus_driver.cc, as the ctest
// agent_api.GpuUnitsFuzzCorpus over fuzz/corpus/gpu_units.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "node/gpu_units.h"

namespace {

using vxpu_fuzz::CheckRefusal;

std::vector<vxpu::DeviceView> Devices() {
  std::vector<vxpu::DeviceView> devices;
  for (unsigned i = 0; i < 3; ++i) {
    vxpu::DeviceView d;
    d.index = i;
    d.uuid = "GPU-" + std::to_string(i);
    d.memory_total = (i + 1) * (4ull << 30);
    devices.push_back(d);
  }
  return devices;
}

void CheckSlice(const std::vector<std::string>& ids, const std::vector<vxpu::DeviceView>& devices) {
  std::string error;
  auto spec = vxpu::SliceForUnits(ids, devices, 512ull << 20, &error);
  if (!spec) return CheckRefusal(error, "SliceForUnits");
  std::set<std::string> given(ids.begin(), ids.end()), held;
  for (const vxpu::UnitId& id : vxpu::HeldUnits(vxpu::SliceRecord{*spec, 0, false, {}}))
    held.insert(vxpu::UnitIdText(id));
  FUZZ_CHECK(given.size() == ids.size() && held == given, spec->name);
  FUZZ_CHECK(spec->owner.kubelet && spec->compute && spec->memory_limit, spec->name);
  size_t per_device = ids.size() / spec->devices.size();
  FUZZ_CHECK(spec->devices.size() == 1 || per_device == vxpu::kUnitsPerGpu, spec->name);
  FUZZ_CHECK(spec->compute->guarantee_permille == per_device * 100, spec->name);
  for (const vxpu::DeviceView& d : devices) {
    if (std::find(spec->devices.begin(), spec->devices.end(), d.uuid) == spec->devices.end()) continue;
    FUZZ_CHECK(*spec->memory_limit < d.memory_total / vxpu::kUnitsPerGpu * per_device, spec->name);
  }
}

void CheckPreferred(const std::vector<std::string>& available, const std::vector<std::string>& must, size_t size,
                    const std::vector<vxpu::DeviceView>& devices) {
  std::vector<std::string> chosen = vxpu::PreferredUnits(available, must, size, devices);
  std::set<std::string> unique(chosen.begin(), chosen.end());
  FUZZ_CHECK(unique.size() == chosen.size() && chosen.size() <= size, "repeats or too many");
  for (const std::string& id : chosen) {
    bool offered = std::find(available.begin(), available.end(), id) != available.end() ||
                   std::find(must.begin(), must.end(), id) != must.end();
    FUZZ_CHECK(offered, id);
  }
  std::set<std::string> musts(must.begin(), must.end());
  if (musts.size() <= size) {
    for (const std::string& id : musts) FUZZ_CHECK(unique.count(id), "must_include " + id + " left out");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t allocation = data[0] % 32, musts = data[1] % 8;
  std::vector<std::string> ids;
  std::string current;
  for (size_t i = 2; i < size && ids.size() < 64; ++i) {
    if (data[i] == '\n') {
      ids.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  ids.push_back(current);
  for (const std::string& id : ids) {
    std::string error;
    if (!vxpu::ParseUnitId(id, &error)) CheckRefusal(error, "ParseUnitId");
  }
  std::vector<vxpu::DeviceView> devices = Devices();
  CheckSlice(ids, devices);
  musts = std::min(musts, ids.size());
  std::vector<std::string> must(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(musts));
  std::vector<std::string> available(ids.begin() + static_cast<std::ptrdiff_t>(musts), ids.end());
  available.insert(available.end(), must.begin(), must.end());  // kubelet's available includes them
  CheckPreferred(available, must, allocation, devices);
  return 0;
}
