// cuda.h as the interposer sees it, plus the symbols it exports that cuda.h does not declare.
// What leaves the library is decided by libvxpu.map.
#pragma once

#include <cuda.h>
extern "C" {
CUresult CUDAAPI vxpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version,
                                          cuuint64_t flags) __asm__("cuGetProcAddress");
void* dlsym(void* handle, const char* symbol) noexcept;
}
