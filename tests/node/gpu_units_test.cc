// The Kubernetes resource model (gpu_units.h): unit IDs, the units a node offers beside its
// slices, the slice a set of IDs makes, and the preferred allocation.
#include "node/gpu_units.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kReserve = 512 * kMiB;

DeviceView Gpu(unsigned index, uint64_t memory = 10 * kGiB) {
  DeviceView d;
  d.index = index;
  d.uuid = "GPU-" + std::to_string(index) + "aaaaaaa-0000-4000-8000-000000000000";
  d.memory_total = memory;
  return d;
}

std::string Id(unsigned gpu, unsigned unit) { return UnitIdText(UnitId{Gpu(gpu).uuid, unit}); }

SliceRecord Local(const std::string& device, std::optional<uint64_t> memory, std::optional<uint32_t> compute) {
  SliceRecord r;
  r.spec.name = "local";
  r.spec.devices = {device};
  r.spec.memory_limit = memory;
  if (compute) r.spec.compute = SliceCompute{*compute, 1000, false};
  r.spec.owner.pid = 1;
  return r;
}

TEST(UnitId, ReadsBackWhatItWrites) {
  std::string error;
  auto id = ParseUnitId(Id(0, 7), &error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->device, Gpu(0).uuid);
  EXPECT_EQ(id->unit, 7u);
}

TEST(UnitId, RefusesWhatIsNoUnit) {
  for (const std::string bad : {"", "-u1", "GPU-x", "GPU-x-u", "GPU-x-u10", "GPU-x-ua", "GPU/x-u1", "GPU-x-u1 "}) {
    std::string error;
    EXPECT_FALSE(ParseUnitId(bad, &error)) << bad;
    EXPECT_NE(error.find("bad device ID"), std::string::npos) << error;
  }
}

TEST(UnitsOf, LocalSlicesTakeTheHighestUnitsByComputeOrMemory) {
  DeviceView gpu = Gpu(0);
  // 25% compute: 3 units; 1.5 GiB + 0.5 GiB reserve of 10 GiB: 2 units. The larger counts.
  GpuUnits units = UnitsOf(gpu, {Local(gpu.uuid, 1536 * kMiB, 250)}, kReserve);
  for (unsigned u = 0; u < 7; ++u) EXPECT_EQ(units[u], UnitState::kFree) << u;
  for (unsigned u = 7; u < 10; ++u) EXPECT_EQ(units[u], UnitState::kTaken) << u;
  units = UnitsOf(gpu, {Local(gpu.uuid, 4 * kGiB, std::nullopt)}, kReserve);  // 4.5 GiB: 5 units
  EXPECT_EQ(std::count(units.begin(), units.end(), UnitState::kTaken), 5);
}

TEST(UnitsOf, HeldUnitsAreNotTakenAndAnUnhealthyGpuOffersNone) {
  DeviceView gpu = Gpu(0);
  std::string error;
  auto held = SliceForUnits({Id(0, 9), Id(0, 8)}, {gpu}, kReserve, &error);
  ASSERT_TRUE(held) << error;
  SliceRecord k8s{*held, 0, false, {}};
  GpuUnits units = UnitsOf(gpu, {k8s, Local(gpu.uuid, std::nullopt, 100)}, kReserve);
  EXPECT_EQ(units[9], UnitState::kHeld);
  EXPECT_EQ(units[8], UnitState::kHeld);
  EXPECT_EQ(units[7], UnitState::kTaken);
  EXPECT_EQ(units[6], UnitState::kFree);
  gpu.healthy = false;
  units = UnitsOf(gpu, {}, kReserve);
  EXPECT_EQ(std::count(units.begin(), units.end(), UnitState::kUnhealthy), 10);
}

TEST(SliceForUnits, AFractionOfOneGpu) {
  std::string error;
  auto spec = SliceForUnits({Id(1, 4), Id(1, 0), Id(1, 2)}, {Gpu(0), Gpu(1)}, kReserve, &error);
  ASSERT_TRUE(spec) << error;
  EXPECT_EQ(spec->name, "k8s-" + Gpu(1).uuid + "-u024");
  EXPECT_EQ(spec->devices, std::vector<std::string>{Gpu(1).uuid});
  EXPECT_EQ(*spec->memory_limit, (3 * kGiB - kReserve) / kMiB * kMiB);
  EXPECT_EQ(spec->compute->guarantee_permille, 300u);
  EXPECT_EQ(spec->compute->limit_permille, 300u);
  EXPECT_TRUE(spec->owner.kubelet);
  SliceRecord record{*spec, 0, false, {}};
  EXPECT_EQ(HeldUnits(record).size(), 3u);
}

