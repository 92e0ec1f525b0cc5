// Prints which definition of vxpu_test_layer the first layer finds after itself with
// dlsym(RTLD_NEXT, ...): "next layer: 2" when dlsym honours the caller.
#include <cstdio>

extern "C" int vxpu_test_next_layer();

int main() {
  std::printf("next layer: %d\n", vxpu_test_next_layer());
  return 0;
}
