// Two libraries that define the same symbol, the first looking past itself with
// dlsym(RTLD_NEXT, ...), as sanitizer runtimes and interposers do. Built twice: with
// VXPU_LAYER=1 (the first, which looks) and VXPU_LAYER=2 (the second, which it must find).
#include <dlfcn.h>

extern "C" int vxpu_test_layer() { return VXPU_LAYER; }

#if VXPU_LAYER == 1
extern "C" int vxpu_test_next_layer() {
  auto next = reinterpret_cast<int (*)()>(dlsym(RTLD_NEXT, "vxpu_test_layer"));
  return next != nullptr ? next() : -1;
}
#endif
