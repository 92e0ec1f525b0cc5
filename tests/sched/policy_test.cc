// Each policy's defining choice on small hand-built clusters, and the invariants every policy
// keeps on a random workload.
#include "sched/policy.h"

#include <gtest/gtest.h>

#include "sched/rng.h"
#include "test_cluster.h"

namespace vxpu::sched {
namespace {

using testing::Cluster;
using testing::CpuPod;
using testing::Node;
using testing::SharePod;
using testing::WholePod;

PolicyOptions Options(TypicalPods typical = {}) { return {7, std::move(typical)}; }

// Places `pod` where it is told to, telling the policy as the simulator would.
void Put(ClusterState& cluster, Policy& policy, const PodRequest& pod, Placement where) {
  cluster.Place(pod, where);
  policy.Placed(pod, where);
}

TEST(BestFit, ChoosesTheNodeLeftWithLeastFree) {
  ClusterState c = Cluster({Node("roomy", 64000, 4), Node("snug", 16000, 1), Node("mid", 32000, 2)});
  auto policy = NewBestFitPolicy(Options());
  EXPECT_EQ(policy->Choose(c, WholePod(1, 8000)).node, 1);
}

TEST(Packing, PrefersAGpuAlreadySharedThenANodeAlreadyInUse) {
  ClusterState c = Cluster({Node("empty", 64000, 2), Node("used", 64000, 2)});
  auto policy = NewPackingPolicy(Options());
  Put(c, *policy, SharePod(400), {1, 0b01, 400});
  Placement share = policy->Choose(c, SharePod(300));
  EXPECT_EQ(share.node, 1);
  EXPECT_EQ(share.gpus, 0b01u);  // the shared GPU, not the free one
  EXPECT_EQ(policy->Choose(c, WholePod(1)).node, 1);
}

TEST(Clustering, KeepsPodsOfOneKindTogether) {
  ClusterState c = Cluster({Node("sharing", 64000, 4), Node("whole", 64000, 4), Node("empty", 64000, 4)});
  auto policy = NewClusteringPolicy(Options());
  Put(c, *policy, SharePod(500), {0, 0b0001, 500});
  Put(c, *policy, WholePod(1), {1, 0b0001, kMilliPerGpu});
  EXPECT_EQ(policy->Choose(c, SharePod(200)).node, 0);
  EXPECT_EQ(policy->Choose(c, WholePod(1)).node, 1);
  EXPECT_EQ(policy->Choose(c, WholePod(2)).node, 2);  // no node holds its kind: the empty one
}

TEST(DotProduct, ChoosesTheNodeLeastAlignedWithTheRequest) {
  ClusterState c = Cluster({Node("big", 64000, 4), Node("small", 8000, 1)});
  auto policy = NewDotProductPolicy(Options());
  EXPECT_EQ(policy->Choose(c, WholePod(1, 4000)).node, 1);
}

TEST(Fgd, ChoosesThePlacementThatFragmentsLeast) {
  // Only whole-GPU pods are expected: a GPU with a little free is a fragment, a free GPU is not.
  TypicalPods typical = {{WholePod(1), 1.0}};
  ClusterState c = Cluster({Node("free", 64000, 2), Node("partly", 64000, 2)});
  auto policy = NewFgdPolicy(Options(typical));
  Put(c, *policy, SharePod(400), {1, 0b01, 400});
  Placement share = policy->Choose(c, SharePod(500));
  EXPECT_EQ(share.node, 1);
  EXPECT_EQ(share.gpus, 0b01u);  // fills the fragment instead of breaking a free GPU
}

TEST(Vxpu, KeepsCpuThatIdleGpusWillNeed) {
  // Typical pods take a GPU and 8 cores: the 8-GPU node needs all its 64 cores for its GPUs.
  TypicalPods typical = {{WholePod(1, 8000), 1.0}};
  ClusterState c = Cluster({Node("gpu-dense", 64000, 8), Node("cpu-rich", 64000, 2)});
  int fgd_on_dense = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_EQ(NewVxpuPolicy({seed, typical})->Choose(c, CpuPod(8000)).node, 1) << seed;
    fgd_on_dense += NewFgdPolicy({seed, typical})->Choose(c, CpuPod(8000)).node == 0;
  }
  EXPECT_GT(fgd_on_dense, 0);  // FGD sees no difference until a whole typical pod no longer fits
}

TEST(Random, IsDeterministicPerSeedAndAlwaysFeasible) {
  ClusterState c = Cluster({Node("a", 8000, 1), Node("b", 64000, 4), Node("c", 64000, 4), Node("d", 64000, 4)});
  auto first = NewRandomPolicy({1, {}});
  auto again = NewRandomPolicy({1, {}});
  auto other = NewRandomPolicy({2, {}});
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    Placement p = first->Choose(c, WholePod(2, 16000));
    EXPECT_EQ(p.node, again->Choose(c, WholePod(2, 16000)).node);
    EXPECT_NE(p.node, 0);  // too small
    differs |= other->Choose(c, WholePod(2, 16000)).node != p.node;
  }
  EXPECT_TRUE(differs);
}

