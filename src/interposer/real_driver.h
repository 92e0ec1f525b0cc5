// How the interposer reaches the real driver behind it, whichever way the program found it
// (linked against libcuda.so.1, or dlopen + dlsym, or cuGetProcAddress).
#pragma once

#include "interposer/cuda_api.h"

namespace vxpu::interposer {

// glibc's own dlsym (the interposer overrides the exported one); nullptr if not found.
using DlsymFunction = void* (*)(void*, const char*) noexcept;
DlsymFunction RealDlsymFunction();
void* RealDlsym(void* handle, const char* symbol);

// The real driver's definition of `symbol` (the next one after the interposer, or the one in
// the loaded libcuda.so.1); nullptr if the driver is not loaded or lacks it.
void* RealSymbol(const char* symbol);

// The same for another library of the driver (e.g. "libnvidia-ml.so.1").
void* RealSymbolIn(const char* library, const char* symbol);

// RealSymbol typed: RealSymbolAs<decltype(&cuCtxGetDevice)>("cuCtxGetDevice").
template <typename Fn>
Fn RealSymbolAs(const char* symbol) {
  return reinterpret_cast<Fn>(RealSymbol(symbol));
}

}  // namespace vxpu::interposer
