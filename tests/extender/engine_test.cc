// src/extender/engine.h: filter and prioritize outcomes on hand-made clusters, the pending
// placements' counting, confirmation and expiry, and invalid requests.
#include "extender/engine.h"

#include <gtest/gtest.h>

#include "extender/default_workload.h"
#include "extender_requests.h"

namespace vxpu::extender {
namespace {

using test::Gpus;

UnitRequest Units(int units, int64_t cpu = 0) {
  UnitRequest r;
  r.asks = true;
  r.units = units;
  r.cpu_milli = cpu;
  return r;
}

std::unique_ptr<Engine> NewEngine(const std::string& policy = "vxpu", double ttl = 30) {
  EngineOptions options;
  options.policy = policy;
  options.typical = DefaultTypicalPods();
  options.pending_ttl_seconds = ttl;
  std::string error;
  auto engine = Engine::Create(options, &error);
  EXPECT_TRUE(engine) << error;
  return engine;
}

// The one node scored 10, or "" (and a failure) unless exactly one has 10 and the rest 0.
std::string Top(const std::vector<HostPriority>& scores) {
  std::string top;
  int tens = 0;
  for (const HostPriority& p : scores) {
    EXPECT_TRUE(p.score == 0 || p.score == 10) << p.host << " " << p.score;
    if (p.score == 10) {
      top = p.host;
      ++tens;
    }
  }
  EXPECT_EQ(tens, 1);
  return tens == 1 ? top : "";
}

TEST(ExtenderEngine, FractionNeedsOneGpuWithEnoughFreeUnitsNotTheNodesTotal) {
  auto engine = NewEngine();
  engine->Report("scattered", Gpus("scattered", {3, 3, 3, 3}), 0);  // 12 units free: kube-scheduler's count admits 5
  engine->Report("whole", Gpus("whole", {0, 5}), 0);                // 5 free, on one GPU
  FilterOutcome out = engine->Filter("p", Units(5), {"scattered", "whole"}, 0);
  EXPECT_EQ(out.passing, std::vector<std::string>{"whole"});
  ASSERT_EQ(out.failed.count("scattered"), 1u);
  EXPECT_EQ(out.failed["scattered"], "no single GPU has 5 free vxpu.io/gpu-units");
  EXPECT_TRUE(out.unresolvable.empty());
  // One node passed, so p is pending there (kube-scheduler binds it without prioritizing): whole
  // has no room left, and a share that one of scattered's GPUs holds passes there.
  EXPECT_EQ(engine->PendingOf("p")->node, "whole");
  EXPECT_EQ(engine->Filter("q", Units(3), {"scattered", "whole"}, 0).passing, std::vector<std::string>{"scattered"});
}

TEST(ExtenderEngine, WholeGpusNeedGpusWithAllTenUnitsFree) {
  auto engine = NewEngine();
  engine->Report("a", Gpus("a", {10, 10, 9, 0}), 0);
  engine->Report("b", Gpus("b", {10, 10}), 0);
  FilterOutcome two = engine->Filter("p", Units(20), {"a", "b"}, 0);
  EXPECT_EQ(two.passing, (std::vector<std::string>{"a", "b"}));
  FilterOutcome three = engine->Filter("p", Units(30), {"a", "b"}, 0);
  EXPECT_TRUE(three.passing.empty());
  EXPECT_EQ(three.failed["a"], "fewer than 3 GPUs with all 10 units free");
  EXPECT_EQ(three.unresolvable["b"], "the node has 2 GPUs, the pod asks for 3 whole GPUs");
  // 10 units: one whole GPU, never two halves.
  engine->Report("halves", Gpus("halves", {5, 5}), 0);
  EXPECT_TRUE(engine->Filter("p", Units(10), {"halves"}, 0).passing.empty());
}

TEST(ExtenderEngine, UnhealthyGpusOfferNothing) {
  auto engine = NewEngine();
  NodeReport report = Gpus("n", {10, 10});
  report.gpus[0].healthy = false;
  engine->Report("n", report, 0);
  EXPECT_EQ(engine->FreeUnits("n"), (std::vector<int>{0, 10}));
  FilterOutcome out = engine->Filter("p", Units(20), {"n"}, 0);
  EXPECT_EQ(out.failed["n"], "fewer than 2 GPUs with all 10 units free");
}

TEST(ExtenderEngine, NodesWithoutGpusOrReportsFail) {
  auto engine = NewEngine();
  engine->Report("cpu-only", NodeReport{}, 0);
  engine->ReportUnreachable("down", "http://10.0.0.9:9396: Connection");
  FilterOutcome out = engine->Filter("p", Units(1), {"cpu-only", "down", "never-seen"}, 0);
  EXPECT_TRUE(out.passing.empty());
  EXPECT_EQ(out.unresolvable["cpu-only"], "the node has no GPUs (its vxpud reports none)");
  EXPECT_EQ(out.failed["down"], "its vxpud did not answer: http://10.0.0.9:9396: Connection");
  EXPECT_EQ(out.failed["never-seen"], "no report from its vxpud yet");
}

TEST(ExtenderEngine, PodsNotAskingPassEveryNodeUntouched) {
  auto engine = NewEngine();
  UnitRequest none;
  FilterOutcome out = engine->Filter("p", none, {"x", "y"}, 0);
  EXPECT_EQ(out.passing, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(out.failed.empty() && out.unresolvable.empty());
  for (const HostPriority& p : engine->Prioritize("p", none, {"x", "y"}, 0)) EXPECT_EQ(p.score, 0);
  EXPECT_EQ(engine->pending_count(), 0u);
}

TEST(ExtenderEngine, InvalidCountsAreUnresolvableEverywhere) {
  auto engine = NewEngine();
  engine->Report("n", Gpus("n", {10, 10}), 0);
  UnitRequest bad = Units(0);
  bad.invalid = "15 vxpu.io/gpu-units is neither ...";
  FilterOutcome out = engine->Filter("p", bad, {"n", "m"}, 0);
  EXPECT_TRUE(out.passing.empty());
  EXPECT_EQ(out.unresolvable.size(), 2u);
  EXPECT_EQ(out.unresolvable["n"], bad.invalid);
}

TEST(ExtenderEngine, PrioritizeGivesThePolicysNodeTheOnlyTopScoreAndRecordsIt) {
  auto engine = NewEngine();
  engine->Report("a", Gpus("a", {10, 10}), 0);
  engine->Report("b", Gpus("b", {10, 4}), 0);
  engine->Report("c", Gpus("c", {2, 2}), 0);
  std::vector<HostPriority> scores = engine->Prioritize("p", Units(4), {"a", "b", "c"}, 0);
  std::string top = Top(scores);
  const PendingPlacement* pending = engine->PendingOf("p");
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ(pending->node, top);
  // 4 units on b's GPU with 4 free fill it exactly: what vxpu (FGD with CPU) picks.
  EXPECT_EQ(top, "b");
  EXPECT_EQ(pending->gpu_uuids, std::vector<std::string>{"GPU-b-1"});
  EXPECT_EQ(engine->FreeUnits("b"), (std::vector<int>{10, 0}));
}

TEST(ExtenderEngine, PendingUnitsCountUntilTheReportShowsThem) {
  auto engine = NewEngine();
  engine->Report("n", Gpus("n", {10}), 0);
  ASSERT_EQ(Top(engine->Prioritize("p1", Units(6), {"n"}, 1)), "n");
  // kube-scheduler has not bound p1 yet: the units stay taken for the next pod.
  FilterOutcome out = engine->Filter("p2", Units(6), {"n"}, 2);
  EXPECT_EQ(out.failed["n"], "no single GPU has 6 free vxpu.io/gpu-units");
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{4});
  // A report that does not show it (held still 0) confirms nothing.
  engine->Report("n", Gpus("n", {10}), 3);
  EXPECT_EQ(engine->pending_count(), 1u);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{4});
  // The slice appeared: held grew by 6, the report now counts it, once.
  engine->Report("n", Gpus("n", {4}, {6}), 4);
  EXPECT_EQ(engine->pending_count(), 0u);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{4});
  EXPECT_EQ(engine->Filter("p3", Units(4), {"n"}, 5).passing, std::vector<std::string>{"n"});
}

