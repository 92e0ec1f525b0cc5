// The node's view: registered slices joined with what the ledgers and arbiters show running;
// unregistered running slices discovered with the terms their segments show.
#include "node/node_view.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace vxpu {
namespace {

SliceRecord Registered(const std::string& name, std::vector<std::string> devices) {
  SliceRecord r;
  r.spec.name = name;
  r.spec.devices = std::move(devices);
  r.spec.memory_limit = 1ull << 30;
  r.spec.owner.pid = 1;
  r.created_unix = 5;
  return r;
}

TEST(NodeView, ARegisteredSliceWithNothingRunningHasEmptyUsagePerDevice) {
  auto views = JoinSlices({Registered("early", {"GPU-a", "GPU-b"})}, {}, {}, 100);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_FALSE(views[0].HasLiveProcesses());
  ASSERT_EQ(views[0].usage.size(), 2u);
  EXPECT_EQ(views[0].usage[1].device, "GPU-b");
  EXPECT_EQ(views[0].record.created_unix, 5);
}

TEST(NodeView, UsageOfRegisteredSlicesComesFromLedgersAndArbiters) {
  std::vector<SliceSummary> ledgers = {{"s", "GPU-a", 1ull << 30, {{7, 100}, {8, 50}}}};
  ComputeSliceUsage arbiter;
  arbiter.slice = "s";
  arbiter.device = "GPU-a";
  arbiter.used_ns = 2'500'000'000;
  arbiter.pids = {9, 7};
  auto views = JoinSlices({Registered("s", {"GPU-a"})}, ledgers, {arbiter}, 100);
  ASSERT_EQ(views.size(), 1u);
  const SliceDeviceUsage& u = views[0].usage[0];
  EXPECT_EQ(u.memory_used, 150u);
  EXPECT_EQ(u.device_time_ns, 2'500'000'000u);
  ASSERT_EQ(u.processes.size(), 3u);  // 7 in both, once
  EXPECT_EQ(u.processes[0].pid, 7);
  EXPECT_EQ(u.processes[0].used, 100u);
  EXPECT_EQ(u.processes[2].pid, 9);
  EXPECT_EQ(u.processes[2].used, 0u);
  EXPECT_FALSE(views[0].record.discovered);
}

TEST(NodeView, AnUnregisteredRunningSliceIsDiscoveredWithItsSegmentsTerms) {
  std::vector<SliceSummary> ledgers = {{"hand", "GPU-a", 2ull << 30, {{getpid(), 10}}},
                                       {"gone", "GPU-a", 1ull << 30, {}}};
  ComputeSliceUsage arbiter;
  arbiter.slice = "hand";
  arbiter.device = "GPU-b";
  arbiter.terms = ComputeTerms{"hand", 300, 600, true};
  arbiter.pids = {getpid()};
  auto views = JoinSlices({}, ledgers, {arbiter}, 100);
  ASSERT_EQ(views.size(), 1u);  // "gone" has no process
  const SliceRecord& r = views[0].record;
  EXPECT_TRUE(r.discovered);
  EXPECT_EQ(r.created_unix, 100);
  EXPECT_EQ(r.spec.memory_limit, 2ull << 30);
  EXPECT_EQ(r.spec.compute, (SliceCompute{300, 600, true}));
  EXPECT_EQ(r.spec.devices, (std::vector<std::string>{"GPU-a", "GPU-b"}));
  EXPECT_EQ(r.spec.owner.pid, getpid());
  EXPECT_NE(r.spec.owner.pid_start, 0u);
}

TEST(NodeView, TheJsonIsTheApisShape) {
  SliceView view{Registered("s", {"GPU-a"}), {}};
  SliceDeviceUsage u;
  u.device = "GPU-a";
  u.memory_used = 10;
  u.device_time_ns = 1'500'000'000;
  u.share_ratio = 0.25;
  u.processes = {{7, 10}};
  view.usage.push_back(u);
  nlohmann::json j = SlicesToJson({view})[0];
  EXPECT_EQ(j["name"], "s");
  EXPECT_EQ(j["memory_limit_bytes"], 1ull << 30);
  EXPECT_TRUE(j["compute"].is_null());
  EXPECT_EQ(j["usage"][0]["device_seconds"], 1.5);
  EXPECT_EQ(j["usage"][0]["share_ratio"], 0.25);
  EXPECT_EQ(j["usage"][0]["processes"][0], (nlohmann::json{{"pid", 7}, {"memory_used_bytes", 10}}));
  std::string error;
  auto back = SliceRecordFromJson(j, &error);
  ASSERT_TRUE(back.has_value()) << error;  // a listed slice reads back as its record
  EXPECT_TRUE(back->spec.SameTerms(view.record.spec));
}

}  // namespace
}  // namespace vxpu
