#include "node/capacity.h"

#include <algorithm>

#include "common/units.h"
#include "node/gpu_units.h"

namespace vxpu {
namespace {

bool OnDevice(const SliceSpec& spec, const std::string& uuid) {
  return std::find(spec.devices.begin(), spec.devices.end(), uuid) != spec.devices.end();
}

}  // namespace

void Committed(const std::vector<SliceRecord>& slices, const std::string& uuid, uint64_t context_reserve,
               const std::string& except, uint64_t* memory, uint32_t* compute) {
  *memory = 0;
  *compute = 0;
  for (const SliceRecord& r : slices) {
    if (r.spec.name == except || !OnDevice(r.spec, uuid)) continue;
    if (r.spec.memory_limit) *memory = AddCapped(*memory, AddCapped(*r.spec.memory_limit, context_reserve));
    if (r.spec.compute) *compute += r.spec.compute->guarantee_permille;
  }
}

std::string PercentText(uint32_t permille) {
  std::string text = std::to_string(permille / 10);
  if (permille % 10 != 0) text.append(".").append(std::to_string(permille % 10));
  return text.append("%");
}

void FillCapacity(const std::vector<SliceRecord>& slices, uint64_t context_reserve, std::vector<DeviceView>* devices) {
  for (DeviceView& d : *devices) {
    uint64_t memory = 0;
    uint32_t compute = 0;
    Committed(slices, d.uuid, context_reserve, "", &memory, &compute);
    memory = AddCapped(memory, context_reserve);  // the new slice's own context
    d.memory_for_slices = d.memory_total > memory ? d.memory_total - memory : 0;
    d.compute_free_permille = compute >= 1000 ? 0 : 1000 - compute;
    GpuUnits units = UnitsOf(d, slices, context_reserve);
    d.units_free = static_cast<unsigned>(std::count(units.begin(), units.end(), UnitState::kFree));
    d.units_held = static_cast<unsigned>(std::count(units.begin(), units.end(), UnitState::kHeld));
  }
}

}  // namespace vxpu
