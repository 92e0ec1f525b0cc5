// What a process or a container is given to run under its slice (slice/slice_edits.h).
#include "slice/slice_edits.h"

#include <gtest/gtest.h>

#include "backend/ascend/ascend_backend.h"
#include "common/ascend_api.h"
#include "common/registered_terms.h"

namespace vxpu {
namespace {

TEST(SliceEdits, TheEnvironmentUnsetsWhatTheSliceDoesNotSet) {
  auto env = SliceEnvironment({"train", "4GiB", "", "", "high"});
  EXPECT_EQ(env.at("VXPU_SLICE"), "train");
  EXPECT_EQ(env.at("VXPU_MEMORY"), "4GiB");
  // Present but empty: the launcher unsets them, so an inherited one never applies.
  EXPECT_EQ(env.at("VXPU_COMPUTE"), "");
  EXPECT_EQ(env.at("VXPU_COMPUTE_LIMIT"), "");
  EXPECT_EQ(env.at("VXPU_PRIORITY"), "");  // no compute, no priority
}

TEST(SliceEdits, AContainerGetsTheRegisteredTermsThePreloadTheStateAndItsDeviceNodes) {
  SliceSpec slice;
  slice.name = "k8s-GPU-1-u34";
  slice.devices = {"GPU-1"};
  slice.memory_limit = 1126ull << 20;
  slice.compute = SliceCompute{200, 1000, true};
  PluginPaths paths{"/var/run/vxpu", "/var/lib/vxpu", "/dev"};
  SliceEdits edits = ContainerEditsFor(slice, {"/dev/nvidia1", "/dev/nvidiactl"}, paths);
  EXPECT_EQ(edits.env.at("VXPU_SLICE"), "k8s-GPU-1-u34");
  EXPECT_EQ(edits.env.at("VXPU_MEMORY"), "1126MiB");
  EXPECT_EQ(edits.env.at("VXPU_COMPUTE"), "20%");
  EXPECT_EQ(edits.env.at("VXPU_COMPUTE_LIMIT"), "100%");
  EXPECT_EQ(edits.env.at("VXPU_PRIORITY"), "high");
  EXPECT_EQ(edits.env.at("VXPU_STATE_DIR"), "/var/run/vxpu");
  EXPECT_EQ(edits.env.at("VXPU_AGENT_SOCKET"), "none");
  EXPECT_EQ(edits.env.at("CUDA_VISIBLE_DEVICES"), "GPU-1");
  for (const auto& [name, value] : edits.env) EXPECT_FALSE(value.empty()) << name;
  auto mounted = [&](const std::string& container_path) -> const SliceMount* {
    for (const SliceMount& m : edits.mounts) {
      if (m.container_path == container_path) return &m;
    }
    return nullptr;
  };
  ASSERT_NE(mounted(kContainerPreload), nullptr);
  EXPECT_EQ(mounted(kContainerPreload)->host_path, "/var/lib/vxpu/ld.so.preload");
  ASSERT_NE(mounted(kContainerTermsPath), nullptr);
  EXPECT_EQ(mounted(kContainerTermsPath)->host_path, "/var/lib/vxpu/slices/k8s-GPU-1-u34.env");
  EXPECT_TRUE(mounted(kContainerTermsPath)->read_only);
  ASSERT_NE(mounted("/var/run/vxpu"), nullptr);
  EXPECT_FALSE(mounted("/var/run/vxpu")->read_only);  // the interposer keeps its ledger there
  ASSERT_EQ(edits.devices.size(), 2u);
  EXPECT_EQ(edits.devices[0].container_path, "/dev/nvidia1");
  EXPECT_EQ(edits.devices[1].host_path, "/dev/nvidiactl");
}

// An NPU container: Ascend's runtime is told the chip's physical id; no CUDA variable, and no
// ASCEND_RT_VISIBLE_DEVICES (a physical id there fails aclrtSetDevice in a container, 107001).
TEST(SliceEdits, AnNpuContainerNamesItsChipForAscendsRuntimeAndItsNodes) {
  char uuid[41];
  NpuUuid(5, uuid);
  EXPECT_TRUE(IsNpuUuid(uuid));
  EXPECT_EQ(NpuPhyId(uuid), 5u);
  EXPECT_FALSE(IsNpuUuid("GPU-5a5a0000-0000-4000-8000-000000000000"));
  SliceSpec slice;
  slice.name = "k8s-npu";
  slice.devices = {uuid};
  slice.compute = SliceCompute{300, 300, false};
  SliceEdits edits = ContainerEditsFor(slice,
                                       AscendBackend("libdcmi.so")
                                           .DeviceNodes({5}, "/dev",
                                                        [](const std::string& p) {
                                                          return p != "/dev/hisi_hdc";  // absent here
                                                        }),
                                       PluginPaths{"/var/run/vxpu", "/var/lib/vxpu", "/dev"});
  EXPECT_EQ(edits.env.at("ASCEND_VISIBLE_DEVICES"), "5");
  EXPECT_EQ(edits.env.count("CUDA_VISIBLE_DEVICES"), 0u);
  EXPECT_EQ(edits.env.count("NVIDIA_VISIBLE_DEVICES"), 0u);
  EXPECT_EQ(edits.env.count("ASCEND_RT_VISIBLE_DEVICES"), 0u);
  std::vector<std::string> nodes;
  for (const DeviceNode& d : edits.devices) nodes.push_back(d.host_path);
  EXPECT_EQ(nodes, (std::vector<std::string>{"/dev/davinci5", "/dev/davinci_manager", "/dev/devmm_svm"}));
}

}  // namespace
}  // namespace vxpu
