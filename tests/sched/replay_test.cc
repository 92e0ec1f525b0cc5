#include <gtest/gtest.h>

#include "sched/arrival_replay.h"
#include "sched/timed_replay.h"
#include "test_cluster.h"

namespace vxpu::sched {
namespace {

using testing::CpuPod;
using testing::Node;
using testing::SharePod;
using testing::WholePod;

std::vector<PodRequest> Workload() {
  std::vector<PodRequest> pods;
  for (int i = 0; i < 40; ++i) {
    pods.push_back(i % 3 == 0 ? SharePod(100 + 20 * i, 2000) : i % 3 == 1 ? WholePod(1 + i % 2, 4000) : CpuPod(3000));
  }
  return pods;
}

const std::vector<NodeSpec> kNodes = {Node("a", 32000, 4), Node("b", 32000, 4), Node("c", 16000, 2)};

int64_t GpuRequest(const std::vector<PodRequest>& pods, const std::vector<int>& order) {
  int64_t total = 0;
  for (int i : order) total += pods[i].TotalGpuMilli();
  return total;
}

TEST(ArrivalOrder, ShufflesThenResamplesUpToTheLoad) {
  std::vector<PodRequest> pods = Workload();
  std::vector<int> order = ArrivalOrder(pods, 10000, 3.0, 42);
  ASSERT_GT(order.size(), pods.size());
  std::vector<int> head(order.begin(), order.begin() + static_cast<long>(pods.size()));
  std::sort(head.begin(), head.end());
  for (int i = 0; i < static_cast<int>(pods.size()); ++i) EXPECT_EQ(head[i], i);  // every pod once, first
  EXPECT_LE(GpuRequest(pods, order), 30000);
  EXPECT_GT(GpuRequest(pods, order), 30000 - 2000);  // stopped at the first pod that would overshoot
  EXPECT_EQ(order, ArrivalOrder(pods, 10000, 3.0, 42));
  EXPECT_NE(order, ArrivalOrder(pods, 10000, 3.0, 43));
}

TEST(ReplayArrivals, IsDeterministicPerSeedAndConsistent) {
  std::vector<PodRequest> pods = Workload();
  std::vector<int> order = ArrivalOrder(pods, 10000, 1.3, 7);
  PolicyOptions options{7, ComputeTypicalPods(pods)};
  for (const std::string& name : PolicyNames()) {
    auto first = MakePolicy(name, options);
    auto again = MakePolicy(name, options);
    ArrivalCurve a = ReplayArrivals(kNodes, {"T4"}, pods, order, *first);
    ArrivalCurve b = ReplayArrivals(kNodes, {"T4"}, pods, order, *again);
    EXPECT_EQ(a.allocated_pct, b.allocated_pct) << name;
    ASSERT_EQ(a.allocated_pct.size(), 131u);
    EXPECT_EQ(a.allocated_pct[0], 0);
    for (size_t k = 1; k < a.allocated_pct.size(); ++k) {
      EXPECT_GE(a.allocated_pct[k], a.allocated_pct[k - 1]) << name;  // nothing leaves
      EXPECT_LE(a.allocated_pct[k], std::min<double>(100, static_cast<double>(k))) << name;
    }
    EXPECT_GT(a.pods_failed, 0) << name;  // 130% cannot all fit
    // The whole workload asks for 200% of kNodes' 10 GPUs; at 300% the curve has seen the end.
    ArrivalCurve whole = ReplayArrivals(kNodes, {"T4"}, pods, order, *MakePolicy(name, options), 300);
    EXPECT_NEAR(static_cast<double>(whole.idle_at_end.total()) / 100.0, 100 - whole.allocated_pct[300], 1e-9) << name;
  }
}

TEST(ReplayTimed, APodThatDoesNotFitWaitsUntilAnotherLeaves) {
  std::vector<NodeSpec> nodes = {Node("a", 32000, 2)};
  std::vector<TimedPod> pods = {{WholePod(2), 0, 100}, {WholePod(1), 10, 50}, {SharePod(500), 20, 5}};
  auto policy = MakePolicy("bestfit", {1, {}});
  TimedResult r = ReplayTimed(nodes, {"T4"}, pods, *policy, 50);
  ASSERT_EQ(r.waits.size(), 3u);
  EXPECT_EQ(r.waits[0], 0);
  EXPECT_EQ(r.waits[1], 90);  // started at 100, when the first left
  EXPECT_EQ(r.waits[2], 80);
  EXPECT_EQ(r.pods_waited, 2);
  EXPECT_EQ(r.pods_never_started, 0);
  ASSERT_GE(r.samples.size(), 3u);
  EXPECT_DOUBLE_EQ(r.samples[0].allocated_pct, 100);
  EXPECT_EQ(r.samples[1].queued, 2);  // at t=50
}

TEST(ReplayTimed, ThePeakCountsWhatHappensBetweenSamples) {
  std::vector<TimedPod> pods = {{WholePod(1), 0, 100}, {WholePod(1), 10, 5}};  // both run from 10 to 15
  auto policy = MakePolicy("bestfit", {1, {}});
  TimedResult r = ReplayTimed({Node("a", 32000, 2)}, {"T4"}, pods, *policy, 50);
  for (const TimedSample& s : r.samples) EXPECT_LE(s.allocated_pct, 50) << "t=" << s.time;
  EXPECT_DOUBLE_EQ(r.peak_allocated_pct, 100);
}

TEST(ReplayTimed, APodTooBigForTheClusterNeverStarts) {
  std::vector<TimedPod> pods = {{WholePod(4), 0, 10}, {SharePod(100), 5, 10}};
  auto policy = MakePolicy("fgd", {1, {{SharePod(100), 1.0}}});
  TimedResult r = ReplayTimed({Node("a", 32000, 2)}, {"T4"}, pods, *policy, 5);
  EXPECT_EQ(r.pods_never_started, 1);
  EXPECT_EQ(r.waits.size(), 1u);
}

}  // namespace
}  // namespace vxpu::sched