TEST(SliceForUnits, WholeGpus) {
  std::vector<std::string> ids;
  for (unsigned g : {1u, 0u}) {
    for (unsigned u = 0; u < 10; ++u) ids.push_back(Id(g, u));
  }
  std::string error;
  auto spec = SliceForUnits(ids, {Gpu(0), Gpu(1, 8 * kGiB)}, kReserve, &error);
  ASSERT_TRUE(spec) << error;
  EXPECT_EQ(spec->name, "k8s-" + Gpu(0).uuid + "-w2");
  EXPECT_EQ(spec->devices, (std::vector<std::string>{Gpu(0).uuid, Gpu(1).uuid}));
  EXPECT_EQ(*spec->memory_limit, 8 * kGiB - kReserve);  // the smaller GPU's
  EXPECT_EQ(spec->compute->guarantee_permille, 1000u);
  EXPECT_EQ(HeldUnits(SliceRecord{*spec, 0, false, {}}).size(), 20u);
}

TEST(SliceForUnits, RefusesSetsThatMakeNoSlice) {
  std::vector<DeviceView> devices = {Gpu(0), Gpu(1)};
  std::vector<std::string> eleven;
  for (unsigned u = 0; u < 10; ++u) eleven.push_back(Id(0, u));
  eleven.push_back(Id(1, 0));
  struct Case {
    std::vector<std::string> ids;
    std::string says;
  };
  for (const Case& c : {Case{{}, "no device IDs"}, Case{{Id(0, 1), Id(1, 1)}, "neither 1-9 units of one GPU"},
                        Case{eleven, "neither 1-9 units of one GPU"}, Case{{Id(0, 1), Id(0, 1)}, "listed twice"},
                        Case{{Id(3, 1)}, "no GPU GPU-3"}, Case{{"nonsense"}, "bad device ID \"nonsense\""}}) {
    std::string error;
    EXPECT_FALSE(SliceForUnits(c.ids, devices, kReserve, &error));
    EXPECT_NE(error.find(c.says), std::string::npos) << error;
  }
  // A unit of a GPU too small to hold the context reserve.
  std::string error;
  EXPECT_FALSE(SliceForUnits({Id(0, 1)}, {Gpu(0, 4 * kGiB)}, kReserve, &error));
  EXPECT_NE(error.find("does not cover the context reserve"), std::string::npos) << error;
}

TEST(PreferredUnits, KeepsAFractionOnTheFullestGpuThatHoldsIt) {
  std::vector<DeviceView> devices = {Gpu(0), Gpu(1), Gpu(2)};
  std::vector<std::string> available;
  for (unsigned u = 0; u < 10; ++u) available.push_back(Id(0, u));
  for (unsigned u : {3u, 5u}) available.push_back(Id(1, u));
  for (unsigned u : {1u, 2u, 3u, 4u}) available.push_back(Id(2, u));
  EXPECT_EQ(PreferredUnits(available, {}, 2, devices), (std::vector<std::string>{Id(1, 3), Id(1, 5)}));
  EXPECT_EQ(PreferredUnits(available, {}, 3, devices), (std::vector<std::string>{Id(2, 1), Id(2, 2), Id(2, 3)}));
  EXPECT_EQ(PreferredUnits(available, {Id(0, 9)}, 2, devices), (std::vector<std::string>{Id(0, 9), Id(0, 0)}));
  auto whole = PreferredUnits(available, {}, 10, devices);
  ASSERT_EQ(whole.size(), 10u);
  std::string error;
  EXPECT_TRUE(SliceForUnits(whole, devices, kReserve, &error)) << error;
  // Nothing valid exists: an answer of the right size all the same (Allocate refuses it).
  EXPECT_EQ(PreferredUnits(available, {}, 12, devices).size(), 12u);
  EXPECT_EQ(PreferredUnits(available, {Id(0, 1), Id(1, 3)}, 2, devices),
            (std::vector<std::string>{Id(0, 1), Id(1, 3)}));
}

}  // namespace
}  // namespace vxpu
