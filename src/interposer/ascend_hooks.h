// The Ascend entry points the interposer polices (ascend_hooks.def): an NPU slice's memory on
// every allocation route of the runtime layer, refused with 207001 (the one code torch_npu
// treats as out of memory) and one line; the runtime's and DCMI's memory queries showing the
// slice; launches waiting for the slice's compute turn, as on GPUs. An NPU is identified by the
// chip's physical id (vxpu::NpuUuid), as vxpud's Ascend backend identifies it.
#pragma once

namespace vxpu::interposer {

// What dlsym hands out for the Ascend symbol `symbol`, whose real definition is `real`: the
// hook standing in front of it (recording `real`), or `real` if it is not policed.
void* InterceptAscendSymbol(const char* symbol, void* real);

}  // namespace vxpu::interposer
