#include "interposer/real_driver.h"

#include <dlfcn.h>

#include <initializer_list>

namespace vxpu::interposer {
namespace {

DlsymFunction LoadRealDlsym() {
  // dlvsym is not overridden; glibc 2.34+ versions dlsym GLIBC_2.34, older ones GLIBC_2.2.5.
  for (const char* version : {"GLIBC_2.34", "GLIBC_2.2.5"}) {
    if (void* f = dlvsym(RTLD_NEXT, "dlsym", version)) return reinterpret_cast<DlsymFunction>(f);
  }
  return nullptr;
}

}  // namespace

DlsymFunction RealDlsymFunction() {
  static const DlsymFunction real = LoadRealDlsym();
  return real;
}

void* RealDlsym(void* handle, const char* symbol) {
  DlsymFunction real = RealDlsymFunction();
  return real != nullptr ? real(handle, symbol) : nullptr;
}

void* RealSymbol(const char* symbol) { return RealSymbolIn("libcuda.so.1", symbol); }

void* RealSymbolIn(const char* library, const char* symbol) {
  if (void* f = RealDlsym(RTLD_NEXT, symbol)) return f;
  void* driver = dlopen(library, RTLD_NOW | RTLD_NOLOAD);  // loaded privately by dlopen
  if (driver == nullptr) return nullptr;
  void* f = RealDlsym(driver, symbol);
  dlclose(driver);  // NOLOAD took a reference; the program's own keeps it loaded
  return f;
}

}  // namespace vxpu::interposer
