#include "sched/fragmentation.h"

#include <gtest/gtest.h>

#include "test_cluster.h"

namespace vxpu::sched {
namespace {

using testing::CpuPod;
using testing::SharePod;
using testing::WholePod;

TEST(Fragmentation, CountsWhatEachTypicalPodCouldNotUse) {
  TypicalPods typical = {{SharePod(500, 4000), 0.5}, {WholePod(2, 4000), 0.25}, {CpuPod(1000), 0.25}};
  int32_t free[] = {1000, 300, 600};
  NodeShape node{8000, 0, free};
  // share 500: fits, only the 300 GPU is a fragment; 2 whole GPUs: do not fit, all 1900 are;
  // a CPU-only pod uses no GPU, so all 1900 are.
  EXPECT_DOUBLE_EQ(NodeFragmentation(node, typical), 0.5 * 300 + 0.25 * 1900 + 0.25 * 1900);
}

TEST(Fragmentation, LackOfCpuOrWrongModelMakesEveryIdleGpuAFragment) {
  TypicalPods typical = {{SharePod(500, 4000), 1.0}};
  int32_t free[] = {1000, 1000};
  EXPECT_DOUBLE_EQ(NodeFragmentation({3000, 0, free}, typical), 2000);
  EXPECT_DOUBLE_EQ(NodeFragmentation({4000, 0, free}, typical), 0);
  typical[0].shape.allowed_models = 1u << 1;
  EXPECT_DOUBLE_EQ(NodeFragmentation({4000, 0, free}, typical), 2000);
}

TEST(FragmentationMemo, AgreesWithTheDirectComputationWhateverTheGpuOrder) {
  TypicalPods typical = {{SharePod(500), 0.6}, {WholePod(1), 0.4}};
  FragmentationMemo memo(typical);
  int32_t a[] = {200, 1000, 700};
  int32_t b[] = {1000, 700, 200};
  EXPECT_DOUBLE_EQ(memo.Get({5000, 0, a}), NodeFragmentation({5000, 0, a}, typical));
  EXPECT_DOUBLE_EQ(memo.Get({5000, 0, b}), NodeFragmentation({5000, 0, a}, typical));
  EXPECT_NE(memo.Get({5000, 0, a}), memo.Get({5000, 0, std::span<const int32_t>(a, 2)}));
}

TEST(TypicalPods, KeepsTheMostPopularShapesUpToTheCoverage) {
  std::vector<PodRequest> workload;
  for (int i = 0; i < 60; ++i) workload.push_back(SharePod(500));
  for (int i = 0; i < 30; ++i) workload.push_back(WholePod(1));
  for (int i = 0; i < 10; ++i) workload.push_back(CpuPod(2000));
  TypicalPods typical = ComputeTypicalPods(workload, 0.85);
  ASSERT_EQ(typical.size(), 2u);
  EXPECT_EQ(typical[0].shape.gpu_milli, 500);
  EXPECT_DOUBLE_EQ(typical[0].probability, 60.0 / 90);
  EXPECT_DOUBLE_EQ(typical[1].probability, 30.0 / 90);
  EXPECT_EQ(ComputeTypicalPods(workload, 1.0).size(), 3u);
}

}  // namespace
}  // namespace vxpu::sched
