// `vxpu bench share`: the compute-isolation self-test a user runs on their own hardware. One
// saturating tenant (vxpu-burn; with --npu, vxpu-acl burn on NPU 0) per share, each under its own compute slice,
// started together after a solo run of one tenant alone; prints each tenant's achieved share of the device time they
// got, the largest error in points, and the aggregate throughput relative to the solo run.
#pragma once

#include <string>

namespace vxpu {

struct BenchShareOptions {
  std::string shares = "30,70";  // percent per tenant, comma-separated
  double seconds = 5;
  bool sim = false;
  bool npu = false;  // an NPU's compute (simnpu's with sim) instead of a GPU's
  bool json = false;
  std::string plot;  // a chart of each tenant's share over time; "" for none
};

// Returns the process exit code (0 on success, 125 on bad options or a failed tenant).
int RunBenchShare(const BenchShareOptions& options);

}  // namespace vxpu
