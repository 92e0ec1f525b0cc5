// `vxpu demo [--npu]`: a few workloads share one simulated device (a GPU, or an NPU) while the terminal shows, live,
// what each gets (memory, share of device time) under vxpu slices: 30/70 held, then a burst.
#pragma once

namespace vxpu {

struct DemoOptions {
  double seconds = 12.0;  // total length; the workloads' timings scale with it
  bool json = false;      // print only a JSON summary at the end
  bool npu = false;       // on a simulated NPU (simnpu; ACL workloads) instead of a GPU
};

// Returns the process exit code: 0 when every workload ran and exited cleanly.
int RunDemo(const DemoOptions& options);

}  // namespace vxpu