TEST(Policies, UnknownNameGivesNoPolicy) {
  EXPECT_EQ(MakePolicy("nope", {}), nullptr);
  for (const std::string& name : PolicyNames()) EXPECT_NE(MakePolicy(name, {}), nullptr) << name;
}

// A random mixed cluster and workload, more than it can hold.
struct RandomCase {
  std::vector<NodeSpec> nodes;
  std::vector<PodRequest> pods;
};

RandomCase MakeRandomCase(uint64_t seed) {
  Rng rng(seed);
  RandomCase rc;
  const int gpu_counts[] = {0, 1, 2, 4, 8};
  for (int i = 0; i < 24; ++i) {
    int gpus = gpu_counts[rng.Below(5)];
    rc.nodes.push_back(Node("n" + std::to_string(i), 8000 * static_cast<int64_t>(1 + rng.Below(12)), gpus,
                            static_cast<int>(rng.Below(2))));
  }
  for (int i = 0; i < 400; ++i) {
    int64_t cpu = 1000 * static_cast<int64_t>(1 + rng.Below(16));
    uint64_t kind = rng.Below(4);
    PodRequest pod = kind == 0   ? CpuPod(cpu)
                     : kind == 1 ? SharePod(static_cast<int64_t>(10 * (1 + rng.Below(99))), cpu)
                                 : WholePod(1 << rng.Below(4), cpu);
    if (rng.Below(5) == 0 && pod.UsesGpu()) pod.allowed_models = 1u << rng.Below(2);
    rc.pods.push_back(pod);
  }
  return rc;
}

TEST(Policies, NeverOverAllocateAndRejectOnlyPodsThatFitNowhere) {
  RandomCase rc = MakeRandomCase(99);
  TypicalPods typical = ComputeTypicalPods(rc.pods);
  for (const std::string& name : PolicyNames()) {
    ClusterState c(rc.nodes, {"T4", "V100"});
    auto policy = MakePolicy(name, {5, typical});
    int placed = 0;
    for (const PodRequest& pod : rc.pods) {
      Placement where = policy->Choose(c, pod);
      if (!where.placed()) {
        for (int n = 0; n < c.node_count(); ++n) ASSERT_FALSE(c.Fits(pod, n)) << name << " rejected a pod that fits";
        continue;
      }
      ASSERT_NO_THROW(Put(c, *policy, pod, where)) << name;  // the state throws on any over-allocation
      ASSERT_TRUE(pod.AllowsModel(c.spec(where.node).gpu_model) || !pod.UsesGpu()) << name;
      ++placed;
    }
    EXPECT_GT(placed, 50) << name;
    EXPECT_LE(c.allocated_gpu_milli(), c.total_gpu_milli()) << name;
  }
}

}  // namespace
}  // namespace vxpu::sched
