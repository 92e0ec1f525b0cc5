// Whether a slice fits (slice/admission.h) and what a device offers slices (node/capacity.h):
// quotas counted with room for each slice's context; guarantees add up to at most the whole
// device; unknown and unhealthy devices refused.
#include "slice/admission.h"

#include "node/capacity.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kReserve = 512ull << 20;

DeviceView Device(const std::string& uuid, uint64_t memory) {
  DeviceView d;
  d.uuid = uuid;
  d.memory_total = memory;
  return d;
}

SliceRecord Slice(const std::string& name, const std::string& device, std::optional<uint64_t> memory,
                  uint32_t guarantee = 0) {
  SliceRecord r;
  r.spec.name = name;
  r.spec.devices = {device};
  r.spec.memory_limit = memory;
  if (guarantee > 0) r.spec.compute = SliceCompute{guarantee, 1000, false};
  return r;
}

TEST(Capacity, EachSliceIsCountedWithRoomForItsContext) {
  std::vector<DeviceView> devices = {Device("GPU-a", 4 * kGiB)};
  std::vector<SliceRecord> slices = {Slice("one", "GPU-a", 3 * kGiB)};
  FillCapacity(slices, kReserve, &devices);
  EXPECT_EQ(devices[0].memory_for_slices, 0u);  // 4 GiB - (3 GiB + 512 MiB) - 512 MiB
  FillCapacity(slices, 0, &devices);
  EXPECT_EQ(devices[0].memory_for_slices, 1 * kGiB);

  auto refusal = RefuseSlice(Slice("two", "GPU-a", 256ull << 20).spec, slices, kReserve, devices);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(*refusal,
            "memory 256.0 MiB: device GPU-a has 4.0 GiB, 3.5 GiB promised to other slices and 512.0 MiB kept for "
            "this slice's context; 0 B is left");
  EXPECT_FALSE(RefuseSlice(Slice("two", "GPU-a", 256ull << 20).spec, slices, 0, devices).has_value());
  // A whole device's worth of quota does not fit beside its own context either.
  EXPECT_TRUE(RefuseSlice(Slice("all", "GPU-a", 4 * kGiB).spec, {}, kReserve, devices).has_value());
  EXPECT_FALSE(RefuseSlice(Slice("all", "GPU-a", 4 * kGiB - kReserve).spec, {}, kReserve, devices).has_value());
}

TEST(Capacity, AQuotaPastTheDeviceIsRefusedAndNoSumWraps) {
  // 2^64-1 bytes was admitted, and its quota plus context room wrapped round to a small number,
  // so a 70 GiB slice then fitted beside it on an 80 GiB device.
  std::vector<DeviceView> devices = {Device("GPU-a", 80 * kGiB)};
  auto huge = RefuseSlice(Slice("huge", "GPU-a", UINT64_MAX).spec, {}, kReserve, devices);
  ASSERT_TRUE(huge.has_value());
  EXPECT_EQ(*huge, "memory 16777216.0 TiB: more than device GPU-a has (80.0 GiB)");
  EXPECT_TRUE(RefuseSlice(Slice("over", "GPU-a", 80 * kGiB + 1).spec, {}, kReserve, devices).has_value());
  // A record that got in anyway (an older agent's registry) still counts as the whole device.
  std::vector<SliceRecord> slices = {Slice("huge", "GPU-a", UINT64_MAX)};
  EXPECT_TRUE(RefuseSlice(Slice("next", "GPU-a", 70 * kGiB).spec, slices, kReserve, devices).has_value());
  EXPECT_TRUE(RefuseSlice(Slice("next", "GPU-a", 70 * kGiB).spec, slices, UINT64_MAX, devices).has_value());
  FillCapacity(slices, kReserve, &devices);
  EXPECT_EQ(devices[0].memory_for_slices, 0u);
  EXPECT_EQ(devices[0].units_free, 0u);
}

TEST(Capacity, TheSliceItselfIsNotCountedTwice) {
  std::vector<DeviceView> devices = {Device("GPU-a", 4 * kGiB)};
  std::vector<SliceRecord> slices = {Slice("one", "GPU-a", 3 * kGiB)};
  EXPECT_FALSE(RefuseSlice(Slice("one", "GPU-a", 3 * kGiB).spec, slices, kReserve, devices).has_value());
}

TEST(Capacity, GuaranteesAddUpToTheWholeDeviceAtMost) {
  std::vector<DeviceView> devices = {Device("GPU-a", 4 * kGiB), Device("GPU-b", 4 * kGiB)};
  std::vector<SliceRecord> slices = {Slice("a", "GPU-a", std::nullopt, 700), Slice("b", "GPU-b", std::nullopt, 200)};
  FillCapacity(slices, kReserve, &devices);
  EXPECT_EQ(devices[0].compute_free_permille, 300u);
  EXPECT_EQ(devices[1].compute_free_permille, 800u);
  EXPECT_EQ(devices[0].memory_for_slices, 4 * kGiB - kReserve);  // compute-only slices hold no memory
  EXPECT_FALSE(RefuseSlice(Slice("c", "GPU-a", std::nullopt, 300).spec, slices, kReserve, devices).has_value());
  auto refusal = RefuseSlice(Slice("c", "GPU-a", std::nullopt, 305).spec, slices, kReserve, devices);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(*refusal, "compute 30.5%: device GPU-a has 70% guaranteed to other slices; 30% is left");
}

TEST(Capacity, UnknownAndUnhealthyDevicesAreRefused) {
  std::vector<DeviceView> devices = {Device("GPU-a", 4 * kGiB)};
  EXPECT_EQ(RefuseSlice(Slice("x", "GPU-z", kGiB).spec, {}, kReserve, devices),
            "device GPU-z: no such device on this node");
  devices[0].healthy = false;
  devices[0].health_reason = "no longer reported by NVML";
  EXPECT_EQ(RefuseSlice(Slice("x", "GPU-a", kGiB).spec, {}, kReserve, devices),
            "device GPU-a is unhealthy (no longer reported by NVML)");
}

TEST(Capacity, PercentText) {
  EXPECT_EQ(PercentText(300), "30%");
  EXPECT_EQ(PercentText(125), "12.5%");
  EXPECT_EQ(PercentText(1000), "100%");
}

}  // namespace
}  // namespace vxpu
