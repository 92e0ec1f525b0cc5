// The NVML entry points the interposer answers (memory info shows the slice).
#pragma once

namespace vxpu::interposer {

// The hook standing for NVML symbol `symbol`, or nullptr if it is not policed.
void* InterceptNvmlSymbol(const char* symbol);

}  // namespace vxpu::interposer
