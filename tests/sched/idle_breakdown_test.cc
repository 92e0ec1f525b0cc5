#include "sched/idle_breakdown.h"

#include <gtest/gtest.h>

#include "test_cluster.h"

namespace vxpu::sched {
namespace {

using testing::Cluster;
using testing::CpuPod;
using testing::Node;
using testing::SharePod;
using testing::WholePod;

void PlaceShare(ClusterState& cluster, int node, int gpu, int64_t milli) {
  cluster.Place(SharePod(milli), {node, GpuMask{1} << gpu, milli});
}

TEST(IdleBreakdown, SortsIdleGpuIntoWholeStrandedAndLeftoverBands) {
  ClusterState cluster = Cluster({Node("a", 32000, 2), Node("b", 4000, 2), Node("c", 32000, 1), Node("d", 32000, 2)});
  PlaceShare(cluster, 0, 0, 810);  // leaves 190
  PlaceShare(cluster, 0, 1, 470);
  PlaceShare(cluster, 0, 1, 470);          // leaves 60
  cluster.Place(CpuPod(4000), {1, 0, 0});  // node b: no CPU left for any GPU pod
  PlaceShare(cluster, 3, 0, 750);          // leaves 250
  PlaceShare(cluster, 3, 1, 300);          // leaves 700

  IdleBreakdown idle = DescribeIdle(cluster, {SharePod(200), WholePod(1), CpuPod(500)});
  EXPECT_EQ(idle.whole_usable, 1000);    // node c
  EXPECT_EQ(idle.whole_stranded, 2000);  // node b
  EXPECT_EQ(idle.leftover[0], 60);
  EXPECT_EQ(idle.leftover[1], 190);
  EXPECT_EQ(idle.leftover[2], 250);
  EXPECT_EQ(idle.leftover[3], 700);
  EXPECT_EQ(idle.total(), cluster.total_gpu_milli() - cluster.allocated_gpu_milli());
}

TEST(IdleBreakdown, AnIdleGpuOfAModelNoPodAllowsIsStranded) {
  ClusterState cluster = Cluster({Node("t4", 32000, 1, 0), Node("v100", 32000, 1, 1)});
  PodRequest v100_only = WholePod(1);
  v100_only.allowed_models = uint64_t{1} << 1;
  IdleBreakdown idle = DescribeIdle(cluster, {v100_only, CpuPod(1000)});
  EXPECT_EQ(idle.whole_usable, 1000);
  EXPECT_EQ(idle.whole_stranded, 1000);
}

TEST(IdleBreakdown, AWorkloadWithoutGpuPodsStrandsEveryIdleGpu) {
  ClusterState cluster = Cluster({Node("a", 32000, 2)});
  IdleBreakdown idle = DescribeIdle(cluster, {CpuPod(1000)});
  EXPECT_EQ(idle.whole_usable, 0);
  EXPECT_EQ(idle.whole_stranded, 2000);
}

}  // namespace
}  // namespace vxpu::sched
