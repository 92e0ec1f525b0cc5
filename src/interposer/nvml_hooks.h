// The NVML entry points the interposer polices (nvml_hooks.def): inside a slice, what NVML
// shows of memory, processes and utilization is the slice's own (slice_members.h says which
// processes are its own); what vxpu cannot narrow to the slice is withheld. Outside a slice
// every hook passes the call through.
#pragma once

namespace vxpu::interposer {

// What dlsym hands out for NVML symbol `symbol`, whose real definition is `real`: the hook
// standing in front of it (recording `real` for the hook), or `real` if it is not policed.
void* InterceptNvmlSymbol(const char* symbol, void* real);

}  // namespace vxpu::interposer