TEST(ExtenderEngine, ConfirmationFollowsTheOrderAndTheGrowthOfHeldUnits) {
  auto engine = NewEngine();
  engine->Report("n", Gpus("n", {10}, {0}), 0);
  engine->Prioritize("p1", Units(3), {"n"}, 1);
  engine->Prioritize("p2", Units(4), {"n"}, 2);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{3});
  engine->Report("n", Gpus("n", {7}, {3}), 3);  // the first slice only
  EXPECT_EQ(engine->PendingOf("p1"), nullptr);
  ASSERT_NE(engine->PendingOf("p2"), nullptr);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{3});
  engine->Report("n", Gpus("n", {3}, {7}), 4);
  EXPECT_EQ(engine->pending_count(), 0u);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{3});
}

TEST(ExtenderEngine, PendingPlacementsExpireAfterTheTtl) {
  auto engine = NewEngine("vxpu", 30);
  engine->Report("n", Gpus("n", {10}), 0);
  engine->Prioritize("p1", Units(8), {"n"}, 0);
  EXPECT_TRUE(engine->Filter("p2", Units(8), {"n"}, 30).passing.empty());  // at the TTL: still counted
  EXPECT_EQ(engine->Filter("p2", Units(8), {"n"}, 30.5).passing, std::vector<std::string>{"n"});
  EXPECT_EQ(engine->PendingOf("p1"), nullptr);
}

