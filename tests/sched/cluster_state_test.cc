#include "sched/cluster_state.h"

#include <gtest/gtest.h>

#include "test_cluster.h"

namespace vxpu::sched {
namespace {

using testing::Cluster;
using testing::CpuPod;
using testing::Node;
using testing::SharePod;
using testing::WholePod;

TEST(ClusterState, PlacingAndRemovingUpdatesOnlyThatNode) {
  ClusterState c = Cluster({Node("a", 8000, 2), Node("b", 8000, 2)});
  PodRequest pod = SharePod(300, 2000);
  c.Place(pod, {0, 0b10, 300});
  EXPECT_EQ(c.cpu_free(0), 6000);
  EXPECT_EQ(c.gpu_free(0)[1], 700);
  EXPECT_EQ(c.gpu_free_total(0), 1700);
  EXPECT_EQ(c.whole_free_gpus(0), 1);
  EXPECT_EQ(c.gpu_free_total(1), 2000);
  EXPECT_EQ(c.allocated_gpu_milli(), 300);
  c.Remove(pod, {0, 0b10, 300});
  EXPECT_EQ(c.cpu_free(0), 8000);
  EXPECT_EQ(c.whole_free_gpus(0), 2);
  EXPECT_EQ(c.allocated_gpu_milli(), 0);
}

TEST(ClusterState, NeverOverAllocatesAGpu) {
  ClusterState c = Cluster({Node("a", 64000, 1)});
  c.Place(SharePod(600), {0, 0b1, 600});
  EXPECT_FALSE(c.Fits(SharePod(500), 0));
  EXPECT_THROW(c.Place(SharePod(500), {0, 0b1, 500}), std::logic_error);
  EXPECT_EQ(c.gpu_free(0)[0], 400);
  EXPECT_TRUE(c.Fits(SharePod(400), 0));
}

TEST(ClusterState, NeverOverAllocatesCpuOrMemory) {
  ClusterState c = Cluster({Node("a", 4000, 0)});
  EXPECT_THROW(c.Place(CpuPod(5000), {0, 0, 0}), std::logic_error);
  PodRequest big_memory{1000, (1 << 20) + 1, 0, 0, 0, 0};
  EXPECT_FALSE(c.Fits(big_memory, 0));
  EXPECT_THROW(c.Place(big_memory, {0, 0, 0}), std::logic_error);
  EXPECT_EQ(c.cpu_free(0), 4000);
}

TEST(ClusterState, MultiGpuPodsTakeWholeFreeGpus) {
  ClusterState c = Cluster({Node("a", 64000, 4)});
  c.Place(SharePod(100), {0, 0b0001, 100});
  EXPECT_TRUE(c.Fits(WholePod(3), 0));
  EXPECT_FALSE(c.Fits(WholePod(4), 0));
  EXPECT_THROW(c.Place(WholePod(2), {0, 0b0011, kMilliPerGpu}), std::logic_error);
  EXPECT_FALSE(ValidateRequest({1000, 0, 2, 500, 0, 0}).empty());
  EXPECT_TRUE(ValidateRequest(WholePod(2)).empty());
}

TEST(ClusterState, PlacementMustMatchTheRequest) {
  ClusterState c = Cluster({Node("a", 64000, 2)});
  EXPECT_THROW(c.Place(WholePod(2), {0, 0b01, kMilliPerGpu}), std::logic_error);  // one GPU short
  EXPECT_THROW(c.Place(SharePod(200), {0, 0b100, 200}), std::logic_error);        // no GPU 2
  EXPECT_THROW(c.Place(SharePod(200), {1, 0b1, 200}), std::logic_error);          // no node 1
  EXPECT_THROW(c.Remove(SharePod(200), {0, 0b1, 200}), std::logic_error);         // nothing there
}

TEST(ClusterState, GpuModelConstraintsAreHonoured) {
  ClusterState c = Cluster({Node("t4", 64000, 2, 0), Node("v100", 64000, 2, 1)});
  PodRequest v100_only = SharePod(500);
  v100_only.allowed_models = 1u << 1;
  EXPECT_FALSE(c.Fits(v100_only, 0));
  EXPECT_TRUE(c.Fits(v100_only, 1));
  EXPECT_THROW(c.Place(v100_only, {0, 0b1, 500}), std::logic_error);
  EXPECT_TRUE(c.Fits(CpuPod(1000), 0));  // CPU-only pods ignore models
}

TEST(ClusterState, PerGpuMemoryIsAConstraintWhenKnown) {
  NodeSpec node = Node("a", 64000, 1);
  node.gpu_memory_mib = 16000;
  ClusterState c(std::vector<NodeSpec>{node}, {"T4"});
  PodRequest pod = SharePod(100);
  pod.gpu_memory_mib = 10000;
  c.Place(pod, {0, 0b1, 100});
  EXPECT_FALSE(c.Fits(pod, 0));
  EXPECT_THROW(c.Place(pod, {0, 0b1, 100}), std::logic_error);
}

TEST(ClusterState, RejectsMalformedNodes) {
  EXPECT_THROW(Cluster({Node("a", -1, 0)}), std::invalid_argument);
  EXPECT_THROW(ClusterState({NodeSpec{"a", 1000, 1000, 2, kNoGpuModel, 0}}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace vxpu::sched