TEST(ExtenderEngine, SchedulingAPodAgainForgetsItsOwnPendingPlacement) {
  auto engine = NewEngine();
  engine->Report("n", Gpus("n", {10}), 0);
  engine->Prioritize("p", Units(10), {"n"}, 0);
  EXPECT_EQ(engine->FreeUnits("n"), std::vector<int>{0});
  // Its binding failed and kube-scheduler tries again: its own placement must not block it.
  EXPECT_EQ(engine->Filter("p", Units(10), {"n"}, 1).passing, std::vector<std::string>{"n"});
  EXPECT_EQ(engine->pending_count(), 1u);  // recorded again: the filter left one node
}

TEST(ExtenderEngine, AFilterThatLeavesOneNodeRecordsThePlacement) {
  auto engine = NewEngine();
  engine->Report("a", Gpus("a", {10}), 0);
  engine->Report("b", Gpus("b", {2}), 0);
  EXPECT_EQ(engine->Filter("p", Units(5), {"a", "b"}, 0).passing, std::vector<std::string>{"a"});
  ASSERT_NE(engine->PendingOf("p"), nullptr);
  EXPECT_EQ(engine->PendingOf("p")->node, "a");
  // Two left: kube-scheduler will prioritize, so nothing is recorded yet.
  EXPECT_EQ(engine->Filter("q", Units(2), {"a", "b"}, 0).passing.size(), 2u);
  EXPECT_EQ(engine->PendingOf("q"), nullptr);
}

TEST(ExtenderEngine, PrioritizeChoosesOnlyAmongTheNodesGiven) {
  auto engine = NewEngine();
  engine->Report("a", Gpus("a", {10, 4}), 0);  // the policy's pick for 4 units
  engine->Report("b", Gpus("b", {10, 10}), 0);
  engine->Report("c", Gpus("c", {10, 10, 10}), 0);
  EXPECT_EQ(Top(engine->Prioritize("p", Units(4), {"a", "b", "c"}, 0)), "a");
  std::vector<HostPriority> without_a = engine->Prioritize("p", Units(4), {"b", "c"}, 0);
  std::string top = Top(without_a);
  EXPECT_TRUE(top == "b" || top == "c") << top;
  EXPECT_EQ(engine->PendingOf("p")->node, top);
  EXPECT_EQ(engine->FreeUnits("a"), (std::vector<int>{10, 4}));  // untouched by the blocked choice
}

TEST(ExtenderEngine, EveryPolicyOfTheSchedulerCanBeChosenAndOthersAreRefused) {
  for (const std::string& name : sched::PolicyNames()) {
    auto engine = NewEngine(name);
    ASSERT_TRUE(engine) << name;
    engine->Report("a", Gpus("a", {10, 10}), 0);
    engine->Report("b", Gpus("b", {1, 1}), 0);
    EXPECT_EQ(Top(engine->Prioritize("p", Units(5), {"a", "b"}, 0)), "a") << name;
  }
  EngineOptions options;
  options.policy = "tetris";
  std::string error;
  EXPECT_EQ(Engine::Create(options, &error), nullptr);
  EXPECT_EQ(error, "unknown policy 'tetris'");
}

}  // namespace
}  // namespace vxpu::extender
